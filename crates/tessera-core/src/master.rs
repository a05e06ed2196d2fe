//! The master key: the one root secret of a deployment, from `TESSERA_MASTER_KEY` or a key
//! file. Everything else is derived from it with HKDF-SHA-256 under distinct labels: the pepper
//! for secret digests and the key that encrypts signing keys at rest (AES-256-GCM).

use crate::secret::Pepper;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;

/// 256 bits of root key material.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// A master key that could not be parsed or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MasterKeyError {
    /// The text is not 32 bytes in base64url or hex.
    #[error("the master key must be 32 bytes, as 43 base64url characters or 64 hex digits")]
    Malformed,
    /// Random generation failed.
    #[error("the system random number generator failed")]
    Random,
}

/// Sealed data could not be opened: wrong master key, or tampered ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot decrypt: the master key does not match, or the data was altered")]
pub struct OpenError;

impl MasterKey {
    /// A new random master key.
    pub fn generate() -> Result<MasterKey, MasterKeyError> {
        let mut k = [0u8; 32];
        aws_lc_rs::rand::fill(&mut k).map_err(|_| MasterKeyError::Random)?;
        Ok(MasterKey(k))
    }

    /// Parses 43 base64url characters or 64 hex digits (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<MasterKey, MasterKeyError> {
        let t = text.trim();
        let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| MasterKeyError::Malformed)?
        } else {
            URL_SAFE_NO_PAD
                .decode(t)
                .map_err(|_| MasterKeyError::Malformed)?
        };
        let arr: [u8; 32] = bytes.try_into().map_err(|_| MasterKeyError::Malformed)?;
        Ok(MasterKey(arr))
    }

    /// The text form written to the key file (base64url).
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    fn derive(&self, label: &[u8]) -> [u8; 32] {
        struct Len32;
        impl hkdf::KeyType for Len32 {
            fn len(&self) -> usize {
                32
            }
        }
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"tessera/v1").extract(&self.0);
        let mut out = [0u8; 32];
        // expand/fill only fail for lengths over 255 * 32 bytes; 32 is fixed here.
        if let Ok(okm) = prk.expand(&[label], Len32) {
            let _ = okm.fill(&mut out);
        }
        out
    }

    /// The pepper for secret digests.
    pub fn pepper(&self) -> Pepper {
        Pepper::new(&self.derive(b"secret-digest"))
    }

    /// The cipher for signing keys at rest.
    pub fn key_cipher(&self) -> KeyCipher {
        KeyCipher::new(&self.derive(b"signing-key-encryption"))
    }

    /// The cipher for what the console hands the browser to hold briefly (a secret between its
    /// creation and the page that shows it once).
    pub fn hub_cipher(&self) -> KeyCipher {
        KeyCipher::new(&self.derive(b"hub-cookie-encryption"))
    }

    /// The cipher for webhook signing secrets at rest (they must be opened to sign).
    pub fn webhook_cipher(&self) -> KeyCipher {
        KeyCipher::new(&self.derive(b"webhook-secret-encryption"))
    }

    /// A value stored beside the data, so that starting with the wrong master key fails loudly
    /// instead of silently rejecting every secret.
    pub fn fingerprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.derive(b"fingerprint")[..16])
    }
}

/// AES-256-GCM with a random 96-bit nonce per message and the key id as associated data, so that
/// a sealed key cannot be swapped for another key's row.
pub struct KeyCipher(LessSafeKey);

impl fmt::Debug for KeyCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyCipher(<redacted>)")
    }
}

impl KeyCipher {
    fn new(k: &[u8; 32]) -> Self {
        // AES-256 accepts any 32-byte key; construction cannot fail for this length.
        let unbound = UnboundKey::new(&AES_256_GCM, k).unwrap_or_else(|_| unreachable!());
        KeyCipher(LessSafeKey::new(unbound))
    }

    /// `nonce || ciphertext || tag`.
    pub fn seal(&self, aad: &str, plaintext: &[u8]) -> Result<Vec<u8>, MasterKeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| MasterKeyError::Random)?;
        let mut buf = plaintext.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut buf,
            )
            .map_err(|_| MasterKeyError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Reverses [`KeyCipher::seal`].
    pub fn open(&self, aad: &str, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(OpenError);
        }
        let (n, ct) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(n).map_err(|_| OpenError)?;
        let mut buf = ct.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf)
            .map_err(|_| OpenError)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_and_rejects_garbage() {
        let k = MasterKey::generate().unwrap();
        assert_eq!(MasterKey::parse(&k.encode()).unwrap().0, k.0);
        let hex: String = k.0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(MasterKey::parse(&hex).unwrap().0, k.0);
        assert!(MasterKey::parse("short").is_err());
        assert!(MasterKey::parse("").is_err());
    }

    #[test]
    fn sealed_keys_open_only_with_the_same_key_and_aad() {
        let k = MasterKey::generate().unwrap();
        let c = k.key_cipher();
        let sealed = c.seal("kid-1", b"private").unwrap();
        assert_eq!(c.open("kid-1", &sealed).unwrap(), b"private");
        assert!(c.open("kid-2", &sealed).is_err());
        let other = MasterKey::generate().unwrap().key_cipher();
        assert!(other.open("kid-1", &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(c.open("kid-1", &tampered).is_err());
        assert_ne!(
            k.fingerprint(),
            MasterKey::generate().unwrap().fingerprint()
        );
    }
}
