//! The official examples of FHIR R4 for the resources the registry deals with
//! (`profiles/r4/validation/examples`, copied byte for byte from HL7's package) are valid.

use std::path::Path;

use renhice_model::IssueSeverity;
use renhice_validator::Validator;

#[test]
fn the_official_r4_examples_have_no_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../profiles/r4/validation/examples");
    let validator = Validator::r4();
    let mut failures = Vec::new();
    let mut count = 0;
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    names.sort();
    for path in names {
        count += 1;
        let issues = validator.validate_json(&std::fs::read(&path).unwrap());
        let errors: Vec<_> = issues
            .iter()
            .filter(|issue| matches!(issue.severity, IssueSeverity::Error | IssueSeverity::Fatal))
            .collect();
        if !errors.is_empty() {
            failures.push(format!(
                "{}: {}",
                path.file_name().unwrap().to_string_lossy(),
                errors
                    .iter()
                    .take(3)
                    .map(|issue| format!(
                        "{} {}",
                        issue.expression.join(","),
                        issue.diagnostics.as_deref().unwrap_or_default()
                    ))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
    }
    assert!(count > 200, "{count} examples only");
    assert!(
        failures.is_empty(),
        "{} of {count} examples with errors:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
