//! People: the Developer Hub console's users. Each belongs to one tenant with a console role, signs
//! in with an email and a password, and holds server-side sessions, so that signing out or
//! deleting the person ends every session on every node at once.
//!
//! # Why argon2id for passwords, when client secrets use HMAC-SHA-256
//!
//! A client secret is 256 random bits that tessera made ([`crate::secret`] explains why a fast
//! keyed digest is right for it). A password is chosen by a person: short, guessable, reused
//! elsewhere. After a database leak, each guess at it must cost real time and memory, which is
//! what a slow, memory-hard hash is for: argon2id (RFC 9106) with OWASP's parameters (19 MiB, two
//! passes, one lane), stored as a PHC string so that the parameters can be raised later. A hash
//! costs tens of milliseconds of CPU and 19 MiB, so at most [`HASHING_AT_ONCE`] run at once and a
//! caller that cannot get a turn within a few seconds is told to come back ([`CoreError::Busy`]);
//! the front end also counts failed sign-ins (the token endpoints' throttle).
//!
//! Session ids, password-setup codes and the secrets shown once are random values handed to the
//! browser; the database keeps only their SHA-256 digest, so that reading it does not let anyone
//! sign in.

use crate::admin::{ActingAdmin, Admin, not_found};
use crate::audit::{Actor, Outcome};
use crate::error::CoreError;
use crate::ids::{TenantId, UserId};
use crate::store::StoreError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use time::{Duration, OffsetDateTime};
use tokio::sync::Semaphore;

/// How long a password-setup link works.
pub const SETUP_LIFETIME: Duration = Duration::hours(24);
/// A session unused for this long has ended.
pub const IDLE_TIMEOUT: Duration = Duration::minutes(30);
/// A session ends this long after sign-in, however busy.
pub const ABSOLUTE_LIFETIME: Duration = Duration::hours(12);
/// A session's last use is written at most this often (a write per page view is wasted work).
pub const TOUCH_EVERY: Duration = Duration::minutes(1);
/// Password hashes computed at once.
pub const HASHING_AT_ONCE: usize = 2;
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted: bounds the work one request can ask for.
pub const MAX_PASSWORD_BYTES: usize = 256;

static HASHING: std::sync::LazyLock<std::sync::Arc<Semaphore>> =
    std::sync::LazyLock::new(|| std::sync::Arc::new(Semaphore::new(HASHING_AT_ONCE)));

/// What a person may do in the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HubRole {
    /// Everything in the person's tenant and the tenants below it.
    Admin,
    /// Read only.
    Viewer,
}

impl HubRole {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            HubRole::Admin => "admin",
            HubRole::Viewer => "viewer",
        }
    }
}

impl FromStr for HubRole {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, CoreError> {
        match s {
            "admin" => Ok(HubRole::Admin),
            "viewer" => Ok(HubRole::Viewer),
            other => Err(CoreError::Invalid(format!(
                "unknown console role {other:?}: admin or viewer"
            ))),
        }
    }
}

impl fmt::Display for HubRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A console user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    /// Id.
    pub id: UserId,
    /// The tenant the person belongs to.
    pub tenant_id: TenantId,
    /// Email, lower-cased; unique.
    pub email: String,
    /// Console role.
    pub role: HubRole,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Whether a password has been set (until then, only the setup link works).
    pub password_set: bool,
}

/// A person as the store keeps them: with the password hash.
#[derive(Clone)]
pub struct StoredPerson {
    /// The person.
    pub person: Person,
    /// The argon2id PHC string, once a password was set.
    pub password_hash: Option<String>,
}

impl fmt::Debug for StoredPerson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredPerson")
            .field("person", &self.person)
            .finish_non_exhaustive()
    }
}

/// A session as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the session id (hex).
    pub digest: String,
    /// Whose.
    pub user_id: UserId,
    /// Sign-in time.
    pub created_at: OffsetDateTime,
    /// Last use (written at most every [`TOUCH_EVERY`]).
    pub last_seen_at: OffsetDateTime,
}

impl Session {
    /// Whether the session has ended at `now`, by idleness or age.
    pub fn ended(&self, now: OffsetDateTime) -> bool {
        now - self.last_seen_at >= IDLE_TIMEOUT || now - self.created_at >= ABSOLUTE_LIFETIME
    }
}

/// A random value given to a browser once (a session id, a setup code): 256 bits, base64url.
/// Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Ticket(String);

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ticket(<redacted>)")
    }
}

impl Ticket {
    /// A fresh random ticket.
    pub fn new() -> Result<Ticket, CoreError> {
        let mut b = [0u8; 32];
        aws_lc_rs::rand::fill(&mut b).map_err(|_| CoreError::Random)?;
        Ok(Ticket(URL_SAFE_NO_PAD.encode(b)))
    }

    /// A ticket the browser sent back (not checked: an unknown one simply matches nothing).
    pub fn from_browser(s: &str) -> Ticket {
        Ticket(s.to_owned())
    }

    /// The value, to hand to the browser.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps: SHA-256, hex.
    pub fn digest(&self) -> String {
        sha256_hex(self.0.as_bytes())
    }

    /// A value derived from this ticket under `label`: the session's CSRF token, which only the
    /// holder of the session cookie can compute (the synchronizer-token pattern without storing
    /// a second value).
    pub fn derive(&self, label: &str) -> String {
        let d = digest(&SHA256, format!("tessera/{label}\0{}", self.0).as_bytes());
        URL_SAFE_NO_PAD.encode(d.as_ref())
    }
}

fn sha256_hex(b: &[u8]) -> String {
    digest(&SHA256, b)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An email address as tessera keeps it: trimmed, lower-cased, one `@` with text on both sides,
/// no spaces or control characters, at most 254 bytes.
pub fn normalize_email(s: &str) -> Result<String, CoreError> {
    let e = s.trim().to_lowercase();
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(e.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.contains('@') && !d.starts_with('.') && !d.ends_with('.'));
    if ok {
        Ok(e)
    } else {
        Err(CoreError::Invalid(
            "the email address is not valid".to_owned(),
        ))
    }
}

/// The rules for a new password: at least [`MIN_PASSWORD_CHARS`] characters, at most
/// [`MAX_PASSWORD_BYTES`] bytes, not the email address.
pub fn check_password(password: &str, email: &str) -> Result<(), CoreError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(CoreError::Invalid(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(CoreError::Invalid(format!(
            "the password must have at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    if password.trim().eq_ignore_ascii_case(email) {
        return Err(CoreError::Invalid(
            "the password must not be the email address".to_owned(),
        ));
    }
    Ok(())
}

/// Runs `f` (a password hash or check) on the blocking pool, at most [`HASHING_AT_ONCE`] at a
/// time; `Busy` when no turn comes within five seconds.
async fn hashing<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, CoreError> {
    let turn = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        HASHING.clone().acquire_owned(),
    )
    .await
    .map_err(|_| CoreError::Busy)?
    .map_err(|_| CoreError::Busy)?;
    // The turn goes with the work: a caller that gives up (a closed connection, the request
    // timeout) does not free it while the hash still runs.
    tokio::task::spawn_blocking(move || {
        let out = f();
        drop(turn);
        out
    })
    .await
    .map_err(|_| CoreError::Busy)
}

/// Hashes a password (argon2id, OWASP parameters, random salt).
pub async fn hash_password(password: String) -> Result<String, CoreError> {
    hashing(move || {
        let mut salt = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| CoreError::Random)?;
        let salt = SaltString::encode_b64(&salt).map_err(|_| CoreError::Random)?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| CoreError::Invalid(format!("the password cannot be hashed: {e}")))
    })
    .await?
}

/// A hash of a password nobody has, checked when the email is unknown so that an unknown
/// account takes as long to refuse as a wrong password.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$dGVzc2VyYWRlY295c2FsdA$K2Kzl0Gq3lZ2vGq0m7c8lq3dF1u0a5m9yC5P2v8m6iU";

/// Whether `password` matches `hash` (constant-time comparison inside argon2).
pub async fn verify_password(hash: Option<String>, password: String) -> Result<bool, CoreError> {
    hashing(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DECOY_HASH.to_owned());
        let ok = PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        known && ok
    })
    .await
}

impl Admin {
    /// A person.
    pub async fn person(&self, id: UserId) -> Result<Person, CoreError> {
        Ok(self
            .store
            .get_person(id)
            .await
            .map_err(not_found("user"))?
            .person)
    }

    /// The people of a tenant, by creation time.
    pub async fn people(&self, tenant: TenantId) -> Result<Vec<Person>, CoreError> {
        Ok(self.store.list_people(tenant).await?)
    }

    /// Signs a person in: checks the password and opens a session. Every attempt is audited
    /// (`hub.sign_in`, with the email as the actor); a wrong email and a wrong password are the
    /// same [`CoreError::SignIn`], and take the same time.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        source: Option<String>,
    ) -> Result<(Person, Ticket), CoreError> {
        // The actor is what was typed only when it is an email address (at most 254 bytes): an
        // anonymous caller must not write arbitrary text into the audit log.
        let email = normalize_email(email).unwrap_or_default();
        let actor = Actor::person(
            if email.is_empty() {
                "invalid-email"
            } else {
                &email
            },
            None,
            source,
        );
        let r = self.try_sign_in(&email, password).await;
        let tenant = r.as_ref().ok().map(|(p, _)| p.tenant_id);
        self.note(&actor, "hub.sign_in", tenant, None, &r);
        r
    }

    async fn try_sign_in(
        &self,
        email: &str,
        password: &str,
    ) -> Result<(Person, Ticket), CoreError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(CoreError::SignIn);
        }
        let stored = match self.store.person_by_email(email).await {
            Ok(p) => Some(p),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        let hash = stored.as_ref().and_then(|s| s.password_hash.clone());
        if !verify_password(hash, password.to_owned()).await? {
            return Err(CoreError::SignIn);
        }
        let person = stored.ok_or(CoreError::SignIn)?.person;
        let ticket = self.open_session(person.id).await?;
        Ok((person, ticket))
    }

    async fn open_session(&self, user: UserId) -> Result<Ticket, CoreError> {
        let ticket = Ticket::new()?;
        let now = self.clock.now();
        self.store
            .create_session(&Session {
                digest: ticket.digest(),
                user_id: user,
                created_at: now,
                last_seen_at: now,
            })
            .await?;
        Ok(ticket)
    }

    /// The person holding the session `ticket`, if it is open: read from the store every time,
    /// so that a sign-out or a deletion on any node ends it everywhere.
    pub async fn session(&self, ticket: &Ticket) -> Result<Option<Person>, CoreError> {
        let now = self.clock.now();
        let Some((session, person)) = self.store.get_session(&ticket.digest()).await? else {
            return Ok(None);
        };
        if session.ended(now) {
            self.store.delete_session(&session.digest).await?;
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_EVERY {
            self.store.touch_session(&session.digest, now).await?;
        }
        Ok(Some(person))
    }

    /// Ends a session (audited as `hub.sign_out` for `person`).
    pub async fn sign_out(
        &self,
        ticket: &Ticket,
        person: &Person,
        source: Option<String>,
    ) -> Result<(), CoreError> {
        let r = self
            .store
            .delete_session(&ticket.digest())
            .await
            .map_err(CoreError::from);
        let actor = Actor::person(&person.email, Some(person.tenant_id), source);
        self.note(&actor, "hub.sign_out", Some(person.tenant_id), None, &r);
        r
    }

    /// Sets a person's password with the code of their setup link, which stops working, and
    /// signs them in (audited as `hub.set_password`).
    pub async fn set_password(
        &self,
        code: &Ticket,
        password: &str,
        source: Option<String>,
    ) -> Result<(Person, Ticket), CoreError> {
        let now = self.clock.now();
        let pending = self
            .store
            .person_by_setup(&code.digest(), now)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => CoreError::Invalid(
                    "this password link is not valid: it was used already, has expired, or was replaced by a newer one".to_owned(),
                ),
                other => other.into(),
            })?;
        let actor = Actor::person(&pending.email, Some(pending.tenant_id), source);
        let r = async {
            check_password(password, &pending.email)?;
            let hash = hash_password(password.to_owned()).await?;
            let person = self
                .store
                .redeem_setup(&code.digest(), now, &hash)
                .await
                .map_err(not_found("user"))?;
            let ticket = self.open_session(person.id).await?;
            Ok((person, ticket))
        }
        .await;
        self.note(
            &actor,
            "hub.set_password",
            Some(pending.tenant_id),
            Some(pending.id.to_string()),
            &r,
        );
        r
    }

    /// Deletes sessions that have ended (the background task, hourly).
    pub async fn purge_sessions(&self) -> Result<u64, CoreError> {
        let now = self.clock.now();
        Ok(self
            .store
            .purge_sessions(now - IDLE_TIMEOUT, now - ABSOLUTE_LIFETIME)
            .await?)
    }
}

impl ActingAdmin {
    /// Adds a person to a live tenant; returns them with the code of their password-setup link
    /// (valid for [`SETUP_LIFETIME`]). Audited as `user.create`.
    pub async fn create_person(
        &self,
        tenant: TenantId,
        email: &str,
        role: HubRole,
    ) -> Result<(Person, Ticket), CoreError> {
        let r = async {
            let email = normalize_email(email)?;
            let t = self.get_tenant(tenant).await?;
            if t.status == crate::model::TenantStatus::Deleted {
                return Err(CoreError::NotFound("tenant"));
            }
            let code = Ticket::new()?;
            let now = self.clock.now();
            let person = Person {
                id: UserId::random(),
                tenant_id: tenant,
                email,
                role,
                created_at: now,
                password_set: false,
            };
            self.store
                .create_person(&person, &code.digest(), now + SETUP_LIFETIME)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(_) => {
                        CoreError::Conflict("a user with this email exists already".to_owned())
                    }
                    StoreError::NotFound => CoreError::NotFound("tenant"),
                    other => other.into(),
                })?;
            Ok((person, code))
        }
        .await;
        let target = r.as_ref().ok().map(|(p, _)| p.id.to_string());
        self.record("user.create", Some(tenant), target, &r);
        r
    }

    /// A new password link for a person (a lost password, an expired invitation): the previous
    /// link stops working; the current password, if any, works until a new one is set. Audited
    /// as `user.link`.
    pub async fn renew_setup(&self, id: UserId) -> Result<(Person, Ticket), CoreError> {
        let r = async {
            let person = self.person(id).await?;
            let code = Ticket::new()?;
            self.store
                .renew_setup(id, &code.digest(), self.clock.now() + SETUP_LIFETIME)
                .await
                .map_err(not_found("user"))?;
            Ok((person, code))
        }
        .await;
        let tenant = r.as_ref().ok().map(|(p, _)| p.tenant_id);
        self.record("user.link", tenant, Some(id.to_string()), &r);
        r
    }

    /// Deletes a person and ends their sessions. Audited as `user.delete`.
    pub async fn delete_person(&self, id: UserId) -> Result<(), CoreError> {
        let tenant = self.person(id).await.ok().map(|p| p.tenant_id);
        let r = self
            .store
            .delete_person(id)
            .await
            .map_err(not_found("user"));
        self.record("user.delete", tenant, Some(id.to_string()), &r);
        r
    }
}

impl Admin {
    fn note<T>(
        &self,
        actor: &Actor,
        action: &str,
        tenant: Option<TenantId>,
        target: Option<String>,
        r: &Result<T, CoreError>,
    ) {
        let event = actor.event(self.clock.now(), action, tenant, target, Outcome::of(r));
        self.audit.record(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email(" Alice@Example.COM ").unwrap(),
            "alice@example.com"
        );
        for bad in ["", "a", "a@b", "@b.c", "a@.b", "a@b.", "a b@c.d", "a@b@c.d"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_rules() {
        assert!(check_password("short", "a@b.c").is_err());
        assert!(check_password("alice@example.com", "alice@example.com").is_err());
        assert!(check_password(&"x".repeat(300), "a@b.c").is_err());
        assert!(check_password("correct horse battery", "a@b.c").is_ok());
    }

    #[tokio::test]
    async fn passwords_verify_only_against_their_hash() {
        let h = hash_password("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(
            verify_password(Some(h.clone()), "correct horse battery".into())
                .await
                .unwrap()
        );
        assert!(
            !verify_password(Some(h), "wrong horse battery".into())
                .await
                .unwrap()
        );
        // The decoy parses (so an unknown account costs a full hash) and matches nothing.
        assert!(PasswordHash::new(DECOY_HASH).is_ok());
        assert!(!verify_password(None, "anything".into()).await.unwrap());
    }

    #[test]
    fn tickets_hide_in_debug_and_derive_distinct_values() {
        let t = Ticket::new().unwrap();
        assert!(!format!("{t:?}").contains(t.expose()));
        assert_ne!(t.derive("csrf"), t.derive("other"));
        assert_eq!(t.digest().len(), 64);
    }
}
