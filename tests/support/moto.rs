//! The moto server harness (in progress).
