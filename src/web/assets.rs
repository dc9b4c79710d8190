use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

/// The pages in `web/`, compiled into the binary so the firmware is one file.
#[derive(RustEmbed)]
#[folder = "web/"]
struct Pages;

/// Serves an embedded file; `/` is `index.html`. Revalidated by ETag so a
/// firmware update shows at once.
pub async fn serve(method: Method, uri: Uri, headers: axum::http::HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, HEAD")]).into_response();
    }
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() || path.ends_with('/') { format!("{path}index.html") } else { path.to_string() };
    // `/join` is the page in `join/`.
    let Some(file) = Pages::get(&path).or_else(|| Pages::get(&format!("{path}/index.html"))) else {
        return (StatusCode::NOT_FOUND, "no such page\n").into_response();
    };

    let etag = format!("\"{}\"", super::secret::hex(&file.metadata.sha256_hash()[..16]));
    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mime = file.metadata.mimetype().to_string();
    let mut response = (StatusCode::OK, file.data.into_owned()).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}
