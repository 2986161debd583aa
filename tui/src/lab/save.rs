//! `s` in the lab: the session as a scenario file that `kafkalab run` replays to the same trace.
//!
//! A run is a pure function of (scenario, seed, command log), so a session saves as exactly
//! that: the scenario's own text (its comments too), the session's seed as `seed`, and each
//! learner command as a `[[timeline]]` entry stamped with its step (`step = N`). A step, not a
//! time: the learner acted between two steps, and an `at` time would order the action after
//! the other events of that same instant.
//!
//! The text is edited line by line rather than re-serialized, to keep the scenario's comments
//! (they are the teaching). The result is parsed back before it is returned, so a scenario
//! whose layout defeats the editing is reported, never saved broken.

use super::session::Session;
use kafkalab_sim::scenario::{Action, parse_scenario};
use std::fmt::Write as _;

/// The session as a scenario file's text. See the module docs.
pub fn session_toml(session: &Session) -> Result<String, String> {
    let scenario = session.scenario();
    let name = format!("{}-session", scenario.name);
    let (top, rest) = split_top_level(&scenario.text);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# A Kafka Lab session: `{}` at seed {} with {} learner command(s), saved from\n\
         # `kafkalab tui`. `kafkalab run <this file>` replays it to the same trace; the\n\
         # learner's commands are the step-stamped [[timeline]] entries at the end.",
        scenario.name,
        session.seed(),
        session.commands().len()
    );
    let mut wrote_seed = false;
    let mut wrote_name = false;
    for line in top.lines() {
        if top_level_key(line) == Some("seed") {
            let _ = writeln!(out, "seed = {}", session.seed());
            wrote_seed = true;
        } else if top_level_key(line) == Some("name") {
            let _ = writeln!(out, "name = \"{name}\"");
            wrote_name = true;
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
    if !wrote_name {
        let _ = writeln!(out, "name = \"{name}\"");
    }
    if !wrote_seed {
        let _ = writeln!(out, "seed = {}", session.seed());
    }
    let diverged = session.diverged();
    out += &without_expectations(rest, diverged);
    if diverged {
        out += "\n# ----- the learner's commands, in step order -----\n";
    }
    for command in session.commands() {
        let _ = writeln!(
            out,
            "\n[[timeline]]\nstep = {}\n{}",
            command.step,
            action_fields(&command.action)?.trim_end()
        );
    }
    check_round_trip(session, &out)?;
    Ok(out)
}

/// The text before the first table header, and the rest.
fn split_top_level(text: &str) -> (&str, &str) {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with('[') {
            return text.split_at(offset);
        }
        offset += line.len();
    }
    (text, "")
}

/// The key a top-level `key = value` line sets.
fn top_level_key(line: &str) -> Option<&str> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && !key.starts_with('#')).then_some(key)
}

/// `text` without its `[expect]` and `[expect.some_seed]` tables when the learner changed the
/// run: they state what the scenario as written shows, which a changed run need not.
fn without_expectations(text: &str, diverged: bool) -> String {
    if !diverged {
        return text.to_string();
    }
    let mut out = String::new();
    let mut in_expect = false;
    let mut dropped = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            in_expect = trimmed.starts_with("[expect]") || trimmed.starts_with("[expect.");
            if in_expect && !dropped {
                out += "# [expect] left out: the learner's commands change what this run shows.\n";
                dropped = true;
            }
        }
        if !in_expect {
            out += line;
        }
    }
    out
}

/// An action's fields as TOML lines (`action = "crash"`, `node = "broker-1"`).
fn action_fields(action: &Action) -> Result<String, String> {
    toml::to_string(action).map_err(|e| format!("cannot write {action:?} as TOML: {e}"))
}

/// The saved text must load, with the session's seed and every command on its timeline.
fn check_round_trip(session: &Session, text: &str) -> Result<(), String> {
    let scenario = session.scenario();
    let saved = parse_scenario(text, &format!("{}-session.toml", scenario.name))
        .map_err(|e| format!("the saved session would not load ({e}); nothing was written"))?;
    let expected = scenario.timeline.len() + session.commands().len();
    if saved.default_seed != session.seed() || saved.timeline.len() != expected {
        return Err(format!(
            "the saved session would not replay this run (seed {} vs {}, {} vs {expected} \
             timeline entries); nothing was written",
            saved.default_seed,
            session.seed(),
            saved.timeline.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_are_left_out_only_of_changed_runs() {
        let text = "[topics]\nx = 1\n[expect]\nlost_write = 0\n[expect.some_seed]\na = 1\n[[timeline]]\nat = \"1s\"\n";
        assert_eq!(without_expectations(text, false), text);
        let kept = without_expectations(text, true);
        assert!(
            !kept.contains("lost_write") && !kept.contains("a = 1"),
            "{kept}"
        );
        assert!(kept.contains("[topics]\nx = 1\n") && kept.contains("[[timeline]]\nat"));
    }

    fn end_hash(sim: &mut kafkalab_sim::Simulation) -> u64 {
        sim.run_to_end();
        sim.world().trace_hash()
    }

    #[test]
    fn a_saved_session_replays_to_the_same_trace() {
        let scenario = match kafkalab_sim::scenario::load_builtin("rebalance-on-join") {
            Some(Ok(s)) => std::sync::Arc::new(s),
            other => panic!("{other:?}"),
        };
        let mut session = Session::new(scenario, 3);
        session.goto(1_500);
        let commands = [
            (
                1_500,
                Action::Crash {
                    node: "broker-2".into(),
                },
            ),
            (
                1_500,
                Action::Produce {
                    producer: "producer-1".into(),
                    count: 50,
                },
            ),
            (
                4_000,
                Action::Restart {
                    node: "broker-2".into(),
                },
            ),
            (
                6_000,
                Action::Cut {
                    from: "broker-1".into(),
                    to: "broker-3".into(),
                    one_way: false,
                },
            ),
        ];
        for (step, action) in commands {
            session.goto(step);
            session.apply(action).expect("valid in the run");
        }
        while session.forward() {}
        let text = session_toml(&session).expect("saves");
        assert!(text.contains("step = 6000\naction = \"cut\""), "{text}");
        assert!(!text.contains("\n[expect"), "{text}");
        let saved = parse_scenario(&text, "saved.toml").expect("loads");
        assert_eq!(saved.name, "rebalance-on-join-session");
        let mut replay = kafkalab_sim::Simulation::new(std::sync::Arc::new(saved), 3);
        assert_eq!(end_hash(&mut replay), session.sim().world().trace_hash());
        // ... and the commands mattered: the scenario as written ends elsewhere.
        let mut straight = kafkalab_sim::Simulation::new(session.scenario().clone().into(), 3);
        assert_ne!(end_hash(&mut straight), session.sim().world().trace_hash());

        // Without commands the file is the scenario itself, expectations kept.
        let plain = Session::new(session.scenario().clone().into(), 3);
        let text = session_toml(&plain).expect("saves");
        assert!(text.contains("\n[expect]"), "{text}");
    }

    #[test]
    fn the_top_level_ends_at_the_first_table() {
        let (top, rest) = split_top_level("# c\nseed = 3\n\n[cluster]\nbrokers = 3\n");
        assert_eq!(top, "# c\nseed = 3\n\n");
        assert_eq!(rest, "[cluster]\nbrokers = 3\n");
        assert_eq!(top_level_key("seed = 3"), Some("seed"));
        assert_eq!(top_level_key("# seed = 3"), None);
    }
}
