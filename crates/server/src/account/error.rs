//! Errors of logins, step-ups and account changes.

use crate::auth::AuthError;
use crate::credentials::CredentialError;
use crate::sessions::SessionError;
use crate::store::StoreError;
use crate::users::UserError;

/// An account operation failure.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The first factor passed; the ticket finishes the login with one of `methods`.
    #[error("a second factor is required")]
    SecondFactorRequired {
        ticket: String,
        methods: Vec<&'static str>,
    },
    /// The operation needs one of `methods` proven recently.
    #[error("this needs a recent sign-in; prove one of your methods again (step-up)")]
    StepUpRequired { methods: Vec<&'static str> },
    /// The login ticket is unknown, used, expired or out of tries.
    #[error("the login ticket is not valid; sign in again")]
    TicketInvalid,
    /// A second factor must be TOTP or a recovery code.
    #[error("the second factor must be a TOTP code or a recovery code")]
    WrongSecondFactor,
    /// The last way to sign in cannot be removed.
    #[error("this is the account's last way to sign in; add another first")]
    LastMethod,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AccountError {
    fn from(e: sqlx::Error) -> Self {
        AccountError::Store(StoreError::Database(e))
    }
}
