//! tessera's HTTP front end.
//!
//! A request passes the edge layer (request id, timeout, log line, metrics), then one wire
//! dialect's adapter, which parses it into a core call and renders the answer or error in its own
//! shape. The binary and the tests build the same [`router`].

pub mod background;
pub mod connection;
pub mod dialects;
pub mod edge;
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

/// The standard token endpoint's path.
const TOKEN_ROUTE: &str = "/oauth2/token";

/// The router of a node.
pub fn router(state: AppState) -> Router {
    let (manage, openapi) = manage::router();
    let openapi = bytes::Bytes::from(openapi.to_pretty_json().unwrap_or_default());
    let manage = manage.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        manage::apply_before_ack,
    ));
    let (dialect_routes, mut token_routes) = dialects::routes(&state.config.dialects);
    token_routes.push(edge::TokenRoute {
        route: TOKEN_ROUTE.into(),
        dialect: "rfc6749",
    });
    let mut r = Router::new()
        .merge(manage)
        .route(
            "/openapi.json",
            get(move || {
                let doc = openapi.clone();
                async move { ([(http::header::CONTENT_TYPE, "application/json")], doc) }
            }),
        )
        .route(TOKEN_ROUTE, post(dialects::rfc6749::token))
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
        .merge(dialect_routes)
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
    // The revocation feed long-polls: the edge layer leaves it out of the request timeout.
    let mut r = r
        .route(edge::LONG_POLL_ROUTE, get(oauth::revocations))
        .fallback(not_found);
    if !state.config.limits.trusted_proxies.is_empty() {
        r = r.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::resolve_client_address,
        ));
    }
    // One layer for what every request passes (see `edge` for why one).
    r.layer(
        tower::ServiceBuilder::new()
            .layer(edge::EdgeLayer::new(token_routes))
            .layer(DefaultBodyLimit::max(form::MAX_BODY_BYTES)),
    )
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
