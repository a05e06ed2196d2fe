//! One module per command family; this one runs the command the arguments name.

mod app;
mod audit;
mod backup;
mod keys;
mod secret;
pub mod serve;
mod tenant;
mod user;
mod validate;
mod webhook;

use crate::args::{Cli, Command, ConfigCmd};
use crate::database::open_store;
use crate::settings::Settings;
use anyhow::Result;
use serde_json::Value;
use std::sync::Arc;
use tessera_core::admin::{ActingAdmin, Admin, SecretPolicy, check_master_key};
use tessera_core::audit::{Actor, AuditBuffer};
use tessera_core::clock::SystemClock;
use tessera_core::master::MasterKey;
use tessera_core::store::Store;

/// Runs the command; `Some` is the JSON to print.
pub async fn run(cli: Cli) -> Result<Option<Value>> {
    // `config check FILE` checks that file rather than the one --config names.
    let config = match &cli.command {
        Command::Config(ConfigCmd::Check { file: Some(f) }) => Some(f.clone()),
        _ => cli.config,
    };
    let settings = Settings::resolve(cli.database, config.as_deref())?;
    let s = &settings;
    match cli.command {
        Command::Serve(args) => serve::run(settings, args).await.map(|()| None),
        Command::ValidateConfig => validate::run(s).map(Some),
        Command::Backup { to } => backup::backup(s, &to).await.map(Some),
        Command::Restore { from } => backup::restore(s, &from).await.map(Some),
        Command::Config(ConfigCmd::Check { .. }) => validate::check(s, config.as_deref()).map(Some),
        Command::Keys(c) => keys::run(s, c).await.map(Some),
        Command::Audit(a) => Session::open(s).await?.run(audit::run, a).await,
        Command::Tenant(c) => Session::open(s).await?.run(tenant::run, c).await,
        Command::App(c) => Session::open(s).await?.run(app::run, c).await,
        Command::Webhook(c) => {
            let allow = s.file.webhooks.allow_private_addresses;
            let cipher = crate::master_key::resolve(&s.database, true)?.webhook_cipher();
            let run = async |admin: &ActingAdmin, c| webhook::run(admin, c, allow, &cipher).await;
            Session::open(s).await?.run(run, c).await
        }
        Command::User(c) => {
            let issuer = s.public_issuer();
            let run = async |admin: &ActingAdmin, c| user::run(admin, c, &issuer).await;
            Session::open(s).await?.run(run, c).await
        }
        Command::Secret(c) => {
            let window = s.file.expiry.window()?;
            let run = async |admin: &ActingAdmin, c| secret::run(admin, c, window).await;
            Session::open(s).await?.run(run, c).await
        }
    }
}

/// The store, once the master key is known to be the one it was initialised with.
async fn open_checked(s: &Settings) -> Result<(Arc<dyn Store>, MasterKey)> {
    let store = open_store(&s.database).await?;
    let master = crate::master_key::resolve(&s.database, true)?;
    check_master_key(store.as_ref(), &master).await?;
    Ok((store, master))
}

/// The core's administrative service for one command, acting as `cli`. The core notes an audit
/// record for each change; they are appended before the command's output is printed, since the
/// process exits right after.
struct Session {
    admin: ActingAdmin,
    audit: Arc<AuditBuffer>,
}

impl Session {
    async fn open(s: &Settings) -> Result<Session> {
        let (store, master) = open_checked(s).await?;
        let audit = Arc::new(AuditBuffer::default());
        let admin = Admin::new(
            store,
            master.pepper(),
            Arc::new(s.file.catalog()?),
            Arc::new(SystemClock),
            SecretPolicy::default(),
            audit.clone(),
        )
        .with_max_token_ttl(s.max_token_ttl())
        .acting_as(Actor::cli());
        Ok(Session { admin, audit })
    }

    /// Runs a command family's function, then appends its audit records, whatever its outcome.
    async fn run<C, F>(self, command: F, args: C) -> Result<Option<Value>>
    where
        F: AsyncFnOnce(&ActingAdmin, C) -> Result<Value>,
    {
        let outcome = command(&self.admin, args).await;
        if let Err(e) = self.audit.flush(self.admin.store().as_ref()).await {
            eprintln!("warning: cannot append to the audit log: {e}");
        }
        outcome.map(Some)
    }
}
