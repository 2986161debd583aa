use super::*;

const GOOD: &str = r#"+++
title = "A test lesson"
scenario = "leader-failure"
seed = 1
minutes = 5
+++

Intro **prose**.

## Look

Some prose.

```step
run = "2s"
observe = true
```

## Guess

```step
[predict]
question = "Who leads orders-0?"
kind = "broker"
answer = "leader(orders, 0)"
why = "The first replica is the preferred leader."
then = "1s"
```

## Break it

```step
[do]
task = "Crash the leader of orders-0."
until = "leader(orders, 0) != 1"
hint = "Press x, then crash a node."
solution = [{ action = "crash", node = "broker-{leader(orders, 0)}" }]
within = "20s"
```
"#;

fn error(text: &str) -> LessonError {
    match parse_lesson(text, "lessons/99-bad.md") {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn a_good_lesson_parses_into_steps() {
    let lesson = parse_lesson(GOOD, "lessons/07-test-lesson.md").expect("valid");
    assert_eq!((lesson.number, lesson.name.as_str()), (7, "test-lesson"));
    assert_eq!(lesson.intro, "Intro **prose**.");
    let kinds: Vec<&str> = lesson.steps.iter().map(|s| s.checkpoint.kind()).collect();
    assert_eq!(kinds, ["observe", "predict", "do"]);
    assert_eq!(lesson.steps[0].prose, "Some prose.");
    assert!(matches!(lesson.steps[0].advance, Advance::For(2_000_000)));
}

#[test]
fn mistakes_are_located_with_the_key_and_what_is_valid() {
    let e = error(&GOOD.replace("kind = \"broker\"", "kind = \"brokr\""));
    assert_eq!(e.line, 24, "{e}");
    assert!(e.message.contains("yes-no"), "{e}");

    let e = error(&GOOD.replace(
        "answer = \"leader(orders, 0)\"",
        "answer = \"leeder(orders, 0)\"",
    ));
    assert_eq!((e.line, e.key.as_deref()), (25, Some("answer")), "{e}");
    assert!(e.message.contains("known: leader"), "{e}");

    let e = error(&GOOD.replace("observe = true", "observe = true\nrn = \"1s\""));
    assert!(e.message.contains("unknown field `rn`"), "{e}");
    assert_eq!(e.key.as_deref(), Some("rn"));

    let e = error(&GOOD.replace(
        "node = \"broker-{leader(orders, 0)}\"",
        "nod = \"broker-1\"",
    ));
    assert_eq!(e.key.as_deref(), Some("solution"), "{e}");
    assert!(e.message.contains("crash"), "{e}");

    let e = error(&GOOD.replace("run = \"2s\"\nobserve = true", "run = \"2s\""));
    assert!(e.message.contains("exactly one checkpoint"), "{e}");

    let e = error(&GOOD.replace("```step\nrun = \"2s\"\nobserve = true\n```", ""));
    assert!(e.message.contains("no ```step block"), "{e}");
    assert_eq!(e.line, 10, "{e}");

    let e = error(&GOOD.replace("+++\ntitle", "title"));
    assert!(e.message.contains("front matter"), "{e}");

    let e = error(&GOOD.replace("run = \"2s\"", "run = \"2\""));
    assert_eq!(e.key.as_deref(), Some("run"), "{e}");
}

#[test]
fn answers_are_judged_by_kind() {
    let lesson = parse_lesson(GOOD, "x.md").expect("valid");
    let Checkpoint::Predict(p) = &lesson.steps[1].checkpoint else {
        panic!("a prediction");
    };
    let two = query::Value::Int(2);
    for typed in ["2", "b2", "broker-2", " Broker-2 "] {
        assert_eq!(play::judge(p, &two, typed), Ok(true), "{typed}");
    }
    assert_eq!(play::judge(p, &two, "3"), Ok(false));
    // Text that is not an answer of the kind says what to type, and does not give the
    // answer away.
    let err = play::judge(p, &query::Value::Int(7), "the second").expect_err("not an id");
    assert!(err.contains("broker id"), "{err}");
    assert!(!err.contains('7'), "{err}");
}

#[test]
fn the_good_lesson_auto_plays() {
    let lesson = parse_lesson(GOOD, "x.md").expect("valid");
    let scenario = match crate::scenario::load_builtin("leader-failure") {
        Some(Ok(s)) => Arc::new(s),
        other => panic!("{other:?}"),
    };
    let outcomes = play::auto_play(&lesson, scenario.clone()).expect("plays");
    assert_eq!(outcomes.len(), 3);
    assert_eq!(
        outcomes[1].answered,
        Some(("1".to_string(), "2".to_string()))
    );
    // A task whose solution cannot work fails the lesson, naming the step. (Within 5 s:
    // the scenario itself crashes orders-0's leader at 10 s.)
    let broken = parse_lesson(
        &GOOD
            .replace("broker-{leader(orders, 0)}", "broker-3")
            .replace("within = \"20s\"", "within = \"5s\""),
        "x.md",
    )
    .expect("valid");
    let err = play::auto_play(&broken, scenario).expect_err("broker-3 does not lead orders-0");
    assert!(err.starts_with("step 3 (`Break it`)"), "{err}");
}

use std::sync::Arc;
