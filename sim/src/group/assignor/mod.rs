//! Client-side partition assignors of the classic consumer-group protocol: `range`,
//! `roundrobin`, `sticky` and `cooperative-sticky` (Kafka's `RangeAssignor`,
//! `RoundRobinAssignor`, `StickyAssignor`, `CooperativeStickyAssignor`, on top of
//! `AbstractPartitionAssignor` and `AbstractStickyAssignor`).
//!
//! Why it exists: in the classic protocol the broker does not decide who reads what. The group
//! leader — one of the consumers — runs the assignor named by the chosen protocol over every
//! member's subscription and sends the result back through SyncGroup. Which member ends up
//! with which partition, and which partitions a cooperative rebalance holds back for a second
//! round, is exactly what a learner watches in a rebalance; so this module reproduces Kafka's
//! algorithms list for list, including the parts that depend on Java `HashMap` iteration
//! order ([`java_map`]).
//!
//! The leader's view is rebuilt the way `ConsumerCoordinator.onLeaderElected` and
//! `AbstractPartitionAssignor.assign` build it: `subscriptions` is a `HashMap` filled in
//! JoinGroup-response order, `partitionsPerTopic` a `HashMap` filled from a `HashSet` of all
//! subscribed topics, keeping only topics with at least one partition.
//!
//! Not modelled: rack-aware assignment (KIP-881; the model has no `client.rack`), custom
//! assignors and `userData` beyond what the sticky assignors keep in it (their previous
//! partitions and generation, carried here by `owned_partitions` and `generation_id`).

pub mod java_map;

mod general;
mod movements;
mod range;
mod round_robin;
mod sticky;

use crate::protocol::{ConsumerSubscription, NO_GENERATION, TopicPartition};
use java_map::{JavaHashMap, JavaHashSet};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// The built-in assignors, by their `partition.assignment.strategy` protocol names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Assignor {
    Range,
    RoundRobin,
    Sticky,
    CooperativeSticky,
}

/// `ConsumerPartitionAssignor.RebalanceProtocol`: eager members revoke everything before
/// rejoining; cooperative members keep their partitions and revoke only what they lose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RebalanceProtocol {
    Eager,
    Cooperative,
}

impl Assignor {
    pub const ALL: [Assignor; 4] = [
        Assignor::Range,
        Assignor::RoundRobin,
        Assignor::Sticky,
        Assignor::CooperativeSticky,
    ];

    /// The protocol name a member puts in its JoinGroup request (`ConsumerPartitionAssignor.name()`).
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::Sticky => "sticky",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// The class name a user writes in `partition.assignment.strategy`.
    pub fn class_name(self) -> &'static str {
        match self {
            Assignor::Range => "org.apache.kafka.clients.consumer.RangeAssignor",
            Assignor::RoundRobin => "org.apache.kafka.clients.consumer.RoundRobinAssignor",
            Assignor::Sticky => "org.apache.kafka.clients.consumer.StickyAssignor",
            Assignor::CooperativeSticky => {
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"
            }
        }
    }

    /// Accepts the protocol name (`range`) or the class name
    /// (`org.apache.kafka.clients.consumer.RangeAssignor`).
    pub fn from_name(s: &str) -> Option<Assignor> {
        let s = s.trim();
        Assignor::ALL
            .into_iter()
            .find(|a| a.name() == s || a.class_name() == s)
    }

    /// `supportedProtocols()`, ascending. Kafka lists `COOPERATIVE` first for
    /// cooperative-sticky; the client treats the list as a set and picks the highest
    /// protocol every configured assignor supports.
    pub fn supported_protocols(self) -> &'static [RebalanceProtocol] {
        match self {
            Assignor::CooperativeSticky => {
                &[RebalanceProtocol::Eager, RebalanceProtocol::Cooperative]
            }
            _ => &[RebalanceProtocol::Eager],
        }
    }
}

impl fmt::Display for Assignor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One member of the group as the leader sees it, in the order of the JoinGroup response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSubscription {
    pub member_id: Arc<str>,
    pub group_instance_id: Option<Arc<str>>,
    pub subscription: ConsumerSubscription,
}

/// An assignor's full answer for one rebalance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupAssignment {
    /// Every member's partitions, in the list order Kafka's assignor produces.
    pub assignment: BTreeMap<Arc<str>, Vec<TopicPartition>>,
    /// cooperative-sticky only: partitions held back this round because another member
    /// still owns them (or several members claimed them), with the member that will get
    /// them in the follow-up rebalance once they have been revoked.
    pub withheld: BTreeMap<TopicPartition, Arc<str>>,
}

/// Runs the assignor. `partitions_per_topic`: topic -> partition count (topics nobody
/// subscribes to may be present or absent). Returns an entry for EVERY member (possibly
/// empty), in the list order Kafka's assignor produces for that member. For
/// cooperative-sticky this is the first-round output, with partitions that change owner
/// withheld (see [`assign_group`] for which).
pub fn assign(
    assignor: Assignor,
    partitions_per_topic: &BTreeMap<Arc<str>, i32>,
    members: &[MemberSubscription],
) -> BTreeMap<Arc<str>, Vec<TopicPartition>> {
    assign_group(assignor, partitions_per_topic, members).assignment
}

/// [`assign`], also reporting what a cooperative assignor withheld.
pub fn assign_group(
    assignor: Assignor,
    partitions_per_topic: &BTreeMap<Arc<str>, i32>,
    members: &[MemberSubscription],
) -> GroupAssignment {
    let view = LeaderView::new(partitions_per_topic, members);
    if view.members.is_empty() {
        return GroupAssignment::default();
    }
    match assignor {
        Assignor::Range => plain(range::assign(&view)),
        Assignor::RoundRobin => plain(round_robin::assign(&view)),
        Assignor::Sticky => sticky::assign(&view, RebalanceProtocol::Eager),
        Assignor::CooperativeSticky => sticky::assign(&view, RebalanceProtocol::Cooperative),
    }
}

fn plain(assignment: BTreeMap<Arc<str>, Vec<TopicPartition>>) -> GroupAssignment {
    GroupAssignment {
        assignment,
        withheld: BTreeMap::new(),
    }
}

/// Most follow-up rounds [`complete_cooperative_rebalance`] runs; Kafka's test asserts at
/// most 4.
const MAX_FOLLOW_UP_ROUNDS: usize = 8;

/// Runs cooperative follow-up rebalances in place until no member has to revoke anything, as
/// Kafka's `CooperativeStickyAssignorTest.verifyValidityAndBalance` does: each member now
/// owns what it was assigned, all in one (new) generation, and the assignor runs again.
/// Returns the number of follow-up rounds; 0 for eager-only assignors, whose first answer is
/// final. Afterwards `members` carry the final ownership and `assignment` the final state.
pub fn complete_cooperative_rebalance(
    assignor: Assignor,
    partitions_per_topic: &BTreeMap<Arc<str>, i32>,
    members: &mut [MemberSubscription],
    assignment: &mut BTreeMap<Arc<str>, Vec<TopicPartition>>,
) -> usize {
    if !assignor
        .supported_protocols()
        .contains(&RebalanceProtocol::Cooperative)
    {
        return 0;
    }
    let mut rounds = 0;
    while rounds < MAX_FOLLOW_UP_ROUNDS && revokes_something(members, assignment) {
        // Only comparisons between generations matter, so any common value gives the same
        // answer as the test's fixed one; the next generation is the realistic choice.
        let generation = members
            .iter()
            .map(|m| m.subscription.generation_id)
            .max()
            .unwrap_or(NO_GENERATION)
            .max(NO_GENERATION)
            + 1;
        for m in members.iter_mut() {
            let owned = assignment.get(&m.member_id).cloned().unwrap_or_default();
            m.subscription.owned_partitions = owned;
            m.subscription.generation_id = generation;
        }
        *assignment = assign(assignor, partitions_per_topic, members);
        rounds += 1;
    }
    rounds
}

/// True if some member owns a partition it was not assigned (and must revoke it).
fn revokes_something(
    members: &[MemberSubscription],
    assignment: &BTreeMap<Arc<str>, Vec<TopicPartition>>,
) -> bool {
    members.iter().any(|m| {
        let assigned: BTreeSet<&TopicPartition> = assignment
            .get(&m.member_id)
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        m.subscription
            .owned_partitions
            .iter()
            .any(|tp| !assigned.contains(tp))
    })
}

/// Java's `String.compareTo`: lexicographic over UTF-16 code units (which differs from
/// Rust's byte order for characters above U+FFFF against U+E000..U+FFFF).
pub fn java_compare(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// A string ordered like Java's `String.compareTo`, for sorted sets keyed by member id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JavaString(pub Arc<str>);

impl Ord for JavaString {
    fn cmp(&self, other: &Self) -> Ordering {
        java_compare(&self.0, &other.0)
    }
}

impl PartialOrd for JavaString {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// `AbstractPartitionAssignor.MemberInfo.compareTo`: members with a `group.instance.id`
/// first, by instance id; then the others by member id. Two static members with the same
/// instance id compare equal (Java's stable sort then keeps their `HashMap` order).
pub fn compare_member_info(
    a_member_id: &str,
    a_instance_id: Option<&str>,
    b_member_id: &str,
    b_instance_id: Option<&str>,
) -> Ordering {
    match (a_instance_id, b_instance_id) {
        (Some(a), Some(b)) => java_compare(a, b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => java_compare(a_member_id, b_member_id),
    }
}

/// Sorts members like `Collections.sort(List<MemberInfo>)` (stable).
pub(crate) fn sort_member_infos(members: &mut [&MemberSubscription]) {
    members.sort_by(|a, b| {
        compare_member_info(
            &a.member_id,
            a.group_instance_id.as_deref(),
            &b.member_id,
            b.group_instance_id.as_deref(),
        )
    });
}

/// What the leader's assignor is given, in Kafka's data structures and iteration orders.
#[derive(Debug)]
pub(crate) struct LeaderView<'a> {
    /// `subscriptions`, in `HashMap` iteration order; a repeated member id replaces the
    /// earlier subscription but keeps its place, as `HashMap.put` does.
    pub members: Vec<&'a MemberSubscription>,
    /// `partitionsPerTopic` (subscribed topics with at least one partition), in `HashMap`
    /// iteration order.
    pub topics: Vec<(Arc<str>, i32)>,
}

impl<'a> LeaderView<'a> {
    pub fn new(
        partitions_per_topic: &BTreeMap<Arc<str>, i32>,
        members: &'a [MemberSubscription],
    ) -> Self {
        let mut subscriptions: JavaHashMap<Arc<str>, &'a MemberSubscription> = JavaHashMap::new();
        for m in members {
            subscriptions.insert(m.member_id.clone(), m);
        }
        let members: Vec<&MemberSubscription> = subscriptions.iter().map(|(_, m)| *m).collect();
        // `allSubscribedTopics` (a HashSet), then `partitionsPerTopic` filled by walking it.
        let mut all_subscribed: JavaHashSet<Arc<str>> = JavaHashSet::new();
        for m in &members {
            for topic in &m.subscription.topics {
                all_subscribed.insert(topic.clone());
            }
        }
        let mut per_topic: JavaHashMap<Arc<str>, i32> = JavaHashMap::new();
        for topic in all_subscribed.iter() {
            match partitions_per_topic.get(topic) {
                Some(&count) if count > 0 => {
                    per_topic.insert(topic.clone(), count);
                }
                _ => {} // "Skipping assignment for topic {} since no metadata is available"
            }
        }
        let topics = per_topic.iter().map(|(t, c)| (t.clone(), *c)).collect();
        LeaderView { members, topics }
    }

    pub fn partition_count(&self, topic: &str) -> Option<i32> {
        self.topics
            .iter()
            .find(|(t, _)| &**t == topic)
            .map(|(_, c)| *c)
    }

    pub fn subscription(&self, member_id: &str) -> Option<&'a MemberSubscription> {
        self.members
            .iter()
            .find(|m| &*m.member_id == member_id)
            .copied()
    }

    /// An empty list for every member: assignors return an entry for each.
    pub fn empty_assignment(&self) -> BTreeMap<Arc<str>, Vec<TopicPartition>> {
        self.members
            .iter()
            .map(|m| (m.member_id.clone(), Vec::new()))
            .collect()
    }
}

/// `List.remove(Object)`: removes the first occurrence, if any.
pub(crate) fn remove_first(list: &mut Vec<TopicPartition>, tp: &TopicPartition) -> bool {
    match list.iter().position(|p| p == tp) {
        Some(i) => {
            list.remove(i);
            true
        }
        None => false,
    }
}

/// Builders shared by the assignors' unit tests.
#[cfg(test)]
pub(super) mod test_support {
    use super::MemberSubscription;
    use crate::protocol::{ConsumerSubscription, NO_GENERATION};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    /// A fresh member (owns nothing) subscribed to `topics`.
    pub fn member(id: &str, instance: Option<&str>, topics: &[&str]) -> MemberSubscription {
        MemberSubscription {
            member_id: id.into(),
            group_instance_id: instance.map(Into::into),
            subscription: ConsumerSubscription {
                topics: topics.iter().map(|t| Arc::from(*t)).collect(),
                owned_partitions: Vec::new(),
                generation_id: NO_GENERATION,
            },
        }
    }

    /// `partitions_per_topic` from `(topic, count)` pairs.
    pub fn counts(spec: &[(&str, i32)]) -> BTreeMap<Arc<str>, i32> {
        spec.iter().map(|(t, c)| (Arc::from(*t), *c)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{counts, member};
    use super::*;

    fn sorted(members: &[MemberSubscription]) -> Vec<&str> {
        let mut refs: Vec<&MemberSubscription> = members.iter().collect();
        sort_member_infos(&mut refs);
        refs.iter().map(|m| &*m.member_id).collect()
    }

    #[test]
    fn member_info_order_matches_abstract_partition_assignor_test() {
        // C0: without, with all, and with some group.instance.id.
        let none = [
            member("b", None, &[]),
            member("c", None, &[]),
            member("a", None, &[]),
        ];
        assert_eq!(sorted(&none), ["a", "b", "c"]);
        let all = [
            member("a", Some("y"), &[]),
            member("b", Some("z"), &[]),
            member("c", Some("x"), &[]),
        ];
        assert_eq!(sorted(&all), ["c", "a", "b"]);
        let some = [
            member("a", None, &[]),
            member("b", Some("y"), &[]),
            member("c", Some("x"), &[]),
        ];
        assert_eq!(sorted(&some), ["c", "b", "a"]);
    }

    #[test]
    fn java_compare_uses_utf16_code_units() {
        // U+FF5E is one code unit 0xFF5E; U+1F600 is the surrogate pair 0xD83D 0xDE00.
        // UTF-16 puts the emoji first; UTF-8 bytes would put it last.
        assert_eq!(java_compare("\u{1F600}", "\u{FF5E}"), Ordering::Less);
        assert_eq!("\u{1F600}".cmp("\u{FF5E}"), Ordering::Greater);
        assert_eq!(java_compare("a", "ab"), Ordering::Less);
    }

    #[test]
    fn names_and_class_names_round_trip() {
        for a in Assignor::ALL {
            assert_eq!(Assignor::from_name(a.name()), Some(a));
            assert_eq!(Assignor::from_name(a.class_name()), Some(a));
        }
        assert_eq!(Assignor::from_name("Range"), None);
        assert_eq!(
            Assignor::CooperativeSticky.supported_protocols(),
            &[RebalanceProtocol::Eager, RebalanceProtocol::Cooperative]
        );
        assert_eq!(
            Assignor::Sticky.supported_protocols(),
            &[RebalanceProtocol::Eager]
        );
    }

    #[test]
    fn the_leader_view_keeps_subscribed_topics_with_partitions_only() {
        let members = [
            member("c1", None, &["a", "gone"]),
            member("c2", None, &["b"]),
            member("c1", None, &["a"]), // a rejoin replaces c1's subscription in place
        ];
        let counts = counts(&[("a", 2), ("b", 1), ("unused", 4), ("gone", 0)]);
        let view = LeaderView::new(&counts, &members);
        let ids: Vec<&str> = view.members.iter().map(|m| &*m.member_id).collect();
        assert_eq!(ids.len(), 2);
        assert_eq!(
            view.subscription("c1").map(|m| m.subscription.topics.len()),
            Some(1)
        );
        let mut topics: Vec<&str> = view.topics.iter().map(|(t, _)| &**t).collect();
        topics.sort();
        assert_eq!(topics, ["a", "b"]);
        assert_eq!(view.partition_count("gone"), None);
    }

    #[test]
    fn follow_up_rounds_are_for_cooperative_assignors_only() {
        let counts: BTreeMap<Arc<str>, i32> = [(Arc::from("t"), 2)].into_iter().collect();
        let mut members = vec![member("c1", None, &["t"])];
        members[0].subscription.owned_partitions = vec![TopicPartition::new("t", 0)];
        let mut assignment = BTreeMap::new();
        assert_eq!(
            complete_cooperative_rebalance(
                Assignor::Sticky,
                &counts,
                &mut members,
                &mut assignment
            ),
            0
        );
    }
}
