//! Wire dialects: one module per token API. Each parses its requests into core calls and renders
//! the core's answers and errors in its own shape, in one place.
//!
//! The standard endpoint ([`rfc6749`]) is always served. The provider dialects are listed once,
//! in [`REGISTRY`]: the router, the configuration (`[dialects.NAME]`), its validation and the key
//! ring's needs (the longest lifetime, the extra algorithms) all read that table, so adding a
//! dialect is its module, its line here and its tests.

pub mod banked;
pub mod basiq;
pub mod basys;
pub mod config;
pub mod ipospays;
pub mod paysecurez;
pub mod rfc6749;

pub use crate::edge::TokenRoute;
use crate::state::AppState;
use axum::Router;
use axum::routing::MethodRouter;
use config::{ConfigError, DialectsConfig};
use serde_json::Value;
use tessera_core::proto::Algorithm;
use time::Duration;

/// A provider dialect, as the router, the configuration and the key ring see it.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    /// Its name: the config section `[dialects.NAME]`.
    pub name: &'static str,
    /// Its token lifetime unless configured: the document's.
    pub default_ttl: Duration,
    /// Its routes, at the document's paths (the configured prefix is put before them). Every
    /// POST route issues tokens: the metrics count each POST's answer as a token request.
    pub routes: fn() -> Routes,
    /// The algorithm its tokens are signed with, when it is not the deployment's default.
    pub algorithm: fn(&DialectsConfig) -> Option<Algorithm>,
    /// Reads its config section: the common keys (see [`config::common_only`]) and its own.
    pub configure: fn(&mut DialectsConfig, &str, &Value) -> Result<(), ConfigError>,
    /// A ready `curl` for a token, shown in the console: from the node, the dialect's base URL
    /// (issuer and prefix) and the application's role scopes (space-separated). Client id and
    /// secret are the shell variables `$CLIENT_ID` and `$CLIENT_SECRET`, so that the page never
    /// holds a secret.
    pub example: fn(&AppState, &str, &str) -> String,
}

impl Dialect {
    /// A dialect with the common config keys only, signing with the deployment's algorithm;
    /// override the rest with struct update syntax.
    pub const fn new(
        name: &'static str,
        default_ttl_seconds: i64,
        routes: fn() -> Routes,
        example: fn(&AppState, &str, &str) -> String,
    ) -> Dialect {
        Dialect {
            name,
            default_ttl: Duration::seconds(default_ttl_seconds),
            routes,
            algorithm: |_| None,
            configure: config::common_only,
            example,
        }
    }
}

/// A dialect's routes: (path, handlers).
pub type Routes = Vec<(&'static str, MethodRouter<AppState>)>;

/// Every provider dialect, in the order their routes are merged.
pub const REGISTRY: &[Dialect] = &[
    basys::DIALECT,
    basiq::DIALECT,
    paysecurez::DIALECT,
    ipospays::DIALECT,
    banked::DIALECT,
];

/// The API key of Basiq and Banked in shell: base64 of `client_id:secret`.
pub const SHELL_API_KEY: &str = "$(printf '%s:%s' \"$CLIENT_ID\" \"$CLIENT_SECRET\" | base64 -w0)";

/// The token endpoints a console user can call: (dialect name, base URL) of the standard
/// endpoint and every enabled provider dialect.
pub fn enabled(state: &AppState) -> Vec<(&'static Dialect, String)> {
    let d = &state.config.dialects;
    REGISTRY
        .iter()
        .filter(|x| d.common(x.name).enabled)
        .map(|x| {
            let prefix = d.common(x.name).prefix.trim_end_matches('/');
            (x, format!("{}{prefix}", state.config.issuer))
        })
        .collect()
}

/// The routes of every enabled provider dialect, each under its prefix, and which dialect each
/// route belongs to (the edge layer counts the POSTs there as token requests).
pub fn routes(config: &DialectsConfig) -> (Router<AppState>, Vec<TokenRoute>) {
    let mut r = Router::new();
    let mut token_routes = Vec::new();
    for dialect in REGISTRY {
        let common = config.common(dialect.name);
        if !common.enabled {
            continue;
        }
        let prefix = common.prefix.trim_end_matches('/');
        for (path, handlers) in (dialect.routes)() {
            let path = format!("{prefix}{path}");
            r = r.route(&path, handlers);
            token_routes.push(TokenRoute {
                route: path.into(),
                dialect: dialect.name,
            });
        }
    }
    (r, token_routes)
}
