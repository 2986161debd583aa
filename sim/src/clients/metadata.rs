//! The client's metadata cache (Kafka's `Metadata` / `MetadataCache` on the client side).
//!
//! A client starts from its bootstrap brokers, asks one of them for metadata, and from then on
//! routes each partition's requests to the leader the cache names. It refreshes every
//! `metadata.max.age.ms`, and at once after errors such as `NOT_LEADER_OR_FOLLOWER`; a metadata
//! request that times out is retried against the next known broker.

use crate::kernel::{NodeId, Out};
use crate::node::{KafkaNode, Note, Timer};
use crate::protocol::{KafkaMsg, MetadataRequest, MetadataResponse, NO_LEADER, PartitionMetadata};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Debug, Default, Serialize)]
pub struct ClientMetadata {
    bootstrap: Vec<NodeId>,
    brokers: BTreeMap<i32, NodeId>,
    topics: BTreeMap<Arc<str>, Vec<PartitionMetadata>>,
    /// Correlation id and destination of the metadata request in flight, if any.
    in_flight: Option<(i32, NodeId)>,
    /// Rotates through candidate nodes so a dead broker is not asked forever.
    attempts: usize,
    updated: bool,
}

impl ClientMetadata {
    pub fn new(bootstrap: Vec<NodeId>) -> Self {
        ClientMetadata {
            bootstrap,
            ..Self::default()
        }
    }

    /// Forgets everything learned (a restarted client starts from its bootstrap list).
    pub fn reset(&mut self) {
        *self = ClientMetadata::new(std::mem::take(&mut self.bootstrap));
    }

    /// Whether any metadata response has been received.
    pub fn is_ready(&self) -> bool {
        self.updated
    }

    pub fn in_flight(&self) -> Option<i32> {
        self.in_flight.map(|(id, _)| id)
    }

    pub fn partitions(&self, topic: &str) -> Option<&[PartitionMetadata]> {
        self.topics.get(topic).map(Vec::as_slice)
    }

    pub fn partition_count(&self, topic: &str) -> Option<i32> {
        self.partitions(topic).map(|p| p.len() as i32)
    }

    /// The node hosting the leader of `topic`-`partition`, if known.
    pub fn leader_node(&self, topic: &str, partition: i32) -> Option<NodeId> {
        let p = self
            .partitions(topic)?
            .get(usize::try_from(partition).ok()?)?;
        if p.leader == NO_LEADER {
            return None;
        }
        self.brokers.get(&p.leader).copied()
    }

    /// The broker id leading `topic`-`partition`, if known.
    pub fn leader_id(&self, topic: &str, partition: i32) -> Option<i32> {
        let p = self
            .partitions(topic)?
            .get(usize::try_from(partition).ok()?)?;
        (p.leader != NO_LEADER).then_some(p.leader)
    }

    /// The node of broker `id`, if known.
    pub fn broker_node(&self, id: i32) -> Option<NodeId> {
        self.brokers.get(&id).copied()
    }

    /// Every node the client could talk to: the known brokers, else the bootstrap list.
    pub fn nodes(&self) -> Vec<NodeId> {
        if self.brokers.is_empty() {
            self.bootstrap.clone()
        } else {
            self.brokers.values().copied().collect()
        }
    }

    /// The leader epoch of `topic`-`partition` as last seen.
    pub fn leader_epoch(&self, topic: &str, partition: i32) -> Option<i32> {
        let p = self
            .partitions(topic)?
            .get(usize::try_from(partition).ok()?)?;
        Some(p.leader_epoch)
    }

    /// Partitions of `topic` that have a leader, in partition order.
    pub fn available_partitions(&self, topic: &str) -> Vec<i32> {
        self.partitions(topic)
            .map(|ps| {
                ps.iter()
                    .filter(|p| p.leader != NO_LEADER)
                    .map(|p| p.partition)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sends a metadata request unless one is already in flight. `correlation_id` is the
    /// caller's next id; the caller arms `Timer::RequestTimeout` for it.
    pub fn request(
        &mut self,
        correlation_id: i32,
        topics: Option<Vec<Arc<str>>>,
        timeout_ms: i64,
        out: &mut Out<'_, KafkaNode>,
    ) -> bool {
        if self.in_flight.is_some() {
            return false;
        }
        let candidates: Vec<NodeId> = self
            .bootstrap
            .iter()
            .copied()
            .chain(self.brokers.values().copied())
            .collect();
        let Some(node) = candidates.get(self.attempts % candidates.len().max(1)) else {
            return false;
        };
        self.attempts += 1;
        self.in_flight = Some((correlation_id, *node));
        out.send(
            *node,
            KafkaMsg::Metadata(MetadataRequest {
                correlation_id,
                topics,
            }),
        );
        out.set_timer_ms(Timer::RequestTimeout(correlation_id), timeout_ms);
        true
    }

    /// Applies a response; false if it answers no request of ours.
    pub fn update(&mut self, resp: &MetadataResponse, out: &mut Out<'_, KafkaNode>) -> bool {
        if self.in_flight() != Some(resp.correlation_id) {
            return false;
        }
        out.cancel_timer(Timer::RequestTimeout(resp.correlation_id));
        self.in_flight = None;
        self.brokers = resp.brokers.iter().map(|b| (b.id, b.node)).collect();
        for topic in resp.topics.iter().filter(|t| t.error.is_ok()) {
            self.topics
                .insert(topic.name.clone(), topic.partitions.clone());
        }
        self.updated = true;
        out.note(Note::MetadataUpdated {
            topics: self.topics.len(),
        });
        true
    }

    /// Unit tests: take a response as if it answered our request.
    #[cfg(test)]
    pub(crate) fn apply_for_test(&mut self, resp: &MetadataResponse) {
        self.brokers = resp.brokers.iter().map(|b| (b.id, b.node)).collect();
        for topic in &resp.topics {
            self.topics
                .insert(topic.name.clone(), topic.partitions.clone());
        }
        self.updated = true;
    }

    /// The request `correlation_id` timed out; true if it was the metadata request.
    pub fn timed_out(&mut self, correlation_id: i32) -> bool {
        if self.in_flight() == Some(correlation_id) {
            self.in_flight = None;
            return true;
        }
        false
    }

    /// The connection to `peer` was reset; true if our metadata request was lost with it
    /// (the caller cancels its timeout and asks another node).
    pub fn disconnected(&mut self, peer: NodeId, out: &mut Out<'_, KafkaNode>) -> bool {
        match self.in_flight {
            Some((id, node)) if node == peer => {
                out.cancel_timer(Timer::RequestTimeout(id));
                self.in_flight = None;
                true
            }
            _ => false,
        }
    }
}
