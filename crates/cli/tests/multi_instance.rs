//! Two server instances on one PostgreSQL database: ceremony state lives only in the
//! instance holding the socket, everything else in the database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http::Http;
use common::verify::*;
use common::{Backend, Cli, Server, unique_email};

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
