//! One-time codes sent over some channel (email, SMS): issued, checked and throttled the same
//! way whatever carries them. A channel names its table (same layout: `<subject>_index`,
//! `<subject>_sealed`, `code_mac`, `created_at`, `expires_at`, `attempts`, `consumed_at`) and
//! its throttle scopes, so the rules live once and only delivery differs.

use sqlx::Row;
use subtle::ConstantTimeEq;

use super::policy::LockoutPolicy;
use super::throttle::{self, Bucket};
use super::{AuthError, OtpStarted, code};
use crate::clock::SharedClock;
use crate::notify::LoginCode;
use crate::store::{Store, new_id};
use crate::vault::PiiKeys;

/// Where one kind of code lives and how it is counted. The names are compile-time constants,
/// never input, so building SQL from them is safe.
#[derive(Debug)]
pub(crate) struct Channel {
    /// The table of attempts.
    pub table: &'static str,
    /// The subject's name: column prefix, blind-index domain and sealing field.
    pub subject: &'static str,
    pub issue_pair: &'static str,
    pub issue_client: &'static str,
    pub issue_subject: &'static str,
    pub wrong_subject: &'static str,
}

/// Email codes (the scope names are those stored since the first version).
pub(crate) const EMAIL: Channel = Channel {
    table: "otp_codes",
    subject: "email",
    issue_pair: "otp-issue-address-client",
    issue_client: "otp-issue-client",
    issue_subject: "otp-issue-address",
    wrong_subject: "otp-wrong-address",
};

/// SMS codes.
pub(crate) const PHONE: Channel = Channel {
    table: "sms_codes",
    subject: "phone",
    issue_pair: "sms-issue-number-client",
    issue_client: "sms-issue-client",
    issue_subject: "sms-issue-number",
    wrong_subject: "sms-wrong-number",
};

/// The code store of one channel. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Codes {
    store: Store,
    clock: SharedClock,
    ttl_ms: i64,
    policy: LockoutPolicy,
    keys: PiiKeys,
    channel: &'static Channel,
}

impl std::fmt::Debug for Codes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codes")
            .field("channel", &self.channel.table)
            .field("ttl_ms", &self.ttl_ms)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Codes {
    pub fn new(
        store: Store,
        clock: SharedClock,
        ttl_minutes: u64,
        policy: LockoutPolicy,
        keys: PiiKeys,
        channel: &'static Channel,
    ) -> Self {
        let ttl_ms = i64::try_from(ttl_minutes)
            .unwrap_or(i64::MAX / 60_000)
            .saturating_mul(60_000);
        Self {
            store,
            clock,
            ttl_ms,
            policy,
            keys,
            channel,
        }
    }

    pub fn policy(&self) -> &LockoutPolicy {
        &self.policy
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    pub async fn publish_policy(&self, kind: &str) -> Result<(), AuthError> {
        self.policy
            .publish(&self.store, kind, self.clock.now_ms())
            .await
    }

    fn issue_buckets(&self, subject: &str, client: &str) -> [Bucket; 3] {
        let k = &self.keys;
        let p = &self.policy;
        let c = self.channel;
        [
            Bucket {
                scope: c.issue_pair,
                key: k.throttle_bucket(c.issue_pair, &[subject, client]),
                budget: p.issue_per_subject_client,
                own: true,
            },
            Bucket {
                scope: c.issue_client,
                key: k.throttle_bucket(c.issue_client, &[client]),
                budget: p.issue_per_client,
                own: true,
            },
            Bucket {
                scope: c.issue_subject,
                key: k.throttle_bucket(c.issue_subject, &[subject]),
                budget: p.issue_per_subject,
                own: false,
            },
        ]
    }

    fn wrong_bucket(&self, subject: &str) -> Bucket {
        let scope = self.channel.wrong_subject;
        Bucket {
            scope,
            key: self.keys.throttle_bucket(scope, &[subject]),
            budget: self.policy.failures_per_subject,
            own: false,
        }
    }

    /// Stores a fresh code for a new attempt on the (normalised) `subject` from `client`,
    /// after taking every issue throttle atomically. The caller delivers the code, and calls
    /// [`discard`](Self::discard) if that fails.
    pub async fn issue(
        &self,
        subject: &str,
        client: &str,
    ) -> Result<(OtpStarted, LoginCode), AuthError> {
        let c = self.channel;
        let now = self.clock.now_ms();
        let expires_at = now.saturating_add(self.ttl_ms);

        let attempt_id = new_id()?;
        let code = code::generate()?;
        let code_mac = self.keys.code_mac(&attempt_id, code.expose());
        let index = self.keys.blind_index(c.subject, subject);
        let sealed = self.keys.seal(c.table, c.subject, &attempt_id, subject)?;

        let buckets = self.issue_buckets(subject, client);
        let mut tx = self.store.begin_write().await?;
        for bucket in &buckets {
            if let Some(retry_after_ms) = throttle::take(&mut tx, bucket, now).await? {
                tx.rollback().await?;
                return Err(AuthError::RateLimited { retry_after_ms });
            }
        }
        let sql = format!(
            "INSERT INTO {t} (id, {s}_index, {s}_sealed, code_mac, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            t = c.table,
            s = c.subject
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&attempt_id)
            .bind(&index)
            .bind(sealed)
            .bind(code_mac.to_vec())
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((
            OtpStarted {
                attempt_id,
                expires_at,
            },
            code,
        ))
    }

    /// Deletes an attempt whose code could not be delivered. No code exists, so nothing was
    /// spent: the throttles get their hits back.
    pub async fn discard(
        &self,
        attempt_id: &str,
        subject: &str,
        client: &str,
    ) -> Result<(), AuthError> {
        let buckets = self.issue_buckets(subject, client);
        let mut tx = self.store.begin_write().await?;
        let sql = format!("DELETE FROM {} WHERE id = $1", self.channel.table);
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(attempt_id)
            .execute(&mut *tx)
            .await?;
        for bucket in &buckets {
            throttle::give_back(&mut tx, bucket).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Checks and consumes the code; returns the subject and the open transaction. Every
    /// call uses up one try of the attempt and, if wrong, one of the subject's wrong-code
    /// budget; the `failures_per_secret`-th wrong try kills the code. On success every other
    /// live code of the subject dies too.
    pub async fn consume(
        &self,
        attempt_id: &str,
        code: &str,
        now: i64,
    ) -> Result<(String, sqlx::Transaction<'static, sqlx::any::Any>), AuthError> {
        let c = self.channel;
        let max = i64::from(self.policy.failures_per_secret);
        let mut tx = self.store.begin_write().await?;

        // The subject's wrong-code budget is locked before the attempt's row, the order every
        // path uses (`issue` takes it before inserting; a login then locks the subject's
        // other attempts), so concurrent verifies on PostgreSQL queue instead of deadlocking.
        let sql = format!("SELECT {}_sealed FROM {} WHERE id = $1", c.subject, c.table);
        let sealed: Option<Vec<u8>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(attempt_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(sealed) = sealed else {
            tx.rollback().await?;
            return Err(AuthError::CodeInvalid);
        };
        let subject = self.keys.open(c.table, c.subject, attempt_id, &sealed)?;
        // Charged before the comparison (and given back if right), so concurrent guesses
        // cannot overshoot the budget.
        let wrong = self.wrong_bucket(&subject);
        if let Some(retry_after_ms) = throttle::take(&mut tx, &wrong, now).await? {
            tx.rollback().await?;
            return Err(AuthError::RateLimited { retry_after_ms });
        }

        // Take one try, atomically: only a live, unexhausted, unexpired attempt matches.
        let sql = format!(
            "UPDATE {t} SET attempts = attempts + 1 \
             WHERE id = $1 AND consumed_at IS NULL AND attempts < $2 AND expires_at > $3 \
             RETURNING {s}_index, code_mac, attempts",
            t = c.table,
            s = c.subject
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(attempt_id)
            .bind(max)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;

        let Some(row) = row else {
            // Nothing taken (the rollback returns the budget hit too): find out why, without
            // revealing whether the attempt exists.
            let sql = format!(
                "SELECT expires_at, attempts, consumed_at FROM {} WHERE id = $1",
                c.table
            );
            let state = sqlx::query(sqlx::AssertSqlSafe(sql))
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

        let index: Vec<u8> = row.try_get(0)?;
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

        // Consume this code and every other live one of the subject: a code sent earlier (or
        // requested by someone else) must not open a second session later.
        let sql = format!(
            "UPDATE {} SET consumed_at = $2 WHERE id = $1 AND consumed_at IS NULL",
            c.table
        );
        let consumed = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(attempt_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if consumed != 1 {
            tx.rollback().await?;
            return Err(AuthError::CodeInvalid);
        }
        let sql = format!(
            "UPDATE {t} SET consumed_at = $2 WHERE {s}_index = $1 AND consumed_at IS NULL",
            t = c.table,
            s = c.subject
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&index)
            .bind(now)
            .execute(&mut *tx)
            .await?;

        Ok((subject, tx))
    }

    /// Deletes expired attempts and throttle counters whose window has passed. Returns how
    /// many rows were deleted.
    pub async fn prune(&self) -> Result<u64, AuthError> {
        let now = self.clock.now_ms();
        let sql = format!("DELETE FROM {} WHERE expires_at <= $1", self.channel.table);
        let attempts = sqlx::query(sqlx::AssertSqlSafe(sql))
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
