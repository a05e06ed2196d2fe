//! The storage port. One implementation per engine (SQLite, PostgreSQL); the core never sees SQL.
//!
//! Change propagation: every mutation bumps a database-wide sequence number in the same
//! transaction and stamps the rows it touched with it. A node polls [`Store::changes_since`] with
//! the last sequence it has seen and applies what came back; that is how a change made by the CLI,
//! or by another node, reaches every running server within a second. Deletions are tombstones for
//! the same reason.

use crate::audit::{AuditEvent, AuditQuery};
use crate::ids::{ClientId, SecretId, TenantId, UserId};
use crate::keys::KeyRecord;
use crate::model::{AppStatus, Application, SecretMeta, StoredSecret, Tenant, TenantStatus};
use crate::people::{Person, Session, StoredPerson};
use crate::webhooks::StoredWebhook;
use async_trait::async_trait;
use tessera_proto::Revocation;
use time::OffsetDateTime;

/// What a storage failure keeps of its cause: the driver's error, or a message for corrupt data.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// A storage failure, independent of the engine. The driver's error stays reachable through
/// `source()`, so that logs show why.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist (or is a tombstone where a live row is required).
    #[error("not found")]
    NotFound,
    /// A uniqueness or consistency rule refused the change.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The application already has the maximum number of unexpired secrets.
    #[error("secret limit reached")]
    SecretLimit,
    /// The database cannot be reached or refused the operation.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Cause),
    /// Anything else: corrupt data, a driver error.
    #[error("storage error: {0}")]
    Other(#[source] Cause),
}

/// Everything that changed after a sequence number.
#[derive(Debug, Default)]
pub struct ChangeSet {
    /// The sequence number to ask from next time.
    pub seq: i64,
    /// Tenants created or changed (tombstones included).
    pub tenants: Vec<Tenant>,
    /// Applications created or changed (tombstones included).
    pub apps: Vec<Application>,
    /// Secrets created or deleted (tombstones included).
    pub secrets: Vec<StoredSecret>,
    /// Whether any signing key was added or removed.
    pub keys_changed: bool,
    /// Revocation records added or extended, in change order.
    pub revocations: Vec<RevocationRecord>,
}

/// A revocation record as the store keeps it: the wire record, the change that wrote it and the
/// tenant it belongs to. The tenant stays on this side of the wire: the revocation feed uses it
/// to choose who may read the record, and a guard never sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationRecord {
    /// The sequence number of the change that wrote (or last extended) it.
    pub seq: i64,
    /// The tenant of what it revokes: the secret's or application's tenant, the tenant itself,
    /// or for a token (by jti) the tenant of the client that revoked it. `None` for records
    /// written before tenants were recorded.
    pub tenant: Option<TenantId>,
    /// The record as resource servers read it.
    pub revocation: Revocation,
}

/// The store. All methods are single transactions; a failed call changes nothing.
#[async_trait]
pub trait Store: PeopleStore + WebhookStore + Send + Sync + 'static {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Reads a metadata value.
    async fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Writes `value` unless `key` already has one; returns the value stored.
    async fn meta_init(&self, key: &str, value: &str) -> Result<String, StoreError>;

    /// Inserts a tenant. Its parent, if any, must exist.
    async fn create_tenant(&self, t: &Tenant) -> Result<(), StoreError>;
    /// Reads a tenant, tombstones included.
    async fn get_tenant(&self, id: TenantId) -> Result<Tenant, StoreError>;
    /// Every tenant, tombstones included, by creation time.
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    /// Changes a tenant's status, recording `revoke` (as the tenant's own) in the same
    /// transaction. A deleted tenant cannot change again (`Conflict`).
    async fn set_tenant_status(
        &self,
        id: TenantId,
        status: TenantStatus,
        revoke: Option<&Revocation>,
    ) -> Result<Tenant, StoreError>;

    /// Inserts an application. Its tenant must exist and not be deleted.
    async fn create_app(&self, a: &Application) -> Result<(), StoreError>;
    /// Reads an application; tombstones are `NotFound`.
    async fn get_app(&self, id: ClientId) -> Result<Application, StoreError>;
    /// The live applications of a tenant, by creation time.
    async fn list_apps(&self, tenant: TenantId) -> Result<Vec<Application>, StoreError>;
    /// Changes an application's status, recording `revoke` (as its tenant's) in the same
    /// transaction; `Deleted` also deletes its secrets.
    async fn set_app_status(
        &self,
        id: ClientId,
        status: AppStatus,
        revoke: Option<&Revocation>,
    ) -> Result<Application, StoreError>;

    /// Inserts a secret unless its application already has `max_active` unexpired secrets at
    /// `now` (`SecretLimit`). The caller's policy is the only limit (the schema has none); the
    /// check and the insert are one transaction that no concurrent insert for the same
    /// application can interleave with.
    async fn create_secret(
        &self,
        s: &StoredSecret,
        max_active: usize,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The live secrets of an application, by creation time.
    async fn list_secrets(&self, app: ClientId) -> Result<Vec<SecretMeta>, StoreError>;
    /// Deletes one secret of one application, recording `revoke` (as the application's
    /// tenant's) in the same transaction.
    async fn delete_secret(
        &self,
        app: ClientId,
        id: SecretId,
        revoke: Option<&Revocation>,
    ) -> Result<(), StoreError>;
    /// Records a revocation (a token by jti, from RFC 7009 revocation) as `tenant`'s, the
    /// revoking client's tenant. A record that exists already keeps the tenant it has.
    async fn insert_revocation(
        &self,
        r: &Revocation,
        tenant: Option<TenantId>,
    ) -> Result<(), StoreError>;
    /// Forgets revocations that cover no live token at `now` (epoch seconds); returns how many.
    async fn purge_revocations(&self, now: i64) -> Result<u64, StoreError>;
    /// Rotation in one transaction: inserts `new` (subject to the same limit as
    /// [`Store::create_secret`]) and moves the expiry of `old` (a live secret of the same
    /// application) to `old_expires_at` if that is earlier than its current expiry.
    async fn rotate_secret(
        &self,
        new: &StoredSecret,
        old: SecretId,
        old_expires_at: OffsetDateTime,
        max_active: usize,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Live secrets of live applications that expire in `[now, before)`, soonest first, limited
    /// to one tenant when `tenant` is given. Returns each with its application's tenant.
    async fn list_expiring(
        &self,
        now: OffsetDateTime,
        before: OffsetDateTime,
        tenant: Option<TenantId>,
    ) -> Result<Vec<(TenantId, SecretMeta)>, StoreError>;
    /// Renames an application.
    async fn rename_app(&self, id: ClientId, name: &str) -> Result<Application, StoreError>;

    /// Appends audit events.
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError>;
    /// Reads audit events, oldest first.
    async fn query_audit(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError>;
    /// Deletes at most `limit` audit events older than `before`, oldest first; returns how many.
    /// Callers repeat until fewer than `limit` go, so that no single statement holds the
    /// database's write lock for long.
    async fn purge_audit(&self, before: OffsetDateTime, limit: u32) -> Result<u64, StoreError>;

    /// Inserts a signing key unconditionally (rotation).
    async fn insert_key(&self, k: &KeyRecord) -> Result<(), StoreError>;
    /// Inserts a signing key only if no key of its algorithm is still waiting to activate at
    /// `now`; returns whether it did. Scheduled rotation uses it, so that two nodes rotating at
    /// the same moment add one key, not two.
    async fn insert_key_unless_pending(
        &self,
        k: &KeyRecord,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Inserts a signing key only if no key of its algorithm exists; returns whether it did.
    async fn insert_first_key(&self, k: &KeyRecord) -> Result<bool, StoreError>;
    /// Every signing key.
    async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError>;

    /// What changed after `seq` (everything, for 0).
    async fn changes_since(&self, seq: i64) -> Result<ChangeSet, StoreError>;

    /// Resolves when another process has probably committed a change (a hint: PostgreSQL's
    /// LISTEN/NOTIFY), so that nodes apply it at once instead of at their next poll. Engines
    /// without notifications never resolve; polling [`Store::changes_since`] stays the source of
    /// truth either way, and catches anything a missed notification would have announced.
    async fn changed(&self) {
        std::future::pending::<()>().await;
    }

    /// Writes `last_used_at` for a batch of secrets, never moving it backwards. Does not count as
    /// a change: it is bookkeeping, not state other nodes act on.
    async fn record_last_used(
        &self,
        batch: &[(SecretId, OffsetDateTime)],
    ) -> Result<(), StoreError>;
}

/// The store's part for the console's people and their sessions. Not part of the change feed:
/// nodes read them from the store on every use, so that a change (a sign-out, a deleted person)
/// is in effect on every node at once. All methods are single statements or transactions.
#[async_trait]
pub trait PeopleStore: Send + Sync {
    /// Inserts a person (email unique: `Conflict`; tenant must exist: `NotFound`) with the digest
    /// of their password-setup code, valid until `setup_expires`.
    async fn create_person(
        &self,
        p: &Person,
        setup_digest: &str,
        setup_expires: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Reads a person.
    async fn get_person(&self, id: UserId) -> Result<StoredPerson, StoreError>;
    /// Reads a person by (lower-case) email.
    async fn person_by_email(&self, email: &str) -> Result<StoredPerson, StoreError>;
    /// The people of a tenant, by creation time.
    async fn list_people(&self, tenant: TenantId) -> Result<Vec<Person>, StoreError>;
    /// The person whose setup code has this digest, if it is still valid at `now`.
    async fn person_by_setup(
        &self,
        digest: &str,
        now: OffsetDateTime,
    ) -> Result<Person, StoreError>;
    /// Sets the password hash of the person whose setup code has this digest and is valid at
    /// `now`, and voids the code, in one statement: a code works once.
    async fn redeem_setup(
        &self,
        digest: &str,
        now: OffsetDateTime,
        password_hash: &str,
    ) -> Result<Person, StoreError>;
    /// Gives a person a new setup code (the previous one stops working); `NotFound` when there
    /// is no such person.
    async fn renew_setup(
        &self,
        id: UserId,
        setup_digest: &str,
        setup_expires: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Deletes a person and their sessions.
    async fn delete_person(&self, id: UserId) -> Result<(), StoreError>;
    /// Inserts a session.
    async fn create_session(&self, s: &Session) -> Result<(), StoreError>;
    /// A session by digest, with its person.
    async fn get_session(&self, digest: &str) -> Result<Option<(Session, Person)>, StoreError>;
    /// Moves a session's last use to `at`.
    async fn touch_session(&self, digest: &str, at: OffsetDateTime) -> Result<(), StoreError>;
    /// Deletes a session (nothing when there is none).
    async fn delete_session(&self, digest: &str) -> Result<(), StoreError>;
    /// Deletes sessions last used before `idle_before` or created before `created_before`;
    /// returns how many.
    async fn purge_sessions(
        &self,
        idle_before: OffsetDateTime,
        created_before: OffsetDateTime,
    ) -> Result<u64, StoreError>;
}

/// The store's part for secret-expiry webhooks. Not part of the change feed: the sender reads
/// them when it runs.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Sets a tenant's webhook, replacing any it had (its tenant must exist: `NotFound`).
    async fn put_webhook(&self, w: &StoredWebhook) -> Result<(), StoreError>;
    /// A tenant's webhook.
    async fn get_webhook(&self, tenant: TenantId) -> Result<Option<StoredWebhook>, StoreError>;
    /// Removes a tenant's webhook (`NotFound` when it has none).
    async fn delete_webhook(&self, tenant: TenantId) -> Result<(), StoreError>;
    /// Records that the notice of `secret` for `day` is being sent, unless some node did
    /// already: true for exactly one caller, whichever node it runs on.
    async fn claim_notice(
        &self,
        secret: SecretId,
        day: i64,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Forgets the notices of days before `day`; returns how many.
    async fn purge_notices(&self, day: i64) -> Result<u64, StoreError>;
}
