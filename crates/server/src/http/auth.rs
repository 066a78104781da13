//! Email one-time-code login.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::USER_AGENT;
use tandem_proto::ApiError;
use tandem_proto::auth::{
    EmailStartRequest, EmailStartResponse, EmailVerifyRequest, LoginResponse, UserInfo,
};

use super::client_addr::ClientAddr;
use super::error::HttpError;
use super::json::ApiJson;
use super::session::session_info;
use crate::app::AppState;

/// Sends a one-time login code to an address.
#[utoipa::path(post, path = "/v1/auth/email/start", tag = "auth",
    request_body = EmailStartRequest,
    responses((status = 200, body = EmailStartResponse), (status = 400, body = ApiError), (status = 413, body = ApiError), (status = 429, body = ApiError),
        (status = 502, body = ApiError, description = "the code could not be sent (`delivery_failed`); nothing was stored")))]
pub async fn email_start(
    State(state): State<AppState>,
    client: ClientAddr,
    ApiJson(req): ApiJson<EmailStartRequest>,
) -> Result<Json<EmailStartResponse>, HttpError> {
    let started = state.otp.start(&req.email, &client.throttle_key()).await?;
    metrics::counter!("tandem_otp_sent_total", "channel" => "email").increment(1);
    Ok(Json(EmailStartResponse {
        attempt_id: started.attempt_id,
        expires_at: started.expires_at,
    }))
}

/// Exchanges a login code for a session.
#[utoipa::path(post, path = "/v1/auth/email/verify", tag = "auth",
    request_body = EmailVerifyRequest,
    responses((status = 200, body = LoginResponse),
        (status = 400, body = ApiError, description = "malformed body, or a code that is wrong, expired or used up"),
        (status = 413, body = ApiError),
        (status = 429, body = ApiError, description = "the address's budget of wrong codes is spent")))]
pub async fn email_verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<EmailVerifyRequest>,
) -> Result<Json<LoginResponse>, HttpError> {
    let verified = state.otp.verify(&req.attempt_id, &req.code).await?;
    let user_agent = headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(200).collect::<String>());
    let new = state
        .sessions
        .create(&verified.user_id, "email_otp", user_agent.as_deref())
        .await?;
    metrics::counter!("tandem_logins_total", "method" => "email_otp").increment(1);
    Ok(Json(LoginResponse {
        token: new.token.expose().to_owned(),
        session: session_info(&new.record, true),
        user: UserInfo {
            id: verified.user_id,
            email: verified.email,
        },
    }))
}
