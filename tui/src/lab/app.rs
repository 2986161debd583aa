//! The lab's model and `update`: what is on screen and how keys change it (Elm-style; the
//! view in [`super::view`] only reads the model).

use super::session::Session;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};
use kafkalab_sim::scenario::{self, Scenario};
use std::sync::Arc;

/// Steps per tick at each playing speed.
pub const SPEEDS: [u64; 6] = [1, 4, 16, 64, 256, 1024];

/// An input the app reacts to.
#[derive(Clone, Copy, Debug)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// Time passed (about 50 ms): a playing run advances.
    Tick,
}

/// The built-in scenarios, as the home screen lists them.
#[derive(Clone, Debug)]
pub struct Home {
    pub entries: Vec<(String, String)>,
    pub selected: usize,
    /// An error to show (a scenario that failed to load).
    pub error: Option<String>,
}

impl Home {
    pub fn new() -> Self {
        Home {
            entries: crate::scenarios::scenario_list(),
            selected: 0,
            error: None,
        }
    }
}

impl Default for Home {
    fn default() -> Self {
        Home::new()
    }
}

/// The panes of the run screen, in `tab` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    Cluster,
    Partitions,
    Network,
    Groups,
    Events,
}

impl Pane {
    pub const ALL: [Pane; 5] = [
        Pane::Cluster,
        Pane::Partitions,
        Pane::Network,
        Pane::Groups,
        Pane::Events,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Cluster => "Cluster",
            Pane::Partitions => "Partitions",
            Pane::Network => "Network",
            Pane::Groups => "Consumer groups",
            Pane::Events => "Events",
        }
    }
}

/// A scenario open in the lab.
#[derive(Debug)]
pub struct RunView {
    pub session: Session,
    pub playing: bool,
    /// Index into [`SPEEDS`].
    pub speed: usize,
    pub focus: Pane,
    /// Scroll offset of each pane, by `Pane::ALL` index.
    pub scroll: [usize; 5],
}

impl RunView {
    pub fn new(scenario: Arc<Scenario>, seed: u64) -> Self {
        RunView {
            session: Session::new(scenario, seed),
            playing: false,
            speed: 2,
            focus: Pane::Partitions,
            scroll: [0; 5],
        }
    }

    fn focus_index(&self) -> usize {
        Pane::ALL.iter().position(|p| *p == self.focus).unwrap_or(0)
    }

    /// The steps just after each notable event (an election, a fault, a rebalance, ...) so
    /// far: the story the checker tells, which is what a learner wants to see happen.
    fn notable_steps(&self) -> impl DoubleEndedIterator<Item = u64> + '_ {
        self.session
            .sim()
            .history()
            .story
            .events
            .iter()
            .map(|e| e.step + 1)
    }

    fn next_notable(&self) -> Option<u64> {
        let now = self.session.step();
        self.notable_steps().find(|s| *s > now)
    }

    fn previous_notable(&self) -> Option<u64> {
        let now = self.session.step();
        self.notable_steps().rev().find(|s| *s < now)
    }

    fn update(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Char(' ') => self.playing = !self.playing,
            KeyCode::Char('+') | KeyCode::Char('=') => {
                self.speed = (self.speed + 1).min(SPEEDS.len() - 1);
            }
            KeyCode::Char('-') => self.speed = self.speed.saturating_sub(1),
            KeyCode::Char('n') | KeyCode::Right => {
                self.playing = false;
                self.session.forward();
            }
            KeyCode::Char('N') | KeyCode::Left => {
                self.playing = false;
                self.session.back();
            }
            KeyCode::Char('g') | KeyCode::Home => {
                self.playing = false;
                self.session.goto(0);
            }
            KeyCode::Char('G') | KeyCode::End => {
                self.playing = false;
                // Kafka runs never end by themselves: "the end" is the scenario's duration.
                while self.session.forward() {}
            }
            KeyCode::Char(']') => {
                self.playing = false;
                match self.next_notable() {
                    Some(step) => self.session.goto(step),
                    None => {
                        // Not yet happened on this branch: run until the story grows.
                        let told = self.session.sim().history().story.events.len();
                        self.session
                            .forward_until(u64::MAX, |sim| sim.history().story.events.len() > told);
                    }
                }
            }
            KeyCode::Char('[') => {
                self.playing = false;
                let step = self.previous_notable().unwrap_or(0);
                self.session.goto(step);
            }
            KeyCode::Tab => {
                self.focus = Pane::ALL[(self.focus_index() + 1) % Pane::ALL.len()];
            }
            KeyCode::BackTab => {
                self.focus =
                    Pane::ALL[(self.focus_index() + Pane::ALL.len() - 1) % Pane::ALL.len()];
            }
            KeyCode::Char('j') | KeyCode::Down => {
                let i = self.focus_index();
                self.scroll[i] = self.scroll[i].saturating_add(1);
            }
            KeyCode::Char('k') | KeyCode::Up => {
                let i = self.focus_index();
                self.scroll[i] = self.scroll[i].saturating_sub(1);
            }
            _ => {}
        }
    }

    fn tick(&mut self) {
        if !self.playing {
            return;
        }
        for _ in 0..SPEEDS[self.speed] {
            if !self.session.forward() {
                self.playing = false;
                break;
            }
        }
    }
}

/// Which screen is showing.
#[derive(Debug)]
pub enum Screen {
    Home(Home),
    Run(Box<RunView>),
}

/// The whole lab.
#[derive(Debug)]
pub struct App {
    pub screen: Screen,
    pub help: bool,
    pub quit: bool,
    /// `NO_COLOR` is set: no colours, only text and modifiers.
    pub no_color: bool,
}

impl App {
    /// The home screen.
    pub fn home(no_color: bool) -> Self {
        App {
            screen: Screen::Home(Home::new()),
            help: false,
            quit: false,
            no_color,
        }
    }

    /// A scenario opened directly (`kafkalab tui <SCENARIO>`).
    pub fn open(scenario: Arc<Scenario>, seed: u64, no_color: bool) -> Self {
        App {
            screen: Screen::Run(Box::new(RunView::new(scenario, seed))),
            help: false,
            quit: false,
            no_color,
        }
    }

    pub fn update(&mut self, msg: Msg) {
        match msg {
            Msg::Key(key) if key.kind != KeyEventKind::Release => self.key(key),
            Msg::Key(_) | Msg::Resize(..) => {}
            Msg::Mouse(mouse) => self.mouse(mouse),
            Msg::Tick => {
                if let Screen::Run(run) = &mut self.screen {
                    run.tick();
                }
            }
        }
    }

    fn key(&mut self, key: KeyEvent) {
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl_c || (key.code == KeyCode::Char('q') && !self.help) {
            self.quit = true;
            return;
        }
        if self.help {
            // Any key closes help; Esc and ? are the documented ones.
            self.help = false;
            return;
        }
        if key.code == KeyCode::Char('?') {
            self.help = true;
            return;
        }
        match &mut self.screen {
            Screen::Home(home) => match key.code {
                KeyCode::Char('j') | KeyCode::Down => {
                    home.selected = (home.selected + 1).min(home.entries.len().saturating_sub(1));
                }
                KeyCode::Char('k') | KeyCode::Up => home.selected = home.selected.saturating_sub(1),
                KeyCode::Enter => {
                    let name = home.entries.get(home.selected).map(|(n, _)| n.as_str());
                    match name.map(scenario::load_builtin) {
                        Some(Some(Ok(s))) => {
                            let seed = s.default_seed;
                            self.screen = Screen::Run(Box::new(RunView::new(Arc::new(s), seed)));
                        }
                        Some(Some(Err(e))) => home.error = Some(e.to_string()),
                        _ => {}
                    }
                }
                _ => {}
            },
            Screen::Run(run) => {
                if key.code == KeyCode::Esc {
                    run.playing = false;
                    return;
                }
                if key.code == KeyCode::Char('h') && !run.playing {
                    self.screen = Screen::Home(Home::new());
                    return;
                }
                run.update(key);
            }
        }
    }

    fn mouse(&mut self, mouse: MouseEvent) {
        let Screen::Run(run) = &mut self.screen else {
            if let Screen::Home(home) = &mut self.screen {
                match mouse.kind {
                    MouseEventKind::ScrollDown => {
                        home.selected =
                            (home.selected + 1).min(home.entries.len().saturating_sub(1));
                    }
                    MouseEventKind::ScrollUp => home.selected = home.selected.saturating_sub(1),
                    _ => {}
                }
            }
            return;
        };
        let i = run.focus_index();
        match mouse.kind {
            MouseEventKind::ScrollDown => run.scroll[i] = run.scroll[i].saturating_add(1),
            MouseEventKind::ScrollUp => run.scroll[i] = run.scroll[i].saturating_sub(1),
            _ => {}
        }
    }
}
