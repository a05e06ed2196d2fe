//! RFC 9457 problem details: every management error, in one shape.

use crate::error::InternalCause;
use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use serde::Serialize;
use std::sync::Arc;
use tessera_core::CoreError;
use utoipa::ToSchema;

/// A problem document (RFC 9457 §3), plus `code`, a stable machine-readable reason.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemBody {
    /// Always `about:blank`: the status and `code` say what happened.
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// The HTTP status phrase.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, for a human.
    pub detail: String,
    /// What went wrong, for a program: `invalid_token`, `insufficient_scope`, `not_found`,
    /// `invalid_request`, `unsupported_media_type`, `payload_too_large`, `conflict`,
    /// `secret_limit`, `internal`.
    pub code: &'static str,
}

/// A management error.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    code: &'static str,
    detail: String,
    bearer_error: Option<&'static str>,
    cause: Option<String>,
}

impl Problem {
    /// A problem with a status, code and detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            status,
            code,
            detail: detail.into(),
            bearer_error: None,
            cause: None,
        }
    }

    /// 400.
    pub fn bad(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, "invalid_request", detail)
    }

    /// 404, also for another tenant's objects: a token never learns that they exist.
    pub fn not_found(what: &str) -> Self {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 401 with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3.1).
    pub fn invalid_token(detail: impl Into<String>) -> Self {
        Problem {
            bearer_error: Some("invalid_token"),
            ..Problem::new(StatusCode::UNAUTHORIZED, "invalid_token", detail)
        }
    }

    /// 403 with `WWW-Authenticate: Bearer error="insufficient_scope"`.
    pub fn insufficient_scope(scope: &str) -> Self {
        Problem {
            bearer_error: Some("insufficient_scope"),
            ..Problem::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("this operation needs the {scope} permission"),
            )
        }
    }

    /// 500, with the cause kept for the log only.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Problem {
            cause: Some(cause.to_string()),
            ..Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<CoreError> for Problem {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::NotFound(what) => Problem::not_found(what),
            CoreError::Invalid(m) => Problem::bad(m),
            CoreError::Conflict(m) => Problem::new(StatusCode::CONFLICT, "conflict", m),
            e @ CoreError::SecretLimit { .. } => {
                Problem::new(StatusCode::CONFLICT, "secret_limit", e.to_string())
            }
            CoreError::Store(tessera_core::store::StoreError::Unavailable(m)) => Problem {
                cause: Some(m.to_string()),
                ..Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is unavailable; try again shortly",
                )
            },
            other => Problem::internal(other),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = ProblemBody {
            type_: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code,
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        let h = res.headers_mut();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(err) = self.bearer_error
            && let Ok(v) = HeaderValue::from_str(&format!("Bearer error=\"{err}\""))
        {
            h.insert(WWW_AUTHENTICATE, v);
        }
        if let Some(c) = self.cause {
            res.extensions_mut().insert(InternalCause(Arc::new(c)));
        }
        res
    }
}
