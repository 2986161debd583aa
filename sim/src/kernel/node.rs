//! The sans-IO node interface.
//!
//! Every participant of a run — broker, controller, producer, consumer — is a plain state
//! machine in the style of stateright's actors and quinn-proto: it never sleeps, spawns, reads
//! a clock or touches a socket. The World hands it one input at a time (start, a message, a
//! timer, a user command) together with an [`Out`] buffer, and the node writes its effects into
//! that buffer: messages to send, timers to set or cancel, semantic notes for the trace. The
//! World applies the effects. So a node can be unit-tested by calling its handlers directly, and
//! a snapshot of the World is a plain `Clone`.

use super::rng::SimRng;
use super::time::SimTime;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A node's address in the World: its index in the order nodes were added.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct NodeId(pub u32);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node#{}", self.0)
    }
}

/// How a node died. `Crash` kills the process: volatile state is gone, but whatever it wrote to
/// its log survives (the OS page cache outlives a process). `PowerLoss` also loses every byte
/// that was not yet flushed to disk (per the broker's flush settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrashKind {
    Crash,
    PowerLoss,
}

/// What the trace should call a message: the Kafka API name (`Produce`, `FetchResponse`, ...).
pub trait MessageKind {
    fn kind(&self) -> &'static str;
}

/// A state machine that the World can run. See the module docs.
pub trait Actor: Clone + fmt::Debug {
    type Msg: Clone + fmt::Debug + Serialize + MessageKind;
    /// Timer keys. Setting a timer whose key is already pending replaces it.
    type Timer: Clone + fmt::Debug + Ord + Serialize;
    /// User commands addressed to this node (e.g. "produce 10 records").
    type Input: Clone + fmt::Debug + Serialize;
    /// Semantic notes for the trace (`Appended`, `HwAdvanced`, ...).
    type Note: Clone + fmt::Debug + Serialize;

    /// The node (re)starts: at the beginning of the run and after every restart.
    fn on_start(&mut self, out: &mut Out<'_, Self>);
    fn on_message(&mut self, from: NodeId, msg: Self::Msg, out: &mut Out<'_, Self>);
    fn on_timer(&mut self, timer: Self::Timer, out: &mut Out<'_, Self>);
    fn on_input(&mut self, input: Self::Input, out: &mut Out<'_, Self>);
    /// The connections to `peer` were reset: its process died (the OS sent a reset), or it
    /// refused a new connection. Requests in flight to it will get no answer. Not called for
    /// a power loss or a network cut, which are silent: only timeouts reveal them.
    fn on_disconnect(&mut self, peer: NodeId, out: &mut Out<'_, Self>);
    /// The process dies. Keep only what would survive `kind` on a real machine; notes written
    /// here (e.g. how many unflushed records a power loss destroyed) go into the trace.
    fn on_crash(&mut self, kind: CrashKind, out: &mut Out<'_, Self>);
}

/// A timer operation requested by a node.
#[derive(Clone, Debug)]
pub(crate) enum TimerOp<T> {
    Set { timer: T, at: SimTime },
    Cancel(T),
}

/// The effects buffer handed to a node for one input. It also lends the node the current time
/// and the run's PRNG, which are the only ways a node may learn the time or draw randomness.
#[derive(Debug)]
pub struct Out<'a, A: Actor> {
    now: SimTime,
    me: NodeId,
    rng: &'a mut SimRng,
    pub(crate) sends: &'a mut Vec<(NodeId, A::Msg)>,
    pub(crate) timers: &'a mut Vec<TimerOp<A::Timer>>,
    pub(crate) notes: &'a mut Vec<A::Note>,
}

impl<'a, A: Actor> Out<'a, A> {
    pub(crate) fn new(
        now: SimTime,
        me: NodeId,
        rng: &'a mut SimRng,
        sends: &'a mut Vec<(NodeId, A::Msg)>,
        timers: &'a mut Vec<TimerOp<A::Timer>>,
        notes: &'a mut Vec<A::Note>,
    ) -> Self {
        Out {
            now,
            me,
            rng,
            sends,
            timers,
            notes,
        }
    }

    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The current time in milliseconds, the unit of Kafka configs and timestamps.
    pub fn now_ms(&self) -> i64 {
        self.now.as_millis()
    }

    pub fn me(&self) -> NodeId {
        self.me
    }

    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }

    pub fn send(&mut self, to: NodeId, msg: A::Msg) {
        self.sends.push((to, msg));
    }

    /// Fires `timer` after `after_ms` milliseconds, replacing a pending timer with the same key.
    pub fn set_timer_ms(&mut self, timer: A::Timer, after_ms: i64) {
        let at = self.now.plus_millis(after_ms.max(0));
        self.timers.push(TimerOp::Set { timer, at });
    }

    /// Fires `timer` at an absolute time (not before now).
    pub fn set_timer_at(&mut self, timer: A::Timer, at: SimTime) {
        let at = at.max(self.now);
        self.timers.push(TimerOp::Set { timer, at });
    }

    pub fn cancel_timer(&mut self, timer: A::Timer) {
        self.timers.push(TimerOp::Cancel(timer));
    }

    pub fn note(&mut self, note: A::Note) {
        self.notes.push(note);
    }
}

/// Test support: drives one node by hand, outside any World, and collects what it did.
#[derive(Debug)]
pub struct Harness<A: Actor> {
    pub now: SimTime,
    pub me: NodeId,
    pub rng: SimRng,
    pub sent: Vec<(NodeId, A::Msg)>,
    pub notes: Vec<A::Note>,
    timers: Vec<TimerOp<A::Timer>>,
}

impl<A: Actor> Harness<A> {
    pub fn new(me: NodeId, seed: u64) -> Self {
        Harness {
            now: SimTime::ZERO,
            me,
            rng: SimRng::new(seed),
            sent: Vec::new(),
            notes: Vec::new(),
            timers: Vec::new(),
        }
    }

    /// Runs `f` with a fresh `Out` and keeps the effects it wrote.
    pub fn with<R>(&mut self, f: impl FnOnce(&mut Out<'_, A>) -> R) -> R {
        let mut out = Out::new(
            self.now,
            self.me,
            &mut self.rng,
            &mut self.sent,
            &mut self.timers,
            &mut self.notes,
        );
        f(&mut out)
    }

    /// Takes the messages sent so far.
    pub fn take_sent(&mut self) -> Vec<(NodeId, A::Msg)> {
        std::mem::take(&mut self.sent)
    }

    /// The timers currently requested (the last operation per key wins), earliest first.
    pub fn pending_timers(&self) -> Vec<(A::Timer, SimTime)> {
        let mut pending: std::collections::BTreeMap<A::Timer, SimTime> = Default::default();
        for op in &self.timers {
            match op {
                TimerOp::Set { timer, at } => {
                    pending.insert(timer.clone(), *at);
                }
                TimerOp::Cancel(timer) => {
                    pending.remove(timer);
                }
            }
        }
        let mut list: Vec<_> = pending.into_iter().collect();
        list.sort_by_key(|(_, at)| *at);
        list
    }
}
