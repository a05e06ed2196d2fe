//! Configuration: an optional TOML file, overridden by command-line flags and environment
//! variables. Unknown keys are errors, so a typo never silently falls back to a default.

use crate::layers::{self, Source, Sources};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use tessera_core::proto::Algorithm;
use tessera_core::role::RoleCatalog;
use tessera_server::dialects::config::DialectsConfig;

/// The config file.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Issuer URL (`iss`); default `http://` + the bound address.
    pub issuer: Option<String>,
    /// Listen address.
    pub listen: Option<String>,
    /// `json` or `pretty` (default); `TESSERA_LOG_FORMAT` overrides it.
    pub log_format: Option<String>,
    /// HTTPS certificate chain (PEM); with `tls_key`. Reloaded when the file changes.
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key (PEM) of `tls_cert`.
    pub tls_key: Option<std::path::PathBuf>,
    /// Database URL.
    pub database: Option<String>,
    /// How often a node polls the database's change counter, in milliseconds (default 250):
    /// changes made elsewhere take effect within this long. With PostgreSQL, LISTEN/NOTIFY
    /// usually delivers them sooner; the poll is the safety net.
    pub poll_interval_ms: Option<u32>,
    /// Token settings.
    #[serde(default)]
    pub tokens: TokenConfig,
    /// Signing key settings.
    #[serde(default)]
    pub keys: KeyConfig,
    /// Roles added to (or replacing) the default catalog.
    #[serde(default)]
    pub roles: Vec<RoleConfig>,
    /// The provider dialects.
    #[serde(default)]
    pub dialects: DialectsFile,
    /// Brute-force protection, rate limits, connection caps, trusted proxies.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The audit log.
    #[serde(default)]
    pub audit: AuditConfig,
    /// Prometheus metrics.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Warnings of secrets about to expire.
    #[serde(default)]
    pub expiry: ExpiryConfig,
    /// Secret-expiry webhooks.
    #[serde(default)]
    pub webhooks: WebhooksConfig,
}

/// `[webhooks]`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Let webhook URLs use plain http and name private, loopback or link-local destinations
    /// (default false: a tenant's URL must not reach the operator's internal network).
    pub allow_private_addresses: bool,
    /// How often expiring secrets are looked for, in seconds (default 3600; 1 to 86400). Each
    /// secret gets at most one notice a day whatever the interval.
    pub check_interval_seconds: u32,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            allow_private_addresses: false,
            check_interval_seconds: 3_600,
        }
    }
}

impl WebhooksConfig {
    /// The node's webhook settings.
    pub fn resolve(&self) -> Result<tessera_server::webhooks::WebhookSettings> {
        if !(1..=86_400).contains(&self.check_interval_seconds) {
            bail!("webhooks.check_interval_seconds must be between 1 and 86400");
        }
        Ok(tessera_server::webhooks::WebhookSettings {
            allow_private: self.allow_private_addresses,
            interval: std::time::Duration::from_secs(u64::from(self.check_interval_seconds)),
        })
    }
}

/// `[expiry]`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExpiryConfig {
    /// A secret expiring within this many days counts as expiring soon: in
    /// `tessera_secrets_expiring`, `tessera secret expiring` and `GET /secrets/expiring` by
    /// default. 14: the rotation notice the Basys document asks integrators to keep.
    pub warning_days: u32,
}

impl Default for ExpiryConfig {
    fn default() -> Self {
        ExpiryConfig { warning_days: 14 }
    }
}

impl ExpiryConfig {
    /// The window.
    pub fn window(&self) -> Result<time::Duration> {
        if !(1..=730).contains(&self.warning_days) {
            bail!("expiry.warning_days must be between 1 and 730");
        }
        Ok(time::Duration::days(i64::from(self.warning_days)))
    }
}

/// `[metrics]`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Record metrics and serve them at `GET /metrics` (default true).
    pub enabled: bool,
    /// Serve `/metrics` on this address instead of the main listener (e.g. `127.0.0.1:9464`),
    /// so that it is not exposed where tokens are.
    pub listen: Option<String>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            listen: None,
        }
    }
}

impl MetricsConfig {
    /// The node's metrics settings.
    pub fn resolve(&self) -> Result<tessera_server::telemetry::MetricsSettings> {
        if self.listen.is_some() && !self.enabled {
            bail!("metrics.listen is set but metrics.enabled is false");
        }
        Ok(tessera_server::telemetry::MetricsSettings {
            enabled: self.enabled,
            own_listener: self.listen.is_some(),
        })
    }
}

/// `[audit]`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Events older than this many days are deleted, at start and then hourly; 0 keeps them
    /// forever. Default 400: a year of history with a month to spare for a yearly review.
    pub retention_days: u32,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            retention_days: 400,
        }
    }
}

impl AuditConfig {
    /// The longest retention accepted: a century.
    pub const MAX_RETENTION_DAYS: u32 = 36_500;

    /// How long audit events are kept; `None`: forever.
    pub fn retention(&self) -> Result<Option<time::Duration>> {
        match self.retention_days {
            0 => Ok(None),
            d if d > Self::MAX_RETENTION_DAYS => bail!(
                "audit.retention_days must be at most {} (0 keeps events forever)",
                Self::MAX_RETENTION_DAYS
            ),
            d => Ok(Some(time::Duration::days(i64::from(d)))),
        }
    }
}

/// `[limits]`. Failed authentications are counted per source address and per client id from
/// that address, never per client id alone, so an attacker cannot lock out an owner calling
/// from elsewhere.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Failed authentications of one client id from one address per window before 429.
    pub failures_per_client_address: u32,
    /// Failed authentications from one address (any client id) per window before 429.
    pub failures_per_address: u32,
    /// The window, seconds.
    pub failure_window_seconds: u32,
    /// Tokens per second one application may get (0: no limit).
    pub tokens_per_second_per_app: u32,
    /// RFC 7009 revocations per minute per client (0: no limit).
    pub revocations_per_minute_per_client: u32,
    /// Open connections overall.
    pub max_connections: u32,
    /// Open connections from one address (0: no cap; set it to 0 or high behind a load
    /// balancer that is not in `trusted_proxies`).
    pub max_connections_per_address: u32,
    /// Networks of the proxies in front (e.g. `["10.0.0.0/8"]`): only their
    /// `Forwarded`/`X-Forwarded-For` headers name the client address.
    pub trusted_proxies: Vec<String>,
    /// `[limits.app_token_rates]`: client id = tokens per second for that application (0: no
    /// limit), instead of `tokens_per_second_per_app`.
    pub app_token_rates: BTreeMap<String, u32>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let t = tessera_server::limits::ThrottleConfig::default();
        let c = tessera_server::limits::ConnectionLimits::default();
        LimitsConfig {
            failures_per_client_address: t.per_client_address,
            failures_per_address: t.per_address,
            failure_window_seconds: u32::try_from(t.window.as_secs()).unwrap_or(60),
            tokens_per_second_per_app: t.tokens_per_second_per_app,
            revocations_per_minute_per_client: t.revocations_per_minute_per_client,
            max_connections: u32::try_from(c.max_total).unwrap_or(u32::MAX),
            max_connections_per_address: u32::try_from(c.max_per_address).unwrap_or(u32::MAX),
            trusted_proxies: Vec::new(),
            app_token_rates: BTreeMap::new(),
        }
    }
}

impl LimitsConfig {
    /// The server's limits.
    pub fn resolve(&self) -> Result<tessera_server::limits::Limits> {
        if self.failure_window_seconds == 0 {
            bail!("limits.failure_window_seconds must be at least 1");
        }
        if self.max_connections == 0 {
            bail!("limits.max_connections must be at least 1");
        }
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .with_context(|| {
                        format!("limits.trusted_proxies: {s:?} is not an address or network")
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let app_token_rates = self
            .app_token_rates
            .iter()
            .map(|(id, per)| {
                let id = id.parse().with_context(|| {
                    format!("limits.app_token_rates: {id:?} is not a client id")
                })?;
                Ok((id, *per))
            })
            .collect::<Result<Vec<_>>>()?;
        let defaults = tessera_server::limits::ThrottleConfig::default();
        Ok(tessera_server::limits::Limits {
            throttle: tessera_server::limits::ThrottleConfig {
                per_client_address: self.failures_per_client_address,
                per_address: self.failures_per_address,
                window: std::time::Duration::from_secs(u64::from(self.failure_window_seconds)),
                tokens_per_second_per_app: self.tokens_per_second_per_app,
                revocations_per_minute_per_client: self.revocations_per_minute_per_client,
                ..defaults
            },
            connections: tessera_server::limits::ConnectionLimits {
                max_total: self.max_connections as usize,
                max_per_address: self.max_connections_per_address as usize,
            },
            trusted_proxies,
            app_token_rates,
        })
    }
}

/// `[dialects.NAME]`: every key optional; absent keys keep the seed documents' defaults. Each
/// dialect reads its own section (`tessera_server::dialects::REGISTRY` lists them and their
/// keys), so unknown sections and keys are still errors.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub struct DialectsFile(BTreeMap<String, serde_json::Value>);

impl DialectsFile {
    /// The dialect settings: the defaults with this file's overrides.
    pub fn resolve(&self) -> Result<DialectsConfig> {
        let sections = self.0.iter().map(|(name, s)| (name.as_str(), s));
        Ok(DialectsConfig::from_sections(sections)?)
    }
}

/// `[tokens]`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    /// Lifetime of standard-endpoint tokens, seconds.
    pub ttl_seconds: u32,
    /// `ES256` (default), `EdDSA` or `RS256`.
    pub algorithm: String,
    /// `aud` when a client names no `resource`; the issuer by default.
    pub default_audience: Option<String>,
    /// The management API's audience (the `resource` a client asks for a management token);
    /// the issuer followed by `/management` by default. Never the default audience.
    pub management_audience: Option<String>,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            ttl_seconds: 3600,
            algorithm: "ES256".into(),
            default_audience: None,
            management_audience: None,
        }
    }
}

impl TokenConfig {
    /// Refuses a management audience equal to the default audience, as far as the file settles
    /// them (without an issuer in the file, `serve` checks again once it knows its own).
    pub fn check_audiences(&self, issuer: Option<&str>) -> Result<()> {
        let issuer = issuer.map(|i| i.trim().trim_end_matches('/'));
        let default = self.default_audience.as_deref().or(issuer);
        let management = self
            .management_audience
            .clone()
            .or_else(|| issuer.map(tessera_server::state::default_management_audience));
        if let (Some(d), Some(m)) = (default, management)
            && d == m
        {
            bail!(
                "tokens.management_audience {m:?} equals the default audience: a token for a payment API could then be replayed against the management API"
            );
        }
        if let Some(m) = &self.management_audience
            && !tessera_server::dialects::rfc6749::is_absolute_uri(m)
        {
            bail!("tokens.management_audience {m:?} is not an absolute URI");
        }
        Ok(())
    }
}

/// `[keys]`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeyConfig {
    /// How long a rotated-in key is published before it signs, seconds. Must exceed how long
    /// resource servers cache the JWKS (tessera sends `max-age=300`).
    pub rotation_delay_seconds: u32,
    /// Rotate automatically when the current key is this many days old; 0 disables.
    pub rotation_interval_days: u32,
    /// The longest lifetime of any token issued (keeps previous keys published), seconds.
    pub max_token_ttl_seconds: u32,
}

impl Default for KeyConfig {
    fn default() -> Self {
        KeyConfig {
            rotation_delay_seconds: 3600,
            rotation_interval_days: 0,
            max_token_ttl_seconds: 86_400,
        }
    }
}

/// `[[roles]]`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// Role name.
    pub name: String,
    /// Its scopes.
    pub scopes: Vec<String>,
}

impl FileConfig {
    /// Reads the file at `path` (if any), then the `TESSERA_*` variables of `env` over it (see
    /// [`crate::layers`]); returns the settings and where each came from.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> Result<(FileConfig, Sources)> {
        let text = path
            .map(|p| {
                std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read config file {}", p.display()))
            })
            .transpose()?;
        let file = path.map(|p| p.display().to_string());
        FileConfig::parse(file.as_deref().zip(text.as_deref()), env)
    }

    /// [`FileConfig::load`] on text already read: `file` is the file's name and contents, if
    /// there is a file. Every problem is an error, never a panic (fuzzed: `fuzz/`, target
    /// `config`).
    pub fn parse(
        file: Option<(&str, &str)>,
        env: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> Result<(FileConfig, Sources)> {
        let mut sources = Sources::default();
        let mut tree = Value::Object(Map::new());
        if let Some((name, text)) = file {
            // Only the parser's message, not the error itself: its Display quotes the offending
            // line, which may be the database URL with its password. Parsed as the typed config
            // first, so that the message names the file's line and key.
            let parse_error =
                |e: toml::de::Error| anyhow::anyhow!("config file {name}: {}", e.message());
            toml::from_str::<FileConfig>(text).map_err(parse_error)?;
            let table: toml::Table = toml::from_str(text).map_err(parse_error)?;
            tree = serde_json::to_value(table)?;
            sources.mark_leaves(&tree, &Source::File(name.to_owned()));
        }
        let shape = serde_json::to_value(FileConfig::default())?;
        let vars = layers::apply_env(&mut tree, &shape, env, &mut sources)?;
        let origin = match (file, vars.is_empty()) {
            (Some((p, _)), true) => format!("config file {p}"),
            (Some((p, _)), false) => format!("config file {p} with {}", vars.join(", ")),
            (None, _) => format!("settings from {}", vars.join(", ")),
        };
        let cfg: FileConfig =
            serde_json::from_value(tree).map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
        cfg.validate().with_context(|| origin)?;
        Ok((cfg, sources))
    }

    fn validate(&self) -> Result<()> {
        if let Some(f) = &self.log_format
            && !matches!(f.as_str(), "json" | "pretty")
        {
            bail!("log_format {f:?}: use json or pretty");
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            bail!("tls_cert and tls_key go together");
        }
        self.algorithm()?;
        self.catalog()?;
        self.tokens.check_audiences(self.issuer.as_deref())?;
        if self
            .poll_interval_ms
            .is_some_and(|p| !(10..=60_000).contains(&p))
        {
            bail!("poll_interval_ms must be between 10 and 60000");
        }
        if self.tokens.ttl_seconds == 0 {
            bail!("tokens.ttl_seconds must be at least 1");
        }
        if self.tokens.ttl_seconds > self.keys.max_token_ttl_seconds {
            bail!("tokens.ttl_seconds exceeds keys.max_token_ttl_seconds");
        }
        let max = time::Duration::seconds(i64::from(self.keys.max_token_ttl_seconds));
        self.limits.resolve()?;
        self.audit.retention()?;
        self.metrics.resolve()?;
        self.expiry.window()?;
        self.webhooks.resolve()?;
        if self.dialects.resolve()?.max_ttl() > max {
            bail!("a dialect's token_ttl_seconds exceeds keys.max_token_ttl_seconds");
        }
        Ok(())
    }

    /// The signing algorithm.
    pub fn algorithm(&self) -> Result<Algorithm> {
        self.tokens
            .algorithm
            .parse::<Algorithm>()
            .context("tokens.algorithm")
    }

    /// The default catalog plus the configured roles.
    pub fn catalog(&self) -> Result<RoleCatalog> {
        let mut c = RoleCatalog::default();
        for r in &self.roles {
            c.define(&r.name, &r.scopes)?;
        }
        Ok(c)
    }
}

/// The default database: SQLite under `./tessera-data`.
pub const DEFAULT_DATABASE: &str = "sqlite://tessera-data/tessera.db";
