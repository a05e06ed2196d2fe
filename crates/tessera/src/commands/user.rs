//! `tessera user`: the people who sign in to the Developer Hub console.

use crate::args::UserCmd;
use crate::output::to_json;
use anyhow::Result;
use serde_json::{Value, json};
use tessera_core::admin::ActingAdmin;
use tessera_core::people::SETUP_LIFETIME;
use tessera_server::hub::setup_link;

/// Runs a `user` command; `issuer` is where the console is reached, for the setup link.
pub async fn run(admin: &ActingAdmin, c: UserCmd, issuer: &str) -> Result<Value> {
    match c {
        UserCmd::Create {
            tenant,
            email,
            role,
        } => {
            let (person, code) = admin.create_person(tenant, &email, role).await?;
            let mut v = to_json(&person)?;
            v["setup_link"] = json!(setup_link(issuer, &code));
            v["setup_link_expires_in_hours"] = json!(SETUP_LIFETIME.whole_hours());
            Ok(v)
        }
        UserCmd::Link { id } => {
            let (person, code) = admin.renew_setup(id).await?;
            let mut v = to_json(&person)?;
            v["setup_link"] = json!(setup_link(issuer, &code));
            v["setup_link_expires_in_hours"] = json!(SETUP_LIFETIME.whole_hours());
            Ok(v)
        }
        UserCmd::List { tenant } => to_json(&admin.people(tenant).await?),
        UserCmd::Delete { id } => {
            admin.delete_person(id).await?;
            Ok(json!({"deleted": id}))
        }
    }
}
