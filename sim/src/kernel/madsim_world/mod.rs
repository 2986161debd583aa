//! The same sans-IO actors on madsim: each node a madsim node with its own IP, its messages
//! over `madsim::net::Endpoint`, its timers madsim sleeps, under madsim's randomized scheduler.
//!
//! Why: our [`World`](super::World) is one deterministic order of events among many a real
//! cluster could see. Running the very same nodes here — where madsim picks the order of
//! simultaneous events at random, draws every latency itself, and adds its own small delays —
//! checks that no guarantee of the model depends on our scheduler's tie-breaking or on our
//! exact latency model (DESIGN §7). It is compiled only with `--cfg madsim`.
//!
//! The meaning of every kernel [`Command`] mirrors the World's (`world.rs`), with madsim's own
//! fault injection where it has one:
//!
//! - a crash kills the madsim node (`Handle::kill`: its tasks, hence its timers, its inbox
//!   and its socket are gone), calls `on_crash` keeping only its notes, and — for a process
//!   crash, not a power loss — resets every peer's connections one link latency later;
//!   messages that reach it until it restarts are dropped, refused for a process crash;
//! - a restart is `Handle::restart`: the node binds its socket again, then `on_start`;
//! - pause and resume are `Handle::pause`/`resume`: a paused node's tasks (its inbox, timers
//!   and inputs) wait, and run when it resumes;
//! - a cut clogs the madsim link (`NetSim::clog_link`), which drops what is sent over it;
//!   we also drop what arrives over it while it is cut, as the World does (madsim only looks
//!   at a link when a message is sent).
//!
//! What madsim does not give is made up here, the way the World does it: each directed link
//! is FIFO (Kafka runs on TCP; madsim's datagrams overtake each other), by the sequence
//! numbers of [`FifoLink`]; loss and duplication are drawn here, per message (madsim's loss
//! would be invisible to the FIFO layer); a dead process refuses connections.
//!
//! Every handler call becomes a [`TraceEvent`] as in the World, handed to an [`Observer`] (the
//! run's history) and folded into a stable trace hash.
//!
//! `net.rs` is the network (sending, the FIFO reassembly, delivery, connection resets and
//! madsim's configuration), `faults.rs` the kernel commands.

use super::command::{At, Command};
use super::fifo::FifoLink;
use super::hash::StableHasher;
use super::network::{LinkConfig, Network};
use super::node::{Actor, CrashKind, NodeId, Out, TimerOp};
use super::rng::SimRng;
use super::time::SimTime;
use super::trace::{EventKind, TraceEvent};
use super::world::NodeStatus;
use ::madsim::net::Endpoint;
use ::madsim::runtime::Handle;
use ::madsim::time::{Duration, Instant, TimeHandle};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

mod faults;
mod net;

use net::{Envelope, trip_bound_us};
pub use net::{MADSIM_MESSAGE_OVERHEAD_US, NetStats, madsim_config};

/// The port every node listens on.
const PORT: u16 = 9092;
/// The endpoint tag of model messages.
const TAG: u64 = 0;
/// Receive calls each node keeps waiting. madsim's `recv_from_raw` sleeps at least 1 ms
/// after taking a message (its minimum sleep), so one receive loop would handle one message
/// per millisecond; a broker gets more than that.
const RECEIVERS: usize = 32;

/// Sees every event of a madsim run, in the order they happen (the run's history).
pub trait Observer<A: Actor>: Default + Send + 'static {
    fn observe(&mut self, event: &TraceEvent<A>);
}

/// An actor that can run on madsim: it, and the messages, timers, inputs and notes it
/// hands over, move between madsim tasks.
pub trait MadsimActor:
    Actor<
        Msg: Send + Sync + 'static,
        Timer: Send + 'static,
        Input: Send + 'static,
        Note: Send + 'static,
    > + Send
    + 'static
{
}

impl<A> MadsimActor for A where
    A: Actor<
            Msg: Send + Sync + 'static,
            Timer: Send + 'static,
            Input: Send + 'static,
            Note: Send + 'static,
        > + Send
        + 'static
{
}

/// A node: the actor and what the kernel keeps for it, as in the World's `Slot`.
struct Host<A: Actor> {
    name: Arc<str>,
    actor: A,
    status: NodeStatus,
    crash_kind: Option<CrashKind>,
    /// Pending timers: key → token of the sleeping task that may fire it.
    timers: BTreeMap<A::Timer, u64>,
    rng: SimRng,
    madsim_id: ::madsim::task::NodeId,
    addr: SocketAddr,
    /// The bound socket of the current incarnation; `None` from a kill until it is bound
    /// again (madsim has no socket for it then, so it drops what is sent to it).
    endpoint: Option<Endpoint>,
    /// Inputs given while it was starting (running, socket not yet bound): handled right
    /// after its start, as the World handles them after the start event queued before.
    early_inputs: Vec<A::Input>,
}

impl<A: Actor> Host<A> {
    /// Its process is up: running, and started (socket bound, `on_start` called).
    fn is_up(&self) -> bool {
        self.status == NodeStatus::Running && self.endpoint.is_some()
    }
}

/// Everything the node tasks share. One lock: madsim runs one task at a time anyway.
struct Shared<A: Actor, O> {
    /// Itself, for the tasks it spawns (which do nothing once the run is gone).
    me: Weak<Mutex<Shared<A, O>>>,
    /// The madsim clock reading of our time zero.
    base: Instant,
    nodes: Vec<Host<A>>,
    /// Link settings and cuts, with the World's semantics (madsim keeps its own clogs too).
    network: Network<A::Msg>,
    links: BTreeMap<(NodeId, NodeId), FifoLink<Envelope<A::Msg>>>,
    /// Commands to apply, by (time, order given).
    agenda: BTreeMap<(SimTime, u64), Command<A>>,
    agenda_seq: u64,
    steps: u64,
    next_message: u64,
    next_token: u64,
    hasher: StableHasher,
    observer: O,
    stats: NetStats,
    /// The run's seed, from which each node's PRNG is derived ([`node_seed`]): node
    /// randomness follows the run's seed, never madsim's global generator.
    node_seed: u64,
    /// The longest trip madsim's configuration allows, in µs.
    trip_bound_us: u64,
}

type SharedRef<A, O> = Arc<Mutex<Shared<A, O>>>;
type WeakRef<A, O> = Weak<Mutex<Shared<A, O>>>;

/// Node `id`'s PRNG seed: the run's seed mixed with the node's index (a SplitMix64 step), so
/// every node draws its own stream and a node added later does not shift the others'.
fn node_seed(run_seed: u64, id: NodeId) -> u64 {
    let mut z = run_seed.wrapping_add((u64::from(id.0) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn lock<A: Actor, O>(shared: &SharedRef<A, O>) -> MutexGuard<'_, Shared<A, O>> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A run of actors on madsim. Create it, and drive it, inside a madsim runtime. See the
/// module docs.
pub struct MadsimWorld<A: Actor, O> {
    shared: SharedRef<A, O>,
    setup_rng: SimRng,
}

impl<A: Actor, O> std::fmt::Debug for MadsimWorld<A, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MadsimWorld").finish_non_exhaustive()
    }
}

impl<A, O> MadsimWorld<A, O>
where
    A: MadsimActor,
    O: Observer<A>,
{
    /// An empty run whose set-up draws come from a PRNG seeded with `setup_seed`.
    pub fn new(default_link: LinkConfig, setup_seed: u64) -> Self {
        let time = TimeHandle::current();
        let shared = |me: &WeakRef<A, O>| Shared {
            me: me.clone(),
            base: time.now_instant() - time.elapsed(),
            nodes: Vec::new(),
            network: Network::new(default_link),
            links: BTreeMap::new(),
            agenda: BTreeMap::new(),
            agenda_seq: 0,
            steps: 0,
            next_message: 0,
            next_token: 0,
            hasher: StableHasher::new(),
            observer: O::default(),
            stats: NetStats::default(),
            node_seed: setup_seed,
            trip_bound_us: trip_bound_us(&default_link),
        };
        MadsimWorld {
            shared: Arc::new_cyclic(|me| Mutex::new(shared(me))),
            setup_rng: SimRng::new(setup_seed),
        }
    }

    // ----- getters -------------------------------------------------------------------------

    pub fn setup_rng(&mut self) -> &mut SimRng {
        &mut self.setup_rng
    }

    pub fn now(&self) -> SimTime {
        now()
    }

    /// Handler calls so far.
    pub fn steps(&self) -> u64 {
        lock(&self.shared).steps
    }

    /// The stable hash of every event so far, as `World::trace_hash`.
    pub fn trace_hash(&self) -> u64 {
        lock(&self.shared).hasher.finish()
    }

    pub fn net_stats(&self) -> NetStats {
        lock(&self.shared).stats
    }

    pub fn node_names(&self) -> Vec<String> {
        let shared = lock(&self.shared);
        shared.nodes.iter().map(|h| h.name.to_string()).collect()
    }

    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        let shared = lock(&self.shared);
        let index = shared.nodes.iter().position(|h| &*h.name == name)?;
        Some(NodeId(index as u32))
    }

    pub fn inspect<R>(&self, id: NodeId, look: impl FnOnce(&A) -> R) -> Option<R> {
        let shared = lock(&self.shared);
        shared.nodes.get(id.0 as usize).map(|h| look(&h.actor))
    }

    /// Ends the run: every node's actor as it is now, and the observer. Kills every madsim
    /// node and lets madsim drop their tasks: a task still waiting when the runtime is dropped
    /// is never freed (its waker, held by madsim's timer or a socket's mailbox, keeps it and
    /// what it holds alive), which leaked some 30 MB a run.
    pub async fn finish(self) -> (Vec<A>, O) {
        let (actors, observer, base, end) = {
            let mut shared = lock(&self.shared);
            for host in &shared.nodes {
                Handle::current().kill(host.madsim_id);
            }
            let actors = shared.nodes.iter().map(|h| h.actor.clone()).collect();
            let observer = std::mem::take(&mut shared.observer);
            (actors, observer, shared.base, now())
        };
        // The killed tasks were woken; madsim drops them when it next runs the ready ones.
        sleep_until(base, end.plus_micros(1)).await;
        (actors, observer)
    }

    // ----- inputs --------------------------------------------------------------------------

    /// Adds a node on a new madsim node; it binds its socket, then starts.
    pub fn add_node(&mut self, name: impl Into<String>, actor: A) -> NodeId {
        Shared::add_node(&self.shared, name.into(), actor)
    }

    /// Schedules a command. Step stamps exist only in interactive play, which never runs on
    /// madsim: one applies now.
    pub fn schedule(&mut self, at: At, command: Command<A>) {
        let mut shared = lock(&self.shared);
        let at = match at {
            At::Time(t) => t.max(now()),
            At::Step(_) => now(),
        };
        shared.agenda_seq += 1;
        let key = (at, shared.agenda_seq);
        shared.agenda.insert(key, command);
    }

    /// Takes the next scheduled command due at or before `until`.
    pub fn next_command(&mut self, until: SimTime) -> Option<(SimTime, Command<A>)> {
        let mut shared = lock(&self.shared);
        let entry = shared.agenda.first_entry()?;
        if entry.key().0 > until {
            return None;
        }
        let ((at, _), command) = entry.remove_entry();
        Some((at, command))
    }

    /// Sleeps (the calling madsim task) until time `t`.
    pub async fn sleep_until(&self, t: SimTime) {
        let base = lock(&self.shared).base;
        sleep_until(base, t).await;
    }

    /// Applies a command now.
    pub fn apply(&mut self, command: Command<A>) {
        Shared::apply_command(&self.shared, command);
    }

    /// Runs until `end` (the calling task is the supervisor): applies each scheduled command
    /// at its time, telling `joined` the name of each node a command added (which may
    /// schedule more commands).
    pub async fn run_until(&mut self, end: SimTime, mut joined: impl FnMut(&mut Self, &str)) {
        while let Some((at, command)) = self.next_command(end) {
            self.sleep_until(at).await;
            let name = match &command {
                Command::AddNode { name, .. } => Some(name.clone()),
                _ => None,
            };
            self.apply(command);
            if let Some(name) = name {
                joined(self, &name);
            }
        }
        self.sleep_until(end).await;
    }
}

/// The current time: madsim's clock, to the microsecond.
fn now() -> SimTime {
    SimTime::from_micros(TimeHandle::current().elapsed().as_micros() as u64)
}

/// Sleeps until exactly `t` (madsim's `sleep_until` would sleep at least 1 ms). A time too
/// far away to represent never comes.
async fn sleep_until(base: Instant, t: SimTime) {
    let Some(deadline) = base.checked_add(Duration::from_micros(t.as_micros())) else {
        return std::future::pending().await;
    };
    let mut sleep = ::madsim::time::sleep(Duration::ZERO);
    Pin::new(&mut sleep).reset(deadline);
    sleep.await;
}

/// Spawns `task` on the madsim node of `node` (its current incarnation).
fn spawn_on<A: Actor>(host: &Host<A>, task: impl Future<Output = ()> + Send + 'static) {
    if let Some(node) = Handle::current().get_node(host.madsim_id) {
        node.spawn(task);
    }
}

impl<A, O> Shared<A, O>
where
    A: MadsimActor,
    O: Observer<A>,
{
    // ----- node life -----------------------------------------------------------------------

    fn add_node(this: &SharedRef<A, O>, name: String, actor: A) -> NodeId {
        let mut shared = lock(this);
        let id = NodeId(shared.nodes.len() as u32);
        let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0001 + id.0));
        let init = {
            let me = Arc::downgrade(this);
            move || host_main(me.clone(), id)
        };
        let madsim_node = Handle::current()
            .create_node()
            .name(name.clone())
            .ip(ip)
            .init(init)
            .build();
        let rng = SimRng::new(node_seed(shared.node_seed, id));
        shared.nodes.push(Host {
            name: Arc::from(name),
            actor,
            status: NodeStatus::Running,
            crash_kind: None,
            timers: BTreeMap::new(),
            rng,
            madsim_id: madsim_node.id(),
            addr: SocketAddr::new(ip, PORT),
            endpoint: None,
            early_inputs: Vec::new(),
        });
        id
    }

    /// The socket is bound: the node's process is up and starts.
    fn started(&mut self, node: NodeId, endpoint: Endpoint) {
        let host = &mut self.nodes[node.0 as usize];
        host.endpoint = Some(endpoint);
        let early = std::mem::take(&mut host.early_inputs);
        if host.status == NodeStatus::Running {
            self.dispatch(node, EventKind::Start, true, |a, out| a.on_start(out));
            for input in early {
                self.input(node, input);
            }
        }
    }

    // ----- handlers and their effects ------------------------------------------------------

    /// Runs one handler of `node` and applies its effects (only its notes when `!alive`),
    /// as `World::dispatch` does.
    fn dispatch(
        &mut self,
        node: NodeId,
        kind: EventKind<A>,
        alive: bool,
        handler: impl FnOnce(&mut A, &mut Out<'_, A>),
    ) {
        let now = now();
        let (mut sends, mut timers, mut notes) = (Vec::new(), Vec::new(), Vec::new());
        let host = &mut self.nodes[node.0 as usize];
        let mut out = Out::new(
            now,
            node,
            &mut host.rng,
            &mut sends,
            &mut timers,
            &mut notes,
        );
        handler(&mut host.actor, &mut out);
        let mut event = self.event(Some(node), kind);
        if alive {
            for op in timers {
                self.timer_op(node, op);
            }
            for (to, msg) in sends {
                self.send(node, to, msg, &mut event.net);
            }
        }
        event.notes = notes;
        self.record(event);
    }

    fn event(&self, node: Option<NodeId>, kind: EventKind<A>) -> TraceEvent<A> {
        TraceEvent {
            step: self.steps,
            time_us: now().as_micros(),
            node,
            kind,
            net: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn record(&mut self, event: TraceEvent<A>) {
        self.steps += 1;
        self.hasher.write_value(&event);
        self.observer.observe(&event);
    }

    fn timer_op(&mut self, node: NodeId, op: TimerOp<A::Timer>) {
        match op {
            TimerOp::Set { timer, at } => {
                self.next_token += 1;
                let (token, base, me) = (self.next_token, self.base, self.me.clone());
                let host = &mut self.nodes[node.0 as usize];
                host.timers.insert(timer.clone(), token);
                spawn_on(host, async move {
                    sleep_until(base, at).await;
                    if let Some(shared) = me.upgrade() {
                        lock(&shared).fire(node, timer, token);
                    }
                });
            }
            TimerOp::Cancel(timer) => {
                self.nodes[node.0 as usize].timers.remove(&timer);
            }
        }
    }

    fn fire(&mut self, node: NodeId, timer: A::Timer, token: u64) {
        let host = &mut self.nodes[node.0 as usize];
        if host.timers.get(&timer) != Some(&token) || host.status != NodeStatus::Running {
            return; // replaced or cancelled
        }
        host.timers.remove(&timer);
        let kind = EventKind::Timer(timer.clone());
        self.dispatch(node, kind, true, |a, out| a.on_timer(timer, out));
    }
}

/// A node's process: bind the socket, start, then receive for ever (until killed).
async fn host_main<A, O>(me: WeakRef<A, O>, node: NodeId)
where
    A: MadsimActor,
    O: Observer<A>,
{
    let Some(addr) = me.upgrade().map(|s| lock(&s).nodes[node.0 as usize].addr) else {
        return;
    };
    let endpoint = match Endpoint::bind(addr).await {
        Ok(endpoint) => endpoint,
        Err(e) => panic!("node {node} cannot bind {addr}: {e}"),
    };
    let Some(shared) = me.upgrade() else { return };
    lock(&shared).started(node, endpoint.clone());
    for _ in 1..RECEIVERS {
        ::madsim::task::spawn(receive(me.clone(), node, endpoint.clone()));
    }
    receive(me, node, endpoint).await;
}

/// One receive loop of a node.
async fn receive<A, O>(me: WeakRef<A, O>, node: NodeId, endpoint: Endpoint)
where
    A: MadsimActor,
    O: Observer<A>,
{
    while let Ok((payload, _)) = endpoint.recv_from_raw(TAG).await {
        let Some(shared) = me.upgrade() else { return };
        match payload.downcast::<Envelope<A::Msg>>() {
            Ok(envelope) => lock(&shared).accept(node, *envelope),
            Err(_) => debug_assert!(false, "a foreign payload on the model's tag"),
        }
    }
}
