//! The sweep's engine: which seeds to run, and worker threads that run them.
//!
//! Each seed is one whole run on one thread — the simulator itself stays single-threaded and
//! deterministic; the parallelism is only across seeds, like independent processes. Workers
//! take the next seed from a shared counter and send their result back over a channel; the
//! calling thread hands results on in seed order, so the sweep's output is the same whatever
//! the number of jobs and whichever run finishes first.

use kafkalab_sim::Simulation;
use kafkalab_sim::check::{self, Verdict};
use kafkalab_sim::history::Summary;
use kafkalab_sim::scenario::Scenario;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

/// `--shard I/N`: only the seeds with `seed % N == I`, so N machines can split one sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Parses `I/N` with `0 <= I < N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let usage = || format!("expected I/N with 0 <= I < N (e.g. 0/4), got `{text}`");
        let (i, n) = text.split_once('/').ok_or_else(usage)?;
        let index: u64 = i.trim().parse().map_err(|_| usage())?;
        let count: u64 = n.trim().parse().map_err(|_| usage())?;
        if count == 0 || index >= count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

/// The seeds of a sweep: `count` seeds from `first`, `step` apart (a shard of a range).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedSet {
    pub first: u64,
    pub step: u64,
    pub count: u64,
}

impl SeedSet {
    /// The seeds of `start..end` (end excluded) that belong to `shard`.
    pub fn new(start: u64, end: u64, shard: Option<Shard>) -> SeedSet {
        let Shard { index, count: n } = shard.unwrap_or(Shard { index: 0, count: 1 });
        // The first seed >= start with seed % n == index.
        let first = start + (index + n - start % n) % n;
        let count = if first >= end {
            0
        } else {
            (end - first).div_ceil(n)
        };
        SeedSet {
            first,
            step: n,
            count,
        }
    }

    /// The `k`-th seed (`k < count`).
    pub fn seed(&self, k: u64) -> u64 {
        self.first + k * self.step
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.count).map(|k| self.seed(k))
    }
}

/// Parses `--seeds`: `A..B` (A up to B-1, as a Rust range), `A..=B`, or one seed `A`.
pub fn parse_seed_range(text: &str) -> Result<(u64, u64), String> {
    let usage = || format!("expected A..B (A up to B-1), A..=B or one seed, got `{text}`");
    let number = |s: &str| s.trim().parse::<u64>().map_err(|_| usage());
    let (start, end) = match text.split_once("..") {
        None => {
            let seed = number(text)?;
            (seed, seed.checked_add(1).ok_or_else(usage)?)
        }
        Some((a, b)) => match b.strip_prefix('=') {
            Some(b) => (number(a)?, number(b)?.checked_add(1).ok_or_else(usage)?),
            None => (number(a)?, number(b)?),
        },
    };
    if end <= start {
        return Err(format!("`{text}` holds no seed: A..B runs A up to B-1"));
    }
    Ok((start, end))
}

/// What each run checks besides its summary.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Run every seed twice and keep the second trace hash (`--check-determinism`).
    pub twice: bool,
    /// Check the invariants after every step and liveness at the end (`kafkalab_sim::check`);
    /// on by default in sweeps, off with `--no-invariants`.
    pub invariants: bool,
}

/// The numbers of one completed run.
#[derive(Clone, Debug)]
pub struct RunNumbers {
    pub trace_hash: u64,
    pub steps: u64,
    pub sim_time_ms: i64,
    pub summary: Summary,
    /// The second run's trace hash, with `--check-determinism`.
    pub second_trace_hash: Option<u64>,
    /// The invariant and liveness verdict, when the run was checked.
    pub verdict: Option<Verdict>,
}

impl RunNumbers {
    /// Whether the second run (if any) gave the same trace.
    pub fn deterministic(&self) -> bool {
        self.second_trace_hash.is_none_or(|h| h == self.trace_hash)
    }
}

/// One seed's result: its numbers, or the message of the panic that stopped it (a bug in the
/// simulator or one of its assertions, found by this seed).
#[derive(Clone, Debug)]
pub struct SeedRun {
    pub seed: u64,
    pub result: Result<RunNumbers, String>,
}

/// Runs `seed` of `scenario` to its end, on this thread.
pub fn run_seed(scenario: &Arc<Scenario>, seed: u64, options: RunOptions) -> SeedRun {
    let once = || {
        let mut sim = Simulation::new(scenario.clone(), seed);
        // A checked run stops at the first step that breaks an invariant.
        sim.set_invariants(options.invariants);
        sim.run_to_end();
        let verdict = options.invariants.then(|| check::verdict(&mut sim));
        let world = sim.world();
        RunNumbers {
            trace_hash: world.trace_hash(),
            steps: world.steps(),
            sim_time_ms: world.now().as_millis(),
            summary: sim.summary(),
            second_trace_hash: None,
            verdict,
        }
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut numbers = once();
        if options.twice {
            numbers.second_trace_hash = Some(once().trace_hash);
        }
        numbers
    }));
    SeedRun {
        seed,
        result: result.map_err(|panic| panic_message(panic.as_ref())),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

/// Runs every seed of `seeds` on `jobs` worker threads. `arrived` is called as each run
/// finishes (for progress), `done` with each result in seed order — both on this thread.
pub fn run_all(
    scenario: &Arc<Scenario>,
    seeds: SeedSet,
    jobs: usize,
    options: RunOptions,
    mut arrived: impl FnMut(&SeedRun),
    mut done: impl FnMut(SeedRun),
) {
    let next = AtomicU64::new(0);
    let (tx, rx) = mpsc::channel::<(u64, SeedRun)>();
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, seeds.count.max(1) as usize) {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= seeds.count {
                        break;
                    }
                    let run = run_seed(scenario, seeds.seed(k), options);
                    if tx.send((k, run)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Results arrive in completion order; hand them on in seed order.
        let mut waiting: BTreeMap<u64, SeedRun> = BTreeMap::new();
        let mut next_done = 0;
        for (k, run) in rx {
            arrived(&run);
            waiting.insert(k, run);
            while let Some(run) = waiting.remove(&next_done) {
                done(run);
                next_done += 1;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_a_range() {
        let all: Vec<u64> = SeedSet::new(3, 20, None).iter().collect();
        assert_eq!(all, (3..20).collect::<Vec<_>>());
        let mut merged: Vec<u64> = (0..4)
            .flat_map(|index| {
                let shard = Shard { index, count: 4 };
                let set = SeedSet::new(3, 20, Some(shard));
                assert!(set.iter().all(|s| s % 4 == index));
                set.iter().collect::<Vec<_>>()
            })
            .collect();
        merged.sort_unstable();
        assert_eq!(merged, all);
        assert_eq!(
            SeedSet::new(5, 6, Some(Shard { index: 0, count: 4 })).count,
            0
        );
    }

    #[test]
    fn seed_ranges_and_shards_parse() {
        assert_eq!(parse_seed_range("0..200"), Ok((0, 200)));
        assert_eq!(parse_seed_range("5..=7"), Ok((5, 8)));
        assert_eq!(parse_seed_range("9"), Ok((9, 10)));
        for bad in ["", "a..b", "5..5", "7..2", "..3"] {
            assert!(parse_seed_range(bad).is_err(), "{bad}");
        }
        assert_eq!(Shard::parse("1/4"), Ok(Shard { index: 1, count: 4 }));
        for bad in ["4/4", "1/0", "1", "a/b"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }
}
