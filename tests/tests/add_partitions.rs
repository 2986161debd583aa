//! Growing a topic at run time (`add-partitions`, Kafka's CreatePartitions): the command as
//! interactive play schedules it, a controller that is down when it arrives, and a broker
//! that is down when a partition is placed on it.

use kafkalab_sim::Simulation;
use kafkalab_sim::history::Outcome;
use kafkalab_sim::kernel::{At, EventKind, SimTime};
use kafkalab_sim::node::{Input, Note};
use kafkalab_sim::protocol::{NO_LEADER, TopicPartition};
use kafkalab_sim::scenario::{Action, parse_scenario};
use kafkalab_tests::builtin;
use std::sync::Arc;

fn grow(topic: &str, partitions: i32) -> Action {
    Action::AddPartitions {
        topic: topic.to_string(),
        partitions,
    }
}

fn at(secs: u64) -> At {
    At::Time(SimTime::from_secs(secs))
}

/// Runs to `until`, returning the notes the controller wrote and whether it saw the input.
fn run_collecting(sim: &mut Simulation, until: SimTime) -> (Vec<Note>, usize) {
    let mut notes = Vec::new();
    let mut inputs = 0;
    while sim.next_event_time().is_some_and(|t| t <= until) {
        let Some(event) = sim.step() else { break };
        if matches!(event.kind, EventKind::Input(Input::CreatePartitions { .. })) {
            inputs += 1;
        }
        notes.extend(
            event
                .notes
                .iter()
                .filter(|n| {
                    matches!(
                        n,
                        Note::PartitionsCreated { .. } | Note::CreatePartitionsFailed { .. }
                    )
                })
                .cloned(),
        );
    }
    (notes, inputs)
}

#[test]
fn interactive_add_partitions_is_checked_logged_and_applied() {
    let mut sim = Simulation::new(builtin("quickstart"), 1);
    let err = sim
        .schedule(at(2), grow("orders", 5))
        .expect_err("unknown topic");
    assert!(err.0.contains("unknown topic `orders`"), "{err}");
    assert!(err.0.contains("quickstart-events"), "{err}");
    let err = sim
        .schedule(at(2), grow("quickstart-events", 3))
        .expect_err("no growth");
    assert!(err.0.starts_with("`partitions`: "), "{err}");
    assert!(err.0.contains("can only grow"), "{err}");

    sim.schedule(at(2), grow("quickstart-events", 5))
        .expect("a valid request");
    assert_eq!(sim.commands().len(), 1, "the command log keeps it");
    let (notes, inputs) = run_collecting(&mut sim, SimTime::from_secs(10));
    assert_eq!(inputs, 1);
    assert_eq!(
        notes,
        vec![Note::PartitionsCreated {
            topic: Arc::from("quickstart-events"),
            previous_count: 3,
            count: 5,
        }]
    );
    let parts = &sim.metadata().topics["quickstart-events"];
    assert_eq!(parts.len(), 5);
    let broker = sim.broker(1).expect("broker-1");
    for p in parts {
        assert_eq!(p.leader, 1, "{p:?}");
        assert!(
            broker.log(&p.tp).is_some(),
            "broker-1 has a log for {}",
            p.tp
        );
        assert!(broker.is_leader(&p.tp), "broker-1 leads {}", p.tp);
    }
    // Now that the topic has 5, asking for 4 is refused before it is scheduled.
    let err = sim
        .schedule(at(11), grow("quickstart-events", 4))
        .expect_err("a decrease");
    assert!(err.0.contains("has 5 partitions"), "{err}");
}

#[test]
fn a_request_to_a_stopped_controller_is_lost_and_a_paused_one_handles_it_on_resume() {
    let mut sim = Simulation::new(builtin("quickstart"), 1);
    let controller = || "controller".to_string();
    sim.schedule(at(1), Action::Crash { node: controller() })
        .expect("crash");
    sim.schedule(at(2), grow("quickstart-events", 4))
        .expect("grow");
    sim.schedule(at(3), Action::Restart { node: controller() })
        .expect("restart");
    let (notes, inputs) = run_collecting(&mut sim, SimTime::from_secs(5));
    assert_eq!(inputs, 1, "the trace records the request");
    assert!(notes.is_empty(), "nobody handled it: {notes:?}");
    assert_eq!(sim.metadata().topics["quickstart-events"].len(), 3);

    sim.schedule(at(6), Action::Pause { node: controller() })
        .expect("pause");
    sim.schedule(at(7), grow("quickstart-events", 4))
        .expect("grow");
    sim.schedule(at(8), Action::Resume { node: controller() })
        .expect("resume");
    let (notes, _) = run_collecting(&mut sim, SimTime::from_secs(10));
    assert_eq!(notes.len(), 1, "handled on resume: {notes:?}");
    assert_eq!(sim.metadata().topics["quickstart-events"].len(), 4);
}

/// A partition placed on a broker that has crashed but is not fenced yet (the controller
/// cannot know): the broker creates its log when it restarts and catches up with the
/// metadata log, and rejoins the ISR.
#[test]
fn a_broker_down_when_its_partition_is_created_takes_it_up_after_restart() {
    let text = r#"
duration = "60s"
[cluster]
brokers = 3
[[topics]]
name = "t"
partitions = 1
replication_factor = 3
[[producers]]
name = "p"
topic = "t"
rate = 20
key_count = 10
[producers.config]
"metadata.max.age.ms" = 5000
"request.timeout.ms" = 5000
[[timeline]]
at = "1s"
action = "crash"
node = "broker-2"
[[timeline]]
at = "2s"
action = "add-partitions"
topic = "t"
partitions = 3
[[timeline]]
at = "20s"
action = "restart"
node = "broker-2"
"#;
    let s = Arc::new(parse_scenario(text, "down.toml").expect("valid"));
    for seed in 0..3 {
        let mut sim = Simulation::new(s.clone(), seed);
        sim.run_until(SimTime::from_secs(10));
        assert!(
            sim.broker(2)
                .is_some_and(|b| b.log(&TopicPartition::new("t", 2)).is_none()),
            "seed {seed}: broker-2 was down when t-1 and t-2 were created"
        );
        sim.run_to_end();
        for p in &sim.metadata().topics["t"] {
            assert_ne!(p.leader, NO_LEADER, "seed {seed}: {p:?}");
            assert_eq!(p.replicas.len(), 3, "seed {seed}: {p:?}");
            let mut isr = p.isr.clone();
            isr.sort();
            assert_eq!(isr, vec![1, 2, 3], "seed {seed}: broker-2 rejoined {p:?}");
            let log = sim.broker(2).and_then(|b| b.log(&p.tp));
            let leader_log = sim.broker(p.leader).and_then(|b| b.log(&p.tp));
            assert_eq!(
                log.map(|l| l.log_end_offset()),
                leader_log.map(|l| l.log_end_offset()),
                "seed {seed}: broker-2's copy of {} caught up",
                p.tp
            );
        }
    }
}

/// A timeline may name a partition that an earlier `add-partitions` creates, for a consumer or
/// a producer: the loader and the run agree on the counts as of each entry.
#[test]
fn later_timeline_entries_may_name_the_new_partitions() {
    let text = r#"
duration = "10s"
[[topics]]
name = "t"
partitions = 1
[[producers]]
name = "p"
topic = "t"
records = 40
rate = 10
key_count = 4
[producers.config]
"metadata.max.age.ms" = 1000
[[timeline]]
at = "1s"
action = "add-partitions"
topic = "t"
partitions = 4
[[timeline]]
at = "2s"
action = "add-consumer"
name = "c"
topic = "t"
partitions = [3]
config = { "auto.offset.reset" = "earliest" }
[[timeline]]
at = "2s"
action = "add-producer"
name = "q"
topic = "t"
partition = 3
records = 5
"#;
    let s = Arc::new(parse_scenario(text, "later.toml").expect("valid"));
    let mut sim = Simulation::new(s, 1);
    sim.run_to_end();
    let in_p3 = sim
        .final_logs()
        .into_iter()
        .find(|(tp, _)| tp.partition == 3)
        .map(|(_, log)| log.records().count())
        .expect("t-3 exists");
    assert!(in_p3 > 0, "key-3 maps to t-3");
    let from_q: Vec<_> = sim
        .history()
        .sends
        .iter()
        .filter(|(value, _)| value.starts_with("q-"))
        .map(|(_, send)| (send.tp.partition, send.outcome.clone()))
        .collect();
    assert_eq!(from_q.len(), 5, "{from_q:?}");
    assert!(
        from_q
            .iter()
            .all(|(p, o)| *p == 3 && matches!(o, Outcome::Acked { .. })),
        "q wrote to t-3: {from_q:?}"
    );
    let sum = sim.summary();
    assert_eq!(sum.consumed as usize, in_p3, "c read all of t-3: {sum:?}");
}
