//! The management API: every route black-box, tenant isolation (404) and permissions (403) for
//! each, the Basys rotation program step by step, the audit log, the OpenAPI document, bad input.

use crate::harness::{Answer, Client, Env, Server, s};
use serde_json::{Value, json};
use std::time::Duration;

/// Two gateways with an integration app each, a merchant app without management permissions in
/// the first, and an admin.
struct World {
    env: Env,
    srv: Server,
    a: Client,
    b: Client,
    weak: Client,
    admin: Client,
}

fn world() -> World {
    let env = Env::new();
    let a = env.client("integrated-gateway-standard");
    let b = env.client("integrated-gateway-standard");
    let weak = env.client_of(&a.tenant_id, "merchant");
    let admin = env.client("admin");
    let srv = env.serve();
    World {
        env,
        srv,
        a,
        b,
        weak,
        admin,
    }
}

/// A management API token: the standard endpoint with `resource=<management audience>`.
fn token(srv: &Server, c: &Client) -> String {
    crate::replay::management_token(srv, c)
}

fn call(
    srv: &Server,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = srv.http.request(m, srv.url(path));
    if let Some(t) = bearer {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = req.send().unwrap();
    Answer {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        text: r.text().unwrap(),
    }
}

fn problem(r: &Answer, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/problem+json"),
        "{}",
        r.text
    );
    let v = r.json();
    assert_eq!(v["status"], status);
    assert!(
        v["title"].is_string() && v["detail"].is_string() && v["code"].is_string(),
        "{v}"
    );
    v
}

const M: &str = "/management/v1";

/// Every route, for tenant `t`, application `c` and secret `sid`.
fn routes(t: &str, c: &str, sid: &str) -> Vec<(&'static str, String, Option<Value>)> {
    vec![
        ("GET", format!("{M}/tenants/{t}"), None),
        ("DELETE", format!("{M}/tenants/{t}"), None),
        ("POST", format!("{M}/tenants/{t}/disable"), None),
        ("POST", format!("{M}/tenants/{t}/enable"), None),
        ("GET", format!("{M}/tenants/{t}/applications"), None),
        (
            "POST",
            format!("{M}/tenants/{t}/applications"),
            Some(json!({"name": "x", "role": "merchant"})),
        ),
        ("GET", format!("{M}/tenants/{t}/applications/{c}"), None),
        (
            "PATCH",
            format!("{M}/tenants/{t}/applications/{c}"),
            Some(json!({"name": "renamed"})),
        ),
        ("DELETE", format!("{M}/tenants/{t}/applications/{c}"), None),
        (
            "POST",
            format!("{M}/tenants/{t}/applications/{c}/disable"),
            None,
        ),
        (
            "POST",
            format!("{M}/tenants/{t}/applications/{c}/enable"),
            None,
        ),
        (
            "GET",
            format!("{M}/tenants/{t}/applications/{c}/secrets"),
            None,
        ),
        (
            "POST",
            format!("{M}/tenants/{t}/applications/{c}/secrets"),
            Some(json!({"name": "x"})),
        ),
        (
            "DELETE",
            format!("{M}/tenants/{t}/applications/{c}/secrets/{sid}"),
            None,
        ),
        (
            "POST",
            format!("{M}/tenants/{t}/applications/{c}/secrets/{sid}/rotate"),
            Some(json!({})),
        ),
        ("GET", format!("{M}/tenants/{t}/webhook"), None),
        (
            "PUT",
            format!("{M}/tenants/{t}/webhook"),
            Some(json!({"url": "https://hooks.example.com/x"})),
        ),
        ("DELETE", format!("{M}/tenants/{t}/webhook"), None),
        ("GET", format!("/gateway/{t}/appregistration"), None),
        ("GET", format!("/gateway/{t}/appregistration/{c}"), None),
        (
            "POST",
            format!("/gateway/{t}/appregistration/{c}/appsecret"),
            None,
        ),
        (
            "DELETE",
            format!("/gateway/{t}/appregistration/{c}/appsecret/{sid}"),
            None,
        ),
    ]
}

#[test]
fn missing_or_invalid_tokens_get_401_with_a_bearer_challenge() {
    let w = world();
    for bearer in [None, Some("garbage"), Some("a.b.c")] {
        let r = call(&w.srv, "GET", &format!("{M}/tenants"), bearer, None);
        let v = problem(&r, 401);
        assert_eq!(v["code"], "invalid_token");
        assert_eq!(
            r.header("www-authenticate").as_deref(),
            Some("Bearer error=\"invalid_token\"")
        );
    }
    // A token whose secret is deleted is refused at once.
    let t = token(&w.srv, &w.a);
    assert_eq!(
        call(
            &w.srv,
            "GET",
            &format!("/gateway/{}/appregistration", w.a.tenant_id),
            Some(&t),
            None
        )
        .status,
        200
    );
    w.env
        .cli(&["secret", "delete", "--app", &w.a.client_id, &w.a.secret_id]);
    w.srv.eventually(Duration::from_secs(2), || {
        call(
            &w.srv,
            "GET",
            &format!("/gateway/{}/appregistration", w.a.tenant_id),
            Some(&t),
            None,
        )
        .status
            == 401
    });
}

#[test]
fn another_tenants_objects_do_not_exist_and_missing_permissions_are_403() {
    let w = world();
    let ta = token(&w.srv, &w.a);
    let tweak = token(&w.srv, &w.weak);
    // Tenant A's token against every route of tenant B: 404, and nothing changes.
    for (method, path, body) in routes(&w.b.tenant_id, &w.b.client_id, &w.b.secret_id) {
        let r = call(&w.srv, method, &path, Some(&ta), body);
        let v = problem(&r, 404);
        assert_eq!(v["code"], "not_found", "{method} {path}");
    }
    // B's application through A's tenant path: 404 as well.
    let r = call(
        &w.srv,
        "GET",
        &format!(
            "{M}/tenants/{}/applications/{}",
            w.a.tenant_id, w.b.client_id
        ),
        Some(&ta),
        None,
    );
    problem(&r, 404);
    assert_eq!(
        w.srv
            .token_basic(&w.b, "grant_type=client_credentials")
            .status,
        200,
        "B untouched"
    );
    // A token of tenant A without the permissions, on A's own objects: 403 everywhere.
    for (method, path, body) in routes(&w.a.tenant_id, &w.a.client_id, &w.a.secret_id) {
        let r = call(&w.srv, method, &path, Some(&tweak), body);
        let v = problem(&r, 403);
        assert_eq!(v["code"], "insufficient_scope", "{method} {path}");
        assert_eq!(
            r.header("www-authenticate")
                .as_deref()
                .map(|h| h.contains("insufficient_scope")),
            Some(true)
        );
    }
    for (method, path, body) in [
        ("GET", format!("{M}/tenants"), None),
        ("POST", format!("{M}/tenants"), Some(json!({"name": "x"}))),
        ("GET", format!("{M}/secrets/expiring"), None),
        ("GET", format!("{M}/audit"), None),
    ] {
        problem(&call(&w.srv, method, &path, Some(&tweak), body), 403);
    }
    // The integration app (read + secrets) may not do admin things on its own tenant either.
    for (method, path) in [
        ("DELETE", format!("{M}/tenants/{}", w.a.tenant_id)),
        (
            "POST",
            format!(
                "{M}/tenants/{}/applications/{}/disable",
                w.a.tenant_id, w.a.client_id
            ),
        ),
    ] {
        problem(&call(&w.srv, method, &path, Some(&ta), None), 403);
    }
    assert_eq!(
        w.srv
            .token_basic(&w.a, "grant_type=client_credentials")
            .status,
        200,
        "A untouched"
    );
}

#[test]
fn admin_manages_tenants_applications_and_secrets() {
    let w = world();
    let t = token(&w.srv, &w.admin);
    let r = call(
        &w.srv,
        "POST",
        &format!("{M}/tenants"),
        Some(&t),
        Some(json!({"name": "Gateway", "kind": "gateway"})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let tid = s(&r.json()["id"]);
    let r = call(
        &w.srv,
        "POST",
        &format!("{M}/tenants"),
        Some(&t),
        Some(json!({"name": "Shop", "parent_id": tid})),
    );
    assert_eq!(r.json()["parent_id"], tid.as_str());
    assert!(
        call(&w.srv, "GET", &format!("{M}/tenants"), Some(&t), None)
            .json()
            .as_array()
            .unwrap()
            .len()
            >= 5
    );
    let r = call(
        &w.srv,
        "POST",
        &format!("{M}/tenants/{tid}/applications"),
        Some(&t),
        Some(json!({"name": "Integration", "role": "integrated-service-account"})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let cid = s(&r.json()["client_id"]);
    let base = format!("{M}/tenants/{tid}/applications/{cid}");
    assert_eq!(
        call(
            &w.srv,
            "PATCH",
            &base,
            Some(&t),
            Some(json!({"name": "Renamed"}))
        )
        .json()["name"],
        "Renamed"
    );
    let r = call(
        &w.srv,
        "POST",
        &format!("{base}/secrets"),
        Some(&t),
        Some(json!({"name": "primary", "days": 30})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let created = r.json();
    let secret = s(&created["secret"]);
    let sid = s(&created["id"]);
    assert!(secret.starts_with("tsk_") && created["api_key"].is_string());
    // Never shown again.
    let detail = call(&w.srv, "GET", &base, Some(&t), None);
    assert!(!detail.text.contains(&secret));
    assert_eq!(detail.json()["secrets"].as_array().unwrap().len(), 1);
    let listed = call(&w.srv, "GET", &format!("{base}/secrets"), Some(&t), None);
    assert!(!listed.text.contains(&secret) && !listed.text.contains("digest"));
    // The new client authenticates.
    let client = Client {
        tenant_id: tid.clone(),
        client_id: cid.clone(),
        secret_id: sid.clone(),
        secret,
    };
    w.srv.eventually(Duration::from_secs(2), || {
        w.srv
            .token_basic(&client, "grant_type=client_credentials")
            .status
            == 200
    });
    // Disable / enable / delete.
    assert_eq!(
        call(&w.srv, "POST", &format!("{base}/disable"), Some(&t), None).json()["status"],
        "disabled"
    );
    w.srv.eventually(Duration::from_secs(2), || {
        w.srv
            .token_basic(&client, "grant_type=client_credentials")
            .status
            == 401
    });
    assert_eq!(
        call(&w.srv, "POST", &format!("{base}/enable"), Some(&t), None).json()["status"],
        "active"
    );
    assert_eq!(
        call(
            &w.srv,
            "POST",
            &format!("{M}/tenants/{tid}/disable"),
            Some(&t),
            None
        )
        .json()["status"],
        "disabled"
    );
    assert_eq!(
        call(
            &w.srv,
            "POST",
            &format!("{M}/tenants/{tid}/enable"),
            Some(&t),
            None
        )
        .json()["status"],
        "active"
    );
    assert_eq!(
        call(&w.srv, "DELETE", &base, Some(&t), None).json()["status"],
        "deleted"
    );
    problem(&call(&w.srv, "GET", &base, Some(&t), None), 404);
    assert_eq!(
        call(
            &w.srv,
            "DELETE",
            &format!("{M}/tenants/{tid}"),
            Some(&t),
            None
        )
        .json()["status"],
        "deleted"
    );
    let v = problem(
        &call(
            &w.srv,
            "POST",
            &format!("{M}/tenants/{tid}/enable"),
            Some(&t),
            None,
        ),
        409,
    );
    assert_eq!(v["code"], "conflict");
}

#[test]
fn secrets_limit_rotation_and_expiring() {
    let w = world();
    let t = token(&w.srv, &w.a);
    let base = format!(
        "{M}/tenants/{}/applications/{}",
        w.a.tenant_id, w.a.client_id
    );
    let r = call(
        &w.srv,
        "POST",
        &format!("{base}/secrets"),
        Some(&t),
        Some(json!({"name": "second", "days": 5})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let second = r.json();
    let v = problem(
        &call(&w.srv, "POST", &format!("{base}/secrets"), Some(&t), None),
        409,
    );
    assert_eq!(v["code"], "secret_limit");
    assert!(s(&v["detail"]).contains("delete one"), "{v}");
    // Expiring within 14 days: the 5-day secret, for this tenant's token; everything for admin.
    let exp = call(
        &w.srv,
        "GET",
        &format!("{M}/secrets/expiring?within_days=14"),
        Some(&t),
        None,
    )
    .json();
    assert_eq!(exp.as_array().unwrap().len(), 1);
    assert_eq!(exp[0]["id"], second["id"]);
    assert_eq!(exp[0]["tenant_id"], w.a.tenant_id.as_str());
    let cli = w.env.cli(&["secret", "expiring", "--within", "14d"]);
    assert_eq!(cli.as_array().unwrap().len(), 1);
    problem(
        &call(
            &w.srv,
            "GET",
            &format!("{M}/secrets/expiring?within_days=x"),
            Some(&t),
            None,
        ),
        400,
    );
    // Rotation is refused while two are active, then works with one: the old one keeps working
    // for the grace period.
    problem(
        &call(
            &w.srv,
            "POST",
            &format!("{base}/secrets/{}/rotate", w.a.secret_id),
            Some(&t),
            Some(json!({})),
        ),
        409,
    );
    assert_eq!(
        call(
            &w.srv,
            "DELETE",
            &format!("{base}/secrets/{}", s(&second["id"])),
            Some(&t),
            None
        )
        .status,
        204
    );
    let r = call(
        &w.srv,
        "POST",
        &format!("{base}/secrets/{}/rotate", w.a.secret_id),
        Some(&t),
        Some(json!({"grace_seconds": 3600})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let new = Client {
        secret: s(&r.json()["secret"]),
        secret_id: s(&r.json()["id"]),
        ..clone(&w.a)
    };
    w.srv.eventually(Duration::from_secs(2), || {
        w.srv
            .token_basic(&new, "grant_type=client_credentials")
            .status
            == 200
    });
    assert_eq!(
        w.srv
            .token_basic(&w.a, "grant_type=client_credentials")
            .status,
        200,
        "old works during grace"
    );
    let list = call(&w.srv, "GET", &format!("{base}/secrets"), Some(&t), None).json();
    let old = list
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == w.a.secret_id.as_str())
        .unwrap()
        .clone();
    let old_exp = time::OffsetDateTime::parse(
        old["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let created = time::OffsetDateTime::parse(
        list[1]["created_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(
        (old_exp - created - time::Duration::hours(1)).abs() < time::Duration::seconds(5),
        "{old_exp} vs {created}"
    );
    // The CLI rotates the same way, with a zero grace: the old secret stops at once.
    let r = w.env.cli(&[
        "secret",
        "rotate",
        "--app",
        &new.client_id,
        &new.secret_id,
        "--grace",
        "0s",
    ]);
    assert!(s(&r["secret"]).starts_with("tsk_"));
    w.srv.eventually(Duration::from_secs(2), || {
        w.srv
            .token_basic(&new, "grant_type=client_credentials")
            .status
            == 401
    });
}

fn clone(c: &Client) -> Client {
    Client {
        tenant_id: c.tenant_id.clone(),
        client_id: c.client_id.clone(),
        secret_id: c.secret_id.clone(),
        secret: c.secret.clone(),
    }
}

/// The document's rotation program, step by step, over HTTP, with the fields its C# class reads
/// (AppRegistrationId, AppSecretId, ExpirationDate, matched case-insensitively).
#[test]
fn the_basys_rotation_program() {
    let env = Env::new();
    let gw = env.cli(&["tenant", "create", "--name", "Gateway", "--kind", "gateway"]);
    let gid = s(&gw["id"]);
    let app = env.cli(&[
        "app",
        "create",
        "--tenant",
        &gid,
        "--name",
        "Integration",
        "--role",
        "integrated-gateway-standard",
    ]);
    let cid = s(&app["client_id"]);
    // A secret close to expiry, as the program expects to find one day.
    let sec = env.cli(&[
        "secret", "create", "--app", &cid, "--name", "old", "--days", "10",
    ]);
    let mut current = Client {
        tenant_id: gid.clone(),
        client_id: cid.clone(),
        secret_id: s(&sec["id"]),
        secret: s(&sec["secret"]),
    };
    let srv = env.serve();
    let bearer = token(&srv, &current);

    // 1. GetAppRegistrationAsync: GET gateway/{gatewayId}/appregistration into one AppRegistration.
    let r = call(
        &srv,
        "GET",
        &format!("/gateway/{gid}/appregistration"),
        Some(&bearer),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let reg = r.json();
    assert_eq!(reg["appRegistrationId"], cid.as_str());
    assert_eq!(reg["appSecretId"], current.secret_id.as_str());
    let expiration = time::OffsetDateTime::parse(
        reg["expirationDate"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(
        reg["appRegistrations"][0]["secrets"][0]["endDateTime"],
        reg["expirationDate"]
    );
    let detail = call(
        &srv,
        "GET",
        &format!("/gateway/{gid}/appregistration/{cid}"),
        Some(&bearer),
        None,
    )
    .json();
    for k in ["appSecretId", "name", "endDateTime", "expirationDate"] {
        assert!(detail["secrets"][0][k].is_string(), "{k} in {detail}");
    }
    // 2. Within 14 days of expiry: create a new secret (empty POST body, as the program sends).
    let now = time::OffsetDateTime::parse(
        &s(&env.cli(&["tenant", "show", &gid])["created_at"]),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!((expiration - now).whole_days() < 14);
    let r = srv.post(
        &format!("/gateway/{gid}/appregistration/{cid}/appsecret"),
        "application/json",
        vec![],
        &[("authorization", &format!("Bearer {bearer}"))],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let new = r.json();
    assert_eq!(new["appRegistrationId"], cid.as_str());
    assert!(new["appSecretId"].is_string() && new["expirationDate"].is_string());
    // The limit: a third secret is refused with 409 and told to delete one first.
    let r = srv.post(
        &format!("/gateway/{gid}/appregistration/{cid}/appsecret"),
        "application/json",
        vec![],
        &[("authorization", &format!("Bearer {bearer}"))],
    );
    let v = problem(&r, 409);
    assert!(
        s(&v["detail"]).contains("delete one before creating another"),
        "{v}"
    );
    // 3. Delete the old secret.
    let r = call(
        &srv,
        "DELETE",
        &format!(
            "/gateway/{gid}/appregistration/{cid}/appsecret/{}",
            current.secret_id
        ),
        Some(&bearer),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.text);
    let old = clone(&current);
    current.secret_id = s(&new["appSecretId"]);
    current.secret = s(&new["secret"]);
    // 4. The new one gets a token; the old one no longer does.
    srv.eventually(Duration::from_secs(2), || {
        srv.token_basic(&current, "grant_type=client_credentials")
            .status
            == 200
    });
    srv.eventually(Duration::from_secs(2), || {
        srv.token_basic(&old, "grant_type=client_credentials")
            .status
            == 401
    });
    // And the old bearer token, minted by the deleted secret, no longer manages anything.
    problem(
        &call(
            &srv,
            "GET",
            &format!("/gateway/{gid}/appregistration"),
            Some(&bearer),
            None,
        ),
        401,
    );
}

#[test]
fn the_audit_log_records_changes_and_failures_without_secrets() {
    let w = world();
    let ta = token(&w.srv, &w.a);
    let base = format!(
        "{M}/tenants/{}/applications/{}",
        w.a.tenant_id, w.a.client_id
    );
    let created = call(
        &w.srv,
        "POST",
        &format!("{base}/secrets"),
        Some(&ta),
        Some(json!({"name": "n"})),
    )
    .json();
    let secret = s(&created["secret"]);
    w.srv.token_basic(&w.b, "grant_type=client_credentials&x=1");
    let bad = crate::harness::basic(&w.b.client_id, "tsk_nope");
    w.srv
        .token_form("grant_type=client_credentials", &[("authorization", &bad)]);
    call(
        &w.srv,
        "GET",
        &format!("{M}/tenants"),
        Some("garbage"),
        None,
    );
    let t = token(&w.srv, &w.admin);
    let mut log = Value::Null;
    w.srv.eventually(Duration::from_secs(3), || {
        log = call(&w.srv, "GET", &format!("{M}/audit"), Some(&t), None).json();
        let text = log.to_string();
        let by_api = log.as_array().is_some_and(|v| {
            v.iter()
                .any(|e| e["action"] == "secret.create" && e["actor"] == w.a.client_id.as_str())
        });
        by_api && text.contains("token.authenticate") && text.contains("management.authenticate")
    });
    let text = log.to_string();
    assert!(
        !text.contains(&secret) && !text.contains(&ta) && !text.contains("tsk_"),
        "{text}"
    );
    let create = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "secret.create" && e["actor"] != "cli")
        .unwrap();
    assert_eq!(create["actor"], w.a.client_id.as_str());
    assert_eq!(create["tenant_id"], w.a.tenant_id.as_str());
    assert_eq!(create["outcome"], "success");
    assert_eq!(create["source"], "127.0.0.1");
    let fail = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "token.authenticate")
        .unwrap();
    assert_eq!(fail["outcome"], "failure");
    assert_eq!(fail["target"], "bad_secret");
    assert_eq!(fail["tenant_id"], w.b.tenant_id.as_str());
    // Filtered by tenant, through the API and the CLI (which records its own changes as "cli").
    let only_a = call(
        &w.srv,
        "GET",
        &format!("{M}/audit?tenant_id={}", w.a.tenant_id),
        Some(&t),
        None,
    )
    .json();
    assert!(
        only_a
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["tenant_id"] == w.a.tenant_id.as_str())
    );
    let cli = w
        .env
        .cli(&["audit", "--tenant", &w.a.tenant_id, "--since", "1h"]);
    assert!(
        cli.as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "application.create" && e["actor"] == "cli")
    );
    problem(
        &call(
            &w.srv,
            "GET",
            &format!("{M}/audit?since=yesterday"),
            Some(&t),
            None,
        ),
        400,
    );
}

#[test]
fn sigterm_loses_no_audit_events() {
    let w = world();
    let bad = crate::harness::basic(&w.a.client_id, "tsk_nope");
    // Below the brute-force threshold (30 a minute): a throttled attempt is refused before
    // authentication and is not an authentication failure to audit.
    for _ in 0..25 {
        w.srv
            .token_form("grant_type=client_credentials", &[("authorization", &bad)]);
    }
    let World { env, srv, a, .. } = w;
    assert!(srv.stop().success());
    let log = env.cli(&["audit", "--tenant", &a.tenant_id]);
    let failures = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "token.authenticate")
        .count();
    assert_eq!(failures, 25);
}

/// The core audits each change itself, whoever asks for it: a refused one as a failure, each
/// under its actor, and a revocation under the client that revoked its own token.
#[test]
fn every_front_end_gets_its_changes_audited_by_the_core() {
    let w = world();
    let missing = "6b0c1f4e-3f5e-4a39-9d53-1d2f5b8f0a11";
    let (ok, _, _) = w.env.try_cli(&[
        "app", "create", "--tenant", missing, "--name", "x", "--role", "merchant",
    ]);
    assert!(!ok);
    let t = token(&w.srv, &w.admin);
    let app = format!(
        "{M}/tenants/{}/applications/{}",
        w.a.tenant_id, w.a.client_id
    );
    problem(
        &call(&w.srv, "PATCH", &app, Some(&t), Some(json!({"name": ""}))),
        400,
    );
    let own = token(&w.srv, &w.b);
    let r = w.srv.post(
        "/oauth2/revoke",
        "application/x-www-form-urlencoded",
        format!("token={own}").into_bytes(),
        &[(
            "authorization",
            &crate::harness::basic(&w.b.client_id, &w.b.secret),
        )],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let mut log = Value::Null;
    w.srv.eventually(Duration::from_secs(3), || {
        log = call(&w.srv, "GET", &format!("{M}/audit"), Some(&t), None).json();
        log.as_array()
            .is_some_and(|v| v.iter().any(|e| e["action"] == "token.revoke"))
    });
    let find = |action: &str, outcome: &str| {
        log.as_array()
            .and_then(|v| {
                v.iter()
                    .find(|e| e["action"] == action && e["outcome"] == outcome)
            })
            .cloned()
            .unwrap_or_else(|| panic!("no {outcome} {action} in {log}"))
    };
    let cli = find("application.create", "failure");
    assert_eq!(cli["actor"], "cli");
    assert_eq!(cli["tenant_id"], missing);
    assert_eq!(cli["target"], Value::Null);
    let api = find("application.rename", "failure");
    assert_eq!(api["actor"], w.admin.client_id.as_str());
    assert_eq!(api["tenant_id"], w.a.tenant_id.as_str());
    assert_eq!(api["target"], w.a.client_id.as_str());
    assert_eq!(api["source"], "127.0.0.1");
    let revoke = find("token.revoke", "success");
    assert_eq!(revoke["actor"], w.b.client_id.as_str());
    assert_eq!(revoke["tenant_id"], w.b.tenant_id.as_str());
    assert!(revoke["target"].is_string(), "{revoke}");
}

#[test]
fn openapi_documents_every_management_route() {
    let w = world();
    let r = w.srv.get("/openapi.json");
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert!(s(&doc["openapi"]).starts_with("3.1"), "{}", doc["openapi"]);
    let paths = doc["paths"].as_object().unwrap();
    let mut all = routes("{tenant_id}", "{client_id}", "{secret_id}");
    all.extend([
        ("GET", format!("{M}/tenants"), None),
        ("POST", format!("{M}/tenants"), None),
        ("GET", format!("{M}/secrets/expiring"), None),
        ("GET", format!("{M}/audit"), None),
    ]);
    for (method, path, _) in all {
        let path = path
            .replace("/gateway/{tenant_id}", "/gateway/{gatewayId}")
            .replace(
                "appregistration/{client_id}",
                "appregistration/{appRegistrationId}",
            )
            .replace("appsecret/{secret_id}", "appsecret/{appSecretId}");
        let op = paths.get(&path).and_then(|p| p.get(method.to_lowercase()));
        assert!(
            op.is_some(),
            "{method} {path} is not in the OpenAPI document"
        );
    }
    // And nothing in the document is missing from the server: every path answers something
    // other than 404/405 for its documented methods (401 without a token).
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path
                .replace("{tenant_id}", &w.a.tenant_id)
                .replace("{gatewayId}", &w.a.tenant_id)
                .replace("{client_id}", &w.a.client_id)
                .replace("{appRegistrationId}", &w.a.client_id)
                .replace("{secret_id}", &w.a.secret_id)
                .replace("{appSecretId}", &w.a.secret_id);
            let r = call(&w.srv, &method.to_uppercase(), &concrete, None, None);
            assert_eq!(r.status, 401, "{method} {path}: {}", r.text);
        }
    }
}

#[test]
fn bad_input_is_a_4xx_problem_and_changes_nothing() {
    let w = world();
    let t = token(&w.srv, &w.admin);
    let tenants_before = w.env.cli(&["tenant", "list"]);
    let apps = format!("{M}/tenants/{}/applications", w.a.tenant_id);
    for (method, path, body, status) in [
        (
            "POST",
            format!("{M}/tenants"),
            json!({"name": "x", "unknown": 1}),
            400,
        ),
        ("POST", format!("{M}/tenants"), json!({"name": 5}), 400),
        ("POST", format!("{M}/tenants"), json!({"name": ""}), 400),
        (
            "POST",
            format!("{M}/tenants"),
            json!({"name": "x", "parent_id": "nope"}),
            400,
        ),
        (
            "POST",
            apps.clone(),
            json!({"name": "x", "role": "no-such-role"}),
            400,
        ),
        ("POST", apps.clone(), json!({"name": "x"}), 400),
        (
            "POST",
            format!("{M}/tenants/not-a-uuid/applications"),
            json!({"name": "x", "role": "merchant"}),
            400,
        ),
        (
            "PATCH",
            format!("{apps}/{}", w.a.client_id),
            json!({"name": "x", "role": "admin"}),
            400,
        ),
        (
            "POST",
            format!("{apps}/{}/secrets", w.a.client_id),
            json!({"days": 9999}),
            400,
        ),
        (
            "POST",
            format!("{apps}/{}/secrets", w.a.client_id),
            json!({"days": "ten"}),
            400,
        ),
    ] {
        let r = call(&w.srv, method, &path, Some(&t), Some(body.clone()));
        problem(&r, status);
        let _ = body;
    }
    // Not JSON, wrong media type, huge body, a body on GET, a malformed id in the path.
    let auth = format!("Bearer {t}");
    let h = [("authorization", auth.as_str())];
    problem(
        &w.srv.post(
            &format!("{M}/tenants"),
            "application/json",
            b"{nope".to_vec(),
            &h,
        ),
        400,
    );
    problem(
        &w.srv.post(
            &format!("{M}/tenants"),
            "text/plain",
            b"name=x".to_vec(),
            &h,
        ),
        415,
    );
    problem(
        &w.srv.post(
            &format!("{M}/tenants"),
            "application/json",
            format!(r#"{{"name":"{}"}}"#, "x".repeat(20_000)).into_bytes(),
            &h,
        ),
        413,
    );
    let r = w
        .srv
        .http
        .get(w.srv.url(&format!("{M}/tenants")))
        .header("authorization", &auth)
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    problem(
        &call(&w.srv, "GET", &format!("{M}/tenants/12345"), Some(&t), None),
        400,
    );
    problem(
        &call(
            &w.srv,
            "GET",
            &format!("/gateway/{}/appregistration/zzz", w.a.tenant_id),
            Some(&t),
            None,
        ),
        400,
    );
    assert_eq!(
        w.env.cli(&["tenant", "list"]),
        tenants_before,
        "nothing stored changed"
    );
    assert_eq!(
        w.env
            .cli(&["secret", "list", "--app", &w.a.client_id])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn tokens_for_other_audiences_and_escalation_through_secrets_manage_are_refused() {
    let w = world();
    // A token the client obtained for a payment API (RFC 8707) is no good here.
    let r = w.srv.token_basic(
        &w.a,
        "grant_type=client_credentials&resource=https%3A%2F%2Fpayments.example.com",
    );
    let foreign = s(&r.json()["access_token"]);
    let path = format!("/gateway/{}/appregistration", w.a.tenant_id);
    let v = problem(&call(&w.srv, "GET", &path, Some(&foreign), None), 401);
    assert_eq!(v["code"], "invalid_token");
    // secrets:manage does not reach an application more powerful than the caller.
    let boss = w.env.client_of(&w.a.tenant_id, "admin");
    let t = token(&w.srv, &w.a);
    let base = format!(
        "{M}/tenants/{}/applications/{}/secrets",
        w.a.tenant_id, boss.client_id
    );
    problem(
        &call(
            &w.srv,
            "POST",
            &base,
            Some(&t),
            Some(json!({"name": "mine now"})),
        ),
        403,
    );
    problem(
        &call(
            &w.srv,
            "POST",
            &format!("{base}/{}/rotate", boss.secret_id),
            Some(&t),
            Some(json!({})),
        ),
        403,
    );
    let gw = format!(
        "/gateway/{}/appregistration/{}/appsecret",
        w.a.tenant_id, boss.client_id
    );
    problem(&call(&w.srv, "POST", &gw, Some(&t), None), 403);
    assert_eq!(
        w.env
            .cli(&["secret", "list", "--app", &boss.client_id])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // An equal one is fine.
    let peer = w
        .env
        .client_of(&w.a.tenant_id, "integrated-gateway-standard");
    let r = call(
        &w.srv,
        "POST",
        &format!(
            "{M}/tenants/{}/applications/{}/secrets",
            w.a.tenant_id, peer.client_id
        ),
        Some(&t),
        Some(json!({"name": "ok"})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
}

/// Validates the document with openapi-spec-validator (a validator tessera did not write); skips
/// without it unless TESSERA_REQUIRE_PYTHON is set.
fn validate_with_python(doc: &Value) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    if !crate::harness::python_has("openapi_spec_validator") {
        return;
    }
    let mut py = Command::new("python3")
        .args([
            "-c",
            "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(sys.stdin))",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    py.stdin
        .take()
        .unwrap()
        .write_all(doc.to_string().as_bytes())
        .unwrap();
    let out = py.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sends `body` raw with a content type.
fn call_raw(
    srv: &Server,
    method: &str,
    path: &str,
    bearer: &str,
    ctype: &str,
    body: &str,
) -> Answer {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let r = srv
        .http
        .request(m, srv.url(path))
        .header("authorization", format!("Bearer {bearer}"))
        .header("content-type", ctype)
        .body(body.to_owned())
        .send()
        .unwrap();
    Answer {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        text: r.text().unwrap(),
    }
}

/// The document is valid OpenAPI; operation ids are unique; query parameters are declared in
/// the query; the server's constraints are in the schemas; and whatever each operation answers
/// (no token, a token without the scope, a malformed id, an unknown id, a body of the wrong type,
/// broken JSON) is a documented status with the documented content type.
#[test]
fn the_openapi_document_is_valid_and_documents_every_answer() {
    let w = world();
    let doc = w.srv.get("/openapi.json").json();
    validate_with_python(&doc);
    let paths = doc["paths"].as_object().unwrap();
    let methods = ["get", "post", "put", "patch", "delete"];
    let mut ids = std::collections::HashSet::new();
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            if !methods.contains(&method.as_str()) {
                continue;
            }
            let id = s(&op["operationId"]);
            assert!(ids.insert(id.clone()), "operationId {id} is used twice");
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = s(&p["name"]);
                let want = if path.contains(&format!("{{{name}}}")) {
                    "path"
                } else {
                    "query"
                };
                assert_eq!(s(&p["in"]), want, "{method} {path}: parameter {name}");
            }
        }
    }
    let schemas = &doc["components"]["schemas"];
    let days = &schemas["NewSecretDto"]["properties"]["days"];
    assert_eq!(
        (days["minimum"].as_u64(), days["maximum"].as_u64()),
        (Some(1), Some(730))
    );
    let name = &schemas["NewApplicationDto"]["properties"]["name"];
    assert_eq!(
        (name["minLength"].as_u64(), name["maxLength"].as_u64()),
        (Some(1), Some(200))
    );
    let grace = &schemas["RotateDto"]["properties"]["grace_seconds"];
    assert_eq!(grace["maximum"].as_u64(), Some(2_592_000));

    let admin = token(&w.srv, &w.admin);
    let weak = token(&w.srv, &w.weak);
    let unknown = uuid::Uuid::new_v4().to_string();
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            if !methods.contains(&method.as_str()) {
                continue;
            }
            let method = method.to_uppercase();
            let with = |t: &str, c: &str, sid: &str| {
                path.replace("{tenant_id}", t)
                    .replace("{gatewayId}", t)
                    .replace("{client_id}", c)
                    .replace("{appRegistrationId}", c)
                    .replace("{secret_id}", sid)
                    .replace("{appSecretId}", sid)
            };
            let check = |r: &Answer, what: &str| {
                let documented = &op["responses"][r.status.to_string()];
                assert!(
                    documented.is_object(),
                    "{method} {path} ({what}) answered {}, not documented: {}",
                    r.status,
                    r.text
                );
                if r.status >= 400 {
                    let ctype = r.header("content-type").unwrap_or_default();
                    assert!(
                        documented["content"][ctype.as_str()].is_object(),
                        "{method} {path} ({what}): {ctype} is not a documented content type of {}",
                        r.status
                    );
                }
            };
            let real = with(&w.a.tenant_id, &w.a.client_id, &w.a.secret_id);
            check(&call(&w.srv, &method, &real, None, None), "no token");
            check(&call(&w.srv, &method, &real, Some(&weak), None), "no scope");
            if path.contains('{') {
                let bad = with("not-a-uuid", "not-a-uuid", "not-a-uuid");
                check(
                    &call(&w.srv, &method, &bad, Some(&admin), None),
                    "malformed id",
                );
                let none = with(&unknown, &unknown, &unknown);
                check(
                    &call(&w.srv, &method, &none, Some(&admin), None),
                    "unknown id",
                );
            }
            if op.get("requestBody").is_some() {
                let target = with(&w.b.tenant_id, &w.b.client_id, &w.b.secret_id);
                let r = call_raw(&w.srv, &method, &target, &admin, "text/plain", "x");
                check(&r, "text body");
                let r = call_raw(&w.srv, &method, &target, &admin, "application/json", "{");
                check(&r, "broken JSON");
            }
        }
    }
}

/// A client generated from the served document by openapi-python-client (a generator tessera
/// did not write) creates a tenant, an application and a secret, and the secret gets a token.
/// progenitor, the Rust generator, reads OpenAPI 3.0 only, and the document is 3.1.
#[test]
fn a_client_generated_from_the_document_creates_an_application_and_a_secret() {
    use std::process::Command;
    if !crate::harness::python_has("openapi_python_client") {
        return;
    }
    // As a module of the python3 on PATH: its console script may not be on PATH.
    let generator = || {
        let mut c = Command::new("python3");
        c.args(["-m", "openapi_python_client"]);
        c
    };
    let w = world();
    let dir = w.env.dir.path();
    let spec = dir.join("openapi.json");
    std::fs::write(&spec, w.srv.get("/openapi.json").text).unwrap();
    let out = generator()
        .args(["generate", "--meta", "none", "--overwrite", "--path"])
        .arg(&spec)
        .arg("--output-path")
        .arg(dir.join("tessera_client"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "generation failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let script = r#"
import json, sys
sys.path.insert(0, sys.argv[1])
from tessera_client import AuthenticatedClient
from tessera_client.api.tenants import create_tenant
from tessera_client.api.applications import create_app
from tessera_client.api.secrets import create_secret
from tessera_client.models import NewTenantDto, NewApplicationDto, NewSecretDto, ProblemBody
c = AuthenticatedClient(base_url=sys.argv[2], token=sys.argv[3], raise_on_unexpected_status=True)
t = create_tenant.sync(client=c, body=NewTenantDto(name="Generated client"))
a = create_app.sync(tenant_id=t.id, client=c, body=NewApplicationDto(name="gen", role="merchant"))
s = create_secret.sync(tenant_id=t.id, client_id=a.client_id, client=c,
                       body=NewSecretDto(name="first", days=30))
bad = create_secret.sync(tenant_id=t.id, client_id=a.client_id, client=c,
                         body=NewSecretDto(name="x", days=9999))
assert isinstance(bad, ProblemBody), bad
print(json.dumps({"tenant_id": t.id, "client_id": a.client_id, "secret_id": s.id,
                  "secret": s.secret, "refused": bad.status}))
"#;
    let admin = token(&w.srv, &w.admin);
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(dir)
        .arg(&w.srv.base)
        .arg(&admin)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the generated client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(made["refused"], 400, "{made}");
    let c = Client {
        tenant_id: s(&made["tenant_id"]),
        client_id: s(&made["client_id"]),
        secret_id: s(&made["secret_id"]),
        secret: s(&made["secret"]),
    };
    assert_eq!(
        w.srv
            .token_basic(&c, "grant_type=client_credentials")
            .status,
        200
    );
}
