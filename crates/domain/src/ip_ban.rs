//! IP bans: an address or network (IPv4 or IPv6, CIDR notation) refused on the public listener,
//! for good or until it expires. Bans are instance-wide, not per tenant: the public listener
//! serves every tenant.

use crate::store::StoreResult;
use async_trait::async_trait;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use time::OffsetDateTime;
use uuid::Uuid;

/// A network: an address and a prefix length, host bits cleared (`10.0.0.0/8`, `2001:db8::/32`;
/// a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpNetError {
    #[error("{0:?} is not an IP address or network such as 192.0.2.7, 10.0.0.0/8 or 2001:db8::/32")]
    Invalid(String),
    #[error("the prefix length /{prefix} is too long for {family} (at most /{max})")]
    PrefixTooLong {
        prefix: u8,
        family: &'static str,
        max: u8,
    },
}

impl IpNet {
    pub fn parse(value: &str) -> Result<Self, IpNetError> {
        let value = value.trim();
        let invalid = || IpNetError::Invalid(value.to_owned());
        let (addr, prefix) = match value.split_once('/') {
            Some((addr, prefix)) => {
                if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid());
                }
                let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
                (addr, Some(prefix))
            }
            None => (value, None),
        };
        let addr = IpAddr::from_str(addr).map_err(|_| invalid())?;
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(IpNetError::PrefixTooLong {
                prefix,
                family: if max == 32 { "IPv4" } else { "IPv6" },
                max,
            });
        }
        Ok(Self {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is inside this network (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                mask(ip, self.prefix) == self.addr
            }
            _ => false,
        }
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let masked = if prefix == 0 {
                0
            } else {
                bits & (u32::MAX << (32 - u32::from(prefix)))
            };
            IpAddr::V4(Ipv4Addr::from(masked))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let masked = if prefix == 0 {
                0
            } else {
                bits & (u128::MAX << (128 - u32::from(prefix)))
            };
            IpAddr::V6(Ipv6Addr::from(masked))
        }
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for IpNet {
    type Err = IpNetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for IpNet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One ban.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IpBan {
    pub id: Uuid,
    pub cidr: IpNet,
    pub reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

impl IpBan {
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }
}

#[async_trait]
pub trait IpBanStore: Send + Sync {
    async fn insert_ip_ban(&self, ban: &IpBan) -> StoreResult<()>;
    /// Every ban, expired ones too (until cleanup removes them), newest first.
    async fn find_ip_ban(&self, id: Uuid) -> StoreResult<Option<IpBan>>;
    async fn list_ip_bans(&self) -> StoreResult<Vec<IpBan>>;
    /// The bans in force at `now`.
    async fn list_active_ip_bans(&self, now: OffsetDateTime) -> StoreResult<Vec<IpBan>>;
    /// `NotFound` if there is no such ban.
    async fn delete_ip_ban(&self, id: Uuid) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("valid address")
    }

    #[test]
    fn parses_addresses_and_networks_of_both_families() {
        assert_eq!(
            IpNet::parse("192.0.2.7").expect("v4").to_string(),
            "192.0.2.7/32"
        );
        assert_eq!(
            IpNet::parse("10.1.2.3/8").expect("v4 net").to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            IpNet::parse("2001:db8::1/32").expect("v6 net").to_string(),
            "2001:db8::/32"
        );
        assert_eq!(IpNet::parse("::1").expect("v6").to_string(), "::1/128");
        assert_eq!(
            IpNet::parse("0.0.0.0/0").expect("all").to_string(),
            "0.0.0.0/0"
        );
        for bad in [
            "",
            "nope",
            "10.0.0.0/",
            "10.0.0.0/x",
            "10.0.0.0/-1",
            "1.2.3.4.5",
            "10/8",
        ] {
            assert!(IpNet::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            IpNet::parse("10.0.0.0/33"),
            Err(IpNetError::PrefixTooLong {
                prefix: 33,
                family: "IPv4",
                max: 32
            })
        );
        assert!(IpNet::parse("::/129").is_err());
    }

    #[test]
    fn contains_what_the_prefix_covers() {
        let net = IpNet::parse("10.0.0.0/8").expect("valid");
        assert!(net.contains(ip("10.255.0.1")));
        assert!(net.contains(ip("::ffff:10.0.0.1")), "IPv4-mapped IPv6");
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(!net.contains(ip("::1")));
        let v6 = IpNet::parse("2001:db8::/32").expect("valid");
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        let one = IpNet::parse("127.0.0.1").expect("valid");
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        assert!(
            IpNet::parse("0.0.0.0/0")
                .expect("valid")
                .contains(ip("8.8.8.8"))
        );
    }

    #[test]
    fn expiry_ends_a_ban() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut ban = IpBan {
            id: Uuid::nil(),
            cidr: IpNet::parse("192.0.2.0/24").expect("valid"),
            reason: None,
            created_at: now,
            expires_at: None,
        };
        assert!(ban.is_active(now));
        ban.expires_at = Some(now + time::Duration::hours(1));
        assert!(ban.is_active(now));
        assert!(!ban.is_active(now + time::Duration::hours(1)));
    }
}
