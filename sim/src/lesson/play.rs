//! Playing a lesson: what each step does to the run, how a learner's answer is judged, and the
//! headless auto-player (`kafkalab learn <lesson> --auto`) the tests run on every lesson.
//!
//! The lab plays a lesson step by step through the same functions: [`enter_step`] applies a
//! step's actions and runs it to its checkpoint, [`judge`] reads a prediction, and a task is
//! done when its `until` condition [`holds`](super::query::holds).

use super::query::{self, Value};
use super::{Advance, AnswerKind, Checkpoint, Lesson, Predict, Template};
use crate::Simulation;
use crate::kernel::At;
use crate::scenario::{Action, Scenario};
use std::sync::Arc;

/// What a lesson plays on: the auto-player's bare [`Simulation`], or the lab's session (which
/// can also step back and branch). Both step the same simulation one event at a time through
/// these functions, so a lesson reaches the same states in the lab as under `--auto`.
pub trait Player {
    /// The run as it stands.
    fn sim(&self) -> &Simulation;
    /// Applies `action` at the current step (it takes effect with the next step).
    fn act(&mut self, action: Action) -> Result<(), String>;
    /// The time (µs) of the next step, or `None` when the scenario has ended.
    fn next_time(&mut self) -> Option<u64>;
    /// One step forward (only called after `next_time` said there is one).
    fn step_once(&mut self);
}

impl Player for Simulation {
    fn sim(&self) -> &Simulation {
        self
    }

    fn act(&mut self, action: Action) -> Result<(), String> {
        let step = self.world().steps();
        self.schedule(At::Step(step), action.clone())
            .map_err(|e| format!("{action:?}: {}", e.0))
    }

    fn next_time(&mut self) -> Option<u64> {
        let end = self.end_time();
        self.next_event_time()
            .filter(|t| *t <= end)
            .map(|t| t.as_micros())
    }

    fn step_once(&mut self) {
        self.step();
    }
}

/// Applies `templates` as actions at the run's current step.
pub fn apply_actions(run: &mut impl Player, templates: &[Template]) -> Result<(), String> {
    for template in templates {
        let action = template.resolve(run.sim())?;
        run.act(action)?;
    }
    Ok(())
}

/// Steps until `condition` holds (checked after every step, and before the first) or
/// `timeout_us` of simulated time pass. True if it held.
pub fn run_until(
    run: &mut impl Player,
    condition: &query::Expr,
    timeout_us: u64,
) -> Result<bool, String> {
    let deadline = run
        .sim()
        .world()
        .now()
        .as_micros()
        .saturating_add(timeout_us);
    loop {
        if query::holds(condition, run.sim()).map_err(|e| e.0)? {
            return Ok(true);
        }
        if run.next_time().is_none_or(|t| t > deadline) {
            return Ok(false);
        }
        run.step_once();
    }
}

/// Runs `us` of simulated time: every step due by then (not past the scenario's end).
pub fn run_for(run: &mut impl Player, us: u64) {
    let deadline = run.sim().world().now().as_micros().saturating_add(us);
    while run.next_time().is_some_and(|t| t <= deadline) {
        run.step_once();
    }
}

/// Applies a step's actions and runs it to its checkpoint.
pub fn enter_step(run: &mut impl Player, lesson: &Lesson, index: usize) -> Result<(), String> {
    let step = &lesson.steps[index];
    apply_actions(run, &step.actions)?;
    match &step.advance {
        Advance::Stay => {}
        Advance::For(us) => run_for(run, *us),
        Advance::Until {
            text,
            condition,
            timeout_us,
        } => {
            if !run_until(run, condition, *timeout_us)? {
                return Err(format!(
                    "`until = \"{text}\"` did not hold within {}",
                    crate::kernel::format_duration(*timeout_us)
                ));
            }
        }
    }
    Ok(())
}

/// Performs a task's solution and runs until its `until` holds. Err if it does not hold
/// within the task's `within`.
pub fn solve_task(run: &mut impl Player, task: &super::Task) -> Result<(), String> {
    apply_actions(run, &task.solution)?;
    if !run_until(run, &task.until, task.within_us)? {
        return Err(format!(
            "the solution did not make `{}` hold within {}",
            task.until_text,
            crate::kernel::format_duration(task.within_us)
        ));
    }
    Ok(())
}

/// Whether `input` (what the learner typed) is the right answer; `Err` when it cannot be read
/// as an answer of this kind (say what to type instead).
pub fn judge(predict: &Predict, answer: &Value, input: &str) -> Result<bool, String> {
    let input = input.trim();
    // The message says what to type, never the answer.
    let number = |text: &str, what: &str| -> Result<i64, String> {
        text.parse::<i64>().map_err(|_| format!("type {what}"))
    };
    let expected = match answer {
        Value::Int(n) => Some(*n),
        _ => None,
    };
    match predict.kind {
        AnswerKind::Number => Ok(Some(number(input, "a whole number")?) == expected),
        AnswerKind::Broker => {
            let lower = input.to_ascii_lowercase();
            let digits = lower
                .strip_prefix("broker-")
                .or_else(|| lower.strip_prefix("broker "))
                .or_else(|| lower.strip_prefix('b'))
                .unwrap_or(&lower);
            Ok(Some(number(digits, "a broker id (2, b2 or broker-2)")?) == expected)
        }
        AnswerKind::Partition => {
            let digits = input.rsplit('-').next().unwrap_or(input);
            Ok(Some(number(digits, "a partition number (1 or orders-1)")?) == expected)
        }
        AnswerKind::YesNo => {
            let said = match input.to_ascii_lowercase().as_str() {
                "y" | "yes" | "true" => true,
                "n" | "no" | "false" => false,
                _ => return Err("type yes or no".to_string()),
            };
            Ok(*answer == Value::Bool(said))
        }
        AnswerKind::Choice => {
            let chosen = match input.parse::<usize>() {
                Ok(i) if (1..=predict.choices.len()).contains(&i) => &predict.choices[i - 1],
                _ => predict
                    .choices
                    .iter()
                    .find(|c| c.eq_ignore_ascii_case(input))
                    .ok_or_else(|| {
                        format!(
                            "type one of the choices (or its number): {}",
                            predict.choices.join(", ")
                        )
                    })?,
            };
            Ok(chosen.eq_ignore_ascii_case(&answer.to_string()))
        }
    }
}

/// Evaluates a prediction's answer — as it will be once the run has gone on for the
/// prediction's `then` (a question about what Kafka *will* do is answered by running ahead
/// on a copy) — and checks it is an answer of its kind (a `choice` answer must be one of the
/// choices): a lesson whose query drifts from its question fails here.
pub fn expected_answer(predict: &Predict, sim: &Simulation) -> Result<Value, String> {
    let value = if predict.then_us == 0 {
        query::eval(&predict.answer, sim)
    } else {
        let mut ahead = sim.clone();
        run_for(&mut ahead, predict.then_us);
        query::eval(&predict.answer, &ahead)
    }
    .map_err(|e| e.0)?;
    let fits = match (predict.kind, &value) {
        (AnswerKind::Number | AnswerKind::Broker | AnswerKind::Partition, Value::Int(_)) => true,
        (AnswerKind::YesNo, Value::Bool(_)) => true,
        (AnswerKind::Choice, v) => predict
            .choices
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&v.to_string())),
        _ => false,
    };
    if !fits {
        return Err(format!(
            "the answer `{}` evaluated to `{value}`, which is not a {:?} answer{}",
            predict.answer_text,
            predict.kind,
            if predict.kind == AnswerKind::Choice {
                format!(" (choices: {})", predict.choices.join(", "))
            } else {
                String::new()
            }
        ));
    }
    Ok(value)
}

/// A wrong answer of the right kind, as a learner would type it.
pub fn wrong_answer(predict: &Predict, answer: &Value) -> String {
    match (predict.kind, answer) {
        (AnswerKind::YesNo, Value::Bool(b)) => if *b { "no" } else { "yes" }.to_string(),
        (AnswerKind::Choice, v) => predict
            .choices
            .iter()
            .find(|c| !c.eq_ignore_ascii_case(&v.to_string()))
            .cloned()
            .unwrap_or_default(),
        (_, Value::Int(n)) => (n + 1).to_string(),
        (_, v) => format!("not {v}"),
    }
}

/// What the auto-player did at one step.
#[derive(Clone, Debug, PartialEq)]
pub struct StepOutcome {
    pub title: String,
    pub checkpoint: &'static str,
    /// The step's simulated time when its checkpoint was reached, in µs.
    pub time_us: u64,
    /// For a prediction: the answer given, and the wrong one that was refused.
    pub answered: Option<(String, String)>,
}

/// Plays step `index` of `lesson` as the auto-player does: enters it, then answers its
/// prediction from the query (after checking a wrong answer is refused) and runs on for
/// `then`, or performs its task's solution. The lab uses it too, to resume a lesson at a
/// later step. The error names what could not complete.
pub fn complete_step(
    run: &mut impl Player,
    lesson: &Lesson,
    index: usize,
) -> Result<StepOutcome, String> {
    let step = &lesson.steps[index];
    enter_step(run, lesson, index)?;
    let time_us = run.sim().world().now().as_micros();
    let mut answered = None;
    match &step.checkpoint {
        Checkpoint::Observe => {}
        Checkpoint::Predict(p) => {
            let answer = expected_answer(p, run.sim())?;
            let wrong = wrong_answer(p, &answer);
            if judge(p, &answer, &wrong) != Ok(false) {
                return Err(format!("the wrong answer `{wrong}` was not refused"));
            }
            let right = answer.to_string();
            if judge(p, &answer, &right) != Ok(true) {
                return Err(format!("the right answer `{right}` was refused"));
            }
            answered = Some((right, wrong));
            run_for(run, p.then_us);
        }
        Checkpoint::Do(task) => {
            if query::holds(&task.until, run.sim()).map_err(|e| e.0)? {
                return Err(format!(
                    "`until = \"{}\"` holds before the learner does anything",
                    task.until_text
                ));
            }
            solve_task(run, task)?;
        }
    }
    Ok(StepOutcome {
        title: step.title.clone(),
        checkpoint: step.checkpoint.kind(),
        time_us,
        answered,
    })
}

/// Plays `lesson` on `scenario` headless, step by step with [`complete_step`]. The first
/// step that cannot complete is an error naming it.
pub fn auto_play(lesson: &Lesson, scenario: Arc<Scenario>) -> Result<Vec<StepOutcome>, String> {
    let mut sim = Simulation::new(scenario, lesson.seed);
    (0..lesson.steps.len())
        .map(|i| {
            complete_step(&mut sim, lesson, i)
                .map_err(|e| format!("step {} (`{}`): {e}", i + 1, lesson.steps[i].title))
        })
        .collect()
}
