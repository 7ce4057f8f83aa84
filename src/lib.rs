//! invite-router: calendar-invite emails in, ordered create/update/cancel event messages out.
//! See README.md for the tour and docs/DESIGN.md for the design: its layers, the flow of one
//! email, the reasons, who is answered, the iTIP rules and the ledger's items.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
pub mod core;
pub mod intake;
pub mod ledger_format;
#[cfg(feature = "local")]
pub mod local;
pub mod notifier;
#[cfg(all(feature = "aws", feature = "cli"))]
pub mod operator_cli;
pub mod ports;
pub mod service;
