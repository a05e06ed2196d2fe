//! What every request passes through, as one layer: its id, the request timeout, `Connection:
//! close` after an unread body, the log of an internal error's cause, the request metrics (token
//! requests by dialect among them) and the request's log line.
//!
//! One hand-written tower service rather than a stack of `axum::middleware::from_fn` layers:
//! each layer an axum router applies wraps every route in a boxed service of its own, which a
//! request clones (with everything under it) and whose future it boxes, level by level. Five
//! such levels cost the token endpoint about 30 allocations a request, a tenth of its time
//! against the bare ceiling (BENCHMARKS.md, "Against the ceiling"); this layer costs one. For
//! the same reason the token routes are a table here rather than a layer on each.

use crate::{connection, error, request_log};
use axum::extract::{MatchedPath, Request};
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tessera_core::context::with_client_slot;
use tower::{Layer, Service};

/// A request not answered within this long gets 408 Request Timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The revocation feed long-polls for up to 30 s, so it is outside [`REQUEST_TIMEOUT`].
pub(crate) const LONG_POLL_ROUTE: &str = "/oauth2/revocations";

/// A route whose POSTs ask for tokens, and the dialect that answers them.
#[derive(Debug, Clone)]
pub struct TokenRoute {
    /// The route as matched (the router's template, prefix included).
    pub route: Box<str>,
    /// The dialect's name, the `dialect` label of `tessera_token_requests_total`.
    pub dialect: &'static str,
}

/// Applies [`Edge`] to a router's routes and fallback.
#[derive(Debug, Clone)]
pub struct EdgeLayer {
    token_routes: Arc<[TokenRoute]>,
}

impl EdgeLayer {
    /// The layer, counting POSTs on `token_routes` as token requests.
    pub fn new(token_routes: Vec<TokenRoute>) -> EdgeLayer {
        EdgeLayer {
            token_routes: token_routes.into(),
        }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            token_routes: self.token_routes.clone(),
        }
    }
}

/// The service of [`EdgeLayer`].
#[derive(Debug, Clone)]
pub struct Edge<S> {
    inner: S,
    token_routes: Arc<[TokenRoute]>,
}

impl<S> Edge<S> {
    /// The dialect whose token endpoint a request asks, if it does.
    fn token_dialect(&self, method: &Method, route: Option<&MatchedPath>) -> Option<&'static str> {
        let route = route.filter(|_| method == Method::POST)?.as_str();
        self.token_routes
            .iter()
            .find(|t| &*t.route == route)
            .map(|t| t.dialect)
    }
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let start = Instant::now();
        let id = request_log::request_id(&req);
        // Clones of the matched path, method and URI share their buffers.
        let route = req.extensions().get::<MatchedPath>().cloned();
        let method = req.method().clone();
        let uri = req.uri().clone();
        let long_poll = route
            .as_ref()
            .is_some_and(|r| r.as_str() == LONG_POLL_ROUTE);
        let token_dialect = self.token_dialect(&method, route.as_ref());
        let (req, body) = connection::watch_body(req);
        let answer = self.inner.call(req);
        Box::pin(async move {
            let answer = async move {
                if long_poll {
                    return answer.await;
                }
                match within(start + REQUEST_TIMEOUT, answer).await {
                    Some(res) => res,
                    None => Ok(StatusCode::REQUEST_TIMEOUT.into_response()),
                }
            };
            let (Ok(mut res), client) = if request_log::wanted() {
                with_client_slot(answer).await
            } else {
                (answer.await, None)
            };
            connection::close_if_unread(&mut res, body);
            error::log_if_internal(uri.path(), &res);
            let answered = request_log::Answered {
                method: &method,
                route: route.as_ref().map_or("(no route)", MatchedPath::as_str),
                elapsed: start.elapsed(),
                client,
                token_dialect,
            };
            request_log::finish(answered, id, &mut res);
            Ok(res)
        })
    }
}

/// `f`'s output, or `None` once `deadline` has passed. Unlike `tokio::time::timeout`, which
/// builds its timer (a clone of the runtime handle, an atomic every worker shares) before the
/// first poll, the timer is made only when `f` first has to wait; a request answered on its first
/// poll never makes one, and one that waits gets the same deadline, counted from its arrival.
async fn within<F: Future>(deadline: Instant, f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let mut timer: Option<Pin<Box<tokio::time::Sleep>>> = None;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = f.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        let timer = timer.get_or_insert_with(|| {
            Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(
                deadline,
            )))
        });
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::within;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn an_answer_before_the_deadline_is_kept() {
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(within(deadline, async { 7 }).await, Some(7));
        let late = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            8
        };
        assert_eq!(within(deadline, late).await, Some(8));
    }

    #[tokio::test]
    async fn a_wait_past_the_deadline_ends_it() {
        let start = Instant::now();
        let never = std::future::pending::<()>();
        assert_eq!(within(start + Duration::from_millis(50), never).await, None);
        assert!(start.elapsed() >= Duration::from_millis(50));
    }
}
