//! Kafka Lab's simulator: the deterministic world and the Kafka model.
#![forbid(unsafe_code)]
pub mod kernel;
