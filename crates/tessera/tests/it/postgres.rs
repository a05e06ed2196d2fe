//! PostgreSQL: several stateless nodes on one database, and the database going away and coming
//! back under load. Runs against a real cluster the test starts itself (tessera-testkit); skipped
//! with a note when the PostgreSQL server binaries are absent, unless TESSERA_REQUIRE_POSTGRES=1.

use crate::harness::{Answer, Client, Env, Server, basic, s};
use serde_json::{Value, json};
use std::time::Duration;
use tessera_testkit::PgCluster;

/// A management API token: the standard endpoint with `resource=<management audience>`.
fn token(srv: &Server, c: &Client) -> String {
    crate::replay::management_token(srv, c)
}

fn mgmt(srv: &Server, method: &str, path: &str, bearer: &str, body: Option<Value>) -> Answer {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = srv
        .http
        .request(m, srv.url(path))
        .header("authorization", format!("Bearer {bearer}"));
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

#[test]
fn two_nodes_on_one_database_share_everything() {
    let Some(pg) = PgCluster::shared() else {
        return;
    };
    let env = Env::postgres(pg);
    let gw = env.client("integrated-gateway-standard");
    // Nodes behind one load balancer share one issuer.
    let issuer = ["--issuer", "https://auth.example.com"];
    let a = env.serve_with(&issuer);
    let b = env.serve_with(&issuer);
    assert_ne!(a.base, b.base);

    // Minted at A, introspected at B.
    let t = token(&a, &gw);
    let r = b.post(
        "/oauth2/introspect",
        "application/x-www-form-urlencoded",
        format!("token={t}").into_bytes(),
        &[("authorization", &basic(&gw.client_id, &gw.secret))],
    );
    assert_eq!(r.json()["active"], true, "{}", r.text);

    // A secret deleted through B is refused at A within a second.
    let second = env.cli(&[
        "secret",
        "create",
        "--app",
        &gw.client_id,
        "--name",
        "second",
    ]);
    let gw2 = Client {
        secret: s(&second["secret"]),
        secret_id: s(&second["id"]),
        ..crate::manage_clone(&gw)
    };
    b.eventually(Duration::from_secs(2), || {
        b.token_basic(&gw2, "grant_type=client_credentials").status == 200
    });
    let bearer = token(&b, &gw2);
    let path = format!(
        "/gateway/{}/appregistration/{}/appsecret/{}",
        gw.tenant_id, gw.client_id, gw.secret_id
    );
    assert_eq!(mgmt(&b, "DELETE", &path, &bearer, None).status, 204);
    let took = a.eventually(Duration::from_secs(1), || {
        a.token_basic(&gw, "grant_type=client_credentials").status == 401
    });
    assert!(took < Duration::from_secs(1));

    // A key rotated at A is in B's JWKS within a second.
    let rotated = env.cli(&["keys", "rotate", "--delay-seconds", "3600"]);
    let kid = s(&rotated["kid"]);
    for node in [&b, &a] {
        node.eventually(Duration::from_secs(1), || {
            node.get("/oauth2/jwks").text.contains(&kid)
        });
    }

    // Two nodes creating a secret for the same application at the same moment: one wins.
    let app = env.client_of(&gw.tenant_id, "integrated-gateway-standard");
    for node in [&a, &b] {
        node.eventually(Duration::from_secs(2), || {
            node.token_basic(&app, "grant_type=client_credentials")
                .status
                == 200
        });
    }
    let bearer = token(&a, &app);
    let path = format!(
        "/management/v1/tenants/{}/applications/{}/secrets",
        app.tenant_id, app.client_id
    );
    for round in 0..5 {
        let (ua, ub) = (a.url(&path), b.url(&path));
        let (ha, hb) = (a.http.clone(), b.http.clone());
        let (ta, tb) = (bearer.clone(), bearer.clone());
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let (ba, bb) = (barrier.clone(), barrier);
        let ja = std::thread::spawn(move || {
            ba.wait();
            ha.post(ua)
                .header("authorization", format!("Bearer {ta}"))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .unwrap()
        });
        let jb = std::thread::spawn(move || {
            bb.wait();
            hb.post(ub)
                .header("authorization", format!("Bearer {tb}"))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .unwrap()
        });
        let (ra, rb) = (ja.join().unwrap(), jb.join().unwrap());
        let mut statuses = [ra.status().as_u16(), rb.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [201, 409], "round {round}");
        let winner = if ra.status().as_u16() == 201 { ra } else { rb };
        let created: Value = winner.json().unwrap();
        let list = env.cli(&["secret", "list", "--app", &app.client_id]);
        assert_eq!(list.as_array().unwrap().len(), 2, "never three");
        env.cli(&[
            "secret",
            "delete",
            "--app",
            &app.client_id,
            &s(&created["id"]),
        ]);
    }
}

#[test]
fn the_database_going_away_and_coming_back() {
    let Some(pg) = PgCluster::start() else { return };
    let env = Env::postgres(&pg);
    let c = env.client("integrated-gateway-standard");
    let srv = env.serve();
    let bearer = token(&srv, &c);
    assert_eq!(srv.get("/readyz").status, 200);

    pg.stop_server();
    // Not ready, but tokens keep coming from the in-memory directory and key ring.
    srv.eventually(Duration::from_secs(5), || srv.get("/readyz").status == 503);
    assert_eq!(srv.get("/readyz").json()["status"], "unavailable");
    for _ in 0..20 {
        assert_eq!(
            srv.token_basic(&c, "grant_type=client_credentials").status,
            200
        );
    }
    // What needs the database says so clearly.
    let path = format!(
        "/management/v1/tenants/{}/applications/{}/secrets",
        c.tenant_id, c.client_id
    );
    let r = mgmt(
        &srv,
        "POST",
        &path,
        &bearer,
        Some(json!({"name": "while down"})),
    );
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.json()["code"], "unavailable");
    let (ok, _, err) = env.try_cli(&["tenant", "list"]);
    assert!(
        !ok && err.lines().count() == 1 && err.contains("cannot connect"),
        "{err}"
    );

    pg.start_server();
    srv.eventually(Duration::from_secs(10), || srv.get("/readyz").status == 200);
    // Nothing acknowledged was lost, and changes work again, everywhere.
    let list = env.cli(&["secret", "list", "--app", &c.client_id]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let r = mgmt(&srv, "POST", &path, &bearer, Some(json!({"name": "after"})));
    assert_eq!(r.status, 201, "{}", r.text);
    let after = Client {
        secret: s(&r.json()["secret"]),
        secret_id: s(&r.json()["id"]),
        ..crate::manage_clone(&c)
    };
    srv.eventually(Duration::from_secs(2), || {
        srv.token_basic(&after, "grant_type=client_credentials")
            .status
            == 200
    });
    // The log says what happened, once, not a panic.
    assert!(!srv.log_text().contains("panicked"));
}

#[test]
fn notifications_beat_the_poll() {
    let Some(pg) = PgCluster::shared() else {
        return;
    };
    let mut env = Env::postgres(pg);
    // Poll only every ten seconds: a change seen within one second came by LISTEN/NOTIFY.
    env.set_config("poll_interval_ms = 10000\n");
    let srv = env.serve();
    std::thread::sleep(Duration::from_millis(300));
    let c = env.client("merchant");
    let took = srv.eventually(Duration::from_secs(1), || {
        srv.token_basic(&c, "grant_type=client_credentials").status == 200
    });
    assert!(took < Duration::from_secs(1), "{took:?}");
    env.cli(&["secret", "delete", "--app", &c.client_id, &c.secret_id]);
    srv.eventually(Duration::from_secs(1), || {
        srv.token_basic(&c, "grant_type=client_credentials").status == 401
    });
}
