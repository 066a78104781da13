//! Issue 11: the device against a hostile network and a hostile server.
//!
//! - The network: a proxy between the device and the real server (`common::proxy`) that
//!   rewrites HTTP answers and drops, stalls, duplicates or cuts ceremony messages, as a
//!   TLS-terminating proxy without the server's channel key can.
//! - The server: lies told inside the channel (`server.lie.*`, compiled in only with the
//!   `failpoints` feature of tandem-server), as a server holding its channel key can.
//!
//! Whatever the lie, the device must keep a share that pairs with the server's (it never
//! deletes or overwrites its last usable share), must not hang, and once the lie ends it signs
//! again: every signature here is checked with an independent verifier (alloy ecrecover,
//! ed25519-dalek), on EVM and Solana.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use common::http::Http;
use common::proxy::{Answer, Dir, Proxy, WsFault};
use common::verify::{recover_personal, solana_offchain_bytes, unhex, verify_ed25519};
use common::{Backend, Server, ServerOptions, unique_email};
use tandem_client::reconcile::Reconciled;
use tandem_client::store::KdfParams;
use tandem_client::{ApiClient, ClientError, Device, ShareStore};
use tandem_proto::sign::{Encoding, SignPayload};
use tandem_proto::wallet::{Chain, WalletInfo};

const CHAINS: [Chain; 2] = [Chain::Evm, Chain::Solana];

const CHEAP: KdfParams = KdfParams {
    m_kib: 256,
    t: 1,
    p: 1,
};

/// A hang is a failure, not a stuck test.
async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(120), f)
        .await
        .expect("timed out")
}

/// One user, the real server (restartable in place), the proxy in front of it, one device
/// store.
struct Rig {
    backend: Backend,
    server: Option<Server>,
    proxy: Proxy,
    token: String,
    server_key: [u8; 32],
    store_dir: tempfile::TempDir,
}

impl Rig {
    async fn start(backend: &Backend, lie: Option<&str>) -> Rig {
        let mut opts = lied(lie);
        opts.env.extend(shared_kek_env(backend));
        let server = Server::start_with(backend, opts);
        let token = Http::new(&server)
            .login(&server, &unique_email("hostile"))
            .await;
        let server_key = common::raw::server_key(&server.url).await;
        let proxy = Proxy::start(&server.url).await;
        Rig {
            backend: backend.clone(),
            server: Some(server),
            proxy,
            token,
            server_key,
            store_dir: tempfile::tempdir().unwrap(),
        }
    }

    fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    /// The lie ends: the same server, data and address, restarted honest.
    fn restart_honest(&mut self) {
        let server = self.server.take().unwrap();
        let opts = ServerOptions {
            env: shared_kek_env(&self.backend),
            args: Vec::new(),
        };
        self.server = Some(server.restart_with(&self.backend, opts));
    }

    /// A device talking through the proxy, with a fresh handle on the store.
    fn device(&self) -> Device {
        self.device_at(&self.proxy.url)
    }

    fn device_at(&self, url: &str) -> Device {
        let api = ApiClient::new(url)
            .unwrap()
            .with_token(self.token.clone())
            .with_server_key(self.server_key);
        let store = ShareStore::open_with(self.store_dir.path(), "hostile passphrase", CHEAP);
        Device::new(api, store.unwrap())
    }

    /// The wallet as the real server has it (asked directly, past the proxy).
    async fn truth(&self, wallet_id: &str) -> WalletInfo {
        let api = ApiClient::new(&self.server().url)
            .unwrap()
            .with_token(self.token.clone());
        api.wallet(wallet_id).await.unwrap()
    }

    /// The device still holds the share that pairs with the server's: the one at the server's
    /// epoch, current or staged.
    async fn expect_pair_kept(&self, device: &Device, wallet_id: &str, case: &str) {
        let epoch = self.truth(wallet_id).await.epoch;
        assert!(
            device.store().get(wallet_id, epoch).is_ok(),
            "{case}: the device lost its share at the server's epoch {epoch} (current {:?}, staged {:?})",
            device.store().current_epochs(wallet_id).unwrap(),
            device.store().staged_epochs(wallet_id).unwrap(),
        );
    }
}

/// The servers started on one PostgreSQL database are one deployment: they share its KEK.
fn shared_kek_env(backend: &Backend) -> Vec<(String, String)> {
    static KEYS: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<String, tempfile::TempDir>>,
    > = std::sync::OnceLock::new();
    let Backend::Postgres(url) = backend else {
        return Vec::new();
    };
    let mut keys = KEYS.get_or_init(Default::default).lock().unwrap();
    let dir = keys
        .entry(url.clone())
        .or_insert_with(|| tempfile::tempdir().unwrap());
    let file = dir.path().join("keys").join("server-kek.key");
    vec![("TANDEM_VAULT__KEY_FILE".into(), file.display().to_string())]
}

fn lied(lie: Option<&str>) -> ServerOptions {
    let env = match lie {
        Some(name) => vec![("TANDEM_FAILPOINTS".to_owned(), format!("{name}=return"))],
        None => Vec::new(),
    };
    ServerOptions {
        env,
        args: Vec::new(),
    }
}

async fn sign_and_verify(device: &Device, wallet: &WalletInfo, text: &str) {
    match wallet.chain {
        Chain::Evm => {
            let payload = SignPayload::EvmMessage {
                message: text.to_owned(),
                encoding: Encoding::Utf8,
            };
            let r = bounded(device.sign(&wallet.id, &payload, None))
                .await
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            let signer = recover_personal(text.as_bytes(), &r.signature);
            assert_eq!(signer.to_checksum(None), wallet.address, "{text}");
        }
        Chain::Solana => {
            let payload = SignPayload::SolanaMessage {
                message: text.to_owned(),
                encoding: Encoding::Utf8,
            };
            let r = bounded(device.sign(&wallet.id, &payload, None))
                .await
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            let pk = unhex(&wallet.public_key);
            verify_ed25519(
                &pk,
                &solana_offchain_bytes(&pk, text.as_bytes()),
                &r.signature,
            );
        }
    }
}

/// Rewrites the epoch in `GET /v1/wallets/{id}` answers.
fn forge_epoch(wallet_id: &str, epoch: u64) -> common::proxy::HttpRewrite {
    let path = format!("/v1/wallets/{wallet_id}");
    Arc::new(move |a: &Answer| {
        if a.method != "GET" || a.path != path {
            return None;
        }
        let mut v: serde_json::Value = serde_json::from_slice(&a.body).ok()?;
        v["epoch"] = epoch.into();
        Some((200, serde_json::to_vec(&v).unwrap()))
    })
}

/// Answers every wallet lookup with `wallet_not_found`.
fn forge_not_found() -> common::proxy::HttpRewrite {
    Arc::new(|a: &Answer| {
        if !a.path.starts_with("/v1/wallets") {
            return None;
        }
        let body = serde_json::json!({"code": "wallet_not_found", "message": "wallet not found"});
        Some((404, serde_json::to_vec(&body).unwrap()))
    })
}

/// Refreshes through the proxy with its last device→server message cut: the device has staged
/// the new share, the server never saw the end of the test signature and did not commit.
async fn interrupted_refresh(rig: &Rig, device: &Device, wallet: &WalletInfo) {
    // An honest refresh first, to learn how many messages the device sends in one: on a
    // device with no pooled socket and nothing to settle, its socket is the next one.
    sign_and_verify(device, wallet, "before an honest refresh").await;
    let sockets = rig.proxy.counts().len();
    bounded(rig.device().refresh(&wallet.id, None))
        .await
        .unwrap();
    let (sent, _) = rig.proxy.counts()[sockets];
    sign_and_verify(device, wallet, "after an honest refresh").await;
    let before = rig.truth(&wallet.id).await.epoch;
    rig.proxy.fault(WsFault::Cut(Dir::ToServer, sent - 1));
    bounded(device.refresh(&wallet.id, None))
        .await
        .expect_err("the refresh was cut");
    rig.proxy.honest();
    assert_eq!(
        rig.truth(&wallet.id).await.epoch,
        before,
        "the server committed"
    );
    let (staged, _) = device.store().staged(&wallet.id).unwrap().unwrap();
    assert_eq!(staged, before + 1);
}

/// Defect 1: after an interrupted refresh, a forged HTTP epoch (equal to the staged one, or
/// past it) used to promote or discard the staged share and delete the current one, leaving
/// the device with a share the server does not have. Now the HTTP answer is only a hint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_http_epochs_never_settle_a_share() {
    let rig = Rig::start(&Backend::Sqlite, None).await;
    for chain in CHAINS {
        let device = rig.device();
        let wallet = bounded(device.create_wallet(chain, None)).await.unwrap();
        interrupted_refresh(&rig, &device, &wallet).await;
        let epoch = rig.truth(&wallet.id).await.epoch;
        for forged in [epoch + 1, epoch + 2, 0] {
            rig.proxy.rewrite_http(forge_epoch(&wallet.id, forged));
            // What `tandem wallet show` runs, a reconcile, then a signature.
            let shown = bounded(device.wallet(&wallet.id)).await.unwrap();
            assert_eq!(shown.epoch, forged, "the forgery did not reach the device");
            bounded(device.reconcile()).await.unwrap();
            rig.expect_pair_kept(&device, &wallet.id, &format!("forged epoch {forged}"))
                .await;
            sign_and_verify(&device, &wallet, &format!("under forged epoch {forged}")).await;
            assert_eq!(
                device.store().staged(&wallet.id).unwrap().unwrap().0,
                epoch + 1
            );
        }
        assert!(rig.proxy.forged() > 0);
        rig.proxy.honest();
        let fresh = rig.device();
        sign_and_verify(&fresh, &wallet, "after the lies").await;
        let refreshed = bounded(fresh.refresh(&wallet.id, None)).await.unwrap();
        assert_eq!(refreshed.epoch, epoch + 1);
        assert_eq!(fresh.store().staged(&wallet.id).unwrap(), None);
        sign_and_verify(&fresh, &refreshed, "refreshed after the lies").await;
    }
}

/// Defect 1, keygen: a forged `wallet_not_found` used to drop a staged keygen share past its
/// grace although the server had committed the wallet. Even with a zero grace, only the
/// server's in-channel answer counts now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_wallet_not_found_never_drops_a_committed_keygen_share() {
    let rig = Rig::start(&Backend::Sqlite, None).await;
    for chain in CHAINS {
        let device = rig.device().with_keygen_grace(Duration::ZERO);
        // An honest keygen, to learn how many messages the server sends in one.
        bounded(device.create_wallet(chain, None)).await.unwrap();
        let (_, received) = *rig.proxy.counts().last().unwrap();
        let known = device.store().wallets().unwrap();
        // `keygen_done` is cut: the server committed, the device holds the share staged.
        rig.proxy.fault(WsFault::Cut(Dir::ToDevice, received - 1));
        bounded(device.create_wallet(chain, None))
            .await
            .expect_err("keygen_done was cut");
        rig.proxy.honest();
        let new: Vec<String> = device
            .store()
            .wallets()
            .unwrap()
            .into_iter()
            .filter(|w| !known.contains(w))
            .collect();
        let [wallet_id] = new.as_slice() else {
            panic!("expected one new staged wallet: {new:?}");
        };
        let truth = rig.truth(wallet_id).await;
        assert_eq!(device.store().staged(wallet_id).unwrap().unwrap().0, 0);

        rig.proxy.rewrite_http(forge_not_found());
        let err = bounded(device.wallet(wallet_id)).await.unwrap_err();
        assert_eq!(err.code(), Some(tandem_proto::ErrorCode::WalletNotFound));
        let settled = bounded(device.reconcile()).await.unwrap();
        assert!(
            settled.contains(&(wallet_id.clone(), Reconciled::Promoted { epoch: 0 })),
            "{settled:?}"
        );
        sign_and_verify(&device, &truth, "keygen kept under a forged not-found").await;
        rig.proxy.honest();
        sign_and_verify(&rig.device(), &truth, "keygen after the lie").await;
    }
}

/// The server lies inside the channel once per wallet; each lie is one message the device acts
/// on. After it, the device signs again (possibly only once the server is honest again).
async fn server_lie_case(backend: &Backend, lie: &str) {
    let mut rig = Rig::start(backend, Some(lie)).await;
    let device = rig.device();
    let mut wallets = Vec::new();
    let mut cut_keygens: Vec<String> = Vec::new();
    for chain in CHAINS {
        let r = bounded(device.create_wallet(chain, None)).await;
        let wallet = match (lie, r) {
            ("server.lie.keygen_done_other_wallet", Err(e)) => {
                assert!(matches!(e, ClientError::Protocol(_)), "{lie}: {e}");
                let settled = bounded(device.reconcile()).await.unwrap();
                let (id, how) = settled.last().cloned().unwrap();
                assert_eq!(how, Reconciled::Promoted { epoch: 0 }, "{lie}");
                rig.truth(&id).await
            }
            (_, Ok(w)) => w,
            (_, Err(e)) => panic!("{lie}: keygen: {e}"),
        };
        if lie != "server.lie.signed_other" {
            sign_and_verify(&device, &wallet, &format!("{lie}: created")).await;
        }
        wallets.push(wallet);
    }
    for wallet in &wallets {
        let case = format!("{lie} on {:?} ({})", wallet.chain, backend.name());
        match lie {
            "server.lie.committed_epoch" => {
                let err = bounded(device.refresh(&wallet.id, None)).await.unwrap_err();
                assert!(matches!(err, ClientError::Protocol(_)), "{case}: {err}");
                rig.expect_pair_kept(&device, &wallet.id, &case).await;
                // The in-channel status shows the commit: promoted, signs at the new epoch.
                sign_and_verify(&device, wallet, &case).await;
                assert_eq!(
                    device.store().current_epochs(&wallet.id).unwrap(),
                    [rig.truth(&wallet.id).await.epoch],
                    "{case}: the previous share outlived a signature at the new epoch"
                );
            }
            "server.lie.committed_without_commit" => {
                bounded(device.refresh(&wallet.id, None))
                    .await
                    .expect("the device cannot tell this lie from a commit");
                rig.expect_pair_kept(&device, &wallet.id, &case).await;
                // The next signature finds the server at the old epoch and rolls back.
                sign_and_verify(&device, wallet, &case).await;
                assert_eq!(
                    device.store().current(&wallet.id).unwrap().unwrap().0,
                    rig.truth(&wallet.id).await.epoch
                );
            }
            "server.lie.status_not_found" => {
                // A staged refresh share next to the current one: the in-channel "no such
                // wallet" settles nothing, and the current share still signs.
                interrupted_refresh(&rig, &device, wallet).await;
                let staged = device.store().staged(&wallet.id).unwrap().map(|s| s.0);
                sign_and_verify(&device, wallet, &case).await;
                rig.expect_pair_kept(&device, &wallet.id, &case).await;
                assert_eq!(
                    device.store().staged(&wallet.id).unwrap().map(|s| s.0),
                    staged,
                    "{case}: the staged share was settled on a lie"
                );
                // A keygen whose `keygen_done` was cut: within the grace the share is kept
                // whatever the channel says; once the lie ends, reconcile promotes it.
                let known = device.store().wallets().unwrap();
                let honest = rig.device();
                bounded(honest.create_wallet(wallet.chain, None))
                    .await
                    .unwrap();
                let (_, received) = *rig.proxy.counts().last().unwrap();
                let known_after_honest = device.store().wallets().unwrap();
                rig.proxy.fault(WsFault::Cut(Dir::ToDevice, received - 1));
                bounded(device.create_wallet(wallet.chain, None))
                    .await
                    .expect_err("keygen_done was cut");
                rig.proxy.honest();
                let cut: Vec<String> = device
                    .store()
                    .wallets()
                    .unwrap()
                    .into_iter()
                    .filter(|w| !known_after_honest.contains(w) && !known.contains(w))
                    .collect();
                let [cut] = cut.as_slice() else {
                    panic!("{case}: expected one staged keygen share: {cut:?}");
                };
                let settled = bounded(device.reconcile()).await.unwrap();
                assert!(
                    settled.contains(&(cut.clone(), Reconciled::Kept { epoch: 0 })),
                    "{case}: {settled:?}"
                );
                cut_keygens.push(cut.clone());
            }
            "server.lie.signed_other" => {
                // The device never returns a signature it did not produce, keeps its share,
                // and signs again once the server tells the truth.
                let err = bounded(device.sign(&wallet.id, &message_for(wallet), None))
                    .await
                    .unwrap_err();
                assert!(matches!(err, ClientError::Protocol(_)), "{case}: {err}");
                rig.expect_pair_kept(&device, &wallet.id, &case).await;
            }
            "server.lie.test_sign_nonce" => {
                // The test signature cannot complete: nothing commits, the staged share stays
                // unused, the current one still pairs.
                let before = rig.truth(&wallet.id).await.epoch;
                let err = bounded(device.refresh(&wallet.id, None)).await.unwrap_err();
                assert_eq!(rig.truth(&wallet.id).await.epoch, before, "{case}: {err}");
                rig.expect_pair_kept(&device, &wallet.id, &case).await;
            }
            "server.lie.accepted_unfenced" => {
                // An earlier refresh left staged shares on both sides; the next refresh's
                // `accepted` claims to have fenced it off while the server kept its row.
                interrupted_refresh(&rig, &device, wallet).await;
                let _ = bounded(device.refresh(&wallet.id, None)).await;
                rig.expect_pair_kept(&device, &wallet.id, &case).await;
                sign_and_verify(&device, wallet, &case).await;
            }
            "server.lie.status_epoch" => {
                interrupted_refresh(&rig, &device, wallet).await;
                // The status claims the staged epoch: promoted, but the old share is kept, so
                // nothing is lost while the lie lasts.
                let r = bounded(device.sign(&wallet.id, &message_for(wallet), None)).await;
                assert!(r.is_err(), "{case}: signed at an epoch the server lacks");
                rig.expect_pair_kept(&device, &wallet.id, &case).await;
            }
            // Its case is the keygen above.
            "server.lie.keygen_done_other_wallet" => {}
            // A lie added to `SERVER_LIES` without a case here fails the run.
            other => panic!("no case for the server lie {other}"),
        }
    }
    rig.restart_honest();
    let settled = bounded(rig.device().reconcile()).await.unwrap();
    for id in &cut_keygens {
        assert!(
            settled.contains(&(id.clone(), Reconciled::Promoted { epoch: 0 })),
            "after {lie}: {settled:?}"
        );
        let truth = rig.truth(id).await;
        sign_and_verify(&rig.device(), &truth, &format!("after {lie}: cut keygen")).await;
    }
    for wallet in &wallets {
        let case = format!("after {lie} on {:?} ({})", wallet.chain, backend.name());
        let device = rig.device();
        sign_and_verify(&device, wallet, &case).await;
        let refreshed = bounded(device.refresh(&wallet.id, None)).await.unwrap();
        assert_eq!(refreshed.public_key, wallet.public_key);
        sign_and_verify(&device, &refreshed, &format!("{case}, refreshed")).await;
    }
}

fn message_for(wallet: &WalletInfo) -> SignPayload {
    match wallet.chain {
        Chain::Evm => SignPayload::EvmMessage {
            message: "lied to".into(),
            encoding: Encoding::Utf8,
        },
        Chain::Solana => SignPayload::SolanaMessage {
            message: "lied to".into(),
            encoding: Encoding::Utf8,
        },
    }
}

/// Every lie the server's failpoints can tell (`SERVER_LIES`): `server_lie_case` has an arm
/// for each and panics on one it does not know.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_lies_in_the_channel() {
    common::each_backend(|backend| async move {
        for lie in tandem_server::failpoints::SERVER_LIES {
            server_lie_case(&backend, lie).await;
        }
    })
    .await;
}

/// Every ceremony message of a refresh and of a signature, in both directions, dropped,
/// duplicated, cut or stalled: the device keeps the share that pairs with the server's, and
/// with the network honest again it signs (and refreshes) at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ceremony_messages_dropped_duplicated_cut_or_stalled_anywhere() {
    let rig = Rig::start(&Backend::Sqlite, None).await;
    for chain in CHAINS {
        let device = rig.device();
        let wallet = bounded(device.create_wallet(chain, None)).await.unwrap();
        sign_and_verify(&device, &wallet, "before the faults").await;
        // How many messages each direction carries in a refresh and in a signature.
        bounded(device.refresh(&wallet.id, None)).await.unwrap();
        let refresh = *rig.proxy.counts().last().unwrap();
        let fresh = rig.device();
        sign_and_verify(&fresh, &wallet, "counting a signature").await;
        let sign = *rig.proxy.counts().last().unwrap();
        // A second signature on the same socket takes the pipelined path (docs/server.md).
        sign_and_verify(&fresh, &wallet, "counting a pipelined signature").await;
        let both = *rig.proxy.counts().last().unwrap();
        let pipelined = (both.0 - sign.0, both.1 - sign.1);
        println!(
            "{chain:?}: refresh sends {refresh:?} messages, a signature {sign:?}, \
             a pipelined one {pipelined:?}"
        );
        for (op, (up, down)) in [
            ("refresh", refresh),
            ("sign", sign),
            ("pipelined sign", pipelined),
        ] {
            for (dir, n) in [(Dir::ToServer, up), (Dir::ToDevice, down)] {
                // The pipelined signature follows an honest one on its socket.
                let offset = match (op, dir) {
                    ("pipelined sign", Dir::ToServer) => sign.0,
                    ("pipelined sign", Dir::ToDevice) => sign.1,
                    _ => 0,
                };
                for at in positions(n).into_iter().map(|at| at + offset) {
                    for fault in [
                        WsFault::Drop(dir, at),
                        WsFault::Duplicate(dir, at),
                        WsFault::Cut(dir, at),
                        WsFault::Stall(dir, at),
                    ] {
                        let case = format!("{chain:?} {op}: {fault:?}");
                        // A fresh device each time: a pooled socket would shift the count.
                        let device = rig.device();
                        rig.proxy.fault(fault);
                        let attempt = async {
                            if op == "pipelined sign" {
                                device
                                    .sign(&wallet.id, &message_for(&wallet), None)
                                    .await
                                    .expect("the signature before the fault");
                            }
                            match op {
                                "refresh" => device.refresh(&wallet.id, None).await.map(|_| ()),
                                _ => device
                                    .sign(&wallet.id, &message_for(&wallet), None)
                                    .await
                                    .map(|_| ()),
                            }
                        };
                        // A stalled ceremony has no end of its own on the device yet (issue 11,
                        // item 3): it is abandoned here, which is also what a crash does.
                        let _ = tokio::time::timeout(Duration::from_secs(4), attempt).await;
                        drop(device);
                        rig.proxy.honest();
                        let device = rig.device();
                        rig.expect_pair_kept(&device, &wallet.id, &case).await;
                        sign_and_verify(&device, &wallet, &case).await;
                    }
                }
            }
        }
        let refreshed = bounded(rig.device().refresh(&wallet.id, None))
            .await
            .unwrap();
        sign_and_verify(&rig.device(), &refreshed, "after every fault").await;
    }
}

/// Positions to hit in a direction carrying `n` messages: the first two (handshake, `start` or
/// `accepted`), two in the MPC rounds and the last two (the end of the test signature,
/// `committed`, `signed`).
fn positions(n: usize) -> Vec<usize> {
    let mut p: Vec<usize> = [
        0,
        1,
        n / 3,
        2 * n / 3,
        n.saturating_sub(2),
        n.saturating_sub(1),
    ]
    .into_iter()
    .filter(|&i| i < n)
    .collect();
    p.sort_unstable();
    p.dedup();
    p
}

mod lock {
    //! Defect 5: the device's lock on cheating.
    use super::*;
    use common::evil::EvilServer;
    use tandem_client::ceremony::{self, Socket};
    use tandem_mpc::ecdsa::Secp256k1;
    use tandem_mpc::testing::{OtField, tamper_ecdsa_sign_ot};

    fn cheat() -> common::evil::Rewrite {
        Arc::new(|f: &[u8]| {
            tamper_ecdsa_sign_ot(f, OtField::MultiplicationTau)
                .or_else(|| tamper_ecdsa_sign_ot(f, OtField::ExtensionU))
        })
    }

    async fn evil(rig: &Rig) -> EvilServer {
        let key = std::fs::read(rig.server().data_dir.join("server-channel.key")).unwrap();
        EvilServer::start(&rig.server().url, &key, cheat()).await
    }

    /// Another ceremony on the wallet, waiting on the network, stops the moment one catches
    /// the server cheating; nothing public runs around the lock afterwards.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cheating_stops_the_wallets_other_ceremonies_at_once() {
        let rig = Rig::start(&Backend::Sqlite, None).await;
        let honest = rig.device_at(&rig.server().url);
        let wallet = bounded(honest.create_wallet(Chain::Evm, None))
            .await
            .unwrap();
        let other = bounded(honest.create_wallet(Chain::Evm, None))
            .await
            .unwrap();
        sign_and_verify(&honest, &wallet, "before").await;

        // A signature held up by the network after `accepted`.
        rig.proxy.fault(WsFault::Stall(Dir::ToDevice, 2));
        let waiting = rig.device();
        let id = wallet.id.clone();
        let held = tokio::spawn(async move {
            waiting
                .sign(&id, &message_for_evm("held"), None)
                .await
                .map(|_| ())
        });
        while rig.proxy.counts().last().is_none_or(|&(_, down)| down < 3) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!held.is_finished());

        let evil = evil(&rig).await;
        let fooled = rig.device_at(&evil.url);
        let err = bounded(fooled.sign(&wallet.id, &message_for_evm("x"), None))
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Cheating(_)), "{err}");
        let stopped = tokio::time::timeout(Duration::from_secs(5), held)
            .await
            .expect("the other ceremony went on after the cheat")
            .unwrap();
        assert!(
            matches!(stopped, Err(ClientError::ShareLocked(_))),
            "{stopped:?}"
        );
        rig.proxy.honest();

        // No public path around the lock.
        assert!(honest.is_locked(&wallet.id).unwrap());
        let err = honest.share::<Secp256k1>(&wallet.id).unwrap_err();
        assert!(matches!(err, ClientError::ShareLocked(_)), "{err}");
        let share = {
            let (_, bytes) = honest.store().current(&wallet.id).unwrap().unwrap();
            tandem_mpc::KeyShare::<Secp256k1>::from_bytes(&bytes).unwrap()
        };
        let mut socket = Socket::connect(honest.api()).await.unwrap();
        let guard = honest.guard(&wallet.id).unwrap();
        let err = ceremony::sign(&mut socket, &guard, &share, &message_for_evm("y"), None)
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::ShareLocked(_)), "{err}");
        let socket = Socket::connect(honest.api()).await.unwrap();
        let err = ceremony::refresh(socket, &guard, &share, tandem_mpc::RefreshMode::Fast, None)
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::ShareLocked(_)), "{err}");
        sign_and_verify(&honest, &other, "another wallet").await;

        // A complete refresh with the real server unlocks it.
        let refreshed = bounded(honest.refresh_complete(&wallet.id, None))
            .await
            .unwrap();
        assert!(!honest.is_locked(&wallet.id).unwrap());
        sign_and_verify(&honest, &refreshed, "unlocked").await;
    }

    /// The lock is on disk before the device lets go of the socket to the cheater.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_lock_is_durable_before_the_socket_closes() {
        let rig = Rig::start(&Backend::Sqlite, None).await;
        let honest = rig.device_at(&rig.server().url);
        let wallet = bounded(honest.create_wallet(Chain::Evm, None))
            .await
            .unwrap();
        let evil = evil(&rig).await;
        // The device reaches the cheater through the proxy, which looks for the marker the
        // instant the device's side of the socket closes.
        let proxy = Proxy::start(&evil.url).await;
        let marker = rig
            .store_dir
            .path()
            .join("shares")
            .join(&wallet.id)
            .join("locked");
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        proxy.on_device_close(Arc::new(move || {
            seen2.lock().unwrap().push(marker.exists());
        }));
        let fooled = rig.device_at(&proxy.url);
        let err = bounded(fooled.sign(&wallet.id, &message_for_evm("x"), None))
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Cheating(_)), "{err}");
        drop(fooled);
        for _ in 0..100 {
            if !seen.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(*seen.lock().unwrap(), [true]);
    }

    fn message_for_evm(text: &str) -> SignPayload {
        SignPayload::EvmMessage {
            message: text.into(),
            encoding: Encoding::Utf8,
        }
    }
}
