//! What the core learns during one request that the front end's request log names: the client
//! it authenticated. A task-local slot, not a tracing span field: a span per request costs the
//! log formatter a field parse and copy on every line (see BENCHMARKS.md, "What the operating
//! features cost"), and the slot costs nothing when nobody asks.

use crate::ids::ClientId;
use std::cell::Cell;
use std::future::Future;

tokio::task_local! {
    static CLIENT: Cell<Option<ClientId>>;
}

/// Runs `fut` with a slot for the client the core authenticates in it; returns its output and
/// that client, if any.
pub async fn with_client_slot<F: Future>(fut: F) -> (F::Output, Option<ClientId>) {
    CLIENT
        .scope(Cell::new(None), async move {
            let out = fut.await;
            (out, CLIENT.with(Cell::get))
        })
        .await
}

/// Notes the client being authenticated (nothing outside [`with_client_slot`]).
pub fn note_client(id: ClientId) {
    let _ = CLIENT.try_with(|c| c.set(Some(id)));
}
