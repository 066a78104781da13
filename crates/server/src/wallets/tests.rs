//! The lifecycle transitions' guards, against a real (in-memory SQLite) store: what makes a
//! crashed or superseded refresh harmless (docs/crash-safety.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use tandem_proto::wallet::Chain;

use super::testing::share_rows;
use super::{Access, WalletError, WalletRecord, Wallets};
use crate::clock::ManualClock;
use crate::store::Store;
use crate::vault::{LocalKeyProvider, Vault};

struct Fixture {
    wallets: Wallets,
    store: Store,
    _dir: tempfile::TempDir,
}

async fn fixture() -> (Fixture, WalletRecord) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect("sqlite::memory:").await.unwrap();
    sqlx::query("INSERT INTO users (id, email, created_at) VALUES ('u', 'u@example.test', 0)")
        .execute(store.pool())
        .await
        .unwrap();
    let provider = LocalKeyProvider::open_or_create(&dir.path().join("kek.key")).unwrap();
    let wallets = Wallets::new(
        store.clone(),
        Vault::new(Arc::new(provider)),
        Arc::new(ManualClock::new(1_000)),
    );
    let wallet = wallets
        .create("w1", "u", Chain::Evm, &[2; 33], "0xabc", b"share 0")
        .await
        .unwrap();
    let f = Fixture {
        wallets,
        store,
        _dir: dir,
    };
    (f, wallet)
}

/// (epoch, state) of every share row of the wallet.
async fn rows(f: &Fixture) -> Vec<(u64, String)> {
    share_rows(&f.store, "w1")
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.epoch, r.state))
        .collect()
}

#[tokio::test]
async fn a_fence_stops_an_earlier_refresh_from_committing() {
    let (f, wallet) = fixture().await;
    let fence = f
        .wallets
        .begin_refresh(&wallet, Access::Active)
        .await
        .unwrap();
    let token = f
        .wallets
        .stage_refresh(&wallet, 1, b"share 1")
        .await
        .unwrap();
    f.wallets
        .begin_refresh(&wallet, Access::Active)
        .await
        .unwrap();
    let late = f
        .wallets
        .commit_refresh(&wallet, fence, 1, &token, Access::Active)
        .await;
    assert!(matches!(late, Err(WalletError::Conflict)), "{late:?}");
    // Rolled back whole: still epoch 0, its share intact.
    assert_eq!(rows(&f).await, vec![(0, "current".to_owned())]);
    let (now, share) = f.wallets.get_for_ceremony("u", "w1").await.unwrap();
    assert_eq!(now.epoch, 0);
    assert_eq!(
        f.wallets
            .open_share(&now, share, 0, Access::Active)
            .unwrap()
            .as_slice(),
        b"share 0"
    );
}

#[tokio::test]
async fn a_refresh_staging_after_a_later_fence_cannot_commit() {
    let (f, wallet) = fixture().await;
    let earlier = f
        .wallets
        .begin_refresh(&wallet, Access::Active)
        .await
        .unwrap();
    let later = f
        .wallets
        .begin_refresh(&wallet, Access::Active)
        .await
        .unwrap();
    // The earlier ceremony stages only now, after the later one's fence deleted nothing.
    let token = f
        .wallets
        .stage_refresh(&wallet, 1, b"share 1")
        .await
        .unwrap();
    let late = f
        .wallets
        .commit_refresh(&wallet, earlier, 1, &token, Access::Active)
        .await;
    assert!(matches!(late, Err(WalletError::Conflict)), "{late:?}");
    // The later ceremony cannot take the earlier one's staged share for its own either.
    let mine = f
        .wallets
        .commit_refresh(&wallet, later, 1, b"not my token", Access::Active)
        .await;
    assert!(matches!(mine, Err(WalletError::Conflict)), "{mine:?}");
    assert_eq!(f.wallets.get("u", "w1").await.unwrap().epoch, 0);
}

#[tokio::test]
async fn a_commit_that_won_refuses_the_fence() {
    let (f, wallet) = fixture().await;
    let fence = f
        .wallets
        .begin_refresh(&wallet, Access::Active)
        .await
        .unwrap();
    let token = f
        .wallets
        .stage_refresh(&wallet, 1, b"share 1")
        .await
        .unwrap();
    f.wallets
        .commit_refresh(&wallet, fence, 1, &token, Access::Active)
        .await
        .unwrap();
    let refused = f.wallets.begin_refresh(&wallet, Access::Active).await;
    assert!(
        matches!(
            refused,
            Err(WalletError::EpochMismatch {
                current: 1,
                requested: 0
            })
        ),
        "{refused:?}"
    );
    // The old server share is gone with its row.
    assert_eq!(rows(&f).await, vec![(1, "current".to_owned())]);
}

#[tokio::test]
async fn a_leftover_stage_is_replaced_and_swept_never_blocking() {
    let (f, wallet) = fixture().await;
    let fence = f
        .wallets
        .begin_refresh(&wallet, Access::Active)
        .await
        .unwrap();
    let first = f
        .wallets
        .stage_refresh(&wallet, 1, b"share 1")
        .await
        .unwrap();
    let second = f
        .wallets
        .stage_refresh(&wallet, 1, b"share 1 again")
        .await
        .unwrap();
    assert_ne!(first, second);
    assert!(matches!(
        f.wallets
            .commit_refresh(&wallet, fence, 1, &first, Access::Active)
            .await,
        Err(WalletError::Conflict)
    ));
    let committed = f
        .wallets
        .commit_refresh(&wallet, fence, 1, &second, Access::Active)
        .await
        .unwrap();
    assert_eq!(committed.epoch, 1);
    let (current, share) = f.wallets.get_for_ceremony("u", "w1").await.unwrap();
    assert_eq!(current, committed);
    assert_eq!(
        f.wallets
            .open_share(&current, share, 1, Access::Active)
            .unwrap()
            .as_slice(),
        b"share 1 again"
    );

    f.wallets
        .stage_refresh(&committed, 2, b"share 2")
        .await
        .unwrap();
    assert_eq!(f.wallets.discard_staged_shares().await.unwrap(), 1);
    assert_eq!(rows(&f).await, vec![(1, "current".to_owned())]);
}
