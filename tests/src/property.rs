//! Running properties over generated [`Case`]s with proptest, and reporting a failure the way
//! a person debugs it: the shrunk case written as a scenario file, and the one-line command
//! that replays it.
//!
//! Two kinds of property:
//! - [`holds`]: a guarantee (idempotent acks=all loses nothing, ...). proptest searches for a
//!   counterexample; if it finds one, it shrinks it, keeps its seed in the regressions file
//!   beside the test (committed, so every later run tries it first), and the test fails with
//!   the replay command.
//! - [`fails`]: a configuration that must lose or duplicate (acks=1, idempotence off). The
//!   search must find a counterexample and shrink it to at most a handful of faults — proof
//!   that the property tests can find a real bug, and a minimal story of it. Its search is
//!   seeded, so CI finds the same story every time.
//!
//! Case counts are modest by default so CI stays fast; `PROPTEST_CASES` raises them. The cases
//! are drawn from a generator seeded by the property's name, so CI is reproducible;
//! `PROPTEST_RNG_SEED=N` draws other cases (a long exploratory run).

use crate::faults::{Case, Outcome, run_case};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, RngSeed, TestCaseError, TestError, TestRng,
    TestRunner,
};
use std::path::PathBuf;

/// `PROPTEST_CASES`, or `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Where a property test lives: its source file (for the regressions file beside it) and the
/// test target's scratch directory (where failing cases are written). Build it with
/// [`site!`](crate::site) in the test file.
#[derive(Clone, Copy, Debug)]
pub struct Site {
    pub source: &'static str,
    pub scratch: &'static str,
}

impl Site {
    fn replay_dir(self) -> PathBuf {
        PathBuf::from(self.scratch).join("property-cases")
    }
}

/// The [`Site`] of the test file it is written in.
#[macro_export]
macro_rules! site {
    () => {
        $crate::property::Site {
            source: file!(),
            scratch: env!("CARGO_TARGET_TMPDIR"),
        }
    };
}

/// A property's verdict on one run: `Err` says what broke.
pub type Verdict = Result<(), String>;

/// Checks `property` over `default_cases` cases of `strategy` (see the module docs).
pub fn holds(
    site: Site,
    name: &str,
    default_cases: u32,
    strategy: impl Strategy<Value = Case>,
    property: impl Fn(&Case, &Outcome) -> Verdict,
) {
    let config = Config {
        cases: cases(default_cases),
        source_file: Some(site.source),
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel(
            "proptest-regressions",
        ))),
        // Each case is a whole simulated run; a few hundred shrink steps are plenty.
        max_shrink_iters: 400,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, rng_for(name));
    let result = runner.run(&strategy, |case| {
        let outcome = run_case(&case);
        property(&case, &outcome).map_err(TestCaseError::fail)
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, case)) => {
            let outcome = run_case(&case);
            let replay = case.write_replay(&site.replay_dir(), name, &outcome.drops);
            panic!(
                "property `{name}` failed: {reason}\n  minimal case: {case:?}\n  replay: {replay}"
            );
        }
        Err(TestError::Abort(reason)) => panic!("property `{name}` aborted: {reason}"),
    }
}

/// A counterexample a [`fails`] search found, shrunk.
#[derive(Debug)]
pub struct Counterexample {
    pub case: Case,
    pub outcome: Outcome,
    pub reason: String,
    pub replay: String,
}

/// Searches `default_cases` cases of `strategy` for a run where `property` breaks, expecting
/// to find one; returns it shrunk, with its scenario file written and its replay command.
/// Panics if the search finds none.
pub fn fails(
    site: Site,
    name: &str,
    default_cases: u32,
    strategy: impl Strategy<Value = Case>,
    property: impl Fn(&Case, &Outcome) -> Verdict,
) -> Counterexample {
    let config = Config {
        cases: cases(default_cases),
        // An expected failure is not a regression to remember.
        failure_persistence: None,
        max_shrink_iters: 400,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, rng_for(name));
    match runner.run(&strategy, |case| {
        let outcome = run_case(&case);
        property(&case, &outcome).map_err(TestCaseError::fail)
    }) {
        Ok(()) => panic!(
            "property `{name}` should have found a counterexample in {} cases and found none",
            cases(default_cases)
        ),
        Err(TestError::Abort(reason)) => panic!("property `{name}` aborted: {reason}"),
        Err(TestError::Fail(reason, case)) => {
            let outcome = run_case(&case);
            let replay = case.write_replay(&site.replay_dir(), name, &outcome.drops);
            println!("property `{name}`: counterexample: {reason}\n  replay: {replay}");
            Counterexample {
                case,
                outcome,
                reason: reason.to_string(),
                replay,
            }
        }
    }
}

/// The case generator: seeded from the property's name, so CI checks the same cases on every
/// run (a failure there is always reproducible), unless `PROPTEST_RNG_SEED` asks for others.
fn rng_for(name: &str) -> TestRng {
    let mut seed = [0u8; 32];
    if let RngSeed::Fixed(fixed) = Config::default().rng_seed {
        seed[..8].copy_from_slice(&fixed.to_le_bytes());
    }
    for (i, b) in name.bytes().enumerate() {
        seed[8 + i % 24] ^= b;
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &seed)
}

/// Draws one case of `strategy` with the generator of `name` (for tests of the harness).
pub fn sample(name: &str, strategy: impl Strategy<Value = Case>) -> Case {
    let mut runner = TestRunner::new_with_rng(Config::default(), rng_for(name));
    match strategy.new_tree(&mut runner) {
        Ok(tree) => tree.current(),
        Err(reason) => panic!("no case: {reason}"),
    }
}
