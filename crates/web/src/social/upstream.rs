//! Gatehouse as a client of a tenant's social providers: the authorization request (PKCE S256,
//! `state`, `nonce` for OpenID providers), the code exchange, and who signed in: GitHub's
//! `/user` and `/user/emails`, or an OpenID provider's ID token validated against its JWKS
//! (through `gatehouse-verify`). OpenID providers are found by discovery, kept for an hour.

use gatehouse_domain::secret::Secret;
use gatehouse_domain::social::{ProviderAccount, ProviderKind, SocialProvider};
use gatehouse_verify::{Algorithm, Validator, ValidatorConfig};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const GITHUB_AUTHORIZE: &str = "https://github.com/login/oauth/authorize";
const GITHUB_TOKEN: &str = "https://github.com/login/oauth/access_token";
const GITHUB_API: &str = "https://api.github.com";
const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// How long discovered provider metadata is used before it is read again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The provider could not be reached or answered something unusable.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider refused (a bad code, a wrong client secret) or its ID token is not valid.
    #[error("the provider refused the sign-in: {0}")]
    Refused(String),
}

#[derive(Debug, Clone, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// An OpenID provider as discovered, with the ID-token validator for one client of it.
struct Discovered {
    metadata: Metadata,
    validator: Arc<Validator>,
    fetched: Instant,
}

/// The HTTP client and the discovery cache shared by every tenant's providers.
pub struct Upstreams {
    http: reqwest::Client,
    /// By (issuer, client id): the validator checks the ID token's audience.
    discovered: Mutex<HashMap<(String, String), Arc<Discovered>>>,
}

impl Default for Upstreams {
    fn default() -> Self {
        Self::new()
    }
}

/// Where one sign-in goes: the endpoints of the provider for this attempt.
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    validator: Option<Arc<Validator>>,
}

/// What the provider's redirect back brought, with what the sign-in kept for it.
pub struct Callback<'a> {
    /// The redirect URI the authorization request named (sent again with the code).
    pub redirect_uri: &'a str,
    pub code: &'a str,
    pub code_verifier: &'a str,
    pub nonce: &'a str,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    id_token: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct GithubUser {
    id: serde_json::Value,
    email: Option<String>,
}

#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

impl Upstreams {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the TLS backend initialises");
        Self {
            http,
            discovered: Mutex::new(HashMap::new()),
        }
    }

    fn issuer(provider: &SocialProvider) -> Option<&str> {
        match provider.kind {
            ProviderKind::Github => None,
            ProviderKind::Google => Some(provider.issuer.as_deref().unwrap_or(GOOGLE_ISSUER)),
            ProviderKind::Oidc => provider.issuer.as_deref(),
        }
    }

    /// The provider's endpoints: the configured overrides, else GitHub's, else discovery's.
    pub async fn endpoints(&self, provider: &SocialProvider) -> Result<Endpoints, UpstreamError> {
        let overrides = &provider.endpoints;
        let Some(issuer) = Self::issuer(provider) else {
            return Ok(Endpoints {
                authorization: overrides
                    .authorization_endpoint
                    .clone()
                    .unwrap_or_else(|| GITHUB_AUTHORIZE.to_owned()),
                token: overrides
                    .token_endpoint
                    .clone()
                    .unwrap_or_else(|| GITHUB_TOKEN.to_owned()),
                validator: None,
            });
        };
        let discovered = self.discover(issuer, &provider.client_id).await?;
        Ok(Endpoints {
            authorization: overrides
                .authorization_endpoint
                .clone()
                .unwrap_or_else(|| discovered.metadata.authorization_endpoint.clone()),
            token: overrides
                .token_endpoint
                .clone()
                .unwrap_or_else(|| discovered.metadata.token_endpoint.clone()),
            validator: Some(discovered.validator.clone()),
        })
    }

    async fn discover(
        &self,
        issuer: &str,
        client_id: &str,
    ) -> Result<Arc<Discovered>, UpstreamError> {
        let key = (issuer.to_owned(), client_id.to_owned());
        if let Some(found) = self
            .discovered
            .lock()
            .expect("discovery cache lock is never poisoned")
            .get(&key)
            .filter(|d| d.fetched.elapsed() < DISCOVERY_TTL)
        {
            return Ok(found.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let answer = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| UpstreamError::Unavailable(format!("discovery: {e}")))?;
        if !answer.status().is_success() {
            return Err(UpstreamError::Unavailable(format!(
                "discovery answered {}",
                answer.status()
            )));
        }
        let metadata: Metadata = answer
            .json()
            .await
            .map_err(|e| UpstreamError::Unavailable(format!("discovery document: {e}")))?;
        if metadata.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(UpstreamError::Unavailable(format!(
                "discovery names issuer {:?}, not {issuer:?}",
                metadata.issuer
            )));
        }
        let config = ValidatorConfig::new(metadata.issuer.clone())
            .audience(client_id.to_owned())
            .algorithms(&[
                Algorithm::RS256,
                Algorithm::ES256,
                Algorithm::PS256,
                Algorithm::EdDSA,
            ])
            .required_typ(None);
        let validator = Arc::new(Validator::with_jwks_uri(
            config,
            metadata.jwks_uri.clone(),
            self.http.clone(),
        ));
        let discovered = Arc::new(Discovered {
            metadata,
            validator,
            fetched: Instant::now(),
        });
        self.discovered
            .lock()
            .expect("discovery cache lock is never poisoned")
            .insert(key, discovered.clone());
        Ok(discovered)
    }

    /// The URL the browser is sent to.
    pub fn authorization_url(
        provider: &SocialProvider,
        endpoints: &Endpoints,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        code_challenge: &str,
    ) -> Result<String, UpstreamError> {
        let mut url = url::Url::parse(&endpoints.authorization)
            .map_err(|e| UpstreamError::Unavailable(format!("authorization endpoint: {e}")))?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("client_id", &provider.client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("scope", &provider.scopes.join(" "))
                .append_pair("state", state)
                .append_pair("code_challenge", code_challenge)
                .append_pair("code_challenge_method", "S256");
            if provider.kind != ProviderKind::Github {
                query
                    .append_pair("response_type", "code")
                    .append_pair("nonce", nonce);
            }
        }
        Ok(url.into())
    }

    /// Exchanges the callback's code and reads who signed in.
    pub async fn account(
        &self,
        provider: &SocialProvider,
        endpoints: &Endpoints,
        secret: &Secret,
        callback: &Callback<'_>,
    ) -> Result<ProviderAccount, UpstreamError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", callback.code),
            ("redirect_uri", callback.redirect_uri),
            ("code_verifier", callback.code_verifier),
        ];
        let answer = self
            .http
            .post(&endpoints.token)
            .header(reqwest::header::ACCEPT, "application/json")
            .basic_auth(
                form_encode(&provider.client_id),
                Some(form_encode(secret.expose())),
            )
            .form(&form)
            .send()
            .await
            .map_err(|e| UpstreamError::Unavailable(format!("token endpoint: {e}")))?;
        let status = answer.status();
        if status.is_server_error() {
            return Err(UpstreamError::Unavailable(format!(
                "token endpoint answered {status}"
            )));
        }
        let tokens: TokenAnswer = answer
            .json()
            .await
            .map_err(|e| UpstreamError::Unavailable(format!("token answer: {e}")))?;
        // GitHub reports a bad code with 200 and an `error` member.
        if let Some(error) = tokens.error.as_deref() {
            return Err(UpstreamError::Refused(format!("token endpoint: {error}")));
        }
        if !status.is_success() {
            return Err(UpstreamError::Refused(format!(
                "token endpoint answered {status}"
            )));
        }
        match &endpoints.validator {
            None => {
                let access_token = tokens.access_token.ok_or_else(|| {
                    UpstreamError::Refused("the token answer has no access_token".into())
                })?;
                self.github_account(provider, &access_token).await
            }
            Some(validator) => {
                let id_token = tokens.id_token.ok_or_else(|| {
                    UpstreamError::Refused("the token answer has no id_token".into())
                })?;
                let claims = validator
                    .verify(&id_token)
                    .await
                    .map_err(|e| UpstreamError::Refused(format!("ID token: {e}")))?;
                let presented = claims.str("nonce").unwrap_or_default();
                if !Secret::new(callback.nonce).matches(presented) {
                    return Err(UpstreamError::Refused("ID token: nonce mismatch".into()));
                }
                let email_verified = match claims.get("email_verified") {
                    Some(serde_json::Value::Bool(b)) => *b,
                    Some(serde_json::Value::String(s)) => s == "true",
                    _ => false,
                };
                Ok(ProviderAccount {
                    subject: claims.subject().to_owned(),
                    email: claims.str("email").map(str::to_owned),
                    email_verified,
                })
            }
        }
    }

    async fn github_account(
        &self,
        provider: &SocialProvider,
        access_token: &str,
    ) -> Result<ProviderAccount, UpstreamError> {
        let api = provider
            .endpoints
            .api_url
            .as_deref()
            .unwrap_or(GITHUB_API)
            .trim_end_matches('/');
        let user: GithubUser = self
            .github_get(&format!("{api}/user"), access_token)
            .await?;
        let subject = match &user.id {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) if !s.is_empty() => s.clone(),
            _ => return Err(UpstreamError::Unavailable("GitHub user has no id".into())),
        };
        let emails: Vec<GithubEmail> = self
            .github_get(&format!("{api}/user/emails"), access_token)
            .await?;
        // The primary address if verified, else any verified one; without one, the primary (or
        // the profile's) address, unverified.
        let verified = emails
            .iter()
            .filter(|e| e.verified)
            .max_by_key(|e| e.primary)
            .map(|e| e.email.clone());
        Ok(match verified {
            Some(email) => ProviderAccount {
                subject,
                email: Some(email),
                email_verified: true,
            },
            None => ProviderAccount {
                subject,
                email: emails
                    .into_iter()
                    .find(|e| e.primary)
                    .map(|e| e.email)
                    .or(user.email),
                email_verified: false,
            },
        })
    }

    async fn github_get<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        access_token: &str,
    ) -> Result<T, UpstreamError> {
        let answer = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .send()
            .await
            .map_err(|e| UpstreamError::Unavailable(format!("GitHub API: {e}")))?;
        if !answer.status().is_success() {
            return Err(UpstreamError::Refused(format!(
                "GitHub API answered {}",
                answer.status()
            )));
        }
        answer
            .json()
            .await
            .map_err(|e| UpstreamError::Unavailable(format!("GitHub API answer: {e}")))
    }
}

/// RFC 6749 §2.3.1: the client id and secret are form-encoded before HTTP Basic.
fn form_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
