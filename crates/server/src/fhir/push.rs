//! `POST /fhir` with a `transaction` Bundle: the IHE MHD ITI-65 push of index entries.
//! (A `batch` Bundle goes to [`super::batch`].)
//!
//! What a push must be and what it stores are the registry's rules
//! ([`renhice_registry::push`]); here the push is carried out:
//!
//! 1. the push is held to the registry's profile of a push (`validate_pushes`), then its
//!    signatures are verified under the registry's signature policy
//!    ([`crate::signatures`]): a push refused by either stores nothing, and the verdict on
//!    each signature is kept in the `meta` of the entries it covers and of its
//!    Provenance;
//! 2. every entry gets an id and the references between entries are rewritten
//!    (`urn:uuid:…` → `DocumentReference/{id}`);
//! 3. every entry is checked, its patient and custodian looked up, the entries it
//!    supersedes read;
//! 4. everything is written in one database transaction with its audit events
//!    (`store::resources::write_all_audited`).
//!
//! A retried push conflicts on its unique keys in the database itself; the registry then
//! answers with the entries the first push created, exactly as it answered then. A push
//! that repeats only some of them is a 409 naming the entry. Marking an entry
//! `entered-in-error` is a `PUT` of the entry ([`mark_entered_in_error`]).

use std::collections::{HashMap, HashSet};

use actix_web::{HttpRequest, HttpResponse, web};
use renhice_model::Primitive;
use renhice_model::resources::{
    Bundle, BundleEntry, BundleEntryResponse, DocumentReference, Resource,
};
use renhice_model::values::Instant;
use renhice_registry::push::{self, Entry};
use renhice_registry::references::rewrite as rewrite_references;
use renhice_registry::{RuleError, params};
use renhice_store::StoreError;
use renhice_store::Timestamp;
use renhice_store::resources::{self as stored, NewVersion};
use serde_json::Value;

use crate::auth::access::Caller;
use crate::auth::token::Role;
use crate::{ApiError, AppState};

/// `POST /fhir`: a transaction Bundle is a push (MHD ITI-65, [`transaction`]); a
/// batch is answered entry by entry ([`batch::batch`]).
pub(crate) async fn system_bundle(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let Resource::Bundle(bundle) = super::rest::parse(body.clone(), "Bundle").await? else {
        return Err(ApiError::internal("parse returned another type"));
    };
    let limit = state.config.max_bundle_entries;
    if bundle.entry.len() > limit {
        return Err(ApiError::Invalid {
            path: "Bundle.entry".to_owned(),
            message: format!(
                "the Bundle has {} entries; this registry takes at most {limit} per request \
                 (server.max_bundle_entries): send it in parts",
                bundle.entry.len()
            ),
        });
    }
    match bundle.r#type.as_ref().and_then(Primitive::as_str) {
        Some("transaction") => transaction(&req, body, &state, &caller, *bundle).await,
        Some("batch") => Ok(super::batch::batch(&req, &body, &state, &caller, *bundle).await),
        _ => Err(ApiError::Invalid {
            path: "Bundle.type".to_owned(),
            message: "POST /fhir takes a transaction Bundle (an MHD ITI-65 push) or a batch"
                .to_owned(),
        }),
    }
}

/// A transaction Bundle, parsed: the push.
pub(super) async fn transaction(
    req: &HttpRequest,
    body: web::Bytes,
    state: &AppState,
    caller: &Caller,
    bundle: Bundle,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::System, Role::Clinician], "push index entries")?;
    // A push creates index entries and their SubmissionSet.
    caller.check_scope("DocumentReference", 'c')?;
    caller.check_scope("List", 'c')?;
    let own = caller.ipress(state).await?;
    if state.config.validate_pushes {
        super::rest::conforms(body, "push", renhice_registry::PUSH_PROFILE).await?;
    }
    let now = Timestamp::now();
    let verified_at = now.to_datetime();
    let marks = state.signatures.check_push(&bundle, verified_at).await?;
    let (prepared, deferred) = prepare(state, &bundle, now, caller, &own, &marks).await?;
    if let Some(refusal) = deferred {
        // An entry it would replace is no longer current: either this push was made
        // before (a retry, answered as the first time) or the refusal stands.
        return match first_push(state, &prepared).await? {
            Ok(first) => replay(req, state, &prepared, &first).await,
            Err(_) => Err(refusal),
        };
    }
    // The push and its audit events commit together.
    let audit = caller.audit();
    for p in &prepared {
        audit.entity(p.resource_type.as_str(), &p.id);
        for r in p.index.references.iter().filter(|r| r.param == "patient") {
            audit.patient(&r.target_id);
        }
    }
    let events = audit.events_for_commit(&state.auth.config.audience);
    let prepared = std::sync::Arc::new(prepared);
    let to_write = std::sync::Arc::clone(&prepared);
    let outcome = state
        .store
        .run(move |conn| {
            let writes: Vec<NewVersion<'_>> = to_write
                .iter()
                .map(|p| NewVersion {
                    resource_type: p.resource_type.as_str(),
                    id: &p.id,
                    version_id: p.version,
                    last_updated: now,
                    body: Some(&p.body),
                    index: &p.index,
                    unique_keys: &p.keys,
                    record: p.record.as_ref(),
                    grants: &[],
                })
                .collect();
            Ok(stored::write_all_audited(conn, &writes, &events))
        })
        .await?;
    match outcome {
        Ok(()) => {
            audit.committed();
            Ok(response(req, &prepared, now))
        }
        Err((_, StoreError::UniqueKeyTaken { .. })) => {
            // A retry: answer with what the first push created, if it created all of it.
            match first_push(state, &prepared).await? {
                Ok(first) => replay(req, state, &prepared, &first).await,
                Err(i) => Err(ApiError::Store(StoreError::UniqueKeyTaken {
                    resource_type: prepared[i].resource_type.as_str().to_owned(),
                    key: format!(
                        "(entry {i}: part of this push was pushed before with other entries)"
                    ),
                    holder: String::new(),
                })),
            }
        }
        Err((i, e)) => Err(match e {
            StoreError::VersionConflict { .. } if prepared.get(i).is_some_and(|p| p.answered) => {
                ApiError::internal(format!("entry {i}: a freshly assigned id collided"))
            }
            // A superseded entry changed under the push: nothing was stored, and a retry
            // sees the change.
            other => ApiError::Store(other),
        }),
    }
}

/// The ids the first push of these entries gave them, if every entry of the Bundle was
/// stored before under its unique key; otherwise the position of the first that was not.
async fn first_push(
    state: &AppState,
    prepared: &[Entry],
) -> Result<Result<Vec<String>, usize>, ApiError> {
    let mut first = Vec::with_capacity(prepared.len());
    for (i, p) in prepared.iter().enumerate().filter(|(_, p)| p.answered) {
        let Some(key) = p.keys.first().cloned() else {
            return Err(ApiError::internal(format!("entry {i} has no key")));
        };
        let resource_type = p.resource_type.as_str();
        let holder = state
            .store
            .run(move |conn| stored::key_holder(conn, resource_type, &key))
            .await?;
        match holder {
            Some(id) => first.push(id),
            None => return Ok(Err(i)),
        }
    }
    Ok(Ok(first))
}

/// Checks every entry and builds what to store: the Bundle's entries in order, then the
/// new versions of the entries they supersede. A refusal that a retry of an earlier push
/// would also meet (the entry to replace is no longer current) is returned beside them,
/// for the caller to decide.
async fn prepare(
    state: &AppState,
    bundle: &Bundle,
    now: Timestamp,
    caller: &Caller,
    own: &str,
    marks: &std::collections::BTreeMap<usize, Vec<Value>>,
) -> Result<(Vec<Entry>, Option<ApiError>), ApiError> {
    let plan = push::plan(bundle, || uuid::Uuid::new_v4().to_string())?;
    let mut prepared = Vec::with_capacity(plan.entries.len());
    let mut superseded: Vec<Entry> = Vec::new();
    let mut deferred = None;
    let mut parties = push::Parties::default();
    // References already found in the registry: a push names one patient and one IPRESS.
    let mut known = HashSet::new();
    for (i, (entry, (resource_type, id))) in bundle.entry.iter().zip(plan.entries).enumerate() {
        let at = format!("Bundle.entry[{i}].resource");
        let resource = stored_form(entry, &id, now, &plan.urns, marks.get(&i), &at)?;
        // What the entry is found by; the push adds who holds it and whom it is about.
        let index = params::indexed(&resource, &at)?;
        let mut keys = Vec::new();
        let mut record = None;
        match &resource {
            Resource::DocumentReference(d) => {
                let doc = push::document(d, &at)?;
                known_parties(state, &doc, &at, &mut known).await?;
                if doc.custodian != own {
                    return Err(caller.not_own(own, &doc.custodian, &format!("{at}.custodian")));
                }
                record = Some(push::record_entry(d, &doc.subject, &doc.custodian));
                parties.add(&doc, &at)?;
                keys.push(doc.key.clone());
                let outcomes = supersede(state, d, &at, &doc, now).await?;
                push::collect_supersessions(outcomes, &at, &mut superseded, &mut deferred)?;
            }
            Resource::List(l) => keys.push(push::list(l, &at)?),
            _ => {}
        }
        prepared.push(Entry {
            resource_type,
            id,
            version: 1,
            body: resource.to_json_string(),
            index,
            keys,
            record,
            answered: true,
        });
    }
    push::scope(
        &mut prepared,
        &parties.custodian.unwrap_or_default(),
        &parties.patient.unwrap_or_default(),
    )?;
    prepared.append(&mut superseded);
    Ok((prepared, deferred.map(ApiError::from)))
}

/// Refuses a document whose patient or custodian the registry does not hold.
async fn known_parties(
    state: &AppState,
    doc: &push::Document,
    at: &str,
    known: &mut HashSet<String>,
) -> Result<(), ApiError> {
    let wanted: Vec<(&'static str, &'static str, String)> = [
        ("subject", "Patient", doc.subject.clone()),
        ("custodian", "Organization", doc.custodian.clone()),
    ]
    .into_iter()
    .filter(|(_, t, id)| !known.contains(&format!("{t}/{id}")))
    .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let lookups: Vec<(&'static str, String)> =
        wanted.iter().map(|(_, t, id)| (*t, id.clone())).collect();
    let found = state
        .store
        .run(move |conn| {
            lookups
                .iter()
                .map(|(t, id)| stored::read(conn, t, id).map(|r| r.is_some_and(|r| !r.deleted)))
                .collect::<Result<Vec<bool>, _>>()
        })
        .await?;
    for ((what, resource_type, id), exists) in wanted.into_iter().zip(found) {
        if !exists {
            return Err(ApiError::Unprocessable {
                path: format!("{at}.{what}"),
                message: format!(
                    "{resource_type}/{id} is not known to the registry; feed it first"
                ),
            });
        }
        known.insert(format!("{resource_type}/{id}"));
    }
    Ok(())
}

/// The entry as the registry stores it: its id, `meta` (the registry's own, with the
/// signature verdicts), and references between entries rewritten.
fn stored_form(
    entry: &BundleEntry,
    id: &str,
    now: Timestamp,
    urns: &HashMap<String, String>,
    verdicts: Option<&Vec<Value>>,
    at: &str,
) -> Result<Resource, ApiError> {
    let mut json: Value = entry
        .resource
        .as_ref()
        .map(|r| serde_json::from_slice(&r.to_json()))
        .transpose()
        .map_err(|e| ApiError::caused(format!("{at} could not be read back as JSON"), e))?
        .unwrap_or_default();
    rewrite_references(&mut json, urns);
    if let Value::Object(map) = &mut json {
        map.insert("id".to_owned(), Value::String(id.to_owned()));
        // `meta` is the registry's: whatever the client sent is replaced, so the
        // signature verdicts below are only ever the registry's own.
        let mut meta = serde_json::json!({"versionId": "1", "lastUpdated": now.to_rfc3339()});
        if let Some(verdicts) = verdicts {
            meta["extension"] = Value::Array(verdicts.clone());
            // The verdict names its Provenance by fullUrl, now `Provenance/{id}`.
            rewrite_references(&mut meta, urns);
        }
        map.insert("meta".to_owned(), meta);
    }
    Resource::from_json(json.to_string().as_bytes())
        .map_err(|e| ApiError::caused(format!("{at}, its references rewritten, does not parse"), e))
}

/// The supersessions a DocumentReference asks for (`relatesTo` with code `replaces`):
/// for each replaced entry, its next version with status `superseded`, written in the
/// push's transaction ([`push::supersede`] decides).
async fn supersede(
    state: &AppState,
    d: &DocumentReference,
    at: &str,
    doc: &push::Document,
    now: Timestamp,
) -> Result<Vec<Result<Entry, RuleError>>, ApiError> {
    let mut writes = Vec::new();
    for (path, target) in push::replaced(d, at)? {
        let lookup = target.clone();
        let row = state
            .store
            .run(move |conn| stored::read(conn, "DocumentReference", &lookup))
            .await?
            .filter(|r| !r.deleted)
            .ok_or_else(|| ApiError::Unprocessable {
                path: path.clone(),
                message: format!("DocumentReference/{target} is not an entry of the registry"),
            })?;
        let old = stored_document(&target, row.body.as_deref())?;
        writes.push(push::supersede(
            old,
            &target,
            row.version_id + 1,
            (&doc.custodian, &doc.subject),
            &path,
            now,
        )?);
    }
    Ok(writes)
}

/// A stored DocumentReference, parsed.
fn stored_document(id: &str, body: Option<&str>) -> Result<DocumentReference, ApiError> {
    match body.map(super::rest::stored) {
        Some(Ok(Resource::DocumentReference(d))) => Ok(*d),
        _ => Err(ApiError::internal(format!(
            "stored DocumentReference/{id} does not parse as one"
        ))),
    }
}

/// The transaction-response of a push that was written now.
fn response(req: &HttpRequest, prepared: &[Entry], now: Timestamp) -> HttpResponse {
    let entries = prepared
        .iter()
        .filter(|p| p.answered)
        .map(|p| entry(req, p.resource_type.as_str(), &p.id, 1, now))
        .collect();
    bundle_response(entries)
}

/// The transaction-response of a retried push: the entries the first push created.
async fn replay(
    req: &HttpRequest,
    state: &AppState,
    prepared: &[Entry],
    first: &[String],
) -> Result<HttpResponse, ApiError> {
    let mut entries = Vec::with_capacity(prepared.len());
    for (p, id) in prepared.iter().filter(|p| p.answered).zip(first) {
        let id = id.clone();
        let resource_type = p.resource_type.as_str();
        let lookup = id.clone();
        let row = state
            .store
            .run(move |conn| stored::read_version(conn, resource_type, &lookup, 1))
            .await?
            .ok_or_else(|| ApiError::internal(format!("{resource_type}/{id} vanished")))?;
        entries.push(entry(req, resource_type, &id, 1, row.last_updated));
    }
    Ok(bundle_response(entries))
}

fn entry(
    req: &HttpRequest,
    resource_type: &str,
    id: &str,
    version: i64,
    last_updated: Timestamp,
) -> BundleEntry {
    BundleEntry {
        full_url: Some(format!("{}/{resource_type}/{id}", super::rest::base_url(req)).into()),
        response: Some(Box::new(BundleEntryResponse {
            status: Some("201 Created".into()),
            location: Some(format!("{resource_type}/{id}/_history/{version}").into()),
            etag: Some(format!("W/\"{version}\"").into()),
            last_modified: Instant::parse(last_updated.to_rfc3339())
                .ok()
                .map(Primitive::new),
            ..BundleEntryResponse::default()
        })),
        ..BundleEntry::default()
    }
}

fn bundle_response(entries: Vec<BundleEntry>) -> HttpResponse {
    let bundle = Bundle {
        r#type: Some("transaction-response".into()),
        entry: entries,
        ..Bundle::default()
    };
    super::rest::ok(&Resource::Bundle(Box::new(bundle)))
}

/// `PUT /fhir/DocumentReference/{id}` marking an entry `entered-in-error`: the only
/// change to an index entry a SIHCE makes outside a push. The body is the entry as read,
/// with status `entered-in-error`; anything else that differs is refused, naming the
/// element. The entry keeps its history (`_history`, vread) and leaves the `current`
/// results and the record locations. Marking an entry already so marked changes nothing.
pub(crate) async fn mark_entered_in_error(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let (req, state, caller) = (&req, &**state, &caller);
    caller.require(
        &[Role::System, Role::Clinician],
        "mark an index entry entered-in-error",
    )?;
    let expected = super::rest::if_match(req)?;
    let Resource::DocumentReference(new) = super::rest::parse(body, "DocumentReference").await?
    else {
        return Err(ApiError::internal("parse returned another type"));
    };
    if new.id.as_ref().and_then(Primitive::as_str) != Some(id.as_str()) {
        return Err(ApiError::Invalid {
            path: "DocumentReference.id".to_owned(),
            message: format!("an update carries the URL's id {id:?} (FHIR R4 §3.1.0.4)"),
        });
    }
    let lookup = id.clone();
    let row = state
        .store
        .run(move |conn| stored::read(conn, "DocumentReference", &lookup))
        .await?;
    let row = super::rest::found("DocumentReference", &id, row)?;
    if let Some(expected) = expected
        && expected != row.version_id
    {
        return Err(ApiError::PreconditionFailed(format!(
            "DocumentReference/{id} is at version {}, not {expected} (If-Match)",
            row.version_id
        )));
    }
    push::marks_entered_in_error(&new)?;
    let mut old = stored_document(&id, row.body.as_deref())?;
    // Only the IPRESS that holds the entry corrects it.
    let (_, custodian) = push::document_parties(&old);
    caller
        .check_custodian(
            state,
            custodian.as_deref().unwrap_or_default(),
            "DocumentReference.custodian",
        )
        .await?;
    if let Some(element) = push::first_difference(&old, &new) {
        return Err(ApiError::Unprocessable {
            path: format!("DocumentReference.{element}"),
            message: format!(
                "only status changes when an entry is marked entered-in-error; {element} differs from version {}",
                row.version_id
            ),
        });
    }
    if old.status.as_ref().and_then(Primitive::as_str) == Some("entered-in-error") {
        return Ok(super::rest::version_response(
            actix_web::http::StatusCode::OK,
            "DocumentReference",
            &id,
            row.version_id,
            row.last_updated,
            row.body.unwrap_or_default(),
        ));
    }
    old.status = Some("entered-in-error".into());
    let audit = caller.audit();
    let events = correction_events(state, audit, &old, &id);
    let now = Timestamp::now();
    let version = row.version_id + 1;
    let write = std::sync::Arc::new(push::next_version(old, id.clone(), version, now));
    write_correction(state, &write, events, (now, expected)).await?;
    audit.committed();
    Ok(super::rest::version_response(
        actix_web::http::StatusCode::OK,
        "DocumentReference",
        &write.id,
        version,
        now,
        write.body.clone(),
    ))
}

/// Writes the entered-in-error version of an entry with its audit events.
async fn write_correction(
    state: &AppState,
    write: &std::sync::Arc<Entry>,
    events: Vec<renhice_store::audit::NewAuditEvent>,
    (now, expected): (Timestamp, Option<i64>),
) -> Result<(), ApiError> {
    let (id, version) = (write.id.clone(), write.version);
    let to_write = std::sync::Arc::clone(write);
    state
        .store
        .run(move |conn| {
            stored::write_version_audited(
                conn,
                &NewVersion {
                    resource_type: "DocumentReference",
                    id: &to_write.id,
                    version_id: to_write.version,
                    last_updated: now,
                    body: Some(&to_write.body),
                    index: &to_write.index,
                    unique_keys: &to_write.keys,
                    record: to_write.record.as_ref(),
                    grants: &[],
                },
                &events,
            )
        })
        .await
        .map_err(|e| match e {
            StoreError::VersionConflict { current, .. } if expected.is_some() => {
                ApiError::PreconditionFailed(format!(
                    "DocumentReference/{id} is at version {current}, not {} (If-Match)",
                    version - 1
                ))
            }
            other => ApiError::Store(other),
        })?;
    Ok(())
}

/// The audit events of marking entry `id` entered-in-error, to commit with it.
fn correction_events(
    state: &AppState,
    audit: &crate::audit::AuditHandle,
    entry: &DocumentReference,
    id: &str,
) -> Vec<renhice_store::audit::NewAuditEvent> {
    audit.entity("DocumentReference", id);
    if let (Some(subject), _) = push::document_parties(entry) {
        audit.patient(&subject);
    }
    audit.events_for_commit(&state.auth.config.audience)
}
