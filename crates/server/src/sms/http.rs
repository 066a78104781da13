//! The SMS routes: login by a code sent to a phone number, and linking a number to the
//! account. Each handler parses, makes one call on `Accounts`, and maps the error.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use tandem_proto::ApiError;
use tandem_proto::account::{IdentityInfo, LinkEmailVerifyRequest};
use tandem_proto::auth::{EmailStartResponse, EmailVerifyRequest, LoginResponse, SmsStartRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::account::Client;
use crate::account::http::{identity_info, login_response};
use crate::app::AppState;
use crate::http::{ApiJson, ClientAddr, HttpError, user_agent};
use crate::principal::Principal;

/// The routes of this module, merged into the API by `http::router`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sms_start))
        .routes(routes!(sms_verify))
        .routes(routes!(link_phone_start))
        .routes(routes!(link_phone_verify))
}

/// Sends a one-time login code to a phone number by SMS.
#[utoipa::path(post, path = "/v1/auth/sms/start", tag = "auth",
    request_body = SmsStartRequest,
    responses((status = 200, body = EmailStartResponse, description = "the same answer whether or not the number has an account"),
        (status = 400, body = ApiError, description = "`invalid_phone` (field `phone`), or a malformed body"),
        (status = 404, body = ApiError, description = "`not_found`: SMS login is not enabled (`sms.enabled`)"),
        (status = 413, body = ApiError),
        (status = 429, body = ApiError, description = "too many codes for this number or from this client"),
        (status = 502, body = ApiError, description = "the gateway refused the message (`delivery_failed`); nothing was stored")))]
pub async fn sms_start(
    State(state): State<AppState>,
    client: ClientAddr,
    ApiJson(req): ApiJson<SmsStartRequest>,
) -> Result<Json<EmailStartResponse>, HttpError> {
    let started = state
        .accounts
        .sms_start(&req.phone, &client.throttle_key())
        .await?;
    metrics::counter!("tandem_otp_sent_total", "channel" => "sms").increment(1);
    Ok(Json(EmailStartResponse {
        attempt_id: started.attempt_id,
        expires_at: started.expires_at,
    }))
}

/// Exchanges an SMS code for a session (creating the account on a first login).
#[utoipa::path(post, path = "/v1/auth/sms/verify", tag = "auth",
    request_body = EmailVerifyRequest,
    responses((status = 200, body = LoginResponse),
        (status = 400, body = ApiError, description = "malformed body, or a code that is wrong, expired or used up"),
        (status = 401, body = ApiError, description = "`second_factor_required`: the account has TOTP; finish at `/v1/auth/second-factor` with `login_ticket`"),
        (status = 404, body = ApiError, description = "`not_found`: SMS login is not enabled"),
        (status = 413, body = ApiError),
        (status = 429, body = ApiError, description = "the number's budget of wrong codes is spent")))]
pub async fn sms_verify(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    ApiJson(req): ApiJson<EmailVerifyRequest>,
) -> Result<Json<LoginResponse>, HttpError> {
    let key = client.throttle_key();
    let agent = user_agent(&headers);
    let login = state
        .accounts
        .login_sms(
            &req.attempt_id,
            &req.code,
            Client {
                key: &key,
                user_agent: agent.as_deref(),
            },
        )
        .await?;
    Ok(login_response(login))
}

/// Sends a code to a phone number to link it to this account (step-up).
#[utoipa::path(post, path = "/v1/account/phone/start", tag = "account", security(("bearer" = [])),
    request_body = SmsStartRequest,
    responses((status = 200, body = EmailStartResponse),
        (status = 400, body = ApiError, description = "`invalid_phone`"),
        (status = 401, body = ApiError),
        (status = 403, body = ApiError, description = "`step_up_required`"),
        (status = 404, body = ApiError, description = "`not_found`: SMS is not enabled"),
        (status = 413, body = ApiError),
        (status = 429, body = ApiError),
        (status = 502, body = ApiError, description = "`delivery_failed`")))]
pub async fn link_phone_start(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(req): ApiJson<SmsStartRequest>,
) -> Result<Json<EmailStartResponse>, HttpError> {
    let started = state
        .accounts
        .link_phone_start(&principal, &req.phone)
        .await?;
    metrics::counter!("tandem_otp_sent_total", "channel" => "sms").increment(1);
    Ok(Json(EmailStartResponse {
        attempt_id: started.attempt_id,
        expires_at: started.expires_at,
    }))
}

/// Links the number the code was sent to. `identity_in_use` if another account has it.
#[utoipa::path(post, path = "/v1/account/phone/verify", tag = "account", security(("bearer" = [])),
    request_body = LinkEmailVerifyRequest,
    responses((status = 200, body = IdentityInfo),
        (status = 400, body = ApiError, description = "a code that is wrong, expired or used up"),
        (status = 401, body = ApiError),
        (status = 403, body = ApiError, description = "`step_up_required`"),
        (status = 404, body = ApiError, description = "`not_found`: SMS is not enabled"),
        (status = 409, body = ApiError, description = "`identity_in_use`: the number belongs to another account"),
        (status = 413, body = ApiError),
        (status = 429, body = ApiError)))]
pub async fn link_phone_verify(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(req): ApiJson<LinkEmailVerifyRequest>,
) -> Result<Json<IdentityInfo>, HttpError> {
    let identity = state
        .accounts
        .link_phone_verify(&principal, &req.attempt_id, &req.code)
        .await?;
    Ok(Json(identity_info(identity)))
}
