//! Self-service flows: one row per flow, the document as JSON, updates compare-and-swap on a
//! version number.

use crate::{Store, Ts, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::flow::{Flow, FlowStore};
use gatehouse_domain::ids::TenantId;
use gatehouse_domain::store::{StoreError, StoreResult};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct FlowRow {
    version: i64,
    document: Json<Flow>,
}

#[async_trait]
impl FlowStore for Store {
    async fn insert_flow(&self, flow: &Flow) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO selfservice_flows (id, tenant_id, kind, version, document, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(flow.id)
            .bind(flow.tenant_id.0)
            .bind(flow.kind.as_str())
            .bind(flow.version)
            .bind(Json(flow))
            .bind(Ts(flow.expires_at))
            .execute(pool)
            .await
            .map_err(store_error)?;
        });
        Ok(())
    }

    async fn find_flow(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Flow>> {
        let row: Option<FlowRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT version, document FROM selfservice_flows WHERE id = $1 AND tenant_id = $2",
            )
            .bind(id)
            .bind(tenant.0)
            .fetch_optional(pool)
            .await
            .map_err(store_error)?
        });
        Ok(row.map(|row| {
            let mut flow = row.document.0;
            flow.version = row.version;
            flow
        }))
    }

    async fn find_flow_by_id(&self, id: Uuid) -> StoreResult<Option<Flow>> {
        let row: Option<FlowRow> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT version, document FROM selfservice_flows WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(store_error)?
        });
        Ok(row.map(|row| {
            let mut flow = row.document.0;
            flow.version = row.version;
            flow
        }))
    }

    async fn update_flow(&self, flow: &mut Flow) -> StoreResult<()> {
        let next = flow.version + 1;
        let affected = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE selfservice_flows SET version = $3, document = $4, expires_at = $5 \
                 WHERE id = $1 AND tenant_id = $2 AND version = $6",
            )
            .bind(flow.id)
            .bind(flow.tenant_id.0)
            .bind(next)
            .bind(Json(&*flow))
            .bind(Ts(flow.expires_at))
            .bind(flow.version)
            .execute(pool)
            .await
            .map_err(store_error)?
            .rows_affected()
        });
        if affected == 1 {
            flow.version = next;
            return Ok(());
        }
        // Either the flow is gone (expired and cleaned up) or another update came first.
        match self.find_flow(flow.tenant_id, flow.id).await? {
            Some(_) => Err(StoreError::Conflict {
                constraint: "flow_version".to_owned(),
            }),
            None => Err(StoreError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_document_round_trips() {
        let flow = Flow::new(
            TenantId::DEFAULT,
            gatehouse_domain::flow::FlowKind::Login,
            gatehouse_domain::flow::Flavor::Browser,
            Some("/ui/account".into()),
            time::Duration::hours(1),
            time::macros::datetime!(2026-01-01 00:00 UTC),
        );
        let text = serde_json::to_string(&flow).expect("serializes");
        let back: Flow = serde_json::from_str(&text).expect("deserializes");
        assert_eq!(back, flow);
    }
}
