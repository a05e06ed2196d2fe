//! What tessera's SQL stores share. Both engines keep the same columns (ids as text, times as
//! epoch seconds), so turning a row into a core type is the same code for SQLite and PostgreSQL;
//! only sqlx's row and database types differ. [`row_mappers!`] writes that code once for a given
//! pair of types, in the calling store's module, where `map_err` (each engine's error mapping)
//! and the sqlx and tessera-core paths it uses are in scope.
//!
//! A macro rather than generic functions: generic over sqlx's `Row`, every mapper would carry
//! `Decode`/`Type`/`ColumnIndex` bounds for each column type, which obscures more than it shares.

/// Defines `ts`, `from_ts`, `micros`, `parse`, `get`, `tenant_row`, `app_row`,
/// `secret_meta_row`, `secret_row`, `key_row`, `revocation_row`, `audit_row` and `kind_str` for
/// database `$db` with row type `$row`.
#[macro_export]
macro_rules! row_mappers {
    ($db:ty, $row:ty) => {
        fn ts(t: ::time::OffsetDateTime) -> i64 {
            t.unix_timestamp()
        }

        fn from_ts(v: i64) -> Result<::time::OffsetDateTime, StoreError> {
            ::time::OffsetDateTime::from_unix_timestamp(v)
                .map_err(|e| StoreError::Other(e.to_string()))
        }

        /// Audit times: epoch microseconds, so that events of one second keep their order.
        fn micros(t: ::time::OffsetDateTime) -> i64 {
            i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
        }

        fn parse<T: ::std::str::FromStr>(what: &str, s: &str) -> Result<T, StoreError> {
            s.parse()
                .map_err(|_| StoreError::Other(format!("corrupt {what} in database: {s:?}")))
        }

        fn get<'r, T: ::sqlx::Decode<'r, $db> + ::sqlx::Type<$db>>(
            r: &'r $row,
            col: &str,
        ) -> Result<T, StoreError> {
            ::sqlx::Row::try_get(r, col).map_err(map_err)
        }

        fn tenant_row(r: &$row) -> Result<Tenant, StoreError> {
            let parent: Option<String> = get(r, "parent_id")?;
            Ok(Tenant {
                id: parse("tenant id", &get::<String>(r, "id")?)?,
                name: get(r, "name")?,
                kind: get(r, "kind")?,
                parent_id: parent.map(|p| parse("tenant id", &p)).transpose()?,
                status: parse("tenant status", &get::<String>(r, "status")?)?,
                created_at: from_ts(get(r, "created_at")?)?,
            })
        }

        fn app_row(r: &$row) -> Result<Application, StoreError> {
            Ok(Application {
                client_id: parse("client id", &get::<String>(r, "client_id")?)?,
                tenant_id: parse("tenant id", &get::<String>(r, "tenant_id")?)?,
                name: get(r, "name")?,
                role: get(r, "role")?,
                status: parse("application status", &get::<String>(r, "status")?)?,
                created_at: from_ts(get(r, "created_at")?)?,
            })
        }

        fn secret_meta_row(r: &$row) -> Result<SecretMeta, StoreError> {
            let last: Option<i64> = get(r, "last_used_at")?;
            Ok(SecretMeta {
                id: parse("secret id", &get::<String>(r, "id")?)?,
                client_id: parse("client id", &get::<String>(r, "client_id")?)?,
                name: get(r, "name")?,
                created_at: from_ts(get(r, "created_at")?)?,
                expires_at: from_ts(get(r, "expires_at")?)?,
                last_used_at: last.map(from_ts).transpose()?,
            })
        }

        fn secret_row(r: &$row) -> Result<StoredSecret, StoreError> {
            let digest: Vec<u8> = get(r, "digest")?;
            let digest: [u8; 32] = digest
                .try_into()
                .map_err(|_| StoreError::Other("corrupt secret digest in database".into()))?;
            Ok(StoredSecret {
                meta: secret_meta_row(r)?,
                digest: Digest(digest),
                deleted: get::<i64>(r, "deleted")? != 0,
            })
        }

        fn key_row(r: &$row) -> Result<KeyRecord, StoreError> {
            Ok(KeyRecord {
                kid: get(r, "kid")?,
                alg: parse::<Algorithm>("key algorithm", &get::<String>(r, "alg")?)?,
                created_at: from_ts(get(r, "created_at")?)?,
                activates_at: from_ts(get(r, "activates_at")?)?,
                sealed_private_key: get(r, "sealed_key")?,
            })
        }

        fn kind_str(k: RevocationKind) -> &'static str {
            match k {
                RevocationKind::Jti => "jti",
                RevocationKind::Secret => "secret",
                RevocationKind::Application => "application",
                RevocationKind::Tenant => "tenant",
            }
        }

        fn revocation_row(r: &$row) -> Result<(i64, Revocation), StoreError> {
            let kind = match get::<String>(r, "kind")?.as_str() {
                "jti" => RevocationKind::Jti,
                "secret" => RevocationKind::Secret,
                "application" => RevocationKind::Application,
                "tenant" => RevocationKind::Tenant,
                other => {
                    return Err(StoreError::Other(format!(
                        "corrupt revocation kind {other:?}"
                    )));
                }
            };
            Ok((
                get(r, "seq")?,
                Revocation {
                    kind,
                    id: get(r, "subject")?,
                    before: get(r, "before")?,
                    expires: get(r, "expires")?,
                },
            ))
        }

        fn audit_row(r: &$row) -> Result<AuditEvent, StoreError> {
            let tenant: Option<String> = get(r, "tenant_id")?;
            let at: i64 = get(r, "at")?;
            Ok(AuditEvent {
                at: ::time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1000)
                    .map_err(|e| StoreError::Other(e.to_string()))?,
                actor: get(r, "actor")?,
                tenant_id: tenant.map(|t| parse("tenant id", &t)).transpose()?,
                action: get(r, "action")?,
                target: get(r, "target")?,
                outcome: match get::<String>(r, "outcome")?.as_str() {
                    "success" => Outcome::Success,
                    _ => Outcome::Failure,
                },
                source: get(r, "source")?,
            })
        }
    };
}
