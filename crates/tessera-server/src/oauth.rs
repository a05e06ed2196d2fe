//! Validation and revocation for the payment APIs behind tessera: RFC 7662 introspection,
//! RFC 7009 revocation, and the revocation feed that lets a resource server learn of a
//! revocation within a second without introspecting every request.
//!
//! All three authenticate the client as the token endpoint does. A client may introspect and
//! revoke its own tokens; a client whose role holds `introspect` (the `resource-server` role)
//! may introspect every token of its tenant and its child tenants, and read the feed, which
//! answers it the records of its tenant and every tenant below it, in pages.

use crate::form::{AuthorizationHeader, Form, Peer, basic_credentials};
use crate::state::AppState;
use crate::toolkit::oauth2::{ErrorCode, OAuthError, authenticate_client};
use crate::toolkit::{no_store, read_form};
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use std::time::Duration;
use tessera_core::audit::Actor;
use tessera_core::directory::REVOCATION_FEED_PAGE;
use tessera_core::issue::{AuthenticatedClient, INTROSPECT_SCOPE};
use tessera_core::proto::RevocationFeed;

/// Authenticates the calling client from a form request.
fn client(
    state: &AppState,
    peer: Peer,
    headers: &HeaderMap,
    form: Form,
) -> Result<(AuthenticatedClient, Form), OAuthError> {
    let req = authenticate_client(peer, headers, form)?;
    let client = state
        .issuer
        .authenticate(req.credentials(), state.clock.now())
        .map_err(|e| OAuthError::from_token(e, req.basic))?;
    Ok((client, req.form))
}

/// An introspection or revocation request: a strict form from an authenticated client, with a
/// `token` parameter.
pub struct TokenRequest {
    caller: AuthenticatedClient,
    form: Form,
    peer: Peer,
}

impl FromRequest<AppState> for TokenRequest {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, OAuthError> {
        let (mut parts, body) = req.into_parts();
        let Ok(peer) = Peer::from_request_parts(&mut parts, state).await;
        let form = read_form::<OAuthError>(&parts.headers, body, &[]).await?;
        let (caller, form) = client(state, peer, &parts.headers, form)?;
        if form.get("token").is_none() {
            return Err(OAuthError::bad(
                ErrorCode::InvalidRequest,
                "the token parameter is missing",
            ));
        }
        Ok(TokenRequest { caller, form, peer })
    }
}

/// A JSON answer that must not be cached.
fn json_no_store<T: serde::Serialize>(value: T) -> Response {
    crate::toolkit::json_no_store(StatusCode::OK, &value)
}

/// `POST /oauth2/introspect` (RFC 7662).
pub async fn introspect(
    State(state): State<AppState>,
    TokenRequest { caller, form, .. }: TokenRequest,
) -> Result<Response, OAuthError> {
    let token = form.get("token").unwrap_or_default();
    Ok(json_no_store(state.issuer.introspect(
        &caller,
        token,
        state.clock.now(),
    )))
}

/// `POST /oauth2/revoke` (RFC 7009): the client's own token, by its jti, until it expires. An
/// invalid token, or one of another client, is answered 200 as §2.2 requires.
pub async fn revoke(
    State(state): State<AppState>,
    TokenRequest { caller, form, peer }: TokenRequest,
) -> Result<Response, OAuthError> {
    let token = form.get("token").unwrap_or_default();
    if let Some(hint) = form.get("token_type_hint")
        && hint != "access_token"
    {
        // §2.2.1: only access tokens exist here; refresh tokens are never issued.
        return Err(OAuthError::bad(
            ErrorCode::UnsupportedTokenType,
            "only access tokens can be revoked",
        ));
    }
    let now = state.clock.now();
    // The signature must hold (so nobody fills the list with forged jti's); expiry does not
    // matter: revoking an expired token is a no-op that still answers 200.
    if let Ok(claims) = state.keyring.verify(token, &state.config.issuer, now)
        && claims.client_id == caller.client_id.to_string()
    {
        // Each revocation is a write every node and guard holds until the token expires.
        state
            .issuer
            .throttle()
            .revocation(&caller.client_id)
            .map_err(|t| OAuthError::throttled(t.retry_after))?;
        let actor = Actor::client(
            caller.client_id,
            caller.tenant_id,
            peer.0.map(|ip| ip.to_string()),
        );
        let done = state
            .admin
            .acting_as(actor)
            .revoke_token(
                claims.revocation_jti(),
                revocation_expiry(&state, &claims, now),
            )
            .await;
        done.map_err(|e| match e {
            tessera_core::CoreError::Store(tessera_core::store::StoreError::Unavailable(_)) => {
                OAuthError::bad(
                    ErrorCode::TemporarilyUnavailable,
                    "the database is unavailable; try again shortly",
                )
                .with_status(StatusCode::SERVICE_UNAVAILABLE)
            }
            other => OAuthError::internal(other.to_string()),
        })?;
        // This node honours it at once; the others within a poll.
        crate::background::refresh(&state).await;
    }
    let mut res = StatusCode::OK.into_response();
    no_store(res.headers_mut());
    Ok(res)
}

/// Until when a revocation by jti must be kept. A token of a refresh chain (iPOSpays) is
/// revoked by its chain's first jti, which also covers tokens refreshed from it, and those may
/// expire later: up to the longest lifetime from now (a refresh elsewhere before this record
/// arrives there included, hence the minute's margin).
fn revocation_expiry(
    state: &AppState,
    claims: &tessera_core::proto::AccessTokenClaims,
    now: time::OffsetDateTime,
) -> i64 {
    if claims.revocation_jti() == claims.jti {
        claims.exp
    } else {
        claims
            .exp
            .max(now.unix_timestamp() + state.config.max_token_ttl.whole_seconds() + 60)
    }
}

/// Query of the revocation feed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// The cursor of the previous answer; 0 (default) for every live record.
    #[serde(default)]
    pub since: i64,
    /// Long-poll: wait up to this many seconds (at most 30) for a record after `since`.
    #[serde(default)]
    pub wait: u64,
}

/// `GET /oauth2/revocations?since=CURSOR&wait=SECONDS`, for clients holding `introspect`,
/// authenticated with HTTP Basic.
pub async fn revocations(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    q: Result<Query<FeedQuery>, QueryRejection>,
) -> Response {
    let result = async {
        let Query(q) = q.map_err(|e| OAuthError::bad(ErrorCode::InvalidRequest, e.body_text()))?;
        let (id, secret) = match basic_credentials(&headers) {
            AuthorizationHeader::Basic(c) => (c.id, c.secret),
            _ => {
                return Err(OAuthError::invalid_client(
                    "the revocation feed needs HTTP Basic client authentication",
                    true,
                ));
            }
        };
        let client_id = id
            .parse()
            .map_err(|_| OAuthError::invalid_client("client authentication failed", true))?;
        let caller = state
            .issuer
            .authenticate(
                tessera_core::issue::Credentials {
                    client_id,
                    secret: secrecy::ExposeSecret::expose_secret(&secret),
                    source: peer.0,
                },
                state.clock.now(),
            )
            .map_err(|e| OAuthError::from_token(e, true))?;
        if !caller.role_scopes.contains(INTROSPECT_SCOPE) {
            return Err(OAuthError::bad(
                ErrorCode::UnauthorizedClient,
                "the revocation feed needs the introspect scope",
            )
            .with_status(StatusCode::FORBIDDEN));
        }
        // Subscribed before the first read, so that a record applied in between still wakes us.
        let mut signal = state.revocation_signal.subscribe();
        // Only the records of the caller's tenant and the tenants below it, a page at a time.
        let page = |st: &AppState| -> RevocationFeed {
            st.directory.revocations_since(
                &caller.tenant_id,
                q.since,
                st.clock.now().unix_timestamp(),
                REVOCATION_FEED_PAGE,
            )
        };
        let mut answer = page(&state);
        if answer.revocations.is_empty() && q.wait > 0 {
            // Every new record wakes every waiter; one whose page is still empty (the record
            // was another tenant's) waits on until the deadline rather than answering early.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(q.wait.min(30));
            loop {
                let woke = tokio::time::timeout_at(deadline, signal.changed()).await;
                answer = page(&state);
                if !answer.revocations.is_empty() || !matches!(woke, Ok(Ok(()))) {
                    break;
                }
            }
        }
        Ok(answer)
    }
    .await;
    match result {
        Ok(feed) => json_no_store(feed),
        Err(e) => e.into_response(),
    }
}
