//! tessera-guard: validation of tessera access tokens for the payment APIs behind tessera.
//!
//! A [`Guard`] holds the issuer's published keys (fetched from its JWKS, cached, refetched on an
//! unknown `kid` at most once per interval) and the revocations it learns from the revocation
//! feed. [`Guard::layer`] is a tower `Layer` for axum: it takes the `Authorization: Bearer` token,
//! checks the signature with an algorithm allow-list, `typ` `at+jwt`, `iss`, `aud`, `exp` and
//! `nbf` with a small leeway and the revocation list, and hands the claims to handlers as
//! [`Claims`]. [`RequireScope`] guards a route by scope. Refusals come in the API's own shape
//! ([`ErrorStyle`]).
//!
//! This crate depends on `tessera-proto` and never on the issuer: a resource server does not
//! compile an authorization server.

mod keys;
mod style;

pub use keys::VerifyingKey;
pub use style::{ErrorStyle, Refusal};

use axum_core::extract::FromRequestParts;
use axum_core::response::Response;
use base64::Engine;
use http::Request;
use http::request::Parts;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tessera_proto::jws::{self, ClaimsError};
use tessera_proto::{AccessTokenClaims, Algorithm, Jwks, RevocationFeed, RevocationList};

/// Credentials of a client holding `introspect`, for the revocation feed.
#[derive(Clone)]
pub struct FeedCredentials {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
}

impl std::fmt::Debug for FeedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedCredentials")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// What a guard accepts.
#[derive(Debug, Clone)]
pub struct GuardConfig {
    /// The issuer, compared with `iss` byte for byte.
    pub issuer: String,
    /// Accepted audiences: a token must name at least one.
    pub audiences: Vec<String>,
    /// The issuer's JWKS URL.
    pub jwks_uri: String,
    /// The algorithm allow-list (default: ES256, EdDSA, RS256).
    pub algorithms: Vec<Algorithm>,
    /// Clock skew allowed on `exp` and `nbf` (default 30 s).
    pub leeway: Duration,
    /// Refetch the JWKS for an unknown kid at most this often (default 10 s).
    pub refetch_interval: Duration,
    /// Refresh the JWKS at least this often (default 5 min, the issuer's `max-age`).
    pub jwks_max_age: Duration,
    /// The revocation feed (`GET /oauth2/revocations`) and a client allowed to read it.
    pub feed: Option<(String, FeedCredentials)>,
    /// How refusals look.
    pub style: ErrorStyle,
}

impl GuardConfig {
    /// Defaults for an issuer: JWKS at `issuer/oauth2/jwks`, every allow-listed algorithm.
    pub fn new(issuer: &str, audiences: Vec<String>) -> GuardConfig {
        let issuer = issuer.trim_end_matches('/').to_owned();
        GuardConfig {
            jwks_uri: format!("{issuer}/oauth2/jwks"),
            issuer,
            audiences,
            algorithms: Algorithm::ALL.to_vec(),
            leeway: Duration::from_secs(30),
            refetch_interval: Duration::from_secs(10),
            jwks_max_age: Duration::from_secs(300),
            feed: None,
            style: ErrorStyle::Rfc6750,
        }
    }

    /// Follows the issuer's revocation feed with these credentials.
    pub fn with_feed(mut self, creds: FeedCredentials) -> GuardConfig {
        self.feed = Some((format!("{}/oauth2/revocations", self.issuer), creds));
        self
    }

    /// Answers refusals in `style`.
    pub fn with_style(mut self, style: ErrorStyle) -> GuardConfig {
        self.style = style;
        self
    }
}

/// Why a guard could not start.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The JWKS could not be fetched or parsed.
    #[error("cannot fetch the JWKS from {uri}: {reason}")]
    Jwks {
        /// The URL.
        uri: String,
        /// What failed.
        reason: String,
    },
}

/// Why a token was refused (before it is rendered in a style).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// No Bearer token.
    Missing,
    /// Not a compact JWS access token with an allow-listed algorithm.
    Malformed,
    /// No published key has this kid (after a refetch).
    UnknownKey,
    /// The signature does not verify.
    BadSignature,
    /// Another issuer.
    WrongIssuer,
    /// Another audience.
    WrongAudience,
    /// Expired.
    Expired,
    /// Not yet valid.
    NotYetValid,
    /// Revoked.
    Revoked,
}

impl Rejection {
    fn describe(self) -> &'static str {
        match self {
            Rejection::Missing => "a Bearer access token is required",
            Rejection::Malformed => "the access token is malformed",
            Rejection::UnknownKey | Rejection::BadSignature => {
                "the access token signature is invalid"
            }
            Rejection::WrongIssuer => "the access token is from another issuer",
            Rejection::WrongAudience => "the access token is for another audience",
            Rejection::Expired => "the access token has expired",
            Rejection::NotYetValid => "the access token is not valid yet",
            Rejection::Revoked => "the access token has been revoked",
        }
    }
}

struct KeyCache {
    keys: HashMap<String, VerifyingKey>,
    fetched_at: Instant,
    last_attempt: Option<Instant>,
}

struct Inner {
    config: GuardConfig,
    keys: RwLock<KeyCache>,
    revoked: RwLock<RevocationList>,
    http: reqwest::Client,
    /// One JWKS fetch at a time: concurrent unknown kids share it.
    fetching: tokio::sync::Mutex<()>,
}

/// Validates tessera access tokens. Cheap to clone.
#[derive(Clone)]
pub struct Guard(Arc<Inner>);

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("issuer", &self.0.config.issuer)
            .finish_non_exhaustive()
    }
}

fn now_secs() -> i64 {
    // A resource server has no Clock port; the system clock is what validation needs.
    #[expect(
        clippy::disallowed_methods,
        reason = "the guard reads the system clock"
    )]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Guard {
    /// A guard that fetches the JWKS now and, when configured, follows the revocation feed in a
    /// background task for as long as the guard lives.
    pub async fn start(config: GuardConfig) -> Result<Guard, GuardError> {
        let guard = Guard::with_keys(config, HashMap::new());
        guard.fetch_jwks().await?;
        if let Some((url, creds)) = guard.0.config.feed.clone() {
            tokio::spawn(follow_feed(Arc::downgrade(&guard.0), url, creds));
        }
        Ok(guard)
    }

    /// A guard over a fixed JWKS, never fetched (offline use and tests).
    pub fn from_jwks(config: GuardConfig, jwks: &Jwks) -> Guard {
        let keys = keys::index(jwks, &config.algorithms);
        Guard::with_keys(config, keys)
    }

    fn with_keys(config: GuardConfig, keys: HashMap<String, VerifyingKey>) -> Guard {
        Guard(Arc::new(Inner {
            config,
            keys: RwLock::new(KeyCache {
                keys,
                fetched_at: Instant::now(),
                last_attempt: None,
            }),
            revoked: RwLock::new(RevocationList::default()),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(35))
                .build()
                .unwrap_or_default(),
            fetching: tokio::sync::Mutex::new(()),
        }))
    }

    /// The configuration.
    pub fn config(&self) -> &GuardConfig {
        &self.0.config
    }

    /// Adds revocation records (the feed does this by itself).
    pub fn revoke(&self, feed: &RevocationFeed) {
        let mut r = self.0.revoked.write().unwrap_or_else(|e| e.into_inner());
        r.apply(&feed.revocations);
    }

    async fn fetch_jwks(&self) -> Result<(), GuardError> {
        let uri = self.0.config.jwks_uri.clone();
        let fail = |reason: String| GuardError::Jwks {
            uri: uri.clone(),
            reason,
        };
        let body = self
            .0
            .http
            .get(&uri)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?
            .error_for_status()
            .map_err(|e| fail(e.to_string()))?
            .bytes()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let jwks: Jwks = serde_json::from_slice(&body).map_err(|e| fail(e.to_string()))?;
        let keys = keys::index(&jwks, &self.0.config.algorithms);
        let mut cache = self.0.keys.write().unwrap_or_else(|e| e.into_inner());
        cache.keys = keys;
        cache.fetched_at = Instant::now();
        Ok(())
    }

    /// Validates a token with the keys at hand; `Err(UnknownKey)` when its kid is not cached.
    pub fn verify_cached(&self, token: &str) -> Result<AccessTokenClaims, Rejection> {
        let cfg = &self.0.config;
        let parsed = jws::parse(token).ok_or(Rejection::Malformed)?;
        if !cfg.algorithms.contains(&parsed.header.alg) {
            return Err(Rejection::Malformed);
        }
        {
            let cache = self.0.keys.read().unwrap_or_else(|e| e.into_inner());
            let key = cache
                .keys
                .get(&parsed.header.kid)
                .ok_or(Rejection::UnknownKey)?;
            // The key decides the algorithm, never the token alone.
            if key.alg() != parsed.header.alg
                || !key.verify(parsed.signing_input, &parsed.signature)
            {
                return Err(Rejection::BadSignature);
            }
        }
        let leeway = i64::try_from(cfg.leeway.as_secs()).unwrap_or(0);
        let claims = jws::check_claims(
            &parsed.payload,
            &cfg.issuer,
            Some(&cfg.audiences),
            now_secs(),
            leeway,
        )
        .map_err(|e| match e {
            ClaimsError::Malformed => Rejection::Malformed,
            ClaimsError::WrongIssuer => Rejection::WrongIssuer,
            ClaimsError::WrongAudience => Rejection::WrongAudience,
            ClaimsError::Expired => Rejection::Expired,
            ClaimsError::NotYetValid => Rejection::NotYetValid,
        })?;
        let revoked = self.0.revoked.read().unwrap_or_else(|e| e.into_inner());
        if revoked.is_revoked(&claims) {
            return Err(Rejection::Revoked);
        }
        Ok(claims)
    }

    /// Validates a token, refetching the JWKS once when its kid is unknown (at most once per
    /// `refetch_interval`, so forged kids cannot make the guard hammer the issuer).
    pub async fn verify(&self, token: &str) -> Result<AccessTokenClaims, Rejection> {
        self.maybe_refresh_jwks();
        match self.verify_cached(token) {
            Err(Rejection::UnknownKey) => {}
            other => return other,
        }
        {
            let _one = self.0.fetching.lock().await;
            let due = {
                let mut cache = self.0.keys.write().unwrap_or_else(|e| e.into_inner());
                let due = cache
                    .last_attempt
                    .is_none_or(|t| t.elapsed() >= self.0.config.refetch_interval);
                if due {
                    cache.last_attempt = Some(Instant::now());
                }
                due
            };
            // Another request may have fetched it meanwhile.
            if due
                && matches!(self.verify_cached(token), Err(Rejection::UnknownKey))
                && let Err(e) = self.fetch_jwks().await
            {
                tracing::warn!(error = %e, "JWKS refetch failed");
            }
        }
        self.verify_cached(token)
    }

    /// Refreshes the JWKS in the background when it is older than `jwks_max_age`.
    fn maybe_refresh_jwks(&self) {
        let stale = {
            let cache = self.0.keys.read().unwrap_or_else(|e| e.into_inner());
            cache.fetched_at.elapsed() >= self.0.config.jwks_max_age
        };
        if stale && tokio::runtime::Handle::try_current().is_ok() {
            let g = self.clone();
            {
                let mut cache = self.0.keys.write().unwrap_or_else(|e| e.into_inner());
                cache.fetched_at = Instant::now();
            }
            tokio::spawn(async move {
                if let Err(e) = g.fetch_jwks().await {
                    tracing::warn!(error = %e, "JWKS refresh failed");
                }
            });
        }
    }

    /// The tower layer that validates every request.
    pub fn layer(&self) -> GuardLayer {
        GuardLayer {
            guard: self.clone(),
        }
    }
}

/// Long-polls the revocation feed until the guard is dropped.
async fn follow_feed(guard: Weak<Inner>, url: String, creds: FeedCredentials) {
    let mut cursor = 0i64;
    let mut last_purge = Instant::now();
    loop {
        let Some(inner) = guard.upgrade() else {
            return;
        };
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", creds.client_id, creds.client_secret));
        let req = inner
            .http
            .get(&url)
            .query(&[("since", cursor.to_string()), ("wait", "25".into())])
            .header(http::header::AUTHORIZATION, format!("Basic {auth}"));
        drop(inner);
        match req.send().await {
            Ok(res) if res.status().is_success() => {
                match res.bytes().await.map_err(|e| e.to_string()).and_then(|b| {
                    serde_json::from_slice::<RevocationFeed>(&b).map_err(|e| e.to_string())
                }) {
                    Ok(feed) => {
                        let Some(inner) = guard.upgrade() else {
                            return;
                        };
                        let mut list = inner.revoked.write().unwrap_or_else(|e| e.into_inner());
                        list.apply(&feed.revocations);
                        if last_purge.elapsed() > Duration::from_secs(60) {
                            list.purge(now_secs());
                            last_purge = Instant::now();
                        }
                        cursor = feed.cursor;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "malformed revocation feed answer");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
            Ok(res) => {
                tracing::warn!(status = %res.status(), "revocation feed refused");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "revocation feed unreachable");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// The validated claims of the request's token, for handlers.
#[derive(Debug, Clone)]
pub struct Claims(pub AccessTokenClaims);

impl Claims {
    /// Whether the token holds `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.0.scope.split(' ').any(|s| s == scope)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Claims {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        parts.extensions.get::<Claims>().cloned().ok_or_else(|| {
            ErrorStyle::Rfc6750.respond(&Refusal::InvalidToken("no validated token"))
        })
    }
}

fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let v = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Validates every request's Bearer token.
#[derive(Debug, Clone)]
pub struct GuardLayer {
    guard: Guard,
}

impl<S> tower::Layer<S> for GuardLayer {
    type Service = GuardService<S>;
    fn layer(&self, inner: S) -> GuardService<S> {
        GuardService {
            inner,
            guard: self.guard.clone(),
        }
    }
}

/// The service of [`GuardLayer`].
#[derive(Debug, Clone)]
pub struct GuardService<S> {
    inner: S,
    guard: Guard,
}

impl<S, B> tower::Service<Request<B>> for GuardService<S>
where
    S: tower::Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // The ready service goes with this request; a clone stays for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        Box::pin(async move {
            let style = guard.0.config.style;
            let token = bearer(req.headers()).map(str::to_owned);
            let verdict = match token {
                None => Err(Rejection::Missing),
                Some(t) => guard.verify(&t).await,
            };
            match verdict {
                Ok(claims) => {
                    req.extensions_mut().insert(Claims(claims));
                    req.extensions_mut().insert(style);
                    inner.call(req).await
                }
                Err(r) => Ok(style.respond(&Refusal::InvalidToken(r.describe()))),
            }
        })
    }
}

/// Requires one of some scopes; put it on a route behind [`GuardLayer`].
#[derive(Debug, Clone)]
pub struct RequireScope {
    any_of: Arc<Vec<String>>,
}

impl RequireScope {
    /// Requires `scope`.
    pub fn new(scope: &str) -> RequireScope {
        RequireScope::any_of(&[scope])
    }

    /// Requires at least one of `scopes`.
    pub fn any_of(scopes: &[&str]) -> RequireScope {
        RequireScope {
            any_of: Arc::new(scopes.iter().map(|s| (*s).to_owned()).collect()),
        }
    }
}

impl<S> tower::Layer<S> for RequireScope {
    type Service = RequireScopeService<S>;
    fn layer(&self, inner: S) -> RequireScopeService<S> {
        RequireScopeService {
            inner,
            any_of: self.any_of.clone(),
        }
    }
}

/// The service of [`RequireScope`].
#[derive(Debug, Clone)]
pub struct RequireScopeService<S> {
    inner: S,
    any_of: Arc<Vec<String>>,
}

impl<S, B> tower::Service<Request<B>> for RequireScopeService<S>
where
    S: tower::Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let style = req
            .extensions()
            .get::<ErrorStyle>()
            .copied()
            .unwrap_or_default();
        let ok = req
            .extensions()
            .get::<Claims>()
            .is_some_and(|c| self.any_of.iter().any(|s| c.has_scope(s)));
        if !ok {
            let needed = self.any_of.join(" ");
            let refusal = if req.extensions().get::<Claims>().is_some() {
                Refusal::InsufficientScope(needed)
            } else {
                Refusal::InvalidToken(Rejection::Missing.describe())
            };
            return Box::pin(async move { Ok(style.respond(&refusal)) });
        }
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move { inner.call(req).await })
    }
}
