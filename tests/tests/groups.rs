//! Consumer groups: rebalances, delivery semantics of the application, and what the
//! coordinator keeps — asserted over many seeds on the scenarios' summary numbers.

use kafkalab_sim::Simulation;
use kafkalab_sim::kernel::{At, NodeStatus, SimTime};
use kafkalab_sim::scenario::{Action, Scenario, builtin_text, parse_scenario};
use kafkalab_tests::{builtin, run};
use std::sync::Arc;

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

/// `consumer-crash-rebalance` with consumer-2 joining at 20s and `entries` as its timeline.
fn late_member(entries: &str) -> Arc<Scenario> {
    let text = builtin_text("consumer-crash-rebalance").expect("built-in");
    let (base, _) = text.split_once("[[timeline]]").expect("it has a timeline");
    let joined = "name = \"consumer-2\"\ntopic = \"orders\"\n";
    assert!(base.contains(joined));
    let base = base.replace(joined, &format!("{joined}start = \"20s\"\n"));
    let text = format!("{base}{entries}");
    Arc::new(parse_scenario(&text, "late-member.toml").expect("valid"))
}

fn entry(at: &str, action: &str) -> String {
    format!("[[timeline]]\nat = \"{at}\"\naction = \"{action}\"\nnode = \"consumer-2\"\n")
}

/// The group's members' client ids and how many partitions each holds.
fn members(sim: &Simulation) -> Vec<(String, usize)> {
    sim.groups()
        .iter()
        .flat_map(|g| &g.members)
        .map(|m| (m.client_id.to_string(), m.assignment.len()))
        .collect()
}

/// A timeline action on a consumer that joins later (its `start`) applies at its own time:
/// node ids exist only once the consumer has joined, so the run resolves it then.
#[test]
fn timeline_actions_reach_a_member_that_joins_later() {
    let removed = late_member(&entry("30s", "remove-client"));
    let crashed = late_member(&entry("30s", "crash"));
    let paused = late_member(&(entry("30s", "pause") + &entry("45s", "resume")));
    for seed in 0..5 {
        for (s, status) in [
            (&removed, NodeStatus::Removed),
            (&crashed, NodeStatus::Crashed),
            (&paused, NodeStatus::Paused),
        ] {
            let what = format!("seed {seed}, {status:?}");
            let mut sim = Simulation::new(s.clone(), seed);
            sim.run_until(SimTime::from_secs(28));
            let both = vec![("consumer-1".to_string(), 2), ("consumer-2".to_string(), 2)];
            assert_eq!(members(&sim), both, "{what}: consumer-2 joined at 20s");
            sim.run_until(SimTime::from_secs(31));
            let node = sim
                .world()
                .node_id("consumer-2")
                .expect("consumer-2 joined");
            assert_eq!(sim.world().status(node), Some(status), "{what}");
            sim.run_until(SimTime::from_secs(44));
            // No heartbeat since 30s: its session (10 s) timed out.
            let alone = vec![("consumer-1".to_string(), 4)];
            assert_eq!(members(&sim), alone, "{what}: consumer-1 took over");
            sim.run_to_end();
            let sum = sim.summary();
            assert_eq!(sum.never_processed, 0, "{what}: {sum:?}");
            if status != NodeStatus::Paused {
                assert_eq!(sum.rebalances, 3, "{what}: start, join, removal");
                assert_eq!(members(&sim), alone, "{what}: consumer-2 stays gone");
            }
        }
    }
}

/// Interactive play may act on a consumer that has not joined yet, at or after its `start`.
#[test]
fn an_action_before_a_member_joins_is_refused_and_one_after_waits_for_it() {
    let mut sim = Simulation::new(late_member(""), 1);
    let remove = || Action::RemoveClient {
        node: "consumer-2".to_string(),
    };
    let err = sim
        .schedule(At::Time(SimTime::from_secs(10)), remove())
        .expect_err("consumer-2 joins at 20s");
    assert!(err.0.contains("joins the run at 20.000000s"), "{err}");
    sim.schedule(At::Time(SimTime::from_secs(25)), remove())
        .expect("after it joins");
    sim.run_until(SimTime::from_secs(26));
    let node = sim.world().node_id("consumer-2").expect("joined");
    assert_eq!(sim.world().status(node), Some(NodeStatus::Removed));
}
