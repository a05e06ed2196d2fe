//! The in-memory directory: every tenant, application and secret digest, kept current from the
//! store's change feed. The token endpoint reads only from here, so issuing a token never waits
//! for the database.

use crate::ids::{ClientId, SecretId, TenantId};
use crate::model::{AppStatus, Application, Tenant, TenantStatus};
use crate::secret::Digest;
use crate::store::{ChangeSet, Store, StoreError};
use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, Ordering};
use tessera_proto::{Revocation, RevocationList};
use time::OffsetDateTime;

/// A secret as the directory holds it.
#[derive(Debug, Clone)]
pub struct CachedSecret {
    /// Id.
    pub id: SecretId,
    /// Keyed digest of the value.
    pub digest: Digest,
    /// Expiry.
    pub expires_at: OffsetDateTime,
}

/// An application (or its tombstone) with its live secrets.
#[derive(Debug, Clone)]
pub struct AppEntry {
    /// The application.
    pub app: Application,
    /// Its live secrets (at most a handful).
    pub secrets: Vec<CachedSecret>,
}

#[derive(Default)]
struct State {
    tenants: HashMap<TenantId, Tenant>,
    apps: HashMap<ClientId, AppEntry>,
    revocations: RevocationList,
    /// Revocation records in the order they arrived, with their sequence number: the feed.
    revocation_log: Vec<(i64, Revocation)>,
}

/// What a refresh brought.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refreshed {
    /// Signing keys changed: reload the key ring.
    pub keys_changed: bool,
    /// New revocation records arrived: wake the feed's waiters.
    pub revocations_changed: bool,
}

/// Tenants and applications, in memory.
#[derive(Default)]
pub struct Directory {
    // A std lock: it is only ever held for a map operation, never across an await.
    state: RwLock<State>,
    seq: AtomicI64,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("seq", &self.seq.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Directory {
    /// Runs `f` on an application and its tenant, under the read lock.
    pub fn with_app<R>(
        &self,
        id: &ClientId,
        f: impl FnOnce(Option<(&AppEntry, Option<&Tenant>)>) -> R,
    ) -> R {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        match st.apps.get(id) {
            Some(e) => f(Some((e, st.tenants.get(&e.app.tenant_id)))),
            None => f(None),
        }
    }

    /// The last sequence number applied.
    pub fn seq(&self) -> i64 {
        self.seq.load(Ordering::Acquire)
    }

    /// Pulls and applies the changes since the last poll.
    pub async fn refresh(&self, store: &dyn Store) -> Result<Refreshed, StoreError> {
        let since = self.seq();
        let changes = store.changes_since(since).await?;
        let out = Refreshed {
            keys_changed: changes.keys_changed,
            revocations_changed: !changes.revocations.is_empty(),
        };
        self.apply(changes);
        Ok(out)
    }

    /// Whether the claims are revoked by a record this node knows.
    pub fn is_revoked(&self, claims: &tessera_proto::AccessTokenClaims) -> bool {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        st.revocations.is_revoked(claims)
    }

    /// Live revocation records added after `since`, and the cursor to ask from next.
    pub fn revocations_since(&self, since: i64, now: i64) -> (i64, Vec<Revocation>) {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        let records = st
            .revocation_log
            .iter()
            .filter(|(seq, r)| *seq > since && r.expires >= now - tessera_proto::PURGE_GRACE_SECS)
            .map(|(_, r)| r.clone())
            .collect();
        // Records up to the directory's sequence number are applied; asking again from it may
        // repeat a record that raced with this read, which is harmless.
        (self.seq(), records)
    }

    /// Forgets revocation records that cover no live token.
    pub fn purge_revocations(&self, now: i64) {
        let mut st = self.state.write().unwrap_or_else(|e| e.into_inner());
        st.revocations.purge(now);
        st.revocation_log
            .retain(|(_, r)| r.expires >= now - tessera_proto::PURGE_GRACE_SECS);
    }

    /// Applies a change set.
    pub fn apply(&self, c: ChangeSet) {
        let mut st = self.state.write().unwrap_or_else(|e| e.into_inner());
        for t in c.tenants {
            st.tenants.insert(t.id, t);
        }
        for a in c.apps {
            // A deleted application stays as a tombstone without secrets, so that dialects can
            // tell "deleted" from "never existed".
            if let Some(e) = st.apps.get_mut(&a.client_id) {
                if a.status == AppStatus::Deleted {
                    e.secrets.clear();
                }
                e.app = a;
            } else {
                st.apps.insert(
                    a.client_id,
                    AppEntry {
                        app: a,
                        secrets: Vec::new(),
                    },
                );
            }
        }
        for s in c.secrets {
            let Some(e) = st.apps.get_mut(&s.meta.client_id) else {
                continue;
            };
            if e.app.status == AppStatus::Deleted {
                continue;
            }
            e.secrets.retain(|x| x.id != s.meta.id);
            if !s.deleted {
                e.secrets.push(CachedSecret {
                    id: s.meta.id,
                    digest: s.digest,
                    expires_at: s.meta.expires_at,
                });
            }
        }
        st.revocations.apply(c.revocations.iter().map(|(_, r)| r));
        st.revocation_log.extend(c.revocations);
        drop(st);
        self.seq.fetch_max(c.seq, Ordering::AcqRel);
    }

    /// Counts, for diagnostics: (tenants, applications).
    pub fn counts(&self) -> (usize, usize) {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        (st.tenants.len(), st.apps.len())
    }

    /// A tenant, tombstones included.
    pub fn tenant(&self, id: &TenantId) -> Option<Tenant> {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        st.tenants.get(id).cloned()
    }

    /// The live (not deleted) direct children of a tenant, by creation time.
    pub fn children(&self, parent: &TenantId) -> Vec<Tenant> {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<Tenant> = st
            .tenants
            .values()
            .filter(|t| t.parent_id.as_ref() == Some(parent) && t.status != TenantStatus::Deleted)
            .cloned()
            .collect();
        v.sort_by_key(|t| (t.created_at, t.id));
        v
    }

    /// A tenant's status (helper for tests and dialects).
    pub fn tenant_status(&self, id: &TenantId) -> Option<TenantStatus> {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        st.tenants.get(id).map(|t| t.status)
    }
}
