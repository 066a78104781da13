//! Errors of social sign-in. None carries a token, a code, a verifier or a provider's answer:
//! what went wrong at the provider is logged as a category, never echoed.

use crate::account::AccountError;
use crate::store::StoreError;
use crate::users::UserError;
use crate::vault::VaultError;

/// A social sign-in failure.
#[derive(Debug, thiserror::Error)]
pub enum SocialError {
    /// The provider is not one of the presets, or not enabled here.
    #[error("this sign-in provider is not enabled on this server")]
    UnknownProvider,
    /// A field of the start request is not acceptable; the name is the field.
    #[error("invalid {0}")]
    InvalidField(&'static str),
    /// The flow the callback names is unknown, already used or expired (a replayed or
    /// forged `state`).
    #[error("unknown, used or expired sign-in; start again")]
    FlowInvalid,
    /// The user declined at the provider (or the provider refused the request).
    #[error("the provider did not authorise the sign-in")]
    Denied,
    /// The provider's answer did not verify (token exchange, ID-token signature, issuer,
    /// audience, expiry, nonce, or the user endpoint). The category is for the log only.
    #[error("the provider's answer could not be verified")]
    Provider(&'static str),
    /// The one-time code is unknown, used or expired, or the PKCE verifier does not match.
    #[error("invalid or expired sign-in code")]
    CodeInvalid,
    /// No account has this identity and `social.create_accounts` is off.
    #[error("no account signs in with this identity; link it from a signed-in account first")]
    NoAccount,
    /// Too many starts or failed finishes from this client.
    #[error("too many social sign-in attempts; retry later")]
    RateLimited { retry_after_ms: i64 },
    /// The operating system's random number generator failed.
    #[error("operating system randomness unavailable")]
    Random,
    /// Apple's client-secret key could not be read or used.
    #[error("Apple client key: {0}")]
    AppleKey(String),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    User(#[from] UserError),
    #[error("stored sign-in flow: {0}")]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SocialError {
    fn from(e: sqlx::Error) -> Self {
        SocialError::Store(StoreError::Database(e))
    }
}

impl SocialError {
    /// The `error` value a failed callback carries back to the client's redirect URI
    /// (OAuth 2.0 style: a code, no details).
    pub fn redirect_code(&self) -> &'static str {
        match self {
            SocialError::Denied => "access_denied",
            SocialError::Provider(_) | SocialError::FlowInvalid => "social_failed",
            _ => "server_error",
        }
    }
}
