//! Reading the `Cookie` header and writing `Set-Cookie` values (RFC 6265) for the cookies
//! Gatehouse sets itself: always `HttpOnly`, `SameSite=Lax` and `Path=/`, `Secure` unless the
//! server runs in `--dev` over plain HTTP.

use crate::state::Settings;
use axum::http::{HeaderMap, HeaderValue, header};

/// The value of cookie `name` in the request, if sent (the first one when sent twice).
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value; `max_age` in seconds (`None`: until the browser closes, `Some(0)`:
/// delete now). `value` must be cookie-safe (base64url tokens are).
pub fn set(settings: &Settings, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if settings.cookie_secure || settings.is_https() {
        cookie.push_str("; Secure");
    }
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={}", age.max(0)));
    }
    HeaderValue::from_str(&cookie).expect("cookie names and base64url values are header-safe")
}

/// A `Set-Cookie` value that deletes cookie `name`.
pub fn clear(settings: &Settings, name: &str) -> HeaderValue {
    set(settings, name, "", Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_domain::secret::Secret;

    #[test]
    fn finds_a_cookie_among_several_headers() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        headers.append(header::COOKIE, HeaderValue::from_static("c=\"3\"; empty="));
        assert_eq!(get(&headers, "b"), Some("2"));
        assert_eq!(get(&headers, "c"), Some("3"));
        assert_eq!(get(&headers, "empty"), None);
        assert_eq!(get(&headers, "d"), None);
    }

    #[test]
    fn secure_unless_plain_http_dev() {
        let mut settings = Settings::new("http://127.0.0.1:4433", Secret::new("t"));
        settings.cookie_secure = false;
        let plain = set(&settings, "n", "v", None);
        assert_eq!(plain, "n=v; Path=/; HttpOnly; SameSite=Lax");
        settings.cookie_secure = true;
        assert!(
            set(&settings, "n", "v", Some(5))
                .to_str()
                .expect("ascii")
                .ends_with("; Secure; Max-Age=5")
        );
        let https = Settings::new("https://id.example", Secret::new("t"));
        assert_eq!(
            https.cookie_name("gatehouse_session"),
            "__Host-gatehouse_session"
        );
        assert_eq!(
            settings.cookie_name("gatehouse_session"),
            "gatehouse_session"
        );
        assert!(
            clear(&https, "n")
                .to_str()
                .expect("ascii")
                .contains("Secure")
        );
    }
}
