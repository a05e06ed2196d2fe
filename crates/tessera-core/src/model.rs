//! Tenants, applications and secret metadata: the records the store keeps.

use crate::ids::{ClientId, SecretId, TenantId};
use crate::secret::Digest;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;

/// Lifecycle of a tenant. A deleted tenant stays as a tombstone, so that later lookups can tell
/// "deleted" from "never existed" (some dialects answer differently for each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    /// May authenticate.
    Active,
    /// Temporarily barred; can be enabled again.
    Disabled,
    /// Tombstone; final.
    Deleted,
}

/// Lifecycle of an application. `Deleted` is a tombstone that the store keeps so that every node
/// learns of the deletion; deleted applications are never listed or shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppStatus {
    /// May authenticate.
    Active,
    /// Temporarily barred; can be enabled again.
    Disabled,
    /// Tombstone; final.
    Deleted,
}

macro_rules! status_str {
    ($t:ty { $($v:ident => $s:literal),* }) => {
        impl $t {
            /// The lowercase name used in storage and JSON.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
        }
        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s { $($s => Ok(Self::$v),)* other => Err(format!("unknown status {other:?}")) }
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}
status_str!(TenantStatus { Active => "active", Disabled => "disabled", Deleted => "deleted" });
status_str!(AppStatus { Active => "active", Disabled => "disabled", Deleted => "deleted" });

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Id.
    pub id: TenantId,
    /// Display name.
    pub name: String,
    /// A label: gateway, partner, iso, agent, merchant, ...
    pub kind: String,
    /// The tenant this one belongs to (a merchant's ISO, a business application's partner).
    pub parent_id: Option<TenantId>,
    /// Lifecycle.
    pub status: TenantStatus,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// An application: an OAuth client of one tenant, with one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// The OAuth `client_id`.
    pub client_id: ClientId,
    /// The owning tenant.
    pub tenant_id: TenantId,
    /// Display name.
    pub name: String,
    /// Name of a role in the catalog.
    pub role: String,
    /// Lifecycle.
    pub status: AppStatus,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// What may be shown about a secret: never its value, never its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretMeta {
    /// Id.
    pub id: SecretId,
    /// The application it authenticates.
    pub client_id: ClientId,
    /// Display name.
    pub name: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// After this instant the secret no longer authenticates.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Last successful authentication, written in batches (may lag by a second or two).
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

/// A secret as stored: metadata, the keyed digest of the value, and a tombstone flag.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSecret {
    /// Metadata.
    pub meta: SecretMeta,
    /// HMAC-SHA-256 of the value under the server's pepper.
    pub digest: Digest,
    /// Deleted secrets are kept as tombstones until every node has seen the deletion.
    pub deleted: bool,
}

impl fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSecret")
            .field("meta", &self.meta)
            .field("deleted", &self.deleted)
            .finish_non_exhaustive()
    }
}

/// Validated free-text name: 1 to 200 characters, no control characters, trimmed.
pub fn validate_name(what: &str, s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > 200 || t.chars().any(char::is_control) {
        return Err(format!(
            "{what} must be 1 to 200 characters without control characters"
        ));
    }
    Ok(t.to_owned())
}

/// Validated label (tenant kind, role name): 1 to 64 of `a-z 0-9 - _ .`.
pub fn validate_label(what: &str, s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.'
        });
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{what} must be 1 to 64 characters of a-z, 0-9, '-', '_' and '.'"
        ))
    }
}
