//! `kafkalab explain producer`: a scenario's producers with their effective configs, laid out
//! like `kafka-configs.sh --describe --all` (one `key=value` per line), plus where each value
//! came from.
//!
//! Why it exists: Kafka applies cross-key rules when it builds a producer, and it mostly
//! applies them quietly. `acks = "1"` on its own silently turns idempotence off (Kafka logs it
//! at INFO), so a scenario that only meant to weaken durability also allows duplicates and
//! reordering on retry. This view makes every such decision visible before a run, with the
//! reason and what it implies. The rules themselves live in
//! [`ProducerConfig::resolve`](kafkalab_sim::clients::ProducerConfig::resolve); this module
//! only renders their outcome.

use crate::cli::{CmdResult, ExplainProducerArgs, io_error, write_json};
use crate::{exit, scenarios};
use kafkalab_sim::clients::config::ConfigDecision;
use kafkalab_sim::clients::{Keys, PartitionerClass, ProducerConfig};
use kafkalab_sim::kernel::format_duration;
use kafkalab_sim::scenario::{ProducerDef, Scenario};
use kafkalab_sim::utils::partition_for_key;
use serde::Serialize;
use std::fmt::Write as _;
use std::io::Write;

/// At most this many keys are listed in the text view (all of them are in `--json`).
const KEYS_SHOWN: usize = 8;

/// One producer, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct ProducerExplanation {
    pub name: String,
    /// The effective `enable.idempotence`.
    pub idempotence: bool,
    /// What the idempotence and acks settings imply, one sentence each.
    pub so: Vec<String>,
    pub workload: WorkloadView,
    /// Every setting, sorted by key, with its origin (`default`, `set`, `adjusted`).
    pub config: Vec<ConfigDecision>,
    /// Where the records go, for the text view.
    #[serde(skip)]
    routing: String,
}

/// What the producer application sends.
#[derive(Debug, Serialize)]
pub struct WorkloadView {
    pub topic: String,
    /// The topic's partition count.
    pub partitions: i32,
    /// Records to send; `null` = until the run ends.
    pub records: Option<u64>,
    /// Records per second, rounded (the simulator keeps the gap between records).
    pub rate: u64,
    pub interval_us: u64,
    pub start_ms: i64,
    /// Keys used in turn; `null` = null keys.
    pub keys: Option<Vec<String>>,
    /// An explicit partition on every record.
    pub partition: Option<i32>,
}

impl ProducerExplanation {
    pub fn of(scenario: &Scenario, producer: &ProducerDef) -> Self {
        let w = &producer.workload;
        let partitions = scenario
            .topics
            .iter()
            .find(|t| t.name == w.topic)
            .map_or(0, |t| t.partitions);
        let keys: Option<Vec<String>> = match &w.keys {
            Keys::None => None,
            Keys::Cycle(list) => Some(list.iter().map(|k| k.to_string()).collect()),
        };
        ProducerExplanation {
            routing: routing(&producer.config, partitions, w.partition, keys.as_deref()),
            name: producer.name.clone(),
            idempotence: producer.config.enable_idempotence,
            so: implications(&producer.config),
            workload: WorkloadView {
                topic: w.topic.to_string(),
                partitions,
                records: w.records,
                rate: rate_of(w.interval_us),
                interval_us: w.interval_us,
                start_ms: w.start_ms,
                keys,
                partition: w.partition,
            },
            config: producer.config.decisions(),
        }
    }

    /// The text view: the workload, then `Configs for producer <name> are:` with one
    /// `key=value  origin  [why]` line per setting, then the `so:` lines.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let w = &self.workload;
        let _ = writeln!(s, "Producer: {}", self.name);
        let _ = writeln!(
            s,
            "  Topic: {} ({} partition{})",
            w.topic,
            w.partitions,
            if w.partitions == 1 { "" } else { "s" }
        );
        let records = w
            .records
            .map_or("until the run ends".to_string(), |n| format!("{n} records"));
        let _ = writeln!(
            s,
            "  Rate: {} records/s (one every {}), {records}, from {}",
            w.rate,
            format_duration(w.interval_us),
            format_duration(u64::try_from(w.start_ms).unwrap_or(0).saturating_mul(1_000))
        );
        let _ = writeln!(s, "  Keys: {}", self.routing);
        let _ = writeln!(s, "Configs for producer {} are:", self.name);
        let pairs: Vec<String> = self
            .config
            .iter()
            .map(|d| format!("{}={}", d.key, d.value))
            .collect();
        let width = pairs.iter().map(String::len).max().unwrap_or(0);
        for (pair, d) in pairs.iter().zip(&self.config) {
            let line = match &d.why {
                Some(why) => format!("  {pair:<width$}  {:<8}  {why}", d.origin),
                None => format!("  {pair:<width$}  {}", d.origin),
            };
            let _ = writeln!(s, "{line}");
        }
        for so in &self.so {
            let _ = writeln!(s, "so: {so}");
        }
        s
    }
}

/// Where the records go, as far as the config and workload decide it before a run.
fn routing(
    config: &ProducerConfig,
    partitions: i32,
    partition: Option<i32>,
    keys: Option<&[String]>,
) -> String {
    if let Some(p) = partition {
        return format!("every record names partition {p} explicitly (keys do not matter)");
    }
    let Some(keys) = keys else {
        return "null keys: the sticky partitioner (KIP-794) fills a batch on one partition, \
                then moves on"
            .to_string();
    };
    let mut listed: Vec<String> = keys.iter().take(KEYS_SHOWN).cloned().collect();
    if keys.len() > KEYS_SHOWN {
        listed.push(format!("… ({} keys)", keys.len()));
    }
    let in_turn = format!("{} in turn", listed.join(", "));
    if config.partitioner_class == PartitionerClass::RoundRobin {
        return format!(
            "{in_turn}; ignored by RoundRobinPartitioner (every record to the next partition)"
        );
    }
    if config.partitioner_ignore_keys {
        return format!(
            "{in_turn}; ignored for partitioning (partitioner.ignore.keys=true): sticky as for \
             null keys"
        );
    }
    if partitions < 1 {
        return in_turn;
    }
    let mut mapped: Vec<String> = keys
        .iter()
        .take(KEYS_SHOWN)
        .map(|k| format!("{k}→{}", partition_for_key(k.as_bytes(), partitions)))
        .collect();
    if keys.len() > KEYS_SHOWN {
        mapped.push("…".to_string());
    }
    format!(
        "{in_turn}; partition = toPositive(murmur2(key)) % {partitions}: {}",
        mapped.join(" ")
    )
}

/// Records per second for a gap of `interval_us` between records, rounded.
fn rate_of(interval_us: u64) -> u64 {
    match interval_us {
        0 => 0,
        i => (1_000_000 + i / 2) / i,
    }
}

/// What the effective idempotence and acks settings mean for the records, one sentence each:
/// the consequences Kafka leaves to the reader of its INFO log.
pub fn implications(config: &ProducerConfig) -> Vec<String> {
    let mut so = Vec::new();
    let idempotence = if config.enable_idempotence {
        "idempotent: retries cannot duplicate or reorder within this producer session"
    } else if config.acks == 0 {
        "enable.idempotence=false: with acks=0 no response comes back, so a sent batch is \
         never retried (no duplicates from retries, and no delivery guarantee either)"
    } else if config.retries == 0 {
        "enable.idempotence=false with retries=0: a failed send is not retried, so no \
         duplicates, but the record fails instead"
    } else if config.max_in_flight > 1 {
        "enable.idempotence=false: retries may write duplicates and, with \
         max.in.flight.requests.per.connection > 1, reorder records"
    } else {
        "enable.idempotence=false: retries may write duplicates (one request in flight keeps \
         them in order)"
    };
    so.push(idempotence.to_string());
    match config.acks {
        0 => so.push(
            "acks=0: a send completes when the request goes out, with no offset; a record the \
             leader never writes is lost without an error"
                .to_string(),
        ),
        1 => so.push(
            "acks=1: the leader acknowledges before the followers copy the record; if it fails \
             before they do, an acknowledged record can be lost"
                .to_string(),
        ),
        _ => {}
    }
    so
}

pub const LONG_ABOUT: &str = "Explain a scenario's producers before running it: for each \
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

pub const AFTER_LONG_HELP: &str = "Examples:
  kafkalab explain producer quickstart
  kafkalab explain producer acks1-data-loss --json
  kafkalab explain producer my-scenario.toml --producer producer-1";

/// `kafkalab explain producer`: each (or the named) producer of a scenario, explained.
pub(crate) fn explain_producer(args: &ExplainProducerArgs, out: &mut dyn Write) -> CmdResult {
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
