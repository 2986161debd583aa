//! The director: turns a scenario into nodes and kernel commands on a stage.
//!
//! A run needs the same cast and the same timeline whichever engine plays it: our stepping
//! [`World`](crate::kernel::World), or the madsim cross-check (`crate::madsim`), which runs
//! the same nodes as madsim tasks. So the construction of a run — brokers with their bootstrap
//! metadata, the controller, the clients, the scenario's timeline — and the resolution of
//! user [`Action`]s (which name nodes) into kernel [`Command`]s (which use node ids) live here,
//! written against the small [`Stage`] trait both engines implement. A [`Simulation`]
//! (`super::Simulation`) is a `Director` on a `World`.

use crate::broker::Broker;
use crate::controller::Controller;
use crate::kernel::{At, Command, CrashKind, MessageId, NodeId, SimRng, SimTime};
use crate::log::LogConfig;
use crate::metadata::{MetadataImage, assign_replicas};
use crate::node::{Input, KafkaNode};
use crate::protocol::{
    LeaderRecoveryState, MetadataRecord, NO_LEADER, PartitionRecord, TopicPartition,
};
use crate::scenario::{
    Action, CONTROLLER_NAME, ConsumerDef, ProducerDef, Scenario, ScenarioError, TopicDef,
    check_partition_increase, consumer_def_checked, producer_def_checked,
};
use std::collections::BTreeMap;
use std::sync::Arc;

use super::{ActionError, StampedAction};

/// Where a run's nodes and commands go: the engine that will play them.
pub trait Stage {
    /// The PRNG for set-up choices (replica placement), drawn before the first event.
    fn setup_rng(&mut self) -> &mut SimRng;
    /// Adds a node, which starts at once; node ids are given in the order nodes are added.
    fn add_node(&mut self, name: String, node: KafkaNode) -> NodeId;
    fn schedule(&mut self, at: At, command: Command<KafkaNode>);
    /// The name of every node ever added, by id.
    fn node_names(&self) -> Vec<String>;
    fn node_id(&self, name: &str) -> Option<NodeId>;
    /// Looks at a node (`None` when there is no such node).
    fn inspect<R>(&self, id: NodeId, look: impl FnOnce(&KafkaNode) -> R) -> Option<R>;
}

/// A client that will join the run: when, and what kind of node it is.
#[derive(Clone, Debug)]
struct PlannedNode {
    joins: At,
    /// `KafkaNode::role`.
    role: &'static str,
}

/// A scenario's cast and timeline on a [`Stage`]. See the module docs.
#[derive(Clone, Debug)]
pub struct Director {
    scenario: Arc<Scenario>,
    controller: NodeId,
    broker_nodes: Vec<NodeId>,
    /// The largest partition count each scheduled `add-partitions` asked for, by topic.
    planned_partitions: BTreeMap<Arc<str>, i32>,
    /// Clients scheduled to join the run (a consumer with a later `start`, an `add-producer`
    /// or `add-consumer` action), by name, until they do.
    planned_nodes: BTreeMap<String, PlannedNode>,
    /// Actions that name a planned client, in the order they were given: node ids exist only
    /// once a node is on the stage, so each is resolved when the last client it names joins.
    awaiting_nodes: Vec<StampedAction>,
}

impl Director {
    /// Builds the scenario's cluster and clients on `stage` and schedules its timeline.
    pub fn build(scenario: Arc<Scenario>, stage: &mut impl Stage) -> Director {
        let broker_ids: Vec<i32> = (1..=scenario.brokers as i32).collect();
        // Node ids: brokers first (broker i is node i-1), then the controller, then clients.
        let broker_nodes: Vec<NodeId> = (0..broker_ids.len() as u32).map(NodeId).collect();
        let controller = NodeId(broker_ids.len() as u32);
        let bootstrap = bootstrap_records(&scenario, &broker_ids, &broker_nodes, stage.setup_rng());
        add_brokers(&scenario, &broker_ids, controller, &bootstrap, stage);
        let controller_node = controller_node(&scenario, &broker_ids, bootstrap);
        let added = stage.add_node(CONTROLLER_NAME.to_string(), controller_node);
        debug_assert_eq!(added, controller);
        let mut director = Director {
            scenario: scenario.clone(),
            controller,
            broker_nodes,
            planned_partitions: BTreeMap::new(),
            planned_nodes: BTreeMap::new(),
            awaiting_nodes: Vec::new(),
        };
        for p in &scenario.producers {
            let node = director.producer_node(p);
            stage.add_node(p.name.clone(), node);
        }
        for c in &scenario.consumers {
            director.add_consumer_at(stage, c, SimTime::from_micros(c.start_us));
        }
        for timed in &scenario.timeline {
            // The loader checked every timeline action against the nodes there at its time.
            if let Err(e) = director.resolve(stage, timed.at, &timed.action) {
                debug_assert!(false, "validated timeline action failed: {e}");
            }
        }
        director
    }

    // ----- getters -----

    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }

    /// The controller's node id.
    pub fn controller(&self) -> NodeId {
        self.controller
    }

    pub fn broker_node(&self, broker_id: i32) -> Option<NodeId> {
        let index = usize::try_from(broker_id).ok()?.checked_sub(1)?;
        self.broker_nodes.get(index).copied()
    }

    // ----- actions -----

    /// Resolves `action` into kernel commands on `stage`, applying at `at`.
    pub fn resolve(
        &mut self,
        stage: &mut impl Stage,
        at: At,
        action: &Action,
    ) -> Result<(), ActionError> {
        if self.awaits_planned_node(stage, at, action)? {
            self.awaiting_nodes.push(StampedAction {
                at,
                action: action.clone(),
            });
            return Ok(());
        }
        self.check_roles(stage, action)?;
        let node = |name: &str| node_named(stage, name);
        let command = match action {
            Action::Crash { node: n } => Command::Crash(node(n)?, CrashKind::Crash),
            Action::PowerLoss { node: n } => Command::Crash(node(n)?, CrashKind::PowerLoss),
            Action::Restart { node: n } => Command::Restart(node(n)?),
            Action::Pause { node: n } => Command::Pause(node(n)?),
            Action::Resume { node: n } => Command::Resume(node(n)?),
            Action::Cut { from, to, one_way } => Command::Cut {
                from: node(from)?,
                to: node(to)?,
                both: !one_way,
            },
            Action::Heal { from, to, one_way } => Command::Heal {
                from: node(from)?,
                to: node(to)?,
                both: !one_way,
            },
            Action::HealAll {} => Command::HealAll,
            Action::DropMessage { id } => Command::DropMessage(MessageId(*id)),
            Action::Isolate { node: n } => return isolate(stage, at, n),
            Action::Produce { producer, count } => {
                Command::Input(node(producer)?, Input::Produce { count: *count })
            }
            Action::Seek {
                consumer,
                topic,
                partition,
                offset,
            } => {
                let id = node(consumer)?;
                let tp = TopicPartition::new(Arc::<str>::from(topic.as_str()), *partition);
                Command::Input(
                    id,
                    Input::Seek {
                        tp,
                        offset: *offset,
                    },
                )
            }
            Action::RemoveClient { node: n } => Command::RemoveNode(node(n)?),
            Action::AddProducer(spec) => {
                let topics = self.planned_topics();
                let def = producer_def_checked(spec, &topics).map_err(describe)?;
                self.check_free(stage, &def.name)?;
                self.plan_node(&def.name, at, "producer");
                Command::AddNode {
                    name: def.name.clone(),
                    node: Box::new(self.producer_node(&def)),
                }
            }
            Action::AddConsumer(spec) => {
                let topics = self.planned_topics();
                let def = consumer_def_checked(spec, &topics).map_err(describe)?;
                self.check_free(stage, &def.name)?;
                self.plan_node(&def.name, at, "consumer");
                Command::AddNode {
                    name: def.name.clone(),
                    node: Box::new(self.consumer_node(&def)),
                }
            }
            Action::AddPartitions { topic, partitions } => {
                return self.add_partitions(stage, at, topic, *partitions);
            }
        };
        stage.schedule(at, command);
        Ok(())
    }

    /// `name` is on the stage now: the actions that waited only for it get their node ids.
    pub fn node_joined(&mut self, stage: &mut impl Stage, name: &str) {
        self.planned_nodes.remove(name);
        let (ready, waiting): (Vec<StampedAction>, Vec<StampedAction>) =
            std::mem::take(&mut self.awaiting_nodes)
                .into_iter()
                .partition(|s| {
                    s.action
                        .node_refs()
                        .iter()
                        .all(|(_, n)| stage.node_id(n).is_some())
                });
        self.awaiting_nodes = waiting;
        for s in ready {
            // Checked when it was given, against the client's planned time and kind.
            if let Err(e) = self.resolve(stage, s.at, &s.action) {
                debug_assert!(false, "an action waiting for `{name}` failed: {e}");
            }
        }
    }

    /// CreatePartitions, sent to the controller as an operator's input. Refused here if it
    /// can already be seen to fail: an unknown topic, or no growth over the count the
    /// controller has now (counts never shrink). Otherwise the controller decides when it
    /// applies; a controller that is down then ignores it (see `Controller::on_input`).
    fn add_partitions(
        &mut self,
        stage: &mut impl Stage,
        at: At,
        topic: &str,
        count: i32,
    ) -> Result<(), ActionError> {
        let Some(def) = self.scenario.topic(topic) else {
            let known: Vec<&str> = self.scenario.topics.iter().map(|t| &*t.name).collect();
            return Err(ActionError(format!(
                "`topic`: unknown topic `{topic}`; defined topics: {}",
                known.join(", ")
            )));
        };
        let name = def.name.clone();
        let current = stage
            .inspect(self.controller, |n| {
                let parts = n.as_controller()?.image().topics.get(&name)?;
                Some(parts.len() as i32)
            })
            .flatten()
            .unwrap_or(def.partitions);
        check_partition_increase(topic, current, count)
            .map_err(|m| ActionError(format!("`partitions`: {m}")))?;
        let planned = self.planned_partitions.entry(name.clone()).or_insert(count);
        *planned = (*planned).max(count);
        stage.schedule(
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

    /// The kind of node `name` is, whether it is on the stage or planned to join.
    fn role(&self, stage: &impl Stage, name: &str) -> Option<&'static str> {
        match stage.node_id(name) {
            Some(id) => stage.inspect(id, KafkaNode::role),
            None => self.planned_nodes.get(name).map(|p| p.role),
        }
    }

    /// Refuses an action on a kind of node it cannot act on (`produce` on a consumer,
    /// `remove-client` on a broker).
    fn check_roles(&self, stage: &impl Stage, action: &Action) -> Result<(), ActionError> {
        let Some(roles) = action.node_roles() else {
            return Ok(());
        };
        for (_, name) in action.node_refs() {
            if let Some(role) = self.role(stage, name)
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
    fn awaits_planned_node(
        &self,
        stage: &impl Stage,
        at: At,
        action: &Action,
    ) -> Result<bool, ActionError> {
        let mut awaits = false;
        for (_, name) in action.node_refs() {
            if stage.node_id(name).is_some() {
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
            self.check_roles(stage, action)?;
        }
        Ok(awaits)
    }

    fn plan_node(&mut self, name: &str, joins: At, role: &'static str) {
        self.planned_nodes
            .insert(name.to_string(), PlannedNode { joins, role });
    }

    fn check_free(&self, stage: &impl Stage, name: &str) -> Result<(), ActionError> {
        if stage.node_id(name).is_some() || self.planned_nodes.contains_key(name) {
            return Err(ActionError(format!("the name `{name}` is already taken")));
        }
        Ok(())
    }

    fn producer_node(&self, def: &ProducerDef) -> KafkaNode {
        KafkaNode::Producer(Box::new(crate::clients::Producer::new(
            def.name.as_str(),
            def.config.clone(),
            def.workload.clone(),
            self.broker_nodes.clone(),
        )))
    }

    fn consumer_node(&self, def: &ConsumerDef) -> KafkaNode {
        KafkaNode::Consumer(Box::new(crate::clients::Consumer::new(
            def.name.as_str(),
            def.config.clone(),
            def.subscription.clone(),
            def.app,
            self.broker_nodes.clone(),
        )))
    }

    /// A consumer from the scenario: added when the run starts, or later if it has a `start`.
    fn add_consumer_at(&mut self, stage: &mut impl Stage, def: &ConsumerDef, start: SimTime) {
        let node = self.consumer_node(def);
        if start == SimTime::ZERO {
            stage.add_node(def.name.clone(), node);
        } else {
            self.plan_node(&def.name, At::Time(start), "consumer");
            stage.schedule(
                At::Time(start),
                Command::AddNode {
                    name: def.name.clone(),
                    node: Box::new(node),
                },
            );
        }
    }
}

/// The node called `name`, or an error that lists the nodes there are.
fn node_named(stage: &impl Stage, name: &str) -> Result<NodeId, ActionError> {
    stage.node_id(name).ok_or_else(|| {
        ActionError(format!(
            "unknown node `{name}`; nodes: {}",
            stage.node_names().join(", ")
        ))
    })
}

/// Cuts `name` off from every other node.
fn isolate(stage: &mut impl Stage, at: At, name: &str) -> Result<(), ActionError> {
    let target = node_named(stage, name)?;
    let others: Vec<NodeId> = (0..stage.node_names().len() as u32)
        .map(NodeId)
        .filter(|id| *id != target)
        .collect();
    for other in others {
        stage.schedule(
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

fn describe(e: ScenarioError) -> ActionError {
    let key = e.key.map(|k| format!("`{k}`: ")).unwrap_or_default();
    ActionError(format!("{key}{}", e.message))
}

/// One broker per id, each with its per-topic log configs and the bootstrap metadata.
fn add_brokers(
    scenario: &Scenario,
    broker_ids: &[i32],
    controller: NodeId,
    bootstrap: &[MetadataRecord],
    stage: &mut impl Stage,
) {
    let mut image = MetadataImage::default();
    for record in bootstrap {
        image.apply(record);
    }
    let offsets_topic = scenario.offsets_topic_def();
    for id in broker_ids {
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
            controller,
            image.clone(),
            epoch,
        );
        stage.add_node(
            Scenario::broker_name(*id),
            KafkaNode::Broker(Box::new(broker)),
        );
    }
}

/// The controller, which starts from the bootstrap metadata log.
fn controller_node(
    scenario: &Scenario,
    broker_ids: &[i32],
    bootstrap: Vec<MetadataRecord>,
) -> KafkaNode {
    let offsets_topic = scenario.offsets_topic_def();
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
    KafkaNode::Controller(Box::new(controller))
}

/// The metadata log of a cluster that is already running when the run begins: every broker
/// registered and unfenced, every topic created with its replicas placed (explicitly, or as
/// Kafka does), `replicas[0]` leading in epoch 0 with the full ISR.
fn bootstrap_records(
    scenario: &Scenario,
    broker_ids: &[i32],
    broker_nodes: &[NodeId],
    rng: &mut SimRng,
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
