//! Where the master key comes from: `TESSERA_MASTER_KEY`, else `master.key` in the data
//! directory, created on first use with mode 0600.

use anyhow::{Context, Result, bail};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use tessera_core::master::MasterKey;

/// The environment variable that holds the master key.
pub const ENV: &str = "TESSERA_MASTER_KEY";

/// Refuses a key file that others than its owner may read: whoever reads it can forge every
/// digest and unseal every signing key.
fn check_private(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable by group or others (mode {:03o}); run: chmod 600 {}",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    Ok(())
}

/// Resolves the master key for `database_url`.
pub fn resolve(database_url: &str, create: bool) -> Result<MasterKey> {
    if let Ok(v) = std::env::var(ENV) {
        return MasterKey::parse(&v).context(ENV);
    }
    let Some(dir) = crate::database::data_dir(database_url) else {
        bail!(
            "{ENV} is not set; it is required with a PostgreSQL database (every node needs the same key)"
        );
    };
    let path = dir.join("master.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            check_private(&path)?;
            return MasterKey::parse(&text)
                .with_context(|| format!("master key file {}", path.display()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let key = MasterKey::generate()?;
    // Written to a private temporary file, then linked into place: the link fails if another
    // process won the race, and nobody ever reads a half-written key.
    let tmp = dir.join(format!(".master.key.{}", std::process::id()));
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(key.encode().as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
    }
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Ok(d) = std::fs::File::open(&dir) {
                let _ = d.sync_all();
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => resolve(database_url, false),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}
