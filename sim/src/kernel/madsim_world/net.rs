//! The madsim engine's network: a message goes from the sender's handler to a madsim task
//! of the sender that hands it to `Endpoint::send_to_raw`, through madsim's network (its
//! latency, its clogs), into one of the receiver's receive loops, through the link's FIFO
//! reassembly, to the receiver's handler — with the World's rules for loss, duplication,
//! cuts, dead receivers and connection resets on the way.

use super::{MadsimActor, Observer, Shared, TAG, lock, now, sleep_until, spawn_on};
use crate::kernel::fifo::FifoLink;
use crate::kernel::network::{DropReason, LinkConfig, MessageId};
use crate::kernel::node::{MessageKind, NodeId};
use crate::kernel::time::SimTime;
use crate::kernel::trace::{EventKind, NetNote};
use crate::kernel::world::NodeStatus;
use ::madsim::time::Duration;

/// What goes over the madsim network: a model message with its link sequence number
/// (`None` when the link was cut as it was sent: madsim's clog drops it).
#[derive(Debug)]
pub(super) struct Envelope<M> {
    id: MessageId,
    from: NodeId,
    seq: Option<u64>,
    /// When the sender's handler sent it, to measure what the trip took.
    sent_at: SimTime,
    msg: M,
}

/// What the engine saw of madsim's network in a run: how far it is from our World's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Messages that reached their receiver's socket.
    pub arrived: u64,
    /// Arrivals ahead of an earlier message of their link (madsim reordered them; the
    /// FIFO layer held them until their turn).
    pub overtook: u64,
    /// Numbered messages that never reached the network (cut, dead receiver or sender).
    pub written_off: u64,
    /// The longest trip from the sender's handler to the receiver's socket, in µs.
    pub max_trip_us: u64,
    /// Trips longer than madsim's latency range plus its overhead and 1 ms: congestion in
    /// the engine (its receive loops all busy), which our World does not have.
    pub slow_trips: u64,
}

impl<A, O> Shared<A, O>
where
    A: MadsimActor,
    O: Observer<A>,
{
    // ----- the network ---------------------------------------------------------------------

    /// Offers a message to the link `from → to`: drawn lost or duplicated as the World's
    /// `Network::send` does, numbered for the link's order, and handed to madsim by a task
    /// of the sender.
    pub(super) fn send(&mut self, from: NodeId, to: NodeId, msg: A::Msg, net: &mut Vec<NetNote>) {
        let id = self.message_id();
        let api = msg.kind();
        let link = self.network.link(from, to);
        let cut = self.network.is_cut(from, to);
        let rng = &mut self.nodes[from.0 as usize].rng;
        if !cut && rng.chance(link.loss) {
            net.push(NetNote::Dropped {
                id,
                to,
                api,
                reason: DropReason::Lost,
            });
            return;
        }
        let copy = !cut && rng.chance(link.duplicate);
        let deliver_at_us = now().as_micros() + link.latency_us;
        if cut {
            let reason = DropReason::LinkCut;
            net.push(NetNote::Dropped {
                id,
                to,
                api,
                reason,
            });
        } else {
            net.push(NetNote::Sent {
                id,
                to,
                api,
                deliver_at_us,
            });
        }
        if copy {
            let copy_id = self.message_id();
            net.push(NetNote::Duplicated {
                id,
                copy: copy_id,
                deliver_at_us,
            });
            self.post(from, to, copy_id, msg.clone(), false);
        }
        self.post(from, to, id, msg, cut);
    }

    fn message_id(&mut self) -> MessageId {
        self.next_message += 1;
        MessageId(self.next_message)
    }

    fn post(&mut self, from: NodeId, to: NodeId, id: MessageId, msg: A::Msg, cut: bool) {
        let seq = (!cut).then(|| self.links.entry((from, to)).or_default().issue());
        let sender = &self.nodes[from.0 as usize];
        let Some(endpoint) = sender.endpoint.clone() else {
            debug_assert!(false, "{} sent before its socket was bound", sender.name);
            return;
        };
        let (dst, me) = (self.nodes[to.0 as usize].addr, self.me.clone());
        let sent_at = now();
        let envelope = Envelope {
            id,
            from,
            seq,
            sent_at,
            msg,
        };
        spawn_on(sender, async move {
            let api = envelope.msg.kind();
            // `send_to_raw` never fails: a message madsim cannot deliver is dropped silently.
            let _ = endpoint.send_to_raw(dst, TAG, Box::new(envelope)).await;
            // madsim decided the message's fate in this same poll: look at what it saw.
            if let Some(shared) = me.upgrade() {
                lock(&shared).after_send(from, to, id, api, seq);
            }
        });
    }

    /// Right after madsim sent a numbered message: it is on the network unless the link was
    /// cut or the receiver had no socket (dead), and then it is written off.
    fn after_send(
        &mut self,
        from: NodeId,
        to: NodeId,
        id: MessageId,
        api: &'static str,
        seq: Option<u64>,
    ) {
        let Some(seq) = seq else { return };
        let cut = self.network.is_cut(from, to);
        let link = self.links.entry((from, to)).or_default();
        if !cut && self.nodes[to.0 as usize].endpoint.is_some() {
            link.sent(seq);
            return;
        }
        link.write_off(seq);
        self.stats.written_off += 1;
        self.wake_receiver(to);
        if !cut {
            // It reached a node that is down (the World records the drop at the receiver).
            let kind = EventKind::Dropped {
                id,
                from,
                api,
                reason: DropReason::NodeDown,
            };
            let event = self.event(Some(to), kind);
            self.record(event);
            self.refuse_connection(to, from);
        }
    }

    /// A message arrived at `to`'s socket: into the link's reassembly, then hand over what
    /// is now in order.
    pub(super) fn accept(&mut self, to: NodeId, envelope: Envelope<A::Msg>) {
        let (from, id, api) = (envelope.from, envelope.id, envelope.msg.kind());
        self.count_trip(envelope.sent_at);
        let seq = envelope.seq;
        let arrived = match envelope.seq {
            Some(seq) => self
                .links
                .entry((from, to))
                .or_default()
                .arrive(seq, envelope),
            None => Err(envelope), // sent over a cut link that healed before madsim sent it
        };
        if arrived.is_err() {
            let reason = if self.network.is_cut(from, to) {
                DropReason::LinkCut
            } else {
                DropReason::NodeDown // sent to an earlier incarnation of `to`
            };
            let kind = EventKind::Dropped {
                id,
                from,
                api,
                reason,
            };
            let event = self.event(Some(to), kind);
            self.record(event);
        }
        self.drain(from, to);
        let link = self.links.get(&(from, to));
        if seq.is_some_and(|seq| link.is_some_and(|l| l.holds(seq))) {
            self.stats.overtook += 1;
        }
    }

    /// Hands over the messages of `from → to` that are in order.
    fn drain(&mut self, from: NodeId, to: NodeId) {
        while let Some(envelope) = self.links.get_mut(&(from, to)).and_then(FifoLink::pop) {
            self.deliver(envelope, to);
        }
    }

    fn count_trip(&mut self, sent_at: SimTime) {
        let trip_us = now().as_micros().saturating_sub(sent_at.as_micros());
        self.stats.arrived += 1;
        self.stats.max_trip_us = self.stats.max_trip_us.max(trip_us);
        if trip_us > self.trip_bound_us {
            self.stats.slow_trips += 1;
        }
    }

    /// Runs, on `to`'s madsim node, a drain of every link into it (its inbox may have
    /// waited for a message that was just written off).
    pub(super) fn wake_receiver(&self, to: NodeId) {
        let host = &self.nodes[to.0 as usize];
        if host.endpoint.is_none() {
            return;
        }
        let me = self.me.clone();
        spawn_on(host, async move {
            let Some(shared) = me.upgrade() else { return };
            let mut shared = lock(&shared);
            let senders: Vec<NodeId> = shared
                .links
                .keys()
                .filter(|(_, t)| *t == to)
                .map(|(f, _)| *f)
                .collect();
            for from in senders {
                shared.drain(from, to);
            }
        });
    }

    /// A message's turn came, as `World::deliver`: dropped if the link is cut now, else
    /// handled.
    fn deliver(&mut self, envelope: Envelope<A::Msg>, to: NodeId) {
        let Envelope { id, from, msg, .. } = envelope;
        let api = msg.kind();
        let reason = if self.network.is_cut(from, to) {
            Some(DropReason::LinkCut)
        } else if self.nodes[to.0 as usize].status != NodeStatus::Running {
            Some(DropReason::NodeDown)
        } else {
            None
        };
        if let Some(reason) = reason {
            if reason == DropReason::NodeDown {
                self.refuse_connection(to, from);
            }
            let kind = EventKind::Dropped {
                id,
                from,
                api,
                reason,
            };
            let event = self.event(Some(to), kind);
            self.record(event);
            return;
        }
        let kind = EventKind::Deliver { id, from, api };
        self.dispatch(to, kind, true, |a, out| a.on_message(from, msg, out));
    }

    /// As `World::refuse_connection`: a dead process refuses, a dead machine is silent.
    fn refuse_connection(&mut self, dead: NodeId, sender: NodeId) {
        let host = &self.nodes[dead.0 as usize];
        if host.status.refuses_connections(host.crash_kind) {
            self.reset_connection(dead, sender);
        }
    }

    /// As `World::reset_connection`: `node` learns, one link latency later, that its
    /// connections to `peer` were reset — on its own madsim node, so a pause delays it and
    /// a crash loses it.
    fn reset_connection(&mut self, peer: NodeId, node: NodeId) {
        let host = &self.nodes[node.0 as usize];
        if node == peer || !host.status.is_alive() || self.network.is_cut(peer, node) {
            return;
        }
        let at = now().plus_micros(self.network.link(peer, node).latency_us);
        let (base, me) = (self.base, self.me.clone());
        spawn_on(host, async move {
            sleep_until(base, at).await;
            let Some(shared) = me.upgrade() else { return };
            let mut shared = lock(&shared);
            // A process still binding its socket had no connection to reset.
            if shared.nodes[node.0 as usize].is_up() {
                let kind = EventKind::Disconnect { peer };
                shared.dispatch(node, kind, true, |a, out| a.on_disconnect(peer, out));
            }
        });
    }

    pub(super) fn reset_peers(&mut self, dead: NodeId) {
        for other in 0..self.nodes.len() {
            self.reset_connection(dead, NodeId(other as u32));
        }
    }
}

/// madsim's own delay on every message: `send_to_raw` and `recv_from_raw` each first sleep
/// a "random delay" of under 5 µs, which madsim's 1 ms minimum sleep turns into 1 ms.
pub const MADSIM_MESSAGE_OVERHEAD_US: u64 = 2_000;

/// A madsim configuration whose one-way delays approximate `link` (`latency_us` plus up to
/// `jitter_us`): madsim has one latency range for the whole network, drawn uniformly, on top
/// of its fixed overhead ([`MADSIM_MESSAGE_OVERHEAD_US`]). So the range is the link's, moved
/// down by the overhead: exact for a latency of 2 ms or more, and for a shorter one the
/// overhead is the floor (a 1 ms link takes 2 ms). Loss and duplication are drawn by the
/// engine, so madsim itself loses nothing.
/// The longest trip a message should take on madsim configured for `link`, with 1 ms to
/// spare for the scheduler: beyond it, the message queued in the engine.
pub(super) fn trip_bound_us(link: &LinkConfig) -> u64 {
    let low = link.latency_us.saturating_sub(MADSIM_MESSAGE_OVERHEAD_US);
    MADSIM_MESSAGE_OVERHEAD_US + low + link.jitter_us + 1_000
}

pub fn madsim_config(link: &LinkConfig) -> ::madsim::Config {
    let low = link.latency_us.saturating_sub(MADSIM_MESSAGE_OVERHEAD_US);
    let high = low + link.jitter_us + 1; // madsim's range excludes its end
    let mut config = ::madsim::Config::default();
    config.net.send_latency = Duration::from_micros(low)..Duration::from_micros(high);
    config.net.packet_loss_rate = 0.0;
    config
}
