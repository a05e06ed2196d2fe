//! Tokens verified against the served JWKS with an independent JWT implementation
//! (jsonwebtoken), for every algorithm; metadata and key rotation.

use crate::harness::{Env, Server, s};
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;
use std::time::Duration;

pub fn payload(token: &str) -> Value {
    let p = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(p)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn verify(srv: &Server, token: &str, alg: Algorithm, aud: &str) -> Value {
    let header = decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, alg);
    let kid = header.kid.unwrap();
    let jwks: JwkSet = serde_json::from_str(&srv.get("/oauth2/jwks").text).unwrap();
    let jwk = jwks
        .find(&kid)
        .unwrap_or_else(|| panic!("kid {kid} not in the JWKS"));
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut v = Validation::new(alg);
    v.set_issuer(&[srv.issuer()]);
    v.set_audience(&[aud]);
    v.set_required_spec_claims(&["exp", "iat", "nbf", "iss", "aud", "sub"]);
    decode::<Value>(token, &key, &v).unwrap().claims
}

#[test]
fn tokens_verify_against_the_jwks_for_every_algorithm() {
    for (name, alg) in [
        ("ES256", Algorithm::ES256),
        ("EdDSA", Algorithm::EdDSA),
        ("RS256", Algorithm::RS256),
    ] {
        let env = Env::with_config(&format!("[tokens]\nalgorithm = \"{name}\"\n"));
        let c = env.client("merchant");
        let srv = env.serve();
        let r = srv.token_basic(&c, "grant_type=client_credentials");
        assert_eq!(r.status, 200, "{name}: {}", r.text);
        let token = s(&r.json()["access_token"]);
        let claims = verify(&srv, &token, alg, &srv.issuer());
        assert_eq!(claims["iss"], srv.issuer());
        assert_eq!(claims["sub"], c.client_id.as_str());
        assert_eq!(claims["client_id"], c.client_id.as_str());
        assert_eq!(claims["tenant_id"], c.tenant_id.as_str());
        assert_eq!(claims["secret_id"], c.secret_id.as_str());
        assert_eq!(claims["scope"], "PaymentTokenization Recurring BatchReport");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            3600
        );
        assert!(claims["jti"].as_str().is_some_and(|j| j.len() == 22));
        let jwks = srv.get("/oauth2/jwks").json();
        let keys = jwks["keys"].as_array().unwrap();
        for k in keys {
            assert_eq!(k["use"], "sig");
            assert!(["ES256", "EdDSA", "RS256"].contains(&k["alg"].as_str().unwrap()));
            assert!(k["kid"].is_string());
        }
        assert!(keys.iter().any(|k| k["alg"] == name));
    }
}

#[test]
fn metadata_is_served_at_both_names_and_matches_iss() {
    let env = Env::new();
    let c = env.client("merchant");
    let srv = env.serve_with(&["--issuer", "https://auth.example.com/"]);
    let a = srv.get("/.well-known/oauth-authorization-server");
    let b = srv.get("/.well-known/openid-configuration");
    assert_eq!(a.status, 200);
    assert_eq!(a.text, b.text);
    let m = a.json();
    assert_eq!(m["issuer"], "https://auth.example.com");
    assert_eq!(m["token_endpoint"], "https://auth.example.com/oauth2/token");
    assert_eq!(m["jwks_uri"], "https://auth.example.com/oauth2/jwks");
    assert_eq!(
        m["grant_types_supported"],
        serde_json::json!(["client_credentials"])
    );
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    let token = s(&srv.token_basic(&c, "grant_type=client_credentials").json()["access_token"]);
    assert_eq!(
        payload(&token)["iss"],
        m["issuer"],
        "iss equals issuer byte for byte"
    );
}

#[test]
fn rotation_publishes_the_next_key_before_it_signs() {
    let env = Env::new();
    let c = env.client("merchant");
    let srv = env.serve();
    let kid_of = |t: &str| decode_header(t).unwrap().kid.unwrap();
    let token = |srv: &Server| {
        s(&srv.token_basic(&c, "grant_type=client_credentials").json()["access_token"])
    };
    let old_token = token(&srv);
    let old = kid_of(&old_token);
    let rotated = env.cli(&["keys", "rotate", "--delay-seconds", "3"]);
    let new = s(&rotated["kid"]);
    // Published at once (within a poll), not yet signing.
    srv.eventually(Duration::from_secs(2), || {
        srv.get("/oauth2/jwks").text.contains(&new)
    });
    assert_eq!(kid_of(&token(&srv)), old);
    // Signing once the delay has passed; the previous key stays published.
    srv.eventually(Duration::from_secs(6), || kid_of(&token(&srv)) == new);
    let jwks = srv.get("/oauth2/jwks").text;
    assert!(jwks.contains(&old) && jwks.contains(&new));
    verify(&srv, &old_token, Algorithm::ES256, &srv.issuer());
    let phases = env.cli(&["keys", "list"]);
    let phases: Vec<&str> = phases
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == "ES256")
        .map(|k| k["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["previous", "current"]);
}

#[test]
fn keys_survive_kill_9_and_old_tokens_still_verify() {
    let env = Env::new();
    let c = env.client("merchant");
    let issuer = ["--issuer", "https://auth.test"];
    let srv = env.serve_with(&issuer);
    let token = s(&srv.token_basic(&c, "grant_type=client_credentials").json()["access_token"]);
    srv.kill9();
    // A change acknowledged by the CLI just before the crash survives too.
    let d = env.client("merchant");
    let srv = env.serve_with(&issuer);
    verify(&srv, &token, Algorithm::ES256, &srv.issuer());
    assert_eq!(
        srv.token_basic(&d, "grant_type=client_credentials").status,
        200
    );
    let master = env.dir.path().join("master.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(master).unwrap().permissions().mode() & 0o777,
        0o600
    );
}
