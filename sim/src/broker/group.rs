//! The broker's side of consumer groups: FindCoordinator, creating `__consumer_offsets` on
//! first use, and hosting the [`GroupCoordinator`](crate::group::coordinator) — handing it
//! group requests and timers, appending its records to the offsets partitions this broker
//! leads, and answering once the high watermark covers them.

use super::{Broker, BrokerOut, Outstanding};
use crate::group::coordinator::{Write, with_error};
use crate::kernel::NodeId;
use crate::log::ProducerInfo;
use crate::node::Timer;
use crate::protocol::*;
use std::sync::Arc;

/// How long the broker waits for the controller to answer CreateTopics.
const CREATE_TOPICS_TIMEOUT_MS: i64 = 30_000;

impl Broker {
    /// `FindCoordinator`: the leader of the group's `__consumer_offsets` partition. The
    /// topic is created on the first lookup (`AutoTopicCreationManager`), and until it
    /// exists and has a leader the answer is `COORDINATOR_NOT_AVAILABLE`.
    pub(super) fn handle_find_coordinator(
        &mut self,
        from: NodeId,
        req: FindCoordinatorRequest,
        out: BrokerOut,
    ) {
        let offsets: Arc<str> = CONSUMER_OFFSETS_TOPIC.into();
        let (error, node_id, node) = match self.image.topics.get(&offsets) {
            None => {
                self.create_offsets_topic(out);
                (Errors::CoordinatorNotAvailable, -1, None)
            }
            Some(parts) => {
                self.coordinator.set_num_partitions(parts.len() as i32);
                let p = self.coordinator.partition_for(&req.key);
                match parts.get(p as usize) {
                    Some(rec) if rec.leader != NO_LEADER && self.image.is_active(rec.leader) => {
                        (Errors::None, rec.leader, self.image.broker_node(rec.leader))
                    }
                    _ => (Errors::CoordinatorNotAvailable, -1, None),
                }
            }
        };
        out.send(
            from,
            KafkaMsg::FindCoordinatorResponse(FindCoordinatorResponse {
                correlation_id: req.correlation_id,
                error,
                node_id,
                node,
            }),
        );
    }

    /// Asks the controller to create `__consumer_offsets` with `offsets.topic.num.partitions`
    /// partitions, compacted. The replication factor is capped by the registered brokers.
    fn create_offsets_topic(&mut self, out: BrokerOut) {
        if self
            .outstanding
            .values()
            .any(|o| *o == Outstanding::CreateTopics)
        {
            return;
        }
        // Simplification: Kafka refuses to create the topic while fewer brokers than
        // `offsets.topic.replication.factor` are alive; the model caps the factor instead.
        let brokers = self.image.brokers.len().max(1) as i16;
        let replication_factor = self.config.offsets_topic_replication_factor.min(brokers);
        let id = self.next_id();
        let msg = KafkaMsg::CreateTopics(CreateTopicsRequest {
            correlation_id: id,
            topics: vec![CreatableTopic {
                name: CONSUMER_OFFSETS_TOPIC.into(),
                num_partitions: self.config.offsets_topic_num_partitions,
                replication_factor,
                configs: vec![
                    ("cleanup.policy".into(), "compact".into()),
                    ("segment.bytes".into(), "104857600".into()),
                ],
            }],
        });
        self.send_to_controller(
            msg,
            id,
            Outstanding::CreateTopics,
            CREATE_TOPICS_TIMEOUT_MS,
            out,
        );
    }

    pub(super) fn handle_create_topics(&mut self, resp: CreateTopicsResponse, out: BrokerOut) {
        if self.outstanding.remove(&resp.correlation_id).is_some() {
            out.cancel_timer(Timer::RequestTimeout(resp.correlation_id));
        }
        // The topic reaches this broker through the metadata log; nothing else to do.
    }

    /// A group RPC for the coordinator.
    pub(super) fn handle_group_request(&mut self, from: NodeId, msg: KafkaMsg, out: BrokerOut) {
        let writes = self.coordinator.handle(from, msg, out);
        self.perform_writes(writes, out);
    }

    /// A coordinator timer fired.
    pub(super) fn on_group_timer(&mut self, timer: Timer, out: BrokerOut) {
        let writes = match &timer {
            Timer::GroupJoin(group) => self.coordinator.on_join_timer(group, out),
            Timer::GroupSync(group) => self.coordinator.on_sync_timer(group, out),
            Timer::GroupHeartbeat(group, member) => {
                self.coordinator.on_heartbeat_timer(group, member, out)
            }
            _ => Vec::new(),
        };
        self.perform_writes(writes, out);
    }

    /// Appends the coordinator's records as leader (like a produce with `acks=all`) and
    /// parks their answers until the HW passes them. A failed append answers at once with
    /// the coordinator error Kafka maps it to.
    fn perform_writes(&mut self, writes: Vec<Write>, out: BrokerOut) {
        if writes.is_empty() {
            return;
        }
        let mut appended = Vec::new();
        for w in writes {
            let tp = TopicPartition::new(CONSUMER_OFFSETS_TOPIC, w.partition);
            appended.push(tp.clone());
            let now = out.now_ms();
            let data = ProducePartitionData {
                tp: tp.clone(),
                producer: ProducerInfo::NONE,
                records: w.records.iter().map(|r| r.to_record(now)).collect(),
            };
            match self.append_to_leader(data, -1, out) {
                Ok((_, last)) => {
                    let sync = w.completes_sync;
                    self.coordinator
                        .park(w.partition, last + 1, w.responses, sync);
                    let hw = self.logs.get(&tp).map_or(0, |l| l.high_watermark());
                    self.coordinator.on_high_watermark(w.partition, hw, out);
                }
                Err(error) => {
                    // `CoordinatorRuntime`'s mapping of append errors.
                    let mapped = match error {
                        Errors::NotLeaderOrFollower | Errors::UnknownTopicOrPartition => {
                            Errors::NotCoordinator
                        }
                        Errors::MessageTooLarge | Errors::RecordListTooLarge => {
                            Errors::UnknownServerError
                        }
                        _ => Errors::CoordinatorNotAvailable,
                    };
                    for (to, msg) in w.responses {
                        out.send(to, with_error(msg, mapped));
                    }
                    if let Some((group, generation)) = &w.completes_sync {
                        self.coordinator.fail_sync(group, *generation, mapped, out);
                    }
                }
            }
        }
        // Followers long-polling on these partitions get the new records now.
        self.complete_delayed_fetches(&appended, out);
    }
}
