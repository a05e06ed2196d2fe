//! Basys / IQPro, seed 000.

use crate::harness::{Env, s};
use crate::jwt::payload;

const RESOURCE: &str = "8939cd8f-0b21-4654-8f4d-ee01706dc3d6";

#[test]
fn the_documents_token_request_works_at_its_url_shape() {
    let env = Env::with_config(&format!(
        "[dialects.basys]\nresource_uri = \"https://account.basyspro.com/{RESOURCE}\"\n"
    ));
    let c = env.client("integrated-gateway-standard");
    let srv = env.serve();
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&scope=https://account.basyspro.com/{RESOURCE}/.default",
        c.client_id, c.secret
    );
    for path in [
        "/account.basyspro.com/B2C_1A_IQPROV2_INTEGRATOR/oauth2/v2.0/token",
        "/oauth2/v2.0/token",
    ] {
        let r = srv.post(
            path,
            "application/x-www-form-urlencoded",
            form.clone().into_bytes(),
            &[],
        );
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
        let v = r.json();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "access_token",
                "expires_in",
                "expires_on",
                "not_before",
                "resource",
                "token_type"
            ]
        );
        assert_eq!(v["token_type"], "Bearer");
        assert_eq!(v["expires_in"], 10080);
        assert_eq!(v["resource"], RESOURCE);
        let nb = v["not_before"].as_i64().unwrap();
        assert_eq!(v["expires_on"].as_i64().unwrap() - nb, 10080);
        let claims = payload(&s(&v["access_token"]));
        assert_eq!(claims["aud"], RESOURCE);
        assert_eq!(claims["nbf"].as_i64().unwrap(), nb);
        // Payment scopes only: the gateway paths take permissions from the role (#14 §3).
        let scope = claims["scope"].as_str().unwrap();
        assert!(scope.contains("transactions:process"), "{scope}");
        assert!(!scope.contains("secrets:manage"), "{scope}");
    }
}

#[test]
fn errors_are_oauth2_shaped() {
    let env = Env::new();
    let c = env.client("integrated-gateway-standard");
    let srv = env.serve();
    let default_scope = format!("{}/{RESOURCE}/.default", srv.issuer());
    let post = |form: String| {
        srv.post(
            "/t/p/oauth2/v2.0/token",
            "application/x-www-form-urlencoded",
            form.into_bytes(),
            &[],
        )
    };
    let base = format!("grant_type=client_credentials&client_id={}", c.client_id);
    let ok = post(format!(
        "{base}&client_secret={}&scope={default_scope}",
        c.secret
    ));
    assert_eq!(ok.status, 200, "{}", ok.text);
    for (form, status, error) in [
        (
            format!(
                "{base}&client_secret={}&scope=https://other/.default",
                c.secret
            ),
            400,
            "invalid_scope",
        ),
        (
            format!("{base}&client_secret={}", c.secret),
            400,
            "invalid_request",
        ),
        (
            format!("{base}&client_secret=wrong&scope={default_scope}"),
            401,
            "invalid_client",
        ),
        (
            format!(
                "grant_type=authorization_code&client_id={}&client_secret={}&scope={default_scope}",
                c.client_id, c.secret
            ),
            400,
            "unsupported_grant_type",
        ),
    ] {
        let r = post(form.clone());
        assert_eq!(r.status, status, "{form}: {}", r.text);
        assert_eq!(r.json()["error"], error);
    }
}
