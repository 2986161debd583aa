//! What `kafkalab run` reports: the run's identity, its summary numbers, each partition's
//! final state and each consumer group's final assignment and lag, as one JSON object
//! (`--json`) or as text.

use crate::describe::{join_ids, leader_text};
use kafkalab_sim::history::Summary;
use kafkalab_sim::scenario::{Checked, Scope, expect};
use kafkalab_sim::{GroupView, Simulation};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One partition at the end of the run: the controller's record of it and its authoritative
/// log's offsets (-1 when no replica that could lead has a readable log).
#[derive(Clone, Debug, Serialize)]
pub struct PartitionReport {
    pub topic: String,
    pub partition: i32,
    /// -1 when the partition is offline.
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub leader_epoch: i32,
    pub log_start_offset: i64,
    pub high_watermark: i64,
    pub log_end_offset: i64,
    /// The same as `high_watermark`.
    pub hw: i64,
    /// The same as `log_end_offset`.
    pub leo: i64,
}

/// One consumer group at the end of the run, as its coordinator sees it (see
/// `kafkalab describe groups` for the full view).
#[derive(Clone, Debug, Serialize)]
pub struct GroupReport {
    pub group: String,
    /// `Empty`, `PreparingRebalance`, `CompletingRebalance`, `Stable` or `Dead`.
    pub state: &'static str,
    pub generation: i32,
    /// Each member's partitions (`orders-0`), by member id; a member with none has `[]`.
    pub assignment: BTreeMap<String, Vec<String>>,
    /// Per partition (`orders-0`) the group owns or has committed: log end offset (the HW)
    /// minus the committed offset; `null` when the group has committed nothing for it.
    pub lag: BTreeMap<String, Option<i64>>,
    /// The sum of the known lags.
    pub total_lag: i64,
}

impl GroupReport {
    pub fn of(g: &GroupView) -> Self {
        let assignment = g
            .members
            .iter()
            .map(|m| {
                let tps = m.assignment.iter().map(ToString::to_string).collect();
                (m.member_id.to_string(), tps)
            })
            .collect();
        let lag: BTreeMap<String, Option<i64>> = g
            .offsets
            .iter()
            .map(|o| (o.tp.to_string(), o.lag))
            .collect();
        GroupReport {
            group: g.group.to_string(),
            state: g.state,
            generation: g.generation,
            assignment,
            total_lag: lag.values().flatten().sum(),
            lag,
        }
    }
}

/// The summary of one run.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub scenario: String,
    pub seed: u64,
    /// The stable trace hash, as 16 hex digits.
    pub trace_hash: String,
    pub steps: u64,
    pub sim_time_ms: i64,
    #[serde(flatten)]
    pub summary: Summary,
    /// The user's topics' partitions only: internal topics (`__consumer_offsets`, 50
    /// partitions once a group exists) are left out.
    pub partitions: Vec<PartitionReport>,
    /// Every consumer group whose coordinator is up, by group id.
    pub groups: Vec<GroupReport>,
    /// The delivery checker's counts by Jepsen anomaly kind, judged from what clients
    /// observed (the top-level `lost_write`/`unseen` are judged against the final logs).
    pub anomalies: BTreeMap<&'static str, u64>,
    /// The scenario's `[expect]` checked against this run.
    pub expectations: ExpectationsReport,
}

/// A scenario's expectations checked against one run (`run --json`'s `expectations`, and
/// each line of `sweep --json`).
#[derive(Clone, Debug, Serialize)]
pub struct ExpectationsReport {
    /// False when the run stopped before the scenario's end (`--until`): expectations are
    /// claims about whole runs.
    pub checked: bool,
    /// False when `--config` or `--producer-config` changed the scenario: its expectations
    /// are the file's claims about itself, so they are reported but do not fail the run.
    pub enforced: bool,
    /// Whether every every-seed expectation holds (true when none was checked).
    pub ok: bool,
    /// Every expectation in file order: every-seed ones decide `ok`; some-seed ones say
    /// whether this seed is one of those a sweep looks for.
    pub results: Vec<Checked>,
}

impl ExpectationsReport {
    /// Checks the scenario's expectations against `summary` (if `checked`), enforced.
    pub fn of(
        expectations: &[kafkalab_sim::scenario::Expectation],
        summary: &Summary,
        checked: bool,
    ) -> Self {
        let results = if checked {
            expect::check(expectations, summary)
        } else {
            Vec::new()
        };
        let ok = results
            .iter()
            .all(|c| c.holds || c.scope == Scope::SomeSeed);
        ExpectationsReport {
            checked,
            enforced: true,
            ok,
            results,
        }
    }

    /// The every-seed expectations this run breaks.
    pub fn failed(&self) -> impl Iterator<Item = &Checked> {
        self.results
            .iter()
            .filter(|c| c.scope == Scope::EverySeed && !c.holds)
    }

    /// Whether the run must fail (exit code 3): a checked, enforced expectation broke.
    pub fn violated(&self) -> bool {
        self.checked && self.enforced && !self.ok
    }

    /// One line per expectation for the text report, after an `Expect` label.
    fn to_text(&self, t: &mut String) {
        for (i, c) in self.results.iter().enumerate() {
            let label = if i == 0 { "Expect" } else { "" };
            let verdict = match (c.scope, c.holds) {
                (Scope::EverySeed, true) => "ok",
                (Scope::EverySeed, false) if self.enforced => "FAILED",
                (Scope::EverySeed, false) => "fails (not enforced: the scenario was changed)",
                (Scope::SomeSeed, true) => "holds for this seed",
                (Scope::SomeSeed, false) => "not for this seed",
            };
            let expect = match c.scope {
                Scope::EverySeed => c.expect.clone(),
                Scope::SomeSeed => format!("{} (some seed)", c.expect),
            };
            let _ = writeln!(
                t,
                "{label:<12}{expect:<34} actual {:<6} {verdict}",
                c.actual
            );
        }
    }
}

impl RunReport {
    pub fn of(sim: &Simulation) -> Self {
        let world = sim.world();
        let logs: BTreeMap<_, _> = sim.final_logs().into_iter().collect();
        // Every partition of the controller's image, even one without a readable log.
        let partitions = sim
            .metadata()
            .all_partitions()
            .filter(|p| !p.tp.topic.starts_with("__"))
            .map(|p| {
                let log = logs.get(&p.tp);
                let (log_start_offset, high_watermark, log_end_offset) = log
                    .map_or((-1, -1, -1), |l| {
                        (l.log_start_offset(), l.high_watermark(), l.log_end_offset())
                    });
                PartitionReport {
                    topic: p.tp.topic.to_string(),
                    partition: p.tp.partition,
                    leader: p.leader,
                    replicas: p.replicas.clone(),
                    isr: p.isr.clone(),
                    leader_epoch: p.leader_epoch,
                    log_start_offset,
                    high_watermark,
                    log_end_offset,
                    hw: high_watermark,
                    leo: log_end_offset,
                }
            })
            .collect();
        let summary = sim.summary();
        RunReport {
            scenario: sim.scenario().name.clone(),
            seed: sim.seed(),
            trace_hash: format!("{:016x}", world.trace_hash()),
            steps: world.steps(),
            sim_time_ms: world.now().as_millis(),
            summary: summary.clone(),
            partitions,
            groups: sim.groups().iter().map(GroupReport::of).collect(),
            anomalies: kafkalab_sim::checker::counts(&sim.anomalies()),
            expectations: ExpectationsReport::of(
                &sim.scenario().expectations,
                &summary,
                world.now() >= sim.end_time(),
            ),
        }
    }

    /// The human-readable report.
    pub fn to_text(&self) -> String {
        let s = &self.summary;
        let mut t = String::new();
        let _ = writeln!(t, "Scenario    {}", self.scenario);
        let _ = writeln!(t, "Seed        {}", self.seed);
        let _ = writeln!(
            t,
            "Simulated   {}.{:03}s in {} steps",
            self.sim_time_ms / 1000,
            self.sim_time_ms % 1000,
            self.steps
        );
        let _ = writeln!(t, "Trace hash  {}", self.trace_hash);
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "Records     produced {}  acked {}  failed {}  unknown {}  pending {}  consumed {}",
            s.produced, s.acked, s.failed, s.unknown_outcome, s.pending, s.consumed
        );
        let _ = writeln!(
            t,
            "Anomalies   lost_write {}  duplicate_in_log {}  reordered {}  unseen {}",
            s.lost_write, s.duplicate_in_log, s.reordered, s.unseen
        );
        let found: Vec<String> = self
            .anomalies
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let found = if found.is_empty() {
            "none".to_string()
        } else {
            found.join("  ")
        };
        let _ = writeln!(t, "Checker     {found}");
        let _ = writeln!(t, "Cluster     leader_elections {}", s.leader_elections);
        if !self.groups.is_empty() {
            let _ = writeln!(
                t,
                "Consumers   rebalances {}  processed_twice {}  never_processed {}  rejected_commits {}",
                s.rebalances, s.processed_twice, s.never_processed, s.rejected_commits
            );
            let _ = writeln!(
                t,
                "Rebalance   paused_partitions {}  pause_ms {}  pause_records {}",
                s.rebalance_paused_partitions, s.rebalance_pause_ms, s.rebalance_pause_records
            );
        }
        for g in &self.groups {
            let _ = writeln!(
                t,
                "Group       {}  state {}  generation {}  members {}  total_lag {}",
                g.group,
                g.state,
                g.generation,
                g.assignment.len(),
                g.total_lag
            );
        }
        self.expectations.to_text(&mut t);
        let _ = writeln!(t);
        for p in &self.partitions {
            let _ = writeln!(
                t,
                "Topic: {}\tPartition: {}\tLeader: {}\tIsr: {}\tLeaderEpoch: {}\tLogStartOffset: {}\tHighWatermark: {}\tLogEndOffset: {}",
                p.topic,
                p.partition,
                leader_text(p.leader),
                join_ids(&p.isr),
                p.leader_epoch,
                p.log_start_offset,
                p.high_watermark,
                p.log_end_offset
            );
        }
        t
    }
}
