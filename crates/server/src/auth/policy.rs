//! Lockout policy as data: how many secrets may be issued and how many wrong guesses are
//! accepted, per subject, per client and per pair. Email codes use it now; passwords, PINs
//! and TOTP are meant to reuse the same struct, one row per credential kind in
//! `auth_policies`, so every instance applies the same numbers.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::AuthError;
use crate::config::OtpConfig;
use crate::store::Store;

const HOUR_MS: i64 = 3_600_000;

/// At most `max` events per fixed window of `window_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    pub max: u32,
    pub window_ms: i64,
}

/// The throttles of one credential kind.
///
/// The per-client budgets are keyed on what the caller controls (its client key), so using
/// them up locks out only the caller. The per-subject budgets are shared by everyone and are
/// the only ones an attacker can spend for someone else: they are larger and slower, and exist
/// to bound what many clients together can do to one subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockoutPolicy {
    /// Secrets issued for one subject to one client.
    pub issue_per_subject_client: Budget,
    /// Secrets issued to one client, whatever the subject.
    pub issue_per_client: Budget,
    /// Secrets issued for one subject, all clients together.
    pub issue_per_subject: Budget,
    /// Wrong guesses after which one issued secret is dead.
    pub failures_per_secret: u32,
    /// Wrong guesses against one subject, across all its secrets and clients.
    pub failures_per_subject: Budget,
}

/// The throttles of a credential the user guesses against (password, PIN, TOTP): wrong
/// guesses per (subject, client), per client, and per subject from everyone. As for codes,
/// only the last is shared, larger and slower. A PIN adds a hard limit of its own
/// (`accounts.pin_max_attempts`), kept on its row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuessPolicy {
    pub failures_per_subject_client: Budget,
    pub failures_per_client: Budget,
    pub failures_per_subject: Budget,
}

impl GuessPolicy {
    /// Passwords: 10 wrong per account and client in 15 minutes, 100 per client per hour,
    /// 50 per account per hour from everyone (NIST SP 800-63B §5.2.2 asks for at most 100
    /// consecutive failures).
    pub fn password() -> Self {
        Self {
            failures_per_subject_client: Budget {
                max: 10,
                window_ms: HOUR_MS / 4,
            },
            failures_per_client: Budget {
                max: 100,
                window_ms: HOUR_MS,
            },
            failures_per_subject: Budget {
                max: 50,
                window_ms: HOUR_MS,
            },
        }
    }

    /// PINs, besides their hard limit (which is what stops guessing one account): 10 wrong
    /// per account and client in 15 minutes (room to unlock and try again), 50 per client per
    /// hour (guessing across accounts), 20 per account per hour from everyone.
    pub fn pin() -> Self {
        Self {
            failures_per_subject_client: Budget {
                max: 10,
                window_ms: HOUR_MS / 4,
            },
            failures_per_client: Budget {
                max: 50,
                window_ms: HOUR_MS,
            },
            failures_per_subject: Budget {
                max: 20,
                window_ms: HOUR_MS,
            },
        }
    }

    /// TOTP and recovery codes: 5 wrong per account and client in 15
    /// minutes, 50 per client per hour, 20 per account per hour from everyone.
    pub fn short_code() -> Self {
        Self {
            failures_per_subject_client: Budget {
                max: 5,
                window_ms: HOUR_MS / 4,
            },
            failures_per_client: Budget {
                max: 50,
                window_ms: HOUR_MS,
            },
            failures_per_subject: Budget {
                max: 20,
                window_ms: HOUR_MS,
            },
        }
    }

    /// Records this policy as the one for `kind`.
    pub async fn publish(&self, store: &Store, kind: &str, now: i64) -> Result<(), AuthError> {
        publish(store, kind, self, now).await
    }
}

impl LockoutPolicy {
    /// The email-code policy from `[otp]`.
    pub fn email_otp(c: &OtpConfig) -> Self {
        Self {
            issue_per_subject_client: Budget {
                max: c.per_address_per_hour,
                window_ms: HOUR_MS,
            },
            issue_per_client: Budget {
                max: c.per_ip_per_hour,
                window_ms: HOUR_MS,
            },
            issue_per_subject: Budget {
                max: c.per_address_per_day,
                window_ms: 24 * HOUR_MS,
            },
            failures_per_secret: c.max_attempts,
            failures_per_subject: Budget {
                max: c.wrong_codes_per_address_per_hour,
                window_ms: HOUR_MS,
            },
        }
    }

    /// The longest window of any budget (counters older than this are dead).
    pub fn longest_window_ms(&self) -> i64 {
        [
            self.issue_per_subject_client,
            self.issue_per_client,
            self.issue_per_subject,
            self.failures_per_subject,
        ]
        .iter()
        .map(|b| b.window_ms)
        .max()
        .unwrap_or(HOUR_MS)
    }

    /// Records this policy as the one for `kind` (the configuration of the instance that
    /// started last wins, as for any shared setting).
    pub async fn publish(&self, store: &Store, kind: &str, now: i64) -> Result<(), AuthError> {
        publish(store, kind, self, now).await
    }

    /// The policy stored for `kind`, if any.
    pub async fn load(store: &Store, kind: &str) -> Result<Option<Self>, AuthError> {
        let row = sqlx::query("SELECT policy FROM auth_policies WHERE kind = $1")
            .bind(kind)
            .fetch_optional(store.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let json: String = row.try_get(0)?;
        serde_json::from_str(&json)
            .map(Some)
            .map_err(|_| AuthError::Policy)
    }
}

/// Stores a policy as JSON under its credential kind (the configuration of the instance that
/// started last wins, as for any shared setting).
async fn publish<P: Serialize>(
    store: &Store,
    kind: &str,
    policy: &P,
    now: i64,
) -> Result<(), AuthError> {
    let json = serde_json::to_string(policy).map_err(|_| AuthError::Policy)?;
    sqlx::query(
        "INSERT INTO auth_policies (kind, policy, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (kind) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at",
    )
    .bind(kind)
    .bind(json)
    .bind(now)
    .execute(store.pool())
    .await?;
    Ok(())
}
