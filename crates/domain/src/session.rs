//! Sessions: who is signed in, since when, how, from which device, and until when; and what the
//! session features need from storage. A session's token is shown once and kept as its SHA-256.

use crate::ids::{TenantId, new_row_id};
use crate::secret::{Secret, TokenHash};
use crate::store::StoreResult;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Bytes of entropy in a session token.
const TOKEN_BYTES: usize = 32;

/// A session's last-seen time is written at most this often, so a busy session is not a write
/// per request.
pub const TOUCH_INTERVAL: Duration = Duration::minutes(1);

/// Authenticator assurance level (NIST SP 800-63B).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aal {
    Aal1,
    Aal2,
}

impl Aal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aal1 => "aal1",
            Self::Aal2 => "aal2",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "aal1" => Some(Self::Aal1),
            "aal2" => Some(Self::Aal2),
            _ => None,
        }
    }
}

/// One authentication step of a session (`password`, `code`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticationMethod {
    pub method: String,
    #[serde(with = "time::serde::rfc3339")]
    pub completed_at: OffsetDateTime,
}

/// The device a session is used from: the latest IP address and user agent, first and last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub first_seen_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
}

/// How long a session lasts at most, and how long it survives without use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetimes {
    pub absolute: Duration,
    pub idle: Duration,
}

impl Default for SessionLifetimes {
    fn default() -> Self {
        Self {
            absolute: Duration::hours(24),
            idle: Duration::hours(8),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub identity_id: Uuid,
    pub token_hash: TokenHash,
    /// False once revoked (logout, "sign out", admin); the row stays until it expires.
    pub active: bool,
    pub authenticated_at: OffsetDateTime,
    pub issued_at: OffsetDateTime,
    /// Absolute expiry: the session ends then however busy it is.
    pub expires_at: OffsetDateTime,
    pub idle_timeout: Duration,
    pub last_seen_at: OffsetDateTime,
    pub aal: Aal,
    pub methods: Vec<AuthenticationMethod>,
    pub device: Device,
}

impl Session {
    /// A new session with a fresh random token (returned once; only its hash is kept).
    pub fn start(
        tenant: TenantId,
        identity_id: Uuid,
        methods: Vec<AuthenticationMethod>,
        ip: Option<String>,
        user_agent: Option<String>,
        lifetimes: &SessionLifetimes,
        now: OffsetDateTime,
    ) -> (Session, Secret) {
        let token = Secret::generate(TOKEN_BYTES);
        let authenticated_at = methods.iter().map(|m| m.completed_at).max().unwrap_or(now);
        let session = Session {
            id: new_row_id(now),
            tenant_id: tenant,
            identity_id,
            token_hash: token.hash(),
            active: true,
            authenticated_at,
            issued_at: now,
            expires_at: now + lifetimes.absolute,
            idle_timeout: lifetimes.idle,
            last_seen_at: now,
            aal: Aal::Aal1,
            methods,
            device: Device {
                ip_address: ip,
                user_agent,
                first_seen_at: now,
                last_seen_at: now,
            },
        };
        (session, token)
    }

    /// When the session ends if it is not used before: the earlier of the idle and absolute
    /// expiries.
    pub fn idle_expires_at(&self) -> OffsetDateTime {
        (self.last_seen_at + self.idle_timeout).min(self.expires_at)
    }

    /// Active, before its absolute expiry, and used within its idle timeout.
    pub fn is_valid_at(&self, now: OffsetDateTime) -> bool {
        self.active && now < self.expires_at && now < self.last_seen_at + self.idle_timeout
    }

    /// Whether a use at `now` should be recorded (at most once per [`TOUCH_INTERVAL`]).
    pub fn needs_touch(&self, now: OffsetDateTime) -> bool {
        now - self.last_seen_at >= TOUCH_INTERVAL
    }
}

/// Which sessions an admin listing returns: keyset pages in row-id order.
#[derive(Debug, Clone, Default)]
pub struct SessionPage {
    /// Only sessions with a row id after this one.
    pub after: Option<Uuid>,
    pub limit: u32,
    /// Only sessions not revoked (expiry is for the caller to judge with `now`).
    pub active_only: bool,
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Fails with `Conflict` if the token hash is taken.
    async fn insert_session(&self, session: &Session) -> StoreResult<()>;
    /// The session whose token has this hash, revoked or expired ones included.
    async fn find_session_by_token(&self, hash: &TokenHash) -> StoreResult<Option<Session>>;
    async fn find_session(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Session>>;
    /// Records a use of the session at `now` from this IP address and user agent, unless one
    /// was recorded within [`TOUCH_INTERVAL`]; returns whether it wrote.
    async fn touch_session(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: OffsetDateTime,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> StoreResult<bool>;
    /// An identity's sessions, newest first; `active_only` leaves out revoked ones.
    async fn list_identity_sessions(
        &self,
        tenant: TenantId,
        identity_id: Uuid,
        active_only: bool,
    ) -> StoreResult<Vec<Session>>;
    /// All sessions of a tenant, one page at a time (admin).
    async fn list_sessions(
        &self,
        tenant: TenantId,
        page: &SessionPage,
    ) -> StoreResult<Vec<Session>>;
    /// Revokes one session (of `identity_id` when given); `false` if there was no such active
    /// session.
    async fn revoke_session(
        &self,
        tenant: TenantId,
        identity_id: Option<Uuid>,
        id: Uuid,
    ) -> StoreResult<bool>;
    /// Revokes every active session of an identity except `except`; returns how many.
    async fn revoke_identity_sessions(
        &self,
        tenant: TenantId,
        identity_id: Uuid,
        except: Option<Uuid>,
    ) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: OffsetDateTime = time::macros::datetime!(2026-03-01 12:00 UTC);

    fn start() -> (Session, Secret) {
        Session::start(
            TenantId::DEFAULT,
            Uuid::from_u128(7),
            vec![AuthenticationMethod {
                method: "password".into(),
                completed_at: NOW,
            }],
            Some("192.0.2.1".into()),
            Some("Firefox".into()),
            &SessionLifetimes::default(),
            NOW,
        )
    }

    #[test]
    fn a_new_session_keeps_only_the_hash_of_a_fresh_token() {
        let (a, token_a) = start();
        let (b, token_b) = start();
        assert_ne!(a.id, b.id);
        assert_ne!(token_a.expose(), token_b.expose());
        assert!(a.token_hash.matches(token_a.expose()));
        assert_eq!(a.expires_at, NOW + Duration::hours(24));
        assert_eq!(a.device.first_seen_at, NOW);
        assert_eq!(a.aal, Aal::Aal1);
    }

    #[test]
    fn idle_and_absolute_lifetimes_both_end_a_session() {
        let (mut s, _) = start();
        assert!(s.is_valid_at(NOW + Duration::hours(7)));
        assert!(!s.is_valid_at(NOW + Duration::hours(8)));
        s.last_seen_at = NOW + Duration::hours(20);
        assert!(s.is_valid_at(NOW + Duration::hours(23)));
        assert!(!s.is_valid_at(NOW + Duration::hours(24)));
        assert_eq!(s.idle_expires_at(), s.expires_at);
        s.active = false;
        assert!(!s.is_valid_at(NOW + Duration::hours(21)));
    }

    #[test]
    fn touches_at_most_once_a_minute() {
        let (s, _) = start();
        assert!(!s.needs_touch(NOW + Duration::seconds(59)));
        assert!(s.needs_touch(NOW + Duration::minutes(1)));
    }

    #[test]
    fn aal_round_trips_as_text() {
        for aal in [Aal::Aal1, Aal::Aal2] {
            assert_eq!(Aal::parse(aal.as_str()), Some(aal));
            assert_eq!(
                serde_json::to_value(aal).expect("serializes"),
                serde_json::json!(aal.as_str())
            );
        }
    }
}
