//! SMS one-time codes: login by phone number, and phone numbers as linkable identities.
//!
//! The codes follow the email codes' rules (`auth::codes`: 6 digits from the OS, a keyed MAC
//! at rest, bound to the attempt, one use, at most `sms.max_attempts` tries, the number's
//! other live codes killed on success) with their own table (`sms_codes`), throttle scopes
//! and policy (`sms_otp`). Delivery goes through an [`SmsSender`]: the development outbox or
//! an SMPP gateway. Login itself goes through `account::Accounts::login_sms`.

pub mod http;
mod phone;
mod sender;
mod smpp;

use std::sync::Arc;

pub use phone::normalize_phone;
pub use sender::{SmsError, SmsOutbox, SmsSender, sender_from_config};
pub use smpp::SmppSender;

use crate::auth::codes::{self, Codes};
use crate::auth::{AuthError, Budget, LockoutPolicy, OtpStarted};
use crate::clock::SharedClock;
use crate::config::SmsConfig;
use crate::store::{Step, Store};
use crate::users::{IdentityKind, Users};
use crate::vault::PiiKeys;

/// The tables of this module.
pub const MIGRATIONS: &[Step] = &[Step {
    version: 9,
    description: "sms codes",
    sqlite: include_str!("migrations/sqlite/0009_sms_codes.sql"),
    postgres: include_str!("migrations/postgres/0009_sms_codes.sql"),
}];

/// The credential kind under which the policy is stored (and the method's name).
pub const SMS_OTP: &str = "sms_otp";

const MINUTE_MS: i64 = 60_000;

impl LockoutPolicy {
    /// The SMS-code policy from `[sms]`.
    pub fn sms_otp(c: &SmsConfig) -> Self {
        Self {
            issue_per_subject_client: Budget {
                max: c.per_number_per_10_minutes,
                window_ms: 10 * MINUTE_MS,
            },
            issue_per_client: Budget {
                max: c.per_client_per_hour,
                window_ms: 60 * MINUTE_MS,
            },
            issue_per_subject: Budget {
                max: c.per_number_per_day,
                window_ms: 24 * 60 * MINUTE_MS,
            },
            failures_per_secret: c.max_attempts,
            failures_per_subject: Budget {
                max: c.wrong_codes_per_number_per_hour,
                window_ms: 60 * MINUTE_MS,
            },
        }
    }
}

/// A number proven by a code, and its user if a login resolved one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPhone {
    pub user_id: String,
    /// E.164.
    pub phone: String,
    pub created: bool,
}

/// SMS one-time codes. Cheap to clone.
#[derive(Clone)]
pub struct PhoneOtp {
    codes: Codes,
    sender: Arc<dyn SmsSender>,
    users: Users,
}

impl PhoneOtp {
    /// Sends a notice (no secret in it) to a number of the account.
    pub async fn send_notice(&self, to: &str, text: &str) -> Result<(), SmsError> {
        self.sender.send_notice(to, text).await
    }
}

impl std::fmt::Debug for PhoneOtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneOtp")
            .field("codes", &self.codes)
            .finish_non_exhaustive()
    }
}

impl PhoneOtp {
    pub fn new(
        store: Store,
        clock: SharedClock,
        sender: Arc<dyn SmsSender>,
        config: &SmsConfig,
        keys: PiiKeys,
    ) -> Self {
        Self {
            users: Users::new(store.clone(), keys.clone()),
            codes: Codes::new(
                store,
                clock,
                config.ttl_minutes,
                LockoutPolicy::sms_otp(config),
                keys,
                &codes::PHONE,
            ),
            sender,
        }
    }

    /// The lockout policy in force.
    pub fn policy(&self) -> &LockoutPolicy {
        self.codes.policy()
    }

    /// Records the policy in the database, for the other instances and for operators.
    pub async fn publish_policy(&self) -> Result<(), AuthError> {
        self.codes.publish_policy(SMS_OTP).await
    }

    /// Sends a fresh code to `phone` for a new attempt from `client`. The same answer
    /// whether or not the number has an account. Throttled per (number, client), per client
    /// and per number; if the gateway refuses, nothing is stored or counted.
    pub async fn start(&self, phone: &str, client: &str) -> Result<OtpStarted, AuthError> {
        let phone = normalize_phone(phone)?;
        let (started, code) = self.codes.issue(&phone, client).await?;
        if let Err(e) = self.sender.send_code(&phone, &code).await {
            tracing::warn!(error = %e, "SMS code delivery failed; attempt discarded");
            self.codes
                .discard(&started.attempt_id, &phone, client)
                .await?;
            return Err(AuthError::SmsDelivery(e));
        }
        Ok(started)
    }

    /// Checks the code and returns the number's user, created now on a first login.
    pub async fn verify(&self, attempt_id: &str, code: &str) -> Result<VerifiedPhone, AuthError> {
        let now = self.codes.now();
        let (phone, mut tx) = self.codes.consume(attempt_id, code, now).await?;
        let (user_id, created) = self
            .users
            .resolve_or_create_in(&mut tx, IdentityKind::Phone, &phone, now)
            .await?;
        tx.commit().await?;
        Ok(VerifiedPhone {
            user_id,
            phone,
            created,
        })
    }

    /// Checks the code and returns the number it proves, without looking up or creating a
    /// user (linking, step-up).
    pub async fn verify_number(&self, attempt_id: &str, code: &str) -> Result<String, AuthError> {
        let (phone, tx) = self
            .codes
            .consume(attempt_id, code, self.codes.now())
            .await?;
        tx.commit().await?;
        Ok(phone)
    }

    /// Deletes expired attempts and dead throttle counters.
    pub async fn prune(&self) -> Result<u64, AuthError> {
        self.codes.prune().await
    }
}
