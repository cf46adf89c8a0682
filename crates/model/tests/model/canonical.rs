//! Canonical JSON (FHIR R4 §2.6.2.6): a hand-written known answer, every corpus
//! resource against an independent implementation over the test's own JSON reader,
//! and what each method must and must not cover.

use renhice_model::canonical::{CanonicalError, Canonicalization};
use renhice_model::resources::Resource;

use crate::json_compare::{self, Json};
use crate::root;

/// The canonical form computed independently: the input decoded by the test's reader,
/// the root members of `method` removed, written back with sorted keys (`BTreeMap`),
/// numbers by their text and strings re-escaped by `serde_json`.
fn oracle(text: &str, method: Canonicalization) -> String {
    let Json::Object(mut root) = json_compare::parse(text) else {
        panic!("not an object");
    };
    let drop: &[&str] = match method {
        Canonicalization::Json => &[],
        Canonicalization::Data => &["text"],
        Canonicalization::Static => &["text", "meta"],
        Canonicalization::Narrative => {
            root.retain(|k, _| matches!(k.as_str(), "resourceType" | "id" | "text"));
            &[]
        }
        Canonicalization::Document => &["id", "meta", "signature"],
    };
    for name in drop {
        root.remove(*name);
    }
    let mut out = String::new();
    write(&Json::Object(root), &mut out);
    out
}

fn write(v: &Json, out: &mut String) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(n),
        Json::String(s) => out.push_str(&serde_json::to_string(s).unwrap()),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Json::Object(members) => {
            out.push('{');
            for (i, (k, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push(':');
                write(item, out);
            }
            out.push('}');
        }
    }
}

fn canonical(resource: &Resource, method: Canonicalization) -> String {
    String::from_utf8(resource.to_canonical_json(method).unwrap()).unwrap()
}

#[test]
fn a_known_answer_written_by_hand() {
    let text = r#"{
      "resourceType": "Observation",
      "id": "peso",
      "meta": {"versionId": "2", "lastUpdated": "2026-11-23T10:00:00-05:00"},
      "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Peso: 70.50 kg</div>"},
      "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}], "text": "Peso \"corporal\""},
      "subject": {"reference": "Patient/p1"},
      "effectiveDateTime": "2026-11-23",
      "_effectiveDateTime": {"id": "e1"},
      "valueQuantity": {"value": 70.50, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}
    }"#;
    let resource = Resource::from_json(text.as_bytes()).unwrap();
    let body = concat!(
        r#""_effectiveDateTime":{"id":"e1"},"#,
        r#""code":{"coding":[{"code":"29463-7","system":"http://loinc.org"}],"text":"Peso \"corporal\""},"#,
        r#""effectiveDateTime":"2026-11-23","id":"peso","#
    );
    let meta = r#""meta":{"lastUpdated":"2026-11-23T10:00:00-05:00","versionId":"2"},"#;
    let rest =
        r#""resourceType":"Observation","status":"final","subject":{"reference":"Patient/p1"},"#;
    let narrative = r#""text":{"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Peso: 70.50 kg</div>","status":"generated"},"#;
    let value = r#""valueQuantity":{"code":"kg","system":"http://unitsofmeasure.org","unit":"kg","value":70.50}"#;
    assert_eq!(
        canonical(&resource, Canonicalization::Json),
        format!("{{{body}{meta}{rest}{narrative}{value}}}")
    );
    assert_eq!(
        canonical(&resource, Canonicalization::Data),
        format!("{{{body}{meta}{rest}{value}}}")
    );
    assert_eq!(
        canonical(&resource, Canonicalization::Static),
        format!("{{{body}{rest}{value}}}")
    );
    assert_eq!(
        canonical(&resource, Canonicalization::Narrative),
        format!(
            "{{\"id\":\"peso\",\"resourceType\":\"Observation\",{}}}",
            narrative.trim_end_matches(',')
        )
    );
    assert_eq!(
        resource.to_canonical_json(Canonicalization::Document),
        Err(CanonicalError::NotABundle {
            resource_type: "Observation".to_owned()
        })
    );
}

#[test]
fn every_corpus_resource_matches_an_independent_implementation() {
    let dir = root().join("crates/model/tests/corpus");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let resource = Resource::from_json(text.as_bytes()).unwrap();
        for method in Canonicalization::ALL {
            if method == Canonicalization::Document && !matches!(resource, Resource::Bundle(_)) {
                continue;
            }
            assert_eq!(
                canonical(&resource, method),
                oracle(&text, method),
                "{} under {method}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 4 * 47, "only {checked} canonical forms checked");
}

#[test]
fn each_method_covers_what_it_must() {
    let bundle = std::fs::read_to_string(
        root().join("crates/model/tests/corpus/Bundle-document-resumen-clinico.json"),
    )
    .unwrap();
    let original = Resource::from_json(bundle.as_bytes()).unwrap();
    let Resource::Bundle(mut moved) = original.clone() else {
        panic!("not a Bundle");
    };
    // Copied to another server: new id and meta, and its enveloped signature dropped.
    moved.id = Some("copia".into());
    moved.meta = Some(Box::default());
    moved.signature = None;
    let moved = Resource::Bundle(moved);
    let document = Canonicalization::Document;
    assert_eq!(
        original.to_canonical_json(document),
        moved.to_canonical_json(document)
    );
    assert_ne!(
        canonical(&original, Canonicalization::Json),
        canonical(&moved, Canonicalization::Json)
    );
    // A changed entry is covered.
    let tampered = bundle.replacen("\"E11.9\"", "\"E11.8\"", 1);
    assert_ne!(
        tampered, bundle,
        "the corpus document has an E11.9 diagnosis"
    );
    let tampered = Resource::from_json(tampered.as_bytes()).unwrap();
    assert_ne!(
        original.to_canonical_json(document),
        tampered.to_canonical_json(document)
    );
}
