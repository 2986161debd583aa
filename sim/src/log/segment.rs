//! One segment of a partition log: a run of batches that is rolled, retained and cleaned as
//! a unit.
//!
//! Models Kafka's `LogSegment` (`org.apache.kafka.storage.internals.log.LogSegment`). Kafka
//! keeps a segment as a `.log` file plus offset and time indexes; here a segment is just its
//! batches and the numbers retention and rolling look at: base offset, size, largest
//! timestamp and creation time. Segments are why retention is coarse: whole segments go, and
//! the active (last) segment only goes once something newer has been rolled.

use super::config::LogConfig;
use super::record::{NO_TIMESTAMP, RecordBatch};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A segment named by its base offset. Only the log's last segment (the active one) takes
/// appends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogSegment {
    base_offset: i64,
    size_bytes: u64,
    /// Largest record timestamp seen, or `NO_TIMESTAMP` when the segment has none.
    max_timestamp_ms: i64,
    created_ms: i64,
    /// Shared, not owned: a batch never changes once written (truncation and cleaning replace
    /// it), so a clone of the log — a lab snapshot — shares its batches instead of copying
    /// every record.
    batches: Vec<Arc<RecordBatch>>,
}

impl LogSegment {
    /// An empty segment whose first offset will be `base_offset`.
    pub fn new(base_offset: i64, created_ms: i64) -> Self {
        Self {
            base_offset,
            size_bytes: 0,
            max_timestamp_ms: NO_TIMESTAMP,
            created_ms,
            batches: Vec::new(),
        }
    }

    /// A segment written by the cleaner. `fallback_max_timestamp_ms` is what the segments it
    /// replaces had, kept when cleaning left the segment empty (Kafka carries over their
    /// last-modified time the same way).
    pub(super) fn cleaned(
        base_offset: i64,
        created_ms: i64,
        batches: Vec<RecordBatch>,
        fallback_max_timestamp_ms: i64,
    ) -> Self {
        let mut segment = Self::new(base_offset, created_ms);
        for batch in batches {
            segment.append(batch);
        }
        if segment.batches.is_empty() {
            segment.max_timestamp_ms = fallback_max_timestamp_ms;
        }
        segment
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// Kafka's `LogSegment.largestTimestamp`: the newest record timestamp, or, for a segment
    /// without one, the time the segment was created.
    // Simplification: Kafka falls back to the file's last-modified time; creation time is the
    // closest thing a segment without files has.
    pub fn largest_timestamp_ms(&self) -> i64 {
        if self.max_timestamp_ms >= 0 {
            self.max_timestamp_ms
        } else {
            self.created_ms
        }
    }

    pub fn created_ms(&self) -> i64 {
        self.created_ms
    }

    pub fn batches(&self) -> &[Arc<RecordBatch>] {
        &self.batches
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Offset after the last batch, if the segment holds any.
    pub fn next_offset(&self) -> Option<i64> {
        self.batches.last().map(|b| b.next_offset())
    }

    /// Kafka's `rollingBasedTimestamp`: the max timestamp of the first batch, which
    /// `segment.ms` is measured from.
    pub fn first_batch_timestamp_ms(&self) -> Option<i64> {
        self.batches.first().map(|b| b.max_timestamp_ms)
    }

    /// Kafka's `LogSegment.shouldRoll`: must an append of `messages_size` bytes whose newest
    /// record is `max_timestamp_in_messages_ms` go to a new segment?
    pub fn should_roll(
        &self,
        config: &LogConfig,
        messages_size: u64,
        max_timestamp_in_messages_ms: i64,
        now_ms: i64,
    ) -> bool {
        // An empty segment takes any append, even one larger than segment.bytes: rolling
        // would only produce another empty segment.
        if self.is_empty() {
            return false;
        }
        let too_big = self.size_bytes.saturating_add(messages_size) > config.segment_bytes;
        let waited_ms = self.time_waited_for_roll_ms(max_timestamp_in_messages_ms, now_ms);
        // Simplification: segment.jitter.ms (default 0) and full indexes are not modelled.
        too_big || waited_ms > config.segment_ms
    }

    /// Kafka measures segment age in record time (incoming timestamp minus the first batch's),
    /// so leader and followers roll alike; wall time only when records carry no timestamp.
    fn time_waited_for_roll_ms(&self, message_timestamp_ms: i64, now_ms: i64) -> i64 {
        match self.first_batch_timestamp_ms() {
            Some(first) if first >= 0 => message_timestamp_ms.saturating_sub(first),
            _ => now_ms.saturating_sub(self.created_ms),
        }
    }

    pub(super) fn append(&mut self, batch: RecordBatch) {
        debug_assert!(
            batch.base_offset >= self.base_offset,
            "batch {} below segment base {}",
            batch.base_offset,
            self.base_offset
        );
        debug_assert!(
            self.next_offset()
                .is_none_or(|next| batch.base_offset >= next),
            "batches must be appended in offset order"
        );
        self.size_bytes += batch.size_bytes();
        self.max_timestamp_ms = self.max_timestamp_ms.max(batch.max_timestamp_ms);
        self.batches.push(Arc::new(batch));
    }

    /// Drops every record at or above `offset`. Returns the number of records removed.
    // Simplification: Kafka truncates at batch granularity (the batch containing `offset`
    // goes entirely). Truncation points are batch boundaries in practice; keeping the records
    // below `offset` makes "LEO == offset" hold even when a caller picks a mid-batch offset.
    pub(super) fn truncate_to(&mut self, offset: i64) -> u64 {
        let keep = self.batches.partition_point(|b| b.last_offset < offset);
        let tail = self.batches.split_off(keep);
        let mut removed: u64 = 0;
        for batch in tail {
            removed += batch.records.iter().filter(|r| r.offset >= offset).count() as u64;
            // Only the first batch of the tail can straddle `offset`.
            if batch.base_offset < offset {
                let mut batch = Arc::unwrap_or_clone(batch);
                batch.records.retain(|r| r.offset < offset);
                batch.last_offset = offset - 1;
                batch.max_timestamp_ms = batch.compute_max_timestamp_ms();
                self.batches.push(Arc::new(batch));
            }
        }
        self.recompute_totals();
        removed
    }

    fn recompute_totals(&mut self) {
        self.size_bytes = self.batches.iter().map(|b| b.size_bytes()).sum();
        self.max_timestamp_ms = self
            .batches
            .iter()
            .map(|b| b.max_timestamp_ms)
            .max()
            .unwrap_or(NO_TIMESTAMP);
    }

    /// Takes the batches out, for the cleaner to rewrite.
    pub(super) fn into_batches(self) -> Vec<RecordBatch> {
        self.batches.into_iter().map(Arc::unwrap_or_clone).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::record::SimpleRecord;

    fn batch(base: i64, values: &[&str], ts: i64) -> RecordBatch {
        let records: Vec<_> = values
            .iter()
            .zip(base..)
            .map(|(v, offset)| SimpleRecord::new(ts, Some("k"), Some(v)).at_offset(offset))
            .collect();
        RecordBatch {
            base_offset: base,
            last_offset: base + values.len() as i64 - 1,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            is_transactional: false,
            is_control: false,
            max_timestamp_ms: ts,
            delete_horizon_ms: None,
            records,
        }
    }

    #[test]
    fn append_tracks_size_and_largest_timestamp() {
        let mut segment = LogSegment::new(0, 7);
        assert_eq!(segment.largest_timestamp_ms(), 7, "empty: creation time");
        segment.append(batch(0, &["a", "b"], 100));
        segment.append(batch(2, &["c"], 50));
        assert_eq!(segment.size_bytes(), (61 + 9 + 9) + (61 + 9));
        assert_eq!(segment.largest_timestamp_ms(), 100);
        assert_eq!(segment.next_offset(), Some(3));
        assert_eq!(segment.first_batch_timestamp_ms(), Some(100));
    }

    #[test]
    fn should_roll_on_size_only_when_not_empty() {
        let config = LogConfig {
            segment_bytes: 100,
            ..LogConfig::default()
        };
        let mut segment = LogSegment::new(0, 0);
        assert!(
            !segment.should_roll(&config, 500, 0, 0),
            "empty takes oversize"
        );
        segment.append(batch(0, &["a"], 0));
        assert!(
            !segment.should_roll(&config, 30, 0, 0),
            "70 + 30 fits in 100"
        );
        assert!(
            segment.should_roll(&config, 31, 0, 0),
            "70 + 31 exceeds 100"
        );
    }

    #[test]
    fn should_roll_on_age_of_first_batch() {
        let config = LogConfig {
            segment_ms: 1000,
            ..LogConfig::default()
        };
        let mut segment = LogSegment::new(0, 0);
        segment.append(batch(0, &["a"], 5000));
        assert!(
            !segment.should_roll(&config, 1, 6000, 0),
            "exactly segment.ms"
        );
        assert!(segment.should_roll(&config, 1, 6001, 0));
    }

    #[test]
    fn truncate_to_keeps_records_below_offset() {
        let mut segment = LogSegment::new(0, 0);
        segment.append(batch(0, &["a", "b", "c"], 10));
        segment.append(batch(3, &["d"], 20));
        assert_eq!(segment.truncate_to(2), 2, "c and d are gone");
        assert_eq!(segment.next_offset(), Some(2));
        assert_eq!(segment.batches().len(), 1);
        assert_eq!(segment.size_bytes(), 61 + 9 + 9);
        assert_eq!(segment.largest_timestamp_ms(), 10);
    }
}
