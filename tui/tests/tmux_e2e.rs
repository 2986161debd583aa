//! The real binary in a real terminal: tmux runs `kafkalab`, the test types keys (`send-keys`)
//! and reads the screen (`capture-pane`), as a learner would. In `tui leader-failure`: step,
//! crash the leader from the fault menu, find the new leader, quit — and the terminal is back
//! to normal (the shell's own output visible, the lab's alternate screen gone). In `learn 1`:
//! answer a prediction wrongly, then rightly, go on, quit, and find the progress saved.
//!
//! Needs tmux. Without it the test says so and passes, unless `KAFKALAB_REQUIRE_TMUX` is set —
//! as `.ci/run` does after installing tmux, so CI cannot skip it.

use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

struct Tmux {
    session: String,
}

impl Tmux {
    /// Runs `command` (with `NO_COLOR=1`) in a new 120x40 session named after `name`.
    fn start(name: &str, command: &str) -> Tmux {
        let session = format!("kafkalab-e2e-{name}-{}", std::process::id());
        let ok = Command::new("tmux")
            .args(["new-session", "-d", "-s", &session, "-x", "120", "-y", "40"])
            .arg(format!("NO_COLOR=1 {command}"))
            .status()
            .expect("tmux starts")
            .success();
        assert!(ok, "tmux new-session failed");
        Tmux { session }
    }

    fn send(&self, keys: &[&str]) {
        let ok = Command::new("tmux")
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .expect("tmux send-keys")
            .success();
        assert!(ok, "tmux send-keys {keys:?} failed");
    }

    fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits (up to a minute: a debug build on a busy CI machine) for the screen to satisfy
    /// `done`; the last screen either way.
    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if done(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "waited a minute for {what}; the screen:\n{screen}"
            );
            sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether the test can run: tmux is there (or its absence is allowed, and said).
fn tmux_or_skip() -> bool {
    if tmux_available() {
        return true;
    }
    assert!(
        std::env::var_os("KAFKALAB_REQUIRE_TMUX").is_none(),
        "KAFKALAB_REQUIRE_TMUX is set but tmux is not installed"
    );
    eprintln!("tmux is not installed: the end-to-end test is skipped");
    false
}

#[test]
fn a_learner_crashes_the_leader_from_the_menu_and_quits() {
    if !tmux_or_skip() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_kafkalab");
    // After the lab exits, the shell prints its exit code on the normal screen.
    let tmux = Tmux::start(
        "crash",
        &format!("{bin} tui leader-failure --seed 1; echo \"lab exited with $?\"; sleep 60"),
    );
    tmux.wait_for("the run screen", |s| {
        s.contains("leader-failure seed 1") && s.contains("step 0")
    });

    tmux.send(&["n", "n", "n"]);
    tmux.wait_for("three steps", |s| s.contains("step 3 "));

    tmux.send(&["x"]);
    tmux.wait_for("the fault menu", |s| s.contains("> crash a node"));
    tmux.send(&["Enter"]);
    let picks = tmux.wait_for("the node choices", |s| s.contains("which running node?"));
    assert!(picks.contains("> broker-1 (leader of orders-0"), "{picks}");
    tmux.send(&["Enter"]);
    tmux.wait_for("broker-1 crashed", |s| {
        s.contains("broker-1     CRASHED") && s.contains("DIVERGED")
    });

    // Event by event to the election the crash causes (after broker.session.timeout.ms).
    let start = Instant::now();
    let elected = loop {
        let screen = tmux.capture();
        if screen.contains("orders-0  leader 2  epoch 1")
            || screen.contains("orders-0  leader 3  epoch 1")
        {
            break screen;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no new leader for orders-0; the screen:\n{screen}"
        );
        tmux.send(&["]"]);
        sleep(Duration::from_millis(300));
    };
    assert!(
        elected.contains("broker-1     CRASHED, fenced"),
        "{elected}"
    );

    tmux.send(&["q"]);
    let after = tmux.wait_for("the shell after quitting", |s| {
        s.contains("lab exited with 0")
    });
    // The alternate screen is gone: none of the lab's frame is left on the terminal.
    assert!(
        !after.contains("Timeline") && !after.contains("Cluster"),
        "{after}"
    );
}

/// The log end offset the Partitions pane shows for `partition` (the line after its
/// heading).
fn leo_on_screen(screen: &str, partition: &str) -> i64 {
    let mut lines = screen.lines();
    lines
        .find(|l| l.contains(&format!("{partition}  leader")))
        .and_then(|_| lines.next())
        .and_then(|l| l.split("LEO ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no LEO for {partition} on the screen:\n{screen}"))
}

#[test]
fn lesson_1_by_keys_a_wrong_answer_then_the_right_one() {
    if !tmux_or_skip() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_kafkalab");
    let state = std::env::temp_dir().join(format!("kafkalab-e2e-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let tmux = Tmux::start(
        "lesson",
        &format!(
            "XDG_STATE_HOME={} {bin} learn 1; echo \"lab exited with $?\"; sleep 60",
            state.display()
        ),
    );
    tmux.wait_for("lesson 1", |s| {
        s.contains("Lesson 1: Topics, partitions and offsets") && s.contains("Step 1 of 6")
    });
    tmux.send(&["Enter"]);
    let question = tmux.wait_for("the first prediction", |s| {
        s.contains("Step 2 of 6 · predict") && s.contains("PREDICT · What is the offset")
    });
    // The last record of partition 0 sits at LEO - 1.
    let leo = leo_on_screen(&question, "quickstart-events-0");

    tmux.send(&["a"]);
    tmux.wait_for("the answer box", |s| {
        s.contains("your answer (a whole number)")
    });
    tmux.send(&[&(leo + 3).to_string(), "Enter"]);
    tmux.wait_for("the wrong answer refused", |s| {
        s.contains(&format!("✗ Not {}.", leo + 3))
    });

    tmux.send(&["a"]);
    tmux.wait_for("the answer box again", |s| s.contains("your answer"));
    tmux.send(&[&(leo - 1).to_string(), "Enter"]);
    tmux.wait_for("the right answer", |s| {
        s.contains("✓ Right. The log end offset")
    });

    tmux.send(&["Enter"]);
    tmux.wait_for("the next step", |s| s.contains("Step 3 of 6 · predict"));
    tmux.send(&["q"]);
    tmux.wait_for("the shell after quitting", |s| {
        s.contains("lab exited with 0")
    });

    // Progress was saved where XDG says, and lesson 1 resumes at step 3.
    let progress =
        std::fs::read_to_string(state.join("kafkalab/progress.toml")).expect("the progress file");
    assert!(
        progress.contains("[lessons.topics-partitions-offsets]"),
        "{progress}"
    );
    assert!(progress.contains("resume = 2"), "{progress}");
    let _ = std::fs::remove_dir_all(&state);
}
