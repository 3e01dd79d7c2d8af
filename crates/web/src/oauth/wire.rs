//! Client metadata on the wire, with Hydra's field names (admin API) and RFC 7591's
//! (dynamic registration); the two overlap, so one request type serves both.

use crate::state::Settings;
use gatehouse_domain::keys::KeyAlg;
use gatehouse_domain::oauth::client::{
    AuthMethod, Client, ClientError, ClientMetadata, GrantType, Lifespans, ResponseType,
    TokenStrategy,
};
use gatehouse_domain::oauth::duration::parse_duration;
use gatehouse_domain::oauth::redirect_uri::ApplicationType;
use gatehouse_domain::oauth::scope::Scope;
use gatehouse_domain::secret::Secret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;

/// A client as sent by the caller. Unknown fields are ignored (RFC 7591 §2); known fields of
/// the wrong type are a 400.
#[derive(Debug, Default, Deserialize)]
pub struct ClientRequest {
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub client_name: Option<String>,
    pub description: Option<String>,
    pub website_url: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub scope: Option<String>,
    pub audience: Option<Vec<String>>,
    pub token_endpoint_auth_method: Option<String>,
    pub skip_consent: Option<bool>,
    pub metadata: Option<Value>,
    pub tenant_id: Option<uuid::Uuid>,
    pub active: Option<bool>,
    pub application_type: Option<String>,
    pub access_token_strategy: Option<String>,
    pub contacts: Option<Vec<String>>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub tos_uri: Option<String>,
    pub allowed_cors_origins: Option<Vec<String>>,
    pub id_token_signed_response_alg: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl ClientRequest {
    /// The request that stores `client` as it is: what `GET /admin/clients/{id}` shows, read
    /// back as a `PUT` body (Hydra's round trip), without the secret.
    pub fn of(client: &Client) -> Result<Self, serde_json::Error> {
        serde_json::from_value(serde_json::to_value(ClientResponse::new(client, None))?)
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ClientError {
    ClientError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// Builds the stored metadata from a request, filling Hydra's defaults.
pub fn metadata_from_request(
    req: &ClientRequest,
    settings: &Settings,
) -> Result<ClientMetadata, ClientError> {
    let grant_types = match &req.grant_types {
        Some(list) => list
            .iter()
            .map(|g| GrantType::parse(g))
            .collect::<Result<Vec<_>, _>>()?,
        None => vec![GrantType::AuthorizationCode],
    };
    let response_types = match &req.response_types {
        Some(list) => list
            .iter()
            .map(|r| ResponseType::parse(r))
            .collect::<Result<Vec<_>, _>>()?,
        None if grant_types.contains(&GrantType::AuthorizationCode) => vec![ResponseType::Code],
        None => vec![],
    };
    let scope = Scope::parse(req.scope.as_deref().unwrap_or(""))
        .map_err(|e| invalid("scope", e.to_string()))?;
    let token_endpoint_auth_method = match &req.token_endpoint_auth_method {
        Some(m) => AuthMethod::parse(m)?,
        None => AuthMethod::ClientSecretBasic,
    };
    let application_type = match req.application_type.as_deref() {
        None | Some("web") => ApplicationType::Web,
        Some("native") => ApplicationType::Native,
        Some(other) => {
            return Err(invalid(
                "application_type",
                format!("{other:?} is not web or native"),
            ));
        }
    };
    let access_token_strategy = match &req.access_token_strategy {
        Some(s) => TokenStrategy::parse(s)?,
        None => TokenStrategy::Jwt,
    };
    let id_token_signed_response_alg = match req.id_token_signed_response_alg.as_deref() {
        None | Some("") => None,
        Some(alg) => Some(KeyAlg::parse(alg).ok_or_else(|| {
            invalid(
                "id_token_signed_response_alg",
                format!("{alg:?} is not supported; use RS256 or ES256"),
            )
        })?),
    };
    let mut lifespans = Lifespans::default();
    for field in Lifespans::FIELDS {
        match req.other.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(Value::String(s)) => {
                let d =
                    parse_duration(s).map_err(|e| invalid("lifespan", format!("{field}: {e}")))?;
                lifespans.set(field, Some(d))?;
            }
            Some(_) => {
                return Err(invalid(
                    "lifespan",
                    format!("{field} must be a duration string such as \"30s\""),
                ));
            }
        }
    }
    if let Some(longest) = lifespans.longest()
        && longest > settings.max_token_lifespan
    {
        return Err(invalid(
            "lifespan",
            format!(
                "token lifespans may not exceed {} (oauth2.max_token_lifespan)",
                gatehouse_domain::oauth::duration::format_duration(settings.max_token_lifespan)
            ),
        ));
    }
    Ok(ClientMetadata {
        client_name: req.client_name.clone().unwrap_or_default(),
        description: req.description.clone().unwrap_or_default(),
        website_url: req.website_url.clone().unwrap_or_default(),
        redirect_uris: req.redirect_uris.clone().unwrap_or_default(),
        post_logout_redirect_uris: req.post_logout_redirect_uris.clone().unwrap_or_default(),
        grant_types,
        response_types,
        scope,
        audience: req.audience.clone().unwrap_or_default(),
        token_endpoint_auth_method,
        skip_consent: req.skip_consent.unwrap_or(false),
        metadata: req.metadata.clone().unwrap_or(Value::Null),
        application_type,
        access_token_strategy,
        contacts: req.contacts.clone().unwrap_or_default(),
        client_uri: req.client_uri.clone().unwrap_or_default(),
        logo_uri: req.logo_uri.clone().unwrap_or_default(),
        policy_uri: req.policy_uri.clone().unwrap_or_default(),
        tos_uri: req.tos_uri.clone().unwrap_or_default(),
        allowed_cors_origins: req.allowed_cors_origins.clone().unwrap_or_default(),
        lifespans,
        id_token_signed_response_alg,
    })
}

/// A client as answered (no `Debug`: it may carry the secret and the registration token).
#[derive(Serialize)]
pub struct ClientResponse {
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub client_name: String,
    pub description: String,
    pub website_url: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<&'static str>,
    pub response_types: Vec<&'static str>,
    pub scope: String,
    pub audience: Vec<String>,
    pub token_endpoint_auth_method: &'static str,
    pub skip_consent: bool,
    pub metadata: Value,
    pub tenant_id: String,
    /// The identity that registered the client for itself; `null` for operators' and
    /// dynamically registered clients.
    pub owner_identity_id: Option<String>,
    pub active: bool,
    pub application_type: ApplicationType,
    pub access_token_strategy: &'static str,
    pub contacts: Vec<String>,
    pub client_uri: String,
    pub logo_uri: String,
    pub policy_uri: String,
    pub tos_uri: String,
    pub allowed_cors_origins: Vec<String>,
    #[serde(flatten)]
    pub lifespans: Lifespans,
    pub id_token_signed_response_alg: &'static str,
    pub created_at: String,
    pub updated_at: String,
    /// RFC 7591 §3.2.1.
    pub client_id_issued_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_client_uri: Option<String>,
}

impl ClientResponse {
    pub fn new(client: &Client, secret: Option<&Secret>) -> Self {
        let m = &client.metadata;
        Self {
            client_id: client.client_id.clone(),
            client_secret: secret.map(|s| s.expose().to_owned()),
            client_name: m.client_name.clone(),
            description: m.description.clone(),
            website_url: m.website_url.clone(),
            redirect_uris: m.redirect_uris.clone(),
            post_logout_redirect_uris: m.post_logout_redirect_uris.clone(),
            grant_types: m.grant_types.iter().map(|g| g.as_str()).collect(),
            response_types: m.response_types.iter().map(|_| "code").collect(),
            scope: m.scope.to_string(),
            audience: m.audience.clone(),
            token_endpoint_auth_method: m.token_endpoint_auth_method.as_str(),
            skip_consent: m.skip_consent,
            metadata: if m.metadata.is_null() {
                Value::Object(Map::new())
            } else {
                m.metadata.clone()
            },
            tenant_id: client.tenant_id.to_string(),
            owner_identity_id: client.owner_identity_id.map(|id| id.to_string()),
            active: client.active,
            application_type: m.application_type,
            access_token_strategy: m.access_token_strategy.as_str(),
            contacts: m.contacts.clone(),
            client_uri: m.client_uri.clone(),
            logo_uri: m.logo_uri.clone(),
            policy_uri: m.policy_uri.clone(),
            tos_uri: m.tos_uri.clone(),
            allowed_cors_origins: m.allowed_cors_origins.clone(),
            lifespans: m.lifespans.clone(),
            id_token_signed_response_alg: m.id_token_alg().as_str(),
            created_at: client.created_at.format(&Rfc3339).unwrap_or_default(),
            updated_at: client.updated_at.format(&Rfc3339).unwrap_or_default(),
            client_id_issued_at: client.created_at.unix_timestamp(),
            client_secret_expires_at: secret.map(|_| 0),
            registration_access_token: None,
            registration_client_uri: None,
        }
    }
}
