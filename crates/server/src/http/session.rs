//! The caller's sessions: inspect, refresh, log out, list, revoke.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use tandem_proto::ApiError;
use tandem_proto::auth::{SessionInfo, SessionList};

use super::authn::{Authed, bearer};
use super::error::HttpError;
use crate::app::AppState;
use crate::sessions::SessionRecord;

pub fn session_info(r: &SessionRecord, current: bool) -> SessionInfo {
    SessionInfo {
        id: r.id.clone(),
        auth_method: r.auth_method.clone(),
        created_at: r.created_at,
        refreshed_at: r.refreshed_at,
        expires_at: r.expires_at,
        absolute_expires_at: r.absolute_expires_at,
        current,
    }
}

/// The session making the request.
#[utoipa::path(get, path = "/v1/session", tag = "sessions",
    responses((status = 200, body = SessionInfo), (status = 401, body = ApiError)),
    security(("bearer" = [])))]
pub async fn current(authed: Authed) -> Json<SessionInfo> {
    Json(session_info(&authed.session, true))
}

/// Extends the session by its lifetime, never past its absolute limit.
#[utoipa::path(post, path = "/v1/session/refresh", tag = "sessions",
    responses((status = 200, body = SessionInfo), (status = 401, body = ApiError)),
    security(("bearer" = [])))]
pub async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<SessionInfo>, HttpError> {
    let token = token_of(&headers)?;
    let record = state.sessions.refresh(token).await?;
    Ok(Json(session_info(&record, true)))
}

/// Revokes the session making the request.
#[utoipa::path(post, path = "/v1/session/logout", tag = "sessions",
    responses((status = 204), (status = 401, body = ApiError)),
    security(("bearer" = [])))]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<StatusCode, HttpError> {
    let token = token_of(&headers)?;
    state.sessions.authenticate(token).await?;
    state.sessions.logout(token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The user's active sessions.
#[utoipa::path(get, path = "/v1/sessions", tag = "sessions",
    responses((status = 200, body = SessionList), (status = 401, body = ApiError)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    authed: Authed,
) -> Result<Json<SessionList>, HttpError> {
    let sessions = state.sessions.list(authed.user_id()).await?;
    Ok(Json(SessionList {
        sessions: sessions
            .iter()
            .map(|s| session_info(s, s.id == authed.session.id))
            .collect(),
    }))
}

/// Revokes one of the user's sessions.
#[utoipa::path(delete, path = "/v1/sessions/{id}", tag = "sessions",
    params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ApiError), (status = 404, body = ApiError)),
    security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, HttpError> {
    state.sessions.revoke(authed.user_id(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn token_of(headers: &HeaderMap) -> Result<&str, HttpError> {
    bearer(headers).ok_or_else(|| {
        HttpError::new(
            tandem_proto::ErrorCode::Unauthorized,
            "missing `Authorization: Bearer <token>`",
        )
    })
}
