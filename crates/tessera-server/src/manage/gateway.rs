//! The Basys management paths, exactly as the document names them (seed 000, "Programmatically
//! Regenerating Secrets"): `gatewayId` is the tenant id and `appRegistrationId` the client id.
//! Field names are camelCase like the document's sample, whose C# program deserialises them
//! case-insensitively.
//!
//! These paths accept the token of the Basys endpoint (its `aud` is the Basys resource), as the
//! document's program uses it, and management-audience tokens; nothing else of tessera accepts
//! a Basys token for management. A Basys token carries no management scope: what it may do
//! here is what the calling application's role allows.
//!
//! The sample program reads the list endpoint into a single `AppRegistration`
//! (`appRegistrationId`, `appSecretId`, `expirationDate`), so the list answer carries that summary
//! at the top level — for the calling application when it belongs to the gateway, else for the
//! gateway's first — beside the full list in `appRegistrations`. A registration's summary names
//! its secret that expires first: the one the program rotates.

use super::caller::{APPLICATIONS_READ, Caller, GatewayCaller, SECRETS_MANAGE};
use super::dto::NewSecretDto;
use super::problem::{Problem, ProblemBody};
use super::{JsonBody, parse_id};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use serde::Serialize;
use tessera_core::ids::{ClientId, SecretId, TenantId};
use tessera_core::model::{Application, SecretMeta};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// A secret of a registration.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppSecretDto {
    /// The secret's id (used to delete it).
    pub app_secret_id: String,
    /// Name.
    pub name: String,
    /// Expiry (RFC 3339), as the document's `endDateTime`.
    #[serde(with = "time::serde::rfc3339")]
    pub end_date_time: OffsetDateTime,
    /// The same instant, as the sample program's `ExpirationDate`.
    #[serde(with = "time::serde::rfc3339")]
    pub expiration_date: OffsetDateTime,
    /// Creation (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub created_date_time: OffsetDateTime,
    /// Last use (RFC 3339).
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_date_time: Option<OffsetDateTime>,
}

impl From<&SecretMeta> for AppSecretDto {
    fn from(s: &SecretMeta) -> Self {
        AppSecretDto {
            app_secret_id: s.id.to_string(),
            name: s.name.clone(),
            end_date_time: s.expires_at,
            expiration_date: s.expires_at,
            created_date_time: s.created_at,
            last_used_date_time: s.last_used_at,
        }
    }
}

/// An application registration with its secrets.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppRegistrationDto {
    /// The client id.
    pub app_registration_id: String,
    /// The gateway (tenant) id.
    pub gateway_id: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// active or disabled.
    pub status: String,
    /// Creation (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub created_date_time: OffsetDateTime,
    /// The secret that expires first.
    pub app_secret_id: Option<String>,
    /// Its expiry.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expiration_date: Option<OffsetDateTime>,
    /// Its expiry, as `endDateTime`.
    #[serde(with = "time::serde::rfc3339::option")]
    pub end_date_time: Option<OffsetDateTime>,
    /// Every live secret.
    pub secrets: Vec<AppSecretDto>,
}

fn registration(app: Application, secrets: &[SecretMeta]) -> AppRegistrationDto {
    let first = secrets.iter().min_by_key(|s| s.expires_at);
    AppRegistrationDto {
        app_registration_id: app.client_id.to_string(),
        gateway_id: app.tenant_id.to_string(),
        name: app.name,
        role: app.role,
        status: app.status.as_str().into(),
        created_date_time: app.created_at,
        app_secret_id: first.map(|s| s.id.to_string()),
        expiration_date: first.map(|s| s.expires_at),
        end_date_time: first.map(|s| s.expires_at),
        secrets: secrets.iter().map(Into::into).collect(),
    }
}

/// The gateway's registrations, with the sample program's summary at the top level.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppRegistrationListDto {
    /// The summarised registration's client id.
    pub app_registration_id: Option<String>,
    /// Its secret that expires first.
    pub app_secret_id: Option<String>,
    /// That secret's expiry.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expiration_date: Option<OffsetDateTime>,
    /// That secret's expiry, as `endDateTime`.
    #[serde(with = "time::serde::rfc3339::option")]
    pub end_date_time: Option<OffsetDateTime>,
    /// Every registration of the gateway.
    pub app_registrations: Vec<AppRegistrationDto>,
}

/// A secret just created.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedAppSecretDto {
    /// The client id.
    pub app_registration_id: String,
    /// The new secret's id.
    pub app_secret_id: String,
    /// Name.
    pub name: String,
    /// The value, shown once: the `client_secret` of token requests.
    pub secret: String,
    /// Expiry (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub end_date_time: OffsetDateTime,
    /// The same instant, as the sample program's `ExpirationDate`.
    #[serde(with = "time::serde::rfc3339")]
    pub expiration_date: OffsetDateTime,
}

async fn registration_of(
    st: &AppState,
    caller: &Caller,
    gid: TenantId,
    cid: ClientId,
    permission: &str,
) -> Result<Application, Problem> {
    caller.require(gid, permission, "application registration")?;
    let app = st
        .admin
        .get_app(cid)
        .await
        .map_err(|_| Problem::not_found("application registration"))?;
    if app.tenant_id != gid {
        return Err(Problem::not_found("application registration"));
    }
    if permission == SECRETS_MANAGE {
        caller.may_hold(st.catalog.scopes(&app.role))?;
    }
    Ok(app)
}

/// `GET /gateway/{gatewayId}/appregistration`.
#[utoipa::path(get, path = "/gateway/{gatewayId}/appregistration", tag = "basys", operation_id = "basys_list_app_registrations",
    params(("gatewayId" = uuid::Uuid, Path, description = "gateway (tenant) id")),
    responses((status = 200, body = AppRegistrationListDto), (status = 404, body = ProblemBody)))]
pub async fn list(
    State(st): State<AppState>,
    GatewayCaller(caller): GatewayCaller,
    Path(gid): Path<String>,
) -> Result<Json<AppRegistrationListDto>, Problem> {
    let gid: TenantId = parse_id(&gid, "gatewayId")?;
    caller.require(gid, APPLICATIONS_READ, "gateway")?;
    let mut regs = Vec::new();
    for app in st.admin.list_apps(gid).await? {
        let secrets = st.admin.list_secrets(app.client_id).await?;
        regs.push(registration(app, &secrets));
    }
    let me = caller.client_id.to_string();
    let summary = regs
        .iter()
        .find(|r| r.app_registration_id == me)
        .or(regs.first());
    Ok(Json(AppRegistrationListDto {
        app_registration_id: summary.map(|r| r.app_registration_id.clone()),
        app_secret_id: summary.and_then(|r| r.app_secret_id.clone()),
        expiration_date: summary.and_then(|r| r.expiration_date),
        end_date_time: summary.and_then(|r| r.end_date_time),
        app_registrations: regs,
    }))
}

/// `GET /gateway/{gatewayId}/appregistration/{appRegistrationId}`.
#[utoipa::path(get, path = "/gateway/{gatewayId}/appregistration/{appRegistrationId}", tag = "basys", operation_id = "basys_get_app_registration",
    params(("gatewayId" = uuid::Uuid, Path, description = "gateway (tenant) id"), ("appRegistrationId" = uuid::Uuid, Path, description = "client id")),
    responses((status = 200, body = AppRegistrationDto), (status = 404, body = ProblemBody)))]
pub async fn get(
    State(st): State<AppState>,
    GatewayCaller(caller): GatewayCaller,
    Path((gid, cid)): Path<(String, String)>,
) -> Result<Json<AppRegistrationDto>, Problem> {
    let (gid, cid) = (
        parse_id(&gid, "gatewayId")?,
        parse_id(&cid, "appRegistrationId")?,
    );
    let app = registration_of(&st, &caller, gid, cid, APPLICATIONS_READ).await?;
    let secrets = st.admin.list_secrets(cid).await?;
    Ok(Json(registration(app, &secrets)))
}

/// `POST /gateway/{gatewayId}/appregistration/{appRegistrationId}/appsecret`; the body may be
/// empty, or `{"name": ..., "days": ...}`.
#[utoipa::path(post, path = "/gateway/{gatewayId}/appregistration/{appRegistrationId}/appsecret", tag = "basys", operation_id = "basys_create_app_secret",
    request_body(content = NewSecretDto, description = "optional"),
    params(("gatewayId" = uuid::Uuid, Path, description = "gateway (tenant) id"), ("appRegistrationId" = uuid::Uuid, Path, description = "client id")),
    responses((status = 200, body = CreatedAppSecretDto), (status = 409, body = ProblemBody), (status = 404, body = ProblemBody)))]
pub async fn create_secret(
    State(st): State<AppState>,
    GatewayCaller(caller): GatewayCaller,
    Path((gid, cid)): Path<(String, String)>,
    JsonBody(body): JsonBody<NewSecretDto>,
) -> Result<Json<CreatedAppSecretDto>, Problem> {
    let (gid, cid) = (
        parse_id(&gid, "gatewayId")?,
        parse_id(&cid, "appRegistrationId")?,
    );
    registration_of(&st, &caller, gid, cid, SECRETS_MANAGE).await?;
    let name = body.name.unwrap_or_else(|| "secret".into());
    let r = st
        .admin
        .acting_as(caller.actor())
        .create_secret(cid, &name, body.days)
        .await;
    let s = r?;
    Ok(Json(CreatedAppSecretDto {
        app_registration_id: cid.to_string(),
        app_secret_id: s.meta.id.to_string(),
        name: s.meta.name.clone(),
        secret: s.value.expose().to_owned(),
        end_date_time: s.meta.expires_at,
        expiration_date: s.meta.expires_at,
    }))
}

/// `DELETE /gateway/{gatewayId}/appregistration/{appRegistrationId}/appsecret/{appSecretId}`.
#[utoipa::path(delete, path = "/gateway/{gatewayId}/appregistration/{appRegistrationId}/appsecret/{appSecretId}", tag = "basys", operation_id = "basys_delete_app_secret",
    params(("gatewayId" = uuid::Uuid, Path, description = "gateway (tenant) id"), ("appRegistrationId" = uuid::Uuid, Path, description = "client id"), ("appSecretId" = uuid::Uuid, Path, description = "secret id")),
    responses((status = 204), (status = 404, body = ProblemBody)))]
pub async fn delete_secret(
    State(st): State<AppState>,
    GatewayCaller(caller): GatewayCaller,
    Path((gid, cid, sid)): Path<(String, String, String)>,
) -> Result<StatusCode, Problem> {
    let (gid, cid) = (
        parse_id(&gid, "gatewayId")?,
        parse_id(&cid, "appRegistrationId")?,
    );
    let sid: SecretId = parse_id(&sid, "appSecretId")?;
    registration_of(&st, &caller, gid, cid, SECRETS_MANAGE).await?;
    let r = st
        .admin
        .acting_as(caller.actor())
        .delete_secret(cid, sid)
        .await;
    r?;
    Ok(StatusCode::NO_CONTENT)
}
