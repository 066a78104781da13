//! The vault with the real binary on loopback: `tandem vault init` on a fresh SoftHSM2 token
//! (idempotent), clear start-up errors for every PKCS#11 misconfiguration, a server on the
//! `pkcs11` provider creating and signing with EVM and Solana wallets, `tandem vault rotate`
//! while a loop keeps signing (no signature may fail), migrating a deployment's existing
//! wallets from the local key file to the token, and rotation of local keys on SQLite and
//! PostgreSQL. Every signature is verified independently.
//!
//! SoftHSM2 is reached by the child processes only (`SOFTHSM2_CONF` in their environment).
//! Tests that need it skip with a printed reason when it is missing, and fail instead when
//! `TANDEM_REQUIRE_PEERS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::softhsm::{SoftHsm, USER_PIN};
use common::verify::*;
use common::{Backend, Cli, Server, ServerOptions, each_backend, unique_email, vault};
use tandem_server::config::sqlite_url_for;
use tandem_server::store::Store;
use tandem_server::wallets::testing::{current_sealed, force_active_kek, overwrite_current_sealed};

struct Wallet {
    id: String,
    address: String,
    public_key: Vec<u8>,
}

fn create(cli: &Cli, chain: &str) -> Wallet {
    let w = cli.json(&["wallet", "create", "--chain", chain]);
    Wallet {
        id: w["id"].as_str().unwrap().to_owned(),
        address: w["address"].as_str().unwrap().to_owned(),
        public_key: unhex(w["public_key"].as_str().unwrap()),
    }
}

/// Signs one EVM message and one Solana message; panics unless both verify.
fn sign_both(cli: &Cli, evm: &Wallet, sol: &Wallet, tag: &str) {
    sign_evm(cli, evm, tag).unwrap();
    sign_sol(cli, sol, tag).unwrap();
}

fn sign_evm(cli: &Cli, w: &Wallet, tag: &str) -> Result<(), String> {
    let text = format!("evm {tag}");
    let out = cli.run(&["--json", "sign", "message", "--wallet", &w.id, &text]);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let signer = recover_personal(text.as_bytes(), r["signature"].as_str().unwrap_or_default());
    if signer.to_checksum(None) != w.address {
        return Err(format!("signed by {signer}, not {}", w.address));
    }
    Ok(())
}

fn sign_sol(cli: &Cli, w: &Wallet, tag: &str) -> Result<(), String> {
    let text = format!("solana {tag}");
    let out = cli.run(&["--json", "sign", "solana-message", "--wallet", &w.id, &text]);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    verify_ed25519(
        &w.public_key,
        &solana_offchain_bytes(&w.public_key, text.as_bytes()),
        r["signature"].as_str().unwrap_or_default(),
    );
    Ok(())
}

fn opts(env: Vec<(String, String)>) -> ServerOptions {
    ServerOptions {
        env,
        args: Vec::new(),
    }
}

fn with(mut env: Vec<(String, String)>, key: &str, value: &str) -> Vec<(String, String)> {
    env.retain(|(k, _)| k != key);
    env.push((key.to_owned(), value.to_owned()));
    env
}

fn without(mut env: Vec<(String, String)>, key: &str) -> Vec<(String, String)> {
    env.retain(|(k, _)| k != key);
    env
}

/// (kek_id, state, shares) of every KEK `tandem vault status` reports.
fn kek_states(status: &serde_json::Value) -> Vec<(String, String, u64)> {
    status["keks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kek_id"].as_str().unwrap().to_owned(),
                k["state"].as_str().unwrap().to_owned(),
                k["shares"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn assert_no_pin(text: &str) {
    assert!(!text.contains(USER_PIN), "the PIN leaked: {text}");
}

#[test]
fn vault_init_is_idempotent_and_start_up_errors_say_what_to_do() {
    let Some(hsm) = SoftHsm::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = hsm.provider_env();
    let sqlite = Backend::Sqlite;

    // Every misconfiguration is refused at start with its own message, none showing the PIN.
    let cases: Vec<(Vec<(String, String)>, &str)> = vec![
        (env.clone(), "run `tandem vault init`"),
        (
            with(env.clone(), "TANDEM_VAULT_PKCS11_PIN", "not-the-pin"),
            "PIN was refused",
        ),
        (
            without(env.clone(), "TANDEM_VAULT_PKCS11_PIN"),
            "TANDEM_VAULT_PKCS11_PIN",
        ),
        (
            with(
                env.clone(),
                "TANDEM_VAULT__PKCS11__TOKEN_LABEL",
                "no-such-token",
            ),
            "no initialised token labelled `no-such-token`",
        ),
        (
            with(
                env.clone(),
                "TANDEM_VAULT__PKCS11__MODULE",
                "/nonexistent/libpkcs11.so",
            ),
            "module `/nonexistent/libpkcs11.so` not found",
        ),
        (
            without(env.clone(), "TANDEM_VAULT__PKCS11__MODULE"),
            "vault.pkcs11.module",
        ),
    ];
    for (case_env, expected) in cases {
        let err = Server::refused(&sqlite, &data, &opts(case_env));
        assert!(err.contains(expected), "expected `{expected}` in:\n{err}");
        assert_no_pin(&err);
        assert!(!err.contains("not-the-pin"), "{err}");
    }

    // init creates the KEK in the token and registers it (the refused starts above created
    // the database); a second run finds the same key.
    let first = vault::json(&sqlite, &data, &env, &["init"]);
    assert_eq!(first["provider"], "pkcs11");
    assert_eq!(first["kek_id"], hsm.kek_id("tandem-kek"));
    assert_eq!(first["created"], true);
    assert_eq!(first["registered"], true);
    assert_eq!(first["active_kek"], hsm.kek_id("tandem-kek"));
    let second = vault::json(&sqlite, &data, &env, &["init"]);
    assert_eq!(second["kek_id"], first["kek_id"]);
    assert_eq!(second["created"], false);
    assert_eq!(second["registered"], false);
    assert_no_pin(&second.to_string());

    // Human output says what happened and names the KEK.
    let out = vault::run(&sqlite, &data, &env, &["init"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Found pkcs11 KEK") && text.contains(&hsm.kek_id("tandem-kek")),
        "{text}"
    );

    // A wrong PIN makes init fail clearly too.
    let out = vault::run(
        &sqlite,
        &data,
        &with(env.clone(), "TANDEM_VAULT_PKCS11_PIN", "not-the-pin"),
        &["init"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("PIN was refused") && !err.contains("not-the-pin"),
        "{err}"
    );

    // Now the server starts on the token, quietly (no PIN, no PKCS#11 noise in the log).
    let server = Server::start_in(&sqlite, dir, opts(env));
    let log = server.log();
    assert_no_pin(&log);
    assert!(!log.contains("ERROR"), "{log}");
}

#[test]
fn pkcs11_server_keeps_signing_through_a_rotation() {
    let Some(hsm) = SoftHsm::new() else { return };
    let sqlite = Backend::Sqlite;
    let env = hsm.provider_env();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    vault::json(&sqlite, &data, &env, &["init"]);
    let server = Server::start_in(&sqlite, dir, opts(env.clone()));
    let cli = Cli::new(&server);
    cli.login(&server, &unique_email("hsm"));
    let evm = create(&cli, "evm");
    let sol = create(&cli, "solana");
    sign_both(&cli, &evm, &sol, "before");
    let v1 = hsm.kek_id("tandem-kek");
    let status = vault::json(&sqlite, &server.data_dir, &env, &["status"]);
    assert_eq!(status["active"], v1.as_str());
    assert_eq!(kek_states(&status), vec![(v1.clone(), "active".into(), 2)]);

    // A device keeps signing with both wallets while the operator rotates the KEK.
    let stop = AtomicBool::new(false);
    let signed = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let report = std::thread::scope(|s| {
        s.spawn(|| {
            let mut round = 0;
            while !stop.load(Ordering::SeqCst) {
                round += 1;
                for result in [
                    sign_evm(&cli, &evm, &format!("loop {round}")),
                    sign_sol(&cli, &sol, &format!("loop {round}")),
                ] {
                    match result {
                        Ok(()) => {
                            signed.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => failures.lock().unwrap().push(e),
                    }
                }
            }
        });
        let wait_for = |n: usize| {
            let deadline = Instant::now() + Duration::from_secs(120);
            while signed.load(Ordering::SeqCst) < n && failures.lock().unwrap().is_empty() {
                assert!(Instant::now() < deadline, "the signing loop stalled");
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        wait_for(2);
        let out = vault::run(&sqlite, &server.data_dir, &env, &["rotate", "--json"]);
        let after_rotation = signed.load(Ordering::SeqCst);
        wait_for(after_rotation + 4);
        stop.store(true, Ordering::SeqCst);
        out
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "signatures failed during the rotation: {failures:?}"
    );
    assert!(signed.load(Ordering::SeqCst) >= 6);
    assert!(
        report.status.success(),
        "rotate: {}",
        String::from_utf8_lossy(&report.stderr)
    );
    let stderr = String::from_utf8_lossy(&report.stderr);
    assert!(
        stderr.contains("re-wrapped 2/2 shares"),
        "progress: {stderr}"
    );
    assert_no_pin(&stderr);
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    let v2 = hsm.kek_id("tandem-kek-v2");
    assert_eq!(report["to"], v2.as_str());
    assert_eq!(report["from"], serde_json::json!([v1]));
    assert_eq!(report["created"], true);
    assert_eq!(report["resumed"], false);
    assert_eq!(report["rewrapped"], 2);
    assert_eq!(report["remaining"], 0);

    // Every share now carries the new KEK; the old one wraps nothing.
    sign_both(&cli, &evm, &sol, "after");
    let status = vault::json(&sqlite, &server.data_dir, &env, &["status"]);
    assert_eq!(status["active"], v2.as_str());
    assert_eq!(status["pending"], 0);
    assert_eq!(
        kek_states(&status),
        vec![
            (v1.clone(), "previous".into(), 0),
            (v2.clone(), "active".into(), 2)
        ]
    );

    // A refresh after the rotation seals under the new KEK; retiring destroys the old key in
    // the token; init stays idempotent (it reports the active, rotated key).
    let refreshed = cli.json(&["wallet", "refresh", &evm.id]);
    assert_eq!(refreshed["epoch"], 1);
    let retired = vault::json(&sqlite, &server.data_dir, &env, &["retire", "--yes"]);
    assert_eq!(retired["retired"], serde_json::json!([v1]));
    let init = vault::json(&sqlite, &server.data_dir, &env, &["init"]);
    assert_eq!(init["kek_id"], v2.as_str());
    assert_eq!(init["created"], false);
    sign_both(&cli, &evm, &sol, "after retire");

    // A restarted server starts on the active KEK although the configured label is gone,
    // and the device's wallets keep signing; a new wallet is sealed under the new KEK.
    let server = server.restart_with(&sqlite, opts(env.clone()));
    sign_both(&cli, &evm, &sol, "after restart");
    create(&cli, "evm");
    let status = vault::json(&sqlite, &server.data_dir, &env, &["status"]);
    assert_eq!(
        kek_states(&status),
        vec![(v1, "retired".into(), 0), (v2, "active".into(), 3)]
    );
}

#[test]
fn existing_local_wallets_migrate_to_pkcs11() {
    let Some(hsm) = SoftHsm::new() else { return };
    let sqlite = Backend::Sqlite;
    // The running server is on the local provider and can reach the token (for a migration
    // without downtime, as docs/server.md describes).
    let server = Server::start_with(&sqlite, opts(hsm.env()));
    let cli = Cli::new(&server);
    cli.login(&server, &unique_email("migrate"));
    let evm = create(&cli, "evm");
    let sol = create(&cli, "solana");
    sign_both(&cli, &evm, &sol, "local");
    let key_file = server.data_dir.join("server-kek.key");
    assert!(key_file.is_file());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt
        .block_on(Store::connect(&sqlite_url_for(
            &server.data_dir.join("tandem.db"),
        )))
        .unwrap();
    // The EVM share as sealed under the key file, as a database backup would keep it.
    let under_key_file = rt.block_on(current_sealed(&store, &evm.id)).unwrap();

    // A server switched to pkcs11 before the migration refuses to start, saying why.
    let early = tempfile::tempdir().unwrap();
    let mut early_env = hsm.provider_env();
    early_env.push((
        "TANDEM_DATABASE_URL".into(),
        format!("sqlite://{}", server.data_dir.join("tandem.db").display()),
    ));
    early_env.push((
        "TANDEM_VAULT__KEY_FILE".into(),
        key_file.display().to_string(),
    ));
    let err = Server::refused(&sqlite, &early.path().join("data"), &opts(early_env));
    assert!(err.contains("tandem vault migrate --to pkcs11"), "{err}");

    let report = vault::json(
        &sqlite,
        &server.data_dir,
        &hsm.env(),
        &["migrate", "--to", "pkcs11"],
    );
    let target = hsm.kek_id("tandem-kek");
    assert_eq!(report["to"], target.as_str());
    assert_eq!(report["created"], true);
    assert_eq!(report["rewrapped"], 2);
    assert_eq!(report["remaining"], 0);
    let local_kek = report["from"][0].as_str().unwrap().to_owned();
    assert!(local_kek.starts_with("local:"), "{report}");
    assert!(
        report["note"]
            .as_str()
            .unwrap()
            .contains("vault.provider = \"pkcs11\""),
        "{report}"
    );
    // Running it again finds nothing to do.
    let again = vault::json(
        &sqlite,
        &server.data_dir,
        &hsm.env(),
        &["migrate", "--to", "pkcs11"],
    );
    assert_eq!(again["rewrapped"], 0);
    assert_eq!(again["created"], false);

    // The running server follows at once.
    sign_both(&cli, &evm, &sol, "migrated, same server");

    // The operator switches the configuration to pkcs11 and restarts: the existing wallets
    // sign, and new ones are sealed under the token's KEK.
    let server = server.restart_with(&sqlite, opts(hsm.provider_env()));
    sign_both(&cli, &evm, &sol, "pkcs11 after restart");

    // Someone who can write the database, with the old key file still on disk, cannot make a
    // pkcs11 server use it: not to open a share restored from before the migration...
    let migrated = rt.block_on(current_sealed(&store, &evm.id)).unwrap();
    assert_eq!(migrated.kek_id, target);
    rt.block_on(overwrite_current_sealed(&store, &evm.id, &under_key_file))
        .unwrap();
    let refused = sign_evm(&cli, &evm, "share restored under the key file").unwrap_err();
    assert!(refused.contains("internal"), "{refused}");
    assert!(
        server
            .log()
            .contains("belongs to the `local` provider family, which this server does not use"),
        "the server did not say why"
    );
    rt.block_on(overwrite_current_sealed(&store, &evm.id, &migrated))
        .unwrap();
    sign_evm(&cli, &evm, "share put back").unwrap();
    // ...nor to seal new shares under it.
    rt.block_on(force_active_kek(&store, &local_kek)).unwrap();
    let out = cli.run(&["--json", "wallet", "create", "--chain", "evm"]);
    assert!(
        !out.status.success(),
        "a share was sealed under the key file"
    );
    rt.block_on(force_active_kek(&store, &target)).unwrap();
    create(&cli, "solana");
    let status = vault::json(&sqlite, &server.data_dir, &hsm.env(), &["status"]);
    assert_eq!(status["active"], target.as_str());
    assert_eq!(
        kek_states(&status),
        vec![
            (local_kek.clone(), "previous".into(), 0),
            (target.clone(), "active".into(), 3)
        ]
    );

    // Retiring the local KEK deletes the key file; the server keeps signing.
    let retired = vault::json(&sqlite, &server.data_dir, &hsm.env(), &["retire", "--yes"]);
    assert_eq!(retired["retired"], serde_json::json!([local_kek]));
    assert!(!key_file.exists(), "the local key file was not deleted");
    sign_both(&cli, &evm, &sol, "pkcs11 after retire");
}

async fn local_rotation(backend: Backend) {
    let server = Server::start(&backend);
    let cli = Cli::new(&server);
    cli.login(&server, &unique_email("local-rotate"));
    let evm = create(&cli, "evm");
    let sol = create(&cli, "solana");
    sign_both(&cli, &evm, &sol, "before");
    let none: Vec<(String, String)> = Vec::new();
    let first = vault::json(&backend, &server.data_dir, &none, &["init"]);
    assert_eq!(first["provider"], "local");
    assert_eq!(
        first["created"], false,
        "the server created the key file at start"
    );
    let old = first["kek_id"].as_str().unwrap().to_owned();

    let report = vault::json(&backend, &server.data_dir, &none, &["rotate"]);
    let new = report["to"].as_str().unwrap().to_owned();
    assert!(new.starts_with("local:") && new != old, "{report}");
    assert_eq!(report["rewrapped"], 2);
    let new_file = report["location"].as_str().unwrap().to_owned();
    assert!(Path::new(&new_file).is_file(), "{new_file}");
    sign_both(&cli, &evm, &sol, "after");
    // A rotation with nothing left over rotates again (a third key).
    let third = vault::json(
        &backend,
        &server.data_dir,
        &none,
        &["rotate", "--retire-old", "--yes"],
    );
    assert_eq!(third["rewrapped"], 2);
    let retired = third["retired"]["retired"].as_array().unwrap().len();
    assert_eq!(retired, 2, "{third}");
    assert!(!server.data_dir.join("server-kek.key").exists());
    assert!(!Path::new(&new_file).exists());
    sign_both(&cli, &evm, &sol, "after retire");
    let server = server.restart_with(&backend, ServerOptions::default());
    sign_both(&cli, &evm, &sol, "after restart");
    let status = vault::json(&backend, &server.data_dir, &none, &["status"]);
    assert_eq!(status["active"], third["to"]);
    assert_eq!(status["pending"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn local_keys_rotate_on_every_backend() {
    each_backend(local_rotation).await;
}

/// Issue 14, item 8: vault commands say what they act on, need a configuration rather than
/// creating a database where they run, never create one, and destroy keys only when told.
#[test]
fn vault_commands_name_their_target_create_nothing_and_confirm_destruction() {
    // No configuration at all: refused, nothing created in the working directory.
    let cwd = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["vault", "status"])
        .current_dir(cwd.path())
        .env_remove("TANDEM_CONFIG")
        .env_remove("TANDEM_DATA_DIR")
        .env_remove("TANDEM_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no server configuration given"), "{err}");
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "created files"
    );

    // A data directory with no database: refused, nothing created.
    let sqlite = Backend::Sqlite;
    let missing = cwd.path().join("nowhere");
    for args in [&["status"][..], &["rotate"], &["retire", "--yes"]] {
        let out = vault::run(&sqlite, &missing, &[], args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no database at"), "{args:?}: {err}");
        assert!(!missing.exists(), "{args:?} created {}", missing.display());
    }

    // `init` before the first start makes the key, not the database; the server registers
    // the key when it first starts.
    let fresh = cwd.path().join("fresh");
    let init = vault::json(&sqlite, &fresh, &[], &["init"]);
    assert_eq!(init["created"], true, "{init}");
    assert_eq!(init["registered"], false, "{init}");
    assert!(
        init["note"].as_str().unwrap().contains("first start"),
        "{init}"
    );
    assert!(fresh.join("server-kek.key").exists());
    assert!(!fresh.join("tandem.db").exists(), "init created a database");

    // On a server's data: the target first (database and key file), then the answer.
    let server = Server::start(&sqlite);
    let out = vault::run(&sqlite, &server.data_dir, &[], &["status"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("tandem vault status: database sqlite://")
            && first.contains(&server.data_dir.join("tandem.db").display().to_string())
            && first.contains("provider local, key file"),
        "{err}"
    );

    // Destroying keys needs --yes when nobody can be asked.
    vault::json(&sqlite, &server.data_dir, &[], &["rotate"]);
    for args in [&["retire"][..], &["rotate", "--retire-old"]] {
        let out = vault::run(&sqlite, &server.data_dir, &[], args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("add --yes"), "{args:?}: {err}");
    }
    let status = vault::json(&sqlite, &server.data_dir, &[], &["status"]);
    assert_eq!(status["keks"].as_array().unwrap().len(), 2, "{status}");
    assert!(
        status["keks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["state"] != "retired"),
        "{status}"
    );
    let retired = vault::json(&sqlite, &server.data_dir, &[], &["retire", "--yes"]);
    assert_eq!(retired["retired"].as_array().unwrap().len(), 1, "{retired}");
}
