//! Web hooks: configured HTTP calls when a self-service flow completes (`registration.after`,
//! `login.after`, `settings.after`, `recovery.after`, `verification.after`).
//!
//! A flow builds one [`WebhookContext`] and makes two calls:
//!
//! * [`before`] runs the event's **blocking** hooks inline, just before the flow completes (before
//!   the identity is written or the session starts). A 2xx lets the flow go on; a 4xx is a
//!   [`Veto`] whose messages go on the form ([`Veto::apply_to`]); a 5xx, a timeout or a refused
//!   target fail closed with a generic message. Every call is recorded as a delivery.
//! * [`after`] queues the event's **asynchronous** hooks once the flow completed; a worker on
//!   every node ([`worker::deliver`]) sends them with retries. It never fails the flow.
//!
//! Payloads are Jsonnet programs over the same `ctx` as Ory Kratos' web hooks ([`jsonnet`]), or
//! minijinja templates that print JSON ([`template`]); every request is signed
//! (`X-Gatehouse-Signature`, see [`gatehouse_domain::webhook::signature_header`]) and goes only
//! to allowed addresses ([`send`]).

pub mod jsonnet;
pub mod send;
pub mod template;
pub mod worker;

use crate::extract::RequestMeta;
use crate::state::AppState;
use gatehouse_domain::flow::{Flavor, Flow, UiMessage};
use gatehouse_domain::identity::Identity;
use gatehouse_domain::secret::Secret;
use gatehouse_domain::session::Session;
use gatehouse_domain::webhook::{
    AttemptOutcome, DeliveryStatus, RetryPolicy, TargetPolicy, VetoMessages, WebhookDelivery,
    WebhookMode, parse_veto,
};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;
use uuid::Uuid;

pub use gatehouse_domain::webhook::WebhookEvent;
pub use template::{PayloadFormat, Rendered};

/// One configured hook.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Unique; names the hook in deliveries, metrics and the admin API.
    pub id: String,
    pub events: Vec<WebhookEvent>,
    pub url: url::Url,
    /// Signs every request; never stored, never logged.
    pub secret: Secret,
    pub mode: WebhookMode,
    /// The payload template; `None` for the default payload.
    pub payload: Option<String>,
    /// The language of `payload`.
    pub payload_format: PayloadFormat,
    /// How long one request may take.
    pub timeout: Duration,
    /// Attempts of an asynchronous delivery before it is abandoned.
    pub max_attempts: u32,
}

/// `[[webhooks]]` and `[webhook_delivery]`.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub hooks: Vec<WebhookConfig>,
    /// Which addresses hooks may reach (public ones only, by default).
    pub targets: TargetPolicy,
    /// Back-off before the second attempt of an asynchronous delivery; it doubles each time.
    pub first_retry: time::Duration,
    pub max_retry_delay: time::Duration,
    /// How often an idle worker looks for due deliveries.
    pub poll_interval: Duration,
    /// How long delivery records are kept.
    pub retention: time::Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            hooks: Vec::new(),
            targets: TargetPolicy::default(),
            first_retry: time::Duration::seconds(30),
            max_retry_delay: time::Duration::hours(1),
            poll_interval: Duration::from_secs(1),
            retention: time::Duration::days(30),
        }
    }
}

/// Why the hooks cannot start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook {id:?}: {reason}")]
    InvalidTemplate { id: String, reason: String },
    #[error("webhook {0:?} is configured twice")]
    DuplicateId(String),
    #[error("cannot build the HTTP client for web hooks: {0}")]
    HttpClient(String),
}

/// The configured hooks, their compiled templates and the HTTP client that sends them.
pub struct Webhooks {
    hooks: Vec<WebhookConfig>,
    templates: template::Templates,
    sender: send::Sender,
    settings: WebhookSettings,
    /// Wakes this node's worker when a delivery was queued.
    wake: tokio::sync::Notify,
}

impl fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhooks")
            .field(
                "hooks",
                &self.hooks.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Webhooks {
    /// Compiles every hook's template and checks that it renders JSON for a sample context.
    pub fn new(settings: &WebhookSettings) -> Result<Self, WebhookError> {
        let mut seen = std::collections::BTreeSet::new();
        for hook in &settings.hooks {
            if !seen.insert(hook.id.as_str()) {
                return Err(WebhookError::DuplicateId(hook.id.clone()));
            }
        }
        Ok(Self {
            templates: template::Templates::new(&settings.hooks)?,
            sender: send::Sender::new(settings.targets.clone())?,
            hooks: settings.hooks.clone(),
            settings: settings.clone(),
            wake: tokio::sync::Notify::new(),
        })
    }

    /// No hooks at all.
    pub fn none() -> Self {
        Self::new(&WebhookSettings::default()).expect("no hooks are a valid configuration")
    }

    pub fn hooks(&self) -> &[WebhookConfig] {
        &self.hooks
    }

    pub fn find(&self, id: &str) -> Option<&WebhookConfig> {
        self.hooks.iter().find(|h| h.id == id)
    }

    fn of(&self, event: WebhookEvent, mode: WebhookMode) -> impl Iterator<Item = &WebhookConfig> {
        self.hooks
            .iter()
            .filter(move |h| h.mode == mode && h.events.contains(&event))
    }

    fn retry_policy(&self, hook: &WebhookConfig) -> RetryPolicy {
        RetryPolicy {
            max_attempts: hook.max_attempts,
            first_retry: self.settings.first_retry,
            max_delay: self.settings.max_retry_delay,
        }
    }
}

/// What a hook's template sees as `ctx` (the shape of Ory Kratos' web-hook context): the
/// identity's public view, the flow, the request, the session when there is one, the client.
/// Never a password hash or a session token. `Debug` shows no personal data.
#[derive(Clone, Default, Serialize)]
pub struct WebhookContext {
    identity: Option<Value>,
    flow: Option<Value>,
    request_url: Option<String>,
    request_method: Option<String>,
    session: Option<Value>,
    client: ClientView,
    /// The tenant the event happened in: its deliveries are recorded there (the default tenant
    /// when unset). Not part of the payload.
    #[serde(skip)]
    tenant: Option<gatehouse_domain::ids::TenantId>,
}

#[derive(Debug, Clone, Default, Serialize)]
struct ClientView {
    ip: Option<String>,
    user_agent: Option<String>,
}

impl fmt::Debug for WebhookContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookContext")
            .field("flow", &self.flow.as_ref().map(|f| &f["id"]))
            .field("identity", &self.identity.as_ref().map(|i| &i["id"]))
            .finish_non_exhaustive()
    }
}

impl WebhookContext {
    pub fn new() -> Self {
        Self::default()
    }

    /// The context of a submission to `flow` (`POST /self-service/<kind>?flow=<id>`) by the
    /// client `meta` describes.
    pub fn for_flow(state: &AppState, flow: &Flow, meta: &RequestMeta) -> Self {
        let kind = flow.kind.as_str();
        let mut ctx = Self::new()
            .flow(flow.id, flow.flavor, kind)
            .request(
                "POST",
                state
                    .settings
                    .url(&format!("/self-service/{kind}?flow={}", flow.id)),
            )
            .client(meta);
        ctx.tenant = Some(flow.tenant_id);
        ctx
    }

    /// `ctx.flow`: `{id, type: "api" | "browser", kind}`.
    pub fn flow(mut self, id: Uuid, flavor: Flavor, kind: &str) -> Self {
        let flavor = match flavor {
            Flavor::Api => "api",
            Flavor::Browser => "browser",
        };
        self.flow = Some(json!({"id": id, "type": flavor, "kind": kind}));
        self
    }

    pub fn request(mut self, method: &str, url: String) -> Self {
        self.request_method = Some(method.to_owned());
        self.request_url = Some(url);
        self
    }

    pub fn client(mut self, meta: &RequestMeta) -> Self {
        self.client = ClientView {
            ip: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
        };
        self
    }

    /// `ctx.identity`: what the identity itself may see (no credentials, no admin metadata).
    pub fn identity(mut self, identity: &Identity) -> Self {
        self.identity = Some(identity_view(identity));
        self
    }

    /// `ctx.session`: `{id, authenticated_at}` (never the token).
    pub fn session(mut self, session: &Session) -> Self {
        self.session = Some(json!({
            "id": session.id,
            "authenticated_at": crate::identity::rfc3339(session.authenticated_at),
        }));
        self
    }

    /// The template's `ctx` for `event`.
    fn to_value(&self, event: WebhookEvent) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or_else(|_| json!({}));
        value["event"] = json!(event.as_str());
        value
    }
}

fn identity_view(identity: &Identity) -> Value {
    let full = identity.public_view();
    let mut view = serde_json::Map::new();
    for key in [
        "id",
        "schema_id",
        "state",
        "traits",
        "verifiable_addresses",
        "recovery_addresses",
        "metadata_public",
        "created_at",
        "updated_at",
    ] {
        view.insert(
            key.to_owned(),
            full.get(key).cloned().unwrap_or(Value::Null),
        );
    }
    Value::Object(view)
}

/// A blocking hook stopped the flow: messages for the form and next to fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Veto {
    /// The hook that stopped the flow.
    pub webhook_id: String,
    /// `true` when the receiver refused (4xx); `false` when it could not be asked (5xx, timeout,
    /// refused target) and the flow failed closed.
    pub refused: bool,
    pub messages: Vec<UiMessage>,
    /// Keyed by field name (`traits.email`).
    pub field_messages: BTreeMap<String, Vec<UiMessage>>,
}

impl Veto {
    /// Puts the veto's messages on the flow's form.
    pub fn apply_to(&self, flow: &mut Flow) {
        flow.form.messages.extend(self.messages.iter().cloned());
        for (field, messages) in &self.field_messages {
            for message in messages {
                flow.form.field_error(field, message.clone());
            }
        }
    }

    fn unavailable(webhook_id: &str) -> Self {
        Self {
            webhook_id: webhook_id.to_owned(),
            refused: false,
            messages: vec![UiMessage::error(
                5_000_001,
                "This could not be completed right now. Please try again in a moment.",
            )],
            field_messages: BTreeMap::new(),
        }
    }

    fn from_answer(webhook_id: &str, answer: VetoMessages) -> Self {
        Self {
            webhook_id: webhook_id.to_owned(),
            refused: true,
            messages: answer.messages,
            field_messages: answer.field_messages,
        }
    }
}

/// Runs the blocking hooks of `event`, one after the other, before the flow completes. The first
/// that does not answer 2xx stops the flow. Each call is recorded as a delivery.
pub async fn before(
    state: &AppState,
    event: WebhookEvent,
    ctx: &WebhookContext,
) -> Result<(), Veto> {
    let webhooks = &state.webhooks;
    for hook in webhooks.of(event, WebhookMode::Blocking) {
        let now = state.now();
        let (body, render_error) = match webhooks.templates.render(&hook.id, event, ctx).await {
            Ok(Rendered::Body(body)) => (body, None),
            Ok(Rendered::Cancelled) => {
                tracing::debug!(
                    webhook.id = hook.id,
                    %event,
                    "the payload template cancelled the call"
                );
                continue;
            }
            Err(err) => (String::new(), Some(err)),
        };
        let mut delivery = WebhookDelivery::new(
            &hook.id,
            event,
            WebhookMode::Blocking,
            hook.url.as_str(),
            body,
            now,
            webhooks.settings.retention,
        );
        delivery.tenant_id = ctx
            .tenant
            .unwrap_or(gatehouse_domain::ids::TenantId::DEFAULT);
        delivery.attempts = 1;
        let result = match render_error {
            Some(err) => {
                tracing::warn!(webhook.id = hook.id, error = %err, "a web hook payload cannot be rendered; the flow fails closed");
                delivery.status = DeliveryStatus::Failed;
                delivery.last_error = Some(format!("the payload template failed: {err}"));
                Err(Veto::unavailable(&hook.id))
            }
            None => call_blocking(state, hook, &mut delivery).await,
        };
        delivery.updated_at = state.now();
        if let Err(err) = state.store.insert_webhook_delivery(&delivery).await {
            tracing::warn!(webhook.id = hook.id, error = %err, "cannot record a blocking web hook call");
        }
        state
            .metrics
            .webhook_delivery(&hook.id, delivery.status.as_str());
        result?;
    }
    Ok(())
}

/// One blocking call; fills in the delivery's outcome.
async fn call_blocking(
    state: &AppState,
    hook: &WebhookConfig,
    delivery: &mut WebhookDelivery,
) -> Result<(), Veto> {
    let answer = state
        .webhooks
        .sender
        .send(hook, delivery, state.now(), true)
        .await;
    match answer {
        send::Answer::Status { code, body } => {
            delivery.last_status_code = Some(code);
            if (200..300).contains(&code) {
                delivery.status = DeliveryStatus::Delivered;
                Ok(())
            } else if (400..500).contains(&code) {
                delivery.status = DeliveryStatus::Vetoed;
                tracing::info!(
                    webhook.id = hook.id,
                    status = code,
                    "a blocking web hook stopped the flow"
                );
                Err(Veto::from_answer(&hook.id, parse_veto(&body)))
            } else {
                delivery.status = DeliveryStatus::Failed;
                delivery.last_error = Some(format!("the receiver answered {code}"));
                tracing::warn!(
                    webhook.id = hook.id,
                    status = code,
                    "a blocking web hook failed; the flow fails closed"
                );
                Err(Veto::unavailable(&hook.id))
            }
        }
        send::Answer::Failed(reason) | send::Answer::Refused(reason) => {
            delivery.status = DeliveryStatus::Failed;
            tracing::warn!(
                webhook.id = hook.id,
                reason,
                "a blocking web hook failed; the flow fails closed"
            );
            delivery.last_error = Some(reason);
            Err(Veto::unavailable(&hook.id))
        }
    }
}

/// Queues the asynchronous hooks of `event` once the flow completed. Never fails the flow:
/// problems are logged (and a payload that cannot be rendered is recorded as abandoned).
pub async fn after(state: &AppState, event: WebhookEvent, ctx: &WebhookContext) {
    let webhooks = &state.webhooks;
    let mut queued = false;
    for hook in webhooks.of(event, WebhookMode::Async) {
        let now = state.now();
        let mut delivery = match webhooks.templates.render(&hook.id, event, ctx).await {
            Ok(Rendered::Body(body)) => WebhookDelivery::new(
                &hook.id,
                event,
                WebhookMode::Async,
                hook.url.as_str(),
                body,
                now,
                webhooks.settings.retention,
            ),
            Ok(Rendered::Cancelled) => {
                tracing::debug!(
                    webhook.id = hook.id,
                    %event,
                    "the payload template cancelled the call"
                );
                continue;
            }
            Err(err) => {
                let mut d = WebhookDelivery::new(
                    &hook.id,
                    event,
                    WebhookMode::Async,
                    hook.url.as_str(),
                    String::new(),
                    now,
                    webhooks.settings.retention,
                );
                d.status = DeliveryStatus::Abandoned;
                d.last_error = Some(format!("the payload template failed: {err}"));
                tracing::warn!(webhook.id = hook.id, error = %err, "a web hook payload cannot be rendered");
                d
            }
        };
        delivery.updated_at = now;
        delivery.tenant_id = ctx
            .tenant
            .unwrap_or(gatehouse_domain::ids::TenantId::DEFAULT);
        match state.store.insert_webhook_delivery(&delivery).await {
            Ok(()) => queued |= delivery.status == DeliveryStatus::Queued,
            Err(err) => {
                tracing::warn!(webhook.id = hook.id, error = %err, "cannot queue a web hook delivery");
            }
        }
    }
    if queued {
        webhooks.wake.notify_one();
    }
}

/// The outcome of one attempt of an asynchronous delivery, from the receiver's answer.
fn async_outcome(answer: send::Answer) -> AttemptOutcome {
    match answer {
        send::Answer::Status { code, .. } if (200..300).contains(&code) => {
            AttemptOutcome::Delivered { status_code: code }
        }
        send::Answer::Status { code, .. } => AttemptOutcome::Failed {
            status_code: Some(code),
            error: format!("the receiver answered {code}"),
        },
        send::Answer::Failed(error) => AttemptOutcome::Failed {
            status_code: None,
            error,
        },
        send::Answer::Refused(error) => AttemptOutcome::Refused { error },
    }
}
