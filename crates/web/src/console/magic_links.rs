//! An app's magic-link settings in the console (`GET|POST /console/apps/{id}/magic-links`):
//! whether its backend may send magic links, how long a link works, and the app's
//! `redirect_uri` (where an opened link, and social sign-in, hand the browser back with a
//! one-time code). Saved through the same rules as `PUT /admin/tenants/{id}`.

use super::apps::AppView;
use super::{
    DeveloperView, csrf_pair, developer, developer_posting, flash, form_field, owned_app, page,
    redirect_with, to_login,
};
use crate::extract::RequestMeta;
use crate::identity::session::CurrentSession;
use crate::state::AppState;
use crate::ui::PageError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_domain::magic_link::{DEFAULT_LIFESPAN, MAX_LIFESPAN};
use gatehouse_domain::tenant::{MagicLinkSettings, Tenant, TenantSettings};
use serde::Serialize;

/// The form's values and what was wrong with the last submission.
#[derive(Serialize)]
struct SettingsForm {
    enabled: bool,
    lifespan_minutes: String,
    redirect_uri: String,
    error: Option<String>,
}

impl SettingsForm {
    fn of(app: &Tenant) -> Self {
        let link = app.settings.magic_link;
        Self {
            enabled: link.enabled,
            lifespan_minutes: link.lifespan().whole_minutes().to_string(),
            redirect_uri: app.settings.redirect_uri.clone().unwrap_or_default(),
            error: None,
        }
    }
}

#[derive(Serialize)]
struct SettingsPage {
    title: &'static str,
    flash: Option<&'static str>,
    developer: DeveloperView,
    csrf_token: String,
    app: AppView,
    form: SettingsForm,
    default_minutes: i64,
    max_minutes: i64,
}

async fn render(
    state: &AppState,
    developer: &CurrentSession,
    headers: &HeaderMap,
    app: &Tenant,
    form: SettingsForm,
) -> Result<Response, PageError> {
    let (csrf_token, csrf_cookie) = csrf_pair(state, headers);
    let context = SettingsPage {
        title: "Magic links",
        flash: flash(state, headers),
        developer: DeveloperView::new(state, developer),
        csrf_token,
        app: AppView::new(app),
        form,
        default_minutes: DEFAULT_LIFESPAN.whole_minutes(),
        max_minutes: MAX_LIFESPAN.whole_minutes(),
    };
    page(
        state,
        "console/magic_links.html",
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
    let form = SettingsForm::of(&app);
    render(&state, &developer, &headers, &app, form).await
}

pub(super) async fn save(
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
    let mut form = SettingsForm {
        enabled: form_field(&body, "enabled").is_some(),
        lifespan_minutes: form_field(&body, "lifespan_minutes")
            .unwrap_or_default()
            .trim()
            .to_owned(),
        redirect_uri: form_field(&body, "redirect_uri")
            .unwrap_or_default()
            .trim()
            .to_owned(),
        error: None,
    };
    let minutes = match form.lifespan_minutes.parse::<u32>() {
        Ok(m) => Some(m),
        Err(_) if form.lifespan_minutes.is_empty() => None,
        Err(_) => {
            form.error = Some("The lifespan is a whole number of minutes.".to_owned());
            return refused(&state, &developer, &headers, &app, form).await;
        }
    };
    let magic_link = MagicLinkSettings {
        enabled: form.enabled,
        lifespan_minutes: minutes,
    };
    let redirect_uri = Some(form.redirect_uri.clone()).filter(|u| !u.is_empty());
    let mut settings =
        match TenantSettings::parse(redirect_uri, &app.settings.allowed_return_urls, magic_link) {
            Ok(settings) => settings,
            Err(err) => {
                form.error = Some(err.to_string());
                return refused(&state, &developer, &headers, &app, form).await;
            }
        };
    settings.identity_schema = app.settings.identity_schema.clone();
    app.settings = settings;
    super::apps::save(&state, &developer, &meta, &mut app).await?;
    Ok(redirect_with(
        &state,
        &format!("/console/apps/{}/magic-links", app.id.0),
        "settings_saved",
    ))
}

async fn refused(
    state: &AppState,
    developer: &CurrentSession,
    headers: &HeaderMap,
    app: &Tenant,
    form: SettingsForm,
) -> Result<Response, PageError> {
    let mut response = render(state, developer, headers, app, form).await?;
    *response.status_mut() = StatusCode::BAD_REQUEST;
    Ok(response)
}
