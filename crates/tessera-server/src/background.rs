//! A node's background work: follow the store's change feed, write `last_used_at` in batches,
//! rotate keys on schedule. Stops on the shutdown signal after a last flush.

use crate::state::AppState;
use std::time::Duration;
use tessera_core::keyring::Keyring;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Spawns the background loop; it returns after `shutdown` turns true and a final flush.
pub fn spawn(state: AppState, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.config.refresh_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_flush = tokio::time::Instant::now();
        let mut last_rotation_check = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                // PostgreSQL announces changes: apply them now rather than at the next tick.
                () = state.store.changed() => {}
                _ = shutdown.changed() => break,
            }
            refresh(&state).await;
            flush_audit(&state).await;
            if last_flush.elapsed() >= Duration::from_secs(1) {
                last_flush = tokio::time::Instant::now();
                flush(&state).await;
            }
            if last_rotation_check.elapsed() >= Duration::from_secs(30) {
                last_rotation_check = tokio::time::Instant::now();
                auto_rotate(&state).await;
                purge_revocations(&state).await;
                state.issuer.throttle().forget_idle();
            }
        }
        flush(&state).await;
    })
}

/// Applies the store's changes to this node: directory, revocations, keys.
pub async fn refresh(state: &AppState) {
    match state.directory.refresh(state.store.as_ref()).await {
        Ok(r) => {
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
    if let Err(e) = state
        .store
        .purge_revocations(now - tessera_core::proto::PURGE_GRACE_SECS)
        .await
    {
        tracing::warn!(error = %e, "cannot purge expired revocations");
    }
}

/// Writes pending `last_used_at` notes and audit events.
pub async fn flush(state: &AppState) {
    if let Err(e) = state.usage.flush(state.store.as_ref()).await {
        tracing::warn!(error = %e, "cannot write last_used_at; will retry");
    }
    flush_audit(state).await;
}

async fn flush_audit(state: &AppState) {
    if let Err(e) = state.audit.flush(state.store.as_ref()).await {
        tracing::warn!(error = %e, "cannot append audit events; will retry");
    }
    let dropped = state.audit.dropped();
    if dropped > 0 {
        tracing::warn!(dropped, "audit buffer was full; events were dropped");
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
