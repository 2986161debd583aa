//! The leader-epoch cache: which leader epoch wrote which range of the log.
//!
//! Models Kafka's `LeaderEpochFileCache` (`org.apache.kafka.storage.internals.epoch`), the
//! in-memory side of each partition's `leader-epoch-checkpoint` file. It exists because the
//! high watermark alone cannot tell a follower how much of its log to keep after a leader
//! change: truncating to the HW loses committed data when the HW lagged (KIP-101), and a
//! follower that merely compares offsets can keep a tail written by a deposed leader, so the
//! replicas diverge (KIP-279). Instead, each replica records the first offset of every epoch,
//! and a follower asks the leader "where does my latest epoch end in your log?"
//! (`OffsetsForLeaderEpoch`, or the `DivergingEpoch` of a fetch response) and truncates to the
//! answer, [`LeaderEpochCache::end_offset_for`].
//!
//! The cache is a list of [`EpochEntry`]s whose epochs and start offsets both strictly
//! increase. Appends add entries ([`LeaderEpochCache::assign`]), log truncation removes them
//! from the end ([`LeaderEpochCache::truncate_from_end`]) and retention or `DeleteRecords`
//! trims them from the start ([`LeaderEpochCache::truncate_from_start`]).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Kafka's `UNDEFINED_EPOCH`: no epoch is known.
pub const UNDEFINED_EPOCH: i32 = -1;

/// Kafka's `UNDEFINED_EPOCH_OFFSET`: no end offset is known.
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

/// One leader epoch and the first offset written in it (Kafka's `EpochEntry`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

/// Kafka's `LeaderEpochFileCache`: the start offset of each leader epoch in one replica's log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<EpochEntry>", into = "Vec<EpochEntry>")]
pub struct LeaderEpochCache {
    /// Epochs and start offsets both strictly increasing, all non-negative.
    entries: Vec<EpochEntry>,
}

/// Why a list of entries is not a valid cache (a snapshot is input too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidEpochEntries(String);

impl fmt::Display for InvalidEpochEntries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidEpochEntries {}

impl TryFrom<Vec<EpochEntry>> for LeaderEpochCache {
    type Error = InvalidEpochEntries;

    fn try_from(entries: Vec<EpochEntry>) -> Result<Self, Self::Error> {
        if let Some(bad) = entries.iter().find(|e| e.epoch < 0 || e.start_offset < 0) {
            return Err(InvalidEpochEntries(format!("negative epoch entry {bad:?}")));
        }
        let increasing = entries
            .windows(2)
            .all(|w| w[0].epoch < w[1].epoch && w[0].start_offset < w[1].start_offset);
        if !increasing {
            return Err(InvalidEpochEntries(
                "epoch entries must strictly increase in epoch and start offset".to_string(),
            ));
        }
        Ok(Self { entries })
    }
}

impl From<LeaderEpochCache> for Vec<EpochEntry> {
    fn from(cache: LeaderEpochCache) -> Self {
        cache.entries
    }
}

// Queries.
impl LeaderEpochCache {
    /// An empty cache (a new log, or one just truncated fully).
    pub fn new() -> Self {
        Self::default()
    }

    /// All entries, oldest epoch first.
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Kafka's `earliestEntry`.
    pub fn earliest(&self) -> Option<EpochEntry> {
        self.entries.first().copied()
    }

    /// Kafka's `latestEntry`.
    pub fn latest(&self) -> Option<EpochEntry> {
        self.entries.last().copied()
    }

    /// Kafka's `latestEpoch`.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.latest().map(|e| e.epoch)
    }

    /// The start offset of exactly `epoch`, if this log has it (Kafka's `epochEntry`).
    pub fn start_offset_for(&self, epoch: i32) -> Option<i64> {
        self.entries
            .iter()
            .find(|e| e.epoch == epoch)
            .map(|e| e.start_offset)
    }

    /// Kafka's `epochForOffset`: the epoch that wrote `offset`, i.e. that of the last entry
    /// starting at or below it. `None` below the first entry.
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        let index = self.entries.partition_point(|e| e.start_offset <= offset);
        index.checked_sub(1).map(|i| self.entries[i].epoch)
    }

    /// Kafka's `endOffsetFor`, the leader's answer to `OffsetsForLeaderEpoch`: the largest
    /// epoch <= `requested_epoch` this log has, and the offset where it ends (the start of
    /// the next larger epoch, or `log_end_offset` for the latest one). A follower truncates
    /// its log to that offset.
    ///
    /// Returns `(UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)` when the requested epoch is
    /// undefined or no epoch above it is known (the requester is ahead of this log). When
    /// this log has no epoch <= `requested_epoch` at all, the answer keeps the requested
    /// epoch and ends it where this log's first larger epoch starts.
    pub fn end_offset_for(&self, requested_epoch: i32, log_end_offset: i64) -> (i32, i64) {
        if requested_epoch == UNDEFINED_EPOCH {
            return (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        }
        if self.latest_epoch() == Some(requested_epoch) {
            return (requested_epoch, log_end_offset);
        }
        let higher = self.entries.partition_point(|e| e.epoch <= requested_epoch);
        let Some(next) = self.entries.get(higher) else {
            return (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        };
        match higher.checked_sub(1).map(|i| self.entries[i]) {
            Some(floor) => (floor.epoch, next.start_offset),
            None => (requested_epoch, next.start_offset),
        }
    }
}

// Mutations.
impl LeaderEpochCache {
    /// Kafka's `assign`: records that `epoch` starts at `start_offset`. Returns whether the
    /// cache changed.
    ///
    /// A repeat of the latest epoch is ignored unless it starts earlier (then it replaces the
    /// entry's start). Otherwise every entry that would break the ordering, with an epoch >=
    /// `epoch` or a start offset >= `start_offset`, is removed first (Kafka's
    /// `maybeTruncateNonMonotonicEntries`); those entries form a suffix of the list.
    // Simplification: Kafka throws on a negative epoch or offset; callers here skip them
    // (batches from before leader epochs existed), so the cache ignores them too.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 || start_offset < 0 {
            return false;
        }
        if self
            .latest()
            .is_some_and(|l| l.epoch == epoch && l.start_offset <= start_offset)
        {
            return false;
        }
        self.entries
            .retain(|e| e.epoch < epoch && e.start_offset < start_offset);
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        true
    }

    /// Kafka's `truncateFromEnd`: the log was truncated to `end_offset`, so the epochs that
    /// start at or above it are gone.
    pub fn truncate_from_end(&mut self, end_offset: i64) {
        if end_offset < 0 {
            return;
        }
        self.entries.retain(|e| e.start_offset < end_offset);
    }

    /// Kafka's `truncateFromStart`: the log start offset moved up to `start_offset`
    /// (retention or `DeleteRecords`). Entries wholly below it are removed; the epoch that
    /// covers `start_offset` stays, now starting there.
    pub fn truncate_from_start(&mut self, start_offset: i64) {
        let at_or_below = self
            .entries
            .partition_point(|e| e.start_offset <= start_offset);
        let Some(covering) = at_or_below.checked_sub(1) else {
            return;
        };
        self.entries.drain(..covering);
        self.entries[0].start_offset = start_offset;
    }

    /// Kafka's `clearAndFlush`: forget every epoch (the log was deleted and restarted).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assigned(assigns: &[(i32, i64)]) -> LeaderEpochCache {
        let mut cache = LeaderEpochCache::new();
        for &(epoch, start_offset) in assigns {
            cache.assign(epoch, start_offset);
        }
        cache
    }

    fn pairs(cache: &LeaderEpochCache) -> Vec<(i32, i64)> {
        cache
            .entries()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect()
    }

    // Vectors from Kafka's LeaderEpochFileCacheTest.

    #[test]
    fn end_offset_for_an_epoch_between_entries_ends_at_the_next_epoch() {
        let cache = assigned(&[(0, 10), (2, 13), (4, 17)]);
        assert_eq!(cache.end_offset_for(1, 20), (0, 13));
        assert_eq!(cache.end_offset_for(2, 20), (2, 17));
        assert_eq!(cache.end_offset_for(3, 20), (2, 17));
        assert_eq!(cache.end_offset_for(0, 20), (0, 13));
    }

    #[test]
    fn end_offset_for_an_epoch_below_every_entry_keeps_the_requested_epoch() {
        let cache = assigned(&[(5, 11), (6, 12), (7, 13)]);
        assert_eq!(cache.end_offset_for(4, 20), (4, 11));
    }

    #[test]
    fn repeated_epochs_with_later_offsets_are_ignored() {
        let mut cache = LeaderEpochCache::new();
        let changed: Vec<bool> = [(1, 11), (1, 12), (2, 13), (2, 14), (3, 15), (3, 16)]
            .into_iter()
            .map(|(epoch, offset)| cache.assign(epoch, offset))
            .collect();
        assert_eq!(changed, [true, false, true, false, true, false]);
        assert_eq!(pairs(&cache), [(1, 11), (2, 13), (3, 15)]);
        assert_eq!(cache.end_offset_for(2, 17), (2, 15));
    }

    #[test]
    fn end_offset_for_an_epoch_above_the_latest_is_undefined() {
        let cache = assigned(&[(2, 100)]);
        assert_eq!(
            cache.end_offset_for(3, 200),
            (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
        );
    }

    #[test]
    fn end_offset_for_on_an_empty_cache_is_undefined() {
        let cache = LeaderEpochCache::new();
        assert_eq!(cache.end_offset_for(0, 0), (-1, -1));
        assert_eq!(cache.latest_epoch(), None);
        assert_eq!(cache.earliest(), None);
    }

    #[test]
    fn end_offset_for_the_undefined_epoch_is_undefined() {
        let cache = assigned(&[(0, 0), (1, 5)]);
        assert_eq!(cache.end_offset_for(UNDEFINED_EPOCH, 10), (-1, -1));
    }

    #[test]
    fn end_offset_for_the_latest_epoch_is_the_log_end_offset() {
        let cache = assigned(&[(2, 10)]);
        assert_eq!(cache.end_offset_for(2, 11), (2, 11));
    }

    #[test]
    fn an_earlier_start_for_the_latest_epoch_replaces_it_and_a_later_one_does_not() {
        let mut cache = assigned(&[(2, 6)]);
        assert!(!cache.assign(2, 10));
        assert_eq!(pairs(&cache), [(2, 6)]);
        assert!(cache.assign(2, 4));
        assert_eq!(pairs(&cache), [(2, 4)]);
    }

    // KIP-279 and KIP-101 scenarios.

    #[test]
    fn kip_279_a_follower_in_a_skipped_epoch_truncates_to_where_the_next_starts() {
        // The leader wrote epoch 1 at [0, 2) and epoch 3 from 2; epoch 2 never wrote here.
        let cache = assigned(&[(1, 0), (3, 2)]);
        assert_eq!(cache.end_offset_for(2, 5), (1, 2));
    }

    #[test]
    fn kip_101_scenario_b_epoch_0_ends_where_epoch_1_starts() {
        let cache = assigned(&[(0, 0), (1, 1)]);
        assert_eq!(cache.end_offset_for(0, 2), (0, 1));
    }

    // Mutations.

    #[test]
    fn assign_removes_entries_that_conflict_with_the_new_one() {
        let mut cache = assigned(&[(0, 0), (1, 5), (2, 9)]);
        assert!(cache.assign(1, 7));
        assert_eq!(pairs(&cache), [(0, 0), (1, 7)]);
        // A larger epoch starting below existing entries drops them by offset.
        let mut cache = assigned(&[(0, 0), (1, 5), (2, 9)]);
        assert!(cache.assign(5, 6));
        assert_eq!(pairs(&cache), [(0, 0), (1, 5), (5, 6)]);
        // A smaller epoch starting above existing entries drops them by epoch.
        let mut cache = assigned(&[(0, 0), (1, 5), (2, 9)]);
        assert!(cache.assign(1, 20));
        assert_eq!(pairs(&cache), [(0, 0), (1, 20)]);
    }

    #[test]
    fn assign_ignores_negative_epochs_and_offsets() {
        let mut cache = assigned(&[(0, 0)]);
        assert!(!cache.assign(UNDEFINED_EPOCH, 5));
        assert!(!cache.assign(1, -1));
        assert_eq!(pairs(&cache), [(0, 0)]);
    }

    #[test]
    fn truncate_from_end_removes_epochs_starting_at_or_after_the_end() {
        let mut cache = assigned(&[(0, 0), (1, 5), (2, 9)]);
        cache.truncate_from_end(10);
        assert_eq!(pairs(&cache), [(0, 0), (1, 5), (2, 9)], "9 < 10 stays");
        cache.truncate_from_end(9);
        assert_eq!(pairs(&cache), [(0, 0), (1, 5)]);
        cache.truncate_from_end(-1);
        assert_eq!(pairs(&cache), [(0, 0), (1, 5)], "a negative end is ignored");
        cache.truncate_from_end(0);
        assert!(cache.is_empty());
    }

    #[test]
    fn truncate_from_start_keeps_the_covering_epoch_moved_up() {
        let mut cache = assigned(&[(0, 0), (1, 5), (2, 9)]);
        cache.truncate_from_start(0);
        assert_eq!(pairs(&cache), [(0, 0), (1, 5), (2, 9)]);
        cache.truncate_from_start(7);
        assert_eq!(pairs(&cache), [(1, 7), (2, 9)]);
        cache.truncate_from_start(9);
        assert_eq!(
            pairs(&cache),
            [(2, 9)],
            "an entry starting exactly there stays"
        );
        cache.truncate_from_start(12);
        assert_eq!(pairs(&cache), [(2, 12)]);
    }

    #[test]
    fn truncate_from_start_below_every_entry_does_nothing() {
        let mut cache = assigned(&[(3, 10), (4, 15)]);
        cache.truncate_from_start(4);
        assert_eq!(pairs(&cache), [(3, 10), (4, 15)]);
    }

    #[test]
    fn epoch_for_offset_finds_the_covering_entry() {
        let cache = assigned(&[(0, 10), (2, 13), (4, 17)]);
        let epochs: Vec<Option<i32>> = [9, 10, 12, 13, 16, 17, 100]
            .into_iter()
            .map(|offset| cache.epoch_for_offset(offset))
            .collect();
        assert_eq!(
            epochs,
            [None, Some(0), Some(0), Some(2), Some(2), Some(4), Some(4)]
        );
        assert_eq!(cache.start_offset_for(2), Some(13));
        assert_eq!(cache.start_offset_for(3), None);
    }

    #[test]
    fn only_ordered_non_negative_entries_make_a_cache() {
        let entry = |epoch, start_offset| EpochEntry {
            epoch,
            start_offset,
        };
        let ok = LeaderEpochCache::try_from(vec![entry(0, 0), entry(2, 4)]);
        assert_eq!(ok.map(|c| pairs(&c)), Ok(vec![(0, 0), (2, 4)]));
        assert!(LeaderEpochCache::try_from(vec![entry(1, 0), entry(1, 4)]).is_err());
        assert!(LeaderEpochCache::try_from(vec![entry(0, 4), entry(1, 4)]).is_err());
        assert!(LeaderEpochCache::try_from(vec![entry(-1, 0)]).is_err());
    }
}
