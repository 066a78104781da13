//! Errors of the login-code flow. None reveals a code, nor whether an address has an account.

use crate::notify::MailError;
use crate::store::StoreError;
use crate::vault::VaultError;

/// A login-code failure.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The address is not a plausible email address.
    #[error("invalid email address")]
    InvalidEmail,
    /// Not a valid phone number (in international form, or for the default region).
    #[error("invalid phone number")]
    InvalidPhone,
    /// SMS login is not enabled on this server (`sms.enabled`).
    #[error("SMS login is not enabled on this server")]
    SmsDisabled,
    /// The SMS could not be handed to the gateway; nothing was stored.
    #[error("the login code could not be sent by SMS")]
    SmsDelivery(#[source] crate::sms::SmsError),
    /// Too many codes requested, or too many wrong codes for this address, recently.
    /// `retry_after_ms` is exact only for a budget the caller alone can use up; for a shared
    /// one it is the whole window, so it reveals nothing about others' requests.
    #[error("too many login attempts; retry in {}", wait_in_words(.retry_after_ms))]
    RateLimited {
        /// When a new request may succeed, in milliseconds from now.
        retry_after_ms: i64,
    },
    /// The code could not be delivered; nothing was stored.
    #[error("the login code could not be delivered")]
    Delivery(#[source] MailError),
    /// Wrong code, or unknown or already-used attempt (deliberately not distinguished).
    #[error("invalid login code")]
    CodeInvalid,
    /// The code has expired.
    #[error("the login code has expired")]
    CodeExpired,
    /// Too many wrong tries: the code is dead; request a new one.
    #[error("too many wrong tries; request a new login code")]
    CodeExhausted,
    /// The operating system's random number generator failed.
    #[error("operating system randomness unavailable")]
    Random,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored identifier did not open under the vault's key (tampered or moved row).
    #[error("stored identifier: {0}")]
    Vault(#[from] VaultError),
    /// Finding or creating the user of the address failed.
    #[error(transparent)]
    User(#[from] crate::users::UserError),
    /// The stored lockout policy could not be encoded or decoded.
    #[error("the stored lockout policy is unreadable")]
    Policy,
}

impl From<sqlx::Error> for AuthError {
    fn from(e: sqlx::Error) -> Self {
        AuthError::Store(StoreError::Database(e))
    }
}

/// A wait as people read it (`45 s`, `12 min 5 s`, `2 h 10 min`), rounded up to the second.
fn wait_in_words(ms: &i64) -> String {
    let s = u64::try_from(*ms).unwrap_or(0).div_ceil(1000);
    match s {
        0..60 => format!("{s} s"),
        60..3_600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3_600, s % 3_600 / 60),
    }
}
