//! Email one-time-code login.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use tandem_proto::ApiError;
use tandem_proto::auth::{
    EmailStartRequest, EmailStartResponse, EmailVerifyRequest, LoginResponse, UserInfo,
};

use super::authn::user_agent;
use super::client_addr::ClientAddr;
use super::error::HttpError;
use super::json::ApiJson;
use super::session::session_info;
use crate::account::Client;
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
        (status = 401, body = ApiError, description = "`second_factor_required`: the account has TOTP; finish at `/v1/auth/second-factor` with `login_ticket`"),
        (status = 429, body = ApiError, description = "the address's budget of wrong codes is spent")))]
pub async fn email_verify(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    ApiJson(req): ApiJson<EmailVerifyRequest>,
) -> Result<Json<LoginResponse>, HttpError> {
    let key = client.throttle_key();
    let agent = user_agent(&headers);
    let login = state
        .accounts
        .login_email(
            &req.attempt_id,
            &req.code,
            Client {
                key: &key,
                user_agent: agent.as_deref(),
            },
        )
        .await?;
    Ok(Json(LoginResponse {
        token: login.session.token.expose().to_owned(),
        session: session_info(&login.session.record, true),
        user: UserInfo {
            id: login.user_id,
            email: login.email,
        },
    }))
}
