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

/// `GOOD` with one timeline entry at 1s (lines 10-11 are `[[timeline]]` and `at`).
fn with_entry(body: &str) -> String {
    format!("{GOOD}[[timeline]]\nat = \"1s\"\n{body}")
}

#[test]
fn malformed_add_partitions_names_the_file_line_and_key() {
    // The count must grow: `t` has 2 partitions.
    let e = error(&with_entry(
        "action = \"add-partitions\"\ntopic = \"t\"\npartitions = 2\n",
    ));
    assert_eq!((e.file.as_str(), e.line), ("bad.toml", 14));
    assert_eq!(e.key.as_deref(), Some("partitions"));
    assert!(e.message.contains("can only grow"), "{e}");
    assert!(e.message.contains("between 3 and 1000"), "{e}");
    assert!(e.to_string().starts_with("bad.toml:14:1: "), "{e}");

    let e = error(&with_entry(
        "action = \"add-partitions\"\ntopic = \"orders\"\npartitions = 4\n",
    ));
    assert_eq!((e.line, e.key.as_deref()), (13, Some("topic")));
    assert!(
        e.message
            .contains("unknown topic `orders`; defined topics: t"),
        "{e}"
    );

    let e = error(&with_entry("action = \"add-partitions\"\ntopic = \"t\"\n"));
    assert_eq!((e.line, e.key.as_deref()), (12, Some("partitions")));
    assert!(e.message.contains("missing field `partitions`"), "{e}");

    let e = error(&with_entry(
        "action = \"add-partitions\"\ntopic = \"t\"\npartition = 4\n",
    ));
    assert_eq!((e.line, e.key.as_deref()), (14, Some("partition")));
    assert!(
        e.message.contains("`partitions`"),
        "lists the valid keys: {e}"
    );

    let e = error(&with_entry(
        "action = \"add-partitions\"\ntopic = \"t\"\npartitions = \"six\"\n",
    ));
    assert_eq!((e.line, e.key.as_deref()), (14, Some("partitions")));
    assert!(e.message.contains("invalid type: string \"six\""), "{e}");

    let e = error(&with_entry(
        "action = \"add-partitions\"\ntopic = \"t\"\npartitions = 2000\n",
    ));
    assert_eq!((e.line, e.key.as_deref()), (14, Some("partitions")));
    assert!(e.message.contains("at most 1000"), "{e}");
}

#[test]
fn add_partitions_counts_follow_the_timeline() {
    let grow = |at: &str, n: i32| {
        format!(
            "[[timeline]]\nat = \"{at}\"\naction = \"add-partitions\"\ntopic = \"t\"\npartitions = {n}\n"
        )
    };
    let seek = "[[timeline]]\nat = \"3s\"\naction = \"seek\"\nconsumer = \"c\"\ntopic = \"t\"\n\
                partition = 3\noffset = 0\n";
    let consumer = "[[consumers]]\nname = \"c\"\ntopic = \"t\"\n";
    // Entries apply in time order, whatever their order in the file.
    let text = format!("{GOOD}{consumer}{}{}{seek}", grow("2s", 5), grow("1s", 4));
    let s = parse_scenario(&text, "ok.toml").expect("4 then 5, then a seek to partition 3");
    assert_eq!(s.timeline.len(), 3);
    // Growing to 4 and then to 4 again is refused at the second entry.
    let text = format!("{GOOD}{consumer}{}{}", grow("1s", 4), grow("2s", 4));
    let e = error(&text);
    assert_eq!(e.key.as_deref(), Some("partitions"));
    assert!(e.message.contains("`t` has 4 partitions"), "{e}");
    // A seek to partition 3 before the topic grows names a partition that does not exist.
    let text = format!("{GOOD}{consumer}{seek}{}", grow("4s", 4));
    assert_eq!(error(&text).key.as_deref(), Some("partition"));
}

#[test]
fn an_action_before_its_client_joins_or_on_the_wrong_kind_of_node_is_refused() {
    // `c` joins at 3s; the entry at 1s (line 17 names it) is before that.
    let late = "[[consumers]]\nname = \"c\"\ntopic = \"t\"\nstart = \"3s\"\n";
    let e = error(&format!(
        "{GOOD}{late}[[timeline]]\nat = \"1s\"\naction = \"remove-client\"\nnode = \"c\"\n"
    ));
    assert_eq!((e.line, e.key.as_deref()), (17, Some("node")));
    assert!(e.to_string().starts_with("bad.toml:17:1: `node`: "), "{e}");
    assert!(
        e.message
            .contains("`c` joins the run at 3s (its `start`), after this action at 1s"),
        "{e}"
    );
    assert!(e.message.contains("set `at` to 3s or later"), "{e}");
    // Not yet among the nodes at 1s.
    let e = error(&format!(
        "{GOOD}{late}[[timeline]]\nat = \"1s\"\naction = \"crash\"\nnode = \"d\"\n"
    ));
    assert!(
        e.message
            .contains("nodes at this point: broker-1, controller, p"),
        "{e}"
    );
    // A client added by the timeline joins at its entry's time.
    let add = "[[timeline]]\nat = \"2s\"\naction = \"add-producer\"\nname = \"q\"\ntopic = \"t\"\n";
    let text = format!("{}{add}", with_entry("action = \"pause\"\nnode = \"q\"\n"));
    let e = error(&text);
    assert!(e.message.contains("unknown node `q`"), "{e}");

    let e = error(&with_entry(
        "action = \"produce\"\nproducer = \"broker-1\"\ncount = 3\n",
    ));
    assert_eq!((e.line, e.key.as_deref()), (13, Some("producer")));
    assert!(
        e.message.contains(
            "`broker-1` is a broker, but this action needs a producer; producers at this point: p"
        ),
        "{e}"
    );
    let e = error(&with_entry(
        "action = \"remove-client\"\nnode = \"controller\"\n",
    ));
    assert_eq!(e.key.as_deref(), Some("node"));
    assert!(e.message.contains("needs a producer or consumer"), "{e}");
    let e = error(&with_entry(
        "action = \"seek\"\nconsumer = \"p\"\ntopic = \"t\"\npartition = 0\noffset = 0\n",
    ));
    assert_eq!(e.key.as_deref(), Some("consumer"));
    assert!(e.message.contains("consumers at this point: none"), "{e}");
}

#[test]
fn an_action_on_a_client_once_it_has_joined_loads_and_runs() {
    let text = format!(
        "{GOOD}[[consumers]]\nname = \"c\"\ntopic = \"t\"\nstart = \"3s\"\n\
         [[timeline]]\nat = \"3s\"\naction = \"crash\"\nnode = \"c\"\n"
    );
    let path = std::env::temp_dir().join(format!("kafkalab-late-{}.toml", std::process::id()));
    std::fs::write(&path, text).expect("write");
    let path = path.to_string_lossy().into_owned();
    let (code, out, err) = cli(&["run", &path, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"produced\":3"), "{out}");
}

// ----- [expect] -----

fn with_expect(body: &str) -> String {
    format!("{GOOD}{body}")
}

#[test]
fn expectations_load_in_file_order_with_their_scope() {
    use kafkalab_sim::scenario::{Bound, Scope};
    let text = with_expect(
        "[expect]\nlost_write = 0\nacked = \">=3\"\n[expect.some_seed]\nproduced = \"0..=3\"\n",
    );
    let s = parse_scenario(&text, "good.toml").expect("valid");
    let got: Vec<(String, Bound, Scope)> = s
        .expectations
        .iter()
        .map(|e| (e.metric.clone(), e.bound, e.scope))
        .collect();
    assert_eq!(
        got,
        vec![
            ("lost_write".into(), Bound::Exactly(0), Scope::EverySeed),
            ("acked".into(), Bound::AtLeast(3), Scope::EverySeed),
            (
                "produced".into(),
                Bound::Range {
                    start: 0,
                    end: 3,
                    inclusive: true
                },
                Scope::SomeSeed
            ),
        ]
    );
    // Inline forms locate and load too.
    let text = with_expect("[expect]\nsome_seed = { unseen = \">0\" }\n");
    let s = parse_scenario(&text, "good.toml").expect("valid");
    assert_eq!(s.expectations[0].to_string(), "unseen > 0");
}

#[test]
fn malformed_expectations_name_the_file_line_key_and_what_is_valid() {
    // Unknown summary number: located at the key, listing the valid names.
    let e = error(&with_expect("[expect]\nlost_write = 0\nlost_writes = 0\n"));
    assert_eq!((e.line, e.column), (12, 1), "{e}");
    assert_eq!(e.key.as_deref(), Some("lost_writes"));
    assert!(e.message.contains("valid"), "{e}");
    assert!(e.message.contains("lost_write, "), "{e}");
    assert!(e.message.contains("processed_twice"), "{e}");

    // A bad comparison: located at the value, with the forms that work.
    let e = error(&with_expect("[expect]\nlost_write = \"lots\"\n"));
    assert_eq!(
        (e.line, e.column, e.key.as_deref()),
        (11, 14, Some("lost_write"))
    );
    assert!(e.message.contains("\">=N\""), "{e}");
    assert!(e.to_string().starts_with("bad.toml:11:14: "), "{e}");

    // In [expect.some_seed].
    let e = error(&with_expect(
        "[expect]\nlost_write = 0\n[expect.some_seed]\nunseen = \"> x\"\n",
    ));
    assert_eq!((e.line, e.key.as_deref()), (13, Some("unseen")), "{e}");
    let e = error(&with_expect("[expect.some_seed]\nunsen = 1\n"));
    assert_eq!(
        (e.line, e.column, e.key.as_deref()),
        (11, 1, Some("unsen")),
        "{e}"
    );
    assert!(e.message.contains("[expect.some_seed]"), "{e}");

    // Wrong types, negative counts, empty ranges, unknown tables.
    for (body, line, needle) in [
        ("[expect]\nlost_write = 1.5\n", 11, "an integer"),
        ("[expect]\nlost_write = -1\n", 11, "0 or more"),
        ("[expect]\nlost_write = \"3..3\"\n", 11, "empty range"),
        ("[expect]\nsome_seed = 1\n", 11, "[expect.some_seed]"),
        (
            "[expect.every_seed]\nlost_write = 0\n",
            10,
            "unknown table [expect.every_seed]",
        ),
    ] {
        let e = error(&with_expect(body));
        assert_eq!(e.line, line, "{body}: {e}");
        assert!(e.message.contains(needle), "{body}: {e}");
    }
}

#[test]
fn step_entries_load_and_malformed_ones_name_the_key() {
    use kafkalab_sim::kernel::At;
    let text = format!(
        "{GOOD}[[timeline]]\nstep = 40\naction = \"crash\"\nnode = \"broker-1\"\n\
         [[timeline]]\nat = \"2s\"\naction = \"restart\"\nnode = \"broker-1\"\n"
    );
    let s = parse_scenario(&text, "good.toml").expect("valid");
    // Timed entries first, step entries after them (their times are not known yet).
    let ats: Vec<At> = s.timeline.iter().map(|t| t.at).collect();
    assert_eq!(
        ats,
        [
            At::Time(kafkalab_sim::kernel::SimTime::from_micros(2_000_000)),
            At::Step(40)
        ]
    );

    let both = format!(
        "{GOOD}[[timeline]]\nat = \"1s\"\nstep = 3\naction = \"crash\"\nnode = \"broker-1\"\n"
    );
    let e = error(&both);
    assert_eq!((e.key.as_deref(), e.line), (Some("step"), 12));
    assert!(e.message.contains("not both"), "{e}");

    let negative =
        format!("{GOOD}[[timeline]]\nstep = -1\naction = \"crash\"\nnode = \"broker-1\"\n");
    let e = error(&negative);
    assert_eq!((e.key.as_deref(), e.line), (Some("step"), 11));
    assert!(e.message.contains("integer >= 0"), "{e}");

    let neither = format!("{GOOD}[[timeline]]\naction = \"crash\"\nnode = \"broker-1\"\n");
    let e = error(&neither);
    assert!(
        e.message.contains("`at`") && e.message.contains("`step`"),
        "{e}"
    );

    let unknown =
        format!("{GOOD}[[timeline]]\nstep = 5\naction = \"crash\"\nnode = \"broker-9\"\n");
    let e = error(&unknown);
    assert!(e.message.contains("unknown node `broker-9`"), "{e}");
}
