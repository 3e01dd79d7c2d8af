//! Password hashing and verification on a bounded blocking pool, so argon2 never stalls the
//! async runtime and a burst of sign-ins queues instead of exhausting memory. An unknown
//! identifier is checked against a dummy hash, so it costs the same time as a wrong password.

use crate::error::ApiError;
use crate::state::AppState;
use gatehouse_domain::identity::Identity;
use gatehouse_domain::identity::password::{
    HashParams, PasswordHash, Verification, hash_password, verify_password,
};
use gatehouse_domain::identity::policy::PasswordPolicy;
use gatehouse_domain::secret::Secret;
use std::sync::Arc;
use tokio::sync::{OnceCell, Semaphore};

/// The hashing pool, the argon2id parameters and the policy for chosen passwords.
#[derive(Clone)]
pub struct Passwords {
    inner: Arc<Inner>,
}

struct Inner {
    params: HashParams,
    policy: PasswordPolicy,
    permits: Arc<Semaphore>,
    /// The hash unknown identifiers are verified against, computed on first use.
    dummy: OnceCell<PasswordHash>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("params", &self.inner.params)
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

impl Passwords {
    /// At most `max_concurrent` hashes run at once (at least one).
    pub fn new(params: HashParams, policy: PasswordPolicy, max_concurrent: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                params,
                policy,
                permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
                dummy: OnceCell::new(),
            }),
        }
    }

    pub fn policy(&self) -> &PasswordPolicy {
        &self.inner.policy
    }

    pub fn params(&self) -> &HashParams {
        &self.inner.params
    }

    /// Runs `work` on the blocking pool once a permit is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&HashParams) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = self
            .inner
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ApiError::internal("the password pool is closed", &e))?;
        let params = self.inner.params;
        tokio::task::spawn_blocking(move || {
            let out = work(&params);
            drop(permit);
            out
        })
        .await
        .map_err(|e| ApiError::internal("a password task failed", &e))
    }

    /// Hashes a password with argon2id.
    pub async fn hash(&self, password: &Secret) -> Result<PasswordHash, ApiError> {
        let password = password.clone();
        self.run(move |params| hash_password(params, password.expose()))
            .await?
            .map_err(|e| ApiError::internal("cannot hash a password", &e))
    }

    /// `stored = None` (unknown identifier) verifies against a dummy hash: same cost as a
    /// mismatch. Passwords longer than the policy allows never match (after the same work).
    pub async fn verify(&self, password: &Secret, stored: Option<&PasswordHash>) -> Verification {
        let too_long = password.expose().chars().count() > self.inner.policy.max_length;
        let real = stored.is_some() && !too_long;
        let stored = match stored {
            Some(hash) if !too_long => hash.clone(),
            _ => match self.dummy().await {
                Ok(dummy) => dummy,
                Err(_) => return Verification::Mismatch,
            },
        };
        let password = password.clone();
        let outcome = self
            .run(move |params| verify_password(params, password.expose(), &stored))
            .await
            .unwrap_or(Verification::Mismatch);
        if real {
            outcome
        } else {
            Verification::Mismatch
        }
    }

    async fn dummy(&self) -> Result<PasswordHash, ApiError> {
        self.inner
            .dummy
            .get_or_try_init(|| async {
                let filler = Secret::generate(24);
                self.hash(&filler).await
            })
            .await
            .cloned()
    }
}

/// Checks `password` against the identity's `stored` hash; when it matches but the hash is an
/// imported form or weaker than our parameters, stores a fresh argon2id hash. A failure to
/// store the upgrade is logged and does not fail the sign-in.
pub async fn verify_and_upgrade(
    state: &AppState,
    identity: &Identity,
    stored: &PasswordHash,
    password: &Secret,
) -> bool {
    match state.passwords.verify(password, Some(stored)).await {
        Verification::Mismatch => false,
        Verification::Match {
            needs_rehash: false,
        } => true,
        Verification::Match { needs_rehash: true } => {
            match state.passwords.hash(password).await {
                Ok(fresh) => {
                    if let Err(err) = state
                        .store
                        .update_password_hash(identity.tenant_id, identity.id, &fresh, state.now())
                        .await
                    {
                        tracing::warn!(user.id = %identity.id, error = %err, "cannot store the upgraded password hash");
                    } else {
                        tracing::info!(user.id = %identity.id, "password hash upgraded to argon2id");
                    }
                }
                Err(_) => {
                    tracing::warn!(user.id = %identity.id, "cannot rehash a password for the upgrade");
                }
            }
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_and_verifies_on_the_pool() {
        let passwords = Passwords::new(HashParams::default(), PasswordPolicy::default(), 2);
        let secret = Secret::new("tawny-kettle-orbit-93");
        let hash = passwords.hash(&secret).await.expect("hashes");
        assert_eq!(
            passwords.verify(&secret, Some(&hash)).await,
            Verification::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            passwords.verify(&Secret::new("wrong"), Some(&hash)).await,
            Verification::Mismatch
        );
    }

    #[tokio::test]
    async fn unknown_identifiers_and_overlong_passwords_never_match() {
        let passwords = Passwords::new(HashParams::default(), PasswordPolicy::default(), 1);
        let secret = Secret::new("tawny-kettle-orbit-93");
        assert_eq!(
            passwords.verify(&secret, None).await,
            Verification::Mismatch
        );
        let dummy = passwords.dummy().await.expect("dummy");
        assert_eq!(
            dummy,
            passwords.dummy().await.expect("same dummy"),
            "computed once"
        );
        let long = Secret::new("x".repeat(5000));
        let hash = passwords.hash(&long).await.expect("hashes");
        assert_eq!(
            passwords.verify(&long, Some(&hash)).await,
            Verification::Mismatch
        );
    }
}
