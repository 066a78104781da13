//! Errors of sessions. None contains a token.

use crate::store::StoreError;

/// A session failure.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Malformed or unknown token.
    #[error("invalid session token")]
    Invalid,
    /// The session has expired.
    #[error("session expired")]
    Expired,
    /// The session was revoked (logout or revocation).
    #[error("session revoked")]
    Revoked,
    /// No such session for this user.
    #[error("session not found")]
    NotFound,
    /// The operating system's random number generator failed.
    #[error("operating system randomness unavailable")]
    Random,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SessionError {
    fn from(e: sqlx::Error) -> Self {
        SessionError::Store(StoreError::Database(e))
    }
}
