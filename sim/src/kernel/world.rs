//! The World: the stepping heart of a run.
//!
//! It owns the nodes, the clock, the network, the run's PRNG and a priority queue of pending
//! events ordered by `(time, sequence)`. [`World::step`] pops exactly one event — a message
//! delivery, a timer, a command or a node start — dispatches it, applies the node's effects and
//! returns the [`TraceEvent`] it recorded; `run_until` is only a loop over it (turmoil's
//! `Sim::step` shape). Nothing here is async or threaded, so the World is a plain value: `Clone`
//! gives a snapshot that replays identically, which is what the lab's rewind is built on.

use super::command::{At, Command};
use super::hash::StableHasher;
use super::network::{DropReason, InFlight, LinkConfig, MessageId, Network, SendOutcome};
use super::node::{Actor, CrashKind, NodeId, Out, TimerOp};
use super::rng::SimRng;
use super::time::SimTime;
use super::trace::{CommandNote, DroppedRoute, EventKind, NetNote, TraceEvent};
use serde::Serialize;
use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::Arc;

/// Whether a node is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    Running,
    /// Dead until restarted (`crash` or `power-loss`).
    Crashed,
    /// Frozen (a long GC pause): its timers and inbox wait until `resume`.
    Paused,
    /// Gone for good (a client removed from the run).
    Removed,
}

impl NodeStatus {
    /// The process exists: running, or frozen by a pause (which is not death: its connections
    /// stay up and it hears resets when it resumes).
    pub fn is_alive(self) -> bool {
        matches!(self, NodeStatus::Running | NodeStatus::Paused)
    }

    /// Whether a message reaching this node, which is not running, gets its sender's
    /// connection refused: like a TCP SYN to a closed port, a dead process on a live machine
    /// (a crash, or a client removed from the run) refuses; a machine without power answers
    /// nothing.
    pub fn refuses_connections(self, crash_kind: Option<CrashKind>) -> bool {
        self == NodeStatus::Removed || crash_kind == Some(CrashKind::Crash)
    }
}

#[derive(Clone, Debug)]
struct Slot<A: Actor> {
    name: Arc<str>,
    actor: A,
    status: NodeStatus,
    /// Pending timers: key → token of the queue entry that may fire it.
    timers: BTreeMap<A::Timer, u64>,
    /// Events that arrived while paused, in arrival order.
    held: Vec<Pending<A>>,
    /// How it died, while crashed: a dead process on a live machine refuses connections,
    /// a machine without power is silent.
    crash_kind: Option<CrashKind>,
}

#[derive(Clone, Debug)]
enum Pending<A: Actor> {
    Start(NodeId),
    Deliver(MessageId),
    Timer {
        node: NodeId,
        timer: A::Timer,
        token: u64,
    },
    /// `node` learns that its connections to `peer` were reset.
    Disconnect {
        node: NodeId,
        peer: NodeId,
    },
    Command(Command<A>),
}

/// What `settle` does with a queue head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Disposition {
    Apply,
    Hold(NodeId),
    Discard,
}

#[derive(Clone, Debug)]
struct Scheduled<A: Actor> {
    at: SimTime,
    seq: u64,
    what: Pending<A>,
}

impl<A: Actor> PartialEq for Scheduled<A> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<A: Actor> Eq for Scheduled<A> {}
impl<A: Actor> PartialOrd for Scheduled<A> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<A: Actor> Ord for Scheduled<A> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Reused effect buffers, so a step allocates nothing in the common case.
#[derive(Clone, Debug)]
struct Scratch<A: Actor> {
    sends: Vec<(NodeId, A::Msg)>,
    timers: Vec<TimerOp<A::Timer>>,
    notes: Vec<A::Note>,
}

/// A deterministic world of `A` nodes. See the module docs.
#[derive(Clone, Debug)]
pub struct World<A: Actor> {
    seed: u64,
    now: SimTime,
    steps: u64,
    seq: u64,
    next_token: u64,
    queue: BinaryHeap<Reverse<Scheduled<A>>>,
    step_commands: BTreeMap<u64, VecDeque<Command<A>>>,
    nodes: Vec<Slot<A>>,
    network: Network<A::Msg>,
    rng: SimRng,
    hasher: StableHasher,
    scratch: Scratch<A>,
    last: Option<TraceEvent<A>>,
}

impl<A: Actor> World<A> {
    /// An empty world whose PRNG is seeded with `seed`.
    pub fn new(seed: u64, default_link: LinkConfig) -> Self {
        World {
            seed,
            now: SimTime::ZERO,
            steps: 0,
            seq: 0,
            next_token: 0,
            queue: BinaryHeap::new(),
            step_commands: BTreeMap::new(),
            nodes: Vec::new(),
            network: Network::new(default_link),
            rng: SimRng::new(seed),
            hasher: StableHasher::new(),
            scratch: Scratch {
                sends: Vec::new(),
                timers: Vec::new(),
                notes: Vec::new(),
            },
            last: None,
        }
    }

    // ----- getters -------------------------------------------------------------------------

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Number of steps applied so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The stable hash of every trace event so far (see `hash.rs`).
    pub fn trace_hash(&self) -> u64 {
        self.hasher.finish()
    }

    /// The event the last `step` applied.
    pub fn last_event(&self) -> Option<&TraceEvent<A>> {
        self.last.as_ref()
    }

    /// The run's PRNG, for drawing set-up choices (e.g. replica placement) before the first
    /// step. Nodes get it through `Out`.
    pub fn rng_mut(&mut self) -> &mut SimRng {
        &mut self.rng
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// All nodes ever added, in id order, with their status.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeId, &str, NodeStatus, &A)> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, s)| (NodeId(i as u32), &*s.name, s.status, &s.actor))
    }

    pub fn node(&self, id: NodeId) -> Option<&A> {
        self.nodes.get(id.0 as usize).map(|s| &s.actor)
    }

    pub fn status(&self, id: NodeId) -> Option<NodeStatus> {
        self.nodes.get(id.0 as usize).map(|s| s.status)
    }

    pub fn name(&self, id: NodeId) -> &str {
        self.nodes.get(id.0 as usize).map_or("?", |s| &*s.name)
    }

    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.nodes
            .iter()
            .position(|s| &*s.name == name)
            .map(|i| NodeId(i as u32))
    }

    pub fn network(&self) -> &Network<A::Msg> {
        &self.network
    }

    /// Messages in flight, oldest first.
    pub fn in_flight(&self) -> impl Iterator<Item = &InFlight<A::Msg>> {
        self.network.in_flight()
    }

    /// Time of the next event that will count as a step, if any.
    pub fn next_event_time(&mut self) -> Option<SimTime> {
        if self
            .step_commands
            .keys()
            .next()
            .is_some_and(|s| *s <= self.steps)
        {
            return Some(self.now);
        }
        self.settle();
        self.queue.peek().map(|Reverse(s)| s.at)
    }

    // ----- inputs --------------------------------------------------------------------------

    /// Adds a node; it starts as the next event at the current time.
    pub fn add_node(&mut self, name: impl Into<String>, actor: A) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        self.nodes.push(Slot {
            name: Arc::from(name.into()),
            actor,
            status: NodeStatus::Running,
            timers: BTreeMap::new(),
            held: Vec::new(),
            crash_kind: None,
        });
        self.push(self.now, Pending::Start(id));
        id
    }

    /// Schedules a command. Commands in the past apply at the next step.
    pub fn schedule(&mut self, at: At, command: Command<A>) {
        match at {
            At::Time(t) => self.push(t.max(self.now), Pending::Command(command)),
            At::Step(n) => self.step_commands.entry(n).or_default().push_back(command),
        }
    }

    fn push(&mut self, at: SimTime, what: Pending<A>) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at,
            seq: self.seq,
            what,
        }));
    }

    // ----- stepping ------------------------------------------------------------------------

    /// Applies exactly one event and returns its trace, or `None` when nothing is pending.
    pub fn step(&mut self) -> Option<&TraceEvent<A>> {
        let pending = self.next_applicable()?;
        let event = self.apply(pending);
        self.hasher.write_value(&event);
        self.steps += 1;
        self.last = Some(event);
        self.last.as_ref()
    }

    /// Steps until the next event would be after `until`, then sets the clock to `until`.
    /// Returns the number of steps applied.
    pub fn run_until(&mut self, until: SimTime) -> u64 {
        let start = self.steps;
        while self.next_event_time().is_some_and(|t| t <= until) {
            if self.step().is_none() {
                break;
            }
        }
        self.now = self.now.max(until);
        self.steps - start
    }

    /// Steps until `done(self)` holds, at most `max_steps` steps. Returns whether it held.
    pub fn run_until_pred(&mut self, max_steps: u64, mut done: impl FnMut(&Self) -> bool) -> bool {
        for _ in 0..max_steps {
            if done(self) {
                return true;
            }
            if self.step().is_none() {
                return done(self);
            }
        }
        done(self)
    }

    /// The next event to apply: a due step-stamped command, else the queue's head once
    /// `settle` has consumed what does not count as a step.
    fn next_applicable(&mut self) -> Option<Pending<A>> {
        if let Some(mut entry) = self.step_commands.first_entry()
            && *entry.key() <= self.steps
        {
            let command = entry.get_mut().pop_front();
            if entry.get().is_empty() {
                entry.remove();
            }
            return command.map(Pending::Command);
        }
        self.settle();
        let Reverse(next) = self.queue.pop()?;
        self.now = self.now.max(next.at);
        Some(next.what)
    }

    /// Consumes queue heads that are not steps: stale timers, messages dropped by command
    /// (discarded), and events for a paused node (held until it resumes). The clock does not
    /// move for them.
    fn settle(&mut self) {
        while let Some(Reverse(head)) = self.queue.peek() {
            let disposition = self.disposition(&head.what);
            if disposition == Disposition::Apply {
                return;
            }
            let Some(Reverse(head)) = self.queue.pop() else {
                return;
            };
            if let Disposition::Hold(node) = disposition {
                self.nodes[node.0 as usize].held.push(head.what);
            }
        }
    }

    fn disposition(&self, what: &Pending<A>) -> Disposition {
        let target = match what {
            Pending::Deliver(id) => match self.network.get(*id) {
                Some(m) => m.to,
                None => return Disposition::Discard, // dropped by a command while in flight
            },
            Pending::Timer { node, timer, token } => {
                if self.nodes[node.0 as usize].timers.get(timer) != Some(token) {
                    return Disposition::Discard; // replaced, cancelled, or the node crashed
                }
                *node
            }
            Pending::Start(node) | Pending::Disconnect { node, .. } => *node,
            Pending::Command(_) => return Disposition::Apply,
        };
        match (self.nodes[target.0 as usize].status, what) {
            (NodeStatus::Paused, _) => Disposition::Hold(target),
            // A message to a dead node is applied: the step records the drop.
            (NodeStatus::Running, _) | (_, Pending::Deliver(_)) => Disposition::Apply,
            _ => Disposition::Discard,
        }
    }

    fn apply(&mut self, pending: Pending<A>) -> TraceEvent<A> {
        match pending {
            Pending::Start(node) => {
                self.dispatch(node, EventKind::Start, true, |a, out| a.on_start(out))
            }
            Pending::Deliver(id) => self.deliver(id),
            Pending::Disconnect { node, peer } => {
                let kind = EventKind::Disconnect { peer };
                self.dispatch(node, kind, true, |a, out| a.on_disconnect(peer, out))
            }
            Pending::Timer { node, timer, .. } => {
                self.nodes[node.0 as usize].timers.remove(&timer);
                let kind = EventKind::Timer(timer.clone());
                self.dispatch(node, kind, true, |a, out| a.on_timer(timer, out))
            }
            Pending::Command(command) => self.apply_command(command),
        }
    }

    fn deliver(&mut self, id: MessageId) -> TraceEvent<A> {
        let Some(InFlight { from, to, msg, .. }) = self.network.take(id) else {
            unreachable!("filter() only lets through messages still in flight");
        };
        let api = super::node::MessageKind::kind(&msg);
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
            return self.bare_event(Some(to), kind);
        }
        let kind = EventKind::Deliver { id, from, api };
        self.dispatch(to, kind, true, |a, out| a.on_message(from, msg, out))
    }

    /// Runs one handler of `node` and applies its effects (only its notes when `!alive`).
    fn dispatch(
        &mut self,
        node: NodeId,
        kind: EventKind<A>,
        alive: bool,
        handler: impl FnOnce(&mut A, &mut Out<'_, A>),
    ) -> TraceEvent<A> {
        let mut event = self.bare_event(Some(node), kind);
        let Scratch {
            sends,
            timers,
            notes,
        } = &mut self.scratch;
        let slot = &mut self.nodes[node.0 as usize];
        let mut out = Out::new(self.now, node, &mut self.rng, sends, timers, notes);
        handler(&mut slot.actor, &mut out);
        if !alive {
            self.scratch.sends.clear();
            self.scratch.timers.clear();
        }
        self.apply_effects(node, &mut event);
        event
    }

    fn bare_event(&self, node: Option<NodeId>, kind: EventKind<A>) -> TraceEvent<A> {
        TraceEvent {
            step: self.steps,
            time_us: self.now.as_micros(),
            node,
            kind,
            net: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn apply_effects(&mut self, node: NodeId, event: &mut TraceEvent<A>) {
        let mut timers = std::mem::take(&mut self.scratch.timers);
        for op in timers.drain(..) {
            match op {
                TimerOp::Set { timer, at } => {
                    self.next_token += 1;
                    let token = self.next_token;
                    self.nodes[node.0 as usize]
                        .timers
                        .insert(timer.clone(), token);
                    self.push(at, Pending::Timer { node, timer, token });
                }
                TimerOp::Cancel(timer) => {
                    self.nodes[node.0 as usize].timers.remove(&timer);
                }
            }
        }
        self.scratch.timers = timers;
        let mut sends = std::mem::take(&mut self.scratch.sends);
        for (to, msg) in sends.drain(..) {
            self.send(node, to, msg, &mut event.net);
        }
        self.scratch.sends = sends;
        event.notes.append(&mut self.scratch.notes);
    }

    fn send(&mut self, from: NodeId, to: NodeId, msg: A::Msg, net: &mut Vec<NetNote>) {
        let api = super::node::MessageKind::kind(&msg);
        match self.network.send(self.now, from, to, msg, &mut self.rng) {
            SendOutcome::Queued {
                id,
                deliver_at,
                copy,
            } => {
                net.push(NetNote::Sent {
                    id,
                    to,
                    api,
                    deliver_at_us: deliver_at.as_micros(),
                });
                self.push(deliver_at, Pending::Deliver(id));
                if let Some((copy, at)) = copy {
                    net.push(NetNote::Duplicated {
                        id,
                        copy,
                        deliver_at_us: at.as_micros(),
                    });
                    self.push(at, Pending::Deliver(copy));
                }
            }
            SendOutcome::Dropped(id, reason) => net.push(NetNote::Dropped {
                id,
                to,
                api,
                reason,
            }),
        }
    }

    // ----- commands ------------------------------------------------------------------------

    fn apply_command(&mut self, command: Command<A>) -> TraceEvent<A> {
        let node = command.target();
        let note = match command {
            Command::Crash(n, kind) => return self.crash(n, kind),
            Command::Input(n, input) => return self.input(n, input),
            Command::Restart(n) => {
                self.set_status_from(n, NodeStatus::Crashed, NodeStatus::Running);
                if self.status(n) == Some(NodeStatus::Running) {
                    self.nodes[n.0 as usize].crash_kind = None;
                    self.push(self.now, Pending::Start(n));
                }
                CommandNote::Restart
            }
            Command::Pause(n) => {
                self.set_status_from(n, NodeStatus::Running, NodeStatus::Paused);
                CommandNote::Pause
            }
            Command::Resume(n) => {
                self.resume(n);
                CommandNote::Resume
            }
            Command::RemoveNode(n) => {
                self.kill(n, NodeStatus::Removed);
                CommandNote::RemoveNode
            }
            Command::AddNode { name, node } => {
                self.add_node(name.clone(), *node);
                CommandNote::AddNode { name }
            }
            other => self.network_command(other),
        };
        self.bare_event(node, EventKind::Command(note))
    }

    fn network_command(&mut self, command: Command<A>) -> CommandNote {
        match command {
            Command::Cut { from, to, both } => {
                self.network.cut(from, to, both);
                CommandNote::Cut { from, to, both }
            }
            Command::Heal { from, to, both } => {
                self.network.heal(from, to, both);
                CommandNote::Heal { from, to, both }
            }
            Command::HealAll => {
                self.network.heal_all();
                CommandNote::HealAll
            }
            Command::SetLink { from, to, config } => {
                self.network.set_link(from, to, config);
                CommandNote::SetLink { from, to, config }
            }
            Command::SetDefaultLink(config) => {
                self.network.set_default_link(config);
                CommandNote::SetDefaultLink(config)
            }
            Command::DropMessage(id) => {
                let found = self.network.take(id).map(|m| DroppedRoute {
                    from: m.from,
                    to: m.to,
                    api: super::node::MessageKind::kind(&m.msg),
                });
                CommandNote::DropMessage { id, found }
            }
            _ => unreachable!("node commands are handled by apply_command"),
        }
    }

    /// A message reached `dead`, whose process is gone but whose machine is up: like a TCP
    /// SYN to a closed port, the sender's connection is refused, which it learns one link
    /// latency later. A machine without power answers nothing.
    fn refuse_connection(&mut self, dead: NodeId, sender: NodeId) {
        let slot = &self.nodes[dead.0 as usize];
        if slot.status.refuses_connections(slot.crash_kind) {
            self.reset_connection(dead, sender);
        }
    }

    /// Schedules `node` to learn that its connections to `peer` were reset, unless the link
    /// `peer → node` is cut (the reset never arrives) or `node` is not running.
    fn reset_connection(&mut self, peer: NodeId, node: NodeId) {
        let alive = self.nodes[node.0 as usize].status.is_alive();
        if node == peer || !alive || self.network.is_cut(peer, node) {
            return;
        }
        let at = self
            .now
            .plus_micros(self.network.link(peer, node).latency_us);
        self.push(at, Pending::Disconnect { node, peer });
    }

    fn set_status_from(&mut self, node: NodeId, from: NodeStatus, to: NodeStatus) {
        if let Some(slot) = self.nodes.get_mut(node.0 as usize)
            && slot.status == from
        {
            slot.status = to;
        }
    }

    fn resume(&mut self, node: NodeId) {
        let Some(slot) = self.nodes.get_mut(node.0 as usize) else {
            return;
        };
        if slot.status != NodeStatus::Paused {
            return;
        }
        slot.status = NodeStatus::Running;
        let held = std::mem::take(&mut slot.held);
        for what in held {
            self.push(self.now, what);
        }
    }

    /// Marks a node dead: its pending timers and held inbox are gone.
    fn kill(&mut self, node: NodeId, status: NodeStatus) -> bool {
        let Some(slot) = self.nodes.get_mut(node.0 as usize) else {
            return false;
        };
        let was_alive = slot.status.is_alive();
        if slot.status != NodeStatus::Removed {
            slot.status = status;
        }
        slot.timers.clear();
        slot.held.clear();
        if was_alive && status == NodeStatus::Removed {
            self.reset_peers(node);
        }
        was_alive
    }

    /// A process died on a live machine: the OS resets its connections, so every peer learns
    /// of it after one link latency (not after its own request timeout).
    fn reset_peers(&mut self, dead: NodeId) {
        for other in 0..self.nodes.len() {
            self.reset_connection(dead, NodeId(other as u32));
        }
    }

    fn crash(&mut self, node: NodeId, kind: CrashKind) -> TraceEvent<A> {
        let note = EventKind::Command(CommandNote::Crash(kind));
        if !self.kill(node, NodeStatus::Crashed) {
            return self.bare_event(Some(node), note);
        }
        self.nodes[node.0 as usize].crash_kind = Some(kind);
        if kind == CrashKind::Crash {
            self.reset_peers(node);
        }
        // A dead process sends nothing and sets no timers: only its notes are kept.
        self.dispatch(node, note, false, |a, out| a.on_crash(kind, out))
    }

    fn input(&mut self, node: NodeId, input: A::Input) -> TraceEvent<A> {
        let kind = EventKind::Input(input.clone());
        if self.status(node) != Some(NodeStatus::Running) {
            // Inputs to a node that is not running are recorded and ignored, like keystrokes
            // typed into a frozen program; paused nodes get them on resume.
            if let Some(slot) = self.nodes.get_mut(node.0 as usize)
                && slot.status == NodeStatus::Paused
            {
                slot.held
                    .push(Pending::Command(Command::Input(node, input)));
            }
            return self.bare_event(Some(node), kind);
        }
        self.dispatch(node, kind, true, |a, out| a.on_input(input, out))
    }
}
