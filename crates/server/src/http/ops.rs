//! Operational endpoints: liveness, readiness and Prometheus metrics.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
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

/// What `/readyz` found.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready`, `draining` (SIGTERM received), or `unavailable`.
    pub status: String,
    /// `ok` or `unreachable`.
    pub database: String,
    /// The active KEK (in the HSM where one is configured): `ok` or `unavailable`.
    pub vault: String,
    /// How login codes leave: `smtp`, or `outbox` (development).
    pub mail: String,
}

/// The process is up and its runtime answers (restart it if not). Checks nothing else.
#[utoipa::path(get, path = "/livez", tag = "ops", responses((status = 200, description = "alive")))]
pub async fn livez() -> &'static str {
    "ok\n"
}

/// Whether this instance should get traffic: not shutting down, database reachable, key
/// store usable, mail configured. Fails from the moment SIGTERM arrives.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, body = Readiness, description = "ready"),
        (status = 503, body = Readiness, description = "draining, database unreachable, or key store unavailable")))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let mut status = "ready";
    let database = match sqlx::query("SELECT 1").execute(state.store.pool()).await {
        Ok(_) => "ok",
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            status = "unavailable";
            "unreachable"
        }
    };
    let vault = match state.wallets.probe_vault().await {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(error = %e, "readiness: key store unavailable");
            status = "unavailable";
            "unavailable"
        }
    };
    // Checked last so that a draining instance still reports what it found.
    if state.lifecycle.is_draining() {
        status = "draining";
    }
    let code = if status == "ready" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let report = Readiness {
        status: status.to_owned(),
        database: database.to_owned(),
        vault: vault.to_owned(),
        mail: state.mail.to_owned(),
    };
    (code, axum::Json(report)).into_response()
}

/// The older name of `/readyz`, kept for existing health checks.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, body = Readiness, description = "ready"),
        (status = 503, body = Readiness, description = "as `/readyz`")))]
pub async fn healthz(state: State<AppState>) -> Response {
    readyz(state).await
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
    crate::telemetry::pool_gauges(state.store.pool());
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
