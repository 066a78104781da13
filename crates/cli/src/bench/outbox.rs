//! Login codes from the server's development outbox (`<data dir>/dev-outbox.jsonl`, one
//! `{"to","code","at"}` line per code sent).

use std::path::Path;
use std::time::{Duration, Instant};

use tandem_client::ClientError;

/// How often the outbox is re-read while waiting for a code.
const POLL: Duration = Duration::from_millis(20);

/// The newest code sent to `email` in the outbox text, if any.
pub fn find_code(outbox: &str, email: &str) -> Option<String> {
    outbox.lines().rev().find_map(|line| {
        let entry: serde_json::Value = serde_json::from_str(line).ok()?;
        if entry.get("to")?.as_str()? != email {
            return None;
        }
        entry.get("code")?.as_str().map(str::to_owned)
    })
}

/// Waits (up to `timeout`) for the server to write a code for `email` to the outbox file.
/// `email` must be in the server's normal form (trimmed, lower case).
pub async fn wait_for_code(
    path: &Path,
    email: &str,
    timeout: Duration,
) -> Result<String, ClientError> {
    let deadline = Instant::now() + timeout;
    loop {
        match tokio::fs::read_to_string(path).await {
            Ok(text) => {
                if let Some(code) = find_code(&text, email) {
                    return Ok(code);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ClientError::Local(format!(
                    "cannot read the outbox {}: {e}",
                    path.display()
                )));
            }
        }
        if Instant::now() >= deadline {
            return Err(ClientError::Local(format!(
                "no login code for {email} in {} after {} s: is the server running with \
                 `mail.mode = \"outbox\"` and that data directory?",
                path.display(),
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_code_for_the_address() {
        let text = concat!(
            "{\"to\":\"a@x.test\",\"code\":\"111111\",\"at\":1}\n",
            "not json\n",
            "{\"to\":\"b@x.test\",\"code\":\"222222\",\"at\":2}\n",
            "{\"to\":\"a@x.test\",\"code\":\"333333\",\"at\":3}\n",
            "{\"to\":\"c@x.test\"}\n",
        );
        assert_eq!(find_code(text, "a@x.test").as_deref(), Some("333333"));
        assert_eq!(find_code(text, "b@x.test").as_deref(), Some("222222"));
        assert_eq!(find_code(text, "c@x.test"), None);
        assert_eq!(find_code(text, "d@x.test"), None);
        assert_eq!(find_code("", "a@x.test"), None);
    }
}
