//! Bad input never causes a 500 or a write: malformed JSON, hex, RLP, transactions, typed
//! data and digests get 400 with a code and the field; oversize gets 413; unknown or other
//! users' wallets get 404.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::http::Http;
use common::transport::{Answer, FakeHttp, Relay, WsMode};
use common::{Backend, Cli, Server, ServerOptions, each_backend, unique_email};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn bad_input(backend: Backend) {
    let server = Server::start(&backend);
    let cli = Cli::new(&server);
    cli.login(&server, &unique_email("owner"));
    let evm = cli.json(&["wallet", "create", "--chain", "evm"]);
    let sol = cli.json(&["wallet", "create", "--chain", "solana"]);
    let token = cli.token();
    let http = Http::new(&server);
    let evm_preview = format!("/v1/wallets/{}/preview", evm["id"].as_str().unwrap());
    let sol_preview = format!("/v1/wallets/{}/preview", sol["id"].as_str().unwrap());

    let cases: Vec<(&str, serde_json::Value, &str, Option<&str>)> = vec![
        (
            &evm_preview,
            json!({"kind": "evm_transaction", "transaction": "0xzz"}),
            "invalid_hex",
            Some("transaction"),
        ),
        (
            &evm_preview,
            json!({"kind": "evm_transaction", "transaction": "0xc0c0"}),
            "invalid_rlp",
            Some("transaction"),
        ),
        (
            &evm_preview,
            json!({"kind": "evm_transaction", "transaction": "0x03c0"}),
            "unsupported_transaction_type",
            Some("transaction"),
        ),
        (
            &evm_preview,
            json!({"kind": "evm_transaction", "transaction": "0xe1808504a817c80082520894dededededededededededededededededededede8080"}),
            "missing_chain_id",
            Some("transaction"),
        ),
        (
            &evm_preview,
            json!({"kind": "evm_typed_data", "typed_data": {"types": {}, "primaryType": "Mail"}}),
            "invalid_typed_data",
            Some("typed_data"),
        ),
        // Both used to overflow a worker's stack and abort the server (issue 10, item 12).
        (
            &evm_preview,
            json!({"kind": "evm_typed_data", "typed_data": {
                "types": {"EIP712Domain": [], "T": [{"name": "x", "type": format!("uint8{}", "[]".repeat(32_000))}]},
                "primaryType": "T", "domain": {}, "message": {"x": []}}}),
            "invalid_typed_data",
            Some("typed_data"),
        ),
        (
            &evm_preview,
            json!({"kind": "evm_typed_data", "typed_data": {
                "types": (0..1_500).map(|i| (format!("S{i}"), json!([{"name": "n", "type": format!("S{}", i + 1)}]))).collect::<serde_json::Map<_, _>>(),
                "primaryType": "S0", "domain": {}, "message": {}}}),
            "invalid_typed_data",
            Some("typed_data"),
        ),
        (
            &evm_preview,
            json!({"kind": "evm_message", "message": "0x1", "encoding": "hex"}),
            "invalid_hex",
            Some("message"),
        ),
        (
            &evm_preview,
            json!({"kind": "digest", "digest": format!("0x{}", "11".repeat(32))}),
            "digest_signing_refused",
            Some("kind"),
        ),
        (
            &evm_preview,
            json!({"kind": "solana_message", "message": "hi"}),
            "wrong_chain",
            Some("kind"),
        ),
        (
            &evm_preview,
            json!({"kind": "evm_message"}),
            "invalid_request",
            Some("message"),
        ),
        (
            &evm_preview,
            json!({"kind": "sign_anything", "message": "x"}),
            "invalid_request",
            None,
        ),
        (
            &sol_preview,
            json!({"kind": "solana_transaction", "transaction": "***"}),
            "invalid_base64",
            Some("transaction"),
        ),
        (
            &sol_preview,
            json!({"kind": "solana_transaction", "transaction": "AAAA"}),
            "invalid_transaction",
            Some("transaction"),
        ),
        (
            &sol_preview,
            json!({"kind": "solana_transaction", "transaction": common::verify::solana_transfer(&[5; 32], 1)}),
            "not_a_signer",
            Some("transaction"),
        ),
    ];
    for (path, body, code, field) in cases {
        let r = http.post(path, Some(&token), body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.body["code"], code, "{body}: {}", r.body);
        if let Some(field) = field {
            assert_eq!(r.body["field"], field, "{body}: {}", r.body);
        }
    }

    // Malformed JSON.
    let r = http
        .send(
            reqwest::Method::POST,
            &evm_preview,
            Some(&token),
            Some(b"{not json".to_vec()),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let r = http
        .send(
            reqwest::Method::POST,
            "/v1/auth/email/start",
            None,
            Some(b"[]".to_vec()),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_request"))
    );

    // Oversized body.
    let big = json!({"kind": "evm_message", "message": "a".repeat(300_000)});
    let r = http.post(&evm_preview, Some(&token), big).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (413, Some("payload_too_large"))
    );

    // Unknown wallet, unknown route.
    let r = http.get("/v1/wallets/doesnotexist", Some(&token)).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (404, Some("wallet_not_found"))
    );
    let r = http.get("/v1/nothing-here", Some(&token)).await;
    assert_eq!(r.status, 404);

    // Another user's wallet is 404, never 403, and cannot be signed with.
    let other = Cli::new(&server);
    other.login(&server, &unique_email("intruder"));
    let other_token = other.token();
    let r = http
        .get(
            &format!("/v1/wallets/{}", evm["id"].as_str().unwrap()),
            Some(&other_token),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (404, Some("wallet_not_found"))
    );
    let r = http
        .post(
            &evm_preview,
            Some(&other_token),
            json!({"kind": "evm_message", "message": "x"}),
        )
        .await;
    assert_eq!(r.status, 404);
    let out = other.run(&[
        "--json",
        "sign",
        "message",
        "--wallet",
        evm["id"].as_str().unwrap(),
        "x",
    ]);
    assert!(!out.status.success());

    // The valid payload previews: digest and intent.
    let r = http.post(&evm_preview, Some(&token), json!({"kind": "evm_transaction", "transaction": format!("0x{}", hex::encode(common::verify::eip1559_tx(0)))})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["intent"]["tx_type"], "eip1559");
    assert_eq!(r.body["signing_input"].as_str().unwrap().len(), 64);

    // Recursive typed data (EIP-712 allows it) previews.
    let node = json!({"kind": "evm_typed_data", "typed_data": {
        "types": {"EIP712Domain": [], "Node": [{"name": "kids", "type": "Node[]"}]},
        "primaryType": "Node", "domain": {}, "message": {"kids": [{"kids": []}]}}});
    let r = http.post(&evm_preview, Some(&token), node).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["intent"]["primary_type"], "Node");

    // Nothing above wrote anything: the wallets are unchanged.
    let list = cli.json(&["wallet", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|w| w["epoch"] == 0 && w["status"] == "active")
    );

    // Health, metrics and the OpenAPI document with every route.
    let r = reqwest::get(format!("{}/healthz", server.url))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let metrics = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("tandem_ceremonies_total"), "{metrics}");
    let spec: serde_json::Value = reqwest::get(format!("{}/openapi.json", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/v1/auth/email/start",
        "/v1/auth/email/verify",
        "/v1/session",
        "/v1/session/refresh",
        "/v1/session/logout",
        "/v1/sessions",
        "/v1/sessions/{id}",
        "/v1/wallets",
        "/v1/wallets/{id}",
        "/v1/wallets/{id}/preview",
        "/v1/ceremony",
        "/healthz",
        "/metrics",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "{path} missing from /openapi.json"
        );
    }
    let docs = reqwest::get(format!("{}/docs/", server.url)).await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(!server.log().contains("panicked"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_4xx_and_writes_nothing() {
    each_backend(bad_input).await;
}

/// The server disables core dumps for itself at start (Linux).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn server_process_has_core_dumps_disabled() {
    let server = Server::start(&Backend::Sqlite);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], &["0", "0"], "{core}");
}

/// Runs a command that must fail; returns its stderr and how long it took.
fn failing(cli: &Cli, args: &[&str]) -> (String, Duration) {
    let start = Instant::now();
    let out = cli.run(args);
    let took = start.elapsed();
    assert!(!out.status.success(), "tandem {args:?} succeeded");
    (String::from_utf8_lossy(&out.stderr).into_owned(), took)
}

/// Gives a CLI a saved login for a fake server (which never checks the token).
fn fake_login(cli: &Cli, url: &str) {
    let profile = json!({
        "server": url, "token": "tdm_fake", "email": "fake@example.test", "session_id": "s1",
    });
    std::fs::create_dir_all(cli.home()).unwrap();
    std::fs::write(cli.home().join("session.json"), profile.to_string()).unwrap();
}

/// A stalled proxy kept `tandem sign` hanging for ever; each step now has a deadline
/// (`--timeout`, 30 s by default like the server's round timeout) and says which it was.
#[tokio::test(flavor = "multi_thread")]
async fn stalled_peers_time_out_naming_the_step() {
    // An HTTP server that reads the request and never answers.
    let stalled = FakeHttp::start(Arc::new(|_: &str| Answer::Stall)).await;
    let cli = Cli::for_url(&stalled.url);
    fake_login(&cli, &stalled.url);
    for args in [
        &["--timeout", "2", "wallet", "list"][..],
        &[
            "--timeout",
            "2",
            "login",
            "--email",
            "a@example.test",
            "--send-only",
        ][..],
    ] {
        let (err, took) = failing(&cli, args);
        assert!(
            err.contains("timed out after 2s waiting for the server's HTTP answer"),
            "{args:?}: {err}"
        );
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_secs(8),
            "{took:?}"
        );
    }

    // The ceremony socket, stalled by a proxy at the upgrade, in the handshake and in a round.
    let server = Server::start(&Backend::Sqlite);
    let relay = Relay::start(&server.url).await;
    let cli = Cli::new(&server).with_env("TANDEM_SERVER", &relay.url);
    cli.login(&server, &unique_email("stall"));
    let wallet = cli.json(&["wallet", "create", "--chain", "evm"]);
    let id = wallet["id"].as_str().unwrap();
    for (mode, step) in [
        (WsMode::StallUpgrade, "the ceremony socket upgrade"),
        (
            WsMode::StallAfterFrames(0),
            "the encrypted channel handshake",
        ),
        (
            WsMode::StallAfterFrames(1),
            "the server in a ceremony round",
        ),
    ] {
        relay.set_ws_mode(mode);
        let (err, took) = failing(
            &cli,
            &[
                "--timeout",
                "3",
                "sign",
                "message",
                "--wallet",
                id,
                "stalled",
            ],
        );
        assert!(
            err.contains(&format!("timed out after 3s waiting for {step}")),
            "{mode:?}: {err}"
        );
        // The store's Argon2 runs before the clock starts; the deadline itself is 3 s.
        assert!(
            took >= Duration::from_secs(3) && took < Duration::from_secs(12),
            "{mode:?}: {took:?}"
        );
    }
    // Once the proxy behaves, the same wallet signs.
    relay.set_ws_mode(WsMode::Relay);
    let signed = cli.json(&["sign", "message", "--wallet", id, "after the stall"]);
    let sig = signed["signature"].as_str().unwrap();
    assert_eq!(
        common::verify::recover_personal(b"after the stall", sig).to_checksum(None),
        wallet["address"].as_str().unwrap()
    );
}

/// The highest resident set size a process reached, watched until it exits.
fn peak_rss_kib(mut child: std::process::Child) -> (std::process::Output, u64) {
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if let Ok(status) = std::fs::read_to_string(&status_file)
            && let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kib);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    (child.wait_with_output().unwrap(), peak)
}

/// A 1 GiB answer pushed `tandem wallet list` to 2.2 GiB of RSS: answers are now read
/// chunk by chunk and refused past 4 MiB, announced or not.
#[tokio::test(flavor = "multi_thread")]
async fn a_huge_answer_is_refused_with_bounded_memory() {
    for answer in [Answer::HugeDeclared, Answer::HugeChunked] {
        let a = answer.clone();
        let fake = FakeHttp::start(Arc::new(move |_: &str| a.clone())).await;
        let cli = Cli::for_url(&fake.url);
        fake_login(&cli, &fake.url);
        let start = Instant::now();
        let (out, peak_kib) = peak_rss_kib(cli.spawn(&["--timeout", "20", "wallet", "list"]));
        let took = start.elapsed();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(err.contains("larger than the 4194304-byte limit"), "{err}");
        println!(
            "huge answer ({}): refused after {took:?}, {} bytes pushed, peak RSS {} KiB",
            if matches!(answer, Answer::HugeDeclared) {
                "declared"
            } else {
                "chunked"
            },
            fake.sent(),
            peak_kib
        );
        assert!(took < Duration::from_secs(10), "{took:?}");
        // What crossed the socket is bounded by the cap plus kernel buffers.
        assert!(fake.sent() < 64 << 20, "{} bytes sent", fake.sent());
        // `wallet list` opens the share store first (it checks every wallet against the
        // device's own key), and Argon2id alone takes 256 MiB; the 1 GiB answer took 2.2 GiB.
        assert!(
            peak_kib > 0 && peak_kib < 448 * 1024,
            "peak RSS {peak_kib} KiB"
        );
    }
}

/// Control characters in server text could spoof the CLI's output (clear the screen, rewrite
/// a line, reverse an address): every server string is escaped before it is printed.
#[tokio::test(flavor = "multi_thread")]
async fn server_text_never_reaches_the_terminal_raw() {
    const EVIL: &str = "\u{1b}[2J\u{1b}]0;title\u{7}\r\n\u{202e}\u{9b}31m\u{2067}";
    let wallet = json!({
        "id": format!("w-{EVIL}"), "chain": "evm", "address": format!("0xdead{EVIL}"),
        "public_key": EVIL, "epoch": 0, "status": "active", "created_at": 0,
    });
    let session = json!({
        "id": format!("s-{EVIL}"), "auth_method": EVIL, "created_at": 0, "refreshed_at": 0,
        "expires_at": 0, "absolute_expires_at": 0, "current": true,
    });
    let (w, s) = (wallet.clone(), session.clone());
    let fake = FakeHttp::start(Arc::new(move |line: &str| {
        if line.starts_with("GET /v1/wallets ") {
            Answer::Json(200, json!({ "wallets": [w] }).to_string())
        } else if line.starts_with("GET /v1/sessions ") {
            Answer::Json(200, json!({ "sessions": [s] }).to_string())
        } else if line.starts_with("GET /v1/session ") {
            Answer::Json(200, s.to_string())
        } else {
            let message = format!("no{EVIL}");
            Answer::Json(
                400,
                json!({ "code": "invalid_request", "message": message }).to_string(),
            )
        }
    }))
    .await;
    let cli = Cli::for_url(&fake.url);
    fake_login(&cli, &fake.url);
    let raw = |out: &[u8]| {
        let text = String::from_utf8_lossy(out);
        text.contains(['\u{1b}', '\r', '\u{7}', '\u{202e}', '\u{9b}', '\u{2067}'])
    };
    for args in [
        &["wallet", "list"][..],
        &["session", "status"][..],
        &["session", "list"][..],
        &["session", "refresh"][..],
        &["--json", "wallet", "list"][..],
        &["--json", "session", "refresh"][..],
    ] {
        let out = cli.run(args);
        assert!(!raw(&out.stdout), "{args:?} printed raw control characters");
        assert!(
            !raw(&out.stderr),
            "{args:?} printed raw control characters on stderr"
        );
        let shown = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            shown.contains("\\u{1b}") || shown.contains("\\u001b"),
            "{args:?}: the text is escaped, not dropped: {shown}"
        );
    }
    // Human output keeps one line per wallet: the server's newline did not add one.
    let out = cli.run(&["wallet", "list"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

/// One passphrase rule on every path that chooses one: the environment, the prompt (on a
/// real terminal) and the SDK (crates/client/tests/share_store.rs).
#[tokio::test(flavor = "multi_thread")]
async fn weak_passphrases_are_refused_from_the_environment_and_the_prompt() {
    let server = Server::start(&Backend::Sqlite);
    for weak in ["x", "password1234", "tandemtandem"] {
        let cli = Cli::new(&server).with_env("TANDEM_PASSPHRASE", weak);
        cli.login(&server, &unique_email("weak"));
        let (err, _) = failing(&cli, &["wallet", "create", "--chain", "evm"]);
        assert!(err.contains("passphrase refused"), "{weak}: {err}");
        assert!(
            !err.contains(weak) || weak == "x",
            "{weak}: the error shows it: {err}"
        );
        assert!(!cli.home().join("shares/keystore.json").exists());
    }

    // The prompt, typed on a pseudo-terminal (`script` from util-linux gives the CLI one).
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var("TANDEM_REQUIRE_PEERS").as_deref() != Ok("1"),
            "`script` (util-linux) is missing and TANDEM_REQUIRE_PEERS=1"
        );
        println!("skipped the prompt case: `script` (util-linux) is not installed");
        return;
    }
    let cli = Cli::new(&server).with_env("TANDEM_PASSPHRASE", "");
    cli.login(&server, &unique_email("prompt"));
    let command = format!("{} wallet create --chain evm", env!("CARGO_BIN_EXE_tandem"));
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("TANDEM_HOME", cli.home())
        .env("TANDEM_SERVER", &server.url)
        .env_remove("TANDEM_PASSPHRASE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        std::thread::sleep(Duration::from_millis(500));
        stdin.write_all(b"password1234\n").unwrap();
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("New passphrase"), "{text}");
    assert!(text.contains("passphrase refused"), "{text}");
    assert!(!cli.home().join("shares/keystore.json").exists());
}

fn env(pairs: &[(&str, String)]) -> ServerOptions {
    ServerOptions {
        env: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        args: Vec::new(),
    }
}

/// `/healthz` answers within `bound`.
async fn healthz_within(client: &reqwest::Client, url: &str, bound: Duration) {
    let started = Instant::now();
    let r = tokio::time::timeout(bound, client.get(format!("{url}/healthz")).send())
        .await
        .unwrap_or_else(|_| panic!("/healthz took more than {bound:?}"))
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(started.elapsed() < bound);
}

/// Reads until the server closes the connection; false if it stays open past `within`.
async fn closes_within(conn: &mut TcpStream, within: Duration) -> bool {
    let mut sink = Vec::new();
    tokio::time::timeout(within, conn.read_to_end(&mut sink))
        .await
        .is_ok()
}

/// Slowloris: a few hundred connections each trickling an endless request header. The
/// server keeps answering health checks, and drops every one of them at the header timeout.
#[tokio::test(flavor = "multi_thread")]
async fn edge_slowloris_is_cut_at_the_header_timeout() {
    let server = Server::start_with(
        &Backend::Sqlite,
        env(&[("TANDEM_LIMITS__HEADER_TIMEOUT_SECS", "2".into())]),
    );
    let addr = server.url.strip_prefix("http://").unwrap().to_owned();
    let opened = Instant::now();
    let mut conns = Vec::new();
    for _ in 0..300 {
        let mut c = TcpStream::connect(&addr).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        conns.push(c);
    }
    let (mut readers, mut writers): (Vec<_>, Vec<_>) =
        conns.into_iter().map(TcpStream::into_split).unzip();
    let trickle = tokio::spawn(async move {
        for _ in 0..40 {
            for w in &mut writers {
                let _ = w.write_all(b"X-Slow: 1\r\n").await;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let client = reqwest::Client::new();
    for _ in 0..5 {
        healthz_within(&client, &server.url, Duration::from_secs(1)).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut open = 0;
    for r in &mut readers {
        let left = Duration::from_secs(6).saturating_sub(opened.elapsed());
        let mut sink = Vec::new();
        if tokio::time::timeout(left, r.read_to_end(&mut sink))
            .await
            .is_err()
        {
            open += 1;
        }
    }
    trickle.abort();
    assert_eq!(
        open, 0,
        "stalled connections still open 6 s after a 2 s header timeout"
    );
    healthz_within(&client, &server.url, Duration::from_secs(1)).await;
}

/// Past `limits.max_connections`, a new connection is closed at once; a freed slot is
/// usable again.
#[tokio::test(flavor = "multi_thread")]
async fn edge_connection_cap() {
    let server = Server::start_with(
        &Backend::Sqlite,
        env(&[("TANDEM_LIMITS__MAX_CONNECTIONS", "20".into())]),
    );
    let addr = server.url.strip_prefix("http://").unwrap().to_owned();
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    // Give the server time to take each one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut extra = TcpStream::connect(&addr).await.unwrap();
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), extra.read_to_end(&mut reply)).await;
    assert!(
        !String::from_utf8_lossy(&reply).contains("200 OK"),
        "served past the cap"
    );
    assert!(closes_within(&mut extra, Duration::from_secs(1)).await);
    held.clear();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ok = client
            .get(format!("{}/healthz", server.url))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "slots not given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The server raises its open-file soft limit to the hard limit at start.
#[cfg(target_os = "linux")]
#[test]
fn edge_open_file_limit_raised_at_start() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -Sn 256 && exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_tandem"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env_remove("TANDEM_CONFIG")
        .env_remove("TANDEM_DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let started = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.starts_with("tandem listening on"));
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(started);
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_ne!(fields[3], "256", "{line}");
    assert_eq!(
        fields[3], fields[4],
        "soft limit not raised to the hard one: {line}"
    );
}

fn assert_private(resp: &reqwest::Response, what: &str) {
    let h = resp.headers();
    assert_eq!(
        h.get("x-content-type-options").map(|v| v.as_bytes()),
        Some(&b"nosniff"[..]),
        "{what}"
    );
    assert_eq!(
        h.get("cache-control").map(|v| v.as_bytes()),
        Some(&b"no-store"[..]),
        "{what}"
    );
}

/// Every response says `nosniff` and `no-store` (the token-issuing one too), and
/// `/metrics` is only where the configuration puts it.
#[tokio::test(flavor = "multi_thread")]
async fn edge_metrics_placement_and_response_headers() {
    let metrics_port = common::free_port();
    let server = Server::start_with(
        &Backend::Sqlite,
        env(&[("TANDEM_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))]),
    );
    let client = reqwest::Client::new();
    let url = &server.url;
    let email = unique_email("headers");
    let start = client
        .post(format!("{url}/v1/auth/email/start"))
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap();
    assert_private(&start, "email start");
    let attempt: serde_json::Value = start.json().await.unwrap();
    let code = server.login_code(&email);
    let verify = client
        .post(format!("{url}/v1/auth/email/verify"))
        .json(&json!({ "attempt_id": attempt["attempt_id"], "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(verify.status(), 200);
    assert_private(&verify, "the response carrying the token");
    let token = verify.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for (path, auth, status) in [
        ("/healthz", false, 200),
        ("/v1/wallets", true, 200),
        ("/v1/wallets", false, 401),
        ("/v1/server-key", false, 200),
        ("/no/such/route", false, 404),
        ("/openapi.json", false, 200),
        // Not on the API listener when a metrics address is configured.
        ("/metrics", false, 404),
    ] {
        let mut req = client.get(format!("{url}{path}"));
        if auth {
            req = req.bearer_auth(&token);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), status, "{path}");
        assert_private(&resp, path);
    }
    let resp = client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_private(&resp, "metrics listener");
    assert!(resp.text().await.unwrap().contains("tandem_"));

    // Behind a token instead: refused without it.
    let token_server = Server::start_with(
        &Backend::Sqlite,
        env(&[("TANDEM_METRICS_TOKEN", "scrape-secret-42".into())]),
    );
    let metrics = format!("{}/metrics", token_server.url);
    let resp = client.get(&metrics).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = client
        .get(&metrics)
        .bearer_auth("scrape-secret-41")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = client
        .get(&metrics)
        .bearer_auth("scrape-secret-42")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// Security bar I2: every JSON route and the ceremony socket's control messages refuse
/// unknown fields (a mass-assignment attempt included), repeated keys at any depth and deep
/// nesting with a 400 / `invalid_request` naming the problem and the field; nothing is
/// created, and the server stays up. (`/v1/session/refresh` and `/logout` read no body.)
#[tokio::test(flavor = "multi_thread")]
async fn strict_json_on_every_route_and_on_the_ceremony_socket() {
    use tandem_proto::channel::Kind;
    let server = Server::start(&Backend::Sqlite);
    let cli = Cli::new(&server);
    let email = unique_email("strict");
    cli.login(&server, &email);
    let evm = cli.json(&["wallet", "create", "--chain", "evm"]);
    let id = evm["id"].as_str().unwrap();
    let token = cli.token();
    let http = Http::new(&server);
    let preview = format!("/v1/wallets/{id}/preview");
    let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    let typed = |inner: &str| {
        format!(
            r#"{{"kind":"evm_typed_data","typed_data":{{"types":{{"EIP712Domain":[]}},"primaryType":"EIP712Domain","domain":{inner},"message":{{}}}}}}"#
        )
    };

    // (route, token, body, what the message must say, the field it must name)
    type Case<'a> = (&'a str, Option<&'a str>, String, &'a str, Option<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "/v1/auth/email/start",
            None,
            format!(r#"{{"email":"{email}","role":"admin"}}"#),
            "unknown field `role`",
            Some("role"),
        ),
        (
            "/v1/auth/email/start",
            None,
            format!(r#"{{"email":"{email}","email":"x@example.test"}}"#),
            "duplicate key `email`",
            Some("email"),
        ),
        (
            "/v1/auth/email/start",
            None,
            format!(r#"{{"email":{}}}"#, deep(200)),
            "nested too deeply",
            None,
        ),
        (
            "/v1/auth/email/start",
            None,
            format!(r#"{{"email":"{email}"}} {{"email":"{email}"}}"#),
            "trailing",
            None,
        ),
        (
            "/v1/auth/email/verify",
            None,
            r#"{"attempt_id":"a","code":"123456","user_id":"u1"}"#.into(),
            "unknown field `user_id`",
            Some("user_id"),
        ),
        (
            "/v1/auth/email/verify",
            None,
            r#"{"attempt_id":"a","code":"123456","code":"654321"}"#.into(),
            "duplicate key `code`",
            Some("code"),
        ),
        (
            &preview,
            Some(&token),
            r#"{"kind":"evm_message","message":"x","signer":"0x00"}"#.into(),
            "unknown field `signer`",
            Some("signer"),
        ),
        (
            &preview,
            Some(&token),
            r#"{"kind":"evm_message","kind":"solana_message","message":"x"}"#.into(),
            "duplicate key `kind`",
            Some("kind"),
        ),
        (
            &preview,
            Some(&token),
            r#"{"kind":"evm_message","message":"x","message":"y"}"#.into(),
            "duplicate key `message`",
            Some("message"),
        ),
        // Inside free-form typed data, where serde_json alone would keep the last value.
        (
            &preview,
            Some(&token),
            typed(r#"{"name":"Good","name":"Evil"}"#),
            "duplicate key `name`",
            Some("typed_data.domain.name"),
        ),
        (
            &preview,
            Some(&token),
            typed(&format!(r#"{{"name":{}}}"#, deep(150))),
            "nested too deeply",
            None,
        ),
        (
            &preview,
            Some(&token),
            deep(100_000),
            "nested too deeply",
            None,
        ),
    ];
    for (route, auth, body, says, field) in cases {
        let r = http
            .send(
                reqwest::Method::POST,
                route,
                auth,
                Some(body.clone().into_bytes()),
            )
            .await;
        let brief = &body[..body.len().min(120)];
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (400, Some("invalid_request")),
            "{route} {brief}: {}",
            r.body
        );
        let message = r.body["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{route} {brief}: {}", r.body);
        if let Some(field) = field {
            assert_eq!(r.body["field"], field, "{route} {brief}: {}", r.body);
        }
    }
    // None of those logged in or sent anything.
    assert_eq!(server.code_count(&email), 1);

    // The same on the ceremony socket: each bad `start` gets `failed` naming the problem.
    let start = |operation: &str| {
        format!(
            r#"{{"type":"start","device_nonce":"{}","operation":{operation}}}"#,
            "33".repeat(32)
        )
    };
    let sign_op = |payload: &str| {
        format!(r#"{{"kind":"sign","wallet_id":"{id}","epoch":0,"payload":{payload}}}"#)
    };
    let socket_cases: Vec<(String, &str, Option<&str>)> = vec![
        (
            start(r#"{"kind":"keygen","chain":"evm"}"#)
                .replace(r#"{"type":"start","#, r#"{"type":"start","role":"admin","#),
            "unknown field `role`",
            Some("role"),
        ),
        (
            start(r#"{"kind":"keygen","chain":"evm","owner":"someone"}"#),
            "unknown field `owner`",
            None,
        ),
        (
            start(r#"{"kind":"keygen","chain":"evm"}"#)
                .replace(r#"{"type":"start","#, r#"{"type":"start","type":"stored","#),
            "duplicate key `type`",
            Some("type"),
        ),
        (
            start(r#"{"kind":"keygen","chain":"evm","chain":"solana"}"#),
            "duplicate key `chain`",
            Some("operation.chain"),
        ),
        (
            start(&sign_op(
                r#"{"kind":"evm_message","message":"a","message":"b"}"#,
            )),
            "duplicate key `message`",
            Some("operation.payload.message"),
        ),
        (
            start(&sign_op(&typed(r#"{"name":"Good","name":"Evil"}"#))),
            "duplicate key `name`",
            Some("operation.payload.typed_data.domain.name"),
        ),
        (
            start(&sign_op(&format!(
                r#"{{"kind":"evm_message","message":{}}}"#,
                deep(200)
            ))),
            "nested too deeply",
            None,
        ),
    ];
    for (message, says, field) in socket_cases {
        let mut raw = common::raw::Raw::connect(&server.url, &token).await;
        raw.send(Kind::Control, message.as_bytes()).await;
        let reply = raw.next_control().await.expect("an answer");
        let brief = &message[..message.len().min(120)];
        assert_eq!(reply["type"], "failed", "{brief}: {reply}");
        assert_eq!(
            reply["error"]["code"], "invalid_request",
            "{brief}: {reply}"
        );
        let text = reply["error"]["message"].as_str().unwrap_or_default();
        assert!(text.contains(says), "{brief}: {reply}");
        if let Some(field) = field {
            assert_eq!(reply["error"]["field"], field, "{brief}: {reply}");
        }
        assert!(
            raw.next().await.is_none(),
            "socket left open after `failed`"
        );
    }

    // Nothing was created or moved; the server is up and never panicked.
    let list = cli.json(&["wallet", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["epoch"], 0);
    let r = reqwest::get(format!("{}/healthz", server.url))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!server.log().contains("panicked"));
}
