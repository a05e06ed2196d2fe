//! Per-dialect settings: each dialect can be switched off, moved under a path prefix, and given
//! its own token lifetime (`[dialects.NAME]` with `enabled`, `prefix`, `token_ttl_seconds`), and
//! some have settings of their own in the same section. The defaults are the seed documents'.
//! Which dialects there are, and their defaults, come from [`super::REGISTRY`].

use super::REGISTRY;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tessera_core::proto::Algorithm;
use time::Duration;
use uuid::Uuid;

/// What every dialect has.
#[derive(Debug, Clone)]
pub struct Common {
    /// Serve this dialect at all.
    pub enabled: bool,
    /// Path prefix, e.g. `/basiq` (empty: at the document's own paths).
    pub prefix: String,
    /// Token lifetime.
    pub token_ttl: Duration,
}

impl Common {
    fn on(token_ttl: Duration) -> Self {
        Common {
            enabled: true,
            prefix: String::new(),
            token_ttl,
        }
    }
}

/// What [`DialectsConfig::common`] answers for a name that is not registered: nothing served.
static UNREGISTERED: Common = Common {
    enabled: false,
    prefix: String::new(),
    token_ttl: Duration::ZERO,
};

/// The Basys resource in the document's sample scope and response.
pub const BASYS_DOCUMENT_RESOURCE_ID: Uuid = uuid::uuid!("8939cd8f-0b21-4654-8f4d-ee01706dc3d6");

/// Settings of every dialect.
#[derive(Debug, Clone)]
pub struct DialectsConfig {
    /// The common settings, one per registered dialect, in [`REGISTRY`] order.
    common: Vec<Common>,
    /// Basys: the resource id, the `resource` of the response and the tokens' `aud`.
    pub basys_resource_id: Uuid,
    /// Basys: the resource URI; `scope` must be this plus `/.default`. Default: issuer/resource
    /// id.
    pub basys_resource_uri: Option<String>,
    /// Basiq: accepted `basiq-version` values.
    pub basiq_versions: Vec<String>,
    /// iPOSpays: the algorithm its tokens are signed with (the document's: RS256).
    pub ipospays_alg: Algorithm,
    /// iPOSpays: how long after the client presented its secret refreshes stop (default 24 h,
    /// the longest lifetime the document allows).
    pub ipospays_refresh_max_age: Duration,
}

impl Default for DialectsConfig {
    fn default() -> Self {
        DialectsConfig {
            common: REGISTRY.iter().map(|d| Common::on(d.default_ttl)).collect(),
            basys_resource_id: BASYS_DOCUMENT_RESOURCE_ID,
            basys_resource_uri: None,
            basiq_versions: vec!["2.0".into(), "2.1".into(), "3.0".into()],
            ipospays_alg: Algorithm::Rs256,
            ipospays_refresh_max_age: Duration::hours(24),
        }
    }
}

impl DialectsConfig {
    /// The common settings of the dialect called `name` (switched off if there is none).
    pub fn common(&self, name: &str) -> &Common {
        REGISTRY
            .iter()
            .position(|d| d.name == name)
            .and_then(|i| self.common.get(i))
            .unwrap_or(&UNREGISTERED)
    }

    fn common_mut(&mut self, name: &str) -> Option<&mut Common> {
        let i = REGISTRY.iter().position(|d| d.name == name)?;
        self.common.get_mut(i)
    }

    /// The longest lifetime any enabled dialect may issue.
    pub fn max_ttl(&self) -> Duration {
        self.common
            .iter()
            .filter(|c| c.enabled)
            .map(|c| c.token_ttl)
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// The algorithms the enabled dialects sign with, beyond the default one.
    pub fn extra_algorithms(&self) -> Vec<Algorithm> {
        REGISTRY
            .iter()
            .filter(|d| self.common(d.name).enabled)
            .filter_map(|d| (d.algorithm)(self))
            .collect()
    }

    /// The defaults with the `[dialects.*]` sections of a config file, given as name and
    /// section. An unknown name, an unknown key or a bad value is refused.
    pub fn from_sections<'a>(
        sections: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ) -> Result<DialectsConfig, ConfigError> {
        let sections: Vec<(&str, &Value)> = sections.into_iter().collect();
        let names: Vec<&'static str> = REGISTRY.iter().map(|d| d.name).collect();
        if let Some((unknown, _)) = sections.iter().find(|(n, _)| !names.contains(n)) {
            return Err(ConfigError(format!(
                "unknown dialect [dialects.{unknown}]; the dialects are {}",
                names.join(", ")
            )));
        }
        let mut d = DialectsConfig::default();
        for dialect in REGISTRY {
            if let Some((_, section)) = sections.iter().find(|(n, _)| *n == dialect.name) {
                (dialect.configure)(&mut d, dialect.name, section)?;
            }
        }
        Ok(d)
    }
}

/// A `[dialects.*]` section that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The keys every section has.
pub const COMMON_KEYS: [&str; 3] = ["enabled", "prefix", "token_ttl_seconds"];

/// A section: the common keys, and the dialect's own (`X`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Section<X> {
    enabled: Option<bool>,
    prefix: Option<String>,
    token_ttl_seconds: Option<u32>,
    #[serde(flatten)]
    own: X,
}

/// No keys beyond the common ones.
#[derive(Debug, Default, Deserialize)]
pub struct NoOwnKeys {}

/// Reads the section of dialect `name`, whose keys are `keys` (the common ones and its own),
/// applies the common settings and returns the dialect's own.
pub fn read_section<X: DeserializeOwned + Default>(
    d: &mut DialectsConfig,
    name: &str,
    keys: &'static [&'static str],
    section: &Value,
) -> Result<X, ConfigError> {
    let fail = |e: &dyn std::fmt::Display| ConfigError(format!("dialects.{name}: {e}"));
    let Value::Object(map) = section else {
        return Err(fail(&"must be a table"));
    };
    if let Some(k) = map.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(fail(
            &<serde_json::Error as serde::de::Error>::unknown_field(k, keys),
        ));
    }
    let s: Section<X> = serde_json::from_value(section.clone()).map_err(|e| fail(&e))?;
    let c = d
        .common_mut(name)
        .ok_or_else(|| ConfigError(format!("unknown dialect {name}")))?;
    if let Some(e) = s.enabled {
        c.enabled = e;
    }
    if let Some(p) = &s.prefix {
        let p = p.trim_end_matches('/');
        if !p.is_empty() && (!p.starts_with('/') || p.contains(['{', '}', '*', '?', '#'])) {
            return Err(ConfigError(format!(
                "dialects.{name}.prefix must be a path starting with '/'"
            )));
        }
        c.prefix = p.to_owned();
    }
    if let Some(t) = s.token_ttl_seconds {
        if t == 0 {
            return Err(ConfigError(format!(
                "dialects.{name}.token_ttl_seconds must be at least 1"
            )));
        }
        c.token_ttl = Duration::seconds(i64::from(t));
    }
    Ok(s.own)
}

/// [`super::Dialect::configure`] of a dialect with the common keys only.
pub fn common_only(d: &mut DialectsConfig, name: &str, section: &Value) -> Result<(), ConfigError> {
    read_section::<NoOwnKeys>(d, name, &COMMON_KEYS, section).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_registered_dialect_counts_for_max_ttl() {
        let d = DialectsConfig::default();
        let longest = REGISTRY.iter().map(|x| x.default_ttl).max();
        assert_eq!(Some(d.max_ttl()), longest);
        assert_eq!(d.extra_algorithms(), vec![Algorithm::Rs256]);
    }

    #[test]
    fn sections_are_strict() {
        let ok = json!({"enabled": false, "prefix": "/q/", "token_ttl_seconds": 5});
        let d = DialectsConfig::from_sections([("basiq", &ok)]).unwrap();
        let c = d.common("basiq");
        assert!(!c.enabled);
        assert_eq!(c.prefix, "/q");
        assert_eq!(c.token_ttl, Duration::seconds(5));
        let typo = json!({"enable": false});
        let e = DialectsConfig::from_sections([("banked", &typo)]).unwrap_err();
        assert!(e.0.contains("unknown field `enable`"), "{e}");
        let own = json!({"versions": ["9"]});
        let d = DialectsConfig::from_sections([("basiq", &own)]).unwrap();
        assert_eq!(d.basiq_versions, vec!["9".to_owned()]);
        assert!(DialectsConfig::from_sections([("banked", &own)]).is_err());
        assert!(DialectsConfig::from_sections([("nope", &ok)]).is_err());
    }
}
