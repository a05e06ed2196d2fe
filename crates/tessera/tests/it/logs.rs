//! Logs (issue #11): one line per request with method, route, status, latency, client id and a
//! request id that is also returned; JSON on request; no colour codes in a file; never a secret.

use crate::harness::Env;
use serde_json::Value;

#[test]
fn one_json_line_per_request_with_its_request_id_and_no_secret() {
    let env = Env::with_config("log_format = \"json\"\n");
    let c = env.client("merchant");
    let srv = env.serve();
    let auth = crate::harness::basic(&c.client_id, &c.secret);
    let r = srv.token_form(
        "grant_type=client_credentials",
        &[("authorization", &auth), ("x-request-id", "trace-42.a:b_c")],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("x-request-id").as_deref(), Some("trace-42.a:b_c"));
    let token = crate::harness::s(&r.json()["access_token"]);
    // A malformed incoming id is replaced, not echoed into the logs.
    let r = srv.token_form(
        "grant_type=client_credentials",
        &[
            ("authorization", &auth),
            ("x-request-id", "evil id {\"x\":1}"),
        ],
    );
    let replaced = r.header("x-request-id").unwrap();
    assert!(
        !replaced.contains(' ') && !replaced.is_empty() && replaced.len() <= 128,
        "{replaced}"
    );
    srv.get("/oauth2/jwks");
    let mut found = None;
    srv.eventually(std::time::Duration::from_secs(3), || {
        let log = srv.log_text();
        found = log
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| {
                v["fields"]["message"] == "request" && v["fields"]["request_id"] == "trace-42.a:b_c"
            });
        found.is_some()
    });
    let line = found.unwrap();
    assert_eq!(line["target"], "tessera::request");
    assert_eq!(line["fields"]["method"], "POST");
    assert_eq!(line["fields"]["route"], "/oauth2/token");
    assert_eq!(line["fields"]["client_id"], c.client_id.as_str());
    assert_eq!(line["fields"]["status"], 200);
    assert!(line["fields"]["latency_ms"].is_number(), "{line}");
    // Lines are written by a thread of their own: the one for the JWKS request may trail.
    srv.eventually(std::time::Duration::from_secs(3), || {
        srv.log_text().contains("\"route\":\"/oauth2/jwks\"")
    });
    let log = srv.log_text();
    for l in log.lines().filter(|l| !l.trim().is_empty()) {
        assert!(serde_json::from_str::<Value>(l).is_ok(), "not JSON: {l}");
    }
    assert!(log.contains("\"route\":\"/oauth2/jwks\""), "{log}");
    assert!(!log.contains(&c.secret) && !log.contains(&token) && !log.contains(&auth));
    assert!(!log.contains('\u{1b}'), "colour codes in a log file");
}

#[test]
fn pretty_logs_in_a_file_have_no_colour_codes() {
    let env = Env::new();
    let c = env.client("merchant");
    let srv = env.serve();
    assert_eq!(
        srv.token_basic(&c, "grant_type=client_credentials").status,
        200
    );
    srv.eventually(std::time::Duration::from_secs(3), || {
        srv.log_text().contains("/oauth2/token")
    });
    let log = srv.log_text();
    assert!(!log.contains('\u{1b}'), "colour codes in a log file: {log}");
    assert!(!log.contains(&c.secret));
    let mut env = Env::new();
    env.set_config("log_format = \"xml\"\n");
    let (ok, _, err) = env.try_cli(&["validate-config"]);
    assert!(!ok && err.contains("json or pretty"), "{err}");
}
