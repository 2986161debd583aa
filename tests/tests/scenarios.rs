//! What each built-in scenario teaches, asserted on its summary numbers.

use kafkalab_tests::{builtin, run};

#[test]
fn quickstart_delivers_everything_once_keyed_by_partition() {
    let s = builtin("quickstart");
    for seed in 0..5 {
        let sim = run(&s, seed);
        let sum = sim.summary();
        assert_eq!(
            (sum.produced, sum.acked, sum.consumed),
            (30, 30, 30),
            "seed {seed}"
        );
        assert_eq!(
            (
                sum.lost_write,
                sum.duplicate_in_log,
                sum.unseen,
                (sum.unknown_outcome + sum.pending)
            ),
            (0, 0, 0, 0)
        );
        // Same key, same partition: every value of a key sits in one partition.
        let history = sim.history();
        for key in ["alice", "bob", "carol", "dave", "erin"] {
            let mut partitions: Vec<i32> = history
                .sends
                .values()
                .filter(|r| r.key.as_deref() == Some(key))
                .map(|r| r.tp.partition)
                .collect();
            partitions.dedup();
            assert_eq!(partitions.len(), 1, "{key} went to {partitions:?}");
            let expected = kafkalab_sim::utils::partition_for_key(key.as_bytes(), 3);
            assert_eq!(partitions[0], expected);
        }
    }
}

#[test]
fn broker_faults_show_unknown_outcomes_and_power_loss_data_loss() {
    let s = builtin("broker-faults");
    for seed in 0..4 {
        let sum = run(&s, seed).summary();
        assert!(
            (sum.unknown_outcome + sum.pending) > 0,
            "seed {seed}: the crash and the cut leave unknown outcomes: {sum:?}"
        );
        assert!(
            sum.lost_write > 0,
            "seed {seed}: the power loss destroys acked, unflushed records: {sum:?}"
        );
        assert_eq!(
            sum.duplicate_in_log, 0,
            "seed {seed}: no retries, so no duplicates"
        );
        // While a crashed sole replica is fenced its partitions have no leader: the records
        // wait for one and fail at delivery.timeout.ms (a timeout); a stale leader answers
        // NOT_LEADER_OR_FOLLOWER, which retries=0 does not retry.
        let sim = run(&s, seed);
        for send in sim.history().sends.values() {
            if let kafkalab_sim::history::Outcome::Failed { error } = send.outcome {
                assert!(
                    matches!(
                        error,
                        kafkalab_sim::protocol::Errors::RequestTimedOut
                            | kafkalab_sim::protocol::Errors::NotLeaderOrFollower
                    ),
                    "seed {seed}: unexpected {error}"
                );
            }
        }
        assert_eq!(
            sum.acked + (sum.unknown_outcome + sum.pending) + sum.failed,
            sum.produced,
            "seed {seed}"
        );
    }
}

#[test]
fn a_plain_crash_loses_nothing_that_was_acknowledged() {
    // broker-faults up to just before the power loss: only the crash, pause and cut happened.
    let s = builtin("broker-faults");
    let mut sim = kafkalab_sim::Simulation::new(s, 5);
    sim.run_until(kafkalab_sim::kernel::SimTime::from_secs(34));
    let sum = sim.summary();
    assert_eq!(sum.lost_write, 0, "{sum:?}");
    assert!((sum.unknown_outcome + sum.pending) > 0);
}

/// `key-partitioning`: 5 keys on 3 partitions, then the topic grows to 6 at 12s and the
/// producer (metadata.max.age.ms = 10s) picks the change up at its next refresh.
#[test]
fn key_partitioning_moves_some_keys_after_the_producers_metadata_refresh() {
    use kafkalab_sim::protocol::NO_LEADER;
    use kafkalab_sim::utils::partition_for_key;
    use std::collections::{BTreeMap, BTreeSet};

    const KEYS: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];
    const GROWN_AT_MS: i64 = 12_000;
    const METADATA_MAX_AGE_MS: i64 = 10_000;
    let s = builtin("key-partitioning");
    // The comment block's claim: alice and dave move, the others stay.
    let moved: Vec<&str> = KEYS
        .into_iter()
        .filter(|k| partition_for_key(k.as_bytes(), 3) != partition_for_key(k.as_bytes(), 6))
        .collect();
    assert_eq!(moved, ["alice", "dave"]);

    for seed in [s.default_seed, 2, 3, 4] {
        let sim = run(&s, seed);
        let sum = sim.summary();
        assert_eq!(
            (sum.produced, sum.acked, sum.consumed),
            (300, 300, 300),
            "seed {seed}: {sum:?}"
        );
        assert_eq!(
            (
                sum.lost_write,
                sum.duplicate_in_log,
                sum.unseen,
                sum.unknown_outcome
            ),
            (0, 0, 0, 0),
            "seed {seed}: nothing is lost, only reordered"
        );
        // Every record in the final logs: (creation time, key, partition).
        let mut records = Vec::new();
        for (tp, log) in sim.final_logs() {
            for r in log.records() {
                let key = r.key.as_deref().expect("keyed").to_string();
                records.push((r.timestamp_ms, key, tp.partition));
            }
        }
        assert_eq!(records.len(), 300, "seed {seed}");
        // The producer switches to % 6 at one moment: its first send to a moved key's new
        // partition. That is after the change, and at most one refresh interval later.
        let switch = records
            .iter()
            .filter(|(_, key, p)| partition_for_key(key.as_bytes(), 3) != *p)
            .map(|(t, _, _)| *t)
            .min()
            .expect("some key moved");
        assert!(
            switch > GROWN_AT_MS && switch <= GROWN_AT_MS + METADATA_MAX_AGE_MS,
            "seed {seed}: the producer switched at {switch} ms"
        );
        let mut partitions: BTreeMap<&str, BTreeSet<i32>> = BTreeMap::new();
        for (t, key, p) in &records {
            let partition_count = if *t < switch { 3 } else { 6 };
            assert_eq!(
                *p,
                partition_for_key(key.as_bytes(), partition_count),
                "seed {seed}: {key} at {t} ms is in the murmur2 partition for {partition_count}"
            );
            partitions.entry(key).or_default().insert(*p);
        }
        for key in KEYS {
            let expected: BTreeSet<i32> = [
                partition_for_key(key.as_bytes(), 3),
                partition_for_key(key.as_bytes(), 6),
            ]
            .into();
            assert_eq!(
                partitions[key], expected,
                "seed {seed}: {key} is in one partition, or two if it moved"
            );
        }
        // The cluster ends with 6 partitions, each led and fully in sync.
        let parts = &sim.metadata().topics["user-events"];
        assert_eq!(parts.len(), 6, "seed {seed}");
        for p in parts {
            assert_ne!(p.leader, NO_LEADER, "seed {seed}: {p:?}");
            assert_eq!(p.isr.len(), 2, "seed {seed}: {p:?}");
        }
    }
}
