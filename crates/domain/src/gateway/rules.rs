//! Access rules in their compiled, checked form ([`RuleSet`], built from the file's
//! [`RuleSpec`]s by [`RuleSet::compile`]). Compiling refuses anything it does not understand
//! (unknown handlers, unknown config keys, bad globs, bad header names or templates), so a typo
//! never silently opens a route.

use super::authorize::Authorizer;
use super::compile::compile_rule;
use super::glob::UrlPattern;
use super::spec::JwtConfig;
use super::spec::RuleSpec;
use super::template::Template;
use crate::secret::Secret;
use std::collections::{BTreeSet, HashSet};
use time::Duration;
use url::Url;

#[derive(Debug, Clone)]
pub struct IntrospectionConfig {
    pub introspection_url: Url,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub required_scope: Vec<String>,
    pub target_audience: Vec<String>,
    pub trusted_issuers: Vec<String>,
    /// `None`: every request asks the introspection endpoint.
    pub cache_ttl: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct CookieSessionConfig {
    pub check_session_url: Url,
    pub only: Vec<String>,
    pub cache_ttl: Option<Duration>,
}

#[derive(Debug, Clone)]
pub enum Authenticator {
    Jwt(JwtConfig),
    Introspection(Box<IntrospectionConfig>),
    CookieSession(CookieSessionConfig),
    /// Responsible only when the request carries no `Authorization` header (as in Oathkeeper).
    Anonymous {
        subject: String,
    },
    Noop,
}

#[derive(Debug, Clone)]
pub struct IdTokenConfig {
    pub issuer_url: String,
    pub ttl: Duration,
    pub audience: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum Mutator {
    /// Lower-case header names and their templates.
    Header(Vec<(String, Template)>),
    IdToken(IdTokenConfig),
    Noop,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorHandling {
    Json,
    /// Browsers (requests that accept `text/html`) are sent to `to` when unauthenticated.
    Redirect {
        to: Url,
        return_to_query_param: String,
        code: u16,
    },
}

#[derive(Debug, Clone)]
pub struct Upstream {
    pub url: Url,
    pub strip_path: Option<String>,
    pub preserve_host: bool,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    /// Upper-case methods; empty means every method.
    pub methods: Vec<String>,
    pub url: UrlPattern,
    pub upstream: Option<Upstream>,
    pub authenticators: Vec<Authenticator>,
    pub authorizer: Authorizer,
    pub mutators: Vec<Mutator>,
    pub errors: ErrorHandling,
}

impl Rule {
    pub fn matches(&self, method: &str, url: &str) -> bool {
        (self.methods.is_empty() || self.methods.iter().any(|m| m == method))
            && self.url.matches(url)
    }
}

/// Why a rules file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("rule #{index} has an empty id")]
    MissingId { index: usize },
    #[error("rule id {0:?} is used more than once")]
    DuplicateId(String),
    #[error("rule {rule}: match.url {url:?} is invalid: {reason}")]
    InvalidPattern {
        rule: String,
        url: String,
        reason: String,
    },
    #[error("rule {rule}: {method:?} is not an HTTP method")]
    InvalidMethod { rule: String, method: String },
    #[error("rule {rule}: upstream.url {url:?} is not an absolute http(s) URL")]
    InvalidUpstream { rule: String, url: String },
    #[error("rule {rule}: unknown {kind} {handler:?}")]
    UnknownHandler {
        rule: String,
        kind: &'static str,
        handler: String,
    },
    #[error("rule {rule}: {kind} {handler}: {reason}")]
    InvalidConfig {
        rule: String,
        kind: &'static str,
        handler: String,
        reason: String,
    },
    #[error("rule {rule}: has no authenticator")]
    NoAuthenticator { rule: String },
}

/// The compiled rules, in file order: the first rule that matches a request handles it.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    /// Lower-case names of every header any mutator of any rule may set. They are removed from
    /// every incoming request, so a client can never supply them itself.
    pub spoofable_headers: Vec<String>,
}

impl RuleSet {
    pub fn compile(specs: Vec<RuleSpec>) -> Result<Self, RuleError> {
        let mut ids = HashSet::new();
        let mut rules = Vec::with_capacity(specs.len());
        for (index, spec) in specs.into_iter().enumerate() {
            if spec.id.trim().is_empty() {
                return Err(RuleError::MissingId { index });
            }
            if !ids.insert(spec.id.clone()) {
                return Err(RuleError::DuplicateId(spec.id));
            }
            rules.push(compile_rule(spec)?);
        }
        let mut spoofable = BTreeSet::new();
        for rule in &rules {
            for mutator in &rule.mutators {
                if let Mutator::Header(headers) = mutator {
                    for (name, _) in headers {
                        spoofable.insert(name.clone());
                    }
                }
            }
        }
        Ok(Self {
            rules,
            spoofable_headers: spoofable.into_iter().collect(),
        })
    }

    /// The index of the first rule matching `method` and `url` (`scheme://host/path`, no query).
    pub fn position(&self, method: &str, url: &str) -> Option<usize> {
        self.rules.iter().position(|r| r.matches(method, url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn compile(value: Value) -> Result<RuleSet, RuleError> {
        let specs: Vec<RuleSpec> = serde_json::from_value(value).expect("well-formed");
        RuleSet::compile(specs)
    }

    fn rule(extra: Value) -> Value {
        let mut base = json!({
            "id": "r1",
            "match": {"url": "http://h/api/<**>", "methods": ["get", "POST"]},
            "upstream": {"url": "http://127.0.0.1:9000", "strip_path": "/api"},
            "authenticators": [{"handler": "anonymous"}],
            "authorizer": {"handler": "allow"},
            "mutators": [{"handler": "header", "config": {"headers": {"X-User-ID": "{{ subject }}"}}}],
        });
        if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
            b.extend(e);
        }
        json!([base])
    }

    #[test]
    fn compiles_an_oathkeeper_rule() {
        let set = compile(rule(json!({}))).expect("valid");
        assert_eq!(set.rules[0].methods, ["GET", "POST"]);
        assert_eq!(set.spoofable_headers, ["x-user-id"]);
        assert_eq!(set.position("GET", "http://h/api/x"), Some(0));
        assert_eq!(set.position("DELETE", "http://h/api/x"), None);
        assert_eq!(set.position("GET", "http://h/other"), None);
    }

    #[test]
    fn refuses_typos_and_unknown_handlers() {
        let typo = rule(json!({"authorizer": {"handler": "scopes", "config": {"requird": ["a"]}}}));
        assert!(matches!(
            compile(typo),
            Err(RuleError::InvalidConfig { .. })
        ));
        let unknown = rule(json!({"authorizer": {"handler": "keto"}}));
        assert!(matches!(
            compile(unknown),
            Err(RuleError::UnknownHandler { .. })
        ));
        let bad_header = rule(
            json!({"mutators": [{"handler": "header", "config": {"headers": {"X Bad": "x"}}}]}),
        );
        assert!(matches!(
            compile(bad_header),
            Err(RuleError::InvalidConfig { .. })
        ));
        let bad_template = rule(
            json!({"mutators": [{"handler": "header", "config": {"headers": {"X-A": "{{ secret }}"}}}]}),
        );
        assert!(matches!(
            compile(bad_template),
            Err(RuleError::InvalidConfig { .. })
        ));
        let bad_glob = rule(json!({"match": {"url": "http://h/<.*>"}}));
        assert!(matches!(
            compile(bad_glob),
            Err(RuleError::InvalidPattern { .. })
        ));
        let bad_upstream = rule(json!({"upstream": {"url": "ftp://x"}}));
        assert!(matches!(
            compile(bad_upstream),
            Err(RuleError::InvalidUpstream { .. })
        ));
        let no_auth = rule(json!({"authenticators": []}));
        assert!(matches!(
            compile(no_auth),
            Err(RuleError::NoAuthenticator { .. })
        ));
        let jwt_without_issuer = rule(
            json!({"authenticators": [{"handler": "jwt", "config": {"jwks_urls": ["http://i/jwks"]}}]}),
        );
        assert!(matches!(
            compile(jwt_without_issuer),
            Err(RuleError::InvalidConfig { .. })
        ));
    }

    #[test]
    fn refuses_duplicate_ids() {
        let mut rules = rule(json!({}));
        let copy = rules[0].clone();
        rules.as_array_mut().expect("array").push(copy);
        assert_eq!(
            compile(rules).err(),
            Some(RuleError::DuplicateId("r1".into()))
        );
    }

    #[test]
    fn a_rule_without_authorizer_denies() {
        let mut rules = rule(json!({}));
        rules[0]
            .as_object_mut()
            .expect("object")
            .remove("authorizer");
        let set = compile(rules).expect("valid");
        assert_eq!(set.rules[0].authorizer, Authorizer::Deny);
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let rules = rule(
            json!({"authenticators": [{"handler": "oauth2_introspection", "config": {
                "introspection_url": "http://i/oauth2/introspect", "client_id": "gw", "client_secret": "hunter2",
                "cache": {"enabled": true, "ttl": "1s"}
            }}]}),
        );
        let set = compile(rules).expect("valid");
        assert!(!format!("{set:?}").contains("hunter2"));
    }
}
