//! The thin HTTP layer: parse, call one service, map errors. No SQL and no business rules
//! here.

mod auth;
mod authn;
mod client_addr;
mod error;
mod json;
mod observe;
mod ops;
mod session;
mod wallets;
mod ws;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::routing::get;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::{RequestBodyDeadlineLayer, TimeoutLayer};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

pub use authn::user_agent;
pub use client_addr::{ClientAddr, TrustedProxies};
pub use error::HttpError;
pub use json::ApiJson;
pub use observe::UserSlot;
pub use ops::MetricsAccess;
pub use session::session_info;

/// Sent on every response when the server terminates TLS itself.
const HSTS: &str = "max-age=31536000; includeSubDomains";

use crate::app::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Tandem", description = "Self-hostable 2-of-2 MPC embedded wallets"),
    modifiers(&BearerAuth, &StrictBodies),
    tags(
        (name = "auth", description = "Login"),
        (name = "sessions", description = "Bearer sessions"),
        (name = "account", description = "The account's sign-in methods"),
        (name = "wallets", description = "Wallets"),
        (name = "recovery", description = "Recovery secret, Backup Kits and export"),
        (name = "ceremonies", description = "Keygen, signing and refresh over a WebSocket"),
        (name = "ops", description = "Liveness, readiness and metrics"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every request body is read with unknown fields refused (`deny_unknown_fields`); utoipa
/// says so for plain structs but not for the variants of a tagged enum: the document must
/// tell what the server enforces (security bar I3).
struct StrictBodies;

impl utoipa::Modify for StrictBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{AdditionalProperties, Schema};
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for tagged in ["SignPayload", "Proof"] {
            if let Some(RefOr::T(Schema::OneOf(one_of))) = components.schemas.get_mut(tagged) {
                for item in &mut one_of.items {
                    if let RefOr::T(Schema::Object(variant)) = item {
                        variant.additional_properties =
                            Some(Box::new(AdditionalProperties::FreeForm(false)));
                    }
                }
            }
        }
    }
}

/// The whole application router, with `/openapi.json` and the docs page at `/docs`.
pub fn router(state: AppState, tls: bool) -> Router {
    let limits = state.limits;
    let metrics_on_api = state.metrics_access.on_api;
    let lifecycle = state.lifecycle.clone();
    let mut api = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::email_start))
        .routes(routes!(auth::email_verify))
        .routes(routes!(session::current))
        .routes(routes!(session::refresh))
        .routes(routes!(session::logout))
        .routes(routes!(session::list))
        .routes(routes!(session::revoke))
        .routes(routes!(wallets::list))
        .routes(routes!(wallets::show))
        .routes(routes!(wallets::preview))
        .routes(routes!(ws::ceremony))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::livez))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::server_key))
        .merge(crate::account::http::routes())
        .merge(crate::sms::http::routes())
        .merge(crate::recovery::http::routes())
        .merge(crate::social::http::routes());
    if metrics_on_api {
        api = api.routes(routes!(ops::metrics));
    }
    let (api, openapi) = api.with_state(state).split_for_parts();
    crate::telemetry::register(&route_list(&openapi));
    let openapi_json = openapi.clone();
    api.merge(SwaggerUi::new("/docs").url("/openapi.json", openapi_json))
        .route(
            "/",
            get(|| async { "Tandem server. API docs at /docs, spec at /openapi.json\n" }),
        )
        .fallback(|| async { HttpError::new(tandem_proto::ErrorCode::NotFound, "no such route") })
        // Enforced where bodies are read (`ApiJson`), which answers with a JSON 413.
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        // A body trickled in slowly fails the read (`ApiJson` answers 400); a request that
        // takes too long as a whole gets 408. A ceremony socket answers its upgrade at once
        // and is not bound by either afterwards.
        .layer(RequestBodyDeadlineLayer::new(limits.body_timeout))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            lifecycle,
            observe::refuse_when_draining,
        ))
        .layer(axum::middleware::from_fn(observe::log_request))
        .layer(SetResponseHeaderLayer::if_not_present(
            STRICT_TRANSPORT_SECURITY,
            move |_: &axum::response::Response| tls.then(|| HeaderValue::from_static(HSTS)),
        ))
        .layer(private_headers())
        .layer(no_sniff())
        .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION]))
}

/// The admin listener (`admin_listen`, or the older `metrics_listen`): liveness, readiness
/// and metrics, for the balancer and the scraper on a private network.
pub fn admin_router(state: AppState) -> Router {
    Router::new()
        .route("/livez", get(ops::livez))
        .route("/readyz", get(ops::readyz))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .fallback(|| async { HttpError::new(tandem_proto::ErrorCode::NotFound, "no such route") })
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(private_headers())
        .layer(no_sniff())
        .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION]))
}

/// Every (method, route template) of the API, for metrics registered before any request.
fn route_list(openapi: &utoipa::openapi::OpenApi) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in &openapi.paths.paths {
        let methods = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("DELETE", item.delete.is_some()),
            ("PATCH", item.patch.is_some()),
        ];
        for (method, present) in methods {
            if present {
                out.push((method.to_owned(), path.clone()));
            }
        }
    }
    out
}

/// Responses carry tokens, session lists and wallet data: no cache (browser, proxy) may keep
/// them. Overrides whatever a handler set.
fn private_headers() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(CACHE_CONTROL, HeaderValue::from_static("no-store"))
}

/// Stops browsers from reading a JSON error as HTML or script.
fn no_sniff() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"))
}
