//! The email one-time-code service.

use std::sync::Arc;

use sqlx::Row;
use subtle::ConstantTimeEq;

use super::{AuthError, code, normalize_email};
use crate::clock::SharedClock;
use crate::config::OtpConfig;
use crate::notify::Mailer;
use crate::store::{Store, new_id};

/// The throttle window.
const HOUR_MS: i64 = 3_600_000;

/// The answer to `start`: identical whether or not the address has an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpStarted {
    /// Identifies this login attempt; the code is bound to it.
    pub attempt_id: String,
    /// When the code stops working (Unix ms).
    pub expires_at: i64,
}

/// The result of a successful `verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEmail {
    /// The user (created now if `created`).
    pub user_id: String,
    /// The normalised address.
    pub email: String,
    /// Whether this login created the user.
    pub created: bool,
}

/// Email one-time codes over the store, the clock and a mailer. Cheap to clone.
#[derive(Clone)]
pub struct EmailOtp {
    store: Store,
    clock: SharedClock,
    mailer: Arc<dyn Mailer>,
    config: OtpConfig,
}

impl std::fmt::Debug for EmailOtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailOtp")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl EmailOtp {
    /// The service.
    pub fn new(
        store: Store,
        clock: SharedClock,
        mailer: Arc<dyn Mailer>,
        config: OtpConfig,
    ) -> Self {
        Self {
            store,
            clock,
            mailer,
            config,
        }
    }

    fn ttl_ms(&self) -> i64 {
        i64::try_from(self.config.ttl_minutes)
            .unwrap_or(i64::MAX / 60_000)
            .saturating_mul(60_000)
    }

    fn max_attempts(&self) -> i32 {
        i32::try_from(self.config.max_attempts).unwrap_or(i32::MAX)
    }

    /// Sends a fresh code to `email` for a new login attempt.
    ///
    /// Throttled per address and per client IP over the last hour (counted from stored
    /// attempts). If delivery fails, the attempt is deleted and [`AuthError::Delivery`] returned.
    pub async fn start(&self, email: &str, client_ip: &str) -> Result<OtpStarted, AuthError> {
        let email = normalize_email(email)?;
        let now = self.clock.now_ms();
        let window_start = now - HOUR_MS;
        let expires_at = now.saturating_add(self.ttl_ms());

        let attempt_id = new_id()?;
        let code = code::generate()?;
        let code_hash = code::hash(&attempt_id, code.expose());

        // Insert only while both throttles have room: one statement, so the count and the
        // insert cannot be separated by another request on SQLite (writes are serialised);
        // on PostgreSQL concurrent requests may overshoot by at most their number.
        let inserted = sqlx::query(
            "INSERT INTO otp_codes (id, email, client_ip, code_hash, created_at, expires_at) \
             SELECT $1, $2, $3, $4, $5, $6 \
             WHERE (SELECT COUNT(*) FROM otp_codes WHERE email = $2 AND created_at > $7) < $8 \
               AND (SELECT COUNT(*) FROM otp_codes WHERE client_ip = $3 AND created_at > $7) < $9",
        )
        .bind(&attempt_id)
        .bind(&email)
        .bind(client_ip)
        .bind(code_hash.to_vec())
        .bind(now)
        .bind(expires_at)
        .bind(window_start)
        .bind(i64::from(self.config.per_address_per_hour))
        .bind(i64::from(self.config.per_ip_per_hour))
        .execute(self.store.pool())
        .await?
        .rows_affected();

        if inserted == 0 {
            let retry_after_ms = self.retry_after(&email, client_ip, now).await?;
            return Err(AuthError::RateLimited { retry_after_ms });
        }

        if let Err(e) = self.mailer.send_login_code(&email, &code).await {
            tracing::warn!(error = %e, "login code delivery failed; attempt discarded");
            sqlx::query("DELETE FROM otp_codes WHERE id = $1")
                .bind(&attempt_id)
                .execute(self.store.pool())
                .await?;
            return Err(AuthError::Delivery(e));
        }

        Ok(OtpStarted {
            attempt_id,
            expires_at,
        })
    }

    /// How long until both throttles have room again.
    async fn retry_after(&self, email: &str, client_ip: &str, now: i64) -> Result<i64, AuthError> {
        let window_start = now - HOUR_MS;
        let mut wait = 0i64;
        for (sql, key, limit) in [
            (
                "SELECT created_at FROM otp_codes WHERE email = $1 AND created_at > $2 \
                 ORDER BY created_at DESC LIMIT 1 OFFSET $3",
                email,
                self.config.per_address_per_hour,
            ),
            (
                "SELECT created_at FROM otp_codes WHERE client_ip = $1 AND created_at > $2 \
                 ORDER BY created_at DESC LIMIT 1 OFFSET $3",
                client_ip,
                self.config.per_ip_per_hour,
            ),
        ] {
            // The limit-th newest request in the window: once it ages out, there is room.
            let row = sqlx::query(sql)
                .bind(key)
                .bind(window_start)
                .bind(i64::from(limit.saturating_sub(1)))
                .fetch_optional(self.store.pool())
                .await?;
            if let Some(row) = row {
                let created_at: i64 = row.try_get(0)?;
                wait = wait.max(created_at + HOUR_MS - now);
            }
        }
        Ok(wait.max(1))
    }

    /// Checks `code` for the attempt and, on success, returns the user (creating it on first
    /// login). Every call uses up one try; the `max_attempts`-th wrong try kills the code.
    pub async fn verify(&self, attempt_id: &str, code: &str) -> Result<VerifiedEmail, AuthError> {
        let now = self.clock.now_ms();
        let max = self.max_attempts();
        let mut tx = self.store.begin_write().await?;

        // Take one try, atomically: only a live, unexhausted, unexpired attempt matches.
        let row = sqlx::query(
            "UPDATE otp_codes SET attempts = attempts + 1 \
             WHERE id = $1 AND consumed_at IS NULL AND attempts < $2 AND expires_at > $3 \
             RETURNING email, code_hash, attempts",
        )
        .bind(attempt_id)
        .bind(max)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;

        let Some(row) = row else {
            // Nothing taken: find out why, without revealing whether the attempt exists.
            let state = sqlx::query(
                "SELECT expires_at, attempts, consumed_at FROM otp_codes WHERE id = $1",
            )
            .bind(attempt_id)
            .fetch_optional(&mut *tx)
            .await?;
            tx.rollback().await?;
            let Some(state) = state else {
                return Err(AuthError::CodeInvalid);
            };
            let expires_at: i64 = state.try_get(0)?;
            let attempts: i64 = state.try_get(1)?;
            let consumed_at: Option<i64> = state.try_get(2)?;
            return Err(if consumed_at.is_some() {
                AuthError::CodeInvalid
            } else if attempts >= i64::from(max) {
                AuthError::CodeExhausted
            } else if now >= expires_at {
                AuthError::CodeExpired
            } else {
                AuthError::CodeInvalid
            });
        };

        let email: String = row.try_get(0)?;
        let stored_hash: Vec<u8> = row.try_get(1)?;
        let attempts: i64 = row.try_get(2)?;
        let presented = code::hash(attempt_id, code);
        let matches: bool = presented.as_slice().ct_eq(stored_hash.as_slice()).into();

        if !matches {
            // Keep the used-up try.
            tx.commit().await?;
            return Err(if attempts >= i64::from(max) {
                AuthError::CodeExhausted
            } else {
                AuthError::CodeInvalid
            });
        }

        // Consume: only one verifier can move consumed_at from NULL.
        let consumed = sqlx::query(
            "UPDATE otp_codes SET consumed_at = $2 WHERE id = $1 AND consumed_at IS NULL",
        )
        .bind(attempt_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if consumed != 1 {
            tx.rollback().await?;
            return Err(AuthError::CodeInvalid);
        }

        let new_user_id = new_id()?;
        let created = sqlx::query(
            "INSERT INTO users (id, email, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(&new_user_id)
        .bind(&email)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let user_id: String = sqlx::query("SELECT id FROM users WHERE email = $1")
            .bind(&email)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        tx.commit().await?;

        Ok(VerifiedEmail {
            user_id,
            email,
            created,
        })
    }

    /// Deletes attempts that can matter no more (expired and outside the throttle window).
    /// Returns how many were deleted. Run it now and then.
    pub async fn prune(&self) -> Result<u64, AuthError> {
        let now = self.clock.now_ms();
        Ok(
            sqlx::query("DELETE FROM otp_codes WHERE created_at <= $1 AND expires_at <= $2")
                .bind(now - HOUR_MS)
                .bind(now)
                .execute(self.store.pool())
                .await?
                .rows_affected(),
        )
    }
}
