//! Wallet listing and payload preview. Creation, signing and refresh are ceremonies and run
//! over the ceremony socket (`ws.rs`).

use axum::Json;
use axum::extract::{Path, State};
use tandem_proto::ApiError;
use tandem_proto::prepare::prepare;
use tandem_proto::sign::{PreviewResponse, SignPayload};
use tandem_proto::wallet::{WalletInfo, WalletList};

use super::authn::Authed;
use super::error::HttpError;
use super::json::ApiJson;
use crate::app::AppState;

/// The user's wallets.
#[utoipa::path(get, path = "/v1/wallets", tag = "wallets",
    responses((status = 200, body = WalletList), (status = 401, body = ApiError)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    authed: Authed,
) -> Result<Json<WalletList>, HttpError> {
    let wallets = state.wallets.list(authed.user_id()).await?;
    Ok(Json(WalletList {
        wallets: wallets.iter().map(|w| w.info()).collect(),
    }))
}

/// One of the user's wallets.
#[utoipa::path(get, path = "/v1/wallets/{id}", tag = "wallets",
    params(("id" = String, Path)),
    responses((status = 200, body = WalletInfo), (status = 401, body = ApiError), (status = 404, body = ApiError)),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<WalletInfo>, HttpError> {
    Ok(Json(state.wallets.get(authed.user_id(), &id).await?.info()))
}

/// Parses a payload exactly as signing would and shows what would be signed.
#[utoipa::path(post, path = "/v1/wallets/{id}/preview", tag = "wallets",
    params(("id" = String, Path)),
    request_body = SignPayload,
    responses((status = 200, body = PreviewResponse), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 413, body = ApiError)),
    security(("bearer" = [])))]
pub async fn preview(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    ApiJson(payload): ApiJson<SignPayload>,
) -> Result<Json<PreviewResponse>, HttpError> {
    let wallet = state.wallets.get(authed.user_id(), &id).await?;
    let prepared = prepare(&payload, wallet.chain, &wallet.public_key)?;
    Ok(Json(PreviewResponse {
        signing_input: hex::encode(prepared.signing_input()),
        intent: prepared.intent(),
    }))
}
