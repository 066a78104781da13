//! The thin HTTP layer: parse, call one service, map errors. No SQL and no business rules
//! here.

mod auth;
mod authn;
mod error;
mod json;
mod ops;
mod session;
mod wallets;
mod ws;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderValue;
use axum::http::header::{AUTHORIZATION, STRICT_TRANSPORT_SECURITY};
use axum::routing::get;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

pub use error::HttpError;

/// Sent on every response when the server terminates TLS itself.
const HSTS: &str = "max-age=31536000; includeSubDomains";

use crate::app::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Tandem", description = "Self-hostable 2-of-2 MPC embedded wallets"),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Login"),
        (name = "sessions", description = "Bearer sessions"),
        (name = "wallets", description = "Wallets"),
        (name = "ceremonies", description = "Keygen, signing and refresh over a WebSocket"),
        (name = "ops", description = "Health and metrics"),
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

/// The whole application router, with `/openapi.json` and the docs page at `/docs`.
pub fn router(state: AppState, tls: bool) -> Router {
    let max_body = state.limits.max_body_bytes;
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
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
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::server_key))
        .with_state(state)
        .split_for_parts();
    let openapi_json = openapi.clone();
    api.merge(SwaggerUi::new("/docs").url("/openapi.json", openapi_json))
        .route(
            "/",
            get(|| async { "Tandem server. API docs at /docs, spec at /openapi.json\n" }),
        )
        .fallback(|| async { HttpError::new(tandem_proto::ErrorCode::NotFound, "no such route") })
        // Enforced where bodies are read (`ApiJson`), which answers with a JSON 413.
        .layer(DefaultBodyLimit::max(max_body))
        .layer(TraceLayer::new_for_http())
        .layer(SetResponseHeaderLayer::if_not_present(
            STRICT_TRANSPORT_SECURITY,
            move |_: &axum::response::Response| tls.then(|| HeaderValue::from_static(HSTS)),
        ))
        .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION]))
}
