//! The audit log: every management change and every failed authentication, appended — never a
//! secret value or a token. The core notes events in memory as it performs each operation, for the
//! [`Actor`] its caller names; whoever owns the [`AuditBuffer`] appends them: the server in
//! batches from a background task (and once more on shutdown), so that noting an event never waits
//! for the database; the CLI once, before it exits.

use crate::ids::{ClientId, TenantId};
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use time::OffsetDateTime;

/// Whether the audited action succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It did.
    Success,
    /// It was refused or failed.
    Failure,
}

impl Outcome {
    /// Success for `Ok`, failure for `Err`.
    pub fn of<T, E>(r: &Result<T, E>) -> Outcome {
        if r.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who: a client id, or "cli".
    pub actor: String,
    /// The tenant the action concerns, when there is one.
    pub tenant_id: Option<TenantId>,
    /// What: e.g. `secret.create`, `token.authenticate`.
    pub action: String,
    /// The object acted on (an id), when there is one.
    pub target: Option<String>,
    /// Success or failure.
    pub outcome: Outcome,
    /// The client's address, for HTTP requests.
    pub source: Option<String>,
}

/// Who performs an action, as the audit log names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// A client id, `cli`, or `unknown` for a caller that could not be authenticated.
    pub id: String,
    /// The actor's own tenant, when it is a client: the tenant of what it does to its own tokens.
    pub tenant: Option<TenantId>,
    /// The client's address, for HTTP requests.
    pub source: Option<String>,
}

impl Actor {
    /// Someone at the command line, with direct access to the database.
    pub fn cli() -> Actor {
        Actor {
            id: "cli".into(),
            tenant: None,
            source: None,
        }
    }

    /// An authenticated client of `tenant`, calling from `source`.
    pub fn client(id: ClientId, tenant: TenantId, source: Option<String>) -> Actor {
        Actor {
            id: id.to_string(),
            tenant: Some(tenant),
            source,
        }
    }

    /// A caller whose credentials were refused.
    pub fn unknown(source: Option<String>) -> Actor {
        Actor {
            id: "unknown".into(),
            tenant: None,
            source,
        }
    }

    /// The record of `action` by this actor at `at`.
    pub fn event(
        &self,
        at: OffsetDateTime,
        action: &str,
        tenant_id: Option<TenantId>,
        target: Option<String>,
        outcome: Outcome,
    ) -> AuditEvent {
        AuditEvent {
            at,
            actor: self.id.clone(),
            tenant_id,
            action: action.to_owned(),
            target,
            outcome,
            source: self.source.clone(),
        }
    }
}

/// A query over the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only this tenant's events.
    pub tenant_id: Option<TenantId>,
    /// Only events at or after this instant.
    pub since: Option<OffsetDateTime>,
    /// At most this many (newest last); 1000 when zero.
    pub limit: u32,
}

/// Events waiting to be appended.
#[derive(Debug)]
pub struct AuditBuffer {
    // Held only to push or to swap; never across an await.
    pending: Mutex<Vec<AuditEvent>>,
    capacity: usize,
    dropped: AtomicU64,
}

impl Default for AuditBuffer {
    fn default() -> Self {
        AuditBuffer::with_capacity(100_000)
    }
}

impl AuditBuffer {
    /// A buffer that holds at most `capacity` unwritten events. Beyond that (the database is away
    /// while a flood of failed authentications arrives) events are counted and dropped rather
    /// than exhausting memory, and the count is logged by the writer.
    pub fn with_capacity(capacity: usize) -> Self {
        AuditBuffer {
            pending: Mutex::new(Vec::new()),
            capacity,
            dropped: AtomicU64::new(0),
        }
    }

    /// Notes an event.
    pub fn record(&self, e: AuditEvent) {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if p.len() < self.capacity {
            p.push(e);
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Events dropped so far because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Appends everything noted so far; on failure the events are kept for the next flush.
    pub async fn flush(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let batch: Vec<AuditEvent> = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut *p)
        };
        if batch.is_empty() {
            return Ok(0);
        }
        match store.append_audit(&batch).await {
            Ok(()) => Ok(batch.len()),
            Err(e) => {
                let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                let mut back = batch;
                back.append(&mut p);
                *p = back;
                Err(e)
            }
        }
    }
}
