//! The lab's view: `impl Widget for &App`, so drawing a frame only reads the model.
//!
//! State is always written as text (`up`, `CRASHED`, `paused`, `fenced`, `leader`, `in ISR`)
//! and colour only repeats it, so the screen reads the same with `NO_COLOR` or no colour
//! vision.

use super::app::{App, Home, Pane, RunView, SPEEDS, Screen};
use kafkalab_sim::kernel::NodeStatus;
use kafkalab_sim::node::KafkaNode;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
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
        "next / previous notable event (fault, election, rebalance, ...)",
    ),
    ("tab / shift-tab", "next / previous pane"),
    ("j / k / ↓ / ↑", "scroll the focused pane"),
    ("mouse wheel", "scroll the focused pane"),
    ("h", "back to the home screen (when paused)"),
    ("enter", "open the selected scenario (home screen)"),
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

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = Theme {
            no_color: self.no_color,
        };
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
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
            Screen::Home(home) => render_home(home, &theme, area, buf),
            Screen::Run(run) => render_run(run, &theme, area, buf),
        }
        if self.help {
            render_help(&theme, area, buf);
        }
    }
}

fn render_home(home: &Home, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let [title, list, footer] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    Paragraph::new(vec![
        Line::styled("Kafka Lab", theme.bold()),
        Line::raw("A simulated Kafka cluster to watch, step, rewind and break. Pick a scenario."),
    ])
    .render(title, buf);
    let width = home.entries.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let visible = list.height.saturating_sub(2) as usize;
    let first = home.selected.saturating_sub(visible.saturating_sub(1));
    let lines: Vec<Line> = home
        .entries
        .iter()
        .enumerate()
        .skip(first)
        .take(visible)
        .map(|(i, (name, description))| {
            let selected = i == home.selected;
            let marker = if selected { "> " } else { "  " };
            let style = theme.focus(selected);
            Line::from(vec![
                Span::styled(format!("{marker}{name:<width$}  "), style),
                Span::raw(description.clone()),
            ])
        })
        .collect();
    Paragraph::new(lines)
        .block(Block::default().borders(Borders::ALL).title(" Scenarios "))
        .render(list, buf);
    let hint = match &home.error {
        Some(e) => format!("error: {e}"),
        None => "↑/↓ choose · enter open · ? help · q quit".to_string(),
    };
    Paragraph::new(hint).render(footer, buf);
}

fn render_run(run: &RunView, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let [header, body, events, timeline, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(10),
        Constraint::Length(8),
        Constraint::Length(3),
        Constraint::Length(1),
    ])
    .areas(area);
    render_header(run, theme, header, buf);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(body);
    let [cluster, groups] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(left);
    let [partitions, network] =
        Layout::vertical([Constraint::Percentage(65), Constraint::Percentage(35)]).areas(right);
    pane(
        run,
        theme,
        Pane::Cluster,
        cluster_lines(run, theme),
        cluster,
        buf,
    );
    pane(run, theme, Pane::Groups, group_lines(run), groups, buf);
    pane(
        run,
        theme,
        Pane::Partitions,
        partition_lines(run, theme),
        partitions,
        buf,
    );
    pane(run, theme, Pane::Network, network_lines(run), network, buf);
    pane(run, theme, Pane::Events, event_lines(run), events, buf);
    render_timeline(run, theme, timeline, buf);
    Paragraph::new(
        "space play · n/N step · ]/[ next/prev event · g/G start/end · tab pane · ? help · q quit",
    )
    .render(footer, buf);
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
    area: Rect,
    buf: &mut Buffer,
) {
    let focused = run.focus == which;
    let index = Pane::ALL.iter().position(|p| *p == which).unwrap_or(0);
    let inner = area.height.saturating_sub(2) as usize;
    let max_scroll = lines.len().saturating_sub(inner);
    let scroll = run.scroll[index].min(max_scroll);
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
        let from = (top - STRIP).max(0);
        for (broker, log) in replicas {
            let leo = log.log_end_offset();
            let hw = log.high_watermark();
            let strip: String = (from..from + STRIP)
                .map(|o| {
                    if o >= leo {
                        '·'
                    } else if o < hw {
                        '█'
                    } else {
                        '▒'
                    }
                })
                .collect();
            let role = if broker == p.leader {
                "leader  "
            } else if p.isr.contains(&broker) {
                "in ISR  "
            } else {
                "OUT     "
            };
            lines.push(Line::raw(format!(
                "  b{broker} {role}{from:>6} {strip} LEO {leo} HW {hw}"
            )));
        }
    }
    if lines.is_empty() {
        lines.push(Line::raw("no partitions yet"));
    } else {
        lines.push(Line::raw(
            "  █ committed (below HW)  ▒ not yet committed  · not there",
        ));
    }
    lines
}

fn network_lines(run: &RunView) -> Vec<Line<'static>> {
    let world = run.session.sim().world();
    let now = world.now().as_micros();
    let mut lines: Vec<Line> = world
        .in_flight()
        .map(|m| {
            let api = kafkalab_sim::kernel::MessageKind::kind(&m.msg);
            Line::raw(format!(
                "#{:<6} {api:<24} {} → {}  in {}",
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

fn event_lines(run: &RunView) -> Vec<Line<'static>> {
    let sim = run.session.sim();
    let world = sim.world();
    let events = &sim.history().story.events;
    // Newest last; the pane shows the last ones unless scrolled.
    let mut lines: Vec<Line> = events
        .iter()
        .rev()
        .take(200)
        .rev()
        .map(|e| {
            let who = e.node.map_or("", |n| world.name(n));
            let what = match e.peer {
                Some(peer) => e.what.replace("{peer}", world.name(peer)),
                None => e.what.clone(),
            };
            Line::raw(format!(
                "step {:>7} {:>9} {who:<12} {what}",
                e.step,
                kafkalab_sim::check::seconds(e.time_us)
            ))
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::raw(
            "nothing notable yet: step forward (n) or play (space)",
        ));
    }
    // Show the newest by default: the pane scrolls up from the end.
    let keep = 6usize;
    let skip = lines.len().saturating_sub(keep + run.scroll[4]);
    lines.drain(..skip.min(lines.len()));
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
    let width = 72.min(area.width);
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
