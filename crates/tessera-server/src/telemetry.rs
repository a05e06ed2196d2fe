//! Prometheus metrics at `GET /metrics`, on the main listener or on a listener of their own.
//!
//! Recording goes through the `metrics` facade (the core counts authentication failures with it,
//! without knowing who exports them); this module installs the Prometheus recorder of
//! `metrics-exporter-prometheus` once per process, counts requests and token outcomes in the HTTP
//! layer, and sets the gauges that describe the node's state when scraped or every
//! [`SAMPLE_EVERY`].
//!
//! Every label has a bounded set of values: routes are the router's templates (never a raw
//! path), methods outside the standard ones are `other`, statuses are the server's own, dialects
//! and failure reasons are fixed names. No client id, secret or token is ever a label.

use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode, header};
use metrics::{Counter, Histogram, counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::{LazyLock, RwLock};
use std::time::{Duration, Instant};
use tessera_core::keys::KeyPhase;
use tessera_core::proto::Algorithm;

/// Histogram buckets of every `*_seconds` metric: 100 µs to 10 s. A token is answered in about
/// a millisecond under load; a long-poll of the revocation feed takes up to 30 s (+Inf).
const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// How often the directory-wide gauges are recomputed (a walk over every application) and the
/// histograms' pending samples are folded in.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(15);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// `[metrics]` as a node uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsSettings {
    /// Record and serve metrics (default on).
    pub enabled: bool,
    /// `/metrics` is served on a listener of its own (`[metrics] listen`), not on the main one.
    pub own_listener: bool,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            enabled: true,
            own_listener: false,
        }
    }
}

/// Installs the process-wide Prometheus recorder (once; later calls reuse it). Returns `false`
/// if another recorder was installed first, in which case `/metrics` answers 404.
pub fn install() -> bool {
    if HANDLE.get().is_some() {
        return true;
    }
    let builder = match PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
    {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "cannot configure the metrics recorder");
            return false;
        }
    };
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        return false;
    }
    describe();
    HANDLE.set(handle).is_ok()
}

/// Whether metrics are being recorded: when not, the request path skips building labels.
pub fn enabled() -> bool {
    HANDLE.get().is_some()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "tessera_http_requests_total",
        "HTTP requests answered, by method, matched route and status"
    );
    describe_histogram!(
        "tessera_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by method and matched route"
    );
    describe_counter!(
        "tessera_http_throttled_total",
        "Requests answered 429 Too Many Requests (failed-attempt budget or rate limit), by route"
    );
    describe_counter!(
        "tessera_token_requests_total",
        "Token requests by dialect and outcome (issued, refused, throttled, error)"
    );
    describe_counter!(
        "tessera_authentication_failures_total",
        "Failed client authentications (token endpoints, introspection, revocation, management), by reason"
    );
    describe_gauge!(
        "tessera_secrets_expiring",
        "Live secrets of live applications that expire within [expiry] warning_days"
    );
    describe_gauge!(
        "tessera_signing_keys",
        "Signing keys by algorithm and phase (next, current, previous, retired)"
    );
    describe_gauge!(
        "tessera_signing_key_age_seconds",
        "Seconds since the oldest key of this algorithm and phase activated (negative: activates in that long; 0: none)"
    );
    describe_gauge!(
        "tessera_directory_entries",
        "Entries in this node's in-memory directory, tombstones included, by kind"
    );
    describe_gauge!(
        "tessera_directory_change_seq",
        "The database change counter this node has applied; compare across nodes"
    );
    describe_gauge!(
        "tessera_directory_refreshed_timestamp_seconds",
        "When this node last confirmed its directory current (Unix time): changes made elsewhere are in effect here when older than this"
    );
    describe_histogram!(
        "tessera_store_operation_duration_seconds",
        metrics::Unit::Seconds,
        "Database operations of the background tasks, by operation"
    );
    describe_counter!(
        "tessera_store_operation_errors_total",
        "Failed database operations of the background tasks, by operation"
    );
    describe_gauge!(
        "tessera_audit_backlog_events",
        "Audit events held in memory, waiting to be appended"
    );
    describe_counter!(
        "tessera_audit_dropped_events_total",
        "Audit events dropped because the in-memory buffer was full"
    );
}

/// A method as a label: the standard ones by name, anything else `other` (hyper accepts any
/// token as a method, and each would otherwise become a series).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The handles of one route's series. The `metrics` macros build a key (label vector, owned
/// strings) and look it up in the registry at every call; on the token path that was a
/// measurable share of a request, so each series is looked up once and its handle kept. The
/// labels are bounded (see the module comment), and so is this cache.
#[derive(Default)]
struct RouteSeries {
    requests: Vec<(&'static str, StatusCode, Counter)>,
    durations: Vec<(&'static str, Histogram)>,
    throttled: Option<Counter>,
    /// Token requests by outcome, on a token route (its dialect is the route's own).
    tokens: Vec<(&'static str, Counter)>,
}

/// A token request's outcome, from its answer's status.
fn token_outcome(status: StatusCode) -> &'static str {
    if status.is_success() {
        "issued"
    } else if status == StatusCode::TOO_MANY_REQUESTS {
        "throttled"
    } else if status.is_server_error() {
        "error"
    } else {
        "refused"
    }
}

static ROUTES: LazyLock<RwLock<HashMap<Box<str>, RouteSeries>>> = LazyLock::new(Default::default);

impl RouteSeries {
    /// Counts and times a request (and the token request it is, if `token`) if this route has
    /// its handles; `false` when one is missing.
    fn record(&self, a: &Answer, token: bool) -> bool {
        let Answer {
            method,
            status,
            elapsed,
        } = *a;
        let counter = self
            .requests
            .iter()
            .find(|(m, s, _)| *m == method && *s == status);
        let histogram = self.durations.iter().find(|(m, _)| *m == method);
        let throttled = status != StatusCode::TOO_MANY_REQUESTS || self.throttled.is_some();
        let tokens = if token {
            let outcome = token_outcome(status);
            match self.tokens.iter().find(|(o, _)| *o == outcome) {
                Some((_, c)) => Some(c),
                None => return false,
            }
        } else {
            None
        };
        let (Some((.., c)), Some((_, h)), true) = (counter, histogram, throttled) else {
            return false;
        };
        c.increment(1);
        h.record(elapsed);
        if let Some(t) = tokens {
            t.increment(1);
        }
        if let Some(t) = self
            .throttled
            .as_ref()
            .filter(|_| status == StatusCode::TOO_MANY_REQUESTS)
        {
            t.increment(1);
        }
        true
    }

    /// Registers what [`RouteSeries::record`] lacked.
    fn register(&mut self, route: &str, a: &Answer, token_dialect: Option<&'static str>) {
        let Answer { method, status, .. } = *a;
        if let Some(dialect) = token_dialect {
            let outcome = token_outcome(status);
            if !self.tokens.iter().any(|(o, _)| *o == outcome) {
                let c = counter!(
                    "tessera_token_requests_total",
                    "dialect" => dialect,
                    "outcome" => outcome
                );
                self.tokens.push((outcome, c));
            }
        }
        if !self
            .requests
            .iter()
            .any(|(m, s, _)| *m == method && *s == status)
        {
            let c = counter!(
                "tessera_http_requests_total",
                "method" => method,
                "route" => route.to_owned(),
                "status" => status.as_str().to_owned()
            );
            self.requests.push((method, status, c));
        }
        if !self.durations.iter().any(|(m, _)| *m == method) {
            let h = histogram!(
                "tessera_http_request_duration_seconds",
                "method" => method,
                "route" => route.to_owned()
            );
            self.durations.push((method, h));
        }
        if status == StatusCode::TOO_MANY_REQUESTS && self.throttled.is_none() {
            self.throttled =
                Some(counter!("tessera_http_throttled_total", "route" => route.to_owned()));
        }
    }
}

/// One answered request, as the metrics see it.
#[derive(Clone, Copy)]
struct Answer {
    method: &'static str,
    status: StatusCode,
    elapsed: Duration,
}

/// Counts and times one answered request (called by the edge layer, which has the route), and
/// counts it as a token request of `token_dialect` when it asked a token endpoint.
pub fn record_request(
    method: &Method,
    route: &str,
    status: StatusCode,
    elapsed: Duration,
    token_dialect: Option<&'static str>,
) {
    if !enabled() {
        return;
    }
    let a = Answer {
        method: method_label(method),
        status,
        elapsed,
    };
    let token = token_dialect.is_some();
    {
        let routes = ROUTES.read().unwrap_or_else(|e| e.into_inner());
        if routes.get(route).is_some_and(|r| r.record(&a, token)) {
            return;
        }
    }
    let mut routes = ROUTES.write().unwrap_or_else(|e| e.into_inner());
    let series = routes.entry(route.into()).or_default();
    series.register(route, &a, token_dialect);
    series.record(&a, token);
}

/// Times a database operation of the background tasks.
pub async fn timed_store<T, E>(
    operation: &'static str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let start = Instant::now();
    let r = f.await;
    observe_store(operation, start, r.is_err());
    r
}

/// Times a flush of pending writes, when it wrote something (a flush with nothing pending does
/// not reach the database and would only dilute the histogram).
pub async fn timed_flush<E>(
    operation: &'static str,
    f: impl std::future::Future<Output = Result<usize, E>>,
) -> Result<usize, E> {
    let start = Instant::now();
    let r = f.await;
    if !matches!(r, Ok(0)) {
        observe_store(operation, start, r.is_err());
    }
    r
}

fn observe_store(operation: &'static str, start: Instant, failed: bool) {
    histogram!("tessera_store_operation_duration_seconds", "operation" => operation)
        .record(start.elapsed());
    if failed {
        counter!("tessera_store_operation_errors_total", "operation" => operation).increment(1);
    }
}

/// Notes that the directory was confirmed current.
pub fn directory_refreshed(state: &AppState) {
    gauge!("tessera_directory_change_seq").set(state.directory.seq() as f64);
    gauge!("tessera_directory_refreshed_timestamp_seconds")
        .set(state.clock.now().unix_timestamp() as f64);
}

/// The directory's gauges: every [`SAMPLE_EVERY`], not per scrape. They are counts the directory
/// keeps (the expiring ones a range over distinct expiry times under its read lock), cheap but
/// not free, and an unauthenticated scraper must not be able to take that lock in a loop.
pub fn sample_directory(state: &AppState) {
    let now = state.clock.now();
    let stats = state
        .directory
        .stats(now, now + state.config.expiry_warning);
    gauge!("tessera_directory_entries", "kind" => "tenants").set(stats.tenants as f64);
    gauge!("tessera_directory_entries", "kind" => "applications").set(stats.applications as f64);
    gauge!("tessera_directory_entries", "kind" => "secrets").set(stats.secrets as f64);
    gauge!("tessera_secrets_expiring").set(stats.expiring as f64);
    if let Some(h) = HANDLE.get() {
        h.run_upkeep();
    }
}

/// The cheap gauges, set at each scrape.
fn sample_cheap(state: &AppState) {
    let now = state.clock.now();
    let keys = state.keyring.snapshot();
    let phases = keys.phases(now, state.keyring.max_token_ttl());
    for alg in Algorithm::ALL {
        for phase in [
            KeyPhase::Next,
            KeyPhase::Current,
            KeyPhase::Previous,
            KeyPhase::Retired,
        ] {
            let of_phase = phases.iter().filter(|(k, p)| k.alg() == alg && *p == phase);
            let count = of_phase.clone().count();
            let age = of_phase
                .map(|(k, _)| (now - k.activates_at()).whole_seconds())
                .max()
                .unwrap_or(0);
            let phase = phase_label(phase);
            gauge!("tessera_signing_keys", "alg" => alg.as_str(), "phase" => phase)
                .set(count as f64);
            gauge!("tessera_signing_key_age_seconds", "alg" => alg.as_str(), "phase" => phase)
                .set(age as f64);
        }
    }
    gauge!("tessera_audit_backlog_events").set(state.audit.len() as f64);
    counter!("tessera_audit_dropped_events_total").absolute(state.audit.dropped());
}

fn phase_label(p: KeyPhase) -> &'static str {
    match p {
        KeyPhase::Next => "next",
        KeyPhase::Current => "current",
        KeyPhase::Previous => "previous",
        KeyPhase::Retired => "retired",
    }
}

/// `GET /metrics`: the Prometheus text exposition format.
pub async fn scrape(State(state): State<AppState>) -> Response {
    let Some(handle) = HANDLE.get() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    sample_cheap(&state);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// A router with `/metrics` alone, for a listener of its own.
pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::method_label;
    use http::Method;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::POST), "POST");
        let odd = Method::from_bytes(b"BREW").unwrap_or(Method::GET);
        assert_eq!(method_label(&odd), "other");
    }
}
