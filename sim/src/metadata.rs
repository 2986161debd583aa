//! The metadata image: what a node knows of the cluster — brokers, topics, and each
//! partition's replicas, leader, ISR and epochs.
//!
//! In KRaft every node builds this image by replaying the `__cluster_metadata` log
//! ([`MetadataRecord`]s). The controller's image is the truth; a broker's image is as fresh as
//! the records it has fetched, so a broker cut off from the controller keeps acting on what it
//! last knew. Clients get their view from whichever broker answers their Metadata request.
//!
//! Replica placement for new topics follows Kafka's rack-unaware assignment
//! (`AdminUtils.assignReplicasToBrokers`): a random start broker and a random shift, both drawn
//! from the run's PRNG, then round-robin.

use crate::kernel::{NodeId, SimRng};
use crate::protocol::{
    BrokerMetadata, Errors, MetadataRecord, MetadataResponse, NO_LEADER, PartitionMetadata,
    PartitionRecord, TopicMetadata, TopicPartition,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A broker as the metadata log describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BrokerRegistration {
    pub id: i32,
    /// The offset of its registration record; a restarted broker gets a new one.
    pub epoch: i64,
    pub node: NodeId,
    /// A fenced broker cannot lead or join an ISR, and clients are not told about it.
    pub fenced: bool,
}

/// The cluster as of one offset of the metadata log.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MetadataImage {
    /// The offset of the next record to apply (records applied so far).
    pub offset: i64,
    pub brokers: BTreeMap<i32, BrokerRegistration>,
    pub topics: BTreeMap<Arc<str>, Vec<PartitionRecord>>,
    /// Where the next producer-id block starts (Kafka's `ProducerIdControlManager`).
    pub next_producer_id: i64,
}

impl MetadataImage {
    /// Applies the record at `self.offset`.
    pub fn apply(&mut self, record: &MetadataRecord) {
        match record {
            MetadataRecord::RegisterBroker {
                broker_id,
                broker_epoch,
                node,
            } => {
                self.brokers.insert(
                    *broker_id,
                    BrokerRegistration {
                        id: *broker_id,
                        epoch: *broker_epoch,
                        node: *node,
                        fenced: true,
                    },
                );
            }
            MetadataRecord::BrokerFencing {
                broker_id,
                broker_epoch,
                fenced,
            } => {
                if let Some(b) = self.brokers.get_mut(broker_id)
                    && b.epoch == *broker_epoch
                {
                    b.fenced = *fenced;
                }
            }
            MetadataRecord::Topic { name, .. } => {
                self.topics.entry(name.clone()).or_default();
            }
            MetadataRecord::Partition(p) => {
                let parts = self.topics.entry(p.tp.topic.clone()).or_default();
                let index = p.tp.partition.max(0) as usize;
                if parts.len() <= index {
                    parts.resize_with(index + 1, || placeholder(&p.tp));
                }
                parts[index] = p.clone();
            }
            MetadataRecord::ProducerIds {
                next_producer_id, ..
            } => self.next_producer_id = *next_producer_id,
        }
        self.offset += 1;
    }

    pub fn broker_node(&self, broker_id: i32) -> Option<NodeId> {
        self.brokers.get(&broker_id).map(|b| b.node)
    }

    /// The ids of registered, unfenced brokers, in id order.
    pub fn unfenced_brokers(&self) -> Vec<i32> {
        self.brokers
            .values()
            .filter(|b| !b.fenced)
            .map(|b| b.id)
            .collect()
    }

    /// Registered and not fenced: may lead, may join an ISR.
    pub fn is_active(&self, broker_id: i32) -> bool {
        self.brokers.get(&broker_id).is_some_and(|b| !b.fenced)
    }

    pub fn partition(&self, tp: &TopicPartition) -> Option<&PartitionRecord> {
        self.topics
            .get(&tp.topic)?
            .get(usize::try_from(tp.partition).ok()?)
    }

    /// Every partition of every topic, in (topic, partition) order.
    pub fn all_partitions(&self) -> impl Iterator<Item = &PartitionRecord> {
        self.topics.values().flatten()
    }

    /// A `MetadataResponse` for `topics` (all topics when `None`): only unfenced brokers are
    /// listed, as in KRaft's `getAliveBrokerNodes`.
    pub fn response(&self, correlation_id: i32, topics: Option<&[Arc<str>]>) -> MetadataResponse {
        let names: Vec<Arc<str>> = match topics {
            Some(list) => list.to_vec(),
            None => self.topics.keys().cloned().collect(),
        };
        let topics = names
            .into_iter()
            .map(|name| match self.topics.get(&name) {
                Some(parts) => TopicMetadata {
                    error: Errors::None,
                    name,
                    partitions: parts.iter().map(|p| self.partition_meta(p)).collect(),
                },
                None => TopicMetadata {
                    error: Errors::UnknownTopicOrPartition,
                    name,
                    partitions: Vec::new(),
                },
            })
            .collect();
        MetadataResponse {
            correlation_id,
            brokers: self
                .brokers
                .values()
                .filter(|b| !b.fenced)
                .map(|b| BrokerMetadata {
                    id: b.id,
                    node: b.node,
                })
                .collect(),
            topics,
        }
    }

    fn partition_meta(&self, p: &PartitionRecord) -> PartitionMetadata {
        // Kafka answers LEADER_NOT_AVAILABLE for a partition without a leader.
        let error = if p.leader == NO_LEADER {
            Errors::LeaderNotAvailable
        } else {
            Errors::None
        };
        PartitionMetadata {
            error,
            partition: p.tp.partition,
            leader: p.leader,
            leader_epoch: p.leader_epoch,
            replicas: p.replicas.clone(),
            isr: p.isr.clone(),
        }
    }
}

fn placeholder(tp: &TopicPartition) -> PartitionRecord {
    PartitionRecord {
        tp: tp.clone(),
        replicas: Vec::new(),
        isr: Vec::new(),
        leader: NO_LEADER,
        leader_epoch: 0,
        partition_epoch: 0,
        leader_recovery_state: crate::protocol::LeaderRecoveryState::Recovered,
    }
}

/// Kafka's rack-unaware replica assignment for `partitions` partitions with
/// `replication_factor` replicas over `brokers` (ids in ascending order).
pub fn assign_replicas(
    brokers: &[i32],
    partitions: i32,
    replication_factor: usize,
    rng: &mut SimRng,
) -> Vec<Vec<i32>> {
    let n = brokers.len();
    if n == 0 {
        return Vec::new();
    }
    let start_index = rng.below(n as u64) as usize;
    let mut shift = rng.below(n as u64) as usize;
    (0..partitions.max(0) as usize)
        .map(|p| {
            if p > 0 && p % n == 0 {
                shift += 1;
            }
            let first = (p + start_index) % n;
            let mut replicas = vec![brokers[first]];
            for j in 0..replication_factor.saturating_sub(1) {
                replicas.push(brokers[replica_index(first, shift, j, n)]);
            }
            replicas
        })
        .collect()
}

/// `AdminUtils.replicaIndex`: the j-th follower after the first replica, skipping it.
fn replica_index(first: usize, shift: usize, j: usize, n: usize) -> usize {
    if n <= 1 {
        return first;
    }
    let shift = 1 + (shift + j) % (n - 1);
    (first + shift) % n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_spreads_leaders_round_robin() {
        let mut rng = SimRng::new(1);
        let assignment = assign_replicas(&[1, 2, 3], 6, 3, &mut rng);
        let mut leaders = [0; 4];
        for replicas in &assignment {
            assert_eq!(replicas.len(), 3);
            let mut sorted = replicas.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), 3, "replicas of a partition are distinct");
            leaders[replicas[0] as usize] += 1;
        }
        assert_eq!(&leaders[1..], &[2, 2, 2]);
    }
}
