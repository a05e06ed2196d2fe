//! Every HTTP entry point that reads untrusted bytes, through the real router of one node (on a
//! fresh SQLite file, built once): the token endpoints of all six dialects, iPOSpays refresh,
//! introspection, revocation, and the management API. The first byte picks the route, the
//! second the content type; the rest is an `Authorization` value and a body, split at the first
//! 0xFF. A client's bytes must never make the server answer 5xx or panic.
#![no_main]

use axum::body::Body;
use axum::extract::ConnectInfo;
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use tessera_core::clock::SystemClock;
use tessera_core::master::MasterKey;
use tessera_core::proto::Algorithm;
use tessera_core::role::RoleCatalog;
use tessera_server::{AppState, NodeConfig};
use tower::ServiceExt;

const ROUTES: &[(&str, &str)] = &[
    ("POST", "/oauth2/token"),
    ("POST", "/oauth2/introspect"),
    ("POST", "/oauth2/revoke"),
    ("POST", "/oauth2/v2.0/token"),
    ("POST", "/token"),
    ("POST", "/api/token"),
    ("POST", "/v1/authenticate-token"),
    ("POST", "/v1/refresh-token"),
    ("POST", "/oauth/token"),
    ("GET", "/business_applications"),
    ("POST", "/management/v1/tenants"),
    ("GET", "/management/v1/audit?since=x&limit=y"),
    ("GET", "/oauth2/revocations?since=-1&wait=0"),
];

const TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded; charset=utf-8",
];

static NODE: LazyLock<(tokio::runtime::Runtime, axum::Router)> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = std::env::temp_dir().join(format!("tessera-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let router = rt.block_on(async {
        let url = format!("sqlite://{}/fuzz.db", dir.display());
        let store = Arc::new(
            tessera_store_sqlite::SqliteStore::open(&url)
                .await
                .expect("store"),
        );
        let master = MasterKey::generate().expect("master key");
        let config = NodeConfig {
            issuer: "http://127.0.0.1:8080".into(),
            default_audience: None,
            management_audience: None,
            token_ttl: time::Duration::hours(1),
            alg: Algorithm::Es256,
            max_token_ttl: time::Duration::days(1),
            rotation_delay: time::Duration::hours(1),
            rotation_interval: None,
            refresh_interval: std::time::Duration::from_millis(250),
            dialects: Default::default(),
            // Off: every input comes from one address, and the failure budget would otherwise
            // turn the rest of the run into 429s (the throttle has its own tests).
            limits: tessera_server::limits::Limits {
                throttle: tessera_server::limits::ThrottleConfig {
                    per_client_address: 0,
                    per_address: 0,
                    revocations_per_minute_per_client: 0,
                    ..Default::default()
                },
                ..Default::default()
            },
            audit_retention: None,
            metrics: tessera_server::telemetry::MetricsSettings {
                enabled: false,
                own_listener: false,
            },
            expiry_warning: time::Duration::days(14),
            webhooks: Default::default(),
        };
        let state = AppState::start(
            store,
            &master,
            Arc::new(RoleCatalog::default()),
            Arc::new(SystemClock),
            config,
        )
        .await
        .expect("node");
        tessera_server::router(state)
    });
    (rt, router)
});

fuzz_target!(|data: &[u8]| {
    let [route, ctype, rest @ ..] = data else {
        return;
    };
    let (method, path) = ROUTES[usize::from(*route) % ROUTES.len()];
    let (auth, body) = match rest.iter().position(|&b| b == 0xFF) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&[][..], rest),
    };
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", TYPES[usize::from(*ctype) % TYPES.len()]);
    if let Ok(v) = http::HeaderValue::from_bytes(auth) {
        if !auth.is_empty() {
            req = req.header("authorization", v);
        }
    }
    let Ok(mut req) = req.body(Body::from(body.to_vec())) else {
        return;
    };
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let (rt, router) = &*NODE;
    let res = rt
        .block_on(router.clone().oneshot(req))
        .expect("the router is infallible");
    assert!(
        !res.status().is_server_error(),
        "{method} {path} answered {} to client bytes",
        res.status()
    );
});
