//! The recovery module's routes: the recovery key, Backup Kits and export. Each handler
//! parses, makes one call, and maps the error.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use base64::Engine as _;
use tandem_proto::recovery::{
    BackupKitResponse, EscrowInfo, EscrowRequest, ExportRequest, ExportResponse, RecoveryCompleted,
    RecoveryKeyRequest, RecoveryProof, RecoveryRequestInfo, RecoveryStatus, SealedEscrow,
};
use tandem_proto::{ApiError, ErrorCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{RecoveryError, RecoveryKey};
use crate::account::Client;
use crate::account::http::login_response;
use crate::app::AppState;
use crate::http::{ApiJson, ClientAddr, HttpError, user_agent};
use crate::principal::Principal;

/// The routes of this module, merged into the API by `http::router`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status, set_key))
        .routes(routes!(backup_kit))
        .routes(routes!(export))
        .routes(routes!(put_escrow))
        .routes(routes!(start_request))
        .routes(routes!(current_request))
        .routes(routes!(cancel_request))
        .routes(routes!(complete_request))
}

impl From<RecoveryError> for HttpError {
    fn from(e: RecoveryError) -> Self {
        let code = match e {
            RecoveryError::Account(inner) => return inner.into(),
            RecoveryError::Wallet(inner) => return inner.into(),
            RecoveryError::NotSetUp => ErrorCode::RecoveryNotSetUp,
            RecoveryError::Invalid { field, .. } => {
                let mut api = ApiError::new(ErrorCode::InvalidField, e.to_string());
                api.field = Some(field.to_owned());
                return HttpError(api);
            }
            RecoveryError::RateLimited { retry_after_ms, .. } => {
                let mut api = ApiError::new(ErrorCode::RateLimited, e.to_string());
                api.retry_after_ms = Some(u64::try_from(retry_after_ms).unwrap_or(0));
                return HttpError(api);
            }
            RecoveryError::WrongSecret => ErrorCode::InvalidCredentials,
            RecoveryError::AlreadyPending => ErrorCode::RecoveryPending,
            RecoveryError::NoPending => ErrorCode::NotFound,
            RecoveryError::TooEarly { not_before } => {
                let mut api = ApiError::new(ErrorCode::RecoveryNotYet, e.to_string());
                api.retry_after_ms = Some(u64::try_from(not_before).unwrap_or(0));
                return HttpError(api);
            }
            RecoveryError::Seal(_) | RecoveryError::Store(_) => return HttpError::internal(&e),
        };
        HttpError(ApiError::new(code, e.to_string()))
    }
}

fn status_of(key: Option<RecoveryKey>, escrows: Vec<EscrowInfo>) -> RecoveryStatus {
    match key {
        Some(k) => RecoveryStatus {
            configured: true,
            key_id: Some(k.key_id()),
            version: Some(k.version),
            updated_at: Some(k.updated_at),
            public_key: Some(hex::encode(k.public_key)),
            escrows,
        },
        None => RecoveryStatus {
            configured: false,
            key_id: None,
            version: None,
            updated_at: None,
            public_key: None,
            escrows,
        },
    }
}

async fn escrow_infos(state: &AppState, user_id: &str) -> Result<Vec<EscrowInfo>, HttpError> {
    Ok(state
        .recovery
        .escrow_epochs(user_id)
        .await?
        .into_iter()
        .map(|(wallet_id, epoch, key_version)| EscrowInfo {
            wallet_id,
            epoch,
            key_version,
        })
        .collect())
}

fn hex32(field: &'static str, value: &str) -> Result<[u8; 32], HttpError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(value, &mut out).map_err(|_| {
        let mut api = ApiError::new(ErrorCode::InvalidHex, format!("{field}: 32 bytes of hex"));
        api.field = Some(field.to_owned());
        HttpError(api)
    })?;
    Ok(out)
}

/// Whether a recovery secret is set up, and which.
#[utoipa::path(get, path = "/v1/recovery", tag = "recovery", security(("bearer" = [])),
    responses((status = 200, body = RecoveryStatus), (status = 401, body = ApiError)))]
pub async fn status(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<RecoveryStatus>, HttpError> {
    let key = state.recovery.key(&principal.user_id).await?;
    let escrows = escrow_infos(&state, &principal.user_id).await?;
    Ok(Json(status_of(key, escrows)))
}

/// Sets up the recovery secret, or replaces it (step-up). Only what the device derived from
/// it publicly is sent.
#[utoipa::path(put, path = "/v1/recovery", tag = "recovery", security(("bearer" = [])),
    request_body = RecoveryKeyRequest,
    responses((status = 200, body = RecoveryStatus),
        (status = 400, body = ApiError, description = "`invalid_hex` or `invalid_field`"),
        (status = 401, body = ApiError), (status = 403, body = ApiError, description = "`step_up_required`"),
        (status = 413, body = ApiError)))]
pub async fn set_key(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(req): ApiJson<RecoveryKeyRequest>,
) -> Result<Json<RecoveryStatus>, HttpError> {
    let public_key = hex32("public_key", &req.public_key)?;
    let verifier_hash = hex32("verifier_hash", &req.verifier_hash)?;
    let key = state
        .recovery
        .set_key(&principal, public_key, verifier_hash)
        .await?;
    let escrows = escrow_infos(&state, &principal.user_id).await?;
    Ok(Json(status_of(Some(key), escrows)))
}

/// The wallet's Backup Kit: its current server share sealed to the recovery key (step-up,
/// plus TOTP when the account has it; a few per day; every channel is told).
#[utoipa::path(post, path = "/v1/wallets/{id}/backup-kit", tag = "recovery",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = BackupKitResponse),
        (status = 401, body = ApiError), (status = 403, body = ApiError, description = "`step_up_required` (with TOTP when enrolled)"),
        (status = 404, body = ApiError), (status = 409, body = ApiError, description = "`recovery_not_set_up` or `wallet_frozen`"),
        (status = 429, body = ApiError), (status = 503, body = ApiError)))]
pub async fn backup_kit(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<BackupKitResponse>, HttpError> {
    let kit = state.recovery.backup_kit(&principal, &id).await?;
    Ok(Json(BackupKitResponse {
        file_name: format!(
            "tandem-backup-kit-{}-epoch-{}.txt",
            kit.wallet_id, kit.epoch
        ),
        wallet_id: kit.wallet_id,
        epoch: kit.epoch,
        recovery_key_id: kit.recovery_key_id,
        kit: kit.text,
    }))
}

/// Releases the server's share sealed to a one-use key of this device, which combines the
/// whole private key (step-up, plus TOTP when enrolled; a few per day; every channel is told;
/// the wallet shows as exported from then on).
#[utoipa::path(post, path = "/v1/wallets/{id}/export", tag = "recovery",
    params(("id" = String, Path)), security(("bearer" = [])),
    request_body = ExportRequest,
    responses((status = 200, body = ExportResponse),
        (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError, description = "`step_up_required` (with TOTP when enrolled)"),
        (status = 404, body = ApiError), (status = 409, body = ApiError, description = "`wallet_frozen`"),
        (status = 413, body = ApiError), (status = 429, body = ApiError), (status = 503, body = ApiError)))]
pub async fn export(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ExportRequest>,
) -> Result<Json<ExportResponse>, HttpError> {
    let device_key = hex32("public_key", &req.public_key)?;
    let out = state.recovery.export(&principal, &id, device_key).await?;
    Ok(Json(ExportResponse {
        wallet_id: out.wallet_id,
        epoch: out.epoch,
        sealed_share: base64::engine::general_purpose::STANDARD.encode(&out.sealed),
    }))
}

fn request_info(r: super::requests::RecoveryRequest) -> RecoveryRequestInfo {
    RecoveryRequestInfo {
        id: r.id,
        state: r.state,
        created_at: r.created_at,
        not_before: r.not_before,
        closed_at: r.closed_at,
    }
}

/// Stores this device's share of the wallet at its current epoch, sealed to the recovery key
/// (the server cannot open it); it replaces the escrow of an earlier epoch.
#[utoipa::path(put, path = "/v1/wallets/{id}/escrow", tag = "recovery",
    params(("id" = String, Path)), security(("bearer" = [])),
    request_body = EscrowRequest,
    responses((status = 200, body = EscrowInfo),
        (status = 400, body = ApiError, description = "`invalid_base64` or `invalid_field`: not an escrow of this wallet at its epoch, or sealed to another recovery key"),
        (status = 401, body = ApiError), (status = 404, body = ApiError),
        (status = 409, body = ApiError, description = "`recovery_not_set_up`"), (status = 413, body = ApiError)))]
pub async fn put_escrow(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<EscrowRequest>,
) -> Result<Json<EscrowInfo>, HttpError> {
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(req.sealed.as_bytes())
        .map_err(|_| {
            let mut api = ApiError::new(ErrorCode::InvalidBase64, "sealed: not base64");
            api.field = Some("sealed".into());
            HttpError(api)
        })?;
    let (epoch, key_version) = state.recovery.put_escrow(&principal, &id, &sealed).await?;
    Ok(Json(EscrowInfo {
        wallet_id: id,
        epoch,
        key_version,
    }))
}

/// Opens a recovery of the account on this device: a login method, the recovery secret's
/// verifier, and a TOTP code when the account has TOTP. It completes only after the delay
/// (`recovery.delay_hours`, 48); every channel of the account is told at once.
#[utoipa::path(post, path = "/v1/recovery/requests", tag = "recovery", security(("bearer" = [])),
    request_body = RecoveryProof,
    responses((status = 200, body = RecoveryRequestInfo),
        (status = 400, body = ApiError), (status = 401, body = ApiError, description = "`invalid_credentials`: not the recovery secret"),
        (status = 403, body = ApiError, description = "`step_up_required` (TOTP when enrolled)"),
        (status = 409, body = ApiError, description = "`recovery_pending` (one is open already; the account is told) or `recovery_not_set_up`"),
        (status = 413, body = ApiError), (status = 429, body = ApiError)))]
pub async fn start_request(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(req): ApiJson<RecoveryProof>,
) -> Result<Json<RecoveryRequestInfo>, HttpError> {
    let verifier = hex32("verifier", &req.verifier)?;
    let request = state.recovery.start(&principal, &verifier).await?;
    Ok(Json(request_info(request)))
}

/// The account's newest recovery request.
#[utoipa::path(get, path = "/v1/recovery/requests/current", tag = "recovery", security(("bearer" = [])),
    responses((status = 200, body = RecoveryRequestInfo), (status = 401, body = ApiError),
        (status = 404, body = ApiError, description = "`not_found`: none ever")))]
pub async fn current_request(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<RecoveryRequestInfo>, HttpError> {
    match state.recovery.current_request(&principal.user_id).await? {
        Some(r) => Ok(Json(request_info(r))),
        None => Err(HttpError(ApiError::new(
            ErrorCode::NotFound,
            "no recovery was ever started on this account",
        ))),
    }
}

/// Cancels the account's pending recovery (any session of the account).
#[utoipa::path(post, path = "/v1/recovery/requests/cancel", tag = "recovery", security(("bearer" = [])),
    responses((status = 200, body = RecoveryRequestInfo), (status = 401, body = ApiError),
        (status = 404, body = ApiError, description = "`not_found`: nothing pending")))]
pub async fn cancel_request(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<RecoveryRequestInfo>, HttpError> {
    Ok(Json(request_info(state.recovery.cancel(&principal).await?)))
}

/// Completes the pending recovery once its delay has passed (exactly once): every wallet of
/// the account is frozen until this device's complete refresh, every session ends, this
/// device gets a new one and the escrowed shares.
#[utoipa::path(post, path = "/v1/recovery/requests/complete", tag = "recovery", security(("bearer" = [])),
    request_body = RecoveryProof,
    responses((status = 200, body = RecoveryCompleted),
        (status = 400, body = ApiError), (status = 401, body = ApiError, description = "`invalid_credentials`: not the recovery secret"),
        (status = 403, body = ApiError, description = "`step_up_required` (TOTP when enrolled)"),
        (status = 404, body = ApiError, description = "`not_found`: nothing pending"),
        (status = 409, body = ApiError, description = "`recovery_not_yet` with `retry_after_ms`, or `recovery_not_set_up`"),
        (status = 413, body = ApiError), (status = 429, body = ApiError)))]
pub async fn complete_request(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientAddr,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RecoveryProof>,
) -> Result<Json<RecoveryCompleted>, HttpError> {
    let verifier = hex32("verifier", &req.verifier)?;
    let key = client.throttle_key();
    let agent = user_agent(&headers);
    let done = state
        .recovery
        .complete(
            &principal,
            &verifier,
            Client {
                key: &key,
                user_agent: agent.as_deref(),
            },
        )
        .await?;
    let Json(login) = login_response(done.login);
    Ok(Json(RecoveryCompleted {
        request: request_info(done.request),
        login,
        escrows: done
            .escrows
            .into_iter()
            .map(|e| SealedEscrow {
                wallet_id: e.wallet_id,
                epoch: e.epoch,
                sealed: base64::engine::general_purpose::STANDARD.encode(&e.sealed),
            })
            .collect(),
    }))
}
