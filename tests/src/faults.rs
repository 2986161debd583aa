//! Generated runs for the property tests: a cluster configuration, a workload and a
//! structured fault schedule, written out as a scenario file and run with the checks on.
//!
//! Why a structured schedule rather than random timeline actions: every fault here is a
//! *pair* — crash then restart, pause then resume, cut then heal — so a run always ends with
//! the cluster whole again, and "after the faults heal" means something. Faults follow one
//! another (each heals before the next begins): the guarantees under test are Kafka's
//! single-failure guarantees (replication factor 3, `min.insync.replicas` 2 survive one broker
//! at a time; two power losses at once can lose what both had unflushed, which Kafka does not
//! promise to survive). Shrinking then removes whole faults and shortens gaps and durations,
//! so a counterexample comes out as a short story: "broker-2 crashes at 7 s for 1 s".
//!
//! A case is a scenario TOML text plus a seed, so any failure is replayable with
//! `kafkalab run <file> --seed N --invariants` — [`Case::write_replay`] writes the file.
//! The one fault that needs the run itself is *drop message*: which message is in flight is
//! known only while running, so [`run_case`] picks it then and records its id, and the written
//! file carries the resolved `drop-message` action.

use kafkalab_sim::Simulation;
use kafkalab_sim::check::{self, Verdict};
use kafkalab_sim::checker::AnomalyKind;
use kafkalab_sim::history::Summary;
use kafkalab_sim::kernel::{At, SimTime, format_duration};
use kafkalab_sim::scenario::{Action, parse_scenario};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

/// The cluster every case runs on: three brokers, one controller.
pub const BROKERS: u8 = 3;
/// When the first fault may start: the cluster is up and the group has formed.
const FIRST_FAULT_MS: u64 = 5_000;
/// After the last fault heals, how long the run goes on: the liveness bound (60 s) and a
/// margin, so the consumers' catching up is judged, not cut short.
const TAIL_MS: u64 = 65_000;
/// The producer writes for at least this long (and through the fault schedule).
const MIN_PRODUCE_MS: u64 = 20_000;

/// A node a fault can hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `broker-N`, N from 1.
    Broker(u8),
    Controller,
    Producer,
    /// `consumer-N`, N from 1.
    Consumer(u8),
}

impl Target {
    pub fn name(self) -> String {
        match self {
            Target::Broker(n) => format!("broker-{n}"),
            Target::Controller => "controller".to_string(),
            Target::Producer => "producer-1".to_string(),
            Target::Consumer(n) => format!("consumer-{n}"),
        }
    }
}

/// One fault and how it heals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The process dies (its log survives); restarted after the fault's duration.
    Crash(Target),
    /// The machine loses power: each log also loses its unflushed tail. Brokers only.
    PowerLoss(u8),
    /// A long GC pause: the node freezes, then resumes.
    Pause(Target),
    /// The link between two nodes is cut both ways, then healed.
    Cut(Target, Target),
    /// A broker is cut off from every other node, then every link is healed.
    Isolate(u8),
    /// The first message in flight from one node to another (within a second of the
    /// fault's start) is lost. Instantaneous: the duration only spaces the next fault.
    Drop(Target, Target),
}

/// A fault: `gap_ms` after the previous one healed (or after 5 s, for the first), it strikes,
/// and it heals `lasts_ms` later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub gap_ms: u64,
    pub kind: FaultKind,
    pub lasts_ms: u64,
}

/// Which faults a property's schedule draws from.
#[derive(Clone, Copy, Debug)]
pub struct FaultMenu {
    /// Crash, power-loss, pause and isolate brokers; cut broker links.
    pub brokers: bool,
    /// Crash and pause the controller.
    pub controller: bool,
    /// Crash and pause consumers 1..=N (0: none).
    pub consumers: u8,
    /// Cut and drop messages between the producer and the brokers.
    pub producer_links: bool,
    /// The most faults in one schedule.
    pub max_faults: usize,
}

fn broker() -> impl Strategy<Value = u8> {
    1..=BROKERS
}

fn kind(menu: FaultMenu) -> BoxedStrategy<FaultKind> {
    let mut kinds: Vec<BoxedStrategy<FaultKind>> = Vec::new();
    if menu.brokers {
        kinds.push(
            broker()
                .prop_map(|b| FaultKind::Crash(Target::Broker(b)))
                .boxed(),
        );
        kinds.push(broker().prop_map(FaultKind::PowerLoss).boxed());
        kinds.push(
            broker()
                .prop_map(|b| FaultKind::Pause(Target::Broker(b)))
                .boxed(),
        );
        kinds.push(broker().prop_map(FaultKind::Isolate).boxed());
        kinds.push(
            (broker(), broker())
                .prop_filter("two brokers", |(a, b)| a != b)
                .prop_map(|(a, b)| FaultKind::Cut(Target::Broker(a), Target::Broker(b)))
                .boxed(),
        );
        kinds.push(
            broker()
                .prop_map(|b| FaultKind::Cut(Target::Broker(b), Target::Controller))
                .boxed(),
        );
        kinds.push(
            (broker(), broker())
                .prop_filter("two brokers", |(a, b)| a != b)
                .prop_map(|(a, b)| FaultKind::Drop(Target::Broker(a), Target::Broker(b)))
                .boxed(),
        );
    }
    if menu.controller {
        kinds.push(Just(FaultKind::Crash(Target::Controller)).boxed());
        kinds.push(Just(FaultKind::Pause(Target::Controller)).boxed());
    }
    if menu.consumers > 0 {
        let consumer = 1..=menu.consumers;
        kinds.push(
            consumer
                .clone()
                .prop_map(|c| FaultKind::Crash(Target::Consumer(c)))
                .boxed(),
        );
        kinds.push(
            consumer
                .clone()
                .prop_map(|c| FaultKind::Pause(Target::Consumer(c)))
                .boxed(),
        );
        kinds.push(
            (consumer, broker())
                .prop_map(|(c, b)| FaultKind::Cut(Target::Consumer(c), Target::Broker(b)))
                .boxed(),
        );
    }
    if menu.producer_links {
        kinds.push(
            broker()
                .prop_map(|b| FaultKind::Cut(Target::Producer, Target::Broker(b)))
                .boxed(),
        );
        kinds.push(
            broker()
                .prop_map(|b| FaultKind::Drop(Target::Broker(b), Target::Producer))
                .boxed(),
        );
        kinds.push(
            broker()
                .prop_map(|b| FaultKind::Drop(Target::Producer, Target::Broker(b)))
                .boxed(),
        );
    }
    assert!(!kinds.is_empty(), "a fault menu with nothing on it");
    proptest::strategy::Union::new(kinds).boxed()
}

/// A schedule of up to `menu.max_faults` faults, one after another.
pub fn schedule(menu: FaultMenu) -> impl Strategy<Value = Vec<Fault>> {
    let fault =
        (0..6_000u64, kind(menu), 500..12_000u64).prop_map(|(gap_ms, kind, lasts_ms)| Fault {
            gap_ms,
            kind,
            lasts_ms,
        });
    proptest::collection::vec(fault, 0..=menu.max_faults)
}

/// What the consumers do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consumers {
    /// One consumer outside any group, assigned every partition, from the earliest offset.
    Assigned,
    /// A group of `members` with the application semantic `semantics` (`process-then-commit`
    /// or `commit-before-process`), from the earliest offset.
    Group {
        members: u8,
        semantics: &'static str,
    },
}

/// A generated run: cluster settings, workload, faults and seed.
#[derive(Clone, Debug)]
pub struct Case {
    pub seed: u64,
    pub partitions: u32,
    pub min_insync_replicas: u32,
    pub unclean_leader_election: bool,
    /// `"all"`, `"1"` or `"0"`.
    pub acks: &'static str,
    pub idempotence: bool,
    pub max_in_flight: u32,
    /// Records per second.
    pub rate: u32,
    pub key_count: u32,
    pub consumers: Consumers,
    pub faults: Vec<Fault>,
}

impl Case {
    /// When each fault strikes and heals, in order.
    pub fn fault_times(&self) -> Vec<(u64, u64, &Fault)> {
        let mut at = FIRST_FAULT_MS;
        self.faults
            .iter()
            .map(|f| {
                let start = at + f.gap_ms;
                at = start + f.lasts_ms;
                (start, at, f)
            })
            .collect()
    }

    fn healed_ms(&self) -> u64 {
        self.fault_times()
            .last()
            .map_or(FIRST_FAULT_MS, |(_, end, _)| *end)
    }

    /// The run's length: the schedule, then time to converge.
    pub fn duration_ms(&self) -> u64 {
        self.healed_ms().max(MIN_PRODUCE_MS) + TAIL_MS
    }

    /// The scenario file, with the resolved message drops (`drops`: time, id) as actions.
    pub fn to_toml(&self, drops: &[(u64, u64)]) -> String {
        let mut t = String::new();
        let faults: Vec<String> = self
            .fault_times()
            .iter()
            .map(|(start, _, f)| format!("{} at {}", describe(&f.kind), seconds(*start)))
            .collect();
        let _ = writeln!(
            t,
            "# Generated by a property test (tests/src/faults.rs). Faults: {}.",
            if faults.is_empty() {
                "none".to_string()
            } else {
                faults.join("; ")
            }
        );
        let produce_ms = self.healed_ms().max(MIN_PRODUCE_MS);
        let records = u64::from(self.rate) * produce_ms / 1000;
        let _ = write!(
            t,
            r#"name = "property-case"
description = "A generated run: {acks} acks, idempotence {idem}, {n} faults."
seed = {seed}
duration = "{duration}"

[cluster]
brokers = {BROKERS}

[cluster.config]
"min.insync.replicas" = {min_isr}
"unclean.leader.election.enable" = {unclean}

[network]
latency = "2ms"
jitter = "1ms"

[[topics]]
name = "events"
partitions = {partitions}
replication_factor = 3

[[producers]]
name = "producer-1"
topic = "events"
records = {records}
rate = {rate}
key_count = {keys}
[producers.config]
acks = "{acks}"
"enable.idempotence" = {idem}
"max.in.flight.requests.per.connection" = {in_flight}
"request.timeout.ms" = 5000
"#,
            acks = self.acks,
            idem = self.idempotence,
            n = self.faults.len(),
            seed = self.seed,
            duration = format_duration(self.duration_ms() * 1000),
            min_isr = self.min_insync_replicas,
            unclean = self.unclean_leader_election,
            partitions = self.partitions,
            rate = self.rate,
            keys = self.key_count,
            in_flight = self.max_in_flight,
        );
        match self.consumers {
            Consumers::Assigned => {
                t += r#"
[[consumers]]
name = "consumer-1"
topic = "events"
[consumers.config]
"auto.offset.reset" = "earliest"
"#;
            }
            Consumers::Group { members, semantics } => {
                // max.poll.interval.ms is also the rebalance timeout, and a JoinGroup waits up
                // to it + 5 s: a member whose JoinGroup response a cut swallowed is stuck that
                // long (as in Kafka). 20 s (a batch takes 0.1 s) keeps that within the 60 s
                // liveness bound; Kafka's 5-minute default would not.
                for m in 1..=members {
                    let _ = write!(
                        t,
                        r#"
[[consumers]]
name = "consumer-{m}"
topic = "events"
semantics = "{semantics}"
processing_time = "2ms"
[consumers.config]
"group.id" = "property-app"
"auto.offset.reset" = "earliest"
"session.timeout.ms" = 10000
"max.poll.records" = 50
"max.poll.interval.ms" = 20000
"#
                    );
                }
            }
        }
        for (at, action) in self.timeline(drops) {
            let _ = write!(t, "\n[[timeline]]\nat = \"{}\"\n{action}", us(at));
        }
        t
    }

    /// Every timeline action with its time in microseconds, as TOML key lines.
    fn timeline(&self, drops: &[(u64, u64)]) -> Vec<(u64, String)> {
        let mut actions = Vec::new();
        let node =
            |action: &str, t: Target| format!("action = \"{action}\"\nnode = \"{}\"\n", t.name());
        let link = |action: &str, a: Target, b: Target| {
            format!(
                "action = \"{action}\"\nfrom = \"{}\"\nto = \"{}\"\n",
                a.name(),
                b.name()
            )
        };
        for (start, end, f) in self.fault_times() {
            let (start, end) = (start * 1000, end * 1000);
            match f.kind {
                FaultKind::Crash(target) => {
                    actions.push((start, node("crash", target)));
                    actions.push((end, node("restart", target)));
                }
                FaultKind::PowerLoss(b) => {
                    actions.push((start, node("power-loss", Target::Broker(b))));
                    actions.push((end, node("restart", Target::Broker(b))));
                }
                FaultKind::Pause(target) => {
                    actions.push((start, node("pause", target)));
                    actions.push((end, node("resume", target)));
                }
                FaultKind::Cut(a, b) => {
                    actions.push((start, link("cut", a, b)));
                    actions.push((end, link("heal", a, b)));
                }
                FaultKind::Isolate(b) => {
                    actions.push((start, node("isolate", Target::Broker(b))));
                    actions.push((end, "action = \"heal-all\"\n".to_string()));
                }
                FaultKind::Drop(..) => {}
            }
        }
        for (at, id) in drops {
            actions.push((*at, format!("action = \"drop-message\"\nid = {id}\n")));
        }
        actions.sort_by_key(|(at, _)| *at);
        actions
    }

    /// Writes the scenario file for this case under `dir` as `<name>.toml` and returns the
    /// command that replays it.
    pub fn write_replay(&self, dir: &std::path::Path, name: &str, drops: &[(u64, u64)]) -> String {
        let _ = std::fs::create_dir_all(dir);
        let path = dir.join(format!("{name}.toml"));
        let written = std::fs::write(&path, self.to_toml(drops));
        let path = path.display();
        match written {
            Ok(()) => format!("kafkalab run {path} --seed {} --invariants", self.seed),
            Err(e) => format!("(could not write {path}: {e})"),
        }
    }
}

fn describe(kind: &FaultKind) -> String {
    match kind {
        FaultKind::Crash(t) => format!("crash {}", t.name()),
        FaultKind::PowerLoss(b) => format!("power-loss broker-{b}"),
        FaultKind::Pause(t) => format!("pause {}", t.name()),
        FaultKind::Cut(a, b) => format!("cut {} <-> {}", a.name(), b.name()),
        FaultKind::Isolate(b) => format!("isolate broker-{b}"),
        FaultKind::Drop(a, b) => format!("drop a message {} -> {}", a.name(), b.name()),
    }
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

/// Microseconds as a scenario duration, exactly.
fn us(at: u64) -> String {
    if at % 1000 == 0 {
        format!("{}ms", at / 1000)
    } else {
        format!("{at}us")
    }
}

/// What a case's run showed.
#[derive(Debug)]
pub struct Outcome {
    pub summary: Summary,
    /// The delivery checker's anomalies, counted by kind name.
    pub anomalies: BTreeMap<&'static str, usize>,
    pub verdict: Verdict,
    /// The message drops the run resolved: (time in µs, message id).
    pub drops: Vec<(u64, u64)>,
    pub trace_hash: u64,
}

impl Outcome {
    pub fn anomaly(&self, kind: AnomalyKind) -> usize {
        self.anomalies.get(kind.name()).copied().unwrap_or(0)
    }
}

/// Runs a case with the invariant and liveness checks on, resolving its message drops.
pub fn run_case(case: &Case) -> Outcome {
    let scenario = parse_scenario(&case.to_toml(&[]), "property-case.toml")
        .unwrap_or_else(|e| panic!("a generated scenario failed to load: {e}"));
    let mut sim = Simulation::new(Arc::new(scenario), case.seed);
    sim.set_invariants(true);
    let mut drops = Vec::new();
    for (start, _, fault) in case.fault_times() {
        if let FaultKind::Drop(from, to) = fault.kind {
            if let Some(drop) = drop_in_flight(&mut sim, start * 1000, from, to) {
                drops.push(drop);
            }
        }
    }
    let end = sim.end_time();
    let verdict = check::run_checked(&mut sim, end);
    let mut anomalies = BTreeMap::new();
    for a in sim.anomalies() {
        *anomalies.entry(a.kind.name()).or_default() += 1;
    }
    Outcome {
        summary: sim.summary(),
        anomalies,
        verdict,
        drops,
        trace_hash: sim.world().trace_hash(),
    }
}

/// Runs to `at_us`, then on until a message from `from` to `to` is in flight (for at most a
/// second), and drops it one microsecond later. Returns (time, id), or None if none came.
fn drop_in_flight(
    sim: &mut Simulation,
    at_us: u64,
    from: Target,
    to: Target,
) -> Option<(u64, u64)> {
    let (from, to) = (
        sim.world().node_id(&from.name())?,
        sim.world().node_id(&to.name())?,
    );
    sim.run_until(SimTime::from_micros(at_us));
    let give_up = at_us + 1_000_000;
    loop {
        if sim.first_violation().is_some() {
            return None;
        }
        let now = sim.world().now().as_micros();
        let victim = sim
            .world()
            .in_flight()
            .filter(|m| m.from == from && m.to == to && m.deliver_at.as_micros() > now + 1)
            .map(|m| m.id.0)
            .min();
        if let Some(id) = victim {
            let when = now + 1;
            let action = Action::DropMessage { id };
            sim.schedule(At::Time(SimTime::from_micros(when)), action)
                .ok()?;
            return Some((when, id));
        }
        match sim.next_event_time() {
            Some(t) if t.as_micros() <= give_up => {
                sim.step();
            }
            _ => return None,
        }
    }
}
