//! The RFC 6749 parts every OAuth2-shaped endpoint shares: the §5.2 error, client
//! authentication (§2.3.1) and the client-credentials request (§4.4), with an extractor whose
//! rejection is already the §5.2 error.

use super::{BodyRejection, FormRejection, NoRepeats, Repeatable, error_response, read_form};
use crate::form::{
    AuthorizationHeader, BodyError, Form, FormError, MAX_BODY_BYTES, Peer, basic_credentials,
};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, HeaderValue, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use std::borrow::Cow;
use std::marker::PhantomData;
use tessera_core::ids::ClientId;
use tessera_core::issue::Credentials;
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
    /// RFC 8628 §3.5 (registered for the token endpoint): the client must slow down; sent with
    /// 429 and `Retry-After` when it is throttled.
    SlowDown,
}

impl ErrorCode {
    /// The code as sent.
    pub fn as_str(self) -> &'static str {
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
            ErrorCode::SlowDown => "slow_down",
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
    /// Throttled: come back after this long.
    retry_after: Option<std::time::Duration>,
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
            retry_after: None,
        }
    }

    /// 429 `slow_down` with `Retry-After`.
    pub fn throttled(after: std::time::Duration) -> Self {
        OAuthError {
            retry_after: Some(after),
            ..OAuthError::bad(ErrorCode::SlowDown, super::throttled_text(after))
                .with_status(StatusCode::TOO_MANY_REQUESTS)
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
            // Only a dialect that binds tokens meets this, and it words it itself; this is
            // what the scope check said before binding had its own error.
            TokenError::BindingRefused(t) => OAuthError::bad(
                ErrorCode::InvalidScope,
                format!("scope {:?} is not granted to this client", t.to_string()),
            ),
            TokenError::Throttled(after) => OAuthError::throttled(after),
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

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code.as_str(),
            error_description: &self.description,
        };
        let mut res = error_response(self.status, &body, self.cause);
        if let Some(after) = self.retry_after {
            super::retry_after(&mut res, after);
        }
        if self.challenge && self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tessera\", charset=\"UTF-8\""),
            );
        }
        res
    }
}

impl BodyRejection for OAuthError {
    fn body(e: BodyError) -> Self {
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
}

impl FormRejection for OAuthError {
    fn media_type(expected: &'static str) -> Self {
        OAuthError::bad(
            ErrorCode::InvalidRequest,
            format!("the Content-Type must be {expected}"),
        )
        .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
    }

    fn form(e: FormError) -> Self {
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
}

/// A client-credentials request after the parts every OAuth2 dialect shares: media type, body,
/// strict form, `grant_type`, and exactly one client authentication method. Its `Debug` shows
/// neither the secret nor the form's values.
#[derive(Debug)]
pub struct ClientCredentialsRequest {
    /// The authenticated-to-be client.
    pub client_id: ClientId,
    /// The presented secret.
    pub secret: SecretString,
    /// Whether the client used HTTP Basic (its 401s carry a Basic challenge).
    pub basic: bool,
    /// The whole form, for the dialect's own parameters.
    pub form: Form,
    /// The client's address.
    pub peer: Peer,
}

impl ClientCredentialsRequest {
    /// The credentials, for the core.
    pub fn credentials(&self) -> Credentials<'_> {
        Credentials {
            client_id: self.client_id,
            secret: self.secret.expose_secret(),
            source: self.peer.0,
        }
    }
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
            (Some(id), Some(secret)) => (id.to_owned(), secret.into(), false),
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

/// Checks `grant_type=client_credentials` (RFC 6749 §4.4.2), then authenticates the client.
pub fn client_credentials(
    peer: Peer,
    headers: &HeaderMap,
    form: Form,
) -> Result<ClientCredentialsRequest, OAuthError> {
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

/// Extracts an RFC 6749 §4.4 token request: a strict form (`R` names the parameters that may
/// repeat), `grant_type=client_credentials`, and exactly one client authentication method.
#[derive(Debug)]
pub struct ClientCredentials<R = NoRepeats>(
    pub ClientCredentialsRequest,
    pub PhantomData<fn() -> R>,
);

impl<S: Send + Sync, R: Repeatable> FromRequest<S> for ClientCredentials<R> {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, OAuthError> {
        let (mut parts, body) = req.into_parts();
        let Ok(peer) = Peer::from_request_parts(&mut parts, state).await;
        let form = read_form::<OAuthError>(&parts.headers, body, R::NAMES).await?;
        client_credentials(peer, &parts.headers, form).map(|r| ClientCredentials(r, PhantomData))
    }
}
