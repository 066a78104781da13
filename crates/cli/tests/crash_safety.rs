//! The crash matrix of issue 4 (docs/crash-safety.md): for every named failpoint of keygen
//! and refresh, on the server (`kill -9` at the point, through `TANDEM_FAILPOINTS=name=kill`)
//! and on the device (the SDK call returns at the point and its socket is dropped), crash
//! there, restart, reconnect, reconcile, and check:
//!
//! - keygen: a consistent pair (server row + share, device share, a signature by the pair that
//!   verifies independently) or nothing on either side, and exactly the one the step implies;
//! - refresh: the wallet signs under the unchanged public key at the epoch the step implies;
//!   the database holds exactly one share row for it, at that epoch (the old epoch's sealed
//!   share gone after a commit); the device's current share is of that epoch; a further
//!   refresh and signature succeed.
//!
//! Signing (security bar C2) persists nothing: the server is killed at each of its steps and
//! the check is that nothing changed and the wallet signs again.
//!
//! Server cases run on SQLite and PostgreSQL (skipped with a reason when PostgreSQL is
//! unreachable, unless `TANDEM_REQUIRE_PEERS=1`); device cases on SQLite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::future::Future;
use std::os::unix::process::ExitStatusExt as _;
use std::time::{Duration, Instant};

use common::http::Http;
use common::verify::{recover_personal, solana_offchain_bytes, unhex, verify_ed25519};
use common::{Backend, Server, ServerOptions, unique_email};
use tandem_client::reconcile::Reconciled;
use tandem_client::store::KdfParams;
use tandem_client::{ApiClient, Device, ShareStore};
use tandem_proto::sign::{Encoding, SignPayload};
use tandem_proto::wallet::{Chain, WalletInfo};
use tandem_server::store::Store;
use tandem_server::wallets::testing::{share_rows, wallet_ids_of, wallets_without_current_share};

/// Device cases arm failpoints in this process's global registry, which every in-process
/// ceremony would hit: they take this lock exclusively, server cases share it.
static FAILPOINT_REGISTRY: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// What a keygen interrupted at a step must leave behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keygen {
    /// Nothing on either side.
    Nothing,
    /// A consistent pair.
    Pair,
    /// Either (the device died after `stored` left it: whether the server read it is a race).
    Either,
}

const SERVER_KEYGEN: &[(&str, Keygen)] = &[
    ("server.keygen.before_insert", Keygen::Nothing),
    ("server.keygen.before_commit", Keygen::Nothing),
    ("server.keygen.after_commit", Keygen::Pair),
    ("server.keygen.before_reply", Keygen::Pair),
];

/// Refresh steps and whether the new epoch is committed after a crash there.
const SERVER_REFRESH: &[(&str, bool)] = &[
    ("server.refresh.after_stage", false),
    ("server.refresh.before_commit", false),
    ("server.refresh.after_delete_old", false),
    ("server.refresh.after_commit", true),
    ("server.refresh.before_reply", true),
];

/// Signing steps (security bar C2) and whether the signature may already have reached the
/// device when the server dies there.
const SERVER_SIGN: &[(&str, bool)] = &[
    ("server.sign.after_accept", false),
    ("server.sign.after_rounds", false),
    ("server.sign.before_reply", false),
    ("server.sign.after_reply", true),
];

const CLIENT_KEYGEN: &[(&str, Keygen)] = &[
    ("client.keygen.before_store", Keygen::Nothing),
    ("client.keygen.after_store", Keygen::Nothing),
    ("client.keygen.after_send_stored", Keygen::Either),
    ("client.keygen.before_promote", Keygen::Pair),
    ("client.keygen.after_promote", Keygen::Pair),
];

const CLIENT_REFRESH: &[(&str, bool)] = &[
    ("client.refresh.after_stage", false),
    ("client.refresh.before_promote", true),
    ("client.refresh.after_promote", true),
];

#[test]
fn every_failpoint_is_in_the_matrix() {
    let mut tested: Vec<&str> = SERVER_KEYGEN.iter().map(|c| c.0).collect();
    tested.extend(SERVER_REFRESH.iter().map(|c| c.0));
    tested.extend(SERVER_SIGN.iter().map(|c| c.0));
    let mut declared = tandem_server::failpoints::SERVER_FAILPOINTS.to_vec();
    assert_eq!(tested, declared);
    tested = CLIENT_KEYGEN.iter().map(|c| c.0).collect();
    tested.extend(CLIENT_REFRESH.iter().map(|c| c.0));
    declared = tandem_client::failpoints::CLIENT_FAILPOINTS.to_vec();
    assert_eq!(tested, declared);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_during_keygen() {
    let _shared = FAILPOINT_REGISTRY.read().await;
    common::each_backend(|backend| async move {
        for (i, &(failpoint, expect)) in SERVER_KEYGEN.iter().enumerate() {
            let chain = if i % 2 == 0 {
                Chain::Evm
            } else {
                Chain::Solana
            };
            server_keygen_case(&backend, failpoint, chain, expect).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_during_refresh() {
    let _shared = FAILPOINT_REGISTRY.read().await;
    common::each_backend(|backend| async move {
        for &(failpoint, committed) in SERVER_REFRESH {
            server_refresh_case(&backend, failpoint, committed).await;
        }
    })
    .await;
}

/// C2: the server killed at every step of a signature, on both chains. Signing persists
/// nothing, so after a restart nothing may be left: the wallet active at the same epoch with
/// its one current share row, the device's share unlocked and unstaged, and the wallet signs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_during_signing() {
    let _shared = FAILPOINT_REGISTRY.read().await;
    common::each_backend(|backend| async move {
        let mut h = Harness::start(&backend, ServerOptions::default()).await;
        let wallets = h.two_wallets().await;
        for &(failpoint, may_release) in SERVER_SIGN {
            for wallet in &wallets {
                h.restart(armed(failpoint));
                let device = h.device().await;
                let text = format!("killed at {failpoint}");
                match bounded(device.sign(&wallet.id, &payload(wallet, &text), None)).await {
                    Ok(r) => {
                        assert!(may_release, "{failpoint}: signed although the server died");
                        verify(wallet, &text, &r.signature);
                    }
                    Err(e) => assert!(
                        !matches!(e, tandem_client::ClientError::Cheating(_)),
                        "{failpoint}: {e}"
                    ),
                }
                assert!(
                    !device.is_locked(&wallet.id).unwrap(),
                    "{failpoint}: a crash locked the device's share"
                );
                drop(device);
                h.expect_killed_at(failpoint);
                h.restart(ServerOptions::default());
                h.check_after_sign_crash(wallet, failpoint).await;
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_dropped_during_keygen_and_refresh() {
    let _exclusive = FAILPOINT_REGISTRY.write().await;
    for (i, &(failpoint, expect)) in CLIENT_KEYGEN.iter().enumerate() {
        let chain = if i % 2 == 0 {
            Chain::Evm
        } else {
            Chain::Solana
        };
        client_keygen_case(failpoint, chain, expect).await;
    }
    for &(failpoint, committed) in CLIENT_REFRESH {
        client_refresh_case(failpoint, committed).await;
    }
}

async fn server_keygen_case(backend: &Backend, failpoint: &str, chain: Chain, expect: Keygen) {
    let mut h = Harness::start(backend, armed(failpoint)).await;
    let device = h.device().await;
    bounded(device.create_wallet(chain, None))
        .await
        .expect_err("keygen cannot succeed when the server dies in it");
    drop(device);
    h.expect_killed_at(failpoint);
    h.restart(ServerOptions::default());
    let got = h.check_keygen(chain, failpoint).await;
    assert_eq!(got, expect, "{failpoint} on {}", backend.name());
}

async fn server_refresh_case(backend: &Backend, failpoint: &str, committed: bool) {
    let mut h = Harness::start(backend, armed(failpoint)).await;
    let wallets = h.two_wallets().await;
    for (i, wallet) in wallets.iter().enumerate() {
        let device = h.device().await;
        bounded(device.refresh(&wallet.id, None))
            .await
            .expect_err("refresh cannot succeed when the server dies in it");
        drop(device);
        h.expect_killed_at(failpoint);
        // Armed once more for the second wallet, then a clean server for the checks.
        let next = if i == 0 {
            armed(failpoint)
        } else {
            ServerOptions::default()
        };
        h.restart(next);
    }
    for wallet in &wallets {
        h.check_refresh(wallet, committed, failpoint).await;
    }
}

async fn client_keygen_case(failpoint: &str, chain: Chain, expect: Keygen) {
    let mut h = Harness::start(&Backend::Sqlite, ServerOptions::default()).await;
    let device = h.device().await;
    {
        let _armed = fail::FailGuard::new(failpoint, "return").unwrap();
        let err = bounded(device.create_wallet(chain, None))
            .await
            .expect_err("the failpoint ends the call");
        assert!(err.to_string().contains(failpoint), "{err}");
    }
    // The device "restarts" too: every later step uses a fresh handle on its store.
    drop(device);
    // Stopping the server also ends any ceremony task it still ran for the dropped device, so
    // nothing can commit behind the reconcile below.
    h.restart(ServerOptions::default());
    let got = h.check_keygen(chain, failpoint).await;
    match expect {
        Keygen::Either => assert_ne!(got, Keygen::Either),
        _ => assert_eq!(got, expect, "{failpoint}"),
    }
}

async fn client_refresh_case(failpoint: &str, committed: bool) {
    let mut h = Harness::start(&Backend::Sqlite, ServerOptions::default()).await;
    let wallets = h.two_wallets().await;
    {
        let _armed = fail::FailGuard::new(failpoint, "return").unwrap();
        for wallet in &wallets {
            let device = h.device().await;
            let err = bounded(device.refresh(&wallet.id, None))
                .await
                .expect_err("the failpoint ends the call");
            assert!(err.to_string().contains(failpoint), "{err}");
        }
    }
    h.restart(ServerOptions::default());
    for wallet in &wallets {
        h.check_refresh(wallet, committed, failpoint).await;
    }
}

fn armed(failpoint: &str) -> ServerOptions {
    ServerOptions {
        env: vec![("TANDEM_FAILPOINTS".into(), format!("{failpoint}=kill"))],
        args: Vec::new(),
    }
}

/// The cases on one PostgreSQL database are one deployment: they must share its KEK (the
/// database records which KEK is active, and a server without that key refuses to start).
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

fn with_env(mut opts: ServerOptions, env: &[(String, String)]) -> ServerOptions {
    opts.env.extend(env.iter().cloned());
    opts
}

/// Every ceremony here ends quickly or not at all; a hang is a failure, not a stuck test.
async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(120), f)
        .await
        .expect("timed out")
}

/// One user, one server (restarted in place), one device store.
struct Harness {
    backend: Backend,
    /// Environment every start and restart gets (the shared KEK file on PostgreSQL).
    base_env: Vec<(String, String)>,
    server: Option<Server>,
    token: String,
    server_key: [u8; 32],
    store_dir: tempfile::TempDir,
}

impl Harness {
    async fn start(backend: &Backend, opts: ServerOptions) -> Harness {
        let base_env = shared_kek_env(backend);
        let server = Server::start_with(backend, with_env(opts, &base_env));
        let email = unique_email("crash");
        let token = Http::new(&server).login(&server, &email).await;
        // Pinned once: every restart must present the same channel key.
        let pinned = ApiClient::new(&server.url)
            .unwrap()
            .pin_server_key()
            .await
            .unwrap();
        let server_key = *pinned.server_key().unwrap();
        Harness {
            backend: backend.clone(),
            base_env,
            server: Some(server),
            token,
            server_key,
            store_dir: tempfile::tempdir().unwrap(),
        }
    }

    fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    fn restart(&mut self, opts: ServerOptions) {
        let server = self.server.take().unwrap();
        self.server = Some(server.restart(&self.backend, with_env(opts, &self.base_env)));
    }

    /// A device as after a restart: a new API client and a new handle on the same store. The
    /// zero keygen grace is safe here only because every check runs after the server process
    /// that ran the ceremony is gone, so nothing can still commit.
    async fn device(&self) -> Device {
        let api = ApiClient::new(&self.server().url)
            .unwrap()
            .with_token(self.token.clone())
            .with_server_key(self.server_key);
        let cheap = KdfParams {
            m_kib: 256,
            t: 1,
            p: 1,
        };
        let store =
            ShareStore::open_with(self.store_dir.path(), "crash passphrase", cheap).unwrap();
        Device::new(api, store).with_keygen_grace(Duration::ZERO)
    }

    async fn db(&self) -> Store {
        let url = match &self.backend {
            Backend::Sqlite => {
                tandem_server::config::sqlite_url_for(&self.server().data_dir.join("tandem.db"))
            }
            Backend::Postgres(url) => url.clone(),
        };
        Store::connect(&url).await.unwrap()
    }

    fn expect_killed_at(&mut self, failpoint: &str) {
        let server = self.server.as_mut().unwrap();
        let status = server
            .wait_exit(Duration::from_secs(30))
            .unwrap_or_else(|| panic!("the server outlived failpoint {failpoint}"));
        assert_eq!(status.signal(), Some(9), "{failpoint}: {status:?}");
        let marker = format!("tandem failpoint hit: {failpoint}");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !server.log().contains(&marker) {
            assert!(
                Instant::now() < deadline,
                "{failpoint} not reached; log:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// An EVM and a Solana wallet, each proven by a signature.
    async fn two_wallets(&self) -> [WalletInfo; 2] {
        let device = self.device().await;
        let evm = bounded(device.create_wallet(Chain::Evm, None))
            .await
            .unwrap();
        let sol = bounded(device.create_wallet(Chain::Solana, None))
            .await
            .unwrap();
        for w in [&evm, &sol] {
            sign_and_verify(&device, w, "before the crash").await;
            self.expect_one_share_row(&w.id, 0, "setup").await;
        }
        [evm, sol]
    }

    /// Reconciles after an interrupted keygen and tells which outcome it left.
    async fn check_keygen(&self, chain: Chain, failpoint: &str) -> Keygen {
        let device = self.device().await;
        let settled = bounded(device.reconcile()).await.unwrap();
        let listed = device.api().wallets().await.unwrap();
        let db = self.db().await;
        let ids: Vec<String> = listed.iter().map(|w| w.id.clone()).collect();
        let session = Http::new(self.server())
            .get("/v1/session", Some(&self.token))
            .await;
        let session_id = session.body["id"].as_str().expect("session id");
        assert_eq!(wallet_ids_of(&db, session_id).await.unwrap(), ids);
        assert!(
            wallets_without_current_share(&db).await.unwrap().is_empty(),
            "{failpoint}: a wallet row without its share"
        );
        let local = device.store().wallets().unwrap();
        match listed.as_slice() {
            [] => {
                db.close().await;
                assert!(
                    local.is_empty(),
                    "{failpoint}: the device kept a share of a wallet that does not exist \
                     ({settled:?})"
                );
                Keygen::Nothing
            }
            [wallet] => {
                assert_eq!(local, ids, "{failpoint}: the device lacks the share");
                assert_eq!(wallet.chain, chain);
                assert_eq!(wallet.epoch, 0);
                let (epoch, _) = device.store().current(&wallet.id).unwrap().unwrap();
                assert_eq!(epoch, 0);
                assert!(device.store().staged(&wallet.id).unwrap().is_none());
                let rows = share_rows(&db, &wallet.id).await.unwrap();
                assert_eq!(rows.len(), 1);
                assert_eq!((rows[0].epoch, rows[0].state.as_str()), (0, "current"));
                db.close().await;
                sign_and_verify(&device, wallet, &format!("after {failpoint}")).await;
                Keygen::Pair
            }
            more => panic!("{failpoint}: one keygen made {} wallets", more.len()),
        }
    }

    /// Reconciles after an interrupted refresh of `before` and checks the pair, the database
    /// and the device, then refreshes and signs once more.
    async fn check_refresh(&self, before: &WalletInfo, committed: bool, failpoint: &str) {
        let expected = before.epoch + u64::from(committed);
        let device = self.device().await;
        let settled = bounded(device.reconcile()).await.unwrap();
        let wallet = device.api().wallet(&before.id).await.unwrap();
        assert_eq!(wallet.public_key, before.public_key, "{failpoint}");
        assert_eq!(wallet.address, before.address, "{failpoint}");
        assert_eq!(wallet.epoch, expected, "{failpoint} ({settled:?})");
        self.expect_one_share_row(&before.id, expected, failpoint)
            .await;
        let (epoch, _) = device.store().current(&before.id).unwrap().unwrap();
        assert_eq!(epoch, expected, "{failpoint}: device epoch ({settled:?})");
        // Uncommitted, the device may still hold the new share staged and unused (the server
        // might have committed it); the next refresh fences it off and drops it.
        if let Some((staged, _)) = device.store().staged(&before.id).unwrap() {
            assert!(
                !committed && staged == expected + 1,
                "{failpoint}: {staged}"
            );
            assert!(settled.contains(&(before.id.clone(), Reconciled::Kept { epoch: staged })));
        }
        sign_and_verify(&device, &wallet, &format!("after {failpoint}")).await;

        let again = bounded(device.refresh(&before.id, None)).await.unwrap();
        assert_eq!(again.epoch, expected + 1, "{failpoint}");
        assert_eq!(again.public_key, before.public_key);
        self.expect_one_share_row(&before.id, expected + 1, failpoint)
            .await;
        assert!(device.store().staged(&before.id).unwrap().is_none());
        let (epoch, _) = device.store().current(&before.id).unwrap().unwrap();
        assert_eq!(epoch, expected + 1);
        sign_and_verify(&device, &again, &format!("refreshed after {failpoint}")).await;
    }

    /// After a crash mid-signature: nothing changed on either side, and the wallet signs.
    async fn check_after_sign_crash(&self, before: &WalletInfo, failpoint: &str) {
        let device = self.device().await;
        assert!(
            bounded(device.reconcile()).await.unwrap().is_empty(),
            "{failpoint}"
        );
        let wallet = device.api().wallet(&before.id).await.unwrap();
        assert_eq!(
            (wallet.epoch, wallet.status, &wallet.public_key),
            (before.epoch, before.status, &before.public_key),
            "{failpoint}"
        );
        self.expect_one_share_row(&before.id, before.epoch, failpoint)
            .await;
        let (epoch, _) = device.store().current(&before.id).unwrap().unwrap();
        assert_eq!(epoch, before.epoch, "{failpoint}");
        assert!(device.store().staged(&before.id).unwrap().is_none());
        assert!(!device.is_locked(&before.id).unwrap());
        sign_and_verify(&device, &wallet, &format!("after {failpoint}")).await;
    }

    async fn expect_one_share_row(&self, wallet_id: &str, epoch: u64, failpoint: &str) {
        let db = self.db().await;
        let rows = share_rows(&db, wallet_id).await.unwrap();
        assert_eq!(rows.len(), 1, "{failpoint}: {rows:?}");
        assert_eq!((rows[0].epoch, rows[0].state.as_str()), (epoch, "current"));
        db.close().await;
    }
}

async fn sign_and_verify(device: &Device, wallet: &WalletInfo, text: &str) {
    let r = bounded(device.sign(&wallet.id, &payload(wallet, text), None))
        .await
        .unwrap();
    verify(wallet, text, &r.signature);
}

fn payload(wallet: &WalletInfo, text: &str) -> SignPayload {
    match wallet.chain {
        Chain::Evm => SignPayload::EvmMessage {
            message: text.to_owned(),
            encoding: Encoding::Utf8,
        },
        Chain::Solana => SignPayload::SolanaMessage {
            message: text.to_owned(),
            encoding: Encoding::Utf8,
        },
    }
}

/// Checks a signature of `text` against the wallet's key with an independent verifier.
fn verify(wallet: &WalletInfo, text: &str, signature: &str) {
    match wallet.chain {
        Chain::Evm => {
            let signer = recover_personal(text.as_bytes(), signature);
            assert_eq!(signer.to_checksum(None), wallet.address);
        }
        Chain::Solana => {
            let pk = unhex(&wallet.public_key);
            verify_ed25519(&pk, &solana_offchain_bytes(&pk, text.as_bytes()), signature);
        }
    }
}
