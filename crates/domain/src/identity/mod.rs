//! Identities: the people who sign in, their traits (validated by a JSON Schema), their
//! verifiable and recovery addresses, and the rules for their passwords.

pub mod password;
pub mod policy;
pub mod schema;
pub mod store;

use crate::ids::TenantId;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub use schema::normalize_identifier;

/// `t` at the precision the store keeps (microseconds), so an answer shows what a later read
/// returns.
pub fn stored_precision(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

/// Whether an identity may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityState {
    #[default]
    Active,
    /// Kept with all its data, but it cannot sign in.
    Inactive,
}

impl IdentityState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(Self::Active),
            "inactive" => Some(Self::Inactive),
            _ => None,
        }
    }
}

/// An address a message can prove the identity owns (Kratos `verifiable_addresses`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiableAddress {
    pub id: Uuid,
    pub value: String,
    /// The channel: `email`.
    pub via: String,
    pub verified: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub verified_at: Option<OffsetDateTime>,
    /// `pending` until verified, then `completed`.
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// An address account recovery may send to (Kratos `recovery_addresses`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryAddress {
    pub id: Uuid,
    pub value: String,
    pub via: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// One identity, serialized in the shape Ory Kratos' admin API uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub schema_id: String,
    pub state: IdentityState,
    pub traits: serde_json::Value,
    pub verifiable_addresses: Vec<VerifiableAddress>,
    pub recovery_addresses: Vec<RecoveryAddress>,
    pub metadata_public: Option<serde_json::Value>,
    pub metadata_admin: Option<serde_json::Value>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Identity {
    /// A new identity whose addresses come from what the schema marked in `facts`.
    pub fn new(
        tenant_id: TenantId,
        schema_id: &str,
        traits: serde_json::Value,
        facts: &schema::TraitFacts,
        now: OffsetDateTime,
    ) -> Self {
        let mut identity = Self {
            id: crate::ids::new_row_id(now),
            tenant_id,
            schema_id: schema_id.to_owned(),
            state: IdentityState::Active,
            traits,
            verifiable_addresses: Vec::new(),
            recovery_addresses: Vec::new(),
            metadata_public: None,
            metadata_admin: None,
            created_at: now,
            updated_at: now,
        };
        identity.set_addresses(facts, now);
        identity
    }

    /// Replaces the addresses with those `facts` names. An address that stays keeps its id and
    /// verification state; a new one starts unverified.
    pub fn set_addresses(&mut self, facts: &schema::TraitFacts, now: OffsetDateTime) {
        let old_verifiable = std::mem::take(&mut self.verifiable_addresses);
        for value in &facts.verifiable {
            let kept = old_verifiable
                .iter()
                .find(|a| a.value == *value && a.via == "email");
            self.verifiable_addresses
                .push(kept.cloned().unwrap_or_else(|| VerifiableAddress {
                    id: crate::ids::new_row_id(now),
                    value: value.clone(),
                    via: "email".to_owned(),
                    verified: false,
                    verified_at: None,
                    status: "pending".to_owned(),
                    created_at: now,
                    updated_at: now,
                }));
        }
        let old_recovery = std::mem::take(&mut self.recovery_addresses);
        for value in &facts.recovery {
            let kept = old_recovery
                .iter()
                .find(|a| a.value == *value && a.via == "email");
            self.recovery_addresses
                .push(kept.cloned().unwrap_or_else(|| RecoveryAddress {
                    id: crate::ids::new_row_id(now),
                    value: value.clone(),
                    via: "email".to_owned(),
                    created_at: now,
                    updated_at: now,
                }));
        }
    }

    /// Marks a verifiable address as verified; `false` when the identity has no such address.
    pub fn mark_verified(&mut self, value: &str, now: OffsetDateTime) -> bool {
        let value = normalize_identifier(value);
        match self
            .verifiable_addresses
            .iter_mut()
            .find(|a| a.value == value)
        {
            Some(address) => {
                address.verified = true;
                address.verified_at = Some(now);
                address.status = "completed".to_owned();
                address.updated_at = now;
                true
            }
            None => false,
        }
    }

    pub fn is_active(&self) -> bool {
        self.state == IdentityState::Active
    }

    /// What the identity itself (or an application acting for it) may see: everything but
    /// `metadata_admin`.
    pub fn public_view(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(map) = value.as_object_mut() {
            map.remove("metadata_admin");
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: OffsetDateTime = time::macros::datetime!(2026-03-01 12:00:00 UTC);

    fn facts(emails: &[&str]) -> schema::TraitFacts {
        let all: Vec<String> = emails.iter().map(|e| (*e).to_owned()).collect();
        schema::TraitFacts {
            identifiers: all.clone(),
            verifiable: all.clone(),
            recovery: all,
        }
    }

    #[test]
    fn serializes_in_the_kratos_shape_and_hides_admin_metadata_from_users() {
        let mut identity = Identity::new(
            TenantId::DEFAULT,
            "default",
            json!({"email": "a@example.com"}),
            &facts(&["a@example.com"]),
            NOW,
        );
        identity.metadata_admin = Some(json!({"crm": 7}));
        let value = serde_json::to_value(&identity).expect("serializes");
        assert_eq!(value["state"], "active");
        assert_eq!(value["created_at"], "2026-03-01T12:00:00Z");
        assert_eq!(value["verifiable_addresses"][0]["status"], "pending");
        assert_eq!(value["verifiable_addresses"][0]["verified_at"], json!(null));
        assert_eq!(value["metadata_admin"]["crm"], 7);
        assert!(identity.public_view().get("metadata_admin").is_none());
        assert_eq!(identity.public_view()["traits"]["email"], "a@example.com");
        let back: Identity = serde_json::from_value(value).expect("round trips");
        assert_eq!(back, identity);
    }

    #[test]
    fn changing_addresses_keeps_verification_of_those_that_stay() {
        let mut identity = Identity::new(
            TenantId::DEFAULT,
            "default",
            json!({}),
            &facts(&["a@example.com"]),
            NOW,
        );
        assert!(identity.mark_verified("A@Example.com", NOW));
        assert!(!identity.mark_verified("nobody@example.com", NOW));
        let kept_id = identity.verifiable_addresses[0].id;
        identity.set_addresses(&facts(&["a@example.com", "b@example.com"]), NOW);
        assert_eq!(identity.verifiable_addresses.len(), 2);
        assert_eq!(identity.verifiable_addresses[0].id, kept_id);
        assert!(identity.verifiable_addresses[0].verified);
        assert_eq!(identity.verifiable_addresses[0].status, "completed");
        assert!(!identity.verifiable_addresses[1].verified);
        identity.set_addresses(&facts(&["b@example.com"]), NOW);
        assert_eq!(identity.verifiable_addresses.len(), 1);
        assert_eq!(identity.recovery_addresses[0].value, "b@example.com");
    }
}
