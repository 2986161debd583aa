//! Kafka's own test vectors (kafka-vectors.md, section A): murmur2, Utils.abs, and the
//! key → partition mapping of the default partitioner — checked against our implementation,
//! and through the CLI a learner uses.

use kafkalab_sim::utils::{abs, murmur2, partition_for_key, to_positive};
use kafkalab_tests::cli;

#[test]
fn a1_murmur2_matches_utils_test() {
    let cases: [(&[u8], i32); 6] = [
        (b"21", -973_932_308),
        (b"foobar", -790_332_482),
        (b"a-little-bit-long-string", -985_981_536),
        (b"a-little-bit-longer-string", -1_486_304_829),
        (
            b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        (b"abc", 479_470_107), // the byte array {'a','b','c'}
    ];
    for (input, expected) in cases {
        assert_eq!(
            murmur2(input),
            expected,
            "murmur2({:?})",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn a2_abs_and_to_positive() {
    for (input, expected) in [(i32::MIN, 0), (-10, 10), (10, 10), (0, 0), (-1, 1)] {
        assert_eq!(abs(input), expected);
    }
    assert_eq!(to_positive(i32::MIN), 0);
    assert_eq!(to_positive(-1), i32::MAX);
}

#[test]
fn a3_string_keys_to_partitions_of_three() {
    let expected = [2, 0, 2, 2, 1, 0, 1, 0, 0, 2];
    let hashes = [
        971_027_396,
        -1_993_445_489,
        648_968_168,
        -1_148_165_505,
        1_514_888_353,
        55_100_550,
        1_157_411_398,
        -1_961_297_549,
        828_913_227,
        415_544_963,
    ];
    for key in 0..10 {
        let bytes = key.to_string();
        assert_eq!(murmur2(bytes.as_bytes()), hashes[key], "murmur2(\"{key}\")");
        assert_eq!(
            partition_for_key(bytes.as_bytes(), 3),
            expected[key],
            "key \"{key}\""
        );
    }
}

#[test]
fn explain_partition_prints_the_same_numbers() {
    let (code, out, _) = cli(&["explain", "partition", "4", "--partitions", "3", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(v["key"], "4");
    assert_eq!(v["murmur2"], 1_514_888_353);
    assert_eq!(v["partition"], 1);

    let (code, text, _) = cli(&["explain", "partition", "foobar", "--partitions", "7"]);
    assert_eq!(code, 0);
    assert!(text.contains("-790332482"), "{text}");
    let expected = to_positive(-790_332_482) % 7;
    assert!(text.contains(&format!("% 7 = {expected}")), "{text}");
}
