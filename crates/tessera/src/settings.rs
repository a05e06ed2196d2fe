//! What every command needs, resolved from flags, environment and the config file.

use crate::config::{DEFAULT_DATABASE, FileConfig};
use anyhow::Result;
use std::path::Path;

/// The settings in force.
pub struct Settings {
    /// The config file (defaults when none).
    pub file: FileConfig,
    /// The database URL: the flag or environment, else the config file's, else SQLite under
    /// `./tessera-data`.
    pub database: String,
}

impl Settings {
    /// Loads the config file at `config` (if any) and settles the database URL.
    pub fn resolve(database: Option<String>, config: Option<&Path>) -> Result<Settings> {
        let file = FileConfig::load(config)?;
        let database = database
            .or_else(|| file.database.clone())
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
        Ok(Settings { file, database })
    }

    /// The longest lifetime of any token issued.
    pub fn max_token_ttl(&self) -> time::Duration {
        time::Duration::seconds(i64::from(self.file.keys.max_token_ttl_seconds))
    }
}
