//! PaySecureZ, seed 002.

use crate::harness::{Env, s};

#[test]
fn the_documents_curl_works() {
    let env = Env::new();
    let c = env.client("merchant");
    let srv = env.serve();
    let body = format!(
        r#"{{"client_id": "{}", "client_secret": "{}"}}"#,
        c.client_id, c.secret
    );
    let r = srv.post("/api/token", "application/json", body.into_bytes(), &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["access_token", "expires_in", "token_type"]);
    assert_eq!(v["expires_in"], 1800);
    assert_eq!(v["token_type"], "Bearer");
    // The field order is the document's.
    assert!(r.text.find("access_token") < r.text.find("expires_in"));
    assert!(r.text.find("expires_in") < r.text.find("token_type"));
    let claims = crate::jwt::payload(&s(&v["access_token"]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        1800
    );
}

#[test]
fn errors_have_the_documents_shape() {
    let env = Env::new();
    let c = env.client("merchant");
    let srv = env.serve();
    let json = "application/json";
    for (ctype, body, status) in [
        (json, "{not json".to_string(), 400),
        (json, "[]".to_string(), 400),
        (json, format!(r#"{{"client_id":"{}"}}"#, c.client_id), 400),
        (json, r#"{"client_secret":"x"}"#.to_string(), 400),
        (
            json,
            format!(r#"{{"client_id":"{}","client_secret":5}}"#, c.client_id),
            400,
        ),
        (
            json,
            format!(
                r#"{{"client_id":"{}","client_secret":"wrong"}}"#,
                c.client_id
            ),
            401,
        ),
        (
            json,
            r#"{"client_id":"not-a-uuid","client_secret":"x"}"#.to_string(),
            401,
        ),
        (
            "application/x-www-form-urlencoded",
            "client_id=a&client_secret=b".to_string(),
            415,
        ),
    ] {
        let r = srv.post("/api/token", ctype, body.clone().into_bytes(), &[]);
        assert_eq!(r.status, status, "{body}: {}", r.text);
        let v = r.json();
        assert_eq!(v["statusCode"], status, "{v}");
        assert!(v["message"].is_string() && v["error"].is_string(), "{v}");
        if status == 401 {
            assert_eq!(v["message"], "Unauthorized");
        }
    }
}
