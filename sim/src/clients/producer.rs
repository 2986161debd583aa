//! The producer client and the application that drives it.
//!
//! The application produces a workload — `records` records (or forever) at `rate` per second,
//! with keys cycled from a list or no keys — plus any extra records a user command asks for.
//! Each record has a unique value (`<producer>-<n>`) so the run's history can follow it from
//! `send()` to the log and to every consumer that reads it.
//!
//! Simplification (until the producer issue): there is no record accumulator. Each record is
//! sent in its own Produce request as soon as it is created, with no retries (`retries=0`) and
//! no idempotence; a request that gets no answer within `request.timeout.ms` ends with an
//! unknown outcome, because the record may have been written.

use super::config::ProducerConfig;
use super::metadata::ClientMetadata;
use super::partitioner::Partitioner;
use crate::kernel::{CrashKind, NodeId, Out};
use crate::log::{ProducerInfo, SimpleRecord};
use crate::node::{Input, KafkaNode, Note, Timer};
use crate::protocol::*;
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
    /// When the application starts producing, in ms after the node starts.
    pub start_ms: i64,
}

#[derive(Clone, Debug, Serialize)]
struct InFlightProduce {
    node: NodeId,
    records: Vec<(Arc<str>, TopicPartition)>,
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
    in_flight: BTreeMap<i32, InFlightProduce>,
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
        Producer {
            name: name.into(),
            config,
            workload,
            created: 0,
            workload_done: 0,
            extra_pending: 0,
            metadata: ClientMetadata::new(bootstrap),
            partitioner: Partitioner::default(),
            in_flight: BTreeMap::new(),
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
        if self.ticking || !self.metadata.is_ready() {
            return;
        }
        if self.workload_left() {
            self.ticking = true;
            let start = crate::kernel::SimTime::from_millis(self.workload.start_ms.max(0) as u64);
            out.set_timer_at(Timer::ProduceTick, start);
        }
    }

    pub(crate) fn on_message(&mut self, _from: NodeId, msg: KafkaMsg, out: ProducerOut) {
        match msg {
            KafkaMsg::MetadataResponse(resp) if self.metadata.update(&resp, out) => {
                self.flush_extra(out);
                self.ensure_ticking(out);
            }
            KafkaMsg::ProduceResponse(resp) => self.handle_produce_response(resp, out),
            _ => {}
        }
    }

    pub(crate) fn on_timer(&mut self, timer: Timer, out: ProducerOut) {
        match timer {
            Timer::ProduceTick => self.tick(out),
            Timer::RequestTimeout(id) => self.handle_timeout(id, out),
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

    /// The connection to a broker was reset: requests on it will never be answered. Kafka
    /// fails them with `NETWORK_EXCEPTION`; whether they were written is unknown.
    pub(crate) fn on_disconnect(&mut self, peer: NodeId, out: ProducerOut) {
        let lost: Vec<i32> = self
            .in_flight
            .iter()
            .filter(|(_, r)| r.node == peer)
            .map(|(id, _)| *id)
            .collect();
        for id in &lost {
            out.cancel_timer(Timer::RequestTimeout(*id));
            if let Some(req) = self.in_flight.remove(id) {
                for (value, tp) in req.records {
                    out.note(Note::SendUnknown { value, tp });
                }
            }
        }
        if self.metadata.disconnected(peer, out) || !lost.is_empty() {
            self.refresh_metadata(out);
        }
    }

    pub(crate) fn on_crash(&mut self, _kind: CrashKind, out: ProducerOut) {
        // Requests in flight die with the process: their records' fate is unknown to anyone
        // who watched the application.
        for (_, req) in std::mem::take(&mut self.in_flight) {
            for (value, tp) in req.records {
                out.note(Note::SendUnknown { value, tp });
            }
        }
        self.metadata.reset();
        self.partitioner = Partitioner::default();
        self.ticking = false;
    }

    /// Sends the records user commands asked for, once the partition layout is known
    /// (a real `send()` blocks up to `max.block.ms` for metadata the same way).
    fn flush_extra(&mut self, out: ProducerOut) {
        if !self.metadata.is_ready() {
            return;
        }
        while self.extra_pending > 0 {
            self.extra_pending -= 1;
            self.produce_one(out);
        }
    }

    fn tick(&mut self, out: ProducerOut) {
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

    /// Creates the next record and sends it to its partition's leader.
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
        let bytes = record_bytes(&record);
        let topic = self.workload.topic.clone();
        let partition = self.partitioner.partition(
            &self.config,
            &topic,
            key.as_deref(),
            bytes,
            &self.metadata,
            out.rng(),
        );
        let Some(partition) = partition else {
            out.note(Note::SendFailed {
                value,
                tp: TopicPartition::new(topic, -1),
                error: Errors::UnknownTopicOrPartition,
            });
            return;
        };
        let tp = TopicPartition::new(topic, partition);
        out.note(Note::Sent {
            value: value.clone(),
            key,
            tp: tp.clone(),
            acks: self.config.acks,
        });
        self.send(tp, value, record, out);
    }

    fn send(
        &mut self,
        tp: TopicPartition,
        value: Arc<str>,
        record: SimpleRecord,
        out: ProducerOut,
    ) {
        let Some(leader) = self.metadata.leader_node(&tp.topic, tp.partition) else {
            out.note(Note::SendFailed {
                value,
                tp,
                error: Errors::LeaderNotAvailable,
            });
            self.refresh_metadata(out);
            return;
        };
        let correlation_id = self.next_id();
        let request = ProduceRequest {
            correlation_id,
            acks: self.config.acks,
            timeout_ms: self.config.request_timeout_ms as i32,
            partitions: vec![ProducePartitionData {
                tp: tp.clone(),
                producer: ProducerInfo::NONE,
                records: vec![record],
            }],
        };
        out.send(leader, KafkaMsg::Produce(request));
        if self.config.acks == 0 {
            return; // fire and forget: the send completes at once, with no offset
        }
        self.in_flight.insert(
            correlation_id,
            InFlightProduce {
                node: leader,
                records: vec![(value, tp)],
            },
        );
        out.set_timer_ms(
            Timer::RequestTimeout(correlation_id),
            self.config.request_timeout_ms,
        );
    }

    fn handle_produce_response(&mut self, resp: ProduceResponse, out: ProducerOut) {
        let Some(req) = self.in_flight.remove(&resp.correlation_id) else {
            return; // already timed out
        };
        out.cancel_timer(Timer::RequestTimeout(resp.correlation_id));
        let mut refresh = false;
        for part in resp.partitions {
            for (i, (value, tp)) in req
                .records
                .iter()
                .filter(|(_, tp)| *tp == part.tp)
                .enumerate()
            {
                if part.error.is_ok() {
                    let offset = part.base_offset + i as i64;
                    out.note(Note::Acked {
                        value: value.clone(),
                        tp: tp.clone(),
                        offset,
                    });
                } else {
                    refresh |= part.error.invalidates_metadata();
                    out.note(Note::SendFailed {
                        value: value.clone(),
                        tp: tp.clone(),
                        error: part.error,
                    });
                }
            }
        }
        if refresh {
            self.refresh_metadata(out);
        }
    }

    fn handle_timeout(&mut self, id: i32, out: ProducerOut) {
        if self.metadata.timed_out(id) {
            self.refresh_metadata(out);
            return;
        }
        if let Some(req) = self.in_flight.remove(&id) {
            for (value, tp) in req.records {
                out.note(Note::SendUnknown { value, tp });
            }
            self.refresh_metadata(out);
        }
    }
}

/// Approximate v2 record size, used by the sticky partitioner's byte count.
fn record_bytes(record: &SimpleRecord) -> u64 {
    let key = record.key.as_deref().map_or(0, str::len);
    let value = record.value.as_deref().map_or(0, str::len);
    (7 + key + value) as u64
}
