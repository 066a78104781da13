//! One structured log line and two metrics per HTTP request, and the refusal of new work
//! while the instance drains.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tandem_proto::ErrorCode;

use super::error::HttpError;
use crate::lifecycle::Lifecycle;
use crate::telemetry::{HTTP_REQUESTS, HTTP_SECONDS};

/// Filled in by the session extractor, so the request line can name the user.
#[derive(Clone, Default)]
pub struct UserSlot(Arc<OnceLock<String>>);

impl UserSlot {
    pub fn set(&self, user_id: &str) {
        let _ = self.0.set(user_id.to_owned());
    }
}

/// Answered even while draining: the balancer and the scraper must keep seeing the instance.
const OPS_ROUTES: &[&str] = &["/livez", "/readyz", "/healthz", "/metrics"];

/// Logs `request` at INFO: request id, method, route template (never the raw path, which
/// can carry ids; never a header, so never a token), status, duration, user id when the
/// request was authenticated.
pub async fn log_request(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let user = UserSlot::default();
    req.extensions_mut().insert(user.clone());
    let mut response = json_error(next.run(req).await).await;
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    metrics::counter!(HTTP_REQUESTS, "method" => method.clone(), "route" => route.clone(),
        "status" => status.to_string())
    .increment(1);
    metrics::histogram!(HTTP_SECONDS, "method" => method.clone(), "route" => route.clone())
        .record(seconds);
    let duration_ms = (seconds * 1000.0).round() as u64;
    let user_id = user.0.get().map(String::as_str).unwrap_or("");
    // Health checks every few seconds would drown the log: successful ones at DEBUG.
    if status == 200 && OPS_ROUTES.contains(&route.as_str()) {
        tracing::debug!(target: "tandem::http", request_id = %id, method = %method,
            route = %route, status, duration_ms, user_id, "request");
    } else {
        tracing::info!(target: "tandem::http", request_id = %id, method = %method,
            route = %route, status, duration_ms, user_id, "request");
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

/// While draining, new work gets `503 unavailable` (retryable: another instance answers);
/// the connection is closed so that the client's next attempt goes through the balancer.
pub async fn refuse_when_draining(
    State(lifecycle): State<Lifecycle>,
    req: Request,
    next: Next,
) -> Response {
    if lifecycle.is_draining() && !OPS_ROUTES.contains(&req.uri().path()) {
        let mut response = HttpError::new(
            ErrorCode::Unavailable,
            "this instance is shutting down; retry (another instance will answer)",
        )
        .into_response();
        response
            .headers_mut()
            .insert("connection", HeaderValue::from_static("close"));
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
        return response;
    }
    next.run(req).await
}

/// Error answers that did not come from a handler (axum's extractor rejections, 405, the
/// 408 of the request timeout) as the usual JSON body with `code` and `retryable`, keeping
/// their status and their text as the message.
async fn json_error(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let (code, default) = match status.as_u16() {
        404 => (ErrorCode::NotFound, "no such route"),
        405 => (
            ErrorCode::InvalidRequest,
            "method not allowed on this route",
        ),
        408 => (
            ErrorCode::InvalidRequest,
            "the request was not completed in time (limits.request_timeout_secs)",
        ),
        413 => (ErrorCode::PayloadTooLarge, "request body too large"),
        503 => (ErrorCode::Unavailable, "temporarily unavailable; retry"),
        400..=499 => (ErrorCode::InvalidRequest, "invalid request"),
        _ => (ErrorCode::Internal, "internal error"),
    };
    let message = if text.is_empty() || code == ErrorCode::Internal {
        default.to_owned()
    } else {
        text.chars().take(300).collect()
    };
    let mut out = HttpError::new(code, message).into_response();
    *out.status_mut() = status;
    for (name, value) in &parts.headers {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    out
}

/// 16 random hex digits (not a secret; only has to be unique enough to grep for).
fn request_id() -> String {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}
