//! Shared test support: in-memory ports with injectable faults, analysis builders, schema checks,
//! and (with the `aws` feature) the moto server harness. Each test binary uses a different part.
#![allow(dead_code)]

pub mod analyses;
#[cfg(feature = "aws")]
pub mod aws;
pub mod fakes;
pub mod ledger_contract;
#[cfg(feature = "aws")]
pub mod moto;
pub mod reply_log_contract;
#[cfg(feature = "aws")]
pub mod runtime_api;
pub mod schema;
