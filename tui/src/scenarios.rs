//! Finding a scenario by name or path: the I/O edge in front of `kafkalab_sim::scenario`.

use kafkalab_sim::scenario::{self, Scenario, ScenarioError};
use std::fmt;
use std::path::Path;

/// Why a scenario could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// Neither a built-in name nor an existing file.
    NotFound {
        arg: String,
        builtin: Vec<&'static str>,
    },
    /// The file exists but could not be read.
    Io { path: String, error: std::io::Error },
    /// The file is malformed.
    Invalid(ScenarioError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotFound { arg, builtin } => write!(
                f,
                "unknown scenario `{arg}`: it is not a built-in scenario and no file exists at \
                 that path\n  built-in scenarios: {}\n  (see `kafkalab scenarios list`)",
                builtin.join(", ")
            ),
            LoadError::Io { path, error } => write!(f, "cannot read `{path}`: {error}"),
            LoadError::Invalid(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LoadError {}

impl LoadError {
    /// The exit code this failure maps to.
    pub fn exit_code(&self) -> u8 {
        match self {
            LoadError::Io { .. } => crate::exit::ERROR,
            LoadError::NotFound { .. } | LoadError::Invalid(_) => crate::exit::USAGE,
        }
    }
}

/// Loads `arg` as a built-in scenario name, or else as a path to a TOML file.
pub fn load(arg: &str) -> Result<Scenario, LoadError> {
    if let Some(result) = scenario::load_builtin(arg) {
        return result.map_err(LoadError::Invalid);
    }
    let path = Path::new(arg);
    if !path.is_file() {
        return Err(LoadError::NotFound {
            arg: arg.to_string(),
            builtin: scenario::builtin().iter().map(|(n, _)| *n).collect(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|error| LoadError::Io {
        path: arg.to_string(),
        error,
    })?;
    scenario::parse_scenario(&text, arg).map_err(LoadError::Invalid)
}
