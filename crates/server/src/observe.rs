//! Per-request observation: request id, tracing span, access log line and metrics.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use tracing::Instrument;

use crate::metrics::Metrics;

/// The header carrying the request id, in and out.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being handled, available to handlers as a request extension
/// (audit records and error reports name it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The id as sent in `X-Request-Id`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Accepts a caller's request id only if it is short and plain, so that it can be put
/// into logs and headers without escaping; anything else is replaced.
fn acceptable_request_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let ok = !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| text.to_owned())
}

/// Middleware: wraps every request in a span carrying its id, logs one line when the
/// response is ready, records metrics and echoes the id in `X-Request-Id`.
pub(crate) async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(acceptable_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().to_string();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        path = %req.path(),
    );
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let result = next.call(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    match result {
        Ok(mut res) => {
            let status = res.status().as_u16();
            let route = res
                .request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".to_owned());
            if let Some(metrics) = metrics {
                metrics.observe_request(&method, &route, status, elapsed);
            }
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                res.headers_mut().insert(REQUEST_ID, value);
            }
            span.in_scope(|| {
                tracing::info!(
                    status,
                    route = %route,
                    duration_ms = elapsed.as_secs_f64() * 1000.0,
                    "request completed"
                );
            });
            Ok(res)
        }
        Err(e) => {
            span.in_scope(|| tracing::warn!(error = %e, "request failed in middleware"));
            Err(e)
        }
    }
}
