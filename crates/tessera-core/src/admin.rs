//! Administrative operations on tenants, applications and secrets. The CLI and the management API
//! both call these; they differ only in how they parse input and render output.
//!
//! Reads are on [`Admin`]; changes only on the [`ActingAdmin`] that [`Admin::acting_as`] returns,
//! which audits each of them, success or failure, in the name of its [`Actor`]: no front end can
//! change anything without saying who does it, and none writes audit records by hand.

use crate::audit::{Actor, AuditBuffer, Outcome};
use crate::clock::Clock;
use crate::error::CoreError;
use crate::ids::{ClientId, SecretId, TenantId};
use crate::model::{
    AppStatus, Application, SecretMeta, StoredSecret, Tenant, TenantStatus, validate_label,
    validate_name,
};
use crate::role::RoleCatalog;
use crate::secret::{Pepper, SecretValue};
use crate::store::{Store, StoreError};
use std::ops::Deref;
use std::sync::Arc;
use tessera_proto::{Revocation, RevocationKind};
use time::Duration;

/// How long after a disable tokens minted elsewhere are still treated as revoked: nodes apply
/// changes within a second of each other.
pub const PROPAGATION_MARGIN_SECS: i64 = 2;

/// Rules for secrets.
#[derive(Debug, Clone, Copy)]
pub struct SecretPolicy {
    /// Most unexpired secrets per application (the Basys document: two).
    pub max_active: usize,
    /// Lifetime when none is given, in days.
    pub default_days: u32,
    /// Longest lifetime allowed, in days.
    pub max_days: u32,
}

impl Default for SecretPolicy {
    fn default() -> Self {
        SecretPolicy {
            max_active: 2,
            default_days: 365,
            max_days: 730,
        }
    }
}

/// Input for a new tenant.
#[derive(Debug, Clone)]
pub struct NewTenant {
    /// Display name.
    pub name: String,
    /// Label; `merchant` when absent.
    pub kind: Option<String>,
    /// Parent tenant.
    pub parent_id: Option<TenantId>,
}

/// A secret just created: the only moment its value exists outside the caller's hands.
#[derive(Debug)]
pub struct CreatedSecret {
    /// Metadata.
    pub meta: SecretMeta,
    /// The value, to show once.
    pub value: SecretValue,
}

/// The administrative service: reads, and [`Admin::acting_as`] for changes.
#[derive(Clone)]
pub struct Admin {
    pub(crate) store: Arc<dyn Store>,
    pepper: Pepper,
    catalog: Arc<RoleCatalog>,
    pub(crate) clock: Arc<dyn Clock>,
    policy: SecretPolicy,
    max_token_ttl: Duration,
    pub(crate) audit: Arc<AuditBuffer>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

pub(crate) fn not_found(what: &'static str) -> impl Fn(StoreError) -> CoreError {
    move |e| match e {
        StoreError::NotFound => CoreError::NotFound(what),
        other => other.into(),
    }
}

impl Admin {
    /// The service over a store; every change is noted in `audit`, which the caller appends.
    pub fn new(
        store: Arc<dyn Store>,
        pepper: Pepper,
        catalog: Arc<RoleCatalog>,
        clock: Arc<dyn Clock>,
        policy: SecretPolicy,
        audit: Arc<AuditBuffer>,
    ) -> Self {
        Admin {
            store,
            pepper,
            catalog,
            clock,
            policy,
            max_token_ttl: Duration::hours(24),
            audit,
        }
    }

    /// The changes `actor` may make, each audited in its name.
    pub fn acting_as(&self, actor: Actor) -> ActingAdmin {
        ActingAdmin {
            admin: self.clone(),
            actor,
        }
    }

    /// The longest lifetime of any token this deployment issues: how long a revocation record
    /// must be kept (default 24 hours).
    pub fn with_max_token_ttl(mut self, ttl: Duration) -> Self {
        self.max_token_ttl = ttl;
        self
    }

    /// A record revoking what `id` minted. A deleted id is never reused, so the record covers
    /// every token it will ever appear in, including any that a node still minted before it
    /// learned of the deletion. A disabled one covers tokens minted until a little after now,
    /// for the same reason, and stops covering them after that, so that re-enabling works.
    fn revocation(&self, kind: RevocationKind, id: String, deleted: bool) -> Revocation {
        let now = self.clock.now().unix_timestamp();
        let expires = now + self.max_token_ttl.whole_seconds();
        Revocation {
            kind,
            id,
            before: if deleted {
                expires
            } else {
                now + PROPAGATION_MARGIN_SECS
            },
            expires,
        }
    }

    /// [`ActingAdmin::revoke_token`], unaudited; the record is `tenant`'s.
    async fn revoke_token(
        &self,
        jti: &str,
        exp: i64,
        tenant: Option<TenantId>,
    ) -> Result<Revocation, CoreError> {
        let r = Revocation {
            kind: RevocationKind::Jti,
            id: jti.to_owned(),
            before: 0,
            expires: exp,
        };
        self.store.insert_revocation(&r, tenant).await?;
        Ok(r)
    }

    /// The secret rules in force.
    pub fn policy(&self) -> SecretPolicy {
        self.policy
    }

    /// The store this service writes to.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The tenant of a live application, for the audit record of a change to it.
    async fn tenant_of(&self, app: ClientId) -> Option<TenantId> {
        self.store.get_app(app).await.ok().map(|a| a.tenant_id)
    }

    /// [`ActingAdmin::create_tenant`], unaudited.
    async fn create_tenant(&self, n: NewTenant) -> Result<Tenant, CoreError> {
        let name = validate_name("name", &n.name).map_err(CoreError::Invalid)?;
        let kind = validate_label("kind", n.kind.as_deref().unwrap_or("merchant"))
            .map_err(CoreError::Invalid)?;
        if let Some(p) = n.parent_id {
            let parent = self
                .store
                .get_tenant(p)
                .await
                .map_err(not_found("parent tenant"))?;
            if parent.status == TenantStatus::Deleted {
                return Err(CoreError::NotFound("parent tenant"));
            }
        }
        let t = Tenant {
            id: TenantId::random(),
            name,
            kind,
            parent_id: n.parent_id,
            status: TenantStatus::Active,
            created_at: self.clock.now(),
        };
        self.store
            .create_tenant(&t)
            .await
            .map_err(not_found("parent tenant"))?;
        Ok(t)
    }

    /// Every tenant, tombstones included.
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, CoreError> {
        Ok(self.store.list_tenants().await?)
    }

    /// One tenant, tombstone included.
    pub async fn get_tenant(&self, id: TenantId) -> Result<Tenant, CoreError> {
        self.store.get_tenant(id).await.map_err(not_found("tenant"))
    }

    /// [`ActingAdmin::set_tenant_status`], unaudited.
    async fn set_tenant_status(
        &self,
        id: TenantId,
        status: TenantStatus,
    ) -> Result<Tenant, CoreError> {
        // Disabling or deleting revokes every token the tenant holds: "since it was minted".
        let revoke = (status != TenantStatus::Active).then(|| {
            self.revocation(
                RevocationKind::Tenant,
                id.to_string(),
                status == TenantStatus::Deleted,
            )
        });
        self.store
            .set_tenant_status(id, status, revoke.as_ref())
            .await
            .map_err(not_found("tenant"))
    }

    /// [`ActingAdmin::create_app`], unaudited.
    async fn create_app(
        &self,
        tenant: TenantId,
        name: &str,
        role: &str,
    ) -> Result<Application, CoreError> {
        let name = validate_name("name", name).map_err(CoreError::Invalid)?;
        if self.catalog.scopes(role).is_none() {
            let known: Vec<&str> = self.catalog.roles().map(|(r, _)| r).collect();
            return Err(CoreError::Invalid(format!(
                "unknown role {role:?}; known roles: {}",
                known.join(", ")
            )));
        }
        let a = Application {
            client_id: ClientId::random(),
            tenant_id: tenant,
            name,
            role: role.to_owned(),
            status: AppStatus::Active,
            created_at: self.clock.now(),
        };
        self.store
            .create_app(&a)
            .await
            .map_err(not_found("tenant"))?;
        Ok(a)
    }

    /// The live applications of a tenant.
    pub async fn list_apps(&self, tenant: TenantId) -> Result<Vec<Application>, CoreError> {
        self.store
            .get_tenant(tenant)
            .await
            .map_err(not_found("tenant"))?;
        Ok(self.store.list_apps(tenant).await?)
    }

    /// One live application.
    pub async fn get_app(&self, id: ClientId) -> Result<Application, CoreError> {
        self.store
            .get_app(id)
            .await
            .map_err(not_found("application"))
    }

    /// [`ActingAdmin::set_app_status`], unaudited.
    async fn set_app_status(
        &self,
        id: ClientId,
        status: AppStatus,
    ) -> Result<Application, CoreError> {
        let revoke = (status != AppStatus::Active).then(|| {
            self.revocation(
                RevocationKind::Application,
                id.to_string(),
                status == AppStatus::Deleted,
            )
        });
        self.store
            .set_app_status(id, status, revoke.as_ref())
            .await
            .map_err(not_found("application"))
    }

    /// [`ActingAdmin::create_secret`], unaudited.
    async fn create_secret(
        &self,
        app: ClientId,
        name: &str,
        days: Option<u32>,
    ) -> Result<CreatedSecret, CoreError> {
        let name = validate_name("name", name).map_err(CoreError::Invalid)?;
        let days = days.unwrap_or(self.policy.default_days);
        if days == 0 || days > self.policy.max_days {
            return Err(CoreError::Invalid(format!(
                "a secret's lifetime must be 1 to {} days",
                self.policy.max_days
            )));
        }
        self.store
            .get_app(app)
            .await
            .map_err(not_found("application"))?;
        let (meta, value, stored) = self.new_secret(app, name, days)?;
        let now = meta.created_at;
        match self
            .store
            .create_secret(&stored, self.policy.max_active, now)
            .await
        {
            Ok(()) => Ok(CreatedSecret { meta, value }),
            Err(StoreError::SecretLimit) => Err(CoreError::SecretLimit {
                limit: self.policy.max_active,
            }),
            Err(e) => Err(not_found("application")(e)),
        }
    }

    /// The live secrets of an application (metadata only).
    pub async fn list_secrets(&self, app: ClientId) -> Result<Vec<SecretMeta>, CoreError> {
        self.store
            .get_app(app)
            .await
            .map_err(not_found("application"))?;
        Ok(self.store.list_secrets(app).await?)
    }

    /// [`ActingAdmin::rename_app`], unaudited.
    async fn rename_app(&self, id: ClientId, name: &str) -> Result<Application, CoreError> {
        let name = validate_name("name", name).map_err(CoreError::Invalid)?;
        self.store
            .rename_app(id, &name)
            .await
            .map_err(not_found("application"))
    }

    /// [`ActingAdmin::rotate_secret`], unaudited.
    async fn rotate_secret(
        &self,
        app: ClientId,
        old: SecretId,
        grace: Duration,
    ) -> Result<CreatedSecret, CoreError> {
        if grace.is_negative() || grace > Duration::days(30) {
            return Err(CoreError::Invalid(
                "the grace period must be between 0 and 30 days".into(),
            ));
        }
        let current = self
            .store
            .list_secrets(app)
            .await?
            .into_iter()
            .find(|s| s.id == old)
            .ok_or(CoreError::NotFound("secret"))?;
        let (meta, value, stored) =
            self.new_secret(app, current.name.clone(), self.policy.default_days)?;
        let now = meta.created_at;
        match self
            .store
            .rotate_secret(&stored, old, now + grace, self.policy.max_active, now)
            .await
        {
            Ok(()) => Ok(CreatedSecret { meta, value }),
            Err(StoreError::SecretLimit) => Err(CoreError::SecretLimit {
                limit: self.policy.max_active,
            }),
            Err(e) => Err(not_found("secret")(e)),
        }
    }

    /// Live secrets that expire within `within` from now, soonest first; one tenant's only when
    /// `tenant` is given.
    pub async fn expiring(
        &self,
        within: Duration,
        tenant: Option<TenantId>,
    ) -> Result<Vec<(TenantId, SecretMeta)>, CoreError> {
        if within.is_negative() || within > Duration::days(3650) {
            return Err(CoreError::Invalid(
                "the window must be between 0 and 3650 days".into(),
            ));
        }
        let now = self.clock.now();
        Ok(self.store.list_expiring(now, now + within, tenant).await?)
    }

    /// Reads the audit log.
    pub async fn audit(
        &self,
        q: &crate::audit::AuditQuery,
    ) -> Result<Vec<crate::audit::AuditEvent>, CoreError> {
        Ok(self.store.query_audit(q).await?)
    }

    fn new_secret(
        &self,
        app: ClientId,
        name: String,
        days: u32,
    ) -> Result<(SecretMeta, SecretValue, StoredSecret), CoreError> {
        let value = SecretValue::generate().map_err(|_| CoreError::Random)?;
        let now = self.clock.now();
        let meta = SecretMeta {
            id: SecretId::random(),
            client_id: app,
            name,
            created_at: now,
            expires_at: now + Duration::days(i64::from(days)),
            last_used_at: None,
        };
        let stored = StoredSecret {
            meta: meta.clone(),
            digest: self.pepper.digest(&value),
            deleted: false,
        };
        Ok((meta, value, stored))
    }

    /// [`ActingAdmin::delete_secret`], unaudited.
    async fn delete_secret(&self, app: ClientId, id: SecretId) -> Result<(), CoreError> {
        // "Deleting applications and secrets will break any existing integrations leveraging
        // them" (Basys): at once, not when their tokens happen to expire.
        let revoke = self.revocation(RevocationKind::Secret, id.to_string(), true);
        self.store
            .delete_secret(app, id, Some(&revoke))
            .await
            .map_err(not_found("secret"))
    }
}

/// The administrative changes, made on behalf of one [`Actor`]. Each is audited: the record names
/// the tenant concerned and the object (its id), and whether the change was made.
#[derive(Debug, Clone)]
pub struct ActingAdmin {
    admin: Admin,
    actor: Actor,
}

impl Deref for ActingAdmin {
    type Target = Admin;

    fn deref(&self) -> &Admin {
        &self.admin
    }
}

impl ActingAdmin {
    /// Who makes the changes.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub(crate) fn record<T>(
        &self,
        action: &str,
        tenant: Option<TenantId>,
        target: Option<String>,
        r: &Result<T, CoreError>,
    ) {
        let at = self.admin.clock.now();
        let event = self.actor.event(at, action, tenant, target, Outcome::of(r));
        self.admin.audit.record(event);
    }

    /// Revokes one of the actor's own tokens by its jti until `exp` (RFC 7009). The record
    /// belongs to the actor's tenant: the revocation feed shows it to that tenant's resource
    /// servers and those of the tenants above it.
    pub async fn revoke_token(&self, jti: &str, exp: i64) -> Result<Revocation, CoreError> {
        let r = self.admin.revoke_token(jti, exp, self.actor.tenant).await;
        self.record("token.revoke", self.actor.tenant, Some(jti.to_owned()), &r);
        r
    }

    /// Creates a tenant.
    pub async fn create_tenant(&self, n: NewTenant) -> Result<Tenant, CoreError> {
        let r = self.admin.create_tenant(n).await;
        let id = r.as_ref().ok().map(|t| t.id);
        self.record("tenant.create", id, id.map(|i| i.to_string()), &r);
        r
    }

    /// Disables, enables or deletes a tenant. Deletion is final.
    pub async fn set_tenant_status(
        &self,
        id: TenantId,
        status: TenantStatus,
    ) -> Result<Tenant, CoreError> {
        let r = self.admin.set_tenant_status(id, status).await;
        let action = match status {
            TenantStatus::Active => "tenant.enable",
            TenantStatus::Disabled => "tenant.disable",
            TenantStatus::Deleted => "tenant.delete",
        };
        self.record(action, Some(id), Some(id.to_string()), &r);
        r
    }

    /// Creates an application of a live tenant with a role from the catalog.
    pub async fn create_app(
        &self,
        tenant: TenantId,
        name: &str,
        role: &str,
    ) -> Result<Application, CoreError> {
        let r = self.admin.create_app(tenant, name, role).await;
        let target = r.as_ref().ok().map(|a| a.client_id.to_string());
        self.record("application.create", Some(tenant), target, &r);
        r
    }

    /// Disables, enables or deletes an application; deletion takes its secrets with it.
    pub async fn set_app_status(
        &self,
        id: ClientId,
        status: AppStatus,
    ) -> Result<Application, CoreError> {
        let r = self.admin.set_app_status(id, status).await;
        let action = match status {
            AppStatus::Active => "application.enable",
            AppStatus::Disabled => "application.disable",
            AppStatus::Deleted => "application.delete",
        };
        let tenant = match &r {
            Ok(a) => Some(a.tenant_id),
            Err(_) => self.admin.tenant_of(id).await,
        };
        self.record(action, tenant, Some(id.to_string()), &r);
        r
    }

    /// Renames an application.
    pub async fn rename_app(&self, id: ClientId, name: &str) -> Result<Application, CoreError> {
        let r = self.admin.rename_app(id, name).await;
        let tenant = match &r {
            Ok(a) => Some(a.tenant_id),
            Err(_) => self.admin.tenant_of(id).await,
        };
        self.record("application.rename", tenant, Some(id.to_string()), &r);
        r
    }

    /// Creates a secret, valid for `days` (default from the policy). Refused when the
    /// application already has the maximum number of unexpired secrets.
    pub async fn create_secret(
        &self,
        app: ClientId,
        name: &str,
        days: Option<u32>,
    ) -> Result<CreatedSecret, CoreError> {
        let tenant = self.admin.tenant_of(app).await;
        let r = self.admin.create_secret(app, name, days).await;
        let target = r.as_ref().ok().map(|s| s.meta.id.to_string());
        self.record("secret.create", tenant, target, &r);
        r
    }

    /// Rotates a secret: creates a new one (same name, default lifetime) and cuts the old one's
    /// expiry to now + `grace`, in one transaction, so that an integration can switch over
    /// without downtime. The new secret counts against the limit like any other.
    pub async fn rotate_secret(
        &self,
        app: ClientId,
        old: SecretId,
        grace: Duration,
    ) -> Result<CreatedSecret, CoreError> {
        let tenant = self.admin.tenant_of(app).await;
        let r = self.admin.rotate_secret(app, old, grace).await;
        self.record("secret.rotate", tenant, Some(old.to_string()), &r);
        r
    }

    /// Deletes one secret of one application.
    pub async fn delete_secret(&self, app: ClientId, id: SecretId) -> Result<(), CoreError> {
        let tenant = self.admin.tenant_of(app).await;
        let r = self.admin.delete_secret(app, id).await;
        self.record("secret.delete", tenant, Some(id.to_string()), &r);
        r
    }
}

/// The metadata key under which a database remembers its master key's fingerprint.
const MASTER_FINGERPRINT: &str = "master_key_fingerprint";

/// Binds a database to a master key on first use, and refuses any other key afterwards: with the
/// wrong key every secret would silently fail to verify and no signing key would decrypt.
pub async fn check_master_key(
    store: &dyn Store,
    master: &crate::master::MasterKey,
) -> Result<(), CoreError> {
    let fp = master.fingerprint();
    let stored = store.meta_init(MASTER_FINGERPRINT, &fp).await?;
    if stored == fp {
        Ok(())
    } else {
        Err(CoreError::Conflict(
            "the master key does not match this database (it was initialised with another key; check TESSERA_MASTER_KEY or the master.key file)".into(),
        ))
    }
}
