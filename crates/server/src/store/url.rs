//! Database URL helpers.

use std::path::PathBuf;

/// The URL with any password replaced by `[redacted]` (userinfo and `password=` parameters),
/// for logs and Debug output.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let auth_start = scheme_end + 3;
        let auth_end = out[auth_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| auth_start + i);
        if let Some(at) = out[auth_start..auth_end].rfind('@') {
            let userinfo_end = auth_start + at;
            if let Some(colon) = out[auth_start..userinfo_end].find(':') {
                out.replace_range(auth_start + colon + 1..userinfo_end, "[redacted]");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=[redacted]"),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{head}{}", redacted.join("&"));
    }
    out
}

/// What `connect` needs to know about an SQLite URL.
pub(super) struct SqliteTarget {
    /// The URL to hand to sqlx (with `mode=rwc` added unless a mode was given).
    pub url: String,
    /// The database file, unless in memory.
    pub file: Option<PathBuf>,
    /// Whether the database lives in memory (one connection only).
    pub in_memory: bool,
}

/// Parses an `sqlite:` URL the way sqlx does (`sqlite://` or `sqlite:` prefix, then a
/// percent-encoded path, then `?params`).
pub(super) fn sqlite_target(url: &str) -> SqliteTarget {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, params) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let param_mode = params.and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("mode="))
            .map(str::to_owned)
    });
    let in_memory = path == ":memory:" || param_mode.as_deref() == Some("memory");
    let file = (!in_memory && !path.is_empty()).then(|| PathBuf::from(percent_decode(path)));
    let url = if param_mode.is_some() {
        url.to_owned()
    } else if params.is_some() {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    };
    SqliteTarget {
        url,
        file,
        in_memory,
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:[redacted]@h:5432/db"
        );
        assert_eq!(
            redact_url("postgres://h/db?user=u&password=secret"),
            "postgres://h/db?user=u&password=[redacted]"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://./x.db"), "sqlite://./x.db");
    }

    #[test]
    fn sqlite_targets() {
        let t = sqlite_target("sqlite://./data/tandem.db");
        assert_eq!(t.url, "sqlite://./data/tandem.db?mode=rwc");
        assert_eq!(t.file, Some(PathBuf::from("./data/tandem.db")));
        let t = sqlite_target("sqlite:///a%3Fb/t.db?mode=ro");
        assert_eq!(t.url, "sqlite:///a%3Fb/t.db?mode=ro");
        assert_eq!(t.file, Some(PathBuf::from("/a?b/t.db")));
        assert!(sqlite_target("sqlite::memory:").in_memory);
    }
}
