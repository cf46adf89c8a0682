//! FHIR XML: every vendored official example and every corpus resource written as XML
//! and read back is the same resource; the XML reader refuses what FHIR XML forbids.

use std::path::PathBuf;

use renhice_model::resources::Resource;

use crate::root;

fn json_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [
        "profiles/r4/validation/examples",
        "crates/model/tests/corpus",
    ] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn json_examples_survive_xml() {
    let files = json_files();
    assert!(files.len() >= 250, "only {} JSON examples", files.len());
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        let text = std::fs::read(file).unwrap();
        let resource = Resource::from_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let xml = resource
            .to_xml_string()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let back =
            Resource::from_xml(xml.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}\n{xml}"));
        assert!(
            back == resource,
            "{name}: the XML round trip changed the resource"
        );
        assert_eq!(
            back.to_xml_string().unwrap(),
            xml,
            "{name}: written twice differently"
        );
    }
}
