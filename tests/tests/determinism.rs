//! Determinism is a contract: every built-in scenario, run twice with the same seed, gives the
//! same trace hash and the same summary; another seed gives another trace.

use kafkalab_sim::kernel::Timeline;
use kafkalab_sim::scenario;
use kafkalab_tests::{builtin, outcome};

#[test]
fn every_builtin_scenario_replays_identically() {
    let names: Vec<&str> = scenario::builtin().iter().map(|(n, _)| *n).collect();
    assert!(
        names.len() >= 2,
        "expected the built-in scenarios, got {names:?}"
    );
    for name in names {
        let s = builtin(name);
        for seed in [s.default_seed, 12345] {
            let first = outcome(&s, seed);
            let second = outcome(&s, seed);
            assert_eq!(
                first, second,
                "{name} with seed {seed} is not deterministic"
            );
            assert!(first.1 > 0, "{name} ran no steps");
        }
    }
}

#[test]
fn another_seed_gives_another_trace() {
    let s = builtin("quickstart");
    assert_ne!(outcome(&s, 7).0, outcome(&s, 8).0);
}

#[test]
fn rewinding_through_the_timeline_reproduces_every_step() {
    let s = builtin("broker-faults");
    let mut sim = kafkalab_sim::Simulation::new(s.clone(), 3);
    let mut timeline = Timeline::new(&sim, 256);
    let mut hashes = vec![sim.world().trace_hash()];
    while sim.world().steps() < 3_000 && timeline.step(&mut sim) {
        hashes.push(sim.world().trace_hash());
    }
    for target in [0u64, 1, 255, 256, 1_000, 2_999] {
        let back = timeline.state_at(target).expect("reachable step");
        assert_eq!(back.world().steps(), target);
        assert_eq!(
            back.world().trace_hash(),
            hashes[target as usize],
            "step {target}"
        );
        assert_eq!(back.summary(), {
            let mut again = kafkalab_sim::Simulation::new(s.clone(), 3);
            while again.world().steps() < target {
                again.step();
            }
            again.summary()
        });
    }
}
