//! Simulated time.
//!
//! The kernel counts time in microseconds so that network latencies below a millisecond can be
//! modelled, while every Kafka config keeps its own unit (`request.timeout.ms` stays in ms).
//! Nothing in a run reads a wall clock: `SimTime` only moves when the World pops an event.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A point on the simulated clock, in microseconds since the run started.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct SimTime(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub const fn from_micros(us: u64) -> Self {
        SimTime(us)
    }

    pub const fn from_millis(ms: u64) -> Self {
        SimTime(ms.saturating_mul(1_000))
    }

    pub const fn from_secs(s: u64) -> Self {
        SimTime(s.saturating_mul(1_000_000))
    }

    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Milliseconds, the unit of Kafka's configs and record timestamps.
    pub const fn as_millis(self) -> i64 {
        (self.0 / 1_000) as i64
    }

    pub const fn plus_micros(self, us: u64) -> Self {
        SimTime(self.0.saturating_add(us))
    }

    /// Adds a Kafka-style millisecond duration; negative values (Kafka's "-1 = never") saturate.
    pub const fn plus_millis(self, ms: i64) -> Self {
        if ms < 0 {
            SimTime::MAX
        } else {
            SimTime(self.0.saturating_add((ms as u64).saturating_mul(1_000)))
        }
    }
}

impl fmt::Display for SimTime {
    /// `12.345678s`: seconds with microsecond precision, the way the lab prints the clock.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// Parses a human duration such as `30s`, `500ms`, `2m`, `1h`, `250us` or `1.5s` into
/// microseconds. A bare number is rejected: a unit is always required, because a wrong guess
/// between ms and s is exactly the kind of silent mistake the lab should not make.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{text}` has no unit; write e.g. `500ms`, `30s`, `2m`"))?;
    let (number, unit) = text.split_at(split);
    let scale: u64 = match unit.trim() {
        "us" | "µs" => 1,
        "ms" => 1_000,
        "s" => 1_000_000,
        "m" | "min" => 60_000_000,
        "h" => 3_600_000_000,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`; valid units: us, ms, s, m, h"
            ));
        }
    };
    parse_scaled(number, scale).ok_or_else(|| format!("`{text}` is not a valid duration"))
}

/// Decimal `number` times `scale`, computed exactly in integers (no float rounding).
fn parse_scaled(number: &str, scale: u64) -> Option<u64> {
    let (whole, frac) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut total = whole.checked_mul(scale)?;
    let mut place = scale;
    for digit in frac.chars() {
        let d = u64::from(digit.to_digit(10)?);
        place /= 10;
        if place == 0 {
            return None; // finer than a microsecond
        }
        total = total.checked_add(d * place)?;
    }
    Some(total)
}

/// Formats microseconds the way `parse_duration` reads them, choosing the largest exact unit.
pub fn format_duration(us: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (3_600_000_000, "h"),
        (60_000_000, "m"),
        (1_000_000, "s"),
        (1_000, "ms"),
        (1, "us"),
    ];
    for (scale, unit) in UNITS {
        if us >= scale && us % scale == 0 {
            return format!("{}{unit}", us / scale);
        }
    }
    "0s".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("30s"), Ok(30_000_000));
        assert_eq!(parse_duration("500ms"), Ok(500_000));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000));
        assert_eq!(parse_duration("2m"), Ok(120_000_000));
        assert_eq!(parse_duration("250us"), Ok(250));
        assert!(parse_duration("30").unwrap_err().contains("no unit"));
        assert!(
            parse_duration("3 weeks")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_duration("0.0000001s").is_err());
    }

    #[test]
    fn durations_round_trip() {
        for us in [1, 1_000, 1_500_000, 60_000_000, 7_200_000_000] {
            assert_eq!(parse_duration(&format_duration(us)), Ok(us));
        }
    }
}
