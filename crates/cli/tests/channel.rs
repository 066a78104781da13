//! The end-to-end encrypted ceremony channel, attacked by a man in the middle on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http::Http;
use common::mitm::{Dir, Mitm, Tamper};
use common::verify::recover_personal;
use common::{Backend, Server, unique_email};
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
        ShareStore::open_with(&s.store_dir, "pass phrase", cheap).unwrap(),
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
        ShareStore::open_with(dir.path(), "pass phrase", cheap).unwrap(),
    );
    let err = dev.create_wallet(Chain::Evm, None).await.unwrap_err();
    assert!(
        err.code() == Some(tandem_proto::ErrorCode::ChannelError)
            || matches!(err, ClientError::Channel(_)),
        "{err}"
    );
}
