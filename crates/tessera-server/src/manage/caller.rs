//! Who is calling the management API: a tessera access token (RFC 6750), verified, checked
//! against the directory (a token whose secret, application or tenant is gone or disabled is
//! refused), and reduced to its tenant and permissions.
//!
//! `/management/v1` accepts only tokens whose `aud` is exactly the management audience: a token
//! a client obtained for a payment API (or the default audience) must not be replayable here
//! by that API or by whoever reads its logs. The Basys paths (`/gateway/...`) also accept the
//! token of the Basys endpoint (seed 000), whose `aud` is the Basys resource; such a token
//! carries no management scope, so its permissions are those of the calling application's role.

use super::problem::Problem;
use crate::form::bearer_token;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;
use std::net::SocketAddr;
use tessera_core::audit::{Actor, Outcome};
use tessera_core::ids::{ClientId, TenantId};
use tessera_core::issue::is_management_scope;
pub use tessera_core::issue::{ADMIN, APPLICATIONS_READ, SECRETS_MANAGE};
use tessera_core::proto::{AccessTokenClaims, Audience, ScopeSet};

/// An authenticated management caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The calling application.
    pub client_id: ClientId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The management permissions in force: the token's scopes that its role still holds
    /// (a Basys token: its role's management scopes).
    pub scopes: ScopeSet,
    /// The calling application's role's scopes, which bound what it may mint secrets for.
    pub role_scopes: std::sync::Arc<ScopeSet>,
    /// The peer address.
    pub source: Option<String>,
}

/// The peer address of a request, when the server recorded it.
pub fn peer(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// Which tokens an endpoint accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Accepts {
    /// The management audience only.
    Management,
    /// The management audience or the Basys resource.
    Gateway,
}

/// Where a token's permissions come from.
enum Permissions {
    /// The token's scopes (a management-audience token).
    Token,
    /// The calling application's role (a Basys token, which carries no management scope).
    Role,
}

fn permissions(
    state: &AppState,
    claims: &AccessTokenClaims,
    accepts: Accepts,
) -> Option<Permissions> {
    if state.issuer.is_management(Some(&claims.aud)) {
        return Some(Permissions::Token);
    }
    // Compared as the Basys endpoint writes it: a parse would also take `urn:uuid:...`, a
    // resource any client may ask the standard endpoint for.
    let basys = matches!(&claims.aud, Audience::One(a)
        if *a == state.config.dialects.basys_resource_id.to_string());
    (accepts == Accepts::Gateway && basys).then_some(Permissions::Role)
}

async fn authenticate(
    parts: &Parts,
    state: &AppState,
    accepts: Accepts,
) -> Result<Caller, Problem> {
    let source = peer(parts);
    let fail = |detail: &'static str| {
        // Not an administrative change, so no `ActingAdmin` notes it: the refusal is noted here.
        state.audit.record(Actor::unknown(source.clone()).event(
            state.clock.now(),
            "management.authenticate",
            None,
            None,
            Outcome::Failure,
        ));
        Problem::invalid_token(detail)
    };
    let token =
        bearer_token(&parts.headers).ok_or_else(|| fail("a Bearer access token is required"))?;
    let now = state.clock.now();
    let claims = state
        .keyring
        .verify(token, &state.config.issuer, now)
        .map_err(|_| fail("the access token is invalid or expired"))?;
    let from = permissions(state, &claims, accepts).ok_or_else(|| {
        fail("the access token is for another audience: ask for one with resource=<tessera_management_audience of the metadata>")
    })?;
    let client = state
        .issuer
        .reauthenticate(&claims, now)
        .map_err(|_| fail("the access token has been revoked"))?;
    let scopes: ScopeSet = match from {
        Permissions::Token => ScopeSet::parse(&claims.scope)
            .unwrap_or_default()
            .iter()
            .filter(|s| client.role_scopes.contains(s.as_str()))
            .cloned()
            .collect(),
        Permissions::Role => client
            .role_scopes
            .iter()
            .filter(|s| is_management_scope(s.as_str()))
            .cloned()
            .collect(),
    };
    Ok(Caller {
        client_id: client.client_id,
        tenant_id: client.tenant_id,
        scopes,
        role_scopes: client.role_scopes,
        source,
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        authenticate(parts, state, Accepts::Management).await
    }
}

/// A caller of the Basys paths: a management-audience token, or a token of the Basys endpoint.
#[derive(Debug, Clone)]
pub struct GatewayCaller(pub Caller);

impl FromRequestParts<AppState> for GatewayCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        authenticate(parts, state, Accepts::Gateway)
            .await
            .map(GatewayCaller)
    }
}

impl Caller {
    /// The caller as the audit log names it.
    pub fn actor(&self) -> Actor {
        Actor::client(self.client_id, self.tenant_id, self.source.clone())
    }

    /// Whether the caller holds `admin`.
    pub fn is_admin(&self) -> bool {
        self.scopes.contains(ADMIN)
    }

    /// The caller may see objects of `tenant` at all; otherwise they do not exist for it (404).
    pub fn see(&self, tenant: TenantId, what: &str) -> Result<(), Problem> {
        if self.is_admin() || tenant == self.tenant_id {
            Ok(())
        } else {
            Err(Problem::not_found(what))
        }
    }

    /// The caller may use `permission` on `tenant`: 404 for another tenant, 403 without it.
    pub fn require(&self, tenant: TenantId, permission: &str, what: &str) -> Result<(), Problem> {
        self.see(tenant, what)?;
        if self.is_admin() || self.scopes.contains(permission) {
            Ok(())
        } else {
            Err(Problem::insufficient_scope(permission))
        }
    }

    /// The caller may handle the secrets of an application with `role_scopes`: an admin may,
    /// anyone else only for an application no more powerful than itself — otherwise
    /// `secrets:manage` would let a tenant's integration mint secrets for, say, an admin client.
    /// "Itself" is the calling application's role, not the token's scopes: a management token
    /// carries only management scopes, yet may still handle its own application's secrets.
    pub fn may_hold(&self, role_scopes: Option<&ScopeSet>) -> Result<(), Problem> {
        if self.is_admin() || role_scopes.is_some_and(|s| s.is_subset_of(&self.role_scopes)) {
            Ok(())
        } else {
            Err(Problem::insufficient_scope(ADMIN))
        }
    }

    /// The caller holds `admin` (after `see`, when a tenant is involved).
    pub fn require_admin(&self) -> Result<(), Problem> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(Problem::insufficient_scope(ADMIN))
        }
    }
}
