//! The partition log: one replica's copy of one partition, as Kafka stores it.
//!
//! This is the pure data-structure core of the model (Kafka's `kafka.log` and
//! `org.apache.kafka.storage.internals.log` packages): no clock, no I/O, no randomness. Time
//! comes in as `now_ms`, and every operation is a deterministic function of the log and its
//! arguments, so replicas, snapshots and replays agree byte for byte.
//!
//! - [`record`]: records and v2 record batches, with their byte sizes (`RecordBatch`).
//! - [`config`]: topic configs with Kafka's names and defaults (`LogConfig`).
//! - [`segment`]: segments, the unit of rolling and retention (`LogSegment`).
//! - [`unified_log`]: offsets, HW, truncation, flushing (`UnifiedLog`).
//! - [`append`]: leader and follower appends, segment rolling (`UnifiedLog.append`).
//! - [`epoch_cache`]: the leader-epoch cache, where each leader epoch starts
//!   (`LeaderEpochFileCache`).
//! - [`producer_state`]: each idempotent producer's epoch and last batches, for duplicate
//!   and sequence checks (`ProducerStateManager`).
//! - [`read`]: fetches for consumers and followers (`UnifiedLog.read`).
//! - [`retention`]: deleting old segments and `DeleteRecords` (`UnifiedLog.deleteOldSegments`).
//! - [`cleaner_manager`]: when to compact and which range (`LogCleanerManager`).
//! - [`cleaner`]: what compaction keeps (`LogCleaner`'s `Cleaner`).

pub mod append;
pub mod cleaner;
pub mod cleaner_manager;
pub mod config;
pub mod epoch_cache;
pub mod producer_state;
pub mod read;
pub mod record;
pub mod retention;
pub mod segment;
pub mod unified_log;

#[cfg(test)]
mod testing;

pub use cleaner::CleanerStats;
pub use config::{CleanupPolicy, ConfigError, LogConfig};
pub use epoch_cache::{EpochEntry, LeaderEpochCache, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET};
pub use producer_state::{
    AppendOrigin, BatchMetadata, NUM_BATCHES_TO_RETAIN, ProducerAppendInfo, ProducerStateEntry,
    ProducerStateManager,
};
pub use record::{Header, RECORD_BATCH_OVERHEAD, Record, RecordBatch, SimpleRecord};
pub use retention::DELETE_RECORDS_HIGH_WATERMARK;
pub use segment::LogSegment;
pub use unified_log::{LogAppendInfo, LogError, ProducerInfo, UnifiedLog};
