//! `tessera webhook`: a tenant's secret-expiry webhook.

use crate::args::WebhookCmd;
use crate::output::to_json;
use anyhow::{Result, anyhow};
use serde_json::{Value, json};
use tessera_core::admin::ActingAdmin;
use tessera_core::master::KeyCipher;

/// Runs a `webhook` command; `allow_private` is `[webhooks] allow_private_addresses`.
pub async fn run(
    admin: &ActingAdmin,
    c: WebhookCmd,
    allow_private: bool,
    cipher: &KeyCipher,
) -> Result<Value> {
    match c {
        WebhookCmd::Set { tenant, url } => {
            let (hook, secret) = admin
                .set_webhook(tenant, &url, allow_private, cipher)
                .await?;
            let mut v = to_json(&hook)?;
            v["secret"] = json!(secret.expose());
            Ok(v)
        }
        WebhookCmd::Show { tenant } => to_json(
            &admin
                .webhook(tenant)
                .await?
                .ok_or_else(|| anyhow!("the tenant has no webhook"))?,
        ),
        WebhookCmd::Delete { tenant } => {
            admin.delete_webhook(tenant).await?;
            Ok(json!({"deleted": tenant}))
        }
    }
}
