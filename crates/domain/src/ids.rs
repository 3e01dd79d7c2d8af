//! Identifiers that cross crate boundaries.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// The tenant (an "app" in the developer console) a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(pub Uuid);

impl TenantId {
    /// The tenant created by the first migration; single-product installs only ever see this one.
    pub const DEFAULT: TenantId = TenantId(Uuid::from_u128(1));
    /// The developer console's tenant (migration 0026): developers are its identities. Built
    /// in like the default tenant: never deleted, nobody's app.
    pub const CONSOLE: TenantId = TenantId(Uuid::from_u128(2));

    /// The default or the console tenant: created by a migration, never deleted.
    pub fn is_builtin(self) -> bool {
        self == Self::DEFAULT || self == Self::CONSOLE
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A new time-ordered (UUIDv7) row key, so inserts land at the end of B-tree indexes.
pub fn new_row_id(now: time::OffsetDateTime) -> Uuid {
    let nanos = now.unix_timestamp_nanos();
    let secs = u64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(0);
    let subsec = u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0);
    Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, secs, subsec))
}
