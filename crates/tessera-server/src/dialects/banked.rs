//! Banked (seed 004): `POST /oauth/token` with `Authorization: Basic base64(key:secret)`, form
//! `grant_type=client_credentials` and an optional `scope=<business application id>`.
//!
//! Without `scope` the token is unscoped (scope `partner`), good only for partner endpoints. With
//! it, the token is bound to that business application, which must be an active child tenant of
//! the partner's tenant. 200 `{access_token, token_type, expires_in, scope, created_at}`, where
//! `scope` echoes the request exactly (OAuth client libraries raise "scope has changed"
//! otherwise). `GET /business_applications` lists the partner's business applications for an
//! unscoped partner token. Errors in the OAuth2 format (RFC 6749 §5.2, RFC 6750 §3.1).

use super::{Dialect, Routes};
use crate::form::bearer_token;
use crate::state::AppState;
use crate::toolkit::oauth2::{ClientCredentials, ErrorCode, OAuthError};
use crate::toolkit::token_json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;
use serde_json::json;
use tessera_core::TokenError;
use tessera_core::ids::TenantId;
use tessera_core::issue::Grant;
use tessera_core::model::TenantStatus;
use tessera_core::proto::{Audience, Scope, ScopeSet};

/// The scope a role needs to use this dialect, and the scope of an unscoped token.
pub const PARTNER_SCOPE: &str = "partner";

/// The config section and registry name.
pub const NAME: &str = "banked";

/// This dialect in the registry.
pub const DIALECT: Dialect = Dialect::new(NAME, 7_200, routes, |_, base, _| {
    format!(
        "curl {base}/oauth/token -H \"Authorization: Basic {}\" -d grant_type=client_credentials",
        super::SHELL_API_KEY
    )
});

/// The routes of this dialect.
pub fn routes() -> Routes {
    vec![
        ("/oauth/token", post(token)),
        ("/business_applications", get(business_applications)),
    ]
}

#[derive(Serialize)]
struct BankedToken<'a> {
    access_token: Box<serde_json::value::RawValue>,
    token_type: &'static str,
    expires_in: i64,
    scope: &'a str,
    created_at: i64,
}

fn partner_scope() -> ScopeSet {
    Scope::parse(PARTNER_SCOPE).into_iter().collect()
}

/// The business application a token is bound to: the token dies with that child tenant, in
/// introspection and at the guard alike.
pub const BINDING_CLAIM: &str = tessera_core::proto::BOUND_TENANT_CLAIM;

async fn token(
    State(state): State<AppState>,
    ClientCredentials(req, _): ClientCredentials,
) -> Result<Response, OAuthError> {
    let requested = req.form.get("scope");
    let bound_to = match requested {
        None => None,
        Some(s) => Some(s.parse::<TenantId>().map_err(|_| {
            OAuthError::bad(
                ErrorCode::InvalidScope,
                "scope must be the id of one of your business applications",
            )
        })?),
    };
    let refused = |e: TokenError| match e {
        // The partner scope is missing from the client's role: not a partner.
        TokenError::InvalidScope(_) if bound_to.is_none() => {
            OAuthError::from_token(TokenError::UnauthorizedClient, req.basic)
        }
        TokenError::InvalidScope(_) | TokenError::BindingRefused(_) => OAuthError::bad(
            ErrorCode::InvalidScope,
            "scope is not an active business application of this partner",
        ),
        other => OAuthError::from_token(other, req.basic),
    };
    let now = state.clock.now();
    let client = state
        .issuer
        .authenticate(req.credentials(), now)
        .map_err(refused)?;
    let mut grant = Grant {
        scope: Some(partner_scope()),
        ttl: Some(state.config.dialects.common(NAME).token_ttl),
        ..Grant::default()
    };
    if let Some(child) = bound_to {
        // A bound token names its business application in `scope` as well (for a bound token
        // the scope check and the binding check answer alike, so their order does not show).
        state.issuer.check_child(&client, child).map_err(refused)?;
        let id = child.to_string();
        grant.scope_claim = Some(id.clone());
        grant
            .claims
            .insert(BINDING_CLAIM, id)
            .map_err(|e| OAuthError::internal(e.to_string()))?;
    }
    let issued = state.issuer.issue(&client, grant, now).map_err(refused)?;
    Ok(token_json(&BankedToken {
        access_token: crate::toolkit::jwt_json(&issued.access_token),
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: requested.unwrap_or(PARTNER_SCOPE),
        created_at: issued.issued_at,
    }))
}

/// An RFC 6750 §3.1 error for the partner endpoints.
fn bearer_error(status: StatusCode, code: &'static str, description: &'static str) -> Response {
    let mut res = (
        status,
        axum::Json(json!({"error": code, "error_description": description})),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer error=\"{code}\"")) {
        res.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    res
}

#[derive(Serialize)]
struct BusinessApplication {
    id: TenantId,
    name: String,
    status: TenantStatus,
}

/// `GET /business_applications`: the partner's child tenants, for an unscoped partner token.
async fn business_applications(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = bearer_token(&headers) else {
        return bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "a Bearer access token is required",
        );
    };
    let now = state.clock.now();
    let Ok(claims) = state.keyring.verify(token, &state.config.issuer, now) else {
        return bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the access token is invalid or expired",
        );
    };
    let Ok(client) = state.issuer.reauthenticate(&claims, now) else {
        return bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the access token has been revoked",
        );
    };
    // Minted by this dialect without a binding: for the default audience exactly, so that a
    // partner token obtained for another resource (RFC 8707) is not replayable here.
    let default_audience = state.issuer.config().default_audience.as_str();
    let unscoped_partner = matches!(&claims.aud, Audience::One(a) if a == default_audience)
        && !claims.extra.contains(BINDING_CLAIM)
        && ScopeSet::parse(&claims.scope).is_ok_and(|s| s.contains(PARTNER_SCOPE))
        && client.role_scopes.contains(PARTNER_SCOPE);
    if !unscoped_partner {
        return bearer_error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "this endpoint needs an unscoped partner token",
        );
    }
    let apps: Vec<BusinessApplication> = state
        .directory
        .children(&client.tenant_id)
        .into_iter()
        .map(|t| BusinessApplication {
            id: t.id,
            name: t.name,
            status: t.status,
        })
        .collect();
    (StatusCode::OK, axum::Json(apps)).into_response()
}
