//! Every lesson of the course plays headless (`kafkalab learn <lesson> --auto`): each task is
//! done by its solution, each prediction's answer comes from the live run and a wrong answer
//! is refused. And the course has the shape the lessons issue asks for.

use kafkalab_tests::cli;

struct Entry {
    number: u64,
    name: String,
    steps: u64,
    predict: u64,
    r#do: u64,
}

fn catalogue() -> Vec<Entry> {
    let (code, out, err) = cli(&["lessons", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let num = |v: &serde_json::Value, k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k}: {v}"));
    json.as_array()
        .expect("an array")
        .iter()
        .map(|v| Entry {
            number: num(v, "number"),
            name: v["name"].as_str().expect("name").to_string(),
            steps: num(v, "steps"),
            predict: num(v, "predict"),
            r#do: num(v, "do"),
        })
        .collect()
}

#[test]
fn every_lesson_auto_plays_with_a_predict_and_a_do() {
    let lessons = catalogue();
    // The course: at least the 14 lessons of the issue, numbered 1, 2, 3, ... in order.
    assert!(lessons.len() >= 14, "{} lessons", lessons.len());
    for (i, lesson) in lessons.iter().enumerate() {
        assert_eq!(
            lesson.number,
            i as u64 + 1,
            "lesson {} out of order",
            lesson.name
        );
        assert!(
            lesson.steps >= 3 && lesson.predict >= 1 && lesson.r#do >= 1,
            "lesson {} needs at least 3 checkpoints with a predict and a do",
            lesson.name
        );
        let (code, out, err) = cli(&["learn", &lesson.number.to_string(), "--auto"]);
        assert_eq!(code, 0, "lesson {}: {err}{out}", lesson.name);
        assert!(
            out.contains(&format!("passed: {} steps", lesson.steps)),
            "{out}"
        );
        // By name too.
        let (code, _, err) = cli(&["learn", &lesson.name, "--auto"]);
        assert_eq!(code, 0, "{err}");
    }
}

#[test]
fn a_lesson_whose_task_cannot_complete_fails_naming_the_step() {
    let dir = std::env::temp_dir().join(format!("kafkalab-lesson-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let path = dir.join("bad.md");
    let lesson = r#"+++
title = "Broken"
scenario = "quickstart"
seed = 1
+++

## Wait for nothing

```step
run = "1s"
observe = true
```

## Guess

```step
[predict]
question = "How many partitions?"
kind = "number"
answer = "partitions(quickstart-events)"
why = "Three."
```

## An impossible task

```step
[do]
task = "Make the topic have 9 partitions."
until = "partitions(quickstart-events) == 9"
hint = "You cannot, here."
solution = [{ action = "produce", producer = "producer-1", count = 1 }]
within = "2s"
```
"#;
    std::fs::write(&path, lesson).expect("write");
    let (code, _, err) = cli(&["learn", &path.display().to_string(), "--auto"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("step 3 (`An impossible task`)"), "{err}");
    assert!(err.contains("partitions(quickstart-events) == 9"), "{err}");

    // A malformed lesson: the file, line and key.
    std::fs::write(
        &path,
        lesson.replace("kind = \"number\"", "kind = \"count\""),
    )
    .expect("write");
    let (code, _, err) = cli(&["learn", &path.display().to_string(), "--auto"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.md:19:"), "{err}");
    assert!(err.contains("yes-no"), "{err}");

    let (code, _, err) = cli(&["learn", "no-such-lesson", "--auto"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown lesson `no-such-lesson`") && err.contains("1 topics"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn learn_without_auto_needs_a_terminal_and_says_how_to_play_headless() {
    // The tests have no terminal: the lab cannot open, and the error says what to run.
    let (code, _, err) = cli(&["learn", "2"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the lab needs a terminal") && err.contains("kafkalab learn 2 --auto"),
        "{err}"
    );
    // The lesson is found before that: a wrong one is named as such.
    let (code, _, err) = cli(&["learn", "no-such-lesson"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown lesson `no-such-lesson`"), "{err}");
    // --auto plays a lesson: it needs one.
    let (code, _, err) = cli(&["learn", "--auto"]);
    assert_eq!(code, 2);
    assert!(err.contains("<LESSON>"), "{err}");
}
