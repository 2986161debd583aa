//! In-order delivery over a network that reorders: a link's sequence numbers and the
//! receiver's reassembly, as TCP has them, for the madsim cross-check.
//!
//! Our [`World`](super::World) keeps each directed link FIFO, because Kafka talks over TCP
//! (see `network.rs`). madsim's `Endpoint` is a datagram socket: every message draws its own
//! latency, so a later message can overtake an earlier one. The madsim engine therefore
//! numbers the messages of each directed link and the receiver hands them over in that order.
//!
//! Unlike TCP nothing is retransmitted: a message that never reaches the network — sent over a
//! cut link, to a dead node, or lost with its sender — is *written off* by whoever learns its
//! fate, so that the messages behind it are not held for ever. The engine knows every such
//! fate exactly (it sees what madsim saw when it sent), so no timeout is involved.
//!
//! This module is plain data with no madsim in it, so it is unit-tested in the normal build.

use std::collections::{BTreeMap, BTreeSet};

/// One directed link: the sender's numbering and the receiver's reassembly buffer.
#[derive(Clone, Debug)]
pub struct FifoLink<M> {
    /// The sequence number the next message will get.
    next_seq: u64,
    /// Numbered messages not yet known to be on the network or written off.
    unsent: BTreeSet<u64>,
    /// The sequence number the receiver hands over next.
    next_deliver: u64,
    /// Arrived ahead of their turn.
    held: BTreeMap<u64, M>,
    /// Will never arrive; their turn is skipped.
    written_off: BTreeSet<u64>,
}

impl<M> Default for FifoLink<M> {
    fn default() -> Self {
        FifoLink {
            next_seq: 0,
            unsent: BTreeSet::new(),
            next_deliver: 0,
            held: BTreeMap::new(),
            written_off: BTreeSet::new(),
        }
    }
}

impl<M> FifoLink<M> {
    /// Numbers a new message.
    pub fn issue(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.unsent.insert(seq);
        seq
    }

    /// Message `seq` is on the network: it will arrive.
    pub fn sent(&mut self, seq: u64) {
        self.unsent.remove(&seq);
    }

    /// Message `seq` will never arrive.
    pub fn write_off(&mut self, seq: u64) {
        self.unsent.remove(&seq);
        if seq >= self.next_deliver && !self.held.contains_key(&seq) {
            self.written_off.insert(seq);
        }
    }

    /// The sender died: what it had numbered but not yet put on the network is gone.
    pub fn sender_died(&mut self) {
        for seq in std::mem::take(&mut self.unsent) {
            self.write_off(seq);
        }
    }

    /// The receiver died: everything numbered so far is written off (what was in flight, or
    /// held here, went to a process that no longer exists). Returns what was held.
    pub fn receiver_died(&mut self) -> Vec<M> {
        self.next_deliver = self.next_seq;
        self.written_off.clear();
        std::mem::take(&mut self.held).into_values().collect()
    }

    /// Message `seq` arrived. `Err` gives it back when its turn has passed: it was sent to
    /// an earlier incarnation of the receiver, or its turn was written off.
    pub fn arrive(&mut self, seq: u64, msg: M) -> Result<(), M> {
        if seq < self.next_deliver || self.written_off.contains(&seq) {
            return Err(msg);
        }
        debug_assert!(!self.held.contains_key(&seq), "message {seq} arrived twice");
        self.held.insert(seq, msg);
        Ok(())
    }

    /// The next message in order, if it has arrived; written-off turns are skipped.
    pub fn pop(&mut self) -> Option<M> {
        loop {
            if let Some(msg) = self.held.remove(&self.next_deliver) {
                self.next_deliver += 1;
                return Some(msg);
            }
            if !self.written_off.remove(&self.next_deliver) {
                return None;
            }
            self.next_deliver += 1;
        }
    }

    /// Messages that arrived and wait for an earlier one.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Whether message `seq` arrived and waits for an earlier one.
    pub fn holds(&self, seq: u64) -> bool {
        self.held.contains_key(&seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(link: &mut FifoLink<u64>) -> Vec<u64> {
        std::iter::from_fn(|| link.pop()).collect()
    }

    #[test]
    fn overtaking_messages_wait_for_their_turn() {
        let mut link = FifoLink::default();
        let seqs: Vec<u64> = (0..3).map(|_| link.issue()).collect();
        for seq in &seqs {
            link.sent(*seq);
        }
        link.arrive(2, 2).expect("in time");
        link.arrive(1, 1).expect("in time");
        assert_eq!(drain(&mut link), Vec::<u64>::new());
        assert_eq!(link.held(), 2);
        link.arrive(0, 0).expect("in time");
        assert_eq!(drain(&mut link), vec![0, 1, 2]);
    }

    #[test]
    fn a_written_off_message_does_not_block_the_ones_behind_it() {
        let mut link = FifoLink::default();
        let (a, b, c) = (link.issue(), link.issue(), link.issue());
        link.sent(a);
        link.sent(c);
        link.arrive(c, c).expect("in time");
        link.arrive(a, a).expect("in time");
        assert_eq!(drain(&mut link), vec![a]);
        link.write_off(b); // e.g. the link was cut when madsim sent it
        assert_eq!(drain(&mut link), vec![c]);
    }

    #[test]
    fn a_dead_sender_writes_off_what_it_had_not_sent() {
        let mut link = FifoLink::default();
        let (a, b) = (link.issue(), link.issue());
        link.sent(b);
        link.arrive(b, b).expect("in time");
        link.sender_died(); // `a` was still in the sender's hands
        assert_eq!(drain(&mut link), vec![b]);
        let _ = a;
    }

    #[test]
    fn a_dead_receiver_starts_over_after_everything_numbered_so_far() {
        let mut link = FifoLink::default();
        let (a, b) = (link.issue(), link.issue());
        link.sent(a);
        link.sent(b);
        link.arrive(b, b).expect("in time");
        assert_eq!(link.receiver_died(), vec![b]);
        assert_eq!(link.arrive(a, a), Err(a), "sent to the dead incarnation");
        let c = link.issue();
        link.sent(c);
        link.arrive(c, c).expect("in time");
        assert_eq!(drain(&mut link), vec![c]);
    }
}
