//! OAuth's errors (RFC 6749 §5.2), as the authorization server's endpoints answer them:
//! `{"error": …, "error_description": …}`, never cached.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use serde_json::json;

/// An OAuth error answer.
#[derive(Debug)]
pub(crate) struct OAuthError {
    /// The HTTP status.
    pub(crate) status: StatusCode,
    /// The OAuth `error` code.
    pub(crate) error: &'static str,
    /// What went wrong, for the client's developer.
    pub(crate) description: String,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
        }
    }

    /// `invalid_request`, 400.
    pub(crate) fn request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// `invalid_client`, 401: the client is not who it says.
    pub(crate) fn client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    /// `invalid_grant`, 400: the code, refresh token or assertion is not good.
    pub(crate) fn grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    /// `invalid_scope`, 400.
    pub(crate) fn scope(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    /// `server_error`, 500 (said to the client without detail; the log has it).
    pub(crate) fn server(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            description,
        )
    }

    /// `temporarily_unavailable`, 503.
    pub(crate) fn unavailable(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            description,
        )
    }

    /// The database failed while answering (logged here).
    pub(crate) fn database(e: &renhice_store::StoreError) -> Self {
        tracing::error!(error = %e, "the authorization server cannot use the database");
        Self::unavailable("the registry's database is not available")
    }

    /// The answer.
    pub(crate) fn response(&self) -> HttpResponse {
        HttpResponse::build(self.status)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({"error": self.error, "error_description": self.description}))
    }
}
