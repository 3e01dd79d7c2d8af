//! The BFF's side of OpenID Connect: discovery (OpenID Connect Discovery 1.0 §4), the
//! authorization request with PKCE (RFC 7636), the code exchange and refresh (RFC 6749 §4.1.3,
//! §6), ID-token validation (OpenID Connect Core §3.1.3.7, through `gatehouse-verify`),
//! revocation (RFC 7009) and RP-initiated logout.

use super::BffSettings;
use gatehouse_domain::bff::BffTokens;
use gatehouse_domain::clock::Clock;
use gatehouse_domain::secret::Secret;
use gatehouse_verify::{Algorithm, Claims, Validator, ValidatorConfig};
use serde::Deserialize;
use std::sync::Arc;
use std::time::SystemTime;

/// How the BFF authenticates at the token and revocation endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    ClientSecretBasic,
    ClientSecretPost,
    /// A public client: PKCE only.
    None,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("cannot reach the identity provider: {0}")]
    Unreachable(String),
    #[error("the identity provider's discovery document is unusable: {0}")]
    Discovery(String),
    /// The provider answered the token request with an OAuth error (`invalid_grant`, …).
    #[error("the identity provider refused the request: {0}")]
    Refused(String),
    #[error("the ID token is not valid: {0}")]
    IdToken(String),
}

#[derive(Debug, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    end_session_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<i64>,
    refresh_token: Option<String>,
    id_token: Option<String>,
}

/// What a successful code exchange yields.
pub struct SignedIn {
    pub tokens: BffTokens,
    pub id_token: String,
    pub claims: Claims,
}

/// The discovered provider and a client for it.
pub struct Provider {
    metadata: Metadata,
    http: reqwest::Client,
    validator: Validator,
    clock: Arc<dyn Clock>,
    client_id: String,
    client_secret: Option<Secret>,
    client_auth: ClientAuth,
}

impl Provider {
    pub async fn discover(
        settings: &BffSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(settings.provider_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ProviderError::Unreachable(e.to_string()))?;
        let authority = settings.authority.trim_end_matches('/');
        let url = format!("{authority}/.well-known/openid-configuration");
        let response = http
            .get(&url)
            .send()
            .await
            .map_err(|e| ProviderError::Unreachable(format!("{url}: {e}")))?;
        if !response.status().is_success() {
            return Err(ProviderError::Discovery(format!(
                "{url} answered {}",
                response.status()
            )));
        }
        let metadata: Metadata = response
            .json()
            .await
            .map_err(|e| ProviderError::Discovery(format!("{url}: {e}")))?;
        if metadata.issuer.trim_end_matches('/') != authority {
            return Err(ProviderError::Discovery(format!(
                "issuer {:?} is not the configured authority {authority:?}",
                metadata.issuer
            )));
        }
        let validator_clock = clock.clone();
        let config = ValidatorConfig::new(metadata.issuer.clone())
            .audience(settings.client_id.clone())
            .algorithms(&[Algorithm::RS256, Algorithm::ES256])
            .required_typ(None)
            .clock(move || SystemTime::from(validator_clock.now()));
        let validator = Validator::with_jwks_uri(config, metadata.jwks_uri.clone(), http.clone());
        Ok(Self {
            metadata,
            http,
            validator,
            clock,
            client_id: settings.client_id.clone(),
            client_secret: settings.client_secret.clone(),
            client_auth: settings.client_auth,
        })
    }

    pub fn issuer(&self) -> &str {
        &self.metadata.issuer
    }

    /// The authorization request's URL (code flow, PKCE S256, state, nonce).
    pub fn authorization_url(
        &self,
        settings: &BffSettings,
        state: &str,
        nonce: &str,
        code_challenge: &str,
    ) -> Result<String, ProviderError> {
        let mut url = url::Url::parse(&self.metadata.authorization_endpoint)
            .map_err(|e| ProviderError::Discovery(format!("authorization_endpoint: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", settings.redirect_uri.as_str())
            .append_pair("scope", &settings.scopes.join(" "))
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    /// RP-initiated logout: the end-session URL with the ID token as hint; `None` when the
    /// provider has no end-session endpoint.
    pub fn end_session_url(
        &self,
        id_token: &str,
        post_logout_redirect_uri: Option<&str>,
        state: &str,
    ) -> Option<String> {
        let mut url = url::Url::parse(self.metadata.end_session_endpoint.as_deref()?).ok()?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("id_token_hint", id_token)
                .append_pair("client_id", &self.client_id);
            if let Some(uri) = post_logout_redirect_uri {
                query
                    .append_pair("post_logout_redirect_uri", uri)
                    .append_pair("state", state);
            }
        }
        Some(url.into())
    }

    /// A form request to one of the provider's endpoints, authenticated as the client.
    fn client_request(&self, url: &str, mut form: Vec<(&str, String)>) -> reqwest::RequestBuilder {
        let request = self.http.post(url);
        match (self.client_auth, &self.client_secret) {
            (ClientAuth::ClientSecretBasic, Some(secret)) => {
                return request
                    .basic_auth(
                        form_encode(&self.client_id),
                        Some(form_encode(secret.expose())),
                    )
                    .form(&form);
            }
            (ClientAuth::ClientSecretPost, Some(secret)) => {
                form.push(("client_id", self.client_id.clone()));
                form.push(("client_secret", secret.expose().to_owned()));
            }
            _ => form.push(("client_id", self.client_id.clone())),
        }
        request.form(&form)
    }

    async fn token_request(
        &self,
        form: Vec<(&str, String)>,
    ) -> Result<TokenResponse, ProviderError> {
        let response = self
            .client_request(&self.metadata.token_endpoint, form)
            .send()
            .await
            .map_err(|e| ProviderError::Unreachable(e.to_string()))?;
        let status = response.status();
        if status.is_client_error() {
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            let code = body["error"]
                .as_str()
                .unwrap_or("invalid_request")
                .to_owned();
            return Err(ProviderError::Refused(code));
        }
        if !status.is_success() {
            return Err(ProviderError::Unreachable(format!(
                "token endpoint answered {status}"
            )));
        }
        response
            .json()
            .await
            .map_err(|e| ProviderError::Unreachable(format!("token response: {e}")))
    }

    fn tokens(&self, answer: &TokenResponse, previous_refresh: Option<&str>) -> BffTokens {
        // Without `expires_in`, treat the token as valid for a minute and refresh after.
        let lifetime = time::Duration::seconds(answer.expires_in.unwrap_or(60));
        let now = self.clock.now();
        BffTokens {
            access_token: answer.access_token.clone(),
            refresh_token: answer
                .refresh_token
                .clone()
                .or_else(|| previous_refresh.map(str::to_owned)),
            access_issued_at: now,
            access_expires_at: now + lifetime,
        }
    }

    /// Exchanges the code and validates the ID token it comes with, including its `nonce`.
    pub async fn exchange(
        &self,
        settings: &BffSettings,
        code: &str,
        code_verifier: &str,
        nonce: &str,
    ) -> Result<SignedIn, ProviderError> {
        let answer = self
            .token_request(vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", code.to_owned()),
                ("redirect_uri", settings.redirect_uri.to_string()),
                ("code_verifier", code_verifier.to_owned()),
            ])
            .await?;
        let id_token = answer
            .id_token
            .clone()
            .ok_or_else(|| ProviderError::IdToken("the token response has none".to_owned()))?;
        let claims = self
            .validator
            .verify(&id_token)
            .await
            .map_err(|e| ProviderError::IdToken(e.to_string()))?;
        let presented = claims.str("nonce").unwrap_or_default();
        if !Secret::new(nonce).matches(presented) {
            return Err(ProviderError::IdToken("nonce mismatch".to_owned()));
        }
        Ok(SignedIn {
            tokens: self.tokens(&answer, None),
            id_token,
            claims,
        })
    }

    /// RFC 6749 §6: new tokens for a refresh token (kept when the answer brings none).
    pub async fn refresh(&self, refresh_token: &str) -> Result<BffTokens, ProviderError> {
        let answer = self
            .token_request(vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", refresh_token.to_owned()),
            ])
            .await?;
        Ok(self.tokens(&answer, Some(refresh_token)))
    }

    /// RFC 7009: revokes a refresh token (and with it its family at Gatehouse).
    pub async fn revoke(&self, refresh_token: &str) -> Result<(), ProviderError> {
        let Some(endpoint) = self.metadata.revocation_endpoint.as_deref() else {
            return Ok(());
        };
        let response = self
            .client_request(
                endpoint,
                vec![
                    ("token", refresh_token.to_owned()),
                    ("token_type_hint", "refresh_token".to_owned()),
                ],
            )
            .send()
            .await
            .map_err(|e| ProviderError::Unreachable(e.to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(ProviderError::Refused(response.status().to_string()))
        }
    }
}

/// RFC 6749 §2.3.1: the client id and secret are form-encoded before HTTP Basic.
fn form_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
