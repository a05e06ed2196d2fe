//! The shared state of one node, and how a node starts: check the master key against the
//! database, load the directory and the key ring, make sure a signing key exists.

use bytes::Bytes;
use serde::Serialize;
use std::ops::Deref;
use std::sync::Arc;
use tessera_core::CoreError;
use tessera_core::admin::{Admin, SecretPolicy, check_master_key};
use tessera_core::audit::AuditBuffer;
use tessera_core::clock::Clock;
use tessera_core::directory::Directory;
use tessera_core::issue::{Issuer, IssuerConfig, IssuerDeps};
use tessera_core::keyring::Keyring;
use tessera_core::master::MasterKey;
use tessera_core::proto::Algorithm;
use tessera_core::role::RoleCatalog;
use tessera_core::store::Store;
use tessera_core::throttle::Throttle;
use tessera_core::usage::UsageRecorder;
use time::Duration;

/// Settings of a node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The issuer identifier: `iss` of every token and `issuer` of the metadata, byte for byte.
    /// No trailing slash.
    pub issuer: String,
    /// `aud` of tokens requested without a `resource`; the issuer when `None`.
    pub default_audience: Option<String>,
    /// The management API's audience; the issuer followed by `/management` when `None`. Never
    /// the default audience.
    pub management_audience: Option<String>,
    /// Lifetime of tokens from the standard endpoint.
    pub token_ttl: Duration,
    /// The algorithm tokens are signed with.
    pub alg: Algorithm,
    /// The longest lifetime of any token this deployment issues (keeps previous keys published).
    pub max_token_ttl: Duration,
    /// How long a new key is published before it signs.
    pub rotation_delay: Duration,
    /// Rotate automatically when the current key is this old (`None`: only by `keys rotate`).
    pub rotation_interval: Option<Duration>,
    /// How often to poll the store for changes.
    pub refresh_interval: std::time::Duration,
    /// The provider dialects.
    pub dialects: crate::dialects::config::DialectsConfig,
    /// Failed-attempt and rate limits, connection caps, trusted proxies.
    pub limits: crate::limits::Limits,
    /// Audit events older than this are deleted in the background; `None` keeps them forever.
    pub audit_retention: Option<Duration>,
    /// Prometheus metrics.
    pub metrics: crate::telemetry::MetricsSettings,
    /// A secret expiring within this long is expiring soon (metrics, `GET /secrets/expiring`,
    /// webhooks).
    pub expiry_warning: Duration,
    /// Secret-expiry webhooks.
    pub webhooks: crate::webhooks::WebhookSettings,
}

/// Everything a handler may need.
pub struct Inner {
    /// Token issuance.
    pub issuer: Issuer,
    /// Signing keys.
    pub keyring: Arc<Keyring>,
    /// Tenants and applications, in memory.
    pub directory: Arc<Directory>,
    /// The database.
    pub store: Arc<dyn Store>,
    /// Pending `last_used_at` writes.
    pub usage: Arc<UsageRecorder>,
    /// Roles.
    pub catalog: Arc<RoleCatalog>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Settings.
    pub config: NodeConfig,
    /// The RFC 8414 metadata document, rendered once.
    pub metadata: Bytes,
    /// Administrative operations (management API).
    pub admin: Admin,
    /// Audit events waiting to be appended.
    pub audit: Arc<AuditBuffer>,
    /// Bumped when revocation records arrive; the feed's long-polls wait on it.
    pub revocation_signal: tokio::sync::watch::Sender<u64>,
    /// Seals what the console hands the browser to hold briefly.
    pub hub_cipher: tessera_core::master::KeyCipher,
    /// Seals webhook signing secrets.
    pub webhook_cipher: tessera_core::master::KeyCipher,
}

/// The state handlers extract: one `Arc`, cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The core refused (wrong master key, undecryptable keys, database failure).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The issuer is not a usable URL.
    #[error("invalid issuer {0:?}: it must be an http or https URL without query or fragment")]
    Issuer(String),
    /// The management audience is the default audience of payment APIs: every token a payment
    /// API receives could then be replayed against the management API.
    #[error(
        "the management audience {0:?} equals the default audience of tokens; set tokens.management_audience to another URI"
    )]
    ManagementAudience(String),
}

/// The management audience when none is configured: the issuer followed by `/management`.
pub fn default_management_audience(issuer: &str) -> String {
    format!("{issuer}/management")
}

/// Normalises an issuer: an `http`/`https` URL without query or fragment, and without a trailing
/// slash, so that `iss` and the metadata's `issuer` are the same string and endpoint URLs are
/// `issuer + path`. The string is kept as written (the URL parser's own serialisation would
/// lower-case and re-escape it, and `iss` must stay what the operator configured).
pub fn normalize_issuer(raw: &str) -> Result<String, StartError> {
    let s = raw.trim().trim_end_matches('/');
    let refuse = || StartError::Issuer(raw.to_owned());
    // The parser drops tabs and newlines silently; an issuer must not contain any.
    if s.chars().any(char::is_whitespace) {
        return Err(refuse());
    }
    let url = url::Url::parse(s).map_err(|_| refuse())?;
    let usable = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.query().is_none()
        && url.fragment().is_none();
    if !usable {
        return Err(refuse());
    }
    Ok(s.to_owned())
}

#[derive(Serialize)]
struct Metadata<'a> {
    issuer: &'a str,
    token_endpoint: String,
    jwks_uri: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    introspection_endpoint_auth_methods_supported: [&'static str; 2],
    revocation_endpoint_auth_methods_supported: [&'static str; 2],
    grant_types_supported: [&'static str; 1],
    token_endpoint_auth_methods_supported: [&'static str; 2],
    response_types_supported: [&'static str; 0],
    scopes_supported: Vec<String>,
    id_token_signing_alg_values_supported: [&'static str; 0],
    access_token_signing_alg_values_supported: [&'static str; 1],
    /// The `resource` (RFC 8707) to ask for a management API token, and that token's `aud`.
    tessera_management_audience: &'a str,
}

impl AppState {
    /// Starts a node over `store`.
    pub async fn start(
        store: Arc<dyn Store>,
        master: &MasterKey,
        catalog: Arc<RoleCatalog>,
        clock: Arc<dyn Clock>,
        mut config: NodeConfig,
    ) -> Result<AppState, StartError> {
        config.issuer = normalize_issuer(&config.issuer)?;
        if config.metrics.enabled && !crate::telemetry::install() {
            tracing::warn!("another metrics recorder is installed; /metrics is not served");
        }
        check_master_key(store.as_ref(), master).await?;
        let directory = Arc::new(Directory::default());
        directory
            .refresh(store.as_ref())
            .await
            .map_err(CoreError::from)?;
        let keyring = Arc::new(Keyring::new(master.key_cipher(), config.max_token_ttl));
        keyring.load(store.as_ref()).await?;
        for alg in std::iter::once(config.alg).chain(config.dialects.extra_algorithms()) {
            keyring.ensure(store.as_ref(), alg, clock.now()).await?;
        }
        let usage = Arc::new(UsageRecorder::default());
        let audit = Arc::new(AuditBuffer::default());
        let admin = Admin::new(
            store.clone(),
            master.pepper(),
            catalog.clone(),
            clock.clone(),
            SecretPolicy::default(),
            audit.clone(),
        )
        .with_max_token_ttl(config.max_token_ttl);
        let default_audience = config
            .default_audience
            .clone()
            .unwrap_or_else(|| config.issuer.clone());
        let management_audience = config
            .management_audience
            .clone()
            .unwrap_or_else(|| default_management_audience(&config.issuer));
        if management_audience == default_audience {
            return Err(StartError::ManagementAudience(management_audience));
        }
        let issuer = Issuer::new(
            IssuerConfig {
                issuer: config.issuer.clone(),
                default_audience,
                management_audience,
                token_ttl: config.token_ttl,
                alg: config.alg,
            },
            IssuerDeps {
                directory: directory.clone(),
                keyring: keyring.clone(),
                catalog: catalog.clone(),
                pepper: master.pepper(),
                usage: usage.clone(),
                audit: audit.clone(),
                clock: clock.clone(),
                throttle: Arc::new(
                    Throttle::new(config.limits.throttle)
                        .with_app_token_rates(&config.limits.app_token_rates),
                ),
            },
        );
        let iss = config.issuer.as_str();
        let metadata = serde_json::to_vec_pretty(&Metadata {
            issuer: iss,
            token_endpoint: format!("{iss}/oauth2/token"),
            jwks_uri: format!("{iss}/oauth2/jwks"),
            introspection_endpoint: format!("{iss}/oauth2/introspect"),
            revocation_endpoint: format!("{iss}/oauth2/revoke"),
            introspection_endpoint_auth_methods_supported: [
                "client_secret_basic",
                "client_secret_post",
            ],
            revocation_endpoint_auth_methods_supported: [
                "client_secret_basic",
                "client_secret_post",
            ],
            grant_types_supported: ["client_credentials"],
            token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
            response_types_supported: [],
            scopes_supported: catalog.all_scopes(),
            id_token_signing_alg_values_supported: [],
            access_token_signing_alg_values_supported: [config.alg.as_str()],
            tessera_management_audience: &issuer.config().management_audience,
        })
        .map(Bytes::from)
        .map_err(|e| CoreError::Invalid(e.to_string()))?;
        Ok(AppState(Arc::new(Inner {
            issuer,
            keyring,
            directory,
            store,
            usage,
            catalog,
            clock,
            config,
            metadata,
            admin,
            audit,
            revocation_signal: tokio::sync::watch::Sender::new(0),
            hub_cipher: master.hub_cipher(),
            webhook_cipher: master.webhook_cipher(),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_issuer;

    #[test]
    fn issuers_lose_trailing_slashes_and_keep_paths() {
        assert_eq!(
            normalize_issuer("https://a.example/").unwrap(),
            "https://a.example"
        );
        assert_eq!(normalize_issuer("http://h:1/t/").unwrap(), "http://h:1/t");
        assert!(normalize_issuer("ftp://x").is_err());
        assert!(normalize_issuer("https://x?q").is_err());
        assert!(normalize_issuer("https://").is_err());
        assert!(normalize_issuer("https://x#").is_err());
        assert!(normalize_issuer("https://x/a b").is_err());
        assert!(normalize_issuer("mailto:a@b").is_err());
        assert_eq!(
            normalize_issuer(" HTTPS://A.example:443/T/ ").unwrap(),
            "HTTPS://A.example:443/T"
        );
    }
}
