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
