//! Login codes delivered by real SMTP to a real SMTP server on loopback (aiosmtpd), read
//! back from the delivered mail. The peer is Python's `aiosmtpd`; `.ci/run` installs it in a
//! venv and names its interpreter in `TANDEM_PEER_PYTHON`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::smtp_peer::SmtpPeer;
use common::verify::recover_personal;
use common::{Backend, Cli, Server, ServerOptions, unique_email};

#[tokio::test(flavor = "multi_thread")]
async fn login_code_through_a_real_smtp_server() {
    let Some(peer) = SmtpPeer::start() else {
        return;
    };

    let server = Server::start_with(
        &Backend::Sqlite,
        ServerOptions {
            env: peer.server_env(),
            args: Vec::new(),
        },
    );
    let email = unique_email("smtp");
    let cli = Cli::new(&server);
    let mut login = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .env("TANDEM_HOME", cli.home())
        .env("TANDEM_SERVER", &server.url)
        .args(["--json", "login", "--email", &email])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let code = peer.code(&email, 0);
    writeln!(login.stdin.take().unwrap(), "{code}").unwrap();
    let out = login.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The code went by mail only: nothing in the development outbox, nothing in the log.
    assert_eq!(server.code_count(&email), 0);
    let log = server.log();
    for shape in [
        format!(" {code}"),
        format!("={code}"),
        format!("\"{code}\""),
    ] {
        assert!(
            !log.contains(&shape),
            "the code must not appear in the server log"
        );
    }

    let wallet = cli.json(&["wallet", "create", "--chain", "evm"]);
    let r = cli.json(&[
        "sign",
        "message",
        "--wallet",
        wallet["id"].as_str().unwrap(),
        "by mail",
    ]);
    assert_eq!(
        recover_personal(b"by mail", r["signature"].as_str().unwrap()).to_checksum(None),
        wallet["address"].as_str().unwrap()
    );
}
