//! The end-to-end encrypted ceremony channel, attacked by a man in the middle on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http::Http;
use common::mitm::{Dir, Mitm, Tamper};
use common::transport::Relay;
use common::verify::recover_personal;
use common::{Backend, Cli, Server, unique_email};
use tandem_client::store::KdfParams;
use tandem_client::{ApiClient, ClientError, Device, ShareStore};
use tandem_proto::sign::{Encoding, SignPayload};
use tandem_proto::wallet::Chain;

const MARKER: &str = "MARKER-PLAINTEXT-7f3a9c";

struct Setup {
    server: Server,
    token: String,
    key: [u8; 32],
    _dir: tempfile::TempDir,
    store_dir: std::path::PathBuf,
}

async fn setup() -> Setup {
    let server = Server::start(&Backend::Sqlite);
    let token = Http::new(&server)
        .login(&server, &unique_email("mitm"))
        .await;
    let key = common::raw::server_key(&server.url).await;
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("shares");
    Setup {
        server,
        token,
        key,
        _dir: dir,
        store_dir,
    }
}

/// A device whose ceremonies go to `base` (the server or a proxy in front of it).
fn device(s: &Setup, base: &str, key: [u8; 32]) -> Device {
    let api = ApiClient::new(base)
        .unwrap()
        .with_token(s.token.clone())
        .with_server_key(key);
    let cheap = KdfParams {
        m_kib: 256,
        t: 1,
        p: 1,
    };
    Device::new(
        api,
        ShareStore::open_with(&s.store_dir, "channel test passphrase", cheap).unwrap(),
    )
}

fn message(text: &str) -> SignPayload {
    SignPayload::EvmMessage {
        message: text.to_owned(),
        encoding: Encoding::Utf8,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_man_in_the_middle_sees_only_ciphertext() {
    let s = setup().await;
    let mitm = Mitm::start(&s.server.url, Tamper::None).await;
    let dev = device(&s, &mitm.url, s.key);
    let wallet = dev.create_wallet(Chain::Evm, None).await.unwrap();
    let r = dev.sign(&wallet.id, &message(MARKER), None).await.unwrap();
    assert_eq!(
        recover_personal(MARKER.as_bytes(), &r.signature).to_checksum(None),
        wallet.address
    );
    let captured = mitm.captured();
    assert!(captured.len() > 10);
    let needles: Vec<Vec<u8>> = vec![
        MARKER.as_bytes().to_vec(),
        wallet.id.as_bytes().to_vec(),
        b"\"type\"".to_vec(),
        b"evm_message".to_vec(),
        hex::decode(&wallet.public_key).unwrap(),
        r.signature.as_bytes().to_vec(),
        hex::decode(r.signature.trim_start_matches("0x")).unwrap()[..32].to_vec(),
    ];
    for (dir, bytes) in &captured {
        for needle in &needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                "{dir:?} message reveals {:?}",
                String::from_utf8_lossy(needle)
            );
        }
    }
}

async fn tampered(tamper: Tamper) {
    let s = setup().await;
    let direct = device(&s, &s.server.url, s.key);
    let wallet = direct.create_wallet(Chain::Evm, None).await.unwrap();
    let mitm = Mitm::start(&s.server.url, tamper).await;
    let via = device(&s, &mitm.url, s.key);
    let err = via
        .sign(&wallet.id, &message("tampered"), None)
        .await
        .unwrap_err();
    let channel_failure = matches!(&err, ClientError::Channel(_) | ClientError::Socket(_))
        || err.code() == Some(tandem_proto::ErrorCode::ChannelError);
    assert!(channel_failure, "{tamper:?}: {err}");
    // Not cheating: the wallet is not frozen and signs at once without the proxy.
    let info = direct.wallet(&wallet.id).await.unwrap();
    assert_eq!(
        info.status,
        tandem_proto::wallet::WalletStatus::Active,
        "{tamper:?}"
    );
    let r = direct
        .sign(&wallet.id, &message("after"), None)
        .await
        .unwrap();
    assert_eq!(
        recover_personal(b"after", &r.signature).to_checksum(None),
        wallet.address
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flipped_byte_aborts_with_a_channel_error_and_freezes_nothing() {
    // Message 0 is the handshake, 1 is `start`, 2.. are MPC frames.
    tampered(Tamper::Flip(Dir::ToServer, 2)).await;
    tampered(Tamper::Flip(Dir::ToServer, 1)).await;
    tampered(Tamper::Flip(Dir::ToDevice, 2)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_frame_is_refused() {
    tampered(Tamper::Replay(Dir::ToServer, 2)).await;
    tampered(Tamper::Replay(Dir::ToDevice, 1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_device_pinned_to_another_key_refuses_to_talk() {
    let s = setup().await;
    let direct = device(&s, &s.server.url, s.key);
    let wallet = direct.create_wallet(Chain::Evm, None).await.unwrap();
    let mut other = s.key;
    other[0] ^= 0x55;
    let wrong = device(&s, &s.server.url, other);
    let err = wrong
        .sign(&wallet.id, &message("x"), None)
        .await
        .unwrap_err();
    assert!(
        err.code() == Some(tandem_proto::ErrorCode::ChannelError)
            || matches!(err, ClientError::Channel(_)),
        "{err}"
    );
    // And a server impersonator with its own key: a second server the device never pinned.
    let impostor = Server::start(&Backend::Sqlite);
    let token = Http::new(&impostor)
        .login(&impostor, &unique_email("impostor"))
        .await;
    let api = ApiClient::new(&impostor.url)
        .unwrap()
        .with_token(token)
        .with_server_key(s.key);
    let cheap = KdfParams {
        m_kib: 256,
        t: 1,
        p: 1,
    };
    let dir = tempfile::tempdir().unwrap();
    let dev = Device::new(
        api,
        ShareStore::open_with(dir.path(), "channel test passphrase", cheap).unwrap(),
    );
    let err = dev.create_wallet(Chain::Evm, None).await.unwrap_err();
    assert!(
        err.code() == Some(tandem_proto::ErrorCode::ChannelError)
            || matches!(err, ClientError::Channel(_)),
        "{err}"
    );
}

fn pinned(cli: &Cli) -> serde_json::Value {
    let text = std::fs::read_to_string(cli.home().join("known_servers.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A proxy that gets a forged key pinned gains every in-channel power of a malicious
/// server: the pin must outlive logout, and no other spelling of the URL may bypass it.
#[tokio::test(flavor = "multi_thread")]
async fn the_pin_survives_logout_and_no_spelling_of_the_url_replaces_it() {
    let real = Server::start(&Backend::Sqlite);
    let real_key = hex::encode(common::raw::server_key(&real.url).await);
    // One URL, first in front of the real server, later in front of another one.
    let relay = Relay::start(&real.url).await;
    let origin = relay.url.clone();
    let cli = Cli::new(&real).with_env("TANDEM_SERVER", &relay.url);
    let email = unique_email("pin");
    cli.login(&real, &email);
    assert_eq!(pinned(&cli)["servers"][&origin]["channel_key"], real_key);

    let status = cli.json(&["session", "status"]);
    assert_eq!(status["server_key"], real_key);
    assert_eq!(status["server"], origin);
    let human = cli.run(&["session", "status"]);
    assert!(human.status.success());
    assert!(String::from_utf8_lossy(&human.stdout).contains(&real_key));

    cli.json(&["session", "logout"]);
    assert!(!cli.home().join("session.json").exists());
    assert_eq!(pinned(&cli)["servers"][&origin]["channel_key"], real_key);

    // Another server (another channel key) now answers at the same origin.
    let forged = Server::start(&Backend::Sqlite);
    let forged_key = hex::encode(common::raw::server_key(&forged.url).await);
    assert_ne!(forged_key, real_key);
    relay.switch_to(&forged.url);
    let port = origin.rsplit(':').next().unwrap();
    for spelling in [
        origin.clone(),
        format!("{origin}/"),
        format!("{origin}//"),
        format!("HTTP://127.0.0.1:{port}"),
    ] {
        let out = cli.run(&[
            "--server",
            &spelling,
            "login",
            "--email",
            &email,
            "--send-only",
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{spelling}: the forged key was accepted"
        );
        assert!(
            err.contains(&real_key) && err.contains(&forged_key) && err.contains("forget-server"),
            "{spelling}: {err}"
        );
    }
    // Refused before anything was sent: the other server never mailed a code.
    assert_eq!(forged.code_count(&email), 0);
    assert_eq!(pinned(&cli)["servers"][&origin]["channel_key"], real_key);

    // The deliberate reset: forget the pin, and the next login pins the new key.
    let out = cli.run(&[
        "--server",
        &format!("{origin}/"),
        "session",
        "forget-server",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    cli.login(&forged, &email);
    assert_eq!(pinned(&cli)["servers"][&origin]["channel_key"], forged_key);
}

/// The SDK's `KnownServers` applies the same rule.
#[tokio::test(flavor = "multi_thread")]
async fn known_servers_in_the_sdk_normalise_origins_and_refuse_a_changed_key() {
    use tandem_client::known_servers::{KnownServers, PinCheck, origin};
    assert_eq!(
        origin("HTTPS://Example.COM:443/path/?q#f").unwrap(),
        "https://example.com:443"
    );
    assert_eq!(origin("http://127.0.0.1").unwrap(), "http://127.0.0.1:80");
    assert_eq!(origin("http://[::1]:8080/").unwrap(), "http://[::1]:8080");
    assert!(origin("ftp://example.com").is_err());
    assert!(origin("http://user:pw@example.com").is_err());

    let s = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let mut known = KnownServers::open(dir.path()).unwrap();
    let api = ApiClient::new(&format!("{}/", s.server.url)).unwrap();
    let api = known.pin_server(api).await.unwrap();
    assert_eq!(api.server_key(), Some(&s.key));
    let again = KnownServers::open(dir.path()).unwrap();
    assert_eq!(again.get(&s.server.url).unwrap(), Some(s.key));
    assert_eq!(
        again.check(&s.server.url, &s.key).unwrap(),
        PinCheck::Matches
    );
    let mut other = s.key;
    other[31] ^= 1;
    let err = again
        .check(&format!("{}/x", s.server.url), &other)
        .unwrap_err();
    assert!(matches!(err, ClientError::ServerKeyChanged { .. }), "{err}");
    let mut known = again;
    assert!(known.pin(&s.server.url, other).is_err());
    assert!(known.forget(&s.server.url).unwrap());
    known.pin(&s.server.url, other).unwrap();
    assert_eq!(known.get(&s.server.url).unwrap(), Some(other));
}

/// What a fake ceremony peer does once the channel is up.
#[derive(Clone, Copy, Debug)]
enum Peer {
    /// Nothing: it never answers `start`.
    Silent,
    /// One 2 MiB WebSocket message.
    HugeSocketMessage,
    /// A 2 MiB control message in valid channel records (each far below the socket limit).
    HugeChannelMessage,
}

/// A ceremony endpoint with its own channel key, which completes the handshake and then
/// misbehaves; returns its URL and key.
async fn fake_ceremony_peer(peer: Peer) -> (String, [u8; 32]) {
    use futures_util::{SinkExt, StreamExt};
    use std::sync::{Arc, Mutex};
    use tandem_proto::channel::{Kind, StaticKeypair, respond};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

    let key = Arc::new(StaticKeypair::generate().unwrap());
    let public = key.public();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let key = key.clone();
            tokio::spawn(async move {
                let auth = Arc::new(Mutex::new(String::new()));
                let seen = auth.clone();
                #[allow(clippy::result_large_err)]
                let callback = move |req: &Request, resp: Response| {
                    if let Some(h) = req.headers().get("authorization") {
                        *seen.lock().unwrap() = h.to_str().unwrap().to_owned();
                    }
                    Ok(resp)
                };
                let mut ws = tokio_tungstenite::accept_hdr_async(tcp, callback)
                    .await
                    .unwrap();
                let token = auth
                    .lock()
                    .unwrap()
                    .trim_start_matches("Bearer ")
                    .to_owned();
                let Some(Ok(Message::Binary(msg1))) = ws.next().await else {
                    return;
                };
                let (mut secure, msg2) = respond(&key, &token, &msg1).unwrap();
                ws.send(Message::Binary(msg2.into())).await.unwrap();
                match peer {
                    Peer::Silent => {}
                    Peer::HugeSocketMessage => {
                        let _ = ws.send(Message::Binary(vec![7u8; 2 << 20].into())).await;
                    }
                    Peer::HugeChannelMessage => {
                        for record in secure.seal(Kind::Control, &vec![b' '; 2 << 20]).unwrap() {
                            if ws.send(Message::Binary(record.into())).await.is_err() {
                                break;
                            }
                        }
                    }
                }
                // Keep the socket open until the device leaves.
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    (url, public)
}

/// The device bounds what it waits for and what it accepts inside the channel too: a peer
/// that goes silent after the handshake hits the (SDK-configured) round deadline, and a
/// message over 1 MiB is refused, whether in one socket message or reassembled from records.
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_or_flooding_ceremony_peer_is_cut_off() {
    let cheap = KdfParams {
        m_kib: 256,
        t: 1,
        p: 1,
    };
    for peer in [
        Peer::Silent,
        Peer::HugeSocketMessage,
        Peer::HugeChannelMessage,
    ] {
        let (url, key) = fake_ceremony_peer(peer).await;
        let timeouts = tandem_client::Timeouts::uniform(std::time::Duration::from_secs(2));
        let api = ApiClient::new(&url)
            .unwrap()
            .with_timeouts(timeouts)
            .unwrap()
            .with_token("tdm_fake")
            .with_server_key(key);
        let dir = tempfile::tempdir().unwrap();
        let store = ShareStore::open_with(dir.path(), "channel test passphrase", cheap).unwrap();
        let device = Device::new(api, store);
        let start = std::time::Instant::now();
        let err = device.create_wallet(Chain::Evm, None).await.unwrap_err();
        let took = start.elapsed();
        match peer {
            Peer::Silent => {
                assert!(
                    matches!(
                        err,
                        ClientError::Timeout {
                            step: tandem_client::TimeoutStep::Round,
                            ..
                        }
                    ),
                    "{peer:?}: {err}"
                );
                assert!(took >= std::time::Duration::from_secs(2), "{took:?}");
            }
            _ => assert!(
                matches!(err, ClientError::TooLarge { limit, .. } if limit == 1 << 20),
                "{peer:?}: {err}"
            ),
        }
        assert!(
            took < std::time::Duration::from_secs(10),
            "{peer:?}: {took:?}"
        );
        assert!(device.store().wallets().unwrap().is_empty());
    }
}
