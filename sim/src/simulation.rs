//! A Kafka run: a scenario built into a World, plus the history and the command log.
//!
//! `Simulation` is the model-level face of the kernel. It turns a validated [`Scenario`] and a
//! seed into brokers and clients on a [`World`], schedules the scenario's timeline, folds every
//! step's notes into the [`History`], and resolves user [`Action`]s (which name nodes) into
//! kernel commands (which use node ids). A run is `(scenario, seed, commands)`: the command
//! log below is everything interactive play adds, so replaying it reproduces the trace.

use crate::broker::Broker;
use crate::check::{InvariantChecker, Liveness, LivenessStatus, Violation};
use crate::controller::Controller;
use crate::history::{History, Summary};
use crate::kernel::{
    At, Command, CommandNote, EventKind, NodeId, NodeStatus, SimRng, SimTime, Steppable,
    TraceEvent, World,
};
use crate::log::UnifiedLog;
use crate::metadata::MetadataImage;
use crate::node::KafkaNode;
use crate::protocol::{NO_LEADER, TopicPartition};
use crate::scenario::{Action, Scenario};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

mod director;
pub use director::{Director, Stage};

/// A consumer group as `kafka-consumer-groups --describe` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupView {
    pub group: Arc<str>,
    /// The broker id of its coordinator.
    pub coordinator: i32,
    pub state: &'static str,
    pub generation: i32,
    pub protocol: Option<Arc<str>>,
    pub leader: Option<Arc<str>>,
    pub members: Vec<MemberView>,
    pub offsets: Vec<PartitionOffsetView>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MemberView {
    pub member_id: Arc<str>,
    pub group_instance_id: Option<Arc<str>>,
    pub client_id: Arc<str>,
    /// The node the member connects from.
    pub host: Option<String>,
    pub assignment: Vec<TopicPartition>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PartitionOffsetView {
    pub tp: TopicPartition,
    pub committed: Option<i64>,
    pub log_end_offset: Option<i64>,
    pub lag: Option<i64>,
    /// The member it is assigned to, if any.
    pub member_id: Option<Arc<str>>,
}

/// An action stamped with when it applies: one entry of a run's command log.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StampedAction {
    pub at: At,
    pub action: Action,
}

/// Why an action could not be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionError(pub String);

impl std::fmt::Display for ActionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ActionError {}

/// A running Kafka simulation. `Clone` is a snapshot.
#[derive(Clone, Debug)]
pub struct Simulation {
    scenario: Arc<Scenario>,
    world: World<KafkaNode>,
    /// The scenario's cast and timeline on the world, and the actions resolved into it.
    director: Director,
    history: History,
    commands: Vec<StampedAction>,
    /// The invariant and liveness checks, when on (`set_invariants`).
    checks: Option<Box<Checks>>,
}

/// The run checks (`crate::check`), which look at the whole simulation after each step.
#[derive(Clone, Debug)]
struct Checks {
    invariants: InvariantChecker,
    liveness: Liveness,
}

impl Simulation {
    /// Builds the scenario's cluster and clients with `seed` and schedules its timeline.
    pub fn new(scenario: Arc<Scenario>, seed: u64) -> Self {
        let mut world = World::new(seed, scenario.link);
        let director = Director::build(scenario.clone(), &mut world);
        Simulation {
            scenario,
            world,
            director,
            history: History::default(),
            commands: Vec::new(),
            checks: None,
        }
    }

    // ----- getters -----

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    pub fn world(&self) -> &World<KafkaNode> {
        &self.world
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    /// The cluster as the controller has decided it (the truth; brokers may lag).
    pub fn metadata(&self) -> &MetadataImage {
        self.controller().image()
    }

    pub fn controller(&self) -> &Controller {
        match self
            .world
            .node(self.director.controller())
            .and_then(KafkaNode::as_controller)
        {
            Some(c) => c,
            None => unreachable!("the controller node is added when the run is built"),
        }
    }

    pub fn broker(&self, broker_id: i32) -> Option<&Broker> {
        self.world.node(self.broker_node(broker_id)?)?.as_broker()
    }

    pub fn seed(&self) -> u64 {
        self.world.seed()
    }

    /// The user commands added to the scenario's timeline, in order.
    pub fn commands(&self) -> &[StampedAction] {
        &self.commands
    }

    /// When the scenario says the run ends.
    pub fn end_time(&self) -> SimTime {
        SimTime::from_micros(self.scenario.duration_us)
    }

    pub fn broker_node(&self, broker_id: i32) -> Option<NodeId> {
        self.director.broker_node(broker_id)
    }

    /// Each partition's authoritative log, in (topic, partition) order: the leader's, or for
    /// an offline partition the log of the last ISR member (the replica that would lead).
    pub fn final_logs(&self) -> Vec<(TopicPartition, &UnifiedLog)> {
        final_logs(self.metadata(), |id| self.broker(id))
    }

    /// Every replica's log of `tp`, by broker id.
    pub fn replica_logs(&self, tp: &TopicPartition) -> Vec<(i32, &UnifiedLog)> {
        let Some(p) = self.metadata().partition(tp) else {
            return Vec::new();
        };
        p.replicas
            .iter()
            .filter_map(|id| Some((*id, self.broker(*id)?.log(tp)?)))
            .collect()
    }

    /// Every consumer group as its coordinator sees it now, by group id: state,
    /// generation, members with their assignments, and per partition the committed offset,
    /// the log end offset (the HW, what consumers can read) and the lag. A group whose
    /// coordinator is down or not loaded is missing (Kafka's tool would time out on it).
    pub fn groups(&self) -> Vec<GroupView> {
        let mut views: BTreeMap<Arc<str>, GroupView> = BTreeMap::new();
        for id in 1..=self.scenario.brokers as i32 {
            let Some(node) = self.broker_node(id) else {
                continue;
            };
            if matches!(
                self.world.status(node),
                Some(NodeStatus::Crashed | NodeStatus::Removed) | None
            ) {
                continue;
            }
            let Some(broker) = self.broker(id) else {
                continue;
            };
            let coordinator = broker.coordinator();
            for g in coordinator.groups() {
                if views.contains_key(&g.group_id) {
                    continue;
                }
                let members = g
                    .members
                    .values()
                    .map(|m| MemberView {
                        member_id: m.member_id.clone(),
                        group_instance_id: m.group_instance_id.clone(),
                        client_id: m.client_id.clone(),
                        host: (m.client_host.0 != u32::MAX)
                            .then(|| self.world.name(m.client_host).to_string()),
                        assignment: m.assignment.clone(),
                    })
                    .collect::<Vec<_>>();
                let committed = coordinator.committed(&g.group_id);
                let mut tps: Vec<TopicPartition> = committed
                    .map(|c| c.keys().cloned().collect())
                    .unwrap_or_default();
                for m in &members {
                    tps.extend(m.assignment.iter().cloned());
                }
                tps.sort();
                tps.dedup();
                let offsets = tps
                    .into_iter()
                    .map(|tp| {
                        let committed = committed.and_then(|c| c.get(&tp)).map(|v| v.offset);
                        let log_end = self.final_logs_for(&tp);
                        let owner = members
                            .iter()
                            .find(|m| m.assignment.contains(&tp))
                            .map(|m| m.member_id.clone());
                        PartitionOffsetView {
                            lag: match (committed, log_end) {
                                (Some(c), Some(e)) => Some((e - c).max(0)),
                                _ => None,
                            },
                            tp,
                            committed,
                            log_end_offset: log_end,
                            member_id: owner,
                        }
                    })
                    .collect();
                views.insert(
                    g.group_id.clone(),
                    GroupView {
                        group: g.group_id.clone(),
                        coordinator: id,
                        state: g.state.name(),
                        generation: g.generation_id,
                        protocol: g.protocol_name.clone(),
                        leader: g.leader_id.clone(),
                        members,
                        offsets,
                    },
                );
            }
        }
        views.into_values().collect()
    }

    /// The high watermark of `tp` on its leader (what `kafka-consumer-groups` calls
    /// LOG-END-OFFSET: the end a consumer can read to).
    fn final_logs_for(&self, tp: &TopicPartition) -> Option<i64> {
        let p = self.metadata().partition(tp)?;
        let owner = if p.leader != NO_LEADER {
            p.leader
        } else {
            *p.isr.first()?
        };
        Some(self.broker(owner)?.log(tp)?.high_watermark())
    }

    /// The run's summary numbers as of now.
    /// The delivery checker's findings so far (Jepsen's anomaly taxonomy over what the
    /// clients observed).
    pub fn anomalies(&self) -> Vec<crate::checker::Anomaly> {
        crate::checker::check(&self.history.observations)
    }

    /// The events that led to `anomaly`, the last `limit` of them.
    pub fn explain(
        &self,
        anomaly: &crate::checker::Anomaly,
        limit: usize,
    ) -> Vec<crate::checker::StoryEvent> {
        self.history
            .story
            .explain(anomaly, &self.history.observations, limit)
    }

    pub fn summary(&self) -> Summary {
        let logs = self.final_logs();
        Summary::compute(&self.history, logs.iter().map(|(tp, log)| (tp, *log)))
    }

    // ----- checks -----

    /// Turns the invariant checks (`crate::check`) and the liveness check on or off. Off by
    /// default, for interactive speed. Turn them on before the first step: the checker only
    /// knows what it has seen. Turning them off forgets what they found.
    pub fn set_invariants(&mut self, on: bool) {
        self.checks = on.then(|| {
            Box::new(Checks {
                invariants: InvariantChecker::new(),
                liveness: Liveness::new(self, crate::check::DEFAULT_LIVENESS_BOUND_US),
            })
        });
    }

    pub fn invariants_enabled(&self) -> bool {
        self.checks.is_some()
    }

    /// How long after the faults heal the cluster has to converge (default 60 s simulated).
    /// Call after `set_invariants(true)`, before the run gets there.
    pub fn set_liveness_bound(&mut self, bound: SimTime) {
        let liveness = Liveness::new(self, bound.as_micros());
        if let Some(checks) = &mut self.checks {
            checks.liveness = liveness;
        }
    }

    /// Every invariant violation found so far (empty when the checks are off).
    pub fn violations(&self) -> &[Violation] {
        self.checks
            .as_ref()
            .map_or(&[], |c| c.invariants.violations())
    }

    /// The first violation: the step at which the run broke a guarantee.
    pub fn first_violation(&self) -> Option<&Violation> {
        self.violations().first()
    }

    /// Where the liveness check stands, when the checks are on.
    pub fn liveness(&self) -> Option<&LivenessStatus> {
        self.checks.as_ref().map(|c| c.liveness.status())
    }

    /// The liveness verdict as of now, for the end of a run: converged, failed, or why it
    /// could not be judged.
    pub fn finish_liveness(&mut self) -> LivenessStatus {
        let Some(mut checks) = self.checks.take() else {
            return LivenessStatus::NotEvaluated {
                reason: "the checks are off".to_string(),
            };
        };
        let status = checks.liveness.finish(self);
        self.checks = Some(checks);
        status
    }

    // ----- stepping -----

    /// Applies one step, folding its notes into the history and, when on, checking it.
    pub fn step(&mut self) -> Option<&TraceEvent<KafkaNode>> {
        let event = self.world.step()?;
        self.history.absorb(event);
        if let EventKind::Command(CommandNote::AddNode { name }) = &event.kind {
            let name = name.clone();
            self.director.node_joined(&mut self.world, &name);
        }
        if let Some(mut checks) = self.checks.take() {
            checks.invariants.after_step(self);
            checks.liveness.after_step(self);
            self.checks = Some(checks);
        }
        self.world.last_event()
    }

    /// Time of the next step, if any.
    pub fn next_event_time(&mut self) -> Option<SimTime> {
        self.world.next_event_time()
    }

    /// Steps through every event up to `until`, then sets the clock there. With the checks
    /// on, a violated invariant stops the run at the step that broke it.
    pub fn run_until(&mut self, until: SimTime) {
        while self.world.next_event_time().is_some_and(|t| t <= until) {
            if self.step().is_none() || self.first_violation().is_some() {
                return;
            }
        }
        self.world.run_until(until);
    }

    /// Runs to the scenario's end.
    pub fn run_to_end(&mut self) {
        self.run_until(self.end_time());
    }

    // ----- commands -----

    /// Applies `action` at `at` and appends it to the command log.
    pub fn schedule(&mut self, at: At, action: Action) -> Result<(), ActionError> {
        self.director.resolve(&mut self.world, at, &action)?;
        self.commands.push(StampedAction { at, action });
        Ok(())
    }
}

/// Each partition's authoritative log, in (topic, partition) order: the leader's, or for an
/// offline partition the log of the last ISR member (the replica that would lead). `image` is
/// the controller's metadata; `broker` finds a broker by id.
pub(crate) fn final_logs<'a>(
    image: &MetadataImage,
    broker: impl Fn(i32) -> Option<&'a Broker>,
) -> Vec<(TopicPartition, &'a UnifiedLog)> {
    image
        .all_partitions()
        .filter_map(|p| {
            let owner = if p.leader != NO_LEADER {
                p.leader
            } else {
                *p.isr.first()?
            };
            let log = broker(owner)?.log(&p.tp)?;
            Some((p.tp.clone(), log))
        })
        .collect()
}

/// Our stepping World as a director's stage.
impl Stage for World<KafkaNode> {
    fn setup_rng(&mut self) -> &mut SimRng {
        self.rng_mut()
    }
    fn add_node(&mut self, name: String, node: KafkaNode) -> NodeId {
        World::add_node(self, name, node)
    }
    fn schedule(&mut self, at: At, command: Command<KafkaNode>) {
        World::schedule(self, at, command);
    }
    fn node_names(&self) -> Vec<String> {
        self.nodes()
            .map(|(_, name, _, _)| name.to_string())
            .collect()
    }
    fn node_id(&self, name: &str) -> Option<NodeId> {
        World::node_id(self, name)
    }
    fn inspect<R>(&self, id: NodeId, look: impl FnOnce(&KafkaNode) -> R) -> Option<R> {
        self.node(id).map(look)
    }
}

impl Steppable for Simulation {
    fn steps_taken(&self) -> u64 {
        self.world.steps()
    }
    fn advance(&mut self) -> bool {
        self.step().is_some()
    }
}
