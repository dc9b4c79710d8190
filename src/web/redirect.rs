use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

use super::certificate::Certificate;
use crate::system::HostIdentity;

/// The plain-HTTP router: everything is redirected (308) to the same path on
/// HTTPS, at the name the client used when the certificate carries it, else
/// at the box's LAN address (never to a name a client made up).
pub fn router(https_port: u16, served: watch::Receiver<Certificate>) -> Router {
    Router::new().fallback(move |headers: HeaderMap, uri: Uri| {
        let identity = served.borrow().identity.clone();
        async move { redirect(&headers, &uri, https_port, &identity) }
    })
}

fn redirect(headers: &HeaderMap, uri: &Uri, https_port: u16, identity: &HostIdentity) -> Response {
    let asked = headers.get(header::HOST).and_then(|h| h.to_str().ok()).and_then(host_without_port);
    let host = match asked {
        Some(h) if identity.names(h) => h.to_string(),
        _ => match identity.preferred_host() {
            h if h.contains(':') => format!("[{h}]"),
            h => h,
        },
    };
    let port = if https_port == 443 { String::new() } else { format!(":{https_port}") };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let location = format!("https://{host}{port}{path}");
    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, location)]).into_response()
}

/// `box.local:8080` → `box.local`, `[fe80::1]:80` → `[fe80::1]`.
fn host_without_port(host: &str) -> Option<&str> {
    if host.starts_with('[') {
        return Some(&host[..=host.find(']')?]);
    }
    Some(host.rsplit_once(':').map_or(host, |(h, _)| h)).filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(host: Option<&str>, uri: &str, port: u16) -> (StatusCode, String) {
        let mut headers = HeaderMap::new();
        if let Some(h) = host {
            headers.insert(header::HOST, h.parse().unwrap());
        }
        let ips = ["192.168.1.9".parse().unwrap(), "2001:db8::1".parse().unwrap()];
        let identity = HostIdentity::new("box".into(), ips);
        let r = redirect(&headers, &uri.parse().unwrap(), port, &identity);
        (r.status(), r.headers()[header::LOCATION].to_str().unwrap().to_string())
    }

    #[test]
    fn keeps_our_host_and_the_path_and_query_and_swaps_the_port() {
        let want = |s: &str| (StatusCode::PERMANENT_REDIRECT, s.to_string());
        assert_eq!(location(Some("box.local:8080"), "/join?code=1", 8443), want("https://box.local:8443/join?code=1"));
        assert_eq!(location(Some("192.168.1.9"), "/", 443), want("https://192.168.1.9/"));
        assert_eq!(location(Some("[2001:db8::1]:80"), "/a", 443), want("https://[2001:db8::1]/a"));
    }

    #[test]
    fn a_host_the_certificate_does_not_name_goes_to_the_lan_address() {
        let want = (StatusCode::PERMANENT_REDIRECT, "https://192.168.1.9:8443/x".to_string());
        assert_eq!(location(Some("evil.example"), "/x", 8443), want);
        assert_eq!(location(Some("a:b:c"), "/x", 8443), want);
        assert_eq!(location(None, "/x", 8443), want);
    }
}
