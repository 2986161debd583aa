//! Trace events: what each step of a run did, in a form a person and a test can read.
//!
//! Every `World::step` produces exactly one `TraceEvent`: which node handled which input, what
//! it sent (and what the network dropped), and the semantic notes the Kafka model wrote
//! (`Appended`, `HwAdvanced`, ...). The stream of events is the run's observable behaviour: it
//! serializes to JSON Lines for `--trace`, feeds the lab's event log, and is folded into the
//! stable trace hash (see `hash.rs`) that determinism tests compare.

use super::network::{DropReason, LinkConfig, MessageId};
use super::node::{Actor, CrashKind, NodeId};
use serde::Serialize;

/// One applied step.
#[derive(Clone, Debug, Serialize)]
#[serde(bound = "")]
pub struct TraceEvent<A: Actor> {
    pub step: u64,
    pub time_us: u64,
    /// The node that handled the input, if any (network commands have none).
    pub node: Option<NodeId>,
    pub kind: EventKind<A>,
    /// What the network did with the messages this step sent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub net: Vec<NetNote>,
    /// Semantic notes from the model.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<A::Note>,
}

/// The input a step applied.
#[derive(Clone, Debug, Serialize)]
#[serde(bound = "", rename_all = "snake_case")]
pub enum EventKind<A: Actor> {
    /// A node started (at the beginning of the run, when added, or on restart).
    Start,
    /// A message arrived and was handled.
    Deliver {
        id: MessageId,
        from: NodeId,
        api: &'static str,
    },
    /// A message reached its destination's side of the link but was not handled.
    Dropped {
        id: MessageId,
        from: NodeId,
        api: &'static str,
        reason: DropReason,
    },
    Timer(A::Timer),
    /// The node's connections to `peer` were reset (its process died, or refused a connection).
    Disconnect {
        peer: NodeId,
    },
    Input(A::Input),
    Command(CommandNote),
}

/// A kernel command, as recorded in the trace.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandNote {
    Crash(CrashKind),
    Restart,
    Pause,
    Resume,
    Cut {
        from: NodeId,
        to: NodeId,
        both: bool,
    },
    Heal {
        from: NodeId,
        to: NodeId,
        both: bool,
    },
    HealAll,
    SetLink {
        from: NodeId,
        to: NodeId,
        config: LinkConfig,
    },
    SetDefaultLink(LinkConfig),
    DropMessage {
        id: MessageId,
        /// The message, when it was still in flight: its sender, receiver and API.
        found: Option<DroppedRoute>,
    },
    AddNode {
        name: String,
    },
    RemoveNode,
}

/// Where a message dropped by a command was going.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DroppedRoute {
    pub from: NodeId,
    pub to: NodeId,
    pub api: &'static str,
}

/// The network's side of a step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetNote {
    Sent {
        id: MessageId,
        to: NodeId,
        api: &'static str,
        deliver_at_us: u64,
    },
    Duplicated {
        id: MessageId,
        copy: MessageId,
        deliver_at_us: u64,
    },
    Dropped {
        id: MessageId,
        to: NodeId,
        api: &'static str,
        reason: DropReason,
    },
}
