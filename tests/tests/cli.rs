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
    // The producer batches (linger.ms), so count records, not append notes.
    let appended: i64 = events
        .iter()
        .flat_map(|e| e["notes"].as_array().cloned().unwrap_or_default())
        .filter_map(|n| n.get("appended").cloned())
        .map(|a| {
            a["last_offset"].as_i64().unwrap_or(0) - a["base_offset"].as_i64().unwrap_or(0) + 1
        })
        .sum();
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
    // The course is named too, with the command that opens it.
    assert!(
        out.contains("14 hands-on lessons") && out.contains("kafkalab learn 1"),
        "{out}"
    );

    let (code, _, err) = cli(&["frobnicate"]);
    assert_eq!(code, 2);
    assert!(err.contains("unrecognized subcommand"), "{err}");
}

#[test]
fn run_json_has_leader_elections_and_each_partitions_isr_hw_leo() {
    let v = run_json(&["run", "quickstart", "--json"]);
    assert_eq!(v["leader_elections"].as_u64(), Some(0), "{v}");
    let partitions = v["partitions"].as_array().expect("partitions");
    assert_eq!(partitions.len(), 3, "every partition of the image: {v}");
    for (i, p) in partitions.iter().enumerate() {
        assert_eq!(p["topic"], "quickstart-events");
        assert_eq!(p["partition"].as_u64(), Some(i as u64));
        assert_eq!(p["leader"], 1);
        assert_eq!(p["replicas"], serde_json::json!([1]), "{p}");
        assert_eq!(p["isr"], serde_json::json!([1]), "{p}");
        assert_eq!(p["leader_epoch"], 0, "{p}");
        assert!(p["hw"].as_i64().is_some_and(|hw| hw >= 0), "{p}");
        assert_eq!(p["hw"], p["high_watermark"], "{p}");
        assert_eq!(p["leo"], p["log_end_offset"], "{p}");
    }
    let total: i64 = partitions.iter().filter_map(|p| p["leo"].as_i64()).sum();
    assert_eq!(total, 30);
}

#[test]
fn run_text_report_shows_elections_isr_and_leader_epoch() {
    let (code, out, err) = cli(&["run", "quickstart"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\nCluster     leader_elections 0\n"), "{out}");
    assert!(
        out.contains(
            "Topic: quickstart-events\tPartition: 0\tLeader: 1\tIsr: 1\tLeaderEpoch: 0\t\
             LogStartOffset: 0\tHighWatermark: "
        ),
        "{out}"
    );
}

#[test]
fn describe_topics_prints_kafka_topics_describe_layout() {
    let (code, out, err) = cli(&["describe", "topics", "quickstart"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("kafkalab describe topics quickstart --seed 1 --at 10s"),
        "replay hint: {err}"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "a header and one line per partition: {out}");
    assert_eq!(
        lines[0],
        "Topic: quickstart-events\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: "
    );
    for (i, line) in lines[1..].iter().enumerate() {
        assert_eq!(
            *line,
            format!("\tTopic: quickstart-events\tPartition: {i}\tLeader: 1\tReplicas: 1\tIsr: 1")
        );
    }
    assert!(!out.contains("TopicId") && !out.contains("Elr"), "{out}");
}

#[test]
fn describe_topics_unknown_topic_names_the_valid_ones() {
    let (code, out, err) = cli(&["describe", "topics", "quickstart", "--topic", "nope"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("unknown topic `nope`") && err.contains("quickstart-events"),
        "{err}"
    );
}

#[test]
fn describe_topics_at_and_step_conflict() {
    let (code, out, err) = cli(&[
        "describe",
        "topics",
        "quickstart",
        "--at",
        "2s",
        "--step",
        "10",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("cannot be used with"), "{err}");

    let (code, _, err) = cli(&["describe", "topics", "quickstart", "--at", "2 parsecs"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn describe_topics_step_and_topic_filter() {
    let (code, out, err) = cli(&[
        "describe",
        "topics",
        "quickstart",
        "--step",
        "1",
        "--topic",
        "quickstart-events",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("--step 1 --topic quickstart-events"), "{err}");
    assert!(
        out.starts_with("Topic: quickstart-events\tPartitionCount: 3\t"),
        "{out}"
    );
}

/// `leader-failure`: broker-1 (leader of orders-0) crashes at 10s and restarts at 25s.
#[test]
fn describe_topics_follows_a_leader_failure() {
    let partition0 = |out: &str| -> String {
        out.lines()
            .find(|l| l.starts_with("\tTopic: orders\tPartition: 0\t"))
            .unwrap_or_else(|| panic!("no orders-0 line in {out}"))
            .to_string()
    };
    let isr_of = |line: &str| -> Vec<i32> {
        let isr = line
            .split('\t')
            .find_map(|f| f.strip_prefix("Isr: "))
            .unwrap_or_else(|| panic!("no Isr in {line}"));
        let mut ids: Vec<i32> = isr
            .split(',')
            .map(|id| id.parse().expect("broker id"))
            .collect();
        ids.sort_unstable();
        ids
    };

    let (code, out, err) = cli(&["describe", "topics", "leader-failure", "--at", "20s"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("Topic: orders\tPartitionCount: 3\tReplicationFactor: 3\tConfigs: "),
        "{out}"
    );
    assert!(out.contains("min.insync.replicas=2"), "{out}");
    let line = partition0(&out);
    assert!(
        line.contains("\tLeader: 2\tReplicas: 1,2,3\t"),
        "broker-2 leads after broker-1 is fenced: {line}"
    );
    assert_eq!(isr_of(&line), vec![2, 3], "{line}");

    let (code, out, err) = cli(&["describe", "topics", "leader-failure"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        isr_of(&partition0(&out)),
        vec![1, 2, 3],
        "broker-1 rejoined the ISR by the end: {out}"
    );

    let v = run_json(&["run", "leader-failure", "--until", "20s", "--json"]);
    assert!(
        v["leader_elections"].as_u64().is_some_and(|n| n >= 1),
        "{v}"
    );
    for p in v["partitions"].as_array().expect("partitions") {
        assert_eq!(p["hw"], p["high_watermark"], "{p}");
        assert_eq!(p["leo"], p["log_end_offset"], "{p}");
    }
    let p0 = &v["partitions"][0];
    assert_eq!(
        (p0["leader"].as_i64(), p0["leader_epoch"].as_i64()),
        (Some(2), Some(1)),
        "{p0}"
    );
}

/// The only broker crashes: once its session times out the controller fences it and every
/// partition goes offline (`Leader: none`, -1 in JSON), yet is still listed.
#[test]
fn offline_partitions_show_leader_none() {
    let path = std::env::temp_dir().join(format!("kafkalab-offline-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        "name = \"offline\"\nduration = \"20s\"\n[cluster]\nbrokers = 1\n\
         [[topics]]\nname = \"t\"\npartitions = 2\n\
         [[timeline]]\nat = \"1s\"\naction = \"crash\"\nnode = \"broker-1\"\n",
    )
    .expect("scenario written");
    let path_s = path.to_string_lossy().into_owned();

    let (code, out, err) = cli(&["describe", "topics", &path_s]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\tTopic: t\tPartition: 0\tLeader: none\tReplicas: 1\tIsr: 1\n")
            && out.contains("\tTopic: t\tPartition: 1\tLeader: none\t"),
        "{out}"
    );
    let (code, out, err) = cli(&["run", &path_s]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Topic: t\tPartition: 1\tLeader: none\tIsr: 1\t"),
        "{out}"
    );
    let v = run_json(&["run", &path_s, "--json"]);
    let leaders: Vec<i64> = v["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .filter_map(|p| p["leader"].as_i64())
        .collect();
    assert_eq!(leaders, vec![-1, -1], "{v}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn run_config_flag_replays_the_pre_kip101_bug() {
    let (code, out, err) = cli(&[
        "run",
        "kip101-hw-truncation",
        "--config",
        "sim.follower.truncation=pre-kip-101",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("--config sim.follower.truncation=pre-kip-101"),
        "{err}"
    );
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["lost_write"], 1, "{json}");
    let (code, out, _) = cli(&["run", "kip101-hw-truncation", "--json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["lost_write"], 0, "{json}");
}

#[test]
fn run_config_flag_rejects_unknown_keys_and_values() {
    let (code, _, err) = cli(&[
        "run",
        "quickstart",
        "--config",
        "sim.follower.truncation=kip-999",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("pre-kip-101, kip-101, kip-279"), "{err}");
    let (code, _, err) = cli(&["run", "quickstart", "--config", "no.such.key=1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown config `no.such.key`"), "{err}");
    let (code, _, err) = cli(&["run", "quickstart", "--config", "novalue"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("KEY=VALUE"), "{err}");
}

/// `key-partitioning` grows `user-events` from 3 to 6 partitions at 12s: `describe` shows
/// the partitions that exist at the time asked for, the new ones with leaders.
#[test]
fn describe_topics_shows_partitions_added_at_run_time() {
    let (code, out, err) = cli(&["describe", "topics", "key-partitioning", "--at", "10s"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("Topic: user-events\tPartitionCount: 3\tReplicationFactor: 2\t"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 4, "{out}");

    let (code, out, err) = cli(&["describe", "topics", "key-partitioning", "--at", "30s"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "Topic: user-events\tPartitionCount: 6\tReplicationFactor: 2\tConfigs: "
    );
    assert_eq!(lines.len(), 7, "{out}");
    for (i, line) in lines[1..].iter().enumerate() {
        assert!(
            line.starts_with(&format!("\tTopic: user-events\tPartition: {i}\tLeader: ")),
            "{line}"
        );
        assert!(!line.contains("Leader: none"), "{line}");
        // Each partition has two replicas, all in the ISR.
        let field = |name: &str| {
            line.split('\t')
                .find_map(|f| f.strip_prefix(name))
                .map(str::to_string)
        };
        let replicas = field("Replicas: ").expect("replicas");
        assert_eq!(replicas.split(',').count(), 2, "{line}");
        assert_eq!(field("Isr: "), Some(replicas), "{line}");
    }
}

/// Writes a one-topic scenario whose producer has `config` as its `[producers.config]`, under
/// a name unique to this test.
fn producer_scenario(test: &str, config: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("kafkalab-{test}-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        format!(
            "name = \"{test}\"\n[[topics]]\nname = \"t\"\npartitions = 2\n\
             [[producers]]\nname = \"p1\"\ntopic = \"t\"\nkeys = [\"alice\"]\n\
             [[producers]]\nname = \"p2\"\ntopic = \"t\"\n\
             [producers.config]\n{config}"
        ),
    )
    .expect("scenario written");
    path
}

/// The `key=value  origin  why` line of `key` in `explain producer`'s text.
fn config_line<'a>(out: &'a str, producer: &str, key: &str) -> &'a str {
    let section = out
        .split("Producer: ")
        .find(|s| s.starts_with(&format!("{producer}\n")))
        .unwrap_or_else(|| panic!("no section for {producer} in {out}"));
    section
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} line for {producer} in {out}"))
}

#[test]
fn explain_producer_quickstart_shows_idempotence_on() {
    let (code, out, err) = cli(&["explain", "producer", "quickstart"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Producer: producer-1\n"), "{out}");
    assert!(
        out.contains("Topic: quickstart-events (3 partitions)"),
        "{out}"
    );
    assert!(out.contains("Rate: 10 records/s"), "{out}");
    // The same partition `explain partition alice --partitions 3` gives.
    assert!(out.contains("alice→0"), "{out}");
    assert!(
        out.contains("Configs for producer producer-1 are:"),
        "{out}"
    );
    let line = config_line(&out, "producer-1", "enable.idempotence");
    assert!(
        line.contains("enable.idempotence=true") && line.ends_with("default"),
        "{line}"
    );
    assert!(
        config_line(&out, "producer-1", "acks").contains("acks=all"),
        "{out}"
    );
    assert!(
        out.contains("so: idempotent: retries cannot duplicate or reorder"),
        "{out}"
    );
}

#[test]
fn explain_producer_acks_1_turns_idempotence_off_with_a_reason() {
    let path = producer_scenario("explain-acks1", "acks = \"1\"\n");
    let path_s = path.to_string_lossy().into_owned();
    let (code, out, err) = cli(&["explain", "producer", &path_s]);
    assert_eq!(code, 0, "{err}");
    let line = config_line(&out, "p2", "enable.idempotence");
    assert!(line.contains("enable.idempotence=false"), "{line}");
    assert!(line.contains("adjusted") && line.contains("acks"), "{line}");
    assert!(
        out.contains("so: enable.idempotence=false: retries may write duplicates"),
        "{out}"
    );
    // The other producer keeps the defaults.
    assert!(
        config_line(&out, "p1", "enable.idempotence").contains("=true"),
        "{out}"
    );

    let (code, out, err) = cli(&["explain", "producer", &path_s, "--producer", "p2"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("Producer: p2\n") && !out.contains("Producer: p1"),
        "{out}"
    );
    let _ = std::fs::remove_file(path);
}

#[test]
fn explain_producer_json_has_one_object_per_producer() {
    let v = run_json(&["explain", "producer", "quickstart", "--json"]);
    let producers = v.as_array().expect("an array");
    assert_eq!(producers.len(), 1, "{v}");
    let p = &producers[0];
    assert_eq!(p["name"], "producer-1");
    assert_eq!(p["idempotence"], true);
    assert_eq!(p["workload"]["topic"], "quickstart-events");
    let config = p["config"].as_array().expect("config array");
    let idempotence = config
        .iter()
        .find(|d| d["key"] == "enable.idempotence")
        .expect("enable.idempotence");
    assert_eq!(idempotence["value"], "true");
    assert_eq!(idempotence["origin"], "default");
    let acks = config.iter().find(|d| d["key"] == "acks").expect("acks");
    assert_eq!(
        (&acks["value"], &acks["origin"]),
        (&"all".into(), &"set".into())
    );

    let path = producer_scenario("explain-json", "acks = \"1\"\n");
    let path_s = path.to_string_lossy().into_owned();
    let v = run_json(&["explain", "producer", &path_s, "--json", "--producer", "p2"]);
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v[0]["idempotence"], false);
    let d = v[0]["config"]
        .as_array()
        .expect("config")
        .iter()
        .find(|d| d["key"] == "enable.idempotence")
        .cloned()
        .expect("enable.idempotence");
    assert_eq!(d["origin"], "adjusted");
    assert!(d["why"].as_str().is_some_and(|w| w.contains("acks")), "{d}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn explain_producer_unknown_name_lists_the_producers() {
    let path = producer_scenario("explain-unknown", "");
    let path_s = path.to_string_lossy().into_owned();
    let (code, out, err) = cli(&["explain", "producer", &path_s, "--producer", "nope"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("unknown producer `nope`") && err.contains("its producers: p1, p2"),
        "{err}"
    );
    let _ = std::fs::remove_file(path);
}

#[test]
fn explain_producer_reports_a_bad_scenario_like_run() {
    let path = producer_scenario(
        "explain-bad",
        "acks = \"1\"\n\"enable.idempotence\" = true\n",
    );
    let path_s = path.to_string_lossy().into_owned();
    let (code, out, err) = cli(&["explain", "producer", &path_s]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    // Line 14 of the file is `"enable.idempotence" = true`.
    assert!(
        err.contains(&format!("{path_s}:14:")) && err.contains("`enable.idempotence`"),
        "{err}"
    );
    assert!(err.contains("acks"), "{err}");
    let (run_code, _, run_err) = cli(&["run", &path_s]);
    assert_eq!((run_code, run_err), (code, err), "the same error as `run`");
    let _ = std::fs::remove_file(path);
}

// `explain coordinator` and `explain assign`: the consumer-group side of `explain`.

#[test]
fn explain_coordinator_prints_java_hash_and_offsets_partition() {
    // "hello".hashCode() = 99162322 in Java; 99162322 % 50 = 22.
    let v = run_json(&["explain", "coordinator", "hello", "--json"]);
    assert_eq!(
        v,
        serde_json::json!({"group": "hello", "hash": 99_162_322, "partition": 22})
    );
    // A negative hash goes through Utils.abs: "my-group".hashCode() = -1906497762.
    let (code, text, _) = cli(&["explain", "coordinator", "my-group", "--partitions", "50"]);
    assert_eq!(code, 0);
    assert!(text.contains("-1906497762"), "{text}");
    assert!(text.contains("1906497762 % 50 = 12"), "{text}");
    assert!(text.contains("__consumer_offsets-12"), "{text}");
    // Integer.MIN_VALUE hashes to partition 0 (abs(MIN_VALUE) = 0).
    let v = run_json(&["explain", "coordinator", "polygenelubricants", "--json"]);
    assert_eq!(
        (v["hash"].as_i64(), v["partition"].as_i64()),
        (Some(i64::from(i32::MIN)), Some(0))
    );
}

#[test]
fn explain_coordinator_rejects_zero_partitions() {
    let (code, out, err) = cli(&["explain", "coordinator", "g", "--partitions", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("--partitions"), "{err}");
}

/// Writes an `explain assign` input file for one test.
fn assign_file(test: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "kafkalab-assign-{test}-{}.toml",
        std::process::id()
    ));
    std::fs::write(&path, text).expect("input written");
    path
}

const C4_2_INPUT: &str = "strategy = \"cooperative-sticky\"
[topics]
topic = 4
[[members]]
id = \"consumer1\"
topics = [\"topic\"]
owned = [\"topic-0\", \"topic-1\"]
[[members]]
id = \"consumer2\"
topics = [\"topic\"]
owned = [\"topic-0\", \"topic-2\"]
[[members]]
id = \"consumer3\"
topics = [\"topic\"]
owned = []
";

#[test]
fn explain_assign_json_reproduces_vector_c4_2() {
    // CooperativeStickyAssignorTest: topic-0 is claimed by consumer1 and consumer2 in the same
    // generation, so it is withheld in the first round.
    let path = assign_file("c4-2", C4_2_INPUT);
    let path_s = path.to_string_lossy().into_owned();
    let v = run_json(&["explain", "assign", "--input", &path_s, "--json"]);
    assert_eq!(
        v,
        serde_json::json!({
            "strategy": "cooperative-sticky",
            "assignment": {
                "consumer1": ["topic-1", "topic-3"],
                "consumer2": ["topic-2"],
                "consumer3": [],
            },
            "withheld": ["topic-0"],
        })
    );
    let _ = std::fs::remove_file(path);
}

#[test]
fn explain_assign_text_lists_members_in_file_order() {
    // RangeAssignorTest.testStaticMemberRangeAssignmentPersistent (static members sort
    // first), plus a fifth member on topic2 alone: topic2's 4 partitions run out before it.
    let path = assign_file(
        "range-text",
        "strategy = \"org.apache.kafka.clients.consumer.RangeAssignor\"
[topics]
topic1 = 5
topic2 = 4
[[members]]
id = \"consumer4\"
topics = [\"topic1\", \"topic2\"]
[[members]]
id = \"consumer1\"
instance = \"instance1\"
topics = [\"topic1\", \"topic2\"]
[[members]]
id = \"consumer2\"
instance = \"instance2\"
topics = [\"topic1\", \"topic2\"]
[[members]]
id = \"consumer3\"
instance = \"instance3\"
topics = [\"topic1\", \"topic2\"]
[[members]]
id = \"idle\"
topics = [\"topic2\"]
",
    );
    let path_s = path.to_string_lossy().into_owned();
    let (code, out, err) = cli(&["explain", "assign", "--input", &path_s]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "consumer4: topic1-4, topic2-3\n\
         consumer1: topic1-0, topic1-1, topic2-0\n\
         consumer2: topic1-2, topic2-1\n\
         consumer3: topic1-3, topic2-2\n\
         idle: (none)\n"
    );
    let (code, text, _) = cli(&["explain", "assign", "--input", &path_s, "--json"]);
    assert_eq!(code, 0);
    assert!(text.contains("\"strategy\":\"range\""), "{text}");
    assert!(
        !text.contains("withheld"),
        "only cooperative-sticky withholds: {text}"
    );
    let _ = std::fs::remove_file(path);
}

#[test]
fn explain_assign_text_names_the_withheld_partition() {
    let path = assign_file("c4-text", C4_2_INPUT);
    let path_s = path.to_string_lossy().into_owned();
    let (code, out, err) = cli(&["explain", "assign", "--input", &path_s]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("consumer1: topic-1, topic-3\nconsumer2: topic-2\nconsumer3: (none)\n"),
        "{out}"
    );
    assert!(
        out.contains("withheld: topic-0 (owned by consumer1 and consumer2, to consumer3"),
        "{out}"
    );
    let _ = std::fs::remove_file(path);
}

#[test]
fn explain_assign_bad_input_exits_2_naming_file_line_and_key() {
    let body = "[topics]\nt1 = 3\n[[members]]\nid = \"c1\"\ntopics = [\"t1\"]\n";
    // An unknown strategy lists the four names.
    let path = assign_file("bad-strategy", &format!("strategy = \"sticki\"\n{body}"));
    let path_s = path.to_string_lossy().into_owned();
    let (code, out, err) = cli(&["explain", "assign", "--input", &path_s]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains(&format!("{path_s}:1:12: `strategy`")), "{err}");
    assert!(
        err.contains("range, roundrobin, sticky, cooperative-sticky"),
        "{err}"
    );
    let _ = std::fs::remove_file(path);

    // An owned partition of an unknown topic, and one beyond the topic's partitions.
    for (owned, needle) in [("t9-0", "unknown topic `t9`"), ("t1-3", "numbered 0 to 2")] {
        let text = format!("strategy = \"sticky\"\n{body}owned = [\"{owned}\"]\n");
        let path = assign_file("bad-owned", &text);
        let path_s = path.to_string_lossy().into_owned();
        let (code, out, err) = cli(&["explain", "assign", "--input", &path_s]);
        assert_eq!(code, 2, "{err}");
        assert!(out.is_empty(), "{out}");
        assert!(
            err.contains(&format!("{path_s}:7:")) && err.contains("`owned`"),
            "{err}"
        );
        assert!(err.contains(needle), "{err}");
        let _ = std::fs::remove_file(path);
    }

    // A missing file.
    let missing = std::env::temp_dir().join("kafkalab-assign-does-not-exist.toml");
    let missing_s = missing.to_string_lossy().into_owned();
    let (code, out, err) = cli(&["explain", "assign", "--input", &missing_s]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(&missing_s) && err.contains("cannot read"),
        "{err}"
    );
}

// --- describe groups ---

/// The scenario of `group_scenario`: two consumers of group `billing` read the 6 partitions
/// of `orders`, which a producer fills with 300 keyed records over 15s.
struct GroupScenario<'a> {
    /// When consumer-2 starts (`None`: with consumer-1, at 0s).
    consumer_2_start: Option<&'a str>,
    /// More `[consumers.config]` lines for both consumers.
    consumer_config: &'a str,
    /// Appended to the file (a `[[timeline]]`, say).
    extra: &'a str,
}

/// consumer-2 joins at 10s, so the group rebalances once more.
const JOIN_AT_10S: GroupScenario = GroupScenario {
    consumer_2_start: Some("10s"),
    consumer_config: "",
    extra: "",
};

/// Writes `s` under a name unique to this test.
fn group_scenario(test: &str, s: &GroupScenario) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("kafkalab-{test}-{}.toml", std::process::id()));
    let consumer = |name: &str, start: Option<&str>| {
        let start = start
            .map(|t| format!("start = \"{t}\"\n"))
            .unwrap_or_default();
        format!(
            "[[consumers]]\nname = \"{name}\"\ntopic = \"orders\"\n{start}\
             [consumers.config]\n\"group.id\" = \"billing\"\n\
             \"auto.offset.reset\" = \"earliest\"\n{}",
            s.consumer_config
        )
    };
    std::fs::write(
        &path,
        format!(
            "name = \"g\"\ndescription = \"test\"\nseed = 1\nduration = \"40s\"\n\
             [cluster]\nbrokers = 3\n\
             [[topics]]\nname = \"orders\"\npartitions = 6\nreplication_factor = 3\n\
             [[producers]]\nname = \"producer-1\"\ntopic = \"orders\"\nrecords = 300\n\
             rate = 20\nkey_count = 12\n{}{}{}",
            consumer("consumer-1", None),
            consumer("consumer-2", s.consumer_2_start),
            s.extra,
        ),
    )
    .expect("scenario written");
    path
}

/// `describe groups` on `path` with `args`: `(exit code, stdout, stderr)`.
fn describe_groups(path: &std::path::Path, args: &[&str]) -> (u8, String, String) {
    let path_s = path.to_string_lossy().into_owned();
    let mut argv = vec!["describe", "groups", path_s.as_str()];
    argv.extend_from_slice(args);
    cli(&argv)
}

/// The table's lines (header first) after the blank line that opens it, checking every
/// column starts where its header does (cells are padded to the widest).
fn table<'a>(out: &'a str, header: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = out.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == header)
        .unwrap_or_else(|| panic!("no header `{header}` in\n{out}"));
    assert_eq!(lines[at - 1], "", "a blank line before the header:\n{out}");
    let rows: Vec<&str> = lines[at..]
        .iter()
        .copied()
        .take_while(|l| !l.is_empty())
        .collect();
    let starts = |line: &str| -> Vec<usize> {
        let bytes = line.as_bytes();
        (0..bytes.len())
            .filter(|&i| bytes[i] != b' ' && (i == 0 || bytes[i - 1] == b' '))
            .collect()
    };
    let columns = starts(header);
    for row in &rows[1..] {
        assert_eq!(starts(row), columns, "misaligned row `{row}` in\n{out}");
        assert_eq!(row.trim_end(), *row, "trailing spaces in `{row}`");
    }
    rows
}

const OFFSETS_HEADER: &str =
    "GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID";

/// The line of `out` that reads `columns` once its padding is collapsed: the header as
/// printed.
fn header_line<'a>(out: &'a str, columns: &str) -> &'a str {
    out.lines()
        .find(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == columns)
        .unwrap_or_else(|| panic!("no header `{columns}` in\n{out}"))
}

#[test]
fn describe_groups_prints_one_offsets_row_per_partition_with_lag() {
    let path = group_scenario("groups-offsets", &JOIN_AT_10S);
    let (code, out, err) = describe_groups(&path, &[]);
    assert_eq!(code, 0, "{err}");
    let path_s = path.to_string_lossy();
    assert!(
        err.contains(&format!(
            "kafkalab describe groups {path_s} --seed 1 --at 40s"
        )),
        "replay hint: {err}"
    );
    assert!(
        out.starts_with("\nGROUP "),
        "blank line, then the header: {out}"
    );
    let rows = table(&out, header_line(&out, OFFSETS_HEADER));
    assert_eq!(rows.len(), 7, "a header and one row per partition:\n{out}");
    let mut partitions = Vec::new();
    let mut owners = std::collections::BTreeSet::new();
    for row in &rows[1..] {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells.len(), 9, "{row}");
        assert_eq!(cells[..2], ["billing", "orders"], "{row}");
        partitions.push(cells[2].parse::<i32>().expect("partition"));
        let current: i64 = cells[3].parse().expect("committed at the end");
        let log_end: i64 = cells[4].parse().expect("log end offset");
        assert_eq!(cells[5].parse::<i64>().expect("lag"), log_end - current);
        // HOST and CLIENT-ID are the consumer's node and name; its member id starts with it.
        assert!(cells[6].starts_with(&format!("{}-", cells[8])), "{row}");
        assert_eq!(cells[7], cells[8], "{row}");
        owners.insert(cells[8].to_string());
    }
    assert_eq!(
        partitions,
        (0..6).collect::<Vec<_>>(),
        "each partition once"
    );
    assert_eq!(owners.len(), 2, "both consumers own partitions: {out}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn describe_groups_before_the_second_consumer_joins_one_member_owns_all() {
    let path = group_scenario("groups-early", &JOIN_AT_10S);
    let (code, out, err) = describe_groups(&path, &["--at", "8s"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("--at 8s"), "{err}");
    let rows = table(&out, header_line(&out, OFFSETS_HEADER));
    assert_eq!(rows.len(), 7, "{out}");
    for row in &rows[1..] {
        assert!(row.ends_with(" consumer-1 consumer-1"), "{row}");
    }
    let _ = std::fs::remove_file(path);
}

#[test]
fn describe_groups_members_lists_each_member_with_its_assignment() {
    let path = group_scenario("groups-members", &JOIN_AT_10S);
    let (code, out, err) = describe_groups(&path, &["--members"]);
    assert_eq!(code, 0, "{err}");
    let rows = table(
        &out,
        header_line(
            &out,
            "GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS ASSIGNMENT",
        ),
    );
    assert_eq!(rows.len(), 3, "a header and one row per member:\n{out}");
    let mut assigned = Vec::new();
    for row in &rows[1..] {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells.len(), 6, "{row}");
        let count: usize = cells[4].parse().expect("#PARTITIONS");
        let list = cells[5]
            .strip_prefix("orders(")
            .and_then(|l| l.strip_suffix(')'))
            .unwrap_or_else(|| panic!("ASSIGNMENT like orders(0,2,4): {row}"));
        let partitions: Vec<i32> = list.split(',').map(|p| p.parse().expect("p")).collect();
        assert_eq!(partitions.len(), count, "{row}");
        assert!(partitions.is_sorted(), "{row}");
        assigned.extend(partitions);
    }
    assigned.sort();
    assert_eq!(assigned, (0..6).collect::<Vec<_>>(), "each partition once");
    let _ = std::fs::remove_file(path);
}

#[test]
fn describe_groups_state_names_coordinator_strategy_and_member_count() {
    let path = group_scenario("groups-state", &JOIN_AT_10S);
    let (code, out, err) = describe_groups(&path, &["--state", "--group", "billing"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("--group billing --state"), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "blank, header, one row:\n{out}");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>().join(" "),
        "GROUP COORDINATOR (ID) ASSIGNMENT-STRATEGY STATE #MEMBERS"
    );
    let row = lines[2];
    let id = row
        .split(" (")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .expect("coordinator (id)");
    assert!(
        row.starts_with(&format!("billing broker-{id} ({id}) ")),
        "{row}"
    );
    assert_eq!(
        row.split_whitespace().rev().take(2).collect::<Vec<_>>(),
        ["2", "Stable"],
        "{row}"
    );
    assert_eq!(
        lines[1].find("STATE"),
        row.find("Stable"),
        "aligned:\n{out}"
    );
    let _ = std::fs::remove_file(path);
}

#[test]
fn describe_groups_json_is_the_group_view() {
    let path = group_scenario("groups-json", &JOIN_AT_10S);
    let (code, out, err) = describe_groups(&path, &["--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "one JSON line: {out}");
    let v: Value = serde_json::from_str(&out).expect("valid JSON");
    let groups = v.as_array().expect("an array of groups");
    assert_eq!(groups.len(), 1, "{v}");
    let g = &groups[0];
    assert_eq!(
        (g["group"].as_str(), g["state"].as_str()),
        (Some("billing"), Some("Stable"))
    );
    for key in ["coordinator", "generation", "protocol", "leader"] {
        assert!(g.get(key).is_some(), "missing `{key}` in {g}");
    }
    let members = g["members"].as_array().expect("members");
    assert_eq!(members.len(), 2, "{g}");
    let mut assigned: Vec<i64> = members
        .iter()
        .flat_map(|m| m["assignment"].as_array().expect("assignment").clone())
        .map(|tp| tp["partition"].as_i64().expect("partition"))
        .collect();
    assigned.sort();
    assert_eq!(assigned, (0..6).collect::<Vec<_>>(), "each partition once");
    let offsets = g["offsets"].as_array().expect("offsets");
    assert_eq!(offsets.len(), 6, "{g}");
    for o in offsets {
        let (committed, log_end) = (o["committed"].as_i64(), o["log_end_offset"].as_i64());
        assert_eq!(
            o["lag"].as_i64(),
            Some(log_end.expect("leo") - committed.expect("c"))
        );
        assert!(o["member_id"].is_string(), "{o}");
    }
    let _ = std::fs::remove_file(path);
}

#[test]
fn describe_groups_unknown_group_names_the_known_ones() {
    let path = group_scenario("groups-unknown", &JOIN_AT_10S);
    let (code, out, err) = describe_groups(&path, &["--group", "nope"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("unknown group `nope`") && err.contains("its groups: billing"),
        "{err}"
    );
    let _ = std::fs::remove_file(path);

    let (code, out, err) = cli(&["describe", "groups", "quickstart"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("has no consumer groups"), "{out}");
}

#[test]
fn describe_groups_says_an_empty_group_has_no_active_members() {
    let timeline = "[[timeline]]\nat = \"25s\"\naction = \"remove-client\"\nnode = \"consumer-1\"\n\
                    [[timeline]]\nat = \"25s\"\naction = \"remove-client\"\nnode = \"consumer-2\"\n";
    // A short session timeout, so the coordinator expires the removed members before 40s.
    let path = group_scenario(
        "groups-empty",
        &GroupScenario {
            consumer_2_start: None,
            consumer_config: "\"session.timeout.ms\" = 6000\n\"heartbeat.interval.ms\" = 1000\n",
            extra: timeline,
        },
    );
    let (code, out, err) = describe_groups(&path, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("\nConsumer group 'billing' has no active members.\n\nGROUP "),
        "{out}"
    );
    // The committed offsets stay; no partition has an owner.
    let rows = table(&out, header_line(&out, OFFSETS_HEADER));
    assert_eq!(rows.len(), 7, "{out}");
    for row in &rows[1..] {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[6..], ["-", "-", "-"], "{row}");
    }
    let (_, out, _) = describe_groups(&path, &["--state"]);
    assert!(out.contains(" Empty 0\n"), "{out}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn run_json_has_groups_with_lag_and_no_internal_partitions() {
    let path = group_scenario("groups-run", &JOIN_AT_10S);
    let path_s = path.to_string_lossy().into_owned();
    let v = run_json(&["run", &path_s, "--json"]);
    let partitions = v["partitions"].as_array().expect("partitions");
    assert_eq!(partitions.len(), 6, "only orders, no __consumer_offsets");
    assert!(partitions.iter().all(|p| p["topic"] == "orders"));
    let groups = v["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "{v}");
    let g = &groups[0];
    assert_eq!(
        (g["group"].as_str(), g["state"].as_str()),
        (Some("billing"), Some("Stable"))
    );
    assert!(g["generation"].as_i64().is_some_and(|n| n >= 1), "{g}");
    let mut assigned: Vec<&str> = g["assignment"]
        .as_object()
        .expect("assignment by member")
        .values()
        .flat_map(|tps| tps.as_array().expect("partitions"))
        .map(|tp| tp.as_str().expect("orders-N"))
        .collect();
    assigned.sort();
    assert_eq!(
        assigned,
        [
            "orders-0", "orders-1", "orders-2", "orders-3", "orders-4", "orders-5"
        ]
    );
    let lag = g["lag"].as_object().expect("lag by partition");
    assert_eq!(lag.len(), 6, "{g}");
    let sum: i64 = lag.values().map(|n| n.as_i64().expect("known lag")).sum();
    assert_eq!(g["total_lag"].as_i64(), Some(sum), "{g}");
    // Lag is what the final log holds beyond the committed offset.
    let (_, text, _) = cli(&["run", &path_s]);
    assert!(
        text.contains(&format!(
            "Group       billing  state Stable  generation {}  members 2  total_lag {sum}\n",
            g["generation"]
        )),
        "{text}"
    );
    let _ = std::fs::remove_file(path);
}
