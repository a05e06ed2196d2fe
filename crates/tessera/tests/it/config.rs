//! Configuration from the environment and `tessera config check` (#11 item 4): every config key
//! has a `TESSERA_*` variable, precedence is flag > env > file > default, unknown keys and
//! unknown variables are errors, and `config check` names each value's source with the
//! database password masked.

use crate::harness::{Env, s};
use serde_json::Value;

fn check(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> (bool, Value, String) {
    let mut cmd = env.command();
    cmd.args(["config", "check"]).args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn setting<'a>(v: &'a Value, key: &str) -> (&'a Value, String) {
    let e = &v["settings"][key];
    assert!(!e.is_null(), "no setting {key} in {v}");
    (&e["value"], s(&e["source"]))
}

#[test]
fn each_value_names_its_source_flag_over_env_over_file_over_default() {
    let env = Env::with_config(
        "[tokens]\nttl_seconds = 900\nalgorithm = \"EdDSA\"\n[limits]\ntrusted_proxies = [\"10.0.0.0/8\"]\n",
    );
    let file = env.dir.path().join("tessera.toml").display().to_string();
    let (ok, v, err) = check(
        &env,
        &[
            ("TESSERA_TOKENS__TTL_SECONDS", "600"),
            ("TESSERA_METRICS__ENABLED", "false"),
            ("TESSERA_DIALECTS__BASIQ__ENABLED", "false"),
            (
                "TESSERA_DATABASE",
                "postgres://tessera:hunter2@db.internal/tessera",
            ),
        ],
        &[],
    );
    assert!(ok, "{err}");
    assert_eq!(v["valid"], true);
    let (val, src) = setting(&v, "tokens.ttl_seconds");
    assert_eq!(
        (val.as_u64(), src.as_str()),
        (Some(600), "env TESSERA_TOKENS__TTL_SECONDS")
    );
    let (val, src) = setting(&v, "tokens.algorithm");
    assert_eq!((val.as_str(), src), (Some("EdDSA"), format!("file {file}")));
    let (val, src) = setting(&v, "limits.trusted_proxies");
    assert_eq!(val, &serde_json::json!(["10.0.0.0/8"]));
    assert_eq!(src, format!("file {file}"));
    let (val, src) = setting(&v, "keys.max_token_ttl_seconds");
    assert_eq!((val.as_u64(), src.as_str()), (Some(86_400), "default"));
    let (val, src) = setting(&v, "metrics.enabled");
    assert_eq!(
        (val.as_bool(), src.as_str()),
        (Some(false), "env TESSERA_METRICS__ENABLED")
    );
    let (val, _) = setting(&v, "dialects.basiq.enabled");
    assert_eq!(val.as_bool(), Some(false));
    // The harness sets TESSERA_DATABASE_URL (the --database flag's variable), which wins over
    // TESSERA_DATABASE; and no password is ever printed.
    let (val, src) = setting(&v, "database");
    assert_eq!(src, "env TESSERA_DATABASE_URL");
    assert_eq!(val.as_str(), Some(env.database().as_str()));
    let text = v.to_string();
    assert!(!text.contains("hunter2"), "{text}");

    // A flag over the environment: --database, with a password, masked.
    let (ok, v, err) = check(
        &env,
        &[],
        &["--database", "postgres://u:hunter2@db.internal/tessera"],
    );
    assert!(ok, "{err}");
    let (val, src) = setting(&v, "database");
    assert_eq!(src, "flag --database");
    assert_eq!(val.as_str(), Some("postgres://u:***@db.internal/tessera"));
}

#[test]
fn a_server_takes_its_settings_from_the_environment() {
    let env = Env::new();
    let c = env.client("merchant");
    let mut cmd = env.command();
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("TESSERA_TOKENS__TTL_SECONDS", "120")
        .env("TESSERA_ISSUER", "https://auth.env.example")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(info["issuer"], "https://auth.env.example");
    let base = format!("http://{}", s(&info["listening"]));
    let res: Value = reqwest::blocking::Client::new()
        .post(format!("{base}/oauth2/token"))
        .basic_auth(&c.client_id, Some(&c.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(res["expires_in"], 120, "{res}");
}

#[test]
fn unknown_keys_and_unknown_variables_are_errors() {
    let env = Env::new();
    for (var, value, says) in [
        (
            "TESSERA_TOKENS__TTL_SECONDZ",
            "60",
            "no config key tokens.ttl_secondz",
        ),
        (
            "TESSERA_LISTEN_ADDRESS",
            "0.0.0.0:80",
            "no config key listen_address",
        ),
        (
            "TESSERA_TOKENS__TTL_SECONDS",
            "an hour",
            "expected a number",
        ),
        (
            "TESSERA_DIALECTS__BASIQ__NOPE",
            "1",
            "TESSERA_DIALECTS__BASIQ__NOPE",
        ),
        (
            "TESSERA_TOKENS__TTL_SECONDS",
            "0",
            "tokens.ttl_seconds must be at least 1",
        ),
    ] {
        let (ok, _, err) = check(&env, &[(var, value)], &[]);
        assert!(!ok, "{var}={value} was accepted");
        assert!(err.contains(says), "{var}: {err}");
        // Every command refuses, not only the check.
        let mut cmd = env.command();
        let out = cmd
            .args(["tenant", "list"])
            .env(var, value)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{var}: tenant list ran");
    }
    let typo = Env::with_config("[tokens]\nttl = 5\n");
    let (ok, _, err) = check(&typo, &[], &[]);
    assert!(!ok && err.contains("unknown field `ttl`"), "{err}");
    // The FILE argument is what gets checked.
    let good = typo.dir.path().join("good.toml");
    std::fs::write(&good, "[tokens]\nttl_seconds = 5\n").unwrap();
    let (ok, v, err) = check(&typo, &[], &[good.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(setting(&v, "tokens.ttl_seconds").0, 5);
}
