//! The lab's screens after real key events, drawn on ratatui's `TestBackend` and compared
//! with insta snapshots (`tests/snapshots/`); and random key and resize sequences that must
//! never panic.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use kafkalab::lab::app::{App, Msg, Screen};
use proptest::prelude::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::Arc;

fn draw(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    terminal
        .draw(|frame| frame.render_widget(app, frame.area()))
        .expect("drawn");
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for y in 0..buffer.area.height {
        let line: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        text += line.trim_end();
        text.push('\n');
    }
    text
}

fn screen(app: &App) -> String {
    draw(app, 120, 40)
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn press(app: &mut App, keys: &str) {
    for c in keys.chars() {
        app.update(key(KeyCode::Char(c)));
    }
}

/// Presses `keys` until the screen satisfies `done` (at most `max` times).
fn press_until(app: &mut App, keys: &str, max: usize, done: impl Fn(&str) -> bool) -> bool {
    for _ in 0..max {
        press(app, keys);
        if done(&screen(app)) {
            return true;
        }
    }
    false
}

fn leader_failure() -> App {
    let scenario = match kafkalab_sim::scenario::load_builtin("leader-failure") {
        Some(Ok(s)) => Arc::new(s),
        other => panic!("{other:?}"),
    };
    App::open(scenario, 1, true)
}

#[test]
fn home_lists_the_lessons_then_the_scenarios_and_enter_opens_one() {
    let mut app = App::home(true);
    let home = screen(&app);
    assert!(
        home.contains(">  1  Topics, partitions and offsets"),
        "{home}"
    );
    insta::assert_snapshot!("home", home);
    let lessons = kafkalab_sim::lesson::builtin().len();
    for _ in 0..=lessons {
        app.update(key(KeyCode::Down));
    }
    app.update(key(KeyCode::Enter));
    match &app.screen {
        Screen::Run(run) => {
            assert_eq!(run.session.scenario().name, "at-least-once-duplicates");
            assert!(run.lesson.is_none());
        }
        Screen::Home(_) => panic!("enter did not open the scenario"),
    }
}

#[test]
fn a_scenario_at_step_0_then_stepped_then_stepped_back() {
    let mut app = leader_failure();
    insta::assert_snapshot!("leader_failure_step_0", screen(&app));
    // Event by event (`]`) to the crash of broker-1 at 10 s.
    assert!(press_until(&mut app, "]", 50, |s| s.contains("broker-1     CRASHED")));
    let stepped = screen(&app);
    assert!(stepped.contains("broker-1     CRASHED"), "{stepped}");
    insta::assert_snapshot!("leader_failure_after_crash", stepped);
    // One step back: broker-1 is up again, and the screen is the one of that step.
    press(&mut app, "N");
    let back = screen(&app);
    assert!(back.contains("broker-1     up"), "{back}");
    insta::assert_snapshot!("leader_failure_stepped_back", back);
}

#[test]
fn next_event_finds_the_new_leader_after_the_crash() {
    let mut app = leader_failure();
    // The crash at 10 s, then the controller fences broker-1 and elects a new leader for
    // orders-0 from the ISR (broker.session.timeout.ms, 9 s later): epoch 1.
    assert!(press_until(&mut app, "]", 50, |s| s.contains("broker-1     CRASHED")));
    assert!(press_until(&mut app, "]", 50, |s| s
        .contains("orders-0  leader 2  epoch 1")));
    let text = screen(&app);
    assert!(text.contains("broker-1     CRASHED, fenced"), "{text}");
}

#[test]
fn help_lists_every_key_and_any_key_closes_it() {
    let mut app = leader_failure();
    press(&mut app, "?");
    let text = screen(&app);
    for (k, _) in kafkalab::lab::view::KEYS {
        assert!(text.contains(k), "help lacks {k}:\n{text}");
    }
    insta::assert_snapshot!("help", text);
    app.update(key(KeyCode::Esc));
    assert!(!app.help);
    press(&mut app, "q");
    assert!(app.quit);
}

#[test]
fn a_small_terminal_gets_a_message_not_a_broken_layout() {
    let app = leader_failure();
    let text = draw(&app, 60, 20);
    assert!(text.contains("Terminal too small: 60x20"), "{text}");
}

fn click(app: &mut App, column: u16, row: u16) {
    app.update(Msg::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    }));
}

fn run_view(app: &App) -> &kafkalab::lab::app::RunView {
    match &app.screen {
        Screen::Run(run) => run,
        Screen::Home(_) => panic!("not on a run screen"),
    }
}

/// Opens the fault menu, picks `fault` (a menu line's start) and then the choice whose
/// label contains `choice`, by keys.
fn break_by_keys(app: &mut App, fault: &str, choice: &str) {
    press(app, "x");
    let menu = screen(app);
    let lines = kafkalab::lab::menu::Fault::ALL;
    let index = lines
        .iter()
        .position(|f| f.label().starts_with(fault))
        .unwrap_or_else(|| panic!("no `{fault}` in the menu:\n{menu}"));
    for _ in 0..index {
        app.update(key(KeyCode::Down));
    }
    app.update(key(KeyCode::Enter));
    let picks = screen(app);
    let Some(kafkalab::lab::app::Popup::Pick { choices, .. }) = &run_view(app).popup else {
        panic!("no choices after `{fault}`:\n{picks}");
    };
    let index = choices
        .iter()
        .position(|c| c.label.contains(choice))
        .unwrap_or_else(|| panic!("no `{choice}` among the choices:\n{picks}"));
    for _ in 0..index {
        app.update(key(KeyCode::Down));
    }
    app.update(key(KeyCode::Enter));
}

#[test]
fn crashing_the_leader_from_the_fault_menu_elects_another() {
    let mut app = leader_failure();
    app.update(Msg::Resize(120, 40));
    press(&mut app, &"n".repeat(300));
    press(&mut app, "x");
    let menu = screen(&app);
    assert!(menu.contains("> crash a node"), "{menu}");
    insta::assert_snapshot!("fault_menu", menu);
    app.update(key(KeyCode::Enter));
    let picks = screen(&app);
    assert!(picks.contains("broker-1 (leader of orders-0"), "{picks}");
    app.update(key(KeyCode::Esc));
    app.update(key(KeyCode::Esc));
    assert!(run_view(&app).popup.is_none());

    break_by_keys(&mut app, "crash", "broker-1");
    let crashed = screen(&app);
    assert!(crashed.contains("broker-1     CRASHED"), "{crashed}");
    assert!(crashed.contains("DIVERGED"), "{crashed}");
    // The metadata still names broker-1 leader until the controller fences it.
    assert!(crashed.contains(" b1 leader DOWN"), "{crashed}");
    assert!(crashed.contains("crash broker-1 at step 300"), "{crashed}");
    insta::assert_snapshot!("after_crash_from_the_menu", crashed);
    // The controller fences broker-1 after broker.session.timeout.ms and elects a leader
    // for orders-0 from the ISR.
    assert!(press_until(&mut app, "]", 60, |s| s
        .contains("orders-0  leader 2  epoch 1")
        || s.contains("orders-0  leader 3  epoch 1")));
    // Going back before the crash and forward again keeps the learner's branch.
    press(&mut app, "g");
    assert!(screen(&app).contains("broker-1     up"));
    assert!(press_until(&mut app, "]", 60, |s| s.contains("broker-1     CRASHED")));
}

#[test]
fn a_saved_session_replays_to_the_same_trace_hash() {
    let dir = std::env::temp_dir().join(format!("kafkalab-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let path = dir.join("session.toml");
    let _ = std::fs::remove_file(&path);

    let mut app = leader_failure();
    press(&mut app, &"n".repeat(2_000));
    break_by_keys(&mut app, "pause", "broker-2");
    press(&mut app, &"n".repeat(3_000));
    break_by_keys(&mut app, "produce", "producer-1");
    // The count popup: 100 by default; type 25 instead.
    for _ in 0..3 {
        app.update(key(KeyCode::Backspace));
    }
    press(&mut app, "25");
    app.update(key(KeyCode::Enter));
    assert!(screen(&app).contains("producer-1 produces 25 records"));
    press(&mut app, "G");
    let hash = format!("{:016x}", run_view(&app).session.sim().world().trace_hash());

    press(&mut app, "s");
    let prompt = screen(&app);
    assert!(
        prompt.contains("leader-failure-seed1-session.toml"),
        "{prompt}"
    );
    for _ in 0..80 {
        app.update(key(KeyCode::Backspace));
    }
    for c in path.display().to_string().chars() {
        app.update(key(KeyCode::Char(c)));
    }
    app.update(key(KeyCode::Enter));
    let saved = screen(&app);
    assert!(
        saved.contains("saved; replay it with: kafkalab run"),
        "{saved}"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kafkalab"))
        .args(["run", &path.display().to_string(), "--json"])
        .output()
        .expect("kafkalab runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["trace_hash"].as_str(), Some(hash.as_str()), "{json}");

    // Saving over an existing file is refused.
    press(&mut app, "s");
    for _ in 0..80 {
        app.update(key(KeyCode::Backspace));
    }
    for c in path.display().to_string().chars() {
        app.update(key(KeyCode::Char(c)));
    }
    app.update(key(KeyCode::Enter));
    assert!(screen(&app).contains("exists; give another name"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dropping_a_message_marks_it_in_the_network_pane() {
    let mut app = leader_failure();
    press(&mut app, &"n".repeat(500));
    // The first message in flight.
    press(&mut app, "x");
    let index = kafkalab::lab::menu::Fault::ALL
        .iter()
        .position(|f| *f == kafkalab::lab::menu::Fault::DropMessage)
        .expect("in the menu");
    for _ in 0..index {
        app.update(key(KeyCode::Down));
    }
    app.update(key(KeyCode::Enter));
    let Some(kafkalab::lab::app::Popup::Pick { choices, .. }) = &run_view(&app).popup else {
        panic!("no messages to drop:\n{}", screen(&app));
    };
    let id = match &choices[0].action {
        kafkalab_sim::scenario::Action::DropMessage { id } => *id,
        other => panic!("{other:?}"),
    };
    app.update(key(KeyCode::Enter));
    press(&mut app, "n");
    let text = screen(&app);
    assert!(
        text.contains(&format!("#{id}"))
            && text.contains("DROPPED")
            && text.contains("dropped by you"),
        "{text}"
    );
}

#[test]
fn mouse_clicks_focus_panes_select_events_and_jump_on_the_timeline() {
    let mut app = leader_failure();
    app.update(Msg::Resize(120, 40));
    assert!(press_until(&mut app, "]", 50, |s| s.contains("broker-1     CRASHED")));
    let areas =
        kafkalab::lab::view::RunAreas::new(ratatui::layout::Rect::new(0, 0, 120, 40), false);
    // A click in the cluster pane focuses it.
    click(&mut app, areas.cluster.x + 2, areas.cluster.y + 2);
    assert_eq!(run_view(&app).focus, kafkalab::lab::app::Pane::Cluster);
    // A click on the first event line selects it; enter goes to its step.
    click(&mut app, areas.events.x + 2, areas.events.y + 1);
    assert_eq!(run_view(&app).focus, kafkalab::lab::app::Pane::Events);
    let selected = run_view(&app).selected_event.expect("an event selected");
    let text = screen(&app);
    assert!(text.contains(">step"), "{text}");
    app.update(key(KeyCode::Enter));
    let run = run_view(&app);
    let event_step = run.session.sim().history().story.events[selected].step;
    assert_eq!(run.session.step(), event_step + 1);
    // A click at the timeline's left end goes to the start.
    click(&mut app, areas.timeline.x + 1, areas.timeline.y + 1);
    assert_eq!(run_view(&app).session.step(), 0);
    // Clicking a fault-menu line picks it.
    press(&mut app, "x");
    let popup = run_view(&app).popup.clone().expect("the menu");
    let menu_area = kafkalab::lab::view::popup_area(areas.screen, &popup, 12);
    click(&mut app, menu_area.x + 3, menu_area.y + 1);
    assert!(matches!(
        run_view(&app).popup,
        Some(kafkalab::lab::app::Popup::Pick {
            fault: kafkalab::lab::menu::Fault::Crash,
            ..
        })
    ));
}

#[derive(Clone, Debug)]
enum Input {
    Key(char),
    Special(u8),
    Resize(u16, u16),
    Wheel(bool),
    Click(u16, u16),
    Tick,
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        proptest::sample::select(vec![
            ' ', '+', '-', 'n', 'N', 'g', ']', '[', 'j', 'k', '?', 'h', 'x', 'z', 'a', 'v', 'r',
            '<', '>', '7'
        ])
        .prop_map(Input::Key),
        (0u8..8).prop_map(Input::Special),
        (1u16..200, 1u16..60).prop_map(|(w, h)| Input::Resize(w, h)),
        any::<bool>().prop_map(Input::Wheel),
        (0u16..200, 0u16..60).prop_map(|(c, r)| Input::Click(c, r)),
        Just(Input::Tick),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random keys (the fault menu's too; not `s`, which would write files), mouse wheels and
    /// clicks, ticks and resizes, from the home screen: never a panic.
    #[test]
    fn random_inputs_never_panic(inputs in proptest::collection::vec(input(), 1..60)) {
        let mut app = App::home(false);
        let (mut w, mut h) = (120, 40);
        app.update(Msg::Resize(w, h));
        for i in inputs {
            let msg = match i {
                Input::Key(c) => key(KeyCode::Char(c)),
                Input::Special(n) => key(match n {
                    0 => KeyCode::Enter,
                    1 => KeyCode::Esc,
                    2 => KeyCode::Tab,
                    3 => KeyCode::BackTab,
                    4 => KeyCode::Left,
                    5 => KeyCode::Right,
                    6 => KeyCode::Up,
                    _ => KeyCode::Down,
                }),
                Input::Resize(nw, nh) => {
                    (w, h) = (nw, nh);
                    Msg::Resize(nw, nh)
                }
                Input::Wheel(down) => Msg::Mouse(MouseEvent {
                    kind: if down { MouseEventKind::ScrollDown } else { MouseEventKind::ScrollUp },
                    column: 3,
                    row: 3,
                    modifiers: KeyModifiers::NONE,
                }),
                Input::Click(column, row) => Msg::Mouse(MouseEvent {
                    kind: MouseEventKind::Down(MouseButton::Left),
                    column,
                    row,
                    modifiers: KeyModifiers::NONE,
                }),
                Input::Tick => Msg::Tick,
            };
            app.update(msg);
            if app.quit {
                break;
            }
            let _ = draw(&app, w, h);
        }
    }
}

#[test]
fn the_readme_documents_every_key() {
    let readme = include_str!("../../README.md");
    for (key, what) in kafkalab::lab::view::KEYS {
        let row = format!("| `{key}` | {what} |");
        assert!(readme.contains(&row), "README's key table lacks {row}");
    }
}

#[test]
fn truncated_records_are_marked_as_they_disappear() {
    // acks=1: the old leader comes back and truncates the records only it had.
    let scenario = match kafkalab_sim::scenario::load_builtin("acks1-data-loss") {
        Some(Ok(s)) => Arc::new(s),
        other => panic!("{other:?}"),
    };
    let mut app = App::open(scenario, 1, true);
    assert!(press_until(&mut app, "]", 200, |s| s.contains("records removed")));
    let text = screen(&app);
    let strip = text
        .lines()
        .find(|l| l.contains('✗') && l.contains("LEO"))
        .unwrap_or_else(|| panic!("no ✗ in a replica strip:\n{text}"));
    assert!(strip.contains(" b1 "), "{strip}");
    // Long after, the mark is gone (the replica has caught up or the moment has passed).
    press(&mut app, "G");
    assert!(
        !screen(&app)
            .lines()
            .any(|l| l.contains("LEO") && l.contains('✗'))
    );
}

// ----- lessons in the lab -----

fn lesson_1(progress: Option<std::path::PathBuf>) -> App {
    let (lesson, _) = kafkalab::lessons::load("1").expect("lesson 1");
    let scenario = kafkalab::lessons::scenario(&lesson, None).expect("its scenario");
    let mut app = App::home(true)
        .with_progress_file(progress)
        .learn(Arc::new(lesson), Arc::new(scenario));
    app.update(Msg::Resize(120, 40));
    app
}

fn lesson_state(app: &App) -> &kafkalab::lab::lesson::LessonRun {
    run_view(app).lesson.as_ref().expect("a lesson is open")
}

/// Types `text` into the answer box (opened with `a`) and presses enter.
fn answer(app: &mut App, text: &str) {
    press(app, "a");
    press(app, text);
    app.update(key(KeyCode::Enter));
}

#[test]
fn a_prediction_is_answered_wrongly_then_rightly_by_keys() {
    let mut app = lesson_1(None);
    let first = screen(&app);
    assert!(
        first.contains("Lesson 1: Topics, partitions and offsets"),
        "{first}"
    );
    assert!(first.contains("Step 1 of 6 · observe"), "{first}");
    app.update(key(KeyCode::Enter));
    let predict = screen(&app);
    assert!(predict.contains("Step 2 of 6 · predict"), "{predict}");
    assert!(
        predict.contains("PREDICT · What is the offset of the last record"),
        "{predict}"
    );
    insta::assert_snapshot!("lesson_1_predict", predict);

    // The answer box says what to type; the right answer is the live run's.
    press(&mut app, "a");
    assert!(screen(&app).contains("your answer (a whole number)"));
    app.update(key(KeyCode::Esc));
    let query = kafkalab_sim::lesson::query::parse("leo(quickstart-events, 0, 1)").expect("q");
    let leo = match kafkalab_sim::lesson::query::eval(&query, run_view(&app).session.sim()) {
        Ok(kafkalab_sim::lesson::query::Value::Int(n)) => n,
        other => panic!("{other:?}"),
    };
    answer(&mut app, &(leo + 5).to_string());
    let wrong = screen(&app);
    assert!(wrong.contains(&format!("✗ Not {}.", leo + 5)), "{wrong}");
    assert_eq!(lesson_state(&app).misses, 1);
    // Not an answer of the kind: said so, not counted as a miss.
    answer(&mut app, "many");
    assert!(screen(&app).contains("type a whole number"));
    assert_eq!(lesson_state(&app).misses, 1);
    // Enter does not skip an unanswered question: it opens the answer box.
    app.update(key(KeyCode::Enter));
    assert!(run_view(&app).popup.is_some());
    app.update(key(KeyCode::Esc));
    answer(&mut app, &(leo - 1).to_string());
    let right = screen(&app);
    assert!(right.contains("✓ Right. The log end offset is"), "{right}");
    assert!(lesson_state(&app).complete());
    app.update(key(KeyCode::Enter));
    assert!(screen(&app).contains("Step 3 of 6 · predict"));
}

#[test]
fn going_back_a_step_rewinds_the_run_to_that_steps_start() {
    let mut app = lesson_1(None);
    app.update(key(KeyCode::Enter));
    let at_step_2 = run_view(&app).session.sim().world().trace_hash();
    let start_2 = lesson_state(&app).start_of(1).expect("step 2 started");
    press(&mut app, "v"); // shown the answer; the run goes on
    press(&mut app, ">");
    press(&mut app, "v");
    press(&mut app, ">");
    assert_eq!(lesson_state(&app).index, 3);
    press(&mut app, "<");
    press(&mut app, "<");
    let back = screen(&app);
    assert!(back.contains("Step 2 of 6 · predict"), "{back}");
    assert!(back.contains("back to the start of step 2"), "{back}");
    let run = run_view(&app);
    assert_eq!(lesson_state(&app).start_of(1), Some(start_2));
    // Replayed from its start: the same state as the first time, not yet answered.
    assert_eq!(run.session.sim().world().trace_hash(), at_step_2);
    assert!(!lesson_state(&app).complete());
    // `r` plays the step again from its start too.
    press(&mut app, "n");
    press(&mut app, "r");
    assert_eq!(run_view(&app).session.sim().world().trace_hash(), at_step_2);
}

/// Plays lesson 1 to its *do* step (answers shown with `v`).
fn to_the_do_step(app: &mut App) {
    app.update(key(KeyCode::Enter));
    for _ in 0..3 {
        press(app, "v");
        press(app, ">");
    }
    assert_eq!(lesson_state(app).step().checkpoint.kind(), "do");
}

#[test]
fn a_task_gets_a_hint_after_a_wrong_move_and_completes_on_the_right_one() {
    let mut app = lesson_1(None);
    to_the_do_step(&mut app);
    let task = screen(&app);
    assert!(task.contains("DO · Add a second consumer"), "{task}");
    insta::assert_snapshot!("lesson_1_do", task);
    // `>` does not skip the task.
    press(&mut app, ">");
    assert!(screen(&app).contains("do the task first"));
    // A wrong move: more records, no second reader. The run goes on for the task's
    // `within`, then the hint.
    break_by_keys(&mut app, "produce", "producer-1");
    app.update(key(KeyCode::Enter)); // the count popup's default
    let hinted = screen(&app);
    assert!(
        hinted.contains("✗ Not done yet. Hint: x opens the menu"),
        "{hinted}"
    );
    // Back to the step's start, and the right move.
    press(&mut app, "r");
    assert!(!screen(&app).contains("Hint:"));
    break_by_keys(&mut app, "add a consumer", "lab-consumer");
    let done = screen(&app);
    assert!(done.contains("✓ Done."), "{done}");
    assert!(lesson_state(&app).complete());
    press(&mut app, ">");
    let last = screen(&app);
    assert!(last.contains("Step 6 of 6"), "{last}");
    assert!(last.contains("the lesson's last step"), "{last}");
}

#[test]
fn progress_is_saved_and_a_lesson_resumes_where_it_was_left() {
    let dir = std::env::temp_dir().join(format!("kafkalab-lab-progress-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let file = dir.join("kafkalab/progress.toml");
    let mut app = lesson_1(Some(file.clone()));
    to_the_do_step(&mut app);
    let saved = std::fs::read_to_string(&file).expect("progress written");
    assert!(
        saved.contains("[lessons.topics-partitions-offsets]"),
        "{saved}"
    );
    assert!(saved.contains("resume = 4"), "{saved}");
    let at_do = run_view(&app).session.sim().world().trace_hash();
    press(&mut app, "q");

    // A new lab: the home screen marks the lesson, and it opens at the task.
    let mut app = App::home(true).with_progress_file(Some(file.clone()));
    app.update(Msg::Resize(120, 40));
    let home = screen(&app);
    assert!(home.contains("4/6 steps"), "{home}");
    app.update(key(KeyCode::Enter));
    let state = lesson_state(&app);
    assert_eq!(state.index, 4);
    assert_eq!(state.progress.completed.len(), 4);
    // Resumed by playing the earlier steps as --auto does: the same run as answering them.
    assert_eq!(run_view(&app).session.sim().world().trace_hash(), at_do);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_lesson_plays_through_in_the_lab_with_show_me_and_next() {
    // `v` (show the answer, do the task) and `>` on every step: the lab reaches each
    // checkpoint as `--auto` does, and each step completes.
    for (stem, _) in kafkalab_sim::lesson::builtin() {
        let (lesson, _) = kafkalab::lessons::load(stem).expect("a built-in lesson");
        let steps = lesson.steps.len();
        let scenario = kafkalab::lessons::scenario(&lesson, None).expect("its scenario");
        let mut app = App::home(true).learn(Arc::new(lesson), Arc::new(scenario));
        for i in 0..steps {
            let state = lesson_state(&app);
            assert_eq!(state.index, i, "{stem}");
            assert!(
                !matches!(state.state, kafkalab::lab::lesson::StepState::Stuck(_)),
                "{stem} step {}: {:?}",
                i + 1,
                state.state
            );
            press(&mut app, "v");
            assert!(lesson_state(&app).complete(), "{stem} step {}", i + 1);
            press(&mut app, ">");
        }
        assert!(lesson_state(&app).finished, "{stem}");
        assert_eq!(lesson_state(&app).progress.completed.len(), steps, "{stem}");
    }
}
