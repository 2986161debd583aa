//! The lab: watch, step, rewind and break a simulated Kafka cluster in the terminal.
//!
//! Elm-style, after ratatui's demo apps and gitui: [`app`] is the model and its `update`
//! (keys, mouse, resize, ticks in; no drawing), [`view`] draws a frame from the model and
//! only reads it, and [`session`] is the run the learner moves through (forward, back,
//! branch). This module owns the terminal: raw mode, the alternate screen and mouse
//! capture, always restored — on quit, on error and on panic.
//!
//! Ticks use the wall clock (50 ms) only to pace *playing*: which steps happen is still a
//! pure function of the scenario, the seed and the learner's commands.

pub mod app;
pub mod lesson;
pub mod markdown;
pub mod menu;
pub mod progress;
pub mod save;
pub mod session;
pub mod view;

use app::{App, Msg};
use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{self, Write};
use std::time::Duration;

/// How often a playing run advances.
const TICK: Duration = Duration::from_millis(50);

/// Whether `NO_COLOR` asks for no colour (<https://no-color.org>: set and not empty).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Puts the terminal back: raw mode off, main screen, no mouse capture. Safe to call twice.
fn restore(mouse: bool) {
    let _ = disable_raw_mode();
    let mut out = io::stdout();
    if mouse {
        let _ = execute!(out, DisableMouseCapture);
    }
    let _ = execute!(out, LeaveAlternateScreen, crossterm::cursor::Show);
    let _ = out.flush();
}

/// Restores the terminal when dropped, so an early return or an error cannot leave it raw.
struct TerminalGuard {
    mouse: bool,
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore(self.mouse);
    }
}

/// Runs `app` in the terminal until the learner quits.
pub fn run(mut app: App, mouse: bool) -> io::Result<()> {
    // A panic restores the terminal before its message is printed.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore(mouse);
        previous(info);
    }));
    enable_raw_mode()?;
    let _guard = TerminalGuard { mouse };
    let mut out = io::stdout();
    execute!(out, EnterAlternateScreen)?;
    if mouse {
        execute!(out, EnableMouseCapture)?;
    }
    let mut terminal = Terminal::new(CrosstermBackend::new(out))?;
    terminal.clear()?;
    let size = terminal.size()?;
    app.update(Msg::Resize(size.width, size.height));
    while !app.quit {
        terminal.draw(|frame| frame.render_widget(&app, frame.area()))?;
        if event::poll(TICK)? {
            let msg = match event::read()? {
                Event::Key(key) => Some(Msg::Key(key)),
                Event::Mouse(m) => Some(Msg::Mouse(m)),
                Event::Resize(w, h) => Some(Msg::Resize(w, h)),
                _ => None,
            };
            if let Some(msg) = msg {
                app.update(msg);
            }
        } else {
            app.update(Msg::Tick);
        }
    }
    Ok(())
}
