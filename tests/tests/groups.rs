//! Consumer groups: rebalances, delivery semantics of the application, and what the
//! coordinator keeps — asserted over many seeds on the scenarios' summary numbers.

use kafkalab_tests::{builtin, run};

const SEEDS: std::ops::Range<u64> = 0..100;

#[test]
fn every_join_is_a_rebalance_and_the_group_reads_everything_once() {
    let s = builtin("rebalance-on-join");
    for seed in 0..10 {
        let sim = run(&s, seed);
        let sum = sim.summary();
        assert_eq!(sum.rebalances, 3, "seed {seed}: one per member that joined");
        assert_eq!(sum.acked, 600, "seed {seed}");
        // Auto-commit before each rebalance: nothing read twice, nothing skipped.
        assert_eq!(
            (sum.processed_twice, sum.never_processed),
            (0, 0),
            "seed {seed}"
        );
        let groups = sim.groups();
        assert_eq!(groups.len(), 1);
        let g = &groups[0];
        assert_eq!((g.state, g.generation, g.members.len()), ("Stable", 3, 3));
        let mut assigned: Vec<_> = g
            .members
            .iter()
            .flat_map(|m| m.assignment.clone())
            .collect();
        assigned.sort();
        assert_eq!(
            assigned.len(),
            6,
            "each partition exactly once: {assigned:?}"
        );
        assigned.dedup();
        assert_eq!(assigned.len(), 6);
        assert!(
            g.offsets.iter().all(|o| o.lag == Some(0)),
            "{:?}",
            g.offsets
        );
    }
}

#[test]
fn a_crashed_member_is_removed_after_its_session_times_out() {
    let s = builtin("consumer-crash-rebalance");
    for seed in 0..10 {
        let sim = run(&s, seed);
        let sum = sim.summary();
        assert_eq!(sum.rebalances, 2, "seed {seed}");
        assert_eq!(sum.never_processed, 0, "seed {seed}");
        let g = &sim.groups()[0];
        assert_eq!(
            g.members.len(),
            1,
            "seed {seed}: the crashed member is gone"
        );
        assert_eq!(g.members[0].assignment.len(), 4);
    }
}

#[test]
fn process_then_commit_duplicates_but_never_loses() {
    let s = builtin("at-least-once-duplicates");
    let mut twice = 0;
    for seed in SEEDS {
        let sum = run(&s, seed).summary();
        assert_eq!(sum.never_processed, 0, "seed {seed}: {sum:?}");
        if sum.processed_twice > 0 {
            twice += 1;
        }
    }
    assert!(twice > 0, "some seed processes a record twice");
}

#[test]
fn commit_before_process_loses_but_never_duplicates() {
    let s = builtin("at-most-once-loss");
    let mut lost = 0;
    for seed in SEEDS {
        let sum = run(&s, seed).summary();
        assert_eq!(sum.processed_twice, 0, "seed {seed}: {sum:?}");
        if sum.never_processed > 0 {
            lost += 1;
        }
    }
    assert!(lost > 0, "some seed never processes a committed record");
}
