//! Starts `tandem serve` on 127.0.0.1 with a fresh data directory and a file clock.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// Extra environment for the server process.
    pub env: Vec<(String, String)>,
    /// Extra arguments to `tandem serve`.
    pub args: Vec<String>,
}

pub struct Server {
    child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    clock_file: PathBuf,
    _dir: Option<TempDir>,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Set once the process has been reaped: its pid may belong to someone else by then.
    exited: Option<ExitStatus>,
}

/// Fixed start of the test clock: 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600_000;

impl Server {
    pub fn start(backend: &Backend) -> Server {
        Server::start_with(backend, ServerOptions::default())
    }

    pub fn start_with(backend: &Backend, opts: ServerOptions) -> Server {
        Server::start_in(backend, tempfile::tempdir().expect("temp dir"), opts)
    }

    /// Starts with the data directory `<dir>/data` (which the test may have prepared, e.g.
    /// with `tandem vault init`).
    pub fn start_in(backend: &Backend, dir: TempDir, opts: ServerOptions) -> Server {
        let data_dir = dir.path().join("data");
        let clock_file = dir.path().join("clock");
        std::fs::write(&clock_file, T0.to_string()).expect("clock file");
        let mut server = Server::spawn(backend, &data_dir, &clock_file, &opts);
        server._dir = Some(dir);
        server
    }

    /// Starts on a chosen address (one a peer must know before the server starts, e.g. the
    /// callback URL an OpenID provider registers).
    pub fn start_on(backend: &Backend, listen: &str, opts: ServerOptions) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().join("data");
        let clock_file = dir.path().join("clock");
        std::fs::write(&clock_file, T0.to_string()).expect("clock file");
        let mut server = Server::spawn_on(backend, listen, &data_dir, &clock_file, &opts);
        server._dir = Some(dir);
        server
    }

    /// Stops this server (gracefully) and starts it again on the same address, data
    /// directory and clock with other options (so devices logged in to it keep working).
    pub fn restart_with(mut self, backend: &Backend, opts: ServerOptions) -> Server {
        let dir = self._dir.take();
        let (data_dir, clock_file) = (self.data_dir.clone(), self.clock_file.clone());
        let listen = self
            .url
            .split_once("://")
            .map(|(_, addr)| addr.to_owned())
            .expect("server url");
        drop(self);
        let mut server = Server::spawn_on(backend, &listen, &data_dir, &clock_file, &opts);
        server._dir = dir;
        server
    }

    /// Runs `tandem serve` on `data_dir` expecting it to refuse to start; returns its stderr.
    pub fn refused(backend: &Backend, data_dir: &Path, opts: &ServerOptions) -> String {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tandem"));
        cmd.arg("serve")
            .args(&opts.args)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .env("TANDEM_LOG", "info,tower_http=warn,sqlx=warn")
            .env_remove("TANDEM_CONFIG")
            .env_remove("TANDEM_DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Backend::Postgres(url) = backend {
            cmd.env("TANDEM_DATABASE_URL", url);
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn tandem serve");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                let out = child.wait_with_output().expect("output");
                let stdout = String::from_utf8_lossy(&out.stdout);
                let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                assert!(!status.success(), "serve exited successfully: {stderr}");
                assert!(
                    !stdout.contains("tandem listening on"),
                    "serve started although it should have refused: {stderr}"
                );
                return stderr;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!(
                    "serve did not refuse to start: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A second instance sharing a database (and the key file, as instances of one
    /// deployment do) but with its own outbox directory.
    pub fn start_sibling(&self, backend: &Backend) -> Server {
        self.start_sibling_with(backend, ServerOptions::default())
    }

    /// [`start_sibling`](Self::start_sibling) with extra options.
    pub fn start_sibling_with(&self, backend: &Backend, opts: ServerOptions) -> Server {
        self.sibling_of(env!("CARGO_BIN_EXE_tandem").as_ref(), backend, opts)
    }

    /// A sibling running another build of `tandem` (an earlier release, for upgrade tests).
    pub fn sibling_of(&self, binary: &Path, backend: &Backend, mut opts: ServerOptions) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().join("data");
        tandem_server::store::private_dir(&data_dir).expect("data dir");
        opts.env.insert(
            0,
            (
                "TANDEM_VAULT__KEY_FILE".into(),
                self.data_dir.join("server-kek.key").display().to_string(),
            ),
        );
        let mut server = Server::spawn_bin(
            binary,
            backend,
            "127.0.0.1:0",
            &data_dir,
            &self.clock_file,
            &opts,
        );
        server._dir = Some(dir);
        server
    }

    /// [`start_with`](Self::start_with), running another build of `tandem`.
    pub fn start_binary(binary: &Path, backend: &Backend, opts: ServerOptions) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().join("data");
        let clock_file = dir.path().join("clock");
        std::fs::write(&clock_file, T0.to_string()).expect("clock file");
        let mut server = Server::spawn_bin(
            binary,
            backend,
            "127.0.0.1:0",
            &data_dir,
            &clock_file,
            &opts,
        );
        server._dir = Some(dir);
        server
    }

    fn spawn(
        backend: &Backend,
        data_dir: &Path,
        clock_file: &Path,
        opts: &ServerOptions,
    ) -> Server {
        Server::spawn_on(backend, "127.0.0.1:0", data_dir, clock_file, opts)
    }

    fn spawn_on(
        backend: &Backend,
        listen: &str,
        data_dir: &Path,
        clock_file: &Path,
        opts: &ServerOptions,
    ) -> Server {
        let binary: &Path = env!("CARGO_BIN_EXE_tandem").as_ref();
        Server::spawn_bin(binary, backend, listen, data_dir, clock_file, opts)
    }

    fn spawn_bin(
        binary: &Path,
        backend: &Backend,
        listen: &str,
        data_dir: &Path,
        clock_file: &Path,
        opts: &ServerOptions,
    ) -> Server {
        let mut cmd = Command::new(binary);
        cmd.arg("serve")
            .args(&opts.args)
            .arg("--listen")
            .arg(listen)
            .arg("--data-dir")
            .arg(data_dir)
            .env("TANDEM_CLOCK", format!("file:{}", clock_file.display()))
            .env("TANDEM_LOG", "info,tower_http=warn,sqlx=warn")
            .env_remove("TANDEM_CONFIG")
            .env_remove("TANDEM_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Backend::Postgres(url) = backend {
            cmd.env("TANDEM_DATABASE_URL", url);
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn tandem serve");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log2.lock().unwrap().push(line);
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("tandem listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "server did not start; log:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        Server {
            child,
            url,
            data_dir: data_dir.to_owned(),
            clock_file: clock_file.to_owned(),
            _dir: None,
            log,
            exited: None,
        }
    }

    /// Waits up to `timeout` for the process to end on its own (e.g. killed by a failpoint).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while self.exited.is_none() && Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exited = Some(status);
            } else {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.exited
    }

    /// `kill -9`: no shutdown, no cleanup.
    pub fn kill9(&mut self) -> ExitStatus {
        if self.exited.is_none() {
            let _ = self.child.kill();
            self.exited = self.child.wait().ok();
        }
        self.exited.expect("server process status")
    }

    /// Starts `tandem serve` again on the same data directory, clock and database, with
    /// `opts` (stopping this process first with SIGTERM if it is still running). The URL
    /// changes: the new process listens on a fresh port.
    pub fn restart(mut self, backend: &Backend, opts: ServerOptions) -> Server {
        self.stop();
        let mut next = Server::spawn(backend, &self.data_dir, &self.clock_file, &opts);
        next._dir = self._dir.take();
        next
    }

    /// [`restart`](Self::restart) on the same address, so that a client's saved login (which
    /// names the server's URL) still applies.
    pub fn restart_same_address(mut self, backend: &Backend) -> Server {
        self.stop();
        let listen = self
            .url
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .to_owned();
        let mut next = Server::spawn_on(
            backend,
            &listen,
            &self.data_dir,
            &self.clock_file,
            &ServerOptions::default(),
        );
        next._dir = self._dir.take();
        next
    }

    /// [`restart`](Self::restart) with another build of `tandem`.
    pub fn restart_binary(mut self, binary: &Path, backend: &Backend) -> Server {
        self.stop();
        let mut next = Server::spawn_bin(
            binary,
            backend,
            "127.0.0.1:0",
            &self.data_dir,
            &self.clock_file,
            &ServerOptions::default(),
        );
        next._dir = self._dir.take();
        next
    }

    /// Sends SIGTERM and returns at once (the server drains, then exits).
    pub fn terminate(&self) {
        if self.exited.is_none() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
        }
    }

    /// SIGTERM, then SIGKILL after five seconds.
    fn stop(&mut self) {
        if self.exited.is_some() {
            return;
        }
        // SIGTERM first: the server shuts down gracefully (and closes its pool).
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        if self.wait_exit(Duration::from_secs(5)).is_none() {
            self.kill9();
        }
    }

    /// Sets the injected clock (Unix ms).
    pub fn set_time(&self, ms: i64) {
        let tmp = self.clock_file.with_extension("tmp");
        std::fs::write(&tmp, ms.to_string()).expect("clock");
        std::fs::rename(&tmp, &self.clock_file).expect("clock");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The newest login code the development outbox holds for `email`, waiting briefly.
    pub fn login_code(&self, email: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(code) = outbox_code(&self.data_dir, email) {
                return code;
            }
            assert!(
                Instant::now() < deadline,
                "no code for {email} in the outbox"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// How many codes the outbox holds for `email`.
    pub fn code_count(&self, email: &str) -> usize {
        outbox_lines(&self.data_dir, email).len()
    }

    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::new()
    }
}

fn outbox_lines(dir: &Path, email: &str) -> Vec<serde_json::Value> {
    let Ok(text) = std::fs::read_to_string(dir.join("dev-outbox.jsonl")) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["to"].as_str() == Some(email))
        .collect()
}

fn outbox_code(dir: &Path, email: &str) -> Option<String> {
    outbox_lines(dir, email)
        .last()
        .and_then(|v| v["code"].as_str().map(str::to_owned))
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
