//! Webhooks and the daily expiry notices. Plain statements on the pool: not part of the change
//! feed.

use crate::rows::Columns;
use crate::{Engine, SqlStore, found};
use async_trait::async_trait;
use tessera_core::ids::{SecretId, TenantId};
use tessera_core::store::{StoreError, WebhookStore};
use tessera_core::webhooks::{StoredWebhook, Webhook};
use time::OffsetDateTime;

fn webhook(c: &dyn Columns) -> Result<StoredWebhook, StoreError> {
    Ok(StoredWebhook {
        webhook: Webhook {
            tenant_id: c.parse(0, "tenant id")?,
            url: c.text(1)?,
            created_at: c.time(3)?,
        },
        sealed_secret: c.blob(2)?,
    })
}

#[async_trait]
impl<E: Engine> WebhookStore for SqlStore<E> {
    async fn put_webhook(&self, w: &StoredWebhook) -> Result<(), StoreError> {
        let sql = "INSERT INTO webhooks (tenant_id, url, sealed_secret, created_at)
                   VALUES ($1, $2, $3, $4)
                   ON CONFLICT (tenant_id) DO UPDATE SET
                       url = excluded.url, sealed_secret = excluded.sealed_secret,
                       created_at = excluded.created_at";
        let h = &w.webhook;
        let args = args![h.tenant_id, &h.url, &w.sealed_secret[..], h.created_at];
        Self::exec(&self.pool, sql, args).await.map(drop)
    }

    async fn get_webhook(&self, tenant: TenantId) -> Result<Option<StoredWebhook>, StoreError> {
        let sql = "SELECT tenant_id, url, sealed_secret, created_at FROM webhooks
                   WHERE tenant_id = $1";
        Self::opt(&self.pool, sql, args![tenant], webhook).await
    }

    async fn delete_webhook(&self, tenant: TenantId) -> Result<(), StoreError> {
        let sql = "DELETE FROM webhooks WHERE tenant_id = $1";
        found(Self::exec(&self.pool, sql, args![tenant]).await?)
    }

    async fn claim_notice(
        &self,
        secret: SecretId,
        day: i64,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // The primary key decides: one insert succeeds, the others change nothing.
        let sql = "INSERT INTO expiry_notices (secret_id, day, claimed_at) VALUES ($1, $2, $3)
                   ON CONFLICT (secret_id, day) DO NOTHING";
        Ok(Self::exec(&self.pool, sql, args![secret, day, at]).await? == 1)
    }

    async fn purge_notices(&self, day: i64) -> Result<u64, StoreError> {
        let sql = "DELETE FROM expiry_notices WHERE day < $1";
        Self::exec(&self.pool, sql, args![day]).await
    }
}
