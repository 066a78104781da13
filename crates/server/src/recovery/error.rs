//! Errors of the recovery key, Backup Kits and exports.

use crate::account::AccountError;
use crate::store::StoreError;
use crate::wallets::WalletError;

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Wallet(#[from] WalletError),
    /// A Backup Kit needs a recovery key to be sealed to.
    #[error("set up a recovery secret first (tandem recovery setup)")]
    NotSetUp,
    /// A field of the request is not what it must be.
    #[error("{field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
    /// The daily limit is reached.
    #[error("too many {what} today; try again later")]
    RateLimited {
        what: &'static str,
        retry_after_ms: i64,
    },
    /// The verifier is not the recovery secret's.
    #[error("that is not this account's recovery secret")]
    WrongSecret,
    /// A recovery request is already open.
    #[error(
        "a recovery is already under way for this account; it must complete or be cancelled first"
    )]
    AlreadyPending,
    /// Nothing to cancel or complete.
    #[error("no recovery is under way for this account")]
    NoPending,
    /// The delay has not passed.
    #[error("the recovery cannot complete before its waiting period ends")]
    TooEarly { not_before: i64 },
    /// Sealing failed (a share that does not decode, a key HPKE refuses).
    #[error("sealing failed: {0}")]
    Seal(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for RecoveryError {
    fn from(e: sqlx::Error) -> Self {
        RecoveryError::Store(StoreError::Database(e))
    }
}
