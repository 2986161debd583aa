//! The idempotent producer's bookkeeping (the idempotent half of Kafka's
//! `TransactionManager`, KIP-98 and KIP-360).
//!
//! The producer gets a producer id and epoch from `InitProducerId`. Each partition numbers its
//! records from 0: a batch takes the partition's next sequence when first drained and keeps it
//! across retries, so a retry of a batch the broker already wrote is recognised as a duplicate.
//! The hard part is a *gap*: a batch that expired after it may have been sent leaves a
//! sequence nobody will fill. Once nothing is in flight for that partition the producer checks
//! whether the last acknowledged sequence reached the next one; if not — or when the broker
//! answers `OUT_OF_ORDER_SEQUENCE_NUMBER` to the batch right after the last acknowledged one —
//! it bumps its epoch locally and renumbers that partition's in-flight batches from 0 (a new
//! epoch must start at sequence 0, which the broker accepts). At epoch `i16::MAX` it asks for
//! a new producer id instead.

use super::accumulator::{BatchSequence, ProducerBatch, increment_sequence};
use crate::protocol::{Errors, TopicPartition};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Kafka's `ProducerIdAndEpoch.NONE`.
pub const NO_PRODUCER_ID: i64 = -1;

/// Per-partition sequence state (Kafka's `TxnPartitionEntry`).
#[derive(Clone, Debug, Serialize)]
pub struct PartitionSequences {
    /// The producer id and epoch the sequences below belong to.
    pub producer_id: i64,
    pub epoch: i16,
    pub next_sequence: i32,
    pub last_acked_sequence: Option<i32>,
    pub last_acked_offset: Option<i64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Idempotence {
    pub producer_id: i64,
    pub epoch: i16,
    /// An `InitProducerId` is in flight (its correlation id).
    pub init_in_flight: Option<i32>,
    /// No `InitProducerId` before this time (backoff after an error).
    pub init_retry_at_ms: i64,
    pub partitions: BTreeMap<TopicPartition, PartitionSequences>,
    /// Partitions whose batches expired after being sent: the next sequence the broker
    /// should have seen if they were written.
    pub unresolved: BTreeMap<TopicPartition, i32>,
    pub epoch_bump_required: bool,
    pub partitions_to_rewrite: BTreeSet<TopicPartition>,
}

impl Default for Idempotence {
    fn default() -> Self {
        Idempotence {
            producer_id: NO_PRODUCER_ID,
            epoch: -1,
            init_in_flight: None,
            init_retry_at_ms: 0,
            partitions: BTreeMap::new(),
            unresolved: BTreeMap::new(),
            epoch_bump_required: false,
            partitions_to_rewrite: BTreeSet::new(),
        }
    }
}

/// What a batch store looks like to this module: the live batches, by id.
pub type Batches<'a> = &'a mut BTreeMap<u64, ProducerBatch>;

impl Idempotence {
    pub fn has_producer_id(&self) -> bool {
        self.producer_id != NO_PRODUCER_ID
    }

    pub fn set_producer_id(&mut self, producer_id: i64, epoch: i16) {
        self.producer_id = producer_id;
        self.epoch = epoch;
    }

    fn entry(&mut self, tp: &TopicPartition) -> &mut PartitionSequences {
        let (producer_id, epoch) = (self.producer_id, self.epoch);
        self.partitions
            .entry(tp.clone())
            .or_insert(PartitionSequences {
                producer_id,
                epoch,
                next_sequence: 0,
                last_acked_sequence: None,
                last_acked_offset: None,
            })
    }

    /// Live batches of `tp` that carry a sequence (Kafka's `inflightBatchesBySequence`: they
    /// stay there from first drain until they complete, through retries).
    fn sequenced<'b>(
        batches: &'b BTreeMap<u64, ProducerBatch>,
        tp: &'b TopicPartition,
    ) -> impl Iterator<Item = (u64, &'b ProducerBatch)> + 'b {
        batches
            .iter()
            .filter(move |(_, b)| b.tp == *tp && b.sequence.is_some())
            .map(|(id, b)| (*id, b))
    }

    pub fn has_inflight_batches(
        batches: &BTreeMap<u64, ProducerBatch>,
        tp: &TopicPartition,
    ) -> bool {
        Self::sequenced(batches, tp).next().is_some()
    }

    /// The lowest base sequence among `tp`'s sequenced batches.
    pub fn first_in_flight_sequence(
        batches: &BTreeMap<u64, ProducerBatch>,
        tp: &TopicPartition,
    ) -> Option<i32> {
        Self::sequenced(batches, tp)
            .filter_map(|(_, b)| b.sequence.map(|s| s.base_sequence))
            .min()
    }

    /// The partition's sequences belong to an older producer id or epoch.
    pub fn has_stale_producer_id_and_epoch(&self, tp: &TopicPartition) -> bool {
        self.partitions
            .get(tp)
            .is_some_and(|e| (e.producer_id, e.epoch) != (self.producer_id, self.epoch))
    }

    /// Kafka's `shouldStopDrainBatchesForPartition` (the idempotence part): whether the first
    /// queued batch of `tp` must wait.
    pub fn should_stop_drain(
        &self,
        batches: &BTreeMap<u64, ProducerBatch>,
        first: &ProducerBatch,
    ) -> bool {
        if !self.has_producer_id() {
            return true;
        }
        let tp = &first.tp;
        if first.sequence.is_none() {
            // A new batch with the new epoch and sequence 0 must not overtake batches still
            // in flight with the old one, nor go out while earlier sequences are unknown.
            if Self::has_inflight_batches(batches, tp) && self.has_stale_producer_id_and_epoch(tp) {
                return true;
            }
            if self.unresolved.contains_key(tp) {
                return true;
            }
        }
        // A retried batch waits until it is the lowest sequence outstanding: retries go out
        // one at a time, in order.
        match (Self::first_in_flight_sequence(batches, tp), first.sequence) {
            (Some(lowest), Some(seq)) => seq.base_sequence != lowest,
            _ => false,
        }
    }

    /// First drain of a batch: it takes the partition's next sequence
    /// (`maybeUpdateProducerIdAndEpoch`, `setProducerState`, `incrementSequenceNumber`).
    pub fn assign_sequence(
        &mut self,
        batches: &BTreeMap<u64, ProducerBatch>,
        tp: &TopicPartition,
    ) -> BatchSequence {
        if self.has_stale_producer_id_and_epoch(tp) && !Self::has_inflight_batches(batches, tp) {
            // Everything of the old epoch is resolved: start over at 0 with the new one.
            self.partitions.remove(tp);
            self.unresolved.remove(tp);
        }
        let (producer_id, epoch) = (self.producer_id, self.epoch);
        let entry = self.entry(tp);
        BatchSequence {
            producer_id,
            epoch,
            base_sequence: entry.next_sequence,
        }
    }

    pub fn increment_sequence(&mut self, tp: &TopicPartition, count: i32) {
        let entry = self.entry(tp);
        entry.next_sequence = increment_sequence(entry.next_sequence, count);
    }

    /// `handleCompletedBatch`.
    pub fn handle_completed(&mut self, batch: &ProducerBatch, last_offset: Option<i64>) {
        let Some(last) = batch.last_sequence() else {
            return;
        };
        let entry = self.entry(&batch.tp);
        if entry.last_acked_sequence.is_none_or(|acked| last > acked) {
            entry.last_acked_sequence = Some(last);
        }
        if let Some(offset) = last_offset
            && entry.last_acked_offset.is_none_or(|acked| offset > acked)
        {
            entry.last_acked_offset = Some(offset);
        }
    }

    fn is_next_sequence(&self, tp: &TopicPartition, sequence: i32) -> bool {
        let last = self
            .partitions
            .get(tp)
            .and_then(|e| e.last_acked_sequence)
            .unwrap_or(-1);
        i64::from(sequence) - i64::from(last) == 1
    }

    pub fn request_epoch_bump(&mut self, tp: &TopicPartition) {
        self.epoch_bump_required = true;
        self.partitions_to_rewrite.insert(tp.clone());
    }

    /// `TransactionManager.canRetry` for an idempotent producer: whether an error on `batch`
    /// may be retried, requesting an epoch bump where a real gap shows.
    pub fn can_retry(&mut self, error: Errors, batch: &ProducerBatch) -> bool {
        let tp = &batch.tp;
        let base = batch.sequence.map_or(-1, |s| s.base_sequence);
        match error {
            Errors::UnknownProducerId => {
                // The broker lost our state (retention): bump and resend from sequence 0.
                self.request_epoch_bump(tp);
                true
            }
            Errors::OutOfOrderSequenceNumber => {
                let unresolved = self.unresolved.get(tp).copied();
                if unresolved.is_none()
                    && (batch.sequence_reset || !self.is_next_sequence(tp, base))
                {
                    // Not the next batch in line: an earlier one is still being retried.
                    return true;
                }
                if unresolved.is_none() || unresolved == Some(base) {
                    // A real gap right after the last acknowledged sequence.
                    self.request_epoch_bump(tp);
                }
                true
            }
            other => other.is_retriable(),
        }
    }

    /// `handleFailedBatch`: a batch failed for good.
    pub fn handle_failed(&mut self, batch: &ProducerBatch, error: Errors, adjust_sequences: bool) {
        if error == Errors::OutOfOrderSequenceNumber {
            self.request_epoch_bump(&batch.tp);
        } else if error == Errors::UnknownProducerId {
            self.partitions.remove(&batch.tp);
            self.unresolved.remove(&batch.tp);
        } else if adjust_sequences && batch.sequence.is_some() {
            self.request_epoch_bump(&batch.tp);
        }
    }

    /// `markSequenceUnresolved`: an expired batch had been sent; until the partition drains we
    /// cannot know whether the broker has it.
    pub fn mark_unresolved(&mut self, batch: &ProducerBatch) {
        let Some(last) = batch.last_sequence() else {
            return;
        };
        let next = increment_sequence(last, 1);
        let slot = self.unresolved.entry(batch.tp.clone()).or_insert(next);
        *slot = (*slot).max(next);
    }

    /// `maybeResolveSequences`: for each unresolved partition with nothing in flight, either
    /// the acknowledgements caught up (resolved), or there is a gap and the epoch must bump.
    pub fn maybe_resolve_sequences(&mut self, batches: &BTreeMap<u64, ProducerBatch>) {
        let unresolved: Vec<TopicPartition> = self.unresolved.keys().cloned().collect();
        for tp in unresolved {
            if Self::has_inflight_batches(batches, &tp) {
                continue;
            }
            let next = self.partitions.get(&tp).map_or(0, |e| e.next_sequence);
            if !self.is_next_sequence(&tp, next) {
                self.request_epoch_bump(&tp);
            }
            self.unresolved.remove(&tp);
        }
    }

    /// `bumpIdempotentEpochAndResetIdIfNeeded`, the local part: returns the partitions whose
    /// sequences were rewritten, or `None` if no bump was due. At `i16::MAX` the producer id
    /// is dropped and a new `InitProducerId` follows.
    pub fn bump_epoch_if_needed(&mut self, batches: Batches) -> Option<Vec<TopicPartition>> {
        if !self.epoch_bump_required || !self.has_producer_id() {
            return None;
        }
        self.epoch_bump_required = false;
        let rewrite: Vec<TopicPartition> = std::mem::take(&mut self.partitions_to_rewrite)
            .into_iter()
            .collect();
        if self.epoch == i16::MAX {
            // `resetIdempotentProducerId`: every sequence starts over with the new id.
            self.producer_id = NO_PRODUCER_ID;
            self.epoch = -1;
            self.partitions.clear();
            self.unresolved.clear();
            return Some(rewrite);
        }
        self.epoch += 1;
        for tp in &rewrite {
            self.start_sequences_at_beginning(tp, batches);
            self.unresolved.remove(tp);
        }
        Some(rewrite)
    }

    /// `startSequencesAtBeginning`: renumber `tp`'s sequenced batches from 0 under the current
    /// id and epoch, in their sequence order.
    fn start_sequences_at_beginning(&mut self, tp: &TopicPartition, batches: Batches) {
        let mut ids: Vec<(i32, u64)> = Self::sequenced(batches, tp)
            .filter_map(|(id, b)| b.sequence.map(|s| (s.base_sequence, id)))
            .collect();
        ids.sort_unstable();
        let mut next = 0;
        for (_, id) in ids {
            if let Some(b) = batches.get_mut(&id) {
                b.sequence = Some(BatchSequence {
                    producer_id: self.producer_id,
                    epoch: self.epoch,
                    base_sequence: next,
                });
                b.sequence_reset = true;
                next = increment_sequence(next, b.record_count());
            }
        }
        self.partitions.insert(
            tp.clone(),
            PartitionSequences {
                producer_id: self.producer_id,
                epoch: self.epoch,
                next_sequence: next,
                last_acked_sequence: None,
                last_acked_offset: None,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::SimpleRecord;
    use std::sync::Arc;

    fn tp() -> TopicPartition {
        TopicPartition::new("t", 0)
    }

    /// A drained batch of `n` records with the next sequence.
    fn drain(idem: &mut Idempotence, store: &mut BTreeMap<u64, ProducerBatch>, id: u64, n: usize) {
        let seq = idem.assign_sequence(store, &tp());
        idem.increment_sequence(&tp(), n as i32);
        store.insert(
            id,
            ProducerBatch {
                tp: tp(),
                records: vec![SimpleRecord::new(0, None, Some("v")); n],
                values: vec![Arc::from("v"); n],
                size_bytes: 0,
                reserved_bytes: 0,
                closed: true,
                created_ms: 0,
                attempts: 0,
                retry_at_ms: 0,
                sent_leader_epoch: None,
                maybe_written: false,
                sequence: Some(seq),
                sequence_reset: false,
                in_flight: true,
            },
        );
    }

    fn ready() -> Idempotence {
        let mut idem = Idempotence::default();
        idem.set_producer_id(7, 0);
        idem
    }

    #[test]
    fn sequences_number_each_partitions_records_from_zero() {
        let (mut idem, mut store) = (ready(), BTreeMap::new());
        drain(&mut idem, &mut store, 1, 3);
        drain(&mut idem, &mut store, 2, 2);
        let seqs: Vec<i32> = store
            .values()
            .map(|b| b.sequence.unwrap().base_sequence)
            .collect();
        assert_eq!(seqs, vec![0, 3]);
        assert_eq!(store[&2].last_sequence(), Some(4));
        assert_eq!(
            Idempotence::first_in_flight_sequence(&store, &tp()),
            Some(0)
        );
    }

    #[test]
    fn out_of_order_on_a_later_batch_retries_but_on_the_next_one_bumps_the_epoch() {
        let (mut idem, mut store) = (ready(), BTreeMap::new());
        drain(&mut idem, &mut store, 1, 1);
        drain(&mut idem, &mut store, 2, 1);
        // Batch 2 (seq 1) is not next after "nothing acked": an earlier one is outstanding.
        assert!(idem.can_retry(Errors::OutOfOrderSequenceNumber, &store[&2]));
        assert!(!idem.epoch_bump_required);
        // Batch 1 (seq 0) is next in line and still out of order: a real gap.
        assert!(idem.can_retry(Errors::OutOfOrderSequenceNumber, &store[&1]));
        assert!(idem.epoch_bump_required);
        let bumped = idem.bump_epoch_if_needed(&mut store);
        assert_eq!(bumped, Some(vec![tp()]));
        assert_eq!(idem.epoch, 1);
        // Both in-flight batches are renumbered from 0 under the new epoch.
        let seqs: Vec<(i16, i32)> = store
            .values()
            .map(|b| b.sequence.map(|s| (s.epoch, s.base_sequence)).unwrap())
            .collect();
        assert_eq!(seqs, vec![(1, 0), (1, 1)]);
        assert!(store.values().all(|b| b.sequence_reset));
        assert_eq!(idem.partitions[&tp()].next_sequence, 2);
    }

    #[test]
    fn an_expired_batch_leaves_a_gap_that_bumps_the_epoch_once_the_partition_drains() {
        let (mut idem, mut store) = (ready(), BTreeMap::new());
        drain(&mut idem, &mut store, 1, 2);
        drain(&mut idem, &mut store, 2, 2);
        idem.handle_completed(&store[&1], Some(1));
        store.remove(&1);
        // Batch 2 (seq 2-3) expires after being sent: unresolved.
        idem.mark_unresolved(&store[&2]);
        assert_eq!(idem.unresolved.get(&tp()), Some(&4));
        // New batches of the partition wait while the sequence is unresolved.
        let mut fresh = store[&2].clone();
        fresh.sequence = None;
        store.remove(&2);
        assert!(idem.should_stop_drain(&store, &fresh));
        // Nothing in flight: last acked 1, next 4 → a gap → bump.
        idem.maybe_resolve_sequences(&store);
        assert!(idem.epoch_bump_required && idem.unresolved.is_empty());
        idem.bump_epoch_if_needed(&mut store);
        assert!(!idem.should_stop_drain(&store, &fresh));
        assert_eq!(idem.assign_sequence(&store, &tp()).base_sequence, 0);
    }

    #[test]
    fn an_expired_batch_whose_successors_were_acknowledged_resolves_without_a_bump() {
        let (mut idem, mut store) = (ready(), BTreeMap::new());
        drain(&mut idem, &mut store, 1, 1);
        drain(&mut idem, &mut store, 2, 1);
        idem.mark_unresolved(&store[&1]);
        store.remove(&1);
        idem.handle_completed(&store[&2], Some(5));
        store.remove(&2);
        idem.maybe_resolve_sequences(&store);
        assert!(!idem.epoch_bump_required, "last acked 1, next 2: resolved");
    }

    #[test]
    fn a_retried_batch_goes_out_only_as_the_lowest_outstanding_sequence() {
        let (mut idem, mut store) = (ready(), BTreeMap::new());
        drain(&mut idem, &mut store, 1, 1);
        drain(&mut idem, &mut store, 2, 1);
        assert!(idem.should_stop_drain(&store, &store[&2].clone()));
        assert!(!idem.should_stop_drain(&store, &store[&1].clone()));
        // Without a producer id nothing drains.
        let fresh = Idempotence::default();
        assert!(fresh.should_stop_drain(&store, &store[&1].clone()));
    }

    #[test]
    fn at_the_last_epoch_the_producer_id_is_reset() {
        let (mut idem, mut store) = (ready(), BTreeMap::new());
        idem.set_producer_id(7, i16::MAX);
        drain(&mut idem, &mut store, 1, 1);
        idem.request_epoch_bump(&tp());
        idem.bump_epoch_if_needed(&mut store);
        assert!(!idem.has_producer_id(), "a new InitProducerId follows");
    }
}
