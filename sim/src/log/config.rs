//! Topic-level log configuration, with Kafka's names, units and defaults.
//!
//! Models Kafka's `LogConfig` (`org.apache.kafka.storage.internals.log.LogConfig`) and the
//! `TopicConfig` key names. Scenario files and `AlterConfigs` set values by their Kafka key
//! ("segment.bytes", "cleanup.policy", ...) through [`LogConfig::set`], which validates them
//! the way Kafka's `ConfigDef` does and names the key and the valid range when it refuses.

use serde::{Deserialize, Serialize};
use std::fmt;

/// `cleanup.policy`: what happens to old data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CleanupPolicy {
    /// Retention deletes whole old segments ("delete", Kafka's default).
    Delete,
    /// The cleaner keeps the latest record per key ("compact").
    Compact,
    /// Both ("compact,delete" or "delete,compact").
    CompactDelete,
}

impl CleanupPolicy {
    /// Kafka's `LogConfig.delete`: retention by time and size applies.
    pub fn deletes(self) -> bool {
        matches!(self, Self::Delete | Self::CompactDelete)
    }

    /// Kafka's `LogConfig.compact`: the cleaner runs and produce requires keys.
    pub fn compacts(self) -> bool {
        matches!(self, Self::Compact | Self::CompactDelete)
    }

    /// Parses Kafka's list syntax: "delete", "compact", "compact,delete", "delete,compact".
    pub fn parse(value: &str) -> Option<Self> {
        let mut delete = false;
        let mut compact = false;
        for item in value.split(',').map(str::trim) {
            match item {
                "delete" => delete = true,
                "compact" => compact = true,
                _ => return None,
            }
        }
        match (compact, delete) {
            (true, true) => Some(Self::CompactDelete),
            (true, false) => Some(Self::Compact),
            (false, true) => Some(Self::Delete),
            (false, false) => None,
        }
    }

    /// The value as Kafka's tools print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delete => "delete",
            Self::Compact => "compact",
            Self::CompactDelete => "compact,delete",
        }
    }
}

impl fmt::Display for CleanupPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The topic configs that shape one partition's log. Field names are Kafka's keys with dots
/// turned into underscores; `Default` gives Kafka's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogConfig {
    /// `segment.bytes`: roll a new segment before the active one would exceed this.
    pub segment_bytes: u64,
    /// `segment.ms`: roll once the active segment's first batch is this old.
    pub segment_ms: i64,
    /// `retention.ms`: delete segments whose newest record is older than this; -1 = forever.
    pub retention_ms: i64,
    /// `retention.bytes`: per-partition size limit for retention; -1 = unlimited.
    pub retention_bytes: i64,
    /// `cleanup.policy`.
    pub cleanup_policy: CleanupPolicy,
    /// `delete.retention.ms`: how long a cleaned tombstone stays readable.
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`: the cleaner skips logs less dirty than this.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`: records younger than this are never compacted.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: a dirty segment older than this is cleaned whatever the ratio.
    pub max_compaction_lag_ms: i64,
    /// `flush.messages`: flush after this many unflushed records.
    pub flush_messages: i64,
    /// `flush.ms`: flush once this long has passed since the last flush.
    pub flush_ms: i64,
    /// `max.message.bytes`: the largest batch the log accepts (`RECORD_TOO_LARGE` above it).
    pub max_message_bytes: u64,
    /// `min.insync.replicas`: the ISR size an `acks=all` write needs (capped by the
    /// replication factor when applied).
    pub min_insync_replicas: i32,
    /// `unclean.leader.election.enable`: may the controller elect a replica outside the ISR
    /// when no ISR member is alive (and lose committed data)?
    pub unclean_leader_election_enable: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            segment_bytes: 1_073_741_824,
            segment_ms: 604_800_000,
            retention_ms: 604_800_000,
            retention_bytes: -1,
            cleanup_policy: CleanupPolicy::Delete,
            delete_retention_ms: 86_400_000,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            max_message_bytes: 1_048_588,
            min_insync_replicas: 1,
            unclean_leader_election_enable: false,
        }
    }
}

/// A topic config that could not be set: which key, and what would have been valid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid topic config `{}`: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Kafka's `LegacyRecord.RECORD_OVERHEAD_V0`, the lower bound of `segment.bytes` before 4.0.
const MIN_SEGMENT_BYTES: u64 = 14;

impl LogConfig {
    /// Every key [`LogConfig::set`] understands.
    pub const KEYS: &'static [&'static str] = &[
        "cleanup.policy",
        "delete.retention.ms",
        "flush.messages",
        "flush.ms",
        "max.compaction.lag.ms",
        "max.message.bytes",
        "min.cleanable.dirty.ratio",
        "min.compaction.lag.ms",
        "min.insync.replicas",
        "retention.bytes",
        "retention.ms",
        "segment.bytes",
        "segment.ms",
        "unclean.leader.election.enable",
    ];

    /// Set one topic config by its Kafka name ("segment.bytes", "cleanup.policy", ...) from a
    /// string value. Bounds are Kafka's `ConfigDef` validators.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let v = value.trim();
        match name {
            "segment.bytes" => {
                // An INT in Kafka, hence the upper bound.
                self.segment_bytes = parse_u64(name, v, MIN_SEGMENT_BYTES, i32::MAX as u64)?;
            }
            "segment.ms" => self.segment_ms = parse_i64(name, v, 1)?,
            "retention.ms" => self.retention_ms = parse_i64(name, v, -1)?,
            "retention.bytes" => self.retention_bytes = parse_i64(name, v, i64::MIN)?,
            "cleanup.policy" => self.cleanup_policy = parse_policy(name, v)?,
            "delete.retention.ms" => self.delete_retention_ms = parse_i64(name, v, 0)?,
            "min.cleanable.dirty.ratio" => self.min_cleanable_dirty_ratio = parse_ratio(name, v)?,
            "min.compaction.lag.ms" => self.min_compaction_lag_ms = parse_i64(name, v, 0)?,
            "max.compaction.lag.ms" => self.max_compaction_lag_ms = parse_i64(name, v, 1)?,
            "flush.messages" => self.flush_messages = parse_i64(name, v, 1)?,
            "flush.ms" => self.flush_ms = parse_i64(name, v, 0)?,
            "max.message.bytes" => {
                self.max_message_bytes = parse_u64(name, v, 0, i32::MAX as u64)?;
            }
            "min.insync.replicas" => {
                self.min_insync_replicas = parse_u64(name, v, 1, i32::MAX as u64)? as i32;
            }
            "unclean.leader.election.enable" => {
                self.unclean_leader_election_enable = match v {
                    "true" => true,
                    "false" => false,
                    other => {
                        return Err(error(
                            name,
                            format!("`{other}` is not a boolean; expected true or false"),
                        ));
                    }
                }
            }
            _ => {
                return Err(error(
                    name,
                    format!(
                        "unknown topic config; valid keys: {}",
                        Self::KEYS.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The current value of a key, formatted as [`LogConfig::set`] accepts it.
    pub fn get(&self, name: &str) -> Option<String> {
        let value = match name {
            "segment.bytes" => self.segment_bytes.to_string(),
            "segment.ms" => self.segment_ms.to_string(),
            "retention.ms" => self.retention_ms.to_string(),
            "retention.bytes" => self.retention_bytes.to_string(),
            "cleanup.policy" => self.cleanup_policy.as_str().to_string(),
            "delete.retention.ms" => self.delete_retention_ms.to_string(),
            "min.cleanable.dirty.ratio" => self.min_cleanable_dirty_ratio.to_string(),
            "min.compaction.lag.ms" => self.min_compaction_lag_ms.to_string(),
            "max.compaction.lag.ms" => self.max_compaction_lag_ms.to_string(),
            "flush.messages" => self.flush_messages.to_string(),
            "flush.ms" => self.flush_ms.to_string(),
            "max.message.bytes" => self.max_message_bytes.to_string(),
            "min.insync.replicas" => self.min_insync_replicas.to_string(),
            "unclean.leader.election.enable" => self.unclean_leader_election_enable.to_string(),
            _ => return None,
        };
        Some(value)
    }

    /// Cross-key checks Kafka runs on a whole topic config (`LogConfig.validateValues`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.min_compaction_lag_ms > self.max_compaction_lag_ms {
            return Err(error(
                "min.compaction.lag.ms",
                format!(
                    "{} is larger than max.compaction.lag.ms ({}); it must be at most that",
                    self.min_compaction_lag_ms, self.max_compaction_lag_ms
                ),
            ));
        }
        Ok(())
    }
}

fn error(key: &str, message: String) -> ConfigError {
    ConfigError {
        key: key.to_string(),
        message,
    }
}

fn parse_i64(key: &str, value: &str, min: i64) -> Result<i64, ConfigError> {
    let parsed: i64 = value.parse().map_err(|_| {
        error(
            key,
            format!("`{value}` is not a whole number; expected an integer >= {min}"),
        )
    })?;
    if parsed < min {
        return Err(error(key, format!("{parsed} is below the minimum {min}")));
    }
    Ok(parsed)
}

fn parse_u64(key: &str, value: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
    let parsed: i64 = value.parse().map_err(|_| {
        error(
            key,
            format!("`{value}` is not a whole number; expected an integer in [{min}, {max}]"),
        )
    })?;
    match u64::try_from(parsed) {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(error(
            key,
            format!("{parsed} is out of range; expected an integer in [{min}, {max}]"),
        )),
    }
}

fn parse_ratio(key: &str, value: &str) -> Result<f64, ConfigError> {
    let parsed: f64 = value.parse().map_err(|_| {
        error(
            key,
            format!("`{value}` is not a number; expected a ratio in [0, 1]"),
        )
    })?;
    // `contains` is false for NaN, so "NaN" is refused here too.
    if !(0.0..=1.0).contains(&parsed) {
        return Err(error(
            key,
            format!("{parsed} is out of range; expected a ratio in [0, 1]"),
        ));
    }
    Ok(parsed)
}

fn parse_policy(key: &str, value: &str) -> Result<CleanupPolicy, ConfigError> {
    CleanupPolicy::parse(value).ok_or_else(|| {
        error(
            key,
            format!(
                "`{value}` is not a cleanup policy; valid values: delete, compact, compact,delete"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kafkas() {
        let config = LogConfig::default();
        assert_eq!(config.segment_bytes, 1_073_741_824);
        assert_eq!(config.segment_ms, 7 * 24 * 3600 * 1000);
        assert_eq!(config.retention_ms, 7 * 24 * 3600 * 1000);
        assert_eq!(config.retention_bytes, -1);
        assert_eq!(config.cleanup_policy, CleanupPolicy::Delete);
        assert_eq!(config.delete_retention_ms, 24 * 3600 * 1000);
        assert_eq!(config.min_cleanable_dirty_ratio, 0.5);
        assert_eq!(config.min_compaction_lag_ms, 0);
        assert_eq!(config.max_compaction_lag_ms, i64::MAX);
        assert_eq!(config.flush_messages, i64::MAX);
        assert_eq!(config.flush_ms, i64::MAX);
    }

    #[test]
    fn cleanup_policy_parses_both_orders() {
        assert_eq!(CleanupPolicy::parse("delete"), Some(CleanupPolicy::Delete));
        assert_eq!(
            CleanupPolicy::parse("compact"),
            Some(CleanupPolicy::Compact)
        );
        assert_eq!(
            CleanupPolicy::parse("compact,delete"),
            Some(CleanupPolicy::CompactDelete)
        );
        assert_eq!(
            CleanupPolicy::parse("delete, compact"),
            Some(CleanupPolicy::CompactDelete)
        );
        assert_eq!(CleanupPolicy::parse("compact,archive"), None);
        assert_eq!(CleanupPolicy::parse(""), None);
    }

    #[test]
    fn set_parses_every_key() -> Result<(), ConfigError> {
        let mut config = LogConfig::default();
        config.set("segment.bytes", "1024")?;
        config.set("segment.ms", "60000")?;
        config.set("retention.ms", "-1")?;
        config.set("retention.bytes", "250")?;
        config.set("cleanup.policy", "compact,delete")?;
        config.set("delete.retention.ms", "100")?;
        config.set("min.cleanable.dirty.ratio", "0.25")?;
        config.set("min.compaction.lag.ms", "5")?;
        config.set("max.compaction.lag.ms", "500")?;
        config.set("flush.messages", "3")?;
        config.set("flush.ms", "1000")?;
        config.set("max.message.bytes", "4096")?;
        assert_eq!(config.segment_bytes, 1024);
        assert_eq!(config.segment_ms, 60_000);
        assert_eq!(config.retention_ms, -1);
        assert_eq!(config.retention_bytes, 250);
        assert_eq!(config.cleanup_policy, CleanupPolicy::CompactDelete);
        assert_eq!(config.delete_retention_ms, 100);
        assert_eq!(config.min_cleanable_dirty_ratio, 0.25);
        assert_eq!(config.min_compaction_lag_ms, 5);
        assert_eq!(config.max_compaction_lag_ms, 500);
        assert_eq!(config.flush_messages, 3);
        assert_eq!(config.flush_ms, 1000);
        assert_eq!(config.max_message_bytes, 4096);
        for key in LogConfig::KEYS {
            let value = config
                .get(key)
                .ok_or_else(|| error(key, "no getter".into()))?;
            config.set(key, &value)?;
        }
        Ok(())
    }

    #[test]
    fn unknown_key_lists_the_valid_keys() {
        let mut config = LogConfig::default();
        let err = config.set("segment.size", "10").err();
        let err = err.unwrap_or_else(|| error("", String::new()));
        assert_eq!(err.key, "segment.size");
        assert!(err.message.contains("segment.bytes"), "{err}");
        assert!(err.message.contains("cleanup.policy"), "{err}");
        assert!(
            err.to_string()
                .starts_with("invalid topic config `segment.size`")
        );
    }

    #[test]
    fn bad_values_say_what_is_valid_and_change_nothing() {
        let mut config = LogConfig::default();
        let cases = [
            ("segment.bytes", "ten", "not a whole number"),
            ("segment.bytes", "13", "[14, 2147483647]"),
            ("segment.bytes", "-5", "[14, 2147483647]"),
            ("segment.ms", "0", "minimum 1"),
            ("retention.ms", "-2", "minimum -1"),
            ("cleanup.policy", "archive", "compact,delete"),
            ("min.cleanable.dirty.ratio", "1.5", "[0, 1]"),
            ("min.cleanable.dirty.ratio", "NaN", "[0, 1]"),
            ("flush.messages", "0", "minimum 1"),
        ];
        for (key, value, expected) in cases {
            match config.set(key, value) {
                Ok(()) => panic!("{key}={value} was accepted"),
                Err(err) => {
                    assert_eq!(err.key, key);
                    assert!(err.message.contains(expected), "{key}={value}: {err}");
                }
            }
        }
        assert_eq!(config, LogConfig::default());
    }

    #[test]
    fn validate_rejects_min_lag_above_max_lag() {
        let config = LogConfig {
            min_compaction_lag_ms: 10,
            max_compaction_lag_ms: 5,
            ..LogConfig::default()
        };
        let err = config.validate().err().map(|e| e.key);
        assert_eq!(err.as_deref(), Some("min.compaction.lag.ms"));
        assert!(LogConfig::default().validate().is_ok());
    }
}
