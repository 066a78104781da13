//! Operational endpoints: health and Prometheus metrics.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use crate::app::AppState;

/// Liveness and database reachability.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "ok"), (status = 503, description = "database unreachable")))]
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match sqlx::query("SELECT 1").execute(state.store.pool()).await {
        Ok(_) => (axum::http::StatusCode::OK, "ok\n"),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "database unreachable\n",
            )
        }
    }
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
