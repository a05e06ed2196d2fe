//! The command line, as clap parses it. Ids, durations and instants are parsed here, so that a
//! malformed one is refused before anything is opened.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use tessera_core::ids::{ClientId, SecretId, TenantId, UserId};
use tessera_core::people::HubRole;
use time::{Duration, OffsetDateTime};

/// tessera: an OAuth2 client-credentials authorization server for payment APIs.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
pub struct Cli {
    /// Database URL: sqlite://PATH or postgres://USER:PASSWORD@HOST/DB. Default: SQLite under
    /// ./tessera-data.
    #[arg(long, global = true, env = "TESSERA_DATABASE_URL")]
    pub database: Option<String>,
    /// Config file (TOML).
    #[arg(long, global = true, env = "TESSERA_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the authorization server.
    Serve(ServeArgs),
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Manage applications (OAuth clients).
    #[command(subcommand)]
    App(AppCmd),
    /// Manage client secrets.
    #[command(subcommand)]
    Secret(SecretCmd),
    /// Manage the people who sign in to the Developer Hub console (/hub).
    #[command(subcommand)]
    User(UserCmd),
    /// Manage a tenant's secret-expiry webhook.
    #[command(subcommand)]
    Webhook(WebhookCmd),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Check a config file and print the effective settings (see `config check`).
    ValidateConfig,
    /// The configuration.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Read the audit log.
    Audit(AuditArgs),
    /// Write a consistent copy of the SQLite database while servers run (the master key is not
    /// in it: back that up too).
    Backup {
        /// The file to write; must not exist.
        #[arg(long)]
        to: PathBuf,
    },
    /// Replace the SQLite database with a backup; refused while a server runs on it or when the
    /// backup was made under another master key.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
    },
}

/// `serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the bound address is printed).
    #[arg(long)]
    pub listen: Option<String>,
    /// Issuer URL, the `iss` of every token. Default: http:// (https:// with TLS) + the bound
    /// address.
    #[arg(long)]
    pub issuer: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key); reloaded when it changes.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Create (or refresh) a demo tenant, application and secret, and print a curl command.
    #[arg(long)]
    pub demo: bool,
}

/// `audit` flags.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this tenant's events.
    #[arg(long)]
    pub tenant: Option<TenantId>,
    /// Only events at or after this RFC 3339 instant, or this long ago (e.g. 24h, 7d).
    #[arg(long, value_parser = since)]
    pub since: Option<Since>,
    /// At most this many, newest (default 1000).
    #[arg(long)]
    pub limit: Option<u32>,
}

/// `webhook` commands.
#[derive(Debug, Subcommand)]
pub enum WebhookCmd {
    /// Set (or replace) the tenant's webhook; prints its Standard Webhooks signing secret once.
    Set {
        /// Tenant id.
        #[arg(long)]
        tenant: TenantId,
        /// Where notices go (https).
        #[arg(long)]
        url: String,
    },
    /// Show the tenant's webhook (without its secret).
    Show {
        /// Tenant id.
        #[arg(long)]
        tenant: TenantId,
    },
    /// Remove the tenant's webhook.
    Delete {
        /// Tenant id.
        #[arg(long)]
        tenant: TenantId,
    },
}

/// `user` commands.
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Add a person to a tenant; prints a one-time link (valid 24 hours) where they set their
    /// password.
    Create {
        /// The person's tenant.
        #[arg(long)]
        tenant: TenantId,
        /// Their email address (their sign-in name).
        #[arg(long)]
        email: String,
        /// admin (everything in the tenant and the tenants below it) or viewer (read only).
        #[arg(long)]
        role: HubRole,
    },
    /// List the people of a tenant.
    List {
        /// Tenant id.
        #[arg(long)]
        tenant: TenantId,
    },
    /// A new one-time password link for a person (a lost password, an expired invitation); the
    /// previous link stops working.
    Link {
        /// User id.
        id: UserId,
    },
    /// Delete a person; their sessions end at once.
    Delete {
        /// User id.
        id: UserId,
    },
}

/// `tenant` commands.
#[derive(Debug, Subcommand)]
pub enum TenantCmd {
    /// Create a tenant.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// gateway, partner, iso, agent, merchant, ... (default merchant).
        #[arg(long)]
        kind: Option<String>,
        /// Parent tenant id.
        #[arg(long)]
        parent: Option<TenantId>,
    },
    /// List every tenant (deleted ones included, as tombstones).
    List,
    /// Show one tenant.
    Show {
        /// Tenant id.
        id: TenantId,
    },
    /// Disable a tenant: its applications get no tokens.
    Disable {
        /// Tenant id.
        id: TenantId,
    },
    /// Enable a disabled tenant.
    Enable {
        /// Tenant id.
        id: TenantId,
    },
    /// Delete a tenant (final; a tombstone remains).
    Delete {
        /// Tenant id.
        id: TenantId,
    },
}

/// `app` commands.
#[derive(Debug, Subcommand)]
pub enum AppCmd {
    /// Create an application.
    Create {
        /// Owning tenant id.
        #[arg(long)]
        tenant: TenantId,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Role from the catalog.
        #[arg(long)]
        role: String,
    },
    /// List a tenant's applications.
    List {
        /// Tenant id.
        #[arg(long)]
        tenant: TenantId,
    },
    /// Show one application and its secrets' metadata.
    Show {
        /// Client id.
        client_id: ClientId,
    },
    /// Disable an application.
    Disable {
        /// Client id.
        client_id: ClientId,
    },
    /// Enable a disabled application.
    Enable {
        /// Client id.
        client_id: ClientId,
    },
    /// Delete an application and its secrets.
    Delete {
        /// Client id.
        client_id: ClientId,
    },
}

/// `secret` commands.
#[derive(Debug, Subcommand)]
pub enum SecretCmd {
    /// Create a secret; its value is printed once and never again.
    Create {
        /// Client id.
        #[arg(long)]
        app: ClientId,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Lifetime in days (1 to 730, default 365).
        #[arg(long)]
        days: Option<u32>,
    },
    /// List an application's secrets (never their values).
    List {
        /// Client id.
        #[arg(long)]
        app: ClientId,
    },
    /// Delete a secret.
    Delete {
        /// Client id.
        #[arg(long)]
        app: ClientId,
        /// Secret id.
        secret_id: SecretId,
    },
    /// Create a new secret and cut the old one's expiry to now + grace, in one transaction.
    Rotate {
        /// Client id.
        #[arg(long)]
        app: ClientId,
        /// The secret to replace.
        secret_id: SecretId,
        /// How long the old secret keeps working (e.g. 24h, 30m, 2d; default 24h).
        #[arg(long, default_value = "24h", value_parser = duration)]
        grace: Duration,
    },
    /// Secrets that expire soon, across every tenant.
    Expiring {
        /// The window (e.g. 14d, 36h); default `[expiry] warning_days` (14d unless configured).
        #[arg(long, value_parser = duration)]
        within: Option<Duration>,
        /// Only this tenant's.
        #[arg(long)]
        tenant: Option<TenantId>,
    },
}

/// `config` commands.
#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Validate the settings (FILE, else --config or TESSERA_CONFIG, under the TESSERA_*
    /// variables) and print each with its value and source; the database password is masked.
    Check {
        /// The config file to check.
        file: Option<PathBuf>,
    },
}

/// `keys` commands.
#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Add a key that is published at once and signs after the rotation delay.
    Rotate {
        /// Algorithm (default: the configured one).
        #[arg(long)]
        alg: Option<String>,
        /// Seconds before the new key signs (default: keys.rotation_delay_seconds).
        #[arg(long)]
        delay_seconds: Option<u32>,
    },
    /// List keys and their phase (next, current, previous, retired).
    List,
}

/// Parses a duration such as `90s`, `30m`, `24h` or `14d` (humantime's syntax). A bare number is
/// refused: it used to mean hours, and guessing a unit is how a grace period ends up 60 times
/// too short.
pub fn duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{s} needs a unit, as in {s}h or {s}d"));
    }
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("not a duration such as 30m, 24h or 14d ({e})"))?;
    Duration::try_from(d).map_err(|_| "the duration is too long".to_owned())
}

/// Where an audit listing starts: an instant, or a duration before now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// From this instant.
    At(OffsetDateTime),
    /// From this long before now.
    Ago(Duration),
}

impl Since {
    /// The instant, given the time now.
    pub fn resolve(self, now: OffsetDateTime) -> OffsetDateTime {
        match self {
            Since::At(t) => t,
            Since::Ago(d) => now - d,
        }
    }
}

/// Parses `--since`: an RFC 3339 instant, else a duration.
pub fn since(s: &str) -> Result<Since, String> {
    match OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        Ok(t) => Ok(Since::At(t)),
        Err(_) => duration(s)
            .map(Since::Ago)
            .map_err(|_| "not an RFC 3339 instant or a duration such as 24h or 7d".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(duration("24h"), Ok(Duration::hours(24)));
        assert_eq!(duration("14d"), Ok(Duration::days(14)));
        assert_eq!(duration("0s"), Ok(Duration::ZERO));
        assert!(duration("24").is_err_and(|e| e.contains("24h")));
        assert!(duration("soon").is_err());
        assert_eq!(
            since("2026-01-02T03:04:05Z").map(|s| s.resolve(OffsetDateTime::UNIX_EPOCH)),
            Ok(time::macros::datetime!(2026-01-02 03:04:05 UTC))
        );
        assert_eq!(since("1h"), Ok(Since::Ago(Duration::hours(1))));
    }
}
