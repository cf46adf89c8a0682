//! References inside a push, rewritten to the ids the registry assigns, and read back.

use std::collections::HashMap;
use std::hash::BuildHasher;

use serde_json::Value;

/// Replaces every `"reference"` value found in `urns` (`urn:uuid:…` → `Type/id`),
/// at any depth. Only `reference` values are touched, never an identifier or text that
/// happens to hold the same URN.
pub fn rewrite<S: BuildHasher>(value: &mut Value, urns: &HashMap<String, String, S>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "reference"
                    && let Value::String(text) = v
                    && let Some(target) = urns.get(text.as_str())
                {
                    *text = target.clone();
                } else {
                    rewrite(v, urns);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite(v, urns)),
        _ => {}
    }
}

/// The id of a relative reference `Type/id` to a resource of `expected` type: `None`
/// for another type, an absolute URL, a version (`Type/id/_history/2`) or an empty id.
#[must_use]
pub fn local_id<'a>(reference: Option<&'a str>, expected: &str) -> Option<&'a str> {
    reference?
        .strip_prefix(expected)?
        .strip_prefix('/')
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn only_reference_values_are_rewritten() {
        let urns = HashMap::from([("urn:uuid:1".to_owned(), "DocumentReference/abc".to_owned())]);
        let mut value = json!({
            "entry": [{"item": {"reference": "urn:uuid:1"}}, {"reference": "urn:uuid:2"}],
            "identifier": {"value": "urn:uuid:1"},
            "reference": "urn:uuid:1",
            "text": "urn:uuid:1"
        });
        rewrite(&mut value, &urns);
        assert_eq!(
            value["entry"][0]["item"]["reference"],
            "DocumentReference/abc"
        );
        assert_eq!(value["entry"][1]["reference"], "urn:uuid:2");
        assert_eq!(value["identifier"]["value"], "urn:uuid:1");
        assert_eq!(value["reference"], "DocumentReference/abc");
        assert_eq!(value["text"], "urn:uuid:1");
    }

    #[test]
    fn local_ids_are_of_the_expected_type_and_plain() {
        assert_eq!(local_id(Some("Patient/123"), "Patient"), Some("123"));
        assert_eq!(local_id(Some("Patient/123"), "Organization"), None);
        assert_eq!(local_id(Some("Patient/"), "Patient"), None);
        assert_eq!(local_id(Some("Patient/1/_history/2"), "Patient"), None);
        assert_eq!(local_id(Some("PatientX/1"), "Patient"), None);
        assert_eq!(local_id(Some("http://x/fhir/Patient/1"), "Patient"), None);
        assert_eq!(local_id(None, "Patient"), None);
    }

    fn json_tree() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            "urn:uuid:[0-3]".prop_map(Value::String),
            "[a-z]{0,4}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![Just("reference".to_owned()), "[a-z]{1,3}"],
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn urn_map() -> HashMap<String, String> {
        (0..3)
            .map(|i| (format!("urn:uuid:{i}"), format!("List/{i}")))
            .collect()
    }

    proptest! {
        /// Rewriting twice is rewriting once (targets are never URNs themselves).
        #[test]
        fn rewriting_is_idempotent(mut value in json_tree()) {
            let urns = urn_map();
            rewrite(&mut value, &urns);
            let once = value.clone();
            rewrite(&mut value, &urns);
            prop_assert_eq!(value, once);
        }

        /// An empty map changes nothing; rewriting never changes the shape.
        #[test]
        fn rewriting_keeps_the_shape(value in json_tree()) {
            let mut same = value.clone();
            rewrite(&mut same, &HashMap::new());
            prop_assert_eq!(&same, &value);
            let mut rewritten = value.clone();
            rewrite(&mut rewritten, &urn_map());
            prop_assert_eq!(shape(&rewritten), shape(&value));
        }

        /// No mapped URN is left in a `reference` value.
        #[test]
        fn no_mapped_urn_is_left(mut value in json_tree()) {
            rewrite(&mut value, &urn_map());
            prop_assert!(!has_urn_reference(&value));
        }
    }

    fn shape(value: &Value) -> String {
        match value {
            Value::Object(m) => format!(
                "{{{}}}",
                m.iter()
                    .map(|(k, v)| format!("{k}:{}", shape(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Value::Array(a) => format!("[{}]", a.iter().map(shape).collect::<Vec<_>>().join(",")),
            Value::String(_) => "s".to_owned(),
            other => other.to_string(),
        }
    }

    fn has_urn_reference(value: &Value) -> bool {
        match value {
            Value::Object(m) => m.iter().any(|(k, v)| {
                (k == "reference" && v.as_str().is_some_and(|s| urn_map().contains_key(s)))
                    || has_urn_reference(v)
            }),
            Value::Array(a) => a.iter().any(has_urn_reference),
            _ => false,
        }
    }
}
