//! `POST /fhir` with a `batch` Bundle: independent requests in one round trip.
//!
//! A SIHCE loading its patients and establishments sends them as a batch of identity
//! feed requests. Each entry succeeds or fails on its own (FHIR R4 §3.1.0.11.1), in
//! order, and the `batch-response` carries, per entry, its status, location and `ETag`,
//! or an `OperationOutcome` whose paths point into the Bundle
//! (`Bundle.entry[3].resource.identifier[0]`). Entries may be:
//!
//! | `request.method` | `request.url` | as |
//! | --- | --- | --- |
//! | `POST` | `Patient`, `Organization` | create |
//! | `PUT` | `Patient/{id}`, `Organization/{id}` | update (`request.ifMatch` honoured) |
//! | `PUT` | `Patient?identifier=…` (or `identifier:of-type`) | conditional update (ITI-104) |
//! | `GET` | `{type}/{id}` | read |
//!
//! Index entries are not written in a batch: a push is a transaction, all or nothing.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use renhice_model::Primitive;
use renhice_model::resources::{Bundle, BundleEntry, BundleEntryResponse, Resource};
use renhice_model::values::Instant;
use renhice_store::resources as stored;

use super::rest::Written;
use crate::auth::access::Caller;
use crate::{ApiError, AppState};

/// Runs every entry of a batch Bundle and answers with the `batch-response`.
pub(super) async fn batch(
    req: &HttpRequest,
    body: &web::Bytes,
    state: &AppState,
    caller: &Caller,
    bundle: Bundle,
) -> HttpResponse {
    // Each entry's resource is held to its profile as it was sent, not as the model
    // read it back (which drops what FHIR JSON forbids, such as empty arrays).
    let sent: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let base = super::rest::base_url(req);
    let mut entries = Vec::with_capacity(bundle.entry.len());
    caller.audit().interaction("batch", "E", None);
    for (i, entry) in bundle.entry.into_iter().enumerate() {
        // Each entry is audited as the same request on its own would be.
        let request = entry.request.as_deref();
        let text = |v: Option<&Primitive<String>>| {
            v.and_then(Primitive::as_str).unwrap_or_default().to_owned()
        };
        caller.audit().begin_entry(
            &text(request.and_then(|r| r.method.as_ref())),
            &text(request.and_then(|r| r.url.as_ref())),
        );
        let raw = sent
            .get("entry")
            .and_then(|entries| entries.get(i))
            .and_then(|e| e.get("resource"));
        let answered = match run(state, caller, entry, raw).await {
            Ok(written) => success(&base, &written),
            Err(e) => {
                caller.audit().entry_failed(&e);
                failure(i, &e)
            }
        };
        entries.push(answered);
    }
    let response = Bundle {
        r#type: Some("batch-response".into()),
        entry: entries,
        ..Bundle::default()
    };
    super::rest::ok(&Resource::Bundle(Box::new(response)))
}

/// The resource an entry carries, of the type its `request.url` names, held to the
/// profile of its type as the same write on its own would be.
async fn entry_body(
    resource: Option<Resource>,
    raw: Option<&serde_json::Value>,
    expected: &str,
    method: &str,
    url: &str,
) -> Result<Resource, ApiError> {
    let resource = resource.ok_or_else(|| ApiError::Invalid {
        path: "request".to_owned(),
        message: format!("{method} {url} needs the resource in the entry"),
    })?;
    if resource.resource_type() == expected {
        if let Some(profile) = expected
            .parse::<renhice_registry::ResourceType>()
            .ok()
            .and_then(renhice_registry::ResourceType::write_profile)
        {
            let json = raw.map_or_else(
                || web::Bytes::from(resource.to_json()),
                |raw| web::Bytes::from(raw.to_string()),
            );
            super::rest::conforms(json, resource.resource_type(), profile).await?;
        }
        Ok(resource)
    } else {
        Err(ApiError::Invalid {
            path: format!("{}.resourceType", resource.resource_type()),
            message: format!(
                "the entry holds a {}, but request.url is for {expected}",
                resource.resource_type()
            ),
        })
    }
}

/// One entry: what it asks, checked (the caller's rights included, as for the same
/// request on its own) and carried out.
async fn run(
    state: &AppState,
    caller: &Caller,
    entry: BundleEntry,
    raw: Option<&serde_json::Value>,
) -> Result<Written, ApiError> {
    let request = entry.request.as_deref();
    let text = |v: Option<&Primitive<String>>| {
        v.and_then(Primitive::as_str).unwrap_or_default().to_owned()
    };
    let method = text(request.and_then(|r| r.method.as_ref()));
    let url = text(request.and_then(|r| r.url.as_ref()));
    // Each entry is audited as the same request on its own would be.
    caller.audit().begin_entry(&method, &url);
    let if_match = super::rest::parse_if_match(
        request
            .and_then(|r| r.if_match.as_ref())
            .and_then(Primitive::as_str),
    )?;
    let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
    // What the entry does is held to the token's scopes as the same request on its own.
    if let Some((resource, letter)) = crate::routes::permission(&method, &format!("/fhir/{path}")) {
        caller.check_scope(resource, letter)?;
    }
    let segments: Vec<&str> = path.split('/').collect();
    let resource = entry.resource;
    let body_of = |resource: Option<Resource>, expected: &'static str| {
        entry_body(resource, raw, expected, &method, &url)
    };
    match (method.as_str(), segments.as_slice()) {
        ("POST", [resource_type]) if query.is_empty() => {
            let resource_type = fed_type(resource_type)?;
            super::resources::check_write(caller, resource_type)?;
            super::resources::create_resource(
                state,
                caller,
                resource_type,
                body_of(resource, resource_type).await?,
            )
            .await
        }
        ("PUT", [resource_type]) if !query.is_empty() => {
            let resource_type = fed_type(resource_type)?;
            super::resources::check_write(caller, resource_type)?;
            let criterion = super::rest::identifier_criterion(query)?;
            let resource = body_of(resource, resource_type).await?;
            super::resources::conditional_update_resource(
                state,
                caller,
                resource_type,
                &criterion,
                resource,
                if_match,
            )
            .await
        }
        ("PUT", [resource_type, id]) if query.is_empty() => {
            let resource_type = fed_type(resource_type)?;
            super::resources::check_write(caller, resource_type)?;
            let resource = body_of(resource, resource_type).await?;
            super::resources::update_resource(
                state,
                caller,
                resource_type,
                (*id).to_owned(),
                resource,
                if_match,
            )
            .await
        }
        ("GET", [resource_type, id]) if query.is_empty() => {
            let resource_type = super::rest::served(resource_type)?;
            let lookup = (*id).to_owned();
            let row = state
                .store
                .run(move |conn| stored::read(conn, resource_type, &lookup))
                .await?;
            let row = super::rest::found(resource_type, id, row)?;
            super::resources::check_read(state, caller, resource_type, id).await?;
            Ok(Written {
                status: StatusCode::OK,
                resource_type,
                id: (*id).to_owned(),
                version: row.version_id,
                last_updated: row.last_updated,
                body: row.body.unwrap_or_default(),
            })
        }
        _ => Err(ApiError::Invalid {
            path: "request".to_owned(),
            message: format!(
                "a batch entry here is POST Patient|Organization, PUT Patient|Organization/{{id}}, \
                 PUT Patient|Organization?identifier=…, or GET {{type}}/{{id}}; not {method} {url:?} \
                 (index entries are pushed in a transaction)"
            ),
        }),
    }
}

/// A type a batch may write.
fn fed_type(resource_type: &str) -> Result<&'static str, ApiError> {
    let served = super::rest::served(resource_type)?;
    if super::rest::is_fed(served) {
        Ok(served)
    } else {
        Err(ApiError::Invalid {
            path: "request.url".to_owned(),
            message: format!("{served} entries are written only by an ITI-65 push (a transaction)"),
        })
    }
}

fn success(base: &str, w: &Written) -> BundleEntry {
    let reason = w.status.canonical_reason().unwrap_or_default();
    BundleEntry {
        full_url: Some(format!("{base}/{}/{}", w.resource_type, w.id).into()),
        // The stored resource, as the single request would return it.
        resource: super::rest::stored(&w.body).ok(),
        response: Some(Box::new(BundleEntryResponse {
            status: Some(format!("{} {reason}", w.status.as_u16()).into()),
            location: Some(format!("{}/{}/_history/{}", w.resource_type, w.id, w.version).into()),
            etag: Some(format!("W/\"{}\"", w.version).into()),
            last_modified: Instant::parse(w.last_updated.to_rfc3339())
                .ok()
                .map(Primitive::new),
            ..BundleEntryResponse::default()
        })),
        ..BundleEntry::default()
    }
}

/// The entry's error, with its paths rewritten into the Bundle: `Patient.identifier[0]`
/// becomes `Bundle.entry[i].resource.identifier[0]`, `request.url`
/// `Bundle.entry[i].request.url`.
fn failure(i: usize, e: &ApiError) -> BundleEntry {
    let status = e.status_code();
    let mut outcome = serde_json::to_value(e.outcome()).unwrap_or_default();
    for issue in outcome["issue"].as_array_mut().into_iter().flatten() {
        // `get_mut`, not indexing: `issue["expression"]` would add a `null` to an issue
        // without one, which the model (rightly) refuses to read back.
        let expressions = issue
            .get_mut("expression")
            .and_then(serde_json::Value::as_array_mut);
        for expression in expressions.into_iter().flatten() {
            if let Some(text) = expression.as_str() {
                *expression = serde_json::Value::String(within_entry(i, text));
            }
        }
    }
    BundleEntry {
        response: Some(Box::new(BundleEntryResponse {
            status: Some(
                format!(
                    "{} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or_default()
                )
                .into(),
            ),
            outcome: Resource::from_json(outcome.to_string().as_bytes()).ok(),
            ..BundleEntryResponse::default()
        })),
        ..BundleEntry::default()
    }
}

fn within_entry(i: usize, path: &str) -> String {
    if path.starts_with("request") {
        return format!("Bundle.entry[{i}].{path}");
    }
    if path == "If-Match" {
        return format!("Bundle.entry[{i}].request.ifMatch");
    }
    let is_type = |head: &str| {
        head.starts_with(char::is_uppercase) && head.chars().all(char::is_alphanumeric)
    };
    match path.split_once('.') {
        Some((head, rest)) if is_type(head) => format!("Bundle.entry[{i}].resource.{rest}"),
        None if is_type(path) => format!("Bundle.entry[{i}].resource"),
        // A query parameter of a conditional update.
        _ => format!("Bundle.entry[{i}].request.url"),
    }
}

#[cfg(test)]
mod tests {
    use super::{failure, within_entry};
    use crate::ApiError;

    #[test]
    fn a_refused_entry_carries_its_outcome() {
        let issue = renhice_model::OperationOutcomeIssue::new(
            renhice_model::IssueSeverity::Error,
            renhice_model::IssueType::Required,
            "Patient.name is required",
        );
        let e = ApiError::ProfileViolation {
            what: "Patient".to_owned(),
            profile: "https://example.org/p".to_owned(),
            issues: vec![issue],
        };
        let entry = failure(2, &e);
        let response = entry.response.unwrap();
        // An issue without a path (the summing-up one) is carried as it is.
        let Some(renhice_model::resources::Resource::OperationOutcome(outcome)) = response.outcome
        else {
            panic!("no outcome in the entry's response");
        };
        assert_eq!(outcome.issue.len(), 2);
    }

    #[test]
    fn paths_point_into_the_bundle() {
        assert_eq!(
            within_entry(3, "Patient.identifier[0]"),
            "Bundle.entry[3].resource.identifier[0]"
        );
        assert_eq!(within_entry(0, "Patient"), "Bundle.entry[0].resource");
        assert_eq!(
            within_entry(1, "request.url"),
            "Bundle.entry[1].request.url"
        );
        assert_eq!(within_entry(2, "identifier"), "Bundle.entry[2].request.url");
        assert_eq!(
            within_entry(2, "If-Match"),
            "Bundle.entry[2].request.ifMatch"
        );
    }
}
