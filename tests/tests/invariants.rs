//! The invariant and liveness checks (`kafkalab_sim::check`): every built-in scenario keeps
//! every invariant and converges, over seeds 0..16 (`KAFKALAB_INVARIANT_SEEDS=N` runs 0..N;
//! `kafkalab sweep <each> --seeds 0..200` is the full check); the old Kafka bugs the KIP scenarios
//! replay are caught with the right invariant at the right step; the losses Kafka does not
//! promise to prevent (acks=1, unclean election) are not reported; `run --invariants` exits
//! 3 or 4 with the replay command.

use kafkalab_sim::Simulation;
use kafkalab_sim::check::{Invariant, LivenessStatus, Subject, Verdict, Violation, run_checked};
use kafkalab_sim::kernel::SimTime;
use kafkalab_sim::node::Note;
use kafkalab_sim::protocol::TopicPartition;
use kafkalab_sim::scenario::{Scenario, parse_scenario};
use kafkalab_tests::{builtin, cli};
use std::sync::Arc;

/// Seeds 0..16 keep CI quick (the slowest scenario, eager-rebalance, runs ~1 seed/s);
/// `KAFKALAB_INVARIANT_SEEDS` raises the count.
fn seeds() -> std::ops::Range<u64> {
    let n = std::env::var("KAFKALAB_INVARIANT_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    0..n
}

/// A built-in scenario with `[cluster.config]` settings added, as `--config` does.
fn with_config(name: &str, settings: &[(&str, &str)]) -> Arc<Scenario> {
    let mut s = builtin(name).as_ref().clone();
    for (key, value) in settings {
        s = s.with_cluster_config(key, value).expect("valid setting");
    }
    Arc::new(s)
}

fn checked(scenario: &Arc<Scenario>, seed: u64) -> (Simulation, Verdict) {
    let mut sim = Simulation::new(scenario.clone(), seed);
    let end = sim.end_time();
    let verdict = run_checked(&mut sim, end);
    (sim, verdict)
}

/// Every invariant holds and the cluster converges once the faults have healed.
fn assert_clean_over_seeds(name: &str) {
    let s = builtin(name);
    for seed in seeds() {
        let (_, verdict) = checked(&s, seed);
        match verdict {
            Verdict::Clean {
                liveness: LivenessStatus::Converged { .. },
            } => {}
            other => panic!(
                "{name} seed {seed}: {other:?}\n  replay: kafkalab run {name} --seed {seed} \
                 --invariants"
            ),
        }
    }
}

macro_rules! clean_over_seeds {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                assert_clean_over_seeds($name);
            }
        )*

        /// Every built-in scenario has its test above: a new one must be added there.
        #[test]
        fn every_builtin_scenario_is_checked() {
            let covered = [$($name),*];
            for (name, _) in kafkalab_sim::scenario::builtin() {
                assert!(covered.contains(name), "add {name} to clean_over_seeds!");
            }
        }
    };
}

// One test per scenario, so the test threads share them out.
clean_over_seeds! {
    clean_acks1_data_loss => "acks1-data-loss",
    clean_at_least_once_duplicates => "at-least-once-duplicates",
    clean_at_most_once_loss => "at-most-once-loss",
    clean_broker_faults => "broker-faults",
    clean_consumer_positions => "consumer-positions",
    clean_consumer_crash_rebalance => "consumer-crash-rebalance",
    clean_cooperative_rebalance => "cooperative-rebalance",
    clean_coordinator_failover => "coordinator-failover",
    clean_delivery_timeout_unknown => "delivery-timeout-unknown",
    clean_eager_rebalance => "eager-rebalance",
    clean_idempotent_producer => "idempotent-producer",
    clean_key_partitioning => "key-partitioning",
    clean_kip101_divergence => "kip101-divergence",
    clean_kip101_hw_truncation => "kip101-hw-truncation",
    clean_kip279_fast_failover => "kip279-fast-failover",
    clean_leader_failure => "leader-failure",
    clean_min_isr_rejects_writes => "min-isr-rejects-writes",
    clean_preferred_leader_election => "preferred-leader-election",
    clean_quickstart => "quickstart",
    clean_rebalance_on_join => "rebalance-on-join",
    clean_retention_and_compaction => "retention-and-compaction",
    clean_retry_duplicates => "retry-duplicates",
    clean_retry_reordering => "retry-reordering",
    clean_slow_follower_isr_shrink => "slow-follower-isr-shrink",
    clean_static_membership => "static-membership",
    clean_unclean_election_data_loss => "unclean-election-data-loss",
    clean_zombie_consumer => "zombie-consumer",
}

fn first_violation(verdict: &Verdict) -> &Violation {
    match verdict {
        Verdict::Violated { violations } => &violations[0],
        other => panic!("expected a violation, got {other:?}"),
    }
}

fn orders_0() -> Subject {
    Subject::Partition(TopicPartition::new("orders", 0))
}

/// The notes of the step the run stopped at (the violating one).
fn last_notes(sim: &Simulation) -> Vec<Note> {
    sim.world().last_event().expect("a step").notes.clone()
}

#[test]
fn pre_kip101_truncation_to_a_stale_hw_breaks_isr_holds_committed_at_that_step() {
    let s = with_config(
        "kip101-hw-truncation",
        &[("sim.follower.truncation", "pre-kip-101")],
    );
    for seed in 0..10 {
        let (sim, verdict) = checked(&s, seed);
        let v = first_violation(&verdict);
        assert_eq!(
            v.invariant,
            Invariant::IsrHoldsCommitted,
            "seed {seed}: {v}"
        );
        assert_eq!(v.subject, orders_0());
        assert!(v.detail.contains("broker-1, in the ISR"), "{v}");
        assert!(v.detail.contains("\"producer-1-2\" at offset 1"), "{v}");
        // The run stopped at the very step of the truncation: broker-1 becoming broker-3's
        // follower, ~10 s (after broker-2's session expired).
        assert_eq!(
            sim.world().steps(),
            v.step + 1,
            "the run stops at the violation"
        );
        let event = sim.world().last_event().expect("a step");
        assert_eq!(sim.world().name(event.node.expect("a node")), "broker-1");
        assert!(last_notes(&sim).iter().any(|n| matches!(n,
            Note::Truncated { to_offset: 1, reason, .. } if reason.starts_with("pre-KIP-101"))));
        assert!((8_000_000..12_000_000).contains(&v.time_us), "{v}");
    }
}

#[test]
fn pre_kip101_divergence_breaks_committed_prefix_agrees_when_the_stale_replica_rejoins() {
    let s = with_config(
        "kip101-divergence",
        &[("sim.follower.truncation", "pre-kip-101")],
    );
    for seed in 0..10 {
        let (sim, verdict) = checked(&s, seed);
        let v = first_violation(&verdict);
        assert_eq!(
            v.invariant,
            Invariant::CommittedPrefixAgrees,
            "seed {seed}: {v}"
        );
        assert!(
            v.detail.contains("broker-1 joined the ISR")
                && v.detail.contains("holding \"producer-1-2\" at offset 1")
                && v.detail.contains("\"producer-1-3\" is committed"),
            "{v}"
        );
        // The controller's step that commits the ISR with broker-1 back in it.
        assert!(last_notes(&sim).iter().any(
            |n| matches!(n, Note::IsrChanged { isr, .. } if isr.contains(&1) && isr.contains(&2))
        ));
    }
}

#[test]
fn kip101_alone_leaves_kip279_fast_failover_diverged() {
    let s = with_config(
        "kip279-fast-failover",
        &[("sim.follower.truncation", "kip-101")],
    );
    for seed in 0..10 {
        let (_, verdict) = checked(&s, seed);
        let v = first_violation(&verdict);
        assert_eq!(
            v.invariant,
            Invariant::CommittedPrefixAgrees,
            "seed {seed}: {v}"
        );
        assert!(v.detail.contains("offset 1"), "{v}");
    }
}

#[test]
fn an_acks_all_write_lost_with_min_isr_2_breaks_acked_write_durable() {
    // The KIP-101 bug with the settings under which Kafka promises acks=all durability: the
    // truncation (3) comes first, and when the truncated replica is elected the
    // acknowledged m2 is gone (3 and 5).
    let s = with_config(
        "kip101-hw-truncation",
        &[
            ("sim.follower.truncation", "pre-kip-101"),
            ("min.insync.replicas", "2"),
        ],
    );
    let mut sim = Simulation::new(s, 1);
    sim.set_invariants(true);
    let end = sim.end_time();
    while sim.next_event_time().is_some_and(|t| t <= end) {
        sim.step(); // past the first violation: see everything the run breaks
    }
    let names: Vec<Invariant> = sim.violations().iter().map(|v| v.invariant).collect();
    assert_eq!(
        names,
        [
            Invariant::IsrHoldsCommitted,
            Invariant::IsrHoldsCommitted,
            Invariant::AckedWriteDurable
        ],
        "{:#?}",
        sim.violations()
    );
    let lost = &sim.violations()[2];
    assert!(
        lost.detail
            .contains("\"producer-1-2\" was acknowledged at offset 1")
    );
    assert!(lost.detail.contains("new leader broker-1"), "{lost}");
    assert_eq!(sim.summary().lost_write, 1);
}

#[test]
fn an_acks_all_write_lost_with_min_isr_1_is_not_an_acked_write_violation() {
    // The same loss with Kafka's default min.insync.replicas = 1: acks=all promises nothing
    // more than the ISR did, so only the replication invariant (3) reports it.
    let s = with_config(
        "kip101-hw-truncation",
        &[("sim.follower.truncation", "pre-kip-101")],
    );
    let mut sim = Simulation::new(s, 1);
    sim.set_invariants(true);
    let end = sim.end_time();
    while sim.next_event_time().is_some_and(|t| t <= end) {
        sim.step();
    }
    assert_eq!(sim.summary().lost_write, 1);
    assert!(
        sim.violations()
            .iter()
            .all(|v| v.invariant == Invariant::IsrHoldsCommitted),
        "{:#?}",
        sim.violations()
    );
}

#[test]
fn losses_kafka_does_not_promise_to_prevent_are_not_violations() {
    // acks=1 acknowledges before commit; unclean election gives committed data up; a power
    // loss on every replica holding a record loses it. Each loses acknowledged writes, and
    // each is Kafka behaving as documented.
    for name in [
        "acks1-data-loss",
        "unclean-election-data-loss",
        "broker-faults",
        "kip279-fast-failover",
    ] {
        let s = builtin(name);
        for seed in 0..5 {
            let (sim, verdict) = checked(&s, seed);
            assert!(
                matches!(verdict, Verdict::Clean { .. }),
                "{name} seed {seed}: {verdict:?}"
            );
            assert!(
                sim.summary().lost_write > 0,
                "{name} seed {seed} lost nothing"
            );
        }
    }
}

#[test]
fn the_checks_only_observe() {
    for name in [
        "leader-failure",
        "coordinator-failover",
        "kip101-divergence",
    ] {
        let s = builtin(name);
        let mut plain = Simulation::new(s.clone(), 3);
        plain.run_to_end();
        let (checked, _) = checked(&s, 3);
        assert_eq!(
            (plain.world().trace_hash(), plain.world().steps()),
            (checked.world().trace_hash(), checked.world().steps()),
            "{name}: turning the checks on changed the run"
        );
    }
}

/// A 3-broker scenario: a producer writing 200 records/s from the start, one consumer (with
/// the `consumer` settings) reading everything, and the `timeline`.
fn scenario_text(duration: &str, consumer: &str, timeline: &str) -> String {
    format!(
        r#"
name = "liveness-test"
duration = "{duration}"
[cluster]
brokers = 3
[[topics]]
name = "t"
partitions = 2
replication_factor = 3
[[producers]]
name = "producer-1"
topic = "t"
rate = 200
[[consumers]]
name = "consumer-1"
topic = "t"
{consumer}
[consumers.config]
"auto.offset.reset" = "earliest"
{timeline}
"#
    )
}

const CRASH_AND_RESTART: &str = r#"
[[timeline]]
at = "5s"
action = "crash"
node = "broker-2"
[[timeline]]
at = "15s"
action = "restart"
node = "broker-2"
"#;

fn parse(text: &str) -> Arc<Scenario> {
    Arc::new(parse_scenario(text, "liveness-test.toml").expect("valid scenario"))
}

#[test]
fn liveness_converges_after_a_broker_returns_and_fails_for_a_consumer_that_cannot_keep_up() {
    let healthy = parse(&scenario_text("40s", "", CRASH_AND_RESTART));
    match checked(&healthy, 1).1 {
        Verdict::Clean {
            liveness: LivenessStatus::Converged { since_us, at_us },
        } => {
            assert_eq!(since_us / 1_000_000, 15, "healed at the restart");
            assert!(at_us < 40_000_000);
        }
        other => panic!("{other:?}"),
    }
    // 200 records/s in, 10 processed per second: the backlog at 15 s is never read.
    let slow = parse(&scenario_text(
        "90s",
        "processing_time = \"100ms\"",
        CRASH_AND_RESTART,
    ));
    match checked(&slow, 1).1 {
        Verdict::LivenessFailed {
            liveness:
                LivenessStatus::Failed {
                    since_us,
                    at_us,
                    reason,
                },
        } => {
            assert!(at_us - since_us >= 60_000_000, "the bound is 60 s");
            assert!(reason.contains("consumer-1 is at offset"), "{reason}");
            assert!(reason.contains("short of the"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn liveness_is_not_evaluated_when_a_fault_never_heals_or_the_run_ends_too_soon() {
    let cut = parse(&scenario_text(
        "40s",
        "",
        r#"
[[timeline]]
at = "5s"
action = "cut"
from = "broker-1"
to = "broker-2"
"#,
    ));
    match checked(&cut, 1).1 {
        Verdict::Clean {
            liveness: LivenessStatus::NotEvaluated { reason },
        } => assert!(
            reason.contains("broker-1 -> broker-2 is still cut"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
    let slow = parse(&scenario_text(
        "40s",
        "processing_time = \"100ms\"",
        CRASH_AND_RESTART,
    ));
    match checked(&slow, 1).1 {
        Verdict::Clean {
            liveness: LivenessStatus::NotEvaluated { reason },
        } => assert!(reason.contains("before the cluster converged"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let lossy = scenario_text("40s", "", CRASH_AND_RESTART)
        .replace("[[topics]]", "[network]\nloss = 0.01\n[[topics]]");
    match checked(&parse(&lossy), 1).1 {
        Verdict::Clean {
            liveness: LivenessStatus::NotEvaluated { reason },
        } => assert!(reason.contains("loses 1.00% of messages"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // A shorter bound judges the same run.
    let mut sim = Simulation::new(slow, 1);
    sim.set_invariants(true);
    sim.set_liveness_bound(SimTime::from_secs(10));
    sim.run_to_end();
    assert!(matches!(
        sim.finish_liveness(),
        LivenessStatus::Failed { .. }
    ));
}

#[test]
fn coordinator_failover_converges_with_the_old_coordinator_down_for_good() {
    let s = builtin("coordinator-failover");
    let (sim, verdict) = checked(&s, 1);
    assert!(
        matches!(
            verdict,
            Verdict::Clean {
                liveness: LivenessStatus::Converged { .. }
            }
        ),
        "{verdict:?}"
    );
    let down = sim
        .world()
        .nodes()
        .filter(|(_, _, status, _)| *status != kafkalab_sim::kernel::NodeStatus::Running)
        .count();
    assert!(down > 0, "broker-1 stays down");
}

/// A group whose coordinator moves after both other brokers crash: consumer-2 hears nothing
/// from any coordinator for longer than its 10 s session while the new one is elected.
const COORDINATOR_LOST_FOR_A_SESSION: &str = r#"
name = "coordinator-lost-for-a-session"
duration = "90s"
[cluster]
brokers = 3
[cluster.config]
"min.insync.replicas" = 2
"replica.lag.time.max.ms" = 5000
[network]
latency = "2ms"
jitter = "2ms"

[[topics]]
name = "orders"
partitions = 3
replication_factor = 3
[[producers]]
name = "producer-1"
topic = "orders"
rate = 100
key_count = 12
[producers.config]
acks = "all"
"request.timeout.ms" = 5000
[[consumers]]
name = "consumer-1"
topic = "orders"
[consumers.config]
"auto.offset.reset" = "earliest"
"group.id" = "g"
"session.timeout.ms" = 10000
[[consumers]]
name = "consumer-2"
topic = "orders"
[consumers.config]
"auto.offset.reset" = "earliest"
"group.id" = "g"
"session.timeout.ms" = 10000

[[timeline]]
at = "10s"
action = "cut"
from = "broker-1"
to = "controller"
[[timeline]]
at = "12s"
action = "cut"
from = "broker-2"
to = "broker-3"
[[timeline]]
at = "20s"
action = "heal-all"
[[timeline]]
at = "21s"
action = "pause"
node = "consumer-1"
[[timeline]]
at = "35s"
action = "resume"
node = "consumer-1"
[[timeline]]
at = "30s"
action = "crash"
node = "broker-2"
[[timeline]]
at = "31s"
action = "crash"
node = "broker-3"
[[timeline]]
at = "33s"
action = "restart"
node = "broker-2"
[[timeline]]
at = "34s"
action = "restart"
node = "broker-3"
"#;

#[test]
fn a_member_that_lost_its_coordinator_for_a_session_rejoins_the_next_one() {
    // Liveness found this: the consumer measured its session from its last answered
    // heartbeat even after finding the new coordinator, gave it up at the next tick before
    // any heartbeat could reach it, and so never rejoined — the group sat in
    // PreparingRebalance until max.poll.interval.ms (5 min). Kafka restarts the session
    // clock when it discovers a coordinator (`heartbeat.resetSessionTimeout()`).
    let s = Arc::new(
        parse_scenario(COORDINATOR_LOST_FOR_A_SESSION, "lost.toml").expect("valid scenario"),
    );
    for seed in 0..3 {
        let (_, verdict) = checked(&s, seed);
        assert!(
            matches!(
                verdict,
                Verdict::Clean {
                    liveness: LivenessStatus::Converged { .. }
                }
            ),
            "seed {seed}: {verdict:?}"
        );
    }
}

// ----- the CLI -----

#[test]
fn run_invariants_exits_3_with_the_invariant_step_time_and_replay_command() {
    let (code, out, err) = cli(&[
        "run",
        "kip101-hw-truncation",
        "--config",
        "sim.follower.truncation=pre-kip-101",
        "--invariants",
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("invariant 3 (isr-holds-committed) violated at step "),
        "{err}"
    );
    assert!(err.contains("orders-0: broker-1, in the ISR"), "{err}");
    let replay = "replay: kafkalab run kip101-hw-truncation --seed 1 --config \
                  sim.follower.truncation=pre-kip-101 --invariants";
    assert!(err.contains(replay), "{err}");
    assert!(
        err.contains("inspect: kafkalab describe topics kip101-hw-truncation --seed 1"),
        "{err}"
    );
    // The report shows the run where it stopped, at the violation's time.
    let step: u64 = err
        .split("violated at step ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .expect("a step number");
    assert!(out.contains(&format!("in {} steps", step + 1)), "{out}");

    // The replay command replays it.
    let (again, _, err_again) = cli(&[
        "run",
        "kip101-hw-truncation",
        "--seed",
        "1",
        "--config",
        "sim.follower.truncation=pre-kip-101",
        "--invariants",
    ]);
    assert_eq!(again, 3);
    assert!(err_again.contains(&format!("violated at step {step},")));
}

#[test]
fn run_invariants_exits_4_when_the_cluster_does_not_converge() {
    let path = std::env::temp_dir().join(format!("kafkalab-liveness-{}.toml", std::process::id()));
    let text = scenario_text("90s", "processing_time = \"100ms\"", CRASH_AND_RESTART);
    std::fs::write(&path, text).expect("scenario written");
    let path = path.to_string_lossy().into_owned();
    let (code, _, err) = cli(&["run", &path, "--invariants"]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("kafkalab: liveness: not converged at"),
        "{err}"
    );
    assert!(err.contains("consumer-1 is at offset"), "{err}");
    assert!(err.contains("--invariants"), "{err}");
    // Without the checks, the same run is just a run.
    assert_eq!(cli(&["run", &path]).0, 0);
}

#[test]
fn run_invariants_on_a_clean_run_exits_0_and_says_so() {
    let (code, out, err) = cli(&["run", "leader-failure", "--invariants", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("invariants held over "), "{err}");
    assert!(err.contains("liveness: converged at "), "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(report["lost_write"], 0);
}

// ----- sweeps check them too -----

#[test]
fn sweep_checks_invariants_by_default_and_names_the_broken_one_per_seed() {
    let args = [
        "sweep",
        "kip101-hw-truncation",
        "--seeds",
        "0..3",
        "--config",
        "sim.follower.truncation=pre-kip-101",
    ];
    let (code, out, err) = cli(&args);
    assert_eq!(code, 3, "{err}\n{out}");
    assert!(err.contains("invariants checked"), "{err}");
    let row = out
        .lines()
        .find(|l| l.starts_with("invariant 3 (isr-holds-committed)"))
        .unwrap_or_else(|| panic!("no invariant row in:\n{out}"));
    assert!(
        row.ends_with(
            "kafkalab run kip101-hw-truncation --seed 0 --config \
             sim.follower.truncation=pre-kip-101 --invariants"
        ),
        "{row}"
    );
    // --json carries the verdict on every line.
    let (_, json, _) = cli(&[&args[..], &["--json"]].concat());
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert_eq!(v["invariants"]["verdict"], "violated", "{line}");
        assert_eq!(
            v["invariants"]["violations"][0]["invariant"], "isr-holds-committed",
            "{line}"
        );
    }
    // Without the checks the same sweep only reports the (unenforced) expectations.
    let (code, out, err) = cli(&[&args[..], &["--no-invariants"]].concat());
    assert_eq!(code, 0, "{err}\n{out}");
    assert!(!out.contains("invariant 3"), "{out}");
}

#[test]
fn sweep_exits_4_when_a_seed_does_not_converge() {
    let path = std::env::temp_dir().join(format!(
        "kafkalab-sweep-liveness-{}.toml",
        std::process::id()
    ));
    let text = scenario_text("90s", "processing_time = \"100ms\"", CRASH_AND_RESTART);
    std::fs::write(&path, text).expect("scenario written");
    let path = path.to_string_lossy().into_owned();
    let (code, out, err) = cli(&["sweep", &path, "--seeds", "1..3"]);
    assert_eq!(code, 4, "{err}\n{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("liveness: consumer-1 is at offset")),
        "{out}"
    );
    assert_eq!(
        cli(&["sweep", &path, "--seeds", "1..3", "--no-invariants"]).0,
        0
    );
    let _ = std::fs::remove_file(path);
}
