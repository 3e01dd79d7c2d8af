//! Identities, their identifiers, addresses and password credential. Every method is one
//! transaction, so an identity is never stored half-written.

use crate::{Store, Ts, corrupt, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::identity::password::PasswordHash;
use gatehouse_domain::identity::store::{
    AddressKind, IDENTIFIER_CONSTRAINT, IdentityFilter, IdentityPage, IdentityStore,
};
use gatehouse_domain::identity::{Identity, IdentityState, RecoveryAddress, VerifiableAddress};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::store::{StoreError, StoreResult};
use serde_json::Value;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct IdentityRow {
    id: Uuid,
    tenant_id: Uuid,
    schema_id: String,
    state: String,
    traits: Json<Value>,
    metadata_public: Option<Json<Value>>,
    metadata_admin: Option<Json<Value>>,
    created_at: Ts,
    updated_at: Ts,
}

#[derive(sqlx::FromRow)]
struct AddressRow {
    id: Uuid,
    identity_id: Uuid,
    kind: String,
    via: String,
    value: String,
    verified: bool,
    verified_at: Option<Ts>,
    status: String,
    created_at: Ts,
    updated_at: Ts,
}

#[derive(sqlx::FromRow)]
struct HashRow {
    hash: String,
}

impl IdentityRow {
    fn into_identity(self, addresses: &[AddressRow]) -> StoreResult<Identity> {
        let state = IdentityState::parse(&self.state)
            .ok_or_else(|| corrupt("identity state", &self.state))?;
        let mut identity = Identity {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            schema_id: self.schema_id,
            state,
            traits: self.traits.0,
            verifiable_addresses: Vec::new(),
            recovery_addresses: Vec::new(),
            metadata_public: self.metadata_public.map(|j| j.0),
            metadata_admin: self.metadata_admin.map(|j| j.0),
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        };
        for a in addresses.iter().filter(|a| a.identity_id == self.id) {
            match a.kind.as_str() {
                "verifiable" => identity.verifiable_addresses.push(VerifiableAddress {
                    id: a.id,
                    value: a.value.clone(),
                    via: a.via.clone(),
                    verified: a.verified,
                    verified_at: a.verified_at.map(|t| t.0),
                    status: a.status.clone(),
                    created_at: a.created_at.0,
                    updated_at: a.updated_at.0,
                }),
                "recovery" => identity.recovery_addresses.push(RecoveryAddress {
                    id: a.id,
                    value: a.value.clone(),
                    via: a.via.clone(),
                    created_at: a.created_at.0,
                    updated_at: a.updated_at.0,
                }),
                other => return Err(corrupt("identity address kind", other)),
            }
        }
        Ok(identity)
    }
}

const IDENTITY_COLUMNS: &str = "id, tenant_id, schema_id, state, traits, metadata_public, metadata_admin, created_at, updated_at";
const ADDRESS_COLUMNS: &str =
    "id, identity_id, kind, via, value, verified, verified_at, status, created_at, updated_at";

/// A taken identifier, whatever name the backend gives the unique index.
fn identifier_error(err: sqlx::Error) -> StoreError {
    match store_error(err) {
        StoreError::Conflict { .. } => StoreError::Conflict {
            constraint: IDENTIFIER_CONSTRAINT.to_owned(),
        },
        other => other,
    }
}

/// Inserts the identifiers and addresses of `$identity` inside the transaction `$tx`.
macro_rules! insert_children {
    ($tx:expr, $identity:expr, $identifiers:expr) => {{
        let identity: &Identity = $identity;
        for identifier in $identifiers {
            sqlx::query(
                "INSERT INTO identity_identifiers (tenant_id, identifier, identity_id) VALUES ($1, $2, $3)",
            )
            .bind(identity.tenant_id.0)
            .bind(identifier)
            .bind(identity.id)
            .execute(&mut *$tx)
            .await
            .map_err(identifier_error)?;
        }
        const INSERT_ADDRESS: &str = "INSERT INTO identity_addresses \
            (id, identity_id, kind, via, value, verified, verified_at, status, created_at, updated_at) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        for a in &identity.verifiable_addresses {
            sqlx::query(INSERT_ADDRESS)
                .bind(a.id)
                .bind(identity.id)
                .bind("verifiable")
                .bind(&a.via)
                .bind(&a.value)
                .bind(a.verified)
                .bind(a.verified_at.map(Ts))
                .bind(&a.status)
                .bind(Ts(a.created_at))
                .bind(Ts(a.updated_at))
                .execute(&mut *$tx)
                .await
                .map_err(store_error)?;
        }
        for a in &identity.recovery_addresses {
            sqlx::query(INSERT_ADDRESS)
                .bind(a.id)
                .bind(identity.id)
                .bind("recovery")
                .bind(&a.via)
                .bind(&a.value)
                .bind(false)
                .bind(None::<Ts>)
                .bind("completed")
                .bind(Ts(a.created_at))
                .bind(Ts(a.updated_at))
                .execute(&mut *$tx)
                .await
                .map_err(store_error)?;
        }
    }};
}

/// Sets the password credential of `$id` inside `$tx`.
macro_rules! upsert_password {
    ($tx:expr, $id:expr, $hash:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO identity_credentials (identity_id, type, hash, created_at, updated_at) \
             VALUES ($1, 'password', $2, $3, $3) \
             ON CONFLICT (identity_id, type) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at",
        )
        .bind($id)
        .bind($hash.as_str())
        .bind(Ts($now))
        .execute(&mut *$tx)
        .await
        .map_err(store_error)?
    };
}

/// Reads the addresses of the identities `$ids` inside `$tx`.
macro_rules! fetch_addresses {
    ($tx:expr, $ids:expr) => {{
        let ids: &[Uuid] = $ids;
        if ids.is_empty() {
            Vec::<AddressRow>::new()
        } else {
            let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT {ADDRESS_COLUMNS} FROM identity_addresses WHERE identity_id IN ({}) \
                 ORDER BY identity_id, kind, created_at, id",
                placeholders.join(", ")
            );
            let mut query = sqlx::query_as::<_, AddressRow>(sqlx::AssertSqlSafe(sql));
            for id in ids {
                query = query.bind(*id);
            }
            query.fetch_all(&mut *$tx).await.map_err(store_error)?
        }
    }};
}

impl Store {
    /// Rewrites an identity row, its identifiers and addresses, and optionally its password.
    async fn replace_identity(
        &self,
        identity: &Identity,
        identifiers: &[String],
        password: Option<&PasswordHash>,
    ) -> StoreResult<()> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(store_error)?;
            let affected = sqlx::query(
                "UPDATE identities SET schema_id = $3, state = $4, traits = $5, metadata_public = $6, \
                 metadata_admin = $7, updated_at = $8 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(identity.tenant_id.0)
            .bind(identity.id)
            .bind(&identity.schema_id)
            .bind(identity.state.as_str())
            .bind(Json(&identity.traits))
            .bind(json_opt(identity.metadata_public.as_ref()))
            .bind(json_opt(identity.metadata_admin.as_ref()))
            .bind(Ts(identity.updated_at))
            .execute(&mut *tx)
            .await
            .map_err(store_error)?
            .rows_affected();
            if affected == 0 {
                return Err(StoreError::NotFound);
            }
            for table in ["identity_identifiers", "identity_addresses"] {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE identity_id = $1"
                )))
                .bind(identity.id)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            }
            insert_children!(tx, identity, identifiers);
            if let Some(hash) = password {
                upsert_password!(tx, identity.id, hash, identity.updated_at);
            }
            tx.commit().await.map_err(store_error)?;
        });
        Ok(())
    }
}

fn json_opt(value: Option<&Value>) -> Option<Json<&Value>> {
    value.map(Json)
}

#[async_trait]
impl IdentityStore for Store {
    async fn insert_identity(
        &self,
        identity: &Identity,
        identifiers: &[String],
        password: Option<&PasswordHash>,
    ) -> StoreResult<()> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(store_error)?;
            sqlx::query(
                "INSERT INTO identities (id, tenant_id, schema_id, state, traits, metadata_public, \
                 metadata_admin, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(identity.id)
            .bind(identity.tenant_id.0)
            .bind(&identity.schema_id)
            .bind(identity.state.as_str())
            .bind(Json(&identity.traits))
            .bind(json_opt(identity.metadata_public.as_ref()))
            .bind(json_opt(identity.metadata_admin.as_ref()))
            .bind(Ts(identity.created_at))
            .bind(Ts(identity.updated_at))
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
            insert_children!(tx, identity, identifiers);
            if let Some(hash) = password {
                sqlx::query(
                    "INSERT INTO identity_credentials (identity_id, type, hash, created_at, updated_at) \
                     VALUES ($1, 'password', $2, $3, $3)",
                )
                .bind(identity.id)
                .bind(hash.as_str())
                .bind(Ts(identity.created_at))
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            }
            tx.commit().await.map_err(store_error)?;
        });
        Ok(())
    }

    async fn find_identity(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Identity>> {
        let sql =
            format!("SELECT {IDENTITY_COLUMNS} FROM identities WHERE tenant_id = $1 AND id = $2");
        let (row, addresses) = with_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(store_error)?;
            let row: Option<IdentityRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant.0)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_error)?;
            let addresses = match &row {
                Some(r) => fetch_addresses!(tx, &[r.id]),
                None => Vec::new(),
            };
            tx.commit().await.map_err(store_error)?;
            (row, addresses)
        });
        row.map(|r| r.into_identity(&addresses)).transpose()
    }

    async fn find_identity_by_identifier(
        &self,
        tenant: TenantId,
        identifier: &str,
    ) -> StoreResult<Option<(Identity, Option<PasswordHash>)>> {
        let sql = format!(
            "SELECT {} FROM identities i JOIN identity_identifiers ii ON ii.identity_id = i.id \
             WHERE ii.tenant_id = $1 AND ii.identifier = $2 AND i.tenant_id = $1",
            IDENTITY_COLUMNS
                .split(", ")
                .map(|c| format!("i.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let (row, addresses, hash) = with_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(store_error)?;
            let row: Option<IdentityRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant.0)
                .bind(identifier)
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_error)?;
            let (addresses, hash) = match &row {
                Some(r) => {
                    let addresses = fetch_addresses!(tx, &[r.id]);
                    let hash: Option<HashRow> = sqlx::query_as(
                        "SELECT hash FROM identity_credentials WHERE identity_id = $1 AND type = 'password'",
                    )
                    .bind(r.id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?;
                    (addresses, hash)
                }
                None => (Vec::new(), None),
            };
            tx.commit().await.map_err(store_error)?;
            (row, addresses, hash)
        });
        let Some(row) = row else {
            return Ok(None);
        };
        let hash = hash
            .map(|h| PasswordHash::parse(&h.hash).map_err(|e| corrupt("password hash", e)))
            .transpose()?;
        Ok(Some((row.into_identity(&addresses)?, hash)))
    }

    async fn find_identity_by_address(
        &self,
        tenant: TenantId,
        kind: AddressKind,
        address: &str,
    ) -> StoreResult<Option<Identity>> {
        let sql = format!(
            "SELECT {} FROM identities i WHERE i.tenant_id = $1 AND i.id IN \
             (SELECT a.identity_id FROM identity_addresses a WHERE a.kind = $2 AND a.via = 'email' \
              AND a.value = $3) ORDER BY i.id LIMIT 1",
            IDENTITY_COLUMNS
                .split(", ")
                .map(|c| format!("i.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let (row, addresses) = with_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(store_error)?;
            let row: Option<IdentityRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant.0)
                .bind(kind.as_str())
                .bind(address)
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_error)?;
            let addresses = match &row {
                Some(r) => fetch_addresses!(tx, &[r.id]),
                None => Vec::new(),
            };
            tx.commit().await.map_err(store_error)?;
            (row, addresses)
        });
        row.map(|r| r.into_identity(&addresses)).transpose()
    }

    async fn list_identities(
        &self,
        tenant: TenantId,
        filter: &IdentityFilter,
    ) -> StoreResult<IdentityPage> {
        let limit = filter.limit.max(1);
        // NULL parameters switch a condition off, so one statement serves every filter.
        let sql = format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities WHERE tenant_id = $1 \
             AND ($2 IS NULL OR id IN (SELECT identity_id FROM identity_identifiers \
                                       WHERE tenant_id = $1 AND identifier = $2)) \
             AND ($5 IS NULL OR id IN (SELECT identity_id FROM identity_identifiers \
                                       WHERE tenant_id = $1 AND identifier LIKE $5 ESCAPE '\\')) \
             AND ($3 IS NULL OR id > $3) ORDER BY id LIMIT $4"
        );
        // `%text%`, with the pattern's own wildcards escaped.
        let contains = filter.identifier_contains.as_deref().map(|text| {
            let escaped = text
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        let (mut rows, addresses) = with_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(store_error)?;
            let mut rows: Vec<IdentityRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant.0)
                .bind(filter.identifier.as_deref())
                .bind(filter.after)
                .bind(i64::from(limit) + 1)
                .bind(contains.as_deref())
                .fetch_all(&mut *tx)
                .await
                .map_err(store_error)?;
            rows.truncate(limit as usize + 1);
            let ids: Vec<Uuid> = rows.iter().take(limit as usize).map(|r| r.id).collect();
            let addresses = fetch_addresses!(tx, &ids);
            tx.commit().await.map_err(store_error)?;
            (rows, addresses)
        });
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = if more {
            rows.last().map(|r| r.id)
        } else {
            None
        };
        let identities = rows
            .into_iter()
            .map(|r| r.into_identity(&addresses))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(IdentityPage { identities, next })
    }

    async fn update_identity(
        &self,
        identity: &Identity,
        identifiers: &[String],
    ) -> StoreResult<()> {
        self.replace_identity(identity, identifiers, None).await
    }

    async fn update_identity_with_password(
        &self,
        identity: &Identity,
        identifiers: &[String],
        password: &PasswordHash,
    ) -> StoreResult<()> {
        self.replace_identity(identity, identifiers, Some(password))
            .await
    }

    async fn update_password_hash(
        &self,
        tenant: TenantId,
        id: Uuid,
        hash: &PasswordHash,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(store_error)?;
            let exists: Option<(Uuid,)> =
                sqlx::query_as("SELECT id FROM identities WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.0)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?;
            if exists.is_none() {
                return Err(StoreError::NotFound);
            }
            upsert_password!(tx, id, hash, now);
            tx.commit().await.map_err(store_error)?;
        });
        Ok(())
    }

    async fn delete_identity(&self, tenant: TenantId, id: Uuid) -> StoreResult<()> {
        let affected = with_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(store_error)?;
            // Clients the person registered stop working with them; the foreign key then
            // clears their owner as the identity goes.
            sqlx::query(
                "UPDATE oauth2_clients SET active = $3 WHERE tenant_id = $1 AND owner_identity_id = $2",
            )
            .bind(tenant.0)
            .bind(id)
            .bind(false)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
            let affected = sqlx::query("DELETE FROM identities WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?
                .rows_affected();
            tx.commit().await.map_err(store_error)?;
            affected
        });
        if affected == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }
}
