//! The delivery checker: the Jepsen Kafka anomaly taxonomy over what clients observed.
//!
//! Jepsen's `jepsen.tests.kafka` analysis judges a Kafka-like system by its clients' eyes
//! alone: every value is unique, sends report the offset they were given, polls report the
//! `(offset, value)` pairs they returned. From those observations it builds each partition's
//! *version order* (the values by offset) and looks for records that went missing, were read
//! out of order, or disagree. We follow its definitions, so a run of the simulator can be read
//! the way a Jepsen report is read; the summary's final-log numbers (`lost_write` against the
//! final log, `duplicate_in_log`, ...) stay beside them as the simulator's privileged view.
//!
//! Observations are recorded as the run steps ([`Observations::absorb`]); [`check`] analyses
//! them at any point — after a run, or mid-run for the lab. Every anomaly names its records
//! and the step at which it became true.
//!
//! Rebalances: under `subscribe`, a consumer's partitions come and go, and its position in a
//! partition it gets back starts from the committed offset — so re-reading (a nonmonotonic
//! poll) or jumping ahead (a skip) across an assignment change is legitimate. As in Jepsen,
//! consecutive polls of a partition are only compared when the consumer kept the partition in
//! between (no assignment change, seek, crash or restart of the consumer).

use crate::kernel::{CommandNote, EventKind, NodeId, TraceEvent};
use crate::node::{Input, KafkaNode, Note};
use crate::protocol::TopicPartition;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One client observation, in trace order.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Observation {
    /// A producer's `send()`.
    Send {
        step: u64,
        producer: NodeId,
        value: Arc<str>,
        tp: TopicPartition,
    },
    /// The send was acknowledged at `offset`.
    Acked {
        step: u64,
        time_us: u64,
        value: Arc<str>,
        offset: i64,
    },
    /// The send definitely failed: it was never written (Jepsen's `:fail`).
    Failed { step: u64, value: Arc<str> },
    /// One `poll()`'s records of one partition, in the order returned.
    Poll {
        step: u64,
        consumer: NodeId,
        tp: TopicPartition,
        records: Vec<(i64, Arc<str>)>,
    },
    /// The consumer's position in `tp` (or in every partition, for `None`) may jump for a
    /// legitimate reason: an assignment change, a seek, a crash or restart.
    Discontinuity {
        step: u64,
        consumer: NodeId,
        tp: Option<TopicPartition>,
    },
}

/// The observation log, folded from the trace.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Observations {
    /// Shared between clones (lab snapshots) but for its newest entries.
    pub log: crate::shared_log::SharedLog<Observation>,
}

impl Observations {
    pub fn absorb(&mut self, event: &TraceEvent<KafkaNode>) {
        let step = event.step;
        if let Some(node) = event.node {
            match &event.kind {
                EventKind::Start
                | EventKind::Command(CommandNote::Crash(_) | CommandNote::RemoveNode) => {
                    self.log.push(Observation::Discontinuity {
                        step,
                        consumer: node,
                        tp: None,
                    })
                }
                EventKind::Input(Input::Seek { tp, .. }) => {
                    self.log.push(Observation::Discontinuity {
                        step,
                        consumer: node,
                        tp: Some(tp.clone()),
                    })
                }
                _ => {}
            }
        }
        for note in &event.notes {
            let node = event.node.unwrap_or(NodeId(u32::MAX));
            match note {
                Note::Sent { value, tp, .. } => self.log.push(Observation::Send {
                    step,
                    producer: node,
                    value: value.clone(),
                    tp: tp.clone(),
                }),
                Note::Acked { value, offset, .. } => self.log.push(Observation::Acked {
                    step,
                    time_us: event.time_us,
                    value: value.clone(),
                    offset: *offset,
                }),
                Note::SendFailed { value, .. } => self.log.push(Observation::Failed {
                    step,
                    value: value.clone(),
                }),
                Note::Polled { tp, records } => self.log.push(Observation::Poll {
                    step,
                    consumer: node,
                    tp: tp.clone(),
                    records: records
                        .iter()
                        .filter_map(|(o, v)| Some((*o, v.clone()?)))
                        .collect(),
                }),
                Note::PartitionsAssigned { partitions, .. }
                | Note::PartitionsRevoked { partitions, .. }
                | Note::PartitionsLost { partitions, .. } => {
                    for tp in partitions {
                        self.log.push(Observation::Discontinuity {
                            step,
                            consumer: node,
                            tp: Some(tp.clone()),
                        });
                    }
                }
                _ => {}
            }
        }
    }
}

/// The kinds of anomaly, with Jepsen's names (`-` spelled `_`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// An acknowledged value at or below the highest offset anyone read in its partition was
    /// never read.
    LostWrite,
    /// An acknowledged value nobody read (and not a lost write: nothing beyond it was read).
    Unseen,
    /// A value observed at two or more offsets.
    Duplicate,
    /// Two different values observed at the same offset of a partition.
    InconsistentOffsets,
    /// A poll returned a value whose send definitely failed.
    AbortedRead,
    /// A consumer's consecutive polls of a partition skipped values in between.
    PollSkip,
    /// A consumer's next poll of a partition went back (or stayed) in the version order.
    NonmonotonicPoll,
    /// One poll's records of a partition skip values.
    IntPollSkip,
    /// One poll's records of a partition go back in the version order.
    IntNonmonotonicPoll,
    /// A producer's later send to a partition sits before its earlier one.
    NonmonotonicSend,
}

impl AnomalyKind {
    pub const ALL: [AnomalyKind; 10] = [
        AnomalyKind::LostWrite,
        AnomalyKind::Unseen,
        AnomalyKind::Duplicate,
        AnomalyKind::InconsistentOffsets,
        AnomalyKind::AbortedRead,
        AnomalyKind::PollSkip,
        AnomalyKind::NonmonotonicPoll,
        AnomalyKind::IntPollSkip,
        AnomalyKind::IntNonmonotonicPoll,
        AnomalyKind::NonmonotonicSend,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::LostWrite => "lost_write",
            AnomalyKind::Unseen => "unseen",
            AnomalyKind::Duplicate => "duplicate",
            AnomalyKind::InconsistentOffsets => "inconsistent_offsets",
            AnomalyKind::AbortedRead => "aborted_read",
            AnomalyKind::PollSkip => "poll_skip",
            AnomalyKind::NonmonotonicPoll => "nonmonotonic_poll",
            AnomalyKind::IntPollSkip => "int_poll_skip",
            AnomalyKind::IntNonmonotonicPoll => "int_nonmonotonic_poll",
            AnomalyKind::NonmonotonicSend => "nonmonotonic_send",
        }
    }
}

/// One anomaly: what, where, which records, and the step at which it became true.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub tp: TopicPartition,
    /// The values involved (for a skip, the skipped ones; for a nonmonotonic pair, the
    /// earlier then the later read).
    pub values: Vec<Arc<str>>,
    pub step: u64,
}

/// Every anomaly found, by kind in [`AnomalyKind::ALL`] order, then by step.
pub fn check(obs: &Observations) -> Vec<Anomaly> {
    let mut found = Vec::new();
    let order = VersionOrders::build(obs, &mut found);
    sends(obs, &order, &mut found);
    polls(obs, &order, &mut found);
    found.sort_by_key(|a| (a.kind, a.step));
    found
}

/// Each partition's values by offset, from every send acknowledgment and every poll.
struct VersionOrders {
    /// tp → offset → (value, step first observed).
    by_offset: BTreeMap<TopicPartition, BTreeMap<i64, (Arc<str>, u64)>>,
    /// value → (tp, lowest offset observed).
    offset_of: BTreeMap<Arc<str>, (TopicPartition, i64)>,
}

impl VersionOrders {
    fn build(obs: &Observations, found: &mut Vec<Anomaly>) -> Self {
        let mut tp_of: BTreeMap<&Arc<str>, &TopicPartition> = BTreeMap::new();
        let mut orders = VersionOrders {
            by_offset: BTreeMap::new(),
            offset_of: BTreeMap::new(),
        };
        let mut duplicated: BTreeSet<Arc<str>> = BTreeSet::new();
        for o in &obs.log {
            let seen: Vec<(&TopicPartition, i64, &Arc<str>, u64)> = match o {
                Observation::Send { value, tp, .. } => {
                    tp_of.insert(value, tp);
                    continue;
                }
                Observation::Acked {
                    step,
                    value,
                    offset,
                    ..
                } => match tp_of.get(value) {
                    Some(tp) => vec![(*tp, *offset, value, *step)],
                    None => continue,
                },
                Observation::Poll {
                    step, tp, records, ..
                } => records
                    .iter()
                    .map(|(off, v)| (tp, *off, v, *step))
                    .collect(),
                _ => continue,
            };
            for (tp, offset, value, step) in seen {
                let slot = orders.by_offset.entry(tp.clone()).or_default();
                match slot.get(&offset) {
                    Some((other, _)) if other != value => found.push(Anomaly {
                        kind: AnomalyKind::InconsistentOffsets,
                        tp: tp.clone(),
                        values: vec![other.clone(), value.clone()],
                        step,
                    }),
                    Some(_) => {}
                    None => {
                        slot.insert(offset, (value.clone(), step));
                    }
                }
                match orders.offset_of.get_mut(value) {
                    Some((_, first)) if *first != offset => {
                        if duplicated.insert(value.clone()) {
                            found.push(Anomaly {
                                kind: AnomalyKind::Duplicate,
                                tp: tp.clone(),
                                values: vec![value.clone()],
                                step,
                            });
                        }
                        *first = (*first).min(offset);
                    }
                    Some(_) => {}
                    None => {
                        orders.offset_of.insert(value.clone(), (tp.clone(), offset));
                    }
                }
            }
        }
        orders
    }

    /// The values strictly between two offsets of `tp`, in offset order.
    fn between(&self, tp: &TopicPartition, low: i64, high: i64) -> Vec<Arc<str>> {
        if high <= low + 1 {
            return Vec::new();
        }
        self.by_offset.get(tp).map_or_else(Vec::new, |m| {
            m.range(low + 1..high)
                .map(|(_, (v, _))| v.clone())
                .collect()
        })
    }
}

/// Lost writes, unseen values, aborted reads and nonmonotonic sends.
fn sends(obs: &Observations, order: &VersionOrders, found: &mut Vec<Anomaly>) {
    let mut sent: BTreeMap<&Arc<str>, (NodeId, &TopicPartition)> = BTreeMap::new();
    let mut acked: BTreeMap<&Arc<str>, (i64, u64)> = BTreeMap::new();
    let mut failed: BTreeMap<&Arc<str>, u64> = BTreeMap::new();
    // tp → (highest offset read, the step that read it).
    let mut highest_read: BTreeMap<&TopicPartition, (i64, u64)> = BTreeMap::new();
    // value → first step it was read.
    let mut read: BTreeMap<&Arc<str>, u64> = BTreeMap::new();
    let mut aborted: BTreeSet<&Arc<str>> = BTreeSet::new();
    for o in &obs.log {
        match o {
            Observation::Send {
                producer,
                value,
                tp,
                ..
            } => {
                sent.insert(value, (*producer, tp));
            }
            Observation::Acked {
                step,
                value,
                offset,
                ..
            } => {
                acked.insert(value, (*offset, *step));
            }
            Observation::Failed { step, value } => {
                failed.insert(value, *step);
            }
            Observation::Poll {
                step, tp, records, ..
            } => {
                for (offset, value) in records {
                    read.entry(value).or_insert(*step);
                    let top = highest_read.entry(tp).or_insert((*offset, *step));
                    if *offset > top.0 {
                        *top = (*offset, *step);
                    }
                    if failed.contains_key(value) && aborted.insert(value) {
                        found.push(Anomaly {
                            kind: AnomalyKind::AbortedRead,
                            tp: tp.clone(),
                            values: vec![value.clone()],
                            step: *step,
                        });
                    }
                }
            }
            Observation::Discontinuity { .. } => {}
        }
    }
    // A value read before its send failed (a failure reported after the read).
    for (value, fail_step) in &failed {
        if let (Some(read_step), Some((_, tp))) = (read.get(value), sent.get(value))
            && !aborted.contains(value)
        {
            found.push(Anomaly {
                kind: AnomalyKind::AbortedRead,
                tp: (*tp).clone(),
                values: vec![(*value).clone()],
                step: (*read_step).max(*fail_step),
            });
        }
    }
    for (value, (offset, ack_step)) in &acked {
        if read.contains_key(value) {
            continue;
        }
        let Some((_, tp)) = sent.get(value) else {
            continue;
        };
        let (kind, step) = match highest_read.get(tp) {
            Some((top, top_step)) if top >= offset => {
                (AnomalyKind::LostWrite, (*ack_step).max(*top_step))
            }
            _ => (AnomalyKind::Unseen, *ack_step),
        };
        found.push(Anomaly {
            kind,
            tp: (*tp).clone(),
            values: vec![(*value).clone()],
            step,
        });
    }
    // Per producer and partition, acknowledged sends in send order must climb.
    let mut last: BTreeMap<(NodeId, &TopicPartition), (&Arc<str>, i64)> = BTreeMap::new();
    for o in &obs.log {
        let Observation::Send {
            producer,
            value,
            tp,
            ..
        } = o
        else {
            continue;
        };
        let Some((_, offset)) = order.offset_of.get(value) else {
            continue; // never observed anywhere: no place in the version order
        };
        if let Some((before, prev)) = last.get(&(*producer, tp))
            && offset < prev
        {
            let step = acked.get(value).map_or(0, |(_, s)| *s);
            found.push(Anomaly {
                kind: AnomalyKind::NonmonotonicSend,
                tp: (*tp).clone(),
                values: vec![(*before).clone(), value.clone()],
                step: step.max(acked.get(before).map_or(0, |(_, s)| *s)),
            });
        }
        last.insert((*producer, tp), (value, *offset));
    }
}

/// Skips and inversions within one poll and between a consumer's consecutive polls.
fn polls(obs: &Observations, order: &VersionOrders, found: &mut Vec<Anomaly>) {
    // (consumer, tp) → offset of the last record it read, while it kept the partition.
    let mut last: BTreeMap<(NodeId, TopicPartition), (i64, Arc<str>)> = BTreeMap::new();
    for o in &obs.log {
        match o {
            Observation::Discontinuity {
                consumer, tp: None, ..
            } => last.retain(|(c, _), _| c != consumer),
            Observation::Discontinuity {
                consumer,
                tp: Some(tp),
                ..
            } => {
                last.remove(&(*consumer, tp.clone()));
            }
            Observation::Poll {
                step,
                consumer,
                tp,
                records,
            } => {
                let key = (*consumer, tp.clone());
                let mut prev = last.get(&key).cloned();
                for (i, (offset, value)) in records.iter().enumerate() {
                    let internal = i > 0;
                    if let Some((p, pv)) = &prev {
                        let (skip, back) = if internal {
                            (AnomalyKind::IntPollSkip, AnomalyKind::IntNonmonotonicPoll)
                        } else {
                            (AnomalyKind::PollSkip, AnomalyKind::NonmonotonicPoll)
                        };
                        if offset <= p {
                            found.push(Anomaly {
                                kind: back,
                                tp: tp.clone(),
                                values: vec![pv.clone(), value.clone()],
                                step: *step,
                            });
                        } else {
                            let skipped = order.between(tp, *p, *offset);
                            if !skipped.is_empty() {
                                found.push(Anomaly {
                                    kind: skip,
                                    tp: tp.clone(),
                                    values: skipped,
                                    step: *step,
                                });
                            }
                        }
                    }
                    prev = Some((*offset, value.clone()));
                }
                if let Some(p) = prev {
                    last.insert(key, p);
                }
            }
            _ => {}
        }
    }
}

/// Anomaly counts by kind name, every kind present (zero when none).
pub fn counts(anomalies: &[Anomaly]) -> BTreeMap<&'static str, u64> {
    let mut c: BTreeMap<&'static str, u64> =
        AnomalyKind::ALL.iter().map(|k| (k.name(), 0)).collect();
    for a in anomalies {
        *c.entry(a.kind.name()).or_default() += 1;
    }
    c
}

mod story;
pub use story::{Story, StoryEvent};

#[cfg(test)]
mod tests;
