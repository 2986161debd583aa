//! The committed ledger: per partition, the record at each offset below the highest high
//! watermark any leader has reached — what Kafka calls committed — and the comparisons of a
//! replica's log against it that invariants 3 and 4 are made of.
//!
//! A plain data structure so it can be tested on hand-built logs; `committed.rs` decides when
//! to write it and what a mismatch means.

use crate::log::{Record, UnifiedLog};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A record as the ledger remembers it: enough to tell two records apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct RecordId {
    pub(super) timestamp_ms: i64,
    pub(super) key: Option<Arc<str>>,
    pub(super) value: Option<Arc<str>>,
}

impl RecordId {
    pub(super) fn of(r: &Record) -> Self {
        RecordId {
            timestamp_ms: r.timestamp_ms,
            key: r.key.clone(),
            value: r.value.clone(),
        }
    }

    /// Replicas share the leader's `Arc`s, so the pointer check settles almost every case.
    pub(super) fn same(&self, r: &Record) -> bool {
        fn eq(a: &Option<Arc<str>>, b: &Option<Arc<str>>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
                (None, None) => true,
                _ => false,
            }
        }
        self.timestamp_ms == r.timestamp_ms && eq(&self.value, &r.value) && eq(&self.key, &r.key)
    }

    pub(super) fn describe(&self) -> String {
        match &self.value {
            Some(v) => format!("\"{v}\""),
            None => "a tombstone".to_string(),
        }
    }
}

/// How a replica's log differs from the ledger.
#[derive(Clone, Debug)]
pub(super) enum Mismatch {
    /// The ledger has a record at `offset`; the replica has none (and nothing explains it).
    Missing {
        offset: i64,
        expected: RecordId,
        log_end_offset: i64,
    },
    /// The replica holds another record at `offset`.
    Differs {
        offset: i64,
        expected: RecordId,
        found: RecordId,
    },
}

/// Whether `acks=all` acknowledgments on a partition are covered by invariant 5.
#[derive(Clone, Copy, Debug)]
pub(super) struct Guarantee {
    /// `min(min.insync.replicas, replication factor)`, the smallest over the replicas' brokers.
    pub(super) effective_min_isr: i32,
    pub(super) unclean_allowed: bool,
}

impl Guarantee {
    pub(super) fn holds(self) -> bool {
        self.effective_min_isr >= 2 && !self.unclean_allowed
    }
}

/// The checker's memory of one partition.
#[derive(Clone, Debug, Default)]
pub(super) struct PartitionLedger {
    /// `ledger[o]`: the record committed at offset `o`; `None` where the committing leader no
    /// longer had it (compacted, or below its log start). Its length is the committed end.
    pub(super) ledger: Vec<Option<RecordId>>,
    /// The leader epoch of the last legitimate reset: HWs from older epochs are history.
    pub(super) reset_epoch: Option<i32>,
    pub(super) last_reset_step: Option<u64>,
    /// `acks=all` acknowledgments invariant 5 protects: offset → value.
    pub(super) guarded: BTreeMap<i64, Arc<str>>,
    pub(super) guarantee: Option<Guarantee>,
    /// Replicas that lost unflushed records in a power loss and have not left the ISR since.
    pub(super) power_lost: BTreeSet<i32>,
    /// Each replica's high watermark as far as it has been checked.
    pub(super) checked_hw: BTreeMap<i32, i64>,
    /// The ISR the controller last committed, once seen.
    pub(super) last_isr: Option<Vec<i32>>,
}

impl PartitionLedger {
    pub(super) fn committed_end(&self) -> i64 {
        self.ledger.len() as i64
    }

    pub(super) fn at(&self, offset: i64) -> Option<&RecordId> {
        usize::try_from(offset)
            .ok()
            .and_then(|o| self.ledger.get(o)?.as_ref())
    }

    pub(super) fn is_history(&self, epoch: i32) -> bool {
        self.reset_epoch.is_some_and(|r| epoch < r)
    }

    /// The leader's records in `[from, hw)` become committed: compared where the ledger
    /// already reaches, appended beyond it.
    pub(super) fn commit_from_leader(
        &mut self,
        log: &UnifiedLog,
        from: i64,
        hw: i64,
    ) -> Option<Mismatch> {
        let start = from.min(self.committed_end()).max(0);
        let mut first = None;
        let mut next = start;
        for r in records_between(log, start, hw) {
            self.fill_to(r.offset);
            next = r.offset + 1;
            if r.offset >= self.committed_end() {
                self.ledger.push(Some(RecordId::of(r)));
            } else if first.is_none()
                && let Some(expected) = self.at(r.offset)
                && !expected.same(r)
            {
                first = Some(Mismatch::Differs {
                    offset: r.offset,
                    expected: expected.clone(),
                    found: RecordId::of(r),
                });
            }
        }
        self.fill_to(hw.max(next));
        first
    }

    /// Offsets up to `offset` that the leader did not have (compacted) are committed too.
    fn fill_to(&mut self, offset: i64) {
        while self.committed_end() < offset {
            self.ledger.push(None);
        }
    }

    /// The first offset in `[from, to)` where `log` disagrees with the ledger.
    pub(super) fn first_mismatch(&self, log: &UnifiedLog, from: i64, to: i64) -> Option<Mismatch> {
        let to = to.min(self.committed_end());
        let mut next = from.max(0);
        for r in records_between(log, next, to) {
            if let Some(m) = self.first_missing(log, next, r.offset) {
                return Some(m);
            }
            if let Some(expected) = self.at(r.offset)
                && !expected.same(r)
            {
                return Some(Mismatch::Differs {
                    offset: r.offset,
                    expected: expected.clone(),
                    found: RecordId::of(r),
                });
            }
            next = r.offset + 1;
        }
        self.first_missing(log, next, to)
    }

    fn first_missing(&self, log: &UnifiedLog, from: i64, to: i64) -> Option<Mismatch> {
        (from..to).find_map(|offset| {
            let expected = self.at(offset)?;
            (!explained_absence(log, offset)).then(|| Mismatch::Missing {
                offset,
                expected: expected.clone(),
                log_end_offset: log.log_end_offset(),
            })
        })
    }

    /// A legitimate loss: from now on the committed history is the new leader's log, from
    /// `keep` (where it stops agreeing with the ledger, or its end) on.
    pub(super) fn reset(&mut self, keep: i64, epoch: i32, step: u64) {
        self.ledger.truncate(keep.max(0) as usize);
        // What replicas were checked against above `keep` was another history.
        for hw in self.checked_hw.values_mut() {
            *hw = (*hw).min(keep);
        }
        self.reset_epoch = Some(epoch);
        self.last_reset_step = Some(step);
        self.guarded = std::mem::take(&mut self.guarded)
            .into_iter()
            .filter(|(o, _)| *o < keep)
            .collect();
    }

    pub(super) fn lower_checked_hw(&mut self, broker: i32, offset: i64) {
        if let Some(hw) = self.checked_hw.get_mut(&broker) {
            *hw = (*hw).min(offset);
        }
    }
}

/// The readable records of `log` in `[from, to)`, found by binary search (a segment can hold a
/// whole run).
fn records_between(log: &UnifiedLog, from: i64, to: i64) -> impl Iterator<Item = &Record> {
    let start = from.max(log.log_start_offset());
    log.log_segments(start, to)
        .iter()
        .flat_map(move |s| {
            let batches = s.batches();
            let first = batches.partition_point(|b| b.last_offset < start);
            batches[first..]
                .iter()
                .take_while(move |b| b.base_offset < to)
        })
        .flat_map(|b| b.records.iter())
        .filter(move |r| r.offset >= start && r.offset < to)
}

/// Retention moved the log start past it, or the cleaner compacted it away: gone on purpose
/// (the same rule as the history's `lost_write`).
fn explained_absence(log: &UnifiedLog, offset: i64) -> bool {
    offset < log.log_start_offset() || offset < log.first_dirty_offset()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{LogConfig, ProducerInfo, SimpleRecord};

    fn log_of(values: &[&str]) -> UnifiedLog {
        let mut log = UnifiedLog::new(LogConfig::default(), 0);
        for v in values {
            let records = vec![SimpleRecord::new(7, None, Some(v))];
            log.append_as_leader(records, 0, ProducerInfo::NONE, 7)
                .expect("append");
        }
        log
    }

    #[test]
    fn a_leader_extends_the_ledger_and_replicas_are_compared_with_it() {
        let mut st = PartitionLedger::default();
        let leader = log_of(&["a", "b", "c"]);
        assert!(st.commit_from_leader(&leader, 0, 2).is_none());
        assert_eq!(st.committed_end(), 2);
        assert!(st.commit_from_leader(&leader, 2, 3).is_none());
        assert_eq!(st.committed_end(), 3);

        assert!(
            st.first_mismatch(&log_of(&["a", "b", "c", "d"]), 0, 4)
                .is_none()
        );
        match st.first_mismatch(&log_of(&["a", "x", "c"]), 0, 3) {
            Some(Mismatch::Differs {
                offset: 1, found, ..
            }) => {
                assert_eq!(found.value.as_deref(), Some("x"))
            }
            other => panic!("expected a difference at 1, got {other:?}"),
        }
        match st.first_mismatch(&log_of(&["a"]), 0, 3) {
            Some(Mismatch::Missing {
                offset: 1,
                log_end_offset: 1,
                ..
            }) => {}
            other => panic!("expected offset 1 missing, got {other:?}"),
        }
        // Only the range asked about is compared.
        assert!(st.first_mismatch(&log_of(&["a", "x"]), 2, 3).is_some());
        assert!(st.first_mismatch(&log_of(&["a", "x", "c"]), 2, 3).is_none());
    }

    #[test]
    fn a_second_leader_that_commits_another_record_at_an_offset_is_caught() {
        let mut st = PartitionLedger::default();
        assert!(st.commit_from_leader(&log_of(&["a", "b"]), 0, 2).is_none());
        let other = log_of(&["a", "z", "c"]);
        match st.commit_from_leader(&other, 1, 3) {
            Some(Mismatch::Differs { offset: 1, .. }) => {}
            other => panic!("expected a difference at 1, got {other:?}"),
        }
        assert_eq!(st.committed_end(), 3, "offset 2 is committed all the same");
    }

    #[test]
    fn a_reset_forgets_what_was_committed_above_it_and_lowers_checked_hws() {
        let mut st = PartitionLedger::default();
        st.commit_from_leader(&log_of(&["a", "b", "c"]), 0, 3);
        st.checked_hw.insert(2, 3);
        st.guarded.insert(2, Arc::from("c"));
        st.reset(1, 4, 99);
        assert_eq!(st.committed_end(), 1);
        assert_eq!(st.checked_hw[&2], 1);
        assert!(st.guarded.is_empty());
        assert!(st.is_history(3) && !st.is_history(4));
    }
}
