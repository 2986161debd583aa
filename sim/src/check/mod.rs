//! Run checks: Kafka's safety guarantees restated as invariants checked after every step, and
//! a liveness check that the cluster converges once the faults have healed.
//!
//! Why a separate checker when the model already asserts its own invariants: a `debug_assert!`
//! sees one node, but Kafka's guarantees are about the *cluster* — two brokers never lead the
//! same epoch, a new leader holds everything committed, an `acks=all` acknowledgment is never
//! lost. Only an observer that sees every node can state them. So the checker is that
//! observer: after each step it reads the step's trace notes and, for the partitions and groups
//! those notes name, the brokers' state — never a scan of every log — and reports the first
//! step at which a guarantee broke, with the replay command to get there.
//!
//! - [`invariants`]: the six invariants, their exact conditions, and which built-in scenarios
//!   break which on purpose.
//! - [`liveness`]: after the timeline's last action, with every broker up and every link
//!   healed, the cluster must converge within a bound.
//!
//! Checks are off by default (interactive play stays fast); tests, `kafkalab run --invariants`
//! and sweeps turn them on with [`Simulation::set_invariants`](crate::Simulation) or run a
//! whole checked run with [`run_checked`].

mod committed;
mod generations;
pub mod invariants;
mod ledger;
pub mod liveness;

pub use invariants::InvariantChecker;
pub use liveness::{DEFAULT_LIVENESS_BOUND_US, Liveness, LivenessStatus};

use crate::Simulation;
use crate::kernel::SimTime;
use crate::protocol::TopicPartition;
use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// The invariants, by the name reports and tests use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Invariant {
    /// 1. A leader's high watermark never decreases within its leader epoch.
    HwMonotonic,
    /// 2. At most one broker leads a partition in a given leader epoch.
    SingleLeaderPerEpoch,
    /// 3. In-sync replicas hold every committed record (below the high watermark).
    IsrHoldsCommitted,
    /// 4. Replicas agree on the records below their high watermarks.
    CommittedPrefixAgrees,
    /// 5. An `acks=all` acknowledgment with `min.insync.replicas` ≥ 2 and clean elections
    ///    is never lost.
    AckedWriteDurable,
    /// 6. A consumer group has one generation active at a time.
    SingleGeneration,
}

impl Invariant {
    pub const ALL: [Invariant; 6] = [
        Invariant::HwMonotonic,
        Invariant::SingleLeaderPerEpoch,
        Invariant::IsrHoldsCommitted,
        Invariant::CommittedPrefixAgrees,
        Invariant::AckedWriteDurable,
        Invariant::SingleGeneration,
    ];

    /// The stable name: `hw-monotonic`, `single-leader-per-epoch`, ...
    pub fn name(self) -> &'static str {
        match self {
            Invariant::HwMonotonic => "hw-monotonic",
            Invariant::SingleLeaderPerEpoch => "single-leader-per-epoch",
            Invariant::IsrHoldsCommitted => "isr-holds-committed",
            Invariant::CommittedPrefixAgrees => "committed-prefix-agrees",
            Invariant::AckedWriteDurable => "acked-write-durable",
            Invariant::SingleGeneration => "single-generation",
        }
    }

    /// Its number in DESIGN §4 and issue 6.
    pub fn number(self) -> u8 {
        match self {
            Invariant::HwMonotonic => 1,
            Invariant::SingleLeaderPerEpoch => 2,
            Invariant::IsrHoldsCommitted => 3,
            Invariant::CommittedPrefixAgrees => 4,
            Invariant::AckedWriteDurable => 5,
            Invariant::SingleGeneration => 6,
        }
    }

    /// The guarantee in one line.
    pub fn statement(self) -> &'static str {
        match self {
            Invariant::HwMonotonic => "a leader's high watermark never decreases within its epoch",
            Invariant::SingleLeaderPerEpoch => "at most one leader per partition per leader epoch",
            Invariant::IsrHoldsCommitted => "in-sync replicas hold every committed record",
            Invariant::CommittedPrefixAgrees => "replicas agree on their committed records",
            Invariant::AckedWriteDurable => {
                "an acks=all write with min.insync.replicas >= 2 and clean elections is never lost"
            }
            Invariant::SingleGeneration => "a consumer group has one generation active at a time",
        }
    }

    pub fn parse(name: &str) -> Option<Invariant> {
        Invariant::ALL.into_iter().find(|i| i.name() == name)
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a violation is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    Partition(TopicPartition),
    Group(Arc<str>),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Partition(tp) => write!(f, "{}-{}", tp.topic, tp.partition),
            Subject::Group(g) => write!(f, "group {g}"),
        }
    }
}

/// One broken invariant: which, where, when, and what happened in a sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub invariant: Invariant,
    /// The step whose effects broke it.
    pub step: u64,
    pub time_us: u64,
    pub subject: Subject,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invariant {} ({}) violated at step {}, {}: {}: {}",
            self.invariant.number(),
            self.invariant,
            self.step,
            seconds(self.time_us),
            self.subject,
            self.detail
        )
    }
}

/// The violations one step produced, and which step that was.
#[derive(Debug)]
pub(crate) struct Found {
    pub step: u64,
    pub time_us: u64,
    pub violations: Vec<Violation>,
}

impl Found {
    pub fn new(step: u64, time_us: u64) -> Self {
        Found {
            step,
            time_us,
            violations: Vec::new(),
        }
    }

    pub fn add(&mut self, invariant: Invariant, subject: Subject, detail: String) {
        self.violations.push(Violation {
            invariant,
            step: self.step,
            time_us: self.time_us,
            subject,
            detail,
        });
    }
}

/// Simulated time for people: `10.235s`.
pub fn seconds(time_us: u64) -> String {
    format!(
        "{}.{:03}s",
        time_us / 1_000_000,
        (time_us % 1_000_000) / 1_000
    )
}

/// How a checked run ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Every invariant held; `liveness` says whether the cluster converged (or why that could
    /// not be judged).
    Clean { liveness: LivenessStatus },
    /// The run stopped at the first step that broke an invariant; these are that step's
    /// violations, the first one first.
    Violated { violations: Vec<Violation> },
    /// Every invariant held, but the cluster did not converge within the bound.
    LivenessFailed { liveness: LivenessStatus },
}

/// Runs `sim` to `until` with invariants and liveness on, stopping at the first violation:
/// the one call a test or a sweep needs per seed. Checks must be on from the start for the
/// invariants to see every step; this turns them on if they are not.
pub fn run_checked(sim: &mut Simulation, until: SimTime) -> Verdict {
    if !sim.invariants_enabled() {
        sim.set_invariants(true);
    }
    sim.run_until(until);
    verdict(sim)
}

/// The verdict of a run with the checks on, as of now: its first violating step, or the
/// liveness verdict (see [`Simulation::finish_liveness`]).
pub fn verdict(sim: &mut Simulation) -> Verdict {
    if let Some(first) = sim.first_violation() {
        let step = first.step;
        let violations = sim
            .violations()
            .iter()
            .filter(|v| v.step == step)
            .cloned()
            .collect();
        return Verdict::Violated { violations };
    }
    let liveness = sim.finish_liveness();
    match liveness {
        LivenessStatus::Failed { .. } => Verdict::LivenessFailed { liveness },
        _ => Verdict::Clean { liveness },
    }
}
