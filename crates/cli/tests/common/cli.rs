//! Runs the `tandem` binary as a user would, with its own home directory.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

use super::server::Server;

pub const PASSPHRASE: &str = "correct horse battery staple";

pub struct Cli {
    home: TempDir,
    server: String,
    env: Vec<(String, String)>,
}

impl Cli {
    pub fn new(server: &Server) -> Cli {
        Cli {
            home: tempfile::tempdir().expect("home"),
            server: server.url.clone(),
            env: Vec::new(),
        }
    }

    /// A CLI whose server is `url` (a fake one, say), not a started `Server`.
    pub fn for_url(url: &str) -> Cli {
        Cli {
            home: tempfile::tempdir().expect("home"),
            server: url.to_owned(),
            env: Vec::new(),
        }
    }

    pub fn with_env(mut self, key: &str, value: &str) -> Cli {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn home(&self) -> PathBuf {
        self.home.path().to_owned()
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tandem"));
        cmd.env("TANDEM_HOME", self.home.path())
            .env("TANDEM_SERVER", &self.server)
            .env("TANDEM_PASSPHRASE", PASSPHRASE)
            .env_remove("TANDEM_LOGIN_CODE");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs an interactive command: `answer` sees each line it writes to standard error and
    /// may return a line to type at its prompt.
    pub fn converse(
        &self,
        args: &[&str],
        mut answer: impl FnMut(&str) -> Option<String>,
    ) -> Output {
        use std::io::BufRead;
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tandem");
        let mut stdin = child.stdin.take().expect("stdin");
        let stderr = child.stderr.take().expect("stderr");
        let mut seen = String::new();
        let mut reader = std::io::BufReader::new(stderr);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            seen.push_str(&line);
            if let Some(reply) = answer(&line) {
                writeln!(stdin, "{reply}").expect("type");
                break;
            }
            line.clear();
        }
        drop(stdin);
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut reader, &mut rest).ok();
        seen.push_str(&rest);
        let mut out = child.wait_with_output().expect("run tandem");
        out.stderr = seen.into_bytes();
        out
    }

    /// Starts a command with piped output (to watch the process while it runs).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tandem")
    }

    /// Runs a command; returns (success, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run tandem")
    }

    /// Runs a command with `input` on its standard input (answers to its prompts).
    pub fn run_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tandem");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).expect("type input");
        drop(stdin);
        child.wait_with_output().expect("run tandem")
    }

    /// Runs a `--json` command that must succeed and returns its JSON.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(
            out.status.success(),
            "tandem {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "tandem {args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// `tandem login --email`, typing the code from the outbox at the prompt.
    pub fn login(&self, server: &Server, email: &str) -> serde_json::Value {
        self.login_any(&[server], email)
    }

    /// Like [`login`](Self::login) through a balancer: the code is in the outbox of
    /// whichever of `servers` took the request.
    pub fn login_any(&self, servers: &[&Server], email: &str) -> serde_json::Value {
        let count = || servers.iter().map(|s| s.code_count(email)).sum::<usize>();
        let before = count();
        let mut child = self
            .command()
            .args(["--json", "login", "--email", email])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn login");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while count() == before {
            assert!(
                std::time::Instant::now() < deadline,
                "login code never arrived"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let server = servers
            .iter()
            .find(|s| s.code_count(email) > 0)
            .expect("an outbox with the code");
        let code = server.login_code(email);
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{code}").expect("type code");
        drop(stdin);
        let out = child.wait_with_output().expect("login");
        assert!(
            out.status.success(),
            "login failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("login json")
    }

    /// The saved session token (for direct HTTP checks).
    pub fn token(&self) -> String {
        let text = std::fs::read_to_string(self.home.path().join("session.json")).expect("session");
        let v: serde_json::Value = serde_json::from_str(&text).expect("session json");
        v["token"].as_str().expect("token").to_owned()
    }
}
