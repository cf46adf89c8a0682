//! `GET /fhir/AuditEvent` (IHE `RESTful` ATNA `ITI-81`): the audit trail, for auditors, and
//! for each patient the events about their own records ("who looked at my records").
//!
//! Parameters: `patient` (an id or `Patient/id`, commas for several), `date` (`eq`,
//! `ge`, `le`, `gt`, `lt` on `recorded`), `ipress` (the caller's IPRESS, by RENIPRESS
//! code), `action` (`C`, `R`, `U`, `D`, `E`), `outcome` (`0`, `4`, `8`), `agent-name`
//! (a word of who acted: the person's name or the SIHCE client's id), `_count`
//! (default 50, at most 500) and the `_cursor` of a `next` link. Newest first. An auditor searches every event; a patient
//! only those about their records (asking for another patient's finds nothing), and
//! without the requests' query text, which can name other people.

use actix_web::{HttpRequest, HttpResponse, web};
use renhice_model::Primitive;
use renhice_model::resources::{
    Bundle, BundleEntry, BundleEntrySearch, BundleLink, Parameters, ParametersParameter,
    ParametersParameterValue, Resource,
};
use renhice_store::audit::{self as stored, AuditRow};

use super::rest::base_url;
use crate::auth::access::{Caller, forbidden};
use crate::auth::token::Role;
use crate::{ApiError, AppState};

const DEFAULT_COUNT: usize = 50;
const MAX_COUNT: usize = 500;

fn invalid(name: &str, message: String) -> ApiError {
    ApiError::Invalid {
        path: name.to_owned(),
        message,
    }
}

/// Which patients' events the caller may read (`None`: all), or a refusal.
async fn readable(state: &AppState, caller: &Caller) -> Result<Option<Vec<String>>, ApiError> {
    match caller.role() {
        Role::Auditor => Ok(None),
        Role::Patient => Ok(Some(caller.own_family(state).await?)),
        other => Err(forbidden(
            "role",
            format!("a {other} token does not read the audit trail; that is for: auditor, patient"),
        )),
    }
}

/// An event as a patient may read it: without the requests' query text, which can
/// quote other people (a SIHCE's `Patient?identifier=A,B` is one event for each of A and
/// B). Who, when, what and why stay; the hash chain covers the stored event, which
/// auditors read whole.
fn for_patient(body: &str, own: &[String]) -> String {
    let Ok(mut event) = serde_json::from_str::<serde_json::Value>(body) else {
        return body.to_owned();
    };
    if let Some(entities) = event
        .get_mut("entity")
        .and_then(serde_json::Value::as_array_mut)
    {
        // The search itself (BALP's query entity: its text in `query` and `description`),
        // and any other patient the request was about.
        entities.retain(|e| {
            let other_patient = e["what"]["reference"]
                .as_str()
                .and_then(|r| r.strip_prefix("Patient/"))
                .is_some_and(|id| !own.iter().any(|o| o == id));
            e.get("query").is_none() && !other_patient
        });
        if entities.is_empty() {
            event.as_object_mut().map(|o| o.remove("entity"));
        }
    }
    event.to_string()
}

fn to_entry(base: &str, row: &AuditRow, own: Option<&[String]>) -> Result<BundleEntry, ApiError> {
    let body = match own {
        Some(own) => for_patient(&row.body, own),
        None => row.body.clone(),
    };
    let resource = super::rest::stored(&body)
        .map_err(|e| ApiError::caused(format!("stored AuditEvent/{} does not parse", row.id), e))?;
    Ok(BundleEntry {
        full_url: Some(format!("{base}/AuditEvent/{}", row.id).into()),
        resource: Some(resource),
        search: Some(Box::new(BundleEntrySearch {
            mode: Some("match".into()),
            ..BundleEntrySearch::default()
        })),
        ..BundleEntry::default()
    })
}

/// A parsed `GET /fhir/AuditEvent` query.
struct Query {
    patients: Option<Vec<String>>,
    ipress: Option<Vec<String>>,
    actions: Option<Vec<String>>,
    outcomes: Option<Vec<String>>,
    agent_names: Option<Vec<String>>,
    since: Option<i64>,
    until: Option<i64>,
    before: Option<i64>,
    count: usize,
    /// The parameters applied, for the links.
    kept: Vec<(String, String)>,
}

/// The values of an `agent-name` search: each (comma: any of them) is found at the start
/// of a word of the agent's name, accents and case aside.
fn names_of(raw: &str) -> Result<Vec<String>, ApiError> {
    let names: Vec<String> = raw
        .split(',')
        .map(renhice_registry::text::normalise_text)
        .filter(|v| !v.is_empty())
        .collect();
    if names.is_empty() {
        return Err(invalid("agent-name", "agent-name needs a name".to_owned()));
    }
    Ok(names)
}

/// The codes of a token search on `ipress`, `action` or `outcome`: `[system|]code`,
/// commas for several; a system other than the parameter's own can match nothing.
fn codes_of(name: &str, raw: &str) -> Result<Vec<String>, ApiError> {
    if raw.is_empty() {
        return Err(invalid(name, format!("{name} needs a code")));
    }
    let system = match name {
        "ipress" => renhice_model::peru::url::CS_IPRESS,
        "action" => "http://hl7.org/fhir/audit-event-action",
        _ => "http://hl7.org/fhir/audit-event-outcome",
    };
    Ok(raw
        .split(',')
        .map(|v| match v.split_once('|') {
            Some(("", code)) => code.to_owned(),
            Some((s, code)) if s == system => code.to_owned(),
            Some(_) => String::new(),
            None => v.to_owned(),
        })
        .collect())
}

fn parse_query(query: &str) -> Result<Query, ApiError> {
    let pairs = super::rest::query_pairs(query)?;
    let mut asked: Option<Vec<String>> = None;
    let mut ipress: Option<Vec<String>> = None;
    let mut actions: Option<Vec<String>> = None;
    let mut outcomes: Option<Vec<String>> = None;
    let mut agent_names: Option<Vec<String>> = None;
    let (mut since, mut until, mut before) = (None, None, None);
    let mut count = DEFAULT_COUNT;
    let mut kept = Vec::new();
    for (name, raw) in pairs {
        renhice_registry::text::checked_value(&name, &raw)?;
        match name.as_str() {
            "patient" => {
                let ids = raw
                    .split(',')
                    .map(|v| v.strip_prefix("Patient/").unwrap_or(v).to_owned())
                    .filter(|v| !v.is_empty())
                    .collect::<Vec<_>>();
                if ids.is_empty() {
                    return Err(invalid("patient", "patient needs an id".to_owned()));
                }
                asked.get_or_insert_with(Vec::new).extend(ids);
            }
            "ipress" | "action" | "outcome" => {
                let codes = codes_of(&name, &raw)?;
                let slot = match name.as_str() {
                    "ipress" => &mut ipress,
                    "action" => &mut actions,
                    _ => &mut outcomes,
                };
                slot.get_or_insert_with(Vec::new).extend(codes);
            }
            "agent-name" => {
                if agent_names.is_some() {
                    // Two occurrences would each narrow the search (AND); one list of
                    // words in one value says the same, and is what the store searches.
                    return Err(invalid(
                        "agent-name",
                        "agent-name is given once (its values separated by commas: any of them)"
                            .to_owned(),
                    ));
                }
                agent_names = Some(names_of(&raw)?);
            }
            "date" => {
                let (s, u) = renhice_registry::dates::bounds("date", &raw)?;
                since = since.max(s);
                until = match (until, u) {
                    (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
                    (a, b) => a.or(b),
                };
            }
            "_count" => {
                count = raw
                    .parse::<usize>()
                    .map_err(|_| invalid("_count", format!("_count {raw:?} is not a number")))?
                    .clamp(1, MAX_COUNT);
                continue;
            }
            "_cursor" => {
                before = Some(raw.parse::<i64>().map_err(|_| {
                    invalid(
                        "_cursor",
                        format!("_cursor {raw:?} is not from a next link of this search"),
                    )
                })?);
                continue;
            }
            "_format" => continue,
            other => {
                return Err(invalid(
                    other,
                    format!(
                        "{other:?} is not a search parameter of AuditEvent here; use patient, date, ipress, action, outcome, agent-name, _count"
                    ),
                ));
            }
        }
        kept.push((name, raw));
    }
    Ok(Query {
        patients: asked,
        ipress,
        actions,
        outcomes,
        agent_names,
        since,
        until,
        before,
        count,
        kept,
    })
}

/// `GET /fhir/AuditEvent`.
pub(crate) async fn search(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let allowed = readable(&state, &caller).await?;
    let Query {
        patients: asked,
        ipress,
        actions,
        outcomes,
        agent_names,
        since,
        until,
        before,
        count,
        kept,
    } = parse_query(req.query_string())?;
    for patient in asked.iter().flatten() {
        caller.audit().patient(patient);
    }
    // A patient sees only events about their own records, whatever they asked.
    let own = allowed.clone();
    let patients = match (allowed, asked) {
        (None, asked) => asked,
        (Some(own), None) => Some(own),
        (Some(own), Some(asked)) => Some(asked.into_iter().filter(|p| own.contains(p)).collect()),
    };
    let filter = stored::AuditFilter {
        patients,
        ipress,
        actions,
        outcomes,
        agent_names,
        since,
        until,
    };
    let page = state
        .store
        .run(move |conn| stored::search(conn, &filter, before, count))
        .await?;
    let base = base_url(&req);
    let entries = page
        .rows
        .iter()
        .map(|row| to_entry(&base, row, own.as_deref()))
        .collect::<Result<Vec<_>, _>>()?;
    let link_to = |cursor: Option<i64>| {
        let mut q = kept.clone();
        q.push(("_count".to_owned(), count.to_string()));
        if let Some(c) = cursor {
            q.push(("_cursor".to_owned(), c.to_string()));
        }
        format!(
            "{base}/AuditEvent?{}",
            serde_urlencoded::to_string(&q).unwrap_or_default()
        )
    };
    let mut link = vec![BundleLink {
        relation: Some("self".into()),
        url: Some(link_to(before).into()),
        ..BundleLink::default()
    }];
    if let Some(next) = page.next {
        link.push(BundleLink {
            relation: Some("next".into()),
            url: Some(link_to(Some(next)).into()),
            ..BundleLink::default()
        });
    }
    let bundle = Bundle {
        r#type: Some("searchset".into()),
        link,
        entry: entries,
        total: None::<Primitive<u32>>,
        ..Bundle::default()
    };
    Ok(super::rest::ok(&Resource::Bundle(Box::new(bundle))))
}

/// `GET /fhir/AuditEvent/{id}`.
pub(crate) async fn read(
    path: web::Path<String>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let allowed = readable(&state, &caller).await?;
    let id = path.into_inner();
    caller.audit().entity("AuditEvent", &id);
    let lookup = id.clone();
    let row = state
        .store
        .run(move |conn| stored::read(conn, &lookup))
        .await?
        .ok_or_else(|| ApiError::ResourceNotFound {
            resource_type: "AuditEvent".to_owned(),
            id: id.clone(),
        })?;
    if let Some(patient) = &row.patient_id {
        caller.audit().patient(patient);
    }
    if let Some(own) = &allowed {
        let mine = row.patient_id.as_ref().is_some_and(|p| own.contains(p));
        if !mine {
            return Err(forbidden(
                "patient-own-records",
                "a patient reads only the audit events about their own records".to_owned(),
            ));
        }
    }
    let body = match &allowed {
        Some(own) => for_patient(&row.body, own),
        None => row.body,
    };
    Ok(HttpResponse::Ok()
        .insert_header((
            actix_web::http::header::CONTENT_TYPE,
            renhice_model::FHIR_JSON_MIME,
        ))
        .body(body))
}

/// The canonical URL of `$verify-chain`'s definition.
pub(crate) const VERIFY_CHAIN: &str = "http://renhice.org/fhir/OperationDefinition/verify-chain";

/// `GET /fhir/AuditEvent/$verify-chain`: the hash chain recomputed, for auditors and
/// administrators (what `renhice audit verify` reports, as a `Parameters`).
pub(crate) async fn verify_chain(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Auditor, Role::Admin], "verify the audit trail")?;
    let report = state.store.run(stored::verify).await?;
    let head = report.head.1.iter().fold(String::new(), |mut hex, b| {
        use std::fmt::Write;
        let _ = write!(hex, "{b:02x}");
        hex
    });
    let valid = report.problems.is_empty();
    let message = if valid {
        format!(
            "the audit trail is intact: {} events sealed, {} waiting to be sealed",
            report.links, report.pending
        )
    } else {
        format!("the audit trail has {} problem(s)", report.problems.len())
    };
    let mut parameter = vec![
        param(
            "valid",
            ParametersParameterValue::Boolean(Primitive::new(valid)),
        ),
        param(
            "events",
            ParametersParameterValue::Integer(
                i32::try_from(report.links).unwrap_or(i32::MAX).into(),
            ),
        ),
        param(
            "pending",
            ParametersParameterValue::Integer(
                i32::try_from(report.pending).unwrap_or(i32::MAX).into(),
            ),
        ),
    ];
    if report.links > 0 {
        parameter.push(param(
            "head",
            ParametersParameterValue::String(format!("{}:{head}", report.head.0).into()),
        ));
    }
    parameter.push(param(
        "message",
        ParametersParameterValue::String(message.into()),
    ));
    for problem in &report.problems {
        parameter.push(param(
            "problem",
            ParametersParameterValue::String(problem.to_string().into()),
        ));
    }
    Ok(super::rest::ok(&Resource::Parameters(Box::new(
        Parameters {
            parameter,
            ..Parameters::default()
        },
    ))))
}

fn param(name: &str, value: ParametersParameterValue) -> ParametersParameter {
    ParametersParameter {
        name: Some(name.into()),
        value: Some(value),
        ..ParametersParameter::default()
    }
}
