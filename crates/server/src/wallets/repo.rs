use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use tandem_proto::scheme::address_for;
use tandem_proto::wallet::{Chain, WalletStatus};
use zeroize::Zeroizing;

use crate::clock::SharedClock;
use crate::failpoints::failpoint;
use crate::store::Store;
use crate::vault::{SealedShare, Vault, registry};

use super::record::{WalletRecord, parse_status};
use super::shares;

#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error("wallet not found")]
    NotFound,
    #[error("wallet is frozen")]
    Frozen,
    #[error("the wallet's epoch is {current}, the request named {requested}")]
    EpochMismatch { current: u64, requested: u64 },
    #[error("the wallet changed underneath this operation")]
    Conflict,
    #[error("stored share unavailable")]
    MissingShare,
    #[error("vault: {0}")]
    Vault(String),
    /// The key store cannot be reached now (retryable); see [`crate::vault::VaultError::Unavailable`].
    #[error("vault unavailable: {0}")]
    VaultUnavailable(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Proof that a refresh was begun ([`Wallets::begin_refresh`]): the wallet version it set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefreshFence {
    version: i64,
}

/// Seal attempts when a KEK rotation switches the active key between sealing and storing.
const SEAL_ATTEMPTS: usize = 3;

/// The `address` column is written at keygen for people reading the database, and never
/// read back: the address is derived from `public_key` in [`decode`], so a rewritten column
/// changes nothing anyone is shown.
const COLUMNS: &str =
    "id, user_id, chain, public_key, epoch, status, frozen_at, created_at, exported_at";
/// [`COLUMNS`] of the wallets table aliased `w`, for joins.
const W_COLUMNS: &str = "w.id, w.user_id, w.chain, w.public_key, w.epoch, w.status, \
     w.frozen_at, w.created_at, w.exported_at";

/// A wallet's current server share as read with it, still sealed.
pub struct CurrentShare {
    sealed: Option<SealedShare>,
}

/// The wallet service.
#[derive(Clone)]
pub struct Wallets {
    store: Store,
    vault: Vault,
    clock: SharedClock,
}

impl Wallets {
    pub fn new(store: Store, vault: Vault, clock: SharedClock) -> Self {
        Wallets {
            store,
            vault,
            clock,
        }
    }

    pub(super) fn store(&self) -> &Store {
        &self.store
    }

    pub(super) fn vault(&self) -> &Vault {
        &self.vault
    }

    pub(super) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The KEK new seals use: the registry's active one (the vault's own before any is
    /// registered, which only in-process tests see).
    async fn active_kek(&self) -> Result<String, WalletError> {
        Ok(registry::active(self.store.pool())
            .await?
            .map(|r| r.kek_id)
            .unwrap_or_else(|| self.vault.kek_id().to_owned()))
    }

    /// Checks the active KEK can be used right now (readiness: the HSM answers and the key is
    /// there).
    pub async fn probe_vault(&self) -> Result<(), WalletError> {
        let kek = self.active_kek().await?;
        self.vault.probe(&kek).map_err(shares::vault_error)
    }

    /// The wallet `id` if `user_id` owns it. Another user's wallet is reported as not found.
    pub async fn get(&self, user_id: &str, id: &str) -> Result<WalletRecord, WalletError> {
        let sql = format!("SELECT {COLUMNS} FROM wallets WHERE id = $1 AND user_id = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .bind(user_id)
            .fetch_optional(self.store.pool())
            .await?;
        row.map(|r| decode(&r))
            .transpose()?
            .ok_or(WalletError::NotFound)
    }

    pub async fn list(&self, user_id: &str) -> Result<Vec<WalletRecord>, WalletError> {
        let sql =
            format!("SELECT {COLUMNS} FROM wallets WHERE user_id = $1 ORDER BY created_at, id");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(self.store.pool())
            .await?;
        rows.iter().map(decode).collect()
    }

    /// Creates the wallet and its first (epoch 0) server share in one transaction.
    pub async fn create(
        &self,
        id: &str,
        user_id: &str,
        chain: Chain,
        public_key: &[u8],
        address: &str,
        share: &[u8],
    ) -> Result<WalletRecord, WalletError> {
        let now = self.clock.now_ms();
        for _ in 0..SEAL_ATTEMPTS {
            let sealed = shares::seal(&self.vault, &self.active_kek().await?, id, 0, share)?;
            let mut tx = self.store.begin_write().await?;
            sqlx::query(
                "INSERT INTO wallets (id, user_id, chain, public_key, address, epoch, status, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 0, 'active', 0, $6, $6)",
            )
            .bind(id)
            .bind(user_id)
            .bind(chain.as_str())
            .bind(public_key)
            .bind(address)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            insert_share(&mut tx, id, 0, "current", &sealed, None, now).await?;
            if !sealed_under_active(&mut tx, &sealed).await? {
                // A rotation switched the KEK meanwhile: seal again under the new one.
                tx.rollback().await?;
                continue;
            }
            failpoint!("server.keygen.before_commit");
            tx.commit().await?;
            failpoint!("server.keygen.after_commit");
            return Ok(WalletRecord {
                id: id.to_owned(),
                user_id: user_id.to_owned(),
                chain,
                public_key: public_key.to_vec(),
                address: derived_address(id, chain, public_key),
                epoch: 0,
                status: WalletStatus::Active,
                frozen_at: None,
                created_at: now,
                exported_at: None,
            });
        }
        Err(WalletError::Conflict)
    }

    /// The wallet `id` if `user_id` owns it, read together with its current server share
    /// (still sealed): one query for what every sign and refresh starts with.
    pub async fn get_for_ceremony(
        &self,
        user_id: &str,
        id: &str,
    ) -> Result<(WalletRecord, CurrentShare), WalletError> {
        let sql = format!(
            "SELECT {W_COLUMNS}, s.kek_id, s.wrapped_dek, s.ciphertext FROM wallets w \
             LEFT JOIN server_shares s \
               ON s.wallet_id = w.id AND s.epoch = w.epoch AND s.state = 'current' \
             WHERE w.id = $1 AND w.user_id = $2"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .bind(user_id)
            .fetch_optional(self.store.pool())
            .await?
            .ok_or(WalletError::NotFound)?;
        let wallet = decode(&row)?;
        let kek_id: Option<String> = row.try_get("kek_id")?;
        let sealed = match kek_id {
            Some(kek_id) => Some(SealedShare {
                kek_id,
                wrapped_dek: row.try_get("wrapped_dek")?,
                ciphertext: row.try_get("ciphertext")?,
            }),
            None => None,
        };
        Ok((wallet, CurrentShare { sealed }))
    }

    /// Checks a wallet can run a ceremony at `epoch` and opens its current server share. A
    /// frozen wallet's share opens only for `Access::Unfreeze` (a complete refresh whose
    /// caller has checked the session is newer than the freeze).
    pub fn open_share(
        &self,
        wallet: &WalletRecord,
        share: CurrentShare,
        epoch: u64,
        access: Access,
    ) -> Result<Zeroizing<Vec<u8>>, WalletError> {
        if wallet.status != WalletStatus::Active && access != Access::Unfreeze {
            return Err(WalletError::Frozen);
        }
        if wallet.epoch != epoch {
            return Err(WalletError::EpochMismatch {
                current: wallet.epoch,
                requested: epoch,
            });
        }
        let sealed = share.sealed.ok_or(WalletError::MissingShare)?;
        shares::open(&self.vault, &wallet.id, epoch, &sealed)
    }

    /// The wallet `id` of `user_id` and its current server share, opened: what a Backup Kit
    /// or an export seals to the user. Refused for a frozen wallet (its share may be known to
    /// a cheating device; only the complete refresh that unfreezes it may use it).
    pub async fn open_current(
        &self,
        user_id: &str,
        id: &str,
    ) -> Result<(WalletRecord, Zeroizing<Vec<u8>>), WalletError> {
        let (wallet, share) = self.get_for_ceremony(user_id, id).await?;
        let epoch = wallet.epoch;
        let opened = self.open_share(&wallet, share, epoch, Access::Active)?;
        Ok((wallet, opened))
    }

    /// Records that the whole key of `id` left the 2-of-2 (an online export).
    pub async fn mark_exported(&self, id: &str) -> Result<(), WalletError> {
        sqlx::query("UPDATE wallets SET exported_at = $1 WHERE id = $2")
            .bind(self.clock.now_ms())
            .bind(id)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// Opens a refresh of `wallet` at its current epoch: bumps the wallet's version and deletes
    /// every staged share an earlier refresh left behind, in one transaction guarded by the
    /// epoch. Returns the fence [`Wallets::commit_refresh`] needs.
    ///
    /// Only the refresh begun last can commit (the commit is guarded by this version), so once
    /// the server has accepted a refresh no earlier one can commit any more, whatever state it
    /// is in: that is what lets the device drop a leftover staged share at `accepted`. The
    /// guard serialises with the commit (both write the wallet row first): either an earlier
    /// commit won, and this fails with `EpochMismatch`, or this won and that commit fails.
    pub async fn begin_refresh(
        &self,
        wallet: &WalletRecord,
        access: Access,
    ) -> Result<RefreshFence, WalletError> {
        let mut tx = self.store.begin_write().await?;
        let guarded = sqlx::query(
            "UPDATE wallets SET version = version + 1, updated_at = $1 \
             WHERE id = $2 AND epoch = $3 AND status = $4",
        )
        .bind(self.clock.now_ms())
        .bind(&wallet.id)
        .bind(to_i64(wallet.epoch)?)
        .bind(access.required_status())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if guarded != 1 {
            drop(tx);
            if access == Access::Unfreeze {
                return Err(WalletError::Conflict);
            }
            return Err(self.why_not_at(wallet).await);
        }
        let version: i64 = sqlx::query("SELECT version FROM wallets WHERE id = $1")
            .bind(&wallet.id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("version")?;
        let fenced =
            sqlx::query("DELETE FROM server_shares WHERE wallet_id = $1 AND state = 'staged'")
                .bind(&wallet.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        tx.commit().await?;
        if fenced > 0 {
            tracing::info!(wallet = %wallet.id, fenced, "dropped staged shares of an earlier refresh");
        }
        Ok(RefreshFence { version })
    }

    /// The lie `server.lie.accepted_unfenced` (tests only): a fence for the wallet's current
    /// version without bumping it or dropping earlier staged rows, so `accepted` is sent while
    /// an earlier refresh could still commit. Compiled only with the `failpoints` feature.
    #[cfg(feature = "failpoints")]
    pub async fn unfenced(&self, wallet: &WalletRecord) -> Result<RefreshFence, WalletError> {
        let version: i64 = sqlx::query("SELECT version FROM wallets WHERE id = $1")
            .bind(&wallet.id)
            .fetch_one(self.store.pool())
            .await?
            .try_get("version")?;
        Ok(RefreshFence { version })
    }

    /// Why `wallet` is no longer active at the epoch the caller read.
    async fn why_not_at(&self, wallet: &WalletRecord) -> WalletError {
        match self.get(&wallet.user_id, &wallet.id).await {
            Ok(now) if now.status != WalletStatus::Active => WalletError::Frozen,
            Ok(now) => WalletError::EpochMismatch {
                current: now.epoch,
                requested: wallet.epoch,
            },
            Err(e) => e,
        }
    }

    /// Phase one of a refresh: persists the new server share as `staged` at `new_epoch`.
    /// Returns the token that [`Wallets::commit_refresh`] needs, which proves the staged row
    /// is this ceremony's and not a concurrent one's. The token is random and stored beside
    /// the share (not derived from the sealed bytes), so a KEK rotation re-wrapping the staged
    /// share meanwhile does not invalidate it.
    ///
    /// A staged row already there belongs to a ceremony that is dead or about to lose: it is
    /// replaced, so a crashed ceremony never blocks the next one. If that other ceremony is in
    /// fact still running, its commit finds its token gone and fails; the current pair is
    /// untouched either way.
    pub async fn stage_refresh(
        &self,
        wallet: &WalletRecord,
        new_epoch: u64,
        share: &[u8],
    ) -> Result<Vec<u8>, WalletError> {
        let mut token = vec![0u8; 32];
        getrandom::fill(&mut token).map_err(|_| WalletError::Vault("randomness".to_owned()))?;
        for _ in 0..SEAL_ATTEMPTS {
            let now = self.clock.now_ms();
            let sealed = shares::seal(
                &self.vault,
                &self.active_kek().await?,
                &wallet.id,
                new_epoch,
                share,
            )?;
            let mut tx = self.store.begin_write().await?;
            sqlx::query(
                "DELETE FROM server_shares WHERE wallet_id = $1 AND epoch = $2 AND state = 'staged'",
            )
            .bind(&wallet.id)
            .bind(to_i64(new_epoch)?)
            .execute(&mut *tx)
            .await?;
            let committed =
                sqlx::query("SELECT state FROM server_shares WHERE wallet_id = $1 AND epoch = $2")
                    .bind(&wallet.id)
                    .bind(to_i64(new_epoch)?)
                    .fetch_optional(&mut *tx)
                    .await?;
            if committed.is_some() {
                // Another ceremony already committed this epoch.
                return Err(WalletError::Conflict);
            }
            insert_share(
                &mut tx,
                &wallet.id,
                new_epoch,
                "staged",
                &sealed,
                Some(&token),
                now,
            )
            .await?;
            if !sealed_under_active(&mut tx, &sealed).await? {
                tx.rollback().await?;
                continue;
            }
            tx.commit().await?;
            failpoint!("server.refresh.after_stage");
            return Ok(token);
        }
        Err(WalletError::Conflict)
    }

    /// Phase two: after the joint test signature, makes `new_epoch` current and destroys the
    /// old server share, all in one transaction guarded by the old epoch, by `fence` (no
    /// refresh began after this one) and by the stage token (the staged row is this one's).
    /// With `Access::Unfreeze` the wallet must be frozen and becomes active again.
    pub async fn commit_refresh(
        &self,
        wallet: &WalletRecord,
        fence: RefreshFence,
        new_epoch: u64,
        stage_token: &[u8],
        access: Access,
    ) -> Result<WalletRecord, WalletError> {
        let now = self.clock.now_ms();
        let old = to_i64(wallet.epoch)?;
        let new = to_i64(new_epoch)?;
        let required = access.required_status();
        let mut tx = self.store.begin_write().await?;
        let moved = sqlx::query(
            "UPDATE wallets SET epoch = $1, status = 'active', frozen_at = NULL, \
             version = version + 1, updated_at = $2 \
             WHERE id = $3 AND epoch = $4 AND version = $5 AND status = $6",
        )
        .bind(new)
        .bind(now)
        .bind(&wallet.id)
        .bind(old)
        .bind(fence.version)
        .bind(required)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != 1 {
            return Err(WalletError::Conflict);
        }
        // The old server share is destroyed first: one current share per wallet is a
        // database invariant, and the old pair must not outlive the commit anyway.
        sqlx::query("DELETE FROM server_shares WHERE wallet_id = $1 AND epoch < $2")
            .bind(&wallet.id)
            .bind(new)
            .execute(&mut *tx)
            .await?;
        failpoint!("server.refresh.after_delete_old");
        let promoted = sqlx::query(
            "UPDATE server_shares SET state = 'current' \
             WHERE wallet_id = $1 AND epoch = $2 AND state = 'staged' AND stage_token = $3",
        )
        .bind(&wallet.id)
        .bind(new)
        .bind(stage_token)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if promoted != 1 {
            return Err(WalletError::Conflict);
        }
        tx.commit().await?;
        // The old share's bytes must not survive in the database files either (K2).
        self.store.scrub_deleted().await;
        failpoint!("server.refresh.after_commit");
        let mut updated = wallet.clone();
        updated.epoch = new_epoch;
        updated.status = WalletStatus::Active;
        updated.frozen_at = None;
        Ok(updated)
    }

    /// Drops a staged share whose ceremony failed before the commit.
    pub async fn abandon_refresh(
        &self,
        wallet_id: &str,
        new_epoch: u64,
        stage_token: &[u8],
    ) -> Result<(), WalletError> {
        sqlx::query(
            "DELETE FROM server_shares WHERE wallet_id = $1 AND epoch = $2 AND state = 'staged' AND stage_token = $3",
        )
        .bind(wallet_id)
        .bind(to_i64(new_epoch)?)
        .bind(stage_token)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Fails with `Frozen` unless the wallet is active right now (read from the database, so
    /// a freeze by another instance counts).
    pub async fn ensure_active(&self, wallet_id: &str) -> Result<(), WalletError> {
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM wallets WHERE id = $1")
            .bind(wallet_id)
            .fetch_optional(self.store.pool())
            .await?;
        match status.as_deref().map(parse_status) {
            Some(WalletStatus::Active) => Ok(()),
            Some(_) => Err(WalletError::Frozen),
            None => Err(WalletError::NotFound),
        }
    }

    /// Deletes every staged share. Run at start, before serving: a staged row means something
    /// only to the live ceremony that wrote it, and a process that is starting has none, so
    /// these were left by a crash. (A ceremony still live on another instance loses its row
    /// too; its guarded commit then fails cleanly and the device keeps its current share.)
    pub async fn discard_staged_shares(&self) -> Result<u64, WalletError> {
        let deleted = sqlx::query("DELETE FROM server_shares WHERE state = 'staged'")
            .execute(self.store.pool())
            .await?
            .rows_affected();
        Ok(deleted)
    }

    /// Detected cheating: nothing signs with this wallet until a complete refresh by a
    /// session opened after this moment. Bumping the version also fences off any refresh in
    /// flight.
    /// Freezes every wallet of `user_id` inside the caller's transaction, as of `at` (a
    /// completed recovery). Like [`Wallets::freeze`] it bumps each wallet's version, so no
    /// refresh begun before it can commit afterwards.
    pub async fn freeze_all_in(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        user_id: &str,
        at: i64,
    ) -> Result<(), WalletError> {
        sqlx::query(
            "UPDATE wallets SET status = 'frozen', frozen_at = $1, version = version + 1, \
             updated_at = $1 WHERE user_id = $2",
        )
        .bind(at)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn freeze(&self, wallet_id: &str) -> Result<(), WalletError> {
        sqlx::query(
            "UPDATE wallets SET status = 'frozen', frozen_at = $1, version = version + 1, \
             updated_at = $1 WHERE id = $2",
        )
        .bind(self.clock.now_ms())
        .bind(wallet_id)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }
}

async fn insert_share(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    wallet_id: &str,
    epoch: u64,
    state: &str,
    sealed: &SealedShare,
    stage_token: Option<&[u8]>,
    now: i64,
) -> Result<(), WalletError> {
    sqlx::query(
        "INSERT INTO server_shares (wallet_id, epoch, state, kek_id, wrapped_dek, ciphertext, stage_token, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(wallet_id)
    .bind(to_i64(epoch)?)
    .bind(state)
    .bind(&sealed.kek_id)
    .bind(&sealed.wrapped_dek)
    .bind(&sealed.ciphertext)
    .bind(stage_token)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What a ceremony may do with a wallet's share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Sign or fast refresh: the wallet must be active.
    Active,
    /// The complete refresh that unfreezes a frozen wallet.
    Unfreeze,
}

impl Access {
    fn required_status(self) -> &'static str {
        match self {
            Access::Active => "active",
            Access::Unfreeze => "frozen",
        }
    }
}

/// Whether `sealed` used the KEK that is active as this transaction sees it, checked after the
/// share row is written. A KEK switch first takes a lock that waits for every transaction
/// writing shares (see `Wallets::activate_kek`), so a share either commits before the switch
/// (and the rotation that follows re-wraps it) or sees the new KEK here and is sealed again:
/// no share under a replaced KEK can appear after a rotation has started re-wrapping.
async fn sealed_under_active(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    sealed: &SealedShare,
) -> Result<bool, WalletError> {
    Ok(match registry::active_id_in(tx).await? {
        Some(active) => active == sealed.kek_id,
        None => true,
    })
}

fn to_i64(epoch: u64) -> Result<i64, WalletError> {
    i64::try_from(epoch).map_err(|_| WalletError::Conflict)
}

/// The address of `public_key`. A key that is no point of the curve is a damaged row: no
/// address rather than one that could be anyone's. Devices refuse the wallet; the server's
/// signing refuses it too (the share it opens does not carry this key).
fn derived_address(id: &str, chain: Chain, public_key: &[u8]) -> String {
    address_for(chain, public_key).unwrap_or_else(|_| {
        tracing::error!(wallet = %id, "stored public key is not a valid key; no address shown");
        String::new()
    })
}

fn decode(row: &AnyRow) -> Result<WalletRecord, WalletError> {
    let chain: String = row.try_get("chain")?;
    let epoch: i64 = row.try_get("epoch")?;
    let status: String = row.try_get("status")?;
    let id: String = row.try_get("id")?;
    let chain = Chain::parse(&chain).ok_or_else(|| {
        WalletError::Db(sqlx::Error::Decode(
            format!("unknown chain {chain:?}").into(),
        ))
    })?;
    let public_key: Vec<u8> = row.try_get("public_key")?;
    let address = derived_address(&id, chain, &public_key);
    Ok(WalletRecord {
        id,
        user_id: row.try_get("user_id")?,
        chain,
        public_key,
        address,
        epoch: u64::try_from(epoch).map_err(|_| WalletError::Conflict)?,
        status: parse_status(&status),
        frozen_at: row.try_get("frozen_at")?,
        created_at: row.try_get("created_at")?,
        exported_at: row.try_get("exported_at")?,
    })
}
