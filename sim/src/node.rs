//! The Kafka model's nodes as one `Actor`: brokers and clients, with the timers, user inputs
//! and trace notes they share.
//!
//! The kernel runs one actor type, so every kind of Kafka process is a variant of
//! [`KafkaNode`] and dispatch is a `match`. Notes are the model's semantic trace: they are what
//! the lab's event log prints and what the run's history (sends, acks, polls) is built from.

use crate::broker::Broker;
use crate::clients::{Consumer, Producer};
use crate::controller::Controller;
use crate::kernel::{Actor, CrashKind, NodeId, Out};
use crate::protocol::{Errors, KafkaMsg, TopicPartition};
use serde::Serialize;
use std::sync::Arc;

/// Timer keys of every node kind.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Timer {
    /// Broker: `log.retention.check.interval.ms`.
    RetentionCheck,
    /// Broker: the log cleaner wakes up (`log.cleaner.backoff.ms`).
    CleanerTick,
    /// Broker: `log.flush.scheduler.interval.ms`, which applies each topic's `flush.ms`.
    FlushScheduler,
    /// Broker: the operating system writes dirty pages back to disk.
    OsFlush,
    /// Broker: a parked fetch reached its `max_wait_ms`.
    DelayedFetchExpire(u64),
    /// Broker: a parked `acks=all` produce reached its timeout.
    DelayedProduceExpire(u64),
    /// Broker: time to heartbeat (or retry registering with) the controller.
    Heartbeat,
    /// Broker: retry replicating the metadata log after an error.
    MetadataFetchRetry,
    /// Broker: the ISR shrink check (every `replica.lag.time.max.ms / 2`).
    IsrExpiration,
    /// Broker: write the high watermarks to the checkpoint file.
    HighWatermarkCheckpoint,
    /// Broker: the follower fetcher for this leader broker id resumes after a backoff.
    ReplicaFetchBackoff(i32),
    /// Controller: this broker's session may have expired.
    SessionExpire(i32),
    /// Controller: a parked metadata fetch from this broker reached its wait.
    MetadataFetchExpire(i32),
    /// Controller: `leader.imbalance.check.interval.seconds`.
    LeaderImbalanceCheck,
    /// Controller: `unclean.leader.election.interval.ms`.
    UncleanElectionCheck,
    /// Producer: time to send the next record of the workload.
    ProduceTick,
    /// Producer: the sender's next check (linger, retry backoff or delivery timeout due).
    SenderWakeup,
    /// Producer: `send()` has blocked for `max.block.ms` waiting for buffer memory.
    MaxBlock,
    /// Client: no response within `request.timeout.ms`.
    RequestTimeout(i32),
    /// Client: `metadata.max.age.ms` elapsed, or a refresh is due after an error.
    MetadataRefresh,
    /// Consumer: retry fetching after `retry.backoff.ms`.
    FetchBackoff,
    /// Consumer: the heartbeat thread's next beat (`heartbeat.interval.ms`).
    ConsumerHeartbeat,
    /// Consumer: look the group coordinator up again, or retry a group request.
    CoordinatorRetry,
    /// Consumer: `max.poll.interval.ms` since the application last called `poll()`.
    PollTimeout,
    /// Consumer: the next auto-commit is due (`auto.commit.interval.ms`).
    AutoCommit,
    /// Consumer application: the current record is processed.
    ProcessRecord,
    /// Coordinator: a group's join phase ends (initial delay or rebalance timeout).
    GroupJoin(Arc<str>),
    /// Coordinator: members that have not sent SyncGroup by now are removed.
    GroupSync(Arc<str>),
    /// Coordinator: a member's session expires (group, member).
    GroupHeartbeat(Arc<str>, Arc<str>),
}

/// User inputs a node can receive through a command.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// Producer: send `count` more records now, on top of its workload.
    Produce { count: u64 },
    /// Consumer: move the position of a partition (`KafkaConsumer.seek`).
    Seek { tp: TopicPartition, offset: i64 },
    /// Controller: grow `topic` to `count` partitions in total — the CreatePartitions request
    /// that `kafka-topics.sh --alter --topic T --partitions N` sends.
    CreatePartitions { topic: Arc<str>, count: i32 },
}

/// Semantic trace notes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Note {
    // --- broker ---
    Appended {
        tp: TopicPartition,
        base_offset: i64,
        last_offset: i64,
    },
    HwAdvanced {
        tp: TopicPartition,
        high_watermark: i64,
    },
    SegmentRolled {
        tp: TopicPartition,
        base_offset: i64,
    },
    SegmentsDeleted {
        tp: TopicPartition,
        segments: usize,
        log_start_offset: i64,
    },
    Compacted {
        tp: TopicPartition,
        records_removed: u64,
        tombstones_removed: u64,
    },
    UnflushedLost {
        tp: TopicPartition,
        records: u64,
        log_end_offset: i64,
    },
    ProduceRejected {
        tp: TopicPartition,
        error: Errors,
    },
    /// An idempotent producer's batch was already in the log: the broker answers with the
    /// original offsets and writes nothing.
    DuplicateBatch {
        tp: TopicPartition,
        producer_id: i64,
        base_sequence: i32,
        base_offset: i64,
    },
    /// The broker applied a metadata record making it the leader.
    BecameLeader {
        tp: TopicPartition,
        leader_epoch: i32,
        isr: Vec<i32>,
        log_end_offset: i64,
    },
    /// The broker applied a metadata record making it a follower (`leader` may be -1).
    BecameFollower {
        tp: TopicPartition,
        leader: i32,
        leader_epoch: i32,
    },
    /// A replica's log was cut back: `reason` says which rule did it.
    Truncated {
        tp: TopicPartition,
        to_offset: i64,
        records_removed: u64,
        reason: &'static str,
    },
    /// The leader asked the controller for a new ISR.
    IsrChangeProposed {
        tp: TopicPartition,
        from: Vec<i32>,
        to: Vec<i32>,
    },
    AlterPartitionFailed {
        tp: TopicPartition,
        error: Errors,
    },
    /// The broker's registration was accepted (or refused, with the error).
    RegistrationResult {
        broker_epoch: i64,
        error: Errors,
    },
    // --- controller ---
    BrokerRegistered {
        broker: i32,
        broker_epoch: i64,
    },
    BrokerFenced {
        broker: i32,
        reason: &'static str,
    },
    BrokerUnfenced {
        broker: i32,
    },
    /// A partition's leader changed (to -1 when it went offline).
    LeaderElected {
        tp: TopicPartition,
        leader: i32,
        leader_epoch: i32,
        isr: Vec<i32>,
        election: &'static str,
        unclean: bool,
    },
    /// The controller committed a new ISR without a leader change.
    IsrChanged {
        tp: TopicPartition,
        isr: Vec<i32>,
        partition_epoch: i32,
    },
    // --- producer ---
    Sent {
        value: Arc<str>,
        key: Option<Arc<str>>,
        tp: TopicPartition,
        acks: i16,
    },
    Acked {
        value: Arc<str>,
        tp: TopicPartition,
        offset: i64,
    },
    SendFailed {
        value: Arc<str>,
        tp: TopicPartition,
        error: Errors,
    },
    /// The send failed (`error`), but an earlier attempt may have been written: the record may
    /// or may not be in the log. Also a producer that died with the record unacknowledged.
    SendUnknown {
        value: Arc<str>,
        tp: TopicPartition,
        error: Errors,
    },
    /// A batch goes back to the queue for another attempt.
    BatchRetried {
        tp: TopicPartition,
        records: usize,
        attempt: u32,
        error: Errors,
        /// The batch's base sequence, or -1 without idempotence.
        base_sequence: i32,
    },
    /// An idempotent producer got its id (`InitProducerId`).
    ProducerIdAssigned {
        producer_id: i64,
        epoch: i16,
    },
    /// An idempotent producer bumped its epoch to close a sequence gap; the partitions'
    /// sequences restart at 0.
    ProducerEpochBumped {
        producer_id: i64,
        epoch: i16,
        partitions: Vec<TopicPartition>,
    },
    // --- consumer ---
    Polled {
        tp: TopicPartition,
        records: Vec<(i64, Option<Arc<str>>)>,
    },
    OffsetReset {
        tp: TopicPartition,
        offset: i64,
        strategy: &'static str,
    },
    /// `auto.offset.reset=none` and no position: Kafka's `NoOffsetForPartitionException`.
    NoOffsetForPartition {
        tp: TopicPartition,
    },
    FetchError {
        tp: TopicPartition,
        error: Errors,
    },
    // --- any client ---
    MetadataUpdated {
        topics: usize,
    },
    // --- controller: operator requests ---
    // (New notes go at the end: the trace hash encodes a variant by its index.)
    /// CreatePartitions succeeded: `topic` grew from `previous_count` to `count` partitions
    /// (their `PartitionRecord`s are in the metadata log; brokers and clients learn later).
    PartitionsCreated {
        topic: Arc<str>,
        previous_count: i32,
        count: i32,
    },
    /// CreatePartitions was refused (`INVALID_PARTITIONS`, `UNKNOWN_TOPIC_OR_PARTITION`, ...).
    CreatePartitionsFailed {
        topic: Arc<str>,
        count: i32,
        error: Errors,
        message: String,
    },
    // --- group coordinator (broker) ---
    /// The broker became leader of a `__consumer_offsets` partition and rebuilt its groups
    /// and offsets from the log.
    CoordinatorLoaded {
        partition: i32,
        groups: usize,
        offsets: usize,
    },
    /// The broker stopped leading a `__consumer_offsets` partition; its groups moved away.
    CoordinatorUnloaded {
        partition: i32,
    },
    GroupMemberJoined {
        group: Arc<str>,
        member: Arc<str>,
        instance: Option<Arc<str>>,
    },
    /// A static member came back with a new member id; the old id is fenced.
    StaticMemberReplaced {
        group: Arc<str>,
        instance: Arc<str>,
        old_member: Arc<str>,
        member: Arc<str>,
    },
    GroupPreparingRebalance {
        group: Arc<str>,
        generation: i32,
        reason: String,
    },
    GroupMemberRemoved {
        group: Arc<str>,
        member: Arc<str>,
        reason: String,
    },
    /// The join phase ended with no members: a new, empty generation.
    GroupEmpty {
        group: Arc<str>,
        generation: i32,
    },
    /// The join phase ended: a new generation, its protocol and leader.
    GroupCompletingRebalance {
        group: Arc<str>,
        generation: i32,
        protocol: Arc<str>,
        leader: Arc<str>,
        members: usize,
    },
    /// The leader's assignment arrived: the generation is Stable.
    GroupStable {
        group: Arc<str>,
        generation: i32,
        assignment: Vec<(Arc<str>, Vec<TopicPartition>)>,
    },
    OffsetsCommitted {
        group: Arc<str>,
        generation: i32,
        offsets: Vec<(TopicPartition, i64)>,
    },
    OffsetCommitRejected {
        group: Arc<str>,
        member: Arc<str>,
        generation: i32,
        error: Errors,
    },
    // --- consumer in a group ---
    CoordinatorDiscovered {
        group: Arc<str>,
        broker: i32,
    },
    /// `onPartitionsAssigned`.
    PartitionsAssigned {
        group: Arc<str>,
        generation: i32,
        partitions: Vec<TopicPartition>,
    },
    /// `onPartitionsRevoked` (eager: everything before rejoining; cooperative: what moved).
    PartitionsRevoked {
        group: Arc<str>,
        partitions: Vec<TopicPartition>,
    },
    /// `onPartitionsLost`: the member was no longer in the group when it found out.
    PartitionsLost {
        group: Arc<str>,
        partitions: Vec<TopicPartition>,
    },
    /// The consumer left the group on its own (`max.poll.interval.ms` exceeded).
    LeftGroup {
        group: Arc<str>,
        member: Arc<str>,
        reason: String,
    },
    /// The application finished processing one record.
    Processed {
        tp: TopicPartition,
        offset: i64,
        value: Option<Arc<str>>,
    },
    /// The coordinator acknowledged a commit: these offsets are durable (below the high
    /// watermark of `__consumer_offsets`).
    Committed {
        group: Arc<str>,
        offsets: Vec<(TopicPartition, i64)>,
    },
    /// A commit the application asked for failed (`CommitFailedException`,
    /// `RebalanceInProgressException`, a timeout); `error` is `None` when it never reached the
    /// broker.
    CommitFailed {
        group: Arc<str>,
        /// The broker's answer; `None` when the client refused before sending.
        error: Option<Errors>,
        /// The exception the application sees.
        exception: &'static str,
    },
}

/// Every kind of node in a Kafka run.
#[derive(Clone, Debug, Serialize)]
pub enum KafkaNode {
    Controller(Box<Controller>),
    Broker(Box<Broker>),
    Producer(Box<Producer>),
    Consumer(Box<Consumer>),
}

impl KafkaNode {
    pub fn as_broker(&self) -> Option<&Broker> {
        match self {
            KafkaNode::Broker(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_controller(&self) -> Option<&Controller> {
        match self {
            KafkaNode::Controller(c) => Some(c),
            _ => None,
        }
    }

    pub fn as_producer(&self) -> Option<&Producer> {
        match self {
            KafkaNode::Producer(p) => Some(p),
            _ => None,
        }
    }

    pub fn as_consumer(&self) -> Option<&Consumer> {
        match self {
            KafkaNode::Consumer(c) => Some(c),
            _ => None,
        }
    }

    /// `controller`, `broker`, `producer` or `consumer`.
    pub fn role(&self) -> &'static str {
        match self {
            KafkaNode::Controller(_) => "controller",
            KafkaNode::Broker(_) => "broker",
            KafkaNode::Producer(_) => "producer",
            KafkaNode::Consumer(_) => "consumer",
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $node:ident => $body:expr) => {
        match $self {
            KafkaNode::Controller($node) => $body,
            KafkaNode::Broker($node) => $body,
            KafkaNode::Producer($node) => $body,
            KafkaNode::Consumer($node) => $body,
        }
    };
}

impl Actor for KafkaNode {
    type Msg = KafkaMsg;
    type Timer = Timer;
    type Input = Input;
    type Note = Note;

    fn on_start(&mut self, out: &mut Out<'_, Self>) {
        dispatch!(self, n => n.on_start(out))
    }
    fn on_message(&mut self, from: NodeId, msg: KafkaMsg, out: &mut Out<'_, Self>) {
        dispatch!(self, n => n.on_message(from, msg, out))
    }
    fn on_timer(&mut self, timer: Timer, out: &mut Out<'_, Self>) {
        dispatch!(self, n => n.on_timer(timer, out))
    }
    fn on_input(&mut self, input: Input, out: &mut Out<'_, Self>) {
        dispatch!(self, n => n.on_input(input, out))
    }
    fn on_disconnect(&mut self, peer: NodeId, out: &mut Out<'_, Self>) {
        dispatch!(self, n => n.on_disconnect(peer, out))
    }
    fn on_crash(&mut self, kind: CrashKind, out: &mut Out<'_, Self>) {
        dispatch!(self, n => n.on_crash(kind, out))
    }
}
