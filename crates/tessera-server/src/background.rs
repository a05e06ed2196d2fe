//! A node's background work, in tasks of their own so that none waits for another: one follows
//! the store's change feed (and writes `last_used_at` in batches, rotates keys on schedule); one
//! appends audit events; one deletes audit events past their retention and ended console
//! sessions; one samples the directory-wide metrics; one sends secret-expiry webhooks. A flood of failed authentications, or an audit insert stuck on the
//! database, thus never delays a disable reaching this node. All stop on the shutdown signal,
//! the writers after a last flush.

use crate::state::AppState;
use crate::telemetry::{timed_flush, timed_store};
use std::sync::Arc;
use std::time::Duration;
use tessera_core::audit::AuditBuffer;
use tessera_core::keyring::Keyring;
use tessera_core::store::{Store, StoreError};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How often audit events are appended, unless a full batch is waiting sooner.
const AUDIT_FLUSH_INTERVAL: Duration = Duration::from_millis(200);
/// How often `last_used_at` notes are written. Ten seconds, not one: a flush writes its secrets
/// sorted by id into `secret_usage`, and the more it carries the more of them share a page, so at
/// a million merchants each first use costs a fraction of a page write instead of one
/// (BENCHMARKS.md, "A million merchants"). The column is kept to five minutes anyway
/// (`USAGE_GRANULARITY_SECS`); shutdown writes what is pending.
const USAGE_FLUSH_INTERVAL: Duration = Duration::from_secs(10);
/// At most one warning this often about the same trouble: a database that stays away would
/// otherwise write a line every flush.
const WARN_EVERY: Duration = Duration::from_secs(60);
/// How long the last audit flush may take on shutdown.
const FINAL_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// How often audit events past their retention are deleted (and once at start).
const AUDIT_PURGE_INTERVAL: Duration = Duration::from_secs(3600);
/// Audit events deleted per statement: small enough that writers never wait long for the lock.
const AUDIT_PURGE_BATCH: u32 = 1_000;

/// Spawns the background tasks; the handle resolves after `shutdown` turns true and each task
/// made its last flush.
pub fn spawn(state: AppState, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    let audit = tokio::spawn(write_audit(
        state.audit.clone(),
        state.store.clone(),
        shutdown.clone(),
    ));
    let purge = tokio::spawn(purge(state.clone(), shutdown.clone()));
    let metrics = tokio::spawn(sample_metrics(state.clone(), shutdown.clone()));
    let notices = tokio::spawn(crate::webhooks::run(state.clone(), shutdown.clone()));
    let usage = tokio::spawn(write_usage(state.clone(), shutdown.clone()));
    let changes = tokio::spawn(follow_changes(state, shutdown));
    tokio::spawn(async move {
        let _ = changes.await;
        let _ = usage.await;
        let _ = audit.await;
        let _ = purge.await;
        let _ = metrics.await;
        let _ = notices.await;
    })
}

/// Resolves when the node is stopping (or whoever could stop it is gone).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|&stop| stop).await;
}

async fn follow_changes(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(state.config.refresh_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_rotation_check = Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            // PostgreSQL announces changes: apply them now rather than at the next tick.
            () = state.store.changed() => {}
            () = stopping(&mut shutdown) => break,
        }
        refresh(&state).await;
        if last_rotation_check.elapsed() >= Duration::from_secs(30) {
            last_rotation_check = Instant::now();
            auto_rotate(&state).await;
            purge_revocations(&state).await;
            state.issuer.throttle().forget_idle();
        }
    }
}

/// Writes `last_used_at` notes every [`USAGE_FLUSH_INTERVAL`] and once more on shutdown. A task
/// of its own: a flush after a burst of first uses can take seconds on PostgreSQL, and the change
/// feed must not wait behind it (a CLI delete took a second to be refused when it did).
async fn write_usage(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(USAGE_FLUSH_INTERVAL) => {}
            () = stopping(&mut shutdown) => break,
        }
        flush(&state).await;
    }
    flush(&state).await;
}

/// Appends audit events every [`AUDIT_FLUSH_INTERVAL`], or as soon as a full batch waits.
async fn write_audit(
    audit: Arc<AuditBuffer>,
    store: Arc<dyn Store>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut log = AuditLog::default();
    loop {
        tokio::select! {
            () = tokio::time::sleep(AUDIT_FLUSH_INTERVAL) => {}
            () = audit.batch_ready() => {}
            () = stopping(&mut shutdown) => break,
        }
        tokio::select! {
            r = timed_flush("audit_append", audit.flush(store.as_ref())) => {
                log.flushed(r, &audit, Instant::now());
            }
            // A flush abandoned here keeps its events for the last one below.
            () = stopping(&mut shutdown) => break,
        }
    }
    match tokio::time::timeout(FINAL_FLUSH_TIMEOUT, audit.flush(store.as_ref())).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::error!(error = %e, lost = audit.len(), "cannot append the last audit events")
        }
        Err(_) => tracing::error!(
            lost = audit.len(),
            "the database did not take the last audit events in time"
        ),
    }
    log.report_drops(&audit, None);
}

/// Deletes audit events older than `audit_retention` and the console sessions that have ended,
/// at start and then every [`AUDIT_PURGE_INTERVAL`]; audit events in batches of
/// [`AUDIT_PURGE_BATCH`] so that token issuance and changes never queue behind one long delete.
/// Every node does it; the deletions are idempotent.
async fn purge(state: AppState, mut shutdown: watch::Receiver<bool>) {
    every(AUDIT_PURGE_INTERVAL, &mut shutdown, || async {
        if let Some(retention) = state.config.audit_retention {
            purge_audit(&state, retention).await;
        }
        if let Err(e) = state.admin.purge_sessions().await {
            tracing::warn!(error = %e, "cannot delete ended console sessions");
        }
    })
    .await;
}

async fn purge_audit(state: &AppState, retention: time::Duration) {
    let before = state.clock.now() - retention;
    let mut deleted = 0u64;
    loop {
        let batch = state.store.purge_audit(before, AUDIT_PURGE_BATCH);
        match timed_store("audit_purge", batch).await {
            Ok(n) => {
                deleted += n;
                if n < u64::from(AUDIT_PURGE_BATCH) {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot delete audit events past their retention");
                break;
            }
        }
    }
    if deleted > 0 {
        tracing::info!(deleted, "deleted audit events past their retention");
    }
}

/// Sets the directory-wide gauges every [`crate::telemetry::SAMPLE_EVERY`].
async fn sample_metrics(state: AppState, mut shutdown: watch::Receiver<bool>) {
    if !crate::telemetry::enabled() {
        return;
    }
    let sample = || async { crate::telemetry::sample_directory(&state) };
    every(crate::telemetry::SAMPLE_EVERY, &mut shutdown, sample).await;
}

/// Runs `round` at once and then every `period` (a late round delays the next, never doubles
/// it) until the node stops; a round in progress is abandoned at the stop.
// A closure returning a future rather than an async closure: the futures of `AsyncFnMut` are
// not known to be `Send`, and these run in spawned tasks.
pub(crate) async fn every<F: Future<Output = ()>>(
    period: Duration,
    shutdown: &mut watch::Receiver<bool>,
    mut round: impl FnMut() -> F,
) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stopping(shutdown) => return,
        }
        tokio::select! {
            () = round() => {}
            () = stopping(shutdown) => return,
        }
    }
}

/// `true` at most once per period.
#[derive(Debug)]
struct Every {
    period: Duration,
    last: Option<Instant>,
}

impl Every {
    fn new(period: Duration) -> Self {
        Every { period, last: None }
    }

    fn due(&mut self, now: Instant) -> bool {
        let due = self
            .last
            .is_none_or(|last| now.duration_since(last) >= self.period);
        if due {
            self.last = Some(now);
        }
        due
    }
}

/// What the audit writer has said, so that it says it once a minute at most.
#[derive(Debug)]
struct AuditLog {
    failing: bool,
    failure_warning: Every,
    drop_warning: Every,
    drops_reported: u64,
}

impl Default for AuditLog {
    fn default() -> Self {
        AuditLog {
            failing: false,
            failure_warning: Every::new(WARN_EVERY),
            drop_warning: Every::new(WARN_EVERY),
            drops_reported: 0,
        }
    }
}

impl AuditLog {
    fn flushed(&mut self, r: Result<usize, StoreError>, audit: &AuditBuffer, now: Instant) {
        match r {
            Ok(written) if self.failing => {
                self.failing = false;
                // The next outage is news again.
                self.failure_warning = Every::new(WARN_EVERY);
                tracing::info!(written, "audit events are being appended again");
            }
            Ok(_) => {}
            Err(e) => {
                self.failing = true;
                if self.failure_warning.due(now) {
                    tracing::warn!(
                        error = %e,
                        held = audit.len(),
                        capacity = audit.capacity(),
                        "cannot append audit events; they are kept in memory and retried"
                    );
                }
            }
        }
        self.report_drops(audit, Some(now));
    }

    /// Warns of events dropped since the last warning: now if `now` is `None` (shutdown), else
    /// when one is due.
    fn report_drops(&mut self, audit: &AuditBuffer, now: Option<Instant>) {
        if let Some(dropped) = self.new_drops(audit.dropped(), now) {
            tracing::warn!(
                dropped,
                dropped_total = audit.dropped(),
                capacity = audit.capacity(),
                "the audit buffer is full; events were dropped"
            );
        }
    }

    fn new_drops(&mut self, total: u64, now: Option<Instant>) -> Option<u64> {
        if total <= self.drops_reported || !now.is_none_or(|now| self.drop_warning.due(now)) {
            return None;
        }
        let new = total - self.drops_reported;
        self.drops_reported = total;
        Some(new)
    }
}

/// Applies the store's changes to this node: directory, revocations, keys.
pub async fn refresh(state: &AppState) {
    match timed_store("refresh", state.directory.refresh(state.store.as_ref())).await {
        Ok(r) => {
            crate::telemetry::directory_refreshed(state);
            if r.keys_changed
                && let Err(e) = state.keyring.load(state.store.as_ref()).await
            {
                tracing::error!(error = %e, "cannot reload signing keys");
            }
            if r.revocations_changed {
                state.revocation_signal.send_modify(|n| *n += 1);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot poll the database for changes"),
    }
}

async fn purge_revocations(state: &AppState) {
    let now = state.clock.now().unix_timestamp();
    state.directory.purge_revocations(now);
    let cutoff = now - tessera_core::proto::PURGE_GRACE_SECS;
    if let Err(e) = timed_store("revocation_purge", state.store.purge_revocations(cutoff)).await {
        tracing::warn!(error = %e, "cannot purge expired revocations");
    }
}

/// Writes pending `last_used_at` notes.
pub async fn flush(state: &AppState) {
    if let Err(e) = timed_flush("usage_flush", state.usage.flush(state.store.as_ref())).await {
        tracing::warn!(error = %e, "cannot write last_used_at; will retry");
    }
}

async fn auto_rotate(state: &AppState) {
    let Some(interval) = state.config.rotation_interval else {
        return;
    };
    let now = state.clock.now();
    let keys = state.keyring.snapshot();
    let algs = std::iter::once(state.config.alg).chain(state.config.dialects.extra_algorithms());
    for alg in algs {
        let due = keys
            .signer(alg, now)
            .is_some_and(|k| k.activates_at() + interval <= now)
            && !keys.has_pending(alg, now);
        if !due {
            continue;
        }
        match Keyring::rotate_unless_pending(
            state.keyring.cipher(),
            state.store.as_ref(),
            alg,
            now,
            state.config.rotation_delay,
        )
        .await
        {
            Ok(Some(k)) => {
                tracing::info!(kid = %k.kid, activates_at = %k.activates_at, "scheduled key rotation")
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "scheduled key rotation failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_is_due_once_per_period() {
        let t0 = Instant::now();
        let mut w = Every::new(WARN_EVERY);
        assert!(w.due(t0));
        assert!(!w.due(t0 + Duration::from_secs(1)));
        assert!(!w.due(t0 + WARN_EVERY - Duration::from_millis(1)));
        assert!(w.due(t0 + WARN_EVERY));
        assert!(!w.due(t0 + WARN_EVERY + Duration::from_secs(59)));
    }

    #[test]
    fn dropped_events_are_counted_between_warnings() {
        let t0 = Instant::now();
        let mut log = AuditLog::default();
        assert_eq!(log.new_drops(0, Some(t0)), None);
        assert_eq!(log.new_drops(5, Some(t0)), Some(5));
        // Within the minute: counted, not yet reported.
        assert_eq!(log.new_drops(7, Some(t0 + Duration::from_secs(10))), None);
        assert_eq!(log.new_drops(9, Some(t0 + Duration::from_secs(20))), None);
        assert_eq!(log.new_drops(9, Some(t0 + WARN_EVERY)), Some(4));
        // Nothing new: no warning, and the next drop is reported at once.
        assert_eq!(log.new_drops(9, Some(t0 + 3 * WARN_EVERY)), None);
        assert_eq!(log.new_drops(10, Some(t0 + 3 * WARN_EVERY)), Some(1));
        assert_eq!(log.new_drops(12, Some(t0 + 3 * WARN_EVERY)), None);
        // On shutdown, whatever is left is reported at once.
        assert_eq!(log.new_drops(12, None), Some(2));
    }
}
