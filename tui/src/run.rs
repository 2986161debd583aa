//! Running a scenario from the command line: `kafkalab run` (to the end or `--until`, with an
//! optional `--trace` file), and the run to `--at`/`--step` that the `describe` commands look
//! at. Both print the seed banner with the one-line replay command first (on stderr), so any
//! run a learner sees can be reproduced exactly. `run --invariants` also checks the run
//! (`kafkalab_sim::check`) and maps its verdict to exit codes 3 and 4.

use crate::cli::{CmdResult, RunArgs, RunPointArgs, io_error, write_json};
use crate::exit;
use crate::report::RunReport;
use crate::scenarios::load_with_config;
use kafkalab_sim::Simulation;
use kafkalab_sim::check::{Verdict, seconds};
use kafkalab_sim::kernel::SimTime;
use std::io::Write;
use std::sync::Arc;

/// ` --config k=v` (and ` --producer-config k=v`) for each setting, for replay hints.
pub(crate) fn config_flags(
    config: &[(String, String)],
    producer_config: &[(String, String)],
) -> String {
    let cluster = config.iter().map(|(k, v)| format!(" --config {k}={v}"));
    let producer = producer_config
        .iter()
        .map(|(k, v)| format!(" --producer-config {k}={v}"));
    cluster.chain(producer).collect()
}

/// The one-line command that replays `seed` of the scenario `arg` (as the user named it),
/// with the same `--config` / `--producer-config` settings.
pub(crate) fn replay_command(
    arg: &str,
    seed: u64,
    config: &[(String, String)],
    producer_config: &[(String, String)],
) -> String {
    format!(
        "kafkalab run {arg} --seed {seed}{}",
        config_flags(config, producer_config)
    )
}

/// `kafkalab run`: the seed banner, the run (writing its trace, if asked), then the report.
/// Exit code 3 when the run breaks one of the scenario's `[expect]` bounds or, with
/// `--invariants`, an invariant; 4 when a checked run did not converge.
pub(crate) fn run(args: &RunArgs, out: &mut dyn Write, err: &mut dyn Write) -> CmdResult {
    let scenario = load_with_config(&args.scenario, &args.config, &args.producer_config)?;
    let seed = args.seed.unwrap_or(scenario.default_seed);
    let until_flag = args
        .until
        .map(|us| format!(" --until {}", kafkalab_sim::kernel::format_duration(us)))
        .unwrap_or_default();
    let invariants_flag = if args.invariants { " --invariants" } else { "" };
    let replay = replay_command(&args.scenario, seed, &args.config, &args.producer_config);
    let _ = writeln!(
        err,
        "kafkalab: scenario {} seed {seed} (replay: {replay}{until_flag}{invariants_flag})",
        scenario.name
    );
    let mut sim = Simulation::new(Arc::new(scenario), seed);
    sim.set_invariants(args.invariants);
    let until = args.until.map_or(sim.end_time(), SimTime::from_micros);
    match &args.trace {
        None => sim.run_until(until),
        Some(path) => write_trace(&mut sim, until, path)?,
    }
    let mut report = RunReport::of(&sim);
    report.expectations.enforced = args.config.is_empty() && args.producer_config.is_empty();
    if args.json {
        write_json(out, &report)?;
    } else {
        out.write_all(report.to_text().as_bytes())
            .map_err(io_error)?;
        if args.explain {
            out.write_all(explain_anomalies(&sim).as_bytes())
                .map_err(io_error)?;
        }
    }
    let expected = expectation_verdict(&report.expectations, &replay, err);
    if !args.invariants {
        return Ok(expected);
    }
    let verdict = kafkalab_sim::check::verdict(&mut sim);
    let inspect = args.producer_config.is_empty().then(|| {
        format!(
            "kafkalab describe topics {} --seed {seed}{}",
            args.scenario,
            config_flags(&args.config, &[])
        )
    });
    let checked_replay = format!("{replay}{until_flag}{invariants_flag}");
    let _ = err.write_all(
        describe_verdict(&verdict, &sim, &checked_replay, inspect.as_deref()).as_bytes(),
    );
    // A broken invariant or expectation (3) outranks a run that did not converge (4).
    Ok(match verdict_exit_code(&verdict) {
        exit::OK => expected,
        exit::LIVENESS if expected == exit::VIOLATION => exit::VIOLATION,
        code => code,
    })
}

/// Says on stderr which expectations the run broke, with the replay command, and returns the
/// exit code: `VIOLATION` only for enforced ones.
fn expectation_verdict(
    report: &crate::report::ExpectationsReport,
    replay: &str,
    err: &mut dyn Write,
) -> u8 {
    for c in report.failed() {
        let _ = writeln!(
            err,
            "kafkalab: expectation failed: {} (actual {})",
            c.expect, c.actual
        );
    }
    if report.violated() {
        let _ = writeln!(err, "kafkalab: replay: {replay}");
        return exit::VIOLATION;
    }
    if !report.ok {
        let _ = writeln!(
            err,
            "kafkalab: not enforced: --config / --producer-config changed the scenario its \
             [expect] describes"
        );
    }
    exit::OK
}

/// How many anomalies of each kind `--explain` tells, and how many events each story keeps.
const EXPLAINED_PER_KIND: usize = 3;
const STORY_LENGTH: usize = 12;

/// `run --explain`: the first anomalies of each kind, each with the events that led to it.
fn explain_anomalies(sim: &Simulation) -> String {
    use std::fmt::Write as _;
    let anomalies = sim.anomalies();
    let mut t = String::from("\nExplain\n");
    if anomalies.is_empty() {
        t.push_str("  the checker found no anomaly: nothing to explain\n");
        return t;
    }
    let world = sim.world();
    for kind in kafkalab_sim::checker::AnomalyKind::ALL {
        let of_kind: Vec<_> = anomalies.iter().filter(|a| a.kind == kind).collect();
        for a in of_kind.iter().take(EXPLAINED_PER_KIND) {
            let values: Vec<&str> = a.values.iter().map(|v| &**v).collect();
            let _ = writeln!(
                t,
                "\n{} in {} at step {}: {}",
                kind.name(),
                a.tp,
                a.step,
                values.join(", ")
            );
            for e in sim.explain(a, STORY_LENGTH) {
                let who = e.node.map_or("", |n| world.name(n));
                let what = match e.peer {
                    Some(peer) => e.what.replace("{peer}", world.name(peer)),
                    None => e.what,
                };
                let _ = writeln!(
                    t,
                    "  step {:>7}  {:>4}.{:03}s  {:<12} {what}",
                    e.step,
                    e.time_us / 1_000_000,
                    e.time_us / 1000 % 1000,
                    who,
                );
            }
        }
        if of_kind.len() > EXPLAINED_PER_KIND {
            let _ = writeln!(
                t,
                "\n... and {} more {}",
                of_kind.len() - EXPLAINED_PER_KIND,
                kind.name()
            );
        }
    }
    t
}

/// The exit code of a checked run: 0 clean (whether or not liveness could be judged), 3 an
/// invariant broke, 4 the cluster did not converge. For `run --invariants` and sweeps.
pub fn verdict_exit_code(verdict: &Verdict) -> u8 {
    match verdict {
        Verdict::Clean { .. } => exit::OK,
        Verdict::Violated { .. } => exit::VIOLATION,
        Verdict::LivenessFailed { .. } => exit::LIVENESS,
    }
}

/// What a checked run found, for people: each violation with its step, time, subject and
/// sentence, or the liveness verdict; then the command that replays it (`replay`) and, for a
/// violation, `inspect` (a `describe topics` command without its `--step`) at that step.
pub fn describe_verdict(
    verdict: &Verdict,
    sim: &Simulation,
    replay: &str,
    inspect: Option<&str>,
) -> String {
    let mut text = String::new();
    match verdict {
        Verdict::Violated { violations } => {
            for v in violations {
                text += &format!(
                    "kafkalab: invariant {} ({}) violated at step {}, {}: {}\n  {}: {}\n",
                    v.invariant.number(),
                    v.invariant,
                    v.step,
                    seconds(v.time_us),
                    v.invariant.statement(),
                    v.subject,
                    v.detail
                );
            }
            text += &format!("  replay: {replay}\n");
            if let (Some(inspect), Some(v)) = (inspect, violations.first()) {
                // Trace steps count from 0; `--step N` applies N steps.
                text += &format!("  inspect: {inspect} --step {}\n", v.step + 1);
            }
        }
        Verdict::LivenessFailed { liveness } => {
            text += &format!("kafkalab: liveness: {}\n", liveness.describe());
            text += &format!("  replay: {replay}\n");
        }
        Verdict::Clean { liveness } => {
            text += &format!(
                "kafkalab: invariants held over {} steps; liveness: {}\n",
                sim.world().steps(),
                liveness.describe()
            );
        }
    }
    text
}

/// ` --step N` or ` --at T` (default: the scenario's end), for replay hints.
fn point_flag(
    scenario: &kafkalab_sim::scenario::Scenario,
    step: Option<u64>,
    at: Option<u64>,
) -> String {
    match step {
        Some(n) => format!(" --step {n}"),
        None => format!(
            " --at {}",
            kafkalab_sim::kernel::format_duration(at.unwrap_or(scenario.duration_us))
        ),
    }
}

/// Runs `sim` for exactly `step` events, or else to `at` (default: the scenario's end): the
/// point a `describe` command looks at.
fn run_to_point(sim: &mut Simulation, step: Option<u64>, at: Option<u64>, err: &mut dyn Write) {
    match step {
        Some(n) => {
            let mut done = 0;
            while done < n && sim.step().is_some() {
                done += 1;
            }
            if done < n {
                let _ = writeln!(err, "kafkalab: the run ended after {done} of {n} steps");
            }
        }
        None => {
            let until = at.map_or(sim.end_time(), SimTime::from_micros);
            sim.run_until(until);
        }
    }
}

/// Prints the seed banner with the replay command (`kafkalab describe <what> …` plus the
/// command's own `flags`), then builds the run and steps it to `--at`/`--step`.
pub(crate) fn simulate_to_point(
    point: &RunPointArgs,
    scenario: kafkalab_sim::scenario::Scenario,
    what: &str,
    flags: &str,
    err: &mut dyn Write,
) -> Simulation {
    let seed = point.seed.unwrap_or(scenario.default_seed);
    let _ = writeln!(
        err,
        "kafkalab: scenario {} seed {seed} (replay: kafkalab describe {what} {} --seed {seed}{}{flags}{})",
        scenario.name,
        point.scenario,
        point_flag(&scenario, point.step, point.at),
        config_flags(&point.config, &[])
    );
    let mut sim = Simulation::new(Arc::new(scenario), seed);
    run_to_point(&mut sim, point.step, point.at, err);
    sim
}

/// Runs to `until`, writing a JSON Lines trace: a header line with the run's identity and the
/// node names (trace events refer to nodes by id), then one line per step.
fn write_trace(
    sim: &mut Simulation,
    until: SimTime,
    path: &std::path::Path,
) -> Result<(), (u8, String)> {
    let file = std::fs::File::create(path).map_err(|e| {
        (
            exit::ERROR,
            format!("cannot create trace file `{}`: {e}", path.display()),
        )
    })?;
    let mut w = std::io::BufWriter::new(file);
    let nodes: Vec<&str> = sim.world().nodes().map(|(_, name, _, _)| name).collect();
    let header = serde_json::json!({
        "scenario": sim.scenario().name,
        "seed": sim.seed(),
        "nodes": nodes,
    });
    writeln!(w, "{header}").map_err(io_error)?;
    while sim.next_event_time().is_some_and(|t| t <= until) {
        let Some(event) = sim.step() else { break };
        serde_json::to_writer(&mut w, event).map_err(|e| (exit::ERROR, e.to_string()))?;
        writeln!(w).map_err(io_error)?;
    }
    sim.run_until(until);
    w.flush().map_err(io_error)
}
