//! A Kafka run: a scenario built into a World, plus the history and the command log.
//!
//! `Simulation` is the model-level face of the kernel. It turns a validated [`Scenario`] and a
//! seed into brokers and clients on a [`World`], schedules the scenario's timeline, folds every
//! step's notes into the [`History`], and resolves user [`Action`]s (which name nodes) into
//! kernel commands (which use node ids). A run is `(scenario, seed, commands)`: the command
//! log below is everything interactive play adds, so replaying it reproduces the trace.

use crate::broker::{Broker, BrokerConfig};
use crate::clients::{Consumer, Producer};
use crate::history::{History, Summary};
use crate::kernel::{At, Command, CrashKind, NodeId, SimTime, Steppable, TraceEvent, World};
use crate::log::UnifiedLog;
use crate::metadata::{ClusterMetadata, PartitionLayout, TopicLayout, assign_replicas};
use crate::node::{Input, KafkaNode};
use crate::protocol::{BrokerMetadata, TopicPartition};
use crate::scenario::{
    Action, ConsumerDef, ProducerDef, Scenario, ScenarioError, consumer_def_checked,
    producer_def_checked,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

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
    metadata: Arc<ClusterMetadata>,
    world: World<KafkaNode>,
    history: History,
    commands: Vec<StampedAction>,
}

impl Simulation {
    /// Builds the scenario's cluster and clients with `seed` and schedules its timeline.
    pub fn new(scenario: Arc<Scenario>, seed: u64) -> Self {
        let mut world = World::new(seed, scenario.link);
        let broker_ids: Vec<i32> = (1..=scenario.brokers as i32).collect();
        let metadata = Arc::new(layout(&scenario, &broker_ids, world.rng_mut()));
        for id in &broker_ids {
            let mut config: BrokerConfig = scenario.broker_config.clone();
            config.node_id = *id;
            let broker = Broker::new(config, metadata.clone());
            world.add_node(
                Scenario::broker_name(*id),
                KafkaNode::Broker(Box::new(broker)),
            );
        }
        let mut sim = Simulation {
            scenario: scenario.clone(),
            metadata,
            world,
            history: History::default(),
            commands: Vec::new(),
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
            // The loader checked every timeline action against the nodes it can see.
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

    pub fn metadata(&self) -> &ClusterMetadata {
        &self.metadata
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
        self.world.node_id(&Scenario::broker_name(broker_id))
    }

    /// The leader's log of every partition, in (topic, partition) order.
    pub fn final_logs(&self) -> Vec<(TopicPartition, &UnifiedLog)> {
        self.metadata
            .all_partitions()
            .filter_map(|(tp, layout)| {
                let node = self.broker_node(layout.leader)?;
                let log = self.world.node(node)?.as_broker()?.log(&tp)?;
                Some((tp, log))
            })
            .collect()
    }

    /// The run's summary numbers as of now.
    pub fn summary(&self) -> Summary {
        let logs = self.final_logs();
        Summary::compute(&self.history, logs.iter().map(|(tp, log)| (tp, *log)))
    }

    // ----- stepping -----

    /// Applies one step, folding its notes into the history.
    pub fn step(&mut self) -> Option<&TraceEvent<KafkaNode>> {
        let event = self.world.step()?;
        self.history.absorb(event);
        Some(event)
    }

    /// Time of the next step, if any.
    pub fn next_event_time(&mut self) -> Option<SimTime> {
        self.world.next_event_time()
    }

    /// Steps through every event up to `until`, then sets the clock there.
    pub fn run_until(&mut self, until: SimTime) {
        while self.world.next_event_time().is_some_and(|t| t <= until) {
            if self.step().is_none() {
                break;
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
                let id = self.client(producer, "producer")?;
                Command::Input(id, Input::Produce { count: *count })
            }
            Action::Seek {
                consumer,
                topic,
                partition,
                offset,
            } => {
                let id = self.client(consumer, "consumer")?;
                let tp = TopicPartition::new(Arc::<str>::from(topic.as_str()), *partition);
                Command::Input(
                    id,
                    Input::Seek {
                        tp,
                        offset: *offset,
                    },
                )
            }
            Action::RemoveClient { node } => {
                let id = self.node(node)?;
                if self.world.node(id).and_then(KafkaNode::as_broker).is_some() {
                    return Err(ActionError(format!(
                        "`{node}` is a broker; only clients can be removed"
                    )));
                }
                Command::RemoveNode(id)
            }
            Action::AddProducer(spec) => {
                let def = producer_def_checked(spec, &self.scenario.topics).map_err(describe)?;
                self.check_free(&def.name)?;
                Command::AddNode {
                    name: def.name.clone(),
                    node: Box::new(self.producer_node(&def)),
                }
            }
            Action::AddConsumer(spec) => {
                let def = consumer_def_checked(spec, &self.scenario.topics).map_err(describe)?;
                self.check_free(&def.name)?;
                Command::AddNode {
                    name: def.name.clone(),
                    node: Box::new(self.consumer_node(&def)),
                }
            }
        };
        self.world.schedule(at, command);
        Ok(())
    }

    fn client(&self, name: &str, role: &str) -> Result<NodeId, ActionError> {
        let id = self.node(name)?;
        match self.world.node(id) {
            Some(n) if n.role() == role => Ok(id),
            _ => Err(ActionError(format!("`{name}` is not a {role}"))),
        }
    }

    fn check_free(&self, name: &str) -> Result<(), ActionError> {
        match self.world.node_id(name) {
            Some(_) => Err(ActionError(format!("the name `{name}` is already taken"))),
            None => Ok(()),
        }
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
        self.metadata.brokers.iter().map(|b| b.node).collect()
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
            self.bootstrap(),
        )))
    }

    /// A consumer from the scenario: added when the run starts, or later if it has a `start`.
    fn add_consumer_at(&mut self, def: &ConsumerDef, start: SimTime) {
        let node = self.consumer_node(def);
        if start == SimTime::ZERO {
            self.world.add_node(def.name.clone(), node);
        } else {
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

/// The cluster layout: broker ids 1..=n (node ids 0..n), replicas placed as Kafka does.
fn layout(
    scenario: &Scenario,
    broker_ids: &[i32],
    rng: &mut crate::kernel::SimRng,
) -> ClusterMetadata {
    let brokers = broker_ids
        .iter()
        .enumerate()
        .map(|(i, id)| BrokerMetadata {
            id: *id,
            node: NodeId(i as u32),
        })
        .collect();
    let mut topics = BTreeMap::new();
    for t in &scenario.topics {
        let assignment =
            assign_replicas(broker_ids, t.partitions, t.replication_factor as usize, rng);
        let partitions = assignment
            .into_iter()
            .map(|replicas| PartitionLayout {
                leader: replicas[0],
                leader_epoch: 0,
                isr: replicas.clone(),
                replicas,
            })
            .collect();
        topics.insert(
            t.name.clone(),
            TopicLayout {
                name: t.name.clone(),
                partitions,
                config: t.config.clone(),
            },
        );
    }
    ClusterMetadata { brokers, topics }
}

impl Steppable for Simulation {
    fn steps_taken(&self) -> u64 {
        self.world.steps()
    }
    fn advance(&mut self) -> bool {
        self.step().is_some()
    }
}
