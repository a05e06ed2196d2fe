//! The console's pages: HTML written with maud (compiled in, every value escaped). Each form that
//! changes something carries the session's CSRF token; every control has a visible label or an
//! accessible name; the layout works without JavaScript, which only adds the copy buttons and
//! the reveal toggle.

use maud::{DOCTYPE, Markup, html};
use tessera_core::model::{Application, SecretMeta, Tenant};
use tessera_core::people::Person;
use time::OffsetDateTime;

/// What every signed-in page needs for its frame.
pub struct Frame<'a> {
    /// Who is signed in.
    pub me: &'a Person,
    /// The tenant the page is about.
    pub tenant: &'a Tenant,
    /// The session's CSRF token, for the sign-out form and the page's own forms.
    pub csrf: &'a str,
    /// Which navigation entry is current.
    pub nav: Nav,
}

/// The sections of the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// Applications.
    Applications,
    /// The iPOSpays-style key page.
    Settings,
    /// Child tenants.
    Tenants,
    /// People.
    Users,
    /// The audit trail.
    Audit,
}

/// A date as the pages show it.
pub fn day(t: OffsetDateTime) -> String {
    let d = t.date();
    format!("{}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// A page without the signed-in frame (sign-in, password setup, errors before sign-in).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                main #main {
                    div.card.narrow {
                        p.brand-line { span.logo aria-hidden="true" { "◆" } " tessera · Developer Hub" }
                        (body)
                    }
                }
            }
        }
    }
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="referrer" content="same-origin";
            title { (title) " · Developer Hub" }
            link rel="stylesheet" href="/hub/static/hub.css";
            script src="/hub/static/hub.js" defer {}
        }
    }
}

/// A signed-in page: header, navigation for the tenant, and `body`.
pub fn page(f: &Frame<'_>, title: &str, body: Markup) -> Markup {
    let t = f.tenant.id;
    let ipospays = is_ipospays_kind(&f.tenant.kind);
    let link = |nav: Nav, href: String, label: &str| {
        html! {
            a href=(href) aria-current=[(f.nav == nav).then_some("page")] { (label) }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    div.bar {
                        a.brand href="/hub" { span.logo aria-hidden="true" { "◆" } " Developer Hub" }
                        div.who {
                            span { (f.me.email) " · " (f.me.role.as_str()) }
                            form method="post" action="/hub/logout" {
                                input type="hidden" name="csrf" value=(f.csrf);
                                button.link type="submit" { "Sign out" }
                            }
                        }
                    }
                    nav aria-label="Sections" {
                        span.tenant { (f.tenant.name) " " span.kind { (f.tenant.kind) } }
                        (link(Nav::Applications, format!("/hub/tenants/{t}/applications"), "Applications"))
                        @if ipospays {
                            (link(Nav::Settings, format!("/hub/tenants/{t}/settings"), "Settings"))
                        }
                        (link(Nav::Tenants, format!("/hub/tenants/{t}/children"), "Tenants"))
                        @if f.me.role == tessera_core::people::HubRole::Admin {
                            (link(Nav::Users, format!("/hub/tenants/{t}/users"), "Users"))
                        }
                        (link(Nav::Audit, format!("/hub/tenants/{t}/audit"), "Audit trail"))
                    }
                }
                main #main tabindex="-1" {
                    (body)
                }
                div #live.visually-hidden aria-live="polite" {}
            }
        }
    }
}

/// Tenants whose people use the iPOSpays words ("Generate API & Secret Key").
pub fn is_ipospays_kind(kind: &str) -> bool {
    matches!(
        kind,
        "merchant" | "iso" | "agent" | "agent-office" | "agent_office"
    )
}

/// A hidden CSRF field.
pub fn csrf(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// A read-only value with a copy button. A `masked` value is plain text in the page, so that it
/// can be read and copied without JavaScript; the script hides it behind a Show toggle.
pub fn copyable(id: &str, label: &str, value: &str, masked: bool) -> Markup {
    html! {
        div.field {
            label for=(id) { (label) }
            div.copy-row {
                input #(id) type="text" readonly value=(value) data-mask[masked]
                    autocomplete="off" spellcheck="false";
                @if masked {
                    button.secondary type="button" data-reveal=(id) aria-controls=(id)
                        aria-pressed="false" hidden {
                        span.toggle-text { "Show" } span.visually-hidden { " " (label) }
                    }
                }
                button.secondary type="button" data-copy=(id) {
                    span.copy-text { "Copy" } span.visually-hidden { " " (label) }
                }
            }
        }
    }
}

/// One row of the applications list.
pub struct AppRow {
    /// The application.
    pub app: Application,
    /// Its unexpired secrets.
    pub active: usize,
    /// The nearest expiry among them.
    pub next_expiry: Option<OffsetDateTime>,
    /// Whether that is within the warning window.
    pub expiring: bool,
}

/// The applications list.
pub fn applications(f: &Frame<'_>, rows: &[AppRow], can_change: bool) -> Markup {
    let t = f.tenant.id;
    page(
        f,
        "Applications",
        html! {
            div.heading {
                h1 { "Applications" }
                @if can_change {
                    a.button href={ "/hub/tenants/" (t) "/applications/new" } { "Create New" }
                }
            }
            @if rows.is_empty() {
                p.empty { "No applications yet." @if can_change { " Use “Create New” to make the first one." } }
            } @else {
                div.table-wrap {
                    table {
                        caption.visually-hidden { "Applications of " (f.tenant.name) }
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Role" } th scope="col" { "Status" } th scope="col" { "Active secrets" } th scope="col" { "Next expiry" } } }
                        tbody {
                            @for r in rows {
                                tr {
                                    td { a href={ "/hub/applications/" (r.app.client_id) } { (r.app.name) } }
                                    td { (r.app.role) }
                                    td { span class={ "status " (r.app.status.as_str()) } { (r.app.status.as_str()) } }
                                    td { (r.active) }
                                    td {
                                        @match r.next_expiry {
                                            Some(e) => {
                                                (day(e))
                                                @if r.expiring { " " span.badge.warn { "expires soon" } }
                                            }
                                            None => { "—" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The "Create New" form.
pub fn new_application(f: &Frame<'_>, roles: &[(String, String)]) -> Markup {
    page(
        f,
        "Create New",
        html! {
            h1 { "Create New application" }
            form.card method="post" action={ "/hub/tenants/" (f.tenant.id) "/applications" } {
                (csrf(f.csrf))
                div.field {
                    label for="name" { "Name" }
                    input #name name="name" required maxlength="200" autocomplete="off";
                }
                fieldset.field {
                    legend { "Role" }
                    @for (i, (role, scopes)) in roles.iter().enumerate() {
                        label.choice {
                            input type="radio" name="role" value=(role) required checked[i == 0];
                            span { strong { (role) } " " span.scopes { (scopes) } }
                        }
                    }
                }
                div.actions {
                    button type="submit" { "Create" }
                    a.button.secondary href={ "/hub/tenants/" (f.tenant.id) "/applications" } { "Cancel" }
                }
            }
        },
    )
}

/// What the Details View shows.
pub struct Details<'a> {
    /// The application.
    pub app: &'a Application,
    /// Its role's scopes.
    pub scopes: String,
    /// Its live secrets.
    pub secrets: &'a [SecretMeta],
    /// How many unexpired secrets it may have.
    pub limit: usize,
    /// The token endpoints: (name, URL, curl).
    pub endpoints: Vec<(&'static str, String, String)>,
    /// Whether the person may change things.
    pub can_change: bool,
    /// Now.
    pub now: OffsetDateTime,
}

/// The Details View of an application.
pub fn details(f: &Frame<'_>, d: &Details<'_>) -> Markup {
    let a = d.app;
    let id = a.client_id;
    let active = d.secrets.iter().filter(|s| s.expires_at > d.now).count();
    let full = active >= d.limit;
    page(
        f,
        &a.name,
        html! {
            p.crumbs { a href={ "/hub/tenants/" (a.tenant_id) "/applications" } { "Applications" } " / " (a.name) }
            div.heading {
                h1 { (a.name) }
                span class={ "status " (a.status.as_str()) } { (a.status.as_str()) }
            }
            section.card aria-labelledby="h-id" {
                h2 #h-id { "Details" }
                (copyable("client-id", "Client ID", &id.to_string(), false))
                p { "Role " strong { (a.role) } ": " span.scopes { (d.scopes) } }
            }
            section.card aria-labelledby="h-secrets" {
                div.heading {
                    h2 #h-secrets { "Secrets" }
                }
                @if d.secrets.is_empty() {
                    p.empty { "No secrets. Add one to use this application." }
                } @else {
                    div.table-wrap {
                        table {
                            thead { tr { th scope="col" { "Name" } th scope="col" { "Created" } th scope="col" { "Expires" } th scope="col" { "Last used" } th scope="col" { span.visually-hidden { "Actions" } } } }
                            tbody {
                                @for s in d.secrets {
                                    tr {
                                        td { (s.name) }
                                        td { (day(s.created_at)) }
                                        td {
                                            (day(s.expires_at))
                                            @if s.expires_at <= d.now { " " span.badge { "expired" } }
                                        }
                                        td { @match s.last_used_at { Some(t) => (day(t)), None => "never" } }
                                        td.row-actions {
                                            @if d.can_change {
                                                a.button.secondary.small href={ "/hub/applications/" (id) "/secrets/" (s.id) "/rotate" } aria-label={ "Rotate secret " (s.name) } { "Rotate" }
                                                a.button.danger.small href={ "/hub/applications/" (id) "/secrets/" (s.id) "/delete" } aria-label={ "X: delete secret " (s.name) } title="Delete secret" { "X" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if d.can_change {
                    @if full {
                        div.notice role="note" {
                            strong { "This application has " (d.limit) " active secrets, the limit." }
                            " An application can hold at most " (d.limit) " unexpired secrets, so that one can be replaced while the other still works. To add another, delete one (X) or rotate it: rotation makes a new secret and lets the old one expire after a grace period you choose."
                        }
                    } @else {
                        form.inline method="post" action={ "/hub/applications/" (id) "/secrets" } {
                            (csrf(f.csrf))
                            div.field {
                                label for="secret-name" { "Name" }
                                input #secret-name name="name" required maxlength="200" autocomplete="off";
                            }
                            div.field {
                                label for="days" { "Lifetime (days)" }
                                input #days name="days" type="number" min="1" max="730" value="365" required;
                            }
                            button type="submit" { "+ Add Secret" }
                        }
                    }
                }
            }
            section.card aria-labelledby="h-use" {
                h2 #h-use { "Get a token" }
                p { "Set " code { "CLIENT_ID" } " and " code { "CLIENT_SECRET" } ", then call any of these endpoints:" }
                pre.code { "export CLIENT_ID=" (id) "\nexport CLIENT_SECRET='<the secret you recorded>'" }
                @for (name, url, curl) in &d.endpoints {
                    details {
                        summary { strong { (name) } " " code { (url) } }
                        pre.code { (curl) }
                    }
                }
            }
            @if d.can_change {
                section.card.danger-zone aria-labelledby="h-danger" {
                    h2 #h-danger { "Delete Application" }
                    p { "Deleting the application deletes its secrets. Integrations using them break at once." }
                    a.button.danger href={ "/hub/applications/" (id) "/delete" } { "Delete Application" }
                }
            }
        },
    )
}

/// "Record Your Secret": the one time the value is shown.
pub fn record(
    f: &Frame<'_>,
    app: &Application,
    secret_name: &str,
    value: &str,
    api_key: &str,
) -> Markup {
    page(
        f,
        "Record Your Secret",
        html! {
            div.backdrop {
                div.modal role="dialog" aria-modal="true" aria-labelledby="h-record" {
                    h1 #h-record tabindex="-1" autofocus { "Record Your Secret" }
                    p { "The secret " strong { (secret_name) } " of " strong { (app.name) } " is shown this once. tessera keeps only a digest of it: after you leave this page nobody can show it again, so store it now in your secret manager." }
                    (copyable("secret-value", "Secret", value, false))
                    (copyable("api-key", "API key (base64 of client_id:secret)", api_key, false))
                    div.actions {
                        a.button href={ "/hub/applications/" (app.client_id) } { "I have recorded it" }
                    }
                }
            }
        },
    )
}

/// A confirmation before something that breaks integrations.
pub fn confirm(
    f: &Frame<'_>,
    title: &str,
    warning: &str,
    action: &str,
    button: &str,
    back: &str,
    extra: Markup,
) -> Markup {
    page(
        f,
        title,
        html! {
            div.card.narrow {
                h1 { (title) }
                p.warning role="alert" { (warning) }
                form method="post" action=(action) {
                    (csrf(f.csrf))
                    (extra)
                    div.actions {
                        button.danger type="submit" { (button) }
                        a.button.secondary href=(back) { "Cancel" }
                    }
                }
            }
        },
    )
}

/// An error inside the signed-in frame, or a bare one.
pub fn problem(title: &str, message: &str, back: Option<&str>) -> Markup {
    bare(
        title,
        html! {
            h1 { (title) }
            p role="alert" { (message) }
            @if let Some(b) = back { p { a href=(b) { "Back" } } }
            p { a href="/hub" { "Developer Hub" } }
        },
    )
}

/// The sign-in form.
pub fn sign_in(login_csrf: &str, error: Option<&str>, email: &str) -> Markup {
    bare(
        "Sign in",
        html! {
            h1 { "Sign in" }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form method="post" action="/hub/login" {
                input type="hidden" name="csrf" value=(login_csrf);
                div.field {
                    label for="email" { "Email" }
                    input #email name="email" type="email" required autocomplete="username" value=(email) autofocus;
                }
                div.field {
                    label for="password" { "Password" }
                    input #password name="password" type="password" required autocomplete="current-password";
                }
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// The password form of a setup link.
pub fn set_password(email: &str, error: Option<&str>) -> Markup {
    bare(
        "Set your password",
        html! {
            h1 { "Set your password" }
            p { "For " strong { (email) } ". At least 12 characters; a passphrase of several words is easiest." }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form method="post" action="/hub/setup" {
                input type="hidden" name="email" value=(email) autocomplete="username";
                div.field {
                    label for="password" { "Password" }
                    input #password name="password" type="password" required minlength="12" autocomplete="new-password";
                }
                div.field {
                    label for="confirm" { "Confirm password" }
                    input #confirm name="confirm" type="password" required minlength="12" autocomplete="new-password";
                }
                button type="submit" { "Set password and sign in" }
            }
        },
    )
}

/// iPOSpays' Settings → "Generate API & Secret Key".
pub fn settings(
    f: &Frame<'_>,
    app: Option<&Application>,
    secret: Option<&str>,
    can_change: bool,
) -> Markup {
    let action = format!("/hub/tenants/{}/settings/keys", f.tenant.id);
    page(
        f,
        "Settings",
        html! {
            h1 { "Settings" }
            section.card aria-labelledby="h-keys" {
                h2 #h-keys { "Generate API & Secret Key" }
                p { "Your integration sends the API Key and the Secret Key with each token request (" code { "apiKey" } " and " code { "secretKey" } ")." }
                @match app {
                    None => {
                        p.empty { "No keys yet." }
                        @if can_change {
                            form method="post" action=(action) {
                                (csrf(f.csrf))
                                button type="submit" { "Generate Keys" }
                            }
                        }
                    }
                    Some(app) => {
                        (copyable("api-key", "API Key", &app.client_id.to_string(), false))
                        @if let Some(s) = secret {
                            (copyable("secret-key", "Secret Key", s, true))
                            p.warning role="alert" { "The Secret Key is shown this once. tessera keeps only a digest of it: store it now. If it is lost, use “Reset Secret Key”." }
                        } @else {
                            p { "The Secret Key was shown once, when it was made. If it is lost, reset it: the old one stops working at once." }
                        }
                        @if can_change {
                            form method="post" action=(action) {
                                (csrf(f.csrf))
                                button.danger type="submit" { "Reset Secret Key" }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// Child tenants, and the form for a new one.
pub fn children(f: &Frame<'_>, kids: &[Tenant], can_change: bool) -> Markup {
    page(
        f,
        "Tenants",
        html! {
            h1 { "Tenants under " (f.tenant.name) }
            @if let Some(parent) = f.tenant.parent_id.filter(|_| f.tenant.id != f.me.tenant_id) {
                p { a href={ "/hub/tenants/" (parent) "/children" } { "Up to the parent tenant" } }
            }
            @if kids.is_empty() {
                p.empty { "No child tenants." }
            } @else {
                div.table-wrap {
                    table {
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Kind" } th scope="col" { "Status" } th scope="col" { "Created" } } }
                        tbody {
                            @for k in kids {
                                tr {
                                    td { a href={ "/hub/tenants/" (k.id) "/applications" } { "Switch to " (k.name) } }
                                    td { (k.kind) }
                                    td { (k.status.to_string()) }
                                    td { (day(k.created_at)) }
                                }
                            }
                        }
                    }
                }
            }
            @if can_change {
                form.card method="post" action={ "/hub/tenants/" (f.tenant.id) "/children" } {
                    h2 { "Create a child tenant" }
                    (csrf(f.csrf))
                    div.field {
                        label for="child-name" { "Name" }
                        input #child-name name="name" required maxlength="200" autocomplete="off";
                    }
                    div.field {
                        label for="child-kind" { "Kind" }
                        select #child-kind name="kind" {
                            @for k in ["merchant", "iso", "agent-office", "partner", "business-application"] {
                                option value=(k) { (k) }
                            }
                        }
                    }
                    button type="submit" { "Create tenant" }
                }
            }
        },
    )
}

/// People of the tenant, the invitation form, and a link just made (shown once).
pub fn users(f: &Frame<'_>, people: &[Person], invited: Option<(&str, &str)>) -> Markup {
    let action = format!("/hub/tenants/{}/users", f.tenant.id);
    page(
        f,
        "Users",
        html! {
            h1 { "Users" }
            @if let Some((email, link)) = invited {
                div.card role="status" {
                    h2 { "Password link for " (email) }
                    p { "Send this link to " (email) " through a channel you trust. It sets their password, works once and expires in 24 hours; it is not shown again, and any earlier link of theirs no longer works." }
                    (copyable("invite-link", "Password link", link, false))
                }
            }
            div.table-wrap {
                table {
                    thead { tr { th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { "Status" } th scope="col" { "Created" } th scope="col" { span.visually-hidden { "Actions" } } } }
                    tbody {
                        @for p in people {
                            tr {
                                td { (p.email) }
                                td { (p.role.as_str()) }
                                td { @if p.password_set { "active" } @else { "invited" } }
                                td { (day(p.created_at)) }
                                td.row-actions {
                                    form method="post" action=(action) {
                                        (csrf(f.csrf))
                                        input type="hidden" name="renew" value=(p.id);
                                        button.secondary.small type="submit" aria-label={ "New password link for " (p.email) } { "New link" }
                                    }
                                    @if p.id != f.me.id {
                                        form method="post" action=(action) {
                                            (csrf(f.csrf))
                                            input type="hidden" name="delete" value=(p.id);
                                            button.danger.small type="submit" aria-label={ "Delete user " (p.email) } { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            form.card method="post" action=(action) {
                h2 { "Invite a user" }
                (csrf(f.csrf))
                div.field {
                    label for="invite-email" { "Email" }
                    input #invite-email name="email" type="email" required autocomplete="off";
                }
                div.field {
                    label for="invite-role" { "Role" }
                    select #invite-role name="role" {
                        option value="viewer" { "viewer: read only" }
                        option value="admin" { "admin: everything in this tenant and below" }
                    }
                }
                button type="submit" { "Invite" }
            }
        },
    )
}

/// The tenant's audit trail, newest first.
pub fn audit(f: &Frame<'_>, events: &[tessera_core::audit::AuditEvent]) -> Markup {
    page(
        f,
        "Audit trail",
        html! {
            h1 { "Audit trail" }
            p { "Who did what in " (f.tenant.name) ", newest first (the last 90 days, at most 200 entries)." }
            @if events.is_empty() {
                p.empty { "Nothing recorded yet." }
            } @else {
                div.table-wrap {
                    table {
                        thead { tr { th scope="col" { "When (UTC)" } th scope="col" { "Who" } th scope="col" { "What" } th scope="col" { "Object" } th scope="col" { "Outcome" } th scope="col" { "From" } } }
                        tbody {
                            @for e in events {
                                tr {
                                    td { (e.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()) }
                                    td { (e.actor) }
                                    td { (e.action) }
                                    td.mono { (e.target.as_deref().unwrap_or("—")) }
                                    td { (e.outcome.as_str()) }
                                    td { (e.source.as_deref().unwrap_or("—")) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}
