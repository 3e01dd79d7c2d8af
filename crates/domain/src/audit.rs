//! Audit events: who did what, when, from where, and how it ended. Never a password, token or
//! code: callers put only identifiers (ids, hash prefixes) and reasons in them.

use crate::ids::{TenantId, new_row_id};
use crate::store::StoreResult;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

/// What happened. Stored and filtered by its snake_case name (`login_failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditEventType {
    RegistrationSucceeded,
    RegistrationAttempted,
    LoginSucceeded,
    LoginFailed,
    Logout,
    SessionRevoked,
    IdentityCreated,
    IdentityUpdated,
    IdentityDeleted,
    ThrottleTriggered,
    IpBanned,
    IpUnbanned,
    VerificationRequested,
    VerificationSucceeded,
    RecoveryRequested,
    RecoverySucceeded,
    RecoveryFailed,
    RecoveryCodeCreated,
    ProfileUpdated,
    PasswordChanged,
    EmailChanged,
    ScopeCreated,
    ScopeUpdated,
    ScopeDeleted,
    ClientRegisteredByUser,
    ClientDeactivatedByUser,
    ConsentGranted,
    ConsentDenied,
    CodeReplayDetected,
    RefreshReuseDetected,
    ConsentRevoked,
    TenantCreated,
    TenantUpdated,
    TenantDeleted,
    ApiKeyCreated,
    ApiKeyRevoked,
    /// A magic link was emailed to a person of an app.
    MagicLinkSent,
    /// An OAuth 2.0 client of an app was created in the console.
    ClientCreated,
    /// An OAuth 2.0 client of an app was deleted in the console.
    ClientDeleted,
    /// An OAuth 2.0 client of an app was changed in the console.
    ClientUpdated,
}

impl AuditEventType {
    pub const ALL: [AuditEventType; 40] = [
        Self::RegistrationSucceeded,
        Self::RegistrationAttempted,
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::Logout,
        Self::SessionRevoked,
        Self::IdentityCreated,
        Self::IdentityUpdated,
        Self::IdentityDeleted,
        Self::ThrottleTriggered,
        Self::IpBanned,
        Self::IpUnbanned,
        Self::VerificationRequested,
        Self::VerificationSucceeded,
        Self::RecoveryRequested,
        Self::RecoverySucceeded,
        Self::RecoveryFailed,
        Self::RecoveryCodeCreated,
        Self::ProfileUpdated,
        Self::PasswordChanged,
        Self::EmailChanged,
        Self::ScopeCreated,
        Self::ScopeUpdated,
        Self::ScopeDeleted,
        Self::ClientRegisteredByUser,
        Self::ClientDeactivatedByUser,
        Self::ConsentGranted,
        Self::ConsentDenied,
        Self::CodeReplayDetected,
        Self::RefreshReuseDetected,
        Self::ConsentRevoked,
        Self::TenantCreated,
        Self::TenantUpdated,
        Self::TenantDeleted,
        Self::ApiKeyCreated,
        Self::ApiKeyRevoked,
        Self::MagicLinkSent,
        Self::ClientCreated,
        Self::ClientDeleted,
        Self::ClientUpdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RegistrationSucceeded => "registration_succeeded",
            Self::RegistrationAttempted => "registration_attempted",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::Logout => "logout",
            Self::SessionRevoked => "session_revoked",
            Self::IdentityCreated => "identity_created",
            Self::IdentityUpdated => "identity_updated",
            Self::IdentityDeleted => "identity_deleted",
            Self::ThrottleTriggered => "throttle_triggered",
            Self::IpBanned => "ip_banned",
            Self::IpUnbanned => "ip_unbanned",
            Self::VerificationRequested => "verification_requested",
            Self::VerificationSucceeded => "verification_succeeded",
            Self::RecoveryRequested => "recovery_requested",
            Self::RecoverySucceeded => "recovery_succeeded",
            Self::RecoveryFailed => "recovery_failed",
            Self::RecoveryCodeCreated => "recovery_code_created",
            Self::ProfileUpdated => "profile_updated",
            Self::PasswordChanged => "password_changed",
            Self::EmailChanged => "email_changed",
            Self::ScopeCreated => "scope_created",
            Self::ScopeUpdated => "scope_updated",
            Self::ScopeDeleted => "scope_deleted",
            Self::ClientRegisteredByUser => "client_registered_by_user",
            Self::ClientDeactivatedByUser => "client_deactivated_by_user",
            Self::ConsentGranted => "consent_granted",
            Self::ConsentDenied => "consent_denied",
            Self::CodeReplayDetected => "code_replay_detected",
            Self::RefreshReuseDetected => "refresh_reuse_detected",
            Self::ConsentRevoked => "consent_revoked",
            Self::TenantCreated => "tenant_created",
            Self::TenantUpdated => "tenant_updated",
            Self::TenantDeleted => "tenant_deleted",
            Self::ApiKeyCreated => "api_key_created",
            Self::ApiKeyRevoked => "api_key_revoked",
            Self::MagicLinkSent => "magic_link_sent",
            Self::ClientCreated => "client_created",
            Self::ClientDeleted => "client_deleted",
            Self::ClientUpdated => "client_updated",
        }
    }

    /// The type named `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for AuditEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditResult {
    Success,
    Failure,
}

impl AuditResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "success" => Some(Self::Success),
            "failure" => Some(Self::Failure),
            _ => None,
        }
    }
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub event_type: AuditEventType,
    pub identity_id: Option<Uuid>,
    /// Who acted: `"admin"`, `"self"`, `"system"`.
    pub actor: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub result: AuditResult,
    /// Why it failed (`"invalid_credentials"`, `"inactive_identity"`), or what triggered it.
    pub reason: Option<String>,
    /// More facts as a JSON object; never a secret.
    pub details: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl AuditEvent {
    /// An event with a fresh time-ordered id and nothing but its type and result.
    pub fn new(
        tenant: TenantId,
        event_type: AuditEventType,
        result: AuditResult,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: new_row_id(now),
            tenant_id: tenant,
            event_type,
            identity_id: None,
            actor: None,
            ip_address: None,
            user_agent: None,
            result,
            reason: None,
            details: serde_json::Value::Object(serde_json::Map::new()),
            created_at: now,
        }
    }

    #[must_use]
    pub fn identity(mut self, id: Uuid) -> Self {
        self.identity_id = Some(id);
        self
    }

    #[must_use]
    pub fn actor(mut self, actor: &str) -> Self {
        self.actor = Some(actor.to_owned());
        self
    }

    /// The requester's address and user agent.
    #[must_use]
    pub fn client(mut self, ip: Option<&str>, user_agent: Option<&str>) -> Self {
        self.ip_address = ip.map(str::to_owned);
        self.user_agent = user_agent.map(|ua| ua.chars().take(512).collect());
        self
    }

    #[must_use]
    pub fn reason(mut self, reason: &str) -> Self {
        self.reason = Some(reason.to_owned());
        self
    }

    #[must_use]
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// Which events to list: every condition that is set must hold. Newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub identity_id: Option<Uuid>,
    pub event_type: Option<AuditEventType>,
    /// Only events at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only events before this time.
    pub until: Option<OffsetDateTime>,
    /// Keyset cursor: only events strictly older than this one.
    pub before: Option<AuditCursor>,
    pub limit: u32,
}

/// A position in the newest-first order: `(created_at, id)` of the last event of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditCursor {
    pub created_at: OffsetDateTime,
    pub id: Uuid,
}

impl AuditCursor {
    pub fn of(event: &AuditEvent) -> Self {
        Self {
            created_at: event.created_at,
            id: event.id,
        }
    }

    /// The opaque page token: `<unix microseconds>.<id>`.
    pub fn to_token(self) -> String {
        let micros = self.created_at.unix_timestamp_nanos() / 1_000;
        format!("{micros}.{}", self.id.simple())
    }

    pub fn parse_token(token: &str) -> Option<Self> {
        let (micros, id) = token.split_once('.')?;
        let micros: i128 = micros.parse().ok()?;
        Some(Self {
            created_at: OffsetDateTime::from_unix_timestamp_nanos(micros.checked_mul(1_000)?)
                .ok()?,
            id: Uuid::try_parse(id).ok()?,
        })
    }
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn insert_audit_event(&self, event: &AuditEvent) -> StoreResult<()>;
    /// A tenant's events matching `filter`, newest first, at most `filter.limit`.
    async fn list_audit_events(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
    ) -> StoreResult<Vec<AuditEvent>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip_through_their_names() {
        for t in AuditEventType::ALL {
            assert_eq!(AuditEventType::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_value(t).expect("serializes"),
                serde_json::Value::String(t.as_str().to_owned())
            );
        }
        assert_eq!(AuditEventType::parse("nope"), None);
    }

    #[test]
    fn page_tokens_round_trip_and_refuse_garbage() {
        let now = time::macros::datetime!(2026-03-01 12:00:00.123456 UTC);
        let cursor = AuditCursor {
            created_at: now,
            id: new_row_id(now),
        };
        assert_eq!(AuditCursor::parse_token(&cursor.to_token()), Some(cursor));
        for bad in [
            "",
            "x",
            "1.",
            ".abc",
            "12.not-a-uuid",
            "99999999999999999999999999.0",
        ] {
            assert_eq!(AuditCursor::parse_token(bad), None, "{bad}");
        }
    }
}
