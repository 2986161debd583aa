//! Actions: the faults and user commands of a scenario's timeline and of interactive play.
//!
//! An action names nodes by their scenario names (`broker-1`, `producer-1`). It is what the
//! command log of a run stores — `(scenario, seed, [(time or step, action)])` is the run's whole
//! identity — and what a saved lab session writes back into a scenario's `[[timeline]]`.

use super::spec::{ConsumerSpec, ProducerSpec};
use serde::{Deserialize, Serialize};

/// One action, written in TOML as `action = "crash"` plus its fields.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Action {
    /// Kill the process; its log survives.
    Crash {
        node: String,
    },
    /// Kill the machine; each log also loses its unflushed tail.
    PowerLoss {
        node: String,
    },
    Restart {
        node: String,
    },
    /// Freeze the node (a long GC pause); its timers and inbox wait.
    Pause {
        node: String,
    },
    Resume {
        node: String,
    },
    /// Cut the link between two nodes (both directions unless `one_way`).
    Cut {
        from: String,
        to: String,
        #[serde(default)]
        one_way: bool,
    },
    Heal {
        from: String,
        to: String,
        #[serde(default)]
        one_way: bool,
    },
    /// Cut a node off from every other node.
    Isolate {
        node: String,
    },
    /// Heal every cut link.
    HealAll {},
    /// Drop one message in flight, by its id in the trace.
    DropMessage {
        id: u64,
    },
    /// Make a producer send `count` more records now.
    Produce {
        producer: String,
        count: u64,
    },
    /// Move a consumer's position.
    Seek {
        consumer: String,
        topic: String,
        partition: i32,
        offset: i64,
    },
    AddProducer(ProducerSpec),
    AddConsumer(ConsumerSpec),
    /// Grow a topic to `partitions` partitions in total, like `kafka-topics.sh --alter
    /// --topic T --partitions N`: the controller places the new ones; clients see them on
    /// their next metadata refresh, and keyed records may then map to other partitions.
    AddPartitions {
        topic: String,
        partitions: i32,
    },
    /// Stop a client for good.
    RemoveClient {
        node: String,
    },
}

impl Action {
    /// The `action = "…"` names, for error messages.
    pub const NAMES: &'static [&'static str] = &[
        "crash",
        "power-loss",
        "restart",
        "pause",
        "resume",
        "cut",
        "heal",
        "isolate",
        "heal-all",
        "drop-message",
        "produce",
        "seek",
        "add-producer",
        "add-consumer",
        "add-partitions",
        "remove-client",
    ];

    /// The nodes this action names, each with the field that names it. Each must exist when
    /// the action applies.
    pub fn node_refs(&self) -> Vec<(&'static str, &str)> {
        match self {
            Action::Crash { node }
            | Action::PowerLoss { node }
            | Action::Restart { node }
            | Action::Pause { node }
            | Action::Resume { node }
            | Action::Isolate { node }
            | Action::RemoveClient { node } => vec![("node", node)],
            Action::Cut { from, to, .. } | Action::Heal { from, to, .. } => {
                vec![("from", from), ("to", to)]
            }
            Action::Produce { producer, .. } => vec![("producer", producer)],
            Action::Seek { consumer, .. } => vec![("consumer", consumer)],
            Action::HealAll {}
            | Action::DropMessage { .. }
            | Action::AddProducer(_)
            | Action::AddConsumer(_)
            | Action::AddPartitions { .. } => vec![],
        }
    }

    /// The kinds of node (`KafkaNode::role`) this action's node may be; `None` for any.
    pub fn node_roles(&self) -> Option<&'static [&'static str]> {
        match self {
            Action::Produce { .. } => Some(&["producer"]),
            Action::Seek { .. } => Some(&["consumer"]),
            Action::RemoveClient { .. } => Some(&["producer", "consumer"]),
            _ => None,
        }
    }
}
