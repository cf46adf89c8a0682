//! `GET /fhir/{type}?…`: search (PDQm ITI-78 for Patient).
//!
//! | type | parameters |
//! | --- | --- |
//! | Patient | `_id`, `identifier`, `identifier:of-type`, `family` (either surname), `given`, `birthdate` (`eq`, `ge`, `le`, `gt`, `lt`), `gender` |
//! | Organization | `_id`, `identifier`, `identifier:of-type` |
//! | DocumentReference (MHD ITI-67) | `patient` or `patient.identifier` and `status` (both required), `_id`, `identifier`, `date`, `type`, `category`, `custodian`, `security-label` |
//!
//! Strings match case- and accent-insensitively by prefix. Commas separate alternatives.
//! `_count` (default 20, at most 200) sizes a page; the `next` link carries a `_cursor`
//! (the last key returned), so pages do not shift when resources are added. An unknown
//! parameter is a 400 unless the client sends `Prefer: handling=lenient`, in which case
//! it is ignored and left out of the `self` link (FHIR R4 §3.1.1.1.5).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use renhice_model::resources::{Bundle, BundleEntry, BundleEntrySearch, BundleLink, Resource};
use renhice_model::values::Date;
use renhice_store::search::{self as store_search, Criterion, DateComparator, Match};

use super::{base_url, rules, served};
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
pub(crate) const SEARCHABLE: [&str; 3] = ["DocumentReference", "Organization", "Patient"];

fn parameter(resource_type: &str, name: &str) -> Option<Kind> {
    match (resource_type, name) {
        (_, "_id" | "identifier")
        | ("Patient", "gender")
        | ("DocumentReference", "status" | "type" | "category" | "security-label") => {
            Some(Kind::Token)
        }
        ("Patient" | "Organization", "identifier:of-type") => Some(Kind::OfType),
        ("Patient", "family" | "given") => Some(Kind::String),
        ("Patient", "birthdate") | ("DocumentReference", "date") => Some(Kind::Date),
        ("DocumentReference", "patient" | "subject") => Some(Kind::Reference("Patient")),
        ("DocumentReference", "custodian") => Some(Kind::Reference("Organization")),
        ("DocumentReference", "patient.identifier") => Some(Kind::PatientIdentifier),
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
    after: i64,
}

fn parse_request(req: &HttpRequest, resource_type: &str) -> Result<Request, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|e| invalid("query", format!("the query string is malformed: {e}")))?
        .into_inner();
    let mut criteria = Vec::new();
    let mut patient_identifiers = Vec::new();
    let mut kept: Vec<(String, String)> = Vec::new();
    let mut count = DEFAULT_COUNT;
    let mut after = 0_i64;
    for (name, raw) in &pairs {
        match name.as_str() {
            "_count" => {
                count = raw
                    .parse::<usize>()
                    .map_err(|_| invalid("_count", format!("_count {raw:?} is not a number")))?
                    .min(MAX_COUNT);
            }
            "_cursor" => {
                after = raw.parse().map_err(|_| {
                    invalid(
                        "_cursor",
                        format!("_cursor {raw:?} is not a page cursor from a next link"),
                    )
                })?;
            }
            "_format" => {}
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
                if kind == Kind::PatientIdentifier {
                    patient_identifiers.extend(values);
                    kept.push((name.clone(), raw.clone()));
                    continue;
                }
                let param = match (kind, name.as_str()) {
                    (Kind::OfType, _) => rules::OF_TYPE_PARAM.to_owned(),
                    // `subject` and `patient` are one index for DocumentReference.
                    (Kind::Reference("Patient"), _) => "patient".to_owned(),
                    _ => name.clone(),
                };
                criteria.push(Criterion { param, values });
                kept.push((name.clone(), raw.clone()));
            }
        }
    }
    if resource_type == "DocumentReference" {
        let has = |p: &str| kept.iter().any(|(n, _)| n == p);
        if !(has("patient") || has("subject") || has("patient.identifier")) || !has("status") {
            return Err(invalid(
                "query",
                "an MHD document search (ITI-67) names the patient (patient or patient.identifier) and the status".to_owned(),
            ));
        }
    }
    Ok(Request {
        patient_identifiers,
        criteria,
        kept,
        count,
        after,
    })
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
) -> Result<HttpResponse, ApiError> {
    let resource_type = served(&path)?;
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
        after,
    } = parse_request(&req, resource_type)?;
    if !patient_identifiers.is_empty() {
        criteria.push(patients_with(&state, patient_identifiers).await?);
    }
    let page = state
        .store
        .run(move |conn| store_search::search(conn, resource_type, &criteria, after, count))
        .await?;
    let base = base_url(&req);
    let entries = page
        .rows
        .iter()
        .map(|(_, id, _, _, body)| {
            let resource = Resource::from_json(body.as_bytes())
                .map_err(|e| ApiError::Internal(format!("stored {resource_type}/{id}: {e}")))?;
            Ok(BundleEntry {
                full_url: Some(format!("{base}/{resource_type}/{id}").into()),
                resource: Some(resource),
                search: Some(Box::new(BundleEntrySearch {
                    mode: Some("match".into()),
                    ..BundleEntrySearch::default()
                })),
                ..BundleEntry::default()
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let query = |extra: Option<i64>| {
        let mut q: Vec<(String, String)> = kept.clone();
        q.push(("_count".to_owned(), count.to_string()));
        if let Some(cursor) = extra {
            q.push(("_cursor".to_owned(), cursor.to_string()));
        }
        let encoded = serde_urlencoded::to_string(&q).unwrap_or_default();
        format!("{base}/{resource_type}?{encoded}")
    };
    let mut link = vec![BundleLink {
        relation: Some("self".into()),
        url: Some(query((after > 0).then_some(after)).into()),
        ..BundleLink::default()
    }];
    if page.more
        && let Some((last, ..)) = page.rows.last()
    {
        link.push(BundleLink {
            relation: Some("next".into()),
            url: Some(query(Some(*last)).into()),
            ..BundleLink::default()
        });
    }
    let bundle = Bundle {
        r#type: Some("searchset".into()),
        link,
        entry: entries,
        ..Bundle::default()
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, renhice_model::FHIR_JSON_MIME))
        .body(Resource::Bundle(Box::new(bundle)).to_json()))
}
