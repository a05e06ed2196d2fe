//! Prometheus metrics (#11 item 2): scraped and parsed with the Prometheus project's own Python
//! parser (`prometheus_client`), a client tessera did not write; the counters move with the
//! requests, no label carries a client id or secret, and `/metrics` moves to its own listener or
//! goes away as configured.

use crate::harness::{Env, Server};
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append([s.name, s.labels, s.value, family.type])
print(json.dumps(out))
"#;

fn parser_present() -> bool {
    crate::harness::python_has("prometheus_client")
}

/// Every sample: (name, labels, value).
struct Samples(Vec<(String, Value, f64)>);

impl Samples {
    fn scrape(base: &str) -> Samples {
        let res = reqwest::blocking::get(format!("{base}/metrics")).unwrap();
        assert_eq!(res.status(), 200);
        let ctype = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
        let text = res.text().unwrap();
        let mut py = Command::new("python3")
            .args(["-c", PARSE])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        py.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = py.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "the Prometheus parser refused the exposition: {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Vec<(String, Value, f64, String)> = serde_json::from_slice(&out.stdout).unwrap();
        Samples(v.into_iter().map(|(n, l, x, _)| (n, l, x)).collect())
    }

    /// The value of the sample `name` whose labels include `labels`; 0 when there is none.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l[*k].as_str() == Some(*v)))
            .map(|(_, _, x)| *x)
            .sum()
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _, _)| n == name)
    }
}

fn token_ok(srv: &Server, c: &crate::harness::Client) {
    assert_eq!(
        srv.token_basic(c, "grant_type=client_credentials").status,
        200
    );
}

#[test]
fn counters_move_and_labels_stay_bounded_and_secret_free() {
    if !parser_present() {
        return;
    }
    let env = Env::new();
    let c = env.client("merchant");
    let partner = env.client("api-partner");
    let srv = env.serve();
    token_ok(&srv, &c);
    let before = Samples::scrape(&srv.base);
    let issued = [("dialect", "rfc6749"), ("outcome", "issued")];
    let refused = [("dialect", "rfc6749"), ("outcome", "refused")];
    assert!(before.get("tessera_token_requests_total", &issued) >= 1.0);

    // One more token, a wrong secret, a Basiq token, a made-up path.
    assert_eq!(
        srv.token_basic(&c, "grant_type=client_credentials").status,
        200
    );
    let wrong = crate::harness::Client {
        tenant_id: c.tenant_id.clone(),
        client_id: c.client_id.clone(),
        secret_id: c.secret_id.clone(),
        secret: "not-the-secret".into(),
    };
    assert_eq!(
        srv.token_basic(&wrong, "grant_type=client_credentials")
            .status,
        401
    );
    assert_eq!(srv.get("/no/such/path/with-a-secret-in-it").status, 404);
    let auth = crate::harness::basic(&partner.client_id, &partner.secret);
    let basiq = srv.post(
        "/token",
        "application/x-www-form-urlencoded",
        b"scope=SERVER_ACCESS".to_vec(),
        &[("authorization", &auth), ("basiq-version", "3.0")],
    );
    assert_eq!(basiq.status, 200);
    // Not a token request: only POSTs on a dialect's routes count.
    assert_eq!(srv.get("/token").status, 405);
    let after = Samples::scrape(&srv.base);
    let basiq_issued = [("dialect", "basiq"), ("outcome", "issued")];
    assert_eq!(
        after.get("tessera_token_requests_total", &basiq_issued)
            - before.get("tessera_token_requests_total", &basiq_issued),
        1.0
    );
    assert_eq!(
        after.get("tessera_token_requests_total", &[("dialect", "basiq")])
            - before.get("tessera_token_requests_total", &[("dialect", "basiq")]),
        1.0,
        "the GET is not a token request"
    );

    assert_eq!(
        after.get("tessera_token_requests_total", &issued)
            - before.get("tessera_token_requests_total", &issued),
        1.0
    );
    assert_eq!(
        after.get("tessera_token_requests_total", &refused)
            - before.get("tessera_token_requests_total", &refused),
        1.0
    );
    assert_eq!(
        after.get(
            "tessera_authentication_failures_total",
            &[("reason", "bad_secret")]
        ),
        1.0
    );
    let token_route = [("route", "/oauth2/token"), ("method", "POST")];
    assert!(after.get("tessera_http_request_duration_seconds_count", &token_route) >= 3.0);
    assert!(after.get("tessera_http_requests_total", &[("status", "401")]) >= 1.0);
    assert_eq!(
        after.get("tessera_http_requests_total", &[("route", "(no route)")]),
        1.0,
        "an unknown path is one series, whatever the path"
    );
    // The state gauges.
    assert!(
        after.get(
            "tessera_signing_keys",
            &[("alg", "ES256"), ("phase", "current")]
        ) >= 1.0
    );
    assert!(after.has("tessera_signing_key_age_seconds"));
    assert!(after.has("tessera_audit_backlog_events"));
    assert!(after.get("tessera_directory_entries", &[("kind", "applications")]) >= 1.0);
    assert!(after.has("tessera_directory_refreshed_timestamp_seconds"));
    assert!(after.has("tessera_store_operation_duration_seconds_bucket"));

    // Names follow the conventions, and no label carries a credential.
    for (name, labels, _) in &after.0 {
        assert!(name.starts_with("tessera_"), "{name}");
        assert!(
            name.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'),
            "{name}"
        );
        let text = labels.to_string();
        for secret in [
            c.client_id.as_str(),
            c.secret.as_str(),
            "with-a-secret-in-it",
        ] {
            assert!(!text.contains(secret), "{name} {text}");
        }
    }
}

#[test]
fn secrets_expiring_within_the_window_are_counted() {
    if !parser_present() {
        return;
    }
    let env = Env::new();
    let c = env.client("merchant");
    // A second secret of 3 days: within the default 14-day window; the first lives a year.
    env.cli(&[
        "secret",
        "create",
        "--app",
        &c.client_id,
        "--name",
        "short",
        "--days",
        "3",
    ]);
    let srv = env.serve();
    let m = Samples::scrape(&srv.base);
    assert_eq!(m.get("tessera_secrets_expiring", &[]), 1.0);
    assert!(m.get("tessera_directory_entries", &[("kind", "secrets")]) >= 2.0);
    assert_eq!(
        env.cli(&["secret", "expiring"]).as_array().unwrap().len(),
        1
    );
    assert!(srv.stop().success());

    // One window for the metric and the CLI: [expiry] warning_days.
    let mut env = env;
    env.set_config("[expiry]\nwarning_days = 2\n");
    let srv = env.serve();
    let m = Samples::scrape(&srv.base);
    assert_eq!(m.get("tessera_secrets_expiring", &[]), 0.0);
    assert_eq!(
        env.cli(&["secret", "expiring"]).as_array().unwrap().len(),
        0
    );
    assert_eq!(
        env.cli(&["secret", "expiring", "--within", "4d"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn metrics_on_their_own_listener_or_off() {
    if !parser_present() {
        return;
    }
    let mut env = Env::new();
    env.set_config("[metrics]\nlisten = \"127.0.0.1:0\"\n");
    let c = env.client("merchant");
    let srv = env.serve();
    token_ok(&srv, &c);
    assert_eq!(srv.get("/metrics").status, 404, "not on the main listener");
    let own = format!("http://{}", crate::harness::s(&srv.info["metrics"]));
    let m = Samples::scrape(&own);
    assert!(m.get("tessera_token_requests_total", &[("outcome", "issued")]) >= 1.0);
    assert!(srv.stop().success());

    env.set_config("[metrics]\nenabled = false\n");
    let srv = env.serve();
    token_ok(&srv, &c);
    assert_eq!(srv.get("/metrics").status, 404);

    env.set_config("[expiry]\nwarning_days = 0\n");
    let (ok, _, err) = env.try_cli(&["tenant", "list"]);
    assert!(!ok);
    assert!(err.contains("expiry.warning_days"), "{err}");
}
