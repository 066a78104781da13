//! The account module's routes: password and PIN login, second factor, step-up, and the
//! account's methods. Each handler parses, makes one call, and maps the error.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use tandem_proto::account::{
    AccountInfo, IdentityInfo, LinkEmailVerifyRequest, MethodUse as WireMethodUse,
    PasswordLoginRequest, PinLoginRequest, RecoveryCodes, SecondFactorRequest, SetPasswordRequest,
    SetPinRequest, StepUpRequest, StepUpResponse, TotpConfirmRequest, TotpEnrolment,
};
use tandem_proto::auth::{EmailStartRequest, EmailStartResponse, LoginResponse, UserInfo};
use tandem_proto::{ApiError, ErrorCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

use super::{AccountError, Client, Login};
use crate::app::AppState;
use crate::credentials::{CredentialError, CredentialKind};
use crate::http::{ApiJson, ClientAddr, HttpError, session_info, user_agent};
use crate::principal::{MethodUse, Principal};
use crate::users::{Identity, UserError};

/// The routes of this module, merged into the API by `http::router`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(password_login))
        .routes(routes!(pin_login))
        .routes(routes!(second_factor))
        .routes(routes!(step_up))
        .routes(routes!(account))
        .routes(routes!(set_password, remove_password))
        .routes(routes!(set_pin, remove_pin))
        .routes(routes!(totp_begin, remove_totp))
        .routes(routes!(totp_confirm))
        .routes(routes!(link_email_start))
        .routes(routes!(link_email_verify))
        .routes(routes!(unlink_identity))
}

impl From<AccountError> for HttpError {
    fn from(e: AccountError) -> Self {
        let e = match e {
            AccountError::Auth(inner) => return inner.into(),
            AccountError::Session(inner) => return inner.into(),
            other => other,
        };
        let code = match &e {
            AccountError::SecondFactorRequired { ticket, methods } => {
                let mut api = ApiError::new(ErrorCode::SecondFactorRequired, e.to_string());
                api.methods = Some(methods.iter().map(|m| (*m).to_owned()).collect());
                api.login_ticket = Some(ticket.clone());
                return HttpError(api);
            }
            AccountError::StepUpRequired { methods } => {
                let mut api = ApiError::new(ErrorCode::StepUpRequired, e.to_string());
                api.methods = Some(methods.iter().map(|m| (*m).to_owned()).collect());
                return HttpError(api);
            }
            AccountError::Credential(c) => match c {
                CredentialError::Weak(_) => ErrorCode::InvalidField,
                CredentialError::Invalid | CredentialError::Replayed => {
                    ErrorCode::InvalidCredentials
                }
                // The caller's own account (removal, enrolment, step-up): nothing to hide.
                CredentialError::NotSet => ErrorCode::NotFound,
                CredentialError::Locked => ErrorCode::CredentialLocked,
                CredentialError::RateLimited { retry_after_ms } => {
                    let mut api = ApiError::new(ErrorCode::RateLimited, e.to_string());
                    api.retry_after_ms = Some(u64::try_from(*retry_after_ms).unwrap_or(0));
                    return HttpError(api);
                }
                CredentialError::Hash
                | CredentialError::Random
                | CredentialError::Store(_)
                | CredentialError::Vault(_) => return HttpError::internal(&e),
            },
            AccountError::User(UserError::IdentityInUse(_)) => ErrorCode::IdentityInUse,
            AccountError::User(UserError::NotFound) => ErrorCode::NotFound,
            AccountError::TicketInvalid => ErrorCode::InvalidCredentials,
            AccountError::WrongSecondFactor => ErrorCode::InvalidField,
            AccountError::LastMethod => ErrorCode::LastMethod,
            AccountError::Auth(_)
            | AccountError::Session(_)
            | AccountError::User(_)
            | AccountError::Store(_) => return HttpError::internal(&e),
        };
        let mut api = ApiError::new(code, e.to_string());
        if let AccountError::Credential(CredentialError::Weak(_)) = &e {
            api.field = Some("secret".into());
        }
        if let AccountError::WrongSecondFactor = &e {
            api.field = Some("proof".into());
        }
        HttpError(api)
    }
}

pub(crate) fn login_response(login: Login) -> Json<LoginResponse> {
    Json(LoginResponse {
        token: login.session.token.expose().to_owned(),
        session: session_info(&login.session.record, true),
        user: UserInfo {
            id: login.user_id,
            email: login.email,
        },
    })
}

fn wire_methods(methods: &[MethodUse]) -> Vec<WireMethodUse> {
    methods
        .iter()
        .map(|m| WireMethodUse {
            method: m.method.clone(),
            at: m.at,
        })
        .collect()
}

pub(crate) fn identity_info(i: Identity) -> IdentityInfo {
    IdentityInfo {
        id: i.id,
        kind: i.kind.as_str().to_owned(),
        subject: i.subject,
        created_at: i.created_at,
        last_used_at: i.last_used_at,
    }
}

/// Signs in with an address and the account's password. A second factor may follow.
#[utoipa::path(post, path = "/v1/auth/password/login", tag = "auth",
    request_body = PasswordLoginRequest,
    responses((status = 200, body = LoginResponse),
        (status = 401, body = ApiError, description = "`invalid_credentials` (wrong password, or no such account: not distinguished), or `second_factor_required` with `login_ticket` and `methods`"),
        (status = 400, body = ApiError), (status = 413, body = ApiError), (status = 429, body = ApiError)))]
pub async fn password_login(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    ApiJson(req): ApiJson<PasswordLoginRequest>,
) -> Result<Json<LoginResponse>, HttpError> {
    login_secret(
        &state,
        &client,
        &headers,
        CredentialKind::Password,
        &req.email,
        req.password,
    )
    .await
}

/// Signs in with an address and the account's PIN. A second factor may follow.
#[utoipa::path(post, path = "/v1/auth/pin/login", tag = "auth",
    request_body = PinLoginRequest,
    responses((status = 200, body = LoginResponse),
        (status = 401, body = ApiError, description = "`invalid_credentials` or `second_factor_required`"),
        (status = 403, body = ApiError, description = "`credential_locked`: too many wrong PINs; sign in another way to unlock"),
        (status = 400, body = ApiError), (status = 413, body = ApiError), (status = 429, body = ApiError)))]
pub async fn pin_login(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    ApiJson(req): ApiJson<PinLoginRequest>,
) -> Result<Json<LoginResponse>, HttpError> {
    login_secret(
        &state,
        &client,
        &headers,
        CredentialKind::Pin,
        &req.email,
        req.pin,
    )
    .await
}

async fn login_secret(
    state: &AppState,
    client: &ClientAddr,
    headers: &HeaderMap,
    kind: CredentialKind,
    email: &str,
    secret: String,
) -> Result<Json<LoginResponse>, HttpError> {
    let key = client.throttle_key();
    let agent = user_agent(headers);
    let login = state
        .accounts
        .login_secret(
            kind,
            email,
            Zeroizing::new(secret),
            Client {
                key: &key,
                user_agent: agent.as_deref(),
            },
        )
        .await?;
    Ok(login_response(login))
}

/// Finishes a login with a TOTP code or a recovery code.
#[utoipa::path(post, path = "/v1/auth/second-factor", tag = "auth",
    request_body = SecondFactorRequest,
    responses((status = 200, body = LoginResponse),
        (status = 401, body = ApiError, description = "`invalid_credentials`: wrong code, or a ticket that is unknown, used, expired or out of tries"),
        (status = 403, body = ApiError, description = "`credential_locked`: 100 wrong TOTP codes in a row; use a recovery code"),
        (status = 404, body = ApiError, description = "the account no longer has TOTP"),
        (status = 400, body = ApiError), (status = 413, body = ApiError), (status = 429, body = ApiError)))]
pub async fn second_factor(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SecondFactorRequest>,
) -> Result<Json<LoginResponse>, HttpError> {
    let key = client.throttle_key();
    let agent = user_agent(&headers);
    let login = state
        .accounts
        .second_factor(
            &req.login_ticket,
            &req.proof,
            Client {
                key: &key,
                user_agent: agent.as_deref(),
            },
        )
        .await?;
    Ok(login_response(login))
}

/// Proves a method again for this session (no new session): sensitive operations need one
/// within `accounts.step_up_minutes`.
#[utoipa::path(post, path = "/v1/auth/step-up", tag = "auth", security(("bearer" = [])),
    request_body = StepUpRequest,
    responses((status = 200, body = StepUpResponse),
        (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError, description = "the account has no such method"),
        (status = 400, body = ApiError), (status = 413, body = ApiError), (status = 429, body = ApiError)))]
pub async fn step_up(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(proof): ApiJson<StepUpRequest>,
) -> Result<Json<StepUpResponse>, HttpError> {
    let methods = state.accounts.step_up(&principal, &proof).await?;
    Ok(Json(StepUpResponse {
        methods: wire_methods(&methods),
    }))
}

/// The account: identities, credentials, and what this session has proven.
#[utoipa::path(get, path = "/v1/account", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = AccountInfo), (status = 401, body = ApiError)))]
pub async fn account(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<AccountInfo>, HttpError> {
    let view = state.accounts.view(&principal).await?;
    Ok(Json(AccountInfo {
        user_id: view.user_id,
        identities: view.identities.into_iter().map(identity_info).collect(),
        password: view.credentials.password,
        pin: view.credentials.pin,
        pin_locked: view.credentials.pin_locked,
        totp: view.credentials.totp,
        recovery_codes_left: view.credentials.recovery_codes_left,
        session_methods: wire_methods(&view.session_methods),
        step_up_window_secs: u64::try_from(state.accounts.settings().step_up_ms / 1000)
            .unwrap_or(0),
    }))
}

/// Sets or replaces the password (step-up).
#[utoipa::path(put, path = "/v1/account/password", tag = "account", security(("bearer" = [])),
    request_body = SetPasswordRequest,
    responses((status = 204), (status = 400, body = ApiError, description = "`invalid_field`: too short, too long, or a common password"),
        (status = 401, body = ApiError), (status = 403, body = ApiError, description = "`step_up_required`"),
        (status = 413, body = ApiError)))]
pub async fn set_password(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(req): ApiJson<SetPasswordRequest>,
) -> Result<StatusCode, HttpError> {
    state
        .accounts
        .set_secret(
            &principal,
            CredentialKind::Password,
            Zeroizing::new(req.password),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the password (step-up).
#[utoipa::path(delete, path = "/v1/account/password", tag = "account", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError, description = "no password is set")))]
pub async fn remove_password(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<StatusCode, HttpError> {
    state
        .accounts
        .remove_credential(&principal, CredentialKind::Password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets or replaces the PIN (step-up).
#[utoipa::path(put, path = "/v1/account/pin", tag = "account", security(("bearer" = [])),
    request_body = SetPinRequest,
    responses((status = 204), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 413, body = ApiError)))]
pub async fn set_pin(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(req): ApiJson<SetPinRequest>,
) -> Result<StatusCode, HttpError> {
    state
        .accounts
        .set_secret(&principal, CredentialKind::Pin, Zeroizing::new(req.pin))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the PIN (step-up).
#[utoipa::path(delete, path = "/v1/account/pin", tag = "account", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError, description = "no PIN is set")))]
pub async fn remove_pin(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<StatusCode, HttpError> {
    state
        .accounts
        .remove_credential(&principal, CredentialKind::Pin)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts a TOTP enrolment (step-up). The key is not used until confirmed.
#[utoipa::path(post, path = "/v1/account/totp", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = TotpEnrolment), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn totp_begin(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<TotpEnrolment>, HttpError> {
    let e = state.accounts.totp_begin(&principal).await?;
    Ok(Json(TotpEnrolment {
        secret: e.secret.to_string(),
        otpauth_uri: e.uri.to_string(),
    }))
}

/// Removes TOTP and its recovery codes (step-up).
#[utoipa::path(delete, path = "/v1/account/totp", tag = "account", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError, description = "no authenticator app is set up")))]
pub async fn remove_totp(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<StatusCode, HttpError> {
    state
        .accounts
        .remove_credential(&principal, CredentialKind::Totp)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Confirms the enrolment with a first code; answers the recovery codes, shown once.
#[utoipa::path(post, path = "/v1/account/totp/confirm", tag = "account", security(("bearer" = [])),
    request_body = TotpConfirmRequest,
    responses((status = 200, body = RecoveryCodes),
        (status = 401, body = ApiError, description = "`invalid_credentials`: wrong code"),
        (status = 404, body = ApiError, description = "no enrolment was started"),
        (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 413, body = ApiError),
        (status = 429, body = ApiError)))]
pub async fn totp_confirm(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(req): ApiJson<TotpConfirmRequest>,
) -> Result<Json<RecoveryCodes>, HttpError> {
    let codes = state.accounts.totp_confirm(&principal, &req.code).await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes.iter().map(|c| c.to_string()).collect(),
    }))
}

/// Sends a code to an address to link it to this account (step-up).
#[utoipa::path(post, path = "/v1/account/email/start", tag = "account", security(("bearer" = [])),
    request_body = EmailStartRequest,
    responses((status = 200, body = EmailStartResponse), (status = 400, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 413, body = ApiError),
        (status = 429, body = ApiError), (status = 502, body = ApiError, description = "the code could not be sent (`delivery_failed`)")))]
pub async fn link_email_start(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(req): ApiJson<EmailStartRequest>,
) -> Result<Json<EmailStartResponse>, HttpError> {
    let started = state
        .accounts
        .link_email_start(&principal, &req.email)
        .await?;
    Ok(Json(EmailStartResponse {
        attempt_id: started.attempt_id,
        expires_at: started.expires_at,
    }))
}

/// Links the address the code was sent to. `identity_in_use` if another account has it.
#[utoipa::path(post, path = "/v1/account/email/verify", tag = "account", security(("bearer" = [])),
    request_body = LinkEmailVerifyRequest,
    responses((status = 200, body = IdentityInfo), (status = 400, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 413, body = ApiError),
        (status = 429, body = ApiError),
        (status = 409, body = ApiError, description = "`identity_in_use`: the address belongs to another account")))]
pub async fn link_email_verify(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(req): ApiJson<LinkEmailVerifyRequest>,
) -> Result<Json<IdentityInfo>, HttpError> {
    let identity = state
        .accounts
        .link_email_verify(&principal, &req.attempt_id, &req.code)
        .await?;
    Ok(Json(identity_info(identity)))
}

/// Removes an identity (step-up). `last_method` if it is the last way to sign in.
#[utoipa::path(delete, path = "/v1/account/identities/{id}", tag = "account", security(("bearer" = [])),
    params(("id" = String, Path, description = "The identity's id (from `GET /v1/account`)")),
    responses((status = 204), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError, description = "`last_method`")))]
pub async fn unlink_identity(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, HttpError> {
    state.accounts.unlink(&principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
