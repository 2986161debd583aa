//! `kafkalab describe groups`: each consumer group as its coordinator sees it, in the layout
//! of Kafka's `kafka-consumer-groups.sh --describe` (`ConsumerGroupCommand`'s `printOffsets`,
//! `printMembers` with `--verbose`, and `printStates`), so what you learn here reads the same
//! on a real cluster.
//!
//! Differences from Kafka's output:
//! - every column is exactly as wide as its widest cell (Kafka pads most to at least 15);
//! - HOST is the consumer's node name (Kafka prints the client's address, `/10.0.0.7`), and
//!   COORDINATOR (ID) is `broker-N (N)` (Kafka: `host:port  (N)`);
//! - offset rows are in partition order (Kafka lists them member by member, then the
//!   partitions no member owns), so each partition is easy to find;
//! - the notes Kafka writes to stderr ("has no active members", "is rebalancing") are printed
//!   on stdout just before the table they qualify, so the output reads in order when piped;
//! - `--members` always has Kafka's `--verbose` ASSIGNMENT column.

use crate::cli::{CmdResult, DescribeGroupsArgs, io_error, write_json};
use crate::exit;
use crate::run::simulate_to_point;
use crate::scenarios::load_with_config;
use kafkalab_sim::GroupView;
use kafkalab_sim::protocol::TopicPartition;
use kafkalab_sim::scenario::{Action, Scenario};
use std::collections::BTreeSet;
use std::io::Write;

/// What `kafka-consumer-groups.sh --describe` prints for a missing value.
const MISSING: &str = "-";

/// Which of `kafka-consumer-groups.sh --describe`'s tables to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupsView {
    /// The default: one row per partition with offsets, lag and owner.
    Offsets,
    /// `--members --verbose`: one row per member with its assignment.
    Members,
    /// `--state`: one row per group.
    State,
}

/// Every group in `groups` (already in group id order), each as a blank line, Kafka's note on
/// its state if it has one, and the table of `view`.
pub fn describe_groups(groups: &[GroupView], view: GroupsView) -> String {
    groups.iter().map(|g| describe_group(g, view)).collect()
}

fn describe_group(g: &GroupView, view: GroupsView) -> String {
    let mut out = String::new();
    if let Some(note) = state_note(g) {
        out.push('\n');
        out.push_str(&note);
        out.push('\n');
    }
    // Kafka's `shouldPrintMemberState`: a dead group prints only its note.
    if g.state == "Dead" {
        return out;
    }
    let rows = match view {
        GroupsView::Offsets => offset_rows(g),
        GroupsView::Members => member_rows(g),
        GroupsView::State => state_rows(g),
    };
    // Kafka prints no table when there is no row (an empty group without committed offsets).
    if rows.len() > 1 {
        out.push('\n');
        out.push_str(&render_table(&rows));
    }
    out
}

/// The line Kafka's `shouldPrintMemberState` prints before a group's table, if any.
fn state_note(g: &GroupView) -> Option<String> {
    let group = &g.group;
    match g.state {
        "Dead" => Some(format!("Consumer group '{group}' does not exist.")),
        "Empty" => Some(format!("Consumer group '{group}' has no active members.")),
        "PreparingRebalance" | "CompletingRebalance" => {
            Some(format!("Warning: Consumer group '{group}' is rebalancing."))
        }
        _ => None,
    }
}

fn offset_rows(g: &GroupView) -> Vec<Vec<String>> {
    let mut rows = vec![header(&[
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ])];
    for o in &g.offsets {
        let owner = o
            .member_id
            .as_ref()
            .and_then(|id| g.members.iter().find(|m| m.member_id == *id));
        rows.push(vec![
            g.group.to_string(),
            o.tp.topic.to_string(),
            o.tp.partition.to_string(),
            or_missing(o.committed),
            or_missing(o.log_end_offset),
            or_missing(o.lag),
            or_missing(o.member_id.as_deref()),
            or_missing(owner.and_then(|m| m.host.as_deref())),
            or_missing(owner.map(|m| &*m.client_id)),
        ]);
    }
    rows
}

/// One row per member; GROUP-INSTANCE-ID only when some member is static, as in Kafka.
fn member_rows(g: &GroupView) -> Vec<Vec<String>> {
    let static_members = g.members.iter().any(|m| m.group_instance_id.is_some());
    let mut head = vec!["GROUP", "CONSUMER-ID"];
    if static_members {
        head.push("GROUP-INSTANCE-ID");
    }
    head.extend(["HOST", "CLIENT-ID", "#PARTITIONS", "ASSIGNMENT"]);
    let mut rows = vec![header(&head)];
    for m in &g.members {
        let mut row = vec![g.group.to_string(), m.member_id.to_string()];
        if static_members {
            row.push(or_missing(m.group_instance_id.as_deref()));
        }
        row.extend([
            or_missing(m.host.as_deref()),
            m.client_id.to_string(),
            m.assignment.len().to_string(),
            assignment_text(&m.assignment),
        ]);
        rows.push(row);
    }
    rows
}

fn state_rows(g: &GroupView) -> Vec<Vec<String>> {
    vec![
        header(&[
            "GROUP",
            "COORDINATOR (ID)",
            "ASSIGNMENT-STRATEGY",
            "STATE",
            "#MEMBERS",
        ]),
        vec![
            g.group.to_string(),
            format!("broker-{0} ({0})", g.coordinator),
            or_missing(g.protocol.as_deref()),
            g.state.to_string(),
            g.members.len().to_string(),
        ],
    ]
}

/// A member's partitions as Kafka's `--members --verbose` prints them: per topic in name
/// order, `topic(p1,p2,…)` with partitions ascending, topics joined by `,`; `-` if none.
pub fn assignment_text(assignment: &[TopicPartition]) -> String {
    if assignment.is_empty() {
        return MISSING.to_string();
    }
    let mut sorted: Vec<&TopicPartition> = assignment.iter().collect();
    sorted.sort();
    let mut parts: Vec<String> = Vec::new();
    for chunk in sorted.chunk_by(|a, b| a.topic == b.topic) {
        let partitions: Vec<String> = chunk.iter().map(|tp| tp.partition.to_string()).collect();
        parts.push(format!("{}({})", chunk[0].topic, partitions.join(",")));
    }
    parts.join(",")
}

fn header(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

fn or_missing(value: Option<impl ToString>) -> String {
    value.map_or_else(|| MISSING.to_string(), |v| v.to_string())
}

/// Rows as left-aligned columns, each padded to its widest cell and separated by one space;
/// the last column is not padded, so no line ends in spaces.
fn render_table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let last = row.len().saturating_sub(1);
        for (c, cell) in row.iter().enumerate() {
            if c == last {
                out.push_str(cell);
            } else {
                let pad = widths[c] - cell.chars().count();
                out.push_str(cell);
                out.extend(std::iter::repeat_n(' ', pad + 1));
            }
        }
        out.push('\n');
    }
    out
}

/// The `group.id`s a scenario's consumers use, including consumers its timeline adds.
pub fn scenario_group_ids(scenario: &Scenario) -> BTreeSet<String> {
    let declared = scenario
        .consumers
        .iter()
        .filter_map(|c| c.config.group_id.as_deref().map(str::to_string));
    let added = scenario.timeline.iter().filter_map(|t| match &t.action {
        Action::AddConsumer(spec) => spec
            .config
            .get("group.id")
            .and_then(|v| v.as_str())
            .filter(|id| !id.is_empty())
            .map(str::to_string),
        _ => None,
    });
    declared.chain(added).collect()
}

pub const LONG_ABOUT: &str = "Describe consumer groups the way \
`kafka-consumer-groups.sh --describe` does, from each group's coordinator after running the \
scenario to a point in time.

Runs the scenario with the seed to `--at` (default: the scenario's end) or for exactly \
`--step` events, then prints, per group in name order, a blank line and a table whose columns \
are padded to their widest cell. `-` marks a missing value.

Default (offsets), one row per partition the group owns or has committed:
  GROUP           the group.id
  TOPIC, PARTITION
  CURRENT-OFFSET  the group's committed offset (the next record it will read)
  LOG-END-OFFSET  the partition's high watermark: the end a consumer can read to
  LAG             LOG-END-OFFSET - CURRENT-OFFSET
  CONSUMER-ID     the member that owns the partition now (- if none)
  HOST            the node the member runs on
  CLIENT-ID       its client.id

--members, one row per member:
  CONSUMER-ID, GROUP-INSTANCE-ID (only if some member is static), HOST, CLIENT-ID
  #PARTITIONS     how many partitions it is assigned
  ASSIGNMENT      its partitions by topic, e.g. orders(0,1,2) (Kafka's --members --verbose)

--state, one row per group:
  COORDINATOR (ID)     the broker that coordinates the group, as broker-N (N)
  ASSIGNMENT-STRATEGY  the assignor the members agreed on (e.g. range)
  STATE                Empty, PreparingRebalance, CompletingRebalance, Stable or Dead
  #MEMBERS             how many members the group has

As in Kafka, an empty group is announced with \"Consumer group 'G' has no active members.\" \
and a group mid-rebalance with \"Warning: Consumer group 'G' is rebalancing.\" before its \
table. A group whose coordinator is down, or that no consumer has joined yet, is not shown.

--json prints the whole view of each group (state, generation, protocol, leader, members with \
their assignments, and per-partition committed offset, log end offset, lag and owner) as one \
JSON array, whichever table is selected.

Differences from Kafka's output: columns have no minimum width, HOST is the consumer's node \
name rather than its address, the coordinator is named broker-N rather than host:port, and \
offset rows are in partition order rather than member by member.";

pub const AFTER_LONG_HELP: &str = "Examples:
  kafkalab describe groups my-groups.toml
  kafkalab describe groups my-groups.toml --at 15s --members
  kafkalab describe groups my-groups.toml --group billing --state
  kafkalab describe groups my-groups.toml --step 2000 --json";

/// `kafkalab describe groups`: checks `--group`, runs to the point, prints the table chosen
/// (or `--json`), or says why no group is shown.
pub(crate) fn describe_groups_cmd(
    args: &DescribeGroupsArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> CmdResult {
    let scenario = load_with_config(&args.point.scenario, &args.point.config, &[])?;
    let known = scenario_group_ids(&scenario);
    if let Some(group) = &args.group
        && !known.contains(group)
    {
        let valid = if known.is_empty() {
            "it has none (no consumer sets \"group.id\")".to_string()
        } else {
            format!(
                "its groups: {}",
                known.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        };
        return Err((
            exit::USAGE,
            format!(
                "unknown group `{group}` in scenario {}; {valid}",
                scenario.name
            ),
        ));
    }
    let name = scenario.name.clone();
    let sim = simulate_to_point(
        &args.point,
        scenario,
        "groups",
        &describe_groups_flags(args),
        err,
    );
    let mut groups = sim.groups();
    groups.retain(|g| args.group.as_ref().is_none_or(|only| *g.group == **only));
    if args.json {
        return write_json(out, &groups).map(|()| exit::OK);
    }
    let view = match (args.members, args.state) {
        (true, _) => GroupsView::Members,
        (_, true) => GroupsView::State,
        _ => GroupsView::Offsets,
    };
    let text = match (&args.group, groups.is_empty()) {
        (_, false) => describe_groups(&groups, view),
        (None, true) if known.is_empty() => {
            format!("Scenario {name} has no consumer groups: no consumer sets \"group.id\".\n")
        }
        (None, true) => format!(
            "No consumer group is loaded on a live coordinator at this point \
             (groups of the scenario: {}); no member has joined yet, or the coordinator is down.\n",
            known.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
        (Some(group), true) => format!(
            "Consumer group '{group}' is not loaded on a live coordinator at this point: \
             no member has joined yet, or its coordinator is down.\n"
        ),
    };
    out.write_all(text.as_bytes()).map_err(io_error)?;
    Ok(exit::OK)
}

/// ` --group G`, ` --members`, ` --state`, ` --json` and ` --config k=v`, for the replay hint.
fn describe_groups_flags(args: &DescribeGroupsArgs) -> String {
    let mut flags = args
        .group
        .as_ref()
        .map(|g| format!(" --group {g}"))
        .unwrap_or_default();
    for (set, flag) in [
        (args.members, " --members"),
        (args.state, " --state"),
        (args.json, " --json"),
    ] {
        if set {
            flags.push_str(flag);
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafkalab_sim::{MemberView, PartitionOffsetView};
    use std::sync::Arc;

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition::new(topic, partition)
    }

    fn group(state: &'static str, members: Vec<MemberView>) -> GroupView {
        let owner = |p: i32| {
            members
                .iter()
                .find(|m| m.assignment.contains(&tp("orders", p)))
                .map(|m| m.member_id.clone())
        };
        let offsets = (0..3)
            .map(|p| PartitionOffsetView {
                tp: tp("orders", p),
                committed: (p != 2).then_some(10 * i64::from(p)),
                log_end_offset: Some(25),
                lag: (p != 2).then_some(25 - 10 * i64::from(p)),
                member_id: owner(p),
            })
            .collect();
        GroupView {
            group: Arc::from("billing"),
            coordinator: 2,
            state,
            generation: 3,
            protocol: (!members.is_empty()).then(|| Arc::from("range")),
            leader: members.first().map(|m| m.member_id.clone()),
            members,
            offsets,
        }
    }

    fn member_view(id: &str, instance: Option<&str>, partitions: &[i32]) -> MemberView {
        MemberView {
            member_id: Arc::from(id),
            group_instance_id: instance.map(Arc::from),
            client_id: Arc::from("client"),
            host: Some("consumer-1".to_string()),
            assignment: partitions.iter().map(|&p| tp("orders", p)).collect(),
        }
    }

    #[test]
    fn offsets_table_pads_to_the_widest_cell_with_dashes_for_missing_values() {
        let g = group("Stable", vec![member_view("m-1", None, &[0, 1])]);
        let text = describe_groups(&[g], GroupsView::Offsets);
        assert_eq!(
            text,
            "\n\
             GROUP   TOPIC  PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST       CLIENT-ID\n\
             billing orders 0         0              25             25  m-1         consumer-1 client\n\
             billing orders 1         10             25             15  m-1         consumer-1 client\n\
             billing orders 2         -              25             -   -           -          -\n"
        );
    }

    #[test]
    fn an_empty_group_says_so_before_its_committed_offsets() {
        let text = describe_groups(&[group("Empty", vec![])], GroupsView::Offsets);
        assert!(
            text.starts_with("\nConsumer group 'billing' has no active members.\n\nGROUP "),
            "{text}"
        );
        assert_eq!(
            text.lines().filter(|l| l.starts_with("billing ")).count(),
            3
        );
        // No members: only the note, no table.
        let text = describe_groups(&[group("Empty", vec![])], GroupsView::Members);
        assert_eq!(text, "\nConsumer group 'billing' has no active members.\n");
    }

    #[test]
    fn a_rebalancing_group_gets_kafkas_warning_and_a_dead_one_no_table() {
        let g = group("PreparingRebalance", vec![member_view("m-1", None, &[])]);
        let text = describe_groups(&[g], GroupsView::State);
        assert!(
            text.starts_with("\nWarning: Consumer group 'billing' is rebalancing.\n\nGROUP "),
            "{text}"
        );
        let text = describe_groups(&[group("Dead", vec![])], GroupsView::Offsets);
        assert_eq!(text, "\nConsumer group 'billing' does not exist.\n");
    }

    #[test]
    fn members_table_has_instance_ids_only_for_static_members() {
        let dynamic = group("Stable", vec![member_view("m-1", None, &[2, 0])]);
        let text = describe_groups(&[dynamic], GroupsView::Members);
        assert_eq!(
            text,
            "\n\
             GROUP   CONSUMER-ID HOST       CLIENT-ID #PARTITIONS ASSIGNMENT\n\
             billing m-1         consumer-1 client    2           orders(0,2)\n"
        );
        let fixed = group(
            "Stable",
            vec![
                member_view("m-1", Some("i-1"), &[0]),
                member_view("m-2", None, &[]),
            ],
        );
        let text = describe_groups(&[fixed], GroupsView::Members);
        assert!(
            text.contains("CONSUMER-ID GROUP-INSTANCE-ID HOST"),
            "{text}"
        );
        assert!(
            text.contains("m-2         -                 consumer-1"),
            "{text}"
        );
        assert!(text.ends_with(" 0           -\n"), "{text}");
    }

    #[test]
    fn state_table_names_the_coordinator_broker() {
        let g = group("Stable", vec![member_view("m-1", None, &[0])]);
        assert_eq!(
            describe_groups(&[g], GroupsView::State),
            "\n\
             GROUP   COORDINATOR (ID) ASSIGNMENT-STRATEGY STATE  #MEMBERS\n\
             billing broker-2 (2)     range               Stable 1\n"
        );
    }

    #[test]
    fn assignment_text_groups_partitions_by_topic() {
        let a = [tp("orders", 3), tp("audit", 1), tp("orders", 0)];
        assert_eq!(assignment_text(&a), "audit(1),orders(0,3)");
        assert_eq!(assignment_text(&[]), "-");
    }
}
