//! An app's social sign-in providers in the console (`GET|POST /console/apps/{id}/providers`,
//! `POST …/providers/{name}/delete`): the configured providers (never their secrets), and a form
//! that adds one or replaces one of the same name, through the same checks and sealing as
//! `PUT /admin/tenants/{id}/providers/{name}`.

use super::apps::AppView;
use super::{
    DeveloperView, csrf_pair, developer, developer_posting, flash, form_field, owned_app, page,
    redirect_with, to_login,
};
use crate::admin::social_providers::{ProviderInput, save};
use crate::extract::RequestMeta;
use crate::identity::session::CurrentSession;
use crate::state::AppState;
use crate::ui::PageError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_domain::secret::Secret;
use gatehouse_domain::social::ProviderEndpoints;
use gatehouse_domain::store::StoreError;
use gatehouse_domain::tenant::Tenant;
use serde::Serialize;

#[derive(Serialize)]
struct ProviderView {
    name: String,
    kind: &'static str,
    issuer: Option<String>,
    client_id: String,
    scopes: String,
    redirect_uri: String,
    enabled: bool,
    callback: String,
}

/// The form's values (never the secret) and why the last submission was refused.
#[derive(Serialize, Default)]
struct ProviderForm {
    name: String,
    kind: String,
    issuer: String,
    client_id: String,
    scopes: String,
    redirect_uri: String,
    enabled: bool,
    error: Option<String>,
}

#[derive(Serialize)]
struct ProvidersPage {
    title: &'static str,
    flash: Option<&'static str>,
    developer: DeveloperView,
    csrf_token: String,
    app: AppView,
    providers: Vec<ProviderView>,
    form: ProviderForm,
}

async fn render(
    state: &AppState,
    developer: &CurrentSession,
    headers: &HeaderMap,
    app: &Tenant,
    form: ProviderForm,
) -> Result<Response, PageError> {
    let providers = state.store.list_social_providers(app.id).await?;
    let (csrf_token, csrf_cookie) = csrf_pair(state, headers);
    let context = ProvidersPage {
        title: "Social sign-in",
        flash: flash(state, headers),
        developer: DeveloperView::new(state, developer),
        csrf_token,
        app: AppView::new(app),
        providers: providers
            .into_iter()
            .map(|p| ProviderView {
                callback: state
                    .settings
                    .url(&format!("/api/auth/callback/{}/{}", p.name, app.id.0)),
                name: p.name,
                kind: p.kind.as_str(),
                issuer: p.issuer,
                client_id: p.client_id,
                scopes: p.scopes.join(" "),
                redirect_uri: p.redirect_uri,
                enabled: p.enabled,
            })
            .collect(),
        form,
    };
    page(
        state,
        "console/providers.html",
        context,
        csrf_cookie,
        headers,
    )
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
    let form = ProviderForm {
        kind: "github".to_owned(),
        enabled: true,
        ..ProviderForm::default()
    };
    render(&state, &developer, &headers, &app, form).await
}

pub(super) async fn save_provider(
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
    let field = |name: &str| {
        form_field(&body, name)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let mut form = ProviderForm {
        name: field("name"),
        kind: field("type"),
        issuer: field("issuer"),
        client_id: field("client_id"),
        scopes: field("scopes"),
        redirect_uri: field("redirect_uri"),
        enabled: form_field(&body, "enabled").is_some(),
        error: None,
    };
    let secret = field("client_secret");
    let input = ProviderInput {
        kind: form.kind.clone(),
        issuer: Some(form.issuer.clone()).filter(|i| !i.is_empty()),
        client_id: form.client_id.clone(),
        client_secret: Some(secret).filter(|s| !s.is_empty()).map(Secret::new),
        scopes: Some(form.scopes.clone())
            .filter(|s| !s.is_empty())
            .map(|s| s.split_whitespace().map(str::to_owned).collect()),
        redirect_uri: form.redirect_uri.clone(),
        enabled: form.enabled,
        token_in_redirect: false,
        endpoints: ProviderEndpoints::default(),
    };
    match save(&state, app.id, form.name.clone(), input).await {
        Ok(_) => Ok(redirect_with(
            &state,
            &format!("/console/apps/{}/providers", app.id.0),
            "settings_saved",
        )),
        Err(err) if err.status == StatusCode::BAD_REQUEST => {
            form.error = Some(err.reason.into_owned());
            let mut response = render(&state, &developer, &headers, &app, form).await?;
            *response.status_mut() = StatusCode::BAD_REQUEST;
            Ok(response)
        }
        Err(_) => Err(PageError::not_found("You have no app with this id.")),
    }
}

pub(super) async fn delete(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let Some(developer) = developer_posting(&state, &headers, &meta, &body).await? else {
        return Ok(to_login());
    };
    let app = owned_app(&state, &developer, &id).await?;
    match state.store.delete_social_provider(app.id, &name).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => {
            return Err(PageError::not_found("This app has no such provider."));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(redirect_with(
        &state,
        &format!("/console/apps/{}/providers", app.id.0),
        "provider_deleted",
    ))
}
