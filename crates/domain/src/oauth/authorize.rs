//! The authorization request (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2.1, RFC 7636, RFC 9207):
//! the rules that decide whether a request to `/oauth2/auth` may go on, and how a refusal is
//! answered. Until the client and its redirect URI are known to be right, an error is shown on
//! a page and never redirected (an open redirect otherwise); after that, errors go back to the
//! client's redirect URI with `error`, `error_description`, `state` and `iss`.

use super::client::{Client, GrantType, ResponseType};
use super::redirect_uri::{ApplicationType, is_loopback};
use super::scope::Scope;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The longest `state` / `nonce` / `login_hint` kept (they are stored with the request).
pub const MAX_PARAM_CHARS: usize = 1024;

/// How the authorization response travels back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    /// In the redirect URI's query (the default for `code`).
    Query,
    /// An auto-submitting HTML form posting to the redirect URI (OAuth 2.0 Form Post Response
    /// Mode).
    FormPost,
}

/// What the client asks of the login and consent steps (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// Show nothing: answer `login_required` / `consent_required` instead.
    None,
    /// Sign in again even with a session.
    Login,
    /// Ask for consent even when a remembered grant covers the scopes.
    Consent,
}

/// A request that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// The request named `redirect_uri` (the token request must then repeat it, RFC 6749
    /// §4.1.3); without it, the client's only registered URI was used.
    #[serde(default)]
    pub redirect_uri_sent: bool,
    pub scope: Scope,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The S256 challenge (RFC 7636), if the client sent one.
    pub code_challenge: Option<String>,
    pub response_mode: ResponseMode,
    pub prompt: BTreeSet<Prompt>,
    /// Seconds: a sign-in older than this must be repeated.
    pub max_age: Option<u64>,
    pub login_hint: Option<String>,
}

impl AuthorizationRequest {
    /// Whether the request is an OpenID Connect one (it asks for `openid`).
    pub fn is_openid(&self) -> bool {
        self.scope.contains("openid")
    }
}

/// Why a request is refused, and where the refusal goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Shown on an error page: the client or its redirect URI cannot be trusted with a redirect.
    Page {
        error: &'static str,
        description: String,
    },
    /// Sent to the client's redirect URI.
    Redirect {
        redirect_uri: String,
        response_mode: ResponseMode,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

impl AuthorizeError {
    pub fn error(&self) -> &'static str {
        match self {
            Self::Page { error, .. } | Self::Redirect { error, .. } => error,
        }
    }
}

/// The request's parameters as sent: each name with every value it was given (from the query,
/// or the form body of a POST).
pub type Params = BTreeMap<String, Vec<String>>;

/// Parameters that must appear at most once (RFC 6749 §3.1).
const SINGLE: [&str; 12] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "response_mode",
];

fn page(error: &'static str, description: impl Into<String>) -> AuthorizeError {
    AuthorizeError::Page {
        error,
        description: description.into(),
    }
}

/// A single parameter: `None` when absent or empty (RFC 6749 §3.1: empty means omitted).
fn one<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .and_then(|values| values.first())
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// Whether `presented` is one of the client's redirect URIs: exact string equality, except that
/// a native client's loopback redirect may use any port (RFC 8252 §7.3).
pub fn redirect_uri_matches(client: &Client, presented: &str) -> bool {
    let registered = &client.metadata.redirect_uris;
    if registered.iter().any(|r| r == presented) {
        return true;
    }
    if client.metadata.application_type != ApplicationType::Native {
        return false;
    }
    let Ok(url) = url::Url::parse(presented) else {
        return false;
    };
    if url.scheme() != "http" || !is_loopback(&url) {
        return false;
    }
    registered.iter().any(|r| {
        url::Url::parse(r).is_ok_and(|mut reg| {
            let mut candidate = url.clone();
            // Compare everything but the port.
            reg.set_port(None).is_ok()
                && candidate.set_port(None).is_ok()
                && reg.scheme() == "http"
                && reg == candidate
        })
    })
}

/// Checks an authorization request against the client it names (`None`: no such active
/// client). The scope catalog (inactive scopes) is checked by the caller, which knows it.
pub fn check(
    params: &Params,
    client: Option<&Client>,
) -> Result<AuthorizationRequest, AuthorizeError> {
    // Until the redirect URI is trusted, every refusal is a page.
    let client_id =
        one(params, "client_id").ok_or_else(|| page("invalid_request", "client_id is required"))?;
    if params.get("client_id").is_some_and(|v| v.len() > 1) {
        return Err(page("invalid_request", "client_id appears more than once"));
    }
    let client = client.ok_or_else(|| {
        page(
            "invalid_client",
            format!("there is no active client {client_id:?}"),
        )
    })?;
    if params.get("redirect_uri").is_some_and(|v| v.len() > 1) {
        return Err(page(
            "invalid_request",
            "redirect_uri appears more than once",
        ));
    }
    let redirect_uri = match one(params, "redirect_uri") {
        Some(uri) if redirect_uri_matches(client, uri) => uri.to_owned(),
        Some(_) => {
            return Err(page(
                "invalid_request",
                "redirect_uri is not one of the client's registered redirect URIs",
            ));
        }
        // Without one, only a client with exactly one registered redirect URI can be answered.
        None => match client.metadata.redirect_uris.as_slice() {
            [only] => only.clone(),
            _ => {
                return Err(page(
                    "invalid_request",
                    "redirect_uri is required: the client has several registered redirect URIs",
                ));
            }
        },
    };

    // From here on, refusals go back to the client.
    let response_mode = match one(params, "response_mode") {
        None | Some("query") => ResponseMode::Query,
        Some("form_post") => ResponseMode::FormPost,
        Some(_) => ResponseMode::Query,
    };
    let state = one(params, "state").map(str::to_owned);
    let refuse = |error: &'static str, description: String| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        response_mode,
        state: state
            .clone()
            .filter(|s| s.chars().count() <= MAX_PARAM_CHARS),
        error,
        description,
    };

    if let Some(name) = SINGLE
        .iter()
        .find(|name| params.get(**name).is_some_and(|v| v.len() > 1))
    {
        return Err(refuse(
            "invalid_request",
            format!("{name} appears more than once"),
        ));
    }
    if let Some(mode) = one(params, "response_mode")
        && !matches!(mode, "query" | "form_post")
    {
        return Err(refuse(
            "invalid_request",
            format!("response_mode {mode:?} is not supported; use query or form_post"),
        ));
    }
    if one(params, "request").is_some() {
        return Err(refuse(
            "request_not_supported",
            "request objects are not supported".to_owned(),
        ));
    }
    if one(params, "request_uri").is_some() {
        return Err(refuse(
            "request_uri_not_supported",
            "request_uri is not supported".to_owned(),
        ));
    }
    match one(params, "response_type") {
        Some("code") => {}
        None => {
            return Err(refuse(
                "invalid_request",
                "response_type is required".to_owned(),
            ));
        }
        Some(other) => {
            return Err(refuse(
                "unsupported_response_type",
                format!("response_type {other:?} is not supported; use code"),
            ));
        }
    }
    let meta = &client.metadata;
    if !meta.allows_grant(GrantType::AuthorizationCode)
        || !(meta.response_types.is_empty() || meta.response_types.contains(&ResponseType::Code))
    {
        return Err(refuse(
            "unauthorized_client",
            "the client may not use the authorization code grant".to_owned(),
        ));
    }

    let scope = Scope::parse(one(params, "scope").unwrap_or(""))
        .map_err(|e| refuse("invalid_scope", e.to_string()))?;
    if let Some(token) = scope.first_not_in(&meta.scope) {
        return Err(refuse(
            "invalid_scope",
            format!("the client may not ask for the scope {token:?}"),
        ));
    }

    let code_challenge = one(params, "code_challenge").map(str::to_owned);
    match (one(params, "code_challenge_method"), &code_challenge) {
        (Some("S256"), Some(_)) | (None, Some(_)) => {}
        (Some("plain"), _) => {
            return Err(refuse(
                "invalid_request",
                "code_challenge_method plain is not allowed; use S256".to_owned(),
            ));
        }
        (Some(method), Some(_)) => {
            return Err(refuse(
                "invalid_request",
                format!("code_challenge_method {method:?} is not supported; use S256"),
            ));
        }
        (Some(_), None) => {
            return Err(refuse(
                "invalid_request",
                "code_challenge_method without a code_challenge".to_owned(),
            ));
        }
        (None, None) if meta.is_public() => {
            return Err(refuse(
                "invalid_request",
                "a public client must send a code_challenge (PKCE with S256)".to_owned(),
            ));
        }
        (None, None) => {}
    }
    // An S256 challenge is the base64url (no padding) SHA-256: 43 characters. Without a method,
    // RFC 7636 means `plain`, which is refused, unless the value has the S256 shape.
    if let Some(challenge) = &code_challenge {
        let s256_shape = challenge.len() == 43
            && challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !s256_shape {
            return Err(refuse(
                "invalid_request",
                "code_challenge must be an S256 challenge: 43 base64url characters".to_owned(),
            ));
        }
        if one(params, "code_challenge_method").is_none() {
            return Err(refuse(
                "invalid_request",
                "code_challenge_method is required (S256); plain is not allowed".to_owned(),
            ));
        }
    }

    let mut prompt = BTreeSet::new();
    for value in one(params, "prompt").unwrap_or("").split(' ') {
        match value {
            "none" => prompt.insert(Prompt::None),
            "login" => prompt.insert(Prompt::Login),
            "consent" => prompt.insert(Prompt::Consent),
            // `select_account` and unknown values are accepted and have no effect here.
            _ => false,
        };
    }
    if prompt.contains(&Prompt::None) && prompt.len() > 1 {
        return Err(refuse(
            "invalid_request",
            "prompt=none cannot be combined with other prompt values".to_owned(),
        ));
    }
    let max_age = match one(params, "max_age") {
        None => None,
        Some(text) => Some(text.parse::<u64>().map_err(|_| {
            refuse(
                "invalid_request",
                "max_age must be a whole number of seconds".to_owned(),
            )
        })?),
    };

    let bounded = |name: &'static str| -> Result<Option<String>, AuthorizeError> {
        match one(params, name) {
            Some(v) if v.chars().count() > MAX_PARAM_CHARS => Err(refuse(
                "invalid_request",
                format!("{name} is longer than {MAX_PARAM_CHARS} characters"),
            )),
            other => Ok(other.map(str::to_owned)),
        }
    };
    let state = bounded("state")?;
    let nonce = bounded("nonce")?;
    let login_hint = bounded("login_hint")?;

    Ok(AuthorizationRequest {
        client_id: client_id.to_owned(),
        redirect_uri,
        redirect_uri_sent: one(params, "redirect_uri").is_some(),
        scope,
        state,
        nonce,
        code_challenge,
        response_mode,
        prompt,
        max_age,
        login_hint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TenantId;
    use crate::oauth::client::{AuthMethod, ClientMetadata};

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client(public: bool, app: ApplicationType) -> Client {
        Client {
            id: uuid::Uuid::from_u128(1),
            client_id: "web".into(),
            tenant_id: TenantId::DEFAULT,
            secret_hash: None,
            registration_token_hash: None,
            owner_identity_id: None,
            active: true,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
            metadata: ClientMetadata {
                client_name: "Web".into(),
                redirect_uris: vec![
                    "https://app.example/cb".into(),
                    "http://127.0.0.1:8080/cb".into(),
                ],
                grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                response_types: vec![ResponseType::Code],
                scope: Scope::parse("openid email profile offline_access").expect("valid"),
                token_endpoint_auth_method: if public {
                    AuthMethod::None
                } else {
                    AuthMethod::ClientSecretBasic
                },
                application_type: app,
                ..ClientMetadata::default()
            },
        }
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        let mut out = Params::new();
        for (k, v) in pairs {
            out.entry((*k).to_owned())
                .or_default()
                .push((*v).to_owned());
        }
        out
    }

    fn good() -> Vec<(&'static str, &'static str)> {
        vec![
            ("client_id", "web"),
            ("redirect_uri", "https://app.example/cb"),
            ("response_type", "code"),
            ("scope", "openid email"),
            ("state", "xyz"),
            ("nonce", "n-0S6"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
    }

    fn with(
        mut base: Vec<(&'static str, &'static str)>,
        name: &'static str,
        value: &'static str,
    ) -> Params {
        base.retain(|(k, _)| *k != name);
        base.push((name, value));
        params(&base)
    }

    fn without(mut base: Vec<(&'static str, &'static str)>, name: &str) -> Params {
        base.retain(|(k, _)| *k != name);
        params(&base)
    }

    #[test]
    fn a_complete_request_passes() {
        let c = client(true, ApplicationType::Web);
        let request = check(&params(&good()), Some(&c)).expect("valid");
        assert_eq!(request.redirect_uri, "https://app.example/cb");
        assert!(request.is_openid());
        assert_eq!(request.state.as_deref(), Some("xyz"));
        assert_eq!(request.code_challenge.as_deref(), Some(CHALLENGE));
        assert_eq!(request.response_mode, ResponseMode::Query);
    }

    #[test]
    fn an_unknown_client_or_redirect_uri_is_a_page_never_a_redirect() {
        let c = client(false, ApplicationType::Web);
        assert!(matches!(
            check(&params(&good()), None),
            Err(AuthorizeError::Page {
                error: "invalid_client",
                ..
            })
        ));
        for uri in [
            "https://evil.example/cb",
            "https://app.example/cb/",
            "https://app.example/cb?x=1",
            "http://127.0.0.1:9999/cb",
        ] {
            let err = check(&with(good(), "redirect_uri", uri), Some(&c)).expect_err(uri);
            assert!(matches!(err, AuthorizeError::Page { .. }), "{uri}: {err:?}");
        }
        // Several registered URIs: the parameter is required.
        let err = check(&without(good(), "redirect_uri"), Some(&c)).expect_err("refused");
        assert!(matches!(err, AuthorizeError::Page { .. }));
        let mut twice = good();
        twice.push(("redirect_uri", "https://app.example/cb"));
        assert!(matches!(
            check(&params(&twice), Some(&c)),
            Err(AuthorizeError::Page { .. })
        ));
    }

    #[test]
    fn native_clients_get_loopback_port_freedom() {
        let c = client(true, ApplicationType::Native);
        let request = check(
            &with(good(), "redirect_uri", "http://127.0.0.1:51234/cb"),
            Some(&c),
        )
        .expect("any port");
        assert_eq!(request.redirect_uri, "http://127.0.0.1:51234/cb");
        assert!(
            check(
                &with(good(), "redirect_uri", "http://127.0.0.1:51234/other"),
                Some(&c)
            )
            .is_err()
        );
    }

    #[test]
    fn later_errors_go_back_to_the_client_with_the_state() {
        let c = client(false, ApplicationType::Web);
        for (name, value, expected) in [
            ("response_type", "token", "unsupported_response_type"),
            (
                "response_type",
                "code id_token",
                "unsupported_response_type",
            ),
            ("scope", "openid admin", "invalid_scope"),
            ("code_challenge_method", "plain", "invalid_request"),
            ("code_challenge", "short", "invalid_request"),
            ("prompt", "none login", "invalid_request"),
            ("max_age", "-1", "invalid_request"),
            ("response_mode", "fragment", "invalid_request"),
            ("request", "eyJ...", "request_not_supported"),
        ] {
            let err = check(&with(good(), name, value), Some(&c)).expect_err(name);
            match err {
                AuthorizeError::Redirect {
                    error,
                    state,
                    redirect_uri,
                    ..
                } => {
                    assert_eq!(error, expected, "{name}={value}");
                    assert_eq!(state.as_deref(), Some("xyz"));
                    assert_eq!(redirect_uri, "https://app.example/cb");
                }
                other => panic!("{name}={value}: {other:?}"),
            }
        }
        let mut twice = good();
        twice.push(("scope", "openid"));
        assert_eq!(
            check(&params(&twice), Some(&c))
                .expect_err("refused")
                .error(),
            "invalid_request"
        );
    }

    #[test]
    fn pkce_is_required_of_public_clients_and_only_s256() {
        let public = client(true, ApplicationType::Web);
        let confidential = client(false, ApplicationType::Web);
        let no_pkce = params(
            &good()
                .into_iter()
                .filter(|(k, _)| !k.starts_with("code_challenge"))
                .collect::<Vec<_>>(),
        );
        assert_eq!(
            check(&no_pkce, Some(&public)).expect_err("refused").error(),
            "invalid_request"
        );
        assert!(check(&no_pkce, Some(&confidential)).is_ok());
        let method_only = without(good(), "code_challenge");
        assert_eq!(
            check(&method_only, Some(&confidential))
                .expect_err("refused")
                .error(),
            "invalid_request"
        );
        let challenge_only = without(good(), "code_challenge_method");
        assert_eq!(
            check(&challenge_only, Some(&confidential))
                .expect_err("plain by default")
                .error(),
            "invalid_request"
        );
    }

    fn leak(s: &str) -> &'static str {
        Box::leak(s.to_owned().into_boxed_str())
    }

    #[test]
    fn a_client_without_the_code_grant_is_unauthorized() {
        let mut c = client(false, ApplicationType::Web);
        c.metadata.grant_types = vec![GrantType::ClientCredentials];
        assert_eq!(
            check(&params(&good()), Some(&c))
                .expect_err("refused")
                .error(),
            "unauthorized_client"
        );
    }

    #[test]
    fn prompt_max_age_and_form_post_are_read() {
        let c = client(false, ApplicationType::Web);
        let mut p = good();
        p.push(("prompt", "login consent"));
        p.push(("max_age", "300"));
        p.push(("response_mode", "form_post"));
        p.push(("login_hint", "ada@example.com"));
        let request = check(&params(&p), Some(&c)).expect("valid");
        assert!(
            request.prompt.contains(&Prompt::Login) && request.prompt.contains(&Prompt::Consent)
        );
        assert_eq!(request.max_age, Some(300));
        assert_eq!(request.response_mode, ResponseMode::FormPost);
        assert_eq!(request.login_hint.as_deref(), Some("ada@example.com"));
        let long: &'static str = leak(&"s".repeat(MAX_PARAM_CHARS + 1));
        let err = check(&with(good(), "nonce", long), Some(&c)).expect_err("too long");
        assert_eq!(err.error(), "invalid_request");
    }
}
