//! The management API's JSON shapes. They are the API's contract, kept apart from the core's
//! types so that the domain can change without breaking clients.

use base64::Engine;
use serde::{Deserialize, Serialize};
use tessera_core::admin::CreatedSecret;
use tessera_core::audit::AuditEvent;
use tessera_core::model::{Application, SecretMeta, Tenant};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// A tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantDto {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// gateway, partner, iso, agent, merchant, ...
    pub kind: String,
    /// Parent tenant id.
    pub parent_id: Option<String>,
    /// active, disabled or deleted.
    pub status: String,
    /// RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<Tenant> for TenantDto {
    fn from(t: Tenant) -> Self {
        TenantDto {
            id: t.id.to_string(),
            name: t.name,
            kind: t.kind,
            parent_id: t.parent_id.map(|p| p.to_string()),
            status: t.status.as_str().into(),
            created_at: t.created_at,
        }
    }
}

/// An application (OAuth client).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationDto {
    /// The OAuth client_id.
    pub client_id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// active or disabled.
    pub status: String,
    /// RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<Application> for ApplicationDto {
    fn from(a: Application) -> Self {
        ApplicationDto {
            client_id: a.client_id.to_string(),
            tenant_id: a.tenant_id.to_string(),
            name: a.name,
            role: a.role,
            status: a.status.as_str().into(),
            created_at: a.created_at,
        }
    }
}

/// A secret's metadata: never its value or digest.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretDto {
    /// Id.
    pub id: String,
    /// The application.
    pub client_id: String,
    /// Name.
    pub name: String,
    /// RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// RFC 3339; written in batches, may lag by a second or two.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

impl From<SecretMeta> for SecretDto {
    fn from(s: SecretMeta) -> Self {
        SecretDto {
            id: s.id.to_string(),
            client_id: s.client_id.to_string(),
            name: s.name,
            created_at: s.created_at,
            expires_at: s.expires_at,
            last_used_at: s.last_used_at,
        }
    }
}

/// An application with its secrets' metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationDetailDto {
    /// The application.
    #[serde(flatten)]
    pub application: ApplicationDto,
    /// Its live secrets.
    pub secrets: Vec<SecretDto>,
}

/// A secret just created: the only response that ever holds its value. `Debug` shows neither the
/// value nor the API key.
#[derive(Serialize, ToSchema)]
pub struct CreatedSecretDto {
    /// Metadata.
    #[serde(flatten)]
    pub meta: SecretDto,
    /// The value, shown once.
    pub secret: String,
    /// base64("client_id:secret"), the form some providers call an API key.
    pub api_key: String,
}

impl std::fmt::Debug for CreatedSecretDto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedSecretDto")
            .field("meta", &self.meta)
            .field("secret", &"<redacted>")
            .field("api_key", &"<redacted>")
            .finish()
    }
}

impl From<CreatedSecret> for CreatedSecretDto {
    fn from(s: CreatedSecret) -> Self {
        let pair = format!("{}:{}", s.meta.client_id, s.value.expose());
        CreatedSecretDto {
            secret: s.value.expose().to_owned(),
            api_key: base64::engine::general_purpose::STANDARD.encode(pair),
            meta: s.meta.into(),
        }
    }
}

/// A secret that expires soon.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExpiringSecretDto {
    /// The application's tenant.
    pub tenant_id: String,
    /// The secret.
    #[serde(flatten)]
    pub secret: SecretDto,
}

/// An audit record.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditDto {
    /// RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// A client id, or "cli".
    pub actor: String,
    /// The tenant concerned.
    pub tenant_id: Option<String>,
    /// What was done.
    pub action: String,
    /// The object acted on.
    pub target: Option<String>,
    /// success or failure.
    pub outcome: String,
    /// The client's address.
    pub source: Option<String>,
}

impl From<AuditEvent> for AuditDto {
    fn from(e: AuditEvent) -> Self {
        AuditDto {
            at: e.at,
            actor: e.actor,
            tenant_id: e.tenant_id.map(|t| t.to_string()),
            action: e.action,
            target: e.target,
            outcome: e.outcome.as_str().into(),
            source: e.source,
        }
    }
}

/// Create a tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenantDto {
    /// Name: 1 to 200 characters, no control characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Kind (default merchant): 1 to 64 of `a-z 0-9 - _ .`.
    #[schema(min_length = 1, max_length = 64, pattern = "^[a-z0-9._-]{1,64}$")]
    pub kind: Option<String>,
    /// Parent tenant id.
    #[schema(format = Uuid)]
    pub parent_id: Option<String>,
}

/// Create an application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApplicationDto {
    /// Name: 1 to 200 characters, no control characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// A role from the deployment's catalog (`tessera validate-config` lists them).
    #[schema(min_length = 1, max_length = 64, pattern = "^[a-z0-9._-]{1,64}$")]
    pub role: String,
}

/// Rename an application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameDto {
    /// The new name: 1 to 200 characters, no control characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
}

/// Create a secret.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSecretDto {
    /// Name (default "secret"): 1 to 200 characters, no control characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// Lifetime in days, 1 to 730 (default 365).
    #[schema(minimum = 1, maximum = 730)]
    pub days: Option<u32>,
}

/// Rotate a secret.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateDto {
    /// How long the old secret keeps working, in seconds: 0 to 2592000 (30 days), default 86400.
    #[schema(minimum = 0, maximum = 2_592_000)]
    pub grace_seconds: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::ids::{ClientId, SecretId};
    use tessera_core::secret::SecretValue;

    #[test]
    fn a_created_secret_never_shows_in_debug() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let created = CreatedSecret {
            meta: SecretMeta {
                id: SecretId::random(),
                client_id: ClientId::random(),
                name: "ci".into(),
                created_at: now,
                expires_at: now,
                last_used_at: None,
            },
            value: SecretValue::generate().unwrap(),
        };
        let value = created.value.expose().to_owned();
        assert!(!format!("{created:?}").contains(&value));
        let dto = CreatedSecretDto::from(created);
        let shown = format!("{dto:?} {dto:#?}");
        assert!(shown.contains(&dto.meta.id), "{shown}");
        assert!(!shown.contains(&value), "{shown}");
        assert!(!shown.contains(&dto.api_key), "{shown}");
    }
}

/// Set a tenant's secret-expiry webhook.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInDto {
    /// Where notices go: an https URL (http and private addresses only where the server allows
    /// them), at most 2000 bytes.
    #[schema(min_length = 1, max_length = 2000)]
    pub url: String,
}

/// A tenant's webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDto {
    /// The tenant.
    pub tenant_id: String,
    /// Where notices go.
    pub url: String,
    /// RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The Standard Webhooks signing secret (`whsec_...`): only in the answer that set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<tessera_core::webhooks::Webhook> for WebhookDto {
    fn from(w: tessera_core::webhooks::Webhook) -> Self {
        WebhookDto {
            tenant_id: w.tenant_id.to_string(),
            url: w.url,
            created_at: w.created_at,
            secret: None,
        }
    }
}
