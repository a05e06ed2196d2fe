//! tessera's HTTP front end.
//!
//! A request passes the middleware (trace span, timeout, internal-error logging), then one wire
//! dialect's adapter, which parses it into a core call and renders the answer or error in its own
//! shape. The binary and the tests build the same [`router`].

pub mod background;
pub mod connection;
pub mod dialects;
pub mod error;
pub mod form;
pub mod health;
pub mod hub;
pub mod limits;
pub mod manage;
pub mod oauth;
pub mod request_log;
pub mod serve;
pub mod state;
pub mod telemetry;
pub mod tls;
pub mod toolkit;
pub mod webhooks;
pub mod wellknown;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use http::StatusCode;
pub use state::{AppState, NodeConfig, StartError};
use std::time::Duration;
use tower_http::timeout::TimeoutLayer;

/// The router of a node.
pub fn router(state: AppState) -> Router {
    let (manage, openapi) = manage::router();
    let openapi = bytes::Bytes::from(openapi.to_pretty_json().unwrap_or_default());
    let manage = manage.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        manage::apply_before_ack,
    ));
    let mut r = Router::new()
        .merge(manage)
        .route(
            "/openapi.json",
            get(move || {
                let doc = openapi.clone();
                async move { ([(http::header::CONTENT_TYPE, "application/json")], doc) }
            }),
        )
        .route(
            "/oauth2/token",
            post(dialects::rfc6749::token).route_layer(axum::middleware::from_fn(|req, next| {
                telemetry::count_token_requests("rfc6749", req, next)
            })),
        )
        .route("/oauth2/jwks", get(wellknown::jwks))
        .route("/oauth2/introspect", post(oauth::introspect))
        .route("/oauth2/revoke", post(oauth::revoke))
        .route(
            "/.well-known/oauth-authorization-server",
            get(wellknown::metadata),
        )
        .route(
            "/.well-known/openid-configuration",
            get(wellknown::metadata),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(dialects::routes(&state.config.dialects))
        .merge(hub::routes(&state));
    let metrics = &state.config.metrics;
    if metrics.enabled && !metrics.own_listener {
        r = r.route("/metrics", get(telemetry::scrape));
    }
    // RFC 8414 §3.1: for an issuer with a path, the metadata lives at the well-known prefix
    // followed by that path.
    if let Some(path) = issuer_path(&state.config.issuer) {
        r = r
            .route(
                &format!("/.well-known/oauth-authorization-server{path}"),
                get(wellknown::metadata),
            )
            .route(
                &format!("{path}/.well-known/openid-configuration"),
                get(wellknown::metadata),
            );
    }
    let r = r.fallback(not_found).layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        Duration::from_secs(10),
    ));
    // The revocation feed long-polls for up to 30 s, so it is outside the 10 s request timeout.
    let mut r = r.route("/oauth2/revocations", get(oauth::revocations));
    if !state.config.limits.trusted_proxies.is_empty() {
        r = r.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::resolve_client_address,
        ));
    }
    r.layer(axum::middleware::from_fn(error::log_internal_errors))
        .layer(axum::middleware::from_fn(connection::close_if_body_unread))
        .layer(DefaultBodyLimit::max(form::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(request_log::log_request))
        .with_state(state)
}

/// The path of the issuer URL, when it has one (`/` alone is none).
fn issuer_path(issuer: &str) -> Option<String> {
    let url = url::Url::parse(issuer).ok()?;
    (url.path() != "/").then(|| url.path().to_owned())
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        axum::Json(
            serde_json::json!({"error": "not_found", "error_description": "no such endpoint"}),
        ),
    )
}
