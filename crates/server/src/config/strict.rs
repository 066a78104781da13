//! Unknown keys are errors: a misspelled setting (`databse_url`, `prot = 2525`) must not
//! silently fall back to its default, least of all in production.
//!
//! The valid keys are not listed anywhere by hand: they are the keys [`Config`]'s `Serialize`
//! output has (the same one `tandem config check` prints). A new setting is a new field of
//! the configuration structs (deriving `Serialize` and `Deserialize` like its neighbours);
//! nothing else has to be registered. Only `TANDEM_*` variables that are not configuration
//! keys but are read elsewhere (the device CLI, tests, logging) are listed, in
//! [`OTHER_VARIABLES`] and [`OTHER_PREFIXES`].

use std::path::Path;

use figment::providers::{Format, Toml};
use figment::value::{Dict, Value};
use figment::{Profile, Provider};
use serde_json::{Map, Value as Json};

use super::{Config, ConfigError};

/// `TANDEM_*` variables that are not configuration keys and are read by other parts of the
/// binary (the device commands, `Config::load` itself) or by the test suites.
pub const OTHER_VARIABLES: &[&str] = &[
    // Read verbatim by `Config::load`.
    "TANDEM_CONFIG",
    "TANDEM_VAULT_PKCS11_PIN",
    // The device-side commands of the same binary.
    "TANDEM_SERVER",
    "TANDEM_CA_FILE",
    "TANDEM_TIMEOUT",
    "TANDEM_HOME",
    "TANDEM_PASSPHRASE",
    // Failpoints, compiled into test builds only.
    "TANDEM_FAILPOINTS",
    // The SDK's examples (crates/client/examples).
    "TANDEM_URL",
    "TANDEM_EMAIL",
    "TANDEM_DATA",
    // Test suites, CI and benchmarks.
    "TANDEM_REQUIRE_PEERS",
    "TANDEM_BENCH_REPORT",
    "TANDEM_WRITE_FIXTURES",
    "TANDEM_SECRET_CANARY",
    "TANDEM_PREVIOUS_BIN",
    "TANDEM_PREVIOUS_CACHE",
    "TANDEM_ADVISORY_DB",
    // Read at build time only (the commit in the build-info metric).
    "TANDEM_GIT_COMMIT",
];

/// Prefixes of other variables: logging (`TANDEM_LOG`, `TANDEM_LOG_FORMAT`, …, and the
/// tests' `TANDEM_LOGIN_CODE`), test peers and test settings.
pub const OTHER_PREFIXES: &[&str] = &[
    "TANDEM_LOG",
    "TANDEM_TEST_",
    "TANDEM_PEER_",
    "TANDEM_PKCS11_TEST_",
];

const PREFIX: &str = "TANDEM_";

/// Fails on the first key of the file (`file`) or `TANDEM_*` variable (`env`) that is not a
/// configuration key, naming it and the nearest valid one.
pub(super) fn check(
    config: &Config,
    file: Option<&Path>,
    env: &[(String, String)],
) -> Result<(), ConfigError> {
    let known = match serde_json::to_value(config) {
        Ok(Json::Object(map)) => map,
        _ => return Err(ConfigError::Source("cannot list the valid keys".to_owned())),
    };
    if let Some(path) = file {
        let data = Toml::file_exact(path)
            .data()
            .map_err(|e| ConfigError::Source(e.to_string()))?;
        if let Some(dict) = data.get(&Profile::Default) {
            check_dict(dict, &known, &mut Vec::new(), path)?;
        }
    }
    check_env(&known, env)
}

fn check_dict(
    dict: &Dict,
    known: &Map<String, Json>,
    path: &mut Vec<String>,
    file: &Path,
) -> Result<(), ConfigError> {
    for (key, value) in dict {
        match known.get(key) {
            None => {
                let dotted = dotted_with(path, key);
                let section = if path.is_empty() {
                    "at the top level".to_owned()
                } else {
                    format!("in [{}]", path.join("."))
                };
                let valid: Vec<&str> = known.keys().map(String::as_str).collect();
                let hint = match nearest(key, valid.iter().copied()) {
                    Some(n) => format!("did you mean `{}`? ", dotted_with(path, n)),
                    None => String::new(),
                };
                return Err(ConfigError::Unknown {
                    message: format!(
                        "unknown key `{dotted}` in {}: {hint}(valid keys {section}: {})",
                        file.display(),
                        valid.join(", ")
                    ),
                    key: dotted,
                });
            }
            Some(Json::Object(sub)) => {
                if let Value::Dict(_, inner) = value {
                    path.push(key.clone());
                    check_dict(inner, sub, path, file)?;
                    path.pop();
                }
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn check_env(known: &Map<String, Json>, env: &[(String, String)]) -> Result<(), ConfigError> {
    let mut valid = Vec::new();
    env_names(known, PREFIX.to_owned(), &mut valid);
    for (name, _) in env {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        if OTHER_VARIABLES.contains(&name.as_str())
            || OTHER_PREFIXES.iter().any(|p| name.starts_with(p))
        {
            continue;
        }
        let lower = rest.to_ascii_lowercase();
        let segments: Vec<&str> = lower.split("__").collect();
        if is_known(known, &segments) {
            continue;
        }
        let hint = match nearest(name, valid.iter().map(String::as_str)) {
            Some(n) => format!("did you mean `{n}`?"),
            None => "see the configuration reference in README.md".to_owned(),
        };
        return Err(ConfigError::Unknown {
            key: name.clone(),
            message: format!(
                "unknown environment variable `{name}` (not a configuration key): {hint} \
                 Nested keys are joined with `__` (TANDEM_MAIL__SMTP__PORT for mail.smtp.port)."
            ),
        });
    }
    Ok(())
}

fn is_known(known: &Map<String, Json>, segments: &[&str]) -> bool {
    let Some((first, rest)) = segments.split_first() else {
        return false;
    };
    match (known.get(*first), rest.is_empty()) {
        (None, _) => false,
        (Some(_), true) => true,
        (Some(Json::Object(sub)), false) => is_known(sub, rest),
        (Some(_), false) => false,
    }
}

fn env_names(known: &Map<String, Json>, prefix: String, out: &mut Vec<String>) {
    for (key, value) in known {
        let name = format!("{prefix}{}", key.to_ascii_uppercase());
        if let Json::Object(sub) = value {
            env_names(sub, format!("{name}__"), out);
        } else {
            out.push(name);
        }
    }
}

fn dotted_with(path: &[String], key: &str) -> String {
    let mut all = path.to_vec();
    all.push(key.to_owned());
    all.join(".")
}

/// The candidate closest to `given` (optimal string alignment distance: a swap of two
/// neighbouring letters counts as one edit), if close enough to be a likely typo.
pub fn nearest<'a>(given: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let given_lower = given.to_ascii_lowercase();
    let (best, distance) = candidates
        .map(|c| (c, edit_distance(&given_lower, &c.to_ascii_lowercase())))
        .min_by_key(|&(_, d)| d)?;
    let len = given.chars().count();
    (distance <= 2 || distance * 3 <= len).then_some(best)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: distance between a[..i] and b[..j].
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_key() {
        let keys = ["host", "port", "tls", "username", "password"];
        assert_eq!(nearest("prot", keys.iter().copied()), Some("port"));
        assert_eq!(nearest("usernmae", keys.iter().copied()), Some("username"));
        assert_eq!(nearest("colour", keys.iter().copied()), None);
        assert_eq!(edit_distance("databse_url", "database_url"), 1);
        assert_eq!(edit_distance("ab", "ba"), 1);
    }
}
