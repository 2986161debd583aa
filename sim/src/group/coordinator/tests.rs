//! The coordinator driven by hand: vectors H2 (the initial rebalance delay), the join and
//! sync round, and failover by reloading a shard from the log.

use super::*;
use crate::kernel::{Harness, SimTime};
use crate::log::{LogConfig, ProducerInfo};

const GROUP: &str = "foo";

struct Driver {
    c: GroupCoordinator,
    h: Harness<KafkaNode>,
    log: UnifiedLog,
    next_id: i32,
    /// Append writes but leave the HW where it is (followers that have not fetched yet).
    hold_hw: bool,
}

impl Driver {
    fn new() -> Self {
        let mut d = Driver {
            c: GroupCoordinator::new(GroupConfig::default(), 1),
            h: Harness::new(NodeId(0), 7),
            log: UnifiedLog::new(LogConfig::default(), 0),
            next_id: 0,
            hold_hw: false,
        };
        let log = d.log.clone();
        d.h.with(|out| d.c.load(0, &log, out));
        d
    }

    /// Sends a request from client node `from`; applies writes to the log at once (a
    /// single-replica partition: committed immediately).
    fn send(&mut self, from: u32, msg: KafkaMsg) -> Vec<KafkaMsg> {
        let writes = self.h.with(|out| self.c.handle(NodeId(from), msg, out));
        self.apply(writes);
        self.take(from)
    }

    fn apply(&mut self, writes: Vec<Write>) {
        for w in writes {
            let records = w.records.iter().map(|r| r.to_record(0)).collect();
            let info = self
                .log
                .append_as_leader(records, 0, ProducerInfo::NONE, 0)
                .expect("append");
            if !self.hold_hw {
                self.log.update_high_watermark(info.last_offset + 1);
            }
            self.c.park(
                w.partition,
                info.last_offset + 1,
                w.responses,
                w.completes_sync,
            );
            let hw = self.log.high_watermark();
            self.h.with(|out| self.c.on_high_watermark(0, hw, out));
        }
    }

    /// The followers caught up: the HW reaches the log end.
    fn commit_all(&mut self) {
        let end = self.log.log_end_offset();
        self.log.update_high_watermark(end);
        self.h.with(|out| self.c.on_high_watermark(0, end, out));
    }

    fn take(&mut self, to: u32) -> Vec<KafkaMsg> {
        let sent = self.h.take_sent();
        let (mine, others): (Vec<_>, Vec<_>) = sent.into_iter().partition(|(n, _)| n.0 == to);
        self.h.sent = others;
        mine.into_iter().map(|(_, m)| m).collect()
    }

    /// Advances the clock to `ms`, firing due coordinator timers in order.
    fn advance_to(&mut self, ms: i64) {
        loop {
            let due = self
                .h
                .pending_timers()
                .into_iter()
                .find(|(_, at)| *at <= SimTime::from_millis(ms as u64));
            let Some((timer, at)) = due else { break };
            self.h.now = at;
            let t = timer.clone();
            self.h.with(|out| out.cancel_timer(t));
            let writes = self.h.with(|out| match &timer {
                Timer::GroupJoin(g) => self.c.on_join_timer(g, out),
                Timer::GroupSync(g) => self.c.on_sync_timer(g, out),
                Timer::GroupHeartbeat(g, m) => self.c.on_heartbeat_timer(g, m, out),
                _ => Vec::new(),
            });
            self.apply(writes);
        }
        self.h.now = SimTime::from_millis(ms as u64);
    }

    fn join(&mut self, from: u32, member_id: &str, rebalance_timeout_ms: i32) -> Vec<KafkaMsg> {
        self.next_id += 1;
        let msg = KafkaMsg::JoinGroup(JoinGroupRequest {
            correlation_id: self.next_id,
            group_id: GROUP.into(),
            session_timeout_ms: 45_000,
            rebalance_timeout_ms,
            member_id: member_id.into(),
            group_instance_id: None,
            protocol_type: CONSUMER_PROTOCOL_TYPE.into(),
            protocols: vec![JoinGroupProtocol {
                name: "range".into(),
                metadata: ConsumerSubscription {
                    topics: vec!["t".into()],
                    owned_partitions: Vec::new(),
                    generation_id: NO_GENERATION,
                },
            }],
            client_id: format!("client-{from}").into(),
        });
        self.send(from, msg)
    }

    /// KIP-394's two-step join of a new dynamic member; returns its member id.
    fn join_new(&mut self, from: u32, rebalance_timeout_ms: i32) -> Arc<str> {
        let first = self.join(from, "", rebalance_timeout_ms);
        let [KafkaMsg::JoinGroupResponse(r)] = first.as_slice() else {
            panic!("expected MEMBER_ID_REQUIRED, got {first:?}");
        };
        assert_eq!(r.error, Errors::MemberIdRequired);
        let id = r.member_id.clone();
        assert!(
            self.join(from, &id, rebalance_timeout_ms).is_empty(),
            "parked"
        );
        id
    }

    fn joined(&mut self, from: u32) -> Option<JoinGroupResponse> {
        self.take(from).into_iter().find_map(|m| match m {
            KafkaMsg::JoinGroupResponse(r) => Some(r),
            _ => None,
        })
    }
}

/// H2 `testDelayInitialRebalanceByGroupInitialRebalanceDelayOnEmptyGroup`: the full 3 s
/// even though the rebalance timeout is only 500 ms.
#[test]
fn the_initial_delay_runs_its_full_length() {
    let mut d = Driver::new();
    d.join_new(1, 500);
    d.advance_to(1_500);
    assert!(d.joined(1).is_none());
    d.advance_to(3_001);
    let r = d.joined(1).expect("completed");
    assert_eq!((r.error, r.generation_id), (Errors::None, 1));
}

/// H2 `testResetRebalanceDelayWhenNewMemberJoinsGroupDuringInitialRebalance`.
#[test]
fn a_member_arriving_during_the_delay_extends_it() {
    let mut d = Driver::new();
    d.join_new(1, 9_000);
    d.advance_to(2_999);
    d.join_new(2, 9_000);
    d.advance_to(4_500);
    assert!(d.joined(1).is_none() && d.joined(2).is_none());
    d.advance_to(5_999);
    assert!(d.joined(1).is_none());
    d.advance_to(6_000);
    let (a, b) = (d.joined(1).expect("1"), d.joined(2).expect("2"));
    assert_eq!((a.error, b.error), (Errors::None, Errors::None));
    assert_eq!(a.generation_id, 1);
    // Only the leader gets the members' subscriptions.
    assert_eq!(a.members.len() + b.members.len(), 2);
}

/// H2 `testDelayRebalanceUptoRebalanceTimeout`: extensions stop at the rebalance timeout.
#[test]
fn the_delay_never_passes_the_rebalance_timeout() {
    let mut d = Driver::new();
    d.join_new(1, 6_000);
    d.join_new(2, 6_000);
    d.advance_to(3_001);
    d.join_new(3, 6_000);
    d.advance_to(5_999);
    assert!(d.joined(3).is_none());
    d.advance_to(6_001);
    let r = d.joined(3).expect("completed at the rebalance timeout");
    assert_eq!((r.error, r.generation_id), (Errors::None, 1));
}

#[test]
fn sync_makes_the_group_stable_and_a_reloaded_shard_remembers_it() {
    let mut d = Driver::new();
    let a = d.join_new(1, 10_000);
    let b = d.join_new(2, 10_000);
    // The second member arrived during the initial delay: it runs twice (3 s + 3 s).
    d.advance_to(6_000);
    let ra = d.joined(1).expect("a");
    let rb = d.joined(2).expect("b");
    let (leader, follower) = if ra.members.is_empty() {
        (2, 1)
    } else {
        (1, 2)
    };
    let (leader_id, follower_id) = if leader == 1 { (&a, &b) } else { (&b, &a) };
    let assignments = vec![
        SyncGroupAssignment {
            member_id: leader_id.clone(),
            assignment: vec![TopicPartition::new("t", 0)],
        },
        SyncGroupAssignment {
            member_id: follower_id.clone(),
            assignment: vec![TopicPartition::new("t", 1)],
        },
    ];
    let sync = |id: &Arc<str>, assignments: Vec<SyncGroupAssignment>| {
        KafkaMsg::SyncGroup(SyncGroupRequest {
            correlation_id: 99,
            group_id: GROUP.into(),
            generation_id: ra.generation_id.max(rb.generation_id),
            member_id: id.clone(),
            group_instance_id: None,
            protocol_name: Some("range".into()),
            assignments,
        })
    };
    assert!(
        d.send(follower, sync(follower_id, Vec::new())).is_empty(),
        "parked"
    );
    let to_leader = d.send(leader, sync(leader_id, assignments));
    let to_follower = d.take(follower);
    let part = |msgs: &[KafkaMsg]| match msgs {
        [KafkaMsg::SyncGroupResponse(r)] => (r.error, r.assignment.clone()),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        part(&to_leader),
        (Errors::None, vec![TopicPartition::new("t", 0)])
    );
    assert_eq!(
        part(&to_follower),
        (Errors::None, vec![TopicPartition::new("t", 1)])
    );
    assert_eq!(d.c.group(GROUP).map(|g| g.state), Some(GroupState::Stable));
    // A commit from the current generation is written and answered.
    let commit = KafkaMsg::OffsetCommit(OffsetCommitRequest {
        correlation_id: 5,
        group_id: GROUP.into(),
        generation_id: 1,
        member_id: leader_id.clone(),
        group_instance_id: None,
        partitions: vec![OffsetCommitPartition {
            tp: TopicPartition::new("t", 0),
            committed_offset: 42,
            committed_leader_epoch: 0,
        }],
    });
    let resp = d.send(leader, commit);
    assert!(
        matches!(&resp[..], [KafkaMsg::OffsetCommitResponse(r)] if r.partitions[0].1 == Errors::None)
    );
    // Failover: a new coordinator replays the log.
    let mut other = GroupCoordinator::new(GroupConfig::default(), 1);
    let log = d.log.clone();
    d.h.with(|out| other.load(0, &log, out));
    let g = other.group(GROUP).expect("loaded");
    assert_eq!(
        (g.state, g.generation_id, g.members.len()),
        (GroupState::Stable, 1, 2)
    );
    assert_eq!(
        other
            .committed(GROUP)
            .and_then(|c| c.get(&TopicPartition::new("t", 0)))
            .map(|v| v.offset),
        Some(42)
    );
}

/// Kafka moves the group to Stable, and answers SyncGroup, in the completion callback of the
/// assignment's write: a member that syncs after the leader, before the record is
/// committed, waits too — an assignment a coordinator failover could lose is never handed
/// out (found by invariant 6: without this, a failover re-created generation 1 while a
/// member still worked on the lost one).
#[test]
fn no_member_learns_an_assignment_before_it_is_committed() {
    let mut d = Driver::new();
    let a = d.join_new(1, 10_000);
    let b = d.join_new(2, 10_000);
    d.advance_to(6_000);
    let ra = d.joined(1).expect("a");
    let rb = d.joined(2).expect("b");
    let (leader, follower, leader_id, follower_id) = if ra.members.is_empty() {
        (2, 1, b.clone(), a.clone())
    } else {
        (1, 2, a.clone(), b.clone())
    };
    let sync = |id: &Arc<str>, assignments: Vec<SyncGroupAssignment>| {
        KafkaMsg::SyncGroup(SyncGroupRequest {
            correlation_id: 99,
            group_id: GROUP.into(),
            generation_id: ra.generation_id.max(rb.generation_id),
            member_id: id.clone(),
            group_instance_id: None,
            protocol_name: Some("range".into()),
            assignments,
        })
    };
    let assignments = vec![
        SyncGroupAssignment {
            member_id: leader_id.clone(),
            assignment: vec![TopicPartition::new("t", 0)],
        },
        SyncGroupAssignment {
            member_id: follower_id.clone(),
            assignment: vec![TopicPartition::new("t", 1)],
        },
    ];
    d.hold_hw = true;
    assert!(
        d.send(leader, sync(&leader_id, assignments)).is_empty(),
        "waits for the HW"
    );
    assert!(
        d.send(follower, sync(&follower_id, Vec::new())).is_empty(),
        "the follower syncing after the leader waits too"
    );
    let state = d.c.group(GROUP).map(|g| g.state);
    assert_eq!(state, Some(GroupState::CompletingRebalance));
    d.commit_all();
    assert_eq!(d.c.group(GROUP).map(|g| g.state), Some(GroupState::Stable));
    for (node, tp) in [(leader, 0), (follower, 1)] {
        match &d.take(node)[..] {
            [KafkaMsg::SyncGroupResponse(r)] => {
                assert_eq!(
                    (r.error, r.assignment.clone()),
                    (Errors::None, vec![TopicPartition::new("t", tp)])
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
