//! A lesson played in the lab: which step the learner is on, where each step started, and
//! the step's checkpoint — a prediction waiting for an answer, a task waiting for the
//! learner's move, or prose to read.
//!
//! Every step runs on the lab's [`Session`] through the same functions the headless
//! auto-player uses (`kafkalab_sim::lesson::play`), so the learner sees the states `--auto`
//! checked. A step's actions are session commands like the learner's own (saved with `s`,
//! forgotten by going back). Going back to a step rewinds the session to where that step
//! started and plays it again; resuming a lesson at step `k` plays steps before `k` as the
//! auto-player does, which is what a learner who did them would have seen.

use super::progress::LessonProgress;
use super::session::Session;
use kafkalab_sim::lesson::play;
use kafkalab_sim::lesson::query::{self, Value};
use kafkalab_sim::lesson::{AnswerKind, Checkpoint, Lesson};
use std::sync::Arc;

/// Where the current step's checkpoint stands.
#[derive(Clone, Debug, PartialEq)]
pub enum StepState {
    /// The step could not reach its checkpoint (its `until` never held after what the
    /// learner did before it); the reason.
    Stuck(String),
    /// Read and continue.
    Observe,
    /// A question. `expected` is the right answer (computed as of the prediction's `then`)
    /// or why it could not be; `answered` what the learner gave, once right (or revealed).
    Predict {
        expected: Result<Value, String>,
        answered: Option<String>,
    },
    /// A task, done once its `until` held.
    Do { done: bool },
}

/// What the lesson pane says about the learner's last answer or move.
#[derive(Clone, Debug, PartialEq)]
pub enum Feedback {
    /// A wrong answer, or a move that did not complete the task (with the hint).
    Miss(String),
    /// Right, or done: with the why.
    Success(String),
    /// Something to fix before it counts (an answer that is not of the question's kind).
    Note(String),
}

/// A lesson in progress. See the module docs.
#[derive(Debug)]
pub struct LessonRun {
    pub lesson: Arc<Lesson>,
    /// The current step (0-based).
    pub index: usize,
    /// The session step at which each step up to the current one started.
    starts: Vec<u64>,
    pub state: StepState,
    /// Wrong answers and moves at this step.
    pub misses: u32,
    pub feedback: Option<Feedback>,
    /// Done steps and where to resume; `dirty` once it changed and was not saved yet.
    pub progress: LessonProgress,
    pub dirty: bool,
    /// The last step is done and the learner pressed on.
    pub finished: bool,
}

impl LessonRun {
    /// Opens `lesson` on `session` (a fresh run of its scenario) at step `resume`: steps
    /// before it are played as the auto-player plays them. If one cannot complete, the
    /// lesson opens at that step instead.
    pub fn open(
        lesson: Arc<Lesson>,
        session: &mut Session,
        progress: LessonProgress,
        resume: usize,
    ) -> Self {
        let mut run = LessonRun {
            lesson,
            index: 0,
            starts: Vec::new(),
            state: StepState::Observe,
            misses: 0,
            feedback: None,
            progress,
            dirty: false,
            finished: false,
        };
        let resume = resume.min(run.lesson.steps.len().saturating_sub(1));
        for i in 0..resume {
            let start = session.step();
            if play::complete_step(session, &run.lesson, i).is_err() {
                session.rewind(start);
                run.enter(session, i);
                return run;
            }
            run.starts.push(start);
        }
        run.enter(session, resume);
        run
    }

    pub fn step(&self) -> &kafkalab_sim::lesson::Step {
        &self.lesson.steps[self.index]
    }

    pub fn is_last(&self) -> bool {
        self.index + 1 == self.lesson.steps.len()
    }

    /// Plays step `index` from the session as it stands: its actions, its run, its
    /// checkpoint.
    fn enter(&mut self, session: &mut Session, index: usize) {
        self.index = index;
        self.starts.truncate(index);
        self.starts.push(session.step());
        self.misses = 0;
        self.feedback = None;
        self.finished = false;
        self.progress.resume = index;
        self.dirty = true;
        self.state = match play::enter_step(session, &self.lesson, index) {
            Err(e) => StepState::Stuck(e),
            Ok(()) => match &self.step().checkpoint {
                Checkpoint::Observe => StepState::Observe,
                Checkpoint::Predict(p) => StepState::Predict {
                    expected: play::expected_answer(p, session.sim()),
                    answered: None,
                },
                Checkpoint::Do(_) => StepState::Do { done: false },
            },
        };
        if self.state == StepState::Observe {
            self.mark_done();
        }
        // A task already done by the time it is set (the learner did it early) counts.
        self.check(session);
    }

    /// Whether the checkpoint is passed: read, answered, or done.
    pub fn complete(&self) -> bool {
        match &self.state {
            StepState::Observe => true,
            StepState::Predict { answered, .. } => answered.is_some(),
            StepState::Do { done } => *done,
            StepState::Stuck(_) => false,
        }
    }

    fn mark_done(&mut self) {
        self.progress.completed.insert(self.index);
        self.dirty = true;
    }

    /// On to the next step, once this one is complete; `Err` says what is left to do.
    pub fn next(&mut self, session: &mut Session) -> Result<(), String> {
        if !self.complete() {
            return Err(match &self.state {
                StepState::Predict { .. } => {
                    "answer the question first: press a (or v to be shown the answer)"
                }
                StepState::Do { .. } => "do the task first: x to act (or v to be shown how)",
                _ => "this step could not start: r plays it again from its start, < goes back",
            }
            .to_string());
        }
        if self.is_last() {
            self.finished = true;
            return Err("that was the last step: h for the home screen, < to go back".into());
        }
        self.enter(session, self.index + 1);
        Ok(())
    }

    /// Back to the previous step's start (or this step's, on the first).
    pub fn back(&mut self, session: &mut Session) {
        let index = self.index.saturating_sub(1);
        session.rewind(self.starts[index]);
        self.enter(session, index);
    }

    /// This step again, from its start.
    pub fn retry(&mut self, session: &mut Session) {
        session.rewind(self.starts[self.index]);
        self.enter(session, self.index);
    }

    /// The learner's answer to the step's question.
    pub fn answer(&mut self, session: &mut Session, text: &str) {
        let Checkpoint::Predict(p) = &self.step().checkpoint else {
            return;
        };
        let StepState::Predict {
            expected,
            answered: None,
        } = &self.state
        else {
            return;
        };
        let expected = match expected {
            Ok(v) => v.clone(),
            Err(e) => {
                self.feedback = Some(Feedback::Note(format!(
                    "this question cannot be judged here: {e}; v shows what happens"
                )));
                return;
            }
        };
        let text = text.trim();
        match play::judge(p, &expected, text) {
            Ok(true) => self.accept(session, text.to_string(), "Right.".to_string()),
            Ok(false) => {
                self.misses += 1;
                self.feedback = Some(Feedback::Miss(format!(
                    "Not {text}. Look again at the panes and try again (a), or v to be shown."
                )));
            }
            Err(what) => self.feedback = Some(Feedback::Note(format!("`{text}`: {what}"))),
        }
    }

    /// The question is answered (`given`, right or revealed): the run goes on for the
    /// prediction's `then`, and the feedback is `opening` and the lesson's why.
    fn accept(&mut self, session: &mut Session, given: String, opening: String) {
        let Checkpoint::Predict(p) = &self.step().checkpoint else {
            return;
        };
        let (why, then) = (p.why.clone(), p.then_us);
        if let StepState::Predict { answered, .. } = &mut self.state {
            *answered = Some(given);
        }
        self.mark_done();
        play::run_for(session, then);
        self.feedback = Some(Feedback::Success(format!("{opening} {why}")));
    }

    /// Shows the answer (a prediction) or does the task (a do), as `--auto` would.
    pub fn reveal(&mut self, session: &mut Session) {
        if self.complete() {
            return;
        }
        match (&self.step().checkpoint, &self.state) {
            (Checkpoint::Predict(_), StepState::Predict { expected, .. }) => {
                let shown = match expected {
                    Ok(v) => v.to_string(),
                    Err(e) => format!("(unknown: {e})"),
                };
                let opening = format!("The answer: {shown}.");
                self.accept(session, shown, opening);
            }
            (Checkpoint::Do(task), StepState::Do { .. }) => {
                let task = task.clone();
                match play::solve_task(session, &task) {
                    Ok(()) => self.finish_task(),
                    Err(e) => {
                        self.feedback = Some(Feedback::Note(format!(
                            "the lesson's own solution did not work from here ({e}): r plays \
                             the step again from its start"
                        )))
                    }
                }
            }
            _ => {}
        }
    }

    /// After the learner acted (the fault menu) during a task: if the run, left to itself,
    /// completes the task within its `within`, run it there; if not, give the hint and leave
    /// the run where it is, so a task of several moves (crash two brokers) can go on. Which
    /// it is comes from running ahead on a copy, as a prediction's answer does.
    pub fn after_move(&mut self, session: &mut Session) {
        let (Checkpoint::Do(task), StepState::Do { done: false }) =
            (&self.step().checkpoint, &self.state)
        else {
            return;
        };
        let (until, within, hint) = (task.until.clone(), task.within_us, task.hint.clone());
        let mut ahead = session.sim().clone();
        match play::run_until(&mut ahead, &until, within) {
            Ok(true) => match play::run_until(session, &until, within) {
                Ok(true) => self.finish_task(),
                // The session steps as the copy did; this is only a safeguard.
                Ok(false) | Err(_) => self.check(session),
            },
            Ok(false) => {
                self.misses += 1;
                self.feedback = Some(Feedback::Miss(format!(
                    "Not done yet. Hint: {hint} (r plays the step again from its start)"
                )));
            }
            Err(e) => self.feedback = Some(Feedback::Note(e)),
        }
    }

    /// After the run moved (stepping, playing): a task whose condition now holds is done.
    pub fn check(&mut self, session: &Session) {
        if let (Checkpoint::Do(task), StepState::Do { done: false }) =
            (&self.step().checkpoint, &self.state)
            && query::holds(&task.until, session.sim()).unwrap_or(false)
        {
            self.finish_task();
        }
    }

    fn finish_task(&mut self) {
        self.state = StepState::Do { done: true };
        self.mark_done();
        self.feedback = Some(Feedback::Success("Done.".to_string()));
    }

    /// How to type an answer to the current question.
    pub fn answer_prompt(&self) -> String {
        let Checkpoint::Predict(p) = &self.step().checkpoint else {
            return String::new();
        };
        match p.kind {
            AnswerKind::Number => "your answer (a whole number)".to_string(),
            AnswerKind::Broker => "your answer (a broker id: 2, b2 or broker-2)".to_string(),
            AnswerKind::Partition => "your answer (a partition: 1 or orders-1)".to_string(),
            AnswerKind::YesNo => "your answer (yes or no)".to_string(),
            AnswerKind::Choice => "your answer (a choice, or its number)".to_string(),
        }
    }

    /// Where the session stood when step `i` started (for tests).
    pub fn start_of(&self, i: usize) -> Option<u64> {
        self.starts.get(i).copied()
    }
}
