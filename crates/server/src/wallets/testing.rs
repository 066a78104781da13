//! Test support: what the database holds, read straight from the tables, so a test can check
//! the key-lifecycle invariants without going through the service it is testing. Compiled only
//! for tests or with the `testing` feature.

use sqlx::Row;
use zeroize::Zeroizing;

use crate::store::Store;

use super::repo::{Access, WalletError, Wallets};

/// One `server_shares` row.
#[derive(Clone, PartialEq, Eq)]
pub struct ShareRow {
    pub epoch: u64,
    /// `current` or `staged`.
    pub state: String,
    /// The sealed share as stored, to look for after it should be gone.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for ShareRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareRow")
            .field("epoch", &self.epoch)
            .field("state", &self.state)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

/// Every server share row of `wallet_id`, by epoch.
pub async fn share_rows(store: &Store, wallet_id: &str) -> Result<Vec<ShareRow>, WalletError> {
    let rows = sqlx::query(
        "SELECT epoch, state, ciphertext FROM server_shares WHERE wallet_id = $1 ORDER BY epoch",
    )
    .bind(wallet_id)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let epoch: i64 = r.try_get("epoch")?;
            Ok(ShareRow {
                epoch: u64::try_from(epoch).map_err(|_| WalletError::Conflict)?,
                state: r.try_get("state")?,
                ciphertext: r.try_get("ciphertext")?,
            })
        })
        .collect()
}

/// Ids of the wallets of the user of session `session_id` that exist in the database,
/// whatever their state. (By session: the database cannot look a user up by email without
/// the vault's blind-index key.)
pub async fn wallet_ids_of(store: &Store, session_id: &str) -> Result<Vec<String>, WalletError> {
    Ok(sqlx::query_scalar(
        "SELECT w.id FROM wallets w JOIN sessions s ON s.user_id = w.user_id WHERE s.id = $1 \
         ORDER BY w.id",
    )
    .bind(session_id)
    .fetch_all(store.pool())
    .await?)
}

/// Wallets whose current epoch has no current share row: a wallet that cannot sign. The
/// lifecycle must never produce one.
pub async fn wallets_without_current_share(store: &Store) -> Result<Vec<String>, WalletError> {
    Ok(sqlx::query_scalar(
        "SELECT w.id FROM wallets w WHERE NOT EXISTS (SELECT 1 FROM server_shares s \
         WHERE s.wallet_id = w.id AND s.epoch = w.epoch AND s.state = 'current') ORDER BY w.id",
    )
    .fetch_all(store.pool())
    .await?)
}

/// The current server share of `wallet_id`, opened the way a ceremony opens it (whoever owns
/// the wallet).
pub async fn open_current_share(
    wallets: &Wallets,
    wallet_id: &str,
) -> Result<Zeroizing<Vec<u8>>, WalletError> {
    let owner: String = sqlx::query_scalar("SELECT user_id FROM wallets WHERE id = $1")
        .bind(wallet_id)
        .fetch_optional(wallets.store().pool())
        .await?
        .ok_or(WalletError::NotFound)?;
    let (wallet, share) = wallets.get_for_ceremony(&owner, wallet_id).await?;
    wallets.open_share(&wallet, share, wallet.epoch, Access::Active)
}

/// One wallet's current sealed share exactly as stored (KEK id, wrapped data key,
/// ciphertext), for tests that play someone with write access to the database.
pub async fn current_sealed(
    store: &Store,
    wallet_id: &str,
) -> Result<crate::vault::SealedShare, WalletError> {
    let row = sqlx::query(
        "SELECT s.kek_id, s.wrapped_dek, s.ciphertext FROM server_shares s \
         JOIN wallets w ON w.id = s.wallet_id AND w.epoch = s.epoch \
         WHERE s.wallet_id = $1 AND s.state = 'current'",
    )
    .bind(wallet_id)
    .fetch_optional(store.pool())
    .await?
    .ok_or(WalletError::MissingShare)?;
    Ok(crate::vault::SealedShare {
        kek_id: row.try_get("kek_id")?,
        wrapped_dek: row.try_get("wrapped_dek")?,
        ciphertext: row.try_get("ciphertext")?,
    })
}

/// Overwrites a wallet's current sealed share (a database writer restoring an old row).
pub async fn overwrite_current_sealed(
    store: &Store,
    wallet_id: &str,
    sealed: &crate::vault::SealedShare,
) -> Result<(), WalletError> {
    sqlx::query(
        "UPDATE server_shares SET kek_id = $1, wrapped_dek = $2, ciphertext = $3 \
         WHERE wallet_id = $4 AND state = 'current'",
    )
    .bind(&sealed.kek_id)
    .bind(&sealed.wrapped_dek)
    .bind(&sealed.ciphertext)
    .bind(wallet_id)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Makes `kek_id` the registry's active KEK, bypassing every check (a database writer).
pub async fn force_active_kek(store: &Store, kek_id: &str) -> Result<(), WalletError> {
    sqlx::query("UPDATE vault_keks SET state = 'previous' WHERE state = 'active'")
        .execute(store.pool())
        .await?;
    sqlx::query("UPDATE vault_keks SET state = 'active' WHERE kek_id = $1")
        .bind(kek_id)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Overwrites a wallet's stored address, as anyone with write access to the database could.
pub async fn forge_address(
    store: &Store,
    wallet_id: &str,
    address: &str,
) -> Result<(), WalletError> {
    sqlx::query("UPDATE wallets SET address = $1 WHERE id = $2")
        .bind(address)
        .bind(wallet_id)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Overwrites a wallet's stored public key, as anyone with write access to the database could.
pub async fn forge_public_key(
    store: &Store,
    wallet_id: &str,
    public_key: &[u8],
) -> Result<(), WalletError> {
    sqlx::query("UPDATE wallets SET public_key = $1 WHERE id = $2")
        .bind(public_key.to_vec())
        .bind(wallet_id)
        .execute(store.pool())
        .await?;
    Ok(())
}
