//! The refresh token grant at `/oauth2/token` (RFC 6749 §6, OpenID Connect Core §12): the
//! presented token must belong to the authenticated client and may only narrow its scope; it is
//! rotated (used once, a successor issued in its family), and presenting a used one outside the
//! reuse grace revokes the whole family (DESIGN.md §4.4).

use super::code_grant::{SignIn, access_claims, id_token, invalid_grant, refresh_policy};
use super::token::{TokenResponse, issue};
use crate::audit;
use crate::error::OAuthError;
use crate::extract::form::FormParams;
use crate::state::AppState;
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::identity::IdentityState;
use gatehouse_domain::oauth::client::{Client, GrantType};
use gatehouse_domain::oauth::refresh::{RefreshError, RefreshToken, Rotation, check_refresh};
use gatehouse_domain::oauth::scope::Scope;
use gatehouse_domain::secret::TokenHash;

/// `grant_type=refresh_token` for an authenticated `client`.
pub async fn exchange(
    state: &AppState,
    client: &Client,
    form: &mut FormParams,
) -> Result<TokenResponse, OAuthError> {
    if !client.metadata.allows_grant(GrantType::RefreshToken) {
        return Err(OAuthError::unauthorized_client(
            "the client may not use the refresh token grant",
        ));
    }
    let presented = form.require("refresh_token")?;
    let requested = form
        .take("scope")
        .map(|s| Scope::parse(&s))
        .transpose()
        .map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
    let hash = TokenHash::of(&presented);
    let now = state.now();
    let invalid = || invalid_grant("the refresh token is invalid, expired or revoked");
    let found = state
        .store
        .find_refresh_token(&hash)
        .await?
        .ok_or_else(invalid)?;
    let scope =
        check_refresh(&found, &client.client_id, requested.as_ref()).map_err(|e| match e {
            RefreshError::ClientMismatch => invalid(),
            RefreshError::ScopeNotGranted(_) => OAuthError::invalid_scope(e.to_string()),
        })?;
    // A client moved to another tenant no longer serves the old tenant's people.
    if found.tenant_id != client.tenant_id {
        return Err(invalid());
    }
    let lifespans = &client.metadata.lifespans;
    let policy = refresh_policy(state, lifespans.refresh_token_grant_refresh_token_lifespan);
    let (successor_token, successor_hash) = RefreshToken::mint();
    let previous = match state
        .store
        .rotate_refresh_token(&hash, &successor_hash, &client.client_id, &policy, now)
        .await?
    {
        Rotation::Rotated { previous, .. } => previous,
        Rotation::Reused { record } => {
            state
                .store
                .revoke_refresh_family(record.family_id, now)
                .await?;
            audit::record(
                state,
                AuditEvent::new(
                    record.tenant_id,
                    AuditEventType::RefreshReuseDetected,
                    AuditResult::Failure,
                    now,
                )
                .identity(record.identity_id)
                .actor("system")
                .reason("refresh_token_reused")
                .details(serde_json::json!({
                    "client_id": record.client_id,
                    "family_id": record.family_id,
                })),
            )
            .await;
            tracing::warn!(client.id = %record.client_id, "refresh token reused; its family is revoked");
            return Err(invalid_grant(
                "the refresh token was already used; every token of its family is revoked",
            ));
        }
        Rotation::Invalid => return Err(invalid()),
    };
    let Some(identity) = state
        .store
        .find_identity(previous.tenant_id, previous.identity_id)
        .await?
        .filter(|i| i.state == IdentityState::Active)
    else {
        state
            .store
            .revoke_refresh_family(previous.family_id, now)
            .await?;
        return Err(invalid_grant(
            "the account of this authorization is no longer active",
        ));
    };

    let access = access_claims(
        state,
        client,
        &identity,
        &scope,
        lifespans.refresh_token_grant_access_token_lifespan,
        now,
    );
    let mut response = issue(state, access, client.metadata.access_token_strategy).await?;
    if scope.contains("openid") {
        let sign_in = SignIn {
            session_id: previous.session_id,
            nonce: None,
            auth_time: previous.auth_time,
            amr: previous.amr.clone(),
        };
        response.id_token = Some(id_token(
            state,
            client,
            &identity,
            &scope,
            &sign_in,
            lifespans.refresh_token_grant_id_token_lifespan,
            &response.access_token,
            now,
        )?);
    }
    response.refresh_token = Some(successor_token.expose().to_owned());
    state.metrics.token_issued("refresh_token");
    tracing::debug!(client.id = %client.client_id, "issued tokens (refresh_token)");
    Ok(response)
}
