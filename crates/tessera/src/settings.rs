//! What every command needs, resolved from flags, environment and the config file.

use crate::config::{DEFAULT_DATABASE, FileConfig};
use crate::layers::{Source, Sources};
use anyhow::Result;
use std::path::Path;

/// The settings in force.
pub struct Settings {
    /// The config file (defaults when none).
    pub file: FileConfig,
    /// The database URL: the flag or environment, else the config file's, else SQLite under
    /// `./tessera-data`.
    pub database: String,
    /// Where each setting came from.
    pub sources: Sources,
}

impl Settings {
    /// Loads the config file at `config` (if any) under the process's `TESSERA_*` variables and
    /// settles the database URL (`--database` or `TESSERA_DATABASE_URL` over the settings').
    pub fn resolve(database: Option<String>, config: Option<&Path>) -> Result<Settings> {
        let (file, mut sources) = FileConfig::load(config, std::env::vars_os())?;
        if let Some(db) = &database {
            let from_env = std::env::var("TESSERA_DATABASE_URL").is_ok_and(|v| &v == db);
            sources.set(
                "database",
                if from_env {
                    Source::Env("TESSERA_DATABASE_URL".into())
                } else {
                    Source::Flag("--database")
                },
            );
        }
        let database = database
            .or_else(|| file.database.clone())
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
        Ok(Settings {
            file,
            database,
            sources,
        })
    }

    /// Where the server listens unless told otherwise.
    pub fn listen(&self) -> String {
        self.file
            .listen
            .clone()
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned())
    }

    /// The issuer as commands outside `serve` print it (the console's links): the configured
    /// one, else plain HTTP on the listen address, as `serve` would use.
    pub fn public_issuer(&self) -> String {
        let issuer = self
            .file
            .issuer
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen()));
        issuer.trim_end_matches('/').to_owned()
    }

    /// The longest lifetime of any token issued.
    pub fn max_token_ttl(&self) -> time::Duration {
        time::Duration::seconds(i64::from(self.file.keys.max_token_ttl_seconds))
    }
}
