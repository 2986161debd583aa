//! Retention: deleting old segments by time, by size and by log start offset, and the
//! `DeleteRecords` API that moves the log start offset by hand.
//!
//! Models `UnifiedLog.deleteOldSegments` and its three rules
//! (`deleteRetentionMsBreachedSegments`, `deleteRetentionSizeBreachedSegments`,
//! `deleteLogStartOffsetBreachedSegments`), plus `maybeIncrementLogStartOffset` as used by
//! `DeleteRecords`. Retention removes only a prefix of whole segments, never anything at or
//! above the high watermark, which is why a consumer can never lose an uncommitted record to
//! it — and why the active segment outlives `retention.ms` until something newer is rolled.

use super::record::NO_TIMESTAMP;
use super::segment::LogSegment;
use super::unified_log::{LogError, UnifiedLog};

/// Kafka's `DeleteRecordsRequest.HIGH_WATERMARK`: "delete everything below the HW".
pub const DELETE_RECORDS_HIGH_WATERMARK: i64 = -1;

impl UnifiedLog {
    /// Retention (run every `log.retention.check.interval.ms` by the broker): deletes a
    /// prefix of whole segments whose upper bound is <= HW, by `retention.ms`, then
    /// `retention.bytes`, then log start offset (Kafka's order). Time and size apply only when
    /// `cleanup.policy` contains delete; the log-start-offset rule always applies (Kafka's
    /// rule: segments wholly below the log start offset are garbage under any policy).
    /// Returns the number of segments deleted.
    pub fn delete_old_segments(&mut self, now_ms: i64) -> usize {
        let mut deleted = 0;
        if self.config.cleanup_policy.deletes() {
            deleted += self.delete_retention_ms_breached_segments(now_ms);
            deleted += self.delete_retention_size_breached_segments(now_ms);
        }
        deleted + self.delete_log_start_offset_breached_segments(now_ms)
    }

    /// `DeleteRecords`: moves the log start offset up to `offset` (never past HW; -1 means
    /// HW) and deletes the segments that are now wholly below it. Returns the new log start
    /// offset (the partition's "low watermark").
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, LogError> {
        let target = if offset == DELETE_RECORDS_HIGH_WATERMARK {
            self.high_watermark
        } else {
            offset
        };
        if target < 0 || target > self.high_watermark {
            return Err(LogError::OffsetOutOfRange {
                requested: offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset,
            });
        }
        self.maybe_increment_log_start_offset(target);
        // The start-offset rule never deletes the last segment, so no roll (and no clock)
        // is needed here.
        self.delete_log_start_offset_breached_segments(NO_TIMESTAMP);
        Ok(self.log_start_offset)
    }

    fn delete_retention_ms_breached_segments(&mut self, now_ms: i64) -> usize {
        let retention_ms = self.config.retention_ms;
        if retention_ms < 0 {
            return 0;
        }
        self.delete_old_segments_where(now_ms, |segment, _| {
            now_ms.saturating_sub(segment.largest_timestamp_ms()) > retention_ms
        })
    }

    /// The "excess" rule: with `excess = size - retention.bytes`, delete the oldest segment
    /// while `excess - segment.size >= 0`, charging each deleted segment to the excess.
    fn delete_retention_size_breached_segments(&mut self, now_ms: i64) -> usize {
        let retention_bytes = self.config.retention_bytes;
        let size = i128::from(self.size_bytes());
        if retention_bytes < 0 || size < i128::from(retention_bytes) {
            return 0;
        }
        let mut excess = size - i128::from(retention_bytes);
        self.delete_old_segments_where(now_ms, |segment, _| {
            let segment_size = i128::from(segment.size_bytes());
            if excess - segment_size >= 0 {
                excess -= segment_size;
                true
            } else {
                false
            }
        })
    }

    fn delete_log_start_offset_breached_segments(&mut self, now_ms: i64) -> usize {
        let log_start_offset = self.log_start_offset;
        self.delete_old_segments_where(now_ms, |_, next| {
            next.is_some_and(|n| n.base_offset() <= log_start_offset)
        })
    }

    /// Kafka's `deleteOldSegments(predicate)`: delete the longest prefix of segments that
    /// lie wholly below HW and satisfy `predicate`; roll first if that is every segment, so
    /// that the log keeps an active segment at LEO.
    fn delete_old_segments_where(
        &mut self,
        now_ms: i64,
        predicate: impl FnMut(&LogSegment, Option<&LogSegment>) -> bool,
    ) -> usize {
        let count = self.deletable_segments(predicate);
        if count == 0 {
            return 0;
        }
        if count == self.segments.len() {
            self.roll(self.log_end_offset, now_ms);
        }
        // Since KIP-360 (KAFKA-7190) Kafka keeps a producer's state after retention deletes
        // its batches; the producer state records what the deleted batches said.
        self.producer_state.on_segments_deleted(
            self.segments[..count]
                .iter()
                .flat_map(|s| s.batches().iter().map(|b| &**b)),
        );
        self.segments.drain(..count);
        let first_base_offset = self.segments[0].base_offset();
        self.maybe_increment_log_start_offset(first_base_offset);
        self.check_invariants();
        count
    }

    /// Kafka's `LocalLog.deletableSegments`.
    fn deletable_segments(
        &self,
        mut predicate: impl FnMut(&LogSegment, Option<&LogSegment>) -> bool,
    ) -> usize {
        let mut count = 0;
        for (index, segment) in self.segments.iter().enumerate() {
            let next = self.segments.get(index + 1);
            let upper_bound_offset = next.map_or(self.log_end_offset, LogSegment::base_offset);
            // HW first: Kafka evaluates the predicate (which may spend the size budget) only
            // for segments that are fully committed.
            let deletable = self.high_watermark >= upper_bound_offset && predicate(segment, next);
            // Deleting an empty active segment would only roll an identical one.
            let last_and_empty = next.is_none() && segment.is_empty();
            if !deletable || last_and_empty {
                break;
            }
            count += 1;
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::config::{CleanupPolicy, LogConfig};
    use crate::log::testing::{append, commit_all, keyed, log_with, offsets_of, produce};
    use crate::log::unified_log::ProducerInfo;

    /// One 100-byte batch per segment: 61 + 7 + key "k" + 31-byte value.
    fn hundred_byte_segments(config: LogConfig, timestamps: &[i64]) -> UnifiedLog {
        let mut log = log_with(LogConfig {
            segment_bytes: 100,
            ..config
        });
        let value = "v".repeat(31);
        for &ts in timestamps {
            append(&mut log, "k", Some(&value), ts);
        }
        assert!(log.segments().iter().all(|s| s.size_bytes() == 100));
        log
    }

    fn bases(log: &UnifiedLog) -> Vec<i64> {
        log.segments().iter().map(|s| s.base_offset()).collect()
    }

    #[test]
    fn retention_ms_deletes_segments_whose_newest_record_expired() {
        let config = LogConfig {
            retention_ms: 1000,
            ..LogConfig::default()
        };
        let mut log = hundred_byte_segments(config, &[100, 150, 900, 1500]);
        commit_all(&mut log);
        assert_eq!(
            log.delete_old_segments(1200),
            2,
            "100 and 150 are > 1000 ms old"
        );
        assert_eq!(bases(&log), [2, 3]);
        assert_eq!(log.log_start_offset(), 2);
        assert_eq!(offsets_of(&log), [2, 3]);
        assert_eq!(
            log.delete_old_segments(1900),
            0,
            "900 is exactly 1000 ms old"
        );
        assert_eq!(log.delete_old_segments(1901), 1);
        assert_eq!(bases(&log), [3]);
        assert_eq!(log.log_start_offset(), 3);
    }

    #[test]
    fn retention_bytes_deletes_only_the_excess() {
        let config = LogConfig {
            retention_bytes: 250,
            ..LogConfig::default()
        };
        let mut log = hundred_byte_segments(config, &[0, 0, 0, 0, 0]);
        commit_all(&mut log);
        assert_eq!(log.size_bytes(), 500);
        assert_eq!(
            log.delete_old_segments(0),
            2,
            "excess 250 covers two 100-byte segments"
        );
        assert_eq!(bases(&log), [2, 3, 4]);
        assert_eq!(
            log.size_bytes(),
            300,
            "still above 250: a third would overshoot"
        );
        assert_eq!(log.log_start_offset(), 2);
        assert_eq!(log.delete_old_segments(0), 0);
    }

    #[test]
    fn retention_bytes_may_shrink_the_log_to_exactly_the_limit() {
        let config = LogConfig {
            retention_bytes: 300,
            ..LogConfig::default()
        };
        let mut log = hundred_byte_segments(config, &[0, 0, 0, 0, 0]);
        commit_all(&mut log);
        assert_eq!(
            log.delete_old_segments(0),
            2,
            "excess 200 - 100 - 100 = 0 is allowed"
        );
        assert_eq!(log.size_bytes(), 300);
    }

    #[test]
    fn retention_never_deletes_past_the_high_watermark() {
        let config = LogConfig {
            retention_ms: 10,
            ..LogConfig::default()
        };
        let mut log = hundred_byte_segments(config, &[0, 0, 0, 0]);
        log.update_high_watermark(2);
        assert_eq!(log.delete_old_segments(1000), 2, "only [0, 2) is committed");
        assert_eq!(bases(&log), [2, 3]);
        assert_eq!(log.log_start_offset(), 2);
        log.update_high_watermark(3);
        assert_eq!(log.delete_old_segments(1000), 1);
        assert_eq!(
            bases(&log),
            [3],
            "the active segment's records are not committed yet"
        );
    }

    #[test]
    fn when_everything_expires_an_empty_segment_is_rolled_first() {
        let config = LogConfig {
            retention_ms: 10,
            ..LogConfig::default()
        };
        let mut log = hundred_byte_segments(config, &[0, 0, 0]);
        commit_all(&mut log);
        assert_eq!(log.delete_old_segments(1000), 3);
        assert_eq!(bases(&log), [3], "a fresh active segment at LEO");
        assert_eq!(log.segments()[0].size_bytes(), 0);
        assert_eq!(log.segments()[0].created_ms(), 1000);
        assert_eq!(log.log_start_offset(), 3);
        assert_eq!(log.log_end_offset(), 3, "offsets are never reused");
        assert_eq!(log.records().count(), 0);
        assert_eq!(
            log.delete_old_segments(5000),
            0,
            "the empty active segment stays"
        );
        assert_eq!(append(&mut log, "k", Some("v"), 5000).first_offset, 3);
    }

    #[test]
    fn compact_only_topics_ignore_time_and_size_retention() {
        let config = LogConfig {
            retention_ms: 10,
            retention_bytes: 0,
            cleanup_policy: CleanupPolicy::Compact,
            ..LogConfig::default()
        };
        let mut log = hundred_byte_segments(config, &[0, 0, 0]);
        commit_all(&mut log);
        assert_eq!(log.delete_old_segments(1000), 0);
        assert_eq!(bases(&log), [0, 1, 2]);
    }

    #[test]
    fn compact_delete_topics_apply_retention() {
        let config = LogConfig {
            retention_ms: 10,
            cleanup_policy: CleanupPolicy::CompactDelete,
            ..LogConfig::default()
        };
        let mut log = hundred_byte_segments(config, &[0, 0, 500]);
        commit_all(&mut log);
        assert_eq!(log.delete_old_segments(100), 2);
        assert_eq!(bases(&log), [2]);
    }

    #[test]
    fn delete_records_moves_log_start_and_drops_segments_below_it() {
        let mut log = hundred_byte_segments(LogConfig::default(), &[0, 0, 0, 0]);
        log.update_high_watermark(3);
        assert_eq!(log.delete_records_before(2), Ok(2));
        assert_eq!(log.log_start_offset(), 2);
        assert_eq!(bases(&log), [2, 3], "segments 0 and 1 are wholly below 2");
        assert_eq!(
            log.recovery_point(),
            2,
            "the recovery point follows the start"
        );
        assert_eq!(log.delete_records_before(1), Ok(2), "never moves back");
        let past_hw = log.delete_records_before(4);
        assert!(matches!(
            past_hw,
            Err(LogError::OffsetOutOfRange { requested: 4, .. })
        ));
        assert_eq!(
            log.delete_records_before(DELETE_RECORDS_HIGH_WATERMARK),
            Ok(3)
        );
        assert!(
            log.read(2, 4, u64::MAX).is_err(),
            "below the log start offset"
        );
    }

    #[test]
    fn delete_records_mid_segment_hides_records_but_keeps_the_segment() {
        let mut log = log_with(LogConfig::default());
        for key in ["a", "b", "c"] {
            append(&mut log, key, Some("v"), 0);
        }
        commit_all(&mut log);
        assert_eq!(log.delete_records_before(2), Ok(2));
        assert_eq!(bases(&log), [0], "one segment: nothing wholly below 2");
        assert_eq!(offsets_of(&log), [2]);
        assert!(log.record_at(1).is_none());
        assert_eq!(log.delete_old_segments(0), 0);
    }

    fn epochs_of(log: &UnifiedLog) -> Vec<(i32, i64)> {
        log.leader_epoch_cache()
            .entries()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect()
    }

    #[test]
    fn a_rising_log_start_offset_trims_the_leader_epoch_cache() {
        let mut log = log_with(LogConfig {
            segment_bytes: 100,
            retention_ms: 1000,
            ..LogConfig::default()
        });
        let value = "v".repeat(31);
        for (epoch, ts) in [(0, 0), (1, 0), (1, 0), (2, 5000), (3, 5000)] {
            let records = vec![keyed(ts, "k", Some(&value))];
            let appended = log.append_as_leader(records, epoch, ProducerInfo::NONE, ts);
            assert!(appended.is_ok(), "{appended:?}");
        }
        commit_all(&mut log);
        assert_eq!(epochs_of(&log), [(0, 0), (1, 1), (2, 3), (3, 4)]);
        assert_eq!(log.delete_records_before(2), Ok(2));
        assert_eq!(
            epochs_of(&log),
            [(1, 2), (2, 3), (3, 4)],
            "epoch 1 now starts at 2"
        );
        assert_eq!(
            log.delete_old_segments(5000),
            1,
            "only offset 2 has expired"
        );
        assert_eq!(log.log_start_offset(), 3);
        assert_eq!(epochs_of(&log), [(2, 3), (3, 4)]);
    }

    #[test]
    fn retention_keeps_the_entries_of_producers_it_deleted() {
        let mut log = log_with(LogConfig {
            segment_bytes: 70, // one single-record batch per segment
            ..LogConfig::default()
        });
        for seq in 0..2 {
            assert!(produce(&mut log, 1, 0, seq, 1).is_ok());
        }
        for key in ["a", "b", "c"] {
            append(&mut log, key, Some("v"), 0);
        }
        commit_all(&mut log);
        assert_eq!(log.delete_records_before(3), Ok(3));
        assert_eq!(bases(&log), [3, 4], "producer 1's segments are gone");
        let before = log.producer_state().clone();
        assert_eq!(log.delete_old_segments(0), 0);
        assert_eq!(log.producer_state(), &before);
        // Kafka keeps the state through its snapshots: a retry is still a duplicate, and a
        // truncation (which reloads the state from the log) does not forget it either.
        log.truncate_to(4);
        let retry = produce(&mut log, 1, 0, 1, 1).expect("duplicate");
        assert_eq!((retry.first_offset, retry.duplicate), (1, true));
        let next = produce(&mut log, 1, 0, 2, 1).expect("next in sequence");
        assert_eq!((next.first_offset, next.duplicate), (4, false));
    }
}
