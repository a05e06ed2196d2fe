//! tessera's scale-out store: PostgreSQL through sqlx, for several stateless nodes on one
//! database. The SQL mirrors the SQLite store's; the differences are PostgreSQL's (numbered
//! parameters, `GREATEST`/`LEAST`, `BYTEA`). Every write transaction starts by bumping the
//! change counter row, which serialises writers across nodes: sequence numbers follow commit
//! order, and the two-secret limit and first-key creation cannot race.

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tessera_core::audit::{AuditEvent, AuditQuery, Outcome};
use tessera_core::ids::{ClientId, SecretId, TenantId};
use tessera_core::keys::KeyRecord;
use tessera_core::model::{AppStatus, Application, SecretMeta, StoredSecret, Tenant, TenantStatus};
use tessera_core::proto::{Algorithm, Revocation, RevocationKind};
use tessera_core::secret::Digest;
use tessera_core::store::{ChangeSet, Store, StoreError};
use time::OffsetDateTime;
use tokio::sync::Notify;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Signalled by the LISTEN task when any node commits a change.
    changed: Arc<Notify>,
}

/// The channel every change is announced on.
const CHANNEL: &str = "tessera_changes";

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostgresStore")
    }
}

/// Why the database could not be opened: one line naming the file and the problem.
#[derive(Debug)]
pub struct OpenError(pub String);

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OpenError {}

fn map_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        // The database's own guard of the two-secret limit (migration: secret_limit).
        sqlx::Error::Database(d) if d.message().contains("tessera: secret limit reached") => {
            StoreError::SecretLimit
        }
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict("already exists".into())
        }
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::NotFound,
        // Class 08 (connection exception) and 57 (operator intervention: shutdown, restart).
        sqlx::Error::Database(d)
            if d.code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57")) =>
        {
            StoreError::Unavailable(d.message().to_owned())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        other => StoreError::Other(other.to_string()),
    }
}

tessera_store_sql::row_mappers!(Postgres, PgRow);

/// Starts a write transaction: bumps the change counter first, which takes SQLite's write lock
/// at once (waiting up to the busy timeout), and returns the new sequence number.
async fn begin_write(pool: &PgPool) -> Result<(Transaction<'static, Postgres>, i64), StoreError> {
    let mut tx = pool.begin().await.map_err(map_err)?;
    let seq: i64 =
        sqlx::query_scalar("UPDATE change_seq SET value = value + 1 WHERE id = 1 RETURNING value")
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
    // Delivered to every listening node when (and only if) the transaction commits.
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANNEL)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    Ok((tx, seq))
}

impl PostgresStore {
    /// Connects to `url` (`postgres://…`) and applies migrations (under sqlx's advisory lock, so
    /// several nodes may start at once). Errors name the database, never its password.
    pub async fn open(url: &str) -> Result<PostgresStore, OpenError> {
        let shown = redact(url);
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            OpenError(format!("database {shown}: {what}: {e}"))
        };
        let opts = PgConnectOptions::from_str(url).map_err(|e| fail("invalid database URL", &e))?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            // Fail fast when the database is away: requests that need it answer 503 rather than
            // hang, and the background poll retries.
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(opts)
            .await
            .map_err(|e| fail("cannot connect", &short(&e)))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| fail("cannot apply migrations", &short_mig(&e)))?;
        let changed = Arc::new(Notify::new());
        tokio::spawn(listen(pool.clone(), Arc::downgrade(&changed)));
        Ok(PostgresStore { pool, changed })
    }

    /// The connection pool (tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Inserts a key unless one of its algorithm activates after `after` (epoch seconds):
    /// `i64::MIN` means "unless any exists" (first start), now means "unless one is pending"
    /// (scheduled rotation). Check and insert share the write lock, so racing nodes add one.
    async fn insert_key_unless_activating_after(
        &self,
        k: &KeyRecord,
        after: i64,
    ) -> Result<bool, StoreError> {
        let (mut tx, seq) = begin_write(&self.pool).await?;
        let existing: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM signing_keys WHERE alg = $1 AND activates_at > $2",
        )
        .bind(k.alg.as_str())
        .bind(after)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        if existing > 0 {
            return Ok(false);
        }
        insert_key_tx(&mut tx, k, seq).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }
}

/// Follows `LISTEN tessera_changes` for as long as the store lives, reconnecting after a
/// failure (the nodes' polling covers the gap).
async fn listen(pool: PgPool, changed: std::sync::Weak<Notify>) {
    loop {
        if changed.strong_count() == 0 {
            return;
        }
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if listener.listen(CHANNEL).await.is_ok() {
                    // A notification may have been missed while disconnected.
                    if let Some(n) = changed.upgrade() {
                        n.notify_one();
                    }
                    // `None` or an error: the connection was lost; reconnect below.
                    while let Ok(Some(_)) = listener.try_recv().await {
                        match changed.upgrade() {
                            Some(n) => n.notify_one(),
                            None => return,
                        }
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "LISTEN connection failed; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The URL without its password.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let user = url[s + 3..at].split(':').next().unwrap_or_default();
            format!("{}://{user}:***@{}", &url[..s], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

fn short(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => d.message().to_owned(),
        other => other.to_string(),
    }
}

fn short_mig(e: &sqlx::migrate::MigrateError) -> String {
    match e {
        sqlx::migrate::MigrateError::Execute(inner) => short(inner),
        sqlx::migrate::MigrateError::VersionMissing(v) => format!(
            "the database was written by a newer tessera (migration {v} is unknown to this version)"
        ),
        other => other.to_string(),
    }
}

const TENANT_COLS: &str = "id, name, kind, parent_id, status, created_at";
const APP_COLS: &str = "client_id, tenant_id, name, role, status, created_at";
const SECRET_COLS: &str =
    "id, client_id, name, digest, created_at, expires_at, last_used_at, deleted";
const KEY_COLS: &str = "kid, alg, created_at, activates_at, sealed_key";

#[async_trait]
impl Store for PostgresStore {
    async fn changed(&self) {
        self.changed.notified().await;
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT value FROM change_seq WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn meta_init(&self, key: &str, value: &str) -> Result<String, StoreError> {
        let (mut tx, _) = begin_write(&self.pool).await?;
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let v: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(v)
    }

    async fn create_tenant(&self, t: &Tenant) -> Result<(), StoreError> {
        let (mut tx, seq) = begin_write(&self.pool).await?;
        sqlx::query(
            "INSERT INTO tenants (id, name, kind, parent_id, status, created_at, seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(t.id.to_string())
        .bind(&t.name)
        .bind(&t.kind)
        .bind(t.parent_id.map(|p| p.to_string()))
        .bind(t.status.as_str())
        .bind(ts(t.created_at))
        .bind(seq)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn get_tenant(&self, id: TenantId) -> Result<Tenant, StoreError> {
        let r = sqlx::query(&format!("SELECT {TENANT_COLS} FROM tenants WHERE id = $1"))
            .bind(id.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        tenant_row(&r)
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TENANT_COLS} FROM tenants ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(tenant_row).collect()
    }

    async fn set_tenant_status(
        &self,
        id: TenantId,
        status: TenantStatus,
        revoke: Option<&Revocation>,
    ) -> Result<Tenant, StoreError> {
        let (mut tx, seq) = begin_write(&self.pool).await?;
        let current: String = sqlx::query_scalar("SELECT status FROM tenants WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        if current == "deleted" {
            return Err(StoreError::Conflict("the tenant is deleted".into()));
        }
        let r = sqlx::query(&format!(
            "UPDATE tenants SET status = $1, seq = $2 WHERE id = $3 RETURNING {TENANT_COLS}"
        ))
        .bind(status.as_str())
        .bind(seq)
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        let t = tenant_row(&r)?;
        if let Some(rv) = revoke {
            revoke_tx(&mut tx, rv, seq).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(t)
    }

    async fn create_app(&self, a: &Application) -> Result<(), StoreError> {
        let (mut tx, seq) = begin_write(&self.pool).await?;
        let status: String = sqlx::query_scalar("SELECT status FROM tenants WHERE id = $1")
            .bind(a.tenant_id.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        if status == "deleted" {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "INSERT INTO applications (client_id, tenant_id, name, role, status, created_at, seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(a.client_id.to_string())
        .bind(a.tenant_id.to_string())
        .bind(&a.name)
        .bind(&a.role)
        .bind(a.status.as_str())
        .bind(ts(a.created_at))
        .bind(seq)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn get_app(&self, id: ClientId) -> Result<Application, StoreError> {
        let r = sqlx::query(&format!(
            "SELECT {APP_COLS} FROM applications WHERE client_id = $1 AND status <> 'deleted'"
        ))
        .bind(id.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        app_row(&r)
    }

    async fn list_apps(&self, tenant: TenantId) -> Result<Vec<Application>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {APP_COLS} FROM applications WHERE tenant_id = $1 AND status <> 'deleted'
             ORDER BY created_at, client_id"
        ))
        .bind(tenant.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(app_row).collect()
    }

    async fn set_app_status(
        &self,
        id: ClientId,
        status: AppStatus,
        revoke: Option<&Revocation>,
    ) -> Result<Application, StoreError> {
        let (mut tx, seq) = begin_write(&self.pool).await?;
        let r = sqlx::query(&format!(
            "UPDATE applications SET status = $1, seq = $2
             WHERE client_id = $3 AND status <> 'deleted' RETURNING {APP_COLS}"
        ))
        .bind(status.as_str())
        .bind(seq)
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        let a = app_row(&r)?;
        if status == AppStatus::Deleted {
            sqlx::query(
                "UPDATE secrets SET deleted = 1, seq = $1 WHERE client_id = $2 AND deleted = 0",
            )
            .bind(seq)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        if let Some(rv) = revoke {
            revoke_tx(&mut tx, rv, seq).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(a)
    }

    async fn create_secret(
        &self,
        s: &StoredSecret,
        max_active: usize,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (mut tx, seq) = begin_write(&self.pool).await?;
        sqlx::query("SELECT 1 FROM applications WHERE client_id = $1 AND status <> 'deleted'")
            .bind(s.meta.client_id.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_secret_tx(&mut tx, s, max_active, now, seq).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn list_secrets(&self, app: ClientId) -> Result<Vec<SecretMeta>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SECRET_COLS} FROM secrets WHERE client_id = $1 AND deleted = 0
             ORDER BY created_at, id"
        ))
        .bind(app.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(secret_meta_row).collect()
    }

    async fn delete_secret(
        &self,
        app: ClientId,
        id: SecretId,
        revoke: Option<&Revocation>,
    ) -> Result<(), StoreError> {
        let (mut tx, seq) = begin_write(&self.pool).await?;
        let done = sqlx::query(
            "UPDATE secrets SET deleted = 1, seq = $1 WHERE id = $2 AND client_id = $3 AND deleted = 0",
        )
        .bind(seq)
        .bind(id.to_string())
        .bind(app.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if let Some(rv) = revoke {
            revoke_tx(&mut tx, rv, seq).await?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn insert_revocation(&self, r: &Revocation) -> Result<(), StoreError> {
        let (mut tx, seq) = begin_write(&self.pool).await?;
        revoke_tx(&mut tx, r, seq).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn purge_revocations(&self, now: i64) -> Result<u64, StoreError> {
        // Nodes forget expired records by themselves: no sequence bump.
        let done = sqlx::query("DELETE FROM revocations WHERE expires < $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn rotate_secret(
        &self,
        new: &StoredSecret,
        old: SecretId,
        old_expires_at: OffsetDateTime,
        max_active: usize,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (mut tx, seq) = begin_write(&self.pool).await?;
        let client = new.meta.client_id.to_string();
        sqlx::query(
            "SELECT 1 FROM secrets s JOIN applications a ON a.client_id = s.client_id
             WHERE s.id = $1 AND s.client_id = $2 AND s.deleted = 0 AND a.status <> 'deleted'",
        )
        .bind(old.to_string())
        .bind(&client)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query(
            "UPDATE secrets SET expires_at = LEAST(expires_at, $1), seq = $2 WHERE id = $3 AND client_id = $4",
        )
        .bind(ts(old_expires_at))
        .bind(seq)
        .bind(old.to_string())
        .bind(&client)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_secret_tx(&mut tx, new, max_active, now, seq).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn list_expiring(
        &self,
        now: OffsetDateTime,
        before: OffsetDateTime,
        tenant: Option<TenantId>,
    ) -> Result<Vec<(TenantId, SecretMeta)>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.id, s.client_id, s.name, s.created_at, s.expires_at, s.last_used_at, a.tenant_id
             FROM secrets s JOIN applications a ON a.client_id = s.client_id
             WHERE s.deleted = 0 AND a.status <> 'deleted' AND s.expires_at > $1 AND s.expires_at < $2
               AND ($3::text IS NULL OR a.tenant_id = $4)
             ORDER BY s.expires_at, s.id",
        )
        .bind(ts(now))
        .bind(ts(before))
        .bind(tenant.map(|t| t.to_string()))
        .bind(tenant.map(|t| t.to_string()))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok((
                    parse("tenant id", &get::<String>(r, "tenant_id")?)?,
                    secret_meta_row(r)?,
                ))
            })
            .collect()
    }

    async fn rename_app(&self, id: ClientId, name: &str) -> Result<Application, StoreError> {
        let (mut tx, seq) = begin_write(&self.pool).await?;
        let r = sqlx::query(&format!(
            "UPDATE applications SET name = $1, seq = $2
             WHERE client_id = $3 AND status <> 'deleted' RETURNING {APP_COLS}"
        ))
        .bind(name)
        .bind(seq)
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        let a = app_row(&r)?;
        tx.commit().await.map_err(map_err)?;
        Ok(a)
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        // Not a change other nodes act on: no sequence bump.
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        for e in events {
            sqlx::query(
                "INSERT INTO audit_log (at, actor, tenant_id, action, target, outcome, source)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(micros(e.at))
            .bind(&e.actor)
            .bind(e.tenant_id.map(|t| t.to_string()))
            .bind(&e.action)
            .bind(&e.target)
            .bind(e.outcome.as_str())
            .bind(&e.source)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn query_audit(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let limit = if q.limit == 0 {
            1000
        } else {
            q.limit.min(10_000)
        };
        let rows = sqlx::query(
            "SELECT at, actor, tenant_id, action, target, outcome, source FROM (
                 SELECT * FROM audit_log
                 WHERE ($1::text IS NULL OR tenant_id = $2) AND ($3::bigint IS NULL OR at >= $4)
                 ORDER BY at DESC, id DESC LIMIT $5
             ) AS recent ORDER BY at, id",
        )
        .bind(q.tenant_id.map(|t| t.to_string()))
        .bind(q.tenant_id.map(|t| t.to_string()))
        .bind(q.since.map(micros))
        .bind(q.since.map(micros))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(audit_row).collect()
    }

    async fn insert_key(&self, k: &KeyRecord) -> Result<(), StoreError> {
        let (mut tx, seq) = begin_write(&self.pool).await?;
        insert_key_tx(&mut tx, k, seq).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn insert_key_unless_pending(
        &self,
        k: &KeyRecord,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.insert_key_unless_activating_after(k, ts(now)).await
    }

    async fn insert_first_key(&self, k: &KeyRecord) -> Result<bool, StoreError> {
        self.insert_key_unless_activating_after(k, i64::MIN).await
    }

    async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLS} FROM signing_keys ORDER BY activates_at, kid"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(key_row).collect()
    }

    async fn changes_since(&self, since: i64) -> Result<ChangeSet, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        let seq: i64 = sqlx::query_scalar("SELECT value FROM change_seq WHERE id = 1")
            .fetch_one(&mut *conn)
            .await
            .map_err(map_err)?;
        if seq == since {
            return Ok(ChangeSet {
                seq,
                ..ChangeSet::default()
            });
        }
        // One read transaction: a consistent snapshot at `seq` or later. Rows changed after
        // `seq` may appear too; applying them twice is harmless.
        let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(map_err)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let tenants = rows_since(
            &mut tx,
            &format!("SELECT {TENANT_COLS} FROM tenants"),
            since,
        )
        .await?;
        let apps = rows_since(
            &mut tx,
            &format!("SELECT {APP_COLS} FROM applications"),
            since,
        )
        .await?;
        let secrets = rows_since(
            &mut tx,
            &format!("SELECT {SECRET_COLS} FROM secrets"),
            since,
        )
        .await?;
        let revocations = rows_since(
            &mut tx,
            "SELECT kind, subject, before, expires, seq FROM revocations",
            since,
        )
        .await?;
        let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys WHERE seq > $1")
            .bind(since)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(ChangeSet {
            seq,
            tenants: tenants.iter().map(tenant_row).collect::<Result<_, _>>()?,
            apps: apps.iter().map(app_row).collect::<Result<_, _>>()?,
            secrets: secrets.iter().map(secret_row).collect::<Result<_, _>>()?,
            keys_changed: keys > 0,
            revocations: revocations
                .iter()
                .map(revocation_row)
                .collect::<Result<_, _>>()?,
        })
    }

    async fn record_last_used(
        &self,
        batch: &[(SecretId, OffsetDateTime)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        for (id, at) in batch {
            sqlx::query(
                "UPDATE secrets SET last_used_at = $1
                 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
            )
            .bind(ts(*at))
            .bind(id.to_string())
            .bind(ts(*at))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }
}

/// Inserts a secret unless its application already has `max_active` unexpired secrets. The
/// count and the insert share the write transaction, so two writers cannot both pass the check.
async fn insert_secret_tx(
    tx: &mut Transaction<'static, Postgres>,
    s: &StoredSecret,
    max_active: usize,
    now: OffsetDateTime,
    seq: i64,
) -> Result<(), StoreError> {
    let client = s.meta.client_id.to_string();
    let active: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM secrets WHERE client_id = $1 AND deleted = 0 AND expires_at > $2",
    )
    .bind(&client)
    .bind(ts(now))
    .fetch_one(&mut **tx)
    .await
    .map_err(map_err)?;
    if usize::try_from(active).unwrap_or(usize::MAX) >= max_active {
        return Err(StoreError::SecretLimit);
    }
    sqlx::query(
        "INSERT INTO secrets (id, client_id, name, digest, created_at, expires_at, deleted, seq)
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7)",
    )
    .bind(s.meta.id.to_string())
    .bind(&client)
    .bind(&s.meta.name)
    .bind(&s.digest.0[..])
    .bind(ts(s.meta.created_at))
    .bind(ts(s.meta.expires_at))
    .bind(seq)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

/// Records a revocation, or extends an existing one for the same subject.
async fn revoke_tx(
    tx: &mut Transaction<'static, Postgres>,
    r: &Revocation,
    seq: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO revocations (kind, subject, before, expires, seq) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (kind, subject) DO UPDATE SET
             before = GREATEST(revocations.before, excluded.before),
             expires = GREATEST(revocations.expires, excluded.expires),
             seq = excluded.seq",
    )
    .bind(kind_str(r.kind))
    .bind(&r.id)
    .bind(r.before)
    .bind(r.expires)
    .bind(seq)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

/// The rows of `select` (a query without WHERE) changed after `since`, in change order.
async fn rows_since(
    tx: &mut Transaction<'_, Postgres>,
    select: &str,
    since: i64,
) -> Result<Vec<PgRow>, StoreError> {
    sqlx::query(&format!("{select} WHERE seq > $1 ORDER BY seq"))
        .bind(since)
        .fetch_all(&mut **tx)
        .await
        .map_err(map_err)
}

async fn insert_key_tx(
    tx: &mut Transaction<'static, Postgres>,
    k: &KeyRecord,
    seq: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, alg, created_at, activates_at, sealed_key, seq)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&k.kid)
    .bind(k.alg.as_str())
    .bind(ts(k.created_at))
    .bind(ts(k.activates_at))
    .bind(&k.sealed_private_key)
    .bind(seq)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}
