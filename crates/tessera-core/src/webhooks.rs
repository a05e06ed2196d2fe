//! Secret-expiry webhooks: a tenant registers one URL, and each day that one of its secrets is
//! within the warning window tessera POSTs a notice there, signed per the Standard Webhooks
//! specification (<https://www.standardwebhooks.com>): HMAC-SHA256 over
//! `{webhook-id}.{webhook-timestamp}.{body}` with the endpoint's secret, sent as
//! `webhook-signature: v1,<base64>`.
//!
//! The signing secret must be recoverable to sign, so unlike client secrets it is not a digest:
//! it is sealed with a key derived from the master key, shown once when the webhook is set, and
//! opened only to sign. "Once a day per secret, across all nodes" is the database's decision:
//! the node whose insert of (secret, day) into the notice table succeeds sends it.

use crate::admin::{ActingAdmin, Admin, not_found};
use crate::error::CoreError;
use crate::ids::TenantId;
use crate::master::KeyCipher;
use crate::model::SecretMeta;
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;
use time::OffsetDateTime;

/// A tenant's webhook, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    /// The tenant.
    pub tenant_id: TenantId,
    /// Where notices go.
    pub url: String,
    /// When it was set.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A webhook as the store keeps it.
#[derive(Clone)]
pub struct StoredWebhook {
    /// The webhook.
    pub webhook: Webhook,
    /// Its signing secret, sealed under the webhook key.
    pub sealed_secret: Vec<u8>,
}

impl fmt::Debug for StoredWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredWebhook")
            .field("webhook", &self.webhook)
            .finish_non_exhaustive()
    }
}

/// A Standard Webhooks signing secret: `whsec_` and the base64 of 32 random bytes. Never printed
/// by `Debug`.
#[derive(Clone)]
pub struct WebhookSecret(String);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    fn generate() -> Result<WebhookSecret, CoreError> {
        let mut b = [0u8; 32];
        aws_lc_rs::rand::fill(&mut b).map_err(|_| CoreError::Random)?;
        Ok(WebhookSecret(format!("whsec_{}", STANDARD.encode(b))))
    }

    /// The value, to show once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The HMAC key: the base64 after the prefix.
    fn key(&self) -> Option<Vec<u8>> {
        STANDARD.decode(self.0.strip_prefix("whsec_")?).ok()
    }

    /// The `webhook-signature` header for a message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.key()?);
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(format!("{id}.{timestamp}.").as_bytes());
        ctx.update(body);
        Some(format!("v1,{}", STANDARD.encode(ctx.sign().as_ref())))
    }
}

/// Whether notices may go to this address: never to loopback, private, link-local, unique-local,
/// unspecified, multicast or documentation ranges unless the operator allows private
/// destinations (a webhook URL is the tenant's to choose: without this, it could make tessera
/// call the internal network, SSRF).
pub fn public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_address(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

/// Checks a webhook URL: `https`, or `http` when private destinations are allowed (a local
/// receiver in development); a host; no credentials or fragment; at most 2,000 bytes.
pub fn check_url(raw: &str, allow_private: bool) -> Result<String, CoreError> {
    let bad = |why: &str| CoreError::Invalid(format!("the webhook URL {why}"));
    if raw.len() > 2_000 {
        return Err(bad("is longer than 2000 bytes"));
    }
    let url = url::Url::parse(raw.trim()).map_err(|_| bad("is not a valid URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(bad("must be https")),
    }
    if url.host().is_none() {
        return Err(bad("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(bad("must not contain credentials or a fragment"));
    }
    if !allow_private {
        let literal = match url.host() {
            Some(url::Host::Ipv4(a)) => Some(IpAddr::V4(a)),
            Some(url::Host::Ipv6(a)) => Some(IpAddr::V6(a)),
            _ => None,
        };
        if literal.is_some_and(|ip| !public_address(ip)) || url.host_str() == Some("localhost") {
            return Err(bad("points to a private or local address"));
        }
    }
    Ok(url.to_string())
}

/// The notice for one expiring secret, and its Standard Webhooks message id (stable for the
/// secret and day, so a receiver can drop a retried duplicate).
pub fn notice(
    tenant: TenantId,
    secret: &SecretMeta,
    day: i64,
    now: OffsetDateTime,
) -> (String, serde_json::Value) {
    let rfc3339 = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let id = format!("msg_{}_{day}", secret.id.as_uuid().simple());
    let body = serde_json::json!({
        "type": "secret.expiring",
        "timestamp": rfc3339(now),
        "data": {
            "tenant_id": tenant,
            "client_id": secret.client_id,
            "secret_id": secret.id,
            "secret_name": secret.name,
            "expires_at": rfc3339(secret.expires_at),
            "days_left": (secret.expires_at - now).whole_days(),
        },
    });
    (id, body)
}

/// The day number (days since 1970, UTC) of `t`: the unit of "once a day".
pub fn day_of(t: OffsetDateTime) -> i64 {
    t.unix_timestamp().div_euclid(86_400)
}

impl Admin {
    /// A tenant's webhook, if it has one.
    pub async fn webhook(&self, tenant: TenantId) -> Result<Option<Webhook>, CoreError> {
        Ok(self.store.get_webhook(tenant).await?.map(|w| w.webhook))
    }

    /// A tenant's webhook with its secret opened, to sign a notice.
    pub async fn webhook_for_sending(
        &self,
        tenant: TenantId,
        cipher: &KeyCipher,
    ) -> Result<Option<(Webhook, WebhookSecret)>, CoreError> {
        let Some(w) = self.store.get_webhook(tenant).await? else {
            return Ok(None);
        };
        let plain = cipher
            .open(&aad(tenant), &w.sealed_secret)
            .map_err(|_| CoreError::Invalid("a webhook secret cannot be opened".into()))?;
        let secret = String::from_utf8(plain)
            .map_err(|_| CoreError::Invalid("a webhook secret is corrupt".into()))?;
        Ok(Some((w.webhook, WebhookSecret(secret))))
    }

    /// Claims the notice of `secret` for `day`: true for exactly one caller across all nodes.
    pub async fn claim_notice(
        &self,
        secret: crate::ids::SecretId,
        day: i64,
    ) -> Result<bool, CoreError> {
        Ok(self
            .store
            .claim_notice(secret, day, self.clock.now())
            .await?)
    }
}

fn aad(tenant: TenantId) -> String {
    format!("webhook/{tenant}")
}

impl ActingAdmin {
    /// Sets (or replaces) a live tenant's webhook with a new signing secret, returned to show
    /// once. Audited as `webhook.set`.
    pub async fn set_webhook(
        &self,
        tenant: TenantId,
        url: &str,
        allow_private: bool,
        cipher: &KeyCipher,
    ) -> Result<(Webhook, WebhookSecret), CoreError> {
        let r = async {
            let url = check_url(url, allow_private)?;
            let t = self.get_tenant(tenant).await?;
            if t.status == crate::model::TenantStatus::Deleted {
                return Err(CoreError::NotFound("tenant"));
            }
            let secret = WebhookSecret::generate()?;
            let sealed = cipher
                .seal(&aad(tenant), secret.expose().as_bytes())
                .map_err(|_| CoreError::Random)?;
            let webhook = Webhook {
                tenant_id: tenant,
                url,
                created_at: self.clock.now(),
            };
            self.store
                .put_webhook(&StoredWebhook {
                    webhook: webhook.clone(),
                    sealed_secret: sealed,
                })
                .await?;
            Ok((webhook, secret))
        }
        .await;
        self.record("webhook.set", Some(tenant), Some(tenant.to_string()), &r);
        r
    }

    /// Removes a tenant's webhook. Audited as `webhook.delete`.
    pub async fn delete_webhook(&self, tenant: TenantId) -> Result<(), CoreError> {
        let r = self
            .store
            .delete_webhook(tenant)
            .await
            .map_err(not_found("webhook"));
        self.record("webhook.delete", Some(tenant), Some(tenant.to_string()), &r);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The specification's example (standard-webhooks/spec, "Verifying signatures").
        let s = WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        let sig = s
            .sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#,
            )
            .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        for bad in [
            "http://hooks.example.com/x",
            "https://127.0.0.1/x",
            "https://10.1.2.3/",
            "https://[::1]/",
            "https://localhost/",
            "https://user:pw@hooks.example.com/",
            "ftp://x.example/",
            "not a url",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:9/x", true).is_ok());
        assert!(public_address("8.8.8.8".parse().unwrap()));
        for ip in [
            "169.254.169.254",
            "100.64.0.1",
            "::ffff:10.0.0.1",
            "fd00::1",
            "fe80::1",
            "0.0.0.0",
        ] {
            assert!(!public_address(ip.parse().unwrap()), "{ip}");
        }
    }
}
