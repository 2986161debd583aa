//! The checker on small hand-written histories, after Jepsen's own `kafka-test` cases.

use super::*;

fn tp() -> TopicPartition {
    TopicPartition::new(Arc::<str>::from("x"), 0)
}

/// A history builder: steps count up as observations are added.
#[derive(Default)]
struct H(Observations);

impl H {
    fn step(&self) -> u64 {
        self.0.log.len() as u64
    }
    fn send(mut self, producer: u32, value: &str) -> Self {
        let step = self.step();
        self.0.log.push(Observation::Send {
            step,
            producer: NodeId(producer),
            value: value.into(),
            tp: tp(),
        });
        self
    }
    fn ack(mut self, value: &str, offset: i64) -> Self {
        let step = self.step();
        self.0.log.push(Observation::Acked {
            step,
            time_us: step,
            value: value.into(),
            offset,
        });
        self
    }
    fn write(self, value: &str, offset: i64) -> Self {
        self.send(9, value).ack(value, offset)
    }
    fn fail(mut self, value: &str) -> Self {
        let step = self.step();
        self.0.log.push(Observation::Failed {
            step,
            value: value.into(),
        });
        self
    }
    fn poll(mut self, consumer: u32, records: &[(i64, &str)]) -> Self {
        let step = self.step();
        self.0.log.push(Observation::Poll {
            step,
            consumer: NodeId(consumer),
            tp: tp(),
            records: records.iter().map(|(o, v)| (*o, Arc::from(*v))).collect(),
        });
        self
    }
    fn reassign(mut self, consumer: u32) -> Self {
        let step = self.step();
        self.0.log.push(Observation::Discontinuity {
            step,
            consumer: NodeId(consumer),
            tp: Some(tp()),
        });
        self
    }
    fn anomalies(&self, kind: AnomalyKind) -> Vec<(Vec<String>, u64)> {
        check(&self.0)
            .into_iter()
            .filter(|a| a.kind == kind)
            .map(|a| (a.values.iter().map(|v| v.to_string()).collect(), a.step))
            .collect()
    }
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn poll_skip_names_the_values_skipped_between_a_consumers_polls() {
    // Jepsen's case: process 0 reads 1-2, 4, 7; process 1 read 3; a write landed at 6.
    let h = H::default()
        .poll(0, &[(1, "a"), (2, "b")])
        .poll(1, &[(3, "c")])
        .poll(0, &[(4, "d")])
        .write("f", 6)
        .poll(0, &[(7, "g")]);
    assert_eq!(
        h.anomalies(AnomalyKind::PollSkip),
        [(names(&["c"]), 2), (names(&["f"]), 5)]
    );
    // Offset 5 was never observed: a gap, not a skipped value.
}

#[test]
fn a_reassignment_between_polls_makes_a_skip_or_a_reread_legitimate() {
    let h = H::default()
        .poll(1, &[(3, "c")])
        .poll(0, &[(1, "a"), (2, "b")])
        .reassign(0)
        .poll(0, &[(4, "d")])
        .reassign(0)
        .poll(0, &[(1, "a")]);
    assert!(h.anomalies(AnomalyKind::PollSkip).is_empty());
    assert!(h.anomalies(AnomalyKind::NonmonotonicPoll).is_empty());
    // Without the reassignment the re-read is a nonmonotonic poll.
    let h = H::default().poll(0, &[(3, "c")]).poll(0, &[(2, "b")]);
    assert_eq!(
        h.anomalies(AnomalyKind::NonmonotonicPoll),
        [(names(&["c", "b"]), 1)]
    );
}

#[test]
fn internal_skips_and_inversions_within_one_poll() {
    let h = H::default()
        .write("b", 2)
        .poll(0, &[(1, "a"), (3, "c"), (2, "b")]);
    assert_eq!(h.anomalies(AnomalyKind::IntPollSkip), [(names(&["b"]), 2)]);
    assert_eq!(
        h.anomalies(AnomalyKind::IntNonmonotonicPoll),
        [(names(&["c", "b"]), 2)]
    );
}

#[test]
fn lost_write_needs_a_later_offset_read_otherwise_the_value_is_unseen() {
    let h = H::default()
        .write("a", 0)
        .write("b", 1)
        .write("c", 2)
        .write("d", 3)
        .poll(0, &[(0, "a")])
        .poll(1, &[(2, "c")]);
    // b sits below c, which was read: lost. d is beyond anything read: unseen.
    assert_eq!(h.anomalies(AnomalyKind::LostWrite), [(names(&["b"]), 9)]);
    assert_eq!(h.anomalies(AnomalyKind::Unseen), [(names(&["d"]), 7)]);
}

#[test]
fn offsets_that_disagree_values_at_two_offsets_and_reads_of_failed_writes() {
    let h = H::default()
        .write("a", 0)
        .poll(0, &[(0, "z")])
        .poll(1, &[(0, "a"), (1, "a")])
        .send(9, "e")
        .fail("e")
        .poll(2, &[(5, "e")]);
    assert_eq!(
        h.anomalies(AnomalyKind::InconsistentOffsets),
        [(names(&["a", "z"]), 2)]
    );
    assert_eq!(h.anomalies(AnomalyKind::Duplicate), [(names(&["a"]), 3)]);
    assert_eq!(h.anomalies(AnomalyKind::AbortedRead), [(names(&["e"]), 6)]);
}

#[test]
fn a_producers_later_send_landing_first_is_a_nonmonotonic_send() {
    let h = H::default()
        .send(1, "a")
        .send(1, "b")
        .ack("b", 0)
        .ack("a", 1);
    assert_eq!(
        h.anomalies(AnomalyKind::NonmonotonicSend),
        [(names(&["a", "b"]), 3)]
    );
    let ordered = H::default()
        .send(1, "a")
        .send(1, "b")
        .ack("a", 0)
        .ack("b", 1);
    assert!(ordered.anomalies(AnomalyKind::NonmonotonicSend).is_empty());
}
