//! The delivery checker (Jepsen's Kafka anomaly taxonomy) on the built-in scenarios: each
//! finds what its teaching comment promises, judged only from what clients observed.

use kafkalab_sim::checker::{self, AnomalyKind};
use kafkalab_tests::{builtin, cli, run};

fn count(name: &str, seed: u64, kind: AnomalyKind) -> usize {
    let sim = run(&builtin(name), seed);
    sim.anomalies().iter().filter(|a| a.kind == kind).count()
}

#[test]
fn retries_without_idempotence_show_as_duplicates_and_nonmonotonic_sends() {
    for seed in 0..5 {
        let sim = run(&builtin("retry-duplicates"), seed);
        let found = checker::counts(&sim.anomalies());
        // Every value the checker sees at two offsets is one the final log holds twice.
        assert_eq!(
            found["duplicate"],
            sim.summary().duplicate_in_log,
            "seed {seed}"
        );
    }
    assert!((0..10).any(|seed| count("retry-reordering", seed, AnomalyKind::NonmonotonicSend) > 0));
    for seed in 0..5 {
        let sim = run(&builtin("idempotent-producer"), seed);
        let found = checker::counts(&sim.anomalies());
        assert_eq!(
            (found["duplicate"], found["nonmonotonic_send"]),
            (0, 0),
            "seed {seed}"
        );
    }
}

#[test]
fn acks1_loss_is_a_lost_write_and_offsets_reused_with_other_values() {
    let sim = run(&builtin("acks1-data-loss"), 1);
    let found = checker::counts(&sim.anomalies());
    assert!(found["lost_write"] > 0, "{found:?}");
    assert!(found["inconsistent_offsets"] > 0, "{found:?}");
    // Each anomaly names its records and the step it became true at.
    let lost = sim
        .anomalies()
        .into_iter()
        .find(|a| a.kind == AnomalyKind::LostWrite)
        .expect("one");
    assert_eq!(lost.values.len(), 1);
    assert!(lost.step > 0 && lost.step <= sim.world().steps());
}

#[test]
fn clean_failover_and_group_scenarios_have_no_anomaly_but_unseen() {
    for name in [
        "leader-failure",
        "rebalance-on-join",
        "consumer-crash-rebalance",
        "coordinator-failover",
    ] {
        for seed in 0..3 {
            let sim = run(&builtin(name), seed);
            let bad: Vec<_> = sim
                .anomalies()
                .into_iter()
                .filter(|a| a.kind != AnomalyKind::Unseen)
                .collect();
            assert!(
                bad.is_empty(),
                "{name} seed {seed}: {:?}",
                &bad[..bad.len().min(3)]
            );
        }
    }
}

#[test]
fn run_json_reports_every_anomaly_kind() {
    let (code, out, _) = cli(&["run", "retry-duplicates", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    let anomalies = v["anomalies"].as_object().expect("an object");
    for kind in AnomalyKind::ALL {
        assert!(anomalies.contains_key(kind.name()), "{}", kind.name());
    }
    assert!(anomalies["duplicate"].as_u64() > Some(0));
}

#[test]
fn run_explain_tells_how_an_acknowledged_record_was_lost() {
    let (code, out, _) = cli(&["run", "acks1-data-loss", "--explain"]);
    assert_eq!(code, 0);
    let story = out.split("\nExplain\n").nth(1).expect("an Explain section");
    let first = story
        .split("\n\n")
        .find(|s| s.trim_start().starts_with("lost_write in orders-0"))
        .expect("a lost write is explained");
    // The cut, the acknowledgment during it, the new leader, the truncation — in order.
    let at = |needle: &str| {
        first
            .find(needle)
            .unwrap_or_else(|| panic!("`{needle}` missing from:\n{first}"))
    };
    assert!(at("link <-> broker-2 cut") < at("acknowledged at offset"));
    assert!(at("acknowledged at offset") < at("elected leader"));
    assert!(at("elected leader") < at("records removed"));

    let (_, out, _) = cli(&["run", "quickstart", "--explain"]);
    assert!(out.contains("the checker found no anomaly"), "{out}");
}
