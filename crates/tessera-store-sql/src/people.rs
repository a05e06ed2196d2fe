//! The console's people and sessions. Plain statements on the pool: none of this is part of the
//! change feed, so no write bumps the change counter.

use crate::rows::{parse, time, ts};
use crate::{Engine, SqlStore, map_err};
use async_trait::async_trait;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, FromRow, IntoArguments, Type};
use tessera_core::ids::{TenantId, UserId};
use tessera_core::people::{Person, Session, StoredPerson};
use tessera_core::store::{PeopleStore, StoreError};
use time::OffsetDateTime;

const PERSON_COLS: &str = "id, tenant_id, email, role, created_at, password_hash";

#[derive(FromRow)]
struct PersonRow {
    id: String,
    tenant_id: String,
    email: String,
    role: String,
    created_at: i64,
    password_hash: Option<String>,
}

impl TryFrom<PersonRow> for StoredPerson {
    type Error = StoreError;
    fn try_from(r: PersonRow) -> Result<Self, StoreError> {
        Ok(StoredPerson {
            person: Person {
                id: parse("user id", &r.id)?,
                tenant_id: parse("tenant id", &r.tenant_id)?,
                email: r.email,
                role: parse("console role", &r.role)?,
                created_at: time(r.created_at)?,
                password_set: r.password_hash.is_some(),
            },
            password_hash: r.password_hash,
        })
    }
}

#[derive(FromRow)]
struct SessionRow {
    digest: String,
    user_id: String,
    created_at: i64,
    last_seen_at: i64,
}

#[async_trait]
impl<E: Engine> PeopleStore for SqlStore<E>
where
    for<'c> &'c mut <E::Db as Database>::Connection: Executor<'c, Database = E::Db>,
    for<'q> <E::Db as Database>::Arguments<'q>: IntoArguments<'q, E::Db>,
    for<'r> &'r str: ColumnIndex<<E::Db as Database>::Row>,
    for<'q> String: Encode<'q, E::Db> + Decode<'q, E::Db> + Type<E::Db>,
    for<'q> i64: Encode<'q, E::Db> + Decode<'q, E::Db> + Type<E::Db>,
    for<'q> Option<String>: Encode<'q, E::Db> + Type<E::Db>,
{
    async fn create_person(
        &self,
        p: &Person,
        setup_digest: &str,
        setup_expires: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO people (id, tenant_id, email, role, created_at, setup_digest, setup_expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(p.id.to_string())
        .bind(p.tenant_id.to_string())
        .bind(p.email.clone())
        .bind(p.role.as_str().to_owned())
        .bind(ts(p.created_at))
        .bind(setup_digest.to_owned())
        .bind(ts(setup_expires))
        .execute(&self.pool)
        .await
        .map_err(map_err::<E>)?;
        Ok(())
    }

    async fn get_person(&self, id: UserId) -> Result<StoredPerson, StoreError> {
        self.person_where("id = $1", id.to_string()).await
    }

    async fn person_by_email(&self, email: &str) -> Result<StoredPerson, StoreError> {
        self.person_where("email = $1", email.to_owned()).await
    }

    async fn list_people(&self, tenant: TenantId) -> Result<Vec<Person>, StoreError> {
        let rows: Vec<PersonRow> = sqlx::query_as(&format!(
            "SELECT {PERSON_COLS} FROM people WHERE tenant_id = $1 ORDER BY created_at, email"
        ))
        .bind(tenant.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err::<E>)?;
        rows.into_iter()
            .map(|r| StoredPerson::try_from(r).map(|s| s.person))
            .collect()
    }

    async fn person_by_setup(
        &self,
        digest: &str,
        now: OffsetDateTime,
    ) -> Result<Person, StoreError> {
        let r: PersonRow = sqlx::query_as(&format!(
            "SELECT {PERSON_COLS} FROM people WHERE setup_digest = $1 AND setup_expires_at > $2"
        ))
        .bind(digest.to_owned())
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await
        .map_err(map_err::<E>)?;
        Ok(StoredPerson::try_from(r)?.person)
    }

    async fn redeem_setup(
        &self,
        digest: &str,
        now: OffsetDateTime,
        password_hash: &str,
    ) -> Result<Person, StoreError> {
        let r: PersonRow = sqlx::query_as(&format!(
            "UPDATE people SET password_hash = $1, setup_digest = NULL, setup_expires_at = NULL
             WHERE setup_digest = $2 AND setup_expires_at > $3 RETURNING {PERSON_COLS}"
        ))
        .bind(password_hash.to_owned())
        .bind(digest.to_owned())
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await
        .map_err(map_err::<E>)?;
        Ok(StoredPerson::try_from(r)?.person)
    }

    async fn renew_setup(
        &self,
        id: UserId,
        setup_digest: &str,
        setup_expires: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let done =
            sqlx::query("UPDATE people SET setup_digest = $1, setup_expires_at = $2 WHERE id = $3")
                .bind(setup_digest.to_owned())
                .bind(ts(setup_expires))
                .bind(id.to_string())
                .execute(&self.pool)
                .await
                .map_err(map_err::<E>)?;
        if E::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_person(&self, id: UserId) -> Result<(), StoreError> {
        // The sessions go with the person (ON DELETE CASCADE).
        let done = sqlx::query("DELETE FROM people WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_err::<E>)?;
        if E::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn create_session(&self, s: &Session) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (digest, user_id, created_at, last_seen_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(s.digest.clone())
        .bind(s.user_id.to_string())
        .bind(ts(s.created_at))
        .bind(ts(s.last_seen_at))
        .execute(&self.pool)
        .await
        .map_err(map_err::<E>)?;
        Ok(())
    }

    async fn get_session(&self, digest: &str) -> Result<Option<(Session, Person)>, StoreError> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT digest, user_id, created_at, last_seen_at FROM sessions WHERE digest = $1",
        )
        .bind(digest.to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err::<E>)?;
        let Some(r) = row else { return Ok(None) };
        let session = Session {
            digest: r.digest,
            user_id: parse("user id", &r.user_id)?,
            created_at: time(r.created_at)?,
            last_seen_at: time(r.last_seen_at)?,
        };
        match self.get_person(session.user_id).await {
            Ok(p) => Ok(Some((session, p.person))),
            // Deleted between the two reads: the session went with the person.
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn touch_session(&self, digest: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE digest = $2")
            .bind(ts(at))
            .bind(digest.to_owned())
            .execute(&self.pool)
            .await
            .map_err(map_err::<E>)?;
        Ok(())
    }

    async fn delete_session(&self, digest: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE digest = $1")
            .bind(digest.to_owned())
            .execute(&self.pool)
            .await
            .map_err(map_err::<E>)?;
        Ok(())
    }

    async fn purge_sessions(
        &self,
        idle_before: OffsetDateTime,
        created_before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
            .bind(ts(idle_before))
            .bind(ts(created_before))
            .execute(&self.pool)
            .await
            .map_err(map_err::<E>)?;
        Ok(E::rows_affected(&done))
    }
}

impl<E: Engine> SqlStore<E>
where
    for<'c> &'c mut <E::Db as Database>::Connection: Executor<'c, Database = E::Db>,
    for<'q> <E::Db as Database>::Arguments<'q>: IntoArguments<'q, E::Db>,
    for<'r> &'r str: ColumnIndex<<E::Db as Database>::Row>,
    for<'q> String: Encode<'q, E::Db> + Decode<'q, E::Db> + Type<E::Db>,
    for<'q> i64: Encode<'q, E::Db> + Decode<'q, E::Db> + Type<E::Db>,
    for<'q> Option<String>: Encode<'q, E::Db> + Type<E::Db>,
{
    async fn person_where(&self, cond: &str, value: String) -> Result<StoredPerson, StoreError> {
        let r: PersonRow =
            sqlx::query_as(&format!("SELECT {PERSON_COLS} FROM people WHERE {cond}"))
                .bind(value)
                .fetch_one(&self.pool)
                .await
                .map_err(map_err::<E>)?;
        r.try_into()
    }
}
