//! The record accumulator: one queue of batches per partition, and the memory they hold.
//!
//! Models Kafka's `RecordAccumulator` and `ProducerBatch`. `send()` appends a record to the
//! last open batch of its partition, or starts a new batch when the record does not fit in
//! `batch.size` (a record larger than `batch.size` gets a batch of its own). Each new batch
//! takes `max(batch.size, its first record)` bytes of `buffer.memory` until it completes. The
//! sender (`sender.rs`) decides when a queue's first batch is ready and drains it.
//!
//! Batches live in one store keyed by a batch id; a partition's queue and an in-flight request
//! both refer to ids. Kafka shares one `ProducerBatch` object between its deque, its in-flight
//! list and its idempotence bookkeeping; ids give the same sharing without aliasing.

use crate::log::{RECORD_BATCH_OVERHEAD, SimpleRecord};
use crate::protocol::TopicPartition;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// The producer id, epoch and base sequence a batch was (last) sent with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BatchSequence {
    pub producer_id: i64,
    pub epoch: i16,
    pub base_sequence: i32,
}

/// Kafka's `ProducerBatch`.
#[derive(Clone, Debug, Serialize)]
pub struct ProducerBatch {
    pub tp: TopicPartition,
    pub records: Vec<SimpleRecord>,
    /// The unique value of each record, as the history names it.
    pub values: Vec<Arc<str>>,
    /// v2 size: batch header plus records.
    pub size_bytes: u64,
    /// Memory taken from `buffer.memory` for this batch.
    pub reserved_bytes: u64,
    /// No more records go in (it was drained, or a record did not fit).
    pub closed: bool,
    pub created_ms: i64,
    /// Times the batch was re-enqueued for a retry (Kafka's `attempts`).
    pub attempts: u32,
    /// When its retry backoff ends.
    pub retry_at_ms: i64,
    /// The leader epoch the batch was last sent to (KIP-951: a retry to a new leader skips
    /// the backoff).
    pub sent_leader_epoch: Option<i32>,
    /// Some send of this batch may have reached the log (no answer, or an answer that does
    /// not rule it out): a final failure is then an unknown outcome.
    pub maybe_written: bool,
    /// Set on first drain by an idempotent producer.
    pub sequence: Option<BatchSequence>,
    /// Its sequence was rewritten after an epoch bump (`sequenceHasBeenReset`).
    pub sequence_reset: bool,
    /// Currently part of a request awaiting an answer.
    pub in_flight: bool,
}

impl ProducerBatch {
    pub fn record_count(&self) -> i32 {
        self.records.len() as i32
    }

    /// `batch.size` reached, or closed to appends.
    pub fn is_full(&self, batch_size: u64) -> bool {
        self.closed || self.size_bytes >= batch_size
    }

    /// The last sequence, wrapping at `i32::MAX` (`DefaultRecordBatch.incrementSequence`).
    pub fn last_sequence(&self) -> Option<i32> {
        self.sequence
            .map(|s| increment_sequence(s.base_sequence, self.record_count() - 1))
    }

    pub fn has_reached_delivery_timeout(&self, delivery_timeout_ms: i64, now_ms: i64) -> bool {
        now_ms.saturating_sub(self.created_ms) >= delivery_timeout_ms
    }
}

/// `DefaultRecordBatch.incrementSequence`: sequences wrap from `i32::MAX` to 0.
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// What an append did, for the sticky partitioner (`RecordAppendResult`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendResult {
    pub appended_bytes: u64,
    /// Every batch of the partition is full after the append (Kafka's `allBatchesFull`), so
    /// the sticky partitioner may switch.
    pub all_batches_full: bool,
}

/// Why an append could not happen now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendError {
    /// `buffer.memory` is exhausted: `send()` blocks (up to `max.block.ms`).
    NoMemory,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct RecordAccumulator {
    pub(super) store: BTreeMap<u64, ProducerBatch>,
    pub(super) queues: BTreeMap<TopicPartition, VecDeque<u64>>,
    used_memory: u64,
    next_batch_id: u64,
}

impl RecordAccumulator {
    /// Appends `record` to `tp`'s queue (Kafka's `RecordAccumulator.append`).
    pub fn append(
        &mut self,
        tp: &TopicPartition,
        record: SimpleRecord,
        value: Arc<str>,
        now_ms: i64,
        batch_size: u64,
        buffer_memory: u64,
    ) -> Result<AppendResult, AppendError> {
        let record_bytes = record.size_bytes();
        let last = self
            .queues
            .get(tp)
            .and_then(|q| q.back())
            .and_then(|id| self.store.get_mut(id));
        if let Some(batch) = last
            && !batch.closed
        {
            if batch.size_bytes + record_bytes <= batch_size.max(batch.reserved_bytes) {
                batch.size_bytes += record_bytes;
                batch.records.push(record);
                batch.values.push(value);
                let all_batches_full = batch.is_full(batch_size);
                return Ok(AppendResult {
                    appended_bytes: record_bytes,
                    all_batches_full,
                });
            }
            // Kafka's `tryAppend` returns null when the record does not fit: the batch is
            // closed for appends and a new one starts.
            batch.closed = true;
        }
        let size_bytes = RECORD_BATCH_OVERHEAD + record_bytes;
        let reserved_bytes = size_bytes.max(batch_size);
        if self.used_memory + reserved_bytes > buffer_memory {
            return Err(AppendError::NoMemory);
        }
        self.used_memory += reserved_bytes;
        self.next_batch_id += 1;
        let id = self.next_batch_id;
        let batch = ProducerBatch {
            tp: tp.clone(),
            records: vec![record],
            values: vec![value],
            size_bytes,
            reserved_bytes,
            closed: false,
            created_ms: now_ms,
            attempts: 0,
            retry_at_ms: now_ms,
            sent_leader_epoch: None,
            maybe_written: false,
            sequence: None,
            sequence_reset: false,
            in_flight: false,
        };
        let all_batches_full = batch.is_full(batch_size);
        self.store.insert(id, batch);
        self.queues.entry(tp.clone()).or_default().push_back(id);
        Ok(AppendResult {
            appended_bytes: size_bytes,
            all_batches_full,
        })
    }

    /// A batch is done (acknowledged, failed or expired): it leaves every structure and its
    /// memory returns to the pool.
    pub fn deallocate(&mut self, id: u64) -> Option<ProducerBatch> {
        let batch = self.store.remove(&id)?;
        if let Some(q) = self.queues.get_mut(&batch.tp) {
            q.retain(|b| *b != id);
        }
        self.used_memory -= batch.reserved_bytes;
        Some(batch)
    }

    /// Puts a batch back for a retry (Kafka's `reenqueue`): at the front of its queue, or —
    /// with sequences — in sequence order among the queued batches that already have one
    /// (`insertInSequenceOrder`), so retries go out in their original order.
    pub fn reenqueue(&mut self, id: u64) {
        let Some(batch) = self.store.get(&id) else {
            return;
        };
        let tp = batch.tp.clone();
        let seq = batch.sequence.map(|s| s.base_sequence);
        let queue = self.queues.entry(tp).or_default();
        let position = match seq {
            None => 0,
            Some(seq) => queue
                .iter()
                .position(|other| {
                    self.store
                        .get(other)
                        .and_then(|b| b.sequence)
                        .is_none_or(|s| s.base_sequence > seq)
                })
                .unwrap_or(queue.len()),
        };
        queue.insert(position, id);
    }

    /// The first queued batch of `tp`.
    pub fn first(&self, tp: &TopicPartition) -> Option<(u64, &ProducerBatch)> {
        let id = *self.queues.get(tp)?.front()?;
        Some((id, self.store.get(&id)?))
    }

    /// Takes the first queued batch of `tp` for sending; it is closed to appends.
    pub fn pop_first(&mut self, tp: &TopicPartition) -> Option<u64> {
        let id = self.queues.get_mut(tp)?.pop_front()?;
        if let Some(b) = self.store.get_mut(&id) {
            b.closed = true;
        }
        Some(id)
    }

    /// Batches queued for `tp` (Kafka's deque size, the adaptive partitioner's load).
    pub fn queue_len(&self, tp: &TopicPartition) -> usize {
        self.queues.get(tp).map_or(0, VecDeque::len)
    }

    /// Partitions that have (or had) a queue, in order.
    pub fn partitions(&self) -> impl Iterator<Item = &TopicPartition> {
        self.queues.keys()
    }

    pub fn get(&self, id: u64) -> Option<&ProducerBatch> {
        self.store.get(&id)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut ProducerBatch> {
        self.store.get_mut(&id)
    }

    /// Every live batch (queued or in flight), by id.
    pub fn batches(&self) -> impl Iterator<Item = (u64, &ProducerBatch)> {
        self.store.iter().map(|(id, b)| (*id, b))
    }

    /// Queued batches whose delivery timeout passed (`expiredBatches`): from the front of
    /// each queue until one that has not expired.
    pub fn expired_queued(&self, delivery_timeout_ms: i64, now_ms: i64) -> Vec<u64> {
        let mut expired = Vec::new();
        for queue in self.queues.values() {
            for id in queue {
                match self.store.get(id) {
                    Some(b) if b.has_reached_delivery_timeout(delivery_timeout_ms, now_ms) => {
                        expired.push(*id)
                    }
                    _ => break,
                }
            }
        }
        expired
    }

    pub fn used_memory(&self) -> u64 {
        self.used_memory
    }

    /// A crash: everything is gone.
    pub fn clear(&mut self) -> Vec<ProducerBatch> {
        self.queues.clear();
        self.used_memory = 0;
        std::mem::take(&mut self.store).into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(value: &str) -> SimpleRecord {
        SimpleRecord::new(0, None, Some(value))
    }

    #[test]
    fn records_fill_a_batch_then_start_the_next() {
        let tp = TopicPartition::new("t", 0);
        let mut acc = RecordAccumulator::default();
        // Each record: 7 + 4 bytes; batch header 61. batch.size 100 fits 3 records (94).
        let mut results = Vec::new();
        for i in 0..4 {
            let v = format!("v{i:03}");
            results.push(acc.append(&tp, record(&v), Arc::from(v.as_str()), 0, 100, 10_000));
        }
        let results: Vec<AppendResult> = results.into_iter().map(|r| r.expect("memory")).collect();
        assert_eq!(results[0].appended_bytes, 61 + 11);
        assert_eq!(results[1].appended_bytes, 11);
        assert_eq!(acc.queue_len(&tp), 2);
        let (_, first) = acc.first(&tp).expect("a batch");
        assert_eq!(first.records.len(), 3);
        assert!(first.is_full(100), "closed once a record did not fit");
        assert_eq!(acc.used_memory(), 200, "two batches of batch.size each");
    }

    #[test]
    fn a_large_record_gets_its_own_batch_and_memory_runs_out() {
        let tp = TopicPartition::new("t", 0);
        let mut acc = RecordAccumulator::default();
        let big = "x".repeat(500);
        let r = acc.append(&tp, record(&big), Arc::from("big"), 0, 100, 1_000);
        assert_eq!(r.map(|r| r.all_batches_full), Ok(true));
        assert_eq!(acc.used_memory(), 61 + 7 + 500);
        let again = acc.append(&tp, record(&big), Arc::from("big2"), 0, 100, 1_000);
        assert_eq!(again, Err(AppendError::NoMemory));
        let id = acc.pop_first(&tp).expect("queued");
        acc.deallocate(id);
        assert_eq!(acc.used_memory(), 0);
    }

    #[test]
    fn sequences_wrap_at_int_max() {
        assert_eq!(increment_sequence(5, 3), 8);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
    }
}
