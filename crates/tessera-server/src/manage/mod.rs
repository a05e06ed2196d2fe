//! The management API: applications and secrets over REST with per-tenant authorization
//! (`/management/v1`), the Basys-compatible rotation paths (`/gateway/...`), and the OpenAPI
//! document generated from the same route registrations (`/openapi.json`), so that the two
//! cannot drift.

pub mod api;
pub mod caller;
pub mod dto;
pub mod gateway;
pub mod problem;

use crate::form::{BodyError, MAX_BODY_BYTES, has_media_type, read_body};
use crate::state::AppState;
use axum::Router;
use axum::extract::{FromRequest, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use problem::Problem;
use serde::de::DeserializeOwned;
use std::str::FromStr;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Parses an id from a path or body; a malformed one is a 400 problem.
pub fn parse_id<T: FromStr>(s: &str, what: &str) -> Result<T, Problem> {
    s.parse()
        .map_err(|_| Problem::bad(format!("{what} is not a valid UUID")))
}

/// A JSON request body: `application/json`, at most [`MAX_BODY_BYTES`], no unknown fields; an
/// empty body reads as `{}`. Every rejection is a problem document.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, _: &AppState) -> Result<Self, Problem> {
        let (parts, body) = req.into_parts();
        let bytes = read_body(&parts.headers, body).await.map_err(|e| match e {
            BodyError::TooLarge => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the request body exceeds {MAX_BODY_BYTES} bytes"),
            ),
            BodyError::Read => Problem::bad("the request body could not be read"),
        })?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else if has_media_type(&parts.headers, "application/json") {
            &bytes
        } else {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the request body must be application/json",
            ));
        };
        serde_json::from_slice(text)
            .map(JsonBody)
            .map_err(|e| Problem::bad(format!("invalid JSON body: {e}")))
    }
}

/// Read-your-writes: a change this node acknowledges is in effect on this node before the
/// answer leaves. The write is committed by then; pulling the change feed applies it (and
/// anything committed before it) to the in-memory directory the token endpoints read, instead
/// of leaving it to the next poll. Other nodes still learn of it by their poll or a
/// notification.
pub async fn apply_before_ack(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let res = next.run(req).await;
    if writes && res.status().is_success() {
        crate::background::refresh(&state).await;
    }
    res
}

/// Refuses a body on GET, HEAD and DELETE requests: it means the client is confused about the
/// API, and ignoring it silently would hide that.
async fn no_body_on_reads(req: Request, next: Next) -> Response {
    let reads = matches!(*req.method(), Method::GET | Method::HEAD | Method::DELETE);
    let h = req.headers();
    let has_body = h
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() != "0")
        || h.contains_key(http::header::TRANSFER_ENCODING);
    if reads && has_body {
        return Problem::bad(format!("a {} request must not have a body", req.method()))
            .into_response();
    }
    next.run(req).await
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tessera management API",
        description = "Applications and secrets of tenants, authenticated by tessera access tokens (RFC 6750) for the management audience: ask the token endpoint with resource=<tessera_management_audience of the metadata>. The Basys paths also take the Basys endpoint's token. Errors are RFC 9457 problem documents.",
        version = "1"
    ),
    components(schemas(problem::ProblemBody)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// The answers every operation can give because of the machinery it shares, not its own code:
/// the caller extractor (401 without a valid management token, 403 without the scope), id and
/// query parsing (400), path lookups (404 for what does not exist or belongs to another
/// tenant), JSON bodies (400, 413, 415), and the database (500, 503). Added here once, so that no
/// operation's annotation can forget one; every error is declared `application/problem+json`,
/// as the server sends it.
fn standard_responses(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    const PROBLEM: &str = "application/problem+json";
    let problem = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    PROBLEM,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ProblemBody")))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in api.paths.paths.iter_mut() {
        let ops = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in ops.into_iter().flatten() {
            let mut common = vec![
                (
                    "400",
                    "The request is malformed: an id that is not a UUID, a bad query or body",
                ),
                (
                    "401",
                    "No valid access token for the management audience (WWW-Authenticate says why)",
                ),
                (
                    "403",
                    "The token lacks the scope this operation needs (insufficient_scope)",
                ),
                ("500", "Internal error"),
                ("503", "The database is unavailable; try again shortly"),
            ];
            if path.contains('{') {
                common.push(("404", "No such object, or not one the caller may see"));
            }
            if op.request_body.is_some() {
                common.push(("413", "The body is over the size limit"));
                common.push(("415", "The body is not application/json"));
            }
            for (status, description) in common {
                op.responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem(description));
            }
            for (status, response) in op.responses.responses.iter_mut() {
                let RefOr::T(r) = response else { continue };
                if !status.starts_with(['4', '5']) {
                    continue;
                }
                if let Some(content) = r.content.shift_remove("application/json") {
                    r.content.insert(PROBLEM.to_owned(), content);
                }
            }
        }
    }
}

/// The management routes and their OpenAPI document.
pub fn router() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let v1 = OpenApiRouter::new()
        .routes(routes!(api::list_tenants, api::create_tenant))
        .routes(routes!(api::get_tenant, api::delete_tenant))
        .routes(routes!(api::disable_tenant))
        .routes(routes!(api::enable_tenant))
        .routes(routes!(api::list_apps, api::create_app))
        .routes(routes!(api::get_app, api::rename_app, api::delete_app))
        .routes(routes!(api::disable_app))
        .routes(routes!(api::enable_app))
        .routes(routes!(api::list_secrets, api::create_secret))
        .routes(routes!(api::delete_secret))
        .routes(routes!(api::rotate_secret))
        .routes(routes!(api::expiring))
        .routes(routes!(api::audit_log))
        .routes(routes!(
            api::get_webhook,
            api::set_webhook,
            api::delete_webhook
        ));
    let gateway = OpenApiRouter::new()
        .routes(routes!(gateway::list))
        .routes(routes!(gateway::get))
        .routes(routes!(gateway::create_secret))
        .routes(routes!(gateway::delete_secret));
    let (router, mut api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/management/v1", v1)
        .merge(gateway)
        .split_for_parts();
    // After the routes are in: `modifiers` of the derive run before they are.
    standard_responses(&mut api);
    (
        router.layer(axum::middleware::from_fn(no_body_on_reads)),
        api,
    )
}
