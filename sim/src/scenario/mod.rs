//! Scenarios: a cluster, its topics and clients, the network, a timeline of faults and actions,
//! and a run length — everything a run needs besides its seed.
//!
//! The built-in scenarios are the `scenarios/*.toml` files of the repository, embedded at build
//! time; a scenario can also be loaded from any path (by the binary, which does the I/O).

pub mod action;
pub mod expect;
mod load;
pub mod spec;

pub use action::Action;
pub use expect::{Bound, Checked, Expectation, Scope};
pub use load::{
    BROKER_TOPIC_DEFAULTS, BrokerOverride, CONTROLLER_NAME, ConsumerDef, ProducerDef, Scenario,
    ScenarioError, TimedAction, TopicDef, parse_scenario,
};
pub(crate) use load::{
    check_partition_increase, consumer_def_checked, error_at, producer_def_checked,
};

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin_scenarios.rs"));
}

/// The built-in scenarios as `(name, toml text)`, sorted by name.
pub fn builtin() -> &'static [(&'static str, &'static str)] {
    builtin::BUILTIN
}

/// The text of a built-in scenario.
pub fn builtin_text(name: &str) -> Option<&'static str> {
    builtin().iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Loads a built-in scenario by name.
pub fn load_builtin(name: &str) -> Option<Result<Scenario, ScenarioError>> {
    builtin_text(name).map(|text| parse_scenario(text, &format!("scenarios/{name}.toml")))
}
