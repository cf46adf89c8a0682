//! The FHIRPath subset: every invariant of R4 parses, and evaluation follows the
//! specification on the constructs the invariants use.

use renhice_validator::Definitions;
use renhice_validator::fhirpath::{Env, Item, evaluate, holds, parse};
use serde_json::{Value, json};

#[test]
fn every_invariant_of_r4_core_parses() {
    let mut expressions = std::collections::BTreeSet::new();
    let defs: Value = serde_json::from_str(include_str!(
        "../../../../profiles/r4/validation/definitions.json"
    ))
    .unwrap();
    for definition in defs.as_array().unwrap() {
        for element in definition["elements"].as_array().unwrap() {
            for constraint in element["constraint"].as_array().into_iter().flatten() {
                if let Some(expression) = constraint["expression"].as_str() {
                    expressions.insert(expression.to_owned());
                }
            }
        }
    }
    assert!(expressions.len() > 150, "{}", expressions.len());
    let failures: Vec<String> = expressions
        .iter()
        .filter_map(|expression| {
            parse(expression)
                .err()
                .map(|e| format!("{expression}: {e}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let _ = Definitions::r4();
}

fn eval(expression: &str, resource: &Value) -> Vec<String> {
    let env = Env {
        resource,
        root: resource,
        context: resource,
    };
    evaluate(
        &parse(expression).unwrap(),
        &[Item::Node(resource, None)],
        &env,
    )
    .unwrap()
    .iter()
    .map(|item| match item {
        Item::Node(Value::String(s), _) => s.clone(),
        other => other.to_string(),
    })
    .collect()
}

fn check(expression: &str, resource: &Value) -> bool {
    check_in(expression, resource, resource)
}

fn check_in(expression: &str, node: &Value, resource: &Value) -> bool {
    let env = Env {
        resource,
        root: resource,
        context: node,
    };
    holds(&parse(expression).unwrap(), node, &env).unwrap()
}

#[test]
fn evaluation_follows_the_specification() {
    let observation = json!({
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "valueQuantity": {"value": 70, "unit": "kg"},
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 120}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": 80}}
        ],
        "contained": [{"resourceType": "Patient", "id": "p1"}],
        "subject": {"reference": "#p1"},
        "effectivePeriod": {"start": "2024-01-01", "end": "2024-01-01T10:00:00Z"}
    });
    // Paths, choice types, functions.
    assert_eq!(eval("value.value", &observation), ["70"]);
    assert_eq!(eval("valueQuantity.unit", &observation), ["kg"]);
    assert_eq!(eval("component.value.value", &observation), ["120", "80"]);
    assert_eq!(eval("component.count()", &observation), ["2"]);
    assert_eq!(eval("component[1].value.value", &observation), ["80"]);
    assert_eq!(eval("Observation.status", &observation), ["final"]);
    assert_eq!(
        eval("code.coding.code & '|' & status", &observation),
        ["29463-7|final"]
    );
    assert_eq!(
        eval(
            "component.code.coding.where(code = '8462-4').system",
            &observation
        ),
        ["http://loinc.org"]
    );
    assert_eq!(eval("subject.reference.substring(1)", &observation), ["p1"]);
    assert_eq!(
        eval(
            "contained.id | subject.reference.substring(1)",
            &observation
        ),
        ["p1"]
    );
    assert_eq!(eval("(1 + 2) * 3", &observation), ["9"]);
    assert_eq!(eval("missing.exists()", &observation), ["false"]);
    assert_eq!(eval("missing = 'x'", &observation), Vec::<String>::new());
    assert_eq!(
        eval("contained.first().is(Patient)", &observation),
        ["true"]
    );
    assert_eq!(eval("status.hasValue()", &observation), ["true"]);
    assert_eq!(eval("code.hasValue()", &observation), ["false"]);
    // Three-valued logic.
    assert!(check("missing.exists() or status = 'final'", &observation));
    assert!(!check(
        "missing.exists() or status = 'preliminary'",
        &observation
    ));
    assert!(check(
        "status = 'preliminary' implies missing.exists()",
        &observation
    ));
    assert!(check("{} and true", &observation), "empty is not false");
    // Invariants of R4.
    let ref_1 = "reference.startsWith('#').not() or (reference.substring(1).trace('url') in %rootResource.contained.id.trace('ids'))";
    assert!(check_in(ref_1, &observation["subject"], &observation));
    assert!(!check_in(ref_1, &json!({"reference": "#p2"}), &observation));
    assert!(!check(
        "dataAbsentReason.empty() or value.empty()",
        &json!({"resourceType": "Observation", "valueString": "x", "dataAbsentReason": {"text": "n/a"}})
    ));
    assert!(check(
        "value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()",
        &observation
    ));
    // Dates at different precisions: unknown unless the common part differs.
    assert_eq!(
        eval("effectivePeriod.start <= effectivePeriod.end", &observation),
        Vec::<String>::new()
    );
    assert_eq!(eval("@2024-01-01 < @2025-06", &observation), ["true"]);
    assert!(check(
        "effective.start.hasValue().not() or effective.end.hasValue().not() or (effective.start <= effective.end)",
        &observation
    ));
}
