//! Finding a scenario by name or path: the I/O edge in front of `kafkalab_sim::scenario`,
//! with the command-line settings (`--config`, `--producer-config`) applied; and
//! `kafkalab scenarios list|show`, the catalogue of built-in scenarios to start from.

use crate::cli::{CmdResult, ScenariosCommand, io_error, write_json};
use crate::exit;
use kafkalab_sim::scenario::{self, Scenario, ScenarioError};
use serde::Serialize;
use std::fmt;
use std::io::Write;
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

/// Loads a scenario and applies `--config` and `--producer-config` settings to it.
pub(crate) fn load_with_config(
    name: &str,
    config: &[(String, String)],
    producer_config: &[(String, String)],
) -> Result<kafkalab_sim::scenario::Scenario, (u8, String)> {
    let mut scenario = load(name).map_err(|e| (e.exit_code(), e.to_string()))?;
    for (key, value) in config {
        scenario = scenario.with_cluster_config(key, value).map_err(|e| {
            (
                exit::USAGE,
                format!("--config {key}={value}: {}", e.message),
            )
        })?;
    }
    for (key, value) in producer_config {
        scenario = scenario.with_producer_config(key, value).map_err(|e| {
            (
                exit::USAGE,
                format!("--producer-config {key}={value}: {}", e.message),
            )
        })?;
    }
    Ok(scenario)
}

/// The width of the name column: the longest scenario name.
pub(crate) fn name_width(list: &[(String, String)]) -> usize {
    list.iter().map(|(name, _)| name.len()).max().unwrap_or(0)
}

/// The built-in scenarios as `(name, description)`, sorted by name.
pub(crate) fn scenario_list() -> Vec<(String, String)> {
    kafkalab_sim::scenario::builtin()
        .iter()
        .map(|(name, _)| {
            let description = match kafkalab_sim::scenario::load_builtin(name) {
                Some(Ok(s)) => s.description,
                Some(Err(e)) => format!("(invalid: {e})"),
                None => String::new(),
            };
            (name.to_string(), description)
        })
        .collect()
}

/// `kafkalab scenarios list|show`.
pub(crate) fn scenarios_cmd(cmd: &ScenariosCommand, out: &mut dyn Write) -> CmdResult {
    match cmd {
        ScenariosCommand::List { json } => {
            let list = scenario_list();
            if *json {
                #[derive(Serialize)]
                struct Entry<'a> {
                    name: &'a str,
                    description: &'a str,
                }
                let entries: Vec<Entry> = list
                    .iter()
                    .map(|(name, description)| Entry { name, description })
                    .collect();
                write_json(out, &entries)?;
            } else {
                let width = name_width(&list);
                for (name, description) in list {
                    writeln!(out, "{name:<width$} {description}").map_err(io_error)?;
                }
            }
        }
        ScenariosCommand::Show { name } => match kafkalab_sim::scenario::builtin_text(name) {
            Some(text) => out.write_all(text.as_bytes()).map_err(io_error)?,
            None => {
                let names: Vec<&str> = kafkalab_sim::scenario::builtin()
                    .iter()
                    .map(|(n, _)| *n)
                    .collect();
                return Err((
                    exit::USAGE,
                    format!(
                        "no built-in scenario `{name}`; built-in: {}",
                        names.join(", ")
                    ),
                ));
            }
        },
    }
    Ok(exit::OK)
}
