//! State queries: the small expression language a lesson asks the live simulation with.
//!
//! A prediction's answer and a task's completion are never typed into a lesson; they are
//! expressions over the run as it stands — `leader(orders, 0)`, `hw(orders, 0) >= 10`,
//! `partition_for_key(orders, "alice")`, `lost_write > 0` — evaluated when the checkpoint is
//! reached. So a lesson stays right whatever the seed, and a model change that alters the
//! story changes the expected answer with it.
//!
//! Grammar (lowest precedence first):
//!
//! ```text
//! expr  := and ("or" and)*
//! and   := not ("and" not)*
//! not   := "not" not | cmp
//! cmp   := sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum)?
//! sum   := atom (("+" | "-") atom)*
//! atom  := integer | "string" | name | name "(" args ")" | "(" expr ")"
//! ```
//!
//! A bare name is a summary number (`lost_write`, `duplicate`, `processed_twice`,
//! `rebalances`, ... — the keys of `kafkalab run --json`'s summary) or, inside a call, a word
//! (`orders` in `leader(orders, 0)`). See [`FUNCTIONS`] for the calls.

use crate::Simulation;
use crate::kernel::NodeStatus;
use crate::protocol::TopicPartition;
use std::fmt;
use std::sync::Arc;

/// What an expression evaluates to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Bool(bool),
    Str(String),
    List(Vec<Value>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::Bool(true) => f.write_str("yes"),
            Value::Bool(false) => f.write_str("no"),
            Value::Str(s) => f.write_str(s),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// The calls a query may make: `(name, arguments, what it returns)`, for docs and errors.
pub const FUNCTIONS: &[(&str, &str, &str)] = &[
    (
        "leader",
        "topic, partition",
        "the leader's broker id (-1 when offline)",
    ),
    ("epoch", "topic, partition", "the partition's leader epoch"),
    ("isr", "topic, partition", "the in-sync replicas, a list"),
    (
        "replicas",
        "topic, partition",
        "the assigned replicas, a list",
    ),
    ("hw", "topic, partition", "the leader's high watermark"),
    (
        "log_start",
        "topic, partition",
        "the leader's log start offset (-1 when offline)",
    ),
    (
        "leo",
        "topic, partition, broker",
        "that replica's log end offset",
    ),
    (
        "partition_for_key",
        "topic, key",
        "the partition the default partitioner picks (murmur2)",
    ),
    ("partitions", "topic", "the topic's partition count"),
    (
        "committed",
        "group, topic, partition",
        "the group's committed offset (-1 when none)",
    ),
    (
        "lag",
        "group, topic, partition",
        "log end offset minus committed (-1 when unknown)",
    ),
    (
        "assignment",
        "group, member",
        "the partitions the member (by client id) owns, a list",
    ),
    (
        "position",
        "consumer, topic, partition",
        "the next offset the consumer's poll() returns (-1 when it has none)",
    ),
    (
        "consumed_by",
        "consumer",
        "how many records the consumer's polls returned (re-reads included)",
    ),
    ("members", "group", "how many members the group has"),
    ("generation", "group", "the group's generation"),
    ("group_state", "group", "Stable, PreparingRebalance, ..."),
    ("coordinator", "group", "the group coordinator's broker id"),
    (
        "status",
        "node",
        "up, crashed, paused or removed (a node name, or a broker id)",
    ),
    (
        "link_cut",
        "node, node",
        "whether the link between the two nodes is cut (either way)",
    ),
    ("len", "list", "how many items"),
    (
        "contains",
        "list, value",
        "whether the list holds the value",
    ),
    ("time_ms", "", "simulated milliseconds since the start"),
];

/// A parse or evaluation error, with the expression it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError(pub String);

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A parsed expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Int(i64),
    Str(String),
    Name(String),
    Call(String, Vec<Expr>),
    Not(Box<Expr>),
    Binary(Box<Expr>, Op, Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Int(i64),
    Str(String),
    Name(String),
    Sym(&'static str),
}

fn tokenize(text: &str) -> Result<Vec<Token>, QueryError> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let digits: String = chars[start..i].iter().collect();
            let n = digits
                .parse()
                .map_err(|_| QueryError(format!("`{digits}` is too large a number")))?;
            tokens.push(Token::Int(n));
        } else if c == '"' {
            let start = i + 1;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += 1;
            }
            if i == chars.len() {
                return Err(QueryError("a string is not closed with `\"`".to_string()));
            }
            tokens.push(Token::Str(chars[start..i].iter().collect()));
            i += 1;
        } else if c.is_alphanumeric() || c == '_' || c == '-' || c == '.' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '-' | '.'))
            {
                i += 1;
            }
            tokens.push(Token::Name(chars[start..i].iter().collect()));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let sym = ["==", "!=", "<=", ">="]
                .into_iter()
                .find(|s| *s == two)
                .or_else(|| {
                    ["<", ">", "+", "(", ")", ","]
                        .into_iter()
                        .find(|s| s.starts_with(c))
                })
                .ok_or_else(|| QueryError(format!("unexpected `{c}`")))?;
            i += sym.len();
            tokens.push(Token::Sym(sym));
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn eat_sym(&mut self, sym: &str) -> bool {
        if matches!(self.peek(), Some(Token::Sym(s)) if *s == sym) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Token::Name(n)) if n == word) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and()?;
        while self.eat_word("or") {
            left = Expr::Binary(Box::new(left), Op::Or, Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.not()?;
        while self.eat_word("and") {
            left = Expr::Binary(Box::new(left), Op::And, Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, QueryError> {
        if self.eat_word("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, QueryError> {
        let left = self.sum()?;
        let ops = [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("<", Op::Lt),
            (">", Op::Gt),
        ];
        for (sym, op) in ops {
            if self.eat_sym(sym) {
                return Ok(Expr::Binary(Box::new(left), op, Box::new(self.sum()?)));
            }
        }
        Ok(left)
    }

    fn sum(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.atom()?;
        loop {
            if self.eat_sym("+") {
                left = Expr::Binary(Box::new(left), Op::Add, Box::new(self.atom()?));
            } else if matches!(self.peek(), Some(Token::Name(n)) if n == "-") {
                self.at += 1;
                left = Expr::Binary(Box::new(left), Op::Sub, Box::new(self.atom()?));
            } else {
                return Ok(left);
            }
        }
    }

    fn atom(&mut self) -> Result<Expr, QueryError> {
        let token = self.peek().cloned();
        self.at += 1;
        match token {
            Some(Token::Int(n)) => Ok(Expr::Int(n)),
            Some(Token::Str(s)) => Ok(Expr::Str(s)),
            Some(Token::Sym("(")) => {
                let inner = self.expr()?;
                if !self.eat_sym(")") {
                    return Err(QueryError("a `(` is not closed".to_string()));
                }
                Ok(inner)
            }
            Some(Token::Name(name)) => {
                if !self.eat_sym("(") {
                    return Ok(Expr::Name(name));
                }
                let mut args = Vec::new();
                if !self.eat_sym(")") {
                    loop {
                        args.push(self.expr()?);
                        if self.eat_sym(")") {
                            break;
                        }
                        if !self.eat_sym(",") {
                            return Err(QueryError(format!(
                                "in `{name}(...)`: expected `,` or `)`"
                            )));
                        }
                    }
                }
                check_call(&name, args.len())?;
                Ok(Expr::Call(name, args))
            }
            Some(Token::Sym(s)) => Err(QueryError(format!("unexpected `{s}`"))),
            None => Err(QueryError("the expression ends too soon".to_string())),
        }
    }
}

/// A call's name and argument count must be one of [`FUNCTIONS`].
fn check_call(name: &str, args: usize) -> Result<(), QueryError> {
    let Some((_, params, _)) = FUNCTIONS.iter().find(|(n, _, _)| *n == name) else {
        let names: Vec<&str> = FUNCTIONS.iter().map(|(n, _, _)| *n).collect();
        return Err(QueryError(format!(
            "unknown query `{name}(...)`; known: {}",
            names.join(", ")
        )));
    };
    let wanted = if params.is_empty() {
        0
    } else {
        params.split(',').count()
    };
    if args != wanted {
        return Err(QueryError(format!(
            "`{name}` takes {wanted} argument(s) ({params}), not {args}"
        )));
    }
    Ok(())
}

/// Parses `text`; bare names must be summary numbers or `yes`/`no`/`true`/`false`.
pub fn parse(text: &str) -> Result<Expr, QueryError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser { tokens, at: 0 };
    let expr = parser.expr()?;
    if let Some(extra) = parser.peek() {
        return Err(QueryError(format!(
            "unexpected {extra:?} after the expression"
        )));
    }
    check_names(&expr, false)?;
    Ok(expr)
}

fn check_names(expr: &Expr, in_call: bool) -> Result<(), QueryError> {
    match expr {
        Expr::Name(name) if !in_call && !is_literal_word(name) => {
            let metrics = crate::history::Summary::metric_names();
            if metrics.iter().any(|m| m == name) {
                Ok(())
            } else {
                Err(QueryError(format!(
                    "unknown name `{name}`; a bare name is a summary number: {}",
                    metrics.join(", ")
                )))
            }
        }
        Expr::Call(_, args) => args.iter().try_for_each(|a| check_names(a, true)),
        Expr::Not(e) => check_names(e, in_call),
        Expr::Binary(a, _, b) => {
            check_names(a, in_call)?;
            check_names(b, in_call)
        }
        _ => Ok(()),
    }
}

fn is_literal_word(name: &str) -> bool {
    matches!(name, "yes" | "no" | "true" | "false")
}

/// Evaluates `expr` against the run as it stands.
pub fn eval(expr: &Expr, sim: &Simulation) -> Result<Value, QueryError> {
    match expr {
        Expr::Int(n) => Ok(Value::Int(*n)),
        Expr::Str(s) => Ok(Value::Str(s.clone())),
        Expr::Name(name) => match name.as_str() {
            "yes" | "true" => Ok(Value::Bool(true)),
            "no" | "false" => Ok(Value::Bool(false)),
            _ => {
                let metrics = sim.summary().metrics();
                metrics
                    .get(name)
                    .map(|v| Value::Int(*v as i64))
                    .ok_or_else(|| QueryError(format!("unknown summary number `{name}`")))
            }
        },
        Expr::Not(e) => Ok(Value::Bool(!truthy(&eval(e, sim)?)?)),
        Expr::Binary(a, op, b) => {
            let left = eval(a, sim)?;
            match op {
                Op::Or if truthy(&left)? => return Ok(Value::Bool(true)),
                Op::And if !truthy(&left)? => return Ok(Value::Bool(false)),
                _ => {}
            }
            let right = eval(b, sim)?;
            binary(&left, *op, &right)
        }
        Expr::Call(name, args) => call(name, args, sim),
    }
}

/// Parses and evaluates `text` as a condition.
pub fn holds(expr: &Expr, sim: &Simulation) -> Result<bool, QueryError> {
    truthy(&eval(expr, sim)?)
}

fn truthy(v: &Value) -> Result<bool, QueryError> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(QueryError(format!(
            "`{other}` is not a condition (yes or no); compare it, e.g. `... > 0`"
        ))),
    }
}

fn binary(left: &Value, op: Op, right: &Value) -> Result<Value, QueryError> {
    use Value::{Bool, Int};
    Ok(match (op, left, right) {
        (Op::Or, _, _) | (Op::And, _, _) => Bool(truthy(right)?),
        (Op::Eq, a, b) => Bool(same(a, b)),
        (Op::Ne, a, b) => Bool(!same(a, b)),
        (Op::Lt, Int(a), Int(b)) => Bool(a < b),
        (Op::Le, Int(a), Int(b)) => Bool(a <= b),
        (Op::Gt, Int(a), Int(b)) => Bool(a > b),
        (Op::Ge, Int(a), Int(b)) => Bool(a >= b),
        (Op::Add, Int(a), Int(b)) => Int(a.saturating_add(*b)),
        (Op::Sub, Int(a), Int(b)) => Int(a.saturating_sub(*b)),
        (op, a, b) => {
            return Err(QueryError(format!(
                "cannot apply {op:?} to `{a}` and `{b}`: both must be numbers"
            )));
        }
    })
}

/// Equality, where a list equals another with the same items in any order (an ISR `[1, 3]`
/// is `[3, 1]`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::List(x), Value::List(y)) => {
            let (mut x, mut y) = (x.clone(), y.clone());
            x.sort_by_key(|v| v.to_string());
            y.sort_by_key(|v| v.to_string());
            x == y
        }
        _ => a == b,
    }
}

/// A call's argument as a word (`orders`), a string or a number.
fn word(arg: &Expr, sim: &Simulation) -> Result<String, QueryError> {
    match arg {
        Expr::Name(n) => Ok(n.clone()),
        other => Ok(eval(other, sim)?.to_string()),
    }
}

fn int(arg: &Expr, sim: &Simulation) -> Result<i64, QueryError> {
    match eval(arg, sim)? {
        Value::Int(n) => Ok(n),
        other => Err(QueryError(format!("`{other}` is not a number"))),
    }
}

fn topic_partition(
    args: &[Expr],
    sim: &Simulation,
) -> Result<(TopicPartition, Option<i32>), QueryError> {
    let topic = word(&args[0], sim)?;
    let count = topic_count(&topic, sim)?;
    let p = int(&args[1], sim)?;
    if !(0..i64::from(count)).contains(&p) {
        return Err(QueryError(format!(
            "`{topic}` has partitions 0..{}, not {p}",
            count - 1
        )));
    }
    Ok((
        TopicPartition::new(Arc::<str>::from(topic.as_str()), p as i32),
        Some(count),
    ))
}

fn topic_count(topic: &str, sim: &Simulation) -> Result<i32, QueryError> {
    sim.metadata()
        .topics
        .get(topic)
        .map(|parts| parts.len() as i32)
        .ok_or_else(|| {
            let known: Vec<&str> = sim
                .metadata()
                .topics
                .keys()
                .filter(|t| !t.starts_with("__"))
                .map(|t| &**t)
                .collect();
            QueryError(format!(
                "unknown topic `{topic}`; topics: {}",
                known.join(", ")
            ))
        })
}

/// A node by name (`broker-2`, `consumer-1`) or, for a number, the broker with that id.
fn node_id(arg: &Expr, sim: &Simulation) -> Result<crate::kernel::NodeId, QueryError> {
    let world = sim.world();
    let found = match arg {
        Expr::Name(n) => world.node_id(n),
        other => match eval(other, sim)? {
            Value::Int(id) => sim.broker_node(id as i32),
            Value::Str(s) => world.node_id(&s),
            v => return Err(QueryError(format!("`{v}` is not a node"))),
        },
    };
    found.ok_or_else(|| {
        let names: Vec<&str> = world.nodes().map(|(_, n, _, _)| n).collect();
        QueryError(format!(
            "unknown node `{}`; nodes: {} (or a broker id)",
            word(arg, sim).unwrap_or_default(),
            names.join(", ")
        ))
    })
}

fn call(name: &str, args: &[Expr], sim: &Simulation) -> Result<Value, QueryError> {
    let ints = |v: &[i32]| Value::List(v.iter().map(|n| Value::Int(i64::from(*n))).collect());
    let partition = |args: &[Expr]| -> Result<crate::protocol::kraft::PartitionRecord, QueryError> {
        let (tp, _) = topic_partition(args, sim)?;
        sim.metadata()
            .partition(&tp)
            .cloned()
            .ok_or_else(|| QueryError(format!("{tp} does not exist yet")))
    };
    // The partition leader's log (`None` while the partition has no live leader's log).
    let leader_log = |args: &[Expr]| -> Result<Option<&crate::log::UnifiedLog>, QueryError> {
        let p = partition(args)?;
        Ok(sim
            .replica_logs(&p.tp)
            .into_iter()
            .find(|(b, _)| *b == p.leader)
            .map(|(_, log)| log))
    };
    let consumer = |arg: &Expr| -> Result<
        (crate::kernel::NodeId, &crate::clients::consumer::Consumer),
        QueryError,
    > {
        let id = node_id(arg, sim)?;
        match sim.world().node(id).and_then(|n| n.as_consumer()) {
            Some(c) => Ok((id, c)),
            None => Err(QueryError(format!(
                "`{}` is not a consumer",
                sim.world().name(id)
            ))),
        }
    };
    let group = |args: &[Expr]| -> Result<crate::simulation::GroupView, QueryError> {
        let name = word(&args[0], sim)?;
        let groups = sim.groups();
        let known: Vec<String> = groups.iter().map(|g| g.group.to_string()).collect();
        groups
            .into_iter()
            .find(|g| *g.group == *name)
            .ok_or_else(|| {
                QueryError(format!(
                    "no group `{name}` (yet); groups: {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ))
            })
    };
    let group_offset =
        |args: &[Expr]| -> Result<crate::simulation::PartitionOffsetView, QueryError> {
            let g = group(args)?;
            let (tp, _) = topic_partition(&args[1..], sim)?;
            Ok(g.offsets.iter().find(|o| o.tp == tp).cloned().unwrap_or(
                crate::simulation::PartitionOffsetView {
                    tp,
                    committed: None,
                    log_end_offset: None,
                    lag: None,
                    member_id: None,
                },
            ))
        };
    Ok(match name {
        "leader" => Value::Int(i64::from(partition(args)?.leader)),
        "epoch" => Value::Int(i64::from(partition(args)?.leader_epoch)),
        "isr" => ints(&partition(args)?.isr),
        "replicas" => ints(&partition(args)?.replicas),
        "hw" => Value::Int(leader_log(args)?.map_or(-1, |log| log.high_watermark())),
        "log_start" => Value::Int(leader_log(args)?.map_or(-1, |log| log.log_start_offset())),
        "leo" => {
            let (tp, _) = topic_partition(args, sim)?;
            let broker = int(&args[2], sim)? as i32;
            let logs = sim.replica_logs(&tp);
            let Some((_, log)) = logs.iter().find(|(b, _)| *b == broker) else {
                return Err(QueryError(format!(
                    "broker {broker} holds no replica of {tp}"
                )));
            };
            Value::Int(log.log_end_offset())
        }
        "partition_for_key" => {
            let topic = word(&args[0], sim)?;
            let count = topic_count(&topic, sim)?;
            let key = word(&args[1], sim)?;
            Value::Int(i64::from(crate::utils::partition_for_key(
                key.as_bytes(),
                count,
            )))
        }
        "partitions" => Value::Int(i64::from(topic_count(&word(&args[0], sim)?, sim)?)),
        "committed" => Value::Int(group_offset(args)?.committed.unwrap_or(-1)),
        "lag" => Value::Int(group_offset(args)?.lag.unwrap_or(-1)),
        "assignment" => {
            let g = group(args)?;
            let member = word(&args[1], sim)?;
            let owned = g
                .members
                .iter()
                .find(|m| *m.client_id == *member)
                .map(|m| {
                    let mut parts: Vec<i32> = m.assignment.iter().map(|tp| tp.partition).collect();
                    parts.sort_unstable();
                    parts
                })
                .unwrap_or_default();
            ints(&owned)
        }
        "position" => {
            let (_, consumer) = consumer(&args[0])?;
            let (tp, _) = topic_partition(&args[1..], sim)?;
            Value::Int(consumer.position(&tp).unwrap_or(-1))
        }
        "consumed_by" => {
            let (id, _) = consumer(&args[0])?;
            let polled = sim
                .history()
                .observations
                .log
                .iter()
                .map(|o| match o {
                    crate::checker::Observation::Poll {
                        consumer, records, ..
                    } if *consumer == id => records.len() as i64,
                    _ => 0,
                })
                .sum();
            Value::Int(polled)
        }
        "members" => Value::Int(group(args)?.members.len() as i64),
        "generation" => Value::Int(i64::from(group(args)?.generation)),
        "group_state" => Value::Str(group(args)?.state.to_string()),
        "coordinator" => Value::Int(i64::from(group(args)?.coordinator)),
        "link_cut" => {
            let a = node_id(&args[0], sim)?;
            let b = node_id(&args[1], sim)?;
            let network = sim.world().network();
            Value::Bool(network.is_cut(a, b) || network.is_cut(b, a))
        }
        "status" => {
            let id = node_id(&args[0], sim)?;
            let world = sim.world();
            Value::Str(
                match world.status(id) {
                    Some(NodeStatus::Running) => "up",
                    Some(NodeStatus::Crashed) => "crashed",
                    Some(NodeStatus::Paused) => "paused",
                    Some(NodeStatus::Removed) | None => "removed",
                }
                .to_string(),
            )
        }
        "len" => match eval(&args[0], sim)? {
            Value::List(items) => Value::Int(items.len() as i64),
            other => return Err(QueryError(format!("`len` needs a list, not `{other}`"))),
        },
        "contains" => match eval(&args[0], sim)? {
            Value::List(items) => {
                let wanted = eval(&args[1], sim)?;
                Value::Bool(items.iter().any(|v| same(v, &wanted)))
            }
            other => {
                return Err(QueryError(format!(
                    "`contains` needs a list, not `{other}`"
                )));
            }
        },
        "time_ms" => Value::Int((sim.world().now().as_micros() / 1_000) as i64),
        other => return Err(QueryError(format!("unknown query `{other}`"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_precedence_and_rejects_unknown_names() {
        let e = parse("leader(orders, 0) != 1 and hw(orders, 0) >= 10 or lost_write > 0")
            .expect("parses");
        assert!(matches!(e, Expr::Binary(_, Op::Or, _)), "{e:?}");
        assert!(
            parse("leeder(orders, 0)")
                .unwrap_err()
                .0
                .contains("known: leader")
        );
        assert!(
            parse("leader(orders)")
                .unwrap_err()
                .0
                .contains("takes 2 argument")
        );
        assert!(
            parse("lost_writes > 0")
                .unwrap_err()
                .0
                .contains("lost_write")
        );
        assert!(parse("hw(orders, 0) >").is_err());
        assert!(parse("(1 + 2").unwrap_err().0.contains("not closed"));
        assert!(parse("\"open").is_err());
    }

    #[test]
    fn evaluates_against_a_run() {
        let scenario = match crate::scenario::load_builtin("leader-failure") {
            Some(Ok(s)) => Arc::new(s),
            other => panic!("{other:?}"),
        };
        let mut sim = Simulation::new(scenario, 1);
        sim.run_until(crate::kernel::SimTime::from_micros(5_000_000));
        let q = |text: &str| eval(&parse(text).expect(text), &sim);
        let leader = match q("leader(orders, 0)") {
            Ok(Value::Int(n)) => n,
            other => panic!("{other:?}"),
        };
        assert!((1..=3).contains(&leader));
        assert_eq!(q("len(isr(orders, 0))"), Ok(Value::Int(3)));
        assert_eq!(
            q("contains(isr(orders, 0), leader(orders, 0))"),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            q("partition_for_key(orders, \"alice\")"),
            Ok(Value::Int(i64::from(crate::utils::partition_for_key(
                b"alice", 3
            ))))
        );
        assert_eq!(
            q("hw(orders, 0) <= leo(orders, 0, leader(orders, 0))"),
            Ok(Value::Bool(true))
        );
        assert_eq!(q("status(broker-1)"), Ok(Value::Str("up".to_string())));
        assert_eq!(
            q("status(leader(orders, 0)) == \"up\""),
            Ok(Value::Bool(true))
        );
        assert_eq!(q("link_cut(broker-1, controller)"), Ok(Value::Bool(false)));
        assert!(
            q("status(broker-9)")
                .unwrap_err()
                .0
                .contains("nodes: broker-1")
        );
        assert_eq!(q("lost_write"), Ok(Value::Int(0)));
        assert!(parse("time_ms").unwrap_err().0.contains("summary number"));
        assert_eq!(q("time_ms() >= 5000"), Ok(Value::Bool(true)));
        assert!(
            q("leader(nope, 0)")
                .unwrap_err()
                .0
                .contains("topics: orders")
        );
        assert!(
            q("leader(orders, 7)")
                .unwrap_err()
                .0
                .contains("partitions 0..2")
        );
        assert!(holds(&parse("hw(orders, 0)").expect("parses"), &sim).is_err());
    }

    #[test]
    fn reads_consumer_positions_and_log_bounds() {
        let scenario = match crate::scenario::load_builtin("quickstart") {
            Some(Ok(s)) => Arc::new(s),
            other => panic!("{other:?}"),
        };
        let mut sim = Simulation::new(scenario, 1);
        let q = |sim: &Simulation, text: &str| eval(&parse(text).expect(text), sim);
        // Before consumer-1 starts (4 s) it is not in the run yet.
        sim.run_until(crate::kernel::SimTime::from_micros(2_000_000));
        assert!(
            q(&sim, "consumed_by(consumer-1)")
                .unwrap_err()
                .0
                .contains("unknown node `consumer-1`")
        );
        sim.run_until(crate::kernel::SimTime::from_micros(8_000_000));
        for p in 0..3 {
            // Read to the end: the position is the next offset, the high watermark.
            assert_eq!(
                q(
                    &sim,
                    &format!(
                        "position(consumer-1, quickstart-events, {p}) == hw(quickstart-events, {p})"
                    )
                ),
                Ok(Value::Bool(true))
            );
            // Nothing deleted: the log starts at 0.
            assert_eq!(
                q(&sim, &format!("log_start(quickstart-events, {p})")),
                Ok(Value::Int(0))
            );
        }
        assert_eq!(q(&sim, "consumed_by(consumer-1)"), Ok(Value::Int(30)));
        assert_eq!(
            q(&sim, "consumed_by(consumer-1) == consumed"),
            Ok(Value::Bool(true))
        );
        assert!(
            q(&sim, "position(broker-1, quickstart-events, 0)")
                .unwrap_err()
                .0
                .contains("not a consumer")
        );
        assert!(
            q(&sim, "consumed_by(producer-1)")
                .unwrap_err()
                .0
                .contains("not a consumer")
        );
    }

    #[test]
    fn log_start_moves_with_retention_not_with_compaction() {
        let scenario = match crate::scenario::load_builtin("retention-and-compaction") {
            Some(Ok(s)) => Arc::new(s),
            other => panic!("{other:?}"),
        };
        let mut sim = Simulation::new(scenario, 1);
        sim.run_until(crate::kernel::SimTime::from_micros(32_000_000));
        let q = |text: &str| eval(&parse(text).expect(text), &sim);
        // page-views' first segment is past retention.ms by the check at 30 s.
        assert_eq!(q("log_start(page-views, 0) > 0"), Ok(Value::Bool(true)));
        assert_eq!(
            q("log_start(page-views, 0) <= hw(page-views, 0)"),
            Ok(Value::Bool(true))
        );
        // Compaction has cleaned user-profiles by then, but never moves its log start.
        assert_eq!(q("log_start(user-profiles, 0)"), Ok(Value::Int(0)));
    }
}
