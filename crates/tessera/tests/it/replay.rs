//! Tokens that must not be replayable (issue #14 §3): the management API's own audience, the
//! Basys token only on the Basys paths, the Banked partner endpoint only for unscoped partner
//! tokens, bounded iPOSpays refresh chains that die together, and Banked tokens that die with
//! their business application, in introspection and at the guard.

use crate::harness::{Answer, Client, Env, Server, basic, encode_all, s};
use crate::jwt::payload;
use serde_json::Value;
use std::time::Duration;
use tessera_guard::{ErrorStyle, FeedCredentials, Guard, GuardConfig};

const BASYS_RESOURCE: &str = "8939cd8f-0b21-4654-8f4d-ee01706dc3d6";
const FORM: &str = "application/x-www-form-urlencoded";

/// The management audience the server publishes.
pub fn management_audience(srv: &Server) -> String {
    let meta = srv.get("/.well-known/oauth-authorization-server").json();
    s(&meta["tessera_management_audience"])
}

/// A token for the management API: the standard endpoint with `resource=<management audience>`
/// (RFC 8707), as the README says.
pub fn management_token(srv: &Server, c: &Client) -> String {
    let form = format!(
        "grant_type=client_credentials&resource={}",
        encode_all(&management_audience(srv))
    );
    let r = srv.token_basic(c, &form);
    assert_eq!(r.status, 200, "{}", r.text);
    s(&r.json()["access_token"])
}

fn token(srv: &Server, c: &Client, form: &str) -> String {
    let r = srv.token_basic(c, form);
    assert_eq!(r.status, 200, "{form}: {}", r.text);
    s(&r.json()["access_token"])
}

fn basys_token(srv: &Server, c: &Client) -> String {
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&scope={}/{BASYS_RESOURCE}/.default",
        c.client_id,
        c.secret,
        srv.issuer()
    );
    let r = srv.post("/oauth2/v2.0/token", FORM, form.into_bytes(), &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    s(&r.json()["access_token"])
}

fn call(srv: &Server, method: &str, path: &str, bearer: &str, body: Option<&str>) -> Answer {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = srv
        .http
        .request(m, srv.url(path))
        .header("authorization", format!("Bearer {bearer}"));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_owned());
    }
    let r = req.send().unwrap();
    Answer {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        text: r.text().unwrap(),
    }
}

fn scopes(token: &str) -> Vec<String> {
    s(&payload(token)["scope"])
        .split(' ')
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

const MANAGEMENT_SCOPES: [&str; 3] = ["applications:read", "secrets:manage", "admin"];

fn has_management_scope(token: &str) -> bool {
    scopes(token)
        .iter()
        .any(|x| MANAGEMENT_SCOPES.contains(&x.as_str()))
}

#[test]
fn the_management_api_accepts_only_tokens_for_its_own_audience() {
    let env = Env::new();
    let gw = env.client("integrated-gateway-standard");
    let merchant = env.client("merchant");
    let srv = env.serve();
    let audience = management_audience(&srv);
    assert_eq!(audience, format!("{}/management", srv.issuer()));
    let apps = format!("/management/v1/tenants/{}/applications", gw.tenant_id);

    // The management token: only the management scopes of the role, for exactly that audience.
    let mgmt = management_token(&srv, &gw);
    assert_eq!(payload(&mgmt)["aud"], audience.as_str());
    assert_eq!(scopes(&mgmt), ["applications:read", "secrets:manage"]);
    let r = call(&srv, "GET", &apps, &mgmt, None);
    assert_eq!(r.status, 200, "{}", r.text);
    // Narrowed further on request; a payment scope is not for this audience.
    let form = format!(
        "grant_type=client_credentials&scope=applications:read&resource={}",
        encode_all(&audience)
    );
    assert_eq!(scopes(&token(&srv, &gw, &form)), ["applications:read"]);
    let form = format!(
        "grant_type=client_credentials&scope=transactions:process&resource={}",
        encode_all(&audience)
    );
    let r = srv.token_basic(&gw, &form);
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json()["error"], "invalid_scope");
    // A role without management scopes gets a management token without permissions.
    let weak = management_token(&srv, &merchant);
    assert!(scopes(&weak).is_empty());
    let r = call(
        &srv,
        "GET",
        &format!("/management/v1/tenants/{}/applications", merchant.tenant_id),
        &weak,
        None,
    );
    assert_eq!(r.status, 403, "{}", r.text);

    // Every other audience: no management scope, and refused by the management API.
    let default = token(&srv, &gw, "grant_type=client_credentials");
    let payment = token(
        &srv,
        &gw,
        "grant_type=client_credentials&resource=https%3A%2F%2Fpayments.example.com",
    );
    let both = token(
        &srv,
        &gw,
        &format!(
            "grant_type=client_credentials&resource={}&resource=https%3A%2F%2Fpayments.example.com",
            encode_all(&audience)
        ),
    );
    let basys = basys_token(&srv, &gw);
    for (name, t) in [
        ("default", &default),
        ("payment", &payment),
        ("two audiences", &both),
        ("basys", &basys),
    ] {
        assert!(!has_management_scope(t), "{name}: {:?}", scopes(t));
        assert!(
            scopes(t).contains(&"transactions:process".to_owned()),
            "{name}"
        );
        let r = call(&srv, "GET", &apps, t, None);
        assert_eq!(r.status, 401, "{name}: {}", r.text);
        let r = call(
            &srv,
            "POST",
            &format!("{apps}/{}/secrets", gw.client_id),
            t,
            Some("{}"),
        );
        assert_eq!(r.status, 401, "{name}: {}", r.text);
    }
    // Asking for a management scope for another audience is an error, not a silent drop.
    let r = srv.token_basic(&gw, "grant_type=client_credentials&scope=secrets:manage");
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json()["error"], "invalid_scope");
    assert_eq!(
        env.cli(&["secret", "list", "--app", &gw.client_id])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn provider_dialect_tokens_never_carry_management_scopes() {
    let env = Env::with_config(
        "[[roles]]\nname = \"ipos-operator\"\nscopes = [\"ExternalApi\", \"secrets:manage\"]\n",
    );
    let c = env.client("ipos-operator");
    let srv = env.serve();
    let headers = |scope: &'static str| {
        vec![
            ("apiKey", c.client_id.clone()),
            ("secretKey", c.secret.clone()),
            ("scope", scope.to_owned()),
        ]
    };
    let post = |h: Vec<(&'static str, String)>| {
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        srv.post(
            "/v1/authenticate-token",
            "application/json",
            b"{}".to_vec(),
            &h,
        )
    };
    let r = post(headers("ExternalApi,secrets:manage"));
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json()["errorCode"], "AUTH_ERR_005");
    let r = post(headers("ExternalApi"));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(scopes(&s(&r.json()["token"])), ["ExternalApi"]);
    // The same role's management token carries only the management scope.
    assert_eq!(scopes(&management_token(&srv, &c)), ["secrets:manage"]);
}

#[test]
fn the_management_audience_is_configurable_and_never_the_default_audience() {
    let env = Env::with_config("[tokens]\nmanagement_audience = \"https://manage.example.com\"\n");
    let gw = env.client("integrated-gateway-standard");
    let srv = env.serve();
    assert_eq!(management_audience(&srv), "https://manage.example.com");
    let t = management_token(&srv, &gw);
    let apps = format!("/management/v1/tenants/{}/applications", gw.tenant_id);
    assert_eq!(call(&srv, "GET", &apps, &t, None).status, 200);
    // The default name is then just another audience.
    let form = format!(
        "grant_type=client_credentials&resource={}",
        encode_all(&format!("{}/management", srv.issuer()))
    );
    let other = token(&srv, &gw, &form);
    assert!(!has_management_scope(&other));
    assert_eq!(call(&srv, "GET", &apps, &other, None).status, 401);
    drop(srv);

    // validate-config and serve both refuse a management audience equal to the default one.
    for toml in [
        "issuer = \"https://auth.example.com\"\n[tokens]\nmanagement_audience = \"https://auth.example.com\"\n",
        "[tokens]\ndefault_audience = \"https://api.example.com\"\nmanagement_audience = \"https://api.example.com\"\n",
        "issuer = \"https://auth.example.com/\"\n[tokens]\ndefault_audience = \"https://auth.example.com/management\"\n",
    ] {
        let mut bad = Env::new();
        bad.set_config(toml);
        let (ok, _, err) = bad.try_cli(&["validate-config"]);
        assert!(!ok, "{toml}");
        assert!(err.contains("management_audience"), "{toml}: {err}");
        let (code, err) = serve_exit(&bad, &[]);
        assert_ne!(code, Some(0), "{toml}");
        assert!(err.contains("management"), "{toml}: {err}");
    }
    // An issuer known only to serve: serve still refuses.
    let mut bad = Env::new();
    bad.set_config("[tokens]\ndefault_audience = \"https://auth.example.com/management\"\n");
    bad.cli(&["validate-config"]);
    let (code, err) = serve_exit(&bad, &["--issuer", "https://auth.example.com"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("management audience"), "{err}");
}

/// Runs `serve`, which must exit on its own; returns its exit code and stderr.
fn serve_exit(env: &Env, extra: &[&str]) -> (Option<i32>, String) {
    let mut child = env
        .command()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            return (status.code(), err);
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve started although its config must be refused");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn secrets_manage_is_bounded_by_the_calling_applications_role() {
    let env = Env::new();
    let gw = env.client("integrated-gateway-standard");
    let boss = env.client_of(&gw.tenant_id, "admin");
    let service = env.client_of(&gw.tenant_id, "integrated-service-account");
    let peer = env.client_of(&gw.tenant_id, "integrated-gateway-standard");
    let srv = env.serve();
    let t = management_token(&srv, &gw);
    let secrets = |c: &Client| {
        format!(
            "/management/v1/tenants/{}/applications/{}/secrets",
            gw.tenant_id, c.client_id
        )
    };
    // Its own application and an equal one, although the token carries no payment scope (an
    // application holds two secrets at most: one each way).
    let r = call(&srv, "POST", &secrets(&gw), &t, Some(r#"{"name":"next"}"#));
    assert_eq!(r.status, 201, "{}", r.text);
    let peer_path = format!(
        "/gateway/{}/appregistration/{}/appsecret",
        gw.tenant_id, peer.client_id
    );
    let r = call(&srv, "POST", &peer_path, &t, None);
    assert_eq!(r.status, 200, "{}", r.text);
    // A more powerful application: never.
    for c in [&boss, &service] {
        let r = call(&srv, "POST", &secrets(c), &t, Some("{}"));
        assert_eq!(r.status, 403, "{}", r.text);
        let path = format!(
            "/gateway/{}/appregistration/{}/appsecret",
            gw.tenant_id, c.client_id
        );
        assert_eq!(call(&srv, "POST", &path, &t, None).status, 403);
    }
}

#[test]
fn the_basys_token_manages_secrets_on_the_gateway_paths_only() {
    let env = Env::new();
    let gw = env.client("integrated-gateway-standard");
    let boss = env.client_of(&gw.tenant_id, "admin");
    let merchant = env.client_of(&gw.tenant_id, "merchant");
    let srv = env.serve();
    let basys = basys_token(&srv, &gw);
    assert!(!has_management_scope(&basys), "{:?}", scopes(&basys));
    let list = format!("/gateway/{}/appregistration", gw.tenant_id);
    let create = format!("{list}/{}/appsecret", gw.client_id);

    // The document's program: list, create, use, delete.
    let r = call(&srv, "GET", &list, &basys, None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["appRegistrationId"], gw.client_id.as_str());
    // Still bounded by the role: not for the admin application.
    let up = format!("{list}/{}/appsecret", boss.client_id);
    assert_eq!(call(&srv, "POST", &up, &basys, None).status, 403);
    let r = call(&srv, "POST", &create, &basys, None);
    assert_eq!(r.status, 200, "{}", r.text);
    let created = r.json();
    let fresh = Client {
        secret: s(&created["secret"]),
        secret_id: s(&created["appSecretId"]),
        ..crate::manage_clone(&gw)
    };
    assert_eq!(
        srv.token_basic(&fresh, "grant_type=client_credentials")
            .status,
        200
    );
    let r = call(
        &srv,
        "DELETE",
        &format!("{create}/{}", gw.secret_id),
        &basys,
        None,
    );
    assert_eq!(r.status, 204, "{}", r.text);
    // A role without management scopes may not use the gateway paths with its Basys token.
    let weak = basys_token(&srv, &merchant);
    assert_eq!(call(&srv, "GET", &list, &weak, None).status, 403);

    // The Basys token is no good on /management/v1, and a default-audience token is no good
    // on the gateway paths.
    let basys = basys_token(&srv, &fresh);
    let apps = format!("/management/v1/tenants/{}/applications", gw.tenant_id);
    assert_eq!(call(&srv, "GET", &apps, &basys, None).status, 401);
    let default = token(&srv, &fresh, "grant_type=client_credentials");
    assert_eq!(call(&srv, "GET", &list, &default, None).status, 401);
    assert_eq!(call(&srv, "POST", &create, &default, None).status, 401);
    // A standard-endpoint token for a look-alike of the Basys resource is not a Basys token.
    let r = srv.token_basic(
        &fresh,
        &format!("grant_type=client_credentials&resource=urn:uuid:{BASYS_RESOURCE}"),
    );
    let lookalike = s(&r.json()["access_token"]);
    assert_eq!(call(&srv, "GET", &list, &lookalike, None).status, 401);
}

fn business_applications(srv: &Server, t: &str) -> u16 {
    srv.http
        .get(srv.url("/business_applications"))
        .header("authorization", format!("Bearer {t}"))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn business_applications_only_for_unscoped_banked_partner_tokens() {
    let env = Env::new();
    let partner = env.cli(&["tenant", "create", "--name", "Partner", "--kind", "partner"]);
    let pid = s(&partner["id"]);
    env.cli(&["tenant", "create", "--name", "Shop", "--parent", &pid]);
    let c = env.client_of(&pid, "partner");
    let srv = env.serve();
    let auth = basic(&c.client_id, &c.secret);
    let r = srv.post(
        "/oauth/token",
        FORM,
        b"grant_type=client_credentials".to_vec(),
        &[("authorization", &auth)],
    );
    let unscoped = s(&r.json()["access_token"]);
    assert_eq!(business_applications(&srv, &unscoped), 200);
    // The same partner scope, minted for a payment API: not replayable here.
    let elsewhere = token(
        &srv,
        &c,
        "grant_type=client_credentials&resource=https%3A%2F%2Fpayments.example.com",
    );
    assert_eq!(scopes(&elsewhere), ["partner"]);
    assert_eq!(business_applications(&srv, &elsewhere), 403);
}

/// The payments API behind tessera-guard, following the revocation feed as `feed`.
fn payments(issuer: &str, feed: &Client) -> String {
    let config = GuardConfig::new(issuer, vec![issuer.to_owned()])
        .with_style(ErrorStyle::Rfc6750)
        .with_feed(FeedCredentials {
            client_id: feed.client_id.clone(),
            client_secret: feed.secret.clone(),
        });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let guard = Guard::start(config).await.unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(format!("http://{}", listener.local_addr().unwrap()))
                .unwrap();
            axum::serve(listener, payments_api::router(&guard))
                .await
                .unwrap();
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

fn whoami(srv: &Server, api: &str, t: &str) -> u16 {
    srv.http
        .get(format!("{api}/whoami"))
        .header("authorization", format!("Bearer {t}"))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

fn introspect(srv: &Server, c: &Client, t: &str) -> Value {
    let r = srv.post(
        "/oauth2/introspect",
        FORM,
        format!("token={t}").into_bytes(),
        &[("authorization", &basic(&c.client_id, &c.secret))],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

fn ipos(srv: &Server, path: &str, headers: &[(&str, &str)]) -> Answer {
    srv.post(path, "application/json", b"{}".to_vec(), headers)
}

fn ipos_token(r: &Answer) -> String {
    assert_eq!(r.status, 200, "{}", r.text);
    s(&r.json()["token"])
}

#[test]
fn ipospays_refresh_chains_end_after_their_max_age() {
    let env = Env::with_config("[dialects.ipospays]\nrefresh_max_age_seconds = 3\n");
    let c = env.client("iso");
    let srv = env.serve();
    let auth = [
        ("apiKey", c.client_id.as_str()),
        ("secretKey", c.secret.as_str()),
        ("scope", "ExternalApi"),
    ];
    let first = ipos_token(&ipos(&srv, "/v1/authenticate-token", &auth));
    let p = payload(&first);
    let auth_time = p["auth_time"].as_i64().unwrap();
    assert_eq!(auth_time, p["iat"].as_i64().unwrap());
    let refresh = |t: &str| {
        ipos(
            &srv,
            "/v1/refresh-token",
            &[("refreshToken", "true"), ("token", t)],
        )
    };
    let second = ipos_token(&refresh(&first));
    let third = ipos_token(&refresh(&second));
    let p = payload(&third);
    // The original authentication time goes through, and no token outlives the chain's end.
    assert_eq!(p["auth_time"].as_i64().unwrap(), auth_time);
    assert!(p["exp"].as_i64().unwrap() <= auth_time + 3, "{p}");
    std::thread::sleep(Duration::from_millis(3200));
    for t in [&first, &third] {
        let r = refresh(t);
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.json()["errorCode"], "AUTH_ERR_007");
    }
    // A fresh authentication starts a fresh chain.
    let again = ipos_token(&ipos(&srv, "/v1/authenticate-token", &auth));
    ipos_token(&refresh(&again));
}

#[test]
fn the_default_refresh_age_is_a_day_and_the_key_is_checked() {
    let env = Env::new();
    let c = env.client("iso");
    let srv = env.serve();
    let auth = [
        ("apiKey", c.client_id.as_str()),
        ("secretKey", c.secret.as_str()),
        ("scope", "ExternalApi"),
        ("jwtTokenExpiryMinutes", "30"),
    ];
    let first = ipos_token(&ipos(&srv, "/v1/authenticate-token", &auth));
    let r = ipos(
        &srv,
        "/v1/refresh-token",
        &[("refreshToken", "true"), ("token", &first)],
    );
    let p = payload(&ipos_token(&r));
    assert_eq!(
        p["exp"].as_i64().unwrap() - p["iat"].as_i64().unwrap(),
        30 * 60
    );
    assert_eq!(p["origin_jti"], payload(&first)["jti"]);
    drop(srv);
    let mut bad = Env::new();
    bad.set_config("[dialects.ipospays]\nrefresh_max_age_seconds = 0\n");
    let (ok, _, err) = bad.try_cli(&["validate-config"]);
    assert!(!ok && err.contains("refresh_max_age_seconds"), "{err}");
}

#[test]
fn revoking_an_ipospays_token_revokes_what_was_refreshed_from_it() {
    let env = Env::new();
    let c = env.client("iso");
    let rs = env.client_of(&c.tenant_id, "resource-server");
    let srv = env.serve();
    let api = payments(&srv.issuer(), &rs);
    let auth = [
        ("apiKey", c.client_id.as_str()),
        ("secretKey", c.secret.as_str()),
        ("scope", "ExternalApi"),
    ];
    let refresh = |t: &str| {
        ipos(
            &srv,
            "/v1/refresh-token",
            &[("refreshToken", "true"), ("token", t)],
        )
    };
    let a = ipos_token(&ipos(&srv, "/v1/authenticate-token", &auth));
    let b = ipos_token(&refresh(&a));
    let d = ipos_token(&refresh(&b));
    // An unrelated chain of the same client lives on.
    let other = ipos_token(&ipos(&srv, "/v1/authenticate-token", &auth));
    let other2 = ipos_token(&refresh(&other));
    for t in [&a, &b, &d] {
        assert_eq!(whoami(&srv, &api, t), 200);
        assert_eq!(introspect(&srv, &c, t)["active"], true);
    }
    // Revoke the middle one: the whole chain dies, before it and after it.
    let r = srv.post(
        "/oauth2/revoke",
        FORM,
        format!("token={b}").into_bytes(),
        &[("authorization", &basic(&c.client_id, &c.secret))],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    for t in [&a, &b, &d] {
        assert_eq!(introspect(&srv, &c, t)["active"], false);
        let r = refresh(t);
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.json()["errorCode"], "AUTH_ERR_007");
        srv.eventually(Duration::from_secs(3), || whoami(&srv, &api, t) == 401);
    }
    assert_eq!(introspect(&srv, &c, &other2)["active"], true);
    assert_eq!(whoami(&srv, &api, &other2), 200);
    ipos_token(&refresh(&other2));
}

#[test]
fn banked_tokens_die_with_their_business_application() {
    let env = Env::new();
    let partner = env.cli(&["tenant", "create", "--name", "Partner", "--kind", "partner"]);
    let pid = s(&partner["id"]);
    let shop = s(&env.cli(&["tenant", "create", "--name", "Shop", "--parent", &pid])["id"]);
    let gone = s(&env.cli(&["tenant", "create", "--name", "Gone", "--parent", &pid])["id"]);
    let c = env.client_of(&pid, "partner");
    let rs = env.client_of(&pid, "resource-server");
    let srv = env.serve();
    let api = payments(&srv.issuer(), &rs);
    let auth = basic(&c.client_id, &c.secret);
    let bound = |child: &str| {
        let r = srv.post(
            "/oauth/token",
            FORM,
            format!("grant_type=client_credentials&scope={child}").into_bytes(),
            &[("authorization", &auth)],
        );
        assert_eq!(r.status, 200, "{}", r.text);
        s(&r.json()["access_token"])
    };
    let r = srv.post(
        "/oauth/token",
        FORM,
        b"grant_type=client_credentials".to_vec(),
        &[("authorization", &auth)],
    );
    let unscoped = s(&r.json()["access_token"]);
    let to_shop = bound(&shop);
    let to_gone = bound(&gone);
    for t in [&unscoped, &to_shop, &to_gone] {
        assert_eq!(introspect(&srv, &c, t)["active"], true);
        assert_eq!(introspect(&srv, &rs, t)["active"], true);
        assert_eq!(whoami(&srv, &api, t), 200);
    }

    env.cli(&["tenant", "disable", &shop]);
    env.cli(&["tenant", "delete", &gone]);
    for t in [&to_shop, &to_gone] {
        srv.eventually(Duration::from_secs(3), || {
            introspect(&srv, &c, t)["active"] == false
        });
        assert_eq!(introspect(&srv, &rs, t)["active"], false);
        srv.eventually(Duration::from_secs(3), || whoami(&srv, &api, t) == 401);
    }
    // The partner's own token, and the partner, are not touched.
    assert_eq!(introspect(&srv, &c, &unscoped)["active"], true);
    assert_eq!(whoami(&srv, &api, &unscoped), 200);

    // Re-enabled: a new binding works; the old token stays dead at the guard.
    env.cli(&["tenant", "enable", &shop]);
    srv.eventually(Duration::from_secs(3), || {
        srv.post(
            "/oauth/token",
            FORM,
            format!("grant_type=client_credentials&scope={shop}").into_bytes(),
            &[("authorization", &auth)],
        )
        .status
            == 200
    });
    assert_eq!(whoami(&srv, &api, &to_shop), 401);
}
