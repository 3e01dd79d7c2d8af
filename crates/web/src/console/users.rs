//! An app's users in the console: the list with search by email address
//! (`GET /console/apps/{id}/users?q=`, pages linked by `?after=`), "Disable" and "Enable"
//! (`POST …/users/{user_id}/disable|enable`; disabling ends the user's sessions) and "Delete"
//! after a confirmation (`GET|POST …/users/{user_id}/delete`). The changes go through
//! [`crate::apps::set_identity_state`] and [`crate::apps::delete_identity`], the store calls of
//! `/admin/identities`.

use super::apps::AppView;
use super::{
    DeveloperView, csrf_pair, developer, developer_posting, flash, owned_app, page, redirect_with,
    to_login,
};
use crate::apps::{self, ChangedBy, IdentityChangeError};
use crate::extract::RequestMeta;
use crate::state::AppState;
use crate::ui::PageError;
use crate::ui::account::when;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use gatehouse_domain::identity::schema::normalize_identifier;
use gatehouse_domain::identity::store::IdentityFilter;
use gatehouse_domain::identity::{Identity, IdentityState};
use gatehouse_domain::store::StoreError;
use gatehouse_domain::tenant::Tenant;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const PAGE_SIZE: u32 = 50;

#[derive(Serialize)]
struct UserRow {
    id: String,
    email: String,
    active: bool,
    verified: bool,
    created: String,
}

impl UserRow {
    fn new(identity: &Identity) -> Self {
        Self {
            id: identity.id.to_string(),
            email: email_of(identity),
            active: identity.state == IdentityState::Active,
            verified: identity.verifiable_addresses.iter().any(|a| a.verified),
            created: when(identity.created_at),
        }
    }
}

fn email_of(identity: &Identity) -> String {
    identity
        .traits
        .get("email")
        .and_then(|e| e.as_str())
        .unwrap_or_default()
        .to_owned()
}

#[derive(Deserialize)]
pub(super) struct UsersQuery {
    q: Option<String>,
    after: Option<String>,
}

#[derive(Serialize)]
struct UsersPage {
    title: String,
    flash: Option<&'static str>,
    developer: DeveloperView,
    csrf_token: String,
    app: AppView,
    users: Vec<UserRow>,
    q: String,
    /// The `after` cursor of the next page, when there is one.
    next: Option<String>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path(id): Path<String>,
    query: Result<Query<UsersQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(developer) = developer(&state, &headers, &meta).await? else {
        return Ok(to_login());
    };
    let app = owned_app(&state, &developer, &id).await?;
    let query = query.ok().map(|Query(q)| q);
    let q = query
        .as_ref()
        .and_then(|q| q.q.as_deref())
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let after = match query.as_ref().and_then(|q| q.after.as_deref()) {
        None | Some("") => None,
        Some(raw) => Some(Uuid::try_parse(raw).map_err(|_| {
            PageError::bad_request("This page link is not valid: start again from the list.")
        })?),
    };
    let filter = IdentityFilter {
        identifier: None,
        identifier_contains: (!q.is_empty()).then(|| normalize_identifier(&q)),
        after,
        limit: PAGE_SIZE,
    };
    let found = state.store.list_identities(app.id, &filter).await?;
    let (csrf_token, csrf_cookie) = csrf_pair(&state, &headers);
    let context = UsersPage {
        title: format!("Users of {}", app.name),
        flash: flash(&state, &headers),
        developer: DeveloperView::new(&state, &developer),
        csrf_token,
        app: AppView::new(&app),
        users: found.identities.iter().map(UserRow::new).collect(),
        q,
        next: found.next.map(|n| n.to_string()),
    };
    page(&state, "console/users.html", context, csrf_cookie, &headers)
}

/// The user `raw` names among the app's users; "not found" for anything else.
async fn app_user(state: &AppState, app: &Tenant, raw: &str) -> Result<Identity, PageError> {
    let missing = || PageError::not_found("This app has no such user.");
    let id = Uuid::try_parse(raw).map_err(|_| missing())?;
    state
        .store
        .find_identity(app.id, id)
        .await?
        .ok_or_else(missing)
}

async fn set_state(
    state: AppState,
    meta: RequestMeta,
    (id, user_id): (String, String),
    headers: HeaderMap,
    body: Bytes,
    new_state: IdentityState,
) -> Result<Response, PageError> {
    let Some(developer) = developer_posting(&state, &headers, &meta, &body).await? else {
        return Ok(to_login());
    };
    let app = owned_app(&state, &developer, &id).await?;
    let user = app_user(&state, &app, &user_id).await?;
    let by = ChangedBy::Developer {
        id: developer.identity.id,
        request: &meta,
    };
    match apps::set_identity_state(&state, user, new_state, by).await {
        Ok(_) => {}
        Err(IdentityChangeError::Store(StoreError::NotFound)) => {
            return Err(PageError::not_found("This app has no such user."));
        }
        Err(IdentityChangeError::InvalidTraits(_)) => {
            return Err(PageError::bad_request(
                "This user's profile no longer matches the app's identity schema, so it cannot be changed here.",
            ));
        }
        Err(IdentityChangeError::Store(e)) => return Err(e.into()),
    }
    let flash = match new_state {
        IdentityState::Active => "user_enabled",
        IdentityState::Inactive => "user_disabled",
    };
    Ok(redirect_with(
        &state,
        &format!("/console/apps/{}/users", app.id.0),
        flash,
    ))
}

pub(super) async fn disable(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path(ids): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    set_state(state, meta, ids, headers, body, IdentityState::Inactive).await
}

pub(super) async fn enable(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path(ids): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    set_state(state, meta, ids, headers, body, IdentityState::Active).await
}

#[derive(Serialize)]
struct DeletePage {
    title: String,
    flash: Option<&'static str>,
    developer: DeveloperView,
    csrf_token: String,
    app: AppView,
    user: UserRow,
}

pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path((id, user_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(developer) = developer(&state, &headers, &meta).await? else {
        return Ok(to_login());
    };
    let app = owned_app(&state, &developer, &id).await?;
    let user = app_user(&state, &app, &user_id).await?;
    let (csrf_token, csrf_cookie) = csrf_pair(&state, &headers);
    let context = DeletePage {
        title: format!("Delete {}", email_of(&user)),
        flash: None,
        developer: DeveloperView::new(&state, &developer),
        csrf_token,
        app: AppView::new(&app),
        user: UserRow::new(&user),
    };
    page(
        &state,
        "console/user_delete.html",
        context,
        csrf_cookie,
        &headers,
    )
}

pub(super) async fn delete(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path((id, user_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let Some(developer) = developer_posting(&state, &headers, &meta, &body).await? else {
        return Ok(to_login());
    };
    let app = owned_app(&state, &developer, &id).await?;
    let user = app_user(&state, &app, &user_id).await?;
    let by = ChangedBy::Developer {
        id: developer.identity.id,
        request: &meta,
    };
    match apps::delete_identity(&state, app.id, user.id, by).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => {
            return Err(PageError::not_found("This app has no such user."));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(redirect_with(
        &state,
        &format!("/console/apps/{}/users", app.id.0),
        "user_deleted",
    ))
}
