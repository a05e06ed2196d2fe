//! Internal errors: the client learns only that something failed on the server; the cause rides
//! in a response extension to the edge layer ([`crate::edge`]), so it is logged once, with no
//! secret in it.

use axum::response::Response;
use std::sync::Arc;

/// The cause of a 5xx, attached to the response for [`log_if_internal`].
#[derive(Debug, Clone)]
pub struct InternalCause(pub Arc<String>);

/// Logs the cause of a response that carries one, with the request's path.
pub(crate) fn log_if_internal(path: &str, res: &Response) {
    if let Some(InternalCause(cause)) = res.extensions().get::<InternalCause>() {
        tracing::error!(%path, status = res.status().as_u16(), cause = %cause, "request failed");
    }
}
