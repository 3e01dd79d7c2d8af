//! The scope catalog: per tenant, what a scope means to people (a display name and a description
//! for the consent page), which claims granting it releases, and whether it may be requested at
//! all. The standard OpenID Connect scopes and the fine-grained profile scopes are built in.
//!
//! A client's registered `scope` stays the authority on what it may request: a scope missing
//! from the catalog (`api:read`) is allowed when the client lists it; the catalog only adds
//! descriptions and claims, and a scope it holds as inactive is refused everywhere.

use super::scope::{Scope, is_scope_token};
use crate::identity::stored_precision;
use crate::ids::TenantId;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use time::OffsetDateTime;

pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 500;
pub const MAX_CLAIMS: usize = 50;
pub const MAX_CLAIM_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("scope {0:?} is built in and cannot be deleted: deactivate it instead")]
    Builtin(String),
}

impl CatalogError {
    fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

/// A requested scope the catalog holds as inactive (RFC 6749 §5.2 `invalid_scope`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scope {0:?} is not available: it is deactivated")]
pub struct InactiveScope(pub String);

/// One catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogScope {
    pub tenant_id: TenantId,
    pub name: String,
    pub display_name: String,
    pub description: String,
    /// The claims granting this scope releases (ID token, userinfo, `/api/me`).
    pub claims: Vec<String>,
    /// An inactive scope is refused wherever it is requested.
    pub active: bool,
    /// Shipped with Gatehouse: it can be changed and deactivated, never deleted.
    pub builtin: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The fields an administrator sets, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeFields {
    pub display_name: String,
    pub description: String,
    pub claims: Vec<String>,
    pub active: bool,
}

impl ScopeFields {
    /// Trims the texts and checks every field: display name 1–100 characters, description at
    /// most 500, claims simple identifiers (`given_name`), at most 50 and no repeats.
    pub fn parse(
        display_name: &str,
        description: &str,
        claims: Vec<String>,
        active: bool,
    ) -> Result<Self, CatalogError> {
        let display_name = display_name.trim();
        if display_name.is_empty() {
            return Err(CatalogError::invalid("display_name", "must not be empty"));
        }
        if has_control(display_name) {
            return Err(CatalogError::invalid(
                "display_name",
                "must not contain control characters",
            ));
        }
        if display_name.chars().count() > MAX_DISPLAY_NAME_CHARS {
            return Err(CatalogError::invalid(
                "display_name",
                format!("at most {MAX_DISPLAY_NAME_CHARS} characters"),
            ));
        }
        let description = description.trim();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(CatalogError::invalid(
                "description",
                format!("at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        if description.chars().any(|c| c.is_control() && c != '\n') {
            return Err(CatalogError::invalid(
                "description",
                "must not contain control characters other than line breaks",
            ));
        }
        if claims.len() > MAX_CLAIMS {
            return Err(CatalogError::invalid(
                "claims",
                format!("at most {MAX_CLAIMS} claims"),
            ));
        }
        let mut seen = BTreeSet::new();
        for claim in &claims {
            if !is_claim_name(claim) {
                return Err(CatalogError::invalid(
                    "claims",
                    format!(
                        "{claim:?} is not a claim name (letters, digits and _, not starting with \
                         a digit, at most {MAX_CLAIM_CHARS} characters)"
                    ),
                ));
            }
            if !seen.insert(claim.as_str()) {
                return Err(CatalogError::invalid(
                    "claims",
                    format!("{claim:?} is listed twice"),
                ));
            }
        }
        Ok(Self {
            display_name: display_name.to_owned(),
            description: description.to_owned(),
            claims,
            active,
        })
    }
}

fn has_control(value: &str) -> bool {
    value.chars().any(char::is_control)
}

/// A scope name: one RFC 6749 §3.3 scope token of at most 100 characters.
pub fn parse_name(name: &str) -> Result<String, CatalogError> {
    if name.is_empty() {
        return Err(CatalogError::invalid("name", "must not be empty"));
    }
    if !is_scope_token(name) {
        return Err(CatalogError::invalid(
            "name",
            format!(
                "{name:?} is not one scope token (RFC 6749 §3.3: printable ASCII without spaces, \
                 quotes or backslashes)"
            ),
        ));
    }
    if name.len() > MAX_NAME_CHARS {
        return Err(CatalogError::invalid(
            "name",
            format!("at most {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(name.to_owned())
}

/// A claim name: ASCII letters, digits and `_`, not starting with a digit.
pub fn is_claim_name(claim: &str) -> bool {
    let mut bytes = claim.bytes();
    claim.len() <= MAX_CLAIM_CHARS
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl CatalogScope {
    /// A new administrator-defined scope (times at the precision the store keeps).
    pub fn new(
        tenant_id: TenantId,
        name: &str,
        fields: ScopeFields,
        now: OffsetDateTime,
    ) -> Result<Self, CatalogError> {
        let now = stored_precision(now);
        Ok(Self {
            tenant_id,
            name: parse_name(name)?,
            display_name: fields.display_name,
            description: fields.description,
            claims: fields.claims,
            active: fields.active,
            builtin: false,
            created_at: now,
            updated_at: now,
        })
    }

    /// Replaces what an administrator may change.
    pub fn replace(&mut self, fields: ScopeFields, now: OffsetDateTime) {
        self.display_name = fields.display_name;
        self.description = fields.description;
        self.claims = fields.claims;
        self.active = fields.active;
        self.updated_at = stored_precision(now);
    }

    /// Built-in scopes stay (deactivating one is how it is withdrawn).
    pub fn check_deletable(&self) -> Result<(), CatalogError> {
        if self.builtin {
            Err(CatalogError::Builtin(self.name.clone()))
        } else {
            Ok(())
        }
    }
}

/// The built-in scopes: `(name, display name, description, claims)`. Migration 0014 seeds the
/// same rows for the default tenant (a store conformance test keeps the two equal).
pub const BUILTIN: &[(&str, &str, &str, &[&str])] = &[
    // OpenID Connect Core 1.0 §5.4 and §11.
    (
        "openid",
        "Sign In",
        "Sign you in to this application with your account and tell it your account identifier",
        &["sub"],
    ),
    (
        "profile",
        "Profile",
        "Your name, nickname, username, profile page, picture, website, gender, birthdate, \
         time zone and language, and when they last changed",
        &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
    ),
    (
        "email",
        "Email Address",
        "Your email address and whether it is verified",
        &["email", "email_verified"],
    ),
    ("address", "Address", "Your postal address", &["address"]),
    (
        "phone",
        "Phone Number",
        "Your phone number and whether it is verified",
        &["phone_number", "phone_number_verified"],
    ),
    (
        "offline_access",
        "Stay Signed In",
        "Stay signed in to this application: it may keep access when you are away",
        &[],
    ),
    // Fine-grained profile fields, each released under its own name (`/api/me`).
    ("id", "User ID", "Your unique account identifier", &["id"]),
    ("username", "Username", "Your username", &["username"]),
    (
        "full_name",
        "Full Name",
        "Your first and last name combined",
        &["full_name"],
    ),
    (
        "first_name",
        "First Name",
        "Your first name",
        &["first_name"],
    ),
    ("last_name", "Last Name", "Your last name", &["last_name"]),
    (
        "display_name",
        "Display Name",
        "The name you prefer to be shown",
        &["display_name"],
    ),
    ("bio", "Biography", "Your personal biography", &["bio"]),
    (
        "website",
        "Website",
        "Your personal website address",
        &["website"],
    ),
    ("location", "Location", "Your location", &["location"]),
    (
        "date_of_birth",
        "Date of Birth",
        "Your date of birth",
        &["date_of_birth"],
    ),
    (
        "created_at",
        "Account Created",
        "When your account was registered",
        &["created_at"],
    ),
    (
        "is_verified",
        "Email Verified",
        "Whether your email address is verified",
        &["is_verified"],
    ),
    (
        "tenant_id",
        "Tenant",
        "The identifier of the app your account belongs to",
        &["tenant_id"],
    ),
];

/// The built-in scopes as rows of `tenant_id`, active (for a new tenant's catalog).
pub fn builtin_scopes(tenant_id: TenantId, now: OffsetDateTime) -> Vec<CatalogScope> {
    BUILTIN
        .iter()
        .map(|(name, display_name, description, claims)| CatalogScope {
            tenant_id,
            name: (*name).to_owned(),
            display_name: (*display_name).to_owned(),
            description: (*description).to_owned(),
            claims: claims.iter().map(|c| (*c).to_owned()).collect(),
            active: true,
            builtin: true,
            created_at: now,
            updated_at: now,
        })
        .collect()
}

/// How a requested scope reads on a consent page: from the catalog, or its bare name when the
/// catalog does not know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeDescription<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    pub description: &'a str,
    pub claims: &'a [String],
}

/// Every tenant's catalog at one moment, looked up without the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    tenants: HashMap<TenantId, BTreeMap<String, CatalogScope>>,
}

impl Catalog {
    pub fn new(scopes: impl IntoIterator<Item = CatalogScope>) -> Self {
        let mut tenants: HashMap<TenantId, BTreeMap<String, CatalogScope>> = HashMap::new();
        for scope in scopes {
            tenants
                .entry(scope.tenant_id)
                .or_default()
                .insert(scope.name.clone(), scope);
        }
        Self { tenants }
    }

    pub fn find(&self, tenant_id: TenantId, name: &str) -> Option<&CatalogScope> {
        self.tenants.get(&tenant_id)?.get(name)
    }

    /// A tenant's active scopes, by name.
    pub fn active(&self, tenant_id: TenantId) -> impl Iterator<Item = &CatalogScope> {
        self.tenants
            .get(&tenant_id)
            .into_iter()
            .flat_map(BTreeMap::values)
            .filter(|s| s.active)
    }

    /// Refuses a request that names a scope the tenant's catalog holds as inactive; scopes the
    /// catalog does not know pass (the client's registration decides those).
    pub fn refuse_inactive(&self, tenant_id: TenantId, scope: &Scope) -> Result<(), InactiveScope> {
        match scope
            .iter()
            .find(|name| self.find(tenant_id, name).is_some_and(|s| !s.active))
        {
            Some(name) => Err(InactiveScope(name.to_owned())),
            None => Ok(()),
        }
    }

    /// `scope` without the tokens the tenant's catalog holds as inactive (the default grant when
    /// a request names no scope).
    pub fn without_inactive(&self, tenant_id: TenantId, scope: &Scope) -> Scope {
        let kept: Vec<&str> = scope
            .iter()
            .filter(|name| self.find(tenant_id, name).is_none_or(|s| s.active))
            .collect();
        Scope::parse(&kept.join(" ")).expect("tokens of a parsed scope stay valid")
    }

    /// How each requested scope reads on a consent page, in the scope's order.
    pub fn describe<'a>(
        &'a self,
        tenant_id: TenantId,
        scope: &'a Scope,
    ) -> Vec<ScopeDescription<'a>> {
        scope
            .iter()
            .map(|name| match self.find(tenant_id, name) {
                Some(s) => ScopeDescription {
                    name,
                    display_name: &s.display_name,
                    description: &s.description,
                    claims: &s.claims,
                },
                None => ScopeDescription {
                    name,
                    display_name: name,
                    description: "",
                    claims: &[],
                },
            })
            .collect()
    }

    /// The claims the granted scopes release (active catalog scopes only).
    pub fn released_claims(&self, tenant_id: TenantId, granted: &Scope) -> BTreeSet<&str> {
        granted
            .iter()
            .filter_map(|name| self.find(tenant_id, name))
            .filter(|s| s.active)
            .flat_map(|s| s.claims.iter().map(String::as_str))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

    fn fields(display_name: &str, claims: &[&str]) -> Result<ScopeFields, CatalogError> {
        ScopeFields::parse(
            display_name,
            "",
            claims.iter().map(|c| (*c).to_owned()).collect(),
            true,
        )
    }

    fn field_of(err: &CatalogError) -> &'static str {
        match *err {
            CatalogError::Invalid { field, .. } => field,
            CatalogError::Builtin(_) => "builtin",
        }
    }

    #[test]
    fn names_are_single_scope_tokens() {
        assert_eq!(parse_name("api:read").expect("valid"), "api:read");
        for bad in ["", "two words", "quo\"te", "back\\slash", "caf\u{e9}"] {
            assert_eq!(field_of(&parse_name(bad).expect_err(bad)), "name", "{bad}");
        }
        assert!(parse_name(&"a".repeat(100)).is_ok());
        assert!(parse_name(&"a".repeat(101)).is_err());
    }

    #[test]
    fn fields_are_checked_and_trimmed() {
        let f = fields("  Read the API ", &["sub", "given_name", "_x1"]).expect("valid");
        assert_eq!(f.display_name, "Read the API");
        for (display_name, claims, field) in [
            ("", &[][..], "display_name"),
            ("   ", &[], "display_name"),
            ("a\u{7}b", &[], "display_name"),
            (&*"x".repeat(101), &[], "display_name"),
            ("ok", &["1st"], "claims"),
            ("ok", &["a-b"], "claims"),
            ("ok", &[""], "claims"),
            ("ok", &["email", "email"], "claims"),
        ] {
            let err = fields(display_name, claims).expect_err(display_name);
            assert_eq!(field_of(&err), field, "{display_name:?} {claims:?}");
        }
        assert!(fields(&"x".repeat(100), &[]).is_ok());
        let long = ScopeFields::parse("ok", &"d".repeat(501), vec![], true);
        assert_eq!(field_of(&long.expect_err("too long")), "description");
        let many: Vec<String> = (0..51).map(|i| format!("c{i}")).collect();
        assert!(ScopeFields::parse("ok", "", many, true).is_err());
    }

    #[test]
    fn builtins_are_valid_unique_and_cover_the_design_list() {
        let scopes = builtin_scopes(TenantId::DEFAULT, NOW);
        let mut names = BTreeSet::new();
        for s in &scopes {
            let claims = s.claims.clone();
            ScopeFields::parse(&s.display_name, &s.description, claims, true)
                .unwrap_or_else(|e| panic!("{}: {e}", s.name));
            parse_name(&s.name).expect("valid name");
            assert!(names.insert(s.name.as_str()), "{} twice", s.name);
            assert!(s.builtin && s.active);
        }
        for name in [
            "openid",
            "profile",
            "email",
            "address",
            "phone",
            "offline_access",
            "id",
            "username",
            "full_name",
            "first_name",
            "last_name",
            "display_name",
            "bio",
            "website",
            "location",
            "date_of_birth",
            "created_at",
            "is_verified",
            "tenant_id",
        ] {
            assert!(names.contains(name), "{name} missing");
        }
        assert_eq!(names.len(), 19);
    }

    #[test]
    fn built_in_scopes_cannot_be_deleted() {
        let builtin = builtin_scopes(TenantId::DEFAULT, NOW).remove(0);
        assert_eq!(
            builtin.check_deletable(),
            Err(CatalogError::Builtin("openid".into()))
        );
        let own = CatalogScope::new(
            TenantId::DEFAULT,
            "api:read",
            fields("Read", &[]).expect("valid"),
            NOW,
        )
        .expect("valid");
        assert!(own.check_deletable().is_ok());
    }

    fn catalog() -> Catalog {
        let mut scopes = builtin_scopes(TenantId::DEFAULT, NOW);
        for s in &mut scopes {
            if s.name == "phone" {
                s.active = false;
            }
        }
        Catalog::new(scopes)
    }

    #[test]
    fn only_inactive_catalog_scopes_are_refused() {
        let catalog = catalog();
        let scope = |s: &str| Scope::parse(s).expect("valid");
        assert_eq!(
            catalog.refuse_inactive(TenantId::DEFAULT, &scope("openid api:read email")),
            Ok(())
        );
        assert_eq!(
            catalog.refuse_inactive(TenantId::DEFAULT, &scope("openid phone")),
            Err(InactiveScope("phone".into()))
        );
        let other = TenantId(uuid::Uuid::from_u128(2));
        assert_eq!(
            catalog.refuse_inactive(other, &scope("phone")),
            Ok(()),
            "another tenant's catalog does not know it"
        );
        assert_eq!(
            catalog
                .without_inactive(TenantId::DEFAULT, &scope("api:read phone email"))
                .to_string(),
            "api:read email"
        );
        assert!(catalog.active(TenantId::DEFAULT).all(|s| s.name != "phone"));
        assert_eq!(catalog.active(TenantId::DEFAULT).count(), 18);
    }

    #[test]
    fn describes_requested_scopes_and_their_claims() {
        let catalog = catalog();
        let requested = Scope::parse("email api:read").expect("valid");
        let described = catalog.describe(TenantId::DEFAULT, &requested);
        assert_eq!(described[0].name, "api:read");
        assert_eq!(described[0].display_name, "api:read");
        assert_eq!(described[1].display_name, "Email Address");
        let granted = Scope::parse("openid email phone username").expect("valid");
        let claims: Vec<&str> = catalog
            .released_claims(TenantId::DEFAULT, &granted)
            .into_iter()
            .collect();
        assert_eq!(claims, ["email", "email_verified", "sub", "username"]);
    }
}
