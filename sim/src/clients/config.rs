//! Producer and consumer configs, with Kafka's names and defaults (Kafka 4.x).
//!
//! Only settings the model acts on are accepted; any other key is an error that lists the valid
//! ones, so a scenario never silently configures something the simulation ignores.

use crate::broker::config::{non_negative_ms, parse_bool, positive_ms, unknown_key};
use crate::group::assignor::Assignor;
use crate::log::ConfigError;
use serde::Serialize;
use std::sync::Arc;

fn bad(name: &str, message: String) -> ConfigError {
    ConfigError {
        key: name.to_string(),
        message,
    }
}

fn parse_u64(name: &str, value: &str) -> Result<u64, ConfigError> {
    value.trim().parse::<u64>().map_err(|_| {
        bad(
            name,
            format!("`{name}` must be a non-negative integer, got `{value}`"),
        )
    })
}

fn positive_u64(name: &str, value: &str) -> Result<u64, ConfigError> {
    match parse_u64(name, value)? {
        0 => Err(bad(name, format!("`{name}` must be at least 1"))),
        v => Ok(v),
    }
}

/// `partitioner.class`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PartitionerClass {
    /// No class set: the built-in partitioner (murmur2 for keys, KIP-794 sticky for null keys).
    BuiltIn,
    /// `org.apache.kafka.clients.producer.RoundRobinPartitioner`: every record to the next
    /// available partition, keys ignored.
    RoundRobin,
}

/// Where an effective producer setting came from, for `kafkalab explain producer`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigDecision {
    pub key: &'static str,
    pub value: String,
    /// `default`, `set` (by the scenario) or `adjusted` (by a rule, see `why`).
    pub origin: &'static str,
    pub why: Option<String>,
}

/// Producer settings (Kafka 4.x names and defaults). Cross-key rules — idempotence and the
/// delivery timeout — are applied by [`ProducerConfig::resolve`] once every key is set, as
/// Kafka's `ProducerConfig.postProcessParsedConfig` does.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProducerConfig {
    /// `acks`: 0, 1 or -1 (`all`, the default since Kafka 3.0).
    pub acks: i16,
    pub request_timeout_ms: i64,
    pub metadata_max_age_ms: i64,
    /// `batch.size`: also how many bytes the sticky partitioner puts on one partition.
    pub batch_size: u64,
    /// `linger.ms`: 5 since Kafka 4.0 (KIP-1030).
    pub linger_ms: i64,
    pub buffer_memory: u64,
    pub max_request_size: u64,
    pub max_block_ms: i64,
    pub max_in_flight: u32,
    pub retries: u32,
    pub retry_backoff_ms: i64,
    pub retry_backoff_max_ms: i64,
    pub delivery_timeout_ms: i64,
    /// The effective value, after [`ProducerConfig::resolve`].
    pub enable_idempotence: bool,
    pub partitioner_class: PartitionerClass,
    pub partitioner_ignore_keys: bool,
    pub partitioner_adaptive: bool,
    pub partitioner_availability_timeout_ms: i64,
    /// The settings the scenario made, in order (the rules treat explicit keys differently
    /// from defaults, and overrides replay them).
    settings: Vec<(&'static str, String)>,
    /// Rules that changed a value, for `explain producer`.
    adjusted: Vec<(&'static str, String)>,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            acks: -1,
            request_timeout_ms: 30_000,
            metadata_max_age_ms: 300_000,
            batch_size: 16_384,
            linger_ms: 5,
            buffer_memory: 33_554_432,
            max_request_size: 1_048_576,
            max_block_ms: 60_000,
            max_in_flight: 5,
            retries: i32::MAX as u32,
            retry_backoff_ms: 100,
            retry_backoff_max_ms: 1_000,
            delivery_timeout_ms: 120_000,
            enable_idempotence: true,
            partitioner_class: PartitionerClass::BuiltIn,
            partitioner_ignore_keys: false,
            partitioner_adaptive: true,
            partitioner_availability_timeout_ms: 0,
            settings: Vec::new(),
            adjusted: Vec::new(),
        }
    }
}

/// Kafka's `MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION_FOR_IDEMPOTENCE`.
pub const MAX_IN_FLIGHT_FOR_IDEMPOTENCE: u32 = 5;

impl ProducerConfig {
    pub const KEYS: &'static [&'static str] = &[
        "acks",
        "batch.size",
        "buffer.memory",
        "delivery.timeout.ms",
        "enable.idempotence",
        "linger.ms",
        "max.block.ms",
        "max.in.flight.requests.per.connection",
        "max.request.size",
        "metadata.max.age.ms",
        "partitioner.adaptive.partitioning.enable",
        "partitioner.availability.timeout.ms",
        "partitioner.class",
        "partitioner.ignore.keys",
        "request.timeout.ms",
        "retries",
        "retry.backoff.max.ms",
        "retry.backoff.ms",
    ];

    /// Sets one key. Call [`ProducerConfig::resolve`] after the last one.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        use crate::broker::config::parse_bool;
        match name {
            "acks" => {
                self.acks = match value.trim() {
                    "0" => 0,
                    "1" => 1,
                    "all" | "-1" => -1,
                    other => {
                        return Err(bad(
                            name,
                            format!("`acks` must be 0, 1 or all, got `{other}`"),
                        ));
                    }
                }
            }
            "request.timeout.ms" => self.request_timeout_ms = positive_ms(name, value)?,
            "metadata.max.age.ms" => self.metadata_max_age_ms = positive_ms(name, value)?,
            "batch.size" => self.batch_size = parse_u64(name, value)?,
            "linger.ms" => self.linger_ms = non_negative_ms(name, value)?,
            "buffer.memory" => self.buffer_memory = positive_u64(name, value)?,
            "max.request.size" => self.max_request_size = positive_u64(name, value)?,
            "max.block.ms" => self.max_block_ms = non_negative_ms(name, value)?,
            "max.in.flight.requests.per.connection" => {
                self.max_in_flight = u32::try_from(positive_u64(name, value)?)
                    .map_err(|_| bad(name, format!("`{name}` is too large")))?
            }
            "retries" => {
                let v = parse_u64(name, value)?;
                self.retries = u32::try_from(v)
                    .ok()
                    .filter(|v| *v <= i32::MAX as u32)
                    .ok_or_else(|| bad(name, format!("`{name}` must be at most 2147483647")))?
            }
            "retry.backoff.ms" => self.retry_backoff_ms = non_negative_ms(name, value)?,
            "retry.backoff.max.ms" => self.retry_backoff_max_ms = non_negative_ms(name, value)?,
            "delivery.timeout.ms" => self.delivery_timeout_ms = non_negative_ms(name, value)?,
            "enable.idempotence" => self.enable_idempotence = parse_bool(name, value)?,
            "partitioner.class" => self.partitioner_class = parse_partitioner(value)?,
            "partitioner.ignore.keys" => self.partitioner_ignore_keys = parse_bool(name, value)?,
            "partitioner.adaptive.partitioning.enable" => {
                self.partitioner_adaptive = parse_bool(name, value)?
            }
            "partitioner.availability.timeout.ms" => {
                self.partitioner_availability_timeout_ms = non_negative_ms(name, value)?
            }
            "transactional.id" => {
                return Err(bad(
                    name,
                    "transactions are not modelled yet: the producer is idempotent at most \
                     (see README, Differences from Kafka)"
                        .to_string(),
                ));
            }
            _ => return Err(unknown_key(name, Self::KEYS)),
        }
        if let Some(key) = Self::KEYS.iter().find(|k| **k == name) {
            self.settings.retain(|(k, _)| k != key);
            self.settings.push((key, value.trim().to_string()));
        }
        Ok(())
    }

    /// Whether the scenario set `key` itself.
    pub fn is_explicit(&self, key: &str) -> bool {
        self.settings.iter().any(|(k, _)| *k == key)
    }

    /// The same settings plus `key = value`, resolved again from the defaults (so a rule that
    /// adjusted a value is re-evaluated: setting `acks=all` on a producer whose idempotence was
    /// turned off by `acks=1` turns it back on).
    pub fn with_override(&self, key: &str, value: &str) -> Result<Self, ConfigError> {
        let mut config = ProducerConfig::default();
        for (k, v) in &self.settings {
            config.set(k, v)?;
        }
        config.set(key, value)?;
        config.resolve()
    }

    /// Applies Kafka's cross-key rules, as `KafkaProducer` does at construction:
    ///
    /// - `delivery.timeout.ms` must be at least `linger.ms + request.timeout.ms`: an explicit
    ///   smaller value is a `ConfigException`; the default is raised to the sum.
    /// - Idempotence (on by default since 3.0) requires `acks=all`, `retries > 0` and
    ///   `max.in.flight.requests.per.connection <= 5`. If the user set `enable.idempotence`
    ///   and a requirement fails, configuration fails; if idempotence is only the default, a
    ///   conflicting `acks` or `retries` silently turns it off (Kafka logs it at INFO), while
    ///   more than 5 in flight is an error since Kafka 4.0 (KAFKA-17927) unless
    ///   `enable.idempotence = false`.
    /// - `retry.backoff.max.ms` below `retry.backoff.ms` is raised to it (Kafka's
    ///   `ExponentialBackoff` never waits less than the initial backoff).
    pub fn resolve(mut self) -> Result<Self, ConfigError> {
        let floor = self.linger_ms.saturating_add(self.request_timeout_ms);
        if self.delivery_timeout_ms < floor {
            if self.is_explicit("delivery.timeout.ms") {
                return Err(bad(
                    "delivery.timeout.ms",
                    format!(
                        "delivery.timeout.ms should be equal to or larger than linger.ms + \
                         request.timeout.ms ({} + {} = {floor}), got {}",
                        self.linger_ms, self.request_timeout_ms, self.delivery_timeout_ms
                    ),
                ));
            }
            self.adjusted.push((
                "delivery.timeout.ms",
                format!(
                    "raised from the default {} to linger.ms + request.timeout.ms = {floor}",
                    self.delivery_timeout_ms
                ),
            ));
            self.delivery_timeout_ms = floor;
        }
        if self.retry_backoff_max_ms < self.retry_backoff_ms {
            self.adjusted.push((
                "retry.backoff.max.ms",
                format!(
                    "raised to retry.backoff.ms ({}): the backoff never goes below its start",
                    self.retry_backoff_ms
                ),
            ));
            self.retry_backoff_max_ms = self.retry_backoff_ms;
        }
        if self.enable_idempotence && self.max_in_flight > MAX_IN_FLIGHT_FOR_IDEMPOTENCE {
            // Kafka 4.0 (KAFKA-17927): no longer a silent downgrade, whether idempotence was
            // set or only the default.
            return Err(bad(
                "max.in.flight.requests.per.connection",
                format!(
                    "To use the idempotent producer, max.in.flight.requests.per.connection must \
                     be set to at most 5. Current value is {}. (Set enable.idempotence = false \
                     to allow more requests in flight.)",
                    self.max_in_flight
                ),
            ));
        }
        if self.enable_idempotence {
            let mut conflicts = Vec::new();
            if self.retries == 0 {
                conflicts.push((
                    "retries",
                    "Must set retries to non-zero when using the idempotent producer.",
                    "retries is set to 0".to_string(),
                ));
            }
            if self.acks != -1 {
                conflicts.push((
                    "acks",
                    "Must set acks to all in order to use the idempotent producer. Otherwise \
                     we cannot guarantee idempotence.",
                    format!("acks is set to {}, not to all", self.acks),
                ));
            }
            if let Some((key, message, _)) = conflicts.first()
                && self.is_explicit("enable.idempotence")
            {
                return Err(bad(
                    "enable.idempotence",
                    format!("enable.idempotence = true conflicts with `{key}`: {message}"),
                ));
            }
            if !conflicts.is_empty() {
                let reasons: Vec<String> = conflicts.into_iter().map(|c| c.2).collect();
                self.adjusted.push((
                    "enable.idempotence",
                    format!(
                        "turned off: the default (true) was not set explicitly and {}",
                        reasons.join(" and ")
                    ),
                ));
                self.enable_idempotence = false;
            }
        }
        Ok(self)
    }

    /// Every setting with its effective value and where it came from.
    pub fn decisions(&self) -> Vec<ConfigDecision> {
        let acks = match self.acks {
            -1 => "all".to_string(),
            n => n.to_string(),
        };
        let class = match self.partitioner_class {
            PartitionerClass::BuiltIn => "(built-in)".to_string(),
            PartitionerClass::RoundRobin => {
                "org.apache.kafka.clients.producer.RoundRobinPartitioner".to_string()
            }
        };
        let values: Vec<(&'static str, String)> = vec![
            ("acks", acks),
            ("batch.size", self.batch_size.to_string()),
            ("buffer.memory", self.buffer_memory.to_string()),
            ("delivery.timeout.ms", self.delivery_timeout_ms.to_string()),
            ("enable.idempotence", self.enable_idempotence.to_string()),
            ("linger.ms", self.linger_ms.to_string()),
            ("max.block.ms", self.max_block_ms.to_string()),
            (
                "max.in.flight.requests.per.connection",
                self.max_in_flight.to_string(),
            ),
            ("max.request.size", self.max_request_size.to_string()),
            ("metadata.max.age.ms", self.metadata_max_age_ms.to_string()),
            (
                "partitioner.adaptive.partitioning.enable",
                self.partitioner_adaptive.to_string(),
            ),
            (
                "partitioner.availability.timeout.ms",
                self.partitioner_availability_timeout_ms.to_string(),
            ),
            ("partitioner.class", class),
            (
                "partitioner.ignore.keys",
                self.partitioner_ignore_keys.to_string(),
            ),
            ("request.timeout.ms", self.request_timeout_ms.to_string()),
            ("retries", self.retries.to_string()),
            (
                "retry.backoff.max.ms",
                self.retry_backoff_max_ms.to_string(),
            ),
            ("retry.backoff.ms", self.retry_backoff_ms.to_string()),
        ];
        values
            .into_iter()
            .map(|(key, value)| {
                let adjusted = self.adjusted.iter().find(|(k, _)| *k == key);
                let (origin, why) = match adjusted {
                    Some((_, why)) => ("adjusted", Some(why.clone())),
                    None if self.is_explicit(key) => ("set", None),
                    None => ("default", None),
                };
                ConfigDecision {
                    key,
                    value,
                    origin,
                    why,
                }
            })
            .collect()
    }
}

fn parse_partitioner(value: &str) -> Result<PartitionerClass, ConfigError> {
    match value.trim() {
        "org.apache.kafka.clients.producer.RoundRobinPartitioner" | "RoundRobinPartitioner" => {
            Ok(PartitionerClass::RoundRobin)
        }
        "" | "default" => Ok(PartitionerClass::BuiltIn),
        other => Err(bad(
            "partitioner.class",
            format!(
                "unknown partitioner `{other}`; valid: \
                 org.apache.kafka.clients.producer.RoundRobinPartitioner, or leave it unset for \
                 the built-in partitioner"
            ),
        )),
    }
}

/// `auto.offset.reset`: where to start when a partition has no position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoOffsetReset {
    Earliest,
    Latest,
    /// Throw `NoOffsetForPartitionException`.
    None,
}

impl AutoOffsetReset {
    pub fn name(self) -> &'static str {
        match self {
            AutoOffsetReset::Earliest => "earliest",
            AutoOffsetReset::Latest => "latest",
            AutoOffsetReset::None => "none",
        }
    }
}

/// Consumer settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConsumerConfig {
    pub auto_offset_reset: AutoOffsetReset,
    pub fetch_min_bytes: u64,
    pub fetch_max_wait_ms: i64,
    pub fetch_max_bytes: u64,
    pub max_partition_fetch_bytes: u64,
    pub max_poll_records: u64,
    pub request_timeout_ms: i64,
    pub metadata_max_age_ms: i64,
    pub retry_backoff_ms: i64,
    /// `group.id`; `None` = no group (assign mode, no commits).
    pub group_id: Option<Arc<str>>,
    /// `group.instance.id` (static membership, KIP-345).
    pub group_instance_id: Option<Arc<str>>,
    /// `client.id`; empty = the consumer's name.
    pub client_id: Arc<str>,
    pub session_timeout_ms: i64,
    pub heartbeat_interval_ms: i64,
    /// Also the rebalance timeout the member sends in JoinGroup.
    pub max_poll_interval_ms: i64,
    /// `enable.auto.commit`; `None` = not set (Kafka: true with a group.id).
    pub enable_auto_commit: Option<bool>,
    pub auto_commit_interval_ms: i64,
    /// `partition.assignment.strategy`, in preference order.
    pub partition_assignment_strategy: Vec<Assignor>,
    /// `default.api.timeout.ms`: how long `commitSync` keeps retrying.
    pub default_api_timeout_ms: i64,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            group_id: None,
            group_instance_id: None,
            client_id: Arc::from(""),
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 3_000,
            max_poll_interval_ms: 300_000,
            enable_auto_commit: None,
            auto_commit_interval_ms: 5_000,
            partition_assignment_strategy: vec![Assignor::Range, Assignor::CooperativeSticky],
            default_api_timeout_ms: 60_000,
            auto_offset_reset: AutoOffsetReset::Latest,
            fetch_min_bytes: 1,
            fetch_max_wait_ms: 500,
            fetch_max_bytes: 52_428_800,
            max_partition_fetch_bytes: 1_048_576,
            max_poll_records: 500,
            request_timeout_ms: 30_000,
            metadata_max_age_ms: 300_000,
            retry_backoff_ms: 100,
        }
    }
}

impl ConsumerConfig {
    pub const KEYS: &'static [&'static str] = &[
        "auto.offset.reset",
        "fetch.min.bytes",
        "fetch.max.wait.ms",
        "fetch.max.bytes",
        "max.partition.fetch.bytes",
        "max.poll.records",
        "request.timeout.ms",
        "metadata.max.age.ms",
        "retry.backoff.ms",
        "isolation.level",
        "group.id",
        "group.instance.id",
        "client.id",
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "max.poll.interval.ms",
        "enable.auto.commit",
        "auto.commit.interval.ms",
        "partition.assignment.strategy",
        "default.api.timeout.ms",
        "group.protocol",
    ];

    /// Whether offsets are committed automatically: `enable.auto.commit`, which Kafka turns
    /// on by default only for consumers with a `group.id`.
    pub fn auto_commit(&self) -> bool {
        self.group_id.is_some() && self.enable_auto_commit.unwrap_or(true)
    }

    /// Cross-key checks Kafka's `ConsumerConfig` makes at construction.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.group_id.is_none() && self.enable_auto_commit == Some(true) {
            return Err(bad(
                "enable.auto.commit",
                "`enable.auto.commit` cannot be set to true when no `group.id` is used \
                 (Kafka's InvalidConfigurationException)"
                    .to_string(),
            ));
        }
        if self.group_id.is_some() && self.heartbeat_interval_ms >= self.session_timeout_ms {
            return Err(bad(
                "heartbeat.interval.ms",
                format!(
                    "`heartbeat.interval.ms` ({}) must be lower than `session.timeout.ms` ({})",
                    self.heartbeat_interval_ms, self.session_timeout_ms
                ),
            ));
        }
        Ok(())
    }

    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        match name {
            "auto.offset.reset" => {
                self.auto_offset_reset = match value.trim() {
                    "earliest" => AutoOffsetReset::Earliest,
                    "latest" => AutoOffsetReset::Latest,
                    "none" => AutoOffsetReset::None,
                    other => {
                        return Err(bad(
                            name,
                            format!(
                                "`auto.offset.reset` must be earliest, latest or none, got `{other}`"
                            ),
                        ));
                    }
                }
            }
            "fetch.min.bytes" => self.fetch_min_bytes = parse_u64(name, value)?,
            "fetch.max.wait.ms" => self.fetch_max_wait_ms = non_negative_ms(name, value)?,
            "fetch.max.bytes" => self.fetch_max_bytes = positive_u64(name, value)?,
            "max.partition.fetch.bytes" => {
                self.max_partition_fetch_bytes = positive_u64(name, value)?
            }
            "max.poll.records" => self.max_poll_records = positive_u64(name, value)?,
            "request.timeout.ms" => self.request_timeout_ms = positive_ms(name, value)?,
            "metadata.max.age.ms" => self.metadata_max_age_ms = positive_ms(name, value)?,
            "retry.backoff.ms" => self.retry_backoff_ms = non_negative_ms(name, value)?,
            // Without transactions the last stable offset equals the high watermark, so both
            // isolation levels read the same records.
            "isolation.level" => match value.trim() {
                "read_uncommitted" | "read_committed" => {}
                other => {
                    return Err(bad(
                        name,
                        format!(
                            "`isolation.level` must be read_uncommitted or read_committed, got `{other}`"
                        ),
                    ));
                }
            },
            "group.id" => {
                let v = value.trim();
                self.group_id = (!v.is_empty()).then(|| Arc::from(v));
            }
            "group.instance.id" => {
                let v = value.trim();
                self.group_instance_id = (!v.is_empty()).then(|| Arc::from(v));
            }
            "client.id" => self.client_id = Arc::from(value.trim()),
            "session.timeout.ms" => self.session_timeout_ms = positive_ms(name, value)?,
            "heartbeat.interval.ms" => self.heartbeat_interval_ms = positive_ms(name, value)?,
            "max.poll.interval.ms" => self.max_poll_interval_ms = positive_ms(name, value)?,
            "enable.auto.commit" => self.enable_auto_commit = Some(parse_bool(name, value)?),
            "auto.commit.interval.ms" => {
                self.auto_commit_interval_ms = non_negative_ms(name, value)?
            }
            "default.api.timeout.ms" => self.default_api_timeout_ms = positive_ms(name, value)?,
            "partition.assignment.strategy" => {
                let mut list = Vec::new();
                for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let Some(a) = Assignor::from_name(item) else {
                        let names: Vec<&str> = Assignor::ALL.iter().map(|a| a.name()).collect();
                        return Err(bad(
                            name,
                            format!(
                                "unknown assignor `{item}`; valid: {} (or Kafka's class names)",
                                names.join(", ")
                            ),
                        ));
                    };
                    list.push(a);
                }
                if list.is_empty() {
                    return Err(bad(name, "name at least one assignor".to_string()));
                }
                self.partition_assignment_strategy = list;
            }
            "group.protocol" => match value.trim() {
                "classic" => {}
                "consumer" => {
                    return Err(bad(
                        name,
                        "`group.protocol = consumer` (KIP-848) is not modelled yet; use `classic`"
                            .to_string(),
                    ));
                }
                other => {
                    return Err(bad(
                        name,
                        format!("`group.protocol` must be classic or consumer, got `{other}`"),
                    ));
                }
            },
            _ => return Err(unknown_key(name, Self::KEYS)),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kafkas() {
        let p = ProducerConfig::default();
        assert_eq!(
            (p.acks, p.request_timeout_ms, p.batch_size),
            (-1, 30_000, 16_384)
        );
        let c = ConsumerConfig::default();
        assert_eq!(c.auto_offset_reset, AutoOffsetReset::Latest);
        assert_eq!((c.fetch_max_wait_ms, c.max_poll_records), (500, 500));
    }

    #[test]
    fn bad_settings_name_the_key_and_the_choices() {
        let mut p = ProducerConfig::default();
        let e = p.set("acks", "2").unwrap_err();
        assert_eq!(e.key, "acks");
        assert!(e.message.contains("0, 1 or all"));
        let e = p.set("ack", "1").unwrap_err();
        assert!(e.message.contains("valid: acks"));
        let mut c = ConsumerConfig::default();
        assert!(c.set("auto.offset.reset", "smallest").is_err());
        c.set("auto.offset.reset", "earliest").expect("valid");
        assert_eq!(c.auto_offset_reset, AutoOffsetReset::Earliest);
    }

    /// A producer config with `settings` applied, resolved.
    fn resolved(settings: &[(&str, &str)]) -> Result<ProducerConfig, ConfigError> {
        let mut p = ProducerConfig::default();
        for (k, v) in settings {
            p.set(k, v).expect("a valid setting");
        }
        p.resolve()
    }

    fn decision(p: &ProducerConfig, key: &str) -> ConfigDecision {
        p.decisions()
            .into_iter()
            .find(|d| d.key == key)
            .unwrap_or_else(|| panic!("no decision for {key}"))
    }

    #[test]
    fn resolve_keeps_kafka_4_defaults() {
        let p = resolved(&[]).expect("the defaults are consistent");
        assert_eq!(p.acks, -1);
        assert_eq!(p.linger_ms, 5);
        assert_eq!(p.batch_size, 16_384);
        assert_eq!(p.buffer_memory, 33_554_432);
        assert_eq!(p.max_request_size, 1_048_576);
        assert_eq!(p.max_block_ms, 60_000);
        assert_eq!(p.max_in_flight, 5);
        assert_eq!(p.retries, 2_147_483_647);
        assert_eq!(p.retry_backoff_ms, 100);
        assert_eq!(p.retry_backoff_max_ms, 1_000);
        assert_eq!(p.request_timeout_ms, 30_000);
        assert_eq!(p.delivery_timeout_ms, 120_000);
        assert!(p.enable_idempotence);
        assert!(p.partitioner_adaptive);
        let decisions = p.decisions();
        assert!(
            decisions
                .iter()
                .all(|d| d.origin == "default" && d.why.is_none()),
            "{decisions:?}"
        );
        let keys: Vec<&str> = decisions.iter().map(|d| d.key).collect();
        assert_eq!(keys, ProducerConfig::KEYS, "one decision per key, sorted");
        assert_eq!(decision(&p, "acks").value, "all");
    }

    #[test]
    fn explicit_delivery_timeout_below_linger_plus_request_timeout_is_an_error() {
        let e = resolved(&[("delivery.timeout.ms", "1000")]).unwrap_err();
        assert_eq!(e.key, "delivery.timeout.ms");
        assert!(e.message.contains("delivery.timeout.ms"), "{e:?}");
        assert!(e.message.contains("5 + 30000 = 30005"), "{e:?}");
        assert!(e.message.contains("got 1000"), "{e:?}");
        // Exactly the sum is allowed.
        let p = resolved(&[("delivery.timeout.ms", "30005")]).expect("equal is enough");
        assert_eq!(decision(&p, "delivery.timeout.ms").origin, "set");
    }

    #[test]
    fn default_delivery_timeout_is_raised_for_a_large_request_timeout() {
        let p = resolved(&[("request.timeout.ms", "200000")]).expect("the default adapts");
        assert_eq!(p.delivery_timeout_ms, 200_005);
        let d = decision(&p, "delivery.timeout.ms");
        assert_eq!((d.value.as_str(), d.origin), ("200005", "adjusted"));
        assert!(
            d.why.is_some_and(|w| w.contains("120000")),
            "names the default"
        );
        assert_eq!(decision(&p, "request.timeout.ms").origin, "set");
    }

    #[test]
    fn acks_1_alone_turns_idempotence_off_and_says_why() {
        let p = resolved(&[("acks", "1")]).expect("idempotence was only the default");
        assert!(!p.enable_idempotence);
        let d = decision(&p, "enable.idempotence");
        assert_eq!((d.value.as_str(), d.origin), ("false", "adjusted"));
        let why = d.why.expect("a reason");
        assert!(why.contains("acks"), "{why}");
        assert!(why.contains("not set explicitly"), "{why}");
        assert_eq!(decision(&p, "acks").origin, "set");
    }

    #[test]
    fn explicit_idempotence_with_acks_1_is_an_error_keyed_enable_idempotence() {
        let e = resolved(&[("enable.idempotence", "true"), ("acks", "1")]).unwrap_err();
        assert_eq!(e.key, "enable.idempotence");
        assert!(e.message.contains("`acks`"), "{e:?}");
        assert!(e.message.contains("Must set acks to all"), "{e:?}");
        // Explicitly off is simply honoured.
        let p = resolved(&[("enable.idempotence", "false"), ("acks", "1")]).expect("valid");
        let d = decision(&p, "enable.idempotence");
        assert_eq!((d.value.as_str(), d.origin), ("false", "set"));
    }

    #[test]
    fn retries_0_turns_idempotence_off() {
        let p = resolved(&[("retries", "0")]).expect("valid");
        assert!(!p.enable_idempotence);
        let d = decision(&p, "enable.idempotence");
        assert_eq!(d.origin, "adjusted");
        assert!(d.why.is_some_and(|w| w.contains("retries")));
        let e = resolved(&[("enable.idempotence", "true"), ("retries", "0")]).unwrap_err();
        assert_eq!(e.key, "enable.idempotence");
    }

    #[test]
    fn more_than_5_in_flight_is_an_error_unless_idempotence_is_off() {
        // Kafka 4.0 (KAFKA-17927): the default idempotence no longer steps aside.
        let e = resolved(&[("max.in.flight.requests.per.connection", "6")]).unwrap_err();
        assert_eq!(e.key, "max.in.flight.requests.per.connection");
        assert!(
            e.message.contains("at most 5. Current value is 6."),
            "{e:?}"
        );
        let p = resolved(&[
            ("max.in.flight.requests.per.connection", "6"),
            ("enable.idempotence", "false"),
        ])
        .expect("valid without idempotence");
        assert_eq!(p.max_in_flight, 6);
        let p = resolved(&[("max.in.flight.requests.per.connection", "5")]).expect("valid");
        assert!(p.enable_idempotence, "5 is still allowed");
    }

    #[test]
    fn transactional_id_is_rejected() {
        let e = ProducerConfig::default()
            .set("transactional.id", "tx-1")
            .unwrap_err();
        assert_eq!(e.key, "transactional.id");
        assert!(e.message.contains("transactions"), "{e:?}");
    }
}
