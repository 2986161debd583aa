//! The records the group coordinator writes to `__consumer_offsets`.
//!
//! Kafka's schemas (`OffsetCommitKey`/`OffsetCommitValue`, `GroupMetadataKey`/
//! `GroupMetadataValue`) are binary; the model's log holds strings, so each key and value is
//! the JSON of the same fields. The key is what compaction keeps the latest value of: one
//! offset per (group, topic, partition), one metadata record per group. A `None` value is a
//! tombstone, as in Kafka.

use crate::log::SimpleRecord;
use crate::protocol::TopicPartition;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A record key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordKey {
    /// `OffsetCommitKey`.
    OffsetCommit {
        group: Arc<str>,
        topic: Arc<str>,
        partition: i32,
    },
    /// `GroupMetadataKey`.
    GroupMetadata { group: Arc<str> },
}

/// `OffsetCommitValue`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetCommitValue {
    pub offset: i64,
    pub leader_epoch: i32,
    pub commit_timestamp: i64,
}

/// One member inside `GroupMetadataValue`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberMetadata {
    pub member_id: Arc<str>,
    pub group_instance_id: Option<Arc<str>>,
    pub client_id: Arc<str>,
    pub rebalance_timeout: i32,
    pub session_timeout: i32,
    /// The subscription of the selected protocol.
    pub subscription: crate::protocol::ConsumerSubscription,
    pub assignment: Vec<TopicPartition>,
}

/// `GroupMetadataValue`: the group as of its last stable point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMetadataValue {
    pub protocol_type: Arc<str>,
    pub generation: i32,
    pub protocol: Option<Arc<str>>,
    pub leader: Option<Arc<str>>,
    pub current_state_timestamp: i64,
    pub members: Vec<MemberMetadata>,
}

/// A decoded record of `__consumer_offsets`.
#[derive(Clone, Debug, PartialEq)]
pub enum CoordinatorRecord {
    OffsetCommit {
        group: Arc<str>,
        tp: TopicPartition,
        value: Option<OffsetCommitValue>,
    },
    GroupMetadata {
        group: Arc<str>,
        value: Option<GroupMetadataValue>,
    },
}

impl CoordinatorRecord {
    /// The log record for it, stamped `now_ms`.
    pub fn to_record(&self, now_ms: i64) -> SimpleRecord {
        let (key, value) = match self {
            CoordinatorRecord::OffsetCommit { group, tp, value } => (
                RecordKey::OffsetCommit {
                    group: group.clone(),
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                },
                value.as_ref().map(to_json),
            ),
            CoordinatorRecord::GroupMetadata { group, value } => (
                RecordKey::GroupMetadata {
                    group: group.clone(),
                },
                value.as_ref().map(to_json),
            ),
        };
        let key = to_json(&key);
        SimpleRecord::new(now_ms, Some(&key), value.as_deref())
    }

    /// Decodes a log record; `None` for anything that is not a coordinator record.
    pub fn from_record(key: Option<&str>, value: Option<&str>) -> Option<CoordinatorRecord> {
        let key: RecordKey = serde_json::from_str(key?).ok()?;
        Some(match key {
            RecordKey::OffsetCommit {
                group,
                topic,
                partition,
            } => CoordinatorRecord::OffsetCommit {
                group,
                tp: TopicPartition::new(topic, partition),
                value: match value {
                    Some(v) => Some(serde_json::from_str(v).ok()?),
                    None => None,
                },
            },
            RecordKey::GroupMetadata { group } => CoordinatorRecord::GroupMetadata {
                group,
                value: match value {
                    Some(v) => Some(serde_json::from_str(v).ok()?),
                    None => None,
                },
            },
        })
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    // Serializing these plain structs cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let commit = CoordinatorRecord::OffsetCommit {
            group: "g".into(),
            tp: TopicPartition::new("orders", 2),
            value: Some(OffsetCommitValue {
                offset: 42,
                leader_epoch: 3,
                commit_timestamp: 1000,
            }),
        };
        let r = commit.to_record(1000);
        assert_eq!(
            CoordinatorRecord::from_record(r.key.as_deref(), r.value.as_deref()),
            Some(commit)
        );
        let tombstone = CoordinatorRecord::GroupMetadata {
            group: "g".into(),
            value: None,
        };
        let r = tombstone.to_record(0);
        assert!(r.value.is_none());
        assert_eq!(
            CoordinatorRecord::from_record(r.key.as_deref(), None),
            Some(tombstone)
        );
        assert_eq!(CoordinatorRecord::from_record(Some("k"), Some("v")), None);
    }
}
