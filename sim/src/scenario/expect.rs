//! Expectations: what a scenario claims about its runs, checked against the run's summary.
//!
//! `[expect]` bounds summary numbers that every run must show (`lost_write = 0`): a
//! guarantee, such as "acks=all with min.insync.replicas = 2 loses nothing". Its
//! `[expect.some_seed]` table bounds numbers that at least one run of a sweep must show
//! (`processed_twice = ">0"`): a teaching claim about what *can* happen, such as "acks=1 can
//! lose acknowledged records", which depends on timing and so on the seed. `kafkalab run`
//! checks the first kind on its one seed; `kafkalab sweep` checks both over its seed range.
//!
//! The keys are the summary's own field names ([`Summary::metrics`]), so there is no second
//! list to keep in step with the report.

use super::load::{Locator, ScenarioError};
use super::spec::ExpectEntry;
use crate::history::Summary;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// The name of the `[expect]` sub-table whose bounds need to hold for one seed only.
pub const SOME_SEED: &str = "some_seed";

/// For which runs of a sweep an expectation must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// `[expect]`: every seed (and so every `kafkalab run`).
    EverySeed,
    /// `[expect.some_seed]`: at least one seed of a sweep.
    SomeSeed,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::EverySeed => "every seed",
            Scope::SomeSeed => "some seed",
        }
    }
}

/// A bound on one summary number. Counts are never negative, so bounds are on `u64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// `3` or `"=3"`.
    Exactly(u64),
    /// `">3"`.
    Above(u64),
    /// `">=3"`.
    AtLeast(u64),
    /// `"<3"`.
    Below(u64),
    /// `"<=3"`.
    AtMost(u64),
    /// `"2..5"` (2, 3 or 4, as a Rust range) or `"2..=5"` (up to 5).
    Range {
        start: u64,
        end: u64,
        inclusive: bool,
    },
}

/// A [`Bound`] constructor, by the operator that selects it.
type MakeBound = fn(u64) -> Bound;

/// What a malformed bound looks like fixed.
pub const BOUND_FORMS: &str = "an integer (exactly that many), or a string: \"=N\", \">N\", \
     \">=N\", \"<N\", \"<=N\", or a range \"A..B\" (A up to B-1) or \"A..=B\"";

impl Bound {
    /// Parses a comparison string: `">0"`, `">= 3"`, `"<5"`, `"=0"`, `"0..10"`, `"0..=10"`, `"4"`.
    pub fn parse(text: &str) -> Result<Bound, String> {
        let t = text.trim();
        let number = |s: &str| -> Result<u64, String> {
            let s = s.trim();
            if s.starts_with('-') {
                return Err(format!(
                    "`{text}`: summary numbers are counts, 0 or more; write {BOUND_FORMS}"
                ));
            }
            s.parse::<u64>()
                .map_err(|_| format!("`{text}` is not a bound; write {BOUND_FORMS}"))
        };
        if let Some((start, end)) = t.split_once("..") {
            let (end, inclusive) = match end.strip_prefix('=') {
                Some(end) => (end, true),
                None => (end, false),
            };
            let (start, end) = (number(start)?, number(end)?);
            if end < start || (end == start && !inclusive) {
                return Err(format!(
                    "`{text}` is an empty range: no count can be in it (a range \"A..B\" holds A up to B-1)"
                ));
            }
            return Ok(Bound::Range {
                start,
                end,
                inclusive,
            });
        }
        // Two-character operators first, so `>=3` is not read as `>` and `=3`.
        const OPS: [(&str, MakeBound); 6] = [
            (">=", Bound::AtLeast),
            ("<=", Bound::AtMost),
            ("==", Bound::Exactly),
            (">", Bound::Above),
            ("<", Bound::Below),
            ("=", Bound::Exactly),
        ];
        let (make, rest): (MakeBound, &str) = OPS
            .iter()
            .find_map(|(op, make)| Some((*make, t.strip_prefix(op)?)))
            .unwrap_or((Bound::Exactly, t));
        let bound = make(number(rest)?);
        if bound == Bound::Below(0) {
            return Err(format!(
                "`{text}` can never hold: summary numbers are counts, 0 or more"
            ));
        }
        Ok(bound)
    }

    /// Whether `value` is within the bound.
    pub fn holds(self, value: u64) -> bool {
        match self {
            Bound::Exactly(n) => value == n,
            Bound::Above(n) => value > n,
            Bound::AtLeast(n) => value >= n,
            Bound::Below(n) => value < n,
            Bound::AtMost(n) => value <= n,
            Bound::Range {
                start,
                end,
                inclusive,
            } => value >= start && (value < end || (inclusive && value == end)),
        }
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Exactly(n) => write!(f, "= {n}"),
            Bound::Above(n) => write!(f, "> {n}"),
            Bound::AtLeast(n) => write!(f, ">= {n}"),
            Bound::Below(n) => write!(f, "< {n}"),
            Bound::AtMost(n) => write!(f, "<= {n}"),
            Bound::Range {
                start,
                end,
                inclusive,
            } => write!(f, "in {start}..{}{end}", if *inclusive { "=" } else { "" }),
        }
    }
}

/// One claim of a scenario: a bound on a summary number, for every seed or for some seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    /// A [`Summary`] field name (`lost_write`).
    pub metric: String,
    pub bound: Bound,
    pub scope: Scope,
}

impl fmt::Display for Expectation {
    /// `lost_write = 0`, `processed_twice > 0`, `rebalances in 2..4`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.metric, self.bound)
    }
}

/// An expectation checked against one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Checked {
    pub scope: Scope,
    /// The expectation as text: `lost_write = 0`.
    pub expect: String,
    pub metric: String,
    /// The run's value of `metric`.
    pub actual: u64,
    pub holds: bool,
}

/// Checks every expectation against a run's summary, in the scenario's order.
pub fn check(expectations: &[Expectation], summary: &Summary) -> Vec<Checked> {
    let metrics = summary.metrics();
    expectations
        .iter()
        .map(|e| {
            let actual = metrics.get(&e.metric).copied();
            debug_assert!(actual.is_some(), "the loader checked `{}`", e.metric);
            let actual = actual.unwrap_or_default();
            Checked {
                scope: e.scope,
                expect: e.to_string(),
                metric: e.metric.clone(),
                actual,
                holds: e.bound.holds(actual),
            }
        })
        .collect()
}

/// Validates the `[expect]` table: known summary names, well-formed bounds, and only the
/// `some_seed` sub-table. Expectations come back in file order.
pub(super) fn expectations(
    loc: &Locator,
    table: &BTreeMap<String, Spanned<ExpectEntry>>,
) -> Result<Vec<Expectation>, ScenarioError> {
    let names = Summary::metric_names();
    let mut out: Vec<(usize, Expectation)> = Vec::new();
    for (key, entry) in table {
        let span = entry.span();
        match (key.as_str(), entry.get_ref()) {
            (SOME_SEED, ExpectEntry::Table(inner)) => {
                for (metric, value) in inner {
                    let at = value.span().start;
                    let e = expectation(loc, &names, metric, value.get_ref(), at, Scope::SomeSeed)?;
                    out.push((at, e));
                }
            }
            (SOME_SEED, ExpectEntry::Bound(_)) => {
                return Err(loc.error(
                    key_at(loc, span.start, key),
                    Some(key),
                    "`some_seed` is a table of bounds that must hold for at least one seed of a \
                     sweep: write them under [expect.some_seed], e.g. processed_twice = \">0\"",
                ));
            }
            (_, ExpectEntry::Table(_)) => {
                return Err(loc.error(
                    key_at(loc, span.start, key),
                    Some(key),
                    format!(
                        "unknown table [expect.{key}]; the only sub-table is [expect.some_seed] \
                         (bounds for at least one seed of a sweep); bounds for every seed go \
                         directly under [expect]"
                    ),
                ));
            }
            (_, ExpectEntry::Bound(value)) => {
                let e = expectation(loc, &names, key, value, span.start, Scope::EverySeed)?;
                out.push((span.start, e));
            }
        }
    }
    out.sort_by_key(|(at, _)| *at);
    Ok(out.into_iter().map(|(_, e)| e).collect())
}

/// One `metric = bound` entry; `at` is the value's position in the file.
fn expectation(
    loc: &Locator,
    names: &[String],
    metric: &str,
    value: &toml::Value,
    at: usize,
    scope: Scope,
) -> Result<Expectation, ScenarioError> {
    if !names.iter().any(|n| n == metric) {
        let table = match scope {
            Scope::EverySeed => "[expect]",
            Scope::SomeSeed => "[expect.some_seed]",
        };
        return Err(loc.error(
            key_at(loc, at, metric),
            Some(metric),
            format!(
                "unknown summary number `{metric}` in {table}; valid (the numbers of `kafkalab \
                 run --json`): {}",
                names.join(", ")
            ),
        ));
    }
    let bound = match value {
        toml::Value::Integer(n) => u64::try_from(*n).map(Bound::Exactly).map_err(|_| {
            format!("{n}: summary numbers are counts, 0 or more; write {BOUND_FORMS}")
        }),
        toml::Value::String(text) => Bound::parse(text),
        other => Err(format!(
            "a bound is {BOUND_FORMS}; got a {}",
            other.type_str()
        )),
    }
    .map_err(|m| loc.error(at, Some(metric), m))?;
    Ok(Expectation {
        metric: metric.to_string(),
        bound,
        scope,
    })
}

/// Where `key` is written on the line that holds position `at` (the line of its value).
fn key_at(loc: &Locator, at: usize, key: &str) -> usize {
    let line_start = loc.line_start(at);
    loc.field_in(&(line_start..line_start), key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_parse_and_hold() {
        let cases: [(&str, Bound, &[u64], &[u64]); 8] = [
            (">0", Bound::Above(0), &[1, 9], &[0]),
            (">= 3", Bound::AtLeast(3), &[3, 4], &[2]),
            ("<5", Bound::Below(5), &[0, 4], &[5]),
            ("<=5", Bound::AtMost(5), &[5], &[6]),
            ("=0", Bound::Exactly(0), &[0], &[1]),
            ("7", Bound::Exactly(7), &[7], &[6, 8]),
            (
                "0..10",
                Bound::Range {
                    start: 0,
                    end: 10,
                    inclusive: false,
                },
                &[0, 9],
                &[10],
            ),
            (
                "2..=4",
                Bound::Range {
                    start: 2,
                    end: 4,
                    inclusive: true,
                },
                &[2, 4],
                &[1, 5],
            ),
        ];
        for (text, bound, inside, outside) in cases {
            assert_eq!(Bound::parse(text), Ok(bound), "{text}");
            assert!(inside.iter().all(|v| bound.holds(*v)), "{text}");
            assert!(!outside.iter().any(|v| bound.holds(*v)), "{text}");
        }
    }

    #[test]
    fn malformed_bounds_say_what_is_valid() {
        for text in ["", "lots", ">", "=> 3", "-1", "<0", "5..5", "5..2", "1..x"] {
            let e = Bound::parse(text).expect_err(text);
            assert!(e.contains(&format!("`{text}`")), "{text}: {e}");
        }
        assert!(Bound::parse("lots").unwrap_err().contains(">=N"));
    }

    #[test]
    fn expectations_print_as_written_in_the_report() {
        let e = Expectation {
            metric: "processed_twice".into(),
            bound: Bound::Above(0),
            scope: Scope::SomeSeed,
        };
        assert_eq!(e.to_string(), "processed_twice > 0");
    }
}
