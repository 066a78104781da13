//! `tandem vault …` run as an operator would, against a server's data directory.

use std::path::Path;
use std::process::{Command, Output};

use super::server::Backend;

/// Runs `tandem vault <args> --data-dir <data_dir>` with `env`.
pub fn run(backend: &Backend, data_dir: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tandem"));
    cmd.arg("vault")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("TANDEM_CONFIG")
        .env_remove("TANDEM_DATABASE_URL")
        .env_remove("TANDEM_CLOCK")
        .env_remove("TANDEM_VAULT__PROVIDER");
    if let Backend::Postgres(url) = backend {
        cmd.env("TANDEM_DATABASE_URL", url);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run tandem vault")
}

/// Runs a `tandem --json vault …` command that must succeed; returns its JSON.
pub fn json(
    backend: &Backend,
    data_dir: &Path,
    env: &[(String, String)],
    args: &[&str],
) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = run(backend, data_dir, env, &all);
    assert!(
        out.status.success(),
        "tandem vault {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "tandem vault {args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
