//! The CLI's contract: JSON on stdout, clear errors on stderr with a non-zero exit.

use crate::harness::{Env, s};
use base64::Engine;

#[test]
fn commands_print_the_documented_json() {
    let env = Env::new();
    let gw = env.cli(&["tenant", "create", "--name", "Gateway", "--kind", "gateway"]);
    let gw_id = s(&gw["id"]);
    assert_eq!(gw["kind"], "gateway");
    assert_eq!(gw["status"], "active");
    let m = env.cli(&["tenant", "create", "--name", "Shop", "--parent", &gw_id]);
    assert_eq!(m["parent_id"], gw_id.as_str());
    assert_eq!(m["kind"], "merchant");
    let app = env.cli(&[
        "app",
        "create",
        "--tenant",
        &gw_id,
        "--name",
        "Integration",
        "--role",
        "integrated-gateway-standard",
    ]);
    for k in ["client_id", "tenant_id", "name", "role"] {
        assert!(app[k].is_string(), "{k} missing in {app}");
    }
    assert_eq!(app["tenant_id"], gw_id.as_str());
    let cid = s(&app["client_id"]);
    let sec = env.cli(&[
        "secret", "create", "--app", &cid, "--name", "primary", "--days", "30",
    ]);
    let secret = s(&sec["secret"]);
    assert!(secret.starts_with("tsk_"));
    let api_key = base64::engine::general_purpose::STANDARD
        .decode(s(&sec["api_key"]))
        .unwrap();
    assert_eq!(
        String::from_utf8(api_key).unwrap(),
        format!("{cid}:{secret}")
    );
    assert!(sec["expires_at"].is_string() && sec["id"].is_string());

    // Listing never shows a secret or a digest.
    let list = env.cli(&["secret", "list", "--app", &cid]);
    let text = list.to_string();
    assert!(!text.contains(&secret) && !text.contains("digest"));
    assert_eq!(list[0]["name"], "primary");
    let shown = env.cli(&["app", "show", &cid]);
    assert_eq!(shown["secrets"].as_array().unwrap().len(), 1);
    assert!(!shown.to_string().contains(&secret));
    assert_eq!(
        env.cli(&["app", "list", "--tenant", &gw_id])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(env.cli(&["tenant", "list"]).as_array().unwrap().len(), 2);
    assert_eq!(env.cli(&["tenant", "show", &gw_id])["name"], "Gateway");
    let deleted = env.cli(&["tenant", "delete", &s(&m["id"])]);
    assert_eq!(deleted["status"], "deleted");
    let del = env.cli(&["secret", "delete", "--app", &cid, &s(&sec["id"])]);
    assert_eq!(del["deleted"], true);
    let gone = env.cli(&["app", "delete", &cid]);
    assert_eq!(gone["status"], "deleted");
}

#[test]
fn bad_input_gives_one_clear_error_and_a_nonzero_exit() {
    let env = Env::new();
    for (args, needle) in [
        (vec!["tenant", "show", "nope"], "not a tenant id"),
        (
            vec!["tenant", "show", "6b0c1f4e-3f5e-4a39-9d53-1d2f5b8f0a11"],
            "tenant not found",
        ),
        (vec!["tenant", "create", "--name", ""], "name must be"),
        (
            vec!["tenant", "create", "--name", "x", "--kind", "Bad Kind"],
            "kind must be",
        ),
        (
            vec![
                "app",
                "create",
                "--tenant",
                "6b0c1f4e-3f5e-4a39-9d53-1d2f5b8f0a11",
                "--name",
                "a",
                "--role",
                "merchant",
            ],
            "tenant not found",
        ),
        (
            vec![
                "secret",
                "create",
                "--app",
                "6b0c1f4e-3f5e-4a39-9d53-1d2f5b8f0a11",
                "--name",
                "a",
                "--days",
                "731",
            ],
            "1 to 730 days",
        ),
        (
            vec!["keys", "rotate", "--alg", "HS256"],
            "unsupported algorithm",
        ),
        (
            vec![
                "app", "create", "--tenant", "x", "--name", "a", "--role", "merchant",
            ],
            "not a tenant id",
        ),
        (vec!["secret", "list", "--app", "x"], "not a client id"),
        (vec!["secret", "expiring", "--within", "14"], "14h or 14d"),
        (vec!["audit", "--since", "yesterday"], "RFC 3339"),
    ] {
        let (ok, out, err) = env.try_cli(&args);
        assert!(!ok, "{args:?} succeeded");
        assert_eq!(out, serde_json::Value::Null, "{args:?}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
    let t = env.cli(&["tenant", "create", "--name", "T"]);
    let (ok, _, err) = env.try_cli(&[
        "app",
        "create",
        "--tenant",
        &s(&t["id"]),
        "--name",
        "a",
        "--role",
        "nope",
    ]);
    assert!(!ok && err.contains("unknown role"), "{err}");
}

#[test]
fn config_roles_extend_the_catalog_and_bad_configs_are_refused() {
    let env =
        Env::with_config("[[roles]]\nname = \"resource-server\"\nscopes = [\"introspect\"]\n");
    let t = env.cli(&["tenant", "create", "--name", "T"]);
    env.cli(&[
        "app",
        "create",
        "--tenant",
        &s(&t["id"]),
        "--name",
        "rs",
        "--role",
        "resource-server",
    ]);
    let bad = Env::with_config("[tokens]\nalgorithm = \"none\"\n");
    let (ok, _, err) = bad.try_cli(&["tenant", "list"]);
    assert!(!ok && err.contains("unsupported algorithm"), "{err}");
    let typo = Env::with_config("[tokens]\nttl = 5\n");
    let (ok, _, err) = typo.try_cli(&["validate-config"]);
    assert!(!ok && err.contains("unknown field"), "{err}");
}

#[test]
fn several_cli_processes_beside_a_running_server_never_see_a_locked_database() {
    let env = Env::new();
    let _srv = env.serve();
    let t = env.cli(&["tenant", "create", "--name", "T"]);
    let tid = s(&t["id"]);
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let mut cmd = env.command();
            cmd.args([
                "app",
                "create",
                "--tenant",
                &tid,
                "--name",
                &format!("app{i}"),
                "--role",
                "merchant",
            ]);
            std::thread::spawn(move || cmd.output().unwrap())
        })
        .collect();
    for h in handles {
        let out = h.join().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        env.cli(&["app", "list", "--tenant", &tid])
            .as_array()
            .unwrap()
            .len(),
        8
    );
}

#[test]
fn demo_prints_a_working_curl() {
    let env = Env::new();
    let srv = env.serve_with(&["--demo"]);
    let demo = &srv.info["demo"];
    let curl = s(&demo["curl"]);
    assert!(curl.starts_with("curl -s -u '"));
    let c = crate::harness::Client {
        tenant_id: String::new(),
        client_id: s(&demo["client_id"]),
        secret_id: s(&demo["id"]),
        secret: s(&demo["secret"]),
    };
    assert_eq!(
        srv.token_basic(&c, "grant_type=client_credentials").status,
        200
    );
    // A second start keeps the demo client and replaces its secret.
    drop(srv);
    let srv = env.serve_with(&["--demo"]);
    assert_eq!(srv.info["demo"]["client_id"], c.client_id.as_str());
    assert_eq!(
        srv.token_basic(&c, "grant_type=client_credentials").status,
        401
    );
}
