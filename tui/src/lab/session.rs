//! The lab's run: a scenario and seed, the learner's own commands, and a position in time
//! that moves forward and back.
//!
//! Why not just keep a `Simulation` and step it: the lab steps *back*, and a learner may act
//! at an earlier step, which branches the run. A run is a pure function of (scenario, seed,
//! command log), so any step is reachable by replaying; snapshots (plain `Clone`s) every
//! [`SNAPSHOT_EVERY`] steps make that cheap — going to step `n` clones the nearest snapshot
//! at or before `n` and replays fewer than `SNAPSHOT_EVERY` steps (DESIGN §2).
//!
//! Branching truncates the command log at the branch step, drops the snapshots after it and
//! appends the new command. A snapshot taken before a command existed does not carry it, so
//! each snapshot records how many commands of the log it has scheduled, and restoring one
//! schedules the rest.

use kafkalab_sim::Simulation;
use kafkalab_sim::kernel::At;
use kafkalab_sim::lesson::play::Player;
use kafkalab_sim::scenario::{Action, Scenario};
use kafkalab_sim::simulation::ActionError;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Steps between snapshots: a step back replays at most this many steps minus one.
pub const SNAPSHOT_EVERY: u64 = 1_000;

/// A learner's command: applied as step `step` of the run.
#[derive(Clone, Debug, PartialEq)]
pub struct UserCommand {
    pub step: u64,
    pub action: Action,
}

/// A snapshot and how many commands of the log it has already scheduled.
#[derive(Clone, Debug)]
struct Snapshot {
    sim: Simulation,
    scheduled: usize,
}

/// A run the learner moves through. See the module docs.
#[derive(Debug)]
pub struct Session {
    scenario: Arc<Scenario>,
    seed: u64,
    current: Simulation,
    /// How many commands of `commands` `current` has scheduled.
    scheduled: usize,
    snapshots: BTreeMap<u64, Snapshot>,
    commands: Vec<UserCommand>,
    /// The furthest step this branch of the run has reached.
    horizon: u64,
}

impl Session {
    pub fn new(scenario: Arc<Scenario>, seed: u64) -> Self {
        let current = Simulation::new(scenario.clone(), seed);
        let mut snapshots = BTreeMap::new();
        snapshots.insert(
            0,
            Snapshot {
                sim: current.clone(),
                scheduled: 0,
            },
        );
        Session {
            scenario,
            seed,
            current,
            scheduled: 0,
            snapshots,
            commands: Vec::new(),
            horizon: 0,
        }
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The simulation at the current step (read it; change it only through the session).
    pub fn sim(&self) -> &Simulation {
        &self.current
    }

    /// Steps applied so far.
    pub fn step(&self) -> u64 {
        self.current.world().steps()
    }

    /// The furthest step reached on this branch.
    pub fn horizon(&self) -> u64 {
        self.horizon
    }

    /// The learner's commands, in step order.
    pub fn commands(&self) -> &[UserCommand] {
        &self.commands
    }

    /// Whether the learner changed the run: it is no longer the scenario as written.
    pub fn diverged(&self) -> bool {
        !self.commands.is_empty()
    }

    /// Whether another step exists before the scenario's end.
    pub fn at_end(&mut self) -> bool {
        let end = self.current.end_time();
        self.current.next_event_time().is_none_or(|t| t > end)
    }

    /// One step forward; false at the scenario's end.
    pub fn forward(&mut self) -> bool {
        if self.at_end() {
            return false;
        }
        self.current.step();
        let step = self.step();
        self.horizon = self.horizon.max(step);
        if step % SNAPSHOT_EVERY == 0 && !self.snapshots.contains_key(&step) {
            self.snapshots.insert(
                step,
                Snapshot {
                    sim: self.current.clone(),
                    scheduled: self.scheduled,
                },
            );
        }
        true
    }

    /// Steps forward until `done` holds after a step or the run ends (at most `max` steps);
    /// true if `done` held.
    pub fn forward_until(&mut self, max: u64, mut done: impl FnMut(&Simulation) -> bool) -> bool {
        for _ in 0..max {
            if !self.forward() {
                return false;
            }
            if done(&self.current) {
                return true;
            }
        }
        false
    }

    /// One step back; false at step 0.
    pub fn back(&mut self) -> bool {
        let step = self.step();
        if step == 0 {
            return false;
        }
        self.goto(step - 1);
        true
    }

    /// Moves to step `target` (or the run's last step, if it ends sooner).
    pub fn goto(&mut self, target: u64) {
        if target < self.step() || self.nearest_snapshot(target) > self.step() {
            self.restore(target);
        }
        while self.step() < target {
            if !self.forward() {
                break;
            }
        }
    }

    /// The step of the nearest snapshot at or before `target`.
    fn nearest_snapshot(&self, target: u64) -> u64 {
        self.snapshots
            .range(..=target)
            .next_back()
            .map_or(0, |(step, _)| *step)
    }

    /// `current` := the nearest snapshot at or before `target`, with the commands it has not
    /// scheduled yet scheduled.
    fn restore(&mut self, target: u64) {
        let Some((_, snapshot)) = self.snapshots.range(..=target).next_back() else {
            return;
        };
        self.current = snapshot.sim.clone();
        self.scheduled = snapshot.scheduled;
        self.schedule_pending();
    }

    fn schedule_pending(&mut self) {
        while let Some(command) = self.commands.get(self.scheduled) {
            // Validated when the learner gave it; scheduling it again cannot fail.
            let _ = self
                .current
                .schedule(At::Step(command.step), command.action.clone());
            self.scheduled += 1;
        }
    }

    /// Applies `action` at the current step. If the run had gone further (or had commands
    /// later on), this branches: the later commands and snapshots are forgotten.
    pub fn apply(&mut self, action: Action) -> Result<(), ActionError> {
        let step = self.step();
        // Check it against the run as it stands before changing anything.
        let mut probe = self.current.clone();
        probe.schedule(At::Step(step), action.clone())?;
        self.commands.retain(|c| c.step <= step);
        self.snapshots.split_off(&(step + 1));
        self.commands.push(UserCommand { step, action });
        self.current = probe;
        self.scheduled = self.commands.len();
        // A snapshot at this very step predates the command and stays as it is: restoring
        // it schedules the command again (and `rewind` may still need it without).
        self.horizon = step;
        Ok(())
    }

    /// Goes back to step `step` and forgets every command given at or after it: the run as
    /// it was when the learner first reached that step (a lesson's "back to the step's
    /// start"). Snapshots that carry a forgotten command go too.
    pub fn rewind(&mut self, step: u64) {
        self.commands.retain(|c| c.step < step);
        let keep = self.commands.len();
        self.snapshots.retain(|_, s| s.scheduled <= keep);
        self.restore(step);
        while self.step() < step {
            if !self.forward() {
                break;
            }
        }
        self.horizon = self.step();
    }

    /// How many snapshots are kept (for tests and the benchmark).
    pub fn snapshot_count(&self) -> usize {
        self.snapshots.len()
    }
}

/// A lesson plays on the session as the auto-player plays on a bare simulation: the same
/// steps, so the lab reaches the states `--auto` checked. Its actions are the learner's
/// commands (saved with the session, undone by stepping back past them).
impl Player for Session {
    fn sim(&self) -> &Simulation {
        &self.current
    }

    fn act(&mut self, action: Action) -> Result<(), String> {
        self.apply(action).map_err(|e| e.0)
    }

    fn next_time(&mut self) -> Option<u64> {
        if self.at_end() {
            return None;
        }
        self.current.next_event_time().map(|t| t.as_micros())
    }

    fn step_once(&mut self) {
        self.forward();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(name: &str, seed: u64) -> Session {
        let scenario = match kafkalab_sim::scenario::load_builtin(name) {
            Some(Ok(s)) => Arc::new(s),
            other => panic!("{name}: {other:?}"),
        };
        Session::new(scenario, seed)
    }

    #[test]
    fn stepping_back_and_forth_reaches_the_same_states_as_a_straight_run() {
        let mut s = session("leader-failure", 1);
        let mut hashes = Vec::new();
        for _ in 0..2_500 {
            assert!(s.forward());
            hashes.push(s.sim().world().trace_hash());
        }
        for target in [2_499, 1_000, 999, 1, 2_000, 1_500] {
            s.goto(target);
            assert_eq!(s.step(), target);
            assert_eq!(
                s.sim().world().trace_hash(),
                hashes[target as usize - 1],
                "step {target}"
            );
        }
        assert!(s.back());
        assert_eq!(s.step(), 1_499);
        assert_eq!(s.sim().world().trace_hash(), hashes[1_498]);
    }

    #[test]
    fn a_command_at_an_earlier_step_branches_and_survives_going_back_past_it() {
        let mut s = session("leader-failure", 7);
        s.goto(3_500);
        s.goto(1_200);
        s.apply(Action::Crash {
            node: "broker-1".to_string(),
        })
        .expect("a valid action");
        assert!(s.diverged());
        assert_eq!(s.horizon(), 1_200);
        s.goto(2_600);
        let branched = s.sim().world().trace_hash();
        // Back before the command (from the snapshot at 1,000, which predates it), then
        // forward again: the command is applied again, at the same step.
        s.goto(1_100);
        s.goto(2_600);
        assert_eq!(s.sim().world().trace_hash(), branched);
        // From the very start too.
        s.goto(0);
        s.goto(2_600);
        assert_eq!(s.sim().world().trace_hash(), branched);
        // An unknown node is refused and changes nothing.
        let err = s
            .apply(Action::Crash {
                node: "broker-9".to_string(),
            })
            .expect_err("no broker-9");
        assert!(err.0.contains("unknown node `broker-9`"), "{}", err.0);
        assert_eq!(s.commands().len(), 1);
    }

    #[test]
    fn branching_again_earlier_forgets_the_later_command() {
        let mut s = session("leader-failure", 7);
        s.goto(2_000);
        s.apply(Action::Crash {
            node: "broker-1".to_string(),
        })
        .expect("valid");
        s.goto(500);
        s.apply(Action::Pause {
            node: "consumer-1".to_string(),
        })
        .expect("valid");
        assert_eq!(s.commands().len(), 1);
        assert_eq!(s.commands()[0].step, 500);
    }

    #[test]
    fn rewinding_forgets_the_commands_from_that_step_on_and_replays_the_same_states() {
        let mut s = session("leader-failure", 3);
        s.goto(1_500);
        let before = s.sim().world().trace_hash();
        s.apply(Action::Crash {
            node: "broker-2".to_string(),
        })
        .expect("valid");
        s.goto(2_700);
        s.apply(Action::Pause {
            node: "consumer-1".to_string(),
        })
        .expect("valid");
        s.goto(3_200);
        // Back to 2,700: the pause is forgotten, the crash (at 1,500) kept.
        s.rewind(2_700);
        assert_eq!(s.step(), 2_700);
        assert_eq!(s.commands().len(), 1);
        assert_eq!(s.commands()[0].step, 1_500);
        // Back to 1,500: the crash too; the state is the one before it, whatever path.
        s.rewind(1_500);
        assert!(s.commands().is_empty());
        assert_eq!(s.sim().world().trace_hash(), before);
        s.goto(2_100);
        let mut straight = session("leader-failure", 3);
        straight.goto(2_100);
        assert_eq!(
            s.sim().world().trace_hash(),
            straight.sim().world().trace_hash()
        );
    }
}
