//! The rules of an ITI-65 push (IHE MHD Provide Document Bundle) and of the corrections
//! a SIHCE makes to its index entries.
//!
//! A push carries one SubmissionSet `List`, one or more `DocumentReference`s and,
//! optionally, `Provenance`s, each entry `POST`ed to its type with a `urn:uuid:` full
//! URL ([`plan`]). Every DocumentReference is `current`, names one known patient as
//! `subject` and the pushing IPRESS as `custodian`, has its `date` and a
//! `masterIdentifier` ([`document`]); every entry of a push has the same patient and
//! custodian ([`Parties`]); the List names the documents' patient ([`scope`]).
//!
//! Keys make a retried push find what the first one stored: each DocumentReference
//! claims `custodian|system|value` of its `masterIdentifier`, the SubmissionSet
//! `custodian|submissionset|system|value` of its identifier, each Provenance the
//! SubmissionSet's key and its place in the push.
//!
//! A DocumentReference whose `relatesTo` says `replaces` supersedes that entry in the
//! same transaction ([`supersede`]): only the custodian that pushed it replaces it, for
//! the same patient, and only while it is current. Marking an entry `entered-in-error`
//! is a `PUT` of the entry as read with only its status changed
//! ([`marks_entered_in_error`], [`first_difference`]).

use std::collections::HashMap;

use renhice_model::Primitive;
use renhice_model::resources::{Bundle, DocumentReference, List, Resource};
use renhice_model::values::Instant;
use renhice_store::resources::{RecordEntry, SearchIndex};
use serde_json::Value;

use renhice_store::Timestamp;

use crate::dates::instant_micros;
use crate::params;
use crate::references::local_id;
use crate::{ResourceType, RuleError};

/// The resource types a push may carry.
pub const PUSHED: [ResourceType; 3] = [
    ResourceType::List,
    ResourceType::DocumentReference,
    ResourceType::Provenance,
];

/// The code system of the confidentiality labels that mark an entry sensitive.
const CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";

fn unprocessable(path: impl Into<String>, message: impl Into<String>) -> RuleError {
    RuleError::unprocessable(path, message)
}

/// One entry, ready to store.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its type.
    pub resource_type: ResourceType,
    /// Its logical id.
    pub id: String,
    /// 1 for an entry of the push; the next version for an entry it supersedes.
    pub version: i64,
    /// Its JSON, as stored.
    pub body: String,
    /// What it is found by.
    pub index: SearchIndex,
    /// The unique keys it claims.
    pub keys: Vec<String>,
    /// The record entry of a DocumentReference (what `$record-locations` reads).
    pub record: Option<RecordEntry>,
    /// Whether the entry is one of the Bundle's (answered in the response) rather than a
    /// stored entry the push supersedes.
    pub answered: bool,
}

/// The ids a push's entries get, in entry order, and each `fullUrl` mapped to
/// `Type/id` for [`crate::references::rewrite`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `fullUrl` → `Type/id`.
    pub urns: HashMap<String, String>,
    /// Each entry's type and id.
    pub entries: Vec<(ResourceType, String)>,
}

/// Checks the shape of a push and gives every entry an id from `new_id`.
pub fn plan(bundle: &Bundle, mut new_id: impl FnMut() -> String) -> Result<Plan, RuleError> {
    if bundle.entry.is_empty() {
        return Err(unprocessable(
            "Bundle.entry",
            "a push needs a SubmissionSet List and at least one DocumentReference",
        ));
    }
    let mut urns = HashMap::new();
    let mut entries = Vec::with_capacity(bundle.entry.len());
    for (i, entry) in bundle.entry.iter().enumerate() {
        let at = format!("Bundle.entry[{i}]");
        let Some(resource) = &entry.resource else {
            return Err(unprocessable(
                format!("{at}.resource"),
                "every entry of a push carries a resource",
            ));
        };
        let Some(resource_type) = ResourceType::of(resource).filter(|t| PUSHED.contains(t)) else {
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
        if method != Some("POST") || url != Some(resource_type.as_str()) {
            return Err(unprocessable(
                format!("{at}.request"),
                format!(
                    "push entries are created: request.method POST, request.url {resource_type}"
                ),
            ));
        }
        let id = new_id();
        if let Some(full_url) = entry.full_url.as_ref().and_then(Primitive::as_str) {
            urns.insert(full_url.to_owned(), format!("{resource_type}/{id}"));
        }
        entries.push((resource_type, id));
    }
    let count = |t: ResourceType| entries.iter().filter(|(e, _)| *e == t).count();
    let (lists, documents) = (
        count(ResourceType::List),
        count(ResourceType::DocumentReference),
    );
    if lists != 1 || documents == 0 {
        return Err(unprocessable(
            "Bundle.entry",
            format!(
                "a push carries exactly one SubmissionSet List and at least one DocumentReference; found {lists} and {documents}"
            ),
        ));
    }
    listed_documents(bundle, &urns)?;
    Ok(Plan { urns, entries })
}

/// What a pushed DocumentReference is about and its unique key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The patient's id.
    pub subject: String,
    /// The custodian IPRESS's id.
    pub custodian: String,
    /// `custodian|system|value` of its `masterIdentifier`.
    pub key: String,
}

/// Checks a pushed DocumentReference (`at` is its path, `Bundle.entry[i].resource`).
/// Whether its patient and custodian are known is the caller's to check.
pub fn document(d: &DocumentReference, at: &str) -> Result<Document, RuleError> {
    if d.status.as_ref().and_then(Primitive::as_str) != Some("current") {
        return Err(unprocessable(
            format!("{at}.status"),
            "a pushed entry has status current",
        ));
    }
    let subject = local_id(
        d.subject.as_deref().and_then(|r| r.reference_str()),
        "Patient",
    )
    .ok_or_else(|| {
        unprocessable(
            format!("{at}.subject"),
            "the subject is a reference Patient/{id} to a patient the registry knows",
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
            "the custodian is a reference Organization/{id} to the pushing IPRESS",
        )
    })?
    .to_owned();
    if d.date.is_none() {
        return Err(unprocessable(
            format!("{at}.date"),
            "an index entry needs its date (when the document was made available; MHD Comprehensive Metadata)",
        ));
    }
    let master = d.master_identifier.as_deref();
    let value = master.and_then(|m| m.value_str()).ok_or_else(|| {
        unprocessable(
            format!("{at}.masterIdentifier"),
            "an index entry needs the document's masterIdentifier (its unique id at the IPRESS)",
        )
    })?;
    let key = format!(
        "{custodian}|{}|{value}",
        master.and_then(|m| m.system_str()).unwrap_or_default()
    );
    Ok(Document {
        subject,
        custodian,
        key,
    })
}

/// Checks a pushed SubmissionSet; its key before [`scope`] scopes it by the custodian.
pub fn list(l: &List, at: &str) -> Result<String, RuleError> {
    local_id(
        l.subject.as_deref().and_then(|r| r.reference_str()),
        "Patient",
    )
    .ok_or_else(|| {
        unprocessable(
            format!("{at}.subject"),
            "the SubmissionSet's subject is the documents' Patient/{id}",
        )
    })?;
    let (system, value) = l
        .identifier
        .first()
        .and_then(|i| {
            i.value_str()
                .map(|v| (i.system_str().unwrap_or_default(), v))
        })
        .ok_or_else(|| {
            unprocessable(
                format!("{at}.identifier"),
                "the SubmissionSet needs its uniqueId identifier",
            )
        })?;
    Ok(format!("submissionset|{system}|{value}"))
}

/// Refuses a SubmissionSet whose items are not index entries: each `entry.item` names a
/// DocumentReference, one of this push (its `fullUrl`) or one already in the registry
/// (`DocumentReference/{id}`); not a `urn:` the push does not carry, not the List itself,
/// not another type.
fn listed_documents(bundle: &Bundle, urns: &HashMap<String, String>) -> Result<(), RuleError> {
    for (i, entry) in bundle.entry.iter().enumerate() {
        let Some(Resource::List(list)) = &entry.resource else {
            continue;
        };
        for (j, item) in list.entry.iter().enumerate() {
            let at = format!("Bundle.entry[{i}].resource.entry[{j}].item");
            let target = item.item.as_deref().and_then(|r| r.reference_str());
            let resolved = match target {
                Some(urn) if urn.starts_with("urn:") => {
                    urns.get(urn).cloned().ok_or_else(|| {
                        unprocessable(
                            format!("{at}.reference"),
                            format!("{urn} is not the fullUrl of an entry of this push"),
                        )
                    })?
                }
                Some(reference) => reference.to_owned(),
                None => {
                    return Err(unprocessable(
                        at,
                        "a SubmissionSet item is a reference to a DocumentReference",
                    ));
                }
            };
            if local_id(Some(&resolved), "DocumentReference").is_none() {
                return Err(unprocessable(
                    format!("{at}.reference"),
                    format!(
                        "a SubmissionSet lists DocumentReferences; {} names {resolved}",
                        target.unwrap_or_default()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The one patient and one custodian of a push, as its entries name them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Parties {
    /// The patient, once an entry named it.
    pub patient: Option<String>,
    /// The custodian, once an entry named it.
    pub custodian: Option<String>,
}

impl Parties {
    /// Adds a document's parties, refusing one that differs from an earlier entry's.
    pub fn add(&mut self, d: &Document, at: &str) -> Result<(), RuleError> {
        same(
            &mut self.patient,
            &d.subject,
            &format!("{at}.subject"),
            "patient",
        )?;
        same(
            &mut self.custodian,
            &d.custodian,
            &format!("{at}.custodian"),
            "custodian",
        )
    }
}

fn same(seen: &mut Option<String>, value: &str, path: &str, what: &str) -> Result<(), RuleError> {
    match seen {
        Some(previous) if previous != value => Err(unprocessable(
            path,
            format!("every entry of a push has the same {what}: {previous} and {value} differ"),
        )),
        Some(_) => Ok(()),
        None => {
            *seen = Some(value.to_owned());
            Ok(())
        }
    }
}

/// Scopes the SubmissionSet's key by the push's custodian and keys each Provenance by
/// the SubmissionSet and its place in the push, so a retry finds every entry; records
/// who holds the List and Provenances and whom the Provenances are about; checks that
/// the List names the documents' patient. `entries` are the push's, in entry order.
pub fn scope(entries: &mut [Entry], custodian: &str, patient: &str) -> Result<(), RuleError> {
    let submission = entries
        .iter()
        .find(|p| p.resource_type == ResourceType::List)
        .and_then(|p| p.keys.first())
        .map(|k| format!("{custodian}|{k}"))
        .unwrap_or_default();
    let mut provenances = 0;
    for (i, p) in entries.iter_mut().enumerate() {
        let t = p.resource_type;
        if matches!(t, ResourceType::List | ResourceType::Provenance) {
            params::add_reference(
                &mut p.index,
                t,
                "custodian",
                ResourceType::Organization,
                custodian,
            );
        }
        if t == ResourceType::Provenance {
            params::add_reference(&mut p.index, t, "patient", ResourceType::Patient, patient);
            p.keys
                .push(format!("{submission}|provenance|{provenances}"));
            provenances += 1;
        }
        if t == ResourceType::List {
            p.keys = vec![submission.clone()];
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

/// The entries a DocumentReference replaces (`relatesTo` with code `replaces`): each
/// `(path of the relation, id of the replaced entry)`.
pub fn replaced(d: &DocumentReference, at: &str) -> Result<Vec<(String, String)>, RuleError> {
    let mut out = Vec::new();
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
                "a replaced entry is named DocumentReference/{id}, an entry of the registry",
            )
        })?
        .to_owned();
        out.push((path, target));
    }
    Ok(out)
}

/// A stored entry `target` superseded by a push of `custodian` about `patient`: its next
/// version with status `superseded`. The outer error refuses the push; the inner one
/// (the entry is no longer current) is what a retry of an earlier push would also meet,
/// so the caller decides whether it stands.
pub fn supersede(
    mut old: DocumentReference,
    target: &str,
    version: i64,
    (custodian, patient): (&str, &str),
    path: &str,
    now: Timestamp,
) -> Result<Result<Entry, RuleError>, RuleError> {
    let (old_subject, old_custodian) = document_parties(&old);
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
        return Ok(Err(unprocessable(
            path,
            format!("DocumentReference/{target} is {status}; only a current entry can be replaced"),
        )));
    }
    old.status = Some("superseded".into());
    Ok(Ok(next_version(old, target.to_owned(), version, now)))
}

/// Adds one entry's supersessions to the push's, refusing an entry replaced twice, and
/// keeps the first deferred refusal.
pub fn collect_supersessions(
    outcomes: Vec<Result<Entry, RuleError>>,
    at: &str,
    superseded: &mut Vec<Entry>,
    deferred: &mut Option<RuleError>,
) -> Result<(), RuleError> {
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

/// The patient and custodian ids a stored DocumentReference names.
#[must_use]
pub fn document_parties(d: &DocumentReference) -> (Option<String>, Option<String>) {
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

/// A changed stored DocumentReference as its next version at `now`, with its index,
/// record entry and key.
#[must_use]
pub fn next_version(mut d: DocumentReference, id: String, version: i64, now: Timestamp) -> Entry {
    let meta = d.meta.get_or_insert_with(Box::default);
    meta.version_id = Some(Primitive::new(version.to_string()));
    meta.last_updated = Instant::parse(now.to_rfc3339()).ok().map(Primitive::new);
    let (subject, custodian) = document_parties(&d);
    let (subject, custodian) = (subject.unwrap_or_default(), custodian.unwrap_or_default());
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
    let resource = Resource::DocumentReference(Box::new(d));
    Entry {
        resource_type: ResourceType::DocumentReference,
        id,
        version,
        body: resource.to_json_string(),
        index: params::index(&resource),
        keys,
        record,
        answered: false,
    }
}

/// The record entry of a DocumentReference: what `$record-locations` reads.
#[must_use]
pub fn record_entry(d: &DocumentReference, subject: &str, custodian: &str) -> RecordEntry {
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

/// Refuses a PUT of an index entry that does not mark it entered-in-error.
pub fn marks_entered_in_error(new: &DocumentReference) -> Result<(), RuleError> {
    if new.status.as_ref().and_then(Primitive::as_str) == Some("entered-in-error") {
        return Ok(());
    }
    Err(unprocessable(
        "DocumentReference.status",
        "an index entry changes by a push that replaces it (relatesTo replaces); \
         a PUT only marks it entered-in-error",
    ))
}

/// The first top-level element (other than `meta` and `status`) in which two versions of
/// an entry differ.
#[must_use]
pub fn first_difference(old: &DocumentReference, new: &DocumentReference) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource(value: &Value) -> Resource {
        Resource::from_json(value.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}: {value}"))
    }

    fn a_document(status: &str) -> DocumentReference {
        let value = json!({
            "resourceType": "DocumentReference",
            "status": status,
            "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.3"},
            "subject": {"reference": "Patient/p1"},
            "custodian": {"reference": "Organization/o1"},
            "date": "2026-03-01T10:00:00Z",
            "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4", "display": "Consult note"}]},
            "securityLabel": [{"coding": [{"system": CONFIDENTIALITY, "code": "R"}]}],
            "content": [{"attachment": {"url": "https://sihce.example/doc/1"}}]
        });
        match resource(&value) {
            Resource::DocumentReference(d) => *d,
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_submission_set_lists_documents_of_the_push_or_of_the_registry() {
        let with_items = |items: Value| {
            let mut bundle =
                a_bundle(&[("List", "List"), ("DocumentReference", "DocumentReference")]);
            let Some(Resource::List(list)) = &mut bundle.entry[0].resource else {
                unreachable!()
            };
            let items: Value = json!({"resourceType": "List", "status": "current", "mode": "working",
                "entry": items.as_array().unwrap().iter().map(|r| json!({"item": r})).collect::<Vec<_>>()});
            let Resource::List(parsed) = resource(&items) else {
                unreachable!()
            };
            list.entry = parsed.entry;
            plan(&bundle, || "x".to_owned())
        };
        assert!(
            with_items(json!([{"reference": "urn:uuid:1"}, {"reference": "DocumentReference/d9"}]))
                .is_ok()
        );
        for (items, path, says) in [
            (
                json!([{"reference": "urn:uuid:missing"}]),
                "Bundle.entry[0].resource.entry[0].item.reference",
                "not the fullUrl",
            ),
            (
                json!([{"reference": "urn:uuid:0"}]),
                "Bundle.entry[0].resource.entry[0].item.reference",
                "lists DocumentReferences",
            ),
            (
                json!([{"reference": "urn:uuid:1"}, {"reference": "Patient/p1"}]),
                "Bundle.entry[0].resource.entry[1].item.reference",
                "names Patient/p1",
            ),
            (
                json!([{"display": "no reference"}]),
                "Bundle.entry[0].resource.entry[0].item",
                "a reference",
            ),
        ] {
            let Err(RuleError::Unprocessable {
                path: found,
                message,
            }) = with_items(items.clone())
            else {
                panic!("{items} was taken");
            };
            assert_eq!(found, path, "{items}");
            assert!(message.contains(says), "{items}: {message}");
        }
    }

    fn a_bundle(entries: &[(&str, &str)]) -> Bundle {
        let entry: Vec<Value> = entries
            .iter()
            .enumerate()
            .map(|(i, (t, url))| {
                let resource = match *t {
                    "List" => {
                        json!({"resourceType": "List", "status": "current", "mode": "working"})
                    }
                    "DocumentReference" => json!({
                        "resourceType": "DocumentReference",
                        "status": "current",
                        "content": [{"attachment": {"url": "https://sihce.example/doc/1"}}]
                    }),
                    other => json!({"resourceType": other}),
                };
                json!({
                    "fullUrl": format!("urn:uuid:{i}"),
                    "resource": resource,
                    "request": {"method": "POST", "url": url}
                })
            })
            .collect();
        match resource(&json!({"resourceType": "Bundle", "type": "transaction", "entry": entry})) {
            Resource::Bundle(b) => *b,
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_plan_gives_ids_and_maps_full_urls() {
        let bundle = a_bundle(&[("List", "List"), ("DocumentReference", "DocumentReference")]);
        let mut n = 0;
        let plan = plan(&bundle, || {
            n += 1;
            format!("id{n}")
        })
        .unwrap();
        assert_eq!(
            plan.entries[1],
            (ResourceType::DocumentReference, "id2".to_owned())
        );
        assert_eq!(plan.urns["urn:uuid:0"], "List/id1");
    }

    #[test]
    fn a_push_has_one_list_and_documents_created_by_post() {
        let id = || "x".to_owned();
        let no_list = a_bundle(&[("DocumentReference", "DocumentReference")]);
        assert_eq!(plan(&no_list, id).unwrap_err().path(), "Bundle.entry");
        let wrong_url = a_bundle(&[("List", "List"), ("DocumentReference", "List")]);
        assert_eq!(
            plan(&wrong_url, id).unwrap_err().path(),
            "Bundle.entry[1].request"
        );
        let patient = a_bundle(&[("List", "List"), ("Patient", "Patient")]);
        assert_eq!(
            plan(&patient, id).unwrap_err().path(),
            "Bundle.entry[1].resource"
        );
    }

    #[test]
    fn a_document_is_keyed_by_custodian_and_master_identifier() {
        let d = document(&a_document("current"), "Bundle.entry[1].resource").unwrap();
        assert_eq!(d.subject, "p1");
        assert_eq!(d.key, "o1|urn:ietf:rfc:3986|urn:oid:1.2.3");
        let e = document(&a_document("superseded"), "E").unwrap_err();
        assert_eq!(e.path(), "E.status");
        let mut no_date = a_document("current");
        no_date.date = None;
        assert_eq!(document(&no_date, "E").unwrap_err().path(), "E.date");
    }

    #[test]
    fn a_push_has_one_patient_and_one_custodian() {
        let mut parties = Parties::default();
        let d = document(&a_document("current"), "E").unwrap();
        parties.add(&d, "E0").unwrap();
        parties.add(&d, "E1").unwrap();
        let other = Document {
            subject: "p2".to_owned(),
            ..d
        };
        assert_eq!(parties.add(&other, "E2").unwrap_err().path(), "E2.subject");
    }

    #[test]
    fn only_the_custodian_replaces_a_current_entry_of_the_same_patient() {
        let old = a_document("current");
        let replaced = supersede(
            old.clone(),
            "d1",
            2,
            ("o1", "p1"),
            "P",
            Timestamp::from_micros(5),
        )
        .unwrap()
        .unwrap();
        assert_eq!(replaced.version, 2);
        assert!(replaced.body.contains("\"superseded\""));
        assert_eq!(
            replaced.record.as_ref().map(|r| r.status.as_str()),
            Some("superseded")
        );
        assert!(
            supersede(
                old.clone(),
                "d1",
                2,
                ("o2", "p1"),
                "P",
                Timestamp::from_micros(5)
            )
            .is_err()
        );
        assert!(supersede(old, "d1", 2, ("o1", "p2"), "P", Timestamp::from_micros(5)).is_err());
        let gone = supersede(
            a_document("superseded"),
            "d1",
            2,
            ("o1", "p1"),
            "P",
            Timestamp::from_micros(5),
        )
        .unwrap();
        assert!(
            gone.is_err(),
            "deferred: a retry of the first push meets it too"
        );
    }

    #[test]
    fn an_entry_replaced_twice_is_refused() {
        let entry = supersede(
            a_document("current"),
            "d1",
            2,
            ("o1", "p1"),
            "P",
            Timestamp::from_micros(5),
        )
        .unwrap()
        .unwrap();
        let (mut superseded, mut deferred) = (Vec::new(), None);
        collect_supersessions(vec![Ok(entry.clone())], "A", &mut superseded, &mut deferred)
            .unwrap();
        let e = collect_supersessions(vec![Ok(entry)], "B", &mut superseded, &mut deferred)
            .unwrap_err();
        assert_eq!(e.path(), "B.relatesTo");
    }

    #[test]
    fn record_entries_carry_types_dates_and_sensitivity() {
        let r = record_entry(&a_document("current"), "p1", "o1");
        assert!(r.sensitive);
        let types: Value = serde_json::from_str(&r.types).unwrap_or_default();
        assert_eq!(
            types,
            json!([{"system": "http://loinc.org", "code": "11488-4", "display": "Consult note"}])
        );
        assert_eq!(r.date, Some(1_772_359_200_000_000));
    }

    #[test]
    fn marking_entered_in_error_changes_only_the_status() {
        let old = a_document("current");
        let mut new = a_document("entered-in-error");
        assert!(marks_entered_in_error(&new).is_ok());
        assert!(marks_entered_in_error(&old).is_err());
        assert_eq!(first_difference(&old, &new), None);
        new.date = None;
        assert_eq!(first_difference(&old, &new).as_deref(), Some("date"));
    }
}
