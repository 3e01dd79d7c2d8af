//! Signing in and out: `/bff/login` starts the code flow, the callback (`redirect_uri`'s path,
//! `/signin-oidc` by convention) finishes it and creates the session, `/bff/user` answers the
//! session's claims, `/bff/logout` ends the session and sends the browser through the provider's
//! logout, which lands back on `/signout-callback-oidc`.

use super::provider::ProviderError;
use super::{Bff, BffError};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_domain::bff::{BffLogin, BffSession, LOGIN_LIFESPAN, local_return_url};
use gatehouse_domain::secret::{Secret, TokenHash, random_token};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    #[serde(rename = "returnUrl")]
    return_url: Option<String>,
}

/// `GET /bff/login?returnUrl=/path`: a fresh state, nonce and PKCE verifier, kept server-side
/// under a random cookie that binds them to this browser; then off to the provider.
pub async fn login(
    State(bff): State<Bff>,
    Query(query): Query<LoginQuery>,
) -> Result<Response, BffError> {
    let settings = bff.settings();
    let browser = random_token(32);
    let state = random_token(32);
    let nonce = random_token(32);
    let code_verifier = random_token(32);
    let challenge = URL_SAFE_NO_PAD.encode(TokenHash::of(&code_verifier).0);
    let now = bff.now();
    bff.0
        .store
        .insert_bff_login(&BffLogin {
            browser: TokenHash::of(&browser),
            state: state.clone(),
            nonce: nonce.clone(),
            code_verifier,
            return_url: local_return_url(query.return_url.as_deref()),
            created_at: now,
            expires_at: now + LOGIN_LIFESPAN,
        })
        .await?;
    let url = bff
        .0
        .provider
        .authorization_url(settings, &state, &nonce, &challenge)
        .map_err(|_| BffError::ProviderUnavailable)?;
    // Lax, not Strict: the provider's redirect back is a cross-site navigation.
    let cookie = settings.cookie(
        settings.login_cookie(),
        &browser,
        "Lax",
        Some(LOGIN_LIFESPAN.whole_seconds()),
    );
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&url)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

/// The provider's redirect back: the sign-in this browser started (taken, so a replay finds
/// nothing), its state, the issuer (RFC 9207), the code exchange and the ID token; then the
/// session and its cookie.
pub async fn callback(
    State(bff): State<Bff>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, BffError> {
    let settings = bff.settings();
    let browser = crate::cookie::get(&headers, settings.login_cookie()).ok_or(
        BffError::BadRequest("no sign-in is in progress in this browser"),
    )?;
    let login = bff
        .0
        .store
        .take_bff_login(&TokenHash::of(browser))
        .await?
        .ok_or(BffError::BadRequest(
            "no sign-in is in progress in this browser",
        ))?;
    let now = bff.now();
    if now >= login.expires_at {
        return Err(BffError::BadRequest(
            "the sign-in took too long; start again",
        ));
    }
    let state_matches = query
        .state
        .as_deref()
        .is_some_and(|presented| Secret::new(login.state.as_str()).matches(presented));
    if !state_matches {
        return Err(BffError::BadRequest("state does not match the sign-in"));
    }
    if query
        .iss
        .as_deref()
        .is_some_and(|iss| iss != bff.0.provider.issuer())
    {
        return Err(BffError::BadRequest("iss is not the configured provider"));
    }
    if query.error.is_some() {
        return Err(BffError::BadRequest(
            "the provider did not sign the person in",
        ));
    }
    let code = query
        .code
        .as_deref()
        .ok_or(BffError::BadRequest("the callback has no code"))?;
    let signed_in = match bff
        .0
        .provider
        .exchange(settings, code, &login.code_verifier, &login.nonce)
        .await
    {
        Ok(signed_in) => signed_in,
        Err(ProviderError::Unreachable(err)) => {
            tracing::warn!(error = %err, "code exchange failed");
            return Err(BffError::ProviderUnavailable);
        }
        Err(err) => {
            tracing::debug!(error = %err, "code exchange refused");
            return Err(BffError::BadRequest("the sign-in could not be completed"));
        }
    };
    let token = random_token(32);
    let session = BffSession {
        id: TokenHash::of(&token),
        subject: signed_in.claims.subject().to_owned(),
        claims: signed_in.claims.0,
        id_token: signed_in.id_token,
        tokens: signed_in.tokens,
        version: 0,
        created_at: now,
        expires_at: now + settings.session_lifetime,
    };
    bff.0.store.insert_bff_session(&session).await?;
    tracing::info!(user.id = %session.subject, "BFF session started");
    let mut response = Redirect::to(&login.return_url).into_response();
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        settings.cookie(settings.session_cookie(), &token, "Strict", None),
    );
    cookies.append(
        header::SET_COOKIE,
        settings.cookie(settings.login_cookie(), "", "Lax", Some(0)),
    );
    Ok(response)
}

/// `GET /bff/user`: the signed-in person's claims as a JSON object; 401 when signed out. Two
/// entries are the BFF's own: `bff:logout_url` (a link that signs out: `/bff/logout?sid=…`)
/// and `bff:session_expires_in` (seconds until the session ends unless used).
pub async fn user(State(bff): State<Bff>, headers: HeaderMap) -> Result<Response, BffError> {
    let session = bff.session(&headers).await?;
    let expires_in = (session.expires_at - bff.now()).whole_seconds().max(0);
    let mut claims = session.claims;
    let logout_url = match claims.get("sid").and_then(|v| v.as_str()) {
        Some(sid) => format!(
            "/bff/logout?sid={}",
            form_urlencoded::byte_serialize(sid.as_bytes()).collect::<String>()
        ),
        None => "/bff/logout".to_owned(),
    };
    claims.insert("bff:logout_url".to_owned(), logout_url.into());
    claims.insert("bff:session_expires_in".to_owned(), expires_in.into());
    Ok(axum::Json(claims).into_response())
}

#[derive(Debug, Deserialize)]
pub struct LogoutQuery {
    sid: Option<String>,
}

/// `POST` or `GET /bff/logout` (with `X-CSRF: 1`, or the session's `sid` claim as `?sid=`, as
/// in `bff:logout_url`): ends the session here, revokes its refresh token at the provider, and sends the browser to the
/// provider's logout with the ID token as hint.
pub async fn logout(
    State(bff): State<Bff>,
    headers: HeaderMap,
    Query(query): Query<LogoutQuery>,
) -> Result<Response, BffError> {
    let settings = bff.settings();
    if !settings.origin_allowed(&headers) {
        return Err(BffError::CsrfRequired);
    }
    let session = bff.session(&headers).await?;
    let sid_matches = query.sid.as_deref().is_some_and(|sid| {
        session
            .claims
            .get("sid")
            .and_then(|v| v.as_str())
            .is_some_and(|own| Secret::new(own).matches(sid))
    });
    if !super::proxy::has_csrf_header(&headers) && !sid_matches {
        return Err(BffError::CsrfRequired);
    }
    bff.0.store.delete_bff_session(&session.id).await?;
    if let Some(refresh) = &session.tokens.refresh_token
        && let Err(err) = bff.0.provider.revoke(refresh).await
    {
        tracing::warn!(error = %err, "cannot revoke the refresh token at logout");
    }
    tracing::info!(user.id = %session.subject, "BFF session ended");
    let target = bff
        .0
        .provider
        .end_session_url(
            &session.id_token,
            settings.post_logout_redirect_uri.as_deref(),
            &random_token(16),
        )
        .unwrap_or_else(|| "/".to_owned());
    let clear = settings.cookie(settings.session_cookie(), "", "Strict", Some(0));
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, clear),
            (
                header::LOCATION,
                target
                    .parse()
                    .map_err(|_| BffError::BadRequest("bad logout URL"))?,
            ),
        ],
    )
        .into_response())
}

/// `GET /signout-callback-oidc`: where the provider's logout lands; back to the app.
pub async fn signed_out() -> Redirect {
    Redirect::to("/")
}
