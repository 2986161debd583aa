//! The `kafkalab` command line (clap derive).
//!
//! Headless jobs print to stdout; a seed banner and diagnostics go to stderr, so `--json`
//! output is exactly one JSON document and can be piped. Exit codes follow [`crate::exit`].

use crate::exit;
use crate::report::RunReport;
use crate::scenarios;
use clap::{Args, CommandFactory, Parser, Subcommand};
use kafkalab_sim::Simulation;
use kafkalab_sim::kernel::{SimTime, parse_duration};
use kafkalab_sim::utils::{
    abs, group_partition, java_string_hash, murmur2, partition_for_key, to_positive,
};
use serde::Serialize;
use std::ffi::OsString;
use std::io::Write;
use std::sync::Arc;

const ABOUT: &str = "Kafka Lab: a deterministic simulator and teaching lab for Apache Kafka.

A whole Kafka cluster (brokers, producers, consumers) runs in one process on a simulated
network and clock. Every run is a pure function of (scenario, seed, commands): the same
inputs give the same trace, byte for byte.";

const AFTER_HELP: &str = "Examples:
  kafkalab scenarios list
  kafkalab run quickstart --seed 7
  kafkalab run quickstart --seed 7 --json
  kafkalab run broker-faults --trace faults.jsonl
  kafkalab describe topics leader-failure --at 20s
  kafkalab describe groups my-groups.toml --at 15s --members
  kafkalab explain partition alice --partitions 3
  kafkalab explain producer acks1-data-loss
  kafkalab explain coordinator my-group
  kafkalab explain assign --input group.toml

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
    /// Run a scenario headless and print its summary.
    Run(RunArgs),
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
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
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
    /// Write every trace event to FILE as JSON Lines.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<std::path::PathBuf>,
    /// Add a `[cluster.config]` setting, e.g. `sim.follower.truncation=pre-kip-101` or
    /// `unclean.leader.election.enable=true` (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub config: Vec<(String, String)>,
    /// Add a setting to every producer's config, e.g. `enable.idempotence=true` or
    /// `max.in.flight.requests.per.connection=1` (repeatable; Kafka's rules are applied again).
    #[arg(long = "producer-config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub producer_config: Vec<(String, String)>,
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("expected KEY=VALUE, got `{text}`")),
    }
}

/// Loads a scenario and applies `--config` and `--producer-config` settings to it.
fn load_with_config(
    name: &str,
    config: &[(String, String)],
    producer_config: &[(String, String)],
) -> Result<kafkalab_sim::scenario::Scenario, (u8, String)> {
    let mut scenario = scenarios::load(name).map_err(|e| (e.exit_code(), e.to_string()))?;
    for (key, value) in config {
        scenario = scenario.with_cluster_config(key, value).map_err(|e| {
            (
                exit::USAGE,
                format!("--config {key}={value}: {}", e.message),
            )
        })?;
    }
    for (key, value) in producer_config {
        scenario = scenario.with_producer_config(key, value).map_err(|e| {
            (
                exit::USAGE,
                format!("--producer-config {key}={value}: {}", e.message),
            )
        })?;
    }
    Ok(scenario)
}

/// ` --config k=v` (and ` --producer-config k=v`) for each setting, for replay hints.
fn config_flags(config: &[(String, String)], producer_config: &[(String, String)]) -> String {
    let cluster = config.iter().map(|(k, v)| format!(" --config {k}={v}"));
    let producer = producer_config
        .iter()
        .map(|(k, v)| format!(" --producer-config {k}={v}"));
    cluster.chain(producer).collect()
}

fn parse_until(text: &str) -> Result<u64, String> {
    parse_duration(text)
}

const DESCRIBE_TOPICS_LONG: &str = "Describe topics the way `kafka-topics.sh --describe` does, \
from the controller's metadata image after running the scenario to a point in time.

Runs the scenario with the seed to `--at` (default: the scenario's end) or for exactly \
`--step` events, then prints, per topic in name order, a header line and one tab-indented \
line per partition:

  Topic: orders<TAB>PartitionCount: 3<TAB>ReplicationFactor: 3<TAB>Configs: min.insync.replicas=2
  <TAB>Topic: orders<TAB>Partition: 0<TAB>Leader: 2<TAB>Replicas: 1,2,3<TAB>Isr: 2,3

`Leader: none` means the partition is offline. `Configs:` lists the topic's own settings and \
the broker-level topic defaults the scenario sets, with their effective values.

Differences from Kafka's output: there is no `TopicId` field (the simulator has no topic ids), \
and the `Elr` / `LastKnownElr` columns of Kafka 4.x are omitted because eligible leader \
replicas (KIP-966) are not modelled.";

const DESCRIBE_TOPICS_AFTER: &str = "Examples:
  kafkalab describe topics leader-failure --at 20s
  kafkalab describe topics leader-failure --seed 3 --topic orders
  kafkalab describe topics quickstart --step 100";

#[derive(Debug, Subcommand)]
pub enum DescribeCommand {
    /// Print each topic's partitions, leaders, replicas and ISR (kafka-topics.sh --describe).
    #[command(long_about = DESCRIBE_TOPICS_LONG, after_long_help = DESCRIBE_TOPICS_AFTER)]
    Topics(DescribeTopicsArgs),
    /// Print each consumer group's offsets and lag, members or state
    /// (kafka-consumer-groups.sh --describe).
    #[command(long_about = DESCRIBE_GROUPS_LONG, after_long_help = DESCRIBE_GROUPS_AFTER)]
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

const DESCRIBE_GROUPS_LONG: &str = "Describe consumer groups the way \
`kafka-consumer-groups.sh --describe` does, from each group's coordinator after running the \
scenario to a point in time.

Runs the scenario with the seed to `--at` (default: the scenario's end) or for exactly \
`--step` events, then prints, per group in name order, a blank line and a table whose columns \
are padded to their widest cell. `-` marks a missing value.

Default (offsets), one row per partition the group owns or has committed:
  GROUP           the group.id
  TOPIC, PARTITION
  CURRENT-OFFSET  the group's committed offset (the next record it will read)
  LOG-END-OFFSET  the partition's high watermark: the end a consumer can read to
  LAG             LOG-END-OFFSET - CURRENT-OFFSET
  CONSUMER-ID     the member that owns the partition now (- if none)
  HOST            the node the member runs on
  CLIENT-ID       its client.id

--members, one row per member:
  CONSUMER-ID, GROUP-INSTANCE-ID (only if some member is static), HOST, CLIENT-ID
  #PARTITIONS     how many partitions it is assigned
  ASSIGNMENT      its partitions by topic, e.g. orders(0,1,2) (Kafka's --members --verbose)

--state, one row per group:
  COORDINATOR (ID)     the broker that coordinates the group, as broker-N (N)
  ASSIGNMENT-STRATEGY  the assignor the members agreed on (e.g. range)
  STATE                Empty, PreparingRebalance, CompletingRebalance, Stable or Dead
  #MEMBERS             how many members the group has

As in Kafka, an empty group is announced with \"Consumer group 'G' has no active members.\" \
and a group mid-rebalance with \"Warning: Consumer group 'G' is rebalancing.\" before its \
table. A group whose coordinator is down, or that no consumer has joined yet, is not shown.

--json prints the whole view of each group (state, generation, protocol, leader, members with \
their assignments, and per-partition committed offset, log end offset, lag and owner) as one \
JSON array, whichever table is selected.

Differences from Kafka's output: columns have no minimum width, HOST is the consumer's node \
name rather than its address, the coordinator is named broker-N rather than host:port, and \
offset rows are in partition order rather than member by member.";

const DESCRIBE_GROUPS_AFTER: &str = "Examples:
  kafkalab describe groups my-groups.toml
  kafkalab describe groups my-groups.toml --at 15s --members
  kafkalab describe groups my-groups.toml --group billing --state
  kafkalab describe groups my-groups.toml --step 2000 --json";

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
    #[command(long_about = EXPLAIN_PRODUCER_LONG, after_long_help = EXPLAIN_PRODUCER_AFTER)]
    Producer(ExplainProducerArgs),
    /// Which __consumer_offsets partition stores a group, and so which broker coordinates it:
    /// Utils.abs(javaHashCode(group)) % partitions.
    #[command(long_about = EXPLAIN_COORDINATOR_LONG)]
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

const EXPLAIN_COORDINATOR_LONG: &str = "Which partition of the internal __consumer_offsets topic \
stores a consumer group's committed offsets and membership. The leader of that partition is the \
group's coordinator: the broker that FindCoordinator returns and that runs the group's \
rebalances.

The partition is Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions (default 50), \
with Java's String.hashCode over UTF-16 code units. Unlike record keys (murmur2 and \
toPositive), it uses abs, and Kafka's abs(Integer.MIN_VALUE) is 0.";

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

const EXPLAIN_PRODUCER_LONG: &str = "Explain a scenario's producers before running it: for each \
producer, its workload (topic, rate, keys and the partition each key hashes to) and every \
producer setting with its effective value, in the `key=value` layout of \
`kafka-configs.sh --describe --all`, followed by where the value came from:

  default   Kafka 4.x's default
  set       the scenario's [producers.config]
  adjusted  changed by one of Kafka's cross-key rules; the reason follows on the same line

The rules are the ones KafkaProducer applies when it is built: the default \
delivery.timeout.ms is raised to linger.ms + request.timeout.ms (an explicit smaller value is \
an error), and idempotence, on by default, is silently turned off when acks is not all, \
retries is 0 or max.in.flight.requests.per.connection is above 5 (if the scenario sets \
enable.idempotence = true itself, that is an error instead). `so:` lines say what the \
outcome means for duplicates, ordering and acknowledged writes.

A scenario that breaks a rule fails to load with the same file:line:column error as `run`.";

const EXPLAIN_PRODUCER_AFTER: &str = "Examples:
  kafkalab explain producer quickstart
  kafkalab explain producer acks1-data-loss --json
  kafkalab explain producer my-scenario.toml --producer producer-1";

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

/// Runs the CLI with `args` (including the program name), writing to the given streams.
/// Returns the process exit code.
pub fn main(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
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
        None => overview(stdout),
        Some(Command::Run(args)) => run(&args, stdout, stderr),
        Some(Command::Scenarios(cmd)) => scenarios_cmd(&cmd, stdout),
        Some(Command::Describe(DescribeCommand::Topics(args))) => {
            describe_topics(&args, stdout, stderr)
        }
        Some(Command::Describe(DescribeCommand::Groups(args))) => {
            describe_groups(&args, stdout, stderr)
        }
        Some(Command::Explain(cmd)) => explain(&cmd, stdout),
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

type CmdResult = Result<u8, (u8, String)>;

fn io_error(e: std::io::Error) -> (u8, String) {
    (exit::ERROR, e.to_string())
}

/// `kafkalab` without arguments: what it can do, until the lab exists.
fn overview(out: &mut dyn Write) -> CmdResult {
    let mut text =
        String::from("Kafka Lab — a deterministic simulator for learning how Kafka behaves.\n\n");
    text.push_str("Built-in scenarios:\n");
    let list = scenario_list();
    let width = name_width(&list);
    for (name, description) in list {
        text.push_str(&format!("  {name:<width$} {description}\n"));
    }
    text.push_str("\nTry:\n  kafkalab run quickstart --seed 7\n  kafkalab run quickstart --json\n");
    text.push_str("  kafkalab describe topics quickstart\n");
    text.push_str("  kafkalab explain partition alice --partitions 3\n");
    text.push_str("  kafkalab explain producer acks1-data-loss\n");
    text.push_str("  kafkalab explain coordinator my-group\n  kafkalab --help\n");
    out.write_all(text.as_bytes()).map_err(io_error)?;
    Ok(exit::OK)
}

/// The width of the name column: the longest scenario name.
fn name_width(list: &[(String, String)]) -> usize {
    list.iter().map(|(name, _)| name.len()).max().unwrap_or(0)
}

fn scenario_list() -> Vec<(String, String)> {
    kafkalab_sim::scenario::builtin()
        .iter()
        .map(|(name, _)| {
            let description = match kafkalab_sim::scenario::load_builtin(name) {
                Some(Ok(s)) => s.description,
                Some(Err(e)) => format!("(invalid: {e})"),
                None => String::new(),
            };
            (name.to_string(), description)
        })
        .collect()
}

fn scenarios_cmd(cmd: &ScenariosCommand, out: &mut dyn Write) -> CmdResult {
    match cmd {
        ScenariosCommand::List { json } => {
            let list = scenario_list();
            if *json {
                #[derive(Serialize)]
                struct Entry<'a> {
                    name: &'a str,
                    description: &'a str,
                }
                let entries: Vec<Entry> = list
                    .iter()
                    .map(|(name, description)| Entry { name, description })
                    .collect();
                write_json(out, &entries)?;
            } else {
                let width = name_width(&list);
                for (name, description) in list {
                    writeln!(out, "{name:<width$} {description}").map_err(io_error)?;
                }
            }
        }
        ScenariosCommand::Show { name } => match kafkalab_sim::scenario::builtin_text(name) {
            Some(text) => out.write_all(text.as_bytes()).map_err(io_error)?,
            None => {
                let names: Vec<&str> = kafkalab_sim::scenario::builtin()
                    .iter()
                    .map(|(n, _)| *n)
                    .collect();
                return Err((
                    exit::USAGE,
                    format!(
                        "no built-in scenario `{name}`; built-in: {}",
                        names.join(", ")
                    ),
                ));
            }
        },
    }
    Ok(exit::OK)
}

fn write_json<T: Serialize>(out: &mut dyn Write, value: &T) -> Result<(), (u8, String)> {
    serde_json::to_writer(&mut *out, value).map_err(|e| (exit::ERROR, e.to_string()))?;
    writeln!(out).map_err(io_error)
}

fn run(args: &RunArgs, out: &mut dyn Write, err: &mut dyn Write) -> CmdResult {
    let scenario = load_with_config(&args.scenario, &args.config, &args.producer_config)?;
    let seed = args.seed.unwrap_or(scenario.default_seed);
    let until_flag = args
        .until
        .map(|us| format!(" --until {}", kafkalab_sim::kernel::format_duration(us)))
        .unwrap_or_default()
        + &config_flags(&args.config, &args.producer_config);
    let _ = writeln!(
        err,
        "kafkalab: scenario {} seed {seed} (replay: kafkalab run {} --seed {seed}{until_flag})",
        scenario.name, args.scenario
    );
    let mut sim = Simulation::new(Arc::new(scenario), seed);
    let until = args.until.map_or(sim.end_time(), SimTime::from_micros);
    match &args.trace {
        None => sim.run_until(until),
        Some(path) => write_trace(&mut sim, until, path)?,
    }
    let report = RunReport::of(&sim);
    if args.json {
        write_json(out, &report)?;
    } else {
        out.write_all(report.to_text().as_bytes())
            .map_err(io_error)?;
    }
    Ok(exit::OK)
}

fn describe_topics(
    args: &DescribeTopicsArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> CmdResult {
    let scenario = load_with_config(&args.point.scenario, &args.point.config, &[])?;
    if let Some(topic) = &args.topic
        && !scenario.topics.iter().any(|t| *t.name == **topic)
    {
        let names: Vec<&str> = scenario.topics.iter().map(|t| &*t.name).collect();
        return Err((
            exit::USAGE,
            format!(
                "unknown topic `{topic}` in scenario {}; its topics: {}",
                scenario.name,
                names.join(", ")
            ),
        ));
    }
    let topic_flag = args
        .topic
        .as_ref()
        .map(|t| format!(" --topic {t}"))
        .unwrap_or_default();
    let sim = simulate_to_point(&args.point, scenario, "topics", &topic_flag, err);
    let text =
        crate::describe::describe_topics(sim.scenario(), sim.metadata(), args.topic.as_deref());
    out.write_all(text.as_bytes()).map_err(io_error)?;
    Ok(exit::OK)
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

fn describe_groups(
    args: &DescribeGroupsArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> CmdResult {
    use crate::describe_groups::{GroupsView, describe_groups, scenario_group_ids};
    let scenario = load_with_config(&args.point.scenario, &args.point.config, &[])?;
    let known = scenario_group_ids(&scenario);
    if let Some(group) = &args.group
        && !known.contains(group)
    {
        let valid = if known.is_empty() {
            "it has none (no consumer sets \"group.id\")".to_string()
        } else {
            format!(
                "its groups: {}",
                known.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        };
        return Err((
            exit::USAGE,
            format!(
                "unknown group `{group}` in scenario {}; {valid}",
                scenario.name
            ),
        ));
    }
    let name = scenario.name.clone();
    let sim = simulate_to_point(
        &args.point,
        scenario,
        "groups",
        &describe_groups_flags(args),
        err,
    );
    let mut groups = sim.groups();
    groups.retain(|g| args.group.as_ref().is_none_or(|only| *g.group == **only));
    if args.json {
        return write_json(out, &groups).map(|()| exit::OK);
    }
    let view = match (args.members, args.state) {
        (true, _) => GroupsView::Members,
        (_, true) => GroupsView::State,
        _ => GroupsView::Offsets,
    };
    let text = match (&args.group, groups.is_empty()) {
        (_, false) => describe_groups(&groups, view),
        (None, true) if known.is_empty() => {
            format!("Scenario {name} has no consumer groups: no consumer sets \"group.id\".\n")
        }
        (None, true) => format!(
            "No consumer group is loaded on a live coordinator at this point \
             (groups of the scenario: {}); no member has joined yet, or the coordinator is down.\n",
            known.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
        (Some(group), true) => format!(
            "Consumer group '{group}' is not loaded on a live coordinator at this point: \
             no member has joined yet, or its coordinator is down.\n"
        ),
    };
    out.write_all(text.as_bytes()).map_err(io_error)?;
    Ok(exit::OK)
}

/// ` --group G`, ` --members`, ` --state`, ` --json` and ` --config k=v`, for the replay hint.
fn describe_groups_flags(args: &DescribeGroupsArgs) -> String {
    let mut flags = args
        .group
        .as_ref()
        .map(|g| format!(" --group {g}"))
        .unwrap_or_default();
    for (set, flag) in [
        (args.members, " --members"),
        (args.state, " --state"),
        (args.json, " --json"),
    ] {
        if set {
            flags.push_str(flag);
        }
    }
    flags
}

/// Prints the seed banner with the replay command (`kafkalab describe <what> …` plus the
/// command's own `flags`), then builds the run and steps it to `--at`/`--step`.
fn simulate_to_point(
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

fn explain(cmd: &ExplainCommand, out: &mut dyn Write) -> CmdResult {
    match cmd {
        ExplainCommand::Partition {
            key,
            partitions,
            json,
        } => {
            let hash = murmur2(key.as_bytes());
            let partition = partition_for_key(key.as_bytes(), *partitions);
            if *json {
                write_json(
                    out,
                    &serde_json::json!({ "key": key, "murmur2": hash, "partition": partition }),
                )?;
            } else {
                let text = format!(
                    "key         {key:?} ({} bytes, UTF-8 as StringSerializer writes it)\n\
                     murmur2     {hash} (signed 32-bit, Utils.murmur2)\n\
                     toPositive  {} (hash & 0x7fffffff, not abs)\n\
                     partition   {} % {partitions} = {partition}\n",
                    key.len(),
                    to_positive(hash),
                    to_positive(hash),
                );
                out.write_all(text.as_bytes()).map_err(io_error)?;
            }
            Ok(exit::OK)
        }
        ExplainCommand::Producer(args) => explain_producer(args, out),
        ExplainCommand::Coordinator {
            group,
            partitions,
            json,
        } => explain_coordinator(group, *partitions, *json, out),
        ExplainCommand::Assign(args) => explain_assign(args, out),
    }
}

fn explain_coordinator(group: &str, partitions: i32, json: bool, out: &mut dyn Write) -> CmdResult {
    let hash = java_string_hash(group);
    let partition = group_partition(group, partitions);
    if json {
        write_json(
            out,
            &serde_json::json!({ "group": group, "hash": hash, "partition": partition }),
        )?;
    } else {
        let text = format!(
            "group       {group:?} (group.id)\n\
             hashCode    {hash} (Java String.hashCode, signed 32-bit)\n\
             abs         {} (Utils.abs, with abs(MIN_VALUE) = 0)\n\
             partition   {} % {partitions} = {partition} (__consumer_offsets-{partition}; \
             its leader is the group coordinator)\n",
            abs(hash),
            abs(hash),
        );
        out.write_all(text.as_bytes()).map_err(io_error)?;
    }
    Ok(exit::OK)
}

fn explain_assign(args: &ExplainAssignArgs, out: &mut dyn Write) -> CmdResult {
    let text = crate::assign::explain_file(&args.input, args.json)?;
    out.write_all(text.as_bytes()).map_err(io_error)?;
    Ok(exit::OK)
}

fn explain_producer(args: &ExplainProducerArgs, out: &mut dyn Write) -> CmdResult {
    let scenario = scenarios::load(&args.scenario).map_err(|e| (e.exit_code(), e.to_string()))?;
    let producers: Vec<&kafkalab_sim::scenario::ProducerDef> = scenario
        .producers
        .iter()
        .filter(|p| args.producer.as_ref().is_none_or(|name| p.name == *name))
        .collect();
    if let Some(name) = &args.producer
        && producers.is_empty()
    {
        let names: Vec<&str> = scenario.producers.iter().map(|p| p.name.as_str()).collect();
        let valid = if names.is_empty() {
            "it has none".to_string()
        } else {
            format!("its producers: {}", names.join(", "))
        };
        return Err((
            exit::USAGE,
            format!(
                "unknown producer `{name}` in scenario {}; {valid}",
                scenario.name
            ),
        ));
    }
    let explained: Vec<crate::explain::ProducerExplanation> = producers
        .iter()
        .map(|p| crate::explain::ProducerExplanation::of(&scenario, p))
        .collect();
    if args.json {
        return write_json(out, &explained).map(|()| exit::OK);
    }
    let text = if explained.is_empty() {
        format!("Scenario {} has no [[producers]].\n", scenario.name)
    } else {
        explained
            .iter()
            .map(|e| e.to_text())
            .collect::<Vec<_>>()
            .join("\n")
    };
    out.write_all(text.as_bytes()).map_err(io_error)?;
    Ok(exit::OK)
}
