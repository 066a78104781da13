//! A real SMPP server on loopback: `tests/peers/smsc.js` on the npm `smpp` package, which
//! `.ci/run` installs under `$HOME/.cache/tandem-peers/npm` (`TANDEM_PEER_NPM` names another
//! `node_modules`, `TANDEM_PEER_NODE` another `node`). It records every `submit_sm` as a JSON
//! line.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct SmppPeer {
    child: Child,
    pub port: u16,
    record: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for SmppPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node_and_modules() -> Option<(String, String)> {
    let node = std::env::var("TANDEM_PEER_NODE").unwrap_or_else(|_| "node".to_owned());
    let modules = std::env::var("TANDEM_PEER_NPM").ok().or_else(|| {
        std::env::var("HOME")
            .ok()
            .map(|h| format!("{h}/.cache/tandem-peers/npm/node_modules"))
    })?;
    let ok = Command::new(&node)
        .args(["-e", "require('smpp')"])
        .env("NODE_PATH", &modules)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some((node, modules))
}

impl SmppPeer {
    /// Starts the SMSC accepting `system_id`/`password`; `None` (after printing why) when
    /// node or the package is missing and `TANDEM_REQUIRE_PEERS` is not `1`, a panic when it
    /// is.
    pub fn start(system_id: &str, password: &str) -> Option<SmppPeer> {
        let Some((node, modules)) = node_and_modules() else {
            if std::env::var("TANDEM_REQUIRE_PEERS").is_ok_and(|v| v == "1") {
                panic!(
                    "node or the npm package smpp is missing (TANDEM_REQUIRE_PEERS=1): run .ci/run or npm install --prefix ~/.cache/tandem-peers/npm smpp@0.5.1"
                );
            }
            println!(
                "skipping: node or the npm package smpp is not installed (set TANDEM_REQUIRE_PEERS=1 to fail instead)"
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join("submits.jsonl");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/smsc.js");
        let mut child = Command::new(node)
            .arg(script)
            .arg(&record)
            .args([system_id, password])
            .env("NODE_PATH", modules)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the SMSC");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the SMSC did not start: {line:?}"));
        Some(SmppPeer {
            child,
            port,
            record,
            _dir: dir,
        })
    }

    /// Everything recorded so far (`submit_sm`s and refused binds).
    pub fn events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}
