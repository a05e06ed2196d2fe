//! Basiq, seed 001.

use crate::harness::{Env, s};
use crate::jwt::payload;

fn api_key(env: &Env, role: &str) -> (crate::harness::Client, String) {
    let c = env.client(role);
    let key = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.client_id, c.secret))
    };
    (c, key)
}

#[test]
fn the_documents_requests_work_form_and_json() {
    let env = Env::new();
    let (c, key) = api_key(&env, "api-partner");
    // The CLI prints exactly this API key.
    let sec = env.cli(&[
        "secret",
        "create",
        "--app",
        &c.client_id,
        "--name",
        "second",
    ]);
    assert!(sec["api_key"].is_string());
    let srv = env.serve();
    let auth = format!("Basic {key}");
    let form = "application/x-www-form-urlencoded";
    for (ctype, body, scope) in [
        (form, "scope=SERVER_ACCESS", "SERVER_ACCESS"),
        (form, "scope=CLIENT_ACCESS", "CLIENT_ACCESS"),
        ("application/json", "{}", "SERVER_ACCESS"),
        (
            "application/json",
            r#"{"scope":"CLIENT_ACCESS","userId":"ea3a81"}"#,
            "CLIENT_ACCESS",
        ),
        (form, "", "SERVER_ACCESS"),
    ] {
        let r = srv.post(
            "/token",
            ctype,
            body.as_bytes().to_vec(),
            &[("authorization", &auth), ("basiq-version", "2.0")],
        );
        assert_eq!(r.status, 200, "{body}: {}", r.text);
        let v = r.json();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["access_token", "expires_in", "token_type"]);
        assert_eq!(v["token_type"], "Bearer");
        assert_eq!(v["expires_in"], 3600);
        let claims = payload(&s(&v["access_token"]));
        assert_eq!(claims["scope"], scope);
        if body.contains("userId") {
            assert_eq!(claims["userId"], "ea3a81");
        } else {
            assert!(claims.get("userId").is_none());
        }
    }
}

fn error(r: &crate::harness::Answer) -> serde_json::Value {
    let v = r.json();
    assert_eq!(v["type"], "list", "{v}");
    assert!(v["correlationId"].as_str().is_some_and(|c| !c.is_empty()));
    assert_eq!(v["data"][0]["type"], "error");
    assert!(v["data"][0]["title"].is_string());
    v["data"][0].clone()
}

#[test]
fn every_documented_error_code_and_status() {
    let env = Env::new();
    let (c, key) = api_key(&env, "api-partner");
    let (m, merchant_key) = api_key(&env, "merchant");
    let _ = m;
    let srv = env.serve();
    let auth = format!("Basic {key}");
    let form = "application/x-www-form-urlencoded";
    let call = |headers: &[(&str, &str)], body: &str| {
        srv.post("/token", form, body.as_bytes().to_vec(), headers)
    };

    let r = call(&[("authorization", &auth)], "scope=SERVER_ACCESS");
    assert_eq!(r.status, 400);
    let e = error(&r);
    assert_eq!(e["code"], "parameter-not-valid");
    assert_eq!(
        e["detail"],
        "Basiq-version must be specified in HTTP request header"
    );
    assert_eq!(e["source"]["header"], "basiq-version");

    let r = call(
        &[("authorization", &auth), ("basiq-version", "1.0")],
        "scope=SERVER_ACCESS",
    );
    assert_eq!(r.status, 400);
    assert_eq!(error(&r)["detail"], "Version 1.0 is no longer supported");

    let r = call(&[("basiq-version", "3.0")], "scope=SERVER_ACCESS");
    assert_eq!(r.status, 400);
    let e = error(&r);
    assert_eq!(e["code"], "parameter-not-valid");
    assert_eq!(e["detail"], "Authorization header parameter is required");

    let r = call(
        &[("authorization", "Basic %%%"), ("basiq-version", "3.0")],
        "scope=SERVER_ACCESS",
    );
    assert_eq!(r.status, 400);
    assert_eq!(error(&r)["detail"], "Invalid authorization header");

    let v = [("authorization", auth.as_str()), ("basiq-version", "2.1")];
    let r = call(&v, "scope=EVERYTHING");
    assert_eq!(r.status, 400);
    let e = error(&r);
    assert_eq!(e["code"], "invalid-request");
    assert_eq!(e["source"]["parameter"], "scope");

    let r = call(&v, "grant_type=password&scope=SERVER_ACCESS");
    assert_eq!(r.status, 400);
    assert_eq!(error(&r)["code"], "unsupported-grant-type");

    let bad = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("{}:tsk_wrong", c.client_id))
    };
    let r = call(
        &[
            ("authorization", &format!("Basic {bad}")),
            ("basiq-version", "2.0"),
        ],
        "scope=SERVER_ACCESS",
    );
    assert_eq!(r.status, 400);
    assert_eq!(error(&r)["code"], "invalid-grant");

    // A role without the scope.
    let r = call(
        &[
            ("authorization", &format!("Basic {merchant_key}")),
            ("basiq-version", "2.0"),
        ],
        "scope=SERVER_ACCESS",
    );
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(error(&r)["code"], "access-denied");

    // Disabled: 403; deleted: 404.
    env.cli(&["tenant", "disable", &c.tenant_id]);
    srv.eventually(std::time::Duration::from_secs(2), || {
        call(&v, "scope=SERVER_ACCESS").status == 403
    });
    let e = error(&call(&v, "scope=SERVER_ACCESS"));
    assert_eq!(e["code"], "access-denied");
    assert_eq!(e["detail"], "Your account has been disabled");
    env.cli(&["tenant", "delete", &c.tenant_id]);
    srv.eventually(std::time::Duration::from_secs(2), || {
        call(&v, "scope=SERVER_ACCESS").status == 404
    });
    let e = error(&call(&v, "scope=SERVER_ACCESS"));
    assert_eq!(e["code"], "parameter-not-valid");
    assert_eq!(
        e["detail"],
        "Unable to authenticate. Please, check your API key"
    );

    // Malformed bodies keep the Basiq shape.
    let r = srv.post("/token", "application/json", b"{not json".to_vec(), &v);
    assert_eq!(r.status, 400);
    assert_eq!(error(&r)["code"], "invalid-request");
    let r = srv.post("/token", "text/plain", b"hello".to_vec(), &v);
    assert_eq!(r.status, 415);
    error(&r);
    let r = srv.post(
        "/token",
        "application/json",
        br#"{"scope":"SERVER_ACCESS","userId":"u"}"#.to_vec(),
        &v,
    );
    assert_eq!(r.status, 400);
    assert_eq!(error(&r)["source"]["parameter"], "userId");
}

/// A deleted application's key, right or wrong, answers exactly as a made-up client id does:
/// without a secret that matched, nobody learns which client ids existed.
#[test]
fn a_deleted_client_answers_like_an_unknown_one() {
    let env = Env::new();
    let (c, key) = api_key(&env, "api-partner");
    let srv = env.serve();
    let call = |key: &str| {
        srv.post(
            "/token",
            "application/x-www-form-urlencoded",
            b"scope=SERVER_ACCESS".to_vec(),
            &[
                ("authorization", &format!("Basic {key}")),
                ("basiq-version", "3.0"),
            ],
        )
    };
    let encode = |id: &str, secret: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    };
    assert_eq!(call(&key).status, 200);
    env.cli(&["app", "delete", &c.client_id]);
    srv.eventually(std::time::Duration::from_secs(2), || {
        call(&key).status != 200
    });

    // Everything but the random correlation id.
    let shape = |r: &crate::harness::Answer| {
        let mut v = r.json();
        assert!(v["correlationId"].is_string());
        v["correlationId"] = serde_json::Value::Null;
        (r.status, v)
    };
    let unknown = shape(&call(&encode(
        "6f1d2c3b-4a59-4e68-8d7c-0b1a2f3e4d5c",
        "tsk_wrong",
    )));
    assert_eq!(unknown.0, 400);
    assert_eq!(unknown.1["data"][0]["code"], "invalid-grant");
    assert_eq!(shape(&call(&encode(&c.client_id, "tsk_wrong"))), unknown);
    assert_eq!(shape(&call(&key)), unknown);
}
