//! Compiling [`RuleSpec`]s: each handler's `config` is read into its typed form and checked
//! (URLs, durations, header names, templates, globs); the first problem is a [`RuleError`] naming
//! the rule and the handler.

use super::authorize::{Authorizer, ClaimRequirement, Expected};
use super::glob::UrlPattern;
use super::rules::{
    Authenticator, CookieSessionConfig, ErrorHandling, IdTokenConfig, IntrospectionConfig, Mutator,
    Rule, RuleError, Upstream,
};
use super::spec::{
    AnonymousSpec, CacheSpec, ClaimsSpec, CookieSessionSpec, HandlerSpec, HeaderMutatorSpec,
    IdTokenSpec, IntrospectionSpec, JwtConfig, RedirectSpec, RuleSpec, ScopesSpec,
};
use super::template::Template;
use crate::oauth::duration::parse_duration;
use serde::de::DeserializeOwned;
use time::Duration;
use url::Url;

fn config<T: DeserializeOwned + Default>(
    rule: &str,
    kind: &'static str,
    spec: &HandlerSpec,
) -> Result<T, RuleError> {
    if spec.config.is_null() {
        return Ok(T::default());
    }
    required_config(rule, kind, spec)
}

fn required_config<T: DeserializeOwned>(
    rule: &str,
    kind: &'static str,
    spec: &HandlerSpec,
) -> Result<T, RuleError> {
    serde_json::from_value(spec.config.clone()).map_err(|e| RuleError::InvalidConfig {
        rule: rule.to_owned(),
        kind,
        handler: spec.handler.clone(),
        reason: e.to_string(),
    })
}

fn invalid(rule: &str, kind: &'static str, handler: &str, reason: impl Into<String>) -> RuleError {
    RuleError::InvalidConfig {
        rule: rule.to_owned(),
        kind,
        handler: handler.to_owned(),
        reason: reason.into(),
    }
}

fn http_url(value: &str) -> Option<Url> {
    Url::parse(value)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

fn cache_ttl(
    rule: &str,
    kind: &'static str,
    handler: &str,
    cache: &CacheSpec,
    enabled_by_default: bool,
    default_ttl: Duration,
) -> Result<Option<Duration>, RuleError> {
    if !cache.enabled.unwrap_or(enabled_by_default) {
        return Ok(None);
    }
    match &cache.ttl {
        None => Ok(Some(default_ttl)),
        Some(ttl) => parse_duration(ttl)
            .map(Some)
            .map_err(|e| invalid(rule, kind, handler, format!("cache.ttl: {e}"))),
    }
}

const AUTHENTICATOR: &str = "authenticator";

fn compile_jwt(rule: &str, spec: &HandlerSpec) -> Result<Authenticator, RuleError> {
    let bad = |reason: String| invalid(rule, AUTHENTICATOR, "jwt", reason);
    let cfg: JwtConfig = config(rule, AUTHENTICATOR, spec)?;
    if cfg.jwks_urls.is_empty() {
        return Err(bad("jwks_urls is required".into()));
    }
    if cfg.trusted_issuers.is_empty() {
        return Err(bad("trusted_issuers is required".into()));
    }
    if let Some(url) = cfg.jwks_urls.iter().find(|u| http_url(u).is_none()) {
        return Err(bad(format!("{url:?} is not an http(s) URL")));
    }
    if let Some(leeway) = &cfg.leeway {
        parse_duration(leeway).map_err(|e| bad(format!("leeway: {e}")))?;
    }
    Ok(Authenticator::Jwt(cfg))
}

fn compile_introspection(rule: &str, spec: &HandlerSpec) -> Result<Authenticator, RuleError> {
    let handler = "oauth2_introspection";
    let cfg: IntrospectionSpec = required_config(rule, AUTHENTICATOR, spec)?;
    let url = http_url(&cfg.introspection_url).ok_or_else(|| {
        invalid(
            rule,
            AUTHENTICATOR,
            handler,
            "introspection_url is not an http(s) URL",
        )
    })?;
    if cfg.client_id.is_some() != cfg.client_secret.is_some() {
        return Err(invalid(
            rule,
            AUTHENTICATOR,
            handler,
            "client_id and client_secret go together",
        ));
    }
    let ttl = cache_ttl(
        rule,
        AUTHENTICATOR,
        handler,
        &cfg.cache,
        false,
        Duration::seconds(30),
    )?;
    Ok(Authenticator::Introspection(Box::new(
        IntrospectionConfig {
            introspection_url: url,
            cache_ttl: ttl,
            client_id: cfg.client_id,
            client_secret: cfg.client_secret,
            required_scope: cfg.required_scope,
            target_audience: cfg.target_audience,
            trusted_issuers: cfg.trusted_issuers,
        },
    )))
}

fn compile_cookie_session(rule: &str, spec: &HandlerSpec) -> Result<Authenticator, RuleError> {
    let handler = "cookie_session";
    let cfg: CookieSessionSpec = required_config(rule, AUTHENTICATOR, spec)?;
    let url = http_url(&cfg.check_session_url).ok_or_else(|| {
        invalid(
            rule,
            AUTHENTICATOR,
            handler,
            "check_session_url is not an http(s) URL",
        )
    })?;
    let ttl = cache_ttl(
        rule,
        AUTHENTICATOR,
        handler,
        &cfg.cache,
        true,
        Duration::seconds(5),
    )?;
    Ok(Authenticator::CookieSession(CookieSessionConfig {
        check_session_url: url,
        cache_ttl: ttl,
        only: cfg.only,
    }))
}

fn compile_authenticator(rule: &str, spec: &HandlerSpec) -> Result<Authenticator, RuleError> {
    match spec.handler.as_str() {
        "jwt" => compile_jwt(rule, spec),
        "oauth2_introspection" => compile_introspection(rule, spec),
        "cookie_session" => compile_cookie_session(rule, spec),
        "anonymous" => {
            let cfg: AnonymousSpec = config(rule, AUTHENTICATOR, spec)?;
            Ok(Authenticator::Anonymous {
                subject: cfg.subject.unwrap_or_else(|| "anonymous".to_owned()),
            })
        }
        "noop" => Ok(Authenticator::Noop),
        _ => Err(RuleError::UnknownHandler {
            rule: rule.to_owned(),
            kind: AUTHENTICATOR,
            handler: spec.handler.clone(),
        }),
    }
}

fn compile_authorizer(rule: &str, spec: Option<&HandlerSpec>) -> Result<Authorizer, RuleError> {
    const KIND: &str = "authorizer";
    // Deny by default: a rule that forgets its authorizer lets nobody through.
    let Some(spec) = spec else {
        return Ok(Authorizer::Deny);
    };
    let handler = spec.handler.as_str();
    Ok(match handler {
        "allow" => Authorizer::Allow,
        "deny" => Authorizer::Deny,
        "scopes" => {
            let cfg: ScopesSpec = config(rule, KIND, spec)?;
            if cfg.required.is_empty() {
                return Err(invalid(rule, KIND, handler, "required lists no scope"));
            }
            Authorizer::Scopes {
                required: cfg.required,
                strategy: cfg.strategy,
            }
        }
        "claims" => {
            let cfg: ClaimsSpec = config(rule, KIND, spec)?;
            if cfg.require.is_empty() {
                return Err(invalid(rule, KIND, handler, "require lists no claim"));
            }
            let mut requirements = Vec::new();
            for c in cfg.require {
                let expected = match (c.equals, c.equals_path_segment) {
                    (Some(v), None) => Expected::Value(v),
                    (None, Some(i)) => Expected::PathSegment(i),
                    _ => {
                        return Err(invalid(
                            rule,
                            KIND,
                            handler,
                            format!(
                                "claim {}: give exactly one of equals, equals_path_segment",
                                c.claim
                            ),
                        ));
                    }
                };
                let claim: Vec<String> = c.claim.split('.').map(str::to_owned).collect();
                if claim.iter().any(String::is_empty) {
                    return Err(invalid(
                        rule,
                        KIND,
                        handler,
                        format!("bad claim name {:?}", c.claim),
                    ));
                }
                requirements.push(ClaimRequirement { claim, expected });
            }
            Authorizer::Claims(requirements)
        }
        _ => {
            return Err(RuleError::UnknownHandler {
                rule: rule.to_owned(),
                kind: KIND,
                handler: spec.handler.clone(),
            });
        }
    })
}

/// RFC 9110 §5.1 field names are tokens.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn compile_mutator(rule: &str, spec: &HandlerSpec) -> Result<Mutator, RuleError> {
    const KIND: &str = "mutator";
    let handler = spec.handler.as_str();
    Ok(match handler {
        "header" => {
            let cfg: HeaderMutatorSpec = config(rule, KIND, spec)?;
            let mut headers = Vec::new();
            for (name, template) in cfg.headers {
                if !is_token(&name) {
                    return Err(invalid(
                        rule,
                        KIND,
                        handler,
                        format!("{name:?} is not a header name"),
                    ));
                }
                let lower = name.to_ascii_lowercase();
                if matches!(
                    lower.as_str(),
                    "host" | "content-length" | "transfer-encoding" | "connection"
                ) {
                    return Err(invalid(
                        rule,
                        KIND,
                        handler,
                        format!("{name} cannot be set by a mutator"),
                    ));
                }
                let template = Template::parse(&template)
                    .map_err(|e| invalid(rule, KIND, handler, format!("{name}: {e}")))?;
                headers.push((lower, template));
            }
            Mutator::Header(headers)
        }
        "id_token" => {
            let cfg: IdTokenSpec = config(rule, KIND, spec)?;
            let issuer_url = cfg
                .issuer_url
                .ok_or_else(|| invalid(rule, KIND, handler, "issuer_url is required"))?;
            let ttl = match &cfg.ttl {
                None => Duration::minutes(1),
                Some(ttl) => parse_duration(ttl)
                    .map_err(|e| invalid(rule, KIND, handler, format!("ttl: {e}")))?,
            };
            Mutator::IdToken(IdTokenConfig {
                issuer_url,
                ttl,
                audience: cfg.audience,
            })
        }
        "noop" => Mutator::Noop,
        _ => {
            return Err(RuleError::UnknownHandler {
                rule: rule.to_owned(),
                kind: KIND,
                handler: spec.handler.clone(),
            });
        }
    })
}

fn compile_errors(rule: &str, specs: &[HandlerSpec]) -> Result<ErrorHandling, RuleError> {
    const KIND: &str = "error handler";
    let mut handling = ErrorHandling::Json;
    for spec in specs {
        let handler = spec.handler.as_str();
        match handler {
            "json" => {}
            "redirect" => {
                let cfg: RedirectSpec = config(rule, KIND, spec)?;
                let to = cfg
                    .to
                    .as_deref()
                    .and_then(http_url)
                    .ok_or_else(|| invalid(rule, KIND, handler, "to must be an http(s) URL"))?;
                let code = cfg.code.unwrap_or(302);
                if !matches!(code, 301 | 302 | 303 | 307 | 308) {
                    return Err(invalid(
                        rule,
                        KIND,
                        handler,
                        format!("{code} is not a redirect status"),
                    ));
                }
                handling = ErrorHandling::Redirect {
                    to,
                    return_to_query_param: cfg
                        .return_to_query_param
                        .unwrap_or_else(|| "return_to".to_owned()),
                    code,
                };
            }
            _ => {
                return Err(RuleError::UnknownHandler {
                    rule: rule.to_owned(),
                    kind: KIND,
                    handler: spec.handler.clone(),
                });
            }
        }
    }
    Ok(handling)
}

pub(super) fn compile_rule(spec: RuleSpec) -> Result<Rule, RuleError> {
    let id = spec.id;
    let url = UrlPattern::parse(&spec.matcher.url).map_err(|e| RuleError::InvalidPattern {
        rule: id.clone(),
        url: spec.matcher.url.clone(),
        reason: e.to_string(),
    })?;
    let mut methods = Vec::new();
    for method in spec.matcher.methods {
        let upper = method.trim().to_ascii_uppercase();
        if !is_token(&upper) {
            return Err(RuleError::InvalidMethod { rule: id, method });
        }
        methods.push(upper);
    }
    let upstream = match spec.upstream {
        None => None,
        Some(u) => {
            let parsed = http_url(&u.url).ok_or_else(|| RuleError::InvalidUpstream {
                rule: id.clone(),
                url: u.url.clone(),
            })?;
            Some(Upstream {
                url: parsed,
                strip_path: u.strip_path.filter(|p| !p.is_empty()),
                preserve_host: u.preserve_host,
            })
        }
    };
    if spec.authenticators.is_empty() {
        return Err(RuleError::NoAuthenticator { rule: id });
    }
    let authenticators = spec
        .authenticators
        .iter()
        .map(|a| compile_authenticator(&id, a))
        .collect::<Result<Vec<_>, _>>()?;
    let authorizer = compile_authorizer(&id, spec.authorizer.as_ref())?;
    let mutators = spec
        .mutators
        .iter()
        .map(|m| compile_mutator(&id, m))
        .collect::<Result<Vec<_>, _>>()?;
    let errors = compile_errors(&id, &spec.errors)?;
    Ok(Rule {
        id,
        methods,
        url,
        upstream,
        authenticators,
        authorizer,
        mutators,
        errors,
    })
}
