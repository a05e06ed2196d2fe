//! The shared store conformance suite, on a real PostgreSQL database per check.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "tests"
)]

use std::sync::Arc;
use tessera_core::store::Store;
use tessera_store_postgres::PostgresStore;
use tessera_testkit::PgCluster;

async fn fresh() -> Option<Arc<dyn Store>> {
    let pg = PgCluster::shared()?;
    Some(Arc::new(PostgresStore::open(&pg.database()).await.unwrap()))
}

tessera_core::conformance_tests!(fresh);

#[tokio::test]
async fn an_unreachable_database_is_one_line_without_the_password() {
    let err = PostgresStore::open("postgres://u:hunter2@127.0.0.1:1/db")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("postgres://u:***@127.0.0.1:1/db"), "{err}");
    assert!(!err.contains("hunter2") && !err.contains('\n'), "{err}");
}

#[tokio::test]
async fn a_change_by_another_process_is_announced() {
    let Some(pg) = PgCluster::shared() else {
        return;
    };
    let url = pg.database();
    let a = PostgresStore::open(&url).await.unwrap();
    let b = PostgresStore::open(&url).await.unwrap();
    // Let the listener consume the permit it leaves after (re)connecting.
    tokio::time::timeout(std::time::Duration::from_secs(2), a.changed())
        .await
        .ok();
    b.meta_init("k", "v").await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(2), a.changed())
        .await
        .expect("no notification within two seconds");
}

/// A database made by the previous release (migrations up to 0006, `last_used_at` a column of
/// `secrets`) keeps every secret's last use when this release opens it and moves the column
/// into `secret_usage`.
#[tokio::test]
async fn an_upgrade_keeps_each_secrets_last_use() {
    let Some(pg) = PgCluster::shared() else {
        return;
    };
    let url = pg.database();
    let old = tessera_testkit::migrations_before(env!("CARGO_MANIFEST_DIR"), "0007");
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let rows = tessera_core::testing::upgrade::rows_sql("decode(repeat('00', 32), 'hex')");
    sqlx::raw_sql(&rows).execute(&pool).await.unwrap();
    pool.close().await;

    let store = PostgresStore::open(&url).await.unwrap();
    tessera_core::testing::upgrade::check(&store).await;
}
