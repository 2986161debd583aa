//! From TOML text to a validated [`Scenario`], with errors a person can act on.
//!
//! Every error names the file, line and column, the key at fault and, where the set is closed,
//! what would be valid (`unknown field `retension.ms`, expected one of …`). Kafka configs go
//! through the same setters the model uses, so a config the model does not act on is rejected
//! rather than silently ignored.

use super::action::Action;
use super::spec::{ConfigMap, ConsumerSpec, ProducerSpec, ScenarioFile, TopicSpec};
use crate::broker::BrokerConfig;
use crate::clients::{ConsumerConfig, Keys, ProducerConfig, Subscription, Workload};
use crate::kernel::{LinkConfig, Probability, parse_duration};
use crate::log::{ConfigError, LogConfig};
use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// A scenario file that could not be loaded, located as precisely as possible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if let Some(key) = &self.key
            && !self.message.contains(&format!("`{key}`"))
        {
            write!(f, "`{key}`: ")?;
        }
        f.write_str(self.message.trim_end())
    }
}

impl std::error::Error for ScenarioError {}

/// A validated topic.
#[derive(Clone, Debug)]
pub struct TopicDef {
    pub name: Arc<str>,
    pub partitions: i32,
    pub replication_factor: u32,
    pub config: LogConfig,
}

/// A validated producer application.
#[derive(Clone, Debug)]
pub struct ProducerDef {
    pub name: String,
    pub config: ProducerConfig,
    pub workload: Workload,
}

/// A validated consumer application.
#[derive(Clone, Debug)]
pub struct ConsumerDef {
    pub name: String,
    pub config: ConsumerConfig,
    pub subscription: Subscription,
    pub start_us: u64,
}

/// An action at a simulated time.
#[derive(Clone, Debug, PartialEq)]
pub struct TimedAction {
    pub at_us: u64,
    pub action: Action,
}

/// A validated scenario: everything needed to build a run, given a seed.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// Where it came from (`scenarios/quickstart.toml` or a path), for messages.
    pub source: String,
    pub default_seed: u64,
    pub duration_us: u64,
    pub brokers: u32,
    pub broker_config: BrokerConfig,
    pub link: LinkConfig,
    pub topics: Vec<TopicDef>,
    pub producers: Vec<ProducerDef>,
    pub consumers: Vec<ConsumerDef>,
    pub timeline: Vec<TimedAction>,
}

impl Scenario {
    pub fn broker_name(id: i32) -> String {
        format!("broker-{id}")
    }

    pub fn topic(&self, name: &str) -> Option<&TopicDef> {
        self.topics.iter().find(|t| &*t.name == name)
    }
}

/// Maps byte offsets of the source to line and column.
struct Locator<'a> {
    file: &'a str,
    text: &'a str,
}

impl Locator<'_> {
    fn error(&self, offset: usize, key: Option<&str>, message: impl Into<String>) -> ScenarioError {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        ScenarioError {
            file: self.file.to_string(),
            line,
            column,
            key: key.map(str::to_string),
            message: message.into(),
        }
    }

    /// The position of the first `key` at or after the start of `span` (or the span's start
    /// when it is not found). The search runs past the span's end because toml spans of an
    /// `[[array]]` entry stop before its sub-tables (`[producers.config]`).
    fn key_in(&self, span: &Range<usize>, key: &str) -> usize {
        let start = span.start.min(self.text.len());
        self.text[start..]
            .find(key)
            .map_or(span.start, |i| start + i)
    }

    fn config_error(&self, span: &Range<usize>, e: ConfigError) -> ScenarioError {
        let at = self.key_in(span, &e.key);
        self.error(at, Some(&e.key), e.message)
    }

    /// A toml/serde error; the key is read off the line it points at.
    fn toml_error(&self, e: &toml::de::Error) -> ScenarioError {
        let offset = e.span().map_or(0, |s| s.start);
        let line_start = self.text[..offset.min(self.text.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let line = self.text[line_start..].lines().next().unwrap_or("");
        let key = line
            .split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"').to_string())
            .filter(|k| !k.is_empty() && !k.starts_with('['));
        self.error(offset, key.as_deref(), e.message())
    }
}

/// Parses and validates a scenario. `file` labels errors (a path or `scenarios/<name>.toml`).
pub fn parse_scenario(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
    let loc = Locator { file, text };
    let raw: ScenarioFile = toml::from_str(text).map_err(|e| loc.toml_error(&e))?;
    let default_name = std::path::Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("scenario")
        .to_string();
    let duration_us = duration(
        &loc,
        raw.duration.span().start,
        "duration",
        raw.duration.get_ref(),
    )?;
    if duration_us == 0 {
        return Err(loc.error(
            raw.duration.span().start,
            Some("duration"),
            "must be longer than 0s",
        ));
    }
    let brokers = raw.cluster.brokers;
    if !(1..=64).contains(&brokers) {
        return Err(loc.error(
            loc.key_in(&(0..text.len()), "brokers"),
            Some("brokers"),
            "must be between 1 and 64",
        ));
    }
    let mut broker_config = BrokerConfig::new(0);
    let span = raw.cluster.config.span();
    for (key, value) in raw.cluster.config.get_ref() {
        let value = config_value(&loc, &span, key, value)?;
        broker_config
            .set(key, &value)
            .map_err(|e| loc.config_error(&span, e))?;
    }
    let link = network(&loc, &raw)?;
    let topics = topics(&loc, &raw.topics, brokers)?;
    let mut names: BTreeSet<String> = (1..=brokers as i32).map(Scenario::broker_name).collect();
    let mut producers = Vec::new();
    for spec in &raw.producers {
        let span = spec.span();
        claim_name(&loc, &span, &mut names, &spec.get_ref().name)?;
        producers.push(producer_def(&loc, &span, spec.get_ref(), &topics)?);
    }
    let mut consumers = Vec::new();
    for spec in &raw.consumers {
        let span = spec.span();
        claim_name(&loc, &span, &mut names, &spec.get_ref().name)?;
        consumers.push(consumer_def(&loc, &span, spec.get_ref(), &topics)?);
    }
    let timeline = timeline(&loc, &raw.timeline, &topics, &mut names)?;
    Ok(Scenario {
        name: raw.name.unwrap_or(default_name),
        description: raw.description.trim().to_string(),
        source: file.to_string(),
        default_seed: raw.seed,
        duration_us,
        brokers,
        broker_config,
        link,
        topics,
        producers,
        consumers,
        timeline,
    })
}

fn duration(loc: &Locator, at: usize, key: &str, text: &str) -> Result<u64, ScenarioError> {
    parse_duration(text).map_err(|m| loc.error(at, Some(key), m))
}

fn config_value(
    loc: &Locator,
    span: &Range<usize>,
    key: &str,
    value: &toml::Value,
) -> Result<String, ScenarioError> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        _ => Err(loc.error(
            loc.key_in(span, key),
            Some(key),
            "a config value must be a string, a number or a boolean",
        )),
    }
}

fn network(loc: &Locator, raw: &ScenarioFile) -> Result<LinkConfig, ScenarioError> {
    let whole = 0..loc.text.len();
    let mut link = LinkConfig::default();
    if let Some(latency) = &raw.network.latency {
        link.latency_us = duration(loc, loc.key_in(&whole, "latency"), "latency", latency)?;
    }
    if let Some(jitter) = &raw.network.jitter {
        link.jitter_us = duration(loc, loc.key_in(&whole, "jitter"), "jitter", jitter)?;
    }
    let probability = |key: &str, p: f64| {
        Probability::new(p).ok_or_else(|| {
            loc.error(
                loc.key_in(&whole, key),
                Some(key),
                format!("must be a probability between 0.0 and 1.0, got {p}"),
            )
        })
    };
    link.loss = probability("loss", raw.network.loss)?;
    link.duplicate = probability("duplicate", raw.network.duplicate)?;
    Ok(link)
}

fn topics(
    loc: &Locator,
    specs: &[toml::Spanned<TopicSpec>],
    brokers: u32,
) -> Result<Vec<TopicDef>, ScenarioError> {
    let mut out: Vec<TopicDef> = Vec::new();
    for spec in specs {
        let span = spec.span();
        let t = spec.get_ref();
        if t.name.is_empty()
            || !t
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(loc.error(
                loc.key_in(&span, "name"),
                Some("name"),
                format!(
                    "`{}` is not a legal topic name: use ASCII letters, digits, `.`, `_` and `-`",
                    t.name
                ),
            ));
        }
        if out.iter().any(|o| *o.name == *t.name) {
            return Err(loc.error(
                span.start,
                Some("name"),
                format!("topic `{}` is defined twice", t.name),
            ));
        }
        if !(1..=1000).contains(&t.partitions) {
            return Err(loc.error(
                loc.key_in(&span, "partitions"),
                Some("partitions"),
                "must be between 1 and 1000",
            ));
        }
        if t.replication_factor != 1 || t.replication_factor > brokers {
            // Replication arrives with the replication issue; until then every partition has
            // exactly one replica, and saying otherwise would teach the wrong thing.
            return Err(loc.error(
                loc.key_in(&span, "replication_factor"),
                Some("replication_factor"),
                format!(
                    "only replication_factor = 1 is modelled so far (got {})",
                    t.replication_factor
                ),
            ));
        }
        let mut config = LogConfig::default();
        for (key, value) in &t.config {
            let value = config_value(loc, &span, key, value)?;
            config
                .set(key, &value)
                .map_err(|e| loc.config_error(&span, e))?;
        }
        out.push(TopicDef {
            name: Arc::from(t.name.as_str()),
            partitions: t.partitions as i32,
            replication_factor: t.replication_factor,
            config,
        });
    }
    Ok(out)
}

fn claim_name(
    loc: &Locator,
    span: &Range<usize>,
    names: &mut BTreeSet<String>,
    name: &str,
) -> Result<(), ScenarioError> {
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(loc.error(
            loc.key_in(span, "name"),
            Some("name"),
            "a node name must be non-empty and without spaces",
        ));
    }
    if !names.insert(name.to_string()) {
        return Err(loc.error(
            loc.key_in(span, "name"),
            Some("name"),
            format!("the name `{name}` is already taken (brokers are named broker-1, broker-2, …)"),
        ));
    }
    Ok(())
}

fn known_topic<'t>(
    loc: &Locator,
    span: &Range<usize>,
    topics: &'t [TopicDef],
    name: &str,
) -> Result<&'t TopicDef, ScenarioError> {
    topics.iter().find(|t| &*t.name == name).ok_or_else(|| {
        let known: Vec<&str> = topics.iter().map(|t| &*t.name).collect();
        loc.error(
            loc.key_in(span, "topic"),
            Some("topic"),
            format!(
                "unknown topic `{name}`; defined topics: {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        )
    })
}

fn start_us(
    loc: &Locator,
    span: &Range<usize>,
    start: &Option<String>,
) -> Result<u64, ScenarioError> {
    start.as_deref().map_or(Ok(0), |s| {
        duration(loc, loc.key_in(span, "start"), "start", s)
    })
}

/// Validates a producer spec (from `[[producers]]` or an `add-producer` action).
pub(crate) fn producer_def_checked(
    spec: &ProducerSpec,
    topics: &[TopicDef],
) -> Result<ProducerDef, ScenarioError> {
    // An action has no source text to point into: errors keep their key and message.
    let loc = Locator {
        file: "add-producer",
        text: "",
    };
    producer_def(&loc, &(0..0), spec, topics)
}

/// Validates a consumer spec (from `[[consumers]]` or an `add-consumer` action).
pub(crate) fn consumer_def_checked(
    spec: &ConsumerSpec,
    topics: &[TopicDef],
) -> Result<ConsumerDef, ScenarioError> {
    let loc = Locator {
        file: "add-consumer",
        text: "",
    };
    consumer_def(&loc, &(0..0), spec, topics)
}

fn apply_configs(
    loc: &Locator,
    span: &Range<usize>,
    map: &ConfigMap,
    mut set: impl FnMut(&str, &str) -> Result<(), ConfigError>,
) -> Result<(), ScenarioError> {
    for (key, value) in map {
        let value = config_value(loc, span, key, value)?;
        set(key, &value).map_err(|e| loc.config_error(span, e))?;
    }
    Ok(())
}

fn producer_def(
    loc: &Locator,
    span: &Range<usize>,
    p: &ProducerSpec,
    topics: &[TopicDef],
) -> Result<ProducerDef, ScenarioError> {
    let topic = known_topic(loc, span, topics, &p.topic)?;
    if !(1..=1_000_000).contains(&p.rate) {
        return Err(loc.error(
            loc.key_in(span, "rate"),
            Some("rate"),
            "records per second must be between 1 and 1000000",
        ));
    }
    let keys = match (&p.keys, p.key_count) {
        (Some(_), Some(_)) => {
            return Err(loc.error(
                loc.key_in(span, "key_count"),
                Some("key_count"),
                "give either `keys` or `key_count`, not both",
            ));
        }
        (Some(list), None) => Keys::Cycle(list.iter().map(|k| Arc::from(k.as_str())).collect()),
        (None, Some(0)) => {
            return Err(loc.error(
                loc.key_in(span, "key_count"),
                Some("key_count"),
                "must be at least 1 (leave it out for null keys)",
            ));
        }
        (None, Some(n)) => Keys::Cycle((0..n).map(|i| Arc::from(format!("key-{i}"))).collect()),
        (None, None) => Keys::None,
    };
    let mut config = ProducerConfig::default();
    apply_configs(loc, span, &p.config, |k, v| config.set(k, v))?;
    let start_ms = (start_us(loc, span, &p.start)? / 1_000) as i64;
    let workload = Workload {
        topic: topic.name.clone(),
        records: p.records,
        interval_us: 1_000_000 / u64::from(p.rate),
        keys,
        start_ms,
    };
    Ok(ProducerDef {
        name: p.name.clone(),
        config,
        workload,
    })
}

fn consumer_def(
    loc: &Locator,
    span: &Range<usize>,
    c: &ConsumerSpec,
    topics: &[TopicDef],
) -> Result<ConsumerDef, ScenarioError> {
    let topic = known_topic(loc, span, topics, &c.topic)?;
    let subscription = match &c.partitions {
        None => Subscription::Topic(topic.name.clone()),
        Some(ps) => {
            if let Some(bad) = ps.iter().find(|p| !(0..topic.partitions).contains(*p)) {
                return Err(loc.error(
                    loc.key_in(span, "partitions"),
                    Some("partitions"),
                    format!(
                        "partition {bad} does not exist; `{}` has partitions 0..{}",
                        topic.name,
                        topic.partitions - 1
                    ),
                ));
            }
            Subscription::Partitions(topic.name.clone(), ps.clone())
        }
    };
    let mut config = ConsumerConfig::default();
    apply_configs(loc, span, &c.config, |k, v| config.set(k, v))?;
    Ok(ConsumerDef {
        name: c.name.clone(),
        config,
        subscription,
        start_us: start_us(loc, span, &c.start)?,
    })
}

fn timeline(
    loc: &Locator,
    entries: &[toml::Spanned<toml::Table>],
    topics: &[TopicDef],
    names: &mut BTreeSet<String>,
) -> Result<Vec<TimedAction>, ScenarioError> {
    let mut parsed = Vec::new();
    for entry in entries {
        let span = entry.span();
        let mut table = entry.get_ref().clone();
        let at = match table.remove("at") {
            Some(toml::Value::String(s)) => duration(loc, loc.key_in(&span, "at"), "at", &s)?,
            Some(_) => {
                return Err(loc.error(
                    loc.key_in(&span, "at"),
                    Some("at"),
                    "write the time as a string, e.g. at = \"10s\"",
                ));
            }
            None => {
                return Err(loc.error(
                    span.start,
                    Some("at"),
                    "every [[timeline]] entry needs `at`, e.g. at = \"10s\"",
                ));
            }
        };
        if !table.contains_key("action") {
            return Err(loc.error(
                span.start,
                Some("action"),
                format!(
                    "every [[timeline]] entry needs `action`; valid: {}",
                    Action::NAMES.join(", ")
                ),
            ));
        }
        let action: Action = serde::Deserialize::deserialize(toml::Value::Table(table)).map_err(
            |e: toml::de::Error| {
                let key = if e.message().contains("variant") {
                    "action"
                } else {
                    ""
                };
                loc.error(
                    loc.key_in(&span, if key.is_empty() { "action" } else { key }),
                    Some(key).filter(|k| !k.is_empty()),
                    e.message().replace('\n', " "),
                )
            },
        )?;
        parsed.push((at, span, action));
    }
    // Stable: entries at the same time keep their order in the file.
    parsed.sort_by_key(|(at, _, _)| *at);
    let mut out = Vec::new();
    for (at_us, span, action) in parsed {
        check_action(loc, &span, &action, topics, names)?;
        out.push(TimedAction { at_us, action });
    }
    Ok(out)
}

/// Checks that an action's nodes exist by the time it applies, and registers added clients.
fn check_action(
    loc: &Locator,
    span: &Range<usize>,
    action: &Action,
    topics: &[TopicDef],
    names: &mut BTreeSet<String>,
) -> Result<(), ScenarioError> {
    for node in action.node_refs() {
        if !names.contains(node) {
            let known: Vec<&str> = names.iter().map(String::as_str).collect();
            return Err(loc.error(
                loc.key_in(span, node),
                None,
                format!(
                    "unknown node `{node}`; nodes at this point: {}",
                    known.join(", ")
                ),
            ));
        }
    }
    match action {
        Action::AddProducer(spec) => {
            producer_def(loc, span, spec, topics)?;
            claim_name(loc, span, names, &spec.name)
        }
        Action::AddConsumer(spec) => {
            consumer_def(loc, span, spec, topics)?;
            claim_name(loc, span, names, &spec.name)
        }
        Action::Seek {
            topic, partition, ..
        } => {
            let t = known_topic(loc, span, topics, topic)?;
            if !(0..t.partitions).contains(partition) {
                return Err(loc.error(
                    loc.key_in(span, "partition"),
                    Some("partition"),
                    format!("`{topic}` has partitions 0..{}", t.partitions - 1),
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
