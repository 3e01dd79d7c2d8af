//! What an identity releases to a client, per granted scope: the OpenID Connect standard claims
//! (OpenID Connect Core §5.1, §5.4) for the ID token and the userinfo endpoint, and the
//! fine-grained view of `/api/me`, keyed by the fine-grained scope names.
//!
//! The tenant's scope catalog decides: a claim is released only when an active catalog scope
//! among the granted ones lists it, so an operator who deactivates a scope or takes a claim out of
//! it withdraws that claim everywhere. Traits an identity does not have are left out, never sent
//! as `null` (OpenID Connect Core §5.3.2).

use super::catalog::Catalog;
use super::scope::Scope;
use crate::identity::{Identity, normalize_identifier};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The fine-grained scopes, each released in `/api/me` under its own name.
pub const FINE_GRAINED: [&str; 14] = [
    "id",
    "username",
    "email",
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
];

/// The standard claims this server can fill from an identity (discovery's `claims_supported`).
pub const STANDARD_CLAIMS: [&str; 12] = [
    "sub",
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "website",
    "birthdate",
    "updated_at",
    "phone_number",
    "phone_number_verified",
];

/// A trait as a non-empty string (trimmed), or `None`.
fn text_trait<'a>(identity: &'a Identity, name: &str) -> Option<&'a str> {
    identity
        .traits
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Whether a verifiable address equal to `value` is verified (`false` when there is none).
fn address_verified(identity: &Identity, value: &str) -> bool {
    let value = normalize_identifier(value);
    identity
        .verifiable_addresses
        .iter()
        .any(|a| a.verified && normalize_identifier(&a.value) == value)
}

/// First and last name joined by a space, or whichever of them exists.
fn full_name(identity: &Identity) -> Option<String> {
    let parts: Vec<&str> = [
        text_trait(identity, "first_name"),
        text_trait(identity, "last_name"),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The standard claims of `identity` that `granted` releases under its tenant's catalog, for the
/// ID token and the userinfo response (OpenID Connect Core §5.4):
///
/// * `sub` (the identity id) always;
/// * `email`: `email`, `email_verified`;
/// * `profile`: `name` (the display name, else first and last name), `given_name`,
///   `family_name`, `preferred_username`, `website`, `birthdate`, `updated_at` (seconds);
/// * `phone`: `phone_number`, `phone_number_verified` from the `mobile` trait.
///
/// Absent traits are left out.
pub fn standard_claims(
    identity: &Identity,
    granted: &Scope,
    catalog: &Catalog,
) -> Map<String, Value> {
    let released = catalog.released_claims(identity.tenant_id, granted);
    let mut out = Map::new();
    out.insert("sub".into(), Value::String(identity.id.to_string()));
    let mut put = |claim: &str, value: Option<Value>| {
        if let Some(value) = value.filter(|_| released.contains(claim)) {
            out.insert(claim.to_owned(), value);
        }
    };
    let text = |name: &str| text_trait(identity, name).map(|s| Value::String(s.to_owned()));

    let email = text_trait(identity, "email");
    put("email", email.map(|e| Value::String(e.to_owned())));
    put(
        "email_verified",
        email.map(|e| Value::Bool(address_verified(identity, e))),
    );

    let name = text_trait(identity, "display_name")
        .map(str::to_owned)
        .or_else(|| full_name(identity));
    put("name", name.map(Value::String));
    put("given_name", text("first_name"));
    put("family_name", text("last_name"));
    put("preferred_username", text("username"));
    put("website", text("website"));
    put("birthdate", text("date_of_birth"));
    put(
        "updated_at",
        Some(Value::from(identity.updated_at.unix_timestamp())),
    );

    let mobile = text_trait(identity, "mobile");
    put("phone_number", mobile.map(|m| Value::String(m.to_owned())));
    put(
        "phone_number_verified",
        mobile.map(|m| Value::Bool(address_verified(identity, m))),
    );
    out
}

/// The fine-grained view of `identity` for `/api/me`: one member per granted fine-grained scope
/// (see [`FINE_GRAINED`]) whose claim the tenant's catalog releases, and no other. A granted field
/// the identity has no value for is `null`, so a client can tell "not shared" (absent) from "not
/// set" (`null`). `created_at` is RFC 3339; `is_verified` says whether the email address is
/// verified; `full_name` is first and last name.
pub fn fine_grained_view(
    identity: &Identity,
    granted: &Scope,
    catalog: &Catalog,
) -> Map<String, Value> {
    let released: BTreeSet<&str> = catalog.released_claims(identity.tenant_id, granted);
    let mut out = Map::new();
    for field in FINE_GRAINED {
        if !granted.contains(field) || !released.contains(field) {
            continue;
        }
        let text = |name: &str| {
            text_trait(identity, name).map_or(Value::Null, |s| Value::String(s.to_owned()))
        };
        let value = match field {
            "id" => Value::String(identity.id.to_string()),
            "tenant_id" => Value::String(identity.tenant_id.to_string()),
            "full_name" => full_name(identity).map_or(Value::Null, Value::String),
            "created_at" => identity
                .created_at
                .format(&time::format_description::well_known::Rfc3339)
                .map_or(Value::Null, Value::String),
            "is_verified" => Value::Bool(
                text_trait(identity, "email").is_some_and(|e| address_verified(identity, e)),
            ),
            trait_name => text(trait_name),
        };
        out.insert(field.to_owned(), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::schema::TraitFacts;
    use crate::ids::TenantId;
    use crate::oauth::catalog::{Catalog, builtin_scopes};
    use serde_json::json;
    use time::OffsetDateTime;

    const NOW: OffsetDateTime = time::macros::datetime!(2026-03-01 12:00:00 UTC);

    fn catalog() -> Catalog {
        Catalog::new(builtin_scopes(TenantId::DEFAULT, NOW))
    }

    fn scope(s: &str) -> Scope {
        Scope::parse(s).expect("valid scope")
    }

    fn ada() -> Identity {
        let facts = TraitFacts {
            identifiers: vec!["ada@example.com".into()],
            verifiable: vec!["ada@example.com".into()],
            recovery: vec!["ada@example.com".into()],
        };
        let mut identity = Identity::new(
            TenantId::DEFAULT,
            "default",
            json!({
                "email": "ada@example.com",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "username": "ada",
                "website": "https://ada.example",
                "date_of_birth": "1815-12-10",
                "bio": "",
                "mobile": "+441234567890",
            }),
            &facts,
            NOW,
        );
        identity.mark_verified("ada@example.com", NOW);
        identity
    }

    #[test]
    fn openid_alone_releases_only_the_subject() {
        let identity = ada();
        let claims = standard_claims(&identity, &scope("openid"), &catalog());
        assert_eq!(
            Value::Object(claims),
            json!({"sub": identity.id.to_string()})
        );
        // `sub` even without `openid` (the caller decides whether that may be asked).
        let claims = standard_claims(&identity, &scope(""), &catalog());
        assert_eq!(claims.keys().collect::<Vec<_>>(), ["sub"]);
    }

    #[test]
    fn email_releases_the_address_and_whether_it_is_verified() {
        let mut identity = ada();
        let claims = standard_claims(&identity, &scope("openid email"), &catalog());
        assert_eq!(claims["email"], "ada@example.com");
        assert_eq!(claims["email_verified"], true);
        assert!(claims.get("given_name").is_none());
        identity.verifiable_addresses[0].verified = false;
        let claims = standard_claims(&identity, &scope("openid email"), &catalog());
        assert_eq!(claims["email_verified"], false);
    }

    #[test]
    fn profile_releases_names_and_dates_and_omits_absent_traits() {
        let identity = ada();
        let claims = standard_claims(&identity, &scope("openid profile"), &catalog());
        assert_eq!(
            Value::Object(claims),
            json!({
                "sub": identity.id.to_string(),
                "name": "Ada Lovelace",
                "given_name": "Ada",
                "family_name": "Lovelace",
                "preferred_username": "ada",
                "website": "https://ada.example",
                "birthdate": "1815-12-10",
                "updated_at": NOW.unix_timestamp(),
            })
        );
        let mut identity = ada();
        identity.traits = json!({"email": "ada@example.com", "display_name": "Countess", "last_name": "Lovelace"});
        let claims = standard_claims(&identity, &scope("openid profile"), &catalog());
        assert_eq!(claims["name"], "Countess");
        assert!(claims.get("given_name").is_none(), "absent, not null");
        assert!(claims.get("preferred_username").is_none());
        identity.traits = json!({"last_name": "Lovelace"});
        let claims = standard_claims(&identity, &scope("profile"), &catalog());
        assert_eq!(claims["name"], "Lovelace");
    }

    #[test]
    fn phone_releases_the_mobile_number() {
        let identity = ada();
        let claims = standard_claims(&identity, &scope("openid phone"), &catalog());
        assert_eq!(claims["phone_number"], "+441234567890");
        assert_eq!(claims["phone_number_verified"], false);
        assert!(claims.get("email").is_none());
    }

    #[test]
    fn the_catalog_decides_what_a_scope_releases() {
        let identity = ada();
        let mut scopes = builtin_scopes(TenantId::DEFAULT, NOW);
        for s in &mut scopes {
            if s.name == "email" {
                s.active = false;
            }
            if s.name == "profile" {
                s.claims = vec!["given_name".into()];
            }
        }
        let catalog = Catalog::new(scopes);
        let claims = standard_claims(&identity, &scope("openid email profile"), &catalog);
        assert_eq!(
            Value::Object(claims),
            json!({"sub": identity.id.to_string(), "given_name": "Ada"})
        );
        // Another tenant's catalog releases nothing for this one.
        let other = Catalog::new(builtin_scopes(TenantId(uuid::Uuid::from_u128(7)), NOW));
        let claims = standard_claims(&identity, &scope("openid email profile"), &other);
        assert_eq!(claims.keys().collect::<Vec<_>>(), ["sub"]);
    }

    #[test]
    fn the_fine_grained_view_has_only_granted_fields() {
        let identity = ada();
        let view = fine_grained_view(&identity, &scope("username email"), &catalog());
        assert_eq!(
            Value::Object(view),
            json!({"username": "ada", "email": "ada@example.com"})
        );
        let view = fine_grained_view(
            &identity,
            &scope("id full_name created_at is_verified tenant_id bio location openid profile"),
            &catalog(),
        );
        assert_eq!(
            Value::Object(view),
            json!({
                "id": identity.id.to_string(),
                "full_name": "Ada Lovelace",
                "created_at": "2026-03-01T12:00:00Z",
                "is_verified": true,
                "tenant_id": TenantId::DEFAULT.to_string(),
                "bio": null,
                "location": null,
            })
        );
        // `profile` releases `website` as a standard claim, not as the fine-grained field.
        let view = fine_grained_view(&identity, &scope("openid profile"), &catalog());
        assert!(view.is_empty(), "{view:?}");
    }

    #[test]
    fn an_inactive_fine_grained_scope_releases_nothing() {
        let identity = ada();
        let mut scopes = builtin_scopes(TenantId::DEFAULT, NOW);
        for s in &mut scopes {
            if s.name == "username" {
                s.active = false;
            }
        }
        let view = fine_grained_view(
            &identity,
            &scope("username first_name"),
            &Catalog::new(scopes),
        );
        assert_eq!(Value::Object(view), json!({"first_name": "Ada"}));
    }
}
