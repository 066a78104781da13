//! Login codes delivered by real SMTP to a real SMTP server on loopback (aiosmtpd), read
//! back from the delivered mail. The peer is Python's `aiosmtpd`; `.ci/run` installs it in a
//! venv and names its interpreter in `TANDEM_PEER_PYTHON`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::verify::recover_personal;
use common::{Backend, Cli, Server, ServerOptions, unique_email};

struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn python() -> Option<String> {
    let candidates = [
        std::env::var("TANDEM_PEER_PYTHON").ok(),
        std::env::var("HOME")
            .ok()
            .map(|h| format!("{h}/.cache/tandem-peers/venv/bin/python")),
        Some("python3".to_owned()),
    ];
    candidates.into_iter().flatten().find(|py| {
        Command::new(py)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The newest code in the Maildir, waiting for delivery.
fn code_from_maildir(dir: &std::path::Path, to: &str, before: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mails: Vec<String> = std::fs::read_dir(dir.join("new"))
            .map(|rd| {
                rd.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                    .filter(|m| m.contains(to))
                    .collect()
            })
            .unwrap_or_default();
        if mails.len() > before {
            let mail = mails
                .iter()
                .find(|m| m.contains("Your Tandem login code is"))
                .unwrap();
            let at = mail.find("login code is ").unwrap() + "login code is ".len();
            return mail[at..at + 6].to_owned();
        }
        assert!(Instant::now() < deadline, "no mail delivered to {to}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn login_code_through_a_real_smtp_server() {
    let Some(py) = python() else {
        if std::env::var("TANDEM_REQUIRE_PEERS").is_ok_and(|v| v == "1") {
            panic!(
                "aiosmtpd is not installed (TANDEM_REQUIRE_PEERS=1): run .ci/run or pip install aiosmtpd==1.4.6"
            );
        }
        println!("skipping: aiosmtpd not installed (set TANDEM_REQUIRE_PEERS=1 to fail instead)");
        return;
    };
    let maildir = tempfile::tempdir().unwrap();
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(maildir.path().join(sub)).unwrap();
    }
    let port = free_port();
    let _peer = Peer(
        Command::new(&py)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd"),
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "aiosmtpd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    let server = Server::start_with(
        &Backend::Sqlite,
        ServerOptions {
            env: vec![
                ("TANDEM_MAIL__MODE".into(), "smtp".into()),
                ("TANDEM_MAIL__SMTP__HOST".into(), "127.0.0.1".into()),
                ("TANDEM_MAIL__SMTP__PORT".into(), port.to_string()),
                ("TANDEM_MAIL__SMTP__TLS".into(), "none".into()),
            ],
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
    let code = code_from_maildir(maildir.path(), &email, 0);
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
