//! The courier outbox: messages waiting for delivery, their states, and the retry rule a
//! delivery worker follows. Delivery itself (SMTP) lives elsewhere; this module only knows the
//! record and its life cycle `queued → sent | abandoned`.

use crate::ids::TenantId;
use crate::store::StoreResult;
use async_trait::async_trait;
use std::fmt;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Where a message is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Waiting for (another) delivery attempt at `next_attempt_at`.
    Queued,
    Sent,
    /// Given up after too many failed attempts.
    Abandoned,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Abandoned => "abandoned",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "queued" => Some(Self::Queued),
            "sent" => Some(Self::Sent),
            "abandoned" => Some(Self::Abandoned),
            _ => None,
        }
    }
}

/// One outgoing message. Its `Debug` leaves out the recipient, subject and bodies (they carry
/// addresses and one-time codes).
#[derive(Clone, PartialEq)]
pub struct CourierMessage {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub recipient: String,
    pub subject: String,
    /// The text body.
    pub body: String,
    /// The HTML alternative of `body`, when the message has one (sent as multipart/alternative).
    pub html_body: Option<String>,
    /// `registration_code`, `registration_exists`, `verification_code`, …
    pub template_type: String,
    pub status: MessageStatus,
    /// Delivery attempts started so far.
    pub send_count: u32,
    /// Not to be attempted before this time.
    pub next_attempt_at: OffsetDateTime,
    /// Why the last attempt failed (never the body).
    pub last_error: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl CourierMessage {
    /// A queued message, due at once.
    pub fn queued(
        id: Uuid,
        tenant: TenantId,
        recipient: &str,
        subject: String,
        body: String,
        template_type: &str,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            tenant_id: tenant,
            recipient: recipient.to_owned(),
            subject,
            body,
            html_body: None,
            template_type: template_type.to_owned(),
            status: MessageStatus::Queued,
            send_count: 0,
            next_attempt_at: now,
            last_error: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The same message with an HTML alternative to its text body.
    #[must_use]
    pub fn with_html_body(mut self, html: String) -> Self {
        self.html_body = Some(html);
        self
    }
}

impl fmt::Debug for CourierMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CourierMessage")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("recipient", &"[redacted]")
            .field("subject", &"[redacted]")
            .field("body", &"[redacted]")
            .field("html_body", &self.html_body.as_ref().map(|_| "[redacted]"))
            .field("template_type", &self.template_type)
            .field("status", &self.status)
            .field("send_count", &self.send_count)
            .field("next_attempt_at", &self.next_attempt_at)
            .finish_non_exhaustive()
    }
}

/// Which messages to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct CourierFilter {
    pub recipient: Option<String>,
    pub status: Option<MessageStatus>,
    /// Keyset cursor: only messages with an id below this one (ids are time-ordered UUIDv7).
    pub before: Option<Uuid>,
    pub limit: u32,
}

/// How a worker retries: exponential back-off from `first_retry`, capped at `max_delay`, and
/// abandonment once `max_attempts` attempts have failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub first_retry: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            first_retry: Duration::seconds(30),
            max_delay: Duration::hours(1),
        }
    }
}

impl RetryPolicy {
    /// When to try again after `attempts` failed attempts (1 = the first failure).
    pub fn next_attempt(&self, attempts: u32, now: OffsetDateTime) -> OffsetDateTime {
        let doublings = attempts.saturating_sub(1).min(30);
        let delay = self
            .first_retry
            .checked_mul(1_i32 << doublings)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        now + delay
    }
}

#[async_trait]
pub trait CourierStore: Send + Sync {
    async fn insert_courier_message(&self, message: &CourierMessage) -> StoreResult<()>;
    async fn find_courier_message(
        &self,
        tenant: TenantId,
        id: Uuid,
    ) -> StoreResult<Option<CourierMessage>>;
    /// A tenant's messages matching `filter`, newest first.
    async fn list_courier_messages(
        &self,
        tenant: TenantId,
        filter: &CourierFilter,
    ) -> StoreResult<Vec<CourierMessage>>;
    /// Takes up to `limit` queued messages due at `now` (any tenant), oldest due first, for one
    /// delivery attempt: each one's `send_count` goes up by one and its `next_attempt_at` moves to
    /// `now + lease`, so no other worker takes it while this one tries (and it is retried after
    /// the lease if this worker dies). Workers on several nodes never take the same message
    /// (`FOR UPDATE SKIP LOCKED` on PostgreSQL, one writing statement on SQLite).
    async fn claim_due_messages(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<CourierMessage>>;
    /// Marks a message delivered; `NotFound` if it is gone.
    async fn mark_message_sent(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Records a failed attempt: queued again for `next_attempt_at`, or `abandoned` when the
    /// message has had `max_attempts` attempts. Returns the new status.
    async fn mark_message_failed(
        &self,
        tenant: TenantId,
        id: Uuid,
        error: &str,
        next_attempt_at: OffsetDateTime,
        max_attempts: u32,
        now: OffsetDateTime,
    ) -> StoreResult<MessageStatus>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let now = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(policy.next_attempt(1, now), now + Duration::seconds(30));
        assert_eq!(policy.next_attempt(2, now), now + Duration::seconds(60));
        assert_eq!(policy.next_attempt(4, now), now + Duration::seconds(240));
        assert_eq!(policy.next_attempt(40, now), now + Duration::hours(1));
    }

    #[test]
    fn debug_hides_recipient_and_body() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let m = CourierMessage::queued(
            Uuid::nil(),
            TenantId::DEFAULT,
            "alice@example.com",
            "Your code".into(),
            "code 123456".into(),
            "registration_code",
            now,
        )
        .with_html_body("<p>code 123456</p>".into());
        let shown = format!("{m:?}");
        assert!(
            !shown.contains("alice") && !shown.contains("123456"),
            "{shown}"
        );
        assert!(shown.contains("registration_code"));
    }
}
