//! `GET /fhir/metadata`: the CapabilityStatement.
//!
//! It claims only what this build really serves; each feature that lands adds its
//! resources, interactions and operations here, and the API tests check the claims.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use renhice_model::FHIR_VERSION;

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
            "documentation": "FHIR R4 REST API over JSON. Errors are answered with OperationOutcome.",
            "resource": crate::fhir::SERVED.iter().map(|t| json!({
                "type": t,
                "profile": match *t {
                    "Patient" => renhice_model::peru::url::PACIENTE_PE,
                    _ => renhice_model::peru::url::ORGANIZACION_PE,
                },
                "interaction": [
                    {"code": "read"}, {"code": "vread"}, {"code": "update"},
                    {"code": "history-instance"}, {"code": "create"}
                ],
                "versioning": "versioned-update",
                "readHistory": true,
                "updateCreate": true,
                "conditionalCreate": false,
                "conditionalUpdate": true,
                "conditionalDelete": "not-supported"
            })).collect::<Vec<_>>()
        }]
    })
}
