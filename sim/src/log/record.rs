//! Records and record batches: what a partition log is made of.
//!
//! Models Kafka's v2 message format, `DefaultRecordBatch` and `DefaultRecord`
//! (`org.apache.kafka.common.record`), as stored in `MemoryRecords`/`FileRecords`. A producer
//! sends [`SimpleRecord`]s (no offsets yet); the leader's log turns them into one
//! [`RecordBatch`] whose records carry their offsets. Batches are the unit of everything
//! downstream: appends, fetches, segment sizes and compaction all work on whole batches.
//!
//! Byte sizes follow the v2 layout closely enough that segment rolling and size-based
//! retention behave like Kafka's, while staying a deterministic integer formula:
//!
//! - batch header: [`RECORD_BATCH_OVERHEAD`] = 61 bytes (`DefaultRecordBatch.RECORD_BATCH_OVERHEAD`);
//! - each record: [`RECORD_OVERHEAD`] = 7 bytes + key bytes + value bytes + header bytes;
//! - each header: 2 bytes + key bytes + value bytes.
//!
//! The 7 bytes are what `DefaultRecord` spends on a small record: one varint each for the
//! length, attributes, timestamp delta, offset delta, key length, value length and header count.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Size of a v2 batch header (`DefaultRecordBatch.RECORD_BATCH_OVERHEAD`).
pub const RECORD_BATCH_OVERHEAD: u64 = 61;

/// Per-record framing of a small `DefaultRecord`: seven one-byte varints.
// Simplification: Kafka's varints grow with the value (a 200-byte key needs a 2-byte length);
// we charge one byte each, which is exact for records under 64 bytes and close above.
pub const RECORD_OVERHEAD: u64 = 7;

/// Per-header framing: a one-byte varint for the key length and one for the value length.
pub const HEADER_OVERHEAD: u64 = 2;

/// Kafka's `RecordBatch.NO_TIMESTAMP`.
pub const NO_TIMESTAMP: i64 = -1;

/// Kafka's `RecordBatch.NO_PRODUCER_ID`.
pub const NO_PRODUCER_ID: i64 = -1;

/// Kafka's `RecordBatch.NO_PRODUCER_EPOCH`.
pub const NO_PRODUCER_EPOCH: i16 = -1;

/// Kafka's `RecordBatch.NO_SEQUENCE`.
pub const NO_SEQUENCE: i32 = -1;

/// Kafka's `DefaultRecordBatch.incrementSequence`: producer sequence numbers are
/// non-negative `int32`s that wrap from `i32::MAX` to 0, so a batch may start near the top and
/// end near 0.
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// A record header (`org.apache.kafka.common.header.Header`). Kafka's header values are bytes;
/// ours are text so that a learner can read them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub key: Arc<str>,
    pub value: Option<Arc<str>>,
}

impl Header {
    /// Bytes this header takes inside its record.
    pub fn size_bytes(&self) -> u64 {
        HEADER_OVERHEAD + str_len(Some(&self.key)) + str_len(self.value.as_ref())
    }
}

/// One record inside a batch, with its offset assigned (`DefaultRecord`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub offset: i64,
    /// The producer's CreateTime.
    pub timestamp_ms: i64,
    pub key: Option<Arc<str>>,
    /// `None` is a tombstone: on a compacted topic it deletes the key.
    pub value: Option<Arc<str>>,
    pub headers: Vec<Header>,
}

impl Record {
    /// Bytes this record takes inside its batch.
    pub fn size_bytes(&self) -> u64 {
        record_size(&self.key, &self.value, &self.headers)
    }

    /// A tombstone is a record whose value is null (Kafka: `!record.hasValue()`).
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }
}

/// What a producer sends: a record before the leader gives it an offset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimpleRecord {
    pub timestamp_ms: i64,
    pub key: Option<Arc<str>>,
    pub value: Option<Arc<str>>,
    pub headers: Vec<Header>,
}

impl SimpleRecord {
    /// A record without headers; `value: None` makes a tombstone.
    pub fn new(timestamp_ms: i64, key: Option<&str>, value: Option<&str>) -> Self {
        Self {
            timestamp_ms,
            key: key.map(Arc::from),
            value: value.map(Arc::from),
            headers: Vec::new(),
        }
    }

    /// Bytes this record will take inside a batch.
    pub fn size_bytes(&self) -> u64 {
        record_size(&self.key, &self.value, &self.headers)
    }

    /// The stored form of this record once the leader has assigned `offset`.
    pub fn at_offset(&self, offset: i64) -> Record {
        Record {
            offset,
            timestamp_ms: self.timestamp_ms,
            key: self.key.clone(),
            value: self.value.clone(),
            headers: self.headers.clone(),
        }
    }
}

/// Kafka's v2 `DefaultRecordBatch`: the unit of append, replication, fetch and compaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordBatch {
    pub base_offset: i64,
    /// Kept even when compaction removed the last record, so that the producer's last
    /// sequence number (base_sequence + last_offset - base_offset) survives cleaning.
    pub last_offset: i64,
    /// The leader epoch in which the leader appended this batch (KIP-101).
    pub partition_leader_epoch: i32,
    /// `NO_PRODUCER_ID` (-1) when the producer is not idempotent.
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub is_transactional: bool,
    /// A control batch holds a transaction marker.
    pub is_control: bool,
    pub max_timestamp_ms: i64,
    /// KIP-534: stamped by the first cleaning pass that keeps a tombstone in this batch; a
    /// later pass at or after this time drops the tombstones.
    pub delete_horizon_ms: Option<i64>,
    pub records: Vec<Record>,
}

impl RecordBatch {
    /// Bytes this batch takes in a segment: the 61-byte header plus its records.
    pub fn size_bytes(&self) -> u64 {
        RECORD_BATCH_OVERHEAD + self.records.iter().map(Record::size_bytes).sum::<u64>()
    }

    /// The offset right after this batch (Kafka's `nextOffset`), whatever compaction removed.
    pub fn next_offset(&self) -> i64 {
        self.last_offset + 1
    }

    /// Kafka's `hasProducerId`: the batch came from an idempotent or transactional producer.
    pub fn has_producer_id(&self) -> bool {
        self.producer_id > NO_PRODUCER_ID
    }

    /// Kafka's `lastSequence`: the sequence of the batch's last offset, counted from the
    /// offsets rather than the records so that it survives compaction; `NO_SEQUENCE` for a
    /// batch without one.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence == NO_SEQUENCE {
            return NO_SEQUENCE;
        }
        // The v2 format stores the offset delta as an int32, so it always fits.
        let offset_delta = i32::try_from(self.last_offset - self.base_offset).unwrap_or(i32::MAX);
        increment_sequence(self.base_sequence, offset_delta)
    }

    /// Number of records still in the batch (compaction may have removed some).
    pub fn record_count(&self) -> usize {
        self.records.len()
    }

    /// Largest record timestamp, or `NO_TIMESTAMP` for a batch emptied by compaction.
    pub fn compute_max_timestamp_ms(&self) -> i64 {
        self.records
            .iter()
            .map(|r| r.timestamp_ms)
            .max()
            .unwrap_or(NO_TIMESTAMP)
    }

    /// The record with this offset, if it is (still) in the batch.
    pub fn record_at(&self, offset: i64) -> Option<&Record> {
        let index = self
            .records
            .binary_search_by_key(&offset, |r| r.offset)
            .ok()?;
        self.records.get(index)
    }
}

fn str_len(s: Option<&Arc<str>>) -> u64 {
    s.map_or(0, |s| s.len() as u64)
}

fn record_size(key: &Option<Arc<str>>, value: &Option<Arc<str>>, headers: &[Header]) -> u64 {
    let header_bytes: u64 = headers.iter().map(Header::size_bytes).sum();
    RECORD_OVERHEAD + str_len(key.as_ref()) + str_len(value.as_ref()) + header_bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch_of(records: Vec<Record>) -> RecordBatch {
        RecordBatch {
            base_offset: 0,
            last_offset: 1,
            partition_leader_epoch: 0,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            is_transactional: false,
            is_control: false,
            max_timestamp_ms: 5,
            delete_horizon_ms: None,
            records,
        }
    }

    #[test]
    fn record_size_counts_overhead_key_value_and_headers() {
        let mut simple = SimpleRecord::new(1, Some("key"), Some("value"));
        assert_eq!(simple.size_bytes(), 7 + 3 + 5);
        simple.headers.push(Header {
            key: Arc::from("h"),
            value: Some(Arc::from("vv")),
        });
        assert_eq!(simple.size_bytes(), 7 + 3 + 5 + (2 + 1 + 2));
        let tombstone = SimpleRecord::new(1, Some("key"), None);
        assert_eq!(tombstone.size_bytes(), 7 + 3);
    }

    #[test]
    fn batch_size_is_header_plus_records() {
        let a = SimpleRecord::new(1, Some("k"), Some("v")).at_offset(0);
        let b = SimpleRecord::new(5, None, Some("vvvv")).at_offset(1);
        let batch = batch_of(vec![a, b]);
        assert_eq!(batch.size_bytes(), 61 + (7 + 2) + (7 + 4));
        assert_eq!(batch_of(Vec::new()).size_bytes(), 61);
    }

    #[test]
    fn sequences_wrap_from_int_max_to_zero() {
        assert_eq!(increment_sequence(5, 3), 8);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        let mut batch = batch_of(Vec::new());
        batch.base_sequence = i32::MAX - 1;
        batch.last_offset = 2; // three offsets: MAX-1, MAX, 0
        assert_eq!(batch.last_sequence(), 0);
        batch.base_sequence = NO_SEQUENCE;
        assert_eq!(batch.last_sequence(), NO_SEQUENCE);
    }

    #[test]
    fn next_offset_uses_last_offset_even_when_records_are_gone() {
        let only_first = SimpleRecord::new(1, Some("k"), Some("v")).at_offset(0);
        let batch = batch_of(vec![only_first]);
        assert_eq!(batch.next_offset(), 2);
        assert_eq!(batch.compute_max_timestamp_ms(), 1);
        assert!(batch.record_at(1).is_none());
        assert_eq!(batch.record_at(0).map(|r| r.offset), Some(0));
    }
}
