//! tessera's scale-out store: PostgreSQL through sqlx, with the queries of `tessera-store-sql`,
//! for several stateless nodes on one database. Every write transaction also sends a
//! notification, which the other nodes LISTEN for, so that they apply a change at once instead
//! of at their next poll.

use async_trait::async_trait;
use sqlx::error::DatabaseError;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgQueryResult};
use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tessera_store_sql::{Engine, SqlStore, short_error, short_migrate_error};
use tokio::sync::Notify;

pub use tessera_store_sql::{OpenError, redact};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The PostgreSQL store.
pub type PostgresStore = SqlStore<PostgresEngine>;

/// The channel every change is announced on.
const CHANNEL: &str = "tessera_changes";

/// What is particular to PostgreSQL: notifications of changes.
#[derive(Debug, Clone)]
pub struct PostgresEngine {
    /// Signalled by the LISTEN task when any node commits a change.
    changed: Arc<Notify>,
}

#[async_trait]
impl Engine for PostgresEngine {
    type Db = sqlx::Postgres;
    const NAME: &'static str = "PostgresStore";
    const LOCK_ROW: &'static str = " FOR UPDATE";
    // READ COMMITTED would let each query of the change feed see a different moment.
    const SNAPSHOT: Option<&'static str> = Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    // 5.5 us a secret against 8.1 in statements of 100 (an upsert of 200,000 sorted secrets
    // into a million); PostgreSQL binds `$N` by position, so big statements cost nothing extra.
    const USAGE_BATCH: usize = 1_000;

    /// Connects to `url` (`postgres://…`) and applies migrations (under sqlx's advisory lock, so
    /// several nodes may start at once).
    async fn open(url: &str) -> Result<(PgPool, Self), OpenError> {
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
            .map_err(|e| fail("cannot connect", &short_error(&e)))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| fail("cannot apply migrations", &short_migrate_error(&e)))?;
        let changed = Arc::new(Notify::new());
        tokio::spawn(listen(pool.clone(), Arc::downgrade(&changed)));
        Ok((pool, PostgresEngine { changed }))
    }

    async fn on_write(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        // Delivered to every listening node when (and only if) the transaction commits.
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(tx)
            .await?;
        Ok(())
    }

    fn rows_affected(r: &PgQueryResult) -> u64 {
        r.rows_affected()
    }

    /// Class 08 (connection exception) and 57 (operator intervention: shutdown, restart).
    fn is_unavailable(e: &dyn DatabaseError) -> bool {
        e.code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57"))
    }

    async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// Follows `LISTEN tessera_changes` for as long as the store lives, reconnecting after a
/// failure (the nodes' polling covers the gap).
async fn listen(pool: PgPool, changed: Weak<Notify>) {
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
