//! Every resource in the vendored FHIR R4 definitions (StructureDefinitions, ValueSets,
//! CodeSystems, SearchParameters, OperationDefinitions, …) survives a strict parse and
//! a write unchanged.

use renhice_model::resources::Resource;

use crate::{root, round_trip};

#[test]
fn every_vendored_definition_round_trips() {
    let dir = root().join("profiles/r4");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.ends_with(".json") && name != "fhir.schema.json"
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 8,
        "expected the vendored bundles in {}",
        dir.display()
    );
    let mut resources = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let Resource::Bundle(bundle) = round_trip(&name, &text) else {
            panic!("{name} is not a Bundle");
        };
        resources += bundle.entry.len();
    }
    // 63 types + 203 resources + 1169 terminology + 1378 search parameters.
    assert_eq!(resources, 2813);
}
