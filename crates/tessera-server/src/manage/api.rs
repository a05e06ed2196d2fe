//! The REST management API under `/management/v1`: tenants (admin), applications of a tenant,
//! secrets of an application, expiring secrets, the audit log.
//!
//! Permissions are role scopes: `applications:read` reads the token's own tenant's applications
//! and secret metadata; `secrets:manage` creates, rotates and deletes its secrets; `admin` does
//! everything, across tenants. Another tenant's objects answer 404, never 403.

use super::caller::{APPLICATIONS_READ, Caller, SECRETS_MANAGE};
use super::dto::*;
use super::problem::{Problem, ProblemBody};
use super::{JsonBody, parse_id};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use http::StatusCode;
use serde::Deserialize;
use tessera_core::admin::NewTenant;
use tessera_core::audit::AuditQuery;
use tessera_core::ids::{ClientId, SecretId, TenantId};
use tessera_core::model::{AppStatus, Application, TenantStatus};
use time::Duration;
use utoipa::IntoParams;

type Answer<T> = Result<T, Problem>;

/// The tenant and client ids of an application path.
fn app_ids(tid: &str, cid: &str) -> Answer<(TenantId, ClientId)> {
    Ok((parse_id(tid, "tenant id")?, parse_id(cid, "client id")?))
}

/// Loads an application of `tenant` that the caller may use with `permission`.
async fn app_of(
    st: &AppState,
    caller: &Caller,
    tenant: TenantId,
    client: ClientId,
    permission: Option<&str>,
) -> Answer<Application> {
    match permission {
        Some(p) => caller.require(tenant, p, "application")?,
        None => {
            caller.see(tenant, "application")?;
            caller.require_admin()?;
        }
    }
    let app = st.admin.get_app(client).await?;
    if app.tenant_id != tenant {
        return Err(Problem::not_found("application"));
    }
    if permission == Some(SECRETS_MANAGE) {
        caller.may_hold(st.catalog.scopes(&app.role))?;
    }
    Ok(app)
}

/// List every tenant (admin).
#[utoipa::path(get, path = "/tenants", tag = "tenants",
    responses((status = 200, body = [TenantDto]), (status = 401, body = ProblemBody), (status = 403, body = ProblemBody)))]
pub async fn list_tenants(
    State(st): State<AppState>,
    caller: Caller,
) -> Answer<Json<Vec<TenantDto>>> {
    caller.require_admin()?;
    let all = st.admin.list_tenants().await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}

/// Create a tenant (admin).
#[utoipa::path(post, path = "/tenants", tag = "tenants", request_body = NewTenantDto,
    responses((status = 201, body = TenantDto), (status = 400, body = ProblemBody), (status = 403, body = ProblemBody)))]
pub async fn create_tenant(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewTenantDto>,
) -> Answer<(StatusCode, Json<TenantDto>)> {
    caller.require_admin()?;
    let parent_id = body
        .parent_id
        .as_deref()
        .map(|p| parse_id::<TenantId>(p, "parent_id"))
        .transpose()?;
    let r = st
        .admin
        .acting_as(caller.actor())
        .create_tenant(NewTenant {
            name: body.name,
            kind: body.kind,
            parent_id,
        })
        .await;
    Ok((StatusCode::CREATED, Json(r?.into())))
}

/// One tenant (admin, or the token's own tenant with applications:read).
#[utoipa::path(get, path = "/tenants/{tenant_id}", tag = "tenants",
    params(("tenant_id" = uuid::Uuid, Path, description = "tenant id")),
    responses((status = 200, body = TenantDto), (status = 404, body = ProblemBody)))]
pub async fn get_tenant(
    State(st): State<AppState>,
    caller: Caller,
    Path(tid): Path<String>,
) -> Answer<Json<TenantDto>> {
    let tid = parse_id::<TenantId>(&tid, "tenant id")?;
    caller.require(tid, APPLICATIONS_READ, "tenant")?;
    Ok(Json(st.admin.get_tenant(tid).await?.into()))
}

async fn set_tenant(
    st: AppState,
    caller: Caller,
    tid: String,
    status: TenantStatus,
) -> Answer<Json<TenantDto>> {
    let tid = parse_id::<TenantId>(&tid, "tenant id")?;
    caller.see(tid, "tenant")?;
    caller.require_admin()?;
    let r = st
        .admin
        .acting_as(caller.actor())
        .set_tenant_status(tid, status)
        .await;
    Ok(Json(r?.into()))
}

/// Delete a tenant (admin; final, a tombstone remains).
#[utoipa::path(delete, path = "/tenants/{tenant_id}", tag = "tenants",
    params(("tenant_id" = uuid::Uuid, Path, description = "tenant id")),
    responses((status = 200, body = TenantDto), (status = 404, body = ProblemBody)))]
pub async fn delete_tenant(
    State(st): State<AppState>,
    caller: Caller,
    Path(tid): Path<String>,
) -> Answer<Json<TenantDto>> {
    set_tenant(st, caller, tid, TenantStatus::Deleted).await
}

/// Disable a tenant (admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/disable", tag = "tenants",
    params(("tenant_id" = uuid::Uuid, Path, description = "tenant id")),
    responses((status = 200, body = TenantDto), (status = 404, body = ProblemBody)))]
pub async fn disable_tenant(
    State(st): State<AppState>,
    caller: Caller,
    Path(tid): Path<String>,
) -> Answer<Json<TenantDto>> {
    set_tenant(st, caller, tid, TenantStatus::Disabled).await
}

/// Enable a tenant (admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/enable", tag = "tenants",
    params(("tenant_id" = uuid::Uuid, Path, description = "tenant id")),
    responses((status = 200, body = TenantDto), (status = 404, body = ProblemBody)))]
pub async fn enable_tenant(
    State(st): State<AppState>,
    caller: Caller,
    Path(tid): Path<String>,
) -> Answer<Json<TenantDto>> {
    set_tenant(st, caller, tid, TenantStatus::Active).await
}

/// A tenant's applications (applications:read).
#[utoipa::path(get, path = "/tenants/{tenant_id}/applications", tag = "applications",
    params(("tenant_id" = uuid::Uuid, Path, description = "tenant id")),
    responses((status = 200, body = [ApplicationDto]), (status = 404, body = ProblemBody)))]
pub async fn list_apps(
    State(st): State<AppState>,
    caller: Caller,
    Path(tid): Path<String>,
) -> Answer<Json<Vec<ApplicationDto>>> {
    let tid = parse_id::<TenantId>(&tid, "tenant id")?;
    caller.require(tid, APPLICATIONS_READ, "tenant")?;
    Ok(Json(
        st.admin
            .list_apps(tid)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Create an application (admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/applications", tag = "applications", request_body = NewApplicationDto,
    params(("tenant_id" = uuid::Uuid, Path, description = "tenant id")),
    responses((status = 201, body = ApplicationDto), (status = 400, body = ProblemBody), (status = 404, body = ProblemBody)))]
pub async fn create_app(
    State(st): State<AppState>,
    caller: Caller,
    Path(tid): Path<String>,
    JsonBody(body): JsonBody<NewApplicationDto>,
) -> Answer<(StatusCode, Json<ApplicationDto>)> {
    let tid = parse_id::<TenantId>(&tid, "tenant id")?;
    caller.see(tid, "tenant")?;
    caller.require_admin()?;
    let r = st
        .admin
        .acting_as(caller.actor())
        .create_app(tid, &body.name, &body.role)
        .await;
    Ok((StatusCode::CREATED, Json(r?.into())))
}

/// One application with its secrets' metadata (applications:read).
#[utoipa::path(get, path = "/tenants/{tenant_id}/applications/{client_id}", tag = "applications",
    params(("tenant_id" = uuid::Uuid, Path, description = "tenant id"), ("client_id" = uuid::Uuid, Path, description = "client id")),
    responses((status = 200, body = ApplicationDetailDto), (status = 404, body = ProblemBody)))]
pub async fn get_app(
    State(st): State<AppState>,
    caller: Caller,
    Path((tid, cid)): Path<(String, String)>,
) -> Answer<Json<ApplicationDetailDto>> {
    let (tid, cid) = app_ids(&tid, &cid)?;
    let app = app_of(&st, &caller, tid, cid, Some(APPLICATIONS_READ)).await?;
    let secrets = st.admin.list_secrets(cid).await?;
    Ok(Json(ApplicationDetailDto {
        application: app.into(),
        secrets: secrets.into_iter().map(Into::into).collect(),
    }))
}

/// Rename an application (admin).
#[utoipa::path(patch, path = "/tenants/{tenant_id}/applications/{client_id}", tag = "applications", request_body = RenameDto,
    params(("tenant_id" = uuid::Uuid, Path, description = "tenant id"), ("client_id" = uuid::Uuid, Path, description = "client id")),
    responses((status = 200, body = ApplicationDto), (status = 404, body = ProblemBody)))]
pub async fn rename_app(
    State(st): State<AppState>,
    caller: Caller,
    Path((tid, cid)): Path<(String, String)>,
    JsonBody(body): JsonBody<RenameDto>,
) -> Answer<Json<ApplicationDto>> {
    let (tid, cid) = app_ids(&tid, &cid)?;
    app_of(&st, &caller, tid, cid, None).await?;
    let r = st
        .admin
        .acting_as(caller.actor())
        .rename_app(cid, &body.name)
        .await;
    Ok(Json(r?.into()))
}

async fn set_app(
    st: AppState,
    caller: Caller,
    tid: String,
    cid: String,
    status: AppStatus,
) -> Answer<Json<ApplicationDto>> {
    let (tid, cid) = app_ids(&tid, &cid)?;
    app_of(&st, &caller, tid, cid, None).await?;
    let r = st
        .admin
        .acting_as(caller.actor())
        .set_app_status(cid, status)
        .await;
    Ok(Json(r?.into()))
}

/// Delete an application and its secrets (admin).
#[utoipa::path(delete, path = "/tenants/{tenant_id}/applications/{client_id}", tag = "applications",
    params(("tenant_id" = uuid::Uuid, Path, description = "tenant id"), ("client_id" = uuid::Uuid, Path, description = "client id")),
    responses((status = 200, body = ApplicationDto), (status = 404, body = ProblemBody)))]
pub async fn delete_app(
    State(st): State<AppState>,
    caller: Caller,
    Path((tid, cid)): Path<(String, String)>,
) -> Answer<Json<ApplicationDto>> {
    set_app(st, caller, tid, cid, AppStatus::Deleted).await
}

/// Disable an application (admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/applications/{client_id}/disable", tag = "applications",
    params(("tenant_id" = uuid::Uuid, Path, description = "tenant id"), ("client_id" = uuid::Uuid, Path, description = "client id")),
    responses((status = 200, body = ApplicationDto), (status = 404, body = ProblemBody)))]
pub async fn disable_app(
    State(st): State<AppState>,
    caller: Caller,
    Path((tid, cid)): Path<(String, String)>,
) -> Answer<Json<ApplicationDto>> {
    set_app(st, caller, tid, cid, AppStatus::Disabled).await
}

/// Enable an application (admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/applications/{client_id}/enable", tag = "applications",
    params(("tenant_id" = uuid::Uuid, Path, description = "tenant id"), ("client_id" = uuid::Uuid, Path, description = "client id")),
    responses((status = 200, body = ApplicationDto), (status = 404, body = ProblemBody)))]
pub async fn enable_app(
    State(st): State<AppState>,
    caller: Caller,
    Path((tid, cid)): Path<(String, String)>,
) -> Answer<Json<ApplicationDto>> {
    set_app(st, caller, tid, cid, AppStatus::Active).await
}

/// An application's secrets (applications:read).
#[utoipa::path(get, path = "/tenants/{tenant_id}/applications/{client_id}/secrets", tag = "secrets",
    params(("tenant_id" = uuid::Uuid, Path, description = "tenant id"), ("client_id" = uuid::Uuid, Path, description = "client id")),
    responses((status = 200, body = [SecretDto]), (status = 404, body = ProblemBody)))]
pub async fn list_secrets(
    State(st): State<AppState>,
    caller: Caller,
    Path((tid, cid)): Path<(String, String)>,
) -> Answer<Json<Vec<SecretDto>>> {
    let (tid, cid) = app_ids(&tid, &cid)?;
    app_of(&st, &caller, tid, cid, Some(APPLICATIONS_READ)).await?;
    Ok(Json(
        st.admin
            .list_secrets(cid)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Create a secret; the value is in this response and nowhere else (secrets:manage).
#[utoipa::path(post, path = "/tenants/{tenant_id}/applications/{client_id}/secrets", tag = "secrets", request_body = NewSecretDto,
    params(("tenant_id" = uuid::Uuid, Path, description = "tenant id"), ("client_id" = uuid::Uuid, Path, description = "client id")),
    responses((status = 201, body = CreatedSecretDto), (status = 409, body = ProblemBody), (status = 404, body = ProblemBody)))]
pub async fn create_secret(
    State(st): State<AppState>,
    caller: Caller,
    Path((tid, cid)): Path<(String, String)>,
    JsonBody(body): JsonBody<NewSecretDto>,
) -> Answer<(StatusCode, Json<CreatedSecretDto>)> {
    let (tid, cid) = app_ids(&tid, &cid)?;
    app_of(&st, &caller, tid, cid, Some(SECRETS_MANAGE)).await?;
    let name = body.name.unwrap_or_else(|| "secret".into());
    let r = st
        .admin
        .acting_as(caller.actor())
        .create_secret(cid, &name, body.days)
        .await;
    Ok((StatusCode::CREATED, Json(r?.into())))
}

/// Delete a secret (secrets:manage).
#[utoipa::path(delete, path = "/tenants/{tenant_id}/applications/{client_id}/secrets/{secret_id}", tag = "secrets",
    params(("tenant_id" = uuid::Uuid, Path, description = "tenant id"), ("client_id" = uuid::Uuid, Path, description = "client id"), ("secret_id" = uuid::Uuid, Path, description = "secret id")),
    responses((status = 204), (status = 404, body = ProblemBody)))]
pub async fn delete_secret(
    State(st): State<AppState>,
    caller: Caller,
    Path((tid, cid, sid)): Path<(String, String, String)>,
) -> Answer<StatusCode> {
    let (tid, cid) = app_ids(&tid, &cid)?;
    let sid: SecretId = parse_id(&sid, "secret id")?;
    app_of(&st, &caller, tid, cid, Some(SECRETS_MANAGE)).await?;
    let r = st
        .admin
        .acting_as(caller.actor())
        .delete_secret(cid, sid)
        .await;
    r?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotate a secret: a new one now, the old one expiring after the grace period, in one
/// transaction (secrets:manage).
#[utoipa::path(post, path = "/tenants/{tenant_id}/applications/{client_id}/secrets/{secret_id}/rotate", tag = "secrets", request_body = RotateDto,
    params(("tenant_id" = uuid::Uuid, Path, description = "tenant id"), ("client_id" = uuid::Uuid, Path, description = "client id"), ("secret_id" = uuid::Uuid, Path, description = "secret id")),
    responses((status = 201, body = CreatedSecretDto), (status = 409, body = ProblemBody), (status = 404, body = ProblemBody)))]
pub async fn rotate_secret(
    State(st): State<AppState>,
    caller: Caller,
    Path((tid, cid, sid)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<RotateDto>,
) -> Answer<(StatusCode, Json<CreatedSecretDto>)> {
    let (tid, cid) = app_ids(&tid, &cid)?;
    let sid: SecretId = parse_id(&sid, "secret id")?;
    app_of(&st, &caller, tid, cid, Some(SECRETS_MANAGE)).await?;
    let grace = Duration::seconds(i64::from(body.grace_seconds.unwrap_or(86_400)));
    let r = st
        .admin
        .acting_as(caller.actor())
        .rotate_secret(cid, sid, grace)
        .await;
    Ok((StatusCode::CREATED, Json(r?.into())))
}

/// Query of `GET /secrets/expiring`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExpiringQuery {
    /// Window in days (default: the server's `[expiry] warning_days`, 14 unless configured).
    pub within_days: Option<u32>,
}

/// Secrets that expire soon, across the tenants the caller may see (admin: all; otherwise its
/// own tenant, with applications:read).
#[utoipa::path(get, path = "/secrets/expiring", tag = "secrets", params(ExpiringQuery),
    responses((status = 200, body = [ExpiringSecretDto]), (status = 403, body = ProblemBody)))]
pub async fn expiring(
    State(st): State<AppState>,
    caller: Caller,
    q: Result<Query<ExpiringQuery>, QueryRejection>,
) -> Answer<Json<Vec<ExpiringSecretDto>>> {
    let Query(q) = q.map_err(|e| Problem::bad(e.body_text()))?;
    let tenant = if caller.is_admin() {
        None
    } else {
        caller.require(caller.tenant_id, APPLICATIONS_READ, "tenant")?;
        Some(caller.tenant_id)
    };
    let within = q
        .within_days
        .map_or(st.config.expiry_warning, |d| Duration::days(i64::from(d)));
    let list = st.admin.expiring(within, tenant).await?;
    Ok(Json(
        list.into_iter()
            .map(|(t, s)| ExpiringSecretDto {
                tenant_id: t.to_string(),
                secret: s.into(),
            })
            .collect(),
    ))
}

/// Query of `GET /audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Only this tenant's events.
    #[param(format = Uuid)]
    pub tenant_id: Option<String>,
    /// Only events at or after this RFC 3339 instant.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// At most this many, newest (default 1000, at most 10000).
    pub limit: Option<u32>,
}

/// The audit log (admin).
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = [AuditDto]), (status = 403, body = ProblemBody)))]
pub async fn audit_log(
    State(st): State<AppState>,
    caller: Caller,
    q: Result<Query<AuditParams>, QueryRejection>,
) -> Answer<Json<Vec<AuditDto>>> {
    let Query(q) = q.map_err(|e| Problem::bad(e.body_text()))?;
    caller.require_admin()?;
    let since = q
        .since
        .as_deref()
        .map(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339))
        .transpose()
        .map_err(|_| Problem::bad("since must be an RFC 3339 date-time"))?;
    let tenant_id = q
        .tenant_id
        .as_deref()
        .map(|t| parse_id::<TenantId>(t, "tenant_id"))
        .transpose()?;
    let events = st
        .admin
        .audit(&AuditQuery {
            tenant_id,
            since,
            limit: q.limit.unwrap_or(0),
        })
        .await?;
    Ok(Json(events.into_iter().map(Into::into).collect()))
}

/// Set (or replace) the tenant's secret-expiry webhook (admin, or the token's own tenant with
/// secrets:manage). Each day a secret of the tenant is within the expiry warning window, one
/// notice is POSTed, signed per Standard Webhooks with the secret this answer shows once.
#[utoipa::path(put, path = "/tenants/{tenant_id}/webhook", tag = "webhooks",
    params(("tenant_id" = uuid::Uuid, Path, description = "tenant id")),
    request_body = WebhookInDto,
    responses((status = 200, body = WebhookDto), (status = 404, body = ProblemBody)))]
pub async fn set_webhook(
    State(st): State<AppState>,
    caller: Caller,
    Path(tid): Path<String>,
    JsonBody(body): JsonBody<WebhookInDto>,
) -> Answer<Json<WebhookDto>> {
    let tid = parse_id::<TenantId>(&tid, "tenant id")?;
    caller.require(tid, SECRETS_MANAGE, "tenant")?;
    let (hook, secret) = st
        .admin
        .acting_as(caller.actor())
        .set_webhook(
            tid,
            &body.url,
            st.config.webhooks.allow_private,
            &st.webhook_cipher,
        )
        .await?;
    Ok(Json(WebhookDto {
        secret: Some(secret.expose().to_owned()),
        ..hook.into()
    }))
}

/// The tenant's webhook, without its secret (admin, or the own tenant with applications:read).
#[utoipa::path(get, path = "/tenants/{tenant_id}/webhook", tag = "webhooks",
    params(("tenant_id" = uuid::Uuid, Path, description = "tenant id")),
    responses((status = 200, body = WebhookDto), (status = 404, body = ProblemBody)))]
pub async fn get_webhook(
    State(st): State<AppState>,
    caller: Caller,
    Path(tid): Path<String>,
) -> Answer<Json<WebhookDto>> {
    let tid = parse_id::<TenantId>(&tid, "tenant id")?;
    caller.require(tid, APPLICATIONS_READ, "tenant")?;
    let hook = st
        .admin
        .webhook(tid)
        .await?
        .ok_or_else(|| Problem::not_found("webhook"))?;
    Ok(Json(hook.into()))
}

/// Remove the tenant's webhook (admin, or the own tenant with secrets:manage).
#[utoipa::path(delete, path = "/tenants/{tenant_id}/webhook", tag = "webhooks",
    params(("tenant_id" = uuid::Uuid, Path, description = "tenant id")),
    responses((status = 204), (status = 404, body = ProblemBody)))]
pub async fn delete_webhook(
    State(st): State<AppState>,
    caller: Caller,
    Path(tid): Path<String>,
) -> Answer<StatusCode> {
    let tid = parse_id::<TenantId>(&tid, "tenant id")?;
    caller.require(tid, SECRETS_MANAGE, "tenant")?;
    st.admin
        .acting_as(caller.actor())
        .delete_webhook(tid)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
