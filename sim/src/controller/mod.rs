//! The KRaft controller: the single source of truth for brokers, leaders and ISRs.
//!
//! One active controller (a quorum of one; a Raft quorum is future work). It keeps the
//! `__cluster_metadata` log and the image it replays to, and every decision becomes records
//! in that log: brokers register and get a *broker epoch*, heartbeat to stay unfenced, and are
//! fenced when `broker.session.timeout.ms` passes without one — which removes them from ISRs
//! and moves their leaderships (`handleBrokerFenced`). Leaders ask for ISR changes with
//! AlterPartition, checked against the partition epoch. Periodic tasks run preferred-leader
//! elections (`auto.leader.rebalance.enable`) and retry unclean elections. An operator can grow
//! a topic (CreatePartitions, what `kafka-topics.sh --alter --partitions N` sends): the new
//! partitions are placed like a new topic's and written as `PartitionRecord`s.
//!
//! Brokers learn about all of it only by fetching the log (`MetadataFetch`), so a broker cut
//! off from the controller keeps its old view — the window in which a deposed leader still
//! acknowledges `acks=1` writes.
//!
//! What survives a crash: the metadata log (it is Raft-replicated and on disk). Sessions and
//! parked fetches are volatile; on restart every unfenced broker gets a fresh session, as a
//! newly elected Kafka controller grants.

pub mod config;
pub mod election;

pub use config::ControllerConfig;
pub use election::{Election, ElectionResult, PartitionChange, build_change, elect_leader};

use crate::kernel::{CrashKind, NodeId, Out};
use crate::log::LogConfig;
use crate::metadata::{MetadataImage, assign_replicas};
use crate::node::{Input, KafkaNode, Note, Timer};
use crate::protocol::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

type ControllerOut<'a, 'b> = &'a mut Out<'b, KafkaNode>;

/// Most records one metadata fetch returns.
const MAX_RECORDS_PER_FETCH: usize = 1000;

/// Kafka's `ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE`.
pub const PRODUCER_ID_BLOCK_SIZE: i32 = 1000;

#[derive(Clone, Debug, Serialize)]
struct ParkedFetch {
    from: NodeId,
    correlation_id: i32,
    fetch_offset: i64,
}

/// The active controller.
#[derive(Clone, Debug, Serialize)]
pub struct Controller {
    config: ControllerConfig,
    #[serde(skip)]
    topic_configs: Arc<BTreeMap<Arc<str>, LogConfig>>,
    /// Durable: `__cluster_metadata`.
    log: Vec<MetadataRecord>,
    /// Durable (derived from the log): the image as of the log's end.
    image: MetadataImage,
    /// Durable: each broker's registered incarnation (part of `RegisterBrokerRecord`).
    incarnations: BTreeMap<i32, u64>,
    /// Volatile: time of each broker's last heartbeat (`BrokerHeartbeatManager`).
    sessions: BTreeMap<i32, i64>,
    /// Volatile: metadata fetches waiting for new records, by broker id.
    parked: BTreeMap<i32, ParkedFetch>,
}

impl Controller {
    /// A controller whose log already holds `bootstrap` (the cluster as it was when the run
    /// starts); `incarnations` are the brokers' registered incarnations.
    pub fn new(
        config: ControllerConfig,
        topic_configs: Arc<BTreeMap<Arc<str>, LogConfig>>,
        bootstrap: Vec<MetadataRecord>,
        incarnations: BTreeMap<i32, u64>,
    ) -> Self {
        let mut image = MetadataImage::default();
        for record in &bootstrap {
            image.apply(record);
        }
        Controller {
            config,
            topic_configs,
            log: bootstrap,
            image,
            incarnations,
            sessions: BTreeMap::new(),
            parked: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &ControllerConfig {
        &self.config
    }

    /// The cluster as the controller has decided it.
    pub fn image(&self) -> &MetadataImage {
        &self.image
    }

    pub fn metadata_log(&self) -> &[MetadataRecord] {
        &self.log
    }

    fn end_offset(&self) -> i64 {
        self.log.len() as i64
    }

    fn has_valid_session(&self, broker_id: i32, now_ms: i64) -> bool {
        self.sessions
            .get(&broker_id)
            .is_some_and(|last| now_ms - last < self.config.broker_session_timeout_ms)
    }

    fn unclean_allowed(&self, topic: &str) -> bool {
        self.topic_configs
            .get(topic)
            .is_some_and(|c| c.unclean_leader_election_enable)
    }

    fn election_for(&self, topic: &str) -> Election {
        if self.unclean_allowed(topic) {
            Election::Unclean
        } else {
            Election::Online
        }
    }

    // ----- handle_* inputs -----

    pub(crate) fn on_start(&mut self, out: ControllerOut<'_, '_>) {
        let now_ms = out.now_ms();
        let unfenced = self.image.unfenced_brokers();
        for id in unfenced {
            self.touch_session(id, now_ms, out);
        }
        if self.config.auto_leader_rebalance_enable {
            out.set_timer_ms(
                Timer::LeaderImbalanceCheck,
                self.config.leader_imbalance_check_interval_ms,
            );
        }
        out.set_timer_ms(
            Timer::UncleanElectionCheck,
            self.config.unclean_leader_election_interval_ms,
        );
    }

    pub(crate) fn on_message(&mut self, from: NodeId, msg: KafkaMsg, out: ControllerOut<'_, '_>) {
        let before = self.end_offset();
        match msg {
            KafkaMsg::BrokerRegistration(req) => self.handle_registration(from, req, out),
            KafkaMsg::BrokerHeartbeat(req) => self.handle_heartbeat(from, req, out),
            KafkaMsg::MetadataFetch(req) => self.handle_metadata_fetch(from, req, out),
            KafkaMsg::AlterPartition(req) => self.handle_alter_partition(from, req, out),
            KafkaMsg::AllocateProducerIds(req) => self.handle_allocate_producer_ids(from, req, out),
            KafkaMsg::CreateTopics(req) => self.handle_create_topics(from, req, out),
            // Client requests reach a controller only by mistake; Kafka answers them from
            // its own listener with NOT_CONTROLLER-like errors. Nothing to do here.
            _ => {}
        }
        if self.end_offset() > before {
            self.answer_parked(out);
        }
    }

    pub(crate) fn on_timer(&mut self, timer: Timer, out: ControllerOut<'_, '_>) {
        let before = self.end_offset();
        let now_ms = out.now_ms();
        match timer {
            Timer::SessionExpire(broker_id) if !self.has_valid_session(broker_id, now_ms) => {
                self.sessions.remove(&broker_id);
                if self.image.is_active(broker_id) {
                    out.note(Note::BrokerFenced {
                        broker: broker_id,
                        reason: "broker.session.timeout.ms expired",
                    });
                    self.handle_broker_fenced(broker_id, out);
                }
            }
            Timer::MetadataFetchExpire(broker_id) => {
                if let Some(parked) = self.parked.remove(&broker_id) {
                    self.send_metadata(parked, out);
                }
            }
            Timer::LeaderImbalanceCheck => {
                self.run_preferred_elections(out);
                out.set_timer_ms(timer, self.config.leader_imbalance_check_interval_ms);
            }
            Timer::UncleanElectionCheck => {
                self.run_unclean_elections(out);
                out.set_timer_ms(timer, self.config.unclean_leader_election_interval_ms);
            }
            _ => {}
        }
        if self.end_offset() > before {
            self.answer_parked(out);
        }
    }

    /// Operator requests. Simplification: `kafka-topics.sh` talks to a broker, which forwards
    /// the request to the active controller (KIP-590); here the request is an input straight
    /// to the controller. One that arrives while the controller is down is lost — the tool
    /// would time out and nothing changes — and a paused controller handles it on resume.
    pub(crate) fn on_input(&mut self, input: Input, out: ControllerOut<'_, '_>) {
        let before = self.end_offset();
        if let Input::CreatePartitions { topic, count } = input {
            let previous_count = self.partition_count(&topic);
            match self.create_partitions(&topic, count, out) {
                Ok(()) => out.note(Note::PartitionsCreated {
                    topic,
                    previous_count: previous_count.unwrap_or(0),
                    count,
                }),
                Err(e) => out.note(Note::CreatePartitionsFailed {
                    topic,
                    count,
                    error: e.error,
                    message: e.message,
                }),
            }
        }
        if self.end_offset() > before {
            self.answer_parked(out);
        }
    }

    pub(crate) fn on_disconnect(&mut self, peer: NodeId, _out: ControllerOut<'_, '_>) {
        self.parked.retain(|_, p| p.from != peer);
    }

    pub(crate) fn on_crash(&mut self, _kind: CrashKind, _out: ControllerOut<'_, '_>) {
        self.sessions.clear();
        self.parked.clear();
    }

    // ----- records -----

    /// Appends a record to the metadata log and applies it to the image.
    fn append(&mut self, record: MetadataRecord) {
        self.image.apply(&record);
        self.log.push(record);
    }

    /// Appends a partition change, noting elections and ISR changes for the trace.
    fn append_change(&mut self, change: PartitionChange, election: Election, out: ControllerOut) {
        let r = &change.record;
        if change.leader_changed {
            out.note(Note::LeaderElected {
                tp: r.tp.clone(),
                leader: r.leader,
                leader_epoch: r.leader_epoch,
                isr: r.isr.clone(),
                election: election.name(),
                unclean: change.unclean,
            });
        } else {
            out.note(Note::IsrChanged {
                tp: r.tp.clone(),
                isr: r.isr.clone(),
                partition_epoch: r.partition_epoch,
            });
        }
        self.append(MetadataRecord::Partition(change.record));
    }

    fn touch_session(&mut self, broker_id: i32, now_ms: i64, out: ControllerOut) {
        self.sessions.insert(broker_id, now_ms);
        out.set_timer_ms(
            Timer::SessionExpire(broker_id),
            self.config.broker_session_timeout_ms,
        );
    }

    // ----- brokers -----

    fn handle_registration(
        &mut self,
        from: NodeId,
        req: BrokerRegistrationRequest,
        out: ControllerOut,
    ) {
        let now_ms = out.now_ms();
        let id = req.broker_id;
        let existing = self.image.brokers.get(&id).cloned();
        let same_incarnation = self.incarnations.get(&id) == Some(&req.incarnation_id);
        let respond = |error: Errors, broker_epoch: i64, out: ControllerOut| {
            out.send(
                from,
                KafkaMsg::BrokerRegistrationResponse(BrokerRegistrationResponse {
                    correlation_id: req.correlation_id,
                    error,
                    broker_epoch,
                }),
            );
        };
        if let Some(existing) = &existing {
            if same_incarnation {
                // A resent registration: answer with the epoch it already has.
                respond(Errors::None, existing.epoch, out);
                return;
            }
            if self.has_valid_session(id, now_ms) {
                respond(Errors::DuplicateBrokerRegistration, -1, out);
                return;
            }
            if !existing.fenced {
                // The old incarnation never timed out here (e.g. the controller restarted):
                // fence it first so its leaderships move.
                self.handle_broker_fenced(id, out);
            }
        }
        let broker_epoch = self.end_offset();
        self.append(MetadataRecord::RegisterBroker {
            broker_id: id,
            broker_epoch,
            node: from,
        });
        self.incarnations.insert(id, req.incarnation_id);
        out.note(Note::BrokerRegistered {
            broker: id,
            broker_epoch,
        });
        self.touch_session(id, now_ms, out);
        respond(Errors::None, broker_epoch, out);
    }

    fn handle_heartbeat(&mut self, from: NodeId, req: BrokerHeartbeatRequest, out: ControllerOut) {
        let now_ms = out.now_ms();
        let registered = self.image.brokers.get(&req.broker_id).cloned();
        let error = match &registered {
            None => Errors::BrokerIdNotRegistered,
            Some(b) if b.epoch != req.broker_epoch => Errors::StaleBrokerEpoch,
            Some(_) => Errors::None,
        };
        let mut fenced = true;
        let mut caught_up = false;
        if let (Errors::None, Some(b)) = (error, registered) {
            self.touch_session(b.id, now_ms, out);
            caught_up = req.current_metadata_offset >= b.epoch;
            fenced = b.fenced;
            if fenced && !req.want_fence && caught_up {
                out.note(Note::BrokerUnfenced { broker: b.id });
                self.handle_broker_unfenced(b.id, b.epoch, out);
                fenced = false;
            }
        }
        out.send(
            from,
            KafkaMsg::BrokerHeartbeatResponse(BrokerHeartbeatResponse {
                correlation_id: req.correlation_id,
                error,
                is_caught_up: caught_up,
                is_fenced: fenced,
                should_shut_down: false,
            }),
        );
    }

    /// `ReplicationControlManager.handleBrokerFenced`: out of every ISR (but the last member),
    /// leaderships moved, then the fencing record.
    fn handle_broker_fenced(&mut self, broker_id: i32, out: ControllerOut) {
        let affected: Vec<PartitionRecord> = self
            .image
            .all_partitions()
            .filter(|p| p.isr.contains(&broker_id))
            .cloned()
            .collect();
        for p in affected {
            let target: Vec<i32> = p.isr.iter().copied().filter(|r| *r != broker_id).collect();
            let election = self.election_for(&p.tp.topic);
            let image = &self.image;
            let change = build_change(&p, &target, election, |r| {
                r != broker_id && image.is_active(r)
            });
            if let Some(change) = change {
                self.append_change(change, election, out);
            }
        }
        let broker_epoch = self.image.brokers.get(&broker_id).map_or(-1, |b| b.epoch);
        self.append(MetadataRecord::BrokerFencing {
            broker_id,
            broker_epoch,
            fenced: true,
        });
    }

    /// `handleBrokerUnfenced`: the unfencing record, then an election for every partition
    /// without a leader (the new broker counts as able to lead).
    fn handle_broker_unfenced(&mut self, broker_id: i32, broker_epoch: i64, out: ControllerOut) {
        self.append(MetadataRecord::BrokerFencing {
            broker_id,
            broker_epoch,
            fenced: false,
        });
        self.elect_offline(|_| true, out);
    }

    /// Elects leaders for partitions without one, per their topic's election type, when
    /// `eligible(topic)` holds.
    fn elect_offline(&mut self, eligible: impl Fn(&str) -> bool, out: ControllerOut) {
        let offline: Vec<PartitionRecord> = self
            .image
            .all_partitions()
            .filter(|p| p.leader == NO_LEADER && eligible(&p.tp.topic))
            .cloned()
            .collect();
        for p in offline {
            let election = self.election_for(&p.tp.topic);
            let image = &self.image;
            if let Some(change) = build_change(&p, &p.isr, election, |r| image.is_active(r)) {
                self.append_change(change, election, out);
            }
        }
    }

    fn run_unclean_elections(&mut self, out: ControllerOut) {
        let configs = self.topic_configs.clone();
        self.elect_offline(
            |topic| {
                configs
                    .get(topic)
                    .is_some_and(|c| c.unclean_leader_election_enable)
            },
            out,
        );
    }

    /// The KRaft controller's leader-imbalance task: a PREFERRED election for every
    /// partition led by a replica other than `replicas[0]`.
    fn run_preferred_elections(&mut self, out: ControllerOut) {
        let imbalanced: Vec<PartitionRecord> = self
            .image
            .all_partitions()
            .filter(|p| p.replicas.first().is_some_and(|r| *r != p.leader))
            .cloned()
            .collect();
        for p in imbalanced {
            let image = &self.image;
            let change = build_change(&p, &p.isr, Election::Preferred, |r| image.is_active(r));
            if let Some(change) = change {
                self.append_change(change, Election::Preferred, out);
            }
        }
    }

    // ----- topics -----

    /// CreateTopics (`ReplicationControlManager.createTopics`), as a broker forwards it to
    /// create `__consumer_offsets`: each topic is placed over the unfenced brokers like a
    /// scenario's topics, every partition led by its first replica in epoch 0.
    fn handle_create_topics(&mut self, from: NodeId, req: CreateTopicsRequest, out: ControllerOut) {
        let mut results = Vec::new();
        for t in &req.topics {
            let error = if self.image.topics.contains_key(&t.name) {
                Errors::TopicAlreadyExists
            } else {
                let unfenced = self.image.unfenced_brokers();
                let rf = t.replication_factor.max(1) as usize;
                if t.num_partitions < 1 {
                    Errors::InvalidPartitions
                } else if unfenced.len() < rf {
                    Errors::InvalidReplicationFactor
                } else {
                    self.append(MetadataRecord::Topic {
                        name: t.name.clone(),
                        partitions: t.num_partitions,
                    });
                    let placements = assign_replicas(&unfenced, t.num_partitions, rf, out.rng());
                    self.append_new_partitions(&t.name, 0, placements);
                    out.note(Note::PartitionsCreated {
                        topic: t.name.clone(),
                        previous_count: 0,
                        count: t.num_partitions,
                    });
                    Errors::None
                }
            };
            results.push((t.name.clone(), error));
        }
        out.send(
            from,
            KafkaMsg::CreateTopicsResponse(CreateTopicsResponse {
                correlation_id: req.correlation_id,
                topics: results,
            }),
        );
    }

    fn partition_count(&self, topic: &str) -> Option<i32> {
        self.image.topics.get(topic).map(|parts| parts.len() as i32)
    }

    /// `ReplicationControlManager.createPartitions` for one topic: grows `topic` to `count`
    /// partitions. The new ones get the replication factor of the topic's first partition and
    /// are placed over the unfenced brokers as a new topic's are ([`assign_replicas`]); each
    /// starts in leader epoch 0 with its live replicas as the ISR and the first of them as
    /// leader. Brokers create the logs when they replicate the records; clients see the new
    /// partitions only on their next metadata refresh.
    ///
    /// The messages are Kafka 4.x's (what `kafka-topics.sh` prints after `Error while
    /// executing topic command : `).
    pub fn create_partitions(
        &mut self,
        topic: &str,
        count: i32,
        out: ControllerOut,
    ) -> Result<(), ApiError> {
        let Some(parts) = self.image.topics.get(topic) else {
            return Err(ApiError::new(
                Errors::UnknownTopicOrPartition,
                "This server does not host this topic-partition.",
            ));
        };
        let current = parts.len() as i32;
        if count == current {
            return Err(ApiError::new(
                Errors::InvalidPartitions,
                format!("Topic already has {current} partition(s)."),
            ));
        }
        if count < current {
            return Err(ApiError::new(
                Errors::InvalidPartitions,
                format!(
                    "The topic {topic} currently has {current} partition(s); {count} would not \
                     be an increase."
                ),
            ));
        }
        let Some(first) = parts.first() else {
            return Err(ApiError::new(
                Errors::UnknownServerError,
                format!("Invalid state: topic {topic} appears to have no partitions."),
            ));
        };
        let replication_factor = first.replicas.len();
        // Simplification: Kafka's placer may put followers on fenced (but registered) brokers
        // when too few are unfenced; here every replica of a new partition is unfenced.
        let unfenced = self.image.unfenced_brokers();
        if unfenced.len() < replication_factor {
            return Err(ApiError::new(
                Errors::InvalidReplicationFactor,
                format!(
                    "The target replication factor of {replication_factor} cannot be reached \
                     because only {} broker(s) are unfenced.",
                    unfenced.len()
                ),
            ));
        }
        let topic: Arc<str> = first.tp.topic.clone();
        let placements = assign_replicas(&unfenced, count - current, replication_factor, out.rng());
        self.append_new_partitions(&topic, current, placements);
        Ok(())
    }

    /// `PartitionRecord`s for new partitions `first..` of `topic`: leader epoch 0, the live
    /// replicas as ISR, the first of them leading.
    fn append_new_partitions(&mut self, topic: &Arc<str>, first: i32, placements: Vec<Vec<i32>>) {
        for (partition, replicas) in (first..).zip(placements) {
            let isr: Vec<i32> = replicas
                .iter()
                .copied()
                .filter(|r| self.image.is_active(*r))
                .collect();
            self.append(MetadataRecord::Partition(PartitionRecord {
                tp: TopicPartition::new(topic.clone(), partition),
                leader: isr.first().copied().unwrap_or(NO_LEADER),
                isr,
                replicas,
                leader_epoch: 0,
                partition_epoch: 0,
                leader_recovery_state: LeaderRecoveryState::Recovered,
            }));
        }
    }

    // ----- metadata replication -----

    fn handle_metadata_fetch(
        &mut self,
        from: NodeId,
        req: MetadataFetchRequest,
        out: ControllerOut,
    ) {
        let parked = ParkedFetch {
            from,
            correlation_id: req.correlation_id,
            fetch_offset: req.fetch_offset,
        };
        if req.fetch_offset < self.end_offset() || req.max_wait_ms <= 0 {
            self.send_metadata(parked, out);
            return;
        }
        self.parked.insert(req.broker_id, parked);
        out.set_timer_ms(Timer::MetadataFetchExpire(req.broker_id), req.max_wait_ms);
    }

    fn send_metadata(&self, parked: ParkedFetch, out: ControllerOut) {
        let start = parked.fetch_offset.clamp(0, self.end_offset()) as usize;
        let end = (start + MAX_RECORDS_PER_FETCH).min(self.log.len());
        out.send(
            parked.from,
            KafkaMsg::MetadataFetchResponse(MetadataFetchResponse {
                correlation_id: parked.correlation_id,
                high_watermark: self.end_offset(),
                records: self.log[start..end].to_vec(),
                base_offset: start as i64,
            }),
        );
    }

    /// New records: every parked fetch is answered at once.
    fn answer_parked(&mut self, out: ControllerOut) {
        let parked = std::mem::take(&mut self.parked);
        for (broker_id, fetch) in parked {
            out.cancel_timer(Timer::MetadataFetchExpire(broker_id));
            self.send_metadata(fetch, out);
        }
    }

    // ----- producer ids -----

    /// `ProducerIdControlManager.generateNextProducerId`: a registered broker with a current
    /// epoch gets the next block of [`PRODUCER_ID_BLOCK_SIZE`] ids, recorded in the metadata
    /// log so a controller failover never hands out the same block twice.
    fn handle_allocate_producer_ids(
        &mut self,
        from: NodeId,
        req: AllocateProducerIdsRequest,
        out: ControllerOut,
    ) {
        let error = match self.image.brokers.get(&req.broker_id) {
            None => Errors::BrokerIdNotRegistered,
            Some(b) if b.epoch != req.broker_epoch => Errors::StaleBrokerEpoch,
            Some(_) => Errors::None,
        };
        let start = self.image.next_producer_id;
        if error.is_ok() {
            self.append(MetadataRecord::ProducerIds {
                broker_id: req.broker_id,
                broker_epoch: req.broker_epoch,
                next_producer_id: start + i64::from(PRODUCER_ID_BLOCK_SIZE),
            });
        }
        let ok = error.is_ok();
        out.send(
            from,
            KafkaMsg::AllocateProducerIdsResponse(AllocateProducerIdsResponse {
                correlation_id: req.correlation_id,
                error,
                producer_id_start: if ok { start } else { -1 },
                producer_id_len: if ok { PRODUCER_ID_BLOCK_SIZE } else { 0 },
            }),
        );
    }

    // ----- ISR changes -----

    fn handle_alter_partition(
        &mut self,
        from: NodeId,
        req: AlterPartitionRequest,
        out: ControllerOut,
    ) {
        let result = self.alter_partition(&req, out);
        let response = match result {
            Ok(p) => AlterPartitionResponse {
                correlation_id: req.correlation_id,
                tp: req.tp.clone(),
                error: Errors::None,
                leader: p.leader,
                leader_epoch: p.leader_epoch,
                isr: p.isr,
                partition_epoch: p.partition_epoch,
            },
            Err(error) => AlterPartitionResponse {
                correlation_id: req.correlation_id,
                tp: req.tp.clone(),
                error,
                leader: NO_LEADER,
                leader_epoch: -1,
                isr: Vec::new(),
                partition_epoch: -1,
            },
        };
        out.send(from, KafkaMsg::AlterPartitionResponse(response));
    }

    /// `ReplicationControlManager.alterPartition`'s checks, then the change.
    fn alter_partition(
        &mut self,
        req: &AlterPartitionRequest,
        out: ControllerOut,
    ) -> Result<PartitionRecord, Errors> {
        match self.image.brokers.get(&req.broker_id) {
            None => return Err(Errors::BrokerIdNotRegistered),
            Some(b) if b.epoch != req.broker_epoch => return Err(Errors::StaleBrokerEpoch),
            Some(_) => {}
        }
        let p = self
            .image
            .partition(&req.tp)
            .cloned()
            .ok_or(Errors::UnknownTopicOrPartition)?;
        if p.leader != req.broker_id {
            return Err(Errors::NotLeaderOrFollower);
        }
        if req.leader_epoch < p.leader_epoch {
            return Err(Errors::FencedLeaderEpoch);
        }
        if req.leader_epoch > p.leader_epoch {
            return Err(Errors::UnknownLeaderEpoch);
        }
        if req.partition_epoch != p.partition_epoch {
            return Err(Errors::InvalidUpdateVersion);
        }
        let ineligible = req
            .new_isr
            .iter()
            .any(|r| !p.replicas.contains(r) || (*r != p.leader && !self.image.is_active(*r)));
        if ineligible || !req.new_isr.contains(&p.leader) {
            return Err(Errors::IneligibleReplica);
        }
        // The leader's first AlterPartition after an unclean election also marks the log
        // recovered (Kafka sends `leaderRecoveryState = RECOVERED` with it).
        if req.new_isr == p.isr && p.leader_recovery_state == LeaderRecoveryState::Recovered {
            return Ok(p);
        }
        let mut next = p;
        next.isr = req.new_isr.clone();
        next.leader_recovery_state = LeaderRecoveryState::Recovered;
        next.partition_epoch += 1;
        out.note(Note::IsrChanged {
            tp: next.tp.clone(),
            isr: next.isr.clone(),
            partition_epoch: next.partition_epoch,
        });
        self.append(MetadataRecord::Partition(next.clone()));
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Harness;
    use std::collections::BTreeSet;

    /// Brokers 1..=3 registered and unfenced (minus `fenced`), and `orders` with 3 partitions
    /// at replication factor 2.
    fn controller(fenced: &[i32]) -> Controller {
        let mut log = Vec::new();
        for id in 1..=3 {
            let broker_epoch = log.len() as i64;
            log.push(MetadataRecord::RegisterBroker {
                broker_id: id,
                broker_epoch,
                node: NodeId(id as u32 - 1),
            });
            log.push(MetadataRecord::BrokerFencing {
                broker_id: id,
                broker_epoch,
                fenced: fenced.contains(&id),
            });
        }
        log.push(MetadataRecord::Topic {
            name: Arc::from("orders"),
            partitions: 3,
        });
        for (p, replicas) in [[1, 2], [2, 3], [3, 1]].into_iter().enumerate() {
            log.push(MetadataRecord::Partition(PartitionRecord {
                tp: TopicPartition::new("orders", p as i32),
                replicas: replicas.to_vec(),
                isr: replicas.to_vec(),
                leader: replicas[0],
                leader_epoch: 0,
                partition_epoch: 0,
                leader_recovery_state: LeaderRecoveryState::Recovered,
            }));
        }
        let incarnations = (1..=3).map(|id| (id, 1)).collect();
        Controller::new(
            ControllerConfig::default(),
            Arc::new(BTreeMap::new()),
            log,
            incarnations,
        )
    }

    fn create(c: &mut Controller, topic: &str, count: i32) -> (Result<(), ApiError>, Vec<Note>) {
        let mut h = Harness::<KafkaNode>::new(NodeId(3), 7);
        let result = h.with(|out| c.create_partitions(topic, count, out));
        (result, h.notes)
    }

    #[test]
    fn create_partitions_places_new_partitions_on_unfenced_brokers() {
        let mut c = controller(&[]);
        let before = c.metadata_log().len();
        assert_eq!(create(&mut c, "orders", 6).0, Ok(()));
        assert_eq!(
            c.metadata_log().len(),
            before + 3,
            "one PartitionRecord each"
        );
        let parts = &c.image().topics["orders"];
        assert_eq!(parts.len(), 6);
        for p in &parts[3..] {
            assert_eq!(p.replicas.len(), 2, "the replication factor of partition 0");
            assert_ne!(p.replicas[0], p.replicas[1]);
            assert_eq!(p.isr, p.replicas, "every replica is live");
            assert_eq!(p.leader, p.replicas[0]);
            assert_eq!((p.leader_epoch, p.partition_epoch), (0, 0));
        }
        let leaders: BTreeSet<i32> = parts[3..].iter().map(|p| p.leader).collect();
        assert_eq!(leaders.len(), 3, "round-robin spreads the new leaders");
        // The old partitions are untouched.
        assert_eq!(parts[0].replicas, vec![1, 2]);

        // Fenced brokers get no new replicas.
        let mut c = controller(&[2]);
        assert_eq!(create(&mut c, "orders", 5).0, Ok(()));
        for p in &c.image().topics["orders"][3..] {
            assert!(!p.replicas.contains(&2), "{p:?}");
        }
    }

    #[test]
    fn create_partitions_validates_like_kafka() {
        let mut c = controller(&[]);
        let before = c.metadata_log().len();
        let (result, _) = create(&mut c, "orders", 3);
        assert_eq!(
            result,
            Err(ApiError::new(
                Errors::InvalidPartitions,
                "Topic already has 3 partition(s)."
            ))
        );
        let (result, _) = create(&mut c, "orders", 2);
        let e = result.expect_err("a decrease");
        assert_eq!((e.error, e.error.code()), (Errors::InvalidPartitions, 37));
        assert_eq!(
            e.message,
            "The topic orders currently has 3 partition(s); 2 would not be an increase."
        );
        let (result, _) = create(&mut c, "payments", 4);
        assert_eq!(
            result.map_err(|e| e.error),
            Err(Errors::UnknownTopicOrPartition)
        );
        // Replication factor 2 needs two unfenced brokers.
        let mut fenced = controller(&[1, 2]);
        let (result, _) = create(&mut fenced, "orders", 4);
        assert_eq!(
            result.map_err(|e| e.error),
            Err(Errors::InvalidReplicationFactor)
        );
        assert_eq!(
            c.metadata_log().len(),
            before,
            "nothing is written on an error"
        );
        assert_eq!(c.image().topics["orders"].len(), 3);
    }

    #[test]
    fn the_operator_input_notes_the_outcome() {
        let mut c = controller(&[]);
        let mut h = Harness::<KafkaNode>::new(NodeId(3), 7);
        let input = |count| Input::CreatePartitions {
            topic: Arc::from("orders"),
            count,
        };
        h.with(|out| c.on_input(input(4), out));
        h.with(|out| c.on_input(input(4), out));
        assert_eq!(
            h.notes,
            vec![
                Note::PartitionsCreated {
                    topic: Arc::from("orders"),
                    previous_count: 3,
                    count: 4,
                },
                Note::CreatePartitionsFailed {
                    topic: Arc::from("orders"),
                    count: 4,
                    error: Errors::InvalidPartitions,
                    message: "Topic already has 4 partition(s).".to_string(),
                },
            ]
        );
    }
}
