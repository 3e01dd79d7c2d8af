//! Tenants ("apps" in the developer console) and their API keys.
//!
//! A tenant owns identities, OAuth 2.0 clients, API keys, sessions, grants and audit events; the
//! default tenant always exists and cannot be deleted. An API key is how a tenant's backend calls
//! the tenant API: `ghk_` and 43 base64url characters (256 random bits), shown once, stored as
//! its SHA-256, listed by its first characters.

use crate::ids::{TenantId, new_row_id};
use crate::oauth::redirect_uri::{ApplicationType, validate_redirect_uri};
use crate::secret::{Secret, TokenHash, random_token};
use crate::store::StoreResult;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The longest tenant or API key name kept.
pub const MAX_NAME_CHARS: usize = 100;
/// The most allowed return URLs a tenant may list.
pub const MAX_RETURN_URLS: usize = 50;
/// The most apps one developer may own in the console (the admin API has no such limit).
pub const MAX_APPS_PER_DEVELOPER: u32 = 25;
/// The prefix every API key starts with, so secret scanners recognise a leaked one.
pub const API_KEY_PREFIX: &str = "ghk_";
/// How many characters of a key (prefix included) stay visible in listings.
const VISIBLE_CHARS: usize = API_KEY_PREFIX.len() + 8;
/// `last_used_at` is written at most this often per key: a busy backend costs no write per
/// request.
pub const LAST_USED_GRANULARITY: Duration = Duration::minutes(1);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TenantError {
    #[error("name: must not be empty")]
    EmptyName,
    #[error("name: at most {MAX_NAME_CHARS} characters")]
    LongName,
    #[error("name: must not contain control characters")]
    ControlInName,
    #[error("{field}: {reason}")]
    InvalidUrl { field: String, reason: String },
    #[error("allowed_return_urls: at most {MAX_RETURN_URLS} entries")]
    TooManyReturnUrls,
    #[error("magic_link.lifespan_minutes: 1 to 1440")]
    MagicLinkLifespan,
}

/// Magic-link sign-in for the tenant's users.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MagicLinkSettings {
    #[serde(default)]
    pub enabled: bool,
    /// How long a link works; [`crate::magic_link::DEFAULT_LIFESPAN`] (15 minutes) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifespan_minutes: Option<u32>,
}

impl MagicLinkSettings {
    /// How long a link sent now works.
    pub fn lifespan(&self) -> time::Duration {
        self.lifespan_minutes
            .map_or(crate::magic_link::DEFAULT_LIFESPAN, |m| {
                time::Duration::minutes(i64::from(m))
            })
    }
}

/// What a tenant configures; stored as the `settings` JSON of its row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSettings {
    /// Where the app wants its users sent after social login or a magic link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// Further URLs the app may name as a place to return to.
    #[serde(default)]
    pub allowed_return_urls: Vec<String>,
    #[serde(default)]
    pub magic_link: MagicLinkSettings,
    /// The configured identity schema the tenant's new identities follow; the deployment's
    /// default schema when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_schema: Option<String>,
}

impl TenantSettings {
    /// Checks the URLs (absolute, no fragment, https or loopback http, as for redirect URIs).
    pub fn parse(
        redirect_uri: Option<String>,
        allowed_return_urls: &[String],
        magic_link: MagicLinkSettings,
    ) -> Result<Self, TenantError> {
        let url = |field: String, value: &str| {
            validate_redirect_uri(value, ApplicationType::Web).map_err(|e| {
                TenantError::InvalidUrl {
                    field,
                    reason: e.to_string(),
                }
            })
        };
        let redirect_uri = redirect_uri
            .filter(|u| !u.is_empty())
            .map(|u| url("redirect_uri".to_owned(), &u))
            .transpose()?;
        if allowed_return_urls.len() > MAX_RETURN_URLS {
            return Err(TenantError::TooManyReturnUrls);
        }
        let allowed_return_urls = allowed_return_urls
            .iter()
            .enumerate()
            .map(|(i, u)| url(format!("allowed_return_urls[{i}]"), u))
            .collect::<Result<Vec<_>, _>>()?;
        let max_minutes = crate::magic_link::MAX_LIFESPAN.whole_minutes();
        if magic_link
            .lifespan_minutes
            .is_some_and(|m| m == 0 || i64::from(m) > max_minutes)
        {
            return Err(TenantError::MagicLinkLifespan);
        }
        Ok(Self {
            redirect_uri,
            allowed_return_urls,
            magic_link,
            identity_schema: None,
        })
    }
}

/// A name as people give it: trimmed, not empty, short, no control characters.
pub fn parse_name(name: &str) -> Result<String, TenantError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(TenantError::EmptyName);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(TenantError::LongName);
    }
    if name.chars().any(char::is_control) {
        return Err(TenantError::ControlInName);
    }
    Ok(name.to_owned())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub settings: TenantSettings,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Tenant {
    pub fn new(name: String, settings: TenantSettings, now: OffsetDateTime) -> Self {
        Self {
            id: TenantId(new_row_id(now)),
            name,
            settings,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn is_default(&self) -> bool {
        self.id == TenantId::DEFAULT
    }
}

/// A tenant's API key as stored: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub name: String,
    /// The first characters of the key (`ghk_` and 8 more), for people to tell keys apart.
    pub prefix: String,
    pub hash: TokenHash,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

impl ApiKey {
    /// A fresh key for `tenant`: the record to store and the key, to be shown once.
    pub fn generate(tenant: TenantId, name: String, now: OffsetDateTime) -> (Self, Secret) {
        let key = format!("{API_KEY_PREFIX}{}", random_token(32));
        let record = Self {
            id: new_row_id(now),
            tenant_id: tenant,
            name,
            prefix: key[..VISIBLE_CHARS].to_owned(),
            hash: TokenHash::of(&key),
            created_at: now,
            last_used_at: None,
        };
        (record, Secret::new(key))
    }

    /// Whether a use at `now` should be written down (the last one is older than the
    /// granularity, or there is none).
    pub fn use_is_news(&self, now: OffsetDateTime) -> bool {
        self.last_used_at
            .is_none_or(|last| now - last >= LAST_USED_GRANULARITY)
    }
}

/// Whether `presented` looks like one of our API keys at all (saves a database read for
/// anything else).
pub fn looks_like_api_key(presented: &str) -> bool {
    presented.len() == API_KEY_PREFIX.len() + 43
        && presented.starts_with(API_KEY_PREFIX)
        && presented[API_KEY_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Stores the tenant with the built-in scope catalog ([`crate::oauth::catalog::builtin_scopes`])
    /// in one transaction. `Conflict` if the id is taken.
    async fn insert_tenant(&self, tenant: &Tenant) -> StoreResult<()>;
    async fn find_tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>>;
    /// One page in id order (the default tenant first), after the cursor.
    async fn list_tenants(&self, after: Option<Uuid>, limit: u32) -> StoreResult<Vec<Tenant>>;
    /// Replaces name and settings (and `updated_at`); `NotFound` if it is gone.
    async fn update_tenant(&self, tenant: &Tenant) -> StoreResult<()>;
    /// Deletes the tenant and every row that belongs to it (identities, sessions, clients,
    /// grants, tokens, codes, flows, messages, audit events, throttles, scopes, API keys, its
    /// console owner), in one transaction. `NotFound` if absent; `Conflict` for the default and
    /// the console tenant.
    async fn delete_tenant(&self, id: TenantId) -> StoreResult<()>;

    /// Stores the tenant as [`Self::insert_tenant`] does, owned by the developer `owner` (an
    /// identity of [`TenantId::CONSOLE`]), in one transaction, unless they already own `limit`
    /// apps: then `Ok(false)` and nothing is written. `NotFound` when the owner identity is gone.
    /// The count and the insert are one transaction that first writes the owner's identity row,
    /// so a developer's concurrent requests take turns and cannot pass the limit.
    async fn insert_owned_tenant(
        &self,
        tenant: &Tenant,
        owner: Uuid,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<bool>;
    /// The tenants `owner` owns, oldest first.
    async fn list_owned_tenants(&self, owner: Uuid) -> StoreResult<Vec<Tenant>>;
    /// The tenant `id` if `owner` owns it (`None` for another developer's app).
    async fn find_owned_tenant(&self, owner: Uuid, id: TenantId) -> StoreResult<Option<Tenant>>;

    /// `NotFound` if the tenant does not exist.
    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()>;
    /// The tenant's keys, newest first.
    async fn list_api_keys(&self, tenant: TenantId) -> StoreResult<Vec<ApiKey>>;
    /// The key whose SHA-256 is `hash`, whatever its tenant.
    async fn find_api_key_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<ApiKey>>;
    /// `NotFound` unless the tenant has this key.
    async fn delete_api_key(&self, tenant: TenantId, id: Uuid) -> StoreResult<()>;
    /// Sets `last_used_at = now` unless another node already wrote a use after `now - granularity`.
    async fn touch_api_key(&self, id: Uuid, now: OffsetDateTime) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: OffsetDateTime = time::macros::datetime!(2026-03-01 12:00:00 UTC);

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_name("  Alice's blog "), Ok("Alice's blog".to_owned()));
        assert_eq!(parse_name("   "), Err(TenantError::EmptyName));
        assert_eq!(parse_name(&"x".repeat(101)), Err(TenantError::LongName));
        assert_eq!(parse_name("a\u{0}b"), Err(TenantError::ControlInName));
    }

    #[test]
    fn settings_urls_follow_the_redirect_uri_rules() {
        let ok = TenantSettings::parse(
            Some("https://blog.example/after".into()),
            &["http://localhost:3000/".into()],
            MagicLinkSettings {
                enabled: true,
                lifespan_minutes: None,
            },
        )
        .expect("valid");
        assert_eq!(
            ok.redirect_uri.as_deref(),
            Some("https://blog.example/after")
        );
        let bad = TenantSettings::parse(
            None,
            &["https://ok.example".into(), "http://evil.example".into()],
            MagicLinkSettings::default(),
        );
        assert!(
            matches!(bad, Err(TenantError::InvalidUrl { ref field, .. }) if field == "allowed_return_urls[1]"),
            "{bad:?}"
        );
        assert!(
            TenantSettings::parse(Some("/relative".into()), &[], MagicLinkSettings::default())
                .is_err()
        );
    }

    #[test]
    fn api_keys_are_prefixed_random_and_stored_hashed() {
        let (a, key_a) = ApiKey::generate(TenantId::DEFAULT, "backend".into(), NOW);
        let (_, key_b) = ApiKey::generate(TenantId::DEFAULT, "backend".into(), NOW);
        assert_ne!(key_a.expose(), key_b.expose());
        assert!(
            looks_like_api_key(key_a.expose()),
            "{}",
            key_a.expose().len()
        );
        assert!(key_a.expose().starts_with(&a.prefix));
        assert_eq!(a.prefix.len(), 12);
        assert!(a.hash.matches(key_a.expose()));
        assert!(!format!("{a:?}").contains(&key_a.expose()[4..]));
        assert!(!looks_like_api_key("ghk_short"));
        assert!(!looks_like_api_key(&format!(
            "gat_{}",
            &key_a.expose()[4..]
        )));
    }

    #[test]
    fn last_use_is_written_at_most_once_a_minute() {
        let (mut key, _) = ApiKey::generate(TenantId::DEFAULT, "k".into(), NOW);
        assert!(key.use_is_news(NOW));
        key.last_used_at = Some(NOW);
        assert!(!key.use_is_news(NOW + Duration::seconds(59)));
        assert!(key.use_is_news(NOW + Duration::seconds(60)));
    }
}
