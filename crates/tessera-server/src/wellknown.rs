//! Published documents: the JWKS (RFC 7517) and the authorization server metadata (RFC 8414),
//! served directly (never by redirect) at both well-known names.

use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};

/// How long resource servers may cache the JWKS. Key rotation waits longer than this before a
/// new key signs (`rotation_delay`), so no verifier meets a kid it has not fetched.
pub const JWKS_MAX_AGE_SECS: u32 = 300;

/// `GET /oauth2/jwks`: previous, current and next keys.
pub async fn jwks(State(state): State<AppState>) -> Response {
    let set = state.keyring.jwks(state.clock.now());
    let body = serde_json::to_vec(&set).unwrap_or_default();
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={JWKS_MAX_AGE_SECS}")) {
        h.insert(CACHE_CONTROL, v);
    }
    res
}

/// `GET /.well-known/oauth-authorization-server` and `/.well-known/openid-configuration`.
pub async fn metadata(State(state): State<AppState>) -> Response {
    let mut res = state.metadata.clone().into_response();
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}
