//! The console's people and sessions. Plain statements on the pool: none of this is part of the
//! change feed, so no write bumps the change counter.

use crate::rows::Columns;
use crate::{Engine, SqlStore, found};
use async_trait::async_trait;
use tessera_core::ids::{TenantId, UserId};
use tessera_core::people::{Person, Session, StoredPerson};
use tessera_core::store::{PeopleStore, StoreError};
use time::OffsetDateTime;

const PERSON_COLS: &str = "id, tenant_id, email, role, created_at, password_hash";

/// [`PERSON_COLS`].
fn person(c: &dyn Columns) -> Result<StoredPerson, StoreError> {
    let password_hash = c.opt_text(5)?;
    Ok(StoredPerson {
        person: Person {
            id: c.parse(0, "user id")?,
            tenant_id: c.parse(1, "tenant id")?,
            email: c.text(2)?,
            role: c.parse(3, "console role")?,
            created_at: c.time(4)?,
            password_set: password_hash.is_some(),
        },
        password_hash,
    })
}

/// A person without the password hash.
fn public(c: &dyn Columns) -> Result<Person, StoreError> {
    Ok(person(c)?.person)
}

fn session(c: &dyn Columns) -> Result<Session, StoreError> {
    Ok(Session {
        digest: c.text(0)?,
        user_id: c.parse(1, "user id")?,
        created_at: c.time(2)?,
        last_seen_at: c.time(3)?,
    })
}

#[async_trait]
impl<E: Engine> PeopleStore for SqlStore<E> {
    async fn create_person(
        &self,
        p: &Person,
        setup_digest: &str,
        setup_expires: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO people
                       (id, tenant_id, email, role, created_at, setup_digest, setup_expires_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let (role, created) = (p.role.as_str(), p.created_at);
        let args = args![
            p.id,
            p.tenant_id,
            &p.email,
            role,
            created,
            setup_digest,
            setup_expires
        ];
        Self::exec(&self.pool, sql, args).await.map(drop)
    }

    async fn get_person(&self, id: UserId) -> Result<StoredPerson, StoreError> {
        let sql = format!("SELECT {PERSON_COLS} FROM people WHERE id = $1");
        Self::one(&self.pool, &sql, args![id], person).await
    }

    async fn person_by_email(&self, email: &str) -> Result<StoredPerson, StoreError> {
        let sql = format!("SELECT {PERSON_COLS} FROM people WHERE email = $1");
        Self::one(&self.pool, &sql, args![email], person).await
    }

    async fn list_people(&self, tenant: TenantId) -> Result<Vec<Person>, StoreError> {
        let sql = format!(
            "SELECT {PERSON_COLS} FROM people WHERE tenant_id = $1 ORDER BY created_at, email"
        );
        Self::all(&self.pool, &sql, args![tenant], public).await
    }

    async fn person_by_setup(
        &self,
        digest: &str,
        now: OffsetDateTime,
    ) -> Result<Person, StoreError> {
        let sql = format!(
            "SELECT {PERSON_COLS} FROM people WHERE setup_digest = $1 AND setup_expires_at > $2"
        );
        Self::one(&self.pool, &sql, args![digest, now], public).await
    }

    async fn redeem_setup(
        &self,
        digest: &str,
        now: OffsetDateTime,
        password_hash: &str,
    ) -> Result<Person, StoreError> {
        let sql = format!(
            "UPDATE people SET password_hash = $1, setup_digest = NULL, setup_expires_at = NULL
             WHERE setup_digest = $2 AND setup_expires_at > $3 RETURNING {PERSON_COLS}"
        );
        Self::one(&self.pool, &sql, args![password_hash, digest, now], public).await
    }

    async fn renew_setup(
        &self,
        id: UserId,
        setup_digest: &str,
        setup_expires: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE people SET setup_digest = $1, setup_expires_at = $2 WHERE id = $3";
        found(Self::exec(&self.pool, sql, args![setup_digest, setup_expires, id]).await?)
    }

    async fn delete_person(&self, id: UserId) -> Result<(), StoreError> {
        // The sessions go with the person (ON DELETE CASCADE).
        let sql = "DELETE FROM people WHERE id = $1";
        found(Self::exec(&self.pool, sql, args![id]).await?)
    }

    async fn create_session(&self, s: &Session) -> Result<(), StoreError> {
        let sql = "INSERT INTO sessions (digest, user_id, created_at, last_seen_at)
                   VALUES ($1, $2, $3, $4)";
        let args = args![&s.digest, s.user_id, s.created_at, s.last_seen_at];
        Self::exec(&self.pool, sql, args).await.map(drop)
    }

    async fn get_session(&self, digest: &str) -> Result<Option<(Session, Person)>, StoreError> {
        let sql =
            "SELECT digest, user_id, created_at, last_seen_at FROM sessions WHERE digest = $1";
        let Some(session) = Self::opt(&self.pool, sql, args![digest], session).await? else {
            return Ok(None);
        };
        match self.get_person(session.user_id).await {
            Ok(p) => Ok(Some((session, p.person))),
            // Deleted between the two reads: the session went with the person.
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn touch_session(&self, digest: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let sql = "UPDATE sessions SET last_seen_at = $1 WHERE digest = $2";
        Self::exec(&self.pool, sql, args![at, digest])
            .await
            .map(drop)
    }

    async fn delete_session(&self, digest: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM sessions WHERE digest = $1";
        Self::exec(&self.pool, sql, args![digest]).await.map(drop)
    }

    async fn purge_sessions(
        &self,
        idle_before: OffsetDateTime,
        created_before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let sql = "DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2";
        Self::exec(&self.pool, sql, args![idle_before, created_before]).await
    }
}
