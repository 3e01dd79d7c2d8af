//! Rules ready to serve: the domain [`RuleSet`] plus, per rule, its live authenticators and its
//! header names parsed once. JWT validators are shared across reloads (keyed by their
//! configuration), so a reload does not refetch every JWKS.

use super::authn::{Authn, CookieSessionAuthn, IntrospectionAuthn, JwtAuthn};
use super::upstream::Origin;
use axum::http::HeaderName;
use gatehouse_domain::gateway::{Authenticator, JwtConfig, Rule, RuleSet};
use gatehouse_domain::keys::KeyError;
use gatehouse_domain::oauth::duration::parse_duration;
use gatehouse_verify::{Algorithm, Validator, ValidatorConfig};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;

/// Why rules cannot be put in service.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("rule {rule}: jwt: algorithm {alg:?} is not supported")]
    UnknownAlgorithm { rule: String, alg: String },
    #[error("rule {rule}: header {name:?} is not a valid header name")]
    InvalidHeaderName { rule: String, name: String },
    #[error("rule {rule}: upstream.url must be http or https")]
    UpstreamScheme { rule: String },
    #[error("the upstream CA certificates cannot be used: {0}")]
    UpstreamCa(String),
    #[error("the HTTP client cannot be built: {0}")]
    HttpClient(String),
    #[error("the id_token signing key cannot be generated: {0}")]
    Key(#[source] KeyError),
}

/// JWT validators by configuration, kept across rule reloads.
#[derive(Default)]
pub struct ValidatorPool(Mutex<HashMap<String, Validator>>);

impl ValidatorPool {
    fn get(
        &self,
        rule: &str,
        cfg: &JwtConfig,
        issuer: &str,
        jwks_url: &str,
        http: &reqwest::Client,
    ) -> Result<Validator, CompileError> {
        let mut algorithms = Vec::new();
        for alg in &cfg.allowed_algorithms {
            algorithms.push(Algorithm::from_str(alg).map_err(|_| {
                CompileError::UnknownAlgorithm {
                    rule: rule.to_owned(),
                    alg: alg.clone(),
                }
            })?);
        }
        let key = format!(
            "{issuer}\n{jwks_url}\n{:?}\n{:?}\n{:?}",
            cfg.target_audience, algorithms, cfg.leeway
        );
        let mut pool = self
            .0
            .lock()
            .expect("validator pool lock is never poisoned: nothing panics holding it");
        if let Some(v) = pool.get(&key) {
            return Ok(v.clone());
        }
        let mut config = ValidatorConfig::new(issuer);
        for audience in &cfg.target_audience {
            config = config.audience(audience.clone());
        }
        if !algorithms.is_empty() {
            config = config.algorithms(&algorithms);
        }
        if let Some(leeway) = cfg.leeway.as_deref().and_then(|l| parse_duration(l).ok()) {
            config = config.leeway(leeway.unsigned_abs().as_secs());
        }
        let validator = Validator::with_jwks_uri(config, jwks_url, http.clone());
        pool.insert(key, validator.clone());
        Ok(validator)
    }
}

/// One rule with what it needs at run time.
pub struct CompiledRule {
    pub rule: Rule,
    pub authenticators: Vec<Authn>,
    /// Where `rule.upstream` lives, parsed once.
    pub origin: Option<Origin>,
    /// The header mutators' headers, names parsed.
    pub headers: Vec<(HeaderName, gatehouse_domain::gateway::Template)>,
}

pub struct CompiledRules {
    pub rules: Vec<CompiledRule>,
    /// Removed from every incoming request before any rule runs (spoofing protection). The
    /// credential headers authenticators read are not in it: mutators overwrite those instead.
    pub spoofable: Vec<HeaderName>,
}

impl CompiledRules {
    pub fn build(
        set: RuleSet,
        validators: &ValidatorPool,
        http: &reqwest::Client,
    ) -> Result<Self, CompileError> {
        let mut spoofable = Vec::new();
        for name in &set.spoofable_headers {
            let parsed =
                HeaderName::from_str(name).map_err(|_| CompileError::InvalidHeaderName {
                    rule: String::new(),
                    name: name.clone(),
                })?;
            if !matches!(
                name.as_str(),
                "authorization" | "cookie" | "x-session-token"
            ) {
                spoofable.push(parsed);
            }
        }
        let mut rules = Vec::with_capacity(set.rules.len());
        for rule in set.rules {
            let origin =
                match &rule.upstream {
                    Some(upstream) => Some(Origin::of(&upstream.url).ok_or_else(|| {
                        CompileError::UpstreamScheme {
                            rule: rule.id.clone(),
                        }
                    })?),
                    None => None,
                };
            let mut authenticators = Vec::new();
            for a in &rule.authenticators {
                authenticators.push(match a {
                    Authenticator::Jwt(cfg) => {
                        let mut list = Vec::new();
                        for issuer in &cfg.trusted_issuers {
                            for url in &cfg.jwks_urls {
                                list.push(validators.get(&rule.id, cfg, issuer, url, http)?);
                            }
                        }
                        Authn::Jwt(JwtAuthn::new(list, cfg.required_scope.clone()))
                    }
                    Authenticator::Introspection(cfg) => {
                        Authn::Introspection(Box::new(IntrospectionAuthn::new((**cfg).clone())))
                    }
                    Authenticator::CookieSession(cfg) => {
                        Authn::CookieSession(Box::new(CookieSessionAuthn::new(cfg.clone())))
                    }
                    Authenticator::Anonymous { subject } => Authn::Anonymous(subject.clone()),
                    Authenticator::Noop => Authn::Noop,
                });
            }
            let mut headers = Vec::new();
            for mutator in &rule.mutators {
                if let gatehouse_domain::gateway::Mutator::Header(list) = mutator {
                    for (name, template) in list {
                        let parsed = HeaderName::from_str(name).map_err(|_| {
                            CompileError::InvalidHeaderName {
                                rule: rule.id.clone(),
                                name: name.clone(),
                            }
                        })?;
                        headers.push((parsed, template.clone()));
                    }
                }
            }
            rules.push(CompiledRule {
                rule,
                authenticators,
                origin,
                headers,
            });
        }
        Ok(Self { rules, spoofable })
    }

    pub fn count(&self) -> usize {
        self.rules.len()
    }

    /// The first rule matching `method` and `url` (`scheme://host/path`).
    pub fn find(&self, method: &str, url: &str) -> Option<&CompiledRule> {
        self.rules.iter().find(|r| r.rule.matches(method, url))
    }
}
