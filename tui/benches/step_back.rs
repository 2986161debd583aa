//! Step-back latency in the lab: `N` (one step back) at the far end of a 100,000-event run.
//!
//! DESIGN §8's budget is one frame, 16 ms. A step back restores the nearest timeline snapshot
//! (one every `SNAPSHOT_EVERY` steps) and replays forward, so its cost is a clone of the
//! snapshot plus up to `SNAPSHOT_EVERY - 1` steps. The bench runs leader-failure for 150
//! simulated seconds (enough for 100,000 events), goes to step 100,000 and times `back()` from
//! there — the worst case, since step 99,999 lies `SNAPSHOT_EVERY - 1` steps after the
//! snapshot before it — then a step back from the middle of a snapshot interval. After
//! criterion's lines it prints the median and worst single step back of 200 against the
//! budget, and the process's resident memory with every snapshot of the 100,000 steps held.
//! `KAFKALAB_BENCH_PARTS=1` instead prints what cloning each part of the simulation costs.
//!
//!     cargo bench -p kafkalab --bench step_back

use criterion::Criterion;
use kafkalab::lab::session::{SNAPSHOT_EVERY, Session};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

const FAR_END: u64 = 100_000;
const BUDGET: Duration = Duration::from_millis(16);

fn session() -> Session {
    let mut scenario = match kafkalab_sim::scenario::load_builtin("leader-failure") {
        Some(Ok(s)) => s,
        other => panic!("leader-failure: {other:?}"),
    };
    scenario.duration_us = 150_000_000;
    let mut session = Session::new(Arc::new(scenario), 1);
    session.goto(FAR_END);
    assert_eq!(
        session.step(),
        FAR_END,
        "the run ends before {FAR_END} events: lengthen it"
    );
    session
}

/// Times one step back from `from` (going forward to `from` again is not timed).
fn time_back(session: &mut Session, from: u64) -> Duration {
    session.goto(from);
    let start = Instant::now();
    black_box(session.back());
    start.elapsed()
}

fn main() {
    let mut session = session();
    if std::env::var_os("KAFKALAB_BENCH_PARTS").is_some() {
        let sim = session.sim();
        let t = |name: &str, f: &dyn Fn()| {
            let start = Instant::now();
            for _ in 0..20 {
                f();
            }
            println!(
                "{name}: {:.2} ms",
                start.elapsed().as_secs_f64() * 1e3 / 20.0
            );
        };
        t("sim", &|| drop(black_box(sim.clone())));
        t("world", &|| drop(black_box(sim.world().clone())));
        t("history", &|| drop(black_box(sim.history().clone())));
        t("observations", &|| {
            drop(black_box(sim.history().observations.clone()))
        });
        t("story", &|| drop(black_box(sim.history().story.clone())));
        t("sends", &|| drop(black_box(sim.history().sends.clone())));
        println!(
            "observations {} story {} sends {}",
            sim.history().observations.log.len(),
            sim.history().story.events.len(),
            sim.history().sends.len()
        );
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("lab");
    group.sample_size(30);
    group.bench_function("step_back_at_100000_events", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| time_back(&mut session, FAR_END)).sum())
    });
    group.bench_function("step_back_mid_interval", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| time_back(&mut session, FAR_END - SNAPSHOT_EVERY / 2))
                .sum()
        })
    });
    group.finish();
    c.final_summary();

    let mut times: Vec<Duration> = (0..200).map(|_| time_back(&mut session, FAR_END)).collect();
    times.sort();
    let (median, worst) = (times[times.len() / 2], times[times.len() - 1]);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "step back at step {FAR_END} ({} snapshots, one every {SNAPSHOT_EVERY} steps): median \
         {:.2} ms, worst of 200 {:.2} ms, budget {} ms: {}; resident memory {}",
        session.snapshot_count(),
        ms(median),
        ms(worst),
        BUDGET.as_millis(),
        if median <= BUDGET { "within" } else { "OVER" },
        resident_memory()
    );
}

/// The process's resident set size (Linux), for the snapshots' memory cost.
fn resident_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.trim_start_matches("VmRSS:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}
