//! `Consent` (IHE PCF): who may record, read and revoke a patient's consent.
//!
//! What a Consent must say and what it grants are the registry's rules
//! ([`renhice_registry::consent`]); here are the parts that need the database and the
//! caller: resolving the IPRESS a Consent names, and who writes and reads it.
//!
//! Who writes: the patient (about their own records), or a SIHCE or clinician for its
//! IPRESS, naming that IPRESS in `Consent.organization` and carrying the patient's
//! signed authorisation in `source[x]`. Who reads: the patient; the SIHCE of an IPRESS
//! the Consent names (as grantee or recorder); auditors.

use renhice_model::resources::{Consent, Resource};
use renhice_model::types::Reference;
use renhice_registry::Extracted;
use renhice_registry::params::PARTY;

use crate::auth::access::{Caller, forbidden};
use crate::auth::token::Role;
use crate::{ApiError, AppState};

/// A consent the registry does not accept: 422, as FHIR answers a resource that breaks
/// the server's rules or profiles.
fn invalid(path: impl Into<String>, message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable {
        path: path.into(),
        message: message.into(),
    }
}

/// Resolves grantees named by RENIPRESS code to the registered IPRESS, and checks that
/// the patient and every IPRESS named are registered.
pub(crate) async fn resolve(
    state: &AppState,
    consent: &Consent,
    extracted: &mut Extracted,
) -> Result<(), ApiError> {
    use renhice_store::resources as stored;
    let (patient, organizations) = renhice_registry::consent::parties(extracted);
    let codes = renhice_registry::consent::unresolved(extracted);
    let (known_patient, unknown_orgs, resolved) = state
        .store
        .run(move |conn| {
            let known_patient =
                stored::read(conn, "Patient", &patient)?.is_some_and(|r| !r.deleted);
            let mut unknown = Vec::new();
            for id in organizations {
                if stored::read(conn, "Organization", &id)?.is_none_or(|r| r.deleted) {
                    unknown.push(id);
                }
            }
            let mut resolved = Vec::new();
            for code in codes {
                let holder =
                    stored::key_holder(conn, "Organization", &format!("renipress|{code}"))?;
                resolved.push((code, holder));
            }
            Ok((known_patient, unknown, resolved))
        })
        .await?;
    if !known_patient {
        return Err(invalid(
            "Consent.patient",
            "the consent's patient is not a patient of the registry",
        ));
    }
    if let Some(id) = unknown_orgs.first() {
        let path = consent
            .organization
            .iter()
            .position(|o| o.reference_str() == Some(&format!("Organization/{id}")))
            .map_or_else(
                || "Consent.provision".to_owned(),
                |i| format!("Consent.organization[{i}]"),
            );
        return Err(invalid(
            path,
            format!("Organization/{id} is not an IPRESS registered in the registry"),
        ));
    }
    for (code, holder) in resolved {
        let Some(id) = holder else {
            return Err(invalid(
                "Consent.provision",
                format!("no IPRESS of the registry has RENIPRESS code {code}"),
            ));
        };
        renhice_registry::consent::resolved(extracted, &code, &id);
    }
    Ok(())
}

fn organizations(c: &Consent) -> Vec<&str> {
    c.organization
        .iter()
        .filter_map(Reference::reference_str)
        .filter_map(|r| r.strip_prefix("Organization/"))
        .collect()
}

fn patient_of(c: &Consent) -> &str {
    c.patient
        .as_deref()
        .and_then(Reference::reference_str)
        .and_then(|r| r.strip_prefix("Patient/"))
        .unwrap_or_default()
}

/// Refuses recording `new` (and, for an update, changing `old`) to a caller who may not:
/// the patient about their own records; a SIHCE or clinician for its own IPRESS, with
/// the patient's signed authorisation.
pub(crate) async fn check_write(
    state: &AppState,
    caller: &Caller,
    new: &Consent,
    old: Option<&Consent>,
) -> Result<(), ApiError> {
    caller.require(
        &[Role::Patient, Role::System, Role::Clinician],
        "record or revoke a consent",
    )?;
    if let Some(old) = old
        && patient_of(old) != patient_of(new)
    {
        return Err(invalid(
            "Consent.patient",
            format!(
                "this consent is about Patient/{}; a consent's patient does not change (record a new consent instead)",
                patient_of(old)
            ),
        ));
    }
    if caller.role() == Role::Patient {
        return caller.check_patient(state, patient_of(new)).await;
    }
    if new.source.is_none() {
        return Err(ApiError::Forbidden {
            rule: "consent-authorisation",
            message: "a SIHCE records a patient's consent only with the patient's signed \
                      authorisation, attached or referenced in source[x]"
                .to_owned(),
            path: Some("Consent.source[x]".to_owned()),
        });
    }
    let own = caller.ipress(state).await?;
    for (consent, which) in [(Some(new), "the consent"), (old, "the stored consent")] {
        let Some(consent) = consent else { continue };
        if !organizations(consent).contains(&own.as_str()) {
            return Err(ApiError::Forbidden {
                rule: "custodian-is-caller",
                message: format!(
                    "a SIHCE records and revokes consents for its own IPRESS: {which} must name \
                     Organization/{own} in Consent.organization"
                ),
                path: Some("Consent.organization".to_owned()),
            });
        }
    }
    Ok(())
}

/// Refuses reading a stored Consent to a caller who may not: its patient; a SIHCE or
/// clinician of an IPRESS it names (grantee or recorder); an auditor.
pub(crate) async fn check_read(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(), ApiError> {
    let lookup = id.to_owned();
    let references = state
        .store
        .run(move |conn| renhice_store::resources::references_of(conn, "Consent", &lookup))
        .await?;
    let of = |param: &'static str| {
        references
            .iter()
            .filter(move |(p, _)| p == param)
            .map(|(_, target)| target.as_str())
    };
    if let Some(patient) = of("patient").next() {
        caller.audit().patient(patient);
    }
    match caller.role() {
        Role::Auditor => Ok(()),
        Role::Patient => {
            let patient = of("patient").next().unwrap_or_default().to_owned();
            caller.check_patient(state, &patient).await
        }
        Role::System | Role::Clinician => {
            let own = caller.ipress(state).await?;
            if of(PARTY).any(|o| o == own) {
                Ok(())
            } else {
                Err(forbidden(
                    "own-ipress-entries",
                    format!(
                        "this consent does not involve Organization/{own}; a SIHCE reads the \
                         consents that grant its IPRESS access or that its IPRESS recorded"
                    ),
                ))
            }
        }
        Role::Admin => Err(forbidden(
            "role",
            "an admin token does not read patients' consents; that is for: patient, system, clinician, auditor"
                .to_owned(),
        )),
    }
}

/// The Consent in a resource.
pub(crate) fn as_consent(resource: &Resource) -> Option<&Consent> {
    match resource {
        Resource::Consent(c) => Some(c),
        _ => None,
    }
}
