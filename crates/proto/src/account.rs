//! Login with a password or PIN, second factors, step-up, and the account's methods.

use serde::{Deserialize, Serialize};

macro_rules! redacted_debug {
    ($ty:ident { $($shown:ident),* } [$($hidden:ident),*]) => {
        impl core::fmt::Debug for $ty {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($shown), &self.$shown))*
                    $(.field(stringify!($hidden), &"[redacted]"))*
                    .finish()
            }
        }
    };
}

/// `POST /v1/auth/password/login`
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordLoginRequest {
    /// The account's email address.
    #[cfg_attr(feature = "openapi", schema(format = Email, min_length = 3, max_length = 254))]
    pub email: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1024))]
    pub password: String,
}
redacted_debug!(PasswordLoginRequest { email }[password]);

/// `POST /v1/auth/pin/login`
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PinLoginRequest {
    #[cfg_attr(feature = "openapi", schema(format = Email, min_length = 3, max_length = 254))]
    pub email: String,
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{4,8}$"))]
    pub pin: String,
}
redacted_debug!(PinLoginRequest { email }[pin]);

/// A proof of one method, for a second factor or a step-up.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum Proof {
    /// A code from the authenticator app.
    Totp {
        #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{6}$"))]
        code: String,
    },
    /// One of the TOTP recovery codes (each works once).
    RecoveryCode {
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
        code: String,
    },
    Password {
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1024))]
        password: String,
    },
    Pin {
        #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{4,8}$"))]
        pin: String,
    },
    /// A code mailed by `POST /v1/auth/email/start` to one of the account's addresses.
    EmailOtp {
        #[cfg_attr(feature = "openapi", schema(min_length = 1))]
        attempt_id: String,
        #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{6}$"))]
        code: String,
    },
    /// A code sent by `POST /v1/auth/sms/start` to one of the account's phone numbers.
    SmsOtp {
        #[cfg_attr(feature = "openapi", schema(min_length = 1))]
        attempt_id: String,
        #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{6}$"))]
        code: String,
    },
}

impl Proof {
    /// The method's wire name.
    pub fn method(&self) -> &'static str {
        match self {
            Proof::Totp { .. } => "totp",
            Proof::RecoveryCode { .. } => "recovery_code",
            Proof::Password { .. } => "password",
            Proof::Pin { .. } => "pin",
            Proof::EmailOtp { .. } => "email_otp",
            Proof::SmsOtp { .. } => "sms_otp",
        }
    }
}

impl core::fmt::Debug for Proof {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Proof")
            .field("method", &self.method())
            .finish_non_exhaustive()
    }
}

/// `POST /v1/auth/second-factor`
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SecondFactorRequest {
    /// From the `second_factor_required` error.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub login_ticket: String,
    pub proof: Proof,
}
redacted_debug!(SecondFactorRequest { proof }[login_ticket]);

/// `POST /v1/auth/step-up`: the body is the proof itself.
pub type StepUpRequest = Proof;

/// A method a session proved, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MethodUse {
    pub method: String,
    /// Unix milliseconds.
    pub at: i64,
}

/// The answer to a step-up: every method the session has proven.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepUpResponse {
    pub methods: Vec<MethodUse>,
}

/// An identity of the account (how it can be found at login).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IdentityInfo {
    pub id: String,
    /// `email` (more kinds later; clients show unknown kinds by name).
    pub kind: String,
    /// The address (or number, or provider subject).
    pub subject: String,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
}

/// `GET /v1/account`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountInfo {
    pub user_id: String,
    pub identities: Vec<IdentityInfo>,
    pub password: bool,
    pub pin: bool,
    /// The PIN is locked after too many wrong tries (another method unlocks it).
    #[serde(default)]
    pub pin_locked: bool,
    pub totp: bool,
    #[serde(default)]
    pub recovery_codes_left: u32,
    /// What this session has proven, and when.
    pub session_methods: Vec<MethodUse>,
    /// How long a proven method counts for sensitive operations, in seconds.
    pub step_up_window_secs: u64,
}

/// `PUT /v1/account/password`
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetPasswordRequest {
    /// At least 8 characters, not one of the most common passwords; no other rule.
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 1024))]
    pub password: String,
}
redacted_debug!(SetPasswordRequest {}[password]);

/// `PUT /v1/account/pin`
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetPinRequest {
    /// 4 to 8 digits, not one repeated digit or a run like 1234.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{4,8}$"))]
    pub pin: String,
}
redacted_debug!(SetPinRequest {}[pin]);

/// `POST /v1/account/totp`: a new key to add to an authenticator app, not in use until
/// confirmed with a first code.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TotpEnrolment {
    /// The key in base32, for typing into the app.
    pub secret: String,
    /// The `otpauth://totp/…` URI the QR code holds.
    pub otpauth_uri: String,
}
redacted_debug!(TotpEnrolment {} [secret, otpauth_uri]);

/// `POST /v1/account/totp/confirm`
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TotpConfirmRequest {
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{6}$"))]
    pub code: String,
}
redacted_debug!(TotpConfirmRequest {}[code]);

/// One-time recovery codes, shown once: each replaces a TOTP code once.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}
redacted_debug!(RecoveryCodes {}[recovery_codes]);

/// `POST /v1/account/email/verify`: links the address the code was sent to.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LinkEmailVerifyRequest {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub attempt_id: String,
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{6}$"))]
    pub code: String,
}
redacted_debug!(LinkEmailVerifyRequest { attempt_id }[code]);
