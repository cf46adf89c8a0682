//! The REST plumbing every FHIR handler shares: the served types, strict parsing of
//! request bodies, version answers (`ETag`, `Last-Modified`, `Location`), the base URL,
//! and the conditional headers and criteria.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use renhice_model::resources::Resource;
use renhice_store::Timestamp;
use renhice_store::resources::StoredResource;
use time::format_description::well_known::Rfc2822;

use renhice_registry::ResourceType;

use crate::error::ApiError;

/// Whether clients write resources of a served type directly.
pub(crate) fn is_fed(resource_type: &str) -> bool {
    resource_type
        .parse::<ResourceType>()
        .is_ok_and(|t| ResourceType::FED.contains(&t))
}

/// The resource type of the path, if served.
pub(crate) fn served(resource_type: &str) -> Result<&'static str, ApiError> {
    resource_type
        .parse::<ResourceType>()
        .ok()
        .filter(|t| ResourceType::SERVED.contains(t))
        .map(ResourceType::as_str)
        .ok_or_else(|| ApiError::UnsupportedType {
            resource_type: resource_type.to_owned(),
        })
}

/// The resource type of the path, if clients may write it directly.
pub(crate) fn fed(req: &HttpRequest, resource_type: &str) -> Result<&'static str, ApiError> {
    let served = served(resource_type)?;
    if is_fed(served) {
        Ok(served)
    } else {
        Err(ApiError::NotOffered {
            message: format!(
                "{} {}: {served} entries are written only by an ITI-65 push (POST /fhir)",
                req.method(),
                req.path()
            ),
            allow: if req.match_info().get("id").is_some() {
                "GET"
            } else {
                ""
            },
        })
    }
}

/// Parses a request body strictly, off the HTTP worker thread.
pub(crate) async fn parse(
    body: web::Bytes,
    expected_type: &'static str,
) -> Result<Resource, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::Invalid {
            path: expected_type.to_owned(),
            message: format!(
                "the request has no body; send the {expected_type} as application/fhir+json"
            ),
        });
    }
    let resource = web::block(move || Resource::from_json(&body))
        .await
        .map_err(|e| ApiError::caused("a worker task failed", e))?
        .map_err(|e| ApiError::Invalid {
            path: if e.path.is_empty() {
                expected_type.to_owned()
            } else {
                e.path.clone()
            },
            message: e.to_string(),
        })?;
    if resource.resource_type() != expected_type {
        return Err(ApiError::Invalid {
            path: format!("{}.resourceType", resource.resource_type()),
            message: format!(
                "the body is a {}, but the URL is for {expected_type}",
                resource.resource_type()
            ),
        });
    }
    Ok(resource)
}

/// Reads a body the registry stored. Leniently: it is the registry's own output, and a
/// body an earlier build stored (when the strict reader still took `[]` and `{}`) must
/// still be served, not answered with a 500.
pub(crate) fn stored(body: &str) -> Result<Resource, renhice_model::json::ParseError> {
    Resource::from_json_with(body.as_bytes(), renhice_model::json::Mode::Lenient)
}

/// Parses the body of a write strictly and holds it to the profile its type is held to
/// ([`ResourceType::write_profile`]) and to FHIR R4's own rules, before anything is
/// stored: a body that breaks them is a 422 listing every error with its path.
pub(crate) async fn parse_write(
    body: web::Bytes,
    expected_type: &'static str,
) -> Result<Resource, ApiError> {
    let resource = parse(body.clone(), expected_type).await?;
    held(body, expected_type).await?;
    Ok(resource)
}

/// Holds a body to the profile its type is held to, if any ([`parse_write`] without
/// the parse, for a write whose authorisation needs the parsed resource first).
pub(crate) async fn held(body: web::Bytes, resource_type: &'static str) -> Result<(), ApiError> {
    match resource_type
        .parse::<ResourceType>()
        .ok()
        .and_then(ResourceType::write_profile)
    {
        Some(profile) => conforms(body, resource_type, profile).await,
        None => Ok(()),
    }
}

/// Refuses a body that does not conform to `profile` (FHIR R4's rules included), with
/// every error the validator finds; warnings and information pass.
pub(crate) async fn conforms(
    body: web::Bytes,
    what: &str,
    profile: &'static str,
) -> Result<(), ApiError> {
    let patient = what == "Patient";
    let errors = web::block(move || {
        let validator = renhice_validator::Validator::renhice();
        let issues = match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(value) if patient => patient_issues(&validator, &value, profile),
            _ => validator.validate_json_against(&body, &[profile.to_owned()]),
        };
        issues
            .into_iter()
            .filter(|issue| {
                matches!(
                    issue.severity,
                    renhice_model::IssueSeverity::Error | renhice_model::IssueSeverity::Fatal
                )
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|error| ApiError::caused("a worker task failed", error))?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::ProfileViolation {
            what: what.to_owned(),
            profile: profile.to_owned(),
            issues: errors,
        })
    }
}

/// A patient's issues: its identity documents held to `profile` (PacientePe), the whole
/// patient, other identifiers (medical record numbers, for PIXm) included, to FHIR R4
/// ([`renhice_registry::identity::documents_only`]). Each issue once, with the path it
/// has in what was sent.
fn patient_issues(
    validator: &renhice_validator::Validator<'_>,
    patient: &serde_json::Value,
    profile: &str,
) -> Vec<renhice_model::OperationOutcomeIssue> {
    use renhice_registry::identity::{documents_only, original_path};
    let (documents, kept) = documents_only(patient);
    let mut issues = validator.validate_against(&documents, &[profile.to_owned()]);
    for issue in &mut issues {
        for expression in &mut issue.expression {
            *expression = original_path(expression, &kept);
        }
    }
    if documents != *patient {
        for issue in validator.validate(patient) {
            if !issues.contains(&issue) {
                issues.push(issue);
            }
        }
    }
    issues
}

/// A response carrying one stored version, with `ETag` and `Last-Modified`.
pub(crate) fn version_response(
    status: StatusCode,
    resource_type: &str,
    id: &str,
    version: i64,
    last_updated: Timestamp,
    body: String,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::CONTENT_TYPE, renhice_model::FHIR_JSON_MIME))
        .insert_header((header::ETAG, format!("W/\"{version}\"")));
    if let Ok(modified) = last_updated.to_datetime().format(&Rfc2822) {
        response.insert_header((header::LAST_MODIFIED, modified.replace("+0000", "GMT")));
    }
    if status == StatusCode::CREATED {
        response.insert_header((
            header::LOCATION,
            format!("/fhir/{resource_type}/{id}/_history/{version}"),
        ));
    }
    response.body(body)
}

/// One stored version, as a write produced it.
pub(crate) struct Written {
    /// 201 when the write created the resource, 200 otherwise.
    pub(crate) status: StatusCode,
    pub(crate) resource_type: &'static str,
    pub(crate) id: String,
    pub(crate) version: i64,
    pub(crate) last_updated: Timestamp,
    /// The stored JSON.
    pub(crate) body: String,
}

impl Written {
    pub(crate) fn into_response(self) -> HttpResponse {
        version_response(
            self.status,
            self.resource_type,
            &self.id,
            self.version,
            self.last_updated,
            self.body,
        )
    }
}

/// The version an `If-Match: W/"n"` header names, if any.
pub(crate) fn if_match(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    parse_if_match(
        req.headers()
            .get(header::IF_MATCH)
            .map(|v| v.to_str().unwrap_or_default()),
    )
}

/// The version an `If-Match` value (a header, or a batch entry's `request.ifMatch`)
/// names.
pub(crate) fn parse_if_match(value: Option<&str>) -> Result<Option<i64>, ApiError> {
    Ok(renhice_registry::conditional::if_match(value)?)
}

pub(crate) use renhice_registry::conditional::IdentifierCriterion;

/// The parameters of a query string, in order; a query that cannot be read is a 400.
pub(crate) fn query_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    Ok(web::Query::<Vec<(String, String)>>::from_query(query)
        .map_err(|e| ApiError::Invalid {
            path: "query".to_owned(),
            message: format!("the query string is malformed: {e}"),
        })?
        .into_inner())
}

/// The criterion of a conditional update from its query string.
pub(crate) fn identifier_criterion(query: &str) -> Result<IdentifierCriterion, ApiError> {
    let pairs = query_pairs(query)?;
    Ok(renhice_registry::conditional::identifier_criterion(&pairs)?)
}

pub(crate) fn found(
    resource_type: &str,
    id: &str,
    row: Option<StoredResource>,
) -> Result<StoredResource, ApiError> {
    match row {
        None => Err(ApiError::ResourceNotFound {
            resource_type: resource_type.to_owned(),
            id: id.to_owned(),
        }),
        Some(r) if r.deleted => Err(ApiError::Gone {
            resource_type: resource_type.to_owned(),
            id: id.to_owned(),
            version: r.version_id,
        }),
        Some(r) => Ok(r),
    }
}

/// A 200 answer carrying a resource as FHIR JSON.
pub(crate) fn ok(resource: &Resource) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, renhice_model::FHIR_JSON_MIME))
        .body(resource.to_json())
}

/// A 200 answer carrying an `OperationOutcome` as FHIR JSON (an operation's report).
pub(crate) fn ok_outcome(
    outcome: &renhice_model::OperationOutcome,
) -> Result<HttpResponse, ApiError> {
    let body = serde_json::to_vec(outcome)
        .map_err(|error| ApiError::caused("the OperationOutcome could not be written", error))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, renhice_model::FHIR_JSON_MIME))
        .body(body))
}

/// Whether a request's body is an `application/x-www-form-urlencoded` form (a POST
/// search, a token request).
pub(crate) fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// The server's FHIR base as the client addressed it (`http://host:port/fhir`).
pub(crate) fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}/fhir", info.scheme(), info.host())
}
