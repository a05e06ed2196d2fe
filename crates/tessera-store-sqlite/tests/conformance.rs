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
    let dir = tessera_testkit::scratch_dir().join("upgrade");
    let old = dir.join("migrations");
    std::fs::create_dir_all(&old).unwrap();
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for e in std::fs::read_dir(&all).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().as_ref() < "0009" {
            std::fs::copy(e.path(), old.join(e.file_name())).unwrap();
        }
    }
    let url = format!("sqlite://{}", dir.join("old.db").display());
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
    let (used, never) = (
        "00000000-0000-4000-8000-000000000001",
        "00000000-0000-4000-8000-000000000002",
    );
    let (tenant, client) = (
        "00000000-0000-4000-8000-00000000000a",
        "00000000-0000-4000-8000-00000000000b",
    );
    sqlx::raw_sql(&format!(
        "INSERT INTO tenants VALUES ('{tenant}', 't', 'merchant', NULL, 'active', 1700000000, 1);
         INSERT INTO applications VALUES ('{client}', '{tenant}', 'a', 'merchant', 'active', 1700000000, 1);
         INSERT INTO secrets (id, client_id, name, digest, created_at, expires_at, last_used_at, deleted, seq)
           VALUES ('{used}', '{client}', 'used', zeroblob(32), 1700000000, 4000000000, 1700000500, 0, 1),
                  ('{never}', '{client}', 'never', zeroblob(32), 1700000001, 4000000000, NULL, 0, 1);
         UPDATE change_seq SET value = 1;"
    ))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = SqliteStore::open(&url).await.unwrap();
    let secrets = store.list_secrets(client.parse().unwrap()).await.unwrap();
    let last_used: Vec<_> = secrets
        .iter()
        .map(|s| (s.id.to_string(), s.last_used_at.map(|t| t.unix_timestamp())))
        .collect();
    assert_eq!(
        last_used,
        [
            (used.to_owned(), Some(1_700_000_500)),
            (never.to_owned(), None)
        ]
    );
    // And the first load reads it too.
    let all = store.changes_since(0).await.unwrap();
    let first = all
        .secrets
        .iter()
        .find(|s| s.meta.id.to_string() == used)
        .unwrap();
    assert_eq!(
        first.meta.last_used_at.map(|t| t.unix_timestamp()),
        Some(1_700_000_500)
    );
}
