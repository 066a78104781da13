//! A real SMTP server on loopback (Python's `aiosmtpd`, delivering into a Maildir). `.ci/run`
//! installs it in a venv and names its interpreter in `TANDEM_PEER_PYTHON`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpPeer {
    child: Child,
    pub port: u16,
    maildir: tempfile::TempDir,
}

impl Drop for SmtpPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> Option<String> {
    super::peer_python("aiosmtpd")
}

impl SmtpPeer {
    /// Starts the peer; `None` (after printing why) when aiosmtpd is missing and
    /// `TANDEM_REQUIRE_PEERS` is not `1`, a panic when it is.
    pub fn start() -> Option<SmtpPeer> {
        let Some(py) = python() else {
            if std::env::var("TANDEM_REQUIRE_PEERS").is_ok_and(|v| v == "1") {
                panic!(
                    "aiosmtpd is not installed (TANDEM_REQUIRE_PEERS=1): run .ci/run or pip install aiosmtpd==1.4.6"
                );
            }
            println!(
                "skipping: aiosmtpd not installed (set TANDEM_REQUIRE_PEERS=1 to fail instead)"
            );
            return None;
        };
        let maildir = tempfile::tempdir().unwrap();
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(maildir.path().join(sub)).unwrap();
        }
        let port = super::free_port();
        let child = Command::new(&py)
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
            .expect("start aiosmtpd");
        let peer = SmtpPeer {
            child,
            port,
            maildir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(peer)
    }

    /// The server environment that sends mail to this peer.
    pub fn server_env(&self) -> Vec<(String, String)> {
        vec![
            ("TANDEM_MAIL__MODE".into(), "smtp".into()),
            ("TANDEM_MAIL__SMTP__HOST".into(), "127.0.0.1".into()),
            ("TANDEM_MAIL__SMTP__PORT".into(), self.port.to_string()),
            ("TANDEM_MAIL__SMTP__TLS".into(), "none".into()),
        ]
    }

    /// How many mails were delivered to `to`.
    pub fn count(&self, to: &str) -> usize {
        self.mails(to).len()
    }

    fn mails(&self, to: &str) -> Vec<String> {
        std::fs::read_dir(self.maildir.path().join("new"))
            .map(|rd| {
                rd.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                    .filter(|m| m.contains(to))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The code in the mail to `to` that arrives after the first `before` mails.
    pub fn code(&self, to: &str, before: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let mut mails: Vec<(std::time::SystemTime, String)> =
                std::fs::read_dir(self.maildir.path().join("new"))
                    .map(|rd| {
                        rd.filter_map(|e| {
                            let e = e.ok()?;
                            let t = e.metadata().ok()?.modified().ok()?;
                            let m = std::fs::read_to_string(e.path()).ok()?;
                            m.contains(to).then_some((t, m))
                        })
                        .collect()
                    })
                    .unwrap_or_default();
            if mails.len() > before {
                mails.sort_by_key(|(t, _)| *t);
                let mail = &mails.last().unwrap().1;
                let at = mail.find("login code is ").unwrap() + "login code is ".len();
                return mail[at..at + 6].to_owned();
            }
            assert!(Instant::now() < deadline, "no mail delivered to {to}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
