//! `AbstractStickyAssignor`, shared by `sticky` (`StickyAssignor`, eager) and
//! `cooperative-sticky` (`CooperativeStickyAssignor`): balance first, then keep as many
//! partitions as possible where they were.
//!
//! Three steps, as in Kafka:
//! 1. Resolve ownership claims (`allSubscriptionsEqual`): walking members in `subscriptions`
//!    `HashMap` order, a partition claimed by two members of the same generation is taken
//!    from both and marked multiply-claimed; otherwise the higher generation keeps it.
//! 2. If every member subscribes to the same topics, the *constrained* algorithm here
//!    (`ConstrainedAssignmentBuilder`); otherwise the *general* one ([`super::general`]).
//! 3. cooperative-sticky only: withhold every partition that changes owner, so its old owner
//!    can revoke it first; a follow-up rebalance hands it over.
//!
//! What each member "owns" is `owned_partitions` with `generation_id` (negative = no
//! generation). cooperative-sticky reads exactly these fields of the subscription; the eager
//! `StickyAssignor` reads the same facts from its `userData` (the previous assignment and its
//! generation, which an eager member still reports after revoking), which the model carries
//! in the same two fields.

use super::general;
use super::java_map::JavaHashMap;
use super::{GroupAssignment, LeaderView, RebalanceProtocol, java_compare, remove_first};
use crate::protocol::{NO_GENERATION, TopicPartition};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

type Assignment = BTreeMap<Arc<str>, Vec<TopicPartition>>;
/// `partitionsTransferringOwnership`: partition -> the member it moves to.
type Transfers = BTreeMap<TopicPartition, Arc<str>>;

pub(super) fn assign(view: &LeaderView<'_>, protocol: RebalanceProtocol) -> GroupAssignment {
    let claims = Claims::resolve(view);
    let (mut assignment, transferring) = if claims.all_subscriptions_equal {
        let (assignment, transferring) = Constrained::new(view, &claims).build();
        (assignment, Some(transferring))
    } else {
        // The general builder does not track transfers (Kafka sets the map to null).
        (general::assign(view, &claims), None)
    };
    let mut withheld = BTreeMap::new();
    if protocol == RebalanceProtocol::Cooperative {
        let transferring =
            transferring.unwrap_or_else(|| partitions_changing_owner(view, &assignment));
        // `adjustAssignment`: each removal touches a different partition, so the order of
        // the (Java HashMap) walk does not matter.
        for (tp, consumer) in &transferring {
            if let Some(list) = assignment.get_mut(consumer) {
                remove_first(list, tp);
            }
        }
        withheld = transferring;
    }
    GroupAssignment {
        assignment,
        withheld,
    }
}

/// `MemberData.generation.orElse(DEFAULT_GENERATION)`: a negative generation is "none".
pub(super) fn member_generation(generation_id: i32) -> i32 {
    if generation_id < 0 {
        NO_GENERATION
    } else {
        generation_id
    }
}

/// The outcome of `allSubscriptionsEqual`.
#[derive(Debug)]
pub(super) struct Claims {
    pub all_subscriptions_equal: bool,
    /// `consumerToOwnedPartitions`: each member's still-valid owned partitions (topics the
    /// group still has, conflicts resolved), in `HashMap` order of member ids.
    pub owned: JavaHashMap<Arc<str>, Vec<TopicPartition>>,
    /// `partitionsWithMultiplePreviousOwners`.
    pub multiply_claimed: BTreeSet<TopicPartition>,
    /// The highest generation any member reported (`maxGeneration`). Kafka keeps this in the
    /// assignor instance across rebalances; the model starts each assignment afresh.
    pub max_generation: i32,
}

impl Claims {
    fn resolve(view: &LeaderView<'_>) -> Claims {
        let mut all_equal = true;
        let mut subscribed: BTreeSet<&Arc<str>> = BTreeSet::new();
        let mut owned: JavaHashMap<Arc<str>, Vec<TopicPartition>> = JavaHashMap::new();
        let mut multiply_claimed = BTreeSet::new();
        let mut previous_owner: BTreeMap<TopicPartition, Arc<str>> = BTreeMap::new();
        let mut max_generation = NO_GENERATION;
        let generation_of = |id: &Arc<str>| {
            view.subscription(id).map_or(NO_GENERATION, |m| {
                member_generation(m.subscription.generation_id)
            })
        };
        for m in &view.members {
            let topics = &m.subscription.topics;
            if subscribed.is_empty() {
                subscribed.extend(topics.iter());
            } else if all_equal
                && !(topics.len() == subscribed.len()
                    && topics.iter().all(|t| subscribed.contains(t)))
            {
                all_equal = false;
            }
            let generation = member_generation(m.subscription.generation_id);
            max_generation = max_generation.max(generation);
            owned.insert(m.member_id.clone(), Vec::new());
            for tp in &m.subscription.owned_partitions {
                if view.partition_count(&tp.topic).is_none() {
                    continue; // the topic is gone, or nobody subscribes to it any more
                }
                let Some(other) = previous_owner.get(tp).cloned() else {
                    push(&mut owned, &m.member_id, tp);
                    previous_owner.insert(tp.clone(), m.member_id.clone());
                    continue;
                };
                let other_generation = generation_of(&other);
                if generation == other_generation {
                    // Two owners in one generation: neither keeps it.
                    multiply_claimed.insert(tp.clone());
                    if let Some(list) = owned.get_mut(&other) {
                        remove_first(list, tp);
                    }
                    previous_owner.insert(tp.clone(), m.member_id.clone());
                } else if generation > other_generation {
                    push(&mut owned, &m.member_id, tp);
                    if let Some(list) = owned.get_mut(&other) {
                        remove_first(list, tp);
                    }
                    previous_owner.insert(tp.clone(), m.member_id.clone());
                }
            }
        }
        Claims {
            all_subscriptions_equal: all_equal,
            owned,
            multiply_claimed,
            max_generation,
        }
    }
}

fn push(
    owned: &mut JavaHashMap<Arc<str>, Vec<TopicPartition>>,
    id: &Arc<str>,
    tp: &TopicPartition,
) {
    if let Some(list) = owned.get_mut(id) {
        list.push(tp.clone());
    }
}

/// `computePartitionsTransferringOwnership`, for the general algorithm: partitions a member
/// gets that another member owned (by its subscription) and loses.
fn partitions_changing_owner(
    view: &LeaderView<'_>,
    assignment: &BTreeMap<Arc<str>, Vec<TopicPartition>>,
) -> BTreeMap<TopicPartition, Arc<str>> {
    let mut added = BTreeMap::new();
    let mut revoked = BTreeSet::new();
    for (consumer, assigned) in assignment {
        let owned: &[TopicPartition] = view
            .subscription(consumer)
            .map_or(&[], |m| &m.subscription.owned_partitions);
        for tp in assigned.iter().filter(|tp| !owned.contains(tp)) {
            added.insert(tp.clone(), consumer.clone());
        }
        revoked.extend(owned.iter().filter(|tp| !assigned.contains(tp)).cloned());
    }
    added.retain(|tp, _| revoked.contains(tp));
    added
}

/// All partitions sorted by topic name, then partition number.
pub(super) fn all_partitions_sorted(topics: &[(Arc<str>, i32)]) -> Vec<TopicPartition> {
    let mut sorted: Vec<&(Arc<str>, i32)> = topics.iter().collect();
    sorted.sort_by(|a, b| java_compare(&a.0, &b.0));
    sorted
        .into_iter()
        .flat_map(|(t, c)| (0..*c).map(move |p| TopicPartition::new(t.clone(), p)))
        .collect()
}

/// `getUnassignedPartitions`: a two-pointer walk of all partitions against the assigned
/// ones, both sorted the same way. Kept as Kafka writes it, so an owned partition number that
/// does not exist (beyond the topic's count) shifts the walk exactly as it does in Kafka.
pub(super) fn unassigned_partitions(
    all_sorted: &[TopicPartition],
    assigned_sorted: &[TopicPartition],
) -> Vec<TopicPartition> {
    let mut assigned = assigned_sorted.iter();
    let Some(mut next_assigned) = assigned.next() else {
        return all_sorted.to_vec();
    };
    let mut add_directly = false;
    let mut unassigned = Vec::new();
    for tp in all_sorted {
        if add_directly || tp != next_assigned {
            unassigned.push(tp.clone());
        } else {
            match assigned.next() {
                Some(next) => next_assigned = next,
                None => add_directly = true,
            }
        }
    }
    unassigned
}

/// `ConstrainedAssignmentBuilder` without racks.
struct Constrained<'a> {
    topics: &'a [(Arc<str>, i32)],
    owned: &'a JavaHashMap<Arc<str>, Vec<TopicPartition>>,
    multiply_claimed: &'a BTreeSet<TopicPartition>,
    all_revoked: BTreeSet<TopicPartition>,
    /// `unfilledMembersWithUnderMinQuotaPartitions`.
    under_min: Vec<Arc<str>>,
    /// `unfilledMembersWithExactlyMinQuotaPartitions`.
    exactly_min: VecDeque<Arc<str>>,
    min_quota: usize,
    max_quota: usize,
    expected_over_min: usize,
    current_over_min: usize,
    assignment: BTreeMap<Arc<str>, Vec<TopicPartition>>,
    assigned: Vec<TopicPartition>,
    transferring: BTreeMap<TopicPartition, Arc<str>>,
}

impl<'a> Constrained<'a> {
    fn new(view: &'a LeaderView<'a>, claims: &'a Claims) -> Self {
        let total: usize = view.topics.iter().map(|(_, c)| *c as usize).sum();
        let members = claims.owned.len().max(1);
        Constrained {
            topics: &view.topics,
            owned: &claims.owned,
            multiply_claimed: &claims.multiply_claimed,
            all_revoked: BTreeSet::new(),
            under_min: Vec::new(),
            exactly_min: VecDeque::new(),
            min_quota: total / members,
            max_quota: total.div_ceil(members),
            expected_over_min: total % members,
            current_over_min: 0,
            assignment: view.empty_assignment(),
            assigned: Vec::new(),
            transferring: BTreeMap::new(),
        }
    }

    fn build(mut self) -> (Assignment, Transfers) {
        self.assign_owned_partitions();
        let all = all_partitions_sorted(self.topics);
        let mut assigned = std::mem::take(&mut self.assigned);
        assigned
            .sort_by(|a, b| java_compare(&a.topic, &b.topic).then(a.partition.cmp(&b.partition)));
        let unassigned = unassigned_partitions(&all, &assigned);
        self.under_min.sort_by(|a, b| java_compare(a, b));
        self.exactly_min
            .make_contiguous()
            .sort_by(|a, b| java_compare(a, b));
        self.assign_round_robin(&unassigned);
        (self.assignment, self.transferring)
    }

    /// Step 1: every member keeps what it owns, up to its quota, walking members in the
    /// `HashMap` order of `consumerToOwnedPartitions` — which decides who keeps `maxQuota`.
    fn assign_owned_partitions(&mut self) {
        for (consumer, owned) in self.owned.iter() {
            let mut owned = owned.clone();
            // Stable sort by partition number, then topic.
            owned.sort_by(|a, b| {
                a.partition
                    .cmp(&b.partition)
                    .then(java_compare(&a.topic, &b.topic))
            });
            for tp in self.multiply_claimed {
                remove_first(&mut owned, tp);
            }
            let keep = if owned.len() < self.min_quota {
                self.under_min.push(consumer.clone());
                owned.len()
            } else if owned.len() >= self.max_quota
                && self.current_over_min < self.expected_over_min
            {
                self.current_over_min += 1;
                if self.current_over_min == self.expected_over_min {
                    self.exactly_min.clear();
                }
                self.max_quota
            } else {
                if self.current_over_min < self.expected_over_min {
                    self.exactly_min.push_back(consumer.clone());
                }
                self.min_quota
            };
            self.all_revoked.extend(owned.drain(keep..));
            self.assigned.extend(owned.iter().cloned());
            if let Some(list) = self.assignment.get_mut(consumer) {
                list.extend(owned);
            }
        }
    }

    /// Step 2: deal the unassigned partitions round robin over the under-filled members,
    /// then one each to members at exactly `minQuota`, first come first served.
    fn assign_round_robin(&mut self, unassigned: &[TopicPartition]) {
        // `next` is the position of a Java iterator over `under_min`.
        let mut next = 0;
        for tp in unassigned {
            let (consumer, from_iterator) = if next < self.under_min.len() {
                next += 1;
                (self.under_min[next - 1].clone(), true)
            } else if !self.under_min.is_empty() {
                next = 1;
                (self.under_min[0].clone(), true)
            } else if let Some(c) = self.exactly_min.pop_front() {
                (c, false)
            } else {
                // Kafka throws IllegalStateException("No more unfilled consumers to be
                // assigned."); unreachable when the quotas add up. The model leaves the rest
                // unassigned rather than crash the leader.
                return;
            };
            let count = self.assign_new_partition(tp, &consumer);
            if count == self.min_quota {
                if from_iterator {
                    next -= 1;
                    self.under_min.remove(next);
                }
                self.exactly_min.push_back(consumer);
            } else if count == self.max_quota {
                self.current_over_min += 1;
            }
        }
    }

    fn assign_new_partition(&mut self, tp: &TopicPartition, consumer: &Arc<str>) -> usize {
        let Some(list) = self.assignment.get_mut(consumer) else {
            return 0;
        };
        list.push(tp.clone());
        // Newly assigned to this member: a transfer if someone had to give it up.
        if self.all_revoked.contains(tp) || self.multiply_claimed.contains(tp) {
            self.transferring.insert(tp.clone(), consumer.clone());
        }
        list.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(t: &str, p: i32) -> TopicPartition {
        TopicPartition::new(t, p)
    }

    #[test]
    fn the_two_pointer_walk_skips_assigned_partitions() {
        let all = vec![tp("a", 0), tp("a", 1), tp("b", 0), tp("b", 1)];
        assert_eq!(unassigned_partitions(&all, &[]), all);
        assert_eq!(
            unassigned_partitions(&all, &[tp("a", 1), tp("b", 0)]),
            [tp("a", 0), tp("b", 1)]
        );
        assert_eq!(
            unassigned_partitions(&all, &[tp("b", 1)]),
            [tp("a", 0), tp("a", 1), tp("b", 0)]
        );
    }

    #[test]
    fn negative_generations_mean_none() {
        assert_eq!(member_generation(-7), NO_GENERATION);
        assert_eq!(member_generation(0), 0);
        assert_eq!(member_generation(9), 9);
    }
}
