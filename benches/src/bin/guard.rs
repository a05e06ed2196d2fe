//! Validation cost of tessera-guard against raw signature verification of the same token, on
//! one thread: `tessera-bench-guard [SECONDS_PER_CASE]` (run it pinned: `taskset -c 1`).
//!
//! For each algorithm it signs one tessera access token with a real key, then times
//! (a) aws-lc-rs verifying the signature over the signing input with the public key parsed once
//! and the inputs decoded beforehand, and
//! (b) `Guard::verify_cached` on the token string: split, base64, header and allow-list checks,
//! signature, claims (iss, aud, exp, nbf), revocation list. Prints one TSV line per algorithm:
//! alg, raw ns/op, guard ns/op, guard tokens/s, overhead %.

use anyhow::{Result, anyhow};
use std::hint::black_box;
use std::time::{Duration, Instant};
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::keys::SigningKey;
use tessera_core::master::MasterKey;
use tessera_guard::{Guard, GuardConfig};
use tessera_proto::{AccessTokenClaims, Algorithm, Audience, Jwks};

fn time_per_op(budget: Duration, mut f: impl FnMut()) -> f64 {
    // Warm up, then count iterations in batches until the budget is spent.
    for _ in 0..200 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..100 {
            f();
        }
        n += 100;
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

fn main() -> Result<()> {
    let secs: u64 = std::env::args().nth(1).map_or(Ok(3), |s| s.parse())?;
    let budget = Duration::from_secs(secs);
    let now = SystemClock.now();
    let cipher = MasterKey::generate()
        .map_err(|e| anyhow!("{e}"))?
        .key_cipher();
    println!("alg\traw_ns\tguard_ns\tguard_per_s\toverhead_pct");
    // BENCH_ALG=RS256 (say) limits the run to one algorithm, for profiling.
    let only = std::env::var("BENCH_ALG").ok();
    for alg in Algorithm::ALL {
        if only.as_deref().is_some_and(|a| a != alg.as_str()) {
            continue;
        }
        let (key, _) = SigningKey::generate(alg, &cipher, now, now).map_err(|e| anyhow!("{e}"))?;
        let t = now.unix_timestamp();
        let claims = AccessTokenClaims {
            iss: "https://auth.example.com".into(),
            sub: "3f1c2b8e-8a4e-4d0e-9f0e-2b1f6c1d9a10".into(),
            client_id: "3f1c2b8e-8a4e-4d0e-9f0e-2b1f6c1d9a10".into(),
            aud: Audience::One("https://auth.example.com".into()),
            exp: t + 3600,
            iat: t,
            nbf: t,
            jti: "GW804zIyTUCMBaOQdL21CA".into(),
            scope: "PaymentTokenization Recurring BatchReport".into(),
            tenant_id: "047a7905-09da-423b-a921-4d8882f09cb5".into(),
            secret_id: "738f4341-8a1a-44c7-b913-210401ecd64c".into(),
            auth_time: None,
            extra: Default::default(),
        };
        let token = key.sign_jwt(&claims).map_err(|e| anyhow!("{e}"))?;
        let guard = Guard::from_jwks(
            GuardConfig::new(
                "https://auth.example.com",
                vec!["https://auth.example.com".into()],
            ),
            &Jwks {
                keys: vec![key.jwk().clone()],
            },
        );
        guard.verify_cached(&token).map_err(|e| anyhow!("{e:?}"))?;

        let parsed = tessera_proto::jws::parse(&token).ok_or(anyhow!("parse"))?;
        // The raw baseline: the same public key, parsed once, verifying pre-decoded inputs.
        let raw = tessera_guard::VerifyingKey::from_jwk(key.jwk()).ok_or(anyhow!("jwk"))?;
        let raw_ns = time_per_op(budget, || {
            black_box(raw.verify(
                black_box(parsed.signing_input),
                black_box(&parsed.signature),
            ));
        });
        let guard_ns = time_per_op(budget, || {
            black_box(guard.verify_cached(black_box(&token)).is_ok());
        });
        println!(
            "{}\t{:.0}\t{:.0}\t{:.0}\t{:.1}",
            alg.as_str(),
            raw_ns,
            guard_ns,
            1e9 / guard_ns,
            100.0 * (guard_ns - raw_ns) / raw_ns
        );
    }
    Ok(())
}
