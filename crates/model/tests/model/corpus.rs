//! The clinical corpus (`tests/corpus/*.json`, described in its README) survives a
//! strict parse and a write unchanged, with every resource type it covers.

use std::collections::BTreeSet;

use crate::{root, round_trip};

#[test]
fn every_corpus_resource_round_trips() {
    let dir = root().join("crates/model/tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut types = BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let resource = round_trip(&name, &text);
        // The file name starts with the resource type, so a file parsed as the wrong
        // resource (a dispatch bug) cannot pass.
        assert!(
            name.starts_with(&format!("{}-", resource.resource_type())),
            "{name} parsed as {}",
            resource.resource_type()
        );
        types.insert(resource.resource_type());
    }
    assert!(files.len() >= 47, "corpus shrank to {} files", files.len());
    for required in [
        "Patient",
        "Organization",
        "Practitioner",
        "DocumentReference",
        "List",
        "Bundle",
        "Composition",
        "Condition",
        "Observation",
        "AllergyIntolerance",
        "MedicationStatement",
        "Consent",
        "Provenance",
        "AuditEvent",
        "Parameters",
    ] {
        assert!(types.contains(required), "no {required} in the corpus");
    }
}
