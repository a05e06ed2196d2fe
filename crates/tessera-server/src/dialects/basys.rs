//! Basys / IQPro (seed 000): an Azure AD B2C-style token endpoint.
//!
//! `POST /oauth2/v2.0/token`, and `POST /{tenant}/{policy}/oauth2/v2.0/token` for the document's
//! URL shape; form body `grant_type=client_credentials`, `client_id`, `client_secret`,
//! `scope=<resource URI>/.default`. The response adds `not_before`, `expires_on` (epoch seconds)
//! and `resource` (the resource id, also the token's `aud`). Errors in the OAuth2 format.

use super::config::{ConfigError, DialectsConfig, read_section};
use super::{Dialect, Routes};
use crate::state::AppState;
use crate::toolkit::oauth2::{ClientCredentials, ErrorCode, OAuthError};
use crate::toolkit::token_json;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use serde::Serialize;
use tessera_core::issue::Grant;
use tessera_core::proto::Audience;

/// The config section and registry name.
pub const NAME: &str = "basys";

/// This dialect in the registry.
pub const DIALECT: Dialect = Dialect {
    configure,
    ..Dialect::new(NAME, 10_080, routes, |state, base, _| {
        format!(
            "curl {base}/oauth2/v2.0/token -d grant_type=client_credentials -d \"client_id=$CLIENT_ID\" --data-urlencode \"client_secret=$CLIENT_SECRET\" --data-urlencode 'scope={}/.default'",
            resource_uri(state)
        )
    })
};

/// `[dialects.basys]` beyond the common keys.
#[derive(Default, serde::Deserialize)]
struct OwnKeys {
    /// The resource id (a UUID): `resource` of the response and `aud` of the token.
    resource_id: Option<uuid::Uuid>,
    /// The resource URI that `scope` names (plus "/.default"); default issuer/resource_id.
    resource_uri: Option<String>,
}

fn configure(
    d: &mut DialectsConfig,
    name: &str,
    section: &serde_json::Value,
) -> Result<(), ConfigError> {
    const KEYS: &[&str] = &[
        "enabled",
        "prefix",
        "token_ttl_seconds",
        "resource_id",
        "resource_uri",
    ];
    let own: OwnKeys = read_section(d, name, KEYS, section)?;
    if let Some(id) = own.resource_id {
        d.basys_resource_id = id;
    }
    d.basys_resource_uri = own.resource_uri;
    Ok(())
}

/// The routes of this dialect.
pub fn routes() -> Routes {
    vec![
        ("/oauth2/v2.0/token", post(token)),
        ("/{tenant}/{policy}/oauth2/v2.0/token", post(token)),
    ]
}

#[derive(Serialize)]
struct BasysToken {
    access_token: Box<serde_json::value::RawValue>,
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
    ClientCredentials(req, _): ClientCredentials,
) -> Result<Response, OAuthError> {
    let expected = format!("{}/.default", resource_uri(&state));
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
        ttl: Some(d.common(NAME).token_ttl),
        ..Grant::default()
    };
    let issued = state
        .issuer
        .token(req.credentials(), grant)
        .map_err(|e| OAuthError::from_token(e, req.basic))?;
    Ok(token_json(&BasysToken {
        access_token: crate::toolkit::jwt_json(&issued.access_token),
        token_type: "Bearer",
        not_before: issued.issued_at,
        expires_in: issued.expires_in,
        expires_on: issued.expires_at,
        resource: d.basys_resource_id.to_string(),
    }))
}
