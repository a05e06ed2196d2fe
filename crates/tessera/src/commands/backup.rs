//! `tessera backup --to FILE` and `tessera restore --from FILE`, for the SQLite store. PostgreSQL
//! has its own tools (pg_dump, or continuous archiving for point-in-time recovery).
//!
//! The master key is not in the database: a backup without it cannot issue a token or open a
//! signing key. Restore checks that the backup was made under the key in force.

use crate::database::{Engine, sqlite_file};
use crate::settings::Settings;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use tessera_core::admin::check_master_key;
use tessera_store_sqlite::SqliteStore;

fn sqlite_only(s: &Settings, what: &str) -> Result<PathBuf> {
    if Engine::of(&s.database)? != Engine::Sqlite {
        bail!(
            "tessera {what} works on SQLite databases; for PostgreSQL use pg_dump and pg_restore, or continuous archiving for point-in-time recovery"
        );
    }
    sqlite_file(&s.database)
}

/// A consistent copy of the live database (one read snapshot, `VACUUM INTO`), taken while
/// servers keep issuing and changing; refuses to overwrite a file.
pub async fn backup(s: &Settings, to: &Path) -> Result<Value> {
    let db = sqlite_only(s, "backup")?;
    if to.exists() {
        bail!("{} exists; a backup never overwrites a file", to.display());
    }
    let store = SqliteStore::open(&s.database).await?;
    tessera_store_sqlite::backup_into(&store, to).await?;
    store.pool().close().await;
    Ok(json!({
        "database": db.display().to_string(),
        "backup": to.display().to_string(),
        "bytes": std::fs::metadata(to)?.len(),
        "note": "the master key is not in the backup: keep a copy of it (master.key or TESSERA_MASTER_KEY) apart from the backup",
    }))
}

/// Puts a backup in place of the database: refused while a server uses the database, or when
/// the backup was made under another master key.
pub async fn restore(s: &Settings, from: &Path) -> Result<Value> {
    let db = sqlite_only(s, "restore")?;
    if !from.is_file() {
        bail!("{} is not a file", from.display());
    }
    let dir = db.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    // Held until the new file is in place: a server that starts meanwhile fails to take its
    // lock and says why.
    let _lock = crate::database::ServeLock::exclusive(&db)?;
    // Checked on a copy beside the target, so the backup itself is never written to (opening a
    // database applies this version's migrations) and the final step is a rename.
    let tmp = dir.join(format!(".restore.{}.db", std::process::id()));
    let result = async {
        std::fs::copy(from, &tmp)
            .with_context(|| format!("cannot copy {} to {}", from.display(), tmp.display()))?;
        let url = format!("sqlite://{}", tmp.display());
        let copy = SqliteStore::open(&url)
            .await
            .with_context(|| format!("{} is not a tessera database", from.display()))?;
        let master = crate::master_key::resolve(&s.database, false)?;
        let checked = check_master_key(&copy, &master).await;
        copy.pool().close().await;
        checked.with_context(|| {
            format!(
                "{} was made under another master key; restore the master key that goes with it first",
                from.display()
            )
        })?;
        // The old database's write-ahead log belongs to the old file: left behind, SQLite would
        // replay it into the restored one.
        for suffix in ["-wal", "-shm"] {
            let side = PathBuf::from(format!("{}{suffix}", db.display()));
            match std::fs::remove_file(&side) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("cannot remove {}", side.display())),
            }
        }
        std::fs::rename(&tmp, &db)
            .with_context(|| format!("cannot move the restored copy to {}", db.display()))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        anyhow::Ok(())
    }
    .await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", tmp.display()));
    }
    result?;
    Ok(json!({
        "database": db.display().to_string(),
        "restored_from": from.display().to_string(),
    }))
}
