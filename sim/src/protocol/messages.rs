//! The requests and responses that cross the simulated network.
//!
//! Shapes follow Kafka's RPCs (`ProduceRequest`, `FetchRequest`, `ListOffsetsRequest`,
//! `MetadataRequest`) with the fields the model uses; every request carries a correlation id
//! that its response echoes, as on the wire. Records travel as the log's own `RecordBatch`
//! values, so what a consumer receives is exactly what the leader's log holds.

use super::errors::Errors;
use super::group::*;
use super::kraft::*;
use crate::kernel::{MessageKind, NodeId};
use crate::log::{ProducerInfo, RecordBatch, SimpleRecord};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// A partition of a topic, printed Kafka-style as `orders-0`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TopicPartition {
    pub topic: Arc<str>,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<Arc<str>>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// `ListOffsetsRequest.EARLIEST_TIMESTAMP`.
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// `ListOffsetsRequest.LATEST_TIMESTAMP`.
pub const LATEST_TIMESTAMP: i64 = -1;
/// The `replica_id` of a fetch sent by a consumer rather than a follower.
pub const CONSUMER_REPLICA_ID: i32 = -1;
/// Kafka's "no leader" broker id.
pub const NO_LEADER: i32 = -1;
/// No leader epoch known (`RecordBatch.NO_PARTITION_LEADER_EPOCH`).
pub const NO_EPOCH: i32 = -1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerMetadata {
    pub id: i32,
    /// Where to reach it: the simulated stand-in for `host:port`.
    pub node: NodeId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionMetadata {
    pub error: Errors,
    pub partition: i32,
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMetadata {
    pub error: Errors,
    pub name: Arc<str>,
    pub partitions: Vec<PartitionMetadata>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetadataRequest {
    pub correlation_id: i32,
    /// `None` asks for every topic.
    pub topics: Option<Vec<Arc<str>>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetadataResponse {
    pub correlation_id: i32,
    pub brokers: Vec<BrokerMetadata>,
    pub topics: Vec<TopicMetadata>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProducePartitionData {
    pub tp: TopicPartition,
    pub producer: ProducerInfo,
    pub records: Vec<SimpleRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProduceRequest {
    pub correlation_id: i32,
    /// 0, 1 or -1 (`all`).
    pub acks: i16,
    pub timeout_ms: i32,
    pub partitions: Vec<ProducePartitionData>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProducePartitionResponse {
    pub tp: TopicPartition,
    pub error: Errors,
    /// Offset of the first record written, or -1 on error.
    pub base_offset: i64,
    pub log_start_offset: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProduceResponse {
    pub correlation_id: i32,
    pub partitions: Vec<ProducePartitionResponse>,
}

/// `InitProducerId`: an idempotent producer (no `transactional.id`) asks any broker for a
/// producer id; the epoch starts at 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InitProducerIdRequest {
    pub correlation_id: i32,
    pub transactional_id: Option<Arc<str>>,
    pub transaction_timeout_ms: i32,
    /// The producer's current id and epoch (KIP-360), or -1.
    pub producer_id: i64,
    pub producer_epoch: i16,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InitProducerIdResponse {
    pub correlation_id: i32,
    pub error: Errors,
    pub producer_id: i64,
    pub producer_epoch: i16,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FetchPartition {
    pub tp: TopicPartition,
    pub fetch_offset: i64,
    pub partition_max_bytes: u64,
    /// The leader epoch the fetcher believes current (KIP-320); `NO_EPOCH` skips the check.
    pub current_leader_epoch: i32,
    /// Followers: the epoch of the last batch they hold, for the leader's divergence check
    /// (KIP-595's fetch-based truncation, Kafka 2.7+); `NO_EPOCH` skips it.
    pub last_fetched_epoch: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FetchRequest {
    pub correlation_id: i32,
    /// `CONSUMER_REPLICA_ID` for consumers, the broker id for followers.
    pub replica_id: i32,
    pub max_wait_ms: i64,
    pub min_bytes: u64,
    pub max_bytes: u64,
    pub partitions: Vec<FetchPartition>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FetchPartitionData {
    pub tp: TopicPartition,
    pub error: Errors,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    /// Set when the follower's log diverges from the leader's: the largest epoch the leader
    /// has at or below the follower's `last_fetched_epoch`, and where it ends. No records.
    pub diverging_epoch: Option<EpochEndOffset>,
    pub batches: Vec<RecordBatch>,
}

/// `(epoch, end_offset)` as `OffsetsForLeaderEpoch` and `DivergingEpoch` carry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochEndOffset {
    pub epoch: i32,
    pub end_offset: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FetchResponse {
    pub correlation_id: i32,
    pub partitions: Vec<FetchPartitionData>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListOffsetsPartition {
    pub tp: TopicPartition,
    /// `EARLIEST_TIMESTAMP`, `LATEST_TIMESTAMP`, or a record timestamp in ms.
    pub timestamp: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListOffsetsRequest {
    pub correlation_id: i32,
    /// `CONSUMER_REPLICA_ID` for consumers; a follower's broker id asks for the leader's
    /// log end offset rather than its high watermark.
    pub replica_id: i32,
    pub partitions: Vec<ListOffsetsPartition>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListOffsetsPartitionResponse {
    pub tp: TopicPartition,
    pub error: Errors,
    pub offset: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListOffsetsResponse {
    pub correlation_id: i32,
    pub partitions: Vec<ListOffsetsPartitionResponse>,
}

/// Every message of the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum KafkaMsg {
    Metadata(MetadataRequest),
    MetadataResponse(MetadataResponse),
    Produce(ProduceRequest),
    ProduceResponse(ProduceResponse),
    Fetch(FetchRequest),
    FetchResponse(FetchResponse),
    ListOffsets(ListOffsetsRequest),
    ListOffsetsResponse(ListOffsetsResponse),
    BrokerRegistration(BrokerRegistrationRequest),
    BrokerRegistrationResponse(BrokerRegistrationResponse),
    BrokerHeartbeat(BrokerHeartbeatRequest),
    BrokerHeartbeatResponse(BrokerHeartbeatResponse),
    MetadataFetch(MetadataFetchRequest),
    MetadataFetchResponse(MetadataFetchResponse),
    AlterPartition(AlterPartitionRequest),
    AlterPartitionResponse(AlterPartitionResponse),
    InitProducerId(InitProducerIdRequest),
    InitProducerIdResponse(InitProducerIdResponse),
    AllocateProducerIds(AllocateProducerIdsRequest),
    AllocateProducerIdsResponse(AllocateProducerIdsResponse),
    FindCoordinator(FindCoordinatorRequest),
    FindCoordinatorResponse(FindCoordinatorResponse),
    JoinGroup(JoinGroupRequest),
    JoinGroupResponse(JoinGroupResponse),
    SyncGroup(SyncGroupRequest),
    SyncGroupResponse(SyncGroupResponse),
    Heartbeat(HeartbeatRequest),
    HeartbeatResponse(HeartbeatResponse),
    LeaveGroup(LeaveGroupRequest),
    LeaveGroupResponse(LeaveGroupResponse),
    OffsetCommit(OffsetCommitRequest),
    OffsetCommitResponse(OffsetCommitResponse),
    OffsetFetch(OffsetFetchRequest),
    OffsetFetchResponse(OffsetFetchResponse),
    CreateTopics(CreateTopicsRequest),
    CreateTopicsResponse(CreateTopicsResponse),
}

impl MessageKind for KafkaMsg {
    fn kind(&self) -> &'static str {
        match self {
            KafkaMsg::Metadata(_) => "Metadata",
            KafkaMsg::MetadataResponse(_) => "MetadataResponse",
            KafkaMsg::Produce(_) => "Produce",
            KafkaMsg::ProduceResponse(_) => "ProduceResponse",
            KafkaMsg::Fetch(_) => "Fetch",
            KafkaMsg::FetchResponse(_) => "FetchResponse",
            KafkaMsg::ListOffsets(_) => "ListOffsets",
            KafkaMsg::ListOffsetsResponse(_) => "ListOffsetsResponse",
            KafkaMsg::BrokerRegistration(_) => "BrokerRegistration",
            KafkaMsg::BrokerRegistrationResponse(_) => "BrokerRegistrationResponse",
            KafkaMsg::BrokerHeartbeat(_) => "BrokerHeartbeat",
            KafkaMsg::BrokerHeartbeatResponse(_) => "BrokerHeartbeatResponse",
            KafkaMsg::MetadataFetch(_) => "MetadataFetch",
            KafkaMsg::MetadataFetchResponse(_) => "MetadataFetchResponse",
            KafkaMsg::AlterPartition(_) => "AlterPartition",
            KafkaMsg::AlterPartitionResponse(_) => "AlterPartitionResponse",
            KafkaMsg::InitProducerId(_) => "InitProducerId",
            KafkaMsg::InitProducerIdResponse(_) => "InitProducerIdResponse",
            KafkaMsg::AllocateProducerIds(_) => "AllocateProducerIds",
            KafkaMsg::AllocateProducerIdsResponse(_) => "AllocateProducerIdsResponse",
            KafkaMsg::FindCoordinator(_) => "FindCoordinator",
            KafkaMsg::FindCoordinatorResponse(_) => "FindCoordinatorResponse",
            KafkaMsg::JoinGroup(_) => "JoinGroup",
            KafkaMsg::JoinGroupResponse(_) => "JoinGroupResponse",
            KafkaMsg::SyncGroup(_) => "SyncGroup",
            KafkaMsg::SyncGroupResponse(_) => "SyncGroupResponse",
            KafkaMsg::Heartbeat(_) => "Heartbeat",
            KafkaMsg::HeartbeatResponse(_) => "HeartbeatResponse",
            KafkaMsg::LeaveGroup(_) => "LeaveGroup",
            KafkaMsg::LeaveGroupResponse(_) => "LeaveGroupResponse",
            KafkaMsg::OffsetCommit(_) => "OffsetCommit",
            KafkaMsg::OffsetCommitResponse(_) => "OffsetCommitResponse",
            KafkaMsg::OffsetFetch(_) => "OffsetFetch",
            KafkaMsg::OffsetFetchResponse(_) => "OffsetFetchResponse",
            KafkaMsg::CreateTopics(_) => "CreateTopics",
            KafkaMsg::CreateTopicsResponse(_) => "CreateTopicsResponse",
        }
    }
}
