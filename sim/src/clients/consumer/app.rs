//! The consumer application: a poll loop that processes each record for a fixed time and
//! commits according to its delivery semantic.
//!
//! - `auto-commit` (the default): process, poll again; `enable.auto.commit` commits the
//!   positions every `auto.commit.interval.ms` inside `poll()` — so a commit covers only
//!   records returned by *earlier* polls, and a crash re-delivers the rest (at-least-once).
//! - `commit-before-process` (at-most-once): `commitSync()` right after `poll()`, then
//!   process. A crash mid-batch loses the rest of the batch.
//! - `process-then-commit` (at-least-once): process the whole batch, then `commitSync()`.
//!   A crash mid-batch re-delivers what was already processed.
//!
//! Every processed record is a `processed` note; the history counts records processed twice
//! and records never processed.

use super::{Consumer, ConsumerOut};
use crate::node::{Note, Timer};
use crate::protocol::TopicPartition;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;

/// When the application commits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Semantics {
    #[default]
    AutoCommit,
    CommitBeforeProcess,
    ProcessThenCommit,
}

impl Semantics {
    pub const NAMES: &'static [&'static str] = &[
        "auto-commit",
        "commit-before-process",
        "process-then-commit",
    ];

    pub fn name(self) -> &'static str {
        match self {
            Semantics::AutoCommit => "auto-commit",
            Semantics::CommitBeforeProcess => "commit-before-process",
            Semantics::ProcessThenCommit => "process-then-commit",
        }
    }

    pub fn parse(s: &str) -> Option<Semantics> {
        match s {
            "auto-commit" => Some(Semantics::AutoCommit),
            "commit-before-process" => Some(Semantics::CommitBeforeProcess),
            "process-then-commit" => Some(Semantics::ProcessThenCommit),
            _ => None,
        }
    }

    /// Whether the application commits by itself (and so turns auto-commit off by default).
    pub fn commits_manually(self) -> bool {
        self != Semantics::AutoCommit
    }
}

/// How the application behaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AppConfig {
    pub semantics: Semantics,
    /// Time spent on each record.
    pub processing_time_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
enum Phase {
    /// Inside `poll()`, waiting for records.
    Polling,
    /// Processing the batch a poll returned.
    Processing,
    /// Blocked in `commitSync()` before processing (at-most-once).
    CommittingBefore,
    /// Blocked in `commitSync()` after processing (at-least-once).
    CommittingAfter,
}

#[derive(Clone, Debug, Serialize)]
pub(super) struct App {
    config: AppConfig,
    phase: Phase,
    batch: VecDeque<(TopicPartition, i64, Option<Arc<str>>)>,
}

impl App {
    pub(super) fn new(config: AppConfig) -> Self {
        App {
            config,
            phase: Phase::Polling,
            batch: VecDeque::new(),
        }
    }

    pub(super) fn reset(&mut self) {
        *self = App::new(self.config);
    }

    pub(super) fn in_poll(&self) -> bool {
        self.phase == Phase::Polling
    }
}

impl Consumer {
    /// The application is in `poll()`: run the group's part of poll, then return records if
    /// any are buffered. Called whenever something may have changed.
    pub(super) fn app_poll(&mut self, out: ConsumerOut) {
        if !self.app.in_poll() {
            return;
        }
        out.cancel_timer(Timer::PollTimeout);
        self.group_poll(out);
        let records = self.take_records(out);
        if records.is_empty() {
            return;
        }
        // Leaving poll(): max.poll.interval.ms runs until the next call.
        if self.group.as_ref().is_some_and(|g| g.subscribed) {
            out.set_timer_ms(Timer::PollTimeout, self.config.max_poll_interval_ms);
        }
        self.app.batch = records.into();
        match self.app.config.semantics {
            Semantics::CommitBeforeProcess => {
                self.app.phase = Phase::CommittingBefore;
                let offsets = self.all_consumed();
                self.commit(offsets, super::group::Purpose::App, out);
            }
            Semantics::ProcessThenCommit | Semantics::AutoCommit => {
                self.app.phase = Phase::Processing;
                self.process_next(out);
            }
        }
    }

    fn process_next(&mut self, out: ConsumerOut) {
        loop {
            if self.app.batch.is_empty() {
                return self.batch_done(out);
            }
            if self.app.config.processing_time_ms > 0 {
                out.set_timer_ms(Timer::ProcessRecord, self.app.config.processing_time_ms);
                return;
            }
            self.process_one(out);
        }
    }

    fn process_one(&mut self, out: ConsumerOut) {
        if let Some((tp, offset, value)) = self.app.batch.pop_front() {
            out.note(Note::Processed { tp, offset, value });
        }
    }

    fn batch_done(&mut self, out: ConsumerOut) {
        if self.app.config.semantics == Semantics::ProcessThenCommit {
            self.app.phase = Phase::CommittingAfter;
            let offsets = self.all_consumed();
            self.commit(offsets, super::group::Purpose::App, out);
        } else {
            self.app.phase = Phase::Polling;
            self.app_poll(out);
        }
    }

    /// The application's `commitSync()` returned (successfully or with an exception, which
    /// the application logs and carries on from).
    pub(super) fn app_commit_done(&mut self, out: ConsumerOut) {
        match self.app.phase {
            Phase::CommittingBefore => {
                self.app.phase = Phase::Processing;
                self.process_next(out);
            }
            Phase::CommittingAfter => {
                self.app.phase = Phase::Polling;
                self.app_poll(out);
            }
            Phase::Polling | Phase::Processing => {}
        }
    }

    pub(super) fn app_timer(&mut self, timer: Timer, out: ConsumerOut) {
        match timer {
            Timer::ProcessRecord if self.app.phase == Phase::Processing => {
                self.process_one(out);
                self.process_next(out);
            }
            Timer::AutoCommit => self.app_poll(out),
            _ => {}
        }
    }
}
