//! Choosing a partition for a record (Kafka's `KafkaProducer.partition` and
//! `BuiltInPartitioner`).
//!
//! In priority order: a keyed record goes to `toPositive(murmur2(key)) % numPartitions`
//! (counting *all* partitions, available or not), unless `partitioner.ignore.keys` is set; a
//! record without a key uses the KIP-794 sticky partitioner: it stays on one partition until
//! `batch.size` bytes went there, then picks another at random among partitions with a
//! leader. `partitioner.class=RoundRobinPartitioner` instead cycles over available partitions
//! for every record, keys ignored.

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

/// Per-topic partitioner state of one producer.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Partitioner {
    sticky: BTreeMap<Arc<str>, StickyPartition>,
    round_robin: BTreeMap<Arc<str>, i32>,
}

impl Partitioner {
    /// The partition for a record of `record_bytes` bytes with `key`, or `None` while the
    /// topic's partition count is unknown.
    pub fn partition(
        &mut self,
        config: &ProducerConfig,
        topic: &Arc<str>,
        key: Option<&str>,
        record_bytes: u64,
        metadata: &ClientMetadata,
        rng: &mut SimRng,
    ) -> Option<i32> {
        let num_partitions = metadata.partition_count(topic).filter(|n| *n > 0)?;
        if config.partitioner_class == PartitionerClass::RoundRobin {
            return Some(self.round_robin(topic, num_partitions, metadata));
        }
        if let Some(key) = key
            && !config.partitioner_ignore_keys
        {
            return Some(partition_for_key(key.as_bytes(), num_partitions));
        }
        Some(self.sticky(config, topic, num_partitions, record_bytes, metadata, rng))
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

    fn sticky(
        &mut self,
        config: &ProducerConfig,
        topic: &Arc<str>,
        num_partitions: i32,
        record_bytes: u64,
        metadata: &ClientMetadata,
        rng: &mut SimRng,
    ) -> i32 {
        let current = match self.sticky.get(topic) {
            Some(s) if s.produced_bytes < config.batch_size => *s,
            _ => StickyPartition {
                partition: next_sticky_partition(topic, num_partitions, metadata, rng),
                produced_bytes: 0,
            },
        };
        // Simplification: Kafka defers the switch while the partition's open batch is not yet
        // full (up to 2 x batch.size); this producer sends records one by one, so it switches
        // as soon as batch.size bytes went to the partition.
        self.sticky.insert(
            topic.clone(),
            StickyPartition {
                partition: current.partition,
                produced_bytes: current.produced_bytes + record_bytes,
            },
        );
        current.partition
    }
}

/// `BuiltInPartitioner.nextPartition`: a random partition with a leader (it may repeat the
/// previous one), or a random partition of all when none has a leader.
fn next_sticky_partition(
    topic: &str,
    num_partitions: i32,
    metadata: &ClientMetadata,
    rng: &mut SimRng,
) -> i32 {
    let available = metadata.available_partitions(topic);
    match available.len() {
        0 => rng.below(num_partitions as u64) as i32,
        1 => available[0],
        n => available[rng.below(n as u64) as usize],
    }
}
