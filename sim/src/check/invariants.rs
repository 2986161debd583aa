//! The invariant checker: Kafka's replication and group guarantees, checked after every step.
//!
//! Each invariant is conditioned exactly as Kafka's guarantee is, so that a report means the
//! model did something Kafka promises it never does — or, in the scenarios that replay an
//! old Kafka bug on purpose, that the bug happened, and where.
//!
//! 1. **`hw-monotonic`** — a leader's high watermark never decreases within its leader epoch.
//!    Checked whenever a step's notes touch a partition the stepping broker leads. (A new
//!    leader may start below its predecessor's HW — a follower's HW lags by a fetch — so
//!    the rule is per epoch.)
//! 2. **`single-leader-per-epoch`** — at most one broker leads a partition in a given leader
//!    epoch: every `BecameLeader` claim of `(partition, epoch)` must name the broker the
//!    controller elected for that epoch (or the bootstrap's `replicas[0]` for epoch 0), and
//!    the controller never hands out an epoch twice. Two brokers may both *act* as leader at
//!    once — a deposed leader that has not heard of its successor (`acks1-data-loss`) — but
//!    never in the same epoch.
//! 3. **`isr-holds-committed`** — in-sync replicas hold every committed record: when a leader
//!    moves its HW over `[from, hw)`, each member of its maximal ISR holds those offsets; a
//!    replica the controller adds to the ISR holds what its leader has committed; a replica in
//!    the controller's ISR never truncates below the committed end; a broker that becomes
//!    leader in a clean election holds everything committed. Exempt: an unclean
//!    election, and a replica that lost its unflushed tail in a power loss, until it leaves
//!    the ISR (see `committed.rs`).
//! 4. **`committed-prefix-agrees`** — replicas agree on what is below their high watermarks:
//!    every record a replica's HW moves over is the record leaders committed at that offset.
//!    Records since removed by retention or compaction do not count.
//! 5. **`acked-write-durable`** — a write acknowledged with `acks=all` on a partition whose
//!    brokers all have `min.insync.replicas` ≥ 2 (capped by the replication factor, as Kafka
//!    caps it) and whose topic forbids unclean election is never lost: it is committed at the
//!    offset it was acknowledged with, and every later leader holds it there — unless
//!    retention or compaction removed it, or a power loss took it from every in-sync replica
//!    (Kafka does not fsync; that is outside its guarantee).
//! 6. **`single-generation`** — a consumer group has one generation active at a time: no
//!    partition is assigned to two members in one generation, and coordinators accept commits
//!    only from the current generation (see `generations.rs` for why that is the precise form).
//!
//! The checker reads only the step's trace notes and, for the partitions and groups they name,
//! the state of the nodes concerned: the cost is proportional to what the step changed, plus
//! one comparison per committed record per in-sync replica over the whole run.
//!
//! ## Which built-in scenarios break which invariant, on purpose
//!
//! With their own settings every built-in scenario keeps all six (tests run them over seeds
//! 0..50 with the checker on). The KIP scenarios replay old Kafka bugs with a setting:
//!
//! - `kip101-hw-truncation --config sim.follower.truncation=pre-kip-101` breaks **3**: at
//!   about 9 s broker-1, still in the ISR, becomes a follower and truncates to its own stale
//!   high watermark, dropping the committed m2 — the step KIP-101 is about. With
//!   `--config min.insync.replicas=2` as well, broker-1's election at about 19 s also breaks
//!   **5**: m2 was acknowledged with acks=all under the settings that promise it survives.
//! - `kip101-divergence --config sim.follower.truncation=pre-kip-101` breaks **4**: after the
//!   double power loss broker-2 leads and commits m3 at offset 1 (losing m2 is legitimate:
//!   every replica lost power, and broker-2 never flushed it); at about 47 s broker-1 rejoins
//!   the ISR still holding m2 there — the silent divergence.
//! - `kip279-fast-failover --config sim.follower.truncation=kip-101` breaks **4**: at about
//!   32 s broker-2's high watermark moves over its epoch-1 record at offset 1, where the
//!   leader broker-1 committed its epoch-0 record — the KIP-101 answer left them diverged.
//! - Any scenario with a leader change breaks **3** with `pre-kip-101`: a new follower cuts its
//!   log to its own high watermark, which lags the leader's by a fetch, so an in-sync replica
//!   drops committed records (`leader-failure` at about 17 s). KIP-101 made that truncation
//!   epoch-based because, should that replica lead next, the records are gone
//!   (`kip101-hw-truncation`).
//!
//! And some scenarios lose data *without* breaking an invariant, because Kafka promises
//! nothing there — which is what they teach:
//! - `acks1-data-loss`: `acks=1` writes are acknowledged before they are committed, so their
//!   loss is not invariant 5's business (and the deposed leader that truncates them is out of
//!   the ISR by then).
//! - `unclean-election-data-loss`, `kip279-fast-failover`: unclean elections reset what counts
//!   as committed.
//! - `broker-faults`, `kip101-divergence`: a power loss takes unflushed records from every
//!   replica that had them.

use super::Found;
use super::committed::{Committed, Leadership};
use super::generations::Generations;
use super::{Invariant, Subject, Violation};
use crate::Simulation;
use crate::broker::Broker;
use crate::kernel::{EventKind, TraceEvent};
use crate::node::{KafkaNode, Note};
use crate::protocol::{NO_LEADER, TopicPartition};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Who holds a leader epoch of a partition.
#[derive(Clone, Copy, Debug)]
struct Claim {
    /// The broker, or `NO_LEADER` when the controller left the partition offline.
    leader: i32,
    /// Whether the controller made it an unclean election.
    unclean: bool,
}

/// Stops recording after this many violations (a broken run can cascade).
const MAX_VIOLATIONS: usize = 100;

/// Checks the invariants after each step. See the module docs.
#[derive(Clone, Debug, Default)]
pub struct InvariantChecker {
    /// (1) Per partition and leader epoch: the leader and the highest HW seen.
    leader_hw: BTreeMap<TopicPartition, BTreeMap<i32, (i32, i64)>>,
    /// (2) Per partition: who holds each leader epoch.
    claims: BTreeMap<TopicPartition, BTreeMap<i32, Claim>>,
    /// (2) Per partition: the newest epoch the controller elected.
    controller_epoch: BTreeMap<TopicPartition, i32>,
    /// (3)–(5).
    committed: Committed,
    /// (6).
    generations: Generations,
    violations: Vec<Violation>,
}

impl InvariantChecker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every violation so far, in the order found.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// Checks the step `sim` just took.
    pub fn after_step(&mut self, sim: &Simulation) {
        if self.violations.len() >= MAX_VIOLATIONS {
            return;
        }
        let Some(event) = sim.world().last_event() else {
            return;
        };
        let Some(node) = event.node else { return };
        let mut found = Found::new(event.step, event.time_us);
        match sim.world().node(node) {
            Some(KafkaNode::Broker(b)) => self.broker_step(sim, b, event, &mut found),
            Some(KafkaNode::Controller(_)) => {
                for note in &event.notes {
                    self.controller_note(sim, note, &mut found);
                }
            }
            Some(KafkaNode::Producer(p)) => {
                for note in &event.notes {
                    if let Note::Acked { value, tp, offset } = note {
                        self.committed
                            .on_acked(sim, p, value, tp, *offset, &mut found);
                    }
                }
            }
            Some(KafkaNode::Consumer(c)) => {
                for note in &event.notes {
                    if let Note::PartitionsAssigned {
                        group, generation, ..
                    } = note
                    {
                        let owner = match &c.config().group_instance_id {
                            Some(instance) => instance.clone(),
                            None => Arc::from(c.name()),
                        };
                        let assignment = c.assignment();
                        self.generations.on_assigned(
                            owner,
                            group,
                            *generation,
                            assignment,
                            &mut found,
                        );
                    }
                }
            }
            None => {}
        }
        self.violations.extend(found.violations);
    }

    fn broker_step(
        &mut self,
        sim: &Simulation,
        broker: &Broker,
        event: &TraceEvent<KafkaNode>,
        out: &mut Found,
    ) {
        if matches!(event.kind, EventKind::Start) {
            self.committed.on_broker_start(broker);
        }
        for note in &event.notes {
            match note {
                Note::HwAdvanced { tp, high_watermark } => {
                    self.committed
                        .on_hw_advanced(sim, broker, tp, *high_watermark, out);
                }
                Note::BecameLeader {
                    tp,
                    leader_epoch,
                    log_end_offset,
                    ..
                } => self.became_leader(broker, tp, *leader_epoch, *log_end_offset, out),
                Note::Truncated {
                    tp,
                    to_offset,
                    reason,
                    ..
                } => self
                    .committed
                    .on_truncated(sim, broker, tp, *to_offset, reason, out),
                Note::UnflushedLost {
                    tp, log_end_offset, ..
                } => self
                    .committed
                    .on_power_loss(broker.id(), tp, *log_end_offset),
                Note::SegmentsDeleted {
                    tp,
                    log_start_offset,
                    ..
                } => self
                    .committed
                    .on_segments_deleted(broker, tp, *log_start_offset),
                Note::OffsetsCommitted {
                    group, generation, ..
                } => {
                    if let Some(g) = broker.coordinator().group(group) {
                        self.generations
                            .on_offsets_committed(broker.id(), g, *generation, out);
                    }
                }
                _ => {}
            }
            if let Some(tp) = broker_note_partition(note) {
                self.check_leader_hw(broker, tp, out);
            }
        }
    }

    /// (1): the stepping broker, if it leads `tp`, has not moved its HW back in this epoch.
    fn check_leader_hw(&mut self, broker: &Broker, tp: &TopicPartition, out: &mut Found) {
        if let (Some(p), Some(log)) = (broker.leader_partition(tp), broker.log(tp)) {
            let hw = log.high_watermark();
            self.observe_leader_hw(tp, p.leader_epoch, broker.id(), hw, out);
        }
    }

    /// (1): `broker`, leading `tp` in `epoch`, has its HW at `hw`.
    fn observe_leader_hw(
        &mut self,
        tp: &TopicPartition,
        epoch: i32,
        broker: i32,
        hw: i64,
        out: &mut Found,
    ) {
        if !self.leader_hw.contains_key(tp) {
            self.leader_hw.insert(tp.clone(), BTreeMap::new());
        }
        let Some(epochs) = self.leader_hw.get_mut(tp) else {
            return;
        };
        match epochs.get_mut(&epoch) {
            None => {
                epochs.insert(epoch, (broker, hw));
            }
            Some((leader, seen)) if *leader == broker => {
                if hw < *seen {
                    let detail = format!(
                        "broker-{broker}, leader in epoch {epoch}, moved its high watermark back \
                         from {} to {hw}",
                        *seen
                    );
                    out.add(
                        Invariant::HwMonotonic,
                        Subject::Partition(tp.clone()),
                        detail,
                    );
                }
                *seen = (*seen).max(hw);
            }
            // Another broker in the same epoch: invariant 2 reports that.
            Some(_) => {}
        }
    }

    /// (2) a broker's claim, then (3)/(5) on what the new leader holds.
    fn became_leader(
        &mut self,
        broker: &Broker,
        tp: &TopicPartition,
        epoch: i32,
        log_end_offset: i64,
        out: &mut Found,
    ) {
        let claim = self.claim(tp, epoch, broker.id(), false, false, out);
        let superseded = self
            .controller_epoch
            .get(tp)
            .is_some_and(|newest| *newest > epoch);
        let leadership = Leadership {
            epoch,
            log_end_offset,
            unclean: claim.unclean,
            superseded,
        };
        self.committed.on_became_leader(broker, tp, leadership, out);
    }

    fn controller_note(&mut self, sim: &Simulation, note: &Note, out: &mut Found) {
        match note {
            Note::LeaderElected {
                tp,
                leader,
                leader_epoch,
                isr,
                unclean,
                ..
            } => {
                let newest = self.controller_epoch.get(tp).copied();
                if let Some(newest) = newest
                    && *leader_epoch <= newest
                {
                    let detail = format!(
                        "the controller elected {} in leader epoch {leader_epoch}, but it had \
                         already handed out epoch {newest}",
                        leader_name(*leader)
                    );
                    out.add(
                        Invariant::SingleLeaderPerEpoch,
                        Subject::Partition(tp.clone()),
                        detail,
                    );
                }
                self.controller_epoch.insert(
                    tp.clone(),
                    newest.unwrap_or(*leader_epoch).max(*leader_epoch),
                );
                self.claim(tp, *leader_epoch, *leader, true, *unclean, out);
                self.committed.on_isr(sim, tp, isr, out);
            }
            Note::IsrChanged { tp, isr, .. } => self.committed.on_isr(sim, tp, isr, out),
            _ => {}
        }
    }

    /// Records that `leader` holds `epoch` of `tp` (`by_controller`: the controller's
    /// election; otherwise a broker acting on it), reporting a second holder.
    fn claim(
        &mut self,
        tp: &TopicPartition,
        epoch: i32,
        leader: i32,
        by_controller: bool,
        unclean: bool,
        out: &mut Found,
    ) -> Claim {
        if !self.claims.contains_key(tp) {
            self.claims.insert(tp.clone(), BTreeMap::new());
        }
        let Some(epochs) = self.claims.get_mut(tp) else {
            return Claim { leader, unclean };
        };
        let claim = epochs.entry(epoch).or_insert(Claim { leader, unclean });
        if claim.leader != leader {
            let who = if by_controller {
                format!("the controller elected {}", leader_name(leader))
            } else {
                format!("{} became leader", leader_name(leader))
            };
            let detail = format!(
                "{who} in leader epoch {epoch}, which {} already holds",
                leader_name(claim.leader)
            );
            out.add(
                Invariant::SingleLeaderPerEpoch,
                Subject::Partition(tp.clone()),
                detail,
            );
        }
        claim.unclean |= unclean;
        *claim
    }
}

fn leader_name(leader: i32) -> String {
    if leader == NO_LEADER {
        "no broker (offline)".to_string()
    } else {
        format!("broker-{leader}")
    }
}

/// The partition a broker note is about, if any: the partitions whose leader state a step
/// may have changed.
fn broker_note_partition(note: &Note) -> Option<&TopicPartition> {
    match note {
        Note::Appended { tp, .. }
        | Note::HwAdvanced { tp, .. }
        | Note::SegmentRolled { tp, .. }
        | Note::SegmentsDeleted { tp, .. }
        | Note::Compacted { tp, .. }
        | Note::ProduceRejected { tp, .. }
        | Note::DuplicateBatch { tp, .. }
        | Note::BecameLeader { tp, .. }
        | Note::Truncated { tp, .. }
        | Note::IsrChangeProposed { tp, .. }
        | Note::AlterPartitionFailed { tp, .. } => Some(tp),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn found() -> Found {
        Found::new(3, 2_000_000)
    }

    fn quickstart() -> Simulation {
        let scenario = crate::scenario::load_builtin("quickstart")
            .expect("built in")
            .expect("valid");
        Simulation::new(Arc::new(scenario), 1)
    }

    fn tp() -> TopicPartition {
        TopicPartition::new("quickstart-events", 0)
    }

    fn elected(leader: i32, leader_epoch: i32) -> Note {
        Note::LeaderElected {
            tp: tp(),
            leader,
            leader_epoch,
            isr: vec![1],
            election: "ONLINE",
            unclean: false,
        }
    }

    #[test]
    fn a_leader_hw_may_not_go_back_within_an_epoch_but_may_in_a_new_one() {
        let mut c = InvariantChecker::new();
        let mut found = found();
        c.observe_leader_hw(&tp(), 2, 1, 10, &mut found);
        c.observe_leader_hw(&tp(), 2, 1, 12, &mut found);
        c.observe_leader_hw(&tp(), 3, 2, 11, &mut found);
        assert!(found.violations.is_empty(), "{found:?}");
        c.observe_leader_hw(&tp(), 2, 1, 9, &mut found);
        let out = found.violations;
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].invariant, Invariant::HwMonotonic);
        assert_eq!((out[0].step, out[0].time_us), (3, 2_000_000));
        assert!(out[0].detail.contains("from 12 to 9"), "{}", out[0]);
    }

    #[test]
    fn two_leaders_in_one_epoch_and_a_reused_epoch_are_caught() {
        let sim = quickstart();
        let mut c = InvariantChecker::new();
        let mut out = found();
        c.controller_note(&sim, &elected(2, 1), &mut out);
        c.claim(&tp(), 1, 2, false, false, &mut out);
        assert!(out.violations.is_empty(), "{out:?}");
        c.claim(&tp(), 1, 3, false, false, &mut out);
        assert_eq!(out.violations.len(), 1);
        let first = &out.violations[0];
        assert_eq!(first.invariant, Invariant::SingleLeaderPerEpoch);
        let expected = "broker-3 became leader in leader epoch 1, which broker-2 already holds";
        assert!(first.detail.contains(expected), "{first}");
        c.controller_note(&sim, &elected(3, 1), &mut out);
        let n = out.violations.len();
        assert_eq!(n, 3, "a reused epoch, and a second holder: {out:?}");
        c.controller_note(&sim, &elected(-1, 2), &mut out);
        c.claim(&tp(), 2, 1, false, false, &mut out);
        let n = out.violations.len();
        assert_eq!(n, 4, "nobody leads an offline epoch: {out:?}");
    }

    #[test]
    fn invariant_names_round_trip() {
        for i in Invariant::ALL {
            assert_eq!(Invariant::parse(i.name()), Some(i));
        }
    }
}
