//! iPOSpays, seed 003.

use crate::harness::{Env, Server, s};
use crate::jwt::payload;
use std::time::Duration;

fn auth_headers<'a>(c: &'a crate::harness::Client, scope: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("apiKey", &c.client_id),
        ("secretKey", &c.secret),
        ("scope", scope),
    ]
}

fn success(srv: &Server, r: &crate::harness::Answer) -> String {
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["createdDt", "responseCode", "responseMessage", "token"]
    );
    assert_eq!(v["responseCode"], "00");
    assert_eq!(v["responseMessage"], "Success");
    let created: i64 = s(&v["createdDt"]).parse().unwrap();
    assert!(created > 1_700_000_000_000, "epoch milliseconds");
    let token = s(&v["token"]);
    let _ = srv;
    token
}

#[test]
fn tokens_from_headers_or_json_carry_scope_unique_id_and_rs256() {
    let env = Env::new();
    let c = env.client("iso");
    let srv = env.serve();
    let r = srv.post(
        "/v1/authenticate-token",
        "application/json",
        b"".to_vec(),
        &auth_headers(&c, "PaymentTokenization,Recurring"),
    );
    let token = success(&srv, &r);
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let claims = payload(&token);
    assert_eq!(claims["scope"], "PaymentTokenization Recurring");
    assert_eq!(claims["uniqueId"], c.tenant_id.as_str());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        1440 * 60
    );
    // The RS256 key is in the JWKS.
    let jwks = srv.get("/oauth2/jwks").text;
    assert!(jwks.contains(header.kid.as_deref().unwrap()));

    // The document's JSON body, with an expiry.
    let body = format!(
        r#"{{"apiKey": "{}", "secretKey": "{}", "scope": "ExternalApi", "jwtTokenExpiryMinutes": 1000}}"#,
        c.client_id, c.secret
    );
    let r = srv.post(
        "/v1/authenticate-token",
        "application/json",
        body.into_bytes(),
        &[],
    );
    let claims = payload(&success(&srv, &r));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        60_000
    );
    assert_eq!(claims["scope"], "ExternalApi");
}

#[test]
fn every_documented_error() {
    let env = Env::new();
    let c = env.client("merchant");
    let srv = env.serve();
    let post = |h: &[(&str, &str)]| {
        srv.post(
            "/v1/authenticate-token",
            "application/json",
            b"{}".to_vec(),
            h,
        )
    };
    let check = |r: crate::harness::Answer, status: u16, code: &str, msg: &str| {
        assert_eq!(r.status, status, "{code}: {}", r.text);
        let v = r.json();
        assert_eq!(v["errorCode"], code);
        assert_eq!(v["errorMessage"], msg);
    };
    let id = c.client_id.as_str();
    let sk = c.secret.as_str();
    check(
        post(&[("secretKey", sk), ("scope", "Recurring")]),
        400,
        "AUTH_ERR_001",
        "API Key is required.",
    );
    check(
        post(&[("apiKey", id), ("scope", "Recurring")]),
        400,
        "AUTH_ERR_002",
        "Secret Key is required.",
    );
    check(
        post(&[("apiKey", id), ("secretKey", sk)]),
        400,
        "AUTH_ERR_003",
        "Scope is required.",
    );
    check(
        post(&[
            ("apiKey", id),
            ("secretKey", "wrong"),
            ("scope", "Recurring"),
        ]),
        401,
        "AUTH_ERR_004",
        "Invalid Credentials, Please Contact Support Team.",
    );
    check(
        post(&[("apiKey", id), ("secretKey", sk), ("scope", "ExternalApi")]),
        400,
        "AUTH_ERR_005",
        "Invalid scope provided. Please use a valid scope.",
    );
    check(
        post(&[
            ("apiKey", id),
            ("secretKey", sk),
            ("scope", "Recurring"),
            ("jwtTokenExpiryMinutes", "29"),
        ]),
        400,
        "AUTH_ERR_011",
        "Minimum expiry time cannot be less than 30 minutes.",
    );
    check(
        post(&[
            ("apiKey", id),
            ("secretKey", sk),
            ("scope", "Recurring"),
            ("jwtTokenExpiryMinutes", "1441"),
        ]),
        400,
        "AUTH_ERR_012",
        "Maximum expiry time cannot be more than 24 hours.",
    );
    check(
        post(&[
            ("apiKey", id),
            ("secretKey", sk),
            ("scope", "Recurring"),
            ("jwtTokenExpiryMinutes", "soon"),
        ]),
        400,
        "AUTH_ERR_010",
        "Invalid expiry time.",
    );
    let ok = post(&[
        ("apiKey", id),
        ("secretKey", sk),
        ("scope", "Recurring"),
        ("jwtTokenExpiryMinutes", "30"),
    ]);
    let token = success(&srv, &ok);

    // Refresh.
    let refresh =
        |h: &[(&str, &str)]| srv.post("/v1/refresh-token", "application/json", b"{}".to_vec(), h);
    check(
        refresh(&[("token", &token)]),
        400,
        "AUTH_ERR_009",
        "Refresh Token needs to be true in the Header.",
    );
    check(
        refresh(&[("refreshToken", "true"), ("token", "abc")]),
        401,
        "AUTH_ERR_006",
        "Invalid Token, Please try with a Valid Token.",
    );
    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let parts: Vec<&str> = token.split('.').collect();
    let other_sig = format!("{}.{}.{}", parts[0], parts[1], "c2lnbmF0dXJl");
    check(
        refresh(&[("refreshToken", "true"), ("token", &other_sig)]),
        401,
        "AUTH_ERR_008",
        "Invalid Signature.",
    );
    let r = refresh(&[("refreshToken", "true"), ("token", &token)]);
    let fresh = success(&srv, &r);
    let (a, b) = (payload(&token), payload(&fresh));
    assert_eq!(b["scope"], a["scope"]);
    assert_eq!(
        b["exp"].as_i64().unwrap() - b["iat"].as_i64().unwrap(),
        30 * 60
    );
    assert_ne!(b["jti"], a["jti"]);
    // The document's JSON form of the refresh request.
    let body = format!(r#"{{"refreshToken": true, "token": "{fresh}"}}"#);
    let r = srv.post(
        "/v1/refresh-token",
        "application/json",
        body.into_bytes(),
        &[],
    );
    success(&srv, &r);

    // A token whose secret is gone cannot be refreshed.
    env.cli(&["secret", "delete", "--app", id, &c.secret_id]);
    srv.eventually(Duration::from_secs(2), || {
        refresh(&[("refreshToken", "true"), ("token", &fresh)]).status == 401
    });
    check(
        refresh(&[("refreshToken", "true"), ("token", &fresh)]),
        401,
        "AUTH_ERR_007",
        "Invalid Token, Please try with a Valid Token.",
    );
}

#[test]
fn the_expiry_never_exceeds_the_deployments_longest_token_lifetime() {
    let env = Env::with_config(
        "[keys]\nmax_token_ttl_seconds = 12000\n[dialects.ipospays]\ntoken_ttl_seconds = 3600\n",
    );
    let c = env.client("merchant");
    let srv = env.serve();
    let h = |m: &'static str| {
        vec![
            ("apiKey", c.client_id.clone()),
            ("secretKey", c.secret.clone()),
            ("scope", "Recurring".to_string()),
            ("jwtTokenExpiryMinutes", m.to_string()),
        ]
    };
    let post = |m: &'static str| {
        let hs = h(m);
        let refs: Vec<(&str, &str)> = hs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        srv.post(
            "/v1/authenticate-token",
            "application/json",
            b"{}".to_vec(),
            &refs,
        )
    };
    let r = post("1000");
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json()["errorCode"], "AUTH_ERR_012");
    assert_eq!(post("120").status, 200);
}
