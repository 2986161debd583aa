//! The causal story behind an anomaly: the faults, elections, truncations, ISR changes and
//! group events that preceded it, for `kafkalab run --explain`.
//!
//! The history keeps a short log of such events as the run steps (a few per fault, not one
//! per record), so a run can explain its anomalies without keeping its whole trace.

use super::{Anomaly, AnomalyKind, Observation, Observations};
use crate::kernel::{CommandNote, CrashKind, EventKind, NodeId, TraceEvent};
use crate::node::{KafkaNode, Note};
use crate::protocol::TopicPartition;
use serde::Serialize;

/// One event worth telling.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoryEvent {
    pub step: u64,
    pub time_us: u64,
    /// The node it happened at (a command's target, a note's author).
    pub node: Option<NodeId>,
    /// The partition it concerns; `None` for node-wide events (a crash, a fencing).
    pub tp: Option<TopicPartition>,
    /// What happened; `{peer}` stands for [`StoryEvent::peer`]'s name.
    pub what: String,
    /// The other end of a cut or healed link.
    pub peer: Option<NodeId>,
}

/// The story log, folded from the trace.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Story {
    pub events: Vec<StoryEvent>,
}

impl Story {
    pub fn absorb(&mut self, event: &TraceEvent<KafkaNode>) {
        let mut push_at = |node: Option<NodeId>, peer, tp: Option<&TopicPartition>, what| {
            self.events.push(StoryEvent {
                step: event.step,
                time_us: event.time_us,
                node,
                tp: tp.cloned(),
                what,
                peer,
            })
        };
        if let EventKind::Command(c) = &event.kind {
            if let CommandNote::Cut { from, to, both } | CommandNote::Heal { from, to, both } = c {
                let (arrow, done) = match (both, matches!(c, CommandNote::Cut { .. })) {
                    (true, true) => ("<->", "cut"),
                    (false, true) => ("->", "cut"),
                    (true, false) => ("<->", "healed"),
                    (false, false) => ("->", "healed"),
                };
                push_at(
                    Some(*from),
                    Some(*to),
                    None,
                    format!("link {arrow} {{peer}} {done}"),
                );
            }
        }
        let node = event.node;
        let mut push = |tp: Option<&TopicPartition>, what: String| push_at(node, None, tp, what);
        if let EventKind::Command(c) = &event.kind {
            let what = match c {
                CommandNote::Crash(CrashKind::Crash) => Some("crashed".to_string()),
                CommandNote::Crash(CrashKind::PowerLoss) => Some("lost power".to_string()),
                CommandNote::Restart => Some("restarted".to_string()),
                CommandNote::Pause => Some("paused".to_string()),
                CommandNote::Resume => Some("resumed".to_string()),
                CommandNote::HealAll => Some("every link healed".to_string()),
                CommandNote::DropMessage {
                    id,
                    found: Some(route),
                } => Some(format!("message {} ({}) dropped", id.0, route.api)),
                CommandNote::RemoveNode => Some("removed".to_string()),
                _ => None,
            };
            if let Some(what) = what {
                push(None, what);
            }
        }
        for note in &event.notes {
            match note {
                Note::LeaderElected {
                    tp,
                    leader,
                    leader_epoch,
                    isr,
                    election,
                    unclean,
                } => push(
                    Some(tp),
                    if *leader < 0 {
                        format!("{tp} went offline (epoch {leader_epoch})")
                    } else {
                        format!(
                            "{tp}: broker {leader} elected leader, epoch {leader_epoch}, ISR {isr:?} ({election}{})",
                            if *unclean { ", UNCLEAN" } else { "" }
                        )
                    },
                ),
                Note::IsrChanged { tp, isr, .. } => {
                    push(Some(tp), format!("{tp}: ISR is now {isr:?}"))
                }
                Note::Truncated {
                    tp,
                    to_offset,
                    records_removed,
                    reason,
                } if *records_removed > 0 => push(
                    Some(tp),
                    format!(
                        "{tp}: truncated to offset {to_offset}, {records_removed} records removed ({reason})"
                    ),
                ),
                Note::UnflushedLost { tp, records, .. } => push(
                    Some(tp),
                    format!("{tp}: {records} unflushed records lost with the power"),
                ),
                Note::BatchRetried {
                    tp,
                    records,
                    attempt,
                    error,
                    ..
                } => push(
                    Some(tp),
                    format!(
                        "{tp}: a batch of {records} records retried (attempt {attempt}, {})",
                        error.name()
                    ),
                ),
                Note::BrokerFenced { broker, reason } => push(
                    None,
                    format!("controller fenced broker {broker} ({reason})"),
                ),
                Note::BrokerUnfenced { broker } => {
                    push(None, format!("controller unfenced broker {broker}"))
                }
                Note::OffsetReset {
                    tp,
                    offset,
                    strategy,
                } => push(
                    Some(tp),
                    format!("{tp}: position reset to {offset} ({strategy})"),
                ),
                Note::PartitionsRevoked { partitions, .. }
                | Note::PartitionsLost { partitions, .. } => {
                    for tp in partitions {
                        push(Some(tp), format!("{tp}: revoked from this consumer"));
                    }
                }
                Note::PartitionsAssigned {
                    partitions,
                    generation,
                    ..
                } => {
                    for tp in partitions {
                        push(
                            Some(tp),
                            format!("{tp}: assigned to this consumer (generation {generation})"),
                        );
                    }
                }
                Note::CommitFailed {
                    error, exception, ..
                } => push(
                    None,
                    match error {
                        Some(e) => format!("commit failed: {} ({exception})", e.name()),
                        None => format!("commit failed before reaching the broker ({exception})"),
                    },
                ),
                _ => {}
            }
        }
    }

    /// The events that led to `anomaly`: node-wide events and those of its partition, up to
    /// the step it became true, the last `limit` of them — plus, for a record that went
    /// missing, when it was acknowledged.
    pub fn explain(
        &self,
        anomaly: &Anomaly,
        observations: &Observations,
        limit: usize,
    ) -> Vec<StoryEvent> {
        let mut told: Vec<StoryEvent> = self
            .events
            .iter()
            .filter(|e| e.step <= anomaly.step)
            .filter(|e| e.tp.as_ref().is_none_or(|tp| *tp == anomaly.tp))
            .cloned()
            .collect();
        if matches!(anomaly.kind, AnomalyKind::LostWrite | AnomalyKind::Unseen)
            && let Some(value) = anomaly.values.first()
            && let Some((step, time_us, offset)) = observations.log.iter().find_map(|o| match o {
                Observation::Acked {
                    step,
                    time_us,
                    value: v,
                    offset,
                } if v == value => Some((*step, *time_us, *offset)),
                _ => None,
            })
        {
            told.push(StoryEvent {
                step,
                time_us,
                node: None,
                tp: Some(anomaly.tp.clone()),
                what: format!("{value} acknowledged at offset {offset}"),
                peer: None,
            });
            told.sort_by_key(|e| e.step);
        }
        let skip = told.len().saturating_sub(limit);
        told.split_off(skip)
    }
}
