//! Errors of the credentials module. None carries a secret, and a wrong secret and an unknown
//! account give the same error.

use crate::store::StoreError;
use crate::vault::VaultError;

/// A credential failure.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The new secret breaks a rule; the text says which (never the secret).
    #[error("{0}")]
    Weak(String),
    /// Wrong secret, or no such account or credential (deliberately not distinguished).
    #[error("the credentials are not valid")]
    Invalid,
    /// A TOTP code already used for its time step.
    #[error("this code was already used; wait for the next one")]
    Replayed,
    /// The PIN reached its limit of wrong tries; sign in another way to unlock it.
    #[error("the PIN is locked after too many wrong tries; sign in another way to unlock it")]
    Locked,
    /// The user has no credential of this kind (or no enrolment to confirm).
    #[error("not set up")]
    NotSet,
    /// Too many wrong guesses recently.
    #[error("too many wrong tries; retry later")]
    RateLimited { retry_after_ms: i64 },
    #[error("hashing failed")]
    Hash,
    #[error("operating system randomness unavailable")]
    Random,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored credential: {0}")]
    Vault(#[from] VaultError),
}

impl From<sqlx::Error> for CredentialError {
    fn from(e: sqlx::Error) -> Self {
        CredentialError::Store(StoreError::Database(e))
    }
}
