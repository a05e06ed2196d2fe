//! The 401 and 403 answers, in the shape each API's clients expect.

use axum_core::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use serde_json::json;

/// How a protected API reports a refused token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorStyle {
    /// RFC 6750 §3: `WWW-Authenticate: Bearer error="invalid_token"` (or
    /// `insufficient_scope`) and `{error, error_description}`.
    #[default]
    Rfc6750,
    /// PaySecureZ: `{"statusCode":401,"message":"Unauthorized","error":"Invalid or expired token"}`.
    PaySecureZ,
    /// Basiq's error list.
    Basiq,
    /// iPOSpays `{errorCode, errorMessage}`.
    IposPays,
}

impl std::str::FromStr for ErrorStyle {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rfc6750" => Ok(ErrorStyle::Rfc6750),
            "paysecurez" => Ok(ErrorStyle::PaySecureZ),
            "basiq" => Ok(ErrorStyle::Basiq),
            "ipospays" => Ok(ErrorStyle::IposPays),
            other => Err(format!(
                "unknown error style {other:?} (rfc6750, paysecurez, basiq, ipospays)"
            )),
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No usable token: missing, malformed, forged, expired, revoked, for another audience.
    InvalidToken(&'static str),
    /// A valid token without the scope the route needs.
    InsufficientScope(String),
    /// The guard cannot tell whether the token was revoked (its revocation feed is stale): 503,
    /// so that clients retry rather than discard a token that may be fine.
    Unavailable(&'static str),
}

impl ErrorStyle {
    /// The response for a refusal.
    pub fn respond(self, refusal: &Refusal) -> Response {
        let (status, body, challenge) = match (self, refusal) {
            (ErrorStyle::Rfc6750, Refusal::Unavailable(why)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "temporarily_unavailable", "error_description": why}),
                None,
            ),
            (ErrorStyle::PaySecureZ, Refusal::Unavailable(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"statusCode": 503, "message": "Service Unavailable", "error": "Token validation is temporarily unavailable"}),
                None,
            ),
            (ErrorStyle::IposPays, Refusal::Unavailable(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"errorCode": "AUTH_ERR_503", "errorMessage": "Token validation is temporarily unavailable, please try again."}),
                None,
            ),
            (ErrorStyle::Rfc6750, Refusal::InvalidToken(why)) => (
                StatusCode::UNAUTHORIZED,
                json!({"error": "invalid_token", "error_description": why}),
                Some(format!(
                    "Bearer error=\"invalid_token\", error_description=\"{why}\""
                )),
            ),
            (ErrorStyle::Rfc6750, Refusal::InsufficientScope(scope)) => (
                StatusCode::FORBIDDEN,
                json!({"error": "insufficient_scope", "error_description": format!("this resource needs scope {scope}")}),
                Some(format!(
                    "Bearer error=\"insufficient_scope\", scope=\"{scope}\""
                )),
            ),
            (ErrorStyle::PaySecureZ, Refusal::InvalidToken(_)) => (
                StatusCode::UNAUTHORIZED,
                json!({"statusCode": 401, "message": "Unauthorized", "error": "Invalid or expired token"}),
                None,
            ),
            (ErrorStyle::PaySecureZ, Refusal::InsufficientScope(_)) => (
                StatusCode::FORBIDDEN,
                json!({"statusCode": 403, "message": "Forbidden", "error": "Insufficient scope"}),
                None,
            ),
            (ErrorStyle::Basiq, r) => {
                let (status, code, title, detail) = match r {
                    Refusal::InvalidToken(_) => (
                        StatusCode::UNAUTHORIZED,
                        "unauthorized-access",
                        "Unauthorized Access",
                        "You are not authorized to access this resource",
                    ),
                    Refusal::InsufficientScope(_) => (
                        StatusCode::FORBIDDEN,
                        "forbidden-access",
                        "Forbidden Access",
                        "Access to this resource is forbidden",
                    ),
                    Refusal::Unavailable(_) => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "service-unavailable",
                        "Service Unavailable",
                        "Token validation is temporarily unavailable",
                    ),
                };
                (
                    status,
                    json!({"type": "list", "correlationId": uuid::Uuid::new_v4().to_string(),
                        "data": [{"type": "error", "code": code, "title": title, "detail": detail,
                                  "source": {"header": "Authorization"}}]}),
                    None,
                )
            }
            (ErrorStyle::IposPays, Refusal::InvalidToken(_)) => (
                StatusCode::UNAUTHORIZED,
                json!({"errorCode": "AUTH_ERR_006", "errorMessage": "Invalid Token, Please try with a Valid Token."}),
                None,
            ),
            (ErrorStyle::IposPays, Refusal::InsufficientScope(_)) => (
                StatusCode::FORBIDDEN,
                json!({"errorCode": "AUTH_ERR_005", "errorMessage": "Invalid scope provided. Please use a valid scope."}),
                None,
            ),
        };
        let mut res = (status, body.to_string()).into_response();
        let h = res.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            h.insert(RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if let Some(c) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            h.insert(WWW_AUTHENTICATE, c);
        }
        res
    }
}
