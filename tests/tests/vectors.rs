//! Kafka's own test vectors (kafka-vectors.md, sections A and C): murmur2, Utils.abs, the
//! key → partition mapping of the default partitioner, and the partition assignors —
//! checked against our implementation, and through the CLI a learner uses.

use kafkalab_sim::utils::{abs, murmur2, partition_for_key, to_positive};
use kafkalab_tests::cli;

#[test]
fn a1_murmur2_matches_utils_test() {
    let cases: [(&[u8], i32); 6] = [
        (b"21", -973_932_308),
        (b"foobar", -790_332_482),
        (b"a-little-bit-long-string", -985_981_536),
        (b"a-little-bit-longer-string", -1_486_304_829),
        (
            b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        (b"abc", 479_470_107), // the byte array {'a','b','c'}
    ];
    for (input, expected) in cases {
        assert_eq!(
            murmur2(input),
            expected,
            "murmur2({:?})",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn a2_abs_and_to_positive() {
    for (input, expected) in [(i32::MIN, 0), (-10, 10), (10, 10), (0, 0), (-1, 1)] {
        assert_eq!(abs(input), expected);
    }
    assert_eq!(to_positive(i32::MIN), 0);
    assert_eq!(to_positive(-1), i32::MAX);
}

#[test]
fn a3_string_keys_to_partitions_of_three() {
    let expected = [2, 0, 2, 2, 1, 0, 1, 0, 0, 2];
    let hashes = [
        971_027_396,
        -1_993_445_489,
        648_968_168,
        -1_148_165_505,
        1_514_888_353,
        55_100_550,
        1_157_411_398,
        -1_961_297_549,
        828_913_227,
        415_544_963,
    ];
    for key in 0..10 {
        let bytes = key.to_string();
        assert_eq!(murmur2(bytes.as_bytes()), hashes[key], "murmur2(\"{key}\")");
        assert_eq!(
            partition_for_key(bytes.as_bytes(), 3),
            expected[key],
            "key \"{key}\""
        );
    }
}

#[test]
fn explain_partition_prints_the_same_numbers() {
    let (code, out, _) = cli(&["explain", "partition", "4", "--partitions", "3", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(v["key"], "4");
    assert_eq!(v["murmur2"], 1_514_888_353);
    assert_eq!(v["partition"], 1);

    let (code, text, _) = cli(&["explain", "partition", "foobar", "--partitions", "7"]);
    assert_eq!(code, 0);
    assert!(text.contains("-790332482"), "{text}");
    let expected = to_positive(-790_332_482) % 7;
    assert!(text.contains(&format!("% 7 = {expected}")), "{text}");
}

// ---------------------------------------------------------------------------------------------
// C. Assignors (kafka-vectors.md section C): Kafka's assignor tests, run through the public
// `assign` API the group leader uses, plus cases of the same kinds derived from the algorithms.
// ---------------------------------------------------------------------------------------------

mod assignors {
    use kafkalab_sim::group::assignor::java_map::JavaHashSet;
    use kafkalab_sim::group::assignor::{
        Assignor, MemberSubscription, assign, assign_group, complete_cooperative_rebalance,
    };
    use kafkalab_sim::protocol::{ConsumerSubscription, NO_GENERATION, TopicPartition};
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;

    type Assignment = BTreeMap<Arc<str>, Vec<TopicPartition>>;
    type Counts = BTreeMap<Arc<str>, i32>;

    /// Kafka's sticky tests build owned partitions with `generationId = 1` by default.
    const GENERATION: i32 = 1;

    fn topics(spec: &[(&str, i32)]) -> BTreeMap<Arc<str>, i32> {
        spec.iter().map(|(t, c)| (Arc::from(*t), *c)).collect()
    }

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition::new(topic, partition)
    }

    fn member(id: &str, subscribed: &[&str]) -> MemberSubscription {
        MemberSubscription {
            member_id: id.into(),
            group_instance_id: None,
            subscription: ConsumerSubscription {
                topics: subscribed.iter().map(|t| Arc::from(*t)).collect(),
                owned_partitions: Vec::new(),
                generation_id: NO_GENERATION,
            },
        }
    }

    fn static_member(id: &str, instance: &str, subscribed: &[&str]) -> MemberSubscription {
        MemberSubscription {
            group_instance_id: Some(instance.into()),
            ..member(id, subscribed)
        }
    }

    /// `buildSubscriptionV2Above(topics, owned, generation)`.
    fn owning(
        id: &str,
        subscribed: &[&str],
        owned: &[TopicPartition],
        generation: i32,
    ) -> MemberSubscription {
        let mut m = member(id, subscribed);
        m.subscription.owned_partitions = owned.to_vec();
        m.subscription.generation_id = generation;
        m
    }

    fn of<'a>(assignment: &'a Assignment, id: &str) -> &'a [TopicPartition] {
        assignment
            .get(id)
            .unwrap_or_else(|| panic!("no entry for {id} in {assignment:?}"))
    }

    fn set(list: &[TopicPartition]) -> BTreeSet<TopicPartition> {
        list.iter().cloned().collect()
    }

    /// Every partition of every topic is assigned exactly once.
    fn assert_complete(counts: &BTreeMap<Arc<str>, i32>, assignment: &Assignment) {
        let all: Vec<&TopicPartition> = assignment.values().flatten().collect();
        let unique: BTreeSet<&TopicPartition> = all.iter().copied().collect();
        assert_eq!(
            all.len(),
            unique.len(),
            "a partition assigned twice: {assignment:?}"
        );
        let total: i32 = counts.values().sum();
        assert_eq!(
            all.len(),
            total as usize,
            "not every partition assigned: {assignment:?}"
        );
    }

    // C0. Member ordering, seen through the range assignor: one topic with a partition per
    // member, so the member sorted first gets partition 0.
    fn order_by_range(members: &[MemberSubscription]) -> Vec<String> {
        let result = assign(Assignor::Range, &topics(&[("t", 3)]), members);
        let mut by_partition: Vec<(i32, String)> = result
            .iter()
            .map(|(id, parts)| (parts[0].partition, id.to_string()))
            .collect();
        by_partition.sort();
        by_partition.into_iter().map(|(_, id)| id).collect()
    }

    #[test]
    fn c0_member_info_sorting() {
        let none = [
            member("c", &["t"]),
            member("a", &["t"]),
            member("b", &["t"]),
        ];
        assert_eq!(order_by_range(&none), ["a", "b", "c"]);
        let all = [
            static_member("a", "y", &["t"]),
            static_member("b", "z", &["t"]),
            static_member("c", "x", &["t"]),
        ];
        assert_eq!(order_by_range(&all), ["c", "a", "b"]);
        let some = [
            member("a", &["t"]),
            static_member("b", "y", &["t"]),
            static_member("c", "x", &["t"]),
        ];
        assert_eq!(order_by_range(&some), ["c", "b", "a"]);
    }

    #[test]
    fn c1_range_assignor() {
        // 1. One consumer, two topics.
        let counts = topics(&[("topic1", 1), ("topic2", 2)]);
        let r = assign(
            Assignor::Range,
            &counts,
            &[member("consumer1", &["topic1", "topic2"])],
        );
        assert_eq!(
            set(of(&r, "consumer1")),
            set(&[tp("topic1", 0), tp("topic2", 0), tp("topic2", 1)])
        );
        // 2. and 3. Two consumers, one topic of one and of two partitions.
        let both = [
            member("consumer1", &["topic1"]),
            member("consumer2", &["topic1"]),
        ];
        let r = assign(Assignor::Range, &topics(&[("topic1", 1)]), &both);
        assert_eq!(
            (of(&r, "consumer1"), of(&r, "consumer2")),
            (&[tp("topic1", 0)][..], &[][..])
        );
        let r = assign(Assignor::Range, &topics(&[("topic1", 2)]), &both);
        assert_eq!(of(&r, "consumer1"), [tp("topic1", 0)]);
        assert_eq!(of(&r, "consumer2"), [tp("topic1", 1)]);
        // 4. Mixed subscriptions.
        let counts = topics(&[("topic1", 3), ("topic2", 2)]);
        let mixed = [
            member("consumer1", &["topic1"]),
            member("consumer2", &["topic1", "topic2"]),
            member("consumer3", &["topic1"]),
        ];
        let r = assign(Assignor::Range, &counts, &mixed);
        assert_eq!(of(&r, "consumer1"), [tp("topic1", 0)]);
        assert_eq!(
            set(of(&r, "consumer2")),
            set(&[tp("topic1", 1), tp("topic2", 0), tp("topic2", 1)])
        );
        assert_eq!(of(&r, "consumer3"), [tp("topic1", 2)]);
    }

    #[test]
    fn c1_range_two_topics_six_partitions_dynamic_and_static() {
        let counts = topics(&[("topic1", 3), ("topic2", 3)]);
        let first = set(&[
            tp("topic1", 0),
            tp("topic1", 1),
            tp("topic2", 0),
            tp("topic2", 1),
        ]);
        let second = set(&[tp("topic1", 2), tp("topic2", 2)]);
        let both = &["topic1", "topic2"];
        // 5. Dynamic members sort by member id.
        let r = assign(
            Assignor::Range,
            &counts,
            &[member("consumer1", both), member("consumer2", both)],
        );
        assert_eq!(
            (set(of(&r, "consumer1")), set(of(&r, "consumer2"))),
            (first.clone(), second.clone())
        );
        // 6. Instance ids decide, not member ids.
        let r = assign(
            Assignor::Range,
            &counts,
            &[
                static_member("consumer-b", "instance1", both),
                static_member("consumer-a", "instance2", both),
            ],
        );
        assert_eq!(
            (set(of(&r, "consumer-b")), set(of(&r, "consumer-a"))),
            (first.clone(), second.clone())
        );
        // 7. A static member sorts before a dynamic one.
        let r = assign(
            Assignor::Range,
            &counts,
            &[
                static_member("consumer-b", "instance1", both),
                member("consumer-a", both),
            ],
        );
        assert_eq!(
            (set(of(&r, "consumer-b")), set(of(&r, "consumer-a"))),
            (first, second)
        );
    }

    #[test]
    fn c1_8_static_member_range_assignment_persistent() {
        let counts = topics(&[("topic1", 5), ("topic2", 4)]);
        let both = &["topic1", "topic2"];
        let mut members = vec![
            static_member("consumer1", "instance1", both),
            static_member("consumer2", "instance2", both),
            static_member("consumer3", "instance3", both),
            member("consumer4", both),
        ];
        let r = assign(Assignor::Range, &counts, &members);
        assert_eq!(
            of(&r, "consumer1"),
            [tp("topic1", 0), tp("topic1", 1), tp("topic2", 0)]
        );
        assert_eq!(of(&r, "consumer2"), [tp("topic1", 2), tp("topic2", 1)]);
        assert_eq!(of(&r, "consumer3"), [tp("topic1", 3), tp("topic2", 2)]);
        assert_eq!(of(&r, "consumer4"), [tp("topic1", 4), tp("topic2", 3)]);
        // The dynamic member is replaced: the newcomer takes its place, the rest stay.
        members[3] = member("consumer5", both);
        let again = assign(Assignor::Range, &counts, &members);
        assert_eq!(of(&again, "consumer5"), [tp("topic1", 4), tp("topic2", 3)]);
        for id in ["consumer1", "consumer2", "consumer3"] {
            assert_eq!(of(&again, id), of(&r, id), "{id}");
        }
    }

    #[test]
    fn c1_9_static_member_range_assignment_persistent_after_member_ids_change() {
        let counts = topics(&[("topic1", 5), ("topic2", 5)]);
        let both = &["topic1", "topic2"];
        let expected = |r: &Assignment, ids: [&str; 3]| {
            assert_eq!(
                of(r, ids[0]),
                [
                    tp("topic1", 0),
                    tp("topic1", 1),
                    tp("topic2", 0),
                    tp("topic2", 1)
                ]
            );
            assert_eq!(
                of(r, ids[1]),
                [
                    tp("topic1", 2),
                    tp("topic1", 3),
                    tp("topic2", 2),
                    tp("topic2", 3)
                ]
            );
            assert_eq!(of(r, ids[2]), [tp("topic1", 4), tp("topic2", 4)]);
        };
        let members = [
            static_member("consumer1", "instance1", both),
            static_member("consumer2", "instance2", both),
            static_member("consumer3", "instance3", both),
        ];
        expected(
            &assign(Assignor::Range, &counts, &members),
            ["consumer1", "consumer2", "consumer3"],
        );
        // Restarted instances got new member ids in the opposite order.
        let swapped = [
            static_member("consumer3", "instance1", both),
            static_member("consumer2", "instance2", both),
            static_member("consumer1", "instance3", both),
        ];
        expected(
            &assign(Assignor::Range, &counts, &swapped),
            ["consumer3", "consumer2", "consumer1"],
        );
    }

    #[test]
    fn range_three_topics_follows_java_hash_map_topic_order() {
        // Derived: 7, 5 and 4 partitions over 3 members; the first member collects the extra
        // partition of every topic, and each list walks the topics in the iteration order of
        // Kafka's `partitionsPerTopic` HashMap.
        let counts = topics(&[("orders", 7), ("payments", 5), ("audit", 4)]);
        let all = &["orders", "payments", "audit"];
        let members = [member("c", all), member("a", all), member("b", all)];
        let r = assign(Assignor::Range, &counts, &members);
        let mut hash_order: JavaHashSet<Arc<str>> = JavaHashSet::new();
        for t in ["orders", "payments", "audit"] {
            hash_order.insert(t.into());
        }
        let topic_order: Vec<&str> = hash_order.iter().map(|t| &**t).collect();
        let ranges: BTreeMap<&str, [Vec<i32>; 3]> = [
            ("orders", [vec![0, 1, 2], vec![3, 4], vec![5, 6]]),
            ("payments", [vec![0, 1], vec![2, 3], vec![4]]),
            ("audit", [vec![0, 1], vec![2], vec![3]]),
        ]
        .into_iter()
        .collect();
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            let expected: Vec<TopicPartition> = topic_order
                .iter()
                .flat_map(|t| ranges[t][i].iter().map(|p| tp(t, *p)))
                .collect();
            assert_eq!(of(&r, id), expected, "member {id}");
        }
        assert_complete(&counts, &r);
    }

    #[test]
    fn c2_round_robin_assignor() {
        // 1.
        let counts = topics(&[("topic1", 1), ("topic2", 2)]);
        let r = assign(
            Assignor::RoundRobin,
            &counts,
            &[member("consumer", &["topic1", "topic2"])],
        );
        assert_eq!(
            of(&r, "consumer"),
            [tp("topic1", 0), tp("topic2", 0), tp("topic2", 1)]
        );
        // 2. and 3.
        let both = [
            member("consumer1", &["topic"]),
            member("consumer2", &["topic"]),
        ];
        let r = assign(Assignor::RoundRobin, &topics(&[("topic", 1)]), &both);
        assert_eq!(
            (of(&r, "consumer1"), of(&r, "consumer2")),
            (&[tp("topic", 0)][..], &[][..])
        );
        let r = assign(Assignor::RoundRobin, &topics(&[("topic", 2)]), &both);
        assert_eq!(
            (of(&r, "consumer1"), of(&r, "consumer2")),
            (&[tp("topic", 0)][..], &[tp("topic", 1)][..])
        );
        // 4. Mixed subscriptions: consumer2 alone takes topic2.
        let counts = topics(&[("topic1", 3), ("topic2", 2)]);
        let mixed = [
            member("consumer1", &["topic1"]),
            member("consumer2", &["topic1", "topic2"]),
            member("consumer3", &["topic1"]),
        ];
        let r = assign(Assignor::RoundRobin, &counts, &mixed);
        assert_eq!(of(&r, "consumer1"), [tp("topic1", 0)]);
        assert_eq!(
            of(&r, "consumer2"),
            [tp("topic1", 1), tp("topic2", 0), tp("topic2", 1)]
        );
        assert_eq!(of(&r, "consumer3"), [tp("topic1", 2)]);
    }

    #[test]
    fn c2_round_robin_two_topics_six_partitions() {
        let counts = topics(&[("topic1", 3), ("topic2", 3)]);
        let both = &["topic1", "topic2"];
        let first = [tp("topic1", 0), tp("topic1", 2), tp("topic2", 1)];
        let second = [tp("topic1", 1), tp("topic2", 0), tp("topic2", 2)];
        // 5.
        let r = assign(
            Assignor::RoundRobin,
            &counts,
            &[member("consumer1", both), member("consumer2", both)],
        );
        assert_eq!(
            (of(&r, "consumer1"), of(&r, "consumer2")),
            (&first[..], &second[..])
        );
        // 6. and 7.
        for other in [
            static_member("consumer-a", "instance2", both),
            member("consumer-a", both),
        ] {
            let members = [static_member("consumer-b", "instance1", both), other];
            let r = assign(Assignor::RoundRobin, &counts, &members);
            assert_eq!(
                (of(&r, "consumer-b"), of(&r, "consumer-a")),
                (&first[..], &second[..])
            );
        }
    }

    #[test]
    fn c2_8_and_9_static_members_keep_round_robin_assignments() {
        let counts = topics(&[("topic1", 3), ("topic2", 3)]);
        let both = &["topic1", "topic2"];
        let mut members = vec![
            static_member("consumer1", "instance1", both),
            static_member("consumer2", "instance2", both),
            static_member("consumer3", "instance3", both),
            member("consumer4", both),
        ];
        let r = assign(Assignor::RoundRobin, &counts, &members);
        assert_eq!(of(&r, "consumer1"), [tp("topic1", 0), tp("topic2", 1)]);
        assert_eq!(of(&r, "consumer2"), [tp("topic1", 1), tp("topic2", 2)]);
        assert_eq!(of(&r, "consumer3"), [tp("topic1", 2)]);
        assert_eq!(of(&r, "consumer4"), [tp("topic2", 0)]);
        members[3] = member("consumer5", both);
        let r = assign(Assignor::RoundRobin, &counts, &members);
        assert_eq!(of(&r, "consumer5"), [tp("topic2", 0)]);

        let counts = topics(&[("topic1", 5), ("topic2", 5)]);
        for ids in [["c1", "c2", "c3"], ["c3", "c2", "c1"]] {
            let members: Vec<MemberSubscription> = ids
                .iter()
                .zip(["instance1", "instance2", "instance3"])
                .map(|(id, instance)| static_member(id, instance, both))
                .collect();
            let r = assign(Assignor::RoundRobin, &counts, &members);
            assert_eq!(
                of(&r, ids[0]),
                [
                    tp("topic1", 0),
                    tp("topic1", 3),
                    tp("topic2", 1),
                    tp("topic2", 4)
                ]
            );
            assert_eq!(
                of(&r, ids[1]),
                [tp("topic1", 1), tp("topic1", 4), tp("topic2", 2)]
            );
            assert_eq!(
                of(&r, ids[2]),
                [tp("topic1", 2), tp("topic2", 0), tp("topic2", 3)]
            );
        }
    }

    #[test]
    fn round_robin_mixed_subscriptions_skip_without_resetting() {
        // Derived: partitions a-0 a-1 b-0 b-1 b-2 c-0 dealt over m1 (a, b, c), m2 (b),
        // m3 (a, c); the circular iterator keeps going across topics.
        let counts = topics(&[("a", 2), ("b", 3), ("c", 1)]);
        let members = [
            member("m3", &["a", "c"]),
            member("m1", &["a", "b", "c"]),
            member("m2", &["b"]),
        ];
        let r = assign(Assignor::RoundRobin, &counts, &members);
        assert_eq!(of(&r, "m1"), [tp("a", 0), tp("b", 0), tp("b", 2)]);
        assert_eq!(of(&r, "m2"), [tp("b", 1)]);
        assert_eq!(of(&r, "m3"), [tp("a", 1), tp("c", 0)]);
    }

    /// Runs a sticky assignor the way Kafka's `AbstractStickyAssignorTest` does: the eager
    /// assignor's answer as is, the cooperative one's after its follow-up rebalances.
    /// Returns the final assignment and how many follow-up rounds ran.
    fn sticky_final(
        assignor: Assignor,
        counts: &BTreeMap<Arc<str>, i32>,
        members: &[MemberSubscription],
    ) -> (Assignment, usize) {
        let mut members = members.to_vec();
        let mut assignment = assign(assignor, counts, &members);
        let rounds =
            complete_cooperative_rebalance(assignor, counts, &mut members, &mut assignment);
        assert!(
            rounds <= 4,
            "Kafka's test allows at most 4 follow-up rebalances"
        );
        assert_complete(counts, &assignment);
        (assignment, rounds)
    }

    const STICKY: [Assignor; 2] = [Assignor::Sticky, Assignor::CooperativeSticky];

    #[test]
    fn c3_1_and_2_fresh_groups() {
        for assignor in STICKY {
            let counts = topics(&[("topic", 2)]);
            let members = [
                member("consumer1", &["topic"]),
                member("consumer2", &["topic"]),
            ];
            let (r, _) = sticky_final(assignor, &counts, &members);
            assert_eq!(of(&r, "consumer1"), [tp("topic", 0)], "{assignor}");
            assert_eq!(of(&r, "consumer2"), [tp("topic", 1)], "{assignor}");

            let counts = topics(&[("topic1", 3), ("topic2", 3)]);
            let both = &["topic1", "topic2"];
            let (r, _) = sticky_final(
                assignor,
                &counts,
                &[member("consumer1", both), member("consumer2", both)],
            );
            assert_eq!(
                of(&r, "consumer1"),
                [tp("topic1", 0), tp("topic1", 2), tp("topic2", 1)],
                "{assignor}"
            );
            assert_eq!(
                of(&r, "consumer2"),
                [tp("topic1", 1), tp("topic2", 0), tp("topic2", 2)],
                "{assignor}"
            );
        }
    }

    #[test]
    fn c3_3_consumer_owning_min_quota_expected_max_quota() {
        let counts = topics(&[("topic1", 2), ("topic2", 3)]);
        let both = &["topic1", "topic2"];
        let members = [
            owning(
                "consumer1",
                both,
                &[tp("topic1", 0), tp("topic2", 1)],
                GENERATION,
            ),
            owning(
                "consumer2",
                both,
                &[tp("topic1", 1), tp("topic2", 2)],
                GENERATION,
            ),
        ];
        for assignor in STICKY {
            let (r, rounds) = sticky_final(assignor, &counts, &members);
            assert_eq!(
                of(&r, "consumer1"),
                [tp("topic1", 0), tp("topic2", 1), tp("topic2", 0)],
                "{assignor}"
            );
            assert_eq!(
                of(&r, "consumer2"),
                [tp("topic1", 1), tp("topic2", 2)],
                "{assignor}"
            );
            assert_eq!(rounds, 0, "nothing transferring");
        }
        assert!(
            assign_group(Assignor::CooperativeSticky, &counts, &members)
                .withheld
                .is_empty()
        );
    }

    #[test]
    fn c3_4_max_quota_consumer_more_than_num_expected_max_capacity_members() {
        // Which of consumer1/consumer2 keeps two partitions depends on Java HashMap order
        // (consumer2 comes first).
        let counts = topics(&[("topic1", 2), ("topic2", 2)]);
        let both = &["topic1", "topic2"];
        let members = [
            owning(
                "consumer1",
                both,
                &[tp("topic1", 0), tp("topic2", 0)],
                GENERATION,
            ),
            owning(
                "consumer2",
                both,
                &[tp("topic1", 1), tp("topic2", 1)],
                GENERATION,
            ),
            owning("consumer3", both, &[], GENERATION),
        ];
        for assignor in STICKY {
            let (r, _) = sticky_final(assignor, &counts, &members);
            assert_eq!(of(&r, "consumer1"), [tp("topic1", 0)], "{assignor}");
            assert_eq!(
                of(&r, "consumer2"),
                [tp("topic1", 1), tp("topic2", 1)],
                "{assignor}"
            );
            assert_eq!(of(&r, "consumer3"), [tp("topic2", 0)], "{assignor}");
        }
        let first = assign_group(Assignor::CooperativeSticky, &counts, &members);
        let expected: BTreeMap<TopicPartition, Arc<str>> =
            [(tp("topic2", 0), Arc::from("consumer3"))]
                .into_iter()
                .collect();
        assert_eq!(
            first.withheld, expected,
            "transferring topic2-0 -> consumer3"
        );
        assert!(of(&first.assignment, "consumer3").is_empty());
    }

    #[test]
    fn c3_5_all_consumers_are_under_min_quota() {
        let counts = topics(&[("topic1", 2), ("topic2", 3)]);
        let both = &["topic1", "topic2"];
        let members = [
            owning("consumer1", both, &[tp("topic1", 0)], GENERATION),
            owning("consumer2", both, &[tp("topic1", 1)], GENERATION),
            owning("consumer3", both, &[], GENERATION),
        ];
        for assignor in STICKY {
            let (r, _) = sticky_final(assignor, &counts, &members);
            assert_eq!(
                of(&r, "consumer1"),
                [tp("topic1", 0), tp("topic2", 1)],
                "{assignor}"
            );
            assert_eq!(
                of(&r, "consumer2"),
                [tp("topic1", 1), tp("topic2", 2)],
                "{assignor}"
            );
            assert_eq!(of(&r, "consumer3"), [tp("topic2", 0)], "{assignor}");
        }
    }

    #[test]
    fn c3_6_add_remove_consumer_one_topic() {
        let counts = topics(&[("topic", 3)]);
        for assignor in STICKY {
            let (step1, _) = sticky_final(assignor, &counts, &[member("consumer1", &["topic"])]);
            let all = [tp("topic", 0), tp("topic", 1), tp("topic", 2)];
            assert_eq!(of(&step1, "consumer1"), all, "{assignor}");

            let members = [
                owning("consumer1", &["topic"], of(&step1, "consumer1"), GENERATION),
                owning("consumer2", &["topic"], &[], GENERATION),
            ];
            let (step2, _) = sticky_final(assignor, &counts, &members);
            assert_eq!(
                of(&step2, "consumer1"),
                [tp("topic", 0), tp("topic", 1)],
                "{assignor}"
            );
            assert_eq!(of(&step2, "consumer2"), [tp("topic", 2)], "{assignor}");

            let members = [owning(
                "consumer2",
                &["topic"],
                of(&step2, "consumer2"),
                GENERATION,
            )];
            let (step3, _) = sticky_final(assignor, &counts, &members);
            assert_eq!(set(of(&step3, "consumer2")), set(&all), "{assignor}");
        }
        let members = [
            owning(
                "consumer1",
                &["topic"],
                &[tp("topic", 0), tp("topic", 1), tp("topic", 2)],
                GENERATION,
            ),
            owning("consumer2", &["topic"], &[], GENERATION),
        ];
        let first = assign_group(Assignor::CooperativeSticky, &counts, &members);
        assert_eq!(first.withheld.keys().collect::<Vec<_>>(), [&tp("topic", 2)]);
    }

    #[test]
    fn c3_8_all_consumers_reach_expected_quota_and_are_considered_filled() {
        let counts = topics(&[("topic", 4)]);
        let members = [
            owning(
                "consumer1",
                &["topic"],
                &[tp("topic", 0), tp("topic", 1)],
                GENERATION,
            ),
            owning("consumer2", &["topic"], &[tp("topic", 2)], GENERATION),
            owning("consumer3", &["topic"], &[], GENERATION),
        ];
        for assignor in STICKY {
            let (r, _) = sticky_final(assignor, &counts, &members);
            assert_eq!(
                of(&r, "consumer1"),
                [tp("topic", 0), tp("topic", 1)],
                "{assignor}"
            );
            assert_eq!(of(&r, "consumer2"), [tp("topic", 2)], "{assignor}");
            assert_eq!(of(&r, "consumer3"), [tp("topic", 3)], "{assignor}");
        }
    }

    #[test]
    fn c3_9_partition_claimed_by_multiple_consumers_in_same_generation() {
        let counts = topics(&[("topic", 3)]);
        let members = [
            owning(
                "consumer1",
                &["topic"],
                &[tp("topic", 0), tp("topic", 1)],
                GENERATION,
            ),
            owning(
                "consumer2",
                &["topic"],
                &[tp("topic", 0), tp("topic", 2)],
                GENERATION,
            ),
            owning("consumer3", &["topic"], &[], GENERATION),
        ];
        for assignor in STICKY {
            let (r, _) = sticky_final(assignor, &counts, &members);
            assert_eq!(of(&r, "consumer1"), [tp("topic", 1)], "{assignor}");
            assert_eq!(of(&r, "consumer2"), [tp("topic", 2)], "{assignor}");
            assert_eq!(of(&r, "consumer3"), [tp("topic", 0)], "{assignor}");
        }
    }

    #[test]
    fn c3_10_and_11_owned_partitions_of_a_stale_or_missing_generation_are_invalidated() {
        let counts = topics(&[("topic", 3), ("topic2", 3)]);
        let both = &["topic", "topic2"];
        let claimed = [tp("topic", 0), tp("topic", 2), tp("topic2", 1)];
        for stale_generation in [9, NO_GENERATION] {
            let members = [
                owning("consumer1", both, &claimed, 10),
                owning("consumer2", both, &claimed, stale_generation),
            ];
            for assignor in STICKY {
                let (r, _) = sticky_final(assignor, &counts, &members);
                assert_eq!(
                    set(of(&r, "consumer1")),
                    set(&claimed),
                    "{assignor} gen {stale_generation}"
                );
                assert_eq!(
                    set(of(&r, "consumer2")),
                    set(&[tp("topic", 1), tp("topic2", 0), tp("topic2", 2)]),
                    "{assignor} gen {stale_generation}"
                );
            }
        }
    }

    #[test]
    fn c3_15_multiple_consumers_mixed_topic_subscriptions() {
        // The general algorithm: subscriptions differ.
        let counts = topics(&[("topic1", 3), ("topic2", 2)]);
        let members = [
            member("consumer1", &["topic1"]),
            member("consumer2", &["topic1", "topic2"]),
            member("consumer3", &["topic1"]),
        ];
        for assignor in STICKY {
            let (r, _) = sticky_final(assignor, &counts, &members);
            assert_eq!(
                of(&r, "consumer1"),
                [tp("topic1", 0), tp("topic1", 2)],
                "{assignor}"
            );
            assert_eq!(
                of(&r, "consumer2"),
                [tp("topic2", 0), tp("topic2", 1)],
                "{assignor}"
            );
            assert_eq!(of(&r, "consumer3"), [tp("topic1", 1)], "{assignor}");
        }
    }

    #[test]
    fn sticky_member_removed_the_others_keep_theirs() {
        // Derived: a fresh group of three deals topic-0..5 round robin; when consumer2 leaves,
        // the survivors keep their partitions and split consumer2's, nothing moves twice.
        let counts = topics(&[("topic", 6)]);
        let three = [
            member("consumer1", &["topic"]),
            member("consumer2", &["topic"]),
            member("consumer3", &["topic"]),
        ];
        for assignor in STICKY {
            let (r, _) = sticky_final(assignor, &counts, &three);
            assert_eq!(
                of(&r, "consumer1"),
                [tp("topic", 0), tp("topic", 3)],
                "{assignor}"
            );
            assert_eq!(
                of(&r, "consumer2"),
                [tp("topic", 1), tp("topic", 4)],
                "{assignor}"
            );
            assert_eq!(
                of(&r, "consumer3"),
                [tp("topic", 2), tp("topic", 5)],
                "{assignor}"
            );
            let survivors = [
                owning("consumer1", &["topic"], of(&r, "consumer1"), GENERATION),
                owning("consumer3", &["topic"], of(&r, "consumer3"), GENERATION),
            ];
            let (after, rounds) = sticky_final(assignor, &counts, &survivors);
            assert_eq!(rounds, 0, "{assignor}: no one gives anything up");
            assert_eq!(
                of(&after, "consumer1"),
                [tp("topic", 0), tp("topic", 3), tp("topic", 1)]
            );
            assert_eq!(
                of(&after, "consumer3"),
                [tp("topic", 2), tp("topic", 5), tp("topic", 4)]
            );
        }
    }

    #[test]
    fn sticky_general_new_member_takes_over_a_shared_topic_in_two_rounds() {
        // Derived: consumer1 reads t1 and t2 alone; consumer2 joins for t1 only. The general
        // algorithm moves both t1 partitions; cooperatively they are withheld in round one.
        let counts = topics(&[("t1", 2), ("t2", 2)]);
        let all = [tp("t1", 0), tp("t1", 1), tp("t2", 0), tp("t2", 1)];
        let members = [
            owning("consumer1", &["t1", "t2"], &all, GENERATION),
            member("consumer2", &["t1"]),
        ];
        for assignor in STICKY {
            let (r, rounds) = sticky_final(assignor, &counts, &members);
            assert_eq!(
                of(&r, "consumer1"),
                [tp("t2", 0), tp("t2", 1)],
                "{assignor}"
            );
            assert_eq!(
                of(&r, "consumer2"),
                [tp("t1", 0), tp("t1", 1)],
                "{assignor}"
            );
            let expected_rounds = usize::from(assignor == Assignor::CooperativeSticky);
            assert_eq!(rounds, expected_rounds, "{assignor}");
        }
        let first = assign_group(Assignor::CooperativeSticky, &counts, &members);
        assert!(of(&first.assignment, "consumer2").is_empty());
        let withheld: Vec<(&TopicPartition, &str)> =
            first.withheld.iter().map(|(tp, m)| (tp, &**m)).collect();
        assert_eq!(
            withheld,
            [(&tp("t1", 0), "consumer2"), (&tp("t1", 1), "consumer2")]
        );
    }

    #[test]
    fn c4_1_and_2_multiply_claimed_partition_is_withheld_in_the_first_round() {
        let owners = |count| {
            let counts = topics(&[("topic", count)]);
            let members = [
                owning(
                    "consumer1",
                    &["topic"],
                    &[tp("topic", 0), tp("topic", 1)],
                    GENERATION,
                ),
                owning(
                    "consumer2",
                    &["topic"],
                    &[tp("topic", 0), tp("topic", 2)],
                    GENERATION,
                ),
                owning("consumer3", &["topic"], &[], GENERATION),
            ];
            assign_group(Assignor::CooperativeSticky, &counts, &members)
        };
        let equal = owners(3);
        assert_eq!(of(&equal.assignment, "consumer1"), [tp("topic", 1)]);
        assert_eq!(of(&equal.assignment, "consumer2"), [tp("topic", 2)]);
        assert!(of(&equal.assignment, "consumer3").is_empty());
        assert!(
            equal.withheld.contains_key(&tp("topic", 0)),
            "topic-0 waits until revoked"
        );

        let unequal = owners(4);
        assert_eq!(
            of(&unequal.assignment, "consumer1"),
            [tp("topic", 1), tp("topic", 3)]
        );
        assert_eq!(of(&unequal.assignment, "consumer2"), [tp("topic", 2)]);
        assert!(of(&unequal.assignment, "consumer3").is_empty());
    }

    #[test]
    fn c4_3_assignor_with_old_version_subscriptions() {
        let counts = topics(&[("topic1", 3)]);
        let members = [
            owning("consumer1", &["topic1"], &[tp("topic1", 0)], GENERATION),
            owning("consumer2", &["topic1"], &[tp("topic1", 1)], GENERATION),
            owning("consumer3", &["topic1"], &[], GENERATION),
        ];
        let r = assign(Assignor::CooperativeSticky, &counts, &members);
        assert_eq!(of(&r, "consumer1"), [tp("topic1", 0)]);
        assert_eq!(of(&r, "consumer2"), [tp("topic1", 1)]);
        assert_eq!(of(&r, "consumer3"), [tp("topic1", 2)]);
    }

    #[test]
    fn cooperative_first_round_never_hands_over_an_owned_partition() {
        // KIP-429's safety rule: in one round a partition is not given to a member while
        // another member still owns it. Checked over all the owned-partition cases above.
        let cases: Vec<(Counts, Vec<MemberSubscription>)> = vec![
            (
                topics(&[("t", 5)]),
                vec![
                    owning(
                        "a",
                        &["t"],
                        &[tp("t", 0), tp("t", 1), tp("t", 2), tp("t", 3), tp("t", 4)],
                        3,
                    ),
                    owning("b", &["t"], &[], 3),
                    owning("c", &["t"], &[], NO_GENERATION),
                ],
            ),
            (
                topics(&[("x", 3), ("y", 2)]),
                vec![
                    owning("a", &["x", "y"], &[tp("x", 0), tp("y", 0), tp("y", 1)], 2),
                    owning("b", &["x"], &[tp("x", 1), tp("x", 2)], 2),
                    owning("c", &["x", "y"], &[], NO_GENERATION),
                ],
            ),
        ];
        for (counts, members) in cases {
            let first = assign_group(Assignor::CooperativeSticky, &counts, &members);
            for (id, assigned) in &first.assignment {
                for tp in assigned {
                    let owner = members.iter().find(|m| {
                        m.member_id != *id && m.subscription.owned_partitions.contains(tp)
                    });
                    assert!(
                        owner.is_none(),
                        "{tp} given to {id} while {owner:?} owns it"
                    );
                }
            }
            let (final_state, rounds) =
                sticky_final(Assignor::CooperativeSticky, &counts, &members);
            assert!(rounds >= 1, "something had to move: {final_state:?}");
        }
    }
}
