//! A node's first load through an engine's own reader.
//!
//! Reading every row through sqlx costs SQLite about 4 µs a row: its driver copies each column
//! value (a C `malloc` apiece) and hands each row from a worker thread to the runtime through a
//! channel. At a million merchants that is three million rows and most of a node's start-up. An
//! engine with a cheaper reader implements [`BulkRead`] and runs [`read_all`] on it; the SQL and
//! the mapping of columns to rows stay here, written once, beside the column lists they follow.

use crate::rows::*;
use tessera_core::store::{ChangeSet, StoreError};

/// One row, its columns read by position in the order of the query's column list.
pub trait Columns {
    /// A `TEXT NOT NULL` column.
    fn text(&self, i: usize) -> Result<String, StoreError>;
    /// A `TEXT` column that may be NULL.
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError>;
    /// An integer column.
    fn int(&self, i: usize) -> Result<i64, StoreError>;
    /// An integer column that may be NULL.
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    /// A `BLOB NOT NULL` column.
    fn blob(&self, i: usize) -> Result<Vec<u8>, StoreError>;
}

/// Runs queries inside one read transaction (so one snapshot) of an engine's own reader.
pub trait BulkRead {
    /// Runs `sql` (no parameters) and calls `row` for each row, stopping at its first error.
    fn each(
        &mut self,
        sql: &str,
        row: &mut dyn FnMut(&dyn Columns) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

/// The rows of one query, converted.
fn collect<R, T>(
    r: &mut dyn BulkRead,
    sql: &str,
    from: fn(&dyn Columns) -> Result<R, StoreError>,
) -> Result<Vec<T>, StoreError>
where
    T: TryFrom<R, Error = StoreError>,
{
    let mut out = Vec::new();
    r.each(sql, &mut |c| {
        out.push(T::try_from(from(c)?)?);
        Ok(())
    })?;
    Ok(out)
}

/// Everything, as `changes_since(0)` returns it: the change counter first, so that every row
/// read after it, in the same snapshot, is at that sequence number or before.
pub fn read_all(r: &mut dyn BulkRead) -> Result<ChangeSet, StoreError> {
    let mut seq = 0;
    r.each("SELECT value FROM change_seq WHERE id = 1", &mut |c| {
        seq = c.int(0)?;
        Ok(())
    })?;
    let tenants = collect(
        r,
        &format!("SELECT {TENANT_COLS} FROM tenants"),
        TenantRow::from_columns,
    )?;
    let apps = collect(
        r,
        &format!("SELECT {APP_COLS} FROM applications"),
        AppRow::from_columns,
    )?;
    let secrets = collect(
        r,
        &format!("SELECT {SECRET_COLS} FROM {SECRETS_FROM}"),
        SecretRow::from_columns,
    )?;
    let revocations = collect(
        r,
        &format!("SELECT {REVOCATION_COLS} FROM revocations ORDER BY seq"),
        RevocationRow::from_columns,
    )?;
    let mut keys = 0;
    r.each(
        "SELECT COUNT(*) FROM signing_keys WHERE seq > 0",
        &mut |c| {
            keys = c.int(0)?;
            Ok(())
        },
    )?;
    Ok(ChangeSet {
        seq,
        tenants,
        apps,
        secrets,
        keys_changed: keys > 0,
        revocations,
    })
}
