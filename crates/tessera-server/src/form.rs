//! Request parsing shared by every dialect: bodies with a size limit, media types, strict
//! `application/x-www-form-urlencoded` forms and HTTP Basic client credentials.
//!
//! Written by hand because the usual parsers are lenient where an authorization server must not
//! be: `form_urlencoded` replaces invalid UTF-8 with U+FFFD and keeps duplicate parameters
//! silently, while RFC 6749 §3.1 says "Request and response parameters MUST NOT be included more
//! than once" and a mangled secret must fail loudly rather than be compared.

use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::HeaderMap;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use percent_encoding::percent_decode;
use secrecy::SecretString;

/// The client's IP address: the connection's peer, or the address a trusted proxy named
/// ([`crate::limits`]). Known whenever the connection loop recorded the peer (always, in
/// `serve`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Peer(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        // The address resolved through trusted proxies, when they are configured.
        if let Some(c) = parts.extensions.get::<crate::limits::ClientAddr>() {
            return Ok(Peer(Some(c.0)));
        }
        Ok(Peer(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// Largest request body any endpoint accepts. A token request is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Over [`MAX_BODY_BYTES`].
    TooLarge,
    /// The connection failed mid-body.
    Read,
}

/// Reads the whole body, refusing more than [`MAX_BODY_BYTES`] (before reading, when the
/// Content-Length already says so).
pub async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, BodyError> {
    if let Some(len) = headers.get(CONTENT_LENGTH) {
        let declared = len.to_str().ok().and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Err(BodyError::TooLarge);
        }
    }
    match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => Ok(b),
        Err(e) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            Err(if too_large {
                BodyError::TooLarge
            } else {
                BodyError::Read
            })
        }
    }
}

/// The token of an `Authorization: Bearer` header (RFC 6750 §2.1), if there is one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Whether the request's Content-Type has media type `expected` (parameters such as
/// `charset=UTF-8` are ignored and the comparison is case-insensitive, RFC 9110 §8.3.1).
pub fn has_media_type(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case(expected))
}

/// Why a form body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// Not valid percent-encoded UTF-8.
    Malformed,
    /// A parameter appeared more than once (the name is included).
    Duplicate(String),
}

/// A decoded form: parameters in order of appearance. Its `Debug` shows the names only: values
/// may be secrets.
#[derive(Default)]
pub struct Form(Vec<(String, String)>);

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, then
/// percent-decoding, then strict UTF-8.
pub fn decode_component(raw: &[u8]) -> Option<String> {
    // Most components (every part of a plain token request) have nothing to decode: one
    // exact-size copy, which a secret then keeps without reallocating.
    if !raw.iter().any(|&b| b == b'%' || b == b'+') {
        return String::from_utf8(raw.to_vec()).ok();
    }
    let plus: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    // percent_decode leaves malformed escapes such as "%zz" as they are; refuse them instead.
    let mut i = 0;
    while i < plus.len() {
        if plus[i] == b'%' {
            let ok = plus.len() > i + 2
                && plus[i + 1].is_ascii_hexdigit()
                && plus[i + 2].is_ascii_hexdigit();
            if !ok {
                return None;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    let bytes: Vec<u8> = percent_decode(&plus).collect();
    String::from_utf8(bytes).ok()
}

impl Form {
    /// Parses a form body. Parameters named in `repeatable` may occur several times; any other
    /// repeated parameter is refused.
    pub fn parse(body: &[u8], repeatable: &[&str]) -> Result<Form, FormError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            let k = decode_component(k).ok_or(FormError::Malformed)?;
            let v = decode_component(v).ok_or(FormError::Malformed)?;
            if !repeatable.contains(&k.as_str()) && out.iter().any(|(x, _)| *x == k) {
                return Err(FormError::Duplicate(k));
            }
            out.push((k, v));
        }
        Ok(Form(out))
    }

    /// A parameter's value. "Parameters sent without a value MUST be treated as if they were
    /// omitted from the request" (RFC 6749 §3.1), so an empty value is `None`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every non-empty value of a repeatable parameter.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

/// Client credentials from an `Authorization: Basic` header. `Debug` redacts the secret.
#[derive(Debug)]
pub struct BasicCredentials {
    /// The client id, decoded.
    pub id: String,
    /// The secret, decoded.
    pub secret: SecretString,
}

/// What the Authorization header holds.
#[derive(Debug)]
pub enum AuthorizationHeader {
    /// No Authorization header.
    Absent,
    /// Basic credentials.
    Basic(BasicCredentials),
    /// A Basic header that does not decode.
    MalformedBasic,
    /// Another scheme (Bearer, ...).
    OtherScheme,
}

/// Reads `Authorization: Basic`. The id and secret are percent-decoded as RFC 6749 §2.3.1
/// requires ("encoded using the application/x-www-form-urlencoded encoding algorithm"):
/// openid-client, for one, encodes even `-` and `_`, so a UUID client id arrives as
/// `%2D`-escaped text. The dialects whose documents say plain base64("key:secret") (Basiq,
/// Banked) decode the same way: tessera's client ids and secrets never contain `%` or `+`, so
/// decoding leaves a plainly encoded pair unchanged.
pub fn basic_credentials(headers: &HeaderMap) -> AuthorizationHeader {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return AuthorizationHeader::Absent;
    };
    let Ok(value) = value.to_str() else {
        return AuthorizationHeader::MalformedBasic;
    };
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return AuthorizationHeader::OtherScheme;
    }
    let Ok(decoded) = STANDARD.decode(rest.trim()) else {
        return AuthorizationHeader::MalformedBasic;
    };
    let Some(colon) = decoded.iter().position(|&b| b == b':') else {
        return AuthorizationHeader::MalformedBasic;
    };
    let (id, secret) = (&decoded[..colon], &decoded[colon + 1..]);
    match (decode_component(id), decode_component(secret)) {
        (Some(id), Some(secret)) => AuthorizationHeader::Basic(BasicCredentials {
            id,
            secret: secret.into(),
        }),
        _ => AuthorizationHeader::MalformedBasic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_strict() {
        let f = Form::parse(b"a=1&b=x+y%2Bz&c=&d", &[]).unwrap();
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.get("b"), Some("x y+z"));
        assert_eq!(f.get("c"), None);
        assert_eq!(f.get("d"), None);
        assert_eq!(
            Form::parse(b"a=1&a=2", &[]).unwrap_err(),
            FormError::Duplicate("a".into())
        );
        assert!(Form::parse(b"r=1&r=2", &["r"]).is_ok());
        assert_eq!(
            Form::parse(b"a=%zz", &[]).unwrap_err(),
            FormError::Malformed
        );
        assert_eq!(
            Form::parse(b"a=%ff", &[]).unwrap_err(),
            FormError::Malformed
        );
        assert_eq!(Form::parse(b"a=%4", &[]).unwrap_err(), FormError::Malformed);
    }

    #[test]
    fn basic_is_percent_decoded_per_rfc6749() {
        let mut h = HeaderMap::new();
        let raw = STANDARD.encode("a%2Db%3Ac:tsk_x%2By");
        h.insert(AUTHORIZATION, format!("Basic {raw}").parse().unwrap());
        match basic_credentials(&h) {
            AuthorizationHeader::Basic(c) => {
                assert_eq!(c.id, "a-b:c");
                assert_eq!(secrecy::ExposeSecret::expose_secret(&c.secret), "tsk_x+y");
                assert!(!format!("{c:?}").contains("tsk_"));
            }
            other => panic!("{other:?}"),
        }
        h.insert(AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert!(matches!(
            basic_credentials(&h),
            AuthorizationHeader::MalformedBasic
        ));
        h.insert(AUTHORIZATION, "Bearer x".parse().unwrap());
        assert!(matches!(
            basic_credentials(&h),
            AuthorizationHeader::OtherScheme
        ));
    }

    #[test]
    fn media_types_compare_without_parameters() {
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            "Application/X-WWW-Form-Urlencoded;charset=UTF-8"
                .parse()
                .unwrap(),
        );
        assert!(has_media_type(&h, "application/x-www-form-urlencoded"));
        assert!(!has_media_type(&h, "application/json"));
    }
}
