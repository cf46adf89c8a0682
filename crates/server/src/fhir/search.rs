//! `GET /fhir/{type}?…`: search (PDQm ITI-78 for Patient, MHD ITI-66/67, PCF ITI-108).
//!
//! The parameters of each type are the table of [`renhice_registry::params`] (listed in
//! `docs/search-parameters.md`), read by [`renhice_registry::query::parse`]. Here a
//! parsed search is narrowed to what the caller may see and run against the store.
//! `POST /fhir/{type}/_search` with a form body searches the same way. An unknown
//! parameter is a 400 unless the client sends `Prefer: handling=lenient`, in which case
//! it is ignored and left out of the `self` link (FHIR R4 §3.1.1.1.5).

use actix_web::{HttpRequest, HttpResponse, web};
use renhice_model::Primitive;
use renhice_model::resources::{Bundle, BundleEntry, BundleEntrySearch, BundleLink, Resource};
use renhice_registry::ResourceType;
use renhice_registry::params::PARTY;
use renhice_registry::query::{self, SearchRequest, cursor_text};
use renhice_store::search::{self as store_search, Criterion, Cursor, Match};

use super::rest::{base_url, served};
use crate::auth::access::{Caller, Reading, Scope, forbidden};
use crate::auth::token::Role;
use crate::{ApiError, AppState};

fn invalid(name: &str, message: String) -> ApiError {
    ApiError::Invalid {
        path: name.to_owned(),
        message,
    }
}

fn lenient(req: &HttpRequest) -> bool {
    req.headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("handling=lenient"))
}

fn parse_request(
    req: &HttpRequest,
    query: &str,
    resource_type: ResourceType,
) -> Result<SearchRequest, ApiError> {
    let pairs = super::rest::query_pairs(query)?;
    Ok(query::parse(resource_type, &pairs, lenient(req))?)
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
        narrow: true,
    })
}

pub(crate) async fn search(
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
pub(crate) async fn search_post(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    if !super::rest::is_form(&req) && !body.is_empty() {
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
                    narrow: true,
                }
            } else {
                Criterion::references("patient", "Patient", family)
            }))
        }
        Role::System | Role::Clinician if resource_type == "Patient" => Ok(None),
        Role::System | Role::Clinician if resource_type == "Consent" => Ok(Some(
            Criterion::references(PARTY, "Organization", [caller.ipress(state).await?]),
        )),
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

/// The patients a search's `patient` criteria name.
fn searched_patients(criteria: &[Criterion]) -> Vec<String> {
    criteria
        .iter()
        .filter(|c| c.param == "patient")
        .flat_map(|c| &c.values)
        .filter_map(|m| match m {
            Match::Reference { target_id, .. } => Some(target_id.clone()),
            _ => None,
        })
        .collect()
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
    let patients = searched_patients(criteria);
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
            narrow: false,
        }),
        // A SubmissionSet carries no label of its own: under a consent it is seen
        // whoever holds it; the entries it lists are still read by the rules above.
        _ => None,
    })
}

/// The `self` link of a page of a search, and its `next` link when there is one.
fn links(
    base: &str,
    resource_type: &str,
    kept: &[(String, String)],
    count: usize,
    after: Cursor,
    next: Option<Cursor>,
) -> Vec<BundleLink> {
    let query = |cursor: Cursor| {
        let mut q: Vec<(String, String)> = kept.to_vec();
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
    if let Some(next) = next {
        link.push(BundleLink {
            relation: Some("next".into()),
            url: Some(query(next).into()),
            ..BundleLink::default()
        });
    }
    link
}

async fn run(
    req: &HttpRequest,
    resource_type: &str,
    query: &str,
    state: &AppState,
    caller: &Caller,
) -> Result<HttpResponse, ApiError> {
    let resource_type = served(resource_type)?;
    let searched = resource_type
        .parse::<ResourceType>()
        .ok()
        .filter(|t| renhice_registry::params::searchable().contains(t));
    let Some(searched) = searched else {
        return Err(ApiError::NotOffered {
            message: format!("searching {resource_type} is not offered; read entries by id"),
            allow: "",
        });
    };
    let SearchRequest {
        patient_identifiers,
        mut criteria,
        kept,
        count,
        order,
        after,
        include_custodian,
        total,
        count_only,
    } = parse_request(req, query, searched)?;
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
    let applied = narrowing.clone();
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
    let page = if count_only {
        store_search::Page::default()
    } else {
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
    // An ITI-67 search that left out other IPRESS's entries says so on its first page.
    if resource_type == "DocumentReference" && matches!(after, Cursor::Start) {
        let left_out = withheld(state, caller, &criteria, applied.as_ref()).await?;
        if left_out > 0 {
            entries.push(BundleEntry {
                resource: Some(renhice_registry::locations::withheld_outcome(left_out)),
                search: Some(Box::new(BundleEntrySearch {
                    mode: Some("outcome".into()),
                    ..BundleEntrySearch::default()
                })),
                ..BundleEntry::default()
            });
        }
    }
    let link = links(&base, resource_type, &kept, count, after, page.next);
    let bundle = Bundle {
        r#type: Some("searchset".into()),
        total: total.map(Primitive::new),
        link,
        entry: entries,
        ..Bundle::default()
    };
    Ok(super::rest::ok(&Resource::Bundle(Box::new(bundle))))
}

fn entry(
    base: &str,
    resource_type: &str,
    id: &str,
    body: &str,
    mode: &'static str,
) -> Result<BundleEntry, ApiError> {
    let resource = super::rest::stored(body)
        .map_err(|e| ApiError::caused(format!("stored {resource_type}/{id} does not parse"), e))?;
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

/// How many IPRESS hold current entries of the searched patients that the search left
/// out for the caller's access (none for a patient, who sees all their own).
///
/// `applied` is the access criterion the search was narrowed by ([`entries_criterion`]):
/// over several patients the narrowest of their scopes applies to all, so an IPRESS is
/// counted when that criterion, not the patient's own scope, leaves its entries out.
async fn withheld(
    state: &AppState,
    caller: &Caller,
    criteria: &[Criterion],
    applied: Option<&Criterion>,
) -> Result<usize, ApiError> {
    if !matches!(caller.role(), Role::System | Role::Clinician) {
        return Ok(0);
    }
    let scope = match applied.and_then(|c| c.values.first()) {
        Some(Match::Reference { target_id, .. }) => Scope::Custodian(target_id.clone()),
        Some(Match::HeldOrUnlabelled(own)) => Scope::Consented {
            own: own.clone(),
            sensitive: false,
            consent: String::new(),
        },
        _ => return Ok(0),
    };
    let patients = searched_patients(criteria);
    Ok(state
        .store
        .run(move |conn| {
            let mut custodians = std::collections::BTreeSet::new();
            for patient in &patients {
                for (group, _) in renhice_store::records::locations(conn, patient)? {
                    if !scope.covers(&group.custodian_id, group.sensitive) {
                        custodians.insert(group.custodian_id);
                    }
                }
            }
            Ok::<_, renhice_store::StoreError>(custodians.len())
        })
        .await?)
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
