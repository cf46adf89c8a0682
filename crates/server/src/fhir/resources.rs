//! FHIR REST interactions on the registry's resources by id, and on the identity
//! resources clients write directly: `Patient` (PacientePe), `Organization` (an IPRESS,
//! OrganizacionPe) and `Consent`.
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
//! registry's rules ([`renhice_registry::check`]), and stored with its unique keys in one transaction, so
//! a second patient with the same identity document is refused by the database itself.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use renhice_model::Primitive;
use renhice_model::resources::{
    Bundle, BundleEntry, BundleEntryRequest, BundleEntryResponse, BundleLink, Resource,
};
use renhice_model::types::Meta;
use renhice_model::values::Instant;
use renhice_store::Timestamp;
use renhice_store::resources::{self as stored, NewVersion, StoredResource};

use super::consent;
use super::rest::{
    IdentifierCriterion, Written, base_url, fed, found, held, identifier_criterion, if_match, ok,
    parse, parse_write, served, version_response,
};
use crate::auth::access::{Caller, Reading, check_in_scope, forbidden};
use crate::auth::token::Role;
use crate::error::ApiError;
use crate::state::AppState;

/// Sets the server-owned elements: `id`, `meta.versionId`, `meta.lastUpdated`.
fn stamp(resource: &mut Resource, id: &str, version: i64, last_updated: Timestamp) {
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
    meta.last_updated = Instant::parse(last_updated.to_rfc3339())
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
) -> Result<(String, Timestamp), ApiError> {
    let mut rules = renhice_registry::check(&resource)?;
    if let Some(c) = consent::as_consent(&resource) {
        consent::resolve(state, c, &mut rules).await?;
    }
    let last_updated = Timestamp::now();
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

pub(crate) async fn create(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let resource_type = fed(&req, &path)?;
    if resource_type == "Consent" {
        // Who may record it is read from it: authorised first, then held to the profile.
        let resource = parse(body.clone(), resource_type).await?;
        if let Some(c) = consent::as_consent(&resource) {
            consent::check_write(&state, &caller, c, None).await?;
        }
        held(body, resource_type).await?;
        return Ok(create_resource(&state, &caller, resource_type, resource)
            .await?
            .into_response());
    }
    check_write(&caller, resource_type)?;
    let criterion = req
        .headers()
        .get("if-none-exist")
        .map(|v| identifier_criterion(v.to_str().unwrap_or_default()))
        .transpose()
        .map_err(|e| match e {
            ApiError::Invalid { message, .. } => ApiError::Invalid {
                path: "If-None-Exist".to_owned(),
                message,
            },
            other => other,
        })?;
    let resource = parse_write(body, resource_type).await?;
    let written = match criterion {
        Some(criterion) => {
            conditional_create(&state, &caller, resource_type, &criterion, resource).await?
        }
        None => create_resource(&state, &caller, resource_type, resource).await?,
    };
    Ok(written.into_response())
}

/// `If-None-Exist` (FHIR R4 §3.1.0.8): creates the resource unless the identifier
/// criterion matches one already (200 with it, nothing written), or several (412). Race
/// free: identity documents and RENIPRESS codes are unique keys, so of two concurrent
/// creates of one identity the second fails to write, looks again and finds the first.
async fn conditional_create(
    state: &AppState,
    caller: &Caller,
    resource_type: &'static str,
    criterion: &IdentifierCriterion,
    resource: Resource,
) -> Result<Written, ApiError> {
    let mut last_conflict = None;
    for _ in 0..CONDITIONAL_RETRIES {
        let (param, system, value) = (
            criterion.param,
            criterion.system.clone(),
            criterion.value.clone(),
        );
        let matches = state
            .store
            .run(move |conn| {
                stored::find_by_token(conn, resource_type, param, system.as_deref(), &value)
            })
            .await?;
        match matches.as_slice() {
            [] => match create_resource(state, caller, resource_type, resource.clone()).await {
                Ok(written) => return Ok(written),
                Err(ApiError::Store(e @ renhice_store::StoreError::UniqueKeyTaken { .. })) => {
                    last_conflict = Some(e);
                }
                Err(e) => return Err(e),
            },
            [id] => {
                let lookup_id = id.clone();
                let row = state
                    .store
                    .run(move |conn| stored::read(conn, resource_type, &lookup_id))
                    .await?;
                let row = found(resource_type, id, row)?;
                caller.audit().entity(resource_type, id);
                return Ok(Written {
                    status: StatusCode::OK,
                    resource_type,
                    id: id.clone(),
                    version: row.version_id,
                    last_updated: row.last_updated,
                    body: row.body.unwrap_or_default(),
                });
            }
            several => {
                return Err(ApiError::PreconditionFailed(format!(
                    "If-None-Exist matches {} {resource_type} resources ({}); it must match at most one",
                    several.len(),
                    several.join(", ")
                )));
            }
        }
    }
    Err(last_conflict.map_or_else(
        || ApiError::internal("conditional create made no attempt"),
        ApiError::Store,
    ))
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

pub(crate) async fn update(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let (resource_type, id) = path.into_inner();
    let resource_type = fed(&req, &resource_type)?;
    let expected = if_match(&req)?;
    if resource_type != "Consent" {
        check_write(&caller, resource_type)?;
    }
    let resource = parse(body.clone(), resource_type).await?;
    if let Some(c) = consent::as_consent(&resource) {
        let lookup_id = id.clone();
        let stored = state
            .store
            .run(move |conn| stored::read(conn, "Consent", &lookup_id))
            .await?
            .filter(|r| !r.deleted)
            .and_then(|r| r.body)
            .map(|body| super::rest::stored(&body))
            .transpose()
            .map_err(|e| ApiError::caused(format!("stored Consent/{id} does not parse"), e))?;
        consent::check_write(
            &state,
            &caller,
            c,
            stored.as_ref().and_then(consent::as_consent),
        )
        .await?;
    }
    held(body, resource_type).await?;
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
    // An update that creates chooses the id: it must be one FHIR allows. (A resource an
    // earlier build stored under another id can still be updated.)
    if row.is_none() && !renhice_registry::is_fhir_id(&id) {
        return Err(ApiError::Invalid {
            path: format!("{resource_type}.id"),
            message: format!(
                "{:?} is not a FHIR id: 1 to 64 letters, digits, '-' or '.'",
                id.chars().take(80).collect::<String>()
            ),
        });
    }
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

pub(crate) async fn conditional_update(
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
    let resource = parse_write(body, resource_type).await?;
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
        || ApiError::internal("conditional update made no attempt"),
        ApiError::Store,
    ))
}

/// How often a conditional update retries after losing a race to a concurrent write.
const CONDITIONAL_RETRIES: usize = 32;

pub(crate) async fn read(
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let (resource_type, id) = path.into_inner();
    let resource_type = served(&resource_type)?;
    if id == "_history" {
        // `_history` is not an id (ids have no underscore): the history of a whole type,
        // offered for the identity feed (its own route) and not for records, whose
        // access is decided patient by patient.
        return Err(ApiError::NotOffered {
            message: format!(
                "the history of every {resource_type} is not offered (only of Patient and \
                 Organization); read one resource's history: \
                 GET /fhir/{resource_type}/{{id}}/_history"
            ),
            allow: "",
        });
    }
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

pub(crate) async fn vread(
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

pub(crate) async fn history(
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
    let pairs = super::rest::query_pairs(req.query_string())?;
    let asked = renhice_registry::history::parse(&pairs)?;
    let written: Vec<(i64, i64)> = versions
        .iter()
        .map(|v| (v.version_id, v.last_updated.micros()))
        .collect();
    let (all, _) = renhice_registry::history::select(
        &written,
        &renhice_registry::history::HistoryRequest {
            count: None,
            before: None,
            ..asked
        },
    );
    let (page, next) = renhice_registry::history::select(&written, &asked);
    let base = base_url(&req);
    let entries = versions
        .iter()
        .filter(|v| page.contains(&v.version_id))
        .map(|v| history_entry(&base, resource_type, &id, v))
        .collect::<Result<Vec<_>, _>>()?;
    let link = |cursor: Option<i64>| {
        let mut query: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| k != "_cursor")
            .cloned()
            .collect();
        if let Some(cursor) = cursor {
            query.push(("_cursor".to_owned(), cursor.to_string()));
        }
        let encoded = serde_urlencoded::to_string(&query).unwrap_or_default();
        let url = format!("{base}/{resource_type}/{id}/_history");
        if encoded.is_empty() {
            url
        } else {
            format!("{url}?{encoded}")
        }
    };
    let links = page_links(link(asked.before), next.map(|n| link(Some(n))));
    let bundle = Bundle {
        r#type: Some("history".into()),
        total: u32::try_from(all.len()).ok().map(Primitive::new),
        link: links,
        entry: entries,
        ..Bundle::default()
    };
    Ok(ok(&Resource::Bundle(Box::new(bundle))))
}

/// `GET /fhir/{type}/_history`: the history of every resource of an identity-feed type
/// (`Patient`, `Organization`), newest first, paged by `_count` and the `_cursor` of a
/// `next` link, from `_since` on. What a PIXm consumer needs to follow the feed. Patients'
/// history is for SIHCE systems and clinicians, as their searches are (each patient of
/// the page is audited); IPRESS' is for every caller.
pub(crate) async fn type_history(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let resource_type = served(&path.into_inner())?;
    if resource_type == "Patient" {
        caller.require(
            &[Role::System, Role::Clinician],
            "read the history of every patient",
        )?;
    }
    let pairs = super::rest::query_pairs(req.query_string())?;
    let asked = renhice_registry::history::parse_type(&pairs)?;
    let (versions, next) = state
        .store
        .run(move |conn| {
            stored::type_history(conn, resource_type, asked.since, asked.after, asked.count)
        })
        .await?;
    if resource_type == "Patient" {
        for v in &versions {
            caller.audit().patient(&v.id);
        }
    }
    let base = base_url(&req);
    let entry = versions
        .iter()
        .map(|v| history_entry(&base, resource_type, &v.id, v))
        .collect::<Result<Vec<_>, _>>()?;
    let link = |cursor: Option<(i64, i64, i64)>| {
        let mut query: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| k != "_cursor" && k != "_count")
            .cloned()
            .collect();
        query.push(("_count".to_owned(), asked.count.to_string()));
        if let Some(cursor) = cursor {
            query.push((
                "_cursor".to_owned(),
                renhice_registry::history::type_cursor(cursor),
            ));
        }
        let encoded = serde_urlencoded::to_string(&query).unwrap_or_default();
        format!("{base}/{resource_type}/_history?{encoded}")
    };
    let links = page_links(link(asked.after), next.map(|n| link(Some(n))));
    let bundle = Bundle {
        r#type: Some("history".into()),
        link: links,
        entry,
        ..Bundle::default()
    };
    Ok(ok(&Resource::Bundle(Box::new(bundle))))
}

/// A page's `self` link, and its `next` link when there is a next page.
fn page_links(this: String, next: Option<String>) -> Vec<BundleLink> {
    std::iter::once(("self", this))
        .chain(next.map(|url| ("next", url)))
        .map(|(relation, url)| BundleLink {
            relation: Some(relation.into()),
            url: Some(url.into()),
            ..BundleLink::default()
        })
        .collect()
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
        Some(body) => Some(super::rest::stored(body).map_err(|e| {
            ApiError::caused(format!("stored {resource_type}/{id} does not parse"), e)
        })?),
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
            last_modified: Instant::parse(v.last_updated.to_rfc3339())
                .ok()
                .map(Primitive::new),
            ..BundleEntryResponse::default()
        })),
        ..BundleEntry::default()
    })
}
