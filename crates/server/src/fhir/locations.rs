//! `Patient/$record-locations`: where a patient's history lives.
//!
//! `GET /fhir/Patient/{id}/$record-locations` or `GET /fhir/Patient/$record-locations?identifier=…`
//! (`system|value`, a bare value, or `identifier:of-type=…`). The answer is a `Parameters`
//! with one `location` per IPRESS holding current index entries of the patient — and of
//! every record merged into the patient — whose parts are `organization` (a reference with
//! the RENIPRESS identifier and the name as display), `renipress`, `name`, `count`,
//! `first` and `last` (the earliest and latest `DocumentReference.date`, as UTC
//! instants), one `type` per document type and one `endpoint` per endpoint of the IPRESS.
//! IPRESS are ordered by their latest entry, newest first. The operation is defined in
//! `profiles/renhice/OperationDefinition-record-locations.json`.
//!
//! A patient sees the locations of all their records; a SIHCE or clinician only its own
//! IPRESS's unless under emergency access (`ETREAT` with a reason), which shows every
//! IPRESS's entries but those another IPRESS labelled sensitive (`auth::access`). When
//! the caller's access leaves entries out, the answer says so (`withheld` = true, and an
//! `outcome` whose information issue says how many IPRESS, not which, and how to get
//! access): it never reads as "no history elsewhere" when there is one.
//!
//! Everything runs on one pooled connection in one blocking task: the identifier lookup
//! (or the instance read), the caller's IPRESS (or, for a patient, their own records),
//! and one statement that follows the merges into the patient, groups the record index
//! and fetches the IPRESS (`store::records::locations`), all prepared statements.

use actix_web::{HttpRequest, HttpResponse, web};
use renhice_model::resources::Resource;
use renhice_store::records::{self, LocationGroup};
use renhice_store::resources::{self as stored, StoredResource};
use renhice_store::{DbConnection, StoreError};

use crate::auth::access::{Caller, Reading};
use crate::auth::token::Role;
use crate::{ApiError, AppState};

/// The canonical URL of the operation's definition.
pub(crate) const DEFINITION: &str = "http://renhice.org/fhir/OperationDefinition/record-locations";

/// What the database said, before it becomes a FHIR answer.
enum Lookup {
    /// The identifier names no patient, or several.
    Unresolved(Resolved),
    /// The instance asked for is missing or deleted.
    Instance(Option<StoredResource>),
    /// The groups of current entries the caller may see, each with its IPRESS's JSON,
    /// and how many IPRESS the caller's access left out.
    Found(Vec<(LocationGroup, Option<String>)>, usize),
    /// The caller may not see this patient's locations.
    Refused(ApiError),
}

pub(super) fn invalid(path: &str, message: String) -> ApiError {
    ApiError::Invalid {
        path: path.to_owned(),
        message,
    }
}

/// The one `identifier` or `identifier:of-type` parameter of a type-level call.
fn identifier_query(req: &HttpRequest) -> Result<(String, String), ApiError> {
    let pairs = super::rest::query_pairs(req.query_string())?;
    match <[(String, String); 1]>::try_from(pairs) {
        Ok([pair]) => Ok(pair),
        Err(_) => Err(invalid(
            "query",
            "$record-locations takes one identifier=[system|]value or identifier:of-type=type-system|type-code|value, or runs on a Patient instance".to_owned(),
        )),
    }
}

/// The token search an identifier parameter names: `(param, system, value)`.
pub(super) fn identifier_param(
    name: &str,
    raw: &str,
) -> Result<(&'static str, Option<String>, String), ApiError> {
    let criterion =
        renhice_registry::conditional::identifier_criterion(&[(name.to_owned(), raw.to_owned())])?;
    Ok((criterion.param, criterion.system, criterion.value))
}

/// Which patient an identifier names.
pub(super) enum Resolved {
    /// Nobody carries it.
    None,
    /// Several patients carry it and none was merged into the others.
    Ambiguous(Vec<String>),
    /// This one (the survivor, when the others were merged into it).
    One(String),
}

/// The patient carrying an identifier.
pub(super) fn resolve_patient(
    conn: &mut DbConnection,
    param: &str,
    system: Option<&str>,
    value: &str,
) -> Result<Resolved, StoreError> {
    let ids = stored::find_by_token(conn, "Patient", param, system, value)?;
    Ok(match ids.as_slice() {
        [] => Resolved::None,
        [id] => Resolved::One(id.clone()),
        several => match survivors(conn, several)?.as_slice() {
            [id] => Resolved::One(id.clone()),
            _ => Resolved::Ambiguous(ids),
        },
    })
}

/// The error for an identifier that names no patient, or several.
pub(super) fn unresolved(resolved: Resolved, name: &str, raw: &str) -> ApiError {
    match resolved {
        Resolved::Ambiguous(several) => ApiError::PreconditionFailed(format!(
            "{name} {raw} names {} patients ({}); give the identifier's system",
            several.len(),
            several.join(", ")
        )),
        Resolved::None | Resolved::One(_) => ApiError::ResourceNotFound {
            resource_type: "Patient".to_owned(),
            id: format!("with {name} {raw}"),
        },
    }
}

/// Among several patients carrying an identifier, those not merged into another of them.
fn survivors(conn: &mut DbConnection, several: &[String]) -> Result<Vec<String>, StoreError> {
    let merged = stored::referrers(conn, "Patient", "replaced-by", "Patient", several)?;
    Ok(several
        .iter()
        .filter(|id| !merged.contains(id))
        .cloned()
        .collect())
}

/// The grouped current entries of the patient and its merged records that the caller
/// may see: every IPRESS's for the patient, or under emergency; otherwise only those
/// the caller's own IPRESS holds.
fn locate(conn: &mut DbConnection, caller: &Caller, patient: &str) -> Result<Lookup, StoreError> {
    let scope = match caller.scope_on(conn, patient, Reading::Locations)? {
        Ok(scope) => scope,
        Err(refusal) => return Ok(Lookup::Refused(refusal)),
    };
    let mut groups = records::locations(conn, patient)?;
    let all: Vec<_> = groups.iter().map(|(group, _)| group.clone()).collect();
    let withheld = renhice_registry::access::withheld(&all, &scope);
    groups.retain(|(group, _)| scope.covers(&group.custodian_id, group.sensitive));
    Ok(Lookup::Found(groups, withheld))
}

pub(crate) async fn for_identifier(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let (name, raw) = identifier_query(&req)?;
    let (param, system, value) = identifier_param(&name, &raw)?;
    let patient_asks = caller.role() == Role::Patient;
    let lookup = state
        .store
        .run(
            move |conn| match resolve_patient(conn, param, system.as_deref(), &value)? {
                Resolved::One(patient) => locate(conn, &caller, &patient),
                other => Ok(Lookup::Unresolved(other)),
            },
        )
        .await?;
    match lookup {
        Lookup::Found(groups, withheld) => Ok(answer(groups, withheld)),
        // A patient learns nothing of other people's documents: "not yours" and "not
        // registered" are one answer.
        Lookup::Refused(_) | Lookup::Unresolved(_) if patient_asks => {
            Err(unresolved(Resolved::None, &name, &raw))
        }
        Lookup::Refused(refusal) => Err(refusal),
        Lookup::Unresolved(other) => Err(unresolved(other, &name, &raw)),
        Lookup::Instance(_) => Err(ApiError::internal(
            "an identifier lookup read an instance".to_owned(),
        )),
    }
}

pub(crate) async fn for_instance(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    if !req.query_string().is_empty() {
        return Err(invalid(
            "query",
            "$record-locations on an instance takes no parameters".to_owned(),
        ));
    }
    let id = path.into_inner();
    let lookup = id.clone();
    let patient_asks = caller.role() == Role::Patient;
    let found = state
        .store
        .run(move |conn| {
            let row = stored::read(conn, "Patient", &lookup)?;
            if row.as_ref().is_none_or(|r| r.deleted) {
                return Ok(Lookup::Instance(row));
            }
            locate(conn, &caller, &lookup)
        })
        .await?;
    match found {
        Lookup::Found(groups, withheld) => Ok(answer(groups, withheld)),
        Lookup::Refused(_) if patient_asks => Err(ApiError::ResourceNotFound {
            resource_type: "Patient".to_owned(),
            id,
        }),
        Lookup::Refused(refusal) => Err(refusal),
        Lookup::Instance(row) => {
            super::rest::found("Patient", &id, row)?;
            Err(ApiError::internal(format!("Patient/{id} vanished")))
        }
        Lookup::Unresolved(_) => Err(ApiError::internal(
            "an instance lookup by identifier".to_owned(),
        )),
    }
}

fn answer(groups: Vec<(LocationGroup, Option<String>)>, withheld: usize) -> HttpResponse {
    let groups = groups
        .into_iter()
        .map(|(group, organization)| {
            let organization = match organization.map(|b| super::rest::stored(&b)) {
                Some(Ok(Resource::Organization(o))) => Some(*o),
                _ => None,
            };
            (group, organization)
        })
        .collect();
    super::rest::ok(&Resource::Parameters(Box::new(
        renhice_registry::locations::answer(groups, withheld),
    )))
}
