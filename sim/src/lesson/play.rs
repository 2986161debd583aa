//! Playing a lesson: what each step does to the run, how a learner's answer is judged, and the
//! headless auto-player (`kafkalab learn <lesson> --auto`) the tests run on every lesson.
//!
//! The lab plays a lesson step by step through the same functions: [`enter_step`] applies a
//! step's actions and runs it to its checkpoint, [`judge`] reads a prediction, and a task is
//! done when its `until` condition [`holds`](super::query::holds).

use super::query::{self, Value};
use super::{Advance, AnswerKind, Checkpoint, Lesson, Predict, Template};
use crate::Simulation;
use crate::kernel::{At, SimTime};
use crate::scenario::Scenario;
use std::sync::Arc;

/// Applies `templates` as actions at the run's current step.
pub fn apply_actions(sim: &mut Simulation, templates: &[Template]) -> Result<(), String> {
    for template in templates {
        let action = template.resolve(sim)?;
        let step = sim.world().steps();
        sim.schedule(At::Step(step), action.clone())
            .map_err(|e| format!("{action:?}: {}", e.0))?;
    }
    Ok(())
}

/// Steps until `condition` holds (checked after every step, and before the first) or
/// `timeout_us` of simulated time pass. True if it held.
pub fn run_until(
    sim: &mut Simulation,
    condition: &query::Expr,
    timeout_us: u64,
) -> Result<bool, String> {
    let deadline = sim.world().now().as_micros().saturating_add(timeout_us);
    loop {
        if query::holds(condition, sim).map_err(|e| e.0)? {
            return Ok(true);
        }
        let next = sim.next_event_time();
        if next.is_none_or(|t| t.as_micros() > deadline || t > sim.end_time()) {
            return Ok(false);
        }
        sim.step();
    }
}

/// Runs `us` of simulated time (not past the scenario's end).
pub fn run_for(sim: &mut Simulation, us: u64) {
    let until = SimTime::from_micros(sim.world().now().as_micros().saturating_add(us));
    sim.run_until(until.min(sim.end_time()));
}

/// Applies a step's actions and runs it to its checkpoint.
pub fn enter_step(sim: &mut Simulation, lesson: &Lesson, index: usize) -> Result<(), String> {
    let step = &lesson.steps[index];
    apply_actions(sim, &step.actions)?;
    match &step.advance {
        Advance::Stay => {}
        Advance::For(us) => run_for(sim, *us),
        Advance::Until {
            text,
            condition,
            timeout_us,
        } => {
            if !run_until(sim, condition, *timeout_us)? {
                return Err(format!(
                    "`until = \"{text}\"` did not hold within {}",
                    crate::kernel::format_duration(*timeout_us)
                ));
            }
        }
    }
    Ok(())
}

/// Whether `input` (what the learner typed) is the right answer; `Err` when it cannot be read
/// as an answer of this kind (say what to type instead).
pub fn judge(predict: &Predict, answer: &Value, input: &str) -> Result<bool, String> {
    let input = input.trim();
    let number = |text: &str, what: &str| -> Result<i64, String> {
        text.parse::<i64>()
            .map_err(|_| format!("type {what}, e.g. `{answer}`"))
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

/// Plays `lesson` on `scenario` headless: each step's actions and run; each prediction
/// answered from its query (after checking a wrong answer is refused); each task done by its
/// solution, which must make `until` hold within `within`. The first step that cannot
/// complete is an error naming it.
pub fn auto_play(lesson: &Lesson, scenario: Arc<Scenario>) -> Result<Vec<StepOutcome>, String> {
    let mut sim = Simulation::new(scenario, lesson.seed);
    let mut outcomes = Vec::new();
    for (i, step) in lesson.steps.iter().enumerate() {
        let fail = |e: String| format!("step {} (`{}`): {e}", i + 1, step.title);
        enter_step(&mut sim, lesson, i).map_err(fail)?;
        let time_us = sim.world().now().as_micros();
        let mut answered = None;
        match &step.checkpoint {
            Checkpoint::Observe => {}
            Checkpoint::Predict(p) => {
                let answer = expected_answer(p, &sim).map_err(fail)?;
                let wrong = wrong_answer(p, &answer);
                if judge(p, &answer, &wrong) != Ok(false) {
                    return Err(fail(format!("the wrong answer `{wrong}` was not refused")));
                }
                let right = answer.to_string();
                if judge(p, &answer, &right) != Ok(true) {
                    return Err(fail(format!("the right answer `{right}` was refused")));
                }
                answered = Some((right, wrong));
                run_for(&mut sim, p.then_us);
            }
            Checkpoint::Do(task) => {
                if query::holds(&task.until, &sim).map_err(|e| fail(e.0))? {
                    return Err(fail(format!(
                        "`until = \"{}\"` holds before the learner does anything",
                        task.until_text
                    )));
                }
                apply_actions(&mut sim, &task.solution).map_err(fail)?;
                if !run_until(&mut sim, &task.until, task.within_us).map_err(fail)? {
                    return Err(fail(format!(
                        "the solution did not make `{}` hold within {}",
                        task.until_text,
                        crate::kernel::format_duration(task.within_us)
                    )));
                }
            }
        }
        outcomes.push(StepOutcome {
            title: step.title.clone(),
            checkpoint: step.checkpoint.kind(),
            time_us,
            answered,
        });
    }
    Ok(outcomes)
}
