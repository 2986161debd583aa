//! The timeline: step back to any earlier step, fast.
//!
//! A run is a pure function of its inputs, so any step can be reached by replaying from the
//! start; the timeline makes that cheap by keeping a snapshot (a plain `Clone`) every `every`
//! steps. Going to step `n` restores the nearest snapshot at or before `n` and replays at most
//! `every - 1` steps. Branching (a new command at an earlier step) truncates the snapshots
//! after the branch point, since the future they describe no longer happens.

use std::collections::BTreeMap;

/// Something that advances one step at a time and knows how many it has taken.
pub trait Steppable: Clone {
    fn steps_taken(&self) -> u64;
    /// Applies one step; false when nothing is left to do.
    fn advance(&mut self) -> bool;
}

impl<A: super::node::Actor> Steppable for super::world::World<A> {
    fn steps_taken(&self) -> u64 {
        self.steps()
    }
    fn advance(&mut self) -> bool {
        self.step().is_some()
    }
}

/// Snapshots of a run every `every` steps.
#[derive(Clone, Debug)]
pub struct Timeline<S: Steppable> {
    every: u64,
    snapshots: BTreeMap<u64, S>,
}

impl<S: Steppable> Timeline<S> {
    /// A timeline starting from `start`, snapshotting every `every` steps (at least 1).
    pub fn new(start: &S, every: u64) -> Self {
        let mut snapshots = BTreeMap::new();
        snapshots.insert(start.steps_taken(), start.clone());
        Timeline {
            every: every.max(1),
            snapshots,
        }
    }

    pub fn every(&self) -> u64 {
        self.every
    }

    pub fn snapshot_count(&self) -> usize {
        self.snapshots.len()
    }

    /// Records `current` if it sits on a snapshot boundary. Call after every step.
    pub fn observe(&mut self, current: &S) {
        let step = current.steps_taken();
        if step % self.every == 0 && !self.snapshots.contains_key(&step) {
            self.snapshots.insert(step, current.clone());
        }
    }

    /// Advances `current` by one step and records it.
    pub fn step(&mut self, current: &mut S) -> bool {
        let moved = current.advance();
        self.observe(current);
        moved
    }

    /// The state at step `target` (or the last reachable step before it if the run ends
    /// sooner), rebuilt from the nearest snapshot.
    pub fn state_at(&mut self, target: u64) -> Option<S> {
        let (_, base) = self.snapshots.range(..=target).next_back()?;
        let mut state = base.clone();
        while state.steps_taken() < target {
            if !state.advance() {
                break;
            }
            self.observe(&state);
        }
        Some(state)
    }

    /// Forgets every snapshot after `step`: the run is about to branch there.
    pub fn truncate_after(&mut self, step: u64) {
        self.snapshots.split_off(&(step + 1));
    }
}
