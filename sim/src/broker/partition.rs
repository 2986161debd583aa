//! One partition as its leader sees it (Kafka's `Partition` and `Replica`): the committed and
//! pending ISR, each follower's fetch state, and the rules that move the ISR and the high
//! watermark.
//!
//! - **Caught up** (`Replica.updateFetchStateOrThrow`): a fetch at the leader's LEO makes the
//!   follower caught up *now*; a fetch at the LEO the leader had at the previous fetch makes it
//!   caught up *as of that previous fetch*. A follower is in sync while it is at the leader's LEO
//!   or caught up within `replica.lag.time.max.ms`.
//! - **ISR changes** go to the controller (AlterPartition) one at a time. While an expansion is
//!   pending, the *maximal ISR* (committed ISR plus the new member) counts for the HW (KIP-497);
//!   a pending shrink keeps the old, larger ISR until committed.
//! - **Expansion** needs LEO ≥ HW *and* LEO ≥ the start of the current leader epoch.
//! - **HW** is the smallest LEO among the maximal ISR and caught-up eligible followers, only
//!   ever increases, and (Kafka 3.7+, KAFKA-15583) does not move while the committed ISR is
//!   below `min(min.insync.replicas, replication factor)`.
//!
//! Everything here is a pure function of the state and its arguments: the broker feeds in
//! fetches and times, and sends whatever AlterPartition a method returns. That is what lets
//! the unit tests replay Kafka's `PartitionTest` cases (vectors F) exactly.

use crate::log::UnifiedLog;
use crate::protocol::{PartitionRecord, TopicPartition};
use serde::Serialize;
use std::collections::BTreeMap;

/// "Never" for caught-up times: far enough in the past that no lag bound reaches it (Kafka
/// starts these at 0 on a wall clock, which is decades ago; our clock starts at 0).
pub const NEVER_MS: i64 = i64::MIN / 4;

/// Kafka's `UnifiedLog.UnknownOffset`: a follower's LEO before its first fetch.
pub const UNKNOWN_OFFSET: i64 = -1;

/// A follower's state on the leader (Kafka's `ReplicaState`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplicaState {
    pub log_end_offset: i64,
    pub last_caught_up_ms: i64,
    pub last_fetch_leader_leo: i64,
    pub last_fetch_ms: i64,
}

impl ReplicaState {
    fn reset(in_sync: bool, now_ms: i64) -> Self {
        ReplicaState {
            log_end_offset: UNKNOWN_OFFSET,
            last_caught_up_ms: if in_sync { now_ms } else { NEVER_MS },
            last_fetch_leader_leo: UNKNOWN_OFFSET,
            last_fetch_ms: NEVER_MS,
        }
    }

    /// `Replica.isCaughtUp`.
    pub fn is_caught_up(&self, leader_leo: i64, now_ms: i64, lag_max_ms: i64) -> bool {
        self.log_end_offset == leader_leo
            || now_ms.saturating_sub(self.last_caught_up_ms) <= lag_max_ms
    }
}

/// An AlterPartition in flight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PendingIsr {
    /// What was proposed.
    pub proposed: Vec<i32>,
    /// What counts for HW and acks meanwhile: the larger of the two.
    pub maximal: Vec<i32>,
    /// Which request carries it.
    pub correlation_id: i32,
}

/// A partition this broker leads.
#[derive(Clone, Debug, Serialize)]
pub struct LeaderPartition {
    pub tp: TopicPartition,
    pub local_id: i32,
    pub replicas: Vec<i32>,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// The committed ISR, as the controller last confirmed it.
    pub isr: Vec<i32>,
    pub pending: Option<PendingIsr>,
    /// LEO when this leader epoch began: followers must reach it to rejoin the ISR.
    pub leader_epoch_start_offset: i64,
    /// `min(min.insync.replicas, replication factor)`.
    pub effective_min_isr: usize,
    pub followers: BTreeMap<i32, ReplicaState>,
}

/// What an ISR change looks like, for the AlterPartition request and the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsrProposal {
    pub from: Vec<i32>,
    pub to: Vec<i32>,
}

impl LeaderPartition {
    /// `Partition.makeLeader` for a new leader epoch: every follower's state is reset, ISR
    /// members counting as caught up now.
    pub fn new(
        record: &PartitionRecord,
        local_id: i32,
        leader_log_end_offset: i64,
        min_insync_replicas: i32,
        now_ms: i64,
    ) -> Self {
        let followers = record
            .replicas
            .iter()
            .filter(|r| **r != local_id)
            .map(|r| (*r, ReplicaState::reset(record.isr.contains(r), now_ms)))
            .collect();
        let effective_min_isr = (min_insync_replicas.max(1) as usize).min(record.replicas.len());
        LeaderPartition {
            tp: record.tp.clone(),
            local_id,
            replicas: record.replicas.clone(),
            leader_epoch: record.leader_epoch,
            partition_epoch: record.partition_epoch,
            isr: record.isr.clone(),
            pending: None,
            leader_epoch_start_offset: leader_log_end_offset,
            effective_min_isr: effective_min_isr.max(1),
            followers,
        }
    }

    /// The ISR that counts for the HW and for acks.
    pub fn maximal_isr(&self) -> &[i32] {
        self.pending.as_ref().map_or(&self.isr, |p| &p.maximal)
    }

    /// `isUnderMinIsr`: judged on the committed ISR.
    pub fn is_under_min_isr(&self) -> bool {
        self.isr.len() < self.effective_min_isr
    }

    /// The controller committed a newer partition state (an AlterPartition response or a
    /// metadata record): it replaces the ISR and supersedes any pending proposal. A state no
    /// newer than ours changes nothing.
    pub fn commit_isr(&mut self, isr: Vec<i32>, partition_epoch: i32) {
        if partition_epoch <= self.partition_epoch {
            return;
        }
        self.isr = isr;
        self.partition_epoch = partition_epoch;
        self.pending = None;
    }

    /// `updateFollowerFetchState`: a follower fetched at `fetch_offset`.
    pub fn update_follower_fetch_state(
        &mut self,
        replica: i32,
        fetch_offset: i64,
        leader_leo: i64,
        now_ms: i64,
    ) {
        let Some(state) = self.followers.get_mut(&replica) else {
            return;
        };
        if fetch_offset >= leader_leo {
            state.last_caught_up_ms = state.last_caught_up_ms.max(now_ms);
        } else if fetch_offset >= state.last_fetch_leader_leo {
            state.last_caught_up_ms = state.last_caught_up_ms.max(state.last_fetch_ms);
        }
        state.log_end_offset = fetch_offset;
        state.last_fetch_leader_leo = leader_leo;
        state.last_fetch_ms = now_ms;
    }

    /// `maybeExpandIsr`: the ISR this follower's fetch earns it, if any. The caller sends the
    /// AlterPartition and then records it with [`LeaderPartition::set_pending`].
    pub fn maybe_expand_isr(
        &self,
        replica: i32,
        high_watermark: i64,
        eligible: impl Fn(i32) -> bool,
    ) -> Option<IsrProposal> {
        if self.pending.is_some() || self.isr.contains(&replica) {
            return None;
        }
        let state = self.followers.get(&replica)?;
        let leo = state.log_end_offset;
        if leo >= high_watermark && leo >= self.leader_epoch_start_offset && eligible(replica) {
            let mut to = self.isr.clone();
            to.push(replica);
            self.order(&mut to);
            return Some(IsrProposal {
                from: self.isr.clone(),
                to,
            });
        }
        None
    }

    /// `maybeShrinkIsr`: the ISR without followers that fell behind, if any did.
    pub fn maybe_shrink_isr(
        &self,
        leader_leo: i64,
        now_ms: i64,
        lag_max_ms: i64,
    ) -> Option<IsrProposal> {
        if self.pending.is_some() {
            return None;
        }
        let to: Vec<i32> = self
            .isr
            .iter()
            .copied()
            .filter(|r| {
                *r == self.local_id
                    || self
                        .followers
                        .get(r)
                        .is_some_and(|s| s.is_caught_up(leader_leo, now_ms, lag_max_ms))
            })
            .collect();
        (to.len() < self.isr.len()).then(|| IsrProposal {
            from: self.isr.clone(),
            to,
        })
    }

    /// Records an AlterPartition in flight: an expansion counts at once (maximal ISR), a
    /// shrink only once committed.
    pub fn set_pending(&mut self, proposal: &IsrProposal, correlation_id: i32) {
        let mut maximal = self.isr.clone();
        for r in &proposal.to {
            if !maximal.contains(r) {
                maximal.push(*r);
            }
        }
        self.order(&mut maximal);
        self.pending = Some(PendingIsr {
            proposed: proposal.to.clone(),
            maximal,
            correlation_id,
        });
    }

    /// `maybeIncrementLeaderHW`: returns the new HW if it moved.
    pub fn maybe_increment_hw(
        &self,
        log: &mut UnifiedLog,
        now_ms: i64,
        lag_max_ms: i64,
        eligible: impl Fn(i32) -> bool,
    ) -> Option<i64> {
        if self.is_under_min_isr() {
            return None;
        }
        let leader_leo = log.log_end_offset();
        let maximal = self.maximal_isr();
        let mut hw = leader_leo;
        for (id, state) in &self.followers {
            let waits_for = maximal.contains(id)
                || (state.is_caught_up(leader_leo, now_ms, lag_max_ms) && eligible(*id));
            if state.log_end_offset < hw && waits_for {
                hw = state.log_end_offset;
            }
        }
        if hw > log.high_watermark() {
            log.update_high_watermark(hw);
            return Some(log.high_watermark());
        }
        None
    }

    /// ISRs are kept in assignment order, so the same set always prints the same way.
    fn order(&self, isr: &mut [i32]) {
        isr.sort_by_key(|r| {
            self.replicas
                .iter()
                .position(|x| x == r)
                .unwrap_or(usize::MAX)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{LogConfig, ProducerInfo, SimpleRecord};
    use crate::protocol::LeaderRecoveryState;

    const LAG: i64 = 30_000;
    /// Kafka's tests run on a wall clock; start far from 0 the same way.
    const T0: i64 = 1_700_000_000_000;
    const L: i32 = 1;
    const F: i32 = 2;
    const F1: i32 = 2;
    const F2: i32 = 3;

    fn log_with(records: usize, epoch: i32) -> UnifiedLog {
        let mut log = UnifiedLog::new(LogConfig::default(), 0);
        append(&mut log, records, epoch);
        log
    }

    fn append(log: &mut UnifiedLog, records: usize, epoch: i32) {
        let batch = (0..records)
            .map(|i| SimpleRecord::new(0, None, Some(&format!("v{i}"))))
            .collect();
        log.append_as_leader(batch, epoch, ProducerInfo::NONE, 0)
            .unwrap();
    }

    fn record(replicas: &[i32], isr: &[i32], leader_epoch: i32) -> PartitionRecord {
        PartitionRecord {
            tp: TopicPartition::new("t", 0),
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader: L,
            leader_epoch,
            partition_epoch: 1,
            leader_recovery_state: LeaderRecoveryState::Recovered,
        }
    }

    /// The leader's side of a follower fetch: state, expansion, HW.
    fn fetch(
        p: &mut LeaderPartition,
        log: &mut UnifiedLog,
        replica: i32,
        offset: i64,
        now: i64,
    ) -> Option<IsrProposal> {
        p.update_follower_fetch_state(replica, offset, log.log_end_offset(), now);
        let proposal = p.maybe_expand_isr(replica, log.high_watermark(), |_| true);
        if let Some(prop) = &proposal {
            p.set_pending(prop, 7);
        }
        p.maybe_increment_hw(log, now, LAG, |_| true);
        proposal
    }

    #[test]
    fn f1_isr_expansion() {
        let mut log = log_with(10, 4);
        let mut p = LeaderPartition::new(&record(&[L, F], &[L], 5), L, 10, 1, T0);
        p.maybe_increment_hw(&mut log, T0, LAG, |_| true);
        assert_eq!(log.high_watermark(), 10, "the leader alone is the ISR");

        assert_eq!(fetch(&mut p, &mut log, F, 3, T0 + 1), None, "LEO 3 < HW");
        assert_eq!(p.isr, [L]);

        let prop = fetch(&mut p, &mut log, F, 10, T0 + 2).expect("expansion");
        assert_eq!(prop.to, [L, F]);
        assert_eq!(p.isr, [L], "committed ISR unchanged while pending");
        assert_eq!(p.maximal_isr(), [L, F]);
        assert_eq!(p.followers[&F].last_caught_up_ms, T0 + 2);

        p.commit_isr(vec![L, F], 2);
        assert_eq!(p.isr, [L, F]);
        assert_eq!(p.maximal_isr(), [L, F]);
    }

    #[test]
    fn f2_maybe_shrink_isr() {
        let mut log = log_with(10, 0);
        log.update_high_watermark(0);
        let mut p = LeaderPartition::new(&record(&[L, F1, F2], &[L, F1, F2], 1), L, 10, 1, T0);
        fetch(&mut p, &mut log, F1, 10, T0);
        assert_eq!(p.maybe_shrink_isr(10, T0, LAG), None, "nothing yet");

        let later = T0 + LAG + 1;
        let prop = p.maybe_shrink_isr(10, later, LAG).expect("shrink");
        assert_eq!(prop.to, [L, F1]);
        p.set_pending(&prop, 9);
        assert_eq!(p.isr, [L, F1, F2]);
        assert_eq!(
            p.maximal_isr(),
            [L, F1, F2],
            "a pending shrink keeps the larger ISR"
        );
        p.maybe_increment_hw(&mut log, later, LAG, |_| true);
        assert_eq!(log.high_watermark(), 0);

        p.commit_isr(vec![L, F1], 2);
        p.maybe_increment_hw(&mut log, later, LAG, |_| true);
        assert_eq!(p.isr, [L, F1]);
        assert_eq!(log.high_watermark(), 10);
    }

    #[test]
    fn f3_hw_does_not_advance_under_min_isr() {
        let mut log = log_with(10, 0);
        log.update_high_watermark(0);
        let mut p = LeaderPartition::new(&record(&[L, F1, F2], &[L, F1], 1), L, 10, 3, T0);
        assert!(p.is_under_min_isr());
        fetch(&mut p, &mut log, F1, 10, T0 + 1);
        assert_eq!(log.high_watermark(), 0);
        let prop = fetch(&mut p, &mut log, F2, 10, T0 + 2).expect("expansion");
        assert_eq!(p.maximal_isr().len(), 3);
        assert_eq!(
            log.high_watermark(),
            0,
            "still under min ISR: one AlterPartition pending"
        );
        p.commit_isr(prop.to, 2);
        p.maybe_increment_hw(&mut log, T0 + 3, LAG, |_| true);
        assert_eq!(log.high_watermark(), 10);
    }

    #[test]
    fn f4_follower_must_reach_the_current_leader_epoch_to_join() {
        let mut log = UnifiedLog::new(LogConfig::default(), 0);
        let rec = record(&[L, F1, F2], &[L, F2], 8);
        let mut p = LeaderPartition::new(&rec, L, 0, 1, T0);
        append(&mut log, 2, 8);
        append(&mut log, 3, 8);
        p.maybe_increment_hw(&mut log, T0, LAG, |_| true);
        assert_eq!(log.high_watermark(), 0);
        fetch(&mut p, &mut log, F2, 0, T0 + 1);
        fetch(&mut p, &mut log, F2, 1, T0 + 2);
        assert_eq!(log.high_watermark(), 1);

        // Follower in epoch 9, leader again in epoch 10: the new epoch starts at offset 5.
        let mut p = LeaderPartition::new(&record(&[L, F1, F2], &[L, F2], 10), L, 5, 1, T0 + 3);
        append(&mut log, 2, 10);
        assert_eq!(fetch(&mut p, &mut log, F1, 0, T0 + 4), None);
        assert_eq!(
            fetch(&mut p, &mut log, F1, 1, T0 + 5),
            None,
            "LEO ≥ HW is not enough"
        );
        assert_eq!(p.isr, [L, F2]);
        let prop = fetch(&mut p, &mut log, F1, 5, T0 + 6).expect("reached the epoch start");
        assert_eq!(prop.to, [L, F1, F2]);
        assert_eq!(p.isr, [L, F2]);
        assert_eq!(p.maximal_isr(), [L, F1, F2]);
    }

    #[test]
    fn a_stale_partition_state_neither_changes_the_isr_nor_drops_a_proposal() {
        let mut p = LeaderPartition::new(&record(&[L, F], &[L], 1), L, 10, 1, T0);
        p.update_follower_fetch_state(F, 10, 10, T0);
        let prop = p.maybe_expand_isr(F, 10, |_| true).expect("expansion");
        p.set_pending(&prop, 3);
        p.commit_isr(vec![L], 1); // our own last commit, replayed from the metadata log
        assert_eq!(p.maximal_isr(), [L, F], "the proposal is still pending");
        p.commit_isr(vec![L, F], 2);
        assert_eq!((p.isr.clone(), p.pending.clone()), (vec![L, F], None));
    }

    #[test]
    fn caught_up_as_of_the_previous_fetch() {
        let mut p = LeaderPartition::new(&record(&[L, F], &[L], 1), L, 10, 1, T0);
        p.update_follower_fetch_state(F, 10, 10, T0 + 100);
        // The leader appended meanwhile; a fetch at the old LEO counts as of the last fetch.
        p.update_follower_fetch_state(F, 10, 15, T0 + 200);
        assert_eq!(p.followers[&F].last_caught_up_ms, T0 + 100);
        p.update_follower_fetch_state(F, 15, 15, T0 + 300);
        assert_eq!(p.followers[&F].last_caught_up_ms, T0 + 300);
        // Behind both the current and the previous LEO: no credit.
        p.update_follower_fetch_state(F, 12, 20, T0 + 400);
        assert_eq!(p.followers[&F].last_caught_up_ms, T0 + 300);
    }
}
