//! Roles: named sets of scopes. An application has one role; a token carries a subset of it.

use crate::model::validate_label;
use std::collections::BTreeMap;
use std::sync::Arc;
use tessera_proto::{Scope, ScopeSet};

/// The default catalog, shipped with the binary. The scope strings come from the seed documents:
/// Basys roles, iPOSpays credential levels, Basiq token scopes, Banked partners.
pub const DEFAULT_ROLES: &[(&str, &str)] = &[
    (
        "integrated-gateway-standard",
        "transactions:process vault:manage invoices:read settlements:read applications:read secrets:manage",
    ),
    (
        "integrated-service-account",
        "transactions:process transactions:read vault:manage invoices:read invoices:write products:write settlements:read payable-tokens:manage applications:read secrets:manage",
    ),
    ("merchant", "PaymentTokenization Recurring BatchReport"),
    (
        "iso",
        "ExternalApi PaymentTokenization Recurring BatchReport",
    ),
    ("agent-office", "ExternalApi"),
    ("api-partner", "SERVER_ACCESS CLIENT_ACCESS"),
    ("partner", "partner"),
    ("admin", "admin"),
    // For resource servers: introspection of the tenant's tokens and the revocation feed.
    ("resource-server", "introspect"),
];

/// A role definition that could not be added to the catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("role {role:?}: {reason}")]
pub struct InvalidRole {
    /// The role's name.
    pub role: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The roles this server knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCatalog {
    /// Shared, so that an authenticated client holds its role's scopes without copying them.
    roles: BTreeMap<String, Arc<ScopeSet>>,
}

impl Default for RoleCatalog {
    fn default() -> Self {
        let mut roles = BTreeMap::new();
        for (name, scopes) in DEFAULT_ROLES {
            // The default catalog is a compile-time constant checked by a unit test.
            roles.insert(
                (*name).to_owned(),
                Arc::new(ScopeSet::parse(scopes).unwrap_or_default()),
            );
        }
        RoleCatalog { roles }
    }
}

impl RoleCatalog {
    /// Adds (or replaces) a role from configuration.
    pub fn define(&mut self, name: &str, scopes: &[String]) -> Result<(), InvalidRole> {
        let err = |reason: String| InvalidRole {
            role: name.to_owned(),
            reason,
        };
        validate_label("a role name", name).map_err(err)?;
        let set: ScopeSet = scopes
            .iter()
            .map(|s| Scope::parse(s))
            .collect::<Result<_, _>>()
            .map_err(|e| err(e.to_string()))?;
        if set.is_empty() {
            return Err(err("a role needs at least one scope".into()));
        }
        self.roles.insert(name.to_owned(), Arc::new(set));
        Ok(())
    }

    /// The scopes of a role.
    pub fn scopes(&self, role: &str) -> Option<&ScopeSet> {
        self.roles.get(role).map(|s| &**s)
    }

    /// The scopes of a role, shared.
    pub fn shared_scopes(&self, role: &str) -> Option<Arc<ScopeSet>> {
        self.roles.get(role).cloned()
    }

    /// Every role, by name.
    pub fn roles(&self) -> impl Iterator<Item = (&str, &ScopeSet)> {
        self.roles.iter().map(|(k, v)| (k.as_str(), &**v))
    }

    /// Every scope any role holds, sorted and without duplicates (for `scopes_supported`).
    pub fn all_scopes(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .roles
            .values()
            .flat_map(|s| s.iter().map(|x| x.as_str().to_owned()))
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_catalog_parses_completely() {
        let c = RoleCatalog::default();
        for (name, scopes) in DEFAULT_ROLES {
            let got = c.scopes(name).unwrap().to_string();
            assert_eq!(&got, scopes, "role {name}");
        }
        assert!(c.scopes("api-partner").unwrap().contains("CLIENT_ACCESS"));
    }

    #[test]
    fn config_roles_are_validated() {
        let mut c = RoleCatalog::default();
        c.define("resource-server", &["introspect".into()]).unwrap();
        assert!(c.scopes("resource-server").unwrap().contains("introspect"));
        assert!(c.define("Bad Name", &["x".into()]).is_err());
        assert!(c.define("empty", &[]).is_err());
        assert!(c.define("badscope", &["a b".into()]).is_err());
    }
}
