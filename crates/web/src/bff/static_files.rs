//! The SPA's files from `static_dir`, for `GET`s no BFF route takes. A path naming no file gets
//! `index.html` when it has no file extension (a client-side route), and 404 otherwise (a missing
//! asset must not come back as HTML). Paths with `..`, backslashes or NUL, and files that resolve
//! outside the directory (symbolic links), are refused.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::path::{Path, PathBuf};

/// The answer for `path` (the request's path, starting with `/`) from `dir`.
pub async fn serve(dir: &Path, path: &str) -> Response {
    let relative = path.trim_start_matches('/');
    let unsafe_path =
        relative.split('/').any(|segment| segment == "..") || relative.contains(['\\', '\0']);
    if unsafe_path {
        return StatusCode::NOT_FOUND.into_response();
    }
    let named = if relative.is_empty() || relative.ends_with('/') {
        dir.join(relative).join("index.html")
    } else {
        dir.join(relative)
    };
    if let Some(response) = file(dir, &named).await {
        return response;
    }
    let last = relative.rsplit('/').next().unwrap_or_default();
    if last.contains('.') {
        return StatusCode::NOT_FOUND.into_response();
    }
    file(dir, &dir.join("index.html"))
        .await
        .unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

/// The file at `candidate` if it is a regular file inside `dir` (read on a blocking thread).
async fn file(dir: &Path, candidate: &Path) -> Option<Response> {
    let (dir, candidate) = (dir.to_path_buf(), candidate.to_path_buf());
    let (resolved, bytes) = tokio::task::spawn_blocking(move || read_inside(&dir, &candidate))
        .await
        .ok()??;
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&resolved)),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The app's entry point must pick up new asset names at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(response)
}

fn read_inside(dir: &Path, candidate: &Path) -> Option<(PathBuf, Vec<u8>)> {
    let root = std::fs::canonicalize(dir).ok()?;
    let resolved = std::fs::canonicalize(candidate).ok()?;
    if !resolved.starts_with(&root) || !std::fs::metadata(&resolved).ok()?.is_file() {
        return None;
    }
    let bytes = std::fs::read(&resolved).ok()?;
    Some((resolved, bytes))
}

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn serves_files_falls_back_to_index_and_refuses_escapes() {
        let dir =
            std::env::temp_dir().join(format!("gatehouse-bff-static-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("assets")).expect("dir");
        std::fs::write(dir.join("index.html"), "<h1>app</h1>").expect("write");
        std::fs::write(dir.join("assets/app.js"), "console.log(1)").expect("write");
        std::fs::write(dir.with_extension("secret"), "outside").expect("write");

        let index = serve(&dir, "/").await;
        assert_eq!(index.status(), StatusCode::OK);
        assert_eq!(
            index.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert_eq!(body_of(index).await, "<h1>app</h1>");

        let script = serve(&dir, "/assets/app.js").await;
        assert_eq!(
            script.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(body_of(script).await, "console.log(1)");

        // A client-side route loads the app; a missing asset is a 404, not HTML.
        assert_eq!(
            body_of(serve(&dir, "/orders/42").await).await,
            "<h1>app</h1>"
        );
        assert_eq!(
            serve(&dir, "/assets/missing.js").await.status(),
            StatusCode::NOT_FOUND
        );

        let name = dir.with_extension("secret");
        let escape = format!(
            "/../{}",
            name.file_name().and_then(|n| n.to_str()).expect("name")
        );
        for path in [escape.as_str(), "/assets/..\\x", "/a\0b"] {
            assert_eq!(
                serve(&dir, path).await.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_file(&name);
    }
}
