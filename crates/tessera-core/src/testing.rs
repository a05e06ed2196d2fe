//! The store conformance suite: every engine runs these same checks against a real database.
//!
//! An engine's test file calls [`conformance_tests!`](crate::conformance_tests) with an async
//! function that returns a fresh, empty store (or `None` to skip, when the database is not
//! installed); that makes one named test per check, so that a failure names its check and
//! does not hide the others.

use crate::CoreError;
use crate::admin::{ActingAdmin, Admin, CreatedSecret, NewTenant, SecretPolicy};
use crate::audit::{Actor, AuditBuffer};
use crate::clock::{Clock, ManualClock};
use crate::directory::{Directory, Found};
use crate::ids::{ClientId, SecretId, TenantId};
use crate::keyring::Keyring;
use crate::master::MasterKey;
use crate::model::{AppStatus, TenantStatus};
use crate::role::RoleCatalog;
use crate::store::{ChangeSet, Store};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tessera_proto::Algorithm;
use time::Duration;
use time::macros::datetime;

/// Defines one `#[tokio::test]` per conformance check, each on a store from `$fresh`, an async
/// function returning `Option<Arc<dyn Store>>` (`None` skips the check). The caller needs
/// `tokio` (with `macros` and `rt`) among its dev-dependencies.
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:path) => {
        $crate::conformance_tests!(@each $fresh;
            tenants_and_tombstones,
            applications_and_deletion,
            secret_limit_and_expiry,
            secret_limit_follows_the_policy,
            secret_limit_holds_under_concurrent_creates,
            change_feed_reaches_directory,
            first_load_reads_what_the_feed_read,
            revocations_carry_their_tenant,
            keys_first_start_is_idempotent,
            last_used_is_batched_and_monotonic,
            meta_init_keeps_first_value,
            rotation_expiring_and_rename,
            audit_appends_and_filters,
            audit_purge_deletes_only_older_events_in_batches,
            people_and_sessions,
            webhooks_and_one_notice_a_day,
        );
    };
    (@each $fresh:path; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $check() {
                if let Some(store) = $fresh().await {
                    $crate::testing::$check(store).await;
                }
            }
        )*
    };
}

/// A fresh admin service over `store`, acting as the CLI, with a manual clock.
pub fn admin(store: Arc<dyn Store>) -> (ActingAdmin, Arc<ManualClock>, MasterKey) {
    admin_with(store, SecretPolicy::default())
}

/// A fresh admin service over `store` with the secret rules `policy`, acting as the CLI, with a
/// manual clock.
pub fn admin_with(
    store: Arc<dyn Store>,
    policy: SecretPolicy,
) -> (ActingAdmin, Arc<ManualClock>, MasterKey) {
    let clock = Arc::new(ManualClock::new(datetime!(2026-06-01 12:00 UTC)));
    let master = MasterKey::parse(&"ab".repeat(32)).unwrap_or_else(|_| unreachable!());
    let admin = Admin::new(
        store,
        master.pepper(),
        Arc::new(RoleCatalog::default()),
        clock.clone(),
        policy,
        Arc::new(AuditBuffer::default()),
    );
    (admin.acting_as(Actor::cli()), clock, master)
}

/// Runs all futures at once on the current task and returns their outputs in order (the
/// suite must not depend on a runtime's spawn).
async fn join_all<T>(futures: Vec<Pin<Box<dyn Future<Output = T> + Send + '_>>>) -> Vec<T> {
    let mut futures: Vec<_> = futures.into_iter().map(Some).collect();
    let mut out: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (f, o) in futures.iter_mut().zip(out.iter_mut()) {
            if let Some(fut) = f
                && let std::task::Poll::Ready(v) = fut.as_mut().poll(cx)
            {
                *o = Some(v);
                *f = None;
            }
        }
        if futures.iter().all(Option::is_none) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// A top-level tenant named "T".
async fn tenant(admin: &ActingAdmin) -> crate::model::Tenant {
    admin
        .create_tenant(NewTenant {
            name: "T".into(),
            kind: None,
            parent_id: None,
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A tenant with one application.
async fn tenant_and_app(admin: &ActingAdmin) -> ClientId {
    let t = tenant(admin).await;
    admin
        .create_app(t.id, "App", "merchant")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .client_id
}

/// The limit is the policy's: with three allowed, three are accepted and the fourth refused.
pub async fn secret_limit_follows_the_policy(store: Arc<dyn Store>) {
    let policy = SecretPolicy {
        max_active: 3,
        ..SecretPolicy::default()
    };
    let (admin, _, _) = admin_with(store, policy);
    let app = tenant_and_app(&admin).await;
    for name in ["one", "two", "three"] {
        admin
            .create_secret(app, name, None)
            .await
            .unwrap_or_else(|e| panic!("secret {name}: {e}"));
    }
    match admin.create_secret(app, "four", None).await {
        Err(CoreError::SecretLimit { limit: 3 }) => {}
        other => panic!("expected the limit of three, got {other:?}"),
    }
    assert_eq!(admin.list_secrets(app).await.map(|v| v.len()).ok(), Some(3));
}

/// Creates racing for one application's last slots: exactly the limit succeed.
pub async fn secret_limit_holds_under_concurrent_creates(store: Arc<dyn Store>) {
    let (admin, _, _) = admin(store);
    let app = tenant_and_app(&admin).await;
    let admin = &admin;
    let attempts = (0..8)
        .map(|i| {
            Box::pin(async move { admin.create_secret(app, &format!("s{i}"), None).await })
                as Pin<Box<dyn Future<Output = Result<_, CoreError>> + Send>>
        })
        .collect();
    let results: Vec<Result<CreatedSecret, CoreError>> = join_all(attempts).await;
    let created = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(CoreError::SecretLimit { limit: 2 })))
        .count();
    assert_eq!((created, refused), (2, 6), "{results:?}");
    assert_eq!(admin.list_secrets(app).await.map(|v| v.len()).ok(), Some(2));
}

/// Tenants: creation, children, status changes, tombstones.
pub async fn tenants_and_tombstones(store: Arc<dyn Store>) {
    let (admin, _, _) = admin(store.clone());
    let gw = admin
        .create_tenant(NewTenant {
            name: "Gateway".into(),
            kind: Some("gateway".into()),
            parent_id: None,
        })
        .await
        .unwrap_or_else(|e| panic!("create tenant: {e}"));
    let m = admin
        .create_tenant(NewTenant {
            name: "Shop".into(),
            kind: None,
            parent_id: Some(gw.id),
        })
        .await
        .unwrap_or_else(|e| panic!("create child: {e}"));
    assert_eq!(m.kind, "merchant");
    assert_eq!(
        admin.get_tenant(m.id).await.ok().map(|t| t.parent_id),
        Some(Some(gw.id))
    );
    assert!(matches!(
        admin
            .create_tenant(NewTenant {
                name: "x".into(),
                kind: None,
                parent_id: Some(TenantId::random())
            })
            .await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        admin
            .create_tenant(NewTenant {
                name: " ".into(),
                kind: None,
                parent_id: None
            })
            .await,
        Err(CoreError::Invalid(_))
    ));
    let d = admin
        .set_tenant_status(m.id, TenantStatus::Disabled)
        .await
        .ok();
    assert_eq!(d.map(|t| t.status), Some(TenantStatus::Disabled));
    admin
        .set_tenant_status(m.id, TenantStatus::Deleted)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        admin.set_tenant_status(m.id, TenantStatus::Active).await,
        Err(CoreError::Conflict(_))
    ));
    assert_eq!(
        admin.get_tenant(m.id).await.ok().map(|t| t.status),
        Some(TenantStatus::Deleted)
    );
    assert_eq!(admin.list_tenants().await.map(|v| v.len()).ok(), Some(2));
    assert!(matches!(
        admin.get_tenant(TenantId::random()).await,
        Err(CoreError::NotFound(_))
    ));
}

/// Applications: creation, status changes, deletion with their secrets.
pub async fn applications_and_deletion(store: Arc<dyn Store>) {
    let (admin, _, _) = admin(store.clone());
    let t = admin
        .create_tenant(NewTenant {
            name: "T".into(),
            kind: None,
            parent_id: None,
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        admin.create_app(t.id, "a", "no-such-role").await,
        Err(CoreError::Invalid(_))
    ));
    assert!(matches!(
        admin.create_app(TenantId::random(), "a", "merchant").await,
        Err(CoreError::NotFound(_))
    ));
    let a = admin
        .create_app(t.id, "App", "merchant")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let s = admin
        .create_secret(a.client_id, "s1", None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(admin.list_apps(t.id).await.map(|v| v.len()).ok(), Some(1));
    admin
        .set_app_status(a.client_id, AppStatus::Disabled)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        admin.get_app(a.client_id).await.ok().map(|a| a.status),
        Some(AppStatus::Disabled)
    );
    admin
        .set_app_status(a.client_id, AppStatus::Deleted)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        admin.get_app(a.client_id).await,
        Err(CoreError::NotFound(_))
    ));
    assert_eq!(admin.list_apps(t.id).await.map(|v| v.len()).ok(), Some(0));
    assert!(matches!(
        store.list_secrets(a.client_id).await.map(|v| v.len()),
        Ok(0)
    ));
    assert!(matches!(
        admin.delete_secret(a.client_id, s.meta.id).await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        admin.set_app_status(a.client_id, AppStatus::Active).await,
        Err(CoreError::NotFound(_))
    ));
    // Applications of a deleted tenant cannot be created.
    admin
        .set_tenant_status(t.id, TenantStatus::Deleted)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        admin.create_app(t.id, "b", "merchant").await,
        Err(CoreError::NotFound(_))
    ));
}

/// The default limit of two, expiry freeing a slot, deletion freeing a slot.
pub async fn secret_limit_and_expiry(store: Arc<dyn Store>) {
    let (admin, clock, _) = admin(store.clone());
    let t = admin
        .create_tenant(NewTenant {
            name: "T".into(),
            kind: None,
            parent_id: None,
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let a = admin
        .create_app(t.id, "App", "merchant")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        admin.create_secret(a.client_id, "x", Some(0)).await,
        Err(CoreError::Invalid(_))
    ));
    assert!(matches!(
        admin.create_secret(a.client_id, "x", Some(731)).await,
        Err(CoreError::Invalid(_))
    ));
    let s1 = admin
        .create_secret(a.client_id, "one", Some(1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s1.meta.expires_at - s1.meta.created_at, Duration::days(1));
    let s2 = admin
        .create_secret(a.client_id, "two", None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s2.meta.expires_at - s2.meta.created_at, Duration::days(365));
    match admin.create_secret(a.client_id, "three", None).await {
        Err(CoreError::SecretLimit { limit: 2 }) => {}
        other => panic!("expected the limit, got {other:?}"),
    }
    // The store enforces the limit it is given, whoever calls it.
    let (meta, stored) = {
        let extra = crate::secret::SecretValue::generate().unwrap_or_else(|_| unreachable!());
        let now = clock.now();
        let meta = crate::model::SecretMeta {
            id: SecretId::random(),
            client_id: a.client_id,
            name: "sneaky".into(),
            created_at: now,
            expires_at: now + Duration::days(1),
            last_used_at: None,
        };
        let digest = MasterKey::parse(&"ab".repeat(32))
            .unwrap_or_else(|_| unreachable!())
            .pepper()
            .digest(&extra);
        (
            meta.clone(),
            crate::model::StoredSecret {
                meta,
                digest,
                deleted: false,
            },
        )
    };
    assert!(matches!(
        store.create_secret(&stored, 2, meta.created_at).await,
        Err(crate::store::StoreError::SecretLimit)
    ));
    // Once one has expired, a new one may be created.
    clock.advance(Duration::days(2));
    admin
        .create_secret(a.client_id, "three", None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Deleting frees a slot.
    admin
        .delete_secret(a.client_id, s2.meta.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    admin
        .create_secret(a.client_id, "four", None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Another application's secret id is not found through this one.
    let b = admin
        .create_app(t.id, "B", "merchant")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        admin.delete_secret(b.client_id, s1.meta.id).await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        admin.create_secret(ClientId::random(), "x", None).await,
        Err(CoreError::NotFound(_))
    ));
    let listed = admin.list_secrets(a.client_id).await.unwrap_or_default();
    assert_eq!(listed.len(), 3, "one expired, three live");
}

/// Changes reach a directory through the change feed.
pub async fn change_feed_reaches_directory(store: Arc<dyn Store>) {
    let (admin, _, _) = admin(store.clone());
    let dir = Directory::default();
    dir.refresh(store.as_ref())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let t = admin
        .create_tenant(NewTenant {
            name: "T".into(),
            kind: None,
            parent_id: None,
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let a = admin
        .create_app(t.id, "App", "merchant")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let s = admin
        .create_secret(a.client_id, "s", None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    dir.refresh(store.as_ref())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        dir.with_app(&a.client_id, |e| match e {
            Some(Found::App(e, _)) => Some(e.secrets.len()),
            _ => None,
        }),
        Some(1)
    );
    admin
        .delete_secret(a.client_id, s.meta.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    admin
        .set_tenant_status(t.id, TenantStatus::Disabled)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let before = dir.seq();
    dir.refresh(store.as_ref())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(dir.seq() > before);
    assert_eq!(
        dir.with_app(&a.client_id, |e| match e {
            Some(Found::App(e, _)) => Some(e.secrets.len()),
            _ => None,
        }),
        Some(0)
    );
    assert_eq!(dir.tenant_status(&t.id), Some(TenantStatus::Disabled));
    admin
        .set_app_status(a.client_id, AppStatus::Deleted)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    dir.refresh(store.as_ref())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // A deleted application is remembered by its id and tenant only.
    assert_eq!(
        dir.with_app(&a.client_id, |e| match e {
            Some(Found::Deleted(tenant)) => Some(tenant),
            _ => None,
        }),
        Some(t.id)
    );
    // Nothing new: the feed returns nothing and the sequence stays.
    let seq = dir.seq();
    let c = store
        .changes_since(seq)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.seq, seq);
    assert!(c.tenants.is_empty() && c.apps.is_empty() && c.secrets.is_empty() && !c.keys_changed);
}

/// A first load (`changes_since(0)`, which an engine may read on a faster path of its own)
/// returns the same rows, field for field, as the change feed returned one change at a time:
/// live, disabled and deleted tenants and applications, live and deleted secrets with their
/// digests and last use, and the counter.
pub async fn first_load_reads_what_the_feed_read(store: Arc<dyn Store>) {
    let (admin, clock, _) = admin(store.clone());
    /// The changes after `fed.seq`, added to `fed`.
    async fn read(store: &dyn Store, fed: &mut ChangeSet) {
        let c = store.changes_since(fed.seq).await;
        let c = c.unwrap_or_else(|e| panic!("{e}"));
        fed.seq = c.seq;
        fed.keys_changed |= c.keys_changed;
        fed.tenants.extend(c.tenants);
        fed.apps.extend(c.apps);
        fed.secrets.extend(c.secrets);
        fed.revocations.extend(c.revocations);
    }
    // One change first, so that every read below asks from a counter above 0 (the feed's path).
    let first = admin.create_tenant(NewTenant {
        name: "First".into(),
        kind: None,
        parent_id: None,
    });
    first.await.unwrap_or_else(|e| panic!("{e}"));
    let mut fed = ChangeSet::default();
    read(store.as_ref(), &mut fed).await;
    assert!(fed.seq > 0);
    let tenant = |parent_id| NewTenant {
        name: "T".into(),
        kind: None,
        parent_id,
    };
    let t = admin.create_tenant(tenant(None)).await;
    let t = t.unwrap_or_else(|e| panic!("{e}"));
    read(store.as_ref(), &mut fed).await;
    let child = admin.create_tenant(tenant(Some(t.id))).await;
    let child = child.unwrap_or_else(|e| panic!("{e}"));
    let a = admin.create_app(child.id, "App", "merchant").await;
    let a = a.unwrap_or_else(|e| panic!("{e}"));
    let b = admin.create_app(t.id, "Other", "merchant").await;
    let b = b.unwrap_or_else(|e| panic!("{e}"));
    read(store.as_ref(), &mut fed).await;
    let s1 = admin.create_secret(a.client_id, "one", None).await;
    let s1 = s1.unwrap_or_else(|e| panic!("{e}"));
    let s2 = admin.create_secret(a.client_id, "two", None).await;
    let s2 = s2.unwrap_or_else(|e| panic!("{e}"));
    store
        .record_last_used(&[(s1.meta.id, clock.now())])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    admin
        .delete_secret(a.client_id, s2.meta.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    read(store.as_ref(), &mut fed).await;
    admin
        .set_app_status(b.client_id, AppStatus::Deleted)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    admin
        .set_tenant_status(child.id, TenantStatus::Disabled)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    admin
        .revoke_token("jti", clock.now().unix_timestamp() + 60)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    read(store.as_ref(), &mut fed).await;

    // The feed's rows, latest version of each, against the first load's.
    fn latest<T: Clone, K: Ord>(rows: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
        let mut by = std::collections::BTreeMap::new();
        for r in rows {
            by.insert(key(r), r.clone());
        }
        by.into_values().collect()
    }
    let all = store
        .changes_since(0)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.seq, fed.seq);
    assert_eq!(all.keys_changed, fed.keys_changed);
    let tenants = |c: &ChangeSet| latest(&c.tenants, |t| t.id.to_string());
    assert_eq!(tenants(&all), tenants(&fed));
    let apps = |c: &ChangeSet| latest(&c.apps, |a| a.client_id.to_string());
    assert_eq!(apps(&all), apps(&fed));
    let secrets = |c: &ChangeSet| latest(&c.secrets, |s| s.meta.id.to_string());
    let (got, want) = (secrets(&all), secrets(&fed));
    assert_eq!(got.len(), 2);
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(
            (&g.meta, g.digest.0, g.deleted),
            (&w.meta, w.digest.0, w.deleted)
        );
    }
    assert!(got.iter().any(|s| s.meta.last_used_at.is_some()));
    assert!(got.iter().any(|s| s.deleted));
    assert_eq!(all.revocations, fed.revocations);
}

/// Every revocation record comes back from the change feed with the tenant it belongs to (the
/// secret's or application's tenant, the tenant itself, the revoking client's tenant, none for
/// the CLI), and the directory answers each reader the records of its tenant and those below.
pub async fn revocations_carry_their_tenant(store: Arc<dyn Store>) {
    use tessera_proto::RevocationKind as K;
    let (admin, clock, _) = admin(store.clone());
    let new_tenant = |parent| NewTenant {
        name: "T".into(),
        kind: None,
        parent_id: parent,
    };
    let parent = admin.create_tenant(new_tenant(None)).await;
    let parent = parent.unwrap_or_else(|e| panic!("{e}"));
    let child = admin.create_tenant(new_tenant(Some(parent.id))).await;
    let child = child.unwrap_or_else(|e| panic!("{e}"));
    let a = admin.create_app(child.id, "App", "merchant").await;
    let a = a.unwrap_or_else(|e| panic!("{e}"));
    let s = admin.create_secret(a.client_id, "s", None).await;
    let s = s.unwrap_or_else(|e| panic!("{e}"));
    let start = store
        .changes_since(0)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    admin
        .delete_secret(a.client_id, s.meta.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    admin
        .set_app_status(a.client_id, AppStatus::Disabled)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    admin
        .set_tenant_status(child.id, TenantStatus::Disabled)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let exp = clock.now().unix_timestamp() + 3600;
    let client = admin.acting_as(Actor::client(ClientId::random(), parent.id, None));
    client
        .revoke_token("jti-parent", exp)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    admin
        .revoke_token("jti-cli", exp)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Revoked again by a client of another tenant: the record keeps the tenant it has.
    let stranger = admin.acting_as(Actor::client(ClientId::random(), child.id, None));
    stranger
        .revoke_token("jti-parent", exp + 60)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let want = [
        (K::Secret, s.meta.id.to_string(), Some(child.id)),
        (K::Application, a.client_id.to_string(), Some(child.id)),
        (K::Tenant, child.id.to_string(), Some(child.id)),
        (K::Jti, "jti-cli".to_owned(), None),
        (K::Jti, "jti-parent".to_owned(), Some(parent.id)),
    ];
    // From the start, and after the tenants were created: both reads carry the tenant.
    for since in [0, start.seq] {
        let c = store
            .changes_since(since)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<_> = c
            .revocations
            .iter()
            .map(|r| (r.revocation.kind, r.revocation.id.clone(), r.tenant))
            .collect();
        assert_eq!(got, want, "records read after {since}");
        assert!(c.revocations.windows(2).all(|w| w[0].seq < w[1].seq));
    }

    let dir = Directory::default();
    dir.refresh(store.as_ref())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let now = clock.now().unix_timestamp();
    let read = |t: TenantId| {
        let feed = dir.revocations_since(&t, 0, now, 1_000);
        feed.revocations
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    let ids = |tenants: &[Option<TenantId>]| {
        want.iter()
            .filter(|w| tenants.contains(&w.2))
            .map(|w| w.1.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        read(parent.id),
        ids(&[Some(parent.id), Some(child.id), None])
    );
    assert_eq!(read(child.id), ids(&[Some(child.id), None]));
    assert_eq!(read(TenantId::random()), ids(&[None]));
}

/// Signing keys: one first key however many nodes start, rotation.
pub async fn keys_first_start_is_idempotent(store: Arc<dyn Store>) {
    let (_, clock, master) = admin(store.clone());
    let ring = Keyring::new(master.key_cipher(), Duration::hours(24));
    let now = clock.now();
    ring.ensure(store.as_ref(), Algorithm::Es256, now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let other = Keyring::new(master.key_cipher(), Duration::hours(24));
    other
        .ensure(store.as_ref(), Algorithm::Es256, now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    other
        .load(store.as_ref())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        other.snapshot().all().len(),
        1,
        "a second start must not add a key"
    );
    let c = store
        .changes_since(0)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(c.keys_changed);
    let rec = Keyring::rotate(
        ring.cipher(),
        store.as_ref(),
        Algorithm::Es256,
        now,
        Duration::hours(1),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    ring.load(store.as_ref())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let set = ring.snapshot();
    assert_eq!(set.all().len(), 2);
    assert_ne!(
        set.signer(Algorithm::Es256, now)
            .map(|k| k.kid().to_owned()),
        Some(rec.kid.clone())
    );
    assert_eq!(
        set.signer(Algorithm::Es256, now + Duration::hours(1))
            .map(|k| k.kid().to_owned()),
        Some(rec.kid.clone())
    );
    // Scheduled rotation adds nothing while a key is pending, so racing nodes add one.
    let again = Keyring::rotate_unless_pending(
        ring.cipher(),
        store.as_ref(),
        Algorithm::Es256,
        now,
        Duration::hours(1),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(again.is_none());
    let later = now + Duration::hours(2);
    let next = Keyring::rotate_unless_pending(
        ring.cipher(),
        store.as_ref(),
        Algorithm::Es256,
        later,
        Duration::hours(1),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(next.is_some());
    // The wrong master key cannot open the keys.
    let wrong = Keyring::new(
        MasterKey::parse(&"cd".repeat(32))
            .unwrap_or_else(|_| unreachable!())
            .key_cipher(),
        Duration::hours(1),
    );
    assert!(wrong.load(store.as_ref()).await.is_err());
}

/// `last_used_at` never moves backwards and is not a change.
pub async fn last_used_is_batched_and_monotonic(store: Arc<dyn Store>) {
    let (admin, clock, _) = admin(store.clone());
    let t = admin
        .create_tenant(NewTenant {
            name: "T".into(),
            kind: None,
            parent_id: None,
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let a = admin
        .create_app(t.id, "App", "merchant")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let s = admin
        .create_secret(a.client_id, "s", None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let seq = store
        .changes_since(0)
        .await
        .map(|c| c.seq)
        .unwrap_or_default();
    let later = clock.now() + Duration::minutes(5);
    store
        .record_last_used(&[(s.meta.id, later), (SecretId::random(), later)])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .record_last_used(&[(s.meta.id, clock.now())])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let listed = admin.list_secrets(a.client_id).await.unwrap_or_default();
    assert_eq!(listed[0].last_used_at, Some(later), "never moves backwards");
    // A flush larger than one statement (a restarted node at a million merchants): the rows
    // past the first few thousand are written too.
    let latest = later + Duration::minutes(5);
    let mut big: Vec<_> = (0..4_500).map(|_| (SecretId::random(), latest)).collect();
    big.push((s.meta.id, latest));
    store
        .record_last_used(&big)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let listed = admin.list_secrets(a.client_id).await.unwrap_or_default();
    assert_eq!(listed[0].last_used_at, Some(latest), "the last of 4,501");
    let c = store
        .changes_since(seq)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(c.secrets.is_empty(), "bookkeeping is not a change");
}

/// Metadata keeps its first value.
pub async fn meta_init_keeps_first_value(store: Arc<dyn Store>) {
    assert_eq!(store.meta_get("k").await.ok(), Some(None));
    assert_eq!(
        store.meta_init("k", "one").await.ok().as_deref(),
        Some("one")
    );
    assert_eq!(
        store.meta_init("k", "two").await.ok().as_deref(),
        Some("one")
    );
    assert!(matches!(store.ping().await, Ok(())));
}

/// Rotation, the expiring list and renaming.
pub async fn rotation_expiring_and_rename(store: Arc<dyn Store>) {
    let (admin, clock, _) = admin(store.clone());
    let t = admin
        .create_tenant(NewTenant {
            name: "T".into(),
            kind: None,
            parent_id: None,
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let u = admin
        .create_tenant(NewTenant {
            name: "U".into(),
            kind: None,
            parent_id: None,
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let a = admin
        .create_app(t.id, "App", "merchant")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let b = admin
        .create_app(u.id, "Other", "merchant")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let renamed = admin
        .rename_app(a.client_id, " New name ")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(renamed.name, "New name");
    assert!(matches!(
        admin.rename_app(ClientId::random(), "x").await,
        Err(CoreError::NotFound(_))
    ));
    let s1 = admin
        .create_secret(a.client_id, "primary", Some(10))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    admin
        .create_secret(b.client_id, "b", Some(5))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    admin
        .create_secret(b.client_id, "b-long", Some(300))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // Expiring: soonest first, across tenants or for one.
    let all = admin
        .expiring(Duration::days(14), None)
        .await
        .unwrap_or_default();
    assert_eq!(
        all.iter().map(|(_, s)| s.name.as_str()).collect::<Vec<_>>(),
        ["b", "primary"]
    );
    assert_eq!(all[0].0, u.id);
    let only_t = admin
        .expiring(Duration::days(14), Some(t.id))
        .await
        .unwrap_or_default();
    assert_eq!(only_t.len(), 1);

    // Rotation: new secret, old one cut to now + grace, in one step.
    let new = admin
        .rotate_secret(a.client_id, s1.meta.id, Duration::hours(2))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(new.meta.name, "primary");
    let listed = admin.list_secrets(a.client_id).await.unwrap_or_default();
    let old = listed
        .iter()
        .find(|s| s.id == s1.meta.id)
        .map(|s| s.expires_at);
    assert_eq!(old, Some(clock.now() + Duration::hours(2)));
    // Two active now: rotating again is refused, and nothing changes.
    match admin
        .rotate_secret(a.client_id, new.meta.id, Duration::hours(1))
        .await
    {
        Err(CoreError::SecretLimit { limit: 2 }) => {}
        other => panic!("expected the limit, got {other:?}"),
    }
    let again = admin.list_secrets(a.client_id).await.unwrap_or_default();
    assert_eq!(again, listed, "a refused rotation changes nothing");
    // Another application's secret cannot be rotated through this one.
    let b_secret = admin.list_secrets(b.client_id).await.unwrap_or_default()[0].id;
    assert!(matches!(
        admin
            .rotate_secret(a.client_id, b_secret, Duration::hours(1))
            .await,
        Err(CoreError::NotFound(_))
    ));
    // The grace never extends a secret's life.
    let c = admin
        .create_app(u.id, "Third", "merchant")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let short = admin
        .create_secret(c.client_id, "short", Some(1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    admin
        .rotate_secret(c.client_id, short.meta.id, Duration::days(20))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let after = admin.list_secrets(c.client_id).await.unwrap_or_default();
    let kept = after
        .iter()
        .find(|s| s.id == short.meta.id)
        .map(|s| s.expires_at);
    assert_eq!(kept, Some(short.meta.expires_at));
    assert!(matches!(
        admin
            .rotate_secret(c.client_id, short.meta.id, Duration::days(31))
            .await,
        Err(CoreError::Invalid(_))
    ));
}

/// The audit log: order, filters, limit.
pub async fn audit_appends_and_filters(store: Arc<dyn Store>) {
    use crate::audit::{AuditEvent, AuditQuery, Outcome};
    let t0 = datetime!(2026-06-01 12:00 UTC);
    let tenant = TenantId::random();
    let ev = |i: i64, tenant: Option<TenantId>| AuditEvent {
        at: t0 + Duration::milliseconds(i),
        actor: "cli".into(),
        tenant_id: tenant,
        action: format!("action.{i}"),
        target: Some("x".into()),
        outcome: if i % 2 == 0 {
            Outcome::Success
        } else {
            Outcome::Failure
        },
        source: None,
    };
    let events: Vec<AuditEvent> = (0..5)
        .map(|i| ev(i, if i < 3 { Some(tenant) } else { None }))
        .collect();
    store
        .append_audit(&events)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let all = store
        .query_audit(&AuditQuery::default())
        .await
        .unwrap_or_default();
    assert_eq!(all, events, "oldest first, millisecond order kept");
    let mine = store
        .query_audit(&AuditQuery {
            tenant_id: Some(tenant),
            ..AuditQuery::default()
        })
        .await
        .unwrap_or_default();
    assert_eq!(mine.len(), 3);
    let late = store
        .query_audit(&AuditQuery {
            since: Some(t0 + Duration::milliseconds(3)),
            ..AuditQuery::default()
        })
        .await
        .unwrap_or_default();
    assert_eq!(late.len(), 2);
    let newest = store
        .query_audit(&AuditQuery {
            limit: 2,
            ..AuditQuery::default()
        })
        .await
        .unwrap_or_default();
    assert_eq!(
        newest,
        events[3..].to_vec(),
        "the newest, still oldest first"
    );
}

/// Audit retention: only events older than the cut-off go, at most `limit` per call, oldest
/// first.
pub async fn audit_purge_deletes_only_older_events_in_batches(store: Arc<dyn Store>) {
    use crate::audit::{AuditEvent, AuditQuery, Outcome};
    let t0 = datetime!(2026-06-01 12:00 UTC);
    let events: Vec<AuditEvent> = (0..5)
        .map(|i| AuditEvent {
            at: t0 + Duration::days(i),
            actor: "cli".into(),
            tenant_id: None,
            action: format!("action.{i}"),
            target: None,
            outcome: Outcome::Success,
            source: None,
        })
        .collect();
    store
        .append_audit(&events)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let cut = t0 + Duration::days(3);
    assert_eq!(store.purge_audit(cut, 2).await.ok(), Some(2));
    assert_eq!(store.purge_audit(cut, 2).await.ok(), Some(1));
    assert_eq!(store.purge_audit(cut, 2).await.ok(), Some(0));
    let left = store
        .query_audit(&AuditQuery::default())
        .await
        .unwrap_or_default();
    assert_eq!(left, events[3..].to_vec(), "the event at the cut-off stays");
}

/// People and sessions: emails unique and lower-cased, a setup code that works once and expires,
/// sessions found with their person and ended by sign-out, idleness, age and deletion of the
/// person, and a purge of ended ones.
#[allow(clippy::unwrap_used, reason = "a conformance check fails by panicking")]
pub async fn people_and_sessions(store: Arc<dyn Store>) {
    use crate::people::{HubRole, Ticket};
    let (admin, clock, _) = admin(store.clone());
    let t = tenant(&admin).await;
    let (alice, code) = admin
        .create_person(t.id, " Alice@Example.com", HubRole::Admin)
        .await
        .unwrap();
    assert_eq!(alice.email, "alice@example.com");
    assert!(!alice.password_set);
    let again = admin
        .create_person(t.id, "alice@example.COM", HubRole::Viewer)
        .await;
    assert!(matches!(again, Err(CoreError::Conflict(_))), "{again:?}");
    let nowhere = admin
        .create_person(TenantId::random(), "b@example.com", HubRole::Viewer)
        .await;
    assert!(
        matches!(nowhere, Err(CoreError::NotFound(_))),
        "{nowhere:?}"
    );

    let pw = "correct horse battery";
    let early = admin.sign_in("alice@example.com", pw, None).await;
    assert!(matches!(early, Err(CoreError::SignIn)), "no password yet");
    let short = admin.set_password(&code, "short", None).await;
    assert!(matches!(short, Err(CoreError::Invalid(_))), "{short:?}");
    let (me, ticket) = admin.set_password(&code, pw, None).await.unwrap();
    assert!(me.password_set);
    assert!(
        admin.set_password(&code, pw, None).await.is_err(),
        "a setup code works once"
    );
    assert_eq!(admin.session(&ticket).await.unwrap().unwrap().id, alice.id);
    assert!(
        admin
            .session(&Ticket::new().unwrap())
            .await
            .unwrap()
            .is_none()
    );

    let wrong = admin
        .sign_in("alice@example.com", "wrong horse battery", None)
        .await;
    assert!(matches!(wrong, Err(CoreError::SignIn)));
    let unknown = admin.sign_in("nobody@example.com", pw, None).await;
    assert!(matches!(unknown, Err(CoreError::SignIn)));
    let (_, second) = admin.sign_in("ALICE@example.com", pw, None).await.unwrap();

    // Idle: both sessions end after 30 minutes unused.
    clock.advance(Duration::minutes(31));
    assert!(admin.session(&ticket).await.unwrap().is_none());
    assert!(admin.session(&second).await.unwrap().is_none());

    // Use keeps a session open, but not past its absolute lifetime.
    let (_, busy) = admin.sign_in("alice@example.com", pw, None).await.unwrap();
    for _ in 0..35 {
        clock.advance(Duration::minutes(20));
        assert!(admin.session(&busy).await.unwrap().is_some());
    }
    clock.advance(Duration::minutes(20));
    assert!(admin.session(&busy).await.unwrap().is_none(), "12 hours");

    // Sign-out ends one session.
    let (_, a) = admin.sign_in("alice@example.com", pw, None).await.unwrap();
    let (_, b) = admin.sign_in("alice@example.com", pw, None).await.unwrap();
    admin.sign_out(&a, &me, None).await.unwrap();
    assert!(admin.session(&a).await.unwrap().is_none());
    assert!(admin.session(&b).await.unwrap().is_some());

    // Ended sessions are purged; open ones stay.
    let (_, stale) = admin.sign_in("alice@example.com", pw, None).await.unwrap();
    clock.advance(Duration::minutes(40));
    assert!(admin.session(&b).await.is_ok());
    let (_, fresh) = admin.sign_in("alice@example.com", pw, None).await.unwrap();
    assert!(admin.purge_sessions().await.unwrap() >= 1);
    assert!(admin.session(&fresh).await.unwrap().is_some());
    assert!(admin.session(&stale).await.unwrap().is_none());

    // A setup link expires after 24 hours.
    let (bob, bob_code) = admin
        .create_person(t.id, "bob@example.com", HubRole::Viewer)
        .await
        .unwrap();
    clock.advance(Duration::hours(25));
    assert!(admin.set_password(&bob_code, pw, None).await.is_err());
    // A new link replaces the expired one.
    let (_, renewed) = admin.renew_setup(bob.id).await.unwrap();
    let (again, _) = admin.set_password(&renewed, pw, None).await.unwrap();
    assert_eq!(again.id, bob.id);
    assert!(matches!(
        admin.renew_setup(crate::ids::UserId::random()).await,
        Err(CoreError::NotFound(_))
    ));
    let people: Vec<String> = admin
        .people(t.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.email)
        .collect();
    assert_eq!(people, ["alice@example.com", "bob@example.com"]);

    // Deleting a person ends their sessions and their sign-ins.
    let (_, last) = admin.sign_in("alice@example.com", pw, None).await.unwrap();
    admin.delete_person(alice.id).await.unwrap();
    assert!(admin.session(&last).await.unwrap().is_none());
    assert!(admin.sign_in("alice@example.com", pw, None).await.is_err());
    assert!(matches!(
        admin.delete_person(alice.id).await,
        Err(CoreError::NotFound(_))
    ));
    assert_eq!(admin.person(bob.id).await.unwrap().email, "bob@example.com");
}

/// Webhooks: set, read with the secret that opens only under the master key, replaced,
/// deleted; a notice claimed once per secret and day however many claim it at once; old
/// notices purged.
#[allow(clippy::unwrap_used, reason = "a conformance check fails by panicking")]
pub async fn webhooks_and_one_notice_a_day(store: Arc<dyn Store>) {
    let (admin, _, master) = admin(store.clone());
    let t = tenant(&admin).await;
    let cipher = master.webhook_cipher();
    assert!(admin.webhook(t.id).await.unwrap().is_none());
    let (w, secret) = admin
        .set_webhook(t.id, "https://hooks.example.com/a", false, &cipher)
        .await
        .unwrap();
    assert_eq!(admin.webhook(t.id).await.unwrap(), Some(w));
    let (_, opened) = admin
        .webhook_for_sending(t.id, &cipher)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(opened.expose(), secret.expose());
    let other = MasterKey::parse(&"cd".repeat(32)).unwrap().webhook_cipher();
    assert!(admin.webhook_for_sending(t.id, &other).await.is_err());
    let (w2, secret2) = admin
        .set_webhook(t.id, "https://hooks.example.com/b", false, &cipher)
        .await
        .unwrap();
    assert_ne!(secret2.expose(), secret.expose());
    assert_eq!(admin.webhook(t.id).await.unwrap().unwrap().url, w2.url);
    assert!(
        admin
            .set_webhook(
                TenantId::random(),
                "https://hooks.example.com/",
                false,
                &cipher
            )
            .await
            .is_err()
    );
    admin.delete_webhook(t.id).await.unwrap();
    assert!(matches!(
        admin.delete_webhook(t.id).await,
        Err(CoreError::NotFound(_))
    ));

    let s = SecretId::random();
    let claims: Vec<Result<bool, CoreError>> = join_all(
        (0..8)
            .map(|_| {
                Box::pin(admin.claim_notice(s, 20_000)) as Pin<Box<dyn Future<Output = _> + Send>>
            })
            .collect(),
    )
    .await;
    assert_eq!(
        claims.into_iter().filter(|c| *c.as_ref().unwrap()).count(),
        1
    );
    assert!(admin.claim_notice(s, 20_001).await.unwrap(), "a new day");
    assert_eq!(store.purge_notices(20_001).await.unwrap(), 1);
    assert!(admin.claim_notice(s, 20_000).await.unwrap(), "purged");
}

/// The `secret_usage` upgrade (SQLite 0009, PostgreSQL 0007): each engine's test makes a database
/// at the previous schema with [`upgrade::rows_sql`], opens it with this release, and runs
/// [`upgrade::check`].
pub mod upgrade {
    use crate::store::Store;

    const TENANT: &str = "00000000-0000-4000-8000-00000000000a";
    const CLIENT: &str = "00000000-0000-4000-8000-00000000000b";
    const USED: &str = "00000000-0000-4000-8000-000000000001";
    const NEVER: &str = "00000000-0000-4000-8000-000000000002";
    const USED_AT: i64 = 1_700_000_500;

    /// One tenant, one application and two secrets, one of them used at `USED_AT`, as the
    /// previous schema stored them; `digest` is the engine's literal for a 32-byte blob.
    pub fn rows_sql(digest: &str) -> String {
        format!(
            "INSERT INTO tenants VALUES ('{TENANT}', 't', 'merchant', NULL, 'active', 1700000000, 1);
             INSERT INTO applications
               VALUES ('{CLIENT}', '{TENANT}', 'a', 'merchant', 'active', 1700000000, 1);
             INSERT INTO secrets
               (id, client_id, name, digest, created_at, expires_at, last_used_at, deleted, seq)
               VALUES ('{USED}', '{CLIENT}', 'used', {digest}, 1700000000, 4000000000, {USED_AT}, 0, 1),
                      ('{NEVER}', '{CLIENT}', 'never', {digest}, 1700000001, 4000000000, NULL, 0, 1);
             UPDATE change_seq SET value = 1;"
        )
    }

    /// The upgraded store still knows which secret was used, and when: in the management view
    /// and in a node's first load.
    pub async fn check(store: &dyn Store) {
        let client = CLIENT.parse().unwrap_or_else(|e| panic!("{e}"));
        let listed = store
            .list_secrets(client)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let last_used: Vec<_> = listed
            .iter()
            .map(|s| (s.id.to_string(), s.last_used_at.map(|t| t.unix_timestamp())))
            .collect();
        assert_eq!(
            last_used,
            [(USED.to_owned(), Some(USED_AT)), (NEVER.to_owned(), None)]
        );
        let all = store
            .changes_since(0)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let used = all.secrets.iter().find(|s| s.meta.id.to_string() == USED);
        let used = used.unwrap_or_else(|| panic!("the first load lost secret {USED}"));
        assert_eq!(
            used.meta.last_used_at.map(|t| t.unix_timestamp()),
            Some(USED_AT)
        );
    }
}
