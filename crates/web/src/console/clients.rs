//! An app's OAuth 2.0 clients in the console (`GET|POST /console/apps/{id}/clients`): the list
//! (client id, name, redirect URIs, scopes, created), "Create a client" (the page that answers
//! shows the client secret, the only time it is ever shown), "Edit" (`GET|POST
//! …/clients/{client_id}`: name, redirect URIs and scopes; the type and the secret stay) and
//! "Delete" (`POST …/clients/{client_id}/delete`). These go through [`crate::apps`]
//! (`create_client`, `update_client`, `delete_client`), the rules of `/admin/clients` with the
//! app as the client's tenant.

use super::apps::AppView;
use super::{
    DeveloperView, csrf_pair, developer, developer_posting, flash, owned_app, page, redirect_with,
    to_login,
};
use crate::apps::{self, ChangedBy};
use crate::extract::RequestMeta;
use crate::identity::session::CurrentSession;
use crate::oauth::clients::ClientWriteError;
use crate::oauth::wire::ClientRequest;
use crate::state::AppState;
use crate::ui::PageError;
use crate::ui::account::when;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_domain::oauth::client::Client;
use gatehouse_domain::oauth::store::ClientFilter;
use gatehouse_domain::store::StoreError;
use gatehouse_domain::tenant::Tenant;
use serde::Serialize;

/// How many clients the page lists (an app with more is managed through the admin API).
const LISTED: u32 = 200;

#[derive(Serialize)]
struct ClientRow {
    client_id: String,
    name: String,
    redirect_uris: Vec<String>,
    scope: String,
    public: bool,
    created: String,
}

/// One scope of the app's catalog, as a checkbox of the form.
#[derive(Serialize)]
struct ScopeChoice {
    name: String,
    display_name: String,
    checked: bool,
}

/// The "Create a client" form's values and why its last submission was refused.
#[derive(Serialize, Default)]
struct ClientForm {
    name: String,
    redirect_uris: String,
    other_scopes: String,
    public: bool,
    error: Option<String>,
    #[serde(skip)]
    scopes: Vec<String>,
}

/// The app's scope catalog as the form's checkboxes, `checked` ticked.
fn catalog(state: &AppState, app: &Tenant, checked: &[String]) -> Vec<ScopeChoice> {
    state
        .scopes
        .snapshot()
        .active(app.id)
        .map(|s| ScopeChoice {
            name: s.name.clone(),
            display_name: s.display_name.clone(),
            checked: checked.contains(&s.name),
        })
        .collect()
}

#[derive(Serialize)]
struct ClientsPage {
    title: String,
    flash: Option<&'static str>,
    developer: DeveloperView,
    csrf_token: String,
    app: AppView,
    clients: Vec<ClientRow>,
    catalog: Vec<ScopeChoice>,
    form: ClientForm,
}

async fn render(
    state: &AppState,
    developer: &CurrentSession,
    headers: &HeaderMap,
    app: &Tenant,
    form: ClientForm,
) -> Result<Response, PageError> {
    let clients = state
        .store
        .list_clients(&ClientFilter {
            tenant_id: Some(app.id),
            client_name: None,
            after: None,
            limit: LISTED,
        })
        .await?;
    let catalog = catalog(state, app, &form.scopes);
    let (csrf_token, csrf_cookie) = csrf_pair(state, headers);
    let context = ClientsPage {
        title: format!("OAuth clients of {}", app.name),
        flash: flash(state, headers),
        developer: DeveloperView::new(state, developer),
        csrf_token,
        app: AppView::new(app),
        clients: clients
            .iter()
            .map(|c| ClientRow {
                client_id: c.client_id.clone(),
                name: c.metadata.client_name.clone(),
                redirect_uris: c.metadata.redirect_uris.clone(),
                scope: c.metadata.scope.to_string(),
                public: c.metadata.is_public(),
                created: when(c.created_at),
            })
            .collect(),
        catalog,
        form,
    };
    page(state, "console/clients.html", context, csrf_cookie, headers)
}

pub(super) async fn list(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(developer) = developer(&state, &headers, &meta).await? else {
        return Ok(to_login());
    };
    let app = owned_app(&state, &developer, &id).await?;
    render(&state, &developer, &headers, &app, ClientForm::default()).await
}

/// The form as typed: name, redirect URIs (one a line), checked catalog scopes plus other
/// scopes (space-separated), and the client type.
fn read_form(body: &[u8]) -> ClientForm {
    let mut form = ClientForm::default();
    for (field, value) in url::form_urlencoded::parse(body) {
        match field.as_ref() {
            "name" => form.name = value.into_owned(),
            "redirect_uris" => form.redirect_uris = value.into_owned(),
            "scope" => form.scopes.push(value.into_owned()),
            "other_scopes" => form.other_scopes = value.into_owned(),
            "client_type" => form.public = value == "public",
            _ => {}
        }
    }
    form
}

/// The admin API request the form stands for: a confidential client may use the
/// authorization code (when it has redirect URIs) and client credentials grants; a public
/// client uses the authorization code grant with PKCE and has no secret.
fn request_of(form: &ClientForm) -> Result<ClientRequest, String> {
    let name = form.name.trim();
    if name.is_empty() {
        return Err("Enter a name.".to_owned());
    }
    let redirect_uris: Vec<String> = form
        .redirect_uris
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if form.public && redirect_uris.is_empty() {
        return Err("A public client needs at least one redirect URI.".to_owned());
    }
    let mut grant_types = Vec::new();
    if !redirect_uris.is_empty() {
        grant_types.extend(["authorization_code".to_owned(), "refresh_token".to_owned()]);
    }
    if !form.public {
        grant_types.push("client_credentials".to_owned());
    }
    let mut scope: Vec<&str> = form.scopes.iter().map(String::as_str).collect();
    scope.extend(form.other_scopes.split_whitespace());
    Ok(ClientRequest {
        client_name: Some(name.to_owned()),
        redirect_uris: Some(redirect_uris),
        grant_types: Some(grant_types),
        scope: Some(scope.join(" ")),
        token_endpoint_auth_method: Some(
            if form.public {
                "none"
            } else {
                "client_secret_basic"
            }
            .to_owned(),
        ),
        ..ClientRequest::default()
    })
}

/// Why a client could not be stored, as the form says it; an app or client that is gone is the
/// page's 404 instead.
fn refusal(err: ClientWriteError) -> Result<String, PageError> {
    match err {
        ClientWriteError::Invalid(e) => Ok(format!("The client is not valid: {e}.")),
        err @ ClientWriteError::Taken => Ok(err.to_string()),
        ClientWriteError::UnknownTenant(_) => {
            Err(PageError::not_found("You have no app with this id."))
        }
        ClientWriteError::Store(StoreError::NotFound) => {
            Err(PageError::not_found("This app has no such client."))
        }
        ClientWriteError::Store(e) => Err(e.into()),
    }
}

#[derive(Serialize)]
struct CreatedClient {
    client_id: String,
    name: String,
    /// The secret itself: on this page only.
    secret: Option<String>,
}

#[derive(Serialize)]
struct ClientCreatedPage {
    title: &'static str,
    flash: Option<&'static str>,
    developer: DeveloperView,
    app: AppView,
    client: CreatedClient,
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
    let mut form = read_form(&body);
    let by = ChangedBy::Developer {
        id: developer.identity.id,
        request: &meta,
    };
    let refused = match request_of(&form) {
        Err(reason) => reason,
        Ok(req) => match apps::create_client(&state, app.id, req, by).await {
            Ok(created) => {
                let context = ClientCreatedPage {
                    title: "OAuth client created",
                    flash: None,
                    developer: DeveloperView::new(&state, &developer),
                    app: AppView::new(&app),
                    client: CreatedClient {
                        client_id: created.client.client_id.clone(),
                        name: created.client.metadata.client_name.clone(),
                        secret: created.secret.map(|s| s.expose().to_owned()),
                    },
                };
                // The page layer marks every console page `Cache-Control: no-store`.
                return page(
                    &state,
                    "console/client_created.html",
                    context,
                    None,
                    &headers,
                );
            }
            Err(err) => refusal(err)?,
        },
    };
    form.error = Some(refused);
    let mut response = render(&state, &developer, &headers, &app, form).await?;
    *response.status_mut() = StatusCode::BAD_REQUEST;
    Ok(response)
}

pub(super) async fn delete(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path((id, client_id)): Path<(String, String)>,
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
    match apps::delete_client(&state, app.id, &client_id, by).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => {
            return Err(PageError::not_found("This app has no such client."));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(redirect_with(
        &state,
        &format!("/console/apps/{}/clients", app.id.0),
        "client_deleted",
    ))
}

/// The "Edit the client" form, filled in from what the client has: the catalog's scopes as
/// checkboxes, the others as text.
fn form_of(state: &AppState, app: &Tenant, client: &Client) -> ClientForm {
    let snapshot = state.scopes.snapshot();
    let (scopes, others): (Vec<String>, Vec<String>) = client
        .metadata
        .scope
        .to_string()
        .split_whitespace()
        .map(str::to_owned)
        .partition(|s| snapshot.active(app.id).any(|c| c.name == *s));
    ClientForm {
        name: client.metadata.client_name.clone(),
        redirect_uris: client.metadata.redirect_uris.join("\n"),
        other_scopes: others.join(" "),
        public: client.metadata.is_public(),
        error: None,
        scopes,
    }
}

#[derive(Serialize)]
struct EditPage {
    title: String,
    flash: Option<&'static str>,
    developer: DeveloperView,
    csrf_token: String,
    app: AppView,
    client_id: String,
    catalog: Vec<ScopeChoice>,
    form: ClientForm,
}

fn render_edit(
    state: &AppState,
    developer: &CurrentSession,
    headers: &HeaderMap,
    app: &Tenant,
    client_id: &str,
    form: ClientForm,
) -> Result<Response, PageError> {
    let catalog = catalog(state, app, &form.scopes);
    let (csrf_token, csrf_cookie) = csrf_pair(state, headers);
    let context = EditPage {
        title: format!("Edit the client {}", form.name),
        flash: flash(state, headers),
        developer: DeveloperView::new(state, developer),
        csrf_token,
        app: AppView::new(app),
        client_id: client_id.to_owned(),
        catalog,
        form,
    };
    page(
        state,
        "console/client_edit.html",
        context,
        csrf_cookie,
        headers,
    )
}

/// The app's client `client_id`, or the page's 404.
async fn owned_client(
    state: &AppState,
    app: &Tenant,
    client_id: &str,
) -> Result<Client, PageError> {
    apps::find_client(state, app.id, client_id)
        .await?
        .ok_or_else(|| PageError::not_found("This app has no such client."))
}

pub(super) async fn edit(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path((id, client_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(developer) = developer(&state, &headers, &meta).await? else {
        return Ok(to_login());
    };
    let app = owned_app(&state, &developer, &id).await?;
    let client = owned_client(&state, &app, &client_id).await?;
    let form = form_of(&state, &app, &client);
    render_edit(&state, &developer, &headers, &app, &client.client_id, form)
}

pub(super) async fn update(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path((id, client_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let Some(developer) = developer_posting(&state, &headers, &meta, &body).await? else {
        return Ok(to_login());
    };
    let app = owned_app(&state, &developer, &id).await?;
    let client = owned_client(&state, &app, &client_id).await?;
    let mut form = read_form(&body);
    // The type is chosen once, at creation.
    form.public = client.metadata.is_public();
    let by = ChangedBy::Developer {
        id: developer.identity.id,
        request: &meta,
    };
    let refused = match request_of(&form) {
        Err(reason) => reason,
        Ok(edit) => match apps::update_client(&state, app.id, client, edit, by).await {
            Ok(_) => {
                return Ok(redirect_with(
                    &state,
                    &format!("/console/apps/{}/clients", app.id.0),
                    "client_updated",
                ));
            }
            Err(err) => refusal(err)?,
        },
    };
    form.error = Some(refused);
    let mut response = render_edit(&state, &developer, &headers, &app, &client_id, form)?;
    *response.status_mut() = StatusCode::BAD_REQUEST;
    Ok(response)
}
