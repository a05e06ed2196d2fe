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
//!
//! What is written twice on purpose: the migrations, one set per engine crate. The schemas are
//! alike, but their types (`BLOB` and `BYTEA`, SQLite's `INTEGER PRIMARY KEY` and PostgreSQL's
//! identity columns) and triggers differ, and sqlx refuses a database whose applied migrations
//! no longer match their files, so released migrations are never merged after the fact.

pub mod bulk;
#[macro_use]
pub mod driver;
mod people;
mod rows;
mod webhooks;

use async_trait::async_trait;
use driver::{Arg, Driver, On, RowMap};
use rows::{
    APP_COLS, AUDIT_COLS, Columns, KEY_COLS, REVOCATION_COLS, SECRET_COLS, SECRETS_FROM,
    TENANT_COLS, kind_str, micros,
};
use sqlx::error::DatabaseError;
use sqlx::{Database, Pool, Transaction};
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
    type Db: Driver;
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

/// The change counter.
const SEQ: &str = "SELECT value FROM change_seq WHERE id = 1";

// Every statement of the crate runs through these four (but the uncached upsert of
// `record_last_used`), so that a driver error becomes a `StoreError` in one place.
impl<E: Engine> SqlStore<E> {
    /// Runs a statement; returns how many rows it changed.
    async fn exec<'a>(
        on: impl Into<On<'a, E::Db>> + Send,
        sql: &str,
        args: Vec<Arg>,
    ) -> Result<u64, StoreError> {
        let done = E::Db::run(on.into(), sql, args, true).await;
        Ok(E::rows_affected(&done.map_err(map_err::<E>)?))
    }

    /// Every row a statement returns.
    async fn all<'a, T: Send + Unpin>(
        on: impl Into<On<'a, E::Db>> + Send,
        sql: &str,
        args: Vec<Arg>,
        map: RowMap<T>,
    ) -> Result<Vec<T>, StoreError> {
        E::Db::rows(on.into(), sql, args, false, map, map_err::<E>).await
    }

    /// The first row a statement returns, if any.
    async fn opt<'a, T: Send + Unpin>(
        on: impl Into<On<'a, E::Db>> + Send,
        sql: &str,
        args: Vec<Arg>,
        map: RowMap<T>,
    ) -> Result<Option<T>, StoreError> {
        let first = E::Db::rows(on.into(), sql, args, true, map, map_err::<E>).await?;
        Ok(first.into_iter().next())
    }

    /// The first row a statement returns; [`StoreError::NotFound`] when there is none.
    async fn one<'a, T: Send + Unpin>(
        on: impl Into<On<'a, E::Db>> + Send,
        sql: &str,
        args: Vec<Arg>,
        map: RowMap<T>,
    ) -> Result<T, StoreError> {
        Self::opt(on, sql, args, map)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Starts a write transaction: bumps the change counter first (see the crate documentation)
    /// and returns the new sequence number.
    async fn begin_write(&self) -> Result<(Tx<E>, i64), StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err::<E>)?;
        let bump = "UPDATE change_seq SET value = value + 1 WHERE id = 1 RETURNING value";
        let seq = Self::one(&mut tx, bump, vec![], int).await?;
        E::on_write(&mut *tx).await.map_err(map_err::<E>)?;
        Ok((tx, seq))
    }

    async fn commit(tx: Tx<E>) -> Result<(), StoreError> {
        tx.commit().await.map_err(map_err::<E>)
    }

    /// Sets one column of a live application and returns the application.
    async fn update_app(
        tx: &mut Tx<E>,
        id: ClientId,
        column: &str,
        value: &str,
        seq: i64,
    ) -> Result<Application, StoreError> {
        let sql = format!(
            "UPDATE applications SET {column} = $1, seq = $2
             WHERE client_id = $3 AND status <> 'deleted' RETURNING {APP_COLS}"
        );
        Self::one(tx, &sql, args![value, seq, id], rows::app).await
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
        let m = &s.meta;
        let live = format!(
            "SELECT client_id FROM applications WHERE client_id = $1 AND status <> 'deleted'{}",
            E::LOCK_ROW
        );
        Self::one(&mut *tx, &live, args![m.client_id], text).await?;
        let active = "SELECT COUNT(*) FROM secrets
                      WHERE client_id = $1 AND deleted = 0 AND expires_at > $2";
        let active = Self::one(&mut *tx, active, args![m.client_id, now], int).await?;
        if usize::try_from(active).unwrap_or(usize::MAX) >= max_active {
            return Err(StoreError::SecretLimit);
        }
        let insert = "INSERT INTO secrets
                          (id, client_id, name, digest, created_at, expires_at, deleted, seq)
                      VALUES ($1, $2, $3, $4, $5, $6, 0, $7)";
        let (digest, created, expires) = (&s.digest.0[..], m.created_at, m.expires_at);
        let args = args![m.id, m.client_id, &m.name, digest, created, expires, seq];
        Self::exec(tx, insert, args).await.map(drop)
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
        let sql = "INSERT INTO revocations (kind, subject, before, expires, seq, tenant_id)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (kind, subject) DO UPDATE SET
                 before = CASE WHEN revocations.before > excluded.before
                               THEN revocations.before ELSE excluded.before END,
                 expires = CASE WHEN revocations.expires > excluded.expires
                                THEN revocations.expires ELSE excluded.expires END,
                 seq = excluded.seq,
                 tenant_id = COALESCE(revocations.tenant_id, excluded.tenant_id)";
        let args = args![kind_str(r.kind), &r.id, r.before, r.expires, seq, tenant];
        Self::exec(tx, sql, args).await.map(drop)
    }

    async fn insert_key_with(tx: &mut Tx<E>, k: &KeyRecord, seq: i64) -> Result<(), StoreError> {
        let sql = "INSERT INTO signing_keys (kid, alg, created_at, activates_at, sealed_key, seq)
                   VALUES ($1, $2, $3, $4, $5, $6)";
        let (alg, sealed) = (k.alg.as_str(), &k.sealed_private_key[..]);
        let args = args![&k.kid, alg, k.created_at, k.activates_at, sealed, seq];
        Self::exec(tx, sql, args).await.map(drop)
    }

    /// The rows of `from` changed after `since`, in change order; for 0 and a table whose
    /// rows need no order (one row per key), every row in table order. A node's first load
    /// then reads the whole table in a plain scan, not a walk of the `seq` index that fetches
    /// each row by a random read.
    async fn rows_since<T: Send + Unpin>(
        tx: &mut Tx<E>,
        cols: &str,
        from: &str,
        since: i64,
        ordered: bool,
        map: RowMap<T>,
    ) -> Result<Vec<T>, StoreError> {
        if since == 0 && !ordered {
            let sql = format!("SELECT {cols} FROM {from}");
            return Self::all(tx, &sql, vec![], map).await;
        }
        let sql = format!("SELECT {cols} FROM {from} WHERE seq > $1 ORDER BY seq");
        Self::all(tx, &sql, args![since], map).await
    }
}

/// What a statement that names one row changed: nothing is "not found".
fn found(changed: u64) -> Result<(), StoreError> {
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// A one-column integer row (counts, sequence numbers).
fn int(c: &dyn Columns) -> Result<i64, StoreError> {
    c.int(0)
}

/// A one-column text row.
fn text(c: &dyn Columns) -> Result<String, StoreError> {
    c.text(0)
}

#[async_trait]
impl<E: Engine> Store for SqlStore<E> {
    async fn changed(&self) {
        self.engine.changed().await;
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Self::one(&self.pool, SEQ, vec![], int).await.map(drop)
    }

    async fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let sql = "SELECT value FROM meta WHERE key = $1";
        Self::opt(&self.pool, sql, args![key], text).await
    }

    async fn meta_init(&self, key: &str, value: &str) -> Result<String, StoreError> {
        let (mut tx, _) = self.begin_write().await?;
        let sql = "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";
        Self::exec(&mut tx, sql, args![key, value]).await?;
        let sql = "SELECT value FROM meta WHERE key = $1";
        let v = Self::one(&mut tx, sql, args![key], text).await?;
        Self::commit(tx).await?;
        Ok(v)
    }

    async fn create_tenant(&self, t: &Tenant) -> Result<(), StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        let sql = "INSERT INTO tenants (id, name, kind, parent_id, status, created_at, seq)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let (status, created) = (t.status.as_str(), t.created_at);
        let args = args![t.id, &t.name, &t.kind, t.parent_id, status, created, seq];
        Self::exec(&mut tx, sql, args).await?;
        Self::commit(tx).await
    }

    async fn get_tenant(&self, id: TenantId) -> Result<Tenant, StoreError> {
        let sql = format!("SELECT {TENANT_COLS} FROM tenants WHERE id = $1");
        Self::one(&self.pool, &sql, args![id], rows::tenant).await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let sql = format!("SELECT {TENANT_COLS} FROM tenants ORDER BY created_at, id");
        Self::all(&self.pool, &sql, vec![], rows::tenant).await
    }

    async fn set_tenant_status(
        &self,
        id: TenantId,
        status: TenantStatus,
        revoke: Option<&Revocation>,
    ) -> Result<Tenant, StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        if Self::tenant_status(&mut tx, id).await? == TenantStatus::Deleted.as_str() {
            return Err(StoreError::Conflict("the tenant is deleted".into()));
        }
        let sql = format!(
            "UPDATE tenants SET status = $1, seq = $2 WHERE id = $3 RETURNING {TENANT_COLS}"
        );
        let args = args![status.as_str(), seq, id];
        let tenant = Self::one(&mut tx, &sql, args, rows::tenant).await?;
        Self::revoke(&mut tx, revoke, Some(id), seq).await?;
        Self::commit(tx).await?;
        Ok(tenant)
    }

    async fn create_app(&self, a: &Application) -> Result<(), StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        if Self::tenant_status(&mut tx, a.tenant_id).await? == TenantStatus::Deleted.as_str() {
            return Err(StoreError::NotFound);
        }
        let sql = "INSERT INTO applications
                       (client_id, tenant_id, name, role, status, created_at, seq)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let (status, created) = (a.status.as_str(), a.created_at);
        let args = args![
            a.client_id,
            a.tenant_id,
            &a.name,
            &a.role,
            status,
            created,
            seq
        ];
        Self::exec(&mut tx, sql, args).await?;
        Self::commit(tx).await
    }

    async fn get_app(&self, id: ClientId) -> Result<Application, StoreError> {
        let sql = format!(
            "SELECT {APP_COLS} FROM applications WHERE client_id = $1 AND status <> 'deleted'"
        );
        Self::one(&self.pool, &sql, args![id], rows::app).await
    }

    async fn list_apps(&self, tenant: TenantId) -> Result<Vec<Application>, StoreError> {
        let sql = format!(
            "SELECT {APP_COLS} FROM applications WHERE tenant_id = $1 AND status <> 'deleted'
             ORDER BY created_at, client_id"
        );
        Self::all(&self.pool, &sql, args![tenant], rows::app).await
    }

    async fn set_app_status(
        &self,
        id: ClientId,
        status: AppStatus,
        revoke: Option<&Revocation>,
    ) -> Result<Application, StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        let app = Self::update_app(&mut tx, id, "status", status.as_str(), seq).await?;
        if status == AppStatus::Deleted {
            let sql = "UPDATE secrets SET deleted = 1, seq = $1
                       WHERE client_id = $2 AND deleted = 0";
            Self::exec(&mut tx, sql, args![seq, id]).await?;
        }
        Self::revoke(&mut tx, revoke, Some(app.tenant_id), seq).await?;
        Self::commit(tx).await?;
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
        Self::commit(tx).await
    }

    async fn list_secrets(&self, app: ClientId) -> Result<Vec<SecretMeta>, StoreError> {
        let sql = format!(
            "SELECT {SECRET_COLS} FROM {SECRETS_FROM} WHERE client_id = $1 AND deleted = 0
             ORDER BY created_at, id"
        );
        Self::all(&self.pool, &sql, args![app], rows::secret_meta).await
    }

    async fn delete_secret(
        &self,
        app: ClientId,
        id: SecretId,
        revoke: Option<&Revocation>,
    ) -> Result<(), StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        let sql = "UPDATE secrets SET deleted = 1, seq = $1
                   WHERE id = $2 AND client_id = $3 AND deleted = 0";
        found(Self::exec(&mut tx, sql, args![seq, id, app]).await?)?;
        if revoke.is_some() {
            // The secret's row matched, so its application exists (perhaps disabled).
            let sql = "SELECT tenant_id FROM applications WHERE client_id = $1";
            let tenant = Self::one(&mut tx, sql, args![app], |c| c.parse(0, "tenant id")).await?;
            Self::revoke(&mut tx, revoke, Some(tenant), seq).await?;
        }
        Self::commit(tx).await
    }

    async fn insert_revocation(
        &self,
        r: &Revocation,
        tenant: Option<TenantId>,
    ) -> Result<(), StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        Self::revoke(&mut tx, Some(r), tenant, seq).await?;
        Self::commit(tx).await
    }

    async fn purge_revocations(&self, now: i64) -> Result<u64, StoreError> {
        // Nodes forget expired records by themselves: no sequence bump.
        let sql = "DELETE FROM revocations WHERE expires < $1";
        Self::exec(&self.pool, sql, args![now]).await
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
        let client = new.meta.client_id;
        let sql = "SELECT s.id FROM secrets s JOIN applications a ON a.client_id = s.client_id
                   WHERE s.id = $1 AND s.client_id = $2 AND s.deleted = 0
                     AND a.status <> 'deleted'";
        Self::one(&mut tx, sql, args![old, client], text).await?;
        let sql = "UPDATE secrets SET seq = $2,
                       expires_at = CASE WHEN expires_at < $1 THEN expires_at ELSE $1 END
                   WHERE id = $3 AND client_id = $4";
        Self::exec(&mut tx, sql, args![old_expires_at, seq, old, client]).await?;
        Self::insert_secret(&mut tx, new, max_active, now, seq).await?;
        Self::commit(tx).await
    }

    async fn list_expiring(
        &self,
        now: OffsetDateTime,
        before: OffsetDateTime,
        tenant: Option<TenantId>,
    ) -> Result<Vec<(TenantId, SecretMeta)>, StoreError> {
        let sql = format!(
            "SELECT {SECRET_COLS}, a.tenant_id
             FROM {SECRETS_FROM} JOIN applications a ON a.client_id = secrets.client_id
             WHERE secrets.deleted = 0 AND a.status <> 'deleted'
               AND secrets.expires_at > $1 AND secrets.expires_at < $2
               AND (CAST($3 AS TEXT) IS NULL OR a.tenant_id = $3)
             ORDER BY secrets.expires_at, secrets.id"
        );
        Self::all(&self.pool, &sql, args![now, before, tenant], rows::expiring).await
    }

    async fn rename_app(&self, id: ClientId, name: &str) -> Result<Application, StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        let app = Self::update_app(&mut tx, id, "name", name, seq).await?;
        Self::commit(tx).await?;
        Ok(app)
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        // Not a change other nodes act on: no sequence bump.
        let mut tx = self.pool.begin().await.map_err(map_err::<E>)?;
        let sql =
            format!("INSERT INTO audit_log ({AUDIT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
        for e in events {
            let (at, outcome) = (micros(e.at), e.outcome.as_str());
            let args = args![
                at,
                &e.actor,
                e.tenant_id,
                &e.action,
                &e.target,
                outcome,
                &e.source
            ];
            Self::exec(&mut tx, &sql, args).await?;
        }
        Self::commit(tx).await
    }

    async fn query_audit(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let limit = if q.limit == 0 {
            1000
        } else {
            q.limit.min(10_000)
        };
        let sql = format!(
            "SELECT {AUDIT_COLS} FROM (
                 SELECT * FROM audit_log
                 WHERE (CAST($1 AS TEXT) IS NULL OR tenant_id = $1)
                   AND (CAST($2 AS BIGINT) IS NULL OR at >= $2)
                 ORDER BY at DESC, id DESC LIMIT $3
             ) AS recent ORDER BY at, id"
        );
        let args = args![q.tenant_id, q.since.map(micros), i64::from(limit)];
        Self::all(&self.pool, &sql, args, rows::audit).await
    }

    async fn purge_audit(&self, before: OffsetDateTime, limit: u32) -> Result<u64, StoreError> {
        // Not a change other nodes act on: no sequence bump. The subquery bounds the batch
        // (neither engine has DELETE ... LIMIT in its default build).
        let sql = "DELETE FROM audit_log WHERE id IN (
                       SELECT id FROM audit_log WHERE at < $1 ORDER BY at LIMIT $2
                   )";
        Self::exec(&self.pool, sql, args![micros(before), i64::from(limit)]).await
    }

    async fn insert_key(&self, k: &KeyRecord) -> Result<(), StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        Self::insert_key_with(&mut tx, k, seq).await?;
        Self::commit(tx).await
    }

    /// Check and insert share the write lock, so racing nodes add one key.
    async fn insert_key_unless_pending(
        &self,
        k: &KeyRecord,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (mut tx, seq) = self.begin_write().await?;
        let sql = "SELECT COUNT(*) FROM signing_keys WHERE alg = $1 AND activates_at > $2";
        if Self::one(&mut tx, sql, args![k.alg.as_str(), now], int).await? > 0 {
            return Ok(false);
        }
        Self::insert_key_with(&mut tx, k, seq).await?;
        Self::commit(tx).await?;
        Ok(true)
    }

    async fn insert_first_key(&self, k: &KeyRecord) -> Result<bool, StoreError> {
        // Every key activates after the earliest representable time.
        self.insert_key_unless_pending(k, OffsetDateTime::new_utc(Date::MIN, Time::MIDNIGHT))
            .await
    }

    async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let sql = format!("SELECT {KEY_COLS} FROM signing_keys ORDER BY activates_at, kid");
        Self::all(&self.pool, &sql, vec![], rows::key).await
    }

    async fn changes_since(&self, since: i64) -> Result<ChangeSet, StoreError> {
        if since == 0
            && let Some(all) = self.engine.read_all(bulk::read_all).await
        {
            return all;
        }
        let seq = Self::one(&self.pool, SEQ, vec![], int).await?;
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
            Self::exec(&mut tx, sql, vec![]).await?;
        }
        let (t, s) = (&mut tx, since);
        let tenants = Self::rows_since(t, TENANT_COLS, "tenants", s, false, rows::tenant).await?;
        let apps = Self::rows_since(t, APP_COLS, "applications", s, false, rows::app).await?;
        let secrets = Self::rows_since(t, SECRET_COLS, SECRETS_FROM, s, false, rows::secret);
        let secrets = secrets.await?;
        let revocations =
            Self::rows_since(t, REVOCATION_COLS, "revocations", s, true, rows::revocation);
        let revocations = revocations.await?;
        let sql = "SELECT COUNT(*) FROM signing_keys WHERE seq > $1";
        let keys = Self::one(&mut *t, sql, args![since], int).await?;
        Self::commit(tx).await?;
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
            let args = chunk.iter().flat_map(|&(id, at)| args![id, at]).collect();
            // Not kept in the statement cache: the last chunk's text differs from flush to flush.
            let done = E::Db::run(On::Pool(&self.pool), &sql, args, false).await;
            done.map_err(map_err::<E>)?;
        }
        Ok(())
    }
}

impl<E: Engine> SqlStore<E> {
    /// A tenant's status, read inside a write transaction.
    async fn tenant_status(tx: &mut Tx<E>, id: TenantId) -> Result<String, StoreError> {
        let sql = "SELECT status FROM tenants WHERE id = $1";
        Self::one(tx, sql, args![id], text).await
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
