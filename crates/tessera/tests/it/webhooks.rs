//! Secret-expiry webhooks: a receiver tessera did not write (Python with the Standard Webhooks
//! reference library) verifies each notice's signature, and with two nodes running it gets
//! exactly one notice per expiring secret, retried after a failed delivery.

use crate::harness::{Env, python_has, s};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A receiver: verifies each POST with `standardwebhooks` and appends what it saw to a file.
const RECEIVER: &str = r#"
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from standardwebhooks.webhooks import Webhook
secret, out = sys.argv[1], sys.argv[2]
calls = [0]
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        calls[0] += 1
        # The first delivery fails, to make tessera retry.
        status = 503 if calls[0] == 1 else 204
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            data = Webhook(secret).verify(body, headers)
            seen = {"ok": True, "id": headers["webhook-id"], "data": data}
        except Exception as e:
            seen = {"ok": False, "error": str(e)}
        seen["status"] = status
        with open(out, "a") as f:
            f.write(json.dumps(seen) + "\n")
        self.send_response(status)
        self.end_headers()
    def log_message(self, *a):
        pass
s = HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

struct Receiver(Child);

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn two_nodes_send_one_signed_notice_per_expiring_secret() {
    if !python_has("standardwebhooks") {
        return;
    }
    let env = Env::with_config(
        "[webhooks]\nallow_private_addresses = true\ncheck_interval_seconds = 1\n",
    );
    let c = env.client("merchant");
    // The harness's secret lasts a year; one more that expires in three days.
    let soon = env.cli(&[
        "secret",
        "create",
        "--app",
        &c.client_id,
        "--name",
        "soon",
        "--days",
        "3",
    ]);
    let out = env.dir.path().join("received.jsonl");
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let url = format!("http://127.0.0.1:{port}/hook");
    let hook = env.cli(&["webhook", "set", "--tenant", &c.tenant_id, "--url", &url]);
    let secret = s(&hook["secret"]);
    assert!(secret.starts_with("whsec_"), "{hook}");
    let shown = env.cli(&["webhook", "show", "--tenant", &c.tenant_id]);
    assert_eq!(shown["url"], url.as_str());
    assert!(shown.get("secret").is_none(), "shown once only: {shown}");
    let receiver = receive_on(&secret, &out, port);

    let one = env.serve();
    let two = env.serve();
    let deadline = Instant::now() + Duration::from_secs(20);
    let read = || -> Vec<Value> {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    while !read().iter().any(|n| n["status"] == 204) {
        assert!(
            Instant::now() < deadline,
            "no notice was delivered: {:?}",
            read()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Both nodes have had several rounds by now.
    std::thread::sleep(Duration::from_secs(3));
    let seen = read();
    // The refused first attempt, then its retry: the same message, and nothing more.
    assert_eq!(seen.len(), 2, "one notice, retried once: {seen:?}");
    assert_eq!(seen[0]["status"], 503);
    assert_eq!(seen[0]["id"], seen[1]["id"], "a retry keeps its webhook-id");
    let n = &seen[1];
    assert_eq!(n["ok"], true, "the signature verifies: {n}");
    assert_eq!(n["data"]["type"], "secret.expiring");
    assert_eq!(n["data"]["data"]["secret_id"], soon["id"]);
    assert_eq!(n["data"]["data"]["client_id"], c.client_id.as_str());
    assert_eq!(n["data"]["data"]["days_left"], 2);
    drop((one, two, receiver));
}

fn receive_on(secret: &str, out: &std::path::Path, port: u16) -> Receiver {
    let script = RECEIVER.replace("(\"127.0.0.1\", 0)", &format!("(\"127.0.0.1\", {port})"));
    let mut child = Command::new("python3")
        .args(["-c", &script, secret, out.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    Receiver(child)
}

/// Without `allow_private_addresses`, a webhook may not point at the internal network or use
/// plain http, through the CLI or the API.
#[test]
fn webhook_urls_may_not_reach_private_addresses() {
    let env = Env::new();
    let c = env.client("merchant");
    for url in [
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "https://localhost/x",
    ] {
        let (ok, _, err) = env.try_cli(&["webhook", "set", "--tenant", &c.tenant_id, "--url", url]);
        assert!(!ok, "{url} was accepted");
        assert!(err.contains("webhook URL"), "{err}");
    }
    let hook = env.cli(&[
        "webhook",
        "set",
        "--tenant",
        &c.tenant_id,
        "--url",
        "https://hooks.example.com/x",
    ]);
    assert_eq!(hook["url"], "https://hooks.example.com/x");
}
