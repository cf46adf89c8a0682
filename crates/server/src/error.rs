//! Errors answered to HTTP clients.
//!
//! # Error policy
//!
//! - Every failed request is answered with a FHIR `OperationOutcome`
//!   (`application/fhir+json`), whatever failed: routing, a handler, the database, or
//!   actix itself (the [`to_operation_outcome`] error handler rewrites any non-FHIR error
//!   body).
//! - The HTTP status and the issue code come from the [`ApiError`] variant, never from
//!   string matching on a message.
//! - Client errors (4xx) say precisely what was wrong and where (`expression` holds the
//!   element path). Server errors (5xx) say what failed in general terms and point to the
//!   request id; the cause is logged, not sent, so internals never leak to a client.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use renhice_model::{
    FHIR_JSON_MIME, IssueSeverity, IssueType, OperationOutcome, OperationOutcomeIssue,
};
use renhice_store::StoreError;

/// Everything a request handler can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No route matches the request path.
    #[error("no FHIR endpoint or resource at {path}")]
    RouteNotFound {
        /// The request path.
        path: String,
    },
    /// The path exists but not for this method.
    #[error("{method} is not supported on {path}; allowed: {allow}")]
    MethodNotAllowed {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// The methods the path supports, for the `Allow` header.
        allow: &'static str,
    },
    /// An interaction this server does not offer on a resource type.
    #[error("{message}")]
    NotOffered {
        /// What is not offered, and how to do it instead.
        message: String,
        /// The methods the path supports, for the `Allow` header (may be empty).
        allow: &'static str,
    },
    /// The client asked for a representation the server cannot produce.
    #[error(
        "cannot produce {accept}; this server speaks FHIR R4 as application/fhir+json or \
         application/fhir+xml"
    )]
    NotAcceptable {
        /// The `Accept` header received.
        accept: String,
    },
    /// The request body's media type is not one the server reads.
    #[error(
        "cannot read a body of type {content_type}; send application/fhir+json or \
         application/fhir+xml (application/json and application/xml are read as FHIR too)"
    )]
    UnsupportedMediaType {
        /// The `Content-Type` header received.
        content_type: String,
    },
    /// The resource type in the URL is not served by this build.
    #[error("{resource_type} is not a resource type this server serves (see /fhir/metadata)")]
    UnsupportedType {
        /// The type named in the URL.
        resource_type: String,
    },
    /// No resource with this id (or version).
    #[error("{resource_type}/{id} does not exist")]
    ResourceNotFound {
        /// Resource type.
        resource_type: String,
        /// Logical id (with `/_history/n` for a version).
        id: String,
    },
    /// The resource was deleted.
    #[error("{resource_type}/{id} was deleted (version {version})")]
    Gone {
        /// Resource type.
        resource_type: String,
        /// Logical id.
        id: String,
        /// The version recording the deletion.
        version: i64,
    },
    /// The request body is not valid FHIR JSON for the resource, or a header is malformed.
    #[error("{message}")]
    Invalid {
        /// The element path (or header) at fault.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Valid FHIR that breaks a rule of the registry.
    #[error("{message}")]
    Unprocessable {
        /// The element path at fault.
        path: String,
        /// Which rule, and how to comply.
        message: String,
    },
    /// A push refused by the signature policy: the refusal, then the verifier's report
    /// (one issue per check) of the signature at fault.
    #[error("{message}")]
    SignatureRefused {
        /// The signature (or the unsigned entry) at fault.
        path: String,
        /// The policy and the failing check.
        message: String,
        /// The report of the signature, as `OperationOutcome` issues.
        issues: Vec<renhice_model::OperationOutcomeIssue>,
    },
    /// A write that does not conform to the profile its type is held to (a push to the
    /// registry's profile of a push, a patient to PacientePe…): every error the
    /// validator found, each with its element path and rule.
    #[error("the {what} does not conform to {profile}: {} error(s)", issues.len())]
    ProfileViolation {
        /// What was written ("push", "Patient"…).
        what: String,
        /// The profile's canonical URL.
        profile: String,
        /// The validator's errors.
        issues: Vec<renhice_model::OperationOutcomeIssue>,
    },
    /// The request carries no bearer token the registry accepts.
    #[error("{reason}")]
    Unauthenticated {
        /// What is wrong with the credentials (nothing secret).
        reason: String,
        /// Whether a token was presented (RFC 6750: `error="invalid_token"`).
        presented: bool,
    },
    /// The caller is known but may not do this.
    #[error("{message} (rule: {rule})")]
    Forbidden {
        /// The access rule that refused, e.g. `custodian-is-caller`.
        rule: &'static str,
        /// What was refused and why.
        message: String,
        /// The element path at fault, if the refusal is about one element.
        path: Option<String>,
    },
    /// The client sent more requests than its rate limit allows.
    #[error(
        "too many requests from this client; retry after {retry_after_secs} s (server.rate_limit_per_second)"
    )]
    TooManyRequests {
        /// Seconds until the next request will be taken.
        retry_after_secs: u64,
    },
    /// The server has no room for the work now (all accreditation runners busy); the
    /// client may try again later.
    #[error("{0}")]
    Busy(String),
    /// An `If-Match` precondition does not hold.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The request conflicts with what the registry holds (e.g. an older summary than
    /// the one kept).
    #[error("{0}")]
    Conflict(String),
    /// A failure of the server itself, outside the database: what it was doing, and the
    /// error that stopped it, kept whole so the log shows its chain.
    #[error("internal error: {context}")]
    Internal {
        /// What the server was doing.
        context: String,
        /// The cause, if another error says why.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The database could not be reached or is not ready.
    #[error("the database is not available")]
    DatabaseUnavailable(#[source] StoreError),
    /// A database operation failed.
    #[error("a database operation failed")]
    Store(#[from] StoreError),
}

impl ApiError {
    fn issue_type(&self) -> IssueType {
        match self {
            Self::RouteNotFound { .. } | Self::ResourceNotFound { .. } => IssueType::NotFound,
            Self::MethodNotAllowed { .. }
            | Self::NotOffered { .. }
            | Self::NotAcceptable { .. }
            | Self::UnsupportedMediaType { .. }
            | Self::UnsupportedType { .. } => IssueType::NotSupported,
            Self::DatabaseUnavailable(_) => IssueType::NoStore,
            Self::Gone { .. } => IssueType::Deleted,
            Self::Invalid { .. } => IssueType::Structure,
            Self::Unauthenticated { .. } => IssueType::Login,
            Self::Forbidden { .. } => IssueType::Forbidden,
            Self::Unprocessable { .. } => IssueType::BusinessRule,
            Self::SignatureRefused { .. } => IssueType::Security,
            Self::ProfileViolation { .. } => IssueType::Invalid,
            Self::TooManyRequests { .. } => IssueType::Throttled,
            Self::Busy(_) => IssueType::Transient,
            Self::PreconditionFailed(_)
            | Self::Conflict(_)
            | Self::Store(StoreError::VersionConflict { .. }) => IssueType::Conflict,
            Self::Store(StoreError::UniqueKeyTaken { .. }) => IssueType::Duplicate,
            Self::Store(e) if e.is_unavailable() => IssueType::Transient,
            Self::Internal { .. } | Self::Store(_) => IssueType::Exception,
        }
    }

    /// The `OperationOutcome` describing this error.
    #[must_use]
    pub fn outcome(&self) -> OperationOutcome {
        if let Self::SignatureRefused {
            path,
            message,
            issues,
        } = self
        {
            return OperationOutcome {
                id: None,
                issue: refusal_issues(path, message, issues),
            };
        }
        if let Self::ProfileViolation { issues, .. } = self {
            // The errors first, each with its path; then what they add up to.
            let mut issue = issues.clone();
            issue.push(OperationOutcomeIssue::new(
                renhice_model::IssueSeverity::Information,
                self.issue_type(),
                format!("{self}; nothing was stored"),
            ));
            return OperationOutcome { id: None, issue };
        }
        let diagnostics = match self {
            // Conflicts are the client's business; other store failures are internal.
            Self::Store(
                e @ (StoreError::VersionConflict { .. } | StoreError::UniqueKeyTaken { .. }),
            ) => e.to_string(),
            Self::DatabaseUnavailable(_) => AWAY.to_owned(),
            Self::Store(e) if e.is_unavailable() => AWAY.to_owned(),
            Self::Store(_) | Self::Internal { .. } => {
                format!("{self}; the server log has the details under this response's X-Request-Id")
            }
            other => other.to_string(),
        };
        let issue = OperationOutcomeIssue::error(self.issue_type(), diagnostics);
        let issue = match self {
            Self::Invalid { path, .. }
            | Self::Unprocessable { path, .. }
            | Self::Forbidden {
                path: Some(path), ..
            } => issue.at(path.clone()),
            _ => issue,
        };
        OperationOutcome::single(issue)
    }
}

impl ApiError {
    /// A failure of the server itself, with no other error behind it.
    pub(crate) fn internal(context: impl Into<String>) -> Self {
        Self::Internal {
            context: context.into(),
            source: None,
        }
    }

    /// A failure of the server itself, caused by `source`.
    pub(crate) fn caused(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Internal {
            context: context.into(),
            source: Some(source.into()),
        }
    }
}

impl From<renhice_registry::RuleError> for ApiError {
    fn from(e: renhice_registry::RuleError) -> Self {
        use renhice_registry::RuleError;
        match e {
            RuleError::Invalid { path, message } => Self::Invalid { path, message },
            RuleError::Unprocessable { path, message } => Self::Unprocessable { path, message },
            RuleError::Forbidden { rule, message } => Self::Forbidden {
                rule,
                message,
                path: None,
            },
            // A rule added later answers as a broken rule until it gets its own status.
            other => Self::Unprocessable {
                path: other.path().to_owned(),
                message: other.message().to_owned(),
            },
        }
    }
}

/// What a client is told when the database is away (a restart, a failover, a read-only
/// server): to come back, and, for a write, that it may have been stored.
const AWAY: &str = "the database is not available now; retry after the time Retry-After gives. \
 If this was a write, whether it was stored is not known: repeat it as it was \
 (a push, a conditional create or update and an update with If-Match are safe \
 to repeat). The server log has the details under this response's X-Request-Id";

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::RouteNotFound { .. }
            | Self::UnsupportedType { .. }
            | Self::ResourceNotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } | Self::NotOffered { .. } => {
                StatusCode::METHOD_NOT_ALLOWED
            }
            Self::NotAcceptable { .. } => StatusCode::NOT_ACCEPTABLE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Gone { .. } => StatusCode::GONE,
            Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::Unprocessable { .. }
            | Self::SignatureRefused { .. }
            | Self::ProfileViolation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::Conflict(_)
            | Self::Store(StoreError::VersionConflict { .. } | StoreError::UniqueKeyTaken { .. }) => {
                StatusCode::CONFLICT
            }
            Self::Busy(_) | Self::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(e) if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal { .. } | Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let status = self.status_code();
        if status.is_server_error() && !matches!(self, Self::Busy(_)) {
            // The cause chain goes to the log only (see the policy above).
            tracing::error!(error = %error_chain(self), status = status.as_u16(), "request failed");
        }
        let mut response = fhir_json(status, &self.outcome());
        if let Self::MethodNotAllowed { allow, .. } | Self::NotOffered { allow, .. } = self {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if let Self::Busy(_) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        }
        let database_away = match self {
            Self::DatabaseUnavailable(_) => true,
            Self::Store(e) => e.is_unavailable(),
            _ => false,
        };
        if database_away {
            // A restart or a failover takes seconds: come back soon, not at once.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if let Self::TooManyRequests { retry_after_secs } = self
            && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if let Self::Unauthenticated { reason, presented } = self {
            // RFC 6750 §3: the challenge, and why a presented token failed.
            let challenge = if *presented {
                format!(
                    "Bearer realm=\"renhice\", error=\"invalid_token\", error_description=\"{}\"",
                    reason.replace(['"', '\\'], "'")
                )
            } else {
                "Bearer realm=\"renhice\"".to_owned()
            };
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// The error and all its sources, joined by `: `.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A FHIR JSON response with the given status.
pub(crate) fn fhir_json<T: serde::Serialize>(status: StatusCode, body: &T) -> HttpResponse {
    match serde_json::to_vec(body) {
        Ok(bytes) => HttpResponse::build(status)
            .insert_header((
                header::CONTENT_TYPE,
                HeaderValue::from_static(FHIR_JSON_MIME),
            ))
            .body(bytes),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise a response body");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// Rewrites an error response that does not already carry FHIR JSON (actix's own
/// errors: payload too large, malformed headers, …) into an `OperationOutcome` with the
/// same status.
#[allow(
    clippy::unnecessary_wraps,
    reason = "the signature actix's ErrorHandlers expects"
)]
pub(crate) fn to_operation_outcome<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_fhir = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(FHIR_JSON_MIME));
    // The authorization server speaks OAuth, whose errors have their own JSON (RFC 6749
    // §5.2), and shows people pages of its own.
    let is_oauth = res.request().path().starts_with("/auth/")
        && res.status() != StatusCode::METHOD_NOT_ALLOWED
        && res.status() != StatusCode::NOT_FOUND;
    let is_page = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_fhir || is_oauth || is_page {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let code = match status {
        StatusCode::NOT_FOUND => IssueType::NotFound,
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::URI_TOO_LONG => IssueType::TooLong,
        StatusCode::TOO_MANY_REQUESTS => IssueType::Throttled,
        StatusCode::UNAUTHORIZED => IssueType::Login,
        StatusCode::FORBIDDEN => IssueType::Forbidden,
        StatusCode::METHOD_NOT_ALLOWED
        | StatusCode::NOT_ACCEPTABLE
        | StatusCode::UNSUPPORTED_MEDIA_TYPE => IssueType::NotSupported,
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => IssueType::Timeout,
        s if s.is_server_error() => IssueType::Exception,
        _ => IssueType::Invalid,
    };
    let diagnostics = match res.response().error() {
        Some(e) if status.is_client_error() => e.to_string(),
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let outcome = OperationOutcome::single(OperationOutcomeIssue::error(code, diagnostics));
    let (req, old) = res.into_parts();
    let mut new = fhir_json(status, &outcome);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, new).map_into_right_body(),
    ))
}

/// The issues of a refused signature, after the refusal itself.
fn refusal_issues(
    path: &str,
    message: &str,
    issues: &[OperationOutcomeIssue],
) -> Vec<OperationOutcomeIssue> {
    let mut all = vec![
        OperationOutcomeIssue::new(IssueSeverity::Error, IssueType::Security, message).at(path),
    ];
    all.extend(issues.iter().cloned());
    all
}
