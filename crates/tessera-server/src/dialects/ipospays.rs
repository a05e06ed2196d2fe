//! iPOSpays (seed 003): `POST /v1/authenticate-token` and `POST /v1/refresh-token`.
//!
//! `apiKey` (the client id), `secretKey`, `scope` (comma-separated role scopes) and
//! `jwtTokenExpiryMinutes` (30 to 1440, default the dialect's lifetime) come from request headers
//! of those names, or from a JSON body with those keys (headers win). 200
//! `{responseCode: "00", responseMessage: "Success", createdDt, token}`, `createdDt` in epoch
//! milliseconds as a string. Tokens are RS256 by default, as in the document, and carry
//! `uniqueId` (the merchant account: the tenant id).
//!
//! Errors are `{errorCode, errorMessage}` with the document's codes and messages. Statuses
//! (the document gives none): 400 for a missing or invalid field (AUTH_ERR_001, 002, 003, 005,
//! 009, 010, 011, 012), 401 for bad credentials or a bad token (AUTH_ERR_004, 006, 007, 008).
//! AUTH_ERR_010 ("Invalid expiry time.") is tessera's, for a `jwtTokenExpiryMinutes` that is not
//! an integer; the document has no code for it.
//!
//! Refresh is bounded: every token carries `auth_time` (RFC 9068 §2.2.1), when the client
//! presented its secret, and a refreshed one also `origin_jti`, the first token of its chain.
//! Refreshes stop `refresh_max_age_seconds` (default 24 h) after `auth_time`, and no refreshed
//! token outlives that; revoking any token of a chain revokes the chain.

use super::config::{ConfigError, DialectsConfig, read_section};
use super::{Dialect, Routes};
use crate::form::{BodyError, Peer};
use crate::state::AppState;
use crate::toolkit::{
    BodyRejection, JsonError, JsonField, JsonObject, JsonRejection, error_response, json_field,
    token_json,
};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::Value;
use tessera_core::TokenError;
use tessera_core::ids::ClientId;
use tessera_core::issue::{AuthenticatedClient, Credentials, Grant, IssuedToken};
use tessera_core::keys::VerifyError;
use tessera_core::proto::{Algorithm, ExtraClaims, ORIGIN_JTI_CLAIM, Scope, ScopeSet};
use time::Duration;

/// The config section and registry name.
pub const NAME: &str = "ipospays";

/// This dialect in the registry. Its lifetime is the default of `jwtTokenExpiryMinutes`.
pub const DIALECT: Dialect = Dialect {
    algorithm: |d| Some(d.ipospays_alg),
    configure,
    ..Dialect::new(NAME, 86_400, routes, |_, base, scopes| {
        let scope = scopes.split_whitespace().collect::<Vec<_>>().join(",");
        format!(
            "curl -X POST {base}/v1/authenticate-token -H \"apiKey: $CLIENT_ID\" -H \"secretKey: $CLIENT_SECRET\" -H 'scope: {scope}'"
        )
    })
};

/// `[dialects.ipospays]` beyond the common keys.
#[derive(Default, serde::Deserialize)]
struct OwnKeys {
    /// Signature algorithm (default RS256, as in the document).
    algorithm: Option<String>,
    /// Refreshes stop this many seconds after the secret was presented (default 86400).
    refresh_max_age_seconds: Option<u32>,
}

fn configure(d: &mut DialectsConfig, name: &str, section: &Value) -> Result<(), ConfigError> {
    const KEYS: &[&str] = &[
        "enabled",
        "prefix",
        "token_ttl_seconds",
        "algorithm",
        "refresh_max_age_seconds",
    ];
    let own: OwnKeys = read_section(d, name, KEYS, section)?;
    if let Some(secs) = own.refresh_max_age_seconds {
        if secs == 0 {
            return Err(ConfigError(format!(
                "dialects.{name}.refresh_max_age_seconds must be at least 1"
            )));
        }
        d.ipospays_refresh_max_age = Duration::seconds(i64::from(secs));
    }
    if let Some(a) = own.algorithm {
        d.ipospays_alg = a
            .parse::<Algorithm>()
            .map_err(|e| ConfigError(format!("dialects.{name}.algorithm: {e}")))?;
    }
    Ok(())
}

/// The routes of this dialect.
pub fn routes() -> Routes {
    vec![
        ("/v1/authenticate-token", post(authenticate)),
        ("/v1/refresh-token", post(refresh)),
    ]
}

/// The document's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IposError {
    /// AUTH_ERR_001.
    ApiKeyRequired,
    /// AUTH_ERR_002.
    SecretKeyRequired,
    /// AUTH_ERR_003.
    ScopeRequired,
    /// AUTH_ERR_004.
    InvalidCredentials,
    /// AUTH_ERR_005.
    InvalidScope,
    /// AUTH_ERR_006: malformed or missing token.
    InvalidToken,
    /// AUTH_ERR_007: expired or revoked token.
    TokenNoLongerValid,
    /// AUTH_ERR_008.
    InvalidSignature,
    /// AUTH_ERR_009.
    RefreshFlagRequired,
    /// AUTH_ERR_010 (tessera's): the expiry is not an integer.
    InvalidExpiry,
    /// AUTH_ERR_011.
    ExpiryTooShort,
    /// AUTH_ERR_012.
    ExpiryTooLong,
    /// AUTH_ERR_013 (tessera's): too many failed attempts, or too many tokens; 429 with
    /// `Retry-After` (seconds).
    TooManyRequests(u64),
    /// A server failure.
    Internal,
}

impl IposError {
    fn parts(self) -> (StatusCode, &'static str, &'static str) {
        use IposError as E;
        let bad = StatusCode::BAD_REQUEST;
        let unauth = StatusCode::UNAUTHORIZED;
        match self {
            E::ApiKeyRequired => (bad, "AUTH_ERR_001", "API Key is required."),
            E::SecretKeyRequired => (bad, "AUTH_ERR_002", "Secret Key is required."),
            E::ScopeRequired => (bad, "AUTH_ERR_003", "Scope is required."),
            E::InvalidCredentials => (
                unauth,
                "AUTH_ERR_004",
                "Invalid Credentials, Please Contact Support Team.",
            ),
            E::InvalidScope => (
                bad,
                "AUTH_ERR_005",
                "Invalid scope provided. Please use a valid scope.",
            ),
            E::InvalidToken => (
                unauth,
                "AUTH_ERR_006",
                "Invalid Token, Please try with a Valid Token.",
            ),
            E::TokenNoLongerValid => (
                unauth,
                "AUTH_ERR_007",
                "Invalid Token, Please try with a Valid Token.",
            ),
            E::InvalidSignature => (unauth, "AUTH_ERR_008", "Invalid Signature."),
            E::RefreshFlagRequired => (
                bad,
                "AUTH_ERR_009",
                "Refresh Token needs to be true in the Header.",
            ),
            E::InvalidExpiry => (bad, "AUTH_ERR_010", "Invalid expiry time."),
            E::ExpiryTooShort => (
                bad,
                "AUTH_ERR_011",
                "Minimum expiry time cannot be less than 30 minutes.",
            ),
            E::ExpiryTooLong => (
                bad,
                "AUTH_ERR_012",
                "Maximum expiry time cannot be more than 24 hours.",
            ),
            E::TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "AUTH_ERR_013",
                "Too many requests, please try again later.",
            ),
            E::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "AUTH_ERR_500",
                "Internal error.",
            ),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    error_code: &'static str,
    error_message: &'static str,
}

impl IntoResponse for IposError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        let body = ErrorBody {
            error_code: code,
            error_message: message,
        };
        let cause = (self == IposError::Internal).then(|| "token signing failed".to_owned());
        let mut res = error_response(status, &body, cause);
        if let IposError::TooManyRequests(secs) = self {
            crate::toolkit::retry_after(&mut res, std::time::Duration::from_secs(secs));
        }
        res
    }
}

/// A body that cannot be read or parsed contributes nothing: the field checks then report what
/// is missing in the document's terms. This rejection is therefore never sent.
#[derive(Debug)]
struct Unreadable;

impl IntoResponse for Unreadable {
    fn into_response(self) -> Response {
        StatusCode::BAD_REQUEST.into_response()
    }
}

impl BodyRejection for Unreadable {
    fn body(_: BodyError) -> Self {
        Unreadable
    }
}

impl JsonRejection for Unreadable {
    fn media_type(_: &'static str) -> Self {
        Unreadable
    }

    fn json(_: JsonError) -> Self {
        Unreadable
    }
}

/// The request body, when it is a JSON object.
type Body = Result<JsonObject<Unreadable>, Unreadable>;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IposToken {
    response_code: &'static str,
    response_message: &'static str,
    created_dt: String,
    token: Box<serde_json::value::RawValue>,
}

/// Request fields: headers first, then a JSON body.
struct Fields {
    json: serde_json::Map<String, Value>,
}

impl Fields {
    fn new(body: Body) -> Fields {
        Fields {
            json: body.map(|JsonObject(o, _)| o).unwrap_or_default(),
        }
    }

    /// A field as text: a non-empty header, else a JSON string, number or boolean.
    fn get(&self, headers: &HeaderMap, name: &str) -> Option<String> {
        if let Some(v) = headers.get(name) {
            let v = v.to_str().unwrap_or("").trim();
            if !v.is_empty() {
                return Some(v.to_owned());
            }
        }
        match json_field(&self.json, name) {
            JsonField::Text(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            JsonField::Other(Value::Number(n)) => Some(n.to_string()),
            JsonField::Other(Value::Bool(b)) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// The requested lifetime: 30 to 1440 minutes, and never beyond the deployment's longest token
/// lifetime (which keys and revocation records are kept for).
fn expiry(value: Option<String>, default: Duration, max: Duration) -> Result<Duration, IposError> {
    let Some(v) = value else {
        return Ok(default);
    };
    let minutes: i64 = v.parse().map_err(|_| IposError::InvalidExpiry)?;
    if minutes < 30 {
        Err(IposError::ExpiryTooShort)
    } else if minutes > 1440 || Duration::minutes(minutes) > max {
        Err(IposError::ExpiryTooLong)
    } else {
        Ok(Duration::minutes(minutes))
    }
}

fn respond(issued: &IssuedToken, now_ms: i128) -> Response {
    token_json(&IposToken {
        response_code: "00",
        response_message: "Success",
        created_dt: now_ms.to_string(),
        token: crate::toolkit::jwt_json(&issued.access_token),
    })
}

/// The merchant account (the client's tenant id), a claim of every iPOSpays token.
pub const MERCHANT_CLAIM: &str = "uniqueId";

/// How a token continues a refresh chain.
struct Chain<'a> {
    /// When the client presented its secret.
    auth_time: i64,
    /// The chain's first token, when this is a refresh.
    origin: Option<&'a str>,
}

fn grant(
    client: &AuthenticatedClient,
    scope: ScopeSet,
    ttl: Duration,
    alg: Algorithm,
    chain: Chain<'_>,
) -> Result<Grant, IposError> {
    let mut claims = ExtraClaims::default();
    claims
        .insert(MERCHANT_CLAIM, client.tenant_id.to_string())
        .map_err(|_| IposError::Internal)?;
    if let Some(origin) = chain.origin {
        claims
            .insert(ORIGIN_JTI_CLAIM, origin)
            .map_err(|_| IposError::Internal)?;
    }
    Ok(Grant {
        scope: Some(scope),
        ttl: Some(ttl),
        alg: Some(alg),
        claims,
        auth_time: Some(chain.auth_time),
        ..Grant::default()
    })
}

fn map_issue_error(e: TokenError) -> IposError {
    match e {
        TokenError::InvalidClient(_) => IposError::InvalidCredentials,
        TokenError::Throttled(after) => IposError::TooManyRequests(after.as_secs().max(1)),
        TokenError::InvalidScope(_)
        | TokenError::BindingRefused(_)
        | TokenError::UnauthorizedClient => IposError::InvalidScope,
        TokenError::NoSigningKey | TokenError::Internal(_) => IposError::Internal,
    }
}

async fn authenticate(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let f = Fields::new(body);
    match authenticate_inner(&state, peer, &headers, &f) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn authenticate_inner(
    state: &AppState,
    peer: Peer,
    headers: &HeaderMap,
    f: &Fields,
) -> Result<Response, IposError> {
    let api_key = f.get(headers, "apiKey").ok_or(IposError::ApiKeyRequired)?;
    let secret = f
        .get(headers, "secretKey")
        .ok_or(IposError::SecretKeyRequired)?;
    let scope = f.get(headers, "scope").ok_or(IposError::ScopeRequired)?;
    let d = &state.config.dialects;
    let ttl = expiry(
        f.get(headers, "jwtTokenExpiryMinutes"),
        d.common(NAME).token_ttl,
        state.config.max_token_ttl,
    )?;
    let scope: ScopeSet = scope
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Scope::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| IposError::InvalidScope)?;
    if scope.is_empty() {
        return Err(IposError::ScopeRequired);
    }
    let client_id: ClientId = api_key.parse().map_err(|_| IposError::InvalidCredentials)?;
    let now = state.clock.now();
    let client = state
        .issuer
        .authenticate(
            Credentials {
                client_id,
                secret: &secret,
                source: peer.0,
            },
            now,
        )
        .map_err(map_issue_error)?;
    let chain = Chain {
        auth_time: now.unix_timestamp(),
        origin: None,
    };
    let grant = grant(&client, scope, ttl, d.ipospays_alg, chain)?;
    let issued = state
        .issuer
        .issue(&client, grant, now)
        .map_err(map_issue_error)?;
    Ok(respond(&issued, now.unix_timestamp_nanos() / 1_000_000))
}

async fn refresh(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let f = Fields::new(body);
    match refresh_inner(&state, &headers, &f) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn refresh_inner(state: &AppState, headers: &HeaderMap, f: &Fields) -> Result<Response, IposError> {
    let flag = f.get(headers, "refreshToken");
    if !flag.is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Err(IposError::RefreshFlagRequired);
    }
    let token = f.get(headers, "token").ok_or(IposError::InvalidToken)?;
    let now = state.clock.now();
    let claims = state
        .keyring
        .verify(&token, &state.config.issuer, now)
        .map_err(|e| match e {
            VerifyError::Malformed => IposError::InvalidToken,
            VerifyError::BadSignature => IposError::InvalidSignature,
            VerifyError::Expired => IposError::TokenNoLongerValid,
        })?;
    // Only iPOSpays tokens are refreshed here: they are the ones that carry uniqueId.
    if !claims.extra.contains(MERCHANT_CLAIM) {
        return Err(IposError::InvalidToken);
    }
    let client = state
        .issuer
        .reauthenticate(&claims, now)
        .map_err(|_| IposError::TokenNoLongerValid)?;
    let scope = ScopeSet::parse(&claims.scope).map_err(|_| IposError::InvalidToken)?;
    // The chain ends a set time after the secret was presented (a token from before auth_time
    // was carried counts from its own issue time), and no token outlives that end.
    let d = &state.config.dialects;
    let auth_time = claims.auth_time.unwrap_or(claims.iat);
    let left = auth_time + d.ipospays_refresh_max_age.whole_seconds() - now.unix_timestamp();
    if left <= 0 {
        return Err(IposError::TokenNoLongerValid);
    }
    let ttl = Duration::seconds((claims.exp - claims.iat).min(left));
    let chain = Chain {
        auth_time,
        origin: Some(claims.revocation_jti()),
    };
    let grant = grant(&client, scope, ttl, d.ipospays_alg, chain)?;
    let issued = state
        .issuer
        .issue(&client, grant, now)
        .map_err(|e| match e {
            TokenError::InvalidScope(_) | TokenError::UnauthorizedClient => {
                IposError::TokenNoLongerValid
            }
            other => map_issue_error(other),
        })?;
    Ok(respond(&issued, now.unix_timestamp_nanos() / 1_000_000))
}
