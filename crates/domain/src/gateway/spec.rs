//! The rules file as written: Oathkeeper-compatible JSON or YAML, a list of [`RuleSpec`]. Every
//! object refuses unknown keys, so a typo is an error rather than a silently ignored setting.
//! [`super::rules::RuleSet::compile`] turns these into checked rules.

use super::authorize::ScopeStrategy;
use crate::secret::Secret;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One rule as written in the rules file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    /// Oathkeeper's format version; accepted and ignored.
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(rename = "match")]
    pub matcher: MatchSpec,
    #[serde(default)]
    pub upstream: Option<UpstreamSpec>,
    #[serde(default)]
    pub authenticators: Vec<HandlerSpec>,
    #[serde(default)]
    pub authorizer: Option<HandlerSpec>,
    #[serde(default)]
    pub mutators: Vec<HandlerSpec>,
    #[serde(default)]
    pub errors: Vec<HandlerSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    pub url: String,
    #[serde(default)]
    pub methods: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSpec {
    pub url: String,
    #[serde(default)]
    pub strip_path: Option<String>,
    #[serde(default)]
    pub preserve_host: bool,
}

/// `{handler, config}` as in every Oathkeeper pipeline step.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandlerSpec {
    pub handler: String,
    #[serde(default)]
    pub config: Value,
}

impl std::fmt::Debug for HandlerSpec {
    // The raw config may hold a client secret: only its handler is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerSpec")
            .field("handler", &self.handler)
            .finish_non_exhaustive()
    }
}

// Handler configurations (the `config` objects).

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    #[serde(default)]
    pub jwks_urls: Vec<String>,
    #[serde(default)]
    pub trusted_issuers: Vec<String>,
    #[serde(default)]
    pub required_scope: Vec<String>,
    #[serde(default)]
    pub target_audience: Vec<String>,
    #[serde(default)]
    pub allowed_algorithms: Vec<String>,
    /// Leeway on `exp` / `nbf`, e.g. `"60s"` (default 60 s).
    #[serde(default)]
    pub leeway: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSpec {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub ttl: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionSpec {
    pub introspection_url: String,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    #[serde(default)]
    pub required_scope: Vec<String>,
    #[serde(default)]
    pub target_audience: Vec<String>,
    #[serde(default)]
    pub trusted_issuers: Vec<String>,
    #[serde(default)]
    pub cache: CacheSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CookieSessionSpec {
    pub check_session_url: String,
    /// Only these cookie names make the authenticator responsible (all cookies when empty).
    #[serde(default)]
    pub only: Vec<String>,
    #[serde(default)]
    pub cache: CacheSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnonymousSpec {
    #[serde(default)]
    pub subject: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopesSpec {
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(default)]
    pub strategy: ScopeStrategy,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimSpec {
    pub claim: String,
    #[serde(default)]
    pub equals: Option<String>,
    #[serde(default)]
    pub equals_path_segment: Option<usize>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimsSpec {
    #[serde(default)]
    pub require: Vec<ClaimSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderMutatorSpec {
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdTokenSpec {
    pub issuer_url: Option<String>,
    #[serde(default)]
    pub ttl: Option<String>,
    #[serde(default)]
    pub audience: Vec<String>,
    /// Oathkeeper's signing-key location; the gateway always signs with its own key.
    #[serde(default, rename = "jwks_url")]
    _jwks_url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedirectSpec {
    pub to: Option<String>,
    #[serde(default)]
    pub return_to_query_param: Option<String>,
    #[serde(default)]
    pub code: Option<u16>,
    /// Oathkeeper's conditions; the gateway redirects 401s for requests that accept HTML.
    #[serde(default, rename = "when")]
    _when: Option<Value>,
}
