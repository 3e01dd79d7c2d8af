//! `application/x-www-form-urlencoded` bodies for OAuth 2.0 endpoints, parsed strictly:
//! a parameter sent twice is refused (RFC 6749 §3.1, §3.2), invalid UTF-8 is refused instead of
//! being replaced, and a missing or wrong content type is a clear `invalid_request`.

use crate::error::OAuthError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use percent_encoding::percent_decode;
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct OAuthForm(pub FormParams);

impl std::fmt::Debug for FormParams {
    /// Names only: values are secrets and tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.single.keys().chain(self.repeated.keys()))
            .finish()
    }
}

/// Parameters a request may repeat: RFC 8707 §2 `resource`.
const REPEATABLE: [&str; 1] = ["resource"];

/// Form parameters, each present at most once (except those in `REPEATABLE`).
#[derive(Default)]
pub struct FormParams {
    single: HashMap<String, String>,
    repeated: HashMap<String, Vec<String>>,
}

impl FormParams {
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut params = HashMap::new();
        let mut repeated: HashMap<String, Vec<String>> = HashMap::new();
        for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let name = decode(name)?;
            let value = decode(value)?;
            if REPEATABLE.contains(&name.as_str()) {
                repeated.entry(name).or_default().push(value);
                continue;
            }
            if params.contains_key(&name) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {name:?} is included more than once"
                )));
            }
            params.insert(name, value);
        }
        Ok(Self {
            single: params,
            repeated,
        })
    }

    /// Every value of a repeatable parameter, empty ones dropped.
    pub fn take_all(&mut self, name: &str) -> Vec<String> {
        self.repeated
            .remove(name)
            .unwrap_or_default()
            .into_iter()
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// The value of a parameter; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.single
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn take(&mut self, name: &str) -> Option<String> {
        self.single.remove(name).filter(|v| !v.is_empty())
    }

    pub fn require(&mut self, name: &'static str) -> Result<String, OAuthError> {
        self.take(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("the {name} parameter is missing")))
    }
}

fn decode(raw: &[u8]) -> Result<String, OAuthError> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_decode(&plus_as_space)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| OAuthError::invalid_request("form parameters must be valid UTF-8"))
}

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if super::media_type(req.headers()) != "application/x-www-form-urlencoded" {
            return Err(OAuthError::invalid_request(
                "the request body must be application/x-www-form-urlencoded",
            ));
        }
        let body = Bytes::from_request(req, state).await.map_err(|rejection| {
            OAuthError::new(
                rejection.status(),
                "invalid_request",
                format!("the request body cannot be read: {rejection}"),
            )
        })?;
        FormParams::parse(&body).map(OAuthForm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_and_plus() {
        let mut form = FormParams::parse(b"scope=a+b%3Ac&empty=&flag").expect("parses");
        assert_eq!(form.take("scope").as_deref(), Some("a b:c"));
        assert_eq!(form.get("empty"), None);
        assert_eq!(form.get("flag"), None);
    }

    #[test]
    fn refuses_duplicates_and_invalid_utf8() {
        assert!(FormParams::parse(b"a=1&a=2").is_err());
        assert!(FormParams::parse(b"a=%ff").is_err());
    }

    #[test]
    fn resource_may_repeat() {
        let mut form = FormParams::parse(b"resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb")
            .expect("parses");
        assert_eq!(form.take_all("resource"), ["https://a", "https://b"]);
    }
}
