//! Refresh tokens (RFC 6749 §6, §10.4; OAuth 2.0 Security BCP §4.14): opaque, stored by SHA-256
//! only, and grouped in families. The first token of a family comes with the authorization code
//! exchange; each refresh rotates it: the presented token is marked used and a successor in the
//! same family is issued. A used token presented again (outside a short grace period for clients
//! that retried a lost answer) is a replay: the caller revokes the whole family (DESIGN.md §4.4).
//! A family ends when it is revoked or when its absolute lifetime runs out, whatever the
//! lifetime of its latest token.

use super::code::CodeGrant;
use super::scope::Scope;
use crate::ids::TenantId;
use crate::secret::{Secret, TokenHash};
use crate::store::StoreResult;
use async_trait::async_trait;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Prefix of refresh tokens, so they are recognisable in secret scanners.
pub const REFRESH_PREFIX: &str = "grt_";
/// Bytes of entropy in a refresh token.
const REFRESH_BYTES: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RefreshError {
    /// RFC 6749 §5.2 `invalid_grant`: the token belongs to another client.
    #[error("the refresh token was not issued to this client")]
    ClientMismatch,
    /// RFC 6749 §6 / §5.2 `invalid_scope`: a refresh may narrow the granted scope, never widen it.
    #[error("scope {0:?} was not granted to this refresh token")]
    ScopeNotGranted(String),
}

/// How long refresh tokens and their families live, and how long a used token stays usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Lifetime of each token (DESIGN.md §2: 30 days); a successor never outlives its family.
    pub token_lifespan: Duration,
    /// Absolute lifetime of a family, from the first token: rotation never extends it.
    pub family_lifespan: Duration,
    /// A token used less than this long ago may be presented again and rotates once more
    /// without revoking the family (for a client that lost the answer). Zero by default.
    pub reuse_grace: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            token_lifespan: Duration::days(30),
            family_lifespan: Duration::days(90),
            reuse_grace: Duration::ZERO,
        }
    }
}

/// A refresh token as stored (without the token: only its hash is kept, next to this record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// Every token rotated from the same first token shares this id.
    pub family_id: Uuid,
    pub tenant_id: TenantId,
    pub client_id: String,
    pub identity_id: Uuid,
    /// The session the person signed in with (the ID token's `sid`).
    pub session_id: Option<Uuid>,
    /// The scopes the person granted; the same for every token of the family (RFC 6749 §6).
    pub scope: Scope,
    pub auth_time: OffsetDateTime,
    /// How the person signed in (RFC 8176 values).
    pub amr: Vec<String>,
    pub issued_at: OffsetDateTime,
    /// When this token stops being accepted.
    pub expires_at: OffsetDateTime,
    /// When the family stops being accepted, whatever its tokens say.
    pub family_expires_at: OffsetDateTime,
    /// When this token was first rotated.
    pub used_at: Option<OffsetDateTime>,
    /// When the family was revoked (reuse, consent revoked, sign-out).
    pub revoked_at: Option<OffsetDateTime>,
}

impl RefreshToken {
    /// The first token of a new family, for the grant an authorization code stood for.
    pub fn first(grant: &CodeGrant, policy: &RefreshPolicy, now: OffsetDateTime) -> Self {
        let family_expires_at = now + policy.family_lifespan;
        Self {
            family_id: crate::ids::new_row_id(now),
            tenant_id: grant.tenant_id,
            client_id: grant.client_id.clone(),
            identity_id: grant.identity_id,
            session_id: grant.session_id,
            scope: grant.scope.clone(),
            auth_time: grant.auth_time,
            amr: grant.amr.clone(),
            issued_at: now,
            expires_at: (now + policy.token_lifespan).min(family_expires_at),
            family_expires_at,
            used_at: None,
            revoked_at: None,
        }
    }

    /// The token that replaces this one at `now`: same family, grant and family expiry; a fresh
    /// per-token lifetime that never reaches past the family's end.
    pub fn successor(&self, policy: &RefreshPolicy, now: OffsetDateTime) -> Self {
        Self {
            issued_at: now,
            expires_at: (now + policy.token_lifespan).min(self.family_expires_at),
            used_at: None,
            revoked_at: None,
            ..self.clone()
        }
    }

    /// A new token string and its hash: the token is given to the client once.
    pub fn mint() -> (Secret, TokenHash) {
        let token = Secret::new(format!(
            "{REFRESH_PREFIX}{}",
            crate::secret::random_token(REFRESH_BYTES)
        ));
        let hash = token.hash();
        (token, hash)
    }

    /// Whether the token may be rotated at `now` by its own client, ignoring whether it was used.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && now < self.expires_at && now < self.family_expires_at
    }

    /// Whether a used token is still inside its grace period at `now`.
    pub fn in_grace(&self, policy: &RefreshPolicy, now: OffsetDateTime) -> bool {
        self.used_at
            .is_some_and(|used| now < used + policy.reuse_grace)
    }
}

/// Checks a refresh request against the stored token (RFC 6749 §6): it must belong to the client
/// that authenticated, and a `scope` parameter may only narrow the granted scope. Returns the
/// scope of the new access token (the granted scope when none was asked for).
pub fn check_refresh(
    token: &RefreshToken,
    client_id: &str,
    requested: Option<&Scope>,
) -> Result<Scope, RefreshError> {
    if token.client_id != client_id {
        return Err(RefreshError::ClientMismatch);
    }
    match requested {
        None => Ok(token.scope.clone()),
        Some(requested) if requested.is_empty() => Ok(token.scope.clone()),
        Some(requested) => match requested.first_not_in(&token.scope) {
            Some(widened) => Err(RefreshError::ScopeNotGranted(widened.to_owned())),
            None => Ok(requested.clone()),
        },
    }
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "returned once per refresh request and matched at once; boxing only adds allocations"
)]
pub enum Rotation {
    /// Unused (or used within the grace period) and live: now used, and `successor` stored
    /// under the new hash in the same family.
    Rotated {
        previous: RefreshToken,
        successor: RefreshToken,
    },
    /// Used before, outside the grace period: a replay. The caller must revoke the family.
    Reused { record: RefreshToken },
    /// Unknown, expired, revoked, of an expired family, or of another client.
    Invalid,
}

#[async_trait]
pub trait RefreshStore: Send + Sync {
    /// Stores the first token of a new family (or any token) by its hash.
    async fn insert_refresh_token(&self, hash: &TokenHash, token: &RefreshToken)
    -> StoreResult<()>;
    /// The token with this hash, whatever its state.
    async fn find_refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshToken>>;
    /// Marks the presented token used and stores its successor (built with
    /// [`RefreshToken::successor`]) under `successor_hash`, in one transaction. Of concurrent
    /// rotations of the same token exactly one is `Rotated` (with a zero grace period), on any
    /// number of nodes. A token of another client is `Invalid` and stays unused.
    async fn rotate_refresh_token(
        &self,
        presented: &TokenHash,
        successor_hash: &TokenHash,
        client_id: &str,
        policy: &RefreshPolicy,
        now: OffsetDateTime,
    ) -> StoreResult<Rotation>;
    /// Revokes a family (every token in it, and any successor a concurrent rotation is
    /// storing); `false` when there was no live family with this id.
    async fn revoke_refresh_family(
        &self,
        family_id: Uuid,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Revokes every live family of a person's grant to a client; returns how many.
    async fn revoke_refresh_for_grant(
        &self,
        tenant: TenantId,
        identity_id: Uuid,
        client_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: OffsetDateTime = time::macros::datetime!(2026-01-01 00:00 UTC);

    fn grant() -> CodeGrant {
        CodeGrant {
            tenant_id: TenantId::DEFAULT,
            client_id: "web".into(),
            identity_id: Uuid::from_u128(1),
            session_id: Some(Uuid::from_u128(2)),
            redirect_uri: "https://app.example/cb".into(),
            redirect_uri_sent: true,
            scope: Scope::parse("openid email offline_access").expect("valid"),
            nonce: None,
            code_challenge: None,
            auth_time: NOW,
            amr: vec!["pwd".into()],
            issued_at: NOW,
            expires_at: NOW + Duration::minutes(10),
        }
    }

    fn scope(s: &str) -> Scope {
        Scope::parse(s).expect("valid")
    }

    #[test]
    fn a_refresh_may_narrow_but_never_widen_the_granted_scope() {
        let token = RefreshToken::first(&grant(), &RefreshPolicy::default(), NOW);
        assert_eq!(check_refresh(&token, "web", None), Ok(token.scope.clone()));
        assert_eq!(
            check_refresh(&token, "web", Some(&scope(""))),
            Ok(token.scope.clone())
        );
        assert_eq!(
            check_refresh(&token, "web", Some(&scope("openid"))),
            Ok(scope("openid"))
        );
        assert_eq!(
            check_refresh(&token, "web", Some(&scope("openid profile"))),
            Err(RefreshError::ScopeNotGranted("profile".into()))
        );
    }

    #[test]
    fn a_token_of_another_client_is_refused() {
        let token = RefreshToken::first(&grant(), &RefreshPolicy::default(), NOW);
        assert_eq!(
            check_refresh(&token, "mobile", None),
            Err(RefreshError::ClientMismatch)
        );
    }

    #[test]
    fn successors_keep_the_family_and_never_outlive_it() {
        let policy = RefreshPolicy {
            token_lifespan: Duration::days(30),
            family_lifespan: Duration::days(45),
            reuse_grace: Duration::ZERO,
        };
        let first = RefreshToken::first(&grant(), &policy, NOW);
        assert_eq!(first.expires_at, NOW + Duration::days(30));
        assert_eq!(first.family_expires_at, NOW + Duration::days(45));
        let later = NOW + Duration::days(20);
        let next = first.successor(&policy, later);
        assert_eq!(next.family_id, first.family_id);
        assert_eq!(next.scope, first.scope);
        assert_eq!(next.issued_at, later);
        assert_eq!(
            next.expires_at, first.family_expires_at,
            "capped by the family"
        );
        assert!(next.is_live(later));
        assert!(!next.is_live(first.family_expires_at));
        let mut revoked = next;
        revoked.revoked_at = Some(later);
        assert!(!revoked.is_live(later));
    }

    #[test]
    fn a_used_token_is_in_grace_only_for_the_grace_period() {
        let mut policy = RefreshPolicy::default();
        let mut token = RefreshToken::first(&grant(), &policy, NOW);
        assert!(!token.in_grace(&policy, NOW), "unused");
        token.used_at = Some(NOW);
        assert!(!token.in_grace(&policy, NOW), "no grace by default");
        policy.reuse_grace = Duration::seconds(10);
        assert!(token.in_grace(&policy, NOW + Duration::seconds(9)));
        assert!(!token.in_grace(&policy, NOW + Duration::seconds(10)));
    }

    #[test]
    fn minted_tokens_are_prefixed_distinct_and_hashed() {
        let (a, ha) = RefreshToken::mint();
        let (b, hb) = RefreshToken::mint();
        assert!(a.expose().starts_with(REFRESH_PREFIX));
        assert_ne!(a.expose(), b.expose());
        assert_ne!(ha, hb);
        assert_eq!(a.hash(), ha);
    }
}
