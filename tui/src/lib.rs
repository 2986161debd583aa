//! Kafka Lab's front end: the `kafkalab` command line (and, later, the terminal lab).
//!
//! The simulator itself lives in `kafkalab-sim` and does no I/O; this crate reads files,
//! parses flags, prints reports and maps outcomes to exit codes.

#![forbid(unsafe_code)]

pub mod assign;
pub mod cli;
pub mod describe;
pub mod describe_groups;
pub mod exit;
pub mod explain;
pub mod lab;
pub mod lessons;
pub mod placement;
pub mod report;
pub mod run;
pub mod scenarios;
pub mod sweep;
