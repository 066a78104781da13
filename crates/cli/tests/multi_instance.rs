//! Two server instances on one PostgreSQL database: ceremony state lives only in the
//! instance holding the socket, everything else in the database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http::Http;
use common::verify::*;
use common::{Backend, Cli, Server, unique_email};
use tandem_proto::wallet::Chain;

#[tokio::test(flavor = "multi_thread")]
async fn wallet_from_one_instance_signs_through_the_other_and_logout_is_shared() {
    let Some(db) = tandem_server::store::testing::temp_postgres().await else {
        return;
    };
    let backend = Backend::Postgres(db.url.clone());
    let a = Server::start(&backend);
    let b = a.start_sibling(&backend);

    // Log in and create wallets through A.
    let cli_a = Cli::new(&a);
    cli_a.login(&a, &unique_email("two"));
    let evm = cli_a.json(&["wallet", "create", "--chain", "evm"]);
    let sol = cli_a.json(&["wallet", "create", "--chain", "solana"]);
    let evm_id = evm["id"].as_str().unwrap();
    let sol_id = sol["id"].as_str().unwrap();

    // The same device (home, shares, token) talks to B.
    let on_b = |args: &[&str]| {
        let mut all = vec!["--server", b.url.as_str()];
        all.extend_from_slice(args);
        all.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run_b = |args: &[&str]| -> serde_json::Value {
        let owned = on_b(args);
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        cli_a.json(&refs)
    };
    // The saved login names A; point the profile at B to use the same session there.
    let profile_path = cli_a.home().join("session.json");
    let mut profile: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&profile_path).unwrap()).unwrap();
    profile["server"] = b.url.clone().into();
    std::fs::write(&profile_path, profile.to_string()).unwrap();
    // Channel keys are pinned per origin, and B is another origin of the same deployment
    // (same channel key): pin it as a login through B would.
    let known_path = cli_a.home().join("known_servers.json");
    let mut known: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&known_path).unwrap()).unwrap();
    let pin = known["servers"][a.url.as_str()].clone();
    assert!(pin.is_object(), "{known}");
    known["servers"][b.url.as_str()] = pin;
    std::fs::write(&known_path, known.to_string()).unwrap();

    let r = run_b(&["sign", "message", "--wallet", evm_id, "via B"]);
    assert_eq!(
        recover_personal(b"via B", r["signature"].as_str().unwrap()).to_checksum(None),
        evm["address"].as_str().unwrap()
    );
    let sol_pk = unhex(sol["public_key"].as_str().unwrap());
    let tx = solana_transfer(&sol_pk, 42);
    let r = run_b(&["sign", "solana-tx", "--wallet", sol_id, &tx]);
    verify_solana_tx(r["signed_transaction"].as_str().unwrap(), &sol_pk);

    // A refresh through B is seen by A, and the next signature through A works.
    let refreshed = run_b(&["wallet", "refresh", evm_id]);
    assert_eq!(refreshed["epoch"], 1);
    profile["server"] = a.url.clone().into();
    std::fs::write(&profile_path, profile.to_string()).unwrap();
    let r = cli_a.json(&["sign", "message", "--wallet", evm_id, "via A after refresh"]);
    assert_eq!(
        recover_personal(b"via A after refresh", r["signature"].as_str().unwrap())
            .to_checksum(None),
        evm["address"].as_str().unwrap()
    );

    // Logout on A is honoured by B at once.
    let token = cli_a.token();
    let http_b = Http::new(&b);
    assert_eq!(http_b.get("/v1/wallets", Some(&token)).await.status, 200);
    cli_a.json(&["session", "logout"]);
    let r = http_b.get("/v1/wallets", Some(&token)).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("session_revoked"))
    );

    drop(a);
    drop(b);
    let _ = db.drop_db().await;
}

/// A socket held open on B by a session logged out through A: B was not told, but refuses
/// the socket's first ceremony at its session check.
#[tokio::test(flavor = "multi_thread")]
async fn edge_socket_on_the_other_instance_refuses_after_logout() {
    let Some(db) = tandem_server::store::testing::temp_postgres().await else {
        return;
    };
    let backend = Backend::Postgres(db.url.clone());
    let a = Server::start(&backend);
    let b = a.start_sibling(&backend);
    let http_a = Http::new(&a);
    let token = http_a.login(&a, &unique_email("two-sockets")).await;
    let mut on_b = common::raw::Raw::connect(&b.url, &token).await;
    let r = http_a
        .post("/v1/session/logout", Some(&token), serde_json::json!({}))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    on_b.control(
        serde_json::json!({"type": "start", "device_nonce": "11".repeat(32),
        "operation": {"kind": "keygen", "chain": "evm"}}),
    )
    .await;
    assert_eq!(
        on_b.failure_code().await.as_deref(),
        Some("session_revoked")
    );
    drop(a);
    drop(b);
    let _ = db.drop_db().await;
}

// ---- Security bar X1, X2, X3: two instances on one PostgreSQL database ----

mod pair {
    use std::path::Path;
    use std::time::{Duration, Instant};

    use tandem_client::store::KdfParams;
    use tandem_client::{ApiClient, Device, ShareStore};
    use tandem_proto::sign::{Encoding, SignPayload, SignResult};
    use tandem_proto::wallet::{Chain, WalletInfo};

    use super::common::http::Http;
    use super::common::verify::{recover_personal, solana_offchain_bytes, unhex, verify_ed25519};
    use super::common::{Backend, Server, ServerOptions, unique_email};

    /// Instance A and B of one deployment, and one user's token.
    pub struct Deployment {
        pub a: Server,
        pub b: Server,
        pub token: String,
        pub key: [u8; 32],
        pub backend: Backend,
    }

    impl Deployment {
        pub async fn start(backend: Backend, opts: ServerOptions, tag: &str) -> Deployment {
            let a = Server::start_with(&backend, opts.clone());
            let b = a.start_sibling_with(&backend, opts);
            let token = Http::new(&a).login(&a, &unique_email(tag)).await;
            let pinned = ApiClient::new(&a.url)
                .unwrap()
                .pin_server_key()
                .await
                .unwrap();
            let key = *pinned.server_key().unwrap();
            Deployment {
                a,
                b,
                token,
                key,
                backend,
            }
        }

        /// A device handle on `store` talking to `server` (A or B). Several handles on one
        /// store directory are what several processes of one device are.
        pub fn device(&self, server: &Server, store: &Path) -> Device {
            let api = ApiClient::new(&server.url)
                .unwrap()
                .with_token(self.token.clone())
                .with_server_key(self.key);
            let cheap = KdfParams {
                m_kib: 256,
                t: 1,
                p: 1,
            };
            Device::new(
                api,
                ShareStore::open_with(store, "two instances", cheap).unwrap(),
            )
        }

        pub async fn db(&self) -> tandem_server::store::Store {
            let Backend::Postgres(url) = &self.backend else {
                unreachable!("two instances share PostgreSQL")
            };
            tandem_server::store::Store::connect(url).await.unwrap()
        }
    }

    /// Signs `text` and returns the result and how long it took.
    pub async fn sign(
        device: &Device,
        wallet: &WalletInfo,
        text: &str,
    ) -> (Result<SignResult, tandem_client::ClientError>, Duration) {
        let payload = match wallet.chain {
            Chain::Evm => SignPayload::EvmMessage {
                message: text.to_owned(),
                encoding: Encoding::Utf8,
            },
            Chain::Solana => SignPayload::SolanaMessage {
                message: text.to_owned(),
                encoding: Encoding::Utf8,
            },
        };
        let started = Instant::now();
        let r = tokio::time::timeout(
            Duration::from_secs(60),
            device.sign(&wallet.id, &payload, None),
        )
        .await
        .expect("a signature hung for 60 s");
        (r, started.elapsed())
    }

    /// Checks a released signature against the wallet's key with an independent verifier;
    /// returns the nonce commitment (ECDSA r, Ed25519 R) to detect reuse.
    pub fn verified(wallet: &WalletInfo, text: &str, r: &SignResult) -> Vec<u8> {
        match wallet.chain {
            Chain::Evm => {
                let signer = recover_personal(text.as_bytes(), &r.signature);
                assert_eq!(signer.to_checksum(None), wallet.address, "{text}");
                unhex(&r.signature)[..32].to_vec()
            }
            Chain::Solana => {
                let pk = unhex(&wallet.public_key);
                verify_ed25519(
                    &pk,
                    &solana_offchain_bytes(&pk, text.as_bytes()),
                    &r.signature,
                );
                bs58::decode(&r.signature).into_vec().unwrap()[..32].to_vec()
            }
        }
    }
}

/// X1: pairs of signatures on one wallet started at the same time on A and on B. Each
/// instance holds its own ceremony in memory and both read the same share row, so both must
/// succeed, verify under the wallet's key, use distinct nonces, and none may wait for the
/// other.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn edge_concurrent_signatures_on_one_wallet_across_instances() {
    use futures_util::StreamExt as _;
    let Some(db) = tandem_server::store::testing::temp_postgres().await else {
        return;
    };
    let backend = Backend::Postgres(db.url.clone());
    let d = pair::Deployment::start(backend, Default::default(), "x1").await;
    let store = tempfile::tempdir().unwrap();
    let on_a = d.device(&d.a, store.path());
    let evm = on_a.create_wallet(Chain::Evm, None).await.unwrap();
    let sol = on_a.create_wallet(Chain::Solana, None).await.unwrap();
    let on_b = d.device(&d.b, store.path());

    const PAIRS: usize = 100;
    let jobs = (0..PAIRS).map(|i| {
        let wallet = if i % 5 == 4 { &sol } else { &evm };
        let (on_a, on_b) = (&on_a, &on_b);
        async move {
            let (ta, tb) = (format!("pair {i} via A"), format!("pair {i} via B"));
            let ((ra, da), (rb, db)) =
                tokio::join!(pair::sign(on_a, wallet, &ta), pair::sign(on_b, wallet, &tb));
            let ra = ra.unwrap_or_else(|e| panic!("{ta}: {e}"));
            let rb = rb.unwrap_or_else(|e| panic!("{tb}: {e}"));
            (
                pair::verified(wallet, &ta, &ra),
                pair::verified(wallet, &tb, &rb),
                da.max(db),
            )
        }
    });
    let started = std::time::Instant::now();
    let results: Vec<_> = futures_util::stream::iter(jobs)
        .buffer_unordered(8)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut nonces = std::collections::HashSet::new();
    let mut slowest = std::time::Duration::ZERO;
    for (na, nb, took) in results {
        assert!(nonces.insert(na), "a nonce was used twice");
        assert!(nonces.insert(nb), "a nonce was used twice");
        slowest = slowest.max(took);
    }
    assert_eq!(nonces.len(), 2 * PAIRS);
    assert!(slowest < std::time::Duration::from_secs(5), "{slowest:?}");
    println!(
        "X1: {PAIRS} concurrent pairs (8 in flight) in {elapsed:?}, slowest signature {slowest:?}"
    );
    // Nothing was left behind: one current share row per wallet, epoch 0.
    let store_db = d.db().await;
    for w in [&evm, &sol] {
        let rows = tandem_server::wallets::testing::share_rows(&store_db, &w.id)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!((rows[0].epoch, rows[0].state.as_str()), (0, "current"));
    }
    store_db.close().await;
    drop(d);
    let _ = db.drop_db().await;
}

/// X2: login-code sends and wrong guesses alternating between A and B draw on one budget
/// each (counted in the database), firing at exactly the configured count.
#[tokio::test(flavor = "multi_thread")]
async fn edge_otp_budgets_are_shared_between_instances() {
    let Some(db) = tandem_server::store::testing::temp_postgres().await else {
        return;
    };
    let backend = Backend::Postgres(db.url.clone());
    const SENDS: usize = 4;
    const WRONG: usize = 12;
    let opts = common::ServerOptions {
        env: vec![
            ("TANDEM_OTP__PER_ADDRESS_PER_HOUR".into(), SENDS.to_string()),
            (
                "TANDEM_OTP__WRONG_CODES_PER_ADDRESS_PER_HOUR".into(),
                WRONG.to_string(),
            ),
        ],
        args: Vec::new(),
    };
    let a = Server::start_with(&backend, opts.clone());
    let b = a.start_sibling_with(&backend, opts);
    let (http_a, http_b) = (Http::new(&a), Http::new(&b));
    let email = unique_email("x2");
    let body = serde_json::json!({ "email": email });

    // Sends: A, B, A, B all go out; the next one is refused on either instance.
    let mut attempts = Vec::new();
    for i in 0..SENDS {
        let (server, http) = if i % 2 == 0 {
            (&a, &http_a)
        } else {
            (&b, &http_b)
        };
        let r = http.post("/v1/auth/email/start", None, body.clone()).await;
        assert_eq!(r.status, 200, "send {i}: {}", r.body);
        let code = server.login_code(&email);
        attempts.push((r.body["attempt_id"].as_str().unwrap().to_owned(), code));
    }
    for http in [&http_a, &http_b] {
        let r = http.post("/v1/auth/email/start", None, body.clone()).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (429, Some("rate_limited")),
            "{}",
            r.body
        );
    }

    // Wrong guesses, alternating instances and spread over the live attempts (fewer per
    // attempt than kill one): the address's budget fires at exactly WRONG, on either side.
    for i in 0..WRONG {
        let http = if i % 2 == 0 { &http_a } else { &http_b };
        let (attempt, code) = &attempts[i % SENDS];
        let r = http
            .post(
                "/v1/auth/email/verify",
                None,
                serde_json::json!({ "attempt_id": attempt, "code": wrong(code) }),
            )
            .await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (400, Some("code_invalid")),
            "guess {i}: {}",
            r.body
        );
    }
    for (i, http) in [&http_a, &http_b].into_iter().enumerate() {
        // Even the right code is refused once the address's budget is spent.
        let (attempt, code) = &attempts[i];
        let r = http
            .post(
                "/v1/auth/email/verify",
                None,
                serde_json::json!({ "attempt_id": attempt, "code": code }),
            )
            .await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (429, Some("rate_limited")),
            "{}",
            r.body
        );
    }
    drop(a);
    drop(b);
    let _ = db.drop_db().await;
}

fn wrong(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

/// X3: signatures through A and B while A refreshes the wallet five times. A signature uses
/// one epoch on both sides or is refused cleanly (`epoch_mismatch`); every released one
/// verifies under the wallet's key; afterwards device and database agree on the last epoch.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn edge_signing_racing_refresh_never_mixes_epochs() {
    use futures_util::StreamExt as _;
    let Some(db) = tandem_server::store::testing::temp_postgres().await else {
        return;
    };
    let backend = Backend::Postgres(db.url.clone());
    let d = pair::Deployment::start(backend, Default::default(), "x3").await;
    let store = tempfile::tempdir().unwrap();
    let on_a = d.device(&d.a, store.path());
    let on_b = d.device(&d.b, store.path());
    const REFRESHES: u64 = 5;
    const SIGNS: usize = 50;
    for chain in [Chain::Evm, Chain::Solana] {
        let wallet = on_a.create_wallet(chain, None).await.unwrap();
        let refresher = on_a.clone();
        let id = wallet.id.clone();
        let refreshes = tokio::spawn(async move {
            for i in 1..=REFRESHES {
                let w = refresher.refresh(&id, None).await.unwrap();
                assert_eq!(w.epoch, i);
                tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            }
        });
        let signs = (0..SIGNS).map(|i| {
            let device = if i % 2 == 0 { &on_a } else { &on_b };
            let wallet = &wallet;
            async move {
                let text = format!("{chain:?} sign {i} during refreshes");
                let (r, _) = pair::sign(device, wallet, &text).await;
                match r {
                    Ok(r) => {
                        pair::verified(wallet, &text, &r);
                        true
                    }
                    Err(e) => {
                        assert_eq!(
                            e.code(),
                            Some(tandem_proto::ErrorCode::EpochMismatch),
                            "{text}: {e}"
                        );
                        false
                    }
                }
            }
        });
        let outcomes: Vec<bool> = futures_util::stream::iter(signs)
            .buffer_unordered(4)
            .collect()
            .await;
        refreshes.await.unwrap();
        let released = outcomes.iter().filter(|ok| **ok).count();
        println!(
            "X3 {chain:?}: {released}/{SIGNS} signatures released during {REFRESHES} refreshes"
        );
        assert!(released > 0, "no signature got through");

        // Device and database agree: the last epoch, one current share, nothing staged.
        let (epoch, _) = on_a.store().current(&wallet.id).unwrap().unwrap();
        assert_eq!(epoch, REFRESHES);
        assert!(on_a.store().staged(&wallet.id).unwrap().is_none());
        let store_db = d.db().await;
        let rows = tandem_server::wallets::testing::share_rows(&store_db, &wallet.id)
            .await
            .unwrap();
        store_db.close().await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(
            (rows[0].epoch, rows[0].state.as_str()),
            (REFRESHES, "current")
        );
        let now = on_b.wallet(&wallet.id).await.unwrap();
        assert_eq!(
            (now.epoch, &now.public_key),
            (REFRESHES, &wallet.public_key)
        );
        for device in [&on_a, &on_b] {
            let (r, _) = pair::sign(device, &wallet, "after the race").await;
            pair::verified(&wallet, "after the race", &r.unwrap());
        }
    }
    drop(d);
    let _ = db.drop_db().await;
}

/// Issue 14, item 4: an instance with its own data directory (and so its own
/// `server-channel.key`) on the deployment's database refuses to start, naming the file to
/// copy; with the first instance's key file copied over, it starts and serves the same key.
#[tokio::test(flavor = "multi_thread")]
async fn an_instance_with_another_channel_key_refuses_to_start() {
    use common::ServerOptions;
    use std::os::unix::fs::PermissionsExt;

    let Some(db) = tandem_server::store::testing::temp_postgres().await else {
        return;
    };
    let backend = Backend::Postgres(db.url.clone());
    let a = Server::start(&backend);
    let key_a = std::fs::read(a.data_dir.join("server-channel.key")).unwrap();
    let public_a = common::raw::server_key(&a.url).await;

    // B: its own data directory with the deployment's KEK file (the vault is fine) but a
    // channel key of its own, as an operator who copied only the KEK would have.
    let dir = tempfile::tempdir().unwrap();
    let data_b = dir.path().join("data");
    tandem_server::store::private_dir(&data_b).unwrap();
    let copy = |name: &str, bytes: &[u8]| {
        let path = data_b.join(name);
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    copy(
        "server-kek.key",
        &std::fs::read(a.data_dir.join("server-kek.key")).unwrap(),
    );
    let mut other = [0u8; 32];
    other[0] = 7;
    copy("server-channel.key", &other);
    let err = Server::refused(&backend, &data_b, &ServerOptions::default());
    let file_b = data_b.join("server-channel.key");
    assert!(
        err.contains("is not the one this deployment's database registered")
            && err.contains(&hex::encode(public_a))
            && err.contains(&file_b.display().to_string())
            && err.contains("Copy `server-channel.key`"),
        "{err}"
    );

    // Missing altogether: refused too, and no new key is made up.
    std::fs::remove_file(&file_b).unwrap();
    let err = Server::refused(&backend, &data_b, &ServerOptions::default());
    assert!(err.contains("is missing"), "{err}");
    assert!(!file_b.exists(), "a new channel key was created");

    // The right file: B starts and presents A's key.
    copy("server-channel.key", &key_a);
    let b = Server::start_in(&backend, dir, ServerOptions::default());
    assert_eq!(common::raw::server_key(&b.url).await, public_a);
    drop(b);
    drop(a);
    let _ = db.drop_db().await;
}
