//! Broker-level settings (`server.properties`), with Kafka's names and defaults.

use crate::log::ConfigError;
use serde::Serialize;

/// The broker settings the model uses.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BrokerConfig {
    /// `node.id`.
    pub node_id: i32,
    /// `log.retention.check.interval.ms`: how often retention runs.
    pub log_retention_check_interval_ms: i64,
    /// `log.cleaner.enable`.
    pub log_cleaner_enable: bool,
    /// `log.cleaner.backoff.ms`: how long the cleaner sleeps when nothing is cleanable.
    pub log_cleaner_backoff_ms: i64,
    /// `log.flush.scheduler.interval.ms`: how often each log's `flush.ms` is checked.
    /// Kafka's default is `Long.MAX_VALUE`: time-based flushing is off.
    pub log_flush_scheduler_interval_ms: i64,
    /// Not a Kafka setting: how often the simulated OS writes dirty pages back to disk, which
    /// bounds what a power loss destroys. Linux writes back pages older than
    /// `vm.dirty_expire_centisecs` (30 s); 0 turns the writeback off.
    pub sim_os_flush_interval_ms: i64,
}

/// Kafka's `LogManager.InitialTaskDelayMs`: periodic log tasks start 30 s after startup.
pub const INITIAL_TASK_DELAY_MS: i64 = 30_000;

impl BrokerConfig {
    pub const KEYS: &'static [&'static str] = &[
        "log.retention.check.interval.ms",
        "log.cleaner.enable",
        "log.cleaner.backoff.ms",
        "log.flush.scheduler.interval.ms",
        "sim.os.flush.interval.ms",
    ];

    pub fn new(node_id: i32) -> Self {
        BrokerConfig {
            node_id,
            log_retention_check_interval_ms: 300_000,
            log_cleaner_enable: true,
            log_cleaner_backoff_ms: 15_000,
            log_flush_scheduler_interval_ms: i64::MAX,
            sim_os_flush_interval_ms: 30_000,
        }
    }

    /// Sets one setting by its Kafka name.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        match name {
            "log.retention.check.interval.ms" => {
                self.log_retention_check_interval_ms = positive_ms(name, value)?
            }
            "log.cleaner.enable" => self.log_cleaner_enable = parse_bool(name, value)?,
            "log.cleaner.backoff.ms" => self.log_cleaner_backoff_ms = positive_ms(name, value)?,
            "log.flush.scheduler.interval.ms" => {
                self.log_flush_scheduler_interval_ms = positive_ms(name, value)?
            }
            "sim.os.flush.interval.ms" => {
                self.sim_os_flush_interval_ms = non_negative_ms(name, value)?
            }
            _ => return Err(unknown_key(name, Self::KEYS)),
        }
        Ok(())
    }
}

pub(crate) fn unknown_key(name: &str, valid: &[&str]) -> ConfigError {
    ConfigError {
        key: name.to_string(),
        message: format!("unknown config `{name}`; valid: {}", valid.join(", ")),
    }
}

fn parse_i64(name: &str, value: &str) -> Result<i64, ConfigError> {
    value.trim().parse::<i64>().map_err(|_| ConfigError {
        key: name.to_string(),
        message: format!("`{name}` must be an integer, got `{value}`"),
    })
}

pub(crate) fn positive_ms(name: &str, value: &str) -> Result<i64, ConfigError> {
    match parse_i64(name, value)? {
        v if v > 0 => Ok(v),
        v => Err(ConfigError {
            key: name.to_string(),
            message: format!("`{name}` must be at least 1, got {v}"),
        }),
    }
}

pub(crate) fn non_negative_ms(name: &str, value: &str) -> Result<i64, ConfigError> {
    match parse_i64(name, value)? {
        v if v >= 0 => Ok(v),
        v => Err(ConfigError {
            key: name.to_string(),
            message: format!("`{name}` must be at least 0, got {v}"),
        }),
    }
}

pub(crate) fn parse_bool(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(ConfigError {
            key: name.to_string(),
            message: format!("`{name}` must be true or false, got `{other}`"),
        }),
    }
}
