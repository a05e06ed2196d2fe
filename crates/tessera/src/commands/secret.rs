//! `tessera secret`.

use crate::args::SecretCmd;
use crate::output::{created_secret, to_json};
use anyhow::Result;
use serde_json::{Value, json};
use tessera_core::admin::ActingAdmin;

/// Runs a `secret` command; `expiry_window` is what `expiring` lists without `--within`.
pub async fn run(
    admin: &ActingAdmin,
    c: SecretCmd,
    expiry_window: time::Duration,
) -> Result<Value> {
    match c {
        SecretCmd::Create { app, name, days } => {
            created_secret(&admin.create_secret(app, &name, days).await?)
        }
        SecretCmd::Rotate {
            app,
            secret_id,
            grace,
        } => created_secret(&admin.rotate_secret(app, secret_id, grace).await?),
        SecretCmd::Expiring { within, tenant } => {
            let rows = admin
                .expiring(within.unwrap_or(expiry_window), tenant)
                .await?
                .into_iter()
                .map(|(t, s)| {
                    let mut v = to_json(&s)?;
                    v["tenant_id"] = json!(t);
                    Ok(v)
                })
                .collect::<Result<_>>()?;
            Ok(Value::Array(rows))
        }
        SecretCmd::List { app } => to_json(&admin.list_secrets(app).await?),
        SecretCmd::Delete { app, secret_id } => {
            admin.delete_secret(app, secret_id).await?;
            Ok(json!({"id": secret_id, "deleted": true}))
        }
    }
}
