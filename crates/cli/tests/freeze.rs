//! Freeze on cheating (DESIGN.md §3), against the real server binary.
//!
//! A malicious device, built from the signing core's adversarial harness, tampers with the
//! OT-extension data of an ECDSA signature: the server freezes the wallet before it answers,
//! aborts every other ceremony on it, and refuses every later attempt with the same
//! `wallet_frozen`, across a restart, until a fresh login runs a complete refresh. In the other
//! direction a malicious server (a proxy holding the server's channel key) tampers with its
//! frames: the device SDK locks its share until a complete refresh.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::Address;
use common::evil::EvilServer;
use common::http::Http;
use common::raw::Raw;
use common::verify::recover_personal;
use common::{Backend, Server, unique_email};
use tandem_client::store::KdfParams;
use tandem_client::{ApiClient, ClientError, Device, ShareStore};
use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::testing::{OtField, rebind_ecdsa_sign, reflect_ecdsa_sign, tamper_ecdsa_sign_ot};
use tandem_mpc::{
    Ceremony, ErrorClass, KeyShare, Nonce, Operation, Progress, Scheme, SessionContext, WalletId,
};
use tandem_proto::ErrorCode;
use tandem_proto::channel::Kind;
use tandem_proto::prepare::prepare;
use tandem_proto::scheme::ChainScheme;
use tandem_proto::sign::{Encoding, SignPayload};
use tandem_proto::wallet::{Chain, WalletStatus};

const CHEAP: KdfParams = KdfParams {
    m_kib: 256,
    t: 1,
    p: 1,
};

async fn login(server: &Server, email: &str) -> String {
    Http::new(server).login(server, email).await
}

async fn device_at(url: &str, token: &str, dir: &std::path::Path) -> Device {
    let api = ApiClient::new(url)
        .unwrap()
        .with_token(token.to_owned())
        .pin_server_key()
        .await
        .unwrap();
    Device::new(
        api,
        ShareStore::open_with(dir, "test passphrase", CHEAP).unwrap(),
    )
}

fn message(text: &str) -> SignPayload {
    SignPayload::EvmMessage {
        message: text.into(),
        encoding: Encoding::Utf8,
    }
}

fn start_json(wallet_id: &str, epoch: u64, text: &str, nonce: &Nonce) -> serde_json::Value {
    serde_json::json!({"type": "start", "device_nonce": hex::encode(nonce.0), "operation": {
        "kind": "sign", "wallet_id": wallet_id, "epoch": epoch,
        "payload": {"kind": "evm_message", "message": text}}})
}

/// Opens a signing ceremony and waits for `accepted`; returns the socket and server nonce.
async fn open_sign(url: &str, token: &str, wallet_id: &str, text: &str) -> (Raw, Nonce, Nonce) {
    let mut raw = Raw::connect(url, token).await;
    let device_nonce = Nonce::generate().unwrap();
    raw.control(start_json(wallet_id, 0, text, &device_nonce))
        .await;
    let accepted = raw.next_control().await.unwrap();
    assert_eq!(accepted["type"], "accepted", "{accepted}");
    let server_nonce: [u8; 32] = hex::decode(accepted["server_nonce"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    (raw, device_nonce, Nonce(server_nonce))
}

/// The malicious device: runs the real state machine with its real share, but corrupts the
/// OT-extension matrix in its first frame that carries it. Returns the server's answer code.
async fn cheat(url: &str, token: &str, wallet_id: &str, share: &KeyShare<Secp256k1>) -> String {
    let text = "cheat";
    let (mut raw, device_nonce, server_nonce) = open_sign(url, token, wallet_id, text).await;
    let ctx = SessionContext::derive(
        Secp256k1::protocol(Operation::Sign),
        WalletId::new(wallet_id.to_owned()).unwrap(),
        0,
        &device_nonce,
        &server_nonce,
    );
    let prepared = prepare(&message(text), Chain::Evm, share.public_key()).unwrap();
    let msg = Secp256k1::message(prepared.signing_input()).unwrap();
    let (mut ceremony, first) = Secp256k1::sign(share, ctx, msg).unwrap();
    let mut tampered = false;
    let send = |frame: Vec<u8>, tampered: &mut bool| {
        if *tampered {
            return frame;
        }
        match tamper_ecdsa_sign_ot(&frame, OtField::ExtensionU) {
            Some(evil) => {
                *tampered = true;
                evil
            }
            None => frame,
        }
    };
    raw.send(Kind::Frame, &send(first, &mut tampered)).await;
    while let Some((kind, data)) = raw.next().await {
        if kind == Kind::Control {
            let v: serde_json::Value = serde_json::from_slice(&data).unwrap();
            assert!(
                tampered,
                "the server answered before the tampered frame: {v}"
            );
            return v["error"]["code"].as_str().unwrap_or("?").to_owned();
        }
        match ceremony.receive(&data).unwrap() {
            Progress::Send(next) => raw.send(Kind::Frame, &send(next, &mut tampered)).await,
            Progress::Done(_) => panic!("the ceremony finished despite the tampering"),
        }
    }
    panic!("the server closed without an answer");
}

/// One signing attempt over a raw socket; the full `failed` error as JSON.
async fn attempt(url: &str, token: &str, wallet_id: &str) -> serde_json::Value {
    let mut raw = Raw::connect(url, token).await;
    raw.control(start_json(
        wallet_id,
        0,
        "again",
        &Nonce::generate().unwrap(),
    ))
    .await;
    let reply = raw.next_control().await.unwrap();
    assert_eq!(reply["type"], "failed", "{reply}");
    reply["error"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cheating_device_freezes_the_wallet_until_a_fresh_login_completes_a_refresh() {
    let server = Server::start(&Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let email = unique_email("freeze");
    let token = login(&server, &email).await;
    let device = device_at(&server.url, &token, dir.path()).await;
    let wallet = device.create_wallet(Chain::Evm, None).await.unwrap();
    let address: Address = wallet.address.parse().unwrap();
    let r = device
        .sign(&wallet.id, &message("before"), None)
        .await
        .unwrap();
    assert_eq!(recover_personal(b"before", &r.signature), address);
    let share = device.share::<Secp256k1>(&wallet.id).unwrap();

    // Eight honest ceremonies on the wallet, accepted and waiting for the device.
    let mut waiting = Vec::new();
    for i in 0..8 {
        let (raw, _, _) = open_sign(&server.url, &token, &wallet.id, &format!("w{i}")).await;
        waiting.push(raw);
    }

    // The cheat: detected, frozen, answered.
    assert_eq!(
        cheat(&server.url, &token, &wallet.id, &share).await,
        "wallet_frozen"
    );

    // All eight end at once with `wallet_frozen`, long before the 30 s round timeout.
    let started = Instant::now();
    for mut raw in waiting {
        let code = tokio::time::timeout(Duration::from_secs(5), raw.failure_code())
            .await
            .expect("an in-flight ceremony was not aborted");
        assert_eq!(code.as_deref(), Some("wallet_frozen"));
    }
    assert!(started.elapsed() < Duration::from_secs(5));

    // No retry: 300 attempts, one identical answer.
    let first = attempt(&server.url, &token, &wallet.id).await;
    assert_eq!(first["code"], "wallet_frozen");
    for _ in 0..299 {
        assert_eq!(attempt(&server.url, &token, &wallet.id).await, first);
    }
    let err = device
        .sign(&wallet.id, &message("x"), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::WalletFrozen), "{err}");
    let info = device.api().wallet(&wallet.id).await.unwrap();
    assert_eq!(info.status, WalletStatus::Frozen);

    // Persisted: still frozen after a restart.
    let server = server.restart(&Backend::Sqlite, common::ServerOptions::default());
    let device = device_at(&server.url, &token, dir.path()).await;
    assert_eq!(attempt(&server.url, &token, &wallet.id).await, first);
    let err = device.refresh(&wallet.id, None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::WalletFrozen), "{err}");
    // The session that saw the freeze cannot lift it, not even with a complete refresh.
    let err = device.refresh_complete(&wallet.id, None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::WalletFrozen), "{err}");

    // A fresh login and a complete refresh (new OT state) unfreeze it: same address.
    server.set_time(common::server::T0 + 60_000);
    let fresh = login(&server, &email).await;
    let device = device_at(&server.url, &fresh, dir.path()).await;
    let err = device.refresh(&wallet.id, None).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::WalletFrozen),
        "a fast refresh must not unfreeze"
    );
    let refreshed = device.refresh_complete(&wallet.id, None).await.unwrap();
    assert_eq!(refreshed.status, WalletStatus::Active);
    assert_eq!(refreshed.epoch, 1);
    assert_eq!(refreshed.address, wallet.address);
    let r = device
        .sign(&wallet.id, &message("after"), None)
        .await
        .unwrap();
    assert_eq!(recover_personal(b"after", &r.signature), address);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cheating_server_makes_the_device_lock_its_share_until_a_complete_refresh() {
    let server = Server::start(&Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let token = login(&server, &unique_email("lock")).await;
    let honest = device_at(&server.url, &token, dir.path()).await;
    let wallet = honest.create_wallet(Chain::Evm, None).await.unwrap();
    let other = honest.create_wallet(Chain::Evm, None).await.unwrap();
    let address: Address = wallet.address.parse().unwrap();

    // The attacker has the server's channel key and rewrites what the server sends.
    let key = std::fs::read(server.data_dir.join("server-channel.key")).unwrap();
    let rewrite = Arc::new(|f: &[u8]| {
        tamper_ecdsa_sign_ot(f, OtField::MultiplicationTau)
            .or_else(|| tamper_ecdsa_sign_ot(f, OtField::ExtensionU))
    });
    let evil = EvilServer::start(&server.url, &key, rewrite).await;
    let server_key = common::raw::server_key(&server.url).await;
    let api = ApiClient::new(&evil.url)
        .unwrap()
        .with_token(token.clone())
        .with_server_key(server_key);
    let fooled = Device::new(
        api,
        ShareStore::open_with(dir.path(), "test passphrase", CHEAP).unwrap(),
    );
    let err = fooled
        .sign(&wallet.id, &message("x"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Cheating(_)), "{err}");
    assert!(evil.rewritten() >= 1);
    assert!(honest.is_locked(&wallet.id).unwrap());

    // Locked on the device, whichever server it talks to; other wallets are unaffected.
    for d in [&fooled, &honest] {
        let err = d.sign(&wallet.id, &message("y"), None).await.unwrap_err();
        assert!(matches!(err, ClientError::ShareLocked(_)), "{err}");
        let err = d.refresh(&wallet.id, None).await.unwrap_err();
        assert!(matches!(err, ClientError::ShareLocked(_)), "{err}");
    }
    honest
        .sign(&other.id, &message("other"), None)
        .await
        .unwrap();

    // A complete refresh with the real server unlocks it; the key is unchanged.
    let refreshed = honest.refresh_complete(&wallet.id, None).await.unwrap();
    assert_eq!(refreshed.address, wallet.address);
    assert!(!honest.is_locked(&wallet.id).unwrap());
    let r = honest
        .sign(&wallet.id, &message("unlocked"), None)
        .await
        .unwrap();
    assert_eq!(recover_personal(b"unlocked", &r.signature), address);
}

/// Issue 10, defect 3: a session that holds no share sends the server's own first frame back
/// with the roles swapped. The server refuses it on the session binding, before the
/// multiplication: the ceremony fails, the wallet is not frozen and still signs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reflected_frame_from_a_shareless_session_does_not_freeze() {
    let server = Server::start(&Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let email = unique_email("reflect");
    let token = login(&server, &email).await;
    let device = device_at(&server.url, &token, dir.path()).await;
    let wallet = device.create_wallet(Chain::Evm, None).await.unwrap();
    let address: Address = wallet.address.parse().unwrap();

    // A second session of the same user, on a machine with no share at all.
    let thief = login(&server, &email).await;
    for i in 0..3 {
        let (mut raw, _, _) = open_sign(&server.url, &thief, &wallet.id, &format!("r{i}")).await;
        let (kind, first) = raw.next().await.unwrap();
        assert_eq!(kind, Kind::Frame);
        let reflected = reflect_ecdsa_sign(&first).expect("the server's round-1 frame");
        raw.send(Kind::Frame, &reflected).await;
        let code = raw.failure_code().await;
        assert_eq!(code.as_deref(), Some("ceremony_failed"), "attempt {i}");
    }
    let info = device.api().wallet(&wallet.id).await.unwrap();
    assert_eq!(info.status, WalletStatus::Active);
    let r = device
        .sign(&wallet.id, &message("still mine"), None)
        .await
        .unwrap();
    assert_eq!(recover_personal(b"still mine", &r.signature), address);
}

/// Issue 10, defect 3: a device that computes other bytes to sign than the server (SDK and
/// server versions disagree). With the hash in `start` it is told so before any MPC frame;
/// an older device without the hash fails on the session binding. Neither freezes anything,
/// and the device's own state machine refuses the server's frame as `Invalid`, which the SDK
/// does not treat as cheating.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_device_with_another_digest_gets_signing_input_mismatch_and_nothing_freezes() {
    let server = Server::start(&Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let token = login(&server, &unique_email("skew")).await;
    let device = device_at(&server.url, &token, dir.path()).await;
    let wallet = device.create_wallet(Chain::Evm, None).await.unwrap();
    let share = device.share::<Secp256k1>(&wallet.id).unwrap();
    let text = "what the server signs";
    // What a skewed SDK would sign for the same payload.
    let skewed = prepare(&message("something else"), Chain::Evm, share.public_key()).unwrap();

    // With the hash: refused up front, with the new code and the field.
    let mut raw = Raw::connect(&server.url, &token).await;
    let mut start = start_json(&wallet.id, 0, text, &Nonce::generate().unwrap());
    start["operation"]["signing_input"] = hex::encode(skewed.input_hash()).into();
    raw.control(start).await;
    let reply = raw.next_control().await.unwrap();
    assert_eq!(reply["type"], "failed", "{reply}");
    assert_eq!(reply["error"]["code"], "signing_input_mismatch", "{reply}");
    assert_eq!(reply["error"]["field"], "signing_input", "{reply}");

    // The same payload with the right hash is accepted.
    let ours = prepare(&message(text), Chain::Evm, share.public_key()).unwrap();
    let mut raw = Raw::connect(&server.url, &token).await;
    let mut start = start_json(&wallet.id, 0, text, &Nonce::generate().unwrap());
    start["operation"]["signing_input"] = hex::encode(ours.input_hash()).into();
    raw.control(start).await;
    assert_eq!(raw.next_control().await.unwrap()["type"], "accepted");
    drop(raw);

    // Without the hash (an older device): the MPC runs on two digests and fails on the
    // session binding, on both sides, as `Invalid`.
    let (mut raw, device_nonce, server_nonce) =
        open_sign(&server.url, &token, &wallet.id, text).await;
    let ctx = SessionContext::derive(
        Secp256k1::protocol(Operation::Sign),
        WalletId::new(wallet.id.clone()).unwrap(),
        0,
        &device_nonce,
        &server_nonce,
    );
    let msg = Secp256k1::message(skewed.signing_input()).unwrap();
    let (mut ceremony, first) = Secp256k1::sign(&share, ctx, msg).unwrap();
    let (kind, theirs) = raw.next().await.unwrap();
    assert_eq!(kind, Kind::Frame);
    raw.send(Kind::Frame, &first).await;
    let err = match ceremony.receive(&theirs) {
        Err(e) => e,
        Ok(_) => panic!("the device went on with another digest"),
    };
    assert_eq!(err.class(), ErrorClass::Invalid, "{err:?}");
    assert!(!matches!(ClientError::from(err), ClientError::Cheating(_)));
    assert_eq!(raw.failure_code().await.as_deref(), Some("ceremony_failed"));

    let info = device.api().wallet(&wallet.id).await.unwrap();
    assert_eq!(info.status, WalletStatus::Active);
    assert!(!device.is_locked(&wallet.id).unwrap());
    device
        .sign(&wallet.id, &message("after the skew"), None)
        .await
        .unwrap();
}

/// The other direction: a server whose first frame carries another session binding (what a
/// server signing another digest sends) ends the ceremony on the device without locking the
/// share; the device signs again as soon as it talks to an honest server.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_frame_for_another_session_does_not_lock_the_share() {
    let server = Server::start(&Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let token = login(&server, &unique_email("rebind")).await;
    let honest = device_at(&server.url, &token, dir.path()).await;
    let wallet = honest.create_wallet(Chain::Evm, None).await.unwrap();

    let key = std::fs::read(server.data_dir.join("server-channel.key")).unwrap();
    let evil = EvilServer::start(&server.url, &key, Arc::new(rebind_ecdsa_sign)).await;
    let server_key = common::raw::server_key(&server.url).await;
    let api = ApiClient::new(&evil.url)
        .unwrap()
        .with_token(token.clone())
        .with_server_key(server_key);
    let fooled = Device::new(
        api,
        ShareStore::open_with(dir.path(), "test passphrase", CHEAP).unwrap(),
    );
    let err = fooled
        .sign(&wallet.id, &message("x"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Mpc(_)), "{err}");
    assert!(evil.rewritten() >= 1);
    assert!(!honest.is_locked(&wallet.id).unwrap());
    honest
        .sign(&wallet.id, &message("unaffected"), None)
        .await
        .unwrap();
}

/// FROST keeps no secret a failure could reveal, so no FROST refusal freezes: a session with
/// no share of a Solana wallet runs a signing ceremony with a share of a key it made itself
/// (valid commitments, a signature share that cannot verify). The server refuses it with
/// `ceremony_failed`; the wallet is not frozen and still signs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shareless_session_cannot_freeze_a_solana_wallet_with_a_bad_signature_share() {
    use tandem_mpc::ed25519::Ed25519;
    use tandem_mpc::testing::run_pair;

    let server = Server::start(&Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let email = unique_email("frost");
    let token = login(&server, &email).await;
    let device = device_at(&server.url, &token, dir.path()).await;
    let wallet = device.create_wallet(Chain::Solana, None).await.unwrap();
    let thief = login(&server, &email).await;

    // A share of another key, under the victim's wallet id.
    let wallet_id = WalletId::new(wallet.id.clone()).unwrap();
    let keygen_ctx =
        SessionContext::fresh(Ed25519::protocol(Operation::Keygen), wallet_id.clone(), 0).unwrap();
    let (fake, _, _) = run_pair((
        Ed25519::keygen(tandem_mpc::Role::Device, keygen_ctx.clone()).unwrap(),
        Ed25519::keygen(tandem_mpc::Role::Server, keygen_ctx).unwrap(),
    ))
    .unwrap();

    let mut raw = Raw::connect(&server.url, &thief).await;
    let device_nonce = Nonce::generate().unwrap();
    raw.control(
        serde_json::json!({"type": "start", "device_nonce": hex::encode(device_nonce.0),
        "operation": {"kind": "sign", "wallet_id": wallet.id, "epoch": 0,
        "payload": {"kind": "solana_message", "message": "mine now"}}}),
    )
    .await;
    let accepted = raw.next_control().await.unwrap();
    assert_eq!(accepted["type"], "accepted", "{accepted}");
    let server_nonce = Nonce(
        hex::decode(accepted["server_nonce"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap(),
    );
    let ctx = SessionContext::derive(
        Ed25519::protocol(Operation::Sign),
        wallet_id,
        0,
        &device_nonce,
        &server_nonce,
    );
    let (mut ceremony, first) = Ed25519::sign(&fake, ctx, b"mine now".as_slice()).unwrap();
    raw.send(Kind::Frame, &first).await;
    let code = loop {
        let (kind, data) = raw
            .next()
            .await
            .expect("the server closed without an answer");
        if kind == Kind::Control {
            let v: serde_json::Value = serde_json::from_slice(&data).unwrap();
            break v["error"]["code"].as_str().unwrap_or("?").to_owned();
        }
        if let Ok(Progress::Send(next)) = ceremony.receive(&data) {
            raw.send(Kind::Frame, &next).await;
        }
    };
    assert_eq!(code, "ceremony_failed");
    let info = device.api().wallet(&wallet.id).await.unwrap();
    assert_eq!(info.status, WalletStatus::Active);
    let payload = SignPayload::SolanaMessage {
        message: "still mine".into(),
        encoding: Encoding::Utf8,
    };
    device.sign(&wallet.id, &payload, None).await.unwrap();
}
