//! Invariants 3, 4 and 5: what was committed stays committed, on every in-sync replica, in
//! the same form.
//!
//! The checker keeps a *ledger* per partition: the record at each offset below the highest
//! high watermark any leader has reached — what Kafka calls committed. Leaders write it as
//! their HW advances; everything else is compared against it, only over the offsets a step
//! touched:
//!
//! - a leader's HW advance over `[from, hw)`: its own records there must match the ledger
//!   where it already reaches (4), and each member of its maximal ISR — the replicas the HW
//!   waited for — must hold those offsets (3) with the same records (4);
//! - a follower's HW advance: its records below the new HW match the ledger (4);
//! - a replica the controller adds to the ISR holds what its leader has committed (3), with
//!   the same records (4);
//! - a truncation by a replica in the controller's ISR must not cut below the ledger's end (3);
//! - a new leader must hold the whole ledger (3), and every `acks=all` acknowledgment that
//!   Kafka promises to keep (5);
//! - an `acks=all` acknowledgment names the offset the record was committed at (5).
//!
//! Each replica's HW is checked from where it was last checked, so every committed record is
//! compared about once per replica over the whole run.
//!
//! Legitimate losses reset the ledger — to where the new leader's log stops agreeing with it —
//! instead of being reported:
//! an **unclean election** (Kafka trades committed data for availability), and a leader that
//! lost committed records in a **power loss** (Kafka does not fsync: when every in-sync replica
//! loses its unflushed tail, committed data is gone, and that is outside its guarantee). A
//! replica that lost its tail in a power loss is also exempt from (3) until it leaves the ISR:
//! its membership rests on fetches made before the loss, so the leader may commit what the
//! replica no longer holds. Offsets the log no longer has because retention or compaction
//! removed them are never counted as missing.

use super::ledger::{Guarantee, Mismatch, PartitionLedger};
use super::{Found, Invariant, Subject};
use crate::Simulation;
use crate::broker::{Broker, TRUNCATED_BELOW_LEADER_LOG_START};
use crate::clients::Producer;
use crate::log::UnifiedLog;
use crate::protocol::TopicPartition;
use std::collections::BTreeMap;
use std::sync::Arc;

fn broker_name(id: i32) -> String {
    format!("broker-{id}")
}

/// A broker's new leadership, as `BecameLeader` and the controller's election describe it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Leadership {
    pub epoch: i32,
    pub log_end_offset: i64,
    /// The controller chose it outside the ISR.
    pub unclean: bool,
    /// The controller has already elected a newer epoch: this one can commit nothing new.
    pub superseded: bool,
}

/// Invariants 3–5 over every partition.
#[derive(Clone, Debug, Default)]
pub(super) struct Committed {
    partitions: BTreeMap<TopicPartition, PartitionLedger>,
}

impl Committed {
    fn ledger(&mut self, tp: &TopicPartition) -> &mut PartitionLedger {
        if !self.partitions.contains_key(tp) {
            self.partitions
                .insert(tp.clone(), PartitionLedger::default());
        }
        self.partitions.get_mut(tp).expect("inserted above")
    }

    /// A replica's HW moved to `hw`: a leader commits, a follower must agree.
    pub fn on_hw_advanced(
        &mut self,
        sim: &Simulation,
        broker: &Broker,
        tp: &TopicPartition,
        hw: i64,
        out: &mut Found,
    ) {
        let Some(log) = broker.log(tp) else { return };
        let id = broker.id();
        let st = self.ledger(tp);
        let from = st
            .checked_hw
            .get(&id)
            .copied()
            .unwrap_or_else(|| log.log_start_offset())
            .min(hw);
        st.checked_hw.insert(id, hw);
        let subject = || Subject::Partition(tp.clone());
        if let Some(p) = broker.leader_partition(tp) {
            if st.is_history(p.leader_epoch) {
                return;
            }
            let me = format!("{} (leader in epoch {})", broker_name(id), p.leader_epoch);
            if let Some(m) = st.commit_from_leader(log, from, hw) {
                let detail = match m {
                    Mismatch::Differs {
                        offset,
                        expected,
                        found,
                    } => format!(
                        "{me} committed {} at offset {offset}, where {} was committed before",
                        found.describe(),
                        expected.describe()
                    ),
                    Mismatch::Missing { .. } => unreachable!("a leader commits what it holds"),
                };
                out.add(Invariant::CommittedPrefixAgrees, subject(), detail);
            }
            for member in p.maximal_isr().iter().filter(|m| **m != id) {
                if st.power_lost.contains(member) {
                    continue;
                }
                let Some(m_log) = sim.broker(*member).and_then(|b| b.log(tp)) else {
                    continue;
                };
                if let Some(m) = st.first_mismatch(m_log, from, hw) {
                    let isr = p.maximal_isr();
                    isr_member_mismatch(out, subject(), &me, *member, isr, hw, m);
                }
            }
        } else if let Some(f) = broker.follower_partition(tp) {
            if st.is_history(f.leader_epoch) {
                return;
            }
            if let Some(m) = st.first_mismatch(log, from, hw) {
                let (offset, expected, found) = match m {
                    Mismatch::Differs {
                        offset,
                        expected,
                        found,
                    } => (offset, expected, found.describe()),
                    Mismatch::Missing {
                        offset, expected, ..
                    } => (offset, expected, "nothing".to_string()),
                };
                let detail = format!(
                    "{}'s high watermark moved to {hw} over {found} at offset {offset}, but {} \
                     was committed there",
                    broker_name(id),
                    expected.describe()
                );
                out.add(Invariant::CommittedPrefixAgrees, subject(), detail);
            }
        }
    }

    /// A replica cut its log back to `to_offset`.
    pub fn on_truncated(
        &mut self,
        sim: &Simulation,
        broker: &Broker,
        tp: &TopicPartition,
        to_offset: i64,
        reason: &str,
        out: &mut Found,
    ) {
        let id = broker.id();
        let st = self.ledger(tp);
        st.lower_checked_hw(id, to_offset);
        if reason == TRUNCATED_BELOW_LEADER_LOG_START {
            return; // what went lies below the leader's log start: retention's doing
        }
        let committed = st.committed_end();
        let isr = sim
            .metadata()
            .partition(tp)
            .map(|p| p.isr.clone())
            .unwrap_or_default();
        if to_offset < committed && isr.contains(&id) && !st.power_lost.contains(&id) {
            let lost = st
                .at(to_offset)
                .map(|r| format!(" ({} at offset {to_offset})", r.describe()))
                .unwrap_or_default();
            let detail = format!(
                "{}, in the ISR {isr:?}, truncated its log to offset {to_offset} ({reason}), below \
                 the committed offset {committed}: it no longer holds committed records{lost}",
                broker_name(id)
            );
            out.add(
                Invariant::IsrHoldsCommitted,
                Subject::Partition(tp.clone()),
                detail,
            );
        }
        if broker.is_leader(tp)
            && let Some((offset, value)) = st.guarded.range(to_offset..).next()
        {
            let detail = format!(
                "the leader {} truncated its log to offset {to_offset}, removing \"{value}\" at \
                 offset {offset}, acknowledged with acks=all",
                broker_name(id)
            );
            out.add(
                Invariant::AckedWriteDurable,
                Subject::Partition(tp.clone()),
                detail,
            );
        }
    }

    /// `broker` took leadership of `tp`.
    pub fn on_became_leader(
        &mut self,
        broker: &Broker,
        tp: &TopicPartition,
        leadership: Leadership,
        out: &mut Found,
    ) {
        let Leadership {
            epoch,
            log_end_offset,
            unclean,
            superseded,
        } = leadership;
        let id = broker.id();
        let st = self.ledger(tp);
        if superseded || st.is_history(epoch) {
            return;
        }
        let power_lost = st.power_lost.remove(&id);
        if unclean || power_lost {
            // A legitimate loss. The new leader's log may also hold records that were never
            // committed where others were (a stale replica's divergent tail): the committed
            // history continues from where it stops agreeing.
            let Some(log) = broker.log(tp) else { return };
            let checked = st.checked_hw.get(&id).copied().unwrap_or(0);
            let keep = match st.first_mismatch(log, checked, log_end_offset) {
                Some(Mismatch::Differs { offset, .. } | Mismatch::Missing { offset, .. }) => offset,
                None => log_end_offset,
            };
            if keep < st.committed_end() || st.guarded.range(keep..).next().is_some() {
                st.reset(keep, epoch, out.step);
            }
            return;
        }
        let committed = st.committed_end();
        let lost_committed = log_end_offset < committed;
        let lost_acked = st
            .guarded
            .range(log_end_offset..)
            .next()
            .map(|(o, v)| (*o, v.clone()));
        if !lost_committed && lost_acked.is_none() {
            return;
        }
        let subject = || Subject::Partition(tp.clone());
        if lost_committed {
            let first = st
                .at(log_end_offset)
                .map(|r| format!(", starting with {}", r.describe()))
                .unwrap_or_default();
            let detail = format!(
                "{} became leader in epoch {epoch} (a clean election) with its log ending at \
                 {log_end_offset}, but records up to offset {committed} were committed: they are \
                 gone{first}",
                broker_name(id)
            );
            out.add(Invariant::IsrHoldsCommitted, subject(), detail);
        }
        if let Some((offset, value)) = lost_acked {
            let detail = format!(
                "\"{value}\" was acknowledged at offset {offset} with acks=all (min.insync.replicas \
                 >= 2, unclean election off), but the new leader {} (epoch {epoch}) has no record \
                 there: its log ends at {log_end_offset}",
                broker_name(id)
            );
            out.add(Invariant::AckedWriteDurable, subject(), detail);
        }
        // Reported; carry on from what the partition now holds.
        st.reset(log_end_offset, epoch, out.step);
    }

    /// A power loss left `broker`'s log of `tp` ending at `log_end_offset`.
    pub fn on_power_loss(&mut self, broker: i32, tp: &TopicPartition, log_end_offset: i64) {
        let st = self.ledger(tp);
        st.power_lost.insert(broker);
        st.lower_checked_hw(broker, log_end_offset);
    }

    /// The controller committed a new ISR. Replicas outside it must earn their way back in;
    /// a replica that joins claims to hold everything the leader has committed.
    pub fn on_isr(&mut self, sim: &Simulation, tp: &TopicPartition, isr: &[i32], out: &mut Found) {
        let st = self.ledger(tp);
        st.power_lost.retain(|b| isr.contains(b));
        let joined: Vec<i32> = isr
            .iter()
            .copied()
            .filter(|b| st.last_isr.as_ref().is_none_or(|last| !last.contains(b)))
            .collect();
        st.last_isr = Some(isr.to_vec());
        let Some(leader) = sim.metadata().partition(tp).map(|p| p.leader) else {
            return;
        };
        let Some(leader_hw) = sim
            .broker(leader)
            .and_then(|b| b.log(tp))
            .map(UnifiedLog::high_watermark)
        else {
            return;
        };
        for member in joined.into_iter().filter(|m| *m != leader) {
            let Some(log) = sim.broker(member).and_then(|b| b.log(tp)) else {
                continue;
            };
            let from = st
                .checked_hw
                .get(&member)
                .copied()
                .unwrap_or_else(|| log.log_start_offset());
            if let Some(m) = st.first_mismatch(log, from, leader_hw) {
                isr_join_mismatch(out, tp, member, isr, leader, leader_hw, m);
            }
        }
    }

    /// A broker (re)started: its high watermarks came back from the checkpoint file.
    pub fn on_broker_start(&mut self, broker: &Broker) {
        for (tp, log) in broker.logs() {
            if let Some(st) = self.partitions.get_mut(tp) {
                st.lower_checked_hw(broker.id(), log.high_watermark());
            }
        }
    }

    /// Retention on the leader moved its log start: acknowledgments below it are gone on
    /// purpose.
    pub fn on_segments_deleted(&mut self, broker: &Broker, tp: &TopicPartition, start: i64) {
        if broker.is_leader(tp)
            && let Some(st) = self.partitions.get_mut(tp)
        {
            st.guarded = st.guarded.split_off(&start);
        }
    }

    /// A producer learned that `value` is at `offset`.
    pub fn on_acked(
        &mut self,
        sim: &Simulation,
        producer: &Producer,
        value: &Arc<str>,
        tp: &TopicPartition,
        offset: i64,
        out: &mut Found,
    ) {
        if producer.config().acks != -1 {
            return;
        }
        let st = self.ledger(tp);
        let guarantee = *st.guarantee.get_or_insert_with(|| guarantee(sim, tp));
        if !guarantee.holds() {
            return;
        }
        let sent_step = sim.history().sends.get(value).map_or(0, |s| s.step);
        let committed = st.committed_end();
        let detail = match st.at(offset) {
            Some(r) if r.value.as_deref() != Some(&**value) => Some(format!(
                "\"{value}\" was acknowledged at offset {offset}, but {} is committed there",
                r.describe()
            )),
            None if offset >= committed && st.last_reset_step.is_none_or(|s| s < sent_step) => {
                Some(format!(
                    "\"{value}\" was acknowledged with acks=all at offset {offset} before it was \
                     committed (the committed end is {committed})"
                ))
            }
            _ => None,
        };
        if let Some(detail) = detail {
            out.add(
                Invariant::AckedWriteDurable,
                Subject::Partition(tp.clone()),
                detail,
            );
        }
        st.guarded.insert(offset, value.clone());
    }
}

fn isr_member_mismatch(
    out: &mut Found,
    subject: Subject,
    leader: &str,
    member: i32,
    isr: &[i32],
    hw: i64,
    m: Mismatch,
) {
    match m {
        Mismatch::Missing {
            offset,
            expected,
            log_end_offset,
        } => out.add(
            Invariant::IsrHoldsCommitted,
            subject,
            format!(
                "{leader} moved its high watermark to {hw}, but {} in its ISR {isr:?} does not \
                 hold offset {offset} ({}); its log ends at {log_end_offset}",
                broker_name(member),
                expected.describe()
            ),
        ),
        Mismatch::Differs {
            offset,
            expected,
            found,
        } => out.add(
            Invariant::CommittedPrefixAgrees,
            subject,
            format!(
                "{leader} committed {} at offset {offset} (high watermark {hw}), but {} in its \
                 ISR {isr:?} holds {} there",
                expected.describe(),
                broker_name(member),
                found.describe()
            ),
        ),
    }
}

fn isr_join_mismatch(
    out: &mut Found,
    tp: &TopicPartition,
    member: i32,
    isr: &[i32],
    leader: i32,
    leader_hw: i64,
    m: Mismatch,
) {
    let subject = Subject::Partition(tp.clone());
    let joined = format!(
        "{} joined the ISR {isr:?} of {} (high watermark {leader_hw})",
        broker_name(member),
        broker_name(leader)
    );
    match m {
        Mismatch::Missing {
            offset,
            expected,
            log_end_offset,
        } => out.add(
            Invariant::IsrHoldsCommitted,
            subject,
            format!(
                "{joined} without the committed offset {offset} ({}); its log ends at \
                 {log_end_offset}",
                expected.describe()
            ),
        ),
        Mismatch::Differs {
            offset,
            expected,
            found,
        } => out.add(
            Invariant::CommittedPrefixAgrees,
            subject,
            format!(
                "{joined} holding {} at offset {offset}, where {} is committed",
                found.describe(),
                expected.describe()
            ),
        ),
    }
}

/// Invariant 5's conditions for `tp`: its brokers' `min.insync.replicas` (capped by the
/// replication factor) and the controller's `unclean.leader.election.enable`.
fn guarantee(sim: &Simulation, tp: &TopicPartition) -> Guarantee {
    let scenario = sim.scenario();
    let Some(def) = scenario.topic(&tp.topic) else {
        return Guarantee {
            effective_min_isr: 1,
            unclean_allowed: true,
        };
    };
    let replicas = sim
        .metadata()
        .partition(tp)
        .map(|p| p.replicas.clone())
        .unwrap_or_default();
    let min_isr = replicas
        .iter()
        .map(|b| scenario.log_config_for(*b, def).min_insync_replicas)
        .min()
        .unwrap_or(1);
    Guarantee {
        effective_min_isr: min_isr.min(replicas.len() as i32),
        unclean_allowed: def.config.unclean_leader_election_enable,
    }
}
