//! Leader election and partition changes, as Kafka's `PartitionChangeBuilder` does them.
//!
//! Every change to a partition — an ISR shrink or expansion, a broker fenced or unfenced, a
//! preferred-leader election — is computed here as a new [`PartitionRecord`]: pick a leader
//! for the election type, derive the ISR, bump `leaderEpoch` when the leader changes and
//! `partitionEpoch` on any change. The rules are exactly vectors D of the spec (which come from
//! `PartitionChangeBuilderTest.testElectLeader`).

use crate::protocol::{LeaderRecoveryState, NO_LEADER, PartitionRecord};
use serde::Serialize;

/// `PartitionChangeBuilder.Election`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Election {
    /// Move leadership to `replicas[0]` when it can lead.
    Preferred,
    /// The normal case: keep the leader if it still can, else the first ISR member in
    /// `replicas` order.
    Online,
    /// As `Online`, then fall back to any live replica — possibly losing committed data.
    Unclean,
}

impl Election {
    pub fn name(self) -> &'static str {
        match self {
            Election::Preferred => "PREFERRED",
            Election::Online => "ONLINE",
            Election::Unclean => "UNCLEAN",
        }
    }
}

/// The outcome of `electLeader`: the leader (`NO_LEADER` if none) and whether it came from
/// outside the ISR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElectionResult {
    pub leader: i32,
    pub unclean: bool,
}

/// `PartitionChangeBuilder.electLeader`. A replica is *valid* if it is in `target_isr` and
/// `acceptable` (registered, unfenced, not being removed).
pub fn elect_leader(
    election: Election,
    replicas: &[i32],
    target_isr: &[i32],
    current_leader: i32,
    acceptable: impl Fn(i32) -> bool,
) -> ElectionResult {
    let valid = |r: i32| r != NO_LEADER && target_isr.contains(&r) && acceptable(r);
    let clean = |leader: i32| ElectionResult {
        leader,
        unclean: false,
    };
    let first_valid = replicas.iter().copied().find(|r| valid(*r));
    match election {
        Election::Preferred => {
            if let Some(&preferred) = replicas.first()
                && valid(preferred)
            {
                return clean(preferred);
            }
            if valid(current_leader) {
                return clean(current_leader);
            }
            clean(first_valid.unwrap_or(NO_LEADER))
        }
        Election::Online | Election::Unclean => {
            if valid(current_leader) {
                return clean(current_leader);
            }
            if let Some(leader) = first_valid {
                return clean(leader);
            }
            if election == Election::Unclean
                && let Some(leader) = replicas.iter().copied().find(|r| acceptable(*r))
            {
                return ElectionResult {
                    leader,
                    unclean: true,
                };
            }
            clean(NO_LEADER)
        }
    }
}

/// What a change did, for the trace.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionChange {
    pub record: PartitionRecord,
    pub leader_changed: bool,
    pub unclean: bool,
}

/// `PartitionChangeBuilder.build`: the partition after moving to `target_isr` with an
/// election of the given type; `None` when nothing changes.
///
/// Without ELR (KIP-966, off by default) the ISR never becomes empty: when the last member
/// would leave, it stays, and the partition goes offline (`leader = -1`).
pub fn build_change(
    partition: &PartitionRecord,
    target_isr: &[i32],
    election: Election,
    acceptable: impl Fn(i32) -> bool,
) -> Option<PartitionChange> {
    let result = elect_leader(
        election,
        &partition.replicas,
        target_isr,
        partition.leader,
        acceptable,
    );
    let mut next = partition.clone();
    if result.unclean {
        next.isr = vec![result.leader];
        next.leader_recovery_state = LeaderRecoveryState::Recovering;
    } else if target_isr.is_empty() {
        next.isr = partition.isr.clone();
    } else {
        next.isr = target_isr.to_vec();
    }
    next.leader = result.leader;
    let leader_changed = next.leader != partition.leader;
    if leader_changed {
        next.leader_epoch += 1;
    }
    if next.isr == partition.isr
        && !leader_changed
        && next.leader_recovery_state == partition.leader_recovery_state
    {
        return None;
    }
    next.partition_epoch += 1;
    Some(PartitionChange {
        record: next,
        leader_changed,
        unclean: result.unclean,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::TopicPartition;

    /// Vectors D: replicas [2,1,3], ISR [2,1,3], leader 1; every broker but 3 acceptable.
    fn foo(election: Election, isr: &[i32], replicas: &[i32]) -> (i32, bool) {
        let r = elect_leader(election, replicas, isr, 1, |b| b != 3);
        (r.leader, r.unclean)
    }

    #[test]
    fn vectors_d_elect_leader() {
        use Election::*;
        let reps = [2, 1, 3];
        let isr = [2, 1, 3];
        assert_eq!(foo(Preferred, &isr, &reps), (2, false));
        assert_eq!(
            foo(Online, &isr, &reps),
            (1, false),
            "the current leader stays"
        );
        assert_eq!(foo(Unclean, &isr, &reps), (1, false));
        assert_eq!(foo(Online, &[1, 3], &reps), (1, false));
        assert_eq!(foo(Unclean, &[1, 3], &reps), (1, false));
        assert_eq!(foo(Online, &[3], &reps), (-1, false), "no valid leader");
        assert_eq!(
            foo(Unclean, &[3], &reps),
            (2, true),
            "first acceptable in replicas order"
        );
        assert_eq!(
            foo(Unclean, &[4], &[2, 1, 3, 4]),
            (4, false),
            "4 is in the ISR"
        );
    }

    #[test]
    fn online_takes_replicas_order_not_isr_order() {
        // Leader 1 is gone; ISR order [3, 2] must not matter: replicas order puts 2 first.
        let r = elect_leader(Election::Online, &[1, 2, 3], &[3, 2], 1, |b| b != 1);
        assert_eq!(r.leader, 2);
    }

    #[test]
    fn preferred_keeps_the_leader_when_the_preferred_replica_cannot_lead() {
        let r = elect_leader(Election::Preferred, &[1, 2, 3], &[2, 3], 3, |_| true);
        assert_eq!(r.leader, 3, "1 is out of the ISR, the valid leader 3 stays");
        let r = elect_leader(Election::Preferred, &[1, 2, 3], &[2, 3], 1, |b| b != 1);
        assert_eq!(r.leader, 2, "leader invalid too: first valid replica");
    }

    fn partition(replicas: &[i32], isr: &[i32], leader: i32) -> PartitionRecord {
        PartitionRecord {
            tp: TopicPartition::new("foo", 0),
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader,
            leader_epoch: 4,
            partition_epoch: 7,
            leader_recovery_state: LeaderRecoveryState::Recovered,
        }
    }

    #[test]
    fn fencing_the_leader_moves_leadership_and_bumps_both_epochs() {
        let p = partition(&[1, 2, 3], &[1, 2, 3], 1);
        let c = build_change(&p, &[2, 3], Election::Online, |b| b != 1).unwrap();
        assert_eq!((c.record.leader, c.record.isr.clone()), (2, vec![2, 3]));
        assert_eq!((c.record.leader_epoch, c.record.partition_epoch), (5, 8));
        assert!(c.leader_changed && !c.unclean);
    }

    #[test]
    fn isr_shrink_alone_keeps_the_leader_epoch() {
        let p = partition(&[1, 2, 3], &[1, 2, 3], 1);
        let c = build_change(&p, &[1, 2], Election::Online, |b| b != 3).unwrap();
        assert_eq!(c.record.leader_epoch, 4, "no leader epoch bump since 3.6");
        assert_eq!(c.record.partition_epoch, 8);
        assert!(build_change(&c.record, &[1, 2], Election::Online, |_| true).is_none());
    }

    #[test]
    fn the_last_isr_member_stays_and_the_partition_goes_offline() {
        let p = partition(&[1, 2], &[1], 1);
        let c = build_change(&p, &[], Election::Online, |b| b == 2).unwrap();
        assert_eq!((c.record.leader, c.record.isr.clone()), (-1, vec![1]));
        assert_eq!(c.record.leader_epoch, 5);
    }

    #[test]
    fn unclean_election_resets_the_isr_and_marks_recovery() {
        let p = partition(&[1, 2], &[1], -1);
        let c = build_change(&p, &[1], Election::Unclean, |b| b == 2).unwrap();
        assert_eq!((c.record.leader, c.record.isr.clone()), (2, vec![2]));
        assert_eq!(
            c.record.leader_recovery_state,
            LeaderRecoveryState::Recovering
        );
        assert!(c.unclean);
    }
}
