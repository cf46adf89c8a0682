//! `GET /fhir/Patient/$ihe-pix` (PIXm ITI-83): the identifiers the registry knows for
//! the patient one identifier names.
//!
//! `sourceIdentifier` is a token (`system|value`, or the value alone: PacientePe fixes no
//! identifier system); `targetSystem` (repeatable) keeps only identifiers of those
//! systems. The answer is a `Parameters` with a `targetIdentifier` per identifier and a
//! `targetId` reference to the patient. A patient merged into another (`active: false`,
//! `link.type = replaced-by`) answers for the surviving record. An identifier no
//! current patient carries is a 404.

use actix_web::{HttpRequest, HttpResponse, web};
use renhice_model::Primitive;
use renhice_model::resources::{
    Parameters, ParametersParameter, ParametersParameterValue, Patient, Resource,
};
use renhice_model::types::Reference;
use renhice_store::resources as stored;

use super::rest::ok;
use crate::auth::access::Caller;
use crate::auth::token::Role;
use crate::{ApiError, AppState};

fn invalid(path: &str, message: String) -> ApiError {
    ApiError::Invalid {
        path: path.to_owned(),
        message,
    }
}

/// How many `replaced-by` links are followed before giving up on a cycle.
const MAX_MERGE_HOPS: usize = 8;

/// The record that answers for `id`: itself, or the record it was merged into.
async fn resolve(state: &AppState, mut id: String) -> Result<(String, Box<Patient>), ApiError> {
    let mut patient = None;
    for _ in 0..MAX_MERGE_HOPS {
        let lookup = id.clone();
        let row = state
            .store
            .run(move |conn| stored::read(conn, "Patient", &lookup))
            .await?
            .and_then(|r| r.body);
        let Some(body) = row else { break };
        let Ok(Resource::Patient(p)) = super::rest::stored(&body) else {
            return Err(ApiError::internal(format!(
                "stored Patient/{id} is not a Patient"
            )));
        };
        let survivor = (p.active.as_ref().and_then(Primitive::value) == Some(&false))
            .then(|| {
                p.link.iter().find_map(|l| {
                    (l.r#type.as_ref().and_then(Primitive::as_str) == Some("replaced-by"))
                        .then(|| l.other.as_ref().and_then(|o| o.reference_str()))
                        .flatten()
                        .and_then(|r| r.strip_prefix("Patient/"))
                        .map(str::to_owned)
                })
            })
            .flatten();
        patient = Some(p);
        match survivor {
            Some(next) if next != id => id = next,
            _ => break,
        }
    }
    let patient = patient.ok_or_else(|| ApiError::ResourceNotFound {
        resource_type: "Patient".to_owned(),
        id: id.clone(),
    })?;
    Ok((id, patient))
}

pub(crate) async fn ihe_pix(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(
        &[Role::System, Role::Clinician],
        "cross-reference patient identifiers ($ihe-pix)",
    )?;
    let pairs = super::rest::query_pairs(req.query_string())?;
    let mut source = None;
    let mut targets = Vec::new();
    for (name, value) in pairs {
        match name.as_str() {
            "sourceIdentifier" if source.is_none() => source = Some(value),
            "sourceIdentifier" => {
                return Err(invalid(
                    "sourceIdentifier",
                    "give sourceIdentifier once".to_owned(),
                ));
            }
            "targetSystem" => targets.push(value),
            "_format" => {}
            other => {
                return Err(invalid(
                    other,
                    format!(
                        "{other:?} is not a parameter of $ihe-pix (sourceIdentifier, targetSystem)"
                    ),
                ));
            }
        }
    }
    let source = source.ok_or_else(|| {
        invalid(
            "sourceIdentifier",
            "$ihe-pix needs sourceIdentifier=system|value".to_owned(),
        )
    })?;
    let (system, value) = match source.split_once('|') {
        Some((s, v)) => (Some(s.to_owned()).filter(|s| !s.is_empty()), v.to_owned()),
        None => (None, source.clone()),
    };
    let lookup = value.clone();
    let ids = state
        .store
        .run(move |conn| {
            stored::find_by_token(conn, "Patient", "identifier", system.as_deref(), &lookup)
        })
        .await?;
    if ids.is_empty() {
        return Err(ApiError::ResourceNotFound {
            resource_type: "Patient".to_owned(),
            id: format!("with identifier {source}"),
        });
    }
    // A merged record and its survivor may both carry the identifier: they are one
    // person, answered by the survivor.
    let mut survivors = std::collections::BTreeMap::new();
    for id in ids {
        let (survivor, patient) = resolve(&state, id).await?;
        survivors.insert(survivor, patient);
    }
    if survivors.len() > 1 {
        return Err(ApiError::PreconditionFailed(format!(
            "sourceIdentifier {source} names {} patients ({}); give its system",
            survivors.len(),
            survivors
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let Some((id, patient)) = survivors.into_iter().next() else {
        return Err(ApiError::internal("no survivor"));
    };
    let mut parameter: Vec<ParametersParameter> = patient
        .identifier
        .iter()
        .filter(|i| {
            targets.is_empty()
                || i.system_str()
                    .is_some_and(|s| targets.iter().any(|t| t == s))
        })
        .map(|i| ParametersParameter {
            name: Some("targetIdentifier".into()),
            value: Some(ParametersParameterValue::Identifier(Box::new(i.clone()))),
            ..ParametersParameter::default()
        })
        .collect();
    parameter.push(ParametersParameter {
        name: Some("targetId".into()),
        value: Some(ParametersParameterValue::Reference(Box::new(
            Reference::to("Patient", &id),
        ))),
        ..ParametersParameter::default()
    });
    Ok(ok(&Resource::Parameters(Box::new(Parameters {
        parameter,
        ..Parameters::default()
    }))))
}
