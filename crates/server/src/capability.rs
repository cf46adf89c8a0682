//! `GET /fhir/metadata`: the CapabilityStatement.
//!
//! It claims only what this build really serves; each feature that lands adds its
//! resources, interactions and operations here, and the API tests check the claims.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use renhice_model::FHIR_VERSION;
use renhice_registry::ResourceType;
use renhice_registry::params::{self, Visibility};

use crate::routes::{self, Kind, Route};

/// The order FHIR lists a type's interactions in.
const ORDER: [&str; 7] = [
    "read",
    "vread",
    "update",
    "history-instance",
    "history-type",
    "create",
    "search-type",
];

/// One `rest.resource`, from the routes table: its interactions (with what the table
/// says of them), operations and search parameters.
fn resource(t: ResourceType) -> Value {
    let routes: Vec<&Route> = routes::of_type(t).collect();
    let mut interactions: Vec<Value> = Vec::new();
    for code in ORDER {
        let mut docs: Vec<&str> = routes
            .iter()
            .filter(|r| r.kind.code() == code && !matches!(r.kind, Kind::Operation { .. }))
            .map(|r| r.doc)
            .filter(|d| !d.is_empty())
            .collect();
        if routes.iter().any(|r| r.kind.code() == code) {
            docs.dedup();
            let mut i = json!({"code": code});
            // A conditional update is said under conditionalUpdate, not here.
            if let Some(doc) = docs.first().filter(|_| code != "update" || !conditional(t)) {
                i["documentation"] = json!(doc);
            }
            interactions.push(i);
        }
    }
    let mut r = json!({
        "type": t.as_str(),
        "interaction": interactions,
    });
    if t == ResourceType::AuditEvent {
        r["profile"] =
            json!("https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.Read");
        r["documentation"] = json!(
            "The registry's own audit trail, newest first: an auditor reads all of it; a patient the events about their own records."
        );
    } else {
        r["versioning"] = json!("versioned-update");
        r["readHistory"] = json!(true);
    }
    if let Some(profile) = match t {
        ResourceType::Patient => Some(renhice_model::peru::url::PACIENTE_PE),
        ResourceType::Organization => Some(renhice_model::peru::url::ORGANIZACION_PE),
        _ => None,
    } {
        r["profile"] = json!(profile);
    }
    let writes = |code: &str| routes.iter().any(|r| r.kind.code() == code);
    if writes("create") && t != ResourceType::Bundle {
        r["updateCreate"] = json!(writes("update"));
        r["conditionalCreate"] = json!(false);
        r["conditionalUpdate"] = json!(conditional(t));
        r["conditionalDelete"] = json!("not-supported");
    }
    let params = search_params(t.as_str());
    if !params.is_empty() {
        r["searchParam"] = json!(params);
    }
    if t == ResourceType::DocumentReference {
        r["searchInclude"] = json!(["DocumentReference:custodian"]);
    }
    let mut operations: Vec<Value> = Vec::new();
    for route in &routes {
        if let Kind::Operation { name, definition } = route.kind
            && !operations.iter().any(|o| o["name"] == name)
        {
            operations.push(json!({"name": name, "definition": definition}));
        }
    }
    // FHIR JSON has no empty arrays.
    if !operations.is_empty() {
        r["operation"] = json!(operations);
    }
    r
}

/// Whether a type takes a conditional update (`PUT /fhir/{type}?…`).
fn conditional(t: ResourceType) -> bool {
    routes::of_type(t).any(|r| r.path == "/fhir/{type}" && r.kind == Kind::Update)
}

/// The `searchParam` entries of a type: the listed parameters of the table.
fn search_params(resource_type: &str) -> Vec<Value> {
    resource_type
        .parse::<ResourceType>()
        .map(|t| {
            params::of(t)
                .filter(|p| p.visibility == Visibility::Listed)
                .map(|p| json!({"name": p.name, "type": p.kind.code(), "documentation": p.description}))
                .collect()
        })
        .unwrap_or_default()
}

/// SMART's extension naming the OAuth endpoints in the CapabilityStatement (SMART App
/// Launch 2.0 §2.0.2, kept for clients, such as fhirclient's backend-services flow, that
/// look there rather than at `/.well-known/smart-configuration`).
const OAUTH_URIS: &str = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris";

/// Builds the CapabilityStatement once, at start-up; `issuer` is the registry's OAuth
/// issuer (`…/auth`), under which its endpoints are; `cors`, whether any origin is
/// allowed (`server.cors_allowed_origins`).
pub(crate) fn capability_statement(started: OffsetDateTime, issuer: &str, cors: bool) -> Value {
    let issuer = issuer.trim_end_matches('/');
    let endpoint =
        |name: &str, path: &str| json!({"url": name, "valueUri": format!("{issuer}/{path}")});
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
            "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>renhice: the national registry of electronic health records (RENHICE). A FHIR R4 server in JSON and XML: which IPRESS holds which records of which patient (IHE MHD, PIXm, PDQm), the patients' basic clinical information, consents and the audit trail.</p></div>"
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
        "format": ["application/fhir+json", "json", "application/fhir+xml", "xml"],
        "rest": [{
            "mode": "server",
            "documentation": "FHIR R4 REST API in JSON and XML (Accept or _format). Errors are answered with OperationOutcome. Searches also answer POST [type]/_search; DocumentReference and List searches take _sort=date or -date; every search takes _count (at most 200) and _total=accurate.",
            "security": {
                "extension": [{
                    "url": OAUTH_URIS,
                    "extension": [
                        endpoint("token", "token"),
                        endpoint("authorize", "authorize"),
                        endpoint("revoke", "revoke"),
                        endpoint("introspect", "introspect")
                    ]
                }],
                "cors": cors,
                "service": [{
                    "coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "OAuth"
                    }]
                }],
                "description": "Every interaction but this statement needs an ES256 bearer JWT with IHE IUA claims signed by the registry (its keys at /auth/jwks). A SIHCE writes only for its own IPRESS; without consent a SIHCE or clinician reads only its own IPRESS's entries; emergency access (purpose_of_use ETREAT with a reason) shows every IPRESS's record locations and summaries, without the entries another IPRESS labelled sensitive; a patient reads only their own records. Refusals are 401 (token) or 403 naming the rule. A patient's Consent opens their records to another IPRESS or clinician. Every interaction, allowed or refused, is audited (AuditEvent, BALP), in the transaction of the change it records."
            },
            "resource": ResourceType::ALL
                .into_iter()
                .filter(|t| routes::of_type(*t).next().is_some())
                .map(resource)
                .collect::<Vec<_>>(),
            "interaction": routes::system()
                .filter(|r| r.kind == Kind::Transaction)
                .flat_map(|r| {
                    [
                        json!({"code": "transaction", "documentation": r.doc}),
                        json!({"code": "batch", "documentation": "Independent identity-feed requests: POST, PUT (also conditional) of Patient and Organization, GET by id"}),
                    ]
                })
                .collect::<Vec<_>>(),
            "operation": routes::system()
                .filter_map(|r| match r.kind {
                    Kind::Operation { name, definition } => Some(json!({"name": name, "definition": definition, "documentation": r.doc})),
                    _ => None,
                })
                .collect::<Vec<_>>()
        }]
    })
}
