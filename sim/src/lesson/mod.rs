//! Lessons: the interactive Kafka course, one Markdown file per lesson.
//!
//! A lesson is Markdown with TOML front matter between `+++` lines (title, scenario, seed,
//! minutes), an introduction, then one `## ` section per step. Each step's section holds its
//! prose and one fenced `step` block (TOML) that says what the step does:
//!
//! ````markdown
//! ## Where does `alice` go?
//!
//! The default partitioner hashes the key with murmur2 ...
//!
//! ```step
//! actions = [{ action = "produce", producer = "producer-1", count = 10 }]
//! run = "2s"                      # or: until = "hw(orders, 0) >= 10"
//! [predict]
//! question = "Which partition holds the records with key alice?"
//! kind = "partition"
//! answer = "partition_for_key(orders, \"alice\")"
//! why = "murmur2(key) mod partitions: the same key always lands in the same partition."
//! ```
//! ````
//!
//! A step applies its `actions`, runs (`run` a duration, or `until` a condition), then stops
//! at its checkpoint: `observe = true` (read and continue), `[predict]` (a question whose
//! answer is a [`query`] over the live run, never a literal), or `[do]` (the learner acts; the
//! step completes when `until` holds; `solution` is what `--auto` does). Why a format of its
//! own rather than TOML alone: the prose is the lesson, and Markdown is where prose is written
//! and reviewed.
//!
//! The built-in lessons are `lessons/NN-name.md`, embedded at build time; a lesson may also be
//! loaded from a path (the binary does the I/O). Mistakes get the scenario loader's errors:
//! file, line, column, key and what would be valid.

pub mod play;
pub mod query;

use crate::scenario::{Action, ScenarioError};
use serde::Deserialize;
use std::ops::Range;

/// A lesson error: located like a scenario's (file, line, column, key, message).
pub type LessonError = ScenarioError;

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin_lessons.rs"));
}

/// The built-in lessons as `(file stem, Markdown text)`, in course order.
pub fn builtin() -> &'static [(&'static str, &'static str)] {
    builtin::LESSONS
}

/// A validated lesson.
#[derive(Clone, Debug)]
pub struct Lesson {
    /// The file stem without its number (`topics-partitions-offsets`).
    pub name: String,
    /// Its place in the course (from the `NN-` file prefix; 0 for a lesson loaded by path
    /// without one).
    pub number: u32,
    pub title: String,
    /// A built-in scenario's name or a path (relative to the lesson file).
    pub scenario: String,
    pub seed: u64,
    pub minutes: u32,
    /// Where it came from, for messages.
    pub source: String,
    /// The Markdown before the first step.
    pub intro: String,
    pub steps: Vec<Step>,
}

/// One step: prose, what happens, and where the learner stops.
#[derive(Clone, Debug)]
pub struct Step {
    pub title: String,
    /// The section's Markdown without its `step` block.
    pub prose: String,
    pub actions: Vec<Template>,
    pub advance: Advance,
    pub checkpoint: Checkpoint,
}

/// How far a step runs before its checkpoint.
#[derive(Clone, Debug)]
pub enum Advance {
    /// Not at all: the checkpoint is about the run as it stands.
    Stay,
    /// This much simulated time (µs).
    For(u64),
    /// Until the condition holds, for at most `timeout_us`.
    Until {
        text: String,
        condition: query::Expr,
        timeout_us: u64,
    },
}

#[derive(Clone, Debug)]
pub enum Checkpoint {
    Observe,
    Predict(Predict),
    Do(Task),
}

impl Checkpoint {
    pub fn kind(&self) -> &'static str {
        match self {
            Checkpoint::Observe => "observe",
            Checkpoint::Predict(_) => "predict",
            Checkpoint::Do(_) => "do",
        }
    }
}

/// What kind of answer a prediction takes, and so how the learner's text is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnswerKind {
    /// A whole number.
    Number,
    /// A broker id (`2`, `b2` or `broker-2`).
    Broker,
    /// A partition number (`1` or `orders-1`).
    Partition,
    /// One of `choices` (by text or by its number, from 1).
    Choice,
    /// Yes or no.
    YesNo,
}

impl AnswerKind {
    pub const NAMES: &'static [&'static str] =
        &["number", "broker", "partition", "choice", "yes-no"];
}

#[derive(Clone, Debug)]
pub struct Predict {
    pub question: String,
    pub kind: AnswerKind,
    pub choices: Vec<String>,
    pub answer_text: String,
    /// The right answer is this query's value once the run has gone on for `then`.
    pub answer: query::Expr,
    /// Shown after the learner answers.
    pub why: String,
    /// How long the run goes on after the answer, to show why (µs); the answer is the
    /// state at that point, so a question may be about what Kafka will do.
    pub then_us: u64,
}

#[derive(Clone, Debug)]
pub struct Task {
    pub task: String,
    pub until_text: String,
    pub until: query::Expr,
    pub hint: String,
    /// What `--auto` does to complete the step.
    pub solution: Vec<Template>,
    /// How long after an action the condition may take to hold (µs).
    pub within_us: u64,
}

/// An action whose string fields may hold `{query}` parts, filled from the live run when it
/// applies (`node = "broker-{leader(orders, 0)}"`).
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub table: toml::Table,
}

impl Template {
    /// The action with every `{query}` evaluated against `sim`.
    pub fn resolve(&self, sim: &crate::Simulation) -> Result<Action, String> {
        let mut table = self.table.clone();
        for (_, value) in table.iter_mut() {
            if let toml::Value::String(s) = value {
                *s = interpolate(s, |q| {
                    let expr = query::parse(q).map_err(|e| e.0)?;
                    query::eval(&expr, sim)
                        .map(|v| v.to_string())
                        .map_err(|e| e.0)
                })?;
            }
        }
        serde::Deserialize::deserialize(toml::Value::Table(table))
            .map_err(|e: toml::de::Error| e.message().to_string())
    }
}

/// `text` with each `{expr}` replaced by `eval(expr)`.
fn interpolate(
    text: &str,
    mut eval: impl FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out += &rest[..open];
        let Some(close) = rest[open..].find('}') else {
            return Err(format!("`{text}`: a `{{` is not closed with `}}`"));
        };
        out += &eval(&rest[open + 1..open + close])?;
        rest = &rest[open + close + 1..];
    }
    out += rest;
    Ok(out)
}

// ----- parsing -----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    title: String,
    scenario: String,
    seed: Option<u64>,
    #[serde(default = "default_minutes")]
    minutes: u32,
}

fn default_minutes() -> u32 {
    5
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepBlock {
    #[serde(default)]
    actions: Vec<toml::Table>,
    run: Option<String>,
    until: Option<String>,
    timeout: Option<String>,
    #[serde(default)]
    observe: bool,
    predict: Option<PredictBlock>,
    #[serde(rename = "do")]
    task: Option<DoBlock>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PredictBlock {
    question: String,
    kind: AnswerKind,
    #[serde(default)]
    choices: Vec<String>,
    answer: String,
    why: String,
    then: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DoBlock {
    task: String,
    until: String,
    hint: String,
    solution: Vec<toml::Table>,
    within: Option<String>,
}

/// Where things are in the lesson file, for located errors.
struct Locator<'a> {
    file: &'a str,
    text: &'a str,
}

impl Locator<'_> {
    fn error(&self, offset: usize, key: Option<&str>, message: impl Into<String>) -> LessonError {
        crate::scenario::error_at(self.file, self.text, offset, key, message.into())
    }

    /// A TOML error inside the block that starts at `base`.
    fn toml_error(&self, base: usize, e: &toml::de::Error) -> LessonError {
        let at = base + e.span().map_or(0, |s| s.start);
        let message = e.message().replace('\n', " ");
        let key = message
            .split_once("field `")
            .and_then(|(_, rest)| rest.split('`').next())
            .map(str::to_string);
        self.error(at, key.as_deref(), message)
    }

    /// The offset of `key = ...` inside the block at `block` (or the block's start).
    fn key_in(&self, block: &Range<usize>, key: &str) -> usize {
        let text = &self.text[block.clone()];
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let trimmed = line.trim_start();
            if trimmed.starts_with(key) && trimmed[key.len()..].trim_start().starts_with('=') {
                return block.start + offset + (line.len() - trimmed.len());
            }
            offset += line.len();
        }
        block.start
    }
}

/// Parses a lesson's text; `file` names it in errors (`lessons/01-topics.md` or a path).
pub fn parse_lesson(text: &str, file: &str) -> Result<Lesson, LessonError> {
    let loc = Locator { file, text };
    let (front, body_start) = front_matter(&loc)?;
    let front: FrontMatter =
        toml::from_str(&text[front.clone()]).map_err(|e| loc.toml_error(front.start, &e))?;
    let stem = std::path::Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("lesson");
    let (number, name) = match stem.split_once('-') {
        Some((n, rest)) if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() => {
            (n.parse().unwrap_or(0), rest.to_string())
        }
        _ => (0, stem.to_string()),
    };
    let sections = sections(&loc, body_start);
    let intro = text[body_start..sections.first().map_or(text.len(), |s| s.start)]
        .trim()
        .to_string();
    let mut steps = Vec::new();
    for section in &sections {
        steps.push(step(&loc, section)?);
    }
    if steps.is_empty() {
        return Err(loc.error(
            body_start,
            None,
            "a lesson needs steps: `## ` sections, each with a ```step block",
        ));
    }
    Ok(Lesson {
        name,
        number,
        title: front.title,
        scenario: front.scenario,
        seed: front.seed.unwrap_or(0),
        minutes: front.minutes,
        source: file.to_string(),
        intro,
        steps,
    })
}

/// The front matter's byte range (between the `+++` lines) and where the body starts.
fn front_matter(loc: &Locator) -> Result<(Range<usize>, usize), LessonError> {
    let text = loc.text;
    let first = text.trim_start_matches('\u{feff}');
    let skip = text.len() - first.len();
    if !first.starts_with("+++") {
        return Err(loc.error(
            0,
            None,
            "a lesson starts with TOML front matter between `+++` lines: title, scenario, seed, minutes",
        ));
    }
    let start = skip + first.find('\n').map_or(first.len(), |i| i + 1);
    let mut offset = start;
    for line in text[start..].split_inclusive('\n') {
        if line.trim_end() == "+++" {
            return Ok((start..offset, offset + line.len()));
        }
        offset += line.len();
    }
    Err(loc.error(0, None, "the front matter's closing `+++` line is missing"))
}

/// The `## ` sections of the body (outside code fences), by byte range.
fn sections(loc: &Locator, body_start: usize) -> Vec<Range<usize>> {
    let text = loc.text;
    let mut starts = Vec::new();
    let mut offset = body_start;
    let mut in_fence = false;
    for line in text[body_start..].split_inclusive('\n') {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence && line.starts_with("## ") {
            starts.push(offset);
        }
        offset += line.len();
    }
    starts
        .iter()
        .enumerate()
        .map(|(i, s)| *s..starts.get(i + 1).copied().unwrap_or(text.len()))
        .collect()
}

fn duration(loc: &Locator, at: usize, key: &str, text: &str) -> Result<u64, LessonError> {
    crate::kernel::parse_duration(text).map_err(|e| loc.error(at, Some(key), e.to_string()))
}

fn expr(loc: &Locator, at: usize, key: &str, text: &str) -> Result<query::Expr, LessonError> {
    query::parse(text).map_err(|e| loc.error(at, Some(key), format!("`{text}`: {e}")))
}

/// Checks a templated action: its `{query}` parts parse and the action's fields are valid
/// (with each query replaced by a placeholder of the right shape).
fn template(
    loc: &Locator,
    at: usize,
    key: &str,
    table: &toml::Table,
) -> Result<Template, LessonError> {
    let mut probe = table.clone();
    for (_, value) in probe.iter_mut() {
        if let toml::Value::String(s) = value {
            *s = interpolate(s, |q| {
                query::parse(q)
                    .map(|_| "0".to_string())
                    .map_err(|e| format!("`{q}`: {e}"))
            })
            .map_err(|e| loc.error(at, Some(key), e))?;
        }
    }
    let parsed: Result<Action, toml::de::Error> =
        serde::Deserialize::deserialize(toml::Value::Table(probe));
    if let Err(e) = parsed {
        return Err(loc.error(
            at,
            Some(key),
            format!(
                "{} (actions are those of a scenario's [[timeline]]: {})",
                e.message().replace('\n', " "),
                Action::NAMES.join(", ")
            ),
        ));
    }
    Ok(Template {
        table: table.clone(),
    })
}

fn step(loc: &Locator, section: &Range<usize>) -> Result<Step, LessonError> {
    let text = &loc.text[section.clone()];
    let title_line = text.lines().next().unwrap_or("");
    let title = title_line.trim_start_matches("## ").trim().to_string();
    // The ```step block.
    let mut block: Option<Range<usize>> = None;
    let mut fence_start: Option<(usize, bool)> = None;
    let mut prose = String::new();
    let mut offset = section.start;
    for line in text.split_inclusive('\n').skip(1) {
        let line_start = offset + title_line.len() + 1;
        offset += line.len();
        let trimmed = line.trim();
        match fence_start {
            None if trimmed.starts_with("```") => {
                let is_step = trimmed == "```step";
                if is_step && block.is_some() {
                    return Err(loc.error(
                        line_start,
                        None,
                        format!("step `{title}` has two ```step blocks; one per `## ` section"),
                    ));
                }
                fence_start = Some((line_start + line.len(), is_step));
                if !is_step {
                    prose += line;
                }
            }
            Some((start, is_step)) if trimmed == "```" => {
                if is_step {
                    block = Some(start..line_start);
                } else {
                    prose += line;
                }
                fence_start = None;
            }
            Some((_, true)) => {}
            _ => prose += line,
        }
    }
    let Some(block) = block else {
        return Err(loc.error(
            section.start,
            None,
            format!(
                "step `{title}` has no ```step block saying what it does (run, and a checkpoint: \
                 observe = true, [predict] or [do])"
            ),
        ));
    };
    let raw: StepBlock =
        toml::from_str(&loc.text[block.clone()]).map_err(|e| loc.toml_error(block.start, &e))?;
    let at = |key: &str| loc.key_in(&block, key);
    let actions = raw
        .actions
        .iter()
        .map(|t| template(loc, at("actions"), "actions", t))
        .collect::<Result<Vec<_>, _>>()?;
    let advance = match (&raw.run, &raw.until) {
        (Some(_), Some(_)) => {
            return Err(loc.error(
                at("until"),
                Some("until"),
                "give `run` (a duration) or `until` (a condition), not both",
            ));
        }
        (Some(run), None) => Advance::For(duration(loc, at("run"), "run", run)?),
        (None, Some(until)) => Advance::Until {
            text: until.clone(),
            condition: expr(loc, at("until"), "until", until)?,
            timeout_us: match &raw.timeout {
                Some(t) => duration(loc, at("timeout"), "timeout", t)?,
                None => 60_000_000,
            },
        },
        (None, None) => Advance::Stay,
    };
    let checkpoints = usize::from(raw.observe)
        + usize::from(raw.predict.is_some())
        + usize::from(raw.task.is_some());
    if checkpoints != 1 {
        return Err(loc.error(
            block.start,
            None,
            format!(
                "step `{title}` needs exactly one checkpoint: `observe = true`, a [predict] \
                 table or a [do] table (it has {checkpoints})"
            ),
        ));
    }
    let checkpoint = if let Some(p) = raw.predict {
        Checkpoint::Predict(predict(loc, &block, p)?)
    } else if let Some(d) = raw.task {
        let solution = d
            .solution
            .iter()
            .map(|t| template(loc, at("solution"), "solution", t))
            .collect::<Result<Vec<_>, _>>()?;
        if solution.is_empty() {
            return Err(loc.error(
                at("solution"),
                Some("solution"),
                "a [do] step needs a `solution`: the actions `--auto` applies to complete it",
            ));
        }
        Checkpoint::Do(Task {
            task: d.task,
            until: expr(loc, at("until"), "until", &d.until)?,
            until_text: d.until,
            hint: d.hint,
            solution,
            within_us: match &d.within {
                Some(t) => duration(loc, at("within"), "within", t)?,
                None => 60_000_000,
            },
        })
    } else {
        Checkpoint::Observe
    };
    Ok(Step {
        title,
        prose: prose.trim().to_string(),
        actions,
        advance,
        checkpoint,
    })
}

fn predict(loc: &Locator, block: &Range<usize>, p: PredictBlock) -> Result<Predict, LessonError> {
    let at = |key: &str| loc.key_in(block, key);
    match (p.kind, p.choices.len()) {
        (AnswerKind::Choice, n) if n < 2 => {
            return Err(loc.error(
                at("choices"),
                Some("choices"),
                "a `choice` prediction needs `choices`, at least two",
            ));
        }
        (AnswerKind::Choice, _) | (_, 0) => {}
        (kind, _) => {
            return Err(loc.error(
                at("choices"),
                Some("choices"),
                format!("`choices` belong to kind = \"choice\", not {kind:?}"),
            ));
        }
    }
    Ok(Predict {
        question: p.question,
        kind: p.kind,
        choices: p.choices,
        answer: expr(loc, at("answer"), "answer", &p.answer)?,
        answer_text: p.answer,
        why: p.why,
        then_us: match &p.then {
            Some(t) => duration(loc, at("then"), "then", t)?,
            None => 0,
        },
    })
}

/// A built-in lesson by number (`1`), full stem (`01-topics-partitions-offsets`) or name
/// (`topics-partitions-offsets`).
pub fn load_builtin(which: &str) -> Option<Result<Lesson, LessonError>> {
    let wanted_number: Option<u32> = which.parse().ok();
    builtin().iter().find_map(|(stem, text)| {
        let (number, name) = stem.split_once('-').unwrap_or(("", stem));
        let hit = *stem == which
            || name == which
            || wanted_number.is_some_and(|n| number.parse::<u32>().ok() == Some(n));
        hit.then(|| parse_lesson(text, &format!("lessons/{stem}.md")))
    })
}

#[cfg(test)]
mod tests;
