//! Bad input never causes a 500 or a write: malformed JSON, hex, RLP, transactions, typed
//! data and digests get 400 with a code and the field; oversize gets 413; unknown or other
//! users' wallets get 404.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http::Http;
use common::{Backend, Cli, Server, each_backend, unique_email};
use serde_json::json;

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
