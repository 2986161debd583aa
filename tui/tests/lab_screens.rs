//! The lab's screens after real key events, drawn on ratatui's `TestBackend` and compared
//! with insta snapshots (`tests/snapshots/`); and random key and resize sequences that must
//! never panic.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
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
fn home_lists_the_scenarios_and_enter_opens_one() {
    let mut app = App::home(true);
    insta::assert_snapshot!("home", screen(&app));
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Enter));
    match &app.screen {
        Screen::Run(run) => assert_eq!(run.session.scenario().name, "at-least-once-duplicates"),
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

#[derive(Clone, Debug)]
enum Input {
    Key(char),
    Special(u8),
    Resize(u16, u16),
    Wheel(bool),
    Tick,
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        proptest::sample::select(vec![
            ' ', '+', '-', 'n', 'N', 'g', ']', '[', 'j', 'k', '?', 'h', 'x', 'z'
        ])
        .prop_map(Input::Key),
        (0u8..8).prop_map(Input::Special),
        (1u16..200, 1u16..60).prop_map(|(w, h)| Input::Resize(w, h)),
        any::<bool>().prop_map(Input::Wheel),
        Just(Input::Tick),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random keys, mouse wheels, ticks and resizes, from the home screen: never a panic.
    #[test]
    fn random_inputs_never_panic(inputs in proptest::collection::vec(input(), 1..60)) {
        let mut app = App::home(false);
        let (mut w, mut h) = (120, 40);
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
