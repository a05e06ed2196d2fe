//! The black-box harness: each test gets its own data directory, starts the real `tessera`
//! binary on an OS-assigned port with a scrubbed environment, and talks HTTP to it.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_tessera");

/// A data directory with a database, and the CLI pointed at it.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: Option<PathBuf>,
    /// A PostgreSQL URL; SQLite in `dir` when `None`.
    pub postgres: Option<String>,
}

/// The master key of PostgreSQL environments (every node of one deployment shares it).
pub const PG_MASTER_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            config: None,
            postgres: None,
        }
    }

    /// Gives this environment a config file.
    pub fn set_config(&mut self, toml: &str) {
        let p = self.dir.path().join("tessera.toml");
        std::fs::write(&p, toml).unwrap();
        self.config = Some(p);
    }

    /// An environment on a fresh PostgreSQL database of `cluster`.
    pub fn postgres(cluster: &tessera_testkit::PgCluster) -> Env {
        Env {
            postgres: Some(cluster.database()),
            ..Env::new()
        }
    }

    /// An environment whose server and CLI read this TOML config.
    pub fn with_config(toml: &str) -> Env {
        let mut e = Env::new();
        let p = e.dir.path().join("tessera.toml");
        std::fs::write(&p, toml).unwrap();
        e.config = Some(p);
        e
    }

    pub fn database(&self) -> String {
        match &self.postgres {
            Some(url) => url.clone(),
            None => format!("sqlite://{}/tessera.db", self.dir.path().display()),
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("tessera.db")
    }

    /// A command for the binary with a scrubbed environment.
    pub fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TESSERA_DATABASE_URL", self.database())
            .current_dir(self.dir.path());
        if let Some(cfg) = &self.config {
            c.env("TESSERA_CONFIG", cfg);
        }
        if self.postgres.is_some() {
            c.env("TESSERA_MASTER_KEY", PG_MASTER_KEY);
        }
        c
    }

    /// Runs a CLI command; returns (exit ok, stdout JSON or Null, stderr).
    pub fn try_cli(&self, args: &[&str]) -> (bool, Value, String) {
        let out = self.command().args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let v = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
        (
            out.status.success(),
            v,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs a CLI command that must succeed.
    pub fn cli(&self, args: &[&str]) -> Value {
        let (ok, v, err) = self.try_cli(args);
        assert!(ok, "tessera {args:?} failed: {err}");
        v
    }

    /// A tenant, an application with `role` and one secret.
    pub fn client(&self, role: &str) -> Client {
        let t = self.cli(&["tenant", "create", "--name", "Tenant", "--kind", "merchant"]);
        let tenant_id = s(&t["id"]);
        self.client_of(&tenant_id, role)
    }

    /// An application with `role` and one secret in an existing tenant.
    pub fn client_of(&self, tenant_id: &str, role: &str) -> Client {
        let a = self.cli(&[
            "app", "create", "--tenant", tenant_id, "--name", "App", "--role", role,
        ]);
        let client_id = s(&a["client_id"]);
        let sec = self.cli(&["secret", "create", "--app", &client_id, "--name", "first"]);
        Client {
            tenant_id: tenant_id.to_owned(),
            client_id,
            secret_id: s(&sec["id"]),
            secret: s(&sec["secret"]),
        }
    }

    /// Starts a server on this environment.
    pub fn serve(&self) -> Server {
        self.serve_with(&[])
    }

    pub fn serve_with(&self, extra: &[&str]) -> Server {
        let log = self.dir.path().join(format!("server-{}.log", unique()));
        let mut cmd = self.command();
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("TESSERA_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) if !l.is_empty() => l,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "server did not start: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        let info: Value = serde_json::from_str(&line).unwrap();
        Server {
            child,
            base: format!("http://{}", s(&info["listening"])),
            info,
            log,
            http: reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }
}

pub fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

fn unique() -> usize {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

pub struct Client {
    pub tenant_id: String,
    pub client_id: String,
    pub secret_id: String,
    pub secret: String,
}

pub struct Server {
    pub child: Child,
    pub base: String,
    pub info: Value,
    pub log: PathBuf,
    pub http: reqwest::blocking::Client,
}

/// An HTTP answer, read completely.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

pub fn answer(r: reqwest::blocking::Response) -> Answer {
    Answer {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        text: r.text().unwrap(),
    }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn issuer(&self) -> String {
        s(&self.info["issuer"])
    }

    pub fn get(&self, path: &str) -> Answer {
        answer(self.http.get(self.url(path)).send().unwrap())
    }

    /// POSTs a body with a content type and optional extra headers.
    pub fn post(&self, path: &str, ctype: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> Answer {
        let mut req = self
            .http
            .post(self.url(path))
            .header("content-type", ctype)
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        answer(req.send().unwrap())
    }

    /// A form POST to the token endpoint.
    pub fn token_form(&self, form: &str, headers: &[(&str, &str)]) -> Answer {
        self.post(
            "/oauth2/token",
            "application/x-www-form-urlencoded",
            form.as_bytes().to_vec(),
            headers,
        )
    }

    /// client_secret_basic with plain (unencoded) id and secret.
    pub fn token_basic(&self, c: &Client, form: &str) -> Answer {
        let auth = basic(&c.client_id, &c.secret);
        self.token_form(form, &[("authorization", &auth)])
    }

    /// Polls `f` until it holds or `within` passes; returns how long it took.
    pub fn eventually(&self, within: Duration, mut f: impl FnMut() -> bool) -> Duration {
        let start = Instant::now();
        loop {
            if f() {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < within,
                "condition not met within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the server with SIGTERM and waits.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status
    }

    /// Kills the server with SIGKILL.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::forget(self);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

/// Percent-encodes every byte that is not alphanumeric, as openid-client does before Basic.
pub fn encode_all(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Runs SQL against a test database, as time passing or a crash would leave it: used only to
/// make a secret expire without waiting a day. Bumps the change counter like every writer does.
pub fn expire_secret(db: &Path, secret_id: &str) {
    let url = format!("sqlite://{}", db.display());
    let id = secret_id.to_owned();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            let mut tx = c.begin().await.unwrap();
            let seq: i64 = sqlx::query_scalar(
                "UPDATE change_seq SET value = value + 1 WHERE id = 1 RETURNING value",
            )
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            sqlx::query("UPDATE secrets SET expires_at = 1000, seq = ? WHERE id = ?")
                .bind(seq)
                .bind(&id)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        });
}

/// Whether the python3 on PATH can import `module` (a client tessera did not write). Without it
/// the calling test skips, unless TESSERA_REQUIRE_PYTHON is set (CI), where that is a failure.
pub fn python_has(module: &str) -> bool {
    let present = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        assert!(
            std::env::var_os("TESSERA_REQUIRE_PYTHON").is_none(),
            "python3 with {module} is required (TESSERA_REQUIRE_PYTHON is set)"
        );
        eprintln!("skipped: python3 cannot import {module}");
    }
    present
}
