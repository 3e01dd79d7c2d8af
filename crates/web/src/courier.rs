//! Queuing messages in the courier outbox: built-in text templates (subject and body) rendered
//! with minijinja, written to the outbox for a delivery worker. With no SMTP server configured
//! the message stays queued and can be read through `/admin/courier/messages`.

use crate::error::ApiError;
use crate::state::AppState;
use gatehouse_domain::courier::CourierMessage;
use gatehouse_domain::ids::{TenantId, new_row_id};
use minijinja::{Environment, UndefinedBehavior, context};
use std::fmt;

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
}

impl Template {
    /// The `template_type` recorded with the message.
    pub fn template_type(&self) -> &'static str {
        match self {
            Self::RegistrationCode { .. } => "registration_code",
            Self::RegistrationExists => "registration_exists",
            Self::VerificationCode { .. } => "verification_code",
            Self::RecoveryCode { .. } => "recovery_code",
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
        }
    }
}

/// Built-in templates, `<template_type>.subject.txt` and `<template_type>.body.txt`.
const TEMPLATES: [(&str, &str); 8] = [
    (
        "registration_code.subject.txt",
        include_str!("../templates/courier/registration_code.subject.txt"),
    ),
    (
        "registration_code.body.txt",
        include_str!("../templates/courier/registration_code.body.txt"),
    ),
    (
        "registration_exists.subject.txt",
        include_str!("../templates/courier/registration_exists.subject.txt"),
    ),
    (
        "registration_exists.body.txt",
        include_str!("../templates/courier/registration_exists.body.txt"),
    ),
    (
        "verification_code.subject.txt",
        include_str!("../templates/courier/verification_code.subject.txt"),
    ),
    (
        "verification_code.body.txt",
        include_str!("../templates/courier/verification_code.body.txt"),
    ),
    (
        "recovery_code.subject.txt",
        include_str!("../templates/courier/recovery_code.subject.txt"),
    ),
    (
        "recovery_code.body.txt",
        include_str!("../templates/courier/recovery_code.body.txt"),
    ),
];

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
    /// (`registration_code.subject.txt`, `registration_code.body.txt`, …). Every template is
    /// rendered once here with sample values, so one that names an unknown variable is refused
    /// at start-up rather than when a message is due.
    pub fn with_overrides(
        smtp_configured: bool,
        overrides: &[(String, String)],
    ) -> Result<Self, minijinja::Error> {
        let mut templates = Environment::new();
        templates.set_undefined_behavior(UndefinedBehavior::Strict);
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

    /// Renders `template`'s subject (one line) and text body.
    pub fn render(
        &self,
        template: &Template,
        issuer: &str,
    ) -> Result<(String, String), minijinja::Error> {
        let kind = template.template_type();
        let ctx = match template {
            Template::RegistrationCode { code } => context! { code => code, issuer => issuer },
            Template::RegistrationExists => context! { issuer => issuer },
            Template::VerificationCode { code, link } | Template::RecoveryCode { code, link } => {
                context! { code => code, link => link, issuer => issuer }
            }
        };
        let subject = self
            .templates
            .get_template(&format!("{kind}.subject.txt"))?
            .render(&ctx)?;
        let body = self
            .templates
            .get_template(&format!("{kind}.body.txt"))?
            .render(&ctx)?;
        let subject = subject.lines().next().unwrap_or_default().trim().to_owned();
        Ok((subject, body))
    }
}

/// Renders `message` for `recipient` and writes it to the outbox as `queued`.
pub async fn queue(
    state: &AppState,
    tenant: TenantId,
    recipient: &str,
    message: Template,
) -> Result<(), ApiError> {
    let (subject, body) = state
        .courier
        .render(&message, &state.settings.issuer)
        .map_err(|e| ApiError::internal("cannot render a courier template", &e))?;
    let now = state.now();
    let record = CourierMessage::queued(
        new_row_id(now),
        tenant,
        recipient,
        subject,
        body,
        message.template_type(),
        now,
    );
    state.store.insert_courier_message(&record).await?;
    if state.courier.smtp_configured {
        tracing::debug!(courier.template_type = record.template_type, courier.message_id = %record.id, "message queued for delivery");
    } else {
        tracing::info!(
            courier.template_type = record.template_type,
            courier.message_id = %record.id,
            "no SMTP server configured: the message stays in the outbox (GET /admin/courier/messages)"
        );
    }
    Ok(())
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
        let good = [(
            "registration_exists.body.txt".to_owned(),
            "Someone tried to sign up at {{ issuer }}.".to_owned(),
        )];
        let courier = Courier::with_overrides(false, &good).expect("valid");
        let (_, body) = courier
            .render(&Template::RegistrationExists, "https://id.example")
            .expect("renders");
        assert_eq!(body, "Someone tried to sign up at https://id.example.");
    }

    #[test]
    fn renders_every_built_in_template() {
        let courier = Courier::new(false);
        let (subject, body) = courier
            .render(
                &Template::RegistrationCode {
                    code: "042917".into(),
                },
                "https://id.example",
            )
            .expect("renders");
        assert!(!subject.is_empty() && !subject.contains('\n'));
        assert!(body.contains("    042917\n"), "{body}");
        let (subject, body) = courier
            .render(&Template::RegistrationExists, "https://id.example")
            .expect("renders");
        assert!(!subject.is_empty());
        assert!(body.contains("tried to create an account"));
        assert!(body.contains("https://id.example/ui/login"));
        assert!(body.contains("https://id.example/ui/recovery"));
    }

    #[test]
    fn debug_hides_the_code() {
        let t = Template::RegistrationCode {
            code: "042917".into(),
        };
        assert!(!format!("{t:?}").contains("042917"));
    }
}
