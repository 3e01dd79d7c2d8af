//! An app's API keys in the console: "Create an API key" (`POST /console/apps/{id}/api-keys`;
//! the page that answers shows the key, the only time it is ever shown) and "Revoke"
//! (`POST /console/apps/{id}/api-keys/{key_id}/revoke`, then 303 back with a flash). The keys
//! themselves are listed on the app's page ([`super::apps`]).

use super::apps::{AppForms, AppView, NameForm, render_app};
use super::{
    DeveloperView, developer_posting, form_field, name_refusal, owned_app, page, redirect_with,
    to_login,
};
use crate::apps::{self, ChangedBy};
use crate::extract::RequestMeta;
use crate::state::AppState;
use crate::ui::PageError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_domain::store::StoreError;
use gatehouse_domain::tenant::parse_name;
use serde::Serialize;
use uuid::Uuid;

#[derive(Serialize)]
struct CreatedKey {
    name: String,
    /// The key itself: on this page only.
    secret: String,
}

#[derive(Serialize)]
struct KeyCreatedPage {
    title: &'static str,
    flash: Option<&'static str>,
    developer: DeveloperView,
    app: AppView,
    key: CreatedKey,
}

pub(super) async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let Some(developer) = developer_posting(&state, &headers, &meta, &body).await? else {
        return Ok(to_login());
    };
    let app = owned_app(&state, &developer, &id).await?;
    let typed = form_field(&body, "name").unwrap_or_default();
    let name = match parse_name(&typed) {
        Ok(name) => name,
        Err(err) => {
            let forms = AppForms {
                new_key: NameForm {
                    name: typed,
                    error: Some(name_refusal(&err)),
                },
                ..AppForms::default()
            };
            let mut response = render_app(&state, &developer, &headers, &app, forms).await?;
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(response);
        }
    };
    let by = ChangedBy::Developer {
        id: developer.identity.id,
        request: &meta,
    };
    let (key, secret) = match apps::create_api_key(&state, app.id, name, by).await {
        Ok(created) => created,
        Err(StoreError::NotFound) => {
            return Err(PageError::not_found("You have no app with this id."));
        }
        Err(e) => return Err(e.into()),
    };
    let context = KeyCreatedPage {
        title: "API key created",
        flash: None,
        developer: DeveloperView::new(&state, &developer),
        app: AppView::new(&app),
        key: CreatedKey {
            name: key.name,
            secret: secret.expose().to_owned(),
        },
    };
    // The page layer marks every console page `Cache-Control: no-store`.
    page(
        &state,
        "console/api_key_created.html",
        context,
        None,
        &headers,
    )
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path((id, key_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let Some(developer) = developer_posting(&state, &headers, &meta, &body).await? else {
        return Ok(to_login());
    };
    let app = owned_app(&state, &developer, &id).await?;
    let missing = || PageError::not_found("This app has no such API key.");
    let key_id = Uuid::try_parse(&key_id).map_err(|_| missing())?;
    let by = ChangedBy::Developer {
        id: developer.identity.id,
        request: &meta,
    };
    match apps::revoke_api_key(&state, app.id, key_id, by).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(missing()),
        Err(e) => return Err(e.into()),
    }
    Ok(redirect_with(
        &state,
        &format!("/console/apps/{}", app.id.0),
        "api_key_revoked",
    ))
}
