//! PaySecureZ (seed 002): `POST /api/token` with a JSON body `{client_id, client_secret}`;
//! 200 `{access_token, expires_in, token_type}`; errors `{statusCode, message, error}`.
//!
//! The document recommends a new token per transaction, so this path is as lean as the standard
//! endpoint: one small JSON parse, then the same in-memory authentication and one signature.

use super::{Dialect, Routes};
use crate::form::{BodyError, MAX_BODY_BYTES, Peer};
use crate::state::AppState;
use crate::toolkit::{
    BodyRejection, JsonError, JsonField, JsonObject, JsonRejection, error_response, json_field,
    token_json,
};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::StatusCode;
use serde::Serialize;
use tessera_core::TokenError;
use tessera_core::ids::ClientId;
use tessera_core::issue::{Credentials, Grant};

/// The config section and registry name.
pub const NAME: &str = "paysecurez";

/// This dialect in the registry.
pub const DIALECT: Dialect = Dialect::new(NAME, 1_800, routes, |_, base, _| {
    format!(
        "curl {base}/api/token -H 'Content-Type: application/json' -d \"{{\\\"client_id\\\": \\\"$CLIENT_ID\\\", \\\"client_secret\\\": \\\"$CLIENT_SECRET\\\"}}\""
    )
});

/// The routes of this dialect.
pub fn routes() -> Routes {
    vec![("/api/token", post(token))]
}

/// An error in the document's shape.
#[derive(Debug)]
pub struct PszError {
    status: StatusCode,
    error: String,
    cause: Option<String>,
    retry_after: Option<std::time::Duration>,
}

impl PszError {
    fn new(status: StatusCode, error: impl Into<String>) -> Self {
        PszError {
            status,
            error: error.into(),
            cause: None,
            retry_after: None,
        }
    }

    fn bad(error: impl Into<String>) -> Self {
        PszError::new(StatusCode::BAD_REQUEST, error)
    }

    fn unauthorized() -> Self {
        PszError::new(StatusCode::UNAUTHORIZED, "Invalid client credentials")
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PszErrorBody<'a> {
    status_code: u16,
    message: &'a str,
    error: &'a str,
}

impl IntoResponse for PszError {
    fn into_response(self) -> Response {
        let body = PszErrorBody {
            status_code: self.status.as_u16(),
            message: self.status.canonical_reason().unwrap_or("Error"),
            error: &self.error,
        };
        let mut res = error_response(self.status, &body, self.cause);
        if let Some(after) = self.retry_after {
            crate::toolkit::retry_after(&mut res, after);
        }
        res
    }
}

impl BodyRejection for PszError {
    fn body(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => PszError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Request body exceeds {MAX_BODY_BYTES} bytes"),
            ),
            BodyError::Read => PszError::bad("Request body could not be read"),
        }
    }
}

impl JsonRejection for PszError {
    fn media_type(expected: &'static str) -> Self {
        PszError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type must be {expected}"),
        )
    }

    fn json(e: JsonError) -> Self {
        PszError::bad(match e {
            JsonError::Syntax => "Request body is not valid JSON",
            JsonError::NotObject => "Request body must be a JSON object",
        })
    }
}

#[derive(Serialize)]
struct PszToken {
    access_token: Box<serde_json::value::RawValue>,
    expires_in: i64,
    token_type: &'static str,
}

fn field<'a>(
    obj: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<&'a str, PszError> {
    match json_field(obj, name) {
        JsonField::Absent => Err(PszError::bad(format!("{name} is required"))),
        JsonField::Text("") => Err(PszError::bad(format!("{name} must not be empty"))),
        JsonField::Text(s) => Ok(s),
        JsonField::Other(_) => Err(PszError::bad(format!("{name} must be a string"))),
    }
}

async fn token(
    State(state): State<AppState>,
    peer: Peer,
    JsonObject(obj, _): JsonObject<PszError>,
) -> Result<Response, PszError> {
    let client_id = field(&obj, "client_id")?;
    let secret = field(&obj, "client_secret")?;
    let client_id: ClientId = client_id.parse().map_err(|_| PszError::unauthorized())?;
    let d = &state.config.dialects;
    let grant = Grant {
        ttl: Some(d.common(NAME).token_ttl),
        ..Grant::default()
    };
    let issued = state
        .issuer
        .token(
            Credentials {
                client_id,
                secret,
                source: peer.0,
            },
            grant,
        )
        .map_err(|e| match e {
            TokenError::InvalidClient(_) => PszError::unauthorized(),
            TokenError::Throttled(after) => PszError {
                retry_after: Some(after),
                ..PszError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    crate::toolkit::throttled_text(after),
                )
            },
            TokenError::UnauthorizedClient
            | TokenError::InvalidScope(_)
            | TokenError::BindingRefused(_) => PszError::new(
                StatusCode::FORBIDDEN,
                "The client is not allowed to obtain tokens",
            ),
            TokenError::NoSigningKey => PszError {
                cause: Some("no signing key".into()),
                ..PszError::new(StatusCode::SERVICE_UNAVAILABLE, "Try again shortly")
            },
            TokenError::Internal(c) => PszError {
                cause: Some(c.to_string()),
                ..PszError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal error")
            },
        })?;
    Ok(token_json(&PszToken {
        access_token: crate::toolkit::jwt_json(&issued.access_token),
        expires_in: issued.expires_in,
        token_type: "Bearer",
    }))
}
