//! Consumer groups: the client-side partition assignors and the broker-side group
//! coordinator of the classic protocol.
//!
//! Kafka splits a rebalance between the two: the coordinator (on the broker that leads the
//! group's `__consumer_offsets` partition) only collects members and picks a leader; the leader
//! member runs the assignor on its own machine and hands the result back through SyncGroup.

pub mod assignor;
pub mod coordinator;
