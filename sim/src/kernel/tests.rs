//! Kernel tests with a tiny ping-pong actor: determinism, faults, timers, the network
//! commands and the timeline.

use super::*;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
enum Msg {
    Ping(u32),
    Pong(u32),
}

impl MessageKind for Msg {
    fn kind(&self) -> &'static str {
        match self {
            Msg::Ping(_) => "Ping",
            Msg::Pong(_) => "Pong",
        }
    }
}

/// Pings its peer every 10 ms; answers pings with pongs; counts what it received.
#[derive(Clone, Debug, Default)]
struct Pinger {
    peer: Option<NodeId>,
    sent: u32,
    pongs: u32,
    pings: u32,
}

impl Actor for Pinger {
    type Msg = Msg;
    type Timer = &'static str;
    type Input = u32;
    type Note = String;

    fn on_start(&mut self, out: &mut Out<'_, Self>) {
        if self.peer.is_some() {
            out.set_timer_ms("tick", 10);
        }
    }
    fn on_message(&mut self, from: NodeId, msg: Msg, out: &mut Out<'_, Self>) {
        match msg {
            Msg::Ping(n) => {
                self.pings += 1;
                out.send(from, Msg::Pong(n));
            }
            Msg::Pong(_) => self.pongs += 1,
        }
    }
    fn on_timer(&mut self, _timer: &'static str, out: &mut Out<'_, Self>) {
        if let Some(peer) = self.peer {
            self.sent += 1;
            out.send(peer, Msg::Ping(self.sent));
            out.set_timer_ms("tick", 10);
        }
    }
    fn on_input(&mut self, input: u32, out: &mut Out<'_, Self>) {
        out.note(format!("input {input}"));
    }
    fn on_disconnect(&mut self, peer: NodeId, out: &mut Out<'_, Self>) {
        out.note(format!("disconnected from {}", peer.0));
    }
    fn on_crash(&mut self, kind: CrashKind, out: &mut Out<'_, Self>) {
        out.note(format!("crashed {kind:?}"));
        // A dead node's sends must be discarded by the World.
        if let Some(peer) = self.peer {
            out.send(peer, Msg::Ping(999));
        }
    }
}

fn world(seed: u64) -> (World<Pinger>, NodeId, NodeId) {
    let link = LinkConfig {
        latency_us: 1_000,
        jitter_us: 2_000,
        ..LinkConfig::default()
    };
    let mut w = World::new(seed, link);
    let server = w.add_node("server", Pinger::default());
    let client = w.add_node(
        "client",
        Pinger {
            peer: Some(server),
            ..Pinger::default()
        },
    );
    (w, server, client)
}

#[test]
fn same_seed_same_hash_other_seed_other_hash() {
    let run = |seed| {
        let (mut w, _, _) = world(seed);
        w.run_until(SimTime::from_secs(1));
        (w.trace_hash(), w.steps())
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1).0, run(2).0);
}

#[test]
fn run_until_sets_the_clock_and_steps_are_counted() {
    let (mut w, server, client) = world(1);
    let steps = w.run_until(SimTime::from_millis(105));
    assert_eq!(w.now(), SimTime::from_millis(105));
    assert_eq!(steps, w.steps());
    let c = w.node(client).expect("client");
    assert_eq!(c.sent, 10);
    assert!(w.node(server).expect("server").pings >= 9);
}

#[test]
fn a_crashed_node_drops_messages_and_timers_and_restarts() {
    let (mut w, server, client) = world(1);
    w.schedule(
        At::Time(SimTime::from_millis(50)),
        Command::Crash(server, CrashKind::Crash),
    );
    w.run_until(SimTime::from_millis(100));
    let pings_at_crash = w.node(server).expect("server").pings;
    let pongs = w.node(client).expect("client").pongs;
    w.run_until(SimTime::from_millis(200));
    assert_eq!(w.node(server).expect("server").pings, pings_at_crash);
    assert_eq!(w.node(client).expect("client").pongs, pongs);
    assert_eq!(w.status(server), Some(NodeStatus::Crashed));

    // The client's own crash must not leak the Ping(999) its crash handler tried to send,
    // and its timers die with it: it sends nothing more.
    w.schedule(At::Time(w.now()), Command::Restart(server));
    w.schedule(
        At::Time(w.now()),
        Command::Crash(client, CrashKind::PowerLoss),
    );
    let mut crash_event_seen = false;
    while w.next_event_time().is_some_and(|t| t <= w.now()) {
        let event = w.step().expect("a pending event");
        if matches!(event.kind, EventKind::Command(CommandNote::Crash(_))) {
            crash_event_seen = true;
            assert!(event.net.is_empty(), "a dead node sent {:?}", event.net);
            assert_eq!(event.notes, vec!["crashed PowerLoss".to_string()]);
        }
    }
    assert!(crash_event_seen);
    let sent_at_crash = w.node(client).expect("client").sent;
    w.run_until(SimTime::from_millis(300));
    assert_eq!(w.node(client).expect("client").sent, sent_at_crash);
    assert_eq!(w.status(server), Some(NodeStatus::Running));
}

#[test]
fn a_paused_node_holds_its_inbox_and_timers_until_resume() {
    let (mut w, _server, client) = world(1);
    w.schedule(At::Time(SimTime::from_millis(35)), Command::Pause(client));
    w.schedule(At::Time(SimTime::from_millis(500)), Command::Resume(client));
    w.run_until(SimTime::from_millis(499));
    let frozen = w.node(client).expect("client").clone();
    assert_eq!(frozen.sent, 3);
    w.run_until(SimTime::from_millis(500));
    let resumed = w.node(client).expect("client");
    // On resume the overdue tick fires at once and the held pong is delivered.
    assert_eq!(resumed.sent, 4);
    assert_eq!(resumed.pongs, 3);
}

#[test]
fn cut_links_and_drop_message_commands() {
    let (mut w, server, client) = world(1);
    w.schedule(
        At::Time(SimTime::ZERO),
        Command::Cut {
            from: client,
            to: server,
            both: false,
        },
    );
    w.run_until(SimTime::from_millis(100));
    assert_eq!(w.node(server).expect("server").pings, 0);
    w.schedule(At::Time(w.now()), Command::HealAll);
    w.run_until(SimTime::from_millis(110));
    let victim = w
        .in_flight()
        .next()
        .map(|m| m.id)
        .expect("a ping in flight");
    w.schedule(At::Step(w.steps()), Command::DropMessage(victim));
    let event = w.step().expect("the drop command is the next step");
    assert!(matches!(
        event.kind,
        EventKind::Command(CommandNote::DropMessage { found: Some(_), .. })
    ));
    assert!(w.in_flight().all(|m| m.id != victim));
}

#[test]
fn inputs_reach_the_node_and_show_in_the_trace() {
    let (mut w, server, _) = world(1);
    w.schedule(At::Step(0), Command::Input(server, 42));
    let event = w.step().expect("input");
    assert_eq!(event.notes, vec!["input 42".to_string()]);
}

#[test]
fn timeline_restores_any_step_exactly() {
    let (mut w, _, _) = world(9);
    let mut timeline = Timeline::new(&w, 16);
    let mut hashes = vec![w.trace_hash()];
    for _ in 0..200 {
        timeline.step(&mut w);
        hashes.push(w.trace_hash());
    }
    for target in [0u64, 1, 15, 16, 17, 150, 200] {
        let state = timeline.state_at(target).expect("state");
        assert_eq!(state.steps(), target);
        assert_eq!(state.trace_hash(), hashes[target as usize]);
    }
    timeline.truncate_after(50);
    assert!(timeline.snapshot_count() <= 5);
}

#[test]
fn a_crash_resets_connections_but_power_loss_and_cuts_are_silent() {
    let notes_of = |kind: CrashKind| {
        let (mut w, server, _client) = world(1);
        w.run_until(SimTime::from_millis(25));
        w.schedule(At::Time(w.now()), Command::Crash(server, kind));
        let mut seen = Vec::new();
        while w
            .next_event_time()
            .is_some_and(|t| t <= SimTime::from_millis(60))
        {
            if let Some(e) = w.step() {
                seen.extend(
                    e.notes
                        .iter()
                        .filter(|n| n.starts_with("disconnected"))
                        .cloned(),
                );
            }
        }
        seen
    };
    // The reset on crash, then refused connections for each later ping (ticks at 30..60 ms).
    let crash = notes_of(CrashKind::Crash);
    assert!(crash.len() >= 3, "{crash:?}");
    assert!(crash.iter().all(|n| n == "disconnected from 0"));
    assert!(notes_of(CrashKind::PowerLoss).is_empty());
}
