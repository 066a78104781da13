//! Login and session bodies.

use serde::{Deserialize, Serialize};

/// `POST /v1/auth/email/start`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EmailStartRequest {
    /// Refused with `invalid_email` unless it is an address a mail server can take.
    #[cfg_attr(feature = "openapi", schema(format = Email, min_length = 3, max_length = 254))]
    pub email: String,
}

/// `POST /v1/auth/sms/start` and `POST /v1/account/phone/start`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SmsStartRequest {
    /// A phone number in international form (`+44 7400 123456`); refused with
    /// `invalid_phone` unless it is a valid number. Answers carry it in E.164 (`+447400123456`).
    #[cfg_attr(feature = "openapi", schema(min_length = 2, max_length = 64))]
    pub phone: String,
}

/// The same answer whether or not the address has an account.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EmailStartResponse {
    /// Binds the code to this login attempt; send it back with the code.
    pub attempt_id: String,
    /// Unix milliseconds.
    pub expires_at: i64,
}

/// `POST /v1/auth/email/verify`
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EmailVerifyRequest {
    /// From the `start` answer; an unknown one is `code_invalid`.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub attempt_id: String,
    /// The six digits sent by email.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{6}$"))]
    pub code: String,
}

impl core::fmt::Debug for EmailVerifyRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EmailVerifyRequest")
            .field("attempt_id", &self.attempt_id)
            .field("code", &"[redacted]")
            .finish()
    }
}

/// A new session: the bearer token is shown exactly once, here.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    pub token: String,
    pub session: SessionInfo,
    pub user: UserInfo,
}

impl core::fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LoginResponse")
            .field("token", &"[redacted]")
            .field("session", &self.session)
            .field("user", &self.user)
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserInfo {
    pub id: String,
    pub email: String,
}

/// A session as the user may see it (never the token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    pub id: String,
    pub auth_method: String,
    /// All times are Unix milliseconds.
    pub created_at: i64,
    pub refreshed_at: i64,
    pub expires_at: i64,
    /// Refresh never extends a session past this.
    pub absolute_expires_at: i64,
    /// True for the session making the request.
    #[serde(default)]
    pub current: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionList {
    pub sessions: Vec<SessionInfo>,
}
