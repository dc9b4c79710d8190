//! Every refusal in one shape: `{"error": "…"}` with its status, whoever
//! made it (our handlers, axum's extractors, a body limit), over HTTP/1.1
//! and HTTP/2 alike.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use futures_util::StreamExt;

use super::join::error;

/// Longest error text kept from a plain-text refusal.
const MAX_ERROR_TEXT: usize = 4096;
/// An oversized body is read and dropped up to this much, so the client,
/// still sending, gets to read the 413; past it the stream is cut.
const MAX_DRAIN: u64 = 32 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Turns a plain-text error into JSON. A browser asking for a page (Accept:
/// text/html) keeps the plain words. A refusal made before the body was
/// read (no session, no such route) first reads what the client still
/// sends, so it reads the answer: over HTTP/1.1 an early answer and close
/// meet the client's data with a reset, and the answer is lost.
pub async fn as_json(request: Request, next: Next) -> Response {
    let wants_page =
        request.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"));
    let (parts, body) = request.into_parts();
    let body = Shared(Arc::new(Mutex::new(body)));
    let response = next.run(Request::from_parts(parts, Body::new(body.clone()))).await;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        let rest = std::mem::take(&mut *body.lock());
        if http_body::Body::size_hint(&rest).upper().is_none_or(|n| n <= MAX_DRAIN) {
            drain(rest).await;
        }
    }
    let is_json =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json || wants_page {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MAX_ERROR_TEXT).await {
        Ok(bytes) if !bytes.is_empty() => String::from_utf8_lossy(&bytes).trim().to_string(),
        _ => status.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let mut json = error(status, &text);
    // Keep what the refusal said besides its body (Allow, Retry-After, WWW-Authenticate).
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            json.headers_mut().insert(name, value.clone());
        }
    }
    json
}

/// `route` takes bodies of at most `max` bytes; a longer one gets a 413.
pub fn body_limit<S: Clone + Send + Sync + 'static>(route: MethodRouter<S>, max: usize) -> MethodRouter<S> {
    route
        .layer(DefaultBodyLimit::max(max))
        .layer(axum::middleware::from_fn(move |request, next| refuse_oversized(max, request, next)))
}

/// Refuses a body whose declared length is over `max` with a 413 before
/// reading it ([`as_json`] drains what the client still sends, so it reads
/// the 413).
async fn refuse_oversized(max: usize, request: Request, next: Next) -> Response {
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let Some(length) = declared.filter(|&n| n > max as u64) else {
        return next.run(request).await;
    };
    let message = format!("the body is {length} bytes; this takes at most {max}");
    error(StatusCode::PAYLOAD_TOO_LARGE, &message).into_response()
}

/// A request body the handler reads while [`as_json`] keeps a hold on it.
#[derive(Clone)]
struct Shared(Arc<Mutex<Body>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Body> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl http_body::Body for Shared {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut *self.lock()).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.lock().is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.lock().size_hint()
    }
}

/// Reads a body to its end and drops it, for at most [`DRAIN_TIME`].
/// (hyper holds it to its Content-Length, at most [`MAX_DRAIN`] here.)
async fn drain(body: Body) {
    let mut stream = body.into_data_stream();
    let _ = tokio::time::timeout(DRAIN_TIME, async { while let Some(Ok(_)) = stream.next().await {} }).await;
}
