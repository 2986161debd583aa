//! `kafkalab lessons list` and `kafkalab learn --auto`: the course's catalogue, and a lesson
//! played headless — every *do* performed, every *predict* answered from its query after
//! checking that a wrong answer is refused. The tests run every lesson this way.
//!
//! This module is the I/O edge in front of `kafkalab_sim::lesson`: it finds a lesson by
//! number, name or path, and its scenario by built-in name or by a path relative to the
//! lesson file. `kafkalab learn <lesson>` without `--auto` opens the lab on it
//! (`crate::lab::lesson`).

use crate::cli::{CmdResult, io_error, write_json};
use crate::exit;
use kafkalab_sim::lesson::{self, Checkpoint, Lesson};
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// One line of `lessons list`.
#[derive(Debug, Serialize)]
pub struct LessonEntry {
    pub number: u32,
    pub name: String,
    pub title: String,
    pub scenario: String,
    pub minutes: u32,
    pub steps: usize,
    pub predict: usize,
    pub r#do: usize,
}

/// The built-in lessons, in course order (a malformed one is an error naming its file).
pub fn catalogue() -> Result<Vec<Lesson>, (u8, String)> {
    lesson::builtin()
        .iter()
        .map(|(stem, text)| {
            lesson::parse_lesson(text, &format!("lessons/{stem}.md"))
                .map_err(|e| (exit::USAGE, e.to_string()))
        })
        .collect()
}

fn entry(l: &Lesson) -> LessonEntry {
    let count = |kind: &str| {
        l.steps
            .iter()
            .filter(|s| s.checkpoint.kind() == kind)
            .count()
    };
    LessonEntry {
        number: l.number,
        name: l.name.clone(),
        title: l.title.clone(),
        scenario: l.scenario.clone(),
        minutes: l.minutes,
        steps: l.steps.len(),
        predict: count("predict"),
        r#do: count("do"),
    }
}

/// `kafkalab lessons list [--json]`.
pub fn list(json: bool, out: &mut dyn Write) -> CmdResult {
    let entries: Vec<LessonEntry> = catalogue()?.iter().map(entry).collect();
    if json {
        write_json(out, &entries)?;
        return Ok(exit::OK);
    }
    let width = entries.iter().map(|e| e.name.len()).max().unwrap_or(0);
    let mut text = String::new();
    for e in &entries {
        text += &format!(
            "{:>2}  {:<width$}  {} ({} min, {} steps)\n",
            e.number, e.name, e.title, e.minutes, e.steps
        );
    }
    text += "\nTake one in the lab: kafkalab learn 1    (headless: kafkalab learn 1 --auto)\n";
    out.write_all(text.as_bytes()).map_err(io_error)?;
    Ok(exit::OK)
}

/// A lesson by number, name or path.
pub fn load(which: &str) -> Result<(Lesson, Option<std::path::PathBuf>), (u8, String)> {
    if let Some(result) = lesson::load_builtin(which) {
        return result
            .map(|l| (l, None))
            .map_err(|e| (exit::USAGE, e.to_string()));
    }
    let path = Path::new(which);
    if !path.is_file() {
        let known: Vec<String> = catalogue()?
            .iter()
            .map(|l| format!("{} {}", l.number, l.name))
            .collect();
        return Err((
            exit::USAGE,
            format!(
                "unknown lesson `{which}`: not a lesson number, name or file\n  lessons: {}\n  \
                 (see `kafkalab lessons list`)",
                known.join(", ")
            ),
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| (exit::ERROR, format!("cannot read `{which}`: {e}")))?;
    let lesson = lesson::parse_lesson(&text, which).map_err(|e| (exit::USAGE, e.to_string()))?;
    Ok((lesson, path.parent().map(Path::to_path_buf)))
}

/// The lesson's scenario: a built-in name, or a path relative to the lesson's folder.
pub fn scenario(
    lesson: &Lesson,
    folder: Option<&Path>,
) -> Result<kafkalab_sim::scenario::Scenario, (u8, String)> {
    let arg = match folder {
        Some(dir) if kafkalab_sim::scenario::builtin_text(&lesson.scenario).is_none() => {
            dir.join(&lesson.scenario).display().to_string()
        }
        _ => lesson.scenario.clone(),
    };
    crate::scenarios::load(&arg).map_err(|e| {
        (
            e.exit_code(),
            format!(
                "{}: `scenario = \"{}\"`: {e}",
                lesson.source, lesson.scenario
            ),
        )
    })
}

/// `kafkalab learn <lesson> --auto`.
pub fn learn_auto(which: &str, out: &mut dyn Write) -> CmdResult {
    let (lesson, folder) = load(which)?;
    let scenario = scenario(&lesson, folder.as_deref())?;
    let outcomes = lesson::play::auto_play(&lesson, Arc::new(scenario)).map_err(|e| {
        (
            exit::VIOLATION,
            format!("lesson {} ({}): {e}", lesson.number, lesson.title),
        )
    })?;
    let mut text = format!(
        "Lesson {}: {} (scenario {}, seed {})\n",
        lesson.number, lesson.title, lesson.scenario, lesson.seed
    );
    for (i, (o, step)) in outcomes.iter().zip(&lesson.steps).enumerate() {
        let detail = match (&step.checkpoint, &o.answered) {
            (Checkpoint::Predict(p), Some((right, wrong))) => {
                format!(" — {} → {right} (refused {wrong})", p.question)
            }
            (Checkpoint::Do(t), _) => format!(" — {} (done: {})", t.task, t.until_text),
            _ => String::new(),
        };
        text += &format!(
            "  {:>2}. {:<8} at {:>8}  {}{detail}\n",
            i + 1,
            o.checkpoint,
            kafkalab_sim::check::seconds(o.time_us),
            o.title
        );
    }
    text += &format!("passed: {} steps\n", outcomes.len());
    out.write_all(text.as_bytes()).map_err(io_error)?;
    Ok(exit::OK)
}
