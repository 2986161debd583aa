//! `kafkalab describe topics`: the controller's view of each topic, in the layout of Kafka's
//! `kafka-topics.sh --describe` (`TopicCommand`'s `TopicDescription` and
//! `PartitionDescription`), so what you learn here reads the same on a real cluster.
//!
//! Differences from Kafka's output, all by omission:
//! - no `TopicId` field: the simulator has no topic ids (Kafka itself skips the field when
//!   the id is the zero UUID);
//! - no `Elr` / `LastKnownElr` columns (Kafka 4.x, KIP-966): eligible leader replicas are not
//!   modelled;
//! - no `MarkedForDeletion`: topics are never deleted.

use crate::cli::{CmdResult, DescribeTopicsArgs, io_error};
use crate::exit;
use crate::run::simulate_to_point;
use crate::scenarios::load_with_config;
use kafkalab_sim::metadata::MetadataImage;
use kafkalab_sim::protocol::{NO_LEADER, PartitionRecord};
use kafkalab_sim::scenario::{Scenario, TopicDef};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;

/// Every topic of `image` in name order, or only `only` if given, as `kafka-topics.sh
/// --describe` prints them: one header line per topic, then one tab-indented line per
/// partition. A topic that is not in the image prints nothing.
pub fn describe_topics(scenario: &Scenario, image: &MetadataImage, only: Option<&str>) -> String {
    let mut out = String::new();
    for (name, partitions) in &image.topics {
        if only.is_some_and(|o| o != &**name) {
            continue;
        }
        let def = scenario.topics.iter().find(|t| t.name == *name);
        // Kafka: the first partition's replica count.
        let replication_factor = partitions
            .first()
            .map(|p| p.replicas.len())
            .or_else(|| def.map(|d| d.replication_factor as usize))
            .unwrap_or(0);
        let _ = writeln!(
            out,
            "Topic: {name}\tPartitionCount: {}\tReplicationFactor: {replication_factor}\tConfigs: {}",
            partitions.len(),
            configs(scenario, def),
        );
        for p in partitions {
            let _ = writeln!(out, "{}", partition_line(p));
        }
    }
    out
}

/// One partition line, tab-indented as Kafka prints it.
fn partition_line(p: &PartitionRecord) -> String {
    format!(
        "\tTopic: {}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}",
        p.tp.topic,
        p.tp.partition,
        leader_text(p.leader),
        join_ids(&p.replicas),
        join_ids(&p.isr),
    )
}

/// A leader id, or `none` for an offline partition (`NO_LEADER`), as Kafka prints it.
pub fn leader_text(leader: i32) -> String {
    if leader == NO_LEADER {
        "none".to_string()
    } else {
        leader.to_string()
    }
}

/// Broker ids joined by `,` (Kafka's `mkString(",")`).
pub fn join_ids(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

/// The `Configs:` value: every config whose source is not Kafka's built-in default, i.e. the
/// topic's own settings and the broker-level topic defaults the scenario sets
/// (`[cluster.config]`, Kafka's `STATIC_BROKER_CONFIG`, which `kafka-topics.sh` lists too),
/// plus any key whose effective value differs from Kafka's default. Values are the effective
/// ones (a topic setting wins over the broker's), keys sorted, each once, joined by `,`.
fn configs(scenario: &Scenario, def: Option<&TopicDef>) -> String {
    let defaults = kafkalab_sim::log::LogConfig::default();
    let mut shown: BTreeMap<&str, String> = BTreeMap::new();
    let broker_level = scenario.topic_defaults.iter().map(|(k, v)| (k, v));
    let Some(def) = def else {
        // A topic the scenario does not define: only the broker-level defaults apply.
        for (key, value) in broker_level {
            shown.insert(key, value.clone());
        }
        return join_configs(&shown);
    };
    for (key, _) in broker_level.chain(def.overrides.iter().map(|(k, v)| (k, v))) {
        if let Some(value) = def.config.get(key) {
            shown.insert(key, value);
        }
    }
    for key in kafkalab_sim::log::LogConfig::KEYS {
        if let Some(value) = def.config.get(key)
            && defaults.get(key).as_ref() != Some(&value)
        {
            shown.insert(key, value);
        }
    }
    join_configs(&shown)
}

fn join_configs(shown: &BTreeMap<&str, String>) -> String {
    shown
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

pub const LONG_ABOUT: &str = "Describe topics the way `kafka-topics.sh --describe` does, \
from the controller's metadata image after running the scenario to a point in time.

Runs the scenario with the seed to `--at` (default: the scenario's end) or for exactly \
`--step` events, then prints, per topic in name order, a header line and one tab-indented \
line per partition:

  Topic: orders<TAB>PartitionCount: 3<TAB>ReplicationFactor: 3<TAB>Configs: min.insync.replicas=2
  <TAB>Topic: orders<TAB>Partition: 0<TAB>Leader: 2<TAB>Replicas: 1,2,3<TAB>Isr: 2,3

`Leader: none` means the partition is offline. `Configs:` lists the topic's own settings and \
the broker-level topic defaults the scenario sets, with their effective values.

Differences from Kafka's output: there is no `TopicId` field (the simulator has no topic ids), \
and the `Elr` / `LastKnownElr` columns of Kafka 4.x are omitted because eligible leader \
replicas (KIP-966) are not modelled.";

pub const AFTER_LONG_HELP: &str = "Examples:
  kafkalab describe topics leader-failure --at 20s
  kafkalab describe topics leader-failure --seed 3 --topic orders
  kafkalab describe topics quickstart --step 100";

/// `kafkalab describe topics`: checks `--topic`, runs to the point, prints the topics.
pub(crate) fn describe_topics_cmd(
    args: &DescribeTopicsArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> CmdResult {
    let scenario = load_with_config(&args.point.scenario, &args.point.config, &[])?;
    if let Some(topic) = &args.topic
        && !scenario.topics.iter().any(|t| *t.name == **topic)
    {
        let names: Vec<&str> = scenario.topics.iter().map(|t| &*t.name).collect();
        return Err((
            exit::USAGE,
            format!(
                "unknown topic `{topic}` in scenario {}; its topics: {}",
                scenario.name,
                names.join(", ")
            ),
        ));
    }
    let topic_flag = args
        .topic
        .as_ref()
        .map(|t| format!(" --topic {t}"))
        .unwrap_or_default();
    let sim = simulate_to_point(&args.point, scenario, "topics", &topic_flag, err);
    let text = describe_topics(sim.scenario(), sim.metadata(), args.topic.as_deref());
    out.write_all(text.as_bytes()).map_err(io_error)?;
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafkalab_sim::Simulation;
    use kafkalab_sim::scenario::parse_scenario;
    use std::sync::Arc;

    fn scenario(extra_cluster: &str, topic_config: &str) -> Scenario {
        let text = format!(
            "name = \"t\"\nduration = \"1s\"\n\
             [cluster]\nbrokers = 3\n{extra_cluster}\n\
             [[topics]]\nname = \"orders\"\npartitions = 2\nreplication_factor = 3\n\
             {topic_config}\n\
             [[topics]]\nname = \"audit\"\npartitions = 1\nreplication_factor = 1\n"
        );
        match parse_scenario(&text, "t.toml") {
            Ok(s) => s,
            Err(e) => panic!("{e}\n{text}"),
        }
    }

    /// The image the controller starts from.
    fn image(s: &Scenario) -> MetadataImage {
        Simulation::new(Arc::new(s.clone()), 1).metadata().clone()
    }

    #[test]
    fn headers_and_partition_lines_in_kafkas_layout() {
        let s = scenario("", "");
        let text = describe_topics(&s, &image(&s), None);
        let lines: Vec<&str> = text.lines().collect();
        // Topics in name order: audit before orders.
        assert_eq!(
            lines[0],
            "Topic: audit\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: "
        );
        assert!(lines[1].starts_with("\tTopic: audit\tPartition: 0\tLeader: "));
        assert_eq!(
            lines[2],
            "Topic: orders\tPartitionCount: 2\tReplicationFactor: 3\tConfigs: "
        );
        assert_eq!(lines.len(), 5);
        for line in &lines[3..] {
            assert!(line.starts_with("\tTopic: orders\tPartition: "), "{line}");
            assert!(line.contains("\tReplicas: ") && line.contains("\tIsr: "));
            assert!(!line.contains("Elr") && !line.contains("TopicId"));
        }
    }

    #[test]
    fn offline_partition_prints_leader_none() {
        let s = scenario("", "");
        let mut image = image(&s);
        let p = image
            .topics
            .get_mut("orders")
            .and_then(|ps| ps.get_mut(1))
            .expect("orders-1");
        p.leader = NO_LEADER;
        p.replicas = vec![1, 2, 3];
        p.isr = vec![];
        let text = describe_topics(&s, &image, Some("orders"));
        assert!(
            text.contains("\tTopic: orders\tPartition: 1\tLeader: none\tReplicas: 1,2,3\tIsr: \n"),
            "{text}"
        );
        assert!(!text.contains("audit"), "{text}");
    }

    #[test]
    fn configs_list_topic_and_broker_level_settings_sorted_once() {
        let s = scenario(
            "[cluster.config]\n\"min.insync.replicas\" = 2\n\"log.segment.bytes\" = 1073741824\n",
            "[topics.config]\n\"retention.ms\" = 1000\n\"min.insync.replicas\" = 3\n\
             \"cleanup.policy\" = \"compact\"\n",
        );
        let text = describe_topics(&s, &image(&s), None);
        assert!(
            text.contains(
                "Topic: orders\tPartitionCount: 2\tReplicationFactor: 3\tConfigs: \
                 cleanup.policy=compact,min.insync.replicas=3,retention.ms=1000,\
                 segment.bytes=1073741824\n"
            ),
            "{text}"
        );
        // Broker-level settings apply to every topic, even one equal to Kafka's default
        // (Kafka lists `STATIC_BROKER_CONFIG` entries too).
        assert!(
            text.contains(
                "Topic: audit\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: \
                 min.insync.replicas=2,segment.bytes=1073741824\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn unknown_topic_prints_nothing() {
        let s = scenario("", "");
        assert_eq!(describe_topics(&s, &image(&s), Some("nope")), "");
    }
}
