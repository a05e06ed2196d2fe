//! Webhooks and the daily expiry notices. Plain statements on the pool: not part of the change
//! feed.

use crate::rows::{parse, time, ts};
use crate::{Engine, SqlStore, map_err};
use async_trait::async_trait;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, FromRow, IntoArguments, Type};
use tessera_core::ids::{SecretId, TenantId};
use tessera_core::store::{StoreError, WebhookStore};
use tessera_core::webhooks::{StoredWebhook, Webhook};
use time::OffsetDateTime;

#[derive(FromRow)]
struct WebhookRow {
    tenant_id: String,
    url: String,
    sealed_secret: Vec<u8>,
    created_at: i64,
}

#[async_trait]
impl<E: Engine> WebhookStore for SqlStore<E>
where
    for<'c> &'c mut <E::Db as Database>::Connection: Executor<'c, Database = E::Db>,
    for<'q> <E::Db as Database>::Arguments<'q>: IntoArguments<'q, E::Db>,
    for<'r> &'r str: ColumnIndex<<E::Db as Database>::Row>,
    for<'q> String: Encode<'q, E::Db> + Decode<'q, E::Db> + Type<E::Db>,
    for<'q> i64: Encode<'q, E::Db> + Decode<'q, E::Db> + Type<E::Db>,
    for<'q> Vec<u8>: Encode<'q, E::Db> + Decode<'q, E::Db> + Type<E::Db>,
{
    async fn put_webhook(&self, w: &StoredWebhook) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webhooks (tenant_id, url, sealed_secret, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id) DO UPDATE SET
                 url = excluded.url, sealed_secret = excluded.sealed_secret,
                 created_at = excluded.created_at",
        )
        .bind(w.webhook.tenant_id.to_string())
        .bind(w.webhook.url.clone())
        .bind(w.sealed_secret.clone())
        .bind(ts(w.webhook.created_at))
        .execute(&self.pool)
        .await
        .map_err(map_err::<E>)?;
        Ok(())
    }

    async fn get_webhook(&self, tenant: TenantId) -> Result<Option<StoredWebhook>, StoreError> {
        let row: Option<WebhookRow> = sqlx::query_as(
            "SELECT tenant_id, url, sealed_secret, created_at FROM webhooks WHERE tenant_id = $1",
        )
        .bind(tenant.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err::<E>)?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(StoredWebhook {
            webhook: Webhook {
                tenant_id: parse("tenant id", &r.tenant_id)?,
                url: r.url,
                created_at: time(r.created_at)?,
            },
            sealed_secret: r.sealed_secret,
        }))
    }

    async fn delete_webhook(&self, tenant: TenantId) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM webhooks WHERE tenant_id = $1")
            .bind(tenant.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_err::<E>)?;
        if E::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn claim_notice(
        &self,
        secret: SecretId,
        day: i64,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // The primary key decides: one insert succeeds, the others change nothing.
        let done = sqlx::query(
            "INSERT INTO expiry_notices (secret_id, day, claimed_at) VALUES ($1, $2, $3)
             ON CONFLICT (secret_id, day) DO NOTHING",
        )
        .bind(secret.to_string())
        .bind(day)
        .bind(ts(at))
        .execute(&self.pool)
        .await
        .map_err(map_err::<E>)?;
        Ok(E::rows_affected(&done) == 1)
    }

    async fn purge_notices(&self, day: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM expiry_notices WHERE day < $1")
            .bind(day)
            .execute(&self.pool)
            .await
            .map_err(map_err::<E>)?;
        Ok(E::rows_affected(&done))
    }
}
