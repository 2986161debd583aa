//! A malformed scenario gets an error naming the file, line, column, key and what would be
//! valid; the CLI exits 2 and prints no stack trace.

use kafkalab_sim::scenario::{ScenarioError, parse_scenario};
use kafkalab_tests::cli;

const GOOD: &str = r#"
duration = "5s"
[[topics]]
name = "t"
partitions = 2
[[producers]]
name = "p"
topic = "t"
records = 3
"#;

fn error(text: &str) -> ScenarioError {
    match parse_scenario(text, "bad.toml") {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn the_good_base_scenario_loads() {
    let s = parse_scenario(GOOD, "good.toml").expect("valid");
    assert_eq!(s.name, "good");
    assert_eq!(s.duration_us, 5_000_000);
}

#[test]
fn toml_syntax_errors_are_located() {
    let e = error("duration = \"5s\"\n[[topics]\nname = \"t\"\n");
    assert_eq!((e.file.as_str(), e.line), ("bad.toml", 2));
    assert!(e.to_string().starts_with("bad.toml:2:"), "{e}");
}

#[test]
fn unknown_keys_list_the_valid_ones() {
    let e = error(&GOOD.replace("partitions = 2", "partitons = 2"));
    assert_eq!(e.line, 5);
    assert!(e.message.contains("unknown field `partitons`"), "{e}");
    assert!(e.message.contains("partitions"), "{e}");
}

#[test]
fn bad_values_name_the_key() {
    let e = error(&GOOD.replace("partitions = 2", "partitions = \"two\""));
    assert_eq!(e.key.as_deref(), Some("partitions"));
    assert_eq!((e.line, e.column), (5, 14));
}

#[test]
fn unknown_kafka_configs_are_rejected_with_the_valid_names() {
    let text = format!("{GOOD}[producers.config]\n\"retrys\" = 0\n");
    let e = error(&text);
    assert_eq!(e.key.as_deref(), Some("retrys"));
    assert_eq!(e.line, 11);
    assert!(e.message.contains("valid: acks"), "{e}");

    let text = format!("{GOOD}[producers.config]\nacks = \"2\"\n");
    let e = error(&text);
    assert_eq!(e.key.as_deref(), Some("acks"));
    assert!(e.message.contains("0, 1 or all"), "{e}");

    let text = GOOD.replace(
        "partitions = 2",
        "partitions = 2\nconfig = { \"retention.ms\" = \"soon\" }",
    );
    let e = error(&text);
    assert_eq!(e.key.as_deref(), Some("retention.ms"));
}

#[test]
fn references_to_unknown_topics_and_nodes() {
    let e = error(&GOOD.replace("topic = \"t\"", "topic = \"orders\""));
    assert_eq!(e.key.as_deref(), Some("topic"));
    assert!(e.message.contains("defined topics: t"), "{e}");

    let text =
        format!("{GOOD}[[timeline]]\nat = \"1s\"\naction = \"crash\"\nnode = \"broker-9\"\n");
    let e = error(&text);
    assert!(e.message.contains("unknown node `broker-9`"), "{e}");
    assert!(e.message.contains("broker-1"), "{e}");
    assert_eq!(e.line, 13);
}

#[test]
fn unknown_actions_list_the_valid_ones() {
    let text =
        format!("{GOOD}[[timeline]]\nat = \"1s\"\naction = \"explode\"\nnode = \"broker-1\"\n");
    let e = error(&text);
    assert_eq!(e.key.as_deref(), Some("action"));
    assert!(e.message.contains("unknown variant `explode`"), "{e}");
    assert!(e.message.contains("power-loss"), "{e}");
    let text = format!("{GOOD}[[timeline]]\naction = \"crash\"\nnode = \"broker-1\"\n");
    assert_eq!(error(&text).key.as_deref(), Some("at"));
}

#[test]
fn durations_need_units_and_replication_is_not_faked() {
    let e = error(&GOOD.replace("duration = \"5s\"", "duration = \"5\""));
    assert_eq!(e.key.as_deref(), Some("duration"));
    assert!(e.message.contains("no unit"), "{e}");
    let e = error(&GOOD.replace("partitions = 2", "partitions = 2\nreplication_factor = 3"));
    assert_eq!(e.key.as_deref(), Some("replication_factor"));
}

#[test]
fn the_cli_exits_2_with_the_located_error_and_no_panic() {
    let dir = std::env::temp_dir().join(format!("kafkalab-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bad.toml");
    std::fs::write(&path, GOOD.replace("records = 3", "records = 3\nrat = 5")).expect("write");
    let path = path.to_string_lossy().into_owned();
    let (code, out, err) = cli(&["run", &path, "--json"]);
    assert_eq!(code, 2);
    assert!(out.is_empty(), "stdout must stay empty: {out}");
    assert!(err.contains(&format!("{path}:10:1")), "{err}");
    assert!(err.contains("unknown field `rat`"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );

    let (code, _, err) = cli(&["run", "no-such-scenario"]);
    assert_eq!(code, 2);
    assert!(err.contains("quickstart"), "lists the built-ins: {err}");
    let (code, _, _) = cli(&["run", "quickstart", "--until", "5 parsecs"]);
    assert_eq!(code, 2);
}
