//! Self-service flows (login, registration, recovery, verification, settings): a short-lived
//! server-side record a person or an API client moves through step by step. The flow keeps what
//! the form showed last (submitted values and messages, never a password), the `return_to` URL,
//! for a registration waiting on its emailed code the pending account, for recovery and
//! verification the code sent, and for settings the identity it belongs to.

use crate::ids::TenantId;
use crate::secret::TokenHash;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    Login,
    Registration,
    Recovery,
    Verification,
    Settings,
}

impl FlowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowKind::Login => "login",
            FlowKind::Registration => "registration",
            FlowKind::Recovery => "recovery",
            FlowKind::Verification => "verification",
            FlowKind::Settings => "settings",
        }
    }
}

/// Who drives the flow: an API client (tokens in bodies, no cookies) or a browser (cookies, CSRF
/// tokens, redirects to the built-in pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavor {
    Api,
    Browser,
}

/// Where a flow stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowState {
    /// Waiting for the form.
    ChooseMethod,
    /// A code went out by email; waiting for it.
    SentEmail,
    /// Done: the flow cannot be submitted again.
    PassedChallenge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    Info,
    Error,
    Success,
}

/// A message shown on the form or next to one field. Ids follow the numbering Ory Kratos clients
/// know (1xxxxxx information, 4xxxxxx validation errors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UiMessage {
    pub id: u32,
    pub text: String,
    #[serde(rename = "type")]
    pub kind: MessageType,
}

impl UiMessage {
    pub fn error(id: u32, text: impl Into<String>) -> Self {
        Self {
            id,
            text: text.into(),
            kind: MessageType::Error,
        }
    }

    pub fn info(id: u32, text: impl Into<String>) -> Self {
        Self {
            id,
            text: text.into(),
            kind: MessageType::Info,
        }
    }

    pub fn success(id: u32, text: impl Into<String>) -> Self {
        Self {
            id,
            text: text.into(),
            kind: MessageType::Success,
        }
    }

    pub fn invalid_credentials() -> Self {
        Self::error(
            4_000_006,
            "The provided credentials are invalid. Check the email address and the password.",
        )
    }

    pub fn code_invalid() -> Self {
        Self::error(
            4_010_008,
            "The code is invalid or has already been used. Check it, or start again to get a new one.",
        )
    }

    pub fn too_many_code_attempts() -> Self {
        Self::error(
            4_010_009,
            "Too many wrong codes were entered. Start again to get a new code.",
        )
    }

    pub fn code_sent(address: &str) -> Self {
        Self::info(
            1_040_005,
            format!(
                "We sent a code to {address}. Enter it below to finish signing up. It is valid for one hour."
            ),
        )
    }

    pub fn identifier_taken() -> Self {
        Self::error(
            4_000_007,
            "An account with this email address exists already. Sign in instead.",
        )
    }

    pub fn required(label: &str) -> Self {
        Self::error(4_000_002, format!("{label} is required."))
    }
}

/// What the form showed last: values the person typed (never a password or a code) and the
/// messages for the whole form and for each field, keyed by field name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FormState {
    #[serde(default)]
    pub values: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub messages: Vec<UiMessage>,
    #[serde(default)]
    pub field_messages: BTreeMap<String, Vec<UiMessage>>,
}

impl FormState {
    pub fn clear_messages(&mut self) {
        self.messages.clear();
        self.field_messages.clear();
    }

    pub fn field_error(&mut self, field: &str, message: UiMessage) {
        self.field_messages
            .entry(field.to_owned())
            .or_default()
            .push(message);
    }

    pub fn has_errors(&self) -> bool {
        self.messages.iter().any(|m| m.kind == MessageType::Error)
            || self
                .field_messages
                .values()
                .flatten()
                .any(|m| m.kind == MessageType::Error)
    }
}

/// A registration waiting for the code sent to its address (verification-first registration).
/// When the address already belongs to an account, `account` is `None`: the person who owns it got
/// a "someone tried to register" message instead, and no code can complete this flow.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingRegistration {
    pub address: String,
    pub account: Option<PendingAccount>,
    #[serde(with = "hash_b64")]
    pub code_hash: Option<TokenHash>,
    pub attempts: u32,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingAccount {
    pub schema_id: String,
    pub traits: serde_json::Value,
    /// The password's stored form (an argon2id PHC string), computed when the form was sent.
    pub password_hash: String,
}

impl std::fmt::Debug for PendingRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingRegistration")
            .field("account", &self.account)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PendingAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Traits are personal data and the hash is a credential: neither goes to logs.
        f.debug_struct("PendingAccount")
            .field("schema_id", &self.schema_id)
            .finish_non_exhaustive()
    }
}

/// How many wrong codes a pending registration accepts before it must start again.
pub const MAX_CODE_ATTEMPTS: u32 = 5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub kind: FlowKind,
    pub flavor: Flavor,
    pub state: FlowState,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// Where the browser goes when the flow succeeds; checked against the allowed URLs when the
    /// flow was created.
    pub return_to: Option<String>,
    /// `true` for a login that re-authenticates a signed-in person (`refresh=true`).
    #[serde(default)]
    pub refresh: bool,
    #[serde(default)]
    pub form: FormState,
    #[serde(default)]
    pub pending: Option<PendingRegistration>,
    /// Recovery and verification: the code sent to an address, waiting to be entered.
    #[serde(default)]
    pub challenge: Option<CodeChallenge>,
    /// Settings: the identity whose settings the flow changes (only its sessions may submit).
    #[serde(default)]
    pub identity_id: Option<Uuid>,
    /// Registration: the identity schema of the flow's tenant, when it is not the deployment's
    /// default (its fields are the form's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_id: Option<String>,
    /// Bumped by every update; an update that read an older version loses (compare-and-swap), so
    /// two concurrent submissions of one flow cannot both count.
    #[serde(skip)]
    pub version: i64,
}

/// Why a flow cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    #[error("the flow expired; start a new one")]
    Expired,
    #[error("the flow is of another kind")]
    WrongKind,
    #[error("the flow is already complete")]
    Completed,
}

impl Flow {
    pub fn new(
        tenant_id: TenantId,
        kind: FlowKind,
        flavor: Flavor,
        return_to: Option<String>,
        lifespan: Duration,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: crate::ids::new_row_id(now),
            tenant_id,
            kind,
            flavor,
            state: FlowState::ChooseMethod,
            issued_at: now,
            expires_at: now + lifespan,
            return_to,
            refresh: false,
            form: FormState::default(),
            pending: None,
            challenge: None,
            identity_id: None,
            schema_id: None,
            version: 0,
        }
    }

    /// Checks that the flow may take a submission of `kind` now.
    pub fn ensure_usable(&self, kind: FlowKind, now: OffsetDateTime) -> Result<(), FlowError> {
        if self.kind != kind {
            return Err(FlowError::WrongKind);
        }
        if now >= self.expires_at {
            return Err(FlowError::Expired);
        }
        if self.state == FlowState::PassedChallenge {
            return Err(FlowError::Completed);
        }
        Ok(())
    }
}

/// The outcome of entering a registration code.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeCheck {
    /// The code is right and an account waits to be created.
    Accepted(PendingAccount),
    /// Wrong code, or no code can complete this flow; one attempt used.
    Rejected,
    /// The attempts are used up.
    Exhausted,
}

impl PendingRegistration {
    /// Checks a submitted code and counts the attempt. A pending registration without an account
    /// (the address was taken) rejects every code, exactly as a wrong code would be rejected.
    pub fn check_code(&mut self, flow_id: Uuid, submitted: &str) -> CodeCheck {
        if self.attempts >= MAX_CODE_ATTEMPTS {
            return CodeCheck::Exhausted;
        }
        self.attempts += 1;
        let presented = code_hash(flow_id, submitted.trim());
        let matches = self
            .code_hash
            .as_ref()
            .is_some_and(|hash| bool::from(hash.0.ct_eq(&presented.0)));
        match (&self.account, matches) {
            (Some(account), true) => CodeCheck::Accepted(account.clone()),
            _ if self.attempts >= MAX_CODE_ATTEMPTS => CodeCheck::Exhausted,
            _ => CodeCheck::Rejected,
        }
    }
}

/// A code sent to an address for recovery or verification. When no identity has the address,
/// `identity_id` and `code_hash` are `None`: nothing was sent, and every code is rejected exactly
/// as a wrong one would be, so the flow's answers do not tell whether the address is known.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeChallenge {
    pub address: String,
    pub identity_id: Option<Uuid>,
    #[serde(with = "hash_b64")]
    pub code_hash: Option<TokenHash>,
    pub attempts: u32,
    /// When the code was sent (a new one replaces it).
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
    /// The code is refused from then on, even if the flow still lives.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for CodeChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeChallenge")
            .field("identity_id", &self.identity_id)
            .field("attempts", &self.attempts)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The outcome of entering a recovery or verification code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChallengeCheck {
    /// The right code: it proves the person receives mail at `address`.
    Accepted { identity_id: Uuid, address: String },
    /// Wrong code, or no code can complete this flow; one attempt used.
    Rejected,
    /// The attempts are used up.
    Exhausted,
    /// The code's time is over.
    Expired,
}

impl CodeChallenge {
    /// A challenge for `code`, sent now to `address` (of `identity_id`, if any identity has it).
    pub fn new(
        flow_id: Uuid,
        address: &str,
        identity_id: Option<Uuid>,
        code: &str,
        lifespan: Duration,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            address: address.to_owned(),
            identity_id,
            code_hash: identity_id.map(|_| code_hash(flow_id, code)),
            attempts: 0,
            sent_at: now,
            expires_at: now + lifespan,
        }
    }

    /// Checks a submitted code and counts the attempt.
    pub fn check(&mut self, flow_id: Uuid, submitted: &str, now: OffsetDateTime) -> ChallengeCheck {
        if self.attempts >= MAX_CODE_ATTEMPTS {
            return ChallengeCheck::Exhausted;
        }
        if now >= self.expires_at {
            return ChallengeCheck::Expired;
        }
        self.attempts += 1;
        let presented = code_hash(flow_id, submitted.trim());
        let matches = self
            .code_hash
            .as_ref()
            .is_some_and(|hash| bool::from(hash.0.ct_eq(&presented.0)));
        match (self.identity_id, matches) {
            (Some(identity_id), true) => ChallengeCheck::Accepted {
                identity_id,
                address: self.address.clone(),
            },
            _ if self.attempts >= MAX_CODE_ATTEMPTS => ChallengeCheck::Exhausted,
            _ => ChallengeCheck::Rejected,
        }
    }
}

/// What a flow keeps of its code: the hash of code and flow id together, so one table of six-digit
/// hashes does not fit every flow.
pub fn code_hash(flow_id: Uuid, code: &str) -> TokenHash {
    TokenHash::of(&format!("{flow_id}:{code}"))
}

/// A one-time code of six digits, uniformly drawn.
pub fn six_digit_code() -> String {
    let bytes = crate::secret::random_bytes(4);
    let n = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    // 4_294_967_296 is not a multiple of 1_000_000; the bias of the modulo is below 0.03 %,
    // far under what five attempts could use.
    format!("{:06}", n % 1_000_000)
}

mod hash_b64 {
    use crate::secret::TokenHash;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(hash: &Option<TokenHash>, s: S) -> Result<S::Ok, S::Error> {
        match hash {
            Some(h) => s.serialize_some(&URL_SAFE_NO_PAD.encode(h.0)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TokenHash>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(serde::de::Error::custom)?;
        TokenHash::from_slice(&bytes)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("a code hash has 32 bytes"))
    }
}

/// Store for flows; a flow is one row holding a JSON document.
#[async_trait::async_trait]
pub trait FlowStore: Send + Sync {
    async fn insert_flow(&self, flow: &Flow) -> crate::store::StoreResult<()>;
    async fn find_flow(
        &self,
        tenant: TenantId,
        id: Uuid,
    ) -> crate::store::StoreResult<Option<Flow>>;
    /// The flow with this id in whichever tenant it belongs to. A flow id is an unguessable
    /// capability that a browser or API client presents (`?flow=ID`) without naming a tenant;
    /// the flow carries its tenant, and everything the submission touches uses that tenant.
    async fn find_flow_by_id(&self, id: Uuid) -> crate::store::StoreResult<Option<Flow>>;
    /// Writes `flow` if the stored version is still `flow.version`, and bumps it;
    /// `Conflict { constraint: "flow_version" }` when another update came first.
    async fn update_flow(&self, flow: &mut Flow) -> crate::store::StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const FLOW: Uuid = Uuid::from_u128(7);

    fn pending(code: &str, account: bool) -> PendingRegistration {
        PendingRegistration {
            address: "a@example.com".into(),
            account: account.then(|| PendingAccount {
                schema_id: "default".into(),
                traits: serde_json::json!({"email": "a@example.com"}),
                password_hash: "$argon2id$...".into(),
            }),
            code_hash: Some(code_hash(FLOW, code)),
            attempts: 0,
        }
    }

    #[test]
    fn accepts_the_right_code() {
        let mut p = pending("123456", true);
        assert!(matches!(
            p.check_code(FLOW, " 123456 "),
            CodeCheck::Accepted(_)
        ));
    }

    #[test]
    fn rejects_every_code_when_the_address_was_taken() {
        let mut p = pending("123456", false);
        assert_eq!(p.check_code(FLOW, "123456"), CodeCheck::Rejected);
    }

    #[test]
    fn wrong_codes_use_up_the_attempts() {
        let mut p = pending("123456", true);
        for _ in 0..MAX_CODE_ATTEMPTS - 1 {
            assert_eq!(p.check_code(FLOW, "000000"), CodeCheck::Rejected);
        }
        assert_eq!(p.check_code(FLOW, "000000"), CodeCheck::Exhausted);
        assert_eq!(p.check_code(FLOW, "123456"), CodeCheck::Exhausted);
    }

    #[test]
    fn an_expired_or_finished_flow_is_not_usable() {
        let now = datetime!(2026-01-01 00:00 UTC);
        let mut flow = Flow::new(
            TenantId::DEFAULT,
            FlowKind::Login,
            Flavor::Api,
            None,
            Duration::hours(1),
            now,
        );
        assert_eq!(flow.ensure_usable(FlowKind::Login, now), Ok(()));
        assert_eq!(
            flow.ensure_usable(FlowKind::Registration, now),
            Err(FlowError::WrongKind)
        );
        assert_eq!(
            flow.ensure_usable(FlowKind::Login, now + Duration::hours(1)),
            Err(FlowError::Expired)
        );
        flow.state = FlowState::PassedChallenge;
        assert_eq!(
            flow.ensure_usable(FlowKind::Login, now),
            Err(FlowError::Completed)
        );
    }

    #[test]
    fn debug_output_shows_no_credential() {
        let text = format!("{:?}", pending("123456", true));
        assert!(
            !text.contains("argon2") && !text.contains("example.com"),
            "{text}"
        );
    }

    #[test]
    fn a_challenge_accepts_its_code_once_it_is_right_and_in_time() {
        let now = datetime!(2026-01-01 00:00 UTC);
        let who = Uuid::from_u128(9);
        let mut c = CodeChallenge::new(
            FLOW,
            "a@example.com",
            Some(who),
            "123456",
            Duration::minutes(15),
            now,
        );
        assert_eq!(c.check(FLOW, "654321", now), ChallengeCheck::Rejected);
        assert_eq!(
            c.check(FLOW, "123456", now),
            ChallengeCheck::Accepted {
                identity_id: who,
                address: "a@example.com".into()
            }
        );
        assert_eq!(
            c.check(FLOW, "123456", now + Duration::minutes(15)),
            ChallengeCheck::Expired
        );
    }

    #[test]
    fn a_challenge_for_an_unknown_address_rejects_every_code_like_a_wrong_one() {
        let now = datetime!(2026-01-01 00:00 UTC);
        let mut c = CodeChallenge::new(
            FLOW,
            "x@example.com",
            None,
            "123456",
            Duration::hours(1),
            now,
        );
        for _ in 0..MAX_CODE_ATTEMPTS - 1 {
            assert_eq!(c.check(FLOW, "123456", now), ChallengeCheck::Rejected);
        }
        assert_eq!(c.check(FLOW, "123456", now), ChallengeCheck::Exhausted);
        assert!(!format!("{c:?}").contains("example.com"));
    }

    #[test]
    fn codes_have_six_digits() {
        for _ in 0..100 {
            let code = six_digit_code();
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
