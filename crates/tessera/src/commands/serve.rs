//! `tessera serve`.

use crate::args::ServeArgs;
use crate::database::{open_store, redact};
use crate::output::created_secret;
use crate::settings::Settings;
use anyhow::{Context, Result};
use serde_json::json;
use std::sync::Arc;
use tessera_core::admin::{ActingAdmin, NewTenant};
use tessera_core::audit::Actor;
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::ids::ClientId;
use tessera_core::people::HubRole;
use tessera_server::{AppState, NodeConfig};
use time::Duration;
use tokio::net::TcpListener;

/// The log format: `log_format` (from `TESSERA_LOG_FORMAT` or the config file), else `pretty`.
fn log_format(setting: Option<&str>) -> Result<bool> {
    match setting.unwrap_or("pretty") {
        "json" => Ok(true),
        "pretty" => Ok(false),
        other => anyhow::bail!("log format {other:?}: use json or pretty"),
    }
}

/// Sets up logging to stderr; log lines are written until the returned guard is dropped.
fn init_logging(
    json: bool,
) -> (
    tracing_appender::non_blocking::WorkerGuard,
    Option<crate::line_batch::LineBatch>,
) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("TESSERA_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // Lines are written by a thread of their own, so that no write(2) sits on the token path.
    // It drains every line waiting, then flushes: under load one write carries many lines, and
    // an idle server's line goes out at once. Past 128,000 lines waiting (stderr stuck, say)
    // lines are dropped rather than stall token issuance; the audit log, in the database, is
    // the record that must not lose anything.
    let (writer, guard) = tracing_appender::non_blocking(std::io::BufWriter::with_capacity(
        64 * 1024,
        std::io::stderr(),
    ));
    // Colour only for a person at a terminal: a log file or a collector gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    if json {
        // The request line, the one written per request, goes to a batch writer of its own
        // (`line_batch`); every other line through the formatter.
        let batch = crate::line_batch::LineBatch::start(Box::new(std::io::stderr()));
        tessera_server::request_log::set_json_sink(batch.sink());
        builder
            .json()
            .with_current_span(false)
            .with_span_list(false)
            .init();
        (guard, Some(batch))
    } else {
        builder.init();
        (guard, None)
    }
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(s: Settings, args: ServeArgs) -> Result<()> {
    let _log_writer = init_logging(log_format(s.file.log_format.as_deref())?);
    let store = open_store(&s.database).await?;
    // Held while the server runs: `restore` refuses to replace the file meanwhile.
    let _serve_lock = match crate::database::Engine::of(&s.database)? {
        crate::database::Engine::Sqlite => Some(crate::database::ServeLock::shared(
            &crate::database::sqlite_file(&s.database)?,
        )?),
        crate::database::Engine::Postgres => None,
    };
    let master = crate::master_key::resolve(&s.database, true)?;
    let listen = args.listen.unwrap_or_else(|| s.listen());
    let listener = TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr()?;
    let metrics_listener = match &s.file.metrics.listen {
        Some(addr) if s.file.metrics.enabled => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (metrics.listen)"))?,
        ),
        _ => None,
    };
    let tls = match (
        args.tls_cert.or_else(|| s.file.tls_cert.clone()),
        args.tls_key.or_else(|| s.file.tls_key.clone()),
    ) {
        (Some(cert), Some(key)) => Some(tessera_server::tls::acceptor(
            tessera_server::tls::TlsFiles { cert, key },
        )?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let issuer = args
        .issuer
        .or_else(|| s.file.issuer.clone())
        .unwrap_or_else(|| format!("{scheme}://{bound}"));
    let catalog = Arc::new(s.file.catalog()?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let keys = &s.file.keys;
    let config = NodeConfig {
        issuer,
        default_audience: s.file.tokens.default_audience.clone(),
        management_audience: s.file.tokens.management_audience.clone(),
        token_ttl: Duration::seconds(i64::from(s.file.tokens.ttl_seconds)),
        alg: s.file.algorithm()?,
        max_token_ttl: Duration::seconds(i64::from(keys.max_token_ttl_seconds)),
        rotation_delay: Duration::seconds(i64::from(keys.rotation_delay_seconds)),
        rotation_interval: (keys.rotation_interval_days > 0)
            .then(|| Duration::days(i64::from(keys.rotation_interval_days))),
        refresh_interval: std::time::Duration::from_millis(u64::from(
            s.file.poll_interval_ms.unwrap_or(250),
        )),
        dialects: s.file.dialects.resolve()?,
        limits: s.file.limits.resolve()?,
        audit_retention: s.file.audit.retention()?,
        metrics: s.file.metrics.resolve()?,
        expiry_warning: s.file.expiry.window()?,
        webhooks: s.file.webhooks.resolve()?,
    };
    // Serve at once, while the directory loads (seconds at a million merchants): `/healthz`
    // answers and everything else, `/readyz` included, is 503 until the node is ready.
    let connections = config.limits.connections;
    let acceptor = match tls {
        Some((acceptor, reloading)) => {
            tokio::spawn(reloading.watch(std::time::Duration::from_secs(2)));
            Some(acceptor)
        }
        None => {
            tracing::info!(
                "serving plain HTTP: a TLS-terminating proxy is expected in front (or use --tls-cert and --tls-key)"
            );
            None
        }
    };
    let loading = tessera_server::serve::Loading::default();
    let server = tokio::spawn(tessera_server::serve::serve_with_limits(
        listener,
        loading.clone(),
        connections,
        acceptor,
        shutdown_signal(),
    ));
    let state = AppState::start(
        store.clone(),
        &master,
        catalog.clone(),
        clock.clone(),
        config,
    )
    .await?;
    let issuer = state.config.issuer.clone();

    let mut line = json!({"listening": bound.to_string(), "issuer": issuer});
    if let Some(l) = &metrics_listener {
        line["metrics"] = json!(l.local_addr()?.to_string());
    }
    if args.demo {
        // Whoever starts the server with --demo is at the command line.
        let admin = state.admin.acting_as(Actor::cli());
        line["demo"] = demo(&admin, &issuer).await?;
        // Make the demo client usable at once rather than at the next poll.
        state.directory.refresh(state.store.as_ref()).await?;
    }
    // The gauges read from the directory are set before the first scrape can arrive.
    if tessera_server::telemetry::enabled() {
        tessera_server::telemetry::sample_directory(&state);
    }
    loading.ready(tessera_server::router(state.clone()));
    println!("{line}");
    tracing::info!(
        address = %bound,
        issuer = %issuer,
        database = %redact(&s.database),
        "listening on {bound}"
    );

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let background = tessera_server::background::spawn(state.clone(), stop_rx.clone());
    let metrics_server = metrics_listener.map(|l| {
        let app = tessera_server::telemetry::router(state.clone());
        let mut stop = stop_rx;
        tokio::spawn(tessera_server::serve::serve(l, app, async move {
            let _ = stop.wait_for(|&s| s).await;
        }))
    });
    let _ = server.await;
    let _ = stop_tx.send(true);
    let _ = background.await;
    if let Some(m) = metrics_server {
        let _ = m.await;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
}

/// The console user `--demo` makes.
const DEMO_EMAIL: &str = "demo@example.com";

/// Creates the demo tenant and application once (their ids are remembered in the database),
/// and a fresh secret at every start, replacing the previous demo secrets.
async fn demo(admin: &ActingAdmin, issuer: &str) -> Result<serde_json::Value> {
    let store = admin.store();
    let existing = match store.meta_get("demo_client_id").await? {
        Some(id) => match id.parse::<ClientId>() {
            Ok(id) => admin.get_app(id).await.ok(),
            Err(_) => None,
        },
        None => None,
    };
    let app = match existing {
        Some(app) => {
            for s in admin.list_secrets(app.client_id).await? {
                admin.delete_secret(app.client_id, s.id).await?;
            }
            app
        }
        None => {
            let t = admin
                .create_tenant(NewTenant {
                    name: "Demo merchant".into(),
                    kind: Some("merchant".into()),
                    parent_id: None,
                })
                .await?;
            let app = admin.create_app(t.id, "demo", "merchant").await?;
            store
                .meta_init("demo_client_id", &app.client_id.to_string())
                .await?;
            app
        }
    };
    let secret = admin.create_secret(app.client_id, "demo", Some(30)).await?;
    let mut v = created_secret(&secret)?;
    v["curl"] = json!(format!(
        "curl -s -u '{}:{}' -d grant_type=client_credentials {issuer}/oauth2/token",
        app.client_id,
        secret.value.expose()
    ));
    // The console's demo user: replaced at every start, with a fresh link to set its password.
    if let Ok(p) = store.person_by_email(DEMO_EMAIL).await {
        admin.delete_person(p.person.id).await?;
    }
    let (_, code) = admin
        .create_person(app.tenant_id, DEMO_EMAIL, HubRole::Admin)
        .await?;
    v["console"] = json!({
        "email": DEMO_EMAIL,
        "set_password_and_sign_in": tessera_server::hub::setup_link(issuer, &code),
    });
    Ok(v)
}
