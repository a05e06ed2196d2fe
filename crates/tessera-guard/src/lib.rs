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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tessera_proto::jws::{self, ClaimsError};
use tessera_proto::{
    AccessTokenClaims, Algorithm, Introspection, Jwks, RevocationFeed, RevocationList,
};

/// The largest JWKS the guard reads: a handful of keys is a few KiB.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// The largest revocation-feed page the guard reads.
pub const MAX_FEED_BYTES: usize = 8 * 1024 * 1024;
/// The largest introspection answer the guard reads.
const MAX_INTROSPECTION_BYTES: usize = 64 * 1024;

/// What the guard does while it cannot follow the revocation feed (refused, unreachable,
/// malformed) for longer than [`GuardConfig::feed_stale_after`]: it cannot know what was
/// revoked meanwhile, so it never simply goes on accepting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StaleFeed {
    /// Refuse every token with 503 until the feed answers again.
    #[default]
    Refuse,
    /// Ask the issuer's introspection endpoint (RFC 7662) about each token, with the feed's
    /// credentials; refuse when that fails too.
    Introspect,
}

/// Whether the guard knows the current revocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedHealth {
    /// No feed is configured: only signatures and claims are checked.
    NotConfigured,
    /// The feed answered within [`GuardConfig::feed_stale_after`].
    Healthy,
    /// The feed has not answered for longer than that; the guard acts per [`StaleFeed`].
    Stale {
        /// How long since the last good answer.
        since: Duration,
    },
}

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
    /// The issuer's introspection endpoint, for [`StaleFeed::Introspect`].
    pub introspection_uri: String,
    /// How long the feed may go unanswered before the guard stops trusting its revocation list
    /// (default 60 s).
    pub feed_stale_after: Duration,
    /// What to do then (default: refuse).
    pub on_stale_feed: StaleFeed,
    /// How refusals look.
    pub style: ErrorStyle,
}

impl GuardConfig {
    /// Defaults for an issuer: JWKS at `issuer/oauth2/jwks`, every allow-listed algorithm.
    pub fn new(issuer: &str, audiences: Vec<String>) -> GuardConfig {
        let issuer = issuer.trim_end_matches('/').to_owned();
        GuardConfig {
            jwks_uri: format!("{issuer}/oauth2/jwks"),
            introspection_uri: format!("{issuer}/oauth2/introspect"),
            feed_stale_after: Duration::from_secs(60),
            on_stale_feed: StaleFeed::Refuse,
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

    /// What to do when the feed has been unhealthy for longer than `after`.
    pub fn on_stale_feed(mut self, after: Duration, then: StaleFeed) -> GuardConfig {
        self.feed_stale_after = after;
        self.on_stale_feed = then;
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
    /// The first read of the revocation feed failed: without it the guard cannot tell revoked
    /// tokens, so it does not start.
    #[error("cannot read the revocation feed at {uri}: {reason}")]
    Feed {
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
    /// The revocation feed has been unhealthy for too long to know (503, not 401: the token
    /// may be fine).
    RevocationUnknown,
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
            Rejection::RevocationUnknown => {
                "token revocations cannot be checked right now; try again shortly"
            }
        }
    }

    fn refusal(self) -> Refusal {
        match self {
            Rejection::RevocationUnknown => Refusal::Unavailable(self.describe()),
            other => Refusal::InvalidToken(other.describe()),
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
    /// When the revocation feed last answered well.
    feed_ok_at: Mutex<Instant>,
    /// Whether the stale state has been logged (once per outage).
    stale_logged: AtomicBool,
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
            // Serve nothing before the revocations are known.
            let cursor = read_feed(&guard.0, &url, &creds, 0, 0)
                .await
                .map_err(|reason| GuardError::Feed {
                    uri: url.clone(),
                    reason,
                })?;
            tokio::spawn(follow_feed(Arc::downgrade(&guard.0), url, creds, cursor));
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
            feed_ok_at: Mutex::new(Instant::now()),
            stale_logged: AtomicBool::new(false),
        }))
    }

    /// Whether the guard knows the current revocations (for a health endpoint).
    pub fn feed_health(&self) -> FeedHealth {
        if self.0.config.feed.is_none() {
            return FeedHealth::NotConfigured;
        }
        let since = self
            .0
            .feed_ok_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed();
        if since > self.0.config.feed_stale_after {
            FeedHealth::Stale { since }
        } else {
            FeedHealth::Healthy
        }
    }

    fn feed_stale(&self) -> bool {
        let stale = matches!(self.feed_health(), FeedHealth::Stale { .. });
        if stale && !self.0.stale_logged.swap(true, Ordering::Relaxed) {
            tracing::error!(
                on_stale_feed = ?self.0.config.on_stale_feed,
                "the revocation feed has not answered for longer than feed_stale_after; revocations are unknown"
            );
        }
        stale
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
        let res = self
            .0
            .http
            .get(&uri)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?
            .error_for_status()
            .map_err(|e| fail(e.to_string()))?;
        let body = read_limited(res, MAX_JWKS_BYTES).await.map_err(fail)?;
        let jwks: Jwks = serde_json::from_slice(&body).map_err(|e| fail(e.to_string()))?;
        let keys = keys::index(&jwks, &self.0.config.algorithms);
        let mut cache = self.0.keys.write().unwrap_or_else(|e| e.into_inner());
        cache.keys = keys;
        cache.fetched_at = Instant::now();
        Ok(())
    }

    /// Validates a token with the keys at hand; `Err(UnknownKey)` when its kid is not cached,
    /// `Err(RevocationUnknown)` while the revocation feed is stale.
    pub fn verify_cached(&self, token: &str) -> Result<AccessTokenClaims, Rejection> {
        let claims = self.verify_offline(token)?;
        if self.0.config.feed.is_some() && self.feed_stale() {
            return Err(Rejection::RevocationUnknown);
        }
        Ok(claims)
    }

    /// Signature, claims and the known revocations, whatever the feed's health.
    fn verify_offline(&self, token: &str) -> Result<AccessTokenClaims, Rejection> {
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
    /// `refetch_interval`, so forged kids cannot make the guard hammer the issuer). While the
    /// revocation feed is stale, it refuses or introspects as configured.
    pub async fn verify(&self, token: &str) -> Result<AccessTokenClaims, Rejection> {
        match self.verify_fetching(token).await {
            Err(Rejection::RevocationUnknown)
                if self.0.config.on_stale_feed == StaleFeed::Introspect =>
            {
                let claims = self.verify_offline(token)?;
                match self.introspect(token).await {
                    Ok(true) => Ok(claims),
                    Ok(false) => Err(Rejection::Revoked),
                    Err(e) => {
                        tracing::warn!(error = %e, "introspection fallback failed");
                        Err(Rejection::RevocationUnknown)
                    }
                }
            }
            other => other,
        }
    }

    /// Asks the issuer whether a token is active (RFC 7662), with the feed's credentials.
    async fn introspect(&self, token: &str) -> Result<bool, String> {
        let Some((_, creds)) = &self.0.config.feed else {
            return Err("no credentials for introspection".into());
        };
        let res = self
            .0
            .http
            .post(&self.0.config.introspection_uri)
            .timeout(Duration::from_secs(5))
            .header(http::header::AUTHORIZATION, basic(creds))
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(format!("token={token}"))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("introspection answered {}", res.status()));
        }
        let body = read_limited(res, MAX_INTROSPECTION_BYTES).await?;
        let answer: Introspection = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        Ok(answer.active)
    }

    async fn verify_fetching(&self, token: &str) -> Result<AccessTokenClaims, Rejection> {
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

fn basic(creds: &FeedCredentials) -> String {
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", creds.client_id, creds.client_secret));
    format!("Basic {auth}")
}

/// Reads a response body, refusing more than `max` bytes (before reading, when the
/// Content-Length already says so).
async fn read_limited(mut res: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    if res.content_length().is_some_and(|n| n > max as u64) {
        return Err(format!("the answer exceeds {max} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > max {
            return Err(format!("the answer exceeds {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads one page of the revocation feed after `cursor`, waiting up to `wait` seconds for a
/// record, and applies it; returns the next cursor. Follows `more` pages at once.
async fn read_feed(
    inner: &Inner,
    url: &str,
    creds: &FeedCredentials,
    mut cursor: i64,
    wait: u64,
) -> Result<i64, String> {
    loop {
        let res = inner
            .http
            .get(url)
            .query(&[("since", cursor.to_string()), ("wait", wait.to_string())])
            .header(http::header::AUTHORIZATION, basic(creds))
            .send()
            .await
            .map_err(|e| format!("unreachable: {e}"))?;
        if !res.status().is_success() {
            return Err(format!("refused with {}", res.status()));
        }
        let body = read_limited(res, MAX_FEED_BYTES).await?;
        let feed: RevocationFeed =
            serde_json::from_slice(&body).map_err(|e| format!("malformed answer: {e}"))?;
        {
            let mut list = inner.revoked.write().unwrap_or_else(|e| e.into_inner());
            list.apply(&feed.revocations);
        }
        cursor = feed.cursor;
        *inner.feed_ok_at.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        if inner.stale_logged.swap(false, Ordering::Relaxed) {
            tracing::info!("the revocation feed answers again");
        }
        if !feed.more {
            return Ok(cursor);
        }
    }
}

/// Long-polls the revocation feed until the guard is dropped.
async fn follow_feed(guard: Weak<Inner>, url: String, creds: FeedCredentials, mut cursor: i64) {
    let mut last_purge = Instant::now();
    loop {
        let Some(inner) = guard.upgrade() else {
            return;
        };
        // Long enough to be cheap, short enough that a healthy feed never looks stale.
        let wait = (inner.config.feed_stale_after.as_secs() / 3).clamp(1, 25);
        let result = read_feed(&inner, &url, &creds, cursor, wait).await;
        match result {
            Ok(next) => {
                cursor = next;
                if last_purge.elapsed() > Duration::from_secs(60) {
                    let mut list = inner.revoked.write().unwrap_or_else(|e| e.into_inner());
                    list.purge(now_secs());
                    last_purge = Instant::now();
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the revocation feed");
                drop(inner);
                tokio::time::sleep(Duration::from_secs(1)).await;
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
                Err(r) => Ok(style.respond(&r.refusal())),
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
