//! `tessera config check` and `tessera validate-config`.

use crate::database::redact;
use crate::layers::leaves;
use crate::settings::Settings;
use anyhow::Result;
use serde_json::{Map, Value, json};
use std::path::Path;

/// Every setting in force with its source (flag, env, file or default), by dotted key. The
/// settings have been validated by the time this runs.
pub fn check(s: &Settings, file: Option<&Path>) -> Result<Value> {
    let mut tree = serde_json::to_value(&s.file)?;
    // The URL in force (a flag or TESSERA_DATABASE_URL may override the settings'), masked.
    tree["database"] = json!(redact(&s.database));
    let settings: Map<String, Value> = leaves(&tree)
        .into_iter()
        .map(|(key, value)| {
            let source = s.sources.of(&key).to_string();
            (key, json!({"value": value, "source": source}))
        })
        .collect();
    Ok(json!({
        "valid": true,
        "config_file": file.map(|p| p.display().to_string()),
        "settings": settings,
    }))
}

/// The effective settings, the database URL without its password.
pub fn run(s: &Settings) -> Result<Value> {
    let roles: Map<String, Value> = s
        .file
        .catalog()?
        .roles()
        .map(|(r, scopes)| (r.to_owned(), json!(scopes.to_string())))
        .collect();
    Ok(json!({
        "database": redact(&s.database),
        "algorithm": s.file.algorithm()?.as_str(),
        "token_ttl_seconds": s.file.tokens.ttl_seconds,
        "roles": roles,
    }))
}
