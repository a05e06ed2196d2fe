//! Bad input: documented errors, never a 500 or a panic, nothing stored changes; secrets never in
//! logs; a corrupt database or a wrong master key stops `serve` with one clear line.

use crate::harness::{Env, basic, s};
use std::time::Duration;

#[test]
fn malformed_requests_get_oauth_errors_never_500() {
    let env = Env::new();
    let c = env.client("merchant");
    let srv = env.serve();
    let auth = basic(&c.client_id, &c.secret);
    let h = [("authorization", auth.as_str())];
    let form = "application/x-www-form-urlencoded";
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "wrong content type",
            "application/json",
            br#"{"grant_type":"client_credentials"}"#.to_vec(),
            415,
            "invalid_request",
        ),
        (
            "no content type",
            "",
            b"grant_type=client_credentials".to_vec(),
            415,
            "invalid_request",
        ),
        (
            "body over 16 KiB",
            form,
            format!("grant_type=client_credentials&x={}", "a".repeat(20_000)).into_bytes(),
            413,
            "invalid_request",
        ),
        (
            "non-UTF-8",
            form,
            b"grant_type=client_credentials&scope=%ff%fe".to_vec(),
            400,
            "invalid_request",
        ),
        (
            "raw non-UTF-8",
            form,
            b"grant_type=client_credentials&scope=\xff".to_vec(),
            400,
            "invalid_request",
        ),
        (
            "bad escape",
            form,
            b"grant_type=client_credentials&scope=%zz".to_vec(),
            400,
            "invalid_request",
        ),
        (
            "duplicate parameter",
            form,
            b"grant_type=client_credentials&grant_type=client_credentials".to_vec(),
            400,
            "invalid_request",
        ),
        (
            "garbage",
            form,
            b"&&&===&&".to_vec(),
            400,
            "invalid_request",
        ),
    ];
    for (name, ctype, body, status, error) in cases {
        let r = srv.post("/oauth2/token", ctype, body, &h);
        assert_eq!(r.status, status, "{name}: {}", r.text);
        assert_eq!(r.json()["error"], error, "{name}");
    }
    for bad in ["Basic", "Basic !!!!", "Basic Zm9v", "Bearer abc"] {
        let r = srv.token_form("grant_type=client_credentials", &[("authorization", bad)]);
        assert_eq!(r.status, 401, "{bad}: {}", r.text);
        assert_eq!(r.json()["error"], "invalid_client");
    }
    // Oversized header: refused by the HTTP layer.
    let big = "x".repeat(40_000);
    let r = srv.token_form("grant_type=client_credentials", &[("x-big", &big)]);
    assert_eq!(r.status, 431);
    // Wrong method, unknown path.
    assert_eq!(srv.get("/oauth2/token").status, 405);
    assert_eq!(srv.get("/nope").status, 404);
    // Still serving, and the client still works.
    assert_eq!(
        srv.token_basic(&c, "grant_type=client_credentials").status,
        200
    );
    assert_eq!(srv.get("/healthz").json()["status"], "ok");
    assert_eq!(srv.get("/readyz").json()["status"], "ready");
}

#[test]
fn secrets_and_tokens_never_reach_the_logs() {
    let env = Env::new();
    let c = env.client("merchant");
    let srv = env.serve();
    let ok = srv.token_basic(&c, "grant_type=client_credentials");
    let token = s(&ok.json()["access_token"]);
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}x",
        c.client_id, c.secret
    );
    srv.token_form(&form, &[]);
    srv.eventually(std::time::Duration::from_secs(3), || {
        srv.log_text().contains("/oauth2/token")
    });
    let log = srv.log_text();
    assert!(log.contains("listening on"), "debug log expected: {log}");
    assert!(!log.contains(&c.secret));
    assert!(!log.contains(&token));
    assert!(!log.contains(&token[token.len() - 20..]));
}

#[test]
fn a_corrupt_database_stops_serve_with_one_line_and_is_left_as_it_was() {
    let env = Env::new();
    let junk = b"definitely not SQLite ".repeat(300);
    std::fs::write(env.db_path(), &junk).unwrap();
    let out = env
        .command()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("tessera.db") && lines[0].contains("not a database"),
        "{err}"
    );
    assert!(!err.contains("panicked") && !err.contains("backtrace"));
    assert_eq!(std::fs::read(env.db_path()).unwrap(), junk);
}

#[test]
fn a_wrong_master_key_is_refused() {
    let env = Env::new();
    env.client("merchant");
    let out = env
        .command()
        .env("TESSERA_MASTER_KEY", "ab".repeat(32))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("master key does not match"), "{err}");
}

#[test]
fn sigterm_flushes_last_used_and_exits_cleanly() {
    let env = Env::new();
    let c = env.client("merchant");
    let srv = env.serve();
    assert_eq!(
        srv.token_basic(&c, "grant_type=client_credentials").status,
        200
    );
    let status = srv.stop();
    assert!(status.success(), "{status:?}");
    let list = env.cli(&["secret", "list", "--app", &c.client_id]);
    assert!(list[0]["last_used_at"].is_string(), "{list}");
}

/// A node serves while it loads its directory: `/healthz` answers, `/readyz` and the token
/// endpoint are 503 with `Retry-After` (not a 401 for clients it has not loaded yet), and once
/// loaded everything answers as usual.
#[test]
fn a_loading_node_is_alive_but_not_ready() {
    let env = Env::new();
    let c = env.client("merchant");
    // Enough merchants that loading them takes a moment, written inside SQLite.
    let url = format!("sqlite://{}", env.db_path().display());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            use sqlx::Connection;
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            for sql in [
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150000)
                 INSERT INTO tenants (id, name, kind, parent_id, status, created_at, seq)
                 SELECT printf('00000000-0000-4000-8000-%012d', i), 'bulk ' || i, 'merchant', NULL, 'active', 1700000000, 1 FROM n",
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150000)
                 INSERT INTO applications (client_id, tenant_id, name, role, status, created_at, seq)
                 SELECT printf('00000000-0000-4000-9000-%012d', i), printf('00000000-0000-4000-8000-%012d', i), 'bulk ' || i, 'merchant', 'active', 1700000000, 1 FROM n",
            ] {
                sqlx::query(sql).execute(&mut conn).await.unwrap();
            }
        });
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut child = env
        .command()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::blocking::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let start = std::time::Instant::now();
    let (mut loading, mut healthy_while_loading) = (0, false);
    let ready = loop {
        assert!(start.elapsed() < Duration::from_secs(60), "never ready");
        let Ok(r) = http.get(format!("{base}/readyz")).send() else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        if r.status() == 200 {
            break r.json::<serde_json::Value>().unwrap();
        }
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "1");
        assert_eq!(r.json::<serde_json::Value>().unwrap()["status"], "loading");
        loading += 1;
        let token = http
            .post(format!("{base}/oauth2/token"))
            .basic_auth(&c.client_id, Some(&c.secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .unwrap();
        // Still loading, or just done.
        assert!(
            matches!(token.status().as_u16(), 503 | 200),
            "{}",
            token.status()
        );
        healthy_while_loading |=
            http.get(format!("{base}/healthz")).send().unwrap().status() == 200;
    };
    assert_eq!(ready["status"], "ready");
    assert!(loading > 0, "the node was never seen loading");
    assert!(healthy_while_loading);
    let token = http
        .post(format!("{base}/oauth2/token"))
        .basic_auth(&c.client_id, Some(&c.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(token.status(), 200);
    let _ = child.kill();
    let _ = child.wait();
}
