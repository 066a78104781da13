//! Operational endpoints: health and Prometheus metrics.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use crate::app::AppState;

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

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus metrics", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
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
