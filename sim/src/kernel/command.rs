//! Kernel commands: the things that happen to a run from outside its nodes.
//!
//! Faults (crash, power loss, restart, pause, resume), network changes (cut, heal, link
//! settings), dropping one in-flight message, user inputs addressed to a node, and adding or
//! removing nodes. A command is stamped with when it applies — a simulated time or a step
//! number — which is what makes a run `(scenario, seed, commands)` replayable: interactive play
//! only ever appends stamped commands.

use super::network::{LinkConfig, MessageId};
use super::node::{Actor, CrashKind, NodeId};
use super::time::SimTime;
use serde::{Deserialize, Serialize};

/// When a command applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum At {
    /// At this simulated time (after every event already queued for the same time).
    Time(SimTime),
    /// As step number `n` itself: before any queued event, once `n` steps have been applied.
    Step(u64),
}

/// A kernel command.
#[derive(Clone, Debug)]
pub enum Command<A: Actor> {
    Crash(NodeId, CrashKind),
    Restart(NodeId),
    Pause(NodeId),
    Resume(NodeId),
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
    DropMessage(MessageId),
    Input(NodeId, A::Input),
    AddNode {
        name: String,
        node: Box<A>,
    },
    RemoveNode(NodeId),
}

impl<A: Actor> Command<A> {
    /// The node the command is about, if it is about one.
    pub fn target(&self) -> Option<NodeId> {
        match self {
            Command::Crash(n, _)
            | Command::Restart(n)
            | Command::Pause(n)
            | Command::Resume(n)
            | Command::Input(n, _)
            | Command::RemoveNode(n) => Some(*n),
            _ => None,
        }
    }
}
