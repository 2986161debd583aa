//! The consumer-group RPCs of the classic protocol: FindCoordinator, JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch — and CreateTopics, which a broker sends
//! the controller to create `__consumer_offsets` on first use.
//!
//! Field names follow Kafka's message JSON schemas (`JoinGroupRequest.json` …). Where Kafka
//! carries opaque bytes — the embedded `ConsumerProtocolSubscription` and
//! `ConsumerProtocolAssignment` — the model carries the decoded structs: the coordinator never
//! looks inside them (as in Kafka), only the group leader's assignor and the members do.

use super::errors::Errors;
use super::messages::TopicPartition;
use crate::kernel::NodeId;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `JoinGroupRequest.UNKNOWN_MEMBER_ID`: a member joining for the first time.
pub const UNKNOWN_MEMBER_ID: &str = "";
/// `OffsetCommitRequest.DEFAULT_GENERATION_ID` / `Generation.NO_GENERATION`.
pub const NO_GENERATION: i32 = -1;
/// The protocol type consumers use (`ConsumerProtocol.PROTOCOL_TYPE`).
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";
/// The internal topic holding group metadata and committed offsets.
pub const CONSUMER_OFFSETS_TOPIC: &str = "__consumer_offsets";

/// `ConsumerProtocolSubscription` (v3 without `userData` and `rackId`): what a member sends
/// for each assignor it supports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerSubscription {
    pub topics: Vec<Arc<str>>,
    /// Partitions the member owns now (cooperative members keep them across a rebalance).
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation in which it got them; `NO_GENERATION` if none.
    pub generation_id: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindCoordinatorRequest {
    pub correlation_id: i32,
    /// The group id (key type GROUP).
    pub key: Arc<str>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindCoordinatorResponse {
    pub correlation_id: i32,
    pub error: Errors,
    pub node_id: i32,
    /// Where to reach it: the simulated stand-in for `host:port`.
    pub node: Option<NodeId>,
}

/// One `(assignor name, subscription)` entry, in the member's preference order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JoinGroupProtocol {
    pub name: Arc<str>,
    pub metadata: ConsumerSubscription,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JoinGroupRequest {
    pub correlation_id: i32,
    pub group_id: Arc<str>,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub member_id: Arc<str>,
    pub group_instance_id: Option<Arc<str>>,
    pub protocol_type: Arc<str>,
    pub protocols: Vec<JoinGroupProtocol>,
    /// The consumer's `client.id`, kept by the coordinator for `describe`.
    pub client_id: Arc<str>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JoinGroupMember {
    pub member_id: Arc<str>,
    pub group_instance_id: Option<Arc<str>>,
    pub metadata: ConsumerSubscription,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JoinGroupResponse {
    pub correlation_id: i32,
    pub error: Errors,
    pub generation_id: i32,
    pub protocol_name: Option<Arc<str>>,
    pub leader: Arc<str>,
    pub member_id: Arc<str>,
    /// Every member's subscription for the chosen protocol — to the leader only.
    pub members: Vec<JoinGroupMember>,
    /// KIP-814: a static leader that rejoined without a rebalance must not assign again.
    pub skip_assignment: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncGroupAssignment {
    pub member_id: Arc<str>,
    pub assignment: Vec<TopicPartition>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncGroupRequest {
    pub correlation_id: i32,
    pub group_id: Arc<str>,
    pub generation_id: i32,
    pub member_id: Arc<str>,
    pub group_instance_id: Option<Arc<str>>,
    pub protocol_name: Option<Arc<str>>,
    /// The leader's assignment for every member; empty from followers.
    pub assignments: Vec<SyncGroupAssignment>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncGroupResponse {
    pub correlation_id: i32,
    pub error: Errors,
    pub protocol_name: Option<Arc<str>>,
    pub assignment: Vec<TopicPartition>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatRequest {
    pub correlation_id: i32,
    pub group_id: Arc<str>,
    pub generation_id: i32,
    pub member_id: Arc<str>,
    pub group_instance_id: Option<Arc<str>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    pub correlation_id: i32,
    pub error: Errors,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberIdentity {
    pub member_id: Arc<str>,
    pub group_instance_id: Option<Arc<str>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeaveGroupRequest {
    pub correlation_id: i32,
    pub group_id: Arc<str>,
    pub members: Vec<MemberIdentity>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeaveGroupResponse {
    pub correlation_id: i32,
    pub error: Errors,
    pub members: Vec<(MemberIdentity, Errors)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OffsetCommitPartition {
    pub tp: TopicPartition,
    /// The next offset to read.
    pub committed_offset: i64,
    pub committed_leader_epoch: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OffsetCommitRequest {
    pub correlation_id: i32,
    pub group_id: Arc<str>,
    /// `NO_GENERATION` for standalone (assign-mode or admin) commits.
    pub generation_id: i32,
    /// Empty for standalone commits.
    pub member_id: Arc<str>,
    pub group_instance_id: Option<Arc<str>>,
    pub partitions: Vec<OffsetCommitPartition>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OffsetCommitResponse {
    pub correlation_id: i32,
    pub partitions: Vec<(TopicPartition, Errors)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OffsetFetchRequest {
    pub correlation_id: i32,
    pub group_id: Arc<str>,
    /// `None` asks for every partition the group has an offset for.
    pub partitions: Option<Vec<TopicPartition>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OffsetFetchPartition {
    pub tp: TopicPartition,
    /// -1 when the group has no offset for it.
    pub committed_offset: i64,
    pub committed_leader_epoch: i32,
    pub error: Errors,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OffsetFetchResponse {
    pub correlation_id: i32,
    pub error: Errors,
    pub partitions: Vec<OffsetFetchPartition>,
}

/// `CreatableTopic`: one topic of a CreateTopics request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatableTopic {
    pub name: Arc<str>,
    pub num_partitions: i32,
    pub replication_factor: i16,
    /// Topic configs (`cleanup.policy=compact` …).
    pub configs: Vec<(String, String)>,
}

/// CreateTopics, as a broker's `AutoTopicCreationManager` forwards it to the controller.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreateTopicsRequest {
    pub correlation_id: i32,
    pub topics: Vec<CreatableTopic>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreateTopicsResponse {
    pub correlation_id: i32,
    pub topics: Vec<(Arc<str>, Errors)>,
}
