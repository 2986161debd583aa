//! Request handling on the leader (Kafka's `KafkaApis` and the leader side of
//! `ReplicaManager`): Produce with the `acks=all` purgatory, Fetch from consumers (up to the
//! HW) and followers (up to the LEO, updating their fetch state, the ISR and the HW), and
//! ListOffsets.

use super::{Broker, BrokerOut, DelayedFetch, DelayedProduce};
use crate::kernel::NodeId;
use crate::log::{LogError, UnifiedLog};
use crate::node::{Note, Timer};
use crate::protocol::*;
use std::collections::BTreeSet;

impl Broker {
    /// The log of a partition this broker leads, or the error Kafka answers with.
    fn leader_log(&self, tp: &TopicPartition) -> Result<&UnifiedLog, Errors> {
        if !self.leaders.contains_key(tp) {
            return Err(if self.image.partition(tp).is_some() {
                Errors::NotLeaderOrFollower
            } else {
                Errors::UnknownTopicOrPartition
            });
        }
        self.logs.get(tp).ok_or(Errors::NotLeaderOrFollower)
    }

    /// KIP-320 fencing: a request that names a leader epoch must name ours.
    fn check_leader_epoch(&self, tp: &TopicPartition, epoch: i32) -> Result<(), Errors> {
        let Some(p) = self.leaders.get(tp) else {
            return Ok(());
        };
        match epoch {
            NO_EPOCH => Ok(()),
            e if e < p.leader_epoch => Err(Errors::FencedLeaderEpoch),
            e if e > p.leader_epoch => Err(Errors::UnknownLeaderEpoch),
            _ => Ok(()),
        }
    }

    // ----- produce -----

    pub(super) fn handle_produce(&mut self, from: NodeId, req: ProduceRequest, out: BrokerOut) {
        let mut partitions = Vec::with_capacity(req.partitions.len());
        for data in req.partitions {
            let tp = data.tp.clone();
            let result = self.append_to_leader(data, req.acks, out);
            let log_start_offset = self.logs.get(&tp).map_or(-1, |l| l.log_start_offset());
            let (error, base_offset, required) = match result {
                Ok((base, last)) => (Errors::None, base, (req.acks == -1).then_some(last + 1)),
                Err(error) => {
                    out.note(Note::ProduceRejected {
                        tp: tp.clone(),
                        error,
                    });
                    (error, -1, None)
                }
            };
            let response = ProducePartitionResponse {
                tp,
                error,
                base_offset,
                log_start_offset,
            };
            partitions.push((response, required));
        }
        let appended: Vec<TopicPartition> = partitions.iter().map(|(r, _)| r.tp.clone()).collect();
        self.complete_delayed_fetches(&appended, out);
        if req.acks == 0 {
            return; // the producer asked for no answer, and gets none
        }
        self.next_delayed_id += 1;
        let id = self.next_delayed_id;
        let delayed = DelayedProduce {
            from,
            correlation_id: req.correlation_id,
            partitions,
        };
        self.delayed_produces.insert(id, delayed);
        if !self.try_complete_delayed_produce(id, out) {
            out.set_timer_ms(Timer::DelayedProduceExpire(id), i64::from(req.timeout_ms));
        }
    }

    /// `Partition.appendRecordsToLeader`: returns the first and last offsets written.
    pub(super) fn append_to_leader(
        &mut self,
        data: ProducePartitionData,
        acks: i16,
        out: BrokerOut,
    ) -> Result<(i64, i64), Errors> {
        if !matches!(acks, -1..=1) {
            return Err(Errors::InvalidRequiredAcks);
        }
        self.leader_log(&data.tp)?;
        let Some(partition) = self.leaders.get(&data.tp) else {
            return Err(Errors::NotLeaderOrFollower);
        };
        if acks == -1 && partition.is_under_min_isr() {
            // Nothing is written: the ISR is too small to promise anything.
            return Err(Errors::NotEnoughReplicas);
        }
        let epoch = partition.leader_epoch;
        let now_ms = out.now_ms();
        let log = self
            .logs
            .get_mut(&data.tp)
            .ok_or(Errors::NotLeaderOrFollower)?;
        let segments_before = log.segments().len();
        let (producer_id, base_sequence) = (data.producer.producer_id, data.producer.base_sequence);
        let info = log
            .append_as_leader(data.records, epoch, data.producer, now_ms)
            .map_err(|e| match e {
                LogError::RecordTooLarge => Errors::MessageTooLarge,
                LogError::InvalidRecord(_) => Errors::InvalidRecord,
                LogError::OffsetOutOfRange { .. } => Errors::UnknownServerError,
                LogError::OutOfOrderSequence(_) => Errors::OutOfOrderSequenceNumber,
                LogError::InvalidProducerEpoch(_) => Errors::InvalidProducerEpoch,
            })?;
        if log.segments().len() > segments_before
            && let Some(active) = log.segments().last()
        {
            out.note(Note::SegmentRolled {
                tp: data.tp.clone(),
                base_offset: active.base_offset(),
            });
        }
        if info.duplicate {
            // An idempotent retry of a batch already in the log: nothing is written, the
            // producer learns the original offsets.
            out.note(Note::DuplicateBatch {
                tp: data.tp.clone(),
                producer_id,
                base_sequence,
                base_offset: info.first_offset,
            });
        } else {
            out.note(Note::Appended {
                tp: data.tp.clone(),
                base_offset: info.first_offset,
                last_offset: info.last_offset,
            });
        }
        // A sole ISR member commits at once.
        self.after_isr_change(&data.tp, out);
        Ok((info.first_offset, info.last_offset))
    }

    /// Recomputes the HW of a led partition after its ISR or a LEO changed, and completes
    /// whatever that unblocks.
    pub(super) fn after_isr_change(&mut self, tp: &TopicPartition, out: BrokerOut) {
        let now_ms = out.now_ms();
        let lag = self.config.replica_lag_time_max_ms;
        let (Some(p), Some(log)) = (self.leaders.get(tp), self.logs.get_mut(tp)) else {
            return;
        };
        let image = &self.image;
        if let Some(hw) = p.maybe_increment_hw(log, now_ms, lag, |r| image.is_active(r)) {
            out.note(Note::HwAdvanced {
                tp: tp.clone(),
                high_watermark: hw,
            });
            if &*tp.topic == CONSUMER_OFFSETS_TOPIC {
                self.coordinator.on_high_watermark(tp.partition, hw, out);
            }
            self.complete_delayed_fetches([tp], out);
        }
        self.try_complete_delayed_produces(tp, out);
    }

    pub(super) fn try_complete_delayed_produces(&mut self, tp: &TopicPartition, out: BrokerOut) {
        let ids: Vec<u64> = self
            .delayed_produces
            .iter()
            .filter(|(_, d)| {
                d.partitions
                    .iter()
                    .any(|(r, req)| req.is_some() && r.tp == *tp)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if self.try_complete_delayed_produce(id, out) {
                out.cancel_timer(Timer::DelayedProduceExpire(id));
            }
        }
    }

    /// `Partition.checkEnoughReplicasReachOffset` for each waiting partition; answers and
    /// forgets the request once none waits. Returns whether it was answered.
    fn try_complete_delayed_produce(&mut self, id: u64, out: BrokerOut) -> bool {
        let Some(mut delayed) = self.delayed_produces.remove(&id) else {
            return false;
        };
        for (response, required) in &mut delayed.partitions {
            let Some(offset) = *required else { continue };
            let status = match (self.leaders.get(&response.tp), self.logs.get(&response.tp)) {
                (Some(p), Some(log)) if log.high_watermark() >= offset => {
                    if p.maximal_isr().len() < p.effective_min_isr {
                        Some(Errors::NotEnoughReplicasAfterAppend)
                    } else {
                        Some(Errors::None)
                    }
                }
                (Some(_), Some(_)) => None,
                _ => Some(Errors::NotLeaderOrFollower),
            };
            if let Some(error) = status {
                *required = None;
                if !error.is_ok() {
                    response.error = error;
                    response.base_offset = -1;
                }
            }
        }
        if delayed.partitions.iter().any(|(_, r)| r.is_some()) {
            self.delayed_produces.insert(id, delayed);
            return false;
        }
        send_produce_response(delayed, out);
        true
    }

    pub(super) fn expire_delayed_produce(&mut self, id: u64, out: BrokerOut) {
        let Some(mut delayed) = self.delayed_produces.remove(&id) else {
            return;
        };
        for (response, required) in &mut delayed.partitions {
            if required.take().is_some() {
                response.error = Errors::RequestTimedOut;
                response.base_offset = -1;
            }
        }
        send_produce_response(delayed, out);
    }

    // ----- fetch -----

    pub(super) fn handle_fetch(&mut self, from: NodeId, request: FetchRequest, out: BrokerOut) {
        let (response, bytes, complete) = self.read_fetch(&request, out);
        if request.max_wait_ms <= 0 || bytes >= request.min_bytes || complete {
            out.send(from, KafkaMsg::FetchResponse(response));
            return;
        }
        self.next_delayed_id += 1;
        let id = self.next_delayed_id;
        out.set_timer_ms(Timer::DelayedFetchExpire(id), request.max_wait_ms);
        for fp in &request.partitions {
            self.fetch_watchers
                .entry(fp.tp.clone())
                .or_default()
                .insert(id);
        }
        self.delayed_fetches
            .insert(id, DelayedFetch { from, request });
    }

    /// Takes a parked fetch out of the purgatory and its watch lists.
    pub(super) fn unpark_fetch(&mut self, id: u64) -> Option<DelayedFetch> {
        let delayed = self.delayed_fetches.remove(&id)?;
        for fp in &delayed.request.partitions {
            if let Some(ids) = self.fetch_watchers.get_mut(&fp.tp) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.fetch_watchers.remove(&fp.tp);
                }
            }
        }
        Some(delayed)
    }

    /// Reads what a fetch can return now: the response, its size, and whether it must be
    /// answered at once (an error or a divergence, as in Kafka's `DelayedFetch`). A
    /// follower's fetch also updates its state on the leader, which may grow the ISR and
    /// move the HW (the response carries the HW from before this fetch, so a follower learns
    /// of an advance on its next fetch).
    fn read_fetch(&mut self, request: &FetchRequest, out: BrokerOut) -> (FetchResponse, u64, bool) {
        let follower = (request.replica_id >= 0).then_some(request.replica_id);
        let mut bytes = 0u64;
        let mut complete = false;
        let mut partitions = Vec::with_capacity(request.partitions.len());
        let mut fetched = Vec::new();
        for fp in &request.partitions {
            let budget = request.max_bytes.saturating_sub(bytes);
            let data = match self.read_partition(fp, follower.is_some(), budget, bytes == 0) {
                Ok(data) => {
                    if data.diverging_epoch.is_none() {
                        fetched.push(fp);
                    } else {
                        complete = true;
                    }
                    data
                }
                Err(error) => {
                    complete = true;
                    FetchPartitionData {
                        tp: fp.tp.clone(),
                        error,
                        high_watermark: -1,
                        log_start_offset: -1,
                        diverging_epoch: None,
                        batches: Vec::new(),
                    }
                }
            };
            bytes += data.batches.iter().map(|b| b.size_bytes()).sum::<u64>();
            partitions.push(data);
        }
        if let Some(replica) = follower {
            for fp in fetched {
                self.update_follower(replica, fp, out);
            }
        }
        let response = FetchResponse {
            correlation_id: request.correlation_id,
            partitions,
        };
        (response, bytes, complete)
    }

    /// What a fetch of `fp` may return: a divergence to report, or the offsets to read up to
    /// (the HW for consumers, the LEO for followers).
    fn fetch_bounds(&self, fp: &FetchPartition, from_follower: bool) -> Result<Bounds<'_>, Errors> {
        let log = self.leader_log(&fp.tp)?;
        self.check_leader_epoch(&fp.tp, fp.current_leader_epoch)?;
        let offset = fp.fetch_offset;
        // The 2.7+ fetch-based divergence check (KIP-101/279 without a separate request).
        if from_follower && fp.last_fetched_epoch != NO_EPOCH {
            let (epoch, end_offset) = log.end_offset_for_epoch(fp.last_fetched_epoch);
            if epoch < fp.last_fetched_epoch || end_offset < offset {
                return Ok(Bounds::Diverging(log, EpochEndOffset { epoch, end_offset }));
            }
        }
        if offset < log.log_start_offset() || offset > log.log_end_offset() {
            return Err(Errors::OffsetOutOfRange);
        }
        // Consumers read committed data only; followers read everything.
        let limit = if from_follower {
            log.log_end_offset()
        } else {
            log.high_watermark()
        };
        Ok(Bounds::Read(log, limit))
    }

    fn read_partition(
        &self,
        fp: &FetchPartition,
        from_follower: bool,
        budget: u64,
        first: bool,
    ) -> Result<FetchPartitionData, Errors> {
        let (log, diverging_epoch, batches) = match self.fetch_bounds(fp, from_follower)? {
            Bounds::Diverging(log, d) => (log, Some(d), Vec::new()),
            Bounds::Read(log, limit) => {
                let batches = match partition_budget(fp, budget, first) {
                    0 => Vec::new(),
                    max_bytes => log
                        .read(fp.fetch_offset, limit, max_bytes)
                        .map_err(|_| Errors::OffsetOutOfRange)?,
                };
                (log, None, batches)
            }
        };
        Ok(FetchPartitionData {
            tp: fp.tp.clone(),
            error: Errors::None,
            high_watermark: log.high_watermark(),
            log_start_offset: log.log_start_offset(),
            diverging_epoch,
            batches,
        })
    }

    /// A follower fetched `fp`: record its position, maybe add it to the ISR, maybe move HW.
    fn update_follower(&mut self, replica: i32, fp: &FetchPartition, out: BrokerOut) {
        let now_ms = out.now_ms();
        let (Some(log), Some(p)) = (self.logs.get(&fp.tp), self.leaders.get_mut(&fp.tp)) else {
            return;
        };
        p.update_follower_fetch_state(replica, fp.fetch_offset, log.log_end_offset(), now_ms);
        let image = &self.image;
        let proposal = p.maybe_expand_isr(replica, log.high_watermark(), |r| image.is_active(r));
        if let Some(proposal) = proposal {
            self.send_alter_partition(&fp.tp, proposal, out);
        } else {
            self.after_isr_change(&fp.tp, out);
        }
    }

    /// Whether a parked fetch can be answered now: sizes only, no state touched, nothing
    /// copied (it runs for every parked fetch on every append and HW move).
    fn fetch_ready(&self, request: &FetchRequest) -> bool {
        let from_follower = request.replica_id >= 0;
        let mut bytes = 0u64;
        for fp in &request.partitions {
            match self.fetch_bounds(fp, from_follower) {
                Ok(Bounds::Read(log, limit)) => {
                    let budget = request.max_bytes.saturating_sub(bytes);
                    match partition_budget(fp, budget, bytes == 0) {
                        0 => {}
                        max_bytes => match log.readable_bytes(fp.fetch_offset, limit, max_bytes) {
                            Ok(n) => bytes += n,
                            Err(_) => return true,
                        },
                    }
                }
                Ok(Bounds::Diverging(..)) | Err(_) => return true,
            }
        }
        bytes >= request.min_bytes
    }

    /// `checkAndComplete` for the partitions that changed: answers every parked fetch
    /// watching one of them that now has `min_bytes` (or an error).
    pub(super) fn complete_delayed_fetches<'a>(
        &mut self,
        changed: impl IntoIterator<Item = &'a TopicPartition>,
        out: BrokerOut,
    ) {
        let mut watching = BTreeSet::new();
        for tp in changed {
            if let Some(ids) = self.fetch_watchers.get(tp) {
                watching.extend(ids.iter().copied());
            }
        }
        let ready: Vec<u64> = watching
            .into_iter()
            .filter(|id| {
                self.delayed_fetches
                    .get(id)
                    .is_some_and(|d| self.fetch_ready(&d.request))
            })
            .collect();
        for id in ready {
            out.cancel_timer(Timer::DelayedFetchExpire(id));
            self.expire_delayed_fetch(id, out);
        }
    }

    /// A parked fetch is answered with whatever is there now (its wait is over, or data came).
    pub(super) fn expire_delayed_fetch(&mut self, id: u64, out: BrokerOut) {
        if let Some(delayed) = self.unpark_fetch(id) {
            let (response, _, _) = self.read_fetch(&delayed.request, out);
            out.send(delayed.from, KafkaMsg::FetchResponse(response));
        }
    }

    // ----- list offsets -----

    pub(super) fn handle_list_offsets(
        &mut self,
        from: NodeId,
        req: ListOffsetsRequest,
        out: BrokerOut,
    ) {
        let from_follower = req.replica_id >= 0;
        let partitions = req
            .partitions
            .into_iter()
            .map(|p| {
                let (error, offset) = match self.leader_log(&p.tp) {
                    Ok(log) => (Errors::None, list_offset(log, p.timestamp, from_follower)),
                    Err(error) => (error, -1),
                };
                ListOffsetsPartitionResponse {
                    tp: p.tp,
                    error,
                    offset,
                }
            })
            .collect();
        out.send(
            from,
            KafkaMsg::ListOffsetsResponse(ListOffsetsResponse {
                correlation_id: req.correlation_id,
                partitions,
            }),
        );
    }
}

/// Where a fetch of one partition stands on the leader.
enum Bounds<'a> {
    Diverging(&'a UnifiedLog, EpochEndOffset),
    /// Read from the fetch offset up to this offset.
    Read(&'a UnifiedLog, i64),
}

/// Kafka's fetch.max.bytes is soft for the first partition with data: one batch always goes
/// out, so a reader can never get stuck behind a batch larger than its limit.
fn partition_budget(fp: &FetchPartition, budget: u64, first: bool) -> u64 {
    if first {
        fp.partition_max_bytes
    } else {
        fp.partition_max_bytes.min(budget)
    }
}

fn send_produce_response(delayed: DelayedProduce, out: BrokerOut) {
    out.send(
        delayed.from,
        KafkaMsg::ProduceResponse(ProduceResponse {
            correlation_id: delayed.correlation_id,
            partitions: delayed.partitions.into_iter().map(|(r, _)| r).collect(),
        }),
    );
}

/// The offset `ListOffsets` answers for `timestamp` on a leader. For consumers
/// (`read_uncommitted`): earliest is the log start offset, latest is the high watermark, and a
/// timestamp finds the first committed record at or after it (-1 when there is none). A
/// follower asking as a replica gets the log end offset for latest.
fn list_offset(log: &UnifiedLog, timestamp: i64, from_follower: bool) -> i64 {
    match timestamp {
        EARLIEST_TIMESTAMP => log.log_start_offset(),
        LATEST_TIMESTAMP if from_follower => log.log_end_offset(),
        LATEST_TIMESTAMP => log.high_watermark(),
        ts => log
            .offset_for_timestamp(ts)
            .filter(|o| *o < log.high_watermark())
            .unwrap_or(-1),
    }
}
