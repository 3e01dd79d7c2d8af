//! Header templates of the `header` mutator: literal text with `{{ subject }}` and
//! `{{ claims.NAME }}` (dotted paths reach nested claims). Oathkeeper's Go-template spellings
//! `{{ print .Subject }}` and `{{ print .Extra.NAME }}` are accepted too, so existing rule files
//! keep working. A missing claim renders as nothing; a header that renders empty is not sent.

use super::session::AuthenticationSession;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed `{{{{`")]
    Unclosed,
    #[error("unknown value {0:?}: use subject or claims.NAME")]
    UnknownValue(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Subject,
    Claim(Vec<String>),
}

/// A parsed header template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

fn parse_value(expr: &str) -> Result<Part, TemplateError> {
    let trimmed = expr.trim();
    let inner = trimmed.strip_prefix("print ").map_or(trimmed, str::trim);
    let path = |rest: &str| -> Result<Part, TemplateError> {
        let segments: Vec<String> = rest.split('.').map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return Err(TemplateError::UnknownValue(trimmed.to_owned()));
        }
        Ok(Part::Claim(segments))
    };
    match inner {
        "subject" | ".Subject" => Ok(Part::Subject),
        _ => {
            if let Some(rest) = inner.strip_prefix("claims.") {
                path(rest)
            } else if let Some(rest) = inner.strip_prefix(".Extra.") {
                path(rest)
            } else {
                Err(TemplateError::UnknownValue(trimmed.to_owned()))
            }
        }
    }
}

impl Template {
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or(TemplateError::Unclosed)?;
            parts.push(parse_value(&after[..end])?);
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// The rendered value; empty when every value it names is missing and it has no literal text.
    pub fn render(&self, session: &AuthenticationSession) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Subject => out.push_str(&session.subject),
                Part::Claim(path) => {
                    if let Some(value) = session.claim(path.iter().map(String::as_str)) {
                        push_value(&mut out, value);
                    }
                }
            }
        }
        out
    }
}

fn push_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => {}
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            // Scope-like lists become space-separated, as in the `scope` claim.
            let strings: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            if strings.len() == items.len() {
                out.push_str(&strings.join(" "));
            } else {
                out.push_str(&value.to_string());
            }
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn session() -> AuthenticationSession {
        AuthenticationSession::new(
            "user-1",
            json!({"tenant_id": "acme", "email": "a@example.com", "n": 3, "org": {"id": "o1"}}),
        )
    }

    #[test]
    fn renders_subject_and_claims() {
        let s = session();
        let t = |src: &str| Template::parse(src).expect("valid").render(&s);
        assert_eq!(t("{{ subject }}"), "user-1");
        assert_eq!(t("{{claims.tenant_id}}"), "acme");
        assert_eq!(t("{{ claims.org.id }}"), "o1");
        assert_eq!(t("{{ claims.n }}"), "3");
        assert_eq!(t("Bearer {{ subject }}!"), "Bearer user-1!");
        assert_eq!(t("{{ print .Subject }}"), "user-1");
        assert_eq!(t("{{ print .Extra.email }}"), "a@example.com");
    }

    #[test]
    fn missing_values_render_empty() {
        let s = session();
        assert_eq!(
            Template::parse("{{ claims.missing }}")
                .expect("valid")
                .render(&s),
            ""
        );
    }

    #[test]
    fn refuses_unknown_values_and_unclosed_braces() {
        assert_eq!(
            Template::parse("{{ password }}"),
            Err(TemplateError::UnknownValue("password".into()))
        );
        assert_eq!(
            Template::parse("{{ claims. }}"),
            Err(TemplateError::UnknownValue("claims.".into()))
        );
        assert_eq!(Template::parse("{{ subject"), Err(TemplateError::Unclosed));
    }
}
