//! `AbstractStickyAssignor.PartitionMovements`: the general sticky algorithm's memory of which
//! partitions it has moved between which members during one rebalance.
//!
//! Why it matters for the result: before moving partition `p` of topic `t` from member A to
//! member B, the algorithm looks for a partition of `t` that it already moved from B to A in
//! this rebalance and moves that one back instead, so that no partition ping-pongs. When
//! several qualify it takes the first of a Java `HashSet<TopicPartition>` — so the set is a
//! [`JavaHashSet`] and the pick follows `TopicPartition.hashCode`. Kafka's `isSticky` cycle
//! check only logs; it is not modelled.

use super::java_map::JavaHashSet;
use crate::protocol::TopicPartition;
use std::collections::BTreeMap;
use std::sync::Arc;

/// `ConsumerPair`: a partition moved from `src` to `dst`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ConsumerPair {
    src: Arc<str>,
    dst: Arc<str>,
}

#[derive(Debug, Default)]
pub(super) struct PartitionMovements {
    /// `partitionMovementsByTopic`. Only looked up, never walked, so a `BTreeMap` is exact.
    by_topic: BTreeMap<Arc<str>, BTreeMap<ConsumerPair, JavaHashSet<TopicPartition>>>,
    /// `partitionMovements`: each moved partition's net movement.
    movements: BTreeMap<TopicPartition, ConsumerPair>,
}

impl PartitionMovements {
    /// `getTheActualPartitionToBeMoved`: the partition to move instead of `partition` when
    /// going from `old_consumer` to `new_consumer`.
    pub fn actual_partition_to_move(
        &self,
        partition: &TopicPartition,
        old_consumer: &Arc<str>,
        new_consumer: &Arc<str>,
    ) -> TopicPartition {
        let Some(for_topic) = self.by_topic.get(&partition.topic) else {
            return partition.clone();
        };
        // A partition that moved before counts from where it started.
        let old_consumer = self
            .movements
            .get(partition)
            .map_or(old_consumer, |pair| &pair.src);
        let reverse = ConsumerPair {
            src: new_consumer.clone(),
            dst: old_consumer.clone(),
        };
        for_topic
            .get(&reverse)
            .and_then(JavaHashSet::first)
            .cloned()
            .unwrap_or_else(|| partition.clone())
    }

    /// `movePartition`: records the move, collapsing A→B→C into A→C and A→B→A into nothing.
    pub fn move_partition(&mut self, partition: &TopicPartition, old: &Arc<str>, new: &Arc<str>) {
        match self.remove_record(partition) {
            Some(existing) => {
                debug_assert_eq!(&existing.dst, old, "{partition} moves from where it is");
                if existing.src != *new {
                    let pair = ConsumerPair {
                        src: existing.src,
                        dst: new.clone(),
                    };
                    self.add_record(partition, pair);
                }
            }
            None => {
                let pair = ConsumerPair {
                    src: old.clone(),
                    dst: new.clone(),
                };
                self.add_record(partition, pair);
            }
        }
    }

    /// `removeMovementRecordOfPartition`, dropping sets and topics that become empty.
    fn remove_record(&mut self, partition: &TopicPartition) -> Option<ConsumerPair> {
        let pair = self.movements.remove(partition)?;
        if let Some(for_topic) = self.by_topic.get_mut(&partition.topic) {
            if let Some(set) = for_topic.get_mut(&pair) {
                set.remove(partition);
                if set.is_empty() {
                    for_topic.remove(&pair);
                }
            }
            if for_topic.is_empty() {
                self.by_topic.remove(&partition.topic);
            }
        }
        Some(pair)
    }

    /// `addPartitionMovementRecord`.
    fn add_record(&mut self, partition: &TopicPartition, pair: ConsumerPair) {
        self.movements.insert(partition.clone(), pair.clone());
        self.by_topic
            .entry(partition.topic.clone())
            .or_default()
            .entry(pair)
            .or_default()
            .insert(partition.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_move_back_is_preferred_and_round_trips_cancel() {
        let (a, b): (Arc<str>, Arc<str>) = ("A".into(), "B".into());
        let p0 = TopicPartition::new("t", 0);
        let p1 = TopicPartition::new("t", 1);
        let mut m = PartitionMovements::default();
        assert_eq!(m.actual_partition_to_move(&p1, &a, &b), p1);
        m.move_partition(&p0, &b, &a);
        // Moving p1 from A to B: p0 went B -> A in this rebalance, so it goes back instead.
        assert_eq!(m.actual_partition_to_move(&p1, &a, &b), p0);
        m.move_partition(&p0, &a, &b);
        assert!(m.movements.is_empty() && m.by_topic.is_empty());
    }
}
