//! The group coordinator of the classic protocol, as Kafka 4.x's `GroupMetadataManager` and
//! `OffsetMetadataManager` run it on the broker that leads a group's `__consumer_offsets`
//! partition.
//!
//! Why it is shaped this way: in Kafka the coordinator is a state machine per
//! `__consumer_offsets` partition (a *shard*) whose state is rebuilt from that partition's log.
//! Every change that must survive a failover — a committed offset, the assignment of a
//! generation — is written to the log first, and the answer waits until the write is committed
//! (the high watermark passes it). So when the coordinator's broker dies, the next leader of
//! the partition replays the log and carries on: members heartbeat to the new coordinator and,
//! if they find it within their session timeout, the group does not even rebalance.
//!
//! The coordinator does not touch the log itself: handlers return [`Write`]s that the broker
//! appends as leader and whose answers it parks until the HW covers them.
//!
//! Simplifications (listed in README "Differences from Kafka"): loading a shard is instant
//! (Kafka answers `COORDINATOR_LOAD_IN_PROGRESS` while it reads the log); offsets never expire
//! (`offsets.retention.minutes` is a week); a failed write is not rolled back in memory (the
//! shard is unloaded when its partition moves, and the next leader rebuilds it from the log).

pub mod classic;
pub mod records;

pub use classic::{ClassicGroup, GroupState, Member, Parked};
pub use records::{CoordinatorRecord, GroupMetadataValue, MemberMetadata, OffsetCommitValue};

use crate::kernel::{NodeId, Out};
use crate::log::UnifiedLog;
use crate::node::{KafkaNode, Note, Timer};
use crate::protocol::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

type CoordOut<'a, 'b> = &'a mut Out<'b, KafkaNode>;

/// The broker settings the coordinator uses (`group.*`, `offsets.*`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`.
    pub initial_rebalance_delay_ms: i64,
    /// `group.min.session.timeout.ms`.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub max_session_timeout_ms: i32,
    /// How long a new member's parked JoinGroup may wait (Kafka's fixed 5 minutes).
    pub new_member_join_timeout_ms: i64,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            initial_rebalance_delay_ms: 3_000,
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            new_member_join_timeout_ms: 300_000,
        }
    }
}

/// Records to append to one `__consumer_offsets` partition, and the answers to send once
/// they are committed.
#[derive(Clone, Debug)]
pub struct Write {
    pub partition: i32,
    pub records: Vec<CoordinatorRecord>,
    pub responses: Vec<(NodeId, KafkaMsg)>,
    /// The group and generation whose assignment this write persists: once it is committed
    /// the generation becomes Stable and every member waiting in SyncGroup gets its
    /// assignment (Kafka does both in the append's completion callback).
    pub completes_sync: Option<(Arc<str>, i32)>,
}

/// Answers waiting for the HW of their partition to pass `required_offset`.
#[derive(Clone, Debug, Serialize)]
struct PendingWrite {
    partition: i32,
    required_offset: i64,
    #[serde(skip)]
    responses: Vec<(NodeId, KafkaMsg)>,
    completes_sync: Option<(Arc<str>, i32)>,
}

/// The coordinator of the groups whose `__consumer_offsets` partitions this broker leads.
#[derive(Clone, Debug, Default, Serialize)]
pub struct GroupCoordinator {
    config: GroupConfig,
    /// Loaded shards: `__consumer_offsets` partitions this broker leads.
    shards: BTreeSet<i32>,
    groups: BTreeMap<Arc<str>, ClassicGroup>,
    /// Committed offsets by group.
    offsets: BTreeMap<Arc<str>, BTreeMap<TopicPartition, OffsetCommitValue>>,
    pending: Vec<PendingWrite>,
    /// The `__consumer_offsets` partition count (`partitionFor`).
    num_partitions: i32,
}

/// Writes a handler asks the broker to append.
type Writes = Vec<Write>;

impl GroupCoordinator {
    pub fn new(config: GroupConfig, num_partitions: i32) -> Self {
        GroupCoordinator {
            config,
            num_partitions: num_partitions.max(1),
            ..GroupCoordinator::default()
        }
    }

    pub fn set_num_partitions(&mut self, n: i32) {
        self.num_partitions = n.max(1);
    }

    /// `partitionFor(groupId)`: `Utils.abs(groupId.hashCode()) % numPartitions`.
    pub fn partition_for(&self, group_id: &str) -> i32 {
        crate::utils::group_partition(group_id, self.num_partitions)
    }

    pub fn group(&self, group_id: &str) -> Option<&ClassicGroup> {
        self.groups.get(group_id)
    }

    pub fn groups(&self) -> impl Iterator<Item = &ClassicGroup> {
        self.groups.values()
    }

    /// The committed offsets of a group.
    pub fn committed(
        &self,
        group_id: &str,
    ) -> Option<&BTreeMap<TopicPartition, OffsetCommitValue>> {
        self.offsets.get(group_id)
    }

    pub fn is_loaded(&self, partition: i32) -> bool {
        self.shards.contains(&partition)
    }

    /// A broker crash forgets everything: it is all rebuilt from the log.
    pub fn reset(&mut self) {
        self.shards.clear();
        self.groups.clear();
        self.offsets.clear();
        self.pending.clear();
    }

    // ----- shards -----

    /// This broker became the leader of `partition`: rebuild its groups and offsets from
    /// the log (`CoordinatorLoaderImpl`), and give every member a fresh session.
    pub fn load(&mut self, partition: i32, log: &UnifiedLog, out: CoordOut) {
        self.unload(partition, out);
        self.shards.insert(partition);
        let now = out.now_ms();
        let mut metadata: BTreeMap<Arc<str>, Option<GroupMetadataValue>> = BTreeMap::new();
        let mut offsets = 0usize;
        for r in log.records() {
            match CoordinatorRecord::from_record(r.key.as_deref(), r.value.as_deref()) {
                Some(CoordinatorRecord::OffsetCommit { group, tp, value }) => {
                    let entry = self.offsets.entry(group).or_default();
                    match value {
                        Some(v) => entry.insert(tp, v),
                        None => entry.remove(&tp),
                    };
                    offsets += 1;
                }
                Some(CoordinatorRecord::GroupMetadata { group, value }) => {
                    metadata.insert(group, value);
                }
                None => {}
            }
        }
        let mut loaded = 0usize;
        for (group_id, value) in metadata {
            let Some(value) = value else { continue };
            let mut group = ClassicGroup::new(group_id.clone(), partition, now);
            group.generation_id = value.generation;
            group.protocol_type = Some(value.protocol_type.clone());
            group.protocol_name = value.protocol.clone();
            for m in &value.members {
                let protocol = JoinGroupProtocol {
                    name: value.protocol.clone().unwrap_or_default(),
                    metadata: m.subscription.clone(),
                };
                group.add(Member {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: NodeId(u32::MAX),
                    rebalance_timeout_ms: m.rebalance_timeout,
                    session_timeout_ms: m.session_timeout,
                    protocols: vec![protocol],
                    assignment: m.assignment.clone(),
                    awaiting_join: None,
                    awaiting_sync: None,
                    is_new: false,
                });
            }
            group.leader_id = value.leader.clone();
            let state = if group.members.is_empty() {
                GroupState::Empty
            } else {
                GroupState::Stable
            };
            group.transition_to(state, now);
            for m in group.members.values() {
                out.set_timer_ms(
                    Timer::GroupHeartbeat(group_id.clone(), m.member_id.clone()),
                    i64::from(m.session_timeout_ms),
                );
            }
            self.groups.insert(group_id, group);
            loaded += 1;
        }
        out.note(Note::CoordinatorLoaded {
            partition,
            groups: loaded,
            offsets,
        });
    }

    /// This broker no longer leads `partition`: forget its groups; parked requests and
    /// pending writes are answered `NOT_COORDINATOR` so members look the coordinator up again.
    pub fn unload(&mut self, partition: i32, out: CoordOut) {
        if !self.shards.remove(&partition) {
            return;
        }
        let gone: Vec<Arc<str>> = self
            .groups
            .values()
            .filter(|g| g.partition == partition)
            .map(|g| g.group_id.clone())
            .collect();
        for id in &gone {
            if let Some(group) = self.groups.remove(id) {
                for m in group.members.values() {
                    out.cancel_timer(Timer::GroupHeartbeat(id.clone(), m.member_id.clone()));
                    if let Some(p) = m.awaiting_join {
                        out.send(p.node, join_error(p, Errors::NotCoordinator, ""));
                    }
                    if let Some(p) = m.awaiting_sync {
                        out.send(p.node, sync_error(p, Errors::NotCoordinator));
                    }
                }
                out.cancel_timer(Timer::GroupJoin(id.clone()));
                out.cancel_timer(Timer::GroupSync(id.clone()));
            }
        }
        let num = self.num_partitions;
        self.offsets
            .retain(|g, _| crate::utils::group_partition(g, num) != partition);
        self.fail_pending(partition, Errors::NotCoordinator, out);
        out.note(Note::CoordinatorUnloaded { partition });
    }

    /// Parks the answers of a write that was appended up to `end_offset` (exclusive), and
    /// the SyncGroup it completes, if any.
    pub fn park(
        &mut self,
        partition: i32,
        end_offset: i64,
        responses: Vec<(NodeId, KafkaMsg)>,
        completes_sync: Option<(Arc<str>, i32)>,
    ) {
        self.pending.push(PendingWrite {
            partition,
            required_offset: end_offset,
            responses,
            completes_sync,
        });
    }

    /// The HW of `partition` moved: send the answers it now covers.
    pub fn on_high_watermark(&mut self, partition: i32, hw: i64, out: CoordOut) {
        if self.pending.is_empty() {
            return;
        }
        let mut kept = Vec::with_capacity(self.pending.len());
        let mut synced = Vec::new();
        for w in std::mem::take(&mut self.pending) {
            if w.partition == partition && w.required_offset <= hw {
                for (to, msg) in w.responses {
                    out.send(to, msg);
                }
                synced.extend(w.completes_sync);
            } else {
                kept.push(w);
            }
        }
        self.pending = kept;
        for (group, generation) in synced {
            self.complete_sync(&group, generation, out);
        }
    }

    /// The assignment of `generation` is committed (`propagateAssignment` in the append
    /// callback): the group is Stable and every member waiting in SyncGroup gets its share.
    /// A group that has moved on since (a member joined or left) ignores it.
    fn complete_sync(&mut self, group_id: &Arc<str>, generation: i32, out: CoordOut) {
        let now = out.now_ms();
        let Some(group) = self.groups.get_mut(group_id) else {
            return;
        };
        if !group.is(GroupState::CompletingRebalance) || group.generation_id != generation {
            return;
        }
        group.transition_to(GroupState::Stable, now);
        out.note(Note::GroupStable {
            group: group_id.clone(),
            generation,
            assignment: group
                .members
                .values()
                .map(|m| (m.member_id.clone(), m.assignment.clone()))
                .collect(),
        });
        for m in group.members.values_mut() {
            if let Some(p) = m.awaiting_sync.take() {
                out.send(
                    p.node,
                    sync_response(p, group.protocol_name.clone(), &m.assignment),
                );
            }
        }
    }

    /// Writing the assignment of `generation` failed (`resetAndPropagateAssignmentWithError`):
    /// the members waiting in SyncGroup get `error` and rejoin.
    pub fn fail_sync(
        &mut self,
        group_id: &Arc<str>,
        generation: i32,
        error: Errors,
        out: CoordOut,
    ) {
        let Some(group) = self.groups.get_mut(group_id) else {
            return;
        };
        if !group.is(GroupState::CompletingRebalance) || group.generation_id != generation {
            return;
        }
        for m in group.members.values_mut() {
            m.assignment.clear();
            if let Some(p) = m.awaiting_sync.take() {
                out.send(p.node, sync_error(p, error));
            }
        }
    }

    /// Answers every pending write of `partition` with `error` instead.
    pub fn fail_pending(&mut self, partition: i32, error: Errors, out: CoordOut) {
        let (failed, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|w| w.partition == partition);
        self.pending = kept;
        for w in failed {
            for (to, msg) in w.responses {
                out.send(to, with_error(msg, error));
            }
        }
    }

    /// Why this broker cannot serve `group_id` now, if it cannot.
    fn check_coordinator(&self, group_id: &str) -> Result<i32, Errors> {
        let partition = self.partition_for(group_id);
        if self.shards.contains(&partition) {
            Ok(partition)
        } else {
            Err(Errors::NotCoordinator)
        }
    }

    // ----- requests -----

    /// Handles a group RPC; answers what can be answered now and returns the writes whose
    /// answers must wait for the log.
    pub fn handle(&mut self, from: NodeId, msg: KafkaMsg, out: CoordOut) -> Writes {
        match msg {
            KafkaMsg::JoinGroup(req) => self.join_group(from, req, out),
            KafkaMsg::SyncGroup(req) => self.sync_group(from, req, out),
            KafkaMsg::Heartbeat(req) => {
                let error = self.heartbeat(&req, out);
                out.send(
                    from,
                    KafkaMsg::HeartbeatResponse(HeartbeatResponse {
                        correlation_id: req.correlation_id,
                        error,
                    }),
                );
                Vec::new()
            }
            KafkaMsg::LeaveGroup(req) => self.leave_group(from, req, out),
            KafkaMsg::OffsetCommit(req) => self.offset_commit(from, req, out),
            KafkaMsg::OffsetFetch(req) => {
                let resp = self.offset_fetch(&req);
                out.send(from, KafkaMsg::OffsetFetchResponse(resp));
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn join_group(&mut self, from: NodeId, req: JoinGroupRequest, out: CoordOut) -> Writes {
        let parked = Parked {
            node: from,
            correlation_id: req.correlation_id,
        };
        let partition = match self.check_coordinator(&req.group_id) {
            Ok(p) => p,
            Err(e) => {
                out.send(from, join_error(parked, e, &req.member_id));
                return Vec::new();
            }
        };
        let session = req.session_timeout_ms;
        if session < self.config.min_session_timeout_ms
            || session > self.config.max_session_timeout_ms
        {
            out.send(
                from,
                join_error(parked, Errors::InvalidSessionTimeout, &req.member_id),
            );
            return Vec::new();
        }
        let unknown = req.member_id.is_empty();
        if !self.groups.contains_key(&req.group_id) {
            if !unknown {
                out.send(
                    from,
                    join_error(parked, Errors::UnknownMemberId, &req.member_id),
                );
                return Vec::new();
            }
            let group = ClassicGroup::new(req.group_id.clone(), partition, out.now_ms());
            self.groups.insert(req.group_id.clone(), group);
        }
        let group_id = req.group_id.clone();
        let mut writes = if unknown {
            self.join_new_member(parked, req, out)
        } else {
            self.join_existing_member(parked, req, out)
        };
        writes.extend(self.maybe_complete_join_phase(&group_id, out));
        writes
    }

    fn join_new_member(&mut self, parked: Parked, req: JoinGroupRequest, out: CoordOut) -> Writes {
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return Vec::new();
        };
        if group.is(GroupState::Dead) {
            out.send(
                parked.node,
                join_error(parked, Errors::CoordinatorNotAvailable, ""),
            );
            return Vec::new();
        }
        if !group.supports_protocols(&req.protocol_type, &req.protocols) {
            out.send(
                parked.node,
                join_error(parked, Errors::InconsistentGroupProtocol, ""),
            );
            return Vec::new();
        }
        let prefix = req
            .group_instance_id
            .clone()
            .unwrap_or_else(|| req.client_id.clone());
        let member_id: Arc<str> = format!("{prefix}-{}", uuid(out)).into();
        match &req.group_instance_id {
            Some(instance) => {
                if let Some(old) = group.static_members.get(instance).cloned() {
                    return self.replace_static_member(parked, req, old, member_id, out);
                }
                self.add_member_and_rebalance(parked, req, member_id, out)
            }
            None => {
                // KIP-394: a new dynamic member first gets its id, and must join again with it.
                group.pending_members.insert(member_id.clone());
                out.set_timer_ms(
                    Timer::GroupHeartbeat(req.group_id.clone(), member_id.clone()),
                    i64::from(req.session_timeout_ms),
                );
                out.send(
                    parked.node,
                    join_error(parked, Errors::MemberIdRequired, &member_id),
                );
                Vec::new()
            }
        }
    }

    fn join_existing_member(
        &mut self,
        parked: Parked,
        req: JoinGroupRequest,
        out: CoordOut,
    ) -> Writes {
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return Vec::new();
        };
        if group.is(GroupState::Dead) {
            out.send(
                parked.node,
                join_error(parked, Errors::CoordinatorNotAvailable, &req.member_id),
            );
            return Vec::new();
        }
        if !group.supports_protocols(&req.protocol_type, &req.protocols) {
            out.send(
                parked.node,
                join_error(parked, Errors::InconsistentGroupProtocol, &req.member_id),
            );
            return Vec::new();
        }
        if group.pending_members.contains(&req.member_id) {
            let id = req.member_id.clone();
            return self.add_member_and_rebalance(parked, req, id, out);
        }
        if let Err(e) =
            group.validate_existing_member(&req.member_id, req.group_instance_id.as_deref())
        {
            out.send(parked.node, join_error(parked, e, &req.member_id));
            return Vec::new();
        }
        let Some(member) = group.members.get(&req.member_id) else {
            return Vec::new();
        };
        let same = member.matches(&req.protocols);
        match group.state {
            GroupState::PreparingRebalance => self.update_member_and_rebalance(parked, req, out),
            GroupState::CompletingRebalance if same => {
                // It missed its JoinGroup answer: send the current generation again.
                let leader = group.is_leader(&req.member_id);
                let resp = join_response(group, parked, &req.member_id, leader);
                out.send(parked.node, resp);
                Vec::new()
            }
            GroupState::Stable if same && !group.is_leader(&req.member_id) => {
                // A follower rejoining with unchanged metadata just gets the current
                // generation, and syncs.
                let resp = join_response(group, parked, &req.member_id, false);
                out.set_timer_ms(
                    Timer::GroupHeartbeat(req.group_id.clone(), req.member_id.clone()),
                    i64::from(member.session_timeout_ms),
                );
                out.send(parked.node, resp);
                Vec::new()
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                // Changed metadata, or the leader rejoining: a new rebalance.
                self.update_member_and_rebalance(parked, req, out)
            }
            GroupState::Empty | GroupState::Dead => {
                out.send(
                    parked.node,
                    join_error(parked, Errors::UnknownMemberId, &req.member_id),
                );
                Vec::new()
            }
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        parked: Parked,
        req: JoinGroupRequest,
        member_id: Arc<str>,
        out: CoordOut,
    ) -> Writes {
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return Vec::new();
        };
        if group.is(GroupState::PreparingRebalance) && group.generation_id == 0 {
            group.new_member_added = true;
        }
        group.add(Member {
            member_id: member_id.clone(),
            group_instance_id: req.group_instance_id.clone(),
            client_id: req.client_id.clone(),
            client_host: parked.node,
            rebalance_timeout_ms: req.rebalance_timeout_ms,
            session_timeout_ms: req.session_timeout_ms,
            protocols: req.protocols.clone(),
            assignment: Vec::new(),
            awaiting_join: Some(parked),
            awaiting_sync: None,
            is_new: true,
        });
        out.note(Note::GroupMemberJoined {
            group: req.group_id.clone(),
            member: member_id.clone(),
            instance: req.group_instance_id.clone(),
        });
        // A new member cannot heartbeat yet; its parked join times out instead.
        out.set_timer_ms(
            Timer::GroupHeartbeat(req.group_id.clone(), member_id),
            self.config.new_member_join_timeout_ms,
        );
        self.maybe_prepare_rebalance(&req.group_id, "a new member joined", out)
    }

    fn update_member_and_rebalance(
        &mut self,
        parked: Parked,
        req: JoinGroupRequest,
        out: CoordOut,
    ) -> Writes {
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return Vec::new();
        };
        let reason = if group.is_leader(&req.member_id) {
            "the leader rejoined"
        } else {
            "a member rejoined with changed metadata"
        };
        if let Some(m) = group.members.get_mut(&req.member_id) {
            // A join that replaces a parked one (the client gave up on it) takes its place.
            m.awaiting_join = Some(parked);
            m.protocols = req.protocols.clone();
            m.rebalance_timeout_ms = req.rebalance_timeout_ms;
            m.session_timeout_ms = req.session_timeout_ms;
        }
        self.maybe_prepare_rebalance(&req.group_id, reason, out)
    }

    /// `updateStaticMemberThenRebalanceOrCompleteJoin`: a static member came back with a
    /// new member id. The old id is fenced. In a Stable group with unchanged protocols the
    /// member takes over its previous assignment without a rebalance (KIP-345).
    fn replace_static_member(
        &mut self,
        parked: Parked,
        req: JoinGroupRequest,
        old_id: Arc<str>,
        new_id: Arc<str>,
        out: CoordOut,
    ) -> Writes {
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return Vec::new();
        };
        let Some(mut member) = group.members.remove(&old_id) else {
            return Vec::new();
        };
        out.cancel_timer(Timer::GroupHeartbeat(req.group_id.clone(), old_id.clone()));
        if let Some(p) = member.awaiting_join.take() {
            out.send(p.node, join_error(p, Errors::FencedInstanceId, &old_id));
        }
        if let Some(p) = member.awaiting_sync.take() {
            out.send(p.node, sync_error(p, Errors::FencedInstanceId));
        }
        let was_leader = group.is_leader(&old_id);
        member.protocols = req.protocols.clone();
        member.member_id = new_id.clone();
        member.client_host = parked.node;
        member.rebalance_timeout_ms = req.rebalance_timeout_ms;
        member.session_timeout_ms = req.session_timeout_ms;
        if group.pending_sync.remove(&old_id) {
            group.pending_sync.insert(new_id.clone());
        }
        if was_leader {
            group.leader_id = Some(new_id.clone());
        }
        if let Some(instance) = &req.group_instance_id {
            group
                .static_members
                .insert(instance.clone(), new_id.clone());
        }
        out.note(Note::StaticMemberReplaced {
            group: req.group_id.clone(),
            instance: req.group_instance_id.clone().unwrap_or_default(),
            old_member: old_id.clone(),
            member: new_id.clone(),
        });
        out.set_timer_ms(
            Timer::GroupHeartbeat(req.group_id.clone(), new_id.clone()),
            i64::from(req.session_timeout_ms),
        );
        match group.state {
            GroupState::Stable => {
                let selected = group.protocol_name.clone();
                member.awaiting_join = None;
                group.members.insert(new_id.clone(), member);
                if group.select_protocol() == selected {
                    // No rebalance: persist the new member id, then answer with the current
                    // generation. A returning leader is told to skip the assignment.
                    let resp = KafkaMsg::JoinGroupResponse(JoinGroupResponse {
                        correlation_id: parked.correlation_id,
                        error: Errors::None,
                        generation_id: group.generation_id,
                        protocol_name: group.protocol_name.clone(),
                        leader: group.leader_id.clone().unwrap_or_default(),
                        member_id: new_id.clone(),
                        members: Vec::new(),
                        skip_assignment: group.is_leader(&new_id),
                    });
                    let record = group_metadata_record(group);
                    return vec![Write {
                        partition: group.partition,
                        records: vec![record],
                        responses: vec![(parked.node, resp)],
                        completes_sync: None,
                    }];
                }
                // The selected protocol would change: rebalance with the member awaiting.
                if let Some(m) = group.members.get_mut(&new_id) {
                    m.awaiting_join = Some(parked);
                }
                self.maybe_prepare_rebalance(&req.group_id, "a static member rejoined", out)
            }
            _ => {
                member.awaiting_join = Some(parked);
                group.members.insert(new_id, member);
                self.maybe_prepare_rebalance(&req.group_id, "a static member rejoined", out)
            }
        }
    }

    /// `maybePrepareRebalanceOrCompleteJoin`.
    fn maybe_prepare_rebalance(
        &mut self,
        group_id: &Arc<str>,
        reason: &str,
        out: CoordOut,
    ) -> Writes {
        let Some(group) = self.groups.get(group_id) else {
            return Vec::new();
        };
        if group.can_rebalance() {
            self.prepare_rebalance(group_id, reason, out);
            Vec::new()
        } else {
            self.maybe_complete_join_phase(group_id, out)
        }
    }

    /// `prepareRebalance`: parked SyncGroups are told to rejoin; the join phase starts, with
    /// the initial delay for a group that was Empty.
    fn prepare_rebalance(&mut self, group_id: &Arc<str>, reason: &str, out: CoordOut) {
        let now = out.now_ms();
        let delay = self.config.initial_rebalance_delay_ms;
        let Some(group) = self.groups.get_mut(group_id) else {
            return;
        };
        if group.is(GroupState::CompletingRebalance) {
            for m in group.members.values_mut() {
                m.assignment.clear();
                if let Some(p) = m.awaiting_sync.take() {
                    out.send(p.node, sync_error(p, Errors::RebalanceInProgress));
                }
            }
        }
        out.cancel_timer(Timer::GroupSync(group_id.clone()));
        group.pending_sync.clear();
        let initial = group.is(GroupState::Empty);
        if initial {
            let remaining = (group.rebalance_timeout_ms() - delay).max(0);
            out.set_timer_ms(Timer::GroupJoin(group_id.clone()), delay);
            group.new_member_added = false;
            group.initial_delay = Some((delay, remaining));
        } else {
            out.set_timer_ms(
                Timer::GroupJoin(group_id.clone()),
                group.rebalance_timeout_ms(),
            );
            group.initial_delay = None;
        }
        group.transition_to(GroupState::PreparingRebalance, now);
        out.note(Note::GroupPreparingRebalance {
            group: group_id.clone(),
            generation: group.generation_id,
            reason: reason.to_string(),
        });
    }

    /// `maybeCompleteJoinPhase`: everyone rejoined (never early after Empty: the initial
    /// delay always runs out).
    fn maybe_complete_join_phase(&mut self, group_id: &Arc<str>, out: CoordOut) -> Writes {
        let Some(group) = self.groups.get(group_id) else {
            return Vec::new();
        };
        if group.is(GroupState::PreparingRebalance)
            && group.has_all_members_joined()
            && group.previous_state != GroupState::Empty
        {
            return self.complete_join(group_id, out);
        }
        Vec::new()
    }

    /// The join timer fired: the initial delay (maybe extended) or the rebalance timeout.
    pub fn on_join_timer(&mut self, group_id: &Arc<str>, out: CoordOut) -> Writes {
        let initial = self.config.initial_rebalance_delay_ms;
        let Some(group) = self.groups.get_mut(group_id) else {
            return Vec::new();
        };
        if !group.is(GroupState::PreparingRebalance) {
            return Vec::new();
        }
        if let Some((delay, remaining)) = group.initial_delay
            && group.new_member_added
            && remaining != 0
        {
            // `tryCompleteInitialRebalanceElseSchedule`: a member arrived during the delay.
            group.new_member_added = false;
            let next_delay = initial.min(remaining);
            let next_remaining = (remaining - delay).max(0);
            group.initial_delay = Some((next_delay, next_remaining));
            out.set_timer_ms(Timer::GroupJoin(group_id.clone()), next_delay);
            return Vec::new();
        }
        self.complete_join(group_id, out)
    }

    /// `completeClassicGroupJoin`.
    fn complete_join(&mut self, group_id: &Arc<str>, out: CoordOut) -> Writes {
        let now = out.now_ms();
        out.cancel_timer(Timer::GroupJoin(group_id.clone()));
        let Some(group) = self.groups.get_mut(group_id) else {
            return Vec::new();
        };
        if group.is(GroupState::Dead) {
            return Vec::new();
        }
        // Dynamic members that did not rejoin in time are removed; static ones stay.
        let stragglers: Vec<Arc<str>> = group
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && m.group_instance_id.is_none())
            .map(|m| m.member_id.clone())
            .collect();
        for id in stragglers {
            group.remove(&id);
            out.cancel_timer(Timer::GroupHeartbeat(group_id.clone(), id.clone()));
            out.note(Note::GroupMemberRemoved {
                group: group_id.clone(),
                member: id,
                reason: "did not rejoin within the rebalance timeout".to_string(),
            });
        }
        if !group.maybe_elect_new_joined_leader() && !group.members.is_empty() {
            // Nobody rejoined: wait another rebalance timeout for sessions to expire.
            out.set_timer_ms(
                Timer::GroupJoin(group_id.clone()),
                group.rebalance_timeout_ms(),
            );
            group.initial_delay = None;
            return Vec::new();
        }
        group.init_next_generation(now);
        if group.is(GroupState::Empty) {
            out.note(Note::GroupEmpty {
                group: group_id.clone(),
                generation: group.generation_id,
            });
            return vec![Write {
                partition: group.partition,
                records: vec![group_metadata_record(group)],
                responses: Vec::new(),
                completes_sync: None,
            }];
        }
        out.note(Note::GroupCompletingRebalance {
            group: group_id.clone(),
            generation: group.generation_id,
            protocol: group.protocol_name.clone().unwrap_or_default(),
            leader: group.leader_id.clone().unwrap_or_default(),
            members: group.members.len(),
        });
        let ids: Vec<Arc<str>> = group.members.keys().cloned().collect();
        for id in ids {
            let leader = group.is_leader(&id);
            let Some(parked) = group.members.get(&id).and_then(|m| m.awaiting_join) else {
                group.pending_sync.insert(id);
                continue;
            };
            let resp = join_response(group, parked, &id, leader);
            out.send(parked.node, resp);
            if let Some(m) = group.members.get_mut(&id) {
                m.awaiting_join = None;
                m.is_new = false;
                out.set_timer_ms(
                    Timer::GroupHeartbeat(group_id.clone(), id.clone()),
                    i64::from(m.session_timeout_ms),
                );
            }
            group.pending_sync.insert(id);
        }
        out.set_timer_ms(
            Timer::GroupSync(group_id.clone()),
            group.rebalance_timeout_ms(),
        );
        Vec::new()
    }

    /// The sync timer fired (`expirePendingSync`): members that did not send SyncGroup in
    /// time are removed, and the group rebalances again.
    pub fn on_sync_timer(&mut self, group_id: &Arc<str>, out: CoordOut) -> Writes {
        let Some(group) = self.groups.get_mut(group_id) else {
            return Vec::new();
        };
        if !matches!(
            group.state,
            GroupState::CompletingRebalance | GroupState::Stable
        ) || group.pending_sync.is_empty()
        {
            return Vec::new();
        }
        let late: Vec<Arc<str>> = std::mem::take(&mut group.pending_sync)
            .into_iter()
            .collect();
        for id in &late {
            group.remove(id);
            out.cancel_timer(Timer::GroupHeartbeat(group_id.clone(), id.clone()));
            out.note(Note::GroupMemberRemoved {
                group: group_id.clone(),
                member: id.clone(),
                reason: "did not send SyncGroup within the rebalance timeout".to_string(),
            });
        }
        self.prepare_rebalance(group_id, "members did not sync in time", out);
        Vec::new()
    }

    /// A member's session ran out (`onExpireHeartbeat`).
    pub fn on_heartbeat_timer(
        &mut self,
        group_id: &Arc<str>,
        member_id: &Arc<str>,
        out: CoordOut,
    ) -> Writes {
        let Some(group) = self.groups.get_mut(group_id) else {
            return Vec::new();
        };
        if group.is(GroupState::Dead) {
            return Vec::new();
        }
        if group.pending_members.remove(member_id) {
            return self.maybe_complete_join_phase(group_id, out);
        }
        let Some(member) = group.members.get(member_id) else {
            return Vec::new();
        };
        if member.has_satisfied_heartbeat() {
            return Vec::new();
        }
        self.remove_member_and_update(group_id, member_id, "its session timed out", out)
    }

    /// `removeMemberAndUpdateClassicGroup`.
    fn remove_member_and_update(
        &mut self,
        group_id: &Arc<str>,
        member_id: &Arc<str>,
        reason: &str,
        out: CoordOut,
    ) -> Writes {
        let Some(group) = self.groups.get_mut(group_id) else {
            return Vec::new();
        };
        let Some(member) = group.remove(member_id) else {
            return Vec::new();
        };
        out.cancel_timer(Timer::GroupHeartbeat(group_id.clone(), member_id.clone()));
        if let Some(p) = member.awaiting_join {
            out.send(p.node, join_error(p, Errors::UnknownMemberId, member_id));
        }
        if let Some(p) = member.awaiting_sync {
            out.send(p.node, sync_error(p, Errors::UnknownMemberId));
        }
        out.note(Note::GroupMemberRemoved {
            group: group_id.clone(),
            member: member_id.clone(),
            reason: reason.to_string(),
        });
        match group.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(group_id, reason, out);
                Vec::new()
            }
            GroupState::PreparingRebalance => self.maybe_complete_join_phase(group_id, out),
            GroupState::Empty | GroupState::Dead => Vec::new(),
        }
    }

    fn sync_group(&mut self, from: NodeId, req: SyncGroupRequest, out: CoordOut) -> Writes {
        let parked = Parked {
            node: from,
            correlation_id: req.correlation_id,
        };
        if let Err(e) = self.check_coordinator(&req.group_id) {
            out.send(from, sync_error(parked, e));
            return Vec::new();
        }
        // The leader's assignment for this generation is already being written.
        let assignment_pending = self.pending.iter().any(|w| {
            w.completes_sync.as_ref().is_some_and(|(g, generation)| {
                *g == req.group_id && *generation == req.generation_id
            })
        });
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            out.send(from, sync_error(parked, Errors::UnknownMemberId));
            return Vec::new();
        };
        let check = if group.is(GroupState::Dead) {
            Err(Errors::CoordinatorNotAvailable)
        } else {
            group
                .validate_existing_member(&req.member_id, req.group_instance_id.as_deref())
                .and_then(|()| {
                    if req.generation_id != group.generation_id {
                        Err(Errors::IllegalGeneration)
                    } else if req.protocol_name.is_some()
                        && req.protocol_name != group.protocol_name
                    {
                        Err(Errors::InconsistentGroupProtocol)
                    } else {
                        Ok(())
                    }
                })
        };
        if let Err(e) = check {
            out.send(from, sync_error(parked, e));
            return Vec::new();
        }
        group.pending_sync.remove(&req.member_id);
        if group.pending_sync.is_empty() {
            out.cancel_timer(Timer::GroupSync(req.group_id.clone()));
        }
        let session = group
            .members
            .get(&req.member_id)
            .map_or(0, |m| i64::from(m.session_timeout_ms));
        out.set_timer_ms(
            Timer::GroupHeartbeat(req.group_id.clone(), req.member_id.clone()),
            session,
        );
        match group.state {
            GroupState::PreparingRebalance => {
                out.send(from, sync_error(parked, Errors::RebalanceInProgress));
                Vec::new()
            }
            GroupState::CompletingRebalance => {
                if let Some(m) = group.members.get_mut(&req.member_id) {
                    m.awaiting_sync = Some(parked);
                }
                if !group.is_leader(&req.member_id) || assignment_pending {
                    return Vec::new();
                }
                // The leader's assignment: persist it. The group stays CompletingRebalance,
                // and every member (the leader too) waits, until the record is committed
                // (`complete_sync`): an assignment a failover could lose is never handed out.
                for m in group.members.values_mut() {
                    m.assignment = req
                        .assignments
                        .iter()
                        .find(|a| a.member_id == m.member_id)
                        .map(|a| a.assignment.clone())
                        .unwrap_or_default();
                }
                vec![Write {
                    partition: group.partition,
                    records: vec![group_metadata_record(group)],
                    responses: Vec::new(),
                    completes_sync: Some((req.group_id.clone(), group.generation_id)),
                }]
            }
            GroupState::Stable => {
                let assignment = group
                    .members
                    .get(&req.member_id)
                    .map(|m| m.assignment.clone())
                    .unwrap_or_default();
                out.send(
                    from,
                    sync_response(parked, group.protocol_name.clone(), &assignment),
                );
                Vec::new()
            }
            GroupState::Empty | GroupState::Dead => {
                out.send(from, sync_error(parked, Errors::UnknownMemberId));
                Vec::new()
            }
        }
    }

    /// `classicGroupHeartbeat`.
    fn heartbeat(&mut self, req: &HeartbeatRequest, out: CoordOut) -> Errors {
        if let Err(e) = self.check_coordinator(&req.group_id) {
            return e;
        }
        let Some(group) = self.groups.get(&req.group_id) else {
            return Errors::UnknownMemberId;
        };
        if group.is(GroupState::Dead) {
            return Errors::CoordinatorNotAvailable;
        }
        if let Err(e) =
            group.validate_existing_member(&req.member_id, req.group_instance_id.as_deref())
        {
            return e;
        }
        if req.generation_id != group.generation_id {
            return Errors::IllegalGeneration;
        }
        let session = group
            .members
            .get(&req.member_id)
            .map_or(0, |m| i64::from(m.session_timeout_ms));
        match group.state {
            GroupState::Empty | GroupState::Dead => Errors::UnknownMemberId,
            GroupState::PreparingRebalance => {
                out.set_timer_ms(
                    Timer::GroupHeartbeat(req.group_id.clone(), req.member_id.clone()),
                    session,
                );
                Errors::RebalanceInProgress
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                out.set_timer_ms(
                    Timer::GroupHeartbeat(req.group_id.clone(), req.member_id.clone()),
                    session,
                );
                Errors::None
            }
        }
    }

    fn leave_group(&mut self, from: NodeId, req: LeaveGroupRequest, out: CoordOut) -> Writes {
        let respond = |out: CoordOut, error, members| {
            out.send(
                from,
                KafkaMsg::LeaveGroupResponse(LeaveGroupResponse {
                    correlation_id: req.correlation_id,
                    error,
                    members,
                }),
            );
        };
        if let Err(e) = self.check_coordinator(&req.group_id) {
            respond(out, e, Vec::new());
            return Vec::new();
        }
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            respond(out, Errors::UnknownMemberId, Vec::new());
            return Vec::new();
        };
        if group.is(GroupState::Dead) {
            respond(out, Errors::CoordinatorNotAvailable, Vec::new());
            return Vec::new();
        }
        let mut results = Vec::new();
        let mut leaving = Vec::new();
        for identity in &req.members {
            let error = match &identity.group_instance_id {
                None if group.pending_members.remove(&identity.member_id) => Errors::None,
                None if group.members.contains_key(&identity.member_id) => {
                    leaving.push(identity.member_id.clone());
                    Errors::None
                }
                None => Errors::UnknownMemberId,
                Some(instance) => match group.static_members.get(instance) {
                    None => Errors::UnknownMemberId,
                    Some(id) if !identity.member_id.is_empty() && *id != identity.member_id => {
                        Errors::FencedInstanceId
                    }
                    Some(id) => {
                        leaving.push(id.clone());
                        Errors::None
                    }
                },
            };
            results.push((identity.clone(), error));
        }
        respond(out, Errors::None, results);
        let mut writes = Vec::new();
        for id in leaving {
            writes.extend(self.remove_member_and_update(
                &req.group_id,
                &id,
                "it left the group (LeaveGroup)",
                out,
            ));
        }
        if self
            .groups
            .get(&req.group_id)
            .is_some_and(|g| g.is(GroupState::PreparingRebalance))
        {
            // A pending member leaving may be the last one the join phase waited for.
            writes.extend(self.maybe_complete_join_phase(&req.group_id, out));
        }
        writes
    }

    fn offset_commit(&mut self, from: NodeId, req: OffsetCommitRequest, out: CoordOut) -> Writes {
        let reply = |error: Errors| {
            KafkaMsg::OffsetCommitResponse(OffsetCommitResponse {
                correlation_id: req.correlation_id,
                partitions: req
                    .partitions
                    .iter()
                    .map(|p| (p.tp.clone(), error))
                    .collect(),
            })
        };
        let partition = match self.check_coordinator(&req.group_id) {
            Ok(p) => p,
            Err(e) => {
                out.send(from, reply(e));
                return Vec::new();
            }
        };
        let now = out.now_ms();
        if !self.groups.contains_key(&req.group_id) {
            if req.generation_id >= 0 {
                // Older OffsetCommit versions answer ILLEGAL_GENERATION for an unknown group
                // (v9+ says GROUP_ID_NOT_FOUND); the classic consumer treats both as fatal.
                out.send(from, reply(Errors::IllegalGeneration));
                return Vec::new();
            }
            // A standalone commit creates a "simple" group.
            let group = ClassicGroup::new(req.group_id.clone(), partition, now);
            self.groups.insert(req.group_id.clone(), group);
        }
        let Some(group) = self.groups.get(&req.group_id) else {
            return Vec::new();
        };
        if let Err(error) = group.validate_offset_commit(
            &req.member_id,
            req.group_instance_id.as_deref(),
            req.generation_id,
        ) {
            out.note(Note::OffsetCommitRejected {
                group: req.group_id.clone(),
                member: req.member_id.clone(),
                generation: req.generation_id,
                error,
            });
            out.send(from, reply(error));
            return Vec::new();
        }
        if group.is(GroupState::Stable) || group.is(GroupState::PreparingRebalance) {
            // A commit from a member also counts as a heartbeat, as in Kafka's coordinator.
            if let Some(m) = group.members.get(&req.member_id) {
                out.set_timer_ms(
                    Timer::GroupHeartbeat(req.group_id.clone(), req.member_id.clone()),
                    i64::from(m.session_timeout_ms),
                );
            }
        }
        let entry = self.offsets.entry(req.group_id.clone()).or_default();
        let mut records = Vec::new();
        for p in &req.partitions {
            let value = OffsetCommitValue {
                offset: p.committed_offset,
                leader_epoch: p.committed_leader_epoch,
                commit_timestamp: now,
            };
            entry.insert(p.tp.clone(), value.clone());
            records.push(CoordinatorRecord::OffsetCommit {
                group: req.group_id.clone(),
                tp: p.tp.clone(),
                value: Some(value),
            });
        }
        out.note(Note::OffsetsCommitted {
            group: req.group_id.clone(),
            generation: req.generation_id,
            offsets: req
                .partitions
                .iter()
                .map(|p| (p.tp.clone(), p.committed_offset))
                .collect(),
        });
        vec![Write {
            partition,
            records,
            responses: vec![(from, reply(Errors::None))],
            completes_sync: None,
        }]
    }

    fn offset_fetch(&self, req: &OffsetFetchRequest) -> OffsetFetchResponse {
        let error = match self.check_coordinator(&req.group_id) {
            Ok(_) => Errors::None,
            Err(e) => e,
        };
        let committed = self.offsets.get(&req.group_id);
        let partitions = match (&req.partitions, error) {
            (_, e) if !e.is_ok() => Vec::new(),
            (Some(tps), _) => tps
                .iter()
                .map(|tp| {
                    let v = committed.and_then(|c| c.get(tp));
                    OffsetFetchPartition {
                        tp: tp.clone(),
                        committed_offset: v.map_or(-1, |v| v.offset),
                        committed_leader_epoch: v.map_or(NO_EPOCH, |v| v.leader_epoch),
                        error: Errors::None,
                    }
                })
                .collect(),
            (None, _) => committed
                .into_iter()
                .flatten()
                .map(|(tp, v)| OffsetFetchPartition {
                    tp: tp.clone(),
                    committed_offset: v.offset,
                    committed_leader_epoch: v.leader_epoch,
                    error: Errors::None,
                })
                .collect(),
        };
        OffsetFetchResponse {
            correlation_id: req.correlation_id,
            error,
            partitions,
        }
    }
}

/// A random version-4 UUID from the run's PRNG, for member ids (`Uuid.randomUuid`).
fn uuid(out: CoordOut) -> String {
    let hi = out.rng().next_u64();
    let lo = out.rng().next_u64();
    let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

fn join_response(group: &ClassicGroup, parked: Parked, member_id: &str, leader: bool) -> KafkaMsg {
    KafkaMsg::JoinGroupResponse(JoinGroupResponse {
        correlation_id: parked.correlation_id,
        error: Errors::None,
        generation_id: group.generation_id,
        protocol_name: group.protocol_name.clone(),
        leader: group.leader_id.clone().unwrap_or_default(),
        member_id: member_id.into(),
        members: if leader {
            group.join_members()
        } else {
            Vec::new()
        },
        skip_assignment: false,
    })
}

fn join_error(parked: Parked, error: Errors, member_id: &str) -> KafkaMsg {
    KafkaMsg::JoinGroupResponse(JoinGroupResponse {
        correlation_id: parked.correlation_id,
        error,
        generation_id: NO_GENERATION,
        protocol_name: None,
        leader: "".into(),
        member_id: member_id.into(),
        members: Vec::new(),
        skip_assignment: false,
    })
}

fn sync_response(
    parked: Parked,
    protocol: Option<Arc<str>>,
    assignment: &[TopicPartition],
) -> KafkaMsg {
    KafkaMsg::SyncGroupResponse(SyncGroupResponse {
        correlation_id: parked.correlation_id,
        error: Errors::None,
        protocol_name: protocol,
        assignment: assignment.to_vec(),
    })
}

fn sync_error(parked: Parked, error: Errors) -> KafkaMsg {
    KafkaMsg::SyncGroupResponse(SyncGroupResponse {
        correlation_id: parked.correlation_id,
        error,
        protocol_name: None,
        assignment: Vec::new(),
    })
}

/// The group as a `GroupMetadataValue` record.
fn group_metadata_record(group: &ClassicGroup) -> CoordinatorRecord {
    let protocol = group.protocol_name.as_deref().unwrap_or_default();
    let members = group
        .members
        .values()
        .map(|m| MemberMetadata {
            member_id: m.member_id.clone(),
            group_instance_id: m.group_instance_id.clone(),
            client_id: m.client_id.clone(),
            rebalance_timeout: m.rebalance_timeout_ms,
            session_timeout: m.session_timeout_ms,
            subscription: m.metadata(protocol).map(|p| p.metadata.clone()).unwrap_or(
                ConsumerSubscription {
                    topics: Vec::new(),
                    owned_partitions: Vec::new(),
                    generation_id: NO_GENERATION,
                },
            ),
            assignment: m.assignment.clone(),
        })
        .collect();
    CoordinatorRecord::GroupMetadata {
        group: group.group_id.clone(),
        value: Some(GroupMetadataValue {
            protocol_type: group
                .protocol_type
                .clone()
                .unwrap_or_else(|| CONSUMER_PROTOCOL_TYPE.into()),
            generation: group.generation_id,
            protocol: group.protocol_name.clone(),
            leader: group.leader_id.clone(),
            current_state_timestamp: group.state_timestamp_ms,
            members,
        }),
    }
}

/// The same answer with `error` (for writes that could not be committed).
pub fn with_error(msg: KafkaMsg, error: Errors) -> KafkaMsg {
    match msg {
        KafkaMsg::OffsetCommitResponse(mut r) => {
            for (_, e) in &mut r.partitions {
                *e = error;
            }
            KafkaMsg::OffsetCommitResponse(r)
        }
        KafkaMsg::SyncGroupResponse(mut r) => {
            r.error = error;
            r.assignment.clear();
            KafkaMsg::SyncGroupResponse(r)
        }
        KafkaMsg::JoinGroupResponse(mut r) => {
            r.error = error;
            r.members.clear();
            KafkaMsg::JoinGroupResponse(r)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests;
