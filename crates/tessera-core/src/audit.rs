//! The audit log: every management change and every failed authentication, appended — never a
//! secret value or a token. The core notes events in memory as it performs each operation, for the
//! [`Actor`] its caller names; whoever owns the [`AuditBuffer`] appends them: the server in
//! batches from a task of their own (and once more on shutdown), so that noting an event never
//! waits for the database and a slow audit write never delays anything else; the CLI once, before
//! it exits. The buffer is bounded: while the database is away, events beyond its capacity are
//! counted and dropped, never allowed to exhaust memory.

use crate::ids::{ClientId, TenantId};
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use time::OffsetDateTime;
use tokio::sync::Notify;

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
    /// Who: a client id, a person's email, or "cli".
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

    /// A person signed in to the console (named by email), of `tenant` when known.
    pub fn person(email: &str, tenant: Option<TenantId>, source: Option<String>) -> Actor {
        Actor {
            id: email.to_owned(),
            tenant,
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

/// Where [`AuditBuffer::flush`] appends: every [`Store`] (its [`Store::append_audit`]), or a test
/// double that fails or stalls on demand.
#[async_trait::async_trait]
pub trait AuditSink: Send + Sync {
    /// Appends `events` in one transaction: all of them or none.
    async fn append(&self, events: &[AuditEvent]) -> Result<(), StoreError>;
}

#[async_trait::async_trait]
impl<S: Store + ?Sized> AuditSink for S {
    async fn append(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.append_audit(events).await
    }
}

/// Events appended per transaction. A flood is written in bounded steps, and a failed write puts
/// back at most this many.
pub const BATCH: usize = 1_000;

/// The default [`AuditBuffer`] capacity.
pub const DEFAULT_CAPACITY: usize = 100_000;

#[derive(Default)]
struct Pending {
    events: VecDeque<AuditEvent>,
    /// Taken by a flush and not yet written. They count against the capacity: a failed write
    /// puts them back, and the buffer must not then hold more than its capacity.
    in_flight: usize,
}

/// Events waiting to be appended.
pub struct AuditBuffer {
    // Held only to push, take or put back; never across an await.
    pending: Mutex<Pending>,
    capacity: usize,
    dropped: AtomicU64,
    // Wakes the writer when a full batch is waiting, rather than at its next tick.
    batch_ready: Notify,
}

impl std::fmt::Debug for AuditBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditBuffer")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl Default for AuditBuffer {
    fn default() -> Self {
        AuditBuffer::with_capacity(DEFAULT_CAPACITY)
    }
}

impl AuditBuffer {
    /// A buffer that holds at most `capacity` unwritten events, counting those a flush is
    /// writing. Beyond that (the database is away while a flood of failed authentications
    /// arrives) events are counted and dropped rather than exhausting memory; the writer logs the
    /// count.
    pub fn with_capacity(capacity: usize) -> Self {
        AuditBuffer {
            pending: Mutex::new(Pending::default()),
            capacity,
            dropped: AtomicU64::new(0),
            batch_ready: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes an event, or counts it as dropped when the buffer is full.
    pub fn record(&self, e: AuditEvent) {
        let mut p = self.lock();
        if p.events.len() + p.in_flight >= self.capacity {
            drop(p);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        p.events.push_back(e);
        let full = p.events.len() == BATCH;
        drop(p);
        if full {
            self.batch_ready.notify_one();
        }
    }

    /// Events held: waiting, or being written.
    pub fn len(&self) -> usize {
        let p = self.lock();
        p.events.len() + p.in_flight
    }

    /// Whether no event is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most events held at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Events dropped so far because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Resolves once a full [`BATCH`] is waiting (at once if one arrived since the last call).
    pub async fn batch_ready(&self) {
        self.batch_ready.notified().await;
    }

    /// Appends the events noted so far, [`BATCH`] at a time, oldest first; returns how many
    /// were written. Events noted while it runs wait for the next flush, so that a flood cannot
    /// keep one flush going forever. On failure (or if the future is dropped) the unwritten
    /// events are kept, in order, for the next flush.
    pub async fn flush<S: AuditSink + ?Sized>(&self, sink: &S) -> Result<usize, StoreError> {
        let mut budget = self.lock().events.len();
        let mut written = 0;
        while budget > 0 {
            let mut batch = InFlight::take(self, budget.min(BATCH));
            if batch.events.is_empty() {
                break;
            }
            sink.append(&batch.events).await?;
            let n = batch.written();
            written += n;
            budget = budget.saturating_sub(n);
        }
        Ok(written)
    }
}

/// A batch being written. Unless [`InFlight::written`] is called, dropping it puts the events
/// back at the front of the buffer: a failed write, or a flush abandoned mid-way, loses nothing.
struct InFlight<'a> {
    buffer: &'a AuditBuffer,
    events: Vec<AuditEvent>,
}

impl<'a> InFlight<'a> {
    fn take(buffer: &'a AuditBuffer, max: usize) -> Self {
        let mut p = buffer.lock();
        let n = p.events.len().min(max);
        p.in_flight += n;
        let events = p.events.drain(..n).collect();
        InFlight { buffer, events }
    }

    fn written(&mut self) -> usize {
        let events = std::mem::take(&mut self.events);
        self.buffer.lock().in_flight -= events.len();
        events.len()
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.events.is_empty() {
            return;
        }
        let mut p = self.buffer.lock();
        p.in_flight -= self.events.len();
        // Counted in `in_flight` all along, so putting them back keeps the buffer within its
        // capacity.
        for e in self.events.drain(..).rev() {
            p.events.push_front(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    fn event(i: usize) -> AuditEvent {
        Actor::unknown(None).event(
            OffsetDateTime::UNIX_EPOCH,
            "token.authenticate",
            None,
            Some(i.to_string()),
            Outcome::Failure,
        )
    }

    fn targets(events: &[AuditEvent]) -> Vec<usize> {
        events
            .iter()
            .map(|e| {
                e.target
                    .as_deref()
                    .unwrap_or("")
                    .parse()
                    .unwrap_or(usize::MAX)
            })
            .collect()
    }

    /// A database that can be away, and that sees events arrive while it writes.
    #[derive(Default)]
    struct Db<'a> {
        away: AtomicBool,
        written: Mutex<Vec<AuditEvent>>,
        batches: Mutex<Vec<usize>>,
        /// Each write notes this many new events into this buffer before it answers.
        arrivals: Option<(&'a AuditBuffer, usize)>,
    }

    #[async_trait::async_trait]
    impl AuditSink for Db<'_> {
        async fn append(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
            if let Some((buffer, n)) = self.arrivals {
                for i in 0..n {
                    buffer.record(event(1_000_000 + i));
                }
            }
            if self.away.load(Ordering::Relaxed) {
                return Err(StoreError::Unavailable("the database is away".into()));
            }
            self.batches.lock().unwrap().push(events.len());
            self.written.lock().unwrap().extend_from_slice(events);
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_cap_holds_while_the_database_is_away_and_nothing_kept_is_lost() {
        let buffer = AuditBuffer::with_capacity(2_500);
        let db = Db::default();
        db.away.store(true, Ordering::Relaxed);
        for i in 0..3_000 {
            buffer.record(event(i));
        }
        assert_eq!((buffer.len(), buffer.dropped()), (2_500, 500));
        for _ in 0..3 {
            assert!(buffer.flush(&db).await.is_err());
            buffer.record(event(9_999));
        }
        assert_eq!((buffer.len(), buffer.dropped()), (2_500, 503));

        db.away.store(false, Ordering::Relaxed);
        assert_eq!(buffer.flush(&db).await.unwrap(), 2_500);
        assert!(buffer.is_empty());
        // The oldest events are the ones kept, in the order they happened.
        let written = db.written.lock().unwrap();
        assert_eq!(targets(&written), (0..2_500).collect::<Vec<_>>());
        assert_eq!(*db.batches.lock().unwrap(), [BATCH, BATCH, 500]);
    }

    #[tokio::test]
    async fn events_arriving_during_a_failed_write_cannot_push_past_the_cap() {
        let buffer = AuditBuffer::with_capacity(10);
        let db = Db {
            arrivals: Some((&buffer, 10)),
            ..Db::default()
        };
        db.away.store(true, Ordering::Relaxed);
        for i in 0..10 {
            buffer.record(event(i));
        }
        assert!(buffer.flush(&db).await.is_err());
        // The ten being written still counted: the ten that arrived meanwhile were dropped.
        assert_eq!((buffer.len(), buffer.dropped()), (10, 10));

        let db = Db::default();
        assert_eq!(buffer.flush(&db).await.unwrap(), 10);
        assert_eq!(
            targets(&db.written.lock().unwrap()),
            (0..10).collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn a_flush_writes_what_was_there_in_batches_and_leaves_later_arrivals() {
        let buffer = AuditBuffer::default();
        let db = Db {
            arrivals: Some((&buffer, 1)),
            ..Db::default()
        };
        for i in 0..2_001 {
            buffer.record(event(i));
        }
        assert_eq!(buffer.flush(&db).await.unwrap(), 2_001);
        assert_eq!(*db.batches.lock().unwrap(), [BATCH, BATCH, 1]);
        assert_eq!(buffer.len(), 3);
    }

    #[tokio::test]
    async fn an_abandoned_flush_loses_nothing() {
        struct Stalled;
        #[async_trait::async_trait]
        impl AuditSink for Stalled {
            async fn append(&self, _: &[AuditEvent]) -> Result<(), StoreError> {
                std::future::pending().await
            }
        }
        let buffer = AuditBuffer::default();
        for i in 0..1_500 {
            buffer.record(event(i));
        }
        let flush = buffer.flush(&Stalled);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(20), flush)
                .await
                .is_err()
        );
        assert_eq!(buffer.len(), 1_500);
        let db = Db::default();
        assert_eq!(buffer.flush(&db).await.unwrap(), 1_500);
        assert_eq!(
            targets(&db.written.lock().unwrap()),
            (0..1_500).collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn a_full_batch_wakes_the_writer() {
        let buffer = AuditBuffer::default();
        for i in 0..BATCH - 1 {
            buffer.record(event(i));
        }
        let wait = std::time::Duration::from_millis(20);
        assert!(
            tokio::time::timeout(wait, buffer.batch_ready())
                .await
                .is_err()
        );
        buffer.record(event(BATCH));
        assert!(
            tokio::time::timeout(wait, buffer.batch_ready())
                .await
                .is_ok()
        );
    }
}
