//! Queuing messages in the courier outbox: built-in templates (a subject, a text body and an HTML
//! body per message type) rendered with minijinja, written to the outbox for a delivery worker.
//! With no SMTP server configured the message stays queued, is logged, and can be read through
//! `/admin/courier/messages`.

use crate::error::ApiError;
use crate::state::AppState;
use gatehouse_domain::courier::CourierMessage;
use gatehouse_domain::ids::{TenantId, new_row_id};
use minijinja::{AutoEscape, Environment, Output, State, UndefinedBehavior, Value, context};
use std::fmt;
use std::fmt::Write as _;

/// A message the courier knows how to write.
#[derive(Clone, PartialEq, Eq)]
pub enum Template {
    /// The 6-digit code that confirms a new registration's address.
    RegistrationCode { code: String },
    /// Sent instead of a code when someone registers with an address that has an account.
    RegistrationExists,
    /// The code (and a link to the page that takes it) that proves an address belongs to the
    /// person: after registration with an immediate session, and after an address changes.
    VerificationCode { code: String, link: String },
    /// The code (and a link to the page that takes it) that recovers an account.
    RecoveryCode { code: String, link: String },
    /// A one-time sign-in link to an app (a tenant), valid `minutes`.
    MagicLink {
        link: String,
        app: String,
        minutes: i64,
    },
}

impl Template {
    /// The `template_type` recorded with the message.
    pub fn template_type(&self) -> &'static str {
        match self {
            Self::RegistrationCode { .. } => "registration_code",
            Self::RegistrationExists => "registration_exists",
            Self::VerificationCode { .. } => "verification_code",
            Self::RecoveryCode { .. } => "recovery_code",
            Self::MagicLink { .. } => "magic_link",
        }
    }

    /// The one-time code the message carries, if any.
    fn code(&self) -> Option<&str> {
        match self {
            Self::RegistrationCode { code }
            | Self::VerificationCode { code, .. }
            | Self::RecoveryCode { code, .. } => Some(code),
            Self::RegistrationExists | Self::MagicLink { .. } => None,
        }
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RegistrationCode { .. } => f.write_str("RegistrationCode { code: [redacted] }"),
            Self::RegistrationExists => f.write_str("RegistrationExists"),
            Self::VerificationCode { .. } => f.write_str("VerificationCode { [redacted] }"),
            Self::RecoveryCode { .. } => f.write_str("RecoveryCode { [redacted] }"),
            Self::MagicLink { .. } => f.write_str("MagicLink { [redacted] }"),
        }
    }
}

/// A built-in template: its name and its source, embedded from `templates/courier/`.
macro_rules! builtin {
    ($name:literal) => {
        ($name, include_str!(concat!("../templates/courier/", $name)))
    };
}

/// Built-in templates: `<template_type>.subject.txt`, `<template_type>.body.txt` and
/// `<template_type>.body.html` per message type, and `layout.html`, the frame the HTML bodies
/// extend.
const TEMPLATES: [(&str, &str); 16] = [
    builtin!("layout.html"),
    builtin!("registration_code.subject.txt"),
    builtin!("registration_code.body.txt"),
    builtin!("registration_code.body.html"),
    builtin!("registration_exists.subject.txt"),
    builtin!("registration_exists.body.txt"),
    builtin!("registration_exists.body.html"),
    builtin!("verification_code.subject.txt"),
    builtin!("verification_code.body.txt"),
    builtin!("verification_code.body.html"),
    builtin!("recovery_code.subject.txt"),
    builtin!("recovery_code.body.txt"),
    builtin!("recovery_code.body.html"),
    builtin!("magic_link.subject.txt"),
    builtin!("magic_link.body.txt"),
    builtin!("magic_link.body.html"),
];

/// A message rendered from its templates. No `Debug`: every part may carry a one-time code.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One line.
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// How a template's output is escaped: HTML templates escape every value (a link or address
/// can never break out of an attribute), text templates print values as they are.
fn auto_escape(name: &str) -> AutoEscape {
    if name.ends_with(".html") {
        AutoEscape::Html
    } else {
        AutoEscape::None
    }
}

/// Writes a value into a template's output, escaped as its auto-escape mode says. HTML values
/// have `& < > " '` escaped: minijinja's own HTML escaping also writes `/` as `&#x2f;`, valid
/// but it makes every link in a message's source unreadable (to people and to the link checkers
/// some mail systems run).
fn format_value(
    out: &mut Output,
    state: &mut State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if *state.auto_escape() != AutoEscape::Html || value.is_safe() {
        return minijinja::escape_formatter(out, state, value);
    }
    for c in value.to_string().chars() {
        match c {
            '&' => out.write_str("&amp;"),
            '<' => out.write_str("&lt;"),
            '>' => out.write_str("&gt;"),
            '"' => out.write_str("&quot;"),
            '\'' => out.write_str("&#39;"),
            c => out.write_char(c),
        }
        .map_err(minijinja::Error::from)?;
    }
    Ok(())
}

/// The courier's templates and whether anything delivers the outbox.
pub struct Courier {
    templates: Environment<'static>,
    smtp_configured: bool,
}

impl fmt::Debug for Courier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Courier")
            .field("smtp_configured", &self.smtp_configured)
            .finish_non_exhaustive()
    }
}

impl Courier {
    /// The built-in templates only.
    pub fn new(smtp_configured: bool) -> Self {
        Self::with_overrides(smtp_configured, &[])
            .expect("built-in courier templates are valid (checked by a unit test)")
    }

    /// The built-in templates, with `overrides` (`name`, source) replacing them by name
    /// (`registration_code.subject.txt`, `registration_code.body.txt`,
    /// `registration_code.body.html`, `layout.html`, …). Every template is rendered once here
    /// with sample values, so one that names an unknown variable is refused at start-up rather
    /// than when a message is due.
    pub fn with_overrides(
        smtp_configured: bool,
        overrides: &[(String, String)],
    ) -> Result<Self, minijinja::Error> {
        let mut templates = Environment::new();
        templates.set_undefined_behavior(UndefinedBehavior::Strict);
        templates.set_auto_escape_callback(auto_escape);
        templates.set_formatter(format_value);
        for (name, source) in TEMPLATES {
            if !overrides.iter().any(|(n, _)| n == name) {
                templates.add_template(name, source)?;
            }
        }
        for (name, source) in overrides {
            templates.add_template_owned(name.clone(), source.clone())?;
        }
        let courier = Self {
            templates,
            smtp_configured,
        };
        for sample in [
            Template::RegistrationCode {
                code: "000000".to_owned(),
            },
            Template::RegistrationExists,
            Template::VerificationCode {
                code: "000000".to_owned(),
                link: "https://id.example/ui/verification?flow=x".to_owned(),
            },
            Template::RecoveryCode {
                code: "000000".to_owned(),
                link: "https://id.example/ui/recovery?flow=x".to_owned(),
            },
        ] {
            courier.render(&sample, "https://id.example")?;
        }
        Ok(courier)
    }

    /// Renders `template`'s subject (one line), text body and HTML body. The bodies also see
    /// the rendered `subject`.
    pub fn render(&self, template: &Template, issuer: &str) -> Result<Rendered, minijinja::Error> {
        let kind = template.template_type();
        let ctx = match template {
            Template::RegistrationCode { code } => context! { code => code, issuer => issuer },
            Template::RegistrationExists => context! { issuer => issuer },
            Template::VerificationCode { code, link } | Template::RecoveryCode { code, link } => {
                context! { code => code, link => link, issuer => issuer }
            }
            Template::MagicLink { link, app, minutes } => {
                context! { link => link, app => app, minutes => minutes, issuer => issuer }
            }
        };
        let subject = self
            .templates
            .get_template(&format!("{kind}.subject.txt"))?
            .render(&ctx)?;
        let subject = subject.lines().next().unwrap_or_default().trim().to_owned();
        let ctx = context! { subject => &subject, ..ctx };
        let text = self
            .templates
            .get_template(&format!("{kind}.body.txt"))?
            .render(&ctx)?;
        let html = self
            .templates
            .get_template(&format!("{kind}.body.html"))?
            .render(&ctx)?;
        Ok(Rendered {
            subject,
            text,
            html,
        })
    }
}

/// Renders `message` for `recipient` and writes it to the outbox as `queued`.
pub async fn queue(
    state: &AppState,
    tenant: TenantId,
    recipient: &str,
    message: Template,
) -> Result<(), ApiError> {
    let rendered = state
        .courier
        .render(&message, &state.settings.issuer)
        .map_err(|e| ApiError::internal("cannot render a courier template", &e))?;
    let now = state.now();
    let record = CourierMessage::queued(
        new_row_id(now),
        tenant,
        recipient,
        rendered.subject,
        rendered.text,
        message.template_type(),
        now,
    )
    .with_html_body(rendered.html);
    state.store.insert_courier_message(&record).await?;
    if state.courier.smtp_configured {
        tracing::debug!(courier.template_type = record.template_type, courier.message_id = %record.id, "message queued for delivery");
    } else {
        log_kept(&record, &message, state.settings.dev);
    }
    Ok(())
}

/// With no SMTP server configured, the message is kept in the outbox and the log says what
/// would have been sent: recipient and subject, and the code only in `--dev`.
fn log_kept(record: &CourierMessage, message: &Template, dev: bool) {
    let (subject, code) = shown_in_log(&record.subject, message.code(), dev);
    tracing::info!(
        courier.template_type = record.template_type,
        courier.message_id = %record.id,
        courier.recipient = record.recipient.as_str(),
        courier.subject = subject.as_str(),
        courier.code = code,
        "no SMTP server configured: the message stays in the outbox (GET /admin/courier/messages)"
    );
}

/// The subject and code a log line may show: in `--dev` both as they are; otherwise no code,
/// and a code an operator's subject template shows is masked.
fn shown_in_log<'a>(subject: &str, code: Option<&'a str>, dev: bool) -> (String, Option<&'a str>) {
    match code {
        Some(code) if !dev => (subject.replace(code, "[code]"), None),
        _ => (subject.to_owned(), code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_naming_an_unknown_variable_is_refused_up_front() {
        let bad = [(
            "registration_exists.body.txt".to_owned(),
            "Hello {{ first_name }}".to_owned(),
        )];
        assert!(Courier::with_overrides(false, &bad).is_err());
        let bad_html = [(
            "recovery_code.body.html".to_owned(),
            "<p>{{ token }}</p>".to_owned(),
        )];
        assert!(Courier::with_overrides(false, &bad_html).is_err());
        let good = [(
            "registration_exists.body.txt".to_owned(),
            "Someone tried to sign up at {{ issuer }}.".to_owned(),
        )];
        let courier = Courier::with_overrides(false, &good).expect("valid");
        let rendered = courier
            .render(&Template::RegistrationExists, "https://id.example")
            .expect("renders");
        assert_eq!(
            rendered.text,
            "Someone tried to sign up at https://id.example."
        );
    }

    #[test]
    fn renders_every_built_in_template() {
        let courier = Courier::new(false);
        let rendered = courier
            .render(
                &Template::RegistrationCode {
                    code: "042917".into(),
                },
                "https://id.example",
            )
            .expect("renders");
        assert!(!rendered.subject.is_empty() && !rendered.subject.contains('\n'));
        assert!(rendered.text.contains("    042917\n"), "{}", rendered.text);
        assert!(
            rendered.html.contains(">042917</span>"),
            "{}",
            rendered.html
        );
        assert!(
            rendered.html.starts_with("<!DOCTYPE html>"),
            "{}",
            rendered.html
        );
        assert!(
            rendered
                .html
                .contains(&format!("<title>{}</title>", rendered.subject))
        );

        let rendered = courier
            .render(&Template::RegistrationExists, "https://id.example")
            .expect("renders");
        assert!(!rendered.subject.is_empty());
        assert!(rendered.text.contains("tried to create an account"));
        assert!(rendered.text.contains("https://id.example/ui/login"));
        assert!(rendered.text.contains("https://id.example/ui/recovery"));
        assert!(
            rendered
                .html
                .contains(r#"href="https://id.example/ui/login""#)
        );
        assert!(
            rendered
                .html
                .contains(r#"href="https://id.example/ui/recovery""#)
        );

        for template in [
            Template::VerificationCode {
                code: "318004".into(),
                link: "https://id.example/ui/verification?flow=f1".into(),
            },
            Template::RecoveryCode {
                code: "318004".into(),
                link: "https://id.example/ui/recovery?flow=f1".into(),
            },
        ] {
            let rendered = courier
                .render(&template, "https://id.example")
                .expect("renders");
            let kind = template.template_type();
            let path = kind.trim_end_matches("_code");
            let link = format!("https://id.example/ui/{path}?flow=f1");
            assert!(rendered.text.contains("318004"), "{kind}");
            assert!(rendered.text.contains(&link), "{kind}");
            assert!(rendered.html.contains(">318004</span>"), "{kind}");
            // The button and the address as text.
            assert!(
                rendered.html.contains(&format!(r#"<a href="{link}""#)),
                "{kind}"
            );
            assert!(rendered.html.contains(&format!("<br>{link}</p>")), "{kind}");
        }
    }

    #[test]
    fn built_in_html_loads_nothing_from_elsewhere() {
        let courier = Courier::new(false);
        let rendered = courier
            .render(
                &Template::RecoveryCode {
                    code: "000000".into(),
                    link: "https://id.example/ui/recovery?flow=x".into(),
                },
                "https://id.example",
            )
            .expect("renders");
        for outside in ["<img", "<link", "<script", "<style", "url(", "@import"] {
            assert!(!rendered.html.contains(outside), "{outside}");
        }
    }

    #[test]
    fn html_bodies_escape_values_and_text_bodies_do_not() {
        let courier = Courier::new(false);
        let link = r#"https://id.example/ui/verification?flow=x&a="><script>"#;
        let rendered = courier
            .render(
                &Template::VerificationCode {
                    code: "123456".into(),
                    link: link.into(),
                },
                "https://id.example",
            )
            .expect("renders");
        assert!(rendered.text.contains(link), "{}", rendered.text);
        assert!(!rendered.html.contains("<script>"), "{}", rendered.html);
        assert!(!rendered.html.contains("&#x2f;"), "links stay readable");
        assert!(
            rendered
                .html
                .contains("flow=x&amp;a=&quot;&gt;&lt;script&gt;"),
            "{}",
            rendered.html
        );
    }

    #[test]
    fn operators_replace_the_html_layout_and_bodies() {
        let overrides = [
            (
                "layout.html".to_owned(),
                "<div class=brand>{% block content %}{% endblock %}</div>".to_owned(),
            ),
            (
                "registration_code.body.html".to_owned(),
                r#"{% extends "layout.html" %}{% block content %}<b>{{ code }}</b> for {{ subject }}{% endblock %}"#
                    .to_owned(),
            ),
        ];
        let courier = Courier::with_overrides(false, &overrides).expect("valid");
        let rendered = courier
            .render(
                &Template::RegistrationCode {
                    code: "555123".into(),
                },
                "https://id.example",
            )
            .expect("renders");
        assert_eq!(
            rendered.html,
            format!(
                "<div class=brand><b>555123</b> for {}</div>",
                rendered.subject
            )
        );
        // The other built-in HTML bodies extend the operator's layout too.
        let rendered = courier
            .render(&Template::RegistrationExists, "https://id.example")
            .expect("renders");
        assert!(
            rendered.html.starts_with("<div class=brand>"),
            "{}",
            rendered.html
        );
    }

    #[test]
    fn the_log_shows_a_code_only_in_dev() {
        let subject = "Your code is 123456";
        assert_eq!(
            shown_in_log(subject, Some("123456"), false),
            ("Your code is [code]".to_owned(), None)
        );
        assert_eq!(
            shown_in_log(subject, Some("123456"), true),
            (subject.to_owned(), Some("123456"))
        );
        assert_eq!(
            shown_in_log("Someone tried", None, false),
            ("Someone tried".to_owned(), None)
        );
    }

    #[test]
    fn debug_hides_the_code() {
        let t = Template::RegistrationCode {
            code: "042917".into(),
        };
        assert!(!format!("{t:?}").contains("042917"));
    }
}
