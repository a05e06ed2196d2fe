//! The tables' columns as both engines return them (ids as text, times as epoch seconds, audit
//! times as epoch microseconds) and how a row becomes one of the core's types. Each column list
//! stands beside the one function that reads it, by position, so that sqlx and an engine's own
//! reader (see [`crate::bulk`]) map rows the same way.

use std::str::FromStr;
use tessera_core::audit::{AuditEvent, Outcome};
use tessera_core::ids::TenantId;
use tessera_core::keys::KeyRecord;
use tessera_core::model::{Application, SecretMeta, StoredSecret, Tenant};
use tessera_core::proto::{Revocation, RevocationKind};
use tessera_core::secret::Digest;
use tessera_core::store::{RevocationRecord, StoreError};
use time::OffsetDateTime;

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

impl dyn Columns + '_ {
    /// A text column parsed (ids, enums); `what` names it in the error.
    pub(crate) fn parse<T: FromStr>(&self, i: usize, what: &str) -> Result<T, StoreError> {
        parse(what, &self.text(i)?)
    }

    /// A nullable text column parsed.
    pub(crate) fn opt_parse<T: FromStr>(
        &self,
        i: usize,
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        self.opt_text(i)?.map(|s| parse(what, &s)).transpose()
    }

    /// A time in epoch seconds.
    pub(crate) fn time(&self, i: usize) -> Result<OffsetDateTime, StoreError> {
        time(self.int(i)?)
    }
}

pub(crate) const TENANT_COLS: &str = "id, name, kind, parent_id, status, created_at";
pub(crate) const APP_COLS: &str = "client_id, tenant_id, name, role, status, created_at";
/// Read from [`SECRETS_FROM`]; [`secret_meta`] reads the first six.
pub(crate) const SECRET_COLS: &str = "secrets.id, secrets.client_id, secrets.name, \
     secrets.created_at, secrets.expires_at, u.last_used_at, secrets.digest, secrets.deleted";
/// A secret's row with its last use, which lives in a table of its own (see the migration
/// `secret_usage`).
pub(crate) const SECRETS_FROM: &str =
    "secrets LEFT JOIN secret_usage u ON u.secret_id = secrets.id";
pub(crate) const KEY_COLS: &str = "kid, alg, created_at, activates_at, sealed_key";
pub(crate) const REVOCATION_COLS: &str = "kind, subject, before, expires, seq, tenant_id";
pub(crate) const AUDIT_COLS: &str = "at, actor, tenant_id, action, target, outcome, source";

/// Audit times: epoch microseconds, so that events of one second keep their order.
pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

fn time(v: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(v).map_err(|e| StoreError::Other(e.into()))
}

fn corrupt(what: &str, s: &str) -> StoreError {
    StoreError::Other(format!("corrupt {what} in database: {s:?}").into())
}

fn parse<T: FromStr>(what: &str, s: &str) -> Result<T, StoreError> {
    s.parse().map_err(|_| corrupt(what, s))
}

/// [`TENANT_COLS`].
pub(crate) fn tenant(c: &dyn Columns) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: c.parse(0, "tenant id")?,
        name: c.text(1)?,
        kind: c.text(2)?,
        parent_id: c.opt_parse(3, "tenant id")?,
        status: c.parse(4, "tenant status")?,
        created_at: c.time(5)?,
    })
}

/// [`APP_COLS`].
pub(crate) fn app(c: &dyn Columns) -> Result<Application, StoreError> {
    Ok(Application {
        client_id: c.parse(0, "client id")?,
        tenant_id: c.parse(1, "tenant id")?,
        name: c.text(2)?,
        role: c.text(3)?,
        status: c.parse(4, "application status")?,
        created_at: c.time(5)?,
    })
}

/// The first six of [`SECRET_COLS`].
pub(crate) fn secret_meta(c: &dyn Columns) -> Result<SecretMeta, StoreError> {
    Ok(SecretMeta {
        id: c.parse(0, "secret id")?,
        client_id: c.parse(1, "client id")?,
        name: c.text(2)?,
        created_at: c.time(3)?,
        expires_at: c.time(4)?,
        last_used_at: c.opt_int(5)?.map(time).transpose()?,
    })
}

/// [`SECRET_COLS`].
pub(crate) fn secret(c: &dyn Columns) -> Result<StoredSecret, StoreError> {
    let digest: [u8; 32] = c
        .blob(6)?
        .try_into()
        .map_err(|_| StoreError::Other("corrupt secret digest in database".into()))?;
    Ok(StoredSecret {
        meta: secret_meta(c)?,
        digest: Digest(digest),
        deleted: c.int(7)? != 0,
    })
}

/// [`SECRET_COLS`], then the application's tenant.
pub(crate) fn expiring(c: &dyn Columns) -> Result<(TenantId, SecretMeta), StoreError> {
    Ok((c.parse(8, "tenant id")?, secret_meta(c)?))
}

/// [`KEY_COLS`].
pub(crate) fn key(c: &dyn Columns) -> Result<KeyRecord, StoreError> {
    Ok(KeyRecord {
        kid: c.text(0)?,
        alg: c.parse(1, "key algorithm")?,
        created_at: c.time(2)?,
        activates_at: c.time(3)?,
        sealed_private_key: c.blob(4)?,
    })
}

/// Revocation kinds as stored; reading maps them back through this one table.
pub(crate) fn kind_str(k: RevocationKind) -> &'static str {
    match k {
        RevocationKind::Jti => "jti",
        RevocationKind::Secret => "secret",
        RevocationKind::Application => "application",
        RevocationKind::Tenant => "tenant",
    }
}

/// [`REVOCATION_COLS`].
pub(crate) fn revocation(c: &dyn Columns) -> Result<RevocationRecord, StoreError> {
    use RevocationKind as K;
    let kind = c.text(0)?;
    let kind = [K::Jti, K::Secret, K::Application, K::Tenant]
        .into_iter()
        .find(|k| kind_str(*k) == kind)
        .ok_or_else(|| corrupt("revocation kind", &kind))?;
    Ok(RevocationRecord {
        seq: c.int(4)?,
        tenant: c.opt_parse(5, "tenant id")?,
        revocation: Revocation {
            kind,
            id: c.text(1)?,
            before: c.int(2)?,
            expires: c.int(3)?,
        },
    })
}

/// [`AUDIT_COLS`].
pub(crate) fn audit(c: &dyn Columns) -> Result<AuditEvent, StoreError> {
    Ok(AuditEvent {
        at: OffsetDateTime::from_unix_timestamp_nanos(i128::from(c.int(0)?) * 1000)
            .map_err(|e| StoreError::Other(e.into()))?,
        actor: c.text(1)?,
        tenant_id: c.opt_parse(2, "tenant id")?,
        action: c.text(3)?,
        target: c.opt_text(4)?,
        outcome: match c.text(5)?.as_str() {
            "success" => Outcome::Success,
            _ => Outcome::Failure,
        },
        source: c.opt_text(6)?,
    })
}
