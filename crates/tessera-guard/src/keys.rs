//! Verifying keys from a JWKS, parsed once and kept. Only the allow-listed algorithms exist
//! here, each bound to the one key type it belongs to: there is no HMAC path at all, so a public
//! key can never be used as an HMAC secret ("alg confusion"), and `none` cannot be expressed.

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::HashMap;
use tessera_proto::{Algorithm, Jwk, Jwks};

/// One public key, parsed once: verifying never re-parses it.
#[derive(Clone)]
pub struct VerifyingKey {
    alg: Algorithm,
    key: ParsedPublicKey,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .finish()
    }
}

/// DER `INTEGER` of an unsigned big-endian number.
fn der_uint(v: &[u8], out: &mut Vec<u8>) {
    let v = match v.iter().position(|&b| b != 0) {
        Some(i) => &v[i..],
        None => &[0u8][..],
    };
    let pad = v[0] & 0x80 != 0;
    out.push(0x02);
    der_len(v.len() + usize::from(pad), out);
    if pad {
        out.push(0);
    }
    out.extend_from_slice(v);
}

fn der_len(n: usize, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
}

/// The PKCS#1 `RSAPublicKey` DER of a JWK's `n` and `e`. Written by hand: it is two integers in
/// a sequence, and aws-lc-rs takes exactly this form.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(n.len() + e.len() + 16);
    der_uint(n, &mut body);
    der_uint(e, &mut body);
    let mut out = vec![0x30];
    der_len(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

impl VerifyingKey {
    /// The algorithm this key verifies.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// Checks `sig` over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.key.verify_sig(msg, sig).is_ok()
    }

    /// Parses a JWK. Keys that are not for signatures, have a type that does not match their
    /// `alg`, or malformed coordinates are skipped (`None`).
    pub fn from_jwk(jwk: &Jwk) -> Option<VerifyingKey> {
        if jwk.use_ != "sig" {
            return None;
        }
        let b = |v: &Option<String>| v.as_deref().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
        let key = match (jwk.alg, jwk.kty.as_str(), jwk.crv.as_deref()) {
            (Algorithm::Es256, "EC", Some("P-256")) => {
                let (x, y) = (b(&jwk.x)?, b(&jwk.y)?);
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                let mut p = Vec::with_capacity(65);
                p.push(4);
                p.extend_from_slice(&x);
                p.extend_from_slice(&y);
                ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, p).ok()?
            }
            (Algorithm::EdDsa, "OKP", Some("Ed25519")) => {
                let x = b(&jwk.x)?;
                if x.len() != 32 {
                    return None;
                }
                ParsedPublicKey::new(&ED25519, x).ok()?
            }
            (Algorithm::Rs256, "RSA", _) => {
                let (n, e) = (b(&jwk.n)?, b(&jwk.e)?);
                if n.len() < 256 {
                    return None;
                }
                ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, rsa_public_key_der(&n, &e))
                    .ok()?
            }
            _ => return None,
        };
        Some(VerifyingKey { alg: jwk.alg, key })
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
