//! `RoundRobinAssignor` (`roundrobin`): all partitions of all topics dealt out like cards.
//!
//! Partitions are laid out sorted by topic name, then partition number. One circular
//! iterator walks the members in `MemberInfo` order and is never reset between topics; for
//! each partition it skips members not subscribed to that topic, hands the partition to the
//! current member and steps on. With identical subscriptions the counts differ by at most
//! one; with different subscriptions the skipping can leave the group unbalanced.
//!
//! No `HashMap` order leaks into the result: topics go through a `TreeSet` and members are
//! sorted (ties, which need two members with one instance id, keep `HashMap` order).

use super::{LeaderView, java_compare, sort_member_infos};
use crate::protocol::TopicPartition;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(super) fn assign(view: &LeaderView<'_>) -> BTreeMap<Arc<str>, Vec<TopicPartition>> {
    let mut assignment = view.empty_assignment();
    let mut members = view.members.clone();
    sort_member_infos(&mut members);
    let mut topics: Vec<(Arc<str>, i32)> = view.topics.clone();
    topics.sort_by(|a, b| java_compare(&a.0, &b.0));
    // `CircularIterator`: `next` is the member `peek()` would return.
    let mut next = 0;
    for (topic, count) in topics {
        for partition in 0..count {
            // A subscriber exists: the topic is in the view because someone subscribed.
            while !members[next].subscription.topics.contains(&topic) {
                next = (next + 1) % members.len();
            }
            if let Some(list) = assignment.get_mut(&members[next].member_id) {
                list.push(TopicPartition::new(topic.clone(), partition));
            }
            next = (next + 1) % members.len();
        }
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{counts, member};
    use super::super::{Assignor, assign as run};
    use crate::protocol::TopicPartition;
    use std::sync::Arc;

    #[test]
    fn the_class_javadoc_example_with_different_subscriptions() {
        // RoundRobinAssignor's javadoc: C0 -> t0; C1 -> t0, t1; C2 -> t0, t1, t2 with
        // 1, 2 and 3 partitions gives C0 [t0p0], C1 [t1p0], C2 [t1p1, t2p0, t2p1, t2p2].
        let counts = counts(&[("t0", 1), ("t1", 2), ("t2", 3)]);
        let members = [
            member("C2", None, &["t0", "t1", "t2"]),
            member("C0", None, &["t0"]),
            member("C1", None, &["t0", "t1"]),
        ];
        let result = run(Assignor::RoundRobin, &counts, &members);
        let tp = |t: &str, p| TopicPartition::new(t, p);
        assert_eq!(result[&Arc::from("C0")], [tp("t0", 0)]);
        assert_eq!(result[&Arc::from("C1")], [tp("t1", 0)]);
        assert_eq!(
            result[&Arc::from("C2")],
            [tp("t1", 1), tp("t2", 0), tp("t2", 1), tp("t2", 2)]
        );
    }
}
