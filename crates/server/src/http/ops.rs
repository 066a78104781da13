//! Operational endpoints: health and Prometheus metrics.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tandem_proto::ErrorCode;

use super::authn::bearer;
use super::error::HttpError;
use crate::app::AppState;

/// Who may read `/metrics` (it shows ceremony outcomes, cheating counts, load).
#[derive(Clone, Default)]
pub struct MetricsAccess {
    /// Served on the API listener too (else only on `metrics_listen`).
    pub on_api: bool,
    /// A bearer token every scrape must present.
    pub token: Option<Arc<SecretString>>,
}

impl MetricsAccess {
    fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.token else {
            return true;
        };
        let given = bearer(headers).unwrap_or("");
        // Hashed first, so the comparison takes the same time whatever the lengths.
        let a = Sha256::digest(given.as_bytes());
        let b = Sha256::digest(expected.expose_secret().as_bytes());
        bool::from(a.ct_eq(&b))
    }
}

/// Database reachability and the key store (the active KEK, in the HSM where one is
/// configured) usable.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "ok"),
        (status = 503, description = "database unreachable, or key store unavailable")))]
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let unavailable = axum::http::StatusCode::SERVICE_UNAVAILABLE;
    if let Err(e) = sqlx::query("SELECT 1").execute(state.store.pool()).await {
        tracing::warn!(error = %e, "health check: database unreachable");
        return (unavailable, "database unreachable\n");
    }
    if let Err(e) = state.wallets.probe_vault().await {
        tracing::warn!(error = %e, "health check: key store unavailable");
        return (unavailable, "key store unavailable\n");
    }
    (axum::http::StatusCode::OK, "ok\n")
}

/// Prometheus text exposition (only when `metrics_listen` is not set; with `metrics_token`
/// set, only for its bearer).
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus metrics", content_type = "text/plain"), (status = 401, body = tandem_proto::ApiError)),
    security((), ("bearer" = [])))]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !state.metrics_access.allows(&headers) {
        return HttpError::new(
            ErrorCode::Unauthorized,
            "metrics need the metrics bearer token",
        )
        .into_response();
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// The server's static key for the end-to-end ceremony channel (pin it on first login).
#[utoipa::path(get, path = "/v1/server-key", tag = "ceremonies",
    responses((status = 200, body = tandem_proto::channel::ServerKey)))]
pub async fn server_key(
    State(state): State<AppState>,
) -> axum::Json<tandem_proto::channel::ServerKey> {
    axum::Json(tandem_proto::channel::ServerKey {
        public_key: hex::encode(state.channel_key.public()),
        protocol: tandem_proto::channel::PATTERN.to_owned(),
    })
}
