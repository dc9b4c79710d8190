//! A handler's refusal (status, the reason shown on the page, and for a
//! throttled client how long to wait), and running a store call off the
//! async threads with its failure turned into one.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::join::error;
use crate::store::{Store, StoreError};

#[derive(Debug)]
pub struct Refused {
    status: StatusCode,
    message: String,
    /// Seconds, for `Retry-After`.
    retry_after: Option<u64>,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut response = error(self.status, &self.message);
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

pub fn refused(status: StatusCode, message: impl Into<String>) -> Refused {
    Refused { status, message: message.into(), retry_after: None }
}

/// 429, saying how long to wait.
pub fn throttled(secs: u64) -> Refused {
    let message = format!("too many wrong attempts; try again in {secs} s");
    Refused { status: StatusCode::TOO_MANY_REQUESTS, message, retry_after: Some(secs) }
}

/// The database (or the thread that ran the call) failed: logged, and a 500.
pub fn store_error(e: impl std::fmt::Display) -> Refused {
    tracing::error!(error = %e, "database");
    refused(StatusCode::INTERNAL_SERVER_ERROR, "the box could not read or write its database")
}

/// Runs `query` on the store off the async threads (SQLite blocks).
pub async fn on_store<T: Send + 'static>(
    store: &Store,
    query: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Refused> {
    let store = store.clone();
    match tokio::task::spawn_blocking(move || query(&store)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(store_error(e)),
        Err(e) => Err(store_error(e)),
    }
}
