//! Basys / IQPro (seed 000): an Azure AD B2C-style token endpoint.
//!
//! `POST /oauth2/v2.0/token`, and `POST /{tenant}/{policy}/oauth2/v2.0/token` for the document's
//! URL shape; form body `grant_type=client_credentials`, `client_id`, `client_secret`,
//! `scope=<resource URI>/.default`. The response adds `not_before`, `expires_on` (epoch seconds)
//! and `resource` (the resource id, also the token's `aud`). Errors in the OAuth2 format.

use super::rfc6749::{ErrorCode, OAuthError, parse_client_credentials, token_json};
use crate::form::Peer;
use crate::state::AppState;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use http::HeaderMap;
use serde::Serialize;
use tessera_core::issue::Grant;
use tessera_core::proto::Audience;

/// The routes of this dialect.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/oauth2/v2.0/token", post(token))
        .route("/{tenant}/{policy}/oauth2/v2.0/token", post(token))
}

#[derive(Serialize)]
struct BasysToken<'a> {
    access_token: &'a str,
    token_type: &'static str,
    not_before: i64,
    expires_in: i64,
    expires_on: i64,
    resource: String,
}

/// The resource URI that `scope` must name (plus `/.default`).
pub fn resource_uri(state: &AppState) -> String {
    let d = &state.config.dialects;
    d.basys_resource_uri
        .clone()
        .unwrap_or_else(|| format!("{}/{}", state.config.issuer, d.basys_resource_id))
}

async fn token(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, OAuthError> {
    let (state, headers) = (&state, &headers);
    let req = parse_client_credentials(peer, headers, body, &[]).await?;
    let expected = format!("{}/.default", resource_uri(state));
    match req.form.get("scope") {
        None => {
            return Err(OAuthError::bad(
                ErrorCode::InvalidRequest,
                format!("the scope parameter is required: {expected}"),
            ));
        }
        Some(s) if s == expected => {}
        Some(_) => {
            return Err(OAuthError::bad(
                ErrorCode::InvalidScope,
                format!("the only scope this resource accepts is {expected}"),
            ));
        }
    }
    let d = &state.config.dialects;
    let grant = Grant {
        audience: Some(Audience::One(d.basys_resource_id.to_string())),
        ttl: Some(d.basys.token_ttl),
        ..Grant::default()
    };
    let issued = state
        .issuer
        .token(req.credentials(), grant)
        .map_err(|e| OAuthError::from_token(e, req.basic))?;
    Ok(token_json(&BasysToken {
        access_token: &issued.access_token,
        token_type: "Bearer",
        not_before: issued.claims.nbf,
        expires_in: issued.expires_in,
        expires_on: issued.claims.exp,
        resource: d.basys_resource_id.to_string(),
    }))
}
