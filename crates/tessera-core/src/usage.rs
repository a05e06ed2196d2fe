//! `last_used_at` bookkeeping off the request path: the token endpoint notes which secret was used
//! in memory; a background task writes the notes in one batch every ten seconds (and once more
//! on shutdown). Repeated use of one secret between flushes costs one map update.

use crate::ids::SecretId;
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

/// Pending `last_used_at` updates.
#[derive(Debug, Default)]
pub struct UsageRecorder {
    // Held only for one insert or one swap; never across an await.
    pending: Mutex<HashMap<SecretId, OffsetDateTime>>,
}

impl UsageRecorder {
    /// Notes that `id` authenticated at `at`.
    pub fn touch(&self, id: SecretId, at: OffsetDateTime) {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let slot = p.entry(id).or_insert(at);
        if *slot < at {
            *slot = at;
        }
    }

    /// Writes everything noted so far; on failure the notes are kept for the next flush.
    pub async fn flush(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let batch: Vec<(SecretId, OffsetDateTime)> = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut *p).into_iter().collect()
        };
        if batch.is_empty() {
            return Ok(0);
        }
        match store.record_last_used(&batch).await {
            Ok(()) => Ok(batch.len()),
            Err(e) => {
                for (id, at) in batch {
                    self.touch(id, at);
                }
                Err(e)
            }
        }
    }
}
