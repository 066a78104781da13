//! Errors as they cross the wire: `{"code": "...", "message": "...", "field": "..."}`.
//! Codes are stable API; messages are for humans and may change.

use serde::{Deserialize, Serialize};

/// Every error code the server can return, over HTTP or inside a ceremony socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not valid JSON or does not have the expected shape.
    InvalidRequest,
    /// A field has an invalid value; `field` names it.
    InvalidField,
    InvalidEmail,
    /// Not a phone number that can receive SMS (`field` is `phone`).
    InvalidPhone,
    InvalidHex,
    InvalidBase64,
    InvalidRlp,
    InvalidTransaction,
    UnsupportedTransactionType,
    AlreadySigned,
    MissingChainId,
    InvalidTypedData,
    InvalidMessage,
    /// The wallet is not a required signer of the Solana transaction.
    NotASigner,
    /// The payload kind does not belong to the wallet's chain.
    WrongChain,
    /// A bare digest was offered for signing; Tandem only signs payloads it parsed itself.
    DigestSigningRefused,
    PayloadTooLarge,
    /// No session token, or an unknown one.
    Unauthorized,
    SessionExpired,
    SessionRevoked,
    CodeInvalid,
    CodeExpired,
    CodeExhausted,
    /// Wrong password or PIN, or no such account (deliberately not distinguished).
    InvalidCredentials,
    /// The first factor passed; finish with a second one (`methods`) and `login_ticket` at
    /// `POST /v1/auth/second-factor`.
    SecondFactorRequired,
    /// The operation needs a method proven recently; `methods` lists those that would do
    /// (`POST /v1/auth/step-up`).
    StepUpRequired,
    /// The identity (an address, a number, a social account) belongs to another account:
    /// accounts are never merged silently.
    IdentityInUse,
    /// The last way to sign in cannot be removed.
    LastMethod,
    /// The PIN is locked after too many wrong tries; sign in another way to unlock it.
    CredentialLocked,
    /// Backup Kits (and, later, recovery) need a recovery secret set up first
    /// (`PUT /v1/recovery`).
    RecoveryNotSetUp,
    /// A recovery is already under way for the account (the account was told of this try).
    RecoveryPending,
    /// The recovery's waiting period has not ended; `retry_after_ms` says how long is left.
    RecoveryNotYet,
    /// A social sign-in failed: the provider refused or its answer did not verify, or the
    /// flow is unknown, used or expired. Never says more (token contents stay private).
    SocialFailed,
    RateLimited,
    NotFound,
    WalletNotFound,
    WalletFrozen,
    /// The state changed underneath the request (e.g. the wallet's epoch moved on).
    Conflict,
    /// The device's share does not match the server's (different epoch or wallet).
    EpochMismatch,
    /// The device computed other bytes to sign from the payload than the server did (the
    /// SDK and server disagree on an encoding, e.g. after an upgrade of one side). Refused
    /// before any MPC frame; nothing is frozen.
    SigningInputMismatch,
    CeremonyFailed,
    CeremonyTimeout,
    TooManyCeremonies,
    /// A ceremony socket message arrived out of order or malformed.
    ProtocolError,
    /// The end-to-end channel failed: handshake (not the pinned server, or another session)
    /// or a message that failed authentication.
    ChannelError,
    DeliveryFailed,
    /// The server's key store (its HSM) cannot be reached right now; retry later.
    VaultUnavailable,
    /// This instance is not ready or is shutting down; retry (another instance will answer).
    Unavailable,
    Internal,
    /// A code this client does not know (sent by a newer server). Never sent by this
    /// version's server, so it is not in [`ErrorCode::ALL`]; treat it by HTTP status and
    /// the error body's `retryable` flag.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// Every code, for documentation and tests.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidField,
        ErrorCode::InvalidEmail,
        ErrorCode::InvalidPhone,
        ErrorCode::InvalidHex,
        ErrorCode::InvalidBase64,
        ErrorCode::InvalidRlp,
        ErrorCode::InvalidTransaction,
        ErrorCode::UnsupportedTransactionType,
        ErrorCode::AlreadySigned,
        ErrorCode::MissingChainId,
        ErrorCode::InvalidTypedData,
        ErrorCode::InvalidMessage,
        ErrorCode::NotASigner,
        ErrorCode::WrongChain,
        ErrorCode::DigestSigningRefused,
        ErrorCode::PayloadTooLarge,
        ErrorCode::Unauthorized,
        ErrorCode::SessionExpired,
        ErrorCode::SessionRevoked,
        ErrorCode::CodeInvalid,
        ErrorCode::CodeExpired,
        ErrorCode::CodeExhausted,
        ErrorCode::InvalidCredentials,
        ErrorCode::SecondFactorRequired,
        ErrorCode::StepUpRequired,
        ErrorCode::IdentityInUse,
        ErrorCode::LastMethod,
        ErrorCode::CredentialLocked,
        ErrorCode::RecoveryNotSetUp,
        ErrorCode::RecoveryPending,
        ErrorCode::RecoveryNotYet,
        ErrorCode::SocialFailed,
        ErrorCode::RateLimited,
        ErrorCode::NotFound,
        ErrorCode::WalletNotFound,
        ErrorCode::WalletFrozen,
        ErrorCode::Conflict,
        ErrorCode::EpochMismatch,
        ErrorCode::SigningInputMismatch,
        ErrorCode::CeremonyFailed,
        ErrorCode::CeremonyTimeout,
        ErrorCode::TooManyCeremonies,
        ErrorCode::ProtocolError,
        ErrorCode::ChannelError,
        ErrorCode::DeliveryFailed,
        ErrorCode::VaultUnavailable,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// Whether the same request may succeed if sent again unchanged (after `retry_after_ms`
    /// when given). Clients use this instead of matching codes themselves; the server also
    /// sends it as `retryable` in every error body.
    pub fn is_retryable(self) -> bool {
        use ErrorCode::*;
        matches!(
            self,
            RateLimited
                | TooManyCeremonies
                | CeremonyTimeout
                | DeliveryFailed
                | VaultUnavailable
                | Unavailable
        )
    }

    /// The HTTP status this code is returned with.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            InvalidRequest
            | InvalidField
            | InvalidEmail
            | InvalidPhone
            | InvalidHex
            | InvalidBase64
            | InvalidRlp
            | InvalidTransaction
            | UnsupportedTransactionType
            | AlreadySigned
            | MissingChainId
            | InvalidTypedData
            | InvalidMessage
            | NotASigner
            | WrongChain
            | DigestSigningRefused
            | CodeInvalid
            | CodeExpired
            | CodeExhausted
            | SocialFailed
            | ProtocolError
            | ChannelError => 400,
            PayloadTooLarge => 413,
            Unauthorized | SessionExpired | SessionRevoked | InvalidCredentials
            | SecondFactorRequired => 401,
            StepUpRequired | CredentialLocked => 403,
            IdentityInUse | LastMethod | RecoveryNotSetUp | RecoveryPending | RecoveryNotYet => 409,
            NotFound | WalletNotFound => 404,
            WalletFrozen | Conflict | EpochMismatch | SigningInputMismatch => 409,
            RateLimited | TooManyCeremonies => 429,
            CeremonyTimeout => 408,
            CeremonyFailed => 422,
            DeliveryFailed => 502,
            VaultUnavailable | Unavailable => 503,
            Internal | Unknown => 500,
        }
    }

    /// The code as it appears on the wire (a test keeps this equal to serde's spelling).
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidRequest => "invalid_request",
            InvalidField => "invalid_field",
            InvalidEmail => "invalid_email",
            InvalidPhone => "invalid_phone",
            InvalidHex => "invalid_hex",
            InvalidBase64 => "invalid_base64",
            InvalidRlp => "invalid_rlp",
            InvalidTransaction => "invalid_transaction",
            UnsupportedTransactionType => "unsupported_transaction_type",
            AlreadySigned => "already_signed",
            MissingChainId => "missing_chain_id",
            InvalidTypedData => "invalid_typed_data",
            InvalidMessage => "invalid_message",
            NotASigner => "not_a_signer",
            WrongChain => "wrong_chain",
            DigestSigningRefused => "digest_signing_refused",
            PayloadTooLarge => "payload_too_large",
            Unauthorized => "unauthorized",
            SessionExpired => "session_expired",
            SessionRevoked => "session_revoked",
            CodeInvalid => "code_invalid",
            CodeExpired => "code_expired",
            CodeExhausted => "code_exhausted",
            InvalidCredentials => "invalid_credentials",
            SecondFactorRequired => "second_factor_required",
            StepUpRequired => "step_up_required",
            IdentityInUse => "identity_in_use",
            LastMethod => "last_method",
            SocialFailed => "social_failed",
            CredentialLocked => "credential_locked",
            RecoveryNotSetUp => "recovery_not_set_up",
            RecoveryPending => "recovery_pending",
            RecoveryNotYet => "recovery_not_yet",
            RateLimited => "rate_limited",
            NotFound => "not_found",
            WalletNotFound => "wallet_not_found",
            WalletFrozen => "wallet_frozen",
            Conflict => "conflict",
            EpochMismatch => "epoch_mismatch",
            SigningInputMismatch => "signing_input_mismatch",
            CeremonyFailed => "ceremony_failed",
            CeremonyTimeout => "ceremony_timeout",
            TooManyCeremonies => "too_many_ceremonies",
            ProtocolError => "protocol_error",
            ChannelError => "channel_error",
            DeliveryFailed => "delivery_failed",
            VaultUnavailable => "vault_unavailable",
            Unavailable => "unavailable",
            Internal => "internal",
            Unknown => "unknown",
        }
    }
}

impl core::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON error body.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// The request field at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `rate_limited`: how long to wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// Whether the request may be sent again unchanged (`ErrorCode::is_retryable`).
    #[serde(default)]
    pub retryable: bool,
    /// For `step_up_required` and `second_factor_required`: the methods that would do
    /// (`email_otp`, `password`, `pin`, `totp`, `recovery_code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    /// For `second_factor_required`: the one-time ticket that finishes this login. A bearer
    /// secret for a few minutes; send it back only to `POST /v1/auth/second-factor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_ticket: Option<String>,
}

impl core::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ApiError")
            .field("code", &self.code)
            .field("message", &self.message)
            .field("field", &self.field)
            .field("retry_after_ms", &self.retry_after_ms)
            .field("retryable", &self.retryable)
            .field("methods", &self.methods)
            .field(
                "login_ticket",
                &self.login_ticket.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            field: None,
            retry_after_ms: None,
            retryable: code.is_retryable(),
            methods: None,
            login_ticket: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl core::fmt::Display for ApiError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{} ({}): {}", self.code, field, self.message),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde() {
        let mut seen = std::collections::HashSet::new();
        for &code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap_or_default();
            assert_eq!(json.as_str(), Some(code.as_str()));
            assert!((400..600).contains(&code.http_status()));
            assert!(seen.insert(code.as_str()));
        }
    }

    #[test]
    fn a_newer_servers_code_decodes_as_unknown() {
        let body = r#"{"code":"brand_new_code","message":"m","retryable":true}"#;
        let e: ApiError =
            serde_json::from_str(body).unwrap_or_else(|_| ApiError::new(ErrorCode::Internal, ""));
        assert_eq!(e.code, ErrorCode::Unknown);
        assert!(e.retryable);
        assert!(!ErrorCode::ALL.contains(&ErrorCode::Unknown));
    }
}
