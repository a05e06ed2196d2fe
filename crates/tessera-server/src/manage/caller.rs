//! Who is calling the management API: a tessera access token (RFC 6750), verified, checked
//! against the directory (a token whose secret, application or tenant is gone or disabled is
//! refused), and reduced to its tenant and permissions.

use super::problem::Problem;
use crate::form::bearer_token;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;
use std::net::SocketAddr;
use tessera_core::audit::{Actor, Outcome};
use tessera_core::ids::{ClientId, TenantId};
use tessera_core::proto::ScopeSet;

/// Permission to read a tenant's applications and secret metadata.
pub const APPLICATIONS_READ: &str = "applications:read";
/// Permission to create and delete secrets of the token's own tenant's applications.
pub const SECRETS_MANAGE: &str = "secrets:manage";
/// Every permission, across tenants.
pub const ADMIN: &str = "admin";

/// An authenticated management caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The calling application.
    pub client_id: ClientId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The token's scopes that its role still holds.
    pub scopes: ScopeSet,
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

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
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
        let token = bearer_token(&parts.headers)
            .ok_or_else(|| fail("a Bearer access token is required"))?;
        let now = state.clock.now();
        let claims = state
            .keyring
            .verify(token, &state.config.issuer, now)
            .map_err(|_| fail("the access token is invalid or expired"))?;
        // Only tokens meant for tessera itself: one a client obtained for a payment API
        // (RFC 8707 `resource`) must not be replayable here by that API.
        let own = state.issuer.config().default_audience.as_str();
        let basys = state.config.dialects.basys_resource_id.to_string();
        if !(claims.aud.contains(own) || claims.aud.contains(&basys)) {
            return Err(fail("the access token is for another audience"));
        }
        let client = state
            .issuer
            .reauthenticate(&claims, now)
            .map_err(|_| fail("the access token has been revoked"))?;
        let scopes: ScopeSet = ScopeSet::parse(&claims.scope)
            .unwrap_or_default()
            .iter()
            .filter(|s| client.role_scopes.contains(s.as_str()))
            .cloned()
            .collect();
        Ok(Caller {
            client_id: client.client_id,
            tenant_id: client.tenant_id,
            scopes,
            source,
        })
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
    pub fn may_hold(&self, role_scopes: Option<&ScopeSet>) -> Result<(), Problem> {
        if self.is_admin() || role_scopes.is_some_and(|s| s.is_subset_of(&self.scopes)) {
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
