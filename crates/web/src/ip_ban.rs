//! The IP ban list on the public listener: bans held in memory (a synchronous read per request),
//! reloaded from the database every few seconds by each node and at once on the node that changed
//! them; a banned peer gets 403 before any routing.

use crate::error::ApiError;
use crate::state::AppState;
use crate::throttle::peer_addr;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gatehouse_domain::ip_ban::{IpBanStore, IpNet};
use gatehouse_domain::store::StoreResult;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use time::OffsetDateTime;
use tokio::sync::Notify;

/// How often every node re-reads the bans (a change on another node reaches it within this).
pub const RELOAD_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

/// A banned network and the end of its ban (`None`: until removed).
type Ban = (IpNet, Option<OffsetDateTime>);

/// This node's copy of the bans in force.
#[derive(Debug, Default)]
pub struct IpBanList {
    bans: RwLock<Arc<Vec<Ban>>>,
    /// Wakes the reload loop early.
    pub changed: Notify,
}

impl IpBanList {
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the copy with the bans in force at `now`.
    pub async fn reload<S: IpBanStore + ?Sized>(
        &self,
        store: &S,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let bans: Vec<Ban> = store
            .list_active_ip_bans(now)
            .await?
            .into_iter()
            .map(|b| (b.cidr, b.expires_at))
            .collect();
        *self
            .bans
            .write()
            .expect("ban list lock is never poisoned: nothing panics holding it") = Arc::new(bans);
        Ok(())
    }

    /// Whether `ip` falls in a ban still in force at `now` (a ban that expired since the last
    /// reload no longer counts).
    pub fn is_banned(&self, ip: IpAddr, now: OffsetDateTime) -> bool {
        let bans = self
            .bans
            .read()
            .expect("ban list lock is never poisoned: nothing panics holding it")
            .clone();
        bans.iter()
            .any(|(net, expires)| expires.is_none_or(|e| e > now) && net.contains(ip))
    }

    pub fn len(&self) -> usize {
        self.bans
            .read()
            .expect("ban list lock is never poisoned: nothing panics holding it")
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Middleware on the public listener: 403 for a peer address that is banned. Health checks stay
/// reachable, so a too-wide ban cannot take nodes out of a load balancer.
pub async fn refuse_banned(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if !request.uri().path().starts_with("/health/")
        && let Some(ip) = peer_addr(&request)
        && state.ip_bans.is_banned(ip, state.now())
    {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "ip_banned",
            "requests from this address are not allowed",
        )
        .into_response();
    }
    next.run(request).await
}
