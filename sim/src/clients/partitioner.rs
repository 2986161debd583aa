//! Choosing a partition for a record (Kafka's `KafkaProducer.partition` and
//! `BuiltInPartitioner`, KIP-794).
//!
//! In priority order: an explicit partition on the record; `partitioner.class`
//! (`RoundRobinPartitioner` cycles over available partitions, keys ignored); a keyed record
//! goes to `toPositive(murmur2(key)) % numPartitions` (counting *all* partitions, available or
//! not) unless `partitioner.ignore.keys` is set; anything else goes to the sticky partition.
//!
//! The sticky partition is kept until `batch.size` bytes were appended to it; the switch waits
//! while that partition's last batch is not yet full, but always happens at `2 × batch.size`.
//! That is why the accumulator reports each sticky append back through
//! [`Partitioner::on_sticky_append`]. The next partition is random among partitions with a
//! leader — or, in adaptive mode (`partitioner.adaptive.partitioning.enable`, the default),
//! weighted against the partitions' queue sizes so that a slow broker's partitions get less
//! new data: each partition weighs `maxQueue + 1 − queueSize`, and the choice is the first
//! entry of the cumulative weight table greater than `random % total`.

use super::config::{PartitionerClass, ProducerConfig};
use super::metadata::ClientMetadata;
use crate::kernel::SimRng;
use crate::utils::{partition_for_key, to_positive};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, Serialize)]
struct StickyPartition {
    partition: i32,
    produced_bytes: u64,
}

/// Kafka's `PartitionLoadStats`: a cumulative weight table over the partitions that have a
/// leader (and are not excluded by `partitioner.availability.timeout.ms`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartitionLoadStats {
    pub cumulative_weights: Vec<u64>,
    pub partition_ids: Vec<i32>,
}

impl PartitionLoadStats {
    /// Kafka's `updatePartitionLoadStats`: `queue_sizes` are `(partition, batches queued)`
    /// for the partitions eligible for new data. `None` (uniform choice) when every one of
    /// the topic's `num_partitions` partitions is eligible and all queues are equal, or when
    /// nothing is eligible.
    pub fn from_queue_sizes(queue_sizes: &[(i32, u64)], num_partitions: usize) -> Option<Self> {
        let max = queue_sizes.iter().map(|(_, q)| *q).max()?;
        let all_equal = queue_sizes.iter().all(|(_, q)| *q == max);
        if all_equal && queue_sizes.len() == num_partitions {
            return None;
        }
        let max_plus_1 = max + 1;
        let mut total = 0;
        let cumulative_weights = queue_sizes
            .iter()
            .map(|(_, q)| {
                total += max_plus_1 - q;
                total
            })
            .collect();
        Some(PartitionLoadStats {
            cumulative_weights,
            partition_ids: queue_sizes.iter().map(|(p, _)| *p).collect(),
        })
    }

    /// The partition for a non-negative random number: the first entry of the cumulative
    /// table greater than `random % total` (Kafka's binary search, `abs(result + 1)`).
    pub fn choose(&self, random: u64) -> i32 {
        let total = self.cumulative_weights.last().copied().unwrap_or(1).max(1);
        let weighted = random % total;
        let index = self
            .cumulative_weights
            .partition_point(|w| *w <= weighted)
            .min(self.partition_ids.len() - 1);
        self.partition_ids[index]
    }
}

/// Per-topic partitioner state of one producer.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Partitioner {
    sticky: BTreeMap<Arc<str>, StickyPartition>,
    load_stats: BTreeMap<Arc<str>, PartitionLoadStats>,
    round_robin: BTreeMap<Arc<str>, i32>,
}

/// Where a record goes, and whether the sticky partitioner chose it (then the accumulator
/// reports the append back with [`Partitioner::on_sticky_append`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    pub partition: i32,
    pub sticky: bool,
}

impl Partitioner {
    /// The partition for a record with `key` (or the explicit `partition`), or `None` while
    /// the topic's partition count is unknown.
    pub fn partition(
        &mut self,
        config: &ProducerConfig,
        topic: &Arc<str>,
        key: Option<&str>,
        explicit: Option<i32>,
        metadata: &ClientMetadata,
        rng: &mut SimRng,
    ) -> Option<Choice> {
        let num_partitions = metadata.partition_count(topic).filter(|n| *n > 0)?;
        let fixed = |partition| {
            Some(Choice {
                partition,
                sticky: false,
            })
        };
        if let Some(p) = explicit {
            return fixed(p);
        }
        if config.partitioner_class == PartitionerClass::RoundRobin {
            return fixed(self.round_robin(topic, num_partitions, metadata));
        }
        if let Some(key) = key
            && !config.partitioner_ignore_keys
        {
            return fixed(partition_for_key(key.as_bytes(), num_partitions));
        }
        let partition = match self.sticky.get(topic) {
            Some(s) => s.partition,
            None => self.switch_sticky(topic, num_partitions, metadata, rng),
        };
        Some(Choice {
            partition,
            sticky: true,
        })
    }

    /// Kafka's `updatePartitionInfo`: `appended_bytes` went to the sticky partition; switch
    /// once `batch.size` bytes went there and `enable_switch` (its last batch is full), or
    /// unconditionally at twice that.
    pub fn on_sticky_append(
        &mut self,
        config: &ProducerConfig,
        topic: &Arc<str>,
        appended_bytes: u64,
        enable_switch: bool,
        metadata: &ClientMetadata,
        rng: &mut SimRng,
    ) {
        let Some(state) = self.sticky.get_mut(topic) else {
            return;
        };
        state.produced_bytes += appended_bytes;
        let produced = state.produced_bytes;
        let limit = config.batch_size;
        if produced >= limit.saturating_mul(2) || (produced >= limit && enable_switch) {
            let num_partitions = metadata.partition_count(topic).unwrap_or(0).max(1);
            self.switch_sticky(topic, num_partitions, metadata, rng);
        }
    }

    /// Picks the next sticky partition of `topic` and restarts its byte count.
    fn switch_sticky(
        &mut self,
        topic: &Arc<str>,
        num_partitions: i32,
        metadata: &ClientMetadata,
        rng: &mut SimRng,
    ) -> i32 {
        let partition = self.next_partition(topic, num_partitions, metadata, rng);
        let state = StickyPartition {
            partition,
            produced_bytes: 0,
        };
        self.sticky.insert(topic.clone(), state);
        partition
    }

    /// Adaptive mode: the accumulator's view of the queues (see
    /// [`PartitionLoadStats::from_queue_sizes`]); `None` returns to the uniform choice.
    pub fn update_load_stats(&mut self, topic: &Arc<str>, stats: Option<PartitionLoadStats>) {
        match stats {
            Some(stats) => {
                self.load_stats.insert(topic.clone(), stats);
            }
            None => {
                self.load_stats.remove(topic);
            }
        }
    }

    /// The current sticky partition of `topic`, if one was chosen.
    pub fn sticky_partition(&self, topic: &str) -> Option<i32> {
        self.sticky.get(topic).map(|s| s.partition)
    }

    /// Kafka's `BuiltInPartitioner.nextPartition`.
    fn next_partition(
        &self,
        topic: &str,
        num_partitions: i32,
        metadata: &ClientMetadata,
        rng: &mut SimRng,
    ) -> i32 {
        // Kafka: `Utils.toPositive(ThreadLocalRandom.current().nextInt())`.
        let random = to_positive(rng.next_u32() as i32) as u64;
        if let Some(stats) = self.load_stats.get(topic) {
            return stats.choose(random);
        }
        let available = metadata.available_partitions(topic);
        if available.is_empty() {
            (random % num_partitions.max(1) as u64) as i32
        } else {
            available[(random % available.len() as u64) as usize]
        }
    }

    fn round_robin(&mut self, topic: &Arc<str>, num_partitions: i32, meta: &ClientMetadata) -> i32 {
        let counter = self.round_robin.entry(topic.clone()).or_insert(0);
        let next = *counter;
        *counter = counter.wrapping_add(1);
        let available = meta.available_partitions(topic);
        if available.is_empty() {
            to_positive(next) % num_partitions
        } else {
            available[(to_positive(next) as usize) % available.len()]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's rule: weight `maxQueue + 1 − queueSize`, cumulative, first entry greater
    /// than `random % total`.
    #[test]
    fn adaptive_weights_follow_the_cumulative_rule() {
        // Queues 0, 3, 1 batches: max+1 = 4, weights 4, 1, 3, cumulative 4, 5, 8.
        let stats = PartitionLoadStats::from_queue_sizes(&[(0, 0), (1, 3), (2, 1)], 3)
            .expect("unequal queues give a table");
        assert_eq!(stats.cumulative_weights, vec![4, 5, 8]);
        assert_eq!(stats.partition_ids, vec![0, 1, 2]);
        let picks: Vec<i32> = (0..8).map(|r| stats.choose(r)).collect();
        // 0..3 → p0, 4 → p1, 5..7 → p2; and the table wraps modulo the total.
        assert_eq!(picks, vec![0, 0, 0, 0, 1, 2, 2, 2]);
        assert_eq!(stats.choose(8 + 4), 1);
        // Over a full cycle of randoms each partition gets exactly its weight.
        let mut counts = BTreeMap::new();
        for r in 0..800 {
            *counts.entry(stats.choose(r)).or_insert(0) += 1;
        }
        assert_eq!(counts, BTreeMap::from([(0, 400), (1, 100), (2, 300)]));
    }

    #[test]
    fn equal_queues_over_all_partitions_are_uniform() {
        assert_eq!(
            PartitionLoadStats::from_queue_sizes(&[(0, 2), (1, 2), (2, 2)], 3),
            None
        );
        // Equal queues but a partition missing (no leader): a table over the rest.
        let stats = PartitionLoadStats::from_queue_sizes(&[(0, 2), (2, 2)], 3).expect("table");
        assert_eq!(stats.cumulative_weights, vec![1, 2]);
        assert_eq!((stats.choose(0), stats.choose(1)), (0, 2));
        assert_eq!(PartitionLoadStats::from_queue_sizes(&[], 3), None);
    }

    #[test]
    fn sticky_switches_at_batch_size_when_the_batch_is_full_and_always_at_twice() {
        use crate::protocol::{
            BrokerMetadata, Errors, MetadataResponse, PartitionMetadata, TopicMetadata,
        };
        let mut meta = ClientMetadata::new(Vec::new());
        let resp = MetadataResponse {
            correlation_id: 0,
            brokers: vec![BrokerMetadata {
                id: 0,
                node: crate::kernel::NodeId(0),
            }],
            topics: vec![TopicMetadata {
                error: Errors::None,
                name: Arc::from("t"),
                partitions: (0..4)
                    .map(|p| PartitionMetadata {
                        error: Errors::None,
                        partition: p,
                        leader: 0,
                        leader_epoch: 0,
                        replicas: vec![0],
                        isr: vec![0],
                    })
                    .collect(),
            }],
        };
        meta.apply_for_test(&resp);
        let mut config = ProducerConfig::default();
        config.set("batch.size", "100").expect("valid");
        let topic: Arc<str> = Arc::from("t");
        let mut rng = SimRng::new(7);
        let mut p = Partitioner::default();
        let first = p
            .partition(&config, &topic, None, None, &meta, &mut rng)
            .expect("metadata known");
        assert!(first.sticky);
        // 150 bytes with the batch not full: stay.
        p.on_sticky_append(&config, &topic, 150, false, &meta, &mut rng);
        assert_eq!(p.sticky_partition("t"), Some(first.partition));
        // Reaching 2 x batch.size switches (a new choice, which may repeat the partition,
        // but the byte count restarts).
        p.on_sticky_append(&config, &topic, 50, false, &meta, &mut rng);
        assert_eq!(p.sticky["t"].produced_bytes, 0);
        // batch.size reached and the batch full: switch.
        p.on_sticky_append(&config, &topic, 100, true, &meta, &mut rng);
        assert_eq!(p.sticky["t"].produced_bytes, 0);
        // Keys bypass the sticky partition; an explicit partition wins over everything.
        let keyed = p.partition(&config, &topic, Some("21"), None, &meta, &mut rng);
        assert_eq!(
            keyed.map(|c| (c.partition, c.sticky)),
            Some((partition_for_key(b"21", 4), false))
        );
        let explicit = p.partition(&config, &topic, Some("21"), Some(3), &meta, &mut rng);
        assert_eq!(explicit.map(|c| c.partition), Some(3));
    }
}
