//! The broker: Kafka's `KafkaApis` + `ReplicaManager` + `LogManager` + `BrokerLifecycleManager`,
//! as one sans-IO node.
//!
//! - [`apis`]: Produce (with the `acks=all` purgatory), Fetch from consumers and followers
//!   (with the long-poll purgatory and the leader's divergence check), ListOffsets, Metadata.
//! - [`partition`]: the leader's ISR and high-watermark rules (Kafka's `Partition`).
//! - [`fetcher`]: the follower side: fetching from leaders, appending, truncating by leader
//!   epoch (KIP-101/279) or, with the pre-KIP-101 setting, to the high watermark.
//! - [`lifecycle`]: registration, heartbeats, replicating `__cluster_metadata` from the
//!   controller and acting on it (become leader / become follower), AlterPartition.
//!
//! What survives a crash is what a real broker keeps on disk: the logs, the high-watermark
//! checkpoint and its copy of the metadata log. A power loss also destroys each log's unflushed
//! tail. Everything else — partition roles, follower states, parked requests — is rebuilt
//! after a restart, once the broker has registered again and caught up with the metadata log.

mod apis;
pub mod config;
mod fetcher;
mod group;
mod lifecycle;
pub mod partition;
mod producer_ids;

pub use config::{BrokerConfig, FollowerTruncation};
pub use partition::LeaderPartition;

use crate::group::coordinator::GroupCoordinator;
use crate::kernel::{CrashKind, NodeId, Out};
use crate::log::{LogConfig, UnifiedLog};
use crate::metadata::MetadataImage;
use crate::node::{Input, KafkaNode, Note, Timer};
use crate::protocol::{FetchRequest, KafkaMsg, ProducePartitionResponse, TopicPartition};
use config::INITIAL_TASK_DELAY_MS;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

type BrokerOut<'a, 'b> = &'a mut Out<'b, KafkaNode>;

/// The `Truncated` reason of a follower that fell below the leader's log start and starts
/// over there: it removes records *below* the new offset (gone from the leader by retention),
/// unlike every other truncation, which removes records at and above it. The invariant
/// checker tells the two apart by this reason.
pub const TRUNCATED_BELOW_LEADER_LOG_START: &str =
    "out of range: below the leader's log start, start over there";

/// A fetch parked until it can be answered (Kafka's `DelayedFetch`).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct DelayedFetch {
    from: NodeId,
    request: FetchRequest,
}

/// An `acks=all` produce parked until the HW passes it (Kafka's `DelayedProduce`).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct DelayedProduce {
    from: NodeId,
    correlation_id: i32,
    /// Each partition's response so far and, while waiting, the offset the HW must reach.
    partitions: Vec<(ProducePartitionResponse, Option<i64>)>,
}

/// A partition this broker follows.
#[derive(Clone, Debug, Serialize)]
pub struct FollowerPartition {
    /// `NO_LEADER` while the partition is offline.
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// Send `last_fetched_epoch` with the next fetch (always with KIP-279; once with KIP-101).
    validate_epoch: bool,
    /// Waiting for the leader's offsets after `OFFSET_OUT_OF_RANGE`.
    resolving_out_of_range: bool,
}

/// The fetcher for one leader broker (Kafka's `ReplicaFetcherThread`).
#[derive(Clone, Debug, Default, Serialize)]
struct Fetcher {
    in_flight: Option<i32>,
    backing_off: bool,
}

/// A request this broker sent and awaits an answer to.
#[derive(Clone, Debug, PartialEq, Serialize)]
enum Outstanding {
    Registration,
    Heartbeat,
    MetadataFetch,
    AlterPartition(TopicPartition),
    ReplicaFetch(i32),
    LeaderOffsets(i32, TopicPartition),
    AllocateProducerIds,
    CreateTopics,
}

/// A Kafka broker.
#[derive(Clone, Debug, Serialize)]
pub struct Broker {
    config: BrokerConfig,
    #[serde(skip)]
    topic_configs: Arc<BTreeMap<Arc<str>, LogConfig>>,
    controller: NodeId,
    // --- durable ---
    logs: BTreeMap<TopicPartition, UnifiedLog>,
    /// The `replication-offset-checkpoint` file.
    hw_checkpoint: BTreeMap<TopicPartition, i64>,
    /// The local copy of `__cluster_metadata`, replayed.
    image: MetadataImage,
    incarnation: u64,
    /// The cluster was already running when the run began: the first start skips
    /// registration and uses this broker epoch.
    bootstrap_epoch: Option<i64>,
    // --- volatile ---
    broker_epoch: Option<i64>,
    fenced: bool,
    /// Caught up with the metadata log since this start, so partition roles are applied.
    ready: bool,
    controller_high_watermark: i64,
    leaders: BTreeMap<TopicPartition, LeaderPartition>,
    followers: BTreeMap<TopicPartition, FollowerPartition>,
    fetchers: BTreeMap<i32, Fetcher>,
    outstanding: BTreeMap<i32, Outstanding>,
    next_correlation_id: i32,
    delayed_fetches: BTreeMap<u64, DelayedFetch>,
    /// The parked fetches watching each partition (`DelayedOperationPurgatory`'s watch
    /// keys): a change to a partition re-checks only the fetches that asked for it.
    fetch_watchers: BTreeMap<TopicPartition, BTreeSet<u64>>,
    delayed_produces: BTreeMap<u64, DelayedProduce>,
    next_delayed_id: u64,
    /// The block of producer ids this broker hands out (`producer_ids.rs`).
    producer_ids: Option<producer_ids::ProducerIdBlock>,
    /// The group coordinator for the `__consumer_offsets` partitions this broker leads.
    coordinator: GroupCoordinator,
}

impl Broker {
    /// A broker with an empty log for each replica the image places on it. With
    /// `bootstrap_epoch`, it starts as a registered, caught-up member of a running cluster.
    pub fn new(
        config: BrokerConfig,
        topic_configs: Arc<BTreeMap<Arc<str>, LogConfig>>,
        controller: NodeId,
        image: MetadataImage,
        bootstrap_epoch: Option<i64>,
    ) -> Self {
        let mut logs = BTreeMap::new();
        for p in image.all_partitions() {
            if p.replicas.contains(&config.node_id) {
                let log_config = topic_configs.get(&p.tp.topic).cloned().unwrap_or_default();
                logs.insert(p.tp.clone(), UnifiedLog::new(log_config, 0));
            }
        }
        let group_config = config.group_config();
        let offsets_partitions = config.offsets_topic_num_partitions;
        Broker {
            config,
            topic_configs,
            controller,
            logs,
            hw_checkpoint: BTreeMap::new(),
            image,
            incarnation: 0,
            bootstrap_epoch,
            broker_epoch: None,
            fenced: true,
            ready: false,
            controller_high_watermark: 0,
            leaders: BTreeMap::new(),
            followers: BTreeMap::new(),
            fetchers: BTreeMap::new(),
            outstanding: BTreeMap::new(),
            next_correlation_id: 0,
            delayed_fetches: BTreeMap::new(),
            fetch_watchers: BTreeMap::new(),
            delayed_produces: BTreeMap::new(),
            next_delayed_id: 0,
            producer_ids: None,
            coordinator: GroupCoordinator::new(group_config, offsets_partitions),
        }
    }

    /// The group coordinator this broker hosts.
    pub fn coordinator(&self) -> &GroupCoordinator {
        &self.coordinator
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

    /// This broker's view of the cluster (as fresh as the metadata it has fetched).
    pub fn image(&self) -> &MetadataImage {
        &self.image
    }

    pub fn broker_epoch(&self) -> Option<i64> {
        self.broker_epoch
    }

    /// Fenced as far as this broker knows (from its last heartbeat response).
    pub fn is_fenced(&self) -> bool {
        self.fenced
    }

    /// Whether this broker currently acts as the leader of `tp`.
    pub fn is_leader(&self, tp: &TopicPartition) -> bool {
        self.leaders.contains_key(tp)
    }

    pub fn leader_partition(&self, tp: &TopicPartition) -> Option<&LeaderPartition> {
        self.leaders.get(tp)
    }

    pub fn follower_partition(&self, tp: &TopicPartition) -> Option<&FollowerPartition> {
        self.followers.get(tp)
    }

    /// Number of fetches waiting in purgatory.
    pub fn delayed_fetch_count(&self) -> usize {
        self.delayed_fetches.len()
    }

    /// Number of `acks=all` produce requests waiting in purgatory.
    pub fn delayed_produce_count(&self) -> usize {
        self.delayed_produces.len()
    }

    fn next_id(&mut self) -> i32 {
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        self.next_correlation_id
    }

    fn min_insync_replicas(&self, topic: &str) -> i32 {
        self.topic_configs
            .get(topic)
            .map_or(1, |c| c.min_insync_replicas)
    }

    // ----- handle_* inputs -----

    pub(crate) fn on_start(&mut self, out: BrokerOut<'_, '_>) {
        self.incarnation += 1;
        if let Some(epoch) = self.bootstrap_epoch.take() {
            // Part of a cluster that was running before the run began.
            self.broker_epoch = Some(epoch);
            self.fenced = false;
            self.controller_high_watermark = self.image.offset;
            self.become_ready(out);
            out.set_timer_ms(Timer::Heartbeat, self.config.broker_heartbeat_interval_ms);
        } else {
            // A restart: HWs come back from the checkpoint, roles once caught up.
            for (tp, log) in &mut self.logs {
                let hw = self.hw_checkpoint.get(tp).copied().unwrap_or(0);
                log.update_high_watermark(hw);
            }
            self.send_registration(out);
        }
        self.send_metadata_fetch(out);
        out.set_timer_ms(
            Timer::IsrExpiration,
            self.config.replica_lag_time_max_ms / 2,
        );
        out.set_timer_ms(
            Timer::HighWatermarkCheckpoint,
            self.config.replica_high_watermark_checkpoint_interval_ms,
        );
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
                    .image
                    .response(req.correlation_id, req.topics.as_deref());
                out.send(from, KafkaMsg::MetadataResponse(resp));
            }
            KafkaMsg::FetchResponse(resp) => self.handle_replica_fetch_response(resp, out),
            KafkaMsg::ListOffsetsResponse(resp) => self.handle_leader_offsets(resp, out),
            KafkaMsg::BrokerRegistrationResponse(resp) => self.handle_registration(resp, out),
            KafkaMsg::BrokerHeartbeatResponse(resp) => self.handle_heartbeat(resp, out),
            KafkaMsg::MetadataFetchResponse(resp) => self.handle_metadata(resp, out),
            KafkaMsg::AlterPartitionResponse(resp) => self.handle_alter_partition(resp, out),
            KafkaMsg::InitProducerId(req) => self.handle_init_producer_id(from, req, out),
            KafkaMsg::AllocateProducerIdsResponse(resp) => {
                self.handle_allocate_producer_ids(resp, out)
            }
            KafkaMsg::FindCoordinator(req) => self.handle_find_coordinator(from, req, out),
            KafkaMsg::CreateTopicsResponse(resp) => self.handle_create_topics(resp, out),
            msg @ (KafkaMsg::JoinGroup(_)
            | KafkaMsg::SyncGroup(_)
            | KafkaMsg::Heartbeat(_)
            | KafkaMsg::LeaveGroup(_)
            | KafkaMsg::OffsetCommit(_)
            | KafkaMsg::OffsetFetch(_)) => self.handle_group_request(from, msg, out),
            // Requests for the controller, and responses for clients.
            KafkaMsg::MetadataResponse(_)
            | KafkaMsg::ProduceResponse(_)
            | KafkaMsg::BrokerRegistration(_)
            | KafkaMsg::BrokerHeartbeat(_)
            | KafkaMsg::MetadataFetch(_)
            | KafkaMsg::AlterPartition(_)
            | KafkaMsg::InitProducerIdResponse(_)
            | KafkaMsg::AllocateProducerIds(_)
            | KafkaMsg::CreateTopics(_)
            | KafkaMsg::FindCoordinatorResponse(_)
            | KafkaMsg::JoinGroupResponse(_)
            | KafkaMsg::SyncGroupResponse(_)
            | KafkaMsg::HeartbeatResponse(_)
            | KafkaMsg::LeaveGroupResponse(_)
            | KafkaMsg::OffsetCommitResponse(_)
            | KafkaMsg::OffsetFetchResponse(_) => {}
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
            Timer::HighWatermarkCheckpoint => {
                self.hw_checkpoint = self
                    .logs
                    .iter()
                    .map(|(tp, log)| (tp.clone(), log.high_watermark()))
                    .collect();
                out.set_timer_ms(
                    timer,
                    self.config.replica_high_watermark_checkpoint_interval_ms,
                );
            }
            Timer::IsrExpiration => {
                self.maybe_shrink_isrs(out);
                out.set_timer_ms(timer, self.config.replica_lag_time_max_ms / 2);
            }
            Timer::DelayedFetchExpire(id) => self.expire_delayed_fetch(id, out),
            Timer::DelayedProduceExpire(id) => self.expire_delayed_produce(id, out),
            Timer::Heartbeat => self.on_heartbeat_timer(out),
            Timer::MetadataFetchRetry => self.send_metadata_fetch(out),
            Timer::ReplicaFetchBackoff(leader) => {
                if let Some(f) = self.fetchers.get_mut(&leader) {
                    f.backing_off = false;
                }
                self.maybe_fetch_from(leader, out);
            }
            Timer::RequestTimeout(id) => self.request_timed_out(id, out),
            Timer::GroupJoin(_) | Timer::GroupSync(_) | Timer::GroupHeartbeat(..) => {
                self.on_group_timer(timer, out)
            }
            _ => {}
        }
    }

    pub(crate) fn on_input(&mut self, _input: Input, _out: BrokerOut<'_, '_>) {}

    /// A peer's connection is gone: its parked fetches have no one to answer, and our own
    /// requests to it will never be answered.
    pub(crate) fn on_disconnect(&mut self, peer: NodeId, out: BrokerOut<'_, '_>) {
        let gone: Vec<u64> = self
            .delayed_fetches
            .iter()
            .filter(|(_, d)| d.from == peer)
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            self.unpark_fetch(id);
            out.cancel_timer(Timer::DelayedFetchExpire(id));
        }
        let lost: Vec<i32> = self
            .outstanding
            .iter()
            .filter(|(_, o)| self.destination(o) == Some(peer))
            .map(|(id, _)| *id)
            .collect();
        for id in lost {
            out.cancel_timer(Timer::RequestTimeout(id));
            self.request_timed_out(id, out);
        }
    }

    pub(crate) fn on_crash(&mut self, kind: CrashKind, out: BrokerOut<'_, '_>) {
        self.broker_epoch = None;
        self.fenced = true;
        self.ready = false;
        self.leaders.clear();
        self.followers.clear();
        self.fetchers.clear();
        self.outstanding.clear();
        self.delayed_fetches.clear();
        self.fetch_watchers.clear();
        self.delayed_produces.clear();
        self.producer_ids = None;
        self.coordinator.reset();
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

    /// Where an outstanding request went.
    fn destination(&self, o: &Outstanding) -> Option<NodeId> {
        match o {
            Outstanding::Registration
            | Outstanding::Heartbeat
            | Outstanding::MetadataFetch
            | Outstanding::AlterPartition(_)
            | Outstanding::AllocateProducerIds
            | Outstanding::CreateTopics => Some(self.controller),
            Outstanding::ReplicaFetch(leader) | Outstanding::LeaderOffsets(leader, _) => {
                self.image.broker_node(*leader)
            }
        }
    }

    fn request_timed_out(&mut self, id: i32, out: BrokerOut) {
        let Some(o) = self.outstanding.remove(&id) else {
            return;
        };
        match o {
            Outstanding::Registration => {
                out.set_timer_ms(Timer::Heartbeat, self.config.broker_heartbeat_interval_ms)
            }
            Outstanding::Heartbeat
            | Outstanding::AllocateProducerIds
            | Outstanding::CreateTopics => {}
            Outstanding::MetadataFetch => {
                out.set_timer_ms(Timer::MetadataFetchRetry, METADATA_RETRY_BACKOFF_MS)
            }
            Outstanding::AlterPartition(tp) => {
                // Kafka's AlterPartitionManager would resend; the next ISR check or follower
                // fetch proposes again.
                if let Some(p) = self.leaders.get_mut(&tp)
                    && p.pending.as_ref().is_some_and(|x| x.correlation_id == id)
                {
                    p.pending = None;
                }
            }
            Outstanding::ReplicaFetch(leader) => self.fetch_failed(leader, out),
            Outstanding::LeaderOffsets(leader, tp) => {
                if let Some(f) = self.followers.get_mut(&tp) {
                    f.resolving_out_of_range = false;
                }
                self.fetch_failed(leader, out);
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

/// `controller.quorum.retry.backoff.ms`: the pause before re-fetching metadata after an error.
const METADATA_RETRY_BACKOFF_MS: i64 = 20;
/// `controller.quorum.request.timeout.ms`: how long a request to the controller may take.
const CONTROLLER_REQUEST_TIMEOUT_MS: i64 = 2_000;
