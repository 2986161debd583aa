//! What `kafkalab run` reports: the run's identity, its summary numbers and each partition's
//! final state, as one JSON object (`--json`) or as text.

use crate::describe::{join_ids, leader_text};
use kafkalab_sim::Simulation;
use kafkalab_sim::history::Summary;
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
    pub partitions: Vec<PartitionReport>,
}

impl RunReport {
    pub fn of(sim: &Simulation) -> Self {
        let world = sim.world();
        let logs: BTreeMap<_, _> = sim.final_logs().into_iter().collect();
        // Every partition of the controller's image, even one without a readable log.
        let partitions = sim
            .metadata()
            .all_partitions()
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
        RunReport {
            scenario: sim.scenario().name.clone(),
            seed: sim.seed(),
            trace_hash: format!("{:016x}", world.trace_hash()),
            steps: world.steps(),
            sim_time_ms: world.now().as_millis(),
            summary: sim.summary(),
            partitions,
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
        let _ = writeln!(t, "Cluster     leader_elections {}", s.leader_elections);
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
