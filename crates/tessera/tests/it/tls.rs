//! HTTPS (issue #11): a certificate made here with openssl, a token fetched through Python's
//! `requests` trusting that CA, then the certificate swapped on disk and picked up while the
//! server runs. Needs `openssl` and `python3 -m requests`; without them the tests skip with a
//! note, unless `TESSERA_REQUIRE_PYTHON=1` (which CI sets).

use crate::harness::Env;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn tools_present() -> bool {
    let openssl = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !openssl {
        assert!(
            std::env::var_os("TESSERA_REQUIRE_PYTHON").is_none(),
            "openssl is required (TESSERA_REQUIRE_PYTHON is set)"
        );
        eprintln!("skipped: openssl is missing");
        return false;
    }
    crate::harness::python_has("requests")
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA `name`.ca.pem and a server certificate for 127.0.0.1 signed by it, `name`.crt/.key.
fn make_cert(dir: &Path, name: &str) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let ca_key = format!("{name}.ca.key");
    let ca = format!("{name}.ca.pem");
    let mut args = vec!["req", "-x509", "-days", "2", "-subj"];
    let ca_subj = format!("/CN=tessera test CA {name}");
    args.extend([ca_subj.as_str(), "-keyout", &ca_key, "-out", &ca]);
    args.extend(ec);
    openssl(dir, &args);
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let mut args = vec![
        "req",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &key,
        "-out",
        &csr,
    ];
    args.extend(ec);
    openssl(dir, &args);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    let crt = format!("{name}.crt");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-extfile",
            "san.ext",
            "-out",
            &crt,
        ],
    );
}

/// Asks for a token through Python `requests`, trusting `ca`; returns the HTTP status, or 0
/// when the TLS handshake failed (an untrusted certificate).
fn python_token(issuer: &str, ca: &Path, id: &str, secret: &str) -> u16 {
    let script = r#"
import sys, requests
issuer, ca, cid, secret = sys.argv[1:5]
try:
    meta = requests.get(issuer + "/.well-known/oauth-authorization-server", verify=ca, timeout=5).json()
    assert meta["issuer"] == issuer and meta["token_endpoint"].startswith("https://"), meta
    r = requests.post(meta["token_endpoint"], auth=(cid, secret),
                      data={"grant_type": "client_credentials"}, verify=ca, timeout=5)
    if r.status_code == 200:
        assert r.json()["token_type"] == "Bearer"
    print(r.status_code)
except requests.exceptions.SSLError:
    print(0)
"#;
    let out = Command::new("python3")
        .args(["-c", script, issuer])
        .arg(ca)
        .args([id, secret])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("python: {text} {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn https_round_trip_and_a_certificate_swap_while_running() {
    if !tools_present() {
        return;
    }
    let env = Env::new();
    let c = env.client("merchant");
    let dir = env.dir.path();
    make_cert(dir, "one");
    make_cert(dir, "two");
    std::fs::copy(dir.join("one.crt"), dir.join("server.crt")).unwrap();
    std::fs::copy(dir.join("one.key"), dir.join("server.key")).unwrap();
    let cert = dir.join("server.crt").display().to_string();
    let key = dir.join("server.key").display().to_string();
    let srv = env.serve_with(&["--tls-cert", &cert, "--tls-key", &key]);
    let issuer = srv.issuer();
    assert!(issuer.starts_with("https://127.0.0.1:"), "{issuer}");
    assert_eq!(
        python_token(&issuer, &dir.join("one.ca.pem"), &c.client_id, &c.secret),
        200
    );
    assert_eq!(
        python_token(&issuer, &dir.join("two.ca.pem"), &c.client_id, &c.secret),
        0
    );
    // Plain HTTP on the TLS port gets nowhere.
    let plain = reqwest::blocking::Client::new()
        .get(issuer.replace("https://", "http://") + "/healthz")
        .send();
    assert!(plain.map(|r| r.status().as_u16() != 200).unwrap_or(true));

    // Rotation as a secret mount does it: the new files renamed into place.
    for (from, to) in [("two.key", "server.key"), ("two.crt", "server.crt")] {
        std::fs::copy(dir.join(from), dir.join(format!("{to}.new"))).unwrap();
        std::fs::rename(dir.join(format!("{to}.new")), dir.join(to)).unwrap();
    }
    srv.eventually(Duration::from_secs(10), || {
        python_token(&issuer, &dir.join("two.ca.pem"), &c.client_id, &c.secret) == 200
    });
    assert_eq!(
        python_token(&issuer, &dir.join("one.ca.pem"), &c.client_id, &c.secret),
        0
    );
    assert!(
        srv.log_text().contains("TLS certificate reloaded"),
        "{}",
        srv.log_text()
    );
}

/// Without TLS the server says at start that a TLS-terminating proxy is expected; a certificate
/// without its key is refused with one line.
#[test]
fn plain_http_says_a_proxy_is_expected_and_half_a_tls_config_is_refused() {
    let env = Env::new();
    let srv = env.serve();
    srv.eventually(Duration::from_secs(5), || {
        srv.log_text().contains("TLS-terminating proxy is expected")
    });
    let mut env = Env::new();
    env.set_config("tls_cert = \"/nonexistent.pem\"\n");
    let (ok, _, err) = env.try_cli(&["validate-config"]);
    assert!(
        !ok && err.contains("tls_cert and tls_key go together"),
        "{err}"
    );
    let (ok, _, err) = Env::new().try_cli(&["serve", "--tls-cert", "/x.pem"]);
    assert!(!ok && err.contains("--tls-key"), "{err}");
}
