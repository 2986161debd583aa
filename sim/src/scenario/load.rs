//! From TOML text to a validated [`Scenario`], with errors a person can act on.
//!
//! Every error names the file, line and column, the key at fault and, where the set is closed,
//! what would be valid (`unknown field `retension.ms`, expected one of …`). Kafka configs go
//! through the same setters the model uses, so a config the model does not act on is rejected
//! rather than silently ignored.

use super::action::Action;
use super::expect::Expectation;
use super::spec::{ConfigMap, ConsumerSpec, ProducerSpec, ScenarioFile, TopicSpec};
use crate::broker::BrokerConfig;
use crate::clients::{
    AppConfig, ConsumerConfig, Keys, ProducerConfig, Semantics, Subscription, Workload,
};
use crate::controller::ControllerConfig;
use crate::kernel::{At, LinkConfig, Probability, SimTime, format_duration, parse_duration};
use crate::log::{ConfigError, LogConfig};
use std::collections::{BTreeMap, BTreeSet};
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
    /// An explicit replica assignment, if the scenario gave one.
    pub replicas: Option<Vec<Vec<i32>>>,
    /// The topic's config with the cluster's defaults applied (what the controller sees).
    pub config: LogConfig,
    /// The topic's own settings, re-applied over each broker's defaults.
    pub overrides: Vec<(String, String)>,
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
    pub app: AppConfig,
    pub start_us: u64,
}

/// An action of the timeline and when it applies: at a simulated time (`at = "10s"`), or as
/// a step of the run (`step = 41234`, what a saved lab session writes: a learner acts between
/// two steps, and a time would order the action after the other events of that instant).
#[derive(Clone, Debug, PartialEq)]
pub struct TimedAction {
    pub at: At,
    pub action: Action,
}

/// A validated scenario: everything needed to build a run, given a seed.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// Where it came from (`scenarios/quickstart.toml` or a path), for messages.
    pub source: String,
    /// The file's text, comments and all: a saved lab session is this text plus the
    /// learner's commands.
    pub text: Arc<str>,
    pub default_seed: u64,
    pub duration_us: u64,
    pub brokers: u32,
    pub broker_config: BrokerConfig,
    pub controller_config: ControllerConfig,
    /// Topic defaults set at broker level (`min.insync.replicas`, `log.flush.interval.ms`…),
    /// as topic keys.
    pub topic_defaults: Vec<(String, String)>,
    /// Per-broker settings from `[cluster.overrides.<broker>]`.
    pub broker_overrides: BTreeMap<i32, BrokerOverride>,
    pub link: LinkConfig,
    pub topics: Vec<TopicDef>,
    pub producers: Vec<ProducerDef>,
    pub consumers: Vec<ConsumerDef>,
    pub timeline: Vec<TimedAction>,
    /// `[expect]` and `[expect.some_seed]`, in file order.
    pub expectations: Vec<Expectation>,
}

/// One broker's own settings.
#[derive(Clone, Debug)]
pub struct BrokerOverride {
    pub config: BrokerConfig,
    pub topic_defaults: Vec<(String, String)>,
}

/// Broker-level names of topic configs (`KafkaConfig`'s `log.*` defaults and the two
/// replication settings that share the topic's name).
pub const BROKER_TOPIC_DEFAULTS: &[(&str, &str)] = &[
    ("min.insync.replicas", "min.insync.replicas"),
    (
        "unclean.leader.election.enable",
        "unclean.leader.election.enable",
    ),
    ("log.flush.interval.messages", "flush.messages"),
    ("log.flush.interval.ms", "flush.ms"),
    ("log.retention.ms", "retention.ms"),
    ("log.retention.bytes", "retention.bytes"),
    ("log.segment.bytes", "segment.bytes"),
    ("log.cleanup.policy", "cleanup.policy"),
];

/// The name of the controller node.
pub const CONTROLLER_NAME: &str = "controller";

impl Scenario {
    pub fn broker_name(id: i32) -> String {
        format!("broker-{id}")
    }

    /// The config of `topic`'s log on broker `broker_id`: Kafka's defaults, then the
    /// cluster's and that broker's broker-level defaults, then the topic's own settings.
    pub fn log_config_for(&self, broker_id: i32, topic: &TopicDef) -> LogConfig {
        let mut config = LogConfig::default();
        let own = self.broker_overrides.get(&broker_id);
        let layers = self
            .topic_defaults
            .iter()
            .chain(own.into_iter().flat_map(|o| o.topic_defaults.iter()))
            .chain(topic.overrides.iter());
        for (key, value) in layers {
            // Every layer was validated when the scenario was loaded.
            let _ = config.set(key, value);
        }
        config
    }

    /// `__consumer_offsets` as brokers create it on first use: compacted, 100 MiB segments,
    /// the cluster's other topic defaults. (Its partition count and replication factor are
    /// decided at creation time, from `offsets.topic.*`.)
    pub fn offsets_topic_def(&self) -> TopicDef {
        let overrides = vec![
            ("cleanup.policy".to_string(), "compact".to_string()),
            ("segment.bytes".to_string(), "104857600".to_string()),
        ];
        let mut config = LogConfig::default();
        for (key, value) in self.topic_defaults.iter().chain(overrides.iter()) {
            let _ = config.set(key, value);
        }
        TopicDef {
            name: crate::protocol::CONSUMER_OFFSETS_TOPIC.into(),
            partitions: self.broker_config.offsets_topic_num_partitions,
            replication_factor: self.broker_config.offsets_topic_replication_factor as u32,
            replicas: None,
            config,
            overrides,
        }
    }

    /// The scenario with one more `[cluster.config]` setting, applied to every broker (over
    /// per-broker overrides too), the controller, or the topic defaults — e.g. to replay a
    /// scenario with `sim.follower.truncation = pre-kip-101`.
    pub fn with_cluster_config(&self, key: &str, value: &str) -> Result<Scenario, ConfigError> {
        let mut s = self.clone();
        let mut defaults = Vec::new();
        set_cluster_key(
            key,
            value,
            &mut s.broker_config,
            Some(&mut s.controller_config),
            &mut defaults,
        )?;
        for over in s.broker_overrides.values_mut() {
            set_cluster_key(key, value, &mut over.config, None, &mut Vec::new())?;
        }
        for t in &mut s.topics {
            for (k, v) in &defaults {
                // Topic-level settings still win, as in Kafka.
                if !t.overrides.iter().any(|(tk, _)| tk == k) {
                    t.config.set(k, v)?;
                }
            }
        }
        s.topic_defaults.extend(defaults);
        Ok(s)
    }

    /// The same scenario with `key = value` added to every producer's config (those the
    /// scenario starts and those an `add-producer` action adds), with Kafka's cross-key rules
    /// applied again.
    pub fn with_producer_config(&self, key: &str, value: &str) -> Result<Scenario, ConfigError> {
        let mut s = self.clone();
        for p in &mut s.producers {
            p.config = p.config.with_override(key, value)?;
        }
        for timed in &mut s.timeline {
            if let Action::AddProducer(spec) = &mut timed.action {
                let mut config = ProducerConfig::default();
                for (k, v) in &spec.config {
                    let v = match v {
                        toml::Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    config.set(k, &v)?;
                }
                config.with_override(key, value)?;
                spec.config
                    .insert(key.to_string(), toml::Value::String(value.to_string()));
            }
        }
        Ok(s)
    }

    /// The settings of broker `broker_id`.
    pub fn broker_config_for(&self, broker_id: i32) -> BrokerConfig {
        let mut config = self
            .broker_overrides
            .get(&broker_id)
            .map_or_else(|| self.broker_config.clone(), |o| o.config.clone());
        config.node_id = broker_id;
        config
    }

    pub fn topic(&self, name: &str) -> Option<&TopicDef> {
        self.topics.iter().find(|t| &*t.name == name)
    }
}

/// An error at byte `offset` of `text` (file `file`), with its line and column: the one
/// place scenario and lesson errors get located.
pub(crate) fn error_at(
    file: &str,
    text: &str,
    offset: usize,
    key: Option<&str>,
    message: String,
) -> ScenarioError {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    ScenarioError {
        file: file.to_string(),
        line,
        column,
        key: key.map(str::to_string),
        message,
    }
}

/// Maps byte offsets of the source to line and column.
pub(super) struct Locator<'a> {
    file: &'a str,
    text: &'a str,
}

impl Locator<'_> {
    pub(super) fn error(
        &self,
        offset: usize,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> ScenarioError {
        error_at(self.file, self.text, offset, key, message.into())
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

    /// The position of the line that sets `key` (`key = …` or `"key" = …`) at or after the
    /// start of `span`, falling back to [`Self::key_in`]: unlike a plain search, it does not
    /// stop at `partitions` inside `action = "add-partitions"`.
    pub(super) fn field_in(&self, span: &Range<usize>, key: &str) -> usize {
        let start = span.start.min(self.text.len());
        let mut offset = start;
        for line in self.text[start..].split_inclusive('\n') {
            let trimmed = line.trim_start();
            let name = trimmed.strip_prefix('"').unwrap_or(trimmed);
            if let Some(rest) = name.strip_prefix(key)
                && rest.trim_start_matches('"').trim_start().starts_with('=')
            {
                return offset + (line.len() - trimmed.len());
            }
            offset += line.len();
        }
        self.key_in(span, key)
    }

    /// The start of the line that holds `offset`.
    pub(super) fn line_start(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.text[..offset].rfind('\n').map_or(0, |i| i + 1)
    }

    fn config_error(&self, span: &Range<usize>, e: ConfigError) -> ScenarioError {
        let at = self.key_in(span, &e.key);
        self.error(at, Some(&e.key), e.message)
    }

    /// A toml/serde error; the key is read off the line it points at.
    fn toml_error(&self, e: &toml::de::Error) -> ScenarioError {
        let offset = e.span().map_or(0, |s| s.start);
        let line_start = self.line_start(offset);
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
    let mut controller_config = ControllerConfig::default();
    let mut topic_defaults = Vec::new();
    let span = raw.cluster.config.span();
    for (key, value) in raw.cluster.config.get_ref() {
        let value = config_value(&loc, &span, key, value)?;
        set_cluster_key(
            key,
            &value,
            &mut broker_config,
            Some(&mut controller_config),
            &mut topic_defaults,
        )
        .map_err(|e| loc.config_error(&span, e))?;
    }
    let mut broker_overrides = BTreeMap::new();
    for (name, table) in &raw.cluster.overrides {
        let span = table.span();
        let id = (1..=brokers as i32)
            .find(|id| Scenario::broker_name(*id) == *name)
            .ok_or_else(|| {
                loc.error(
                    loc.key_in(&(0..text.len()), name),
                    Some(name),
                    format!("no broker named `{name}`; brokers are broker-1 … broker-{brokers}"),
                )
            })?;
        let mut over = BrokerOverride {
            config: broker_config.clone(),
            topic_defaults: Vec::new(),
        };
        for (key, value) in table.get_ref() {
            let value = config_value(&loc, &span, key, value)?;
            set_cluster_key(
                key,
                &value,
                &mut over.config,
                None,
                &mut over.topic_defaults,
            )
            .map_err(|e| loc.config_error(&span, e))?;
        }
        broker_overrides.insert(id, over);
    }
    let link = network(&loc, &raw)?;
    let topics = topics(&loc, &raw.topics, brokers, &topic_defaults)?;
    let mut names: Names = (1..=brokers as i32)
        .map(|id| (Scenario::broker_name(id), Named::at_start("broker")))
        .collect();
    names.insert(CONTROLLER_NAME.to_string(), Named::at_start("controller"));
    let mut producers = Vec::new();
    for spec in &raw.producers {
        let span = spec.span();
        // A producer's `start` delays its workload, not the client: it is there from 0s.
        let named = Named::at_start("producer");
        claim_name(&loc, &span, &mut names, &spec.get_ref().name, named)?;
        producers.push(producer_def(&loc, &span, spec.get_ref(), &topics)?);
    }
    let mut consumers = Vec::new();
    for spec in &raw.consumers {
        let span = spec.span();
        let def = consumer_def(&loc, &span, spec.get_ref(), &topics)?;
        let named = Named {
            role: "consumer",
            joins_us: def.start_us,
            joins_by: "its `start`",
        };
        claim_name(&loc, &span, &mut names, &def.name, named)?;
        consumers.push(def);
    }
    let timeline = timeline(&loc, &raw.timeline, &topics, &mut names)?;
    let expectations = super::expect::expectations(&loc, &raw.expect)?;
    Ok(Scenario {
        name: raw.name.unwrap_or(default_name),
        description: raw.description.trim().to_string(),
        source: file.to_string(),
        text: Arc::from(text),
        default_seed: raw.seed,
        duration_us,
        brokers,
        broker_config,
        controller_config,
        topic_defaults,
        broker_overrides,
        link,
        topics,
        producers,
        consumers,
        timeline,
        expectations,
    })
}

/// Routes one `[cluster.config]` key to the broker's settings, the controller's, or the
/// broker-level topic defaults. Overrides for one broker have no controller part.
fn set_cluster_key(
    key: &str,
    value: &str,
    broker: &mut BrokerConfig,
    controller: Option<&mut ControllerConfig>,
    topic_defaults: &mut Vec<(String, String)>,
) -> Result<(), ConfigError> {
    if BrokerConfig::KEYS.contains(&key) {
        return broker.set(key, value);
    }
    if let Some(controller) = controller
        && ControllerConfig::KEYS.contains(&key)
    {
        return controller.set(key, value);
    }
    if let Some((_, topic_key)) = BROKER_TOPIC_DEFAULTS.iter().find(|(b, _)| *b == key) {
        // Validate now, with the broker-level name in the error.
        LogConfig::default()
            .set(topic_key, value)
            .map_err(|e| ConfigError {
                key: key.to_string(),
                message: e.message,
            })?;
        topic_defaults.push((topic_key.to_string(), value.to_string()));
        return Ok(());
    }
    let mut valid: Vec<&str> = BrokerConfig::KEYS.to_vec();
    valid.extend(ControllerConfig::KEYS);
    valid.extend(BROKER_TOPIC_DEFAULTS.iter().map(|(b, _)| *b));
    Err(ConfigError {
        key: key.to_string(),
        message: format!("unknown config `{key}`; valid: {}", valid.join(", ")),
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
    topic_defaults: &[(String, String)],
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
        if !(1..=MAX_PARTITIONS as u32).contains(&t.partitions) {
            return Err(loc.error(
                loc.key_in(&span, "partitions"),
                Some("partitions"),
                format!("must be between 1 and {MAX_PARTITIONS}"),
            ));
        }
        let replication_factor = replication(loc, &span, t, brokers)?;
        let mut config = LogConfig::default();
        for (key, value) in topic_defaults {
            config
                .set(key, value)
                .map_err(|e| loc.config_error(&span, e))?;
        }
        let mut overrides = Vec::new();
        for (key, value) in &t.config {
            let value = config_value(loc, &span, key, value)?;
            config
                .set(key, &value)
                .map_err(|e| loc.config_error(&span, e))?;
            overrides.push((key.clone(), value));
        }
        out.push(TopicDef {
            name: Arc::from(t.name.as_str()),
            partitions: t.partitions as i32,
            replication_factor,
            replicas: t.replicas.clone(),
            config,
            overrides,
        });
    }
    Ok(out)
}

/// The replication factor, and the explicit assignment's consistency with it.
fn replication(
    loc: &Locator,
    span: &Range<usize>,
    t: &TopicSpec,
    brokers: u32,
) -> Result<u32, ScenarioError> {
    let at = |key: &str| loc.key_in(span, key);
    let rf = match (&t.replicas, t.replication_factor) {
        (Some(lists), rf) => {
            if lists.len() != t.partitions as usize {
                return Err(loc.error(
                    at("replicas"),
                    Some("replicas"),
                    format!(
                        "has {} lists but the topic has {} partitions; give one broker list per partition",
                        lists.len(),
                        t.partitions
                    ),
                ));
            }
            let len = lists.first().map_or(0, Vec::len) as u32;
            for (p, list) in lists.iter().enumerate() {
                let mut seen = BTreeSet::new();
                let bad = list.iter().find(|b| !(1..=brokers as i32).contains(b));
                if let Some(b) = bad {
                    return Err(loc.error(
                        at("replicas"),
                        Some("replicas"),
                        format!("partition {p} names broker {b}; brokers are 1..={brokers}"),
                    ));
                }
                if list.is_empty()
                    || list.len() as u32 != len
                    || !list.iter().all(|b| seen.insert(*b))
                {
                    return Err(loc.error(
                        at("replicas"),
                        Some("replicas"),
                        format!(
                            "partition {p}'s list {list:?} must hold {len} distinct brokers, like the first"
                        ),
                    ));
                }
            }
            if let Some(rf) = rf
                && rf != len
            {
                return Err(loc.error(
                    at("replication_factor"),
                    Some("replication_factor"),
                    format!("is {rf} but each replicas list has {len} brokers"),
                ));
            }
            len
        }
        (None, rf) => rf.unwrap_or(1),
    };
    if rf == 0 || rf > brokers {
        return Err(loc.error(
            at("replication_factor"),
            Some("replication_factor"),
            format!("must be between 1 and the number of brokers ({brokers}), got {rf}"),
        ));
    }
    Ok(rf)
}

/// A node a timeline action may name: what it is and when it joins the run.
#[derive(Clone, Copy, Debug)]
struct Named {
    /// `KafkaNode::role`: broker, controller, producer or consumer.
    role: &'static str,
    joins_us: u64,
    /// What makes it join then, for messages (`its `start``).
    joins_by: &'static str,
}

impl Named {
    fn at_start(role: &'static str) -> Self {
        Named {
            role,
            joins_us: 0,
            joins_by: "the run's start",
        }
    }
}

/// Every node name taken so far, by name.
type Names = BTreeMap<String, Named>;

fn claim_name(
    loc: &Locator,
    span: &Range<usize>,
    names: &mut Names,
    name: &str,
    named: Named,
) -> Result<(), ScenarioError> {
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(loc.error(
            loc.key_in(span, "name"),
            Some("name"),
            "a node name must be non-empty and without spaces",
        ));
    }
    if names.contains_key(name) {
        return Err(loc.error(
            loc.key_in(span, "name"),
            Some("name"),
            format!("the name `{name}` is already taken (brokers are named broker-1, broker-2, …)"),
        ));
    }
    names.insert(name.to_string(), named);
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
    let config = config.resolve().map_err(|e| loc.config_error(span, e))?;
    if let Some(bad) = p.partition.filter(|p| !(0..topic.partitions).contains(p)) {
        return Err(loc.error(
            loc.key_in(span, "partition"),
            Some("partition"),
            format!(
                "partition {bad} does not exist; `{}` has partitions 0..{}",
                topic.name,
                topic.partitions - 1
            ),
        ));
    }
    let start_ms = (start_us(loc, span, &p.start)? / 1_000) as i64;
    let workload = Workload {
        topic: topic.name.clone(),
        records: p.records,
        interval_us: 1_000_000 / u64::from(p.rate),
        keys,
        partition: p.partition,
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
    let semantics = match c.semantics.as_deref() {
        None => Semantics::default(),
        Some(name) => Semantics::parse(name).ok_or_else(|| {
            loc.error(
                loc.key_in(span, "semantics"),
                Some("semantics"),
                format!(
                    "unknown semantics `{name}`; valid: {}",
                    Semantics::NAMES.join(", ")
                ),
            )
        })?,
    };
    if semantics.commits_manually() {
        if config.group_id.is_none() {
            return Err(loc.error(
                loc.key_in(span, "semantics"),
                Some("semantics"),
                format!(
                    "`{}` commits offsets, which needs a `group.id` in the consumer's config",
                    semantics.name()
                ),
            ));
        }
        // An application that commits by itself turns auto-commit off, unless told otherwise.
        config.enable_auto_commit.get_or_insert(false);
    }
    if let Err(e) = config.validate() {
        return Err(loc.error(loc.key_in(span, "config"), Some(&e.key), e.message));
    }
    let processing_time_ms = match &c.processing_time {
        None => 0,
        Some(t) => {
            (duration(
                loc,
                loc.key_in(span, "processing_time"),
                "processing_time",
                t,
            )? / 1_000) as i64
        }
    };
    Ok(ConsumerDef {
        name: c.name.clone(),
        config,
        subscription,
        app: AppConfig {
            semantics,
            processing_time_ms,
        },
        start_us: start_us(loc, span, &c.start)?,
    })
}

fn timeline(
    loc: &Locator,
    entries: &[toml::Spanned<toml::Table>],
    topics: &[TopicDef],
    names: &mut Names,
) -> Result<Vec<TimedAction>, ScenarioError> {
    let mut parsed = Vec::new();
    for entry in entries {
        let span = entry.span();
        let mut table = entry.get_ref().clone();
        let at = when(loc, &span, &mut table)?;
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
        let action = parse_action(&table).map_err(|e| action_error(loc, &span, &table, &e))?;
        parsed.push((at, span, action));
    }
    // Stable: entries at the same time keep their order in the file. Step entries come after
    // every timed one: their times are known only when the run gets there.
    parsed.sort_by_key(|(at, _, _)| match at {
        At::Time(t) => (0, t.as_micros()),
        At::Step(n) => (1, *n),
    });
    // Partition counts as of each point of the timeline (`add-partitions` grows them).
    let mut current = topics.to_vec();
    let mut out = Vec::new();
    for (at, span, action) in parsed {
        // A step entry is checked against every node the scenario has by the end of its
        // timeline; one naming a node that joins later applies when that node joins.
        let at_us = match at {
            At::Time(t) => t.as_micros(),
            At::Step(_) => u64::MAX,
        };
        check_action(loc, &span, at_us, &action, &mut current, names)?;
        out.push(TimedAction { at, action });
    }
    Ok(out)
}

/// When a `[[timeline]]` entry applies: exactly one of `at` (a duration string) and `step`
/// (a step number), removed from `table`.
fn when(loc: &Locator, span: &Range<usize>, table: &mut toml::Table) -> Result<At, ScenarioError> {
    match (table.remove("at"), table.remove("step")) {
        (Some(_), Some(_)) => Err(loc.error(
            loc.key_in(span, "step"),
            Some("step"),
            "give either `at` (a time) or `step` (a step number), not both",
        )),
        (Some(toml::Value::String(s)), None) => Ok(At::Time(SimTime::from_micros(duration(
            loc,
            loc.key_in(span, "at"),
            "at",
            &s,
        )?))),
        (Some(_), None) => Err(loc.error(
            loc.key_in(span, "at"),
            Some("at"),
            "write the time as a string, e.g. at = \"10s\"",
        )),
        (None, Some(toml::Value::Integer(n))) if n >= 0 => Ok(At::Step(n as u64)),
        (None, Some(_)) => Err(loc.error(
            loc.key_in(span, "step"),
            Some("step"),
            "`step` is a step number of the run, an integer >= 0, e.g. step = 41234",
        )),
        (None, None) => Err(loc.error(
            span.start,
            Some("at"),
            "every [[timeline]] entry needs `at` (a time, e.g. at = \"10s\") or `step` \
             (a step number, as a saved lab session writes)",
        )),
    }
}

fn parse_action(table: &toml::Table) -> Result<Action, toml::de::Error> {
    serde::Deserialize::deserialize(toml::Value::Table(table.clone()))
}

/// A timeline entry that is not a valid action: the key is the field serde names (missing,
/// unknown, or `action` for an unknown action), located at that field when it is present.
/// A value of the wrong type is found by leaving each field out in turn: the one whose
/// absence turns the error into "missing field" is the culprit.
fn action_error(
    loc: &Locator,
    span: &Range<usize>,
    table: &toml::Table,
    e: &toml::de::Error,
) -> ScenarioError {
    let message = e.message().replace('\n', " ");
    if message.starts_with("invalid ") {
        let culprit = table.keys().filter(|k| *k != "action").find(|key| {
            let mut without = table.clone();
            without.remove(*key);
            parse_action(&without)
                .is_err_and(|e| e.message().contains(&format!("missing field `{key}`")))
        });
        if let Some(key) = culprit {
            return loc.error(loc.field_in(span, key), Some(key), message);
        }
    }
    let named = |prefix: &str| {
        let rest = message.split_once(prefix)?.1;
        Some(rest.split('`').next()?.to_string())
    };
    let (key, at) = if message.contains("variant") {
        (Some("action".to_string()), "action".to_string())
    } else if let Some(field) = named("unknown field `") {
        (Some(field.clone()), field)
    } else if let Some(field) = named("missing field `") {
        (Some(field), "action".to_string())
    } else {
        (None, "action".to_string())
    };
    loc.error(loc.field_in(span, &at), key.as_deref(), message)
}

/// Checks that an action's nodes exist by the time it applies and are of a kind it can act
/// on, registers added clients, and keeps `topics`' partition counts as they will be after it.
fn check_action(
    loc: &Locator,
    span: &Range<usize>,
    at_us: u64,
    action: &Action,
    topics: &mut [TopicDef],
    names: &mut Names,
) -> Result<(), ScenarioError> {
    for (field, node) in action.node_refs() {
        check_node_ref(loc, span, at_us, action, field, node, names)?;
    }
    match action {
        Action::AddProducer(spec) => {
            producer_def(loc, span, spec, topics)?;
            let named = Named {
                role: "producer",
                joins_us: at_us,
                joins_by: "its `add-producer`",
            };
            claim_name(loc, span, names, &spec.name, named)
        }
        Action::AddConsumer(spec) => {
            consumer_def(loc, span, spec, topics)?;
            let named = Named {
                role: "consumer",
                joins_us: at_us,
                joins_by: "its `add-consumer`",
            };
            claim_name(loc, span, names, &spec.name, named)
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
        Action::AddPartitions { topic, partitions } => {
            let current = known_topic(loc, span, topics, topic)?.partitions;
            check_partition_increase(topic, current, *partitions)
                .map_err(|m| loc.error(loc.field_in(span, "partitions"), Some("partitions"), m))?;
            if let Some(t) = topics.iter_mut().find(|t| &*t.name == topic) {
                t.partitions = *partitions;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// One node an action names (in `field`): it must have joined the run by `at_us` (a consumer
/// with a later `start` is not there before it) and be a kind of node the action acts on.
fn check_node_ref(
    loc: &Locator,
    span: &Range<usize>,
    at_us: u64,
    action: &Action,
    field: &str,
    node: &str,
    names: &Names,
) -> Result<(), ScenarioError> {
    let present = |n: &Named| n.joins_us <= at_us;
    let Some(named) = names.get(node) else {
        let known: Vec<&str> = names
            .iter()
            .filter(|(_, n)| present(n))
            .map(|(name, _)| name.as_str())
            .collect();
        return Err(loc.error(
            loc.key_in(span, node),
            None,
            format!(
                "unknown node `{node}`; nodes at this point: {}",
                known.join(", ")
            ),
        ));
    };
    if !present(named) {
        let joins = format_duration(named.joins_us);
        return Err(loc.error(
            loc.field_in(span, field),
            Some(field),
            format!(
                "`{node}` joins the run at {joins} ({}), after this action at {}; \
                 set `at` to {joins} or later, or make `{node}` join earlier",
                named.joins_by,
                format_duration(at_us)
            ),
        ));
    }
    if let Some(roles) = action.node_roles()
        && !roles.contains(&named.role)
    {
        let fitting: Vec<&str> = names
            .iter()
            .filter(|(_, n)| roles.contains(&n.role) && present(n))
            .map(|(name, _)| name.as_str())
            .collect();
        return Err(loc.error(
            loc.field_in(span, field),
            Some(field),
            format!(
                "`{node}` is a {}, but this action needs a {}; {} at this point: {}",
                named.role,
                roles.join(" or "),
                roles
                    .iter()
                    .map(|r| format!("{r}s"))
                    .collect::<Vec<_>>()
                    .join(" and "),
                if fitting.is_empty() {
                    "none".to_string()
                } else {
                    fitting.join(", ")
                }
            ),
        ));
    }
    Ok(())
}

/// Most partitions a topic may have here (as for `[[topics]]`).
const MAX_PARTITIONS: i32 = 1000;

/// Whether growing `topic` from `current` to `requested` partitions is possible: the count is
/// the new total (as with `--partitions`), and it can only grow.
pub(crate) fn check_partition_increase(
    topic: &str,
    current: i32,
    requested: i32,
) -> Result<(), String> {
    if requested <= current {
        return Err(format!(
            "`{topic}` has {current} partitions at that point and a partition count can only grow \
             (Kafka refuses {requested} with INVALID_PARTITIONS); give the new total, between \
             {} and {MAX_PARTITIONS}",
            current + 1
        ));
    }
    if requested > MAX_PARTITIONS {
        return Err(format!(
            "must be at most {MAX_PARTITIONS}; `{topic}` has {current} partitions at that point"
        ));
    }
    Ok(())
}
