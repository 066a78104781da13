//! Running Tandem as infrastructure (docs/operations.md): the committed nginx and HAProxy
//! configurations in front of two real instances on one PostgreSQL database, readiness and
//! the shutdown drain, structured logs and metrics on the admin listener, and an upgrade
//! from the previous release while it still serves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::proxy::{Proxy, WsFault};
use common::verify::recover_personal;
use common::{Backend, Cli, Server, ServerOptions, free_port, unique_email};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether a missing outside peer fails the test (CI) or skips it with a printed reason.
fn require_peers() -> bool {
    std::env::var("TANDEM_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"])
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!("{what} exited ({status}): {err}");
        }
        assert!(Instant::now() < deadline, "{what} never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A balancer process, stopped when dropped.
struct Balancer {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The committed file with each instance's addresses substituted line by line: lines naming
/// 10.0.0.11 are instance `a`, 10.0.0.12 instance `b` (API port 8080, admin port 9090).
fn substitute(text: &str, a: (&str, u16), b: (&str, u16), extra: &[(&str, String)]) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut line = line.to_owned();
        for (ip, (api, admin)) in [("10.0.0.11", a), ("10.0.0.12", b)] {
            if line.contains(&format!("{ip}:8080")) {
                line = line
                    .replace(&format!("{ip}:8080"), api)
                    .replace("port 9090", &format!("port {admin}"));
            }
        }
        for (from, to) in extra {
            line = line.replace(from, to);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn host_port(url: &str) -> &str {
    url.split_once("://").map(|(_, r)| r).unwrap()
}

fn start_nginx(nginx: &Path, a: &Server, b: &Server, cert: &Path, key: &Path) -> Balancer {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let committed = std::fs::read_to_string(repo_root().join("deploy/nginx/tandem.conf")).unwrap();
    let site = substitute(
        &committed,
        (host_port(&a.url), 0),
        (host_port(&b.url), 0),
        &[
            ("listen 443 ssl", format!("listen 127.0.0.1:{port} ssl")),
            ("/etc/ssl/tandem/fullchain.pem", cert.display().to_string()),
            ("/etc/ssl/tandem/privkey.pem", key.display().to_string()),
        ],
    );
    assert!(site.contains(&format!("127.0.0.1:{port}")), "{site}");
    std::fs::write(dir.path().join("tandem.conf"), site).unwrap();
    // What /etc/nginx/nginx.conf provides around the site file, with paths in the temp dir.
    let d = dir.path().display();
    let main = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n\
         proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/tandem.conf;\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
    // Workers run as an unprivileged user when started as root: let them use the temp dir.
    let _ = Command::new("chmod")
        .args(["-R", "a+rwX"])
        .arg(dir.path())
        .status();
    let mut child = Command::new(nginx)
        .arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nginx");
    wait_for_port(port, "nginx", &mut child);
    Balancer {
        child,
        url: format!("https://127.0.0.1:{port}"),
        _dir: dir,
    }
}

fn start_haproxy(
    haproxy: &Path,
    a: (&Server, u16),
    b: (&Server, u16),
    cert: &Path,
    key: &Path,
) -> Balancer {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let pem = dir.path().join("tandem.pem");
    let mut combined = std::fs::read(cert).unwrap();
    combined.extend(std::fs::read(key).unwrap());
    std::fs::write(&pem, combined).unwrap();
    let committed = std::fs::read_to_string(repo_root().join("deploy/haproxy/tandem.cfg")).unwrap();
    let cfg = substitute(
        &committed,
        (host_port(&a.0.url), a.1),
        (host_port(&b.0.url), b.1),
        &[
            ("bind :443", format!("bind 127.0.0.1:{port}")),
            ("/etc/haproxy/certs/tandem.pem", pem.display().to_string()),
        ],
    );
    std::fs::write(dir.path().join("tandem.cfg"), cfg).unwrap();
    // The `global` section Debian's /etc/haproxy/haproxy.cfg provides, reduced to a test.
    std::fs::write(dir.path().join("global.cfg"), "global\n    maxconn 256\n").unwrap();
    let check = Command::new(haproxy)
        .arg("-c")
        .arg("-f")
        .arg(dir.path().join("global.cfg"))
        .arg("-f")
        .arg(dir.path().join("tandem.cfg"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "haproxy -c: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let mut child = Command::new(haproxy)
        .arg("-db")
        .arg("-f")
        .arg(dir.path().join("global.cfg"))
        .arg("-f")
        .arg(dir.path().join("tandem.cfg"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn haproxy");
    wait_for_port(port, "haproxy", &mut child);
    Balancer {
        child,
        url: format!("https://127.0.0.1:{port}"),
        _dir: dir,
    }
}

/// Login, wallet creation and a verified signature, all through `url`.
/// A device logged in through a balancer, with one wallet (id, address).
struct Device {
    cli: Cli,
    id: String,
    address: String,
}

fn wallet_and_signature_through(url: &str, ca: &Path, servers: &[&Server], tag: &str) -> Device {
    let cli = Cli::for_url(url).with_env("TANDEM_CA_FILE", ca.to_str().unwrap());
    cli.login_any(servers, &unique_email(tag));
    let wallet = cli.json(&["wallet", "create", "--chain", "evm"]);
    let id = wallet["id"].as_str().unwrap();
    for i in 0..3 {
        let message = format!("through {tag} #{i}");
        let r = cli.json(&["sign", "message", "--wallet", id, &message]);
        assert_eq!(
            recover_personal(message.as_bytes(), r["signature"].as_str().unwrap())
                .to_checksum(None),
            wallet["address"].as_str().unwrap()
        );
    }
    Device {
        id: id.to_owned(),
        address: wallet["address"].as_str().unwrap().to_owned(),
        cli,
    }
}

fn sign_once(device: &Device, message: &str) {
    let r = device
        .cli
        .json(&["sign", "message", "--wallet", &device.id, message]);
    assert_eq!(
        recover_personal(message.as_bytes(), r["signature"].as_str().unwrap()).to_checksum(None),
        device.address
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn balancer_nginx_and_haproxy_from_the_committed_files_in_front_of_two_instances() {
    let (nginx, haproxy) = (find_program("nginx"), find_program("haproxy"));
    let (Some(nginx), Some(haproxy)) = (nginx, haproxy) else {
        assert!(
            !require_peers(),
            "nginx and haproxy are required (TANDEM_REQUIRE_PEERS=1); .ci/run installs them"
        );
        eprintln!("SKIPPED: nginx or haproxy not installed (apt-get install nginx-light haproxy)");
        return;
    };
    let Some(db) = tandem_server::store::testing::temp_postgres().await else {
        return;
    };
    let backend = Backend::Postgres(db.url.clone());
    let (admin_a, admin_b) = (free_port(), free_port());
    let opts = |admin: u16| ServerOptions {
        env: env(&[
            ("TANDEM_TRUSTED_PROXIES", "127.0.0.1/32"),
            ("TANDEM_ADMIN_LISTEN", &format!("127.0.0.1:{admin}")),
        ]),
        args: Vec::new(),
    };
    let a = Server::start_with(&backend, opts(admin_a));
    let b = a.start_sibling_with(&backend, opts(admin_b));
    let tls = tempfile::tempdir().unwrap();
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let (cert, key) = (tls.path().join("cert.pem"), tls.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();

    // Without the upgrade headers (a proxy with nginx's defaults), the server says why.
    let token = {
        let http = common::http::Http::new(&a);
        http.login(&a, &unique_email("no-upgrade")).await
    };
    let r = reqwest::Client::new()
        .get(format!("{}/v1/ceremony", a.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "invalid_request", "{body}");
    assert_eq!(body["retryable"], false, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("Upgrade"),
        "{body}"
    );

    let ngx = start_nginx(&nginx, &a, &b, &cert, &key);
    let hap = start_haproxy(&haproxy, (&a, admin_a), (&b, admin_b), &cert, &key);
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    // Health checks see both instances before traffic is sent (HAProxy: rise 2, inter 2s).
    tokio::time::sleep(Duration::from_secs(5)).await;
    for balancer in [&ngx, &hap] {
        let r = client
            .get(format!("{}/readyz", balancer.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", balancer.url);
        let r = client
            .get(format!("{}/metrics", balancer.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "metrics must not be public");
    }

    let via_nginx = wallet_and_signature_through(&ngx.url, &cert, &[&a, &b], "nginx");
    let via_haproxy = wallet_and_signature_through(&hap.url, &cert, &[&a, &b], "haproxy");
    // Round robin spread the requests over both instances.
    let served = |s: &Server| s.log().contains("route=/v1/");
    assert!(served(&a) && served(&b), "one instance got nothing");

    // Rolling restart, first step: B gets SIGTERM. Its readiness fails at once; the
    // balancers send everything to A and the devices notice nothing.
    b.terminate();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let r = reqwest::get(format!("http://127.0.0.1:{admin_b}/readyz")).await;
        // Refused once B has exited (no ceremony was in flight): also not ready.
        if r.as_ref().map_or(true, |r| r.status() == 503) {
            break;
        }
        assert!(Instant::now() < deadline, "B still ready after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for i in 0..3 {
        sign_once(&via_nginx, &format!("nginx while B drains #{i}"));
        sign_once(&via_haproxy, &format!("haproxy while B drains #{i}"));
    }
    let mut b = b;
    assert!(
        b.wait_exit(Duration::from_secs(30)).is_some(),
        "B did not exit after SIGTERM"
    );
    for i in 0..2 {
        sign_once(&via_nginx, &format!("nginx with B gone #{i}"));
        sign_once(&via_haproxy, &format!("haproxy with B gone #{i}"));
    }
    drop(ngx);
    drop(hap);
    drop(a);
    drop(b);
    let _ = db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_fails_readiness_at_once_and_drains_a_signature_in_flight() {
    let admin = free_port();
    let server = Server::start_with(
        &Backend::Sqlite,
        ServerOptions {
            env: env(&[("TANDEM_ADMIN_LISTEN", &format!("127.0.0.1:{admin}"))]),
            args: Vec::new(),
        },
    );
    let admin_url = format!("http://127.0.0.1:{admin}");
    let r = reqwest::get(format!("{admin_url}/readyz")).await.unwrap();
    assert_eq!(r.status(), 200);
    let ready: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (&ready["status"], &ready["database"], &ready["vault"]),
        (&"ready".into(), &"ok".into(), &"ok".into()),
        "{ready}"
    );
    // The API listener answers the same, and /healthz is kept as its alias.
    for path in ["/livez", "/readyz", "/healthz"] {
        let r = reqwest::get(format!("{}{path}", server.url)).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }

    let proxy = Proxy::start(&server.url).await;
    let cli = Cli::for_url(&proxy.url);
    cli.login(&server, &unique_email("drain"));
    let token = cli.token();
    let wallet = cli.json(&["wallet", "create", "--chain", "evm"]);
    let id = wallet["id"].as_str().unwrap().to_owned();

    // The server's `accepted` is held back three seconds: the signature is in flight on the
    // server (accepted, waiting for the device's first round) when SIGTERM arrives.
    proxy.fault(WsFault::Delay(
        common::proxy::Dir::ToDevice,
        1,
        Duration::from_secs(3),
    ));
    let sockets_before = proxy.counts().len();
    let child = cli.spawn(&["--json", "sign", "message", "--wallet", &id, "in flight"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while proxy
        .counts()
        .get(sockets_before)
        .is_none_or(|&(_, to_device)| to_device < 2)
    {
        assert!(Instant::now() < deadline, "the signature never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent = Instant::now();
    server.terminate();

    // Not ready at once (well before the held message is released); alive still.
    let deadline = Instant::now() + Duration::from_secs(2);
    let status = loop {
        let r = reqwest::get(format!("{admin_url}/readyz")).await.unwrap();
        if r.status() == 503 || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.status(), 503);
    let body: serde_json::Value = status.json().await.unwrap();
    assert_eq!(body["status"], "draining", "{body}");
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "readiness failed only after {:?}",
        sent.elapsed()
    );
    let r = reqwest::get(format!("{admin_url}/livez")).await.unwrap();
    assert_eq!(r.status(), 200);
    // New work is refused, retryable.
    let r = reqwest::Client::new()
        .get(format!("{}/v1/wallets", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (&body["code"], &body["retryable"]),
        (&"unavailable".into(), &true.into()),
        "{body}"
    );

    // The signature in flight completes and verifies.
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "signature in flight failed at shutdown: {}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        recover_personal(b"in flight", r["signature"].as_str().unwrap()).to_checksum(None),
        wallet["address"].as_str().unwrap()
    );
    let mut server = server;
    let status = server
        .wait_exit(Duration::from_secs(20))
        .expect("server exits after the drain");
    assert!(status.success(), "{status}: {}", server.log());
    let log = server.log();
    assert!(!log.contains("internal error"), "{log}");
}

/// Every line of a JSON log that is JSON.
fn json_lines(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_name_requests_and_ceremonies_without_secrets_and_metrics_are_histograms() {
    let admin = free_port();
    let server = Server::start_with(
        &Backend::Sqlite,
        ServerOptions {
            env: env(&[
                ("TANDEM_ADMIN_LISTEN", &format!("127.0.0.1:{admin}")),
                ("TANDEM_LOG_FORMAT", "json"),
                // TANDEM_LOG empty: RUST_LOG decides (warn, but request and ceremony lines).
                ("TANDEM_LOG", ""),
                ("RUST_LOG", "warn,tandem::http=info,tandem::ceremony=info"),
            ]),
            args: Vec::new(),
        },
    );
    let metrics_url = format!("http://127.0.0.1:{admin}/metrics");

    // Before any request: histograms (buckets, no quantiles) and the other families.
    let text = reqwest::get(&metrics_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for family in [
        "tandem_http_request_duration_seconds_bucket{",
        "tandem_ceremony_seconds_bucket{",
        "tandem_vault_call_duration_seconds_bucket{",
        "tandem_vault_calls_total{",
        "tandem_db_pool_connections{",
        "tandem_build_info{",
    ] {
        assert!(
            text.contains(family),
            "{family} missing before any request:\n{text}"
        );
    }
    assert!(
        !text.contains("quantile="),
        "summaries instead of histograms:\n{text}"
    );
    assert!(
        text.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    // With an admin listener, /metrics is not on the API listener.
    let r = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Every error body is JSON with `retryable`, also those no handler wrote (405 here).
    let r = reqwest::Client::new()
        .post(format!("{}/livez", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (&body["code"], &body["retryable"]),
        (&"invalid_request".into(), &false.into()),
        "{body}"
    );

    let cli = Cli::new(&server);
    let email = unique_email("logs");
    cli.login(&server, &email);
    let code = server.login_code(&email);
    let token = cli.token();
    let wallet = cli.json(&["wallet", "create", "--chain", "evm"]);
    let id = wallet["id"].as_str().unwrap();
    cli.json(&["sign", "message", "--wallet", id, "logged"]);
    cli.json(&["wallet", "show", id]);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let log = server.log();
    assert!(
        !log.contains("\u{1b}["),
        "colour codes in a log that is not a terminal"
    );
    assert!(!log.contains(&token), "session token in the log");
    // RUST_LOG was honoured: INFO lines of other targets are filtered out.
    assert!(!log.contains("tandem server listening"), "{log}");
    let lines = json_lines(&log);
    let requests: Vec<_> = lines.iter().filter(|l| l["message"] == "request").collect();
    let ceremonies: Vec<_> = lines
        .iter()
        .filter(|l| l["message"] == "ceremony")
        .collect();
    assert!(!requests.is_empty(), "no request lines:\n{log}");
    for line in &requests {
        for field in [
            "request_id",
            "method",
            "route",
            "status",
            "duration_ms",
            "user_id",
        ] {
            assert!(!line[field].is_null(), "{field} missing: {line}");
        }
        let text = line.to_string();
        assert!(!text.contains(&code) && !text.contains(&token), "{text}");
        // Route templates, never raw paths with ids.
        assert!(!line["route"].as_str().unwrap().contains(id), "{line}");
    }
    assert!(
        requests
            .iter()
            .any(|l| l["route"] == "/v1/wallets/{id}" && l["user_id"].as_str() != Some("")),
        "no authenticated wallet request line:\n{log}"
    );
    for op in ["keygen", "sign"] {
        let line = ceremonies
            .iter()
            .find(|l| l["operation"] == op)
            .unwrap_or_else(|| panic!("no {op} ceremony line:\n{log}"));
        assert_eq!(line["outcome"], "ok", "{line}");
        assert_eq!(line["wallet_id"], id, "{line}");
        for field in ["ceremony_id", "user_id", "duration_ms", "chain"] {
            assert!(!line[field].is_null(), "{field} missing: {line}");
        }
        let text = line.to_string();
        assert!(!text.contains(&code) && !text.contains(&token), "{text}");
    }

    // After traffic: request counts by route and status, a ceremony observation.
    let text = reqwest::get(&metrics_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("tandem_http_requests_total{")
                && l.contains("route=\"/v1/wallets/{id}\"")
                && l.contains("status=\"200\"")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("tandem_ceremony_seconds_count{")
                && l.contains("operation=\"sign\"")
                && l.contains("outcome=\"ok\"")
                && !l.ends_with(" 0")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("tandem_vault_calls_total{")
                && l.contains("op=\"seal\"")
                && !l.ends_with(" 0")),
        "{text}"
    );
}

/// The previous release's binary (built by `.ci/previous-release`), or `None` with a reason.
fn previous_release() -> Option<PathBuf> {
    match std::env::var_os("TANDEM_PREVIOUS_BIN").map(PathBuf::from) {
        Some(p) if p.is_file() => Some(p),
        other => {
            assert!(
                !require_peers(),
                "TANDEM_PREVIOUS_BIN must name the previous release's binary ({other:?}); \
                 .ci/previous-release builds it"
            );
            eprintln!("SKIPPED: TANDEM_PREVIOUS_BIN unset (see .ci/previous-release)");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrade_from_the_previous_release_while_it_still_serves() {
    let Some(previous) = previous_release() else {
        return;
    };
    let Some(db) = tandem_server::store::testing::temp_postgres().await else {
        return;
    };
    let backend = Backend::Postgres(db.url.clone());
    // The database is created (migrated) by the previous release.
    let old = Server::start_binary(&previous, &backend, ServerOptions::default());
    let cli = Cli::new(&old);
    cli.login(&old, &unique_email("upgrade"));
    let wallet = cli.json(&["wallet", "create", "--chain", "evm"]);
    let id = wallet["id"].as_str().unwrap().to_owned();
    let address = wallet["address"].as_str().unwrap().to_owned();
    let before = cli.json(&["sign", "message", "--wallet", &id, "before the upgrade"]);

    // This build starts on the same database (running its migrations) while the old
    // instance keeps serving.
    let new = old.start_sibling(&backend);
    for server in [&old, &new] {
        let r = reqwest::get(format!("{}/healthz", server.url))
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", server.url);
    }
    // The signature made before still verifies; the old instance still signs.
    assert_eq!(
        recover_personal(b"before the upgrade", before["signature"].as_str().unwrap())
            .to_checksum(None),
        address
    );
    let r = cli.json(&[
        "sign",
        "message",
        "--wallet",
        &id,
        "old, after the migration",
    ]);
    assert_eq!(
        recover_personal(
            b"old, after the migration",
            r["signature"].as_str().unwrap()
        )
        .to_checksum(None),
        address
    );
    // The new instance signs with the same wallet (same session, same pinned key).
    let profile_path = cli.home().join("session.json");
    let mut profile: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&profile_path).unwrap()).unwrap();
    profile["server"] = new.url.clone().into();
    std::fs::write(&profile_path, profile.to_string()).unwrap();
    let known_path = cli.home().join("known_servers.json");
    let mut known: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&known_path).unwrap()).unwrap();
    known["servers"][new.url.as_str()] = known["servers"][old.url.as_str()].clone();
    std::fs::write(&known_path, known.to_string()).unwrap();
    let r = cli.json(&[
        "--server",
        new.url.as_str(),
        "sign",
        "message",
        "--wallet",
        &id,
        "new build",
    ]);
    assert_eq!(
        recover_personal(b"new build", r["signature"].as_str().unwrap()).to_checksum(None),
        address
    );
    drop(old);
    drop(new);
    let _ = db.drop_db().await;
}

#[test]
fn example_configuration_loads() {
    let path = repo_root().join("deploy/tandem.toml.example");
    let config = tandem_server::config::Config::load(Some(&path))
        .unwrap_or_else(|e| panic!("deploy/tandem.toml.example: {e}"));
    assert_eq!(config.mode, tandem_server::config::Mode::Production);
    assert!(config.tls_terminated_by_proxy);
    assert!(config.admin_address().is_some());
    assert_eq!(config.mail.mode, tandem_server::config::MailMode::Smtp);
    assert_eq!(
        config.vault.provider,
        tandem_server::config::VaultProviderKind::Pkcs11
    );
    assert!(config.database_url().starts_with("postgres://"));
    assert_eq!(config.limits.drain_secs, 30);
}
