//! Profiles: the bundled ones load (snapshots generated from their differentials), their
//! examples are valid, an example is held to its profile, and differentials that cannot
//! be applied are refused with the element and the reason.

use std::path::{Path, PathBuf};

use renhice_model::IssueSeverity;
use renhice_validator::{
    DefinitionError, Definitions, DifferentialError, ElementError, ProfileError, Validator,
};
use serde_json::{Value, json};

fn profiles_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../profiles")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "json")
        })
        .collect();
    files.sort();
    files
}

fn errors(issues: &[renhice_model::OperationOutcomeIssue]) -> Vec<String> {
    issues
        .iter()
        .filter(|issue| matches!(issue.severity, IssueSeverity::Error | IssueSeverity::Fatal))
        .map(|issue| format!("{:?} {:?}", issue.expression, issue.diagnostics))
        .collect()
}

#[test]
fn every_conformance_file_under_profiles_is_compiled_in() {
    let mut on_disk = Vec::new();
    for directory in ["pe", "renhice"] {
        for file in json_files(&profiles_dir().join(directory)) {
            let name = file.file_name().unwrap().to_str().unwrap();
            on_disk.push(format!("{directory}/{name}"));
        }
    }
    assert_eq!(Definitions::bundled_files(), on_disk);
    assert!(on_disk.len() >= 20, "{on_disk:?}");
}

#[test]
fn the_bundled_profiles_get_snapshots_with_their_slices() {
    let definitions = Definitions::renhice();
    let pe = "https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/";
    for name in [
        "PacientePe",
        "PractitionerPe",
        "OrganizacionPe",
        "CompositionPe",
        "BundlePe",
        "ConditionPe",
        "pe-pais",
        "pe-ubigeo",
        "pe-tercerapellido",
    ] {
        let profile = definitions.by_url(&format!("{pe}{name}")).unwrap();
        assert!(profile.is_profile(), "{name}");
    }
    let patient = definitions.by_url(&format!("{pe}PacientePe")).unwrap();
    // The data-type children the profile constrains are in its snapshot, under the
    // element's path; the slice too, after the element it slices.
    let slice = patient
        .element("Patient.identifier.type.extension:pais_emisor")
        .unwrap();
    assert_eq!((slice.min, slice.max.as_deref()), (1, Some("1")));
    assert_eq!(slice.path, "Patient.identifier.type.extension");
    let sliced = patient
        .position("Patient.identifier.type.extension")
        .unwrap();
    assert_eq!(patient.slices(sliced).len(), 1);
    assert_eq!(patient.element("Patient.identifier.value").unwrap().min, 1);
    assert_eq!(patient.element("Patient.identifier.use").unwrap().min, 0);
    // What the profile leaves alone is the base's.
    assert_eq!(
        patient
            .element("Patient.gender")
            .unwrap()
            .binding
            .as_ref()
            .unwrap()
            .strength,
        "required"
    );
    // Value sets are expanded from their code systems.
    let countries = definitions
        .value_set("https://www.gob.pe/minsa/RENHICE/fhir/ValueSet/PaisesVS")
        .unwrap();
    let renhice_validator::ValueSetCodes::Codes(codes) = countries else {
        panic!("PaisesVS is not expanded");
    };
    assert!(codes.contains(
        Some("https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/PaisesCS"),
        "PER"
    ));
    assert!(codes.len() > 240);
}

#[test]
fn the_examples_of_the_profiles_are_valid_against_them() {
    let validator = Validator::renhice();
    let mut checked = 0;
    for directory in ["pe", "renhice"] {
        for file in json_files(&profiles_dir().join(directory).join("examples")) {
            let resource: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
            assert!(
                resource["meta"]["profile"].is_array(),
                "{}: an example claims its profile",
                file.display()
            );
            let issues = validator.validate(&resource);
            // Nothing at all: no error, no warning, no profile left unknown.
            assert!(issues.is_empty(), "{}: {issues:#?}", file.display());
            checked += 1;
        }
    }
    assert!(checked >= 9);
}

#[test]
fn a_resource_is_held_to_the_profiles_it_claims_only_when_they_are_known() {
    let path = profiles_dir().join("pe/examples/Patient-ejemplo-paciente.json");
    let mut patient: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    patient.as_object_mut().unwrap().remove("identifier");
    // R4 alone does not know PacientePe: it says so and checks the core.
    let core = Validator::r4().validate(&patient);
    assert!(errors(&core).is_empty(), "{core:#?}");
    assert!(
        core.iter()
            .any(|issue| issue.severity == IssueSeverity::Information
                && issue.expression == ["Patient.meta.profile[0]"]),
        "{core:#?}"
    );
    let profiled = Validator::renhice().validate(&patient);
    assert_eq!(
        errors(&profiled),
        [
            r#"["Patient.identifier"] Some("Patient.identifier is required: at least 1 value(s), found 0")"#
        ],
    );
}

fn profile(differential: &Value) -> Value {
    json!({
        "resourceType": "StructureDefinition",
        "url": "http://example.org/StructureDefinition/test",
        "name": "Test",
        "type": "Patient",
        "kind": "resource",
        "abstract": false,
        "derivation": "constraint",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
        "differential": {"element": differential}
    })
}

#[test]
fn differentials_that_cannot_be_applied_are_refused_with_the_element() {
    let cases = [
        (
            json!([{"id": "Patient.nickname", "path": "Patient.nickname", "min": 1}]),
            "Patient.nickname: Patient has no child nickname",
        ),
        (
            json!([{"id": "Patient.name:official", "path": "Patient.name", "sliceName": "official"}]),
            "Patient.name:official slices Patient.name, which has no slicing",
        ),
        (
            json!([{"id": "Patient.gender", "path": "Patient.gender", "max": "2"}]),
            "Patient.gender: max 2 is above the base's 1",
        ),
        (
            json!([{"id": "Patient.deceased[x].foo", "path": "Patient.deceased[x].foo"}]),
            "Patient.deceased[x] has 2 types: restrict it to one before constraining its children",
        ),
        (
            json!([{"id": "Patient.gender", "path": "Patient.gender", "type": [{"code": "string"}]}]),
            "Patient.gender: type string is not one the base allows",
        ),
    ];
    for (differential, expected) in cases {
        let mut definitions = Definitions::r4().clone();
        let error = definitions
            .add_profile(&profile(&differential))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("http://example.org/StructureDefinition/test: {expected}")
        );
    }
    // The errors say which element and why, to match on.
    let mut definitions = Definitions::r4().clone();
    let error = definitions
        .add_profile(&profile(
            &json!([{"id": "Patient.gender", "path": "Patient.gender", "max": "2"}]),
        ))
        .unwrap_err();
    assert!(
        matches!(
            &error,
            DefinitionError::Profile {
                source: ProfileError::Differential {
                    id,
                    source: DifferentialError::MaxAboveBase { max, base: 1 },
                },
                ..
            } if id == "Patient.gender" && max == "2"
        ),
        "{error:?}"
    );
    let error = definitions
        .add_profile(&profile(
            &json!([{"id": "Patient.nickname", "path": "Patient.nickname", "min": 1}]),
        ))
        .unwrap_err();
    assert!(
        matches!(
            &error,
            DefinitionError::Profile {
                source: ProfileError::Element(ElementError::NoChild { parent, name, .. }),
                ..
            } if parent == "Patient" && name == "nickname"
        ),
        "{error:?}"
    );
    let mut definitions = Definitions::r4().clone();
    let mut unknown_base = profile(&json!([]));
    unknown_base["baseDefinition"] = json!("http://example.org/nothing");
    let error = definitions
        .add_conformance_resources(&[unknown_base])
        .unwrap_err();
    assert!(
        matches!(
            &error,
            DefinitionError::UnknownBases { profiles }
                if profiles == &[(
                    "http://example.org/StructureDefinition/test".to_owned(),
                    "http://example.org/nothing".to_owned(),
                )]
        ),
        "{error:?}"
    );
}
