//! The learner's progress through the course, kept between sessions: which steps of which
//! lessons are done and where to resume. One small TOML file in the XDG state directory
//! (`$XDG_STATE_HOME/kafkalab/progress.toml`, by default `~/.local/state/kafkalab/`), the
//! place the XDG base-directory spec gives to state that should survive a restart but is not
//! worth backing up.
//!
//! Progress is keyed by the lesson's name (its file stem without the number), so renumbering
//! the course keeps it. A file that cannot be read is reported, not fatal: the lab starts
//! from nothing and says why.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One lesson's progress.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessonProgress {
    /// Steps completed (0-based indices into the lesson's steps).
    #[serde(default)]
    pub completed: BTreeSet<usize>,
    /// The step to resume at (0-based).
    #[serde(default)]
    pub resume: usize,
}

impl LessonProgress {
    /// Whether every one of `steps` steps is done.
    pub fn finished(&self, steps: usize) -> bool {
        steps > 0 && (0..steps).all(|i| self.completed.contains(&i))
    }
}

/// Every lesson's progress, by lesson name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    #[serde(default)]
    pub lessons: BTreeMap<String, LessonProgress>,
}

/// Where progress is kept: `$XDG_STATE_HOME/kafkalab/progress.toml`, or
/// `$HOME/.local/state/kafkalab/progress.toml`. `None` when neither is set.
pub fn default_path() -> Option<PathBuf> {
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let state = nonempty("XDG_STATE_HOME")
        .map(PathBuf::from)
        // The spec: a relative path in XDG_STATE_HOME is invalid and must be ignored.
        .filter(|p| p.is_absolute())
        .or_else(|| nonempty("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(state.join("kafkalab").join("progress.toml"))
}

impl Progress {
    /// Reads `path`. No file yet is no progress; an unreadable or malformed one is an error
    /// naming the file (the caller shows it and starts from nothing).
    pub fn load(path: &Path) -> Result<Progress, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| {
                format!(
                    "{}: not a progress file ({}); starting from nothing",
                    path.display(),
                    e.message()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Progress::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Writes `path` (creating its directory), through a temporary file renamed into place
    /// so a crash mid-write cannot leave half a file.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("cannot save progress to {}: {e}", path.display());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let text = toml::to_string(self).map_err(|e| e.to_string())?;
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).map_err(fail)?;
        std::fs::rename(&tmp, path).map_err(fail)
    }

    pub fn lesson(&self, name: &str) -> LessonProgress {
        self.lessons.get(name).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_round_trips_through_its_file_and_a_missing_file_is_none() {
        let dir = std::env::temp_dir().join(format!("kafkalab-progress-{}", std::process::id()));
        let path = dir.join("kafkalab/progress.toml");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(Progress::load(&path), Ok(Progress::default()));
        let mut p = Progress::default();
        p.lessons.insert(
            "topics-partitions-offsets".to_string(),
            LessonProgress {
                completed: [0, 1].into(),
                resume: 2,
            },
        );
        p.save(&path).expect("saved");
        let back = Progress::load(&path).expect("read back");
        assert_eq!(back, p);
        let lesson = back.lesson("topics-partitions-offsets");
        assert_eq!(lesson.resume, 2);
        assert!(!lesson.finished(3));
        assert!(lesson.finished(2));
        std::fs::write(&path, "lessons = 3").expect("written");
        let err = Progress::load(&path).expect_err("malformed");
        assert!(
            err.contains("progress.toml") && err.contains("not a progress file"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
