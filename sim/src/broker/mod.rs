//! The broker: Kafka's `KafkaApis` + `ReplicaManager` + `LogManager`, as one sans-IO node.
//!
//! A broker holds a `UnifiedLog` for every partition replica placed on it, answers Produce,
//! Fetch, ListOffsets and Metadata requests with Kafka's error codes, parks long-poll fetches
//! in a purgatory until data arrives or `max_wait_ms` passes, and runs the log manager's
//! periodic tasks: retention, the log cleaner and flushing.
//!
//! What survives a crash is exactly what a real broker keeps on disk: the logs. A power loss
//! also destroys each log's unflushed tail. Everything else (parked requests) is volatile.
//!
//! Simplification (until the replication issue): each partition has one replica, so the leader
//! is the whole ISR and its high watermark follows its log end offset.

mod apis;
pub mod config;

pub use config::BrokerConfig;

use crate::kernel::{CrashKind, NodeId, Out};
use crate::log::UnifiedLog;
use crate::metadata::ClusterMetadata;
use crate::node::{Input, KafkaNode, Note, Timer};
use crate::protocol::{FetchRequest, KafkaMsg, TopicPartition};
use config::INITIAL_TASK_DELAY_MS;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

type BrokerOut<'a, 'b> = &'a mut Out<'b, KafkaNode>;

/// A fetch parked until it can be answered (Kafka's `DelayedFetch`).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct DelayedFetch {
    from: NodeId,
    request: FetchRequest,
}

/// A Kafka broker.
#[derive(Clone, Debug, Serialize)]
pub struct Broker {
    config: BrokerConfig,
    #[serde(skip)]
    metadata: Arc<ClusterMetadata>,
    /// Durable: the partition logs hosted here.
    logs: BTreeMap<TopicPartition, UnifiedLog>,
    /// Volatile: the fetch purgatory.
    delayed_fetches: BTreeMap<u64, DelayedFetch>,
    next_delayed_id: u64,
}

impl Broker {
    /// A broker with an empty log for each replica the layout places on it.
    pub fn new(config: BrokerConfig, metadata: Arc<ClusterMetadata>) -> Self {
        let mut logs = BTreeMap::new();
        for (tp, layout) in metadata.all_partitions() {
            if layout.replicas.contains(&config.node_id)
                && let Some(topic) = metadata.topics.get(&tp.topic)
            {
                logs.insert(tp, UnifiedLog::new(topic.config.clone(), 0));
            }
        }
        Broker {
            config,
            metadata,
            logs,
            delayed_fetches: BTreeMap::new(),
            next_delayed_id: 0,
        }
    }

    // ----- getters -----

    pub fn id(&self) -> i32 {
        self.config.node_id
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    pub fn log(&self, tp: &TopicPartition) -> Option<&UnifiedLog> {
        self.logs.get(tp)
    }

    pub fn logs(&self) -> impl Iterator<Item = (&TopicPartition, &UnifiedLog)> {
        self.logs.iter()
    }

    pub fn is_leader(&self, tp: &TopicPartition) -> bool {
        self.metadata
            .partition(tp)
            .is_some_and(|p| p.leader == self.config.node_id)
    }

    /// Number of fetches waiting in purgatory.
    pub fn delayed_fetch_count(&self) -> usize {
        self.delayed_fetches.len()
    }

    // ----- handle_* inputs -----

    pub(crate) fn on_start(&mut self, out: BrokerOut<'_, '_>) {
        // A restarted sole replica is its own ISR: everything it holds is committed again.
        for (tp, log) in &mut self.logs {
            let leo = log.log_end_offset();
            if log.high_watermark() != leo {
                log.update_high_watermark(leo);
                out.note(Note::HwAdvanced {
                    tp: tp.clone(),
                    high_watermark: leo,
                });
            }
        }
        out.set_timer_ms(Timer::RetentionCheck, INITIAL_TASK_DELAY_MS);
        if self.config.log_cleaner_enable {
            out.set_timer_ms(Timer::CleanerTick, self.config.log_cleaner_backoff_ms);
        }
        if self.config.log_flush_scheduler_interval_ms != i64::MAX {
            out.set_timer_ms(
                Timer::FlushScheduler,
                self.config.log_flush_scheduler_interval_ms,
            );
        }
        if self.config.sim_os_flush_interval_ms > 0 {
            out.set_timer_ms(Timer::OsFlush, self.config.sim_os_flush_interval_ms);
        }
    }

    pub(crate) fn on_message(&mut self, from: NodeId, msg: KafkaMsg, out: BrokerOut<'_, '_>) {
        match msg {
            KafkaMsg::Produce(req) => self.handle_produce(from, req, out),
            KafkaMsg::Fetch(req) => self.handle_fetch(from, req, out),
            KafkaMsg::ListOffsets(req) => self.handle_list_offsets(from, req, out),
            KafkaMsg::Metadata(req) => {
                let resp = self
                    .metadata
                    .response(req.correlation_id, req.topics.as_deref());
                out.send(from, KafkaMsg::MetadataResponse(resp));
            }
            // Responses are for clients; a broker never asked.
            KafkaMsg::MetadataResponse(_)
            | KafkaMsg::ProduceResponse(_)
            | KafkaMsg::FetchResponse(_)
            | KafkaMsg::ListOffsetsResponse(_) => {}
        }
    }

    pub(crate) fn on_timer(&mut self, timer: Timer, out: BrokerOut<'_, '_>) {
        let now_ms = out.now_ms();
        match timer {
            Timer::RetentionCheck => {
                self.run_retention(now_ms, out);
                out.set_timer_ms(timer, self.config.log_retention_check_interval_ms);
            }
            Timer::CleanerTick => {
                self.run_cleaner(now_ms, out);
                out.set_timer_ms(timer, self.config.log_cleaner_backoff_ms);
            }
            Timer::FlushScheduler => {
                for log in self.logs.values_mut() {
                    log.maybe_flush(now_ms);
                }
                out.set_timer_ms(timer, self.config.log_flush_scheduler_interval_ms);
            }
            Timer::OsFlush => {
                for log in self.logs.values_mut() {
                    log.flush(now_ms);
                }
                out.set_timer_ms(timer, self.config.sim_os_flush_interval_ms);
            }
            Timer::DelayedFetchExpire(id) => self.expire_delayed_fetch(id, out),
            _ => {}
        }
    }

    pub(crate) fn on_input(&mut self, _input: Input, _out: BrokerOut<'_, '_>) {}

    /// A client's connection is gone: its parked fetches have no one to answer.
    pub(crate) fn on_disconnect(&mut self, peer: NodeId, out: BrokerOut<'_, '_>) {
        let gone: Vec<u64> = self
            .delayed_fetches
            .iter()
            .filter(|(_, d)| d.from == peer)
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            self.delayed_fetches.remove(&id);
            out.cancel_timer(Timer::DelayedFetchExpire(id));
        }
    }

    pub(crate) fn on_crash(&mut self, kind: CrashKind, out: BrokerOut<'_, '_>) {
        self.delayed_fetches.clear();
        if kind == CrashKind::PowerLoss {
            for (tp, log) in &mut self.logs {
                let records = log.lose_unflushed();
                if records > 0 {
                    out.note(Note::UnflushedLost {
                        tp: tp.clone(),
                        records,
                        log_end_offset: log.log_end_offset(),
                    });
                }
            }
        }
    }

    // ----- log manager tasks -----

    fn run_retention(&mut self, now_ms: i64, out: BrokerOut<'_, '_>) {
        for (tp, log) in &mut self.logs {
            let segments = log.delete_old_segments(now_ms);
            if segments > 0 {
                out.note(Note::SegmentsDeleted {
                    tp: tp.clone(),
                    segments,
                    log_start_offset: log.log_start_offset(),
                });
            }
        }
    }

    fn run_cleaner(&mut self, now_ms: i64, out: BrokerOut<'_, '_>) {
        for (tp, log) in &mut self.logs {
            if let Some(stats) = log.clean(now_ms) {
                out.note(Note::Compacted {
                    tp: tp.clone(),
                    records_removed: stats.records_removed,
                    tombstones_removed: stats.tombstones_removed,
                });
            }
        }
    }
}
