//! What `kafkalab run` reports: the run's identity, its summary numbers and each partition's
//! final state, as one JSON object (`--json`) or as text.

use kafkalab_sim::Simulation;
use kafkalab_sim::history::Summary;
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Clone, Debug, Serialize)]
pub struct PartitionReport {
    pub topic: String,
    pub partition: i32,
    pub leader: i32,
    pub log_start_offset: i64,
    pub high_watermark: i64,
    pub log_end_offset: i64,
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
        let partitions = sim
            .final_logs()
            .into_iter()
            .map(|(tp, log)| PartitionReport {
                topic: tp.topic.to_string(),
                partition: tp.partition,
                leader: sim.metadata().partition(&tp).map_or(-1, |p| p.leader),
                log_start_offset: log.log_start_offset(),
                high_watermark: log.high_watermark(),
                log_end_offset: log.log_end_offset(),
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
            "Records     produced {}  acked {}  failed {}  unknown {}  consumed {}",
            s.produced, s.acked, s.failed, s.unknown, s.consumed
        );
        let _ = writeln!(
            t,
            "Anomalies   lost_write {}  duplicate_in_log {}  unseen {}",
            s.lost_write, s.duplicate_in_log, s.unseen
        );
        let _ = writeln!(t);
        for p in &self.partitions {
            let _ = writeln!(
                t,
                "Topic: {}\tPartition: {}\tLeader: {}\tLogStartOffset: {}\tHighWatermark: {}\tLogEndOffset: {}",
                p.topic,
                p.partition,
                p.leader,
                p.log_start_offset,
                p.high_watermark,
                p.log_end_offset
            );
        }
        t
    }
}
