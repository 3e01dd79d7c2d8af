//! Login throttling rules, shared by every node through the database: failures are recorded per
//! key (an identifier or a client address, hashed), and a key is refused for a while once it has
//! used up its budget.
//!
//! The rule, for a key with policy `limit` failures per `window` (5 per 15 min for an
//! identifier, 20 per 15 min for an address) and `max_backoff` (1 h):
//! - with `limit` failures inside the last `window`, the key waits until the oldest of those
//!   leaves the window (the budget);
//! - each failure beyond `limit` within the last `max_backoff` doubles the wait, counted from the
//!   latest failure: `window × 2^(failures − limit)`, capped at `max_backoff`. A key that stays
//!   quiet for `max_backoff` starts afresh; a successful login clears its identifier at once.

use crate::ids::TenantId;
use crate::secret::TokenHash;
use crate::store::StoreResult;
use async_trait::async_trait;
use std::fmt;
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};

/// A failure budget and its back-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    pub limit: u32,
    pub window: Duration,
    pub max_backoff: Duration,
}

impl ThrottlePolicy {
    /// DESIGN.md §2: 5 failed logins per identifier per 15 minutes.
    pub const PER_IDENTIFIER: ThrottlePolicy = ThrottlePolicy {
        limit: 5,
        window: Duration::minutes(15),
        max_backoff: Duration::hours(1),
    };
    /// DESIGN.md §2: 20 failed logins per IP address per 15 minutes.
    pub const PER_IP: ThrottlePolicy = ThrottlePolicy {
        limit: 20,
        window: Duration::minutes(15),
        max_backoff: Duration::hours(1),
    };

    /// How far back failures matter.
    pub fn memory(&self) -> Duration {
        self.window.max(self.max_backoff)
    }

    /// How many of the newest failures a decision needs at most: beyond these the wait is
    /// already at its cap.
    pub fn history_len(&self) -> u32 {
        self.limit.saturating_add(32)
    }

    /// Until when the key is refused, given its failures newest first (those older than
    /// [`Self::memory`] are ignored); `None` when it may try now.
    pub fn blocked_until(
        &self,
        failures_newest_first: &[OffsetDateTime],
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        if self.limit == 0 {
            return None;
        }
        let limit = self.limit as usize;
        let remembered: Vec<OffsetDateTime> = failures_newest_first
            .iter()
            .copied()
            .filter(|at| *at > now - self.memory() && *at <= now)
            .collect();
        let in_window: Vec<OffsetDateTime> = remembered
            .iter()
            .copied()
            .filter(|at| *at > now - self.window)
            .collect();
        let mut until: Option<OffsetDateTime> = None;
        if in_window.len() >= limit {
            until = Some(in_window[limit - 1] + self.window);
        }
        if remembered.len() > limit {
            let doublings = u32::try_from(remembered.len() - limit)
                .unwrap_or(u32::MAX)
                .min(30);
            let wait = self
                .window
                .checked_mul(1_i32 << doublings)
                .unwrap_or(self.max_backoff)
                .min(self.max_backoff);
            let backoff = remembered[0] + wait;
            until = Some(until.map_or(backoff, |u| u.max(backoff)));
        }
        until.filter(|u| *u > now)
    }
}

/// What a key counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThrottleKind {
    /// Failed logins for one login identifier.
    Identifier,
    /// Failed logins from one client address (an IPv6 address counts as its /64).
    Ip,
    /// Recovery codes sent to one address.
    RecoveryCode,
    /// Verification codes sent to one address.
    VerificationCode,
    /// Magic links sent to one address of an app.
    MagicLink,
    /// Magic links asked for from one client address.
    MagicLinkIp,
}

impl ThrottleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identifier => "identifier",
            Self::Ip => "ip",
            Self::RecoveryCode => "recovery_code",
            Self::VerificationCode => "verification_code",
            Self::MagicLink => "magic_link",
            Self::MagicLinkIp => "magic_link_ip",
        }
    }
}

/// The SHA-256 of tenant, kind and normalized value: what the database keeps, so no address
/// or identifier is stored in the clear.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ThrottleKey {
    pub kind: ThrottleKind,
    pub hash: TokenHash,
}

impl ThrottleKey {
    pub fn new(tenant: TenantId, kind: ThrottleKind, value: &str) -> Self {
        let normalized = match kind {
            ThrottleKind::Identifier
            | ThrottleKind::RecoveryCode
            | ThrottleKind::VerificationCode
            | ThrottleKind::MagicLink => value.trim().to_lowercase(),
            ThrottleKind::Ip | ThrottleKind::MagicLinkIp => normalize_ip(value),
        };
        Self {
            kind,
            hash: TokenHash::of(&format!("{tenant}\n{}\n{normalized}", kind.as_str())),
        }
    }

    /// The first 6 bytes in hex: enough to tell keys apart in an audit log, useless to recover
    /// the value.
    pub fn prefix(&self) -> String {
        self.hash.0[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl fmt::Debug for ThrottleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ThrottleKey({}:{})", self.kind.as_str(), self.prefix())
    }
}

/// An address as its throttling unit: IPv4 as is, IPv6 as its /64 (one subscriber's prefix),
/// IPv4-mapped IPv6 as the IPv4 address.
pub fn normalize_ip(value: &str) -> String {
    match value.trim().parse::<IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", std::net::Ipv6Addr::from(bits))
        }
        Err(_) => value.trim().to_lowercase(),
    }
}

/// Failed attempts, one row each, so concurrent failures on any number of nodes all count.
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// Records one failure of `key` at `at`, kept until `expires_at`.
    async fn insert_throttle_failure(
        &self,
        tenant: TenantId,
        key: &ThrottleKey,
        at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// The times of `key`'s failures after `since`, newest first, at most `limit`.
    async fn list_throttle_failures(
        &self,
        tenant: TenantId,
        key: &ThrottleKey,
        since: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<OffsetDateTime>>;
    /// How many failures `key` has after `since`.
    async fn count_throttle_failures(
        &self,
        tenant: TenantId,
        key: &ThrottleKey,
        since: OffsetDateTime,
    ) -> StoreResult<u64>;
    /// Records that `key` is locked out until `until`. `true` when it was not locked out at
    /// `now` (a new lockout); of several nodes racing, exactly one gets `true`.
    async fn insert_throttle_lockout(
        &self,
        tenant: TenantId,
        key: &ThrottleKey,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Forgets `key`'s failures (after a successful login); returns how many went.
    async fn delete_throttle_failures(
        &self,
        tenant: TenantId,
        key: &ThrottleKey,
    ) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

    fn at(minutes: i64) -> OffsetDateTime {
        T0 + Duration::minutes(1000 + minutes)
    }

    fn newest_first(minutes: &[i64]) -> Vec<OffsetDateTime> {
        let mut v: Vec<OffsetDateTime> = minutes.iter().map(|m| at(*m)).collect();
        v.sort_by(|a, b| b.cmp(a));
        v
    }

    #[test]
    fn allows_up_to_the_limit_within_the_window() {
        let p = ThrottlePolicy::PER_IDENTIFIER;
        assert_eq!(p.blocked_until(&newest_first(&[0, 1, 2, 3]), at(4)), None);
        // Five failures: blocked until the oldest leaves the 15-minute window.
        let five = newest_first(&[0, 1, 2, 3, 4]);
        assert_eq!(p.blocked_until(&five, at(5)), Some(at(15)));
        assert_eq!(p.blocked_until(&five, at(15)), None);
        // Spread out so that never five fall in one window: never blocked.
        assert_eq!(p.blocked_until(&newest_first(&[0, 16, 32]), at(33)), None);
    }

    #[test]
    fn each_further_failure_doubles_the_wait_up_to_the_cap() {
        let p = ThrottlePolicy::PER_IDENTIFIER;
        let mut failures = vec![0, 0, 0, 0, 0];
        // After the budget block, one more failure waits 30 minutes, the next 60 (the cap).
        failures.push(15);
        assert_eq!(
            p.blocked_until(&newest_first(&failures), at(15)),
            Some(at(45))
        );
        failures.push(45);
        assert_eq!(
            p.blocked_until(&newest_first(&failures), at(45)),
            Some(at(105))
        );
        // A key quiet for the whole memory starts afresh.
        assert_eq!(p.blocked_until(&newest_first(&failures), at(105)), None);
        assert_eq!(
            p.blocked_until(&newest_first(&[45, 105]), at(106)),
            None,
            "old failures are forgotten"
        );
    }

    #[test]
    fn keys_hide_the_value_and_normalize_it() {
        let t = TenantId::DEFAULT;
        let a = ThrottleKey::new(t, ThrottleKind::Identifier, " Alice@Example.com ");
        assert_eq!(
            a,
            ThrottleKey::new(t, ThrottleKind::Identifier, "alice@example.com")
        );
        assert_ne!(
            a,
            ThrottleKey::new(t, ThrottleKind::Ip, "alice@example.com")
        );
        let other = TenantId(uuid::Uuid::from_u128(2));
        assert_ne!(
            a,
            ThrottleKey::new(other, ThrottleKind::Identifier, "alice@example.com")
        );
        assert!(!format!("{a:?}").contains("alice"));
        assert_eq!(a.prefix().len(), 12);
        assert_eq!(
            ThrottleKey::new(t, ThrottleKind::Ip, "2001:db8::1"),
            ThrottleKey::new(t, ThrottleKind::Ip, "2001:db8::ffff:1")
        );
        assert_eq!(normalize_ip("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(normalize_ip("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
    }
}
