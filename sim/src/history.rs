//! The run's history — what clients observed — and the summary numbers derived from it.
//!
//! Clients record observations as trace notes (`Sent`, `Acked`, `SendFailed`, `SendUnknown`,
//! `Polled`); the history folds them as the run steps. Every record value is unique, so the
//! summary can follow each one: was an acknowledged write lost from the final log
//! (`lost_write`)? Does a value sit at two offsets (`duplicate_in_log`)? Was an acknowledged
//! record that is in the log never returned to a consumer (`unseen`)? These are the first
//! entries of the Jepsen Kafka anomaly taxonomy; the checker issue adds the rest.

use crate::kernel::{CommandNote, DropReason, EventKind, MessageId, NetNote, NodeId, TraceEvent};
use crate::log::UnifiedLog;
use crate::node::{KafkaNode, Note};
use crate::protocol::{Errors, TopicPartition};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What became of one `send()`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// No answer yet.
    Pending,
    /// `acks=0`: the send completed without any answer.
    NoAck,
    Acked {
        offset: i64,
    },
    Failed {
        error: Errors,
    },
    /// Gave up (timeout, producer crash): it may or may not have been written.
    Unknown,
}

#[derive(Clone, Debug, Serialize)]
pub struct SendRecord {
    pub tp: TopicPartition,
    pub key: Option<Arc<str>>,
    pub outcome: Outcome,
    pub step: u64,
}

/// How many dropped messages [`History::recent_drops`] keeps.
pub const RECENT_DROPS: usize = 8;

/// A message the network dropped: lost on its link, sent over or arriving on a cut link, sent
/// to a node that was down, or dropped by a command.
#[derive(Clone, Debug, PartialEq)]
pub struct DroppedMessage {
    pub step: u64,
    pub time_us: u64,
    pub id: MessageId,
    /// Sender and receiver, when the trace names them (a `drop-message` command does not).
    pub from: Option<NodeId>,
    pub to: Option<NodeId>,
    pub api: Option<&'static str>,
    pub reason: DropReason,
}

/// A replica's log cut back to `to_offset`: `records_removed` records from there on are gone.
#[derive(Clone, Debug, PartialEq)]
pub struct Truncation {
    pub step: u64,
    /// The broker's node.
    pub node: NodeId,
    pub tp: TopicPartition,
    pub to_offset: i64,
    pub records_removed: u64,
}

/// Client observations, folded from the trace.
#[derive(Clone, Debug, Default, Serialize)]
pub struct History {
    pub sends: BTreeMap<Arc<str>, SendRecord>,
    /// How many times each value was returned by a poll.
    pub polled: BTreeMap<Arc<str>, u32>,
    /// Total records returned by polls (re-reads included).
    pub consumed: u64,
    /// Leader changes the controller made to a live broker (not counting partitions going
    /// offline).
    pub leader_elections: u64,
    /// Producer batches sent again, by the error that made them retry.
    pub retries: BTreeMap<Errors, u64>,
    /// How many times each value was processed by a consumer application.
    pub processed: BTreeMap<Arc<str>, u32>,
    /// Topics some consumer application processed records of.
    pub processed_topics: std::collections::BTreeSet<Arc<str>>,
    /// Completed join phases of consumer groups (new generations with members).
    pub rebalances: u64,
    /// Commits refused by a coordinator (`ILLEGAL_GENERATION`, `UNKNOWN_MEMBER_ID`, ...).
    pub rejected_commits: u64,
    /// Who owns each partition of each group: the member that was last assigned it, or, once
    /// that member revoked (or lost) it, the time since when it waits for a new owner.
    owners: BTreeMap<(TopicPartition, Arc<str>), Ownership>,
    /// Times a group's partition was revoked (or lost) and later assigned again.
    pub rebalance_pauses: u64,
    /// Partition-time (µs) between a member revoking a partition and the next member being
    /// assigned it: the stop-the-world part of rebalances.
    pub rebalance_pause_us: u64,
    /// Records acknowledged into a partition while it waited for a new owner: records no
    /// member could process during that pause.
    pub rebalance_pause_records: u64,
    /// Every truncation that removed records, oldest first (the lab marks the records as
    /// they disappear). Few: one per replica per divergence.
    #[serde(skip)]
    pub truncations: Vec<Truncation>,
    /// The last few messages the network dropped, oldest first (the lab's network pane).
    #[serde(skip)]
    pub recent_drops: std::collections::VecDeque<DroppedMessage>,
    /// Every send, acknowledgment, poll and assignment change, for the delivery checker.
    #[serde(skip)]
    pub observations: crate::checker::Observations,
    /// Faults, elections, truncations and group events, to explain anomalies with.
    #[serde(skip)]
    pub story: crate::checker::Story,
}

/// A group's partition as the members' callbacks (`onPartitionsAssigned/Revoked/Lost`) left it.
#[derive(Clone, Copy, Debug, Serialize)]
enum Ownership {
    Owned(NodeId),
    Revoked { since_us: u64 },
}

impl History {
    /// Folds one step's notes into the history.
    pub fn absorb(&mut self, event: &TraceEvent<KafkaNode>) {
        self.observations.absorb(event);
        self.story.absorb(event);
        self.absorb_drops(event);
        for note in &event.notes {
            if let (
                Some(node),
                Note::Truncated {
                    tp,
                    to_offset,
                    records_removed,
                    ..
                },
            ) = (event.node, note)
                && *records_removed > 0
            {
                self.truncations.push(Truncation {
                    step: event.step,
                    node,
                    tp: tp.clone(),
                    to_offset: *to_offset,
                    records_removed: *records_removed,
                });
            }
            self.absorb_note(note, event);
        }
    }

    /// Keeps the last [`RECENT_DROPS`] messages the network dropped.
    fn absorb_drops(&mut self, event: &TraceEvent<KafkaNode>) {
        let mut keep = |id, from, to, api, reason| {
            if self.recent_drops.len() == RECENT_DROPS {
                self.recent_drops.pop_front();
            }
            self.recent_drops.push_back(DroppedMessage {
                step: event.step,
                time_us: event.time_us,
                id,
                from,
                to,
                api,
                reason,
            });
        };
        match &event.kind {
            EventKind::Dropped {
                id,
                from,
                api,
                reason,
            } => keep(*id, Some(*from), event.node, Some(*api), *reason),
            EventKind::Command(CommandNote::DropMessage {
                id,
                found: Some(route),
            }) => keep(
                *id,
                Some(route.from),
                Some(route.to),
                Some(route.api),
                DropReason::Command,
            ),
            _ => {}
        }
        for net in &event.net {
            if let NetNote::Dropped {
                id,
                to,
                api,
                reason,
            } = net
            {
                keep(*id, event.node, Some(*to), Some(*api), *reason);
            }
        }
    }

    fn absorb_note(&mut self, note: &Note, event: &TraceEvent<KafkaNode>) {
        let step = event.step;
        match note {
            Note::Sent {
                value,
                key,
                tp,
                acks,
            } => {
                let outcome = if *acks == 0 {
                    Outcome::NoAck
                } else {
                    Outcome::Pending
                };
                let record = SendRecord {
                    tp: tp.clone(),
                    key: key.clone(),
                    outcome,
                    step,
                };
                self.sends.insert(value.clone(), record);
            }
            Note::Acked { value, offset, .. } => {
                self.resolve(value, Outcome::Acked { offset: *offset });
                if let Some(send) = self.sends.get(value) {
                    let waiting = self
                        .owners
                        .range((send.tp.clone(), Arc::from(""))..)
                        .take_while(|((tp, _), _)| *tp == send.tp)
                        .filter(|(_, o)| matches!(o, Ownership::Revoked { .. }))
                        .count();
                    self.rebalance_pause_records += waiting as u64;
                }
            }
            Note::SendFailed { value, tp, error } => {
                if !self.sends.contains_key(value) {
                    // Failed before it could be sent anywhere (no partition yet).
                    let record = SendRecord {
                        tp: tp.clone(),
                        key: None,
                        outcome: Outcome::Pending,
                        step,
                    };
                    self.sends.insert(value.clone(), record);
                }
                self.resolve(value, Outcome::Failed { error: *error })
            }
            Note::SendUnknown { value, .. } => self.resolve(value, Outcome::Unknown),
            Note::LeaderElected { leader, .. } if *leader >= 0 => self.leader_elections += 1,
            Note::BatchRetried { error, .. } => *self.retries.entry(*error).or_default() += 1,
            Note::Processed { tp, value, .. } => {
                self.processed_topics.insert(tp.topic.clone());
                if let Some(value) = value {
                    *self.processed.entry(value.clone()).or_default() += 1;
                }
            }
            Note::GroupCompletingRebalance { .. } => self.rebalances += 1,
            Note::PartitionsAssigned {
                group, partitions, ..
            } => {
                let Some(node) = event.node else { return };
                for tp in partitions {
                    let key = (tp.clone(), group.clone());
                    if let Some(Ownership::Revoked { since_us }) = self.owners.get(&key) {
                        self.rebalance_pauses += 1;
                        self.rebalance_pause_us += event.time_us - since_us;
                    }
                    self.owners.insert(key, Ownership::Owned(node));
                }
            }
            Note::PartitionsRevoked { group, partitions }
            | Note::PartitionsLost { group, partitions } => {
                for tp in partitions {
                    let key = (tp.clone(), group.clone());
                    if let Some(o) = self.owners.get_mut(&key)
                        && matches!(o, Ownership::Owned(n) if Some(*n) == event.node)
                    {
                        *o = Ownership::Revoked {
                            since_us: event.time_us,
                        };
                    }
                }
            }
            Note::OffsetCommitRejected { .. } => self.rejected_commits += 1,
            Note::Polled { records, .. } => {
                for (_, value) in records {
                    self.consumed += 1;
                    if let Some(value) = value {
                        *self.polled.entry(value.clone()).or_default() += 1;
                    }
                }
            }
            _ => {}
        }
    }

    fn resolve(&mut self, value: &Arc<str>, outcome: Outcome) {
        if let Some(send) = self.sends.get_mut(value)
            && matches!(send.outcome, Outcome::Pending)
        {
            send.outcome = outcome;
        }
    }
}

/// The numbers `kafkalab run` reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Records the applications sent.
    pub produced: u64,
    /// Sends acknowledged with an offset.
    pub acked: u64,
    /// Sends that failed with an error.
    pub failed: u64,
    /// Sends whose outcome is unknown: they failed after an attempt that may have been
    /// written (a lost answer, a delivery timeout after sending), or the producer died.
    pub unknown_outcome: u64,
    /// Sends still awaiting an answer when the run ended.
    pub pending: u64,
    /// Records returned by polls, re-reads included.
    pub consumed: u64,
    /// Acknowledged records missing from the final log (not explained by retention or
    /// compaction).
    pub lost_write: u64,
    /// Values present at two or more offsets of the final logs.
    pub duplicate_in_log: u64,
    /// Records that sit in their partition's final log after a record the same producer
    /// sent later (per-partition producer order violations).
    pub reordered: u64,
    /// Acknowledged records present in the final log but never returned to a consumer.
    pub unseen: u64,
    /// Leader elections the controller made (to a live broker).
    pub leader_elections: u64,
    /// Consumer-group rebalances (join phases that produced a generation with members).
    pub rebalances: u64,
    /// Records a consumer application processed more than once.
    pub processed_twice: u64,
    /// Records in the final log of a topic that applications consume, never processed.
    pub never_processed: u64,
    /// How many times a group's partition was revoked and then assigned again: eager
    /// rebalances revoke every partition, cooperative ones only those that move.
    pub rebalance_paused_partitions: u64,
    /// Partition-milliseconds a group's partitions spent revoked and not yet reassigned: the
    /// stop-the-world pause of rebalances.
    pub rebalance_pause_ms: u64,
    /// Records written to a partition while it waited for its new owner: what no member
    /// could process during the pause.
    pub rebalance_pause_records: u64,
    /// Offset commits a group coordinator refused (`ILLEGAL_GENERATION`, `UNKNOWN_MEMBER_ID`,
    /// `FENCED_INSTANCE_ID`, ...): a zombie's commits, fenced off.
    pub rejected_commits: u64,
}

impl Summary {
    /// Every number of the summary by its field name, as `run --json` prints them: the
    /// names a scenario's `[expect]` table may use. Derived from the `Serialize` impl, so a
    /// new field is an expectation key without a second list to keep in step.
    pub fn metrics(&self) -> BTreeMap<String, u64> {
        let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(self) else {
            return BTreeMap::new();
        };
        fields
            .into_iter()
            .filter_map(|(name, value)| Some((name, value.as_u64()?)))
            .collect()
    }

    /// The names [`Summary::metrics`] has, sorted.
    pub fn metric_names() -> Vec<String> {
        Summary::default().metrics().into_keys().collect()
    }

    /// Computes the summary from the history and each partition's final (leader) log.
    pub fn compute<'a>(
        history: &History,
        final_logs: impl IntoIterator<Item = (&'a TopicPartition, &'a UnifiedLog)>,
    ) -> Summary {
        // Internal topics (`__consumer_offsets`) hold the model's own records, not the
        // applications'.
        let final_logs: BTreeMap<&TopicPartition, &UnifiedLog> = final_logs
            .into_iter()
            .filter(|(tp, _)| !tp.topic.starts_with("__"))
            .collect();
        let mut placed: BTreeMap<&str, u32> = BTreeMap::new();
        for log in final_logs.values() {
            for value in log.records().filter_map(|r| r.value.as_deref()) {
                *placed.entry(value).or_default() += 1;
            }
        }
        let mut s = Summary {
            reordered: final_logs.values().map(|log| reordered_in(log)).sum(),
            produced: history.sends.len() as u64,
            consumed: history.consumed,
            duplicate_in_log: placed.values().filter(|n| **n > 1).count() as u64,
            leader_elections: history.leader_elections,
            rebalances: history.rebalances,
            processed_twice: history.processed.values().filter(|n| **n > 1).count() as u64,
            rebalance_paused_partitions: history.rebalance_pauses,
            rebalance_pause_ms: history.rebalance_pause_us / 1000,
            rebalance_pause_records: history.rebalance_pause_records,
            rejected_commits: history.rejected_commits,
            ..Summary::default()
        };
        for (tp, log) in &final_logs {
            if !history.processed_topics.contains(&tp.topic) {
                continue;
            }
            let hw = log.high_watermark();
            s.never_processed += log
                .records()
                .filter(|r| r.offset < hw)
                .filter_map(|r| r.value.as_ref())
                .filter(|v| !history.processed.contains_key(*v))
                .count() as u64;
        }
        for (value, send) in &history.sends {
            match send.outcome {
                Outcome::Acked { offset } => {
                    s.acked += 1;
                    let in_log = placed.contains_key(&**value);
                    if !in_log && !explained_absence(final_logs.get(&send.tp).copied(), offset) {
                        s.lost_write += 1;
                    }
                    if in_log && !history.polled.contains_key(value) {
                        s.unseen += 1;
                    }
                }
                Outcome::Failed { .. } => s.failed += 1,
                Outcome::Unknown => s.unknown_outcome += 1,
                Outcome::Pending => s.pending += 1,
                Outcome::NoAck => {}
            }
        }
        s
    }
}

/// Producer order violations in one log: per producer, records (first copies only) whose
/// send number is below one already seen at a lower offset. Values are `<producer>-<n>`, with
/// `n` counting the producer's sends.
fn reordered_in(log: &UnifiedLog) -> u64 {
    let mut highest: BTreeMap<&str, u64> = BTreeMap::new();
    let mut seen: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    let mut violations = 0;
    for value in log.records().filter_map(|r| r.value.as_deref()) {
        let Some((producer, n)) = value
            .rsplit_once('-')
            .and_then(|(p, n)| Some((p, n.parse::<u64>().ok()?)))
        else {
            continue;
        };
        if !seen.insert(value) {
            continue; // a duplicate copy: counted as duplicate_in_log, not here
        }
        let top = highest.entry(producer).or_insert(0);
        if n < *top {
            violations += 1;
        } else {
            *top = n;
        }
    }
    violations
}

/// A record may legitimately be gone: retention moved the log start past it, or the cleaner
/// compacted it away (it sits below the cleaner checkpoint).
fn explained_absence(log: Option<&UnifiedLog>, offset: i64) -> bool {
    log.is_some_and(|log| offset < log.log_start_offset() || offset < log.first_dirty_offset())
}
