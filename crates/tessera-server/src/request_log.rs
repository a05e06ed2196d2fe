//! One log line per request: method, the matched route (never the raw path or query, which may
//! carry credentials), status, latency, the client id once the core has seen one, and a request
//! id that is also returned as `X-Request-Id`. An incoming `X-Request-Id` is kept when it is
//! well-formed (1–128 characters of `A–Z a–z 0–9 . _ : -`), so a proxy's id follows the request;
//! anything else is replaced, so a client cannot inject text into the logs through it.
//!
//! The line is one event with every field in it (target `tessera::request`), not an event in a
//! request span: the JSON formatter serialises a span's fields into text when the span opens
//! and parses them back for every line, which cost more than the rest of a token request's
//! logging together. The core notes the client it authenticates in a task-local slot
//! ([`tessera_core::context`]), so the line names the client without the HTTP layer parsing
//! credentials twice. When the line is filtered out (the default `warn`), nothing of it is
//! built.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;
use std::time::Instant;
use tessera_core::context::with_client_slot;
use tracing::Level;

/// The request id header.
pub const REQUEST_ID: &str = "x-request-id";

fn well_formed(id: &[u8]) -> bool {
    (1..=128).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Logs the request when it is answered.
pub async fn log_request(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = match req.headers().get(REQUEST_ID) {
        Some(v) if well_formed(v.as_bytes()) => v.clone(),
        _ => {
            let mut buf = [0u8; uuid::fmt::Simple::LENGTH];
            let id = uuid::Uuid::new_v4().simple().encode_lower(&mut buf);
            HeaderValue::from_str(id).unwrap_or_else(|_| HeaderValue::from_static("-"))
        }
    };
    // A clone of the matched path shares its string; the request moves on below.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("(no route)", MatchedPath::as_str);
    let method = req.method().clone();
    let (mut res, client) = if tracing::enabled!(target: "tessera::request", Level::INFO) {
        with_client_slot(next.run(req)).await
    } else {
        (next.run(req).await, None)
    };
    let elapsed = start.elapsed();
    crate::telemetry::record_request(&method, route, res.status(), elapsed);
    tracing::info!(
        target: "tessera::request",
        method = %method,
        route,
        status = res.status().as_u16(),
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        client_id = client.as_ref().map(tracing::field::display),
        request_id = id.to_str().unwrap_or("-"),
        "request"
    );
    res.headers_mut().insert(REQUEST_ID, id);
    res
}

#[cfg(test)]
mod tests {
    use super::well_formed;

    #[test]
    fn request_ids_are_kept_only_when_well_formed() {
        assert!(well_formed(b"abc-123_x.y:z"));
        assert!(!well_formed(b""));
        assert!(!well_formed(b"a b"));
        assert!(!well_formed(b"line\nbreak"));
        assert!(!well_formed(&[b'a'; 129]));
    }
}
