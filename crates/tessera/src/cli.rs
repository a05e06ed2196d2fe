//! Command-line parsing and the administrative commands.

use crate::config::{DEFAULT_DATABASE, FileConfig};
use anyhow::{Context, Result, anyhow};
use base64::Engine;
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tessera_core::CoreError;
use tessera_core::admin::{Admin, NewTenant, SecretPolicy, check_master_key};
use tessera_core::audit::{AuditEvent, AuditQuery, Outcome};
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::ids::{ClientId, SecretId, TenantId};
use tessera_core::keyring::Keyring;
use tessera_core::keys::KeySet;
use tessera_core::model::{AppStatus, TenantStatus};
use tessera_core::proto::Algorithm;
use tessera_core::store::Store;
use tessera_store_sqlite::SqliteStore;
use time::Duration;

/// tessera: an OAuth2 client-credentials authorization server for payment APIs.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
pub struct Cli {
    /// Database URL: sqlite://PATH or postgres://USER:PASSWORD@HOST/DB. Default: SQLite under
    /// ./tessera-data.
    #[arg(long, global = true, env = "TESSERA_DATABASE_URL")]
    pub database: Option<String>,
    /// Config file (TOML).
    #[arg(long, global = true, env = "TESSERA_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the authorization server.
    Serve(ServeArgs),
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Manage applications (OAuth clients).
    #[command(subcommand)]
    App(AppCmd),
    /// Manage client secrets.
    #[command(subcommand)]
    Secret(SecretCmd),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Check a config file and print the effective settings.
    ValidateConfig,
    /// Read the audit log.
    Audit {
        /// Only this tenant's events.
        #[arg(long)]
        tenant: Option<String>,
        /// Only events at or after this RFC 3339 instant, or this long ago (e.g. 24h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// At most this many, newest (default 1000).
        #[arg(long)]
        limit: Option<u32>,
    },
}

/// `serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the bound address is printed).
    #[arg(long)]
    pub listen: Option<String>,
    /// Issuer URL, the `iss` of every token. Default: http:// + the bound address.
    #[arg(long)]
    pub issuer: Option<String>,
    /// Create (or refresh) a demo tenant, application and secret, and print a curl command.
    #[arg(long)]
    pub demo: bool,
}

/// `tenant` commands.
#[derive(Debug, Subcommand)]
pub enum TenantCmd {
    /// Create a tenant.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// gateway, partner, iso, agent, merchant, ... (default merchant).
        #[arg(long)]
        kind: Option<String>,
        /// Parent tenant id.
        #[arg(long)]
        parent: Option<String>,
    },
    /// List every tenant (deleted ones included, as tombstones).
    List,
    /// Show one tenant.
    Show {
        /// Tenant id.
        id: String,
    },
    /// Disable a tenant: its applications get no tokens.
    Disable {
        /// Tenant id.
        id: String,
    },
    /// Enable a disabled tenant.
    Enable {
        /// Tenant id.
        id: String,
    },
    /// Delete a tenant (final; a tombstone remains).
    Delete {
        /// Tenant id.
        id: String,
    },
}

/// `app` commands.
#[derive(Debug, Subcommand)]
pub enum AppCmd {
    /// Create an application.
    Create {
        /// Owning tenant id.
        #[arg(long)]
        tenant: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Role from the catalog.
        #[arg(long)]
        role: String,
    },
    /// List a tenant's applications.
    List {
        /// Tenant id.
        #[arg(long)]
        tenant: String,
    },
    /// Show one application and its secrets' metadata.
    Show {
        /// Client id.
        client_id: String,
    },
    /// Disable an application.
    Disable {
        /// Client id.
        client_id: String,
    },
    /// Enable a disabled application.
    Enable {
        /// Client id.
        client_id: String,
    },
    /// Delete an application and its secrets.
    Delete {
        /// Client id.
        client_id: String,
    },
}

/// `secret` commands.
#[derive(Debug, Subcommand)]
pub enum SecretCmd {
    /// Create a secret; its value is printed once and never again.
    Create {
        /// Client id.
        #[arg(long)]
        app: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Lifetime in days (1 to 730, default 365).
        #[arg(long)]
        days: Option<u32>,
    },
    /// List an application's secrets (never their values).
    List {
        /// Client id.
        #[arg(long)]
        app: String,
    },
    /// Delete a secret.
    Delete {
        /// Client id.
        #[arg(long)]
        app: String,
        /// Secret id.
        secret_id: String,
    },
    /// Create a new secret and cut the old one's expiry to now + grace, in one transaction.
    Rotate {
        /// Client id.
        #[arg(long)]
        app: String,
        /// The secret to replace.
        secret_id: String,
        /// How long the old secret keeps working (e.g. 24h, 30m, 2d; default 24h).
        #[arg(long, default_value = "24h")]
        grace: String,
    },
    /// Secrets that expire soon, across every tenant.
    Expiring {
        /// The window (e.g. 14d, 36h; default 14d).
        #[arg(long, default_value = "14d")]
        within: String,
        /// Only this tenant's.
        #[arg(long)]
        tenant: Option<String>,
    },
}

/// Parses a duration such as `90s`, `30m`, `24h` or `14d`. Four units need no crate.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| anyhow!("{s:?} is not a duration such as 30m, 24h or 14d"))?;
    match unit {
        "s" => Ok(Duration::seconds(n)),
        "m" => Ok(Duration::minutes(n)),
        "h" | "" => Ok(Duration::hours(n)),
        "d" => Ok(Duration::days(n)),
        _ => Err(anyhow!("{s:?} is not a duration such as 30m, 24h or 14d")),
    }
}

/// `keys` commands.
#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Add a key that is published at once and signs after the rotation delay.
    Rotate {
        /// Algorithm (default: the configured one).
        #[arg(long)]
        alg: Option<String>,
        /// Seconds before the new key signs (default: keys.rotation_delay_seconds).
        #[arg(long)]
        delay_seconds: Option<u32>,
    },
    /// List keys and their phase (next, current, previous, retired).
    List,
}

/// Parses the arguments, runs the command, prints the result; never panics on bad input.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(dispatch(cli)) {
        Ok(Some(v)) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What every command needs, resolved from flags, environment and the config file.
pub struct Settings {
    /// The config file (defaults when none).
    pub file: FileConfig,
    /// The database URL.
    pub database: String,
}

async fn dispatch(cli: Cli) -> Result<Option<Value>> {
    let file = FileConfig::load(cli.config.as_deref())?;
    let database = cli
        .database
        .clone()
        .or_else(|| file.database.clone())
        .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
    let ctx = Settings { file, database };
    match cli.command {
        Command::Serve(args) => crate::serve::serve(ctx, args).await.map(|()| None),
        Command::ValidateConfig => Ok(Some(json!({
            "database": redact_url(&ctx.database),
            "algorithm": ctx.file.algorithm()?.as_str(),
            "token_ttl_seconds": ctx.file.tokens.ttl_seconds,
            "roles": ctx.file.catalog()?.roles().map(|(r, s)| (r.to_owned(), json!(s.to_string()))).collect::<serde_json::Map<_, _>>(),
        }))),
        Command::Audit {
            tenant,
            since,
            limit,
        } => audit_log(&ctx, tenant, since, limit).await.map(Some),
        Command::Tenant(c) => tenant(&ctx, c).await.map(Some),
        Command::App(c) => app(&ctx, c).await.map(Some),
        Command::Secret(c) => secret(&ctx, c).await.map(Some),
        Command::Keys(c) => keys(&ctx, c).await.map(Some),
    }
}

/// A database URL without its password, for output.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or_default();
            format!("{}://{user}:***@{}", &url[..s], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Opens the store named by the URL.
pub async fn open_store(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        if let Some(dir) = crate::config::data_dir(url) {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        }
        let s = SqliteStore::open(url).await.map_err(|e| anyhow!("{e}"))?;
        Ok(Arc::new(s))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let s = tessera_store_postgres::PostgresStore::open(url)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        Ok(Arc::new(s))
    } else {
        Err(anyhow!(
            "unsupported database URL {:?}: use sqlite://PATH or postgres://USER@HOST/DB",
            redact_url(url)
        ))
    }
}

async fn admin(ctx: &Settings) -> Result<Admin> {
    let store = open_store(&ctx.database).await?;
    let master = crate::master_key::resolve(&ctx.database, true)?;
    check_master_key(store.as_ref(), &master).await?;
    Ok(Admin::new(
        store,
        master.pepper(),
        Arc::new(ctx.file.catalog()?),
        Arc::new(SystemClock),
        SecretPolicy::default(),
    )
    .with_max_token_ttl(Duration::seconds(i64::from(
        ctx.file.keys.max_token_ttl_seconds,
    ))))
}

/// Appends the audit record of a CLI change (actor "cli"), synchronously: the process may exit
/// right after.
async fn record<T>(
    a: &Admin,
    action: &str,
    tenant: Option<TenantId>,
    target: Option<String>,
    r: &Result<T, CoreError>,
) {
    let event = AuditEvent {
        at: SystemClock.now(),
        actor: "cli".into(),
        tenant_id: tenant,
        action: action.into(),
        target,
        outcome: if r.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        },
        source: None,
    };
    if let Err(e) = a.store().append_audit(&[event]).await {
        eprintln!("warning: cannot append to the audit log: {e}");
    }
}

async fn audit_log(
    ctx: &Settings,
    tenant: Option<String>,
    since: Option<String>,
    limit: Option<u32>,
) -> Result<Value> {
    let a = admin(ctx).await?;
    let since = match since {
        None => None,
        Some(s) => Some(
            match time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339) {
                Ok(t) => t,
                Err(_) => SystemClock.now() - parse_duration(&s)?,
            },
        ),
    };
    let q = AuditQuery {
        tenant_id: tenant.as_deref().map(tenant_id).transpose()?,
        since,
        limit: limit.unwrap_or(0),
    };
    to_json(&core(a.audit(&q).await)?)
}

fn tenant_id(s: &str) -> Result<TenantId> {
    s.parse()
        .map_err(|_| anyhow!("{s:?} is not a tenant id (a UUID)"))
}

fn client_id(s: &str) -> Result<ClientId> {
    s.parse()
        .map_err(|_| anyhow!("{s:?} is not a client id (a UUID)"))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).context("cannot render JSON")
}

fn core<T>(r: Result<T, CoreError>) -> Result<T> {
    r.map_err(|e| anyhow!("{e}"))
}

async fn tenant(ctx: &Settings, c: TenantCmd) -> Result<Value> {
    let a = admin(ctx).await?;
    let status = |id: &str, s: TenantStatus, action: &'static str| {
        let a = a.clone();
        let id = tenant_id(id);
        async move {
            let id = id?;
            let r = a.set_tenant_status(id, s).await;
            record(&a, action, Some(id), Some(id.to_string()), &r).await;
            to_json(&core(r)?)
        }
    };
    match c {
        TenantCmd::Create { name, kind, parent } => {
            let parent_id = parent.as_deref().map(tenant_id).transpose()?;
            let r = a
                .create_tenant(NewTenant {
                    name,
                    kind,
                    parent_id,
                })
                .await;
            let id = r.as_ref().ok().map(|t| t.id);
            record(&a, "tenant.create", id, id.map(|i| i.to_string()), &r).await;
            to_json(&core(r)?)
        }
        TenantCmd::List => to_json(&core(a.list_tenants().await)?),
        TenantCmd::Show { id } => to_json(&core(a.get_tenant(tenant_id(&id)?).await)?),
        TenantCmd::Disable { id } => status(&id, TenantStatus::Disabled, "tenant.disable").await,
        TenantCmd::Enable { id } => status(&id, TenantStatus::Active, "tenant.enable").await,
        TenantCmd::Delete { id } => status(&id, TenantStatus::Deleted, "tenant.delete").await,
    }
}

async fn app(ctx: &Settings, c: AppCmd) -> Result<Value> {
    let a = admin(ctx).await?;
    let status = |id: &str, s: AppStatus, action: &'static str| {
        let a = a.clone();
        let id = client_id(id);
        async move {
            let id = id?;
            let r = a.set_app_status(id, s).await;
            let tenant = r.as_ref().ok().map(|x| x.tenant_id);
            record(&a, action, tenant, Some(id.to_string()), &r).await;
            to_json(&core(r)?)
        }
    };
    match c {
        AppCmd::Create { tenant, name, role } => {
            let tid = tenant_id(&tenant)?;
            let r = a.create_app(tid, &name, &role).await;
            let target = r.as_ref().ok().map(|x| x.client_id.to_string());
            record(&a, "application.create", Some(tid), target, &r).await;
            to_json(&core(r)?)
        }
        AppCmd::List { tenant } => to_json(&core(a.list_apps(tenant_id(&tenant)?).await)?),
        AppCmd::Show { client_id: id } => {
            let id = client_id(&id)?;
            let mut v = to_json(&core(a.get_app(id).await)?)?;
            v["secrets"] = to_json(&core(a.list_secrets(id).await)?)?;
            Ok(v)
        }
        AppCmd::Disable { client_id: id } => {
            status(&id, AppStatus::Disabled, "application.disable").await
        }
        AppCmd::Enable { client_id: id } => {
            status(&id, AppStatus::Active, "application.enable").await
        }
        AppCmd::Delete { client_id: id } => {
            status(&id, AppStatus::Deleted, "application.delete").await
        }
    }
}

/// The JSON of a created secret: the only output that ever holds a secret value.
pub fn created_secret_json(s: &tessera_core::admin::CreatedSecret) -> Result<Value> {
    let mut v = to_json(&s.meta)?;
    let pair = format!("{}:{}", s.meta.client_id, s.value.expose());
    v["secret"] = json!(s.value.expose());
    v["api_key"] = json!(base64::engine::general_purpose::STANDARD.encode(pair));
    Ok(v)
}

async fn secret(ctx: &Settings, c: SecretCmd) -> Result<Value> {
    let a = admin(ctx).await?;
    match c {
        SecretCmd::Create { app, name, days } => {
            let cid = client_id(&app)?;
            let r = a.create_secret(cid, &name, days).await;
            let target = r.as_ref().ok().map(|s| s.meta.id.to_string());
            record(&a, "secret.create", tenant_of(&a, cid).await, target, &r).await;
            created_secret_json(&core(r)?)
        }
        SecretCmd::Rotate {
            app,
            secret_id,
            grace,
        } => {
            let cid = client_id(&app)?;
            let sid = secret_id_of(&secret_id)?;
            let r = a.rotate_secret(cid, sid, parse_duration(&grace)?).await;
            record(
                &a,
                "secret.rotate",
                tenant_of(&a, cid).await,
                Some(sid.to_string()),
                &r,
            )
            .await;
            created_secret_json(&core(r)?)
        }
        SecretCmd::Expiring { within, tenant } => {
            let tenant = tenant.as_deref().map(tenant_id).transpose()?;
            let list = core(a.expiring(parse_duration(&within)?, tenant).await)?;
            let rows: Vec<Value> = list
                .into_iter()
                .map(|(t, s)| {
                    let mut v = to_json(&s)?;
                    v["tenant_id"] = json!(t);
                    Ok(v)
                })
                .collect::<Result<_>>()?;
            Ok(Value::Array(rows))
        }
        SecretCmd::List { app } => to_json(&core(a.list_secrets(client_id(&app)?).await)?),
        SecretCmd::Delete { app, secret_id } => {
            let sid = secret_id_of(&secret_id)?;
            let cid = client_id(&app)?;
            let tenant = tenant_of(&a, cid).await;
            let r = a.delete_secret(cid, sid).await;
            record(&a, "secret.delete", tenant, Some(sid.to_string()), &r).await;
            core(r)?;
            Ok(json!({"id": sid, "deleted": true}))
        }
    }
}

fn secret_id_of(s: &str) -> Result<SecretId> {
    s.parse()
        .map_err(|_| anyhow!("{s:?} is not a secret id (a UUID)"))
}

async fn tenant_of(a: &Admin, app: ClientId) -> Option<TenantId> {
    a.get_app(app).await.ok().map(|x| x.tenant_id)
}

async fn keys(ctx: &Settings, c: KeysCmd) -> Result<Value> {
    let store = open_store(&ctx.database).await?;
    let master = crate::master_key::resolve(&ctx.database, true)?;
    core(check_master_key(store.as_ref(), &master).await)?;
    let now = SystemClock.now();
    let max_ttl = Duration::seconds(i64::from(ctx.file.keys.max_token_ttl_seconds));
    match c {
        KeysCmd::Rotate { alg, delay_seconds } => {
            let alg = match alg {
                Some(a) => a.parse::<Algorithm>().map_err(|e| anyhow!("--alg: {e}"))?,
                None => ctx.file.algorithm()?,
            };
            let delay = i64::from(delay_seconds.unwrap_or(ctx.file.keys.rotation_delay_seconds));
            let rec = core(
                Keyring::rotate(
                    &master.key_cipher(),
                    store.as_ref(),
                    alg,
                    now,
                    Duration::seconds(delay),
                )
                .await,
            )?;
            Ok(json!({
                "kid": rec.kid,
                "alg": rec.alg,
                "created_at": rfc3339(rec.created_at)?,
                "activates_at": rfc3339(rec.activates_at)?,
            }))
        }
        KeysCmd::List => {
            let ring = Keyring::new(master.key_cipher(), max_ttl);
            core(ring.load(store.as_ref()).await)?;
            let set: Arc<KeySet> = ring.snapshot();
            let rows: Vec<Value> = set
                .phases(now, max_ttl)
                .into_iter()
                .map(|(k, phase)| {
                    Ok(json!({
                        "kid": k.kid(),
                        "alg": k.alg(),
                        "activates_at": rfc3339(k.activates_at())?,
                        "phase": phase,
                    }))
                })
                .collect::<Result<_>>()?;
            Ok(Value::Array(rows))
        }
    }
}

fn rfc3339(t: time::OffsetDateTime) -> Result<String> {
    t.format(&time::format_description::well_known::Rfc3339)
        .context("cannot format time")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}
