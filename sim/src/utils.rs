//! Kafka's hashing helpers, bit-exact with `org.apache.kafka.common.utils.Utils`.
//!
//! The producer's key → partition mapping and the group coordinator's group → partition mapping
//! are defined by these functions; a learner who computes a partition here must get the answer
//! a real cluster gives. All arithmetic is Java's 32-bit wrapping arithmetic.

/// `Utils.murmur2`: MurmurHash2, 32-bit, seed `0x9747b28c`, returned as a signed int.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len();
    let mut h: u32 = SEED ^ (length as u32);
    let blocks = data.chunks_exact(4);
    let tail = blocks.remainder();
    for block in blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    // Java's switch with fall-through over the 1–3 trailing bytes.
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// `Utils.toPositive`: clears the sign bit. Not `abs`: `toPositive(-1) == i32::MAX`.
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// `Utils.abs`: absolute value, with `abs(i32::MIN) == 0` (Kafka's own convention).
pub fn abs(n: i32) -> i32 {
    if n == i32::MIN { 0 } else { n.abs() }
}

/// The built-in partitioner's choice for a non-null serialized key:
/// `toPositive(murmur2(keyBytes)) % numPartitions`.
pub fn partition_for_key(key: &[u8], num_partitions: i32) -> i32 {
    to_positive(murmur2(key)) % num_partitions.max(1)
}

/// Java's `String.hashCode`: `h = 31*h + c` over UTF-16 code units, wrapping.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The `__consumer_offsets` partition that stores a group's offsets and metadata; its leader
/// is the group's coordinator: `Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions`
/// (`GroupCoordinator.partitionFor`). Note `abs`, not `toPositive` as for record keys.
pub fn group_partition(group_id: &str, partitions: i32) -> i32 {
    abs(java_string_hash(group_id)) % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_positive_is_not_abs() {
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(abs(-1), 1);
    }

    #[test]
    fn java_hash_code_matches_java() {
        // "hello".hashCode() == 99162322 in Java; "" is 0.
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash(""), 0);
    }

    #[test]
    fn group_partition_is_abs_of_java_hash_mod_partitions() {
        // "hello".hashCode() = 99162322; 99162322 % 50 = 22.
        assert_eq!(group_partition("hello", 50), 22);
        // "polygenelubricants".hashCode() == Integer.MIN_VALUE, and Utils.abs(MIN_VALUE) = 0.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(group_partition("polygenelubricants", 50), 0);
        // A negative hash: "my-group".hashCode() = -1906497762; 1906497762 % 50 = 12.
        assert_eq!(java_string_hash("my-group"), -1_906_497_762);
        assert_eq!(group_partition("my-group", 50), 12);
    }
}
