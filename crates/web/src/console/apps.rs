//! The console's app pages: "Your apps" with "Create an app" (`GET /console/`,
//! `POST /console/apps`), an app's page with its id, API keys, rename and delete
//! (`GET /console/apps/{id}`, `POST …/rename`), and the confirmation before deleting
//! (`GET|POST …/delete`).

use super::{
    DeveloperView, csrf_pair, developer, developer_posting, flash, form_field, name_refusal,
    owned_app, page, redirect_with, to_login,
};
use crate::apps::{self, ChangedBy};
use crate::extract::RequestMeta;
use crate::identity::session::CurrentSession;
use crate::state::AppState;
use crate::ui::PageError;
use crate::ui::account::when;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_domain::identity::stored_precision;
use gatehouse_domain::store::StoreError;
use gatehouse_domain::tenant::{MAX_APPS_PER_DEVELOPER, Tenant, TenantSettings, parse_name};
use serde::Serialize;

/// An app as the console shows it.
#[derive(Serialize)]
pub(super) struct AppView {
    pub(super) id: String,
    pub(super) name: String,
    created: String,
}

impl AppView {
    pub(super) fn new(tenant: &Tenant) -> Self {
        Self {
            id: tenant.id.0.to_string(),
            name: tenant.name.clone(),
            created: when(tenant.created_at),
        }
    }
}

/// A one-field form's value and why its last submission was refused.
#[derive(Serialize, Default)]
pub(super) struct NameForm {
    pub(super) name: String,
    pub(super) error: Option<String>,
}

#[derive(Serialize)]
struct AppsPage {
    title: &'static str,
    flash: Option<&'static str>,
    developer: DeveloperView,
    csrf_token: String,
    apps: Vec<AppView>,
    create: NameForm,
}

/// "Your apps", with `create` as the form's values and error.
async fn render_list(
    state: &AppState,
    developer: &CurrentSession,
    headers: &HeaderMap,
    create: NameForm,
) -> Result<Response, PageError> {
    let owned = state
        .store
        .list_owned_tenants(developer.identity.id)
        .await?;
    let (csrf_token, csrf_cookie) = csrf_pair(state, headers);
    let context = AppsPage {
        title: "Your apps",
        flash: flash(state, headers),
        developer: DeveloperView::new(state, developer),
        csrf_token,
        apps: owned.iter().map(AppView::new).collect(),
        create,
    };
    page(state, "console/apps.html", context, csrf_cookie, headers)
}

pub(super) async fn list(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(developer) = developer(&state, &headers, &meta).await? else {
        return Ok(to_login());
    };
    render_list(&state, &developer, &headers, NameForm::default()).await
}

/// The list page again, with the refused name and why, answered with `status`.
async fn refused(
    state: &AppState,
    developer: &CurrentSession,
    headers: &HeaderMap,
    form: NameForm,
    status: StatusCode,
) -> Result<Response, PageError> {
    let mut response = render_list(state, developer, headers, form).await?;
    *response.status_mut() = status;
    Ok(response)
}

pub(super) async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let Some(developer) = developer_posting(&state, &headers, &meta, &body).await? else {
        return Ok(to_login());
    };
    let typed = form_field(&body, "name").unwrap_or_default();
    let name = match parse_name(&typed) {
        Ok(name) => name,
        Err(err) => {
            let form = NameForm {
                name: typed,
                error: Some(name_refusal(&err)),
            };
            return refused(&state, &developer, &headers, form, StatusCode::BAD_REQUEST).await;
        }
    };
    let tenant = Tenant::new(
        name,
        TenantSettings::default(),
        stored_precision(state.now()),
    );
    let by = ChangedBy::Developer {
        id: developer.identity.id,
        request: &meta,
    };
    if !apps::create(&state, &tenant, by).await? {
        let form = NameForm {
            name: typed,
            error: Some(format!(
                "You already have {MAX_APPS_PER_DEVELOPER} apps, the most one account may have. \
                 Delete one to create another."
            )),
        };
        return refused(&state, &developer, &headers, form, StatusCode::CONFLICT).await;
    }
    Ok(redirect_with(
        &state,
        &format!("/console/apps/{}", tenant.id.0),
        "app_created",
    ))
}

/// One of an app's API keys as its page lists it: never the key, only its first characters.
#[derive(Serialize)]
struct KeyRow {
    id: String,
    name: String,
    prefix: String,
    created: String,
    last_used: Option<String>,
}

#[derive(Serialize)]
struct AppPage {
    title: String,
    flash: Option<&'static str>,
    developer: DeveloperView,
    csrf_token: String,
    app: AppView,
    keys: Vec<KeyRow>,
    rename: NameForm,
    new_key: NameForm,
}

/// The forms of an app's page that can come back refused.
#[derive(Default)]
pub(super) struct AppForms {
    pub(super) rename: Option<NameForm>,
    pub(super) new_key: NameForm,
}

/// The app's page; `forms` carry a refused submission's values and error.
pub(super) async fn render_app(
    state: &AppState,
    developer: &CurrentSession,
    headers: &HeaderMap,
    app: &Tenant,
    forms: AppForms,
) -> Result<Response, PageError> {
    let keys = state.store.list_api_keys(app.id).await?;
    let (csrf_token, csrf_cookie) = csrf_pair(state, headers);
    let context = AppPage {
        title: app.name.clone(),
        flash: flash(state, headers),
        developer: DeveloperView::new(state, developer),
        csrf_token,
        app: AppView::new(app),
        keys: keys
            .iter()
            .map(|k| KeyRow {
                id: k.id.to_string(),
                name: k.name.clone(),
                prefix: k.prefix.clone(),
                created: when(k.created_at),
                last_used: k.last_used_at.map(when),
            })
            .collect(),
        rename: forms.rename.unwrap_or_else(|| NameForm {
            name: app.name.clone(),
            error: None,
        }),
        new_key: forms.new_key,
    };
    page(state, "console/app.html", context, csrf_cookie, headers)
}

pub(super) async fn show(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(developer) = developer(&state, &headers, &meta).await? else {
        return Ok(to_login());
    };
    let app = owned_app(&state, &developer, &id).await?;
    render_app(&state, &developer, &headers, &app, AppForms::default()).await
}

pub(super) async fn rename(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let Some(developer) = developer_posting(&state, &headers, &meta, &body).await? else {
        return Ok(to_login());
    };
    let mut app = owned_app(&state, &developer, &id).await?;
    let typed = form_field(&body, "app_name").unwrap_or_default();
    let name = match parse_name(&typed) {
        Ok(name) => name,
        Err(err) => {
            let forms = AppForms {
                rename: Some(NameForm {
                    name: typed,
                    error: Some(name_refusal(&err)),
                }),
                ..AppForms::default()
            };
            let mut response = render_app(&state, &developer, &headers, &app, forms).await?;
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(response);
        }
    };
    app.name = name;
    save(&state, &developer, &meta, &mut app).await?;
    Ok(redirect_with(
        &state,
        &format!("/console/apps/{}", app.id.0),
        "app_renamed",
    ))
}

/// Stores the developer's change to `app` (stamped now, recorded with the developer as actor);
/// an app deleted meanwhile is "not found".
pub(super) async fn save(
    state: &AppState,
    developer: &CurrentSession,
    meta: &RequestMeta,
    app: &mut Tenant,
) -> Result<(), PageError> {
    app.updated_at = stored_precision(state.now());
    let by = ChangedBy::Developer {
        id: developer.identity.id,
        request: meta,
    };
    match apps::update(state, app, by).await {
        Ok(()) => Ok(()),
        Err(StoreError::NotFound) => Err(PageError::not_found("You have no app with this id.")),
        Err(e) => Err(e.into()),
    }
}

#[derive(Serialize)]
struct DeletePage {
    title: String,
    flash: Option<&'static str>,
    developer: DeveloperView,
    csrf_token: String,
    app: AppView,
}

pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(developer) = developer(&state, &headers, &meta).await? else {
        return Ok(to_login());
    };
    let app = owned_app(&state, &developer, &id).await?;
    let (csrf_token, csrf_cookie) = csrf_pair(&state, &headers);
    let context = DeletePage {
        title: format!("Delete {}", app.name),
        flash: None,
        developer: DeveloperView::new(&state, &developer),
        csrf_token,
        app: AppView::new(&app),
    };
    page(
        &state,
        "console/app_delete.html",
        context,
        csrf_cookie,
        &headers,
    )
}

pub(super) async fn delete(
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
    let by = ChangedBy::Developer {
        id: developer.identity.id,
        request: &meta,
    };
    match apps::delete(&state, &app, by).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => {
            return Err(PageError::not_found("You have no app with this id."));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(redirect_with(&state, "/console/", "app_deleted"))
}
