//! A node's first load through an engine's own reader.
//!
//! Reading every row through sqlx costs SQLite about 4 µs a row: its driver copies each column
//! value (a C `malloc` apiece) and hands each row from a worker thread to the runtime through a
//! channel. At a million merchants that is three million rows and most of a node's start-up. An
//! engine with a cheaper reader implements [`BulkRead`] and runs [`read_all`] on it; the SQL and
//! the mapping of columns to rows stay here, written once, beside the column lists they follow.

pub use crate::rows::Columns;
use crate::rows::{self, APP_COLS, REVOCATION_COLS, SECRET_COLS, SECRETS_FROM, TENANT_COLS};
use tessera_core::store::{ChangeSet, StoreError};

/// Runs queries inside one read transaction (so one snapshot) of an engine's own reader.
pub trait BulkRead {
    /// Runs `sql` (no parameters) and calls `row` for each row, stopping at its first error.
    fn each(
        &mut self,
        sql: &str,
        row: &mut dyn FnMut(&dyn Columns) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

impl dyn BulkRead + '_ {
    /// The rows of one query, read with `map`.
    fn collect<T>(
        &mut self,
        sql: &str,
        map: fn(&dyn Columns) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        self.each(sql, &mut |c| {
            out.push(map(c)?);
            Ok(())
        })?;
        Ok(out)
    }
}

/// Everything, as `changes_since(0)` returns it: the change counter first, so that every row
/// read after it, in the same snapshot, is at that sequence number or before.
pub fn read_all(r: &mut dyn BulkRead) -> Result<ChangeSet, StoreError> {
    let int = |c: &dyn Columns| c.int(0);
    let seq = r.collect(crate::SEQ, int)?;
    let tenants = r.collect(&format!("SELECT {TENANT_COLS} FROM tenants"), rows::tenant)?;
    let apps = r.collect(&format!("SELECT {APP_COLS} FROM applications"), rows::app)?;
    let secrets = r.collect(
        &format!("SELECT {SECRET_COLS} FROM {SECRETS_FROM}"),
        rows::secret,
    )?;
    let revocations = format!("SELECT {REVOCATION_COLS} FROM revocations ORDER BY seq");
    let revocations = r.collect(&revocations, rows::revocation)?;
    let keys = r.collect("SELECT COUNT(*) FROM signing_keys WHERE seq > 0", int)?;
    Ok(ChangeSet {
        seq: seq.first().copied().unwrap_or_default(),
        tenants,
        apps,
        secrets,
        keys_changed: keys.first().is_some_and(|n| *n > 0),
        revocations,
    })
}
