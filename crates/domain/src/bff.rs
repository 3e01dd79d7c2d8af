//! The backend-for-frontend (`gatehouse bff`): an OpenID Connect client that keeps a browser's
//! tokens server-side and gives the browser only an opaque session cookie.
//!
//! * [`BffLogin`]: a sign-in in progress (state, nonce, PKCE verifier, where to return), bound to
//!   the browser by the SHA-256 of a random cookie; taking it deletes it, so a callback is
//!   accepted at most once;
//! * [`BffSession`]: a signed-in browser: its claims and tokens, stored under the SHA-256 of the
//!   session cookie, with a sliding expiry and a `version` that changes whenever its tokens do
//!   (so two nodes refreshing at once yield one winner);
//! * [`SealedBffStore`]: the store as the BFF uses it, which encrypts tokens and PKCE verifiers
//!   before they reach the database;
//! * the pure rules: which `returnUrl` may be followed, when an access token needs refreshing.

use crate::cipher::Cipher;
use crate::secret::TokenHash;
use crate::store::StoreResult;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// How long a person has to sign in at the provider before the BFF forgets the attempt.
pub const LOGIN_LIFESPAN: Duration = Duration::minutes(15);

/// A sign-in started by `/bff/login`, waiting for the provider's callback.
#[derive(Clone, PartialEq, Eq)]
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
#[derive(Clone, PartialEq, Eq)]
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
#[derive(Clone, PartialEq)]
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

// The tokens and the PKCE verifier are secrets: `Debug` names them without their values.
impl fmt::Debug for BffLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BffLogin")
            .field("return_url", &self.return_url)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for BffTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BffTokens")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("access_issued_at", &self.access_issued_at)
            .field("access_expires_at", &self.access_expires_at)
            .finish()
    }
}

impl fmt::Debug for BffSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BffSession")
            .field("subject", &self.subject)
            .field("tokens", &self.tokens)
            .field("version", &self.version)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
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
    /// Takes the right to refresh the session's tokens until `until`: only while its version is
    /// still `expected` and no other lease is live at `now`. `false` when another node holds it
    /// or already stored new tokens.
    async fn lease_bff_refresh(
        &self,
        id: &TokenHash,
        expected: i64,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Gives the refresh lease up without new tokens (the provider could not be reached).
    async fn release_bff_refresh(&self, id: &TokenHash, expected: i64) -> StoreResult<()>;
    /// Replaces the tokens when the stored version is still `expected` (and releases the refresh
    /// lease); `false` when another writer got there first.
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

/// The BFF's store with its secrets encrypted at rest: the ID, access and refresh tokens of a
/// session and the PKCE verifier of a sign-in are sealed with the [`Cipher`] before they are
/// written and opened when read, each bound to its row and column (a ciphertext moved to another
/// row does not open). A row that no configured cipher secret opens (its secret was retired, or
/// it was written without encryption) reads as absent: the browser signs in again.
pub struct SealedBffStore {
    inner: Arc<dyn BffStore>,
    cipher: Arc<Cipher>,
}

impl SealedBffStore {
    pub fn new(inner: Arc<dyn BffStore>, cipher: Arc<Cipher>) -> Self {
        Self { inner, cipher }
    }

    fn seal(&self, row: &TokenHash, column: &str, value: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.cipher.encrypt(&context(row, column), value.as_bytes()))
    }

    fn open(&self, row: &TokenHash, column: &str, sealed: &str) -> Option<String> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let plain = self.cipher.decrypt(&context(row, column), &bytes).ok()?;
        String::from_utf8(plain).ok()
    }

    fn seal_tokens(&self, row: &TokenHash, tokens: &BffTokens) -> BffTokens {
        BffTokens {
            access_token: self.seal(row, "access_token", &tokens.access_token),
            refresh_token: tokens
                .refresh_token
                .as_deref()
                .map(|token| self.seal(row, "refresh_token", token)),
            ..tokens.clone()
        }
    }

    fn open_session(&self, session: BffSession) -> Option<BffSession> {
        let row = session.id;
        let refresh_token = match session.tokens.refresh_token.as_deref() {
            Some(sealed) => Some(self.open(&row, "refresh_token", sealed)?),
            None => None,
        };
        Some(BffSession {
            id_token: self.open(&row, "id_token", &session.id_token)?,
            tokens: BffTokens {
                access_token: self.open(&row, "access_token", &session.tokens.access_token)?,
                refresh_token,
                ..session.tokens
            },
            ..session
        })
    }
}

/// The associated data of a sealed value: which row and column it belongs to.
fn context(row: &TokenHash, column: &str) -> String {
    format!("bff:{}:{column}", URL_SAFE_NO_PAD.encode(row.0))
}

#[async_trait]
impl BffStore for SealedBffStore {
    async fn insert_bff_login(&self, login: &BffLogin) -> StoreResult<()> {
        let sealed = BffLogin {
            code_verifier: self.seal(&login.browser, "code_verifier", &login.code_verifier),
            ..login.clone()
        };
        self.inner.insert_bff_login(&sealed).await
    }

    async fn take_bff_login(&self, browser: &TokenHash) -> StoreResult<Option<BffLogin>> {
        let Some(login) = self.inner.take_bff_login(browser).await? else {
            return Ok(None);
        };
        Ok(self
            .open(browser, "code_verifier", &login.code_verifier)
            .map(|code_verifier| BffLogin {
                code_verifier,
                ..login
            }))
    }

    async fn insert_bff_session(&self, session: &BffSession) -> StoreResult<()> {
        let row = session.id;
        let sealed = BffSession {
            id_token: self.seal(&row, "id_token", &session.id_token),
            tokens: self.seal_tokens(&row, &session.tokens),
            ..session.clone()
        };
        self.inner.insert_bff_session(&sealed).await
    }

    async fn find_bff_session(&self, id: &TokenHash) -> StoreResult<Option<BffSession>> {
        let found = self.inner.find_bff_session(id).await?;
        Ok(found.and_then(|session| self.open_session(session)))
    }

    async fn update_bff_session_expiry(
        &self,
        id: &TokenHash,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        self.inner.update_bff_session_expiry(id, expires_at).await
    }

    async fn update_bff_tokens(
        &self,
        id: &TokenHash,
        expected: i64,
        tokens: &BffTokens,
    ) -> StoreResult<bool> {
        let sealed = self.seal_tokens(id, tokens);
        self.inner.update_bff_tokens(id, expected, &sealed).await
    }

    async fn lease_bff_refresh(
        &self,
        id: &TokenHash,
        expected: i64,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<bool> {
        self.inner.lease_bff_refresh(id, expected, now, until).await
    }

    async fn release_bff_refresh(&self, id: &TokenHash, expected: i64) -> StoreResult<()> {
        self.inner.release_bff_refresh(id, expected).await
    }

    async fn delete_bff_session(&self, id: &TokenHash) -> StoreResult<Option<BffSession>> {
        let deleted = self.inner.delete_bff_session(id).await?;
        Ok(deleted.and_then(|session| self.open_session(session)))
    }

    async fn delete_expired_bff(&self, now: OffsetDateTime) -> StoreResult<u64> {
        self.inner.delete_expired_bff(now).await
    }
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
