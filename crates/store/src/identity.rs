//! Identities (placeholder with the agreed names, until the identity store lands).

use crate::{Store, Ts, corrupt, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::identity::password::PasswordHash;
use gatehouse_domain::identity::store::IdentityStore;
use gatehouse_domain::identity::{Identity, IdentityState};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::store::{StoreError, StoreResult};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct IdentityRow {
    id: Uuid,
    tenant_id: Uuid,
    schema_id: String,
    state: String,
    traits: Json<serde_json::Value>,
    created_at: Ts,
    updated_at: Ts,
}

fn state_str(state: IdentityState) -> &'static str {
    match state {
        IdentityState::Active => "active",
        IdentityState::Inactive => "inactive",
    }
}

#[async_trait]
impl IdentityStore for Store {
    async fn insert_identity(
        &self,
        identity: &Identity,
        _identifiers: &[String],
        _password: Option<&PasswordHash>,
    ) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO identities (id, tenant_id, schema_id, state, traits, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(identity.id)
            .bind(identity.tenant_id.0)
            .bind(&identity.schema_id)
            .bind(state_str(identity.state))
            .bind(Json(&identity.traits))
            .bind(Ts(identity.created_at))
            .bind(Ts(identity.updated_at))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn find_identity(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Identity>> {
        let row: Option<IdentityRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, tenant_id, schema_id, state, traits, created_at, updated_at \
                 FROM identities WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(store_error)?
        });
        row.map(|r| {
            Ok(Identity {
                id: r.id,
                tenant_id: TenantId(r.tenant_id),
                schema_id: r.schema_id,
                state: match r.state.as_str() {
                    "active" => IdentityState::Active,
                    "inactive" => IdentityState::Inactive,
                    other => return Err(corrupt("identity state", other)),
                },
                traits: r.traits.0,
                verifiable_addresses: Vec::new(),
                recovery_addresses: Vec::new(),
                metadata_public: None,
                metadata_admin: None,
                created_at: r.created_at.0,
                updated_at: r.updated_at.0,
            })
        })
        .transpose()
    }

    async fn update_identity(
        &self,
        identity: &Identity,
        _identifiers: &[String],
    ) -> StoreResult<()> {
        let affected = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE identities SET schema_id = $3, state = $4, traits = $5, updated_at = $6 \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(identity.tenant_id.0)
            .bind(identity.id)
            .bind(&identity.schema_id)
            .bind(state_str(identity.state))
            .bind(Json(&identity.traits))
            .bind(Ts(identity.updated_at))
            .execute(pool)
            .await
            .map_err(store_error)?
            .rows_affected()
        });
        if affected == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    async fn delete_identity(&self, tenant: TenantId, id: Uuid) -> StoreResult<()> {
        let affected = with_pool!(self, |pool| {
            sqlx::query("DELETE FROM identities WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(id)
                .execute(pool)
                .await
                .map_err(store_error)?
                .rows_affected()
        });
        if affected == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }
}
