//! Signing keys: generation, encryption at rest, JWT signing, and the rotation schedule.
//!
//! Rotation publishes before it signs. Each key has an activation instant; for one algorithm,
//! the key that signs is the latest one whose activation has passed ("current"). Keys whose
//! activation is still ahead ("next") are already in the JWKS, so resource servers have them
//! cached before the first token they sign. A superseded key ("previous") stays published until
//! every token it can have signed has expired: its successor's activation plus the longest token
//! lifetime. All of this is a pure function of the key list and the time, so every node of a
//! deployment computes the same answer from the same rows.

use crate::master::{KeyCipher, MasterKeyError};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use std::fmt;
use std::sync::Arc;
use tessera_proto::AccessTokenClaims;
use tessera_proto::{ACCESS_TOKEN_TYP, Algorithm, JoseHeader, Jwk, Jwks};
use time::{Duration, OffsetDateTime};

/// A signing key as stored: the private key sealed under the master key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Key id, published in the JWKS and in each token's header.
    pub kid: String,
    /// The algorithm the key signs with.
    pub alg: Algorithm,
    /// When the key was generated.
    pub created_at: OffsetDateTime,
    /// From this instant on, the key signs (if it is the latest activated key of its algorithm).
    pub activates_at: OffsetDateTime,
    /// PKCS#8 private key, sealed with [`KeyCipher`] under the key id.
    pub sealed_private_key: Vec<u8>,
}

impl fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("activates_at", &self.activates_at)
            .finish_non_exhaustive()
    }
}

/// Why a key could not be generated, loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Random generation or sealing failed.
    #[error("key generation failed")]
    Generate,
    /// The sealed key did not decrypt (wrong master key) or is not a valid PKCS#8 key.
    #[error("signing key {kid}: {reason}")]
    Load {
        /// The key's id.
        kid: String,
        /// What went wrong.
        reason: &'static str,
    },
    /// The signature operation failed.
    #[error("signing failed")]
    Sign,
}

impl From<MasterKeyError> for KeyError {
    fn from(_: MasterKeyError) -> Self {
        KeyError::Generate
    }
}

enum Signer {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
    Rs256(RsaKeyPair),
}

/// A parsed private key, ready to sign. Parsing happens once per key, never per token: re-parsing
/// a PKCS#8 key costs about as much as half an ES256 signature.
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    activates_at: OffsetDateTime,
    signer: Signer,
    /// The public key, parsed once for verification.
    public: aws_lc_rs::signature::ParsedPublicKey,
    header_b64: String,
    jwk: Jwk,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("activates_at", &self.activates_at)
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl SigningKey {
    /// Generates a key and its sealed record.
    pub fn generate(
        alg: Algorithm,
        cipher: &KeyCipher,
        now: OffsetDateTime,
        activates_at: OffsetDateTime,
    ) -> Result<(SigningKey, KeyRecord), KeyError> {
        let pkcs8: Vec<u8> = match alg {
            Algorithm::Es256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|k| k.to_pkcs8v1())
                .map_err(|_| KeyError::Generate)?
                .as_ref()
                .to_vec(),
            Algorithm::EdDsa => Ed25519KeyPair::generate()
                .and_then(|k| k.to_pkcs8v1())
                .map_err(|_| KeyError::Generate)?
                .as_ref()
                .to_vec(),
            Algorithm::Rs256 => {
                use aws_lc_rs::encoding::AsDer;
                let k = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|_| KeyError::Generate)?;
                let der: aws_lc_rs::encoding::Pkcs8V1Der<'_> =
                    k.as_der().map_err(|_| KeyError::Generate)?;
                der.as_ref().to_vec()
            }
        };
        let mut id = [0u8; 12];
        aws_lc_rs::rand::fill(&mut id).map_err(|_| KeyError::Generate)?;
        let kid = b64(&id);
        let sealed = cipher.seal(&kid, &pkcs8)?;
        let record = KeyRecord {
            kid: kid.clone(),
            alg,
            created_at: now,
            activates_at,
            sealed_private_key: sealed,
        };
        let key = SigningKey::from_pkcs8(kid, alg, activates_at, &pkcs8)?;
        Ok((key, record))
    }

    /// Opens a stored record.
    pub fn open(record: &KeyRecord, cipher: &KeyCipher) -> Result<SigningKey, KeyError> {
        let pkcs8 = cipher
            .open(&record.kid, &record.sealed_private_key)
            .map_err(|_| KeyError::Load {
                kid: record.kid.clone(),
                reason: "cannot decrypt it: the master key does not match this database",
            })?;
        SigningKey::from_pkcs8(record.kid.clone(), record.alg, record.activates_at, &pkcs8)
    }

    fn from_pkcs8(
        kid: String,
        alg: Algorithm,
        activates_at: OffsetDateTime,
        pkcs8: &[u8],
    ) -> Result<SigningKey, KeyError> {
        let bad = || KeyError::Load {
            kid: kid.clone(),
            reason: "not a valid PKCS#8 key for its algorithm",
        };
        let (signer, jwk, public) = match alg {
            Algorithm::Es256 => {
                let k = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(|_| bad())?;
                // Uncompressed SEC1 point: 0x04 || x (32) || y (32).
                let p = k.public_key().as_ref();
                if p.len() != 65 {
                    return Err(bad());
                }
                let jwk = Jwk {
                    kty: "EC".into(),
                    crv: Some("P-256".into()),
                    x: Some(b64(&p[1..33])),
                    y: Some(b64(&p[33..65])),
                    ..base_jwk(&kid, alg)
                };
                let public = p.to_vec();
                (Signer::Es256(k), jwk, public)
            }
            Algorithm::EdDsa => {
                let k = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|_| bad())?;
                let public = k.public_key().as_ref().to_vec();
                let jwk = Jwk {
                    kty: "OKP".into(),
                    crv: Some("Ed25519".into()),
                    x: Some(b64(&public)),
                    ..base_jwk(&kid, alg)
                };
                (Signer::EdDsa(k), jwk, public)
            }
            Algorithm::Rs256 => {
                let k = RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| bad())?;
                let pk = k.public_key();
                let jwk = Jwk {
                    kty: "RSA".into(),
                    n: Some(b64(pk.modulus().big_endian_without_leading_zero())),
                    e: Some(b64(pk.exponent().big_endian_without_leading_zero())),
                    ..base_jwk(&kid, alg)
                };
                let public = pk.as_ref().to_vec();
                (Signer::Rs256(k), jwk, public)
            }
        };
        let public = {
            use aws_lc_rs::signature::{
                ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
                VerificationAlgorithm,
            };
            let va: &'static dyn VerificationAlgorithm = match alg {
                Algorithm::Es256 => &ECDSA_P256_SHA256_FIXED,
                Algorithm::EdDsa => &ED25519,
                Algorithm::Rs256 => &RSA_PKCS1_2048_8192_SHA256,
            };
            ParsedPublicKey::new(va, &public).map_err(|_| bad())?
        };
        let header = JoseHeader {
            alg,
            typ: ACCESS_TOKEN_TYP.into(),
            kid: kid.clone(),
        };
        let header_b64 = b64(&serde_json::to_vec(&header).map_err(|_| bad())?);
        Ok(SigningKey {
            kid,
            alg,
            activates_at,
            signer,
            public,
            header_b64,
            jwk,
            rng: SystemRandom::new(),
        })
    }

    /// Checks a signature made by this key.
    fn verify_signature(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.public.verify_sig(msg, sig).is_ok()
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// When the key starts signing.
    pub fn activates_at(&self) -> OffsetDateTime {
        self.activates_at
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// A compact JWS over the JSON of `claims`, with header `{alg, typ: "at+jwt", kid}`.
    pub fn sign_jwt<C: Serialize>(&self, claims: &C) -> Result<String, KeyError> {
        // Sized for a typical token, so that neither buffer grows while it is written.
        let mut json = Vec::with_capacity(512);
        serde_json::to_writer(&mut json, claims).map_err(|_| KeyError::Sign)?;
        let mut out = String::with_capacity(self.header_b64.len() + json.len() * 4 / 3 + 400);
        out.push_str(&self.header_b64);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&json, &mut out);
        let msg = out.as_bytes();
        let sig = |bytes: &[u8], out: &mut String| {
            out.push('.');
            URL_SAFE_NO_PAD.encode_string(bytes, out);
        };
        match &self.signer {
            Signer::Es256(k) => {
                let s = k.sign(&self.rng, msg).map_err(|_| KeyError::Sign)?;
                sig(s.as_ref(), &mut out);
            }
            Signer::EdDsa(k) => {
                let s = k.sign(msg);
                sig(s.as_ref(), &mut out);
            }
            Signer::Rs256(k) => {
                let mut s = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &self.rng, msg, &mut s)
                    .map_err(|_| KeyError::Sign)?;
                sig(&s, &mut out);
            }
        }
        Ok(out)
    }
}

fn base_jwk(kid: &str, alg: Algorithm) -> Jwk {
    Jwk {
        kty: String::new(),
        kid: kid.to_owned(),
        alg,
        use_: "sig".into(),
        crv: None,
        x: None,
        y: None,
        n: None,
        e: None,
    }
}

/// The role a key plays at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyPhase {
    /// Published, not yet signing.
    Next,
    /// Signing.
    Current,
    /// Superseded, published until its tokens have expired.
    Previous,
    /// Neither signing nor published; may be pruned.
    Retired,
}

/// Every loaded key, and the rules that say which signs and which are published.
#[derive(Debug, Default)]
pub struct KeySet {
    /// Sorted by (alg, activates_at, kid).
    keys: Vec<Arc<SigningKey>>,
}

impl KeySet {
    /// A set of keys.
    pub fn new(mut keys: Vec<Arc<SigningKey>>) -> KeySet {
        keys.sort_by(|a, b| {
            (a.alg.as_str(), a.activates_at, &a.kid).cmp(&(b.alg.as_str(), b.activates_at, &b.kid))
        });
        KeySet { keys }
    }

    /// The key that signs tokens of `alg` at `now`.
    pub fn signer(&self, alg: Algorithm, now: OffsetDateTime) -> Option<&Arc<SigningKey>> {
        self.keys
            .iter()
            .rfind(|k| k.alg == alg && k.activates_at <= now)
    }

    /// The phase of every key at `now`, given the longest lifetime of any token.
    pub fn phases(
        &self,
        now: OffsetDateTime,
        max_token_ttl: Duration,
    ) -> Vec<(&Arc<SigningKey>, KeyPhase)> {
        let mut out = Vec::with_capacity(self.keys.len());
        for (i, k) in self.keys.iter().enumerate() {
            let successor = self.keys[i + 1..]
                .iter()
                .find(|s| s.alg == k.alg && s.activates_at > k.activates_at);
            let phase = if k.activates_at > now {
                KeyPhase::Next
            } else {
                match successor {
                    Some(s) if s.activates_at <= now => {
                        // Its last token was signed just before the successor activated; add a
                        // minute for clock skew between nodes.
                        if now < s.activates_at + max_token_ttl + Duration::minutes(1) {
                            KeyPhase::Previous
                        } else {
                            KeyPhase::Retired
                        }
                    }
                    _ => KeyPhase::Current,
                }
            };
            out.push((k, phase));
        }
        out
    }

    /// The JWKS to publish at `now`: next, current and previous keys.
    pub fn jwks(&self, now: OffsetDateTime, max_token_ttl: Duration) -> Jwks {
        Jwks {
            keys: self
                .phases(now, max_token_ttl)
                .into_iter()
                .filter(|(_, p)| *p != KeyPhase::Retired)
                .map(|(k, _)| k.jwk.clone())
                .collect(),
        }
    }

    /// Whether a key of `alg` is waiting to activate.
    pub fn has_pending(&self, alg: Algorithm, now: OffsetDateTime) -> bool {
        self.keys
            .iter()
            .any(|k| k.alg == alg && k.activates_at > now)
    }

    /// Every key.
    pub fn all(&self) -> &[Arc<SigningKey>] {
        &self.keys
    }

    /// Verifies one of this deployment's own access tokens: compact form, `typ` `at+jwt`, an
    /// allow-listed `alg` that matches the key's, a known `kid`, the signature, `iss`, and `exp`
    /// and `nbf` with `leeway`. Used where the server itself must read a token it issued
    /// (iPOSpays refresh, Banked partner endpoints); resource servers use the guard crate.
    pub fn verify(
        &self,
        token: &str,
        issuer: &str,
        now: OffsetDateTime,
        leeway: Duration,
    ) -> Result<AccessTokenClaims, VerifyError> {
        let parsed = tessera_proto::jws::parse(token).ok_or(VerifyError::Malformed)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == parsed.header.kid && k.alg == parsed.header.alg)
            .ok_or(VerifyError::BadSignature)?;
        if !key.verify_signature(parsed.signing_input, &parsed.signature) {
            return Err(VerifyError::BadSignature);
        }
        use tessera_proto::jws::ClaimsError as C;
        let claims = tessera_proto::jws::check_claims(
            &parsed.payload,
            issuer,
            None,
            now.unix_timestamp(),
            leeway.whole_seconds(),
        )
        .map_err(|e| match e {
            C::Malformed => VerifyError::Malformed,
            C::WrongIssuer | C::WrongAudience => VerifyError::BadSignature,
            C::Expired | C::NotYetValid => VerifyError::Expired,
        })?;
        Ok(claims)
    }
}

/// Why a token did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not a compact JWS of an access token.
    #[error("malformed token")]
    Malformed,
    /// Unknown key, wrong algorithm, bad signature or another issuer.
    #[error("invalid signature")]
    BadSignature,
    /// Expired, or not yet valid.
    #[error("token expired or not yet valid")]
    Expired,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::master::MasterKey;
    use time::macros::datetime;

    fn again_key(rec: &KeyRecord, c: &KeyCipher) -> SigningKey {
        SigningKey::open(rec, c).unwrap()
    }

    fn key(alg: Algorithm, c: &KeyCipher, at: OffsetDateTime) -> Arc<SigningKey> {
        Arc::new(SigningKey::generate(alg, c, at, at).unwrap().0)
    }

    #[test]
    fn every_algorithm_signs_and_reopens() {
        let c = MasterKey::generate().unwrap().key_cipher();
        let t = datetime!(2026-01-01 0:00 UTC);
        for alg in Algorithm::ALL {
            let (k, rec) = SigningKey::generate(alg, &c, t, t).unwrap();
            let claims = AccessTokenClaims {
                iss: "https://i".into(),
                sub: "s".into(),
                client_id: "s".into(),
                aud: tessera_proto::Audience::One("a".into()),
                exp: t.unix_timestamp() + 60,
                iat: t.unix_timestamp(),
                nbf: t.unix_timestamp(),
                jti: "j".into(),
                scope: "x".into(),
                tenant_id: "t".into(),
                secret_id: "k".into(),
                auth_time: None,
                extra: Default::default(),
            };
            let jwt = k.sign_jwt(&claims).unwrap();
            assert_eq!(jwt.split('.').count(), 3);
            let set = KeySet::new(vec![Arc::new(again_key(&rec, &c))]);
            let leeway = Duration::seconds(5);
            assert_eq!(set.verify(&jwt, "https://i", t, leeway).unwrap(), claims);
            assert_eq!(
                set.verify(&jwt, "https://other", t, leeway),
                Err(VerifyError::BadSignature)
            );
            assert_eq!(
                set.verify(&jwt, "https://i", t + Duration::seconds(66), leeway),
                Err(VerifyError::Expired)
            );
            let mut tampered = jwt.clone();
            tampered.insert(jwt.find('.').unwrap() + 3, 'A');
            assert!(set.verify(&tampered, "https://i", t, leeway).is_err());
            assert_eq!(
                set.verify("a.b", "https://i", t, leeway),
                Err(VerifyError::Malformed)
            );
            let none = format!(
                "{}.{}.",
                b64(br#"{"alg":"none","typ":"at+jwt","kid":"x"}"#),
                jwt.split('.').nth(1).unwrap()
            );
            assert_eq!(
                set.verify(&none, "https://i", t, leeway),
                Err(VerifyError::Malformed)
            );
            let again = SigningKey::open(&rec, &c).unwrap();
            assert_eq!(again.jwk(), k.jwk());
            assert_eq!(k.jwk().use_, "sig");
            assert_eq!(k.jwk().alg, alg);
            let wrong = MasterKey::generate().unwrap().key_cipher();
            assert!(SigningKey::open(&rec, &wrong).is_err());
        }
    }

    #[test]
    fn rotation_publishes_before_signing_and_retires_after_expiry() {
        let c = MasterKey::generate().unwrap().key_cipher();
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let ttl = Duration::hours(1);
        let a = key(Algorithm::Es256, &c, t0);
        let b = key(Algorithm::Es256, &c, t0 + Duration::hours(2));
        let set = KeySet::new(vec![b.clone(), a.clone()]);

        let now = t0 + Duration::hours(1);
        assert_eq!(set.signer(Algorithm::Es256, now).unwrap().kid(), a.kid());
        assert_eq!(
            set.jwks(now, ttl).keys.len(),
            2,
            "next key is published before it signs"
        );
        assert!(set.has_pending(Algorithm::Es256, now));

        let now = t0 + Duration::hours(2);
        assert_eq!(set.signer(Algorithm::Es256, now).unwrap().kid(), b.kid());
        assert_eq!(
            set.jwks(now, ttl).keys.len(),
            2,
            "previous key still published"
        );

        let now = t0 + Duration::hours(3) + Duration::minutes(2);
        let jwks = set.jwks(now, ttl);
        assert_eq!(jwks.keys.len(), 1);
        assert_eq!(jwks.keys[0].kid, b.kid());
        assert!(set.signer(Algorithm::EdDsa, now).is_none());
    }
}
