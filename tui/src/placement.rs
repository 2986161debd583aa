//! `kafkalab explain partition` and `kafkalab explain coordinator`: the two hashes that decide
//! where data lives in Kafka, computed step by step. A record key's partition is
//! `toPositive(murmur2(key)) % partitions` (the producer's `BuiltInPartitioner`); a consumer
//! group's coordinator leads `__consumer_offsets` partition
//! `Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions` (`GroupCoordinator`'s
//! `partitionFor`). They differ in hash and in sign handling, and each step is printed so a
//! learner can check it by hand.

use crate::cli::{CmdResult, io_error, write_json};
use crate::exit;
use kafkalab_sim::utils::{
    abs, group_partition, java_string_hash, murmur2, partition_for_key, to_positive,
};
use std::io::Write;

pub const COORDINATOR_LONG_ABOUT: &str = "Which partition of the internal \
__consumer_offsets topic stores a consumer group's committed offsets and membership. The leader \
of that partition is the group's coordinator: the broker that FindCoordinator returns and that \
runs the group's rebalances.

The partition is Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions (default 50), \
with Java's String.hashCode over UTF-16 code units. Unlike record keys (murmur2 and \
toPositive), it uses abs, and Kafka's abs(Integer.MIN_VALUE) is 0.";

/// `kafkalab explain partition`: murmur2, toPositive and the modulo for one key.
pub(crate) fn explain_partition(
    key: &str,
    partitions: i32,
    json: bool,
    out: &mut dyn Write,
) -> CmdResult {
    let hash = murmur2(key.as_bytes());
    let partition = partition_for_key(key.as_bytes(), partitions);
    if json {
        write_json(
            out,
            &serde_json::json!({ "key": key, "murmur2": hash, "partition": partition }),
        )?;
    } else {
        let text = format!(
            "key         {key:?} ({} bytes, UTF-8 as StringSerializer writes it)\n\
             murmur2     {hash} (signed 32-bit, Utils.murmur2)\n\
             toPositive  {} (hash & 0x7fffffff, not abs)\n\
             partition   {} % {partitions} = {partition}\n",
            key.len(),
            to_positive(hash),
            to_positive(hash),
        );
        out.write_all(text.as_bytes()).map_err(io_error)?;
    }
    Ok(exit::OK)
}

/// `kafkalab explain coordinator`: hashCode, abs and the modulo for one group id.
pub(crate) fn explain_coordinator(
    group: &str,
    partitions: i32,
    json: bool,
    out: &mut dyn Write,
) -> CmdResult {
    let hash = java_string_hash(group);
    let partition = group_partition(group, partitions);
    if json {
        write_json(
            out,
            &serde_json::json!({ "group": group, "hash": hash, "partition": partition }),
        )?;
    } else {
        let text = format!(
            "group       {group:?} (group.id)\n\
             hashCode    {hash} (Java String.hashCode, signed 32-bit)\n\
             abs         {} (Utils.abs, with abs(MIN_VALUE) = 0)\n\
             partition   {} % {partitions} = {partition} (__consumer_offsets-{partition}; \
             its leader is the group coordinator)\n",
            abs(hash),
            abs(hash),
        );
        out.write_all(text.as_bytes()).map_err(io_error)?;
    }
    Ok(exit::OK)
}
