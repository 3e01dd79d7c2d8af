//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): what an `id_token_hint` says
//! once its signature checked out, which client the request speaks for, and where the browser may
//! be sent afterwards. Only a `post_logout_redirect_uri` registered by that client, compared
//! exactly, is ever a destination.

use crate::ids::TenantId;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoutError {
    #[error("id_token_hint is not an ID token issued by this server: {0}")]
    InvalidHint(&'static str),
    #[error("client_id does not match the audience of id_token_hint")]
    ClientMismatch,
}

/// What a verified ID token tells the logout endpoint. Its expiry is not checked: RP-Initiated
/// Logout §2 lets a client send an ID token that has expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenHint {
    /// The identity the ID token was issued for.
    pub sub: String,
    /// The client it was issued to (its audience).
    pub client_id: String,
    /// The Gatehouse session it was issued in, when it says.
    pub sid: Option<String>,
    pub tenant_id: Option<TenantId>,
}

/// Reads an ID token whose signature was verified with our own keys: it must be an ID token
/// (`typ` `JWT` or none, never an access token), issued by `issuer`, with a subject and exactly
/// one audience (or an `azp` naming the client among several).
pub fn id_token_hint(
    typ: Option<&str>,
    claims: &Map<String, Value>,
    issuer: &str,
) -> Result<IdTokenHint, LogoutError> {
    if typ.is_some_and(|t| !t.eq_ignore_ascii_case(super::id_token::ID_TOKEN_TYP)) {
        return Err(LogoutError::InvalidHint("it is not an ID token"));
    }
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(LogoutError::InvalidHint("it was issued by another issuer"));
    }
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(LogoutError::InvalidHint("it has no subject"))?;
    let azp = claims.get("azp").and_then(Value::as_str);
    let client_id = match claims.get("aud") {
        Some(Value::String(aud)) => Some(aud.as_str()),
        Some(Value::Array(auds)) => {
            let auds: Vec<&str> = auds.iter().filter_map(Value::as_str).collect();
            match (auds.as_slice(), azp) {
                ([one], _) => Some(*one),
                (_, Some(azp)) if auds.contains(&azp) => Some(azp),
                _ => None,
            }
        }
        _ => None,
    }
    .filter(|c| !c.is_empty())
    .ok_or(LogoutError::InvalidHint(
        "it does not name one client as its audience",
    ))?;
    let tenant_id = claims
        .get("tenant_id")
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    Ok(IdTokenHint {
        sub: sub.to_owned(),
        client_id: client_id.to_owned(),
        sid: claims.get("sid").and_then(Value::as_str).map(str::to_owned),
        tenant_id,
    })
}

/// The client a logout request speaks for: the hint's audience, or `client_id`; both given,
/// they must agree (RP-Initiated Logout §2).
pub fn requesting_client<'a>(
    hint: Option<&'a IdTokenHint>,
    client_id: Option<&'a str>,
) -> Result<Option<&'a str>, LogoutError> {
    match (hint.map(|h| h.client_id.as_str()), client_id) {
        (Some(from_hint), Some(given)) if from_hint != given => Err(LogoutError::ClientMismatch),
        (Some(from_hint), _) => Ok(Some(from_hint)),
        (None, given) => Ok(given),
    }
}

/// Where to send the browser after logout: `requested` when it is exactly one of the client's
/// `registered` URIs, with `state` added to its query; otherwise `None` (show a page instead,
/// never redirect to an unregistered URI).
pub fn post_logout_redirect(
    registered: &[String],
    requested: &str,
    state: Option<&str>,
) -> Option<String> {
    if !registered.iter().any(|r| r == requested) {
        return None;
    }
    let mut url = url::Url::parse(requested).ok()?;
    if let Some(state) = state.filter(|s| !s.is_empty()) {
        url.query_pairs_mut().append_pair("state", state);
    }
    Some(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISS: &str = "https://id.example";

    fn claims(value: Value) -> Map<String, Value> {
        let Value::Object(map) = value else {
            panic!("claims are a JSON object")
        };
        map
    }

    #[test]
    fn reads_an_id_token_of_ours_even_expired() {
        let c = claims(json!({
            "iss": ISS, "sub": "u1", "aud": "web", "exp": 1, "iat": 0, "sid": "s1",
            "tenant_id": "00000000-0000-0000-0000-000000000001",
        }));
        let hint = id_token_hint(Some("JWT"), &c, ISS).expect("valid");
        assert_eq!(hint.sub, "u1");
        assert_eq!(hint.client_id, "web");
        assert_eq!(hint.sid.as_deref(), Some("s1"));
        assert_eq!(hint.tenant_id, Some(TenantId::DEFAULT));
        assert!(id_token_hint(None, &c, ISS).is_ok());
    }

    #[test]
    fn refuses_access_tokens_other_issuers_and_unclear_audiences() {
        let c = claims(json!({"iss": ISS, "sub": "u1", "aud": "web"}));
        assert!(id_token_hint(Some("at+jwt"), &c, ISS).is_err());
        assert!(id_token_hint(Some("JWT"), &c, "https://other.example").is_err());
        let c = claims(json!({"iss": ISS, "sub": "u1", "aud": ["web", "api"]}));
        assert!(id_token_hint(None, &c, ISS).is_err());
        let c = claims(json!({"iss": ISS, "sub": "u1", "aud": ["web", "api"], "azp": "web"}));
        assert_eq!(
            id_token_hint(None, &c, ISS).expect("valid").client_id,
            "web"
        );
        let c = claims(json!({"iss": ISS, "aud": "web"}));
        assert!(id_token_hint(None, &c, ISS).is_err());
    }

    #[test]
    fn the_hint_and_client_id_must_agree() {
        let hint = IdTokenHint {
            sub: "u1".into(),
            client_id: "web".into(),
            sid: None,
            tenant_id: None,
        };
        assert_eq!(requesting_client(Some(&hint), None), Ok(Some("web")));
        assert_eq!(requesting_client(Some(&hint), Some("web")), Ok(Some("web")));
        assert_eq!(
            requesting_client(Some(&hint), Some("other")),
            Err(LogoutError::ClientMismatch)
        );
        assert_eq!(requesting_client(None, Some("other")), Ok(Some("other")));
        assert_eq!(requesting_client(None, None), Ok(None));
    }

    #[test]
    fn redirects_only_to_a_registered_uri_with_state() {
        let registered = vec!["https://app.example/bye?from=id".to_owned()];
        assert_eq!(
            post_logout_redirect(
                &registered,
                "https://app.example/bye?from=id",
                Some("a b&c")
            )
            .as_deref(),
            Some("https://app.example/bye?from=id&state=a+b%26c")
        );
        assert_eq!(
            post_logout_redirect(&registered, "https://app.example/bye?from=id", None).as_deref(),
            Some("https://app.example/bye?from=id")
        );
        for other in [
            "https://app.example/bye",
            "https://app.example/bye?from=id&x=1",
            "https://APP.example/bye?from=id",
            "https://evil.example/",
        ] {
            assert_eq!(
                post_logout_redirect(&registered, other, Some("s")),
                None,
                "{other}"
            );
        }
    }
}
