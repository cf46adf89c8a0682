//! Basic clinical information: the patient summary a SIHCE pushes, and `Patient/$summary`.
//!
//! `POST /fhir/Bundle` with a `document` Bundle (BundlePe: a Composition first, then the
//! resources it cites). The registry keeps the latest summary per patient and IPRESS:
//! the first push creates it, a later one (a later `Bundle.timestamp`) becomes its next
//! version, so earlier summaries stay readable in its `_history`. An older summary than
//! the one held is refused (409) rather than allowed to overwrite it; the same document
//! sent again (same `Bundle.identifier`) is answered with what is held.
//!
//! The Composition's `subject` and `custodian` name the patient and the IPRESS either
//! as `Patient/{id}` / `Organization/{id}` of the registry, or as entries of the
//! document (`urn:uuid:…`) whose identifiers the registry knows (a DNI, a RENIPRESS
//! code), so a SIHCE can send the document exactly as it made it.
//!
//! `GET /fhir/Patient/{id}/$summary` or `GET /fhir/Patient/$summary?identifier=…` answers
//! the newest summary of the patient (and of the records merged into it), from any
//! IPRESS or, with `custodian=Organization/{id}`, from that one.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use renhice_model::Primitive;
use renhice_model::resources::{Bundle, Composition, Resource};
use renhice_model::types::{Meta, Reference};
use renhice_model::values::Instant;
use renhice_store::Timestamp;
use renhice_store::resources::{
    self as stored, NewVersion, ReferenceEntry, SearchIndex, TokenEntry,
};
use renhice_store::search::{self as store_search, Criterion, Cursor, Order};
use renhice_store::{DbConnection, StoreError, records};

use super::locations::{self, Resolved};
use crate::audit::AuditHandle;
use crate::auth::access::{Caller, Reading, Scope, outside_scope};
use crate::auth::token::Role;
use crate::{ApiError, AppState};

/// The canonical URL of the operation's definition
/// (`profiles/renhice/OperationDefinition-summary.json`).
pub(crate) const DEFINITION: &str = "http://renhice.org/fhir/OperationDefinition/summary";

/// The date search parameter that orders summaries (the Bundle's `timestamp`).
const TIMESTAMP: &str = "timestamp";

fn unprocessable(path: &str, message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Who a Composition reference names: a registry resource by id, or an entry of the
/// document carrying business keys the registry may know.
enum Party {
    Id(String),
    Keys(Vec<String>),
}

/// Reads `Composition.{element}` as a party of type `resource_type`.
fn party(
    bundle: &Bundle,
    reference: Option<&Reference>,
    resource_type: &str,
    element: &str,
) -> Result<Party, ApiError> {
    let path = format!("Bundle.entry[0].resource.{element}");
    let Some(text) = reference.and_then(Reference::reference_str) else {
        return Err(unprocessable(
            &path,
            format!("the summary names its {element} ({resource_type})"),
        ));
    };
    if let Some(id) = text
        .strip_prefix(resource_type)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|id| !id.is_empty() && !id.contains('/'))
    {
        return Ok(Party::Id(id.to_owned()));
    }
    let entry = bundle
        .entry
        .iter()
        .find(|e| e.full_url.as_ref().and_then(Primitive::as_str) == Some(text))
        .and_then(|e| e.resource.as_ref())
        .filter(|r| r.resource_type() == resource_type);
    let Some(resource) = entry else {
        return Err(unprocessable(
            &path,
            format!(
                "{text:?} is neither {resource_type}/{{id}} of the registry nor a {resource_type} entry of the document"
            ),
        ));
    };
    let keys = renhice_registry::check(resource)?.unique_keys;
    if keys.is_empty() {
        return Err(unprocessable(
            &path,
            format!(
                "the document's {resource_type} carries no identifier the registry can match (a DNI or other identity document; a RENIPRESS code)"
            ),
        ));
    }
    Ok(Party::Keys(keys))
}

/// The registry id a party names, if the registry knows it.
fn resolve(
    conn: &mut DbConnection,
    resource_type: &str,
    party: &Party,
) -> Result<Option<String>, StoreError> {
    match party {
        Party::Id(id) => {
            Ok(stored::read(conn, resource_type, id)?
                .and_then(|r| (!r.deleted).then(|| id.clone())))
        }
        Party::Keys(keys) => {
            for key in keys {
                if let Some(holder) = stored::key_holder(conn, resource_type, key)? {
                    return Ok(Some(holder));
                }
            }
            Ok(None)
        }
    }
}

/// What a document Bundle must carry to be kept as a summary; its Composition.
fn check(bundle: &Bundle) -> Result<(&Composition, i64, String), ApiError> {
    if bundle.r#type.as_ref().and_then(Primitive::as_str) != Some("document") {
        return Err(unprocessable(
            "Bundle.type",
            "POST /fhir/Bundle takes a document Bundle (the patient's basic clinical information, BundlePe)",
        ));
    }
    let identifier = bundle
        .identifier
        .as_deref()
        .and_then(|i| Some((i.system_str()?, i.value_str()?)))
        .map(|(s, v)| format!("{s}|{v}"))
        .ok_or_else(|| {
            unprocessable(
                "Bundle.identifier",
                "a document has an identifier with system and value (bdl-9)",
            )
        })?;
    for (part, text) in [
        (
            "system",
            bundle.identifier.as_deref().and_then(|i| i.system_str()),
        ),
        (
            "value",
            bundle.identifier.as_deref().and_then(|i| i.value_str()),
        ),
    ] {
        let limit = renhice_registry::params::MAX_INDEX_VALUE_BYTES;
        if text.is_some_and(|t| t.len() > limit) {
            return Err(unprocessable(
                &format!("Bundle.identifier.{part}"),
                format!("a value the registry searches by may hold at most {limit} bytes"),
            ));
        }
    }
    let timestamp = bundle
        .timestamp
        .as_ref()
        .and_then(Primitive::value)
        .and_then(renhice_registry::dates::instant_micros)
        .ok_or_else(|| {
            unprocessable("Bundle.timestamp", "a document has its timestamp (bdl-10)")
        })?;
    let Some(Resource::Composition(composition)) =
        bundle.entry.first().and_then(|e| e.resource.as_ref())
    else {
        return Err(unprocessable(
            "Bundle.entry[0].resource",
            "a document's first entry is its Composition (bdl-11)",
        ));
    };
    if composition.date.is_none() {
        return Err(unprocessable(
            "Bundle.entry[0].resource.date",
            "the Composition has its date",
        ));
    }
    Ok((composition, timestamp, identifier))
}

/// What happened to a pushed summary.
enum Outcome {
    /// Stored as this version.
    Stored {
        id: String,
        version: i64,
        last_updated: Timestamp,
        body: String,
    },
    /// The same document was stored before: its stored version.
    Again(stored::StoredResource),
    /// A later summary of this patient from this IPRESS is held.
    Older { held: String },
    /// The summary the key names cannot be read back (a fault of the registry).
    Unreadable(String),
    /// The patient or the IPRESS is not known (which, and where).
    Unknown {
        path: &'static str,
        resource_type: &'static str,
    },
    /// The document's custodian is not the caller's IPRESS (its `Organization` id).
    NotOwn(String),
}

/// `POST /fhir/Bundle`: keeps a patient summary document.
pub(crate) async fn push(
    body: web::Bytes,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let (state, caller) = (&**state, &caller);
    caller.require(&[Role::System, Role::Clinician], "push a patient's summary")?;
    let own = caller.ipress(state).await?;
    let Resource::Bundle(bundle) = super::rest::parse_write(body, "Bundle").await? else {
        return Err(ApiError::internal("parse returned another type"));
    };
    let (composition, timestamp, identifier) = check(&bundle)?;
    let patient = party(
        &bundle,
        composition.subject.as_deref(),
        "Patient",
        "subject",
    )?;
    let custodian = party(
        &bundle,
        composition.custodian.as_deref(),
        "Organization",
        "custodian",
    )?;
    let now = Timestamp::now();
    let own_ipress = own.clone();
    let audit = caller.audit().clone();
    let observer = state.auth.config.audience.clone();
    let outcome = state
        .store
        .run(move |conn| {
            keep(
                conn,
                *bundle,
                &patient,
                &custodian,
                &own_ipress,
                timestamp,
                &identifier,
                now,
                (&audit, &observer),
            )
        })
        .await?;
    match outcome {
        Outcome::Stored {
            id,
            version,
            last_updated,
            body,
        } => Ok(super::rest::version_response(
            if version == 1 {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            "Bundle",
            &id,
            version,
            last_updated,
            body,
        )),
        Outcome::Again(row) => Ok(super::rest::version_response(
            StatusCode::OK,
            "Bundle",
            &row.id,
            row.version_id,
            row.last_updated,
            row.body.unwrap_or_default(),
        )),
        Outcome::Older { held } => Err(ApiError::Conflict(format!(
            "a later summary of this patient from this IPRESS is held (Bundle/{held}); an older one does not replace it"
        ))),
        Outcome::NotOwn(custodian) => {
            Err(caller.not_own(&own, &custodian, "Bundle.entry[0].resource.custodian"))
        }
        Outcome::Unreadable(id) => Err(ApiError::internal(format!(
            "the held summary Bundle/{id} cannot be read back"
        ))),
        Outcome::Unknown {
            path,
            resource_type,
        } => Err(unprocessable(
            path,
            format!("the {resource_type} is not known to the registry; feed it first"),
        )),
    }
}

/// Resolves the parties and writes the summary as the first or next version of the
/// patient's summary from the IPRESS.
#[allow(
    clippy::too_many_arguments,
    reason = "one blocking task's inputs, each a separate part of the document"
)]
fn keep(
    conn: &mut DbConnection,
    mut bundle: Bundle,
    patient: &Party,
    custodian: &Party,
    own: &str,
    timestamp: i64,
    identifier: &str,
    now: Timestamp,
    (audit, observer): (&AuditHandle, &str),
) -> Result<Outcome, StoreError> {
    let Some(patient) = resolve(conn, "Patient", patient)? else {
        return Ok(Outcome::Unknown {
            path: "Bundle.entry[0].resource.subject",
            resource_type: "Patient",
        });
    };
    let Some(custodian) = resolve(conn, "Organization", custodian)? else {
        return Ok(Outcome::Unknown {
            path: "Bundle.entry[0].resource.custodian",
            resource_type: "Organization",
        });
    };
    if custodian != own {
        return Ok(Outcome::NotOwn(custodian));
    }
    let key = format!("summary|{patient}|{custodian}");
    let (id, version) = match stored::key_holder(conn, "Bundle", &key)? {
        None => (uuid::Uuid::new_v4().to_string(), 1),
        Some(id) => {
            let row = stored::read(conn, "Bundle", &id)?;
            let held = row
                .as_ref()
                .and_then(|r| r.body.as_deref())
                .and_then(|b| super::rest::stored(b).ok());
            let (Some(row), Some(Resource::Bundle(held))) = (row, held) else {
                return Ok(Outcome::Unreadable(id));
            };
            let held_identifier = held
                .identifier
                .as_deref()
                .and_then(|i| Some(format!("{}|{}", i.system_str()?, i.value_str()?)));
            if held_identifier.as_deref() == Some(identifier) {
                return Ok(Outcome::Again(row));
            }
            let held_timestamp = held
                .timestamp
                .as_ref()
                .and_then(Primitive::value)
                .and_then(renhice_registry::dates::instant_micros);
            if held_timestamp.is_some_and(|t| t >= timestamp) {
                return Ok(Outcome::Older { held: id });
            }
            (id, row.version_id + 1)
        }
    };
    bundle.id = Some(id.clone().into());
    let meta = bundle.meta.get_or_insert_with(Box::<Meta>::default);
    meta.version_id = Some(version.to_string().into());
    meta.last_updated = Instant::parse(now.to_rfc3339()).ok().map(Primitive::new);
    let body = Resource::Bundle(Box::new(bundle)).to_json_string();
    let index = summary_index(identifier, timestamp, &patient, custodian);
    // The summary and its audit events commit together.
    audit.patient(&patient);
    audit.entity("Bundle", &id);
    let events = audit.events_for_commit(observer);
    stored::write_version_audited(
        conn,
        &NewVersion {
            resource_type: "Bundle",
            id: &id,
            version_id: version,
            last_updated: now,
            body: Some(&body),
            index: &index,
            unique_keys: &[key],
            record: None,
            grants: &[],
        },
        &events,
    )?;
    audit.committed();
    Ok(Outcome::Stored {
        id,
        version,
        last_updated: now,
        body,
    })
}

/// What a stored summary is found by: its identifier, its timestamp, its patient and
/// its custodian.
fn summary_index(
    identifier: &str,
    timestamp: i64,
    patient: &str,
    custodian: String,
) -> SearchIndex {
    SearchIndex {
        tokens: vec![TokenEntry {
            param: "identifier".to_owned(),
            system: identifier.split_once('|').map(|(s, _)| s.to_owned()),
            code: identifier
                .split_once('|')
                .map_or(identifier, |(_, v)| v)
                .to_owned(),
        }],
        dates: vec![stored::DateEntry {
            param: TIMESTAMP.to_owned(),
            low: timestamp,
            high: timestamp,
        }],
        references: vec![
            ReferenceEntry {
                param: "patient".to_owned(),
                target_type: "Patient".to_owned(),
                target_id: patient.to_owned(),
            },
            ReferenceEntry {
                param: "custodian".to_owned(),
                target_type: "Organization".to_owned(),
                target_id: custodian,
            },
        ],
        ..SearchIndex::default()
    }
}

/// The newest summary of the patient's family, optionally from one IPRESS.
fn newest(
    conn: &mut DbConnection,
    patient: &str,
    custodian: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let family = renhice_store::records::family(conn, patient)?;
    let mut criteria = vec![Criterion::references("patient", "Patient", family)];
    if let Some(custodian) = custodian {
        criteria.push(Criterion::references(
            "custodian",
            "Organization",
            [custodian.to_owned()],
        ));
    }
    let page = store_search::search(
        conn,
        "Bundle",
        &criteria,
        Order::Date {
            param: TIMESTAMP,
            descending: true,
        },
        Cursor::Start,
        1,
    )?;
    Ok(page.rows.into_iter().next().map(|(_, _, _, _, body)| body))
}

/// The newest summary the caller may see, and how many IPRESS hold summaries of the
/// patient the caller's access leaves out (counted only when no IPRESS was asked for).
type Allowed = (Option<String>, usize);

/// [`newest`], as far as the caller may see: a patient any of their own; a SIHCE or
/// clinician its own IPRESS's, or under emergency any IPRESS's.
fn allowed_newest(
    conn: &mut DbConnection,
    caller: &Caller,
    patient: &str,
    custodian: Option<&str>,
) -> Result<Result<Allowed, ApiError>, StoreError> {
    let scope = match caller.scope_on(conn, patient, Reading::Summary)? {
        Ok(scope) => scope,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let asked_for_one = custodian.is_some();
    let custodian = match (&scope, custodian) {
        (Scope::All | Scope::Emergency(_) | Scope::Consented { .. }, asked) => asked,
        (Scope::Custodian(own), Some(asked)) if asked != own => {
            return Ok(Err(outside_scope(asked)));
        }
        (Scope::Custodian(own), _) => Some(own.as_str()),
    };
    // What is withheld is other IPRESS's summaries (not their index entries): under
    // emergency or consent every IPRESS's summary may answer, so only a caller limited
    // to its own IPRESS is ever short of some.
    let withheld = match (&scope, asked_for_one) {
        (Scope::Custodian(own), false) => records::summary_custodians(conn, patient)?
            .iter()
            .filter(|c| *c != own)
            .count(),
        _ => 0,
    };
    Ok(Ok((newest(conn, patient, custodian)?, withheld)))
}

/// The query's parameters.
struct Parameters {
    /// The identifier parameter's name and value (type-level calls).
    identifier: Option<(String, String)>,
    /// The custodian's `Organization` id.
    custodian: Option<String>,
}

/// Reads the query's parameters; an instance call takes no identifier.
fn parameters(req: &HttpRequest, instance: bool) -> Result<Parameters, ApiError> {
    let pairs = super::rest::query_pairs(req.query_string())?;
    let mut identifier = None;
    let mut custodian = None;
    for (name, raw) in pairs {
        match name.as_str() {
            "custodian" if custodian.is_none() => {
                let id = raw.strip_prefix("Organization/").unwrap_or(&raw);
                custodian = Some(id.to_owned());
            }
            "identifier" | "identifier:of-type" if !instance && identifier.is_none() => {
                identifier = Some((name, raw));
            }
            other => {
                return Err(locations::invalid(
                    other,
                    format!(
                        "$summary takes {}custodian=Organization/{{id}}, each once; not {other:?}",
                        if instance {
                            ""
                        } else {
                            "identifier (or identifier:of-type) and "
                        }
                    ),
                ));
            }
        }
    }
    Ok(Parameters {
        identifier,
        custodian,
    })
}

/// The answer: the document; or a 404 which, when the caller's access left other
/// IPRESS's records out, says so in an information issue beside the error. A document
/// found while others were left out carries `X-Withheld-Ipress` (how many IPRESS): the
/// document itself is the IPRESS's, signed as it was sent, and is not changed.
fn document((body, withheld): Allowed, what: String) -> Result<HttpResponse, ApiError> {
    let Some(body) = body else {
        let not_found = ApiError::ResourceNotFound {
            resource_type: "Bundle".to_owned(),
            id: what,
        };
        if withheld == 0 {
            return Err(not_found);
        }
        let mut outcome = not_found.outcome();
        outcome
            .issue
            .push(renhice_registry::access::withheld_issue(withheld));
        return Ok(HttpResponse::NotFound()
            .content_type(renhice_model::FHIR_JSON_MIME)
            .body(serde_json::to_string(&outcome).unwrap_or_default()));
    };
    let mut response = HttpResponse::Ok();
    response.content_type(renhice_model::FHIR_JSON_MIME);
    if withheld > 0 {
        response.insert_header((WITHHELD_HEADER, withheld.to_string()));
    }
    Ok(response.body(body))
}

/// The header that tells how many IPRESS's records a `$summary` answer left out.
pub(crate) const WITHHELD_HEADER: &str = "x-withheld-ipress";

/// `GET /fhir/Patient/$summary?identifier=…[&custodian=…]`.
pub(crate) async fn for_identifier(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let Parameters {
        identifier,
        custodian,
    } = parameters(&req, false)?;
    let Some((name, raw)) = identifier else {
        return Err(locations::invalid(
            "query",
            "$summary names the patient: identifier=[system|]value, or runs on a Patient instance"
                .to_owned(),
        ));
    };
    let (param, system, value) = locations::identifier_param(&name, &raw)?;
    let what = format!("summary of the patient with {name} {raw}");
    let patient_asks = caller.role() == Role::Patient;
    let found = state
        .store
        .run(move |conn| {
            match locations::resolve_patient(conn, param, system.as_deref(), &value)? {
                Resolved::One(patient) => Ok(Ok(allowed_newest(
                    conn,
                    &caller,
                    &patient,
                    custodian.as_deref(),
                )?)),
                other => Ok(Err(other)),
            }
        })
        .await?;
    match found {
        // A patient learns nothing of other people's documents: "not yours" and "not
        // registered" are one answer.
        Ok(Err(_)) | Err(_) if patient_asks => {
            Err(locations::unresolved(Resolved::None, &name, &raw))
        }
        Ok(body) => document(body?, what),
        Err(other) => Err(locations::unresolved(other, &name, &raw)),
    }
}

/// `GET /fhir/Patient/{id}/$summary[?custodian=…]`.
pub(crate) async fn for_instance(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let custodian = parameters(&req, true)?.custodian;
    let id = path.into_inner();
    let lookup = id.clone();
    let patient_asks = caller.role() == Role::Patient;
    let (row, body) = state
        .store
        .run(move |conn| {
            let row = stored::read(conn, "Patient", &lookup)?;
            if row.as_ref().is_none_or(|r| r.deleted) {
                return Ok((row, Ok((None, 0))));
            }
            let body = allowed_newest(conn, &caller, &lookup, custodian.as_deref())?;
            Ok((row, body))
        })
        .await?;
    super::rest::found("Patient", &id, row)?;
    match body {
        Err(_) if patient_asks => Err(ApiError::ResourceNotFound {
            resource_type: "Patient".to_owned(),
            id,
        }),
        body => document(body?, format!("summary of Patient/{id}")),
    }
}
