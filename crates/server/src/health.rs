//! Operational endpoints: liveness, readiness, metrics and the capability statement.

use std::time::Duration;

use actix_web::http::StatusCode;

use actix_web::{HttpRequest, HttpResponse, web};
use renhice_store::StoreError;
use serde_json::json;

use crate::error::fhir_json;
use crate::{ApiError, AppState};

/// `GET /healthz`: the process is up and serving HTTP. It deliberately does not touch the
/// database, so an orchestrator does not restart a healthy server during a database
/// outage; `/readyz` is the one that takes it out of rotation.
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "pass" }))
}

/// `GET /readyz`: the database answers within the configured time, carries exactly the
/// schema this build expects, and takes writes.
pub(crate) async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let timeout = Duration::from_secs(state.config.readiness_timeout_secs.max(1));
    match tokio::time::timeout(timeout, state.store.check_ready()).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok().json(json!({
            "status": "pass",
            "database": state.store.backend().name(),
        }))),
        Ok(Err(e)) => Err(ApiError::DatabaseUnavailable(e)),
        Err(_) => Err(ApiError::DatabaseUnavailable(StoreError::Task(format!(
            "no answer within {} s",
            timeout.as_secs()
        )))),
    }
}

/// `GET /metrics`.
pub(crate) async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.store.pool_status();
    let metrics = &state.metrics;
    metrics.pool_connections.set(i64::from(pool.connections));
    metrics.pool_idle.set(i64::from(pool.idle));
    metrics.pool_max.set(i64::from(pool.max_size));
    match metrics.encode() {
        Ok(text) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(text),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode metrics");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// `GET /fhir/metadata`.
pub(crate) async fn metadata(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // `Accept` and `_format` are checked for every /fhir path (`fhir::conventions`).
    let _ = req;
    Ok(fhir_json(StatusCode::OK, &state.capability_statement))
}
