//! End to end: tokens from every dialect against the sample payments API protected by
//! tessera-guard (JWKS fetched over HTTP from the real server, revocation feed followed), and a
//! deleted secret refused within a second.

use crate::harness::{Client, Env, Server, basic, s};
use std::time::{Duration, Instant};
use tessera_guard::{ErrorStyle, FeedCredentials, Guard, GuardConfig};

/// The payments API on an ephemeral port, in its own runtime; returns its base URL.
fn payments(
    issuer: &str,
    audiences: Vec<String>,
    feed: Option<&Client>,
    style: ErrorStyle,
) -> String {
    let mut config = GuardConfig::new(issuer, audiences).with_style(style);
    if let Some(f) = feed {
        config = config.with_feed(FeedCredentials {
            client_id: f.client_id.clone(),
            client_secret: f.secret.clone(),
        });
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let guard = Guard::start(config).await.unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(format!("http://{}", listener.local_addr().unwrap()))
                .unwrap();
            axum::serve(listener, payments_api::router(&guard))
                .await
                .unwrap();
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

fn call(
    srv: &Server,
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (u16, String, Option<String>) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = srv.http.request(m, format!("{base}{path}"));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let r = req.send().unwrap();
    let www = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (r.status().as_u16(), r.text().unwrap(), www)
}

fn tok(r: crate::harness::Answer, field: &str) -> String {
    assert_eq!(r.status, 200, "{}", r.text);
    s(&r.json()[field])
}

const BASYS_RESOURCE: &str = "8939cd8f-0b21-4654-8f4d-ee01706dc3d6";

#[test]
fn every_dialects_token_works_and_a_deleted_secret_is_refused_within_a_second() {
    let env = Env::new();
    // The API's feed reader sits in the platform's tenant: the feed answers it the records of
    // the tenants below, where every client of this test is.
    let platform = s(&env.cli(&["tenant", "create", "--name", "Platform"])["id"]);
    let child = |role: &str| {
        let t = env.cli(&["tenant", "create", "--name", "T", "--parent", &platform]);
        env.client_of(&s(&t["id"]), role)
    };
    let gw = child("integrated-gateway-standard");
    let partner = child("api-partner");
    let merchant = child("merchant");
    let rs = env.client_of(&platform, "resource-server");
    let srv = env.serve();
    let iss = srv.issuer();
    let api = payments(
        &iss,
        vec![iss.clone(), BASYS_RESOURCE.into()],
        Some(&rs),
        ErrorStyle::Rfc6750,
    );

    let form = "application/x-www-form-urlencoded";
    let standard = tok(
        srv.token_basic(&gw, "grant_type=client_credentials"),
        "access_token",
    );
    let basys = tok(
        srv.post("/oauth2/v2.0/token", form, format!("grant_type=client_credentials&client_id={}&client_secret={}&scope={iss}/{BASYS_RESOURCE}/.default", gw.client_id, gw.secret).into_bytes(), &[]),
        "access_token",
    );
    let psz = tok(
        srv.post(
            "/api/token",
            "application/json",
            format!(
                r#"{{"client_id":"{}","client_secret":"{}"}}"#,
                gw.client_id, gw.secret
            )
            .into_bytes(),
            &[],
        ),
        "access_token",
    );
    let auth = basic(&partner.client_id, &partner.secret);
    let basiq_client = tok(
        srv.post(
            "/token",
            form,
            b"scope=CLIENT_ACCESS&userId=u1".to_vec(),
            &[("authorization", &auth), ("basiq-version", "3.0")],
        ),
        "access_token",
    );
    let basiq_server = tok(
        srv.post(
            "/token",
            form,
            b"scope=SERVER_ACCESS".to_vec(),
            &[("authorization", &auth), ("basiq-version", "3.0")],
        ),
        "access_token",
    );
    let ipos = tok(
        srv.post(
            "/v1/authenticate-token",
            "application/json",
            vec![],
            &[
                ("apiKey", &merchant.client_id),
                ("secretKey", &merchant.secret),
                ("scope", "BatchReport"),
            ],
        ),
        "token",
    );

    for t in [&standard, &basys, &psz] {
        assert_eq!(call(&srv, &api, "POST", "/transactions", Some(t)).0, 200);
        assert_eq!(call(&srv, &api, "GET", "/batches", Some(t)).0, 403);
    }
    assert_eq!(call(&srv, &api, "GET", "/batches", Some(&ipos)).0, 200);
    assert_eq!(
        call(&srv, &api, "POST", "/transactions", Some(&ipos)).0,
        403
    );
    let (status, body, _) = call(&srv, &api, "GET", "/accounts", Some(&basiq_client));
    assert_eq!(status, 200);
    assert!(body.contains("u1"), "{body}");
    assert_eq!(
        call(&srv, &api, "POST", "/users", Some(&basiq_client)).0,
        403,
        "CLIENT_ACCESS may not"
    );
    assert_eq!(
        call(&srv, &api, "POST", "/users", Some(&basiq_server)).0,
        200
    );
    let (status, _, www) = call(&srv, &api, "GET", "/batches", Some(&standard));
    assert_eq!(status, 403);
    assert!(www.unwrap().contains("insufficient_scope"));
    let (status, body, www) = call(&srv, &api, "GET", "/whoami", None);
    assert_eq!(status, 401, "{body}");
    assert!(www.unwrap().starts_with("Bearer error=\"invalid_token\""));

    // Delete the gateway's secret: its tokens, from every dialect, stop working within a second.
    let start = Instant::now();
    env.cli(&["secret", "delete", "--app", &gw.client_id, &gw.secret_id]);
    let cli_done = start.elapsed();
    srv.eventually(Duration::from_secs(1) + cli_done, || {
        [&standard, &basys, &psz]
            .iter()
            .all(|t| call(&srv, &api, "POST", "/transactions", Some(t)).0 == 401)
    });
    // Others are untouched.
    assert_eq!(call(&srv, &api, "GET", "/batches", Some(&ipos)).0, 200);
    // A disabled application and a deleted tenant: refused as well.
    env.cli(&["app", "disable", &merchant.client_id]);
    srv.eventually(Duration::from_secs(2), || {
        call(&srv, &api, "GET", "/batches", Some(&ipos)).0 == 401
    });
    env.cli(&["tenant", "delete", &partner.tenant_id]);
    srv.eventually(Duration::from_secs(2), || {
        call(&srv, &api, "POST", "/users", Some(&basiq_server)).0 == 401
    });
    // Revoked by jti (RFC 7009) as well.
    let fresh = child("integrated-gateway-standard");
    srv.eventually(Duration::from_secs(2), || {
        srv.token_basic(&fresh, "grant_type=client_credentials")
            .status
            == 200
    });
    let t = tok(
        srv.token_basic(&fresh, "grant_type=client_credentials"),
        "access_token",
    );
    assert_eq!(call(&srv, &api, "POST", "/transactions", Some(&t)).0, 200);
    let r = srv.post(
        "/oauth2/revoke",
        form,
        format!("token={t}").into_bytes(),
        &[("authorization", &basic(&fresh.client_id, &fresh.secret))],
    );
    assert_eq!(r.status, 200);
    srv.eventually(Duration::from_secs(1), || {
        call(&srv, &api, "POST", "/transactions", Some(&t)).0 == 401
    });
}

#[test]
fn a_token_from_another_deployment_and_a_rotated_key() {
    let env = Env::new();
    let c = env.client("integrated-gateway-standard");
    let srv = env.serve();
    let other_env = Env::new();
    let oc = other_env.client("integrated-gateway-standard");
    let other = other_env.serve();
    let iss = srv.issuer();
    let api = payments(
        &iss,
        vec![iss.clone(), other.issuer()],
        None,
        ErrorStyle::Rfc6750,
    );
    // A key rotated in after the guard fetched the JWKS: the unknown kid triggers a refetch.
    env.cli(&["keys", "rotate", "--delay-seconds", "1"]);
    std::thread::sleep(Duration::from_millis(1500));
    let t = tok(
        srv.token_basic(&c, "grant_type=client_credentials"),
        "access_token",
    );
    let kid = jsonwebtoken::decode_header(&t).unwrap().kid.unwrap();
    assert!(srv.get("/oauth2/jwks").text.contains(&kid));
    assert_eq!(call(&srv, &api, "POST", "/transactions", Some(&t)).0, 200);
    // Another deployment's token (its kid is unknown here, and a refetch does not help).
    let foreign = tok(
        other.token_basic(&oc, "grant_type=client_credentials"),
        "access_token",
    );
    assert_eq!(
        call(&srv, &api, "POST", "/transactions", Some(&foreign)).0,
        401
    );
    assert_eq!(call(&srv, &api, "POST", "/transactions", Some(&t)).0, 200);
}

#[test]
fn each_apis_401_and_403_shape() {
    let env = Env::new();
    let c = env.client("merchant");
    let srv = env.serve();
    let iss = srv.issuer();
    let t = tok(
        srv.token_basic(&c, "grant_type=client_credentials"),
        "access_token",
    );
    for (style, check_401, check_403) in [
        (
            ErrorStyle::PaySecureZ,
            r#"{"error":"Invalid or expired token","message":"Unauthorized","statusCode":401}"#,
            r#""statusCode":403"#,
        ),
        (
            ErrorStyle::IposPays,
            r#"{"errorCode":"AUTH_ERR_006","errorMessage":"Invalid Token, Please try with a Valid Token."}"#,
            "AUTH_ERR_005",
        ),
        (ErrorStyle::Basiq, r#""type":"list""#, "forbidden-access"),
        (
            ErrorStyle::Rfc6750,
            r#""error":"invalid_token""#,
            "insufficient_scope",
        ),
    ] {
        let api = payments(&iss, vec![iss.clone()], None, style);
        let (status, body, _) = call(&srv, &api, "GET", "/whoami", Some("nope"));
        assert_eq!(status, 401);
        assert!(body.contains(check_401), "{style:?}: {body}");
        let (status, body, _) = call(&srv, &api, "POST", "/transactions", Some(&t));
        assert_eq!(status, 403);
        assert!(body.contains(check_403), "{style:?}: {body}");
    }
}
