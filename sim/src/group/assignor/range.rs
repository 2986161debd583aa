//! `RangeAssignor` (`range`), the default assignor: each topic on its own, contiguous ranges.
//!
//! For every topic, its subscribers are sorted by `MemberInfo` order and its partitions
//! `0..P` are cut into ranges of `P / n`, the first `P % n` subscribers getting one more.
//! Every topic restarts at the first subscriber, which is why early members collect the
//! extras when several topics do not divide evenly.
//!
//! Java `HashMap` order shows in one place: topics are visited in the iteration order of
//! `partitionsPerTopic`, so that is the order of topics inside each member's list (Kafka's
//! list is `[t2-0, t1-0]` if `t2` comes first in that map). The rack-aware pass of Kafka 3.5+
//! only runs when consumers set `client.rack`; without racks the result is this one.

use super::{LeaderView, sort_member_infos};
use crate::protocol::TopicPartition;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(super) fn assign(view: &LeaderView<'_>) -> BTreeMap<Arc<str>, Vec<TopicPartition>> {
    let mut assignment = view.empty_assignment();
    for (topic, count) in &view.topics {
        // `consumersPerTopic`: built by walking `subscriptions` (HashMap order), then sorted
        // (stable). A member listing the topic twice appears once (a LinkedHashMap keyed by
        // member id keeps the first).
        let mut subscribers: Vec<_> = view
            .members
            .iter()
            .copied()
            .filter(|m| m.subscription.topics.contains(topic))
            .collect();
        sort_member_infos(&mut subscribers);
        let n = subscribers.len() as i32;
        if n == 0 {
            continue;
        }
        let per_member = count / n;
        let with_extra = count % n;
        let mut next = 0;
        for (i, member) in subscribers.iter().enumerate() {
            let length = per_member + i32::from((i as i32) < with_extra);
            if let Some(list) = assignment.get_mut(&member.member_id) {
                list.extend((next..next + length).map(|p| TopicPartition::new(topic.clone(), p)));
            }
            next += length;
        }
        debug_assert_eq!(next, *count, "range covers every partition of {topic}");
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
    fn early_members_collect_the_extras_of_every_topic() {
        let counts = counts(&[("a", 4), ("b", 4), ("c", 4)]);
        let members = [
            member("m3", None, &["a", "b", "c"]),
            member("m1", None, &["a", "b", "c"]),
            member("m2", None, &["a", "b", "c"]),
        ];
        let result = run(Assignor::Range, &counts, &members);
        let sizes: Vec<usize> = ["m1", "m2", "m3"]
            .iter()
            .map(|m| result[&Arc::from(*m)].len())
            .collect();
        assert_eq!(sizes, [6, 3, 3]);
        let mut m1 = result[&Arc::from("m1")].clone();
        m1.sort();
        let expected: Vec<TopicPartition> = ["a", "b", "c"]
            .iter()
            .flat_map(|t| [TopicPartition::new(*t, 0), TopicPartition::new(*t, 1)])
            .collect();
        assert_eq!(m1, expected);
    }
}
