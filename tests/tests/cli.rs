//! The `kafkalab` command line as a user meets it: `run --json` summaries, the seed banner,
//! `scenarios list`, and the overview printed without arguments.

use kafkalab_tests::cli;
use serde_json::Value;

fn run_json(args: &[&str]) -> Value {
    let (code, out, err) = cli(args);
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(
        out.lines().count(),
        1,
        "exactly one JSON line on stdout: {out}"
    );
    serde_json::from_str(&out).expect("valid JSON")
}

#[test]
fn quickstart_summary_with_json() {
    let v = run_json(&["run", "quickstart", "--seed", "7", "--json"]);
    for key in [
        "scenario",
        "seed",
        "trace_hash",
        "steps",
        "sim_time_ms",
        "produced",
        "acked",
        "consumed",
        "lost_write",
        "duplicate_in_log",
        "unseen",
    ] {
        assert!(v.get(key).is_some(), "missing `{key}` in {v}");
    }
    assert_eq!(v["scenario"], "quickstart");
    assert_eq!(v["seed"], 7);
    assert_eq!(v["sim_time_ms"], 10_000);
    assert_eq!(
        (
            v["produced"].as_u64(),
            v["acked"].as_u64(),
            v["consumed"].as_u64()
        ),
        (Some(30), Some(30), Some(30))
    );
    assert_eq!(
        (
            v["lost_write"].as_u64(),
            v["duplicate_in_log"].as_u64(),
            v["unseen"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    let hash = v["trace_hash"].as_str().expect("hex string");
    assert_eq!(hash.len(), 16);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
    // Keyed records: each of the 5 keys maps to one partition; offsets add up to 30.
    let total: i64 = v["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| p["log_end_offset"].as_i64().expect("leo"))
        .sum();
    assert_eq!(total, 30);
}

#[test]
fn same_seed_same_hash_other_seed_other_hash() {
    let a = run_json(&["run", "quickstart", "--seed", "7", "--json"]);
    let b = run_json(&["run", "quickstart", "--seed", "7", "--json"]);
    let c = run_json(&["run", "quickstart", "--seed", "8", "--json"]);
    assert_eq!(a["trace_hash"], b["trace_hash"]);
    assert_ne!(a["trace_hash"], c["trace_hash"]);
}

#[test]
fn the_seed_banner_goes_to_stderr_with_a_replay_hint() {
    let (code, out, err) = cli(&["run", "quickstart", "--seed", "42"]);
    assert_eq!(code, 0);
    assert!(err.contains("seed 42"), "{err}");
    assert!(err.contains("kafkalab run quickstart --seed 42"), "{err}");
    assert!(out.contains("Records     produced 30"), "{out}");
    assert!(
        out.contains("Topic: quickstart-events\tPartition: 0\tLeader: 1"),
        "{out}"
    );
}

#[test]
fn until_stops_early() {
    let v = run_json(&["run", "quickstart", "--until", "2s", "--json"]);
    assert_eq!(v["sim_time_ms"], 2_000);
    assert!(v["produced"].as_u64().expect("n") < 30);
}

#[test]
fn trace_file_is_json_lines_with_a_header() {
    let path = std::env::temp_dir().join(format!("kafkalab-trace-{}.jsonl", std::process::id()));
    let path_s = path.to_string_lossy().into_owned();
    let v = run_json(&["run", "quickstart", "--json", "--trace", &path_s]);
    let text = std::fs::read_to_string(&path).expect("trace written");
    let mut lines = text.lines();
    let header: Value = serde_json::from_str(lines.next().expect("header")).expect("json");
    assert_eq!(header["nodes"][0], "broker-1");
    let events: Vec<Value> = lines
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(events.len() as u64, v["steps"].as_u64().expect("steps"));
    let appended = events
        .iter()
        .flat_map(|e| e["notes"].as_array().cloned().unwrap_or_default())
        .filter(|n| n.get("appended").is_some())
        .count();
    assert_eq!(appended, 30);
    let _ = std::fs::remove_file(path);
}

#[test]
fn scenarios_list_and_overview() {
    let (code, out, _) = cli(&["scenarios", "list", "--json"]);
    assert_eq!(code, 0);
    let list: Value = serde_json::from_str(&out).expect("json array");
    let names: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(
        names.contains(&"quickstart") && names.contains(&"broker-faults"),
        "{names:?}"
    );
    assert!(
        list[0]["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );

    let (code, out, _) = cli(&[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("quickstart") && out.contains("kafkalab run"),
        "{out}"
    );

    let (code, _, err) = cli(&["frobnicate"]);
    assert_eq!(code, 2);
    assert!(err.contains("unrecognized subcommand"), "{err}");
}
