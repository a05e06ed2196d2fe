//! Brute-force protection: failed client authentications counted per source address and per
//! client id from that address, in bounded memory.
//!
//! Every endpoint that checks a secret goes through [`crate::issue::Issuer::authenticate`], which
//! asks [`Throttle::check`] before comparing and reports failures with [`Throttle::failed`]. A
//! caller past a threshold is refused (429, `Retry-After`) without its secret being looked at.
//! The counters are keyed by address and by (client id, address), never by client id alone: an
//! attacker hammering a client id from one address must not lock out its owner calling from
//! another. IPv6 addresses count by their /64, which is what one subscriber usually holds.
//!
//! Written by hand rather than with `governor`: a successful request must never consume
//! anything (so a busy, legitimate client is never throttled by this), which needs a look at a
//! key's state without charging it, and the key space (made-up client ids times addresses) is
//! the attacker's to choose, so the table needs a hard size cap with eviction rather than a
//! periodic `retain_recent`.

use crate::ids::ClientId;
use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Thresholds. A bucket fills by one per failure and drains at `limit / window`; a caller whose
/// bucket holds `limit` is refused until it has drained below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures allowed per (client id, address) within `window` (0: off).
    pub per_client_address: u32,
    /// Failures allowed per address within `window`, whatever the client ids (0: off).
    pub per_address: u32,
    /// The window the limits are counted over.
    pub window: Duration,
    /// Most buckets kept at once (about 40 bytes each); beyond it the oldest are dropped.
    pub max_entries: usize,
    /// Tokens per second one application may obtain, across dialects (0: no limit).
    pub tokens_per_second_per_app: u32,
    /// RFC 7009 revocations per minute one client may make (0: no limit). Each one is a write
    /// that every node and guard must hold until the token expires.
    pub revocations_per_minute_per_client: u32,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            per_client_address: 30,
            per_address: 300,
            window: Duration::from_secs(60),
            max_entries: 500_000,
            tokens_per_second_per_app: 0,
            revocations_per_minute_per_client: 60,
        }
    }
}

/// A refusal: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// How long until an attempt would be considered again (at least one second).
    pub retry_after: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f32,
    /// Milliseconds since the throttle started.
    at: u64,
}

const SHARDS: usize = 16;

type ClientRate = governor::DefaultKeyedRateLimiter<ClientId>;

/// A rate per authenticated client. Only clients that proved a secret reach these, so the keys
/// are bounded by the directory, and [`Throttle::forget_idle`] drops idle ones.
fn client_rate(per: u32, period: Duration) -> Option<ClientRate> {
    let n = std::num::NonZeroU32::new(per)?;
    let quota = governor::Quota::with_period(period / per)?.allow_burst(n);
    Some(governor::RateLimiter::keyed(quota))
}

fn rate_check(rate: Option<&ClientRate>, id: &ClientId) -> Result<(), Throttled> {
    match rate.map(|r| r.check_key(id)) {
        None | Some(Ok(())) => Ok(()),
        Some(Err(not_until)) => {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            Err(Throttled {
                retry_after: Duration::from_secs(wait.as_secs() + 1),
            })
        }
    }
}

/// Failed-attempt counters and per-client rates. Cheap when nobody fails: `check` returns at
/// once while the table is empty.
pub struct Throttle {
    config: ThrottleConfig,
    tokens: Option<ClientRate>,
    /// Per-application token rates that replace `tokens` for those applications (`None`: no
    /// limit for that one).
    app_tokens: HashMap<ClientId, Option<ClientRate>>,
    revocations: Option<ClientRate>,
    hasher: RandomState,
    shards: [Mutex<HashMap<u64, Bucket>>; SHARDS],
    entries: AtomicUsize,
    start: Instant,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("config", &self.config)
            .field("entries", &self.entries.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new(ThrottleConfig::default())
    }
}

/// What a bucket counts.
#[derive(Hash)]
enum Key {
    Address(IpAddr),
    /// A client id, or a console account (its email), from one address: the hash of who.
    WhoAddress(u64, IpAddr),
}

/// The part of an address one party usually holds: all of IPv4, the /64 of IPv6.
fn holder(ip: Option<IpAddr>) -> IpAddr {
    match ip {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let seg = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(
                    seg[0], seg[1], seg[2], seg[3], 0, 0, 0, 0,
                ))
            }
        },
        Some(v4) => v4,
        None => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
    }
}

impl Throttle {
    /// A throttle with these thresholds.
    pub fn new(config: ThrottleConfig) -> Self {
        Throttle {
            tokens: client_rate(config.tokens_per_second_per_app, Duration::from_secs(1)),
            app_tokens: HashMap::new(),
            revocations: client_rate(
                config.revocations_per_minute_per_client,
                Duration::from_secs(60),
            ),
            config,
            hasher: RandomState::new(),
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            entries: AtomicUsize::new(0),
            start: Instant::now(),
        }
    }

    /// The thresholds.
    pub fn config(&self) -> &ThrottleConfig {
        &self.config
    }

    /// Whether an authenticated application may get another token now.
    pub fn token(&self, client: &ClientId) -> Result<(), Throttled> {
        match self.app_tokens.get(client) {
            Some(own) => rate_check(own.as_ref(), client),
            None => rate_check(self.tokens.as_ref(), client),
        }
    }

    /// Gives some applications their own token rate per second (0: no limit), instead of
    /// `tokens_per_second_per_app`.
    pub fn with_app_token_rates(mut self, rates: &[(ClientId, u32)]) -> Self {
        self.app_tokens = rates
            .iter()
            .map(|(id, per)| (*id, client_rate(*per, Duration::from_secs(1))))
            .collect();
        self
    }

    /// Whether an authenticated client may revoke another token now.
    pub fn revocation(&self, client: &ClientId) -> Result<(), Throttled> {
        rate_check(self.revocations.as_ref(), client)
    }

    /// Drops failure buckets that have drained and per-client rate states that are back to
    /// full (run now and then), so that the table shrinks back once an attack stops.
    pub fn forget_idle(&self) {
        let t = self.millis(Instant::now());
        let window = u64::try_from(self.config.window.as_millis()).unwrap_or(u64::MAX);
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            let before = shard.len();
            shard.retain(|_, b| t.saturating_sub(b.at) < window);
            self.entries
                .fetch_sub(before - shard.len(), Ordering::Relaxed);
        }
        let own = self.app_tokens.values().flatten();
        for r in [&self.tokens, &self.revocations]
            .into_iter()
            .flatten()
            .chain(own)
        {
            r.retain_recent();
            r.shrink_to_fit();
        }
    }

    /// How many buckets are held (for metrics and the memory bound's test).
    pub fn len(&self) -> usize {
        self.entries.load(Ordering::Relaxed)
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn millis(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.start).as_millis()).unwrap_or(u64::MAX)
    }

    /// Drain per millisecond for a limit.
    fn rate(&self, limit: u32) -> f32 {
        limit as f32 / (self.config.window.as_millis().max(1) as f32)
    }

    fn keys<W: Hash + ?Sized>(&self, who: &W, ip: Option<IpAddr>) -> [(u64, u32); 2] {
        let ip = holder(ip);
        [
            (
                self.hasher.hash_one(Key::Address(ip)),
                self.config.per_address,
            ),
            (
                self.hasher
                    .hash_one(Key::WhoAddress(self.hasher.hash_one(who), ip)),
                self.config.per_client_address,
            ),
        ]
    }

    fn shard(&self, key: u64) -> &Mutex<HashMap<u64, Bucket>> {
        &self.shards[(key as usize) % SHARDS]
    }

    /// Whether `who` (a client id; for the console, an account) may try to authenticate from
    /// `ip` now.
    pub fn check<W: Hash + ?Sized>(
        &self,
        who: &W,
        ip: Option<IpAddr>,
        now: Instant,
    ) -> Result<(), Throttled> {
        if self.is_empty() {
            return Ok(());
        }
        let t = self.millis(now);
        let mut wait_ms = 0f32;
        for (key, limit) in self.keys(who, ip) {
            if limit == 0 {
                continue;
            }
            let shard = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
            if let Some(b) = shard.get(&key) {
                let rate = self.rate(limit);
                let level = (b.level - (t.saturating_sub(b.at) as f32) * rate).max(0.0);
                let over = level - (limit as f32 - 1.0);
                if over > 0.0 {
                    wait_ms = wait_ms.max(over / rate);
                }
            }
        }
        if wait_ms > 0.0 {
            let secs = (wait_ms / 1000.0).ceil().max(1.0);
            Err(Throttled {
                retry_after: Duration::from_secs(secs as u64),
            })
        } else {
            Ok(())
        }
    }

    /// Counts a failed authentication of `who` from `ip`.
    pub fn failed<W: Hash + ?Sized>(&self, who: &W, ip: Option<IpAddr>, now: Instant) {
        let t = self.millis(now);
        let cap = (self.config.max_entries / SHARDS).max(1);
        for (key, limit) in self.keys(who, ip) {
            if limit == 0 {
                continue;
            }
            let rate = self.rate(limit);
            let mut shard = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
            if !shard.contains_key(&key) && shard.len() >= cap {
                self.make_room(&mut shard, t, cap);
            }
            let b = shard.entry(key).or_insert_with(|| {
                self.entries.fetch_add(1, Ordering::Relaxed);
                Bucket { level: 0.0, at: t }
            });
            let drained = (b.level - (t.saturating_sub(b.at) as f32) * rate).max(0.0);
            // Capped a little above the limit, so a long flood does not keep a caller out
            // longer than one window after it stops.
            b.level = (drained + 1.0).min(limit as f32 + 1.0);
            b.at = t;
        }
    }

    /// Drops drained buckets; if the shard is still full, drops the oldest eighth. Runs only
    /// when a shard is full, which takes an attacker with many addresses.
    fn make_room(&self, shard: &mut HashMap<u64, Bucket>, t: u64, cap: usize) {
        let window = u64::try_from(self.config.window.as_millis()).unwrap_or(u64::MAX);
        let before = shard.len();
        shard.retain(|_, b| t.saturating_sub(b.at) < window);
        if shard.len() >= cap {
            let mut ages: Vec<u64> = shard.values().map(|b| b.at).collect();
            let cut = ages.len() / 8;
            let (_, oldest_kept, _) = ages.select_nth_unstable(cut);
            let oldest_kept = *oldest_kept;
            shard.retain(|_, b| b.at > oldest_kept);
        }
        self.entries
            .fetch_sub(before - shard.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn throttle() -> Throttle {
        Throttle::new(ThrottleConfig {
            per_client_address: 3,
            per_address: 5,
            window: Duration::from_secs(60),
            max_entries: 1_000,
            tokens_per_second_per_app: 2,
            revocations_per_minute_per_client: 0,
        })
    }

    #[test]
    fn per_client_rates_refuse_past_their_burst_and_are_off_at_zero() {
        let th = throttle();
        let (a, b) = (ClientId::random(), ClientId::random());
        assert!(th.token(&a).is_ok() && th.token(&a).is_ok());
        let refused = th.token(&a).unwrap_err();
        assert!(refused.retry_after >= Duration::from_secs(1));
        assert!(th.token(&b).is_ok(), "one client's rate is not another's");
        let th = throttle().with_app_token_rates(&[(a, 0), (b, 1)]);
        for _ in 0..100 {
            assert!(th.token(&a).is_ok(), "0 is no limit for that application");
        }
        assert!(th.token(&b).is_ok() && th.token(&b).is_err());
        for _ in 0..1000 {
            assert!(th.revocation(&a).is_ok());
        }
        th.forget_idle();
    }

    #[test]
    fn a_client_id_hammered_from_one_address_stays_open_from_another() {
        let th = throttle();
        let id = ClientId::random();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(th.check(&id, ip("10.0.0.1"), t0).is_ok());
            th.failed(&id, ip("10.0.0.1"), t0);
        }
        let refused = th.check(&id, ip("10.0.0.1"), t0).unwrap_err();
        assert!(refused.retry_after >= Duration::from_secs(1));
        assert!(refused.retry_after <= Duration::from_secs(20));
        assert!(th.check(&id, ip("10.0.0.2"), t0).is_ok());
        // After the window it drains.
        assert!(
            th.check(&id, ip("10.0.0.1"), t0 + Duration::from_secs(61))
                .is_ok()
        );
    }

    #[test]
    fn an_address_trying_many_client_ids_is_refused_for_all_of_them() {
        let th = throttle();
        let t0 = Instant::now();
        for _ in 0..5 {
            th.failed(&ClientId::random(), ip("2001:db8::1"), t0);
        }
        // Same /64, another client id.
        assert!(
            th.check(&ClientId::random(), ip("2001:db8::ffff"), t0)
                .is_err()
        );
        assert!(
            th.check(&ClientId::random(), ip("2001:db8:1::1"), t0)
                .is_ok()
        );
    }

    #[test]
    fn memory_is_bounded_whatever_the_keys() {
        let th = throttle();
        let t0 = Instant::now();
        for i in 0..20_000u32 {
            let addr = IpAddr::V4(std::net::Ipv4Addr::from(i));
            th.failed(&ClientId::random(), Some(addr), t0);
        }
        assert!(th.len() <= 1_000, "{} buckets", th.len());
    }

    #[test]
    fn drained_buckets_are_forgotten() {
        let th = Throttle::new(ThrottleConfig {
            window: Duration::from_millis(1),
            ..ThrottleConfig::default()
        });
        th.failed(&ClientId::random(), ip("10.0.0.9"), Instant::now());
        assert_eq!(th.len(), 2);
        std::thread::sleep(Duration::from_millis(5));
        th.forget_idle();
        assert!(th.is_empty());
    }
}
