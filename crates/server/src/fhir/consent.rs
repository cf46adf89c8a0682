//! `Consent` (IHE PCF): what a patient permits, and who may record, read and revoke it.
//!
//! The registry denies by default. An **active** Consent about a patient, of scope
//! `patient-privacy`, grants access to that patient's index (every IPRESS's entries,
//! their locations and summaries) through its permitting provisions:
//!
//! - the base provision when it is `permit`, and each nested provision that is `permit`
//!   (under a `deny` base, PCF's "deny, except…");
//! - each names who is granted in `actor.reference`: an IPRESS as `Organization/<id>` or
//!   by its RENIPRESS identifier, or a clinician by the colegiatura identifier
//!   (PractitionerPe's `type` coded in `ColegiosProfesionalesSaludCS`);
//! - for a `period` (a nested provision's period is cut to its base's), for the
//!   `purpose`s it lists (v3 `ActReason`; none listed: any purpose), and for entries
//!   labelled restricted or very restricted (v3 Confidentiality `R`/`V`) only when its
//!   `securityLabel` lists one of those codes;
//! - when it lists `action`s, only if one of them is `access` or `use`.
//!
//! A Consent the registry could not enforce as written is refused (422) rather than
//! stored and half-applied: provisions restricted by `class`, `code`, `data` or
//! `dataPeriod`, provisions nested more than one level, `deny` exceptions inside a
//! `permit`, unknown `modifierExtension`s. Revocation is an update to `inactive` (or
//! `entered-in-error`); its grants leave with the version that revokes them, so the
//! next request is decided without them.
//!
//! Who writes: the patient (about their own records), or a SIHCE or clinician for its
//! IPRESS, naming that IPRESS in `Consent.organization` and carrying the patient's
//! signed authorisation in `source[x]`. Who reads: the patient; the SIHCE of an IPRESS
//! the Consent names (as grantee or recorder); auditors.

use renhice_model::Primitive;
use renhice_model::peru::{Colegiatura, Renipress, url};
use renhice_model::resources::{Consent, ConsentProvision, Resource};
use renhice_model::types::{Coding, Period, Reference};
use renhice_store::consents::ConsentGrant;
use renhice_store::resources::{ReferenceEntry, SearchIndex, TokenEntry};

use super::rules::{Extracted, datetime_range};
use crate::auth::Role;
use crate::auth::access::{Caller, forbidden};
use crate::{ApiError, AppState};

/// `Consent.status` values.
const STATUSES: [&str; 6] = [
    "draft",
    "proposed",
    "active",
    "rejected",
    "inactive",
    "entered-in-error",
];
const SCOPE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/consentscope";
const ACTION_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/consentaction";
const PURPOSE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";

/// The reference search parameter naming every IPRESS a Consent involves (grantee or
/// recorder): what a SIHCE's searches and reads of Consents are kept to.
pub(crate) const PARTY_PARAM: &str = "party";

/// The grantee key of a clinician, from a colegiatura key as tokens carry it
/// (`01|012345`), normalised as [`Colegiatura::key`] writes it; `None` if malformed.
pub(crate) fn clinician_grantee(colegiatura: &str) -> Option<String> {
    let (college, number) = colegiatura.split_once('|')?;
    let college = renhice_model::peru::Colegio::from_code(college).ok()?;
    let key = Colegiatura::new(college, number).ok()?.key();
    Some(format!("colegiatura|{key}"))
}

/// The grantee key of an IPRESS.
pub(crate) fn organization_grantee(id: &str) -> String {
    format!("Organization/{id}")
}

/// A consent the registry does not accept: 422, as FHIR answers a resource that breaks
/// the server's rules or profiles.
fn invalid(path: impl Into<String>, message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable {
        path: path.into(),
        message: message.into(),
    }
}

/// A grantee as the Consent names it, before IPRESS identifiers are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Named {
    Organization(String),
    Renipress(String),
    Clinician(String),
}

/// The status and the patient's id of a Consent, checked.
fn status_and_patient(c: &Consent) -> Result<(&str, &str), ApiError> {
    if !c.modifier_extension.is_empty() {
        return Err(invalid(
            "Consent.modifierExtension[0]",
            "the registry does not know this modifier extension, so it could not enforce the consent",
        ));
    }
    let status = c
        .status
        .as_ref()
        .and_then(Primitive::as_str)
        .ok_or_else(|| {
            invalid(
                "Consent.status",
                "a consent has a status (active, inactive, …)",
            )
        })?;
    if !STATUSES.contains(&status) {
        return Err(invalid(
            "Consent.status",
            format!(
                "{status:?} is not a Consent status ({})",
                STATUSES.join(", ")
            ),
        ));
    }
    let privacy = c
        .scope
        .as_deref()
        .is_some_and(|s| s.has_coding(SCOPE_SYSTEM, "patient-privacy"));
    if !privacy {
        return Err(invalid(
            "Consent.scope",
            format!("the registry records privacy consents: scope {SCOPE_SYSTEM}#patient-privacy"),
        ));
    }
    if c.category.is_empty() {
        return Err(invalid(
            "Consent.category",
            "a consent has at least one category (for example LOINC 59284-0, patient consent)",
        ));
    }
    let patient = c
        .patient
        .as_deref()
        .and_then(Reference::reference_str)
        .and_then(|r| r.strip_prefix("Patient/"))
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| {
            invalid(
                "Consent.patient",
                "a consent names its patient as Patient/<id>, a patient of the registry",
            )
        })?;
    Ok((status, patient))
}

/// Checks a Consent against the rules above and extracts its index and grants (IPRESS
/// named by RENIPRESS code are resolved by [`resolve`] before the write).
pub(crate) fn check(c: &Consent) -> Result<Extracted, ApiError> {
    let (status, patient) = status_and_patient(c)?;
    let mut out = Extracted::default();
    out.index.tokens.push(TokenEntry {
        param: "status".to_owned(),
        system: Some("http://hl7.org/fhir/consent-state-codes".to_owned()),
        code: status.to_owned(),
    });
    push_reference(&mut out.index, "patient", "Patient", patient);
    super::rules::identifier_tokens(&c.identifier, &mut out.index);
    for (i, org) in c.organization.iter().enumerate() {
        let id = org
            .reference_str()
            .and_then(|r| r.strip_prefix("Organization/"))
            .filter(|id| !id.is_empty() && !id.contains('/'))
            .ok_or_else(|| {
                invalid(
                    format!("Consent.organization[{i}]"),
                    "the IPRESS managing a consent is named as Organization/<id>",
                )
            })?;
        push_reference(&mut out.index, PARTY_PARAM, "Organization", id);
    }
    let Some(base) = c.provision.as_deref() else {
        if status == "active" {
            return Err(invalid(
                "Consent.provision",
                "an active consent says what it permits or denies in its provision",
            ));
        }
        return Ok(out);
    };
    let named = provisions(base, patient)?;
    for (_, grantee) in &named {
        match grantee {
            Named::Organization(id) => {
                push_reference(&mut out.index, PARTY_PARAM, "Organization", id);
            }
            Named::Renipress(_) | Named::Clinician(_) => {}
        }
    }
    if status == "active" {
        out.grants = named
            .into_iter()
            .map(|(grant, grantee)| ConsentGrant {
                grantee: match grantee {
                    Named::Organization(id) => organization_grantee(&id),
                    // Resolved before the write.
                    Named::Renipress(code) => format!("renipress|{code}"),
                    Named::Clinician(key) => format!("colegiatura|{key}"),
                },
                ..grant
            })
            .collect();
    }
    Ok(out)
}

fn push_reference(index: &mut SearchIndex, param: &str, target_type: &str, id: &str) {
    let entry = ReferenceEntry {
        param: param.to_owned(),
        target_type: target_type.to_owned(),
        target_id: id.to_owned(),
    };
    if !index.references.contains(&entry) {
        index.references.push(entry);
    }
}

/// The grants of a Consent's provisions, each with the grantee as named.
fn provisions(
    base: &ConsentProvision,
    patient: &str,
) -> Result<Vec<(ConsentGrant, Named)>, ApiError> {
    let path = "Consent.provision";
    enforceable(base, path)?;
    let kind = provision_type(base, path)?;
    let mut out = Vec::new();
    if kind == "permit" {
        out.extend(grants_of(base, None, patient, path)?);
    }
    for (i, nested) in base.provision.iter().enumerate() {
        let path = format!("{path}.provision[{i}]");
        enforceable(nested, &path)?;
        if !nested.provision.is_empty() {
            return Err(invalid(
                format!("{path}.provision"),
                "the registry enforces provisions nested one level deep; write deeper rules as separate provisions",
            ));
        }
        match (kind, provision_type(nested, &path)?) {
            ("permit", "deny") => {
                return Err(invalid(
                    format!("{path}.type"),
                    "a deny exception inside a permit is not enforced by the registry; \
                     write the consent as a deny base with permitting exceptions",
                ));
            }
            (_, "permit") => out.extend(grants_of(nested, Some(base), patient, &path)?),
            // A deny inside a deny adds nothing to default deny.
            _ => {}
        }
    }
    Ok(out)
}

fn provision_type<'a>(p: &'a ConsentProvision, path: &str) -> Result<&'a str, ApiError> {
    match p.r#type.as_ref().and_then(Primitive::as_str) {
        Some(t @ ("permit" | "deny")) => Ok(t),
        Some(other) => Err(invalid(
            format!("{path}.type"),
            format!("{other:?} is not a provision type (deny, permit)"),
        )),
        None => Err(invalid(
            format!("{path}.type"),
            "each provision says whether it permits or denies (type)",
        )),
    }
}

/// Refuses the parts of a provision the registry does not enforce.
fn enforceable(p: &ConsentProvision, path: &str) -> Result<(), ApiError> {
    let unsupported = [
        ("modifierExtension", !p.modifier_extension.is_empty()),
        ("class", !p.class.is_empty()),
        ("code", !p.code.is_empty()),
        ("data", !p.data.is_empty()),
        ("dataPeriod", p.data_period.is_some()),
    ];
    if let Some((element, _)) = unsupported.iter().find(|(_, present)| *present) {
        return Err(invalid(
            format!("{path}.{element}"),
            format!(
                "the registry grants or denies access to a patient's whole index; it does not \
                 enforce provisions restricted by {element}, so it does not store them"
            ),
        ));
    }
    Ok(())
}

/// The microsecond range of a period; an open side is `None`.
fn period_range(period: &Period, path: &str) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let bound = |value: Option<&Primitive<renhice_model::values::DateTime>>, low: bool| {
        value
            .and_then(Primitive::value)
            .map(|d| {
                datetime_range(&d.parts())
                    .map(|(l, h)| if low { l } else { h })
                    .ok_or_else(|| {
                        invalid(
                            format!("{path}.period"),
                            "the period's date is not a calendar date",
                        )
                    })
            })
            .transpose()
    };
    let start = bound(period.start.as_ref(), true)?;
    let end = bound(period.end.as_ref(), false)?;
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        return Err(invalid(
            format!("{path}.period"),
            "the period ends before it starts",
        ));
    }
    Ok((start, end))
}

/// The grants of one permitting provision, each actor one grant; a nested provision
/// takes its base's actors, purposes and labels when it lists none, and is cut to its
/// base's period.
fn grants_of(
    p: &ConsentProvision,
    base: Option<&ConsentProvision>,
    patient: &str,
    path: &str,
) -> Result<Vec<(ConsentGrant, Named)>, ApiError> {
    let actions_allow = |q: &ConsentProvision| {
        q.action.is_empty()
            || q.action.iter().any(|a| {
                a.has_coding(ACTION_SYSTEM, "access") || a.has_coding(ACTION_SYSTEM, "use")
            })
    };
    if !actions_allow(p) || base.is_some_and(|b| !actions_allow(b) && p.action.is_empty()) {
        return Ok(Vec::new());
    }
    let (mut starts, mut ends) = p
        .period
        .as_deref()
        .map(|period| period_range(period, path))
        .transpose()?
        .unwrap_or((None, None));
    if let Some(base_period) = base.and_then(|b| b.period.as_deref()) {
        let (bs, be) = period_range(base_period, "Consent.provision")?;
        starts = starts.max(bs);
        ends = match (ends, be) {
            (Some(e), Some(b)) => Some(e.min(b)),
            (e, b) => e.or(b),
        };
        if let (Some(s), Some(e)) = (starts, ends)
            && e < s
        {
            return Err(invalid(
                format!("{path}.period"),
                "the provision's period lies outside its base provision's period",
            ));
        }
    }
    let inherit = |own: bool| if own { Some(p) } else { base.or(Some(p)) };
    let purposes_from = inherit(!p.purpose.is_empty()).map_or(&[][..], |q| q.purpose.as_slice());
    let purposes = purposes_from
        .iter()
        .enumerate()
        .map(|(i, coding)| purpose_code(coding, &format!("{path}.purpose[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let labels =
        inherit(!p.security_label.is_empty()).map_or(&[][..], |q| q.security_label.as_slice());
    let sensitive = labels
        .iter()
        .any(|l| l.is(CONFIDENTIALITY, "R") || l.is(CONFIDENTIALITY, "V"));
    let (actors, actors_path) = if p.actor.is_empty() {
        (
            base.map_or(&[][..], |b| b.actor.as_slice()),
            "Consent.provision".to_owned(),
        )
    } else {
        (p.actor.as_slice(), path.to_owned())
    };
    if actors.is_empty() {
        return Err(invalid(
            format!("{path}.actor"),
            "a permitting provision names whom it grants access (an IPRESS or a clinician) in actor",
        ));
    }
    actors
        .iter()
        .enumerate()
        .map(|(i, actor)| {
            let named = grantee(
                actor.reference.as_deref(),
                &format!("{actors_path}.actor[{i}].reference"),
            )?;
            Ok((
                ConsentGrant {
                    patient_id: patient.to_owned(),
                    grantee: String::new(),
                    purposes: purposes.clone(),
                    starts,
                    ends,
                    sensitive,
                },
                named,
            ))
        })
        .collect()
}

fn purpose_code(coding: &Coding, path: &str) -> Result<String, ApiError> {
    let system = coding.system.as_ref().and_then(Primitive::as_str);
    let code = coding.code.as_ref().and_then(Primitive::as_str);
    match (system, code) {
        (Some(PURPOSE_SYSTEM), Some(code)) if !code.is_empty() => Ok(code.to_owned()),
        _ => Err(invalid(
            path,
            format!(
                "a purpose of use is a code of {PURPOSE_SYSTEM} (TREAT, ETREAT, PATRQT, HOPERAT, …)"
            ),
        )),
    }
}

fn grantee(reference: Option<&Reference>, path: &str) -> Result<Named, ApiError> {
    let unsupported = || {
        invalid(
            path,
            "a grantee is an IPRESS (Organization/<id>, or an identifier with the RENIPRESS \
             code) or a clinician (an identifier whose type is coded in \
             ColegiosProfesionalesSaludCS, the colegiatura number as value)",
        )
    };
    let reference = reference.ok_or_else(unsupported)?;
    if let Some(literal) = reference.reference_str() {
        return literal
            .strip_prefix("Organization/")
            .filter(|id| !id.is_empty() && !id.contains('/'))
            .map(|id| Named::Organization(id.to_owned()))
            .ok_or_else(unsupported);
    }
    let identifier = reference.identifier.as_deref().ok_or_else(unsupported)?;
    let ipress = identifier.system_str() == Some(url::CS_IPRESS)
        || identifier.r#type.as_deref().is_some_and(|t| {
            t.coding
                .iter()
                .any(|c| c.system.as_ref().and_then(Primitive::as_str) == Some(url::CS_IPRESS))
        });
    if ipress {
        let value = identifier.value_str().unwrap_or_default();
        let code = Renipress::normalise(value)
            .map_err(|e| invalid(format!("{path}.identifier.value"), e.to_string()))?;
        return Ok(Named::Renipress(code.as_str().to_owned()));
    }
    match Colegiatura::from_identifier(identifier) {
        Ok(Some(c)) => Ok(Named::Clinician(c.key())),
        Ok(None) => Err(unsupported()),
        Err(e) => Err(invalid(format!("{path}.identifier"), e.to_string())),
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
    let patient = extracted
        .index
        .references
        .iter()
        .find(|r| r.param == "patient")
        .map(|r| r.target_id.clone())
        .unwrap_or_default();
    let organizations: Vec<String> = extracted
        .index
        .references
        .iter()
        .filter(|r| r.param == PARTY_PARAM)
        .map(|r| r.target_id.clone())
        .collect();
    let codes: Vec<String> = extracted
        .grants
        .iter()
        .filter_map(|g| g.grantee.strip_prefix("renipress|").map(str::to_owned))
        .collect();
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
        for g in &mut extracted.grants {
            if g.grantee == format!("renipress|{code}") {
                g.grantee = organization_grantee(&id);
            }
        }
        push_reference(&mut extracted.index, PARTY_PARAM, "Organization", &id);
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
            if of(PARTY_PARAM).any(|o| o == own) {
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
