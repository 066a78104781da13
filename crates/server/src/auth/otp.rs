//! The email one-time-code service.

use std::sync::Arc;

use super::codes::{self, Codes};
use super::policy::LockoutPolicy;
use super::{AuthError, normalize_email};
use crate::clock::SharedClock;
use crate::config::OtpConfig;
use crate::notify::Mailer;
use crate::store::Store;
use crate::users::{IdentityKind, Users};
use crate::vault::PiiKeys;

/// The credential kind under which the policy is stored.
pub const EMAIL_OTP: &str = "email_otp";

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
    codes: Codes,
    mailer: Arc<dyn Mailer>,
    users: Users,
}

impl std::fmt::Debug for EmailOtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailOtp")
            .field("codes", &self.codes)
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
        Self {
            users: Users::new(store.clone(), keys.clone()),
            codes: Codes::new(
                store,
                clock,
                config.ttl_minutes,
                LockoutPolicy::email_otp(&config),
                keys,
                &codes::EMAIL,
            ),
            mailer,
        }
    }

    /// The lockout policy in force.
    pub fn policy(&self) -> &LockoutPolicy {
        self.codes.policy()
    }

    /// Records the policy in the database, for the other instances and for operators.
    pub async fn publish_policy(&self) -> Result<(), AuthError> {
        self.codes.publish_policy(EMAIL_OTP).await
    }

    /// Sends a fresh code to `email` for a new login attempt from `client` (the caller's
    /// throttle key, e.g. its IP address or IPv6 /64).
    ///
    /// Throttled per (address, client), per client, and per address over a longer window, all
    /// counted atomically before anything is stored. If delivery fails, the attempt is deleted
    /// and [`AuthError::Delivery`] returned.
    pub async fn start(&self, email: &str, client: &str) -> Result<OtpStarted, AuthError> {
        let email = normalize_email(email)?;
        let (started, code) = self.codes.issue(&email, client).await?;
        if let Err(e) = self.mailer.send_login_code(&email, &code).await {
            tracing::warn!(error = %e, "login code delivery failed; attempt discarded");
            self.codes
                .discard(&started.attempt_id, &email, client)
                .await?;
            return Err(AuthError::Delivery(e));
        }
        Ok(started)
    }

    /// Checks `code` for the attempt and, on success, returns the user (creating it on first
    /// login) and kills every other live code of the address. Every call uses up one try of
    /// the attempt and, if wrong, one of the address's wrong-code budget; the
    /// `max_attempts`-th wrong try kills the code.
    pub async fn verify(&self, attempt_id: &str, code: &str) -> Result<VerifiedEmail, AuthError> {
        let now = self.codes.now();
        let (email, mut tx) = self.codes.consume(attempt_id, code, now).await?;
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
        let (email, tx) = self
            .codes
            .consume(attempt_id, code, self.codes.now())
            .await?;
        tx.commit().await?;
        Ok(email)
    }

    /// Deletes expired attempts and throttle counters whose window has passed. Returns how
    /// many rows were deleted. Run it now and then.
    pub async fn prune(&self) -> Result<u64, AuthError> {
        self.codes.prune().await
    }
}
