//! Invariant 6: a consumer group has one generation active at a time.
//!
//! What "active" means, precisely. A coordinator *announces* a generation when the join phase
//! ends and *activates* it when the leader's assignment is written; members learn it from the
//! SyncGroup answer, which Kafka sends only once the assignment record is committed. Two
//! readings that sound right are not Kafka's guarantee, and are not checked:
//! - "every member agrees on the generation": a member frozen in a GC pause keeps working in
//!   its old generation while the group moves on — the zombie (`zombie-consumer`). Kafka
//!   does not prevent zombies; it *fences* them.
//! - "no two brokers consider themselves the group's coordinator": a deposed coordinator that
//!   has not yet heard of the new leader of its `__consumer_offsets` partition still does,
//!   exactly like a deposed partition leader. It cannot make anything durable, because its
//!   writes wait for a high watermark its former followers no longer move — which is
//!   invariants 2–4 on `__consumer_offsets`.
//!
//! What is checked is what would break if two generations, or two versions of one generation,
//! were active at once:
//! - **one assignment per generation**: within a generation, no partition is assigned to two
//!   members (told apart by `group.instance.id`, else by their client), over everything the
//!   members learn. Two coordinators serving the group at once would hand the same generation
//!   out twice, with overlapping assignments.
//! - **commits are fenced**: a coordinator accepts an offset commit only from the group's
//!   current generation, outside `CompletingRebalance` (or a generation-less commit to a
//!   group without members, as standalone consumers and admin tools make). That is the fence
//!   that keeps a zombie's progress out of the log.

use super::Found;
use super::{Invariant, Subject};
use crate::group::coordinator::{ClassicGroup, GroupState};
use crate::protocol::TopicPartition;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub(super) struct Generations {
    /// Per (group, generation): each partition's owner, by instance id or client name.
    owners: BTreeMap<(Arc<str>, i32), BTreeMap<TopicPartition, Arc<str>>>,
}

impl Generations {
    /// A member (`owner`: its instance id, else its client) learned its `assignment` in
    /// `generation` of `group` (`onPartitionsAssigned`).
    pub fn on_assigned(
        &mut self,
        owner: Arc<str>,
        group: &Arc<str>,
        generation: i32,
        assignment: &[TopicPartition],
        out: &mut Found,
    ) {
        let owners = self.owners.entry((group.clone(), generation)).or_default();
        for tp in assignment {
            match owners.get(tp) {
                Some(other) if *other != owner => {
                    let detail = format!(
                        "generation {generation} assigns {}-{} to both {other} and {owner}: two \
                         versions of the generation are active",
                        tp.topic, tp.partition
                    );
                    out.add(
                        Invariant::SingleGeneration,
                        Subject::Group(group.clone()),
                        detail,
                    );
                }
                Some(_) => {}
                None => {
                    owners.insert(tp.clone(), owner.clone());
                }
            }
        }
    }

    /// Broker `broker`'s coordinator accepted a commit from `generation` of `group`; `group`
    /// is its state after the step.
    pub fn on_offsets_committed(
        &mut self,
        broker: i32,
        group: &ClassicGroup,
        generation: i32,
        out: &mut Found,
    ) {
        let g = group;
        let why = if generation >= 0 && generation != g.generation_id {
            Some(format!(
                "its current generation is {} ({})",
                g.generation_id,
                g.state.name()
            ))
        } else if generation >= 0 && g.is(GroupState::CompletingRebalance) {
            Some(format!(
                "generation {} is still completing its rebalance",
                g.generation_id
            ))
        } else if generation < 0 && !g.members.is_empty() {
            Some(format!(
                "the group has {} members in generation {}",
                g.members.len(),
                g.generation_id
            ))
        } else {
            None
        };
        if let Some(why) = why {
            let detail = format!(
                "broker-{broker}'s coordinator accepted an offset commit from generation \
                 {generation}, but {why}"
            );
            out.add(
                Invariant::SingleGeneration,
                Subject::Group(g.group_id.clone()),
                detail,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found() -> Found {
        Found::new(7, 1_000)
    }

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    #[test]
    fn one_partition_two_members_in_one_generation_is_two_generations_active() {
        let mut g = Generations::default();
        let group: Arc<str> = Arc::from("g");
        let mut found = found();
        g.on_assigned("c1".into(), &group, 3, &[tp(0), tp(1)], &mut found);
        g.on_assigned("c2".into(), &group, 3, &[tp(2)], &mut found);
        g.on_assigned("c1".into(), &group, 3, &[tp(0), tp(1)], &mut found);
        g.on_assigned("c2".into(), &group, 4, &[tp(0)], &mut found);
        assert!(found.violations.is_empty(), "{found:?}");
        g.on_assigned("c3".into(), &group, 4, &[tp(0)], &mut found);
        let out = found.violations;
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].invariant, Invariant::SingleGeneration);
        assert_eq!(out[0].subject, Subject::Group(group));
        assert!(
            out[0].detail.contains("t-0 to both c2 and c3"),
            "{}",
            out[0]
        );
    }

    #[test]
    fn a_commit_from_another_generation_breaks_the_fence() {
        let mut g = Generations::default();
        let mut group = ClassicGroup::new(Arc::from("g"), 0, 0);
        group.generation_id = 5;
        group.state = GroupState::Stable;
        let mut found = found();
        g.on_offsets_committed(1, &group, 5, &mut found);
        assert!(found.violations.is_empty(), "{found:?}");
        g.on_offsets_committed(1, &group, 4, &mut found);
        assert_eq!(found.violations.len(), 1);
        let first = &found.violations[0];
        assert!(first.detail.contains("generation 4"), "{first}");
        group.state = GroupState::CompletingRebalance;
        g.on_offsets_committed(1, &group, 5, &mut found);
        assert_eq!(found.violations.len(), 2);
    }
}
