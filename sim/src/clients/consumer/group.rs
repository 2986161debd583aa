//! The consumer's group membership: Kafka's `ConsumerCoordinator` over `AbstractCoordinator`,
//! with the heartbeat thread folded into timers.
//!
//! - The coordinator is found with FindCoordinator and forgotten on `NOT_COORDINATOR`,
//!   `COORDINATOR_NOT_AVAILABLE`, a lost connection, or a session without heartbeat answers.
//! - (Re)joining happens inside `poll()`: first `onJoinPrepare` (auto-commit if enabled;
//!   eager: revoke everything), then JoinGroup (with `MEMBER_ID_REQUIRED` handled), then
//!   SyncGroup — the leader runs the assignor first. `onJoinComplete` assigns; cooperative
//!   members revoke only what moved, and rejoin at once for the follow-up rebalance.
//! - The rebalance protocol is the highest one every configured assignor supports, so the
//!   default `[range, cooperative-sticky]` runs eager (and the vote picks range).
//! - Heartbeats run every `heartbeat.interval.ms` once a generation is known;
//!   `REBALANCE_IN_PROGRESS` asks the next poll to rejoin.
//! - `max.poll.interval.ms` between polls makes the member leave on its own (a dynamic
//!   member sends LeaveGroup; a static one just stops).
//! - Commits check the generation locally first: outside `Stable` they fail without reaching
//!   the broker, as Kafka's `sendOffsetCommitRequest` does.

use super::{Consumer, ConsumerOut, Pending};
use crate::clients::config::ConsumerConfig;
use crate::group::assignor::{self, Assignor, MemberSubscription, RebalanceProtocol};
use crate::kernel::NodeId;
use crate::node::{Note, Timer};
use crate::protocol::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// `MemberState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(super) enum MemberState {
    Unjoined,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

/// Who asked for a commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(super) enum Purpose {
    /// The application's `commitSync()`.
    App,
    /// `enable.auto.commit` inside `poll()` (asynchronous, not retried).
    AutoCommit,
    /// The auto-commit of `onJoinPrepare`, before rejoining.
    JoinPrepare,
}

#[derive(Clone, Debug, Serialize)]
pub(super) struct PendingCommit {
    offsets: Vec<(TopicPartition, i64)>,
    generation: i32,
    member_id: Arc<str>,
    purpose: Purpose,
    /// `commitSync` gives up at `default.api.timeout.ms`.
    deadline_ms: i64,
    in_flight: bool,
}

#[derive(Clone, Debug, Serialize)]
pub(super) struct Membership {
    pub group_id: Arc<str>,
    /// `subscribe()` (the group assigns) rather than `assign()` (commits only).
    pub subscribed: bool,
    coordinator: Option<(i32, NodeId)>,
    finding: bool,
    retry_armed: bool,
    find_attempts: usize,
    state: MemberState,
    pub generation: i32,
    pub member_id: Arc<str>,
    protocol: Option<Arc<str>>,
    rejoin_needed: bool,
    /// `onJoinPrepare` ran for the rebalance in progress.
    join_prepared: bool,
    /// The `onJoinPrepare` auto-commit finished.
    join_commit_done: bool,
    pub(super) heartbeat_in_flight: bool,
    last_heartbeat_ok_ms: i64,
    commit: Option<PendingCommit>,
    next_auto_commit_ms: i64,
    /// Partitions whose committed offset was looked up (none found: reset by policy).
    offset_fetch_done: BTreeSet<TopicPartition>,
    /// A fatal error stopped the member (`FENCED_INSTANCE_ID`, bad config).
    fatal: Option<Errors>,
    /// The eager `StickyAssignor`'s memory (`onAssignment`): the last assignment and its
    /// generation, which it sends in its subscription's userData — eager members own nothing
    /// when they rejoin, so this is what keeps the sticky assignment sticky.
    sticky_member_data: Option<(Vec<TopicPartition>, i32)>,
    /// The assignment a SyncGroup answer brought, applied (`onJoinComplete`) by the next
    /// `poll()`: Kafka runs the rebalance callbacks on the application thread, so a batch
    /// being processed finishes first.
    pending_assignment: Option<Vec<TopicPartition>>,
}

impl Membership {
    pub(super) fn new(group_id: Arc<str>, subscribed: bool) -> Self {
        Membership {
            group_id,
            subscribed,
            coordinator: None,
            finding: false,
            retry_armed: false,
            find_attempts: 0,
            state: MemberState::Unjoined,
            generation: NO_GENERATION,
            member_id: Arc::from(UNKNOWN_MEMBER_ID),
            protocol: None,
            rejoin_needed: subscribed,
            join_prepared: false,
            join_commit_done: false,
            heartbeat_in_flight: false,
            last_heartbeat_ok_ms: 0,
            commit: None,
            next_auto_commit_ms: 0,
            offset_fetch_done: BTreeSet::new(),
            fatal: None,
            sticky_member_data: None,
            pending_assignment: None,
        }
    }

    /// Eager `onJoinPrepare` has begun (its auto-commit is in flight): the partitions are
    /// pending revocation and `poll()` returns nothing from them
    /// (`maybeMarkPartitionsPendingRevocation`).
    pub(super) fn pending_revocation(&self, eager: bool) -> bool {
        eager
            && self.subscribed
            && !self.join_prepared
            && self
                .commit
                .as_ref()
                .is_some_and(|c| c.purpose == Purpose::JoinPrepare)
    }

    pub(super) fn committed_known(&self, tp: &TopicPartition) -> bool {
        self.offset_fetch_done.contains(tp)
    }

    fn in_rebalance(&self) -> bool {
        matches!(
            self.state,
            MemberState::PreparingRebalance | MemberState::CompletingRebalance
        )
    }

    /// `resetStateAndGeneration`: UNKNOWN_MEMBER_ID also forgets the member id.
    fn reset_generation(&mut self, forget_member_id: bool) {
        self.generation = NO_GENERATION;
        if forget_member_id {
            self.member_id = Arc::from(UNKNOWN_MEMBER_ID);
        }
        self.state = MemberState::Unjoined;
        self.rejoin_needed = self.subscribed;
        self.heartbeat_in_flight = false;
    }
}

/// The rebalance protocol: the highest every configured assignor supports.
pub(super) fn rebalance_protocol(config: &ConsumerConfig) -> RebalanceProtocol {
    let all_cooperative = config.partition_assignment_strategy.iter().all(|a| {
        a.supported_protocols()
            .contains(&RebalanceProtocol::Cooperative)
    });
    if all_cooperative {
        RebalanceProtocol::Cooperative
    } else {
        RebalanceProtocol::Eager
    }
}

impl Consumer {
    /// The group's part of `poll()`: find the coordinator, (re)join if needed, auto-commit.
    pub(super) fn group_poll(&mut self, out: ConsumerOut) {
        let now = out.now_ms();
        let auto_commit = self.config.auto_commit();
        let Some(g) = &mut self.group else {
            return;
        };
        if g.fatal.is_some() {
            return;
        }
        if let Some(assigned) = g.pending_assignment.take() {
            self.join_complete(assigned, out);
        }
        let Some(g) = &mut self.group else {
            return;
        };
        if g.coordinator.is_none() {
            self.ensure_coordinator(out);
            return;
        }
        if g.subscribed
            && (g.rejoin_needed || g.state == MemberState::Unjoined)
            && !g.in_rebalance()
            && !self.rebalance_request_pending()
            && self.metadata.is_ready()
        {
            if !self.join_prepare(out) {
                return;
            }
            self.send_join(out);
            return;
        }
        let Some(g) = &mut self.group else {
            return;
        };
        let stable = !g.subscribed || g.state == MemberState::Stable;
        if auto_commit && stable && now >= g.next_auto_commit_ms {
            g.next_auto_commit_ms = now + self.config.auto_commit_interval_ms;
            out.set_timer_ms(Timer::AutoCommit, self.config.auto_commit_interval_ms);
            if g.commit.is_none() {
                let offsets = self.all_consumed();
                self.commit(offsets, Purpose::AutoCommit, out);
            }
        }
    }

    /// `onJoinPrepare`; false while its auto-commit is still in flight.
    fn join_prepare(&mut self, out: ConsumerOut) -> bool {
        let auto_commit = self.config.auto_commit();
        let protocol = rebalance_protocol(&self.config);
        let Some(g) = &mut self.group else {
            return false;
        };
        if g.join_prepared {
            return true;
        }
        let valid = g.generation != NO_GENERATION;
        if auto_commit && valid && !g.join_commit_done {
            if g.commit.is_none() {
                let offsets = self.all_consumed();
                self.commit(offsets, Purpose::JoinPrepare, out);
            }
            return self.group.as_ref().is_some_and(|g| g.join_commit_done);
        }
        let group = g.group_id.clone();
        g.join_prepared = true;
        g.join_commit_done = false;
        let owned = self.assignment.clone();
        if owned.is_empty() {
            return true;
        }
        if !valid {
            out.note(Note::PartitionsLost {
                group,
                partitions: owned.clone(),
            });
            self.forget_partitions(&owned);
        } else if protocol == RebalanceProtocol::Eager {
            out.note(Note::PartitionsRevoked {
                group,
                partitions: owned.clone(),
            });
            self.forget_partitions(&owned);
        }
        true
    }

    fn send_join(&mut self, out: ConsumerOut) {
        let Some(g) = &self.group else { return };
        let Some((_, node)) = g.coordinator else {
            return;
        };
        let subscription = ConsumerSubscription {
            topics: vec![self.subscription.topic().clone()],
            owned_partitions: self.assignment.clone(),
            generation_id: g.generation,
        };
        let protocols = self
            .config
            .partition_assignment_strategy
            .iter()
            .map(|a| {
                let mut metadata = subscription.clone();
                if let (Assignor::Sticky, Some((owned, generation))) = (a, &g.sticky_member_data) {
                    // Kafka's StickyAssignor reads its previous assignment and generation
                    // only from its userData (`memberData()`); we carry them in the fields
                    // the assignor reads.
                    metadata.owned_partitions = owned.clone();
                    metadata.generation_id = *generation;
                }
                JoinGroupProtocol {
                    name: a.name().into(),
                    metadata,
                }
            })
            .collect();
        let id = super::bump(&mut self.next_correlation_id);
        let msg = KafkaMsg::JoinGroup(JoinGroupRequest {
            correlation_id: id,
            group_id: g.group_id.clone(),
            session_timeout_ms: self.config.session_timeout_ms as i32,
            rebalance_timeout_ms: self.config.max_poll_interval_ms as i32,
            member_id: g.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            protocol_type: CONSUMER_PROTOCOL_TYPE.into(),
            protocols,
            client_id: self.client_id(),
        });
        // JoinGroup may wait a whole rebalance: Kafka allows rebalance timeout + 5 s.
        let timeout = self
            .config
            .request_timeout_ms
            .max(self.config.max_poll_interval_ms + 5_000);
        if let Some(g) = &mut self.group {
            g.state = MemberState::PreparingRebalance;
            g.rejoin_needed = false;
        }
        out.cancel_timer(Timer::ConsumerHeartbeat);
        self.request(node, msg, Pending::JoinGroup(node), timeout, out);
    }

    /// A JoinGroup or SyncGroup is in flight: Kafka's `joinFuture`, which keeps a member to
    /// one join at a time even when its generation is reset meanwhile (a failed commit, a
    /// poll timeout).
    fn rebalance_request_pending(&self) -> bool {
        self.pending
            .values()
            .any(|p| matches!(p, Pending::JoinGroup(_) | Pending::SyncGroup(_)))
    }

    /// The member's generation was reset while its JoinGroup or SyncGroup was in flight:
    /// Kafka's handlers raise `UnjoinedGroupException` and drop the answer, and the next
    /// `poll()` joins afresh.
    fn unjoined_meanwhile(&mut self, expected: MemberState, out: ConsumerOut) -> bool {
        let Some(g) = &mut self.group else {
            return true;
        };
        if g.state == expected {
            return false;
        }
        g.rejoin_needed = true;
        self.app_poll(out);
        true
    }

    pub(super) fn handle_join(&mut self, resp: JoinGroupResponse, out: ConsumerOut) {
        if !self.take_pending(resp.correlation_id, out) {
            return;
        }
        if self.unjoined_meanwhile(MemberState::PreparingRebalance, out) {
            return;
        }
        let now = out.now_ms();
        let Some(g) = &mut self.group else { return };
        match resp.error {
            Errors::None => {
                g.generation = resp.generation_id;
                g.member_id = resp.member_id.clone();
                g.protocol = resp.protocol_name.clone();
                g.state = MemberState::CompletingRebalance;
                g.last_heartbeat_ok_ms = now;
                let leader = resp.leader == resp.member_id && !resp.skip_assignment;
                let assignments = if leader {
                    self.run_assignor(&resp)
                } else {
                    Vec::new()
                };
                out.set_timer_ms(Timer::ConsumerHeartbeat, self.config.heartbeat_interval_ms);
                self.send_sync(assignments, out);
            }
            Errors::MemberIdRequired => {
                g.member_id = resp.member_id.clone();
                g.state = MemberState::Unjoined;
                self.send_join(out);
            }
            Errors::UnknownMemberId | Errors::IllegalGeneration => {
                g.reset_generation(resp.error == Errors::UnknownMemberId);
                self.arm_retry(out);
            }
            Errors::FencedInstanceId
            | Errors::InvalidSessionTimeout
            | Errors::InconsistentGroupProtocol => self.fatal(resp.error, out),
            error => {
                g.state = MemberState::Unjoined;
                g.rejoin_needed = true;
                if matches!(
                    error,
                    Errors::NotCoordinator | Errors::CoordinatorNotAvailable
                ) {
                    self.coordinator_failed(error, out);
                } else {
                    self.arm_retry(out);
                }
            }
        }
    }

    /// The leader's part: run the selected assignor over every member's subscription.
    fn run_assignor(&self, resp: &JoinGroupResponse) -> Vec<SyncGroupAssignment> {
        let assignor = resp
            .protocol_name
            .as_deref()
            .and_then(Assignor::from_name)
            .unwrap_or(Assignor::Range);
        let members: Vec<MemberSubscription> = resp
            .members
            .iter()
            .map(|m| MemberSubscription {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                subscription: m.metadata.clone(),
            })
            .collect();
        // Simplification: the leader knows the partition counts of the topics in its own
        // metadata (every member of a scenario's group subscribes to the same topic).
        let mut partitions: BTreeMap<Arc<str>, i32> = BTreeMap::new();
        for m in &members {
            for t in &m.subscription.topics {
                if let Some(n) = self.metadata.partition_count(t) {
                    partitions.insert(t.clone(), n);
                }
            }
        }
        assignor::assign(assignor, &partitions, &members)
            .into_iter()
            .map(|(member_id, assignment)| SyncGroupAssignment {
                member_id,
                assignment,
            })
            .collect()
    }

    fn send_sync(&mut self, assignments: Vec<SyncGroupAssignment>, out: ConsumerOut) {
        let Some(g) = &self.group else { return };
        let Some((_, node)) = g.coordinator else {
            return;
        };
        let id = super::bump(&mut self.next_correlation_id);
        let msg = KafkaMsg::SyncGroup(SyncGroupRequest {
            correlation_id: id,
            group_id: g.group_id.clone(),
            generation_id: g.generation,
            member_id: g.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            protocol_name: g.protocol.clone(),
            assignments,
        });
        self.request(
            node,
            msg,
            Pending::SyncGroup(node),
            self.config.request_timeout_ms,
            out,
        );
    }

    pub(super) fn handle_sync(&mut self, resp: SyncGroupResponse, out: ConsumerOut) {
        if !self.take_pending(resp.correlation_id, out) {
            return;
        }
        if self.unjoined_meanwhile(MemberState::CompletingRebalance, out) {
            return;
        }
        let Some(g) = &mut self.group else { return };
        match resp.error {
            Errors::None => {
                g.state = MemberState::Stable;
                g.join_prepared = false;
                g.rejoin_needed = false;
                g.pending_assignment = Some(resp.assignment);
                self.app_poll(out);
            }
            Errors::RebalanceInProgress => {
                g.state = MemberState::Unjoined;
                g.rejoin_needed = true;
                self.group_poll(out);
            }
            Errors::UnknownMemberId | Errors::IllegalGeneration => {
                g.reset_generation(resp.error == Errors::UnknownMemberId);
                self.arm_retry(out);
            }
            Errors::FencedInstanceId => self.fatal(resp.error, out),
            error => {
                g.state = MemberState::Unjoined;
                g.rejoin_needed = true;
                self.coordinator_failed(error, out);
            }
        }
    }

    /// `onJoinComplete`, inside `poll()`: take the new assignment. A cooperative member gives
    /// up what moved away and rejoins for the follow-up rebalance in the same `poll()`.
    fn join_complete(&mut self, assigned: Vec<TopicPartition>, out: ConsumerOut) {
        let now = out.now_ms();
        let protocol = rebalance_protocol(&self.config);
        let Some(g) = &mut self.group else { return };
        let group = g.group_id.clone();
        let generation = g.generation;
        let owned = self.assignment.clone();
        if protocol == RebalanceProtocol::Cooperative {
            let revoked: Vec<TopicPartition> = owned
                .iter()
                .filter(|tp| !assigned.contains(tp))
                .cloned()
                .collect();
            if !revoked.is_empty() {
                g.rejoin_needed = true;
                out.note(Note::PartitionsRevoked {
                    group: group.clone(),
                    partitions: revoked.clone(),
                });
                self.forget_partitions(&revoked);
            }
        }
        let Some(g) = &mut self.group else { return };
        let added: Vec<TopicPartition> = assigned
            .iter()
            .filter(|tp| !owned.contains(tp))
            .cloned()
            .collect();
        for tp in &added {
            g.offset_fetch_done.remove(tp);
        }
        g.next_auto_commit_ms = now + self.config.auto_commit_interval_ms;
        g.sticky_member_data = Some((assigned.clone(), generation));
        self.assignment = assigned;
        out.note(Note::PartitionsAssigned {
            group,
            generation,
            partitions: added,
        });
        self.send_requests(out);
    }

    pub(super) fn heartbeat_tick(&mut self, out: ConsumerOut) {
        let now = out.now_ms();
        let session = self.config.session_timeout_ms;
        let Some(g) = &mut self.group else { return };
        if !matches!(
            g.state,
            MemberState::CompletingRebalance | MemberState::Stable
        ) || g.fatal.is_some()
        {
            return;
        }
        out.set_timer_ms(Timer::ConsumerHeartbeat, self.config.heartbeat_interval_ms);
        let Some((_, node)) = g.coordinator else {
            return;
        };
        if now - g.last_heartbeat_ok_ms > session {
            // No heartbeat answer for a whole session: the coordinator is presumed gone.
            self.coordinator_failed(Errors::RequestTimedOut, out);
            return;
        }
        if g.heartbeat_in_flight {
            return;
        }
        g.heartbeat_in_flight = true;
        let id = super::bump(&mut self.next_correlation_id);
        let Some(g) = &self.group else { return };
        let msg = KafkaMsg::Heartbeat(HeartbeatRequest {
            correlation_id: id,
            group_id: g.group_id.clone(),
            generation_id: g.generation,
            member_id: g.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
        });
        self.request(
            node,
            msg,
            Pending::Heartbeat(node),
            self.config.request_timeout_ms,
            out,
        );
    }

    pub(super) fn handle_heartbeat(&mut self, resp: HeartbeatResponse, out: ConsumerOut) {
        if !self.take_pending(resp.correlation_id, out) {
            return;
        }
        let now = out.now_ms();
        let Some(g) = &mut self.group else { return };
        g.heartbeat_in_flight = false;
        match resp.error {
            Errors::None => g.last_heartbeat_ok_ms = now,
            Errors::RebalanceInProgress => {
                g.last_heartbeat_ok_ms = now;
                if g.state == MemberState::Stable {
                    g.rejoin_needed = true;
                    self.app_poll(out);
                }
            }
            Errors::IllegalGeneration | Errors::UnknownMemberId => {
                if g.state == MemberState::Stable || g.state == MemberState::CompletingRebalance {
                    g.reset_generation(resp.error == Errors::UnknownMemberId);
                    self.app_poll(out);
                }
            }
            Errors::FencedInstanceId => self.fatal(resp.error, out),
            error => self.coordinator_failed(error, out),
        }
    }

    // ----- commits -----

    /// Commits `offsets` for `purpose`; reports back through [`Self::commit_done`].
    pub(super) fn commit(
        &mut self,
        offsets: Vec<(TopicPartition, i64)>,
        purpose: Purpose,
        out: ConsumerOut,
    ) {
        let now = out.now_ms();
        let timeout = self.config.default_api_timeout_ms;
        let Some(g) = &mut self.group else {
            return self.commit_done(purpose, true, out);
        };
        if g.subscribed && g.state != MemberState::Stable {
            // `generationIfStable()` is null: fail without asking the broker.
            let exception = if g.in_rebalance() || g.rejoin_needed {
                "RebalanceInProgressException"
            } else {
                "CommitFailedException"
            };
            out.note(Note::CommitFailed {
                group: g.group_id.clone(),
                error: None,
                exception,
            });
            return self.commit_done(purpose, false, out);
        }
        if offsets.is_empty() {
            return self.commit_done(purpose, true, out);
        }
        let (generation, member_id) = if g.subscribed {
            (g.generation, g.member_id.clone())
        } else {
            (NO_GENERATION, Arc::from(UNKNOWN_MEMBER_ID))
        };
        g.commit = Some(PendingCommit {
            offsets,
            generation,
            member_id,
            purpose,
            deadline_ms: now + timeout,
            in_flight: false,
        });
        self.send_commit(out);
    }

    fn send_commit(&mut self, out: ConsumerOut) {
        let Some(g) = &mut self.group else { return };
        let Some(commit) = &mut g.commit else { return };
        if commit.in_flight {
            return;
        }
        let Some((_, node)) = g.coordinator else {
            self.ensure_coordinator(out);
            return;
        };
        commit.in_flight = true;
        let id = super::bump(&mut self.next_correlation_id);
        let partitions = commit
            .offsets
            .iter()
            .map(|(tp, offset)| OffsetCommitPartition {
                tp: tp.clone(),
                committed_offset: *offset,
                committed_leader_epoch: NO_EPOCH,
            })
            .collect();
        let msg = KafkaMsg::OffsetCommit(OffsetCommitRequest {
            correlation_id: id,
            group_id: g.group_id.clone(),
            generation_id: commit.generation,
            member_id: commit.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            partitions,
        });
        self.request(
            node,
            msg,
            Pending::OffsetCommit(node),
            self.config.request_timeout_ms,
            out,
        );
    }

    pub(super) fn handle_commit(&mut self, resp: OffsetCommitResponse, out: ConsumerOut) {
        if !self.take_pending(resp.correlation_id, out) {
            return;
        }
        let error = resp
            .partitions
            .iter()
            .map(|(_, e)| *e)
            .find(|e| !e.is_ok())
            .unwrap_or(Errors::None);
        let now = out.now_ms();
        let Some(g) = &mut self.group else { return };
        let Some(commit) = g.commit.as_mut() else {
            return;
        };
        commit.in_flight = false;
        let purpose = commit.purpose;
        let retriable = matches!(
            error,
            Errors::NotCoordinator
                | Errors::CoordinatorNotAvailable
                | Errors::CoordinatorLoadInProgress
                | Errors::RequestTimedOut
        );
        if error.is_ok() {
            if let Some(commit) = g.commit.take() {
                out.note(Note::Committed {
                    group: g.group_id.clone(),
                    offsets: commit.offsets,
                });
            }
            return self.commit_done(purpose, true, out);
        }
        if retriable && purpose != Purpose::AutoCommit && now < commit.deadline_ms {
            if error != Errors::CoordinatorLoadInProgress {
                self.coordinator_failed(error, out);
            } else {
                self.arm_retry(out);
            }
            return;
        }
        let group = g.group_id.clone();
        g.commit = None;
        let exception = match error {
            Errors::RebalanceInProgress => {
                g.rejoin_needed = true;
                "RebalanceInProgressException"
            }
            Errors::IllegalGeneration | Errors::UnknownMemberId => {
                g.reset_generation(error == Errors::UnknownMemberId);
                "CommitFailedException"
            }
            Errors::FencedInstanceId => "FencedInstanceIdException",
            e if e.is_retriable() => {
                if matches!(e, Errors::NotCoordinator | Errors::CoordinatorNotAvailable) {
                    self.coordinator_failed(e, out);
                }
                if purpose == Purpose::AutoCommit {
                    "RetriableCommitFailedException"
                } else {
                    "TimeoutException"
                }
            }
            _ => "KafkaException",
        };
        out.note(Note::CommitFailed {
            group,
            error: Some(error),
            exception,
        });
        if error == Errors::FencedInstanceId {
            self.fatal(error, out);
        }
        self.commit_done(purpose, false, out);
    }

    /// The commit request got no answer: look the coordinator up again and retry until the
    /// deadline (`commitSync`), or give up (auto-commit).
    pub(super) fn commit_failed_to_send(&mut self, out: ConsumerOut) {
        let now = out.now_ms();
        let Some(g) = &mut self.group else { return };
        let Some(commit) = g.commit.as_mut() else {
            return;
        };
        commit.in_flight = false;
        let purpose = commit.purpose;
        if purpose != Purpose::AutoCommit && now < commit.deadline_ms {
            self.coordinator_failed(Errors::RequestTimedOut, out);
            return;
        }
        let group = g.group_id.clone();
        g.commit = None;
        out.note(Note::CommitFailed {
            group,
            error: Some(Errors::RequestTimedOut),
            exception: "TimeoutException",
        });
        self.coordinator_failed(Errors::RequestTimedOut, out);
        self.commit_done(purpose, false, out);
    }

    fn commit_done(&mut self, purpose: Purpose, ok: bool, out: ConsumerOut) {
        match purpose {
            Purpose::App => self.app_commit_done(ok, out),
            Purpose::AutoCommit => {}
            Purpose::JoinPrepare => {
                if let Some(g) = &mut self.group {
                    g.join_commit_done = true;
                }
                self.app_poll(out);
            }
        }
    }

    // ----- committed offsets -----

    /// OffsetFetch for assigned partitions that have no position yet.
    pub(super) fn fetch_committed_offsets(&mut self, out: ConsumerOut) {
        let Some(g) = &self.group else { return };
        let tps: Vec<TopicPartition> = self
            .assignment
            .iter()
            .filter(|tp| {
                !self.positions.contains_key(*tp)
                    && !g.offset_fetch_done.contains(*tp)
                    && !self.awaiting_committed.contains(*tp)
            })
            .cloned()
            .collect();
        if tps.is_empty() {
            return;
        }
        let Some((_, node)) = g.coordinator else {
            self.ensure_coordinator(out);
            return;
        };
        let id = super::bump(&mut self.next_correlation_id);
        let msg = KafkaMsg::OffsetFetch(OffsetFetchRequest {
            correlation_id: id,
            group_id: g.group_id.clone(),
            partitions: Some(tps.clone()),
        });
        self.awaiting_committed.extend(tps.iter().cloned());
        self.request(
            node,
            msg,
            Pending::OffsetFetch(node, tps),
            self.config.request_timeout_ms,
            out,
        );
    }

    pub(super) fn handle_offset_fetch(&mut self, resp: OffsetFetchResponse, out: ConsumerOut) {
        let Some(Pending::OffsetFetch(_, tps)) = self.pending.remove(&resp.correlation_id) else {
            return;
        };
        out.cancel_timer(Timer::RequestTimeout(resp.correlation_id));
        for tp in &tps {
            self.awaiting_committed.remove(tp);
        }
        if !resp.error.is_ok() {
            if resp.error == Errors::CoordinatorLoadInProgress {
                self.arm_retry(out);
            } else {
                self.coordinator_failed(resp.error, out);
            }
            return;
        }
        let Some(g) = &mut self.group else { return };
        for p in resp.partitions {
            if !self.assignment.contains(&p.tp) {
                continue;
            }
            g.offset_fetch_done.insert(p.tp.clone());
            if p.error.is_ok() && p.committed_offset >= 0 && !self.positions.contains_key(&p.tp) {
                self.positions.insert(p.tp, p.committed_offset);
            }
        }
        self.send_requests(out);
    }

    // ----- the coordinator -----

    fn ensure_coordinator(&mut self, out: ConsumerOut) {
        let Some(g) = &mut self.group else { return };
        if g.coordinator.is_some() || g.finding || g.fatal.is_some() {
            return;
        }
        let nodes = self.metadata.nodes();
        let Some(node) = nodes.get(g.find_attempts % nodes.len().max(1)).copied() else {
            return;
        };
        g.find_attempts += 1;
        g.finding = true;
        let id = super::bump(&mut self.next_correlation_id);
        let msg = KafkaMsg::FindCoordinator(FindCoordinatorRequest {
            correlation_id: id,
            key: g.group_id.clone(),
        });
        self.request(
            node,
            msg,
            Pending::FindCoordinator(node),
            self.config.request_timeout_ms,
            out,
        );
    }

    pub(super) fn handle_find_coordinator(
        &mut self,
        resp: FindCoordinatorResponse,
        out: ConsumerOut,
    ) {
        if !self.take_pending(resp.correlation_id, out) {
            return;
        }
        let Some(g) = &mut self.group else { return };
        g.finding = false;
        match (resp.error, resp.node) {
            (Errors::None, Some(node)) => {
                g.coordinator = Some((resp.node_id, node));
                // `heartbeat.resetSessionTimeout()`: the session clock starts again with the
                // new coordinator. Otherwise a member that lost its coordinator for longer
                // than the session would give the one it just found up at the next tick,
                // before any heartbeat could reach it — forever.
                g.last_heartbeat_ok_ms = out.now_ms();
                out.note(Note::CoordinatorDiscovered {
                    group: g.group_id.clone(),
                    broker: resp.node_id,
                });
                self.after_coordinator_found(out);
            }
            _ => self.arm_retry(out),
        }
    }

    /// Resume what waited for a coordinator. Joining happens only inside `poll()` (on the
    /// application thread, as in Kafka): a consumer blocked in `commitSync()` finds the
    /// coordinator for its commit but does not rejoin until the application polls again.
    fn after_coordinator_found(&mut self, out: ConsumerOut) {
        self.send_commit(out);
        self.send_requests(out);
        self.app_poll(out);
    }

    /// `markCoordinatorUnknown`: forget it, and look again after `retry.backoff.ms`.
    pub(super) fn coordinator_failed(&mut self, _error: Errors, out: ConsumerOut) {
        let Some(g) = &mut self.group else { return };
        g.coordinator = None;
        g.finding = false;
        g.heartbeat_in_flight = false;
        self.arm_retry(out);
    }

    fn arm_retry(&mut self, out: ConsumerOut) {
        let Some(g) = &mut self.group else { return };
        if !g.retry_armed {
            g.retry_armed = true;
            out.set_timer_ms(Timer::CoordinatorRetry, self.config.retry_backoff_ms);
        }
    }

    pub(super) fn coordinator_retry(&mut self, out: ConsumerOut) {
        let Some(g) = &mut self.group else { return };
        g.retry_armed = false;
        if g.coordinator.is_none() {
            self.ensure_coordinator(out);
        } else {
            self.after_coordinator_found(out);
        }
    }

    /// A JoinGroup or SyncGroup got no answer.
    pub(super) fn rebalance_request_failed(&mut self, out: ConsumerOut) {
        let Some(g) = &mut self.group else { return };
        g.state = MemberState::Unjoined;
        g.rejoin_needed = true;
        self.coordinator_failed(Errors::RequestTimedOut, out);
    }

    /// `max.poll.interval.ms` passed without a poll: leave the group (`maybeLeaveGroup`).
    pub(super) fn poll_timeout_expired(&mut self, out: ConsumerOut) {
        let dynamic = self.config.group_instance_id.is_none();
        let Some(g) = &mut self.group else { return };
        if !g.subscribed || g.state == MemberState::Unjoined {
            return;
        }
        out.note(Note::LeftGroup {
            group: g.group_id.clone(),
            member: g.member_id.clone(),
            reason: "consumer poll timeout has expired".to_string(),
        });
        if let (true, Some((_, node))) = (dynamic && !g.member_id.is_empty(), g.coordinator) {
            let msg = KafkaMsg::LeaveGroup(LeaveGroupRequest {
                correlation_id: 0,
                group_id: g.group_id.clone(),
                members: vec![MemberIdentity {
                    member_id: g.member_id.clone(),
                    group_instance_id: None,
                }],
            });
            out.send(node, msg);
        }
        g.reset_generation(true);
        out.cancel_timer(Timer::ConsumerHeartbeat);
    }

    fn fatal(&mut self, error: Errors, out: ConsumerOut) {
        let Some(g) = &mut self.group else { return };
        g.fatal = Some(error);
        out.note(Note::CommitFailed {
            group: g.group_id.clone(),
            error: Some(error),
            exception: "fatal: the consumer stops",
        });
    }

    /// Removes a pending request and its timeout; false if it was not ours.
    fn take_pending(&mut self, id: i32, out: ConsumerOut) -> bool {
        if self.pending.remove(&id).is_none() {
            return false;
        }
        out.cancel_timer(Timer::RequestTimeout(id));
        true
    }
}
