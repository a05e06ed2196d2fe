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
    /// The database's change counter went backwards (a restore from backup, a failover to a
    /// replica that was behind): everything was reloaded from scratch.
    pub reloaded: bool,
}

/// Tenants and applications, in memory.
#[derive(Default)]
pub struct Directory {
    // A std lock: it is only ever held for a map operation, never across an await.
    state: RwLock<State>,
    seq: AtomicI64,
    // Refreshes run one at a time (the poll loop, a revocation, a management write can each
    // start one). Two concurrent ones could read the store in one order and apply in the other:
    // an older change set applied last would resurrect a deleted secret until the row changed
    // again. An async mutex, since it is held across the store read; the token path never takes
    // it.
    refreshing: tokio::sync::Mutex<()>,
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

    /// Pulls and applies the changes since the last poll. When it returns, every change
    /// committed before it was called is in effect on this node (read-your-writes for the node
    /// that made the change).
    ///
    /// If the store's change counter is behind what this node has applied, the database is not
    /// the one it was (restored from a backup, or failed over to a replica that had not caught
    /// up): the directory is rebuilt from a full read rather than left waiting for the counter
    /// to pass its old value, which would silently skip every change in between.
    pub async fn refresh(&self, store: &dyn Store) -> Result<Refreshed, StoreError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let since = self.seq();
        let changes = store.changes_since(since).await?;
        if changes.seq < since {
            tracing::warn!(
                applied = since,
                database = changes.seq,
                "the database's change counter went backwards (restore or failover); reloading everything"
            );
            let all = store.changes_since(0).await?;
            self.replace(all);
            return Ok(Refreshed {
                keys_changed: true,
                revocations_changed: true,
                reloaded: true,
            });
        }
        let out = Refreshed {
            keys_changed: changes.keys_changed,
            revocations_changed: !changes.revocations.is_empty(),
            reloaded: false,
        };
        self.apply(changes);
        Ok(out)
    }

    /// Replaces everything with a full change set (`changes_since(0)`).
    fn replace(&self, all: ChangeSet) {
        let fresh = Directory::default();
        fresh.apply(all);
        let fresh_seq = fresh.seq();
        let fresh_state = fresh.state.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut st = self.state.write().unwrap_or_else(|e| e.into_inner());
        *st = fresh_state;
        // Under the write lock, so that no reader sees the new maps with the old sequence.
        self.seq.store(fresh_seq, Ordering::Release);
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

    /// Applies a change set. One older than what is applied (a lower `seq`) is ignored: its
    /// rows may predate changes already in effect.
    pub fn apply(&self, c: ChangeSet) {
        let mut st = self.state.write().unwrap_or_else(|e| e.into_inner());
        if c.seq < self.seq.load(Ordering::Acquire) {
            return;
        }
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
        self.seq.fetch_max(c.seq, Ordering::AcqRel);
        drop(st);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

    use super::*;
    use crate::model::{SecretMeta, StoredSecret};
    use time::macros::datetime;

    fn world() -> (Tenant, Application, StoredSecret) {
        let at = datetime!(2026-01-01 0:00 UTC);
        let tenant = Tenant {
            id: TenantId::random(),
            name: "t".into(),
            kind: "merchant".into(),
            parent_id: None,
            status: TenantStatus::Active,
            created_at: at,
        };
        let app = Application {
            client_id: ClientId::random(),
            tenant_id: tenant.id,
            name: "a".into(),
            role: "merchant".into(),
            status: AppStatus::Active,
            created_at: at,
        };
        let secret = StoredSecret {
            meta: SecretMeta {
                id: SecretId::random(),
                client_id: app.client_id,
                name: "s".into(),
                created_at: at,
                expires_at: datetime!(2027-01-01 0:00 UTC),
                last_used_at: None,
            },
            digest: Digest([7; 32]),
            deleted: false,
        };
        (tenant, app, secret)
    }

    fn secrets(d: &Directory, id: &ClientId) -> usize {
        d.with_app(id, |e| e.map_or(0, |(e, _)| e.secrets.len()))
    }

    /// Two refreshes that read the store in one order and apply in the other: the older change
    /// set (the secret still live) must not undo the newer one (the secret deleted).
    #[test]
    fn an_older_change_set_applied_last_changes_nothing() {
        let (tenant, app, secret) = world();
        let d = Directory::default();
        let created = ChangeSet {
            seq: 3,
            tenants: vec![tenant.clone()],
            apps: vec![app.clone()],
            ..ChangeSet::default()
        };
        d.apply(created);
        let older = ChangeSet {
            seq: 4,
            secrets: vec![secret.clone()],
            ..ChangeSet::default()
        };
        let newer = ChangeSet {
            seq: 5,
            secrets: vec![StoredSecret {
                deleted: true,
                ..secret.clone()
            }],
            ..ChangeSet::default()
        };
        d.apply(newer);
        assert_eq!(secrets(&d, &app.client_id), 0);
        d.apply(older);
        assert_eq!(secrets(&d, &app.client_id), 0, "a deleted secret came back");
        assert_eq!(d.seq(), 5);

        // The same disable/enable race for a tenant.
        let disabled = ChangeSet {
            seq: 7,
            tenants: vec![Tenant {
                status: TenantStatus::Disabled,
                ..tenant.clone()
            }],
            ..ChangeSet::default()
        };
        let enabled = ChangeSet {
            seq: 6,
            tenants: vec![tenant.clone()],
            ..ChangeSet::default()
        };
        d.apply(disabled);
        d.apply(enabled);
        assert_eq!(d.tenant_status(&tenant.id), Some(TenantStatus::Disabled));
    }

    #[test]
    fn replace_forgets_what_the_new_database_does_not_have() {
        let (tenant, app, secret) = world();
        let d = Directory::default();
        d.apply(ChangeSet {
            seq: 10,
            tenants: vec![tenant.clone()],
            apps: vec![app.clone()],
            secrets: vec![secret],
            ..ChangeSet::default()
        });
        assert_eq!(secrets(&d, &app.client_id), 1);
        d.replace(ChangeSet {
            seq: 4,
            tenants: vec![tenant],
            apps: vec![app.clone()],
            ..ChangeSet::default()
        });
        assert_eq!(d.seq(), 4);
        assert_eq!(secrets(&d, &app.client_id), 0);
    }
}
