//! `renhice validate` on files: verdicts, exit codes, text and JSON output.

use serde_json::{Value, json};

use crate::command;

fn run(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = command(dir).arg("validate").args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn the_exit_code_is_the_worst_severity_found() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, value: &Value| {
        std::fs::write(dir.path().join(name), value.to_string()).unwrap();
    };
    write(
        "valid.json",
        &json!({
            "resourceType": "Patient",
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Rosa</div>"},
            "gender": "female",
            "birthDate": "1990-04-01"
        }),
    );
    write(
        "invalid.json",
        &json!({"resourceType": "Patient", "gender": "femenino", "colour": "green"}),
    );
    write(
        "unknown.json",
        &json!({"resourceType": "Patient", "colour": "green"}),
    );
    std::fs::write(dir.path().join("broken.json"), "{\"resourceType\": ").unwrap();

    let (code, text) = run(dir.path(), &["valid.json"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("valid.json: valid"), "{text}");

    let (code, text) = run(dir.path(), &["valid.json", "invalid.json"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("invalid.json: 2 error(s), 1 warning(s)"),
        "{text}"
    );
    // An invariant of R4 (a warning: no narrative).
    assert!(text.contains("warning [dom-6] Patient"), "{text}");
    assert!(
        text.contains("[required-binding] Patient.gender: \"femenino\" is not a code of http://hl7.org/fhir/ValueSet/administrative-gender"),
        "{text}"
    );
    assert!(text.contains("[unknown-element] Patient.colour"), "{text}");

    let (code, text) = run(dir.path(), &["--lenient", "unknown.json"]);
    assert_eq!(code, 3, "{text}");
    let (code, text) = run(dir.path(), &["unknown.json", "broken.json"]);
    assert_eq!(code, 5, "{text}");
    assert!(text.contains("not JSON"), "{text}");
    let (code, text) = run(dir.path(), &["missing.json"]);
    assert_eq!(code, 5, "{text}");
    assert!(text.contains("cannot read the file"), "{text}");

    let (code, text) = run(dir.path(), &["--output", "json", "invalid.json"]);
    assert_eq!(code, 1);
    let reports: Value = serde_json::from_str(&text).unwrap();
    let outcome = &reports[0]["outcome"];
    assert_eq!(reports[0]["file"], "invalid.json");
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(outcome["issue"][0]["severity"], "error");
    assert_eq!(outcome["issue"][0]["expression"][0], "Patient.gender");
    assert_eq!(
        outcome["issue"][0]["details"]["coding"][0]["code"],
        "required-binding"
    );
}

#[test]
fn a_profile_asked_for_is_checked_and_an_unknown_one_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    // The MINSA example patient, from the repository: valid against PacientePe.
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("profiles/pe/examples/Patient-ejemplo-paciente.json");
    let mut patient: Value = serde_json::from_slice(&std::fs::read(&example).unwrap()).unwrap();
    patient.as_object_mut().unwrap().remove("meta");
    std::fs::write(dir.path().join("patient.json"), patient.to_string()).unwrap();
    patient["identifier"][0]["type"]["coding"][0]["code"] = json!("7");
    std::fs::write(dir.path().join("wrong-kind.json"), patient.to_string()).unwrap();
    let paciente = "https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/PacientePe";

    let (code, text) = run(dir.path(), &["--profile", paciente, "patient.json"]);
    assert_eq!(code, 0, "{text}");
    // R4 alone has no binding on the kind of identity document: only the profile does.
    let (code, text) = run(dir.path(), &["wrong-kind.json"]);
    assert_eq!(code, 0, "{text}");
    let (code, text) = run(dir.path(), &["--profile", paciente, "wrong-kind.json"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("[required-binding] Patient.identifier[0].type.coding[0].code"),
        "{text}"
    );
    let (code, text) = run(
        dir.path(),
        &["--profile", "http://example.org/nothing", "patient.json"],
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("is not a profile known here"), "{text}");
    assert!(text.contains(paciente), "{text}");
}

#[test]
fn the_schema_pass_alone_checks_structure_only() {
    let dir = tempfile::tempdir().unwrap();
    // No invariant is checked (org-1: an Organization needs a name or an identifier)…
    std::fs::write(
        dir.path().join("nameless.json"),
        json!({"resourceType": "Organization", "active": true}).to_string(),
    )
    .unwrap();
    // …but unknown elements are.
    std::fs::write(
        dir.path().join("unknown.json"),
        json!({"resourceType": "Patient", "colour": "green"}).to_string(),
    )
    .unwrap();
    let (code, text) = run(dir.path(), &["--schema-only", "nameless.json"]);
    assert_eq!(code, 0, "{text}");
    let (code, text) = run(dir.path(), &["nameless.json"]);
    assert_eq!(code, 1, "{text}");
    let (code, text) = run(dir.path(), &["--schema-only", "unknown.json"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("[json-schema] Patient"), "{text}");
}
