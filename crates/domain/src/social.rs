//! Social login for a tenant's users: the tenant ("app") configures upstream providers (GitHub,
//! Google, any OpenID provider); a person signs in there, Gatehouse finds or creates their
//! identity in the tenant, and the app's backend receives a one-time code to exchange for the
//! person's token.
//!
//! * [`SocialProvider`]: one provider of one tenant, its client secret sealed at rest;
//! * [`SocialLogin`]: a sign-in sent to a provider (state, PKCE verifier, nonce), bound to the
//!   browser, taken once by the callback;
//! * [`ExchangeCode`]: what the app's backend trades for the token (social login, magic links);
//! * [`link_decision`]: which identity a provider account signs in as.

use crate::cipher::{Cipher, CipherError};
use crate::ids::TenantId;
use crate::secret::{Secret, TokenHash};
use crate::store::StoreResult;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// How long a person has to sign in at the provider.
pub const LOGIN_LIFESPAN: Duration = Duration::minutes(10);
/// How long the app's backend has to exchange its code.
pub const EXCHANGE_CODE_LIFESPAN: Duration = Duration::minutes(2);

/// The protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OAuth 2.0 and GitHub's REST API (`/user`, `/user/emails`).
    Github,
    /// OpenID Connect at `https://accounts.google.com` unless another issuer is given.
    Google,
    /// Any OpenID provider, by discovery from its issuer.
    Oidc,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::Google => "google",
            Self::Oidc => "oidc",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "github" => Some(Self::Github),
            "google" => Some(Self::Google),
            "oidc" => Some(Self::Oidc),
            _ => None,
        }
    }

    /// The scopes asked for when the configuration names none.
    pub fn default_scopes(self) -> Vec<String> {
        let scopes: &[&str] = match self {
            Self::Github => &["read:user", "user:email"],
            Self::Google | Self::Oidc => &["openid", "email", "profile"],
        };
        scopes.iter().map(|s| (*s).to_owned()).collect()
    }
}

/// Where a provider's endpoints are, when not the well-known ones (GitHub Enterprise, a test
/// server) or not found by discovery.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderEndpoints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// GitHub's REST API base (`https://api.github.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
}

/// One social provider of one tenant.
#[derive(Clone, PartialEq, Eq)]
pub struct SocialProvider {
    pub tenant_id: TenantId,
    /// The `{provider}` path segment: lowercase letters, digits and `-`.
    pub name: String,
    pub kind: ProviderKind,
    /// OpenID providers: the issuer discovery is read from.
    pub issuer: Option<String>,
    pub client_id: String,
    /// The client secret, sealed with the cipher (see [`SocialProvider::seal_secret`]).
    pub sealed_secret: Vec<u8>,
    pub scopes: Vec<String>,
    /// The app's page the browser is sent to after signing in.
    pub redirect_uri: String,
    pub enabled: bool,
    /// Opt-in: the redirect carries the access token itself instead of a one-time code.
    pub token_in_redirect: bool,
    pub endpoints: ProviderEndpoints,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl fmt::Debug for SocialProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocialProvider")
            .field("tenant_id", &self.tenant_id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl SocialProvider {
    fn secret_context(tenant_id: TenantId, name: &str) -> String {
        format!("social-provider:{}:{name}", tenant_id.0)
    }

    /// Seals a client secret for the provider `name` of `tenant_id` (bound to that row).
    pub fn seal_secret(
        cipher: &Cipher,
        tenant_id: TenantId,
        name: &str,
        secret: &Secret,
    ) -> Vec<u8> {
        cipher.encrypt(
            &Self::secret_context(tenant_id, name),
            secret.expose().as_bytes(),
        )
    }

    /// The client secret in the clear, for the token request.
    pub fn client_secret(&self, cipher: &Cipher) -> Result<Secret, CipherError> {
        let plain = cipher.decrypt(
            &Self::secret_context(self.tenant_id, &self.name),
            &self.sealed_secret,
        )?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| CipherError::Undecryptable)
    }
}

/// Path segments under `/api/auth/` that are endpoints, not providers.
pub const RESERVED_PROVIDER_NAMES: [&str; 5] = [
    "callback",
    "credentials",
    "exchange",
    "magic-link",
    "verify",
];

/// Whether `name` may name a provider: 1 to 32 of `a-z`, `0-9`, `-`, not starting with `-`,
/// and not one of [`RESERVED_PROVIDER_NAMES`].
pub fn valid_provider_name(name: &str) -> bool {
    !RESERVED_PROVIDER_NAMES.contains(&name)
        && (1..=32).contains(&name.len())
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A sign-in sent to a provider, waiting for its callback (expired ones are removed by the
/// store's periodic cleanup, as are expired exchange codes).
#[derive(Clone, PartialEq, Eq)]
pub struct SocialLogin {
    /// SHA-256 of the `state` sent to the provider.
    pub state: TokenHash,
    /// SHA-256 of the cookie that binds the sign-in to the browser that started it.
    pub browser: TokenHash,
    pub tenant_id: TenantId,
    pub provider: String,
    pub code_verifier: String,
    pub nonce: String,
    /// The app's own `state`, handed back with the code.
    pub app_state: Option<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for SocialLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocialLogin")
            .field("tenant_id", &self.tenant_id)
            .field("provider", &self.provider)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A one-time code the app's backend exchanges for the person's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeCode {
    pub code: TokenHash,
    pub tenant_id: TenantId,
    pub identity_id: Uuid,
    /// How the person signed in: the provider's name, or `magic_link`.
    pub method: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// What a provider says about the person who signed in there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderAccount {
    /// The provider's stable id of the account (GitHub's numeric id, the ID token's `sub`).
    pub subject: String,
    pub email: Option<String>,
    /// Whether the provider vouches that the account owns `email`.
    pub email_verified: bool,
}

/// Which identity a provider account signs in as, given what the tenant holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkDecision {
    /// Linked before: that identity.
    Linked(Uuid),
    /// Not linked; the provider verified an address an identity of the tenant has: link it.
    LinkExisting(Uuid),
    /// Nobody has the address: a new identity with it (verified if the provider says so).
    Create { email: String, verified: bool },
    /// The address belongs to an identity but the provider does not vouch for it: linking would
    /// let anyone who types that address at the provider into the account.
    Refuse(&'static str),
}

/// Decides the identity of `account`: its existing link, else the identity owning its email
/// address when the provider verified it, else a new identity.
pub fn link_decision(
    account: &ProviderAccount,
    linked: Option<Uuid>,
    owner_of_email: Option<Uuid>,
) -> LinkDecision {
    if let Some(id) = linked {
        return LinkDecision::Linked(id);
    }
    let Some(email) = account.email.as_deref().filter(|e| !e.is_empty()) else {
        return LinkDecision::Refuse("email_required");
    };
    match owner_of_email {
        Some(owner) if account.email_verified => LinkDecision::LinkExisting(owner),
        Some(_) => LinkDecision::Refuse("email_not_verified"),
        None => LinkDecision::Create {
            email: email.to_owned(),
            verified: account.email_verified,
        },
    }
}

#[async_trait]
pub trait SocialStore: Send + Sync {
    /// Creates or replaces the provider (`tenant_id`, `name`); `true` when it was created,
    /// `NotFound` when the tenant does not exist.
    async fn save_social_provider(&self, provider: &SocialProvider) -> StoreResult<bool>;
    async fn find_social_provider(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> StoreResult<Option<SocialProvider>>;
    async fn list_social_providers(&self, tenant: TenantId) -> StoreResult<Vec<SocialProvider>>;
    /// `NotFound` when there is no such provider.
    async fn delete_social_provider(&self, tenant: TenantId, name: &str) -> StoreResult<()>;

    async fn insert_social_login(&self, login: &SocialLogin) -> StoreResult<()>;
    /// Deletes the sign-in whose state hashes to `state` and returns it: of concurrent callbacks,
    /// one gets it.
    async fn take_social_login(&self, state: &TokenHash) -> StoreResult<Option<SocialLogin>>;

    async fn find_social_link(
        &self,
        tenant: TenantId,
        provider: &str,
        subject: &str,
    ) -> StoreResult<Option<Uuid>>;
    /// `Conflict` when the account is linked already.
    async fn insert_social_link(
        &self,
        tenant: TenantId,
        provider: &str,
        subject: &str,
        identity_id: Uuid,
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    async fn insert_exchange_code(&self, code: &ExchangeCode) -> StoreResult<()>;
    /// Deletes the code of `tenant` and returns it when it has not expired at `now`: a code is
    /// used at most once, by the tenant it was made for.
    async fn take_exchange_code(
        &self,
        tenant: TenantId,
        code: &TokenHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<ExchangeCode>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(email: Option<&str>, verified: bool) -> ProviderAccount {
        ProviderAccount {
            subject: "42".into(),
            email: email.map(str::to_owned),
            email_verified: verified,
        }
    }

    #[test]
    fn links_only_through_a_verified_address() {
        let owner = Uuid::now_v7();
        let linked = Uuid::now_v7();
        let a = account(Some("bob@example.com"), true);
        assert_eq!(
            link_decision(&a, Some(linked), Some(owner)),
            LinkDecision::Linked(linked)
        );
        assert_eq!(
            link_decision(&a, None, Some(owner)),
            LinkDecision::LinkExisting(owner)
        );
        assert_eq!(
            link_decision(&account(Some("bob@example.com"), false), None, Some(owner)),
            LinkDecision::Refuse("email_not_verified")
        );
        assert_eq!(
            link_decision(&account(Some("new@example.com"), false), None, None),
            LinkDecision::Create {
                email: "new@example.com".into(),
                verified: false
            }
        );
        assert_eq!(
            link_decision(&account(None, true), None, None),
            LinkDecision::Refuse("email_required")
        );
    }

    #[test]
    fn provider_names_are_path_segments() {
        assert!(valid_provider_name("github"));
        assert!(valid_provider_name("acme-sso2"));
        for bad in [
            "",
            "-x",
            "GitHub",
            "a/b",
            "a.b",
            "callback",
            &"x".repeat(33),
        ] {
            assert!(!valid_provider_name(bad), "{bad}");
        }
    }

    #[test]
    fn secrets_are_sealed_to_their_provider() {
        let cipher = Cipher::new(&["0123456789abcdef0123456789abcdef"]).expect("cipher");
        let tenant = TenantId::DEFAULT;
        let sealed = SocialProvider::seal_secret(&cipher, tenant, "github", &Secret::new("s3"));
        let mut provider = SocialProvider {
            tenant_id: tenant,
            name: "github".into(),
            kind: ProviderKind::Github,
            issuer: None,
            client_id: "id".into(),
            sealed_secret: sealed,
            scopes: vec![],
            redirect_uri: "https://app.example/done".into(),
            enabled: true,
            token_in_redirect: false,
            endpoints: ProviderEndpoints::default(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert_eq!(
            provider.client_secret(&cipher).expect("opens").expose(),
            "s3"
        );
        assert!(!format!("{provider:?}").contains("s3\""));
        provider.name = "other".into();
        assert!(provider.client_secret(&cipher).is_err(), "bound to its row");
    }
}
