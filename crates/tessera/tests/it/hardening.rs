//! Issue #14: what an attacker or a failing database would find. Each test here failed on the
//! code before its fix.

use crate::harness::{Client, Env, Server, s};
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
    // Each round ends with a refused (deleted) secret: 200 failures from one address, which
    // the brute-force limits would rightly stop; this test is about read-your-writes.
    let env = Env::with_config(
        "poll_interval_ms = 10000\n[limits]\nfailures_per_client_address = 1000\nfailures_per_address = 1000\n",
    );
    let t = env.cli(&["tenant", "create", "--name", "GW", "--kind", "gateway"]);
    let gid = s(&t["id"]);
    let owner = env.client_of(&gid, "integrated-gateway-standard");
    let srv = env.serve();
    let bearer = format!("Bearer {}", crate::replay::management_token(&srv, &owner));
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
    // Log lines are written by a thread of their own, a moment after the event.
    srv.eventually(Duration::from_secs(3), || {
        srv.log_text().contains("went backwards")
    });
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

/// Writes `request` as is on a new connection and returns the answer's head, lowercased (up to
/// the blank line), waiting at most `wait` for it.
fn raw_answer_head(srv: &Server, request: &str, wait: Duration) -> String {
    use std::io::{Read, Write};
    let addr = srv.base.trim_start_matches("http://");
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(wait)).unwrap();
    sock.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut buf).unwrap();
        assert!(n > 0, "closed without an answer");
        head.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&head).to_lowercase()
}

/// A request whose body stops arriving is answered 408 after the 10 s request timeout (a
/// slow-body client cannot hold a connection and its task forever), as a logged request with an
/// id, and the connection is closed since the body was never read to its end.
#[test]
fn a_stalled_body_is_answered_408_after_the_request_timeout() {
    let env = Env::new();
    let srv = env.serve();
    let started = std::time::Instant::now();
    let head = raw_answer_head(
        &srv,
        "POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=",
        Duration::from_secs(20),
    );
    let waited = started.elapsed();
    assert!(head.starts_with("http/1.1 408"), "{head}");
    assert!(head.contains("x-request-id: "), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
}

/// An answer sent before the request body was read says `Connection: close` (RFC 9112 §9.6), so
/// that a keep-alive client does not send its next request into the closing socket.
#[test]
fn an_answer_before_the_body_was_read_says_connection_close() {
    let env = Env::new();
    let c = env.client("merchant");
    let srv = env.serve();
    // Over the size limit, announced by Content-Length: refused before any body byte is read.
    let head = raw_answer_head(
        &srv,
        "POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\n",
        Duration::from_secs(5),
    );
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

/// An HTTP client whose connections come from `ip` (any 127.0.0.0/8 address is loopback).
fn client_from(ip: &str) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

fn form_post(
    http: &reqwest::blocking::Client,
    url: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> crate::harness::Answer {
    let mut req = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().unwrap();
    crate::harness::Answer {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        text: r.text().unwrap(),
    }
}

/// Wrong secrets for one client id from one address: refused with 429 and `Retry-After` past
/// the threshold, while the owner, calling from another address, is never refused.
#[test]
fn a_client_id_hammered_from_one_address_stays_open_to_its_owner() {
    let env =
        Env::with_config("[limits]\nfailures_per_client_address = 5\nfailures_per_address = 50\n");
    let owner = env.client("merchant");
    let srv = env.serve();
    let attacker = client_from("127.0.0.2");
    let me = client_from("127.0.0.1");
    let url = srv.url("/oauth2/token");
    let wrong = crate::harness::basic(&owner.client_id, "tsk_wrong");
    let right = crate::harness::basic(&owner.client_id, &owner.secret);
    let (mut unauthorized, mut throttled) = (0, 0);
    for i in 0..40 {
        let r = form_post(
            &attacker,
            &url,
            "grant_type=client_credentials",
            &[("authorization", &wrong)],
        );
        match r.status {
            401 => unauthorized += 1,
            429 => {
                throttled += 1;
                let after: u64 = r.header("retry-after").unwrap().parse().unwrap();
                assert!((1..=60).contains(&after), "{after}");
                assert_eq!(r.json()["error"], "slow_down");
            }
            other => panic!("attempt {i}: {other} {}", r.text),
        }
        let r = form_post(
            &me,
            &url,
            "grant_type=client_credentials",
            &[("authorization", &right)],
        );
        assert_eq!(
            r.status, 200,
            "the owner was refused at attempt {i}: {}",
            r.text
        );
    }
    assert_eq!(unauthorized, 5);
    assert_eq!(throttled, 35);
    // Even the right secret from the attacker's address waits: the address learns nothing.
    let r = form_post(
        &attacker,
        &url,
        "grant_type=client_credentials",
        &[("authorization", &right)],
    );
    assert_eq!(r.status, 429);
}

/// Made-up client ids from one address: the address is refused after its own threshold,
/// whatever client id it tries next.
#[test]
fn an_address_trying_many_client_ids_is_refused() {
    let env =
        Env::with_config("[limits]\nfailures_per_client_address = 5\nfailures_per_address = 20\n");
    let owner = env.client("merchant");
    let srv = env.serve();
    let attacker = client_from("127.0.0.3");
    let url = srv.url("/oauth2/token");
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let made_up = crate::harness::basic(&uuid::Uuid::new_v4().to_string(), "tsk_x");
        let r = form_post(
            &attacker,
            &url,
            "grant_type=client_credentials",
            &[("authorization", &made_up)],
        );
        statuses.push(r.status);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 20);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 10);
    let r = form_post(
        &client_from("127.0.0.1"),
        &url,
        "grant_type=client_credentials",
        &[(
            "authorization",
            &crate::harness::basic(&owner.client_id, &owner.secret),
        )],
    );
    assert_eq!(r.status, 200);
}

/// Every endpoint that checks a secret answers a throttled caller with 429, `Retry-After` and
/// its own error shape.
#[test]
fn every_dialect_answers_a_throttled_caller_in_its_own_shape() {
    let env = Env::with_config("[limits]\nfailures_per_client_address = 2\n");
    let t = env.cli(&["tenant", "create", "--name", "P", "--kind", "partner"]);
    let c = env.client_of(&s(&t["id"]), "api-partner");
    let srv = env.serve();
    let http = client_from("127.0.0.4");
    let wrong = crate::harness::basic(&c.client_id, "tsk_wrong");
    for _ in 0..2 {
        let r = form_post(
            &http,
            &srv.url("/oauth2/token"),
            "grant_type=client_credentials",
            &[("authorization", &wrong)],
        );
        assert_eq!(r.status, 401, "{}", r.text);
    }
    let iss = srv.issuer();
    let json = |path: &str, body: String, headers: &[(&str, &str)]| {
        let mut req = http
            .post(srv.url(path))
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().unwrap();
        crate::harness::Answer {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            text: r.text().unwrap(),
        }
    };
    let form = |path: &str, body: String, headers: &[(&str, &str)]| {
        form_post(&http, &srv.url(path), &body, headers)
    };
    let cases: Vec<(&str, crate::harness::Answer, &str)> = vec![
        (
            "standard",
            form(
                "/oauth2/token",
                "grant_type=client_credentials".into(),
                &[("authorization", &wrong)],
            ),
            "error",
        ),
        (
            "basys",
            form(
                "/oauth2/v2.0/token",
                format!(
                    "grant_type=client_credentials&client_id={}&client_secret=tsk_wrong&scope={iss}/8939cd8f-0b21-4654-8f4d-ee01706dc3d6/.default",
                    c.client_id
                ),
                &[],
            ),
            "error",
        ),
        (
            "basiq",
            form(
                "/token",
                "scope=SERVER_ACCESS".into(),
                &[("authorization", &wrong), ("basiq-version", "3.0")],
            ),
            "data",
        ),
        (
            "paysecurez",
            json(
                "/api/token",
                format!(
                    r#"{{"client_id":"{}","client_secret":"tsk_wrong"}}"#,
                    c.client_id
                ),
                &[],
            ),
            "statusCode",
        ),
        (
            "ipospays",
            json(
                "/v1/authenticate-token",
                String::new(),
                &[
                    ("apiKey", &c.client_id),
                    ("secretKey", "tsk_wrong"),
                    ("scope", "ExternalApi"),
                ],
            ),
            "errorCode",
        ),
        (
            "banked",
            form(
                "/oauth/token",
                "grant_type=client_credentials".into(),
                &[("authorization", &wrong)],
            ),
            "error",
        ),
        (
            "introspection",
            form(
                "/oauth2/introspect",
                "token=x".into(),
                &[("authorization", &wrong)],
            ),
            "error",
        ),
    ];
    for (name, r, field) in cases {
        assert_eq!(r.status, 429, "{name}: {}", r.text);
        assert!(r.header("retry-after").is_some(), "{name}");
        assert!(!r.json()[field].is_null(), "{name}: {}", r.text);
    }
}

/// Behind a trusted proxy the client address comes from `X-Forwarded-For`; from anyone else
/// that header is ignored, so it cannot be used to dodge the limits.
#[test]
fn forwarded_addresses_count_only_from_trusted_proxies() {
    let env = Env::with_config(
        "[limits]\nfailures_per_client_address = 2\ntrusted_proxies = [\"127.0.0.5\"]\n",
    );
    let c = env.client("merchant");
    let srv = env.serve();
    let url = srv.url("/oauth2/token");
    let wrong = crate::harness::basic(&c.client_id, "tsk_wrong");
    let attempt = |from: &str, xff: &str| {
        form_post(
            &client_from(from),
            &url,
            "grant_type=client_credentials",
            &[("authorization", &wrong), ("x-forwarded-for", xff)],
        )
        .status
    };
    // Through the proxy: two clients, counted apart.
    assert_eq!(attempt("127.0.0.5", "203.0.113.1"), 401);
    assert_eq!(attempt("127.0.0.5", "203.0.113.1"), 401);
    assert_eq!(attempt("127.0.0.5", "203.0.113.1"), 429);
    assert_eq!(attempt("127.0.0.5", "203.0.113.2"), 401);
    // Not a proxy: a new X-Forwarded-For every time changes nothing.
    assert_eq!(attempt("127.0.0.6", "198.51.100.1"), 401);
    assert_eq!(attempt("127.0.0.6", "198.51.100.2"), 401);
    assert_eq!(attempt("127.0.0.6", "198.51.100.3"), 429);
}

/// Connections from one address past the cap are closed at once; others still connect.
#[test]
fn connections_from_one_address_are_capped() {
    use std::io::Read;
    let env = Env::with_config("[limits]\nmax_connections_per_address = 2\n");
    let srv = env.serve();
    let addr: std::net::SocketAddr = srv.base.trim_start_matches("http://").parse().unwrap();
    let connect_from = |ip: &str| {
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let local: std::net::SocketAddr = format!("{ip}:0").parse().unwrap();
        sock.bind(&local.into()).unwrap();
        sock.connect(&addr.into()).unwrap();
        let s: std::net::TcpStream = sock.into();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        s
    };
    let held: Vec<_> = (0..2).map(|_| connect_from("127.0.0.7")).collect();
    let mut third = connect_from("127.0.0.7");
    let mut buf = [0u8; 16];
    // Closed by the server: end of stream (or a reset), not a timeout.
    match third.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the third connection stayed open: {other:?}"),
    }
    // Another address is not affected.
    assert_eq!(
        client_from("127.0.0.8")
            .get(srv.url("/healthz"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        client_from("127.0.0.7")
            .get(srv.url("/healthz"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

/// RFC 7009 revocations are rate-limited per client, and so, when configured, are tokens per
/// application.
#[test]
fn revocations_and_tokens_are_rate_limited_per_client() {
    let env = Env::with_config(
        "[limits]\nrevocations_per_minute_per_client = 2\ntokens_per_second_per_app = 5\n",
    );
    let c = env.client("merchant");
    let other = env.client("merchant");
    let srv = env.serve();
    let auth = crate::harness::basic(&c.client_id, &c.secret);
    let mut tokens = Vec::new();
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let r = srv.token_basic(&c, "grant_type=client_credentials");
        statuses.push(r.status);
        if r.status == 200 {
            tokens.push(s(&r.json()["access_token"]));
        } else {
            assert_eq!(r.status, 429, "{}", r.text);
            assert!(r.header("retry-after").is_some());
        }
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(tokens.len() >= 5, "{statuses:?}");
    // Another application's budget is its own.
    assert_eq!(
        srv.token_basic(&other, "grant_type=client_credentials")
            .status,
        200
    );
    let revoke = |t: &str| {
        srv.post(
            "/oauth2/revoke",
            "application/x-www-form-urlencoded",
            format!("token={t}").into_bytes(),
            &[("authorization", &auth)],
        )
    };
    assert_eq!(revoke(&tokens[0]).status, 200);
    assert_eq!(revoke(&tokens[1]).status, 200);
    let r = revoke(&tokens[2]);
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(r.header("retry-after").is_some());
}

/// An application can have its own token rate, replacing the default one.
#[test]
fn an_application_can_have_its_own_token_rate() {
    let mut env = Env::new();
    let busy = env.client("merchant");
    let plain = env.client("merchant");
    env.set_config(&format!(
        "[limits]\ntokens_per_second_per_app = 2\n[limits.app_token_rates]\n\"{}\" = 0\n",
        busy.client_id
    ));
    let srv = env.serve();
    for _ in 0..20 {
        let r = srv.token_basic(&busy, "grant_type=client_credentials");
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let statuses: Vec<u16> = (0..6)
        .map(|_| {
            srv.token_basic(&plain, "grant_type=client_credentials")
                .status
        })
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    // A malformed client id in the config is refused at start.
    env.set_config("[limits.app_token_rates]\n\"nope\" = 5\n");
    let (ok, _, err) = env.try_cli(&["validate-config"]);
    assert!(!ok && err.contains("not a client id"), "{err}");
}
