//! The key ring: the signing keys a node holds in memory, reloaded when the store says they
//! changed, plus the operations that add keys (first start, rotation).

use crate::error::CoreError;
use crate::keys::{KeyRecord, KeySet, SigningKey};
use crate::master::KeyCipher;
use crate::store::Store;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tessera_proto::{Algorithm, Jwks};
use time::{Duration, OffsetDateTime};

/// The signing keys of this node.
pub struct Keyring {
    cipher: KeyCipher,
    set: RwLock<Arc<KeySet>>,
    max_token_ttl: Duration,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.snapshot().all().len())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// An empty key ring. `max_token_ttl` is the longest lifetime of any token this deployment
    /// issues: a superseded key stays published that long after its successor activates.
    pub fn new(cipher: KeyCipher, max_token_ttl: Duration) -> Self {
        Keyring {
            cipher,
            set: RwLock::new(Arc::new(KeySet::default())),
            max_token_ttl,
        }
    }

    /// The keys, as of the last load.
    pub fn snapshot(&self) -> Arc<KeySet> {
        self.set.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The JWKS to publish at `now`.
    pub fn jwks(&self, now: OffsetDateTime) -> Jwks {
        self.snapshot().jwks(now, self.max_token_ttl)
    }

    /// Verifies a token this deployment issued (see [`KeySet::verify`]), with one minute of leeway.
    pub fn verify(
        &self,
        token: &str,
        issuer: &str,
        now: OffsetDateTime,
    ) -> Result<tessera_proto::AccessTokenClaims, crate::keys::VerifyError> {
        self.snapshot()
            .verify(token, issuer, now, Duration::minutes(1))
    }

    /// The longest token lifetime the publication schedule allows for.
    pub fn max_token_ttl(&self) -> Duration {
        self.max_token_ttl
    }

    /// Reloads every key from the store. Keys already parsed are reused, not decrypted again.
    pub async fn load(&self, store: &dyn Store) -> Result<(), CoreError> {
        let records = store.list_keys().await?;
        let old = self.snapshot();
        let known: HashMap<&str, &Arc<SigningKey>> =
            old.all().iter().map(|k| (k.kid(), k)).collect();
        let mut keys = Vec::with_capacity(records.len());
        for r in &records {
            match known.get(r.kid.as_str()) {
                Some(k) => keys.push(Arc::clone(k)),
                None => keys.push(Arc::new(SigningKey::open(r, &self.cipher)?)),
            }
        }
        *self.set.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(KeySet::new(keys));
        Ok(())
    }

    /// Makes sure a key of `alg` exists, generating one that signs at once if none does (first
    /// start: no resource server has cached anything yet). Safe when several processes race.
    pub async fn ensure(
        &self,
        store: &dyn Store,
        alg: Algorithm,
        now: OffsetDateTime,
    ) -> Result<(), CoreError> {
        if self.snapshot().all().iter().all(|k| k.alg() != alg) {
            let (_, record) = SigningKey::generate(alg, &self.cipher, now, now)?;
            store.insert_first_key(&record).await?;
            self.load(store).await?;
        }
        Ok(())
    }

    /// Adds a key of `alg` that is published at once and signs from `now + delay`.
    pub async fn rotate(
        cipher: &KeyCipher,
        store: &dyn Store,
        alg: Algorithm,
        now: OffsetDateTime,
        delay: Duration,
    ) -> Result<KeyRecord, CoreError> {
        let (_, record) = SigningKey::generate(alg, cipher, now, now + delay)?;
        store.insert_key(&record).await?;
        Ok(record)
    }

    /// Scheduled rotation: like [`Keyring::rotate`], but adds nothing when a key of `alg` is
    /// already waiting to activate (another node got there first). Returns the key it added.
    pub async fn rotate_unless_pending(
        cipher: &KeyCipher,
        store: &dyn Store,
        alg: Algorithm,
        now: OffsetDateTime,
        delay: Duration,
    ) -> Result<Option<KeyRecord>, CoreError> {
        let (_, record) = SigningKey::generate(alg, cipher, now, now + delay)?;
        Ok(store
            .insert_key_unless_pending(&record, now)
            .await?
            .then_some(record))
    }

    /// The cipher that seals this ring's keys.
    pub fn cipher(&self) -> &KeyCipher {
        &self.cipher
    }
}
