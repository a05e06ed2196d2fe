//! Token issuance: authenticate the client against the in-memory directory, narrow the scopes to
//! its role, and sign RFC 9068 claims with the current key. Nothing here touches the database:
//! `last_used_at` is noted for the batch writer.

use crate::audit::{AuditBuffer, AuditEvent, Outcome};
use crate::clock::Clock;
use crate::directory::{AppEntry, Directory, Found};
use crate::error::{AuthFailure, TokenError};
use crate::ids::{ClientId, SecretId, TenantId};
use crate::keyring::Keyring;
use crate::model::{AppStatus, Tenant, TenantStatus};
use crate::role::RoleCatalog;
use crate::secret::Pepper;
use crate::throttle::Throttle;
use crate::usage::UsageRecorder;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;
use std::sync::Arc;
use tessera_proto::{
    AccessTokenClaims, Algorithm, Audience, ClaimsToSign, ExtraClaims, Scope, ScopeSet,
};
use time::{Duration, OffsetDateTime};

/// A client id and a presented secret. `Debug` never prints the secret.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    /// The client id.
    pub client_id: ClientId,
    /// The secret as presented; it may be anything.
    pub secret: &'a str,
    /// The client's address, for the audit log of failed attempts.
    pub source: Option<std::net::IpAddr>,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("secret", &"<redacted>")
            .field("source", &self.source)
            .finish()
    }
}

/// A client that proved possession of a live secret.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    /// Its client id.
    pub client_id: ClientId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The secret that authenticated it.
    pub secret_id: SecretId,
    /// Its role's name.
    pub role: String,
    /// Its role's scopes (the catalog's, shared).
    pub role_scopes: Arc<ScopeSet>,
}

/// What to put in the token, beyond who the client is.
#[derive(Debug, Clone, Default)]
pub struct Grant {
    /// Requested scopes; `None` means every scope of the role.
    pub scope: Option<ScopeSet>,
    /// Requested audience (RFC 8707 `resource`); `None` means the configured default.
    pub audience: Option<Audience>,
    /// Lifetime; `None` means the configured default.
    pub ttl: Option<Duration>,
    /// Signature algorithm; `None` means the configured default.
    pub alg: Option<Algorithm>,
    /// The `scope` claim, for a dialect whose tokens name something other than the granted
    /// scopes there; `None` means the granted scopes, space-delimited.
    pub scope_claim: Option<String>,
    /// Claims added beside the registered ones (a dialect's own, such as Basiq's `userId`).
    pub claims: ExtraClaims,
    /// `auth_time` (RFC 9068 §2.2.1): when the client last presented its secret, for a token
    /// that refreshes another; `None` leaves the claim out.
    pub auth_time: Option<i64>,
}

/// A signed token and what the response needs to say about it. `Debug` never shows the token: it
/// is a bearer credential.
#[derive(Clone)]
pub struct IssuedToken {
    /// The compact JWT.
    pub access_token: String,
    /// Its `iat` and `nbf` claims, epoch seconds.
    pub issued_at: i64,
    /// Its `exp` claim, epoch seconds.
    pub expires_at: i64,
    /// Its `scope` claim.
    pub scope_claim: String,
    /// The granted scopes.
    pub scope: Arc<ScopeSet>,
    /// Seconds until expiry.
    pub expires_in: i64,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("access_token", &"<redacted>")
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("scope_claim", &self.scope_claim)
            .field("scope", &self.scope)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// The scope that lets a resource server introspect its tenant's tokens.
pub const INTROSPECT_SCOPE: &str = "introspect";

/// Permission to read a tenant's applications and secret metadata (management API).
pub const APPLICATIONS_READ: &str = "applications:read";
/// Permission to create and delete secrets of the caller's own tenant's applications.
pub const SECRETS_MANAGE: &str = "secrets:manage";
/// Every management permission, across tenants.
pub const ADMIN: &str = "admin";

/// The scopes that act on tessera itself. A token carries them only when its audience is
/// exactly the management audience, and then nothing else: a token a payment API receives can
/// never be replayed against the management API, and a management token is useless to a
/// payment API.
pub const MANAGEMENT_SCOPES: [&str; 3] = [APPLICATIONS_READ, SECRETS_MANAGE, ADMIN];

/// Whether `scope` is one of [`MANAGEMENT_SCOPES`].
pub fn is_management_scope(scope: &str) -> bool {
    MANAGEMENT_SCOPES.contains(&scope)
}

/// A role's scopes, split once at start by the audience that may carry them, so that narrowing
/// on the token path is a lookup and a clone, as it was before the split.
#[derive(Debug, Clone, Default)]
struct SplitScopes {
    /// What a token for any audience but the management one may carry.
    payment: Allowed,
    /// What a management-audience token may carry.
    management: Allowed,
}

/// The scopes a token may carry, and the `scope` claim of a token that carries them all (the
/// usual token, which asks for no scope), rendered once.
#[derive(Debug, Clone, Default)]
struct Allowed {
    set: Arc<ScopeSet>,
    claim: Box<str>,
}

impl Allowed {
    fn new(set: ScopeSet) -> Allowed {
        Allowed {
            claim: set.to_string().into(),
            set: Arc::new(set),
        }
    }
}

impl SplitScopes {
    fn of(role_scopes: &ScopeSet) -> SplitScopes {
        let (management, payment): (Vec<Scope>, Vec<Scope>) = role_scopes
            .iter()
            .cloned()
            .partition(|s| is_management_scope(s.as_str()));
        SplitScopes {
            payment: Allowed::new(payment.into_iter().collect()),
            management: Allowed::new(management.into_iter().collect()),
        }
    }

    fn for_audience(&self, management: bool) -> &Allowed {
        if management {
            &self.management
        } else {
            &self.payment
        }
    }
}

/// Whether an application and its tenant may authenticate.
fn standing(entry: &AppEntry, tenant: Option<&Tenant>) -> Result<(), AuthFailure> {
    match tenant.map(|t| t.status) {
        Some(TenantStatus::Active) => {}
        Some(TenantStatus::Disabled) => return Err(AuthFailure::TenantDisabled),
        Some(TenantStatus::Deleted) | None => return Err(AuthFailure::TenantDeleted),
    }
    if entry.app.status == AppStatus::Disabled {
        return Err(AuthFailure::ClientDisabled);
    }
    Ok(())
}

/// Issuer settings.
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    /// The `iss` claim, identical to the metadata's `issuer`.
    pub issuer: String,
    /// `aud` when the client names no resource.
    pub default_audience: String,
    /// The management API's own audience: a token for exactly this audience carries the
    /// management scopes of its role and nothing else; a token for any other never carries
    /// them. Must differ from `default_audience`.
    pub management_audience: String,
    /// Default token lifetime.
    pub token_ttl: Duration,
    /// Default signature algorithm.
    pub alg: Algorithm,
}

/// What an issuer works with.
pub struct IssuerDeps {
    /// Tenants and applications in memory.
    pub directory: Arc<Directory>,
    /// Signing keys.
    pub keyring: Arc<Keyring>,
    /// Roles.
    pub catalog: Arc<RoleCatalog>,
    /// The secret digest key.
    pub pepper: Pepper,
    /// `last_used_at` notes.
    pub usage: Arc<UsageRecorder>,
    /// Failed authentications are audited here.
    pub audit: Arc<AuditBuffer>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Failed-attempt counters and per-client rates.
    pub throttle: Arc<Throttle>,
}

/// Issues tokens.
pub struct Issuer {
    config: IssuerConfig,
    directory: Arc<Directory>,
    keyring: Arc<Keyring>,
    catalog: Arc<RoleCatalog>,
    pepper: Pepper,
    usage: Arc<UsageRecorder>,
    audit: Arc<AuditBuffer>,
    clock: Arc<dyn Clock>,
    throttle: Arc<Throttle>,
    /// Every role's scopes, split by audience.
    split: std::collections::HashMap<String, SplitScopes>,
    /// `aud` when the client names no resource.
    default_audience: Audience,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// An issuer over its ports.
    pub fn new(config: IssuerConfig, deps: IssuerDeps) -> Self {
        let split = deps
            .catalog
            .roles()
            .map(|(name, scopes)| (name.to_owned(), SplitScopes::of(scopes)))
            .collect();
        Issuer {
            split,
            default_audience: Audience::One(config.default_audience.clone()),
            config,
            directory: deps.directory,
            keyring: deps.keyring,
            catalog: deps.catalog,
            pepper: deps.pepper,
            usage: deps.usage,
            audit: deps.audit,
            clock: deps.clock,
            throttle: deps.throttle,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &IssuerConfig {
        &self.config
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Failed-attempt counters and per-client rates.
    pub fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    /// Checks credentials: the client exists and is not deleted, the secret matches one of its
    /// unexpired secrets (constant-time, against all of them), and the client and its tenant are
    /// active. On success the secret's use is noted for the batch writer.
    pub fn authenticate(
        &self,
        creds: Credentials<'_>,
        now: OffsetDateTime,
    ) -> Result<AuthenticatedClient, TokenError> {
        // The front end's request log names the client.
        crate::context::note_client(creds.client_id);
        // Before the secret is looked at: a caller past its failure budget learns nothing.
        let mono = std::time::Instant::now();
        self.throttle
            .check(&creds.client_id, creds.source, mono)
            .map_err(|t| TokenError::Throttled(t.retry_after))?;
        let presented = self.pepper.digest_presented(creds.secret);
        let result = self.directory.with_app(&creds.client_id, |found| {
            let (entry, tenant) = match found.ok_or(AuthFailure::UnknownClient)? {
                Found::App(entry, tenant) => (entry, tenant),
                Found::Deleted(_) => return Err(AuthFailure::ClientDeleted),
            };
            let digest = presented.ok_or(AuthFailure::BadSecret)?;
            // Compare against every secret, without stopping early.
            let mut matched = None;
            for s in &entry.secrets {
                if s.digest.ct_eq(&digest) {
                    matched = Some((s.id, s.expires_at));
                }
            }
            let (secret_id, expires_at) = matched.ok_or(AuthFailure::BadSecret)?;
            if expires_at <= now {
                return Err(AuthFailure::SecretExpired);
            }
            standing(entry, tenant)?;
            let note = entry
                .secrets
                .iter()
                .find(|s| s.id == secret_id)
                .is_some_and(|s| s.note_use(now));
            Ok((entry.app.tenant_id, secret_id, entry.app.role.clone(), note))
        });
        let (tenant_id, secret_id, role, note) = match result {
            Ok(v) => v,
            Err(f) => {
                // Only what a guess produces counts: a caller that presented a real secret
                // (expired, or of a disabled client) is not guessing.
                if matches!(
                    f,
                    AuthFailure::UnknownClient
                        | AuthFailure::ClientDeleted
                        | AuthFailure::BadSecret
                ) {
                    self.throttle.failed(&creds.client_id, creds.source, mono);
                }
                // A made-up client id belongs to no tenant, so no tenant's audit trail shows it;
                // recording each one would let anyone grow the audit table without bound.
                if f != AuthFailure::UnknownClient {
                    self.audit_failure(&creds, f, now);
                }
                metrics::counter!("tessera_authentication_failures_total", "reason" => f.as_str())
                    .increment(1);
                return Err(TokenError::InvalidClient(f));
            }
        };
        let role_scopes = self
            .catalog
            .shared_scopes(&role)
            .ok_or(TokenError::UnauthorizedClient)?;
        if note {
            self.usage.touch(secret_id, now);
        }
        Ok(AuthenticatedClient {
            client_id: creds.client_id,
            tenant_id,
            secret_id,
            role,
            role_scopes,
        })
    }

    fn audit_failure(&self, creds: &Credentials<'_>, f: AuthFailure, now: OffsetDateTime) {
        let tenant_id = self
            .directory
            .with_app(&creds.client_id, |e| e.map(|f| f.tenant_id()));
        self.audit.record(AuditEvent {
            at: now,
            actor: creds.client_id.to_string(),
            tenant_id,
            action: "token.authenticate".into(),
            target: Some(f.as_str().into()),
            outcome: Outcome::Failure,
            source: creds.source.map(|ip| ip.to_string()),
        });
    }

    /// Signs a token for an authenticated client.
    pub fn issue(
        &self,
        client: &AuthenticatedClient,
        grant: Grant,
        now: OffsetDateTime,
    ) -> Result<IssuedToken, TokenError> {
        self.throttle
            .token(&client.client_id)
            .map_err(|t| TokenError::Throttled(t.retry_after))?;
        let management = self.is_management(grant.audience.as_ref());
        let computed;
        let allowed = match self.split.get(client.role.as_str()) {
            Some(split) => split.for_audience(management),
            // A client whose role is not in the catalog this issuer started with.
            None => {
                computed = SplitScopes::of(&client.role_scopes);
                computed.for_audience(management)
            }
        };
        let (scope, asked) = match grant.scope {
            Some(s) if !s.is_empty() => {
                if let Some(bad) = s.iter().find(|x| !allowed.set.contains(x.as_str())) {
                    return Err(TokenError::InvalidScope(bad.to_string()));
                }
                (Arc::new(s), true)
            }
            _ => (allowed.set.clone(), false),
        };
        let ttl = grant.ttl.unwrap_or(self.config.token_ttl);
        let alg = grant.alg.unwrap_or(self.config.alg);
        let keys = self.keyring.snapshot();
        let key = keys.signer(alg, now).ok_or(TokenError::NoSigningKey)?;
        let iat = now.unix_timestamp();
        let exp = iat + ttl.whole_seconds();
        // A dialect's own claim wins; the role's is rendered already; only a narrowed set is new.
        let scope_claim = match grant.scope_claim {
            Some(claim) => claim,
            None if asked => scope.to_string(),
            None => String::from(&*allowed.claim),
        };
        // The claims borrow what they name: ids are written into buffers on the stack.
        let mut ids = [uuid::Uuid::encode_buffer(); 3];
        let [client_buf, tenant_buf, secret_buf] = &mut ids;
        let client_id = client
            .client_id
            .as_uuid()
            .hyphenated()
            .encode_lower(client_buf);
        let claims = ClaimsToSign {
            iss: &self.config.issuer,
            sub: client_id,
            client_id,
            aud: grant.audience.as_ref().unwrap_or(&self.default_audience),
            exp,
            iat,
            nbf: iat,
            // 128 random bits in 22 base64url characters: as unique as a UUID, 14 bytes shorter
            // in every token.
            jti: &URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes()),
            scope: &scope_claim,
            tenant_id: client
                .tenant_id
                .as_uuid()
                .hyphenated()
                .encode_lower(tenant_buf),
            secret_id: client
                .secret_id
                .as_uuid()
                .hyphenated()
                .encode_lower(secret_buf),
            auth_time: grant.auth_time,
            extra: &grant.claims,
        };
        let access_token = key.sign_jwt(&claims).map_err(TokenError::Internal)?;
        Ok(IssuedToken {
            access_token,
            issued_at: iat,
            expires_at: exp,
            scope_claim,
            scope,
            expires_in: ttl.whole_seconds(),
        })
    }

    /// Whether `audience` is exactly the management audience (one audience, that one): only then
    /// may a token carry management scopes.
    pub fn is_management(&self, audience: Option<&Audience>) -> bool {
        matches!(audience, Some(Audience::One(a)) if *a == self.config.management_audience)
    }

    /// Checks that `child` is a direct, active child tenant of the client's tenant, for a token
    /// that acts for it (a business application of a partner, say).
    pub fn check_child(
        &self,
        client: &AuthenticatedClient,
        child: TenantId,
    ) -> Result<(), TokenError> {
        let ok = self.directory.tenant(&child).is_some_and(|t| {
            t.parent_id == Some(client.tenant_id) && t.status == TenantStatus::Active
        });
        if ok {
            Ok(())
        } else {
            Err(TokenError::BindingRefused(child))
        }
    }

    /// Re-checks the client behind a token this server issued: the token is not revoked, and its
    /// application, its tenant and the very secret that authenticated it are all still live.
    /// Used by introspection, the management API, iPOSpays refresh and Banked partner endpoints.
    pub fn reauthenticate(
        &self,
        claims: &AccessTokenClaims,
        now: OffsetDateTime,
    ) -> Result<AuthenticatedClient, TokenError> {
        if self.directory.is_revoked(claims) {
            return Err(TokenError::InvalidClient(AuthFailure::BadSecret));
        }
        let client_id: ClientId = claims
            .client_id
            .parse()
            .map_err(|_| TokenError::InvalidClient(AuthFailure::UnknownClient))?;
        let secret_id: SecretId = claims
            .secret_id
            .parse()
            .map_err(|_| TokenError::InvalidClient(AuthFailure::BadSecret))?;
        let found = self.directory.with_app(&client_id, |found| {
            let (entry, tenant) = match found.ok_or(AuthFailure::UnknownClient)? {
                Found::App(entry, tenant) => (entry, tenant),
                Found::Deleted(_) => return Err(AuthFailure::ClientDeleted),
            };
            let secret = entry
                .secrets
                .iter()
                .find(|s| s.id == secret_id)
                .ok_or(AuthFailure::BadSecret)?;
            if secret.expires_at <= now {
                return Err(AuthFailure::SecretExpired);
            }
            standing(entry, tenant)?;
            Ok((entry.app.tenant_id, entry.app.role.clone()))
        });
        let (tenant_id, role) = found.map_err(TokenError::InvalidClient)?;
        // A token bound to a child tenant (a Banked business application) lives only as long
        // as that tenant stays an active child of the client's.
        if let Some(child) = claims.extra.get_str(tessera_proto::BOUND_TENANT_CLAIM) {
            let live = child.parse::<TenantId>().is_ok_and(|child| {
                self.directory.tenant(&child).is_some_and(|t| {
                    t.parent_id == Some(tenant_id) && t.status == TenantStatus::Active
                })
            });
            if !live {
                return Err(TokenError::InvalidClient(AuthFailure::TenantDisabled));
            }
        }
        let role_scopes = self
            .catalog
            .shared_scopes(&role)
            .ok_or(TokenError::UnauthorizedClient)?;
        Ok(AuthenticatedClient {
            client_id,
            tenant_id,
            secret_id,
            role,
            role_scopes,
        })
    }

    /// RFC 7662 introspection of `token` on behalf of `caller`. A client may introspect its own
    /// tokens; a client whose role holds `introspect` may introspect every token of its tenant
    /// and of its tenant's children. Anything else — a token it may not see, an expired,
    /// revoked or forged one, one whose secret, application or tenant is gone or disabled — is
    /// `{"active": false}`, which reveals nothing.
    pub fn introspect(
        &self,
        caller: &AuthenticatedClient,
        token: &str,
        now: OffsetDateTime,
    ) -> tessera_proto::Introspection {
        let inactive = tessera_proto::Introspection::default();
        let Ok(claims) = self.keyring.verify(token, &self.config.issuer, now) else {
            return inactive;
        };
        if !self.may_see(caller, &claims) || self.reauthenticate(&claims, now).is_err() {
            return inactive;
        }
        tessera_proto::Introspection {
            active: true,
            scope: Some(claims.scope),
            client_id: Some(claims.client_id),
            token_type: Some("Bearer".into()),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            nbf: Some(claims.nbf),
            sub: Some(claims.sub),
            aud: Some(claims.aud),
            iss: Some(claims.iss),
            jti: Some(claims.jti),
            tenant_id: Some(claims.tenant_id),
        }
    }

    /// Whether `caller` may introspect a token with these claims.
    pub fn may_see(&self, caller: &AuthenticatedClient, claims: &AccessTokenClaims) -> bool {
        if claims.client_id == caller.client_id.to_string() {
            return true;
        }
        if !caller.role_scopes.contains(INTROSPECT_SCOPE) {
            return false;
        }
        let Ok(tenant) = claims.tenant_id.parse::<TenantId>() else {
            return false;
        };
        tenant == caller.tenant_id
            || self
                .directory
                .tenant(&tenant)
                .is_some_and(|t| t.parent_id == Some(caller.tenant_id))
    }

    /// The directory this issuer reads.
    pub fn directory(&self) -> &Arc<Directory> {
        &self.directory
    }

    /// The key ring this issuer signs with.
    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    /// Authenticates and issues in one step, reading the clock once.
    pub fn token(&self, creds: Credentials<'_>, grant: Grant) -> Result<IssuedToken, TokenError> {
        let now = self.clock.now();
        let client = self.authenticate(creds, now)?;
        self.issue(&client, grant, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn management_scopes_go_only_to_the_management_audience() {
        let role =
            ScopeSet::parse("transactions:process applications:read secrets:manage").unwrap();
        let split = SplitScopes::of(&role);
        for (management, scopes) in [
            (false, "transactions:process"),
            (true, "applications:read secrets:manage"),
        ] {
            let allowed = split.for_audience(management);
            assert_eq!(allowed.set.to_string(), scopes);
            assert_eq!(&*allowed.claim, scopes);
        }
        let admin = SplitScopes::of(&ScopeSet::parse("admin").unwrap());
        assert!(admin.for_audience(false).set.is_empty());
        assert!(MANAGEMENT_SCOPES.iter().all(|s| is_management_scope(s)));
        assert!(!is_management_scope("introspect"));
    }

    #[test]
    fn an_issued_token_never_shows_in_debug() {
        let t = IssuedToken {
            access_token: "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjIn0.c2lnbmF0dXJl".into(),
            issued_at: 1,
            expires_at: 2,
            scope_claim: "payments:read".into(),
            scope: Arc::new(ScopeSet::parse("payments:read").unwrap()),
            expires_in: 1,
        };
        let shown = format!("{t:?} {t:#?}");
        assert!(!shown.contains("eyJ"), "{shown}");
        assert!(shown.contains("payments:read"), "{shown}");
    }
}
