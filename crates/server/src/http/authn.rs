//! The bearer-session extractor every authenticated route uses.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use tandem_proto::ErrorCode;

use super::client_addr::ClientAddr;
use super::error::HttpError;
use crate::app::AppState;
use crate::principal::Principal;
use crate::sessions::SessionRecord;

/// The authenticated session making the request.
pub struct Authed {
    pub session: SessionRecord,
}

impl Authed {
    pub fn user_id(&self) -> &str {
        &self.session.user_id
    }
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let token = bearer(&parts.headers).ok_or_else(|| {
            HttpError::new(
                ErrorCode::Unauthorized,
                "missing `Authorization: Bearer <token>`",
            )
        })?;
        let session = state.sessions.authenticate(token).await?;
        if let Some(slot) = parts.extensions.get::<super::observe::UserSlot>() {
            slot.set(&session.user_id);
        }
        Ok(Authed { session })
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let Authed { session } = Authed::from_request_parts(parts, state).await?;
        let client = ClientAddr::from_request_parts(parts, state).await?;
        let methods = state.accounts.session_methods(&session.id).await?;
        Ok(Principal {
            user_id: session.user_id,
            session_id: session.id,
            methods,
            client: client.throttle_key(),
            user_agent: user_agent(&parts.headers),
        })
    }
}

/// The client's User-Agent, cut to 200 characters, if it sent one.
pub fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(200).collect())
}

/// The bearer token of a request, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
