//! Appending to a partition log: the leader's produce path and the follower's replication
//! path, and rolling a new segment when the active one is full or old.
//!
//! Models `UnifiedLog.appendAsLeader`/`appendAsFollower`/`append`, the checks of Kafka's
//! `LogValidator` that matter to the model (keys on compacted topics, `max.message.bytes`),
//! and `UnifiedLog.maybeRoll`/`roll`. The leader assigns offsets from its LEO; a follower
//! keeps the leader's offsets, so the replicas' logs agree offset for offset.
//!
//! Both paths keep the producer state (`producer_state.rs`) in step, as Kafka's
//! `analyzeAndValidateProducerState` does: the leader answers an idempotent retry with the
//! original offsets and refuses out-of-order or fenced batches before writing anything; the
//! follower records every replicated batch unchecked, so that it can judge retries itself
//! once it leads.

use super::producer_state::AppendOrigin;
use super::record::{NO_TIMESTAMP, Record, RecordBatch, SimpleRecord};
use super::segment::LogSegment;
use super::unified_log::{LogAppendInfo, LogError, ProducerInfo, UnifiedLog};

impl UnifiedLog {
    /// Leader append: assigns offsets from LEO into one new batch; rolls a segment first if
    /// needed; on compacted topics rejects keyless records; records where `leader_epoch`
    /// starts in the leader-epoch cache; then applies flush.messages and flush.ms.
    ///
    /// A batch with a producer id (`producer.producer_id >= 0`) is checked against the
    /// producer state first: a retry of one of the producer's last five batches returns that
    /// batch's offsets with `duplicate: true` and writes nothing; a fenced epoch or a
    /// sequence gap is refused (`InvalidProducerEpoch`, `OutOfOrderSequence`).
    pub fn append_as_leader(
        &mut self,
        records: Vec<SimpleRecord>,
        leader_epoch: i32,
        producer: ProducerInfo,
        now_ms: i64,
    ) -> Result<LogAppendInfo, LogError> {
        self.validate_leader_records(&records)?;
        let batch = self.build_leader_batch(records, leader_epoch, producer);
        if batch.size_bytes() > self.config.max_message_bytes {
            return Err(LogError::RecordTooLarge);
        }
        let producer_append = if batch.has_producer_id() {
            if let Some(original) = self.producer_state.find_duplicate_batch(&batch) {
                return Ok(LogAppendInfo {
                    first_offset: original.first_offset,
                    last_offset: original.last_offset,
                    log_append_time_ms: now_ms,
                    duplicate: true,
                });
            }
            let mut append = self
                .producer_state
                .prepare_update(batch.producer_id, AppendOrigin::Client);
            append.append_data_batch(&batch)?;
            Some(append)
        } else {
            None
        };
        let info = LogAppendInfo {
            first_offset: batch.base_offset,
            last_offset: batch.last_offset,
            log_append_time_ms: now_ms,
            duplicate: false,
        };
        // Kafka's `maybeAssignEpochStartOffset`; the cache ignores an undefined epoch.
        self.leader_epoch_cache
            .assign(batch.partition_leader_epoch, batch.base_offset);
        self.append_batches(vec![batch], now_ms);
        if let Some(append) = producer_append {
            self.producer_state.update(append);
        }
        Ok(info)
    }

    /// Kafka's `LogValidator` checks that matter here.
    fn validate_leader_records(&self, records: &[SimpleRecord]) -> Result<(), LogError> {
        if records.is_empty() {
            return Err(LogError::InvalidRecord(
                "a produced batch must hold at least one record".to_string(),
            ));
        }
        // The cleaner could not tell a keyless record's successor, so Kafka refuses them.
        let keyless = records.iter().position(|r| r.key.is_none());
        match keyless {
            Some(index) if self.config.cleanup_policy.compacts() => {
                Err(LogError::InvalidRecord(format!(
                    "Compacted topic cannot accept message without key \
                     (record {index} of the batch has no key; cleanup.policy={})",
                    self.config.cleanup_policy
                )))
            }
            _ => Ok(()),
        }
    }

    fn build_leader_batch(
        &self,
        records: Vec<SimpleRecord>,
        leader_epoch: i32,
        producer: ProducerInfo,
    ) -> RecordBatch {
        let base_offset = self.log_end_offset;
        let records: Vec<Record> = records
            .iter()
            .zip(base_offset..)
            .map(|(r, offset)| r.at_offset(offset))
            .collect();
        let mut batch = RecordBatch {
            base_offset,
            last_offset: base_offset + records.len() as i64 - 1,
            partition_leader_epoch: leader_epoch,
            producer_id: producer.producer_id,
            producer_epoch: producer.producer_epoch,
            base_sequence: producer.base_sequence,
            is_transactional: false,
            is_control: false,
            max_timestamp_ms: NO_TIMESTAMP,
            delete_horizon_ms: None,
            records,
        };
        batch.max_timestamp_ms = batch.compute_max_timestamp_ms();
        batch
    }

    /// Follower append: the batches already carry the leader's offsets. The first must start
    /// at or after LEO (after, when the leader's cleaner removed a whole batch), and each
    /// must start after the previous one ends. Same rolling and flush rules as the leader,
    /// and each batch's leader epoch goes into the leader-epoch cache, so the follower's cache
    /// mirrors the leader's. Each batch with a producer id updates the producer state without
    /// sequence or epoch checks (Kafka's replication origin), so the follower's state mirrors
    /// the leader's too.
    /// An empty list appends nothing and reports the empty range `[LEO, LEO - 1]`.
    pub fn append_as_follower(
        &mut self,
        batches: Vec<RecordBatch>,
        now_ms: i64,
    ) -> Result<LogAppendInfo, LogError> {
        let (Some(first), Some(last)) = (batches.first(), batches.last()) else {
            return Ok(LogAppendInfo {
                first_offset: self.log_end_offset,
                last_offset: self.log_end_offset - 1,
                log_append_time_ms: now_ms,
                duplicate: false,
            });
        };
        let info = LogAppendInfo {
            first_offset: first.base_offset,
            last_offset: last.last_offset,
            log_append_time_ms: now_ms,
            duplicate: false,
        };
        self.validate_follower_batches(&batches)?;
        for batch in &batches {
            // Batches written before leader epochs existed carry -1; the cache skips them.
            self.leader_epoch_cache
                .assign(batch.partition_leader_epoch, batch.base_offset);
            self.producer_state.replicate(batch);
        }
        self.append_batches(batches, now_ms);
        Ok(info)
    }

    fn validate_follower_batches(&self, batches: &[RecordBatch]) -> Result<(), LogError> {
        let mut next = self.log_end_offset;
        for batch in batches {
            if batch.base_offset < next || batch.last_offset < batch.base_offset {
                return Err(LogError::InvalidRecord(format!(
                    "batch [{}, {}] does not start at or after offset {next} \
                     (the log end offset is {})",
                    batch.base_offset, batch.last_offset, self.log_end_offset
                )));
            }
            let mut expected = batch.base_offset;
            for record in &batch.records {
                if record.offset < expected || record.offset > batch.last_offset {
                    return Err(LogError::InvalidRecord(format!(
                        "record offset {} is out of order in batch [{}, {}]",
                        record.offset, batch.base_offset, batch.last_offset
                    )));
                }
                expected = record.offset + 1;
            }
            if batch.size_bytes() > self.config.max_message_bytes {
                return Err(LogError::RecordTooLarge);
            }
            next = batch.next_offset();
        }
        Ok(())
    }

    /// The shared tail of both appends (Kafka's `UnifiedLog.append` after validation): one
    /// roll decision for the whole append, then the batches, then the flush policy.
    fn append_batches(&mut self, batches: Vec<RecordBatch>, now_ms: i64) {
        let size: u64 = batches.iter().map(RecordBatch::size_bytes).sum();
        let max_timestamp_ms = batches
            .iter()
            .map(|b| b.max_timestamp_ms)
            .max()
            .unwrap_or(NO_TIMESTAMP);
        let first_offset = batches
            .first()
            .map_or(self.log_end_offset, |b| b.base_offset);
        if self
            .active_segment()
            .should_roll(&self.config, size, max_timestamp_ms, now_ms)
        {
            self.roll(first_offset, now_ms);
        }
        for batch in batches {
            self.log_end_offset = batch.next_offset();
            self.active_segment_mut().append(batch);
        }
        self.flush_after_append(now_ms);
        self.check_invariants();
    }

    /// Kafka's `roll`: start a new active segment at `max(expected_base_offset, LEO)`.
    pub(super) fn roll(&mut self, expected_base_offset: i64, now_ms: i64) {
        let base_offset = expected_base_offset.max(self.log_end_offset);
        let active = self.active_segment();
        if active.is_empty() && active.base_offset() == base_offset {
            // Kafka replaces an empty active segment at the same offset rather than keep two.
            self.segments.pop();
        }
        self.segments.push(LogSegment::new(base_offset, now_ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::config::{CleanupPolicy, LogConfig};
    use crate::log::testing::{append, append_batch, keyed, log_with, offsets_of, produce};

    #[test]
    fn leader_append_assigns_contiguous_offsets_from_leo() {
        let mut log = log_with(LogConfig::default());
        let info = append_batch(&mut log, &[("a", "1"), ("b", "2"), ("c", "3")], 10);
        assert_eq!((info.first_offset, info.last_offset), (0, 2));
        let info = append(&mut log, "d", Some("4"), 11);
        assert_eq!((info.first_offset, info.last_offset), (3, 3));
        assert_eq!(log.log_end_offset(), 4);
        assert_eq!(log.batches().count(), 2);
        let offsets: Vec<i64> = log.records().map(|r| r.offset).collect();
        assert_eq!(offsets, vec![0, 1, 2, 3]);
        assert_eq!(log.record_at(2).and_then(|r| r.value.as_deref()), Some("3"));
        assert_eq!(log.high_watermark(), 0, "HW only moves when told");
    }

    #[test]
    fn leader_append_stamps_epoch_and_producer() {
        let mut log = log_with(LogConfig::default());
        let producer = ProducerInfo {
            producer_id: 7,
            producer_epoch: 2,
            base_sequence: 40,
        };
        let records = vec![keyed(5, "k", Some("v")), keyed(9, "k", Some("w"))];
        let appended = log.append_as_leader(records, 3, producer, 100);
        assert!(appended.is_ok());
        let batch = log.batches().next().cloned();
        let batch = batch.expect("one batch");
        assert_eq!(batch.partition_leader_epoch, 3);
        assert_eq!(
            (batch.producer_id, batch.producer_epoch, batch.base_sequence),
            (7, 2, 40)
        );
        assert_eq!(batch.max_timestamp_ms, 9);
    }

    #[test]
    fn empty_and_oversized_leader_appends_are_rejected() {
        let mut log = log_with(LogConfig {
            max_message_bytes: 100,
            ..LogConfig::default()
        });
        let empty = log.append_as_leader(Vec::new(), 0, ProducerInfo::NONE, 0);
        assert!(matches!(empty, Err(LogError::InvalidRecord(_))));
        let big = "x".repeat(40);
        let too_large =
            log.append_as_leader(vec![keyed(0, "k", Some(&big))], 0, ProducerInfo::NONE, 0);
        assert_eq!(too_large, Err(LogError::RecordTooLarge));
        assert_eq!(log.log_end_offset(), 0);
    }

    #[test]
    fn keyless_records_are_rejected_on_compacted_topics_only() {
        let compact = LogConfig {
            cleanup_policy: CleanupPolicy::CompactDelete,
            ..LogConfig::default()
        };
        let mut log = log_with(compact);
        let keyless = vec![
            keyed(0, "k", Some("v")),
            SimpleRecord::new(0, None, Some("v")),
        ];
        let result = log.append_as_leader(keyless.clone(), 0, ProducerInfo::NONE, 0);
        match result {
            Err(err @ LogError::InvalidRecord(_)) => {
                assert_eq!(err.error_code(), "INVALID_RECORD");
                assert!(err.to_string().contains("without key"), "{err}");
            }
            other => panic!("expected INVALID_RECORD, got {other:?}"),
        }
        assert_eq!(log.log_end_offset(), 0, "nothing of the batch was appended");
        let mut plain = log_with(LogConfig::default());
        assert!(
            plain
                .append_as_leader(keyless, 0, ProducerInfo::NONE, 0)
                .is_ok()
        );
    }

    #[test]
    fn follower_append_keeps_leader_offsets() {
        let mut leader = log_with(LogConfig::default());
        append_batch(&mut leader, &[("a", "1"), ("b", "2")], 0);
        append(&mut leader, "c", Some("3"), 1);
        let fetched = leader.read(0, leader.log_end_offset(), u64::MAX);
        let fetched = fetched.expect("in range");
        let mut follower = log_with(LogConfig::default());
        let info = follower.append_as_follower(fetched, 5);
        assert_eq!(info.map(|i| (i.first_offset, i.last_offset)), Ok((0, 2)));
        assert_eq!(follower.log_end_offset(), 3);
        assert_eq!(offsets_of(&follower), offsets_of(&leader));
        let none = follower.append_as_follower(Vec::new(), 6);
        assert_eq!(none.map(|i| i.last_offset - i.first_offset + 1), Ok(0));
    }

    #[test]
    fn follower_append_must_not_overlap_the_log() {
        let mut leader = log_with(LogConfig::default());
        append(&mut leader, "a", Some("1"), 0);
        append(&mut leader, "b", Some("2"), 0);
        let batches = leader.read(0, 2, u64::MAX).expect("in range");
        let mut follower = log_with(LogConfig::default());
        assert!(follower.append_as_follower(batches.clone(), 0).is_ok());
        let again = follower.append_as_follower(batches[1..].to_vec(), 0);
        assert!(
            matches!(again, Err(LogError::InvalidRecord(_))),
            "{again:?}"
        );
        assert_eq!(follower.log_end_offset(), 2);
    }

    #[test]
    fn segments_roll_when_segment_bytes_would_be_exceeded() {
        let mut log = log_with(LogConfig {
            segment_bytes: 150,
            ..LogConfig::default()
        });
        for key in ["a", "b", "c", "d", "e"] {
            append(&mut log, key, Some("v"), 0); // 70 bytes each: two fit in 150
        }
        let bases: Vec<i64> = log.segments().iter().map(|s| s.base_offset()).collect();
        assert_eq!(bases, [0, 2, 4]);
        assert!(log.segments().iter().all(|s| s.size_bytes() <= 150));
        assert_eq!(log.active_segment().base_offset(), 4);
    }

    #[test]
    fn an_oversized_batch_still_goes_into_an_empty_segment() {
        let mut log = log_with(LogConfig {
            segment_bytes: 50,
            ..LogConfig::default()
        });
        append(&mut log, "a", Some("v"), 0);
        append(&mut log, "b", Some("v"), 0);
        let sizes: Vec<(i64, u64)> = log
            .segments()
            .iter()
            .map(|s| (s.base_offset(), s.size_bytes()))
            .collect();
        assert_eq!(
            sizes,
            [(0, 70), (1, 70)],
            "one batch per segment, no empty ones"
        );
    }

    #[test]
    fn segments_roll_when_segment_ms_has_passed_since_the_first_record() {
        let mut log = log_with(LogConfig {
            segment_ms: 1000,
            ..LogConfig::default()
        });
        append(&mut log, "a", Some("v"), 100);
        append(&mut log, "b", Some("v"), 600);
        append(&mut log, "c", Some("v"), 1100);
        assert_eq!(log.segments().len(), 1, "1100 - 100 is not more than 1000");
        append(&mut log, "d", Some("v"), 1101);
        let bases: Vec<i64> = log.segments().iter().map(|s| s.base_offset()).collect();
        assert_eq!(bases, [0, 3]);
        append(&mut log, "e", Some("v"), 2000);
        assert_eq!(
            log.segments().len(),
            2,
            "the clock restarts with the new segment"
        );
    }

    fn offsets(info: Result<LogAppendInfo, LogError>) -> (i64, i64, bool) {
        let info = info.expect("accepted");
        (info.first_offset, info.last_offset, info.duplicate)
    }

    /// G1 `testDuplicateAppends` (producer 1, epoch 0): a retry of one of the last five
    /// batches gets its original offsets and writes nothing; anything else that does not
    /// continue the sequence is out of order.
    #[test]
    fn g1_duplicate_appends() {
        let mut log = log_with(LogConfig::default());
        let (pid, epoch) = (1, 0);
        // 1. Six single-record batches, seq 0..=5, take offsets 0..=5.
        for seq in 0..6 {
            let offset = i64::from(seq);
            assert_eq!(
                offsets(produce(&mut log, pid, epoch, seq, 1)),
                (offset, offset, false)
            );
        }
        // 2. Seq 6-8 in one batch takes offsets 6-8.
        assert_eq!(offsets(produce(&mut log, pid, epoch, 6, 3)), (6, 8, false));
        // 3. Its exact retry: the same offsets, nothing new written.
        assert_eq!(offsets(produce(&mut log, pid, epoch, 6, 3)), (6, 8, true));
        assert_eq!(log.log_end_offset(), 9);
        // 4. A partial overlap (7-8) is neither a duplicate nor the next sequence (9).
        let overlap = produce(&mut log, pid, epoch, 7, 2);
        assert!(
            matches!(overlap, Err(LogError::OutOfOrderSequence(_))),
            "{overlap:?}"
        );
        // 5. The window holds the batches with seq 2, 3, 4, 5 and 6-8: seq 2 is a duplicate.
        let window: Vec<(i32, i32)> = log
            .producer_state()
            .last_entry(pid)
            .expect("known")
            .batches()
            .iter()
            .map(|b| (b.first_seq, b.last_seq))
            .collect();
        assert_eq!(window, [(2, 2), (3, 3), (4, 4), (5, 5), (6, 8)]);
        assert_eq!(offsets(produce(&mut log, pid, epoch, 2, 1)), (2, 2, true));
        // 6. Seq 1 fell out of the window: out of order.
        let too_old = produce(&mut log, pid, epoch, 1, 1);
        assert!(
            matches!(too_old, Err(LogError::OutOfOrderSequence(_))),
            "{too_old:?}"
        );
        // 7. A new single-record batch, seq 9, then its retry.
        assert_eq!(offsets(produce(&mut log, pid, epoch, 9, 1)), (9, 9, false));
        assert_eq!(offsets(produce(&mut log, pid, epoch, 9, 1)), (9, 9, true));
        assert_eq!(log.log_end_offset(), 10);
        assert_eq!(log.batches().count(), 8, "no retry was written");
    }

    #[test]
    fn a_refused_or_duplicate_batch_leaves_the_log_untouched() {
        let mut log = log_with(LogConfig::default());
        assert!(produce(&mut log, 4, 1, 0, 2).is_ok());
        let before = log.clone();
        let fenced = produce(&mut log, 4, 0, 2, 1);
        assert_eq!(
            fenced.map_err(|e| e.error_code()),
            Err("INVALID_PRODUCER_EPOCH")
        );
        let gap = produce(&mut log, 4, 1, 5, 1);
        assert_eq!(
            gap.map_err(|e| e.error_code()),
            Err("OUT_OF_ORDER_SEQUENCE_NUMBER")
        );
        let retry = log.append_as_leader(
            vec![keyed(0, "k0", Some("v")), keyed(0, "k1", Some("v"))],
            3,
            ProducerInfo {
                producer_id: 4,
                producer_epoch: 1,
                base_sequence: 0,
            },
            50,
        );
        assert_eq!(retry.map(|i| i.duplicate), Ok(true));
        assert_eq!(log, before, "not even the leader-epoch cache moved");
    }

    #[test]
    fn batches_without_a_producer_id_are_not_tracked() {
        let mut log = log_with(LogConfig::default());
        append(&mut log, "a", Some("1"), 0);
        append(&mut log, "a", Some("1"), 0);
        assert_eq!(
            log.log_end_offset(),
            2,
            "without idempotence a retry is a copy"
        );
        assert!(log.producer_state().is_empty());
    }

    /// Replicates the leader's whole log into a fresh follower.
    fn follower_of(leader: &UnifiedLog) -> UnifiedLog {
        let fetched = leader.read(0, leader.log_end_offset(), u64::MAX);
        let mut follower = log_with(LogConfig::default());
        let appended = follower.append_as_follower(fetched.expect("in range"), 0);
        assert!(appended.is_ok(), "{appended:?}");
        follower
    }

    #[test]
    fn a_follower_append_rebuilds_the_leaders_producer_state() {
        let mut leader = log_with(LogConfig::default());
        for seq in 0..4 {
            assert!(produce(&mut leader, 1, 0, seq * 2, 2).is_ok());
        }
        append(&mut leader, "plain", Some("v"), 0);
        assert!(produce(&mut leader, 2, 3, 10, 1).is_ok());
        assert!(
            produce(&mut leader, 1, 1, 0, 1).is_ok(),
            "producer 1 bumped its epoch"
        );
        for seq in 1..7 {
            assert!(produce(&mut leader, 2, 3, 10 + seq, 1).is_ok());
        }
        let follower = follower_of(&leader);
        assert_eq!(follower.producer_state(), leader.producer_state());
        let entry = follower.producer_state().last_entry(1).expect("known");
        assert_eq!((entry.producer_epoch(), entry.last_seq()), (1, 0));
        assert_eq!(entry.batches().len(), 1);
    }

    #[test]
    fn a_duplicate_is_still_detected_after_failover() {
        let mut leader = log_with(LogConfig::default());
        for seq in 0..3 {
            assert!(produce(&mut leader, 9, 2, seq, 1).is_ok());
        }
        assert_eq!(offsets(produce(&mut leader, 9, 2, 3, 2)), (3, 4, false));
        // The leader dies before its ack reaches the producer; the follower takes over and
        // the producer retries against it.
        let mut new_leader = follower_of(&leader);
        assert_eq!(offsets(produce(&mut new_leader, 9, 2, 3, 2)), (3, 4, true));
        assert_eq!(offsets(produce(&mut new_leader, 9, 2, 1, 1)), (1, 1, true));
        assert_eq!(new_leader.log_end_offset(), 5);
        assert_eq!(offsets(produce(&mut new_leader, 9, 2, 5, 1)), (5, 5, false));
    }
}
