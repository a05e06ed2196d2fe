//! Basiq (seed 001): `POST /token` with `Authorization: Basic <API key>` (the key is
//! base64("client_id:secret")) and a `basiq-version` header; body `scope=SERVER_ACCESS` (default)
//! or `scope=CLIENT_ACCESS` with an optional `userId`, form-encoded as the document shows or JSON
//! as Basiq's own SDK sends it (`{}` or an empty body means the default).
//!
//! Errors come as Basiq's error list, each with the document's code and status:
//! `parameter-not-valid` 400 for the headers, `invalid-request` 400 for the body,
//! `unsupported-grant-type` 400, `invalid-grant` 400 for a key that is invalid, expired or
//! revoked, `access-denied` 403 for a disabled account (and for a key whose role does not hold
//! the requested scope), `parameter-not-valid` 404 for a deleted account (a deleted tenant, told
//! only to a caller whose key matched; the key of a deleted application is `invalid-grant`, like
//! an unknown one), `too-many-requests` 429, and `internal-server-error` 500.

use super::config::{ConfigError, DialectsConfig, read_section};
use super::{Dialect, Routes};
use crate::form::{
    AuthorizationHeader, BodyError, Form, FormError, MAX_BODY_BYTES, Peer, basic_credentials,
    has_media_type,
};
use crate::state::AppState;
use crate::toolkit::{
    BodyRejection, FORM, FormRejection, JSON, JsonError, JsonField, JsonRejection, error_response,
    json_field, parse_json_object, read_body, token_json,
};
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, StatusCode};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::{Value, json};
use tessera_core::ids::ClientId;
use tessera_core::issue::{Credentials, Grant};
use tessera_core::proto::{Scope, ScopeSet};
use tessera_core::{AuthFailure, TokenError};

/// The config section and registry name.
pub const NAME: &str = "basiq";

/// This dialect in the registry.
pub const DIALECT: Dialect = Dialect {
    configure,
    ..Dialect::new(NAME, 3_600, routes, |_, base, _| {
        format!(
            "curl {base}/token -H \"Authorization: Basic {}\" -H 'basiq-version: 3.0' -d scope=SERVER_ACCESS",
            super::SHELL_API_KEY
        )
    })
};

/// `[dialects.basiq]` beyond the common keys.
#[derive(Default, serde::Deserialize)]
struct OwnKeys {
    /// Accepted `basiq-version` values (default 2.0, 2.1, 3.0).
    versions: Option<Vec<String>>,
}

fn configure(d: &mut DialectsConfig, name: &str, section: &Value) -> Result<(), ConfigError> {
    const KEYS: &[&str] = &["enabled", "prefix", "token_ttl_seconds", "versions"];
    let own: OwnKeys = read_section(d, name, KEYS, section)?;
    if let Some(v) = own.versions {
        d.basiq_versions = v;
    }
    Ok(())
}

/// The routes of this dialect.
pub fn routes() -> Routes {
    vec![("/token", post(token))]
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
    /// Throttled: `Retry-After` seconds (0: not throttled). Seconds, not a `Duration`, to keep
    /// the error small.
    retry_after: u32,
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
            retry_after: 0,
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
        let mut res = error_response(self.status, &body, self.cause);
        if self.retry_after > 0 {
            let after = std::time::Duration::from_secs(u64::from(self.retry_after));
            crate::toolkit::retry_after(&mut res, after);
        }
        res
    }
}

impl BodyRejection for BasiqError {
    fn body(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => BasiqError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid-request",
                "Invalid request.",
                format!("The request body exceeds {MAX_BODY_BYTES} bytes"),
                Source::None,
            ),
            BodyError::Read => BasiqError::request("The request body could not be read", None),
        }
    }
}

/// Basiq takes either body, so one wording serves both readers.
fn unsupported_media_type() -> BasiqError {
    BasiqError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "invalid-request",
        "Invalid request.",
        "The body must be application/x-www-form-urlencoded or application/json",
        Source::Header("Content-Type"),
    )
}

impl FormRejection for BasiqError {
    fn media_type(_: &'static str) -> Self {
        unsupported_media_type()
    }

    fn form(e: FormError) -> Self {
        match e {
            FormError::Malformed => {
                BasiqError::request("The request body is not a valid form", None)
            }
            FormError::Duplicate(_) => {
                BasiqError::request("A parameter is included more than once", None)
            }
        }
    }
}

impl JsonRejection for BasiqError {
    fn media_type(_: &'static str) -> Self {
        unsupported_media_type()
    }

    fn json(e: JsonError) -> Self {
        match e {
            JsonError::Syntax => BasiqError::request("The request body is not valid JSON", None),
            JsonError::NotObject => {
                BasiqError::request("The request body must be a JSON object", None)
            }
        }
    }
}

fn internal_error() -> BasiqError {
    BasiqError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal-server-error",
        "Internal Server Error.",
        "An unexpected condition was encountered",
        Source::None,
    )
}

/// The user a `CLIENT_ACCESS` token acts for: a body parameter and a claim of this name.
pub const USER_CLAIM: &str = "userId";

#[derive(Serialize)]
struct BasiqToken {
    access_token: Box<serde_json::value::RawValue>,
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
    match json_field(obj, key) {
        JsonField::Absent | JsonField::Text("") => Ok(None),
        JsonField::Text(s) => Ok(Some(s.to_owned())),
        JsonField::Other(_) => Err(BasiqError::request(
            format!("{key} must be a string"),
            Some(key),
        )),
    }
}

fn params(headers: &HeaderMap, body: &[u8]) -> Result<Params, BasiqError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Params::default());
    }
    if has_media_type(headers, JSON) {
        let obj = parse_json_object::<BasiqError>(body)?;
        return Ok(Params {
            scope: json_string(&obj, "scope")?,
            user_id: json_string(&obj, USER_CLAIM)?,
            grant_type: json_string(&obj, "grant_type")?,
        });
    }
    if has_media_type(headers, FORM) {
        let form = Form::parse(body, &[]).map_err(<BasiqError as FormRejection>::form)?;
        return Ok(Params {
            scope: form.get("scope").map(str::to_owned),
            user_id: form.get(USER_CLAIM).map(str::to_owned),
            grant_type: form.get("grant_type").map(str::to_owned),
        });
    }
    Err(unsupported_media_type())
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
    let body = read_body::<BasiqError>(headers, body).await?;
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
    let mut grant = Grant {
        scope: Some(requested),
        ttl: Some(d.common(NAME).token_ttl),
        ..Grant::default()
    };
    if let Some(user) = p.user_id {
        grant
            .claims
            .insert(USER_CLAIM, user)
            .map_err(|e| BasiqError {
                cause: Some(e.to_string()),
                ..internal_error()
            })?;
    }
    let issued = state
        .issuer
        .token(
            Credentials {
                client_id,
                secret: creds.secret.expose_secret(),
                source: peer.0,
            },
            grant,
        )
        .map_err(|e| match e {
            // A deleted application has no secret left, so its key can only be wrong: saying
            // "deleted" here would tell anyone, without a secret, which client ids existed.
            TokenError::InvalidClient(
                AuthFailure::UnknownClient
                | AuthFailure::ClientDeleted
                | AuthFailure::BadSecret
                | AuthFailure::SecretExpired,
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
            // Reported only once the key matched: the caller holds a real key.
            TokenError::InvalidClient(AuthFailure::TenantDeleted) => BasiqError::new(
                StatusCode::NOT_FOUND,
                "parameter-not-valid",
                "Parameter not valid.",
                "Unable to authenticate. Please, check your API key",
                Source::Header("Authorization"),
            ),
            TokenError::Throttled(after) => BasiqError {
                retry_after: u32::try_from(after.as_secs()).unwrap_or(u32::MAX).max(1),
                ..BasiqError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-requests",
                    "Too many requests.",
                    crate::toolkit::throttled_text(after),
                    Source::None,
                )
            },
            TokenError::InvalidScope(_)
            | TokenError::BindingRefused(_)
            | TokenError::UnauthorizedClient => BasiqError::new(
                StatusCode::FORBIDDEN,
                "access-denied",
                "Access denied.",
                format!("The API key is not allowed the scope {scope}"),
                Source::Parameter("scope"),
            ),
            TokenError::NoSigningKey | TokenError::Internal(_) => BasiqError {
                cause: Some(e.to_string()),
                ..internal_error()
            },
        })?;
    Ok(token_json(&BasiqToken {
        access_token: crate::toolkit::jwt_json(&issued.access_token),
        token_type: "Bearer",
        expires_in: issued.expires_in,
    }))
}
