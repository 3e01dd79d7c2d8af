//! Authorization requests waiting for the person: a request to `/oauth2/auth` that passed every
//! rule is kept server-side while the person signs in and decides on consent, bound to the
//! browser that made it (the SHA-256 of a random cookie), so that a link to the continuation
//! sent to someone else leads nowhere. Taking a request to answer it deletes it, so one request
//! yields at most one code or one refusal.
//!
//! The decisions taken on the way are pure functions here: whether the session's sign-in is
//! good enough for the request (`prompt=login`, `max_age`), whether the consent page may be
//! skipped, and which scopes a consent form grants.

use super::authorize::{AuthorizationRequest, Prompt};
use super::consent::ConsentGrant;
use super::scope::Scope;
use crate::ids::TenantId;
use crate::secret::TokenHash;
use crate::store::StoreResult;
use async_trait::async_trait;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// How long a person has to sign in and decide (as long as a self-service flow).
pub const PENDING_LIFESPAN: Duration = Duration::hours(1);

/// A checked authorization request, waiting for sign-in and consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAuthorization {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub request: AuthorizationRequest,
    /// SHA-256 of the browser-binding cookie's value.
    pub browser: TokenHash,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl PendingAuthorization {
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at
    }
}

#[async_trait]
pub trait PendingStore: Send + Sync {
    async fn insert_pending(&self, pending: &PendingAuthorization) -> StoreResult<()>;
    /// The request, whether or not it expired.
    async fn find_pending(&self, id: Uuid) -> StoreResult<Option<PendingAuthorization>>;
    /// Deletes the request and returns it: of concurrent calls, exactly one gets it.
    async fn take_pending(&self, id: Uuid) -> StoreResult<Option<PendingAuthorization>>;
}

/// Whether a sign-in at `authenticated_at` satisfies the request: any sign-in made after the
/// request arrived does (the person just signed in for it); an older one must not be ruled out
/// by `prompt=login` or be older than `max_age` seconds.
pub fn sign_in_satisfies(
    pending: &PendingAuthorization,
    authenticated_at: OffsetDateTime,
    now: OffsetDateTime,
) -> bool {
    if authenticated_at >= pending.created_at {
        return true;
    }
    if pending.request.prompt.contains(&Prompt::Login) {
        return false;
    }
    match pending.request.max_age {
        Some(max_age) => {
            let max_age = Duration::seconds(i64::try_from(max_age).unwrap_or(i64::MAX));
            now - authenticated_at <= max_age
        }
        None => true,
    }
}

/// The scopes granted without asking: every requested one when the client is first-party
/// (`skip_consent`), or when a remembered grant covers them and the client did not ask for the
/// consent page (`prompt=consent`). `None`: the person must be asked.
pub fn granted_without_asking(
    request: &AuthorizationRequest,
    skip_consent: bool,
    remembered: Option<&ConsentGrant>,
) -> Option<Scope> {
    if request.prompt.contains(&Prompt::Consent) {
        return None;
    }
    if skip_consent || remembered.is_some_and(|grant| grant.covers(&request.scope)) {
        return Some(request.scope.clone());
    }
    None
}

/// The scopes a consent form grants: the requested ones the person left checked; `openid`
/// always when requested (it cannot be unchecked). Values that were not requested are ignored.
pub fn granted_by_form(requested: &Scope, checked: &[String]) -> Scope {
    let kept: Vec<&str> = requested
        .iter()
        .filter(|name| *name == "openid" || checked.iter().any(|c| c == name))
        .collect();
    Scope::parse(&kept.join(" ")).expect("tokens of a parsed scope stay valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::authorize::ResponseMode;
    use std::collections::BTreeSet;
    use time::macros::datetime;

    const CREATED: OffsetDateTime = datetime!(2026-01-01 12:00 UTC);

    fn pending(prompt: &[Prompt], max_age: Option<u64>) -> PendingAuthorization {
        PendingAuthorization {
            id: Uuid::from_u128(1),
            tenant_id: TenantId::DEFAULT,
            request: AuthorizationRequest {
                client_id: "web".into(),
                redirect_uri: "https://app.example/cb".into(),
                redirect_uri_sent: true,
                scope: Scope::parse("openid email profile").expect("valid"),
                state: None,
                nonce: None,
                code_challenge: None,
                response_mode: ResponseMode::Query,
                prompt: prompt.iter().copied().collect::<BTreeSet<_>>(),
                max_age,
                login_hint: None,
            },
            browser: TokenHash::of("browser"),
            created_at: CREATED,
            expires_at: CREATED + PENDING_LIFESPAN,
        }
    }

    #[test]
    fn a_sign_in_after_the_request_always_satisfies_it() {
        let now = CREATED + Duration::seconds(5);
        for p in [
            pending(&[Prompt::Login], None),
            pending(&[], Some(0)),
            pending(&[Prompt::Login], Some(0)),
        ] {
            assert!(sign_in_satisfies(&p, CREATED, now));
            assert!(sign_in_satisfies(&p, CREATED + Duration::seconds(1), now));
        }
    }

    #[test]
    fn prompt_login_and_max_age_rule_out_older_sign_ins() {
        let earlier = CREATED - Duration::minutes(10);
        let now = CREATED + Duration::seconds(1);
        assert!(sign_in_satisfies(&pending(&[], None), earlier, now));
        assert!(!sign_in_satisfies(
            &pending(&[Prompt::Login], None),
            earlier,
            now
        ));
        assert!(!sign_in_satisfies(&pending(&[], Some(60)), earlier, now));
        assert!(sign_in_satisfies(&pending(&[], Some(3600)), earlier, now));
        assert!(sign_in_satisfies(
            &pending(&[], Some(u64::MAX)),
            earlier,
            now
        ));
    }

    #[test]
    fn consent_is_skipped_only_for_first_party_clients_or_a_covering_remembered_grant() {
        let p = pending(&[], None);
        let grant = |scope: &str, remembered: bool| ConsentGrant {
            tenant_id: TenantId::DEFAULT,
            identity_id: Uuid::from_u128(2),
            client_id: "web".into(),
            scope: Scope::parse(scope).expect("valid"),
            remembered,
            created_at: CREATED,
            last_used_at: CREATED,
        };
        assert_eq!(
            granted_without_asking(&p.request, true, None),
            Some(p.request.scope.clone())
        );
        assert_eq!(granted_without_asking(&p.request, false, None), None);
        let all = grant("openid email profile address", true);
        assert_eq!(
            granted_without_asking(&p.request, false, Some(&all)),
            Some(p.request.scope.clone())
        );
        let narrower = grant("openid email", true);
        assert_eq!(
            granted_without_asking(&p.request, false, Some(&narrower)),
            None
        );
        let not_remembered = grant("openid email profile", false);
        assert_eq!(
            granted_without_asking(&p.request, false, Some(&not_remembered)),
            None
        );
        let forced = pending(&[Prompt::Consent], None);
        assert_eq!(
            granted_without_asking(&forced.request, true, Some(&all)),
            None
        );
    }

    #[test]
    fn a_consent_form_grants_the_checked_requested_scopes_and_always_openid() {
        let requested = Scope::parse("openid email profile").expect("valid");
        let checked = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            granted_by_form(&requested, &checked(&["email"])).to_string(),
            "email openid"
        );
        assert_eq!(
            granted_by_form(&requested, &checked(&["admin", "profile"])).to_string(),
            "openid profile"
        );
        assert_eq!(granted_by_form(&requested, &[]).to_string(), "openid");
        let no_openid = Scope::parse("api:read").expect("valid");
        assert_eq!(granted_by_form(&no_openid, &[]).to_string(), "");
    }
}
