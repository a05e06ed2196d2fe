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

use axum::extract::Request;
use axum::response::Response;
use http::HeaderValue;
use tracing::Level;

/// Where JSON request lines go when the binary installed a writer: see [`set_json_sink`].
static JSON_SINK: std::sync::OnceLock<LineSink> = std::sync::OnceLock::new();

/// Takes one finished log line.
pub type LineSink = Box<dyn Fn(&[u8]) + Send + Sync>;

thread_local! {
    // The line is formatted into a buffer each worker thread keeps, not a fresh allocation.
    static LINE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Writes JSON request lines straight to `sink` (the log writer) in the shape the tracing JSON
/// formatter gives every other line (`timestamp`, `level`, `fields`, `target`), instead of
/// through that formatter, which cost a token request about 8 µs of CPU for this one line
/// (BENCHMARKS.md). The `tessera::request` filter still decides whether a line is written.
/// Installed once, by `serve` with `log_format = "json"`.
pub fn set_json_sink(sink: LineSink) {
    let _ = JSON_SINK.set(sink);
}

struct RequestLine<'a> {
    method: &'a str,
    route: &'a str,
    status: u16,
    latency_ms: f64,
    client_id: Option<tessera_core::ids::ClientId>,
    request_id: &'a str,
}

/// `s` as a JSON string, quotes and escapes included (serde_json's own escaping).
fn json_str(out: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str("\"\""),
    }
}

impl RequestLine<'_> {
    #[allow(
        clippy::disallowed_methods,
        reason = "a log line's own timestamp, not a time the domain decides by"
    )]
    fn write_json(&self, out: &mut String) {
        use std::fmt::Write;
        let now = time::OffsetDateTime::now_utc();
        let ts = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        out.push_str("{\"timestamp\":");
        json_str(out, &ts);
        out.push_str(",\"level\":\"INFO\",\"fields\":{\"message\":\"request\",\"method\":");
        json_str(out, self.method);
        out.push_str(",\"route\":");
        json_str(out, self.route);
        let _ = write!(
            out,
            ",\"status\":{},\"latency_ms\":{:.3}",
            self.status, self.latency_ms
        );
        if let Some(c) = self.client_id {
            let _ = write!(out, ",\"client_id\":\"{c}\"");
        }
        out.push_str(",\"request_id\":");
        json_str(out, self.request_id);
        out.push_str("},\"target\":\"tessera::request\"}\n");
    }
}

/// The request id header.
pub const REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

fn well_formed(id: &[u8]) -> bool {
    (1..=128).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// The request's id: its own `X-Request-Id` when well-formed, else a fresh one.
pub(crate) fn request_id(req: &Request) -> HeaderValue {
    match req.headers().get(&REQUEST_ID) {
        Some(v) if well_formed(v.as_bytes()) => v.clone(),
        _ => {
            let mut buf = [0u8; uuid::fmt::Simple::LENGTH];
            let id = uuid::Uuid::new_v4().simple().encode_lower(&mut buf);
            HeaderValue::from_str(id).unwrap_or_else(|_| HeaderValue::from_static("-"))
        }
    }
}

/// Whether request lines are written: when not, nothing of them is built and the core's client
/// slot is not set up.
pub(crate) fn wanted() -> bool {
    tracing::enabled!(target: "tessera::request", Level::INFO)
}

/// What the line of one answered request says.
pub(crate) struct Answered<'a> {
    pub method: &'a http::Method,
    pub route: &'a str,
    pub elapsed: std::time::Duration,
    pub client: Option<tessera_core::ids::ClientId>,
    /// The dialect, when the request asked a token endpoint.
    pub token_dialect: Option<&'static str>,
}

/// Records the answered request (metrics, then its log line) and returns its id in
/// `X-Request-Id`.
pub(crate) fn finish(answered: Answered<'_>, id: HeaderValue, res: &mut Response) {
    let Answered {
        method,
        route,
        elapsed,
        client,
        token_dialect,
    } = answered;
    crate::telemetry::record_request(method, route, res.status(), elapsed, token_dialect);
    let status = res.status().as_u16();
    let request_id = id.to_str().unwrap_or("-");
    match JSON_SINK.get() {
        Some(sink) if wanted() => {
            let line = RequestLine {
                method: method.as_str(),
                route,
                status,
                latency_ms: elapsed.as_secs_f64() * 1000.0,
                client_id: client,
                request_id,
            };
            LINE.with_borrow_mut(|buf| {
                buf.clear();
                line.write_json(buf);
                sink(buf.as_bytes());
            });
        }
        _ => tracing::info!(
            target: "tessera::request",
            method = %method,
            route,
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            client_id = client.as_ref().map(tracing::field::display),
            request_id,
            "request"
        ),
    }
    res.headers_mut().insert(REQUEST_ID, id);
}

#[cfg(test)]
mod tests {
    use super::well_formed;

    #[test]
    fn json_lines_parse_and_escape() {
        let line = super::RequestLine {
            method: "POST",
            route: "/a\"b\\c\u{1}",
            status: 200,
            latency_ms: 2.5,
            client_id: Some(tessera_core::ids::ClientId::random()),
            request_id: "r-1",
        };
        let mut out = String::new();
        line.write_json(&mut out);
        assert!(out.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["fields"]["route"], "/a\"b\\c\u{1}");
        assert_eq!(v["fields"]["status"], 200);
        assert_eq!(v["fields"]["latency_ms"], 2.5);
        assert_eq!(v["target"], "tessera::request");
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn request_ids_are_kept_only_when_well_formed() {
        assert!(well_formed(b"abc-123_x.y:z"));
        assert!(!well_formed(b""));
        assert!(!well_formed(b"a b"));
        assert!(!well_formed(b"line\nbreak"));
        assert!(!well_formed(&[b'a'; 129]));
    }
}
