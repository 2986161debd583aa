//! The producer as Kafka ships it: retries, duplicates, reordering, delivery timeouts and
//! idempotence, asserted over many seeds on what a user of the scenarios would see.

use kafkalab_sim::history::Outcome;
use kafkalab_sim::protocol::Errors;
use kafkalab_tests::{builtin, run};
use std::collections::BTreeSet;
use std::sync::Arc;

const SEEDS: std::ops::Range<u64> = 0..100;

#[test]
fn without_idempotence_retries_duplicate_records() {
    let s = builtin("retry-duplicates");
    let mut with_duplicates = 0;
    for seed in SEEDS {
        let sum = run(&s, seed).summary();
        assert_eq!(sum.lost_write, 0, "seed {seed}: acks=all loses nothing");
        if sum.duplicate_in_log > 0 {
            with_duplicates += 1;
        }
    }
    assert!(with_duplicates > 0, "some seed writes a record twice");
}

#[test]
fn the_idempotent_producer_never_duplicates_under_the_same_faults() {
    let dup = builtin("retry-duplicates");
    let idem = builtin("idempotent-producer");
    // Same cluster, workload and faults; only the producer's idempotence differs.
    assert_eq!(
        format!("{:?}", dup.timeline),
        format!("{:?}", idem.timeline)
    );
    assert_eq!(dup.topics.len(), idem.topics.len());
    assert!(!dup.producers[0].config.enable_idempotence);
    assert!(idem.producers[0].config.enable_idempotence);
    let mut retried = 0;
    for seed in SEEDS {
        let sim = run(&idem, seed);
        let sum = sim.summary();
        assert_eq!(
            (sum.duplicate_in_log, sum.reordered, sum.lost_write),
            (0, 0, 0),
            "seed {seed}: {sum:?}"
        );
        retried += sim.history().retries.values().sum::<u64>();
    }
    assert!(retried > 0, "the faults did make the producer retry");
}

#[test]
fn retries_with_five_in_flight_reorder_unless_one_in_flight_or_idempotent() {
    let s = builtin("retry-reordering");
    let one_in_flight = Arc::new(
        s.with_producer_config("max.in.flight.requests.per.connection", "1")
            .expect("valid"),
    );
    let idempotent = Arc::new(
        s.with_producer_config("enable.idempotence", "true")
            .expect("valid"),
    );
    let mut reordered_seeds = 0;
    for seed in SEEDS {
        if run(&s, seed).summary().reordered > 0 {
            reordered_seeds += 1;
        }
        for (label, fixed) in [("in-flight 1", &one_in_flight), ("idempotent", &idempotent)] {
            let sum = run(fixed, seed).summary();
            assert_eq!(sum.reordered, 0, "seed {seed}, {label}: {sum:?}");
            assert_eq!(sum.duplicate_in_log, 0, "seed {seed}, {label}: {sum:?}");
        }
    }
    assert!(reordered_seeds > 0, "some seed reorders");
}

#[test]
fn a_delivery_timeout_is_an_unknown_outcome_and_usually_a_write() {
    let s = builtin("delivery-timeout-unknown");
    for seed in 0..10 {
        let sim = run(&s, seed);
        let sum = sim.summary();
        assert!(sum.unknown_outcome > 0, "seed {seed}: {sum:?}");
        assert_eq!(
            (sum.lost_write, sum.duplicate_in_log),
            (0, 0),
            "seed {seed}"
        );
        let history = sim.history();
        let unknown: Vec<&Arc<str>> = history
            .sends
            .iter()
            .filter(|(_, r)| matches!(r.outcome, Outcome::Unknown))
            .map(|(v, _)| v)
            .collect();
        let in_log: BTreeSet<&str> = sim
            .final_logs()
            .iter()
            .flat_map(|(_, log)| log.records().filter_map(|r| r.value.as_deref()))
            .collect();
        let written = unknown
            .iter()
            .filter(|v| in_log.contains(&v.as_ref()))
            .count();
        assert!(
            written > 0,
            "seed {seed}: a timed-out send can still be in the log"
        );
        // Batches that never left the accumulator failed for certain, with a timeout.
        for r in history.sends.values() {
            if let Outcome::Failed { error } = r.outcome {
                assert_eq!(error, Errors::RequestTimedOut, "seed {seed}");
            }
        }
    }
}

#[test]
fn linger_batches_records_and_every_record_is_acknowledged_once() {
    let s = builtin("quickstart");
    let lingering = Arc::new(s.with_producer_config("linger.ms", "1000").expect("valid"));
    let sim = run(&lingering, 1);
    let sum = sim.summary();
    assert_eq!((sum.produced, sum.acked, sum.duplicate_in_log), (30, 30, 0));
    let batches: usize = sim
        .final_logs()
        .iter()
        .map(|(_, log)| log.batches().count())
        .sum();
    // 10 records/s for 3 s, one batch per partition per second at most.
    assert!(batches <= 3 * 3 + 3, "{batches} batches for 30 records");
    let plain = run(&s, 1);
    let plain_batches: usize = plain
        .final_logs()
        .iter()
        .map(|(_, log)| log.batches().count())
        .sum();
    assert!(plain_batches > batches, "linger.ms=5 sends smaller batches");
}

#[test]
fn bad_producer_settings_are_refused_with_the_rule() {
    let s = builtin("quickstart");
    let e = s
        .with_producer_config("delivery.timeout.ms", "1000")
        .unwrap_err();
    assert_eq!(e.key, "delivery.timeout.ms");
    assert!(e.message.contains("linger.ms + request.timeout.ms"), "{e}");
    let acks1 = s.with_producer_config("acks", "1").expect("valid");
    assert!(
        !acks1.producers[0].config.enable_idempotence,
        "silently off when only the default asked for it"
    );
    let e = acks1
        .with_producer_config("enable.idempotence", "true")
        .unwrap_err();
    assert_eq!(e.key, "enable.idempotence");
    assert!(e.message.contains("acks"), "{e}");
    let back = acks1.with_producer_config("acks", "all").expect("valid");
    assert!(back.producers[0].config.enable_idempotence);
}

/// Three single-replica brokers; broker-3 is paused from 5s to 15s, so the queue of its
/// partition grows. Null keys go to the sticky partitioner.
fn slow_broker_scenario(adaptive: bool) -> Arc<kafkalab_sim::scenario::Scenario> {
    let text = format!(
        r#"
name = "slow-broker"
duration = "20s"
[cluster]
brokers = 3
[network]
latency = "1ms"
[[topics]]
name = "events"
partitions = 3
replicas = [[1], [2], [3]]
[[producers]]
name = "producer-1"
topic = "events"
rate = 1000
[producers.config]
"batch.size" = 200
"partitioner.adaptive.partitioning.enable" = {adaptive}
[[timeline]]
at = "5s"
action = "pause"
node = "broker-3"
[[timeline]]
at = "15s"
action = "resume"
node = "broker-3"
"#
    );
    Arc::new(kafkalab_sim::scenario::parse_scenario(&text, "slow-broker.toml").expect("valid"))
}

#[test]
fn adaptive_partitioning_sends_less_to_a_slow_broker() {
    // Records sent to each partition over the run.
    let per_partition = |adaptive: bool| -> Vec<usize> {
        let sim = run(&slow_broker_scenario(adaptive), 1);
        let mut counts = vec![0; 3];
        for send in sim.history().sends.values() {
            counts[send.tp.partition as usize] += 1;
        }
        counts
    };
    let uniform = per_partition(false);
    let adaptive = per_partition(true);
    // Uniform: a third each, whatever the broker's speed. Adaptive: partition 2's queue is
    // long, so its weight (maxQueue + 1 - queue) drops and it gets much less new data.
    let share = |c: &[usize]| c[2] as f64 / c.iter().sum::<usize>() as f64;
    assert!(
        share(&adaptive) < share(&uniform) * 0.8,
        "adaptive {adaptive:?} vs uniform {uniform:?}"
    );
}

#[test]
fn an_explicit_partition_wins_over_keys() {
    let text = r#"
name = "explicit"
duration = "3s"
[[topics]]
name = "events"
partitions = 3
[[producers]]
name = "producer-1"
topic = "events"
rate = 10
keys = ["alice", "bob", "carol"]
partition = 2
"#;
    let s = Arc::new(kafkalab_sim::scenario::parse_scenario(text, "explicit.toml").expect("valid"));
    let sim = run(&s, 1);
    assert!(sim.history().sends.len() >= 20);
    assert!(sim.history().sends.values().all(|r| r.tp.partition == 2));
    let bad = text.replace("partition = 2", "partition = 3");
    let e = kafkalab_sim::scenario::parse_scenario(&bad, "explicit.toml").unwrap_err();
    assert!(e.to_string().contains("partition 3 does not exist"), "{e}");
}
