//! Secrets never leak (issue 4): the whole lifecycle (login with codes delivered by SMTP,
//! keygen, sign, refresh, on both chains and both databases) runs with known marker values,
//! then every place an operator or attacker could read — the server log at debug level,
//! every HTTP response, the metrics page, the ceremony socket traffic, the database file (and
//! a PostgreSQL dump) — is searched for every secret in every common encoding. Expected
//! occurrences: zero.
//!
//! Secrets searched: the login codes, the session tokens, the share-store passphrase, both
//! parties' secret share scalars at every epoch, and the wallet's full private key (combined
//! here from both shares; it never exists anywhere else).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use common::http::Http;
use common::mitm::{Mitm, Tamper};
use common::smtp_peer::SmtpPeer;
use common::{Backend, Server, ServerOptions, unique_email};
use tandem_client::store::KdfParams;
use tandem_client::{ApiClient, Device, ShareStore};
use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::ed25519::Ed25519;
use tandem_mpc::{ExportedShare, KeyShare, Scheme, export};
use tandem_proto::scheme::ChainScheme;
use tandem_proto::sign::{Encoding, SignPayload};
use tandem_proto::wallet::{Chain, WalletInfo};
use tandem_server::clock::SystemClock;
use tandem_server::store::Store;
use tandem_server::vault::{LocalKeyProvider, Vault};
use tandem_server::wallets::Wallets;
use tandem_server::wallets::testing::{open_current_share, share_rows};

const PASSPHRASE: &str = "canary-passphrase-5f1d0c7a9e";

/// A secret and the encodings it must not appear in.
struct Secret {
    what: String,
    needles: Vec<Vec<u8>>,
    /// The one place this secret belongs (a token in the response that issues it).
    home: Option<String>,
    /// Short decimal codes: only as a whole number (not inside a longer digit run such as a
    /// timestamp, where six given digits turn up by chance).
    digits: Option<String>,
}

fn text_secret(what: &str, value: &str) -> Secret {
    let mut s = bytes_secret(what, value.as_bytes(), false);
    s.needles.push(value.as_bytes().to_vec());
    s
}

fn code_secret(code: &str) -> Secret {
    let mut s = bytes_secret("login code", code.as_bytes(), false);
    // The raw digits are searched as a whole number only (see `digits`).
    s.needles.retain(|n| n.as_slice() != code.as_bytes());
    s.digits = Some(code.to_owned());
    s
}

/// Hex (both cases), base64 (standard, URL-safe; at every alignment, so the secret is found
/// inside a longer encoded blob too), the raw bytes, and, for scalars, decimal.
fn bytes_secret(what: &str, bytes: &[u8], decimal: bool) -> Secret {
    let mut needles = vec![
        bytes.to_vec(),
        hex::encode(bytes).into_bytes(),
        hex::encode_upper(bytes).into_bytes(),
    ];
    for shift in 0..3usize {
        let mut padded = vec![0u8; shift];
        padded.extend_from_slice(bytes);
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let enc = engine.encode(&padded);
            // Drop the characters that mix in the prefix or the unknown following bytes.
            let skip = (shift * 4).div_ceil(3);
            let keep = enc.len().saturating_sub(3);
            if keep > skip + 8 {
                needles.push(enc.as_bytes()[skip..keep].to_vec());
            }
        }
    }
    needles.push(STANDARD.encode(bytes).into_bytes());
    if decimal {
        needles.push(to_decimal(bytes).into_bytes());
    }
    Secret {
        what: what.to_owned(),
        needles,
        home: None,
        digits: None,
    }
}

/// Big-endian bytes as a decimal number.
fn to_decimal(bytes: &[u8]) -> String {
    let mut digits = vec![0u8]; // little-endian base 10
    for &b in bytes {
        let mut carry = u32::from(b);
        for d in digits.iter_mut() {
            let v = u32::from(*d) * 256 + carry;
            *d = (v % 10) as u8;
            carry = v / 10;
        }
        while carry > 0 {
            digits.push((carry % 10) as u8);
            carry /= 10;
        }
    }
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

fn occurs(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn occurs_as_number(hay: &[u8], digits: &str) -> bool {
    let n = digits.as_bytes();
    hay.windows(n.len()).enumerate().any(|(i, w)| {
        w == n
            && (i == 0 || !hay[i - 1].is_ascii_digit())
            && hay.get(i + n.len()).is_none_or(|c| !c.is_ascii_digit())
    })
}

/// Every (secret, place) where a secret shows up.
fn leaks(secrets: &[Secret], places: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut found = Vec::new();
    for (place, hay) in places {
        for s in secrets {
            if s.home.as_deref() == Some(place.as_str()) {
                continue;
            }
            let hit = s.needles.iter().any(|n| occurs(hay, n))
                || s.digits
                    .as_deref()
                    .is_some_and(|d| occurs_as_number(hay, d));
            if hit {
                found.push(format!("{} in {place}", s.what));
            }
        }
    }
    found
}

/// Records every HTTP response body the lifecycle receives.
struct Recorder {
    http: Http,
    bodies: Vec<(String, Vec<u8>)>,
}

impl Recorder {
    async fn call(
        &mut self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let mut req = self
            .http
            .client
            .request(method.clone(), format!("{}{path}", self.http.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = format!("{:?}", resp.headers());
        let bytes = resp.bytes().await.unwrap().to_vec();
        let mut all = headers.into_bytes();
        all.extend_from_slice(&bytes);
        self.bodies
            .push((format!("response to {method} {path}"), all));
        assert!(
            status.is_success(),
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
    }

    /// Logs in with a code delivered by SMTP; returns (code, token).
    async fn login(&mut self, peer: &SmtpPeer, email: &str) -> (String, String) {
        let before = peer.count(email);
        let start = self
            .call(
                reqwest::Method::POST,
                "/v1/auth/email/start",
                None,
                Some(serde_json::json!({ "email": email })),
            )
            .await;
        let code = peer.code(email, before);
        let verify = self
            .call(
                reqwest::Method::POST,
                "/v1/auth/email/verify",
                None,
                Some(serde_json::json!({ "attempt_id": start["attempt_id"], "code": code })),
            )
            .await;
        (code, verify["token"].as_str().unwrap().to_owned())
    }
}

fn share_secret<S: Scheme>(what: &str, share: &KeyShare<S>) -> Secret {
    bytes_secret(what, &share.hazmat_secret_scalar(), true)
}

/// The server's share of `wallet` at its current epoch, opened with the local KEK the way
/// the server does.
async fn server_share<S: Scheme>(wallets: &Wallets, wallet: &WalletInfo) -> KeyShare<S> {
    let bytes = open_current_share(wallets, &wallet.id).await.unwrap();
    let share = KeyShare::<S>::from_bytes(&bytes).unwrap();
    assert_eq!(share.epoch(), wallet.epoch);
    share
}

/// Both shares of a wallet at its current epoch, and the private key they make.
async fn wallet_secrets<S: ChainScheme>(
    device: &Device,
    wallets: &Wallets,
    wallet: &WalletInfo,
    out: &mut Vec<Secret>,
) {
    let mine = device.share::<S>(&wallet.id).unwrap();
    let theirs = server_share::<S>(wallets, wallet).await;
    let tag = format!("{} wallet, epoch {}", wallet.chain, wallet.epoch);
    out.push(share_secret(&format!("device share ({tag})"), &mine));
    out.push(share_secret(&format!("server share ({tag})"), &theirs));
    let key = export(&mine, ExportedShare::from_server_share(theirs).unwrap()).unwrap();
    out.push(bytes_secret(
        &format!("private key ({tag})"),
        key.as_bytes(),
        true,
    ));
}

fn sign_payload(chain: Chain, text: &str) -> SignPayload {
    match chain {
        Chain::Evm => SignPayload::EvmMessage {
            message: text.into(),
            encoding: Encoding::Utf8,
        },
        Chain::Solana => SignPayload::SolanaMessage {
            message: text.into(),
            encoding: Encoding::Utf8,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_secret_appears_in_logs_responses_metrics_or_storage() {
    let Some(peer) = SmtpPeer::start() else {
        return;
    };
    let peer = Arc::new(peer);
    common::each_backend(|backend| {
        let peer = peer.clone();
        async move { lifecycle(&peer, backend).await }
    })
    .await;
}

async fn lifecycle(peer: &SmtpPeer, backend: Backend) {
    let mut env = peer.server_env();
    // As chatty as the server gets.
    env.push(("TANDEM_LOG".into(), "debug".into()));
    let server = Server::start_with(
        &backend,
        ServerOptions {
            env,
            args: Vec::new(),
        },
    );
    let mut rec = Recorder {
        http: Http::new(&server),
        bodies: Vec::new(),
    };
    let mut secrets = vec![text_secret("store passphrase", PASSPHRASE)];
    let email = unique_email("canary");
    let mut tokens = Vec::new();
    for i in 0..3 {
        let (code, token) = rec.login(peer, &email).await;
        secrets.push(code_secret(&code));
        let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        let mut s = bytes_secret("session token", &raw, false);
        s.needles.push(token.clone().into_bytes());
        // The response that issues a token is where it belongs, and nowhere else; finding
        // it there shows the search works on real responses.
        let home = format!("token issuance {i}");
        rec.bodies.last_mut().unwrap().0 = home.clone();
        assert_eq!(
            leaks(
                std::slice::from_ref(&s),
                &rec.bodies[rec.bodies.len() - 1..]
            )
            .len(),
            1
        );
        s.home = Some(home);
        secrets.push(s);
        tokens.push(token);
    }
    let token = tokens[0].clone();

    // Ceremonies through a recording proxy (the socket carries only ciphertext).
    let mitm = Mitm::start(&server.url, Tamper::None).await;
    let key = rec
        .call(reqwest::Method::GET, "/v1/server-key", None, None)
        .await;
    let key: [u8; 32] = hex::decode(key["public_key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let api = ApiClient::new(&mitm.url)
        .unwrap()
        .with_token(token.clone())
        .with_server_key(key);
    let dir = tempfile::tempdir().unwrap();
    let cheap = KdfParams {
        m_kib: 256,
        t: 1,
        p: 1,
    };
    let device = Device::new(
        api,
        ShareStore::open_with(dir.path(), PASSPHRASE, cheap).unwrap(),
    );

    let kek = LocalKeyProvider::open_or_create(&server.data_dir.join("server-kek.key")).unwrap();
    let db_url = match &backend {
        Backend::Sqlite => format!("sqlite://{}", server.data_dir.join("tandem.db").display()),
        Backend::Postgres(url) => url.clone(),
    };
    let db = Store::connect(&db_url).await.unwrap();
    let wallets = Wallets::new(db.clone(), Vault::new(Arc::new(kek)), Arc::new(SystemClock));

    for chain in [Chain::Evm, Chain::Solana] {
        let wallet = device.create_wallet(chain, None).await.unwrap();
        let path = format!("/v1/wallets/{}", wallet.id);
        rec.call(reqwest::Method::GET, &path, Some(&token), None)
            .await;
        rec.call(reqwest::Method::GET, "/v1/wallets", Some(&token), None)
            .await;
        let payload = serde_json::to_value(sign_payload(chain, "canary preview")).unwrap();
        rec.call(
            reqwest::Method::POST,
            &format!("{path}/preview"),
            Some(&token),
            Some(payload),
        )
        .await;
        for epoch in 0..3u64 {
            let info = rec
                .call(reqwest::Method::GET, &path, Some(&token), None)
                .await;
            let info: WalletInfo = serde_json::from_value(info).unwrap();
            assert_eq!(info.epoch, epoch);
            match chain {
                Chain::Evm => {
                    wallet_secrets::<Secp256k1>(&device, &wallets, &info, &mut secrets).await
                }
                Chain::Solana => {
                    wallet_secrets::<Ed25519>(&device, &wallets, &info, &mut secrets).await
                }
            }
            device
                .sign(
                    &wallet.id,
                    &sign_payload(chain, &format!("canary {epoch}")),
                    None,
                )
                .await
                .unwrap();
            if epoch < 2 {
                // K2: once a refresh commits, the old server share must be gone from the
                // database files too (SQLite: secure_delete and a WAL truncation; PostgreSQL:
                // pg_dump), not merely unreferenced. Several slices of its ciphertext, so a
                // partly overwritten copy is found as well.
                let rows = share_rows(&db, &wallet.id).await.unwrap();
                let old = &rows
                    .iter()
                    .find(|r| r.state == "current")
                    .unwrap()
                    .ciphertext;
                let n = old.len();
                for (i, at) in [0, n / 2 - 24, n - 48].into_iter().enumerate() {
                    secrets.push(bytes_secret(
                        &format!("{chain:?} server share ciphertext of epoch {epoch}, slice {i}"),
                        &old[at..at + 48],
                        false,
                    ));
                }
            }
            if epoch == 0 {
                device.refresh(&wallet.id, None).await.unwrap();
            } else if epoch == 1 {
                device.refresh_complete(&wallet.id, None).await.unwrap();
            }
        }
    }
    rec.call(reqwest::Method::GET, "/v1/session", Some(&token), None)
        .await;
    rec.call(reqwest::Method::GET, "/v1/sessions", Some(&token), None)
        .await;
    rec.call(
        reqwest::Method::POST,
        "/v1/session/refresh",
        Some(&tokens[1]),
        Some(serde_json::json!({})),
    )
    .await;
    rec.call(
        reqwest::Method::POST,
        "/v1/session/logout",
        Some(&tokens[2]),
        Some(serde_json::json!({})),
    )
    .await;
    rec.call(reqwest::Method::GET, "/metrics", None, None).await;
    rec.call(reqwest::Method::GET, "/healthz", None, None).await;

    // Where to look.
    let mut places = rec.bodies;
    places.push(("server log".into(), server.log().into_bytes()));
    for (i, (_, bytes)) in mitm.captured().into_iter().enumerate() {
        places.push((format!("ceremony socket message {i}"), bytes));
    }
    match &backend {
        Backend::Sqlite => {
            for name in ["tandem.db", "tandem.db-wal", "tandem.db-shm"] {
                if let Ok(bytes) = std::fs::read(server.data_dir.join(name)) {
                    places.push((format!("database file {name}"), bytes));
                }
            }
        }
        Backend::Postgres(url) => {
            let out = std::process::Command::new("pg_dump")
                .arg(url)
                .output()
                .expect("pg_dump (PostgreSQL client tools)");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(String::from_utf8_lossy(&out.stdout).contains("server_shares"));
            places.push(("pg_dump".into(), out.stdout));
        }
    }
    // The search must be able to find things: the public data is there.
    let log = server.log();
    assert!(
        log.contains("DEBUG"),
        "the server did not log at debug level"
    );
    assert!(secrets.len() > 20);

    let found = leaks(&secrets, &places);
    assert!(
        found.is_empty(),
        "secrets leaked ({}): {found:#?}",
        backend.name()
    );
}

#[test]
fn the_search_finds_what_it_looks_for() {
    let key: Vec<u8> = (1..=32).map(|i| i * 7).collect();
    let secret = bytes_secret("k", &key, true);
    let mut shifted = vec![9u8, 8];
    shifted.extend_from_slice(&key);
    shifted.push(1);
    let mut raw = vec![0u8, 1];
    raw.extend_from_slice(&key);
    for hay in [
        format!("xx {} yy", hex::encode(&key)).into_bytes(),
        format!("\\x{}", hex::encode_upper(&key)).into_bytes(),
        format!("blob {} end", STANDARD.encode(&shifted)).into_bytes(),
        format!("blob {} end", URL_SAFE_NO_PAD.encode(&shifted[1..])).into_bytes(),
        format!("n={}", to_decimal(&key)).into_bytes(),
        raw,
    ] {
        let hits = leaks(std::slice::from_ref(&secret), &[("h".into(), hay.clone())]);
        assert_eq!(hits.len(), 1, "{}", String::from_utf8_lossy(&hay));
    }
    assert!(
        leaks(
            std::slice::from_ref(&secret),
            &[("h".into(), b"nothing".to_vec())]
        )
        .is_empty()
    );
    assert_eq!(to_decimal(&[1, 0]), "256");
    let code = code_secret("123456");
    let hits = leaks(
        std::slice::from_ref(&code),
        &[("h".into(), b"code=123456.".to_vec())],
    );
    assert_eq!(hits.len(), 1);
    let hits = leaks(
        std::slice::from_ref(&code),
        &[("h".into(), b"MTIzNDU2".to_vec())],
    );
    assert_eq!(hits.len(), 1);
    assert!(leaks(&[code], &[("h".into(), b"t=1767123456789".to_vec())]).is_empty());
}
