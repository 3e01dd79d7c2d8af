//! The signing keys in force on this node, reloaded from the database so every node signs with
//! the same key and publishes the same JWKS.

use axum::body::Bytes;
use gatehouse_domain::cipher::Cipher;
use gatehouse_domain::keys::{KeyAlg, KeyError, KeySet, KeyStore, generate_key, plan_rotation};
use gatehouse_domain::store::StoreError;
use std::sync::{Arc, RwLock};
use time::{Duration, OffsetDateTime};

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("cannot read or write signing keys")]
    Store(#[from] StoreError),
    #[error("signing keys are not loaded")]
    NotLoaded,
}

#[derive(Debug, Default)]
pub struct Keys {
    current: RwLock<Option<Loaded>>,
    /// Woken when a rotation on this node changed the key set, so the reload task reschedules
    /// for the new key's start.
    pub(crate) rotated: tokio::sync::Notify,
}

/// A key set and its JWKS document as response bytes (cloned per request without copying).
#[derive(Debug, Clone)]
struct Loaded {
    set: Arc<KeySet>,
    jwks: Bytes,
}

impl Keys {
    fn loaded(&self) -> Result<Loaded, KeysError> {
        self.current
            .read()
            .expect("key lock is never poisoned: no code panics holding it")
            .clone()
            .ok_or(KeysError::NotLoaded)
    }

    /// The key set in force (cheap: one `Arc` clone under a read lock).
    pub fn current(&self) -> Result<Arc<KeySet>, KeysError> {
        self.loaded().map(|l| l.set)
    }

    /// The JWKS document of the key set in force.
    pub fn jwks(&self) -> Result<Bytes, KeysError> {
        self.loaded().map(|l| l.jwks)
    }

    /// Rebuilds the key set from the database.
    pub async fn reload(
        &self,
        store: &dyn KeyStore,
        cipher: &Cipher,
        now: OffsetDateTime,
    ) -> Result<(), KeysError> {
        let records = store.list_signing_keys(now).await?;
        let set = KeySet::build(&records, cipher, now)?;
        let jwks = Bytes::from(set.jwks_json().to_string());
        let loaded = Loaded {
            set: Arc::new(set),
            jwks,
        };
        *self
            .current
            .write()
            .expect("key lock is never poisoned: no code panics holding it") = Some(loaded);
        Ok(())
    }

    /// Generates an ES256 and an RS256 key when none is published yet (first start), then loads.
    pub async fn ensure(
        &self,
        store: &dyn KeyStore,
        cipher: &Cipher,
        now: OffsetDateTime,
    ) -> Result<(), KeysError> {
        let records = store.list_signing_keys(now).await?;
        for alg in KeyAlg::ALL {
            if !records.iter().any(|r| r.alg == alg && r.signs_from <= now) {
                let key = generate_key(alg, cipher, now, now)?;
                store.insert_signing_key(&key).await?;
                tracing::info!(key.kid = %key.kid, key.alg = alg.as_str(), "generated signing key");
            }
        }
        self.reload(store, cipher, now).await
    }

    /// Rotates the key of `alg`; returns the new key id.
    pub async fn rotate(
        &self,
        store: &dyn KeyStore,
        cipher: &Cipher,
        alg: KeyAlg,
        now: OffsetDateTime,
        publish_ahead: Duration,
        retain: Duration,
    ) -> Result<String, KeysError> {
        let records = store.list_signing_keys(now).await?;
        let rotation = plan_rotation(&records, alg, cipher, now, publish_ahead, retain)?;
        store.apply_key_rotation(&rotation).await?;
        tracing::info!(key.kid = %rotation.new_key.kid, key.alg = alg.as_str(), "rotated signing key");
        self.reload(store, cipher, now).await?;
        self.rotated.notify_one();
        Ok(rotation.new_key.kid)
    }
}
