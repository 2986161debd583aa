//! The broker's conversation with the controller (Kafka's `BrokerLifecycleManager`,
//! `BrokerMetadataListener` and `AlterPartitionManager`), and what it does with the answers
//! (`ReplicaManager.applyDelta`: become leader, become follower).

use super::config::FollowerTruncation;
use super::partition::{IsrProposal, LeaderPartition};
use super::{Broker, BrokerOut, CONTROLLER_REQUEST_TIMEOUT_MS, FollowerPartition, Outstanding};
use crate::log::UnifiedLog;
use crate::node::{Note, Timer};
use crate::protocol::*;
use std::collections::BTreeSet;

/// Kafka's broker fetches `__cluster_metadata` with `fetch.max.wait.ms` = 500 ms.
const METADATA_FETCH_MAX_WAIT_MS: i64 = 500;

impl Broker {
    /// Sends `msg` to the controller and waits `timeout_ms` for its answer.
    pub(super) fn send_to_controller(
        &mut self,
        msg: KafkaMsg,
        id: i32,
        what: Outstanding,
        timeout_ms: i64,
        out: BrokerOut,
    ) {
        out.send(self.controller, msg);
        out.set_timer_ms(Timer::RequestTimeout(id), timeout_ms);
        self.outstanding.insert(id, what);
    }

    // ----- registration and heartbeats -----

    pub(super) fn send_registration(&mut self, out: BrokerOut) {
        if self
            .outstanding
            .values()
            .any(|o| *o == Outstanding::Registration)
        {
            return;
        }
        let id = self.next_id();
        let msg = KafkaMsg::BrokerRegistration(BrokerRegistrationRequest {
            correlation_id: id,
            broker_id: self.config.node_id,
            incarnation_id: self.incarnation,
        });
        self.send_to_controller(
            msg,
            id,
            Outstanding::Registration,
            CONTROLLER_REQUEST_TIMEOUT_MS,
            out,
        );
    }

    pub(super) fn handle_registration(&mut self, resp: BrokerRegistrationResponse, out: BrokerOut) {
        if self.outstanding.remove(&resp.correlation_id).is_none() {
            return;
        }
        out.cancel_timer(Timer::RequestTimeout(resp.correlation_id));
        out.note(Note::RegistrationResult {
            broker_epoch: resp.broker_epoch,
            error: resp.error,
        });
        if resp.error.is_ok() {
            self.broker_epoch = Some(resp.broker_epoch);
            self.send_heartbeat(out);
        }
        // Refused (DUPLICATE_BROKER_REGISTRATION while the old session lives): retry.
        out.set_timer_ms(Timer::Heartbeat, self.config.broker_heartbeat_interval_ms);
    }

    pub(super) fn on_heartbeat_timer(&mut self, out: BrokerOut) {
        if self.broker_epoch.is_some() {
            self.send_heartbeat(out);
        } else {
            self.send_registration(out);
        }
        out.set_timer_ms(Timer::Heartbeat, self.config.broker_heartbeat_interval_ms);
    }

    fn send_heartbeat(&mut self, out: BrokerOut) {
        let Some(broker_epoch) = self.broker_epoch else {
            return;
        };
        if self
            .outstanding
            .values()
            .any(|o| *o == Outstanding::Heartbeat)
        {
            return;
        }
        let id = self.next_id();
        let msg = KafkaMsg::BrokerHeartbeat(BrokerHeartbeatRequest {
            correlation_id: id,
            broker_id: self.config.node_id,
            broker_epoch,
            current_metadata_offset: self.image.offset - 1,
            want_fence: !self.ready,
            want_shut_down: false,
        });
        self.send_to_controller(
            msg,
            id,
            Outstanding::Heartbeat,
            CONTROLLER_REQUEST_TIMEOUT_MS,
            out,
        );
    }

    pub(super) fn handle_heartbeat(&mut self, resp: BrokerHeartbeatResponse, out: BrokerOut) {
        if self.outstanding.remove(&resp.correlation_id).is_none() {
            return;
        }
        out.cancel_timer(Timer::RequestTimeout(resp.correlation_id));
        match resp.error {
            Errors::None => self.fenced = resp.is_fenced,
            // The controller no longer knows this registration: register again.
            _ => {
                self.broker_epoch = None;
                self.fenced = true;
                self.send_registration(out);
            }
        }
    }

    // ----- metadata replication -----

    pub(super) fn send_metadata_fetch(&mut self, out: BrokerOut) {
        if self
            .outstanding
            .values()
            .any(|o| *o == Outstanding::MetadataFetch)
        {
            return;
        }
        let id = self.next_id();
        let msg = KafkaMsg::MetadataFetch(MetadataFetchRequest {
            correlation_id: id,
            broker_id: self.config.node_id,
            fetch_offset: self.image.offset,
            max_wait_ms: METADATA_FETCH_MAX_WAIT_MS,
        });
        // The answer may wait at the controller for up to the long-poll time.
        let timeout_ms = METADATA_FETCH_MAX_WAIT_MS + CONTROLLER_REQUEST_TIMEOUT_MS;
        self.send_to_controller(msg, id, Outstanding::MetadataFetch, timeout_ms, out);
    }

    pub(super) fn handle_metadata(&mut self, resp: MetadataFetchResponse, out: BrokerOut) {
        if self.outstanding.remove(&resp.correlation_id).is_none() {
            return;
        }
        out.cancel_timer(Timer::RequestTimeout(resp.correlation_id));
        self.controller_high_watermark = resp.high_watermark;
        if resp.base_offset == self.image.offset {
            let mut changed = BTreeSet::new();
            for record in &resp.records {
                if let MetadataRecord::Partition(p) = record {
                    changed.insert(p.tp.clone());
                }
                self.image.apply(record);
            }
            if self.ready {
                for tp in changed {
                    self.apply_partition(&tp, out);
                }
            } else if self.broker_epoch.is_some_and(|e| self.image.offset > e)
                && self.image.offset >= self.controller_high_watermark
            {
                self.become_ready(out);
            }
        }
        // Behind: fetch the rest at once; caught up: the next fetch long-polls.
        self.send_metadata_fetch(out);
    }

    /// Caught up with the metadata log: take up every partition role it names, and ask to
    /// be unfenced. That includes partitions created while this broker was down.
    pub(super) fn become_ready(&mut self, out: BrokerOut) {
        self.ready = true;
        let me = self.config.node_id;
        let mut tps: BTreeSet<TopicPartition> = self.logs.keys().cloned().collect();
        tps.extend(
            self.image
                .all_partitions()
                .filter(|p| p.replicas.contains(&me))
                .map(|p| p.tp.clone()),
        );
        for tp in tps {
            self.apply_partition(&tp, out);
        }
        self.send_heartbeat(out);
    }

    /// `ReplicaManager.applyDelta` for one partition. A replica this broker has no log for
    /// yet — a partition added to a topic (CreatePartitions) — gets an empty one first, as
    /// Kafka's `getOrCreatePartition` / `createLogIfNotExists` do.
    pub(super) fn apply_partition(&mut self, tp: &TopicPartition, out: BrokerOut) {
        let me = self.config.node_id;
        let Some(record) = self.image.partition(tp).cloned() else {
            return;
        };
        if !record.replicas.contains(&me) {
            return;
        }
        if !self.logs.contains_key(tp) {
            let config = self
                .topic_configs
                .get(&tp.topic)
                .cloned()
                .unwrap_or_default();
            self.logs
                .insert(tp.clone(), UnifiedLog::new(config, out.now_ms()));
        }
        if record.leader == me {
            match self.leaders.get_mut(tp) {
                Some(p) if p.leader_epoch == record.leader_epoch => {
                    p.commit_isr(record.isr.clone(), record.partition_epoch);
                    self.after_isr_change(tp, out);
                }
                _ => self.become_leader(&record, out),
            }
        } else {
            match self.followers.get_mut(tp) {
                Some(f) if f.leader == record.leader && f.leader_epoch == record.leader_epoch => {
                    f.partition_epoch = record.partition_epoch;
                }
                _ => self.become_follower(&record, out),
            }
        }
    }

    /// `Partition.makeLeader`: a new leader epoch starts at this broker's LEO.
    fn become_leader(&mut self, record: &PartitionRecord, out: BrokerOut) {
        let tp = &record.tp;
        self.followers.remove(tp);
        let min_isr = self.min_insync_replicas(&tp.topic);
        let Some(log) = self.logs.get_mut(tp) else {
            return;
        };
        let leo = log.log_end_offset();
        log.assign_epoch_start_offset(record.leader_epoch, leo);
        let partition =
            LeaderPartition::new(record, self.config.node_id, leo, min_isr, out.now_ms());
        out.note(Note::BecameLeader {
            tp: tp.clone(),
            leader_epoch: record.leader_epoch,
            isr: record.isr.clone(),
            log_end_offset: leo,
        });
        self.leaders.insert(tp.clone(), partition);
        if &*tp.topic == CONSUMER_OFFSETS_TOPIC
            && let Some(log) = self.logs.get(tp)
        {
            let partitions = self
                .image
                .topics
                .get(&tp.topic)
                .map_or(1, |p| p.len() as i32);
            self.coordinator.set_num_partitions(partitions);
            self.coordinator.load(tp.partition, log, out);
        }
        if record.leader_recovery_state == LeaderRecoveryState::Recovering {
            // After an unclean election: tell the controller the log is recovered.
            let isr = record.isr.clone();
            let proposal = IsrProposal {
                from: isr.clone(),
                to: isr,
            };
            self.send_alter_partition(tp, proposal, out);
        }
        self.after_isr_change(tp, out);
    }

    /// `Partition.makeFollower`: stop leading, fail parked produces, and start fetching from
    /// the new leader. Before KIP-101, the follower first cut its log to its own HW.
    fn become_follower(&mut self, record: &PartitionRecord, out: BrokerOut) {
        let tp = &record.tp;
        let was_leader = self.leaders.remove(tp).is_some();
        self.followers.remove(tp);
        if was_leader {
            // No longer the leader: its parked produces and fetches are answered with
            // NOT_LEADER_OR_FOLLOWER (`completeDelayedFetchOrProduceRequests`).
            self.try_complete_delayed_produces(tp, out);
            self.complete_delayed_fetches([tp], out);
        }
        if &*tp.topic == CONSUMER_OFFSETS_TOPIC {
            self.coordinator.unload(tp.partition, out);
        }
        out.note(Note::BecameFollower {
            tp: tp.clone(),
            leader: record.leader,
            leader_epoch: record.leader_epoch,
        });
        let mode = self.config.sim_follower_truncation;
        if mode == FollowerTruncation::PreKip101
            && let Some(log) = self.logs.get_mut(tp)
        {
            let hw = log.high_watermark();
            self.truncate(tp, hw, "pre-KIP-101: truncate to own high watermark", out);
        }
        self.followers.insert(
            tp.clone(),
            FollowerPartition {
                leader: record.leader,
                leader_epoch: record.leader_epoch,
                partition_epoch: record.partition_epoch,
                validate_epoch: mode != FollowerTruncation::PreKip101,
                resolving_out_of_range: false,
            },
        );
        if record.leader != NO_LEADER {
            self.fetchers.entry(record.leader).or_default();
            self.maybe_fetch_from(record.leader, out);
        }
    }

    /// Cuts a replica's log back to `offset`, noting what went.
    pub(super) fn truncate(
        &mut self,
        tp: &TopicPartition,
        offset: i64,
        reason: &'static str,
        out: BrokerOut,
    ) {
        let Some(log) = self.logs.get_mut(tp) else {
            return;
        };
        let before = log.log_end_offset();
        if offset >= before {
            // No records go, but epochs starting at the end still do (see `truncate_to`).
            log.truncate_to(offset);
            return;
        }
        let removed = log.records().filter(|r| r.offset >= offset).count() as u64;
        log.truncate_to(offset);
        out.note(Note::Truncated {
            tp: tp.clone(),
            to_offset: log.log_end_offset(),
            records_removed: removed,
            reason,
        });
    }

    // ----- ISR changes -----

    /// The periodic `maybeShrinkIsr` over every partition this broker leads.
    pub(super) fn maybe_shrink_isrs(&mut self, out: BrokerOut) {
        let now_ms = out.now_ms();
        let lag = self.config.replica_lag_time_max_ms;
        let proposals: Vec<(TopicPartition, IsrProposal)> = self
            .leaders
            .iter()
            .filter_map(|(tp, p)| {
                let leo = self.logs.get(tp)?.log_end_offset();
                Some((tp.clone(), p.maybe_shrink_isr(leo, now_ms, lag)?))
            })
            .collect();
        for (tp, proposal) in proposals {
            self.send_alter_partition(&tp, proposal, out);
        }
    }

    pub(super) fn send_alter_partition(
        &mut self,
        tp: &TopicPartition,
        proposal: IsrProposal,
        out: BrokerOut,
    ) {
        let Some(broker_epoch) = self.broker_epoch else {
            return;
        };
        let id = self.next_id();
        let Some(p) = self.leaders.get_mut(tp) else {
            return;
        };
        p.set_pending(&proposal, id);
        let msg = KafkaMsg::AlterPartition(AlterPartitionRequest {
            correlation_id: id,
            broker_id: self.config.node_id,
            broker_epoch,
            tp: tp.clone(),
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
            new_isr: proposal.to.clone(),
        });
        out.note(Note::IsrChangeProposed {
            tp: tp.clone(),
            from: proposal.from,
            to: proposal.to,
        });
        self.send_to_controller(
            msg,
            id,
            Outstanding::AlterPartition(tp.clone()),
            CONTROLLER_REQUEST_TIMEOUT_MS,
            out,
        );
        // An expansion counts at once (maximal ISR).
        self.after_isr_change(tp, out);
    }

    pub(super) fn handle_alter_partition(&mut self, resp: AlterPartitionResponse, out: BrokerOut) {
        if self.outstanding.remove(&resp.correlation_id).is_none() {
            return;
        }
        out.cancel_timer(Timer::RequestTimeout(resp.correlation_id));
        let tp = resp.tp.clone();
        let Some(p) = self.leaders.get_mut(&tp) else {
            return;
        };
        if p.pending.as_ref().map(|x| x.correlation_id) != Some(resp.correlation_id) {
            return;
        }
        // Answered either way: nothing is pending any more.
        p.pending = None;
        if resp.error.is_ok() && resp.leader_epoch == p.leader_epoch {
            p.commit_isr(resp.isr, resp.partition_epoch);
        } else {
            out.note(Note::AlterPartitionFailed {
                tp: tp.clone(),
                error: resp.error,
            });
        }
        self.after_isr_change(&tp, out);
    }
}
