//! `/health/alive` (the process answers) and `/health/ready` (database reachable, migrations
//! applied, signing keys loaded).

use crate::state::AppState;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health/alive", get(alive))
        .route("/health/ready", get(ready))
}

async fn alive() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let mut errors = serde_json::Map::new();
    if let Err(err) = state.store.ping().await {
        tracing::warn!(error = %err, "readiness: database unreachable");
        errors.insert("database".into(), json!("unreachable"));
    } else {
        match state.store.migrations_applied().await {
            Ok(true) => {}
            Ok(false) => {
                errors.insert(
                    "migrations".into(),
                    json!("pending: run `gatehouse migrate apply`"),
                );
            }
            Err(_) => {
                errors.insert("migrations".into(), json!("unknown"));
            }
        }
    }
    if state.keys.current().is_err() {
        errors.insert("keys".into(), json!("signing keys not loaded"));
    }
    if errors.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ok" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "errors": errors })),
        )
    }
}
