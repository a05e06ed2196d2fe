//! The Developer Hub: the web console where people (not programs) create applications and
//! secrets, on the same core as the management API. Server-rendered HTML ([`views`]), with the
//! stylesheet and the small script compiled into the binary.
//!
//! Sessions: an opaque random id in an `HttpOnly`, `SameSite=Strict` cookie (`Secure` with the
//! `__Host-` prefix when the issuer is https), kept server-side as a digest and read from the
//! store on every request, so that signing out or deleting a person ends their sessions on every
//! node. CSRF: every state-changing form carries a token derived from the session id (the
//! synchronizer-token pattern; the sign-in form uses a double-submit cookie), and a request whose
//! `Origin` is another site's is refused before anything else. Every page is `no-store` with a
//! strict Content-Security-Policy and `X-Frame-Options: DENY`.
//!
//! A new secret is shown once: the POST that creates it seals the value into a short-lived,
//! encrypted cookie and redirects; the page that shows it takes the cookie away in the same
//! answer, so a reload finds nothing. Chromium may still keep that page in its back/forward
//! cache despite `no-store`, unless a cookie changed after it was shown: the page leaves a marker
//! cookie that the next console answer removes, which evicts it.

mod handlers;
pub mod views;

pub use handlers::setup_link;

use crate::form::{BodyError, Form, Peer, read_body};
use crate::state::AppState;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use cookie::{Cookie, SameSite};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, SET_COOKIE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};
use tessera_core::CoreError;
use tessera_core::ids::TenantId;
use tessera_core::model::{Tenant, TenantStatus};
use tessera_core::people::{HubRole, Person, Ticket};

const CSS: &str = include_str!("hub.css");
const JS: &str = include_str!("hub.js");

/// The console's routes, under `/hub`.
pub fn routes(state: &AppState) -> Router<AppState> {
    use handlers::*;
    Router::new()
        .route("/hub", get(home))
        .route("/hub/", get(home))
        .route("/hub/static/hub.css", get(|| asset(CSS, "text/css")))
        .route("/hub/static/hub.js", get(|| asset(JS, "text/javascript")))
        .route("/hub/login", get(login_page).post(login))
        .route("/hub/logout", post(logout))
        .route("/hub/setup", get(setup_page).post(setup))
        .route(
            "/hub/tenants/{tenant}/applications",
            get(applications).post(create_application),
        )
        .route(
            "/hub/tenants/{tenant}/applications/new",
            get(new_application),
        )
        .route("/hub/tenants/{tenant}/settings", get(settings))
        .route("/hub/tenants/{tenant}/settings/keys", post(generate_keys))
        .route(
            "/hub/tenants/{tenant}/children",
            get(children).post(create_child),
        )
        .route("/hub/tenants/{tenant}/users", get(users).post(invite))
        .route("/hub/tenants/{tenant}/audit", get(audit))
        .route("/hub/applications/{app}", get(details))
        .route("/hub/applications/{app}/secrets", post(add_secret))
        .route("/hub/applications/{app}/record", get(record))
        .route(
            "/hub/applications/{app}/secrets/{secret}/delete",
            get(confirm_delete_secret).post(delete_secret),
        )
        .route(
            "/hub/applications/{app}/secrets/{secret}/rotate",
            get(confirm_rotate).post(rotate),
        )
        .route(
            "/hub/applications/{app}/delete",
            get(confirm_delete_application).post(delete_application),
        )
        .layer(axum::middleware::from_fn_with_state(state.clone(), headers))
}

async fn asset(body: &'static str, ctype: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}

/// The headers of every console answer, and the removal of the "a secret was shown" marker.
async fn headers(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let Secure(secure) = secure_of(&state);
    let shown = cookie_value(req.headers(), secure, SHOWN_SUFFIX).is_some();
    let mut res = next.run(req).await;
    // Read-your-writes, as for the management API: a change the console confirms is in effect
    // on this node (its token endpoints) before the answer leaves.
    if res.extensions_mut().remove::<Changed>().is_some() {
        crate::background::refresh(&state).await;
    }
    let h = res.headers_mut();
    let static_asset = h
        .get(CACHE_CONTROL)
        .is_some_and(|v| v.as_bytes().starts_with(b"public"));
    if !static_asset {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    if secure {
        h.insert(
            "strict-transport-security",
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: under it browsers send `Origin: null` with forms, and the origin check
    // needs the real one. Nothing leaves for other sites either way.
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    let sets_marker = h
        .get_all(SET_COOKIE)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.contains(SHOWN_SUFFIX)));
    if shown && !sets_marker {
        append_cookie(h, removal(secure, SHOWN_SUFFIX));
    }
    res
}

/// Set on the answer of a handler that changed something (see `handlers::changed`).
#[derive(Debug, Clone, Copy)]
struct Changed;

/// Whether the console's cookies are `Secure` with the `__Host-` prefix: the issuer is https
/// (served here or by a proxy in front), so the browser speaks https.
#[derive(Debug, Clone, Copy)]
pub struct Secure(pub bool);

/// Whether this node's console cookies are secure.
pub fn secure_of(state: &AppState) -> Secure {
    Secure(state.config.issuer.starts_with("https://"))
}

const SESSION_SUFFIX: &str = "tessera-session";
const LOGIN_SUFFIX: &str = "tessera-login";
const SETUP_SUFFIX: &str = "tessera-setup";
const REVEAL_SUFFIX: &str = "tessera-reveal";
const SHOWN_SUFFIX: &str = "tessera-shown";

fn cookie_name(secure: bool, suffix: &str) -> String {
    if secure {
        format!("__Host-{suffix}")
    } else {
        suffix.to_owned()
    }
}

/// The value of the console cookie `suffix`, under the one name this node gives it (only the
/// `__Host-` form under https: an unprefixed cookie of that name may have been planted by a
/// sibling host or a plain-http answer). Two cookies of that name mean someone planted one:
/// none is taken.
fn cookie_value(headers: &HeaderMap, secure: bool, suffix: &str) -> Option<String> {
    let name = cookie_name(secure, suffix);
    let mut found = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|c| c.name() == name);
    let first = found.next()?;
    found.next().is_none().then(|| first.value().to_owned())
}

/// A console cookie: `HttpOnly`, path `/`, `Secure` under https; `SameSite=Strict` unless
/// `lax` (the setup link arrives from an email, another site).
fn make_cookie(
    secure: bool,
    suffix: &str,
    value: String,
    max_age: Option<i64>,
    lax: bool,
) -> String {
    let mut c = Cookie::build((cookie_name(secure, suffix), value))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(if lax { SameSite::Lax } else { SameSite::Strict });
    if let Some(secs) = max_age {
        c = c.max_age(cookie::time::Duration::seconds(secs));
    }
    c.build().to_string()
}

fn removal(secure: bool, suffix: &str) -> String {
    make_cookie(secure, suffix, String::new(), Some(0), false)
}

fn append_cookie(h: &mut HeaderMap, c: String) {
    if let Ok(v) = HeaderValue::from_str(&c) {
        h.append(SET_COOKIE, v);
    }
}

/// Why a console request failed, as a page.
#[derive(Debug)]
pub enum HubError {
    /// Not signed in: to the sign-in page.
    SignedOut,
    /// No such object, or not one this person may see.
    NotFound,
    /// The person's role does not allow the change.
    Forbidden,
    /// The form's CSRF token or the request's origin is wrong.
    Csrf,
    /// The form is malformed.
    BadForm(String),
    /// Too many failed attempts.
    Throttled(std::time::Duration),
    /// The person's tenant, or one above it, is disabled or deleted.
    TenantClosed,
    /// The core refused or failed.
    Core(CoreError),
}

impl From<CoreError> for HubError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::NotFound(_) => HubError::NotFound,
            other => HubError::Core(other),
        }
    }
}

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            HubError::SignedOut => return Redirect::to("/hub/login").into_response(),
            HubError::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such page, or it is not one you can see.".to_owned(),
            ),
            HubError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                "Your console role (viewer) can look but not change anything. Ask an admin of your tenant.".to_owned(),
            ),
            HubError::Csrf => (
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form was not sent from the Developer Hub page it belongs to, or your session changed since. Go back, reload the page and try again.".to_owned(),
            ),
            HubError::BadForm(m) => (StatusCode::BAD_REQUEST, "Cannot do that", m),
            HubError::TenantClosed => (
                StatusCode::FORBIDDEN,
                "Tenant closed",
                "Your tenant, or the tenant it belongs to, is disabled or deleted, so the Developer Hub is closed to its people. Ask the platform's operator.".to_owned(),
            ),
            HubError::Throttled(after) => {
                let mut res = (
                    StatusCode::TOO_MANY_REQUESTS,
                    views::problem(
                        "Too many attempts",
                        &format!(
                            "Too many failed sign-ins from your address. Try again in {} seconds.",
                            after.as_secs().max(1)
                        ),
                        Some("/hub/login"),
                    ),
                )
                    .into_response();
                crate::toolkit::retry_after(&mut res, after);
                return res;
            }
            HubError::Core(e) => match e {
                CoreError::Invalid(m) => (StatusCode::BAD_REQUEST, "Cannot do that", m),
                CoreError::Conflict(m) => (StatusCode::CONFLICT, "Cannot do that", m),
                e @ CoreError::SecretLimit { .. } => (
                    StatusCode::CONFLICT,
                    "Secret limit reached",
                    format!("{e}, or rotate one (the old one then expires after the grace period you choose)."),
                ),
                CoreError::Busy
                | CoreError::Store(tessera_core::store::StoreError::Unavailable(_)) => {
                    let mut res = (
                        StatusCode::SERVICE_UNAVAILABLE,
                        views::problem(
                            "Try again shortly",
                            "The server is busy or its database is unavailable. Try again in a moment.",
                            None,
                        ),
                    )
                        .into_response();
                    crate::toolkit::retry_after(&mut res, std::time::Duration::from_secs(2));
                    return res;
                }
                other => {
                    let mut res = (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        views::problem("Something went wrong", "The server failed; the error has been logged.", None),
                    )
                        .into_response();
                    res.extensions_mut()
                        .insert(crate::error::InternalCause(std::sync::Arc::new(other.to_string())));
                    return res;
                }
            },
        };
        (status, views::problem(title, &message, None)).into_response()
    }
}

/// A signed-in person, from the session cookie.
pub struct Me {
    /// Who.
    pub person: Person,
    /// The session.
    pub ticket: Ticket,
    /// The client's address.
    pub source: Option<String>,
    /// Cookie form.
    pub secure: bool,
}

impl Me {
    /// The session's CSRF token.
    pub fn csrf(&self) -> String {
        self.ticket.derive("hub-csrf")
    }

    /// The person as the audit log names them.
    pub fn actor(&self) -> tessera_core::audit::Actor {
        tessera_core::audit::Actor::person(
            &self.person.email,
            Some(self.person.tenant_id),
            self.source.clone(),
        )
    }

    /// Whether the person may change things (admin).
    pub fn can_change(&self) -> bool {
        self.person.role == HubRole::Admin
    }

    /// The tenant `id` if the person may see it (their own or one below it); otherwise it
    /// does not exist for them.
    pub fn tenant(&self, state: &AppState, id: TenantId) -> Result<Tenant, HubError> {
        let mut chain = lineage(state, id);
        let t = chain.next().ok_or(HubError::NotFound)?;
        if t.id == self.person.tenant_id || chain.any(|a| a.id == self.person.tenant_id) {
            Ok(t)
        } else {
            Err(HubError::NotFound)
        }
    }
}

/// A live tenant and the live tenants above it, nearest first; it stops at a deleted one. At
/// most 64: a cycle cannot be stored, but a bound costs nothing.
fn lineage(state: &AppState, id: TenantId) -> impl Iterator<Item = Tenant> + '_ {
    std::iter::successors(state.directory.tenant(&id), |t| {
        t.parent_id.and_then(|p| state.directory.tenant(&p))
    })
    .take(64)
}

/// Whether the people of `tenant` may use the console: it and every tenant above it are active
/// (a disabled or deleted partner's people must not keep managing its merchants).
pub fn tenant_open(state: &AppState, tenant: TenantId) -> bool {
    for t in lineage(state, tenant) {
        if t.status != TenantStatus::Active {
            return false;
        }
        if t.parent_id.is_none() {
            return true;
        }
    }
    // The walk stopped below the root: a deleted tenant above.
    false
}

impl FromRequestParts<AppState> for Me {
    type Rejection = HubError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Me, HubError> {
        let secure = secure_of(state).0;
        let value =
            cookie_value(&parts.headers, secure, SESSION_SUFFIX).ok_or(HubError::SignedOut)?;
        let ticket = Ticket::from_browser(&value);
        let person = state
            .admin
            .session(&ticket)
            .await?
            .ok_or(HubError::SignedOut)?;
        if !tenant_open(state, person.tenant_id) {
            return Err(HubError::TenantClosed);
        }
        let Peer(ip) = Peer::from_request_parts(parts, state)
            .await
            .unwrap_or_default();
        Ok(Me {
            person,
            ticket,
            source: ip.map(|i| i.to_string()),
            secure,
        })
    }
}

/// A state-changing request of a signed-in admin: the session, the form, and the checks (same
/// origin, the CSRF token, the role) already passed.
pub struct Change {
    /// Who.
    pub me: Me,
    /// The form.
    pub form: Form,
}

/// Refuses a request that another site made the browser send.
fn same_origin(headers: &HeaderMap, state: &AppState) -> Result<(), HubError> {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return Err(HubError::Csrf);
    }
    if let Some(origin) = headers.get(http::header::ORIGIN) {
        let expected = url::Url::parse(&state.config.issuer)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        if origin.as_bytes() != expected.as_bytes() {
            return Err(HubError::Csrf);
        }
    }
    Ok(())
}

/// Reads a console form: same origin, urlencoded, at most the body limit, each field once.
async fn read_form(req: Request, state: &AppState) -> Result<(Parts, Form), HubError> {
    let (parts, body) = req.into_parts();
    same_origin(&parts.headers, state)?;
    let bytes = read_body(&parts.headers, body).await.map_err(|e| match e {
        BodyError::TooLarge => HubError::BadForm("The form is too large.".into()),
        BodyError::Read => HubError::BadForm("The form could not be read.".into()),
    })?;
    let form =
        Form::parse(&bytes, &[]).map_err(|_| HubError::BadForm("The form is malformed.".into()))?;
    Ok((parts, form))
}

fn csrf_matches(form: &Form, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    form.get("csrf")
        .is_some_and(|t| bool::from(t.as_bytes().ct_eq(expected.as_bytes())))
}

impl FromRequest<AppState> for Change {
    type Rejection = HubError;

    async fn from_request(req: Request, state: &AppState) -> Result<Change, HubError> {
        let (mut parts, form) = read_form(req, state).await?;
        let me = Me::from_request_parts(&mut parts, state).await?;
        if !csrf_matches(&form, &me.csrf()) {
            return Err(HubError::Csrf);
        }
        if !me.can_change() {
            return Err(HubError::Forbidden);
        }
        Ok(Change { me, form })
    }
}

/// A console form before sign-in (sign-in, password setup), already checked for origin.
pub struct PublicForm {
    /// The request's head.
    pub parts: Parts,
    /// The form.
    pub form: Form,
}

impl FromRequest<AppState> for PublicForm {
    type Rejection = HubError;

    async fn from_request(req: Request, state: &AppState) -> Result<PublicForm, HubError> {
        let (parts, form) = read_form(req, state).await?;
        Ok(PublicForm { parts, form })
    }
}
