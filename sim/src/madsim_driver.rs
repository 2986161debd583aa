//! The madsim cross-check of a scenario: the same brokers, controller and clients, built by
//! the same [`Director`] as a [`Simulation`](crate::Simulation), run as madsim tasks
//! ([`MadsimWorld`]), and summarized by the same [`History`] and [`Summary`].
//!
//! Why: a scenario's `[expect]` claims a guarantee (`lost_write = 0`). If it held on our World
//! only because of how the World orders simultaneous events or draws latencies, it would be a
//! property of the simulator, not of Kafka. madsim orders ready tasks at random and draws
//! latencies itself, so the expectations are checked again here over many madsim seeds
//! (`sim/tests/madsim_crosscheck.rs`). Compiled only with `--cfg madsim` (DESIGN §7).

use crate::history::{History, Summary};
use crate::kernel::madsim_world::{MadsimWorld, NetStats, Observer, madsim_config};
use crate::kernel::{At, Command, NodeId, SimRng, SimTime, TraceEvent};
use crate::node::KafkaNode;
use crate::scenario::Scenario;
use crate::simulation::{Director, Stage, final_logs};
use std::sync::Arc;

/// What a madsim run of a scenario came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MadsimRun {
    pub summary: Summary,
    /// The stable hash of every event, as `World::trace_hash` (for determinism checks: it
    /// is not comparable with the World's).
    pub trace_hash: u64,
    /// Handler calls.
    pub steps: u64,
    /// How madsim's network behaved.
    pub net: NetStats,
}

impl Observer<KafkaNode> for History {
    fn observe(&mut self, event: &TraceEvent<KafkaNode>) {
        self.absorb(event);
    }
}

type KafkaMadsim = MadsimWorld<KafkaNode, History>;

/// The madsim run as a director's stage.
impl Stage for KafkaMadsim {
    fn setup_rng(&mut self) -> &mut SimRng {
        MadsimWorld::setup_rng(self)
    }
    fn add_node(&mut self, name: String, node: KafkaNode) -> NodeId {
        MadsimWorld::add_node(self, name, node)
    }
    fn schedule(&mut self, at: At, command: Command<KafkaNode>) {
        MadsimWorld::schedule(self, at, command);
    }
    fn node_names(&self) -> Vec<String> {
        MadsimWorld::node_names(self)
    }
    fn node_id(&self, name: &str) -> Option<NodeId> {
        MadsimWorld::node_id(self, name)
    }
    fn inspect<R>(&self, id: NodeId, look: impl FnOnce(&KafkaNode) -> R) -> Option<R> {
        MadsimWorld::inspect(self, id, look)
    }
}

/// Runs `scenario` to its end on a fresh madsim runtime seeded with `seed`, whose network
/// approximates the scenario's link (see [`madsim_config`]).
pub fn run(scenario: Arc<Scenario>, seed: u64) -> MadsimRun {
    let runtime =
        ::madsim::runtime::Runtime::with_seed_and_config(seed, madsim_config(&scenario.link));
    runtime.block_on(play(scenario, seed))
}

/// The supervisor: builds the run, applies the timeline's commands at their times, and
/// summarizes the run at the scenario's end. Runs inside a madsim runtime.
/// The world's own PRNGs (set-up draws, each node's) are seeded from `seed` too, explicitly:
/// madsim's scheduler is the only randomness that comes from madsim.
async fn play(scenario: Arc<Scenario>, seed: u64) -> MadsimRun {
    let mut world = KafkaMadsim::new(scenario.link, seed);
    let mut director = Director::build(scenario.clone(), &mut world);
    let end = SimTime::from_micros(scenario.duration_us);
    world
        .run_until(end, |world, name| director.node_joined(world, name))
        .await;
    let (trace_hash, steps, net) = (world.trace_hash(), world.steps(), world.net_stats());
    let (actors, history) = world.finish().await;
    MadsimRun {
        summary: summarize(&director, &actors, &history),
        trace_hash,
        steps,
        net,
    }
}

/// The summary from the history and the nodes' final state, as `Simulation::summary`.
fn summarize(director: &Director, actors: &[KafkaNode], history: &History) -> Summary {
    let Some(controller) = actors[director.controller().0 as usize].as_controller() else {
        unreachable!("the director puts the controller at its node id");
    };
    let broker = |id: i32| {
        let node = director.broker_node(id)?;
        actors.get(node.0 as usize)?.as_broker()
    };
    let logs = final_logs(controller.image(), broker);
    Summary::compute(history, logs.iter().map(|(tp, log)| (tp, *log)))
}
