//! The consumer client (`KafkaConsumer` with the classic group protocol) and the application
//! that calls it.
//!
//! Three parts, as in Kafka:
//! - the **fetcher** (this file): for each assigned partition a position (the next offset to
//!   return), found from the committed offset, else `auto.offset.reset` (ListOffsets:
//!   earliest = log start, latest = high watermark), else `NoOffsetForPartitionException`;
//!   one fetch in flight per leader, long-polling with `fetch.max.wait.ms`/`fetch.min.bytes`;
//!   fetched records wait in a buffer until `poll()` hands out at most `max.poll.records`;
//! - the **group member** ([`group`]): Kafka's `ConsumerCoordinator` — FindCoordinator,
//!   the JoinGroup/SyncGroup rebalance with the leader running the assignor, heartbeats,
//!   commits, eager and cooperative revocation, static membership, and leaving the group when
//!   `max.poll.interval.ms` passes between polls;
//! - the **application** ([`app`]): a poll loop that processes each record for a fixed time
//!   and commits by its delivery semantic, recording what it processed.
//!
//! Without a `group.id` the consumer reads the partitions it was given (`assign`), keeps its
//! positions in memory only and commits nothing: a restart starts over by its reset policy.

mod app;
mod group;

pub use app::{AppConfig, Semantics};

use super::config::{AutoOffsetReset, ConsumerConfig};
use super::metadata::ClientMetadata;
use crate::group::assignor::RebalanceProtocol;
use crate::kernel::{CrashKind, NodeId, Out};
use crate::node::{Input, KafkaNode, Note, Timer};
use crate::protocol::*;
use app::App;
use group::Membership;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

type ConsumerOut<'a, 'b> = &'a mut Out<'b, KafkaNode>;

/// Fetched `(offset, value)` pairs of one partition, waiting for `poll()`.
type Fetched = VecDeque<(i64, Option<Arc<str>>)>;

/// What the consumer reads.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Subscription {
    /// `subscribe([topic])` with a `group.id`: the group assigns partitions. Without a
    /// group: every partition of the topic (resolved from metadata), assigned by hand.
    Topic(Arc<str>),
    /// `assign(...)`: these partitions of a topic.
    Partitions(Arc<str>, Vec<i32>),
}

impl Subscription {
    pub fn topic(&self) -> &Arc<str> {
        match self {
            Subscription::Topic(t) | Subscription::Partitions(t, _) => t,
        }
    }
}

/// A request in flight and what it was for.
#[derive(Clone, Debug, Serialize)]
enum Pending {
    Fetch(NodeId),
    ListOffsets(NodeId, Vec<TopicPartition>),
    FindCoordinator(NodeId),
    JoinGroup(NodeId),
    SyncGroup(NodeId),
    Heartbeat(NodeId),
    OffsetCommit(NodeId),
    OffsetFetch(NodeId, Vec<TopicPartition>),
}

impl Pending {
    fn node(&self) -> NodeId {
        match self {
            Pending::Fetch(n)
            | Pending::ListOffsets(n, _)
            | Pending::FindCoordinator(n)
            | Pending::JoinGroup(n)
            | Pending::SyncGroup(n)
            | Pending::Heartbeat(n)
            | Pending::OffsetCommit(n)
            | Pending::OffsetFetch(n, _) => *n,
        }
    }
}

/// A consumer node: client and application.
#[derive(Clone, Debug, Serialize)]
pub struct Consumer {
    name: Arc<str>,
    config: ConsumerConfig,
    subscription: Subscription,
    // Volatile client state.
    metadata: ClientMetadata,
    assignment: Vec<TopicPartition>,
    /// The next offset `poll()` returns, per assigned partition.
    positions: BTreeMap<TopicPartition, i64>,
    /// Fetched records not yet returned by `poll()`.
    buffered: BTreeMap<TopicPartition, Fetched>,
    /// Partitions with buffered records, in the order their fetches completed: `poll()`
    /// drains them in this order, as Kafka's `completedFetches` queue, so a partition whose
    /// data keeps arriving cannot starve the others when `max.poll.records` is small.
    fetch_order: VecDeque<TopicPartition>,
    /// Partitions stuck with `NoOffsetForPartitionException` until a seek.
    no_offset: BTreeSet<TopicPartition>,
    /// Assigned partitions waiting for their committed offset (OffsetFetch).
    awaiting_committed: BTreeSet<TopicPartition>,
    pending: BTreeMap<i32, Pending>,
    next_correlation_id: i32,
    group: Option<Membership>,
    app: App,
}

impl Consumer {
    pub fn new(
        name: impl Into<Arc<str>>,
        config: ConsumerConfig,
        subscription: Subscription,
        app: AppConfig,
        bootstrap: Vec<NodeId>,
    ) -> Self {
        let name: Arc<str> = name.into();
        let group = match (&config.group_id, &subscription) {
            (Some(id), Subscription::Topic(_)) => Some(Membership::new(id.clone(), true)),
            (Some(id), Subscription::Partitions(..)) => Some(Membership::new(id.clone(), false)),
            (None, _) => None,
        };
        Consumer {
            name,
            config,
            subscription,
            metadata: ClientMetadata::new(bootstrap),
            assignment: Vec::new(),
            positions: BTreeMap::new(),
            buffered: BTreeMap::new(),
            fetch_order: VecDeque::new(),
            no_offset: BTreeSet::new(),
            awaiting_committed: BTreeSet::new(),
            pending: BTreeMap::new(),
            next_correlation_id: 0,
            group,
            app: App::new(app),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    /// What the application subscribed to or assigned itself.
    pub fn subscription(&self) -> &Subscription {
        &self.subscription
    }

    pub fn assignment(&self) -> &[TopicPartition] {
        &self.assignment
    }

    /// The next offset this consumer will return for `tp` (Kafka's `position()`).
    pub fn position(&self, tp: &TopicPartition) -> Option<i64> {
        self.positions.get(tp).copied()
    }

    /// The group id, member id and generation, when in a group.
    pub fn group_member(&self) -> Option<(&str, &str, i32)> {
        self.group
            .as_ref()
            .map(|g| (&*g.group_id, &*g.member_id, g.generation))
    }

    fn client_id(&self) -> Arc<str> {
        if self.config.client_id.is_empty() {
            self.name.clone()
        } else {
            self.config.client_id.clone()
        }
    }

    fn next_id(&mut self) -> i32 {
        bump(&mut self.next_correlation_id)
    }

    /// Sends a request and arms its timeout.
    fn request(
        &mut self,
        node: NodeId,
        msg: KafkaMsg,
        pending: Pending,
        timeout: i64,
        out: ConsumerOut,
    ) {
        let id = correlation_id(&msg);
        out.send(node, msg);
        out.set_timer_ms(Timer::RequestTimeout(id), timeout);
        self.pending.insert(id, pending);
    }

    pub(crate) fn on_start(&mut self, out: ConsumerOut) {
        self.refresh_metadata(out);
        out.set_timer_ms(Timer::MetadataRefresh, self.config.metadata_max_age_ms);
        self.app_poll(out);
    }

    pub(crate) fn on_crash(&mut self, _kind: CrashKind, _out: ConsumerOut) {
        self.metadata.reset();
        self.assignment.clear();
        self.positions.clear();
        self.buffered.clear();
        self.fetch_order.clear();
        self.no_offset.clear();
        self.awaiting_committed.clear();
        self.pending.clear();
        if let Some(g) = &mut self.group {
            *g = Membership::new(g.group_id.clone(), g.subscribed);
        }
        self.app.reset();
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
                self.after_metadata(out);
            }
            KafkaMsg::ListOffsetsResponse(resp) => self.handle_list_offsets(resp, out),
            KafkaMsg::FetchResponse(resp) => self.handle_fetch(resp, out),
            KafkaMsg::FindCoordinatorResponse(resp) => self.handle_find_coordinator(resp, out),
            KafkaMsg::JoinGroupResponse(resp) => self.handle_join(resp, out),
            KafkaMsg::SyncGroupResponse(resp) => self.handle_sync(resp, out),
            KafkaMsg::HeartbeatResponse(resp) => self.handle_heartbeat(resp, out),
            KafkaMsg::OffsetCommitResponse(resp) => self.handle_commit(resp, out),
            KafkaMsg::OffsetFetchResponse(resp) => self.handle_offset_fetch(resp, out),
            _ => {}
        }
    }

    pub(crate) fn on_timer(&mut self, timer: Timer, out: ConsumerOut) {
        match timer {
            Timer::RequestTimeout(id) => {
                if self.metadata.timed_out(id) {
                    self.refresh_metadata(out);
                } else if let Some(p) = self.pending.remove(&id) {
                    self.request_failed(p, out);
                }
            }
            Timer::MetadataRefresh => {
                self.refresh_metadata(out);
                out.set_timer_ms(Timer::MetadataRefresh, self.config.metadata_max_age_ms);
            }
            Timer::FetchBackoff => self.send_requests(out),
            Timer::ConsumerHeartbeat => self.heartbeat_tick(out),
            Timer::CoordinatorRetry => self.coordinator_retry(out),
            Timer::PollTimeout => self.poll_timeout_expired(out),
            Timer::AutoCommit | Timer::ProcessRecord => self.app_timer(timer, out),
            _ => {}
        }
    }

    /// The connection to a broker was reset: every request on it is lost.
    pub(crate) fn on_disconnect(&mut self, peer: NodeId, out: ConsumerOut) {
        let lost: Vec<i32> = self
            .pending
            .iter()
            .filter(|(_, p)| p.node() == peer)
            .map(|(id, _)| *id)
            .collect();
        for id in lost {
            out.cancel_timer(Timer::RequestTimeout(id));
            if let Some(p) = self.pending.remove(&id) {
                self.request_failed(p, out);
            }
        }
        if self.metadata.disconnected(peer, out) {
            self.refresh_metadata(out);
        }
    }

    /// A request got no answer (timeout or reset connection).
    fn request_failed(&mut self, p: Pending, out: ConsumerOut) {
        match p {
            Pending::Fetch(_) | Pending::ListOffsets(..) => {
                self.refresh_metadata(out);
                out.set_timer_ms(Timer::FetchBackoff, self.config.retry_backoff_ms);
            }
            Pending::OffsetFetch(_, tps) => {
                for tp in tps {
                    self.awaiting_committed.remove(&tp);
                }
                self.coordinator_failed(Errors::RequestTimedOut, out);
            }
            Pending::FindCoordinator(_) => self.coordinator_failed(Errors::RequestTimedOut, out),
            Pending::JoinGroup(_) | Pending::SyncGroup(_) => {
                self.rebalance_request_failed(out);
            }
            Pending::Heartbeat(_) => {
                if let Some(g) = &mut self.group {
                    g.heartbeat_in_flight = false;
                }
                self.coordinator_failed(Errors::RequestTimedOut, out);
            }
            Pending::OffsetCommit(_) => self.commit_failed_to_send(out),
        }
    }

    pub(crate) fn on_input(&mut self, input: Input, out: ConsumerOut) {
        if let Input::Seek { tp, offset } = input {
            self.no_offset.remove(&tp);
            self.buffered.remove(&tp);
            self.positions.insert(tp, offset);
            self.send_requests(out);
        }
    }

    fn after_metadata(&mut self, out: ConsumerOut) {
        if self.group.as_ref().is_none_or(|g| !g.subscribed) {
            self.resolve_manual_assignment();
        }
        self.group_poll(out);
        self.send_requests(out);
    }

    /// `assign()`: the partitions named, or every partition of the topic.
    fn resolve_manual_assignment(&mut self) {
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

    /// Drops the fetch state of partitions no longer assigned.
    fn forget_partitions(&mut self, tps: &[TopicPartition]) {
        for tp in tps {
            self.positions.remove(tp);
            self.buffered.remove(tp);
            self.no_offset.remove(tp);
            self.awaiting_committed.remove(tp);
        }
        self.assignment.retain(|tp| !tps.contains(tp));
    }

    fn is_busy(&self, node: NodeId) -> bool {
        self.pending
            .values()
            .any(|p| matches!(p, Pending::Fetch(n) | Pending::ListOffsets(n, _) if *n == node))
    }

    fn resetting(&self, tp: &TopicPartition) -> bool {
        self.pending
            .values()
            .any(|p| matches!(p, Pending::ListOffsets(_, tps) if tps.contains(tp)))
    }

    /// Sends what is missing: OffsetFetch or ListOffsets for partitions without a position,
    /// then one fetch per leader broker that has none in flight. A partition whose fetched
    /// records still wait in the buffer is not fetched again (as Kafka's fetcher).
    fn send_requests(&mut self, out: ConsumerOut) {
        self.fetch_committed_offsets(out);
        let mut resets: BTreeMap<NodeId, Vec<TopicPartition>> = BTreeMap::new();
        let mut fetches: BTreeMap<NodeId, Vec<FetchPartition>> = BTreeMap::new();
        for tp in &self.assignment {
            if self.no_offset.contains(tp)
                || self.resetting(tp)
                || self.awaiting_committed.contains(tp)
                || self.buffered.get(tp).is_some_and(|b| !b.is_empty())
            {
                continue;
            }
            let Some(leader) = self.metadata.leader_node(&tp.topic, tp.partition) else {
                continue;
            };
            match self.positions.get(tp) {
                None => {
                    if self.group.as_ref().is_none_or(|g| g.committed_known(tp)) {
                        resets.entry(leader).or_default().push(tp.clone());
                    }
                }
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
        let msg = KafkaMsg::ListOffsets(ListOffsetsRequest {
            correlation_id: id,
            replica_id: CONSUMER_REPLICA_ID,
            partitions,
        });
        self.request(
            node,
            msg,
            Pending::ListOffsets(node, tps),
            self.config.request_timeout_ms,
            out,
        );
    }

    fn send_fetch(&mut self, node: NodeId, partitions: Vec<FetchPartition>, out: ConsumerOut) {
        let id = self.next_id();
        let msg = KafkaMsg::Fetch(FetchRequest {
            correlation_id: id,
            replica_id: CONSUMER_REPLICA_ID,
            max_wait_ms: self.config.fetch_max_wait_ms,
            min_bytes: self.config.fetch_min_bytes,
            max_bytes: self.config.fetch_max_bytes,
            partitions,
        });
        // Kafka's fetch deadline covers the long-poll wait plus the request timeout.
        let timeout = self.config.request_timeout_ms + self.config.fetch_max_wait_ms;
        self.request(node, msg, Pending::Fetch(node), timeout, out);
    }

    fn handle_list_offsets(&mut self, resp: ListOffsetsResponse, out: ConsumerOut) {
        if self.pending.remove(&resp.correlation_id).is_none() {
            return;
        }
        out.cancel_timer(Timer::RequestTimeout(resp.correlation_id));
        let mut failed = false;
        for p in resp.partitions {
            if !self.assignment.contains(&p.tp) {
                continue; // revoked meanwhile
            }
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
        self.app_poll(out);
    }

    /// Buffers a partition's fetched records for `poll()`; false on an error.
    fn apply_fetched(&mut self, data: FetchPartitionData, out: ConsumerOut) -> bool {
        let tp = data.tp;
        let Some(position) = self.positions.get(&tp).copied() else {
            return true; // reset or revoked meanwhile: drop the data, as Kafka does
        };
        if !self.assignment.contains(&tp) {
            return true;
        }
        match data.error {
            Errors::None => {}
            Errors::OffsetOutOfRange => {
                out.note(Note::FetchError {
                    tp: tp.clone(),
                    error: data.error,
                });
                self.positions.remove(&tp); // reset by auto.offset.reset
                self.buffered.remove(&tp);
                return true;
            }
            error => {
                out.note(Note::FetchError { tp, error });
                return false;
            }
        }
        let buffer = self.buffered.entry(tp.clone()).or_default();
        let was_empty = buffer.is_empty();
        let mut next = buffer.back().map_or(position, |(o, _)| o + 1);
        for batch in &data.batches {
            for r in batch.records.iter().filter(|r| r.offset >= next) {
                buffer.push_back((r.offset, r.value.clone()));
            }
            next = next.max(batch.next_offset());
        }
        if was_empty && !buffer.is_empty() {
            self.fetch_order.retain(|t| *t != tp);
            self.fetch_order.push_back(tp);
        }
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

    /// `poll()`'s data part: up to `max.poll.records` buffered records, partition by
    /// partition in the order their fetches completed, advancing positions. Records below a position (a seek back) are skipped.
    fn take_records(&mut self, out: ConsumerOut) -> Vec<(TopicPartition, i64, Option<Arc<str>>)> {
        let mut taken = Vec::new();
        let eager = group::rebalance_protocol(&self.config) == RebalanceProtocol::Eager;
        if self
            .group
            .as_ref()
            .is_some_and(|g| g.pending_revocation(eager))
        {
            return taken;
        }
        let max = self.config.max_poll_records as usize;
        let mut i = 0;
        while taken.len() < max && i < self.fetch_order.len() {
            let tp = self.fetch_order[i].clone();
            let Some(buffer) = self
                .buffered
                .get_mut(&tp)
                .filter(|_| self.assignment.contains(&tp))
            else {
                self.fetch_order.remove(i);
                continue;
            };
            let Some(position) = self.positions.get(&tp).copied() else {
                i += 1;
                continue;
            };
            let mut polled = Vec::new();
            let mut next = position;
            while taken.len() + polled.len() < max {
                let Some((offset, value)) = buffer.pop_front() else {
                    break;
                };
                if offset < position {
                    continue;
                }
                next = offset + 1;
                polled.push((offset, value));
            }
            if buffer.is_empty() {
                self.fetch_order.remove(i);
            } else {
                i += 1;
            }
            if polled.is_empty() {
                continue;
            }
            self.positions.insert(tp.clone(), next);
            out.note(Note::Polled {
                tp: tp.clone(),
                records: polled.clone(),
            });
            taken.extend(polled.into_iter().map(|(o, v)| (tp.clone(), o, v)));
        }
        if !taken.is_empty() {
            self.send_requests(out);
        }
        taken
    }

    /// Positions of every assigned partition that has one: what `commitSync()` commits.
    fn all_consumed(&self) -> Vec<(TopicPartition, i64)> {
        self.assignment
            .iter()
            .filter_map(|tp| Some((tp.clone(), *self.positions.get(tp)?)))
            .collect()
    }
}

/// The next correlation id (a free function so callers can hold other fields).
fn bump(counter: &mut i32) -> i32 {
    *counter = counter.wrapping_add(1);
    *counter
}

fn correlation_id(msg: &KafkaMsg) -> i32 {
    match msg {
        KafkaMsg::Fetch(r) => r.correlation_id,
        KafkaMsg::ListOffsets(r) => r.correlation_id,
        KafkaMsg::FindCoordinator(r) => r.correlation_id,
        KafkaMsg::JoinGroup(r) => r.correlation_id,
        KafkaMsg::SyncGroup(r) => r.correlation_id,
        KafkaMsg::Heartbeat(r) => r.correlation_id,
        KafkaMsg::OffsetCommit(r) => r.correlation_id,
        KafkaMsg::OffsetFetch(r) => r.correlation_id,
        KafkaMsg::LeaveGroup(r) => r.correlation_id,
        _ => 0,
    }
}
