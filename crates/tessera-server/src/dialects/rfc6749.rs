//! The standard token endpoint: RFC 6749 §4.4 (client credentials grant), with client
//! authentication by `client_secret_basic` or `client_secret_post` (§2.3.1), RFC 8707 resource
//! indicators, and errors exactly per §5.2.

use crate::error::InternalCause;
use crate::form::{
    AuthorizationHeader, BodyError, Form, FormError, MAX_BODY_BYTES, Peer, basic_credentials,
    has_media_type, read_body,
};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;
use std::borrow::Cow;
use std::sync::Arc;
use tessera_core::ids::ClientId;
use tessera_core::issue::{Credentials, Grant};
use tessera_core::proto::{Audience, ScopeSet};
use tessera_core::{AuthFailure, TokenError};

/// The §5.2 error codes (plus §5.2-style codes of RFC 8707 and of server failures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request is missing a parameter, repeats one, or is otherwise malformed.
    InvalidRequest,
    /// Client authentication failed.
    InvalidClient,
    /// The client may not use this grant.
    UnauthorizedClient,
    /// The grant type is not supported.
    UnsupportedGrantType,
    /// The scope is invalid or exceeds the client's role.
    InvalidScope,
    /// RFC 8707 §2: the resource parameter is not an absolute URI.
    InvalidTarget,
    /// RFC 7009 §2.2.1: the server cannot revoke this type of token.
    UnsupportedTokenType,
    /// The server failed.
    ServerError,
    /// The server cannot issue right now.
    TemporarilyUnavailable,
}

impl ErrorCode {
    fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

/// An error response in the RFC 6749 §5.2 shape.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    code: ErrorCode,
    description: Cow<'static, str>,
    /// Send `WWW-Authenticate: Basic` (the client tried, or should try, HTTP Basic).
    challenge: bool,
    cause: Option<String>,
}

impl From<OAuthError> for Response {
    fn from(e: OAuthError) -> Response {
        e.into_response()
    }
}

impl OAuthError {
    /// A 400 with `code`.
    pub fn bad(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        OAuthError {
            status: StatusCode::BAD_REQUEST,
            code,
            description: description.into(),
            challenge: false,
            cause: None,
        }
    }

    /// `invalid_client`, 401 (§5.2).
    pub fn invalid_client(description: impl Into<Cow<'static, str>>, challenge: bool) -> Self {
        OAuthError {
            status: StatusCode::UNAUTHORIZED,
            challenge,
            ..OAuthError::bad(ErrorCode::InvalidClient, description)
        }
    }

    /// A 500 whose cause goes to the log only.
    pub fn internal(cause: String) -> Self {
        OAuthError {
            cause: Some(cause),
            ..OAuthError::bad(ErrorCode::ServerError, "internal error")
                .with_status(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }

    /// Same error, another status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Maps a body failure.
    pub fn from_body(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => OAuthError::bad(
                ErrorCode::InvalidRequest,
                format!("the request body exceeds {MAX_BODY_BYTES} bytes"),
            )
            .with_status(StatusCode::PAYLOAD_TOO_LARGE),
            BodyError::Read => OAuthError::bad(
                ErrorCode::InvalidRequest,
                "the request body could not be read",
            ),
        }
    }

    /// Maps a form failure.
    pub fn from_form(e: FormError) -> Self {
        match e {
            FormError::Malformed => OAuthError::bad(
                ErrorCode::InvalidRequest,
                "the body is not a valid application/x-www-form-urlencoded form of UTF-8 text",
            ),
            FormError::Duplicate(p) => OAuthError::bad(
                ErrorCode::InvalidRequest,
                format!("parameter {p:?} is included more than once"),
            ),
        }
    }

    /// Maps a core token error. `challenge`: the client authenticated with HTTP Basic.
    pub fn from_token(e: TokenError, challenge: bool) -> Self {
        match e {
            TokenError::InvalidClient(f) => {
                // Only a client that proved possession of a secret learns why it was refused.
                let description = match f {
                    AuthFailure::SecretExpired => "the client secret has expired",
                    AuthFailure::ClientDisabled | AuthFailure::TenantDisabled => {
                        "the client is disabled"
                    }
                    AuthFailure::UnknownClient
                    | AuthFailure::ClientDeleted
                    | AuthFailure::BadSecret
                    | AuthFailure::TenantDeleted => "client authentication failed",
                };
                OAuthError::invalid_client(description, challenge)
            }
            TokenError::UnauthorizedClient => OAuthError::bad(
                ErrorCode::UnauthorizedClient,
                "the client's role does not allow the client_credentials grant",
            ),
            TokenError::InvalidScope(s) => OAuthError::bad(
                ErrorCode::InvalidScope,
                format!("scope {s:?} is not granted to this client"),
            ),
            TokenError::NoSigningKey => OAuthError {
                cause: Some("no signing key for the requested algorithm".into()),
                ..OAuthError::bad(
                    ErrorCode::TemporarilyUnavailable,
                    "no signing key is available; try again shortly",
                )
                .with_status(StatusCode::SERVICE_UNAVAILABLE)
            },
            TokenError::Internal(cause) => OAuthError {
                cause: Some(cause.to_string()),
                ..OAuthError::bad(ErrorCode::ServerError, "internal error")
                    .with_status(StatusCode::INTERNAL_SERVER_ERROR)
            },
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'static str,
    error_description: &'a str,
}

/// `Cache-Control: no-store` and `Pragma: no-cache`: token responses must not be cached.
pub fn no_store(headers: &mut HeaderMap) {
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&ErrorBody {
            error: self.code.as_str(),
            error_description: &self.description,
        })
        .unwrap_or_default();
        let mut res = (self.status, body).into_response();
        let h = res.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        no_store(h);
        if self.challenge && self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tessera\", charset=\"UTF-8\""),
            );
        }
        if let Some(cause) = self.cause {
            res.extensions_mut().insert(InternalCause(Arc::new(cause)));
        }
        res
    }
}

#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    scope: String,
}

/// Whether `s` is an absolute URI without a fragment (RFC 8707 §2).
pub fn is_absolute_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    scheme_ok
        && !rest.is_empty()
        && !s.contains('#')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && s.len() <= 2048
}

/// A client-credentials request after the parts every OAuth2 dialect shares: media type, body,
/// strict form, `grant_type`, and exactly one client authentication method. Its `Debug` shows
/// neither the secret nor the form.
pub struct ClientCredentialsRequest {
    /// The authenticated-to-be client.
    pub client_id: ClientId,
    /// The presented secret.
    pub secret: String,
    /// Whether the client used HTTP Basic (its 401s carry a Basic challenge).
    pub basic: bool,
    /// The whole form, for the dialect's own parameters.
    pub form: Form,
    /// The client's address.
    pub peer: Peer,
}

impl std::fmt::Debug for ClientCredentialsRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentialsRequest")
            .field("client_id", &self.client_id)
            .field("basic", &self.basic)
            .finish_non_exhaustive()
    }
}

impl ClientCredentialsRequest {
    /// The credentials, for the core.
    pub fn credentials(&self) -> Credentials<'_> {
        Credentials {
            client_id: self.client_id,
            secret: &self.secret,
            source: self.peer.0,
        }
    }
}

/// Reads a form request body: media type, size limit, strict form (RFC 6749 §3.1).
/// `repeatable` names parameters that may repeat.
pub async fn read_form(
    headers: &HeaderMap,
    body: Body,
    repeatable: &[&str],
) -> Result<Form, OAuthError> {
    if !has_media_type(headers, "application/x-www-form-urlencoded") {
        return Err(OAuthError::bad(
            ErrorCode::InvalidRequest,
            "the Content-Type must be application/x-www-form-urlencoded",
        )
        .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    }
    let body = read_body(headers, body)
        .await
        .map_err(OAuthError::from_body)?;
    Form::parse(&body, repeatable).map_err(OAuthError::from_form)
}

/// Client authentication (RFC 6749 §2.3.1): HTTP Basic or `client_id` and `client_secret` in
/// the form, never both.
pub fn authenticate_client(
    peer: Peer,
    headers: &HeaderMap,
    form: Form,
) -> Result<ClientCredentialsRequest, OAuthError> {
    // §2.3: "The client MUST NOT use more than one authentication method in each request."
    let (client_id, secret, basic) = match basic_credentials(headers) {
        AuthorizationHeader::Basic(c) => {
            if form.get("client_secret").is_some() {
                return Err(OAuthError::bad(
                    ErrorCode::InvalidRequest,
                    "more than one client authentication method: HTTP Basic and client_secret in the body",
                ));
            }
            if form.get("client_id").is_some_and(|id| id != c.id) {
                return Err(OAuthError::bad(
                    ErrorCode::InvalidRequest,
                    "client_id in the body differs from the HTTP Basic client id",
                ));
            }
            (c.id, c.secret, true)
        }
        AuthorizationHeader::MalformedBasic => {
            return Err(OAuthError::invalid_client(
                "the HTTP Basic credentials are malformed",
                true,
            ));
        }
        AuthorizationHeader::OtherScheme => {
            return Err(OAuthError::invalid_client(
                "unsupported client authentication method; use HTTP Basic or client_secret_post",
                true,
            ));
        }
        AuthorizationHeader::Absent => match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => (id.to_owned(), secret.to_owned(), false),
            _ => {
                return Err(OAuthError::invalid_client(
                    "client authentication is required (HTTP Basic or client_id and client_secret)",
                    true,
                ));
            }
        },
    };
    let Ok(client_id) = client_id.parse::<ClientId>() else {
        return Err(OAuthError::invalid_client(
            "client authentication failed",
            basic,
        ));
    };
    Ok(ClientCredentialsRequest {
        client_id,
        secret,
        basic,
        form,
        peer,
    })
}

/// Parses an RFC 6749 §4.4 token request. `repeatable` names parameters that may repeat.
pub async fn parse_client_credentials(
    peer: Peer,
    headers: &HeaderMap,
    body: Body,
    repeatable: &[&str],
) -> Result<ClientCredentialsRequest, OAuthError> {
    let form = read_form(headers, body, repeatable).await?;
    match form.get("grant_type") {
        None => {
            return Err(OAuthError::bad(
                ErrorCode::InvalidRequest,
                "the grant_type parameter is missing",
            ));
        }
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError::bad(
                ErrorCode::UnsupportedGrantType,
                "only the client_credentials grant is supported",
            ));
        }
    }
    authenticate_client(peer, headers, form)
}

/// A 200 JSON answer with `Cache-Control: no-store`, as every token response must have
/// (RFC 6749 §5.1).
pub fn token_json<T: Serialize>(body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut res = (StatusCode::OK, bytes).into_response();
            let h = res.headers_mut();
            h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            no_store(h);
            res
        }
        Err(e) => OAuthError {
            cause: Some(e.to_string()),
            ..OAuthError::bad(ErrorCode::ServerError, "internal error")
                .with_status(StatusCode::INTERNAL_SERVER_ERROR)
        }
        .into_response(),
    }
}

/// `POST /oauth2/token`.
pub async fn token(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, OAuthError> {
    let (state, headers) = (&state, &headers);
    let req = parse_client_credentials(peer, headers, body, &["resource"]).await?;
    let scope = req
        .form
        .get("scope")
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|e| OAuthError::bad(ErrorCode::InvalidScope, e.to_string()))?;
    let resources: Vec<&str> = req.form.all("resource").collect();
    if let Some(bad) = resources.iter().find(|r| !is_absolute_uri(r)) {
        let shown: String = bad.chars().take(64).collect();
        return Err(OAuthError::bad(
            ErrorCode::InvalidTarget,
            format!("resource {shown:?} is not an absolute URI without a fragment"),
        ));
    }
    let audience = match resources.as_slice() {
        [] => None,
        [one] => Some(Audience::One((*one).to_owned())),
        many => Some(Audience::Many(
            many.iter().map(|s| (*s).to_owned()).collect(),
        )),
    };
    let grant = Grant {
        scope,
        audience,
        ..Grant::default()
    };
    let issued = state
        .issuer
        .token(req.credentials(), grant)
        .map_err(|e| OAuthError::from_token(e, req.basic))?;
    Ok(token_json(&TokenResponse {
        access_token: &issued.access_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        // The claim is the granted scope set, already rendered (this dialect never binds).
        scope: issued.claims.scope.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::is_absolute_uri;

    #[test]
    fn resources_must_be_absolute_uris_without_fragment() {
        assert!(is_absolute_uri("https://api.example.com/payments"));
        assert!(is_absolute_uri("urn:example:api"));
        assert!(!is_absolute_uri("/relative"));
        assert!(!is_absolute_uri("https://x/#frag"));
        assert!(!is_absolute_uri("no scheme"));
        assert!(!is_absolute_uri("1http://x"));
    }
}
