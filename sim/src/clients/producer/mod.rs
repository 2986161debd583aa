//! The producer client and the application that drives it.
//!
//! The application produces a workload — `records` records (or forever) at `rate` per second,
//! with keys cycled from a list, no keys, or an explicit partition — plus any extra records a
//! user command asks for. Each record has a unique value (`<producer>-<n>`) so the run's
//! history can follow it from `send()` to the log and to every consumer that reads it.
//!
//! The client is Kafka's `KafkaProducer` in its parts:
//! - `send()` (here): partition choice (`partitioner.rs`), `max.request.size`, appending to
//!   the record accumulator, blocking up to `max.block.ms` when `buffer.memory` is full;
//! - the record accumulator (`accumulator.rs`): batches per partition;
//! - the sender (`sender.rs`): readiness (`linger.ms`, full batches, retry backoff), draining
//!   per broker within `max.in.flight.requests.per.connection`, responses, retries,
//!   `request.timeout.ms` and `delivery.timeout.ms`;
//! - idempotence (`idempotence.rs`): producer id, epoch and sequences.
//!
//! Every send ends in the history as acknowledged (with its offset), failed (with the error),
//! or unknown: a batch that failed after a copy may have been written.

mod accumulator;
mod idempotence;
mod sender;

pub use accumulator::{BatchSequence, ProducerBatch, increment_sequence};
pub use idempotence::{Idempotence, PartitionSequences};

use super::config::ProducerConfig;
use super::metadata::ClientMetadata;
use super::partitioner::Partitioner;
use crate::kernel::{CrashKind, NodeId, Out, SimTime};
use crate::log::SimpleRecord;
use crate::node::{Input, KafkaNode, Note, Timer};
use crate::protocol::*;
use accumulator::{AppendError, RecordAccumulator};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

type ProducerOut<'a, 'b> = &'a mut Out<'b, KafkaNode>;

/// How the application picks record keys.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Keys {
    /// `null` keys: the sticky partitioner spreads them.
    None,
    /// Keys taken in turn from this list.
    Cycle(Vec<Arc<str>>),
}

/// What the application produces on its own.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Workload {
    pub topic: Arc<str>,
    /// Total records; `None` produces until the run ends.
    pub records: Option<u64>,
    /// Time between two records, in microseconds.
    pub interval_us: u64,
    pub keys: Keys,
    /// An explicit partition for every record (`new ProducerRecord(topic, partition, …)`).
    pub partition: Option<i32>,
    /// When the application starts producing, in ms after the node starts.
    pub start_ms: i64,
}

/// A `send()` blocked on `buffer.memory`.
#[derive(Clone, Debug, Serialize)]
struct BlockedSend {
    tp: TopicPartition,
    record: SimpleRecord,
    value: Arc<str>,
    sticky: bool,
}

/// A produce request awaiting its answer.
#[derive(Clone, Debug, Serialize)]
struct InFlightProduce {
    node: NodeId,
    /// Batch ids, one per partition.
    batches: Vec<u64>,
}

/// A producer node.
#[derive(Clone, Debug, Serialize)]
pub struct Producer {
    name: Arc<str>,
    config: ProducerConfig,
    workload: Workload,
    // The application's own progress survives a crash (its input is durable).
    created: u64,
    workload_done: u64,
    extra_pending: u64,
    // Volatile client state.
    metadata: ClientMetadata,
    partitioner: Partitioner,
    accumulator: RecordAccumulator,
    idempotence: Option<Idempotence>,
    in_flight: BTreeMap<i32, InFlightProduce>,
    blocked: Option<BlockedSend>,
    /// Per broker node: when it last had data ready and when a batch was last drained to it
    /// (Kafka's `NodeLatencyStats`, for `partitioner.availability.timeout.ms`).
    node_stats: BTreeMap<NodeId, (i64, i64)>,
    /// Round-robin start of draining, per node (Kafka's `nodesDrainIndex`).
    drain_index: BTreeMap<NodeId, usize>,
    next_correlation_id: i32,
    ticking: bool,
}

impl Producer {
    pub fn new(
        name: impl Into<Arc<str>>,
        config: ProducerConfig,
        workload: Workload,
        bootstrap: Vec<NodeId>,
    ) -> Self {
        let idempotence = config.enable_idempotence.then(Idempotence::default);
        Producer {
            name: name.into(),
            config,
            workload,
            created: 0,
            workload_done: 0,
            extra_pending: 0,
            metadata: ClientMetadata::new(bootstrap),
            partitioner: Partitioner::default(),
            accumulator: RecordAccumulator::default(),
            idempotence,
            in_flight: BTreeMap::new(),
            blocked: None,
            node_stats: BTreeMap::new(),
            drain_index: BTreeMap::new(),
            next_correlation_id: 0,
            ticking: false,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn config(&self) -> &ProducerConfig {
        &self.config
    }

    pub fn workload(&self) -> &Workload {
        &self.workload
    }

    /// Records the application has created so far.
    pub fn created(&self) -> u64 {
        self.created
    }

    /// Produce requests awaiting an answer.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Bytes of `buffer.memory` taken by live batches.
    pub fn buffer_used(&self) -> u64 {
        self.accumulator.used_memory()
    }

    /// Live batches (queued or in flight), oldest first.
    pub fn batches(&self) -> impl Iterator<Item = &ProducerBatch> {
        self.accumulator.batches().map(|(_, b)| b)
    }

    /// The idempotence state, when idempotence is on.
    pub fn idempotence(&self) -> Option<&Idempotence> {
        self.idempotence.as_ref()
    }

    fn next_id(&mut self) -> i32 {
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        self.next_correlation_id
    }

    fn workload_left(&self) -> bool {
        self.workload.records.is_none_or(|n| self.workload_done < n)
    }

    pub(crate) fn on_start(&mut self, out: ProducerOut) {
        self.refresh_metadata(out);
        self.ticking = false;
        out.set_timer_ms(Timer::MetadataRefresh, self.config.metadata_max_age_ms);
    }

    fn refresh_metadata(&mut self, out: ProducerOut) {
        let id = self.next_id();
        let topics = Some(vec![self.workload.topic.clone()]);
        self.metadata
            .request(id, topics, self.config.request_timeout_ms, out);
    }

    /// Starts (or keeps) the workload clock once metadata is known.
    fn ensure_ticking(&mut self, out: ProducerOut) {
        if self.ticking || !self.metadata.is_ready() || self.blocked.is_some() {
            return;
        }
        if self.workload_left() {
            self.ticking = true;
            let start = SimTime::from_millis(self.workload.start_ms.max(0) as u64);
            out.set_timer_at(Timer::ProduceTick, start);
        }
    }

    pub(crate) fn on_message(&mut self, _from: NodeId, msg: KafkaMsg, out: ProducerOut) {
        match msg {
            KafkaMsg::MetadataResponse(resp) if self.metadata.update(&resp, out) => {
                self.flush_extra(out);
                self.ensure_ticking(out);
                self.run_sender(out);
            }
            KafkaMsg::ProduceResponse(resp) => self.handle_produce_response(resp, out),
            KafkaMsg::InitProducerIdResponse(resp) => self.handle_init_producer_id(resp, out),
            _ => {}
        }
    }

    pub(crate) fn on_timer(&mut self, timer: Timer, out: ProducerOut) {
        match timer {
            Timer::ProduceTick => self.tick(out),
            Timer::SenderWakeup => self.run_sender(out),
            Timer::MaxBlock => self.max_block_expired(out),
            Timer::RequestTimeout(id) => self.handle_request_timeout(id, out),
            Timer::MetadataRefresh => {
                self.refresh_metadata(out);
                out.set_timer_ms(Timer::MetadataRefresh, self.config.metadata_max_age_ms);
            }
            _ => {}
        }
    }

    pub(crate) fn on_input(&mut self, input: Input, out: ProducerOut) {
        if let Input::Produce { count } = input {
            self.extra_pending += count;
            self.flush_extra(out);
        }
    }

    pub(crate) fn on_crash(&mut self, _kind: CrashKind, out: ProducerOut) {
        // Everything not yet acknowledged dies with the process. Whoever watched the
        // application cannot tell what reached the log: every such send is unknown.
        for batch in self.accumulator.clear() {
            for value in batch.values {
                out.note(Note::SendUnknown {
                    value,
                    tp: batch.tp.clone(),
                    error: Errors::NetworkException,
                });
            }
        }
        if let Some(blocked) = self.blocked.take() {
            out.note(Note::SendUnknown {
                value: blocked.value,
                tp: blocked.tp,
                error: Errors::NetworkException,
            });
        }
        self.in_flight.clear();
        self.metadata.reset();
        self.partitioner = Partitioner::default();
        // A restarted idempotent producer gets a new producer id.
        self.idempotence = self.config.enable_idempotence.then(Idempotence::default);
        self.node_stats.clear();
        self.drain_index.clear();
        self.ticking = false;
    }

    /// Sends the records user commands asked for, once the partition layout is known
    /// (a real `send()` blocks up to `max.block.ms` for metadata the same way).
    fn flush_extra(&mut self, out: ProducerOut) {
        while self.extra_pending > 0 && self.metadata.is_ready() && self.blocked.is_none() {
            self.extra_pending -= 1;
            self.produce_one(out);
        }
    }

    fn tick(&mut self, out: ProducerOut) {
        if self.blocked.is_some() {
            // The application thread is inside a blocked send(); it resumes when it returns.
            self.ticking = false;
            return;
        }
        if self.workload_left() {
            self.workload_done += 1;
            self.produce_one(out);
        }
        if self.workload_left() {
            out.set_timer_at(
                Timer::ProduceTick,
                out.now().plus_micros(self.workload.interval_us),
            );
        } else {
            self.ticking = false;
        }
    }

    fn next_key(&self) -> Option<Arc<str>> {
        match &self.workload.keys {
            Keys::None => None,
            Keys::Cycle(keys) if keys.is_empty() => None,
            Keys::Cycle(keys) => Some(keys[(self.created % keys.len() as u64) as usize].clone()),
        }
    }

    /// Creates the next record and calls `send()` with it.
    fn produce_one(&mut self, out: ProducerOut) {
        let key = self.next_key();
        self.created += 1;
        let value: Arc<str> = Arc::from(format!("{}-{}", self.name, self.created));
        let record = SimpleRecord {
            timestamp_ms: out.now_ms(),
            key: key.clone(),
            value: Some(value.clone()),
            headers: Vec::new(),
        };
        self.send(record, value, out);
    }

    /// `KafkaProducer.send`: partition, size checks, append; then wake the sender.
    fn send(&mut self, record: SimpleRecord, value: Arc<str>, out: ProducerOut) {
        let topic = self.workload.topic.clone();
        let choice = self.partitioner.partition(
            &self.config,
            &topic,
            record.key.as_deref(),
            self.workload.partition,
            &self.metadata,
            out.rng(),
        );
        let Some(choice) = choice else {
            out.note(Note::SendFailed {
                value,
                tp: TopicPartition::new(topic, -1),
                error: Errors::UnknownTopicOrPartition,
            });
            return;
        };
        let tp = TopicPartition::new(topic, choice.partition);
        out.note(Note::Sent {
            value: value.clone(),
            key: record.key.clone(),
            tp: tp.clone(),
            acks: self.config.acks,
        });
        // `ensureValidRecordSize`: the serialized record with a batch header must fit both
        // limits, or send() fails at once.
        let size = crate::log::RECORD_BATCH_OVERHEAD + record.size_bytes();
        if size > self.config.max_request_size || size > self.config.buffer_memory {
            out.note(Note::SendFailed {
                value,
                tp,
                error: Errors::MessageTooLarge,
            });
            return;
        }
        let blocked = BlockedSend {
            tp,
            record,
            value,
            sticky: choice.sticky,
        };
        if let Err(blocked) = self.append(blocked, out) {
            self.blocked = Some(blocked);
            out.set_timer_ms(Timer::MaxBlock, self.config.max_block_ms);
            return;
        }
        self.run_sender(out);
    }

    /// Appends to the accumulator, or hands the send back when memory is exhausted.
    fn append(&mut self, send: BlockedSend, out: ProducerOut) -> Result<(), BlockedSend> {
        let result = self.accumulator.append(
            &send.tp,
            send.record.clone(),
            send.value.clone(),
            out.now_ms(),
            self.config.batch_size,
            self.config.buffer_memory,
        );
        match result {
            Ok(appended) => {
                if send.sticky {
                    self.partitioner.on_sticky_append(
                        &self.config,
                        &send.tp.topic,
                        appended.appended_bytes,
                        appended.all_batches_full,
                        &self.metadata,
                        out.rng(),
                    );
                }
                Ok(())
            }
            Err(AppendError::NoMemory) => Err(send),
        }
    }

    /// Memory was freed: a blocked `send()` may go on, and the application with it.
    fn maybe_unblock(&mut self, out: ProducerOut) {
        let Some(blocked) = self.blocked.take() else {
            return;
        };
        match self.append(blocked, out) {
            Ok(()) => {
                out.cancel_timer(Timer::MaxBlock);
                self.flush_extra(out);
                self.ensure_ticking(out);
            }
            Err(still) => self.blocked = Some(still),
        }
    }

    /// `max.block.ms` passed with `buffer.memory` still full: send() throws
    /// `BufferExhaustedException` (a `TimeoutException`); nothing was sent.
    fn max_block_expired(&mut self, out: ProducerOut) {
        if let Some(blocked) = self.blocked.take() {
            out.note(Note::SendFailed {
                value: blocked.value,
                tp: blocked.tp,
                error: Errors::RequestTimedOut,
            });
            self.flush_extra(out);
            self.ensure_ticking(out);
        }
    }
}
