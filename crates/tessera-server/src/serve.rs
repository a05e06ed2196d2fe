//! The connection loop: hyper's HTTP/1.1 server with limits axum's `serve` does not expose (the
//! size of a request head, the time to send it), and graceful shutdown.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Largest request head (request line and headers). hyper answers 431 beyond it.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Caps on open connections: each costs a task, buffers and a file descriptor, and without a
/// cap one client could hold them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections overall; at the cap, new ones wait in the listen backlog.
    pub max_total: usize,
    /// Open connections from one address (0: no cap). Past it, a new connection is closed at
    /// once. Behind a load balancer every connection comes from it: raise or disable this there.
    pub max_per_address: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_total: 10_000,
            max_per_address: 500,
        }
    }
}

/// Open connections per address. The entry goes when its last connection closes, so the map
/// holds at most `max_total` addresses.
#[derive(Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

/// One open connection of an address; dropping it releases the slot.
struct AddressSlot(Arc<PerAddress>, IpAddr);

impl PerAddress {
    fn acquire(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<AddressSlot> {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(ip).or_insert(0);
        if max > 0 && *n >= max {
            if *n == 0 {
                m.remove(&ip);
            }
            return None;
        }
        *n += 1;
        Some(AddressSlot(self.clone(), ip))
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut m = (self.0).0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.1);
            }
        }
    }
}

/// Where each new connection gets its router.
pub trait AppSource {
    /// The router for a connection accepted now.
    fn current(&self) -> Router;
}

impl AppSource for Router {
    fn current(&self) -> Router {
        self.clone()
    }
}

/// A node that is still loading: connections accepted before [`Loading::ready`] get
/// [`loading_router`] (its answers close the connection, so that the client comes back on a
/// new one), later ones the node's router. Chosen per connection, so that nothing is added to
/// a request once the node runs.
#[derive(Clone)]
pub struct Loading {
    slot: Arc<std::sync::OnceLock<Router>>,
    loading: Router,
}

impl Default for Loading {
    fn default() -> Self {
        Loading {
            slot: Arc::default(),
            loading: loading_router(),
        }
    }
}

impl Loading {
    /// From now on, new connections get `app`.
    pub fn ready(&self, app: Router) {
        let _ = self.slot.set(app);
    }
}

impl AppSource for Loading {
    fn current(&self) -> Router {
        self.slot.get().unwrap_or(&self.loading).clone()
    }
}

/// What a loading node answers: `/healthz` 200 (the process is alive), everything else
/// (`/readyz` included) 503 with `Retry-After: 1`, so that a load balancer sends no token
/// requests to a node that would refuse clients it has not loaded yet.
pub fn loading_router() -> Router {
    use axum::response::IntoResponse;
    use axum::routing::get;
    let close = |mut res: axum::response::Response| {
        res.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
        res
    };
    Router::new()
        .route(
            "/healthz",
            get(move || async move {
                close(axum::Json(serde_json::json!({"status": "ok"})).into_response())
            }),
        )
        .fallback(move || async move {
            let mut res = (
                http::StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({
                    "status": "loading",
                    "reason": "the node is loading its directory",
                })),
            )
                .into_response();
            res.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("1"),
            );
            close(res)
        })
}

/// Serves `app` on `listener` with the default [`ConnectionLimits`] until `shutdown`
/// completes.
pub async fn serve(listener: TcpListener, app: Router, shutdown: impl Future<Output = ()>) {
    serve_with_limits(listener, app, ConnectionLimits::default(), None, shutdown).await;
}

/// How long a client may take for the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` (over TLS when `tls` is given) until `shutdown` completes, then
/// lets open requests finish (for up to ten seconds).
pub async fn serve_with_limits(
    listener: TcpListener,
    app: impl AppSource,
    limits: ConnectionLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) {
    let total = Arc::new(Semaphore::new(limits.max_total.max(1)));
    let per_address = Arc::new(PerAddress::default());
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.max_buf_size(MAX_HEAD_BYTES)
        .max_headers(64)
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    if tls.is_some() {
        // Over TLS, a vectored write of head and body becomes one TLS record each (two
        // encryptions, two record headers); flattened, a response is one record.
        http.writev(false);
    }
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = total.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            conn = listener.accept() => match conn {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = per_address.acquire(peer.ip(), limits.max_per_address) else {
            tracing::debug!("connection refused: too many open connections from one address");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let svc = app.current().map_request(
            move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                req
            },
        );
        let svc = TowerToHyperService::new(svc);
        let Some(acceptor) = tls.clone() else {
            let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), svc));
            tokio::spawn(async move {
                let _ = conn.await;
                drop((slot, permit));
            });
            continue;
        };
        // The handshake runs in the connection's task, so a slow one never holds up accepting.
        let (http, watcher) = (http.clone(), graceful.watcher());
        tokio::spawn(async move {
            if let Ok(Ok(tls)) =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
            {
                let _ = watcher
                    .watch(http.serve_connection(TokioIo::new(tls), svc))
                    .await;
            }
            drop((slot, permit));
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
}
