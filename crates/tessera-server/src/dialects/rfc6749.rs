//! The standard token endpoint: RFC 6749 §4.4 (client credentials grant), with client
//! authentication by `client_secret_basic` or `client_secret_post` (§2.3.1), RFC 8707 resource
//! indicators, and errors exactly per §5.2. The parts other endpoints share live in
//! [`crate::toolkit::oauth2`].

use crate::state::AppState;
use crate::toolkit::Repeatable;
use crate::toolkit::oauth2::{ClientCredentials, ErrorCode, OAuthError};
use crate::toolkit::token_json;
use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use tessera_core::issue::Grant;
use tessera_core::proto::{Audience, ScopeSet};

/// RFC 8707 §2: `resource` may be given several times.
#[derive(Debug)]
pub struct Resources;

impl Repeatable for Resources {
    const NAMES: &'static [&'static str] = &["resource"];
}

#[derive(Serialize)]
struct TokenResponse {
    access_token: Box<serde_json::value::RawValue>,
    token_type: &'static str,
    expires_in: i64,
    scope: String,
}

/// Whether `s` is an absolute URI without a fragment (RFC 8707 §2).
pub fn is_absolute_uri(s: &str) -> bool {
    // The parser trims spaces and drops tabs and newlines silently; a resource is compared as
    // sent, so it must have none.
    s.len() <= 2048
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && url::Url::parse(s)
            .is_ok_and(|u| u.fragment().is_none() && !(u.cannot_be_a_base() && u.path().is_empty()))
}

/// `POST /oauth2/token`.
pub async fn token(
    State(state): State<AppState>,
    ClientCredentials(req, _): ClientCredentials<Resources>,
) -> Result<Response, OAuthError> {
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
        access_token: crate::toolkit::jwt_json(&issued.access_token),
        token_type: "Bearer",
        expires_in: issued.expires_in,
        // The claim is the granted scope set, already rendered (this dialect never binds).
        scope: issued.scope_claim,
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
        assert!(!is_absolute_uri("urn:"));
        assert!(!is_absolute_uri("https://x/a b"));
        assert!(!is_absolute_uri("https://x#"));
    }
}
