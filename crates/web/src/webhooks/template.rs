//! Payload templates (docs/adr/0003). A hook's `payload` is a Jsonnet program by default
//! ([`super::jsonnet`], the language of Ory Kratos' web-hook bodies), or a minijinja template with
//! `payload_format = "minijinja"`. A hook without one sends [`DEFAULT_PAYLOAD`].
//!
//! A minijinja template prints JSON: every `{{ expression }}` prints its value as JSON — a string
//! with its quotes and escapes, an object as an object — so a template is JSON with holes, and a
//! trait holding quotes or newlines cannot break it:
//!
//! ```text
//! {"user": {{ ctx.identity.id }}, "email": {{ ctx.identity.traits.email }}, "event": {{ ctx.event }}}
//! ```
//!
//! A missing value prints `null`. `tojson` is there too (`{{ ctx.identity | tojson }}`).
//!
//! Every template is checked at start-up — compiled, then rendered against a sample context for
//! each of its hook's events — and one that fails or does not produce JSON stops the start.

use super::jsonnet::{self, JsonnetTemplate, Outcome};
use super::{WebhookConfig, WebhookContext, WebhookError, WebhookEvent};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The payload of a hook without a template of its own (minijinja).
pub const DEFAULT_PAYLOAD: &str = r#"{"event": {{ ctx.event }}, "identity": {{ ctx.identity }}, "flow": {{ ctx.flow }}, "session": {{ ctx.session }}}"#;

/// The language of a hook's `payload`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PayloadFormat {
    /// A Jsonnet program: a function of `ctx`, or a plain value.
    #[default]
    Jsonnet,
    /// A minijinja template printing JSON.
    Minijinja,
}

impl PayloadFormat {
    pub const ALL: [PayloadFormat; 2] = [Self::Jsonnet, Self::Minijinja];

    /// The name in configuration (`payload_format`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jsonnet => "jsonnet",
            Self::Minijinja => "minijinja",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// What a hook's template gave for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rendered {
    /// The request body: valid JSON.
    Body(String),
    /// The template cancelled the call (Jsonnet `error "cancel"`): no request for this event.
    Cancelled,
}

/// The checked payload templates, one per hook, named by the hook's id.
pub struct Templates {
    /// minijinja templates, and the default payload of hooks without a template.
    env: Environment<'static>,
    jsonnet: BTreeMap<String, Arc<JsonnetTemplate>>,
}

/// A JSON-printing environment.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Json);
    // `ctx.session.id` without a session is a missing value, not an error.
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_formatter(|out, state, value| {
        if value.is_undefined() {
            out.write_str("null").map_err(minijinja::Error::from)
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    env
}

impl Templates {
    /// Compiles every hook's template and renders it against a sample context for each of the
    /// hook's events; the first failure names its hook.
    pub fn new(hooks: &[WebhookConfig]) -> Result<Self, WebhookError> {
        let mut env = environment();
        let mut programs = BTreeMap::new();
        for hook in hooks {
            let invalid = |reason: String| WebhookError::InvalidTemplate {
                id: hook.id.clone(),
                reason,
            };
            match (&hook.payload, hook.payload_format) {
                (Some(source), PayloadFormat::Jsonnet) => {
                    let program = JsonnetTemplate::parse(&hook.id, source).map_err(|e| {
                        invalid(format!("the Jsonnet payload does not compile: {e}"))
                    })?;
                    programs.insert(hook.id.clone(), Arc::new(program));
                }
                (source, _) => {
                    let source = source.clone().unwrap_or_else(|| DEFAULT_PAYLOAD.to_owned());
                    env.add_template_owned(hook.id.clone(), source)
                        .map_err(|e| {
                            invalid(format!("the payload template does not compile: {e:#}"))
                        })?;
                }
            }
        }
        let templates = Self {
            env,
            jsonnet: programs,
        };
        let sample = sample_context();
        for hook in hooks {
            for event in &hook.events {
                let ctx = sample.to_value(*event);
                let checked = match templates.jsonnet.get(&hook.id) {
                    Some(program) => {
                        jsonnet::evaluate_with_timeout(program, ctx).and_then(checked_json)
                    }
                    None => templates
                        .render_minijinja(&hook.id, &ctx)
                        .map(Rendered::Body),
                };
                checked.map_err(|reason| WebhookError::InvalidTemplate {
                    id: hook.id.clone(),
                    reason: format!("for {event} with a sample context: {reason}"),
                })?;
            }
        }
        Ok(templates)
    }

    /// The payload of hook `id` for `event`: valid JSON, a cancellation, or why not. A Jsonnet
    /// program runs on a blocking thread, bounded in time ([`jsonnet::evaluate_bounded`]).
    pub async fn render(
        &self,
        id: &str,
        event: WebhookEvent,
        ctx: &WebhookContext,
    ) -> Result<Rendered, String> {
        let ctx = ctx.to_value(event);
        match self.jsonnet.get(id) {
            Some(program) => {
                checked_json(jsonnet::evaluate_bounded(Arc::clone(program), ctx).await?)
            }
            None => self.render_minijinja(id, &ctx).map(Rendered::Body),
        }
    }

    fn render_minijinja(&self, id: &str, ctx: &serde_json::Value) -> Result<String, String> {
        let template = self
            .env
            .get_template(id)
            .map_err(|e| format!("no template: {e}"))?;
        let body = template
            .render(
                minijinja::context! { ctx => minijinja::Value::from(minijinja::value::Serde(ctx)) },
            )
            .map_err(|e| format!("{e:#}"))?;
        if let Err(err) = serde_json::from_str::<serde::de::IgnoredAny>(&body) {
            return Err(format!(
                "the payload is not valid JSON ({err}); expressions print JSON themselves, so write {{{{ ctx.identity.id }}}} without quotes around it"
            ));
        }
        Ok(body)
    }
}

/// A Jsonnet outcome as a payload, its JSON checked once more.
fn checked_json(outcome: Outcome) -> Result<Rendered, String> {
    match outcome {
        Outcome::Body(body) => {
            serde_json::from_str::<serde::de::IgnoredAny>(&body)
                .map_err(|e| format!("the program did not give JSON: {e}"))?;
            Ok(Rendered::Body(body))
        }
        Outcome::Cancelled => Ok(Rendered::Cancelled),
    }
}

/// A context with every field filled, as a registration that signed in would have.
pub fn sample_context() -> WebhookContext {
    use gatehouse_domain::identity::Identity;
    use gatehouse_domain::identity::schema::TraitFacts;
    use gatehouse_domain::ids::TenantId;
    let now = time::OffsetDateTime::UNIX_EPOCH;
    let address = "user@example.com".to_owned();
    let identity = Identity::new(
        TenantId::DEFAULT,
        "default",
        serde_json::json!({"email": address, "first_name": "Ada", "last_name": "Lovelace"}),
        &TraitFacts {
            identifiers: vec![address.clone()],
            verifiable: vec![address.clone()],
            recovery: vec![address],
        },
        now,
    );
    let mut ctx = WebhookContext::new()
        .flow(
            uuid::Uuid::nil(),
            gatehouse_domain::flow::Flavor::Browser,
            "registration",
        )
        .request(
            "POST",
            "https://id.example/self-service/registration?flow=00000000-0000-0000-0000-000000000000"
                .to_owned(),
        )
        .client(&crate::extract::RequestMeta {
            ip: Some("192.0.2.1".to_owned()),
            user_agent: Some("Mozilla/5.0".to_owned()),
        })
        .identity(&identity);
    ctx.session = Some(serde_json::json!({
        "id": uuid::Uuid::nil(),
        "authenticated_at": "1970-01-01T00:00:00Z",
    }));
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_domain::secret::Secret;
    use gatehouse_domain::webhook::WebhookMode;
    use serde_json::{Value, json};

    fn hook(payload: Option<&str>, payload_format: PayloadFormat) -> WebhookConfig {
        WebhookConfig {
            id: "crm".into(),
            events: vec![WebhookEvent::RegistrationAfter, WebhookEvent::LoginAfter],
            url: url::Url::parse("https://hooks.example/in").expect("url"),
            secret: Secret::new("s3cret"),
            mode: WebhookMode::Async,
            payload: payload.map(str::to_owned),
            payload_format,
            timeout: std::time::Duration::from_secs(5),
            max_attempts: 8,
        }
    }

    async fn render_as(
        payload: Option<&str>,
        payload_format: PayloadFormat,
        ctx: &WebhookContext,
    ) -> Value {
        let templates = Templates::new(&[hook(payload, payload_format)]).expect("valid");
        match templates
            .render("crm", WebhookEvent::RegistrationAfter, ctx)
            .await
            .expect("renders")
        {
            Rendered::Body(body) => serde_json::from_str(&body).expect("json"),
            Rendered::Cancelled => panic!("cancelled"),
        }
    }

    fn refused(payload: &str, payload_format: PayloadFormat) -> String {
        Templates::new(&[hook(Some(payload), payload_format)])
            .err()
            .expect("refused")
            .to_string()
    }

    #[tokio::test]
    async fn the_default_payload_carries_event_identity_and_flow() {
        let body = render_as(None, PayloadFormat::Jsonnet, &sample_context()).await;
        assert_eq!(body["event"], "registration.after");
        assert_eq!(body["identity"]["traits"]["email"], "user@example.com");
        assert_eq!(body["flow"]["type"], "browser");
        assert_eq!(body["flow"]["kind"], "registration");
        assert!(body["identity"].get("metadata_admin").is_none());
        assert!(body["identity"].get("tenant_id").is_none());
    }

    #[tokio::test]
    async fn a_jsonnet_function_gets_the_same_ctx() {
        let body = render_as(
            Some(
                "function(ctx) {\n  user_id: ctx.identity.id,\n  email: ctx.identity.traits.email,\n  event: ctx.event,\n  flow: ctx.flow.kind,\n  ip: ctx.client.ip,\n  url: ctx.request_url,\n  verified: [a.value for a in ctx.identity.verifiable_addresses],\n  session: if ctx.session != null then ctx.session.id,\n}",
            ),
            PayloadFormat::Jsonnet,
            &sample_context(),
        )
        .await;
        assert_eq!(body["email"], "user@example.com");
        assert_eq!(body["event"], "registration.after");
        assert_eq!(body["flow"], "registration");
        assert_eq!(body["ip"], "192.0.2.1");
        assert_eq!(body["verified"], json!(["user@example.com"]));
        assert_eq!(body["session"], json!(uuid::Uuid::nil()));
        assert!(
            body["url"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://"))
        );
        assert!(body["user_id"].is_string());
    }

    #[tokio::test]
    async fn a_jsonnet_plain_value_is_sent_as_is() {
        let body = render_as(
            Some("{ source: 'gatehouse', version: 1 }"),
            PayloadFormat::Jsonnet,
            &sample_context(),
        )
        .await;
        assert_eq!(body, json!({"source": "gatehouse", "version": 1}));
    }

    #[tokio::test]
    async fn jsonnet_cancel_skips_the_call() {
        let templates = Templates::new(&[hook(
            Some("function(ctx) if ctx.event == 'login.after' then error 'cancel' else { id: ctx.identity.id }"),
            PayloadFormat::Jsonnet,
        )])
        .expect("valid");
        let ctx = sample_context();
        assert_eq!(
            templates
                .render("crm", WebhookEvent::LoginAfter, &ctx)
                .await,
            Ok(Rendered::Cancelled)
        );
        assert!(matches!(
            templates
                .render("crm", WebhookEvent::RegistrationAfter, &ctx)
                .await,
            Ok(Rendered::Body(_))
        ));
    }

    #[test]
    fn bad_jsonnet_stops_the_start_naming_the_hook() {
        let err = refused(
            "function(ctx) { id: ctx.identity.id",
            PayloadFormat::Jsonnet,
        );
        assert!(
            err.contains("\"crm\"") && err.contains("does not compile") && err.contains("line 1"),
            "{err}"
        );
        let err = refused("local x = import 'x.libsonnet'; x", PayloadFormat::Jsonnet);
        assert!(
            err.contains("\"crm\"") && err.contains("`import` is not allowed"),
            "{err}"
        );
        // Compiles, but fails against the sample context.
        let err = refused(
            "function(ctx) { id: ctx.identity.nope }",
            PayloadFormat::Jsonnet,
        );
        assert!(
            err.contains("\"crm\"")
                && err.contains("sample context")
                && err.contains("`nope` does not exist"),
            "{err}"
        );
        let err = refused(
            "local f(n) = f(n + 1) + 1; function(ctx) { n: f(0) }",
            PayloadFormat::Jsonnet,
        );
        assert!(err.contains("too deep"), "{err}");
        // A minijinja template is not Jsonnet.
        let err = refused(r#"{"id": {{ ctx.identity.id }}}"#, PayloadFormat::Jsonnet);
        assert!(err.contains("does not compile"), "{err}");
    }

    #[tokio::test]
    async fn minijinja_values_print_as_json_and_cannot_break_out() {
        let mut ctx = sample_context();
        if let Some(identity) = ctx.identity.as_mut() {
            identity["traits"]["first_name"] = json!("Ada\", \"admin\": true, \"x\": \"");
        }
        let body = render_as(
            Some(
                r#"{"name": {{ ctx.identity.traits.first_name }}, "all": {{ ctx.identity.traits | tojson }}, "n": {{ ctx.identity.verifiable_addresses | length }}}"#,
            ),
            PayloadFormat::Minijinja,
            &ctx,
        )
        .await;
        assert_eq!(body["name"], "Ada\", \"admin\": true, \"x\": \"");
        assert!(body.get("admin").is_none());
        assert_eq!(body["all"]["email"], "user@example.com");
        assert_eq!(body["n"], 1);
    }

    #[tokio::test]
    async fn minijinja_missing_values_print_null() {
        let body = render_as(
            Some(r#"{"session": {{ ctx.session.id }}, "nothing": {{ ctx.nope.deeper }}}"#),
            PayloadFormat::Minijinja,
            &WebhookContext::new(),
        )
        .await;
        assert_eq!(body, json!({"session": null, "nothing": null}));
    }

    #[test]
    fn a_minijinja_template_that_is_not_json_is_refused_with_a_hint() {
        let err = refused(
            r#"{"id": "{{ ctx.identity.id }}"}"#,
            PayloadFormat::Minijinja,
        );
        assert!(
            err.contains("crm") && err.contains("not valid JSON"),
            "{err}"
        );
        assert!(err.contains("without quotes"), "{err}");
        let err = refused("{{ ctx.identity.id ", PayloadFormat::Minijinja);
        assert!(err.contains("does not compile"), "{err}");
    }
}
