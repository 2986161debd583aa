//! Sweep throughput: seeds per second of `kafkalab sweep leader-failure`, measured against
//! DESIGN §8's budget (at least 100 seeds/s for the 60-simulated-second leader-failure
//! scenario on 2 cores).
//!
//! It runs the sweep's own engine, with and without the invariant checks, (`kafkalab::sweep::pool`) on every available core, the way
//! `kafkalab sweep` does, and prints one line per variant. `KAFKALAB_BENCH_SEEDS` sets the
//! number of seeds (default 200).
//!
//!     cargo bench -p kafkalab --bench sweep

use kafkalab::sweep::pool::{self, RunOptions, SeedSet};
use std::sync::Arc;
use std::time::Instant;

/// DESIGN §8: seeds per second on 2 cores.
const BUDGET_SEEDS_PER_SEC: f64 = 100.0;
const SCENARIO: &str = "leader-failure";

fn main() {
    let seeds: u64 = std::env::var("KAFKALAB_BENCH_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let jobs = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let scenario = match kafkalab_sim::scenario::load_builtin(SCENARIO) {
        Some(Ok(s)) => Arc::new(s),
        other => panic!("built-in scenario {SCENARIO}: {other:?}"),
    };
    // Each variant is one way of running every seed: `sweep --no-invariants`, and the
    // default sweep that checks the invariants after every step and liveness at the end.
    let variants = [
        ("invariants off", RunOptions::default()),
        (
            "invariants on",
            RunOptions {
                invariants: true,
                ..RunOptions::default()
            },
        ),
    ];
    for (label, options) in variants {
        let started = Instant::now();
        let mut failures = 0;
        pool::run_all(
            &scenario,
            SeedSet::new(0, seeds, None),
            jobs,
            options,
            |_| {},
            |run| failures += usize::from(run.result.is_err()),
        );
        let secs = started.elapsed().as_secs_f64();
        let rate = seeds as f64 / secs;
        let verdict = if rate >= BUDGET_SEEDS_PER_SEC {
            "within budget".to_string()
        } else {
            format!("over budget: {:.1}x short", BUDGET_SEEDS_PER_SEC / rate)
        };
        println!(
            "sweep {SCENARIO} seeds 0..{seeds}, {jobs} jobs, {label}: {rate:.1} seeds/s \
             ({secs:.2}s; budget >= {BUDGET_SEEDS_PER_SEC} seeds/s on 2 cores: {verdict})"
        );
        assert_eq!(failures, 0, "some runs panicked");
    }
}
