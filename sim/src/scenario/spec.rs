//! The scenario file format (TOML), as serde types.
//!
//! These types mirror the file one to one and reject unknown keys; `load.rs` turns them into a
//! validated [`Scenario`](super::Scenario) with Kafka configs applied, and reports every
//! mistake with the file, line, column and key.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use toml::Spanned;

/// Kafka configs by their Kafka names (`"retention.ms" = 60000`, `acks = "all"`).
pub type ConfigMap = BTreeMap<String, toml::Value>;

fn default_duration() -> Spanned<String> {
    Spanned::new(0..0, "60s".to_string())
}

fn empty_config() -> Spanned<ConfigMap> {
    Spanned::new(0..0, ConfigMap::new())
}

fn one() -> u32 {
    1
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    /// The seed used when `--seed` is not given.
    #[serde(default)]
    pub seed: u64,
    /// How long the run lasts in simulated time, e.g. `"30s"`.
    #[serde(default = "default_duration")]
    pub duration: Spanned<String>,
    #[serde(default)]
    pub cluster: ClusterSpec,
    #[serde(default)]
    pub network: NetworkSpec,
    #[serde(default)]
    pub topics: Vec<Spanned<TopicSpec>>,
    #[serde(default)]
    pub producers: Vec<Spanned<ProducerSpec>>,
    #[serde(default)]
    pub consumers: Vec<Spanned<ConsumerSpec>>,
    #[serde(default)]
    pub timeline: Vec<Spanned<toml::Table>>,
    /// `[expect]`: what every run must show, and `[expect.some_seed]`: what some run of a
    /// sweep must show.
    #[serde(default)]
    pub expect: BTreeMap<String, Spanned<ExpectEntry>>,
}

/// One entry of `[expect]`: a bound on a summary number (`lost_write = 0`,
/// `processed_twice = ">0"`), or the `some_seed` table of such bounds. Values keep their
/// spans, so a bad one is reported at its line.
#[derive(Clone, Debug)]
pub enum ExpectEntry {
    /// An integer (exactly that) or a comparison string.
    Bound(toml::Value),
    /// A nested table (`[expect.some_seed]`).
    Table(BTreeMap<String, Spanned<toml::Value>>),
}

impl<'de> Deserialize<'de> for ExpectEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ExpectEntryVisitor)
    }
}

struct ExpectEntryVisitor;

impl<'de> serde::de::Visitor<'de> for ExpectEntryVisitor {
    type Value = ExpectEntry;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(
            "an integer (exactly that many) or a comparison string like \">0\", \">=3\", \"<5\" \
             or \"0..10\"",
        )
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ExpectEntry, E> {
        Ok(ExpectEntry::Bound(toml::Value::Integer(v)))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ExpectEntry, E> {
        let v = i64::try_from(v).map_err(|_| E::custom("the integer is too large"))?;
        Ok(ExpectEntry::Bound(toml::Value::Integer(v)))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ExpectEntry, E> {
        Ok(ExpectEntry::Bound(toml::Value::String(v.to_string())))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<ExpectEntry, A::Error> {
        let mut table = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let value: Spanned<toml::Value> = map.next_value()?;
            table.insert(key, value);
        }
        Ok(ExpectEntry::Table(table))
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    #[serde(default = "one")]
    pub brokers: u32,
    /// Broker and controller settings applied to every node (`server.properties`).
    #[serde(default = "empty_config")]
    pub config: Spanned<ConfigMap>,
    /// Settings for one broker only, by its name: `[cluster.overrides.broker-2]`.
    #[serde(default)]
    pub overrides: BTreeMap<String, Spanned<ConfigMap>>,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        ClusterSpec {
            brokers: 1,
            config: empty_config(),
            overrides: BTreeMap::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    pub latency: Option<String>,
    pub jitter: Option<String>,
    #[serde(default)]
    pub loss: f64,
    #[serde(default)]
    pub duplicate: f64,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            latency: None,
            jitter: None,
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    pub name: String,
    #[serde(default = "one")]
    pub partitions: u32,
    /// Defaults to the length of `replicas` when that is given, else 1.
    pub replication_factor: Option<u32>,
    /// An explicit assignment, one broker-id list per partition (`replicas[p][0]` is the
    /// preferred leader); absent = Kafka's default spread.
    pub replicas: Option<Vec<Vec<i32>>>,
    #[serde(default)]
    pub config: ConfigMap,
}

/// A producer application. Also the payload of the `add-producer` action.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProducerSpec {
    pub name: String,
    pub topic: String,
    /// Records to produce; absent = until the run ends.
    pub records: Option<u64>,
    /// Records per second.
    #[serde(default = "default_rate")]
    pub rate: u32,
    /// Keys used in turn; absent = null keys.
    pub keys: Option<Vec<String>>,
    /// Shorthand for `keys = ["key-0", ..., "key-<n-1>"]`.
    pub key_count: Option<u32>,
    /// Send every record to this partition (an explicit partition on each record).
    pub partition: Option<i32>,
    /// When production starts, e.g. `"2s"`.
    pub start: Option<String>,
    #[serde(default)]
    pub config: ConfigMap,
}

fn default_rate() -> u32 {
    10
}

/// A consumer application. Also the payload of the `add-consumer` action.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSpec {
    pub name: String,
    pub topic: String,
    /// Assigned partitions; absent = all of the topic's partitions.
    pub partitions: Option<Vec<i32>>,
    /// When the consumer starts, e.g. `"5s"`.
    pub start: Option<String>,
    /// The application's delivery semantic: `auto-commit` (default),
    /// `commit-before-process` (at-most-once) or `process-then-commit` (at-least-once).
    pub semantics: Option<String>,
    /// Time the application spends on each record, e.g. `"20ms"` (default 0).
    pub processing_time: Option<String>,
    #[serde(default)]
    pub config: ConfigMap,
}
