//! The lab: watch, step, rewind and break a simulated Kafka cluster.
//!
//! [`session`] is the run the learner moves through (forward, back, branch); the terminal
//! UI is built on it.

pub mod session;
