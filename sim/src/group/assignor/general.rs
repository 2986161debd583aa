//! `AbstractStickyAssignor.GeneralAssignmentBuilder` without racks: the sticky algorithm when
//! members subscribe to different topics.
//!
//! 1. Keep each member's valid owned partitions (those of topics it still subscribes to).
//! 2. Give every unassigned partition — topics with fewer potential consumers first, then by
//!    name and partition — to the subscribed member with the fewest partitions (ties: the
//!    smaller member id).
//! 3. Move partitions from a member to one with at least two fewer, preferring a partition's
//!    previous owner (from an older generation) and moves that undo an earlier move, until
//!    balanced ([`super::movements`]).
//! 4. Keep the moves only if they lower the balance score (sum of pairwise size differences),
//!    unless the group started empty.
//!
//! Kafka keeps the working assignment in `HashMap`s; the only walks whose order could show
//! (building `partition -> consumer` maps) cannot see a partition twice, so `BTreeMap`s give
//! the same answer. The walk over `subscriptions` that fills `prevAssignment` keeps the
//! `HashMap` order, because the first of two equal-generation claims wins there. Where Kafka
//! would throw a `NullPointerException` on states valid input cannot reach (a partition
//! without a consumer, a member removed as fixed), the model skips the step instead.

use super::movements::PartitionMovements;
use super::sticky::{Claims, all_partitions_sorted, member_generation, unassigned_partitions};
use super::{JavaString, LeaderView, java_compare, remove_first};
use crate::protocol::TopicPartition;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

type Assignment = BTreeMap<Arc<str>, Vec<TopicPartition>>;

pub(super) fn assign(view: &LeaderView<'_>, claims: &Claims) -> Assignment {
    let mut builder = General::new(view, claims);
    let previous = builder.previous_assignment(claims.max_generation);
    let assigned = builder.keep_owned_partitions();
    let unassigned = builder.unassigned(assigned);
    let keys: Vec<Arc<str>> = builder.current.keys().cloned().collect();
    for consumer in &keys {
        builder.relist(consumer);
    }
    builder.balance(&previous, unassigned);
    builder.current
}

struct General<'a> {
    view: &'a LeaderView<'a>,
    counts: BTreeMap<Arc<str>, i32>,
    total_partitions: usize,
    /// `topic2AllPotentialConsumers` (a member listing a topic twice counts twice, as in Kafka).
    topic_consumers: BTreeMap<Arc<str>, Vec<Arc<str>>>,
    /// `consumer2AllPotentialTopics`.
    consumer_topics: BTreeMap<Arc<str>, Vec<Arc<str>>>,
    /// `currentAssignment`.
    current: Assignment,
    /// `currentPartitionConsumer`.
    partition_consumer: BTreeMap<TopicPartition, Arc<str>>,
    /// `sortedAllPartitions`: by (potential consumers, topic), then partition.
    sorted_all: Vec<TopicPartition>,
    /// `sortedCurrentSubscriptions`: members by (partition count, member id).
    by_size: BTreeSet<(usize, JavaString)>,
    revocation_required: bool,
    movements: PartitionMovements,
}

impl<'a> General<'a> {
    fn new(view: &'a LeaderView<'a>, claims: &Claims) -> Self {
        let counts: BTreeMap<Arc<str>, i32> = view.topics.iter().cloned().collect();
        let mut topic_consumers: BTreeMap<Arc<str>, Vec<Arc<str>>> =
            counts.keys().map(|t| (t.clone(), Vec::new())).collect();
        let mut consumer_topics = BTreeMap::new();
        for m in &view.members {
            let topics: Vec<Arc<str>> = m
                .subscription
                .topics
                .iter()
                .filter(|t| counts.contains_key(*t))
                .cloned()
                .collect();
            for t in &topics {
                if let Some(list) = topic_consumers.get_mut(t) {
                    list.push(m.member_id.clone());
                }
            }
            consumer_topics.insert(m.member_id.clone(), topics);
        }
        let mut current: Assignment = claims
            .owned
            .iter()
            .map(|(c, owned)| (c.clone(), owned.clone()))
            .collect();
        for m in &view.members {
            current.entry(m.member_id.clone()).or_default();
        }
        let partition_consumer = current
            .iter()
            .flat_map(|(c, list)| list.iter().map(move |tp| (tp.clone(), c.clone())))
            .collect();
        let mut builder = General {
            view,
            total_partitions: counts.values().map(|c| *c as usize).sum(),
            counts,
            topic_consumers,
            consumer_topics,
            current,
            partition_consumer,
            sorted_all: Vec::new(),
            by_size: BTreeSet::new(),
            revocation_required: false,
            movements: PartitionMovements::default(),
        };
        builder.sorted_all = builder.all_partitions_by_potential_consumers();
        builder
    }

    fn potential_consumers(&self, topic: &str) -> usize {
        self.topic_consumers.get(topic).map_or(0, Vec::len)
    }

    /// `TopicComparator` then partition order; `PartitionComparator` sorts the same way.
    fn compare_partitions(&self, a: &TopicPartition, b: &TopicPartition) -> std::cmp::Ordering {
        self.potential_consumers(&a.topic)
            .cmp(&self.potential_consumers(&b.topic))
            .then_with(|| java_compare(&a.topic, &b.topic))
            .then(a.partition.cmp(&b.partition))
    }

    fn all_partitions_by_potential_consumers(&self) -> Vec<TopicPartition> {
        let mut all = all_partitions_sorted(&self.view.topics);
        all.sort_by(|a, b| self.compare_partitions(a, b));
        all
    }

    /// `prepopulateCurrentAssignments`: partitions of members from an older generation than
    /// the newest, remembered with that member (the newest such generation wins; between
    /// equal generations the member met first in `subscriptions` `HashMap` order).
    fn previous_assignment(
        &self,
        max_generation: i32,
    ) -> BTreeMap<TopicPartition, (Arc<str>, i32)> {
        let mut previous: BTreeMap<TopicPartition, (Arc<str>, i32)> = BTreeMap::new();
        for m in &self.view.members {
            let generation = member_generation(m.subscription.generation_id);
            // Kafka's two cases (an older generation; no generation while some member has
            // one) both come down to "older than the newest", with "none" being -1.
            if generation >= max_generation {
                continue;
            }
            for tp in &m.subscription.owned_partitions {
                let newer = previous.get(tp).is_none_or(|(_, g)| generation > *g);
                if newer {
                    previous.insert(tp.clone(), (m.member_id.clone(), generation));
                }
            }
        }
        previous
    }

    /// `assignOwnedPartitions`: drops owned partitions of topics a member no longer
    /// subscribes to (that needs a revocation) and returns those it keeps.
    fn keep_owned_partitions(&mut self) -> Vec<TopicPartition> {
        let mut kept = Vec::new();
        for (consumer, list) in self.current.iter_mut() {
            let Some(member) = self.view.subscription(consumer) else {
                continue;
            };
            list.retain(|tp| {
                if !self.counts.contains_key(&tp.topic) {
                    self.partition_consumer.remove(tp);
                    false
                } else if !member.subscription.topics.contains(&tp.topic) {
                    self.revocation_required = true;
                    false
                } else {
                    kept.push(tp.clone());
                    true
                }
            });
        }
        kept
    }

    fn unassigned(&self, mut assigned: Vec<TopicPartition>) -> Vec<TopicPartition> {
        assigned.sort_by(|a, b| self.compare_partitions(a, b));
        unassigned_partitions(&self.sorted_all, &assigned)
    }

    fn size_of(&self, consumer: &str) -> usize {
        self.current.get(consumer).map_or(0, Vec::len)
    }

    /// Takes a member out of `sortedCurrentSubscriptions` before its size changes.
    fn unlist(&mut self, consumer: &Arc<str>) {
        let key = (self.size_of(consumer), JavaString(consumer.clone()));
        self.by_size.remove(&key);
    }

    /// Puts a member back into `sortedCurrentSubscriptions` at its current size.
    fn relist(&mut self, consumer: &Arc<str>) {
        let key = (self.size_of(consumer), JavaString(consumer.clone()));
        self.by_size.insert(key);
    }

    fn subscribes(&self, consumer: &str, topic: &str) -> bool {
        self.consumer_topics
            .get(consumer)
            .is_some_and(|topics| topics.iter().any(|t| &**t == topic))
    }

    /// `balance`.
    fn balance(
        &mut self,
        previous: &BTreeMap<TopicPartition, (Arc<str>, i32)>,
        mut unassigned: Vec<TopicPartition>,
    ) {
        let initializing = self.by_size.last().is_none_or(|(size, _)| *size == 0);
        for tp in &unassigned {
            if self.potential_consumers(&tp.topic) > 0 {
                self.assign_to_least_loaded(tp);
            }
        }
        // Partitions of topics with a single potential consumer cannot move.
        let fixed_topics: BTreeSet<Arc<str>> = self
            .topic_consumers
            .iter()
            .filter(|(_, consumers)| consumers.len() < 2)
            .map(|(t, _)| t.clone())
            .collect();
        self.sorted_all
            .retain(|tp| !fixed_topics.contains(&tp.topic));
        unassigned.retain(|tp| !fixed_topics.contains(&tp.topic));
        // Members that cannot take part set their assignment aside.
        let consumers: Vec<Arc<str>> = self.consumer_topics.keys().cloned().collect();
        let mut fixed_assignments = Vec::new();
        for consumer in consumers {
            if !self.can_participate(&consumer) {
                self.unlist(&consumer);
                if let Some(list) = self.current.remove(&consumer) {
                    fixed_assignments.push((consumer, list));
                }
            }
        }
        let pre_balance = self.current.clone();
        let pre_balance_consumers = self.partition_consumer.clone();
        if !self.revocation_required {
            // Its outcome is not counted below, exactly as in Kafka.
            self.perform_reassignments(&unassigned, previous);
        }
        let sorted_all = self.sorted_all.clone();
        let reassigned = self.perform_reassignments(&sorted_all, previous);
        if !initializing
            && reassigned
            && balance_score(&self.current) >= balance_score(&pre_balance)
        {
            self.current = pre_balance;
            self.partition_consumer = pre_balance_consumers;
        }
        for (consumer, list) in fixed_assignments {
            self.current.insert(consumer.clone(), list);
            self.relist(&consumer);
        }
    }

    /// `maybeAssignPartition`: to the least loaded member subscribed to the topic.
    fn assign_to_least_loaded(&mut self, tp: &TopicPartition) {
        let chosen = self
            .by_size
            .iter()
            .find(|(_, c)| self.subscribes(&c.0, &tp.topic))
            .map(|(_, c)| c.0.clone());
        if let Some(consumer) = chosen {
            self.unlist(&consumer);
            self.current
                .entry(consumer.clone())
                .or_default()
                .push(tp.clone());
            self.partition_consumer.insert(tp.clone(), consumer.clone());
            self.relist(&consumer);
        }
    }

    /// `getMaxAssignmentSize`.
    fn max_assignment_size(&self, topics: &[Arc<str>]) -> usize {
        if topics.len() == self.counts.len() {
            self.total_partitions
        } else {
            topics
                .iter()
                .map(|t| self.counts.get(t).map_or(0, |c| *c as usize))
                .sum()
        }
    }

    /// `canConsumerParticipateInReassignment`.
    fn can_participate(&self, consumer: &Arc<str>) -> bool {
        let topics = self
            .consumer_topics
            .get(consumer)
            .map_or(&[][..], Vec::as_slice);
        if self.size_of(consumer) < self.max_assignment_size(topics) {
            return true;
        }
        self.current.get(consumer).is_some_and(|list| {
            list.iter()
                .any(|tp| self.potential_consumers(&tp.topic) >= 2)
        })
    }

    /// `isBalanced`: sizes within one, or no partition could move to a member with fewer.
    fn is_balanced(&self) -> bool {
        let (Some((min, _)), Some((max, _))) = (self.by_size.first(), self.by_size.last()) else {
            return true;
        };
        if min + 1 >= *max {
            return true;
        }
        let owner: BTreeMap<&TopicPartition, &Arc<str>> = self
            .current
            .iter()
            .flat_map(|(c, list)| list.iter().map(move |tp| (tp, c)))
            .collect();
        for (_, consumer) in &self.by_size {
            let consumer = &consumer.0;
            let size = self.size_of(consumer);
            let topics = self
                .consumer_topics
                .get(consumer)
                .map_or(&[][..], Vec::as_slice);
            if size == self.max_assignment_size(topics) {
                continue;
            }
            let mine = self.current.get(consumer).map_or(&[][..], Vec::as_slice);
            for topic in topics {
                let count = self.counts.get(topic).copied().unwrap_or(0);
                for p in 0..count {
                    let tp = TopicPartition::new(topic.clone(), p);
                    if mine.contains(&tp) {
                        continue;
                    }
                    if let Some(other) = owner.get(&tp)
                        && size + 1 < self.size_of(other)
                    {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// `performReassignments`: returns whether anything moved.
    fn perform_reassignments(
        &mut self,
        partitions: &[TopicPartition],
        previous: &BTreeMap<TopicPartition, (Arc<str>, i32)>,
    ) -> bool {
        let mut performed = false;
        loop {
            let mut modified = false;
            for tp in partitions {
                if self.is_balanced() {
                    break;
                }
                let Some(consumer) = self.partition_consumer.get(tp).cloned() else {
                    continue;
                };
                let size = self.size_of(&consumer);
                if let Some((prev, _)) = previous.get(tp)
                    && let Some(prev_size) = self.current.get(prev).map(Vec::len)
                    && size > prev_size + 1
                {
                    self.reassign_partition_to(tp, prev);
                    performed = true;
                    modified = true;
                    continue;
                }
                let better_exists = self.topic_consumers.get(&tp.topic).is_some_and(|others| {
                    others
                        .iter()
                        .filter_map(|o| self.current.get(o))
                        .any(|list| size > list.len() + 1)
                });
                if better_exists {
                    self.reassign_partition(tp);
                    performed = true;
                    modified = true;
                }
            }
            if !modified {
                return performed;
            }
        }
    }

    /// `reassignPartition(partition)`: to the least loaded member subscribed to the topic.
    fn reassign_partition(&mut self, tp: &TopicPartition) {
        let new_consumer = self
            .by_size
            .iter()
            .find(|(_, c)| self.subscribes(&c.0, &tp.topic))
            .map(|(_, c)| c.0.clone());
        if let Some(new_consumer) = new_consumer {
            self.reassign_partition_to(tp, &new_consumer);
        }
    }

    fn reassign_partition_to(&mut self, tp: &TopicPartition, new_consumer: &Arc<str>) {
        let Some(consumer) = self.partition_consumer.get(tp).cloned() else {
            return;
        };
        let to_move = self
            .movements
            .actual_partition_to_move(tp, &consumer, new_consumer);
        self.process_partition_movement(&to_move, new_consumer);
    }

    /// `processPartitionMovement`.
    fn process_partition_movement(&mut self, tp: &TopicPartition, new_consumer: &Arc<str>) {
        let Some(old_consumer) = self.partition_consumer.get(tp).cloned() else {
            return;
        };
        if !self.current.contains_key(new_consumer) {
            return;
        }
        self.unlist(&old_consumer);
        self.unlist(new_consumer);
        self.movements
            .move_partition(tp, &old_consumer, new_consumer);
        if let Some(list) = self.current.get_mut(&old_consumer) {
            remove_first(list, tp);
        }
        if let Some(list) = self.current.get_mut(new_consumer) {
            list.push(tp.clone());
        }
        self.partition_consumer
            .insert(tp.clone(), new_consumer.clone());
        self.relist(new_consumer);
        self.relist(&old_consumer);
    }
}

/// `getBalanceScore`: the sum of size differences over all pairs of members.
fn balance_score(assignment: &Assignment) -> usize {
    let sizes: Vec<usize> = assignment.values().map(Vec::len).collect();
    let mut score = 0;
    for (i, a) in sizes.iter().enumerate() {
        for b in &sizes[i + 1..] {
            score += a.abs_diff(*b);
        }
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_score_sums_pairwise_differences() {
        let mut a: Assignment = BTreeMap::new();
        a.insert("x".into(), vec![TopicPartition::new("t", 0); 3]);
        a.insert("y".into(), vec![]);
        a.insert("z".into(), vec![TopicPartition::new("t", 1)]);
        assert_eq!(balance_score(&a), 3 + 2 + 1);
    }
}
