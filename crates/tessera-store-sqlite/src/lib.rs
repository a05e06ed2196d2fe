//! tessera's embedded store: SQLite through sqlx, with the queries of `tessera-store-sql`.
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
use std::str::FromStr;
use std::time::Duration;
use tessera_store_sql::{Engine, SqlStore, short_error, short_migrate_error};

pub use tessera_store_sql::OpenError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The SQLite store.
pub type SqliteStore = SqlStore<SqliteEngine>;

/// What is particular to SQLite.
#[derive(Debug, Clone, Copy)]
pub struct SqliteEngine;

#[async_trait]
impl Engine for SqliteEngine {
    type Db = sqlx::Sqlite;
    const NAME: &'static str = "SqliteStore";
    // One writer at a time: the change counter bump that starts every write transaction already
    // holds the database's write lock, and SQLite has no row locks.
    const LOCK_ROW: &'static str = "";
    // A WAL read transaction sees one snapshot from its first read on.
    const SNAPSHOT: Option<&'static str> = None;

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
        let mut attempt = 0;
        loop {
            match MIGRATOR.run(&pool).await {
                Ok(()) => return Ok((pool, SqliteEngine)),
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
