//! `tessera keys`: signing keys, straight through the key ring. Like the scheduled rotation, a
//! rotation from here writes no audit record: the log covers tenants, applications, secrets and
//! authentication.

use super::open_checked;
use crate::args::KeysCmd;
use crate::output::to_json;
use crate::settings::Settings;
use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::keyring::Keyring;
use tessera_core::keys::KeyPhase;
use tessera_core::proto::Algorithm;
use time::{Duration, OffsetDateTime};

/// A key just added.
#[derive(Serialize)]
struct Rotated<'a> {
    kid: &'a str,
    alg: Algorithm,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    activates_at: OffsetDateTime,
}

/// A key and where it stands.
#[derive(Serialize)]
struct Listed<'a> {
    kid: &'a str,
    alg: Algorithm,
    #[serde(with = "time::serde::rfc3339")]
    activates_at: OffsetDateTime,
    phase: KeyPhase,
}

/// Runs a `keys` command.
pub async fn run(s: &Settings, c: KeysCmd) -> Result<Value> {
    let (store, master) = open_checked(s).await?;
    let now = SystemClock.now();
    match c {
        KeysCmd::Rotate { alg, delay_seconds } => {
            let alg = match alg {
                Some(a) => a.parse::<Algorithm>().context("--alg")?,
                None => s.file.algorithm()?,
            };
            let delay = delay_seconds.unwrap_or(s.file.keys.rotation_delay_seconds);
            let cipher = master.key_cipher();
            let delay = Duration::seconds(i64::from(delay));
            let rec = Keyring::rotate(&cipher, store.as_ref(), alg, now, delay).await?;
            to_json(&Rotated {
                kid: &rec.kid,
                alg: rec.alg,
                created_at: rec.created_at,
                activates_at: rec.activates_at,
            })
        }
        KeysCmd::List => {
            let ring = Keyring::new(master.key_cipher(), s.max_token_ttl());
            ring.load(store.as_ref()).await?;
            let set = ring.snapshot();
            let rows: Vec<_> = set
                .phases(now, s.max_token_ttl())
                .into_iter()
                .map(|(k, phase)| Listed {
                    kid: k.kid(),
                    alg: k.alg(),
                    activates_at: k.activates_at(),
                    phase,
                })
                .collect();
            to_json(&rows)
        }
    }
}
