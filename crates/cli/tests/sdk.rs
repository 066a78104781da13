//! The device SDK against the real server binary: 16 concurrent ceremonies on one wallet,
//! the alloy signer, and the ceremony socket's own refusals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use alloy_primitives::Address;
use alloy_signer::Signer;
use common::http::Http;
use common::raw::Raw;
use common::verify::*;
use common::{Backend, Server, unique_email};
use futures_util::{SinkExt, StreamExt};
use tandem_client::store::KdfParams;
use tandem_client::{ApiClient, Device, ShareStore, TandemSigner};
use tandem_proto::channel::Kind;
use tandem_proto::sign::{Encoding, SignPayload};
use tandem_proto::wallet::Chain;
use tokio_tungstenite::tungstenite::Message;

async fn device(server: &Server, dir: &std::path::Path) -> Device {
    device_and_token(server, dir).await.0
}

/// A logged-in device with a cheap store, and its session token.
async fn device_and_token(server: &Server, dir: &std::path::Path) -> (Device, String) {
    let http = Http::new(server);
    let token = http.login(server, &unique_email("sdk")).await;
    let api = ApiClient::new(&server.url)
        .unwrap()
        .with_token(token.clone())
        .pin_server_key()
        .await
        .unwrap();
    let cheap = KdfParams {
        m_kib: 256,
        t: 1,
        p: 1,
    };
    let store = ShareStore::open_with(dir, "test passphrase", cheap).unwrap();
    (Device::new(api, store), token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_signatures_on_one_wallet() {
    common::each_backend(sixteen_concurrent).await;
}

async fn sixteen_concurrent(backend: Backend) {
    let server = Server::start(&backend);
    let dir = tempfile::tempdir().unwrap();
    let device = Arc::new(device(&server, dir.path()).await);
    let evm = device.create_wallet(Chain::Evm, None).await.unwrap();
    let sol = device.create_wallet(Chain::Solana, None).await.unwrap();
    let address: Address = evm.address.parse().unwrap();
    let sol_pk = unhex(&sol.public_key);

    let mut tasks = Vec::new();
    for i in 0..16 {
        let device = device.clone();
        let (evm_id, sol_id) = (evm.id.clone(), sol.id.clone());
        tasks.push(tokio::spawn(async move {
            let text = format!("concurrent {i}");
            let payload = SignPayload::EvmMessage {
                message: text.clone(),
                encoding: Encoding::Utf8,
            };
            let r = device
                .sign(&evm_id, &payload, None)
                .await
                .expect("evm sign");
            let sol_payload = SignPayload::SolanaMessage {
                message: text.clone(),
                encoding: Encoding::Utf8,
            };
            let s = device
                .sign(&sol_id, &sol_payload, None)
                .await
                .expect("solana sign");
            (text, r.signature, s.signature)
        }));
    }
    let mut signatures = std::collections::HashSet::new();
    for t in tasks {
        let (text, evm_sig, sol_sig) = t.await.unwrap();
        assert_eq!(recover_personal(text.as_bytes(), &evm_sig), address);
        verify_ed25519(
            &sol_pk,
            &solana_offchain_bytes(&sol_pk, text.as_bytes()),
            &sol_sig,
        );
        assert!(signatures.insert(evm_sig));
    }
    assert_eq!(signatures.len(), 16);
}

#[tokio::test(flavor = "multi_thread")]
async fn alloy_signer_signs_messages_typed_data_and_transactions() {
    let server = Server::start(&Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let device = device(&server, dir.path()).await;
    let wallet = device.create_wallet(Chain::Evm, None).await.unwrap();
    let signer = TandemSigner::new(device.clone(), &wallet).unwrap();
    let address = signer.address();
    assert_eq!(address.to_checksum(None), wallet.address);

    // Through a trait object, as a library that takes "any alloy signer" would.
    let dyn_signer: &(dyn Signer + Send + Sync) = &signer;
    let sig = dyn_signer.sign_message(b"hello alloy").await.unwrap();
    assert_eq!(
        sig.recover_address_from_msg(b"hello alloy").unwrap(),
        address
    );

    let typed: alloy_dyn_abi::TypedData = serde_json::from_value(mail_typed_data()).unwrap();
    let sig = dyn_signer.sign_dynamic_typed_data(&typed).await.unwrap();
    assert_eq!(
        sig.recover_address_from_prehash(&typed.eip712_signing_hash().unwrap())
            .unwrap(),
        address
    );

    // A bare hash is refused: Tandem signs what it can parse.
    let refused = dyn_signer
        .sign_hash(&alloy_primitives::B256::repeat_byte(1))
        .await;
    assert!(refused.unwrap_err().is_unsupported());

    let mut tx = alloy_consensus::TxEip1559 {
        chain_id: 1,
        nonce: 3,
        gas_limit: 21_000,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: alloy_primitives::TxKind::Call(DEAD),
        value: alloy_primitives::U256::from(5u64),
        access_list: Default::default(),
        input: Default::default(),
    };
    let sig = signer.sign_transaction(&mut tx).await.unwrap();
    use alloy_consensus::SignableTransaction;
    let signed = tx.into_signed(sig);
    assert_eq!(signed.recover_signer().unwrap(), address);
}

#[tokio::test(flavor = "multi_thread")]
async fn ceremony_socket_refusals() {
    let server = Server::start(&Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let device = device(&server, dir.path()).await;
    let wallet = device.create_wallet(Chain::Evm, None).await.unwrap();
    let token = device.api().token().unwrap().to_owned();
    let nonce = "11".repeat(32);

    // No session: the upgrade itself is refused with 401.
    let url = server.url.replace("http://", "ws://") + "/v1/ceremony";
    let err = tokio_tungstenite::connect_async(url).await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");

    // A frame before `start`.
    let mut raw = Raw::connect(&server.url, &token).await;
    raw.send(Kind::Frame, &[1, 2, 3]).await;
    assert_eq!(raw.failure_code().await.as_deref(), Some("protocol_error"));

    // A stale epoch.
    let mut raw = Raw::connect(&server.url, &token).await;
    raw.control(
        serde_json::json!({"type": "start", "device_nonce": nonce, "operation": {
        "kind": "sign", "wallet_id": wallet.id, "epoch": 7,
        "payload": {"kind": "evm_message", "message": "x"}}}),
    )
    .await;
    assert_eq!(raw.failure_code().await.as_deref(), Some("epoch_mismatch"));

    // A digest instead of a payload.
    let mut raw = Raw::connect(&server.url, &token).await;
    raw.control(
        serde_json::json!({"type": "start", "device_nonce": nonce, "operation": {
        "kind": "sign", "wallet_id": wallet.id, "epoch": 0,
        "payload": {"kind": "digest", "digest": "0x".to_owned() + &"22".repeat(32)}}}),
    )
    .await;
    assert_eq!(
        raw.failure_code().await.as_deref(),
        Some("digest_signing_refused")
    );

    // An oversized frame inside a ceremony.
    let start = serde_json::json!({"type": "start", "device_nonce": nonce, "operation": {
        "kind": "sign", "wallet_id": wallet.id, "epoch": 0,
        "payload": {"kind": "evm_message", "message": "x"}}});
    let mut raw = Raw::connect(&server.url, &token).await;
    raw.control(start.clone()).await;
    raw.send(Kind::Frame, &vec![0u8; 2 << 20]).await;
    let code = raw.failure_code().await;
    assert!(
        matches!(code.as_deref(), Some("payload_too_large") | None),
        "{code:?}"
    );

    // Plaintext on the socket instead of the handshake.
    let mut ws = common::raw::connect_ws(&server.url, &token).await;
    ws.send(Message::Text(start.to_string().into()))
        .await
        .unwrap();
    let reply = ws.next().await;
    assert!(
        matches!(&reply, Some(Ok(Message::Text(t))) if t.as_str().contains("channel_error")),
        "{reply:?}"
    );

    // Garbage MPC frames are dropped, then the ceremony gives up; the wallet is untouched
    // and still signs.
    let mut raw = Raw::connect(&server.url, &token).await;
    raw.control(start).await;
    for _ in 0..20 {
        raw.send(Kind::Frame, &[0xff; 64]).await;
    }
    assert_eq!(raw.failure_code().await.as_deref(), Some("protocol_error"));
    let payload = SignPayload::EvmMessage {
        message: "still fine".into(),
        encoding: Encoding::Utf8,
    };
    let r = device.sign(&wallet.id, &payload, None).await.unwrap();
    assert_eq!(
        recover_personal(b"still fine", &r.signature).to_checksum(None),
        wallet.address
    );
}

fn sockets_opened(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("tandem_ceremony_sockets_total "))
        .map_or(0, |v| v.trim().parse().unwrap())
}

async fn metrics_text(server: &Server) -> String {
    let url = format!("{}/metrics", server.url);
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

/// One socket carries a device's signatures one after the other; a socket the server closed
/// for idleness is replaced transparently; a session revoked while its socket is open cannot
/// start another ceremony on it.
#[tokio::test(flavor = "multi_thread")]
async fn ceremony_sockets_are_reused_and_rechecked() {
    let opts = common::ServerOptions {
        env: vec![("TANDEM_LIMITS__CEREMONY_IDLE_SECS".into(), "2".into())],
        ..Default::default()
    };
    let server = Server::start_with(&Backend::Sqlite, opts);
    let dir = tempfile::tempdir().unwrap();
    let device = device(&server, dir.path()).await;
    let wallet = device.create_wallet(Chain::Evm, None).await.unwrap();
    let address: Address = wallet.address.parse().unwrap();
    let sign = |text: &'static str| {
        let device = device.clone();
        let id = wallet.id.clone();
        async move {
            let payload = SignPayload::EvmMessage {
                message: text.into(),
                encoding: Encoding::Utf8,
            };
            device.sign(&id, &payload, None).await
        }
    };
    for text in ["one", "two", "three"] {
        let r = sign(text).await.unwrap();
        assert_eq!(recover_personal(text.as_bytes(), &r.signature), address);
    }
    // The keygen's socket and one socket for the three signatures.
    assert_eq!(sockets_opened(&metrics_text(&server).await), 2);

    // The server ends the idle socket; the device notices and signs on a new one.
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let r = sign("after idle").await.unwrap();
    assert_eq!(recover_personal(b"after idle", &r.signature), address);
    assert_eq!(sockets_opened(&metrics_text(&server).await), 3);

    // Logging out while the socket is open: the next ceremony on it is refused.
    let http = Http::new(&server);
    let token = device.api().token().unwrap().to_owned();
    let out = http
        .post("/v1/session/logout", Some(&token), serde_json::json!({}))
        .await;
    assert_eq!(out.status, 204, "{:?}", out.body);
    let err = sign("revoked").await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(tandem_proto::ErrorCode::SessionRevoked),
        "{err}"
    );
}

/// Runs a keygen as a device would, over a raw socket with the real state machine, then
/// reports `public_key` in `stored`. Returns the wallet id and the server's answer.
async fn keygen_reporting(
    server: &Server,
    token: &str,
    report: impl FnOnce(&[u8]) -> Vec<u8>,
) -> (String, serde_json::Value) {
    use tandem_mpc::ecdsa::Secp256k1;
    use tandem_mpc::{
        Ceremony, Nonce, Operation, Progress, Role, Scheme, SessionContext, WalletId,
    };
    use tandem_proto::scheme::ChainScheme;

    let mut raw = Raw::connect(&server.url, token).await;
    let device_nonce = Nonce::generate().unwrap();
    raw.control(
        serde_json::json!({"type": "start", "device_nonce": hex::encode(device_nonce.0),
        "operation": {"kind": "keygen", "chain": "evm"}}),
    )
    .await;
    let accepted = raw.next_control().await.unwrap();
    assert_eq!(accepted["type"], "accepted", "{accepted}");
    let wallet_id = accepted["wallet_id"].as_str().unwrap().to_owned();
    let server_nonce = Nonce(
        hex::decode(accepted["server_nonce"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap(),
    );
    let ctx = SessionContext::derive(
        Secp256k1::protocol(Operation::Keygen),
        WalletId::new(wallet_id.clone()).unwrap(),
        0,
        &device_nonce,
        &server_nonce,
    );
    let (mut ceremony, first) = Secp256k1::keygen(Role::Device, ctx).unwrap();
    raw.send(Kind::Frame, &first).await;
    let share = loop {
        let (kind, data) = raw.next().await.expect("the server closed during keygen");
        assert_eq!(kind, Kind::Frame);
        match ceremony.receive(&data).unwrap() {
            Progress::Send(next) => raw.send(Kind::Frame, &next).await,
            Progress::Done(share) => break share,
        }
    };
    let reported = report(share.public_key());
    raw.control(serde_json::json!({"type": "stored", "public_key": hex::encode(reported)}))
        .await;
    (wallet_id, raw.next_control().await.unwrap())
}

/// Security bar M11: keygen confirms the joint public key before the server commits. A
/// device that computed (or was shown) another key is refused, and no wallet exists; the
/// same device reporting the key both computed gets its wallet.
#[tokio::test(flavor = "multi_thread")]
async fn keygen_commits_only_a_key_both_sides_confirm() {
    let server = Server::start(&Backend::Sqlite);
    let http = Http::new(&server);
    let token = http.login(&server, &unique_email("m11")).await;

    let (refused, reply) = keygen_reporting(&server, &token, |pk| {
        let mut other = pk.to_vec();
        other[1] ^= 1;
        other
    })
    .await;
    assert_eq!(reply["type"], "failed", "{reply}");
    assert_eq!(reply["error"]["code"], "ceremony_failed", "{reply}");
    assert_eq!(reply["error"]["field"], "public_key", "{reply}");
    let r = http
        .get(&format!("/v1/wallets/{refused}"), Some(&token))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);

    let (created, reply) = keygen_reporting(&server, &token, <[u8]>::to_vec).await;
    assert_eq!(reply["type"], "keygen_done", "{reply}");
    assert_eq!(reply["wallet"]["id"], created.as_str());
    let list = http.get("/v1/wallets", Some(&token)).await;
    let ids: Vec<&str> = list.body["wallets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![created.as_str()]);
}

/// M11 and defect 2 on the device: a server (here a proxy holding the server's channel key)
/// that reports at the end of keygen another key, with that key's own address, is refused:
/// the device never makes the share it computed current under a key it did not compute.
#[tokio::test(flavor = "multi_thread")]
async fn keygen_refuses_a_reported_key_the_device_did_not_compute() {
    use common::evil::EvilServer;
    use tandem_client::ClientError;
    use tandem_proto::scheme::address_for;

    let server = Server::start(&Backend::Sqlite);
    let http = Http::new(&server);
    let token = http.login(&server, &unique_email("m11dev")).await;
    let g =
        hex::decode("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798").unwrap();
    let foreign = address_for(Chain::Evm, &g).unwrap();
    let (g2, foreign2) = (g.clone(), foreign.clone());
    let rewrite = Arc::new(move |data: &[u8]| {
        let mut v: serde_json::Value = serde_json::from_slice(data).ok()?;
        if v["type"] != "keygen_done" {
            return None;
        }
        v["wallet"]["public_key"] = hex::encode(&g2).into();
        v["wallet"]["address"] = foreign2.clone().into();
        serde_json::to_vec(&v).ok()
    });
    let key = std::fs::read(server.data_dir.join("server-channel.key")).unwrap();
    let evil = EvilServer::start(&server.url, &key, rewrite).await;
    let api = ApiClient::new(&evil.url)
        .unwrap()
        .with_token(token)
        .with_server_key(common::raw::server_key(&server.url).await);
    let dir = tempfile::tempdir().unwrap();
    let cheap = KdfParams {
        m_kib: 256,
        t: 1,
        p: 1,
    };
    let device = Device::new(
        api,
        ShareStore::open_with(dir.path(), "a device passphrase for keygen", cheap).unwrap(),
    );
    let err = device.create_wallet(Chain::Evm, None).await.unwrap_err();
    assert!(matches!(err, ClientError::Protocol(_)), "{err}");
    assert_eq!(evil.rewritten(), 1);
    let ids = device.store().wallets().unwrap();
    assert_eq!(ids.len(), 1);
    assert!(device.store().current(&ids[0]).unwrap().is_none());
}

/// Pipelined signing (docs/server.md): the nonce the server issues for a socket's next
/// ceremony is single-use and good on that socket only; a `start` naming any other is refused
/// before anything runs. Sockets reused by the SDK sign on the pipelined path.
#[tokio::test(flavor = "multi_thread")]
async fn issued_server_nonces_are_single_use_and_bound_to_their_socket() {
    let server = Server::start(&Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let (device, token) = device_and_token(&server, dir.path()).await;
    let wallet = device.create_wallet(Chain::Evm, None).await.unwrap();
    let address: Address = wallet.address.parse().unwrap();
    // Several signatures on the SDK's kept sockets: the later ones are pipelined.
    for i in 0..4 {
        let text = format!("pipelined {i}");
        let payload = SignPayload::EvmMessage {
            message: text.clone(),
            encoding: Encoding::Utf8,
        };
        let r = device.sign(&wallet.id, &payload, None).await.unwrap();
        assert_eq!(recover_personal(text.as_bytes(), &r.signature), address);
    }

    let status = |server_nonce: Option<String>| {
        let mut start = serde_json::json!({"type": "start", "pipeline": true,
            "device_nonce": hex::encode([7u8; 32]),
            "operation": {"kind": "status", "wallet_id": wallet.id}});
        if let Some(n) = server_nonce {
            start["server_nonce"] = n.into();
        }
        start
    };
    let mut a = Raw::connect(&server.url, &token).await;
    a.control(status(None)).await;
    let first = a.next_control().await.unwrap();
    assert_eq!(first["type"], "status", "{first}");
    let issued = first["next_nonce"].as_str().expect("next_nonce").to_owned();
    // The issued nonce works once on its socket, and issues the next one.
    a.control(status(Some(issued.clone()))).await;
    let second = a.next_control().await.unwrap();
    assert_eq!(second["type"], "status", "{second}");
    assert_ne!(second["next_nonce"], first["next_nonce"]);
    // Used again: refused, and the socket closes.
    a.control(status(Some(issued.clone()))).await;
    assert_eq!(a.failure_code().await.as_deref(), Some("protocol_error"));

    // A nonce issued on one socket is refused on another, as is one never issued.
    let mut b = Raw::connect(&server.url, &token).await;
    b.control(status(None)).await;
    let on_b = b.next_control().await.unwrap();
    let mut c = Raw::connect(&server.url, &token).await;
    c.control(status(on_b["next_nonce"].as_str().map(str::to_owned)))
        .await;
    assert_eq!(c.failure_code().await.as_deref(), Some("protocol_error"));
    let mut d = Raw::connect(&server.url, &token).await;
    d.control(status(Some(hex::encode([9u8; 32])))).await;
    assert_eq!(d.failure_code().await.as_deref(), Some("protocol_error"));
}

/// The SDK's account calls: set a password, sign in with it, meet a second factor through
/// `ClientError::second_factor`, and a step-up through `ClientError::step_up_methods`.
#[tokio::test(flavor = "multi_thread")]
async fn account_calls_second_factor_and_step_up() {
    let Some(pyotp) = common::pyotp::PyOtp::find() else {
        return;
    };
    let server = Server::start(&Backend::Sqlite);
    let mut now = common::server::T0;
    server.set_time(now);
    let email = unique_email("sdkacct");
    let token = Http::new(&server).login(&server, &email).await;
    let api = ApiClient::new(&server.url).unwrap().with_token(token);
    let password = "sdk passphrase that is long enough";
    api.set_password(password).await.unwrap();
    let enrol = api.totp_begin().await.unwrap();
    let codes = api
        .totp_confirm(&pyotp.code_at(&enrol.otpauth_uri, now))
        .await
        .unwrap();
    assert_eq!(codes.recovery_codes.len(), 10);

    let anonymous = ApiClient::new(&server.url).unwrap();
    let err = anonymous
        .password_login(&email, password)
        .await
        .unwrap_err();
    let second = err.second_factor().expect("a second factor is asked for");
    assert_eq!(second.methods, ["totp", "recovery_code"]);
    assert!(
        !format!("{second:?}").contains(&second.ticket),
        "the ticket leaks in Debug"
    );
    now += 30_000;
    server.set_time(now);
    let login = anonymous
        .second_factor(
            &second.ticket,
            tandem_proto::account::Proof::Totp {
                code: pyotp.code_at(&enrol.otpauth_uri, now),
            },
        )
        .await
        .unwrap();
    let api = ApiClient::new(&server.url).unwrap().with_token(login.token);
    let account = api.account().await.unwrap();
    let proven: Vec<&str> = account
        .session_methods
        .iter()
        .map(|m| m.method.as_str())
        .collect();
    assert_eq!(proven, ["password", "totp"]);

    now += 6 * 60_000;
    server.set_time(now);
    let err = api.set_pin("2580").await.unwrap_err();
    let methods = err.step_up_methods().expect("step-up asked for");
    assert!(methods.iter().any(|m| m == "password"), "{methods:?}");
    api.step_up(tandem_proto::account::Proof::Password {
        password: password.into(),
    })
    .await
    .unwrap();
    api.set_pin("2580").await.unwrap();
    assert!(api.account().await.unwrap().pin);
}
