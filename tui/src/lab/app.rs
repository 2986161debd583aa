//! The lab's model and `update`: what is on screen and how keys change it (Elm-style; the
//! view in [`super::view`] only reads the model).

use super::lesson::LessonRun;
use super::menu::{self, Choice, Fault};
use super::progress::Progress;
use super::session::Session;
use super::view::{self, RunAreas};
use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use kafkalab_sim::lesson::Lesson;
use kafkalab_sim::scenario::{self, Action, Scenario};
use ratatui::layout::{Position, Rect};
use std::path::{Path, PathBuf};
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

/// A line of the home screen: a lesson of the course or a built-in scenario.
#[derive(Clone, Debug)]
pub enum HomeEntry {
    Lesson(Arc<Lesson>),
    /// A scenario's name and what it shows.
    Scenario(String, String),
}

/// The course and the built-in scenarios, as the home screen lists them.
#[derive(Clone, Debug)]
pub struct Home {
    pub entries: Vec<HomeEntry>,
    pub selected: usize,
    /// An error to show (a lesson or scenario that failed to load).
    pub error: Option<String>,
}

impl Home {
    pub fn new() -> Self {
        let (lessons, error) = match crate::lessons::catalogue() {
            Ok(lessons) => (lessons, None),
            Err((_, e)) => (Vec::new(), Some(e)),
        };
        let mut entries: Vec<HomeEntry> = lessons
            .into_iter()
            .map(|l| HomeEntry::Lesson(Arc::new(l)))
            .collect();
        entries.extend(
            crate::scenarios::scenario_list()
                .into_iter()
                .map(|(name, what)| HomeEntry::Scenario(name, what)),
        );
        Home {
            entries,
            selected: 0,
            error,
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
    /// Only while a lesson is open.
    Lesson,
    Cluster,
    Partitions,
    Network,
    Groups,
    Events,
}

impl Pane {
    pub const ALL: [Pane; 6] = [
        Pane::Lesson,
        Pane::Cluster,
        Pane::Partitions,
        Pane::Network,
        Pane::Groups,
        Pane::Events,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Lesson => "Lesson",
            Pane::Cluster => "Cluster",
            Pane::Partitions => "Partitions",
            Pane::Network => "Network",
            Pane::Groups => "Consumer groups",
            Pane::Events => "Events",
        }
    }
}

/// What a line of text typed into a popup is for.
#[derive(Clone, Debug, PartialEq)]
pub enum InputFor {
    /// How many records the chosen producer sends (the choice's `produce` action).
    ProduceCount(Action),
    /// Where `s` saves the session.
    SavePath,
    /// The learner's answer to the lesson step's question.
    Answer,
}

/// A popup over the run screen; it takes every key until it closes.
#[derive(Clone, Debug, PartialEq)]
pub enum Popup {
    /// `x`: which kind of action.
    Menu { selected: usize },
    /// Which node, link, message or client the action applies to.
    Pick {
        fault: Fault,
        choices: Vec<Choice>,
        selected: usize,
    },
    /// A line of text: a count or a path.
    Input {
        purpose: InputFor,
        prompt: String,
        text: String,
    },
}

impl Popup {
    /// The selectable lines and the selected one, for lists.
    pub fn list(&self) -> Option<(Vec<String>, usize)> {
        match self {
            Popup::Menu { selected } => Some((
                Fault::ALL.iter().map(|f| f.label().to_string()).collect(),
                *selected,
            )),
            Popup::Pick {
                choices, selected, ..
            } => Some((choices.iter().map(|c| c.label.clone()).collect(), *selected)),
            Popup::Input { .. } => None,
        }
    }

    pub fn title(&self) -> String {
        match self {
            Popup::Menu { .. } => " Break something (x) ".to_string(),
            Popup::Pick { fault, .. } => format!(" {} ", fault.prompt()),
            Popup::Input { prompt, .. } => format!(" {prompt} "),
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
    /// Scroll offset of each pane, by `Pane::ALL` index (the event log follows its selection).
    pub scroll: [usize; 6],
    /// The selected entry of the event log (an index into the story); `None` follows the
    /// newest.
    pub selected_event: Option<usize>,
    pub popup: Option<Popup>,
    /// The outcome of the learner's last action or save, shown in the footer.
    pub status: Option<String>,
    /// The lesson being played on this run, if any.
    pub lesson: Option<LessonRun>,
}

impl RunView {
    pub fn new(scenario: Arc<Scenario>, seed: u64) -> Self {
        RunView {
            session: Session::new(scenario, seed),
            playing: false,
            speed: 2,
            focus: Pane::Partitions,
            scroll: [0; 6],
            selected_event: None,
            popup: None,
            status: None,
            lesson: None,
        }
    }

    /// `lesson` on `scenario`, at step `resume` (earlier steps played as `--auto` plays
    /// them).
    pub fn with_lesson(
        lesson: Arc<Lesson>,
        scenario: Arc<Scenario>,
        progress: super::progress::LessonProgress,
        resume: usize,
    ) -> Self {
        let mut run = RunView::new(scenario, lesson.seed);
        run.lesson = Some(LessonRun::open(lesson, &mut run.session, progress, resume));
        run.focus = Pane::Lesson;
        run
    }

    /// The panes `tab` moves through: the lesson pane only with a lesson.
    fn panes(&self) -> Vec<Pane> {
        Pane::ALL
            .into_iter()
            .filter(|p| *p != Pane::Lesson || self.lesson.is_some())
            .collect()
    }

    /// How many events the story has told so far.
    fn event_count(&self) -> usize {
        self.session.sim().history().story.events.len()
    }

    /// The event log's selection, or the newest event.
    pub fn event_cursor(&self) -> Option<usize> {
        let count = self.event_count();
        match self.selected_event {
            Some(i) if i < count => Some(i),
            _ => count.checked_sub(1),
        }
    }

    /// Moves the event log's selection by `delta` (negative: older).
    fn move_event_selection(&mut self, delta: isize) {
        let Some(cursor) = self.event_cursor() else {
            return;
        };
        let last = self.event_count() - 1;
        let next = cursor.saturating_add_signed(delta).min(last);
        self.selected_event = (next != last).then_some(next);
    }

    /// Goes to the step just after the selected event.
    fn goto_selected_event(&mut self) {
        let Some(i) = self.event_cursor() else {
            return;
        };
        let step = self.session.sim().history().story.events[i].step + 1;
        self.playing = false;
        self.session.goto(step);
        self.selected_event = Some(i);
    }

    /// Applies a learner's action at the current step (branching if the run went further).
    fn apply(&mut self, action: Action) {
        self.playing = false;
        let step = self.session.step();
        let what = describe_action(&action);
        self.status = Some(match self.session.apply(action) {
            Ok(()) => {
                // Apply it now (it is the next step), so the screen shows it done.
                self.session.forward();
                match &mut self.lesson {
                    // During a task the run goes on until the move completes it (or not).
                    Some(lesson) if !lesson.complete() => {
                        lesson.after_move(&mut self.session);
                        if lesson.complete() {
                            format!("{what} at step {step}")
                        } else {
                            format!("{what} at step {step}: n or space runs on")
                        }
                    }
                    _ => format!("{what} at step {step}: press n or space to see what Kafka does"),
                }
            }
            Err(e) => format!("refused: {}", e.0),
        });
    }

    /// Writes the session to `path` as a scenario file.
    fn save(&mut self, path: &str) {
        let path = path.trim();
        self.status = Some(if path.is_empty() {
            "not saved: no file name given".to_string()
        } else if Path::new(path).exists() {
            format!("not saved: {path} exists; give another name (s)")
        } else {
            match super::save::session_toml(&self.session)
                .and_then(|text| std::fs::write(path, text).map_err(|e| e.to_string()))
            {
                Ok(()) => format!("saved; replay it with: kafkalab run {path}"),
                Err(e) => format!("not saved: {path}: {e}"),
            }
        });
    }

    /// A file name for `s` that does not exist yet in the current directory.
    fn default_save_path(&self) -> String {
        let base = format!(
            "{}-seed{}-session",
            self.session.scenario().name,
            self.session.seed()
        );
        (1..)
            .map(|i| match i {
                1 => PathBuf::from(format!("{base}.toml")),
                i => PathBuf::from(format!("{base}-{i}.toml")),
            })
            .find(|p| !p.exists())
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// A key while a popup is open.
    fn popup_key(&mut self, popup: Popup, key: KeyEvent) {
        let up = matches!(key.code, KeyCode::Char('k') | KeyCode::Up);
        let down = matches!(key.code, KeyCode::Char('j') | KeyCode::Down);
        self.popup = match popup {
            Popup::Menu { selected } => match key.code {
                KeyCode::Esc | KeyCode::Char('x') => None,
                KeyCode::Enter => self.choose_fault(Fault::ALL[selected]),
                _ if up => Some(Popup::Menu {
                    selected: selected.saturating_sub(1),
                }),
                _ if down => Some(Popup::Menu {
                    selected: (selected + 1).min(Fault::ALL.len() - 1),
                }),
                _ => Some(Popup::Menu { selected }),
            },
            Popup::Pick {
                fault,
                choices,
                selected,
            } => match key.code {
                KeyCode::Esc => Some(Popup::Menu {
                    selected: Fault::ALL.iter().position(|f| *f == fault).unwrap_or(0),
                }),
                KeyCode::Enter => match choices.get(selected).map(|c| c.action.clone()) {
                    Some(action @ Action::Produce { .. }) => Some(Popup::Input {
                        purpose: InputFor::ProduceCount(action),
                        prompt: "how many records?".to_string(),
                        text: menu::DEFAULT_PRODUCE_COUNT.to_string(),
                    }),
                    Some(action) => {
                        self.apply(action);
                        None
                    }
                    None => None,
                },
                _ => {
                    let selected = if up {
                        selected.saturating_sub(1)
                    } else if down {
                        (selected + 1).min(choices.len().saturating_sub(1))
                    } else {
                        selected
                    };
                    Some(Popup::Pick {
                        fault,
                        choices,
                        selected,
                    })
                }
            },
            Popup::Input {
                purpose,
                prompt,
                mut text,
            } => match key.code {
                KeyCode::Esc => None,
                KeyCode::Enter => {
                    self.finish_input(purpose, &text);
                    None
                }
                code => {
                    match code {
                        KeyCode::Backspace => {
                            text.pop();
                        }
                        KeyCode::Char(c) if !c.is_control() => text.push(c),
                        _ => {}
                    }
                    Some(Popup::Input {
                        purpose,
                        prompt,
                        text,
                    })
                }
            },
        };
    }

    /// The menu's choice of `fault`: its choices now, or straight to the action when there
    /// is nothing to choose.
    fn choose_fault(&mut self, fault: Fault) -> Option<Popup> {
        let mut choices = menu::choices(fault, &self.session);
        if choices.is_empty() {
            self.status = Some(format!("cannot {}: {}", fault.label(), fault.nothing()));
            return None;
        }
        if fault == Fault::HealAll {
            self.apply(choices.remove(0).action);
            return None;
        }
        Some(Popup::Pick {
            fault,
            choices,
            selected: 0,
        })
    }

    fn finish_input(&mut self, purpose: InputFor, text: &str) {
        match purpose {
            InputFor::SavePath => self.save(text),
            InputFor::Answer => {
                if let Some(lesson) = &mut self.lesson {
                    lesson.answer(&mut self.session, text);
                }
            }
            InputFor::ProduceCount(Action::Produce { producer, .. }) => {
                match text.trim().parse::<u64>() {
                    Ok(count) if count > 0 => self.apply(Action::Produce { producer, count }),
                    _ => {
                        self.status = Some(format!(
                            "not produced: `{text}` is not a record count (a whole number > 0)"
                        ))
                    }
                }
            }
            InputFor::ProduceCount(_) => {}
        }
    }

    /// A click at `at` on the run screen laid out as `areas`.
    fn click(&mut self, areas: &RunAreas, at: Position) {
        if let Some(popup) = self.popup.clone() {
            let Some((lines, _)) = popup.list() else {
                return;
            };
            let Some(row) = view::popup_row(areas.screen, &popup, lines.len(), at) else {
                // A click outside the popup closes it, as Esc does.
                if !view::popup_area(areas.screen, &popup, lines.len()).contains(at) {
                    self.popup = None;
                }
                return;
            };
            // Select the line, then act on it as Enter does.
            let popup = match popup {
                Popup::Menu { .. } => Popup::Menu { selected: row },
                Popup::Pick { fault, choices, .. } => Popup::Pick {
                    fault,
                    choices,
                    selected: row,
                },
                input => input,
            };
            self.popup_key(popup, KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
            return;
        }
        if areas.timeline.contains(at) {
            let width = u64::from(areas.timeline.width.saturating_sub(2).max(1));
            let column = u64::from(at.x.saturating_sub(areas.timeline.x + 1)).min(width - 1);
            let end = self.session.horizon().max(self.session.step()).max(1);
            self.playing = false;
            self.session.goto(column * end / width);
            return;
        }
        let Some(pane) = areas.pane_at(at) else {
            return;
        };
        self.focus = pane;
        if pane == Pane::Events {
            let rect = areas.pane(Pane::Events);
            let first = view::event_window_start(self, rect);
            let row = usize::from(at.y.saturating_sub(rect.y + 1));
            if at.y > rect.y && first + row < self.event_count() {
                self.selected_event = Some(first + row);
            }
        }
    }

    fn focus_index(&self) -> usize {
        Pane::ALL.iter().position(|p| *p == self.focus).unwrap_or(0)
    }

    /// A lesson's own keys; false when `key` is not one (or there is no lesson).
    fn lesson_key(&mut self, key: KeyEvent) -> bool {
        let Some(lesson) = &mut self.lesson else {
            return false;
        };
        let session = &mut self.session;
        let asking = matches!(
            lesson.state,
            super::lesson::StepState::Predict { answered: None, .. }
        );
        let answer_box = || Popup::Input {
            purpose: InputFor::Answer,
            prompt: lesson.answer_prompt(),
            text: String::new(),
        };
        match key.code {
            KeyCode::Char('a') | KeyCode::Enter if asking && self.focus != Pane::Events => {
                self.popup = Some(answer_box());
            }
            KeyCode::Char('a') if asking => self.popup = Some(answer_box()),
            KeyCode::Char('a') => self.status = Some("no question to answer at this step".into()),
            KeyCode::Enter if self.focus != Pane::Events => {
                self.status = lesson.next(session).err();
            }
            KeyCode::Char('>') => self.status = lesson.next(session).err(),
            KeyCode::Char('<') => {
                lesson.back(session);
                self.status = Some(format!(
                    "back to the start of step {}: the run rewound to where it began",
                    lesson.index + 1
                ));
            }
            KeyCode::Char('r') => {
                lesson.retry(session);
                self.status = Some(format!("step {} again, from its start", lesson.index + 1));
            }
            KeyCode::Char('v') => lesson.reveal(session),
            _ => return false,
        }
        self.playing = false;
        self.scroll[0] = 0;
        self.selected_event = None;
        true
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
        if self.lesson_key(key) {
            return;
        }
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
            KeyCode::Tab | KeyCode::BackTab => {
                let panes = self.panes();
                let at = panes.iter().position(|p| *p == self.focus).unwrap_or(0);
                let by = if key.code == KeyCode::Tab {
                    1
                } else {
                    panes.len() - 1
                };
                self.focus = panes[(at + by) % panes.len()];
            }
            KeyCode::Char('j') | KeyCode::Down if self.focus == Pane::Events => {
                self.move_event_selection(1);
            }
            KeyCode::Char('k') | KeyCode::Up if self.focus == Pane::Events => {
                self.move_event_selection(-1);
            }
            KeyCode::Enter if self.focus == Pane::Events => self.goto_selected_event(),
            KeyCode::Char('j') | KeyCode::Down => {
                let i = self.focus_index();
                self.scroll[i] = self.scroll[i].saturating_add(1);
            }
            KeyCode::Char('k') | KeyCode::Up => {
                let i = self.focus_index();
                self.scroll[i] = self.scroll[i].saturating_sub(1);
            }
            KeyCode::Char('x') => {
                self.playing = false;
                self.popup = Some(Popup::Menu { selected: 0 });
            }
            KeyCode::Char('s') => {
                self.playing = false;
                self.popup = Some(Popup::Input {
                    purpose: InputFor::SavePath,
                    prompt: "save the session as (a scenario file)".to_string(),
                    text: self.default_save_path(),
                });
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
        self.check_lesson();
    }

    /// A task the run has now completed (the learner stepped or played into it) is done.
    fn check_lesson(&mut self) {
        if let Some(lesson) = &mut self.lesson {
            lesson.check(&self.session);
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
    /// The terminal's size, from the last resize: where a mouse click lands.
    pub size: (u16, u16),
    /// The learner's progress through the course, and the file it is kept in (`None`: kept
    /// in memory only, as in tests).
    pub progress: Progress,
    pub progress_file: Option<PathBuf>,
}

impl App {
    /// The home screen.
    pub fn home(no_color: bool) -> Self {
        App {
            screen: Screen::Home(Home::new()),
            help: false,
            quit: false,
            no_color,
            size: (0, 0),
            progress: Progress::default(),
            progress_file: None,
        }
    }

    /// Keeps progress in `file` (read now, written as steps complete). A file that cannot
    /// be read is reported on the home screen and progress starts from nothing.
    pub fn with_progress_file(mut self, file: Option<PathBuf>) -> Self {
        if let Some(path) = &file {
            match Progress::load(path) {
                Ok(p) => self.progress = p,
                Err(e) => {
                    if let Screen::Home(home) = &mut self.screen {
                        home.error = Some(e);
                    }
                }
            }
        }
        self.progress_file = file;
        self
    }

    /// A lesson opened directly (`kafkalab learn <N|NAME>`), resumed where the learner left
    /// it (from the start if they finished it). Call after `with_progress_file`.
    pub fn learn(mut self, lesson: Arc<Lesson>, scenario: Arc<Scenario>) -> Self {
        self.screen = Screen::Run(Box::new(self.open_lesson(lesson, scenario)));
        self.save_progress();
        self
    }

    fn open_lesson(&self, lesson: Arc<Lesson>, scenario: Arc<Scenario>) -> RunView {
        let progress = self.progress.lesson(&lesson.name);
        let resume = if progress.finished(lesson.steps.len()) {
            0
        } else {
            progress.resume
        };
        RunView::with_lesson(lesson, scenario, progress, resume)
    }

    /// Writes the open lesson's progress if it changed (a failure shows in the footer).
    fn save_progress(&mut self) {
        let Screen::Run(run) = &mut self.screen else {
            return;
        };
        let Some(lesson) = &mut run.lesson else {
            return;
        };
        if !lesson.dirty {
            return;
        }
        lesson.dirty = false;
        self.progress
            .lessons
            .insert(lesson.lesson.name.clone(), lesson.progress.clone());
        if let Some(path) = &self.progress_file
            && let Err(e) = self.progress.save(path)
        {
            run.status = Some(e);
        }
    }

    /// A scenario opened directly (`kafkalab tui <SCENARIO>`).
    pub fn open(scenario: Arc<Scenario>, seed: u64, no_color: bool) -> Self {
        App {
            screen: Screen::Run(Box::new(RunView::new(scenario, seed))),
            help: false,
            quit: false,
            no_color,
            size: (0, 0),
            progress: Progress::default(),
            progress_file: None,
        }
    }

    pub fn update(&mut self, msg: Msg) {
        match msg {
            Msg::Key(key) if key.kind != KeyEventKind::Release => self.key(key),
            Msg::Key(_) => {}
            Msg::Resize(width, height) => self.size = (width, height),
            Msg::Mouse(mouse) => self.mouse(mouse),
            Msg::Tick => {
                if let Screen::Run(run) = &mut self.screen {
                    run.tick();
                }
            }
        }
        self.save_progress();
    }

    fn key(&mut self, key: KeyEvent) {
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl_c {
            self.quit = true;
            return;
        }
        // An open popup takes every key (a typed path may contain a `q`).
        if let Screen::Run(run) = &mut self.screen
            && !self.help
            && let Some(popup) = run.popup.take()
        {
            if key.code == KeyCode::Char('q') && popup.list().is_some() {
                self.quit = true;
                return;
            }
            run.popup_key(popup, key);
            return;
        }
        if key.code == KeyCode::Char('q') && !self.help {
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
                KeyCode::Enter => match home.entries.get(home.selected).cloned() {
                    Some(HomeEntry::Lesson(lesson)) => {
                        match crate::lessons::scenario(&lesson, None) {
                            Ok(s) => {
                                let run = self.open_lesson(lesson, Arc::new(s));
                                self.screen = Screen::Run(Box::new(run));
                            }
                            Err((_, e)) => home.error = Some(e),
                        }
                    }
                    Some(HomeEntry::Scenario(name, _)) => match scenario::load_builtin(&name) {
                        Some(Ok(s)) => {
                            let seed = s.default_seed;
                            self.screen = Screen::Run(Box::new(RunView::new(Arc::new(s), seed)));
                        }
                        Some(Err(e)) => home.error = Some(e.to_string()),
                        None => {}
                    },
                    None => {}
                },
                _ => {}
            },
            Screen::Run(run) => {
                if key.code == KeyCode::Esc {
                    run.playing = false;
                    return;
                }
                if key.code == KeyCode::Char('h') && !run.playing {
                    let mut home = Home::new();
                    // Back on the lesson or scenario just left.
                    home.selected = home
                        .entries
                        .iter()
                        .position(|e| match (e, &run.lesson) {
                            (HomeEntry::Lesson(l), Some(open)) => l.name == open.lesson.name,
                            (HomeEntry::Scenario(name, _), None) => {
                                *name == run.session.scenario().name
                            }
                            _ => false,
                        })
                        .unwrap_or(0);
                    self.screen = Screen::Home(home);
                    return;
                }
                run.update(key);
                run.check_lesson();
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
        let screen = Rect::new(0, 0, self.size.0, self.size.1);
        let at = Position::new(mouse.column, mouse.row);
        let i = run.focus_index();
        match mouse.kind {
            MouseEventKind::ScrollDown if run.focus == Pane::Events => run.move_event_selection(1),
            MouseEventKind::ScrollUp if run.focus == Pane::Events => run.move_event_selection(-1),
            MouseEventKind::ScrollDown => run.scroll[i] = run.scroll[i].saturating_add(1),
            MouseEventKind::ScrollUp => run.scroll[i] = run.scroll[i].saturating_sub(1),
            MouseEventKind::Down(MouseButton::Left) if !self.help && view::fits(screen) => {
                run.click(&RunAreas::new(screen, run.lesson.is_some()), at);
            }
            _ => {}
        }
    }
}

/// An action as the footer reports it (`crash broker-1`).
pub fn describe_action(action: &Action) -> String {
    match action {
        Action::Crash { node } => format!("crash {node}"),
        Action::PowerLoss { node } => format!("power-loss {node}"),
        Action::Restart { node } => format!("restart {node}"),
        Action::Pause { node } => format!("pause {node}"),
        Action::Resume { node } => format!("resume {node}"),
        Action::Cut { from, to, .. } => format!("cut {from} <-> {to}"),
        Action::Heal { from, to, .. } => format!("heal {from} <-> {to}"),
        Action::Isolate { node } => format!("isolate {node}"),
        Action::HealAll {} => "heal every link".to_string(),
        Action::DropMessage { id } => format!("drop message #{id}"),
        Action::Produce { producer, count } => format!("{producer} produces {count} records"),
        Action::Seek {
            consumer,
            topic,
            partition,
            offset,
        } => format!("{consumer} seeks {topic}-{partition} to {offset}"),
        Action::AddProducer(p) => format!("add producer {}", p.name),
        Action::AddConsumer(c) => format!("add consumer {}", c.name),
        Action::AddPartitions { topic, partitions } => {
            format!("grow {topic} to {partitions} partitions")
        }
        Action::RemoveClient { node } => format!("remove {node}"),
    }
}
