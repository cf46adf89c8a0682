//! The official examples of FHIR R4 for the resources the registry deals with
//! (`profiles/r4/validation/examples`, copied byte for byte from HL7's package) are valid,
//! but for the defects HL7's own validator reports in them too (listed, with why).

use std::path::Path;

use renhice_model::IssueSeverity;
use renhice_validator::Validator;

/// Errors in HL7's examples, as `(file, element path, rule)`: each is a defect of the
/// example, not of the validator.
const KNOWN_DEFECTS: &[(&str, &str, &str)] = &[
    // `Observation.performer` may refer to Practitioner, PractitionerRole, Organization,
    // CareTeam, Patient or RelatedPerson; this example names its Encounter there (the
    // same reference as its `encounter`).
    (
        "Observation-clinical-gender.json",
        "Observation.performer[0]",
        "reference-target",
    ),
];

fn rule_of(issue: &renhice_model::OperationOutcomeIssue) -> Option<String> {
    let coding = issue.details.as_ref()?.coding.first()?;
    coding
        .code
        .as_ref()
        .and_then(renhice_model::Primitive::as_str)
        .map(str::to_owned)
}

#[test]
fn the_official_r4_examples_have_no_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../profiles/r4/validation/examples");
    let validator = Validator::r4();
    let mut failures = Vec::new();
    let mut count = 0;
    let mut found_defects = 0;
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    names.sort();
    for path in names {
        count += 1;
        let issues = validator.validate_json(&std::fs::read(&path).unwrap());
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let errors: Vec<_> = issues
            .iter()
            .filter(|issue| matches!(issue.severity, IssueSeverity::Error | IssueSeverity::Fatal))
            .filter(|issue| {
                let known = KNOWN_DEFECTS.iter().any(|(file, at, rule)| {
                    *file == name
                        && issue.expression == [*at]
                        && rule_of(issue).as_deref() == Some(*rule)
                });
                if known {
                    found_defects += 1;
                }
                !known
            })
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
    assert_eq!(
        found_defects,
        KNOWN_DEFECTS.len(),
        "every known defect is still found"
    );
    assert!(
        failures.is_empty(),
        "{} of {count} examples with errors:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
