//! A browser stand-in for the built-in pages: keeps cookies (honouring `Secure` only over https,
//! `Max-Age=0` as removal), does not follow redirects, and reads hidden form fields out of HTML.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use std::collections::BTreeMap;

pub struct Browser {
    base: String,
    http: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    /// Raw `Set-Cookie` values seen, newest last, for checking attributes.
    pub set_cookies: Vec<String>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

/// Undoes HTML attribute escaping (the templates escape `/`, `&`, quotes and angle brackets).
fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Page {
    /// The `value` of the input named `name` (hidden fields such as `csrf_token`).
    pub fn input_value(&self, name: &str) -> Option<String> {
        let needle = format!("name=\"{name}\"");
        let at = self.body.find(&needle)?;
        let tag_start = self.body[..at].rfind('<')?;
        let tag_end = at + self.body[at..].find('>')?;
        let tag = &self.body[tag_start..tag_end];
        let value_at = tag.find("value=\"")? + 7;
        let value_end = value_at + tag[value_at..].find('"')?;
        Some(unescape(&tag[value_at..value_end]))
    }

    /// The form's `action`.
    pub fn form_action(&self) -> Option<String> {
        let at = self.body.find("action=\"")? + 8;
        let end = at + self.body[at..].find('"')?;
        Some(unescape(&self.body[at..end]))
    }
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: BTreeMap::new(),
            set_cookies: Vec::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            self.set_cookies.push(text.to_owned());
            let Some((pair, attributes)) = text.split_once(';').or(Some((text, ""))) else {
                continue;
            };
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let removed = attributes
                .split(';')
                .any(|a| a.trim().eq_ignore_ascii_case("max-age=0"))
                || value.is_empty();
            if removed {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let request = if self.cookies.is_empty() {
            request
        } else {
            request.header(COOKIE, self.cookie_header())
        };
        let response = request.send().await.expect("sends");
        self.keep_cookies(&response);
        Page {
            status: response.status(),
            location: response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            headers: response.headers().clone(),
            body: response.text().await.expect("body"),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.http.request(Method::GET, self.url(path));
        self.send(request).await
    }

    pub async fn delete(&mut self, path: &str) -> Page {
        let request = self.http.request(Method::DELETE, self.url(path));
        self.send(request).await
    }

    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let request = self.http.request(Method::POST, self.url(path)).form(fields);
        self.send(request).await
    }

    /// Follows redirects from `page` (at most 10), returning the last page.
    pub async fn follow(&mut self, mut page: Page) -> Page {
        for _ in 0..10 {
            let Some(location) = page
                .location
                .clone()
                .filter(|_| page.status.is_redirection())
            else {
                return page;
            };
            page = self.get(&location).await;
        }
        panic!("too many redirects");
    }
}
