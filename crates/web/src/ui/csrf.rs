//! CSRF protection for HTML forms (double-submit, signed): the `gatehouse_csrf` cookie
//! (`__Host-` prefixed when the issuer is https) holds a random token; the hidden `csrf_token`
//! field holds its HMAC under the cookie secret. A POST is accepted only when the field is the
//! MAC of the cookie sent with it, compared in constant time, so a form from one browser never
//! validates in another and a forged site cannot make a valid pair.

use super::PageError;
use crate::cookie;
use crate::state::AppState;
use axum::http::{HeaderMap, HeaderValue};
use gatehouse_domain::secret::random_token;

const COOKIE: &str = "gatehouse_csrf";
const PURPOSE: &str = "csrf";

fn cookie_name(state: &AppState) -> String {
    state.settings.cookie_name(COOKIE)
}

/// A cookie value we could have set: base64url of 32 random bytes.
fn well_formed(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The token for the hidden `csrf_token` field, bound to the `gatehouse_csrf` cookie (set if
/// missing). Returns the field value and, when the cookie is new, its Set-Cookie value.
pub fn token(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let name = cookie_name(state);
    if let Some(existing) = cookie::get(headers, &name).filter(|v| well_formed(v)) {
        return (state.cookie_keys.sign(PURPOSE, existing.as_bytes()), None);
    }
    let fresh = random_token(32);
    let field = state.cookie_keys.sign(PURPOSE, fresh.as_bytes());
    (
        field,
        Some(cookie::set(&state.settings, &name, &fresh, None)),
    )
}

/// Checks a submitted `csrf_token` against the cookie: 403 PageError when wrong or missing.
pub fn verify(
    state: &AppState,
    headers: &HeaderMap,
    submitted: Option<&str>,
) -> Result<(), PageError> {
    let refused = || {
        PageError::forbidden(
            "The form could not be verified (its security token is missing or out of date). \
             Go back, reload the page and try again.",
        )
    };
    let cookie = cookie::get(headers, &cookie_name(state))
        .filter(|v| well_formed(v))
        .ok_or_else(refused)?;
    let submitted = submitted.filter(|s| !s.is_empty()).ok_or_else(refused)?;
    if state
        .cookie_keys
        .verify(PURPOSE, cookie.as_bytes(), submitted)
    {
        Ok(())
    } else {
        Err(refused())
    }
}
