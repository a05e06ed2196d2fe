//! The Developer Hub in a real browser: Debian's Chromium, headless, driven through chromedriver
//! (WebDriver), through the Basys document's whole flow. Screenshots of each page land in
//! `target/hub-screenshots/`. Without Chromium the test skips with a note, unless
//! TESSERA_REQUIRE_BROWSER is set (CI), where that is a failure.

use crate::harness::{Client, Env, Server};
use crate::hub::{PASSWORD, invite, tenant};
use fantoccini::{ClientBuilder, Locator};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn browser_available() -> bool {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present {
        assert!(
            std::env::var_os("TESSERA_REQUIRE_BROWSER").is_none(),
            "{CHROMIUM} and {CHROMEDRIVER} are required (TESSERA_REQUIRE_BROWSER is set): apt-get install chromium chromium-driver"
        );
        eprintln!(
            "skipped: {CHROMIUM} or {CHROMEDRIVER} missing (apt-get install chromium chromium-driver)"
        );
    }
    present
}

/// A headless Chromium behind its own chromedriver, with blocking methods (the harness's HTTP
/// client is blocking, so the test runs its own runtime for the browser only).
struct Browser {
    rt: tokio::runtime::Runtime,
    c: Option<fantoccini::Client>,
    driver: Child,
    _profile: tempfile::TempDir,
    shots: PathBuf,
}

impl Browser {
    fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                    "--window-size=1280,900", format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let c = rt
            .block_on(
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps)
                    .connect(&format!("http://127.0.0.1:{port}")),
            )
            .unwrap();
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/hub-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            rt,
            c: Some(c),
            driver,
            _profile: profile,
            shots,
        }
    }

    fn c(&self) -> &fantoccini::Client {
        self.c.as_ref().unwrap()
    }

    fn goto(&self, url: &str) {
        self.rt.block_on(self.c().goto(url)).unwrap();
    }

    fn url(&self) -> String {
        self.rt
            .block_on(self.c().current_url())
            .unwrap()
            .to_string()
    }

    fn source(&self) -> String {
        self.rt.block_on(self.c().source()).unwrap()
    }

    fn fill(&self, css: &str, text: &str) {
        self.rt.block_on(async {
            let e = self.c().find(Locator::Css(css)).await.unwrap();
            e.clear().await.unwrap();
            e.send_keys(text).await.unwrap();
        });
    }

    fn click(&self, css: &str) {
        self.rt
            .block_on(async { self.c().find(Locator::Css(css)).await?.click().await })
            .unwrap_or_else(|e| panic!("click {css}: {e}\n{}", self.source()));
    }

    /// Clicks the link or button whose visible text is `text`.
    fn click_text(&self, text: &str) {
        let xpath = format!("//*[(self::a or self::button) and normalize-space(.)='{text}']");
        self.rt
            .block_on(async { self.c().find(Locator::XPath(&xpath)).await?.click().await })
            .unwrap_or_else(|e| panic!("click {text:?}: {e}\n{}", self.source()));
    }

    fn value(&self, css: &str) -> String {
        self.rt
            .block_on(async { self.c().find(Locator::Css(css)).await?.prop("value").await })
            .unwrap()
            .unwrap_or_default()
    }

    fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.rt
            .block_on(async { self.c().find(Locator::Css(css)).await?.attr(name).await })
            .unwrap()
    }

    fn script(&self, js: &str) -> serde_json::Value {
        self.rt.block_on(self.c().execute(js, vec![])).unwrap()
    }

    fn back(&self) {
        self.rt.block_on(self.c().back()).unwrap();
    }

    fn refresh(&self) {
        self.rt.block_on(self.c().refresh()).unwrap();
    }

    fn resize(&self, w: u32, h: u32) {
        self.rt.block_on(self.c().set_window_size(w, h)).unwrap();
    }

    fn shot(&self, name: &str) {
        let png = self.rt.block_on(self.c().screenshot()).unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// Waits until the page shows `text` (a click's navigation may still be under way) and
    /// returns its source.
    fn expect(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let src = self.source();
            if src.contains(text) {
                return src;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no {text:?} in {src}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn eventually(&self, what: &str, mut f: impl FnMut(&Browser) -> bool) {
        let start = Instant::now();
        while !f(self) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{what}: {}",
                self.source()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(c) = self.c.take() {
            let _ = self.rt.block_on(c.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn token_status(server: &Server, client_id: &str, secret: &str) -> u16 {
    server
        .token_basic(
            &Client {
                tenant_id: String::new(),
                client_id: client_id.to_owned(),
                secret_id: String::new(),
                secret: secret.to_owned(),
            },
            "grant_type=client_credentials",
        )
        .status
}

/// The Basys document's flow, as a Gateway Admin would click it.
#[test]
fn document_flow_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let env = Env::new();
    let t = tenant(&env, "Acme Payments", "gateway", None);
    let link = invite(&env, &t, "admin@acme.example", "admin");
    let server = env.serve();
    let b = Browser::start();

    // The one-time link: set the password, which signs in.
    b.goto(&server.url(&link));
    assert!(
        b.url().ends_with("/hub/setup"),
        "the code left the address bar: {}",
        b.url()
    );
    b.shot("01-set-password");
    b.fill("#password", PASSWORD);
    b.fill("#confirm", PASSWORD);
    b.click_text("Set password and sign in");
    b.expect("No applications yet.");

    // Sign out, then sign in with the form.
    b.click_text("Sign out");
    b.expect("Sign in");
    assert!(b.url().ends_with("/hub/login"));
    b.fill("#email", "admin@acme.example");
    b.fill("#password", "a wrong password!");
    b.click_text("Sign in");
    b.expect("The email or password is wrong.");
    b.shot("02-sign-in-refused");
    b.fill("#email", "admin@acme.example");
    b.fill("#password", PASSWORD);
    b.click_text("Sign in");
    b.expect("No applications yet.");
    let list = b.url();
    assert!(
        list.ends_with(&format!("/hub/tenants/{t}/applications")),
        "{list}"
    );
    b.shot("03-applications-empty");

    // Developer Hub → Applications → Create New: name and role.
    b.click_text("Create New");
    b.expect("Create New application");
    b.shot("04-create-new");
    b.fill("#name", "Checkout");
    b.click("input[name=role][value=merchant]");
    b.click_text("Create");
    b.expect("+ Add Secret");
    let details = b.url();
    assert!(details.contains("/hub/applications/"), "{details}");
    let client_id = b.value("#client-id");
    assert_eq!(details.rsplit('/').next().unwrap(), client_id);
    assert!(
        b.source().contains("PaymentTokenization"),
        "the role's scopes are shown"
    );
    b.shot("05-details");

    // "+ Add Secret": the "Record Your Secret" modal shows it once, with the API key.
    b.fill("#secret-name", "production");
    b.fill("#days", "90");
    b.click_text("+ Add Secret");
    b.expect("Record Your Secret");
    let secret = b.value("#secret-value");
    assert!(secret.starts_with("tsk_"), "{secret}");
    let api_key = b.value("#api-key");
    use base64::Engine as _;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&api_key)
            .unwrap(),
        format!("{client_id}:{secret}").into_bytes()
    );
    b.click("[data-copy=secret-value]");
    b.eventually("the copy button confirms", |b| {
        b.attr("[data-copy=secret-value]", "data-copied").as_deref() == Some("true")
    });
    b.shot("06-record-your-secret");
    assert_eq!(token_status(&server, &client_id, &secret), 200);

    // Back from the Details View does not bring it back (Chromium's back/forward cache keeps
    // no-store pages unless a cookie changed), nor does a reload after that.
    b.click_text("I have recorded it");
    b.expect("+ Add Secret");
    b.back();
    let src = b.expect("shown once");
    assert!(
        !src.contains(&secret) && !src.contains(&api_key),
        "Back showed the secret again"
    );
    b.shot("07-back-shows-nothing");
    b.refresh();
    let src = b.expect("shown once");
    assert!(!src.contains(&secret));
    b.goto(&details);

    // A second secret reaches the limit of two: the form gives way to the explanation.
    b.fill("#secret-name", "next");
    b.click_text("+ Add Secret");
    b.expect("Record Your Secret");
    let second = b.value("#secret-value");
    // Reload: gone; the page source now has no trace of it.
    b.refresh();
    let src = b.expect("shown once");
    assert!(!src.contains(&second), "a reload showed the secret again");
    b.shot("08-reload-shows-nothing");
    b.click_text("Back");
    let src = b.expect("the limit");
    assert!(!src.contains("+ Add Secret"), "{src}");
    assert!(src.contains("delete one (X) or rotate it"));
    b.shot("09-secret-limit");

    // The X deletes a secret after a warning; the token endpoint refuses it at once.
    b.click("a[aria-label='X: delete secret production']");
    b.expect("break at once");
    b.shot("10-delete-secret-confirm");
    b.click_text("Delete secret");
    b.expect("+ Add Secret");
    assert_eq!(token_status(&server, &client_id, &secret), 401);
    assert_eq!(token_status(&server, &client_id, &second), 200);

    // A phone's width: no sideways scrolling.
    b.resize(390, 844);
    let fits = b.script("return document.documentElement.scrollWidth <= window.innerWidth + 1;");
    assert_eq!(fits, serde_json::Value::Bool(true));
    b.shot("11-details-phone");
    b.resize(1280, 900);

    // Delete Application, from the Details View, behind its warning.
    b.click_text("Delete Application");
    b.expect("This cannot be undone");
    b.click_text("Delete Application");
    b.expect("No applications yet.");
    assert!(b.url().ends_with(&format!("/hub/tenants/{t}/applications")));
    assert_eq!(token_status(&server, &client_id, &second), 401);
    b.shot("12-application-deleted");

    // The audit trail names the person.
    // (The server appends audit events in the background, within a second.)
    b.eventually("the audit trail shows the deletion", |b| {
        b.click_text("Audit trail");
        let src = b.expect("Who did what");
        src.contains("admin@acme.example") && src.contains("application.delete")
    });
    b.shot("13-audit-trail");

    // Sign out; Back shows nothing of the console.
    b.click_text("Sign out");
    b.expect("Sign in");
    b.back();
    let src = b.expect("Sign in");
    assert!(
        !src.contains("Audit trail") && !src.contains(&client_id),
        "{src}"
    );
}

/// iPOSpays' words for a merchant: Settings → "Generate API & Secret Key", "Generate Keys", the
/// secret masked with a reveal toggle, "Reset Secret Key".
#[test]
fn ipospays_keys_page_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let env = Env::new();
    let t = tenant(&env, "Corner Shop", "merchant", None);
    let link = invite(&env, &t, "owner@shop.example", "admin");
    let server = env.serve();
    let b = Browser::start();
    b.goto(&server.url(&link));
    b.fill("#password", PASSWORD);
    b.fill("#confirm", PASSWORD);
    b.click_text("Set password and sign in");
    b.expect("No applications yet.");
    b.click_text("Settings");
    b.expect("Generate API &amp; Secret Key");
    b.click_text("Generate Keys");
    b.expect("shown this once");
    let api_key = b.value("#api-key");
    assert_eq!(b.attr("#secret-key", "type").as_deref(), Some("password"));
    b.click("[data-reveal=secret-key]");
    assert_eq!(b.attr("#secret-key", "type").as_deref(), Some("text"));
    let secret = b.value("#secret-key");
    b.shot("14-ipospays-keys");
    let ipos = |secret: &str| {
        let a = server.post(
            "/v1/authenticate-token",
            "application/json",
            b"{}".to_vec(),
            &[
                ("apiKey", api_key.as_str()),
                ("secretKey", secret),
                ("scope", "PaymentTokenization"),
            ],
        );
        eprintln!("{}", a.text);
        a.status
    };
    assert_eq!(ipos(&secret), 200);
    b.refresh();
    let src = b.expect("was shown once");
    assert!(!src.contains(&secret));
    b.click_text("Reset Secret Key");
    b.expect("shown this once");
    let fresh = b.value("#secret-key");
    assert_ne!(fresh, secret);
    assert_eq!(ipos(&fresh), 200);
    assert_eq!(ipos(&secret), 401, "the reset secret stops at once");
}
