//! Wire dialects: one module per token API. Each parses its requests into core calls and renders
//! the core's answers and errors in its own shape, in one place.

pub mod banked;
pub mod basiq;
pub mod basys;
pub mod config;
pub mod ipospays;
pub mod paysecurez;
pub mod rfc6749;

use crate::state::AppState;
use axum::Router;

/// The routes of every enabled provider dialect, each under its prefix.
pub fn routes(config: &config::DialectsConfig) -> Router<AppState> {
    let mut r = Router::new();
    let mut add = |common: &config::Common, routes: Router<AppState>| {
        if !common.enabled {
            return;
        }
        let prefix = common.prefix.trim_end_matches('/');
        r = std::mem::take(&mut r).merge(if prefix.is_empty() {
            routes
        } else {
            Router::new().nest(prefix, routes)
        });
    };
    add(&config.basys, basys::routes());
    add(&config.basiq, basiq::routes());
    add(&config.paysecurez, paysecurez::routes());
    add(&config.ipospays, ipospays::routes());
    add(&config.banked, banked::routes());
    r
}
