//! The simulated network: per-link latency, loss, duplication and cuts, and the messages in
//! flight.
//!
//! Kafka talks over TCP, so a link delivers in order: a message never overtakes an earlier one
//! on the same directed link, even when jitter would let it. Loss and duplication are knobs for
//! teaching what retries and idempotence are for; a "lost" message stands for a connection that
//! broke with that request or response on it. A cut link drops what is sent over it and what
//! would arrive over it while it is cut, as a real partition resets the connection.
//!
//! Every message gets a stable id (`MessageId`, in send order) so the lab can list what is in
//! flight and a command can drop one particular message.

use super::node::NodeId;
use super::rng::{Probability, SimRng};
use super::time::SimTime;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Stable id of a message, assigned in send order from 1.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct MessageId(pub u64);

/// Behaviour of one directed link. Latency is `latency_us + uniform(0..=jitter_us)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkConfig {
    pub latency_us: u64,
    pub jitter_us: u64,
    /// Probability that a message on this link is lost.
    pub loss: Probability,
    /// Probability that a delivered message is delivered twice.
    pub duplicate: Probability,
}

impl Default for LinkConfig {
    /// A quiet data-centre link: 1 ms one way, up to 0.5 ms of jitter, no loss.
    fn default() -> Self {
        LinkConfig {
            latency_us: 1_000,
            jitter_us: 500,
            loss: Probability::ZERO,
            duplicate: Probability::ZERO,
        }
    }
}

/// A message on its way.
#[derive(Clone, Debug, Serialize)]
pub struct InFlight<M> {
    pub id: MessageId,
    pub from: NodeId,
    pub to: NodeId,
    pub sent_at: SimTime,
    pub deliver_at: SimTime,
    /// True for the extra copy made by link duplication.
    pub duplicate: bool,
    pub msg: M,
}

/// Why the network did not deliver a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropReason {
    /// The directed link was cut.
    LinkCut,
    /// Random loss on the link.
    Lost,
    /// A user command dropped this message.
    Command,
    /// The destination was not running (crashed or removed).
    NodeDown,
}

/// Outcome of offering a message to the network.
#[derive(Debug)]
pub(crate) enum SendOutcome {
    Queued {
        id: MessageId,
        deliver_at: SimTime,
        copy: Option<(MessageId, SimTime)>,
    },
    Dropped(MessageId, DropReason),
}

/// Links, cuts and the in-flight table.
#[derive(Clone, Debug)]
pub struct Network<M> {
    default_link: LinkConfig,
    links: BTreeMap<(NodeId, NodeId), LinkConfig>,
    cut: BTreeSet<(NodeId, NodeId)>,
    in_flight: BTreeMap<MessageId, InFlight<M>>,
    /// Latest scheduled arrival per directed link, to keep each link FIFO.
    last_arrival: BTreeMap<(NodeId, NodeId), SimTime>,
    next_id: u64,
}

impl<M: Clone> Network<M> {
    pub fn new(default_link: LinkConfig) -> Self {
        Network {
            default_link,
            links: BTreeMap::new(),
            cut: BTreeSet::new(),
            in_flight: BTreeMap::new(),
            last_arrival: BTreeMap::new(),
            next_id: 1,
        }
    }

    pub fn link(&self, from: NodeId, to: NodeId) -> LinkConfig {
        self.links
            .get(&(from, to))
            .copied()
            .unwrap_or(self.default_link)
    }

    pub fn set_link(&mut self, from: NodeId, to: NodeId, config: LinkConfig) {
        self.links.insert((from, to), config);
    }

    pub fn set_default_link(&mut self, config: LinkConfig) {
        self.default_link = config;
    }

    pub fn default_link(&self) -> LinkConfig {
        self.default_link
    }

    pub fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.cut.contains(&(from, to))
    }

    /// Cuts the directed links `from → to` (and `to → from` when `both`).
    pub fn cut(&mut self, from: NodeId, to: NodeId, both: bool) {
        self.cut.insert((from, to));
        if both {
            self.cut.insert((to, from));
        }
    }

    pub fn heal(&mut self, from: NodeId, to: NodeId, both: bool) {
        self.cut.remove(&(from, to));
        if both {
            self.cut.remove(&(to, from));
        }
    }

    pub fn heal_all(&mut self) {
        self.cut.clear();
    }

    /// Directed links currently cut, in order.
    pub fn cuts(&self) -> impl Iterator<Item = (NodeId, NodeId)> + '_ {
        self.cut.iter().copied()
    }

    /// Messages in flight, in id (send) order.
    pub fn in_flight(&self) -> impl Iterator<Item = &InFlight<M>> {
        self.in_flight.values()
    }

    pub fn get(&self, id: MessageId) -> Option<&InFlight<M>> {
        self.in_flight.get(&id)
    }

    pub(crate) fn take(&mut self, id: MessageId) -> Option<InFlight<M>> {
        self.in_flight.remove(&id)
    }

    fn allocate_id(&mut self) -> MessageId {
        let id = MessageId(self.next_id);
        self.next_id += 1;
        id
    }

    /// Offers a message to the link `from → to` at `now`.
    pub(crate) fn send(
        &mut self,
        now: SimTime,
        from: NodeId,
        to: NodeId,
        msg: M,
        rng: &mut SimRng,
    ) -> SendOutcome {
        let id = self.allocate_id();
        if self.is_cut(from, to) {
            return SendOutcome::Dropped(id, DropReason::LinkCut);
        }
        let link = self.link(from, to);
        if rng.chance(link.loss) {
            return SendOutcome::Dropped(id, DropReason::Lost);
        }
        let deliver_at = self.arrival(now, from, to, &link, rng);
        let copy = if rng.chance(link.duplicate) {
            let copy_id = self.allocate_id();
            let copy_at = self.arrival(now, from, to, &link, rng);
            self.insert(copy_id, now, from, to, copy_at, true, msg.clone());
            Some((copy_id, copy_at))
        } else {
            None
        };
        self.insert(id, now, from, to, deliver_at, false, msg);
        SendOutcome::Queued {
            id,
            deliver_at,
            copy,
        }
    }

    fn arrival(
        &mut self,
        now: SimTime,
        from: NodeId,
        to: NodeId,
        link: &LinkConfig,
        rng: &mut SimRng,
    ) -> SimTime {
        let jitter = rng.between(0, link.jitter_us);
        let natural = now.plus_micros(link.latency_us + jitter);
        let last = self.last_arrival.entry((from, to)).or_default();
        let at = natural.max(*last);
        *last = at;
        at
    }

    #[allow(clippy::too_many_arguments)]
    fn insert(
        &mut self,
        id: MessageId,
        now: SimTime,
        from: NodeId,
        to: NodeId,
        deliver_at: SimTime,
        duplicate: bool,
        msg: M,
    ) {
        let entry = InFlight {
            id,
            from,
            to,
            sent_at: now,
            deliver_at,
            duplicate,
            msg,
        };
        self.in_flight.insert(id, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(outcome: SendOutcome) -> (MessageId, SimTime) {
        match outcome {
            SendOutcome::Queued { id, deliver_at, .. } => (id, deliver_at),
            SendOutcome::Dropped(id, why) => panic!("{id:?} dropped: {why:?}"),
        }
    }

    #[test]
    fn a_link_is_fifo_even_with_jitter() {
        let mut rng = SimRng::new(5);
        let link = LinkConfig {
            latency_us: 100,
            jitter_us: 10_000,
            ..LinkConfig::default()
        };
        let mut net: Network<u32> = Network::new(link);
        let (a, b) = (NodeId(0), NodeId(1));
        let mut last = SimTime::ZERO;
        for i in 0..50 {
            let (_, at) = queued(net.send(SimTime::from_micros(i), a, b, 0, &mut rng));
            assert!(at >= last);
            last = at;
        }
    }

    #[test]
    fn cut_links_drop_one_way_or_both() {
        let mut rng = SimRng::new(5);
        let mut net: Network<u32> = Network::new(LinkConfig::default());
        let (a, b) = (NodeId(0), NodeId(1));
        net.cut(a, b, false);
        assert!(matches!(
            net.send(SimTime::ZERO, a, b, 1, &mut rng),
            SendOutcome::Dropped(_, DropReason::LinkCut)
        ));
        queued(net.send(SimTime::ZERO, b, a, 2, &mut rng));
        net.heal(a, b, false);
        net.cut(a, b, true);
        assert!(net.is_cut(b, a));
        net.heal_all();
        queued(net.send(SimTime::ZERO, a, b, 3, &mut rng));
        assert_eq!(net.in_flight().count(), 2);
    }

    #[test]
    fn certain_loss_and_duplication() {
        let mut rng = SimRng::new(5);
        let mut net: Network<u32> = Network::new(LinkConfig {
            duplicate: Probability::ONE,
            ..LinkConfig::default()
        });
        let outcome = net.send(SimTime::ZERO, NodeId(0), NodeId(1), 7, &mut rng);
        assert!(matches!(outcome, SendOutcome::Queued { copy: Some(_), .. }));
        assert_eq!(net.in_flight().count(), 2);
        net.set_default_link(LinkConfig {
            loss: Probability::ONE,
            ..LinkConfig::default()
        });
        assert!(matches!(
            net.send(SimTime::ZERO, NodeId(0), NodeId(1), 8, &mut rng),
            SendOutcome::Dropped(_, DropReason::Lost)
        ));
    }
}
