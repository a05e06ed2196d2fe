//! The in-memory directory: every tenant, application and secret digest, kept current from the
//! store's change feed. The token endpoint reads only from here, so issuing a token never waits
//! for the database.

use crate::ids::{ClientId, SecretId, TenantId};
use crate::model::{AppStatus, Application, Tenant, TenantStatus};
use crate::secret::Digest;
use crate::store::{ChangeSet, RevocationRecord, Store, StoreError};
use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, Ordering};
use tessera_proto::{RevocationFeed, RevocationList};
use time::OffsetDateTime;

/// The most records one answer of the revocation feed carries; the reader asks again at once
/// for the rest (`more`). About 120 kB of JSON: a guard reading from zero after a mass
/// revocation gets it in pages, and no single answer is built from the whole log.
pub const REVOCATION_FEED_PAGE: usize = 1_000;

/// A secret as the directory holds it.
#[derive(Debug)]
pub struct CachedSecret {
    /// Id.
    pub id: SecretId,
    /// Keyed digest of the value.
    pub digest: Digest,
    /// Expiry.
    pub expires_at: OffsetDateTime,
    /// When this node last noted the secret's use for `last_used_at`, or the last use the
    /// database held when the node read the secret (epoch seconds; 0: never used). See
    /// [`CachedSecret::note_use`].
    pub last_noted: AtomicI64,
}

impl Clone for CachedSecret {
    fn clone(&self) -> Self {
        CachedSecret {
            id: self.id,
            digest: self.digest,
            expires_at: self.expires_at,
            last_noted: AtomicI64::new(self.last_noted.load(Ordering::Relaxed)),
        }
    }
}

/// `last_used_at` is kept to five minutes: a secret's use is written at most once in that time
/// per node. Writing every use (batched once a second), a node serving a million merchants
/// wrote a row for almost every token, tens of thousands a second (BENCHMARKS.md, "A million
/// merchants"); five minutes is still fine enough to watch an integration move to a rotated
/// secret.
pub const USAGE_GRANULARITY_SECS: i64 = 300;

impl CachedSecret {
    /// Whether a use at `now` is to be written: the first in [`USAGE_GRANULARITY_SECS`].
    pub fn note_use(&self, now: OffsetDateTime) -> bool {
        let t = now.unix_timestamp();
        let last = self.last_noted.load(Ordering::Relaxed);
        t - last >= USAGE_GRANULARITY_SECS
            && self
                .last_noted
                .compare_exchange(last, t, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// An application (or its tombstone) with its live secrets.
#[derive(Debug, Clone)]
pub struct AppEntry {
    /// The application.
    pub app: Application,
    /// Its live secrets (at most a handful).
    pub secrets: Vec<CachedSecret>,
}

// Values are boxed: at a million entries a hash table holds about twice as many slots as
// entries (a power of two), and a slot is a key and a pointer instead of a whole record; see
// BENCHMARKS.md, "A million merchants".
//
// Deleted applications and tenants are kept as ids only (with the tenant an application
// belonged to, and the parent of a tenant): enough for the dialects to tell "deleted" from
// "never existed", for the audit to name the tenant, and for the revocation feed's ancestry,
// at about 40 bytes each instead of the whole record.
#[derive(Default)]
struct State {
    tenants: HashMap<TenantId, Box<Tenant>>,
    apps: HashMap<ClientId, Box<AppEntry>>,
    /// Deleted applications: their tenant.
    deleted_apps: HashMap<ClientId, TenantId>,
    /// Deleted tenants: their parent.
    deleted_tenants: HashMap<TenantId, Option<TenantId>>,
    /// The live children of each tenant that has any (a partner's business applications are
    /// listed per request: no walk over every tenant).
    children: HashMap<TenantId, Vec<TenantId>>,
    revocations: RevocationList,
    /// Revocation records ordered by sequence number, each once: the feed.
    revocation_log: Vec<RevocationRecord>,
    /// The secrets held, counted by expiry: see [`SecretCounts`].
    counts: SecretCounts,
}

/// The secrets a directory holds, counted by expiry (epoch seconds): the metrics' count of
/// secrets expiring soon is a range of this map, not a walk over a million applications under the
/// read lock on a runtime thread (170 ms at that size, every sample).
#[derive(Default)]
struct SecretCounts {
    by_expiry: BTreeMap<i64, u32>,
    total: usize,
}

impl SecretCounts {
    fn add(&mut self, s: &CachedSecret) {
        *self
            .by_expiry
            .entry(s.expires_at.unix_timestamp())
            .or_default() += 1;
        self.total += 1;
    }

    fn remove(&mut self, s: &CachedSecret) {
        let at = s.expires_at.unix_timestamp();
        if let Some(n) = self.by_expiry.get_mut(&at) {
            *n -= 1;
            self.total -= 1;
            if *n == 0 {
                self.by_expiry.remove(&at);
            }
        }
    }

    /// Secrets expiring in `[from, to)` (epoch seconds).
    fn expiring(&self, from: i64, to: i64) -> usize {
        self.by_expiry
            .range(from..to.max(from))
            .map(|(_, n)| *n as usize)
            .sum()
    }
}

/// What [`Directory::stats`] counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectoryStats {
    /// Tenants, tombstones included.
    pub tenants: usize,
    /// Applications, tombstones included.
    pub applications: usize,
    /// Secrets held (their digests).
    pub secrets: usize,
    /// Secrets of applications not deleted that expire within the window asked for.
    pub expiring: usize,
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

/// What the directory knows of a client id.
#[derive(Debug)]
pub enum Found<'a> {
    /// A live (active or disabled) application, and its tenant unless that was deleted.
    App(&'a AppEntry, Option<&'a Tenant>),
    /// A deleted application, and the tenant it belonged to.
    Deleted(TenantId),
}

impl Found<'_> {
    /// The application's tenant.
    pub fn tenant_id(&self) -> TenantId {
        match self {
            Found::App(e, _) => e.app.tenant_id,
            Found::Deleted(t) => *t,
        }
    }
}

impl Directory {
    /// Runs `f` on what is known of an application (`None`: never existed), under the read lock.
    pub fn with_app<R>(&self, id: &ClientId, f: impl FnOnce(Option<Found<'_>>) -> R) -> R {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = st.apps.get(id) {
            return f(Some(Found::App(
                e,
                st.tenants.get(&e.app.tenant_id).map(|t| &**t),
            )));
        }
        f(st.deleted_apps.get(id).map(|t| Found::Deleted(*t)))
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

    /// One answer of the revocation feed for a resource server of tenant `reader`: the live
    /// records after `since` that belong to `reader` or a tenant below it (children,
    /// grandchildren...), at most `limit` of them, unless the records of the last sequence
    /// number returned go past it: a page never splits a sequence number, so that its cursor
    /// (that sequence number) neither repeats nor skips a record.
    ///
    /// Records written before tenants were recorded belong to no tenant and are shown to every
    /// reader: they only name what was revoked (ids, no secrets), and hiding them would let a
    /// guard accept tokens that were revoked before the upgrade.
    pub fn revocations_since(
        &self,
        reader: &TenantId,
        since: i64,
        now: i64,
        limit: usize,
    ) -> RevocationFeed {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        let start = st.revocation_log.partition_point(|r| r.seq <= since);
        // Whether each tenant met is `reader` or below it, so that a page of one tenant's
        // records walks its ancestry once.
        let mut below: HashMap<TenantId, bool> = HashMap::new();
        let mut revocations = Vec::new();
        let mut last = None;
        let mut more = false;
        for rec in &st.revocation_log[start..] {
            if rec.revocation.expires < now - tessera_proto::PURGE_GRACE_SECS {
                continue;
            }
            let visible = match rec.tenant {
                None => true,
                Some(t) => *below.entry(t).or_insert_with(|| is_within(&st, t, reader)),
            };
            if !visible {
                continue;
            }
            if revocations.len() >= limit && last != Some(rec.seq) {
                more = true;
                break;
            }
            revocations.push(rec.revocation.clone());
            last = Some(rec.seq);
        }
        // A full answer covers everything applied: the cursor moves past other tenants'
        // records too, so that the next long-poll does not scan them again. Read under the
        // lock, so that no record up to it can be missing from the log just read.
        let cursor = match last {
            Some(seq) if more => seq,
            _ => self.seq().max(last.unwrap_or(i64::MIN)),
        };
        RevocationFeed {
            cursor,
            revocations,
            more,
        }
    }

    /// Forgets revocation records that cover no live token.
    pub fn purge_revocations(&self, now: i64) {
        let mut st = self.state.write().unwrap_or_else(|e| e.into_inner());
        st.revocations.purge(now);
        st.revocation_log
            .retain(|r| r.revocation.expires >= now - tessera_proto::PURGE_GRACE_SECS);
    }

    /// Applies a change set. One older than what is applied (a lower `seq`) is ignored: its
    /// rows may predate changes already in effect.
    pub fn apply(&self, c: ChangeSet) {
        // Nothing for the maps (most polls, and changes to people or webhooks): no write lock.
        // A writer waiting for the lock holds up every reader behind it (the std lock prefers
        // writers), and the metrics walk holds a read lock over a million entries for tens of
        // milliseconds: an empty poll during it stalled every token request (BENCHMARKS.md, "A
        // million merchants").
        if c.tenants.is_empty()
            && c.apps.is_empty()
            && c.secrets.is_empty()
            && c.revocations.is_empty()
        {
            self.seq.fetch_max(c.seq, Ordering::AcqRel);
            return;
        }
        let mut guard = self.state.write().unwrap_or_else(|e| e.into_inner());
        if c.seq < self.seq.load(Ordering::Acquire) {
            return;
        }
        // The fields one by one: an application's secrets and the expiry counts change together.
        let st = &mut *guard;
        st.tenants.reserve(c.tenants.len());
        for t in c.tenants {
            if t.status == TenantStatus::Deleted {
                st.tenants.remove(&t.id);
                if let Some(p) = t.parent_id
                    && let Some(kids) = st.children.get_mut(&p)
                {
                    kids.retain(|k| *k != t.id);
                    if kids.is_empty() {
                        st.children.remove(&p);
                    }
                }
                st.deleted_tenants.insert(t.id, t.parent_id);
            } else if !st.deleted_tenants.contains_key(&t.id) {
                if let Some(p) = t.parent_id
                    && !st.tenants.contains_key(&t.id)
                {
                    st.children.entry(p).or_default().push(t.id);
                }
                st.tenants.insert(t.id, Box::new(t));
            }
        }
        st.apps.reserve(c.apps.len());
        for a in c.apps {
            // Deletion is final: the application leaves, its id stays (see `State`).
            if a.status == AppStatus::Deleted {
                if let Some(e) = st.apps.remove(&a.client_id) {
                    for x in &e.secrets {
                        st.counts.remove(x);
                    }
                }
                st.deleted_apps.insert(a.client_id, a.tenant_id);
            } else if st.deleted_apps.contains_key(&a.client_id) {
                continue;
            } else if let Some(e) = st.apps.get_mut(&a.client_id) {
                e.app = a;
            } else {
                st.apps.insert(
                    a.client_id,
                    Box::new(AppEntry {
                        app: a,
                        secrets: Vec::new(),
                    }),
                );
            }
        }
        for s in c.secrets {
            let Some(e) = st.apps.get_mut(&s.meta.client_id) else {
                continue;
            };
            if let Some(i) = e.secrets.iter().position(|x| x.id == s.meta.id) {
                let old = e.secrets.remove(i);
                st.counts.remove(&old);
            }
            if !s.deleted {
                let held = CachedSecret {
                    id: s.meta.id,
                    digest: s.digest,
                    expires_at: s.meta.expires_at,
                    // A use the database already holds counts as noted: a restarted node
                    // does not write again what another node (or its former self) wrote.
                    last_noted: AtomicI64::new(
                        s.meta.last_used_at.map_or(0, |t| t.unix_timestamp()),
                    ),
                };
                st.counts.add(&held);
                e.secrets.push(held);
            }
        }
        st.revocations
            .apply(c.revocations.iter().map(|r| &r.revocation));
        merge_into_log(&mut st.revocation_log, c.revocations);
        self.seq.fetch_max(c.seq, Ordering::AcqRel);
        drop(guard);
    }

    /// Sizes and the number of live secrets of live applications that expire in `[now, before)`,
    /// for metrics: counts kept as changes are applied, and a range over distinct expiry
    /// times.
    pub fn stats(&self, now: OffsetDateTime, before: OffsetDateTime) -> DirectoryStats {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        DirectoryStats {
            tenants: st.tenants.len() + st.deleted_tenants.len(),
            applications: st.apps.len() + st.deleted_apps.len(),
            secrets: st.counts.total,
            expiring: st
                .counts
                .expiring(now.unix_timestamp(), before.unix_timestamp()),
        }
    }

    /// Counts, for diagnostics: (tenants, applications).
    pub fn counts(&self) -> (usize, usize) {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        (
            st.tenants.len() + st.deleted_tenants.len(),
            st.apps.len() + st.deleted_apps.len(),
        )
    }

    /// A live (active or disabled) tenant.
    pub fn tenant(&self, id: &TenantId) -> Option<Tenant> {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        st.tenants.get(id).map(|t| Tenant::clone(t))
    }

    /// The live (not deleted) direct children of a tenant, by creation time.
    pub fn children(&self, parent: &TenantId) -> Vec<Tenant> {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<Tenant> = st
            .children
            .get(parent)
            .into_iter()
            .flatten()
            .filter_map(|k| st.tenants.get(k))
            .map(|t| Tenant::clone(t))
            .collect();
        v.sort_by_key(|t| (t.created_at, t.id));
        v
    }

    /// A tenant's status (helper for tests and dialects).
    pub fn tenant_status(&self, id: &TenantId) -> Option<TenantStatus> {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        match st.tenants.get(id) {
            Some(t) => Some(t.status),
            None => st
                .deleted_tenants
                .contains_key(id)
                .then_some(TenantStatus::Deleted),
        }
    }
}

/// Whether `tenant` is `ancestor` or lies below it. Walks up the parents (tombstones
/// included: a deleted child's records still concern its parent), at most once round the
/// directory, so that corrupt data with a cycle cannot hang the feed.
fn is_within(st: &State, tenant: TenantId, ancestor: &TenantId) -> bool {
    let mut cur = Some(tenant);
    for _ in 0..=st.tenants.len() + st.deleted_tenants.len() {
        match cur {
            Some(t) if t == *ancestor => return true,
            Some(t) => {
                cur = match st.tenants.get(&t) {
                    Some(live) => live.parent_id,
                    None => st.deleted_tenants.get(&t).copied().flatten(),
                }
            }
            None => return false,
        }
    }
    false
}

/// Adds a change set's revocation records to the log, keeping it ordered by sequence number
/// with each record once. A change set may bring again rows that the previous one already read
/// (committed while it was read), and in a rare interleaving rows older than the log's last:
/// only the log's tail from the oldest new sequence number is re-sorted.
fn merge_into_log(log: &mut Vec<RevocationRecord>, mut fresh: Vec<RevocationRecord>) {
    let key = |r: &RevocationRecord| (r.seq, r.revocation.kind);
    fresh.sort_by(|a, b| {
        key(a)
            .cmp(&key(b))
            .then(a.revocation.id.cmp(&b.revocation.id))
    });
    let Some(first) = fresh.first().map(|r| r.seq) else {
        return;
    };
    let at = log.partition_point(|r| r.seq < first);
    if at == log.len() {
        log.extend(fresh);
        return;
    }
    let mut tail = log.split_off(at);
    tail.extend(fresh);
    tail.sort_by(|a, b| {
        key(a)
            .cmp(&key(b))
            .then(a.revocation.id.cmp(&b.revocation.id))
    });
    // One write per sequence number: the same subject at the same number is the same record.
    tail.dedup_by(|a, b| key(a) == key(b) && a.revocation.id == b.revocation.id);
    log.extend(tail);
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
        d.with_app(id, |e| match e {
            Some(Found::App(e, _)) => e.secrets.len(),
            _ => 0,
        })
    }

    /// The counts behind the metrics follow every change: a secret added, the same secret read
    /// again, one deleted, an application deleted with its secrets; an empty change set moves
    /// the sequence number only.
    #[test]
    fn expiry_counts_follow_the_changes() {
        let (tenant, app, secret) = world();
        let d = Directory::default();
        let soon = StoredSecret {
            meta: SecretMeta {
                id: SecretId::random(),
                expires_at: datetime!(2026-01-05 0:00 UTC),
                ..secret.meta.clone()
            },
            ..secret.clone()
        };
        d.apply(ChangeSet {
            seq: 1,
            tenants: vec![tenant.clone()],
            apps: vec![app.clone()],
            secrets: vec![secret.clone(), soon.clone(), soon.clone()],
            ..ChangeSet::default()
        });
        let (now, in_14_days) = (
            datetime!(2026-01-01 0:00 UTC),
            datetime!(2026-01-15 0:00 UTC),
        );
        let stats = d.stats(now, in_14_days);
        assert_eq!((stats.secrets, stats.expiring), (2, 1));
        // The window is [now, before).
        assert_eq!(d.stats(now, datetime!(2026-01-05 0:00 UTC)).expiring, 0);
        assert_eq!(
            d.stats(datetime!(2026-01-05 0:00 UTC), in_14_days).expiring,
            1
        );
        d.apply(ChangeSet {
            seq: 2,
            secrets: vec![StoredSecret {
                deleted: true,
                ..soon.clone()
            }],
            ..ChangeSet::default()
        });
        let stats = d.stats(now, in_14_days);
        assert_eq!((stats.secrets, stats.expiring), (1, 0));
        d.apply(ChangeSet {
            seq: 3,
            apps: vec![Application {
                status: AppStatus::Deleted,
                ..app.clone()
            }],
            ..ChangeSet::default()
        });
        assert_eq!(d.stats(now, datetime!(2028-01-01 0:00 UTC)).secrets, 0);
        d.apply(ChangeSet {
            seq: 9,
            ..ChangeSet::default()
        });
        assert_eq!(d.seq(), 9);
        assert_eq!(d.stats(now, in_14_days).applications, 1, "the tombstone");
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

    fn child_of(parent: Option<TenantId>) -> Tenant {
        Tenant {
            id: TenantId::random(),
            parent_id: parent,
            ..world().0
        }
    }

    fn record(seq: i64, tenant: Option<TenantId>, id: &str) -> RevocationRecord {
        RevocationRecord {
            seq,
            tenant,
            revocation: tessera_proto::Revocation {
                kind: tessera_proto::RevocationKind::Jti,
                id: id.into(),
                before: 0,
                expires: 10_000,
            },
        }
    }

    fn ids(feed: &RevocationFeed) -> Vec<&str> {
        feed.revocations.iter().map(|r| r.id.as_str()).collect()
    }

    /// A reader sees its tenant's records and those of every tenant below it, and records
    /// that belong to no tenant (written before tenants were recorded); nothing else.
    #[test]
    fn the_feed_answers_a_reader_its_tenant_and_the_tenants_below() {
        let root = child_of(None);
        let child = child_of(Some(root.id));
        let grandchild = child_of(Some(child.id));
        let other = child_of(None);
        let d = Directory::default();
        d.apply(ChangeSet {
            seq: 9,
            tenants: vec![
                root.clone(),
                child.clone(),
                grandchild.clone(),
                other.clone(),
            ],
            revocations: vec![
                record(5, Some(root.id), "root"),
                record(6, Some(child.id), "child"),
                record(7, Some(grandchild.id), "grandchild"),
                record(8, Some(other.id), "other"),
                record(9, None, "legacy"),
            ],
            ..ChangeSet::default()
        });
        let feed = |t: &Tenant| d.revocations_since(&t.id, 0, 0, 100);
        assert_eq!(ids(&feed(&root)), ["root", "child", "grandchild", "legacy"]);
        assert_eq!(ids(&feed(&child)), ["child", "grandchild", "legacy"]);
        assert_eq!(ids(&feed(&grandchild)), ["grandchild", "legacy"]);
        assert_eq!(ids(&feed(&other)), ["other", "legacy"]);
        // An empty answer still moves the cursor past the others' records.
        let f = d.revocations_since(&grandchild.id, 7, 0, 100);
        assert_eq!((ids(&f), f.cursor, f.more), (vec!["legacy"], 9, false));
        let f = d.revocations_since(&other.id, 9, 0, 100);
        assert_eq!((f.revocations.len(), f.cursor), (0, 9));
    }

    /// Following `more` from zero reads every record once, whatever the page size and however
    /// many records share a sequence number; no page splits a sequence number.
    #[test]
    fn pages_neither_repeat_nor_skip_a_record() {
        let t = child_of(None);
        let other = child_of(None);
        let d = Directory::default();
        // Three records per sequence number, one of them another tenant's.
        let all: Vec<RevocationRecord> = (0..3_000)
            .map(|i| {
                let owner = if i % 3 == 1 { other.id } else { t.id };
                record(10 + i / 3, Some(owner), &format!("r{i}"))
            })
            .collect();
        d.apply(ChangeSet {
            seq: 2_000,
            tenants: vec![t.clone(), other.clone()],
            revocations: all.clone(),
            ..ChangeSet::default()
        });
        for limit in [1, 2, 3, 999, 1_000, 5_000] {
            let mut cursor = 0;
            let mut seen = Vec::new();
            loop {
                let page = d.revocations_since(&t.id, cursor, 0, limit);
                // Past the limit only to finish a sequence number (two of its records here).
                assert!(
                    page.revocations.len() <= limit + 1,
                    "a page of {limit} overflowed"
                );
                assert!(page.cursor > cursor || !page.more, "the cursor must move");
                cursor = page.cursor;
                seen.extend(page.revocations.iter().map(|r| r.id.clone()));
                if !page.more {
                    break;
                }
                let next = d.revocations_since(&t.id, cursor, 0, limit);
                // The seq at the cursor was handed out whole.
                assert!(next.revocations.iter().all(|r| {
                    all.iter()
                        .any(|a| a.revocation.id == r.id && a.seq > cursor)
                }));
            }
            let mut want: Vec<String> = all
                .iter()
                .filter(|r| r.tenant == Some(t.id))
                .map(|r| r.revocation.id.clone())
                .collect();
            assert_eq!(seen.len(), want.len(), "page size {limit}");
            // Within one sequence number the log has its own order.
            seen.sort();
            want.sort();
            assert!(
                seen == want,
                "page size {limit}: repeated or skipped records"
            );
            assert_eq!(cursor, 2_000);
        }
    }

    /// A change set that repeats records of the previous one, or brings one older than the
    /// log's last, leaves the log ordered and each record in it once.
    #[test]
    fn repeated_and_late_records_are_merged_into_order() {
        let t = child_of(None);
        let d = Directory::default();
        let set = |seq, revocations| ChangeSet {
            seq,
            tenants: vec![t.clone()],
            revocations,
            ..ChangeSet::default()
        };
        d.apply(set(
            10,
            vec![record(9, Some(t.id), "a"), record(11, Some(t.id), "c")],
        ));
        d.apply(set(
            12,
            vec![
                record(11, Some(t.id), "c"),
                record(10, Some(t.id), "b"),
                record(12, Some(t.id), "d"),
            ],
        ));
        let f = d.revocations_since(&t.id, 0, 0, 100);
        assert_eq!(ids(&f), ["a", "b", "c", "d"]);
        assert_eq!(f.cursor, 12);
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

    /// Children are listed from an index kept with every change: added, deleted, and a
    /// disabled child still listed.
    #[test]
    fn children_follow_changes() {
        let (parent, _, _) = world();
        let child = |name: &str, seq: i64| Tenant {
            id: TenantId::random(),
            name: name.into(),
            parent_id: Some(parent.id),
            created_at: datetime!(2026-01-01 0:00 UTC) + time::Duration::seconds(seq),
            ..parent.clone()
        };
        let (a, b) = (child("a", 1), child("b", 2));
        let d = Directory::default();
        d.apply(ChangeSet {
            seq: 1,
            tenants: vec![parent.clone(), a.clone(), b.clone()],
            ..ChangeSet::default()
        });
        let names = |d: &Directory| -> Vec<String> {
            d.children(&parent.id).into_iter().map(|t| t.name).collect()
        };
        assert_eq!(names(&d), ["a", "b"]);
        d.apply(ChangeSet {
            seq: 2,
            tenants: vec![
                Tenant {
                    status: TenantStatus::Deleted,
                    ..a.clone()
                },
                Tenant {
                    status: TenantStatus::Disabled,
                    ..b.clone()
                },
            ],
            ..ChangeSet::default()
        });
        assert_eq!(names(&d), ["b"]);
        assert_eq!(d.tenant_status(&a.id), Some(TenantStatus::Deleted));
        assert!(d.tenant(&a.id).is_none());
        assert!(d.children(&b.id).is_empty());
    }
}
