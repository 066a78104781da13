//! The social routes: start, the provider's callback (GET, or POST for `form_post`), finish,
//! and the same start and finish for linking. Each handler parses, makes one call, and maps
//! the error. Unlinking is the account's `DELETE /v1/account/identities/{id}`.

use axum::Json;
use axum::extract::{Form, Query, State};
use axum::http::header::{CACHE_CONTROL, LOCATION, REFERRER_POLICY};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tandem_proto::account::IdentityInfo;
use tandem_proto::auth::LoginResponse;
use tandem_proto::social::{SocialFinishRequest, SocialStartRequest, SocialStartResponse};
use tandem_proto::{ApiError, ErrorCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{SocialError, StartRequest, Started};
use crate::account::Client;
use crate::account::http::{identity_info, login_response};
use crate::app::AppState;
use crate::http::{ApiJson, ClientAddr, HttpError, user_agent};
use crate::principal::Principal;

/// The routes of this module, merged into the API by `http::router`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(social_start))
        .routes(routes!(callback_get, callback_post))
        .routes(routes!(social_finish))
        .routes(routes!(link_social_start))
        .routes(routes!(link_social_finish))
}

impl From<SocialError> for HttpError {
    fn from(e: SocialError) -> Self {
        let e = match e {
            SocialError::Account(inner) => return inner.into(),
            other => other,
        };
        let (code, field) = match &e {
            SocialError::Account(_) => return HttpError::internal(&e),
            SocialError::User(crate::users::UserError::IdentityInUse(_)) => {
                (ErrorCode::IdentityInUse, None)
            }
            SocialError::UnknownProvider => (ErrorCode::NotFound, Some("provider")),
            SocialError::InvalidField(f) => (ErrorCode::InvalidField, Some(*f)),
            SocialError::FlowInvalid | SocialError::Denied | SocialError::Provider(_) => {
                (ErrorCode::SocialFailed, None)
            }
            SocialError::CodeInvalid => (ErrorCode::CodeInvalid, Some("code")),
            SocialError::NoAccount => (ErrorCode::InvalidCredentials, None),
            SocialError::RateLimited { retry_after_ms } => {
                let mut api = ApiError::new(ErrorCode::RateLimited, e.to_string());
                api.retry_after_ms = Some(u64::try_from(*retry_after_ms).unwrap_or(0));
                return HttpError(api);
            }
            SocialError::Random
            | SocialError::AppleKey(_)
            | SocialError::User(_)
            | SocialError::Vault(_)
            | SocialError::Store(_) => return HttpError::internal(&e),
        };
        let mut api = ApiError::new(code, e.to_string());
        api.field = field.map(str::to_owned);
        HttpError(api)
    }
}

fn start_request(req: &SocialStartRequest) -> StartRequest<'_> {
    StartRequest {
        provider: &req.provider,
        redirect_uri: &req.redirect_uri,
        code_challenge: &req.code_challenge,
        state: &req.state,
    }
}

fn started(s: Started) -> Json<SocialStartResponse> {
    Json(SocialStartResponse {
        authorization_url: s.authorization_url,
        expires_at: s.expires_at,
    })
}

/// Starts a social sign-in: answers the provider's authorization URL to open in a browser.
#[utoipa::path(post, path = "/v1/auth/social/start", tag = "auth",
    request_body = SocialStartRequest,
    responses((status = 200, body = SocialStartResponse),
        (status = 400, body = ApiError, description = "`invalid_field` (`redirect_uri` not loopback nor listed, `code_challenge`, `state`), or a malformed body"),
        (status = 404, body = ApiError, description = "`not_found`: no such provider is enabled"),
        (status = 413, body = ApiError),
        (status = 429, body = ApiError, description = "too many starts from this client")))]
pub async fn social_start(
    State(state): State<AppState>,
    client: ClientAddr,
    ApiJson(req): ApiJson<SocialStartRequest>,
) -> Result<Json<SocialStartResponse>, HttpError> {
    let s = state
        .social
        .start_login(start_request(&req), &client.throttle_key())
        .await?;
    Ok(started(s))
}

/// What a provider sends back (other parameters are ignored).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    /// The provider's authorization code.
    pub code: Option<String>,
    /// The state the server sent to the provider.
    pub state: Option<String>,
    /// Set when the user declined or the provider refused.
    pub error: Option<String>,
}

async fn callback(state: &AppState, p: &CallbackParams) -> Result<Response, HttpError> {
    let to = state
        .social
        .callback(p.state.as_deref(), p.code.as_deref(), p.error.as_deref())
        .await?;
    let location =
        HeaderValue::from_str(&to).map_err(|_| HttpError::internal(&"redirect not a header"))?;
    let mut headers = HeaderMap::new();
    headers.insert(LOCATION, location);
    // The URL carries a one-time code: no caching, and no Referer to the next page.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Ok((StatusCode::SEE_OTHER, headers).into_response())
}

/// The provider's redirect back (register this URL at the provider as `social.callback_url`).
/// Sends the browser on to the client's redirect URI with `code` and `state`, or `error`
/// (`access_denied`, `social_failed`, `server_error`) and `state`.
#[utoipa::path(get, path = "/v1/auth/social/callback", tag = "auth",
    params(CallbackParams),
    responses((status = 303, description = "to the client's redirect URI"),
        (status = 400, body = ApiError, description = "`social_failed`: unknown, used or expired state")))]
pub async fn callback_get(
    State(state): State<AppState>,
    query: Result<Query<CallbackParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, HttpError> {
    let Ok(Query(p)) = query else {
        return Err(HttpError::new(
            ErrorCode::SocialFailed,
            "the callback query is not readable",
        ));
    };
    callback(&state, &p).await
}

/// The same callback for `response_mode=form_post` (Apple).
#[utoipa::path(post, path = "/v1/auth/social/callback", tag = "auth",
    request_body(content = CallbackParams, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "to the client's redirect URI"),
        (status = 400, body = ApiError, description = "`social_failed`: unknown, used or expired state"),
        (status = 413, body = ApiError)))]
pub async fn callback_post(
    State(state): State<AppState>,
    form: Result<Form<CallbackParams>, axum::extract::rejection::FormRejection>,
) -> Result<Response, HttpError> {
    let Ok(Form(p)) = form else {
        return Err(HttpError::new(
            ErrorCode::SocialFailed,
            "the callback body is not a form",
        ));
    };
    callback(&state, &p).await
}

/// Exchanges the one-time code of a social sign-in (with the PKCE verifier) for a session. A
/// second factor may follow.
#[utoipa::path(post, path = "/v1/auth/social/finish", tag = "auth",
    request_body = SocialFinishRequest,
    responses((status = 200, body = LoginResponse),
        (status = 400, body = ApiError, description = "`code_invalid`: unknown, used or expired code, or a verifier that does not match"),
        (status = 401, body = ApiError, description = "`second_factor_required` with `login_ticket`, or `invalid_credentials` when no account has this identity and `social.create_accounts` is off"),
        (status = 413, body = ApiError), (status = 429, body = ApiError)))]
pub async fn social_finish(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SocialFinishRequest>,
) -> Result<Json<LoginResponse>, HttpError> {
    let key = client.throttle_key();
    let agent = user_agent(&headers);
    let login = state
        .social
        .finish_login(
            &req.code,
            &req.code_verifier,
            Client {
                key: &key,
                user_agent: agent.as_deref(),
            },
        )
        .await?;
    Ok(login_response(login))
}

/// Starts linking an account at a provider to this account (step-up).
#[utoipa::path(post, path = "/v1/account/social/start", tag = "account", security(("bearer" = [])),
    request_body = SocialStartRequest,
    responses((status = 200, body = SocialStartResponse),
        (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError, description = "`step_up_required`"),
        (status = 404, body = ApiError, description = "`not_found`: no such provider is enabled"),
        (status = 413, body = ApiError), (status = 429, body = ApiError)))]
pub async fn link_social_start(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(req): ApiJson<SocialStartRequest>,
) -> Result<Json<SocialStartResponse>, HttpError> {
    let s = state
        .social
        .start_link(&principal, start_request(&req))
        .await?;
    Ok(started(s))
}

/// Links the identity the provider vouched for. `identity_in_use` if another account has it.
#[utoipa::path(post, path = "/v1/account/social/finish", tag = "account", security(("bearer" = [])),
    request_body = SocialFinishRequest,
    responses((status = 200, body = IdentityInfo),
        (status = 400, body = ApiError, description = "`code_invalid`"),
        (status = 401, body = ApiError),
        (status = 403, body = ApiError, description = "`step_up_required`"),
        (status = 409, body = ApiError, description = "`identity_in_use`: another account signs in with it"),
        (status = 413, body = ApiError), (status = 429, body = ApiError)))]
pub async fn link_social_finish(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(req): ApiJson<SocialFinishRequest>,
) -> Result<Json<IdentityInfo>, HttpError> {
    let identity = state
        .social
        .finish_link(&principal, &req.code, &req.code_verifier)
        .await?;
    Ok(Json(identity_info(identity)))
}
