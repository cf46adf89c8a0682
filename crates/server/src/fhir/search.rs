//! `GET /fhir/{type}?…`: search (PDQm ITI-78 for Patient).
//!
//! | type | parameters |
//! | --- | --- |
//! | Patient | `_id`, `identifier`, `identifier:of-type`, `family` (either surname), `given`, `birthdate` (`eq`, `ge`, `le`, `gt`, `lt`), `gender` |
//! | Organization | `_id`, `identifier`, `identifier:of-type` |
//! | DocumentReference (MHD ITI-67) | `patient` or `patient.identifier` and `status` (both required), `_id`, `identifier`, `date`, `period`, `type`, `category`, `custodian`, `facility`, `setting`, `security-label`; `_sort=date` or `-date`; `_include=DocumentReference:custodian` |
//! | List (MHD ITI-66, each a SubmissionSet) | `patient` or `patient.identifier` and `status` (both required), `_id`, `identifier`, `code`, `date`, `designationType`, `sourceId`; `_sort=date` or `-date` |
//! | Consent (PCF ITI-108) | `patient` or `patient.identifier` and `status` (both required), `_id`, `identifier` |
//!
//! Strings match case- and accent-insensitively by prefix. Commas separate alternatives.
//! `_count` (default 20, at most 200) sizes a page; the `next` link carries a `_cursor`
//! (the position of the last row returned), so pages do not shift when resources are
//! added. `_total=accurate` (or `estimate`) adds `Bundle.total`; by default it is left
//! out, as counting costs a second query. `POST /fhir/{type}/_search` with a form body
//! searches the same way. An unknown parameter is a 400 unless the client sends
//! `Prefer: handling=lenient`, in which case it is ignored and left out of the `self`
//! link (FHIR R4 §3.1.1.1.5).

use actix_web::{HttpRequest, HttpResponse, web};
use renhice_model::Primitive;
use renhice_model::resources::{Bundle, BundleEntry, BundleEntrySearch, BundleLink, Resource};
use renhice_model::values::Date;
use renhice_store::search::{
    self as store_search, Criterion, Cursor, DateComparator, Match, Order,
};

use super::{base_url, consent, rules, served};
use crate::auth::Role;
use crate::auth::access::{Caller, Reading, Scope, forbidden};
use crate::{ApiError, AppState};

const DEFAULT_COUNT: usize = 20;
const MAX_COUNT: usize = 200;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Token,
    OfType,
    String,
    Date,
    /// A reference to a resource of this type (`Patient/123` or `123`).
    Reference(&'static str),
    /// `patient.identifier`: the patients carrying a token, resolved before the search.
    PatientIdentifier,
}

/// The types that can be searched.
pub(crate) const SEARCHABLE: [&str; 5] = [
    "Consent",
    "DocumentReference",
    "List",
    "Organization",
    "Patient",
];

fn parameter(resource_type: &str, name: &str) -> Option<Kind> {
    match (resource_type, name) {
        (_, "_id" | "identifier")
        | ("Patient", "gender")
        | (
            "DocumentReference",
            "status" | "type" | "category" | "security-label" | "facility" | "setting",
        )
        | ("List", "status" | "code" | "designationType" | "sourceId")
        | ("Consent", "status") => Some(Kind::Token),
        ("Patient" | "Organization", "identifier:of-type") => Some(Kind::OfType),
        ("Patient", "family" | "given") => Some(Kind::String),
        ("Patient", "birthdate") | ("DocumentReference", "date" | "period") | ("List", "date") => {
            Some(Kind::Date)
        }
        ("DocumentReference" | "List", "patient" | "subject") | ("Consent", "patient") => {
            Some(Kind::Reference("Patient"))
        }
        ("DocumentReference", "custodian") => Some(Kind::Reference("Organization")),
        ("DocumentReference" | "List" | "Consent", "patient.identifier") => {
            Some(Kind::PatientIdentifier)
        }
        _ => None,
    }
}

fn invalid(name: &str, message: String) -> ApiError {
    ApiError::Invalid {
        path: name.to_owned(),
        message,
    }
}

fn parse_value(kind: Kind, name: &str, raw: &str) -> Result<Match, ApiError> {
    match kind {
        Kind::Reference(target) => {
            let id = raw
                .strip_prefix(target)
                .and_then(|r| r.strip_prefix('/'))
                .unwrap_or(raw);
            if id.is_empty() || id.contains('/') {
                return Err(invalid(
                    name,
                    format!("{name} is a {target} id or {target}/id, got {raw:?}"),
                ));
            }
            Ok(Match::Reference {
                target_type: target.to_owned(),
                target_id: id.to_owned(),
            })
        }
        Kind::Token | Kind::PatientIdentifier => Ok(match raw.split_once('|') {
            Some((system, code)) => Match::Token {
                system: Some(system.to_owned()),
                code: code.to_owned(),
            },
            None => Match::Token {
                system: None,
                code: raw.to_owned(),
            },
        }),
        Kind::OfType => {
            let mut parts = raw.splitn(3, '|');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(ts), Some(tc), Some(value))
                    if !ts.is_empty() && !tc.is_empty() && !value.is_empty() =>
                {
                    Ok(Match::Token {
                        system: Some(format!("{ts}|{tc}")),
                        code: rules::normalise_of_type_value(ts, value),
                    })
                }
                _ => Err(invalid(
                    name,
                    format!("{name} is type-system|type-code|value, got {raw:?}"),
                )),
            }
        }
        Kind::String => {
            let value = rules::normalise_text(raw);
            if value.is_empty() {
                return Err(invalid(name, format!("{name} needs a value")));
            }
            Ok(Match::StringPrefix(value))
        }
        Kind::Date => {
            let (comparator, text) = match raw.get(..2) {
                Some("eq") => (DateComparator::Eq, &raw[2..]),
                Some("ge") => (DateComparator::Ge, &raw[2..]),
                Some("le") => (DateComparator::Le, &raw[2..]),
                Some("gt") => (DateComparator::Gt, &raw[2..]),
                Some("lt") => (DateComparator::Lt, &raw[2..]),
                Some(p) if p.bytes().all(|b| b.is_ascii_lowercase()) => {
                    return Err(invalid(
                        name,
                        format!(
                            "the prefix {p:?} is not supported on {name}; use eq, ge, le, gt or lt"
                        ),
                    ));
                }
                _ => (DateComparator::Eq, raw),
            };
            let date: Date = text.parse().map_err(|e| {
                invalid(
                    name,
                    format!(
                        "{name} {text:?} is not a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD): {e}"
                    ),
                )
            })?;
            let (low, high) = rules::date_range(&date.parts())
                .ok_or_else(|| invalid(name, format!("{name} {text:?} is out of range")))?;
            Ok(Match::Date {
                comparator,
                low,
                high,
            })
        }
    }
}

fn lenient(req: &HttpRequest) -> bool {
    req.headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("handling=lenient"))
}

/// A parsed search request.
struct Request {
    /// `patient.identifier` values, resolved to patients before searching.
    patient_identifiers: Vec<Match>,
    criteria: Vec<Criterion>,
    /// The parameters applied, for the `self` and `next` links.
    kept: Vec<(String, String)>,
    count: usize,
    order: Order,
    after: Cursor,
    /// `_include=DocumentReference:custodian`.
    include_custodian: bool,
    /// `_total=accurate` or `estimate`.
    total: bool,
}

/// The `_cursor` of a next link: `key`, or `date_key` under a date order.
fn cursor_text(cursor: Cursor) -> Option<String> {
    match cursor {
        Cursor::Start => None,
        Cursor::Key(k) => Some(k.to_string()),
        Cursor::DateKey(d, k) => Some(format!("{d}_{k}")),
    }
}

fn parse_cursor(raw: &str, order: Order) -> Result<Cursor, ApiError> {
    let bad = || {
        invalid(
            "_cursor",
            format!("_cursor {raw:?} is not a page cursor from a next link of this search"),
        )
    };
    match order {
        Order::Date { .. } => {
            let (d, k) = raw.split_once('_').ok_or_else(bad)?;
            Ok(Cursor::DateKey(
                d.parse().map_err(|_| bad())?,
                k.parse().map_err(|_| bad())?,
            ))
        }
        Order::Key | Order::KeyDescending => raw.parse().map(Cursor::Key).map_err(|_| bad()),
    }
}

/// A result parameter (`_sort`, `_include`, `_total`) applied to `request`; `false` if
/// the value is not offered.
fn result_parameter(resource_type: &str, name: &str, raw: &str, request: &mut Request) -> bool {
    match (name, raw) {
        ("_sort", "date" | "-date") if matches!(resource_type, "DocumentReference" | "List") => {
            request.order = Order::Date {
                param: "date",
                descending: raw.starts_with('-'),
            };
        }
        ("_include", "DocumentReference:custodian") if resource_type == "DocumentReference" => {
            request.include_custodian = true;
        }
        ("_total", "accurate" | "estimate") => request.total = true,
        ("_total", "none") => request.total = false,
        _ => return false,
    }
    request.kept.push((name.to_owned(), raw.to_owned()));
    true
}

fn parse_request(req: &HttpRequest, query: &str, resource_type: &str) -> Result<Request, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
        .map_err(|e| invalid("query", format!("the query string is malformed: {e}")))?
        .into_inner();
    let mut request = Request {
        patient_identifiers: Vec::new(),
        criteria: Vec::new(),
        kept: Vec::new(),
        count: DEFAULT_COUNT,
        order: Order::Key,
        after: Cursor::Start,
        include_custodian: false,
        total: false,
    };
    let mut cursor = None;
    for (name, raw) in &pairs {
        match name.as_str() {
            "_count" => {
                request.count = raw
                    .parse::<usize>()
                    .map_err(|_| invalid("_count", format!("_count {raw:?} is not a number")))?
                    .min(MAX_COUNT);
            }
            "_cursor" => cursor = Some(raw.clone()),
            "_format" => {}
            "_sort" | "_include" | "_total" => {
                if !result_parameter(resource_type, name, raw, &mut request) && !lenient(req) {
                    return Err(invalid(
                        name,
                        format!(
                            "{name}={raw} is not offered on {resource_type} here (see /fhir/metadata); \
                             send Prefer: handling=lenient to have it ignored"
                        ),
                    ));
                }
            }
            _ => {
                let Some(kind) = parameter(resource_type, name) else {
                    if lenient(req) {
                        continue;
                    }
                    return Err(invalid(
                        name,
                        format!(
                            "{name:?} is not a search parameter of {resource_type} here (see /fhir/metadata); \
                             send Prefer: handling=lenient to have unknown parameters ignored"
                        ),
                    ));
                };
                let values = raw
                    .split(',')
                    .map(|v| parse_value(kind, name, v))
                    .collect::<Result<Vec<_>, _>>()?;
                request.kept.push((name.clone(), raw.clone()));
                if kind == Kind::PatientIdentifier {
                    request.patient_identifiers.extend(values);
                    continue;
                }
                let param = match (kind, name.as_str()) {
                    (Kind::OfType, _) => rules::OF_TYPE_PARAM.to_owned(),
                    // `subject` and `patient` are one index for DocumentReference and List.
                    (Kind::Reference("Patient"), _) => "patient".to_owned(),
                    _ => name.clone(),
                };
                request.criteria.push(Criterion { param, values });
            }
        }
    }
    if let Some(raw) = cursor {
        request.after = parse_cursor(&raw, request.order)?;
    }
    if matches!(resource_type, "DocumentReference" | "List" | "Consent") {
        let has = |p: &str| request.kept.iter().any(|(n, _)| n == p);
        if !(has("patient") || has("subject") || has("patient.identifier")) || !has("status") {
            return Err(invalid(
                "query",
                format!(
                    "{} search names the patient (patient or patient.identifier) and the status",
                    match resource_type {
                        "List" => "an MHD SubmissionSet (ITI-66)",
                        "Consent" => "a PCF consent (ITI-108)",
                        _ => "an MHD document (ITI-67)",
                    }
                ),
            ));
        }
    }
    Ok(request)
}

/// `patient.identifier`: a criterion on the patients carrying any of the identifiers.
async fn patients_with(state: &AppState, identifiers: Vec<Match>) -> Result<Criterion, ApiError> {
    let mut patients = Vec::new();
    for m in identifiers {
        let Match::Token { system, code } = m else {
            continue;
        };
        let found = state
            .store
            .run(move |conn| {
                renhice_store::resources::find_by_token(
                    conn,
                    "Patient",
                    "identifier",
                    system.as_deref().filter(|s| !s.is_empty()),
                    &code,
                )
            })
            .await?;
        patients.extend(found.into_iter().map(|id| Match::Reference {
            target_type: "Patient".to_owned(),
            target_id: id,
        }));
    }
    if patients.is_empty() {
        // No such patient: nothing can match (an empty id is never stored).
        patients.push(Match::Reference {
            target_type: "Patient".to_owned(),
            target_id: String::new(),
        });
    }
    Ok(Criterion {
        param: "patient".to_owned(),
        values: patients,
    })
}

pub(super) async fn search(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let query = req.query_string().to_owned();
    run(&req, &path, &query, &state, &caller).await
}

/// `POST /fhir/{type}/_search`: the parameters in an `application/x-www-form-urlencoded`
/// body (and the URL), so they stay out of access logs (FHIR R4 §3.1.1.0.2).
pub(super) async fn search_post(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    if !super::is_form(&req) && !body.is_empty() {
        return Err(invalid(
            "Content-Type",
            "POST _search takes its parameters as application/x-www-form-urlencoded".to_owned(),
        ));
    }
    let body = std::str::from_utf8(&body)
        .map_err(|_| invalid("body", "the form body is not UTF-8".to_owned()))?;
    let query = [req.query_string(), body]
        .into_iter()
        .filter(|q| !q.is_empty())
        .collect::<Vec<_>>()
        .join("&");
    run(&req, &path, &query, &state, &caller).await
}

/// The criterion that keeps a search to what the caller may see (`None`: everything
/// the search finds): a patient's own records; a SIHCE's or clinician's own IPRESS's
/// entries, or what the searched patients' consents grant it; the consents involving
/// its IPRESS. Searches are narrowed rather than refused, as FHIR servers do with
/// compartments: a patient asking for another's documents finds none.
async fn access_criterion(
    state: &AppState,
    caller: &Caller,
    resource_type: &str,
    criteria: &[Criterion],
) -> Result<Option<Criterion>, ApiError> {
    if resource_type == "Organization" {
        return Ok(None);
    }
    match caller.role() {
        Role::Patient => {
            let family = caller.own_family(state).await?;
            Ok(Some(if resource_type == "Patient" {
                Criterion {
                    param: "_id".to_owned(),
                    values: family
                        .into_iter()
                        .map(|id| Match::Token {
                            system: None,
                            code: id,
                        })
                        .collect(),
                }
            } else {
                Criterion::references("patient", "Patient", family)
            }))
        }
        Role::System | Role::Clinician if resource_type == "Patient" => Ok(None),
        Role::System | Role::Clinician if resource_type == "Consent" => {
            Ok(Some(Criterion::references(
                consent::PARTY_PARAM,
                "Organization",
                [caller.ipress(state).await?],
            )))
        }
        Role::System | Role::Clinician => {
            entries_criterion(state, caller, resource_type, criteria).await
        }
        Role::Auditor if resource_type == "Consent" => Ok(None),
        Role::Auditor | Role::Admin => Err(forbidden(
            "role",
            format!(
                "a {} token does not search patients' records; that is for: system, clinician, patient",
                caller.role()
            ),
        )),
    }
}

/// The index entries a SIHCE or clinician may find among the searched patients': its own
/// IPRESS's, unless every patient searched has consented to more (the narrowest of their
/// consents applies to all).
async fn entries_criterion(
    state: &AppState,
    caller: &Caller,
    resource_type: &str,
    criteria: &[Criterion],
) -> Result<Option<Criterion>, ApiError> {
    let patients: Vec<String> = criteria
        .iter()
        .filter(|c| c.param == "patient")
        .flat_map(|c| &c.values)
        .filter_map(|m| match m {
            Match::Reference { target_id, .. } => Some(target_id.clone()),
            _ => None,
        })
        .collect();
    let own = caller.ipress(state).await?;
    let mut sensitive = true;
    for patient in &patients {
        match caller.scope(state, patient, Reading::Entries).await? {
            Scope::Consented {
                sensitive: covered, ..
            } => sensitive &= covered,
            _ => {
                return Ok(Some(Criterion::references(
                    "custodian",
                    "Organization",
                    [own],
                )));
            }
        }
    }
    if patients.is_empty() {
        return Ok(Some(Criterion::references(
            "custodian",
            "Organization",
            [own],
        )));
    }
    Ok(match (sensitive, resource_type) {
        (false, "DocumentReference") => Some(Criterion {
            param: "custodian".to_owned(),
            values: vec![Match::HeldOrUnlabelled(own)],
        }),
        // A SubmissionSet carries no label of its own: under a consent it is seen
        // whoever holds it; the entries it lists are still read by the rules above.
        _ => None,
    })
}

async fn run(
    req: &HttpRequest,
    resource_type: &str,
    query: &str,
    state: &AppState,
    caller: &Caller,
) -> Result<HttpResponse, ApiError> {
    let resource_type = served(resource_type)?;
    if !SEARCHABLE.contains(&resource_type) {
        return Err(ApiError::NotOffered {
            message: format!("searching {resource_type} is not offered; read entries by id"),
            allow: "",
        });
    }
    let Request {
        patient_identifiers,
        mut criteria,
        kept,
        count,
        order,
        after,
        include_custodian,
        total,
    } = parse_request(req, query, resource_type)?;
    if !patient_identifiers.is_empty() {
        criteria.push(patients_with(state, patient_identifiers).await?);
    }
    // The audit: whose records were searched (PDQm: whom it found, below).
    for m in criteria
        .iter()
        .filter(|c| c.param == "patient")
        .flat_map(|c| &c.values)
    {
        if let Match::Reference { target_id, .. } = m {
            caller.audit().patient(target_id);
        }
    }
    let narrowing = access_criterion(state, caller, resource_type, &criteria).await?;
    criteria.extend(narrowing);
    let criteria = std::sync::Arc::new(criteria);
    let total = if total {
        let criteria = std::sync::Arc::clone(&criteria);
        let n = state
            .store
            .run(move |conn| store_search::count(conn, resource_type, &criteria))
            .await?;
        Some(u32::try_from(n).unwrap_or(u32::MAX))
    } else {
        None
    };
    let page = {
        let criteria = std::sync::Arc::clone(&criteria);
        state
            .store
            .run(move |conn| {
                store_search::search(conn, resource_type, &criteria, order, after, count)
            })
            .await?
    };
    if resource_type == "Patient" {
        for (_, id, _, _, _) in &page.rows {
            caller.audit().patient(id);
        }
    }
    let base = base_url(req);
    let mut entries = page
        .rows
        .iter()
        .map(|(_, id, _, _, body)| entry(&base, resource_type, id, body, "match"))
        .collect::<Result<Vec<_>, ApiError>>()?;
    if include_custodian {
        entries.extend(custodians(state, &base, &entries).await?);
    }
    let query = |cursor: Cursor| {
        let mut q: Vec<(String, String)> = kept.clone();
        q.push(("_count".to_owned(), count.to_string()));
        if let Some(text) = cursor_text(cursor) {
            q.push(("_cursor".to_owned(), text));
        }
        let encoded = serde_urlencoded::to_string(&q).unwrap_or_default();
        format!("{base}/{resource_type}?{encoded}")
    };
    let mut link = vec![BundleLink {
        relation: Some("self".into()),
        url: Some(query(after).into()),
        ..BundleLink::default()
    }];
    if let Some(next) = page.next {
        link.push(BundleLink {
            relation: Some("next".into()),
            url: Some(query(next).into()),
            ..BundleLink::default()
        });
    }
    let bundle = Bundle {
        r#type: Some("searchset".into()),
        total: total.map(Primitive::new),
        link,
        entry: entries,
        ..Bundle::default()
    };
    Ok(super::ok(&Resource::Bundle(Box::new(bundle))))
}

fn entry(
    base: &str,
    resource_type: &str,
    id: &str,
    body: &str,
    mode: &'static str,
) -> Result<BundleEntry, ApiError> {
    let resource = Resource::from_json(body.as_bytes())
        .map_err(|e| ApiError::Internal(format!("stored {resource_type}/{id}: {e}")))?;
    Ok(BundleEntry {
        full_url: Some(format!("{base}/{resource_type}/{id}").into()),
        resource: Some(resource),
        search: Some(Box::new(BundleEntrySearch {
            mode: Some(mode.into()),
            ..BundleEntrySearch::default()
        })),
        ..BundleEntry::default()
    })
}

/// `_include=DocumentReference:custodian`: each IPRESS the page's entries name, once.
async fn custodians(
    state: &AppState,
    base: &str,
    matches: &[BundleEntry],
) -> Result<Vec<BundleEntry>, ApiError> {
    let mut ids: Vec<String> = matches
        .iter()
        .filter_map(|e| match e.resource.as_ref() {
            Some(Resource::DocumentReference(d)) => d
                .custodian
                .as_deref()
                .and_then(|c| c.reference_str())
                .and_then(|r| r.strip_prefix("Organization/"))
                .map(str::to_owned),
            _ => None,
        })
        .collect();
    ids.sort();
    ids.dedup();
    let mut included = Vec::with_capacity(ids.len());
    for id in ids {
        let lookup = id.clone();
        let row = state
            .store
            .run(move |conn| renhice_store::resources::read(conn, "Organization", &lookup))
            .await?;
        if let Some(body) = row.filter(|r| !r.deleted).and_then(|r| r.body) {
            included.push(entry(base, "Organization", &id, &body, "include")?);
        }
    }
    Ok(included)
}

/// A `date` search value (`ge2026-03-01`, …) as the closed range of microseconds it
/// admits: `(since, until)`, either open.
pub(super) fn date_bounds(name: &str, raw: &str) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let Match::Date {
        comparator,
        low,
        high,
    } = parse_value(Kind::Date, name, raw)?
    else {
        return Err(invalid(name, format!("{name} {raw:?} is not a date")));
    };
    Ok(match comparator {
        DateComparator::Eq => (Some(low), Some(high)),
        DateComparator::Ge => (Some(low), None),
        DateComparator::Gt => (Some(high.saturating_add(1)), None),
        DateComparator::Le => (None, Some(high)),
        DateComparator::Lt => (None, Some(low.saturating_sub(1))),
    })
}
