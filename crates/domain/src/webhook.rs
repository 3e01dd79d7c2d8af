//! Web hooks: the events that call them, the delivery record and its life cycle, the signature a
//! receiver checks, which target addresses are private, and how a blocking hook's answer becomes
//! messages on a form. Sending (HTTP) and templates live in the web layer.
//!
//! An asynchronous delivery moves `queued → failed (retried) → … → delivered | abandoned`; a
//! blocking call is recorded once, after it ran, as `delivered`, `vetoed` or `failed`.

use crate::flow::UiMessage;
use crate::ids::TenantId;
use crate::ip_ban::IpNet;
use crate::secret::Secret;
use crate::store::StoreResult;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// What happened, and so which configured hooks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WebhookEvent {
    RegistrationAfter,
    LoginAfter,
    SettingsAfter,
    RecoveryAfter,
    VerificationAfter,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 5] = [
        Self::RegistrationAfter,
        Self::LoginAfter,
        Self::SettingsAfter,
        Self::RecoveryAfter,
        Self::VerificationAfter,
    ];

    /// The name in configuration, in `X-Gatehouse-Event` and in the template's `ctx.event`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RegistrationAfter => "registration.after",
            Self::LoginAfter => "login.after",
            Self::SettingsAfter => "settings.after",
            Self::RecoveryAfter => "recovery.after",
            Self::VerificationAfter => "verification.after",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

impl fmt::Display for WebhookEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a hook runs: queued after the flow completed, or inline before it completes (and able to
/// stop it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookMode {
    Async,
    Blocking,
}

impl WebhookMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Async => "async",
            Self::Blocking => "blocking",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "async" => Some(Self::Async),
            "blocking" => Some(Self::Blocking),
            _ => None,
        }
    }
}

/// Where a delivery is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first attempt.
    Queued,
    /// The receiver answered 2xx.
    Delivered,
    /// The last attempt failed; an asynchronous delivery is tried again at `next_attempt_at`,
    /// a blocking call is not (the flow failed closed).
    Failed,
    /// Given up: too many failed attempts, a refused target, or a hook no longer configured.
    Abandoned,
    /// A blocking hook answered 4xx and stopped the flow.
    Vetoed,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 5] = [
        Self::Queued,
        Self::Delivered,
        Self::Failed,
        Self::Abandoned,
        Self::Vetoed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Abandoned => "abandoned",
            Self::Vetoed => "vetoed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// One call of one hook for one event. `Debug` leaves out the body (it carries traits).
#[derive(Clone, PartialEq)]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub webhook_id: String,
    pub event: WebhookEvent,
    pub mode: WebhookMode,
    pub url: String,
    /// The rendered JSON payload, exactly as sent (it is signed at send time).
    pub body: String,
    pub status: DeliveryStatus,
    /// Attempts started so far.
    pub attempts: u32,
    /// Not to be attempted before this time (also the lease while a worker holds it).
    pub next_attempt_at: OffsetDateTime,
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed; never the secret, never the body.
    pub last_error: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// When the record is removed by the cleanup.
    pub expires_at: OffsetDateTime,
}

impl WebhookDelivery {
    /// A new record with a new id, due at once.
    pub fn new(
        webhook_id: &str,
        event: WebhookEvent,
        mode: WebhookMode,
        url: &str,
        body: String,
        now: OffsetDateTime,
        retention: Duration,
    ) -> Self {
        Self {
            id: crate::ids::new_row_id(now),
            tenant_id: TenantId::DEFAULT,
            webhook_id: webhook_id.to_owned(),
            event,
            mode,
            url: url.to_owned(),
            body,
            status: DeliveryStatus::Queued,
            attempts: 0,
            next_attempt_at: now,
            last_status_code: None,
            last_error: None,
            created_at: now,
            updated_at: now,
            expires_at: now + retention,
        }
    }
}

impl fmt::Debug for WebhookDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookDelivery")
            .field("id", &self.id)
            .field("webhook_id", &self.webhook_id)
            .field("event", &self.event)
            .field("mode", &self.mode)
            .field("body", &"[redacted]")
            .field("status", &self.status)
            .field("attempts", &self.attempts)
            .field("last_status_code", &self.last_status_code)
            .finish_non_exhaustive()
    }
}

/// The outcome of one attempt, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub status: DeliveryStatus,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub next_attempt_at: OffsetDateTime,
}

/// How an attempt of an asynchronous delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// 2xx.
    Delivered { status_code: u16 },
    /// Worth another try later: a non-2xx answer, a timeout, a network error.
    Failed {
        status_code: Option<u16>,
        error: String,
    },
    /// Never worth another try: the target is refused, or the hook is gone from configuration.
    Refused { error: String },
}

/// Exponential back-off from `first_retry`, capped at `max_delay`; `max_attempts` per delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub first_retry: Duration,
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// What to store after attempt number `attempts` (1 = the first) ended with `outcome`.
    pub fn record(
        &self,
        attempts: u32,
        outcome: AttemptOutcome,
        now: OffsetDateTime,
    ) -> AttemptRecord {
        match outcome {
            AttemptOutcome::Delivered { status_code } => AttemptRecord {
                status: DeliveryStatus::Delivered,
                status_code: Some(status_code),
                error: None,
                next_attempt_at: now,
            },
            AttemptOutcome::Refused { error } => AttemptRecord {
                status: DeliveryStatus::Abandoned,
                status_code: None,
                error: Some(error),
                next_attempt_at: now,
            },
            AttemptOutcome::Failed { status_code, error } => {
                let doublings = attempts.saturating_sub(1).min(30);
                let delay = self
                    .first_retry
                    .checked_mul(1_i32 << doublings)
                    .unwrap_or(self.max_delay)
                    .min(self.max_delay);
                AttemptRecord {
                    status: if attempts >= self.max_attempts {
                        DeliveryStatus::Abandoned
                    } else {
                        DeliveryStatus::Failed
                    },
                    status_code,
                    error: Some(error),
                    next_attempt_at: now + delay,
                }
            }
        }
    }
}

/// Which deliveries to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub webhook_id: Option<String>,
    pub event: Option<WebhookEvent>,
    pub status: Option<DeliveryStatus>,
    /// Keyset cursor: only deliveries with an id below this one (ids are UUIDv7).
    pub before: Option<Uuid>,
    pub limit: u32,
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn insert_webhook_delivery(&self, delivery: &WebhookDelivery) -> StoreResult<()>;
    async fn find_webhook_delivery(
        &self,
        tenant: TenantId,
        id: Uuid,
    ) -> StoreResult<Option<WebhookDelivery>>;
    /// A tenant's deliveries matching `filter`, newest first.
    async fn list_webhook_deliveries(
        &self,
        tenant: TenantId,
        filter: &DeliveryFilter,
    ) -> StoreResult<Vec<WebhookDelivery>>;
    /// Takes up to `limit` asynchronous deliveries (`queued` or `failed`) due at `now`, any
    /// tenant, for one attempt: `attempts` goes up by one and `next_attempt_at` moves to
    /// `now + lease`, so no other worker takes them meanwhile (and they are retried after the
    /// lease if this worker dies). Two workers never take the same delivery (`FOR UPDATE SKIP
    /// LOCKED` on PostgreSQL, one writing statement on SQLite).
    async fn claim_due_deliveries(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>>;
    /// Stores the outcome of an attempt of a delivery still in flight (`queued` or `failed`);
    /// `NotFound` if it is gone or already finished.
    async fn record_delivery_attempt(
        &self,
        tenant: TenantId,
        id: Uuid,
        record: &AttemptRecord,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
}

/// `X-Gatehouse-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The
/// timestamp inside the MAC lets a receiver refuse replays of old requests.
pub fn signature_header(secret: &Secret, timestamp: i64, body: &[u8]) -> String {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
    let mut context = hmac::Context::with_key(&key);
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    format!("t={timestamp},v1={}", hex(context.sign().as_ref()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Whether `ip` is on the public internet: not loopback, private (RFC 1918), shared (RFC 6598),
/// link-local, unique-local (RFC 4193), unspecified, multicast, broadcast or reserved. IPv4
/// addresses inside IPv6 (mapped, NAT64) are judged as IPv4.
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let segments = v6.segments();
            // 64:ff9b::/96, the NAT64 well-known prefix, carries an IPv4 address.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (segments[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (segments[0] & 0xffc0) == 0xfec0) // site-local fec0::/10 (deprecated)
        }
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    !(v4.is_private()
        || v4.is_loopback()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_multicast()
        || v4.is_broadcast()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space, RFC 6598
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments, RFC 6890
        || (a == 198 && (b == 18 || b == 19)) // benchmarking, RFC 2544
        || a >= 240) // reserved
}

/// Which addresses hooks may be sent to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Every address, private ones included.
    pub allow_private: bool,
    /// Private networks allowed anyway (an internal receiver, say).
    pub allowed_networks: Vec<IpNet>,
}

impl TargetPolicy {
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow_private
            || is_public_address(ip)
            || self.allowed_networks.iter().any(|net| net.contains(ip))
    }
}

/// What a blocking hook's 4xx answer puts on the form: messages for the whole form and messages
/// next to fields (keyed `traits.email`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VetoMessages {
    pub messages: Vec<UiMessage>,
    pub field_messages: BTreeMap<String, Vec<UiMessage>>,
}

/// The message id of a veto without a usable message of its own.
pub const VETO_MESSAGE_ID: u32 = 4_000_000;
/// The longest text taken from a receiver's answer for one message.
const MAX_MESSAGE_CHARS: usize = 500;

fn clipped(text: &str) -> String {
    text.trim().chars().take(MAX_MESSAGE_CHARS).collect()
}

/// Reads a blocking hook's 4xx answer. Ory Kratos' shape is understood:
/// `{"messages": [{"instance_ptr": "#/traits/email", "messages": [{"id": 123, "text": "…",
/// "type": "error"}]}]}` (a pointer into `traits` puts the messages next to that field, any other
/// on the form); then `{"error": "…", "message": "…"}` or a short plain-text body as one form
/// message; otherwise a generic one.
pub fn parse_veto(body: &[u8]) -> VetoMessages {
    let mut out = VetoMessages::default();
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    if let Some(groups) = json
        .as_ref()
        .and_then(|v| v.get("messages"))
        .and_then(serde_json::Value::as_array)
    {
        for group in groups {
            let field = group
                .get("instance_ptr")
                .and_then(serde_json::Value::as_str)
                .and_then(field_of_pointer);
            let texts = group
                .get("messages")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten();
            for message in texts {
                let Some(text) = message
                    .get("text")
                    .and_then(serde_json::Value::as_str)
                    .map(clipped)
                    .filter(|t| !t.is_empty())
                else {
                    continue;
                };
                let id = message
                    .get("id")
                    .and_then(serde_json::Value::as_u64)
                    .and_then(|id| u32::try_from(id).ok())
                    .unwrap_or(VETO_MESSAGE_ID);
                let ui = match message.get("type").and_then(serde_json::Value::as_str) {
                    Some("info") => UiMessage::info(id, text),
                    _ => UiMessage::error(id, text),
                };
                match &field {
                    Some(field) => out
                        .field_messages
                        .entry(field.clone())
                        .or_default()
                        .push(ui),
                    None => out.messages.push(ui),
                }
            }
        }
    }
    if !out.messages.is_empty() || !out.field_messages.is_empty() {
        return out;
    }
    let text = match &json {
        Some(value) => ["message", "error_description", "error"]
            .iter()
            .find_map(|key| value.get(*key).and_then(serde_json::Value::as_str))
            .map(clipped),
        None => std::str::from_utf8(body)
            .ok()
            .map(clipped)
            .filter(|t| !t.contains('<') && t.lines().count() <= 3),
    };
    let text = text
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "This request was refused.".to_owned());
    out.messages.push(UiMessage::error(VETO_MESSAGE_ID, text));
    out
}

/// `#/traits/email` → `traits.email`; pointers outside `traits` name no field.
fn field_of_pointer(pointer: &str) -> Option<String> {
    let path = pointer.strip_prefix('#').unwrap_or(pointer);
    let rest = path.strip_prefix("/traits/")?;
    let parts: Vec<String> = rest
        .split('/')
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect();
    if parts.iter().any(String::is_empty) {
        return None;
    }
    Some(format!("traits.{}", parts.join(".")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_round_trip() {
        for event in WebhookEvent::ALL {
            assert_eq!(WebhookEvent::parse(event.as_str()), Some(event));
        }
        assert_eq!(WebhookEvent::parse("login.before"), None);
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_and_body_in_hex() {
        let secret = Secret::new("Jefe");
        let header = signature_header(&secret, 0, b"what do ya want for nothing?");
        assert!(header.starts_with("t=0,v1="), "{header}");
        let hex_part = &header["t=0,v1=".len()..];
        assert_eq!(hex_part.len(), 64);
        assert!(
            hex_part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"Jefe");
        let expected = aws_lc_rs::hmac::sign(&key, b"0.what do ya want for nothing?");
        assert_eq!(hex_part, hex(expected.as_ref()));
        assert_ne!(
            signature_header(&secret, 1, b"x"),
            signature_header(&secret, 2, b"x")
        );
    }

    #[test]
    fn hex_matches_a_known_digest() {
        // RFC 4231 test case 2 without our prefix.
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"Jefe");
        let tag = aws_lc_rs::hmac::sign(&key, b"what do ya want for nothing?");
        assert_eq!(
            hex(tag.as_ref()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
        ] {
            let ip: IpAddr = ip.parse().expect("an address");
            assert!(!is_public_address(ip), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1", "::ffff:8.8.8.8"] {
            let ip: IpAddr = ip.parse().expect("an address");
            assert!(is_public_address(ip), "{ip}");
        }
    }

    #[test]
    fn the_target_policy_allows_listed_networks() {
        let loopback: IpAddr = "127.0.0.1".parse().expect("ip");
        assert!(!TargetPolicy::default().allows(loopback));
        let listed = TargetPolicy {
            allow_private: false,
            allowed_networks: vec![IpNet::parse("127.0.0.0/8").expect("net")],
        };
        assert!(listed.allows(loopback));
        assert!(!listed.allows("10.0.0.1".parse().expect("ip")));
        let all = TargetPolicy {
            allow_private: true,
            allowed_networks: Vec::new(),
        };
        assert!(all.allows("10.0.0.1".parse().expect("ip")));
    }

    #[test]
    fn retries_back_off_then_abandon() {
        let policy = RetryPolicy {
            max_attempts: 3,
            first_retry: Duration::seconds(10),
            max_delay: Duration::seconds(25),
        };
        let now = OffsetDateTime::UNIX_EPOCH;
        let failed = || AttemptOutcome::Failed {
            status_code: Some(500),
            error: "receiver answered 500".into(),
        };
        let first = policy.record(1, failed(), now);
        assert_eq!(first.status, DeliveryStatus::Failed);
        assert_eq!(first.next_attempt_at, now + Duration::seconds(10));
        let second = policy.record(2, failed(), now);
        assert_eq!(second.next_attempt_at, now + Duration::seconds(20));
        assert_eq!(
            policy.record(3, failed(), now).status,
            DeliveryStatus::Abandoned
        );
        let refused = policy.record(1, AttemptOutcome::Refused { error: "no".into() }, now);
        assert_eq!(refused.status, DeliveryStatus::Abandoned);
        let ok = policy.record(2, AttemptOutcome::Delivered { status_code: 204 }, now);
        assert_eq!(ok.status, DeliveryStatus::Delivered);
        assert_eq!(ok.status_code, Some(204));
    }

    #[test]
    fn kratos_shaped_vetoes_go_next_to_their_fields() {
        let body = br##"{"messages": [
            {"instance_ptr": "#/traits/email", "messages": [{"id": 123, "text": "This address is blocked", "type": "error", "context": {}}]},
            {"instance_ptr": "#/", "messages": [{"id": 124, "text": "Try later"}]},
            {"messages": [{"text": "  "}]}
        ]}"##;
        let veto = parse_veto(body);
        assert_eq!(
            veto.field_messages["traits.email"],
            vec![UiMessage::error(123, "This address is blocked")]
        );
        assert_eq!(veto.messages, vec![UiMessage::error(124, "Try later")]);
    }

    #[test]
    fn simple_and_plain_vetoes_become_one_form_message() {
        let veto = parse_veto(br#"{"error": "denied", "message": "Sign-ups are closed"}"#);
        assert_eq!(
            veto.messages,
            vec![UiMessage::error(VETO_MESSAGE_ID, "Sign-ups are closed")]
        );
        assert!(veto.field_messages.is_empty());
        let veto = parse_veto(b"not allowed here");
        assert_eq!(veto.messages[0].text, "not allowed here");
        let veto = parse_veto(b"<html><body>403</body></html>");
        assert_eq!(veto.messages[0].text, "This request was refused.");
        assert_eq!(
            parse_veto(b"").messages[0].text,
            "This request was refused."
        );
    }

    #[test]
    fn pointers_outside_traits_name_no_field() {
        assert_eq!(
            field_of_pointer("#/traits/name/first"),
            Some("traits.name.first".into())
        );
        assert_eq!(field_of_pointer("#/password"), None);
        assert_eq!(field_of_pointer("#/traits/"), None);
    }

    #[test]
    fn debug_hides_the_body() {
        let d = WebhookDelivery::new(
            "crm",
            WebhookEvent::LoginAfter,
            WebhookMode::Async,
            "https://hooks.example/x",
            "{\"email\": \"alice@example.com\"}".into(),
            OffsetDateTime::UNIX_EPOCH,
            Duration::days(1),
        );
        let shown = format!("{d:?}");
        assert!(!shown.contains("alice"), "{shown}");
        assert!(shown.contains("crm"));
    }
}
