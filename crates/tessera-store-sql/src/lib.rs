//! What tessera's SQL stores share: every query, written once in SQL that SQLite and PostgreSQL
//! both accept (`$N` parameters, `CASE` for the larger or smaller of two values, `CAST` where a
//! parameter's type must be spelled out), and the [`Store`] implementation around them. An
//! engine crate supplies an [`Engine`]: how to open the database, which errors mean it is
//! unavailable, what a write transaction adds, and change notifications.
//!
//! Change propagation: every write transaction first bumps the single `change_seq` row. That
//! takes the engine's write lock (SQLite) or the row lock (PostgreSQL) at once, so writers are
//! serialised, sequence numbers follow commit order, and a check followed by an insert (the
//! secret limit, first-key creation) cannot race.

pub mod bulk;
mod people;
mod rows;
mod webhooks;

use async_trait::async_trait;
use rows::*;
use sqlx::error::DatabaseError;
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Transaction, Type,
};
use tessera_core::audit::{AuditEvent, AuditQuery};
use tessera_core::ids::{ClientId, SecretId, TenantId};
use tessera_core::keys::KeyRecord;
use tessera_core::model::{AppStatus, Application, SecretMeta, StoredSecret, Tenant, TenantStatus};
use tessera_core::proto::Revocation;
use tessera_core::store::{ChangeSet, Store, StoreError};
use time::{Date, OffsetDateTime, Time};

/// What differs between the SQL engines.
#[async_trait]
pub trait Engine: Send + Sync + Sized + 'static {
    /// The sqlx driver.
    type Db: Database + sqlx::database::HasStatementCache;
    /// The store's name in `Debug` output.
    const NAME: &'static str;
    /// Appended to the query that checks an application before a secret is added to it: a row
    /// lock where the engine has them, so that two inserts for one application queue up even
    /// without the change counter's lock.
    const LOCK_ROW: &'static str;
    /// Run first in the change feed's read transaction, when the engine needs it to read one
    /// snapshot.
    const SNAPSHOT: Option<&'static str>;
    /// Secrets per `last_used_at` statement (two parameters each). The cost of a statement's
    /// parsing and binding is the engine's: see the SQLite and PostgreSQL values.
    const USAGE_BATCH: usize;

    /// Opens the database at `url` and applies the engine's migrations.
    async fn open(url: &str) -> Result<(Pool<Self::Db>, Self), OpenError>;

    /// Run in every write transaction after the change counter was bumped.
    async fn on_write(_tx: &mut <Self::Db as Database>::Connection) -> Result<(), sqlx::Error> {
        Ok(())
    }

    /// How many rows a statement changed (sqlx has no engine-independent accessor).
    fn rows_affected(r: &<Self::Db as Database>::QueryResult) -> u64;

    /// Whether a database error means "unavailable" (try again later) rather than a failure.
    fn is_unavailable(_e: &dyn DatabaseError) -> bool {
        false
    }

    /// Reads everything (a node's first load) with `read` on the engine's own reader, in one
    /// read transaction, where the engine has a reader cheaper than sqlx's; `None` reads through
    /// sqlx.
    async fn read_all(&self, _read: ReadAll) -> Option<Result<ChangeSet, StoreError>> {
        None
    }

    /// See [`Store::changed`].
    async fn changed(&self) {
        std::future::pending::<()>().await;
    }
}

/// What [`Engine::read_all`] runs on the engine's reader: [`bulk::read_all`].
pub type ReadAll = fn(&mut dyn bulk::BulkRead) -> Result<ChangeSet, StoreError>;

/// Why the database could not be opened: one line naming the database and the problem.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OpenError(pub String);

/// A driver error in one line: the database's own message when it has one.
pub fn short_error(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => d.message().to_owned(),
        other => other.to_string(),
    }
}

/// A migration error in one line.
pub fn short_migrate_error(e: &sqlx::migrate::MigrateError) -> String {
    use sqlx::migrate::MigrateError as M;
    match e {
        M::Execute(inner) => short_error(inner),
        M::VersionMissing(v) => format!(
            "the database was written by a newer tessera (migration {v} is unknown to this version)"
        ),
        other => other.to_string(),
    }
}

fn map_err<E: Engine>(e: sqlx::Error) -> StoreError {
    let unavailable = match &e {
        sqlx::Error::RowNotFound => return StoreError::NotFound,
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            return StoreError::Conflict("already exists".into());
        }
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => return StoreError::NotFound,
        sqlx::Error::Database(d) => E::is_unavailable(d.as_ref()),
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    };
    if unavailable {
        StoreError::Unavailable(Box::new(e))
    } else {
        StoreError::Other(Box::new(e))
    }
}

/// A store on engine `E`.
pub struct SqlStore<E: Engine> {
    pool: Pool<E::Db>,
    engine: E,
}

impl<E: Engine> std::fmt::Debug for SqlStore<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(E::NAME)
    }
}

impl<E: Engine> SqlStore<E> {
    /// Opens the database at `url` and applies migrations. Errors name the database (never its
    /// password) and the problem in one line.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        let (pool, engine) = E::open(url).await?;
        Ok(SqlStore { pool, engine })
    }

    /// The connection pool (benchmarks and tests).
    pub fn pool(&self) -> &Pool<E::Db> {
        &self.pool
    }
}

type Tx<E> = Transaction<'static, <E as Engine>::Db>;

// The same bounds twice (here and on the `Store` impl): they hold for every sqlx driver, but
// Rust does not carry where-clauses from a trait to its users, so each generic impl names them.
impl<E: Engine> SqlStore<E>
where
    for<'c> &'c mut <E::Db as Database>::Connection: Executor<'c, Database = E::Db>,
    for<'q> <E::Db as Database>::Arguments<'q>: IntoArguments<'q, E::Db>,
    for<'r> &'r str: ColumnIndex<<E::Db as Database>::Row>,
    usize: ColumnIndex<<E::Db as Database>::Row>,
    for<'q> String: Encode<'q, E::Db> + Decode<'q, E::Db> + Type<E::Db>,
    for<'q> i64: Encode<'q, E::Db> + Decode<'q, E::Db> + Type<E::Db>,
    for<'q> Vec<u8>: Encode<'q, E::Db> + Decode<'q, E::Db> + Type<E::Db>,
    for<'q> Option<String>: Encode<'q, E::Db> + Type<E::Db>,
    for<'q> Option<i64>: Encode<'q, E::Db> + Type<E::Db>,
{
    /// Starts a write transaction: bumps the change counter first (see the crate documentation)
    /// and returns the new sequence number.
    async fn begin_write(&self) -> Result<(Tx<E>, i64), StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err::<E>)?;
        let seq: i64 = sqlx::query_scalar(
            "UPDATE change_seq SET value = value + 1 WHERE id = 1 RETURNING value",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err::<E>)?;
        E::on_write(&mut *tx).await.map_err(map_err::<E>)?;
        Ok((tx, seq))
    }

    /// The sequence number of the last change.
    async fn seq(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT value FROM change_seq WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err::<E>)
    }

    /// Sets one column of a live application and returns the application.
    async fn update_app(
        tx: &mut Tx<E>,
        id: ClientId,
        column: &str,
        value: String,
        seq: i64,
    ) -> Result<Application, StoreError> {
        let r: AppRow = sqlx::query_as(&format!(
            "UPDATE applications SET {column} = $1, seq = $2
             WHERE client_id = $3 AND status <> 'deleted' RETURNING {APP_COLS}"
        ))
        .bind(value)
        .bind(seq)
        .bind(id.to_string())
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err::<E>)?;
        r.try_into()
    }

    /// Inserts a secret into a live application unless it already has `max_active` unexpired
    /// secrets. The application row is locked and the transaction holds the write lock, so two
    /// writers cannot both pass the count.
    async fn insert_secret(
        tx: &mut Tx<E>,
        s: &StoredSecret,
        max_active: usize,
        now: OffsetDateTime,
        seq: i64,
    ) -> Result<(), StoreError> {
        let client = s.meta.client_id.to_string();
        sqlx::query(&format!(
            "SELECT client_id FROM applications WHERE client_id = $1 AND status <> 'deleted'{}",
            E::LOCK_ROW
        ))
        .bind(client.clone())
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err::<E>)?;
        let active: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM secrets WHERE client_id = $1 AND deleted = 0 AND expires_at > $2",
        )
        .bind(client.clone())
        .bind(ts(now))
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err::<E>)?;
        if usize::try_from(active).unwrap_or(usize::MAX) >= max_active {
            return Err(StoreError::SecretLimit);
        }
        sqlx::query(
            "INSERT INTO secrets (id, client_id, name, digest, created_at, expires_at, deleted, seq)
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7)",
        )
        .bind(s.meta.id.to_string())
        .bind(client)
        .bind(s.meta.name.clone())
        .bind(s.digest.0.to_vec())
        .bind(ts(s.meta.created_at))
        .bind(ts(s.meta.expires_at))
        .bind(seq)
        .execute(&mut **tx)
        .await
        .map_err(map_err::<E>)?;
        Ok(())
    }

    /// Records a revocation, if any, as `tenant`'s, or extends an existing one for the same
    /// subject. An existing record keeps its tenant (a subject belongs to one tenant); one
    /// written before tenants were recorded gets this one.
    async fn revoke(
        tx: &mut Tx<E>,
        r: Option<&Revocation>,
        tenant: Option<TenantId>,
        seq: i64,
    ) -> Result<(), StoreError> {
        let Some(r) = r else { return Ok(()) };
        sqlx::query(
            "INSERT INTO revocations (kind, subject, before, expires, seq, tenant_id)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (kind, subject) DO UPDATE SET
                 before = CASE WHEN revocations.before > excluded.before
                               THEN revocations.before ELSE excluded.before END,
                 expires = CASE WHEN revocations.expires > excluded.expires
                                THEN revocations.expires ELSE excluded.expires END,
                 seq = excluded.seq,
                 tenant_id = COALESCE(revocations.tenant_id, excluded.tenant_id)",
        )
        .bind(kind_str(r.kind).to_owned())
        .bind(r.id.clone())
        .bind(r.before)
        .bind(r.expires)
        .bind(seq)
        .bind(tenant.map(|t| t.to_string()))
        .execute(&mut **tx)
        .await
        .map_err(map_err::<E>)?;
        Ok(())
    }

    async fn insert_key_with(tx: &mut Tx<E>, k: &KeyRecord, seq: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, created_at, activates_at, sealed_key, seq)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(k.kid.clone())
        .bind(k.alg.as_str().to_owned())
        .bind(ts(k.created_at))
        .bind(ts(k.activates_at))
        .bind(k.sealed_private_key.clone())
        .bind(seq)
        .execute(&mut **tx)
        .await
        .map_err(map_err::<E>)?;
        Ok(())
    }

    /// The rows of `table` changed after `since`, in change order; for 0 and a table whose
    /// rows need no order (one row per key), every row in table order. A node's first load
    /// then reads the whole table in a plain scan, not a walk of the `seq` index that fetches
    /// each row by a random read.
    async fn rows_since<R, T>(
        tx: &mut Tx<E>,
        cols: &str,
        table: &str,
        since: i64,
        ordered: bool,
    ) -> Result<Vec<T>, StoreError>
    where
        R: for<'r> sqlx::FromRow<'r, <E::Db as Database>::Row> + Send + Unpin,
        T: TryFrom<R, Error = StoreError>,
    {
        let rows: Vec<R> = if since == 0 && !ordered {
            sqlx::query_as(&format!("SELECT {cols} FROM {table}"))
                .fetch_all(&mut **tx)
                .await
        } else {
            sqlx::query_as(&format!(
                "SELECT {cols} FROM {table} WHERE seq > $1 ORDER BY seq"
            ))
            .bind(since)
            .fetch_all(&mut **tx)
            .await
        }
        .map_err(map_err::<E>)?;
        convert(rows)
    }
}

#[async_trait]
impl<E: Engine> Store for SqlStore<E>
where
    for<'c> &'c mut <E::Db as Database>::Connection: Executor<'c, Database = E::Db>,
    for<'q> <E::Db as Database>::Arguments<'q>: IntoArguments<'q, E::Db>,
    for<'r> &'r str: ColumnIndex<<E::Db as Database>::Row>,
    usize: ColumnIndex<<E::Db as Database>::Row>,
    for<'q> String: Encode<'q, E::Db> + Decode<'q, E::Db> + Type<E::Db>,
    for<'q> i64: Encode<'q, E::Db> + Decode<'q, E::Db> + Type<E::Db>,
    for<'q> Vec<u8>: Encode<'q, E::Db> + Decode<'q, E::Db> + Type<E::Db>,
    for<'q> Option<String>: Encode<'q, E::Db> + Type<E::Db>,
    for<'q> Option<i64>: Encode<'q, E::Db> + Type<E::Db>,
{
    async fn changed(&self) {
        self.engine.changed().await;
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.seq().await.map(drop)
    }

    async fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key.to_owned())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err::<E>)
    }

    async fn meta_init(&self, key: &str, value: &str) -> Result<String, StoreError> {
        let (mut tx, _) = self.begin_write().await?;
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key.to_owned())
            .bind(value.to_owned())
            .execute(&mut *tx)
            .await
            .map_err(map_err::<E>)?;
        let v: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key.to_owned())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err::<E>)?;
        tx.commit().await.map_err(map_err::<E>)?;
        Ok(v)
    }

    async fn create_tenant(&self, t: &Tenant) -> Result<(), StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO tenants (id, name, kind, parent_id, status, created_at, seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(t.id.to_string())
        .bind(t.name.clone())
        .bind(t.kind.clone())
        .bind(t.parent_id.map(|p| p.to_string()))
        .bind(t.status.as_str().to_owned())
        .bind(ts(t.created_at))
        .bind(seq)
        .execute(&mut *tx)
        .await
        .map_err(map_err::<E>)?;
        tx.commit().await.map_err(map_err::<E>)
    }

    async fn get_tenant(&self, id: TenantId) -> Result<Tenant, StoreError> {
        let r: TenantRow =
            sqlx::query_as(&format!("SELECT {TENANT_COLS} FROM tenants WHERE id = $1"))
                .bind(id.to_string())
                .fetch_one(&self.pool)
                .await
                .map_err(map_err::<E>)?;
        r.try_into()
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let rows: Vec<TenantRow> = sqlx::query_as(&format!(
            "SELECT {TENANT_COLS} FROM tenants ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err::<E>)?;
        convert(rows)
    }

    async fn set_tenant_status(
        &self,
        id: TenantId,
        status: TenantStatus,
        revoke: Option<&Revocation>,
    ) -> Result<Tenant, StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        let current: String = sqlx::query_scalar("SELECT status FROM tenants WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err::<E>)?;
        if current == TenantStatus::Deleted.as_str() {
            return Err(StoreError::Conflict("the tenant is deleted".into()));
        }
        let r: TenantRow = sqlx::query_as(&format!(
            "UPDATE tenants SET status = $1, seq = $2 WHERE id = $3 RETURNING {TENANT_COLS}"
        ))
        .bind(status.as_str().to_owned())
        .bind(seq)
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err::<E>)?;
        Self::revoke(&mut tx, revoke, Some(id), seq).await?;
        tx.commit().await.map_err(map_err::<E>)?;
        r.try_into()
    }

    async fn create_app(&self, a: &Application) -> Result<(), StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        let status: String = sqlx::query_scalar("SELECT status FROM tenants WHERE id = $1")
            .bind(a.tenant_id.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err::<E>)?;
        if status == TenantStatus::Deleted.as_str() {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "INSERT INTO applications (client_id, tenant_id, name, role, status, created_at, seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(a.client_id.to_string())
        .bind(a.tenant_id.to_string())
        .bind(a.name.clone())
        .bind(a.role.clone())
        .bind(a.status.as_str().to_owned())
        .bind(ts(a.created_at))
        .bind(seq)
        .execute(&mut *tx)
        .await
        .map_err(map_err::<E>)?;
        tx.commit().await.map_err(map_err::<E>)
    }

    async fn get_app(&self, id: ClientId) -> Result<Application, StoreError> {
        let r: AppRow = sqlx::query_as(&format!(
            "SELECT {APP_COLS} FROM applications WHERE client_id = $1 AND status <> 'deleted'"
        ))
        .bind(id.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(map_err::<E>)?;
        r.try_into()
    }

    async fn list_apps(&self, tenant: TenantId) -> Result<Vec<Application>, StoreError> {
        let rows: Vec<AppRow> = sqlx::query_as(&format!(
            "SELECT {APP_COLS} FROM applications WHERE tenant_id = $1 AND status <> 'deleted'
             ORDER BY created_at, client_id"
        ))
        .bind(tenant.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err::<E>)?;
        convert(rows)
    }

    async fn set_app_status(
        &self,
        id: ClientId,
        status: AppStatus,
        revoke: Option<&Revocation>,
    ) -> Result<Application, StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        let app = Self::update_app(&mut tx, id, "status", status.as_str().to_owned(), seq).await?;
        if status == AppStatus::Deleted {
            sqlx::query(
                "UPDATE secrets SET deleted = 1, seq = $1 WHERE client_id = $2 AND deleted = 0",
            )
            .bind(seq)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err::<E>)?;
        }
        Self::revoke(&mut tx, revoke, Some(app.tenant_id), seq).await?;
        tx.commit().await.map_err(map_err::<E>)?;
        Ok(app)
    }

    async fn create_secret(
        &self,
        s: &StoredSecret,
        max_active: usize,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        Self::insert_secret(&mut tx, s, max_active, now, seq).await?;
        tx.commit().await.map_err(map_err::<E>)
    }

    async fn list_secrets(&self, app: ClientId) -> Result<Vec<SecretMeta>, StoreError> {
        let rows: Vec<SecretMetaRow> = sqlx::query_as(&format!(
            "SELECT {SECRET_COLS} FROM {SECRETS_FROM} WHERE client_id = $1 AND deleted = 0
             ORDER BY created_at, id"
        ))
        .bind(app.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err::<E>)?;
        convert(rows)
    }

    async fn delete_secret(
        &self,
        app: ClientId,
        id: SecretId,
        revoke: Option<&Revocation>,
    ) -> Result<(), StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE secrets SET deleted = 1, seq = $1 WHERE id = $2 AND client_id = $3 AND deleted = 0",
        )
        .bind(seq)
        .bind(id.to_string())
        .bind(app.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err::<E>)?;
        if E::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        if revoke.is_some() {
            // The secret's row matched, so its application exists (perhaps disabled).
            let tenant: String =
                sqlx::query_scalar("SELECT tenant_id FROM applications WHERE client_id = $1")
                    .bind(app.to_string())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(map_err::<E>)?;
            let tenant = parse("tenant id", &tenant)?;
            Self::revoke(&mut tx, revoke, Some(tenant), seq).await?;
        }
        tx.commit().await.map_err(map_err::<E>)
    }

    async fn insert_revocation(
        &self,
        r: &Revocation,
        tenant: Option<TenantId>,
    ) -> Result<(), StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        Self::revoke(&mut tx, Some(r), tenant, seq).await?;
        tx.commit().await.map_err(map_err::<E>)
    }

    async fn purge_revocations(&self, now: i64) -> Result<u64, StoreError> {
        // Nodes forget expired records by themselves: no sequence bump.
        let done = sqlx::query("DELETE FROM revocations WHERE expires < $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err::<E>)?;
        Ok(E::rows_affected(&done))
    }

    async fn rotate_secret(
        &self,
        new: &StoredSecret,
        old: SecretId,
        old_expires_at: OffsetDateTime,
        max_active: usize,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        let client = new.meta.client_id.to_string();
        sqlx::query(
            "SELECT s.id FROM secrets s JOIN applications a ON a.client_id = s.client_id
             WHERE s.id = $1 AND s.client_id = $2 AND s.deleted = 0 AND a.status <> 'deleted'",
        )
        .bind(old.to_string())
        .bind(client.clone())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err::<E>)?;
        sqlx::query(
            "UPDATE secrets SET seq = $2,
                 expires_at = CASE WHEN expires_at < $1 THEN expires_at ELSE $1 END
             WHERE id = $3 AND client_id = $4",
        )
        .bind(ts(old_expires_at))
        .bind(seq)
        .bind(old.to_string())
        .bind(client)
        .execute(&mut *tx)
        .await
        .map_err(map_err::<E>)?;
        Self::insert_secret(&mut tx, new, max_active, now, seq).await?;
        tx.commit().await.map_err(map_err::<E>)
    }

    async fn list_expiring(
        &self,
        now: OffsetDateTime,
        before: OffsetDateTime,
        tenant: Option<TenantId>,
    ) -> Result<Vec<(TenantId, SecretMeta)>, StoreError> {
        let rows: Vec<ExpiringRow> = sqlx::query_as(&format!(
            "SELECT secrets.id, secrets.client_id, secrets.name, secrets.created_at,
                    secrets.expires_at, u.last_used_at, a.tenant_id
             FROM {SECRETS_FROM} JOIN applications a ON a.client_id = secrets.client_id
             WHERE secrets.deleted = 0 AND a.status <> 'deleted'
               AND secrets.expires_at > $1 AND secrets.expires_at < $2
               AND (CAST($3 AS TEXT) IS NULL OR a.tenant_id = $3)
             ORDER BY secrets.expires_at, secrets.id"
        ))
        .bind(ts(now))
        .bind(ts(before))
        .bind(tenant.map(|t| t.to_string()))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err::<E>)?;
        convert(rows)
    }

    async fn rename_app(&self, id: ClientId, name: &str) -> Result<Application, StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        let app = Self::update_app(&mut tx, id, "name", name.to_owned(), seq).await?;
        tx.commit().await.map_err(map_err::<E>)?;
        Ok(app)
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        // Not a change other nodes act on: no sequence bump.
        let mut tx = self.pool.begin().await.map_err(map_err::<E>)?;
        for e in events {
            sqlx::query(
                "INSERT INTO audit_log (at, actor, tenant_id, action, target, outcome, source)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(micros(e.at))
            .bind(e.actor.clone())
            .bind(e.tenant_id.map(|t| t.to_string()))
            .bind(e.action.clone())
            .bind(e.target.clone())
            .bind(e.outcome.as_str().to_owned())
            .bind(e.source.clone())
            .execute(&mut *tx)
            .await
            .map_err(map_err::<E>)?;
        }
        tx.commit().await.map_err(map_err::<E>)
    }

    async fn query_audit(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let limit = if q.limit == 0 {
            1000
        } else {
            q.limit.min(10_000)
        };
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT at, actor, tenant_id, action, target, outcome, source FROM (
                 SELECT * FROM audit_log
                 WHERE (CAST($1 AS TEXT) IS NULL OR tenant_id = $1)
                   AND (CAST($2 AS BIGINT) IS NULL OR at >= $2)
                 ORDER BY at DESC, id DESC LIMIT $3
             ) AS recent ORDER BY at, id",
        )
        .bind(q.tenant_id.map(|t| t.to_string()))
        .bind(q.since.map(micros))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err::<E>)?;
        convert(rows)
    }

    async fn purge_audit(&self, before: OffsetDateTime, limit: u32) -> Result<u64, StoreError> {
        // Not a change other nodes act on: no sequence bump. The subquery bounds the batch
        // (neither engine has DELETE ... LIMIT in its default build).
        let done = sqlx::query(
            "DELETE FROM audit_log WHERE id IN (
                 SELECT id FROM audit_log WHERE at < $1 ORDER BY at LIMIT $2
             )",
        )
        .bind(micros(before))
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map_err(map_err::<E>)?;
        Ok(E::rows_affected(&done))
    }

    async fn insert_key(&self, k: &KeyRecord) -> Result<(), StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        Self::insert_key_with(&mut tx, k, seq).await?;
        tx.commit().await.map_err(map_err::<E>)
    }

    /// Check and insert share the write lock, so racing nodes add one key.
    async fn insert_key_unless_pending(
        &self,
        k: &KeyRecord,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        let existing: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM signing_keys WHERE alg = $1 AND activates_at > $2",
        )
        .bind(k.alg.as_str().to_owned())
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err::<E>)?;
        if existing > 0 {
            return Ok(false);
        }
        Self::insert_key_with(&mut tx, k, seq).await?;
        tx.commit().await.map_err(map_err::<E>)?;
        Ok(true)
    }

    async fn insert_first_key(&self, k: &KeyRecord) -> Result<bool, StoreError> {
        // Every key activates after the earliest representable time.
        self.insert_key_unless_pending(k, OffsetDateTime::new_utc(Date::MIN, Time::MIDNIGHT))
            .await
    }

    async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let rows: Vec<KeyRow> = sqlx::query_as(&format!(
            "SELECT {KEY_COLS} FROM signing_keys ORDER BY activates_at, kid"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err::<E>)?;
        convert(rows)
    }

    async fn changes_since(&self, since: i64) -> Result<ChangeSet, StoreError> {
        if since == 0
            && let Some(all) = self.engine.read_all(bulk::read_all).await
        {
            return all;
        }
        let seq = self.seq().await?;
        if seq == since {
            return Ok(ChangeSet {
                seq,
                ..ChangeSet::default()
            });
        }
        // One read transaction: a consistent snapshot at `seq` or later. Rows changed after
        // `seq` may appear too; applying them twice is harmless.
        let mut tx = self.pool.begin().await.map_err(map_err::<E>)?;
        if let Some(sql) = E::SNAPSHOT {
            sqlx::query(sql)
                .execute(&mut *tx)
                .await
                .map_err(map_err::<E>)?;
        }
        let tenants =
            Self::rows_since::<TenantRow, _>(&mut tx, TENANT_COLS, "tenants", since, false);
        let tenants = tenants.await?;
        let apps = Self::rows_since::<AppRow, _>(&mut tx, APP_COLS, "applications", since, false);
        let apps = apps.await?;
        let secrets =
            Self::rows_since::<SecretRow, _>(&mut tx, SECRET_COLS, SECRETS_FROM, since, false);
        let secrets = secrets.await?;
        let revocations = Self::rows_since::<RevocationRow, _>(
            &mut tx,
            REVOCATION_COLS,
            "revocations",
            since,
            true,
        );
        let revocations = revocations.await?;
        let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys WHERE seq > $1")
            .bind(since)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err::<E>)?;
        tx.commit().await.map_err(map_err::<E>)?;
        Ok(ChangeSet {
            seq,
            tenants,
            apps,
            secrets,
            keys_changed: keys > 0,
            revocations,
        })
    }

    async fn record_last_used(
        &self,
        batch: &[(SecretId, OffsetDateTime)],
    ) -> Result<(), StoreError> {
        // Sorted by id, the order `secret_usage` keeps its rows in: a chunk then writes a run of
        // neighbouring pages, not one page per secret (see the migration). One statement per
        // chunk, not one per secret: after a restart at a million merchants a flush carries tens
        // of thousands of first uses, and sqlx's SQLite driver costs a hand-over to its worker
        // thread per statement. One transaction per chunk keeps the write lock short, so a CLI
        // change or another node's write waits milliseconds, not the whole flush.
        // A UUID's byte order is its hyphenated lowercase text's order, the column's.
        let mut sorted = batch.to_vec();
        sorted.sort_unstable_by_key(|(id, _)| *id);
        for chunk in sorted.chunks(E::USAGE_BATCH) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
                .collect();
            let sql = format!(
                "INSERT INTO secret_usage (secret_id, last_used_at) VALUES {}
                 ON CONFLICT (secret_id) DO UPDATE SET last_used_at = excluded.last_used_at
                 WHERE secret_usage.last_used_at < excluded.last_used_at",
                values.join(", ")
            );
            let mut q = sqlx::query(&sql).persistent(false);
            for (id, at) in chunk {
                q = q.bind(id.to_string()).bind(ts(*at));
            }
            q.execute(&self.pool).await.map_err(map_err::<E>)?;
        }
        Ok(())
    }
}

/// A database URL as it may be shown: its password replaced by `***` (URLs name databases in
/// logs and error lines; their passwords must never be there).
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => match u.set_password(Some("***")) {
            Ok(()) => u.to_string(),
            Err(()) => "(a URL with a password)".to_owned(),
        },
        Ok(_) => url.to_owned(),
        Err(_) if !url.contains('@') => url.to_owned(),
        Err(_) => "(a URL with credentials)".to_owned(),
    }
}
