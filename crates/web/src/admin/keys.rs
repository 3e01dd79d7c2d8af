//! `/admin/keys` (list with state) and `/admin/keys/rotate`.

use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use gatehouse_domain::keys::KeyAlg;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Serialize)]
pub struct KeyResponse {
    pub kid: String,
    pub alg: &'static str,
    /// `current`, `next` (published, not yet signing), `retiring` (published, no longer signing).
    pub state: &'static str,
    pub created_at: String,
    pub signs_from: String,
    pub published_until: Option<String>,
    pub public_jwk: serde_json::Value,
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<KeyResponse>>, ApiError> {
    let now = state.now();
    let keys = state.store.list_signing_keys(now).await?;
    let current = state.keys.current().ok();
    Ok(Json(
        keys.into_iter()
            .map(|k| {
                let signing = current
                    .as_ref()
                    .and_then(|set| set.signing_key(k.alg).ok())
                    .is_some_and(|s| s.kid() == k.kid);
                KeyResponse {
                    state: if signing { "current" } else { k.state(now) },
                    alg: k.alg.as_str(),
                    created_at: rfc3339(k.created_at),
                    signs_from: rfc3339(k.signs_from),
                    published_until: k.published_until.map(rfc3339),
                    public_jwk: k.public_jwk,
                    kid: k.kid,
                }
            })
            .collect(),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct RotateRequest {
    /// `ES256`, `RS256`; both when absent.
    alg: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RotateResponse {
    pub rotated: Vec<String>,
}

pub async fn rotate(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<RotateResponse>, ApiError> {
    let req: RotateRequest = if body.is_empty() {
        RotateRequest::default()
    } else {
        crate::extract::json::parse(&body)?
    };
    let algs =
        match req.alg.as_deref() {
            None => KeyAlg::ALL.to_vec(),
            Some(a) => vec![KeyAlg::parse(a).ok_or_else(|| {
                ApiError::bad_request("invalid_alg", "alg must be ES256 or RS256")
            })?],
        };
    let s = &state.settings;
    let mut rotated = Vec::new();
    for alg in algs {
        let kid = state
            .keys
            .rotate(
                state.store.as_ref(),
                &state.cipher,
                alg,
                state.now(),
                s.key_publish_ahead,
                s.max_token_lifespan,
            )
            .await
            .map_err(|e| ApiError::internal("key rotation failed", &e))?;
        rotated.push(kid);
    }
    Ok(Json(RotateResponse { rotated }))
}
