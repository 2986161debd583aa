//! A Kafka run: a scenario built into a World, plus the history and the command log.
//!
//! `Simulation` is the model-level face of the kernel. It turns a validated [`Scenario`] and a
//! seed into brokers and clients on a [`World`], schedules the scenario's timeline, folds every
//! step's notes into the [`History`], and resolves user [`Action`]s (which name nodes) into
//! kernel commands (which use node ids). A run is `(scenario, seed, commands)`: the command
//! log below is everything interactive play adds, so replaying it reproduces the trace.

use crate::broker::Broker;
use crate::check::{InvariantChecker, Liveness, LivenessStatus, Violation};
use crate::clients::{Consumer, Producer};
use crate::controller::Controller;
use crate::history::{History, Summary};
use crate::kernel::{
    At, Command, CommandNote, CrashKind, EventKind, NodeId, NodeStatus, SimTime, Steppable,
    TraceEvent, World,
};
use crate::log::{LogConfig, UnifiedLog};
use crate::metadata::{MetadataImage, assign_replicas};
use crate::node::{Input, KafkaNode};
use crate::protocol::{
    LeaderRecoveryState, MetadataRecord, NO_LEADER, PartitionRecord, TopicPartition,
};
use crate::scenario::{
    Action, CONTROLLER_NAME, ConsumerDef, ProducerDef, Scenario, ScenarioError, TopicDef,
    check_partition_increase, consumer_def_checked, producer_def_checked,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

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
    controller: NodeId,
    broker_nodes: Vec<NodeId>,
    history: History,
    commands: Vec<StampedAction>,
    /// The largest partition count each scheduled `add-partitions` asked for, by topic.
    planned_partitions: BTreeMap<Arc<str>, i32>,
    /// Clients scheduled to join the run (a consumer with a later `start`, an `add-producer`
    /// or `add-consumer` action), by name, until they do.
    planned_nodes: BTreeMap<String, PlannedNode>,
    /// Actions that name a planned client, in the order they were given: node ids exist only
    /// once a node is in the world, so each is resolved when the last client it names joins.
    awaiting_nodes: Vec<StampedAction>,
    /// The invariant and liveness checks, when on (`set_invariants`).
    checks: Option<Box<Checks>>,
}

/// The run checks (`crate::check`), which look at the whole simulation after each step.
#[derive(Clone, Debug)]
struct Checks {
    invariants: InvariantChecker,
    liveness: Liveness,
}

/// A client that will join the run: when, and what kind of node it is.
#[derive(Clone, Debug)]
struct PlannedNode {
    joins: At,
    /// `KafkaNode::role`.
    role: &'static str,
}

impl Simulation {
    /// Builds the scenario's cluster and clients with `seed` and schedules its timeline.
    pub fn new(scenario: Arc<Scenario>, seed: u64) -> Self {
        let mut world = World::new(seed, scenario.link);
        let broker_ids: Vec<i32> = (1..=scenario.brokers as i32).collect();
        // Node ids: brokers first (broker i is node i-1), then the controller, then clients.
        let broker_nodes: Vec<NodeId> = (0..broker_ids.len() as u32).map(NodeId).collect();
        let controller_node = NodeId(broker_ids.len() as u32);
        let bootstrap = bootstrap_records(&scenario, &broker_ids, &broker_nodes, world.rng_mut());
        let mut image = MetadataImage::default();
        for record in &bootstrap {
            image.apply(record);
        }
        let offsets_topic = scenario.offsets_topic_def();
        for id in &broker_ids {
            let config = scenario.broker_config_for(*id);
            let topic_configs: BTreeMap<Arc<str>, LogConfig> = scenario
                .topics
                .iter()
                .chain(std::iter::once(&offsets_topic))
                .map(|t| (t.name.clone(), scenario.log_config_for(*id, t)))
                .collect();
            let epoch = image.brokers.get(id).map(|b| b.epoch);
            let broker = Broker::new(
                config,
                Arc::new(topic_configs),
                controller_node,
                image.clone(),
                epoch,
            );
            world.add_node(
                Scenario::broker_name(*id),
                KafkaNode::Broker(Box::new(broker)),
            );
        }
        let topic_configs: BTreeMap<Arc<str>, LogConfig> = scenario
            .topics
            .iter()
            .chain(std::iter::once(&offsets_topic))
            .map(|t| (t.name.clone(), t.config.clone()))
            .collect();
        // Every broker registered once, as incarnation 1, before the run began.
        let incarnations = broker_ids.iter().map(|id| (*id, 1)).collect();
        let controller = Controller::new(
            scenario.controller_config.clone(),
            Arc::new(topic_configs),
            bootstrap,
            incarnations,
        );
        world.add_node(
            CONTROLLER_NAME.to_string(),
            KafkaNode::Controller(Box::new(controller)),
        );
        let mut sim = Simulation {
            scenario: scenario.clone(),
            world,
            controller: controller_node,
            broker_nodes,
            history: History::default(),
            commands: Vec::new(),
            planned_partitions: BTreeMap::new(),
            planned_nodes: BTreeMap::new(),
            awaiting_nodes: Vec::new(),
            checks: None,
        };
        for p in &scenario.producers {
            let node = sim.producer_node(p);
            sim.world.add_node(p.name.clone(), node);
        }
        for c in &scenario.consumers {
            sim.add_consumer_at(c, SimTime::from_micros(c.start_us));
        }
        for timed in &scenario.timeline {
            let at = At::Time(SimTime::from_micros(timed.at_us));
            // The loader checked every timeline action against the nodes there at its time.
            if let Err(e) = sim.resolve(at, &timed.action) {
                debug_assert!(false, "validated timeline action failed: {e}");
            }
        }
        sim
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
            .node(self.controller)
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
        let index = usize::try_from(broker_id).ok()?.checked_sub(1)?;
        self.broker_nodes.get(index).copied()
    }

    /// Each partition's authoritative log, in (topic, partition) order: the leader's, or for
    /// an offline partition the log of the last ISR member (the replica that would lead).
    pub fn final_logs(&self) -> Vec<(TopicPartition, &UnifiedLog)> {
        self.metadata()
            .all_partitions()
            .filter_map(|p| {
                let owner = if p.leader != NO_LEADER {
                    p.leader
                } else {
                    *p.isr.first()?
                };
                let log = self.broker(owner)?.log(&p.tp)?;
                Some((p.tp.clone(), log))
            })
            .collect()
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
            self.node_joined(&name);
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
        self.resolve(at, &action)?;
        self.commands.push(StampedAction { at, action });
        Ok(())
    }

    fn node(&self, name: &str) -> Result<NodeId, ActionError> {
        self.world.node_id(name).ok_or_else(|| {
            let names: Vec<&str> = self.world.nodes().map(|(_, n, _, _)| n).collect();
            ActionError(format!(
                "unknown node `{name}`; nodes: {}",
                names.join(", ")
            ))
        })
    }

    fn resolve(&mut self, at: At, action: &Action) -> Result<(), ActionError> {
        if self.awaits_planned_node(at, action)? {
            self.awaiting_nodes.push(StampedAction {
                at,
                action: action.clone(),
            });
            return Ok(());
        }
        self.check_roles(action)?;
        let command = match action {
            Action::Crash { node } => Command::Crash(self.node(node)?, CrashKind::Crash),
            Action::PowerLoss { node } => Command::Crash(self.node(node)?, CrashKind::PowerLoss),
            Action::Restart { node } => Command::Restart(self.node(node)?),
            Action::Pause { node } => Command::Pause(self.node(node)?),
            Action::Resume { node } => Command::Resume(self.node(node)?),
            Action::Cut { from, to, one_way } => Command::Cut {
                from: self.node(from)?,
                to: self.node(to)?,
                both: !one_way,
            },
            Action::Heal { from, to, one_way } => Command::Heal {
                from: self.node(from)?,
                to: self.node(to)?,
                both: !one_way,
            },
            Action::HealAll {} => Command::HealAll,
            Action::DropMessage { id } => Command::DropMessage(crate::kernel::MessageId(*id)),
            Action::Isolate { node } => return self.isolate(at, node),
            Action::Produce { producer, count } => {
                Command::Input(self.node(producer)?, Input::Produce { count: *count })
            }
            Action::Seek {
                consumer,
                topic,
                partition,
                offset,
            } => {
                let id = self.node(consumer)?;
                let tp = TopicPartition::new(Arc::<str>::from(topic.as_str()), *partition);
                Command::Input(
                    id,
                    Input::Seek {
                        tp,
                        offset: *offset,
                    },
                )
            }
            Action::RemoveClient { node } => Command::RemoveNode(self.node(node)?),
            Action::AddProducer(spec) => {
                let topics = self.planned_topics();
                let def = producer_def_checked(spec, &topics).map_err(describe)?;
                self.check_free(&def.name)?;
                self.plan_node(&def.name, at, "producer");
                Command::AddNode {
                    name: def.name.clone(),
                    node: Box::new(self.producer_node(&def)),
                }
            }
            Action::AddConsumer(spec) => {
                let topics = self.planned_topics();
                let def = consumer_def_checked(spec, &topics).map_err(describe)?;
                self.check_free(&def.name)?;
                self.plan_node(&def.name, at, "consumer");
                Command::AddNode {
                    name: def.name.clone(),
                    node: Box::new(self.consumer_node(&def)),
                }
            }
            Action::AddPartitions { topic, partitions } => {
                return self.add_partitions(at, topic, *partitions);
            }
        };
        self.world.schedule(at, command);
        Ok(())
    }

    /// CreatePartitions, sent to the controller as an operator's input. Refused here if it
    /// can already be seen to fail: an unknown topic, or no growth over the count the
    /// controller has now (counts never shrink). Otherwise the controller decides when it
    /// applies; a controller that is down then ignores it (see `Controller::on_input`).
    fn add_partitions(&mut self, at: At, topic: &str, count: i32) -> Result<(), ActionError> {
        let Some(def) = self.scenario.topic(topic) else {
            let known: Vec<&str> = self.scenario.topics.iter().map(|t| &*t.name).collect();
            return Err(ActionError(format!(
                "`topic`: unknown topic `{topic}`; defined topics: {}",
                known.join(", ")
            )));
        };
        let name = def.name.clone();
        let current = self
            .metadata()
            .topics
            .get(&name)
            .map_or(def.partitions, |parts| parts.len() as i32);
        check_partition_increase(topic, current, count)
            .map_err(|m| ActionError(format!("`partitions`: {m}")))?;
        let planned = self.planned_partitions.entry(name.clone()).or_insert(count);
        *planned = (*planned).max(count);
        self.world.schedule(
            at,
            Command::Input(
                self.controller,
                Input::CreatePartitions { topic: name, count },
            ),
        );
        Ok(())
    }

    /// The scenario's topics with the most partitions any scheduled `add-partitions` gives
    /// them, for checking clients that name partitions (they wait for partitions that do not
    /// exist yet, as an assigned Kafka consumer does).
    fn planned_topics(&self) -> Vec<TopicDef> {
        let mut topics = self.scenario.topics.clone();
        for t in &mut topics {
            if let Some(count) = self.planned_partitions.get(&t.name) {
                t.partitions = t.partitions.max(*count);
            }
        }
        topics
    }

    /// The kind of node `name` is, whether it is in the world or planned to join.
    fn role(&self, name: &str) -> Option<&'static str> {
        match self.world.node_id(name) {
            Some(id) => self.world.node(id).map(KafkaNode::role),
            None => self.planned_nodes.get(name).map(|p| p.role),
        }
    }

    /// Refuses an action on a kind of node it cannot act on (`produce` on a consumer,
    /// `remove-client` on a broker).
    fn check_roles(&self, action: &Action) -> Result<(), ActionError> {
        let Some(roles) = action.node_roles() else {
            return Ok(());
        };
        for (_, name) in action.node_refs() {
            if let Some(role) = self.role(name)
                && !roles.contains(&role)
            {
                return Err(ActionError(format!(
                    "`{name}` is a {role}; this action needs a {}",
                    roles.join(" or ")
                )));
            }
        }
        Ok(())
    }

    /// Whether `action` must wait for a planned client it names to join. Refused when it
    /// would apply before that client joins, where both times are known.
    fn awaits_planned_node(&self, at: At, action: &Action) -> Result<bool, ActionError> {
        let mut awaits = false;
        for (_, name) in action.node_refs() {
            if self.world.node_id(name).is_some() {
                continue;
            }
            let Some(planned) = self.planned_nodes.get(name) else {
                return Ok(false); // unknown: resolving it reports so
            };
            if let (At::Time(t), At::Time(joins)) = (at, planned.joins)
                && t < joins
            {
                return Err(ActionError(format!(
                    "`{name}` joins the run at {joins}; an action on it must be at or after that"
                )));
            }
            awaits = true;
        }
        if awaits {
            self.check_roles(action)?;
        }
        Ok(awaits)
    }

    fn plan_node(&mut self, name: &str, joins: At, role: &'static str) {
        self.planned_nodes
            .insert(name.to_string(), PlannedNode { joins, role });
    }

    /// `name` is in the world now: the actions that waited only for it get their node ids.
    fn node_joined(&mut self, name: &str) {
        self.planned_nodes.remove(name);
        let (ready, waiting): (Vec<StampedAction>, Vec<StampedAction>) =
            std::mem::take(&mut self.awaiting_nodes)
                .into_iter()
                .partition(|s| {
                    s.action
                        .node_refs()
                        .iter()
                        .all(|(_, n)| self.world.node_id(n).is_some())
                });
        self.awaiting_nodes = waiting;
        for s in ready {
            // Checked when it was given, against the client's planned time and kind.
            if let Err(e) = self.resolve(s.at, &s.action) {
                debug_assert!(false, "an action waiting for `{name}` failed: {e}");
            }
        }
    }

    fn check_free(&self, name: &str) -> Result<(), ActionError> {
        if self.world.node_id(name).is_some() || self.planned_nodes.contains_key(name) {
            return Err(ActionError(format!("the name `{name}` is already taken")));
        }
        Ok(())
    }

    fn isolate(&mut self, at: At, name: &str) -> Result<(), ActionError> {
        let target = self.node(name)?;
        let others: Vec<NodeId> = self
            .world
            .nodes()
            .map(|(id, _, _, _)| id)
            .filter(|id| *id != target)
            .collect();
        for other in others {
            self.world.schedule(
                at,
                Command::Cut {
                    from: target,
                    to: other,
                    both: true,
                },
            );
        }
        Ok(())
    }

    fn bootstrap(&self) -> Vec<NodeId> {
        self.broker_nodes.clone()
    }

    fn producer_node(&self, def: &ProducerDef) -> KafkaNode {
        KafkaNode::Producer(Box::new(Producer::new(
            def.name.as_str(),
            def.config.clone(),
            def.workload.clone(),
            self.bootstrap(),
        )))
    }

    fn consumer_node(&self, def: &ConsumerDef) -> KafkaNode {
        KafkaNode::Consumer(Box::new(Consumer::new(
            def.name.as_str(),
            def.config.clone(),
            def.subscription.clone(),
            def.app,
            self.bootstrap(),
        )))
    }

    /// A consumer from the scenario: added when the run starts, or later if it has a `start`.
    fn add_consumer_at(&mut self, def: &ConsumerDef, start: SimTime) {
        let node = self.consumer_node(def);
        if start == SimTime::ZERO {
            self.world.add_node(def.name.clone(), node);
        } else {
            self.plan_node(&def.name, At::Time(start), "consumer");
            self.world.schedule(
                At::Time(start),
                Command::AddNode {
                    name: def.name.clone(),
                    node: Box::new(node),
                },
            );
        }
    }
}

fn describe(e: ScenarioError) -> ActionError {
    let key = e.key.map(|k| format!("`{k}`: ")).unwrap_or_default();
    ActionError(format!("{key}{}", e.message))
}

/// The metadata log of a cluster that is already running when the run begins: every broker
/// registered and unfenced, every topic created with its replicas placed (explicitly, or as
/// Kafka does), `replicas[0]` leading in epoch 0 with the full ISR.
fn bootstrap_records(
    scenario: &Scenario,
    broker_ids: &[i32],
    broker_nodes: &[NodeId],
    rng: &mut crate::kernel::SimRng,
) -> Vec<MetadataRecord> {
    let mut records = Vec::new();
    for (id, node) in broker_ids.iter().zip(broker_nodes) {
        let broker_epoch = records.len() as i64;
        records.push(MetadataRecord::RegisterBroker {
            broker_id: *id,
            broker_epoch,
            node: *node,
        });
        records.push(MetadataRecord::BrokerFencing {
            broker_id: *id,
            broker_epoch,
            fenced: false,
        });
    }
    for t in &scenario.topics {
        let assignment = match &t.replicas {
            Some(explicit) => explicit.clone(),
            None => assign_replicas(broker_ids, t.partitions, t.replication_factor as usize, rng),
        };
        records.push(MetadataRecord::Topic {
            name: t.name.clone(),
            partitions: t.partitions,
        });
        for (p, replicas) in assignment.into_iter().enumerate() {
            records.push(MetadataRecord::Partition(PartitionRecord {
                tp: TopicPartition::new(t.name.clone(), p as i32),
                leader: replicas.first().copied().unwrap_or(NO_LEADER),
                isr: replicas.clone(),
                replicas,
                leader_epoch: 0,
                partition_epoch: 0,
                leader_recovery_state: LeaderRecoveryState::Recovered,
            }));
        }
    }
    records
}

impl Steppable for Simulation {
    fn steps_taken(&self) -> u64 {
        self.world.steps()
    }
    fn advance(&mut self) -> bool {
        self.step().is_some()
    }
}
