//! `tessera audit`.

use crate::args::AuditArgs;
use crate::output::to_json;
use anyhow::Result;
use serde_json::Value;
use tessera_core::admin::ActingAdmin;
use tessera_core::audit::AuditQuery;
use tessera_core::clock::{Clock, SystemClock};

/// Prints the audit log.
pub async fn run(admin: &ActingAdmin, a: AuditArgs) -> Result<Value> {
    let q = AuditQuery {
        tenant_id: a.tenant,
        since: a.since.map(|s| s.resolve(SystemClock.now())),
        limit: a.limit.unwrap_or(0),
    };
    to_json(&admin.audit(&q).await?)
}
