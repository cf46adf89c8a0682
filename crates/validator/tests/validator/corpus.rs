//! Broken resources, one per rule (`tests/corpus/`, listed with the defect seeded in
//! each in `manifest.json`): each is caught with its rule and element path, and nothing
//! else in it is reported as an error but what the manifest lists in `also` (with why).

use std::path::Path;

use renhice_model::IssueSeverity;
use renhice_validator::{Mode, RULE_SYSTEM, Validator};
use serde_json::Value;

fn corpus() -> (std::path::PathBuf, Vec<Value>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let manifest: Vec<Value> =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    (dir, manifest)
}

fn rule_of(issue: &renhice_model::OperationOutcomeIssue) -> Option<&str> {
    issue
        .details
        .as_ref()?
        .coding
        .iter()
        .find(|coding| {
            coding
                .system
                .as_ref()
                .and_then(renhice_model::Primitive::as_str)
                == Some(RULE_SYSTEM)
        })?
        .code
        .as_ref()
        .and_then(renhice_model::Primitive::as_str)
}

#[test]
fn every_seeded_defect_is_found_with_its_rule_and_path() {
    let (dir, manifest) = corpus();
    assert!(manifest.len() >= 20);
    let validator = Validator::renhice();
    let mut failures = Vec::new();
    for case in &manifest {
        let file = case["file"].as_str().unwrap();
        let (rule, path) = (
            case["rule"].as_str().unwrap(),
            case["path"].as_str().unwrap(),
        );
        // A case may ask for a profile; others are checked against what they claim.
        let profiles: Vec<String> = case["profile"]
            .as_str()
            .map(str::to_owned)
            .into_iter()
            .collect();
        let issues =
            validator.validate_json_against(&std::fs::read(dir.join(file)).unwrap(), &profiles);
        let errors: Vec<_> = issues
            .iter()
            .filter(|issue| issue.severity == IssueSeverity::Error)
            .collect();
        let expected_path: Vec<&str> = if path.is_empty() {
            Vec::new()
        } else {
            vec![path]
        };
        let found = errors
            .iter()
            .any(|issue| rule_of(issue) == Some(rule) && issue.expression == expected_path);
        let also: Vec<(&str, &str)> = case["also"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|other| {
                (
                    other["rule"].as_str().unwrap(),
                    other["path"].as_str().unwrap(),
                )
            })
            .collect();
        let others: Vec<_> = errors
            .iter()
            .filter(|issue| issue.expression != expected_path)
            .filter(|issue| {
                !also
                    .iter()
                    .any(|(rule, path)| rule_of(issue) == Some(rule) && issue.expression == [*path])
            })
            .map(|issue| format!("{:?} {:?}", issue.expression, issue.diagnostics))
            .collect();
        if !found || !others.is_empty() {
            failures.push(format!(
                "{file}: expected {rule} at {path:?}; got {:#?}",
                issues
                    .iter()
                    .map(|issue| (rule_of(issue), &issue.expression, &issue.diagnostics))
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn lenient_mode_makes_unknown_elements_warnings() {
    let (dir, _) = corpus();
    let bytes = std::fs::read(dir.join("unknown-element.json")).unwrap();
    let strict = Validator::r4().validate_json(&bytes);
    assert_eq!(
        renhice_validator::worst(&strict),
        Some(IssueSeverity::Error)
    );
    let lenient = Validator::r4()
        .with_mode(Mode::Lenient)
        .validate_json(&bytes);
    assert_eq!(
        renhice_validator::worst(&lenient),
        Some(IssueSeverity::Warning)
    );
    assert_eq!(lenient[0].expression, vec!["Patient.colour"]);
}

#[test]
fn text_that_is_not_json_is_one_fatal_issue_with_its_position() {
    let issues =
        Validator::r4().validate_json(b"{\"resourceType\": \"Patient\",\n  \"active\": tru}");
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].severity, IssueSeverity::Fatal);
    assert!(
        issues[0].diagnostics.as_deref().unwrap().contains("line 2"),
        "{issues:?}"
    );
}

/// Primitive rules the R4 patterns alone do not hold: real days, 32-bit integers, and
/// strings with any character but the controls other than tab, CR and LF (a no-break
/// space is text, a NUL is not).
#[test]
fn primitives_are_held_to_what_fhir_means() {
    let errors = |resource: Value| -> Vec<String> {
        Validator::r4()
            .validate(&resource)
            .into_iter()
            .filter(|i| matches!(i.severity, IssueSeverity::Error | IssueSeverity::Fatal))
            .map(|i| {
                format!(
                    "{}: {}",
                    i.expression.join(","),
                    i.diagnostics.unwrap_or_default()
                )
            })
            .collect()
    };
    let patient = |extra: Value| {
        let mut p = serde_json::json!({"resourceType": "Patient"});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    for (bad, at) in [
        (
            serde_json::json!({"birthDate": "1990-02-30"}),
            "Patient.birthDate",
        ),
        (
            serde_json::json!({"birthDate": "1990-13-01"}),
            "Patient.birthDate",
        ),
        (
            serde_json::json!({"birthDate": "2023-02-29"}),
            "Patient.birthDate",
        ),
        (
            serde_json::json!({"deceasedDateTime": "2024-04-31T10:00:00Z"}),
            "Patient.deceased",
        ),
        (
            serde_json::json!({"multipleBirthInteger": 2_147_483_648_i64}),
            "Patient.multipleBirth",
        ),
        (
            serde_json::json!({"name": [{"family": "Quispe\u{0}"}]}),
            "Patient.name[0].family",
        ),
        (
            serde_json::json!({"name": [{"family": "Quis\u{1b}pe"}]}),
            "Patient.name[0].family",
        ),
    ] {
        let found = errors(patient(bad.clone()));
        assert!(
            found.iter().any(|e| e.starts_with(at)),
            "{bad} must be an error at {at}: {found:?}"
        );
    }
    for good in [
        serde_json::json!({"birthDate": "2024-02-29"}),
        serde_json::json!({"birthDate": "1990-02"}),
        serde_json::json!({"multipleBirthInteger": 2_147_483_647_i64}),
        serde_json::json!({"name": [{"family": "Quispe\u{a0}Mamani", "text": "línea\r\nsiguiente\tcon tab"}]}),
    ] {
        let found = errors(patient(good.clone()));
        assert!(found.is_empty(), "{good} is valid: {found:?}");
    }
}
