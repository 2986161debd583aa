//! The sender: what to send, to whom, and what to do with the answer (Kafka's `Sender` with
//! the readiness and draining halves of `RecordAccumulator`).
//!
//! `run_sender` runs after anything that could change the answer (a `send()`, a response, a
//! timer): expire batches past `delivery.timeout.ms`, find partitions whose first batch is
//! ready (full, `linger.ms` elapsed, or memory exhausted — and not backing off), drain one
//! batch per partition into one request per broker as long as the connection has fewer than
//! `max.in.flight.requests.per.connection` requests outstanding, and arm a wakeup for the next
//! deadline. A response completes each batch, re-enqueues it for a retry (front of its
//! queue, after an exponential backoff with ±20% jitter), or fails it.
//!
//! Reordering and duplicates come from here: with several requests in flight and no
//! idempotence, a retried batch can land after a later one, and a batch whose answer was lost
//! is written again by its retry.

use super::accumulator::ProducerBatch;
use super::{InFlightProduce, Producer, ProducerOut};
use crate::clients::partitioner::PartitionLoadStats;
use crate::kernel::{NodeId, SimTime};
use crate::log::ProducerInfo;
use crate::node::{Note, Timer};
use crate::protocol::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Errors after which the batch may still have been written: the leader may have appended
/// it before the answer was lost or before replication gave up.
fn maybe_written(error: Errors) -> bool {
    matches!(
        error,
        Errors::RequestTimedOut | Errors::NetworkException | Errors::NotEnoughReplicasAfterAppend
    )
}

impl Producer {
    /// One pass of Kafka's `Sender.runOnce`.
    pub(super) fn run_sender(&mut self, out: ProducerOut) {
        let now_ms = out.now_ms();
        if self.idempotence.is_some() {
            self.maintain_idempotence(out);
        }
        self.expire_batches(out);
        let (ready, mut next_check) = self.ready_nodes(now_ms, out);
        for node in ready {
            self.drain_node(node, out);
        }
        if let Some(next) = self.next_expiry() {
            next_check = Some(next_check.map_or(next, |n: i64| n.min(next)));
        }
        if let Some(i) = &self.idempotence
            && !i.has_producer_id()
            && i.init_in_flight.is_none()
        {
            let at = i.init_retry_at_ms;
            next_check = Some(next_check.map_or(at, |n| n.min(at)));
        }
        match next_check {
            Some(at) => {
                out.set_timer_at(Timer::SenderWakeup, SimTime::from_millis(at.max(0) as u64))
            }
            None => out.cancel_timer(Timer::SenderWakeup),
        }
    }

    /// Resolve sequences, bump the epoch if a gap demands it, get a producer id if missing.
    fn maintain_idempotence(&mut self, out: ProducerOut) {
        let Some(idem) = self.idempotence.as_mut() else {
            return;
        };
        idem.maybe_resolve_sequences(&self.accumulator.store);
        if let Some(partitions) = idem.bump_epoch_if_needed(&mut self.accumulator.store)
            && idem.has_producer_id()
        {
            out.note(Note::ProducerEpochBumped {
                producer_id: idem.producer_id,
                epoch: idem.epoch,
                partitions,
            });
        }
        if idem.has_producer_id() || idem.init_in_flight.is_some() {
            return;
        }
        if out.now_ms() < idem.init_retry_at_ms {
            return;
        }
        // Kafka sends InitProducerId to the least loaded node; we take the known broker with
        // the fewest requests in flight (lowest id on ties).
        let nodes = self.metadata.nodes();
        let Some(node) = nodes
            .iter()
            .min_by_key(|n| self.in_flight.values().filter(|r| r.node == **n).count())
            .copied()
        else {
            return;
        };
        let id = self.next_id();
        if let Some(idem) = self.idempotence.as_mut() {
            idem.init_in_flight = Some(id);
        }
        out.send(
            node,
            KafkaMsg::InitProducerId(InitProducerIdRequest {
                correlation_id: id,
                transactional_id: None,
                transaction_timeout_ms: i32::MAX,
                producer_id: -1,
                producer_epoch: -1,
            }),
        );
        out.set_timer_ms(Timer::RequestTimeout(id), self.config.request_timeout_ms);
    }

    pub(super) fn handle_init_producer_id(
        &mut self,
        resp: InitProducerIdResponse,
        out: ProducerOut,
    ) {
        let backoff = self.config.retry_backoff_ms;
        let Some(idem) = self.idempotence.as_mut() else {
            return;
        };
        if idem.init_in_flight != Some(resp.correlation_id) {
            return;
        }
        out.cancel_timer(Timer::RequestTimeout(resp.correlation_id));
        idem.init_in_flight = None;
        if resp.error.is_ok() {
            idem.set_producer_id(resp.producer_id, resp.producer_epoch);
            out.note(Note::ProducerIdAssigned {
                producer_id: resp.producer_id,
                epoch: resp.producer_epoch,
            });
        } else {
            // COORDINATOR_LOAD_IN_PROGRESS while the broker fetches an id block, or the
            // broker is not ready: retry after the backoff.
            idem.init_retry_at_ms = out.now_ms() + backoff;
        }
        self.run_sender(out);
    }

    /// Kafka's `RecordAccumulator.ready`: the leader nodes with a sendable batch, and when to
    /// look again for the others. Also feeds the adaptive partitioner its queue sizes.
    fn ready_nodes(&mut self, now_ms: i64, out: ProducerOut) -> (BTreeSet<NodeId>, Option<i64>) {
        let mut ready = BTreeSet::new();
        let mut next_check: Option<i64> = None;
        let mut unknown_leader = false;
        let mut load: BTreeMap<Arc<str>, Vec<(i32, u64)>> = BTreeMap::new();
        let partitions: Vec<TopicPartition> = self.accumulator.partitions().cloned().collect();
        for tp in &partitions {
            let leader = self
                .metadata
                .leader_id(&tp.topic, tp.partition)
                .and_then(|id| self.metadata.broker_node(id));
            let queued = self.accumulator.queue_len(tp) as u64;
            if let Some(node) = leader
                && !self.partition_too_slow(node)
            {
                load.entry(tp.topic.clone())
                    .or_default()
                    .push((tp.partition, queued));
            }
            let Some((_, first)) = self.accumulator.first(tp) else {
                continue;
            };
            let Some(node) = leader else {
                unknown_leader = true;
                continue;
            };
            self.node_stats.entry(node).or_insert((now_ms, now_ms)).0 = now_ms;
            let due = if self.backing_off(first, now_ms) {
                first.retry_at_ms
            } else {
                let full = queued > 1 || first.is_full(self.config.batch_size);
                let exhausted = self.blocked.is_some();
                if full || exhausted {
                    now_ms
                } else {
                    first.created_ms + self.config.linger_ms
                }
            };
            if due <= now_ms {
                ready.insert(node);
            } else {
                next_check = Some(next_check.map_or(due, |n| n.min(due)));
            }
        }
        if self.config.partitioner_adaptive {
            for (topic, sizes) in load {
                let count = self.metadata.partition_count(&topic).unwrap_or(0).max(0) as usize;
                // Kafka only weighs once every partition of the topic has had a queue.
                let known = partitions.iter().filter(|tp| tp.topic == topic).count();
                let stats = (known >= count)
                    .then(|| PartitionLoadStats::from_queue_sizes(&sizes, count))
                    .flatten();
                self.partitioner.update_load_stats(&topic, stats);
            }
        }
        if unknown_leader {
            self.refresh_metadata(out);
        }
        (ready, next_check)
    }

    /// `partitioner.availability.timeout.ms`: a leader that has had data ready for longer
    /// than that without a batch drained to it gets no new sticky data.
    fn partition_too_slow(&self, node: NodeId) -> bool {
        let timeout = self.config.partitioner_availability_timeout_ms;
        timeout > 0
            && self
                .node_stats
                .get(&node)
                .is_some_and(|(ready, drained)| ready - drained > timeout)
    }

    /// A retried batch waits out its backoff — unless its partition has a new leader since
    /// it was sent (KIP-951).
    fn backing_off(&self, batch: &ProducerBatch, now_ms: i64) -> bool {
        if batch.attempts == 0 || now_ms >= batch.retry_at_ms {
            return false;
        }
        let epoch = self
            .metadata
            .leader_epoch(&batch.tp.topic, batch.tp.partition);
        !matches!((epoch, batch.sent_leader_epoch), (Some(now), Some(then)) if now > then)
    }

    /// Kafka's `drainBatchesForOneNode` and `sendProduceRequest`.
    fn drain_node(&mut self, node: NodeId, out: ProducerOut) {
        let in_flight = self.in_flight.values().filter(|r| r.node == node).count();
        if in_flight >= self.config.max_in_flight as usize {
            return;
        }
        let now_ms = out.now_ms();
        let led: Vec<TopicPartition> = self
            .accumulator
            .partitions()
            .filter(|tp| {
                self.metadata
                    .leader_id(&tp.topic, tp.partition)
                    .and_then(|id| self.metadata.broker_node(id))
                    == Some(node)
            })
            .cloned()
            .collect();
        if led.is_empty() {
            return;
        }
        // One in flight means strict order: a partition with a batch in flight is muted.
        let guarantee_order = self.config.max_in_flight == 1;
        let start = self.drain_index.get(&node).copied().unwrap_or(0) % led.len();
        let mut drained: Vec<u64> = Vec::new();
        let mut size = 0;
        for i in 0..led.len() {
            let tp = &led[(start + i) % led.len()];
            if guarantee_order
                && self
                    .accumulator
                    .batches()
                    .any(|(_, b)| b.tp == *tp && b.in_flight)
            {
                continue;
            }
            let Some((_, first)) = self.accumulator.first(tp) else {
                continue;
            };
            if self.backing_off(first, now_ms) {
                continue;
            }
            if size + first.size_bytes > self.config.max_request_size && !drained.is_empty() {
                break;
            }
            if let Some(idem) = &self.idempotence
                && idem.should_stop_drain(&self.accumulator.store, first)
            {
                break;
            }
            size += first.size_bytes;
            let Some(id) = self.accumulator.pop_first(tp) else {
                continue;
            };
            self.assign_sequence_if_needed(id);
            drained.push(id);
            self.drain_index.insert(node, (start + i + 1) % led.len());
        }
        if drained.is_empty() {
            return;
        }
        self.node_stats.entry(node).or_insert((now_ms, now_ms)).1 = now_ms;
        self.send_produce(node, drained, out);
    }

    fn assign_sequence_if_needed(&mut self, id: u64) {
        let Some(idem) = self.idempotence.as_mut() else {
            return;
        };
        let Some(batch) = self.accumulator.get(id) else {
            return;
        };
        if batch.sequence.is_some() {
            return;
        }
        let (tp, count) = (batch.tp.clone(), batch.record_count());
        let sequence = idem.assign_sequence(&self.accumulator.store, &tp);
        idem.increment_sequence(&tp, count);
        if let Some(batch) = self.accumulator.get_mut(id) {
            batch.sequence = Some(sequence);
        }
    }

    fn send_produce(&mut self, node: NodeId, batches: Vec<u64>, out: ProducerOut) {
        let correlation_id = self.next_id();
        let mut partitions = Vec::with_capacity(batches.len());
        for id in &batches {
            let epoch = self
                .accumulator
                .get(*id)
                .and_then(|b| self.metadata.leader_epoch(&b.tp.topic, b.tp.partition));
            let Some(batch) = self.accumulator.get_mut(*id) else {
                continue;
            };
            batch.in_flight = true;
            batch.sent_leader_epoch = epoch;
            let producer = batch.sequence.map_or(ProducerInfo::NONE, |s| ProducerInfo {
                producer_id: s.producer_id,
                producer_epoch: s.epoch,
                base_sequence: s.base_sequence,
            });
            partitions.push(ProducePartitionData {
                tp: batch.tp.clone(),
                producer,
                records: batch.records.clone(),
            });
        }
        out.send(
            node,
            KafkaMsg::Produce(ProduceRequest {
                correlation_id,
                acks: self.config.acks,
                timeout_ms: self.config.request_timeout_ms.min(i64::from(i32::MAX)) as i32,
                partitions,
            }),
        );
        if self.config.acks == 0 {
            // Fire and forget: the sends complete at once, with no offset.
            for id in batches {
                self.accumulator.deallocate(id);
            }
            self.maybe_unblock(out);
            return;
        }
        self.in_flight
            .insert(correlation_id, InFlightProduce { node, batches });
        out.set_timer_ms(
            Timer::RequestTimeout(correlation_id),
            self.config.request_timeout_ms,
        );
    }

    pub(super) fn handle_produce_response(&mut self, resp: ProduceResponse, out: ProducerOut) {
        let Some(request) = self.in_flight.remove(&resp.correlation_id) else {
            return; // already timed out: the connection was closed
        };
        out.cancel_timer(Timer::RequestTimeout(resp.correlation_id));
        for id in request.batches {
            let Some(batch) = self.accumulator.get(id) else {
                continue; // expired while in flight
            };
            let answer = resp.partitions.iter().find(|p| p.tp == batch.tp);
            let (error, base_offset) = answer.map_or((Errors::UnknownServerError, -1), |p| {
                (p.error, p.base_offset)
            });
            self.complete_batch(id, error, base_offset, out);
        }
        self.maybe_unblock(out);
        self.run_sender(out);
    }

    /// The request got no answer within `request.timeout.ms`. Kafka's network client then
    /// closes the connection, failing every request on it (`REQUEST_TIMED_OUT` for this one,
    /// `NETWORK_EXCEPTION` for the others).
    pub(super) fn handle_request_timeout(&mut self, id: i32, out: ProducerOut) {
        if self.metadata.timed_out(id) {
            self.refresh_metadata(out);
            return;
        }
        if let Some(idem) = self.idempotence.as_mut()
            && idem.init_in_flight == Some(id)
        {
            idem.init_in_flight = None;
            idem.init_retry_at_ms = out.now_ms() + self.config.retry_backoff_ms;
            self.run_sender(out);
            return;
        }
        let Some(node) = self.in_flight.get(&id).map(|r| r.node) else {
            return;
        };
        self.fail_connection(node, Some(id), out);
    }

    /// The connection to a broker was reset (it crashed or restarted): its requests will
    /// never be answered; Kafka fails them with `NETWORK_EXCEPTION`.
    pub(crate) fn on_disconnect(&mut self, peer: NodeId, out: ProducerOut) {
        let metadata_lost = self.metadata.disconnected(peer, out);
        if let Some(idem) = self.idempotence.as_mut()
            && idem.init_in_flight.is_some()
            && self.metadata.nodes().contains(&peer)
        {
            // Simplification: we do not remember where the InitProducerId went; a reset of
            // any broker restarts it, which at worst allocates an id that is never used.
            if let Some(id) = idem.init_in_flight.take() {
                out.cancel_timer(Timer::RequestTimeout(id));
            }
        }
        let had_requests = self.in_flight.values().any(|r| r.node == peer);
        if metadata_lost || had_requests {
            self.refresh_metadata(out);
        }
        // Fails the requests, then runs the sender once.
        self.fail_connection(peer, None, out);
    }

    fn fail_connection(&mut self, node: NodeId, timed_out: Option<i32>, out: ProducerOut) {
        let ids: Vec<i32> = self
            .in_flight
            .iter()
            .filter(|(_, r)| r.node == node)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            out.cancel_timer(Timer::RequestTimeout(id));
            let Some(request) = self.in_flight.remove(&id) else {
                continue;
            };
            let error = if Some(id) == timed_out {
                Errors::RequestTimedOut
            } else {
                Errors::NetworkException
            };
            for batch in request.batches {
                self.complete_batch(batch, error, -1, out);
            }
        }
        if timed_out.is_some() {
            self.refresh_metadata(out);
        }
        self.maybe_unblock(out);
        self.run_sender(out);
    }

    /// Kafka's `Sender.completeBatch` for one partition's answer.
    fn complete_batch(&mut self, id: u64, error: Errors, base_offset: i64, out: ProducerOut) {
        let now_ms = out.now_ms();
        let Some(batch) = self.accumulator.get_mut(id) else {
            return;
        };
        batch.in_flight = false;
        if error.is_ok() || error == Errors::DuplicateSequenceNumber {
            let Some(batch) = self.accumulator.deallocate(id) else {
                return;
            };
            // DUPLICATE_SEQUENCE_NUMBER (old brokers) is success with an unknown offset.
            let known = error.is_ok() && base_offset >= 0;
            let last_offset = known.then(|| base_offset + i64::from(batch.record_count()) - 1);
            if let Some(idem) = self.idempotence.as_mut() {
                idem.handle_completed(&batch, last_offset);
            }
            for (i, value) in batch.values.iter().enumerate() {
                out.note(Note::Acked {
                    value: value.clone(),
                    tp: batch.tp.clone(),
                    offset: if known { base_offset + i as i64 } else { -1 },
                });
            }
            return;
        }
        batch.maybe_written |= maybe_written(error);
        if error.invalidates_metadata() {
            self.refresh_metadata(out);
        }
        let Some(attempts) = self.accumulator.get(id).map(|b| b.attempts) else {
            return;
        };
        if self.can_retry(id, error, now_ms) {
            self.reenqueue(id, error, out);
        } else {
            let adjust = attempts < self.config.retries;
            self.fail_batch(id, error, adjust, out);
        }
    }

    /// `Sender.canRetry`.
    fn can_retry(&mut self, id: u64, error: Errors, now_ms: i64) -> bool {
        let Some(batch) = self.accumulator.get(id) else {
            return false;
        };
        if batch.has_reached_delivery_timeout(self.config.delivery_timeout_ms, now_ms)
            || batch.attempts >= self.config.retries
        {
            return false;
        }
        match self.idempotence.as_mut() {
            Some(idem) => idem.can_retry(error, batch),
            None => error.is_retriable(),
        }
    }

    /// `reenqueueBatch`: back to the front of the queue, after an exponential backoff
    /// (`retry.backoff.ms` doubling up to `retry.backoff.max.ms`, ±20% jitter).
    fn reenqueue(&mut self, id: u64, error: Errors, out: ProducerOut) {
        let now_ms = out.now_ms();
        let backoff = self.backoff_ms(self.accumulator.get(id).map_or(0, |b| b.attempts), out);
        let Some(batch) = self.accumulator.get_mut(id) else {
            return;
        };
        batch.attempts += 1;
        batch.retry_at_ms = now_ms + backoff;
        out.note(Note::BatchRetried {
            tp: batch.tp.clone(),
            records: batch.records.len(),
            attempt: batch.attempts,
            error,
            base_sequence: batch.sequence.map_or(-1, |s| s.base_sequence),
        });
        self.accumulator.reenqueue(id);
    }

    /// The backoff before retry number `attempts + 1`, with the random factor from the run's
    /// PRNG.
    // Simplification: Kafka draws a new random factor each time it checks readiness; we draw
    // it once per retry, which gives the same distribution of retry times.
    fn backoff_ms(&self, attempts: u32, out: ProducerOut) -> i64 {
        let unit = (out.rng().next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        exponential_backoff(
            self.config.retry_backoff_ms,
            self.config.retry_backoff_max_ms,
            attempts,
            unit,
        )
    }

    /// `Sender.failBatch`: the send is over. If some attempt may have been written, the
    /// outcome is unknown rather than failed.
    fn fail_batch(&mut self, id: u64, error: Errors, adjust_sequences: bool, out: ProducerOut) {
        let Some(batch) = self.accumulator.deallocate(id) else {
            return;
        };
        if let Some(idem) = self.idempotence.as_mut() {
            idem.handle_failed(&batch, error, adjust_sequences);
        }
        for value in batch.values {
            let tp = batch.tp.clone();
            out.note(if batch.maybe_written {
                Note::SendUnknown { value, tp, error }
            } else {
                Note::SendFailed { value, tp, error }
            });
        }
    }

    /// Batches past `delivery.timeout.ms`, queued or in flight, fail with a
    /// `TimeoutException`. One that was sent may have been written: unknown outcome; with
    /// idempotence its partition's sequence becomes unresolved.
    fn expire_batches(&mut self, out: ProducerOut) {
        let now_ms = out.now_ms();
        let timeout = self.config.delivery_timeout_ms;
        let mut expired = self.accumulator.expired_queued(timeout, now_ms);
        expired.extend(
            self.accumulator
                .batches()
                .filter(|(_, b)| b.in_flight && b.has_reached_delivery_timeout(timeout, now_ms))
                .map(|(id, _)| id),
        );
        for id in expired {
            let Some(batch) = self.accumulator.get_mut(id) else {
                continue;
            };
            // Sent and unanswered: the broker may have it. (Earlier attempts already marked the
            // batch if their answers left that open.)
            batch.maybe_written |= batch.in_flight;
            let in_retry = batch.attempts > 0;
            if in_retry && let Some(idem) = self.idempotence.as_mut() {
                idem.mark_unresolved(batch);
            }
            // The request it was part of may still be answered; the answer is then ignored.
            for request in self.in_flight.values_mut() {
                request.batches.retain(|b| *b != id);
            }
            self.fail_batch(id, Errors::RequestTimedOut, false, out);
        }
    }

    /// The earliest delivery-timeout deadline of a live batch.
    fn next_expiry(&self) -> Option<i64> {
        self.accumulator
            .batches()
            .map(|(_, b)| b.created_ms + self.config.delivery_timeout_ms)
            .min()
    }
}

/// Kafka's `ExponentialBackoff(initial, 2, max, 0.2).backoff(attempts)`: `initial × 2^attempts`
/// (the exponent capped where it reaches `max`), times a random factor in [0.8, 1.2) drawn
/// from `unit` in [0, 1), and never above `max`.
pub fn exponential_backoff(initial_ms: i64, max_ms: i64, attempts: u32, unit: f64) -> i64 {
    let (initial, max) = (initial_ms as f64, max_ms as f64);
    if max <= initial || initial <= 0.0 {
        return initial_ms;
    }
    let exp_max = (max / initial).ln() / 2f64.ln();
    let term = initial * 2f64.powf(f64::from(attempts).min(exp_max));
    let factor = 0.8 + 0.4 * unit;
    ((factor * term) as i64).min(max_ms)
}

#[cfg(test)]
mod tests {
    use super::exponential_backoff;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_max() {
        // retry.backoff.ms=100, retry.backoff.max.ms=1000 (Kafka's defaults).
        assert_eq!(exponential_backoff(100, 1000, 0, 0.5), 100);
        assert_eq!(exponential_backoff(100, 1000, 0, 0.0), 80);
        assert_eq!(exponential_backoff(100, 1000, 0, 0.999_999), 119);
        assert_eq!(exponential_backoff(100, 1000, 1, 0.5), 200);
        assert_eq!(exponential_backoff(100, 1000, 3, 0.5), 800);
        // 2^4 = 1600 is past the max: the exponent stops at log2(10), then jitter, then cap.
        assert_eq!(exponential_backoff(100, 1000, 4, 0.5), 1000);
        assert_eq!(exponential_backoff(100, 1000, 9, 0.0), 800);
        assert_eq!(exponential_backoff(100, 1000, 9, 0.999), 1000);
        // max <= initial: a constant backoff, as Kafka's expMax = 0.
        assert_eq!(exponential_backoff(500, 100, 5, 0.3), 500);
    }
}
