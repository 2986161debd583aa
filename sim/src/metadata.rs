//! The cluster's layout: which brokers exist, which topics, which broker holds each partition.
//!
//! Until the controller exists (the replication issue), the layout is fixed when the run is
//! built and every broker knows all of it, like a KRaft metadata log that never changes. Replica
//! placement follows Kafka's rack-unaware assignment (`AdminUtils.assignReplicasToBrokers`): a
//! random start broker and a random shift, both drawn from the run's PRNG, then round-robin.

use crate::kernel::{NodeId, SimRng};
use crate::log::LogConfig;
use crate::protocol::{
    BrokerMetadata, Errors, MetadataResponse, PartitionMetadata, TopicMetadata, TopicPartition,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Debug, Serialize)]
pub struct PartitionLayout {
    pub replicas: Vec<i32>,
    pub leader: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TopicLayout {
    pub name: Arc<str>,
    pub partitions: Vec<PartitionLayout>,
    #[serde(skip)]
    pub config: LogConfig,
}

/// Brokers and topics of the cluster.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ClusterMetadata {
    pub brokers: Vec<BrokerMetadata>,
    pub topics: BTreeMap<Arc<str>, TopicLayout>,
}

impl ClusterMetadata {
    pub fn broker_node(&self, broker_id: i32) -> Option<NodeId> {
        self.brokers
            .iter()
            .find(|b| b.id == broker_id)
            .map(|b| b.node)
    }

    pub fn partition(&self, tp: &TopicPartition) -> Option<&PartitionLayout> {
        let topic = self.topics.get(&tp.topic)?;
        topic.partitions.get(usize::try_from(tp.partition).ok()?)
    }

    /// Every partition of every topic, in (topic, partition) order.
    pub fn all_partitions(&self) -> impl Iterator<Item = (TopicPartition, &PartitionLayout)> {
        self.topics.values().flat_map(|t| {
            t.partitions
                .iter()
                .enumerate()
                .map(|(p, layout)| (TopicPartition::new(t.name.clone(), p as i32), layout))
        })
    }

    /// A `MetadataResponse` for `topics` (all topics when `None`).
    pub fn response(&self, correlation_id: i32, topics: Option<&[Arc<str>]>) -> MetadataResponse {
        let names: Vec<Arc<str>> = match topics {
            Some(list) => list.to_vec(),
            None => self.topics.keys().cloned().collect(),
        };
        let topics = names
            .into_iter()
            .map(|name| match self.topics.get(&name) {
                Some(layout) => TopicMetadata {
                    error: Errors::None,
                    name,
                    partitions: layout
                        .partitions
                        .iter()
                        .enumerate()
                        .map(partition_meta)
                        .collect(),
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
            brokers: self.brokers.clone(),
            topics,
        }
    }
}

fn partition_meta((p, layout): (usize, &PartitionLayout)) -> PartitionMetadata {
    PartitionMetadata {
        error: Errors::None,
        partition: p as i32,
        leader: layout.leader,
        leader_epoch: layout.leader_epoch,
        replicas: layout.replicas.clone(),
        isr: layout.isr.clone(),
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
