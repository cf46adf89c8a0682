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

use crate::ResourceType;
use crate::dates::datetime_range;
use crate::params::{self, PARTY};
use crate::{Extracted, RuleError};

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

/// The grantee key of a clinician, from a colegiatura key as tokens carry it
/// (`01|012345`), normalised as [`Colegiatura::key`] writes it; `None` if malformed.
#[must_use]
pub fn clinician_grantee(colegiatura: &str) -> Option<String> {
    let (college, number) = colegiatura.split_once('|')?;
    let college = renhice_model::peru::Colegio::from_code(college).ok()?;
    let key = Colegiatura::new(college, number).ok()?.key();
    Some(format!("colegiatura|{key}"))
}

/// The grantee key of an IPRESS.
#[must_use]
pub fn organization_grantee(id: &str) -> String {
    format!("Organization/{id}")
}

/// The grantee key of an IPRESS named by its RENIPRESS code, before it is resolved to
/// the registered IPRESS.
#[must_use]
pub fn renipress_grantee(code: &str) -> String {
    format!("renipress|{code}")
}

/// A consent the registry does not accept: 422, as FHIR answers a resource that breaks
/// the server's rules or profiles.
fn invalid(path: impl Into<String>, message: impl Into<String>) -> RuleError {
    RuleError::unprocessable(path, message)
}

/// A grantee as the Consent names it, before IPRESS identifiers are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Named {
    Organization(String),
    Renipress(String),
    Clinician(String),
}

/// The status and the patient's id of a Consent, checked.
fn status_and_patient(c: &Consent) -> Result<(&str, &str), RuleError> {
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
/// named by RENIPRESS code are resolved by the server before the write, with
/// [`resolved`]). `resource` is the Consent `c` as a resource, for its index.
pub fn check(resource: &Resource, c: &Consent) -> Result<Extracted, RuleError> {
    let (status, patient) = status_and_patient(c)?;
    let mut out = Extracted {
        index: params::indexed(resource, "Consent")?,
        ..Extracted::default()
    };
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
        party(&mut out, id);
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
            Named::Organization(id) => party(&mut out, id),
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
                    Named::Renipress(code) => renipress_grantee(&code),
                    Named::Clinician(key) => format!("colegiatura|{key}"),
                },
                ..grant
            })
            .collect();
    }
    Ok(out)
}

/// Records that the Consent involves IPRESS `id`.
fn party(out: &mut Extracted, id: &str) {
    params::add_reference(
        &mut out.index,
        ResourceType::Consent,
        PARTY,
        ResourceType::Organization,
        id,
    );
}

/// The RENIPRESS codes of the IPRESS a checked Consent grants, still to be resolved.
#[must_use]
pub fn unresolved(extracted: &Extracted) -> Vec<String> {
    extracted
        .grants
        .iter()
        .filter_map(|g| g.grantee.strip_prefix("renipress|").map(str::to_owned))
        .collect()
}

/// Replaces the grants to the IPRESS with RENIPRESS `code` by grants to the registered
/// IPRESS `id`, and records that the Consent involves it.
pub fn resolved(extracted: &mut Extracted, code: &str, id: &str) {
    let named = renipress_grantee(code);
    for g in &mut extracted.grants {
        if g.grantee == named {
            g.grantee = organization_grantee(id);
        }
    }
    party(extracted, id);
}

/// The patient a checked Consent is about, and the IPRESS it names.
#[must_use]
pub fn parties(extracted: &Extracted) -> (String, Vec<String>) {
    let patient = extracted
        .index
        .references
        .iter()
        .find(|r| r.param == "patient")
        .map(|r| r.target_id.clone())
        .unwrap_or_default();
    let organizations = extracted
        .index
        .references
        .iter()
        .filter(|r| r.param == PARTY)
        .map(|r| r.target_id.clone())
        .collect();
    (patient, organizations)
}

/// The grants of a Consent's provisions, each with the grantee as named.
fn provisions(
    base: &ConsentProvision,
    patient: &str,
) -> Result<Vec<(ConsentGrant, Named)>, RuleError> {
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

fn provision_type<'a>(p: &'a ConsentProvision, path: &str) -> Result<&'a str, RuleError> {
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
fn enforceable(p: &ConsentProvision, path: &str) -> Result<(), RuleError> {
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
fn period_range(period: &Period, path: &str) -> Result<(Option<i64>, Option<i64>), RuleError> {
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
) -> Result<Vec<(ConsentGrant, Named)>, RuleError> {
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

fn purpose_code(coding: &Coding, path: &str) -> Result<String, RuleError> {
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

fn grantee(reference: Option<&Reference>, path: &str) -> Result<Named, RuleError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn consent(status: &str, provision: &str) -> Resource {
        let json = format!(
            r#"{{"resourceType": "Consent", "status": "{status}",
                "scope": {{"coding": [{{"system": "{SCOPE_SYSTEM}", "code": "patient-privacy"}}]}},
                "category": [{{"coding": [{{"system": "http://loinc.org", "code": "59284-0"}}]}}],
                "patient": {{"reference": "Patient/p1"}},
                "organization": [{{"reference": "Organization/home"}}]{provision}}}"#
        );
        Resource::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}: {json}"))
    }

    fn check_json(status: &str, provision: &str) -> Result<Extracted, RuleError> {
        let resource = consent(status, provision);
        let Resource::Consent(c) = &resource else {
            unreachable!()
        };
        check(&resource, c)
    }

    const PERMIT_OTHER: &str = r#", "provision": {"type": "permit",
        "actor": [{"role": {"text": "grantee"}, "reference": {"reference": "Organization/other"}}]}"#;

    #[test]
    fn an_active_permit_grants_and_names_its_parties() {
        let out = check_json("active", PERMIT_OTHER).expect("a valid consent");
        assert_eq!(out.grants.len(), 1);
        assert_eq!(out.grants[0].grantee, "Organization/other");
        assert_eq!(out.grants[0].patient_id, "p1");
        let (patient, parties) = parties(&out);
        assert_eq!(patient, "p1");
        assert_eq!(parties, ["home", "other"]);
    }

    #[test]
    fn a_revoked_consent_grants_nothing() {
        let out = check_json("inactive", PERMIT_OTHER).expect("a valid consent");
        assert!(out.grants.is_empty());
    }

    #[test]
    fn an_active_consent_without_provision_is_refused() {
        let e = check_json("active", "").unwrap_err();
        assert_eq!(e.path(), "Consent.provision");
        assert!(check_json("inactive", "").is_ok());
    }

    #[test]
    fn unenforceable_provisions_are_refused_by_element() {
        let by_class = r#", "provision": {"type": "permit", "class": [{"code": "x"}],
            "actor": [{"role": {"text": "g"}, "reference": {"reference": "Organization/other"}}]}"#;
        assert_eq!(
            check_json("active", by_class).unwrap_err().path(),
            "Consent.provision.class"
        );
        let deny_in_permit = r#", "provision": {"type": "permit",
            "actor": [{"role": {"text": "g"}, "reference": {"reference": "Organization/other"}}],
            "provision": [{"type": "deny"}]}"#;
        assert_eq!(
            check_json("active", deny_in_permit).unwrap_err().path(),
            "Consent.provision.provision[0].type"
        );
    }

    #[test]
    fn a_nested_permit_is_cut_to_its_base_period_and_inherits_purposes() {
        let nested = format!(
            r#", "provision": {{"type": "deny", "period": {{"start": "2026-01-01", "end": "2026-12-31"}},
                "purpose": [{{"system": "{PURPOSE_SYSTEM}", "code": "TREAT"}}],
                "provision": [{{"type": "permit", "period": {{"start": "2025-06-01"}},
                    "actor": [{{"role": {{"text": "g"}}, "reference": {{"reference": "Organization/other"}}}}]}}]}}"#
        );
        let out = check_json("active", &nested).expect("a valid consent");
        let grant = &out.grants[0];
        let year = |d: &str| {
            let date: renhice_model::values::Date = d.parse().unwrap_or_else(|e| panic!("{e}"));
            crate::dates::date_range(&date.parts()).unwrap_or_default()
        };
        assert_eq!(grant.starts, Some(year("2026-01-01").0));
        assert_eq!(grant.ends, Some(year("2026-12-31").1));
        assert_eq!(grant.purposes, ["TREAT"]);
    }

    #[test]
    fn ipress_named_by_renipress_are_resolved_before_the_write() {
        let by_code = format!(
            r#", "provision": {{"type": "permit", "actor": [{{"role": {{"text": "g"}},
                "reference": {{"identifier": {{"system": "{}", "value": "12345"}}}}}}]}}"#,
            url::CS_IPRESS
        );
        let mut out = check_json("active", &by_code).expect("a valid consent");
        assert_eq!(unresolved(&out), ["00012345"]);
        resolved(&mut out, "00012345", "org-9");
        assert!(unresolved(&out).is_empty());
        assert_eq!(out.grants[0].grantee, "Organization/org-9");
        assert!(parties(&out).1.contains(&"org-9".to_owned()));
    }

    #[test]
    fn clinicians_are_keyed_by_a_normalised_colegiatura() {
        assert!(clinician_grantee("01|012345").is_some_and(|k| k.starts_with("colegiatura|")));
        assert_eq!(clinician_grantee("no-bar"), None);
    }
}
