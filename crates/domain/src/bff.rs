//! The backend-for-frontend (`gatehouse bff`): an OpenID Connect client that keeps a browser's
//! tokens server-side and gives the browser only an opaque session cookie.
//!
//! * [`BffLogin`]: a sign-in in progress (state, nonce, PKCE verifier, where to return), bound to
//!   the browser by the SHA-256 of a random cookie; taking it deletes it, so a callback is
//!   accepted at most once;
//! * [`BffSession`]: a signed-in browser: its claims and tokens, stored under the SHA-256 of the
//!   session cookie, with a sliding expiry and a `version` that changes whenever its tokens do
//!   (so two nodes refreshing at once yield one winner);
//! * the pure rules: which `returnUrl` may be followed, when an access token needs refreshing.

use crate::secret::TokenHash;
use crate::store::StoreResult;
use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

/// How long a person has to sign in at the provider before the BFF forgets the attempt.
pub const LOGIN_LIFESPAN: Duration = Duration::minutes(15);

/// A sign-in started by `/bff/login`, waiting for the provider's callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BffLogin {
    /// SHA-256 of the value of the browser's pre-login cookie.
    pub browser: TokenHash,
    pub state: String,
    pub nonce: String,
    /// RFC 7636 `code_verifier`, sent with the code exchange.
    pub code_verifier: String,
    /// A local path (see [`local_return_url`]).
    pub return_url: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// The tokens a session holds for its browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BffTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// When the BFF received the access token (its lifetime is `access_expires_at` minus this).
    pub access_issued_at: OffsetDateTime,
    pub access_expires_at: OffsetDateTime,
}

impl BffTokens {
    /// Whether the access token should be refreshed before use at `now`: when it expires within
    /// `before`, or within half its lifetime when that is shorter (so that a token that lives
    /// less than the margin is not refreshed on every request).
    pub fn need_refresh(&self, now: OffsetDateTime, before: Duration) -> bool {
        let half_life = (self.access_expires_at - self.access_issued_at) / 2;
        self.access_expires_at - now <= before.min(half_life)
    }
}

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq)]
pub struct BffSession {
    /// SHA-256 of the session cookie's value.
    pub id: TokenHash,
    pub subject: String,
    /// The ID token's claims, as `/bff/user` answers them.
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// Sent as `id_token_hint` at logout.
    pub id_token: String,
    pub tokens: BffTokens,
    /// Changes with every token update; updates compare it first.
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl BffSession {
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at
    }
}

#[async_trait]
pub trait BffStore: Send + Sync {
    async fn insert_bff_login(&self, login: &BffLogin) -> StoreResult<()>;
    /// Deletes the sign-in bound to `browser` and returns it: of concurrent calls, one gets it.
    async fn take_bff_login(&self, browser: &TokenHash) -> StoreResult<Option<BffLogin>>;
    async fn insert_bff_session(&self, session: &BffSession) -> StoreResult<()>;
    /// The session, whether or not it expired.
    async fn find_bff_session(&self, id: &TokenHash) -> StoreResult<Option<BffSession>>;
    /// Moves a session's expiry (sliding lifetime).
    async fn update_bff_session_expiry(
        &self,
        id: &TokenHash,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Replaces the tokens when the stored version is still `expected`; `false` when another
    /// writer got there first.
    async fn update_bff_tokens(
        &self,
        id: &TokenHash,
        expected: i64,
        tokens: &BffTokens,
    ) -> StoreResult<bool>;
    /// Deletes the session and returns it.
    async fn delete_bff_session(&self, id: &TokenHash) -> StoreResult<Option<BffSession>>;
    /// Deletes sign-ins and sessions that expired before `now`; returns how many.
    async fn delete_expired_bff(&self, now: OffsetDateTime) -> StoreResult<u64>;
}

/// The path a `returnUrl` may send the browser to after sign-in: a local absolute path only
/// (`/…`, not `//host` nor `/\host`, no control characters), otherwise `/`. Never an open
/// redirect.
pub fn local_return_url(raw: Option<&str>) -> String {
    match raw {
        Some(url)
            if url.starts_with('/')
                && !url.starts_with("//")
                && !url.starts_with("/\\")
                && !url.chars().any(|c| c.is_control() || c == '\\') =>
        {
            url.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn return_urls_stay_local() {
        assert_eq!(local_return_url(Some("/app/x?y=1")), "/app/x?y=1");
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "/a\\b",
            "/a\nb",
            "evil",
            "",
        ] {
            assert_eq!(local_return_url(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(local_return_url(None), "/");
    }

    #[test]
    fn refreshes_within_the_margin() {
        let now = datetime!(2026-01-01 0:00 UTC);
        let five = Duration::minutes(5);
        let hour = BffTokens {
            access_token: "a".to_owned(),
            refresh_token: None,
            access_issued_at: now - Duration::minutes(56),
            access_expires_at: now + Duration::minutes(4),
        };
        assert!(hour.need_refresh(now, five));
        assert!(!hour.need_refresh(now - Duration::minutes(2), five));
        let minute = BffTokens {
            access_issued_at: now,
            access_expires_at: now + Duration::minutes(1),
            ..hour
        };
        assert!(!minute.need_refresh(now, five), "fresh");
        assert!(!minute.need_refresh(now + Duration::seconds(29), five));
        assert!(
            minute.need_refresh(now + Duration::seconds(30), five),
            "half-life reached"
        );
        assert!(
            minute.need_refresh(now + Duration::minutes(2), five),
            "expired"
        );
    }
}
