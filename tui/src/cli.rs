//! The `kafkalab` command line (clap derive): every command's flags and help, and the
//! dispatch from a parsed command to the module that carries it out (`run`, `sweep`,
//! `scenarios`, `describe`, `describe_groups`, `explain`, `placement`, `assign`).
//!
//! Headless jobs print to stdout; a seed banner and diagnostics go to stderr, so `--json`
//! output is exactly one JSON document and can be piped. Exit codes follow [`crate::exit`].

use crate::exit;
use crate::scenarios::{name_width, scenario_list};
use clap::{Args, CommandFactory, Parser, Subcommand};
use kafkalab_sim::kernel::parse_duration;
use serde::Serialize;
use std::ffi::OsString;
use std::io::Write;

const ABOUT: &str = "Kafka Lab: a deterministic simulator and teaching lab for Apache Kafka.

A whole Kafka cluster (brokers, producers, consumers) runs in one process on a simulated
network and clock. Every run is a pure function of (scenario, seed, commands): the same
inputs give the same trace, byte for byte.";

const AFTER_HELP: &str = "Examples:
  kafkalab scenarios list
  kafkalab run quickstart --seed 7
  kafkalab run quickstart --seed 7 --json
  kafkalab run leader-failure --invariants
  kafkalab run broker-faults --trace faults.jsonl
  kafkalab sweep leader-failure --seeds 0..200
  kafkalab sweep acks1-data-loss --seeds 0..1000 --shard 0/4 --json > shard-0.jsonl
  kafkalab describe topics leader-failure --at 20s
  kafkalab describe groups my-groups.toml --at 15s --members
  kafkalab explain partition alice --partitions 3
  kafkalab explain producer acks1-data-loss
  kafkalab explain coordinator my-group
  kafkalab explain assign --input group.toml
  kafkalab lessons list
  kafkalab learn 1
  kafkalab learn 1 --auto

Exit codes: 0 ok, 1 error, 2 usage or malformed scenario, 3 expectation or invariant
violated, 4 liveness, 5 non-determinism.";

#[derive(Debug, Parser)]
#[command(name = "kafkalab", version, about = ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open a scenario in the lab, the terminal UI (`kafkalab` alone opens its home screen).
    Tui(TuiArgs),
    /// Run a scenario headless, print its summary and check its every-seed expectations
    /// (exit 3 if one fails).
    Run(RunArgs),
    /// Run a scenario over a range of seeds on every core and check its expectations.
    #[command(long_about = SWEEP_LONG_ABOUT)]
    Sweep(SweepArgs),
    /// List or inspect the built-in scenarios.
    #[command(subcommand)]
    Scenarios(ScenariosCommand),
    /// Describe the cluster as the controller and the group coordinators see it, like
    /// Kafka's admin tools.
    #[command(subcommand)]
    Describe(DescribeCommand),
    /// Explain how Kafka computes something.
    #[command(subcommand)]
    Explain(ExplainCommand),
    /// List the lessons of the Kafka course.
    #[command(subcommand)]
    Lessons(LessonsCommand),
    /// Take a lesson of the course in the lab, resuming where you left it (no lesson: the
    /// lab's home screen). `--auto` plays it headless, performing every task and answering
    /// every prediction from the live run; exit 3 if a step cannot complete.
    Learn(LearnArgs),
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum LessonsCommand {
    /// The lessons in course order, with their scenario, length and steps.
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct LearnArgs {
    /// A lesson's number (`1`), name (`topics-partitions-offsets`) or a path to a lesson file.
    /// Without one, the lab opens on its home screen, with the course.
    pub lesson: Option<String>,
    /// Play it headless: perform each task, answer each prediction from its query (checking
    /// that a wrong answer is refused), and report each step.
    #[arg(long, requires = "lesson")]
    pub auto: bool,
    /// Do not capture the mouse (keep the terminal's own selection and scrolling).
    #[arg(long)]
    pub no_mouse: bool,
}

#[derive(Debug, Args)]
pub struct TuiArgs {
    /// A built-in scenario name (see `kafkalab scenarios list`) or a path to a TOML file.
    pub scenario: String,
    /// The run's seed [default: the scenario's own seed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Do not capture the mouse (keep the terminal's own selection and scrolling).
    #[arg(long)]
    pub no_mouse: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A built-in scenario name (see `kafkalab scenarios list`) or a path to a TOML file.
    pub scenario: String,
    /// The run's seed [default: the scenario's own seed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop at this simulated time instead of the scenario's end (e.g. 5s, 500ms, 2m).
    #[arg(long, value_parser = parse_until)]
    pub until: Option<u64>,
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// After the summary, tell for each kind of anomaly the checker found (its first few)
    /// the faults, elections, truncations and group events that led to it.
    #[arg(long)]
    pub explain: bool,
    /// Write every trace event to FILE as JSON Lines.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<std::path::PathBuf>,
    /// Add a `[cluster.config]` setting, e.g. `sim.follower.truncation=pre-kip-101` or
    /// `unclean.leader.election.enable=true` (repeatable). The scenario's expectations are
    /// then reported but not enforced.
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub config: Vec<(String, String)>,
    /// Add a setting to every producer's config, e.g. `enable.idempotence=true` or
    /// `max.in.flight.requests.per.connection=1` (repeatable; Kafka's rules are applied
    /// again). The scenario's expectations are then reported but not enforced.
    #[arg(long = "producer-config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub producer_config: Vec<(String, String)>,
    /// Check Kafka's invariants after every step, and that the cluster converges within 60s
    /// (simulated) of the last fault healing: a broken invariant stops the run (exit 3), a
    /// cluster that does not converge exits 4.
    #[arg(long)]
    pub invariants: bool,
}

const SWEEP_LONG_ABOUT: &str = "Run a scenario over a range of seeds on every core and check its \
expectations.

Each seed is one whole, single-threaded, deterministic run; --jobs runs that many at once.
Every-seed expectations ([expect]) are checked on each run, some-seed ones
([expect.some_seed]) over the whole sweep. At the end a table groups the seeds by outcome
(ok, or which expectations failed), with each group's first seed and its replay command.

Exit codes: 0 every expectation met, 3 an expectation failed (or a run panicked), 5 a seed
gave two different traces (--check-determinism).";

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// A built-in scenario name (see `kafkalab scenarios list`) or a path to a TOML file.
    pub scenario: String,
    /// The seeds to run: A..B runs A up to B-1 (as a Rust range), A..=B includes B.
    #[arg(long, value_name = "A..B", value_parser = crate::sweep::pool::parse_seed_range)]
    pub seeds: (u64, u64),
    /// How many seeds run at once, each on its own thread [default: the available cores].
    #[arg(long, value_name = "N", value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    /// Run only the seeds with seed % N == I, so N machines (a CI matrix, a Kubernetes
    /// indexed Job) can split one sweep; their --json outputs merge by concatenation.
    #[arg(long, value_name = "I/N", value_parser = crate::sweep::pool::Shard::parse)]
    pub shard: Option<crate::sweep::pool::Shard>,
    /// Print one JSON object per seed on stdout (in seed order) and nothing else; the
    /// summary table goes to stderr.
    #[arg(long)]
    pub json: bool,
    /// Run every seed twice and compare the trace hashes; exit 5 on any mismatch.
    #[arg(long)]
    pub check_determinism: bool,
    /// Skip the invariant checks after every step and the liveness check at the end (on by
    /// default: a broken invariant fails the seed with exit 3, no convergence with exit 4).
    #[arg(long)]
    pub no_invariants: bool,
    /// Add a `[cluster.config]` setting to every run (repeatable), as for `run`. The
    /// scenario's expectations are then reported but not enforced.
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub config: Vec<(String, String)>,
    /// Add a setting to every producer's config (repeatable), as for `run`. The scenario's
    /// expectations are then reported but not enforced.
    #[arg(long = "producer-config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub producer_config: Vec<(String, String)>,
}

fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=1024).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a number of threads from 1 to 1024, got `{text}`"
        )),
    }
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("expected KEY=VALUE, got `{text}`")),
    }
}

fn parse_until(text: &str) -> Result<u64, String> {
    parse_duration(text)
}

#[derive(Debug, Subcommand)]
pub enum DescribeCommand {
    /// Print each topic's partitions, leaders, replicas and ISR (kafka-topics.sh --describe).
    #[command(long_about = crate::describe::LONG_ABOUT, after_long_help = crate::describe::AFTER_LONG_HELP)]
    Topics(DescribeTopicsArgs),
    /// Print each consumer group's offsets and lag, members or state
    /// (kafka-consumer-groups.sh --describe).
    #[command(long_about = crate::describe_groups::LONG_ABOUT, after_long_help = crate::describe_groups::AFTER_LONG_HELP)]
    Groups(DescribeGroupsArgs),
}

/// Which run, and how far into it, a `describe` command looks at.
#[derive(Debug, Args)]
pub struct RunPointArgs {
    /// A built-in scenario name (see `kafkalab scenarios list`) or a path to a TOML file.
    pub scenario: String,
    /// The run's seed [default: the scenario's own seed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Describe the run at this simulated time (e.g. 12s, 500ms) [default: the scenario's
    /// end].
    #[arg(long, value_name = "DURATION", value_parser = parse_until, conflicts_with = "step")]
    pub at: Option<u64>,
    /// Describe the run after exactly N events (fewer if the run has no more).
    #[arg(long, value_name = "N")]
    pub step: Option<u64>,
    /// Add a `[cluster.config]` setting (repeatable), as for `run`.
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub config: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub struct DescribeTopicsArgs {
    #[command(flatten)]
    pub point: RunPointArgs,
    /// Only this topic.
    #[arg(long, value_name = "NAME")]
    pub topic: Option<String>,
}

#[derive(Debug, Args)]
pub struct DescribeGroupsArgs {
    #[command(flatten)]
    pub point: RunPointArgs,
    /// Only this group (a consumer's `group.id`).
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// One row per member with its assignment instead of one row per partition.
    #[arg(long, conflicts_with = "state")]
    pub members: bool,
    /// One row per group: coordinator, assignment strategy, state and member count.
    #[arg(long)]
    pub state: bool,
    /// Print the groups as one JSON array (the full view, whatever the table).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ScenariosCommand {
    /// List the built-in scenarios with their descriptions.
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Print a built-in scenario's TOML (a starting point for your own).
    Show {
        /// The scenario's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExplainCommand {
    /// Which partition the default partitioner picks for a key:
    /// toPositive(murmur2(utf8(key))) % partitions.
    Partition {
        /// The record key, as a string (its UTF-8 bytes are hashed, like StringSerializer).
        key: String,
        /// The topic's partition count.
        #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
        partitions: i32,
        /// Print `{"key", "murmur2", "partition"}`.
        #[arg(long)]
        json: bool,
    },
    /// A scenario's producers: each setting's effective value and why (default, set, adjusted).
    #[command(long_about = crate::explain::LONG_ABOUT, after_long_help = crate::explain::AFTER_LONG_HELP)]
    Producer(ExplainProducerArgs),
    /// Which __consumer_offsets partition stores a group, and so which broker coordinates it:
    /// Utils.abs(javaHashCode(group)) % partitions.
    #[command(long_about = crate::placement::COORDINATOR_LONG_ABOUT)]
    Coordinator {
        /// The group id (`group.id`), hashed with Java's String.hashCode.
        group: String,
        /// `offsets.topic.num.partitions`: the partition count of __consumer_offsets.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i32).range(1..))]
        partitions: i32,
        /// Print `{"group", "hash", "partition"}`.
        #[arg(long)]
        json: bool,
    },
    /// Run a partition assignor (range, roundrobin, sticky, cooperative-sticky) on a group
    /// described in a TOML file, as the group's leader does in a rebalance.
    #[command(long_about = crate::assign::LONG_ABOUT, after_long_help = crate::assign::AFTER_LONG_HELP)]
    Assign(ExplainAssignArgs),
}

#[derive(Debug, Args)]
pub struct ExplainAssignArgs {
    /// The group to assign: a TOML file with `strategy`, `[topics]` and `[[members]]`
    /// (see `kafkalab explain assign --help`).
    #[arg(long, value_name = "FILE")]
    pub input: std::path::PathBuf,
    /// Print `{"strategy", "assignment": {member: [partitions]}}`, plus `"withheld"` for
    /// cooperative-sticky.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExplainProducerArgs {
    /// A built-in scenario name (see `kafkalab scenarios list`) or a path to a TOML file.
    pub scenario: String,
    /// Only the producer with this name (a `[[producers]]` entry's `name`).
    #[arg(long, value_name = "NAME")]
    pub producer: Option<String>,
    /// Print a JSON array with one object per producer: `name`, `idempotence`, `so`,
    /// `workload` and `config` (each setting's `key`, `value`, `origin`, `why`).
    #[arg(long)]
    pub json: bool,
}

/// What the CLI knows about the terminal it writes to.
#[derive(Clone, Copy, Debug, Default)]
pub struct Console {
    /// Whether the process's stderr is a terminal: only then does `sweep` draw a progress
    /// bar (which goes to the real stderr, not the `stderr` writer).
    pub stderr_is_terminal: bool,
    /// Whether stdin and stdout are a terminal: only then does the lab open (it draws on the
    /// real stdout and reads keys from the real stdin).
    pub interactive: bool,
}

/// Runs the CLI with `args` (including the program name), writing to the given streams, as
/// if stderr were not a terminal (no progress bar). Returns the process exit code.
pub fn main(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> u8 {
    main_with(args, stdout, stderr, Console::default())
}

/// [`main`] for a process whose terminal is described by `console`.
pub fn main_with(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    console: Console,
) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let text = e.render().to_string();
            let _ = if e.use_stderr() {
                stderr.write_all(text.as_bytes())
            } else {
                stdout.write_all(text.as_bytes())
            };
            return code;
        }
    };
    let result = match cli.command {
        None if console.interactive => {
            let progress = crate::lab::progress::default_path();
            let app =
                crate::lab::app::App::home(crate::lab::no_color()).with_progress_file(progress);
            open_lab(app, true)
        }
        None => overview(stdout),
        Some(Command::Tui(args)) => tui(&args, console),
        Some(Command::Run(args)) => crate::run::run(&args, stdout, stderr),
        Some(Command::Sweep(args)) => crate::sweep::sweep(&args, stdout, stderr, console),
        Some(Command::Scenarios(cmd)) => crate::scenarios::scenarios_cmd(&cmd, stdout),
        Some(Command::Describe(DescribeCommand::Topics(args))) => {
            crate::describe::describe_topics_cmd(&args, stdout, stderr)
        }
        Some(Command::Describe(DescribeCommand::Groups(args))) => {
            crate::describe_groups::describe_groups_cmd(&args, stdout, stderr)
        }
        Some(Command::Explain(cmd)) => explain(&cmd, stdout),
        Some(Command::Lessons(LessonsCommand::List { json })) => crate::lessons::list(json, stdout),
        Some(Command::Learn(args)) => learn(&args, console, stdout),
        Some(Command::Completions { shell }) => {
            clap_complete::generate(shell, &mut Cli::command(), "kafkalab", stdout);
            Ok(exit::OK)
        }
    };
    match result {
        Ok(code) => code,
        Err((code, message)) => {
            let _ = writeln!(stderr, "error: {message}");
            code
        }
    }
}

/// What a command returns: its exit code, or an exit code and the message printed after
/// `error: ` on stderr.
pub(crate) type CmdResult = Result<u8, (u8, String)>;

/// A failed write to stdout or a file: exit code `ERROR`.
pub(crate) fn io_error(e: std::io::Error) -> (u8, String) {
    (exit::ERROR, e.to_string())
}

/// `kafkalab tui`: the lab on one scenario, if there is a terminal to draw on.
fn tui(args: &TuiArgs, console: Console) -> CmdResult {
    let scenario = crate::scenarios::load_with_config(&args.scenario, &[], &[])?;
    if !console.interactive {
        return Err((
            exit::USAGE,
            format!(
                "the lab needs a terminal (stdin and stdout); for a headless run try: \
                 kafkalab run {}",
                args.scenario
            ),
        ));
    }
    let seed = args.seed.unwrap_or(scenario.default_seed);
    let app =
        crate::lab::app::App::open(std::sync::Arc::new(scenario), seed, crate::lab::no_color());
    open_lab(app, !args.no_mouse)
}

/// `kafkalab learn [LESSON] [--auto]`: headless, or the lab on the lesson (or the course).
fn learn(args: &LearnArgs, console: Console, out: &mut dyn Write) -> CmdResult {
    use crate::lab::app::App;
    let lesson = match &args.lesson {
        Some(which) if args.auto => return crate::lessons::learn_auto(which, out),
        Some(which) => {
            let (lesson, folder) = crate::lessons::load(which)?;
            let scenario = crate::lessons::scenario(&lesson, folder.as_deref())?;
            Some((lesson, scenario))
        }
        None => None,
    };
    if !console.interactive {
        let which = args.lesson.as_deref().unwrap_or("1");
        return Err((
            exit::USAGE,
            format!(
                "the lab needs a terminal (stdin and stdout); to play a lesson headless try: \
                 kafkalab learn {which} --auto"
            ),
        ));
    }
    let progress = crate::lab::progress::default_path();
    let app = App::home(crate::lab::no_color()).with_progress_file(progress);
    let app = match lesson {
        Some((lesson, scenario)) => {
            app.learn(std::sync::Arc::new(lesson), std::sync::Arc::new(scenario))
        }
        None => app,
    };
    open_lab(app, !args.no_mouse)
}

fn open_lab(app: crate::lab::app::App, mouse: bool) -> CmdResult {
    crate::lab::run(app, mouse).map_err(|e| (exit::ERROR, format!("the terminal: {e}")))?;
    Ok(exit::OK)
}

/// `kafkalab` without arguments and without a terminal: what it can do, and how to start.
fn overview(out: &mut dyn Write) -> CmdResult {
    let mut text =
        String::from("Kafka Lab — a deterministic simulator for learning how Kafka behaves.\n\n");
    text.push_str("Built-in scenarios:\n");
    let list = scenario_list();
    let width = name_width(&list);
    for (name, description) in list {
        text.push_str(&format!("  {name:<width$} {description}\n"));
    }
    text.push_str(
        "\nThe lab (a terminal UI) opens when you run `kafkalab` in a terminal, or on one \
         scenario with `kafkalab tui leader-failure`.\n",
    );
    text.push_str(&format!(
        "The course, {} hands-on lessons: `kafkalab lessons list`; take one in the lab with \
         `kafkalab learn 1`.\n",
        kafkalab_sim::lesson::builtin().len()
    ));
    text.push_str("\nTry:\n  kafkalab run quickstart --seed 7\n  kafkalab run quickstart --json\n");
    text.push_str("  kafkalab sweep leader-failure --seeds 0..200\n");
    text.push_str("  kafkalab describe topics quickstart\n");
    text.push_str("  kafkalab explain partition alice --partitions 3\n");
    text.push_str("  kafkalab explain producer acks1-data-loss\n");
    text.push_str("  kafkalab explain coordinator my-group\n  kafkalab --help\n");
    out.write_all(text.as_bytes()).map_err(io_error)?;
    Ok(exit::OK)
}

/// Prints `value` as one JSON document and a newline: the whole stdout of a `--json` command.
pub(crate) fn write_json<T: Serialize>(out: &mut dyn Write, value: &T) -> Result<(), (u8, String)> {
    serde_json::to_writer(&mut *out, value).map_err(|e| (exit::ERROR, e.to_string()))?;
    writeln!(out).map_err(io_error)
}

/// `kafkalab explain <what>`: to the module that explains it.
fn explain(cmd: &ExplainCommand, out: &mut dyn Write) -> CmdResult {
    match cmd {
        ExplainCommand::Partition {
            key,
            partitions,
            json,
        } => crate::placement::explain_partition(key, *partitions, *json, out),
        ExplainCommand::Producer(args) => crate::explain::explain_producer(args, out),
        ExplainCommand::Coordinator {
            group,
            partitions,
            json,
        } => crate::placement::explain_coordinator(group, *partitions, *json, out),
        ExplainCommand::Assign(args) => crate::assign::explain_assign(args, out),
    }
}
