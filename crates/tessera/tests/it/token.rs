//! The standard token endpoint, RFC 6749 §4.4: every success and error case.

use crate::harness::{Env, basic, encode_all};
use std::time::Duration;

#[test]
fn basic_authentication_issues_a_bearer_token() {
    let env = Env::new();
    let c = env.client("merchant");
    let srv = env.serve();
    let r = srv.token_basic(&c, "grant_type=client_credentials");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let v = r.json();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(v["scope"], "PaymentTokenization Recurring BatchReport");
    assert_eq!(v["access_token"].as_str().unwrap().split('.').count(), 3);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["access_token", "expires_in", "scope", "token_type"]);
}

#[test]
fn client_secret_post_works_and_basic_accepts_percent_encoded_credentials() {
    let env = Env::new();
    let c = env.client("merchant");
    let srv = env.serve();
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        c.client_id, c.secret
    );
    let r = srv.token_form(&form, &[]);
    assert_eq!(r.status, 200, "{}", r.text);

    // openid-client form-encodes even '-' and '_' before base64: a UUID arrives as %2D...
    let auth = basic(&encode_all(&c.client_id), &encode_all(&c.secret));
    assert!(auth.len() > 20);
    let r = srv.token_form("grant_type=client_credentials", &[("authorization", &auth)]);
    assert_eq!(r.status, 200, "{}", r.text);

    // The form accepts a charset parameter on its media type.
    let r = srv.post(
        "/oauth2/token",
        "application/x-www-form-urlencoded;charset=UTF-8",
        b"grant_type=client_credentials".to_vec(),
        &[("authorization", &basic(&c.client_id, &c.secret))],
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn oauth2_crate_client_gets_tokens_with_both_auth_methods() {
    use oauth2::basic::BasicClient;
    use oauth2::{AuthType, ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
    let env = Env::new();
    let c = env.client("integrated-gateway-standard");
    let srv = env.serve();
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
        let client = BasicClient::new(ClientId::new(c.client_id.clone()))
            .set_client_secret(ClientSecret::new(c.secret.clone()))
            .set_token_uri(TokenUrl::new(srv.url("/oauth2/token")).unwrap())
            .set_auth_type(auth);
        let tok = client
            .exchange_client_credentials()
            .add_scope(Scope::new("transactions:process".into()))
            .add_scope(Scope::new("invoices:read".into()))
            .request(&http)
            .unwrap();
        assert!(!tok.access_token().secret().is_empty());
        let scopes: Vec<String> = tok
            .scopes()
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(scopes, ["transactions:process", "invoices:read"]);
        assert_eq!(tok.expires_in(), Some(Duration::from_secs(3600)));
    }
}

#[test]
fn error_cases_follow_rfc6749_section_5_2() {
    let env = Env::new();
    let c = env.client("merchant");
    let srv = env.serve();
    let auth = basic(&c.client_id, &c.secret);
    let check = |r: crate::harness::Answer, status: u16, error: &str| {
        assert_eq!(r.status, status, "{}", r.text);
        let v = r.json();
        assert_eq!(v["error"], error, "{v}");
        assert!(
            v["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
        assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
        r
    };

    // Both methods at once.
    let form = format!("grant_type=client_credentials&client_secret={}", c.secret);
    check(
        srv.token_form(&form, &[("authorization", &auth)]),
        400,
        "invalid_request",
    );
    // Missing grant_type; another grant type.
    check(
        srv.token_form("scope=Recurring", &[("authorization", &auth)]),
        400,
        "invalid_request",
    );
    check(
        srv.token_form("grant_type=password", &[("authorization", &auth)]),
        400,
        "unsupported_grant_type",
    );
    // Wrong secret: 401 with a Basic challenge when Basic was used, none for the post method.
    let wrong = basic(
        &c.client_id,
        "tsk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    );
    let r = check(
        srv.token_form(
            "grant_type=client_credentials",
            &[("authorization", &wrong)],
        ),
        401,
        "invalid_client",
    );
    assert!(r.header("www-authenticate").unwrap().starts_with("Basic"));
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret=nope",
        c.client_id
    );
    let r = check(srv.token_form(&form, &[]), 401, "invalid_client");
    assert_eq!(r.header("www-authenticate"), None);
    // Unknown client; a client id that is not a UUID; no authentication at all.
    let unknown = basic("6b0c1f4e-3f5e-4a39-9d53-1d2f5b8f0a11", &c.secret);
    check(
        srv.token_form(
            "grant_type=client_credentials",
            &[("authorization", &unknown)],
        ),
        401,
        "invalid_client",
    );
    check(
        srv.token_form(
            "grant_type=client_credentials",
            &[("authorization", &basic("x", "y"))],
        ),
        401,
        "invalid_client",
    );
    check(
        srv.token_form("grant_type=client_credentials", &[]),
        401,
        "invalid_client",
    );
    // The stored digest is not a secret; nor is the client id.
    check(
        srv.token_form(
            "grant_type=client_credentials",
            &[("authorization", &basic(&c.client_id, &c.client_id))],
        ),
        401,
        "invalid_client",
    );
    // Scope beyond the role; malformed scope; a subset is granted and echoed.
    check(
        srv.token_form(
            "grant_type=client_credentials&scope=admin",
            &[("authorization", &auth)],
        ),
        400,
        "invalid_scope",
    );
    check(
        srv.token_form(
            "grant_type=client_credentials&scope=a%22b",
            &[("authorization", &auth)],
        ),
        400,
        "invalid_scope",
    );
    let r = srv.token_form(
        "grant_type=client_credentials&scope=Recurring",
        &[("authorization", &auth)],
    );
    assert_eq!(r.json()["scope"], "Recurring");
    // A resource that is not an absolute URI.
    check(
        srv.token_form(
            "grant_type=client_credentials&resource=%2Fapi",
            &[("authorization", &auth)],
        ),
        400,
        "invalid_target",
    );
}

#[test]
fn expired_deleted_and_disabled_credentials_get_no_token() {
    let env = Env::new();
    let srv = env.serve();
    let ok = |c: &crate::harness::Client| {
        srv.token_basic(c, "grant_type=client_credentials").status == 200
    };
    let refused = |c: &crate::harness::Client| {
        let r = srv.token_basic(c, "grant_type=client_credentials");
        r.status == 401 && r.json()["error"] == "invalid_client"
    };

    // Expired secret.
    let a = env.client("merchant");
    srv.eventually(Duration::from_secs(2), || ok(&a));
    crate::harness::expire_secret(&env.db_path(), &a.secret_id);
    srv.eventually(Duration::from_secs(2), || refused(&a));
    let r = srv.token_basic(&a, "grant_type=client_credentials");
    assert_eq!(
        r.json()["error_description"],
        "the client secret has expired"
    );

    // Deleted secret.
    let b = env.client("merchant");
    srv.eventually(Duration::from_secs(2), || ok(&b));
    env.cli(&["secret", "delete", "--app", &b.client_id, &b.secret_id]);
    srv.eventually(Duration::from_secs(2), || refused(&b));

    // Deleted application.
    let c = env.client("merchant");
    srv.eventually(Duration::from_secs(2), || ok(&c));
    env.cli(&["app", "delete", &c.client_id]);
    srv.eventually(Duration::from_secs(2), || refused(&c));
    let (okk, _, err) = env.try_cli(&["app", "show", &c.client_id]);
    assert!(!okk && err.contains("not found"), "{err}");

    // Disabled, re-enabled, then deleted tenant; disabled application.
    let d = env.client("merchant");
    srv.eventually(Duration::from_secs(2), || ok(&d));
    env.cli(&["tenant", "disable", &d.tenant_id]);
    srv.eventually(Duration::from_secs(2), || refused(&d));
    env.cli(&["tenant", "enable", &d.tenant_id]);
    srv.eventually(Duration::from_secs(2), || ok(&d));
    env.cli(&["app", "disable", &d.client_id]);
    srv.eventually(Duration::from_secs(2), || refused(&d));
    env.cli(&["app", "enable", &d.client_id]);
    srv.eventually(Duration::from_secs(2), || ok(&d));
    env.cli(&["tenant", "delete", &d.tenant_id]);
    srv.eventually(Duration::from_secs(2), || refused(&d));
}

#[test]
fn a_cli_change_reaches_the_running_server_within_one_second() {
    let env = Env::new();
    let srv = env.serve();
    let c = env.client("merchant");
    let took = srv.eventually(Duration::from_secs(1), || {
        srv.token_basic(&c, "grant_type=client_credentials").status == 200
    });
    assert!(took < Duration::from_secs(1), "{took:?}");
    env.cli(&["secret", "delete", "--app", &c.client_id, &c.secret_id]);
    let took = srv.eventually(Duration::from_secs(1), || {
        srv.token_basic(&c, "grant_type=client_credentials").status == 401
    });
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[test]
fn a_third_secret_is_refused_and_names_the_limit() {
    let env = Env::new();
    let c = env.client("merchant");
    env.cli(&[
        "secret",
        "create",
        "--app",
        &c.client_id,
        "--name",
        "second",
    ]);
    let (ok, out, err) =
        env.try_cli(&["secret", "create", "--app", &c.client_id, "--name", "third"]);
    assert!(!ok);
    assert_eq!(out, serde_json::Value::Null);
    assert!(err.contains("2 unexpired secrets"), "{err}");
    // Both remaining secrets still work.
    let list = env.cli(&["secret", "list", "--app", &c.client_id]);
    assert_eq!(list.as_array().unwrap().len(), 2);
}

#[test]
fn resource_becomes_the_audience() {
    let env = Env::new();
    let c = env.client("merchant");
    let srv = env.serve();
    let r = srv.token_basic(
        &c,
        "grant_type=client_credentials&resource=https%3A%2F%2Fapi.example.com%2Fpay",
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let claims = crate::jwt::payload(r.json()["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], "https://api.example.com/pay");
    let r = srv.token_basic(
        &c,
        "grant_type=client_credentials&resource=urn%3Aa&resource=urn%3Ab",
    );
    let claims = crate::jwt::payload(r.json()["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], serde_json::json!(["urn:a", "urn:b"]));
}
