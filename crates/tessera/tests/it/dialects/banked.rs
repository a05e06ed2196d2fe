//! Banked, seed 004.

use crate::harness::{Env, basic, s};
use crate::jwt::payload;

#[test]
fn scoped_and_unscoped_tokens_and_business_applications() {
    let env = Env::new();
    let partner = env.cli(&["tenant", "create", "--name", "Partner", "--kind", "partner"]);
    let pid = s(&partner["id"]);
    let shop = env.cli(&["tenant", "create", "--name", "Shop", "--parent", &pid]);
    let shop_id = s(&shop["id"]);
    let stranger = env.cli(&["tenant", "create", "--name", "Other"]);
    let c = env.client_of(&pid, "partner");
    let merchant = env.client("merchant");
    let srv = env.serve();
    let auth = basic(&c.client_id, &c.secret);
    let h = [("authorization", auth.as_str())];

    // Unscoped (the document's request without the scope line).
    let r = srv.token_form("grant_type=client_credentials", &[]);
    assert_eq!(r.status, 401);
    let r = srv.post(
        "/oauth/token",
        "application/x-www-form-urlencoded",
        b"grant_type=client_credentials".to_vec(),
        &h,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "access_token",
            "created_at",
            "expires_in",
            "scope",
            "token_type"
        ]
    );
    assert_eq!(v["expires_in"], 7200);
    assert_eq!(v["scope"], "partner");
    let unscoped = s(&v["access_token"]);
    assert_eq!(payload(&unscoped)["iat"], v["created_at"]);

    // Scoped: the document's curl, --data-urlencode of both fields.
    let form = format!("grant_type=client_credentials&scope={shop_id}");
    let r = srv.post(
        "/oauth/token",
        "application/x-www-form-urlencoded",
        form.into_bytes(),
        &h,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(
        v["scope"],
        shop_id.as_str(),
        "scope echoes the request exactly"
    );
    let scoped = s(&v["access_token"]);
    assert_eq!(
        payload(&scoped)["business_application_id"],
        shop_id.as_str()
    );

    // Not a child of the partner; not a UUID.
    for scope in [s(&stranger["id"]), "everything".into()] {
        let form = format!("grant_type=client_credentials&scope={scope}");
        let r = srv.post(
            "/oauth/token",
            "application/x-www-form-urlencoded",
            form.into_bytes(),
            &h,
        );
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.json()["error"], "invalid_scope");
    }

    // Partner endpoint.
    let list = |t: &str| {
        let bearer = format!("Bearer {t}");
        let r = srv
            .http
            .get(srv.url("/business_applications"))
            .header("authorization", bearer)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    let (status, text) = list(&unscoped);
    assert_eq!(status, 200, "{text}");
    let apps: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        apps,
        serde_json::json!([{"id": shop_id, "name": "Shop", "status": "active"}])
    );
    assert_eq!(list(&scoped).0, 403);
    assert_eq!(list("garbage").0, 401);
    let other = srv.token_basic(&merchant, "grant_type=client_credentials");
    assert_eq!(list(&s(&other.json()["access_token"])).0, 403);
    let r = srv.get("/business_applications");
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));

    // A non-partner role cannot use the Banked endpoint.
    let mauth = basic(&merchant.client_id, &merchant.secret);
    let r = srv.post(
        "/oauth/token",
        "application/x-www-form-urlencoded",
        b"grant_type=client_credentials".to_vec(),
        &[("authorization", &mauth)],
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "unauthorized_client");
}
