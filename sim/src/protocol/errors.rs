//! Kafka protocol error codes (`org.apache.kafka.common.protocol.Errors`).
//!
//! Brokers answer with these codes inside responses, never with Rust errors: a client's
//! behaviour (retry, refresh metadata, reset its position) is driven by which code it got, and
//! the lab shows the same names a learner will meet in a real client's logs.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A Kafka error code. The numeric values are Kafka's wire codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[repr(i16)]
pub enum Errors {
    UnknownServerError = -1,
    None = 0,
    OffsetOutOfRange = 1,
    CorruptMessage = 2,
    UnknownTopicOrPartition = 3,
    LeaderNotAvailable = 5,
    NotLeaderOrFollower = 6,
    RequestTimedOut = 7,
    BrokerNotAvailable = 8,
    MessageTooLarge = 10,
    NetworkException = 13,
    CoordinatorLoadInProgress = 14,
    CoordinatorNotAvailable = 15,
    NotCoordinator = 16,
    RecordListTooLarge = 18,
    NotEnoughReplicas = 19,
    NotEnoughReplicasAfterAppend = 20,
    InvalidRequiredAcks = 21,
    IllegalGeneration = 22,
    InconsistentGroupProtocol = 23,
    UnknownMemberId = 25,
    InvalidSessionTimeout = 26,
    RebalanceInProgress = 27,
    NotController = 41,
    OutOfOrderSequenceNumber = 45,
    DuplicateSequenceNumber = 46,
    InvalidProducerEpoch = 47,
    UnknownProducerId = 59,
    FencedLeaderEpoch = 74,
    UnknownLeaderEpoch = 75,
    StaleBrokerEpoch = 77,
    OffsetNotAvailable = 78,
    MemberIdRequired = 79,
    FencedInstanceId = 82,
    InvalidRecord = 87,
    ProducerFenced = 90,
    InvalidUpdateVersion = 95,
    DuplicateBrokerRegistration = 101,
    BrokerIdNotRegistered = 102,
    IneligibleReplica = 107,
    NewLeaderElected = 108,
    // Codes added later go here, out of numeric order: the trace hash encodes a variant by
    // its index, so inserting one above would change the hash of every recorded run.
    InvalidPartitions = 37,
    InvalidReplicationFactor = 38,
    TopicAlreadyExists = 36,
}

impl Errors {
    pub fn code(self) -> i16 {
        self as i16
    }

    pub fn is_ok(self) -> bool {
        self == Errors::None
    }

    /// Kafka's name, as printed by its tools and clients (`NOT_LEADER_OR_FOLLOWER`).
    pub fn name(self) -> &'static str {
        use Errors::*;
        match self {
            UnknownServerError => "UNKNOWN_SERVER_ERROR",
            None => "NONE",
            OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            CorruptMessage => "CORRUPT_MESSAGE",
            UnknownTopicOrPartition => "UNKNOWN_TOPIC_OR_PARTITION",
            LeaderNotAvailable => "LEADER_NOT_AVAILABLE",
            NotLeaderOrFollower => "NOT_LEADER_OR_FOLLOWER",
            RequestTimedOut => "REQUEST_TIMED_OUT",
            BrokerNotAvailable => "BROKER_NOT_AVAILABLE",
            MessageTooLarge => "MESSAGE_TOO_LARGE",
            NetworkException => "NETWORK_EXCEPTION",
            CoordinatorLoadInProgress => "COORDINATOR_LOAD_IN_PROGRESS",
            CoordinatorNotAvailable => "COORDINATOR_NOT_AVAILABLE",
            NotCoordinator => "NOT_COORDINATOR",
            RecordListTooLarge => "RECORD_LIST_TOO_LARGE",
            NotEnoughReplicas => "NOT_ENOUGH_REPLICAS",
            NotEnoughReplicasAfterAppend => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
            InvalidRequiredAcks => "INVALID_REQUIRED_ACKS",
            IllegalGeneration => "ILLEGAL_GENERATION",
            InconsistentGroupProtocol => "INCONSISTENT_GROUP_PROTOCOL",
            UnknownMemberId => "UNKNOWN_MEMBER_ID",
            InvalidSessionTimeout => "INVALID_SESSION_TIMEOUT",
            RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            InvalidPartitions => "INVALID_PARTITIONS",
            InvalidReplicationFactor => "INVALID_REPLICATION_FACTOR",
            TopicAlreadyExists => "TOPIC_ALREADY_EXISTS",
            NotController => "NOT_CONTROLLER",
            OutOfOrderSequenceNumber => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            DuplicateSequenceNumber => "DUPLICATE_SEQUENCE_NUMBER",
            InvalidProducerEpoch => "INVALID_PRODUCER_EPOCH",
            UnknownProducerId => "UNKNOWN_PRODUCER_ID",
            FencedLeaderEpoch => "FENCED_LEADER_EPOCH",
            UnknownLeaderEpoch => "UNKNOWN_LEADER_EPOCH",
            StaleBrokerEpoch => "STALE_BROKER_EPOCH",
            OffsetNotAvailable => "OFFSET_NOT_AVAILABLE",
            MemberIdRequired => "MEMBER_ID_REQUIRED",
            FencedInstanceId => "FENCED_INSTANCE_ID",
            InvalidRecord => "INVALID_RECORD",
            ProducerFenced => "PRODUCER_FENCED",
            InvalidUpdateVersion => "INVALID_UPDATE_VERSION",
            DuplicateBrokerRegistration => "DUPLICATE_BROKER_REGISTRATION",
            BrokerIdNotRegistered => "BROKER_ID_NOT_REGISTERED",
            IneligibleReplica => "INELIGIBLE_REPLICA",
            NewLeaderElected => "NEW_LEADER_ELECTED",
        }
    }

    /// Whether Kafka's exception for this code is a `RetriableException`.
    pub fn is_retriable(self) -> bool {
        use Errors::*;
        matches!(
            self,
            CorruptMessage
                | UnknownTopicOrPartition
                | LeaderNotAvailable
                | NotLeaderOrFollower
                | RequestTimedOut
                | BrokerNotAvailable
                | NetworkException
                | CoordinatorLoadInProgress
                | CoordinatorNotAvailable
                | NotCoordinator
                | NotEnoughReplicas
                | NotEnoughReplicasAfterAppend
                | FencedLeaderEpoch
                | UnknownLeaderEpoch
                | OffsetNotAvailable
        )
    }

    /// Whether a client should refresh its metadata before retrying (Kafka's
    /// `InvalidMetadataException` family).
    pub fn invalidates_metadata(self) -> bool {
        use Errors::*;
        matches!(
            self,
            UnknownTopicOrPartition
                | LeaderNotAvailable
                | NotLeaderOrFollower
                | FencedLeaderEpoch
                | UnknownLeaderEpoch
                | NotCoordinator
        )
    }
}

/// An error code with the text that explains it (Kafka's `ApiError`). Admin requests such as
/// CreatePartitions answer with both, and `kafka-topics.sh` prints the text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: Errors,
    /// The response's message; for codes Kafka sends without one, the text of the client
    /// exception it becomes (e.g. `UnknownTopicOrPartitionException`'s).
    pub message: String,
}

impl ApiError {
    pub fn new(error: Errors, message: impl Into<String>) -> Self {
        ApiError {
            error,
            message: message.into(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

impl std::error::Error for ApiError {}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_kafkas() {
        assert_eq!(Errors::NotLeaderOrFollower.code(), 6);
        assert_eq!(Errors::OffsetOutOfRange.code(), 1);
        assert_eq!(Errors::UnknownTopicOrPartition.code(), 3);
        assert_eq!(Errors::FencedLeaderEpoch.code(), 74);
        assert_eq!(Errors::InvalidRecord.code(), 87);
        assert_eq!(Errors::StaleBrokerEpoch.code(), 77);
        assert_eq!(Errors::InvalidUpdateVersion.code(), 95);
        assert_eq!(Errors::DuplicateBrokerRegistration.code(), 101);
        assert_eq!(Errors::IneligibleReplica.code(), 107);
        assert_eq!(Errors::InvalidPartitions.code(), 37);
        assert_eq!(Errors::InvalidPartitions.name(), "INVALID_PARTITIONS");
        assert_eq!(Errors::InvalidReplicationFactor.code(), 38);
        assert!(Errors::NotLeaderOrFollower.is_retriable());
        assert!(!Errors::OffsetOutOfRange.is_retriable());
    }
}
