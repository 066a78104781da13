//! Recovery after losing every device: a request opened with a login method, the recovery
//! verifier (and a TOTP code when the account has TOTP), that completes only after
//! `recovery.delay_hours` and that any session of the account can cancel meanwhile.
//!
//! The state machine lives in `recovery_requests`: at most one `pending` row per account (a
//! unique partial index), and every transition is one guarded `UPDATE ... WHERE state =
//! 'pending'`, so of racing completions and cancellations across instances exactly one wins.
//! `not_before` is stored, so the delay survives restarts and is checked against the injected
//! clock. Completion freezes the account's wallets (only a complete refresh by a session newer
//! than that can use them again), ends every session of the account, opens one for the
//! recovering device, and hands it the escrowed device shares, which only the recovery secret
//! opens. The device then runs a complete refresh of each wallet at once: new shares on both
//! sides, the old server share destroyed, the lost device's share useless.

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{DAY_MS, Recovery, RecoveryError, RecoveryEvent};
use crate::account::{Client, Login};
use crate::auth::Budget;
use crate::auth::throttle::{Bucket, take};
use crate::principal::Principal;
use crate::store::new_id;

const HOUR_MS: i64 = 60 * 60 * 1000;

/// A recovery request as its account sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryRequest {
    pub id: String,
    /// `pending`, `cancelled` or `completed`.
    pub state: String,
    pub created_at: i64,
    /// When it may complete (Unix ms).
    pub not_before: i64,
    pub closed_at: Option<i64>,
}

/// A device share sealed to the recovery key, as stored.
#[derive(Debug, Clone)]
pub struct StoredEscrow {
    pub wallet_id: String,
    pub epoch: u64,
    pub sealed: Vec<u8>,
}

/// What a completed recovery hands the new device.
#[derive(Debug)]
pub struct Completed {
    pub request: RecoveryRequest,
    pub login: Login,
    pub escrows: Vec<StoredEscrow>,
}

const COLUMNS: &str = "id, state, created_at, not_before, closed_at";

fn decode(row: &sqlx::any::AnyRow) -> Result<RecoveryRequest, sqlx::Error> {
    Ok(RecoveryRequest {
        id: row.try_get("id")?,
        state: row.try_get("state")?,
        created_at: row.try_get("created_at")?,
        not_before: row.try_get("not_before")?,
        closed_at: row.try_get("closed_at")?,
    })
}

impl Recovery {
    /// Stores this device's share of a wallet, sealed to the account's recovery key, in place
    /// of the escrow of an earlier epoch. Checked: the wallet is the caller's, at that epoch and
    /// key, and the escrow is sealed to the account's current recovery key.
    pub async fn put_escrow(
        &self,
        principal: &Principal,
        wallet_id: &str,
        sealed: &[u8],
    ) -> Result<(u64, u32), RecoveryError> {
        let escrow =
            tandem_recovery::Escrow::from_bytes(sealed).map_err(|_| RecoveryError::Invalid {
                field: "sealed",
                reason: "is not an escrow",
            })?;
        let wallet = self.wallets.get(&principal.user_id, wallet_id).await?;
        if escrow.wallet() != wallet.id
            || escrow.epoch() != wallet.epoch
            || escrow.public_key() != wallet.public_key.as_slice()
        {
            return Err(RecoveryError::Invalid {
                field: "sealed",
                reason: "is not this wallet's share at its current epoch",
            });
        }
        let key = self
            .key(&principal.user_id)
            .await?
            .ok_or(RecoveryError::NotSetUp)?;
        if escrow.recovery_key() != &key.public_key {
            return Err(RecoveryError::Invalid {
                field: "sealed",
                reason: "is sealed to another recovery key",
            });
        }
        let now = self.clock.now_ms();
        sqlx::query(
            "INSERT INTO escrows (wallet_id, user_id, epoch, recovery_key_version, sealed, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (wallet_id) DO UPDATE SET epoch = $3, recovery_key_version = $4, \
               sealed = $5, updated_at = $6",
        )
        .bind(&wallet.id)
        .bind(&principal.user_id)
        .bind(i64::try_from(wallet.epoch).unwrap_or(i64::MAX))
        .bind(i64::from(key.version))
        .bind(sealed)
        .bind(now)
        .execute(self.store.pool())
        .await?;
        Ok((wallet.epoch, key.version))
    }

    /// The epoch and recovery-key version of each wallet's stored escrow, for a device to see
    /// what it must send again.
    pub async fn escrow_epochs(
        &self,
        user_id: &str,
    ) -> Result<Vec<(String, u64, u32)>, RecoveryError> {
        let rows = sqlx::query(
            "SELECT wallet_id, epoch, recovery_key_version FROM escrows WHERE user_id = $1 \
             ORDER BY wallet_id",
        )
        .bind(user_id)
        .fetch_all(self.store.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let epoch: i64 = r.try_get("epoch")?;
                let version: i64 = r.try_get("recovery_key_version")?;
                Ok((
                    r.try_get("wallet_id")?,
                    u64::try_from(epoch).unwrap_or(0),
                    u32::try_from(version).unwrap_or(0),
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?)
    }

    /// The account's newest recovery request.
    pub async fn current_request(
        &self,
        user_id: &str,
    ) -> Result<Option<RecoveryRequest>, RecoveryError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM recovery_requests WHERE user_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_optional(self.store.pool())
            .await?;
        Ok(row.as_ref().map(decode).transpose()?)
    }

    /// Checks the verifier (with its own guess budget) and the second factor the account
    /// needs, for starting and completing alike.
    async fn prove_secret(
        &self,
        principal: &Principal,
        verifier: &[u8; 32],
    ) -> Result<(), RecoveryError> {
        self.accounts.require_strong(principal).await?;
        let stored: Vec<u8> =
            sqlx::query_scalar("SELECT verifier_hash FROM recovery_keys WHERE user_id = $1")
                .bind(&principal.user_id)
                .fetch_optional(self.store.pool())
                .await?
                .ok_or(RecoveryError::NotSetUp)?;
        let given = Sha256::digest(verifier);
        let equal = stored.len() == given.len()
            && stored
                .iter()
                .zip(given.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if equal {
            return Ok(());
        }
        // Only failures count, so the owner is never locked out by their own successes; a
        // 256-bit verifier cannot be guessed, the budget stops noise and probing (bar R4).
        let mut tx = self.store.begin_write().await?;
        let bucket = Bucket {
            scope: "recovery_verifier_failures",
            key: principal.user_id.as_bytes().to_vec(),
            budget: Budget {
                max: self.config.verifier_failures_per_day,
                window_ms: DAY_MS,
            },
            own: true,
        };
        let limited = take(&mut tx, &bucket, self.clock.now_ms()).await?;
        tx.commit().await?;
        if let Some(retry_after_ms) = limited {
            return Err(RecoveryError::RateLimited {
                what: "wrong recovery secrets",
                retry_after_ms,
            });
        }
        Err(RecoveryError::WrongSecret)
    }

    /// Opens a recovery request. Every channel of the account hears of it at once.
    pub async fn start(
        &self,
        principal: &Principal,
        verifier: &[u8; 32],
    ) -> Result<RecoveryRequest, RecoveryError> {
        let now = self.clock.now_ms();
        {
            let mut tx = self.store.begin_write().await?;
            let bucket = Bucket {
                scope: "recovery_starts",
                key: principal.user_id.as_bytes().to_vec(),
                budget: Budget {
                    max: self.config.starts_per_day,
                    window_ms: DAY_MS,
                },
                own: true,
            };
            let limited = take(&mut tx, &bucket, now).await?;
            tx.commit().await?;
            if let Some(retry_after_ms) = limited {
                return Err(RecoveryError::RateLimited {
                    what: "recovery attempts",
                    retry_after_ms,
                });
            }
        }
        self.prove_secret(principal, verifier).await?;
        let request = RecoveryRequest {
            id: new_id()?,
            state: "pending".to_owned(),
            created_at: now,
            not_before: now.saturating_add(i64::from(self.config.delay_hours) * HOUR_MS),
            closed_at: None,
        };
        let inserted = sqlx::query(
            "INSERT INTO recovery_requests (id, user_id, state, session_id, created_at, not_before) \
             VALUES ($1, $2, 'pending', $3, $4, $5)",
        )
        .bind(&request.id)
        .bind(&principal.user_id)
        .bind(&principal.session_id)
        .bind(request.created_at)
        .bind(request.not_before)
        .execute(self.store.pool())
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                self.emit(principal, &RecoveryEvent::SecondRequestRefused)
                    .await;
                return Err(RecoveryError::AlreadyPending);
            }
            Err(e) => return Err(e.into()),
        }
        self.emit(
            principal,
            &RecoveryEvent::RequestOpened {
                not_before: request.not_before,
            },
        )
        .await;
        Ok(request)
    }

    /// Cancels the account's pending request (any session of the account may).
    pub async fn cancel(&self, principal: &Principal) -> Result<RecoveryRequest, RecoveryError> {
        let now = self.clock.now_ms();
        let sql = format!(
            "UPDATE recovery_requests SET state = 'cancelled', closed_at = $2, closed_by = $3 \
             WHERE user_id = $1 AND state = 'pending' RETURNING {COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&principal.user_id)
            .bind(now)
            .bind(&principal.session_id)
            .fetch_optional(self.store.pool())
            .await?
            .ok_or(RecoveryError::NoPending)?;
        let request = decode(&row)?;
        self.emit(principal, &RecoveryEvent::RequestCancelled).await;
        Ok(request)
    }

    /// Completes the pending request once its delay has passed: exactly once, whatever races
    /// it. Freezes the account's wallets, ends every session, opens one for the caller, and
    /// returns the escrows.
    pub async fn complete(
        &self,
        principal: &Principal,
        verifier: &[u8; 32],
        client: Client<'_>,
    ) -> Result<Completed, RecoveryError> {
        self.prove_secret(principal, verifier).await?;
        let now = self.clock.now_ms();
        let mut tx = self.store.begin_write().await?;
        let sql = format!(
            "UPDATE recovery_requests SET state = 'completed', closed_at = $2, closed_by = $3 \
             WHERE user_id = $1 AND state = 'pending' AND not_before <= $2 RETURNING {COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&principal.user_id)
            .bind(now)
            .bind(&principal.session_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Err(match self.current_request(&principal.user_id).await? {
                Some(r) if r.state == "pending" => RecoveryError::TooEarly {
                    not_before: r.not_before,
                },
                _ => RecoveryError::NoPending,
            });
        };
        let request = decode(&row)?;
        // Frozen one millisecond before now: the session this completion opens (at `now`)
        // counts as newer than the freeze, every existing one (ended below) does not.
        // The wallets module owns the row and its fence: a refresh begun before this cannot
        // commit after it.
        crate::wallets::Wallets::freeze_all_in(&mut tx, &principal.user_id, now - 1).await?;
        let rows = sqlx::query(
            "SELECT wallet_id, epoch, sealed FROM escrows WHERE user_id = $1 ORDER BY wallet_id",
        )
        .bind(&principal.user_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let escrows = rows
            .iter()
            .map(|r| {
                let epoch: i64 = r.try_get("epoch")?;
                Ok(StoredEscrow {
                    wallet_id: r.try_get("wallet_id")?,
                    epoch: u64::try_from(epoch).unwrap_or(0),
                    sealed: r.try_get("sealed")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        self.accounts.end_all_sessions(&principal.user_id).await?;
        let login = self
            .accounts
            .open_recovery_session(&principal.user_id, client)
            .await?;
        self.emit(principal, &RecoveryEvent::RequestCompleted).await;
        Ok(Completed {
            request,
            login,
            escrows,
        })
    }
}
