//! Black-box tests: the real `tessera` binary, real SQLite, HTTP on loopback.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "tests fail by panicking"
)]

mod audit_pressure;
mod backup;
mod cli;
mod config;
mod dialects;
mod feed;
mod guard;
mod hardening;
mod harness;
mod hub;
mod hub_browser;
mod jwt;
mod logs;
mod manage;
mod metrics;
mod oauth;
mod postgres;
mod replay;
mod robustness;
mod tls;
mod token;
mod webhooks;

/// A copy of a client's credentials.
pub fn manage_clone(c: &harness::Client) -> harness::Client {
    harness::Client {
        tenant_id: c.tenant_id.clone(),
        client_id: c.client_id.clone(),
        secret_id: c.secret_id.clone(),
        secret: c.secret.clone(),
    }
}
