//! The KRaft control plane: what brokers and the controller say to each other, and the
//! records of the `__cluster_metadata` log.
//!
//! A broker registers (`BrokerRegistration`, which hands out its *broker epoch*), heartbeats
//! (`BrokerHeartbeat`, which fences and unfences it), replicates the metadata log
//! (`MetadataFetch`, Kafka's `Fetch` on `__cluster_metadata`) and asks for ISR changes
//! (`AlterPartition`). The controller answers every change by appending records to the
//! metadata log; brokers and, through them, clients learn of it only when they replicate it.
//!
//! Simplification: Kafka writes a full `PartitionRecord` once and then `PartitionChangeRecord`
//! deltas; here every partition record carries the whole partition state, which is the same
//! image after replay and simpler to show.

use super::errors::Errors;
use super::messages::TopicPartition;
use crate::kernel::NodeId;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Kafka's `LeaderRecoveryState`: `Recovering` after an unclean election, until the new
/// leader has recovered its log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LeaderRecoveryState {
    Recovered,
    Recovering,
}

/// One partition's replicated state, as the controller decided it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionRecord {
    pub tp: TopicPartition,
    /// The assignment; `replicas[0]` is the preferred leader.
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// `NO_LEADER` (-1) when the partition is offline.
    pub leader: i32,
    /// Bumped on every leader change.
    pub leader_epoch: i32,
    /// Bumped on every change of this record (Kafka's `partitionEpoch`).
    pub partition_epoch: i32,
    pub leader_recovery_state: LeaderRecoveryState,
}

/// A record of the `__cluster_metadata` log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetadataRecord {
    /// `RegisterBrokerRecord`: the broker epoch is this record's offset.
    RegisterBroker {
        broker_id: i32,
        broker_epoch: i64,
        node: NodeId,
    },
    /// `BrokerRegistrationChangeRecord` with a fencing change.
    BrokerFencing {
        broker_id: i32,
        broker_epoch: i64,
        fenced: bool,
    },
    /// `TopicRecord`.
    Topic { name: Arc<str>, partitions: i32 },
    /// `PartitionRecord` / `PartitionChangeRecord` (see the module note).
    Partition(PartitionRecord),
    /// `ProducerIdsRecord`: a block of producer ids handed to a broker; the next block starts
    /// at `next_producer_id`.
    ProducerIds {
        broker_id: i32,
        broker_epoch: i64,
        next_producer_id: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrokerRegistrationRequest {
    pub correlation_id: i32,
    pub broker_id: i32,
    /// A fresh id for every start of the broker process.
    pub incarnation_id: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrokerRegistrationResponse {
    pub correlation_id: i32,
    pub error: Errors,
    pub broker_epoch: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrokerHeartbeatRequest {
    pub correlation_id: i32,
    pub broker_id: i32,
    pub broker_epoch: i64,
    /// The offset of the last metadata record the broker has applied.
    pub current_metadata_offset: i64,
    pub want_fence: bool,
    pub want_shut_down: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrokerHeartbeatResponse {
    pub correlation_id: i32,
    pub error: Errors,
    pub is_caught_up: bool,
    pub is_fenced: bool,
    pub should_shut_down: bool,
}

/// A broker replicating `__cluster_metadata` from the active controller.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetadataFetchRequest {
    pub correlation_id: i32,
    pub broker_id: i32,
    /// The next metadata offset the broker needs.
    pub fetch_offset: i64,
    pub max_wait_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetadataFetchResponse {
    pub correlation_id: i32,
    /// The end of the controller's metadata log.
    pub high_watermark: i64,
    /// Records from `fetch_offset` on, in order.
    pub records: Vec<MetadataRecord>,
    pub base_offset: i64,
}

/// A broker asks the controller for a block of producer ids (KIP-730).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AllocateProducerIdsRequest {
    pub correlation_id: i32,
    pub broker_id: i32,
    pub broker_epoch: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AllocateProducerIdsResponse {
    pub correlation_id: i32,
    pub error: Errors,
    pub producer_id_start: i64,
    pub producer_id_len: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlterPartitionRequest {
    pub correlation_id: i32,
    pub broker_id: i32,
    pub broker_epoch: i64,
    pub tp: TopicPartition,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub new_isr: Vec<i32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlterPartitionResponse {
    pub correlation_id: i32,
    pub tp: TopicPartition,
    pub error: Errors,
    pub leader: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
    pub partition_epoch: i32,
}
