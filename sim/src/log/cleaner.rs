//! The record-level work of log compaction: which records survive a cleaning pass, and how
//! the surviving batches are rewritten into (possibly merged) segments.
//!
//! Models Kafka's `Cleaner` (the worker inside `kafka.log.LogCleaner`): `buildOffsetMap`
//! (here [`OffsetMap`], Kafka's `SkimpyOffsetMap`), `groupSegmentsBySize`, `cleanSegments`,
//! `shouldRetainRecord`, and the batch rules of `MemoryRecords.filterTo` (KIP-534 delete
//! horizons, last offsets preserved, empty batches of producers kept). Choosing *whether*
//! and *what range* to clean is `LogCleanerManager`'s job, in `cleaner_manager.rs`.

use super::record::{NO_TIMESTAMP, Record, RecordBatch};
use super::segment::LogSegment;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What one cleaning pass did (Kafka's `CleanerStats`, in the units a learner looks for).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanerStats {
    /// Start of the dirty range this pass compacted.
    pub first_dirty_offset: i64,
    /// End of the dirty range (exclusive): the new cleaner checkpoint.
    pub end_offset: i64,
    /// Segments rewritten (everything below `end_offset`).
    pub segments_read: usize,
    /// Segments after rewriting; fewer when small segments were merged.
    pub segments_written: usize,
    pub records_read: u64,
    /// Every record removed, tombstones and keyless records included.
    pub records_removed: u64,
    /// Removed tombstones: superseded ones and those past their delete horizon.
    pub tombstones_removed: u64,
    /// Removed keyless records (Kafka's `invalidMessagesRead`): possible only if the topic
    /// became compacted after they were written.
    pub keyless_removed: u64,
    /// Batches that ended up empty and were dropped.
    pub batches_removed: u64,
    /// Batches that this pass stamped with a delete horizon (KIP-534).
    pub delete_horizons_set: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
}

/// Key -> offset of its latest record in the dirty range.
// Simplification: Kafka's SkimpyOffsetMap stores key hashes in a fixed buffer
// (log.cleaner.dedupe.buffer.size) and may stop early when it fills; ours holds exact keys
// and always covers the whole dirty range.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OffsetMap {
    latest_by_key: BTreeMap<Arc<str>, i64>,
    /// Last offset of the last batch seen, or -1: records after it are outside the map.
    latest_offset: i64,
}

impl OffsetMap {
    /// Kafka's `buildOffsetMap` over the keyed, non-control records in `[start, end)`.
    pub fn build(segments: &[LogSegment], start_offset: i64, end_offset: i64) -> Self {
        let mut map = Self {
            latest_by_key: BTreeMap::new(),
            latest_offset: -1,
        };
        for batch in segments.iter().flat_map(|s| s.batches().iter()) {
            if batch.last_offset < start_offset || batch.base_offset >= end_offset {
                continue;
            }
            if !batch.is_control {
                for record in &batch.records {
                    if let Some(key) = &record.key {
                        map.latest_by_key.insert(Arc::clone(key), record.offset);
                    }
                }
            }
            map.latest_offset = map.latest_offset.max(batch.last_offset);
        }
        map
    }

    /// Latest offset of `key` in the dirty range; -1 (keep everything) if it is not there.
    pub fn get(&self, key: &str) -> i64 {
        self.latest_by_key.get(key).copied().unwrap_or(-1)
    }

    pub fn latest_offset(&self) -> i64 {
        self.latest_offset
    }

    pub fn len(&self) -> usize {
        self.latest_by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.latest_by_key.is_empty()
    }
}

/// Kafka's `groupSegmentsBySize`: consecutive segments whose sizes before cleaning add up to
/// at most `max_size` (segment.bytes) are rewritten into one. Returns the group lengths.
// Simplification: Kafka also caps a group by index sizes (segment.index.bytes) and by an
// offset span of Int.MaxValue; neither limit is reached at simulator scale.
pub fn group_segments_by_size(segments: &[LogSegment], max_size: u64) -> Vec<usize> {
    let mut groups = Vec::new();
    let mut start = 0;
    while let Some(first) = segments.get(start) {
        let mut size = first.size_bytes();
        let mut len = 1;
        while let Some(next) = segments.get(start + len) {
            if size + next.size_bytes() > max_size {
                break;
            }
            size += next.size_bytes();
            len += 1;
        }
        groups.push(len);
        start += len;
    }
    groups
}

/// Producer id -> base offset of that producer's last batch in the log.
pub fn last_batch_of_each_producer<'a>(
    batches: impl Iterator<Item = &'a RecordBatch>,
) -> BTreeMap<i64, i64> {
    let mut last = BTreeMap::new();
    for batch in batches.filter(|b| b.has_producer_id()) {
        last.insert(batch.producer_id, batch.base_offset);
    }
    last
}

/// One cleaning pass's record filter and segment writer.
#[derive(Debug)]
pub struct Cleaner<'a> {
    map: &'a OffsetMap,
    now_ms: i64,
    delete_retention_ms: i64,
    last_batch_of_producer: BTreeMap<i64, i64>,
    pub stats: CleanerStats,
}

impl<'a> Cleaner<'a> {
    pub fn new(
        map: &'a OffsetMap,
        now_ms: i64,
        delete_retention_ms: i64,
        last_batch_of_producer: BTreeMap<i64, i64>,
    ) -> Self {
        Self {
            map,
            now_ms,
            delete_retention_ms,
            last_batch_of_producer,
            stats: CleanerStats::default(),
        }
    }

    /// Kafka's `cleanSegments`: rewrites a group of segments into one, named by the first
    /// segment's base offset. `None` for an empty group.
    pub fn clean_segments(&mut self, group: Vec<LogSegment>) -> Option<LogSegment> {
        let first = group.first()?;
        let base_offset = first.base_offset();
        let created_ms = first.created_ms();
        let fallback_max_timestamp_ms = group
            .iter()
            .map(LogSegment::largest_timestamp_ms)
            .max()
            .unwrap_or(NO_TIMESTAMP);
        self.stats.segments_read += group.len();
        self.stats.bytes_read += group.iter().map(LogSegment::size_bytes).sum::<u64>();
        let mut kept = Vec::new();
        for segment in group {
            kept.extend(
                segment
                    .into_batches()
                    .into_iter()
                    .filter_map(|b| self.clean_batch(b)),
            );
        }
        let cleaned = LogSegment::cleaned(base_offset, created_ms, kept, fallback_max_timestamp_ms);
        self.stats.segments_written += 1;
        self.stats.bytes_written += cleaned.size_bytes();
        Some(cleaned)
    }

    /// `MemoryRecords.filterTo` for one batch: drop the records the map supersedes, keep the
    /// batch's offsets, stamp a delete horizon on the first pass that keeps a tombstone.
    fn clean_batch(&mut self, mut batch: RecordBatch) -> Option<RecordBatch> {
        self.stats.records_read += batch.records.len() as u64;
        if batch.is_control {
            // Simplification: transaction markers are always kept; transactions (and the
            // marker horizon) belong to the transaction model.
            return Some(batch);
        }
        let records = std::mem::take(&mut batch.records);
        let read = records.len();
        for record in records {
            if self.should_retain_record(&batch, &record) {
                batch.records.push(record);
            } else {
                self.count_removed(&record);
            }
        }
        if batch.records.is_empty() && !self.is_last_batch_of_producer(&batch) {
            self.stats.batches_removed += 1;
            return None;
        }
        if batch.records.len() < read && !batch.records.is_empty() {
            // A rewritten batch's max timestamp covers what it still holds; an empty kept
            // batch keeps its header's (Kafka's writeEmptyHeader does the same).
            batch.max_timestamp_ms = batch.compute_max_timestamp_ms();
        }
        if batch.delete_horizon_ms.is_none() && batch.records.iter().any(Record::is_tombstone) {
            batch.delete_horizon_ms = Some(self.now_ms.saturating_add(self.delete_retention_ms));
            self.stats.delete_horizons_set += 1;
        }
        Some(batch)
    }

    /// Kafka's `Cleaner.shouldRetainRecord`.
    fn should_retain_record(&self, batch: &RecordBatch, record: &Record) -> bool {
        if record.offset > self.map.latest_offset() {
            return true;
        }
        let Some(key) = &record.key else {
            return false;
        };
        let is_latest_for_key = record.offset >= self.map.get(key);
        // KIP-534: a tombstone survives until the pass after its batch's horizon.
        let retain_deletes = batch.delete_horizon_ms.is_none_or(|h| self.now_ms < h);
        is_latest_for_key && (record.value.is_some() || retain_deletes)
    }

    /// Kafka keeps the last batch of each active producer, even emptied, so that the
    /// producer's epoch and last sequence survive cleaning and its next append is in order.
    // Simplification: every producer id found in the log counts as active (no
    // producer.id.expiration.ms).
    fn is_last_batch_of_producer(&self, batch: &RecordBatch) -> bool {
        batch.has_producer_id()
            && self.last_batch_of_producer.get(&batch.producer_id) == Some(&batch.base_offset)
    }

    fn count_removed(&mut self, record: &Record) {
        self.stats.records_removed += 1;
        if record.key.is_none() {
            self.stats.keyless_removed += 1;
        }
        if record.is_tombstone() {
            self.stats.tombstones_removed += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::record::SimpleRecord;

    fn batch(base: i64, entries: &[(Option<&str>, Option<&str>)]) -> RecordBatch {
        let records: Vec<Record> = entries
            .iter()
            .zip(base..)
            .map(|((k, v), offset)| SimpleRecord::new(offset, *k, *v).at_offset(offset))
            .collect();
        let mut batch = RecordBatch {
            base_offset: base,
            last_offset: base + entries.len() as i64 - 1,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            is_transactional: false,
            is_control: false,
            max_timestamp_ms: 0,
            delete_horizon_ms: None,
            records,
        };
        batch.max_timestamp_ms = batch.compute_max_timestamp_ms();
        batch
    }

    fn segment(base: i64, batches: Vec<RecordBatch>) -> LogSegment {
        LogSegment::cleaned(base, 0, batches, NO_TIMESTAMP)
    }

    #[test]
    fn offset_map_holds_the_latest_offset_per_key_in_range() {
        let segments = [
            segment(
                0,
                vec![batch(0, &[(Some("a"), Some("1")), (Some("b"), Some("1"))])],
            ),
            segment(
                2,
                vec![batch(2, &[(Some("a"), Some("2")), (None, Some("x"))])],
            ),
            segment(4, vec![batch(4, &[(Some("a"), Some("3"))])]),
        ];
        let map = OffsetMap::build(&segments, 2, 4);
        assert_eq!(map.get("a"), 2, "offset 4 is outside [2, 4)");
        assert_eq!(map.get("b"), -1, "offset 1 is below the dirty range");
        assert_eq!(map.latest_offset(), 3);
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn a_partly_superseded_batch_keeps_its_offsets_and_last_offset() {
        let segments = [segment(
            0,
            vec![batch(
                0,
                &[
                    (Some("a"), Some("1")),
                    (Some("b"), Some("1")),
                    (Some("a"), Some("2")),
                ],
            )],
        )];
        let map = OffsetMap::build(&segments, 0, 3);
        let mut cleaner = Cleaner::new(&map, 0, 100, BTreeMap::new());
        let cleaned = cleaner.clean_batch(RecordBatch::clone(&segments[0].batches()[0]));
        let cleaned = cleaned.expect("batch keeps two records");
        let offsets: Vec<i64> = cleaned.records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, [1, 2]);
        assert_eq!((cleaned.base_offset, cleaned.last_offset), (0, 2));
        assert_eq!(cleaned.max_timestamp_ms, 2);
        assert_eq!(cleaner.stats.records_removed, 1);
    }

    #[test]
    fn keyless_records_inside_the_map_range_are_removed() {
        let segments = [segment(
            0,
            vec![batch(0, &[(None, Some("x")), (Some("a"), Some("1"))])],
        )];
        let map = OffsetMap::build(&segments, 0, 2);
        let mut cleaner = Cleaner::new(&map, 0, 100, BTreeMap::new());
        let cleaned = cleaner.clean_segments(segments.to_vec());
        let offsets: Vec<i64> = cleaned
            .iter()
            .flat_map(|s| s.batches().iter().flat_map(|b| b.records.iter()))
            .map(|r| r.offset)
            .collect();
        assert_eq!(offsets, [1]);
        assert_eq!(cleaner.stats.keyless_removed, 1);
    }

    #[test]
    fn groups_merge_small_segments_up_to_segment_bytes() {
        // Each one-record batch is 61 + 7 + 1 + 1 = 70 bytes.
        let one = |offset| batch(offset, &[(Some("a"), Some("1"))]);
        let segments = [
            segment(0, Vec::new()),
            segment(1, vec![one(1)]),
            segment(2, vec![one(2)]),
            segment(3, vec![one(3)]),
        ];
        assert_eq!(group_segments_by_size(&segments, 140), [3, 1]);
        assert_eq!(group_segments_by_size(&segments, 70), [2, 1, 1]);
        assert_eq!(group_segments_by_size(&[], 70), Vec::<usize>::new());
    }
}
