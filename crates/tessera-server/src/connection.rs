//! `Connection: close` on answers sent before the request body was read.
//!
//! A handler may answer without reading the body: a 413 when the Content-Length is over the
//! limit, a 401 when the credentials in the headers are already wrong. The unread body is still
//! on the wire, so the server must close the connection after such an answer, and RFC 9112 §9.6
//! says it should say so: a keep-alive client that is not told sends its next request into the
//! closing socket and fails ("Remote end closed connection without response"). The edge layer
//! ([`crate::edge`]) watches whether the body reached its end and, if it did not, adds
//! `Connection: close`, which hyper also honours by closing after the response.

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::response::Response;
use http::HeaderValue;
use http::header::CONNECTION;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// A request body that notes when it has been read to the end.
struct Watched {
    inner: Body,
    done: Arc<AtomicBool>,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.done.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Watches the request's body, when it has one, so that [`close_if_unread`] can tell whether the
/// handler read it to the end.
pub(crate) fn watch_body(req: Request) -> (Request, Option<Arc<AtomicBool>>) {
    if req.body().is_end_stream() {
        // No body (GET, or Content-Length: 0): nothing can be left on the wire.
        return (req, None);
    }
    let done = Arc::new(AtomicBool::new(false));
    let watched = done.clone();
    let req = req.map(|inner| {
        Body::new(Watched {
            inner,
            done: watched,
        })
    });
    (req, Some(done))
}

/// Adds `Connection: close` to the answer when the request had a body the handler left unread.
pub(crate) fn close_if_unread(res: &mut Response, watch: Option<Arc<AtomicBool>>) {
    if watch.is_some_and(|done| !done.load(Ordering::Relaxed)) {
        res.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
}
