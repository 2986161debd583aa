//! Property tests: Kafka's delivery guarantees under generated fault schedules.
//!
//! Each property draws a configuration, a workload, a seed and a structured fault schedule
//! (crash, power loss, pause, cut link, isolate, drop a message — each healed before the next;
//! see `kafkalab_tests::faults`), runs it with the invariant and liveness checks on, and
//! asserts one guarantee. Two negative properties must *find* a counterexample — acks=1 loses
//! acknowledged writes, retries without idempotence write duplicates — and shrink it to a
//! story of at most a handful of faults. A failure prints the replay command of a scenario
//! file written under the test target's scratch directory.
//!
//! Defaults keep CI fast; `PROPTEST_CASES=500` (and `PROPTEST_RNG_SEED=N` for other cases)
//! make a long run.

use kafkalab_sim::Simulation;
use kafkalab_sim::check::Verdict;
use kafkalab_sim::checker::AnomalyKind;
use kafkalab_sim::scenario::parse_scenario;
use kafkalab_tests::faults::{
    BROKERS, Case, Consumers, Fault, FaultKind, FaultMenu, Outcome, Target, run_case, schedule,
};
use kafkalab_tests::property::{self, Verdict as PropertyVerdict};
use kafkalab_tests::site;
use proptest::prelude::*;
use std::sync::Arc;

/// Cases per positive property (each a whole run of ~90 simulated seconds).
const CASES: u32 = 24;
/// Cases a negative property may search before it must have found a counterexample.
const SEARCH: u32 = 64;
/// "A handful": the most faults a shrunk counterexample may keep.
const HANDFUL: usize = 3;

/// The producer's settings drawn for a case; the guarantee's settings are then fixed.
fn case(
    consumers: Consumers,
    menu: FaultMenu,
    configure: impl Fn(&mut Case) + Clone,
) -> impl Strategy<Value = Case> {
    (
        0..10_000u64,
        1..=3u32,
        1..=5u32,
        50..=200u32,
        1..=16u32,
        schedule(menu),
    )
        .prop_map(
            move |(seed, partitions, max_in_flight, rate, key_count, faults)| {
                let mut case = Case {
                    seed,
                    partitions,
                    min_insync_replicas: 2,
                    unclean_leader_election: false,
                    acks: "all",
                    idempotence: true,
                    max_in_flight,
                    rate,
                    key_count,
                    consumers,
                    faults,
                };
                configure(&mut case);
                case
            },
        )
}

const CLUSTER_FAULTS: FaultMenu = FaultMenu {
    brokers: true,
    controller: true,
    consumers: 0,
    producer_links: true,
    max_faults: 4,
};

const GROUP_FAULTS: FaultMenu = FaultMenu {
    brokers: true,
    controller: false,
    consumers: 2,
    producer_links: false,
    max_faults: 4,
};

/// The invariants held and, after the faults healed, the cluster converged.
fn checks_pass(outcome: &Outcome) -> PropertyVerdict {
    match &outcome.verdict {
        Verdict::Clean { .. } => Ok(()),
        Verdict::Violated { violations } => Err(format!("invariant broken: {}", violations[0])),
        Verdict::LivenessFailed { liveness } => Err(format!("liveness: {}", liveness.describe())),
    }
}

fn zero(what: &str, n: u64) -> PropertyVerdict {
    if n == 0 {
        Ok(())
    } else {
        Err(format!("{what} = {n}"))
    }
}

#[test]
fn idempotent_acks_all_min_isr_2_clean_elections_lose_and_duplicate_nothing() {
    let strategy = case(Consumers::Assigned, CLUSTER_FAULTS, |_| {});
    property::holds(site!(), "acks-all-durable", CASES, strategy, |_, o| {
        zero("lost_write", o.summary.lost_write)?;
        zero("duplicate_in_log", o.summary.duplicate_in_log)?;
        zero(
            "checker lost_write",
            o.anomaly(AnomalyKind::LostWrite) as u64,
        )?;
        zero(
            "checker duplicate",
            o.anomaly(AnomalyKind::Duplicate) as u64,
        )?;
        checks_pass(o)
    });
}

#[test]
fn the_idempotent_producer_keeps_per_partition_order() {
    let strategy = case(Consumers::Assigned, CLUSTER_FAULTS, |_| {});
    property::holds(site!(), "per-partition-order", CASES, strategy, |_, o| {
        zero("reordered", o.summary.reordered)?;
        zero(
            "nonmonotonic_send",
            o.anomaly(AnomalyKind::NonmonotonicSend) as u64,
        )?;
        checks_pass(o)
    });
}

#[test]
fn at_least_once_consumers_process_every_record_once_the_faults_heal() {
    let group = Consumers::Group {
        members: 2,
        semantics: "process-then-commit",
    };
    let strategy = case(group, GROUP_FAULTS, |_| {});
    property::holds(site!(), "at-least-once", CASES, strategy, |_, o| {
        zero("never_processed", o.summary.never_processed)?;
        checks_pass(o)
    });
}

#[test]
fn at_most_once_consumers_never_process_a_record_twice() {
    let group = Consumers::Group {
        members: 2,
        semantics: "commit-before-process",
    };
    let strategy = case(group, GROUP_FAULTS, |_| {});
    property::holds(site!(), "at-most-once", CASES, strategy, |_, o| {
        zero("processed_twice", o.summary.processed_twice)?;
        checks_pass(o)
    });
}

/// The shrunk counterexample keeps between one and a handful of faults, and replays from
/// its written file to the same run.
fn assert_shrunk_and_replays(found: &property::Counterexample) {
    assert!(
        (1..=HANDFUL).contains(&found.case.faults.len()),
        "shrunk to {} faults: {:?}",
        found.case.faults.len(),
        found.case.faults
    );
    let path = found
        .replay
        .split_whitespace()
        .nth(2)
        .unwrap_or_else(|| panic!("no file in `{}`", found.replay));
    let text = std::fs::read_to_string(path).expect("the scenario file was written");
    let scenario = parse_scenario(&text, path).expect("the written scenario loads");
    let mut sim = Simulation::new(Arc::new(scenario), found.case.seed);
    sim.run_to_end();
    assert_eq!(
        sim.world().trace_hash(),
        found.outcome.trace_hash,
        "{path} does not replay the counterexample"
    );
}

#[test]
fn acks_1_loses_acknowledged_writes_and_the_search_finds_it() {
    let menu = FaultMenu {
        controller: false,
        producer_links: false,
        ..CLUSTER_FAULTS
    };
    let strategy = case(Consumers::Assigned, menu, |c| {
        c.acks = "1";
        c.idempotence = false;
        c.min_insync_replicas = 1;
    });
    let found = property::fails(site!(), "acks-1-loses", SEARCH, strategy, |_, o| {
        zero("lost_write", o.summary.lost_write)
    });
    assert!(found.outcome.summary.lost_write > 0, "{found:?}");
    assert_shrunk_and_replays(&found);
}

#[test]
fn retries_without_idempotence_duplicate_and_the_search_finds_it() {
    let strategy = case(Consumers::Assigned, CLUSTER_FAULTS, |c| {
        c.idempotence = false;
    });
    let found = property::fails(site!(), "retries-duplicate", SEARCH, strategy, |_, o| {
        zero("duplicate_in_log", o.summary.duplicate_in_log)
    });
    assert!(found.outcome.summary.duplicate_in_log > 0, "{found:?}");
    assert_shrunk_and_replays(&found);
}

/// The harness itself: a case with a message drop resolves it while running, and the file
/// it writes replays that run exactly (the drop is in it as a `drop-message` action).
#[test]
fn a_written_case_replays_its_run_including_resolved_drops() {
    let case = Case {
        seed: 3,
        // Three partitions: each broker leads one, so broker-1 answers the producer.
        partitions: 3,
        min_insync_replicas: 2,
        unclean_leader_election: false,
        acks: "all",
        idempotence: false,
        max_in_flight: 5,
        rate: 100,
        key_count: 4,
        consumers: Consumers::Assigned,
        faults: vec![
            Fault {
                gap_ms: 1_000,
                kind: FaultKind::Drop(Target::Broker(1), Target::Producer),
                lasts_ms: 2_000,
            },
            Fault {
                gap_ms: 500,
                kind: FaultKind::Crash(Target::Broker(BROKERS)),
                lasts_ms: 4_000,
            },
        ],
    };
    let outcome = run_case(&case);
    assert_eq!(outcome.drops.len(), 1, "the drop was resolved");
    let text = case.to_toml(&outcome.drops);
    assert!(text.contains("action = \"drop-message\""), "{text}");
    let scenario = parse_scenario(&text, "case.toml").expect("the written scenario loads");
    let mut sim = Simulation::new(Arc::new(scenario), case.seed);
    sim.run_to_end();
    assert_eq!(sim.world().trace_hash(), outcome.trace_hash);
    assert_eq!(sim.summary(), outcome.summary);
}

/// Found by `at_most_once_consumers_never_process_a_record_twice` (shrunk): a dropped follower
/// fetch stalls `__consumer_offsets` for 30 s, so both members sit in `commitSync()` past
/// `max.poll.interval.ms` and leave the group. When the commit's retry found the coordinator
/// again, the consumer rejoined from inside `commitSync()` — Kafka joins only in `poll()` —
/// and the commit's UNKNOWN_MEMBER_ID then reset it mid-join, so it joined a second time:
/// two members per consumer, partitions assigned to the phantoms, never consumed.
#[test]
fn regression_a_member_reset_mid_join_joins_once() {
    let case = Case {
        seed: 5976,
        partitions: 3,
        min_insync_replicas: 2,
        unclean_leader_election: false,
        acks: "all",
        idempotence: true,
        max_in_flight: 1,
        rate: 50,
        key_count: 3,
        consumers: Consumers::Group {
            members: 2,
            semantics: "commit-before-process",
        },
        faults: vec![
            Fault {
                gap_ms: 3595,
                kind: FaultKind::Drop(Target::Broker(3), Target::Broker(2)),
                lasts_ms: 1098,
            },
            Fault {
                gap_ms: 5074,
                kind: FaultKind::Cut(Target::Broker(1), Target::Controller),
                lasts_ms: 752,
            },
            Fault {
                gap_ms: 4739,
                kind: FaultKind::Cut(Target::Broker(1), Target::Broker(2)),
                lasts_ms: 500,
            },
        ],
    };
    let outcome = run_case(&case);
    assert!(checks_pass(&outcome).is_ok(), "{:?}", outcome.verdict);
    assert_eq!(outcome.summary.processed_twice, 0);
}
