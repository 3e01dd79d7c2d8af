//! The authorization code grant at `/oauth2/token` (RFC 6749 §4.1.3, RFC 7636 §4.5, OpenID
//! Connect Core §3.1.3): the code is redeemed once (a replay revokes what it issued), must
//! belong to the authenticated client, and must come with the redirect URI and PKCE verifier
//! of its request. The answer carries an access token, an ID token for `openid`, and a
//! refresh token for `offline_access`.

use super::token::{TokenResponse, issue};
use crate::audit;
use crate::error::OAuthError;
use crate::extract::form::FormParams;
use crate::state::AppState;
use axum::http::StatusCode;
use gatehouse_domain::audit::{AuditEvent, AuditEventType, AuditResult};
use gatehouse_domain::identity::{Identity, IdentityState};
use gatehouse_domain::oauth::claims::standard_claims;
use gatehouse_domain::oauth::client::{Client, GrantType};
use gatehouse_domain::oauth::code::{CodeGrant, Redemption};
use gatehouse_domain::oauth::id_token::{ID_TOKEN_TYP, IdTokenClaims, half_hash, pkce_matches};
use gatehouse_domain::oauth::refresh::{RefreshPolicy, RefreshToken};
use gatehouse_domain::oauth::scope::Scope;
use gatehouse_domain::oauth::token::{AccessTokenClaims, RevokedAccessToken};
use gatehouse_domain::secret::{TokenHash, random_token};
use time::OffsetDateTime;

pub fn invalid_grant(description: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// `grant_type=authorization_code` for an authenticated `client`.
pub async fn exchange(
    state: &AppState,
    client: &Client,
    form: &mut FormParams,
) -> Result<TokenResponse, OAuthError> {
    if !client.metadata.allows_grant(GrantType::AuthorizationCode) {
        return Err(OAuthError::unauthorized_client(
            "the client may not use the authorization code grant",
        ));
    }
    let code = form.require("code")?;
    let redirect_uri = form.take("redirect_uri");
    let verifier = form.take("code_verifier");
    let hash = TokenHash::of(&code);
    let now = state.now();
    let grant = match state.store.redeem_code(&hash, now).await? {
        Redemption::Redeemed(grant) => grant,
        Redemption::Replayed { grant, issued } => {
            revoke_replayed(state, &grant, &issued, now).await?;
            return Err(invalid_grant(
                "the authorization code was already used; the tokens issued from it are revoked",
            ));
        }
        Redemption::Invalid => {
            return Err(invalid_grant(
                "the authorization code is invalid or expired",
            ));
        }
    };
    if grant.client_id != client.client_id {
        return Err(invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    // The client's tenant decides whose people it serves: a client moved to another tenant
    // since the code was issued gets nothing for the old tenant's person.
    if grant.tenant_id != client.tenant_id {
        return Err(invalid_grant(
            "the authorization code was issued for another tenant",
        ));
    }
    match redirect_uri.as_deref() {
        Some(uri) if uri != grant.redirect_uri => {
            return Err(invalid_grant(
                "redirect_uri differs from the one of the authorization request",
            ));
        }
        None if grant.redirect_uri_sent => {
            return Err(invalid_grant(
                "redirect_uri is required: the authorization request named one",
            ));
        }
        _ => {}
    }
    match (&grant.code_challenge, &verifier) {
        (Some(challenge), Some(verifier)) if pkce_matches(challenge, verifier) => {}
        (Some(_), Some(_)) => {
            return Err(invalid_grant(
                "the code_verifier does not match the code_challenge",
            ));
        }
        (Some(_), None) => {
            return Err(invalid_grant(
                "code_verifier is required: the authorization request sent a code_challenge",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid_grant(
                "code_verifier was sent, but the authorization request had no code_challenge",
            ));
        }
        (None, None) if client.metadata.is_public() => {
            return Err(invalid_grant("a public client must use PKCE"));
        }
        (None, None) => {}
    }
    let identity = state
        .store
        .find_identity(grant.tenant_id, grant.identity_id)
        .await?
        .filter(|i| i.state == IdentityState::Active)
        .ok_or_else(|| invalid_grant("the account of this authorization is no longer active"))?;

    // A grant revoked after the code was issued takes the code with it.
    if state
        .store
        .grant_revoked_since(
            grant.tenant_id,
            grant.identity_id,
            &grant.client_id,
            grant.issued_at,
        )
        .await?
    {
        return Err(invalid_grant(
            "the person revoked this application's access",
        ));
    }

    let lifespans = &client.metadata.lifespans;
    let access = access_claims(
        state,
        client,
        &identity,
        &grant.scope,
        lifespans.authorization_code_grant_access_token_lifespan,
        now,
    );
    let mut issued = vec![access.jti.clone()];
    let mut response = issue(state, access, client.metadata.access_token_strategy).await?;
    if grant.scope.contains("openid") {
        let source = SignIn {
            session_id: grant.session_id,
            nonce: grant.nonce.clone(),
            auth_time: grant.auth_time,
            amr: grant.amr.clone(),
        };
        response.id_token = Some(id_token(
            state,
            client,
            &identity,
            &grant.scope,
            &source,
            lifespans.authorization_code_grant_id_token_lifespan,
            &response.access_token,
            now,
        )?);
    }
    if grant.scope.contains("offline_access")
        && client.metadata.allows_grant(GrantType::RefreshToken)
    {
        let policy = refresh_policy(
            state,
            lifespans.authorization_code_grant_refresh_token_lifespan,
        );
        let first = RefreshToken::first(&grant, &policy, now);
        let (token, token_hash) = RefreshToken::mint();
        state
            .store
            .insert_refresh_token(&token_hash, &first)
            .await?;
        issued.push(format!("{FAMILY_MARK}{}", first.family_id));
        response.refresh_token = Some(token.expose().to_owned());
    }
    state.store.record_code_tokens(&hash, &issued).await?;
    state.metrics.token_issued("authorization_code");
    tracing::debug!(client.id = %client.client_id, "issued tokens (authorization_code)");
    Ok(response)
}

/// The access token of a person's grant (RFC 9068, with `email` when that scope was granted).
pub fn access_claims(
    state: &AppState,
    client: &Client,
    identity: &Identity,
    scope: &Scope,
    lifespan: Option<time::Duration>,
    now: OffsetDateTime,
) -> AccessTokenClaims {
    let meta = &client.metadata;
    let lifespan = lifespan.unwrap_or(state.settings.access_token_lifespan);
    let iat = now.unix_timestamp();
    let email = scope
        .contains("email")
        .then(|| identity.traits.get("email").and_then(|v| v.as_str()))
        .flatten()
        .map(str::to_owned);
    AccessTokenClaims {
        iss: state.settings.issuer.clone(),
        sub: identity.id.to_string(),
        aud: if meta.audience.is_empty() {
            vec![client.client_id.clone()]
        } else {
            meta.audience.clone()
        },
        client_id: client.client_id.clone(),
        scope: scope.to_string(),
        iat,
        nbf: iat,
        exp: (now + lifespan).unix_timestamp(),
        jti: random_token(16),
        tenant_id: identity.tenant_id,
        email,
    }
}

/// Among the tokens recorded for a code, the refresh family it started (revoked on replay).
const FAMILY_MARK: &str = "refresh-family:";

/// How a person signed in, as the ID token tells it.
pub struct SignIn {
    pub session_id: Option<uuid::Uuid>,
    pub nonce: Option<String>,
    pub auth_time: OffsetDateTime,
    pub amr: Vec<String>,
}

/// The refresh token rules for a client: its own token lifespan (`lifespan`) when it set one,
/// else the server's; the family lifetime and reuse grace of the server.
pub fn refresh_policy(state: &AppState, lifespan: Option<time::Duration>) -> RefreshPolicy {
    RefreshPolicy {
        token_lifespan: lifespan.unwrap_or(state.settings.refresh_token_lifespan),
        family_lifespan: state.settings.refresh_token_family_lifespan,
        reuse_grace: state.settings.refresh_token_reuse_grace,
    }
}

/// The signed ID token (OpenID Connect Core §2, §3.1.3.6, §12.2), with the claims `scope`
/// releases.
#[expect(
    clippy::too_many_arguments,
    reason = "each is a distinct fact of the token; a struct would only rename them"
)]
pub fn id_token(
    state: &AppState,
    client: &Client,
    identity: &Identity,
    scope: &Scope,
    sign_in: &SignIn,
    lifespan: Option<time::Duration>,
    access_token: &str,
    now: OffsetDateTime,
) -> Result<String, OAuthError> {
    let alg = client.metadata.id_token_alg();
    let lifespan = lifespan.unwrap_or(state.settings.id_token_lifespan);
    let mut extra = standard_claims(identity, scope, &state.scopes.snapshot());
    extra.remove("sub");
    let claims = IdTokenClaims {
        iss: state.settings.issuer.clone(),
        sub: identity.id.to_string(),
        aud: client.client_id.clone(),
        exp: (now + lifespan).unix_timestamp(),
        iat: now.unix_timestamp(),
        auth_time: sign_in.auth_time.unix_timestamp(),
        nonce: sign_in.nonce.clone(),
        at_hash: Some(half_hash(alg, access_token)),
        amr: sign_in.amr.clone(),
        sid: sign_in.session_id.map(|id| id.to_string()),
        tenant_id: identity.tenant_id,
        extra,
    };
    let keys = state
        .keys
        .current()
        .map_err(|e| OAuthError::server_error("signing keys unavailable", &e))?;
    let key = keys
        .signing_key(alg)
        .map_err(|e| OAuthError::server_error("no ID token signing key", &e))?;
    key.sign(ID_TOKEN_TYP, &claims)
        .map_err(|e| OAuthError::server_error("cannot sign an ID token", &e))
}

/// A code presented again: every token issued from it is revoked, and the replay is audited.
async fn revoke_replayed(
    state: &AppState,
    grant: &CodeGrant,
    issued: &[String],
    now: OffsetDateTime,
) -> Result<(), OAuthError> {
    for jti in issued {
        if let Some(family) = jti.strip_prefix(FAMILY_MARK) {
            if let Ok(family_id) = uuid::Uuid::parse_str(family) {
                state.store.revoke_refresh_family(family_id, now).await?;
            }
            continue;
        }
        state
            .store
            .insert_revoked_access_token(&RevokedAccessToken {
                jti: jti.clone(),
                tenant_id: grant.tenant_id,
                client_id: grant.client_id.clone(),
                // The token cannot outlive the longest lifespan any client may have.
                expires_at: now + state.settings.max_token_lifespan,
            })
            .await?;
    }
    audit::record(
        state,
        AuditEvent::new(
            grant.tenant_id,
            AuditEventType::CodeReplayDetected,
            AuditResult::Failure,
            now,
        )
        .identity(grant.identity_id)
        .actor("system")
        .reason("authorization_code_replayed")
        .details(serde_json::json!({
            "client_id": grant.client_id,
            "revoked_tokens": issued.len(),
        })),
    )
    .await;
    tracing::warn!(client.id = %grant.client_id, "authorization code replayed; its tokens are revoked");
    Ok(())
}
