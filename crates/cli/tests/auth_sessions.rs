//! Email codes and sessions against the real binary, with the server's injected clock
//! driven through its clock file; what the data directory and the database hold at rest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::http::Http;
use common::raw::Raw;
use common::server::T0;
use common::{Backend, Server, ServerOptions, each_backend, unique_email, vault};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use sha2::{Digest, Sha256};
use tandem_server::auth::testing as auth_testing;
use tandem_server::store::Store;
use tokio_tungstenite::tungstenite;

const MIN: i64 = 60_000;

async fn start(http: &Http, email: &str) -> String {
    let r = http
        .post("/v1/auth/email/start", None, json!({ "email": email }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["attempt_id"].as_str().unwrap().to_owned()
}

async fn verify(http: &Http, attempt: &str, code: &str) -> common::http::Reply {
    http.post(
        "/v1/auth/email/verify",
        None,
        json!({ "attempt_id": attempt, "code": code }),
    )
    .await
}

fn wrong(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

async fn otp_rules(backend: Backend) {
    let server = Server::start(&backend);
    let http = Http::new(&server);

    // Success, then reuse refused.
    let email = unique_email("otp");
    let attempt = start(&http, &email).await;
    let code = server.login_code(&email);
    assert_eq!(code.len(), 6);
    assert!(code.chars().all(|c| c.is_ascii_digit()));
    assert_eq!(verify(&http, &attempt, &code).await.status, 200);
    let reuse = verify(&http, &attempt, &code).await;
    assert_eq!(
        (reuse.status, reuse.body["code"].as_str()),
        (400, Some("code_invalid"))
    );

    // Expiry: valid at 9:59, dead at 10:00 on the injected clock.
    let email = unique_email("exp");
    server.set_time(T0);
    let attempt = start(&http, &email).await;
    let code = server.login_code(&email);
    server.set_time(T0 + 10 * MIN);
    let r = verify(&http, &attempt, &code).await;
    assert_eq!(r.body["code"], "code_expired", "{}", r.body);
    server.set_time(T0 + 20 * MIN);
    let attempt = start(&http, &email).await;
    let code = server.login_code(&email);
    server.set_time(T0 + 20 * MIN + 10 * MIN - 1_000);
    assert_eq!(verify(&http, &attempt, &code).await.status, 200);

    // Five wrong tries kill the code: the right one is refused afterwards.
    let email = unique_email("limit");
    let attempt = start(&http, &email).await;
    let code = server.login_code(&email);
    for i in 0..5 {
        let r = verify(&http, &attempt, &wrong(&code)).await;
        let expected = if i < 4 {
            "code_invalid"
        } else {
            "code_exhausted"
        };
        assert_eq!(r.body["code"], expected, "try {i}: {}", r.body);
    }
    let r = verify(&http, &attempt, &code).await;
    assert_eq!(r.body["code"], "code_exhausted");

    // A code is bound to its attempt: the right code with another attempt's id fails.
    let a = unique_email("cross-a");
    let b = unique_email("cross-b");
    let attempt_a = start(&http, &a).await;
    let _attempt_b = start(&http, &b).await;
    let code_b = server.login_code(&b);
    let r = verify(&http, &attempt_a, &code_b).await;
    assert_eq!(r.body["code"], "code_invalid");

    // The same answer for a known and an unknown address.
    let known = start(&http, &email).await;
    let unknown = start(&http, &unique_email("nobody")).await;
    assert_eq!(known.len(), unknown.len());

    // Invalid address and send throttle per address.
    let r = http
        .post(
            "/v1/auth/email/start",
            None,
            json!({ "email": "not-an-email" }),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str(), r.body["field"].as_str()),
        (400, Some("invalid_email"), Some("email"))
    );
    let busy = unique_email("busy");
    let mut last = 0;
    for _ in 0..6 {
        last = http
            .post("/v1/auth/email/start", None, json!({ "email": busy }))
            .await
            .status;
    }
    assert_eq!(last, 429, "the sixth code in an hour is throttled");
}

#[tokio::test(flavor = "multi_thread")]
async fn otp_reuse_expiry_attempt_limit_and_binding() {
    each_backend(otp_rules).await;
}

async fn session_rules(backend: Backend) {
    let server = Server::start(&backend);
    let http = Http::new(&server);
    server.set_time(T0);
    let token = http.login(&server, &unique_email("sess")).await;

    // 89:59 valid, 90:00 expired with a stable code.
    server.set_time(T0 + 90 * MIN - 1_000);
    assert_eq!(http.get("/v1/session", Some(&token)).await.status, 200);
    server.set_time(T0 + 90 * MIN);
    let r = http.get("/v1/wallets", Some(&token)).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("session_expired"))
    );

    // Refresh extends, but never past the absolute cap (12 h by default, security bar S1).
    server.set_time(T0 + 100 * MIN);
    let token = http.login(&server, &unique_email("refresh")).await;
    let login_at = T0 + 100 * MIN;
    server.set_time(login_at + 60 * MIN);
    let r = http
        .post("/v1/session/refresh", Some(&token), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["expires_at"], login_at + 150 * MIN);
    let mut now = login_at;
    loop {
        now += 80 * MIN;
        server.set_time(now);
        let r = http
            .post("/v1/session/refresh", Some(&token), json!({}))
            .await;
        if r.status != 200 {
            assert_eq!(r.body["code"], "session_expired");
            break;
        }
        let expires = r.body["expires_at"].as_i64().unwrap();
        assert!(
            expires <= login_at + 12 * 60 * MIN,
            "capped at the absolute limit"
        );
    }
    assert!(now <= login_at + 12 * 60 * MIN + 80 * MIN);

    // List and revoke: a revoked session is refused at once.
    server.set_time(T0 + 2 * 24 * 60 * MIN);
    let email = unique_email("multi");
    let first = http.login(&server, &email).await;
    let second = http.login(&server, &email).await;
    let list = http.get("/v1/sessions", Some(&first)).await;
    let sessions = list.body["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap();
    let r = http
        .send(
            reqwest::Method::DELETE,
            &format!("/v1/sessions/{}", other["id"].as_str().unwrap()),
            Some(&first),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let r = http.get("/v1/session", Some(&second)).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("session_revoked"))
    );
    // Unauthenticated and garbage tokens.
    let r = http.get("/v1/wallets", None).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let r = http.get("/v1/wallets", Some("tdm_garbage")).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("unauthorized"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_expire_refresh_list_revoke() {
    each_backend(session_rules).await;
}

fn env(pairs: &[(&str, &str)]) -> ServerOptions {
    ServerOptions {
        env: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        args: Vec::new(),
    }
}

fn keygen_start() -> serde_json::Value {
    json!({"type": "start", "device_nonce": "11".repeat(32),
        "operation": {"kind": "keygen", "chain": "evm"}})
}

/// The HTTP status the ceremony upgrade is answered with (101 when it succeeds).
async fn upgrade_status(url: &str, token: &str) -> u16 {
    use tungstenite::client::IntoClientRequest;
    let url = url.replace("http://", "ws://") + "/v1/ceremony";
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok(_) => 101,
        Err(tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("upgrade failed without a status: {e}"),
    }
}

/// Whether the server closes `raw` (after telling why) within `within`, without the device
/// sending anything.
async fn closed_by_server(raw: &mut Raw, within: Duration) -> Option<String> {
    tokio::time::timeout(within, async {
        let code = raw.failure_code().await;
        assert!(
            raw.next().await.is_none(),
            "socket still open after `failed`"
        );
        code
    })
    .await
    .expect("the server kept the socket open")
}

async fn socket_rules(backend: Backend) {
    let server = Server::start_with(
        &backend,
        env(&[
            ("TANDEM_LIMITS__MAX_SOCKETS_PER_SESSION", "3"),
            ("TANDEM_LIMITS__MAX_SOCKETS_PER_USER", "4"),
        ]),
    );
    let http = Http::new(&server);
    server.set_time(T0);
    let email = unique_email("sockets");
    let token = http.login(&server, &email).await;

    // Sockets held open before any `start`, up to the session's cap.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(Raw::connect(&server.url, &token).await);
    }
    assert_eq!(upgrade_status(&server.url, &token).await, 429);
    // The user's cap counts every session of theirs.
    let other = http.login(&server, &email).await;
    let mut other_socket = Raw::connect(&server.url, &other).await;
    assert_eq!(upgrade_status(&server.url, &other).await, 429);

    // Logging out closes every socket of that session at once, telling the device why.
    let r = http
        .post("/v1/session/logout", Some(&token), json!({}))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    for raw in &mut held {
        let code = closed_by_server(raw, Duration::from_secs(5)).await;
        assert_eq!(code.as_deref(), Some("session_revoked"));
    }
    // A closed socket gives its place back; the ended session gets none.
    assert_eq!(upgrade_status(&server.url, &token).await, 401);
    let deadline = Instant::now() + Duration::from_secs(5);
    while upgrade_status(&server.url, &other).await != 101 {
        assert!(Instant::now() < deadline, "places not given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The other session's socket is untouched and still runs ceremonies.
    other_socket.control(keygen_start()).await;
    let reply = other_socket.next_control().await.unwrap();
    assert_eq!(reply["type"], "accepted", "{reply}");
    drop(other_socket);

    // Revoking a session from another one closes its sockets too.
    let third = http.login(&server, &email).await;
    let mut raw = Raw::connect(&server.url, &third).await;
    let list = http.get("/v1/sessions", Some(&other)).await;
    let id = list.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = http
        .send(
            reqwest::Method::DELETE,
            &format!("/v1/sessions/{id}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let code = closed_by_server(&mut raw, Duration::from_secs(5)).await;
    assert_eq!(code.as_deref(), Some("session_revoked"));

    // The very first ceremony on a socket checks the session: one opened while live runs
    // nothing once the session has expired.
    let mut raw = Raw::connect(&server.url, &other).await;
    server.set_time(T0 + 24 * 60 * MIN);
    raw.control(keygen_start()).await;
    assert_eq!(raw.failure_code().await.as_deref(), Some("session_expired"));
}

#[tokio::test(flavor = "multi_thread")]
async fn edge_sockets_capped_closed_on_logout_and_checked_before_every_ceremony() {
    each_backend(socket_rules).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn edge_pings_do_not_extend_the_handshake_deadline() {
    let server = Server::start_with(
        &Backend::Sqlite,
        env(&[("TANDEM_LIMITS__ROUND_TIMEOUT_SECS", "2")]),
    );
    let http = Http::new(&server);
    let token = http.login(&server, &unique_email("pings")).await;
    let mut ws = common::raw::connect_ws(&server.url, &token).await;
    let opened = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            tokio::select! {
                msg = ws.next() => match msg {
                    Some(Ok(tungstenite::Message::Pong(_))) => {}
                    _ => return,
                },
                _ = tick.tick() => {
                    if ws.send(tungstenite::Message::Ping(vec![1].into())).await.is_err() {
                        return;
                    }
                }
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "pings kept the handshake open for 10 s");
    let held = opened.elapsed();
    assert!(held < Duration::from_millis(4_500), "held {held:?}");
}

/// Asks for a login code as a client behind a proxy that sent `header: value`.
async fn start_as(server: &Server, header: Option<(&str, &str)>) -> u16 {
    let mut req = server
        .http()
        .post(format!("{}/v1/auth/email/start", server.url))
        .json(&json!({ "email": unique_email("proxied") }));
    if let Some((name, value)) = header {
        req = req.header(name, value);
    }
    req.send().await.unwrap().status().as_u16()
}

/// Behind a trusted proxy each client has its own login-code budget (IPv6 per /64), and
/// what a client writes into the header itself does not make it someone else; from an
/// untrusted peer the header is ignored.
#[tokio::test(flavor = "multi_thread")]
async fn edge_client_address_behind_trusted_proxies() {
    let budget = ("TANDEM_OTP__PER_IP_PER_HOUR", "2");
    let server = Server::start_with(
        &Backend::Sqlite,
        env(&[budget, ("TANDEM_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")]),
    );
    let xff = |v| Some(("x-forwarded-for", v));
    assert_eq!(start_as(&server, xff("203.0.113.1")).await, 200);
    assert_eq!(start_as(&server, xff("203.0.113.1")).await, 200);
    assert_eq!(start_as(&server, xff("203.0.113.1")).await, 429);
    // Another client behind the same proxy is not throttled by the first.
    assert_eq!(start_as(&server, xff("203.0.113.2")).await, 200);
    // A client prepending a fresh address is still itself (the proxy appended the real one),
    // also through a chain of trusted proxies.
    assert_eq!(
        start_as(&server, xff("198.51.100.9, 203.0.113.1")).await,
        429
    );
    assert_eq!(
        start_as(&server, xff("198.51.100.9, 203.0.113.1, 10.2.3.4")).await,
        429
    );
    // IPv6: one /64 is one client.
    assert_eq!(start_as(&server, xff("2001:db8:1:2::1")).await, 200);
    assert_eq!(start_as(&server, xff("2001:db8:1:2::2")).await, 200);
    assert_eq!(start_as(&server, xff("2001:db8:1:2:ffff::3")).await, 429);
    assert_eq!(start_as(&server, xff("2001:db8:1:3::1")).await, 200);
    // The other header is not read in `x-forwarded-for` mode.
    assert_eq!(
        start_as(&server, Some(("forwarded", "for=192.0.2.77"))).await,
        200
    );
    assert_eq!(
        start_as(&server, Some(("forwarded", "for=192.0.2.78"))).await,
        200
    );
    assert_eq!(
        start_as(&server, Some(("forwarded", "for=192.0.2.79"))).await,
        429
    );
    drop(server);

    // RFC 7239 when configured.
    let server = Server::start_with(
        &Backend::Sqlite,
        env(&[
            budget,
            ("TANDEM_TRUSTED_PROXIES", "127.0.0.1/32"),
            ("TANDEM_PROXY_HEADER", "forwarded"),
        ]),
    );
    let fwd = |v| Some(("forwarded", v));
    assert_eq!(
        start_as(&server, fwd("for=\"[2001:db8:9::1]:443\"")).await,
        200
    );
    assert_eq!(
        start_as(&server, fwd("for=\"[2001:db8:9::2]:443\"")).await,
        200
    );
    assert_eq!(
        start_as(&server, fwd("for=\"[2001:db8:9::3]:443\"")).await,
        429
    );
    assert_eq!(
        start_as(&server, fwd("for=192.0.2.1;proto=https")).await,
        200
    );
    drop(server);

    // No trusted proxy: the header is the client's word and counts for nothing.
    let server = Server::start_with(&Backend::Sqlite, env(&[budget]));
    assert_eq!(start_as(&server, xff("203.0.113.1")).await, 200);
    assert_eq!(start_as(&server, xff("203.0.113.2")).await, 200);
    assert_eq!(start_as(&server, xff("203.0.113.3")).await, 429);
}

/// 100 simultaneous code requests for one address from one client: never more codes than
/// the limit (5), on both backends.
async fn concurrent_starts(backend: Backend) {
    let server = Server::start(&backend);
    let email = unique_email("flood");
    let began = Instant::now();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let client = server.http();
            let url = format!("{}/v1/auth/email/start", server.url);
            let email = email.clone();
            tokio::spawn(async move {
                client
                    .post(url)
                    .json(&json!({ "email": email }))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap().unwrap());
    }
    let elapsed = began.elapsed();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    println!(
        "{}: 100 concurrent starts in {elapsed:?}: {ok} sent, {limited} throttled",
        backend.name()
    );
    assert_eq!((ok, limited), (5, 95), "{statuses:?}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(server.code_count(&email), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_code_requests_respect_the_limit() {
    each_backend(concurrent_starts).await;
}

async fn db_store(backend: &Backend, data_dir: &Path) -> Store {
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}/tandem.db", data_dir.display()),
        Backend::Postgres(url) => url.clone(),
    };
    Store::connect(&url).await.unwrap()
}

/// Codes stay usable across a restart and a KEK rotation (the code key is the vault's, not
/// the process's), and a database copy cannot be brute-forced for a live code.
async fn codes_survive_restart_and_rotation(backend: Backend) {
    let server = Server::start(&backend);
    let http = Http::new(&server);
    let email = unique_email("keyed");
    let pending = start(&http, &email).await;
    let code = server.login_code(&email);

    let db = db_store(&backend, &server.data_dir).await;
    let stored = auth_testing::stored_code_mac(&db, &pending).await.unwrap();
    db.close().await;
    let found = (0..1_000_000u32).find(|n| {
        let mut h = Sha256::new();
        h.update(pending.as_bytes());
        h.update(format!("{n:06}").as_bytes());
        h.finalize().as_slice() == stored.as_slice()
    });
    assert_eq!(
        found, None,
        "a live code was recovered from the database alone"
    );

    let server = server.restart(&backend, ServerOptions::default());
    let http = Http::new(&server);
    let first = verify(&http, &pending, &code).await;
    assert_eq!(first.status, 200, "{}", first.body);

    let pending = start(&http, &email).await;
    let code = server.login_code(&email);
    let report = vault::json(
        &backend,
        &server.data_dir,
        &[],
        &["rotate", "--retire-old", "--yes"],
    );
    assert_eq!(report["data_keys_rewrapped"], 1, "{report}");
    let server = server.restart(&backend, ServerOptions::default());
    let http = Http::new(&server);
    let second = verify(&http, &pending, &code).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.body["user"]["id"], first.body["user"]["id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn login_codes_survive_restart_and_kek_rotation() {
    each_backend(codes_survive_restart_and_rotation).await;
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// SQLite: the data directory is 0700 and the database files 0600, and a server refuses a
/// directory or file others can read; emails and user agents are not in the files in clear,
/// including rows written in clear by an earlier version (migrated at start).
#[tokio::test(flavor = "multi_thread")]
async fn data_at_rest_is_private_and_sealed() {
    let backend = Backend::Sqlite;
    let mut server = Server::start(&backend);
    let http = Http {
        base: server.url.clone(),
        client: reqwest::Client::builder()
            .user_agent("tandem-test-agent/1.0")
            .build()
            .unwrap(),
    };
    let email = unique_email("private");
    let first = http.login(&server, &email).await;
    assert!(!first.is_empty());

    let dir = server.data_dir.clone();
    assert_eq!(mode(&dir), 0o700);
    for f in ["tandem.db", "tandem.db-wal", "tandem.db-shm"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    let files = |dir: &Path| -> Vec<u8> {
        let mut all = Vec::new();
        for f in ["tandem.db", "tandem.db-wal"] {
            all.extend(std::fs::read(dir.join(f)).unwrap_or_default());
        }
        all
    };
    let bytes = files(&dir);
    assert!(
        !contains(&bytes, &email),
        "email in clear in the database files"
    );
    assert!(
        !contains(&bytes, "tandem-test-agent"),
        "user agent in clear"
    );
    assert!(!contains(&bytes, "127.0.0.1"), "client address in clear");

    // A row in clear, as an earlier version wrote it.
    server.kill9();
    let db = db_store(&backend, &dir).await;
    let [user_id] = auth_testing::user_ids(&db)
        .await
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        auth_testing::sealed_user_agents(&db).await.unwrap(),
        1,
        "the user agent is kept, sealed"
    );
    auth_testing::make_legacy(&db, &email, "legacy-agent/2.0")
        .await
        .unwrap();
    db.close().await;
    assert!(contains(&files(&dir), &email));

    for (path, bad, fix) in [
        (dir.join("tandem.db"), 0o644, "chmod 600"),
        (dir.clone(), 0o755, "chmod 700"),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(bad)).unwrap();
        let err = Server::refused(&backend, &dir, &ServerOptions::default());
        assert!(err.contains(fix), "{err}");
        let good = if path == dir { 0o700 } else { 0o600 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(good)).unwrap();
    }

    let server = server.restart(&backend, ServerOptions::default());
    let http = Http::new(&server);
    let attempt = start(&http, &email).await;
    let code = server.login_code(&email);
    let r = verify(&http, &attempt, &code).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["user"]["id"],
        user_id.as_str(),
        "the migrated user logs in"
    );
    let bytes = files(&dir);
    assert!(
        !contains(&bytes, &email),
        "the migration left the email in clear"
    );
    assert!(
        !contains(&bytes, "legacy-agent"),
        "the migration left the user agent in clear"
    );

    // Without its data-at-rest key the database's sealed rows are orphans: a server refuses
    // to start rather than mint a new key.
    let mut server = server;
    server.kill9();
    let db = db_store(&backend, &dir).await;
    auth_testing::delete_data_key(&db).await.unwrap();
    db.close().await;
    let err = Server::refused(&backend, &dir, &ServerOptions::default());
    assert!(err.contains("data-at-rest key"), "{err}");
}

/// Security bar K4: a refresh asked for without the owner's live session (no session,
/// another user's, the owner's once revoked or expired) is refused before anything is staged:
/// the database still holds the one current share at epoch 0. The owner's live session then
/// refreshes, so the refusals are not an accident of the setup.
#[tokio::test(flavor = "multi_thread")]
async fn refresh_without_the_owners_live_session_creates_nothing() {
    let server = Server::start(&Backend::Sqlite);
    server.set_time(T0);
    let http = Http::new(&server);
    let owner = unique_email("k4-owner");
    let cli = common::Cli::new(&server);
    cli.login(&server, &owner);
    let wallet = cli.json(&["wallet", "create", "--chain", "evm"]);
    let id = wallet["id"].as_str().unwrap().to_owned();
    let refresh = |mode: &str| {
        json!({"type": "start", "device_nonce": "22".repeat(32),
            "operation": {"kind": "refresh", "wallet_id": id, "epoch": 0, "mode": mode}})
    };

    // No session, or a garbage one: the upgrade itself is refused.
    assert_eq!(upgrade_status(&server.url, "tdm_garbage").await, 401);
    // Another user's live session: the wallet does not exist for them, in either mode.
    let intruder = http.login(&server, &unique_email("k4-intruder")).await;
    for mode in ["fast", "complete"] {
        let mut raw = Raw::connect(&server.url, &intruder).await;
        raw.control(refresh(mode)).await;
        assert_eq!(
            raw.failure_code().await.as_deref(),
            Some("wallet_not_found"),
            "{mode}"
        );
    }
    // The owner's session, logged out: no socket.
    let revoked = http.login(&server, &owner).await;
    let r = http
        .post("/v1/session/logout", Some(&revoked), json!({}))
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(upgrade_status(&server.url, &revoked).await, 401);
    // The owner's session, expired while its socket was open.
    let expiring = http.login(&server, &owner).await;
    let mut raw = Raw::connect(&server.url, &expiring).await;
    server.set_time(T0 + 24 * 60 * MIN);
    raw.control(refresh("fast")).await;
    assert_eq!(raw.failure_code().await.as_deref(), Some("session_expired"));

    // Nothing was staged and the epoch did not move.
    let db = db_store(&Backend::Sqlite, &server.data_dir).await;
    let rows = tandem_server::wallets::testing::share_rows(&db, &id)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].epoch, rows[0].state.as_str()), (0, "current"));

    cli.login(&server, &owner);
    let refreshed = cli.json(&["wallet", "refresh", &id]);
    assert_eq!(refreshed["epoch"], 1);
    let rows = tandem_server::wallets::testing::share_rows(&db, &id)
        .await
        .unwrap();
    assert_eq!((rows.len(), rows[0].epoch), (1, 1), "{rows:?}");
    db.close().await;
}

/// Resident set of a process, KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Security bar I4: ceremonies that stall after `start` (the device never sends its next
/// round) and sockets left open without a `start` are reaped at the round timeout and give
/// their slots back; the per-user cap holds under many concurrent starts; another user is
/// served meanwhile.
#[tokio::test(flavor = "multi_thread")]
async fn stalled_ceremonies_are_reaped_and_the_per_user_cap_holds() {
    const CAP: usize = 4;
    const SOCKETS: usize = 60;
    let round = Duration::from_secs(2);
    let server = Server::start_with(
        &Backend::Sqlite,
        env(&[
            ("TANDEM_LIMITS__ROUND_TIMEOUT_SECS", "2"),
            ("TANDEM_LIMITS__MAX_CEREMONIES_PER_USER", "4"),
            ("TANDEM_LIMITS__MAX_SOCKETS_PER_SESSION", "100"),
            ("TANDEM_LIMITS__MAX_SOCKETS_PER_USER", "100"),
        ]),
    );
    let http = Http::new(&server);
    let token = http.login(&server, &unique_email("stall")).await;
    let bystander = http.login(&server, &unique_email("bystander")).await;
    let baseline = rss_kib(server.pid());

    for wave in 0..2 {
        // Many sockets, each starting a keygen at once and then never answering.
        let mut sockets = Vec::new();
        for _ in 0..SOCKETS {
            sockets.push(Raw::connect(&server.url, &token).await);
        }
        let started = Instant::now();
        let replies = futures_util::future::join_all(sockets.iter_mut().map(|raw| async move {
            raw.control(keygen_start()).await;
            raw.next_control().await
        }))
        .await;
        let mut accepted = 0;
        for reply in &replies {
            let reply = reply.as_ref().expect("a reply to `start`");
            match reply["type"].as_str() {
                Some("accepted") => accepted += 1,
                Some("failed") => {
                    assert_eq!(reply["error"]["code"], "too_many_ceremonies", "{reply}")
                }
                _ => panic!("{reply}"),
            }
        }
        assert_eq!(accepted, CAP, "wave {wave}: the per-user cap did not hold");
        // Another user is not held up by this user's stalled ceremonies.
        let mut other = Raw::connect(&server.url, &bystander).await;
        other.control(keygen_start()).await;
        assert_eq!(other.next_control().await.unwrap()["type"], "accepted");
        drop(other);

        // Every stalled ceremony ends at the round timeout, telling the device why.
        let ended = futures_util::future::join_all(
            sockets
                .iter_mut()
                .zip(&replies)
                .filter(|(_, r)| r.as_ref().is_some_and(|r| r["type"] == "accepted"))
                .map(|(raw, _)| closed_by_server(raw, round * 3)),
        )
        .await;
        for code in ended {
            assert_eq!(code.as_deref(), Some("ceremony_timeout"));
        }
        let reaped_after = started.elapsed();
        assert!(
            reaped_after >= round && reaped_after < round * 3,
            "{reaped_after:?}"
        );
        println!(
            "I4 wave {wave}: {SOCKETS} starts, {accepted} admitted, reaped after {reaped_after:?}"
        );
    }

    // Sockets that never send `start` (half-open ceremonies) are closed at the round timeout.
    let mut idle = Vec::new();
    for _ in 0..SOCKETS {
        idle.push(Raw::connect(&server.url, &token).await);
    }
    let codes =
        futures_util::future::join_all(idle.iter_mut().map(|raw| closed_by_server(raw, round * 3)))
            .await;
    for code in codes {
        assert_eq!(code.as_deref(), Some("ceremony_timeout"));
    }

    // Every slot is free again: the cap's worth of new ceremonies is admitted.
    let mut fresh = Vec::new();
    for _ in 0..CAP {
        let mut raw = Raw::connect(&server.url, &token).await;
        raw.control(keygen_start()).await;
        assert_eq!(raw.next_control().await.unwrap()["type"], "accepted");
        fresh.push(raw);
    }
    drop(fresh);
    let after = rss_kib(server.pid());
    println!("I4: server RSS {baseline} KiB before, {after} KiB after the stalls");
    assert!(after < baseline + 64 * 1024, "{baseline} -> {after} KiB");
    assert!(!server.log().contains("panicked"));
}

// ---------------------------------------------------------------------------------------
// Accounts: password, PIN, TOTP (checked with pyotp), step-up, linking (issue 12).

async fn put(http: &Http, path: &str, token: &str, body: serde_json::Value) -> common::http::Reply {
    http.send(
        reqwest::Method::PUT,
        path,
        Some(token),
        Some(body.to_string().into_bytes()),
    )
    .await
}

async fn delete(http: &Http, path: &str, token: &str) -> common::http::Reply {
    http.send(reqwest::Method::DELETE, path, Some(token), None)
        .await
}

fn notices(server: &Server, email: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(server.data_dir.join("dev-outbox.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["to"].as_str() == Some(email))
        .filter_map(|v| v["notice"].as_str().map(str::to_owned))
        .collect()
}

async fn account_methods(backend: Backend) {
    let Some(pyotp) = common::pyotp::PyOtp::find() else {
        return;
    };
    let server = Server::start(&backend);
    let http = Http::new(&server);
    let mut now = T0;
    server.set_time(now);
    let email = unique_email("acct");
    let token = http.login(&server, &email).await;

    let acct = http.get("/v1/account", Some(&token)).await;
    assert_eq!(acct.status, 200, "{}", acct.body);
    assert_eq!(acct.body["identities"][0]["kind"], "email");
    assert_eq!(acct.body["identities"][0]["subject"], email.as_str());
    assert_eq!(acct.body["password"], false);
    assert_eq!(acct.body["session_methods"][0]["method"], "email_otp");

    // Password rules: length and the common list only.
    for bad in ["short", "password", "Password1"] {
        let r = put(
            &http,
            "/v1/account/password",
            &token,
            json!({ "password": bad }),
        )
        .await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (400, Some("invalid_field")),
            "{bad}: {}",
            r.body
        );
        assert!(
            !r.body.to_string().contains(bad),
            "the error echoes the password"
        );
    }
    let password = "correct horse battery staple";
    let r = put(
        &http,
        "/v1/account/password",
        &token,
        json!({ "password": password }),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(notices(&server, &email).iter().any(|n| n.contains("added")));

    // Password login; wrong password and unknown account answer alike.
    let login = |email: String, password: String| {
        let http = &http;
        async move {
            http.post(
                "/v1/auth/password/login",
                None,
                json!({ "email": email, "password": password }),
            )
            .await
        }
    };
    let wrong = login(email.clone(), "wrong horse battery staple".into()).await;
    let nobody = login(unique_email("nobody"), password.into()).await;
    assert_eq!((wrong.status, nobody.status), (401, 401));
    assert_eq!(wrong.body["code"], "invalid_credentials");
    assert_eq!(wrong.body, nobody.body);
    let by_password = login(email.clone(), password.into()).await;
    assert_eq!(by_password.status, 200, "{}", by_password.body);
    let token2 = by_password.body["token"].as_str().unwrap().to_owned();

    // Step-up: past the window, adding a PIN is refused naming the methods that would do.
    now += 6 * MIN;
    server.set_time(now);
    let r = put(&http, "/v1/account/pin", &token2, json!({ "pin": "2580" })).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("step_up_required")),
        "{}",
        r.body
    );
    let methods: Vec<&str> = r.body["methods"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    assert!(
        methods.contains(&"password") && methods.contains(&"email_otp"),
        "{methods:?}"
    );
    // Every sensitive operation, with 6-minute-old authentication (security bar S4).
    let stale = [
        (
            reqwest::Method::PUT,
            "/v1/account/password",
            Some(json!({ "password": "another long passphrase here" })),
        ),
        (reqwest::Method::DELETE, "/v1/account/password", None),
        (
            reqwest::Method::PUT,
            "/v1/account/pin",
            Some(json!({ "pin": "2580" })),
        ),
        (reqwest::Method::DELETE, "/v1/account/pin", None),
        (reqwest::Method::POST, "/v1/account/totp", Some(json!({}))),
        (
            reqwest::Method::POST,
            "/v1/account/totp/confirm",
            Some(json!({ "code": "123456" })),
        ),
        (reqwest::Method::DELETE, "/v1/account/totp", None),
        (
            reqwest::Method::POST,
            "/v1/account/email/start",
            Some(json!({ "email": unique_email("x") })),
        ),
        (
            reqwest::Method::POST,
            "/v1/account/email/verify",
            Some(json!({ "attempt_id": "a", "code": "123456" })),
        ),
        (
            reqwest::Method::DELETE,
            "/v1/account/identities/whatever",
            None,
        ),
    ];
    for (method, path, body) in stale {
        let r = http
            .send(
                method.clone(),
                path,
                Some(&token2),
                body.map(|b| b.to_string().into_bytes()),
            )
            .await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (403, Some("step_up_required")),
            "{method} {path}: {}",
            r.body
        );
    }
    let sessions_before = http.get("/v1/sessions", Some(&token2)).await.body["sessions"]
        .as_array()
        .unwrap()
        .len();
    let r = http
        .post(
            "/v1/auth/step-up",
            Some(&token2),
            json!({ "method": "password", "password": "nope nope nope" }),
        )
        .await;
    assert_eq!(r.body["code"], "invalid_credentials");
    let r = http
        .post(
            "/v1/auth/step-up",
            Some(&token2),
            json!({ "method": "password", "password": password }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sessions_after = http.get("/v1/sessions", Some(&token2)).await.body["sessions"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        sessions_before, sessions_after,
        "stepping up made a session"
    );
    for bad in ["123", "1234", "0000", "12a4"] {
        let r = put(&http, "/v1/account/pin", &token2, json!({ "pin": bad })).await;
        assert_eq!(r.status, 400, "{bad}");
    }
    assert_eq!(
        put(&http, "/v1/account/pin", &token2, json!({ "pin": "2580" }))
            .await
            .status,
        204
    );

    // PIN: a hard limit of wrong tries locks it until another method is proven.
    let pin_login = |pin: &'static str| {
        let http = &http;
        let email = email.clone();
        async move {
            http.post(
                "/v1/auth/pin/login",
                None,
                json!({ "email": email, "pin": pin }),
            )
            .await
        }
    };
    assert_eq!(pin_login("2580").await.status, 200);
    for i in 1..=5 {
        let r = pin_login("1357").await;
        assert_eq!(r.body["code"], "invalid_credentials", "try {i}: {}", r.body);
    }
    // Locked: the right PIN fails too, and a stranger cannot tell locked from wrong (that
    // would reveal the account); the owner sees it, and step-up says so.
    let r = pin_login("2580").await;
    assert_eq!(
        r.body["code"], "invalid_credentials",
        "the right PIN does not unlock it"
    );
    assert_eq!(
        http.get("/v1/account", Some(&token2)).await.body["pin_locked"],
        true
    );
    let r = http
        .post(
            "/v1/auth/step-up",
            Some(&token2),
            json!({ "method": "pin", "pin": "2580" }),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("credential_locked"))
    );
    let _ = http.login(&server, &email).await; // another method unlocks it
    assert_eq!(pin_login("2580").await.status, 200);

    // TOTP, verified with pyotp: enrol, confirm, then a second factor at every login.
    let token3 = http.login(&server, &email).await;
    let enrol = http
        .post("/v1/account/totp", Some(&token3), json!({}))
        .await;
    assert_eq!(enrol.status, 200, "{}", enrol.body);
    let uri = enrol.body["otpauth_uri"].as_str().unwrap().to_owned();
    assert!(uri.starts_with("otpauth://totp/Tandem:"), "{uri}");
    assert_eq!(pyotp.describe(&uri), format!("Tandem {email} 6 30"));
    let r = http
        .post(
            "/v1/account/totp/confirm",
            Some(&token3),
            json!({ "code": "000000" }),
        )
        .await;
    assert_eq!(r.body["code"], "invalid_credentials");
    let r = http
        .post(
            "/v1/account/totp/confirm",
            Some(&token3),
            json!({ "code": pyotp.code_at(&uri, now) }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let recovery: Vec<String> = r.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    assert_eq!(
        http.get("/v1/account", Some(&token3)).await.body["totp"],
        true
    );

    let first = login(email.clone(), password.into()).await;
    assert_eq!(
        (first.status, first.body["code"].as_str()),
        (401, Some("second_factor_required")),
        "{}",
        first.body
    );
    assert_eq!(first.body["methods"], json!(["totp", "recovery_code"]));
    // Every first factor asks for it (security bar A14): PIN here, email below.
    assert_eq!(
        pin_login("2580").await.body["code"],
        "second_factor_required"
    );
    let ticket = first.body["login_ticket"].as_str().unwrap().to_owned();
    let second = |ticket: String, proof: serde_json::Value| {
        let http = &http;
        async move {
            http.post(
                "/v1/auth/second-factor",
                None,
                json!({ "login_ticket": ticket, "proof": proof }),
            )
            .await
        }
    };
    // The code that confirmed the key is spent for its step.
    let spent = second(
        ticket.clone(),
        json!({ "method": "totp", "code": pyotp.code_at(&uri, now) }),
    )
    .await;
    assert_eq!(spent.body["code"], "invalid_credentials", "{}", spent.body);
    now += 30_000;
    server.set_time(now);
    let code = pyotp.code_at(&uri, now);
    let ok = second(ticket.clone(), json!({ "method": "totp", "code": code })).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let replay = second(ticket, json!({ "method": "totp", "code": code })).await;
    assert_eq!(replay.status, 401, "a ticket works once");
    // Bar K5: with TOTP on, a Backup Kit or an export needs a recent TOTP code, not just any
    // recent method (issue 13).
    let tok = ok.body["token"].as_str().unwrap().to_owned();
    now += 6 * MIN;
    server.set_time(now);
    let r = http
        .post(
            "/v1/auth/step-up",
            Some(&tok),
            json!({ "method": "password", "password": password }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for route in ["backup-kit", "export"] {
        let r = http
            .post(
                &format!("/v1/wallets/w_none/{route}"),
                Some(&tok),
                json!({ "public_key": hex::encode([9u8; 32]) }),
            )
            .await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (403, Some("step_up_required")),
            "{route}: {}",
            r.body
        );
        assert_eq!(r.body["methods"], json!(["totp", "recovery_code"]));
    }
    now += 30_000;
    server.set_time(now);
    let r = http
        .post(
            "/v1/auth/step-up",
            Some(&tok),
            json!({ "method": "totp", "code": pyotp.code_at(&uri, now) }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = http
        .post("/v1/wallets/w_none/backup-kit", Some(&tok), json!({}))
        .await;
    assert_eq!(r.body["code"], "recovery_not_set_up", "{}", r.body);
    // Email logins need the second factor too; a recovery code works once.
    let start = http
        .post("/v1/auth/email/start", None, json!({ "email": email }))
        .await;
    let r = http
        .post(
            "/v1/auth/email/verify",
            None,
            json!({ "attempt_id": start.body["attempt_id"], "code": server.login_code(&email) }),
        )
        .await;
    assert_eq!(r.body["code"], "second_factor_required");
    let ticket = r.body["login_ticket"].as_str().unwrap().to_owned();
    let r = second(
        ticket.clone(),
        json!({ "method": "recovery_code", "code": recovery[0] }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token4 = r.body["token"].as_str().unwrap().to_owned();
    let again = login(email.clone(), password.into()).await;
    let ticket = again.body["login_ticket"].as_str().unwrap().to_owned();
    let r = second(
        ticket,
        json!({ "method": "recovery_code", "code": recovery[0] }),
    )
    .await;
    assert_eq!(
        r.body["code"], "invalid_credentials",
        "a recovery code works once"
    );
    assert_eq!(
        http.get("/v1/account", Some(&token4)).await.body["recovery_codes_left"],
        9
    );

    // Linking: an address of another account is refused, a new one is linked; the last
    // identity cannot be removed.
    let other = unique_email("other");
    let _ = http.login(&server, &other).await;
    let link = |addr: String| {
        let http = &http;
        let server = &server;
        let token4 = token4.clone();
        async move {
            let s = http
                .post(
                    "/v1/account/email/start",
                    Some(&token4),
                    json!({ "email": addr }),
                )
                .await;
            assert_eq!(s.status, 200, "{}", s.body);
            http.post(
                "/v1/account/email/verify",
                Some(&token4),
                json!({ "attempt_id": s.body["attempt_id"], "code": server.login_code(&addr) }),
            )
            .await
        }
    };
    let r = link(other.clone()).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (409, Some("identity_in_use")),
        "{}",
        r.body
    );
    let second_address = unique_email("second");
    let r = link(second_address.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let acct = http.get("/v1/account", Some(&token4)).await;
    let ids: Vec<(String, String)> = acct.body["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                i["subject"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(ids.len(), 2);
    let first_id = &ids.iter().find(|(_, s)| *s == email).unwrap().0;
    let second_id = &ids.iter().find(|(_, s)| *s == second_address).unwrap().0;
    assert_eq!(
        delete(
            &http,
            &format!("/v1/account/identities/{first_id}"),
            &token4
        )
        .await
        .status,
        204
    );
    assert!(
        notices(&server, &email)
            .iter()
            .any(|n| n.contains("removed")),
        "the removed address is told"
    );
    let r = delete(
        &http,
        &format!("/v1/account/identities/{second_id}"),
        &token4,
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (409, Some("last_method"))
    );
    // The removed address no longer leads to this account.
    let fresh = login(email.clone(), password.into()).await;
    assert_eq!(fresh.body["code"], "invalid_credentials");

    // Nothing secret in the log.
    let log = server.log();
    // (PINs and TOTP codes are digits that timestamps and ports may contain by chance.)
    for secret in [password, recovery[1].as_str(), recovery[2].as_str()] {
        assert!(!log.contains(secret), "the log holds a secret");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn passwords_pins_totp_step_up_and_linking() {
    each_backend(account_methods).await;
}

/// The same methods through the CLI: `tandem account password set`, `tandem login
/// --password`, `tandem account show`, and a step-up asked for on standard input.
async fn account_cli(backend: Backend) {
    let server = Server::start(&backend);
    server.set_time(T0);
    let email = unique_email("cli");
    let first = common::Cli::new(&server);
    first.login(&server, &email);
    let password = "a passphrase long enough for one factor";
    let out = first.run_stdin(
        &["--json", "account", "password", "set"],
        &format!("{password}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let second = common::Cli::new(&server);
    let wrong = second.run_stdin(
        &["login", "--email", &email, "--password"],
        "not the password at all\n",
    );
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("invalid_credentials"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    let out = second.run_stdin(
        &["--json", "login", "--email", &email, "--password"],
        &format!("{password}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = second.json(&["account", "show"]);
    assert_eq!(shown["password"], true);
    assert_eq!(shown["session_methods"][0]["method"], "password");

    // Six minutes on, removing the password asks for a step-up; the password is read from
    // standard input, then the removal goes through.
    server.set_time(T0 + 6 * MIN);
    let out = second.run_stdin(
        &["--json", "account", "pin", "set"],
        &format!("2580\n{password}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("recent sign-in"));
    assert_eq!(second.json(&["account", "show"])["pin"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn account_methods_through_the_cli() {
    each_backend(account_cli).await;
}

// SMS one-time codes (issue 12): login, linking, step-up and throttles, through the
// development SMS outbox.

/// A UK mobile number no other run uses (07400 is a mobile range libphonenumber knows).
fn unique_phone() -> String {
    let mut b = [0u8; 4];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").unwrap(), &mut b).unwrap();
    format!("+447400{:06}", u32::from_le_bytes(b) % 1_000_000)
}

/// The newest code the development SMS outbox holds for `phone`.
fn sms_code(server: &Server, phone: &str) -> String {
    let text = std::fs::read_to_string(server.data_dir.join("dev-sms-outbox.jsonl"))
        .expect("the SMS outbox");
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .rfind(|v| v["to"].as_str() == Some(phone) && v["code"].is_string())
        .and_then(|v| v["code"].as_str().map(str::to_owned))
        .expect("a code for the number")
}

/// `POST /v1/auth/sms/start` as `client` (behind the trusted loopback proxy).
async fn sms_start_as(server: &Server, phone: &str, client: &str) -> common::http::Reply {
    let resp = server
        .http()
        .post(format!("{}/v1/auth/sms/start", server.url))
        .header("x-forwarded-for", client)
        .json(&json!({ "phone": phone }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(serde_json::Value::Null);
    common::http::Reply { status, body }
}

async fn sms_login(server: &Server, http: &Http, phone: &str) -> common::http::Reply {
    let started = http
        .post("/v1/auth/sms/start", None, json!({ "phone": phone }))
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let code = sms_code(server, phone);
    http.post(
        "/v1/auth/sms/verify",
        None,
        json!({ "attempt_id": started.body["attempt_id"], "code": code }),
    )
    .await
}

async fn sms_flows(backend: Backend) {
    let server = Server::start_with(
        &backend,
        env(&[
            ("TANDEM_SMS__ENABLED", "true"),
            ("TANDEM_TRUSTED_PROXIES", "127.0.0.1"),
        ]),
    );
    server.set_time(T0);
    let http = Http::new(&server);

    // Validation: national form and garbage are `invalid_phone` on `phone`.
    for bad in ["07400 123456", "12345", "+44 909 879 0000"] {
        let r = http
            .post("/v1/auth/sms/start", None, json!({ "phone": bad }))
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.body["code"], "invalid_phone");
        assert_eq!(r.body["field"], "phone");
    }

    // First login by SMS creates the account; the number is its identity, in E.164.
    let alice_phone = unique_phone();
    let spaced = format!(
        "{} {} {}",
        &alice_phone[..3],
        &alice_phone[3..7],
        &alice_phone[7..]
    );
    let started = http
        .post("/v1/auth/sms/start", None, json!({ "phone": spaced }))
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert_eq!(started.body["expires_at"], T0 + 5 * MIN);
    let attempt = started.body["attempt_id"].as_str().unwrap().to_owned();
    let code = sms_code(&server, &alice_phone);
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let r = http
        .post(
            "/v1/auth/sms/verify",
            None,
            json!({ "attempt_id": attempt, "code": wrong }),
        )
        .await;
    assert_eq!(r.body["code"], "code_invalid", "{}", r.body);
    let login = http
        .post(
            "/v1/auth/sms/verify",
            None,
            json!({ "attempt_id": attempt, "code": code }),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    let alice = login.body["token"].as_str().unwrap().to_owned();
    let alice_id = login.body["user"]["id"].as_str().unwrap().to_owned();
    let again = http
        .post(
            "/v1/auth/sms/verify",
            None,
            json!({ "attempt_id": attempt, "code": code }),
        )
        .await;
    assert_eq!(again.status, 400, "a code works once");
    let me = http.get("/v1/account", Some(&alice)).await;
    assert_eq!(me.body["identities"][0]["kind"], "phone");
    assert_eq!(me.body["identities"][0]["subject"], alice_phone.as_str());
    assert_eq!(me.body["session_methods"][0]["method"], "sms_otp");
    // A second login by the same number finds the same account.
    let second = sms_login(&server, &http, &alice_phone).await;
    assert_eq!(second.body["user"]["id"], alice_id.as_str());

    // The answer to `start` is the same for a number without an account.
    let unknown = http
        .post(
            "/v1/auth/sms/start",
            None,
            json!({ "phone": unique_phone() }),
        )
        .await;
    let known = http
        .post("/v1/auth/sms/start", None, json!({ "phone": alice_phone }))
        .await;
    assert_eq!(unknown.status, known.status);
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&unknown.body), keys(&known.body));
    assert_eq!(unknown.body["expires_at"], known.body["expires_at"]);

    // An expired code: 5 minutes is the SMS default.
    server.set_time(T0 + 5 * MIN);
    let r = http
        .post(
            "/v1/auth/sms/verify",
            None,
            json!({ "attempt_id": known.body["attempt_id"], "code": sms_code(&server, &alice_phone) }),
        )
        .await;
    assert_eq!(r.body["code"], "code_expired", "{}", r.body);

    // An email account links a number (with a recent sign-in), then signs in by it.
    server.set_time(T0 + 10 * MIN);
    let bob_email = unique_email("sms-link");
    let bob = http.login(&server, &bob_email).await;
    let bob_phone = unique_phone();
    let started = http
        .post(
            "/v1/account/phone/start",
            Some(&bob),
            json!({ "phone": bob_phone }),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let linked = http
        .post(
            "/v1/account/phone/verify",
            Some(&bob),
            json!({ "attempt_id": started.body["attempt_id"], "code": sms_code(&server, &bob_phone) }),
        )
        .await;
    assert_eq!(linked.status, 200, "{}", linked.body);
    assert_eq!(linked.body["kind"], "phone");
    assert_eq!(linked.body["subject"], bob_phone.as_str());
    let phone_identity = linked.body["id"].as_str().unwrap().to_owned();
    let bob_id = http.get("/v1/account", Some(&bob)).await.body["user_id"].clone();
    let by_sms = sms_login(&server, &http, &bob_phone).await;
    assert_eq!(by_sms.status, 200, "{}", by_sms.body);
    assert_eq!(by_sms.body["user"]["id"], bob_id);
    assert_eq!(by_sms.body["user"]["email"], bob_email.as_str());

    // Alice's number cannot be linked to Bob's account.
    let started = http
        .post(
            "/v1/account/phone/start",
            Some(&bob),
            json!({ "phone": alice_phone }),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let refused = http
        .post(
            "/v1/account/phone/verify",
            Some(&bob),
            json!({ "attempt_id": started.body["attempt_id"], "code": sms_code(&server, &alice_phone) }),
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.body["code"], "identity_in_use");
    let me = http.get("/v1/account", Some(&alice)).await;
    assert_eq!(
        me.body["user_id"],
        alice_id.as_str(),
        "Alice keeps her number"
    );

    // Six minutes on, unlinking needs a step-up; an SMS code to Bob's number gives it.
    server.set_time(T0 + 16 * MIN);
    let path = format!("/v1/account/identities/{phone_identity}");
    let r = http
        .send(reqwest::Method::DELETE, &path, Some(&bob), None)
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body["methods"]
            .as_array()
            .unwrap()
            .contains(&json!("sms_otp")),
        "{}",
        r.body
    );
    // A code sent to someone else's number is no proof for Bob.
    let other = http
        .post("/v1/auth/sms/start", None, json!({ "phone": alice_phone }))
        .await;
    let r = http
        .post(
            "/v1/auth/step-up",
            Some(&bob),
            json!({ "method": "sms_otp", "attempt_id": other.body["attempt_id"], "code": sms_code(&server, &alice_phone) }),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    let started = http
        .post("/v1/auth/sms/start", None, json!({ "phone": bob_phone }))
        .await;
    let r = http
        .post(
            "/v1/auth/step-up",
            Some(&bob),
            json!({ "method": "sms_otp", "attempt_id": started.body["attempt_id"], "code": sms_code(&server, &bob_phone) }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = http
        .send(reqwest::Method::DELETE, &path, Some(&bob), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = sms_login(&server, &http, &bob_phone).await;
    assert_ne!(
        r.body["user"]["id"], bob_id,
        "the number left Bob's account"
    );

    // Throttles (bar A5). The 6th code to one number within 10 minutes from one client is
    // refused; another client can still have one sent (no lock-out).
    server.set_time(T0 + 30 * MIN);
    let pumped = unique_phone();
    for i in 0..5 {
        let r = sms_start_as(&server, &pumped, "203.0.113.1").await;
        assert_eq!(r.status, 200, "send {i}: {}", r.body);
    }
    let r = sms_start_as(&server, &pumped, "203.0.113.1").await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.body["code"], "rate_limited");
    assert_eq!(
        sms_start_as(&server, &pumped, "203.0.113.2").await.status,
        200
    );
    // Many numbers from one client: throttled after 20 in an hour.
    let mut refused_at = None;
    for i in 0..25 {
        let r = sms_start_as(&server, &unique_phone(), "198.51.100.7").await;
        if r.status == 429 {
            refused_at = Some(i);
            break;
        }
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(refused_at, Some(20));
    // ... and that client's budget is its own.
    assert_eq!(
        sms_start_as(&server, &unique_phone(), "198.51.100.8")
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sms_login_linking_step_up_and_throttles() {
    each_backend(sms_flows).await;
}

/// The SMPP sender against a real SMSC (the npm `smpp` package on loopback): the code
/// arrives in a `submit_sm` to the number in international form, and logs in; a wrong
/// gateway password is `502 delivery_failed` and stores nothing.
#[tokio::test(flavor = "multi_thread")]
async fn sms_login_through_a_real_smpp_gateway() {
    let Some(smsc) = common::smpp_peer::SmppPeer::start("tandem", "s3cret") else {
        return;
    };
    let port = smsc.port.to_string();
    let smpp_env = |password: &'static str| {
        env(&[
            ("TANDEM_SMS__ENABLED", "true"),
            ("TANDEM_SMS__MODE", "smpp"),
            ("TANDEM_SMS__SMPP__HOST", "127.0.0.1"),
            ("TANDEM_SMS__SMPP__PORT", &port),
            ("TANDEM_SMS__SMPP__SYSTEM_ID", "tandem"),
            ("TANDEM_SMS__SMPP__PASSWORD", password),
            ("TANDEM_SMS__SMPP__SOURCE_ADDR", "Tandem"),
        ])
    };
    let server = Server::start_with(&Backend::Sqlite, smpp_env("s3cret"));
    server.set_time(T0);
    let http = Http::new(&server);
    let phone = unique_phone();
    let started = http
        .post("/v1/auth/sms/start", None, json!({ "phone": phone }))
        .await;
    assert_eq!(started.status, 200, "{}\n{}", started.body, server.log());
    let submits: Vec<_> = smsc
        .events()
        .into_iter()
        .filter(|e| e["event"] == "submit_sm")
        .collect();
    assert_eq!(submits.len(), 1, "{submits:?}");
    let sm = &submits[0];
    assert_eq!(sm["destination_addr"], &phone[1..]);
    assert_eq!(sm["dest_addr_ton"], 1, "international");
    assert_eq!(sm["dest_addr_npi"], 1, "ISDN (E.164)");
    assert_eq!(sm["source_addr"], "Tandem");
    let text = sm["short_message"].as_str().unwrap();
    let code: String = text
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no code in {text:?}"))
        .to_owned();
    let login = http
        .post(
            "/v1/auth/sms/verify",
            None,
            json!({ "attempt_id": started.body["attempt_id"], "code": code }),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(
        !server.log().contains("s3cret"),
        "the log holds the password"
    );
    drop(server);

    let server = Server::start_with(&Backend::Sqlite, smpp_env("wrong"));
    server.set_time(T0);
    let http = Http::new(&server);
    let r = http
        .post("/v1/auth/sms/start", None, json!({ "phone": phone }))
        .await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(r.body["code"], "delivery_failed");
    // The peer logs its events from its own process: give the line a moment to land.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !smsc.events().iter().any(|e| e["event"] == "bind_refused")
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        smsc.events().iter().any(|e| e["event"] == "bind_refused"),
        "the SMSC saw the bind"
    );
    // Nothing was counted: the pair budget (5 per 10 minutes) is still whole.
    for _ in 0..5 {
        let r = http
            .post("/v1/auth/sms/start", None, json!({ "phone": phone }))
            .await;
        assert_eq!(r.status, 502, "{}", r.body);
    }
}

// Social sign-in (issue 12) against a real OpenID provider (npm `oidc-provider`) on loopback.

fn system_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// A social flow up to the client's redirect: the URL the browser reached, the verifier and
/// the state the client chose.
struct Flow {
    back: String,
    verifier: String,
    state: String,
}

async fn social_flow(
    http: &Http,
    token: Option<&str>,
    provider: &str,
    login: &str,
    redirect: &str,
    browser: &mut common::oidc_peer::Browser,
) -> Flow {
    let (verifier, challenge) = common::oidc_peer::pkce();
    let state = format!("st-{}", unique_email("s"));
    let path = if token.is_some() {
        "/v1/account/social/start"
    } else {
        "/v1/auth/social/start"
    };
    let r = http
        .post(
            path,
            token,
            json!({ "provider": provider, "redirect_uri": redirect,
                    "code_challenge": challenge, "state": state }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let url = r.body["authorization_url"].as_str().unwrap();
    let back = browser.sign_in(url, login, redirect).await;
    Flow {
        back,
        verifier,
        state,
    }
}

async fn social_finish(http: &Http, token: Option<&str>, flow: &Flow) -> common::http::Reply {
    use common::oidc_peer::param;
    assert_eq!(
        param(&flow.back, "state"),
        Some(flow.state.clone()),
        "{}",
        flow.back
    );
    let code = param(&flow.back, "code").unwrap_or_else(|| panic!("no code in {}", flow.back));
    let path = if token.is_some() {
        "/v1/account/social/finish"
    } else {
        "/v1/auth/social/finish"
    };
    http.post(
        path,
        token,
        json!({ "code": code, "code_verifier": flow.verifier }),
    )
    .await
}

async fn social_login(
    http: &Http,
    provider: &str,
    login: &str,
    redirect: &str,
) -> common::http::Reply {
    let mut browser = common::oidc_peer::Browser::new();
    let flow = social_flow(http, None, provider, login, redirect, &mut browser).await;
    social_finish(http, None, &flow).await
}

/// Runs a CLI command that signs in through the browser: reads the URL it prints and where
/// it waits, signs in at the provider as `login`, delivers the redirect, and returns the
/// command's JSON output.
async fn cli_browser_flow(
    cli: &common::Cli,
    args: &[&str],
    login: &str,
    issuer: &str,
) -> serde_json::Value {
    let mut child = cli.spawn(args);
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let (mut open, mut waiting) = (None, None);
    while open.is_none() || waiting.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the CLI prints the URL and where it waits");
        let line = line.trim().to_owned();
        if line.starts_with(issuer) {
            open = Some(line.clone());
        }
        if let Some(w) = line.strip_prefix("Waiting for the browser at ") {
            waiting = Some(w.to_owned());
        }
    }
    let mut browser = common::oidc_peer::Browser::new();
    let back = browser
        .sign_in(&open.unwrap(), login, &waiting.unwrap())
        .await;
    let page = reqwest::get(&back).await.unwrap();
    assert!(page.status().is_success());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "tandem {args:?}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn social_flows(backend: Backend) {
    use common::oidc_peer::{Browser, OidcPeer, param};
    let port = common::free_port();
    let callback = format!("http://127.0.0.1:{port}/v1/auth/social/callback");
    let Some(op) = OidcPeer::start(&callback) else {
        return;
    };
    let issuer = op.issuer();
    let (auth, token_url, me) = (
        format!("{issuer}/auth"),
        format!("{issuer}/token"),
        format!("{issuer}/me"),
    );
    let opts = env(&[
        ("TANDEM_SOCIAL__CALLBACK_URL", callback.as_str()),
        ("TANDEM_SOCIAL__OIDC__ENABLED", "true"),
        ("TANDEM_SOCIAL__OIDC__ISSUER", issuer.as_str()),
        ("TANDEM_SOCIAL__OIDC__CLIENT_ID", "tandem-oidc"),
        ("TANDEM_SOCIAL__OIDC__CLIENT_SECRET", "oidc-secret"),
        // The Google preset pointed at the same provider, with form_post (as Apple uses).
        ("TANDEM_SOCIAL__GOOGLE__ENABLED", "true"),
        ("TANDEM_SOCIAL__GOOGLE__ISSUER", issuer.as_str()),
        ("TANDEM_SOCIAL__GOOGLE__CLIENT_ID", "tandem-google"),
        ("TANDEM_SOCIAL__GOOGLE__CLIENT_SECRET", "google-secret"),
        ("TANDEM_SOCIAL__GOOGLE__FORM_POST", "true"),
        ("TANDEM_SOCIAL__DISCORD__ENABLED", "true"),
        ("TANDEM_SOCIAL__DISCORD__CLIENT_ID", "tandem-discord"),
        ("TANDEM_SOCIAL__DISCORD__CLIENT_SECRET", "discord-secret"),
        ("TANDEM_SOCIAL__DISCORD__AUTHORIZATION_URL", auth.as_str()),
        ("TANDEM_SOCIAL__DISCORD__TOKEN_URL", token_url.as_str()),
        ("TANDEM_SOCIAL__DISCORD__USER_URL", me.as_str()),
        ("TANDEM_SOCIAL__DISCORD__USER_ID_FIELD", "sub"),
        ("TANDEM_SOCIAL__DISCORD__SCOPES", "openid"),
    ]);
    let server = Server::start_on(&backend, &format!("127.0.0.1:{port}"), opts.clone());
    // The provider's tokens carry real times: the server's clock starts at the real time.
    let now = system_ms();
    server.set_time(now);
    let http = Http::new(&server);
    let redirect = format!("http://127.0.0.1:{}/done", common::free_port());
    let alice = format!("alice-{}", unique_email("a"));

    // A first sign-in creates the account; the identity is the issuer and the subject.
    let mut browser = Browser::new();
    let flow = social_flow(&http, None, "oidc", &alice, &redirect, &mut browser).await;
    let first = social_finish(&http, None, &flow).await;
    assert_eq!(first.status, 200, "{}\n{}", first.body, server.log());
    let alice_token = first.body["token"].as_str().unwrap().to_owned();
    let alice_id = first.body["user"]["id"].clone();
    let account = http.get("/v1/account", Some(&alice_token)).await.body;
    assert_eq!(account["identities"][0]["kind"], "social", "{account}");
    assert_eq!(
        account["identities"][0]["subject"],
        format!("{issuer} {alice}")
    );
    assert_eq!(account["session_methods"][0]["method"], "social");

    // The one-time code works once; the provider's callback works once.
    let again = social_finish(&http, None, &flow).await;
    assert_eq!(
        (again.status, again.body["code"].as_str()),
        (400, Some("code_invalid"))
    );
    let callback_hit = browser
        .visited
        .iter()
        .find(|u| u.starts_with(&callback))
        .unwrap()
        .clone();
    let path = callback_hit.trim_start_matches(&server.url);
    let replay = http.get(path, None).await;
    assert_eq!(
        (replay.status, replay.body["code"].as_str()),
        (400, Some("social_failed"))
    );
    let missing = http.get("/v1/auth/social/callback?code=abc", None).await;
    assert_eq!(
        (missing.status, missing.body["code"].as_str()),
        (400, Some("social_failed"))
    );

    // A second sign-in (a fresh browser) lands on the same account.
    let second = social_login(&http, "oidc", &alice, &redirect).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.body["user"]["id"], alice_id);

    // A verifier other than the one whose challenge started the flow: refused, code spent.
    let mut browser = Browser::new();
    let mut flow = social_flow(&http, None, "oidc", &alice, &redirect, &mut browser).await;
    let right = std::mem::replace(&mut flow.verifier, common::oidc_peer::pkce().0);
    let wrong = social_finish(&http, None, &flow).await;
    assert_eq!(
        (wrong.status, wrong.body["code"].as_str()),
        (400, Some("code_invalid"))
    );
    flow.verifier = right;
    assert_eq!(social_finish(&http, None, &flow).await.status, 400);

    // ID tokens that fail one check each, signed by the provider's own key (but `tamper`):
    // the browser comes back with `error=social_failed` and the client's state, no code.
    for mode in ["tamper", "wrong_aud", "wrong_nonce", "wrong_iss"] {
        op.set_mode(mode).await;
        let mut browser = Browser::new();
        let flow = social_flow(&http, None, "oidc", &alice, &redirect, &mut browser).await;
        assert_eq!(
            param(&flow.back, "error").as_deref(),
            Some("social_failed"),
            "{mode}: {}",
            flow.back
        );
        assert_eq!(param(&flow.back, "state"), Some(flow.state.clone()));
        assert_eq!(param(&flow.back, "code"), None);
    }
    op.set_mode("normal").await;
    // Expired: the provider's token lives an hour; two hours later on the server's clock.
    server.set_time(now + 120 * MIN);
    let mut browser = Browser::new();
    let flow = social_flow(&http, None, "oidc", &alice, &redirect, &mut browser).await;
    assert_eq!(
        param(&flow.back, "error").as_deref(),
        Some("social_failed"),
        "{}",
        flow.back
    );
    server.set_time(now);
    // The log is read from the server's stderr by another thread: give it a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let refused: Vec<String> = server
            .log()
            .lines()
            .filter(|l| l.contains("ID token refused"))
            .map(str::to_owned)
            .collect();
        if refused.len() >= 5 || Instant::now() > deadline {
            break refused;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Each refused for its own reason (openidconnect's wording), not for a neighbour's.
    assert_eq!(refused.len(), 5, "{refused:?}");
    for (line, why) in refused.iter().zip([
        "Signature verification failed",
        "Invalid audiences",
        "Invalid nonce",
        "Invalid issuer",
        "Expired",
    ]) {
        assert!(line.contains(why), "{line} (expected {why})");
    }

    // Start refuses what is not a loopback or listed redirect, and providers not enabled.
    let (_, challenge) = common::oidc_peer::pkce();
    let bad = http
        .post(
            "/v1/auth/social/start",
            None,
            json!({ "provider": "oidc", "redirect_uri": "https://evil.example/cb",
                    "code_challenge": challenge, "state": "s" }),
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["field"].as_str()),
        (400, Some("redirect_uri"))
    );
    let off = http
        .post(
            "/v1/auth/social/start",
            None,
            json!({ "provider": "facebook", "redirect_uri": redirect,
                    "code_challenge": challenge, "state": "s" }),
        )
        .await;
    assert_eq!(
        (off.status, off.body["code"].as_str()),
        (404, Some("not_found"))
    );

    // form_post: the provider's page POSTs the code to the callback. Same issuer and subject
    // as through `oidc`: the same identity, so the same account.
    let mut browser = Browser::new();
    let flow = social_flow(&http, None, "google", &alice, &redirect, &mut browser).await;
    assert!(
        browser.visited.contains(&callback),
        "posted to the callback, no query: {:?}",
        browser.visited
    );
    let g = social_finish(&http, None, &flow).await;
    assert_eq!(g.status, 200, "{}\n{}", g.body, server.log());
    assert_eq!(g.body["user"]["id"], alice_id);

    // An OAuth 2.0 preset (discord) pointed at the provider: the user endpoint names the user.
    let d = social_login(&http, "discord", &alice, &redirect).await;
    assert_eq!(d.status, 200, "{}\n{}", d.body, server.log());
    let account = http
        .get("/v1/account", Some(d.body["token"].as_str().unwrap()))
        .await
        .body;
    assert_eq!(
        account["identities"][0]["subject"],
        format!("https://discord.com {alice}")
    );
    assert_ne!(d.body["user"]["id"], alice_id, "no merge across providers");

    // Linking to a signed-in account (email), then signing in with it lands there.
    let email = unique_email("social");
    let email_token = http.login(&server, &email).await;
    let bob = format!("bob-{}", unique_email("b"));
    let before = notices(&server, &email).len();
    let mut browser = Browser::new();
    let flow = social_flow(
        &http,
        Some(&email_token),
        "oidc",
        &bob,
        &redirect,
        &mut browser,
    )
    .await;
    let linked = social_finish(&http, Some(&email_token), &flow).await;
    assert_eq!(linked.status, 200, "{}", linked.body);
    assert_eq!(linked.body["kind"], "social");
    assert_eq!(notices(&server, &email).len(), before + 1);
    let bob_login = social_login(&http, "oidc", &bob, &redirect).await;
    assert_eq!(bob_login.status, 200, "{}", bob_login.body);
    let email_user = http.get("/v1/account", Some(&email_token)).await.body["user_id"].clone();
    assert_eq!(bob_login.body["user"]["id"], email_user);
    // Alice's identity belongs to her account: linking it elsewhere is refused.
    let mut browser = Browser::new();
    let flow = social_flow(
        &http,
        Some(&email_token),
        "oidc",
        &alice,
        &redirect,
        &mut browser,
    )
    .await;
    let taken = social_finish(&http, Some(&email_token), &flow).await;
    assert_eq!(
        (taken.status, taken.body["code"].as_str()),
        (409, Some("identity_in_use"))
    );
    // Unlinking: fine with the address left, refused for Alice's only identity.
    let id = linked.body["id"].as_str().unwrap();
    assert_eq!(
        delete(&http, &format!("/v1/account/identities/{id}"), &email_token)
            .await
            .status,
        204
    );
    let alice_identity =
        http.get("/v1/account", Some(&alice_token)).await.body["identities"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let last = delete(
        &http,
        &format!("/v1/account/identities/{alice_identity}"),
        &alice_token,
    )
    .await;
    assert_eq!(
        (last.status, last.body["code"].as_str()),
        (409, Some("last_method"))
    );

    // The CLI: `tandem login --social oidc --no-browser` prints the URL and waits on
    // 127.0.0.1 until the browser's redirect reaches it, then finishes the login.
    let carol = format!("carol-{}", unique_email("c"));
    let cli = common::Cli::new(&server);
    let shown = cli_browser_flow(
        &cli,
        &["--json", "login", "--social", "oidc", "--no-browser"],
        &carol,
        &issuer,
    )
    .await;
    assert!(shown["user"]["id"].is_string(), "{shown}");
    // And `tandem account link-social` adds a provider to the signed-in account.
    let linked = cli_browser_flow(
        &cli,
        &[
            "--json",
            "account",
            "link-social",
            "discord",
            "--no-browser",
        ],
        &carol,
        &issuer,
    )
    .await;
    assert_eq!(
        linked["subject"],
        format!("https://discord.com {carol}"),
        "{linked}"
    );
    let account = cli.json(&["account", "show"]);
    let mut subjects: Vec<&str> = account["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["subject"].as_str().unwrap())
        .collect();
    subjects.sort_unstable();
    assert_eq!(
        subjects,
        [
            format!("{issuer} {carol}"),
            format!("https://discord.com {carol}")
        ],
        "{account}"
    );

    // TOTP after a social first factor: the second factor is asked for, then the session
    // records both methods.
    if let Some(pyotp) = common::pyotp::PyOtp::find() {
        let enrol = http
            .post("/v1/account/totp", Some(&alice_token), json!({}))
            .await;
        assert_eq!(enrol.status, 200, "{}", enrol.body);
        let uri = enrol.body["otpauth_uri"].as_str().unwrap().to_owned();
        let r = http
            .post(
                "/v1/account/totp/confirm",
                Some(&alice_token),
                json!({ "code": pyotp.code_at(&uri, now) }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        server.set_time(now + MIN);
        let first = social_login(&http, "oidc", &alice, &redirect).await;
        assert_eq!(
            (first.status, first.body["code"].as_str()),
            (401, Some("second_factor_required")),
            "{}",
            first.body
        );
        let done = http
            .post(
                "/v1/auth/second-factor",
                None,
                json!({ "login_ticket": first.body["login_ticket"],
                        "proof": { "method": "totp", "code": pyotp.code_at(&uri, now + MIN) } }),
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
        assert_eq!(done.body["user"]["id"], alice_id);
        let methods = http
            .get("/v1/account", Some(done.body["token"].as_str().unwrap()))
            .await
            .body["session_methods"]
            .clone();
        let names: Vec<&str> = methods
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["method"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"social") && names.contains(&"totp"),
            "{names:?}"
        );
    }

    // Linking needs a recent sign-in.
    server.set_time(now + 10 * MIN);
    let (_, challenge) = common::oidc_peer::pkce();
    let stale = http
        .post(
            "/v1/account/social/start",
            Some(&email_token),
            json!({ "provider": "oidc", "redirect_uri": redirect,
                    "code_challenge": challenge, "state": "s" }),
        )
        .await;
    assert_eq!(
        (stale.status, stale.body["code"].as_str()),
        (403, Some("step_up_required"))
    );

    // No secret reached the log.
    let log = server.log();
    for secret in [
        "oidc-secret",
        "google-secret",
        "discord-secret",
        alice_token.as_str(),
        "tds_",
    ] {
        assert!(!log.contains(secret), "the log holds {secret}");
    }

    // With `social.create_accounts = false`, only identities some account holds sign in:
    // Carol's does; Bob's was unlinked above, and Dave's was never seen.
    let mut opts = opts;
    opts.env
        .push(("TANDEM_SOCIAL__CREATE_ACCOUNTS".into(), "false".into()));
    let server = server.restart_with(&backend, opts);
    let http = Http::new(&server);
    let c = social_login(&http, "oidc", &carol, &redirect).await;
    assert_eq!(c.status, 200, "{}", c.body);
    for stranger in [bob.clone(), format!("dave-{}", unique_email("d"))] {
        let r = social_login(&http, "oidc", &stranger, &redirect).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (401, Some("invalid_credentials")),
            "{}",
            r.body
        );
    }
    println!("social sign-in on {}: every case checked", backend.name());
}

#[tokio::test(flavor = "multi_thread")]
async fn social_sign_in_against_a_real_openid_provider() {
    each_backend(social_flows).await;
}
