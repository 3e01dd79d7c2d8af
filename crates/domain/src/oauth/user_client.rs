//! Clients registered by people: what a signed-in person may ask for when they register an
//! application of their own, and the fixed shape such a client gets.
//!
//! A person's client always uses the authorization code grant (with refresh tokens), response
//! type `code`, never skips consent, and may only ask for scopes the tenant's scope catalog holds
//! as active: other people decide at the consent page what the application really gets. API
//! scopes outside the catalog, `skip_consent`, other grant types and token lifetimes stay with
//! operators (the admin API).

use super::client::{AuthMethod, ClientError, ClientMetadata, GrantType, ResponseType};
use super::redirect_uri::{ApplicationType, is_loopback, validate_redirect_uri};
use super::scope::Scope;

/// How many clients one person may own; registering one more is refused.
pub const MAX_CLIENTS_PER_PERSON: u32 = 25;

/// How many redirect URIs (and post-logout redirect URIs) a person's client may register.
pub const MAX_REDIRECT_URIS: usize = 10;

/// The scope a person's client gets when the request names none.
pub const DEFAULT_SCOPE: &str = "openid email profile";

const MAX_NAME_CHARS: usize = 100;
const MAX_DESCRIPTION_CHARS: usize = 1000;

/// What a person sends to register a client (already parsed from JSON or a form).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserClientRequest {
    pub client_name: String,
    pub description: String,
    pub website_url: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scope: Option<String>,
    pub token_endpoint_auth_method: Option<String>,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ClientError {
    ClientError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// An `https` URL, or `http` on a loopback host.
fn check_website(value: &str) -> Result<(), ClientError> {
    let refused = || {
        invalid(
            "website_url",
            format!("{value:?} must be an https URL (http only for localhost)"),
        )
    };
    let url = url::Url::parse(value).map_err(|_| refused())?;
    let secure = match url.scheme() {
        "https" => true,
        "http" => is_loopback(&url),
        _ => false,
    };
    if secure && url.host().is_some() {
        Ok(())
    } else {
        Err(refused())
    }
}

fn check_uris(field: &'static str, uris: &[String]) -> Result<(), ClientError> {
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(invalid(
            field,
            format!("at most {MAX_REDIRECT_URIS} URIs may be registered"),
        ));
    }
    for uri in uris {
        validate_redirect_uri(uri, ApplicationType::Web)
            .map_err(|e| invalid(field, e.to_string()))?;
    }
    Ok(())
}

impl UserClientRequest {
    /// The client metadata this request stands for, or the first field that is wrong.
    /// `is_active_scope` says whether the tenant's scope catalog holds a scope as active.
    pub fn into_metadata(
        self,
        is_active_scope: impl Fn(&str) -> bool,
    ) -> Result<ClientMetadata, ClientError> {
        let client_name = self.client_name.trim().to_owned();
        if client_name.is_empty() {
            return Err(invalid("client_name", "is required"));
        }
        if client_name.chars().count() > MAX_NAME_CHARS || client_name.chars().any(char::is_control)
        {
            return Err(invalid(
                "client_name",
                format!("must be at most {MAX_NAME_CHARS} characters on one line"),
            ));
        }
        let description = self.description.trim().to_owned();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(invalid(
                "description",
                format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        let website_url = self.website_url.trim().to_owned();
        if !website_url.is_empty() {
            check_website(&website_url)?;
        }
        if self.redirect_uris.is_empty() {
            return Err(invalid(
                "redirect_uris",
                "at least one redirect URI is required",
            ));
        }
        check_uris("redirect_uris", &self.redirect_uris)?;
        check_uris("post_logout_redirect_uris", &self.post_logout_redirect_uris)?;
        let scope = Scope::parse(self.scope.as_deref().unwrap_or(DEFAULT_SCOPE))
            .map_err(|e| invalid("scope", e.to_string()))?;
        if scope.is_empty() {
            return Err(invalid("scope", "at least one scope is required"));
        }
        if let Some(unknown) = scope.iter().find(|s| !is_active_scope(s)) {
            return Err(invalid(
                "scope",
                format!(
                    "{unknown:?} is not an active scope of the scope catalog (GET /api/scopes)"
                ),
            ));
        }
        let token_endpoint_auth_method = match self.token_endpoint_auth_method.as_deref() {
            None => AuthMethod::ClientSecretBasic,
            Some(m) => AuthMethod::parse(m)?,
        };
        let metadata = ClientMetadata {
            client_name,
            description,
            website_url,
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            response_types: vec![ResponseType::Code],
            scope,
            token_endpoint_auth_method,
            skip_consent: false,
            application_type: ApplicationType::Web,
            ..ClientMetadata::default()
        };
        metadata.validate()?;
        Ok(metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(name: &str) -> bool {
        ["openid", "email", "profile", "offline_access", "username"].contains(&name)
    }

    fn request() -> UserClientRequest {
        UserClientRequest {
            client_name: " My app ".into(),
            redirect_uris: vec!["https://app.example/cb".into()],
            ..UserClientRequest::default()
        }
    }

    fn field(r: UserClientRequest) -> Result<ClientMetadata, &'static str> {
        r.into_metadata(catalog).map_err(|e| e.field())
    }

    #[test]
    fn a_minimal_request_gets_the_fixed_shape_and_default_scope() {
        let m = request().into_metadata(catalog).expect("valid");
        assert_eq!(m.client_name, "My app");
        assert_eq!(
            m.grant_types,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(m.response_types, vec![ResponseType::Code]);
        assert_eq!(m.scope.to_string(), "email openid profile");
        assert_eq!(m.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
        assert!(!m.skip_consent);
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut r = request();
        r.client_name = "  ".into();
        assert_eq!(field(r).err(), Some("client_name"));

        let mut r = request();
        r.redirect_uris = vec![];
        assert_eq!(field(r).err(), Some("redirect_uris"));
        let mut r = request();
        r.redirect_uris = vec!["http://app.example/cb".into()];
        assert_eq!(field(r).err(), Some("redirect_uris"));
        let mut r = request();
        r.redirect_uris = (0..11).map(|i| format!("https://a.example/{i}")).collect();
        assert_eq!(field(r).err(), Some("redirect_uris"));
        let mut r = request();
        r.post_logout_redirect_uris = vec!["https://a.example/#x".into()];
        assert_eq!(field(r).err(), Some("post_logout_redirect_uris"));

        let mut r = request();
        r.website_url = "http://app.example".into();
        assert_eq!(field(r).err(), Some("website_url"));
        let mut r = request();
        r.website_url = "http://localhost:3000".into();
        assert!(field(r).is_ok());

        let mut r = request();
        r.scope = Some("openid api:write".into());
        assert_eq!(field(r).err(), Some("scope"));
        let mut r = request();
        r.scope = Some("openid offline_access username".into());
        assert!(field(r).is_ok());

        let mut r = request();
        r.token_endpoint_auth_method = Some("private_key_jwt".into());
        assert_eq!(field(r).err(), Some("token_endpoint_auth_method"));
        let mut r = request();
        r.token_endpoint_auth_method = Some("none".into());
        assert!(field(r).expect("valid").is_public());

        let mut r = request();
        r.description = "x".repeat(1001);
        assert_eq!(field(r).err(), Some("description"));
    }
}
