//! The JSON-schema pass: a resource checked against HL7's JSON Schema of FHIR R4
//! (`http://hl7.org/fhir/json-schema/4.0`, vendored by
//! `scripts/vendor-fhir-r4-schema.sh`) with the `jsonschema` crate.
//!
//! The schema catches what JSON alone can tell: unknown properties, JSON types, the
//! primitives' regular expressions, enumerated codes, required elements. It is a fast
//! first pass, and an independent check of the structural pass (a different reading of
//! the same specification). It knows nothing of invariants, bindings to large value
//! sets, profiles or slicing.
//!
//! HL7's schema chooses a resource's definition with a `oneOf` over every resource type
//! (and the same for each nested resource), which a validator must try one by one. The
//! schema also names `resourceType` as the discriminator of that choice; so, once, when
//! it is loaded, each `oneOf` over resources is rewritten into one `if resourceType is T
//! then T` per type (JSON Schema draft 7), which checks a resource against its own
//! definition only. Nothing else of the schema changes.

use std::sync::OnceLock;

use renhice_model::types::{CodeableConcept, Coding};
use renhice_model::{IssueSeverity, IssueType, OperationOutcomeIssue};
use serde_json::{Value, json};

use crate::validate::RULE_SYSTEM;

/// HL7's JSON Schema of R4.
const R4_SCHEMA: &str = include_str!("../../../profiles/r4/validation/fhir.schema.json");

/// The rule code of the JSON-schema pass's issues.
pub const SCHEMA_RULE: &str = "json-schema";

/// HL7's JSON Schema of FHIR R4, compiled.
pub struct SchemaPass {
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for SchemaPass {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SchemaPass(http://hl7.org/fhir/json-schema/4.0)")
    }
}

impl SchemaPass {
    /// The compiled schema, built on first use.
    ///
    /// # Panics
    /// Never for the vendored schema (a test compiles it).
    #[must_use]
    #[allow(
        clippy::expect_used,
        reason = "the schema is compiled in and compiled by every test: a failure is a build defect"
    )]
    pub fn r4() -> &'static Self {
        static SCHEMA: OnceLock<SchemaPass> = OnceLock::new();
        SCHEMA.get_or_init(|| {
            let mut schema: Value =
                serde_json::from_str(R4_SCHEMA).expect("the vendored R4 schema is JSON");
            discriminate(&mut schema);
            let validator = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft7)
                .build(&schema)
                .expect("the vendored R4 schema compiles");
            Self { validator }
        })
    }

    /// Whether `resource` conforms (faster than collecting the issues).
    #[must_use]
    pub fn is_valid(&self, resource: &Value) -> bool {
        self.validator.is_valid(resource)
    }

    /// What the schema finds wrong in `resource`, one error per failing keyword, with the
    /// element path (`Patient.name[0].given`) and the rule `json-schema`.
    #[must_use]
    pub fn check(&self, resource: &Value) -> Vec<OperationOutcomeIssue> {
        let root = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or("Resource");
        self.validator
            .iter_errors(resource)
            .map(|error| {
                let pointer = error.instance_path().to_string();
                let details = CodeableConcept {
                    coding: vec![Coding::new(RULE_SYSTEM, SCHEMA_RULE)],
                    ..CodeableConcept::default()
                };
                OperationOutcomeIssue::new(
                    IssueSeverity::Error,
                    IssueType::Structure,
                    format!("JSON schema: {error}"),
                )
                .with_details(details)
                .at(fhir_path(root, &pointer))
            })
            .collect()
    }
}

/// `/name/0/given` under a Patient → `Patient.name[0].given`.
fn fhir_path(root: &str, pointer: &str) -> String {
    let mut path = root.to_owned();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.bytes().all(|byte| byte.is_ascii_digit()) && !segment.is_empty() {
            path.push('[');
            path.push_str(&segment);
            path.push(']');
        } else {
            path.push('.');
            path.push_str(&segment);
        }
    }
    path
}

/// Rewrites the schema's `oneOf` over resource types (at its root and in
/// `definitions.ResourceList`) into a dispatch on `resourceType`.
fn discriminate(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    let names: Vec<String> = object
        .get("discriminator")
        .and_then(|discriminator| discriminator.get("mapping"))
        .and_then(Value::as_object)
        .map(|mapping| mapping.keys().cloned().collect())
        .unwrap_or_default();
    if names.is_empty() {
        return;
    }
    let branches: Vec<Value> = names
        .iter()
        .map(|name| {
            json!({
                "if": {"required": ["resourceType"], "properties": {"resourceType": {"const": name}}},
                "then": {"$ref": format!("#/definitions/{name}")}
            })
        })
        .collect();
    let dispatch = json!({
        "type": "object",
        "required": ["resourceType"],
        "properties": {"resourceType": {"enum": names}},
        "allOf": branches
    });
    object.remove("oneOf");
    object.remove("discriminator");
    object.insert(
        "$schema".into(),
        Value::String("http://json-schema.org/draft-07/schema#".into()),
    );
    if let Value::Object(dispatch) = &dispatch {
        for (key, value) in dispatch {
            object.insert(key.clone(), value.clone());
        }
    }
    if let Some(Value::Object(definitions)) = object.get_mut("definitions") {
        definitions.insert("ResourceList".into(), dispatch);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    /// The resource types HL7's schema maps `resourceType` to.
    const MAPPED: usize = 146;

    #[test]
    fn pointers_become_element_paths() {
        assert_eq!(fhir_path("Patient", ""), "Patient");
        assert_eq!(
            fhir_path("Patient", "/name/0/given/1"),
            "Patient.name[0].given[1]"
        );
        assert_eq!(
            fhir_path("Bundle", "/entry/2/resource/code"),
            "Bundle.entry[2].resource.code"
        );
    }

    #[test]
    fn every_choice_over_resources_becomes_a_dispatch() {
        let mut schema: Value = serde_json::from_str(R4_SCHEMA).unwrap();
        discriminate(&mut schema);
        assert!(schema.get("discriminator").is_none() && schema.get("oneOf").is_none());
        assert!(schema["definitions"]["ResourceList"].get("oneOf").is_none());
        let list = &schema["definitions"]["ResourceList"];
        let count = list["allOf"].as_array().unwrap().len();
        assert_eq!(count, MAPPED);
    }
}
