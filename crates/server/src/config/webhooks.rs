//! `[[webhooks]]` (one table per hook) and `[webhook_delivery]` (how hooks are sent), checked
//! and resolved into [`WebhookSettings`]. Every mistake — an unknown event, a missing secret, a
//! payload template that does not render JSON — stops the start with a message naming the hook.

use super::duration;
use anyhow::{Context, bail};
use gatehouse_domain::ip_ban::IpNet;
use gatehouse_domain::secret::Secret;
use gatehouse_domain::webhook::{TargetPolicy, WebhookEvent, WebhookMode};
use gatehouse_web::webhooks::{PayloadFormat, WebhookConfig, WebhookSettings, Webhooks};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use time::Duration;

/// One `[[webhooks]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WebhookFile {
    id: String,
    events: Vec<String>,
    url: String,
    /// The signing secret, or `secret_env`: the environment variable that holds it.
    secret: Option<Secret>,
    secret_env: Option<String>,
    /// `async` (default) or `blocking`.
    mode: Option<String>,
    /// An inline payload template, or `payload_file`: a file holding one (relative to the
    /// configuration file).
    payload: Option<String>,
    payload_file: Option<PathBuf>,
    /// The template's language: `jsonnet` (default, as Ory Kratos) or `minijinja`.
    payload_format: Option<String>,
    /// Per request [default: 5s].
    timeout: Option<String>,
    /// Attempts of an asynchronous delivery [default: 8].
    max_attempts: Option<u32>,
}

/// `[webhook_delivery]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeliveryFile {
    /// Let hooks reach private, loopback and link-local addresses [default: false].
    allow_private_networks: Option<bool>,
    /// Private networks hooks may reach anyway (IPs or CIDRs).
    #[serde(default)]
    allowed_networks: Vec<String>,
    /// Back-off before the second attempt; doubles with each failure [default: 30s].
    first_retry: Option<String>,
    /// Longest back-off [default: 1h].
    max_retry_delay: Option<String>,
    /// How often each node looks for due deliveries [default: 1s].
    poll_interval: Option<String>,
    /// How long delivery records are kept [default: 30d].
    retention: Option<String>,
}

/// The longest a request may take: a blocking hook holds up a person's form.
const MAX_TIMEOUT: Duration = Duration::seconds(60);
/// The shortest signing secret accepted.
const MIN_SECRET_CHARS: usize = 16;

/// Resolves the hooks; `base` is the configuration file's folder, `env` reads `secret_env`.
pub(super) fn resolve(
    hooks: Vec<WebhookFile>,
    delivery: &DeliveryFile,
    base: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<WebhookSettings> {
    let defaults = WebhookSettings::default();
    let first_retry = duration(
        "webhook_delivery.first_retry",
        delivery.first_retry.as_deref(),
        defaults.first_retry,
    )?;
    let max_retry_delay = duration(
        "webhook_delivery.max_retry_delay",
        delivery.max_retry_delay.as_deref(),
        defaults.max_retry_delay,
    )?;
    let poll_interval = duration(
        "webhook_delivery.poll_interval",
        delivery.poll_interval.as_deref(),
        time::Duration::try_from(defaults.poll_interval).unwrap_or(Duration::SECOND),
    )?;
    let retention = duration(
        "webhook_delivery.retention",
        delivery.retention.as_deref(),
        defaults.retention,
    )?;
    let allowed_networks = delivery
        .allowed_networks
        .iter()
        .map(|net| {
            IpNet::parse(net).map_err(|e| anyhow::anyhow!("webhook_delivery.allowed_networks: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut resolved = Vec::new();
    for hook in hooks {
        let id = hook.id.clone();
        resolved
            .push(resolve_hook(hook, base, &env).with_context(|| format!("[[webhooks]] {id:?}"))?);
    }
    let settings = WebhookSettings {
        hooks: resolved,
        targets: TargetPolicy {
            allow_private: delivery.allow_private_networks.unwrap_or(false),
            allowed_networks,
        },
        first_retry,
        max_retry_delay,
        poll_interval: poll_interval.unsigned_abs(),
        retention,
    };
    // Compiles every payload template and renders it against a sample context.
    Webhooks::new(&settings).context("[[webhooks]]")?;
    Ok(settings)
}

fn resolve_hook(
    hook: WebhookFile,
    base: Option<&Path>,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<WebhookConfig> {
    if hook.id.is_empty()
        || hook.id.len() > 64
        || !hook
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        bail!("id must be 1 to 64 letters, digits, '-', '_' or '.'");
    }
    if hook.events.is_empty() {
        bail!("events must name at least one event");
    }
    let known = || WebhookEvent::ALL.map(WebhookEvent::as_str).join(", ");
    let mut events = Vec::new();
    for name in &hook.events {
        let event = WebhookEvent::parse(name)
            .with_context(|| format!("unknown event {name:?} (known: {})", known()))?;
        if !events.contains(&event) {
            events.push(event);
        }
    }
    let url = url::Url::parse(&hook.url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .with_context(|| format!("url {:?} is not an absolute http(s) URL", hook.url))?;
    if !url.username().is_empty() || url.password().is_some() {
        bail!("url must not carry a user name or password (the secret signs the requests)");
    }
    let secret =
        match (hook.secret, hook.secret_env) {
            (Some(secret), None) => secret,
            (None, Some(name)) => Secret::new(env(&name).with_context(|| {
                format!("secret_env: the environment variable {name} is not set")
            })?),
            (Some(_), Some(_)) => bail!("set either secret or secret_env, not both"),
            (None, None) => bail!("secret (or secret_env) is required: it signs every request"),
        };
    if secret.expose().chars().count() < MIN_SECRET_CHARS {
        bail!("the secret must be at least {MIN_SECRET_CHARS} characters");
    }
    let mode = match hook.mode.as_deref() {
        None => WebhookMode::Async,
        Some(name) => WebhookMode::parse(name)
            .with_context(|| format!("mode must be \"async\" or \"blocking\" (got {name:?})"))?,
    };
    let payload = match (hook.payload, hook.payload_file) {
        (Some(inline), None) => Some(inline),
        (None, Some(path)) => {
            let path = match base {
                Some(dir) if path.is_relative() => dir.join(path),
                _ => path,
            };
            Some(
                std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read payload_file {}", path.display()))?,
            )
        }
        (Some(_), Some(_)) => bail!("set either payload or payload_file, not both"),
        (None, None) => None,
    };
    let payload_format = match hook.payload_format.as_deref() {
        None => PayloadFormat::default(),
        Some(_) if payload.is_none() => {
            bail!(
                "payload_format needs payload or payload_file (the default payload has no format to choose)"
            )
        }
        Some(name) => PayloadFormat::parse(name).with_context(|| {
            format!(
                "payload_format must be {} (got {name:?})",
                PayloadFormat::ALL
                    .map(|f| format!("{:?}", f.as_str()))
                    .join(" or ")
            )
        })?,
    };
    let timeout = duration("timeout", hook.timeout.as_deref(), Duration::seconds(5))?;
    if timeout > MAX_TIMEOUT {
        bail!("timeout must be at most 60s");
    }
    let max_attempts = match (mode, hook.max_attempts) {
        (WebhookMode::Blocking, Some(_)) => {
            bail!("max_attempts applies to async hooks only: a blocking hook is called once")
        }
        (_, Some(0)) => bail!("max_attempts must be at least 1"),
        (WebhookMode::Blocking, None) => 1,
        (WebhookMode::Async, n) => n.unwrap_or(8),
    };
    Ok(WebhookConfig {
        id: hook.id,
        events,
        url,
        secret,
        mode,
        payload,
        payload_format,
        timeout: timeout.unsigned_abs(),
        max_attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> anyhow::Result<WebhookSettings> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            webhooks: Vec<WebhookFile>,
            #[serde(default)]
            webhook_delivery: DeliveryFile,
        }
        let file: File = toml::from_str(toml_text)?;
        resolve(file.webhooks, &file.webhook_delivery, None, |name| {
            (name == "HOOK_SECRET").then(|| "from-the-environment-0123".to_owned())
        })
    }

    fn error(toml_text: &str) -> String {
        format!("{:#}", parse(toml_text).expect_err("refused"))
    }

    #[test]
    fn a_full_configuration_resolves() {
        let settings = parse(
            r#"
            [[webhooks]]
            id = "crm"
            events = ["registration.after", "login.after"]
            url = "https://hooks.example/in"
            secret = "0123456789abcdef0123"
            payload = 'function(ctx) { id: ctx.identity.id }'
            timeout = "2s"
            max_attempts = 3

            [[webhooks]]
            id = "gate"
            events = ["registration.after"]
            url = "https://gate.example/check"
            secret_env = "HOOK_SECRET"
            mode = "blocking"

            [[webhooks]]
            id = "legacy"
            events = ["login.after"]
            url = "https://legacy.example/in"
            secret = "0123456789abcdef0123"
            payload = '{"id": {{ ctx.identity.id }}}'
            payload_format = "minijinja"

            [webhook_delivery]
            allowed_networks = ["10.0.0.0/8"]
            first_retry = "10s"
            "#,
        )
        .expect("valid");
        let [crm, gate, legacy] = &settings.hooks[..] else {
            panic!("three hooks")
        };
        assert_eq!(crm.payload_format, PayloadFormat::Jsonnet);
        assert_eq!(legacy.payload_format, PayloadFormat::Minijinja);
        assert_eq!(
            crm.events,
            vec![WebhookEvent::RegistrationAfter, WebhookEvent::LoginAfter]
        );
        assert_eq!(crm.mode, WebhookMode::Async);
        assert_eq!(crm.timeout, std::time::Duration::from_secs(2));
        assert_eq!(crm.max_attempts, 3);
        assert_eq!(gate.mode, WebhookMode::Blocking);
        assert_eq!(gate.secret.expose(), "from-the-environment-0123");
        assert_eq!(gate.timeout, std::time::Duration::from_secs(5));
        assert!(gate.payload.is_none());
        assert!(!settings.targets.allow_private);
        assert!(settings.targets.allows("10.1.1.1".parse().expect("ip")));
        assert_eq!(settings.first_retry, Duration::seconds(10));
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("0123456789abcdef0123") && !shown.contains("from-the-environment"),
            "{shown}"
        );
    }

    #[test]
    fn unknown_events_and_bad_templates_stop_the_start() {
        let hook = |extra: &str| {
            format!(
                "[[webhooks]]\nid = \"crm\"\nurl = \"https://hooks.example/in\"\nsecret = \"0123456789abcdef0123\"\n{extra}\n"
            )
        };
        let err = error(&hook("events = [\"registration.before\"]"));
        assert!(
            err.contains("\"crm\"") && err.contains("unknown event \"registration.before\""),
            "{err}"
        );
        let err = error(&hook(
            "events = [\"login.after\"]\npayload = '{\"id\": \"{{ ctx.identity.id }}\"}'\npayload_format = \"minijinja\"",
        ));
        assert!(err.contains("not valid JSON"), "{err}");
        let err = error(&hook(
            "events = [\"login.after\"]\npayload = '{{ ctx.identity.id '\npayload_format = \"minijinja\"",
        ));
        assert!(err.contains("does not compile"), "{err}");
        // Jsonnet is the default: a syntax error names the hook and the place.
        let err = error(&hook(
            r#"events = ["login.after"]
payload = """
function(ctx) {
  id: ctx.identity.id,,
}"""
"#,
        ));
        assert!(
            err.contains("\"crm\"") && err.contains("does not compile") && err.contains("line 2"),
            "{err}"
        );
        let err = error(&hook(
            "events = [\"login.after\"]\npayload = 'import \"/etc/passwd\"'",
        ));
        assert!(
            err.contains("\"crm\"") && err.contains("`import` is not allowed"),
            "{err}"
        );
        let err = error(&hook(
            "events = [\"login.after\"]\npayload = '{}'\npayload_format = \"handlebars\"",
        ));
        assert!(
            err.contains("\"crm\"")
                && err.contains(r#"payload_format must be "jsonnet" or "minijinja""#),
            "{err}"
        );
        let err = error(&hook(
            "events = [\"login.after\"]\npayload_format = \"minijinja\"",
        ));
        assert!(err.contains("payload_format needs payload"), "{err}");
        let err = error(&hook("events = [\"login.after\"]\nmode = \"sometimes\""));
        assert!(err.contains("mode"), "{err}");
        let err = error(&hook(
            "events = [\"login.after\"]\nmode = \"blocking\"\nmax_attempts = 3",
        ));
        assert!(err.contains("max_attempts"), "{err}");
        let err = error(&hook("events = [\"login.after\"]\ntimeout = \"5m\""));
        assert!(err.contains("timeout"), "{err}");
        let err = error(&format!(
            "{}{}",
            hook("events = [\"login.after\"]"),
            hook("events = [\"login.after\"]")
        ));
        assert!(err.contains("configured twice"), "{err}");
    }

    #[test]
    fn secrets_and_urls_are_checked() {
        let err = error(
            "[[webhooks]]\nid = \"a\"\nevents = [\"login.after\"]\nurl = \"https://h.example\"\n",
        );
        assert!(err.contains("secret (or secret_env) is required"), "{err}");
        let err = error(
            "[[webhooks]]\nid = \"a\"\nevents = [\"login.after\"]\nurl = \"https://h.example\"\nsecret = \"short\"\n",
        );
        assert!(err.contains("at least 16"), "{err}");
        let err = error(
            "[[webhooks]]\nid = \"a\"\nevents = [\"login.after\"]\nurl = \"https://h.example\"\nsecret_env = \"UNSET_VARIABLE\"\n",
        );
        assert!(err.contains("UNSET_VARIABLE"), "{err}");
        let err = error(
            "[[webhooks]]\nid = \"a\"\nevents = [\"login.after\"]\nurl = \"ftp://h.example\"\nsecret = \"0123456789abcdef0123\"\n",
        );
        assert!(err.contains("http(s)"), "{err}");
        let err = error(
            "[[webhooks]]\nid = \"a\"\nevents = [\"login.after\"]\nurl = \"https://u:p@h.example\"\nsecret = \"0123456789abcdef0123\"\n",
        );
        assert!(err.contains("user name"), "{err}");
        let err = error("[webhook_delivery]\nallowed_networks = [\"nope\"]\n");
        assert!(err.contains("allowed_networks"), "{err}");
    }
}
