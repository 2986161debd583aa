//! Shared helpers for Kafka Lab's cross-crate test suites.

use kafkalab_sim::Simulation;
use kafkalab_sim::history::Summary;
use kafkalab_sim::scenario::{self, Scenario};
use std::sync::Arc;

/// Loads a built-in scenario, panicking with its error if it is malformed.
pub fn builtin(name: &str) -> Arc<Scenario> {
    match scenario::load_builtin(name) {
        Some(Ok(s)) => Arc::new(s),
        Some(Err(e)) => panic!("built-in scenario {name} is invalid: {e}"),
        None => panic!("no built-in scenario {name}"),
    }
}

/// Runs a scenario to its end with `seed`.
pub fn run(scenario: &Arc<Scenario>, seed: u64) -> Simulation {
    let mut sim = Simulation::new(scenario.clone(), seed);
    sim.run_to_end();
    sim
}

/// `(trace hash, steps, summary)` of a full run.
pub fn outcome(scenario: &Arc<Scenario>, seed: u64) -> (u64, u64, Summary) {
    let sim = run(scenario, seed);
    (sim.world().trace_hash(), sim.world().steps(), sim.summary())
}

/// Runs the `kafkalab` CLI in-process: `(exit code, stdout, stderr)`.
pub fn cli(args: &[&str]) -> (u8, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let argv = std::iter::once("kafkalab").chain(args.iter().copied());
    let code = kafkalab::cli::main(argv, &mut out, &mut err);
    (
        code,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

pub mod faults;
pub mod property;
