//! The Developer Hub over plain HTTP: the rules a browser cannot show directly (cookie flags,
//! CSRF, tenant isolation, roles, brute force, sessions across nodes). The document flow in a
//! real browser is in `hub_browser`.

use crate::harness::{Env, Server, basic, s};
use serde_json::Value;

pub const PASSWORD: &str = "correct horse battery staple";

/// The value of `name="NAME" value="..."` in a page (the CSRF field).
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// `name=value` of the Set-Cookie whose name ends in `suffix`.
fn set_cookie(a: &crate::harness::Answer, suffix: &str) -> Option<String> {
    a.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.split('=').next().unwrap().ends_with(suffix))
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// A person signed in over HTTP.
pub struct Browserless {
    pub cookie: String,
    pub csrf: String,
}

/// A tenant of `kind` (optionally under `parent`) and the id.
pub fn tenant(env: &Env, name: &str, kind: &str, parent: Option<&str>) -> String {
    let mut args = vec!["tenant", "create", "--name", name, "--kind", kind];
    if let Some(p) = parent {
        args.extend(["--parent", p]);
    }
    s(&env.cli(&args)["id"])
}

/// Adds a person with the CLI and returns the path of their setup link.
pub fn invite(env: &Env, tenant: &str, email: &str, role: &str) -> String {
    let v: Value = env.cli(&[
        "user", "create", "--tenant", tenant, "--email", email, "--role", role,
    ]);
    let link = s(&v["setup_link"]);
    assert!(link.contains("/hub/setup?code="), "{v}");
    link[link.find("/hub/").unwrap()..].to_owned()
}

/// Follows a setup link and sets the password; returns the session.
pub fn set_password(server: &Server, link_path: &str) -> Browserless {
    let a = server.get(link_path);
    assert_eq!(a.status, 303, "{a:?}");
    let setup = pair(&set_cookie(&a, "tessera-setup").unwrap());
    let a = server.post(
        "/hub/setup",
        "application/x-www-form-urlencoded",
        format!("password={p}&confirm={p}", p = PASSWORD.replace(' ', "+")).into_bytes(),
        &[("cookie", &setup)],
    );
    assert_eq!(a.status, 303, "{a:?}");
    session(server, &a)
}

fn session(server: &Server, a: &crate::harness::Answer) -> Browserless {
    let cookie = pair(&set_cookie(a, "tessera-session").unwrap());
    let to = a.header("location").unwrap();
    let page = server
        .http
        .get(server.url(&to))
        .header("cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().unwrap();
    Browserless {
        csrf: hidden(&html, "csrf"),
        cookie,
    }
}

/// Signs in through the form, from `address` (an X-Forwarded-For behind a trusted proxy).
pub fn sign_in(
    server: &Server,
    email: &str,
    password: &str,
    address: &str,
) -> crate::harness::Answer {
    let page = crate::harness::answer(server.http.get(server.url("/hub/login")).send().unwrap());
    let login = pair(&set_cookie(&page, "tessera-login").unwrap());
    let token = login.split('=').nth(1).unwrap().to_owned();
    server.post(
        "/hub/login",
        "application/x-www-form-urlencoded",
        format!(
            "csrf={token}&email={email}&password={}",
            password.replace(' ', "+")
        )
        .into_bytes(),
        &[("cookie", &login), ("x-forwarded-for", address)],
    )
}

impl Browserless {
    pub fn get(&self, server: &Server, path: &str) -> crate::harness::Answer {
        crate::harness::answer(
            server
                .http
                .get(server.url(path))
                .header("cookie", &self.cookie)
                .send()
                .unwrap(),
        )
    }

    /// A form POST with the session cookie; `csrf` is added unless `None`.
    pub fn post(
        &self,
        server: &Server,
        path: &str,
        form: &str,
        csrf: Option<&str>,
        extra: &[(&str, &str)],
    ) -> crate::harness::Answer {
        let body = match csrf {
            Some(t) => format!("csrf={t}&{form}"),
            None => form.to_owned(),
        };
        let mut headers = vec![("cookie", self.cookie.as_str())];
        headers.extend_from_slice(extra);
        server.post(
            path,
            "application/x-www-form-urlencoded",
            body.into_bytes(),
            &headers,
        )
    }
}

fn apps(env: &Env, tenant: &str) -> usize {
    env.cli(&["app", "list", "--tenant", tenant])
        .as_array()
        .unwrap()
        .len()
}

/// Session and sign-in cookies are HttpOnly, SameSite=Strict, path /, and under an https issuer
/// `Secure` with the `__Host-` prefix; every page has the strict headers.
#[test]
fn cookies_and_headers() {
    let env = Env::new();
    let t = tenant(&env, "Acme", "merchant", None);
    let link = invite(&env, &t, "alice@example.com", "admin");
    let server = env.serve();
    let me = set_password(&server, &link);
    let a = sign_in(&server, "alice@example.com", PASSWORD, "127.0.0.1");
    assert_eq!(a.status, 303, "{a:?}");
    let c = set_cookie(&a, "tessera-session").unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(c.contains(flag), "{c}");
    }
    assert!(!c.contains("Secure"), "plain http: {c}");
    let page = me.get(&server, &format!("/hub/tenants/{t}/applications"));
    assert_eq!(page.status, 200);
    assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(page.header("x-frame-options").as_deref(), Some("DENY"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    drop(server);

    let https = env.serve_with(&["--issuer", "https://hub.example"]);
    let a = https.get("/hub/login");
    let c = set_cookie(&a, "tessera-login").unwrap();
    assert!(c.starts_with("__Host-tessera-login="), "{c}");
    assert!(c.contains("Secure") && c.contains("HttpOnly"), "{c}");
}

/// A state-changing form without the session's CSRF token, with another's, or sent from another
/// origin is refused and changes nothing.
#[test]
fn forms_need_the_csrf_token_and_the_same_origin() {
    let env = Env::new();
    let t = tenant(&env, "Acme", "merchant", None);
    let link = invite(&env, &t, "alice@example.com", "admin");
    let server = env.serve();
    let me = set_password(&server, &link);
    let path = format!("/hub/tenants/{t}/applications");
    let form = "name=Shop&role=merchant";
    assert_eq!(me.post(&server, &path, form, None, &[]).status, 403);
    assert_eq!(
        me.post(&server, &path, form, Some("forged"), &[]).status,
        403
    );
    let evil = [("origin", "https://evil.example")];
    assert_eq!(
        me.post(&server, &path, form, Some(&me.csrf), &evil).status,
        403
    );
    let cross = [("sec-fetch-site", "cross-site")];
    assert_eq!(
        me.post(&server, &path, form, Some(&me.csrf), &cross).status,
        403
    );
    assert_eq!(apps(&env, &t), 0);
    // The sign-in form: its token must match the cookie that came with it.
    let a = server.post(
        "/hub/login",
        "application/x-www-form-urlencoded",
        format!(
            "csrf=x&email=alice@example.com&password={}",
            PASSWORD.replace(' ', "+")
        )
        .into_bytes(),
        &[("cookie", "tessera-login=y")],
    );
    assert_eq!(a.status, 403);
    // With the token, from the same origin, it works.
    let own = [("origin", server.base.as_str())];
    let a = me.post(&server, &path, form, Some(&me.csrf), &own);
    assert_eq!(a.status, 303, "{a:?}");
    assert_eq!(apps(&env, &t), 1);
}

/// Another tenant's objects answer 404, exactly like ids that do not exist; a child tenant's
/// are reachable; a viewer can look but not change anything.
#[test]
fn tenants_are_isolated_and_viewers_read_only() {
    let env = Env::new();
    let a_t = tenant(&env, "ISO A", "iso", None);
    let child = tenant(&env, "Merchant of A", "merchant", Some(&a_t));
    let b_t = tenant(&env, "ISO B", "iso", None);
    let b_app = s(&env.cli(&[
        "app", "create", "--tenant", &b_t, "--name", "B", "--role", "merchant",
    ])["client_id"]);
    let child_app = s(&env.cli(&[
        "app", "create", "--tenant", &child, "--name", "C", "--role", "merchant",
    ])["client_id"]);
    let admin_link = invite(&env, &a_t, "admin@a.example", "admin");
    let viewer_link = invite(&env, &a_t, "viewer@a.example", "viewer");
    let server = env.serve();
    let admin = set_password(&server, &admin_link);
    let viewer = set_password(&server, &viewer_link);

    for path in [
        format!("/hub/applications/{b_app}"),
        format!("/hub/tenants/{b_t}/applications"),
        format!("/hub/tenants/{b_t}/audit"),
        format!("/hub/applications/{}", uuid::Uuid::new_v4()),
        "/hub/applications/not-an-id".to_owned(),
    ] {
        assert_eq!(admin.get(&server, &path).status, 404, "{path}");
    }
    let a = admin.post(
        &server,
        &format!("/hub/applications/{b_app}/secrets"),
        "name=x&days=30",
        Some(&admin.csrf),
        &[],
    );
    assert_eq!(a.status, 404);
    assert_eq!(
        env.cli(&["secret", "list", "--app", &b_app])
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        admin
            .get(&server, &format!("/hub/applications/{child_app}"))
            .status,
        200
    );

    // The viewer sees, but every change is refused.
    let details = viewer.get(&server, &format!("/hub/applications/{child_app}"));
    assert_eq!(details.status, 200);
    assert!(!details.text.contains("+ Add Secret"));
    assert_eq!(
        viewer
            .get(&server, &format!("/hub/tenants/{a_t}/applications/new"))
            .status,
        403
    );
    let a = viewer.post(
        &server,
        &format!("/hub/applications/{child_app}/secrets"),
        "name=x&days=30",
        Some(&viewer.csrf),
        &[],
    );
    assert_eq!(a.status, 403);
    let a = viewer.post(
        &server,
        &format!("/hub/tenants/{a_t}/applications"),
        "name=V&role=merchant",
        Some(&viewer.csrf),
        &[],
    );
    assert_eq!(a.status, 403);
    assert_eq!(apps(&env, &a_t), 0);
    assert_eq!(
        env.cli(&["secret", "list", "--app", &child_app])
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // A console admin cannot hand out the deployment-wide admin role.
    let a = admin.post(
        &server,
        &format!("/hub/tenants/{a_t}/applications"),
        "name=Root&role=admin",
        Some(&admin.csrf),
        &[],
    );
    assert_eq!(a.status, 400);
    assert_eq!(apps(&env, &a_t), 0);

    // Every change is audited with the person as the actor.
    let a = admin.post(
        &server,
        &format!("/hub/tenants/{a_t}/applications"),
        "name=Shop&role=merchant",
        Some(&admin.csrf),
        &[],
    );
    assert_eq!(a.status, 303);
    // The server appends audit events in the background.
    server.eventually(std::time::Duration::from_secs(10), || {
        let audit = env.cli(&["audit", "--tenant", &a_t]);
        let by = |actor: &str, action: &str| {
            audit
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["actor"] == actor && e["action"] == action)
        };
        by("admin@a.example", "application.create") && by("viewer@a.example", "hub.set_password")
    });
}

/// A thousand wrong passwords from one address are cut off, and the real user, from their own
/// address, still signs in.
#[test]
fn wrong_passwords_do_not_lock_out_the_owner() {
    let env = Env::with_config("[limits]\ntrusted_proxies = [\"127.0.0.1\"]\n");
    let t = tenant(&env, "Acme", "merchant", None);
    let link = invite(&env, &t, "alice@example.com", "admin");
    let server = env.serve();
    set_password(&server, &link);
    let mut refused = 0;
    for _ in 0..1000 {
        let a = sign_in(
            &server,
            "alice@example.com",
            "wrong wrong wrong",
            "203.0.113.66",
        );
        match a.status {
            401 => {}
            429 => {
                assert!(a.header("retry-after").is_some());
                refused += 1;
            }
            other => panic!("{other}: {}", a.text),
        }
    }
    assert!(refused >= 900, "{refused}");
    let a = sign_in(&server, "alice@example.com", PASSWORD, "198.51.100.7");
    assert_eq!(a.status, 303, "{a:?}");
    // Whatever is typed as the email, the audit log holds at most an email's length of it.
    let long = "x".repeat(5000);
    assert_eq!(sign_in(&server, &long, "pw", "198.51.100.8").status, 401);
    server.eventually(std::time::Duration::from_secs(10), || {
        let audit = env.cli(&["audit"]);
        let events = audit.as_array().unwrap();
        assert!(events.iter().all(|e| s(&e["actor"]).len() <= 254));
        events.iter().any(|e| e["actor"] == "invalid-email")
    });
}

/// Sessions live in the database: one opened on one node works on another, and signing out or
/// deleting the person ends them on both.
#[test]
fn sessions_end_on_every_node() {
    let env = Env::new();
    let t = tenant(&env, "Acme", "merchant", None);
    let link = invite(&env, &t, "alice@example.com", "admin");
    let one = env.serve();
    let two = env.serve();
    let me = set_password(&one, &link);
    let page = format!("/hub/tenants/{t}/applications");
    assert_eq!(me.get(&two, &page).status, 200);
    let out = me.post(&two, "/hub/logout", "", Some(&me.csrf), &[]);
    assert_eq!(out.status, 303);
    assert_eq!(me.get(&one, &page).status, 303, "signed out everywhere");

    let a = sign_in(&one, "alice@example.com", PASSWORD, "127.0.0.1");
    let again = session(&one, &a);
    assert_eq!(again.get(&two, &page).status, 200);
    let id = s(&env.cli(&["user", "list", "--tenant", &t])[0]["id"]);
    env.cli(&["user", "delete", &id]);
    assert_eq!(again.get(&one, &page).status, 303);
    assert_eq!(again.get(&two, &page).status, 303);
    assert_eq!(
        sign_in(&one, "alice@example.com", PASSWORD, "127.0.0.1").status,
        401
    );
}

/// The setup link works once; the value is nowhere in the server's log.
#[test]
fn setup_links_work_once_and_stay_out_of_logs() {
    let env = Env::new();
    let t = tenant(&env, "Acme", "merchant", None);
    let link = invite(&env, &t, "alice@example.com", "admin");
    let server = env.serve();
    let me = set_password(&server, &link);
    let again = server.get(&link);
    let setup = pair(&set_cookie(&again, "tessera-setup").unwrap());
    let page = server
        .http
        .get(server.url("/hub/setup"))
        .header("cookie", &setup)
        .send()
        .unwrap();
    assert_eq!(page.status(), 410);
    // A secret made in the console, then used: neither it nor the code shows in the log.
    let app = s(&env.cli(&[
        "app", "create", "--tenant", &t, "--name", "A", "--role", "merchant",
    ])["client_id"]);
    let a = me.post(
        &server,
        &format!("/hub/applications/{app}/secrets"),
        "name=s&days=30",
        Some(&me.csrf),
        &[],
    );
    assert_eq!(a.status, 303, "{a:?}");
    let reveal = pair(&set_cookie(&a, "tessera-reveal").unwrap());
    let shown = server
        .http
        .get(server.url(&format!("/hub/applications/{app}/record")))
        .header("cookie", format!("{}; {reveal}", me.cookie))
        .send()
        .unwrap();
    assert_eq!(shown.status(), 200);
    let html = shown.text().unwrap();
    let secret = hidden_value(&html, "secret-value");
    let token = server.token_basic(
        &crate::harness::Client {
            tenant_id: t.clone(),
            client_id: app.clone(),
            secret_id: String::new(),
            secret: secret.clone(),
        },
        "grant_type=client_credentials",
    );
    assert_eq!(token.status, 200, "{token:?}");
    let log = server.log_text();
    let code = link.split("code=").nth(1).unwrap();
    assert!(!log.contains(code) && !log.contains(&secret));
    assert!(!log.contains(&basic(&app, &secret)));
}

/// The value of the input with `id` in a page.
pub fn hidden_value(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no {id} in {html}"));
    let rest = &html[at..];
    let v = rest.find("value=\"").unwrap() + 7;
    rest[v..].split('"').next().unwrap().to_owned()
}

/// The ready `curl` lines of the Details View work as shown: pasted into a shell with
/// CLIENT_ID and CLIENT_SECRET set, each gets a token from its endpoint.
#[test]
fn details_view_curls_get_tokens() {
    let env = Env::new();
    let t = tenant(&env, "Acme", "partner", None);
    let link = invite(&env, &t, "alice@example.com", "admin");
    let server = env.serve();
    let me = set_password(&server, &link);
    // Each dialect's curl, for a role that may use it.
    for (role, dialects) in [
        (
            "merchant",
            &["OAuth 2.0", "basys", "paysecurez", "ipospays"][..],
        ),
        ("api-partner", &["basiq"][..]),
        ("partner", &["banked"][..]),
    ] {
        let app = env.cli(&[
            "app", "create", "--tenant", &t, "--name", role, "--role", role,
        ]);
        let id = s(&app["client_id"]);
        let secret = s(&env.cli(&["secret", "create", "--app", &id, "--name", "s"])["secret"]);
        // Made by the CLI: the server learns of it at its next poll.
        let client = crate::harness::Client {
            tenant_id: t.clone(),
            client_id: id.clone(),
            secret_id: String::new(),
            secret: secret.clone(),
        };
        server.eventually(std::time::Duration::from_secs(5), || {
            server
                .token_basic(&client, "grant_type=client_credentials")
                .status
                != 401
        });
        let html = me.get(&server, &format!("/hub/applications/{id}")).text;
        for name in dialects {
            let at = html
                .find(&format!("<strong>{name}"))
                .unwrap_or_else(|| panic!("no {name} in {html}"));
            let pre = &html[at..];
            let start = pre.find("<pre class=\"code\">").unwrap() + 18;
            let end = pre[start..].find("</pre>").unwrap() + start;
            let curl = pre[start..end]
                .replace("&quot;", "\"")
                .replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">");
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("{curl} -s -o /dev/null -w '%{{http_code}}'"))
                .env("CLIENT_ID", &id)
                .env("CLIENT_SECRET", &secret)
                .output()
                .unwrap();
            let status = String::from_utf8_lossy(&out.stdout).to_string();
            assert_eq!(status, "200", "{role} {name}: {curl}");
        }
    }
}

/// Rotation keeps the old secret for the grace period picked; an admin invites a person from the
/// console and creates a child tenant to switch into.
#[test]
fn rotation_invitations_and_child_tenants() {
    let env = Env::new();
    let iso = tenant(&env, "ISO", "iso", None);
    let link = invite(&env, &iso, "alice@example.com", "admin");
    let server = env.serve();
    let me = set_password(&server, &link);

    // A child tenant, created and switched into.
    let a = me.post(
        &server,
        &format!("/hub/tenants/{iso}/children"),
        "name=Corner+Shop&kind=merchant",
        Some(&me.csrf),
        &[],
    );
    assert_eq!(a.status, 303, "{a:?}");
    let child_page = a.header("location").unwrap();
    let child = child_page.split('/').nth(3).unwrap().to_owned();
    assert_eq!(me.get(&server, &child_page).status, 200);
    let kids = me
        .get(&server, &format!("/hub/tenants/{iso}/children"))
        .text;
    assert!(kids.contains("Switch to Corner Shop"));

    // An application there, a secret, and its rotation with a one-hour grace.
    let a = me.post(
        &server,
        &format!("/hub/tenants/{child}/applications"),
        "name=POS&role=merchant",
        Some(&me.csrf),
        &[],
    );
    let app = a
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let a = me.post(
        &server,
        &format!("/hub/applications/{app}/secrets"),
        "name=main&days=30",
        Some(&me.csrf),
        &[],
    );
    assert_eq!(a.status, 303);
    let old = s(&env.cli(&["secret", "list", "--app", &app])[0]["id"]);
    let a = me.post(
        &server,
        &format!("/hub/applications/{app}/secrets/{old}/rotate"),
        "grace=12345",
        Some(&me.csrf),
        &[],
    );
    assert_eq!(a.status, 400, "only the offered grace periods");
    let a = me.post(
        &server,
        &format!("/hub/applications/{app}/secrets/{old}/rotate"),
        "grace=3600",
        Some(&me.csrf),
        &[],
    );
    assert_eq!(a.status, 303, "{a:?}");
    assert!(a.header("location").unwrap().ends_with("/record"));
    let secrets = env.cli(&["secret", "list", "--app", &app]);
    let list = secrets.as_array().unwrap();
    assert_eq!(list.len(), 2, "{secrets}");
    let old_row = list.iter().find(|x| x["id"] == old.as_str()).unwrap();
    let expires = time::OffsetDateTime::parse(
        &s(&old_row["expires_at"]),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let left = expires - tessera_core::clock::Clock::now(&tessera_core::clock::SystemClock);
    assert!(
        left > time::Duration::minutes(55) && left <= time::Duration::hours(1),
        "{left}"
    );

    // An invitation from the console: the link is shown once and works.
    let a = me.post(
        &server,
        &format!("/hub/tenants/{child}/users"),
        "email=Bob@Shop.example&role=viewer",
        Some(&me.csrf),
        &[],
    );
    assert_eq!(a.status, 200, "{a:?}");
    let invite_link = hidden_value(&a.text, "invite-link");
    let path = &invite_link[invite_link.find("/hub/").unwrap()..];
    let bob = set_password(&server, path);
    assert_eq!(
        bob.get(&server, &format!("/hub/tenants/{child}/applications"))
            .status,
        200
    );
    assert_eq!(
        bob.get(&server, &format!("/hub/tenants/{iso}/applications"))
            .status,
        404,
        "not above his tenant"
    );
    let users = me.get(&server, &format!("/hub/tenants/{child}/users")).text;
    assert!(users.contains("bob@shop.example") && !users.contains(&invite_link));
    // A new link for Bob (a lost password): the old link is dead, the new one works.
    let bob_id = s(&env.cli(&["user", "list", "--tenant", &child])[0]["id"]);
    let a = me.post(
        &server,
        &format!("/hub/tenants/{child}/users"),
        &format!("renew={bob_id}"),
        Some(&me.csrf),
        &[],
    );
    assert_eq!(a.status, 200, "{a:?}");
    let renewed = hidden_value(&a.text, "invite-link");
    assert_ne!(renewed, invite_link);
    let again = set_password(&server, &renewed[renewed.find("/hub/").unwrap()..]);
    assert_eq!(
        again
            .get(&server, &format!("/hub/tenants/{child}/applications"))
            .status,
        200
    );
    // Not for someone of another tenant.
    let other = s(&env.cli(&["user", "list", "--tenant", &iso])[0]["id"]);
    let a = bob.post(
        &server,
        &format!("/hub/tenants/{child}/users"),
        &format!("renew={other}"),
        Some(&bob.csrf),
        &[],
    );
    assert_eq!(a.status, 403, "a viewer");
    let cli = env.cli(&["user", "link", &other]);
    assert!(s(&cli["setup_link"]).contains("/hub/setup?code="));
}

/// People of a disabled or deleted tenant, or of a tenant below one, are shut out of the
/// console at once, sessions and sign-in alike; the `__Host-` cookie cannot be replaced by a
/// planted unprefixed one.
#[test]
fn closed_tenants_and_planted_cookies() {
    let env = Env::new();
    let iso = tenant(&env, "ISO", "iso", None);
    let shop = tenant(&env, "Shop", "merchant", Some(&iso));
    let iso_link = invite(&env, &iso, "iso@example.com", "admin");
    let shop_link = invite(&env, &shop, "shop@example.com", "admin");
    let server = env.serve();
    let iso_admin = set_password(&server, &iso_link);
    let shop_admin = set_password(&server, &shop_link);
    let page = format!("/hub/tenants/{shop}/applications");
    assert_eq!(shop_admin.get(&server, &page).status, 200);
    env.cli(&["tenant", "disable", &iso]);
    server.eventually(std::time::Duration::from_secs(5), || {
        iso_admin.get(&server, &page).status == 403
    });
    assert_eq!(
        shop_admin.get(&server, &page).status,
        403,
        "below a disabled tenant"
    );
    let a = sign_in(&server, "iso@example.com", PASSWORD, "127.0.0.1");
    assert_eq!(a.status, 403, "{a:?}");
    assert!(set_cookie(&a, "tessera-session").is_none());
    env.cli(&["tenant", "enable", &iso]);
    server.eventually(std::time::Duration::from_secs(5), || {
        iso_admin.get(&server, &page).status == 200
    });
    env.cli(&["tenant", "delete", &shop]);
    server.eventually(std::time::Duration::from_secs(5), || {
        shop_admin.get(&server, "/hub").status == 303
            && shop_admin.get(&server, &page).status == 403
    });
    drop(server);

    // Under https only the __Host- cookie counts.
    let https = env.serve_with(&["--issuer", "https://hub.example"]);
    let a = sign_in(&https, "iso@example.com", PASSWORD, "127.0.0.1");
    let session = pair(&set_cookie(&a, "tessera-session").unwrap());
    assert!(session.starts_with("__Host-tessera-session="));
    let value = session.split('=').nth(1).unwrap();
    let get = |cookie: &str| {
        https
            .http
            .get(https.url(&format!("/hub/tenants/{iso}/applications")))
            .header("cookie", cookie)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(get(&session), 200);
    assert_eq!(get(&format!("tessera-session={value}")), 303, "unprefixed");
    assert_eq!(get(&format!("{session}; {session}")), 303, "two of them");
}
