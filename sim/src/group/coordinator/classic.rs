//! A group of the classic protocol (Kafka's `ClassicGroup` and `ClassicGroupMember`): its
//! state, generation, members, leader and selected protocol, and the checks every request
//! runs against them.
//!
//! The transitions themselves are driven by the coordinator (`mod.rs`), which follows Kafka's
//! `GroupMetadataManager` step by step; this file holds the data and the small rules that do
//! not need timers or the log.

use crate::kernel::NodeId;
use crate::protocol::{Errors, JoinGroupMember, JoinGroupProtocol, TopicPartition};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// `ClassicGroupState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// Kafka's name, as `kafka-consumer-groups --describe --state` prints it.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A request parked until the group can answer it (Kafka's join and sync futures).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Parked {
    pub node: NodeId,
    pub correlation_id: i32,
}

/// `ClassicGroupMember`.
#[derive(Clone, Debug, Serialize)]
pub struct Member {
    pub member_id: Arc<str>,
    pub group_instance_id: Option<Arc<str>>,
    pub client_id: Arc<str>,
    /// The node it connects from (`client.host` in `describe`).
    pub client_host: NodeId,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub protocols: Vec<JoinGroupProtocol>,
    pub assignment: Vec<TopicPartition>,
    pub awaiting_join: Option<Parked>,
    pub awaiting_sync: Option<Parked>,
    /// Joined in the current rebalance and has not received a JoinGroup answer yet.
    pub is_new: bool,
}

impl Member {
    /// `ClassicGroupMember.matches`: same protocols, same subscriptions, same order.
    pub fn matches(&self, protocols: &[JoinGroupProtocol]) -> bool {
        self.protocols == protocols
    }

    /// `hasSatisfiedHeartbeat`: a member with a parked JoinGroup or SyncGroup is alive
    /// even without heartbeats, except a new member (which cannot heartbeat yet).
    pub fn has_satisfied_heartbeat(&self) -> bool {
        if self.is_new {
            false
        } else {
            self.awaiting_join.is_some() || self.awaiting_sync.is_some()
        }
    }

    /// The subscription it sent for `protocol`.
    pub fn metadata(&self, protocol: &str) -> Option<&JoinGroupProtocol> {
        self.protocols.iter().find(|p| &*p.name == protocol)
    }
}

/// `ClassicGroup`.
#[derive(Clone, Debug, Serialize)]
pub struct ClassicGroup {
    pub group_id: Arc<str>,
    /// The `__consumer_offsets` partition it lives in.
    pub partition: i32,
    pub state: GroupState,
    pub previous_state: GroupState,
    pub generation_id: i32,
    pub protocol_type: Option<Arc<str>>,
    pub protocol_name: Option<Arc<str>>,
    pub leader_id: Option<Arc<str>>,
    /// Kafka keeps members in a `HashMap`; the model keeps them by member id, which only
    /// orders the member list of the leader's JoinGroup response (the assignors re-sort it).
    pub members: BTreeMap<Arc<str>, Member>,
    /// `group.instance.id` → member id.
    pub static_members: BTreeMap<Arc<str>, Arc<str>>,
    /// Dynamic members that were told `MEMBER_ID_REQUIRED` and have not rejoined yet.
    pub pending_members: BTreeSet<Arc<str>>,
    /// Members that got their JoinGroup answer but have not sent SyncGroup yet.
    pub pending_sync: BTreeSet<Arc<str>>,
    /// A member joined during the initial rebalance delay (extends it).
    pub new_member_added: bool,
    /// During the initial rebalance delay: `(this delay, time left before the rebalance
    /// timeout)`, as `tryCompleteInitialRebalanceElseSchedule` carries them.
    pub initial_delay: Option<(i64, i64)>,
    pub state_timestamp_ms: i64,
}

impl ClassicGroup {
    pub fn new(group_id: Arc<str>, partition: i32, now_ms: i64) -> Self {
        ClassicGroup {
            group_id,
            partition,
            state: GroupState::Empty,
            previous_state: GroupState::Empty,
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader_id: None,
            members: BTreeMap::new(),
            static_members: BTreeMap::new(),
            pending_members: BTreeSet::new(),
            pending_sync: BTreeSet::new(),
            new_member_added: false,
            initial_delay: None,
            state_timestamp_ms: now_ms,
        }
    }

    pub fn transition_to(&mut self, state: GroupState, now_ms: i64) {
        self.previous_state = self.state;
        self.state = state;
        self.state_timestamp_ms = now_ms;
    }

    pub fn is(&self, state: GroupState) -> bool {
        self.state == state
    }

    /// `canRebalance`: a rebalance may start from these states.
    pub fn can_rebalance(&self) -> bool {
        matches!(
            self.state,
            GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty
        )
    }

    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader_id.as_deref() == Some(member_id)
    }

    /// The rebalance timeout: the largest of the members'.
    pub fn rebalance_timeout_ms(&self) -> i64 {
        self.members
            .values()
            .map(|m| i64::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0)
    }

    pub fn add(&mut self, member: Member) {
        if self.members.is_empty() {
            self.protocol_type
                .get_or_insert_with(|| crate::protocol::CONSUMER_PROTOCOL_TYPE.into());
        }
        if self.leader_id.is_none() {
            self.leader_id = Some(member.member_id.clone());
        }
        if let Some(instance) = &member.group_instance_id {
            self.static_members
                .insert(instance.clone(), member.member_id.clone());
        }
        self.pending_members.remove(&member.member_id);
        self.members.insert(member.member_id.clone(), member);
    }

    /// Removes a member; a leaving leader hands leadership to any remaining member.
    pub fn remove(&mut self, member_id: &str) -> Option<Member> {
        let member = self.members.remove(member_id)?;
        if let Some(instance) = &member.group_instance_id
            && self.static_members.get(instance).map(|m| &**m) == Some(member_id)
        {
            self.static_members.remove(instance);
        }
        self.pending_sync.remove(member_id);
        if self.is_leader(member_id) {
            self.leader_id = self.members.keys().next().cloned();
        }
        if self.members.is_empty() {
            self.protocol_type = None;
        }
        Some(member)
    }

    /// `hasAllMembersJoined`.
    pub fn has_all_members_joined(&self) -> bool {
        self.pending_members.is_empty() && self.members.values().all(|m| m.awaiting_join.is_some())
    }

    /// `maybeElectNewJoinedLeader`: the leader must be among those who rejoined.
    pub fn maybe_elect_new_joined_leader(&mut self) -> bool {
        let leader_joined = self
            .leader_id
            .as_ref()
            .and_then(|l| self.members.get(l))
            .is_some_and(|m| m.awaiting_join.is_some());
        if leader_joined {
            return true;
        }
        match self
            .members
            .values()
            .find(|m| m.awaiting_join.is_some())
            .map(|m| m.member_id.clone())
        {
            Some(id) => {
                self.leader_id = Some(id);
                true
            }
            None => {
                self.leader_id = None;
                false
            }
        }
    }

    /// Protocols every member supports, in the first member's order.
    fn candidate_protocols(&self) -> Vec<Arc<str>> {
        let mut members = self.members.values();
        let Some(first) = members.next() else {
            return Vec::new();
        };
        let mut candidates: Vec<Arc<str>> =
            first.protocols.iter().map(|p| p.name.clone()).collect();
        for m in members {
            candidates.retain(|c| m.metadata(c).is_some());
        }
        candidates
    }

    /// `supportsProtocols`: may a member with these protocols join?
    pub fn supports_protocols(&self, protocol_type: &str, protocols: &[JoinGroupProtocol]) -> bool {
        if protocol_type.is_empty() || protocols.is_empty() {
            return false;
        }
        if self.is(GroupState::Empty) || self.members.is_empty() {
            return true;
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols
                .iter()
                .any(|p| self.candidate_protocols().contains(&p.name))
    }

    /// `selectProtocol`: each member votes for the first of its protocols that every member
    /// supports; the most votes win. Ties go to the protocol Kafka's vote `HashMap` yields
    /// first (emulated: ascending `spread(hashCode) & 15`, then first vote).
    pub fn select_protocol(&self) -> Option<Arc<str>> {
        let candidates = self.candidate_protocols();
        let mut votes: Vec<(Arc<str>, u32)> = Vec::new();
        for m in self.members.values() {
            let Some(choice) = m.protocols.iter().find(|p| candidates.contains(&p.name)) else {
                continue;
            };
            match votes.iter_mut().find(|(name, _)| *name == choice.name) {
                Some((_, n)) => *n += 1,
                None => votes.push((choice.name.clone(), 1)),
            }
        }
        votes.sort_by_key(|(name, _)| small_java_hash_map_bucket(name));
        let mut best: Option<(Arc<str>, u32)> = None;
        for (name, n) in votes {
            if best.as_ref().is_none_or(|(_, b)| n > *b) {
                best = Some((name, n));
            }
        }
        best.map(|(name, _)| name)
    }

    /// `initNextGeneration`.
    pub fn init_next_generation(&mut self, now_ms: i64) {
        self.generation_id += 1;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.transition_to(GroupState::Empty, now_ms);
        } else {
            self.protocol_name = self.select_protocol();
            self.transition_to(GroupState::CompletingRebalance, now_ms);
        }
        self.pending_sync.clear();
    }

    /// The members' subscriptions for the selected protocol, for the leader.
    pub fn join_members(&self) -> Vec<JoinGroupMember> {
        let protocol = self.protocol_name.as_deref().unwrap_or_default();
        self.members
            .values()
            .filter_map(|m| {
                Some(JoinGroupMember {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    metadata: m.metadata(protocol)?.metadata.clone(),
                })
            })
            .collect()
    }

    /// `validateExistingMember`: the member id (and instance id) must name a member.
    pub fn validate_existing_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), Errors> {
        match instance_id {
            None => {
                if self.members.contains_key(member_id) {
                    Ok(())
                } else {
                    Err(Errors::UnknownMemberId)
                }
            }
            Some(instance) => match self.static_members.get(instance) {
                None => Err(Errors::UnknownMemberId),
                Some(existing) if &**existing != member_id => Err(Errors::FencedInstanceId),
                Some(_) => Ok(()),
            },
        }
    }

    /// `ClassicGroup.validateOffsetCommit` (non-transactional).
    pub fn validate_offset_commit(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<(), Errors> {
        if self.is(GroupState::Dead) {
            return Err(Errors::CoordinatorNotAvailable);
        }
        if generation_id < 0 && self.is(GroupState::Empty) {
            // Standalone consumers and admin tools commit without a generation.
            return Ok(());
        }
        if generation_id >= 0 || !member_id.is_empty() || instance_id.is_some() {
            self.validate_existing_member(member_id, instance_id)?;
            if generation_id != self.generation_id {
                return Err(Errors::IllegalGeneration);
            }
        } else if !self.is(GroupState::Empty) {
            // No member and no generation on a group that has members.
            return Err(Errors::UnknownMemberId);
        }
        if self.is(GroupState::CompletingRebalance) {
            // The member will learn its new generation from its SyncGroup answer.
            return Err(Errors::RebalanceInProgress);
        }
        Ok(())
    }
}

/// The bucket of a key in a Java `HashMap` of default capacity (16): `spread(hashCode) & 15`
/// with `spread(h) = h ^ (h >>> 16)`. Iteration visits buckets in ascending order.
fn small_java_hash_map_bucket(key: &str) -> u32 {
    let h = crate::utils::java_string_hash(key) as u32;
    (h ^ (h >> 16)) & 15
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ConsumerSubscription, NO_GENERATION};

    fn member(id: &str, instance: Option<&str>, protocols: &[&str]) -> Member {
        Member {
            member_id: id.into(),
            group_instance_id: instance.map(Arc::from),
            client_id: "client".into(),
            client_host: NodeId(0),
            rebalance_timeout_ms: 300_000,
            session_timeout_ms: 45_000,
            protocols: protocols
                .iter()
                .map(|p| JoinGroupProtocol {
                    name: (*p).into(),
                    metadata: ConsumerSubscription {
                        topics: vec!["t".into()],
                        owned_partitions: Vec::new(),
                        generation_id: NO_GENERATION,
                    },
                })
                .collect(),
            assignment: Vec::new(),
            awaiting_join: None,
            awaiting_sync: None,
            is_new: false,
        }
    }

    /// Vectors H1: `OffsetMetadataManagerTest`'s classic-group commit validation.
    #[test]
    fn offset_commit_validation_matches_kafka() {
        let mut g = ClassicGroup::new("foo".into(), 0, 0);
        g.add(member("member", Some("new-instance-id"), &["range"]));
        // Group still Empty at generation 0.
        assert_eq!(
            g.validate_offset_commit("member", Some("instanceid"), 10),
            Err(Errors::UnknownMemberId)
        );
        assert_eq!(
            g.validate_offset_commit("member", Some("old-instance-id"), 10),
            Err(Errors::UnknownMemberId)
        );
        // Advanced to generation 1, CompletingRebalance.
        g.init_next_generation(0);
        assert_eq!(g.generation_id, 1);
        assert_eq!(g.state, GroupState::CompletingRebalance);
        assert_eq!(
            g.validate_offset_commit("member", Some("new-instance-id"), 10),
            Err(Errors::IllegalGeneration)
        );
        assert_eq!(
            g.validate_offset_commit("member", Some("new-instance-id"), 1),
            Err(Errors::RebalanceInProgress)
        );
        assert_eq!(
            g.validate_offset_commit("", None, NO_GENERATION),
            Err(Errors::UnknownMemberId)
        );
        // A standalone commit to an empty group is accepted; a dead group is unavailable.
        let empty = ClassicGroup::new("bar".into(), 0, 0);
        assert_eq!(
            empty.validate_offset_commit("", None, NO_GENERATION),
            Ok(())
        );
        let mut dead = empty.clone();
        dead.transition_to(GroupState::Dead, 0);
        assert_eq!(
            dead.validate_offset_commit("", None, NO_GENERATION),
            Err(Errors::CoordinatorNotAvailable)
        );
        // Stable: the current generation commits; a fenced instance is told so.
        g.transition_to(GroupState::Stable, 0);
        assert_eq!(
            g.validate_offset_commit("member", Some("new-instance-id"), 1),
            Ok(())
        );
        assert_eq!(
            g.validate_offset_commit("other", Some("new-instance-id"), 1),
            Err(Errors::FencedInstanceId)
        );
    }

    #[test]
    fn protocol_vote_picks_the_common_favourite() {
        let mut g = ClassicGroup::new("g".into(), 0, 0);
        g.add(member("a", None, &["range", "cooperative-sticky"]));
        g.add(member("b", None, &["cooperative-sticky", "range"]));
        g.add(member("c", None, &["cooperative-sticky"]));
        // Only cooperative-sticky is supported by all three.
        assert_eq!(g.select_protocol().as_deref(), Some("cooperative-sticky"));
        g.remove("c");
        // a votes range, b votes cooperative-sticky: a tie, broken by HashMap order — "range"
        // sits in bucket 9 and "cooperative-sticky" in bucket 15 (computed by hand from
        // String.hashCode), so Java's vote map yields range first.
        assert_eq!(small_java_hash_map_bucket("range"), 9);
        assert_eq!(small_java_hash_map_bucket("cooperative-sticky"), 15);
        assert_eq!(g.select_protocol().as_deref(), Some("range"));
        // Reversed vote order does not change it: the map, not arrival, decides.
        let mut h = ClassicGroup::new("h".into(), 0, 0);
        h.add(member("b", None, &["cooperative-sticky", "range"]));
        h.add(member("a", None, &["range", "cooperative-sticky"]));
        assert_eq!(h.select_protocol().as_deref(), Some("range"));
    }

    #[test]
    fn leader_moves_to_a_remaining_member() {
        let mut g = ClassicGroup::new("g".into(), 0, 0);
        g.add(member("a", None, &["range"]));
        g.add(member("b", Some("i-b"), &["range"]));
        assert!(g.is_leader("a"));
        g.remove("a");
        assert!(g.is_leader("b"));
        g.remove("b");
        assert!(g.static_members.is_empty());
        assert_eq!(g.leader_id, None);
    }
}
