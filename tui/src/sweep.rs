//! `kafkalab sweep`: one scenario over a range of seeds, on every core, checked against the
//! scenario's `[expect]` table and, after every step, Kafka's invariants.
//!
//! Every-seed expectations are checked on each run; some-seed ones over the whole sweep. Each
//! run also has the invariant and liveness checks on (`kafkalab_sim::check`) unless
//! `--no-invariants` says otherwise: a sweep is where rare interleavings are found, so it is
//! where the checks earn their cost. The seeds are then grouped by outcome ("ok", which
//! invariant broke, or which expectations failed), each group with its
//! count and its first seed's one-line replay command — the seed a person debugs. `--json`
//! prints one line per seed instead (in seed order, so shards merge by concatenation), and
//! `--check-determinism` runs each seed twice and compares the trace hashes.

pub mod pool;

use crate::cli::{CmdResult, Console, SweepArgs, io_error};
use crate::exit;
use crate::report::ExpectationsReport;
use crate::run::replay_command;
use crate::scenarios::load_with_config;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use kafkalab_sim::check::{LivenessStatus, Verdict};
use kafkalab_sim::history::Summary;
use kafkalab_sim::scenario::{Expectation, Scenario, Scope};
use pool::{RunNumbers, RunOptions, SeedRun, SeedSet};
use serde::Serialize;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

/// The label of a seed that met every expectation.
const OK: &str = "ok";

/// `kafkalab sweep`.
pub(crate) fn sweep(
    args: &SweepArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    console: Console,
) -> CmdResult {
    let scenario = Arc::new(load_with_config(
        &args.scenario,
        &args.config,
        &args.producer_config,
    )?);
    let (start, end) = args.seeds;
    let seeds = SeedSet::new(start, end, args.shard);
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let plan = Plan {
        args,
        scenario: &scenario,
        seeds,
        jobs,
        enforced: args.config.is_empty() && args.producer_config.is_empty(),
    };
    let _ = writeln!(err, "kafkalab: {}", plan.banner());
    let bar = progress_bar(seeds.count, !args.json && console.stderr_is_terminal);
    let mut tally = Tally::new(&scenario.expectations);
    let mut write_error = None;
    let started = Instant::now();
    let options = RunOptions {
        twice: args.check_determinism,
        invariants: !args.no_invariants,
    };
    pool::run_all(
        &scenario,
        seeds,
        jobs,
        options,
        |_| bar.inc(1),
        |run| {
            let seed = plan.check(run);
            if args.json && write_error.is_none() {
                write_error = plan.write_line(out, &seed).err();
            }
            tally.add(&seed);
            let not_ok = tally.runs - tally.count(OK);
            if seed.outcome != OK {
                bar.set_message(format!("{not_ok} not ok"));
            }
        },
    );
    bar.finish_and_clear();
    if let Some(e) = write_error {
        return Err(io_error(e));
    }
    let text = plan.summary_text(&tally, started.elapsed().as_secs_f64());
    // With --json, stdout holds only the seed lines: the table goes to stderr.
    let table_out: &mut dyn Write = if args.json { err } else { out };
    table_out.write_all(text.as_bytes()).map_err(io_error)?;
    Ok(plan.exit_code(&tally))
}

/// A progress bar on stderr, or a hidden one (`--json`, or stderr is not a terminal).
fn progress_bar(len: u64, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {pos}/{len} seeds  {rate}  eta {eta}  {msg}",
    );
    if let Ok(style) = style {
        let rate = |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.1} seeds/s", state.per_sec());
        };
        bar.set_style(style.with_key("rate", rate).progress_chars("=> "));
    }
    bar
}

/// What the sweep runs and how it reports: the parsed flags and the loaded scenario.
struct Plan<'a> {
    args: &'a SweepArgs,
    scenario: &'a Scenario,
    seeds: SeedSet,
    jobs: usize,
    /// False when `--config`/`--producer-config` changed the scenario its `[expect]` is about.
    enforced: bool,
}

/// One seed's run with its expectations checked and its outcome named.
struct CheckedSeed {
    seed: u64,
    run: Result<RunNumbers, String>,
    expectations: ExpectationsReport,
    /// `ok`, or what went wrong: `failed: lost_write = 0`, `non-deterministic`, `panicked`.
    outcome: String,
}

impl Plan<'_> {
    fn banner(&self) -> String {
        format!(
            "sweep {} seeds {} ({} on {}{}{})",
            self.scenario.name,
            self.seeds_text(),
            plural(self.seeds.count, "run"),
            plural(self.jobs as u64, "job"),
            if self.args.check_determinism {
                ", each seed twice"
            } else {
                ""
            },
            if self.args.no_invariants {
                ", invariants off"
            } else {
                ", invariants checked"
            }
        )
    }

    /// `0..200`, or `0..200, shard 1/4`.
    fn seeds_text(&self) -> String {
        let (start, end) = self.args.seeds;
        match self.args.shard {
            None => format!("{start}..{end}"),
            Some(s) => format!("{start}..{end}, shard {}/{}", s.index, s.count),
        }
    }

    /// The `run` that replays `seed`, with `--invariants` when the sweep checked them (so
    /// the replay names the broken invariant and its step).
    fn replay(&self, seed: u64) -> String {
        let run = replay_command(
            &self.args.scenario,
            seed,
            &self.args.config,
            &self.args.producer_config,
        );
        if self.args.no_invariants {
            run
        } else {
            run + " --invariants"
        }
    }

    /// Checks a finished run against the expectations and names its outcome.
    fn check(&self, run: SeedRun) -> CheckedSeed {
        let mut expectations = match &run.result {
            Ok(numbers) => {
                ExpectationsReport::of(&self.scenario.expectations, &numbers.summary, true)
            }
            Err(_) => ExpectationsReport::of(&[], &Summary::default(), false),
        };
        expectations.enforced = self.enforced;
        let outcome = outcome_label(&run.result, &expectations);
        CheckedSeed {
            seed: run.seed,
            run: run.result,
            expectations,
            outcome,
        }
    }

    /// One `--json` line.
    fn write_line(&self, out: &mut dyn Write, seed: &CheckedSeed) -> std::io::Result<()> {
        let numbers = seed.run.as_ref().ok();
        let line = SeedLine {
            scenario: &self.scenario.name,
            seed: seed.seed,
            trace_hash: numbers.map(|n| format!("{:016x}", n.trace_hash)),
            second_trace_hash: numbers
                .and_then(|n| n.second_trace_hash)
                .map(|h| format!("{h:016x}")),
            steps: numbers.map(|n| n.steps),
            sim_time_ms: numbers.map(|n| n.sim_time_ms),
            summary: numbers.map(|n| &n.summary),
            invariants: numbers.and_then(|n| n.verdict.as_ref()),
            expectations: &seed.expectations,
            outcome: &seed.outcome,
            replay: self.replay(seed.seed),
        };
        serde_json::to_writer(&mut *out, &line)?;
        writeln!(out)
    }

    /// 5 non-determinism, else 3 a panic, a broken invariant or a failed (enforced)
    /// expectation, else 4 a run that did not converge, else 0.
    fn exit_code(&self, tally: &Tally) -> u8 {
        if tally.nondeterministic > 0 {
            exit::NON_DETERMINISM
        } else if tally.panicked > 0
            || tally.violated > 0
            || (self.enforced && (tally.failed > 0 || self.some_seed_failures(tally) > 0))
        {
            exit::VIOLATION
        } else if tally.not_converged > 0 {
            exit::LIVENESS
        } else {
            exit::OK
        }
    }

    /// Some-seed expectations that held for no seed — decided only over a whole sweep, not
    /// a shard of one.
    fn some_seed_failures(&self, tally: &Tally) -> usize {
        if self.args.shard.is_some() || self.seeds.count == 0 {
            return 0;
        }
        tally.some_seed.iter().filter(|s| s.held == 0).count()
    }
}

/// `ok`, or what went wrong with this seed. Seeds with the same label form one row.
fn outcome_label(run: &Result<RunNumbers, String>, expectations: &ExpectationsReport) -> String {
    let numbers = match run {
        Ok(numbers) => numbers,
        Err(message) => {
            let first_line = message.lines().next().unwrap_or_default();
            return format!("panicked: {first_line}");
        }
    };
    let mut parts = Vec::new();
    if !numbers.deterministic() {
        parts.push("non-deterministic".to_string());
    }
    match &numbers.verdict {
        Some(Verdict::Violated { violations }) => {
            let mut broken: Vec<String> = violations
                .iter()
                .map(|v| format!("{} ({})", v.invariant.number(), v.invariant))
                .collect();
            broken.dedup();
            parts.push(format!("invariant {}", broken.join(", ")));
        }
        Some(Verdict::LivenessFailed { liveness }) => {
            parts.push(format!("liveness: {}", liveness_reason(liveness)));
        }
        Some(Verdict::Clean { .. }) | None => {}
    }
    let failed: Vec<&str> = expectations.failed().map(|c| c.expect.as_str()).collect();
    if !failed.is_empty() {
        parts.push(format!("failed: {}", failed.join(", ")));
    }
    if parts.is_empty() {
        OK.to_string()
    } else {
        parts.join("; ")
    }
}

/// Why a run did not converge, without its times (which differ from seed to seed), so that
/// seeds stuck on the same condition share a row.
fn liveness_reason(liveness: &LivenessStatus) -> String {
    match liveness {
        LivenessStatus::Failed { reason, .. } => reason.clone(),
        other => other.describe(),
    }
}

/// One line of `sweep --json`: the run's identity, its summary numbers (flattened, as in
/// `run --json`), its expectations, its outcome and its replay command.
#[derive(Serialize)]
struct SeedLine<'a> {
    scenario: &'a str,
    seed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_hash: Option<String>,
    /// With `--check-determinism`: the second run's trace hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    second_trace_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    steps: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sim_time_ms: Option<i64>,
    #[serde(flatten)]
    summary: Option<&'a Summary>,
    /// The invariant and liveness verdict (absent with `--no-invariants` or a panic).
    #[serde(skip_serializing_if = "Option::is_none")]
    invariants: Option<&'a Verdict>,
    expectations: &'a ExpectationsReport,
    outcome: &'a str,
    replay: String,
}

/// One row of the outcome table: the seeds with the same outcome.
struct OutcomeRow {
    label: String,
    seeds: u64,
    first: u64,
    /// For each failed expectation: the smallest and largest actual value among the seeds.
    actual: Vec<(String, u64, u64)>,
}

/// A some-seed expectation over the sweep: for how many seeds it held, and the first.
struct SomeSeedRow {
    expect: String,
    held: u64,
    first: Option<u64>,
}

/// The sweep so far, from the seeds in order.
struct Tally {
    rows: Vec<OutcomeRow>,
    some_seed: Vec<SomeSeedRow>,
    runs: u64,
    /// Seeds that failed an every-seed expectation.
    failed: u64,
    /// Seeds that broke an invariant.
    violated: u64,
    /// Seeds whose cluster did not converge after the faults healed.
    not_converged: u64,
    nondeterministic: u64,
    panicked: u64,
}

impl Tally {
    fn new(expectations: &[Expectation]) -> Self {
        let some_seed = expectations
            .iter()
            .filter(|e| e.scope == Scope::SomeSeed)
            .map(|e| SomeSeedRow {
                expect: e.to_string(),
                held: 0,
                first: None,
            })
            .collect();
        Tally {
            rows: Vec::new(),
            some_seed,
            runs: 0,
            failed: 0,
            violated: 0,
            not_converged: 0,
            nondeterministic: 0,
            panicked: 0,
        }
    }

    /// How many seeds had the outcome `label`.
    fn count(&self, label: &str) -> u64 {
        self.rows
            .iter()
            .find(|r| r.label == label)
            .map_or(0, |r| r.seeds)
    }

    fn add(&mut self, seed: &CheckedSeed) {
        self.runs += 1;
        match &seed.run {
            Err(_) => self.panicked += 1,
            Ok(numbers) => {
                if !numbers.deterministic() {
                    self.nondeterministic += 1;
                }
                match numbers.verdict {
                    Some(Verdict::Violated { .. }) => self.violated += 1,
                    Some(Verdict::LivenessFailed { .. }) => self.not_converged += 1,
                    _ => {}
                }
            }
        }
        if seed.expectations.failed().next().is_some() {
            self.failed += 1;
        }
        let held = seed.expectations.results.iter();
        for (row, checked) in self
            .some_seed
            .iter_mut()
            .zip(held.filter(|c| c.scope == Scope::SomeSeed))
        {
            if checked.holds {
                row.held += 1;
                row.first.get_or_insert(seed.seed);
            }
        }
        let row = match self.rows.iter_mut().position(|r| r.label == seed.outcome) {
            Some(i) => &mut self.rows[i],
            None => {
                self.rows.push(OutcomeRow {
                    label: seed.outcome.clone(),
                    seeds: 0,
                    first: seed.seed,
                    actual: Vec::new(),
                });
                self.rows.last_mut().expect("just pushed")
            }
        };
        row.seeds += 1;
        for c in seed.expectations.failed() {
            match row.actual.iter_mut().find(|(e, _, _)| *e == c.expect) {
                Some((_, low, high)) => {
                    *low = (*low).min(c.actual);
                    *high = (*high).max(c.actual);
                }
                None => row.actual.push((c.expect.clone(), c.actual, c.actual)),
            }
        }
    }
}

impl Plan<'_> {
    /// The closing report: what ran, how fast, the outcome table, the some-seed verdicts.
    fn summary_text(&self, tally: &Tally, secs: f64) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "Scenario    {}", self.scenario.name);
        let _ = writeln!(
            t,
            "Seeds       {} ({} on {}{})",
            self.seeds_text(),
            plural(tally.runs, "run"),
            plural(self.jobs as u64, "job"),
            if self.args.check_determinism {
                ", each twice: determinism checked"
            } else {
                ""
            }
        );
        let rate = if secs > 0.0 {
            tally.runs as f64 / secs
        } else {
            0.0
        };
        let _ = writeln!(t, "Time        {secs:.2}s, {rate:.1} seeds/s");
        self.expect_text(&mut t);
        let _ = writeln!(t);
        self.outcome_table(tally, &mut t);
        self.some_seed_text(tally, &mut t);
        t
    }

    fn expect_text(&self, t: &mut String) {
        let every: Vec<String> = self.expectations(Scope::EverySeed);
        let some: Vec<String> = self.expectations(Scope::SomeSeed);
        if every.is_empty() && some.is_empty() {
            let _ = writeln!(t, "Expect      nothing: the scenario has no [expect] table");
            return;
        }
        let none = || "-".to_string();
        let list = |v: &[String]| if v.is_empty() { none() } else { v.join(", ") };
        let _ = writeln!(t, "Expect      every seed: {}", list(&every));
        let _ = writeln!(t, "            some seed:  {}", list(&some));
        if !self.enforced {
            let _ = writeln!(
                t,
                "            (not enforced: --config / --producer-config changed the scenario)"
            );
        }
    }

    fn expectations(&self, scope: Scope) -> Vec<String> {
        self.scenario
            .expectations
            .iter()
            .filter(|e| e.scope == scope)
            .map(ToString::to_string)
            .collect()
    }

    /// `OUTCOME  SEEDS  FIRST  REPLAY`, ok first, then by first seed.
    fn outcome_table(&self, tally: &Tally, t: &mut String) {
        let mut rows: Vec<(String, &OutcomeRow)> =
            tally.rows.iter().map(|r| (row_label(r), r)).collect();
        rows.sort_by_key(|(_, r)| (r.label != OK, r.first));
        let width = rows
            .iter()
            .map(|(label, _)| label.chars().count())
            .chain(std::iter::once("OUTCOME".len()))
            .max()
            .unwrap_or(0);
        let _ = writeln!(
            t,
            "{:<width$}  {:>6}  {:>6}  REPLAY",
            "OUTCOME", "SEEDS", "FIRST"
        );
        for (label, row) in rows {
            let replay = if row.label == OK {
                String::new()
            } else {
                self.replay(row.first)
            };
            let line = format!(
                "{label:<width$}  {:>6}  {:>6}  {replay}",
                row.seeds, row.first
            );
            let _ = writeln!(t, "{}", line.trim_end());
        }
    }

    fn some_seed_text(&self, tally: &Tally, t: &mut String) {
        if tally.some_seed.is_empty() {
            return;
        }
        let _ = writeln!(t);
        let width = tally
            .some_seed
            .iter()
            .map(|s| s.expect.len())
            .max()
            .unwrap_or(0);
        for (i, row) in tally.some_seed.iter().enumerate() {
            let label = if i == 0 { "Some seed" } else { "" };
            let verdict = match (row.first, self.args.shard.is_some()) {
                (Some(first), _) => format!(
                    "ok: held for {} of {} seeds, first {} ({})",
                    row.held,
                    tally.runs,
                    first,
                    self.replay(first)
                ),
                (None, true) => "held for no seed of this shard (merge the shards' \
                                 --json lines to decide)"
                    .to_string(),
                (None, false) if self.enforced => {
                    format!("FAILED: held for none of the {} seeds", tally.runs)
                }
                (None, false) => {
                    format!("held for none of the {} seeds (not enforced)", tally.runs)
                }
            };
            let _ = writeln!(t, "{label:<12}{:<width$}  {verdict}", row.expect);
        }
    }
}

/// The row's label with the range of actual values behind each failed expectation:
/// `failed: lost_write = 0 (actual 1 to 4)`.
fn row_label(row: &OutcomeRow) -> String {
    let mut label = row.label.clone();
    if !row.actual.is_empty() {
        let actual: Vec<String> = row
            .actual
            .iter()
            .map(|(_, low, high)| {
                if low == high {
                    format!("{low}")
                } else {
                    format!("{low} to {high}")
                }
            })
            .collect();
        let _ = write!(label, " (actual {})", actual.join(", "));
    }
    label
}

/// `1 run`, `200 runs`.
fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
