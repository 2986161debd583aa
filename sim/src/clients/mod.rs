//! Kafka clients as nodes: the producer and the consumer, with their metadata cache,
//! configs and partitioner.

pub mod config;
pub mod consumer;
pub mod metadata;
pub mod partitioner;
pub mod producer;

pub use config::{AutoOffsetReset, ConsumerConfig, PartitionerClass, ProducerConfig};
pub use consumer::{AppConfig, Consumer, Semantics, Subscription};
pub use producer::{Keys, Producer, Workload};
