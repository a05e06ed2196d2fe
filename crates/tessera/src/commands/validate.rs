//! `tessera validate-config`.

use crate::database::redact;
use crate::settings::Settings;
use anyhow::Result;
use serde_json::{Map, Value, json};

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
