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
    /// `broker.heartbeat.interval.ms`: how often the broker heartbeats to the controller.
    pub broker_heartbeat_interval_ms: i64,
    /// `replica.lag.time.max.ms`: a follower not caught up for this long leaves the ISR.
    pub replica_lag_time_max_ms: i64,
    /// `replica.fetch.wait.max.ms`: how long a follower's fetch waits at the leader for data.
    pub replica_fetch_wait_max_ms: i64,
    /// `replica.fetch.min.bytes`.
    pub replica_fetch_min_bytes: u64,
    /// `replica.fetch.max.bytes`: per partition in one follower fetch (soft for the first).
    pub replica_fetch_max_bytes: u64,
    /// `replica.fetch.response.max.bytes`: the whole follower fetch response.
    pub replica_fetch_response_max_bytes: u64,
    /// `replica.fetch.backoff.ms`: a follower's pause after a fetch error.
    pub replica_fetch_backoff_ms: i64,
    /// `replica.socket.timeout.ms`: how long a follower waits for a fetch response.
    pub replica_socket_timeout_ms: i64,
    /// `replica.high.watermark.checkpoint.interval.ms`: how often HWs are written to disk
    /// (the `replication-offset-checkpoint` file a restarted broker reads them back from).
    pub replica_high_watermark_checkpoint_interval_ms: i64,
    /// Not a Kafka setting: which follower truncation protocol the broker speaks, to show the
    /// bugs that KIP-101 and KIP-279 fixed next to the fix. See [`FollowerTruncation`].
    pub sim_follower_truncation: FollowerTruncation,
    /// `offsets.topic.num.partitions`: partitions of `__consumer_offsets` when it is created.
    pub offsets_topic_num_partitions: i32,
    /// `offsets.topic.replication.factor` (capped by the number of brokers; see README).
    pub offsets_topic_replication_factor: i16,
    /// `group.initial.rebalance.delay.ms`.
    pub group_initial_rebalance_delay_ms: i64,
    /// `group.min.session.timeout.ms`.
    pub group_min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub group_max_session_timeout_ms: i32,
}

/// How a follower finds out what to truncate after a leader change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FollowerTruncation {
    /// Before Kafka 0.11: truncate to the follower's own high watermark on becoming follower.
    /// Loses committed data and lets replicas diverge (KIP-101's scenarios).
    PreKip101,
    /// Kafka 0.11–1.x: ask the leader once for the end offset of the follower's latest epoch
    /// and truncate to `min(offset, LEO)`; the answer carries no epoch, so fast successive
    /// failovers can still diverge (KAFKA-6361, fixed by KIP-279).
    Kip101,
    /// Kafka 2.0+ (with the 2.7 fetch-based check): the leader answers with the largest epoch
    /// at or below the follower's and its end offset, and the follower repeats until the
    /// epochs match. The default.
    Kip279,
}

impl FollowerTruncation {
    pub const NAMES: &'static [&'static str] = &["pre-kip-101", "kip-101", "kip-279"];

    pub fn name(self) -> &'static str {
        match self {
            FollowerTruncation::PreKip101 => "pre-kip-101",
            FollowerTruncation::Kip101 => "kip-101",
            FollowerTruncation::Kip279 => "kip-279",
        }
    }

    fn parse(name: &str, value: &str) -> Result<Self, ConfigError> {
        match value.trim() {
            "pre-kip-101" => Ok(FollowerTruncation::PreKip101),
            "kip-101" => Ok(FollowerTruncation::Kip101),
            "kip-279" => Ok(FollowerTruncation::Kip279),
            other => Err(ConfigError {
                key: name.to_string(),
                message: format!(
                    "`{other}` is not a truncation protocol; valid: {}",
                    Self::NAMES.join(", ")
                ),
            }),
        }
    }
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
        "broker.heartbeat.interval.ms",
        "replica.lag.time.max.ms",
        "replica.fetch.wait.max.ms",
        "replica.fetch.min.bytes",
        "replica.fetch.max.bytes",
        "replica.fetch.response.max.bytes",
        "replica.fetch.backoff.ms",
        "replica.socket.timeout.ms",
        "replica.high.watermark.checkpoint.interval.ms",
        "sim.follower.truncation",
        "offsets.topic.num.partitions",
        "offsets.topic.replication.factor",
        "group.initial.rebalance.delay.ms",
        "group.min.session.timeout.ms",
        "group.max.session.timeout.ms",
    ];

    pub fn new(node_id: i32) -> Self {
        BrokerConfig {
            node_id,
            log_retention_check_interval_ms: 300_000,
            log_cleaner_enable: true,
            log_cleaner_backoff_ms: 15_000,
            log_flush_scheduler_interval_ms: i64::MAX,
            sim_os_flush_interval_ms: 30_000,
            broker_heartbeat_interval_ms: 2_000,
            replica_lag_time_max_ms: 30_000,
            replica_fetch_wait_max_ms: 500,
            replica_fetch_min_bytes: 1,
            replica_fetch_max_bytes: 1_048_576,
            replica_fetch_response_max_bytes: 10_485_760,
            replica_fetch_backoff_ms: 1_000,
            replica_socket_timeout_ms: 30_000,
            replica_high_watermark_checkpoint_interval_ms: 5_000,
            sim_follower_truncation: FollowerTruncation::Kip279,
            offsets_topic_num_partitions: 50,
            offsets_topic_replication_factor: 3,
            group_initial_rebalance_delay_ms: 3_000,
            group_min_session_timeout_ms: 6_000,
            group_max_session_timeout_ms: 1_800_000,
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
            "broker.heartbeat.interval.ms" => {
                self.broker_heartbeat_interval_ms = positive_ms(name, value)?
            }
            "replica.lag.time.max.ms" => self.replica_lag_time_max_ms = positive_ms(name, value)?,
            "replica.fetch.wait.max.ms" => {
                self.replica_fetch_wait_max_ms = non_negative_ms(name, value)?
            }
            "replica.fetch.min.bytes" => {
                self.replica_fetch_min_bytes = positive_ms(name, value)? as u64
            }
            "replica.fetch.max.bytes" => {
                self.replica_fetch_max_bytes = positive_ms(name, value)? as u64
            }
            "replica.fetch.response.max.bytes" => {
                self.replica_fetch_response_max_bytes = positive_ms(name, value)? as u64
            }
            "replica.fetch.backoff.ms" => {
                self.replica_fetch_backoff_ms = non_negative_ms(name, value)?
            }
            "replica.socket.timeout.ms" => {
                self.replica_socket_timeout_ms = positive_ms(name, value)?
            }
            "replica.high.watermark.checkpoint.interval.ms" => {
                self.replica_high_watermark_checkpoint_interval_ms = positive_ms(name, value)?
            }
            "sim.follower.truncation" => {
                self.sim_follower_truncation = FollowerTruncation::parse(name, value)?
            }
            "offsets.topic.num.partitions" => {
                self.offsets_topic_num_partitions = bounded(name, value, 1, 1000)? as i32
            }
            "offsets.topic.replication.factor" => {
                self.offsets_topic_replication_factor = bounded(name, value, 1, 100)? as i16
            }
            "group.initial.rebalance.delay.ms" => {
                self.group_initial_rebalance_delay_ms = non_negative_ms(name, value)?
            }
            "group.min.session.timeout.ms" => {
                self.group_min_session_timeout_ms =
                    bounded(name, value, 1, i64::from(i32::MAX))? as i32
            }
            "group.max.session.timeout.ms" => {
                self.group_max_session_timeout_ms =
                    bounded(name, value, 1, i64::from(i32::MAX))? as i32
            }
            _ => return Err(unknown_key(name, Self::KEYS)),
        }
        Ok(())
    }

    /// The group coordinator's settings.
    pub fn group_config(&self) -> crate::group::coordinator::GroupConfig {
        crate::group::coordinator::GroupConfig {
            initial_rebalance_delay_ms: self.group_initial_rebalance_delay_ms,
            min_session_timeout_ms: self.group_min_session_timeout_ms,
            max_session_timeout_ms: self.group_max_session_timeout_ms,
            ..Default::default()
        }
    }
}

fn bounded(name: &str, value: &str, lo: i64, hi: i64) -> Result<i64, ConfigError> {
    match parse_i64(name, value)? {
        v if (lo..=hi).contains(&v) => Ok(v),
        v => Err(ConfigError {
            key: name.to_string(),
            message: format!("`{name}` must be between {lo} and {hi}, got {v}"),
        }),
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
