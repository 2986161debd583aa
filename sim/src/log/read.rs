//! Reading a partition log: what a consumer's or a follower's fetch returns.
//!
//! Models `UnifiedLog.read` (through `LocalLog.read` and `LogSegment.read`): whole batches
//! from the offset asked for, bounded by the HW for consumers or the LEO for followers, up to
//! a byte budget that the first batch may exceed (`minOneMessage`), and never spanning two
//! segments in one read.

use super::record::RecordBatch;
use super::segment::LogSegment;
use super::unified_log::{LogError, UnifiedLog};
use std::sync::Arc;

impl UnifiedLog {
    /// Read the batches holding offsets at or after `start_offset` and below `max_offset`
    /// (HW for consumers, LEO for followers), up to `max_bytes` — but always the first batch
    /// if one is available, so a batch larger than `max_bytes` cannot block a consumer.
    /// `start_offset == LEO` (or `>= max_offset`) gives nothing; outside
    /// `[log_start_offset, LEO]` is `OffsetOutOfRange`.
    ///
    /// Like Kafka, whole batches are returned (the first may begin before `start_offset`),
    /// a batch that reaches `max_offset` is held back, and one read never spans two segments.
    pub fn read(
        &self,
        start_offset: i64,
        max_offset: i64,
        max_bytes: u64,
    ) -> Result<Vec<RecordBatch>, LogError> {
        Ok(self
            .read_slice(start_offset, max_offset, max_bytes)?
            .iter()
            .map(|b| RecordBatch::clone(b))
            .collect())
    }

    /// The bytes [`UnifiedLog::read`] would return, without copying anything: what a parked
    /// fetch checks against `min_bytes` each time the log grows.
    pub fn readable_bytes(
        &self,
        start_offset: i64,
        max_offset: i64,
        max_bytes: u64,
    ) -> Result<u64, LogError> {
        let batches = self.read_slice(start_offset, max_offset, max_bytes)?;
        Ok(batches.iter().map(|b| b.size_bytes()).sum())
    }

    /// The batches `read` returns, borrowed from their segment.
    fn read_slice(
        &self,
        start_offset: i64,
        max_offset: i64,
        max_bytes: u64,
    ) -> Result<&[Arc<RecordBatch>], LogError> {
        if start_offset < self.log_start_offset || start_offset > self.log_end_offset {
            return Err(LogError::OffsetOutOfRange {
                requested: start_offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset,
            });
        }
        let max_offset = max_offset.min(self.log_end_offset);
        if start_offset >= max_offset {
            return Ok(&[]);
        }
        let first = self.segment_index_for(start_offset);
        for segment in &self.segments[first..] {
            if segment.base_offset() >= max_offset {
                break;
            }
            // Kafka's LocalLog.read moves to the next segment only when this one has nothing
            // at or after `start_offset` (e.g. compaction emptied it).
            let batches = read_segment(segment, start_offset, max_offset, max_bytes);
            if !batches.is_empty() {
                return Ok(batches);
            }
        }
        Ok(&[])
    }
}

/// Kafka's `LogSegment.read` with `minOneMessage = true`: a contiguous run of the segment's
/// batches.
fn read_segment(
    segment: &LogSegment,
    start_offset: i64,
    max_offset: i64,
    max_bytes: u64,
) -> &[Arc<RecordBatch>] {
    let batches = segment.batches();
    let from = batches.partition_point(|b| b.last_offset < start_offset);
    let mut end = from;
    let mut total_bytes: u64 = 0;
    for batch in &batches[from..] {
        if batch.last_offset >= max_offset {
            break;
        }
        let size = batch.size_bytes();
        if end > from && total_bytes + size > max_bytes {
            break;
        }
        total_bytes += size;
        end += 1;
    }
    &batches[from..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::config::LogConfig;
    use crate::log::testing::{append, append_batch, log_with};

    #[test]
    fn readable_bytes_is_the_size_of_what_read_returns() {
        let mut log = log_with(LogConfig::default());
        append_batch(&mut log, &[("a", "1"), ("b", "2")], 0);
        append(&mut log, "c", Some("3"), 0);
        append(&mut log, "d", Some("4"), 0);
        for (start, max_offset, max_bytes) in
            [(0, 4, 1_000), (0, 4, 1), (2, 3, 1_000), (4, 4, 1_000)]
        {
            let read: u64 = log
                .read(start, max_offset, max_bytes)
                .unwrap()
                .iter()
                .map(RecordBatch::size_bytes)
                .sum();
            assert_eq!(log.readable_bytes(start, max_offset, max_bytes), Ok(read));
        }
        assert!(
            log.readable_bytes(0, 4, 1).unwrap() > 0,
            "the first batch always counts"
        );
        assert!(log.readable_bytes(9, 10, 1_000).is_err());
    }

    #[test]
    fn read_rejects_offsets_outside_the_log() {
        let mut log = log_with(LogConfig::default());
        append_batch(&mut log, &[("a", "1"), ("b", "2")], 0);
        let past_end = log.read(3, 10, 1000);
        assert_eq!(
            past_end,
            Err(LogError::OffsetOutOfRange {
                requested: 3,
                log_start_offset: 0,
                log_end_offset: 2
            })
        );
        assert!(log.read(-1, 10, 1000).is_err());
        assert_eq!(log.read(2, 10, 1000), Ok(Vec::new()), "LEO reads nothing");
    }

    #[test]
    fn read_stops_below_max_offset() {
        let mut log = log_with(LogConfig::default());
        for key in ["a", "b", "c", "d"] {
            append(&mut log, key, Some("v"), 0);
        }
        log.update_high_watermark(2);
        let hw = log.high_watermark();
        let visible = log.read(0, hw, u64::MAX).expect("in range");
        assert_eq!(
            visible.iter().map(|b| b.base_offset).collect::<Vec<_>>(),
            [0, 1]
        );
        assert_eq!(
            log.read(2, hw, u64::MAX),
            Ok(Vec::new()),
            "at HW: nothing yet"
        );
        assert_eq!(log.read(3, hw, u64::MAX), Ok(Vec::new()), "above HW: empty");
        let follower_view = log.read(1, log.log_end_offset(), u64::MAX);
        assert_eq!(follower_view.map(|b| b.len()), Ok(3));
    }

    #[test]
    fn read_honours_max_bytes_but_always_returns_one_batch() {
        let mut log = log_with(LogConfig::default());
        for key in ["a", "b", "c"] {
            append(&mut log, key, Some("v"), 0); // 61 + 7 + 1 + 1 = 70 bytes each
        }
        let leo = log.log_end_offset();
        assert_eq!(log.read(0, leo, 140).map(|b| b.len()), Ok(2));
        assert_eq!(log.read(0, leo, 139).map(|b| b.len()), Ok(1));
        assert_eq!(
            log.read(0, leo, 1).map(|b| b.len()),
            Ok(1),
            "first batch always"
        );
        let from_mid = log.read(1, leo, 1).expect("in range");
        assert_eq!(from_mid.first().map(|b| b.base_offset), Some(1));
    }

    #[test]
    fn read_returns_whole_batch_containing_start_offset() {
        let mut log = log_with(LogConfig::default());
        append_batch(&mut log, &[("a", "1"), ("b", "2"), ("c", "3")], 0);
        let batches = log.read(1, 3, u64::MAX).expect("in range");
        assert_eq!(batches.len(), 1);
        assert_eq!(
            batches[0].base_offset, 0,
            "consumers skip records below their position"
        );
    }

    #[test]
    fn one_read_stays_within_one_segment() {
        let mut log = log_with(LogConfig {
            segment_bytes: 140,
            ..LogConfig::default()
        });
        for key in ["a", "b", "c", "d", "e"] {
            append(&mut log, key, Some("v"), 0);
        }
        let leo = log.log_end_offset();
        let first = log.read(0, leo, u64::MAX).expect("in range");
        assert_eq!(
            first.iter().map(|b| b.base_offset).collect::<Vec<_>>(),
            [0, 1]
        );
        let next = log.read(2, leo, u64::MAX).expect("in range");
        assert_eq!(
            next.iter().map(|b| b.base_offset).collect::<Vec<_>>(),
            [2, 3]
        );
    }
}
