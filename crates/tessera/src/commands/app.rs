//! `tessera app`.

use crate::args::AppCmd;
use crate::output::to_json;
use anyhow::Result;
use serde_json::Value;
use tessera_core::admin::ActingAdmin;
use tessera_core::model::AppStatus;

/// Runs an `app` command.
pub async fn run(admin: &ActingAdmin, c: AppCmd) -> Result<Value> {
    let status = async |id, status| to_json(&admin.set_app_status(id, status).await?);
    match c {
        AppCmd::Create { tenant, name, role } => {
            to_json(&admin.create_app(tenant, &name, &role).await?)
        }
        AppCmd::List { tenant } => to_json(&admin.list_apps(tenant).await?),
        AppCmd::Show { client_id } => {
            let mut v = to_json(&admin.get_app(client_id).await?)?;
            v["secrets"] = to_json(&admin.list_secrets(client_id).await?)?;
            Ok(v)
        }
        AppCmd::Disable { client_id } => status(client_id, AppStatus::Disabled).await,
        AppCmd::Enable { client_id } => status(client_id, AppStatus::Active).await,
        AppCmd::Delete { client_id } => status(client_id, AppStatus::Deleted).await,
    }
}
