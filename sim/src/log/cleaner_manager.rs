//! Deciding when a compacted log gets cleaned and which offsets a pass may touch.
//!
//! Models Kafka's `LogCleanerManager` (`cleanableOffsets`, `calculateCleanableBytes`,
//! `maxCompactionDelay`, the `cleaner-offset-checkpoint`) and `LogCleaner.doClean`, as methods
//! on [`UnifiedLog`]. The broker's cleaner thread picks the dirtiest log and calls
//! [`UnifiedLog::clean`]; the record-level work is in `cleaner.rs`.
//!
//! The dirty range is `[first_dirty_offset, end)`, where `end` is the base of the segment
//! holding `min(LSO, active segment base, first segment younger than min.compaction.lag.ms)`:
//! the cleaner never touches the active segment, uncommitted records, or records still
//! inside their minimum compaction lag.

use super::cleaner::{Cleaner, CleanerStats, OffsetMap};
use super::cleaner::{group_segments_by_size, last_batch_of_each_producer};
use super::config::LogConfig;
use super::unified_log::UnifiedLog;

/// Kafka's `LogToClean`: the numbers the cleaner ranks logs by.
#[derive(Clone, Debug, PartialEq)]
struct LogToClean {
    first_dirty_offset: i64,
    /// Segment-aligned end of the dirty range (exclusive).
    first_uncleanable_offset: i64,
    clean_bytes: u64,
    cleanable_bytes: u64,
    /// `max.compaction.lag.ms` has passed for some dirty record.
    need_compaction_now: bool,
}

impl LogToClean {
    fn total_bytes(&self) -> u64 {
        self.clean_bytes + self.cleanable_bytes
    }

    fn cleanable_ratio(&self) -> f64 {
        match self.total_bytes() {
            0 => 0.0,
            total => self.cleanable_bytes as f64 / total as f64,
        }
    }

    /// `grabFilthiestCompactedLog`'s filter.
    fn is_cleanable(&self, config: &LogConfig) -> bool {
        self.total_bytes() > 0
            && ((self.need_compaction_now && self.cleanable_bytes > 0)
                || self.cleanable_ratio() > config.min_cleanable_dirty_ratio)
    }
}

impl UnifiedLog {
    /// The cleaner checkpoint: offsets below it have been compacted, so a missing offset
    /// there was removed on purpose. Like Kafka's `cleanableOffsets`, a checkpoint outside
    /// `[log_start_offset, LEO]` (after retention or truncation) falls back to the log start.
    pub fn first_dirty_offset(&self) -> i64 {
        let checkpoint = self.cleaner_checkpoint;
        if checkpoint < self.log_start_offset || checkpoint > self.log_end_offset {
            self.log_start_offset
        } else {
            checkpoint
        }
    }

    /// Dirty bytes over total bytes (Kafka's `cleanableRatio`), ignoring
    /// `min.compaction.lag.ms`, which needs the clock: see [`UnifiedLog::dirty_ratio_at`].
    pub fn dirty_ratio(&self) -> f64 {
        self.log_to_clean(None).cleanable_ratio()
    }

    /// The dirty ratio the cleaner would see at `now_ms`.
    pub fn dirty_ratio_at(&self, now_ms: i64) -> f64 {
        self.log_to_clean(Some(now_ms)).cleanable_ratio()
    }

    /// One compaction pass, if `cleanup.policy` contains compact and the log is dirty enough
    /// (ratio above `min.cleanable.dirty.ratio`, or `max.compaction.lag.ms` exceeded).
    /// Rewrites every segment below the end of the dirty range, keeping a keyed record iff
    /// it is the latest for its key in the dirty range (keys absent from the range are
    /// kept); offsets are never renumbered. Advances the cleaner checkpoint.
    pub fn clean(&mut self, now_ms: i64) -> Option<CleanerStats> {
        if !self.config.cleanup_policy.compacts() {
            return None;
        }
        let to_clean = self.log_to_clean(Some(now_ms));
        if !to_clean.is_cleanable(&self.config) {
            return None;
        }
        Some(self.do_clean(&to_clean, now_ms))
    }

    fn log_to_clean(&self, now_ms: Option<i64>) -> LogToClean {
        let first_dirty_offset = self.first_dirty_offset();
        let uncleanable = self.first_uncleanable_dirty_offset(first_dirty_offset, now_ms);
        // Kafka's calculateCleanableBytes: round down to the segment holding that offset,
        // since only whole segments are cleaned.
        let first_uncleanable_offset =
            self.segments[self.segment_index_for(uncleanable)].base_offset();
        let bytes = |from, to| -> u64 {
            self.log_segments(from, to)
                .iter()
                .map(|s| s.size_bytes())
                .sum()
        };
        LogToClean {
            first_dirty_offset,
            first_uncleanable_offset,
            clean_bytes: bytes(-1, first_dirty_offset),
            cleanable_bytes: bytes(
                first_dirty_offset.min(first_uncleanable_offset),
                first_uncleanable_offset,
            ),
            need_compaction_now: now_ms
                .is_some_and(|now| self.max_compaction_delay_ms(first_dirty_offset, now) > 0),
        }
    }

    /// Kafka's `cleanableOffsets`: the lowest of LSO, the active segment's base and the
    /// first dirty segment still within `min.compaction.lag.ms`; never below the dirty start.
    fn first_uncleanable_dirty_offset(&self, first_dirty_offset: i64, now_ms: Option<i64>) -> i64 {
        let active_base_offset = self.active_segment().base_offset();
        let mut end = self.last_stable_offset().min(active_base_offset);
        let lag_ms = self.config.min_compaction_lag_ms.max(0);
        if let (Some(now), true) = (now_ms, lag_ms > 0) {
            let too_young = self
                .log_segments(first_dirty_offset, active_base_offset)
                .iter()
                .find(|s| s.largest_timestamp_ms() > now.saturating_sub(lag_ms));
            if let Some(segment) = too_young {
                end = end.min(segment.base_offset());
            }
        }
        end.max(first_dirty_offset)
    }

    /// Kafka's `maxCompactionDelay`: how long past `max.compaction.lag.ms` the oldest dirty
    /// segment's first batch is (0 if not past). Timestamps <= 0 count as unknown.
    fn max_compaction_delay_ms(&self, first_dirty_offset: i64, now_ms: i64) -> i64 {
        let active_base_offset = self.active_segment().base_offset();
        let earliest = self
            .log_segments(first_dirty_offset, active_base_offset)
            .iter()
            .filter_map(|s| s.first_batch_timestamp_ms())
            .filter(|&ts| ts > 0)
            .min();
        let clean_until_ms = now_ms.saturating_sub(self.config.max_compaction_lag_ms.max(0));
        match earliest {
            Some(ts) if ts < clean_until_ms => clean_until_ms - ts,
            _ => 0,
        }
    }

    /// Kafka's `Cleaner.doClean`: build the offset map over the dirty range, then rewrite
    /// every segment below its end, group by group.
    fn do_clean(&mut self, to_clean: &LogToClean, now_ms: i64) -> CleanerStats {
        let end_offset = to_clean.first_uncleanable_offset;
        let map = OffsetMap::build(
            self.log_segments(to_clean.first_dirty_offset, end_offset),
            to_clean.first_dirty_offset,
            end_offset,
        );
        let producers = last_batch_of_each_producer(self.batches());
        let count = self
            .segments
            .partition_point(|s| s.base_offset() < end_offset);
        let groups = group_segments_by_size(&self.segments[..count], self.config.segment_bytes);
        let mut cleaner = Cleaner::new(&map, now_ms, self.config.delete_retention_ms, producers);
        let mut old = self.segments.drain(..count).collect::<Vec<_>>().into_iter();
        let mut cleaned = Vec::with_capacity(groups.len());
        for len in groups {
            let group: Vec<_> = old.by_ref().take(len).collect();
            cleaned.extend(cleaner.clean_segments(group));
        }
        self.segments.splice(0..0, cleaned);
        self.cleaner_checkpoint = end_offset;
        self.check_invariants();
        CleanerStats {
            first_dirty_offset: to_clean.first_dirty_offset,
            end_offset,
            ..cleaner.stats
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::config::CleanupPolicy;
    use crate::log::record::SimpleRecord;
    use crate::log::testing::{append, commit_all, log_with, offsets_of, values_of};
    use crate::log::unified_log::ProducerInfo;

    /// A compacted topic where every one-record batch (key and value of one character,
    /// 70 bytes) fills its own segment.
    fn compact_config() -> LogConfig {
        LogConfig {
            segment_bytes: 70,
            cleanup_policy: CleanupPolicy::Compact,
            ..LogConfig::default()
        }
    }

    fn bases(log: &UnifiedLog) -> Vec<i64> {
        log.segments().iter().map(|s| s.base_offset()).collect()
    }

    #[test]
    fn keeps_the_latest_record_per_key_without_renumbering() {
        let mut log = log_with(LogConfig {
            segment_bytes: 140,
            ..compact_config()
        });
        for (key, value) in [("a", "1"), ("b", "1"), ("a", "2"), ("b", "2"), ("a", "3")] {
            append(&mut log, key, Some(value), 0);
        }
        for (key, value) in [("c", "1"), ("d", "1"), ("d", "2")] {
            append(&mut log, key, Some(value), 0);
        }
        commit_all(&mut log);
        assert_eq!(bases(&log), [0, 2, 4, 6], "two batches per segment");
        let stats = log.clean(100).expect("a fresh log is 100% dirty");
        assert_eq!((stats.first_dirty_offset, stats.end_offset), (0, 6));
        assert_eq!(stats.records_removed, 3, "a@0, b@1, a@2");
        assert_eq!(offsets_of(&log), [3, 4, 5, 6, 7]);
        assert_eq!(values_of(&log, "a"), ["3"]);
        assert_eq!(
            values_of(&log, "d"),
            ["1", "2"],
            "the active segment is untouched"
        );
        assert!(log.record_at(0).is_none() && log.record_at(2).is_none());
        assert_eq!(log.record_at(4).and_then(|r| r.value.as_deref()), Some("3"));
        assert_eq!(log.log_end_offset(), 8);
        assert_eq!(log.first_dirty_offset(), 6);
        let read = log
            .read(0, log.high_watermark(), u64::MAX)
            .expect("in range");
        assert_eq!(
            read.first().map(|b| b.base_offset),
            Some(3),
            "skips the gap"
        );
    }

    #[test]
    fn the_dirty_ratio_threshold_gates_cleaning() {
        let mut log = log_with(compact_config());
        for key in ["a", "b", "c"] {
            append(&mut log, key, Some("1"), 0);
        }
        commit_all(&mut log);
        assert!(log.clean(0).is_some());
        assert_eq!(log.first_dirty_offset(), 2);
        assert_eq!(log.dirty_ratio(), 0.0);
        assert_eq!(log.clean(0), None, "nothing new to clean");
        append(&mut log, "a", Some("2"), 0); // closes segment 2: dirty 70 of 210 bytes
        commit_all(&mut log);
        assert!((log.dirty_ratio() - 70.0 / 210.0).abs() < 1e-9);
        assert_eq!(log.clean(0), None, "1/3 is not above 0.5");
        log.update_config(LogConfig {
            min_cleanable_dirty_ratio: 0.3,
            ..log.config().clone()
        });
        let stats = log.clean(0).expect("1/3 is above 0.3");
        assert_eq!(stats.end_offset, 3);
        assert_eq!(stats.records_removed, 0, "c@2 supersedes nothing");
        append(&mut log, "b", Some("2"), 0);
        append(&mut log, "a", Some("3"), 0);
        commit_all(&mut log);
        let stats = log.clean(0).expect("dirty enough");
        assert_eq!(stats.records_removed, 2, "a@0 and b@1");
        assert_eq!(offsets_of(&log), [2, 3, 4, 5]);
    }

    #[test]
    fn tombstones_outlive_one_pass_then_go_after_delete_retention_ms() {
        let mut log = log_with(LogConfig {
            delete_retention_ms: 1000,
            min_cleanable_dirty_ratio: 0.1,
            ..compact_config()
        });
        append(&mut log, "a", Some("1"), 0);
        append(&mut log, "a", None, 0);
        append(&mut log, "b", Some("1"), 0);
        append(&mut log, "c", Some("1"), 0);
        commit_all(&mut log);

        let first = log.clean(100).expect("first pass");
        assert_eq!((first.records_removed, first.tombstones_removed), (1, 0));
        assert_eq!(first.delete_horizons_set, 1);
        let tombstone = log.record_at(1).expect("the tombstone stays for now");
        assert!(tombstone.is_tombstone());
        let horizon = log
            .batches()
            .find(|b| b.base_offset == 1)
            .and_then(|b| b.delete_horizon_ms);
        assert_eq!(horizon, Some(1100), "clean time + delete.retention.ms");

        append(&mut log, "d", Some("1"), 0);
        commit_all(&mut log);
        let second = log.clean(1099).expect("second pass");
        assert_eq!(second.tombstones_removed, 0, "horizon not reached");
        assert_eq!(second.delete_horizons_set, 0, "already stamped");
        assert!(log.record_at(1).is_some());

        append(&mut log, "e", Some("1"), 0);
        commit_all(&mut log);
        let third = log.clean(1100).expect("third pass");
        assert_eq!(third.tombstones_removed, 1);
        assert!(log.record_at(1).is_none());
        assert_eq!(offsets_of(&log), [2, 3, 4, 5]);
    }

    #[test]
    fn a_superseded_tombstone_goes_on_the_first_pass() {
        let mut log = log_with(compact_config());
        append(&mut log, "a", None, 0);
        append(&mut log, "a", Some("2"), 0);
        append(&mut log, "z", Some("1"), 0);
        commit_all(&mut log);
        let stats = log.clean(0).expect("dirty");
        assert_eq!(stats.tombstones_removed, 1);
        assert_eq!(values_of(&log, "a"), ["2"]);
    }

    #[test]
    fn never_cleans_at_or_above_the_high_watermark() {
        let mut log = log_with(compact_config());
        for value in ["1", "2", "3", "4"] {
            append(&mut log, "a", Some(value), 0);
        }
        log.update_high_watermark(1);
        let stats = log.clean(0).expect("segment 0 is committed and dirty");
        assert_eq!((stats.end_offset, stats.records_removed), (1, 0));
        assert_eq!(
            offsets_of(&log),
            [0, 1, 2, 3],
            "a@1 and a@2 are not committed"
        );
        log.update_high_watermark(3);
        let stats = log.clean(0).expect("dirty");
        assert_eq!(stats.end_offset, 3);
        assert_eq!(offsets_of(&log), [2, 3]);
    }

    #[test]
    fn min_compaction_lag_protects_young_segments() {
        let mut log = log_with(LogConfig {
            min_compaction_lag_ms: 1000,
            ..compact_config()
        });
        append(&mut log, "a", Some("1"), 0);
        append(&mut log, "a", Some("2"), 0);
        append(&mut log, "a", Some("3"), 900);
        append(&mut log, "b", Some("1"), 900);
        commit_all(&mut log);
        let stats = log.clean(1000).expect("segments 0 and 1 are old enough");
        assert_eq!(stats.end_offset, 2, "segment 2 (ts 900) is within the lag");
        assert_eq!(offsets_of(&log), [1, 2, 3]);
    }

    #[test]
    fn max_compaction_lag_forces_a_pass_below_the_ratio() {
        let mut log = log_with(LogConfig {
            min_cleanable_dirty_ratio: 1.0,
            max_compaction_lag_ms: 1000,
            ..compact_config()
        });
        append(&mut log, "a", Some("1"), 10);
        append(&mut log, "a", Some("2"), 10);
        append(&mut log, "b", Some("1"), 10);
        commit_all(&mut log);
        assert_eq!(log.clean(1010), None, "a ratio of 1.0 is not above 1.0");
        let stats = log
            .clean(1011)
            .expect("the first dirty batch is 1001 ms old");
        assert_eq!(stats.records_removed, 1);
    }

    #[test]
    fn delete_only_topics_are_never_log_with() {
        let mut log = log_with(LogConfig {
            segment_bytes: 70,
            ..LogConfig::default()
        });
        for value in ["1", "2", "3"] {
            append(&mut log, "a", Some(value), 0);
        }
        commit_all(&mut log);
        assert_eq!(log.clean(0), None);
        assert_eq!(offsets_of(&log), [0, 1, 2]);
    }

    #[test]
    fn compact_delete_compacts_and_expires() {
        let mut log = log_with(LogConfig {
            cleanup_policy: CleanupPolicy::CompactDelete,
            retention_ms: 1000,
            ..compact_config()
        });
        append(&mut log, "a", Some("1"), 0);
        append(&mut log, "a", Some("2"), 0);
        append(&mut log, "b", Some("1"), 5000);
        append(&mut log, "c", Some("1"), 5000);
        commit_all(&mut log);
        let keyless = log.append_as_leader(
            vec![SimpleRecord::new(5000, None, Some("x"))],
            0,
            ProducerInfo::NONE,
            5000,
        );
        assert!(keyless.is_err(), "compact,delete still requires keys");
        assert_eq!(log.clean(5000).map(|s| s.records_removed), Some(1));
        assert_eq!(offsets_of(&log), [1, 2, 3]);
        assert_eq!(
            log.delete_old_segments(5000),
            2,
            "the emptied segment and a@1 expire"
        );
        assert_eq!(log.log_start_offset(), 2);
        assert_eq!(offsets_of(&log), [2, 3]);
    }

    #[test]
    fn cleaning_merges_small_segments() {
        let mut log = log_with(LogConfig {
            segment_bytes: 140,
            ..compact_config()
        });
        for value in ["1", "2", "3", "4", "5"] {
            append(&mut log, "a", Some(value), 0);
        }
        append(&mut log, "b", Some("1"), 0);
        commit_all(&mut log);
        assert_eq!(bases(&log), [0, 2, 4]);
        log.clean(0).expect("dirty");
        assert_eq!(bases(&log), [0, 2, 4], "segments were full before cleaning");
        assert_eq!(offsets_of(&log), [3, 4, 5]);
        append(&mut log, "b", Some("2"), 0);
        append(&mut log, "b", Some("3"), 0);
        commit_all(&mut log);
        log.clean(0).expect("dirty");
        assert_eq!(
            offsets_of(&log),
            [4, 5, 6, 7],
            "a@3 goes; b@6 and b@7 are active"
        );
        assert_eq!(
            bases(&log),
            [0, 4, 6],
            "0 (0 bytes) and 2 (70 bytes) merged into 0"
        );
    }

    #[test]
    fn the_last_batch_of_a_producer_is_kept_empty() {
        let mut log = log_with(compact_config());
        let producer = ProducerInfo {
            producer_id: 7,
            producer_epoch: 0,
            base_sequence: 0,
        };
        let record = |value| vec![SimpleRecord::new(0, Some("a"), Some(value))];
        log.append_as_leader(record("1"), 0, producer, 0)
            .expect("append");
        log.append_as_leader(record("2"), 0, ProducerInfo::NONE, 0)
            .expect("append");
        append(&mut log, "z", Some("1"), 0);
        commit_all(&mut log);
        let producers_before = log.producer_state().clone();
        let stats = log.clean(0).expect("dirty");
        assert_eq!((stats.records_removed, stats.batches_removed), (1, 0));
        assert_eq!(
            log.producer_state(),
            &producers_before,
            "compaction leaves the producer state alone"
        );
        let kept = log.batches().find(|b| b.producer_id == 7).expect("kept");
        assert!(kept.records.is_empty());
        assert_eq!((kept.base_offset, kept.last_offset), (0, 0));
        assert_eq!(offsets_of(&log), [1, 2]);
    }
}
