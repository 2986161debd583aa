//! Producer and consumer configs, with Kafka's names and defaults (Kafka 4.x).
//!
//! Only settings the model acts on are accepted; any other key is an error that lists the valid
//! ones, so a scenario never silently configures something the simulation ignores.

use crate::broker::config::{non_negative_ms, positive_ms, unknown_key};
use crate::log::ConfigError;
use serde::Serialize;

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

/// Producer settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProducerConfig {
    /// `acks`: 0, 1 or -1 (`all`, the default since Kafka 3.0).
    pub acks: i16,
    pub request_timeout_ms: i64,
    pub metadata_max_age_ms: i64,
    /// `batch.size`: also how many bytes the sticky partitioner puts on one partition.
    pub batch_size: u64,
    pub partitioner_class: PartitionerClass,
    pub partitioner_ignore_keys: bool,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            acks: -1,
            request_timeout_ms: 30_000,
            metadata_max_age_ms: 300_000,
            batch_size: 16_384,
            partitioner_class: PartitionerClass::BuiltIn,
            partitioner_ignore_keys: false,
        }
    }
}

impl ProducerConfig {
    pub const KEYS: &'static [&'static str] = &[
        "acks",
        "request.timeout.ms",
        "metadata.max.age.ms",
        "batch.size",
        "partitioner.class",
        "partitioner.ignore.keys",
        "retries",
    ];

    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
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
            "batch.size" => self.batch_size = positive_u64(name, value)?,
            "partitioner.class" => self.partitioner_class = parse_partitioner(value)?,
            "partitioner.ignore.keys" => {
                self.partitioner_ignore_keys = crate::broker::config::parse_bool(name, value)?
            }
            "retries" => {
                if value.trim() != "0" {
                    return Err(bad(
                        name,
                        "only `retries = 0` is modelled so far: this producer sends each record \
                         once and reports its outcome (see README, Differences from Kafka)"
                            .to_string(),
                    ));
                }
            }
            _ => return Err(unknown_key(name, Self::KEYS)),
        }
        Ok(())
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
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
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
    ];

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
}
