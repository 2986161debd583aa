//! One replica's log of one partition: offsets, segments, high watermark and flushing.
//!
//! Models Kafka's `UnifiedLog` (`kafka.log.UnifiedLog`, with the parts of `LocalLog` it
//! delegates to). This file holds the log's state and offsets, truncation and flushing.
//! Appends live in `append.rs`, reads in `read.rs`, retention in `retention.rs` and
//! compaction in `cleaner_manager.rs`/`cleaner.rs`: all are `impl UnifiedLog` blocks over
//! the same state. The offsets obey Kafka's ordering at every step:
//!
//! `log_start_offset <= high_watermark <= log_end_offset` and
//! `log_start_offset <= recovery_point <= log_end_offset`.
//!
//! The log owns its leader-epoch cache (`epoch_cache.rs`) and keeps it in step: appends
//! record where each epoch starts, truncation cuts it from the end and a rising log start
//! offset trims it from the start, as Kafka's `UnifiedLog` does.
//!
//! It also owns its idempotent producer state (`producer_state.rs`, Kafka's
//! `ProducerStateManager`) and keeps it in step the same way: leader and follower appends
//! record each producer's batches, truncation and power loss reload the state from the
//! batches left in the log, a full restart forgets it, and retention leaves it alone.

use super::config::LogConfig;
use super::epoch_cache::LeaderEpochCache;
use super::producer_state::ProducerStateManager;
use super::record::{Record, RecordBatch};
use super::segment::LogSegment;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// What an append did (Kafka's `LogAppendInfo`, reduced to what callers use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogAppendInfo {
    pub first_offset: i64,
    pub last_offset: i64,
    /// The broker time of the append.
    // Simplification: Kafka reports -1 here unless message.timestamp.type=LogAppendTime; we
    // always report the broker's clock so traces can show when the append happened.
    pub log_append_time_ms: i64,
    /// The batch repeats one this producer already wrote (an idempotent retry): nothing was
    /// written and the offsets are the original batch's.
    pub duplicate: bool,
}

/// The producer identity stamped on a leader-appended batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerInfo {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
}

impl ProducerInfo {
    /// A producer without idempotence: Kafka's `NO_PRODUCER_ID`, `NO_PRODUCER_EPOCH`,
    /// `NO_SEQUENCE`.
    pub const NONE: Self = Self {
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
    };
}

/// Why the log refused a request. Each maps to the Kafka error code a broker would return.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogError {
    /// `OFFSET_OUT_OF_RANGE`.
    OffsetOutOfRange {
        requested: i64,
        log_start_offset: i64,
        log_end_offset: i64,
    },
    /// `RECORD_TOO_LARGE`: a batch is larger than `max.message.bytes`.
    RecordTooLarge,
    /// `INVALID_RECORD`, e.g. a keyless record on a compacted topic.
    InvalidRecord(String),
    /// `OUT_OF_ORDER_SEQUENCE_NUMBER`: an idempotent producer's batch does not continue its
    /// sequence (a gap, a partial overlap, or a retry older than the retained batches).
    OutOfOrderSequence(String),
    /// `INVALID_PRODUCER_EPOCH`: the producer's epoch is older than one already seen here.
    InvalidProducerEpoch(String),
}

impl LogError {
    /// The Kafka error code name a broker puts in its response.
    pub fn error_code(&self) -> &'static str {
        match self {
            Self::OffsetOutOfRange { .. } => "OFFSET_OUT_OF_RANGE",
            Self::RecordTooLarge => "RECORD_TOO_LARGE",
            Self::InvalidRecord(_) => "INVALID_RECORD",
            Self::OutOfOrderSequence(_) => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            Self::InvalidProducerEpoch(_) => "INVALID_PRODUCER_EPOCH",
        }
    }
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OffsetOutOfRange {
                requested,
                log_start_offset,
                log_end_offset,
            } => write!(
                f,
                "OFFSET_OUT_OF_RANGE: offset {requested} is outside the log \
                 [{log_start_offset}, {log_end_offset}]"
            ),
            Self::RecordTooLarge => {
                f.write_str("RECORD_TOO_LARGE: the batch is larger than max.message.bytes")
            }
            Self::InvalidRecord(why) => write!(f, "INVALID_RECORD: {why}"),
            Self::OutOfOrderSequence(why) => write!(f, "OUT_OF_ORDER_SEQUENCE_NUMBER: {why}"),
            Self::InvalidProducerEpoch(why) => write!(f, "INVALID_PRODUCER_EPOCH: {why}"),
        }
    }
}

impl std::error::Error for LogError {}

/// One replica's log of one partition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnifiedLog {
    pub(super) config: LogConfig,
    /// Oldest first; never empty; the last one is the active segment.
    #[serde(deserialize_with = "non_empty_segments")]
    pub(super) segments: Vec<LogSegment>,
    pub(super) log_start_offset: i64,
    pub(super) log_end_offset: i64,
    pub(super) high_watermark: i64,
    /// First offset not yet flushed: a power loss keeps everything below it.
    pub(super) recovery_point: i64,
    pub(super) last_flush_ms: i64,
    /// The cleaner's checkpoint (Kafka's `cleaner-offset-checkpoint` entry), before clamping.
    pub(super) cleaner_checkpoint: i64,
    /// Where each leader epoch starts in this log (Kafka's `leaderEpochCache`).
    pub(super) leader_epoch_cache: LeaderEpochCache,
    /// Each idempotent producer's epoch and last batches here (Kafka's
    /// `producerStateManager`). Older snapshots without it load with no producers.
    #[serde(default)]
    pub(super) producer_state: ProducerStateManager,
}

/// A snapshot is input too: refuse one without an active segment rather than panic later.
fn non_empty_segments<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<LogSegment>, D::Error> {
    let segments = Vec::<LogSegment>::deserialize(d)?;
    if segments.is_empty() {
        return Err(serde::de::Error::custom("a log has at least one segment"));
    }
    Ok(segments)
}

// Getters.
impl UnifiedLog {
    /// An empty log starting at offset 0.
    pub fn new(config: LogConfig, now_ms: i64) -> Self {
        Self {
            config,
            segments: vec![LogSegment::new(0, now_ms)],
            log_start_offset: 0,
            log_end_offset: 0,
            high_watermark: 0,
            recovery_point: 0,
            last_flush_ms: now_ms,
            cleaner_checkpoint: 0,
            leader_epoch_cache: LeaderEpochCache::new(),
            producer_state: ProducerStateManager::new(),
        }
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    /// LSO: what `read_committed` consumers may read up to.
    // Simplification: without transactions there is never an open one, so LSO = HW.
    pub fn last_stable_offset(&self) -> i64 {
        self.high_watermark
    }

    /// First offset not yet flushed (Kafka's "flushed-offset marker").
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    /// Kafka's `unflushedMessages`: offsets written since the last flush.
    pub fn unflushed_messages(&self) -> i64 {
        self.log_end_offset - self.recovery_point
    }

    /// Time of the last flush that wrote something (Kafka's `lastFlushTime`).
    pub fn last_flush_ms(&self) -> i64 {
        self.last_flush_ms
    }

    pub fn segments(&self) -> &[LogSegment] {
        &self.segments
    }

    /// The segment that takes appends.
    pub fn active_segment(&self) -> &LogSegment {
        self.segments
            .last()
            .expect("a log always has an active segment")
    }

    /// Every batch still stored, oldest first, including any below `log_start_offset` that
    /// retention has not yet removed with its segment.
    pub fn batches(&self) -> impl Iterator<Item = &RecordBatch> {
        self.segments
            .iter()
            .flat_map(|s| s.batches().iter().map(|b| &**b))
    }

    /// Every readable record (offset >= `log_start_offset`), in offset order.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        let start = self.log_start_offset;
        self.batches()
            .flat_map(|b| b.records.iter())
            .filter(move |r| r.offset >= start)
    }

    /// The readable record at `offset`; `None` if out of range or compacted away.
    pub fn record_at(&self, offset: i64) -> Option<&Record> {
        if offset < self.log_start_offset || offset >= self.log_end_offset {
            return None;
        }
        let segment = &self.segments[self.segment_index_for(offset)];
        let batches = segment.batches();
        let index = batches.partition_point(|b| b.last_offset < offset);
        batches.get(index)?.record_at(offset)
    }

    /// Bytes stored across all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(LogSegment::size_bytes).sum()
    }

    /// ListOffsets by time: the first record (in offset order) with timestamp >= `ts_ms`.
    pub fn offset_for_timestamp(&self, ts_ms: i64) -> Option<i64> {
        self.records()
            .find(|r| r.timestamp_ms >= ts_ms)
            .map(|r| r.offset)
    }

    /// Kafka's `logSegments(from, to)`: the segments holding offsets in `[from, to)`,
    /// starting with the one whose range contains `from`.
    pub fn log_segments(&self, from_offset: i64, to_offset: i64) -> &[LogSegment] {
        if from_offset >= to_offset {
            return &[];
        }
        let start = self
            .segments
            .partition_point(|s| s.base_offset() <= from_offset)
            .saturating_sub(1);
        let end = self
            .segments
            .partition_point(|s| s.base_offset() < to_offset);
        &self.segments[start..end.max(start)]
    }

    /// Kafka's `leaderEpochCache`: where each leader epoch starts in this log.
    pub fn leader_epoch_cache(&self) -> &LeaderEpochCache {
        &self.leader_epoch_cache
    }

    /// Kafka's `producerStateManager`: what this replica knows of each idempotent producer.
    pub fn producer_state(&self) -> &ProducerStateManager {
        &self.producer_state
    }

    /// Kafka's `latestEpoch`: the newest leader epoch this log has a start offset for.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.leader_epoch_cache.latest_epoch()
    }

    /// Kafka's `endOffsetForEpoch`: the largest epoch <= `epoch` in this log and where it
    /// ends, as a leader answers `OffsetsForLeaderEpoch` (see
    /// [`LeaderEpochCache::end_offset_for`]); `(-1, -1)` when undefined.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.leader_epoch_cache
            .end_offset_for(epoch, self.log_end_offset)
    }

    /// The start offset of exactly `epoch` in this log, if it has one. A follower must reach
    /// the start of the leader's current epoch before it may join the ISR.
    pub fn epoch_start_offset(&self, epoch: i32) -> Option<i64> {
        self.leader_epoch_cache.start_offset_for(epoch)
    }

    pub(super) fn active_segment_mut(&mut self) -> &mut LogSegment {
        self.segments
            .last_mut()
            .expect("a log always has an active segment")
    }

    /// Index of the segment whose range contains `offset` (the first one if none does).
    pub(super) fn segment_index_for(&self, offset: i64) -> usize {
        self.segments
            .partition_point(|s| s.base_offset() <= offset)
            .saturating_sub(1)
    }
}

// Mutators: configuration and high watermark.
impl UnifiedLog {
    /// A dynamic topic config change (`AlterConfigs`); takes effect from the next operation.
    pub fn update_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    /// Kafka's `maybeAssignEpochStartOffset`: records that `epoch` starts at `start_offset`.
    /// A broker that becomes leader calls it with the new epoch and its LEO, so the epoch is
    /// known before anything is written in it. Negative epochs are ignored.
    pub fn assign_epoch_start_offset(&mut self, epoch: i32, start_offset: i64) {
        self.leader_epoch_cache.assign(epoch, start_offset);
        self.check_invariants();
    }

    /// Sets HW clamped into `[log_start_offset, log_end_offset]`; returns the new value.
    /// The leader's "never decreases" rule is the caller's: a follower may move it down
    /// after truncation.
    pub fn update_high_watermark(&mut self, hw: i64) -> i64 {
        self.high_watermark = hw.clamp(self.log_start_offset, self.log_end_offset);
        self.high_watermark
    }

    /// Kafka's `maybeIncrementLogStartOffset`/`updateLogStartOffset`: moving the start up
    /// drags HW and the recovery point along, so nothing points below readable data, and
    /// trims the leader-epoch cache to the new start (`truncateFromStart`).
    pub(super) fn maybe_increment_log_start_offset(&mut self, new_log_start_offset: i64) {
        if new_log_start_offset <= self.log_start_offset {
            return;
        }
        self.log_start_offset = new_log_start_offset;
        self.high_watermark = self.high_watermark.max(new_log_start_offset);
        self.recovery_point = self.recovery_point.max(new_log_start_offset);
        self.leader_epoch_cache
            .truncate_from_start(new_log_start_offset);
        self.check_invariants();
    }

    /// Debug-build check of the offset ordering and segment layout after each mutation.
    pub(super) fn check_invariants(&self) {
        debug_assert!(!self.segments.is_empty(), "no active segment");
        debug_assert!(
            self.segments
                .windows(2)
                .all(|w| w[0].base_offset() < w[1].base_offset()),
            "segment base offsets must increase"
        );
        debug_assert!(
            self.segments[0].base_offset() <= self.log_start_offset,
            "log start offset {} below the first segment {}",
            self.log_start_offset,
            self.segments[0].base_offset()
        );
        debug_assert!(
            self.log_start_offset <= self.high_watermark
                && self.high_watermark <= self.log_end_offset,
            "need log_start_offset {} <= HW {} <= LEO {}",
            self.log_start_offset,
            self.high_watermark,
            self.log_end_offset
        );
        debug_assert!(
            self.log_start_offset <= self.recovery_point
                && self.recovery_point <= self.log_end_offset,
            "need log_start_offset {} <= recovery point {} <= LEO {}",
            self.log_start_offset,
            self.recovery_point,
            self.log_end_offset
        );
        debug_assert!(
            self.leader_epoch_cache
                .earliest()
                .is_none_or(|e| e.start_offset >= self.log_start_offset)
                && self
                    .leader_epoch_cache
                    .latest()
                    .is_none_or(|e| e.start_offset <= self.log_end_offset),
            "leader epochs {:?} outside the log [{}, {}]",
            self.leader_epoch_cache.entries(),
            self.log_start_offset,
            self.log_end_offset
        );
        // Only the newest batch needs checking (segments are ordered), which keeps this O(1)
        // per append even in debug builds.
        let last_next_offset = self.segments.iter().rev().find_map(LogSegment::next_offset);
        debug_assert!(
            last_next_offset.is_none_or(|next| next <= self.log_end_offset),
            "the last batch ends at {last_next_offset:?}, past the LEO {}",
            self.log_end_offset
        );
    }
}

// Truncation.
impl UnifiedLog {
    /// Drops everything at or above `offset` (a follower cutting a divergent tail, or a
    /// restart cutting to its HW). HW, the recovery point and the cleaner checkpoint clamp
    /// down; like Kafka, the log start offset does too if `offset` is below it. The
    /// leader-epoch cache loses the epochs starting at or above `offset`, and the producer
    /// state is reloaded from the batches that remain. When `offset >= LEO` no record goes,
    /// but epochs starting at the LEO are still dropped.
    pub fn truncate_to(&mut self, offset: i64) {
        // Kafka refuses a negative target; offset 0 is the nearest meaningful one.
        let offset = offset.max(0);
        if offset >= self.log_end_offset {
            // Like Kafka, still drop epochs that start at the end: a broker that became
            // leader and appended nothing before losing leadership holds an entry no record
            // backs, and keeping it would make every later fetch look divergent.
            self.leader_epoch_cache
                .truncate_from_end(self.log_end_offset);
            return;
        }
        self.cleaner_checkpoint = self.cleaner_checkpoint.min(offset);
        if self.segments[0].base_offset() > offset {
            // Simplification: Kafka stamps the fresh segment with the current time; without a
            // clock here it inherits the active segment's creation time.
            let created_ms = self.active_segment().created_ms();
            self.reset_at(offset, created_ms);
            return;
        }
        self.segments.retain(|s| s.base_offset() <= offset);
        self.active_segment_mut().truncate_to(offset);
        self.log_end_offset = offset;
        self.log_start_offset = self.log_start_offset.min(offset);
        self.high_watermark = self.high_watermark.min(offset);
        self.recovery_point = self.recovery_point.min(offset);
        self.leader_epoch_cache.truncate_from_end(offset);
        self.producer_state.truncate_and_reload(
            self.segments
                .iter()
                .flat_map(|s| s.batches().iter().map(|b| &**b)),
        );
        self.check_invariants();
    }

    /// Deletes the whole log and restarts it, empty, at `offset` (a follower that fell below
    /// the leader's log start offset). HW, LEO, log start and recovery point all become
    /// `offset`; the leader-epoch cache and the producer state are cleared (Kafka deletes
    /// the producer snapshots too).
    pub fn truncate_fully_and_start_at(&mut self, offset: i64, now_ms: i64) {
        self.cleaner_checkpoint = self.cleaner_checkpoint.min(offset);
        self.reset_at(offset, now_ms);
    }

    fn reset_at(&mut self, offset: i64, created_ms: i64) {
        self.segments = vec![LogSegment::new(offset, created_ms)];
        self.log_end_offset = offset;
        self.log_start_offset = offset;
        self.high_watermark = offset;
        self.recovery_point = offset;
        self.leader_epoch_cache.clear();
        self.producer_state.truncate_fully();
        self.check_invariants();
    }
}

// Flushing and power loss.
impl UnifiedLog {
    /// Writes everything to disk: `recovery_point = LEO`.
    pub fn flush(&mut self, now_ms: i64) {
        // Kafka's flush only counts as one (and resets the flush.ms clock) if it wrote data.
        if self.recovery_point < self.log_end_offset {
            self.recovery_point = self.log_end_offset;
            self.last_flush_ms = now_ms;
        }
    }

    /// Time-based flush (flush.ms since the last flush), which the broker calls
    /// periodically (Kafka's `LogManager.flushDirtyLogs`). Returns whether it flushed.
    pub fn maybe_flush(&mut self, now_ms: i64) -> bool {
        let due = now_ms.saturating_sub(self.last_flush_ms) >= self.config.flush_ms;
        if due && self.recovery_point < self.log_end_offset {
            self.flush(now_ms);
            return true;
        }
        false
    }

    /// After an append: flush.messages (Kafka checks `unflushedMessages >= flushInterval`),
    /// then flush.ms.
    // Simplification: Kafka checks flush.ms only from its scheduler; checking on appends too
    // just flushes a little sooner when flush.ms is set.
    pub(super) fn flush_after_append(&mut self, now_ms: i64) {
        if self.unflushed_messages() >= self.config.flush_messages {
            self.flush(now_ms);
        } else {
            self.maybe_flush(now_ms);
        }
    }

    /// Power loss: everything at or above the recovery point is gone (the page cache died
    /// with the machine). Returns the number of records lost.
    pub fn lose_unflushed(&mut self) -> u64 {
        let lost = self
            .batches()
            .flat_map(|b| b.records.iter())
            .filter(|r| r.offset >= self.recovery_point)
            .count() as u64;
        self.truncate_to(self.recovery_point);
        lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::epoch_cache::UNDEFINED_EPOCH;
    use crate::log::testing::{append, append_batch, keyed, log_with, offsets_of, produce};

    #[test]
    fn truncating_at_the_end_still_drops_an_epoch_with_no_records() {
        let mut log = log_with(LogConfig::default());
        append_batch(&mut log, &[("a", "1")], 0);
        log.assign_epoch_start_offset(1, 1); // led epoch 1, appended nothing
        log.truncate_to(1);
        assert_eq!(log.log_end_offset(), 1);
        assert_eq!(log.latest_epoch(), Some(0));
    }

    #[test]
    fn high_watermark_is_clamped_into_the_log() {
        let mut log = log_with(LogConfig::default());
        append_batch(&mut log, &[("a", "1"), ("b", "2"), ("c", "3")], 0);
        assert_eq!(log.update_high_watermark(2), 2);
        assert_eq!(log.update_high_watermark(10), 3, "not past LEO");
        assert_eq!(
            log.update_high_watermark(1),
            1,
            "followers may move it down"
        );
        assert_eq!(log.update_high_watermark(-5), 0, "not below log start");
        assert_eq!(log.high_watermark(), 0);
    }

    #[test]
    fn truncate_to_drops_the_tail_and_clamps_hw_and_recovery_point() {
        let mut log = log_with(LogConfig {
            segment_bytes: 150,
            ..LogConfig::default()
        });
        for key in ["a", "b", "c", "d", "e"] {
            append(&mut log, key, Some("v"), 0);
        }
        log.flush(0);
        log.update_high_watermark(5);
        log.truncate_to(3);
        assert_eq!(log.log_end_offset(), 3);
        assert_eq!(log.high_watermark(), 3);
        assert_eq!(log.recovery_point(), 3);
        assert_eq!(offsets_of(&log), [0, 1, 2]);
        let bases: Vec<i64> = log.segments().iter().map(|s| s.base_offset()).collect();
        assert_eq!(bases, [0, 2], "the segment at 4 is gone");
        log.truncate_to(7);
        assert_eq!(log.log_end_offset(), 3, "truncating past LEO does nothing");
        let info = append(&mut log, "f", Some("v"), 0);
        assert_eq!(info.first_offset, 3, "offsets are reused after truncation");
    }

    #[test]
    fn truncate_to_mid_batch_keeps_the_records_below() {
        let mut log = log_with(LogConfig::default());
        append_batch(&mut log, &[("a", "1"), ("b", "2"), ("c", "3")], 0);
        log.truncate_to(1);
        assert_eq!(offsets_of(&log), [0]);
        assert_eq!(
            log.batches().map(|b| b.next_offset()).collect::<Vec<_>>(),
            [1]
        );
    }

    #[test]
    fn truncate_fully_and_start_at_restarts_the_log() {
        let mut log = log_with(LogConfig::default());
        append_batch(&mut log, &[("a", "1"), ("b", "2")], 0);
        log.update_high_watermark(2);
        log.truncate_fully_and_start_at(50, 9);
        assert_eq!(log.log_start_offset(), 50);
        assert_eq!(log.log_end_offset(), 50);
        assert_eq!(log.high_watermark(), 50);
        assert_eq!(log.recovery_point(), 50);
        assert_eq!(log.segments().len(), 1);
        assert_eq!(log.records().count(), 0);
        assert_eq!(append(&mut log, "c", Some("3"), 0).first_offset, 50);
    }

    #[test]
    fn flush_messages_moves_the_recovery_point() {
        let mut log = log_with(LogConfig {
            flush_messages: 3,
            ..LogConfig::default()
        });
        append(&mut log, "a", Some("1"), 0);
        append(&mut log, "b", Some("2"), 0);
        assert_eq!(log.recovery_point(), 0, "two unflushed messages");
        append(&mut log, "c", Some("3"), 0);
        assert_eq!(log.recovery_point(), 3, "the third triggers a flush");
        append(&mut log, "d", Some("4"), 0);
        assert_eq!(log.recovery_point(), 3);
        assert_eq!(log.unflushed_messages(), 1);
    }

    #[test]
    fn flush_ms_flushes_once_the_interval_has_passed() {
        let mut log = UnifiedLog::new(
            LogConfig {
                flush_ms: 1000,
                ..LogConfig::default()
            },
            0,
        );
        log.append_as_leader(vec![keyed(0, "a", Some("1"))], 0, ProducerInfo::NONE, 500)
            .expect("append");
        assert_eq!(log.recovery_point(), 0);
        assert!(!log.maybe_flush(999));
        assert!(log.maybe_flush(1000));
        assert_eq!(log.recovery_point(), 1);
        assert!(!log.maybe_flush(5000), "nothing left to flush");
        log.append_as_leader(vec![keyed(0, "b", Some("2"))], 0, ProducerInfo::NONE, 2500)
            .expect("append");
        assert_eq!(
            log.recovery_point(),
            2,
            "an append after flush.ms flushes too"
        );
    }

    #[test]
    fn power_loss_truncates_to_the_recovery_point() {
        let mut log = log_with(LogConfig {
            flush_messages: 2,
            ..LogConfig::default()
        });
        for key in ["a", "b", "c"] {
            append(&mut log, key, Some("v"), 0);
        }
        log.update_high_watermark(3);
        assert_eq!(log.recovery_point(), 2);
        assert_eq!(log.lose_unflushed(), 1);
        assert_eq!(log.log_end_offset(), 2);
        assert_eq!(log.high_watermark(), 2, "HW cannot outlive the data");
        assert_eq!(offsets_of(&log), [0, 1]);
        assert_eq!(log.lose_unflushed(), 0, "everything left is on disk");
    }

    #[test]
    fn default_flush_settings_lose_everything_on_power_loss() {
        let mut log = log_with(LogConfig::default());
        append_batch(&mut log, &[("a", "1"), ("b", "2")], 0);
        append(&mut log, "c", Some("3"), 0);
        assert_eq!(
            log.lose_unflushed(),
            3,
            "Kafka relies on replication, not fsync"
        );
        assert_eq!(log.log_end_offset(), 0);
    }

    #[test]
    fn offset_for_timestamp_finds_the_first_record_at_or_after() {
        let mut log = log_with(LogConfig::default());
        append(&mut log, "a", Some("1"), 100);
        append(&mut log, "b", Some("2"), 300);
        append(&mut log, "c", Some("3"), 200);
        assert_eq!(log.offset_for_timestamp(0), Some(0));
        assert_eq!(log.offset_for_timestamp(150), Some(1));
        assert_eq!(log.offset_for_timestamp(300), Some(1));
        assert_eq!(log.offset_for_timestamp(301), None);
    }

    #[test]
    fn log_segments_matches_kafkas_range_lookup() {
        let mut log = log_with(LogConfig {
            segment_bytes: 70,
            ..LogConfig::default()
        });
        for key in ["a", "b", "c", "d"] {
            append(&mut log, key, Some("v"), 0);
        }
        let bases = |s: &[LogSegment]| s.iter().map(|s| s.base_offset()).collect::<Vec<_>>();
        assert_eq!(bases(log.log_segments(1, 3)), [1, 2]);
        assert_eq!(bases(log.log_segments(-1, 2)), [0, 1]);
        assert_eq!(bases(log.log_segments(2, 2)), Vec::<i64>::new());
    }

    /// Appends one record as leader in `epoch`.
    fn append_in_epoch(log: &mut UnifiedLog, epoch: i32, key: &str) -> LogAppendInfo {
        log.append_as_leader(vec![keyed(0, key, Some("v"))], epoch, ProducerInfo::NONE, 0)
            .expect("test append must succeed")
    }

    fn epochs_of(log: &UnifiedLog) -> Vec<(i32, i64)> {
        log.leader_epoch_cache()
            .entries()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect()
    }

    #[test]
    fn leader_appends_record_where_each_epoch_starts_and_truncation_cuts_them() {
        let mut log = log_with(LogConfig::default());
        assert_eq!(log.latest_epoch(), None);
        for (epoch, key) in [(0, "a"), (0, "b"), (1, "c")] {
            append_in_epoch(&mut log, epoch, key);
        }
        assert_eq!(epochs_of(&log), [(0, 0), (1, 2)]);
        assert_eq!(log.latest_epoch(), Some(1));
        assert_eq!(log.epoch_start_offset(1), Some(2));
        assert_eq!(log.end_offset_for_epoch(0), (0, 2));
        assert_eq!(
            log.end_offset_for_epoch(1),
            (1, 3),
            "the latest epoch ends at LEO"
        );
        assert_eq!(log.end_offset_for_epoch(2), (-1, -1));
        log.truncate_to(1);
        assert_eq!(epochs_of(&log), [(0, 0)]);
        assert_eq!(log.end_offset_for_epoch(0), (0, 1));
    }

    #[test]
    fn a_new_leader_records_its_epoch_at_its_log_end_offset() {
        let mut log = log_with(LogConfig::default());
        append_in_epoch(&mut log, 0, "a");
        log.assign_epoch_start_offset(2, log.log_end_offset());
        assert_eq!(epochs_of(&log), [(0, 0), (2, 1)]);
        assert_eq!(
            log.end_offset_for_epoch(1),
            (0, 1),
            "epoch 1 wrote nothing here"
        );
        append_in_epoch(&mut log, 2, "b");
        assert_eq!(
            epochs_of(&log),
            [(0, 0), (2, 1)],
            "the append repeats the entry"
        );
        log.assign_epoch_start_offset(UNDEFINED_EPOCH, 2);
        assert_eq!(epochs_of(&log), [(0, 0), (2, 1)]);
    }

    #[test]
    fn follower_appends_record_the_leaders_epochs() {
        let mut leader = log_with(LogConfig::default());
        append_in_epoch(&mut leader, 0, "a");
        append_in_epoch(&mut leader, 0, "b");
        append_in_epoch(&mut leader, 3, "c");
        append_in_epoch(&mut leader, 3, "d");
        let fetched = leader.read(0, leader.log_end_offset(), u64::MAX);
        let mut follower = log_with(LogConfig::default());
        let appended = follower.append_as_follower(fetched.expect("in range"), 0);
        assert!(appended.is_ok(), "{appended:?}");
        assert_eq!(epochs_of(&follower), [(0, 0), (3, 2)]);
        assert_eq!(follower.leader_epoch_cache(), leader.leader_epoch_cache());
    }

    #[test]
    fn batches_without_a_leader_epoch_leave_the_cache_alone() {
        let mut log = log_with(LogConfig::default());
        append_in_epoch(&mut log, UNDEFINED_EPOCH, "a");
        assert!(log.leader_epoch_cache().is_empty());
        append_in_epoch(&mut log, 1, "b");
        assert_eq!(epochs_of(&log), [(1, 1)]);
    }

    #[test]
    fn power_loss_trims_the_epochs_of_lost_records() {
        let mut log = log_with(LogConfig::default());
        append_in_epoch(&mut log, 0, "a");
        log.flush(0);
        append_in_epoch(&mut log, 1, "b");
        append_in_epoch(&mut log, 2, "c");
        assert_eq!(epochs_of(&log), [(0, 0), (1, 1), (2, 2)]);
        assert_eq!(log.lose_unflushed(), 2);
        assert_eq!(epochs_of(&log), [(0, 0)]);
    }

    #[test]
    fn restarting_the_log_clears_the_epochs() {
        let mut log = log_with(LogConfig::default());
        append_in_epoch(&mut log, 0, "a");
        append_in_epoch(&mut log, 1, "b");
        log.truncate_fully_and_start_at(50, 0);
        assert!(log.leader_epoch_cache().is_empty());
        append_in_epoch(&mut log, 4, "c");
        assert_eq!(epochs_of(&log), [(4, 50)]);
        // Truncating below the first segment restarts the log too.
        log.truncate_to(10);
        assert_eq!(log.log_end_offset(), 10);
        assert!(log.leader_epoch_cache().is_empty());
    }

    /// Producer `pid`'s retained batches as (first seq, last seq, first offset).
    fn window_of(log: &UnifiedLog, pid: i64) -> Vec<(i32, i32, i64)> {
        log.producer_state()
            .last_entry(pid)
            .map(|e| {
                e.batches()
                    .iter()
                    .map(|b| (b.first_seq, b.last_seq, b.first_offset))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn truncation_rebuilds_the_producer_window_from_the_log() {
        let mut log = log_with(LogConfig::default());
        for seq in 0..7 {
            assert!(produce(&mut log, 1, 0, seq, 1).is_ok());
        }
        assert_eq!(window_of(&log, 1)[0], (2, 2, 2), "seq 0 and 1 were evicted");
        log.truncate_to(5);
        assert_eq!(
            window_of(&log, 1),
            [(0, 0, 0), (1, 1, 1), (2, 2, 2), (3, 3, 3), (4, 4, 4)],
            "the batches at 5 and 6 are gone; 0 and 1 come back from the log"
        );
        let retry = produce(&mut log, 1, 0, 0, 1).expect("duplicate");
        assert!(retry.duplicate, "seq 0 is a duplicate again");
        let resend = produce(&mut log, 1, 0, 5, 1).expect("next in sequence");
        assert_eq!((resend.first_offset, resend.duplicate), (5, false));
        let skipped = produce(&mut log, 1, 0, 7, 1);
        assert!(matches!(skipped, Err(LogError::OutOfOrderSequence(_))));
    }

    #[test]
    fn truncation_restores_the_epoch_the_remaining_log_ends_in() {
        let mut log = log_with(LogConfig::default());
        assert!(produce(&mut log, 1, 0, 0, 2).is_ok());
        assert!(produce(&mut log, 1, 1, 0, 1).is_ok());
        assert!(produce(&mut log, 2, 0, 0, 1).is_ok());
        log.truncate_to(2);
        let entry = log.producer_state().last_entry(1).expect("known");
        assert_eq!((entry.producer_epoch(), entry.last_seq()), (0, 1));
        assert!(
            log.producer_state().last_entry(2).is_none(),
            "producer 2 wrote only above the truncation point"
        );
    }

    #[test]
    fn power_loss_reloads_the_producer_state_from_what_was_flushed() {
        let mut log = log_with(LogConfig::default());
        assert!(produce(&mut log, 1, 0, 0, 1).is_ok());
        log.flush(0);
        assert!(produce(&mut log, 1, 0, 1, 1).is_ok());
        assert_eq!(log.lose_unflushed(), 1);
        assert_eq!(window_of(&log, 1), [(0, 0, 0)]);
        let retry = produce(&mut log, 1, 0, 1, 1).expect("no longer a duplicate");
        assert_eq!((retry.first_offset, retry.duplicate), (1, false));
    }

    #[test]
    fn restarting_the_log_forgets_every_producer() {
        let mut log = log_with(LogConfig::default());
        assert!(produce(&mut log, 1, 0, 0, 1).is_ok());
        log.truncate_fully_and_start_at(50, 0);
        assert!(log.producer_state().is_empty());
        let any = produce(&mut log, 1, 0, 8, 1).expect("unknown producers may start anywhere");
        assert_eq!(any.first_offset, 50);
    }
}
