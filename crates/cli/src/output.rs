//! Human or JSON output, and one-line errors.

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tandem_client::ClientError;

/// Prints `value` as pretty JSON, or the human text.
pub fn print<T: Serialize>(json: bool, value: &T, human: impl FnOnce() -> String) {
    if json {
        match serde_json::to_string_pretty(value) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: cannot encode the output: {e}"),
        }
    } else {
        println!("{}", human());
    }
}

pub fn error(json: bool, e: &ClientError) {
    if json {
        let body = match e {
            ClientError::Api(api) => serde_json::to_value(api).unwrap_or_default(),
            other => serde_json::json!({ "code": "client_error", "message": other.to_string() }),
        };
        eprintln!("{body}");
    } else {
        eprintln!("error: {e}");
    }
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
