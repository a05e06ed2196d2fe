//! Client secrets: generated here, shown once, stored as a keyed digest.
//!
//! # Why HMAC-SHA-256 and not bcrypt, scrypt, argon2 or PBKDF2
//!
//! Slow password hashes exist to make guessing *low-entropy, human-chosen* passwords expensive
//! after a database leak. tessera's secrets are not chosen by humans: each is 256 bits from the
//! operating system's CSPRNG. Guessing one is 2^256 work whatever the hash costs, so a slow hash
//! adds no security. It would, however, cap the token endpoint — a hot path that machines call for
//! every transaction — at tens of requests per second per core (argon2id with its defaults costs
//! ~15 ms, bcrypt-10 ~67 ms; HMAC-SHA-256 costs ~0.2 µs), and turn it into a denial-of-service
//! lever. This is why Hydra, Zitadel and Spring Authorization Server, which bcrypt client secrets,
//! issue only hundreds of tokens per second.
//!
//! The digest is keyed (HMAC under a server-side pepper derived from the master key), so that a
//! leaked database alone does not even allow an offline check of a candidate secret. Digests are
//! compared in constant time. A stored digest presented as a secret never authenticates: the
//! presented value is always digested first, and a digest does not have the secret's format.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;

/// The prefix of every secret, so that secret scanners can recognise leaked ones.
///
/// NEVER CHANGE THE PREFIX OF EXISTING SECRETS!!! Scanners and integrators match on it.
pub const SECRET_PREFIX: &str = "tsk_";

/// Random bytes per secret: 256 bits.
const SECRET_BYTES: usize = 32;

/// Length of a secret's text: the prefix plus unpadded base64url of 32 bytes.
pub const SECRET_LEN: usize = SECRET_PREFIX.len() + 43;

/// A secret value. Its `Debug` never shows the value; only [`SecretValue::expose`] does.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// The operating system's random generator failed.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomFailure;

impl SecretValue {
    /// A new secret: `tsk_` and 43 base64url characters (256 bits from the OS CSPRNG). Every
    /// character is RFC 3986 unreserved, so no client can mis-encode it in a form, a URL or
    /// HTTP Basic.
    pub fn generate() -> Result<SecretValue, RandomFailure> {
        let mut buf = [0u8; SECRET_BYTES];
        aws_lc_rs::rand::fill(&mut buf).map_err(|_| RandomFailure)?;
        let mut s = String::with_capacity(SECRET_LEN);
        s.push_str(SECRET_PREFIX);
        URL_SAFE_NO_PAD.encode_string(buf, &mut s);
        Ok(SecretValue(s))
    }

    /// The value, to show the caller exactly once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A keyed digest of a secret value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Digest(pub [u8; 32]);

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Digest(<redacted>)")
    }
}

impl Digest {
    /// Constant-time equality.
    pub fn ct_eq(&self, other: &Digest) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// The HMAC key that turns secret values into digests.
///
/// RustCrypto's HMAC rather than aws-lc-rs's: the key's inner and outer states are computed
/// once and each digest starts from a copy of them (two SHA-256 blocks, about 100 ns), where
/// aws-lc-rs copies a whole EVP context per call (about 230 ns, measured on the bench machine).
/// The digest is the same HMAC-SHA-256 (a unit test checks it against aws-lc-rs), so stored
/// digests stay valid.
#[derive(Clone)]
pub struct Pepper(Hmac<Sha256>);

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pepper(<redacted>)")
    }
}

impl Pepper {
    /// A pepper from 32 bytes of key material.
    pub fn new(key: &[u8; 32]) -> Self {
        // HMAC pads a key shorter than the hash's 64-byte block with zeros (RFC 2104 §2): the
        // padded block is the same key, given in the form that needs no length check.
        let mut block = [0u8; 64];
        block[..key.len()].copy_from_slice(key);
        Pepper(<Hmac<Sha256> as hmac::digest::KeyInit>::new(&block.into()))
    }

    /// The digest of a secret value.
    pub fn digest(&self, secret: &SecretValue) -> Digest {
        self.digest_str(secret.expose())
    }

    fn digest_str(&self, s: &str) -> Digest {
        let mut mac = self.0.clone();
        mac.update(s.as_bytes());
        Digest(mac.finalize().into_bytes().into())
    }

    /// The digest of a presented credential, or `None` when it does not even have the shape of a
    /// tessera secret (so a stored digest, a client id or an empty string never reaches a compare).
    pub fn digest_presented(&self, presented: &str) -> Option<Digest> {
        let well_formed = presented.len() == SECRET_LEN
            && presented.starts_with(SECRET_PREFIX)
            && presented[SECRET_PREFIX.len()..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| self.digest_str(presented))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_unreserved_and_unique() {
        let a = SecretValue::generate().unwrap();
        let b = SecretValue::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), SECRET_LEN);
        assert!(a.expose().starts_with("tsk_"));
        assert!(
            a.expose()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-._~".contains(&c))
        );
        assert_eq!(format!("{a:?}"), "SecretValue(<redacted>)");
    }

    #[test]
    fn digest_verifies_only_the_value() {
        let p = Pepper::new(&[7; 32]);
        let s = SecretValue::generate().unwrap();
        let d = p.digest(&s);
        assert!(p.digest_presented(s.expose()).unwrap().ct_eq(&d));
        let other = Pepper::new(&[8; 32]);
        assert!(!other.digest_presented(s.expose()).unwrap().ct_eq(&d));
        // A stored digest presented as a secret never authenticates.
        let as_text = URL_SAFE_NO_PAD.encode(d.0);
        assert!(p.digest_presented(&as_text).is_none());
        let prefixed = format!("{SECRET_PREFIX}{as_text}");
        assert!(!p.digest_presented(&prefixed).unwrap().ct_eq(&d));
        assert!(p.digest_presented("").is_none());
    }

    #[test]
    fn digests_are_hmac_sha256_as_aws_lc_computes_it() {
        // Digests stored before the switch to RustCrypto's HMAC were aws-lc-rs's; both must
        // agree on every key and value.
        use aws_lc_rs::hmac;
        for (key, value) in [
            ([7u8; 32], "tsk_a"),
            ([0u8; 32], ""),
            ([255u8; 32], "x".repeat(200).as_str()),
        ] {
            let ours = Pepper::new(&key).digest_str(value);
            let theirs = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), value.as_bytes());
            assert_eq!(ours.0.as_slice(), theirs.as_ref());
        }
    }
}
