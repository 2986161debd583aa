//! `kafkalab explain assign`: runs one of Kafka's partition assignors on a group described in
//! a small TOML file, the way the group's leader runs it during a rebalance.
//!
//! Why it exists: which consumer gets which partition is decided on a client, by an
//! algorithm most users never see, and the sticky assignors' answers depend on what each
//! member owned before and in which generation. This command lets a learner try a group
//! shape and see Kafka's answer — for cooperative-sticky including the partitions held back
//! until their owner has revoked them. The algorithms live in
//! [`kafkalab_sim::group::assignor`]; this module reads the file (reporting mistakes as
//! `file:line:column: key: message`, like scenario files) and renders the result.

use crate::cli::{CmdResult, ExplainAssignArgs, io_error};
use crate::exit;
use kafkalab_sim::group::assignor::{Assignor, GroupAssignment, MemberSubscription, assign_group};
use kafkalab_sim::protocol::{ConsumerSubscription, NO_GENERATION, TopicPartition};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use toml::Spanned;

pub const LONG_ABOUT: &str = "Run one of Kafka's partition assignors on a group you describe, \
the way the group's leader runs it in a rebalance, and print each member's partitions in the \
order Kafka's assignor lists them.

The file names the strategy, the topics with their partition counts, and the members in the \
order the JoinGroup response lists them:

  strategy = \"cooperative-sticky\"   # range | roundrobin | sticky | cooperative-sticky
  [topics]
  t1 = 3                            # topic = partition count
  [[members]]
  id = \"consumer1\"
  instance = \"instance1\"            # optional group.instance.id (static membership)
  topics = [\"t1\"]
  owned = [\"t1-0\", \"t1-1\"]          # optional: partitions owned before this rebalance
  generation = 10                   # optional: generation of `owned` (default 1 with owned, else -1)

`owned` and `generation` only matter to the sticky assignors: a partition claimed by two \
members of the same generation is taken from both; otherwise the higher generation keeps \
it. Where Kafka's result depends on Java HashMap iteration order (which sticky member keeps \
an extra partition, the order of topics in a range list), that order is reproduced.

For cooperative-sticky the output is the first rebalance: a partition that changes owner is \
withheld until its old owner has revoked it, and the `withheld:` line names who owns it now \
and who gets it in the follow-up rebalance.

Mistakes in the file are reported as file:line:column with the key at fault.";

pub const AFTER_LONG_HELP: &str = "Examples:
  kafkalab explain assign --input group.toml
  kafkalab explain assign --input group.toml --json";

/// The file, one to one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignFile {
    strategy: Spanned<String>,
    topics: BTreeMap<String, Spanned<i64>>,
    members: Spanned<Vec<Spanned<MemberSpec>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberSpec {
    id: Spanned<String>,
    instance: Option<Spanned<String>>,
    topics: Spanned<Vec<Spanned<String>>>,
    owned: Option<Vec<Spanned<String>>>,
    generation: Option<i32>,
}

/// A validated input: what the leader's assignor is given.
#[derive(Debug)]
pub struct AssignInput {
    pub strategy: Assignor,
    pub partitions_per_topic: BTreeMap<Arc<str>, i32>,
    /// In file order, which is the JoinGroup-response order.
    pub members: Vec<MemberSubscription>,
}

/// A mistake in the file, located as precisely as possible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        f.write_str(self.message.trim_end())
    }
}

impl std::error::Error for InputError {}

/// Maps byte offsets of the file to line and column.
struct Locator<'a> {
    file: &'a str,
    text: &'a str,
}

impl Locator<'_> {
    fn error(&self, span: &Range<usize>, key: &str, message: impl Into<String>) -> InputError {
        let before = &self.text[..span.start.min(self.text.len())];
        InputError {
            file: self.file.to_string(),
            line: before.matches('\n').count() + 1,
            column: before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1,
            key: Some(key.to_string()).filter(|k| !k.is_empty()),
            message: message.into(),
        }
    }

    /// A toml/serde error; the key is read off the line it points at.
    fn toml_error(&self, e: &toml::de::Error) -> InputError {
        let span = e.span().unwrap_or(0..0);
        let line_start = self.text[..span.start.min(self.text.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let line = self.text[line_start..].lines().next().unwrap_or("");
        let key = line
            .split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"').to_string())
            .filter(|k| !k.starts_with('['))
            .unwrap_or_default();
        self.error(&span, &key, e.message())
    }
}

/// Parses and validates an assign input. `file` labels errors.
pub fn parse(text: &str, file: &str) -> Result<AssignInput, InputError> {
    let loc = Locator { file, text };
    let raw: AssignFile = toml::from_str(text).map_err(|e| loc.toml_error(&e))?;
    let strategy = Assignor::from_name(raw.strategy.get_ref()).ok_or_else(|| {
        let names: Vec<&str> = Assignor::ALL.iter().map(|a| a.name()).collect();
        loc.error(
            &raw.strategy.span(),
            "strategy",
            format!(
                "unknown assignor `{}`; expected one of {}",
                raw.strategy.get_ref(),
                names.join(", ")
            ),
        )
    })?;
    let partitions_per_topic = topics(&loc, &raw.topics)?;
    if raw.members.get_ref().is_empty() {
        return Err(loc.error(
            &raw.members.span(),
            "members",
            "a group needs at least one member",
        ));
    }
    let mut members: Vec<MemberSubscription> = Vec::new();
    for spec in raw.members.get_ref() {
        let member = member(&loc, spec.get_ref(), &partitions_per_topic)?;
        claim_identity(&loc, spec.get_ref(), &members)?;
        members.push(member);
    }
    Ok(AssignInput {
        strategy,
        partitions_per_topic,
        members,
    })
}

fn topics(
    loc: &Locator<'_>,
    raw: &BTreeMap<String, Spanned<i64>>,
) -> Result<BTreeMap<Arc<str>, i32>, InputError> {
    let mut topics = BTreeMap::new();
    for (name, count) in raw {
        let legal = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if name.is_empty() || !legal {
            return Err(loc.error(
                &count.span(),
                name,
                "a topic name may only contain ASCII letters, digits, '.', '_' and '-'",
            ));
        }
        let partitions = i32::try_from(*count.get_ref())
            .ok()
            .filter(|c| *c >= 1)
            .ok_or_else(|| {
                loc.error(
                    &count.span(),
                    name,
                    format!("partition count must be between 1 and {}", i32::MAX),
                )
            })?;
        topics.insert(Arc::from(name.as_str()), partitions);
    }
    if topics.is_empty() {
        return Err(loc.error(
            &(0..0),
            "topics",
            "add at least one topic: `[topics]` then `t1 = 3`",
        ));
    }
    Ok(topics)
}

fn known_topics(topics: &BTreeMap<Arc<str>, i32>) -> String {
    topics.keys().map(|t| &**t).collect::<Vec<_>>().join(", ")
}

fn member(
    loc: &Locator<'_>,
    spec: &MemberSpec,
    counts: &BTreeMap<Arc<str>, i32>,
) -> Result<MemberSubscription, InputError> {
    if spec.id.get_ref().is_empty() {
        return Err(loc.error(&spec.id.span(), "id", "a member id must not be empty"));
    }
    if spec.topics.get_ref().is_empty() {
        return Err(loc.error(
            &spec.topics.span(),
            "topics",
            "a member must subscribe to at least one topic (an empty subscription leaves the group)",
        ));
    }
    let mut subscribed: Vec<Arc<str>> = Vec::new();
    for topic in spec.topics.get_ref() {
        let name = topic.get_ref().as_str();
        if !counts.contains_key(name) {
            let message = format!(
                "unknown topic `{name}`; known topics: {}",
                known_topics(counts)
            );
            return Err(loc.error(&topic.span(), "topics", message));
        }
        if subscribed.iter().any(|t| &**t == name) {
            return Err(loc.error(&topic.span(), "topics", format!("`{name}` is listed twice")));
        }
        subscribed.push(Arc::from(name));
    }
    let mut owned: Vec<TopicPartition> = Vec::new();
    for entry in spec.owned.iter().flatten() {
        let tp = owned_partition(loc, entry, counts)?;
        if owned.contains(&tp) {
            return Err(loc.error(&entry.span(), "owned", format!("`{tp}` is listed twice")));
        }
        owned.push(tp);
    }
    // As Kafka's tests: owned partitions come with generation 1 unless stated.
    let default_generation = if spec.owned.is_some() {
        1
    } else {
        NO_GENERATION
    };
    Ok(MemberSubscription {
        member_id: Arc::from(spec.id.get_ref().as_str()),
        group_instance_id: spec
            .instance
            .as_ref()
            .map(|i| Arc::from(i.get_ref().as_str())),
        subscription: ConsumerSubscription {
            topics: subscribed,
            owned_partitions: owned,
            generation_id: spec.generation.unwrap_or(default_generation),
        },
    })
}

/// `"t1-0"` → partition 0 of `t1`; topic names may contain `-`, so split at the last one.
fn owned_partition(
    loc: &Locator<'_>,
    entry: &Spanned<String>,
    counts: &BTreeMap<Arc<str>, i32>,
) -> Result<TopicPartition, InputError> {
    let text = entry.get_ref().as_str();
    let err = |message: String| loc.error(&entry.span(), "owned", message);
    let Some((topic, partition)) = text
        .rsplit_once('-')
        .and_then(|(t, p)| Some((t, p.parse::<i32>().ok()?)))
    else {
        return Err(err(format!(
            "`{text}` is not a partition; write `topic-N`, like `t1-0`"
        )));
    };
    let Some(&count) = counts.get(topic) else {
        return Err(err(format!(
            "`{text}`: unknown topic `{topic}`; known topics: {}",
            known_topics(counts)
        )));
    };
    if !(0..count).contains(&partition) {
        return Err(err(format!(
            "`{text}`: topic `{topic}` has {count} partition(s), numbered 0 to {}",
            count - 1
        )));
    }
    Ok(TopicPartition::new(topic, partition))
}

/// Member ids are unique in a group, and so are instance ids (the coordinator fences a
/// second member with the same `group.instance.id`).
fn claim_identity(
    loc: &Locator<'_>,
    spec: &MemberSpec,
    earlier: &[MemberSubscription],
) -> Result<(), InputError> {
    let id = spec.id.get_ref().as_str();
    if earlier.iter().any(|m| &*m.member_id == id) {
        return Err(loc.error(&spec.id.span(), "id", format!("duplicate member id `{id}`")));
    }
    if let Some(instance) = &spec.instance {
        let name = instance.get_ref().as_str();
        if earlier
            .iter()
            .any(|m| m.group_instance_id.as_deref() == Some(name))
        {
            let message = format!("duplicate group.instance.id `{name}`: Kafka fences one of them");
            return Err(loc.error(&instance.span(), "instance", message));
        }
    }
    Ok(())
}

/// The assignor's answer, ready to print.
#[derive(Debug)]
pub struct AssignOutcome {
    pub input: AssignInput,
    pub result: GroupAssignment,
}

impl AssignOutcome {
    pub fn run(input: AssignInput) -> Self {
        let result = assign_group(input.strategy, &input.partitions_per_topic, &input.members);
        AssignOutcome { input, result }
    }

    fn partitions_of(&self, member_id: &str) -> &[TopicPartition] {
        self.result
            .assignment
            .get(member_id)
            .map_or(&[], Vec::as_slice)
    }

    /// One line per member in file order, then the withheld line for cooperative-sticky.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for m in &self.input.members {
            let parts = self.partitions_of(&m.member_id);
            let list = if parts.is_empty() {
                "(none)".to_string()
            } else {
                join(parts)
            };
            text.push_str(&format!("{}: {list}\n", m.member_id));
        }
        if self.input.strategy == Assignor::CooperativeSticky {
            text.push_str(&format!("withheld: {}\n", self.withheld_text()));
        }
        text
    }

    fn withheld_text(&self) -> String {
        if self.result.withheld.is_empty() {
            return "(none)".to_string();
        }
        let entries: Vec<String> = self
            .result
            .withheld
            .iter()
            .map(|(tp, next_owner)| {
                let owners: Vec<&str> = self
                    .input
                    .members
                    .iter()
                    .filter(|m| m.subscription.owned_partitions.contains(tp))
                    .map(|m| &*m.member_id)
                    .collect();
                let owned_by = if owners.is_empty() {
                    String::new()
                } else {
                    format!("owned by {}, ", owners.join(" and "))
                };
                format!("{tp} ({owned_by}to {next_owner} in the follow-up rebalance)")
            })
            .collect();
        entries.join("; ")
    }

    /// `{"strategy", "assignment": {member: [partitions]}}`, plus `"withheld"` for
    /// cooperative-sticky.
    pub fn to_json(&self) -> serde_json::Value {
        let assignment: serde_json::Map<String, serde_json::Value> = self
            .input
            .members
            .iter()
            .map(|m| {
                let parts: Vec<String> = self
                    .partitions_of(&m.member_id)
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                (m.member_id.to_string(), parts.into())
            })
            .collect();
        let mut json = serde_json::json!({
            "strategy": self.input.strategy.name(),
            "assignment": assignment,
        });
        if self.input.strategy == Assignor::CooperativeSticky {
            let withheld: Vec<String> = self
                .result
                .withheld
                .keys()
                .map(ToString::to_string)
                .collect();
            json["withheld"] = withheld.into();
        }
        json
    }
}

/// Reads, validates and runs `path`: the text (or one JSON line) to print, or an exit code
/// with a message — `USAGE` for a missing or malformed file, `ERROR` if it cannot be read.
pub fn explain_file(path: &Path, json: bool) -> Result<String, (u8, String)> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        let code = if e.kind() == std::io::ErrorKind::NotFound {
            exit::USAGE
        } else {
            exit::ERROR
        };
        (code, format!("cannot read `{name}`: {e}"))
    })?;
    let input = parse(&text, &name).map_err(|e| (exit::USAGE, e.to_string()))?;
    let outcome = AssignOutcome::run(input);
    Ok(if json {
        format!("{}\n", outcome.to_json())
    } else {
        outcome.to_text()
    })
}

fn join(parts: &[TopicPartition]) -> String {
    parts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `kafkalab explain assign`: prints what [`explain_file`] returns.
pub(crate) fn explain_assign(args: &ExplainAssignArgs, out: &mut dyn Write) -> CmdResult {
    let text = crate::assign::explain_file(&args.input, args.json)?;
    out.write_all(text.as_bytes()).map_err(io_error)?;
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const FILE: &str = "group.toml";

    fn parse_ok(text: &str) -> AssignInput {
        parse(text, FILE).unwrap_or_else(|e| panic!("{e}"))
    }

    fn parse_err(text: &str) -> InputError {
        match parse(text, FILE) {
            Ok(input) => panic!("expected an error, got {input:?}"),
            Err(e) => e,
        }
    }

    const GOOD: &str = "strategy = \"cooperative-sticky\"
[topics]
topic = 3
[[members]]
id = \"consumer1\"
topics = [\"topic\"]
owned = [\"topic-0\", \"topic-1\"]
[[members]]
id = \"consumer2\"
topics = [\"topic\"]
owned = [\"topic-0\", \"topic-2\"]
[[members]]
id = \"consumer3\"
topics = [\"topic\"]
owned = []
";

    #[test]
    fn owned_partitions_default_to_generation_one() {
        let input = parse_ok(GOOD);
        assert_eq!(input.strategy, Assignor::CooperativeSticky);
        let generations: Vec<i32> = input
            .members
            .iter()
            .map(|m| m.subscription.generation_id)
            .collect();
        assert_eq!(generations, [1, 1, 1]);
        let fresh = parse_ok(
            "strategy = \"range\"\n[topics]\nt = 1\n[[members]]\nid = \"a\"\ntopics = [\"t\"]\n",
        );
        assert_eq!(fresh.members[0].subscription.generation_id, NO_GENERATION);
    }

    #[test]
    fn the_withheld_line_names_owners_and_the_next_owner() {
        // Vector C4.1: topic-0 is claimed by consumer1 and consumer2 in one generation.
        let outcome = AssignOutcome::run(parse_ok(GOOD));
        assert_eq!(
            outcome.to_text(),
            "consumer1: topic-1\nconsumer2: topic-2\nconsumer3: (none)\n\
             withheld: topic-0 (owned by consumer1 and consumer2, to consumer3 in the \
             follow-up rebalance)\n"
        );
        let json = outcome.to_json();
        assert_eq!(json["withheld"], serde_json::json!(["topic-0"]));
        assert_eq!(json["assignment"]["consumer3"], serde_json::json!([]));
    }

    #[test]
    fn errors_name_line_column_key_and_valid_values() {
        let e = parse_err(
            "strategy = \"sticcky\"\n[topics]\nt = 1\n[[members]]\nid = \"a\"\ntopics = [\"t\"]\n",
        );
        assert_eq!(
            (e.line, e.column, e.key.as_deref()),
            (1, 12, Some("strategy"))
        );
        assert!(
            e.message
                .contains("range, roundrobin, sticky, cooperative-sticky"),
            "{e}"
        );

        let e = parse_err(
            "strategy = \"range\"\n[topics]\nt = 2\n[[members]]\nid = \"a\"\ntopics = [\"t\"]\nowned = [\"t-2\"]\n",
        );
        assert_eq!((e.line, e.key.as_deref()), (7, Some("owned")));
        assert!(e.message.contains("numbered 0 to 1"), "{e}");

        let e = parse_err(
            "strategy = \"range\"\n[topics]\nt = 2\n[[members]]\nid = \"a\"\ntopics = [\"t\", \"u\"]\n",
        );
        assert_eq!((e.line, e.key.as_deref()), (6, Some("topics")));
        assert!(e.to_string().starts_with("group.toml:6:"), "{e}");

        let e = parse_err(
            "strategy = \"range\"\n[topics]\nt = 2\n[[members]]\nid = \"a\"\ntopics = [\"t\"]\n[[members]]\nid = \"a\"\ntopics = [\"t\"]\n",
        );
        assert_eq!((e.line, e.key.as_deref()), (8, Some("id")));

        let e = parse_err(
            "strategy = \"range\"\n[topics]\nt = 0\n[[members]]\nid = \"a\"\ntopics = [\"t\"]\n",
        );
        assert_eq!((e.line, e.key.as_deref()), (3, Some("t")));

        let e = parse_err("strategy = \"range\"\nstickiness = 1\n[topics]\nt = 1\n");
        assert_eq!((e.line, e.key.as_deref()), (2, Some("stickiness")));
        assert!(e.message.contains("unknown field"), "{e}");
    }

    #[test]
    fn topic_names_with_dashes_split_at_the_last_one() {
        let input = parse_ok(
            "strategy = \"sticky\"\n[topics]\n\"my-topic\" = 2\n[[members]]\nid = \"a\"\ntopics = [\"my-topic\"]\nowned = [\"my-topic-1\"]\ngeneration = 4\n",
        );
        let m = &input.members[0];
        assert_eq!(
            m.subscription.owned_partitions,
            [TopicPartition::new("my-topic", 1)]
        );
        assert_eq!(m.subscription.generation_id, 4);
        let all: BTreeSet<&str> = input.partitions_per_topic.keys().map(|t| &**t).collect();
        assert_eq!(all, BTreeSet::from(["my-topic"]));
    }
}
