//! The account page's "Your applications": the clients the person registered, "Register an
//! application" (`POST /ui/account/applications`; the result page shows the client id and the
//! secret once, and nothing can show the secret again) and "Deactivate"
//! (`POST /ui/account/applications/{client_id}/deactivate`, then 303 back with a flash). Both
//! forms carry the CSRF field; a refused registration renders the account page with the error
//! and the values entered.

use super::account::{self, LOGIN, back_with, checked, when};
use super::{PageError, see_other};
use crate::extract::RequestMeta;
use crate::identity::session::MaybeSession;
use crate::oauth::user_clients::{self, UserClientError};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::oauth::client::ClientError;
use gatehouse_domain::oauth::user_client::{MAX_CLIENTS_PER_PERSON, UserClientRequest};
use gatehouse_domain::store::StoreError;
use serde::Serialize;
use uuid::Uuid;

/// One of the person's clients as the account page lists it.
#[derive(Serialize)]
pub struct ApplicationRow {
    name: String,
    client_id: String,
    redirect_uris: Vec<String>,
    created: String,
    active: bool,
}

/// The "Register an application" form's values, and why the last submission was refused.
#[derive(Serialize, Default)]
pub struct RegisterForm {
    client_name: String,
    description: String,
    website_url: String,
    /// One URI per line, as typed.
    redirect_uris: String,
    error: Option<String>,
}

/// The person's clients, oldest first.
pub async fn rows(state: &AppState, owner: Uuid) -> Result<Vec<ApplicationRow>, StoreError> {
    let clients = state
        .store
        .list_owned_clients(owner, None, MAX_CLIENTS_PER_PERSON * 2)
        .await?;
    Ok(clients
        .into_iter()
        .map(|c| ApplicationRow {
            name: c.metadata.client_name,
            client_id: c.client_id,
            redirect_uris: c.metadata.redirect_uris,
            created: when(c.created_at),
            active: c.active,
        })
        .collect())
}

#[derive(Serialize)]
struct CreatedPage {
    title: &'static str,
    flash: Option<&'static str>,
    client_name: String,
    client_id: String,
    client_secret: Option<String>,
    redirect_uris: Vec<String>,
}

fn form_fields(body: &[u8]) -> RegisterForm {
    let mut form = RegisterForm::default();
    for (name, value) in url::form_urlencoded::parse(body) {
        let slot = match name.as_ref() {
            "client_name" => &mut form.client_name,
            "description" => &mut form.description,
            "website_url" => &mut form.website_url,
            "redirect_uris" => &mut form.redirect_uris,
            _ => continue,
        };
        *slot = value.into_owned();
    }
    form
}

/// The refusal in the form's words: the field's label, then the reason.
fn refusal(err: &ClientError) -> String {
    let ClientError::Invalid { field, reason } = err else {
        return err.to_string();
    };
    let label = match *field {
        "client_name" => "Application name",
        "description" => "Description",
        "website_url" => "Website",
        "redirect_uris" => "Redirect URIs",
        other => other,
    };
    format!("{label}: {reason}")
}

pub async fn register(
    State(state): State<AppState>,
    MaybeSession(current): MaybeSession,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let Some(current) = checked(&state, current, &headers, &body)? else {
        return Ok(see_other(LOGIN, None));
    };
    let mut form = form_fields(&body);
    let request = UserClientRequest {
        client_name: form.client_name.clone(),
        description: form.description.clone(),
        website_url: form.website_url.clone(),
        redirect_uris: form
            .redirect_uris
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect(),
        ..UserClientRequest::default()
    };
    let refused = match user_clients::register(&state, &current, &meta, request).await {
        Ok(created) => {
            let client_secret = created.secret.as_ref().map(|s| s.expose().to_owned());
            let client = created.client;
            let html = state.pages.render(
                "account_application.html",
                CreatedPage {
                    title: "Application registered",
                    flash: None,
                    client_name: client.metadata.client_name,
                    client_id: client.client_id,
                    client_secret,
                    redirect_uris: client.metadata.redirect_uris,
                },
            )?;
            return Ok(html.into_response());
        }
        Err(UserClientError::Invalid(e)) => refusal(&e),
        Err(UserClientError::LimitReached) => format!(
            "You already have {MAX_CLIENTS_PER_PERSON} applications (deactivated ones count too). \
             An operator can delete the ones you no longer need."
        ),
        Err(UserClientError::Store(e)) => return Err(e.into()),
    };
    form.error = Some(refused);
    let mut response = account::render(&state, &current, &headers, None, form).await?;
    *response.status_mut() = StatusCode::BAD_REQUEST;
    Ok(response)
}

pub async fn deactivate(
    State(state): State<AppState>,
    MaybeSession(current): MaybeSession,
    meta: RequestMeta,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let Some(current) = checked(&state, current, &headers, &body)? else {
        return Ok(see_other(LOGIN, None));
    };
    if !user_clients::deactivate(&state, &current, &meta, &client_id).await? {
        return Err(PageError::not_found(
            "You have no application with this client ID.",
        ));
    }
    Ok(back_with(
        &state,
        current.session.tenant_id,
        "application_deactivated",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_form_and_words_refusals_with_labels() {
        let form = form_fields(
            b"csrf_token=x&client_name=My+app&redirect_uris=https%3A%2F%2Fa.example%2Fcb%0D%0Ahttp%3A%2F%2Flocalhost%2Fcb",
        );
        assert_eq!(form.client_name, "My app");
        assert_eq!(form.redirect_uris.lines().count(), 2);
        let err = ClientError::Invalid {
            field: "redirect_uris",
            reason: "at least one redirect URI is required".into(),
        };
        assert_eq!(
            refusal(&err),
            "Redirect URIs: at least one redirect URI is required"
        );
    }
}
