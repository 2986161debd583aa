//! The follower side of replication (Kafka's `ReplicaFetcherThread` and
//! `AbstractFetcherThread`): one fetcher per leader broker with one fetch in flight, which
//! appends what the leader returns, takes the leader's HW (capped by its own LEO), and
//! truncates when the leader says the logs diverge.
//!
//! Truncation follows the broker's [`FollowerTruncation`] setting:
//! - **KIP-279** (default): the fetch carries `last_fetched_epoch`; the leader answers
//!   `DivergingEpoch(E, O)` when its log differs; the follower finds its own largest epoch
//!   `E' ≤ E` ending at `O'` and truncates to `min(O, O', LEO)` if `E' == E`, else to
//!   `min(O', LEO)` and asks again.
//! - **KIP-101**: the same question once after becoming follower, and the answer's epoch is
//!   ignored: truncate to `min(O, LEO)` (what an `OffsetsForLeaderEpoch` v0 response allowed).
//! - **pre-KIP-101**: no question at all (the log was cut to the HW on becoming follower).
//!
//! `OFFSET_OUT_OF_RANGE` asks the leader for its offsets (ListOffsets as a replica): a leader
//! LEO below ours means truncate to it; otherwise we fell below its log start and start over
//! there.

use super::config::FollowerTruncation;
use super::{Broker, BrokerOut, Outstanding};
use crate::log::RecordBatch;
use crate::node::{Note, Timer};
use crate::protocol::*;

impl Broker {
    /// Sends the next fetch to `leader` if none is in flight and it is not backing off.
    pub(super) fn maybe_fetch_from(&mut self, leader: i32, out: BrokerOut) {
        let Some(fetcher) = self.fetchers.get(&leader) else {
            return;
        };
        if fetcher.in_flight.is_some() || fetcher.backing_off {
            return;
        }
        let Some(node) = self.image.broker_node(leader) else {
            return;
        };
        let partitions: Vec<FetchPartition> = self
            .followers
            .iter()
            .filter(|(_, f)| f.leader == leader && !f.resolving_out_of_range)
            .filter_map(|(tp, f)| {
                let log = self.logs.get(tp)?;
                let last_fetched_epoch = if f.validate_epoch {
                    log.latest_epoch().unwrap_or(NO_EPOCH)
                } else {
                    NO_EPOCH
                };
                Some(FetchPartition {
                    tp: tp.clone(),
                    fetch_offset: log.log_end_offset(),
                    partition_max_bytes: self.config.replica_fetch_max_bytes,
                    current_leader_epoch: f.leader_epoch,
                    last_fetched_epoch,
                })
            })
            .collect();
        if partitions.is_empty() {
            return;
        }
        let id = self.next_id();
        out.send(
            node,
            KafkaMsg::Fetch(FetchRequest {
                correlation_id: id,
                replica_id: self.config.node_id,
                max_wait_ms: self.config.replica_fetch_wait_max_ms,
                min_bytes: self.config.replica_fetch_min_bytes,
                max_bytes: self.config.replica_fetch_response_max_bytes,
                partitions,
            }),
        );
        out.set_timer_ms(
            Timer::RequestTimeout(id),
            self.config.replica_socket_timeout_ms + self.config.replica_fetch_wait_max_ms,
        );
        self.outstanding
            .insert(id, Outstanding::ReplicaFetch(leader));
        if let Some(f) = self.fetchers.get_mut(&leader) {
            f.in_flight = Some(id);
        }
    }

    /// The fetch to `leader` failed: back off for `replica.fetch.backoff.ms`.
    pub(super) fn fetch_failed(&mut self, leader: i32, out: BrokerOut) {
        if let Some(f) = self.fetchers.get_mut(&leader) {
            f.in_flight = None;
            f.backing_off = true;
            out.set_timer_ms(
                Timer::ReplicaFetchBackoff(leader),
                self.config.replica_fetch_backoff_ms,
            );
        }
    }

    pub(super) fn handle_replica_fetch_response(&mut self, resp: FetchResponse, out: BrokerOut) {
        let Some(Outstanding::ReplicaFetch(leader)) = self.outstanding.remove(&resp.correlation_id)
        else {
            return;
        };
        out.cancel_timer(Timer::RequestTimeout(resp.correlation_id));
        if let Some(f) = self.fetchers.get_mut(&leader) {
            f.in_flight = None;
        }
        let mut failed = false;
        for data in resp.partitions {
            let following = self
                .followers
                .get(&data.tp)
                .is_some_and(|f| f.leader == leader);
            if following {
                failed |= !self.process_partition_data(leader, data, out);
            }
        }
        if failed {
            self.fetch_failed(leader, out);
        } else {
            self.maybe_fetch_from(leader, out);
        }
    }

    /// One partition of a fetch response; false on an error that calls for a backoff.
    fn process_partition_data(
        &mut self,
        leader: i32,
        data: FetchPartitionData,
        out: BrokerOut,
    ) -> bool {
        let tp = data.tp.clone();
        match data.error {
            Errors::None => {}
            Errors::OffsetOutOfRange => {
                self.ask_leader_offsets(leader, &tp, out);
                return true;
            }
            _ => return false,
        }
        if let Some(diverging) = data.diverging_epoch {
            self.truncate_on_divergence(&tp, diverging, out);
            return true;
        }
        if self.config.sim_follower_truncation == FollowerTruncation::Kip101
            && let Some(f) = self.followers.get_mut(&tp)
        {
            // KIP-101 asked once, after becoming follower; from now on it just fetches.
            f.validate_epoch = false;
        }
        let now_ms = out.now_ms();
        let Some(log) = self.logs.get_mut(&tp) else {
            return true;
        };
        let leo = log.log_end_offset();
        let batches: Vec<RecordBatch> = data
            .batches
            .into_iter()
            .filter(|b| b.base_offset >= leo)
            .collect();
        if !batches.is_empty() {
            match log.append_as_follower(batches, now_ms) {
                Ok(info) => out.note(Note::Appended {
                    tp: tp.clone(),
                    base_offset: info.first_offset,
                    last_offset: info.last_offset,
                }),
                Err(_) => return false,
            }
        }
        // A follower's HW is the leader's, capped by its own LEO, and only moves up.
        let hw = data.high_watermark.min(log.log_end_offset());
        if hw > log.high_watermark() {
            log.update_high_watermark(hw);
            out.note(Note::HwAdvanced {
                tp,
                high_watermark: hw,
            });
        }
        true
    }

    fn truncate_on_divergence(
        &mut self,
        tp: &TopicPartition,
        diverging: EpochEndOffset,
        out: BrokerOut,
    ) {
        let mode = self.config.sim_follower_truncation;
        let Some(log) = self.logs.get(tp) else {
            return;
        };
        let leo = log.log_end_offset();
        let (target, reason) = if diverging.end_offset < 0 {
            // The leader knows no epoch at or below ours: fall back to our HW.
            (
                log.high_watermark(),
                "leader has no epoch at or below ours: truncate to HW",
            )
        } else if mode == FollowerTruncation::Kip101 {
            (
                diverging.end_offset.min(leo),
                "KIP-101: truncate to the leader's end offset for our latest epoch",
            )
        } else {
            let (own_epoch, own_end) = log.end_offset_for_epoch(diverging.epoch);
            if own_epoch == diverging.epoch {
                (
                    diverging.end_offset.min(own_end).min(leo),
                    "KIP-279: diverging epoch, truncate to the common end offset",
                )
            } else if own_epoch < 0 {
                (
                    diverging.end_offset.min(leo),
                    "KIP-279: no epoch at or below the leader's, truncate to its end offset",
                )
            } else {
                (
                    own_end.min(leo),
                    "KIP-279: diverging epoch, truncate to our end of an earlier epoch and ask again",
                )
            }
        };
        if mode == FollowerTruncation::Kip101
            && let Some(f) = self.followers.get_mut(tp)
        {
            f.validate_epoch = false;
        }
        self.truncate(tp, target, reason, out);
    }

    /// `OFFSET_OUT_OF_RANGE`: ask the leader for its latest and earliest offsets.
    fn ask_leader_offsets(&mut self, leader: i32, tp: &TopicPartition, out: BrokerOut) {
        let Some(node) = self.image.broker_node(leader) else {
            return;
        };
        if let Some(f) = self.followers.get_mut(tp) {
            f.resolving_out_of_range = true;
        }
        let id = self.next_id();
        let partitions = [LATEST_TIMESTAMP, EARLIEST_TIMESTAMP]
            .into_iter()
            .map(|timestamp| ListOffsetsPartition {
                tp: tp.clone(),
                timestamp,
            })
            .collect();
        out.send(
            node,
            KafkaMsg::ListOffsets(ListOffsetsRequest {
                correlation_id: id,
                replica_id: self.config.node_id,
                partitions,
            }),
        );
        out.set_timer_ms(
            Timer::RequestTimeout(id),
            self.config.replica_socket_timeout_ms,
        );
        self.outstanding
            .insert(id, Outstanding::LeaderOffsets(leader, tp.clone()));
    }

    pub(super) fn handle_leader_offsets(&mut self, resp: ListOffsetsResponse, out: BrokerOut) {
        let Some(Outstanding::LeaderOffsets(leader, tp)) =
            self.outstanding.remove(&resp.correlation_id)
        else {
            return;
        };
        out.cancel_timer(Timer::RequestTimeout(resp.correlation_id));
        let Some(f) = self.followers.get_mut(&tp) else {
            return;
        };
        f.resolving_out_of_range = false;
        let (latest, earliest) = match resp.partitions.as_slice() {
            [l, e] if l.error.is_ok() && e.error.is_ok() => (l.offset, e.offset),
            _ => {
                self.fetch_failed(leader, out);
                return;
            }
        };
        let now_ms = out.now_ms();
        let Some(log) = self.logs.get_mut(&tp) else {
            return;
        };
        if latest < log.log_end_offset() {
            self.truncate(
                &tp,
                latest,
                "out of range: truncate to the leader's LEO",
                out,
            );
        } else if log.log_end_offset() < earliest {
            let removed = log.records().count() as u64;
            log.truncate_fully_and_start_at(earliest, now_ms);
            out.note(Note::Truncated {
                tp: tp.clone(),
                to_offset: earliest,
                records_removed: removed,
                reason: super::TRUNCATED_BELOW_LEADER_LOG_START,
            });
        }
        self.maybe_fetch_from(leader, out);
    }
}
