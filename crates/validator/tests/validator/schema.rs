//! The JSON-schema pass (HL7's JSON Schema of R4): valid examples pass, and the
//! structural defects JSON alone can show are found at their element paths.

use std::path::Path;

use renhice_validator::{SCHEMA_RULE, SchemaPass};
use serde_json::{Value, json};

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn every_official_and_profile_example_passes_the_schema() {
    let profiles = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../profiles");
    let mut checked = 0;
    for directory in ["r4/validation/examples", "pe/examples", "renhice/examples"] {
        for entry in std::fs::read_dir(profiles.join(directory)).unwrap() {
            let path = entry.unwrap().path();
            let issues = SchemaPass::r4().check(&read(&path));
            assert!(issues.is_empty(), "{}: {issues:#?}", path.display());
            checked += 1;
        }
    }
    assert!(checked > 220, "{checked}");
}

#[test]
fn structural_defects_are_found_at_their_paths() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    for (file, path) in [
        ("unknown-element.json", "Patient"),
        ("shape-array-for-single.json", "Patient.gender"),
        ("format-date.json", "Patient.birthDate"),
        ("structure-unknown-type.json", "Patient.resourceType"),
    ] {
        let resource = read(&corpus.join(file));
        let issues = SchemaPass::r4().check(&resource);
        assert!(!SchemaPass::r4().is_valid(&resource), "{file}");
        assert!(
            issues
                .iter()
                .any(|issue| issue.expression.first().map(String::as_str)
                    == Some(
                        path.replace(
                            "Patient",
                            resource["resourceType"].as_str().unwrap_or("Resource")
                        )
                        .as_str()
                    )
                    && issue.details.as_ref().is_some_and(|details| {
                        details.coding[0]
                            .code
                            .as_ref()
                            .and_then(renhice_model::Primitive::as_str)
                            == Some(SCHEMA_RULE)
                    })),
            "{file}: {issues:#?}"
        );
    }
    // A nested resource is held to its own type's definition.
    let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "gender": 3}}
    ]});
    let issues = SchemaPass::r4().check(&bundle);
    assert_eq!(
        issues
            .iter()
            .map(|issue| issue.expression[0].as_str())
            .collect::<Vec<_>>(),
        ["Bundle.entry[0].resource.gender"],
        "{issues:#?}"
    );
}
