//! Verifying keys from a JWKS, parsed once and kept. Only the allow-listed algorithms exist
//! here, each bound to the one key type it belongs to: there is no HMAC path at all, so a public
//! key can never be used as an HMAC secret ("alg confusion"), and `none` cannot be expressed.

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents,
    UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::HashMap;
use tessera_proto::{Algorithm, Jwk, Jwks};

/// One public key, ready to verify.
#[derive(Debug, Clone)]
pub enum VerifyingKey {
    /// P-256: the uncompressed SEC1 point.
    Es256(Vec<u8>),
    /// Ed25519: the 32-byte public key.
    EdDsa(Vec<u8>),
    /// RSA: modulus and exponent.
    Rs256 {
        /// Modulus.
        n: Vec<u8>,
        /// Public exponent.
        e: Vec<u8>,
    },
}

impl VerifyingKey {
    /// The algorithm this key verifies.
    pub fn alg(&self) -> Algorithm {
        match self {
            VerifyingKey::Es256(_) => Algorithm::Es256,
            VerifyingKey::EdDsa(_) => Algorithm::EdDsa,
            VerifyingKey::Rs256 { .. } => Algorithm::Rs256,
        }
    }

    /// Checks `sig` over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            VerifyingKey::Es256(p) => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, p)
                .verify(msg, sig)
                .is_ok(),
            VerifyingKey::EdDsa(p) => UnparsedPublicKey::new(&ED25519, p).verify(msg, sig).is_ok(),
            VerifyingKey::Rs256 { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&RSA_PKCS1_2048_8192_SHA256, msg, sig)
                .is_ok(),
        }
    }

    /// Parses a JWK. Keys that are not for signatures, have a type that does not match their
    /// `alg`, or malformed coordinates are skipped (`None`).
    pub fn from_jwk(jwk: &Jwk) -> Option<VerifyingKey> {
        if jwk.use_ != "sig" {
            return None;
        }
        let b = |v: &Option<String>| v.as_deref().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
        match (jwk.alg, jwk.kty.as_str(), jwk.crv.as_deref()) {
            (Algorithm::Es256, "EC", Some("P-256")) => {
                let (x, y) = (b(&jwk.x)?, b(&jwk.y)?);
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                let mut p = Vec::with_capacity(65);
                p.push(4);
                p.extend_from_slice(&x);
                p.extend_from_slice(&y);
                Some(VerifyingKey::Es256(p))
            }
            (Algorithm::EdDsa, "OKP", Some("Ed25519")) => {
                let x = b(&jwk.x)?;
                (x.len() == 32).then_some(VerifyingKey::EdDsa(x))
            }
            (Algorithm::Rs256, "RSA", _) => {
                let (n, e) = (b(&jwk.n)?, b(&jwk.e)?);
                (n.len() >= 256).then_some(VerifyingKey::Rs256 { n, e })
            }
            _ => None,
        }
    }
}

/// Keys by kid.
pub fn index(jwks: &Jwks, allowed: &[Algorithm]) -> HashMap<String, VerifyingKey> {
    jwks.keys
        .iter()
        .filter(|k| allowed.contains(&k.alg))
        .filter_map(|k| VerifyingKey::from_jwk(k).map(|v| (k.kid.clone(), v)))
        .collect()
}
