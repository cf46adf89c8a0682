//! `POST /fhir` with a `transaction` Bundle: the IHE MHD ITI-65 push of index entries.
//! (A `batch` Bundle goes to [`super::batch`].)
//!
//! A push carries one SubmissionSet `List`, one or more `DocumentReference`s and,
//! optionally, `Provenance`s, each entry `POST`ed to its type with a `urn:uuid:` full
//! URL. The registry
//!
//! 1. assigns every entry an id and rewrites the references between entries
//!    (`urn:uuid:…` → `DocumentReference/{id}`); only `reference` values are touched,
//!    never identifiers that happen to hold the same URN;
//! 2. checks every entry (the subject is one known Patient, the custodian a known
//!    IPRESS, a `masterIdentifier`, status `current`), answering a 422 that names
//!    `Bundle.entry[i].resource.…` for the first violation;
//! 3. writes everything in one database transaction (`store::resources::write_all`).
//!
//! Each DocumentReference claims the unique key `custodian|system|value` of its
//! `masterIdentifier`, and the SubmissionSet the key of its identifier, so a retried push
//! conflicts in the database itself; the registry then answers with the entries the
//! first push created, exactly as it answered then. A push that repeats only some of
//! them is a 409 naming the entry.
//!
//! A DocumentReference whose `relatesTo` says `replaces` `DocumentReference/{id}`
//! supersedes that entry in the same transaction: the old entry gets a new version with
//! status `superseded` (history kept), so `status=current` searches and the record
//! locations show only the replacement. Only the custodian that pushed an entry replaces
//! it, for the same patient, and only while it is current. Marking an entry
//! `entered-in-error` is a `PUT` of the entry ([`mark_entered_in_error`]).
//!
//! Before anything is prepared, the signatures of the push are verified under the
//! registry's signature policy ([`crate::signatures`]): a push the policy refuses stores
//! nothing, and the verdict on each signature is kept in the `meta` of the entries it
//! covers and of its Provenance.

use std::collections::{HashMap, HashSet};

use actix_web::{HttpRequest, HttpResponse, web};
use renhice_model::Primitive;
use renhice_model::resources::{
    Bundle, BundleEntry, BundleEntryResponse, DocumentReference, List, Resource,
};
use renhice_model::types::ExtensionValue;
use renhice_model::values::Instant;
use renhice_store::StoreError;
use renhice_store::resources::{
    self as stored, DateEntry, NewVersion, RecordEntry, ReferenceEntry, SearchIndex, TokenEntry,
};
use serde_json::Value;

use super::{instant_text, now_micros};
use crate::auth::Role;
use crate::auth::access::Caller;
use crate::{ApiError, AppState};

/// The resource types a push may carry.
const PUSHED: [&str; 3] = ["List", "DocumentReference", "Provenance"];

/// The registry's profile of a push (`profiles/renhice/`).
pub(crate) const PUSH_PROFILE: &str =
    "http://renhice.org/fhir/StructureDefinition/renhice-provide-bundle";

/// Refuses a push that does not conform to [`PUSH_PROFILE`], with every error found.
async fn conforms(body: web::Bytes) -> Result<(), ApiError> {
    let errors = web::block(move || {
        let validator = renhice_validator::Validator::renhice();
        validator
            .validate_json_against(&body, &[PUSH_PROFILE.to_owned()])
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
    .map_err(|error| ApiError::Internal(error.to_string()))?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::ProfileViolation {
            profile: PUSH_PROFILE.to_owned(),
            issues: errors,
        })
    }
}

fn unprocessable(path: String, message: String) -> ApiError {
    ApiError::Unprocessable { path, message }
}

/// One entry, ready to store.
struct Prepared {
    resource_type: &'static str,
    id: String,
    /// 1 for an entry of the push; the next version for an entry it supersedes.
    version: i64,
    body: String,
    index: SearchIndex,
    keys: Vec<String>,
    /// The record entry of a DocumentReference.
    record: Option<RecordEntry>,
    /// Whether the entry is one of the Bundle's (answered in the response) rather than
    /// a stored entry the push supersedes.
    answered: bool,
}

/// Replaces every `"reference"` value found in `urns` (recursively).
fn rewrite_references(value: &mut Value, urns: &HashMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "reference"
                    && let Value::String(text) = v
                    && let Some(target) = urns.get(text.as_str())
                {
                    *text = target.clone();
                } else {
                    rewrite_references(v, urns);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_references(v, urns)),
        _ => {}
    }
}

/// `Type/id` of a relative reference to a resource of `expected` type.
fn local_id<'a>(reference: Option<&'a str>, expected: &str) -> Option<&'a str> {
    reference?
        .strip_prefix(expected)?
        .strip_prefix('/')
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

pub(super) async fn transaction(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let Resource::Bundle(bundle) = super::parse(body.clone(), "Bundle").await? else {
        return Err(ApiError::Internal("parse returned another type".to_owned()));
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
        Some("transaction") => {}
        Some("batch") => return Ok(super::batch::batch(&req, &state, &caller, *bundle).await),
        _ => {
            return Err(ApiError::Invalid {
                path: "Bundle.type".to_owned(),
                message: "POST /fhir takes a transaction Bundle (an MHD ITI-65 push) or a batch"
                    .to_owned(),
            });
        }
    }
    caller.require(&[Role::System, Role::Clinician], "push index entries")?;
    let own = caller.ipress(&state).await?;
    if state.config.validate_pushes {
        conforms(body).await?;
    }
    let now = now_micros();
    let verified_at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now) * 1000)
        .map_err(|e| ApiError::Internal(format!("clock out of range: {e}")))?;
    let marks = state.signatures.check_push(&bundle, verified_at).await?;
    let (prepared, deferred) = prepare(&state, &bundle, now, &caller, &own, &marks).await?;
    if let Some(refusal) = deferred {
        // An entry it would replace is no longer current: either this push was made
        // before (a retry, answered as the first time) or the refusal stands.
        return match first_push(&state, &prepared).await? {
            Ok(first) => replay(&req, &state, &prepared, &first).await,
            Err(_) => Err(refusal),
        };
    }
    // The push and its audit events commit together.
    let audit = caller.audit();
    for p in &prepared {
        audit.entity(p.resource_type, &p.id);
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
                    resource_type: p.resource_type,
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
            Ok(response(&req, &prepared, now))
        }
        Err((_, StoreError::UniqueKeyTaken { .. })) => {
            // A retry: answer with what the first push created, if it created all of it.
            match first_push(&state, &prepared).await? {
                Ok(first) => replay(&req, &state, &prepared, &first).await,
                Err(i) => Err(ApiError::Store(StoreError::UniqueKeyTaken {
                    resource_type: prepared[i].resource_type.to_owned(),
                    key: format!(
                        "(entry {i}: part of this push was pushed before with other entries)"
                    ),
                    holder: String::new(),
                })),
            }
        }
        Err((i, e)) => Err(match e {
            StoreError::VersionConflict { .. } if prepared.get(i).is_some_and(|p| p.answered) => {
                ApiError::Internal(format!("entry {i}: a freshly assigned id collided"))
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
    prepared: &[Prepared],
) -> Result<Result<Vec<String>, usize>, ApiError> {
    let mut first = Vec::with_capacity(prepared.len());
    for (i, p) in prepared.iter().enumerate().filter(|(_, p)| p.answered) {
        let Some(key) = p.keys.first().cloned() else {
            return Err(ApiError::Internal(format!("entry {i} has no key")));
        };
        let resource_type = p.resource_type;
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

/// Gives every entry an id, and maps each entry's `fullUrl` to `Type/id`.
#[allow(
    clippy::type_complexity,
    reason = "a private pair of plain collections"
)]
fn assign_ids(
    bundle: &Bundle,
) -> Result<(HashMap<String, String>, Vec<(&'static str, String)>), ApiError> {
    let mut urns = HashMap::new();
    let mut plan: Vec<(&'static str, String)> = Vec::with_capacity(bundle.entry.len());
    for (i, entry) in bundle.entry.iter().enumerate() {
        let at = format!("Bundle.entry[{i}]");
        let Some(resource) = &entry.resource else {
            return Err(unprocessable(
                format!("{at}.resource"),
                "every entry of a push carries a resource".to_owned(),
            ));
        };
        let Some(resource_type) = PUSHED.into_iter().find(|t| *t == resource.resource_type())
        else {
            return Err(unprocessable(
                format!("{at}.resource"),
                format!(
                    "a push carries List, DocumentReference and Provenance entries, not {}",
                    resource.resource_type()
                ),
            ));
        };
        let request = entry.request.as_deref();
        let method = request
            .and_then(|r| r.method.as_ref())
            .and_then(Primitive::as_str);
        let url = request
            .and_then(|r| r.url.as_ref())
            .and_then(Primitive::as_str);
        if method != Some("POST") || url != Some(resource_type) {
            return Err(unprocessable(
                format!("{at}.request"),
                format!(
                    "push entries are created: request.method POST, request.url {resource_type}"
                ),
            ));
        }
        let id = uuid::Uuid::new_v4().to_string();
        if let Some(full_url) = entry.full_url.as_ref().and_then(Primitive::as_str) {
            urns.insert(full_url.to_owned(), format!("{resource_type}/{id}"));
        }
        plan.push((resource_type, id));
    }
    Ok((urns, plan))
}

/// Checks every entry and builds what to store: the Bundle's entries in order, then the
/// new versions of the entries they supersede. A refusal that a retry of an earlier push
/// would also meet (the entry to replace is no longer current) is returned beside them,
/// for the caller to decide.
async fn prepare(
    state: &AppState,
    bundle: &Bundle,
    now: i64,
    caller: &Caller,
    own: &str,
    marks: &std::collections::BTreeMap<usize, Vec<Value>>,
) -> Result<(Vec<Prepared>, Option<ApiError>), ApiError> {
    if bundle.entry.is_empty() {
        return Err(unprocessable(
            "Bundle.entry".to_owned(),
            "a push needs a SubmissionSet List and at least one DocumentReference".to_owned(),
        ));
    }
    let (urns, plan) = assign_ids(bundle)?;
    let lists = plan.iter().filter(|(t, _)| *t == "List").count();
    let documents = plan
        .iter()
        .filter(|(t, _)| *t == "DocumentReference")
        .count();
    if lists != 1 || documents == 0 {
        return Err(unprocessable(
            "Bundle.entry".to_owned(),
            format!(
                "a push carries exactly one SubmissionSet List and at least one DocumentReference; found {lists} and {documents}"
            ),
        ));
    }

    let mut prepared = Vec::with_capacity(plan.len());
    let mut superseded: Vec<Prepared> = Vec::new();
    let mut deferred = None;
    let mut patient: Option<String> = None;
    let mut custodian_of_push: Option<String> = None;
    // References already found in the registry: a push names one patient and one IPRESS.
    let mut known = HashSet::new();
    for (i, (entry, (resource_type, id))) in bundle.entry.iter().zip(plan).enumerate() {
        let at = format!("Bundle.entry[{i}].resource");
        let resource = stored_form(entry, &id, now, &urns, marks.get(&i), &at)?;
        let mut index = SearchIndex::default();
        let mut keys = Vec::new();
        let mut record = None;
        match &resource {
            Resource::DocumentReference(d) => {
                let (subject, custodian) = document(state, d, &at, &mut index, &mut known).await?;
                if custodian != own {
                    return Err(caller.not_own(own, &custodian, &format!("{at}.custodian")));
                }
                record = Some(record_entry(d, &subject, &custodian));
                check_same(&mut patient, subject, &format!("{at}.subject"), "patient")?;
                check_same(
                    &mut custodian_of_push,
                    custodian.clone(),
                    &format!("{at}.custodian"),
                    "custodian",
                )?;
                let master = d.master_identifier.as_deref();
                let value = master.and_then(|m| m.value_str()).ok_or_else(|| {
                    unprocessable(format!("{at}.masterIdentifier"), "an index entry needs the document's masterIdentifier (its unique id at the IPRESS)".to_owned())
                })?;
                keys.push(format!(
                    "{custodian}|{}|{value}",
                    master.and_then(|m| m.system_str()).unwrap_or_default()
                ));
                let subject = patient.clone().unwrap_or_default();
                let outcomes = supersede(state, d, &at, &custodian, &subject, now).await?;
                collect_supersessions(outcomes, &at, &mut superseded, &mut deferred)?;
            }
            Resource::List(l) => {
                list(l, &at, &mut index, &mut keys)?;
            }
            _ => {}
        }
        prepared.push(Prepared {
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
    scope_keys(
        &mut prepared,
        &custodian_of_push.unwrap_or_default(),
        &patient.unwrap_or_default(),
    )?;
    prepared.append(&mut superseded);
    Ok((prepared, deferred))
}

/// The entry as the registry stores it: its id, `meta` (the registry's own, with the
/// signature verdicts), and references between entries rewritten.
fn stored_form(
    entry: &BundleEntry,
    id: &str,
    now: i64,
    urns: &HashMap<String, String>,
    verdicts: Option<&Vec<Value>>,
    at: &str,
) -> Result<Resource, ApiError> {
    let mut json: Value = entry
        .resource
        .as_ref()
        .map(|r| serde_json::from_slice(&r.to_json()))
        .transpose()
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .unwrap_or_default();
    rewrite_references(&mut json, urns);
    if let Value::Object(map) = &mut json {
        map.insert("id".to_owned(), Value::String(id.to_owned()));
        // `meta` is the registry's: whatever the client sent is replaced, so the
        // signature verdicts below are only ever the registry's own.
        let mut meta = serde_json::json!({"versionId": "1", "lastUpdated": instant_text(now)});
        if let Some(verdicts) = verdicts {
            meta["extension"] = Value::Array(verdicts.clone());
            // The verdict names its Provenance by fullUrl, now `Provenance/{id}`.
            rewrite_references(&mut meta, urns);
        }
        map.insert("meta".to_owned(), meta);
    }
    Resource::from_json(json.to_string().as_bytes())
        .map_err(|e| ApiError::Internal(format!("{at}: {e}")))
}

/// Adds one entry's supersessions to the push's, refusing an entry replaced twice, and
/// keeps the first deferred refusal.
fn collect_supersessions(
    outcomes: Vec<Result<Prepared, ApiError>>,
    at: &str,
    superseded: &mut Vec<Prepared>,
    deferred: &mut Option<ApiError>,
) -> Result<(), ApiError> {
    for outcome in outcomes {
        match outcome {
            Ok(write) if superseded.iter().any(|w| w.id == write.id) => {
                return Err(unprocessable(
                    format!("{at}.relatesTo"),
                    format!(
                        "DocumentReference/{} is replaced twice in one push",
                        write.id
                    ),
                ));
            }
            Ok(write) => superseded.push(write),
            Err(refusal) => {
                deferred.get_or_insert(refusal);
            }
        }
    }
    Ok(())
}

/// The supersessions a DocumentReference asks for (`relatesTo` with code `replaces`):
/// for each replaced entry, its next version with status `superseded`, written in the
/// push's transaction. The replaced entry must be the same custodian's, about the same
/// patient, and current; an entry no longer current is an inner `Err` (see [`prepare`]).
async fn supersede(
    state: &AppState,
    d: &DocumentReference,
    at: &str,
    custodian: &str,
    patient: &str,
    now: i64,
) -> Result<Vec<Result<Prepared, ApiError>>, ApiError> {
    let mut writes = Vec::new();
    for (k, relation) in d.relates_to.iter().enumerate() {
        if relation.code.as_ref().and_then(Primitive::as_str) != Some("replaces") {
            continue;
        }
        let path = format!("{at}.relatesTo[{k}].target");
        let target = local_id(
            relation.target.as_deref().and_then(|r| r.reference_str()),
            "DocumentReference",
        )
        .ok_or_else(|| {
            unprocessable(
                path.clone(),
                "a replaced entry is named DocumentReference/{id}, an entry of the registry"
                    .to_owned(),
            )
        })?
        .to_owned();
        let lookup = target.clone();
        let row = state
            .store
            .run(move |conn| stored::read(conn, "DocumentReference", &lookup))
            .await?
            .filter(|r| !r.deleted)
            .ok_or_else(|| {
                unprocessable(
                    path.clone(),
                    format!("DocumentReference/{target} is not an entry of the registry"),
                )
            })?;
        let mut old = stored_document(&target, row.body.as_deref())?;
        let (old_subject, old_custodian) = parties(&old);
        if old_custodian.as_deref() != Some(custodian) {
            return Err(unprocessable(
                path,
                format!(
                    "DocumentReference/{target} is held by Organization/{}; only its custodian replaces it",
                    old_custodian.unwrap_or_default()
                ),
            ));
        }
        if old_subject.as_deref() != Some(patient) {
            return Err(unprocessable(
                path,
                format!(
                    "DocumentReference/{target} is about Patient/{}, not this push's Patient/{patient}",
                    old_subject.unwrap_or_default()
                ),
            ));
        }
        let status = old
            .status
            .as_ref()
            .and_then(Primitive::as_str)
            .unwrap_or_default()
            .to_owned();
        if status != "current" {
            writes.push(Err(unprocessable(
                path,
                format!(
                    "DocumentReference/{target} is {status}; only a current entry can be replaced"
                ),
            )));
            continue;
        }
        old.status = Some("superseded".into());
        writes.push(Ok(next_version(old, target, row.version_id + 1, now)));
    }
    Ok(writes)
}

/// A stored DocumentReference, parsed.
fn stored_document(id: &str, body: Option<&str>) -> Result<DocumentReference, ApiError> {
    match body.map(|b| Resource::from_json(b.as_bytes())) {
        Some(Ok(Resource::DocumentReference(d))) => Ok(*d),
        _ => Err(ApiError::Internal(format!(
            "stored DocumentReference/{id} does not parse as one"
        ))),
    }
}

/// The patient and custodian ids a stored DocumentReference names.
fn parties(d: &DocumentReference) -> (Option<String>, Option<String>) {
    (
        local_id(
            d.subject.as_deref().and_then(|r| r.reference_str()),
            "Patient",
        )
        .map(str::to_owned),
        local_id(
            d.custodian.as_deref().and_then(|r| r.reference_str()),
            "Organization",
        )
        .map(str::to_owned),
    )
}

/// A changed stored DocumentReference as its next version, with its index and key.
fn next_version(mut d: DocumentReference, id: String, version: i64, now: i64) -> Prepared {
    let meta = d.meta.get_or_insert_with(Box::default);
    meta.version_id = Some(Primitive::new(version.to_string()));
    meta.last_updated = Instant::parse(instant_text(now)).ok().map(Primitive::new);
    let (subject, custodian) = parties(&d);
    let (subject, custodian) = (subject.unwrap_or_default(), custodian.unwrap_or_default());
    let mut index = SearchIndex::default();
    document_index(&d, &subject, &custodian, &mut index);
    let record = Some(record_entry(&d, &subject, &custodian));
    let keys = d
        .master_identifier
        .as_deref()
        .and_then(|m| {
            m.value_str()
                .map(|v| format!("{custodian}|{}|{v}", m.system_str().unwrap_or_default()))
        })
        .into_iter()
        .collect();
    Prepared {
        resource_type: "DocumentReference",
        id,
        version,
        body: Resource::DocumentReference(Box::new(d)).to_json_string(),
        index,
        keys,
        record,
        answered: false,
    }
}

/// Scopes the SubmissionSet's key by the push's custodian and keys each Provenance by the
/// SubmissionSet and its place in the push, so a retry finds every entry; checks that the
/// List names the documents' patient.
fn scope_keys(prepared: &mut [Prepared], custodian: &str, patient: &str) -> Result<(), ApiError> {
    // The SubmissionSet's key is scoped by the push's custodian; each Provenance is keyed
    // by the SubmissionSet and its place in the push, so a retry finds every entry.
    let submission = prepared
        .iter()
        .find(|p| p.resource_type == "List")
        .and_then(|p| p.keys.first())
        .map(|k| format!("{custodian}|{k}"))
        .unwrap_or_default();
    let mut provenances = 0;
    // `prepared` is in entry order, so `i` is the entry's place in the Bundle.
    for (i, p) in prepared.iter_mut().enumerate() {
        if matches!(p.resource_type, "List" | "Provenance") {
            // Who holds the push and whom it is about, for the access rules on reading
            // it back (the List already names its patient).
            p.index.references.push(ReferenceEntry {
                param: "custodian".to_owned(),
                target_type: "Organization".to_owned(),
                target_id: custodian.to_owned(),
            });
        }
        if p.resource_type == "Provenance" {
            p.index.references.push(ReferenceEntry {
                param: "patient".to_owned(),
                target_type: "Patient".to_owned(),
                target_id: patient.to_owned(),
            });
            p.keys
                .push(format!("{submission}|provenance|{provenances}"));
            provenances += 1;
        }
        if p.resource_type == "List" {
            p.keys = vec![submission.clone()];
            // The List names the same patient as its documents.
            if !p
                .index
                .references
                .iter()
                .any(|r| r.param == "patient" && r.target_id == patient)
            {
                return Err(unprocessable(
                    format!("Bundle.entry[{i}].resource.subject"),
                    format!(
                        "the SubmissionSet List must have the documents' subject, Patient/{patient}"
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_same(
    seen: &mut Option<String>,
    value: String,
    path: &str,
    what: &str,
) -> Result<(), ApiError> {
    match seen {
        Some(previous) if *previous != value => Err(unprocessable(
            path.to_owned(),
            format!("every entry of a push has the same {what}: {previous} and {value} differ"),
        )),
        Some(_) => Ok(()),
        None => {
            *seen = Some(value);
            Ok(())
        }
    }
}

/// Checks a DocumentReference and extracts its index; returns the patient id and the
/// custodian organization id.
async fn document(
    state: &AppState,
    d: &DocumentReference,
    at: &str,
    index: &mut SearchIndex,
    known: &mut HashSet<String>,
) -> Result<(String, String), ApiError> {
    if d.status.as_ref().and_then(Primitive::as_str) != Some("current") {
        return Err(unprocessable(
            format!("{at}.status"),
            "a pushed entry has status current".to_owned(),
        ));
    }
    let subject = local_id(
        d.subject.as_deref().and_then(|r| r.reference_str()),
        "Patient",
    )
    .ok_or_else(|| {
        unprocessable(
            format!("{at}.subject"),
            "the subject is a reference Patient/{id} to a patient the registry knows".to_owned(),
        )
    })?
    .to_owned();
    let custodian = local_id(
        d.custodian.as_deref().and_then(|r| r.reference_str()),
        "Organization",
    )
    .ok_or_else(|| {
        unprocessable(
            format!("{at}.custodian"),
            "the custodian is a reference Organization/{id} to the pushing IPRESS".to_owned(),
        )
    })?
    .to_owned();
    let wanted: Vec<(&'static str, &'static str, String)> = [
        ("subject", "Patient", subject.clone()),
        ("custodian", "Organization", custodian.clone()),
    ]
    .into_iter()
    .filter(|(_, t, id)| !known.contains(&format!("{t}/{id}")))
    .collect();
    if !wanted.is_empty() {
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
                return Err(unprocessable(
                    format!("{at}.{what}"),
                    format!("{resource_type}/{id} is not known to the registry; feed it first"),
                ));
            }
            known.insert(format!("{resource_type}/{id}"));
        }
    }
    if d.date.is_none() {
        return Err(unprocessable(
            format!("{at}.date"),
            "an index entry needs its date (when the document was made available; MHD Comprehensive Metadata)".to_owned(),
        ));
    }
    document_index(d, &subject, &custodian, index);
    Ok((subject, custodian))
}

/// The search values of a pushed DocumentReference (ITI-67's parameters).
fn document_index(d: &DocumentReference, subject: &str, custodian: &str, index: &mut SearchIndex) {
    // `subject` and `patient` are one search parameter here: one row serves both.
    index.references.push(ReferenceEntry {
        param: "patient".to_owned(),
        target_type: "Patient".to_owned(),
        target_id: subject.to_owned(),
    });
    index.references.push(ReferenceEntry {
        param: "custodian".to_owned(),
        target_type: "Organization".to_owned(),
        target_id: custodian.to_owned(),
    });
    if let Some(status) = d.status.as_ref().and_then(Primitive::as_str) {
        index.tokens.push(TokenEntry {
            param: "status".to_owned(),
            system: None,
            code: status.to_owned(),
        });
    }
    let codings = d
        .r#type
        .iter()
        .map(|t| ("type", &t.coding))
        .chain(d.category.iter().map(|c| ("category", &c.coding)))
        .chain(
            d.security_label
                .iter()
                .map(|c| ("security-label", &c.coding)),
        );
    for (param, coding) in codings {
        codings_index(param, coding, index);
    }
    if let Some(m) = d.master_identifier.as_deref()
        && let Some(value) = m.value_str()
    {
        index.tokens.push(TokenEntry {
            param: "identifier".to_owned(),
            system: m.system_str().map(str::to_owned),
            code: value.to_owned(),
        });
    }
    if let Some(date) = d.date.as_ref().and_then(Primitive::value)
        && let Some(range) = instant_micros(date)
    {
        index.dates.push(DateEntry {
            param: "date".to_owned(),
            low: range,
            high: range,
        });
    }
    if let Some(context) = d.context.as_deref() {
        let settings = context
            .facility_type
            .iter()
            .map(|c| ("facility", c))
            .chain(context.practice_setting.iter().map(|c| ("setting", c)));
        for (param, concept) in settings {
            codings_index(param, &concept.coding, index);
        }
        if let Some(period) = context.period.as_deref() {
            // An open end reaches as far as the index can.
            let start = period
                .start
                .as_ref()
                .and_then(Primitive::value)
                .and_then(|d| super::rules::datetime_range(&d.parts()))
                .map_or(i64::MIN, |(low, _)| low);
            let end = period
                .end
                .as_ref()
                .and_then(Primitive::value)
                .and_then(|d| super::rules::datetime_range(&d.parts()))
                .map_or(i64::MAX, |(_, high)| high);
            if period.start.is_some() || period.end.is_some() {
                index.dates.push(DateEntry {
                    param: "period".to_owned(),
                    low: start,
                    high: end,
                });
            }
        }
    }
}

/// The record entry of a DocumentReference: what `$record-locations` reads.
/// The code system of the confidentiality labels that mark an entry sensitive.
const CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";

fn record_entry(d: &DocumentReference, subject: &str, custodian: &str) -> RecordEntry {
    // Only system, code and display, in that order, so equal types group together.
    let types: Vec<Value> = d
        .r#type
        .iter()
        .flat_map(|t| &t.coding)
        .map(|c| {
            let mut coding = serde_json::Map::new();
            for (name, value) in [
                ("system", c.system.as_ref().and_then(Primitive::as_str)),
                ("code", c.code.as_ref().and_then(Primitive::as_str)),
                ("display", c.display.as_ref().and_then(Primitive::as_str)),
            ] {
                if let Some(value) = value {
                    coding.insert(name.to_owned(), Value::String(value.to_owned()));
                }
            }
            Value::Object(coding)
        })
        .collect();
    // Restricted or very restricted, in v3 Confidentiality.
    let sensitive = d.security_label.iter().flat_map(|l| &l.coding).any(|c| {
        c.system.as_ref().and_then(Primitive::as_str) == Some(CONFIDENTIALITY)
            && matches!(c.code.as_ref().and_then(Primitive::as_str), Some("R" | "V"))
    });
    RecordEntry {
        sensitive,
        patient_id: subject.to_owned(),
        custodian_id: custodian.to_owned(),
        status: d
            .status
            .as_ref()
            .and_then(Primitive::as_str)
            .unwrap_or_default()
            .to_owned(),
        date: d
            .date
            .as_ref()
            .and_then(Primitive::value)
            .and_then(instant_micros),
        types: Value::Array(types).to_string(),
    }
}

/// Token entries for the codes of some codings.
fn codings_index(param: &str, coding: &[renhice_model::types::Coding], index: &mut SearchIndex) {
    for c in coding {
        if let Some(code) = c.code.as_ref().and_then(Primitive::as_str) {
            index.tokens.push(TokenEntry {
                param: param.to_owned(),
                system: c
                    .system
                    .as_ref()
                    .and_then(Primitive::as_str)
                    .map(str::to_owned),
                code: code.to_owned(),
            });
        }
    }
}

/// The microsecond an instant names.
pub(super) fn instant_micros(instant: &Instant) -> Option<i64> {
    time::OffsetDateTime::parse(
        instant.as_str(),
        &time::format_description::well_known::Rfc3339,
    )
    .ok()
    .and_then(|t| i64::try_from(t.unix_timestamp_nanos() / 1000).ok())
}

fn list(
    l: &List,
    at: &str,
    index: &mut SearchIndex,
    keys: &mut Vec<String>,
) -> Result<(), ApiError> {
    let subject = local_id(
        l.subject.as_deref().and_then(|r| r.reference_str()),
        "Patient",
    )
    .ok_or_else(|| {
        unprocessable(
            format!("{at}.subject"),
            "the SubmissionSet's subject is the documents' Patient/{id}".to_owned(),
        )
    })?;
    // `subject` and `patient` are one search parameter here: one row serves both.
    index.references.push(ReferenceEntry {
        param: "patient".to_owned(),
        target_type: "Patient".to_owned(),
        target_id: subject.to_owned(),
    });
    list_index(l, index);
    let identifier = l
        .identifier
        .first()
        .and_then(|i| {
            i.value_str()
                .map(|v| (i.system_str().unwrap_or_default(), v))
        })
        .ok_or_else(|| {
            unprocessable(
                format!("{at}.identifier"),
                "the SubmissionSet needs its uniqueId identifier".to_owned(),
            )
        })?;
    keys.push(format!("submissionset|{}|{}", identifier.0, identifier.1));
    Ok(())
}

/// The search values of a SubmissionSet (ITI-66's parameters besides the patient).
fn list_index(l: &List, index: &mut SearchIndex) {
    if let Some(status) = l.status.as_ref().and_then(Primitive::as_str) {
        index.tokens.push(TokenEntry {
            param: "status".to_owned(),
            system: None,
            code: status.to_owned(),
        });
    }
    for identifier in &l.identifier {
        if let Some(value) = identifier.value_str() {
            index.tokens.push(TokenEntry {
                param: "identifier".to_owned(),
                system: identifier.system_str().map(str::to_owned),
                code: value.to_owned(),
            });
        }
    }
    if let Some(code) = l.code.as_deref() {
        codings_index("code", &code.coding, index);
    }
    for extension in &l.extension {
        match (
            extension.url.as_deref().unwrap_or_default(),
            &extension.value,
        ) {
            (DESIGNATION_TYPE, Some(ExtensionValue::CodeableConcept(c))) => {
                codings_index("designationType", &c.coding, index);
            }
            (SOURCE_ID, Some(ExtensionValue::Identifier(i))) => {
                if let Some(value) = i.value_str() {
                    index.tokens.push(TokenEntry {
                        param: "sourceId".to_owned(),
                        system: i.system_str().map(str::to_owned),
                        code: value.to_owned(),
                    });
                }
            }
            _ => {}
        }
    }
    if let Some((low, high)) = l
        .date
        .as_ref()
        .and_then(Primitive::value)
        .and_then(|d| super::rules::datetime_range(&d.parts()))
    {
        index.dates.push(DateEntry {
            param: "date".to_owned(),
            low,
            high,
        });
    }
}

/// MHD's SubmissionSet extensions searched by ITI-66.
const DESIGNATION_TYPE: &str =
    "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType";
const SOURCE_ID: &str = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId";

/// The transaction-response of a push that was written now.
fn response(req: &HttpRequest, prepared: &[Prepared], now: i64) -> HttpResponse {
    let entries = prepared
        .iter()
        .filter(|p| p.answered)
        .map(|p| entry(req, p.resource_type, &p.id, 1, now))
        .collect();
    bundle_response(entries)
}

/// The transaction-response of a retried push: the entries the first push created.
async fn replay(
    req: &HttpRequest,
    state: &AppState,
    prepared: &[Prepared],
    first: &[String],
) -> Result<HttpResponse, ApiError> {
    let mut entries = Vec::with_capacity(prepared.len());
    for (p, id) in prepared.iter().filter(|p| p.answered).zip(first) {
        let id = id.clone();
        let resource_type = p.resource_type;
        let lookup = id.clone();
        let row = state
            .store
            .run(move |conn| stored::read_version(conn, resource_type, &lookup, 1))
            .await?
            .ok_or_else(|| ApiError::Internal(format!("{resource_type}/{id} vanished")))?;
        entries.push(entry(req, resource_type, &id, 1, row.last_updated));
    }
    Ok(bundle_response(entries))
}

fn entry(
    req: &HttpRequest,
    resource_type: &str,
    id: &str,
    version: i64,
    last_updated: i64,
) -> BundleEntry {
    BundleEntry {
        full_url: Some(format!("{}/{resource_type}/{id}", super::base_url(req)).into()),
        response: Some(Box::new(BundleEntryResponse {
            status: Some("201 Created".into()),
            location: Some(format!("{resource_type}/{id}/_history/{version}").into()),
            etag: Some(format!("W/\"{version}\"").into()),
            last_modified: Instant::parse(instant_text(last_updated))
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
    super::ok(&Resource::Bundle(Box::new(bundle)))
}

/// `PUT /fhir/DocumentReference/{id}` marking an entry `entered-in-error`: the only
/// change to an index entry a SIHCE makes outside a push. The body is the entry as read,
/// with status `entered-in-error`; anything else that differs is refused, naming the
/// element. The entry keeps its history (`_history`, vread) and leaves the `current`
/// results and the record locations. Marking an entry already so marked changes nothing.
/// Refuses a PUT of an index entry that does not mark it entered-in-error.
fn check_marks_entered_in_error(new: &DocumentReference) -> Result<(), ApiError> {
    if new.status.as_ref().and_then(Primitive::as_str) == Some("entered-in-error") {
        return Ok(());
    }
    Err(unprocessable(
        "DocumentReference.status".to_owned(),
        "an index entry changes by a push that replaces it (relatesTo replaces); \
         a PUT only marks it entered-in-error"
            .to_owned(),
    ))
}

pub(super) async fn mark_entered_in_error(
    req: &HttpRequest,
    id: String,
    body: web::Bytes,
    state: &AppState,
    caller: &Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(
        &[Role::System, Role::Clinician],
        "mark an index entry entered-in-error",
    )?;
    let expected = super::if_match(req)?;
    let Resource::DocumentReference(new) = super::parse(body, "DocumentReference").await? else {
        return Err(ApiError::Internal("parse returned another type".to_owned()));
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
    let row = super::found("DocumentReference", &id, row)?;
    if let Some(expected) = expected
        && expected != row.version_id
    {
        return Err(ApiError::PreconditionFailed(format!(
            "DocumentReference/{id} is at version {}, not {expected} (If-Match)",
            row.version_id
        )));
    }
    check_marks_entered_in_error(&new)?;
    let mut old = stored_document(&id, row.body.as_deref())?;
    // Only the IPRESS that holds the entry corrects it.
    let (_, custodian) = parties(&old);
    caller
        .check_custodian(
            state,
            custodian.as_deref().unwrap_or_default(),
            "DocumentReference.custodian",
        )
        .await?;
    if let Some(element) = first_difference(&old, &new) {
        return Err(unprocessable(
            format!("DocumentReference.{element}"),
            format!(
                "only status changes when an entry is marked entered-in-error; {element} differs from version {}",
                row.version_id
            ),
        ));
    }
    if old.status.as_ref().and_then(Primitive::as_str) == Some("entered-in-error") {
        return Ok(super::version_response(
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
    let now = now_micros();
    let version = row.version_id + 1;
    let write = std::sync::Arc::new(next_version(old, id.clone(), version, now));
    write_correction(state, &write, events, (now, expected)).await?;
    audit.committed();
    Ok(super::version_response(
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
    write: &std::sync::Arc<Prepared>,
    events: Vec<renhice_store::audit::NewAuditEvent>,
    (now, expected): (i64, Option<i64>),
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
    if let (Some(subject), _) = parties(entry) {
        audit.patient(&subject);
    }
    audit.events_for_commit(&state.auth.config.audience)
}

/// The first top-level element (other than `meta` and `status`) in which two versions of
/// an entry differ.
fn first_difference(old: &DocumentReference, new: &DocumentReference) -> Option<String> {
    let as_map = |d: &DocumentReference| -> serde_json::Map<String, Value> {
        match serde_json::from_slice(&Resource::DocumentReference(Box::new(d.clone())).to_json()) {
            Ok(Value::Object(mut map)) => {
                map.remove("meta");
                map.remove("status");
                map
            }
            _ => serde_json::Map::new(),
        }
    };
    let (old, new) = (as_map(old), as_map(new));
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .find(|k| old.get(*k) != new.get(*k))
        .cloned()
}
