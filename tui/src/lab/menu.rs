//! `x` in the lab: the fault menu — what a learner can do to the running cluster, and, for
//! each kind of action, the choices the run offers right now (only running nodes can crash,
//! only crashed ones restart, only messages in flight can be dropped).
//!
//! The menu builds [`Action`]s, the same actions a scenario's `[[timeline]]` holds, so what
//! the learner does is saved and replayed like any scripted fault.

use super::session::Session;
use kafkalab_sim::kernel::NodeStatus;
use kafkalab_sim::node::KafkaNode;
use kafkalab_sim::scenario::Action;
use kafkalab_sim::scenario::spec::{ConsumerSpec, ScenarioFile};

/// The kinds of action the menu offers, in menu order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Crash,
    PowerLoss,
    Restart,
    Pause,
    Resume,
    Cut,
    Heal,
    HealAll,
    DropMessage,
    AddConsumer,
    RemoveClient,
    Produce,
}

impl Fault {
    pub const ALL: [Fault; 12] = [
        Fault::Crash,
        Fault::PowerLoss,
        Fault::Restart,
        Fault::Pause,
        Fault::Resume,
        Fault::Cut,
        Fault::Heal,
        Fault::HealAll,
        Fault::DropMessage,
        Fault::AddConsumer,
        Fault::RemoveClient,
        Fault::Produce,
    ];

    /// The menu line.
    pub fn label(self) -> &'static str {
        match self {
            Fault::Crash => "crash a node (process dies; its log survives)",
            Fault::PowerLoss => "power-loss a node (unflushed log tail lost too)",
            Fault::Restart => "restart a crashed node",
            Fault::Pause => "pause a node (a long GC pause)",
            Fault::Resume => "resume a paused node",
            Fault::Cut => "cut a link between two nodes",
            Fault::Heal => "heal a cut link",
            Fault::HealAll => "heal every cut link",
            Fault::DropMessage => "drop a message in flight",
            Fault::AddConsumer => "add a consumer",
            Fault::RemoveClient => "remove a producer or consumer",
            Fault::Produce => "produce N more records",
        }
    }

    /// What to pick, as the second popup's title.
    pub fn prompt(self) -> &'static str {
        match self {
            Fault::Crash | Fault::PowerLoss | Fault::Pause => "which running node?",
            Fault::Restart => "which crashed node?",
            Fault::Resume => "which paused node?",
            Fault::Cut => "which link? (both directions)",
            Fault::Heal => "which cut link?",
            Fault::HealAll => "heal every link?",
            Fault::DropMessage => "which message in flight?",
            Fault::AddConsumer => "a consumer like which one?",
            Fault::RemoveClient => "which client?",
            Fault::Produce => "which producer?",
        }
    }

    /// Why there is nothing to choose, when the run offers no choice now.
    pub fn nothing(self) -> &'static str {
        match self {
            Fault::Crash | Fault::PowerLoss | Fault::Pause => "no node is running",
            Fault::Restart => "no node is crashed",
            Fault::Resume => "no node is paused",
            Fault::Cut => "every link is cut already",
            Fault::Heal | Fault::HealAll => "no link is cut",
            Fault::DropMessage => "nothing is in flight at this step: step (n) and try again",
            Fault::AddConsumer => "the scenario has no topic to consume",
            Fault::RemoveClient => "there is no producer or consumer left",
            Fault::Produce => "there is no producer left",
        }
    }
}

/// One choice: what the line says and the action it applies. `Produce` choices carry a
/// count the learner may change before applying.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub label: String,
    pub action: Action,
}

/// The records a `Produce` choice sends unless the learner types another count.
pub const DEFAULT_PRODUCE_COUNT: u64 = 100;

/// The choices for `fault` at the session's current step.
pub fn choices(fault: Fault, session: &Session) -> Vec<Choice> {
    let sim = session.sim();
    let world = sim.world();
    let metadata = sim.metadata();
    let nodes: Vec<(String, NodeStatus, &KafkaNode)> = world
        .nodes()
        .map(|(_, name, status, node)| (name.to_string(), status, node))
        .collect();
    let describe = |name: &str, node: &KafkaNode| -> String {
        match node {
            KafkaNode::Broker(b) => {
                let leads: Vec<String> = metadata
                    .all_partitions()
                    .filter(|p| p.leader == b.id() && !p.tp.topic.starts_with("__"))
                    .map(|p| p.tp.to_string())
                    .collect();
                if leads.is_empty() {
                    format!("{name} (leads nothing)")
                } else {
                    format!("{name} (leader of {})", leads.join(", "))
                }
            }
            _ => format!("{name} ({})", node.role()),
        }
    };
    let with_status = |wanted: NodeStatus, make: &dyn Fn(String) -> Action| -> Vec<Choice> {
        nodes
            .iter()
            .filter(|(_, status, _)| *status == wanted)
            .map(|(name, _, node)| Choice {
                label: describe(name, node),
                action: make(name.clone()),
            })
            .collect()
    };
    let live: Vec<&String> = nodes
        .iter()
        .filter(|(_, status, _)| *status != NodeStatus::Removed)
        .map(|(name, _, _)| name)
        .collect();
    let clients = |roles: &[&str]| -> Vec<&(String, NodeStatus, &KafkaNode)> {
        nodes
            .iter()
            .filter(|(_, status, node)| {
                *status != NodeStatus::Removed && roles.contains(&node.role())
            })
            .collect()
    };
    match fault {
        Fault::Crash => with_status(NodeStatus::Running, &|node| Action::Crash { node }),
        Fault::PowerLoss => with_status(NodeStatus::Running, &|node| Action::PowerLoss { node }),
        Fault::Pause => with_status(NodeStatus::Running, &|node| Action::Pause { node }),
        Fault::Restart => with_status(NodeStatus::Crashed, &|node| Action::Restart { node }),
        Fault::Resume => with_status(NodeStatus::Paused, &|node| Action::Resume { node }),
        Fault::Cut | Fault::Heal => {
            let want_cut = fault == Fault::Heal;
            let mut out = Vec::new();
            for (i, from) in live.iter().enumerate() {
                for to in &live[i + 1..] {
                    let (Some(a), Some(b)) = (world.node_id(from), world.node_id(to)) else {
                        continue;
                    };
                    let cut = world.network().is_cut(a, b) || world.network().is_cut(b, a);
                    if cut != want_cut {
                        continue;
                    }
                    let (from, to) = (from.to_string(), to.to_string());
                    out.push(Choice {
                        label: format!("{from} <-> {to}"),
                        action: if want_cut {
                            Action::Heal {
                                from,
                                to,
                                one_way: false,
                            }
                        } else {
                            Action::Cut {
                                from,
                                to,
                                one_way: false,
                            }
                        },
                    });
                }
            }
            out
        }
        Fault::HealAll => {
            if world.network().cuts().next().is_none() {
                Vec::new()
            } else {
                vec![Choice {
                    label: "heal every cut link".to_string(),
                    action: Action::HealAll {},
                }]
            }
        }
        Fault::DropMessage => world
            .in_flight()
            .map(|m| Choice {
                label: format!(
                    "#{} {} {} → {}",
                    m.id.0,
                    kafkalab_sim::kernel::MessageKind::kind(&m.msg),
                    world.name(m.from),
                    world.name(m.to)
                ),
                action: Action::DropMessage { id: m.id.0 },
            })
            .collect(),
        Fault::AddConsumer => consumer_templates(session),
        Fault::RemoveClient => clients(&["producer", "consumer"])
            .into_iter()
            .map(|(name, _, node)| Choice {
                label: describe(name, node),
                action: Action::RemoveClient { node: name.clone() },
            })
            .collect(),
        Fault::Produce => clients(&["producer"])
            .into_iter()
            .map(|(name, _, node)| Choice {
                label: describe(name, node),
                action: Action::Produce {
                    producer: name.clone(),
                    count: DEFAULT_PRODUCE_COUNT,
                },
            })
            .collect(),
    }
}

/// `add-consumer` choices: a new consumer like each consumer the scenario declares (same
/// topic, group and configs — a new member of that group), or, when it declares none, one
/// in a new group `lab` per topic.
fn consumer_templates(session: &Session) -> Vec<Choice> {
    let scenario = session.scenario();
    let world = session.sim().world();
    let free_name = || {
        (1..)
            .map(|i| format!("lab-consumer-{i}"))
            .find(|n| world.node_id(n).is_none())
            .unwrap_or_default()
    };
    let declared: Vec<ConsumerSpec> = toml::from_str::<ScenarioFile>(&scenario.text)
        .map(|f| f.consumers.into_iter().map(|c| c.into_inner()).collect())
        .unwrap_or_default();
    let name = free_name();
    if declared.is_empty() {
        return scenario
            .topics
            .iter()
            .filter(|t| !t.name.starts_with("__"))
            .map(|t| {
                let mut config = kafkalab_sim::scenario::spec::ConfigMap::new();
                config.insert("group.id".into(), toml::Value::String("lab".into()));
                Choice {
                    label: format!("{name}: group `lab`, topic {}", t.name),
                    action: Action::AddConsumer(ConsumerSpec {
                        name: name.clone(),
                        topic: t.name.to_string(),
                        partitions: None,
                        start: None,
                        semantics: None,
                        processing_time: None,
                        config,
                    }),
                }
            })
            .collect();
    }
    declared
        .into_iter()
        .map(|spec| {
            let group = spec
                .config
                .get("group.id")
                .and_then(|v| v.as_str())
                .map_or("no group (assigned partitions)".to_string(), |g| {
                    format!("group `{g}`")
                });
            let label = format!("{name} like {}: {group}, topic {}", spec.name, spec.topic);
            Choice {
                label,
                action: Action::AddConsumer(ConsumerSpec {
                    name: name.clone(),
                    start: None,
                    ..spec
                }),
            }
        })
        .collect()
}
