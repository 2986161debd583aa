//! Lesson prose on screen: the Markdown a lesson is written in, rendered to terminal lines of
//! a given width — headings, paragraphs, `*emphasis*`, `**strong**`, `` `code` ``, links,
//! bulleted and numbered lists (continuation lines indented under the text), quotes and
//! fenced code blocks.
//!
//! Why not a Markdown crate: lessons use a small, fixed subset, and the lab needs each line
//! wrapped to the pane with hanging indents, which a renderer to HTML or to one `Text`
//! would not do; this is a few hundred lines with no dependency. What it does not know
//! (tables, nested emphasis inside code, HTML) shows as written, never dropped.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

/// How styles are chosen: with `no_color` only modifiers (bold, italic, underline) are used,
/// so the text reads the same without colour.
#[derive(Clone, Copy, Debug)]
pub struct Styles {
    pub no_color: bool,
}

impl Styles {
    fn heading(self) -> Style {
        let s = Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
        if self.no_color { s } else { s.fg(Color::Cyan) }
    }

    fn code(self) -> Style {
        if self.no_color {
            Style::default()
        } else {
            Style::default().fg(Color::Yellow)
        }
    }
}

/// `markdown` as lines no wider than `width` columns (at least 10).
pub fn render(markdown: &str, width: u16, styles: Styles) -> Vec<Line<'static>> {
    let width = usize::from(width.max(10));
    let mut out: Vec<Line<'static>> = Vec::new();
    // The paragraph being gathered: its first-line prefix, continuation indent and text.
    let mut para: Option<(String, String, String)> = None;
    let mut fence: Option<String> = None;
    let flush = |para: &mut Option<(String, String, String)>, out: &mut Vec<Line<'static>>| {
        if let Some((first, rest, text)) = para.take() {
            out.extend(wrap(&inline(&text, styles), width, &first, &rest));
        }
    };
    for raw in markdown.lines() {
        let line = raw.trim_end();
        if let Some(marker) = &fence {
            if line.trim_start().starts_with(marker.as_str()) {
                fence = None;
            } else {
                // Code keeps its spacing; lines too long for the pane are cut, not wrapped.
                let text: String = format!("  {line}").chars().take(width).collect();
                out.push(Line::styled(text, styles.code()));
            }
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            flush(&mut para, &mut out);
            fence = Some(trimmed[..3].to_string());
            continue;
        }
        if trimmed.is_empty() {
            flush(&mut para, &mut out);
            if out.last().is_some_and(|l| !l.spans.is_empty()) {
                out.push(Line::default());
            }
            continue;
        }
        if let Some((level, title)) = heading(trimmed) {
            flush(&mut para, &mut out);
            let mut spans = inline(title, styles);
            for span in &mut spans {
                span.style = span.style.patch(styles.heading());
            }
            let prefix = if level <= 2 { "" } else { "▸ " };
            out.extend(wrap(&spans, width, prefix, ""));
            continue;
        }
        let indent = line.len() - trimmed.len();
        if let Some((marker, text)) = list_item(trimmed) {
            flush(&mut para, &mut out);
            let pad = " ".repeat(indent.min(8));
            let first = format!("{pad}{marker} ");
            let rest = " ".repeat(first.chars().count());
            para = Some((first, rest, text.to_string()));
            continue;
        }
        if let Some(quoted) = trimmed.strip_prefix('>') {
            flush(&mut para, &mut out);
            para = Some(("│ ".into(), "│ ".into(), quoted.trim_start().to_string()));
            continue;
        }
        if trimmed.starts_with('|') {
            // A table row: shown as written.
            flush(&mut para, &mut out);
            out.push(Line::raw(trimmed.chars().take(width).collect::<String>()));
            continue;
        }
        match &mut para {
            // A continuation line of the paragraph or list item being gathered.
            Some((_, _, text)) => {
                text.push(' ');
                text.push_str(trimmed);
            }
            None => para = Some((String::new(), String::new(), trimmed.to_string())),
        }
    }
    flush(&mut para, &mut out);
    while out.last().is_some_and(|l| l.spans.is_empty()) {
        out.pop();
    }
    out
}

/// `# Title` → (1, "Title").
fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.chars().take_while(|c| *c == '#').count();
    let rest = &line[level..];
    ((1..=6).contains(&level) && rest.starts_with(' ')).then(|| (level, rest.trim()))
}

/// `- item`, `* item`, `+ item` → ("•", "item"); `3. item` → ("3.", "item").
fn list_item(line: &str) -> Option<(String, &str)> {
    for bullet in ["- ", "* ", "+ "] {
        if let Some(rest) = line.strip_prefix(bullet) {
            return Some(("•".to_string(), rest));
        }
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && digits < 4 {
        if let Some(rest) = line[digits..].strip_prefix(". ") {
            return Some((line[..digits + 1].to_string(), rest));
        }
    }
    None
}

/// Inline Markdown as styled spans: `**strong**`, `*em*` / `_em_`, `` `code` ``,
/// `[text](url)` (the text, underlined). An unclosed marker is kept as text.
fn inline(text: &str, styles: Styles) -> Vec<Span<'static>> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut plain = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let flush = |plain: &mut String, spans: &mut Vec<Span<'static>>| {
        if !plain.is_empty() {
            spans.push(Span::raw(std::mem::take(plain)));
        }
    };
    let find = |from: usize, pat: &[char]| -> Option<usize> {
        (from..chars.len()).find(|&j| chars[j..].starts_with(pat))
    };
    while i < chars.len() {
        let c = chars[i];
        let styled = match c {
            '`' => find(i + 1, &['`']).map(|end| (i + 1, end, end + 1, styles.code())),
            '*' if chars.get(i + 1) == Some(&'*') => find(i + 2, &['*', '*'])
                .filter(|end| *end > i + 2)
                .map(|end| {
                    let s = Style::default().add_modifier(Modifier::BOLD);
                    (i + 2, end, end + 2, s)
                }),
            '*' | '_' if opens_emphasis(&chars, i) => find(i + 1, &[c])
                .filter(|end| *end > i + 1 && closes_emphasis(&chars, *end))
                .map(|end| {
                    let s = Style::default().add_modifier(Modifier::ITALIC);
                    (i + 1, end, end + 1, s)
                }),
            '[' => link(&chars, i).map(|(text_end, after)| {
                let s = Style::default().add_modifier(Modifier::UNDERLINED);
                (i + 1, text_end, after, s)
            }),
            _ => None,
        };
        match styled {
            Some((from, to, next, style)) => {
                flush(&mut plain, &mut spans);
                let inner: String = chars[from..to].iter().collect();
                spans.push(Span::styled(inner, style));
                i = next;
            }
            None => {
                plain.push(c);
                i += 1;
            }
        }
    }
    flush(&mut plain, &mut spans);
    spans
}

/// Emphasis opens at a `*`/`_` not inside a word and followed by a non-space: `snake_case`
/// and `2 * 3` stay as written.
fn opens_emphasis(chars: &[char], i: usize) -> bool {
    let before_ok = i == 0 || !chars[i - 1].is_alphanumeric();
    let after_ok = chars.get(i + 1).is_some_and(|c| !c.is_whitespace());
    before_ok && after_ok
}

fn closes_emphasis(chars: &[char], end: usize) -> bool {
    let before_ok = !chars[end - 1].is_whitespace();
    let after_ok = chars.get(end + 1).is_none_or(|c| !c.is_alphanumeric());
    before_ok && after_ok
}

/// `[text](url)` starting at `i`: (index of the `]`, index after the `)`).
fn link(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let close = (i + 1..chars.len()).find(|&j| chars[j] == ']')?;
    if chars.get(close + 1) != Some(&'(') {
        return None;
    }
    let end = (close + 2..chars.len()).find(|&j| chars[j] == ')')?;
    Some((close, end + 1))
}

/// Word-wraps styled spans to `width` columns: the first line starts with `first`, the
/// others with `rest` (a hanging indent for list items). A word longer than a line is cut.
fn wrap(spans: &[Span<'static>], width: usize, first: &str, rest: &str) -> Vec<Line<'static>> {
    // Words as runs of styled pieces: `**bold**,` is two spans but one word, and wraps as
    // one.
    let mut words: Vec<Vec<(String, Style)>> = Vec::new();
    let mut open = false; // whether the last word may continue into the next span
    for span in spans {
        for (i, piece) in span.content.split(' ').enumerate() {
            if i > 0 {
                open = false;
            }
            if piece.is_empty() {
                continue;
            }
            match words.last_mut() {
                Some(word) if open => word.push((piece.to_string(), span.style)),
                _ => words.push(vec![(piece.to_string(), span.style)]),
            }
            open = true;
        }
    }
    let prefix = |p: &str| -> Vec<Span<'static>> {
        if p.is_empty() {
            Vec::new()
        } else {
            vec![Span::raw(p.to_string())]
        }
    };
    let mut lines = Vec::new();
    let mut line = prefix(first);
    let mut used = first.chars().count();
    let mut empty = true;
    for word in words {
        let len: usize = word.iter().map(|(t, _)| t.chars().count()).sum();
        if !empty && used + 1 + len > width {
            lines.push(Line::from(std::mem::replace(&mut line, prefix(rest))));
            used = rest.chars().count();
            empty = true;
        }
        if !empty {
            line.push(Span::raw(" "));
            used += 1;
        }
        for (text, style) in word {
            let room = width.saturating_sub(used);
            let text: String = text.chars().take(room.max(1)).collect();
            if room == 0 && !empty {
                break;
            }
            used += text.chars().count();
            line.push(Span::styled(text, style));
        }
        empty = false;
    }
    if !empty {
        lines.push(Line::from(line));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    fn plain(md: &str, width: u16) -> Vec<String> {
        text(&render(md, width, Styles { no_color: true }))
    }

    #[test]
    fn paragraphs_wrap_to_the_width_and_keep_their_breaks() {
        let md = "Kafka is a distributed commit log,\nnot a queue.\n\nA second paragraph.";
        assert_eq!(
            plain(md, 20),
            [
                "Kafka is a",
                "distributed commit",
                "log, not a queue.",
                "",
                "A second paragraph."
            ]
        );
    }

    #[test]
    fn emphasis_strong_code_and_links_are_styled_and_their_markers_dropped() {
        let lines = render(
            "A **log**, *not* a `queue`: see [the docs](https://kafka.apache.org).",
            80,
            Styles { no_color: true },
        );
        assert_eq!(
            text(&lines),
            ["A log, not a queue: see the docs."],
            "markers gone, punctuation glued to its word"
        );
        let style_of = |word: &str| {
            lines[0]
                .spans
                .iter()
                .find(|s| s.content == word)
                .map(|s| s.style)
                .unwrap_or_else(|| panic!("{word} in {lines:?}"))
        };
        assert!(style_of("log").add_modifier.contains(Modifier::BOLD));
        assert!(style_of("not").add_modifier.contains(Modifier::ITALIC));
        assert!(style_of("docs").add_modifier.contains(Modifier::UNDERLINED));
        // Colour is only a repeat: with colours on, code is yellow.
        let coloured = render("`queue`", 80, Styles { no_color: false });
        assert_eq!(coloured[0].spans[0].style.fg, Some(Color::Yellow));
    }

    #[test]
    fn words_with_underscores_and_lone_stars_stay_as_written() {
        assert_eq!(
            plain("auto_offset_reset is 2 * 3 and a_b", 80),
            ["auto_offset_reset is 2 * 3 and a_b"]
        );
        assert_eq!(plain("an *unclosed marker", 80), ["an *unclosed marker"]);
    }

    #[test]
    fn list_items_get_bullets_and_hanging_indents() {
        let md =
            "Steps:\n\n- crash the leader of orders-0\n  and watch\n- 2. not a number\n10. ten";
        assert_eq!(
            plain(md, 22),
            [
                "Steps:",
                "",
                "• crash the leader of",
                "  orders-0 and watch",
                "• 2. not a number",
                "10. ten",
            ]
        );
    }

    #[test]
    fn headings_code_blocks_and_quotes() {
        let md =
            "## Offsets\n\nText.\n\n```sh\nkafkalab describe topics quickstart\n```\n> a quote";
        let lines = render(md, 30, Styles { no_color: true });
        assert_eq!(
            text(&lines),
            [
                "Offsets",
                "",
                "Text.",
                "",
                "  kafkalab describe topics qui",
                "│ a quote"
            ]
        );
        assert!(
            lines[0].spans[0]
                .style
                .add_modifier
                .contains(Modifier::BOLD)
        );
    }

    #[test]
    fn nothing_is_wider_than_the_pane() {
        let md = "A verylongwordwithoutanyspacesthatdoesnotfit at all, then `code` and **bold**.";
        for width in [10u16, 13, 17, 25] {
            for line in plain(md, width) {
                assert!(
                    line.chars().count() <= usize::from(width),
                    "{line:?} > {width}"
                );
            }
        }
    }
}
