//! Configuration: an optional TOML file, overridden by command-line flags and environment
//! variables. Unknown keys are errors, so a typo never silently falls back to a default.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use tessera_core::proto::Algorithm;
use tessera_core::role::RoleCatalog;
use tessera_server::dialects::config::{Common, DialectsConfig};

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Issuer URL (`iss`); default `http://` + the bound address.
    pub issuer: Option<String>,
    /// Listen address.
    pub listen: Option<String>,
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
}

/// `[dialects.*]`: every key optional; absent keys keep the seed documents' defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialectsFile {
    /// `[dialects.basys]`.
    pub basys: BasysFile,
    /// `[dialects.basiq]`.
    pub basiq: BasiqFile,
    /// `[dialects.paysecurez]`.
    pub paysecurez: CommonFile,
    /// `[dialects.ipospays]`.
    pub ipospays: IposFile,
    /// `[dialects.banked]`.
    pub banked: CommonFile,
}

/// Settings every dialect has.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommonFile {
    /// Serve the dialect (default true).
    pub enabled: Option<bool>,
    /// Path prefix such as "/basiq" (default: the document's paths).
    pub prefix: Option<String>,
    /// Token lifetime in seconds (default: the document's).
    pub token_ttl_seconds: Option<u32>,
}

/// `[dialects.basys]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasysFile {
    /// See [`CommonFile`].
    pub enabled: Option<bool>,
    /// See [`CommonFile`].
    pub prefix: Option<String>,
    /// See [`CommonFile`].
    pub token_ttl_seconds: Option<u32>,
    /// The resource id (a UUID): `resource` of the response and `aud` of the token.
    pub resource_id: Option<uuid::Uuid>,
    /// The resource URI that `scope` names (plus "/.default"); default issuer/resource_id.
    pub resource_uri: Option<String>,
}

/// `[dialects.basiq]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasiqFile {
    /// See [`CommonFile`].
    pub enabled: Option<bool>,
    /// See [`CommonFile`].
    pub prefix: Option<String>,
    /// See [`CommonFile`].
    pub token_ttl_seconds: Option<u32>,
    /// Accepted `basiq-version` values (default 2.0, 2.1, 3.0).
    pub versions: Option<Vec<String>>,
}

/// `[dialects.ipospays]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IposFile {
    /// See [`CommonFile`].
    pub enabled: Option<bool>,
    /// See [`CommonFile`].
    pub prefix: Option<String>,
    /// Default `jwtTokenExpiryMinutes`, in seconds (default 86400).
    pub token_ttl_seconds: Option<u32>,
    /// Signature algorithm (default RS256, as in the document).
    pub algorithm: Option<String>,
}

fn apply_common(
    name: &str,
    c: &mut Common,
    enabled: Option<bool>,
    prefix: &Option<String>,
    ttl: Option<u32>,
) -> Result<()> {
    if let Some(e) = enabled {
        c.enabled = e;
    }
    if let Some(p) = prefix {
        let p = p.trim_end_matches('/');
        if !p.is_empty() && (!p.starts_with('/') || p.contains(['{', '}', '*', '?', '#'])) {
            bail!("dialects.{name}.prefix must be a path starting with '/'");
        }
        c.prefix = p.to_owned();
    }
    if let Some(t) = ttl {
        if t == 0 {
            bail!("dialects.{name}.token_ttl_seconds must be at least 1");
        }
        c.token_ttl = time::Duration::seconds(i64::from(t));
    }
    Ok(())
}

impl DialectsFile {
    /// The dialect settings: the defaults with this file's overrides.
    pub fn resolve(&self) -> Result<DialectsConfig> {
        let mut d = DialectsConfig::default();
        let b = &self.basys;
        apply_common(
            "basys",
            &mut d.basys,
            b.enabled,
            &b.prefix,
            b.token_ttl_seconds,
        )?;
        if let Some(id) = b.resource_id {
            d.basys_resource_id = id;
        }
        d.basys_resource_uri = b.resource_uri.clone();
        let q = &self.basiq;
        apply_common(
            "basiq",
            &mut d.basiq,
            q.enabled,
            &q.prefix,
            q.token_ttl_seconds,
        )?;
        if let Some(v) = &q.versions {
            d.basiq_versions = v.clone();
        }
        let p = &self.paysecurez;
        apply_common(
            "paysecurez",
            &mut d.paysecurez,
            p.enabled,
            &p.prefix,
            p.token_ttl_seconds,
        )?;
        let i = &self.ipospays;
        apply_common(
            "ipospays",
            &mut d.ipospays,
            i.enabled,
            &i.prefix,
            i.token_ttl_seconds,
        )?;
        if let Some(a) = &i.algorithm {
            d.ipospays_alg = a
                .parse::<Algorithm>()
                .map_err(|e| anyhow::anyhow!("dialects.ipospays.algorithm: {e}"))?;
        }
        let k = &self.banked;
        apply_common(
            "banked",
            &mut d.banked,
            k.enabled,
            &k.prefix,
            k.token_ttl_seconds,
        )?;
        Ok(d)
    }
}

/// `[tokens]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    /// Lifetime of standard-endpoint tokens, seconds.
    pub ttl_seconds: u32,
    /// `ES256` (default), `EdDSA` or `RS256`.
    pub algorithm: String,
    /// `aud` when a client names no `resource`; the issuer by default.
    pub default_audience: Option<String>,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            ttl_seconds: 3600,
            algorithm: "ES256".into(),
            default_audience: None,
        }
    }
}

/// `[keys]`.
#[derive(Debug, Deserialize)]
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// Role name.
    pub name: String,
    /// Its scopes.
    pub scopes: Vec<String>,
}

impl FileConfig {
    /// Reads `path`, or the defaults when `None`.
    pub fn load(path: Option<&Path>) -> Result<FileConfig> {
        let Some(path) = path else {
            return Ok(FileConfig::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let cfg: FileConfig = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("config file {}: {}", path.display(), e.message()))?;
        cfg.validate()
            .with_context(|| format!("config file {}", path.display()))?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<()> {
        self.algorithm()?;
        self.catalog()?;
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
            .map_err(|e| anyhow::anyhow!("tokens.algorithm: {e}"))
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

/// The directory that holds the master key file: the SQLite database's directory.
pub fn data_dir(database_url: &str) -> Option<PathBuf> {
    let path = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or(path);
    let parent = Path::new(path).parent()?;
    Some(if parent.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        parent.to_path_buf()
    })
}
