//! FHIR REST interactions on the registry's identity resources: `Patient` (PacientePe)
//! and `Organization` (an IPRESS, OrganizacionPe).
//!
//! | interaction | request | answer |
//! | --- | --- | --- |
//! | create | `POST /fhir/{type}` | 201, `Location: …/{id}/_history/1`, `ETag`, the stored resource |
//! | read | `GET /fhir/{type}/{id}` | 200; 404 if unknown; 410 if deleted |
//! | update | `PUT /fhir/{type}/{id}` (`If-Match: W/"n"` optional) | 200 (201 if it created); 412 on a stale `If-Match` |
//! | vread | `GET /fhir/{type}/{id}/_history/{vid}` | 200; 404; 410 for a deletion |
//! | history | `GET /fhir/{type}/{id}/_history` | a `history` Bundle, newest first |
//! | mark an index entry entered-in-error | `PUT /fhir/DocumentReference/{id}` with status `entered-in-error`, nothing else changed | 200, a new version; history kept |
//! | conditional update (`PIXm` ITI-104) | `PUT /fhir/{type}?identifier=…` or `?identifier:of-type=…` | 201 when nothing matched, 200 when one did; 412 when several did |
//!
//! The server owns `id` (on create), `meta.versionId` and `meta.lastUpdated`. Every
//! write is parsed strictly by the model on the blocking pool, checked against the
//! registry's rules ([`rules`]), and stored with its unique keys in one transaction, so
//! a second patient with the same identity document is refused by the database itself.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use renhice_model::Primitive;
use renhice_model::resources::{
    Bundle, BundleEntry, BundleEntryRequest, BundleEntryResponse, Resource,
};
use renhice_model::types::Meta;
use renhice_model::values::Instant;
use renhice_store::resources::{self as stored, NewVersion, StoredResource};
use time::OffsetDateTime;
use time::format_description::well_known::{Rfc2822, Rfc3339};

use crate::auth::Role;
use crate::auth::access::{Caller, Reading, check_in_scope, forbidden};
use crate::{ApiError, AppState};

mod audit_events;
mod batch;
pub(crate) mod consent;
mod locations;
mod pix;
mod push;
pub(crate) mod rules;
mod search;
mod summary;
mod validate;

/// The resource types this build serves (read, vread, history).
pub(crate) const SERVED: [&str; 7] = [
    "Bundle",
    "Consent",
    "DocumentReference",
    "List",
    "Organization",
    "Patient",
    "Provenance",
];

/// The canonical URL of `Patient/$record-locations`'s definition (in `profiles/renhice`).
pub(crate) const RECORD_LOCATIONS: &str = locations::DEFINITION;
/// The canonical URL of `Patient/$summary`'s definition.
pub(crate) const SUMMARY: &str = summary::DEFINITION;

/// The types clients create, update and search directly (the identity feed, and
/// patients' consents); the index entries (`DocumentReference`, `List`, `Provenance`) are only written by a push.
pub(crate) const FED: [&str; 3] = ["Consent", "Organization", "Patient"];

/// Registers the routes (after `/fhir/metadata`, which they would otherwise shadow).
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    // Operations first: `/fhir/{type}/{id}` would otherwise take `$ihe-pix` for an id.
    cfg.service(
        web::resource("/fhir")
            .route(web::post().to(push::transaction))
            .default_service(web::to(
                |req: HttpRequest| async move { refuse(&req, "POST") },
            )),
    )
    .configure(validation_routes)
    .service(
        web::resource("/fhir/Patient/$record-locations")
            .route(web::get().to(locations::for_identifier))
            .default_service(web::to(
                |req: HttpRequest| async move { refuse(&req, "GET") },
            )),
    )
    .service(
        web::resource("/fhir/Patient/{id}/$record-locations")
            .route(web::get().to(locations::for_instance))
            .default_service(web::to(
                |req: HttpRequest| async move { refuse(&req, "GET") },
            )),
    )
    .service(
        web::resource("/fhir/Patient/$summary")
            .route(web::get().to(summary::for_identifier))
            .default_service(web::to(
                |req: HttpRequest| async move { refuse(&req, "GET") },
            )),
    )
    .service(
        web::resource("/fhir/Patient/{id}/$summary")
            .route(web::get().to(summary::for_instance))
            .default_service(web::to(
                |req: HttpRequest| async move { refuse(&req, "GET") },
            )),
    )
    .service(
        web::resource("/fhir/Patient/$ihe-pix")
            .route(web::get().to(pix::ihe_pix))
            .default_service(web::to(
                |req: HttpRequest| async move { refuse(&req, "GET") },
            )),
    )
    .service(
        web::resource("/fhir/AuditEvent")
            .route(web::get().to(audit_events::search))
            .default_service(web::to(
                |req: HttpRequest| async move { refuse(&req, "GET") },
            )),
    )
    .service(
        web::resource("/fhir/AuditEvent/{id}")
            .route(web::get().to(audit_events::read))
            .default_service(web::to(
                |req: HttpRequest| async move { refuse(&req, "GET") },
            )),
    )
    .service(
        web::resource("/fhir/{type}/_search")
            .route(web::post().to(search::search_post))
            .default_service(web::to(
                |req: HttpRequest| async move { refuse(&req, "POST") },
            )),
    )
    .service(
        web::resource("/fhir/{type}")
            .route(web::get().to(search::search))
            .route(web::post().to(create))
            .route(web::put().to(conditional_update))
            .default_service(web::to(|req: HttpRequest| async move {
                refuse(&req, "GET, POST, PUT")
            })),
    )
    .service(
        web::resource("/fhir/{type}/{id}")
            .route(web::get().to(read))
            .route(web::put().to(update))
            .default_service(web::to(|req: HttpRequest| async move {
                refuse(&req, "GET, PUT")
            })),
    )
    .service(
        web::resource("/fhir/{type}/{id}/_history")
            .route(web::get().to(history))
            .default_service(web::to(
                |req: HttpRequest| async move { refuse(&req, "GET") },
            )),
    )
    .service(
        web::resource("/fhir/{type}/{id}/_history/{vid}")
            .route(web::get().to(vread))
            .default_service(web::to(
                |req: HttpRequest| async move { refuse(&req, "GET") },
            )),
    );
}

/// `$validate`, on the base and on each type.
fn validation_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/fhir/$validate")
            .route(web::post().to(validate::any))
            .default_service(web::to(
                |req: HttpRequest| async move { refuse(&req, "POST") },
            )),
    )
    .service(
        web::resource("/fhir/{type}/$validate")
            .route(web::post().to(validate::typed))
            .default_service(web::to(
                |req: HttpRequest| async move { refuse(&req, "POST") },
            )),
    );
}

fn refuse(req: &HttpRequest, allow: &'static str) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        allow,
    })
}

/// The resource type of the path, if served.
pub(crate) fn served(resource_type: &str) -> Result<&'static str, ApiError> {
    SERVED
        .into_iter()
        .find(|t| *t == resource_type)
        .ok_or_else(|| ApiError::UnsupportedType {
            resource_type: resource_type.to_owned(),
        })
}

/// The resource type of the path, if clients may write it directly.
pub(crate) fn fed(req: &HttpRequest, resource_type: &str) -> Result<&'static str, ApiError> {
    let served = served(resource_type)?;
    if FED.contains(&served) {
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
        .map_err(|e| ApiError::Internal(e.to_string()))?
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

/// Microseconds since the Unix epoch, now.
pub(crate) fn now_micros() -> i64 {
    let now = OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

fn to_datetime(micros: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `meta.lastUpdated` text: RFC 3339 with microseconds, UTC.
pub(crate) fn instant_text(micros: i64) -> String {
    to_datetime(micros)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// Sets the server-owned elements: `id`, `meta.versionId`, `meta.lastUpdated`.
fn stamp(resource: &mut Resource, id: &str, version: i64, last_updated: i64) {
    let meta_slot = match resource {
        Resource::Patient(p) => {
            p.id = Some(id.into());
            &mut p.meta
        }
        Resource::Organization(o) => {
            o.id = Some(id.into());
            &mut o.meta
        }
        Resource::Consent(c) => {
            c.id = Some(id.into());
            &mut c.meta
        }
        // `served` admits no other type.
        _ => return,
    };
    let meta = meta_slot.get_or_insert_with(Box::<Meta>::default);
    meta.version_id = Some(Primitive::new(version.to_string()));
    meta.last_updated = Instant::parse(instant_text(last_updated))
        .ok()
        .map(Primitive::new);
}

/// Checks, stamps and stores one version; returns the stored JSON.
async fn write(
    state: &AppState,
    caller: &Caller,
    mut resource: Resource,
    id: String,
    version: i64,
) -> Result<(String, i64), ApiError> {
    let mut rules = rules::check(&resource)?;
    if let Some(c) = consent::as_consent(&resource) {
        consent::resolve(state, c, &mut rules).await?;
    }
    let last_updated = now_micros();
    stamp(&mut resource, &id, version, last_updated);
    let body = resource.to_json_string();
    let resource_type = resource.resource_type();
    let stored_body = body.clone();
    // The change and its audit events commit together.
    let audit = caller.audit();
    audit.entity(resource_type, &id);
    match &resource {
        Resource::Patient(_) => audit.patient(&id),
        Resource::Consent(c) => audit.patient(
            c.patient
                .as_deref()
                .and_then(|r| r.reference_str())
                .and_then(|r| r.strip_prefix("Patient/"))
                .unwrap_or_default(),
        ),
        _ => {}
    }
    let events = audit.events_for_commit(&state.auth.config.audience);
    state
        .store
        .run(move |conn| {
            stored::write_version_audited(
                conn,
                &NewVersion {
                    resource_type,
                    id: &id,
                    version_id: version,
                    last_updated,
                    body: Some(&stored_body),
                    index: &rules.index,
                    unique_keys: &rules.unique_keys,
                    record: None,
                    grants: &rules.grants,
                },
                &events,
            )
        })
        .await?;
    audit.committed();
    Ok((body, last_updated))
}

/// The current version, as the answer to an update that changes nothing.
///
/// SIHCEs re-send the patients and IPRESS they already fed (PIXm feeds are repeated on
/// every admission); a copy per re-send would grow the history and the tables without
/// telling anyone anything. The update is a no-op when the incoming resource, stamped
/// with the current version's id, version and time, serialises to exactly the stored
/// JSON; the answer is then that version, as a read would give it.
fn unchanged(
    resource_type: &'static str,
    resource: &Resource,
    row: StoredResource,
) -> Option<Written> {
    if row.deleted {
        return None;
    }
    let body = row.body?;
    let mut candidate = resource.clone();
    stamp(&mut candidate, &row.id, row.version_id, row.last_updated);
    (candidate.to_json_string() == body).then_some(Written {
        status: StatusCode::OK,
        resource_type,
        id: row.id,
        version: row.version_id,
        last_updated: row.last_updated,
        body,
    })
}

/// A response carrying one stored version, with `ETag` and `Last-Modified`.
fn version_response(
    status: StatusCode,
    resource_type: &str,
    id: &str,
    version: i64,
    last_updated: i64,
    body: String,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::CONTENT_TYPE, renhice_model::FHIR_JSON_MIME))
        .insert_header((header::ETAG, format!("W/\"{version}\"")));
    if let Ok(modified) = to_datetime(last_updated).format(&Rfc2822) {
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
    pub(crate) last_updated: i64,
    /// The stored JSON.
    pub(crate) body: String,
}

impl Written {
    fn into_response(self) -> HttpResponse {
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

async fn create(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    if path.as_str() == "Bundle" {
        return summary::push(body, &state, &caller).await;
    }
    let resource_type = fed(&req, &path)?;
    if resource_type == "Consent" {
        let resource = parse(body, resource_type).await?;
        if let Some(c) = consent::as_consent(&resource) {
            consent::check_write(&state, &caller, c, None).await?;
        }
        return Ok(create_resource(&state, &caller, resource_type, resource)
            .await?
            .into_response());
    }
    check_write(&caller, resource_type)?;
    let resource = parse(body, resource_type).await?;
    Ok(create_resource(&state, &caller, resource_type, resource)
        .await?
        .into_response())
}

/// Creates a resource under a fresh id (FHIR R4 §3.1.0.5: the server assigns it).
pub(crate) async fn create_resource(
    state: &AppState,
    caller: &Caller,
    resource_type: &'static str,
    resource: Resource,
) -> Result<Written, ApiError> {
    let id = uuid::Uuid::new_v4().to_string();
    let (body, last_updated) = write(state, caller, resource, id.clone(), 1).await?;
    Ok(Written {
        status: StatusCode::CREATED,
        resource_type,
        id,
        version: 1,
        last_updated,
        body,
    })
}

/// The version an `If-Match: W/"n"` header names, if any.
fn if_match(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    parse_if_match(
        req.headers()
            .get(header::IF_MATCH)
            .map(|v| v.to_str().unwrap_or_default()),
    )
}

/// The version an `If-Match` value (a header, or a batch entry's `request.ifMatch`)
/// names.
pub(crate) fn parse_if_match(value: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(text) = value.map(str::trim) else {
        return Ok(None);
    };
    let inner = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    inner
        .parse::<i64>()
        .map(Some)
        .map_err(|_| ApiError::Invalid {
            path: "If-Match".to_owned(),
            message: format!("If-Match {text:?} is not a version ETag such as W/\"3\""),
        })
}

async fn update(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let (resource_type, id) = path.into_inner();
    if resource_type == "DocumentReference" {
        return push::mark_entered_in_error(&req, id, body, &state, &caller).await;
    }
    let resource_type = fed(&req, &resource_type)?;
    let expected = if_match(&req)?;
    if resource_type != "Consent" {
        check_write(&caller, resource_type)?;
    }
    let resource = parse(body, resource_type).await?;
    if let Some(c) = consent::as_consent(&resource) {
        let lookup_id = id.clone();
        let stored = state
            .store
            .run(move |conn| stored::read(conn, "Consent", &lookup_id))
            .await?
            .filter(|r| !r.deleted)
            .and_then(|r| r.body)
            .map(|body| Resource::from_json(body.as_bytes()))
            .transpose()
            .map_err(|e| ApiError::Internal(format!("stored Consent/{id}: {e}")))?;
        consent::check_write(
            &state,
            &caller,
            c,
            stored.as_ref().and_then(consent::as_consent),
        )
        .await?;
    }
    Ok(
        update_resource(&state, &caller, resource_type, id, resource, expected)
            .await?
            .into_response(),
    )
}

/// Writes the next version of `{resource_type}/{id}` (creating it if new), honouring an
/// expected current version.
pub(crate) async fn update_resource(
    state: &AppState,
    caller: &Caller,
    resource_type: &'static str,
    id: String,
    resource: Resource,
    expected: Option<i64>,
) -> Result<Written, ApiError> {
    match resource.id() {
        Some(body_id) if body_id == id => {}
        Some(body_id) => {
            return Err(ApiError::Invalid {
                path: format!("{resource_type}.id"),
                message: format!("the body's id {body_id:?} is not the URL's id {id:?}"),
            });
        }
        None => {
            return Err(ApiError::Invalid {
                path: format!("{resource_type}.id"),
                message: "an update must carry the resource's id (FHIR R4 §3.1.0.4)".to_owned(),
            });
        }
    }
    let lookup_id = id.clone();
    let row = state
        .store
        .run(move |conn| stored::read(conn, resource_type, &lookup_id))
        .await?;
    let current = row.as_ref().map_or(0, |r| r.version_id);
    if let Some(expected) = expected
        && expected != current
    {
        return Err(ApiError::PreconditionFailed(format!(
            "{resource_type}/{id} is at version {current}, not {expected} (If-Match)"
        )));
    }
    if let Some(held) = row.and_then(|row| unchanged(resource_type, &resource, row)) {
        return Ok(held);
    }
    let version = current + 1;
    let (body, last_updated) = match write(state, caller, resource, id.clone(), version).await {
        // Another writer got in between the lookup and the write.
        Err(ApiError::Store(renhice_store::StoreError::VersionConflict { current, .. }))
            if expected.is_some() =>
        {
            return Err(ApiError::PreconditionFailed(format!(
                "{resource_type}/{id} is at version {current}, not {} (If-Match)",
                version - 1
            )));
        }
        other => other?,
    };
    Ok(Written {
        status: if version == 1 {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        resource_type,
        id,
        version,
        last_updated,
        body,
    })
}

/// The search criterion of a conditional update: one identifier, by `system|value`,
/// by value alone, or by `identifier:of-type=type-system|type-code|value`.
#[derive(Debug)]
pub(crate) struct IdentifierCriterion {
    param: &'static str,
    system: Option<String>,
    value: String,
}

pub(crate) fn identifier_criterion(query: &str) -> Result<IdentifierCriterion, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
        .map_err(|e| ApiError::Invalid {
            path: "query".to_owned(),
            message: format!("the query string is malformed: {e}"),
        })?
        .into_inner();
    let [(name, raw)] = pairs.as_slice() else {
        return Err(ApiError::Invalid {
            path: "query".to_owned(),
            message: "a conditional update takes exactly one criterion: identifier=[system|]value                       or identifier:of-type=type-system|type-code|value"
                .to_owned(),
        });
    };
    let invalid = |message: String| ApiError::Invalid {
        path: name.clone(),
        message,
    };
    match name.as_str() {
        "identifier" => {
            let (system, value) = match raw.split_once('|') {
                Some((system, value)) => (Some(system.to_owned()), value.to_owned()),
                None => (None, raw.clone()),
            };
            if value.is_empty() {
                return Err(invalid("identifier needs a value".to_owned()));
            }
            Ok(IdentifierCriterion {
                param: "identifier",
                system: system.filter(|s| !s.is_empty()),
                value,
            })
        }
        "identifier:of-type" => {
            let mut parts = raw.splitn(3, '|');
            let (Some(type_system), Some(type_code), Some(value)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(invalid(format!(
                    "identifier:of-type is type-system|type-code|value, got {raw:?}"
                )));
            };
            if type_system.is_empty() || type_code.is_empty() || value.is_empty() {
                return Err(invalid(format!(
                    "identifier:of-type needs a type system, a type code and a value, got {raw:?}"
                )));
            }
            Ok(IdentifierCriterion {
                param: rules::OF_TYPE_PARAM,
                system: Some(format!("{type_system}|{type_code}")),
                value: rules::normalise_of_type_value(type_system, value),
            })
        }
        other => Err(invalid(format!(
            "{other:?} is not supported in a conditional update; use identifier or identifier:of-type"
        ))),
    }
}

async fn conditional_update(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let resource_type = fed(&req, &path)?;
    check_write(&caller, resource_type)?;
    let criterion = identifier_criterion(req.query_string())?;
    let expected = if_match(&req)?;
    let resource = parse(body, resource_type).await?;
    Ok(conditional_update_resource(
        &state,
        &caller,
        resource_type,
        &criterion,
        resource,
        expected,
    )
    .await?
    .into_response())
}

/// Creates or updates the one resource an identifier criterion matches (PIXm ITI-104).
pub(crate) async fn conditional_update_resource(
    state: &AppState,
    caller: &Caller,
    resource_type: &'static str,
    criterion: &IdentifierCriterion,
    resource: Resource,
    expected: Option<i64>,
) -> Result<Written, ApiError> {
    // A retry after a lost race sees the winner's record and updates it, so concurrent
    // feeds of one new patient end with one patient. Every lost race means another
    // request won, so a bounded number of retries serves any realistic burst; past it
    // the client gets the conflict.
    let mut last_conflict = None;
    for _ in 0..CONDITIONAL_RETRIES {
        let matches = {
            let (param, system, value) = (
                criterion.param,
                criterion.system.clone(),
                criterion.value.clone(),
            );
            state
                .store
                .run(move |conn| {
                    stored::find_by_token(conn, resource_type, param, system.as_deref(), &value)
                })
                .await?
        };
        let (id, row) = match matches.as_slice() {
            [] => {
                let id = resource
                    .id()
                    .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
                let lookup_id = id.clone();
                let row = state
                    .store
                    .run(move |conn| stored::read(conn, resource_type, &lookup_id))
                    .await?;
                (id, row)
            }
            [id] => {
                if let Some(body_id) = resource.id()
                    && body_id != id
                {
                    return Err(ApiError::Invalid {
                        path: format!("{resource_type}.id"),
                        message: format!(
                            "the criterion matches {resource_type}/{id}, but the body's id is {body_id:?}"
                        ),
                    });
                }
                let lookup_id = id.clone();
                let row = state
                    .store
                    .run(move |conn| stored::read(conn, resource_type, &lookup_id))
                    .await?;
                (id.clone(), row)
            }
            several => {
                return Err(ApiError::PreconditionFailed(format!(
                    "the criterion matches {} {resource_type} resources ({}); it must match at most one",
                    several.len(),
                    several.join(", ")
                )));
            }
        };
        let current = row.as_ref().map_or(0, |r| r.version_id);
        if let Some(expected) = expected
            && expected != current
        {
            return Err(ApiError::PreconditionFailed(format!(
                "{resource_type}/{id} is at version {current}, not {expected} (If-Match)"
            )));
        }
        if let Some(held) = row.and_then(|row| unchanged(resource_type, &resource, row)) {
            return Ok(held);
        }
        let version = current + 1;
        match write(state, caller, resource.clone(), id.clone(), version).await {
            Ok((body, last_updated)) => {
                return Ok(Written {
                    status: if version == 1 {
                        StatusCode::CREATED
                    } else {
                        StatusCode::OK
                    },
                    resource_type,
                    id,
                    version,
                    last_updated,
                    body,
                });
            }
            Err(ApiError::Store(
                e @ (renhice_store::StoreError::UniqueKeyTaken { .. }
                | renhice_store::StoreError::VersionConflict { .. }),
            )) if expected.is_none() => last_conflict = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_conflict.map_or_else(
        || ApiError::Internal("conditional update made no attempt".to_owned()),
        ApiError::Store,
    ))
}

/// How often a conditional update retries after losing a race to a concurrent write.
const CONDITIONAL_RETRIES: usize = 32;

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

async fn read(
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let (resource_type, id) = path.into_inner();
    let resource_type = served(&resource_type)?;
    let lookup_id = id.clone();
    let row = state
        .store
        .run(move |conn| stored::read(conn, resource_type, &lookup_id))
        .await?;
    let r = found(resource_type, &id, row)?;
    caller.audit().entity(resource_type, &id);
    check_read(&state, &caller, resource_type, &id).await?;
    Ok(version_response(
        StatusCode::OK,
        resource_type,
        &id,
        r.version_id,
        r.last_updated,
        r.body.unwrap_or_default(),
    ))
}

async fn vread(
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let (resource_type, id, vid) = path.into_inner();
    let resource_type = served(&resource_type)?;
    let version: i64 = vid.parse().map_err(|_| ApiError::ResourceNotFound {
        resource_type: resource_type.to_owned(),
        id: format!("{id}/_history/{vid}"),
    })?;
    let lookup_id = id.clone();
    let row = state
        .store
        .run(move |conn| stored::read_version(conn, resource_type, &lookup_id, version))
        .await?;
    let r = found(resource_type, &format!("{id}/_history/{vid}"), row)?;
    caller
        .audit()
        .entity(resource_type, &format!("{id}/_history/{vid}"));
    check_read(&state, &caller, resource_type, &id).await?;
    Ok(version_response(
        StatusCode::OK,
        resource_type,
        &id,
        r.version_id,
        r.last_updated,
        r.body.unwrap_or_default(),
    ))
}

async fn history(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let (resource_type, id) = path.into_inner();
    let resource_type = served(&resource_type)?;
    let lookup_id = id.clone();
    let versions = state
        .store
        .run(move |conn| stored::history(conn, resource_type, &lookup_id))
        .await?;
    if versions.is_empty() {
        return Err(ApiError::ResourceNotFound {
            resource_type: resource_type.to_owned(),
            id,
        });
    }
    caller.audit().entity(resource_type, &id);
    check_read(&state, &caller, resource_type, &id).await?;
    let entries = versions
        .iter()
        .map(|v| history_entry(&base_url(&req), resource_type, &id, v))
        .collect::<Result<Vec<_>, _>>()?;
    let bundle = Bundle {
        r#type: Some("history".into()),
        total: u32::try_from(entries.len()).ok().map(Primitive::new),
        entry: entries,
        ..Bundle::default()
    };
    Ok(ok(&Resource::Bundle(Box::new(bundle))))
}

/// Refuses writing an identity directly (create, update, conditional update) to a caller
/// who may not: SIHCEs feed patients; administrators register IPRESS. Consents are
/// written only by `POST`/`PUT /fhir/Consent`, which check who records them
/// ([`consent::check_write`]).
pub(crate) fn check_write(caller: &Caller, resource_type: &str) -> Result<(), ApiError> {
    if resource_type == "Consent" {
        return Err(ApiError::NotOffered {
            message: "consents are recorded one at a time: POST /fhir/Consent, and revoked \
                      with PUT /fhir/Consent/{id}"
                .to_owned(),
            allow: "",
        });
    }
    if resource_type == "Organization" {
        caller.require(
            &[Role::Admin],
            "register or change an IPRESS (Organization)",
        )
    } else {
        caller.require(
            &[Role::System, Role::Clinician],
            &format!("write a {resource_type}"),
        )
    }
}

/// Refuses reading `{resource_type}/{id}` (read, vread, history) to a caller who may
/// not. IPRESS are public to every caller; patients' identities to SIHCEs, clinicians
/// and the patient; index entries and summaries by the rules of [`Caller::scope`], on
/// the patient and custodian the entry names.
pub(crate) async fn check_read(
    state: &AppState,
    caller: &Caller,
    resource_type: &'static str,
    id: &str,
) -> Result<(), ApiError> {
    match resource_type {
        "Organization" => Ok(()),
        "Consent" => consent::check_read(state, caller, id).await,
        "Patient" => match caller.role() {
            Role::System | Role::Clinician => {
                caller.audit().patient(id);
                Ok(())
            }
            Role::Patient => caller.check_patient(state, id).await,
            Role::Auditor | Role::Admin => Err(forbidden(
                "role",
                format!("a {} token does not read patients' records", caller.role()),
            )),
        },
        _ => {
            let lookup_id = id.to_owned();
            let parties = state
                .store
                .run(move |conn| stored::parties(conn, resource_type, &lookup_id))
                .await?;
            let scope = caller
                .scope(
                    state,
                    parties.patient.as_deref().unwrap_or_default(),
                    Reading::Entries,
                )
                .await?;
            check_in_scope(
                &scope,
                parties.custodian.as_deref().unwrap_or_default(),
                parties.sensitive,
            )
        }
    }
}

/// A 200 answer carrying a resource as FHIR JSON.
pub(crate) fn ok(resource: &Resource) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, renhice_model::FHIR_JSON_MIME))
        .body(resource.to_json())
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

fn history_entry(
    base: &str,
    resource_type: &str,
    id: &str,
    v: &StoredResource,
) -> Result<BundleEntry, ApiError> {
    let (method, status) = match (v.deleted, v.version_id) {
        (true, _) => ("DELETE", "204"),
        (false, 1) => ("POST", "201"),
        (false, _) => ("PUT", "200"),
    };
    let resource = match &v.body {
        Some(body) => Some(
            Resource::from_json(body.as_bytes())
                .map_err(|e| ApiError::Internal(format!("stored {resource_type}/{id}: {e}")))?,
        ),
        None => None,
    };
    let url = if method == "POST" {
        resource_type.to_owned()
    } else {
        format!("{resource_type}/{id}")
    };
    Ok(BundleEntry {
        full_url: Some(format!("{base}/{resource_type}/{id}").into()),
        resource,
        request: Some(Box::new(BundleEntryRequest {
            method: Some(method.into()),
            url: Some(url.into()),
            ..BundleEntryRequest::default()
        })),
        response: Some(Box::new(BundleEntryResponse {
            status: Some(status.into()),
            etag: Some(format!("W/\"{}\"", v.version_id).into()),
            last_modified: Instant::parse(instant_text(v.last_updated))
                .ok()
                .map(Primitive::new),
            ..BundleEntryResponse::default()
        })),
        ..BundleEntry::default()
    })
}
