//! Rows as both engines return them (ids as text, times as epoch seconds, audit times as epoch
//! microseconds) and their conversion into the core's types.

use crate::bulk::Columns;
use sqlx::FromRow;
use std::str::FromStr;
use tessera_core::audit::{AuditEvent, Outcome};
use tessera_core::ids::TenantId;
use tessera_core::keys::KeyRecord;
use tessera_core::model::{Application, SecretMeta, StoredSecret, Tenant};
use tessera_core::proto::{Revocation, RevocationKind};
use tessera_core::secret::Digest;
use tessera_core::store::{RevocationRecord, StoreError};
use time::OffsetDateTime;

pub(crate) const TENANT_COLS: &str = "id, name, kind, parent_id, status, created_at";
pub(crate) const APP_COLS: &str = "client_id, tenant_id, name, role, status, created_at";
/// Read from [`SECRETS_FROM`].
pub(crate) const SECRET_COLS: &str = "secrets.id, secrets.client_id, secrets.name, secrets.digest, \
     secrets.created_at, secrets.expires_at, u.last_used_at, secrets.deleted";
/// A secret's row with its last use, which lives in a table of its own (see the migration
/// `secret_usage`).
pub(crate) const SECRETS_FROM: &str =
    "secrets LEFT JOIN secret_usage u ON u.secret_id = secrets.id";
pub(crate) const KEY_COLS: &str = "kid, alg, created_at, activates_at, sealed_key";
pub(crate) const REVOCATION_COLS: &str = "kind, subject, before, expires, seq, tenant_id";

pub(crate) fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

/// Audit times: epoch microseconds, so that events of one second keep their order.
pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

pub(crate) fn time(v: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(v).map_err(|e| StoreError::Other(e.into()))
}

fn corrupt(what: &str, s: &str) -> StoreError {
    StoreError::Other(format!("corrupt {what} in database: {s:?}").into())
}

pub(crate) fn parse<T: FromStr>(what: &str, s: &str) -> Result<T, StoreError> {
    s.parse().map_err(|_| corrupt(what, s))
}

/// Converts every row, failing on the first corrupt one.
pub(crate) fn convert<R, T: TryFrom<R, Error = StoreError>>(
    rows: Vec<R>,
) -> Result<Vec<T>, StoreError> {
    rows.into_iter().map(T::try_from).collect()
}

#[derive(FromRow)]
pub(crate) struct TenantRow {
    id: String,
    name: String,
    kind: String,
    parent_id: Option<String>,
    status: String,
    created_at: i64,
}

impl TenantRow {
    /// In the order of [`TENANT_COLS`].
    pub(crate) fn from_columns(c: &dyn Columns) -> Result<Self, StoreError> {
        Ok(Self {
            id: c.text(0)?,
            name: c.text(1)?,
            kind: c.text(2)?,
            parent_id: c.opt_text(3)?,
            status: c.text(4)?,
            created_at: c.int(5)?,
        })
    }
}

impl TryFrom<TenantRow> for Tenant {
    type Error = StoreError;
    fn try_from(r: TenantRow) -> Result<Self, StoreError> {
        Ok(Tenant {
            id: parse("tenant id", &r.id)?,
            name: r.name,
            kind: r.kind,
            parent_id: r.parent_id.map(|p| parse("tenant id", &p)).transpose()?,
            status: parse("tenant status", &r.status)?,
            created_at: time(r.created_at)?,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct AppRow {
    client_id: String,
    tenant_id: String,
    name: String,
    role: String,
    status: String,
    created_at: i64,
}

impl AppRow {
    /// In the order of [`APP_COLS`].
    pub(crate) fn from_columns(c: &dyn Columns) -> Result<Self, StoreError> {
        Ok(Self {
            client_id: c.text(0)?,
            tenant_id: c.text(1)?,
            name: c.text(2)?,
            role: c.text(3)?,
            status: c.text(4)?,
            created_at: c.int(5)?,
        })
    }
}

impl TryFrom<AppRow> for Application {
    type Error = StoreError;
    fn try_from(r: AppRow) -> Result<Self, StoreError> {
        Ok(Application {
            client_id: parse("client id", &r.client_id)?,
            tenant_id: parse("tenant id", &r.tenant_id)?,
            name: r.name,
            role: r.role,
            status: parse("application status", &r.status)?,
            created_at: time(r.created_at)?,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct SecretMetaRow {
    id: String,
    client_id: String,
    name: String,
    created_at: i64,
    expires_at: i64,
    last_used_at: Option<i64>,
}

impl TryFrom<SecretMetaRow> for SecretMeta {
    type Error = StoreError;
    fn try_from(r: SecretMetaRow) -> Result<Self, StoreError> {
        Ok(SecretMeta {
            id: parse("secret id", &r.id)?,
            client_id: parse("client id", &r.client_id)?,
            name: r.name,
            created_at: time(r.created_at)?,
            expires_at: time(r.expires_at)?,
            last_used_at: r.last_used_at.map(time).transpose()?,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct SecretRow {
    #[sqlx(flatten)]
    meta: SecretMetaRow,
    digest: Vec<u8>,
    deleted: i64,
}

impl SecretRow {
    /// In the order of [`SECRET_COLS`].
    pub(crate) fn from_columns(c: &dyn Columns) -> Result<Self, StoreError> {
        Ok(Self {
            meta: SecretMetaRow {
                id: c.text(0)?,
                client_id: c.text(1)?,
                name: c.text(2)?,
                created_at: c.int(4)?,
                expires_at: c.int(5)?,
                last_used_at: c.opt_int(6)?,
            },
            digest: c.blob(3)?,
            deleted: c.int(7)?,
        })
    }
}

impl TryFrom<SecretRow> for StoredSecret {
    type Error = StoreError;
    fn try_from(r: SecretRow) -> Result<Self, StoreError> {
        let digest: [u8; 32] = r
            .digest
            .try_into()
            .map_err(|_| StoreError::Other("corrupt secret digest in database".into()))?;
        Ok(StoredSecret {
            meta: r.meta.try_into()?,
            digest: Digest(digest),
            deleted: r.deleted != 0,
        })
    }
}

/// A secret with its application's tenant.
#[derive(FromRow)]
pub(crate) struct ExpiringRow {
    #[sqlx(flatten)]
    meta: SecretMetaRow,
    tenant_id: String,
}

impl TryFrom<ExpiringRow> for (TenantId, SecretMeta) {
    type Error = StoreError;
    fn try_from(r: ExpiringRow) -> Result<Self, StoreError> {
        Ok((parse("tenant id", &r.tenant_id)?, r.meta.try_into()?))
    }
}

#[derive(FromRow)]
pub(crate) struct KeyRow {
    kid: String,
    alg: String,
    created_at: i64,
    activates_at: i64,
    sealed_key: Vec<u8>,
}

impl TryFrom<KeyRow> for KeyRecord {
    type Error = StoreError;
    fn try_from(r: KeyRow) -> Result<Self, StoreError> {
        Ok(KeyRecord {
            kid: r.kid,
            alg: parse("key algorithm", &r.alg)?,
            created_at: time(r.created_at)?,
            activates_at: time(r.activates_at)?,
            sealed_private_key: r.sealed_key,
        })
    }
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

#[derive(FromRow)]
pub(crate) struct RevocationRow {
    kind: String,
    subject: String,
    before: i64,
    expires: i64,
    seq: i64,
    tenant_id: Option<String>,
}

impl RevocationRow {
    /// In the order of [`REVOCATION_COLS`].
    pub(crate) fn from_columns(c: &dyn Columns) -> Result<Self, StoreError> {
        Ok(Self {
            kind: c.text(0)?,
            subject: c.text(1)?,
            before: c.int(2)?,
            expires: c.int(3)?,
            seq: c.int(4)?,
            tenant_id: c.opt_text(5)?,
        })
    }
}

impl TryFrom<RevocationRow> for RevocationRecord {
    type Error = StoreError;
    fn try_from(r: RevocationRow) -> Result<Self, StoreError> {
        use RevocationKind as K;
        let kind = [K::Jti, K::Secret, K::Application, K::Tenant]
            .into_iter()
            .find(|k| kind_str(*k) == r.kind)
            .ok_or_else(|| corrupt("revocation kind", &r.kind))?;
        let (id, before, expires) = (r.subject, r.before, r.expires);
        Ok(RevocationRecord {
            seq: r.seq,
            tenant: r.tenant_id.map(|t| parse("tenant id", &t)).transpose()?,
            revocation: Revocation {
                kind,
                id,
                before,
                expires,
            },
        })
    }
}

#[derive(FromRow)]
pub(crate) struct AuditRow {
    at: i64,
    actor: String,
    tenant_id: Option<String>,
    action: String,
    target: Option<String>,
    outcome: String,
    source: Option<String>,
}

impl TryFrom<AuditRow> for AuditEvent {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self, StoreError> {
        Ok(AuditEvent {
            at: OffsetDateTime::from_unix_timestamp_nanos(i128::from(r.at) * 1000)
                .map_err(|e| StoreError::Other(e.into()))?,
            actor: r.actor,
            tenant_id: r.tenant_id.map(|t| parse("tenant id", &t)).transpose()?,
            action: r.action,
            target: r.target,
            outcome: match r.outcome.as_str() {
                "success" => Outcome::Success,
                _ => Outcome::Failure,
            },
            source: r.source,
        })
    }
}
