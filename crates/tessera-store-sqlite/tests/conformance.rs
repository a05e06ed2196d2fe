//! The shared store conformance suite, on a real SQLite database per check.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

use std::sync::Arc;
use tessera_core::store::Store;
use tessera_store_sqlite::SqliteStore;

#[tokio::test]
async fn sqlite_passes_the_store_conformance_suite() {
    let dir = std::env::temp_dir().join(format!("tessera-conf-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    tessera_core::testing::run_all(|| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let url = format!("sqlite://{}/db{n}.sqlite", dir.display());
        async move { Arc::new(SqliteStore::open(&url).await.unwrap()) as Arc<dyn Store> }
    })
    .await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_corrupt_file_is_refused_with_one_line_and_left_alone() {
    let dir = std::env::temp_dir().join(format!("tessera-corrupt-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.db");
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
    std::fs::remove_dir_all(&dir).ok();
}

fn uuid_like() -> String {
    format!("{}-{:?}", std::process::id(), std::thread::current().id()).replace(['(', ')'], "")
}
