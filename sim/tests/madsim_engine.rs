//! The madsim engine (`kafkalab_sim::kernel::madsim_world`) keeps the World's meaning of the
//! network and of every fault, checked with two toy nodes: `a` sends `b` a numbered ping
//! every 50 µs, `b` notes what it gets. Only with `--cfg madsim` (see `madsim_crosscheck.rs`).
#![cfg(madsim)]

use kafkalab_sim::kernel::madsim_world::{MADSIM_MESSAGE_OVERHEAD_US, MadsimWorld, Observer};
use kafkalab_sim::kernel::madsim_world::{NetStats, madsim_config};
use kafkalab_sim::kernel::{
    Actor, At, Command, CrashKind, LinkConfig, MessageKind, NodeId, Out, SimTime, TraceEvent,
};
use serde::Serialize;

const A: NodeId = NodeId(0);
const B: NodeId = NodeId(1);
const PERIOD_US: u64 = 50;
/// The scenarios' usual link: 2 ms, up to 1 ms of jitter (so pings overtake each other).
const LINK: LinkConfig = LinkConfig {
    latency_us: 2_000,
    jitter_us: 1_000,
    loss: kafkalab_sim::kernel::Probability::ZERO,
    duplicate: kafkalab_sim::kernel::Probability::ZERO,
};

#[derive(Clone, Debug, Serialize)]
struct Ping {
    n: u64,
    sent_us: u64,
}

impl MessageKind for Ping {
    fn kind(&self) -> &'static str {
        "Ping"
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
enum Note {
    Started,
    Got { n: u64, trip_us: u64 },
    Disconnected(NodeId),
    Crashed,
    Input,
}

/// Sends a ping to `peer` every 50 µs from its start until `until_us`.
#[derive(Clone, Debug, Default)]
struct Toy {
    peer: Option<NodeId>,
    until_us: u64,
    next: u64,
}

impl Toy {
    fn tick_later(&self, out: &mut Out<'_, Self>) {
        let at = out.now().plus_micros(PERIOD_US);
        if self.peer.is_some() && at.as_micros() <= self.until_us {
            out.set_timer_at((), at);
        }
    }
}

impl Actor for Toy {
    type Msg = Ping;
    type Timer = ();
    type Input = ();
    type Note = Note;

    fn on_start(&mut self, out: &mut Out<'_, Self>) {
        out.note(Note::Started);
        self.tick_later(out);
    }
    fn on_message(&mut self, _from: NodeId, msg: Ping, out: &mut Out<'_, Self>) {
        let trip_us = out.now().as_micros() - msg.sent_us;
        out.note(Note::Got { n: msg.n, trip_us });
    }
    fn on_timer(&mut self, _timer: (), out: &mut Out<'_, Self>) {
        if let Some(peer) = self.peer {
            let sent_us = out.now().as_micros();
            out.send(
                peer,
                Ping {
                    n: self.next,
                    sent_us,
                },
            );
            self.next += 1;
        }
        self.tick_later(out);
    }
    fn on_input(&mut self, _input: (), out: &mut Out<'_, Self>) {
        out.note(Note::Input);
    }
    fn on_disconnect(&mut self, peer: NodeId, out: &mut Out<'_, Self>) {
        out.note(Note::Disconnected(peer));
    }
    fn on_crash(&mut self, _kind: CrashKind, out: &mut Out<'_, Self>) {
        out.note(Note::Crashed);
    }
}

/// Every note, with its node and time.
#[derive(Default)]
struct Log(Vec<(NodeId, u64, Note)>);

impl Observer<Toy> for Log {
    fn observe(&mut self, event: &TraceEvent<Toy>) {
        for note in &event.notes {
            let node = event.node.unwrap_or(NodeId(u32::MAX));
            self.0.push((node, event.time_us, note.clone()));
        }
    }
}

impl Log {
    fn of(&self, node: NodeId) -> impl Iterator<Item = (u64, &Note)> {
        self.0
            .iter()
            .filter(move |(n, _, _)| *n == node)
            .map(|(_, t, note)| (*t, note))
    }

    /// `(arrival time, ping number, trip)` of what `b` got.
    fn pings(&self) -> Vec<(u64, u64, u64)> {
        self.of(B)
            .filter_map(|(t, note)| match note {
                Note::Got { n, trip_us } => Some((t, *n, *trip_us)),
                _ => None,
            })
            .collect()
    }
}

const MS: u64 = 1_000;

/// Runs `a` pinging `b` for `ping_ms` ms with `commands` (at ms), to `end_ms`.
fn run(
    seed: u64,
    ping_ms: u64,
    commands: Vec<(u64, Command<Toy>)>,
    end_ms: u64,
) -> (Log, NetStats) {
    let runtime = madsim::runtime::Runtime::with_seed_and_config(seed, madsim_config(&LINK));
    runtime.block_on(async move {
        let mut world: MadsimWorld<Toy, Log> = MadsimWorld::new(LINK, 1);
        let pinger = Toy {
            peer: Some(B),
            until_us: ping_ms * MS,
            next: 0,
        };
        world.add_node("a", pinger);
        world.add_node("b", Toy::default());
        for (at_ms, command) in commands {
            world.schedule(At::Time(SimTime::from_millis(at_ms)), command);
        }
        world
            .run_until(SimTime::from_millis(end_ms), |_, _| {})
            .await;
        let stats = world.net_stats();
        (world.finish().await.1, stats)
    })
}

#[test]
fn a_link_delivers_in_order_within_the_configured_latency() {
    for seed in 0..4 {
        let (log, stats) = run(seed, 30, Vec::new(), 40);
        let pings = log.pings();
        let numbers: Vec<u64> = pings.iter().map(|(_, n, _)| *n).collect();
        assert_eq!(
            numbers,
            (0..numbers.len() as u64).collect::<Vec<_>>(),
            "seed {seed}"
        );
        assert!(numbers.len() > 500, "seed {seed}: {} pings", numbers.len());
        // 2 ms plus up to 1 ms of jitter; a ping that overtook an earlier one waits for it.
        for (_, n, trip_us) in &pings {
            assert!(
                (LINK.latency_us..=LINK.latency_us + LINK.jitter_us + 50).contains(trip_us),
                "seed {seed}: ping {n} took {trip_us} µs"
            );
        }
        assert!(stats.overtook > 0, "seed {seed}: madsim reordered nothing");
        assert_eq!(stats.slow_trips, 0, "seed {seed}");
    }
}

#[test]
fn madsim_overhead_is_the_floor_of_a_short_link() {
    let short = LinkConfig {
        latency_us: 500,
        jitter_us: 0,
        ..LINK
    };
    let config = madsim_config(&short);
    assert_eq!(config.net.send_latency.start.as_micros(), 0);
    assert_eq!(
        config.net.send_latency.end.as_micros(),
        1,
        "madsim's range excludes its end"
    );
    let config = madsim_config(&LINK);
    let low = LINK.latency_us - MADSIM_MESSAGE_OVERHEAD_US;
    assert_eq!(config.net.send_latency.start.as_micros() as u64, low);
}

#[test]
fn a_crash_resets_the_peers_drops_and_refuses_until_the_restart() {
    let commands = vec![
        (10, Command::Crash(B, CrashKind::Crash)),
        (20, Command::Restart(B)),
    ];
    let (log, _) = run(3, 30, commands, 40);
    let starts: Vec<u64> = log
        .of(B)
        .filter(|(_, n)| **n == Note::Started)
        .map(|(t, _)| t)
        .collect();
    assert_eq!(starts.len(), 2, "b starts, and starts again: {starts:?}");
    assert!(starts[1] >= 20 * MS, "{starts:?}");
    assert_eq!(log.of(B).filter(|(_, n)| **n == Note::Crashed).count(), 1);
    // b handles nothing while dead.
    assert!(
        log.pings()
            .iter()
            .all(|(t, _, _)| *t < 10 * MS || *t >= 20 * MS)
    );
    assert!(log.pings().iter().any(|(t, _, _)| *t >= 20 * MS));
    // a hears the reset one link latency after the crash, then refusals of what it sends.
    let resets: Vec<u64> = log
        .of(A)
        .filter(|(_, n)| **n == Note::Disconnected(B))
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        resets.first(),
        Some(&(10 * MS + LINK.latency_us)),
        "{resets:?}"
    );
    assert!(resets.len() > 1, "refused connections: {resets:?}");
    assert!(
        resets.iter().all(|t| *t < 21 * MS + LINK.latency_us),
        "{resets:?}"
    );
}

#[test]
fn a_power_loss_is_silent() {
    let commands = vec![
        (10, Command::Crash(B, CrashKind::PowerLoss)),
        (20, Command::Restart(B)),
    ];
    let (log, _) = run(3, 30, commands, 40);
    assert_eq!(
        log.of(A)
            .filter(|(_, n)| matches!(n, Note::Disconnected(_)))
            .count(),
        0
    );
    assert!(
        log.pings()
            .iter()
            .all(|(t, _, _)| *t < 10 * MS || *t >= 20 * MS)
    );
}

#[test]
fn a_paused_node_handles_what_arrived_when_it_resumes_in_order() {
    let commands = vec![(10, Command::Pause(B)), (20, Command::Resume(B))];
    let (log, _) = run(5, 30, commands, 40);
    let pings = log.pings();
    assert!(
        pings
            .iter()
            .all(|(t, _, _)| *t < 10 * MS + 100 || *t >= 20 * MS)
    );
    let numbers: Vec<u64> = pings.iter().map(|(_, n, _)| *n).collect();
    assert_eq!(
        numbers,
        (0..numbers.len() as u64).collect::<Vec<_>>(),
        "nothing lost"
    );
    let held = pings.iter().filter(|(_, _, trip)| *trip > 3 * MS).count();
    assert!(
        held > 100,
        "pings sent during the pause wait for it: {held}"
    );
}

#[test]
fn a_cut_drops_what_crosses_it_until_the_heal() {
    let commands = vec![
        (
            10,
            Command::Cut {
                from: A,
                to: B,
                both: true,
            },
        ),
        (
            20,
            Command::Heal {
                from: A,
                to: B,
                both: true,
            },
        ),
    ];
    let (log, stats) = run(7, 30, commands, 40);
    let pings = log.pings();
    // Nothing arrives while cut; what was sent before the heal is gone.
    assert!(pings.iter().all(|(t, _, _)| *t < 10 * MS || *t >= 20 * MS));
    assert!(
        pings
            .iter()
            .filter(|(t, _, _)| *t >= 20 * MS)
            .all(|(_, _, trip)| *trip <= LINK.latency_us + LINK.jitter_us + 50)
    );
    let numbers: Vec<u64> = pings.iter().map(|(_, n, _)| *n).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "still in order");
    // 12 to 13 ms of pings (one every 50 µs) never arrive: the 10 ms sent over the cut link
    // (madsim's clog drops them) and the 2 to 3 ms in flight when it was cut.
    let last_before = pings
        .iter()
        .filter(|(t, _, _)| *t < 10 * MS)
        .map(|p| p.1)
        .max();
    let first_after = pings.iter().find(|(t, _, _)| *t >= 20 * MS).map(|p| p.1);
    let (Some(before), Some(after)) = (last_before, first_after) else {
        panic!("pings on both sides of the cut: {numbers:?}");
    };
    assert!(
        (230..=270).contains(&(after - before)),
        "{before} → {after}"
    );
    // Those numbered just before the cut, while madsim was still sending them, were written
    // off when it dropped them: the ones behind them were not held.
    assert!(stats.written_off > 0, "{stats:?}");
}

#[test]
fn an_input_to_a_node_still_binding_its_socket_waits_for_its_start() {
    let commands = vec![
        (10, Command::Crash(B, CrashKind::Crash)),
        (20, Command::Restart(B)),
        (20, Command::Input(B, ())),
        (30, Command::Input(B, ())),
    ];
    let (log, _) = run(3, 0, commands, 40);
    let b: Vec<(u64, &Note)> = log.of(B).collect();
    let after_restart: Vec<&Note> = b
        .iter()
        .filter(|(t, _)| *t >= 20 * MS)
        .map(|(_, n)| *n)
        .collect();
    assert_eq!(
        after_restart,
        [&Note::Started, &Note::Input, &Note::Input],
        "{b:?}"
    );
}
