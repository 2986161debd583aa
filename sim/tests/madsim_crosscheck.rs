//! The madsim cross-check (DESIGN §7; README, "madsim cross-check"): every built-in scenario,
//! run as madsim tasks under madsim's randomized scheduler and network
//! (`kafkalab_sim::madsim_driver`), must keep its `[expect]` bounds on every madsim seed and
//! show each `[expect.some_seed]` bound on at least one seed of the range. A guarantee that
//! held on our World only because of its tie-breaking or its exact latency model fails here.
//!
//! Built only with the madsim cfg, in its own target directory (as `.ci/run` does):
//!
//! ```text
//! RUSTFLAGS="--cfg madsim" CARGO_TARGET_DIR=target/madsim \
//!     cargo test -p kafkalab-sim --test madsim_crosscheck --locked
//! ```
//!
//! `KAFKALAB_MADSIM_SEEDS` sets how many seeds (default [`DEFAULT_SEEDS`]) and
//! `KAFKALAB_MADSIM_FIRST_SEED` the first (default 0), e.g. to replay one failing seed.
#![cfg(madsim)]

use kafkalab_sim::madsim_driver::{self, MadsimRun};
use kafkalab_sim::scenario::{self, Scenario, Scope, expect};
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

/// Seeds per scenario when `KAFKALAB_MADSIM_SEEDS` is not set: the whole check takes about
/// 75 s on two free cores (the two rebalance scenarios, the slowest, about 1.5 s a seed).
const DEFAULT_SEEDS: u64 = 16;

/// Every-seed expectations that hold on our World only because of the order in which it
/// applies simultaneous events: `(scenario, expectation as printed, why)`. On madsim they are
/// checked as some-seed expectations (the outcome must still be possible), not on every seed.
/// Each is in the README too ("madsim cross-check").
const EXACT_TIMING: &[(&str, &str, &str)] = &[(
    "zombie-consumer",
    "rejected_commits > 0",
    "When consumer-1's 20 s pause ends, two of its timers are overdue: the record it was \
     processing is done (the application thread) and max.poll.interval.ms has expired (the \
     heartbeat thread). Our World replays a paused node's events in the order they fell due, \
     so the application always commits first, with generation 1, and the coordinator refuses \
     it (ILLEGAL_GENERATION). In a real JVM waking from a GC pause the two threads race, and \
     madsim picks either: when the heartbeat thread wins, the consumer resets its generation \
     and fails the commit itself (RebalanceInProgressException) without sending it, so no \
     coordinator refuses anything. The zombie is fenced either way; only who refuses differs.",
)];

fn builtin(name: &str) -> Arc<Scenario> {
    match scenario::load_builtin(name) {
        Some(Ok(s)) => Arc::new(s),
        Some(Err(e)) => panic!("built-in scenario {name} is invalid: {e}"),
        None => panic!("no built-in scenario {name}"),
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text} is not a number")),
        Err(_) => default,
    }
}

fn seeds() -> Range<u64> {
    let first = env_u64("KAFKALAB_MADSIM_FIRST_SEED", 0);
    first..first + env_u64("KAFKALAB_MADSIM_SEEDS", DEFAULT_SEEDS)
}

fn replay_hint(name: &str, seed: u64) -> String {
    format!(
        "replay: KAFKALAB_MADSIM_FIRST_SEED={seed} KAFKALAB_MADSIM_SEEDS=1 \
         RUSTFLAGS=\"--cfg madsim\" CARGO_TARGET_DIR=target/madsim cargo test \
         -p kafkalab-sim --test madsim_crosscheck {} -- --nocapture",
        name.replace('-', "_")
    )
}

/// The scope an expectation is checked with on madsim: an every-seed one that needs our
/// World's event order is only required on some seed.
fn madsim_scope(name: &str, checked: &expect::Checked) -> Scope {
    let exact_timing = EXACT_TIMING
        .iter()
        .any(|(s, e, _)| *s == name && *e == checked.expect);
    if exact_timing {
        Scope::SomeSeed
    } else {
        checked.scope
    }
}

/// Runs `name` over the seed range and checks its expectations; prints one line per
/// scenario (shown with `--nocapture`).
fn cross_check(name: &str) {
    let scenario = builtin(name);
    let seeds = seeds();
    let mut failures = Vec::new();
    // Some-seed expectation → the seeds that showed it.
    let mut shown: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let (mut overtook, mut written_off) = (0, 0);
    for seed in seeds.clone() {
        let MadsimRun { summary, net, .. } = madsim_driver::run(scenario.clone(), seed);
        overtook += net.overtook;
        written_off += net.written_off;
        for c in expect::check(&scenario.expectations, &summary) {
            match madsim_scope(name, &c) {
                Scope::EverySeed if !c.holds => failures.push(format!(
                    "seed {seed}: `{}` does not hold: {} = {}\n  {}",
                    c.expect,
                    c.metric,
                    c.actual,
                    replay_hint(name, seed)
                )),
                Scope::EverySeed => {}
                Scope::SomeSeed => {
                    let seeds = shown.entry(c.expect).or_default();
                    if c.holds {
                        seeds.push(seed);
                    }
                }
            }
        }
    }
    for (expectation, on) in &shown {
        if on.is_empty() {
            failures.push(format!(
                "no seed of {seeds:?} shows `{expectation}` ([expect.some_seed])"
            ));
        }
    }
    let some: Vec<String> = shown
        .iter()
        .map(|(e, on)| {
            let demoted = EXACT_TIMING.iter().any(|(s, x, _)| *s == name && x == e);
            let note = if demoted {
                " (every seed on our World)"
            } else {
                ""
            };
            format!("`{e}` on {}/{}{note}", on.len(), seeds.end - seeds.start)
        })
        .collect();
    println!(
        "{name}: seeds {seeds:?}, every-seed {}, some-seed [{}]; madsim reordered {overtook} \
         messages (held back into order), {written_off} never reached the network",
        if failures.is_empty() { "ok" } else { "FAILED" },
        some.join(", ")
    );
    assert!(
        failures.is_empty(),
        "{name} on madsim:\n{}",
        failures.join("\n")
    );
}

/// One test per built-in scenario, so they run in parallel and fail separately.
macro_rules! cross_checks {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                cross_check($name);
            }
        )*
        const CROSS_CHECKED: &[&str] = &[$($name),*];
    };
}

cross_checks! {
    acks1_data_loss => "acks1-data-loss",
    at_least_once_duplicates => "at-least-once-duplicates",
    at_most_once_loss => "at-most-once-loss",
    broker_faults => "broker-faults",
    consumer_crash_rebalance => "consumer-crash-rebalance",
    consumer_positions => "consumer-positions",
    cooperative_rebalance => "cooperative-rebalance",
    coordinator_failover => "coordinator-failover",
    delivery_timeout_unknown => "delivery-timeout-unknown",
    eager_rebalance => "eager-rebalance",
    idempotent_producer => "idempotent-producer",
    key_partitioning => "key-partitioning",
    kip101_divergence => "kip101-divergence",
    kip101_hw_truncation => "kip101-hw-truncation",
    kip279_fast_failover => "kip279-fast-failover",
    leader_failure => "leader-failure",
    min_isr_rejects_writes => "min-isr-rejects-writes",
    preferred_leader_election => "preferred-leader-election",
    quickstart => "quickstart",
    rebalance_on_join => "rebalance-on-join",
    retention_and_compaction => "retention-and-compaction",
    retry_duplicates => "retry-duplicates",
    retry_reordering => "retry-reordering",
    slow_follower_isr_shrink => "slow-follower-isr-shrink",
    static_membership => "static-membership",
    unclean_election_data_loss => "unclean-election-data-loss",
    zombie_consumer => "zombie-consumer",
}

#[test]
fn every_builtin_scenario_is_cross_checked() {
    let names: Vec<&str> = scenario::builtin().iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names, CROSS_CHECKED,
        "add the new scenario to cross_checks! (the list is sorted by name)"
    );
    for (name, expectation, _) in EXACT_TIMING {
        let s = builtin(name);
        assert!(
            s.expectations
                .iter()
                .any(|e| e.scope == Scope::EverySeed && e.to_string() == *expectation),
            "EXACT_TIMING names `{expectation}`, which {name} does not claim for every seed"
        );
    }
}

/// madsim is deterministic for a seed, and so is everything we run on it: the same seed
/// gives the same events (trace hash), the same summary and the same network; another seed
/// gives another story.
#[test]
fn a_madsim_seed_replays_identically() {
    for name in ["leader-failure", "broker-faults", "cooperative-rebalance"] {
        let s = builtin(name);
        let first = madsim_driver::run(s.clone(), 7);
        let second = madsim_driver::run(s.clone(), 7);
        assert_eq!(first, second, "{name}, madsim seed 7, is not deterministic");
        assert!(first.steps > 0, "{name} ran no steps");
        let other = madsim_driver::run(s, 8);
        assert_ne!(first.trace_hash, other.trace_hash, "{name}: seeds 7 and 8");
    }
}
