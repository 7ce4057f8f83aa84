//! invite-router: calendar-invite emails in, ordered create/update/cancel event messages out.
//! See README.md for the tour and shared DESIGN.md for the contract.

pub mod cli;
pub mod core;
pub mod ports;
