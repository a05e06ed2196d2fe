//! Per-dialect settings: each dialect can be switched off, moved under a path prefix, and given
//! its own token lifetime. The defaults are the seed documents'.

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
    fn on(ttl_seconds: i64) -> Self {
        Common {
            enabled: true,
            prefix: String::new(),
            token_ttl: Duration::seconds(ttl_seconds),
        }
    }
}

/// The Basys resource in the document's sample scope and response.
pub const BASYS_DOCUMENT_RESOURCE_ID: Uuid = uuid::uuid!("8939cd8f-0b21-4654-8f4d-ee01706dc3d6");

/// Settings of every dialect.
#[derive(Debug, Clone)]
pub struct DialectsConfig {
    /// Basys / IQPro.
    pub basys: Common,
    /// The resource id: the `resource` of the response and the tokens' `aud`.
    pub basys_resource_id: Uuid,
    /// The resource URI; `scope` must be this plus `/.default`. Default: issuer/resource id.
    pub basys_resource_uri: Option<String>,
    /// Basiq.
    pub basiq: Common,
    /// Accepted `basiq-version` values.
    pub basiq_versions: Vec<String>,
    /// PaySecureZ.
    pub paysecurez: Common,
    /// iPOSpays (its lifetime is the default of `jwtTokenExpiryMinutes`).
    pub ipospays: Common,
    /// The algorithm iPOSpays tokens are signed with (the document's: RS256).
    pub ipospays_alg: Algorithm,
    /// Banked.
    pub banked: Common,
}

impl Default for DialectsConfig {
    fn default() -> Self {
        DialectsConfig {
            basys: Common::on(10_080),
            basys_resource_id: BASYS_DOCUMENT_RESOURCE_ID,
            basys_resource_uri: None,
            basiq: Common::on(3_600),
            basiq_versions: vec!["2.0".into(), "2.1".into(), "3.0".into()],
            paysecurez: Common::on(1_800),
            ipospays: Common::on(86_400),
            ipospays_alg: Algorithm::Rs256,
            banked: Common::on(7_200),
        }
    }
}

impl DialectsConfig {
    /// The longest lifetime any enabled dialect may issue.
    pub fn max_ttl(&self) -> Duration {
        [
            &self.basys,
            &self.basiq,
            &self.paysecurez,
            &self.ipospays,
            &self.banked,
        ]
        .iter()
        .filter(|c| c.enabled)
        .map(|c| c.token_ttl)
        .max()
        .unwrap_or(Duration::ZERO)
    }

    /// The algorithms the enabled dialects sign with, beyond the default one.
    pub fn extra_algorithms(&self) -> Vec<Algorithm> {
        if self.ipospays.enabled {
            vec![self.ipospays_alg]
        } else {
            Vec::new()
        }
    }
}
