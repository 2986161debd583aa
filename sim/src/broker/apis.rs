//! Request handling (Kafka's `KafkaApis` and the leader side of `ReplicaManager`):
//! Produce, Fetch with its purgatory, and ListOffsets.

use super::{Broker, BrokerOut, DelayedFetch};
use crate::kernel::NodeId;
use crate::log::{LogError, UnifiedLog};
use crate::node::{Note, Timer};
use crate::protocol::*;

impl Broker {
    /// The leader's log for `tp`, or the error Kafka answers with.
    fn leader_log(&self, tp: &TopicPartition) -> Result<&UnifiedLog, Errors> {
        let layout = self
            .metadata
            .partition(tp)
            .ok_or(Errors::UnknownTopicOrPartition)?;
        if layout.leader != self.config.node_id {
            return Err(Errors::NotLeaderOrFollower);
        }
        self.logs.get(tp).ok_or(Errors::NotLeaderOrFollower)
    }

    pub(super) fn handle_produce(&mut self, from: NodeId, req: ProduceRequest, out: BrokerOut) {
        let mut partitions = Vec::with_capacity(req.partitions.len());
        for data in req.partitions {
            let tp = data.tp.clone();
            let result = self.append_to_leader(data, req.acks, out);
            let log_start_offset = self.logs.get(&tp).map_or(-1, |l| l.log_start_offset());
            let (error, base_offset) = match result {
                Ok(base) => (Errors::None, base),
                Err(error) => {
                    out.note(Note::ProduceRejected {
                        tp: tp.clone(),
                        error,
                    });
                    (error, -1)
                }
            };
            partitions.push(ProducePartitionResponse {
                tp,
                error,
                base_offset,
                log_start_offset,
            });
        }
        // acks=0: the producer asked for no answer, and gets none.
        if req.acks != 0 {
            let correlation_id = req.correlation_id;
            out.send(
                from,
                KafkaMsg::ProduceResponse(ProduceResponse {
                    correlation_id,
                    partitions,
                }),
            );
        }
        self.complete_delayed_fetches(out);
    }

    fn append_to_leader(
        &mut self,
        data: ProducePartitionData,
        acks: i16,
        out: BrokerOut,
    ) -> Result<i64, Errors> {
        if !matches!(acks, -1..=1) {
            return Err(Errors::InvalidRequiredAcks);
        }
        self.leader_log(&data.tp)?;
        let epoch = self
            .metadata
            .partition(&data.tp)
            .map_or(0, |p| p.leader_epoch);
        let now_ms = out.now_ms();
        let log = self
            .logs
            .get_mut(&data.tp)
            .ok_or(Errors::NotLeaderOrFollower)?;
        let segments_before = log.segments().len();
        let info = log
            .append_as_leader(data.records, epoch, data.producer, now_ms)
            .map_err(|e| match e {
                LogError::RecordTooLarge => Errors::MessageTooLarge,
                LogError::InvalidRecord(_) => Errors::InvalidRecord,
                LogError::OffsetOutOfRange { .. } => Errors::UnknownServerError,
            })?;
        if log.segments().len() > segments_before
            && let Some(active) = log.segments().last()
        {
            out.note(Note::SegmentRolled {
                tp: data.tp.clone(),
                base_offset: active.base_offset(),
            });
        }
        out.note(Note::Appended {
            tp: data.tp.clone(),
            base_offset: info.first_offset,
            last_offset: info.last_offset,
        });
        // Simplification (until replication): the leader is the whole ISR, so HW = LEO.
        let hw = log.update_high_watermark(log.log_end_offset());
        out.note(Note::HwAdvanced {
            tp: data.tp,
            high_watermark: hw,
        });
        Ok(info.first_offset)
    }

    pub(super) fn handle_fetch(&mut self, from: NodeId, request: FetchRequest, out: BrokerOut) {
        let (response, bytes, has_error) = self.read_fetch(&request);
        if request.max_wait_ms <= 0 || bytes >= request.min_bytes || has_error {
            out.send(from, KafkaMsg::FetchResponse(response));
            return;
        }
        self.next_delayed_id += 1;
        let id = self.next_delayed_id;
        out.set_timer_ms(Timer::DelayedFetchExpire(id), request.max_wait_ms);
        self.delayed_fetches
            .insert(id, DelayedFetch { from, request });
    }

    /// Reads what a fetch can return now: the response, its size, and whether any partition
    /// had an error (which completes a fetch at once, as in Kafka's `DelayedFetch`).
    fn read_fetch(&self, request: &FetchRequest) -> (FetchResponse, u64, bool) {
        let mut bytes = 0u64;
        let mut has_error = false;
        let mut partitions = Vec::with_capacity(request.partitions.len());
        for fp in &request.partitions {
            let budget = request.max_bytes.saturating_sub(bytes);
            let data = match self.read_partition(fp, budget, bytes == 0) {
                Ok(data) => data,
                Err(error) => {
                    has_error = true;
                    FetchPartitionData {
                        tp: fp.tp.clone(),
                        error,
                        high_watermark: -1,
                        log_start_offset: -1,
                        batches: Vec::new(),
                    }
                }
            };
            bytes += data.batches.iter().map(|b| b.size_bytes()).sum::<u64>();
            partitions.push(data);
        }
        let response = FetchResponse {
            correlation_id: request.correlation_id,
            partitions,
        };
        (response, bytes, has_error)
    }

    fn read_partition(
        &self,
        fp: &FetchPartition,
        budget: u64,
        first: bool,
    ) -> Result<FetchPartitionData, Errors> {
        let log = self.leader_log(&fp.tp)?;
        let hw = log.high_watermark();
        let offset = fp.fetch_offset;
        if offset < log.log_start_offset() || offset > log.log_end_offset() {
            return Err(Errors::OffsetOutOfRange);
        }
        // Kafka's fetch.max.bytes is soft for the first partition with data: one batch always
        // goes out, so a consumer can never get stuck behind a batch larger than its limit.
        let max_bytes = if first {
            fp.partition_max_bytes
        } else {
            fp.partition_max_bytes.min(budget)
        };
        let batches = if offset >= hw || max_bytes == 0 {
            Vec::new()
        } else {
            log.read(offset, hw, max_bytes)
                .map_err(|_| Errors::OffsetOutOfRange)?
        };
        Ok(FetchPartitionData {
            tp: fp.tp.clone(),
            error: Errors::None,
            high_watermark: hw,
            log_start_offset: log.log_start_offset(),
            batches,
        })
    }

    /// Answers every parked fetch that now has `min_bytes` (or an error), reading each one
    /// once: the response that decided readiness is the one sent.
    pub(super) fn complete_delayed_fetches(&mut self, out: BrokerOut) {
        let mut ready = Vec::new();
        for (id, delayed) in &self.delayed_fetches {
            let (response, bytes, has_error) = self.read_fetch(&delayed.request);
            if has_error || bytes >= delayed.request.min_bytes {
                ready.push((*id, response));
            }
        }
        for (id, response) in ready {
            if let Some(delayed) = self.delayed_fetches.remove(&id) {
                out.cancel_timer(Timer::DelayedFetchExpire(id));
                out.send(delayed.from, KafkaMsg::FetchResponse(response));
            }
        }
    }

    /// A parked fetch reached `max_wait_ms`: it is answered with whatever is there now.
    pub(super) fn expire_delayed_fetch(&mut self, id: u64, out: BrokerOut) {
        if let Some(delayed) = self.delayed_fetches.remove(&id) {
            let (response, _, _) = self.read_fetch(&delayed.request);
            out.send(delayed.from, KafkaMsg::FetchResponse(response));
        }
    }

    pub(super) fn handle_list_offsets(
        &mut self,
        from: NodeId,
        req: ListOffsetsRequest,
        out: BrokerOut,
    ) {
        let partitions = req
            .partitions
            .into_iter()
            .map(|p| {
                let (error, offset) = match self.leader_log(&p.tp) {
                    Ok(log) => (Errors::None, list_offset(log, p.timestamp)),
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

/// The offset `ListOffsets` answers for `timestamp` on a leader, for `read_uncommitted`:
/// earliest is the log start offset, latest is the high watermark, and a timestamp finds the
/// first committed record at or after it (-1 when there is none).
fn list_offset(log: &UnifiedLog, timestamp: i64) -> i64 {
    match timestamp {
        EARLIEST_TIMESTAMP => log.log_start_offset(),
        LATEST_TIMESTAMP => log.high_watermark(),
        ts => log
            .offset_for_timestamp(ts)
            .filter(|o| *o < log.high_watermark())
            .unwrap_or(-1),
    }
}
