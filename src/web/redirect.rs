use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// The plain-HTTP router: everything is redirected (308) to the same path on
/// HTTPS, at the host the client asked for.
pub fn router(https_port: u16) -> Router {
    Router::new().fallback(move |headers: HeaderMap, uri: Uri| async move { redirect(&headers, &uri, https_port) })
}

fn redirect(headers: &HeaderMap, uri: &Uri, https_port: u16) -> Response {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).and_then(host_without_port);
    let Some(host) = host else {
        return (StatusCode::BAD_REQUEST, "missing or invalid Host header\n").into_response();
    };
    let port = if https_port == 443 { String::new() } else { format!(":{https_port}") };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let location = format!("https://{host}{port}{path}");
    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, location)]).into_response()
}

/// `box.local:8080` → `box.local`, `[fe80::1]:80` → `[fe80::1]`; refuses
/// anything that is not a plain host name or address.
fn host_without_port(host: &str) -> Option<&str> {
    let host =
        if host.starts_with('[') { &host[..=host.find(']')?] } else { host.rsplit_once(':').map_or(host, |(h, _)| h) };
    let ok = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || "-.[]:".contains(c));
    ok.then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(host: Option<&str>, uri: &str, port: u16) -> (StatusCode, Option<String>) {
        let mut headers = HeaderMap::new();
        if let Some(h) = host {
            headers.insert(header::HOST, h.parse().unwrap());
        }
        let r = redirect(&headers, &uri.parse().unwrap(), port);
        (r.status(), r.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_string()))
    }

    #[test]
    fn keeps_host_path_and_query_and_swaps_the_port() {
        let want = |s: &str| (StatusCode::PERMANENT_REDIRECT, Some(s.to_string()));
        assert_eq!(location(Some("box.local:8080"), "/join?code=1", 8443), want("https://box.local:8443/join?code=1"));
        assert_eq!(location(Some("192.168.1.9"), "/", 443), want("https://192.168.1.9/"));
        assert_eq!(location(Some("[2001:db8::1]:80"), "/a", 443), want("https://[2001:db8::1]/a"));
    }

    #[test]
    fn refuses_a_missing_or_strange_host() {
        assert_eq!(location(None, "/", 443).0, StatusCode::BAD_REQUEST);
        assert_eq!(location(Some("evil.com/x"), "/", 443).0, StatusCode::BAD_REQUEST);
    }
}
