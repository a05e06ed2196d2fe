//! A sample payments API behind tessera-guard. Each route needs its own scope:
//!
//! | route | needs |
//! |---|---|
//! | `POST /transactions` | `transactions:process` (Basys roles) |
//! | `GET /batches` | `BatchReport` (iPOSpays merchant and ISO) |
//! | `GET /accounts` | `CLIENT_ACCESS` or `SERVER_ACCESS` (Basiq; a CLIENT_ACCESS token may call it) |
//! | `POST /users` | `SERVER_ACCESS` only |
//! | `GET /whoami` | any valid token |

use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tessera_guard::{Claims, Guard, RequireScope};

/// The API, every route behind `guard`.
pub fn router(guard: &Guard) -> Router {
    Router::new()
        .route(
            "/transactions",
            post(transactions).layer(RequireScope::new("transactions:process")),
        )
        .route(
            "/batches",
            get(batches).layer(RequireScope::new("BatchReport")),
        )
        .route(
            "/accounts",
            get(accounts).layer(RequireScope::any_of(&["SERVER_ACCESS", "CLIENT_ACCESS"])),
        )
        .route(
            "/users",
            post(users).layer(RequireScope::new("SERVER_ACCESS")),
        )
        .route("/whoami", get(whoami))
        .layer(guard.layer())
}

async fn transactions(Claims(c): Claims) -> Json<Value> {
    Json(json!({"id": uuid::Uuid::new_v4(), "status": "approved", "client_id": c.client_id}))
}

async fn batches(Claims(c): Claims) -> Json<Value> {
    Json(json!({"tenant_id": c.tenant_id, "batches": []}))
}

async fn accounts(Claims(c): Claims) -> Json<Value> {
    Json(json!({"user": c.extra.get("userId"), "accounts": []}))
}

async fn users(Claims(c): Claims) -> Json<Value> {
    Json(json!({"created_by": c.client_id}))
}

async fn whoami(Claims(c): Claims) -> Json<Value> {
    Json(json!(c))
}
