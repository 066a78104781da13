//! The recovery module's routes: the recovery key, Backup Kits and export. Each handler
//! parses, makes one call, and maps the error.

use axum::Json;
use axum::extract::{Path, State};
use base64::Engine as _;
use tandem_proto::recovery::{
    BackupKitResponse, ExportRequest, ExportResponse, RecoveryKeyRequest, RecoveryStatus,
};
use tandem_proto::{ApiError, ErrorCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{RecoveryError, RecoveryKey};
use crate::app::AppState;
use crate::http::{ApiJson, HttpError};
use crate::principal::Principal;

/// The routes of this module, merged into the API by `http::router`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status, set_key))
        .routes(routes!(backup_kit))
        .routes(routes!(export))
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
            RecoveryError::Seal(_) | RecoveryError::Store(_) => return HttpError::internal(&e),
        };
        HttpError(ApiError::new(code, e.to_string()))
    }
}

fn status_of(key: Option<RecoveryKey>) -> RecoveryStatus {
    match key {
        Some(k) => RecoveryStatus {
            configured: true,
            key_id: Some(k.key_id()),
            version: Some(k.version),
            updated_at: Some(k.updated_at),
        },
        None => RecoveryStatus {
            configured: false,
            key_id: None,
            version: None,
            updated_at: None,
        },
    }
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
    Ok(Json(status_of(
        state.recovery.key(&principal.user_id).await?,
    )))
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
    Ok(Json(status_of(Some(key))))
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
