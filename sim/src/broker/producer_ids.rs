//! Handing out producer ids to idempotent producers (`InitProducerId` without a
//! `transactional.id`).
//!
//! Models Kafka's `RPCProducerIdManager` (KIP-730): a broker owns a block of ids it got from
//! the controller (`AllocateProducerIds`, recorded as a `ProducerIdsRecord` in the metadata
//! log, so no two brokers and no two blocks ever overlap). Each `InitProducerId` takes the next
//! id with epoch 0. With no id left the broker asks for a new block and answers
//! `COORDINATOR_LOAD_IN_PROGRESS`; the producer retries after its backoff. The block is
//! volatile: a restarted broker asks for a fresh one, and the unused ids are simply skipped,
//! as in Kafka.

use super::{Broker, BrokerOut, CONTROLLER_REQUEST_TIMEOUT_MS, Outstanding};
use crate::kernel::NodeId;
use crate::protocol::*;
use serde::Serialize;

/// The broker's current block: the next id to give and the end of the block (exclusive).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub(super) struct ProducerIdBlock {
    next: i64,
    end: i64,
}

impl Broker {
    pub(super) fn handle_init_producer_id(
        &mut self,
        from: NodeId,
        req: InitProducerIdRequest,
        out: BrokerOut,
    ) {
        let (error, producer_id) = if req.transactional_id.is_some() {
            // Simplification: no transaction coordinator yet; a transactional producer is
            // refused at configuration time, so this only guards the protocol.
            (Errors::NotCoordinator, -1)
        } else {
            match self.producer_ids.as_mut() {
                Some(block) if block.next < block.end => {
                    let id = block.next;
                    block.next += 1;
                    (Errors::None, id)
                }
                _ => {
                    self.request_producer_id_block(out);
                    (Errors::CoordinatorLoadInProgress, -1)
                }
            }
        };
        out.send(
            from,
            KafkaMsg::InitProducerIdResponse(InitProducerIdResponse {
                correlation_id: req.correlation_id,
                error,
                producer_id,
                producer_epoch: if error.is_ok() { 0 } else { -1 },
            }),
        );
    }

    fn request_producer_id_block(&mut self, out: BrokerOut) {
        let Some(broker_epoch) = self.broker_epoch else {
            return; // not registered: nothing to ask with; the producer retries
        };
        if self
            .outstanding
            .values()
            .any(|o| *o == Outstanding::AllocateProducerIds)
        {
            return;
        }
        let id = self.next_id();
        let msg = KafkaMsg::AllocateProducerIds(AllocateProducerIdsRequest {
            correlation_id: id,
            broker_id: self.config.node_id,
            broker_epoch,
        });
        self.send_to_controller(
            msg,
            id,
            Outstanding::AllocateProducerIds,
            CONTROLLER_REQUEST_TIMEOUT_MS,
            out,
        );
    }

    pub(super) fn handle_allocate_producer_ids(
        &mut self,
        resp: AllocateProducerIdsResponse,
        out: BrokerOut,
    ) {
        if self.outstanding.remove(&resp.correlation_id).is_none() {
            return;
        }
        out.cancel_timer(crate::node::Timer::RequestTimeout(resp.correlation_id));
        if resp.error.is_ok() && resp.producer_id_len > 0 {
            self.producer_ids = Some(ProducerIdBlock {
                next: resp.producer_id_start,
                end: resp.producer_id_start + i64::from(resp.producer_id_len),
            });
        }
    }
}
