//! `Patient/$record-locations`: where a patient's history lives.
//!
//! `GET /fhir/Patient/{id}/$record-locations` or `GET /fhir/Patient/$record-locations?identifier=…`
//! (`system|value`, a bare value, or `identifier:of-type=…`). The answer is a `Parameters`
//! with one `location` per IPRESS holding current index entries of the patient — and of
//! every record merged into the patient — whose parts are `organization` (a reference with
//! the RENIPRESS identifier and the name as display), `renipress`, `name`, `count`,
//! `first` and `last` (the earliest and latest `DocumentReference.date`), one `type` per
//! document type and one `endpoint` per endpoint of the IPRESS. IPRESS are ordered by
//! their latest entry, newest first. The operation is defined in
//! `profiles/renhice/OperationDefinition-record-locations.json`.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use renhice_model::Primitive;
use renhice_model::peru::{Renipress, url};
use renhice_model::resources::{
    Parameters, ParametersParameter, ParametersParameterValue, Resource,
};
use renhice_model::types::{Coding, Reference};
use renhice_model::values::DateTime;
use renhice_store::resources as stored;
use renhice_store::search::{self as store_search, Criterion, Cursor, Match, Order};

use super::rules;
use crate::{ApiError, AppState};

/// The canonical URL of the operation's definition.
pub(crate) const DEFINITION: &str = "http://renhice.org/fhir/OperationDefinition/record-locations";

/// Entries read per page while aggregating.
const PAGE: usize = 500;

#[derive(Default)]
struct Location {
    count: i32,
    first: Option<String>,
    last: Option<String>,
    types: Vec<Coding>,
}

fn invalid(path: &str, message: String) -> ApiError {
    ApiError::Invalid {
        path: path.to_owned(),
        message,
    }
}

fn part(name: &str, value: ParametersParameterValue) -> ParametersParameter {
    ParametersParameter {
        name: Some(name.into()),
        value: Some(value),
        ..ParametersParameter::default()
    }
}

/// The patient an identifier names (one, or a 404/412).
async fn by_identifier(state: &AppState, req: &HttpRequest) -> Result<String, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|e| invalid("query", format!("the query string is malformed: {e}")))?
        .into_inner();
    let [(name, raw)] = pairs.as_slice() else {
        return Err(invalid(
            "query",
            "$record-locations takes one identifier=[system|]value or identifier:of-type=type-system|type-code|value, or runs on a Patient instance".to_owned(),
        ));
    };
    let (param, system, value) = match name.as_str() {
        "identifier" => match raw.split_once('|') {
            Some((s, v)) => (
                "identifier",
                Some(s.to_owned()).filter(|s| !s.is_empty()),
                v.to_owned(),
            ),
            None => ("identifier", None, raw.clone()),
        },
        "identifier:of-type" => {
            let mut parts = raw.splitn(3, '|');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(ts), Some(tc), Some(v))
                    if !ts.is_empty() && !tc.is_empty() && !v.is_empty() =>
                {
                    (
                        rules::OF_TYPE_PARAM,
                        Some(format!("{ts}|{tc}")),
                        rules::normalise_of_type_value(ts, v),
                    )
                }
                _ => {
                    return Err(invalid(
                        name,
                        format!("{name} is type-system|type-code|value, got {raw:?}"),
                    ));
                }
            }
        }
        other => {
            return Err(invalid(
                other,
                format!("{other:?} is not a parameter of $record-locations"),
            ));
        }
    };
    let ids = state
        .store
        .run(move |conn| stored::find_by_token(conn, "Patient", param, system.as_deref(), &value))
        .await?;
    match ids.as_slice() {
        [] => Err(ApiError::ResourceNotFound {
            resource_type: "Patient".to_owned(),
            id: format!("with {name} {raw}"),
        }),
        [id] => Ok(id.clone()),
        several => survivor_among(state, several, name, raw).await,
    }
}

/// Among several patients carrying an identifier, the one the others were merged into.
async fn survivor_among(
    state: &AppState,
    several: &[String],
    name: &str,
    raw: &str,
) -> Result<String, ApiError> {
    // A merged record and its survivor carry the same documents: pick the survivor.
    let mut survivors = Vec::new();
    let targets: Vec<Match> = several
        .iter()
        .map(|t| Match::Reference {
            target_type: "Patient".to_owned(),
            target_id: t.clone(),
        })
        .collect();
    for id in several {
        let lookup = id.clone();
        let values = targets.clone();
        let merged = state
            .store
            .run(move |conn| {
                store_search::search(
                    conn,
                    "Patient",
                    &[
                        Criterion {
                            param: "_id".to_owned(),
                            values: vec![Match::Token {
                                system: None,
                                code: lookup,
                            }],
                        },
                        Criterion {
                            param: "replaced-by".to_owned(),
                            values,
                        },
                    ],
                    Order::Key,
                    Cursor::Start,
                    1,
                )
            })
            .await?;
        if merged.rows.is_empty() {
            survivors.push(id.clone());
        }
    }
    match survivors.as_slice() {
        [id] => Ok(id.clone()),
        _ => Err(ApiError::PreconditionFailed(format!(
            "{name} {raw} names {} patients ({}); give the identifier's system",
            several.len(),
            several.join(", ")
        ))),
    }
}

pub(super) async fn for_identifier(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = by_identifier(&state, &req).await?;
    answer(&state, id).await
}

pub(super) async fn for_instance(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !req.query_string().is_empty() {
        return Err(invalid(
            "query",
            "$record-locations on an instance takes no parameters".to_owned(),
        ));
    }
    let id = path.into_inner();
    let lookup = id.clone();
    let row = state
        .store
        .run(move |conn| stored::read(conn, "Patient", &lookup))
        .await?;
    super::found("Patient", &id, row)?;
    answer(&state, id).await
}

/// The patient and every record merged into it, directly or in a chain.
async fn family_of(state: &AppState, id: String) -> Result<Vec<String>, ApiError> {
    let mut all = vec![id];
    let mut frontier = all.clone();
    while !frontier.is_empty() && all.len() < 64 {
        let values = frontier
            .iter()
            .map(|t| Match::Reference {
                target_type: "Patient".to_owned(),
                target_id: t.clone(),
            })
            .collect();
        let page = state
            .store
            .run(move |conn| {
                store_search::search(
                    conn,
                    "Patient",
                    &[Criterion {
                        param: "replaced-by".to_owned(),
                        values,
                    }],
                    Order::Key,
                    Cursor::Start,
                    64,
                )
            })
            .await?;
        frontier = page
            .rows
            .into_iter()
            .map(|(_, id, ..)| id)
            .filter(|id| !all.contains(id))
            .collect();
        all.extend(frontier.iter().cloned());
    }
    Ok(all)
}

/// A page of the patient's current index entries, in key order.
async fn current_page(
    state: &AppState,
    criteria: Vec<Criterion>,
    after: Cursor,
) -> Result<store_search::Page, ApiError> {
    Ok(state
        .store
        .run(move |conn| {
            store_search::search(
                conn,
                "DocumentReference",
                &criteria,
                Order::Key,
                after,
                PAGE,
            )
        })
        .await?)
}

async fn answer(state: &AppState, patient: String) -> Result<HttpResponse, ApiError> {
    let patients = family_of(state, patient).await?;
    let criteria = vec![
        Criterion {
            param: "patient".to_owned(),
            values: patients
                .iter()
                .map(|p| Match::Reference {
                    target_type: "Patient".to_owned(),
                    target_id: p.clone(),
                })
                .collect(),
        },
        Criterion {
            param: "status".to_owned(),
            values: vec![Match::Token {
                system: None,
                code: "current".to_owned(),
            }],
        },
    ];
    let mut by_ipress: BTreeMap<String, Location> = BTreeMap::new();
    let mut after = Cursor::Start;
    loop {
        let page = current_page(state, criteria.clone(), after).await?;
        for (key, id, _, _, body) in &page.rows {
            after = Cursor::Key(*key);
            let Ok(Resource::DocumentReference(d)) = Resource::from_json(body.as_bytes()) else {
                return Err(ApiError::Internal(format!(
                    "stored DocumentReference/{id} is not one"
                )));
            };
            let Some(custodian) = d
                .custodian
                .as_deref()
                .and_then(|c| c.reference_str())
                .and_then(|r| r.strip_prefix("Organization/"))
            else {
                continue;
            };
            let location = by_ipress.entry(custodian.to_owned()).or_default();
            location.count += 1;
            if let Some(date) = d.date.as_ref().and_then(Primitive::value) {
                let text = date.as_str().to_owned();
                // RFC 3339 instants in one offset compare as text only when normalised:
                // compare the instants themselves.
                let micros = instant_micros(&text);
                if location
                    .first
                    .as_deref()
                    .map(instant_micros)
                    .is_none_or(|f| micros < f)
                {
                    location.first = Some(text.clone());
                }
                if location
                    .last
                    .as_deref()
                    .map(instant_micros)
                    .is_none_or(|l| micros > l)
                {
                    location.last = Some(text);
                }
            }
            for coding in d.r#type.iter().flat_map(|t| &t.coding) {
                if !location
                    .types
                    .iter()
                    .any(|c| c.system == coding.system && c.code == coding.code)
                {
                    location.types.push(coding.clone());
                }
            }
        }
        if !page.more {
            break;
        }
    }
    let mut ordered: Vec<(String, Location)> = by_ipress.into_iter().collect();
    ordered.sort_by_key(|(_, l)| {
        std::cmp::Reverse(l.last.as_deref().map_or(i64::MIN, instant_micros))
    });
    let mut parameter = Vec::with_capacity(ordered.len());
    for (org_id, location) in ordered {
        parameter.push(location_parameter(state, org_id, location).await?);
    }
    Ok(super::ok(&Resource::Parameters(Box::new(Parameters {
        parameter,
        ..Parameters::default()
    }))))
}

fn instant_micros(text: &str) -> i64 {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| i64::try_from(t.unix_timestamp_nanos() / 1000).ok())
        .unwrap_or(i64::MIN)
}

async fn location_parameter(
    state: &AppState,
    org_id: String,
    location: Location,
) -> Result<ParametersParameter, ApiError> {
    let lookup = org_id.clone();
    let row = state
        .store
        .run(move |conn| stored::read(conn, "Organization", &lookup))
        .await?;
    let organization = match row
        .and_then(|r| r.body)
        .map(|b| Resource::from_json(b.as_bytes()))
    {
        Some(Ok(Resource::Organization(o))) => Some(o),
        _ => None,
    };
    let name = organization
        .as_ref()
        .and_then(|o| o.name.as_ref())
        .and_then(Primitive::as_str)
        .map(str::to_owned);
    let renipress = organization.as_ref().and_then(|o| {
        o.identifier.iter().find(|i| {
            i.r#type.as_deref().is_some_and(|t| {
                t.coding
                    .iter()
                    .any(|c| c.system.as_ref().and_then(Primitive::as_str) == Some(url::CS_IPRESS))
            })
        })
    });
    let mut reference = Reference::to("Organization", &org_id);
    if let Some(name) = &name {
        reference = reference.with_display(name);
    }
    if let Some(identifier) = renipress {
        reference.identifier = Some(Box::new(identifier.clone()));
    }
    let mut parts = vec![part(
        "organization",
        ParametersParameterValue::Reference(Box::new(reference)),
    )];
    if let Some(code) = renipress
        .and_then(|i| i.value_str())
        .and_then(|v| Renipress::parse(v).ok())
    {
        parts.push(part(
            "renipress",
            ParametersParameterValue::Identifier(Box::new(code.to_identifier())),
        ));
    }
    if let Some(name) = name {
        parts.push(part("name", ParametersParameterValue::String(name.into())));
    }
    parts.push(part(
        "count",
        ParametersParameterValue::Integer(location.count.into()),
    ));
    for (label, value) in [("first", location.first), ("last", location.last)] {
        if let Some(text) = value
            && let Ok(date) = DateTime::parse(text)
        {
            parts.push(part(
                label,
                ParametersParameterValue::DateTime(Primitive::new(date)),
            ));
        }
    }
    for coding in location.types {
        parts.push(part(
            "type",
            ParametersParameterValue::Coding(Box::new(coding)),
        ));
    }
    for endpoint in organization.iter().flat_map(|o| o.endpoint.iter()) {
        parts.push(part(
            "endpoint",
            ParametersParameterValue::Reference(Box::new(endpoint.clone())),
        ));
    }
    Ok(ParametersParameter {
        name: Some("location".into()),
        part: parts,
        ..ParametersParameter::default()
    })
}
