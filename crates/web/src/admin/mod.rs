//! The admin API (admin listener). Every `/admin/*` route requires
//! `Authorization: Bearer <admin token>`, compared in constant time.

pub mod audit;
pub mod clients;
pub mod consents;
pub mod courier;
pub mod identities;
pub mod ip_bans;
pub mod json_patch;
pub mod keys;
pub mod recovery;
pub mod scopes;
pub mod sessions;
pub mod social_providers;
pub mod tenants;
pub mod webhooks;

use crate::error::ApiError;
use crate::oauth::introspect;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post};

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin/clients", get(clients::list).post(clients::create))
        .route(
            "/admin/clients/{client_id}",
            get(clients::get)
                .put(clients::replace)
                .patch(clients::patch)
                .delete(clients::delete),
        )
        .route(
            "/admin/identities",
            get(identities::list).post(identities::create),
        )
        .route(
            "/admin/identities/{id}",
            get(identities::get)
                .put(identities::put)
                .patch(identities::patch)
                .delete(identities::delete),
        )
        .route("/admin/sessions", get(sessions::list))
        .route(
            "/admin/sessions/{id}",
            get(sessions::get).delete(sessions::revoke),
        )
        .route(
            "/admin/identities/{id}/sessions",
            get(sessions::list_for_identity).delete(sessions::revoke_for_identity),
        )
        .route("/admin/recovery/code", post(recovery::create_code))
        .route("/admin/keys", get(keys::list))
        .route("/admin/keys/rotate", post(keys::rotate))
        .route("/admin/oauth2/introspect", post(introspect::admin_post))
        .route(
            "/admin/oauth2/consents",
            get(consents::list).delete(consents::revoke),
        )
        .route("/admin/audit-events", get(audit::list))
        .route("/admin/courier/messages", get(courier::list))
        .route("/admin/ip-bans", get(ip_bans::list).post(ip_bans::create))
        .route("/admin/ip-bans/{id}", delete(ip_bans::delete))
        .route("/admin/webhooks", get(webhooks::list_webhooks))
        .route("/admin/webhooks/deliveries", get(webhooks::list_deliveries))
        .route(
            "/admin/webhooks/deliveries/{id}",
            get(webhooks::get_delivery),
        )
        .route("/admin/scopes", get(scopes::list).post(scopes::create))
        .route("/admin/tenants/{id}/providers", get(social_providers::list))
        .route(
            "/admin/tenants/{id}/providers/{name}",
            get(social_providers::get)
                .put(social_providers::put)
                .delete(social_providers::delete),
        )
        .route(
            "/admin/scopes/{name}",
            get(scopes::get).put(scopes::replace).delete(scopes::delete),
        )
        .route("/admin/tenants", get(tenants::list).post(tenants::create))
        .route(
            "/admin/tenants/{id}",
            get(tenants::get)
                .put(tenants::replace)
                .patch(tenants::patch)
                .delete(tenants::delete),
        )
        .route(
            "/admin/tenants/{id}/api-keys",
            get(tenants::list_api_keys).post(tenants::create_api_key),
        )
        .route(
            "/admin/tenants/{id}/api-keys/{key_id}",
            delete(tenants::revoke_api_key),
        )
        .route_layer(middleware::from_fn_with_state(state, require_admin_token))
}

async fn require_admin_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match presented {
        Some(token) if state.settings.admin_token.matches(token) => Ok(next.run(request).await),
        _ => Err(ApiError::unauthorized()),
    }
}

/// Adds `Link: <path?page_size=…&page_token=…&filters>; rel="next"` to a list answer, carrying
/// over the filters that are set (form-encoded), so a client can follow pages unchanged.
pub(crate) fn link_next(
    response: &mut Response,
    path: &str,
    page_size: u32,
    page_token: &str,
    filters: &[(&str, Option<String>)],
) {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("page_size", &page_size.to_string());
    query.append_pair("page_token", page_token);
    for (name, value) in filters {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    let link = format!("<{path}?{}>; rel=\"next\"", query.finish());
    if let Ok(value) = header::HeaderValue::from_str(&link) {
        response.headers_mut().insert(header::LINK, value);
    }
}
