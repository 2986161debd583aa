//! The lab's view: `impl Widget for &App`, so drawing a frame only reads the model.
//!
//! State is always written as text (`up`, `CRASHED`, `paused`, `fenced`, `leader`, `in ISR`)
//! and colour only repeats it, so the screen reads the same with `NO_COLOR` or no colour
//! vision.

use super::app::{App, Home, HomeEntry, Pane, Popup, RunView, SPEEDS, Screen};
use super::lesson::{Feedback, LessonRun, StepState};
use super::markdown;
use super::progress::Progress;
use kafkalab_sim::kernel::NodeStatus;
use kafkalab_sim::node::KafkaNode;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

/// Below this the screen says "terminal too small" instead of drawing a broken layout.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// Every key the lab knows, for the help overlay and README.
pub const KEYS: &[(&str, &str)] = &[
    ("space", "play / pause"),
    ("+ / -", "faster / slower"),
    ("n / →", "one step forward"),
    ("N / ←", "one step back"),
    ("g / G", "start / end of the scenario"),
    (
        "] / [",
        "next / previous notable event (fault, election, rebalance)",
    ),
    (
        "x",
        "break something: crash, pause, cut, drop, add a consumer",
    ),
    ("s", "save the session as a scenario file to replay"),
    (
        "enter",
        "lesson: answer the question, or go on to the next step",
    ),
    ("a", "lesson: answer the step's question"),
    (
        "> / <",
        "lesson: next step / back to the previous step's start",
    ),
    ("r", "lesson: this step again, from its start"),
    ("v", "lesson: show the answer, or do the task for me"),
    ("tab / shift-tab", "next / previous pane"),
    (
        "j / k / ↓ / ↑",
        "scroll the focused pane; in Events, select an event",
    ),
    ("enter", "Events: go to the selected event; home: open it"),
    (
        "mouse click",
        "focus a pane, select an event, jump on the timeline",
    ),
    ("mouse wheel", "scroll the focused pane"),
    ("h", "back to the home screen (when paused)"),
    ("esc", "close a popup, stop playing"),
    ("?", "this help"),
    ("q / ctrl-c", "quit"),
];

struct Theme {
    no_color: bool,
}

impl Theme {
    fn fg(&self, color: Color) -> Style {
        if self.no_color {
            Style::default()
        } else {
            Style::default().fg(color)
        }
    }

    fn bold(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    fn focus(&self, focused: bool) -> Style {
        match (focused, self.no_color) {
            (false, _) => Style::default(),
            (true, true) => self.bold(),
            (true, false) => self.bold().fg(Color::Cyan),
        }
    }
}

/// Whether `area` is big enough for the lab's layout.
pub fn fits(area: Rect) -> bool {
    area.width >= MIN_WIDTH && area.height >= MIN_HEIGHT
}

/// Where each part of the run screen goes: the one layout both drawing and mouse clicks use.
#[derive(Clone, Copy, Debug)]
pub struct RunAreas {
    pub screen: Rect,
    pub header: Rect,
    /// Empty without a lesson.
    pub lesson: Rect,
    pub cluster: Rect,
    pub groups: Rect,
    pub partitions: Rect,
    pub network: Rect,
    pub events: Rect,
    pub timeline: Rect,
    pub footer: Rect,
}

impl RunAreas {
    /// The layout of `screen`; `lesson` puts a lesson pane on the left, beside the cluster.
    pub fn new(screen: Rect, lesson: bool) -> Self {
        let [header, body, events, timeline, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(10),
            Constraint::Length(if lesson { 6 } else { 8 }),
            Constraint::Length(3),
            Constraint::Length(1),
        ])
        .areas(screen);
        let (lesson, cluster, groups, partitions, network) = if lesson {
            let [lesson, right] =
                Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
                    .areas(body);
            let [partitions, groups, bottom] = Layout::vertical([
                Constraint::Percentage(48),
                Constraint::Percentage(26),
                Constraint::Percentage(26),
            ])
            .areas(right);
            let [cluster, network] =
                Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
                    .areas(bottom);
            (lesson, cluster, groups, partitions, network)
        } else {
            let [left, right] =
                Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)])
                    .areas(body);
            let [cluster, groups] =
                Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .areas(left);
            let [partitions, network] =
                Layout::vertical([Constraint::Percentage(65), Constraint::Percentage(35)])
                    .areas(right);
            (Rect::default(), cluster, groups, partitions, network)
        };
        RunAreas {
            screen,
            header,
            lesson,
            cluster,
            groups,
            partitions,
            network,
            events,
            timeline,
            footer,
        }
    }

    pub fn pane(&self, pane: Pane) -> Rect {
        match pane {
            Pane::Lesson => self.lesson,
            Pane::Cluster => self.cluster,
            Pane::Partitions => self.partitions,
            Pane::Network => self.network,
            Pane::Groups => self.groups,
            Pane::Events => self.events,
        }
    }

    pub fn pane_at(&self, at: Position) -> Option<Pane> {
        Pane::ALL.into_iter().find(|p| self.pane(*p).contains(at))
    }
}

/// Where a popup with `lines` list lines (or one input line) is drawn.
pub fn popup_area(screen: Rect, popup: &Popup, lines: usize) -> Rect {
    let rows = match popup {
        Popup::Input { .. } => 4,
        _ => lines as u16 + 4,
    };
    let width = 76.min(screen.width);
    let height = rows.min(screen.height);
    Rect {
        x: screen.x + (screen.width - width) / 2,
        y: screen.y + (screen.height - height) / 2,
        width,
        height,
    }
}

/// The popup list line under `at`, if any. Lines start below the top border; the list scrolls
/// so the selected line stays visible.
pub fn popup_row(screen: Rect, popup: &Popup, lines: usize, at: Position) -> Option<usize> {
    let area = popup_area(screen, popup, lines);
    let visible = area.height.saturating_sub(4) as usize;
    if !area.contains(at) || at.y <= area.y {
        return None;
    }
    let row = usize::from(at.y - area.y - 1);
    let (_, selected) = popup.list()?;
    let first = selected.saturating_sub(visible.saturating_sub(1));
    (row < visible && first + row < lines).then_some(first + row)
}

/// The first event the event pane shows in `rect`: the window ends at the selection.
pub fn event_window_start(run: &RunView, rect: Rect) -> usize {
    let visible = rect.height.saturating_sub(2) as usize;
    run.event_cursor()
        .map_or(0, |cursor| (cursor + 1).saturating_sub(visible))
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = Theme {
            no_color: self.no_color,
        };
        if !fits(area) {
            let text = format!(
                "Terminal too small: {}x{}, the lab needs at least {MIN_WIDTH}x{MIN_HEIGHT}.\n\
                 Resize the window, or press q to quit.",
                area.width, area.height
            );
            Paragraph::new(text)
                .wrap(Wrap { trim: true })
                .render(area, buf);
            return;
        }
        match &self.screen {
            Screen::Home(home) => render_home(home, &self.progress, &theme, area, buf),
            Screen::Run(run) => render_run(run, &theme, area, buf),
        }
        if self.help {
            render_help(&theme, area, buf);
        }
    }
}

/// A lesson's mark on the home screen: done, how far, or new.
fn progress_mark(progress: &Progress, lesson: &kafkalab_sim::lesson::Lesson) -> String {
    let p = progress.lesson(&lesson.name);
    let steps = lesson.steps.len();
    if p.finished(steps) {
        "✓ done".to_string()
    } else if p.completed.is_empty() {
        String::new()
    } else {
        format!("{}/{steps} steps", p.completed.len())
    }
}

fn render_home(home: &Home, progress: &Progress, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let [title, list, footer] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    Paragraph::new(vec![
        Line::styled("Kafka Lab", theme.bold()),
        Line::raw(
            "A simulated Kafka cluster to watch, step, rewind and break. Take a lesson, or \
             open a scenario.",
        ),
    ])
    .render(title, buf);
    let width = home
        .entries
        .iter()
        .map(|e| match e {
            HomeEntry::Lesson(l) => l.title.chars().count() + 4,
            HomeEntry::Scenario(n, _) => n.len(),
        })
        .max()
        .unwrap_or(0);
    // Rows with the entry each shows (section headings show none).
    let mut rows: Vec<(Line, Option<usize>)> = Vec::new();
    let mut section = "";
    for (i, entry) in home.entries.iter().enumerate() {
        let selected = i == home.selected;
        let marker = if selected { "> " } else { "  " };
        let style = theme.focus(selected);
        let (heading, line) = match entry {
            HomeEntry::Lesson(l) => (
                "Lessons — the course, in order",
                Line::from(vec![
                    Span::styled(
                        format!("{marker}{:>2}  {:<w$}", l.number, l.title, w = width - 4),
                        style,
                    ),
                    Span::raw(format!("  {:>2} min  ", l.minutes)),
                    Span::styled(progress_mark(progress, l), theme.fg(Color::Green)),
                ]),
            ),
            HomeEntry::Scenario(name, description) => (
                "Scenarios — open one to watch and break it",
                Line::from(vec![
                    Span::styled(format!("{marker}{name:<width$}  "), style),
                    Span::raw(description.clone()),
                ]),
            ),
        };
        if heading != section {
            if !section.is_empty() {
                rows.push((Line::raw(""), None));
            }
            rows.push((Line::styled(heading, theme.bold()), None));
            section = heading;
        }
        rows.push((line, Some(i)));
    }
    let visible = list.height.saturating_sub(2) as usize;
    let at = rows
        .iter()
        .position(|(_, i)| *i == Some(home.selected))
        .unwrap_or(0);
    let first = at.saturating_sub(visible.saturating_sub(1));
    let lines: Vec<Line> = rows
        .into_iter()
        .skip(first)
        .take(visible)
        .map(|(l, _)| l)
        .collect();
    Paragraph::new(lines)
        .block(Block::default().borders(Borders::ALL))
        .render(list, buf);
    let hint = match &home.error {
        Some(e) => format!("error: {e}"),
        None => "↑/↓ choose · enter open · ? help · q quit".to_string(),
    };
    Paragraph::new(hint).render(footer, buf);
}

fn render_run(run: &RunView, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let areas = RunAreas::new(area, run.lesson.is_some());
    render_header(run, theme, areas.header, buf);
    if let Some(lesson) = &run.lesson {
        render_lesson(run, lesson, theme, areas.lesson, buf);
    }
    let panes = [
        (Pane::Cluster, cluster_lines(run, theme)),
        (Pane::Groups, group_lines(run)),
        (Pane::Partitions, partition_lines(run, theme)),
        (Pane::Network, network_lines(run, theme)),
    ];
    for (which, lines) in panes {
        let index = Pane::ALL.iter().position(|p| *p == which).unwrap_or(0);
        pane(
            run,
            theme,
            which,
            lines,
            run.scroll[index],
            areas.pane(which),
            buf,
        );
    }
    let first = event_window_start(run, areas.events);
    pane(
        run,
        theme,
        Pane::Events,
        event_lines(run, theme),
        first,
        areas.events,
        buf,
    );
    render_timeline(run, theme, areas.timeline, buf);
    let footer = match (&run.status, &run.lesson) {
        (Some(status), _) => Line::styled(status.clone(), theme.bold()),
        (None, Some(_)) => Line::raw(
            "enter answer/next · a answer · >/< step · r retry · v show me · x act · n/N run · \
             ? help · q quit",
        ),
        (None, None) => Line::raw(
            "space play · n/N step · ]/[ event · x break · s save · tab pane · ? help · q quit",
        ),
    };
    Paragraph::new(footer).render(areas.footer, buf);
    if let Some(popup) = &run.popup {
        render_popup(popup, theme, area, buf);
    }
}

fn render_popup(popup: &Popup, theme: &Theme, screen: Rect, buf: &mut Buffer) {
    let list = popup.list();
    let count = list.as_ref().map_or(0, |(lines, _)| lines.len());
    let area = popup_area(screen, popup, count);
    Clear.render(area, buf);
    let mut lines: Vec<Line> = Vec::new();
    let hint = match (popup, &list) {
        (Popup::Input { text, .. }, _) => {
            lines.push(Line::raw(format!(" {text}_")));
            " enter ok · esc cancel · backspace erase"
        }
        (_, Some((items, selected))) => {
            let visible = area.height.saturating_sub(4) as usize;
            let first = selected.saturating_sub(visible.saturating_sub(1));
            for (i, item) in items.iter().enumerate().skip(first).take(visible) {
                let chosen = i == *selected;
                let marker = if chosen { "> " } else { "  " };
                lines.push(Line::styled(format!("{marker}{item}"), theme.focus(chosen)));
            }
            if matches!(popup, Popup::Menu { .. }) {
                " ↑/↓ choose · enter pick · esc close"
            } else {
                " ↑/↓ choose · enter apply now · esc back"
            }
        }
        _ => "",
    };
    lines.push(Line::raw(""));
    lines.push(Line::styled(hint, theme.bold()));
    Paragraph::new(lines)
        .block(Block::default().borders(Borders::ALL).title(popup.title()))
        .render(area, buf);
}

fn render_header(run: &RunView, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let session = &run.session;
    let now = session.sim().world().now().as_micros();
    let state = if run.playing { "playing" } else { "paused" };
    let mut spans = vec![
        Span::styled(format!(" {} ", session.scenario().name), theme.bold()),
        Span::raw(format!(
            "seed {} · t={} · step {} · {state} · speed {} steps/tick",
            session.seed(),
            kafkalab_sim::check::seconds(now),
            session.step(),
            SPEEDS[run.speed]
        )),
    ];
    if session.diverged() {
        spans.push(Span::styled(
            " · DIVERGED from the scenario",
            theme.fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

/// A bordered pane with its title, scrolled by the pane's offset.
fn pane(
    run: &RunView,
    theme: &Theme,
    which: Pane,
    lines: Vec<Line<'static>>,
    scroll: usize,
    area: Rect,
    buf: &mut Buffer,
) {
    let focused = run.focus == which;
    let inner = area.height.saturating_sub(2) as usize;
    let max_scroll = lines.len().saturating_sub(inner);
    let scroll = scroll.min(max_scroll);
    let title = if focused {
        format!(" {} (focused) ", which.title())
    } else {
        format!(" {} ", which.title())
    };
    Paragraph::new(lines)
        .scroll((scroll as u16, 0))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.focus(focused))
                .title(title),
        )
        .render(area, buf);
}

fn status_text(status: NodeStatus) -> &'static str {
    match status {
        NodeStatus::Running => "up",
        NodeStatus::Crashed => "CRASHED",
        NodeStatus::Paused => "paused",
        NodeStatus::Removed => "removed",
    }
}

fn cluster_lines(run: &RunView, theme: &Theme) -> Vec<Line<'static>> {
    let sim = run.session.sim();
    let metadata = sim.metadata();
    let mut lines = Vec::new();
    for (_, name, status, node) in sim.world().nodes() {
        let mut text = format!("{name:<12} {}", status_text(status));
        let color = match status {
            NodeStatus::Running => Color::Green,
            NodeStatus::Crashed => Color::Red,
            NodeStatus::Paused | NodeStatus::Removed => Color::Yellow,
        };
        if let KafkaNode::Broker(b) = node {
            let id = b.id();
            if metadata.brokers.get(&id).is_some_and(|r| r.fenced) {
                text += ", fenced";
            }
            let leads = metadata
                .all_partitions()
                .filter(|p| p.leader == id && !p.tp.topic.starts_with("__"))
                .count();
            if leads > 0 {
                text += &format!(", leads {leads}");
            }
        }
        lines.push(Line::styled(text, theme.fg(color)));
    }
    lines
}

/// The last offsets each replica strip shows.
const STRIP: i64 = 24;

/// How long (in steps) the records a truncation removed stay marked `✗` in their strip.
const SHOW_TRUNCATED_STEPS: u64 = 3_000;

fn partition_lines(run: &RunView, theme: &Theme) -> Vec<Line<'static>> {
    let sim = run.session.sim();
    let mut lines = Vec::new();
    for p in sim.metadata().all_partitions() {
        if p.tp.topic.starts_with("__") {
            continue;
        }
        let leader = if p.leader < 0 {
            "none (offline)".to_string()
        } else {
            p.leader.to_string()
        };
        lines.push(Line::styled(
            format!(
                "{}-{}  leader {leader}  epoch {}  ISR {:?}",
                p.tp.topic, p.tp.partition, p.leader_epoch, p.isr
            ),
            theme.bold(),
        ));
        let replicas = sim.replica_logs(&p.tp);
        let top = replicas
            .iter()
            .map(|(_, log)| log.log_end_offset())
            .max()
            .unwrap_or(0);
        // Just after a truncation the strip centres on where the log was cut, so the
        // removed records (✗) show beside the ones that stayed.
        let recent_cut = sim
            .history()
            .truncations
            .iter()
            .rev()
            .find(|t| t.tp == p.tp && run.session.step() < t.step + SHOW_TRUNCATED_STEPS);
        let from = match recent_cut {
            Some(t) => (t.to_offset - STRIP / 2).max(0),
            None => (top - STRIP).max(0),
        };
        for (broker, log) in replicas {
            let leo = log.log_end_offset();
            let hw = log.high_watermark();
            let node = sim.broker_node(broker);
            // Records this replica lost to a truncation not long ago, while still missing.
            let truncated = |o: i64| {
                sim.history().truncations.iter().rev().any(|t| {
                    Some(t.node) == node
                        && t.tp == p.tp
                        && run.session.step() < t.step + SHOW_TRUNCATED_STEPS
                        && (t.to_offset..t.to_offset + t.records_removed as i64).contains(&o)
                })
            };
            let strip: String = (from..from + STRIP)
                .map(|o| {
                    if o >= leo && truncated(o) {
                        '✗'
                    } else if o >= leo {
                        '·'
                    } else if o < hw {
                        '█'
                    } else {
                        '▒'
                    }
                })
                .collect();
            let role = if broker == p.leader {
                "leader "
            } else if p.isr.contains(&broker) {
                "in ISR "
            } else {
                "OUT    "
            };
            // The metadata may still name a dead broker leader until the controller fences
            // it: say so on its line.
            let down = match sim.broker_node(broker).and_then(|n| sim.world().status(n)) {
                Some(NodeStatus::Crashed) => "DOWN",
                Some(NodeStatus::Paused) => "PAUSED",
                _ => "",
            };
            lines.push(Line::raw(format!(
                " b{broker} {role}{down:<7}{from:>5} {strip} LEO {leo} HW {hw}"
            )));
        }
    }
    if lines.is_empty() {
        lines.push(Line::raw("no partitions yet"));
    } else {
        lines.push(Line::raw(
            " █ committed (< HW)  ▒ uncommitted  · absent  ✗ just truncated",
        ));
    }
    lines
}

fn network_lines(run: &RunView, theme: &Theme) -> Vec<Line<'static>> {
    let sim = run.session.sim();
    let world = sim.world();
    let now = world.now().as_micros();
    let mut lines: Vec<Line> = world
        .in_flight()
        .map(|m| {
            let api = kafkalab_sim::kernel::MessageKind::kind(&m.msg);
            Line::raw(format!(
                "#{:<6} {api:<20} {} → {}  in {}",
                m.id.0,
                world.name(m.from),
                world.name(m.to),
                kafkalab_sim::check::seconds(m.deliver_at.as_micros().saturating_sub(now))
            ))
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::raw("nothing in flight"));
    }
    // The last messages the network dropped, newest first, marked as such.
    for drop in sim.history().recent_drops.iter().rev() {
        let name = |n: Option<kafkalab_sim::kernel::NodeId>| n.map_or("?", |n| world.name(n));
        // Compact, so the reason fits the pane.
        let reason = match drop.reason {
            kafkalab_sim::kernel::DropReason::LinkCut => "link cut",
            kafkalab_sim::kernel::DropReason::Lost => "lost on the link",
            kafkalab_sim::kernel::DropReason::Command => "dropped by you",
            kafkalab_sim::kernel::DropReason::NodeDown => "receiver down",
        };
        lines.push(Line::styled(
            format!(
                "#{:<6} DROPPED {} {} → {} {} {reason}",
                drop.id.0,
                drop.api.unwrap_or("message"),
                name(drop.from),
                name(drop.to),
                kafkalab_sim::check::seconds(drop.time_us)
            ),
            theme.fg(Color::Red),
        ));
    }
    lines
}

fn group_lines(run: &RunView) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for g in run.session.sim().groups() {
        lines.push(Line::raw(format!(
            "{}  {}  generation {}  coordinator b{}  {} members",
            g.group,
            g.state,
            g.generation,
            g.coordinator,
            g.members.len()
        )));
        for o in &g.offsets {
            let show = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
            let owner = o
                .member_id
                .as_ref()
                .and_then(|m| g.members.iter().find(|x| &x.member_id == m))
                .map_or("-".to_string(), |m| m.client_id.to_string());
            lines.push(Line::raw(format!(
                "  {}-{}  committed {}  lag {}  owner {owner}",
                o.tp.topic,
                o.tp.partition,
                show(o.committed),
                show(o.lag)
            )));
        }
    }
    if lines.is_empty() {
        lines.push(Line::raw("no consumer groups"));
    }
    lines
}

fn event_lines(run: &RunView, theme: &Theme) -> Vec<Line<'static>> {
    let sim = run.session.sim();
    let world = sim.world();
    let events = &sim.history().story.events;
    let cursor = run.selected_event.and(run.event_cursor());
    let mut lines: Vec<Line> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let who = e.node.map_or("", |n| world.name(n));
            let what = match e.peer {
                Some(peer) => e.what.replace("{peer}", world.name(peer)),
                None => e.what.clone(),
            };
            let selected = cursor == Some(i);
            let marker = if selected { ">" } else { " " };
            Line::styled(
                format!(
                    "{marker}step {:>7} {:>9} {who:<12} {what}",
                    e.step,
                    kafkalab_sim::check::seconds(e.time_us)
                ),
                theme.focus(selected),
            )
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::raw(
            "nothing notable yet: step forward (n) or play (space)",
        ));
    }
    lines
}

fn render_timeline(run: &RunView, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let session = &run.session;
    let end = session.horizon().max(session.step()).max(1);
    let width = area.width.saturating_sub(2) as u64;
    let mut bar: Vec<char> = vec!['─'; width as usize];
    for e in &session.sim().history().story.events {
        let at = (e.step * width / end).min(width.saturating_sub(1)) as usize;
        if let Some(c) = bar.get_mut(at) {
            *c = '◆';
        }
    }
    for c in session.commands() {
        let at = (c.step * width / end).min(width.saturating_sub(1)) as usize;
        if let Some(slot) = bar.get_mut(at) {
            *slot = '✚';
        }
    }
    let cursor = (session.step() * width / end).min(width.saturating_sub(1)) as usize;
    if let Some(c) = bar.get_mut(cursor) {
        *c = '▲';
    }
    let title = format!(
        " Timeline: step {} of {} reached · ◆ event  ✚ your action  ▲ now ",
        session.step(),
        session.horizon()
    );
    Paragraph::new(Line::styled(
        bar.into_iter().collect::<String>(),
        theme.fg(Color::Cyan),
    ))
    .block(Block::default().borders(Borders::ALL).title(title))
    .render(area, buf);
}

fn render_help(theme: &Theme, area: Rect, buf: &mut Buffer) {
    let width = 80.min(area.width);
    let height = (KEYS.len() as u16 + 4).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    Clear.render(popup, buf);
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| Line::raw(format!(" {key:<16} {what}")))
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(" press any key to close", theme.bold()));
    Paragraph::new(lines)
        .block(Block::default().borders(Borders::ALL).title(" Keys "))
        .render(popup, buf);
}

/// The lesson pane: where the learner is in the lesson, the step's prose (scrolls), and its
/// checkpoint, always in view at the bottom.
fn render_lesson(run: &RunView, lesson: &LessonRun, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let focused = run.focus == Pane::Lesson;
    let l = &lesson.lesson;
    let title = format!(
        " Lesson {}: {}{} ",
        l.number,
        l.title,
        if focused { " (focused)" } else { "" }
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focus(focused))
        .title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 4 || inner.height < 4 {
        return;
    }
    let styles = markdown::Styles {
        no_color: theme.no_color,
    };
    let width = inner.width.saturating_sub(1);
    let checkpoint = checkpoint_lines(lesson, theme, width);
    let height = (checkpoint.len() as u16 + 1).min(inner.height / 2 + 1);
    let [prose_area, checkpoint_area] =
        Layout::vertical([Constraint::Min(2), Constraint::Length(height)]).areas(inner);

    let step = lesson.step();
    let marks: String = (0..l.steps.len())
        .map(|i| {
            if i == lesson.index {
                '▶'
            } else if lesson.progress.completed.contains(&i) {
                '✓'
            } else {
                '·'
            }
        })
        .flat_map(|c| [c, ' '])
        .collect();
    let mut lines = vec![
        Line::styled(
            format!(
                "Step {} of {} · {}",
                lesson.index + 1,
                l.steps.len(),
                step.checkpoint.kind()
            ),
            theme.bold(),
        ),
        Line::raw(format!("{}  (~{} min)", marks.trim_end(), l.minutes)),
        Line::raw(""),
    ];
    let mut text = String::new();
    if lesson.index == 0 && !l.intro.trim().is_empty() {
        text += l.intro.trim();
        text += "\n\n";
    }
    text += &format!("## {}\n\n{}", step.title, step.prose.trim());
    lines.extend(markdown::render(&text, width, styles));
    let index = Pane::ALL
        .iter()
        .position(|p| *p == Pane::Lesson)
        .unwrap_or(0);
    let max_scroll = lines.len().saturating_sub(prose_area.height as usize);
    let scroll = run.scroll[index].min(max_scroll);
    let more = if scroll < max_scroll {
        " ↓ more (j)"
    } else {
        ""
    };
    Paragraph::new(lines)
        .scroll((scroll as u16, 0))
        .render(prose_area, buf);
    let mut checkpoint = checkpoint;
    checkpoint.insert(
        0,
        Line::styled(
            format!("{:─<w$}", format!("─{more}"), w = usize::from(inner.width)),
            theme.fg(Color::DarkGray),
        ),
    );
    Paragraph::new(checkpoint).render(checkpoint_area, buf);
}

/// The step's checkpoint: the question, the task or "read on", and the learner's last
/// feedback, wrapped to `width`.
fn checkpoint_lines(lesson: &LessonRun, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    use kafkalab_sim::lesson::Checkpoint;
    let styles = markdown::Styles {
        no_color: theme.no_color,
    };
    let mut md = String::new();
    let next = if lesson.is_last() {
        "This is the lesson's last step: **h** for the home screen and the next lesson."
    } else {
        "Press **enter** (or **>**) for the next step."
    };
    match (&lesson.step().checkpoint, &lesson.state) {
        (_, StepState::Stuck(e)) => {
            md += &format!(
                "**This step could not start:** {e}\n\n**r** plays it again from its start; \
                 **<** goes back a step."
            );
        }
        (_, StepState::Observe) => {
            md += &format!(
                "**OBSERVE** · look around: **n** steps the run, **space** plays it.\n\n{next}"
            );
        }
        (Checkpoint::Predict(p), StepState::Predict { answered, .. }) => {
            md += &format!("**PREDICT** · {}\n", p.question);
            for (i, choice) in p.choices.iter().enumerate() {
                md += &format!("\n{}. {choice}", i + 1);
            }
            if answered.is_none() {
                md += "\n\n**a** (or **enter**) to answer · **v** shows the answer";
            }
        }
        (Checkpoint::Do(t), StepState::Do { done }) => {
            md += &format!("**DO** · {}\n", t.task);
            if !done {
                md += "\n**x** to act · **v** does it for you · **r** starts the step again";
            }
        }
        _ => {}
    }
    let mut lines = markdown::render(&md, width, styles);
    let feedback = match &lesson.feedback {
        Some(Feedback::Success(text)) => Some((
            format!("✓ {text}"),
            theme.fg(Color::Green).add_modifier(Modifier::BOLD),
        )),
        Some(Feedback::Miss(text)) => Some((
            format!("✗ {text}"),
            theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        )),
        Some(Feedback::Note(text)) => Some((format!("! {text}"), theme.fg(Color::Yellow))),
        None => None,
    };
    if let Some((text, style)) = feedback {
        lines.push(Line::raw(""));
        for mut line in markdown::render(&text, width, styles) {
            line = line.patch_style(style);
            lines.push(line);
        }
        if lesson.complete() && !lesson.finished {
            lines.extend(markdown::render(next, width, styles));
        }
    }
    lines
}
