//! Basiq (seed 001): `POST /token` with `Authorization: Basic <API key>` (the key is
//! base64("client_id:secret")) and a `basiq-version` header; body `scope=SERVER_ACCESS` (default)
//! or `scope=CLIENT_ACCESS` with an optional `userId`, form-encoded as the document shows or JSON
//! as Basiq's own SDK sends it (`{}` or an empty body means the default).
//!
//! Errors come as Basiq's error list, each with the document's code and status:
//! `parameter-not-valid` 400 for the headers, `invalid-request` 400 for the body,
//! `unsupported-grant-type` 400, `invalid-grant` 400 for a key that is invalid, expired or
//! revoked, `access-denied` 403 for a disabled account (and for a key whose role does not hold
//! the requested scope), `parameter-not-valid` 404 for a deleted account, and
//! `internal-server-error` 500.

use super::rfc6749::{no_store, token_json};
use crate::error::InternalCause;
use crate::form::Peer;
use crate::form::{
    AuthorizationHeader, BodyError, Form, FormError, MAX_BODY_BYTES, basic_credentials,
    has_media_type, read_body,
};
use crate::state::AppState;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Arc;
use tessera_core::ids::ClientId;
use tessera_core::issue::{Credentials, Grant};
use tessera_core::proto::{Scope, ScopeSet};
use tessera_core::{AuthFailure, TokenError};

/// The routes of this dialect.
pub fn routes() -> Router<AppState> {
    Router::new().route("/token", post(token))
}

/// Where an error points.
#[derive(Debug, Clone, Copy)]
enum Source {
    Parameter(&'static str),
    Header(&'static str),
    None,
}

/// One error of Basiq's error list.
#[derive(Debug)]
pub struct BasiqError {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
    source: Source,
    cause: Option<String>,
}

impl BasiqError {
    fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
        source: Source,
    ) -> Self {
        BasiqError {
            status,
            code,
            title,
            detail: detail.into(),
            source,
            cause: None,
        }
    }

    fn header(detail: impl Into<String>, header: &'static str) -> Self {
        BasiqError::new(
            StatusCode::BAD_REQUEST,
            "parameter-not-valid",
            "Parameter not valid.",
            detail,
            Source::Header(header),
        )
    }

    fn request(detail: impl Into<String>, parameter: Option<&'static str>) -> Self {
        BasiqError::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "Invalid request.",
            detail,
            parameter.map_or(Source::None, Source::Parameter),
        )
    }

    fn invalid_grant() -> Self {
        BasiqError::new(
            StatusCode::BAD_REQUEST,
            "invalid-grant",
            "Invalid grant.",
            "The provided API key is invalid, expired or has been revoked",
            Source::Header("Authorization"),
        )
    }
}

impl IntoResponse for BasiqError {
    fn into_response(self) -> Response {
        let source = match self.source {
            Source::Parameter(p) => json!({"parameter": p}),
            Source::Header(h) => json!({"header": h}),
            Source::None => Value::Null,
        };
        let mut item = json!({
            "type": "error",
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
        });
        if !source.is_null() {
            item["source"] = source;
        }
        let body = json!({
            "type": "list",
            "correlationId": uuid::Uuid::new_v4().to_string(),
            "data": [item],
        });
        let mut res = (self.status, axum::Json(body)).into_response();
        no_store(res.headers_mut());
        if let Some(c) = self.cause {
            res.extensions_mut().insert(InternalCause(Arc::new(c)));
        }
        res
    }
}

#[derive(Serialize)]
struct BasiqToken<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
}

/// The body's parameters, from a form or a JSON object.
#[derive(Default)]
struct Params {
    scope: Option<String>,
    user_id: Option<String>,
    grant_type: Option<String>,
}

fn json_string(
    obj: &serde_json::Map<String, Value>,
    key: &'static str,
) -> Result<Option<String>, BasiqError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(BasiqError::request(
            format!("{key} must be a string"),
            Some(key),
        )),
    }
}

fn params(headers: &HeaderMap, body: &[u8]) -> Result<Params, BasiqError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Params::default());
    }
    if has_media_type(headers, "application/json") {
        let v: Value = serde_json::from_slice(body)
            .map_err(|_| BasiqError::request("The request body is not valid JSON", None))?;
        let Value::Object(obj) = v else {
            return Err(BasiqError::request(
                "The request body must be a JSON object",
                None,
            ));
        };
        return Ok(Params {
            scope: json_string(&obj, "scope")?,
            user_id: json_string(&obj, "userId")?,
            grant_type: json_string(&obj, "grant_type")?,
        });
    }
    if has_media_type(headers, "application/x-www-form-urlencoded") {
        let form = Form::parse(body, &[]).map_err(|e| match e {
            FormError::Malformed => {
                BasiqError::request("The request body is not a valid form", None)
            }
            FormError::Duplicate(_) => {
                BasiqError::request("A parameter is included more than once", None)
            }
        })?;
        return Ok(Params {
            scope: form.get("scope").map(str::to_owned),
            user_id: form.get("userId").map(str::to_owned),
            grant_type: form.get("grant_type").map(str::to_owned),
        });
    }
    Err(BasiqError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "invalid-request",
        "Invalid request.",
        "The body must be application/x-www-form-urlencoded or application/json",
        Source::Header("Content-Type"),
    ))
}

async fn token(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, BasiqError> {
    let (state, headers) = (&state, &headers);
    let d = &state.config.dialects;
    let version = headers
        .get("basiq-version")
        .map(|v| v.to_str().unwrap_or("").trim().to_owned());
    match version {
        None => {
            return Err(BasiqError::header(
                "Basiq-version must be specified in HTTP request header",
                "basiq-version",
            ));
        }
        Some(v) if !d.basiq_versions.contains(&v) => {
            let shown: String = v.chars().take(16).collect();
            return Err(BasiqError::header(
                format!("Version {shown} is no longer supported"),
                "basiq-version",
            ));
        }
        Some(_) => {}
    }
    let creds = match basic_credentials(headers) {
        AuthorizationHeader::Absent => {
            return Err(BasiqError::header(
                "Authorization header parameter is required",
                "Authorization",
            ));
        }
        AuthorizationHeader::MalformedBasic | AuthorizationHeader::OtherScheme => {
            return Err(BasiqError::header(
                "Invalid authorization header",
                "Authorization",
            ));
        }
        AuthorizationHeader::Basic(c) => c,
    };
    let body = read_body(headers, body).await.map_err(|e| match e {
        BodyError::TooLarge => BasiqError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid-request",
            "Invalid request.",
            format!("The request body exceeds {MAX_BODY_BYTES} bytes"),
            Source::None,
        ),
        BodyError::Read => BasiqError::request("The request body could not be read", None),
    })?;
    let p = params(headers, &body)?;
    if p.grant_type
        .as_deref()
        .is_some_and(|g| g != "client_credentials")
    {
        return Err(BasiqError::new(
            StatusCode::BAD_REQUEST,
            "unsupported-grant-type",
            "Unsupported grant type.",
            "The authorization grant type is not supported",
            Source::Parameter("grant_type"),
        ));
    }
    let scope = p.scope.as_deref().unwrap_or("SERVER_ACCESS");
    if scope != "SERVER_ACCESS" && scope != "CLIENT_ACCESS" {
        return Err(BasiqError::request(
            "scope must be SERVER_ACCESS or CLIENT_ACCESS",
            Some("scope"),
        ));
    }
    if let Some(u) = &p.user_id {
        if scope != "CLIENT_ACCESS" {
            return Err(BasiqError::request(
                "userId is only allowed with scope CLIENT_ACCESS",
                Some("userId"),
            ));
        }
        if u.len() > 128 || u.chars().any(char::is_control) {
            return Err(BasiqError::request("userId is not valid", Some("userId")));
        }
    }
    let client_id: ClientId = creds.id.parse().map_err(|_| BasiqError::invalid_grant())?;
    let requested: ScopeSet = Scope::parse(scope).into_iter().collect();
    let grant = Grant {
        scope: Some(requested),
        ttl: Some(d.basiq.token_ttl),
        user_id: p.user_id,
        ..Grant::default()
    };
    let issued = state
        .issuer
        .token(
            Credentials {
                client_id,
                secret: &creds.secret,
                source: peer.0,
            },
            grant,
        )
        .map_err(|e| match e {
            TokenError::InvalidClient(
                AuthFailure::UnknownClient | AuthFailure::BadSecret | AuthFailure::SecretExpired,
            ) => BasiqError::invalid_grant(),
            TokenError::InvalidClient(
                AuthFailure::ClientDisabled | AuthFailure::TenantDisabled,
            ) => BasiqError::new(
                StatusCode::FORBIDDEN,
                "access-denied",
                "Access denied.",
                "Your account has been disabled",
                Source::None,
            ),
            TokenError::InvalidClient(AuthFailure::ClientDeleted | AuthFailure::TenantDeleted) => {
                BasiqError::new(
                    StatusCode::NOT_FOUND,
                    "parameter-not-valid",
                    "Parameter not valid.",
                    "Unable to authenticate. Please, check your API key",
                    Source::Header("Authorization"),
                )
            }
            TokenError::InvalidScope(_) | TokenError::UnauthorizedClient => BasiqError::new(
                StatusCode::FORBIDDEN,
                "access-denied",
                "Access denied.",
                format!("The API key is not allowed the scope {scope}"),
                Source::Parameter("scope"),
            ),
            TokenError::NoSigningKey | TokenError::Internal(_) => BasiqError {
                cause: Some(e.to_string()),
                ..BasiqError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal-server-error",
                    "Internal Server Error.",
                    "An unexpected condition was encountered",
                    Source::None,
                )
            },
        })?;
    Ok(token_json(&BasiqToken {
        access_token: &issued.access_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
    }))
}
