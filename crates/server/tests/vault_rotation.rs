//! KEK rotation on the stored shares, in process, on SQLite and PostgreSQL, with local key
//! files: a rotation re-wraps every share (current and staged) without touching ciphertexts,
//! a refresh staged before the rotation still commits after it, a server prepared before the
//! rotation opens the re-wrapped shares and seals new ones under the new KEK, an interrupted
//! rotation is finished by the next run, and retiring destroys only unused KEKs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{TestDb, manual_clock};
use sqlx::Row;
use tandem_proto::wallet::Chain;
use tandem_server::config::Config;
use tandem_server::vault::{KeyProvider, LocalKeyProvider};
use tandem_server::vault_ops::{self, Purpose};
use tandem_server::wallets::{Access, RewrapProgress, Wallets};

on_both_backends!(rotation_rewraps_everything_and_refreshes_survive);

fn config(dir: &Path) -> Config {
    let mut config = Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    config.vault.key_file = Some(dir.join("server-kek.key"));
    config
}

fn share(wallet: &str, epoch: u64) -> Vec<u8> {
    format!("share of {wallet} at epoch {epoch}").into_bytes()
}

/// (wallet, epoch) -> (kek_id, ciphertext) of every stored share.
async fn rows(db: &TestDb) -> BTreeMap<(String, i64), (String, Vec<u8>)> {
    sqlx::query("SELECT wallet_id, epoch, kek_id, ciphertext FROM server_shares")
        .fetch_all(db.store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                (r.try_get("wallet_id").unwrap(), r.try_get("epoch").unwrap()),
                (
                    r.try_get("kek_id").unwrap(),
                    r.try_get("ciphertext").unwrap(),
                ),
            )
        })
        .collect()
}

async fn open_all(wallets: &Wallets, ids: &[&str], user: &str, refreshed: &str) {
    for id in ids {
        let (wallet, current) = wallets.get_for_ceremony(user, id).await.unwrap();
        let opened = wallets
            .open_share(&wallet, current, wallet.epoch, Access::Active)
            .unwrap();
        let epoch = if *id == refreshed { 1 } else { 0 };
        assert_eq!(opened.as_slice(), share(id, epoch), "{id}");
    }
}

async fn rotation_rewraps_everything_and_refreshes_survive(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let (_clock, clock) = manual_clock();
    sqlx::query("INSERT INTO users (id, email, created_at) VALUES ('u1', 'u1@example.com', 1)")
        .execute(db.store.pool())
        .await
        .unwrap();

    // A "running server": prepared before any rotation, kept throughout.
    let server = vault_ops::prepare(&config, db.store.clone(), clock.clone(), Purpose::Serve)
        .await
        .unwrap();
    let first = server.active.clone();
    assert!(first.starts_with("local:"));
    let ids = ["w-a", "w-b", "w-c"];
    for id in ids {
        server
            .wallets
            .create(
                id,
                "u1",
                Chain::Evm,
                b"pk",
                &format!("addr-{id}"),
                &share(id, 0),
            )
            .await
            .unwrap();
    }
    // A refresh of w-a staged before the rotation.
    let wa = server.wallets.get("u1", "w-a").await.unwrap();
    let fence = server
        .wallets
        .begin_refresh(&wa, Access::Active)
        .await
        .unwrap();
    let token = server
        .wallets
        .stage_refresh(&wa, 1, &share("w-a", 1))
        .await
        .unwrap();
    let before = rows(db).await;
    assert_eq!(before.len(), 4);

    let mut seen = Vec::new();
    let report = vault_ops::rotate(
        &config,
        db.store.clone(),
        clock.clone(),
        false,
        &mut |p: RewrapProgress| seen.push(p),
    )
    .await
    .unwrap();
    assert!(!report.resumed && report.created);
    assert_ne!(report.to, first);
    assert_eq!(report.from, vec![first.clone()]);
    assert_eq!((report.rewrapped, report.remaining), (4, 0));
    assert!(report.failed.is_empty());
    assert_eq!(seen.last().unwrap().done, 4);
    assert_eq!(seen.last().unwrap().total, 4);
    assert!(Path::new(&report.location).is_file(), "{}", report.location);

    // Every share is under the new KEK; no ciphertext changed (only the data keys moved).
    let after = rows(db).await;
    for (key, (kek, ciphertext)) in &after {
        assert_eq!(kek, &report.to, "{key:?}");
        assert_eq!(ciphertext, &before[key].1, "{key:?}: ciphertext rewritten");
    }

    // The refresh staged before the rotation commits after it, and the old server — which
    // never loaded the new KEK — opens every share.
    let wa = server
        .wallets
        .commit_refresh(&wa, fence, 1, &token, Access::Active)
        .await
        .unwrap();
    assert_eq!(wa.epoch, 1);
    open_all(&server.wallets, &ids, "u1", "w-a").await;

    // The old server seals new shares under the new KEK (it follows the registry).
    server
        .wallets
        .create(
            "w-d",
            "u1",
            Chain::Solana,
            b"pk",
            "addr-w-d",
            &share("w-d", 0),
        )
        .await
        .unwrap();
    assert_eq!(rows(db).await[&("w-d".to_owned(), 0)].0, report.to);

    // An interrupted rotation (switched, nothing re-wrapped yet) is finished by the next run,
    // which creates no further key.
    let (third, _) = LocalKeyProvider::create_rotated(dir.path(), "server-kek").unwrap();
    server.wallets.activate_kek(third.kek_id()).await.unwrap();
    let status = vault_ops::status(&db.store).await.unwrap();
    assert_eq!(status.active.as_deref(), Some(third.kek_id()));
    assert_eq!(status.pending, 4);
    let resumed = vault_ops::rotate(&config, db.store.clone(), clock.clone(), false, &mut |_| {})
        .await
        .unwrap();
    assert!(resumed.resumed && !resumed.created);
    assert_eq!(resumed.to, third.kek_id());
    assert_eq!(resumed.from, vec![report.to.clone()]);
    assert_eq!((resumed.rewrapped, resumed.remaining), (4, 0));
    open_all(&server.wallets, &ids, "u1", "w-a").await;

    // Retiring destroys the two unused KEKs (their files) and keeps the active one.
    let retired = vault_ops::retire(&config, db.store.clone(), clock.clone())
        .await
        .unwrap();
    let mut got = retired.retired.clone();
    got.sort();
    let mut want = vec![first.clone(), report.to.clone()];
    want.sort();
    assert_eq!(got, want);
    assert!(retired.kept.is_empty());
    assert!(!dir.path().join("server-kek.key").exists());
    assert!(!Path::new(&report.location).exists());
    let status = vault_ops::status(&db.store).await.unwrap();
    let states: Vec<(&str, &str, u64)> = status
        .keks
        .iter()
        .map(|k| (k.kek_id.as_str(), k.state.as_str(), k.shares))
        .collect();
    assert!(
        states.contains(&(third.kek_id(), "active", 4)),
        "{states:?}"
    );
    assert_eq!(states.iter().filter(|s| s.1 == "retired").count(), 2);
    open_all(&server.wallets, &ids, "u1", "w-a").await;

    // A fresh server on this database starts on the active KEK, although the configured key
    // file is gone (it is never recreated once a KEK is registered).
    let again = vault_ops::prepare(&config, db.store.clone(), clock.clone(), Purpose::Serve)
        .await
        .unwrap();
    assert_eq!(again.active, third.kek_id());
    assert!(!dir.path().join("server-kek.key").exists());
    open_all(&again.wallets, &ids, "u1", "w-a").await;

    // A previous KEK that shares still name is kept by retire.
    let (fourth, _) = LocalKeyProvider::create_rotated(dir.path(), "server-kek").unwrap();
    again.wallets.activate_kek(fourth.kek_id()).await.unwrap();
    let kept = vault_ops::retire(&config, db.store.clone(), clock.clone())
        .await
        .unwrap();
    assert!(kept.retired.is_empty());
    assert_eq!(kept.kept.len(), 1);
    assert_eq!(kept.kept[0].kek_id, third.kek_id());
    open_all(&again.wallets, &ids, "u1", "w-a").await;

    // A re-wrap towards a KEK that is no longer active (another rotation switched meanwhile)
    // writes nothing and says which KEK superseded it.
    let (fifth, _) = LocalKeyProvider::create_rotated(dir.path(), "server-kek").unwrap();
    let stale = again
        .wallets
        .rewrap_all(fifth.kek_id(), &mut |_| {})
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stale.superseded_by.as_deref(), Some(fourth.kek_id()));
    assert_eq!(stale.rewrapped, 0);
    assert!(
        rows(db)
            .await
            .values()
            .all(|(kek, _)| kek == third.kek_id())
    );
}

#[tokio::test]
async fn a_server_without_the_key_of_stored_shares_refuses_to_start() {
    let db = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let (_clock, clock) = manual_clock();
    let config_a = config(&dir.path().join("a"));
    sqlx::query("INSERT INTO users (id, email, created_at) VALUES ('u1', 'u1@example.com', 1)")
        .execute(db.store.pool())
        .await
        .unwrap();
    let a = vault_ops::prepare(&config_a, db.store.clone(), clock.clone(), Purpose::Serve)
        .await
        .unwrap();
    a.wallets
        .create("w", "u1", Chain::Evm, b"pk", "addr", b"share")
        .await
        .unwrap();
    // Another key file: the registered active KEK is not there.
    let config_b = config(&dir.path().join("b"));
    let err = vault_ops::prepare(&config_b, db.store.clone(), clock, Purpose::Serve)
        .await
        .err()
        .expect("refused");
    let msg = err.to_string();
    assert!(
        msg.contains("active KEK") && msg.contains(&a.active),
        "{msg}"
    );
    assert!(
        !dir.path().join("b/server-kek.key").exists(),
        "no key file invented"
    );
    db.finish().await;
}
