//! Redirect URIs a client may register (RFC 6749 §3.1.2, RFC 8252 for native apps).
//!
//! Absolute, no fragment; `https`, or `http` only for loopback hosts; native clients may also
//! use private-use schemes. Matching at the authorization endpoint is exact string equality
//! (with RFC 8252 §7.3 port freedom for native loopback redirects).

use url::{Host, Url};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RedirectUriError {
    #[error("{0:?} is not an absolute URI")]
    NotAbsolute(String),
    #[error("{0:?} must not contain a fragment")]
    Fragment(String),
    #[error("{0:?} must use https (http is allowed only for localhost, 127.0.0.1 and [::1])")]
    InsecureScheme(String),
    #[error("{0:?} uses a scheme that is not allowed")]
    ForbiddenScheme(String),
}

/// Whether the client is a native app (RFC 8252) or a web app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationType {
    #[default]
    Web,
    Native,
}

pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Checks one redirect URI as registered; returns it unchanged (matching is exact).
pub fn validate_redirect_uri(
    value: &str,
    app: ApplicationType,
) -> Result<String, RedirectUriError> {
    let url = Url::parse(value).map_err(|_| RedirectUriError::NotAbsolute(value.to_owned()))?;
    if url.fragment().is_some() || value.contains('#') {
        return Err(RedirectUriError::Fragment(value.to_owned()));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(RedirectUriError::InsecureScheme(value.to_owned())),
        "javascript" | "data" | "file" | "vbscript" | "about" | "blob" => {
            return Err(RedirectUriError::ForbiddenScheme(value.to_owned()));
        }
        _ if app == ApplicationType::Native => {}
        _ => return Err(RedirectUriError::InsecureScheme(value.to_owned())),
    }
    if url.cannot_be_a_base() && app != ApplicationType::Native {
        return Err(RedirectUriError::NotAbsolute(value.to_owned()));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_and_loopback_http() {
        for ok in [
            "https://app.example.com/cb",
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
        ] {
            assert!(
                validate_redirect_uri(ok, ApplicationType::Web).is_ok(),
                "{ok}"
            );
        }
    }

    #[test]
    fn rejects_fragments_relative_and_plain_http() {
        assert!(matches!(
            validate_redirect_uri("https://a.example/cb#x", ApplicationType::Web),
            Err(RedirectUriError::Fragment(_))
        ));
        assert!(matches!(
            validate_redirect_uri("/cb", ApplicationType::Web),
            Err(RedirectUriError::NotAbsolute(_))
        ));
        assert!(matches!(
            validate_redirect_uri("http://app.example.com/cb", ApplicationType::Web),
            Err(RedirectUriError::InsecureScheme(_))
        ));
        assert!(matches!(
            validate_redirect_uri("javascript:alert(1)", ApplicationType::Native),
            Err(RedirectUriError::ForbiddenScheme(_))
        ));
    }

    #[test]
    fn native_clients_may_use_private_use_schemes() {
        assert!(validate_redirect_uri("com.example.app:/cb", ApplicationType::Native).is_ok());
        assert!(validate_redirect_uri("com.example.app:/cb", ApplicationType::Web).is_err());
    }
}
