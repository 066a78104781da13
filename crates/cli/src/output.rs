//! Human or JSON output, and one-line errors.

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tandem_client::ClientError;

/// Prints `value` as pretty JSON, or the human text. JSON escapes every control character
/// already; the human text keeps only its own line breaks and tabs (server strings in it
/// should have gone through [`clean`], which escapes line breaks too).
pub fn print<T: Serialize>(json: bool, value: &T, human: impl FnOnce() -> String) {
    if json {
        match serde_json::to_string_pretty(value) {
            Ok(s) => println!("{}", json_escape(&s)),
            Err(e) => eprintln!("error: cannot encode the output: {e}"),
        }
    } else {
        println!("{}", escape(&human(), true));
    }
}

pub fn error(json: bool, e: &ClientError) {
    if json {
        let body = match e {
            ClientError::Api(api) => serde_json::to_value(api).unwrap_or_default(),
            other => serde_json::json!({ "code": "client_error", "message": other.to_string() }),
        };
        eprintln!("{}", json_escape(&body.to_string()));
    } else {
        // An API error's message is server text: one line, escaped. Local errors may span
        // lines (a refused configuration) but get no control characters through either.
        let text = e.to_string();
        match e {
            ClientError::Api(_) => eprintln!("error: {}", clean(&text)),
            _ => eprintln!("error: {}", escape(&text, true)),
        }
    }
}

/// A string from the server (or anyone else), made safe to print on a terminal: control
/// characters (ESC, CR, LF, C1 such as CSI), bidirectional overrides and invisible
/// characters are shown as `\u{..}` escapes, so it can neither move the cursor, recolour or
/// rewrite earlier output, nor reorder or hide what is printed around it.
pub fn clean(s: &str) -> String {
    escape(s, false)
}

/// JSON escapes only C0 controls, quotes and backslashes; C1 controls, bidi overrides and
/// invisible characters inside strings pass through raw. They can only occur inside strings
/// (JSON's own syntax is ASCII), where a `\uXXXX` escape means the same character.
fn json_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c != '\n' && is_unsafe(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

fn escape(s: &str, keep_layout: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if keep_layout && (c == '\n' || c == '\t') || !is_unsafe(c) {
            out.push(c);
        } else {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        }
    }
    out
}

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            // Bidirectional marks, embeddings, overrides and isolates.
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
            // Zero-width and invisible characters, line and paragraph separators.
            | '\u{200b}'..='\u{200d}' | '\u{2028}' | '\u{2029}' | '\u{2060}'..='\u{2064}' | '\u{feff}'
            // Interlinear annotation and the deprecated format characters.
            | '\u{fff9}'..='\u{fffb}' | '\u{206a}'..='\u{206f}')
}

pub use tandem_proto::rfc3339;

/// A duration in words: `45 s`, `12 min`, `3 h 20 min`, `2 d 4 h`.
pub fn duration(ms: i64) -> String {
    let s = ms.unsigned_abs().div_ceil(1000);
    match s {
        0..60 => format!("{s} s"),
        60..3_600 => format!("{} min", s / 60),
        3_600..86_400 if s % 3_600 / 60 == 0 => format!("{} h", s / 3_600),
        3_600..86_400 => format!("{} h {} min", s / 3_600, s % 3_600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3_600),
    }
}

/// RFC 3339 and how far from now: `2026-01-01T01:30:00Z (in 1 h 30 min)`.
pub fn when(ms: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let delta = ms - now;
    let relative = if delta >= 0 {
        format!("in {}", duration(delta))
    } else {
        format!("{} ago", duration(delta))
    };
    format!("{} ({relative})", rfc3339(ms))
}

/// A spinner on stderr while a ceremony runs (hidden with `--json` or without a terminal).
pub fn spinner(json: bool, message: &str) -> ProgressBar {
    let bar = if json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    bar
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_durations() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_600_000), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000 + 3_661_000), "2000-02-29T01:01:01Z");
        assert_eq!(rfc3339(-1_000), "1969-12-31T23:59:59Z");
        assert_eq!(duration(59_000), "59 s");
        assert_eq!(duration(59_001), "1 min");
        assert_eq!(duration(5_400_000), "1 h 30 min");
        assert_eq!(duration(7_200_000), "2 h");
        assert_eq!(duration(90_000_000), "1 d 1 h");
    }

    #[test]
    fn escapes_terminal_controls_and_bidi() {
        let evil = "a\u{1b}[2J\rb\nc\u{9b}31m\u{202e}d\u{2067}e\u{200b}\u{7f}";
        let shown = clean(evil);
        assert_eq!(
            shown,
            "a\\u{1b}[2J\\u{d}b\\u{a}c\\u{9b}31m\\u{202e}d\\u{2067}e\\u{200b}\\u{7f}"
        );
        assert!(shown.chars().all(|c| !is_unsafe(c)));
        assert_eq!(escape("x\ny\tz\u{1b}", true), "x\ny\tz\\u{1b}");
        assert_eq!(
            clean("ordinary text, ünïcødé 🙂"),
            "ordinary text, ünïcødé 🙂"
        );
        let json = serde_json::to_string(&serde_json::json!({ "a": evil })).unwrap();
        let escaped = json_escape(&json);
        assert!(escaped.chars().all(|c| !is_unsafe(c)));
        let back: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back["a"], evil);
    }
}
