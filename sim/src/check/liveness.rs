//! Liveness: once the faults have healed, the cluster converges within a bound.
//!
//! Safety (the invariants) says nothing bad happens; a cluster that elects no leader and
//! serves nobody is perfectly safe. Liveness closes that gap: after the run's last fault has
//! healed, the cluster must get back to a state a learner would call "recovered", and within
//! a bound, or the model is stuck somewhere Kafka is not.
//!
//! **When faults have healed.** At the timeline's last action (or the last consumer's
//! `start`, or the last timed user command), the controller must be running and every link
//! between running nodes healed; a link that stays cut, a controller that stays down, or a
//! network that loses messages all along (`[network] loss`) means the faults never heal, and
//! liveness is *not evaluated* — with that reason. A node that is
//! down then and never restarted is treated as decommissioned: a client that is crashed,
//! paused or removed is gone for good, and the group must converge without it (that is what
//! session timeouts are for); a broker that stays down leaves its partitions to the others.
//!
//! **Converged** (polled every 500 ms of simulated time from then on):
//! - every partition, `__consumer_offsets` included, has a leader — unless all its in-sync
//!   replicas are on brokers that are down for good (without unclean election it must then
//!   stay offline);
//! - every led partition's ISR is its full replica set, less the brokers that are down;
//! - every running consumer has caught up with the *backlog*: each partition's high watermark
//!   at the moment the faults healed. A group's committed offsets must reach it, for every
//!   partition assigned in a Stable group whose members are exactly the running consumers of
//!   the group; a consumer outside a group (or using `assign()`) must have its position there.
//!   Why the backlog rather than "lag 0": a producer that keeps writing makes lag 0 a moving
//!   target that a perfectly healthy group only meets by chance.
//!
//! **The bound** defaults to 60 s of simulated time ([`DEFAULT_LIVENESS_BOUND_US`]): it covers
//! Kafka's slowest default recovery path here, a consumer group's 45 s session timeout, with
//! room for the rebalance after it. Converging before the run ends passes; failing to by
//! `healed + bound` fails; a run that ends earlier without converging is not evaluated.

use crate::Simulation;
use crate::clients::{Consumer, Subscription};
use crate::kernel::{At, NodeId, NodeStatus};
use crate::node::KafkaNode;
use crate::protocol::{NO_LEADER, TopicPartition};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// 60 s of simulated time.
pub const DEFAULT_LIVENESS_BOUND_US: u64 = 60_000_000;
/// How often convergence is checked once the faults have healed.
const POLL_US: u64 = 500_000;

/// Where the liveness check stands.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum LivenessStatus {
    /// The timeline's last action has not happened yet.
    Waiting {
        settle_at_us: u64,
    },
    /// Every fault healed at `since_us`; not converged yet.
    Converging {
        since_us: u64,
    },
    Converged {
        since_us: u64,
        at_us: u64,
    },
    /// Not converged by `since_us + bound`; `reason` is the first condition still unmet.
    Failed {
        since_us: u64,
        at_us: u64,
        reason: String,
    },
    /// The run cannot tell: a fault never healed, or it ended too soon.
    NotEvaluated {
        reason: String,
    },
}

impl LivenessStatus {
    /// One sentence for people.
    pub fn describe(&self) -> String {
        use super::seconds;
        match self {
            LivenessStatus::Waiting { settle_at_us } => {
                format!(
                    "waiting for the timeline's last action at {}",
                    seconds(*settle_at_us)
                )
            }
            LivenessStatus::Converging { since_us } => {
                format!(
                    "converging since the faults healed at {}",
                    seconds(*since_us)
                )
            }
            LivenessStatus::Converged { since_us, at_us } => format!(
                "converged at {}, {} after the faults healed",
                seconds(*at_us),
                seconds(at_us - since_us)
            ),
            LivenessStatus::Failed {
                since_us,
                at_us,
                reason,
            } => format!(
                "not converged at {}, {} after the faults healed: {reason}",
                seconds(*at_us),
                seconds(at_us - since_us)
            ),
            LivenessStatus::NotEvaluated { reason } => format!("not evaluated: {reason}"),
        }
    }
}

/// The liveness check of one run. See the module docs.
#[derive(Clone, Debug)]
pub struct Liveness {
    bound_us: u64,
    settle_at_us: u64,
    /// The last step-stamped action (a saved lab session's): the faults heal no earlier than
    /// the step after it, whatever its time turns out to be.
    settle_after_step: Option<u64>,
    status: LivenessStatus,
    next_poll_us: u64,
    /// Each user partition's high watermark when the faults healed.
    backlog: BTreeMap<TopicPartition, i64>,
    /// Clients that were down when the faults healed.
    departed: BTreeSet<NodeId>,
    /// Brokers that were down when the faults healed.
    down_brokers: BTreeSet<i32>,
}

impl Liveness {
    /// A check for `sim` with convergence due `bound_us` after the faults heal.
    pub fn new(sim: &Simulation, bound_us: u64) -> Self {
        let scenario = sim.scenario();
        let ats = || {
            let timeline = scenario.timeline.iter().map(|t| t.at);
            timeline.chain(sim.commands().iter().map(|c| c.at))
        };
        let times = ats().filter_map(|at| match at {
            At::Time(t) => Some(t.as_micros()),
            At::Step(_) => None,
        });
        let starts = scenario.consumers.iter().map(|c| c.start_us);
        let settle_at_us = times.chain(starts).max().unwrap_or(0);
        let settle_after_step = ats()
            .filter_map(|at| match at {
                At::Step(n) => Some(n),
                At::Time(_) => None,
            })
            .max();
        Liveness {
            bound_us,
            settle_at_us,
            settle_after_step,
            status: LivenessStatus::Waiting { settle_at_us },
            next_poll_us: 0,
            backlog: BTreeMap::new(),
            departed: BTreeSet::new(),
            down_brokers: BTreeSet::new(),
        }
    }

    pub fn bound_us(&self) -> u64 {
        self.bound_us
    }

    pub fn status(&self) -> &LivenessStatus {
        &self.status
    }

    /// Advances the check after a step.
    pub fn after_step(&mut self, sim: &Simulation) {
        let now = sim.world().now().as_micros();
        match self.status {
            LivenessStatus::Waiting { settle_at_us }
                if now > settle_at_us
                    && self
                        .settle_after_step
                        .is_none_or(|step| sim.world().steps() > step) =>
            {
                self.begin(sim, now)
            }
            LivenessStatus::Converging { since_us } if now >= self.next_poll_us => {
                self.next_poll_us = now + POLL_US;
                match self.converged(sim) {
                    Ok(()) => {
                        self.status = LivenessStatus::Converged {
                            since_us,
                            at_us: now,
                        }
                    }
                    Err(reason) if now >= since_us + self.bound_us => {
                        self.status = LivenessStatus::Failed {
                            since_us,
                            at_us: now,
                            reason,
                        }
                    }
                    Err(_) => {}
                }
            }
            _ => {}
        }
    }

    /// The verdict at the end of the run (now).
    pub fn finish(&mut self, sim: &Simulation) -> LivenessStatus {
        let now = sim.world().now().as_micros();
        use super::seconds;
        match self.status {
            LivenessStatus::Waiting { settle_at_us } => {
                self.status = LivenessStatus::NotEvaluated {
                    reason: format!(
                        "the run ended at {}, before the timeline's last action at {}",
                        seconds(now),
                        seconds(settle_at_us)
                    ),
                }
            }
            LivenessStatus::Converging { since_us } => {
                self.status = match self.converged(sim) {
                    Ok(()) => LivenessStatus::Converged {
                        since_us,
                        at_us: now,
                    },
                    Err(reason) if now >= since_us + self.bound_us => LivenessStatus::Failed {
                        since_us,
                        at_us: now,
                        reason,
                    },
                    Err(reason) => LivenessStatus::NotEvaluated {
                        reason: format!(
                            "the run ended {} after the faults healed at {}, within the {} \
                             bound, before the cluster converged ({reason})",
                            seconds(now - since_us),
                            seconds(since_us),
                            seconds(self.bound_us)
                        ),
                    },
                }
            }
            _ => {}
        }
        self.status.clone()
    }

    /// The faults should have healed: check that they have, and note the backlog.
    fn begin(&mut self, sim: &Simulation, now: u64) {
        let world = sim.world();
        let loss = world.network().default_link().loss.as_f64();
        if loss > 0.0 {
            self.status = LivenessStatus::NotEvaluated {
                reason: format!(
                    "the network loses {:.2}% of messages throughout the run: that fault never \
                     heals",
                    loss * 100.0
                ),
            };
            return;
        }
        for (id, name, status, node) in world.nodes() {
            let server = matches!(node, KafkaNode::Broker(_) | KafkaNode::Controller(_));
            if status == NodeStatus::Running {
                continue;
            }
            if let KafkaNode::Broker(b) = node {
                // Down for good: the cluster must converge without it.
                self.down_brokers.insert(b.id());
                continue;
            }
            if server {
                self.status = LivenessStatus::NotEvaluated {
                    reason: format!(
                        "{name} is still {} after the timeline's last action at {}",
                        status_name(status),
                        super::seconds(self.settle_at_us)
                    ),
                };
                return;
            }
            self.departed.insert(id);
        }
        if let Some((from, to)) = world
            .network()
            .cuts()
            .find(|(a, b)| !self.departed.contains(a) && !self.departed.contains(b))
        {
            self.status = LivenessStatus::NotEvaluated {
                reason: format!(
                    "the link {} -> {} is still cut after the timeline's last action at {}",
                    world.name(from),
                    world.name(to),
                    super::seconds(self.settle_at_us)
                ),
            };
            return;
        }
        self.backlog = sim
            .final_logs()
            .into_iter()
            .filter(|(tp, _)| !tp.topic.starts_with("__"))
            .map(|(tp, log)| (tp, log.high_watermark()))
            .collect();
        self.status = LivenessStatus::Converging { since_us: now };
        self.next_poll_us = now;
        self.after_step(sim);
    }

    /// Whether the cluster has converged; otherwise the first condition still unmet.
    fn converged(&self, sim: &Simulation) -> Result<(), String> {
        for p in sim.metadata().all_partitions() {
            let up = |b: &i32| !self.down_brokers.contains(b);
            let mut live: Vec<i32> = p.replicas.iter().copied().filter(up).collect();
            if p.leader == NO_LEADER {
                // Offline is right only when every in-sync replica is down for good.
                if p.isr.iter().any(up) {
                    let name = format!("{}-{}", p.tp.topic, p.tp.partition);
                    return Err(format!("{name} has no leader"));
                }
                continue;
            }
            let mut isr = p.isr.clone();
            isr.sort_unstable();
            live.sort_unstable();
            if isr != live {
                let name = format!("{}-{}", p.tp.topic, p.tp.partition);
                return Err(format!(
                    "{name} has ISR {:?} of replicas {:?}",
                    p.isr, p.replicas
                ));
            }
        }
        let mut groups: BTreeMap<Arc<str>, Vec<&str>> = BTreeMap::new();
        for (id, name, status, node) in sim.world().nodes() {
            let KafkaNode::Consumer(c) = node else {
                continue;
            };
            if status != NodeStatus::Running || self.departed.contains(&id) {
                continue;
            }
            match (c.group_member(), c.subscription()) {
                (Some((group, _, _)), Subscription::Topic(_)) => groups
                    .entry(Arc::from(group))
                    .or_default()
                    .push(client_id(c)),
                _ => self.consumer_caught_up(name, c)?,
            }
        }
        for (group, consumers) in &groups {
            self.group_caught_up(sim, group, consumers)?;
        }
        Ok(())
    }

    fn consumer_caught_up(&self, name: &str, c: &Consumer) -> Result<(), String> {
        for tp in c.assignment() {
            let target = self.backlog.get(tp).copied().unwrap_or(0);
            let position = c.position(tp);
            if position.is_none_or(|p| p < target) {
                return Err(format!(
                    "{name} is at {} on {}-{}, short of the {target} written before the faults \
                     healed",
                    position.map_or("no position".to_string(), |p| format!("offset {p}")),
                    tp.topic,
                    tp.partition
                ));
            }
        }
        Ok(())
    }

    fn group_caught_up(
        &self,
        sim: &Simulation,
        group: &Arc<str>,
        consumers: &[&str],
    ) -> Result<(), String> {
        let views = sim.groups();
        let Some(view) = views.iter().find(|v| v.group == *group) else {
            return Err(format!("group {group} has no coordinator serving it"));
        };
        if view.state != "Stable" {
            return Err(format!("group {group} is {}", view.state));
        }
        // Members by client id: a coordinator that loaded the group from the log does not
        // know their hosts until they next join.
        let members: BTreeSet<&str> = view.members.iter().map(|m| &*m.client_id).collect();
        let running: BTreeSet<&str> = consumers.iter().copied().collect();
        if members != running {
            return Err(format!(
                "group {group} has members {members:?}, but its running consumers are \
                 {running:?}"
            ));
        }
        for row in view.offsets.iter().filter(|r| r.member_id.is_some()) {
            let target = self.backlog.get(&row.tp).copied().unwrap_or(0);
            if row.committed.unwrap_or(0) < target {
                return Err(format!(
                    "group {group} has committed {} on {}-{}, short of the {target} written \
                     before the faults healed",
                    row.committed
                        .map_or("nothing".to_string(), |c| c.to_string()),
                    row.tp.topic,
                    row.tp.partition
                ));
            }
        }
        Ok(())
    }
}

/// The `client.id` a consumer registers with (its name unless set).
fn client_id(c: &Consumer) -> &str {
    if c.config().client_id.is_empty() {
        c.name()
    } else {
        &c.config().client_id
    }
}

fn status_name(status: NodeStatus) -> &'static str {
    match status {
        NodeStatus::Running => "running",
        NodeStatus::Crashed => "down",
        NodeStatus::Paused => "paused",
        NodeStatus::Removed => "removed",
    }
}
