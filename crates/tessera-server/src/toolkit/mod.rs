//! What every wire dialect shares: reading a request body (size limit, media type, strict form,
//! JSON object) with failures in the dialect's own error type, walking a JSON object's fields,
//! and rendering JSON answers that must not be cached. [`oauth2`] adds the RFC 6749 parts:
//! the §5.2 error, client authentication and the client-credentials request.
//!
//! A dialect states how it words read failures by implementing [`BodyRejection`] and, for the
//! bodies it accepts, [`FormRejection`] or [`JsonRejection`]; the readers and extractors here
//! then answer in its shape, so no dialect maps `BodyError` by hand.

pub mod oauth2;

use crate::error::InternalCause;
use crate::form::{self, BodyError, Form, FormError, has_media_type};
use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::marker::PhantomData;
use std::sync::Arc;

/// The media type of form bodies.
pub const FORM: &str = "application/x-www-form-urlencoded";
/// The media type of JSON bodies.
pub const JSON: &str = "application/json";

/// `Cache-Control: no-store` and `Pragma: no-cache`: token responses must not be cached.
pub fn no_store(headers: &mut HeaderMap) {
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A JSON answer with `Cache-Control: no-store`, as every token response and every error of a
/// token endpoint must have (RFC 6749 §5.1).
pub fn json_no_store<T: Serialize>(status: StatusCode, body: &T) -> Response {
    // Room for a token response, so that writing one does not grow the buffer four times.
    let mut bytes = Vec::with_capacity(1024);
    match serde_json::to_writer(&mut bytes, body) {
        Ok(()) => {
            let mut res = (status, bytes).into_response();
            let h = res.headers_mut();
            h.insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
            no_store(h);
            res
        }
        // The bodies here are plain structs, so this does not happen; if it ever did, the
        // client still gets a well-formed OAuth error and the log the cause.
        Err(e) => oauth2::OAuthError::internal(e.to_string()).into_response(),
    }
}

/// A signed token as the JSON string of a token response, copied into the body as it is.
///
/// A compact JWS is base64url and dots, which JSON never escapes; serde_json's escaper looks at
/// every byte of every string, and for a 700-byte token that was a fifth of the response's cost
/// outside the signature. serde_json still checks the quoted token (a byte-parallel scan) and,
/// should it ever not be a JSON string, the token is escaped as usual.
pub fn jwt_json(token: &str) -> Box<RawValue> {
    let mut quoted = String::with_capacity(token.len() + 2);
    quoted.push('"');
    quoted.push_str(token);
    quoted.push('"');
    RawValue::from_string(quoted)
        .or_else(|_| serde_json::value::to_raw_value(token))
        .unwrap_or_default()
}

/// A 200 token response (RFC 6749 §5.1): JSON, not to be cached.
pub fn token_json<T: Serialize>(body: &T) -> Response {
    json_no_store(StatusCode::OK, body)
}

/// An error answer: a JSON `body` that must not be cached, with the cause of a server failure
/// attached for the one logging middleware (never shown to the client).
pub fn error_response<T: Serialize>(
    status: StatusCode,
    body: &T,
    cause: Option<String>,
) -> Response {
    let mut res = json_no_store(status, body);
    if let Some(cause) = cause {
        res.extensions_mut().insert(InternalCause(Arc::new(cause)));
    }
    res
}

/// Adds `Retry-After` (whole seconds, at least one) to a 429 answer: every dialect's throttled
/// error says when to come back the same way.
pub fn retry_after(res: &mut Response, after: std::time::Duration) {
    let secs = after.as_secs().max(1);
    res.headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
}

/// The wording of a throttled request, for every dialect's body.
pub fn throttled_text(after: std::time::Duration) -> String {
    format!(
        "too many requests; retry after {} seconds",
        after.as_secs().max(1)
    )
}

/// A dialect's error type, as far as reading a body needs it.
pub trait BodyRejection: IntoResponse + Sized {
    /// The body is over the limit or could not be read.
    fn body(e: BodyError) -> Self;
}

/// A dialect that reads form bodies.
pub trait FormRejection: BodyRejection {
    /// The Content-Type is not `expected`.
    fn media_type(expected: &'static str) -> Self;
    /// The form is malformed or repeats a parameter.
    fn form(e: FormError) -> Self;
}

/// A dialect that reads JSON bodies.
pub trait JsonRejection: BodyRejection {
    /// The Content-Type is not `expected`.
    fn media_type(expected: &'static str) -> Self;
    /// The body is not a JSON object.
    fn json(e: JsonError) -> Self;
}

/// Why a body is not a JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON at all.
    Syntax,
    /// JSON, but not an object.
    NotObject,
}

/// Reads the whole body (at most [`form::MAX_BODY_BYTES`]).
pub async fn read_body<E: BodyRejection>(headers: &HeaderMap, body: Body) -> Result<Bytes, E> {
    form::read_body(headers, body).await.map_err(E::body)
}

/// Reads a form body: media type, size limit, strict form (RFC 6749 §3.1). `repeatable` names
/// the parameters that may repeat.
pub async fn read_form<E: FormRejection>(
    headers: &HeaderMap,
    body: Body,
    repeatable: &[&str],
) -> Result<Form, E> {
    if !has_media_type(headers, FORM) {
        return Err(E::media_type(FORM));
    }
    let body = read_body::<E>(headers, body).await?;
    Form::parse(&body, repeatable).map_err(E::form)
}

/// Parses a body as a JSON object.
pub fn parse_json_object<E: JsonRejection>(
    body: &[u8],
) -> Result<serde_json::Map<String, Value>, E> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(E::json(JsonError::NotObject)),
        Err(_) => Err(E::json(JsonError::Syntax)),
    }
}

/// One field of a JSON object, sorted into what the dialects tell apart.
#[derive(Debug, Clone, Copy)]
pub enum JsonField<'a> {
    /// Missing, or `null`.
    Absent,
    /// A string (possibly empty).
    Text(&'a str),
    /// Any other value.
    Other(&'a Value),
}

/// Looks up `name` in a JSON object.
pub fn json_field<'a>(obj: &'a serde_json::Map<String, Value>, name: &str) -> JsonField<'a> {
    match obj.get(name) {
        None | Some(Value::Null) => JsonField::Absent,
        Some(Value::String(s)) => JsonField::Text(s),
        Some(other) => JsonField::Other(other),
    }
}

/// The form parameters that may repeat in a request, for [`FormBody`].
pub trait Repeatable {
    /// Their names.
    const NAMES: &'static [&'static str];
}

/// No parameter may repeat (RFC 6749 §3.1).
#[derive(Debug)]
pub struct NoRepeats;

impl Repeatable for NoRepeats {
    const NAMES: &'static [&'static str] = &[];
}

/// Extracts a strict form body (see [`read_form`]); a failure answers in `E`'s shape.
#[derive(Debug)]
pub struct FormBody<E, R = NoRepeats>(pub Form, pub PhantomData<fn() -> (E, R)>);

impl<S, E, R> FromRequest<S> for FormBody<E, R>
where
    S: Send + Sync,
    E: FormRejection,
    R: Repeatable,
{
    type Rejection = E;

    async fn from_request(req: Request, _: &S) -> Result<Self, E> {
        let (parts, body) = req.into_parts();
        let form = read_form(&parts.headers, body, R::NAMES).await?;
        Ok(FormBody(form, PhantomData))
    }
}

/// Extracts a JSON object body: `application/json`, size limit, an object; a failure answers
/// in `E`'s shape.
#[derive(Debug)]
pub struct JsonObject<E>(
    pub serde_json::Map<String, Value>,
    pub PhantomData<fn() -> E>,
);

impl<S: Send + Sync, E: JsonRejection> FromRequest<S> for JsonObject<E> {
    type Rejection = E;

    async fn from_request(req: Request, _: &S) -> Result<Self, E> {
        let (parts, body) = req.into_parts();
        if !has_media_type(&parts.headers, JSON) {
            return Err(E::media_type(JSON));
        }
        let bytes = read_body::<E>(&parts.headers, body).await?;
        parse_json_object(&bytes).map(|o| JsonObject(o, PhantomData))
    }
}
