//! The database a URL names: which engine opens it, where an SQLite file lives (the master key
//! file sits beside it), and how to show the URL without its password.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use tessera_core::store::Store;
use tessera_store_postgres::PostgresStore;
use tessera_store_sqlite::SqliteStore;
use url::Url;

/// The storage engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `sqlite:` URLs.
    Sqlite,
    /// `postgres:` and `postgresql:` URLs.
    Postgres,
}

impl Engine {
    /// The engine of `url`, by its scheme.
    pub fn of(url: &str) -> Result<Engine> {
        let unsupported = || {
            format!(
                "unsupported database URL {:?}: use sqlite://PATH or postgres://USER@HOST/DB",
                redact(url)
            )
        };
        match Url::parse(url).with_context(unsupported)?.scheme() {
            "sqlite" => Ok(Engine::Sqlite),
            "postgres" | "postgresql" => Ok(Engine::Postgres),
            _ => bail!(unsupported()),
        }
    }
}

/// Opens the store named by the URL; an SQLite file's directory is created first.
pub async fn open_store(url: &str) -> Result<Arc<dyn Store>> {
    Ok(match Engine::of(url)? {
        Engine::Sqlite => {
            if let Some(dir) = data_dir(url) {
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create data directory {}", dir.display()))?;
            }
            Arc::new(SqliteStore::open(url).await?)
        }
        Engine::Postgres => Arc::new(PostgresStore::open(url).await?),
    })
}

/// The directory of an SQLite database file, which also holds the master key file; `None` for
/// another engine. The file name is the one the SQLite driver itself reads from the URL, so the
/// two cannot disagree about where the database is.
pub fn data_dir(url: &str) -> Option<PathBuf> {
    if Engine::of(url).ok()? != Engine::Sqlite {
        return None;
    }
    let file = sqlite_file(url).ok()?;
    let parent = file.parent()?;
    Some(if parent.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        parent.to_path_buf()
    })
}

/// The file of an SQLite database URL, as the SQLite driver reads it.
pub fn sqlite_file(url: &str) -> Result<PathBuf> {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .with_context(|| format!("invalid database URL {url}"))?;
    Ok(options.get_filename().to_path_buf())
}

/// A lock on `DB.lock` beside an SQLite database: each server holds it shared while it runs,
/// `restore` takes it exclusively, so a restore never replaces a file a server has open (the
/// server would go on with the old file's pages and write-ahead log).
#[derive(Debug)]
pub struct ServeLock {
    // Held for its lock, released when dropped.
    _file: std::fs::File,
}

impl ServeLock {
    /// Taken by a server for as long as it runs.
    pub fn shared(db: &std::path::Path) -> Result<ServeLock> {
        Self::take(db, false)
    }

    /// Taken by `restore`: fails while any server runs on the database.
    pub fn exclusive(db: &std::path::Path) -> Result<ServeLock> {
        Self::take(db, true)
    }

    fn take(db: &std::path::Path, exclusive: bool) -> Result<ServeLock> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = PathBuf::from(format!("{}.lock", db.display()));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let locked = if exclusive {
            file.try_lock()
        } else {
            file.try_lock_shared()
        };
        match locked {
            Ok(()) => Ok(ServeLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) if exclusive => bail!(
                "a server is running on {}: stop every server using it before restoring",
                db.display()
            ),
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "{} is being restored; start the server once the restore has finished",
                db.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }
}

/// A database URL without its password, for output and logs (one implementation, shared with
/// the stores' own error lines).
pub use tessera_store_postgres::redact;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
        assert!(!redact("postgres://u:secret@h:x/db").contains("secret"));
    }

    #[test]
    fn sqlite_files_have_a_directory() {
        assert_eq!(
            data_dir("sqlite://tessera-data/tessera.db"),
            Some(PathBuf::from("tessera-data"))
        );
        assert_eq!(data_dir("sqlite:x.db?mode=rwc"), Some(PathBuf::from(".")));
        assert_eq!(
            data_dir("sqlite:///var/lib/t/x.db"),
            Some(PathBuf::from("/var/lib/t"))
        );
        assert_eq!(data_dir("postgres://u@h/db"), None);
    }

    #[test]
    fn engines_come_from_the_scheme() {
        assert_eq!(Engine::of("postgresql://h/db").ok(), Some(Engine::Postgres));
        assert!(Engine::of("mysql://h/db").is_err());
        let no_scheme = Engine::of("tessera.db").map_err(|e| format!("{e:#}"));
        assert!(no_scheme.is_err_and(|e| e.contains("use sqlite://PATH")));
    }
}
