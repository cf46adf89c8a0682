//! What the registry requires of the identities it stores.
//!
//! - A `Patient` must carry at least one identity document typed in `IdspersonaPeru`
//!   (DNI, carné de extranjería, passport, foreign document) with a valid number and, for
//!   documents issued abroad, the issuing country (`pe-pais`). Each document is a unique
//!   key `kind|country|number`, so no two current patients share one. A patient merged
//!   into another (`active: false` with a `replaced-by` link) claims no keys: the
//!   surviving record carries them.
//! - An `Organization` (an IPRESS) must carry its RENIPRESS code: an identifier typed in
//!   `IPRESSCS` whose value is the 8-digit code, unique among organizations.
//!
//! Violations are [`RuleError::Unprocessable`] naming the element
//! (`Patient.identifier[1]`).

use renhice_model::Primitive;
use renhice_model::peru::{PersonId, Renipress, url};
use renhice_model::resources::{Organization, Patient};

use crate::RuleError;
use crate::params::is_ipress_code;

/// A Patient's JSON with only its identity documents among its identifiers (those typed
/// in `IdspersonaPeru`), and for each identifier kept its index in the original.
///
/// PacientePe allows identity documents only; the registry also takes a SIHCE's own
/// identifiers (a medical record number, with system and value) so that PIXm can
/// cross-reference them. The identity feed holds the documents to PacientePe through this
/// copy, and the whole patient, other identifiers included, to FHIR R4.
#[must_use]
pub fn documents_only(patient: &serde_json::Value) -> (serde_json::Value, Vec<usize>) {
    let mut copy = patient.clone();
    let mut kept = Vec::new();
    if let Some(identifiers) = copy
        .get_mut("identifier")
        .and_then(serde_json::Value::as_array_mut)
    {
        let mut index = 0;
        identifiers.retain(|identifier| {
            let document = identifier["type"]["coding"]
                .as_array()
                .is_some_and(|codings| {
                    codings
                        .iter()
                        .any(|c| c["system"].as_str() == Some(url::CS_IDS_PERSONA))
                });
            if document {
                kept.push(index);
            }
            index += 1;
            document
        });
        // No document at all: left out, so the profile says what is missing (an identity
        // document), not that an array the client never sent is empty.
        if identifiers.is_empty() {
            copy.as_object_mut().map(|o| o.remove("identifier"));
        }
    }
    (copy, kept)
}

/// Rewrites `Patient.identifier[i]` in a path of [`documents_only`]'s copy to the index
/// the identifier has in the original.
#[must_use]
pub fn original_path(path: &str, kept: &[usize]) -> String {
    const PREFIX: &str = "Patient.identifier[";
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return path.to_owned();
    };
    let Some((index, tail)) = rest.split_once(']') else {
        return path.to_owned();
    };
    match index.parse::<usize>().ok().and_then(|i| kept.get(i)) {
        Some(original) => format!("{PREFIX}{original}]{tail}"),
        None => path.to_owned(),
    }
}

/// Checks a patient; its unique keys (none for a merged record).
pub fn patient(p: &Patient) -> Result<Vec<String>, RuleError> {
    let merged = p.active.as_ref().and_then(Primitive::value) == Some(&false)
        && p.link
            .iter()
            .any(|l| l.r#type.as_ref().and_then(Primitive::as_str) == Some("replaced-by"));
    let mut keys = Vec::new();
    for (i, identifier) in p.identifier.iter().enumerate() {
        match PersonId::from_identifier(identifier) {
            Ok(Some(id)) => keys.push(id.key()),
            Ok(None) => {}
            Err(e) => {
                return Err(RuleError::unprocessable(
                    format!("Patient.identifier[{i}]"),
                    e.to_string(),
                ));
            }
        }
    }
    if keys.is_empty() {
        return Err(RuleError::unprocessable(
            "Patient.identifier",
            format!(
                "a patient needs at least one identity document: an identifier whose type is \
                 coded in {} (1 DNI, 2 carné de extranjería, 3 pasaporte, 4 foreign document)",
                url::CS_IDS_PERSONA
            ),
        ));
    }
    // One document listed twice is one key, not a conflict with itself.
    keys.sort();
    keys.dedup();
    Ok(if merged { Vec::new() } else { keys })
}

/// Checks an IPRESS; its unique key (its RENIPRESS code).
pub fn organization(o: &Organization) -> Result<Vec<String>, RuleError> {
    let mut keys = Vec::new();
    for (i, identifier) in o.identifier.iter().enumerate() {
        if !is_ipress_code(identifier) {
            continue;
        }
        let code = Renipress::parse(identifier.value_str().unwrap_or_default()).map_err(|e| {
            RuleError::unprocessable(format!("Organization.identifier[{i}].value"), e.to_string())
        })?;
        keys.push(format!("renipress|{code}"));
    }
    if keys.is_empty() {
        return Err(RuleError::unprocessable(
            "Organization.identifier",
            format!(
                "an IPRESS needs its RENIPRESS code: an identifier whose type is coded in {} \
                 and whose value is the 8-digit code",
                url::CS_IPRESS
            ),
        ));
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params;
    use renhice_model::resources::Resource;

    #[test]
    fn a_copy_with_the_documents_only_maps_its_paths_back() {
        let patient = serde_json::json!({
            "resourceType": "Patient",
            "identifier": [
                {"system": "urn:oid:1.2.604.5", "value": "HC-001"},
                {"type": {"coding": [{"system": url::CS_IDS_PERSONA, "code": "1"}]}, "value": "45678912"},
                {"value": "untyped"},
                {"type": {"coding": [{"system": url::CS_IDS_PERSONA, "code": "3"}]}, "value": "P1"}
            ]
        });
        let (copy, kept) = documents_only(&patient);
        assert_eq!(kept, [1, 3]);
        assert_eq!(copy["identifier"].as_array().map(Vec::len), Some(2));
        assert_eq!(copy["identifier"][1]["value"], "P1");
        assert_eq!(
            original_path("Patient.identifier[1].type.extension", &kept),
            "Patient.identifier[3].type.extension"
        );
        assert_eq!(
            original_path("Patient.identifier", &kept),
            "Patient.identifier"
        );
        assert_eq!(original_path("Patient.name[0]", &kept), "Patient.name[0]");
        // A patient without identifiers is copied as it is.
        let (copy, kept) = documents_only(&serde_json::json!({"resourceType": "Patient"}));
        assert!(kept.is_empty() && copy.get("identifier").is_none());
    }

    fn parse(json: &str) -> Resource {
        Resource::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}: {json}"))
    }

    fn dni(number: &str) -> String {
        format!(
            r#"{{"type": {{"coding": [{{"system": "{}", "code": "1"}}]}}, "value": "{number}"}}"#,
            url::CS_IDS_PERSONA
        )
    }

    fn a_patient(identifiers: &[String], extra: &str) -> Resource {
        let json = format!(
            r#"{{"resourceType": "Patient", "identifier": [{}], "name": [{{"family": "Huamán Quispe", "given": ["Rosa"]}}]{extra}}}"#,
            identifiers.join(",")
        );
        parse(&json)
    }

    #[test]
    fn a_patient_is_keyed_by_each_identity_document_once() {
        let p = a_patient(&[dni("45678912"), dni("45678912")], "");
        let out = crate::check(&p).expect("a valid patient");
        assert_eq!(out.unique_keys, ["1|PER|45678912"]);
        let tokens = |param: &str| {
            out.index
                .tokens
                .iter()
                .filter(|t| t.param == param)
                .map(|t| t.code.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(tokens(params::IDENTITY_KEY), ["1|PER|45678912"]);
        assert_eq!(tokens("identifier"), ["45678912"]);
        let family: Vec<&str> = out
            .index
            .strings
            .iter()
            .filter(|s| s.param == "family")
            .map(|s| s.value.as_str())
            .collect();
        assert_eq!(family, ["huaman quispe", "huaman", "quispe"]);
    }

    #[test]
    fn a_patient_without_an_identity_document_is_refused() {
        let other = r#"{"system": "http://hospital.example/mrn", "value": "A1"}"#.to_owned();
        let e = crate::check(&a_patient(&[other], "")).unwrap_err();
        assert_eq!(e.path(), "Patient.identifier");
        assert!(matches!(e, RuleError::Unprocessable { .. }));
        assert!(e.message().contains("identity document"), "{e}");
    }

    #[test]
    fn a_malformed_document_is_named_by_its_place() {
        let e = crate::check(&a_patient(&[dni("45678912"), dni("12")], "")).unwrap_err();
        assert_eq!(e.path(), "Patient.identifier[1]");
    }

    #[test]
    fn a_merged_patient_claims_no_keys_but_is_still_found() {
        let p = a_patient(
            &[dni("45678912")],
            r#", "active": false, "link": [{"other": {"reference": "Patient/b"}, "type": "replaced-by"}]"#,
        );
        let out = crate::check(&p).expect("a merged patient");
        assert!(out.unique_keys.is_empty());
        assert!(
            out.index
                .references
                .iter()
                .any(|r| r.param == params::REPLACED_BY && r.target_id == "b")
        );
        assert!(
            out.index
                .tokens
                .iter()
                .any(|t| t.param == params::IDENTITY_KEY)
        );
    }

    fn an_ipress(code: &str) -> Resource {
        let json = format!(
            r#"{{"resourceType": "Organization", "identifier": [{{"type": {{"coding": [{{"system": "{}", "code": "IPRESS"}}]}}, "value": "{code}"}}]}}"#,
            url::CS_IPRESS
        );
        parse(&json)
    }

    #[test]
    fn an_ipress_is_keyed_by_its_renipress_code() {
        let out = crate::check(&an_ipress("00012345")).expect("a valid IPRESS");
        assert_eq!(out.unique_keys, ["renipress|00012345"]);
        assert!(
            out.index
                .tokens
                .iter()
                .any(|t| t.param == params::RENIPRESS && t.code == "00012345")
        );
        let e = crate::check(&an_ipress("123")).unwrap_err();
        assert_eq!(e.path(), "Organization.identifier[0].value");
    }
}
