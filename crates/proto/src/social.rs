//! Social sign-in bodies (`/v1/auth/social/…`, `/v1/account/social/…`): an RFC 8252 loopback
//! flow. The client picks a PKCE verifier and a state, starts, opens `authorization_url` in a
//! browser, receives `code` and its `state` on its redirect URI, and finishes with the code and
//! the verifier.

use serde::{Deserialize, Serialize};

/// `POST /v1/auth/social/start` and `POST /v1/account/social/start`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SocialStartRequest {
    /// `oidc`, `google`, `apple`, `x`, `discord` or `facebook`; one the server has not
    /// enabled is `not_found`.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32))]
    pub provider: String,
    /// Where the browser is sent back with `code` and `state` (or `error` and `state`):
    /// `http://127.0.0.1:<port>/…`, `http://[::1]:<port>/…`, `http://localhost:<port>/…`, or
    /// a URI the server lists in `social.redirect_uris`.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 2048))]
    pub redirect_uri: String,
    /// `BASE64URL(SHA-256(code_verifier))` without padding (PKCE S256, 43 characters).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{43}$"))]
    pub code_challenge: String,
    /// The client's own anti-forgery value, echoed back on the redirect.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 256))]
    pub state: String,
}

/// The answer to a start.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SocialStartResponse {
    /// Open this in the user's browser.
    pub authorization_url: String,
    /// Unix milliseconds; the flow must come back before then.
    pub expires_at: i64,
}

/// `POST /v1/auth/social/finish` and `POST /v1/account/social/finish`.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SocialFinishRequest {
    /// The one-time code the redirect carried (`tds_…`); it works once, for 2 minutes.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub code: String,
    /// The PKCE verifier whose challenge the start carried (43 to 128 characters).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9._~-]{43,128}$"))]
    pub code_verifier: String,
}

impl core::fmt::Debug for SocialFinishRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SocialFinishRequest")
            .field("code", &"[redacted]")
            .field("code_verifier", &"[redacted]")
            .finish()
    }
}
