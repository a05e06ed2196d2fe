//! Across dialects: one secret works on every dialect; a deleted secret, a deleted application
//! and a disabled tenant fail on every dialect, each in its own error shape.

use crate::harness::{Client, Env, Server, basic};
use std::time::Duration;

/// Calls every dialect with `c`; returns (dialect, status, body).
fn all(srv: &Server, c: &Client) -> Vec<(&'static str, u16, serde_json::Value)> {
    let form = "application/x-www-form-urlencoded";
    let auth = basic(&c.client_id, &c.secret);
    let basys_scope = format!(
        "{}/8939cd8f-0b21-4654-8f4d-ee01706dc3d6/.default",
        srv.issuer()
    );
    let calls = vec![
        ("rfc6749", srv.post("/oauth2/token", form, b"grant_type=client_credentials".to_vec(), &[("authorization", &auth)])),
        ("basys", srv.post("/oauth2/v2.0/token", form, format!("grant_type=client_credentials&client_id={}&client_secret={}&scope={basys_scope}", c.client_id, c.secret).into_bytes(), &[])),
        ("basiq", srv.post("/token", form, b"scope=SERVER_ACCESS".to_vec(), &[("authorization", &auth), ("basiq-version", "3.0")])),
        ("paysecurez", srv.post("/api/token", "application/json", format!(r#"{{"client_id":"{}","client_secret":"{}"}}"#, c.client_id, c.secret).into_bytes(), &[])),
        ("ipospays", srv.post("/v1/authenticate-token", "application/json", b"{}".to_vec(), &[("apiKey", &c.client_id), ("secretKey", &c.secret), ("scope", "partner")])),
        ("banked", srv.post("/oauth/token", form, b"grant_type=client_credentials".to_vec(), &[("authorization", &auth)])),
    ];
    calls
        .into_iter()
        .map(|(d, r)| (d, r.status, r.json()))
        .collect()
}

#[test]
fn one_secret_on_every_dialect_and_every_failure_in_each_shape() {
    // One role that every dialect accepts; every failure below comes from one address, more
    // than the brute-force limits allow by default.
    let env = Env::with_config(
        "[limits]\nfailures_per_client_address = 1000\nfailures_per_address = 1000\n[[roles]]\nname = \"everything\"\nscopes = [\"SERVER_ACCESS\", \"partner\", \"transactions:process\"]\n",
    );
    let c = env.client("everything");
    let srv = env.serve();
    for (d, status, body) in all(&srv, &c) {
        assert_eq!(status, 200, "{d}: {body}");
    }
    let expect_failures = |srv: &Server, c: &Client, basiq_status: u16| {
        srv.eventually(Duration::from_secs(2), || {
            all(srv, c).iter().all(|(_, s, _)| *s != 200)
        });
        for (d, status, body) in all(srv, c) {
            match d {
                "rfc6749" | "basys" | "banked" => {
                    assert_eq!(status, 401, "{d}: {body}");
                    assert_eq!(body["error"], "invalid_client", "{d}");
                }
                "basiq" => {
                    assert_eq!(status, basiq_status, "{d}: {body}");
                    assert_eq!(body["type"], "list", "{d}");
                }
                "paysecurez" => {
                    assert_eq!(status, 401, "{d}: {body}");
                    assert_eq!(body["statusCode"], 401);
                }
                "ipospays" => {
                    assert_eq!(status, 401, "{d}: {body}");
                    assert_eq!(body["errorCode"], "AUTH_ERR_004");
                }
                other => panic!("{other}"),
            }
        }
    };
    // Deleted secret.
    env.cli(&["secret", "delete", "--app", &c.client_id, &c.secret_id]);
    expect_failures(&srv, &c, 400);
    // Deleted application.
    let d = env.client_of(&c.tenant_id, "everything");
    srv.eventually(Duration::from_secs(2), || {
        all(&srv, &d).iter().all(|(_, s, _)| *s == 200)
    });
    env.cli(&["app", "delete", &d.client_id]);
    // Basiq answers a deleted application's key as an unknown one (#14 §7): no id oracle.
    expect_failures(&srv, &d, 400);
    // Disabled tenant.
    let e = env.client("everything");
    srv.eventually(Duration::from_secs(2), || {
        all(&srv, &e).iter().all(|(_, s, _)| *s == 200)
    });
    env.cli(&["tenant", "disable", &e.tenant_id]);
    expect_failures(&srv, &e, 403);
}

#[test]
fn dialects_can_be_switched_off_or_moved_under_a_prefix() {
    let env = Env::with_config(
        "[dialects.basiq]\nenabled = false\n[dialects.paysecurez]\nprefix = \"/psz\"\ntoken_ttl_seconds = 60\n",
    );
    let c = env.client("merchant");
    let srv = env.serve();
    let auth = basic(&c.client_id, &c.secret);
    let r = srv.post(
        "/token",
        "application/x-www-form-urlencoded",
        b"scope=SERVER_ACCESS".to_vec(),
        &[("authorization", &auth), ("basiq-version", "3.0")],
    );
    assert_eq!(r.status, 404, "basiq is off");
    let body = format!(
        r#"{{"client_id":"{}","client_secret":"{}"}}"#,
        c.client_id, c.secret
    );
    assert_eq!(
        srv.post(
            "/api/token",
            "application/json",
            body.clone().into_bytes(),
            &[]
        )
        .status,
        404
    );
    let r = srv.post("/psz/api/token", "application/json", body.into_bytes(), &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["expires_in"], 60);
    // A lifetime beyond the key publication window is refused at start.
    let bad = Env::with_config("[dialects.banked]\ntoken_ttl_seconds = 100000\n");
    let (ok, _, err) = bad.try_cli(&["validate-config"]);
    assert!(!ok && err.contains("max_token_ttl_seconds"), "{err}");
}
