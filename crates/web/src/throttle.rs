//! Throttling on the public listener: failed logins per identifier and per address, counted in
//! the database so every node agrees ([`LoginThrottle`]), and a per-node budget of self-service
//! POSTs per address ([`self_service_budget`]). Both answer 429 with `Retry-After`.

use crate::audit;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::store::Storage;
use gatehouse_domain::throttle::{ThrottleKey, ThrottleKind, ThrottlePolicy, normalize_ip};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use time::OffsetDateTime;

/// Throttling configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// Failed logins per identifier (DESIGN.md §2: 5 per 15 min).
    pub per_identifier: ThrottlePolicy,
    /// Failed logins per client address (DESIGN.md §2: 20 per 15 min).
    pub per_ip: ThrottlePolicy,
    /// POSTs under `/self-service/` per client address per minute, per node.
    pub self_service_per_ip_per_minute: u32,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            per_identifier: ThrottlePolicy::PER_IDENTIFIER,
            per_ip: ThrottlePolicy::PER_IP,
            self_service_per_ip_per_minute: 60,
        }
    }
}

/// Refused for this long: 429 with `Retry-After` in whole seconds (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub std::time::Duration);

impl RetryAfter {
    pub fn seconds(&self) -> u64 {
        let secs = self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0);
        secs.max(1)
    }
}

impl IntoResponse for RetryAfter {
    fn into_response(self) -> Response {
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "too many attempts; try again later",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(self.seconds()));
        response
    }
}

/// Failed-login throttling, shared by all nodes through the database. Keys are hashed: no
/// identifier or address is stored in the clear.
#[derive(Clone)]
pub struct LoginThrottle {
    store: Arc<dyn Storage>,
    settings: ThrottleSettings,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl LoginThrottle {
    pub fn new(store: Arc<dyn Storage>, settings: ThrottleSettings) -> Self {
        Self { store, settings }
    }

    fn keys(
        &self,
        tenant: TenantId,
        identifier: &str,
        ip: Option<&str>,
    ) -> Vec<(ThrottleKey, ThrottlePolicy)> {
        let mut keys = vec![(
            ThrottleKey::new(tenant, ThrottleKind::Identifier, identifier),
            self.settings.per_identifier,
        )];
        if let Some(ip) = ip {
            keys.push((
                ThrottleKey::new(tenant, ThrottleKind::Ip, ip),
                self.settings.per_ip,
            ));
        }
        keys
    }

    /// The failures that matter for `key` at `now`, newest first. A store failure counts as no
    /// failures (logged): a database outage must not lock everyone out.
    async fn history(
        &self,
        tenant: TenantId,
        key: &ThrottleKey,
        policy: &ThrottlePolicy,
        now: OffsetDateTime,
    ) -> Vec<OffsetDateTime> {
        match self
            .store
            .list_throttle_failures(tenant, key, now - policy.memory(), policy.history_len())
            .await
        {
            Ok(history) => history,
            Err(err) => {
                tracing::warn!(error = %err, throttle.kind = key.kind.as_str(), "cannot read login failures");
                Vec::new()
            }
        }
    }

    /// Err(retry_after) when the identifier or the IP is over its failure budget.
    pub async fn check(
        &self,
        tenant: TenantId,
        identifier: &str,
        ip: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), RetryAfter> {
        let mut until: Option<OffsetDateTime> = None;
        for (key, policy) in self.keys(tenant, identifier, ip) {
            let history = self.history(tenant, &key, &policy, now).await;
            if let Some(u) = policy.blocked_until(&history, now) {
                until = Some(until.map_or(u, |prev| prev.max(u)));
            }
        }
        match until {
            None => Ok(()),
            Some(u) => Err(RetryAfter((u - now).unsigned_abs())),
        }
    }

    /// Counts a failed login for the identifier and the address; records a `throttle_triggered`
    /// audit event when a key goes over its budget.
    pub async fn record_failure(
        &self,
        tenant: TenantId,
        identifier: &str,
        ip: Option<&str>,
        now: OffsetDateTime,
    ) {
        for (key, policy) in self.keys(tenant, identifier, ip) {
            if let Err(err) = self
                .store
                .insert_throttle_failure(tenant, &key, now, now + policy.memory())
                .await
            {
                tracing::warn!(error = %err, throttle.kind = key.kind.as_str(), "cannot record a login failure");
                continue;
            }
            let after = self.history(tenant, &key, &policy, now).await;
            let Some(until) = policy.blocked_until(&after, now) else {
                continue;
            };
            let new_lockout = self
                .store
                .insert_throttle_lockout(tenant, &key, now, until)
                .await
                .unwrap_or_else(|err| {
                    tracing::warn!(error = %err, "cannot record a login lockout");
                    false
                });
            if new_lockout {
                let event = AuditEvent::new(
                    tenant,
                    AuditEventType::ThrottleTriggered,
                    AuditResult::Failure,
                    now,
                )
                .actor("system")
                .client(ip, None)
                .reason("too many failed logins")
                .details(json!({
                    "kind": key.kind.as_str(),
                    "key": key.prefix(),
                    "retry_after": RetryAfter((until - now).unsigned_abs()).seconds(),
                }));
                audit::insert(self.store.as_ref(), &event).await;
            }
        }
    }

    /// Forgets the identifier's failures after a successful login (the address keeps its
    /// count: one success must not reset a spray across many identifiers).
    pub async fn record_success(&self, tenant: TenantId, identifier: &str, _now: OffsetDateTime) {
        let key = ThrottleKey::new(tenant, ThrottleKind::Identifier, identifier);
        if let Err(err) = self.store.delete_throttle_failures(tenant, &key).await {
            tracing::warn!(error = %err, "cannot clear login failures");
        }
    }
}

/// The client's socket address, when the listener provides it.
pub(crate) fn peer_addr(request: &Request) -> Option<std::net::IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Middleware on the public listener: every POST under `/self-service/` spends one unit of the
/// client address's per-minute budget on this node; past it, 429 with `Retry-After`. It runs
/// before routing, so it covers every self-service endpoint, present and future.
pub async fn self_service_budget(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::POST
        && request.uri().path().starts_with("/self-service/")
        && let Some(ip) = peer_addr(&request)
        && let Err(wait) = state
            .self_service_limiter
            .hit(&normalize_ip(&ip.to_string()), state.now())
    {
        return RetryAfter(std::time::Duration::from_secs(wait)).into_response();
    }
    next.run(request).await
}

/// Counts one emailed code to `address` of kind `kind` (recovery or verification) against its
/// budget of `per_hour`, shared by every node through the database. Unknown addresses count
/// exactly like known ones, so a refusal tells nothing about the address. A store failure lets
/// the message go (logged).
pub async fn code_budget(
    state: &AppState,
    tenant: TenantId,
    kind: ThrottleKind,
    address: &str,
    per_hour: u32,
) -> Result<(), RetryAfter> {
    let now = state.now();
    let hour = time::Duration::hours(1);
    let key = ThrottleKey::new(tenant, kind, address);
    let recent = match state
        .store
        .list_throttle_failures(tenant, &key, now - hour, per_hour.max(1))
        .await
    {
        Ok(recent) => recent,
        Err(err) => {
            tracing::warn!(error = %err, throttle.kind = kind.as_str(), "cannot read the code budget");
            return Ok(());
        }
    };
    if per_hour == 0 || recent.len() >= per_hour as usize {
        // The oldest of the last `per_hour` sends leaves the window first.
        let oldest = recent.last().copied().unwrap_or(now);
        let wait = (oldest + hour - now).max(time::Duration::seconds(1));
        return Err(RetryAfter(
            std::time::Duration::try_from(wait).unwrap_or(std::time::Duration::from_secs(3600)),
        ));
    }
    if let Err(err) = state
        .store
        .insert_throttle_failure(tenant, &key, now, now + hour)
        .await
    {
        tracing::warn!(error = %err, throttle.kind = kind.as_str(), "cannot count a code sent");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(RetryAfter(std::time::Duration::from_millis(1)).seconds(), 1);
        assert_eq!(
            RetryAfter(std::time::Duration::from_millis(1500)).seconds(),
            2
        );
        assert_eq!(
            RetryAfter(std::time::Duration::from_secs(900)).seconds(),
            900
        );
        assert_eq!(RetryAfter(std::time::Duration::ZERO).seconds(), 1);
    }
}
