//! Kernel throughput: events per second of the `World` against a bare binary-heap event loop.
//!
//! The design budget is "kernel events per second within 2x of a bare binary-heap event loop
//! doing the same pushes and pops". This bench measures both sides of that sentence:
//!
//! - `kernel/world`: a `World` of [`NODES`] ring actors. Each node starts [`TOKENS`] tokens
//!   that travel round the ring as messages; every [`TIMER_EVERY`]-th hop a node parks the
//!   token on a timer (1 ms) instead of forwarding it at once, and sends it on when the timer
//!   fires. So every step pops exactly one event (a delivery or a timer) and pushes exactly one
//!   (a send through the network with latency and jitter, or a timer), and the queue holds a
//!   steady `NODES * TOKENS` events: the kernel's whole per-event machinery (dispatch, effect
//!   buffers, network in-flight table, timer bookkeeping, trace event and its stable hash) with
//!   a model that does almost nothing.
//! - `kernel/bare_heap`: a `BinaryHeap<Reverse<(time, seq, payload)>>` with the same number of
//!   pending entries, a payload about the size of the World's queued event, and the same
//!   pattern (pop the earliest, push one a latency plus jitter later), with nothing else. That
//!   is the floor any event loop pays.
//!
//! Both report `Throughput::Elements` in events (steps). After the criterion groups the binary
//! times both loops once more with a wall clock and prints a one-line ratio against the budget
//! (wall time is fine here: this is a benchmark, not simulated logic).

use criterion::{Criterion, Throughput};
use kafkalab_sim::kernel::{Actor, CrashKind, LinkConfig, MessageKind, NodeId, Out, World};
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Actors in the ring.
const NODES: u32 = 8;
/// Tokens each node starts; the queue holds `NODES * TOKENS` events at all times.
const TOKENS: u32 = 4;
/// Every this-many hops a token waits on a timer instead of being forwarded at once.
const TIMER_EVERY: u32 = 4;
/// Events per criterion iteration.
const STEPS: u64 = 10_000;
/// Events per timed round, and rounds per loop, for the wall-clock ratio line.
const RATIO_STEPS: u64 = 1_000_000;
const RATIO_ROUNDS: u32 = 5;
/// One-way link latency and jitter, as in a quiet data centre (the kernel's default link).
const LATENCY_US: u64 = 1_000;
const JITTER_US: u64 = 500;
/// Timer delay of a parked token.
const TIMER_MS: i64 = 1;

#[derive(Clone, Debug, Serialize)]
enum Msg {
    Token { id: u32, hops: u32 },
}

impl MessageKind for Msg {
    fn kind(&self) -> &'static str {
        "Token"
    }
}

/// Forwards tokens to the next node of the ring, parking every `TIMER_EVERY`-th on a timer.
#[derive(Clone, Debug)]
struct Ring {
    me: u32,
    next: NodeId,
    handled: u64,
}

impl Ring {
    fn pass(&mut self, id: u32, hops: u32, out: &mut Out<'_, Self>) {
        self.handled += 1;
        if hops % TIMER_EVERY == TIMER_EVERY - 1 {
            // Keyed by (token, hop) so no pending timer is ever replaced.
            out.set_timer_ms((id, hops), TIMER_MS);
        } else {
            out.send(self.next, Msg::Token { id, hops: hops + 1 });
        }
    }
}

impl Actor for Ring {
    type Msg = Msg;
    type Timer = (u32, u32);
    type Input = ();
    type Note = ();

    fn on_start(&mut self, out: &mut Out<'_, Self>) {
        for k in 0..TOKENS {
            let id = self.me * TOKENS + k;
            // Stagger the first hops so tokens do not move in lockstep.
            self.pass(id, k, out);
        }
    }

    fn on_message(&mut self, _from: NodeId, msg: Msg, out: &mut Out<'_, Self>) {
        let Msg::Token { id, hops } = msg;
        self.pass(id, hops, out);
    }

    fn on_timer(&mut self, (id, hops): (u32, u32), out: &mut Out<'_, Self>) {
        self.handled += 1;
        out.send(self.next, Msg::Token { id, hops: hops + 1 });
    }

    fn on_input(&mut self, _input: (), _out: &mut Out<'_, Self>) {}

    fn on_disconnect(&mut self, _peer: NodeId, _out: &mut Out<'_, Self>) {}

    fn on_crash(&mut self, _kind: CrashKind, _out: &mut Out<'_, Self>) {}
}

/// A ring world, run past its start events so that every later step is one pop and one push.
fn ring_world() -> World<Ring> {
    let link = LinkConfig {
        latency_us: LATENCY_US,
        jitter_us: JITTER_US,
        ..LinkConfig::default()
    };
    let mut world = World::new(42, link);
    for me in 0..NODES {
        let next = NodeId((me + 1) % NODES);
        world.add_node(
            format!("n{me}"),
            Ring {
                me,
                next,
                handled: 0,
            },
        );
    }
    for _ in 0..NODES {
        world.step().expect("a start event");
    }
    world
}

/// Applies `steps` World steps.
fn run_world(world: &mut World<Ring>, steps: u64) {
    for _ in 0..steps {
        black_box(world.step().expect("the ring never runs dry"));
    }
}

/// The baseline's payload: about as large as the World's queued event (`Pending<Ring>`, whose
/// largest variant is a `Command<Ring>`), so both heaps move the same number of bytes.
type Payload = [u64; 6];

/// The bare event loop: a binary heap of `(time, seq, payload)` and a cheap jitter source.
#[derive(Debug)]
struct BareHeap {
    heap: BinaryHeap<Reverse<(u64, u64, Payload)>>,
    seq: u64,
    /// xorshift64 state, standing in for the World's link jitter.
    rng: u64,
}

impl BareHeap {
    fn new() -> Self {
        let mut bare = BareHeap {
            heap: BinaryHeap::new(),
            seq: 0,
            rng: 0x9e37_79b9_7f4a_7c15,
        };
        for i in 0..u64::from(NODES * TOKENS) {
            bare.seq += 1;
            let at = LATENCY_US + bare.jitter();
            bare.heap.push(Reverse((at, bare.seq, [i; 6])));
        }
        bare
    }

    fn jitter(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % (JITTER_US + 1)
    }

    /// Pops the earliest event and pushes one a latency plus jitter later, `steps` times.
    fn run(&mut self, steps: u64) {
        for _ in 0..steps {
            let Reverse((at, _, mut payload)) = self.heap.pop().expect("the heap never runs dry");
            payload[1] = payload[1].wrapping_add(1);
            let payload = black_box(payload);
            self.seq += 1;
            let next = at + LATENCY_US + self.jitter();
            self.heap.push(Reverse((next, self.seq, payload)));
        }
    }
}

fn bench_kernel(c: &mut Criterion) {
    let mut group = c.benchmark_group("kernel");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(STEPS));
    let mut world = ring_world();
    group.bench_function("world", |b| b.iter(|| run_world(&mut world, STEPS)));
    black_box(world.trace_hash());
    let mut bare = BareHeap::new();
    group.bench_function("bare_heap", |b| b.iter(|| bare.run(STEPS)));
    black_box(bare.heap.len());
    group.finish();
}

/// Events per second of a timed run of `RATIO_STEPS` events.
fn rate(run: &mut impl FnMut(u64)) -> f64 {
    let start = Instant::now();
    run(RATIO_STEPS);
    RATIO_STEPS as f64 / start.elapsed().as_secs_f64()
}

/// Times both loops with a wall clock, alternating them so that both see the same machine
/// (other processes, frequency scaling), and keeps each one's best round.
fn ratio_summary() {
    let mut world = ring_world();
    let mut bare = BareHeap::new();
    let mut world_loop = |n| run_world(&mut world, n);
    let mut bare_loop = |n| bare.run(n);
    world_loop(RATIO_STEPS / 10);
    bare_loop(RATIO_STEPS / 10);
    let (mut world_rate, mut bare_rate) = (0.0f64, 0.0f64);
    for _ in 0..RATIO_ROUNDS {
        world_rate = world_rate.max(rate(&mut world_loop));
        bare_rate = bare_rate.max(rate(&mut bare_loop));
    }
    let ratio = bare_rate / world_rate;
    let verdict = if ratio <= 2.0 {
        "within budget"
    } else {
        "OVER budget"
    };
    println!(
        "kernel: world {:.2}M events/s, bare heap {:.2}M events/s, ratio {ratio:.1}x (budget 2x, {verdict})",
        world_rate / 1e6,
        bare_rate / 1e6,
    );
}

/// The design's reference workload: 3 brokers, a 6-partition topic with replication factor 3,
/// one producer at 1,000 records/s (acks=all) and a consumer group of 3 members (2 partitions
/// each, auto-commit every 5 s), for 60 simulated seconds with the trace hash on.
const REFERENCE_WORKLOAD: &str = r#"
duration = "60s"
[cluster]
brokers = 3
[[topics]]
name = "events"
partitions = 6
replication_factor = 3
[[producers]]
name = "producer-1"
topic = "events"
rate = 1000
key_count = 100
[producers.config]
acks = "all"
[[consumers]]
name = "consumer-1"
topic = "events"
[consumers.config]
"group.id" = "reference"
[[consumers]]
name = "consumer-2"
topic = "events"
[consumers.config]
"group.id" = "reference"
[[consumers]]
name = "consumer-3"
topic = "events"
[consumers.config]
"group.id" = "reference"
"#;

/// Prints how much faster than real time the reference workload runs (budget: 1,000x).
fn reference_workload_summary() {
    let scenario = kafkalab_sim::scenario::parse_scenario(REFERENCE_WORKLOAD, "reference.toml")
        .expect("the reference workload is a valid scenario");
    let scenario = std::sync::Arc::new(scenario);
    let mut best = f64::MAX;
    let mut steps = 0;
    for _ in 0..3 {
        let start = Instant::now();
        let mut sim = kafkalab_sim::Simulation::new(scenario.clone(), 1);
        sim.run_to_end();
        best = best.min(start.elapsed().as_secs_f64());
        steps = sim.world().steps();
        black_box(sim.world().trace_hash());
    }
    let simulated = scenario.duration_us as f64 / 1e6;
    println!(
        "reference workload: {simulated:.0}s simulated in {:.1} ms ({steps} steps, {:.2}M steps/s), {:.0}x real time (budget 1000x)",
        best * 1e3,
        steps as f64 / best / 1e6,
        simulated / best,
    );
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_kernel(&mut criterion);
    criterion.final_summary();
    // `cargo test --benches` runs this binary with `--test` (each bench once, as a smoke test)
    // and `--list` only lists: the wall-clock summary is for real bench runs.
    let quick = std::env::args().any(|a| a == "--test" || a == "--list");
    if !quick {
        ratio_summary();
        reference_workload_summary();
    }
}
