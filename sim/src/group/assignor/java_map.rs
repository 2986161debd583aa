//! The iteration order of Java's `java.util.HashMap` and `HashSet`, modelled on a `Vec`.
//!
//! Why it exists: Kafka's assignors walk `HashMap`s in several places where the walk order
//! decides the outcome (which sticky member keeps its extra partition, the order of topics in
//! a range assignment, which partition a sticky rebalance moves back). A teaching simulator
//! that claims to show Kafka's assignment must reproduce that order, and Rust's `HashMap` is
//! both different and randomly seeded. So this module does not hash at all: it stores entries
//! in a `Vec` and computes, on demand, the order in which OpenJDK 8+ would visit them.
//!
//! The model of `HashMap` (OpenJDK 8 and later):
//! - a key's bucket is `spread(hashCode) & (capacity - 1)`, with
//!   `spread(h) = h ^ (h >>> 16)`;
//! - the table is allocated at the first insertion with capacity 16 and doubles whenever the
//!   size exceeds `0.75 * capacity`;
//! - a new key is appended at the tail of its bucket's chain; a resize splits each chain in
//!   two while keeping the relative order, so within a bucket the order is always insertion
//!   order; replacing the value of an existing key keeps its place; `clear()` keeps the table;
//! - iteration visits buckets by ascending index, each chain from head to tail.
//!
//! Not modelled: *treeification*. When a chain would grow past 8 keys in a table of at least
//! 64 buckets, Java turns the bucket into a red-black tree whose iteration order is no longer
//! insertion order. That needs 9 keys whose spread hashes agree in their low 6+ bits; with the
//! handful of member ids, topics and partitions an assignor sees, it does not happen in
//! practice. (A long chain in a *smaller* table makes Java double the table instead; that
//! resize is modelled.)

use crate::protocol::TopicPartition;
use crate::utils::java_string_hash;
use std::sync::Arc;

/// The initial table size of `new HashMap<>()`.
const DEFAULT_CAPACITY: usize = 16;
/// `HashMap.TREEIFY_THRESHOLD`: a chain this long triggers `treeifyBin`.
const TREEIFY_THRESHOLD: usize = 8;
/// `HashMap.MIN_TREEIFY_CAPACITY`: below this, `treeifyBin` resizes instead.
const MIN_TREEIFY_CAPACITY: usize = 64;

/// A key's Java `hashCode()`.
pub trait JavaHash {
    fn java_hash_code(&self) -> i32;
}

impl JavaHash for str {
    fn java_hash_code(&self) -> i32 {
        java_string_hash(self)
    }
}

impl JavaHash for String {
    fn java_hash_code(&self) -> i32 {
        java_string_hash(self)
    }
}

impl JavaHash for Arc<str> {
    fn java_hash_code(&self) -> i32 {
        java_string_hash(self)
    }
}

impl JavaHash for TopicPartition {
    /// `TopicPartition.hashCode`: `31 * (31 + partition) + topic.hashCode()`.
    fn java_hash_code(&self) -> i32 {
        let prime = 31i32;
        let result = prime.wrapping_add(self.partition);
        prime
            .wrapping_mul(result)
            .wrapping_add(java_string_hash(&self.topic))
    }
}

/// `HashMap.hash(key)`: folds the high half of `hashCode` into the low half, because the
/// bucket index only uses the low bits.
pub fn spread(hash_code: i32) -> i32 {
    hash_code ^ ((hash_code as u32) >> 16) as i32
}

#[derive(Clone, Debug)]
struct Slot<K, V> {
    key: K,
    value: V,
    spread_hash: u32,
    /// Insertion sequence number: the position inside a bucket's chain.
    seq: u64,
}

/// A map that iterates in the order a Java `HashMap` created with `new HashMap<>()` would.
/// Lookups are linear; assignors hold tens of keys, not thousands.
#[derive(Clone, Debug)]
pub struct JavaHashMap<K, V> {
    slots: Vec<Slot<K, V>>,
    /// The table length; 0 until the first insertion, as Java allocates lazily.
    capacity: usize,
    next_seq: u64,
}

impl<K, V> Default for JavaHashMap<K, V> {
    fn default() -> Self {
        JavaHashMap {
            slots: Vec::new(),
            capacity: 0,
            next_seq: 0,
        }
    }
}

impl<K: JavaHash + Eq, V> JavaHashMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The current table length (0 before the first insertion).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn position(&self, key: &K) -> Option<usize> {
        self.slots.iter().position(|s| s.key == *key)
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.position(key).is_some()
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.position(key).map(|i| &self.slots[i].value)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.position(key).map(|i| &mut self.slots[i].value)
    }

    fn bucket(&self, spread_hash: u32) -> usize {
        spread_hash as usize & (self.capacity - 1)
    }

    /// `HashMap.put`: replaces the value in place, or appends the key to its bucket's chain
    /// and grows the table the way `putVal` does. Returns the previous value.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(i) = self.position(&key) {
            return Some(std::mem::replace(&mut self.slots[i].value, value));
        }
        if self.capacity == 0 {
            self.capacity = DEFAULT_CAPACITY;
        }
        let spread_hash = spread(key.java_hash_code()) as u32;
        let bucket = self.bucket(spread_hash);
        let chain = self
            .slots
            .iter()
            .filter(|s| self.bucket(s.spread_hash) == bucket)
            .count();
        self.slots.push(Slot {
            key,
            value,
            spread_hash,
            seq: self.next_seq,
        });
        self.next_seq += 1;
        // `treeifyBin` on a chain that already held 8 keys: a small table doubles instead.
        if chain >= TREEIFY_THRESHOLD && self.capacity < MIN_TREEIFY_CAPACITY {
            self.capacity *= 2;
        }
        // `++size > threshold` with `threshold = 0.75 * capacity`.
        if self.slots.len() > self.capacity / 4 * 3 {
            self.capacity *= 2;
        }
        None
    }

    /// `HashMap.remove`: unlinks the key; the others keep their places.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.position(key).map(|i| self.slots.remove(i).value)
    }

    /// `HashMap.clear`: removes every key but keeps the table size.
    pub fn clear(&mut self) {
        self.slots.clear();
    }

    /// The entries in Java's iteration order: bucket index ascending, then chain order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        let mut order: Vec<&Slot<K, V>> = self.slots.iter().collect();
        order.sort_by_key(|s| (self.bucket(s.spread_hash), s.seq));
        order.into_iter().map(|s| (&s.key, &s.value))
    }

    /// The keys in Java's iteration order (`keySet().iterator()`).
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.iter().map(|(k, _)| k)
    }
}

/// A set that iterates in the order a Java `HashSet` created with `new HashSet<>()` would
/// (a `HashSet` is a `HashMap` with dummy values).
#[derive(Clone, Debug)]
pub struct JavaHashSet<K> {
    map: JavaHashMap<K, ()>,
}

impl<K> Default for JavaHashSet<K> {
    fn default() -> Self {
        JavaHashSet {
            map: JavaHashMap::default(),
        }
    }
}

impl<K: JavaHash + Eq> JavaHashSet<K> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn contains(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    /// `HashSet.add`: true if the key was not present.
    pub fn insert(&mut self, key: K) -> bool {
        self.map.insert(key, ()).is_none()
    }

    /// `HashSet.remove`: true if the key was present.
    pub fn remove(&mut self, key: &K) -> bool {
        self.map.remove(key).is_some()
    }

    /// The keys in Java's iteration order.
    pub fn iter(&self) -> impl Iterator<Item = &K> {
        self.map.keys()
    }

    /// `iterator().next()`: the first key in Java's iteration order.
    pub fn first(&self) -> Option<&K> {
        self.iter().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_in_order(ids: &[&str]) -> Vec<String> {
        let mut map = JavaHashMap::new();
        for id in ids {
            map.insert(id.to_string(), ());
        }
        map.keys().cloned().collect()
    }

    #[test]
    fn consumer_ids_iterate_in_reverse() {
        // The order Kafka's sticky assignor tests depend on (kafka-semantics §7).
        let order = keys_in_order(&["consumer1", "consumer2", "consumer3", "consumer4"]);
        assert_eq!(order, ["consumer4", "consumer3", "consumer2", "consumer1"]);
    }

    #[test]
    fn colliding_keys_keep_insertion_order() {
        // "Aa" and "BB" have the same String.hashCode (2112), so they share a bucket.
        assert_eq!("Aa".java_hash_code(), "BB".java_hash_code());
        assert_eq!(keys_in_order(&["BB", "Aa"]), ["BB", "Aa"]);
        assert_eq!(keys_in_order(&["Aa", "BB"]), ["Aa", "BB"]);
    }

    #[test]
    fn the_table_doubles_past_three_quarters() {
        let mut map = JavaHashMap::new();
        assert_eq!(map.capacity(), 0);
        for i in 0..12 {
            map.insert(format!("k{i}"), i);
        }
        assert_eq!(map.capacity(), 16);
        map.insert("k12".to_string(), 12);
        assert_eq!(map.capacity(), 32);
        map.clear();
        assert_eq!(
            (map.len(), map.capacity()),
            (0, 32),
            "clear keeps the table"
        );
    }

    #[test]
    fn replacing_a_value_keeps_the_place_and_removal_keeps_the_rest() {
        let mut map = JavaHashMap::new();
        for k in ["BB", "Aa", "x"] {
            map.insert(k.to_string(), 0);
        }
        assert_eq!(map.insert("BB".to_string(), 1), Some(0));
        let before: Vec<String> = map.keys().cloned().collect();
        assert_eq!(map.remove(&"Aa".to_string()), Some(0));
        let after: Vec<String> = map.keys().cloned().collect();
        let expected: Vec<String> = before.into_iter().filter(|k| k != "Aa").collect();
        assert_eq!(after, expected);
        // Re-inserting appends at the tail of the chain, behind "BB".
        map.insert("Aa".to_string(), 2);
        let chain: Vec<&String> = map.keys().filter(|k| *k != "x").collect();
        assert_eq!(chain, ["BB", "Aa"]);
    }

    #[test]
    fn topic_partition_hash_code_matches_its_java_formula() {
        let tp = TopicPartition::new("topic", 2);
        let expected = 31 * (31 + 2) + java_string_hash("topic");
        assert_eq!(tp.java_hash_code(), expected);
        // Buckets follow the spread hash: partitions of one topic are consecutive hashes
        // 31 apart, so they spread over the table.
        let mut set = JavaHashSet::new();
        for p in [2, 0, 1] {
            set.insert(TopicPartition::new("t", p));
        }
        let mut by_bucket: Vec<(u32, i32)> = [0, 1, 2]
            .iter()
            .map(|&p| {
                let h = spread(TopicPartition::new("t", p).java_hash_code()) as u32 & 15;
                (h, p)
            })
            .collect();
        by_bucket.sort();
        let order: Vec<i32> = set.iter().map(|tp| tp.partition).collect();
        assert_eq!(order, by_bucket.iter().map(|&(_, p)| p).collect::<Vec<_>>());
        assert_eq!(set.first().map(|tp| tp.partition), Some(order[0]));
    }

    #[test]
    fn a_long_chain_in_a_small_table_doubles_it() {
        // Strings built from "Aa"/"BB" blocks all share one hashCode: 9 of them make
        // `putVal` call treeifyBin, which resizes a 16-slot table instead of treeifying.
        let mut map = JavaHashMap::new();
        let mut n = 0;
        for a in ["Aa", "BB"] {
            for b in ["Aa", "BB"] {
                for c in ["Aa", "BB"] {
                    for d in ["Aa", "BB"] {
                        if n < 9 {
                            map.insert(format!("{a}{b}{c}{d}"), n);
                            n += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(map.len(), 9);
        assert_eq!(map.capacity(), 32);
        // Still insertion order within the (single) bucket.
        let values: Vec<i32> = map.iter().map(|(_, v)| *v).collect();
        assert_eq!(values, (0..9).collect::<Vec<_>>());
    }
}
