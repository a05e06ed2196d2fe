//! Sends the secret-expiry notices (see `tessera_core::webhooks`): every
//! [`WebhookSettings::interval`], each secret of a live application that expires within the
//! warning window and whose tenant has a webhook gets one notice per day, claimed in the
//! database so that one node sends it, then POSTed with retries and backoff.
//!
//! The HTTP client is hyper with rustls (the aws-lc-rs provider the server already uses, the
//! Mozilla roots). Its resolver drops private, loopback and link-local addresses unless the
//! operator allows them, and the connection goes to an address that passed the check, so a
//! tenant cannot point tessera at the internal network, even through DNS.

use crate::state::AppState;
use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tessera_core::webhooks::{day_of, notice, public_address};

/// Webhook settings of a node.
#[derive(Debug, Clone, Copy)]
pub struct WebhookSettings {
    /// Whether webhook URLs may name private, loopback or link-local destinations (and plain
    /// http). Off by default; for a receiver inside the operator's network.
    pub allow_private: bool,
    /// How often expiring secrets are looked for.
    pub interval: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow_private: false,
            interval: Duration::from_secs(3_600),
        }
    }
}

/// Attempts per notice, and the wait before the first retry (doubled each time).
const ATTEMPTS: u32 = 5;
const FIRST_RETRY: Duration = Duration::from_secs(2);
/// Notice rows older than this many days are forgotten.
const KEEP_DAYS: i64 = 30;

/// A resolver that keeps only addresses notices may go to.
#[derive(Clone)]
struct Guarded {
    allow_private: bool,
}

impl tower::Service<Name> for Guarded {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allow = self.allow_private;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| allow || public_address(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(std::io::Error::other(
                    "the webhook host resolves to no address notices may go to",
                ));
            }
            Ok(addrs.into_iter())
        })
    }
}

type HookClient = Client<hyper_rustls::HttpsConnector<HttpConnector<Guarded>>, Full<Bytes>>;

fn client(allow_private: bool) -> Result<HookClient, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut http = HttpConnector::new_with_resolver(Guarded { allow_private });
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// POSTs one notice; a 2xx answer is delivery.
async fn post(
    client: &HookClient,
    url: &str,
    headers: [(&str, String); 3],
    body: Bytes,
) -> Result<(), String> {
    let mut req = Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, "tessera-webhooks");
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
    let res = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    let status = res.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("answered {}", status.as_u16()))
    }
}

/// Looks for expiring secrets and sends their notices, until the node stops.
pub async fn run(state: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let settings = state.config.webhooks;
    let client = match client(settings.allow_private) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client; no expiry notices will be sent");
            return;
        }
    };
    crate::background::every(settings.interval, &mut shutdown, || {
        let state = state.clone();
        let client = client.clone();
        async move { round(&state, &client).await }
    })
    .await;
}

async fn round(state: &AppState, client: &HookClient) {
    let expiring = match state
        .admin
        .expiring(state.config.expiry_warning, None)
        .await
    {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list expiring secrets for webhooks");
            return;
        }
    };
    let now = state.clock.now();
    let day = day_of(now);
    let mut hooks = std::collections::HashMap::new();
    for (tenant, secret) in expiring {
        if let std::collections::hash_map::Entry::Vacant(slot) = hooks.entry(tenant) {
            let hook = state
                .admin
                .webhook_for_sending(tenant, &state.webhook_cipher)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, %tenant, "cannot read a tenant's webhook");
                    None
                });
            slot.insert(hook);
        }
        let Some(Some((hook, key))) = hooks.get(&tenant) else {
            continue;
        };
        match state.admin.claim_notice(secret.id, day).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim an expiry notice");
                continue;
            }
        }
        let (id, body) = notice(tenant, &secret, day, now);
        let body = Bytes::from(body.to_string());
        let mut wait = FIRST_RETRY;
        for attempt in 1..=ATTEMPTS {
            // A fresh timestamp per attempt: receivers refuse old ones (replay protection).
            let ts = state.clock.now().unix_timestamp();
            let Some(signature) = key.sign(&id, ts, &body) else {
                tracing::warn!(%tenant, "a webhook secret is malformed");
                break;
            };
            let headers = [
                ("webhook-id", id.clone()),
                ("webhook-timestamp", ts.to_string()),
                ("webhook-signature", signature),
            ];
            match post(client, &hook.url, headers, body.clone()).await {
                Ok(()) => {
                    tracing::info!(%tenant, secret_id = %secret.id, "expiry notice delivered");
                    break;
                }
                Err(e) if attempt < ATTEMPTS => {
                    tracing::info!(%tenant, attempt, error = %e, "expiry notice not delivered; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(e) => {
                    tracing::warn!(%tenant, secret_id = %secret.id, error = %e, "expiry notice not delivered after {ATTEMPTS} attempts");
                }
            }
        }
    }
    if let Err(e) = state.store.purge_notices(day - KEEP_DAYS).await {
        tracing::warn!(error = %e, "cannot forget old expiry notices");
    }
}
