//! `tessera tenant`.

use crate::args::TenantCmd;
use crate::output::to_json;
use anyhow::Result;
use serde_json::Value;
use tessera_core::admin::{ActingAdmin, NewTenant};
use tessera_core::model::TenantStatus;

/// Runs a `tenant` command.
pub async fn run(admin: &ActingAdmin, c: TenantCmd) -> Result<Value> {
    match c {
        TenantCmd::Create { name, kind, parent } => to_json(
            &admin
                .create_tenant(NewTenant {
                    name,
                    kind,
                    parent_id: parent,
                })
                .await?,
        ),
        TenantCmd::List => to_json(&admin.list_tenants().await?),
        TenantCmd::Show { id } => to_json(&admin.get_tenant(id).await?),
        TenantCmd::Disable { id } => {
            to_json(&admin.set_tenant_status(id, TenantStatus::Disabled).await?)
        }
        TenantCmd::Enable { id } => {
            to_json(&admin.set_tenant_status(id, TenantStatus::Active).await?)
        }
        TenantCmd::Delete { id } => {
            to_json(&admin.set_tenant_status(id, TenantStatus::Deleted).await?)
        }
    }
}
