//! RFC 7662 introspection, RFC 7009 revocation, revoke-on-delete and the revocation feed.

use crate::harness::{Client, Env, Server, basic, s};
use serde_json::Value;
use std::time::{Duration, Instant};

fn token(srv: &Server, c: &Client) -> String {
    let r = srv.token_basic(c, "grant_type=client_credentials");
    assert_eq!(r.status, 200, "{}", r.text);
    s(&r.json()["access_token"])
}

trait Post {
    fn form_to(&self, path: &str, form: &str, c: &Client) -> crate::harness::Answer;
}

impl Post for Server {
    fn form_to(&self, path: &str, form: &str, c: &Client) -> crate::harness::Answer {
        self.post(
            path,
            "application/x-www-form-urlencoded",
            form.as_bytes().to_vec(),
            &[("authorization", &basic(&c.client_id, &c.secret))],
        )
    }
}

fn active(srv: &Server, caller: &Client, token: &str) -> bool {
    let r = srv.form_to("/oauth2/introspect", &format!("token={token}"), caller);
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["active"].as_bool().unwrap()
}

#[test]
fn introspection_shows_own_and_tenant_tokens_only() {
    let env = Env::new();
    let parent = env.cli(&["tenant", "create", "--name", "ISO", "--kind", "iso"]);
    let pid = s(&parent["id"]);
    let child = env.cli(&["tenant", "create", "--name", "Shop", "--parent", &pid]);
    let cid = s(&child["id"]);
    let a = env.client_of(&pid, "merchant");
    let b = env.client_of(&cid, "merchant");
    let rs = env.client_of(&pid, "resource-server");
    let other_rs = env.client("resource-server");
    let srv = env.serve();
    let (ta, tb) = (token(&srv, &a), token(&srv, &b));

    let v = srv
        .form_to("/oauth2/introspect", &format!("token={ta}"), &a)
        .json();
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], a.client_id.as_str());
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["scope"], "PaymentTokenization Recurring BatchReport");
    assert_eq!(v["iss"], srv.issuer());
    assert_eq!(v["tenant_id"], pid.as_str());
    for k in ["exp", "iat", "nbf", "sub", "aud", "jti"] {
        assert!(!v[k].is_null(), "{k} missing: {v}");
    }
    // client_secret_post works too.
    let r = srv.post(
        "/oauth2/introspect",
        "application/x-www-form-urlencoded",
        format!(
            "token={ta}&client_id={}&client_secret={}",
            a.client_id, a.secret
        )
        .into_bytes(),
        &[],
    );
    assert_eq!(r.json()["active"], true);

    assert!(
        !active(&srv, &a, &tb),
        "another client's token reveals nothing"
    );
    assert_eq!(
        srv.form_to("/oauth2/introspect", &format!("token={tb}"), &a)
            .json(),
        serde_json::json!({"active": false})
    );
    assert!(
        active(&srv, &rs, &ta),
        "a resource server sees its tenant's tokens"
    );
    assert!(active(&srv, &rs, &tb), "and its child tenants'");
    assert!(!active(&srv, &other_rs, &ta), "but not another tenant's");
    // Forged, tampered, garbage.
    let mut tampered = ta.clone();
    tampered.replace_range(ta.len() - 6..ta.len() - 3, "AAA");
    assert!(!active(&srv, &a, &tampered));
    assert!(!active(&srv, &a, "garbage"));
    // Errors in the RFC 6749 shape.
    let r = srv.form_to("/oauth2/introspect", "nothing=here", &a);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_request");
    let r = srv.post(
        "/oauth2/introspect",
        "application/x-www-form-urlencoded",
        format!("token={ta}").into_bytes(),
        &[("authorization", &basic(&a.client_id, "tsk_nope"))],
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_client");

    let m = srv.get("/.well-known/oauth-authorization-server").json();
    assert_eq!(
        m["introspection_endpoint"],
        format!("{}/oauth2/introspect", srv.issuer())
    );
    assert_eq!(
        m["revocation_endpoint"],
        format!("{}/oauth2/revoke", srv.issuer())
    );
}

#[test]
fn revocation_by_token_and_on_delete_or_disable() {
    let env = Env::new();
    let a = env.client("merchant");
    let b = env.client("merchant");
    let srv = env.serve();
    let t1 = token(&srv, &a);
    let t2 = token(&srv, &a);
    let tb = token(&srv, &b);

    // RFC 7009: own token revoked; another client's and garbage answered 200 and untouched.
    assert_eq!(
        srv.form_to("/oauth2/revoke", &format!("token={t1}"), &a)
            .status,
        200
    );
    assert!(!active(&srv, &a, &t1));
    assert!(active(&srv, &a, &t2), "only that token");
    assert_eq!(
        srv.form_to("/oauth2/revoke", &format!("token={tb}"), &a)
            .status,
        200
    );
    assert!(active(&srv, &b, &tb));
    assert_eq!(
        srv.form_to("/oauth2/revoke", "token=garbage", &a).status,
        200
    );
    let r = srv.form_to(
        "/oauth2/revoke",
        &format!("token={t2}&token_type_hint=refresh_token"),
        &a,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "unsupported_token_type");

    // Disabling the application revokes what it minted, and stays so after re-enabling.
    env.cli(&["app", "disable", &a.client_id]);
    srv.eventually(Duration::from_secs(2), || {
        srv.token_basic(&a, "grant_type=client_credentials").status == 401
    });
    env.cli(&["app", "enable", &a.client_id]);
    srv.eventually(Duration::from_secs(2), || {
        srv.token_basic(&a, "grant_type=client_credentials").status == 200
    });
    assert!(!active(&srv, &a, &t2), "minted before the disable");
    // A disable covers tokens minted until two seconds after it (nodes converge within one);
    // iat has one-second granularity, hence three.
    std::thread::sleep(Duration::from_millis(3100));
    let t3 = token(&srv, &a);
    assert!(active(&srv, &a, &t3), "minted after");

    // Deleting the secret revokes its tokens at once.
    let a2 = env.cli(&[
        "secret",
        "create",
        "--app",
        &a.client_id,
        "--name",
        "second",
    ]);
    let a2 = Client {
        secret: s(&a2["secret"]),
        secret_id: s(&a2["id"]),
        tenant_id: a.tenant_id.clone(),
        client_id: a.client_id.clone(),
    };
    srv.eventually(Duration::from_secs(2), || {
        srv.token_basic(&a2, "grant_type=client_credentials").status == 200
    });
    env.cli(&["secret", "delete", "--app", &a.client_id, &a.secret_id]);
    srv.eventually(Duration::from_secs(1), || !active(&srv, &a2, &t3));

    // Deleting the tenant revokes all of it.
    let tb2 = token(&srv, &b);
    env.cli(&["tenant", "delete", &b.tenant_id]);
    srv.eventually(Duration::from_secs(2), || {
        srv.token_basic(&b, "grant_type=client_credentials").status == 401
    });
    let r = srv.form_to("/oauth2/introspect", &format!("token={tb2}"), &a2);
    assert_eq!(r.json()["active"], false);
}

#[test]
fn the_revocation_feed_reports_within_a_second() {
    let env = Env::new();
    let a = env.client("merchant");
    let rs = env.client_of(&a.tenant_id, "resource-server");
    let srv = env.serve();
    let auth = basic(&rs.client_id, &rs.secret);
    let get = |q: &str, auth: Option<&str>| {
        let mut req = srv.http.get(srv.url(&format!("/oauth2/revocations?{q}")));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = req.timeout(Duration::from_secs(40)).send().unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    let (status, body) = get("since=0", Some(&auth));
    assert_eq!(status, 200, "{body}");
    let first: Value = serde_json::from_str(&body).unwrap();
    let cursor = first["cursor"].as_i64().unwrap();
    assert!(first["revocations"].as_array().unwrap().is_empty());

    // A long-poll waiting for the next record, while the secret is deleted.
    let url = srv.url(&format!("/oauth2/revocations?since={cursor}&wait=20"));
    let http = srv.http.clone();
    let auth2 = auth.clone();
    let poll = std::thread::spawn(move || {
        let r = http
            .get(url)
            .header("authorization", auth2)
            .timeout(Duration::from_secs(40))
            .send()
            .unwrap();
        (Instant::now(), r.text().unwrap())
    });
    std::thread::sleep(Duration::from_millis(300));
    let deleted_at = Instant::now();
    env.cli(&["secret", "delete", "--app", &a.client_id, &a.secret_id]);
    let (arrived, body) = poll.join().unwrap();
    let feed: Value = serde_json::from_str(&body).unwrap();
    assert!(
        arrived.duration_since(deleted_at) < Duration::from_secs(1),
        "{:?}",
        arrived.duration_since(deleted_at)
    );
    let recs = feed["revocations"].as_array().unwrap();
    assert_eq!(recs.len(), 1, "{feed}");
    assert_eq!(recs[0]["kind"], "secret");
    assert_eq!(recs[0]["id"], a.secret_id.as_str());
    assert!(feed["cursor"].as_i64().unwrap() > cursor);
    // From the start, a new follower gets every live record.
    let (_, body) = get("since=0", Some(&auth));
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["revocations"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Only clients holding introspect may follow it.
    let m = env.client("merchant");
    srv.eventually(Duration::from_secs(2), || {
        srv.token_basic(&m, "grant_type=client_credentials").status == 200
    });
    assert_eq!(get("since=0", Some(&basic(&m.client_id, &m.secret))).0, 403);
    assert_eq!(get("since=0", None).0, 401);
    assert_eq!(get("since=abc", Some(&auth)).0, 400);
}

#[test]
fn a_long_poll_outlasts_the_request_timeout() {
    let env = Env::new();
    let rs = env.client("resource-server");
    let srv = env.serve();
    let start = Instant::now();
    let r = srv
        .http
        .get(srv.url("/oauth2/revocations?since=999999&wait=11"))
        .header("authorization", basic(&rs.client_id, &rs.secret))
        .timeout(Duration::from_secs(30))
        .send()
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "not cut off by the 10 s request timeout"
    );
    assert!(start.elapsed() >= Duration::from_secs(10));
    let feed: Value = r.json().unwrap();
    assert!(feed["revocations"].as_array().unwrap().is_empty());
}
