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

use super::command::{At, Command};
use super::fifo::FifoLink;
use super::hash::StableHasher;
use super::network::{DropReason, LinkConfig, MessageId, Network};
use super::node::{Actor, CrashKind, MessageKind, NodeId, Out, TimerOp};
use super::rng::SimRng;
use super::time::SimTime;
use super::trace::{CommandNote, EventKind, NetNote, TraceEvent};
use super::world::NodeStatus;
use ::madsim::net::{Endpoint, NetSim};
use ::madsim::runtime::Handle;
use ::madsim::time::{Duration, Instant, TimeHandle};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

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

/// What goes over the madsim network: a model message with its link sequence number
/// (`None` when the link was cut as it was sent: madsim's clog drops it).
#[derive(Debug)]
struct Envelope<M> {
    id: MessageId,
    from: NodeId,
    seq: Option<u64>,
    /// When the sender's handler sent it, to measure what the trip took.
    sent_at: SimTime,
    msg: M,
}

/// What the engine saw of madsim's network in a run: how far it is from our World's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Messages that reached their receiver's socket.
    pub arrived: u64,
    /// Arrivals ahead of an earlier message of their link (madsim reordered them; the
    /// FIFO layer held them until their turn).
    pub overtook: u64,
    /// Numbered messages that never reached the network (cut, dead receiver or sender).
    pub written_off: u64,
    /// The longest trip from the sender's handler to the receiver's socket, in µs.
    pub max_trip_us: u64,
    /// Trips longer than madsim's latency range plus its overhead and 1 ms: congestion in
    /// the engine (its receive loops all busy), which our World does not have.
    pub slow_trips: u64,
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
    /// The longest trip madsim's configuration allows, in µs.
    trip_bound_us: u64,
}

type SharedRef<A, O> = Arc<Mutex<Shared<A, O>>>;
type WeakRef<A, O> = Weak<Mutex<Shared<A, O>>>;

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
    A: Actor + Send + 'static,
    A::Msg: Send + Sync + 'static,
    A::Timer: Send + 'static,
    A::Input: Send + 'static,
    A::Note: Send + 'static,
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
    A: Actor + Send + 'static,
    A::Msg: Send + Sync + 'static,
    A::Timer: Send + 'static,
    A::Input: Send + 'static,
    A::Note: Send + 'static,
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
        shared.nodes.push(Host {
            name: Arc::from(name),
            actor,
            status: NodeStatus::Running,
            crash_kind: None,
            timers: BTreeMap::new(),
            rng: SimRng::new(::madsim::rand::random()),
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

    // ----- the network ---------------------------------------------------------------------

    /// Offers a message to the link `from → to`: drawn lost or duplicated as the World's
    /// `Network::send` does, numbered for the link's order, and handed to madsim by a task
    /// of the sender.
    fn send(&mut self, from: NodeId, to: NodeId, msg: A::Msg, net: &mut Vec<NetNote>) {
        let id = self.message_id();
        let api = msg.kind();
        let link = self.network.link(from, to);
        let cut = self.network.is_cut(from, to);
        let rng = &mut self.nodes[from.0 as usize].rng;
        if !cut && rng.chance(link.loss) {
            net.push(NetNote::Dropped {
                id,
                to,
                api,
                reason: DropReason::Lost,
            });
            return;
        }
        let copy = !cut && rng.chance(link.duplicate);
        let deliver_at_us = now().as_micros() + link.latency_us;
        if cut {
            let reason = DropReason::LinkCut;
            net.push(NetNote::Dropped {
                id,
                to,
                api,
                reason,
            });
        } else {
            net.push(NetNote::Sent {
                id,
                to,
                api,
                deliver_at_us,
            });
        }
        if copy {
            let copy_id = self.message_id();
            net.push(NetNote::Duplicated {
                id,
                copy: copy_id,
                deliver_at_us,
            });
            self.post(from, to, copy_id, msg.clone(), false);
        }
        self.post(from, to, id, msg, cut);
    }

    fn message_id(&mut self) -> MessageId {
        self.next_message += 1;
        MessageId(self.next_message)
    }

    fn post(&mut self, from: NodeId, to: NodeId, id: MessageId, msg: A::Msg, cut: bool) {
        let seq = (!cut).then(|| self.links.entry((from, to)).or_default().issue());
        let sender = &self.nodes[from.0 as usize];
        let Some(endpoint) = sender.endpoint.clone() else {
            debug_assert!(false, "{} sent before its socket was bound", sender.name);
            return;
        };
        let (dst, me) = (self.nodes[to.0 as usize].addr, self.me.clone());
        let sent_at = now();
        let envelope = Envelope {
            id,
            from,
            seq,
            sent_at,
            msg,
        };
        spawn_on(sender, async move {
            let api = envelope.msg.kind();
            // `send_to_raw` never fails: a message madsim cannot deliver is dropped silently.
            let _ = endpoint.send_to_raw(dst, TAG, Box::new(envelope)).await;
            // madsim decided the message's fate in this same poll: look at what it saw.
            if let Some(shared) = me.upgrade() {
                lock(&shared).after_send(from, to, id, api, seq);
            }
        });
    }

    /// Right after madsim sent a numbered message: it is on the network unless the link was
    /// cut or the receiver had no socket (dead), and then it is written off.
    fn after_send(
        &mut self,
        from: NodeId,
        to: NodeId,
        id: MessageId,
        api: &'static str,
        seq: Option<u64>,
    ) {
        let Some(seq) = seq else { return };
        let cut = self.network.is_cut(from, to);
        let link = self.links.entry((from, to)).or_default();
        if !cut && self.nodes[to.0 as usize].endpoint.is_some() {
            link.sent(seq);
            return;
        }
        link.write_off(seq);
        self.stats.written_off += 1;
        self.wake_receiver(to);
        if !cut {
            // It reached a node that is down (the World records the drop at the receiver).
            let kind = EventKind::Dropped {
                id,
                from,
                api,
                reason: DropReason::NodeDown,
            };
            let event = self.event(Some(to), kind);
            self.record(event);
            self.refuse_connection(to, from);
        }
    }

    /// A message arrived at `to`'s socket: into the link's reassembly, then hand over what
    /// is now in order.
    fn accept(&mut self, to: NodeId, envelope: Envelope<A::Msg>) {
        let (from, id, api) = (envelope.from, envelope.id, envelope.msg.kind());
        self.count_trip(envelope.sent_at);
        let seq = envelope.seq;
        let arrived = match envelope.seq {
            Some(seq) => self
                .links
                .entry((from, to))
                .or_default()
                .arrive(seq, envelope),
            None => Err(envelope), // sent over a cut link that healed before madsim sent it
        };
        if arrived.is_err() {
            let reason = if self.network.is_cut(from, to) {
                DropReason::LinkCut
            } else {
                DropReason::NodeDown // sent to an earlier incarnation of `to`
            };
            let kind = EventKind::Dropped {
                id,
                from,
                api,
                reason,
            };
            let event = self.event(Some(to), kind);
            self.record(event);
        }
        self.drain(from, to);
        let link = self.links.get(&(from, to));
        if seq.is_some_and(|seq| link.is_some_and(|l| l.holds(seq))) {
            self.stats.overtook += 1;
        }
    }

    /// Hands over the messages of `from → to` that are in order.
    fn drain(&mut self, from: NodeId, to: NodeId) {
        while let Some(envelope) = self.links.get_mut(&(from, to)).and_then(FifoLink::pop) {
            self.deliver(envelope, to);
        }
    }

    fn count_trip(&mut self, sent_at: SimTime) {
        let trip_us = now().as_micros().saturating_sub(sent_at.as_micros());
        self.stats.arrived += 1;
        self.stats.max_trip_us = self.stats.max_trip_us.max(trip_us);
        if trip_us > self.trip_bound_us {
            self.stats.slow_trips += 1;
        }
    }

    /// Runs, on `to`'s madsim node, a drain of every link into it (its inbox may have
    /// waited for a message that was just written off).
    fn wake_receiver(&self, to: NodeId) {
        let host = &self.nodes[to.0 as usize];
        if host.endpoint.is_none() {
            return;
        }
        let me = self.me.clone();
        spawn_on(host, async move {
            let Some(shared) = me.upgrade() else { return };
            let mut shared = lock(&shared);
            let senders: Vec<NodeId> = shared
                .links
                .keys()
                .filter(|(_, t)| *t == to)
                .map(|(f, _)| *f)
                .collect();
            for from in senders {
                shared.drain(from, to);
            }
        });
    }

    /// A message's turn came, as `World::deliver`: dropped if the link is cut now, else
    /// handled.
    fn deliver(&mut self, envelope: Envelope<A::Msg>, to: NodeId) {
        let Envelope { id, from, msg, .. } = envelope;
        let api = msg.kind();
        let reason = if self.network.is_cut(from, to) {
            Some(DropReason::LinkCut)
        } else if self.nodes[to.0 as usize].status != NodeStatus::Running {
            Some(DropReason::NodeDown)
        } else {
            None
        };
        if let Some(reason) = reason {
            if reason == DropReason::NodeDown {
                self.refuse_connection(to, from);
            }
            let kind = EventKind::Dropped {
                id,
                from,
                api,
                reason,
            };
            let event = self.event(Some(to), kind);
            self.record(event);
            return;
        }
        let kind = EventKind::Deliver { id, from, api };
        self.dispatch(to, kind, true, |a, out| a.on_message(from, msg, out));
    }

    /// As `World::refuse_connection`: a dead process refuses, a dead machine is silent.
    fn refuse_connection(&mut self, dead: NodeId, sender: NodeId) {
        let host = &self.nodes[dead.0 as usize];
        if host.status.refuses_connections(host.crash_kind) {
            self.reset_connection(dead, sender);
        }
    }

    /// As `World::reset_connection`: `node` learns, one link latency later, that its
    /// connections to `peer` were reset — on its own madsim node, so a pause delays it and
    /// a crash loses it.
    fn reset_connection(&mut self, peer: NodeId, node: NodeId) {
        let host = &self.nodes[node.0 as usize];
        if node == peer || !host.status.is_alive() || self.network.is_cut(peer, node) {
            return;
        }
        let at = now().plus_micros(self.network.link(peer, node).latency_us);
        let (base, me) = (self.base, self.me.clone());
        spawn_on(host, async move {
            sleep_until(base, at).await;
            let Some(shared) = me.upgrade() else { return };
            let mut shared = lock(&shared);
            // A process still binding its socket had no connection to reset.
            if shared.nodes[node.0 as usize].is_up() {
                let kind = EventKind::Disconnect { peer };
                shared.dispatch(node, kind, true, |a, out| a.on_disconnect(peer, out));
            }
        });
    }

    fn reset_peers(&mut self, dead: NodeId) {
        for other in 0..self.nodes.len() {
            self.reset_connection(dead, NodeId(other as u32));
        }
    }

    // ----- commands ------------------------------------------------------------------------

    fn apply_command(this: &SharedRef<A, O>, command: Command<A>) {
        if let Command::AddNode { name, node } = command {
            Shared::add_node(this, name.clone(), *node);
            let mut shared = lock(this);
            let event = shared.event(None, EventKind::Command(CommandNote::AddNode { name }));
            shared.record(event);
            return;
        }
        lock(this).command(command);
    }

    fn command(&mut self, command: Command<A>) {
        let node = command.target();
        let note = match command {
            Command::Crash(n, kind) => return self.crash(n, kind),
            Command::Input(n, input) => return self.input(n, input),
            Command::Restart(n) => {
                self.restart(n);
                CommandNote::Restart
            }
            Command::Pause(n) => {
                if self.set_status_from(n, NodeStatus::Running, NodeStatus::Paused) {
                    Handle::current().pause(self.nodes[n.0 as usize].madsim_id);
                }
                CommandNote::Pause
            }
            Command::Resume(n) => {
                if self.set_status_from(n, NodeStatus::Paused, NodeStatus::Running) {
                    Handle::current().resume(self.nodes[n.0 as usize].madsim_id);
                }
                CommandNote::Resume
            }
            Command::RemoveNode(n) => {
                self.kill(n, NodeStatus::Removed);
                CommandNote::RemoveNode
            }
            other => self.network_command(other),
        };
        let event = self.event(node, EventKind::Command(note));
        self.record(event);
    }

    fn network_command(&mut self, command: Command<A>) -> CommandNote {
        match command {
            Command::Cut { from, to, both } => {
                self.network.cut(from, to, both);
                self.clog(from, to, both, true);
                CommandNote::Cut { from, to, both }
            }
            Command::Heal { from, to, both } => {
                self.network.heal(from, to, both);
                self.clog(from, to, both, false);
                CommandNote::Heal { from, to, both }
            }
            Command::HealAll => {
                let cuts: Vec<(NodeId, NodeId)> = self.network.cuts().collect();
                for (from, to) in cuts {
                    self.clog(from, to, false, false);
                }
                self.network.heal_all();
                CommandNote::HealAll
            }
            // madsim has one latency range for all links, set when the runtime is built:
            // link settings change only what this engine draws (loss, duplication) and the
            // delay of connection resets.
            Command::SetLink { from, to, config } => {
                self.network.set_link(from, to, config);
                CommandNote::SetLink { from, to, config }
            }
            Command::SetDefaultLink(config) => {
                self.network.set_default_link(config);
                CommandNote::SetDefaultLink(config)
            }
            // A message on madsim's network cannot be reached (only interactive play drops
            // one by id).
            Command::DropMessage(id) => CommandNote::DropMessage { id, found: false },
            _ => unreachable!("node commands are handled by `command`"),
        }
    }

    /// Clogs (or unclogs) the madsim link `from → to`, and `to → from` when `both`.
    fn clog(&self, from: NodeId, to: NodeId, both: bool, clogged: bool) {
        let net = NetSim::current();
        let (a, b) = (self.madsim_id(from), self.madsim_id(to));
        let pairs: &[_] = if both { &[(a, b), (b, a)] } else { &[(a, b)] };
        for (src, dst) in pairs {
            if clogged {
                net.clog_link(*src, *dst);
            } else {
                net.unclog_link(*src, *dst);
            }
        }
    }

    fn madsim_id(&self, node: NodeId) -> ::madsim::task::NodeId {
        self.nodes[node.0 as usize].madsim_id
    }

    fn set_status_from(&mut self, node: NodeId, from: NodeStatus, to: NodeStatus) -> bool {
        match self.nodes.get_mut(node.0 as usize) {
            Some(host) if host.status == from => {
                host.status = to;
                true
            }
            _ => false,
        }
    }

    fn restart(&mut self, node: NodeId) {
        if self.set_status_from(node, NodeStatus::Crashed, NodeStatus::Running) {
            self.nodes[node.0 as usize].crash_kind = None;
            Handle::current().restart(self.madsim_id(node));
        }
    }

    /// Marks a node dead, as `World::kill`, and kills its madsim node: its tasks (timers,
    /// inbox, messages it had not sent yet) and its socket are gone.
    fn kill(&mut self, node: NodeId, status: NodeStatus) -> bool {
        let Some(host) = self.nodes.get_mut(node.0 as usize) else {
            return false;
        };
        let was_alive = host.status.is_alive();
        if host.status != NodeStatus::Removed {
            host.status = status;
        }
        host.timers.clear();
        host.early_inputs.clear();
        if was_alive {
            Handle::current().kill(host.madsim_id);
            host.endpoint = None;
            self.links_of_dead(node);
        }
        if was_alive && status == NodeStatus::Removed {
            self.reset_peers(node);
        }
        was_alive
    }

    /// The FIFO bookkeeping of a dead node's links, both ways.
    fn links_of_dead(&mut self, dead: NodeId) {
        let mut receivers = Vec::new();
        for ((from, to), link) in &mut self.links {
            if *from == dead {
                link.sender_died();
                receivers.push(*to);
            }
            if *to == dead {
                link.receiver_died();
            }
        }
        for to in receivers {
            self.wake_receiver(to);
        }
    }

    fn crash(&mut self, node: NodeId, kind: CrashKind) {
        let note = EventKind::Command(CommandNote::Crash(kind));
        if !self.kill(node, NodeStatus::Crashed) {
            let event = self.event(Some(node), note);
            return self.record(event);
        }
        self.nodes[node.0 as usize].crash_kind = Some(kind);
        if kind == CrashKind::Crash {
            self.reset_peers(node);
        }
        // A dead process sends nothing and sets no timers: only its notes are kept.
        self.dispatch(node, note, false, |a, out| a.on_crash(kind, out));
    }

    /// As `World::input`: a running node handles it now (or, still starting, right after its
    /// start), a paused one when it resumes (a task on its paused madsim node), a dead one
    /// ignores it.
    fn input(&mut self, node: NodeId, input: A::Input) {
        let kind = EventKind::Input(input.clone());
        let me = self.me.clone();
        let Some(host) = self.nodes.get_mut(node.0 as usize) else {
            return;
        };
        match host.status {
            NodeStatus::Running if host.endpoint.is_none() => host.early_inputs.push(input),
            NodeStatus::Running => {
                self.dispatch(node, kind, true, |a, out| a.on_input(input, out));
            }
            NodeStatus::Paused => {
                spawn_on(host, async move {
                    if let Some(shared) = me.upgrade() {
                        lock(&shared).input(node, input);
                    }
                });
            }
            NodeStatus::Crashed | NodeStatus::Removed => {
                let event = self.event(Some(node), kind);
                self.record(event);
            }
        }
    }
}

/// A node's process: bind the socket, start, then receive for ever (until killed).
async fn host_main<A, O>(me: WeakRef<A, O>, node: NodeId)
where
    A: Actor + Send + 'static,
    A::Msg: Send + Sync + 'static,
    A::Timer: Send + 'static,
    A::Input: Send + 'static,
    A::Note: Send + 'static,
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
    A: Actor + Send + 'static,
    A::Msg: Send + Sync + 'static,
    A::Timer: Send + 'static,
    A::Input: Send + 'static,
    A::Note: Send + 'static,
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

/// madsim's own delay on every message: `send_to_raw` and `recv_from_raw` each first sleep
/// a "random delay" of under 5 µs, which madsim's 1 ms minimum sleep turns into 1 ms.
pub const MADSIM_MESSAGE_OVERHEAD_US: u64 = 2_000;

/// A madsim configuration whose one-way delays approximate `link` (`latency_us` plus up to
/// `jitter_us`): madsim has one latency range for the whole network, drawn uniformly, on top
/// of its fixed overhead ([`MADSIM_MESSAGE_OVERHEAD_US`]). So the range is the link's, moved
/// down by the overhead: exact for a latency of 2 ms or more, and for a shorter one the
/// overhead is the floor (a 1 ms link takes 2 ms). Loss and duplication are drawn by the
/// engine, so madsim itself loses nothing.
/// The longest trip a message should take on madsim configured for `link`, with 1 ms to
/// spare for the scheduler: beyond it, the message queued in the engine.
fn trip_bound_us(link: &LinkConfig) -> u64 {
    let low = link.latency_us.saturating_sub(MADSIM_MESSAGE_OVERHEAD_US);
    MADSIM_MESSAGE_OVERHEAD_US + low + link.jitter_us + 1_000
}

pub fn madsim_config(link: &LinkConfig) -> ::madsim::Config {
    let low = link.latency_us.saturating_sub(MADSIM_MESSAGE_OVERHEAD_US);
    let high = low + link.jitter_us + 1; // madsim's range excludes its end
    let mut config = ::madsim::Config::default();
    config.net.send_latency = Duration::from_micros(low)..Duration::from_micros(high);
    config.net.packet_loss_rate = 0.0;
    config
}
