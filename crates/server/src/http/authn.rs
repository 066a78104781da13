//! The bearer-session extractor every authenticated route uses.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use tandem_proto::ErrorCode;

use super::error::HttpError;
use crate::app::AppState;
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

/// The bearer token of a request, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
