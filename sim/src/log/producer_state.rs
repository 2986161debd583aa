//! The broker's per-partition producer state: what each idempotent producer last wrote to
//! this partition, so that a retried batch is answered with its original offsets instead of
//! being written twice, and a gap in the sequence or a fenced producer is refused.
//!
//! Models Kafka's `ProducerStateManager`, `ProducerStateEntry`, `BatchMetadata` and
//! `ProducerAppendInfo` (`org.apache.kafka.storage.internals.log`, KIP-98). An idempotent
//! producer numbers its batches per partition (`base_sequence`, wrapping `i32::MAX -> 0`) and
//! stamps them with its producer id and epoch. For each producer id the partition keeps the
//! epoch and the metadata of the last [`NUM_BATCHES_TO_RETAIN`] batches: sequences, offsets
//! and timestamp. A client append is judged in Kafka's order:
//!
//! 1. **Duplicate** (`findDuplicateBatch`, done by the log before anything else): same epoch,
//!    same first and last sequence as a retained batch. The retry of a batch whose ack was
//!    lost lands here and gets that batch's offsets back; nothing is written.
//! 2. **Epoch** (`checkProducerEpoch`): an epoch below the entry's is `INVALID_PRODUCER_EPOCH`.
//! 3. **Sequence** (`checkSequence`): a new epoch must start at 0 (unless the entry has no
//!    epoch at all); the same epoch must continue at `last_seq + 1`. Anything else, including a
//!    duplicate older than the retained window or a partial overlap, is
//!    `OUT_OF_ORDER_SEQUENCE_NUMBER`. With no epoch recorded (a producer this partition has
//!    never seen) any sequence is accepted: its earlier batches may simply have been deleted.
//!
//! Where an update comes from matters ([`AppendOrigin`], Kafka's `AppendOrigin`): only client
//! appends have their sequences checked; transaction markers (coordinator) have their epoch
//! checked; replication applies whatever the leader wrote, since the leader already judged it.
//!
//! The state follows the log. The leader validates before it writes and records the batch
//! once its offsets are assigned; a follower records every replicated batch; truncation and
//! power loss reload the state by replaying the batches still in the log (Kafka's
//! `truncateAndReload` plus `loadProducersFromRecords`), so a follower that becomes leader
//! still recognises a retry of a batch the old leader wrote.
//!
//! Simplification: no snapshot files. Kafka snapshots the state at segment rolls and reloads
//! from the newest snapshot below the truncation point. Here the manager keeps one in-memory
//! "snapshot": the state that the segments deleted by retention leave behind (the state as of
//! the first stored segment). A reload starts from it and replays every stored batch, so a
//! producer whose batches retention removed keeps its entry, as Kafka keeps it via snapshots
//! (since KIP-360 it no longer evicts producers below the log start offset). Kafka's snapshot
//! keeps only each producer's last batch, so after a reload Kafka recognises fewer
//! duplicates than this model, which keeps up to five; conversely a batch that compaction
//! emptied and dropped is missing from a reloaded window here.
//!
//! Simplification: `producer.id.expiration.ms` (default one day) is not modelled: entries
//! never expire. Transactions are not modelled yet: no ongoing-transaction offsets, no
//! coordinator epoch, no KIP-890 verification; a transaction marker only moves the epoch.

use super::record::{NO_PRODUCER_EPOCH, NO_SEQUENCE, RecordBatch, increment_sequence};
use super::unified_log::LogError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Kafka's `ProducerStateEntry.NUM_BATCHES_TO_RETAIN`: how many of a producer's last batches
/// a partition remembers, matching the client's cap of five in-flight requests
/// (`max.in.flight.requests.per.connection <= 5` with idempotence). Any retry the client can
/// still send is therefore within the window.
pub const NUM_BATCHES_TO_RETAIN: usize = 5;

/// Who is appending (Kafka's `AppendOrigin`): decides which checks apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppendOrigin {
    /// A producer's Produce request on the leader: epoch and sequence are checked.
    Client,
    /// A transaction coordinator's marker (`WriteTxnMarkers`): the epoch is checked.
    Coordinator,
    /// A follower copying the leader, or a reload from the log: nothing is checked, since the
    /// leader already accepted the batch.
    Replication,
}

/// What the partition remembers of one batch (Kafka's `BatchMetadata`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    /// The batch's max timestamp.
    pub timestamp_ms: i64,
}

impl BatchMetadata {
    /// The metadata of a stored (or about to be stored) batch.
    pub fn of(batch: &RecordBatch) -> Self {
        Self {
            first_seq: batch.base_sequence,
            last_seq: batch.last_sequence(),
            first_offset: batch.base_offset,
            last_offset: batch.last_offset,
            timestamp_ms: batch.max_timestamp_ms,
        }
    }
}

/// One producer's state in one partition (Kafka's `ProducerStateEntry`): its epoch and its
/// last [`NUM_BATCHES_TO_RETAIN`] batches, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerStateEntry {
    producer_id: i64,
    producer_epoch: i16,
    batch_metadata: VecDeque<BatchMetadata>,
}

impl ProducerStateEntry {
    /// A producer this partition knows nothing about: no epoch, no batches.
    fn empty(producer_id: i64) -> Self {
        Self {
            producer_id,
            producer_epoch: NO_PRODUCER_EPOCH,
            batch_metadata: VecDeque::with_capacity(NUM_BATCHES_TO_RETAIN),
        }
    }

    pub fn producer_id(&self) -> i64 {
        self.producer_id
    }

    /// The epoch last seen; `NO_PRODUCER_EPOCH` (-1) if none was recorded.
    pub fn producer_epoch(&self) -> i16 {
        self.producer_epoch
    }

    /// The retained batches of the current epoch, oldest first.
    pub fn batches(&self) -> &VecDeque<BatchMetadata> {
        &self.batch_metadata
    }

    /// No batch retained: a new producer, or one whose epoch a marker just moved.
    pub fn is_empty(&self) -> bool {
        self.batch_metadata.is_empty()
    }

    /// First sequence of the oldest retained batch; `NO_SEQUENCE` when empty.
    pub fn first_seq(&self) -> i32 {
        self.batch_metadata
            .front()
            .map_or(NO_SEQUENCE, |b| b.first_seq)
    }

    /// Last sequence written in the current epoch; `NO_SEQUENCE` when empty.
    pub fn last_seq(&self) -> i32 {
        self.batch_metadata
            .back()
            .map_or(NO_SEQUENCE, |b| b.last_seq)
    }

    /// Last offset of the newest retained batch (Kafka's `lastDataOffset`); -1 when empty.
    pub fn last_data_offset(&self) -> i64 {
        self.batch_metadata.back().map_or(-1, |b| b.last_offset)
    }

    /// Kafka's `findDuplicateBatch`: the retained batch with exactly this epoch and sequence
    /// range, if any. A batch of another epoch is never a duplicate.
    pub fn find_duplicate_batch(
        &self,
        producer_epoch: i16,
        first_seq: i32,
        last_seq: i32,
    ) -> Option<&BatchMetadata> {
        if producer_epoch != self.producer_epoch {
            return None;
        }
        self.batch_metadata
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
    }

    /// A new epoch starts a new sequence space, so the old batches can no longer be matched.
    fn maybe_update_producer_epoch(&mut self, producer_epoch: i16) {
        if self.producer_epoch != producer_epoch {
            self.batch_metadata.clear();
            self.producer_epoch = producer_epoch;
        }
    }

    /// Remembers a batch, forgetting the oldest beyond the window.
    fn add_batch(&mut self, batch: BatchMetadata) {
        if self.batch_metadata.len() == NUM_BATCHES_TO_RETAIN {
            self.batch_metadata.pop_front();
        }
        self.batch_metadata.push_back(batch);
    }

    /// What an accepted batch does to the entry, whatever its origin: a data batch moves the
    /// epoch and joins the window; a transaction marker (control batch) only moves the epoch.
    fn apply(&mut self, batch: &RecordBatch) {
        self.maybe_update_producer_epoch(batch.producer_epoch);
        if !batch.is_control {
            self.add_batch(BatchMetadata::of(batch));
        }
    }
}

/// An update to one producer's entry, validated but not yet applied (Kafka's
/// `ProducerAppendInfo`). The leader builds it before writing, so a refused batch writes
/// nothing, and applies it with [`ProducerStateManager::update`] once the batch is in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerAppendInfo {
    origin: AppendOrigin,
    /// The entry as it will be after this append.
    updated_entry: ProducerStateEntry,
}

impl ProducerAppendInfo {
    pub fn producer_id(&self) -> i64 {
        self.updated_entry.producer_id
    }

    /// The entry as it will be once [`ProducerStateManager::update`] applies this append.
    pub fn updated_entry(&self) -> &ProducerStateEntry {
        &self.updated_entry
    }

    /// Kafka's `appendDataBatch`: checks a data batch of this producer (epoch for every
    /// origin but replication, sequence for client appends) and adds it to the entry.
    pub fn append_data_batch(&mut self, batch: &RecordBatch) -> Result<(), LogError> {
        self.check_producer_epoch(batch.producer_epoch, batch.base_offset)?;
        if self.origin == AppendOrigin::Client {
            self.check_sequence(batch.producer_epoch, batch.base_sequence, batch.base_offset)?;
        }
        self.updated_entry.apply(batch);
        Ok(())
    }

    /// Kafka's `appendEndTxnMarker`: a COMMIT or ABORT marker written at `producer_epoch`. The
    /// entry takes the marker's epoch; if that is a new epoch (the coordinator bumped it, e.g.
    /// to abort a timed-out transaction) the sequence starts over, so the next batch must
    /// use sequence 0. A marker in the producer's current epoch leaves the sequence alone:
    /// a transactional producer keeps numbering across its transactions.
    pub fn append_end_txn_marker(
        &mut self,
        producer_epoch: i16,
        offset: i64,
    ) -> Result<(), LogError> {
        // Simplification: Kafka also fences markers from an older coordinator epoch
        // (TRANSACTION_COORDINATOR_FENCED); coordinator epochs are not modelled.
        self.check_producer_epoch(producer_epoch, offset)?;
        self.updated_entry
            .maybe_update_producer_epoch(producer_epoch);
        Ok(())
    }

    /// Kafka's `checkProducerEpoch`: a lower epoch means the producer was fenced by a newer
    /// one. Replication only follows the leader, which already decided.
    fn check_producer_epoch(&self, producer_epoch: i16, offset: i64) -> Result<(), LogError> {
        let current = self.updated_entry.producer_epoch;
        if producer_epoch < current && self.origin != AppendOrigin::Replication {
            return Err(LogError::InvalidProducerEpoch(format!(
                "producer {} sent epoch {producer_epoch} (batch at offset {offset}), which is \
                 smaller than the last seen epoch {current}: a newer epoch has fenced it",
                self.producer_id()
            )));
        }
        Ok(())
    }

    /// Kafka's `checkSequence`.
    fn check_sequence(
        &self,
        producer_epoch: i16,
        first_seq: i32,
        offset: i64,
    ) -> Result<(), LogError> {
        let entry = &self.updated_entry;
        let producer_id = self.producer_id();
        if producer_epoch != entry.producer_epoch {
            // A new epoch restarts at 0, unless this partition never recorded an epoch for
            // the producer (its state was never seen or was deleted).
            if first_seq != 0 && entry.producer_epoch != NO_PRODUCER_EPOCH {
                return Err(LogError::OutOfOrderSequence(format!(
                    "producer {producer_id} starts its new epoch {producer_epoch} (current \
                     epoch {}) at sequence {first_seq}, batch at offset {offset}; a new epoch \
                     must start at sequence 0",
                    entry.producer_epoch
                )));
            }
            return Ok(());
        }
        if entry.producer_epoch == NO_PRODUCER_EPOCH {
            return Ok(()); // nothing recorded to continue from
        }
        let last_seq = entry.last_seq();
        // After a marker that moved the epoch, last_seq is NO_SEQUENCE (-1) and 0 is next.
        let expected = increment_sequence(last_seq, 1);
        if first_seq != expected {
            return Err(LogError::OutOfOrderSequence(format!(
                "producer {producer_id} at epoch {producer_epoch} sent sequence {first_seq} \
                 (batch at offset {offset}), expected {expected} after last sequence {last_seq}"
            )));
        }
        Ok(())
    }
}

/// The producer state of one partition replica (Kafka's `ProducerStateManager`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerStateManager {
    /// Producer id -> its entry.
    producers: BTreeMap<i64, ProducerStateEntry>,
    /// The state the batches deleted by retention left behind: where a reload starts (this
    /// model's stand-in for Kafka's snapshot files, see the module doc).
    snapshot: BTreeMap<i64, ProducerStateEntry>,
}

impl ProducerStateManager {
    pub fn new() -> Self {
        Self::default()
    }

    /// Kafka's `lastEntry`: what this partition knows of `producer_id`.
    pub fn last_entry(&self, producer_id: i64) -> Option<&ProducerStateEntry> {
        self.producers.get(&producer_id)
    }

    /// Kafka's `activeProducers`: every known producer, by id.
    pub fn active_producers(&self) -> &BTreeMap<i64, ProducerStateEntry> {
        &self.producers
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// The retained batch that `batch` repeats, if it is a retry of one (Kafka's
    /// `findDuplicateBatch` on the producer's last entry). `None` for a batch without a
    /// producer id.
    pub fn find_duplicate_batch(&self, batch: &RecordBatch) -> Option<BatchMetadata> {
        if !batch.has_producer_id() {
            return None;
        }
        self.producers
            .get(&batch.producer_id)?
            .find_duplicate_batch(
                batch.producer_epoch,
                batch.base_sequence,
                batch.last_sequence(),
            )
            .copied()
    }

    /// Kafka's `prepareUpdate`: an update of `producer_id`'s entry, starting from the current
    /// one (or an empty one for a new producer).
    pub fn prepare_update(&self, producer_id: i64, origin: AppendOrigin) -> ProducerAppendInfo {
        let updated_entry = self
            .producers
            .get(&producer_id)
            .cloned()
            .unwrap_or_else(|| ProducerStateEntry::empty(producer_id));
        ProducerAppendInfo {
            origin,
            updated_entry,
        }
    }

    /// Kafka's `update`: applies a validated append.
    pub fn update(&mut self, append_info: ProducerAppendInfo) {
        let entry = append_info.updated_entry;
        self.producers.insert(entry.producer_id, entry);
    }

    /// Checks and records one data batch in one step (`prepare_update`, `append_data_batch`,
    /// `update`). Nothing changes if the batch is refused.
    pub fn append_data_batch(
        &mut self,
        batch: &RecordBatch,
        origin: AppendOrigin,
    ) -> Result<(), LogError> {
        let mut append = self.prepare_update(batch.producer_id, origin);
        append.append_data_batch(batch)?;
        self.update(append);
        Ok(())
    }

    /// Records a COMMIT or ABORT marker of `producer_id` at `producer_epoch`, written at
    /// `offset` (see [`ProducerAppendInfo::append_end_txn_marker`]). A marker below the
    /// entry's epoch is `INVALID_PRODUCER_EPOCH` unless it is replicated.
    pub fn append_end_txn_marker(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        offset: i64,
        origin: AppendOrigin,
    ) -> Result<(), LogError> {
        let mut append = self.prepare_update(producer_id, origin);
        append.append_end_txn_marker(producer_epoch, offset)?;
        self.update(append);
        Ok(())
    }

    /// Follows one stored batch the way a follower does: data batches and transaction
    /// markers alike, without checks. Batches without a producer id are ignored.
    pub(super) fn replicate(&mut self, batch: &RecordBatch) {
        if batch.has_producer_id() {
            Self::load_batch(&mut self.producers, batch);
        }
    }

    /// Retention is about to delete segments holding `batches`: fold them into the snapshot
    /// so a later reload still knows what they said. The live state is untouched, so no
    /// producer loses its entry to retention.
    pub(super) fn on_segments_deleted<'a>(
        &mut self,
        batches: impl IntoIterator<Item = &'a RecordBatch>,
    ) {
        for batch in batches.into_iter().filter(|b| b.has_producer_id()) {
            Self::load_batch(&mut self.snapshot, batch);
        }
    }

    /// Kafka's `truncateAndReload` followed by a replay of the log: the state becomes the
    /// snapshot plus every batch still stored, in order, as if the log had been replicated
    /// from scratch. Called after the log lost its tail.
    pub(super) fn truncate_and_reload<'a>(
        &mut self,
        stored_batches: impl IntoIterator<Item = &'a RecordBatch>,
    ) {
        // Every stored batch with a producer id has an entry, so with none there is nothing
        // to replay: logs without idempotent producers skip the scan.
        if self.producers.is_empty() && self.snapshot.is_empty() {
            return;
        }
        self.producers = self.snapshot.clone();
        for batch in stored_batches.into_iter().filter(|b| b.has_producer_id()) {
            Self::load_batch(&mut self.producers, batch);
        }
    }

    /// Kafka's `truncateFullyAndStartAt`: the log restarts empty and every producer is
    /// forgotten, snapshot included.
    pub(super) fn truncate_fully(&mut self) {
        self.producers.clear();
        self.snapshot.clear();
    }

    /// Kafka's `loadProducersFromRecords` for one batch: replication origin, so nothing is
    /// checked and nothing can fail.
    fn load_batch(producers: &mut BTreeMap<i64, ProducerStateEntry>, batch: &RecordBatch) {
        producers
            .entry(batch.producer_id)
            .or_insert_with(|| ProducerStateEntry::empty(batch.producer_id))
            .apply(batch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::record::NO_TIMESTAMP;

    const PID: i64 = 1;

    /// A partition's producer state fed batches one after another, as a log would: each
    /// accepted batch takes the next offsets.
    #[derive(Debug, Default)]
    struct Partition {
        state: ProducerStateManager,
        next_offset: i64,
    }

    impl Partition {
        fn batch(&self, epoch: i16, seq: i32, count: i64, is_control: bool) -> RecordBatch {
            RecordBatch {
                base_offset: self.next_offset,
                last_offset: self.next_offset + count - 1,
                partition_leader_epoch: 0,
                producer_id: PID,
                producer_epoch: epoch,
                base_sequence: seq,
                is_transactional: is_control,
                is_control,
                max_timestamp_ms: NO_TIMESTAMP,
                delete_horizon_ms: None,
                records: Vec::new(),
            }
        }

        /// Kafka's `appendClientEntry` for a batch of `count` records: sequence-checked.
        fn data(&mut self, epoch: i16, seq: i32, count: i64) -> Result<(), LogError> {
            self.data_from(AppendOrigin::Client, epoch, seq, count)
        }

        fn data_from(
            &mut self,
            origin: AppendOrigin,
            epoch: i16,
            seq: i32,
            count: i64,
        ) -> Result<(), LogError> {
            let batch = self.batch(epoch, seq, count, false);
            self.state.append_data_batch(&batch, origin)?;
            self.next_offset += count;
            Ok(())
        }

        /// A COMMIT or ABORT marker written by the coordinator: one control record.
        fn marker(&mut self, epoch: i16) -> Result<(), LogError> {
            let offset = self.next_offset;
            self.state
                .append_end_txn_marker(PID, epoch, offset, AppendOrigin::Coordinator)?;
            self.next_offset += 1;
            Ok(())
        }

        fn entry(&self) -> &ProducerStateEntry {
            self.state.last_entry(PID).expect("the producer is known")
        }
    }

    fn is_out_of_order(result: Result<(), LogError>) -> bool {
        matches!(result, Err(LogError::OutOfOrderSequence(_)))
    }

    fn is_fenced(result: Result<(), LogError>) -> bool {
        matches!(result, Err(LogError::InvalidProducerEpoch(_)))
    }

    /// G2 `testBasicIdMapping`: the same epoch continues at last + 1, a new epoch restarts at
    /// 0, an older epoch is fenced. Duplicates are the log's concern, so a repeat of
    /// sequence 1 is simply out of order here.
    #[test]
    fn g2_basic_id_mapping() {
        let mut p = Partition::default();
        let e = 0;
        assert_eq!(p.data(e, 0, 1), Ok(()));
        assert_eq!(p.data(e, 1, 1), Ok(()));
        assert!(is_out_of_order(p.data(e, 1, 1)), "repeat: 1 != last 1 + 1");
        assert!(is_out_of_order(p.data(e, 5, 1)), "gap: 5 != 2");
        assert_eq!(p.data(e + 1, 0, 1), Ok(()), "a new epoch starts at 0");
        assert!(is_fenced(p.data(e, 0, 1)), "epoch e < e + 1");
        assert_eq!(p.entry().producer_epoch(), e + 1);
        assert_eq!(p.entry().last_seq(), 0);
    }

    /// G2 `testProducerSequenceWrapAround`: after `i32::MAX` comes 0, and the entry spans the
    /// wrap.
    #[test]
    fn g2_producer_sequence_wrap_around() {
        let mut p = Partition::default();
        let epoch = 15;
        p.next_offset = 735;
        assert_eq!(
            p.data_from(AppendOrigin::Replication, epoch, i32::MAX, 1),
            Ok(())
        );
        assert_eq!(p.data(epoch, 0, 1), Ok(()));
        assert_eq!(p.entry().first_seq(), i32::MAX);
        assert_eq!(p.entry().last_seq(), 0);
    }

    /// G2 `testProducerSequenceInvalidWrapAround`: after `i32::MAX` only 0 may follow.
    #[test]
    fn g2_producer_sequence_invalid_wrap_around() {
        let mut p = Partition::default();
        let epoch = 15;
        assert_eq!(
            p.data_from(AppendOrigin::Replication, epoch, i32::MAX, 1),
            Ok(())
        );
        assert!(is_out_of_order(p.data(epoch, 1, 1)));
        assert_eq!(
            p.entry().last_seq(),
            i32::MAX,
            "the refusal changed nothing"
        );
    }

    /// G2 `testControlRecordBumpsProducerEpoch`: a marker in a newer epoch moves the entry to
    /// it with no sequence, so the producer starts that epoch at 0.
    #[test]
    fn g2_control_record_bumps_producer_epoch() {
        let mut p = Partition::default();
        assert_eq!(p.data(0, 0, 1), Ok(()));
        assert_eq!(p.marker(1), Ok(())); // ABORT
        assert_eq!(p.entry().producer_epoch(), 1);
        assert_eq!(p.entry().last_seq(), NO_SEQUENCE);
        assert!(p.entry().is_empty());
        assert_eq!(p.data(1, 0, 1), Ok(()));
    }

    /// G2 `testOutOfSequenceAfterControlRecordEpochBump`: after the bump neither the old
    /// sequence in the new epoch nor a further epoch without a restart is accepted.
    #[test]
    fn g2_out_of_sequence_after_control_record_epoch_bump() {
        let mut p = Partition::default();
        assert_eq!(p.data(0, 0, 1), Ok(()));
        assert_eq!(p.data(0, 1, 1), Ok(()));
        assert_eq!(p.marker(1), Ok(())); // ABORT
        assert!(is_out_of_order(p.data(1, 2, 1)), "epoch 1 restarts at 0");
        assert!(
            is_out_of_order(p.data(2, 2, 1)),
            "a new epoch 2 starts at 0"
        );
        assert_eq!(p.data(1, 0, 1), Ok(()));
    }

    /// G2 `testAppendTxnMarkerWithNoProducerState`: a marker is enough to record an epoch,
    /// which then fences older epochs and requires sequence 0.
    #[test]
    fn g2_append_txn_marker_with_no_producer_state() {
        let mut p = Partition::default();
        assert_eq!(p.marker(2), Ok(())); // COMMIT
        assert!(is_fenced(p.data(0, 0, 1)));
        assert!(is_out_of_order(p.data(2, 17, 1)));
        assert_eq!(p.data(2, 0, 1), Ok(()));
    }

    #[test]
    fn an_unknown_producer_may_start_at_any_sequence() {
        let mut p = Partition::default();
        assert_eq!(
            p.data(3, 42, 2),
            Ok(()),
            "its earlier batches may have been deleted"
        );
        assert_eq!((p.entry().first_seq(), p.entry().last_seq()), (42, 43));
        assert!(
            is_out_of_order(p.data(3, 45, 1)),
            "now it must continue at 44"
        );
    }

    #[test]
    fn a_marker_in_the_current_epoch_keeps_the_sequence() {
        // A transactional producer numbers on across its transactions; only a new epoch
        // starts over.
        let mut p = Partition::default();
        assert_eq!(p.data(4, 0, 3), Ok(()));
        assert_eq!(p.marker(4), Ok(())); // COMMIT
        assert_eq!(p.entry().last_seq(), 2);
        assert!(is_out_of_order(p.data(4, 0, 1)));
        assert_eq!(p.data(4, 3, 1), Ok(()));
    }

    #[test]
    fn an_older_marker_is_fenced_unless_replicated() {
        let mut p = Partition::default();
        assert_eq!(p.data(5, 0, 1), Ok(()));
        assert!(is_fenced(p.marker(4)));
        assert_eq!(p.entry().producer_epoch(), 5);
        let replicated = p
            .state
            .append_end_txn_marker(PID, 4, 9, AppendOrigin::Replication);
        assert_eq!(replicated, Ok(()), "a follower follows the leader's log");
        assert_eq!(p.entry().producer_epoch(), 4);
    }

    #[test]
    fn replication_follows_the_leader_without_checks() {
        let mut p = Partition::default();
        let from_leader = AppendOrigin::Replication;
        assert_eq!(p.data_from(from_leader, 2, 0, 1), Ok(()));
        assert_eq!(p.data_from(from_leader, 2, 7, 1), Ok(()), "a gap");
        assert_eq!(p.data_from(from_leader, 1, 3, 1), Ok(()), "an older epoch");
        assert_eq!(p.entry().producer_epoch(), 1);
        assert_eq!(p.entry().last_seq(), 3);
        assert_eq!(
            p.entry().batches().len(),
            1,
            "the epoch change cleared the rest"
        );
    }

    #[test]
    fn the_entry_keeps_the_last_five_batches() {
        let mut p = Partition::default();
        for seq in 0..7 {
            assert_eq!(p.data(0, seq, 1), Ok(()));
        }
        let seqs: Vec<i32> = p.entry().batches().iter().map(|b| b.first_seq).collect();
        assert_eq!(seqs, [2, 3, 4, 5, 6]);
        assert_eq!(p.entry().first_seq(), 2);
        assert_eq!(p.entry().last_data_offset(), 6);
        let entry = p.entry();
        assert_eq!(
            entry.find_duplicate_batch(0, 2, 2).map(|b| b.first_offset),
            Some(2)
        );
        assert_eq!(entry.find_duplicate_batch(0, 1, 1), None, "evicted");
        assert_eq!(entry.find_duplicate_batch(1, 2, 2), None, "another epoch");
    }

    #[test]
    fn a_multi_record_batch_ends_at_base_plus_count_minus_one_with_wrap() {
        let mut p = Partition::default();
        assert_eq!(p.data(0, i32::MAX - 1, 3), Ok(()));
        let last = *p.entry().batches().back().expect("one batch");
        // Sequences MAX - 1, MAX, 0.
        assert_eq!((last.first_seq, last.last_seq), (i32::MAX - 1, 0));
        assert_eq!((last.first_offset, last.last_offset), (0, 2));
        assert_eq!(p.data(0, 1, 1), Ok(()));
    }

    #[test]
    fn errors_name_the_producer_epoch_and_sequences() {
        let mut p = Partition::default();
        assert_eq!(p.data(3, 0, 1), Ok(()));
        let gap = p.data(3, 5, 1).expect_err("gap");
        assert_eq!(gap.error_code(), "OUT_OF_ORDER_SEQUENCE_NUMBER");
        let text = gap.to_string();
        for part in ["producer 1", "epoch 3", "sequence 5", "expected 1"] {
            assert!(text.contains(part), "{text:?} lacks {part:?}");
        }
        let fenced = p.data(2, 1, 1).expect_err("fenced");
        assert_eq!(fenced.error_code(), "INVALID_PRODUCER_EPOCH");
        let text = fenced.to_string();
        for part in ["producer 1", "epoch 2", "epoch 3"] {
            assert!(text.contains(part), "{text:?} lacks {part:?}");
        }
    }

    #[test]
    fn a_prepared_update_changes_nothing_until_applied() {
        let mut p = Partition::default();
        assert_eq!(p.data(0, 0, 1), Ok(()));
        let batch = p.batch(0, 1, 1, false);
        let mut append = p.state.prepare_update(PID, AppendOrigin::Client);
        assert_eq!(append.append_data_batch(&batch), Ok(()));
        assert_eq!(append.updated_entry().last_seq(), 1);
        assert_eq!(p.entry().last_seq(), 0, "not applied yet");
        p.state.update(append);
        assert_eq!(p.entry().last_seq(), 1);
    }

    #[test]
    fn reloading_replays_the_snapshot_then_the_stored_batches() {
        let mut p = Partition::default();
        let mut batches = Vec::new();
        for seq in 0..4 {
            batches.push(p.batch(0, seq, 1, false));
            assert_eq!(p.data(0, seq, 1), Ok(()));
        }
        // Retention deletes the first two batches; truncation then cuts the last.
        p.state.on_segments_deleted(&batches[..2]);
        p.state.truncate_and_reload(&batches[2..3]);
        let seqs: Vec<i32> = p.entry().batches().iter().map(|b| b.first_seq).collect();
        assert_eq!(seqs, [0, 1, 2]);
        // A reload with nothing stored still knows what retention removed.
        p.state.truncate_and_reload(&[]);
        assert_eq!(p.entry().last_seq(), 1);
        p.state.truncate_fully();
        assert!(p.state.is_empty());
    }
}
