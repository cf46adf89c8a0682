//! Every Peruvian identifier and ubigeo in the clinical corpus reads with
//! `renhice_model::peru`, and what the helpers write reads back the same.

use renhice_model::json::{Mode, from_str};
use renhice_model::peru::{Colegiatura, PersonId, Renipress, Ubigeo, url};
use renhice_model::types::{Address, Identifier};
use serde_json::Value;

use crate::root;

/// Every JSON object in `v` (depth first).
fn objects<'a>(v: &'a Value, out: &mut Vec<&'a serde_json::Map<String, Value>>) {
    match v {
        Value::Object(map) => {
            out.push(map);
            map.values().for_each(|x| objects(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| objects(x, out)),
        _ => {}
    }
}

fn typed_by(map: &serde_json::Map<String, Value>, system: &str) -> bool {
    map.get("type")
        .and_then(|t| t.get("coding"))
        .and_then(Value::as_array)
        .is_some_and(|codings| codings.iter().any(|c| c["system"] == system))
}

#[test]
fn the_corpus_identifiers_and_ubigeos_read_with_the_helpers() {
    let (mut people, mut facilities, mut colegiaturas, mut ubigeos) = (0, 0, 0, 0);
    let mut keys = std::collections::BTreeSet::new();
    let dir = root().join("crates/model/tests/corpus");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let json: Value = serde_json::from_str(&text).unwrap();
        let mut all = Vec::new();
        objects(&json, &mut all);
        for map in all {
            let object = Value::Object(map.clone()).to_string();
            let name = path.display();
            if typed_by(map, url::CS_IDS_PERSONA) {
                let identifier: Identifier = from_str(&object, Mode::Strict).unwrap();
                let id = PersonId::from_identifier(&identifier)
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
                    .unwrap();
                // Written by the helper, read back: the same document.
                assert_eq!(
                    PersonId::from_identifier(&id.to_identifier()),
                    Ok(Some(id.clone()))
                );
                keys.insert(id.key());
                people += 1;
            }
            // Typed as the guide asks, or by the corpus's illustrative system.
            let renipress_system = map.get("system").and_then(Value::as_str)
                == Some("https://www.gob.pe/minsa/RENHICE/fhir/sid/renipress");
            if typed_by(map, url::CS_IPRESS) || renipress_system {
                let identifier: Identifier = from_str(&object, Mode::Strict).unwrap();
                let code = Renipress::parse(identifier.value_str().unwrap())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(code.to_identifier().value_str(), Some(code.as_str()));
                facilities += 1;
            }
            if typed_by(map, url::CS_COLEGIOS) {
                let identifier: Identifier = from_str(&object, Mode::Strict).unwrap();
                Colegiatura::from_identifier(&identifier)
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
                    .unwrap();
                colegiaturas += 1;
            }
            let has_ubigeo = map
                .get("extension")
                .and_then(Value::as_array)
                .is_some_and(|x| x.iter().any(|e| e["url"] == url::EXT_UBIGEO));
            if has_ubigeo && map.contains_key("line") {
                let address: Address = from_str(&object, Mode::Strict).unwrap();
                Ubigeo::from_address(&address)
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
                    .unwrap();
                ubigeos += 1;
            }
        }
    }
    assert!(people >= 10, "{people} identity documents");
    assert!(facilities >= 3, "{facilities} RENIPRESS identifiers");
    assert!(colegiaturas >= 1, "{colegiaturas} colegiaturas");
    assert!(ubigeos >= 5, "{ubigeos} ubigeos");
    // DNI, carné de extranjería and a foreign passport are all there.
    for prefix in ["1|PER|", "2|PER|", "3|VEN|"] {
        assert!(
            keys.iter().any(|k| k.starts_with(prefix)),
            "no {prefix} in {keys:?}"
        );
    }
}
