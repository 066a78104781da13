//! Email codes and sessions against the real binary, with the server's injected clock
//! driven through its clock file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http::Http;
use common::server::T0;
use common::{Backend, Server, each_backend, unique_email};
use serde_json::json;

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
