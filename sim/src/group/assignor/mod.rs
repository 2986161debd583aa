//! TEMPORARY SHIM: a placeholder with the agreed API so the consumer builds; the
//! assignors branch (range, roundrobin, sticky, cooperative-sticky) replaces this file.
use crate::protocol::{ConsumerSubscription, TopicPartition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Assignor {
    Range,
    RoundRobin,
    Sticky,
    CooperativeSticky,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RebalanceProtocol {
    Eager,
    Cooperative,
}
impl Assignor {
    pub const ALL: [Assignor; 4] = [
        Assignor::Range,
        Assignor::RoundRobin,
        Assignor::Sticky,
        Assignor::CooperativeSticky,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::Sticky => "sticky",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }
    pub fn from_name(s: &str) -> Option<Assignor> {
        Self::ALL.into_iter().find(|a| a.name() == s)
    }
    pub fn supported_protocols(self) -> &'static [RebalanceProtocol] {
        match self {
            Assignor::CooperativeSticky => {
                &[RebalanceProtocol::Eager, RebalanceProtocol::Cooperative]
            }
            _ => &[RebalanceProtocol::Eager],
        }
    }
}
#[derive(Debug)]
pub struct MemberSubscription {
    pub member_id: Arc<str>,
    pub group_instance_id: Option<Arc<str>>,
    pub subscription: ConsumerSubscription,
}
pub fn assign(
    _a: Assignor,
    ppt: &BTreeMap<Arc<str>, i32>,
    members: &[MemberSubscription],
) -> BTreeMap<Arc<str>, Vec<TopicPartition>> {
    let mut out: BTreeMap<Arc<str>, Vec<TopicPartition>> = members
        .iter()
        .map(|m| (m.member_id.clone(), Vec::new()))
        .collect();
    for (t, n) in ppt {
        let subs: Vec<&MemberSubscription> = members
            .iter()
            .filter(|m| m.subscription.topics.contains(t))
            .collect();
        if subs.is_empty() {
            continue;
        }
        for p in 0..*n {
            let m = subs[p as usize % subs.len()];
            out.entry(m.member_id.clone())
                .or_default()
                .push(TopicPartition::new(t.clone(), p));
        }
    }
    out
}
