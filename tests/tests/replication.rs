//! Replication scenarios: each test asserts the lesson its scenario teaches, over seeds, and
//! that the replicas' committed prefixes agree wherever the lesson says they should.

use kafkalab_sim::Simulation;
use kafkalab_sim::history::Outcome;
use kafkalab_sim::kernel::SimTime;
use kafkalab_sim::protocol::{Errors, TopicPartition};
use kafkalab_tests::{builtin, cli, run};
use std::sync::Arc;

const TRUNCATION: &str = "sim.follower.truncation";

/// Runs `name` with one extra cluster setting to the end.
fn run_with(name: &str, key: &str, value: &str, seed: u64) -> Simulation {
    let s = builtin(name)
        .with_cluster_config(key, value)
        .expect("valid override");
    let mut sim = Simulation::new(Arc::new(s), seed);
    sim.run_to_end();
    sim
}

/// Debug view of every replica of `tp`.
fn replicas(sim: &Simulation, tp: &TopicPartition) -> String {
    sim.replica_logs(tp)
        .iter()
        .map(|(id, log)| {
            let values: Vec<String> = log
                .records()
                .map(|r| format!("{}:{}", r.offset, r.value.as_deref().unwrap_or("-")))
                .collect();
            format!(
                "broker-{id} hw={} leo={} epochs={:?} [{}]",
                log.high_watermark(),
                log.log_end_offset(),
                log.leader_epoch_cache().entries(),
                values.join(" ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first offset below both replicas' HWs where two replicas hold different records,
/// for every pair of replicas of every partition (`None` when all committed prefixes agree).
fn committed_divergence(sim: &Simulation) -> Option<String> {
    for p in sim.metadata().all_partitions() {
        let logs = sim.replica_logs(&p.tp);
        for (i, (a, la)) in logs.iter().enumerate() {
            for (b, lb) in &logs[i + 1..] {
                let hw = la.high_watermark().min(lb.high_watermark());
                let start = la.log_start_offset().max(lb.log_start_offset());
                for offset in start..hw {
                    let va = la.record_at(offset).map(|r| r.value.clone());
                    let vb = lb.record_at(offset).map(|r| r.value.clone());
                    if va != vb {
                        return Some(format!(
                            "{}: offset {offset}: broker-{a} {va:?} vs broker-{b} {vb:?}",
                            p.tp
                        ));
                    }
                }
            }
        }
    }
    None
}

fn assert_consistent(sim: &Simulation, what: &str) {
    if let Some(d) = committed_divergence(sim) {
        panic!("{what}: committed prefixes disagree at {d}");
    }
}

fn isr(sim: &Simulation, topic: &str, partition: i32) -> Vec<i32> {
    let tp = TopicPartition::new(topic, partition);
    sim.metadata()
        .partition(&tp)
        .map(|p| p.isr.clone())
        .unwrap_or_default()
}

fn leader(sim: &Simulation, topic: &str, partition: i32) -> i32 {
    let tp = TopicPartition::new(topic, partition);
    sim.metadata().partition(&tp).map_or(-2, |p| p.leader)
}

fn sorted(mut v: Vec<i32>) -> Vec<i32> {
    v.sort();
    v
}

#[test]
fn leader_failure_never_loses_an_acknowledged_record() {
    let s = builtin("leader-failure");
    for seed in 0..6 {
        let sim = run(&s, seed);
        let sum = sim.summary();
        assert_eq!(sum.lost_write, 0, "seed {seed}: {sum:?}");
        assert!(sum.leader_elections >= 1, "seed {seed}: {sum:?}");
        assert!(sum.acked > 5000, "seed {seed}: {sum:?}");
        assert_eq!(
            leader(&sim, "orders", 0),
            2,
            "seed {seed}: next in replica order"
        );
        assert_eq!(
            sorted(isr(&sim, "orders", 0)),
            [1, 2, 3],
            "seed {seed}: ISR full again"
        );
        assert_consistent(&sim, &format!("leader-failure seed {seed}"));
    }
}

#[test]
fn acks1_loses_acknowledged_records_and_run_json_says_so() {
    let s = builtin("acks1-data-loss");
    let losing = (0..100)
        .find(|seed| run(&s, *seed).summary().lost_write > 0)
        .expect("some seed in 0..100 loses an acked record");
    let (code, out, _) = cli(&[
        "run",
        "acks1-data-loss",
        "--seed",
        &losing.to_string(),
        "--json",
    ]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert!(json["lost_write"].as_u64().unwrap() > 0, "{json}");
    let sim = run(&s, losing);
    assert_consistent(&sim, "acks1-data-loss after the deposed leader truncated");
    // The same isolation with acks=all acknowledges nothing that is later lost.
    let text = kafkalab_sim::scenario::builtin_text("acks1-data-loss").unwrap();
    let all = text.replace("acks = \"1\"", "acks = \"all\"");
    let scenario = kafkalab_sim::scenario::parse_scenario(&all, "acks-all.toml").unwrap();
    let sum = run(&Arc::new(scenario), losing).summary();
    assert_eq!(sum.lost_write, 0, "acks=all: {sum:?}");
    assert!(
        (sum.unknown_outcome + sum.pending) + sum.failed > 0,
        "acks=all writes time out instead: {sum:?}"
    );
}

#[test]
fn unclean_election_loses_data_and_a_clean_one_waits() {
    let s = builtin("unclean-election-data-loss");
    for seed in 0..3 {
        let sim = run(&s, seed);
        let sum = sim.summary();
        assert!(sum.lost_write > 0, "seed {seed}: {sum:?}");
        assert_eq!(
            leader(&sim, "orders", 0),
            3,
            "seed {seed}: the stale replica leads"
        );
        assert_consistent(
            &sim,
            "after the unclean election everyone truncated to match",
        );
    }
    let clean = s
        .with_cluster_config("unclean.leader.election.enable", "false")
        .unwrap();
    let mut sim = Simulation::new(Arc::new(clean), 0);
    sim.run_until(SimTime::from_secs(40));
    assert_eq!(leader(&sim, "orders", 0), -1, "offline rather than unclean");
    sim.run_to_end();
    assert_eq!(sim.summary().lost_write, 0, "{:?}", sim.summary());
}

#[test]
fn min_isr_rejects_writes_instead_of_losing_them() {
    let s = builtin("min-isr-rejects-writes");
    for seed in 0..3 {
        let sim = run(&s, seed);
        let sum = sim.summary();
        assert_eq!(sum.lost_write, 0, "seed {seed}: {sum:?}");
        // The producer retries NOT_ENOUGH_REPLICAS until delivery.timeout.ms, then the send
        // fails with a timeout: refused, not lost.
        let history = sim.history();
        assert!(
            history.retries.get(&Errors::NotEnoughReplicas) > Some(&0),
            "seed {seed}: NOT_ENOUGH_REPLICAS retries expected: {:?}",
            history.retries
        );
        let timed_out = history
            .sends
            .values()
            .filter(|r| {
                r.outcome
                    == Outcome::Failed {
                        error: Errors::RequestTimedOut,
                    }
            })
            .count();
        assert!(
            timed_out > 0,
            "seed {seed}: delivery timeouts expected: {sum:?}"
        );
        assert_eq!(sorted(isr(&sim, "orders", 0)), [1, 2, 3], "seed {seed}");
        assert_consistent(&sim, "min-isr-rejects-writes");
    }
}

#[test]
fn a_paused_follower_leaves_the_isr_and_rejoins() {
    let s = builtin("slow-follower-isr-shrink");
    for seed in 0..3 {
        let mut sim = Simulation::new(s.clone(), seed);
        sim.run_until(SimTime::from_secs(9));
        assert_eq!(sorted(isr(&sim, "orders", 0)), [1, 2, 3]);
        sim.run_until(SimTime::from_secs(17));
        assert_eq!(
            isr(&sim, "orders", 0),
            [1, 2],
            "seed {seed}: shrunk by the lag rule"
        );
        assert_eq!(
            sim.summary().leader_elections,
            0,
            "never fenced, never re-elected"
        );
        sim.run_to_end();
        assert_eq!(
            sorted(isr(&sim, "orders", 0)),
            [1, 2, 3],
            "seed {seed}: rejoined"
        );
        assert_eq!(sim.summary().lost_write, 0);
        assert_consistent(&sim, "slow-follower-isr-shrink");
    }
}

#[test]
fn preferred_leader_election_moves_leadership_back() {
    let s = builtin("preferred-leader-election");
    for seed in 0..3 {
        let mut sim = Simulation::new(s.clone(), seed);
        sim.run_until(SimTime::from_secs(18));
        assert_eq!(leader(&sim, "orders", 0), 2, "seed {seed}: failed over");
        sim.run_to_end();
        for p in 0..3 {
            let tp = TopicPartition::new("orders", p);
            let rec = sim.metadata().partition(&tp).unwrap();
            assert_eq!(
                rec.leader, rec.replicas[0],
                "seed {seed}: {tp} back on its preferred leader"
            );
        }
        assert!(sim.summary().leader_elections >= 2);
        assert_eq!(sim.summary().lost_write, 0);
        assert_consistent(&sim, "preferred-leader-election");
    }
}

#[test]
fn kip101_hw_truncation_loses_m2_only_without_leader_epochs() {
    for seed in 0..3 {
        let old = run_with("kip101-hw-truncation", TRUNCATION, "pre-kip-101", seed);
        assert_eq!(
            old.summary().lost_write,
            1,
            "seed {seed}: m2 lost: {:?}",
            old.summary()
        );
        let new = run_with("kip101-hw-truncation", TRUNCATION, "kip-279", seed);
        assert_eq!(
            new.summary().lost_write,
            0,
            "seed {seed}: {:?}",
            new.summary()
        );
        assert_consistent(&new, "kip101-hw-truncation with epochs");
    }
}

#[test]
fn kip101_divergence_happens_only_without_leader_epochs() {
    for seed in 0..3 {
        let old = run_with("kip101-divergence", TRUNCATION, "pre-kip-101", seed);
        let tp = TopicPartition::new("orders", 0);
        assert!(
            committed_divergence(&old).is_some(),
            "seed {seed}: pre-KIP-101 replicas should diverge:\n{}",
            replicas(&old, &tp)
        );
        let new = run_with("kip101-divergence", TRUNCATION, "kip-279", seed);
        assert_consistent(&new, "kip101-divergence with epochs");
        let leader_log = &new.replica_logs(&tp)[0].1;
        assert_eq!(leader_log.log_end_offset(), 2, "m1 and m3");
    }
}

#[test]
fn kip279_converges_where_kip101_alone_diverges() {
    for seed in 0..3 {
        let kip101 = run_with("kip279-fast-failover", TRUNCATION, "kip-101", seed);
        assert!(
            committed_divergence(&kip101).is_some(),
            "seed {seed}: KIP-101 alone should diverge:\n{}",
            replicas(&kip101, &TopicPartition::new("orders", 0))
        );
        let kip279 = run_with("kip279-fast-failover", TRUNCATION, "kip-279", seed);
        assert_consistent(&kip279, "kip279-fast-failover with KIP-279");
    }
}
