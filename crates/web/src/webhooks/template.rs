//! Payload templates: minijinja with JSON output (docs/adr/0003). Every `{{ expression }}` prints
//! its value as JSON — a string with its quotes and escapes, an object as an object — so a
//! template is JSON with holes, and a trait holding quotes or newlines cannot break it:
//!
//! ```text
//! {"user": {{ ctx.identity.id }}, "email": {{ ctx.identity.traits.email }}, "event": {{ ctx.event }}}
//! ```
//!
//! A missing value prints `null`. `tojson` is there too (`{{ ctx.identity | tojson }}`). Each
//! template is rendered against a sample context at start-up, and one that does not produce valid
//! JSON stops the start.

use super::{WebhookConfig, WebhookContext, WebhookError, WebhookEvent};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

/// The payload of a hook without a template of its own.
pub const DEFAULT_PAYLOAD: &str = r#"{"event": {{ ctx.event }}, "identity": {{ ctx.identity }}, "flow": {{ ctx.flow }}, "session": {{ ctx.session }}}"#;

/// The compiled payload templates, one per hook, named by the hook's id.
pub struct Templates {
    env: Environment<'static>,
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
    pub fn new(hooks: &[WebhookConfig]) -> Result<Self, WebhookError> {
        let mut env = environment();
        for hook in hooks {
            let source = hook
                .payload
                .clone()
                .unwrap_or_else(|| DEFAULT_PAYLOAD.to_owned());
            env.add_template_owned(hook.id.clone(), source)
                .map_err(|e| WebhookError::InvalidTemplate {
                    id: hook.id.clone(),
                    reason: format!("the payload template does not compile: {e:#}"),
                })?;
        }
        let templates = Self { env };
        let sample = sample_context();
        for hook in hooks {
            for event in &hook.events {
                templates
                    .render(&hook.id, *event, &sample)
                    .map_err(|reason| WebhookError::InvalidTemplate {
                        id: hook.id.clone(),
                        reason: format!("for {event} with a sample context: {reason}"),
                    })?;
            }
        }
        Ok(templates)
    }

    /// The payload of hook `id` for `event`: valid JSON, or why not.
    pub fn render(
        &self,
        id: &str,
        event: WebhookEvent,
        ctx: &WebhookContext,
    ) -> Result<String, String> {
        let template = self
            .env
            .get_template(id)
            .map_err(|e| format!("no template: {e}"))?;
        let body = template
            .render(minijinja::context! { ctx => minijinja::Value::from(minijinja::value::Serde(ctx.to_value(event))) })
            .map_err(|e| format!("{e:#}"))?;
        if let Err(err) = serde_json::from_str::<serde::de::IgnoredAny>(&body) {
            return Err(format!(
                "the payload is not valid JSON ({err}); expressions print JSON themselves, so write {{{{ ctx.identity.id }}}} without quotes around it"
            ));
        }
        Ok(body)
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

    fn hook(payload: Option<&str>) -> WebhookConfig {
        WebhookConfig {
            id: "crm".into(),
            events: vec![WebhookEvent::RegistrationAfter, WebhookEvent::LoginAfter],
            url: url::Url::parse("https://hooks.example/in").expect("url"),
            secret: Secret::new("s3cret"),
            mode: WebhookMode::Async,
            payload: payload.map(str::to_owned),
            timeout: std::time::Duration::from_secs(5),
            max_attempts: 8,
        }
    }

    fn render(payload: Option<&str>, ctx: &WebhookContext) -> Value {
        let templates = Templates::new(&[hook(payload)]).expect("valid");
        let body = templates
            .render("crm", WebhookEvent::RegistrationAfter, ctx)
            .expect("renders");
        serde_json::from_str(&body).expect("json")
    }

    #[test]
    fn the_default_payload_carries_event_identity_and_flow() {
        let body = render(None, &sample_context());
        assert_eq!(body["event"], "registration.after");
        assert_eq!(body["identity"]["traits"]["email"], "user@example.com");
        assert_eq!(body["flow"]["type"], "browser");
        assert_eq!(body["flow"]["kind"], "registration");
        assert!(body["identity"].get("metadata_admin").is_none());
        assert!(body["identity"].get("tenant_id").is_none());
    }

    #[test]
    fn values_print_as_json_and_cannot_break_out() {
        let mut ctx = sample_context();
        if let Some(identity) = ctx.identity.as_mut() {
            identity["traits"]["first_name"] = json!("Ada\", \"admin\": true, \"x\": \"");
        }
        let body = render(
            Some(
                r#"{"name": {{ ctx.identity.traits.first_name }}, "all": {{ ctx.identity.traits | tojson }}, "n": {{ ctx.identity.verifiable_addresses | length }}}"#,
            ),
            &ctx,
        );
        assert_eq!(body["name"], "Ada\", \"admin\": true, \"x\": \"");
        assert!(body.get("admin").is_none());
        assert_eq!(body["all"]["email"], "user@example.com");
        assert_eq!(body["n"], 1);
    }

    #[test]
    fn missing_values_print_null() {
        let body = render(
            Some(r#"{"session": {{ ctx.session.id }}, "nothing": {{ ctx.nope.deeper }}}"#),
            &WebhookContext::new(),
        );
        assert_eq!(body, json!({"session": null, "nothing": null}));
    }

    #[test]
    fn a_template_that_is_not_json_is_refused_with_a_hint() {
        let err = Templates::new(&[hook(Some(r#"{"id": "{{ ctx.identity.id }}"}"#))])
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains("crm") && err.contains("not valid JSON"),
            "{err}"
        );
        assert!(err.contains("without quotes"), "{err}");
        let err = Templates::new(&[hook(Some("{{ ctx.identity.id "))])
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("does not compile"), "{err}");
    }
}
