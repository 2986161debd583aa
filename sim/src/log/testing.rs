//! Test helpers shared by the log module's unit tests: building logs and records tersely so
//! each test reads as the Kafka scenario it checks.

use super::config::LogConfig;
use super::record::SimpleRecord;
use super::unified_log::{LogAppendInfo, LogError, ProducerInfo, UnifiedLog};

/// An empty log created at time 0.
pub(super) fn log_with(config: LogConfig) -> UnifiedLog {
    UnifiedLog::new(config, 0)
}

pub(super) fn keyed(timestamp_ms: i64, key: &str, value: Option<&str>) -> SimpleRecord {
    SimpleRecord::new(timestamp_ms, Some(key), value)
}

/// Appends one record as leader (epoch 0, no producer id) at `now = timestamp_ms`.
pub(super) fn append(
    log: &mut UnifiedLog,
    key: &str,
    value: Option<&str>,
    timestamp_ms: i64,
) -> LogAppendInfo {
    let records = vec![keyed(timestamp_ms, key, value)];
    log.append_as_leader(records, 0, ProducerInfo::NONE, timestamp_ms)
        .expect("test append must succeed")
}

/// Appends one batch of keyed records as leader.
pub(super) fn append_batch(
    log: &mut UnifiedLog,
    entries: &[(&str, &str)],
    timestamp_ms: i64,
) -> LogAppendInfo {
    let records = entries
        .iter()
        .map(|(k, v)| keyed(timestamp_ms, k, Some(v)))
        .collect();
    log.append_as_leader(records, 0, ProducerInfo::NONE, timestamp_ms)
        .expect("test append must succeed")
}

/// An idempotent producer's batch of `count` records (keys "k0", "k1", ...) as leader in
/// leader epoch 0, with producer id `producer_id`, epoch `producer_epoch` and base sequence
/// `base_sequence`.
pub(super) fn produce(
    log: &mut UnifiedLog,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    count: usize,
) -> Result<LogAppendInfo, LogError> {
    let records = (0..count)
        .map(|i| keyed(0, &format!("k{i}"), Some("v")))
        .collect();
    let producer = ProducerInfo {
        producer_id,
        producer_epoch,
        base_sequence,
    };
    log.append_as_leader(records, 0, producer, 0)
}

/// Moves HW to LEO, as if every follower had caught up.
pub(super) fn commit_all(log: &mut UnifiedLog) {
    log.update_high_watermark(log.log_end_offset());
}

/// Offsets of the readable records.
pub(super) fn offsets_of(log: &UnifiedLog) -> Vec<i64> {
    log.records().map(|r| r.offset).collect()
}

/// Values still stored for `key`, oldest first ("" for a tombstone).
pub(super) fn values_of(log: &UnifiedLog, key: &str) -> Vec<String> {
    log.records()
        .filter(|r| r.key.as_deref() == Some(key))
        .map(|r| r.value.as_deref().unwrap_or("").to_string())
        .collect()
}
