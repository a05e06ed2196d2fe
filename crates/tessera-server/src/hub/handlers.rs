//! The console's pages and actions. Each reads or changes through the core (`Admin`, or
//! `ActingAdmin` in the person's name, which audits), after checking that the object belongs to
//! a tenant the person may see: anything else is 404, exactly like an id that does not exist.

use super::views::{self, AppRow, Details, Frame, Nav};
use super::*;
use axum::extract::{Path, RawQuery};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use tessera_core::admin::{CreatedSecret, NewTenant};
use tessera_core::audit::AuditQuery;
use tessera_core::ids::{ClientId, SecretId, UserId};
use tessera_core::issue::ADMIN;
use tessera_core::model::{AppStatus, Application};
use tessera_core::proto::ScopeSet;

type Page = Result<Response, HubError>;

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Marks an answer as the result of a change: the console's middleware then applies the change
/// feed before the answer leaves (read-your-writes), which refused or anonymous requests must
/// not be able to make it do.
fn changed(mut res: Response) -> Response {
    res.extensions_mut().insert(Changed);
    res
}

fn with_cookies(mut res: Response, cookies: impl IntoIterator<Item = String>) -> Response {
    for c in cookies {
        append_cookie(res.headers_mut(), c);
    }
    res
}

fn parse<T: std::str::FromStr>(s: &str) -> Result<T, HubError> {
    s.parse().map_err(|_| HubError::NotFound)
}

fn field<'a>(form: &'a Form, name: &str) -> Result<&'a str, HubError> {
    form.get(name)
        .ok_or_else(|| HubError::BadForm(format!("The form lacks the field {name:?}.")))
}

/// Whether a console admin may hold or hand out `scopes`: never the deployment-wide `admin`
/// scope, which reaches every tenant (only the operator's CLI grants it).
fn within_tenant(scopes: Option<&ScopeSet>) -> bool {
    scopes.is_some_and(|s| !s.contains(ADMIN))
}

impl Me {
    fn frame<'a>(&'a self, tenant: &'a Tenant, csrf: &'a str, nav: Nav) -> Frame<'a> {
        Frame {
            me: &self.person,
            tenant,
            csrf,
            nav,
        }
    }

    /// An application the person may see, with its tenant.
    async fn app(&self, state: &AppState, id: &str) -> Result<(Application, Tenant), HubError> {
        let id: ClientId = parse(id)?;
        let app = state.admin.get_app(id).await?;
        let tenant = self.tenant(state, app.tenant_id)?;
        Ok((app, tenant))
    }

    fn acting(&self, state: &AppState) -> tessera_core::admin::ActingAdmin {
        state.admin.acting_as(self.actor())
    }
}

pub(super) async fn home(state: axum::extract::State<AppState>, parts: Parts) -> Response {
    let mut parts = parts;
    match Me::from_request_parts(&mut parts, &state).await {
        Ok(me) => see_other(&format!(
            "/hub/tenants/{}/applications",
            me.person.tenant_id
        )),
        Err(_) => see_other("/hub/login"),
    }
}

// --- Sign-in, sign-out, password setup ---

pub(super) async fn login_page(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Page {
    let token = Ticket::new()?;
    let secure = secure_of(&state).0;
    Ok(with_cookies(
        views::sign_in(token.expose(), None, "").into_response(),
        [make_cookie(
            secure,
            LOGIN_SUFFIX,
            token.expose().to_owned(),
            None,
            false,
        )],
    ))
}

pub(super) async fn login(
    axum::extract::State(state): axum::extract::State<AppState>,
    f: PublicForm,
) -> Page {
    let secure = secure_of(&state).0;
    let cookie = cookie_value(&f.parts.headers, secure, LOGIN_SUFFIX).unwrap_or_default();
    // Double submit: the form's token must be the cookie this browser got with the form.
    if cookie.is_empty() || !csrf_matches(&f.form, &cookie) {
        return Err(HubError::Csrf);
    }
    let email = field(&f.form, "email")?.trim().to_lowercase();
    let password = field(&f.form, "password")?;
    let mut parts = f.parts;
    let Peer(ip) = Peer::from_request_parts(&mut parts, &state)
        .await
        .unwrap_or_default();
    let throttle = state.issuer.throttle();
    let who = ("hub", email.as_str());
    let mono = std::time::Instant::now();
    if let Err(t) = throttle.check(&who, ip, mono) {
        return Err(HubError::Throttled(t.retry_after));
    }
    match state
        .admin
        .sign_in(&email, password, ip.map(|i| i.to_string()))
        .await
    {
        Ok((person, ticket)) if !tenant_open(&state, person.tenant_id) => {
            state
                .admin
                .sign_out(&ticket, &person, ip.map(|i| i.to_string()))
                .await?;
            Err(HubError::TenantClosed)
        }
        Ok((person, ticket)) => Ok(with_cookies(
            see_other(&format!("/hub/tenants/{}/applications", person.tenant_id)),
            [
                make_cookie(
                    secure,
                    SESSION_SUFFIX,
                    ticket.expose().to_owned(),
                    None,
                    false,
                ),
                removal(secure, LOGIN_SUFFIX),
            ],
        )),
        Err(CoreError::SignIn) => {
            throttle.failed(&who, ip, mono);
            let mut res = views::sign_in(&cookie, Some("The email or password is wrong."), &email)
                .into_response();
            *res.status_mut() = StatusCode::UNAUTHORIZED;
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn logout(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
) -> Page {
    let secure = secure_of(&state).0;
    let (mut parts, form) = read_form(req, &state).await?;
    let gone = with_cookies(see_other("/hub/login"), [removal(secure, SESSION_SUFFIX)]);
    let Ok(me) = Me::from_request_parts(&mut parts, &state).await else {
        return Ok(gone);
    };
    if !csrf_matches(&form, &me.csrf()) {
        return Err(HubError::Csrf);
    }
    state
        .admin
        .sign_out(&me.ticket, &me.person, me.source.clone())
        .await?;
    Ok(gone)
}

pub(super) async fn setup_page(
    axum::extract::State(state): axum::extract::State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Page {
    let secure = secure_of(&state).0;
    // The link's code moves into a cookie at once, so that it leaves the address bar (and the
    // history entry the next page makes) and is never sent as a Referer.
    if let Some(code) = q
        .as_deref()
        .and_then(|q| Form::parse(q.as_bytes(), &[]).ok())
        .and_then(|f| f.get("code").map(str::to_owned))
    {
        // A code is 43 characters of base64url; anything else must not reach a Set-Cookie.
        let well_formed = code.len() == 43
            && code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(HubError::NotFound);
        }
        return Ok(with_cookies(
            see_other("/hub/setup"),
            [make_cookie(secure, SETUP_SUFFIX, code, Some(3600), true)],
        ));
    }
    let code = cookie_value(&headers, secure, SETUP_SUFFIX).ok_or(HubError::NotFound)?;
    match state
        .store
        .person_by_setup(&Ticket::from_browser(&code).digest(), state.clock.now())
        .await
    {
        Ok(p) => Ok(views::set_password(&p.email, None).into_response()),
        Err(tessera_core::store::StoreError::NotFound) => Ok((
            StatusCode::GONE,
            views::problem(
                "Link no longer valid",
                "This password link was used already or has expired (after 24 hours). Ask an admin of your tenant for a new one.",
                None,
            ),
        )
            .into_response()),
        Err(e) => Err(CoreError::from(e).into()),
    }
}

pub(super) async fn setup(
    axum::extract::State(state): axum::extract::State<AppState>,
    f: PublicForm,
) -> Page {
    let secure = secure_of(&state).0;
    let code = cookie_value(&f.parts.headers, secure, SETUP_SUFFIX).ok_or(HubError::Csrf)?;
    let password = field(&f.form, "password")?;
    let email = f.form.get("email").unwrap_or_default().to_owned();
    if field(&f.form, "confirm")? != password {
        let mut res =
            views::set_password(&email, Some("The two passwords differ.")).into_response();
        *res.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(res);
    }
    let mut parts = f.parts;
    let Peer(ip) = Peer::from_request_parts(&mut parts, &state)
        .await
        .unwrap_or_default();
    match state
        .admin
        .set_password(
            &Ticket::from_browser(&code),
            password,
            ip.map(|i| i.to_string()),
        )
        .await
    {
        Ok((person, ticket)) => Ok(with_cookies(
            see_other(&format!("/hub/tenants/{}/applications", person.tenant_id)),
            [
                make_cookie(
                    secure,
                    SESSION_SUFFIX,
                    ticket.expose().to_owned(),
                    None,
                    false,
                ),
                removal(secure, SETUP_SUFFIX),
            ],
        )),
        Err(CoreError::Invalid(m)) => {
            let mut res = views::set_password(&email, Some(&m)).into_response();
            *res.status_mut() = StatusCode::BAD_REQUEST;
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

// --- Applications ---

pub(super) async fn applications(
    axum::extract::State(state): axum::extract::State<AppState>,
    me: Me,
    Path(tenant): Path<String>,
) -> Page {
    let tenant = me.tenant(&state, parse(&tenant)?)?;
    let now = state.clock.now();
    let warn = now + state.config.expiry_warning;
    let mut rows = Vec::new();
    for app in state.admin.list_apps(tenant.id).await? {
        let secrets = state.admin.list_secrets(app.client_id).await?;
        let live: Vec<_> = secrets.iter().filter(|s| s.expires_at > now).collect();
        let next_expiry = live.iter().map(|s| s.expires_at).min();
        rows.push(AppRow {
            active: live.len(),
            expiring: next_expiry.is_some_and(|e| e <= warn),
            next_expiry,
            app,
        });
    }
    let csrf = me.csrf();
    Ok(views::applications(
        &me.frame(&tenant, &csrf, Nav::Applications),
        &rows,
        me.can_change(),
    )
    .into_response())
}

fn offered_roles(state: &AppState) -> Vec<(String, String)> {
    state
        .catalog
        .roles()
        .filter(|(_, scopes)| within_tenant(Some(scopes)))
        .map(|(name, scopes)| (name.to_owned(), scopes.to_string()))
        .collect()
}

pub(super) async fn new_application(
    axum::extract::State(state): axum::extract::State<AppState>,
    me: Me,
    Path(tenant): Path<String>,
) -> Page {
    let tenant = me.tenant(&state, parse(&tenant)?)?;
    if !me.can_change() {
        return Err(HubError::Forbidden);
    }
    let csrf = me.csrf();
    Ok(views::new_application(
        &me.frame(&tenant, &csrf, Nav::Applications),
        &offered_roles(&state),
    )
    .into_response())
}

pub(super) async fn create_application(
    axum::extract::State(state): axum::extract::State<AppState>,
    Path(tenant): Path<String>,
    c: Change,
) -> Page {
    let tenant = c.me.tenant(&state, parse(&tenant)?)?;
    let role = field(&c.form, "role")?;
    if !within_tenant(state.catalog.scopes(role)) {
        return Err(HubError::BadForm(format!(
            "The role {role:?} is not one the console can assign."
        )));
    }
    let app =
        c.me.acting(&state)
            .create_app(tenant.id, field(&c.form, "name")?, role)
            .await?;
    Ok(changed(see_other(&format!(
        "/hub/applications/{}",
        app.client_id
    ))))
}

pub(super) async fn details(
    axum::extract::State(state): axum::extract::State<AppState>,
    me: Me,
    Path(app): Path<String>,
) -> Page {
    let (app, tenant) = me.app(&state, &app).await?;
    let secrets = state.admin.list_secrets(app.client_id).await?;
    let scopes = state.catalog.scopes(&app.role);
    let mut endpoints = vec![(
        "OAuth 2.0 (RFC 6749)",
        format!("{}/oauth2/token", state.config.issuer),
        format!(
            "curl {}/oauth2/token -u \"$CLIENT_ID:$CLIENT_SECRET\" -d grant_type=client_credentials",
            state.config.issuer
        ),
    )];
    let scope_list = scopes.map(|s| s.to_string()).unwrap_or_default();
    for (d, base) in crate::dialects::enabled(&state) {
        let curl = (d.example)(&state, &base, &scope_list);
        let url = curl
            .split_whitespace()
            .find(|w| w.starts_with("http"))
            .unwrap_or(&base)
            .to_owned();
        endpoints.push((d.name, url, curl));
    }
    let csrf = me.csrf();
    Ok(views::details(
        &me.frame(&tenant, &csrf, Nav::Applications),
        &Details {
            app: &app,
            scopes: scope_list,
            secrets: &secrets,
            limit: state.admin.policy().max_active,
            endpoints,
            can_change: me.can_change() && within_tenant(scopes),
            now: state.clock.now(),
        },
    )
    .into_response())
}

/// A secret on its way from the POST that made it to the page that shows it once: sealed under
/// a key derived from the master key, bound to the session, valid for two minutes.
#[derive(Serialize, Deserialize)]
struct Reveal {
    app: ClientId,
    name: String,
    value: String,
    until: i64,
}

const REVEAL_SECONDS: i64 = 120;

fn reveal_aad(me: &Me) -> String {
    format!("hub-reveal/{}", me.ticket.digest())
}

/// The cookie that carries a secret just made to the page that shows it.
fn seal_reveal(state: &AppState, me: &Me, created: &CreatedSecret) -> Result<String, HubError> {
    let r = Reveal {
        app: created.meta.client_id,
        name: created.meta.name.clone(),
        value: created.value.expose().to_owned(),
        until: state.clock.now().unix_timestamp() + REVEAL_SECONDS,
    };
    let json = serde_json::to_vec(&r).map_err(|e| CoreError::Invalid(e.to_string()))?;
    let sealed = state
        .hub_cipher
        .seal(&reveal_aad(me), &json)
        .map_err(|_| CoreError::Random)?;
    Ok(make_cookie(
        me.secure,
        REVEAL_SUFFIX,
        URL_SAFE_NO_PAD.encode(sealed),
        Some(REVEAL_SECONDS),
        false,
    ))
}

fn open_reveal(state: &AppState, me: &Me, headers: &HeaderMap) -> Option<Reveal> {
    let raw = URL_SAFE_NO_PAD
        .decode(cookie_value(headers, me.secure, REVEAL_SUFFIX)?)
        .ok()?;
    let plain = state.hub_cipher.open(&reveal_aad(me), &raw).ok()?;
    let r: Reveal = serde_json::from_slice(&plain).ok()?;
    (r.until > state.clock.now().unix_timestamp()).then_some(r)
}

/// The answer that shows a secret once: takes the sealed value away and leaves the marker whose
/// removal by the next answer evicts the page from the back/forward cache.
fn shown_once(me: &Me, page: Response) -> Response {
    with_cookies(
        page,
        [
            removal(me.secure, REVEAL_SUFFIX),
            make_cookie(me.secure, SHOWN_SUFFIX, "1".into(), None, false),
        ],
    )
}

fn days(form: &Form) -> Result<u32, HubError> {
    field(form, "days")?
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|d| (1..=730).contains(d))
        .ok_or_else(|| HubError::BadForm("The lifetime must be 1 to 730 days.".into()))
}

pub(super) async fn add_secret(
    axum::extract::State(state): axum::extract::State<AppState>,
    Path(app): Path<String>,
    c: Change,
) -> Page {
    let (app, _) = c.me.app(&state, &app).await?;
    if !within_tenant(state.catalog.scopes(&app.role)) {
        return Err(HubError::Forbidden);
    }
    let days = days(&c.form)?;
    let created =
        c.me.acting(&state)
            .create_secret(app.client_id, field(&c.form, "name")?, Some(days))
            .await?;
    let cookie = seal_reveal(&state, &c.me, &created)?;
    Ok(changed(with_cookies(
        see_other(&format!("/hub/applications/{}/record", app.client_id)),
        [cookie],
    )))
}

pub(super) async fn record(
    axum::extract::State(state): axum::extract::State<AppState>,
    me: Me,
    Path(app): Path<String>,
    headers: HeaderMap,
) -> Page {
    let (app, tenant) = me.app(&state, &app).await?;
    let Some(r) = open_reveal(&state, &me, &headers).filter(|r| r.app == app.client_id) else {
        return Ok(with_cookies(
            (
                StatusCode::GONE,
                views::problem(
                    "Shown once",
                    "A secret is shown once, right after it is made, and this one has been shown already. tessera keeps only a digest of it and cannot show it again. If it was not recorded, delete it and add a new one.",
                    Some(&format!("/hub/applications/{}", app.client_id)),
                ),
            )
                .into_response(),
            [removal(me.secure, REVEAL_SUFFIX)],
        ));
    };
    let api_key = STANDARD.encode(format!("{}:{}", app.client_id, r.value));
    let csrf = me.csrf();
    let page = views::record(
        &me.frame(&tenant, &csrf, Nav::Applications),
        &app,
        &r.name,
        &r.value,
        &api_key,
    );
    Ok(shown_once(&me, page.into_response()))
}

async fn secret_of(
    state: &AppState,
    me: &Me,
    app: &str,
    secret: &str,
) -> Result<(Application, Tenant, tessera_core::model::SecretMeta), HubError> {
    let (app, tenant) = me.app(state, app).await?;
    let id: SecretId = parse(secret)?;
    let s = state
        .admin
        .list_secrets(app.client_id)
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or(HubError::NotFound)?;
    if !within_tenant(state.catalog.scopes(&app.role)) {
        return Err(HubError::Forbidden);
    }
    Ok((app, tenant, s))
}

pub(super) async fn confirm_delete_secret(
    axum::extract::State(state): axum::extract::State<AppState>,
    me: Me,
    Path((app, secret)): Path<(String, String)>,
) -> Page {
    let (app, tenant, s) = secret_of(&state, &me, &app, &secret).await?;
    if !me.can_change() {
        return Err(HubError::Forbidden);
    }
    let csrf = me.csrf();
    let back = format!("/hub/applications/{}", app.client_id);
    Ok(views::confirm(
        &me.frame(&tenant, &csrf, Nav::Applications),
        "Delete secret",
        &format!(
            "Delete the secret “{}” of {}? Integrations using it break at once: tokens are refused for it from now on.",
            s.name, app.name
        ),
        &format!("{back}/secrets/{}/delete", s.id),
        "Delete secret",
        &back,
        maud::html! {},
    )
    .into_response())
}

pub(super) async fn delete_secret(
    axum::extract::State(state): axum::extract::State<AppState>,
    Path((app, secret)): Path<(String, String)>,
    c: Change,
) -> Page {
    let (app, _, s) = secret_of(&state, &c.me, &app, &secret).await?;
    c.me.acting(&state)
        .delete_secret(app.client_id, s.id)
        .await?;
    Ok(changed(see_other(&format!(
        "/hub/applications/{}",
        app.client_id
    ))))
}

/// Grace periods offered for a rotation.
const GRACE: &[(&str, i64)] = &[
    ("none: the old secret stops at once", 0),
    ("1 hour", 3_600),
    ("24 hours", 86_400),
    ("7 days", 604_800),
    ("30 days", 2_592_000),
];

pub(super) async fn confirm_rotate(
    axum::extract::State(state): axum::extract::State<AppState>,
    me: Me,
    Path((app, secret)): Path<(String, String)>,
) -> Page {
    let (app, tenant, s) = secret_of(&state, &me, &app, &secret).await?;
    if !me.can_change() {
        return Err(HubError::Forbidden);
    }
    let csrf = me.csrf();
    let back = format!("/hub/applications/{}", app.client_id);
    let extra = maud::html! {
        div.field {
            label for="grace" { "Grace period for the old secret" }
            select #grace name="grace" {
                @for (label, secs) in GRACE {
                    option value=(secs) selected[*secs == 86_400] { (label) }
                }
            }
        }
    };
    Ok(views::confirm(
        &me.frame(&tenant, &csrf, Nav::Applications),
        "Rotate secret",
        &format!(
            "Rotate “{}” of {}: a new secret is made and shown once; the old one keeps working for the grace period you pick, then integrations still using it break.",
            s.name, app.name
        ),
        &format!("{back}/secrets/{}/rotate", s.id),
        "Rotate",
        &back,
        extra,
    )
    .into_response())
}

async fn rotate_to_reveal(
    state: &AppState,
    me: &Me,
    app: &Application,
    old: SecretId,
    grace: i64,
) -> Result<String, HubError> {
    let created = me
        .acting(state)
        .rotate_secret(app.client_id, old, time::Duration::seconds(grace))
        .await?;
    seal_reveal(state, me, &created)
}

pub(super) async fn rotate(
    axum::extract::State(state): axum::extract::State<AppState>,
    Path((app, secret)): Path<(String, String)>,
    c: Change,
) -> Page {
    let (app, _, s) = secret_of(&state, &c.me, &app, &secret).await?;
    let grace = field(&c.form, "grace")?
        .parse::<i64>()
        .ok()
        .filter(|g| GRACE.iter().any(|(_, s)| s == g))
        .ok_or_else(|| HubError::BadForm("Pick one of the grace periods offered.".into()))?;
    let cookie = rotate_to_reveal(&state, &c.me, &app, s.id, grace).await?;
    Ok(changed(with_cookies(
        see_other(&format!("/hub/applications/{}/record", app.client_id)),
        [cookie],
    )))
}

pub(super) async fn confirm_delete_application(
    axum::extract::State(state): axum::extract::State<AppState>,
    me: Me,
    Path(app): Path<String>,
) -> Page {
    let (app, tenant) = me.app(&state, &app).await?;
    if !me.can_change() || !within_tenant(state.catalog.scopes(&app.role)) {
        return Err(HubError::Forbidden);
    }
    let csrf = me.csrf();
    let back = format!("/hub/applications/{}", app.client_id);
    Ok(views::confirm(
        &me.frame(&tenant, &csrf, Nav::Applications),
        "Delete Application",
        &format!(
            "Delete {} and all its secrets? Integrations using them break at once. This cannot be undone.",
            app.name
        ),
        &format!("{back}/delete"),
        "Delete Application",
        &back,
        maud::html! {},
    )
    .into_response())
}

pub(super) async fn delete_application(
    axum::extract::State(state): axum::extract::State<AppState>,
    Path(app): Path<String>,
    c: Change,
) -> Page {
    let (app, _) = c.me.app(&state, &app).await?;
    if !within_tenant(state.catalog.scopes(&app.role)) {
        return Err(HubError::Forbidden);
    }
    c.me.acting(&state)
        .set_app_status(app.client_id, AppStatus::Deleted)
        .await?;
    Ok(changed(see_other(&format!(
        "/hub/tenants/{}/applications",
        app.tenant_id
    ))))
}

// --- iPOSpays: Settings → Generate API & Secret Key ---

/// The application behind a tenant's iPOSpays-style key pair: the first live one named so.
const KEYS_APP: &str = "API & Secret Key";

pub(super) async fn settings(
    axum::extract::State(state): axum::extract::State<AppState>,
    me: Me,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Page {
    let tenant = me.tenant(&state, parse(&tenant)?)?;
    if !views::is_ipospays_kind(&tenant.kind) {
        return Err(HubError::NotFound);
    }
    let app = state
        .admin
        .list_apps(tenant.id)
        .await?
        .into_iter()
        .find(|a| a.name == KEYS_APP);
    let reveal = app
        .as_ref()
        .and_then(|a| open_reveal(&state, &me, &headers).filter(|r| r.app == a.client_id));
    let csrf = me.csrf();
    let page = views::settings(
        &me.frame(&tenant, &csrf, Nav::Settings),
        app.as_ref(),
        reveal.as_ref().map(|r| r.value.as_str()),
        me.can_change(),
    );
    Ok(match reveal {
        Some(_) => shown_once(&me, page.into_response()),
        None => page.into_response(),
    })
}

pub(super) async fn generate_keys(
    axum::extract::State(state): axum::extract::State<AppState>,
    Path(tenant): Path<String>,
    c: Change,
) -> Page {
    let tenant = c.me.tenant(&state, parse(&tenant)?)?;
    if !views::is_ipospays_kind(&tenant.kind) {
        return Err(HubError::NotFound);
    }
    let existing = state
        .admin
        .list_apps(tenant.id)
        .await?
        .into_iter()
        .find(|a| a.name == KEYS_APP);
    let acting = c.me.acting(&state);
    let cookie = match existing {
        // "Reset Secret Key": a rotation whose old secret stops at once.
        Some(app) => {
            if !within_tenant(state.catalog.scopes(&app.role)) {
                return Err(HubError::Forbidden);
            }
            let now = state.clock.now();
            let newest = state
                .admin
                .list_secrets(app.client_id)
                .await?
                .into_iter()
                .filter(|s| s.expires_at > now)
                .max_by_key(|s| s.created_at);
            match newest {
                Some(old) => rotate_to_reveal(&state, &c.me, &app, old.id, 0).await?,
                None => new_key_secret(&state, &c.me, &app).await?,
            }
        }
        // "Generate Keys": the application and its first secret.
        None => {
            let role = if state.catalog.scopes(&tenant.kind).is_some() {
                tenant.kind.as_str()
            } else {
                "merchant"
            };
            if !within_tenant(state.catalog.scopes(role)) {
                return Err(HubError::Forbidden);
            }
            let app = acting.create_app(tenant.id, KEYS_APP, role).await?;
            new_key_secret(&state, &c.me, &app).await?
        }
    };
    Ok(changed(with_cookies(
        see_other(&format!("/hub/tenants/{}/settings", tenant.id)),
        [cookie],
    )))
}

async fn new_key_secret(state: &AppState, me: &Me, app: &Application) -> Result<String, HubError> {
    let created = me
        .acting(state)
        .create_secret(app.client_id, "Secret Key", None)
        .await?;
    seal_reveal(state, me, &created)
}

// --- Tenants, people, audit ---

pub(super) async fn children(
    axum::extract::State(state): axum::extract::State<AppState>,
    me: Me,
    Path(tenant): Path<String>,
) -> Page {
    let tenant = me.tenant(&state, parse(&tenant)?)?;
    let kids = state.directory.children(&tenant.id);
    let csrf = me.csrf();
    Ok(views::children(
        &me.frame(&tenant, &csrf, Nav::Tenants),
        &kids,
        me.can_change(),
    )
    .into_response())
}

pub(super) async fn create_child(
    axum::extract::State(state): axum::extract::State<AppState>,
    Path(tenant): Path<String>,
    c: Change,
) -> Page {
    let tenant = c.me.tenant(&state, parse(&tenant)?)?;
    let kind = field(&c.form, "kind")?.trim();
    let child =
        c.me.acting(&state)
            .create_tenant(NewTenant {
                name: field(&c.form, "name")?.to_owned(),
                kind: (!kind.is_empty()).then(|| kind.to_owned()),
                parent_id: Some(tenant.id),
            })
            .await?;
    Ok(changed(see_other(&format!(
        "/hub/tenants/{}/applications",
        child.id
    ))))
}

pub(super) async fn users(
    axum::extract::State(state): axum::extract::State<AppState>,
    me: Me,
    Path(tenant): Path<String>,
) -> Page {
    let tenant = me.tenant(&state, parse(&tenant)?)?;
    if !me.can_change() {
        return Err(HubError::Forbidden);
    }
    let people = state.admin.people(tenant.id).await?;
    let csrf = me.csrf();
    Ok(views::users(&me.frame(&tenant, &csrf, Nav::Users), &people, None).into_response())
}

pub(super) async fn invite(
    axum::extract::State(state): axum::extract::State<AppState>,
    Path(tenant): Path<String>,
    c: Change,
) -> Page {
    let tenant = c.me.tenant(&state, parse(&tenant)?)?;
    if let Some(id) = c.form.get("delete") {
        let id: UserId = parse(id)?;
        let person = state.admin.person(id).await?;
        if person.tenant_id != tenant.id {
            return Err(HubError::NotFound);
        }
        c.me.acting(&state).delete_person(id).await?;
        return Ok(see_other(&format!("/hub/tenants/{}/users", tenant.id)));
    }
    let (person, code) = match c.form.get("renew") {
        // A new link for someone of this tenant (a lost password, an expired invitation).
        Some(id) => {
            let id: UserId = parse(id)?;
            if state.admin.person(id).await?.tenant_id != tenant.id {
                return Err(HubError::NotFound);
            }
            c.me.acting(&state).renew_setup(id).await?
        }
        None => {
            let role = field(&c.form, "role")?.parse()?;
            c.me.acting(&state)
                .create_person(tenant.id, field(&c.form, "email")?, role)
                .await?
        }
    };
    let link = setup_link(&state.config.issuer, &code);
    let people = state.admin.people(tenant.id).await?;
    let csrf = c.me.csrf();
    let page = views::users(
        &c.me.frame(&tenant, &csrf, Nav::Users),
        &people,
        Some((&person.email, &link)),
    );
    // The link is a credential, shown once like a secret: out of the back/forward cache too.
    Ok(shown_once(&c.me, page.into_response()))
}

/// The one-time link that lets a new person set their password.
pub fn setup_link(issuer: &str, code: &Ticket) -> String {
    format!("{issuer}/hub/setup?code={}", code.expose())
}

pub(super) async fn audit(
    axum::extract::State(state): axum::extract::State<AppState>,
    me: Me,
    Path(tenant): Path<String>,
) -> Page {
    let tenant = me.tenant(&state, parse(&tenant)?)?;
    let mut events = state
        .admin
        .audit(&AuditQuery {
            tenant_id: Some(tenant.id),
            since: Some(state.clock.now() - time::Duration::days(90)),
            limit: 200,
        })
        .await?;
    events.reverse();
    let csrf = me.csrf();
    Ok(views::audit(&me.frame(&tenant, &csrf, Nav::Audit), &events).into_response())
}
