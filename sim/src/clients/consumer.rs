//! The consumer client with manually assigned partitions (`KafkaConsumer.assign`).
//!
//! For each assigned partition it finds a starting position — `auto.offset.reset` through a
//! ListOffsets request (earliest = log start offset, latest = high watermark), or
//! `NoOffsetForPartitionException` for `none` — then keeps one fetch in flight per leader
//! broker, long-polling with `fetch.max.wait.ms` / `fetch.min.bytes`. What a fetch returns is
//! handed to the application in polls of at most `max.poll.records`, and the position moves
//! past it. `OFFSET_OUT_OF_RANGE` (e.g. retention deleted the data under the position) resets
//! the position by the same policy.
//!
//! Positions live in memory only: without a consumer group there are no committed offsets
//! (the consumer-group issue adds them), so a restarted consumer starts over by its policy.

use super::config::{AutoOffsetReset, ConsumerConfig};
use super::metadata::ClientMetadata;
use crate::kernel::{CrashKind, NodeId, Out};
use crate::node::{Input, KafkaNode, Note, Timer};
use crate::protocol::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

type ConsumerOut<'a, 'b> = &'a mut Out<'b, KafkaNode>;

/// What the consumer reads.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Subscription {
    /// Every partition of a topic (resolved from metadata).
    Topic(Arc<str>),
    /// These partitions of a topic.
    Partitions(Arc<str>, Vec<i32>),
}

impl Subscription {
    pub fn topic(&self) -> &Arc<str> {
        match self {
            Subscription::Topic(t) | Subscription::Partitions(t, _) => t,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
enum Pending {
    Fetch(NodeId),
    ListOffsets(NodeId, Vec<TopicPartition>),
}

/// A consumer node.
#[derive(Clone, Debug, Serialize)]
pub struct Consumer {
    name: Arc<str>,
    config: ConsumerConfig,
    subscription: Subscription,
    // Volatile client state.
    metadata: ClientMetadata,
    assignment: Vec<TopicPartition>,
    positions: BTreeMap<TopicPartition, i64>,
    /// Partitions stuck with `NoOffsetForPartitionException` until a seek.
    no_offset: BTreeSet<TopicPartition>,
    pending: BTreeMap<i32, Pending>,
    next_correlation_id: i32,
}

impl Consumer {
    pub fn new(
        name: impl Into<Arc<str>>,
        config: ConsumerConfig,
        subscription: Subscription,
        bootstrap: Vec<NodeId>,
    ) -> Self {
        Consumer {
            name: name.into(),
            config,
            subscription,
            metadata: ClientMetadata::new(bootstrap),
            assignment: Vec::new(),
            positions: BTreeMap::new(),
            no_offset: BTreeSet::new(),
            pending: BTreeMap::new(),
            next_correlation_id: 0,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    pub fn assignment(&self) -> &[TopicPartition] {
        &self.assignment
    }

    /// The next offset this consumer will return for `tp` (Kafka's `position()`).
    pub fn position(&self, tp: &TopicPartition) -> Option<i64> {
        self.positions.get(tp).copied()
    }

    fn next_id(&mut self) -> i32 {
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        self.next_correlation_id
    }

    pub(crate) fn on_start(&mut self, out: ConsumerOut) {
        self.refresh_metadata(out);
        out.set_timer_ms(Timer::MetadataRefresh, self.config.metadata_max_age_ms);
    }

    pub(crate) fn on_crash(&mut self, _kind: CrashKind, _out: ConsumerOut) {
        self.metadata.reset();
        self.assignment.clear();
        self.positions.clear();
        self.no_offset.clear();
        self.pending.clear();
    }

    fn refresh_metadata(&mut self, out: ConsumerOut) {
        let id = self.next_id();
        let topics = Some(vec![self.subscription.topic().clone()]);
        self.metadata
            .request(id, topics, self.config.request_timeout_ms, out);
    }

    pub(crate) fn on_message(&mut self, _from: NodeId, msg: KafkaMsg, out: ConsumerOut) {
        match msg {
            KafkaMsg::MetadataResponse(resp) if self.metadata.update(&resp, out) => {
                self.resolve_assignment();
                self.send_requests(out);
            }
            KafkaMsg::ListOffsetsResponse(resp) => self.handle_list_offsets(resp, out),
            KafkaMsg::FetchResponse(resp) => self.handle_fetch(resp, out),
            _ => {}
        }
    }

    pub(crate) fn on_timer(&mut self, timer: Timer, out: ConsumerOut) {
        match timer {
            Timer::RequestTimeout(id) => {
                if !self.metadata.timed_out(id) {
                    self.pending.remove(&id);
                }
                self.refresh_metadata(out);
            }
            Timer::MetadataRefresh => {
                self.refresh_metadata(out);
                out.set_timer_ms(Timer::MetadataRefresh, self.config.metadata_max_age_ms);
            }
            Timer::FetchBackoff => self.send_requests(out),
            _ => {}
        }
    }

    /// The connection to a broker was reset: forget the requests on it, and retry after
    /// `retry.backoff.ms` (the broker may be back, or metadata may name a new leader).
    pub(crate) fn on_disconnect(&mut self, peer: NodeId, out: ConsumerOut) {
        let lost: Vec<i32> = self
            .pending
            .iter()
            .filter(
                |(_, p)| matches!(p, Pending::Fetch(n) | Pending::ListOffsets(n, _) if *n == peer),
            )
            .map(|(id, _)| *id)
            .collect();
        for id in &lost {
            out.cancel_timer(Timer::RequestTimeout(*id));
            self.pending.remove(id);
        }
        let metadata_lost = self.metadata.disconnected(peer, out);
        if metadata_lost || !lost.is_empty() {
            self.after_response(true, out);
        }
    }

    pub(crate) fn on_input(&mut self, input: Input, out: ConsumerOut) {
        if let Input::Seek { tp, offset } = input {
            self.no_offset.remove(&tp);
            self.positions.insert(tp, offset);
            self.send_requests(out);
        }
    }

    fn resolve_assignment(&mut self) {
        let topic = self.subscription.topic().clone();
        let count = self.metadata.partition_count(&topic).unwrap_or(0);
        self.assignment = match &self.subscription {
            Subscription::Topic(_) => (0..count)
                .map(|p| TopicPartition::new(topic.clone(), p))
                .collect(),
            Subscription::Partitions(_, ps) => ps
                .iter()
                .filter(|p| **p < count)
                .map(|p| TopicPartition::new(topic.clone(), *p))
                .collect(),
        };
    }

    fn is_busy(&self, node: NodeId) -> bool {
        self.pending.values().any(|p| match p {
            Pending::Fetch(n) | Pending::ListOffsets(n, _) => *n == node,
        })
    }

    fn resetting(&self, tp: &TopicPartition) -> bool {
        self.pending
            .values()
            .any(|p| matches!(p, Pending::ListOffsets(_, tps) if tps.contains(tp)))
    }

    /// Sends what is missing: ListOffsets for partitions without a position, then one fetch
    /// per leader broker that has none in flight.
    fn send_requests(&mut self, out: ConsumerOut) {
        let mut resets: BTreeMap<NodeId, Vec<TopicPartition>> = BTreeMap::new();
        let mut fetches: BTreeMap<NodeId, Vec<FetchPartition>> = BTreeMap::new();
        for tp in &self.assignment {
            if self.no_offset.contains(tp) || self.resetting(tp) {
                continue;
            }
            let Some(leader) = self.metadata.leader_node(&tp.topic, tp.partition) else {
                continue;
            };
            match self.positions.get(tp) {
                None => resets.entry(leader).or_default().push(tp.clone()),
                Some(offset) => fetches.entry(leader).or_default().push(FetchPartition {
                    tp: tp.clone(),
                    fetch_offset: *offset,
                    partition_max_bytes: self.config.max_partition_fetch_bytes,
                    // KIP-320: a deposed leader answers FENCED_LEADER_EPOCH.
                    current_leader_epoch: self
                        .metadata
                        .leader_epoch(&tp.topic, tp.partition)
                        .unwrap_or(NO_EPOCH),
                    last_fetched_epoch: NO_EPOCH,
                }),
            }
        }
        for (node, tps) in resets {
            self.send_list_offsets(node, tps, out);
        }
        for (node, partitions) in fetches {
            if !self.is_busy(node) {
                self.send_fetch(node, partitions, out);
            }
        }
    }

    fn send_list_offsets(&mut self, node: NodeId, tps: Vec<TopicPartition>, out: ConsumerOut) {
        let timestamp = match self.config.auto_offset_reset {
            AutoOffsetReset::Earliest => EARLIEST_TIMESTAMP,
            AutoOffsetReset::Latest => LATEST_TIMESTAMP,
            AutoOffsetReset::None => {
                for tp in tps {
                    out.note(Note::NoOffsetForPartition { tp: tp.clone() });
                    self.no_offset.insert(tp);
                }
                return;
            }
        };
        let id = self.next_id();
        let partitions = tps
            .iter()
            .map(|tp| ListOffsetsPartition {
                tp: tp.clone(),
                timestamp,
            })
            .collect();
        out.send(
            node,
            KafkaMsg::ListOffsets(ListOffsetsRequest {
                correlation_id: id,
                replica_id: CONSUMER_REPLICA_ID,
                partitions,
            }),
        );
        out.set_timer_ms(Timer::RequestTimeout(id), self.config.request_timeout_ms);
        self.pending.insert(id, Pending::ListOffsets(node, tps));
    }

    fn send_fetch(&mut self, node: NodeId, partitions: Vec<FetchPartition>, out: ConsumerOut) {
        let id = self.next_id();
        out.send(
            node,
            KafkaMsg::Fetch(FetchRequest {
                correlation_id: id,
                replica_id: CONSUMER_REPLICA_ID,
                max_wait_ms: self.config.fetch_max_wait_ms,
                min_bytes: self.config.fetch_min_bytes,
                max_bytes: self.config.fetch_max_bytes,
                partitions,
            }),
        );
        // Kafka's fetch deadline covers the long-poll wait plus the request timeout.
        let timeout = self.config.request_timeout_ms + self.config.fetch_max_wait_ms;
        out.set_timer_ms(Timer::RequestTimeout(id), timeout);
        self.pending.insert(id, Pending::Fetch(node));
    }

    fn handle_list_offsets(&mut self, resp: ListOffsetsResponse, out: ConsumerOut) {
        if self.pending.remove(&resp.correlation_id).is_none() {
            return;
        }
        out.cancel_timer(Timer::RequestTimeout(resp.correlation_id));
        let mut failed = false;
        for p in resp.partitions {
            if p.error.is_ok() && p.offset >= 0 {
                out.note(Note::OffsetReset {
                    tp: p.tp.clone(),
                    offset: p.offset,
                    strategy: self.config.auto_offset_reset.name(),
                });
                self.positions.insert(p.tp, p.offset);
            } else {
                failed = true;
            }
        }
        self.after_response(failed, out);
    }

    fn handle_fetch(&mut self, resp: FetchResponse, out: ConsumerOut) {
        if self.pending.remove(&resp.correlation_id).is_none() {
            return;
        }
        out.cancel_timer(Timer::RequestTimeout(resp.correlation_id));
        let mut failed = false;
        for data in resp.partitions {
            failed |= !self.apply_fetched(data, out);
        }
        self.after_response(failed, out);
    }

    /// Hands a partition's fetched records to the application; false on an error.
    fn apply_fetched(&mut self, data: FetchPartitionData, out: ConsumerOut) -> bool {
        let tp = data.tp;
        let Some(position) = self.positions.get(&tp).copied() else {
            return true; // reset or revoked meanwhile: drop the data, as Kafka does
        };
        match data.error {
            Errors::None => {}
            Errors::OffsetOutOfRange => {
                out.note(Note::FetchError {
                    tp: tp.clone(),
                    error: data.error,
                });
                self.positions.remove(&tp); // reset by auto.offset.reset
                return true;
            }
            error => {
                out.note(Note::FetchError { tp, error });
                return false;
            }
        }
        let mut records = Vec::new();
        let mut next = position;
        for batch in &data.batches {
            for r in batch.records.iter().filter(|r| r.offset >= next) {
                records.push((r.offset, r.value.clone()));
            }
            next = next.max(batch.next_offset());
        }
        for chunk in records.chunks(self.config.max_poll_records as usize) {
            out.note(Note::Polled {
                tp: tp.clone(),
                records: chunk.to_vec(),
            });
        }
        self.positions.insert(tp, next);
        true
    }

    fn after_response(&mut self, failed: bool, out: ConsumerOut) {
        if failed {
            self.refresh_metadata(out);
            out.set_timer_ms(Timer::FetchBackoff, self.config.retry_backoff_ms);
        } else {
            self.send_requests(out);
        }
    }
}
