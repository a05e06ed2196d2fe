//! Internal errors: the client learns only that something failed on the server; the cause rides
//! in a response extension to one logging middleware, so it is logged once, with no secret in it.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

/// The cause of a 5xx, attached to the response for [`log_internal_errors`].
#[derive(Debug, Clone)]
pub struct InternalCause(pub Arc<String>);

/// Logs the cause of every response that carries one.
pub async fn log_internal_errors(req: Request, next: Next) -> Response {
    // A Uri clone shares its buffer: no allocation on the hot path.
    let uri = req.uri().clone();
    let res = next.run(req).await;
    if let Some(InternalCause(cause)) = res.extensions().get::<InternalCause>() {
        let path = uri.path();
        tracing::error!(%path, status = res.status().as_u16(), cause = %cause, "request failed");
    }
    res
}
