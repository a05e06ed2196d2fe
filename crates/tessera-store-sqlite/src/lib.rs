//! tessera's embedded store: SQLite through sqlx, with the queries of `tessera-store-sql`; a
//! node's first load reads through rusqlite.
//!
//! WAL journal (readers never block the writer), `synchronous = FULL` (an acknowledged change
//! survives a crash of the process or the machine; management writes are rare, so the fsync is
//! cheap), a busy timeout (several CLI processes beside a running server wait for the lock instead
//! of failing with "database is locked"), foreign keys on, migrations embedded in the binary.

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;
use tessera_core::store::{ChangeSet, StoreError};
use tessera_store_sql::bulk::{BulkRead, Columns};
use tessera_store_sql::{Engine, ReadAll, SqlStore, short_error, short_migrate_error};

pub use tessera_store_sql::OpenError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The SQLite store.
pub type SqliteStore = SqlStore<SqliteEngine>;

/// What is particular to SQLite.
#[derive(Debug, Clone)]
pub struct SqliteEngine {
    /// The database file, for the first load's own connection; `None` for an in-memory database
    /// (which another connection cannot open).
    file: Option<PathBuf>,
}

#[async_trait]
impl Engine for SqliteEngine {
    type Db = sqlx::Sqlite;
    const NAME: &'static str = "SqliteStore";
    // One writer at a time: the change counter bump that starts every write transaction already
    // holds the database's write lock, and SQLite has no row locks.
    const LOCK_ROW: &'static str = "";
    // A WAL read transaction sees one snapshot from its first read on.
    const SNAPSHOT: Option<&'static str> = None;
    // Small on purpose: SQLite looks each `$N` up in a list of the statement's parameters, when
    // preparing and again when binding, so a statement costs the square of its parameters
    // (1,000 secrets a statement spent 13 % of the server's CPU in `strncmp` at a million
    // merchants); 100 keeps that negligible and the statements few.
    const USAGE_BATCH: usize = 100;

    /// Opens (creating if needed) the database at `url` (`sqlite://PATH` or `sqlite:PATH`).
    async fn open(url: &str) -> Result<(SqlitePool, Self), OpenError> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| OpenError(format!("database {url}: invalid database URL: {e}")))?;
        // The file as the driver reads it from the URL.
        let path = opts.get_filename().display().to_string();
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            OpenError(format!("database {path}: {what}: {e}"))
        };
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(15))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(20))
            .connect_with(opts)
            .await
            .map_err(|e| fail("cannot open", &short_error(&e)))?;
        // Concurrent first starts (a server and a CLI) can race on the first migration; the loser
        // retries once the winner has committed.
        let file = Some(PathBuf::from(&path)).filter(|p| p.is_file());
        let mut attempt = 0;
        loop {
            match MIGRATOR.run(&pool).await {
                Ok(()) => return Ok((pool, SqliteEngine { file })),
                Err(e) if attempt < 3 && !is_fatal(&e) => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(fail("cannot apply migrations", &short_migrate_error(&e))),
            }
        }
    }

    fn rows_affected(r: &SqliteQueryResult) -> u64 {
        r.rows_affected()
    }

    /// Through rusqlite on a connection of its own, read-only, on a blocking thread: about a
    /// fifth of sqlx's cost per row (see `tessera_store_sql::bulk`).
    async fn read_all(&self, read: ReadAll) -> Option<Result<ChangeSet, StoreError>> {
        let file = self.file.clone()?;
        let all = tokio::task::spawn_blocking(move || {
            let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let mut conn = rusqlite::Connection::open_with_flags(&file, flags).map_err(store)?;
            conn.busy_timeout(Duration::from_secs(15)).map_err(store)?;
            // One deferred read transaction: in WAL mode one snapshot from its first read on.
            let tx = conn.transaction().map_err(store)?;
            let all = read(&mut Reader(&tx))?;
            tx.commit().map_err(store)?;
            Ok(all)
        })
        .await;
        Some(all.unwrap_or_else(|e| Err(StoreError::Other(Box::new(e)))))
    }
}

/// A rusqlite error as the core sees it: "unavailable" when the database is busy or locked.
fn store(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(C::DatabaseBusy | C::DatabaseLocked | C::CannotOpen) => {
            StoreError::Unavailable(Box::new(e))
        }
        _ => StoreError::Other(Box::new(e)),
    }
}

struct Reader<'a>(&'a rusqlite::Transaction<'a>);

impl BulkRead for Reader<'_> {
    fn each(
        &mut self,
        sql: &str,
        row: &mut dyn FnMut(&dyn Columns) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.0.prepare(sql).map_err(store)?;
        let mut rows = stmt.query([]).map_err(store)?;
        while let Some(r) = rows.next().map_err(store)? {
            row(&Row(r))?;
        }
        Ok(())
    }
}

struct Row<'a, 'b>(&'a rusqlite::Row<'b>);

impl Row<'_, '_> {
    fn get<T: rusqlite::types::FromSql>(&self, i: usize) -> Result<T, StoreError> {
        self.0.get(i).map_err(store)
    }
}

// The same five one-line readers as sqlx's rows have in `tessera_store_sql::driver`: each reader
// decodes through its own library.
impl Columns for Row<'_, '_> {
    fn text(&self, i: usize) -> Result<String, StoreError> {
        self.get(i)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.get(i)
    }
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.get(i)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.get(i)
    }
    fn blob(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        self.get(i)
    }
}

/// Writes a consistent copy of the database to `to` with `VACUUM INTO`: one read transaction, so
/// one snapshot, while other connections and processes keep reading and writing. `to` must not
/// exist (SQLite refuses to overwrite it).
pub async fn backup_into(store: &SqliteStore, to: &std::path::Path) -> Result<(), OpenError> {
    let target = to
        .to_str()
        .ok_or_else(|| OpenError(format!("backup file {}: not a UTF-8 path", to.display())))?;
    sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(store.pool())
        .await
        .map_err(|e| {
            OpenError(format!(
                "cannot write a backup to {target}: {}",
                short_error(&e)
            ))
        })?;
    Ok(())
}

fn is_fatal(e: &sqlx::migrate::MigrateError) -> bool {
    use sqlx::migrate::MigrateError as M;
    match e {
        M::Execute(sqlx::Error::Database(d)) => {
            let m = d.message();
            m.contains("not a database") || m.contains("readonly") || m.contains("malformed")
        }
        M::VersionMissing(_) | M::VersionMismatch(_) => true,
        _ => false,
    }
}
