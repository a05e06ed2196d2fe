//! The shared store conformance suite, on a new SQLite database file per check.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

use std::sync::Arc;
use tessera_core::store::Store;
use tessera_store_sqlite::SqliteStore;

async fn fresh() -> Option<Arc<dyn Store>> {
    let url = tessera_testkit::sqlite_url();
    Some(Arc::new(SqliteStore::open(&url).await.unwrap()))
}

tessera_core::conformance_tests!(fresh);

#[tokio::test]
async fn a_corrupt_file_is_refused_with_one_line_and_left_alone() {
    let path = tessera_testkit::scratch_dir().join("bad.db");
    let junk = b"this is not a database, it is a text file that happens to be here".repeat(100);
    std::fs::write(&path, &junk).unwrap();
    let err = SqliteStore::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("not a database"), "{err}");
    assert!(!err.contains('\n'));
    assert_eq!(std::fs::read(&path).unwrap(), junk);
}

/// A database made by the previous release (migrations up to 0008, `last_used_at` a column of
/// `secrets`) keeps every secret's last use when this release opens it and moves the column
/// into `secret_usage`.
#[tokio::test]
async fn an_upgrade_keeps_each_secrets_last_use() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use std::str::FromStr;
    let old = tessera_testkit::migrations_before(env!("CARGO_MANIFEST_DIR"), "0009");
    let dir = tessera_testkit::scratch_dir();
    let url = format!("sqlite://{}", dir.join("upgrade.db").display());
    let pool = SqlitePoolOptions::new()
        .connect_with(
            SqliteConnectOptions::from_str(&url)
                .unwrap()
                .create_if_missing(true),
        )
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let rows = tessera_core::testing::upgrade::rows_sql("zeroblob(32)");
    sqlx::raw_sql(&rows).execute(&pool).await.unwrap();
    pool.close().await;

    let store = SqliteStore::open(&url).await.unwrap();
    tessera_core::testing::upgrade::check(&store).await;
}
