//! Access tokens at the guard, differentially against jsonwebtoken: whatever the guard accepts,
//! jsonwebtoken (same key, algorithm, issuer, audience and leeway) must accept too, so the guard
//! never lets through a token a standard implementation refuses. Each input is tried twice: as
//! the claims of a token the issuer's real key signs (so that only the claims decide), and as a
//! token string as is (malformed headers, segments, encodings).
#![no_main]

use jsonwebtoken::{DecodingKey, Validation};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::LazyLock;
use tessera_core::keys::SigningKey;
use tessera_core::master::MasterKey;
use tessera_core::proto::{Algorithm, Jwks};
use tessera_guard::{Guard, GuardConfig};

const ISS: &str = "https://auth.example.com";
const AUD: &str = "https://api.example.com";

struct Keys {
    signer: SigningKey,
    guard: Guard,
    reference: DecodingKey,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let cipher = MasterKey::generate().expect("master key").key_cipher();
    let now = time::OffsetDateTime::now_utc();
    let (signer, _) = SigningKey::generate(Algorithm::Es256, &cipher, now, now).expect("key");
    let guard = Guard::from_jwks(
        GuardConfig::new(ISS, vec![AUD.into()]),
        &Jwks {
            keys: vec![signer.jwk().clone()],
        },
    );
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(serde_json::to_value(signer.jwk()).expect("jwk")).expect("jwk");
    let reference = DecodingKey::from_jwk(&jwk).expect("decoding key");
    Keys {
        signer,
        guard,
        reference,
    }
});

fn differential(token: &str) {
    let k = &*KEYS;
    let Ok(claims) = k.guard.verify_cached(token) else {
        return;
    };
    let mut v = Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_issuer(&[ISS]);
    v.set_audience(&[AUD]);
    v.leeway = 30;
    v.validate_nbf = true;
    v.set_required_spec_claims(&["exp", "iss", "aud"]);
    if let Err(e) = jsonwebtoken::decode::<Value>(token, &k.reference, &v) {
        panic!("the guard accepted what jsonwebtoken refuses ({e}): {claims:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(claims) = serde_json::from_slice::<Value>(data) {
        if let Ok(token) = KEYS.signer.sign_jwt(&claims) {
            differential(&token);
        }
    }
    if let Ok(token) = std::str::from_utf8(data) {
        differential(token);
    }
});
