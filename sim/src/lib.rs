//! Kafka Lab's simulator: a deterministic world and a model of Apache Kafka inside it.
//!
//! The crate has no I/O. [`kernel`] is the generic discrete-event world (sans-IO actors,
//! simulated clock and network, one seeded PRNG, a stable trace hash). Everything else models
//! Kafka with Kafka's names: the partition [`log`], the [`broker`], the [`clients`], the wire
//! [`protocol`], the cluster [`metadata`]. A [`scenario`] describes a run; a [`Simulation`]
//! executes it and its [`history`] yields the summary numbers; [`check`] watches it for broken
//! guarantees.

#![forbid(unsafe_code)]

pub mod broker;
pub mod check;
pub mod checker;
pub mod clients;
pub mod controller;
pub mod group;
pub mod history;
pub mod kernel;
pub mod lesson;
pub mod log;
#[cfg(madsim)]
pub mod madsim_driver;
pub mod metadata;
pub mod node;
pub mod protocol;
pub mod scenario;
pub mod shared_log;
pub mod simulation;
pub mod utils;

pub use history::Summary;
pub use node::KafkaNode;
pub use simulation::{
    ActionError, GroupView, MemberView, PartitionOffsetView, Simulation, StampedAction,
};
