//! OAuth 2.0 clients: their registered metadata and the rules that keep it consistent.

use super::redirect_uri::{ApplicationType, RedirectUriError, validate_redirect_uri};
use super::scope::Scope;
use crate::ids::TenantId;
use crate::secret::{Secret, TokenHash};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Shortest client secret a caller may choose; generated secrets have 256 bits.
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub fn parse(value: &str) -> Result<Self, ClientError> {
        match value {
            "authorization_code" => Ok(Self::AuthorizationCode),
            "refresh_token" => Ok(Self::RefreshToken),
            "client_credentials" => Ok(Self::ClientCredentials),
            "implicit" | "password" => Err(ClientError::Invalid {
                field: "grant_types",
                reason: format!(
                    "the {value} grant is not supported: it is unsafe (OAuth 2.0 Security BCP)"
                ),
            }),
            other => Err(ClientError::Invalid {
                field: "grant_types",
                reason: format!("unknown grant type {other:?}"),
            }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseType {
    Code,
}

impl ResponseType {
    pub fn parse(value: &str) -> Result<Self, ClientError> {
        match value {
            "code" => Ok(Self::Code),
            other => Err(ClientError::Invalid {
                field: "response_types",
                reason: format!("response type {other:?} is not supported (only \"code\")"),
            }),
        }
    }
}

/// How a client authenticates at the token, introspection and revocation endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    #[default]
    ClientSecretBasic,
    ClientSecretPost,
    /// A public client (no secret).
    None,
}

impl AuthMethod {
    pub const SUPPORTED: [&'static str; 3] = ["client_secret_basic", "client_secret_post", "none"];

    pub fn parse(value: &str) -> Result<Self, ClientError> {
        match value {
            "client_secret_basic" => Ok(Self::ClientSecretBasic),
            "client_secret_post" => Ok(Self::ClientSecretPost),
            "none" => Ok(Self::None),
            other => Err(ClientError::Invalid {
                field: "token_endpoint_auth_method",
                reason: format!(
                    "{other:?} is not supported (use client_secret_basic, client_secret_post or none)"
                ),
            }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }
}

/// The format of the access tokens issued to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStrategy {
    /// RFC 9068 JWT, verifiable offline; issuing one writes nothing to the database.
    #[default]
    Jwt,
    /// A random string, meaningful only through introspection.
    Opaque,
}

impl TokenStrategy {
    pub fn parse(value: &str) -> Result<Self, ClientError> {
        match value {
            "jwt" => Ok(Self::Jwt),
            "opaque" => Ok(Self::Opaque),
            other => Err(ClientError::Invalid {
                field: "access_token_strategy",
                reason: format!("{other:?} is not a token strategy (use jwt or opaque)"),
            }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::Opaque => "opaque",
        }
    }
}

/// Per-client token lifetimes (Hydra's field names); `None` means the global default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifespans {
    #[serde(default, with = "lifespan", skip_serializing_if = "Option::is_none")]
    pub client_credentials_grant_access_token_lifespan: Option<Duration>,
    #[serde(default, with = "lifespan", skip_serializing_if = "Option::is_none")]
    pub authorization_code_grant_access_token_lifespan: Option<Duration>,
    #[serde(default, with = "lifespan", skip_serializing_if = "Option::is_none")]
    pub authorization_code_grant_id_token_lifespan: Option<Duration>,
    #[serde(default, with = "lifespan", skip_serializing_if = "Option::is_none")]
    pub authorization_code_grant_refresh_token_lifespan: Option<Duration>,
    #[serde(default, with = "lifespan", skip_serializing_if = "Option::is_none")]
    pub refresh_token_grant_access_token_lifespan: Option<Duration>,
    #[serde(default, with = "lifespan", skip_serializing_if = "Option::is_none")]
    pub refresh_token_grant_id_token_lifespan: Option<Duration>,
    #[serde(default, with = "lifespan", skip_serializing_if = "Option::is_none")]
    pub refresh_token_grant_refresh_token_lifespan: Option<Duration>,
}

impl Lifespans {
    pub const FIELDS: [&'static str; 7] = [
        "client_credentials_grant_access_token_lifespan",
        "authorization_code_grant_access_token_lifespan",
        "authorization_code_grant_id_token_lifespan",
        "authorization_code_grant_refresh_token_lifespan",
        "refresh_token_grant_access_token_lifespan",
        "refresh_token_grant_id_token_lifespan",
        "refresh_token_grant_refresh_token_lifespan",
    ];

    /// The longest lifetime a client asks for, if any.
    pub fn longest(&self) -> Option<Duration> {
        [
            self.client_credentials_grant_access_token_lifespan,
            self.authorization_code_grant_access_token_lifespan,
            self.authorization_code_grant_id_token_lifespan,
            self.refresh_token_grant_access_token_lifespan,
            self.refresh_token_grant_id_token_lifespan,
        ]
        .into_iter()
        .flatten()
        .max()
    }

    pub fn set(&mut self, field: &str, value: Option<Duration>) -> Result<(), ClientError> {
        let slot = match field {
            "client_credentials_grant_access_token_lifespan" => {
                &mut self.client_credentials_grant_access_token_lifespan
            }
            "authorization_code_grant_access_token_lifespan" => {
                &mut self.authorization_code_grant_access_token_lifespan
            }
            "authorization_code_grant_id_token_lifespan" => {
                &mut self.authorization_code_grant_id_token_lifespan
            }
            "authorization_code_grant_refresh_token_lifespan" => {
                &mut self.authorization_code_grant_refresh_token_lifespan
            }
            "refresh_token_grant_access_token_lifespan" => {
                &mut self.refresh_token_grant_access_token_lifespan
            }
            "refresh_token_grant_id_token_lifespan" => {
                &mut self.refresh_token_grant_id_token_lifespan
            }
            "refresh_token_grant_refresh_token_lifespan" => {
                &mut self.refresh_token_grant_refresh_token_lifespan
            }
            _ => {
                return Err(ClientError::Invalid {
                    field: "lifespan",
                    reason: format!("unknown field {field}"),
                });
            }
        };
        if let Some(d) = value
            && (d <= Duration::ZERO || d > Duration::days(3650))
        {
            return Err(ClientError::Invalid {
                field: "lifespan",
                reason: format!("{field} must be positive and at most ten years"),
            });
        }
        *slot = value;
        Ok(())
    }

    pub fn get(&self, field: &str) -> Option<Duration> {
        match field {
            "client_credentials_grant_access_token_lifespan" => {
                self.client_credentials_grant_access_token_lifespan
            }
            "authorization_code_grant_access_token_lifespan" => {
                self.authorization_code_grant_access_token_lifespan
            }
            "authorization_code_grant_id_token_lifespan" => {
                self.authorization_code_grant_id_token_lifespan
            }
            "authorization_code_grant_refresh_token_lifespan" => {
                self.authorization_code_grant_refresh_token_lifespan
            }
            "refresh_token_grant_access_token_lifespan" => {
                self.refresh_token_grant_access_token_lifespan
            }
            "refresh_token_grant_id_token_lifespan" => self.refresh_token_grant_id_token_lifespan,
            "refresh_token_grant_refresh_token_lifespan" => {
                self.refresh_token_grant_refresh_token_lifespan
            }
            _ => None,
        }
    }
}

mod lifespan {
    use crate::oauth::duration::{format_duration, parse_duration};
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Duration;

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_str(&format_duration(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|v| parse_duration(&v).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Everything a client registers, as stored (one JSON document per client).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientMetadata {
    pub client_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub website_url: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    #[serde(default)]
    pub response_types: Vec<ResponseType>,
    pub scope: Scope,
    #[serde(default)]
    pub audience: Vec<String>,
    pub token_endpoint_auth_method: AuthMethod,
    #[serde(default)]
    pub skip_consent: bool,
    #[serde(default)]
    pub metadata: serde_json::Value,
    #[serde(default)]
    pub application_type: ApplicationType,
    #[serde(default)]
    pub access_token_strategy: TokenStrategy,
    #[serde(default)]
    pub contacts: Vec<String>,
    #[serde(default)]
    pub client_uri: String,
    #[serde(default)]
    pub logo_uri: String,
    #[serde(default)]
    pub policy_uri: String,
    #[serde(default)]
    pub tos_uri: String,
    #[serde(default)]
    pub allowed_cors_origins: Vec<String>,
    #[serde(default)]
    pub lifespans: Lifespans,
    /// How ID tokens for this client are signed (OpenID Connect Registration §2); RS256 when
    /// unset, as OpenID Connect requires by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<crate::keys::KeyAlg>,
}

impl ClientMetadata {
    /// The algorithm of this client's ID tokens.
    pub fn id_token_alg(&self) -> crate::keys::KeyAlg {
        self.id_token_signed_response_alg
            .unwrap_or(crate::keys::KeyAlg::RS256)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClientError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("redirect_uris: {0}")]
    RedirectUri(RedirectUriError),
    #[error("post_logout_redirect_uris: {0}")]
    PostLogoutRedirectUri(RedirectUriError),
}

impl ClientError {
    pub fn field(&self) -> &'static str {
        match self {
            Self::Invalid { field, .. } => field,
            Self::RedirectUri(_) => "redirect_uris",
            Self::PostLogoutRedirectUri(_) => "post_logout_redirect_uris",
        }
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ClientError {
    ClientError::Invalid {
        field,
        reason: reason.into(),
    }
}

impl ClientMetadata {
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == AuthMethod::None
    }

    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Checks that the metadata is complete and consistent.
    pub fn validate(&self) -> Result<(), ClientError> {
        if self.client_name.chars().count() > 255 {
            return Err(invalid("client_name", "must be at most 255 characters"));
        }
        if self.grant_types.is_empty() {
            return Err(invalid(
                "grant_types",
                "at least one grant type is required",
            ));
        }
        let code = self.allows_grant(GrantType::AuthorizationCode);
        if code != self.response_types.contains(&ResponseType::Code) {
            return Err(invalid(
                "response_types",
                "response type \"code\" goes together with the authorization_code grant type",
            ));
        }
        if self.allows_grant(GrantType::RefreshToken) && !code {
            return Err(invalid(
                "grant_types",
                "refresh_token requires the authorization_code grant type",
            ));
        }
        if code && self.redirect_uris.is_empty() {
            return Err(invalid(
                "redirect_uris",
                "the authorization_code grant needs at least one redirect URI",
            ));
        }
        if self.allows_grant(GrantType::ClientCredentials) && self.is_public() {
            return Err(invalid(
                "token_endpoint_auth_method",
                "a public client (\"none\") cannot use the client_credentials grant",
            ));
        }
        for uri in &self.redirect_uris {
            validate_redirect_uri(uri, self.application_type).map_err(ClientError::RedirectUri)?;
        }
        for uri in &self.post_logout_redirect_uris {
            validate_redirect_uri(uri, self.application_type)
                .map_err(ClientError::PostLogoutRedirectUri)?;
        }
        for aud in &self.audience {
            if aud.is_empty() || aud.len() > 2048 || aud.chars().any(char::is_whitespace) {
                return Err(invalid(
                    "audience",
                    format!("{aud:?} is not a valid audience (no spaces, not empty)"),
                ));
            }
        }
        for (field, value) in [
            ("website_url", &self.website_url),
            ("client_uri", &self.client_uri),
            ("logo_uri", &self.logo_uri),
            ("policy_uri", &self.policy_uri),
            ("tos_uri", &self.tos_uri),
        ] {
            if !value.is_empty() && !is_web_url(value) {
                return Err(invalid(
                    field,
                    format!("{value:?} is not an absolute http(s) URL"),
                ));
            }
        }
        for origin in &self.allowed_cors_origins {
            if !is_web_url(origin) {
                return Err(invalid(
                    "allowed_cors_origins",
                    format!("{origin:?} is not an http(s) origin"),
                ));
            }
        }
        if !self.metadata.is_null() && !self.metadata.is_object() {
            return Err(invalid("metadata", "must be a JSON object"));
        }
        Ok(())
    }
}

fn is_web_url(value: &str) -> bool {
    url::Url::parse(value)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// Checks a caller-chosen client id.
pub fn validate_client_id(value: &str) -> Result<(), ClientError> {
    if value.is_empty() || value.len() > 255 {
        return Err(invalid("client_id", "must be 1 to 255 characters"));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "client_id",
            "may contain only visible ASCII characters",
        ));
    }
    Ok(())
}

/// Checks a caller-chosen client secret.
pub fn validate_client_secret(value: &str) -> Result<(), ClientError> {
    if value.chars().count() < MIN_SECRET_LEN {
        return Err(invalid(
            "client_secret",
            format!("must be at least {MIN_SECRET_LEN} characters"),
        ));
    }
    if value.len() > 512 {
        return Err(invalid("client_secret", "must be at most 512 bytes"));
    }
    Ok(())
}

/// A generated client secret: 256 bits from the system CSPRNG.
pub fn generate_client_secret() -> Secret {
    Secret::generate(32)
}

/// A registered client as stored.
#[derive(Debug, Clone)]
pub struct Client {
    /// Row key (UUIDv7); also the keyset-pagination cursor.
    pub id: Uuid,
    pub client_id: String,
    pub tenant_id: TenantId,
    pub secret_hash: Option<TokenHash>,
    /// Set for clients created through dynamic registration (RFC 7592).
    pub registration_token_hash: Option<TokenHash>,
    /// The identity that registered this client for itself (`POST /api/client/register`);
    /// `None` for clients created by operators or through dynamic registration.
    pub owner_identity_id: Option<Uuid>,
    pub active: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub metadata: ClientMetadata,
}

impl Client {
    /// Whether `presented` is this client's secret (constant time).
    pub fn secret_matches(&self, presented: &str) -> bool {
        self.secret_hash.is_some_and(|h| h.matches(presented))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine_client() -> ClientMetadata {
        ClientMetadata {
            client_name: "batch".into(),
            grant_types: vec![GrantType::ClientCredentials],
            scope: Scope::parse("api:read").expect("valid"),
            ..ClientMetadata::default()
        }
    }

    #[test]
    fn accepts_a_machine_client() {
        assert_eq!(machine_client().validate(), Ok(()));
    }

    #[test]
    fn code_grant_needs_code_response_type_and_a_redirect_uri() {
        let mut m = machine_client();
        m.grant_types = vec![GrantType::AuthorizationCode];
        assert_eq!(m.validate().map_err(|e| e.field()), Err("response_types"));
        m.response_types = vec![ResponseType::Code];
        assert_eq!(m.validate().map_err(|e| e.field()), Err("redirect_uris"));
        m.redirect_uris = vec!["https://app.example/cb".into()];
        assert_eq!(m.validate(), Ok(()));
    }

    #[test]
    fn public_clients_cannot_use_client_credentials() {
        let mut m = machine_client();
        m.token_endpoint_auth_method = AuthMethod::None;
        assert_eq!(
            m.validate().map_err(|e| e.field()),
            Err("token_endpoint_auth_method")
        );
    }

    #[test]
    fn refuses_short_secrets_and_odd_client_ids() {
        assert!(validate_client_secret("short").is_err());
        assert!(validate_client_secret(&"x".repeat(32)).is_ok());
        assert!(validate_client_id("has space").is_err());
        assert!(validate_client_id("").is_err());
        assert_eq!(generate_client_secret().expose().len(), 43);
    }

    #[test]
    fn lifespans_serialize_as_duration_strings() {
        let mut l = Lifespans::default();
        l.set(
            "client_credentials_grant_access_token_lifespan",
            Some(Duration::seconds(30)),
        )
        .expect("valid");
        let json = serde_json::to_value(&l).expect("serializes");
        assert_eq!(
            json["client_credentials_grant_access_token_lifespan"],
            "30s"
        );
        assert_eq!(
            serde_json::from_value::<Lifespans>(json).expect("parses"),
            l
        );
        assert!(
            l.set(
                "client_credentials_grant_access_token_lifespan",
                Some(Duration::ZERO)
            )
            .is_err()
        );
    }
}
