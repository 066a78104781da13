//! The email one-time-code service.

use std::sync::Arc;

use sqlx::Row;
use subtle::ConstantTimeEq;

use super::policy::LockoutPolicy;
use super::throttle::{self, Bucket};
use super::{AuthError, code, normalize_email};
use crate::clock::SharedClock;
use crate::config::OtpConfig;
use crate::notify::Mailer;
use crate::store::{Store, new_id};
use crate::users::{IdentityKind, Users};
use crate::vault::PiiKeys;

/// The credential kind under which the policy is stored.
pub const EMAIL_OTP: &str = "email_otp";

const ISSUE_PAIR: &str = "otp-issue-address-client";
const ISSUE_CLIENT: &str = "otp-issue-client";
const ISSUE_ADDRESS: &str = "otp-issue-address";
const WRONG_ADDRESS: &str = "otp-wrong-address";

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

/// Email one-time codes over the store, the clock, a mailer and the vault's data-at-rest
/// keys. Cheap to clone.
#[derive(Clone)]
pub struct EmailOtp {
    store: Store,
    clock: SharedClock,
    mailer: Arc<dyn Mailer>,
    ttl_ms: i64,
    policy: LockoutPolicy,
    keys: PiiKeys,
    users: Users,
}

impl std::fmt::Debug for EmailOtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailOtp")
            .field("ttl_ms", &self.ttl_ms)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl EmailOtp {
    /// The service, with the lockout policy from `config`.
    pub fn new(
        store: Store,
        clock: SharedClock,
        mailer: Arc<dyn Mailer>,
        config: OtpConfig,
        keys: PiiKeys,
    ) -> Self {
        let ttl_ms = i64::try_from(config.ttl_minutes)
            .unwrap_or(i64::MAX / 60_000)
            .saturating_mul(60_000);
        Self {
            users: Users::new(store.clone(), keys.clone()),
            store,
            clock,
            mailer,
            ttl_ms,
            policy: LockoutPolicy::email_otp(&config),
            keys,
        }
    }

    /// The lockout policy in force.
    pub fn policy(&self) -> &LockoutPolicy {
        &self.policy
    }

    /// Records the policy in the database, for the other instances and for operators.
    pub async fn publish_policy(&self) -> Result<(), AuthError> {
        self.policy
            .publish(&self.store, EMAIL_OTP, self.clock.now_ms())
            .await
    }

    fn issue_buckets(&self, email: &str, client: &str) -> [Bucket; 3] {
        let k = &self.keys;
        let p = &self.policy;
        [
            Bucket {
                scope: ISSUE_PAIR,
                key: k.throttle_bucket(ISSUE_PAIR, &[email, client]),
                budget: p.issue_per_subject_client,
                own: true,
            },
            Bucket {
                scope: ISSUE_CLIENT,
                key: k.throttle_bucket(ISSUE_CLIENT, &[client]),
                budget: p.issue_per_client,
                own: true,
            },
            Bucket {
                scope: ISSUE_ADDRESS,
                key: k.throttle_bucket(ISSUE_ADDRESS, &[email]),
                budget: p.issue_per_subject,
                own: false,
            },
        ]
    }

    fn wrong_bucket(&self, email: &str) -> Bucket {
        Bucket {
            scope: WRONG_ADDRESS,
            key: self.keys.throttle_bucket(WRONG_ADDRESS, &[email]),
            budget: self.policy.failures_per_subject,
            own: false,
        }
    }

    /// Sends a fresh code to `email` for a new login attempt from `client` (the caller's
    /// throttle key, e.g. its IP address or IPv6 /64).
    ///
    /// Throttled per (address, client), per client, and per address over a longer window, all
    /// counted atomically before anything is stored. If delivery fails, the attempt is deleted
    /// and [`AuthError::Delivery`] returned.
    pub async fn start(&self, email: &str, client: &str) -> Result<OtpStarted, AuthError> {
        let email = normalize_email(email)?;
        let now = self.clock.now_ms();
        let expires_at = now.saturating_add(self.ttl_ms);

        let attempt_id = new_id()?;
        let code = code::generate()?;
        let code_mac = self.keys.code_mac(&attempt_id, code.expose());
        let email_index = self.keys.blind_index("email", &email);
        let email_sealed = self.keys.seal("otp_codes", "email", &attempt_id, &email)?;

        let buckets = self.issue_buckets(&email, client);
        let mut tx = self.store.begin_write().await?;
        for bucket in &buckets {
            if let Some(retry_after_ms) = throttle::take(&mut tx, bucket, now).await? {
                tx.rollback().await?;
                return Err(AuthError::RateLimited { retry_after_ms });
            }
        }
        sqlx::query(
            "INSERT INTO otp_codes (id, email_index, email_sealed, code_mac, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&attempt_id)
        .bind(&email_index)
        .bind(email_sealed)
        .bind(code_mac.to_vec())
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;

        if let Err(e) = self.mailer.send_login_code(&email, &code).await {
            tracing::warn!(error = %e, "login code delivery failed; attempt discarded");
            // No code exists, so nothing was spent: the throttles get their hits back.
            let mut tx = self.store.begin_write().await?;
            sqlx::query("DELETE FROM otp_codes WHERE id = $1")
                .bind(&attempt_id)
                .execute(&mut *tx)
                .await?;
            for bucket in &buckets {
                throttle::give_back(&mut tx, bucket).await?;
            }
            tx.commit().await?;
            return Err(AuthError::Delivery(e));
        }

        Ok(OtpStarted {
            attempt_id,
            expires_at,
        })
    }

    /// Checks `code` for the attempt and, on success, returns the user (creating it on first
    /// login) and kills every other live code of the address. Every call uses up one try of
    /// the attempt and, if wrong, one of the address's wrong-code budget; the
    /// `max_attempts`-th wrong try kills the code.
    pub async fn verify(&self, attempt_id: &str, code: &str) -> Result<VerifiedEmail, AuthError> {
        let now = self.clock.now_ms();
        let (email, mut tx) = self.consume(attempt_id, code, now).await?;
        let (user_id, created) = self
            .users
            .resolve_or_create_in(&mut tx, IdentityKind::Email, &email, now)
            .await?;
        tx.commit().await?;
        Ok(VerifiedEmail {
            user_id,
            email,
            created,
        })
    }

    /// Like [`verify`](Self::verify), but only proves the address: no user is looked up or
    /// created (linking an address to an account, or a step-up).
    pub async fn verify_address(&self, attempt_id: &str, code: &str) -> Result<String, AuthError> {
        let (email, tx) = self.consume(attempt_id, code, self.clock.now_ms()).await?;
        tx.commit().await?;
        Ok(email)
    }

    /// Checks and consumes the code; returns the address and the open transaction.
    async fn consume(
        &self,
        attempt_id: &str,
        code: &str,
        now: i64,
    ) -> Result<(String, sqlx::Transaction<'static, sqlx::any::Any>), AuthError> {
        let max = i64::from(self.policy.failures_per_secret);
        let mut tx = self.store.begin_write().await?;

        // The address's wrong-code budget is locked before the attempt's row, the order every
        // path uses (`start` takes it before inserting; a login then locks the address's
        // other attempts), so concurrent verifies on PostgreSQL queue instead of deadlocking.
        let sealed: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT email_sealed FROM otp_codes WHERE id = $1")
                .bind(attempt_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(sealed) = sealed else {
            tx.rollback().await?;
            return Err(AuthError::CodeInvalid);
        };
        let email = self.keys.open("otp_codes", "email", attempt_id, &sealed)?;
        // Charged before the comparison (and given back if right), so concurrent guesses
        // cannot overshoot the budget.
        let wrong = self.wrong_bucket(&email);
        if let Some(retry_after_ms) = throttle::take(&mut tx, &wrong, now).await? {
            tx.rollback().await?;
            return Err(AuthError::RateLimited { retry_after_ms });
        }

        // Take one try, atomically: only a live, unexhausted, unexpired attempt matches.
        let row = sqlx::query(
            "UPDATE otp_codes SET attempts = attempts + 1 \
             WHERE id = $1 AND consumed_at IS NULL AND attempts < $2 AND expires_at > $3 \
             RETURNING email_index, code_mac, attempts",
        )
        .bind(attempt_id)
        .bind(max)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;

        let Some(row) = row else {
            // Nothing taken (the rollback returns the budget hit too): find out why, without
            // revealing whether the attempt exists.
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
            } else if attempts >= max {
                AuthError::CodeExhausted
            } else if now >= expires_at {
                AuthError::CodeExpired
            } else {
                AuthError::CodeInvalid
            });
        };

        let email_index: Vec<u8> = row.try_get(0)?;
        let stored_mac: Vec<u8> = row.try_get(1)?;
        let attempts: i64 = row.try_get(2)?;
        let presented = self.keys.code_mac(attempt_id, code);
        let matches: bool = presented.as_slice().ct_eq(stored_mac.as_slice()).into();
        if !matches {
            // Keep the used-up try and the wrong-code hit.
            tx.commit().await?;
            return Err(if attempts >= max {
                AuthError::CodeExhausted
            } else {
                AuthError::CodeInvalid
            });
        }
        throttle::give_back(&mut tx, &wrong).await?;

        // Consume this code and every other live one of the address: a code mailed earlier
        // (or requested by someone else) must not open a second session later.
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
        sqlx::query(
            "UPDATE otp_codes SET consumed_at = $2 WHERE email_index = $1 AND consumed_at IS NULL",
        )
        .bind(&email_index)
        .bind(now)
        .execute(&mut *tx)
        .await?;

        Ok((email, tx))
    }

    /// Deletes expired attempts and throttle counters whose window has passed. Returns how
    /// many rows were deleted. Run it now and then.
    pub async fn prune(&self) -> Result<u64, AuthError> {
        let now = self.clock.now_ms();
        let attempts = sqlx::query("DELETE FROM otp_codes WHERE expires_at <= $1")
            .bind(now)
            .execute(self.store.pool())
            .await?
            .rows_affected();
        let counters = sqlx::query("DELETE FROM auth_throttles WHERE window_start <= $1")
            .bind(now.saturating_sub(self.policy.longest_window_ms()))
            .execute(self.store.pool())
            .await?
            .rows_affected();
        Ok(attempts + counters)
    }
}
