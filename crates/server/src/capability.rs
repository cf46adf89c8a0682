//! `GET /fhir/metadata`: the CapabilityStatement.
//!
//! It claims only what this build really serves; each feature that lands adds its
//! resources, interactions and operations here, and the API tests check the claims.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use renhice_model::FHIR_VERSION;

/// One `rest.resource`: the identity types are fed and searched; index entries are
/// read, and written only by a push.
fn resource(resource_type: &str) -> Value {
    let fed = crate::fhir::FED.contains(&resource_type);
    let mut r = json!({
        "type": resource_type,
        "interaction": if fed {
            json!([
                {"code": "read"}, {"code": "vread"}, {"code": "update"},
                {"code": "history-instance"}, {"code": "create"}, {"code": "search-type"}
            ])
        } else if resource_type == "DocumentReference" {
            json!([
                {"code": "read"}, {"code": "vread"},
                {"code": "update", "documentation": "Only to mark an entry entered-in-error: the entry as read with status entered-in-error"},
                {"code": "history-instance"}, {"code": "search-type"}
            ])
        } else if resource_type == "Bundle" {
            json!([
                {"code": "read"}, {"code": "vread"}, {"code": "history-instance"},
                {"code": "create", "documentation": "Only a document Bundle: the patient's basic clinical information (BundlePe); the latest per patient and IPRESS is kept, earlier ones in its history"}
            ])
        } else if resource_type == "List" {
            json!([{"code": "read"}, {"code": "vread"}, {"code": "history-instance"}, {"code": "search-type"}])
        } else {
            json!([{"code": "read"}, {"code": "vread"}, {"code": "history-instance"}])
        },
        "versioning": "versioned-update",
        "readHistory": true,
    });
    if let Some(profile) = match resource_type {
        "Patient" => Some(renhice_model::peru::url::PACIENTE_PE),
        "Organization" => Some(renhice_model::peru::url::ORGANIZACION_PE),
        _ => None,
    } {
        r["profile"] = json!(profile);
    }
    if matches!(resource_type, "DocumentReference" | "List") {
        r["searchParam"] = json!(search_params(resource_type));
    }
    if resource_type == "DocumentReference" {
        r["searchInclude"] = json!(["DocumentReference:custodian"]);
    }
    if fed {
        r["updateCreate"] = json!(true);
        r["conditionalCreate"] = json!(false);
        r["conditionalUpdate"] = json!(resource_type != "Consent");
        r["conditionalDelete"] = json!("not-supported");
        r["searchParam"] = json!(search_params(resource_type));
    }
    // FHIR JSON has no empty arrays: only Patient lists an operation.
    if resource_type == "Patient" {
        r["operation"] = json!([
            {
                "name": "ihe-pix",
                "definition": "https://profiles.ihe.net/ITI/PIXm/OperationDefinition/IHE.PIXm.pix"
            },
            {
                "name": "record-locations",
                "definition": crate::fhir::RECORD_LOCATIONS
            },
            {
                "name": "summary",
                "definition": crate::fhir::SUMMARY
            }
        ]);
    }
    r
}

/// `searchParam` entries from `(name, type, documentation)`.
fn described(params: &[(&str, &str, &str)]) -> Vec<Value> {
    params
        .iter()
        .map(|(name, kind, doc)| json!({"name": name, "type": kind, "documentation": doc}))
        .collect()
}

/// MHD ITI-67's parameters as served.
fn document_params() -> Vec<Value> {
    described(&[
        (
            "patient",
            "reference",
            "The patient (required, or patient.identifier)",
        ),
        (
            "patient.identifier",
            "token",
            "An identifier of the patient (chained)",
        ),
        (
            "status",
            "token",
            "current, superseded or entered-in-error (required)",
        ),
        ("_id", "token", "Logical id"),
        ("identifier", "token", "masterIdentifier, system|value"),
        (
            "date",
            "date",
            "When the reference was created; prefixes eq, ge, le, gt, lt",
        ),
        ("type", "token", "Kind of document"),
        ("category", "token", "Categorization of the document"),
        ("custodian", "reference", "The IPRESS holding the document"),
        ("security-label", "token", "Confidentiality labels"),
        (
            "period",
            "date",
            "Time of service documented (context.period); prefixes eq, ge, le, gt, lt",
        ),
        (
            "facility",
            "token",
            "Kind of facility (context.facilityType)",
        ),
        (
            "setting",
            "token",
            "Clinical specialty (context.practiceSetting)",
        ),
    ])
}

/// MHD ITI-66's parameters as served.
fn list_params() -> Vec<Value> {
    described(&[
        (
            "patient",
            "reference",
            "The patient (required, or patient.identifier)",
        ),
        (
            "patient.identifier",
            "token",
            "An identifier of the patient (chained)",
        ),
        ("status", "token", "current (required)"),
        ("_id", "token", "Logical id"),
        (
            "identifier",
            "token",
            "SubmissionSet uniqueId, system|value",
        ),
        ("code", "token", "submissionset"),
        (
            "date",
            "date",
            "When the SubmissionSet was made; prefixes eq, ge, le, gt, lt",
        ),
        (
            "designationType",
            "token",
            "Clinical code of the SubmissionSet (ihe-designationType)",
        ),
        (
            "sourceId",
            "token",
            "The submitting system (ihe-sourceId), system|value",
        ),
    ])
}

/// PCF ITI-108 Access Consent.
fn consent_params() -> Vec<Value> {
    described(&[
        ("_id", "token", "Logical id"),
        (
            "identifier",
            "token",
            "Business identifier, system|value or value",
        ),
        (
            "patient",
            "reference",
            "The patient (Patient/id or id); patient or patient.identifier is required",
        ),
        (
            "patient.identifier",
            "token",
            "The patient by an identity document, system|value",
        ),
        (
            "status",
            "token",
            "Consent status (active, inactive, …); required",
        ),
    ])
}

/// The search parameters `crate::fhir::search` serves for a type.
fn search_params(resource_type: &str) -> Vec<Value> {
    match resource_type {
        "DocumentReference" => return document_params(),
        "List" => return list_params(),
        "Consent" => return consent_params(),
        _ => {}
    }
    let mut params = vec![
        ("_id", "token", "Logical id"),
        (
            "identifier",
            "token",
            "Business identifier, system|value or value; also identifier:of-type=type-system|type-code|value",
        ),
    ];
    if resource_type == "Patient" {
        params.extend([
            (
                "family",
                "string",
                "Either surname or the whole family name (accent- and case-insensitive prefix)",
            ),
            (
                "given",
                "string",
                "A given name (accent- and case-insensitive prefix)",
            ),
            (
                "birthdate",
                "date",
                "Date of birth; prefixes eq, ge, le, gt, lt",
            ),
            ("gender", "token", "Administrative gender"),
        ]);
    }
    params
        .into_iter()
        .map(|(name, kind, doc)| json!({"name": name, "type": kind, "documentation": doc}))
        .collect()
}

/// `AuditEvent`: the audit trail, read (IHE `RESTful` ATNA `ITI-81`), never written by
/// clients.
fn audit_event() -> Value {
    json!({
        "type": "AuditEvent",
        "profile": "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.Read",
        "documentation": "The registry's own audit trail, newest first: an auditor reads all of it; a patient the events about their own records.",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": described(&[
            ("patient", "reference", "The patient an event is about (id or Patient/id)"),
            ("date", "date", "When the event was recorded; prefixes eq, ge, le, gt, lt"),
        ]),
    })
}

/// Builds the CapabilityStatement once, at start-up.
pub(crate) fn capability_statement(started: OffsetDateTime) -> Value {
    // Whole seconds: FHIR dateTime allows fractions, but clients compare these by eye.
    let date = started
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned());
    json!({
        "resourceType": "CapabilityStatement",
        "text": {
            "status": "generated",
            "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>renhice: the national registry of electronic health records (RENHICE). A FHIR R4 server over JSON: which IPRESS holds which records of which patient (IHE MHD, PIXm, PDQm), the patients' basic clinical information, consents and the audit trail.</p></div>"
        },
        "name": "RenhiceRegistry",
        "title": "renhice: national registry of electronic health records (RENHICE)",
        "status": "active",
        "experimental": false,
        "date": date,
        "publisher": "renhice",
        "description": "Index of which IPRESS holds which electronic clinical records of which patient.",
        "kind": "instance",
        "software": { "name": "renhice", "version": crate::VERSION },
        "implementation": {
            "description": "renhice registry server"
        },
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "documentation": "FHIR R4 REST API over JSON. Errors are answered with OperationOutcome. Searches also answer POST [type]/_search; DocumentReference and List searches take _sort=date or -date; every search takes _count (at most 200) and _total=accurate.",
            "security": {
                "cors": false,
                "service": [{
                    "coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "OAuth"
                    }]
                }],
                "description": "Every interaction but this statement needs an ES256 bearer JWT with IHE IUA claims signed by the registry (its keys at /auth/jwks). A SIHCE writes only for its own IPRESS; without consent a SIHCE or clinician reads only its own IPRESS's entries; emergency access (purpose_of_use ETREAT with a reason) shows every IPRESS's record locations and summaries, without the entries another IPRESS labelled sensitive; a patient reads only their own records. Refusals are 401 (token) or 403 naming the rule. A patient's Consent opens their records to another IPRESS or clinician. Every interaction, allowed or refused, is audited (AuditEvent, BALP), in the transaction of the change it records."
            },
            "resource": std::iter::once(audit_event())
                .chain(crate::fhir::SERVED.iter().map(|t| resource(t)))
                .collect::<Vec<_>>(),
            "interaction": [{
                "code": "transaction",
                "documentation": "IHE MHD ITI-65: a SubmissionSet List, DocumentReferences and optional Provenance, atomic and idempotent per masterIdentifier"
            }, {
                "code": "batch",
                "documentation": "Independent identity-feed requests: POST, PUT (also conditional) of Patient and Organization, GET by id"
            }],
            "operation": [{
                "name": "validate",
                "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate",
                "documentation": "POST [base]/$validate or [base]/[type]/$validate: the resource (or a Parameters with a resource parameter) checked against FHIR R4; 200 with an OperationOutcome naming each issue's element path and rule"
            }]
        }]
    })
}
