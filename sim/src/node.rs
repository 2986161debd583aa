//! The Kafka model's nodes as one `Actor`: brokers and clients, with the timers, user inputs
//! and trace notes they share.
//!
//! The kernel runs one actor type, so every kind of Kafka process is a variant of
//! [`KafkaNode`] and dispatch is a `match`. Notes are the model's semantic trace: they are what
//! the lab's event log prints and what the run's history (sends, acks, polls) is built from.

use crate::broker::Broker;
use crate::clients::{Consumer, Producer};
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
    /// Producer: time to send the next record of the workload.
    ProduceTick,
    /// Client: no response within `request.timeout.ms`.
    RequestTimeout(i32),
    /// Client: `metadata.max.age.ms` elapsed, or a refresh is due after an error.
    MetadataRefresh,
    /// Consumer: retry fetching after `retry.backoff.ms`.
    FetchBackoff,
}

/// User inputs a node can receive through a command.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// Producer: send `count` more records now, on top of its workload.
    Produce { count: u64 },
    /// Consumer: move the position of a partition (`KafkaConsumer.seek`).
    Seek { tp: TopicPartition, offset: i64 },
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
    /// The producer gave up waiting: the record may or may not have been written.
    SendUnknown {
        value: Arc<str>,
        tp: TopicPartition,
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
}

/// Every kind of node in a Kafka run.
#[derive(Clone, Debug, Serialize)]
pub enum KafkaNode {
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

    /// `broker`, `producer` or `consumer`.
    pub fn role(&self) -> &'static str {
        match self {
            KafkaNode::Broker(_) => "broker",
            KafkaNode::Producer(_) => "producer",
            KafkaNode::Consumer(_) => "consumer",
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $node:ident => $body:expr) => {
        match $self {
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
