//! KEK rotation on the stored shares: switching the active KEK, and re-wrapping every data
//! key from the KEK it is under to the active one, while servers keep serving.
//!
//! Guarantees, against servers running ceremonies on the same database at the same time:
//! - Each share is re-wrapped by one single-row compare-and-swap (`kek_id` and `wrapped_dek`
//!   as read), in its own short transaction. A share a refresh deleted or replaced meanwhile
//!   is simply not matched; nothing is written over a newer value.
//! - A share is written only under the KEK that is active at that moment (checked in the same
//!   statement), so a concurrent second rotation (which may retire the first one's target
//!   once no share names it) can never be handed a share under a key it is destroying.
//! - Only `kek_id` and `wrapped_dek` change. The ciphertext, state and refresh stage token
//!   stay, so a refresh staged before the re-wrap commits normally after it.
//! - The switch waits for in-flight share writes and fences later ones (see
//!   [`Wallets::activate_kek`]), so once re-wrapping starts, no new share under an old KEK can
//!   appear; one pass over the table then leaves every share under the active KEK.
//! - Servers open each share under whichever KEK it names, so signing continues throughout.
//!
//! Interrupted, it is simply run again: it picks up every share not yet under the active KEK.

use sqlx::Row;

use crate::store::Backend;
use crate::vault::registry;

use super::repo::{WalletError, Wallets};
use super::shares::SERVER_ROLE;

/// Shares read per batch.
const BATCH: i64 = 100;
/// Full passes before giving up on shares that keep changing underneath.
const MAX_PASSES: usize = 5;

/// Where a re-wrap stands (for progress output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RewrapProgress {
    /// Shares re-wrapped so far.
    pub done: u64,
    /// Shares that were under another KEK when the run started.
    pub total: u64,
}

/// A share that could not be re-wrapped (its old KEK is unavailable, or it fails to open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewrapFailure {
    pub wallet_id: String,
    pub epoch: u64,
    pub kek_id: String,
    pub reason: String,
}

/// The outcome of [`Wallets::rewrap_all`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RewrapReport {
    /// Shares moved to the target KEK by this run.
    pub rewrapped: u64,
    /// Shares that changed underneath (deleted by a refresh commit, or moved by another
    /// run) and were left alone.
    pub raced: u64,
    /// Shares that could not be re-wrapped.
    pub failed: Vec<RewrapFailure>,
    /// Shares still under another KEK when the run ended (0 when it finished the job).
    pub remaining: u64,
    /// Set if another rotation made a different KEK active while this one ran (this run
    /// then stops; running it again finishes under the new active KEK).
    pub superseded_by: Option<String>,
}

/// How many stored shares each KEK wraps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KekUsage {
    pub kek_id: String,
    pub shares: u64,
}

struct Pending {
    wallet_id: String,
    epoch: i64,
    kek_id: String,
    wrapped_dek: Vec<u8>,
}

impl Wallets {
    /// Stored shares per KEK.
    pub async fn shares_per_kek(&self) -> Result<Vec<KekUsage>, WalletError> {
        let rows = sqlx::query(
            "SELECT kek_id, COUNT(*) AS n FROM server_shares GROUP BY kek_id ORDER BY kek_id",
        )
        .fetch_all(self.store().pool())
        .await?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get("n")?;
                Ok(KekUsage {
                    kek_id: r.try_get("kek_id")?,
                    shares: u64::try_from(n).unwrap_or(0),
                })
            })
            .collect()
    }

    /// Shares not under `kek_id`.
    pub async fn shares_not_under(&self, kek_id: &str) -> Result<u64, WalletError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM server_shares WHERE kek_id <> $1")
            .bind(kek_id)
            .fetch_one(self.store().pool())
            .await?
            .try_get("n")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Makes `kek_id` the active KEK (new seals use it from the moment this returns) and
    /// records every other KEK still named by a share as `previous`.
    ///
    /// On PostgreSQL the switch first takes `SHARE` on `server_shares`: it waits for every
    /// transaction writing shares to finish and holds new writers until it commits. A seal
    /// checks the active KEK after writing its row (see `sealed_under_active`), so every seal
    /// either committed before the switch or sees the new KEK. SQLite serialises writers
    /// anyway (`BEGIN IMMEDIATE`).
    pub async fn activate_kek(&self, kek_id: &str) -> Result<(), WalletError> {
        let now = self.now_ms();
        let mut tx = self.store().begin_write().await?;
        if self.store().backend() == Backend::Postgres {
            sqlx::query("LOCK TABLE server_shares IN SHARE MODE")
                .execute(&mut *tx)
                .await?;
        }
        let others = sqlx::query("SELECT DISTINCT kek_id FROM server_shares WHERE kek_id <> $1")
            .bind(kek_id)
            .fetch_all(&mut *tx)
            .await?;
        registry::activate_in(&mut tx, kek_id, now).await?;
        for row in others {
            let id: String = row.try_get("kek_id")?;
            registry::note_previous_in(&mut tx, &id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Re-wraps every share not under `target` to `target`, in batches, each share in its own
    /// guarded update; calls `progress` after each batch. See the module documentation for
    /// what this guarantees against concurrent servers.
    pub async fn rewrap_all(
        &self,
        target: &str,
        progress: &mut (dyn FnMut(RewrapProgress) + Send),
    ) -> Result<RewrapReport, WalletError> {
        // Fail before touching anything if the target is not usable here.
        self.vault()
            .keyring()
            .get(target)
            .map_err(|e| WalletError::Vault(e.to_string()))?;
        let total = self.shares_not_under(target).await?;
        let mut report = RewrapReport::default();
        progress(RewrapProgress { done: 0, total });
        for _ in 0..MAX_PASSES {
            let active = registry::active(self.store().pool())
                .await?
                .map(|r| r.kek_id);
            if active.as_deref() != Some(target) {
                report.superseded_by = active;
                break;
            }
            let raced_before = report.raced;
            self.rewrap_pass(target, total, &mut report, progress)
                .await?;
            if report.raced == raced_before {
                break;
            }
        }
        report.remaining = self.shares_not_under(target).await?;
        Ok(report)
    }

    /// One pass over the table in primary-key order (keyset pagination, so the pass ends
    /// even while rows change).
    async fn rewrap_pass(
        &self,
        target: &str,
        total: u64,
        report: &mut RewrapReport,
        progress: &mut (dyn FnMut(RewrapProgress) + Send),
    ) -> Result<(), WalletError> {
        let mut after: Option<(String, i64)> = None;
        loop {
            let batch = self.pending_batch(target, after.as_ref()).await?;
            let Some(last) = batch.last() else {
                return Ok(());
            };
            after = Some((last.wallet_id.clone(), last.epoch));
            for row in &batch {
                let failed =
                    |r: &RewrapFailure| r.wallet_id == row.wallet_id && r.epoch as i64 == row.epoch;
                if report.failed.iter().any(failed) {
                    continue;
                }
                match self.rewrap_one(row, target).await? {
                    Ok(true) => report.rewrapped += 1,
                    Ok(false) => report.raced += 1,
                    Err(reason) => report.failed.push(RewrapFailure {
                        wallet_id: row.wallet_id.clone(),
                        epoch: u64::try_from(row.epoch).unwrap_or(0),
                        kek_id: row.kek_id.clone(),
                        reason,
                    }),
                }
            }
            progress(RewrapProgress {
                done: report.rewrapped,
                total,
            });
        }
    }

    async fn pending_batch(
        &self,
        target: &str,
        after: Option<&(String, i64)>,
    ) -> Result<Vec<Pending>, WalletError> {
        let (wallet, epoch) = match after {
            Some((w, e)) => (w.as_str(), *e),
            None => ("", -1),
        };
        let rows = sqlx::query(
            "SELECT wallet_id, epoch, kek_id, wrapped_dek FROM server_shares \
             WHERE kek_id <> $1 AND (wallet_id > $2 OR (wallet_id = $2 AND epoch > $3)) \
             ORDER BY wallet_id, epoch LIMIT $4",
        )
        .bind(target)
        .bind(wallet)
        .bind(epoch)
        .bind(BATCH)
        .fetch_all(self.store().pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Pending {
                    wallet_id: r.try_get("wallet_id")?,
                    epoch: r.try_get("epoch")?,
                    kek_id: r.try_get("kek_id")?,
                    wrapped_dek: r.try_get("wrapped_dek")?,
                })
            })
            .collect()
    }

    /// `Ok(Ok(true))` re-wrapped, `Ok(Ok(false))` the row changed meanwhile, `Ok(Err(_))`
    /// this share cannot be re-wrapped here (the reason names no secret).
    async fn rewrap_one(
        &self,
        row: &Pending,
        target: &str,
    ) -> Result<Result<bool, String>, WalletError> {
        let Ok(epoch) = u64::try_from(row.epoch) else {
            return Ok(Err("negative epoch".to_owned()));
        };
        let wrapped = match self.vault().rewrap(
            &row.wallet_id,
            epoch,
            SERVER_ROLE,
            &row.kek_id,
            &row.wrapped_dek,
            target,
        ) {
            Ok(w) => w,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let changed = sqlx::query(
            "UPDATE server_shares SET kek_id = $1, wrapped_dek = $2 \
             WHERE wallet_id = $3 AND epoch = $4 AND kek_id = $5 AND wrapped_dek = $6 \
             AND EXISTS (SELECT 1 FROM vault_keks WHERE kek_id = $1 AND state = 'active')",
        )
        .bind(target)
        .bind(&wrapped)
        .bind(&row.wallet_id)
        .bind(row.epoch)
        .bind(&row.kek_id)
        .bind(&row.wrapped_dek)
        .execute(self.store().pool())
        .await?
        .rows_affected();
        Ok(Ok(changed == 1))
    }
}
