//! Issue #14: what an attacker or a failing database would find. Each test here failed on the
//! code before its fix.

use crate::harness::{Client, Env, s};
use std::path::Path;
use std::time::Duration;

/// Runs one SQL script against a test database, as a restore or a failover would leave it.
fn sql(db: &Path, script: &str) {
    let url = format!("sqlite://{}", db.display());
    let script = script.to_owned();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            use sqlx::{Connection, Executor};
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            c.execute(script.as_str()).await.unwrap();
        });
}

/// A change a node acknowledges is in effect on that node before the answer leaves: with the
/// poll far away (10 s), only the write path itself can make the new secret work at once and
/// the deleted one stop at once.
#[test]
fn an_acknowledged_change_is_in_effect_on_that_node_at_once() {
    let env = Env::with_config("poll_interval_ms = 10000\n");
    let t = env.cli(&["tenant", "create", "--name", "GW", "--kind", "gateway"]);
    let gid = s(&t["id"]);
    let owner = env.client_of(&gid, "integrated-gateway-standard");
    let srv = env.serve();
    let r = srv.token_basic(&owner, "grant_type=client_credentials");
    assert_eq!(r.status, 200, "{}", r.text);
    let bearer = format!("Bearer {}", s(&r.json()["access_token"]));
    let base = format!(
        "/gateway/{gid}/appregistration/{}/appsecret",
        owner.client_id
    );
    for i in 0..200 {
        let r = srv.post(
            &base,
            "application/json",
            vec![],
            &[("authorization", &bearer)],
        );
        assert_eq!(r.status, 200, "round {i}: {}", r.text);
        let v = r.json();
        let fresh = Client {
            tenant_id: gid.clone(),
            client_id: owner.client_id.clone(),
            secret_id: s(&v["appSecretId"]),
            secret: s(&v["secret"]),
        };
        let r = srv.token_basic(&fresh, "grant_type=client_credentials");
        assert_eq!(
            r.status, 200,
            "round {i}: a new secret was refused: {}",
            r.text
        );
        let r = srv
            .http
            .delete(srv.url(&format!("{base}/{}", fresh.secret_id)))
            .header("authorization", &bearer)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 204, "round {i}");
        let r = srv.token_basic(&fresh, "grant_type=client_credentials");
        assert_eq!(
            r.status, 401,
            "round {i}: a deleted secret still works: {}",
            r.text
        );
    }
}

/// A database whose change counter is behind the node's (restored from a backup, or a replica
/// that was behind when it was promoted) makes the node reload everything; before, the node
/// ignored every change until the counter passed its old value.
#[test]
fn a_change_counter_that_goes_backwards_reloads_everything() {
    let env = Env::new();
    let a = env.client("merchant");
    let b = env.client("merchant");
    let srv = env.serve();
    for c in [&a, &b] {
        assert_eq!(
            srv.token_basic(c, "grant_type=client_credentials").status,
            200
        );
    }
    // The "restored" database: an older counter, and b's secret gone in that history.
    sql(
        &env.db_path(),
        &format!(
            "UPDATE change_seq SET value = 1 WHERE id = 1;
             UPDATE secrets SET deleted = 1, seq = 1 WHERE id = '{}';",
            b.secret_id
        ),
    );
    srv.eventually(Duration::from_secs(3), || {
        srv.token_basic(&b, "grant_type=client_credentials").status == 401
    });
    assert_eq!(
        srv.token_basic(&a, "grant_type=client_credentials").status,
        200
    );
    assert!(
        srv.log_text().contains("went backwards"),
        "the reload is not logged"
    );
    // Changes after the restore are followed again.
    env.cli(&["app", "disable", &a.client_id]);
    srv.eventually(Duration::from_secs(2), || {
        srv.token_basic(&a, "grant_type=client_credentials").status == 401
    });
}

/// A switchable stand-in for the issuer's revocation feed: forwards to the real one while `up`,
/// answers 503 otherwise (an outage the test controls, while the rest of the issuer stays up).
fn feed_proxy(target: String, up: std::sync::Arc<std::sync::atomic::AtomicBool>) -> String {
    use axum::extract::RawQuery;
    use axum::http::HeaderMap;
    use std::sync::atomic::Ordering;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let http = reqwest::Client::new();
            let app = axum::Router::new().route(
                "/feed",
                axum::routing::get(move |RawQuery(q): RawQuery, h: HeaderMap| {
                    let (http, up, target) = (http.clone(), up.clone(), target.clone());
                    async move {
                        if !up.load(Ordering::SeqCst) {
                            return (axum::http::StatusCode::SERVICE_UNAVAILABLE, String::new());
                        }
                        let r = http
                            .get(format!("{target}?{}", q.unwrap_or_default()))
                            .header("authorization", h["authorization"].clone())
                            .send()
                            .await
                            .unwrap();
                        let status = axum::http::StatusCode::from_u16(r.status().as_u16()).unwrap();
                        (status, r.text().await.unwrap())
                    }
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(format!("http://{}/feed", listener.local_addr().unwrap()))
                .unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

/// The payments API behind a guard built from `config`; its base URL, or the start error.
fn guarded_api(config: tessera_guard::GuardConfig) -> Result<String, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let guard = match tessera_guard::Guard::start(config).await {
                Ok(g) => g,
                Err(e) => {
                    tx.send(Err(e.to_string())).unwrap();
                    return;
                }
            };
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(Ok(format!("http://{}", listener.local_addr().unwrap())))
                .unwrap();
            axum::serve(listener, payments_api::router(&guard))
                .await
                .unwrap();
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

fn whoami(base: &str, token: &str) -> u16 {
    reqwest::blocking::Client::new()
        .get(format!("{base}/whoami"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// The guard starts only once it has the revocations, and stops accepting tokens when its feed
/// has been refused for longer than the bound (here: the feed client's own secret deleted).
#[test]
fn the_guard_fails_closed_when_its_feed_is_refused() {
    use tessera_guard::{FeedCredentials, GuardConfig, StaleFeed};
    let env = Env::new();
    let gw = env.client("integrated-gateway-standard");
    let rs = env.client_of(&gw.tenant_id, "resource-server");
    let srv = env.serve();
    let iss = srv.issuer();
    let creds = |c: &Client| FeedCredentials {
        client_id: c.client_id.clone(),
        client_secret: c.secret.clone(),
    };
    // Wrong feed credentials: no guard at all, rather than a guard that cannot see revocations.
    let mut wrong = creds(&rs);
    wrong.client_secret.push('x');
    let err = guarded_api(GuardConfig::new(&iss, vec![iss.clone()]).with_feed(wrong)).unwrap_err();
    assert!(err.contains("revocation feed"), "{err}");

    let api = guarded_api(
        GuardConfig::new(&iss, vec![iss.clone()])
            .with_feed(creds(&rs))
            .on_stale_feed(Duration::from_secs(2), StaleFeed::Refuse),
    )
    .unwrap();
    let token = s(&srv.token_basic(&gw, "grant_type=client_credentials").json()["access_token"]);
    assert_eq!(whoami(&api, &token), 200);
    env.cli(&["secret", "delete", "--app", &rs.client_id, &rs.secret_id]);
    srv.eventually(Duration::from_secs(10), || whoami(&api, &token) == 503);
}

/// With `StaleFeed::Introspect`, a guard whose feed is down asks the issuer about each token:
/// a live one passes, a revoked one does not; when introspection fails too, it refuses.
#[test]
fn the_guard_falls_back_to_introspection_while_its_feed_is_down() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tessera_guard::{FeedCredentials, GuardConfig, StaleFeed};
    let env = Env::new();
    let gw = env.client("integrated-gateway-standard");
    let rs = env.client_of(&gw.tenant_id, "resource-server");
    let srv = env.serve();
    let iss = srv.issuer();
    let up = Arc::new(AtomicBool::new(true));
    let proxy = feed_proxy(srv.url("/oauth2/revocations"), up.clone());
    let mut config = GuardConfig::new(&iss, vec![iss.clone()])
        .with_feed(FeedCredentials {
            client_id: rs.client_id.clone(),
            client_secret: rs.secret.clone(),
        })
        .on_stale_feed(Duration::from_secs(2), StaleFeed::Introspect);
    config.feed.as_mut().unwrap().0 = proxy;
    let api = guarded_api(config).unwrap();
    let mint = || s(&srv.token_basic(&gw, "grant_type=client_credentials").json()["access_token"]);
    let (kept, revoked) = (mint(), mint());
    up.store(false, Ordering::SeqCst);
    // Revoked while the feed is down: only introspection can know.
    let r = srv.post(
        "/oauth2/revoke",
        "application/x-www-form-urlencoded",
        format!("token={revoked}").into_bytes(),
        &[(
            "authorization",
            &crate::harness::basic(&gw.client_id, &gw.secret),
        )],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(whoami(&api, &kept), 200);
    assert_eq!(whoami(&api, &revoked), 401);
    // The issuer gone as well: nothing can be checked, so nothing is accepted.
    srv.kill9();
    assert_eq!(whoami(&api, &kept), 503);
}

/// A master key file that group or others can read stops the server with one line that says
/// how to fix it; nothing is served.
#[test]
fn a_master_key_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.client("merchant");
    let key = env.dir.path().join("master.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = env
        .command()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("chmod 600"), "{err}");
    assert!(
        out.stdout.is_empty(),
        "it served: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Fixed as told, it starts.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let srv = env.serve();
    assert_eq!(srv.get("/healthz").status, 200);
}

/// An answer sent before the request body was read says `Connection: close` (RFC 9112 §9.6), so
/// that a keep-alive client does not send its next request into the closing socket.
#[test]
fn an_answer_before_the_body_was_read_says_connection_close() {
    use std::io::{Read, Write};
    let env = Env::new();
    let c = env.client("merchant");
    let srv = env.serve();
    // Over the size limit, announced by Content-Length: refused before any body byte is read.
    let addr = srv.base.trim_start_matches("http://").to_owned();
    let mut sock = std::net::TcpStream::connect(&addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        sock,
        "POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut buf).unwrap();
        assert!(n > 0, "closed without an answer");
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 413"), "{head}");
    assert!(head.contains("connection: close"), "{head}");

    // A bad bearer token on a large management POST: refused from the headers alone.
    let r = srv
        .http
        .post(srv.url("/management/v1/tenants"))
        .header("authorization", "Bearer nope")
        .header("content-type", "application/json")
        .body(format!(r#"{{"name":"{}"}}"#, "x".repeat(12_000)))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(
        r.headers().get("connection").map(|v| v.to_str().unwrap()),
        Some("close")
    );
    // A request whose body was read keeps its connection.
    let r = srv.token_basic(&c, "grant_type=client_credentials");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("connection"), None);
}
