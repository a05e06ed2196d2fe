//! Wire types shared by tessera and the services that consume its tokens.
//!
//! Everything here is plain data with serde derives and no runtime: the RFC 9068 access-token
//! claims, the JWK/JWKS documents (RFC 7517), the algorithm allow-list and OAuth scope tokens
//! (RFC 6749 §3.3). The issuer (`tessera-core`) and the resource-server guard both depend on this
//! crate, so that a resource server never has to compile an issuer.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The JOSE header `typ` of an RFC 9068 access token (§2.1). Resource servers must reject
/// other values, which keeps ID tokens and other JWTs from being replayed as access tokens.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The signature algorithms tessera signs with, and the only ones a verifier should accept.
///
/// This is an allow-list on purpose: `none` and the HMAC family are absent, so that no token
/// can be "verified" without a signature or with a public key used as an HMAC secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// ECDSA on P-256 with SHA-256 (RFC 7518 §3.4). tessera's default.
    #[serde(rename = "ES256")]
    Es256,
    /// Ed25519 (RFC 8037).
    #[serde(rename = "EdDSA")]
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256 and a 2048-bit key (RFC 7518 §3.3).
    #[serde(rename = "RS256")]
    Rs256,
}

impl Algorithm {
    /// Every algorithm on the allow-list.
    pub const ALL: [Algorithm; 3] = [Algorithm::Es256, Algorithm::EdDsa, Algorithm::Rs256];

    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Rs256 => "RS256",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `alg` outside the allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedAlgorithm(pub String);

impl fmt::Display for UnsupportedAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unsupported algorithm {:?} (expected ES256, EdDSA or RS256)",
            self.0
        )
    }
}

impl std::error::Error for UnsupportedAlgorithm {}

impl std::str::FromStr for Algorithm {
    type Err = UnsupportedAlgorithm;
    /// Exact JOSE names only: a verifier must not be lenient about `alg`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnsupportedAlgorithm(s.to_owned()))
    }
}

/// The JOSE header tessera writes on every access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoseHeader {
    /// Signature algorithm.
    pub alg: Algorithm,
    /// Always [`ACCESS_TOKEN_TYP`].
    pub typ: String,
    /// The id of the key in the JWKS that verifies the signature.
    pub kid: String,
}

/// The `aud` claim: one audience or several (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience, serialised as a string.
    One(String),
    /// Several audiences, serialised as an array.
    Many(Vec<String>),
}

// By hand rather than `#[serde(untagged)]`: untagged enums buffer the value into an
// intermediate tree and try each variant, which is a measurable share of validating a token.
impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Audience;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Audience, E> {
                Ok(Audience::One(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Audience, E> {
                Ok(Audience::One(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Audience, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    v.push(s);
                }
                Ok(Audience::Many(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl Audience {
    /// Whether `aud` names `expected`.
    pub fn contains(&self, expected: &str) -> bool {
        match self {
            Audience::One(a) => a == expected,
            Audience::Many(v) => v.iter().any(|a| a == expected),
        }
    }
}

/// The claims of a tessera access token: RFC 9068 §2.2 plus tessera's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer: equal, byte for byte, to the `issuer` of the server's RFC 8414 metadata.
    pub iss: String,
    /// Subject: the client_id, since a client-credentials token acts for the client itself.
    pub sub: String,
    /// The OAuth client the token was issued to (RFC 9068 §2.2).
    pub client_id: String,
    /// The resource server(s) the token is meant for.
    pub aud: Audience,
    /// Expiry, epoch seconds.
    pub exp: i64,
    /// Issued at, epoch seconds.
    pub iat: i64,
    /// Not before, epoch seconds.
    pub nbf: i64,
    /// Unique token id, for revocation by jti.
    pub jti: String,
    /// Space-delimited granted scopes (RFC 9068 §2.2.3).
    pub scope: String,
    /// The tenant that owns the client.
    pub tenant_id: String,
    /// The secret that authenticated the request, so that deleting it can revoke what it minted.
    pub secret_id: String,
    /// When the client last presented its secret (RFC 9068 §2.2.1), for a token obtained by
    /// refreshing another one (iPOSpays): the refresh chain ends a set time after it. Absent
    /// from every other token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// Claims a wire dialect adds beside these (Basiq's `userId`, iPOSpays' `uniqueId`, ...),
    /// in the order they were added. Empty for the standard endpoint, where it costs nothing.
    #[serde(flatten)]
    pub extra: ExtraClaims,
}

/// The claims of a token being signed, borrowed from the issuer, the client and the grant: the
/// fields of [`AccessTokenClaims`] in its order and with its attributes, so that both serialize
/// to the same JSON (a unit test checks) while signing copies no string.
#[derive(Debug, Clone, Copy, Serialize)]
#[allow(missing_docs, reason = "the fields are those of AccessTokenClaims")]
pub struct ClaimsToSign<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub client_id: &'a str,
    pub aud: &'a Audience,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: &'a str,
    pub scope: &'a str,
    pub tenant_id: &'a str,
    pub secret_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(flatten)]
    pub extra: &'a ExtraClaims,
}

impl<'a> From<&'a AccessTokenClaims> for ClaimsToSign<'a> {
    fn from(c: &'a AccessTokenClaims) -> Self {
        ClaimsToSign {
            iss: &c.iss,
            sub: &c.sub,
            client_id: &c.client_id,
            aud: &c.aud,
            exp: c.exp,
            iat: c.iat,
            nbf: c.nbf,
            jti: &c.jti,
            scope: &c.scope,
            tenant_id: &c.tenant_id,
            secret_id: &c.secret_id,
            auth_time: c.auth_time,
            extra: &c.extra,
        }
    }
}

/// The `jti` of the first token of a refresh chain, carried by every token refreshed from it:
/// revoking any token of the chain revokes this id, and with it the whole chain.
pub const ORIGIN_JTI_CLAIM: &str = "origin_jti";

/// The child tenant (a Banked business application) a token acts for: the token dies with that
/// tenant as it does with its own.
pub const BOUND_TENANT_CLAIM: &str = "business_application_id";

impl AccessTokenClaims {
    /// The id a revocation by `jti` names for this token: the first token of its refresh chain,
    /// so that revoking it also revokes the tokens refreshed from it.
    pub fn revocation_jti(&self) -> &str {
        self.extra.get_str(ORIGIN_JTI_CLAIM).unwrap_or(&self.jti)
    }
}

/// The claims this crate's [`AccessTokenClaims`] names itself, and the other registered JWT
/// claims (RFC 7519 §4.1, RFC 9068 §2.2): an extra claim may not take any of these names, or a
/// token would carry the name twice and verifiers would disagree on which one counts.
pub const RESERVED_CLAIMS: [&str; 18] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "client_id",
    "scope",
    "tenant_id",
    "secret_id",
    "auth_time",
    "acr",
    "amr",
    "roles",
    "groups",
    "entitlements",
    "cnf",
];

/// An extra claim was given a reserved name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservedClaim(pub String);

impl fmt::Display for ReservedClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is a reserved claim name", self.0)
    }
}

impl std::error::Error for ReservedClaim {}

/// Claims beyond the registered ones, flattened into the token's claims. A `Vec` rather than a
/// map: it does not allocate while empty (the standard endpoint never adds one), it keeps the
/// order claims were added in, and a token carries one or two of them at most.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtraClaims(Vec<(String, serde_json::Value)>);

impl ExtraClaims {
    /// Adds (or replaces) a claim; reserved names are refused.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Result<(), ReservedClaim> {
        let name = name.into();
        if RESERVED_CLAIMS.contains(&name.as_str()) {
            return Err(ReservedClaim(name));
        }
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
        Ok(())
    }

    /// A claim's value.
    pub fn get(&self, name: &str) -> Option<&serde_json::Value> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// A claim's value when it is a string.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(serde_json::Value::as_str)
    }

    /// Whether a claim of this name is there.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Whether there is no extra claim.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The claims, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &serde_json::Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl Serialize for ExtraClaims {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ExtraClaims {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ExtraClaims;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of claims")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ExtraClaims, A::Error> {
                let mut v = Vec::new();
                while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                    v.push(entry);
                }
                Ok(ExtraClaims(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// A public JSON Web Key (RFC 7517 §4), as published in the JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `EC`, `OKP` or `RSA`.
    pub kty: String,
    /// Key id, matched against the JWT header's `kid`.
    pub kid: String,
    /// The one algorithm this key verifies.
    pub alg: Algorithm,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// Curve (`P-256`, `Ed25519`) for EC and OKP keys.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crv: Option<String>,
    /// x coordinate (EC) or public key (OKP), base64url.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub x: Option<String>,
    /// y coordinate (EC), base64url.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub y: Option<String>,
    /// RSA modulus, base64url.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub n: Option<String>,
    /// RSA public exponent, base64url.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub e: Option<String>,
}

/// A JWK Set (RFC 7517 §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Jwks {
    /// The published keys: previous, current and next.
    pub keys: Vec<Jwk>,
}

/// One OAuth scope token (RFC 6749 §3.3: `1*( %x21 / %x23-5B / %x5D-7E )`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope(String);

/// A string that is not a scope token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidScope(pub String);

impl fmt::Display for InvalidScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a valid scope token (RFC 6749 §3.3)", self.0)
    }
}

impl std::error::Error for InvalidScope {}

impl Scope {
    /// Parses one scope token.
    pub fn parse(s: &str) -> Result<Scope, InvalidScope> {
        let ok = !s.is_empty()
            && s.bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        if ok && s.len() <= 256 {
            Ok(Scope(s.to_owned()))
        } else {
            Err(InvalidScope(s.chars().take(64).collect()))
        }
    }

    /// The scope token.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Scope {
    type Error = InvalidScope;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Scope::parse(&s)
    }
}

impl From<Scope> for String {
    fn from(s: Scope) -> String {
        s.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ordered set of scopes without duplicates, rendered space-delimited.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    /// Parses a space-delimited scope string (RFC 6749 §3.3). Duplicates are dropped, order kept.
    pub fn parse(s: &str) -> Result<ScopeSet, InvalidScope> {
        let mut set = ScopeSet::default();
        for tok in s.split(' ').filter(|t| !t.is_empty()) {
            set.insert(Scope::parse(tok)?);
        }
        Ok(set)
    }

    /// Adds a scope unless it is already there.
    pub fn insert(&mut self, s: Scope) {
        if !self.0.contains(&s) {
            self.0.push(s);
        }
    }

    /// Whether the set holds `s`.
    pub fn contains(&self, s: &str) -> bool {
        self.0.iter().any(|x| x.as_str() == s)
    }

    /// Whether every scope of `self` is in `other`.
    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.0.iter().all(|s| other.contains(s.as_str()))
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scopes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut set = ScopeSet::default();
        for s in iter {
            set.insert(s);
        }
        set
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(s.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_tokens_follow_rfc6749() {
        assert!(Scope::parse("transactions:process").is_ok());
        assert!(Scope::parse("").is_err());
        assert!(Scope::parse("a b").is_err());
        assert!(Scope::parse("a\"b").is_err());
        assert!(Scope::parse("a\\b").is_err());
        assert!(Scope::parse("é").is_err());
    }

    #[test]
    fn scope_set_dedups_and_renders_space_delimited() {
        let s = ScopeSet::parse("b a  b").unwrap();
        assert_eq!(s.to_string(), "b a");
        assert!(ScopeSet::parse("a").unwrap().is_subset_of(&s));
        assert!(!ScopeSet::parse("c").unwrap().is_subset_of(&s));
    }

    #[test]
    fn algorithm_names_are_exact() {
        assert_eq!("ES256".parse::<Algorithm>().unwrap(), Algorithm::Es256);
        assert!("es256".parse::<Algorithm>().is_err());
        assert!("none".parse::<Algorithm>().is_err());
        assert!("HS256".parse::<Algorithm>().is_err());
    }

    #[test]
    fn audience_is_string_or_array() {
        let one: Audience = serde_json::from_str("\"x\"").unwrap();
        assert!(one.contains("x"));
        let many: Audience = serde_json::from_str("[\"x\",\"y\"]").unwrap();
        assert!(many.contains("y") && !many.contains("z"));
    }

    fn claims(extra: ExtraClaims) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "i".into(),
            sub: "s".into(),
            client_id: "s".into(),
            aud: Audience::One("a".into()),
            exp: 2,
            iat: 1,
            nbf: 1,
            jti: "j".into(),
            scope: "x".into(),
            tenant_id: "t".into(),
            secret_id: "k".into(),
            auth_time: None,
            extra,
        }
    }

    #[test]
    fn extra_claims_follow_the_registered_ones_and_round_trip() {
        let plain = serde_json::to_string(&claims(ExtraClaims::default())).unwrap();
        assert_eq!(
            plain,
            r#"{"iss":"i","sub":"s","client_id":"s","aud":"a","exp":2,"iat":1,"nbf":1,"jti":"j","scope":"x","tenant_id":"t","secret_id":"k"}"#
        );
        let mut extra = ExtraClaims::default();
        extra.insert("userId", "u").unwrap();
        extra.insert("n", 3).unwrap();
        let c = claims(extra);
        let json = serde_json::to_string(&c).unwrap();
        assert!(
            json.ends_with(r#""secret_id":"k","userId":"u","n":3}"#),
            "{json}"
        );
        let back: AccessTokenClaims = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        // What the issuer signs serializes as the claims do, with and without extras.
        let mut timed = claims(ExtraClaims::default());
        timed.auth_time = Some(5);
        for c in [&c, &claims(ExtraClaims::default()), &timed] {
            assert_eq!(
                serde_json::to_string(&ClaimsToSign::from(c)).unwrap(),
                serde_json::to_string(c).unwrap()
            );
        }
        assert_eq!(back.extra.get_str("userId"), Some("u"));
        let plain: AccessTokenClaims = serde_json::from_str(&plain).unwrap();
        assert!(plain.extra.is_empty());
    }

    #[test]
    fn extra_claims_refuse_reserved_names() {
        let mut extra = ExtraClaims::default();
        for name in ["scope", "iss", "client_id", "tenant_id"] {
            assert_eq!(extra.insert(name, "x"), Err(ReservedClaim(name.into())));
        }
        assert!(extra.is_empty());
    }

    #[test]
    fn a_refresh_chain_dies_with_its_origin_and_a_bound_token_with_its_tenant() {
        let rec = |kind, id: &str| Revocation {
            kind,
            id: id.into(),
            before: 10,
            expires: 100,
        };
        let mut refreshed = ExtraClaims::default();
        refreshed.insert(ORIGIN_JTI_CLAIM, "root").unwrap();
        let refreshed = claims(refreshed);
        assert_eq!(refreshed.revocation_jti(), "root");
        assert_eq!(claims(ExtraClaims::default()).revocation_jti(), "j");
        let mut list = RevocationList::default();
        list.apply([&rec(RevocationKind::Jti, "other")]);
        assert!(!list.is_revoked(&refreshed));
        list.apply([&rec(RevocationKind::Jti, "root")]);
        assert!(list.is_revoked(&refreshed));

        let mut bound = ExtraClaims::default();
        bound.insert(BOUND_TENANT_CLAIM, "child").unwrap();
        let bound = claims(bound);
        let mut list = RevocationList::default();
        list.apply([&rec(RevocationKind::Tenant, "elsewhere")]);
        assert!(!list.is_revoked(&bound));
        list.apply([&rec(RevocationKind::Tenant, "child")]);
        assert!(list.is_revoked(&bound));
        assert!(!list.is_revoked(&claims(ExtraClaims::default())));
    }

    #[test]
    fn auth_time_is_written_only_when_known() {
        let mut c = claims(ExtraClaims::default());
        c.auth_time = Some(7);
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains(r#""auth_time":7"#), "{json}");
        let back: AccessTokenClaims = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }
}

/// What a revocation record covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevocationKind {
    /// One token, by `jti`.
    Jti,
    /// Every token minted with one secret (`secret_id` claim) up to `before`.
    Secret,
    /// Every token of one application (`client_id`) minted up to `before`.
    Application,
    /// Every token of one tenant (`tenant_id`) minted up to `before`.
    Tenant,
}

/// One revocation: a token by `jti`, or everything a secret, application or tenant minted at or
/// before `before`. Kept only until `expires`, when every token it covers has expired anyway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// What it covers.
    pub kind: RevocationKind,
    /// The jti, secret id, client id or tenant id.
    pub id: String,
    /// Tokens with `iat` at or before this (epoch seconds) are revoked; ignored for `jti`.
    pub before: i64,
    /// After this instant (epoch seconds) the record covers no live token.
    pub expires: i64,
}

/// The answer of the revocation feed (`GET /oauth2/revocations?since=CURSOR`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RevocationFeed {
    /// Pass this as `since` next time.
    pub cursor: i64,
    /// The records added after the cursor given (all live records for `since=0`).
    pub revocations: Vec<Revocation>,
    /// The answer was capped: ask again from `cursor` at once for the rest.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub more: bool,
}

/// How long past its `expires` a revocation record is kept: more than any verifier's leeway.
pub const PURGE_GRACE_SECS: i64 = 300;

/// The revocations a verifier knows, and the rule that applies them to a token.
#[derive(Debug, Clone, Default)]
pub struct RevocationList {
    /// jti → expiry.
    jti: std::collections::HashMap<String, i64>,
    /// Per kind (secret, application, tenant): id → (before, expiry). Separate maps, so that a
    /// lookup borrows the claim's `&str` instead of building a key.
    secrets: std::collections::HashMap<String, (i64, i64)>,
    applications: std::collections::HashMap<String, (i64, i64)>,
    tenants: std::collections::HashMap<String, (i64, i64)>,
}

impl RevocationList {
    /// Adds records (a later `before` for the same subject wins).
    pub fn apply<'a>(&mut self, records: impl IntoIterator<Item = &'a Revocation>) {
        for r in records {
            let map = match r.kind {
                RevocationKind::Jti => {
                    let e = self.jti.entry(r.id.clone()).or_insert(r.expires);
                    *e = (*e).max(r.expires);
                    continue;
                }
                RevocationKind::Secret => &mut self.secrets,
                RevocationKind::Application => &mut self.applications,
                RevocationKind::Tenant => &mut self.tenants,
            };
            let slot = map.entry(r.id.clone()).or_insert((r.before, r.expires));
            slot.0 = slot.0.max(r.before);
            slot.1 = slot.1.max(r.expires);
        }
    }

    /// Drops records that cover no live token at `now` (epoch seconds), keeping them
    /// [`PURGE_GRACE_SECS`] longer than their expiry: verifiers accept a token a little past its
    /// `exp` (clock-skew leeway), and its revocation must outlive that.
    pub fn purge(&mut self, now: i64) {
        let cutoff = now - PURGE_GRACE_SECS;
        self.jti.retain(|_, exp| *exp >= cutoff);
        for map in [&mut self.secrets, &mut self.applications, &mut self.tenants] {
            map.retain(|_, (_, exp)| *exp >= cutoff);
        }
    }

    /// Whether `claims` are revoked.
    pub fn is_revoked(&self, claims: &AccessTokenClaims) -> bool {
        // Most of the time every map is empty: skip hashing then.
        let covered = |map: &std::collections::HashMap<String, (i64, i64)>, id: &str| {
            !map.is_empty() && map.get(id).is_some_and(|(before, _)| claims.iat <= *before)
        };
        let jti_revoked = |id: &str| !self.jti.is_empty() && self.jti.contains_key(id);
        jti_revoked(&claims.jti)
            || claims
                .extra
                .get_str(ORIGIN_JTI_CLAIM)
                .is_some_and(jti_revoked)
            || covered(&self.secrets, &claims.secret_id)
            || covered(&self.applications, &claims.client_id)
            || covered(&self.tenants, &claims.tenant_id)
            || claims
                .extra
                .get_str(BOUND_TENANT_CLAIM)
                .is_some_and(|t| covered(&self.tenants, t))
    }

    /// How many records are held.
    pub fn len(&self) -> usize {
        self.jti.len() + self.secrets.len() + self.applications.len() + self.tenants.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An RFC 7662 introspection answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Introspection {
    /// Whether the token is currently active.
    pub active: bool,
    /// Granted scopes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scope: Option<String>,
    /// The client the token was issued to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client_id: Option<String>,
    /// Always `Bearer` for an active token.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub token_type: Option<String>,
    /// Expiry.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exp: Option<i64>,
    /// Issued at.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub iat: Option<i64>,
    /// Not before.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nbf: Option<i64>,
    /// Subject.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sub: Option<String>,
    /// Audience.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub aud: Option<Audience>,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub iss: Option<String>,
    /// Token id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub jti: Option<String>,
    /// The client's tenant.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tenant_id: Option<String>,
}

/// Compact JWS parsing and claim checks shared by the issuer (which reads its own tokens back)
/// and the resource-server guard. Signature verification is the caller's: it owns the keys.
pub mod jws {
    use super::{ACCESS_TOKEN_TYP, AccessTokenClaims, JoseHeader};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    /// The longest token accepted: tessera's are under 1 KiB.
    pub const MAX_TOKEN_BYTES: usize = 8192;

    /// A compact JWS split into its parts.
    #[derive(Debug)]
    pub struct Parsed<'a> {
        /// The header: `alg` is on the allow-list (serde refuses anything else) and `typ` is
        /// `at+jwt`.
        pub header: JoseHeader,
        /// What the signature covers: `header.payload`.
        pub signing_input: &'a [u8],
        /// The signature bytes.
        pub signature: Vec<u8>,
        /// The payload, base64url-decoded.
        pub payload: Vec<u8>,
    }

    /// Splits and decodes a token; `None` when it is not a compact JWS of an access token with an
    /// allow-listed algorithm (which rules out `none` and HMAC).
    pub fn parse(token: &str) -> Option<Parsed<'_>> {
        if token.len() > MAX_TOKEN_BYTES {
            return None;
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let header: JoseHeader = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
        if header.typ != ACCESS_TOKEN_TYP {
            return None;
        }
        Some(Parsed {
            header,
            signing_input: &token.as_bytes()[..h.len() + 1 + p.len()],
            signature: URL_SAFE_NO_PAD.decode(sig).ok()?,
            payload: URL_SAFE_NO_PAD.decode(p).ok()?,
        })
    }

    /// Why verified claims are still not acceptable.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum ClaimsError {
        /// The payload is not a tessera access token's claims.
        Malformed,
        /// `iss` is not the expected issuer.
        WrongIssuer,
        /// `aud` names none of the accepted audiences.
        WrongAudience,
        /// `exp` has passed.
        Expired,
        /// `nbf` is still ahead.
        NotYetValid,
    }

    /// Decodes the payload and checks `iss` (exactly), `aud` (one of `audiences`, when given),
    /// `exp` and `nbf` against `now` with `leeway` seconds.
    pub fn check_claims(
        payload: &[u8],
        issuer: &str,
        audiences: Option<&[String]>,
        now: i64,
        leeway: i64,
    ) -> Result<AccessTokenClaims, ClaimsError> {
        let claims: AccessTokenClaims =
            serde_json::from_slice(payload).map_err(|_| ClaimsError::Malformed)?;
        // A time before 1970 is no time tessera issues at, and common JWT libraries refuse it
        // (found by fuzzing the guard against jsonwebtoken): refused as malformed.
        if claims.exp < 0
            || claims.iat < 0
            || claims.nbf < 0
            || claims.auth_time.is_some_and(|t| t < 0)
        {
            return Err(ClaimsError::Malformed);
        }
        if claims.iss != issuer {
            return Err(ClaimsError::WrongIssuer);
        }
        if let Some(auds) = audiences
            && !auds.iter().any(|a| claims.aud.contains(a))
        {
            return Err(ClaimsError::WrongAudience);
        }
        if claims.exp.saturating_add(leeway) <= now {
            return Err(ClaimsError::Expired);
        }
        if claims.nbf.saturating_sub(leeway) > now {
            return Err(ClaimsError::NotYetValid);
        }
        Ok(claims)
    }
}
