//! Invalid JSON and invalid FHIR give errors that name the element, line and column.

use renhice_model::json::{Mode, ParseErrorKind};
use renhice_model::resources::Resource;

fn error(text: &str) -> renhice_model::json::ParseError {
    Resource::from_json(text.as_bytes()).expect_err("should be refused")
}

#[test]
fn invalid_json_is_a_syntax_error_with_its_position() {
    let e = error("{\"resourceType\": \"Patient\",\n \"active\": tru }");
    assert_eq!(e.kind, ParseErrorKind::Syntax, "{e}");
    assert_eq!(e.line, 2, "{e}");
    let e = error("{\"resourceType\": \"Patient\", \"name\": [");
    assert_eq!(e.kind, ParseErrorKind::Eof, "{e}");
}

#[test]
fn a_wrong_type_names_the_element() {
    let e = error(r#"{"resourceType": "Patient", "active": "yes"}"#);
    assert_eq!(e.kind, ParseErrorKind::Data);
    assert_eq!(e.path, "Patient.active", "{e}");
    assert!(e.message.contains("boolean"), "{e}");
}

#[test]
fn an_unknown_element_is_an_error_in_strict_mode_and_dropped_in_lenient_mode() {
    let text = r#"{"resourceType": "Patient", "gender": "female", "favouriteColour": "blue"}"#;
    let e = error(text);
    assert_eq!(e.path, "Patient.favouriteColour", "{e}");
    assert!(e.message.contains("unknown element"), "{e}");
    let lenient = Resource::from_json_with(text.as_bytes(), Mode::Lenient).unwrap();
    assert_eq!(
        lenient.to_json_string(),
        r#"{"resourceType":"Patient","gender":"female"}"#
    );
}

#[test]
fn a_bad_date_names_the_element_deep_in_a_bundle() {
    let text = r#"{
  "resourceType": "Bundle",
  "type": "collection",
  "entry": [
    {"resource": {"resourceType": "Patient", "birthDate": "1970-01-01"}},
    {"resource": {"resourceType": "Patient", "birthDate": "1970-02-30"}}
  ]
}"#;
    let e = error(text);
    assert_eq!(e.path, "Bundle.entry[1].resource.birthDate", "{e}");
    assert_eq!(e.line, 6, "{e}");
    assert!(e.message.contains("invalid FHIR date"), "{e}");
}

#[test]
fn two_choice_types_are_refused() {
    let text = r#"{"resourceType": "Observation", "status": "final",
        "code": {"text": "peso"},
        "valueString": "70 kg",
        "valueQuantity": {"value": 70, "unit": "kg"}}"#;
    let e = error(text);
    assert_eq!(e.path, "Observation.valueQuantity", "{e}");
    assert!(e.message.contains("value[x]"), "{e}");
}

#[test]
fn nulls_and_repeated_elements_are_refused_in_strict_mode() {
    let e = error(r#"{"resourceType": "Patient", "birthDate": null}"#);
    assert_eq!(e.path, "Patient.birthDate", "{e}");
    let lenient = Resource::from_json_with(
        br#"{"resourceType": "Patient", "birthDate": null}"#,
        Mode::Lenient,
    )
    .unwrap();
    assert_eq!(lenient.to_json_string(), r#"{"resourceType":"Patient"}"#);
    let e = error(r#"{"resourceType": "Patient", "gender": "male", "gender": "female"}"#);
    assert!(e.message.contains("more than once"), "{e}");
    // Primitive arrays and their extension arrays must have the same length.
    let e =
        error(r#"{"resourceType": "Patient", "name": [{"given": ["a", "b"], "_given": [null]}]}"#);
    assert_eq!(e.path, "Patient.name[0]._given", "{e}");
}

#[test]
fn resource_types_are_checked() {
    let e = error(r#"{"resourceType": "Patiente", "id": "1"}"#);
    assert!(e.message.contains("unknown resourceType"), "{e}");
    let e = error(r#"{"id": "1"}"#);
    assert!(e.message.contains("resourceType"), "{e}");
    // A resource inside a resource names its type too.
    let e = error(
        r#"{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"id": "1"}}]}"#,
    );
    assert_eq!(e.path, "Bundle.entry[0].resource", "{e}");
    assert!(e.message.contains("resourceType"), "{e}");
}

#[test]
fn resource_type_need_not_come_first() {
    let text = r#"{"id": "p1", "_gender": {"extension": [{"url": "http://x", "valueString": "y"}]},
        "resourceType": "Patient", "gender": "other"}"#;
    let r = Resource::from_json(text.as_bytes()).unwrap();
    assert_eq!(r.resource_type(), "Patient");
    assert_eq!(r.id(), Some("p1"));
    crate::round_trip("resourceType last", text);
}

/// Deeply nested input is refused with an error, never a stack overflow, even on a
/// thread with the default 2 MiB stack.
#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let depth = 5000;
    let mut text = String::from(r#"{"resourceType": "Patient", "extension": ["#);
    for _ in 0..depth {
        text.push_str(r#"{"url": "http://x", "extension": ["#);
    }
    for _ in 0..depth {
        text.push_str("]}");
    }
    text.push_str("]}");
    let result = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            Resource::from_json(text.as_bytes())
                .map(drop)
                .map_err(|e| e.message)
        })
        .unwrap()
        .join()
        .unwrap();
    let message = result.expect_err("nesting this deep is refused");
    assert!(message.contains("recursion limit"), "{message}");
}

#[test]
fn elements_the_vendored_snapshots_add_to_r4_are_refused() {
    // `Meta.project` and `Binary.url` exist only in the vendored package's snapshots
    // (crates/model/EXCEPTIONS.md); an R4 server must not accept them.
    let e = error(r#"{"resourceType": "Patient", "meta": {"project": "x"}}"#);
    assert_eq!(e.path, "Patient.meta.project", "{e}");
    let e = error(r#"{"resourceType": "Binary", "contentType": "text/plain", "url": "x"}"#);
    assert_eq!(e.path, "Binary.url", "{e}");
    let e = error(r#"{"resourceType": "SubscriptionStatus", "status": "active"}"#);
    assert!(e.message.contains("SubscriptionStatus"), "{e}");
    // And the R4 elements the snapshots lost are there.
    round_trip_text(
        r#"{"resourceType": "EvidenceVariable", "status": "draft",
            "characteristic": [{"definitionCanonical": "http://example.org/x",
                                "participantEffectiveDateTime": "2020-01-01",
                                "groupMeasure": "mean"}]}"#,
    );
    round_trip_text(
        r#"{"resourceType": "Bundle", "type": "batch-response",
            "entry": [{"response": {"status": "200",
                "outcome": {"resourceType": "Parameters"}}}]}"#,
    );
}

fn round_trip_text(text: &str) {
    crate::round_trip("inline", text);
}

#[test]
fn empty_arrays_and_objects_are_refused_in_strict_mode_and_dropped_in_lenient_mode() {
    for (text, path) in [
        (r#"{"resourceType": "Patient", "name": []}"#, "Patient.name"),
        (
            r#"{"resourceType": "Patient", "name": [{"given": []}]}"#,
            "Patient.name[0].given",
        ),
        (r#"{"resourceType": "Patient", "meta": {}}"#, "Patient.meta"),
        (
            r#"{"resourceType": "Patient", "name": [{"family": "Quispe"}, {}]}"#,
            "Patient.name[1]",
        ),
        (
            r#"{"resourceType": "Patient", "birthDate": "1970-01-01", "_birthDate": {}}"#,
            "Patient._birthDate",
        ),
    ] {
        let e = error(text);
        assert_eq!(e.path, path, "{text}: {e}");
        assert!(e.message.contains("empty"), "{text}: {e}");
        Resource::from_json_with(text.as_bytes(), Mode::Lenient)
            .unwrap_or_else(|e| panic!("lenient mode refused {text}: {e}"));
    }
    // A resource with nothing but its type is a resource, not an empty element.
    Resource::from_json(br#"{"resourceType": "Patient"}"#).unwrap();
}

#[test]
fn what_lenient_reading_empties_is_not_written_back() {
    // Every property unknown: the objects keep nothing, and are dropped, not written
    // back as `{}` (which ele-1 forbids), however deep.
    for text in [
        r#"{"resourceType": "Patient", "name": [{"nombre": "Rosa"}]}"#,
        r#"{"resourceType": "Patient", "maritalStatus": {"estado": "S"}}"#,
        r#"{"resourceType": "Patient", "contact": [{"name": {"x": 1}}]}"#,
        r#"{"resourceType": "Patient", "deceasedDateTime": "2020", "_deceasedDateTime": {"x": 1}}"#,
        r#"{"resourceType": "Observation", "status": "final", "code": {"text": "t"}, "valueQuantity": {"x": 1}}"#,
        r#"{"resourceType": "Patient", "name": [{"given": ["Rosa"], "_given": [{"x": 1}]}]}"#,
    ] {
        let lenient = Resource::from_json_with(text.as_bytes(), Mode::Lenient).unwrap();
        let written = lenient.to_json_string();
        assert!(
            !written.contains("{}") && !written.contains("[]"),
            "{text} → {written}"
        );
        // What is written is strict FHIR JSON again.
        Resource::from_json(written.as_bytes()).unwrap_or_else(|e| panic!("{written}: {e}"));
    }
    let lenient = Resource::from_json_with(
        br#"{"resourceType": "Patient", "name": [{"nombre": "x"}, {"family": "Quispe"}], "active": true}"#,
        Mode::Lenient,
    )
    .unwrap();
    assert_eq!(
        lenient.to_json_string(),
        r#"{"resourceType":"Patient","active":true,"name":[{"family":"Quispe"}]}"#
    );
}

#[test]
fn a_primitive_array_of_extensions_only_keeps_its_value_array() {
    // Every value null, extensions on each: the value array is written with its nulls,
    // the array the element data pairs with.
    let text = r#"{"resourceType":"Patient","name":[{"given":[null,null],"_given":[{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"masked"}]},{"id":"g2"}]}]}"#;
    let resource = Resource::from_json(text.as_bytes()).unwrap();
    assert_eq!(resource.to_json_string(), text);
    // The same read from the element data alone is written with its value array too.
    let alone = r#"{"resourceType":"Patient","name":[{"_given":[{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"masked"}]},{"id":"g2"}]}]}"#;
    let resource = Resource::from_json(alone.as_bytes()).unwrap();
    assert_eq!(resource.to_json_string(), text);
}

#[test]
fn a_resource_type_element_inside_a_resource_is_read_as_an_element() {
    // R4's ExampleScenario.instance.resourceType is a data element (a code).
    let text = r#"{"resourceType": "ExampleScenario", "status": "draft",
        "instance": [{"resourceId": "p1", "resourceType": "Patient", "name": "Rosa"}]}"#;
    let Resource::ExampleScenario(scenario) = Resource::from_json(text.as_bytes()).unwrap() else {
        panic!("not an ExampleScenario");
    };
    assert_eq!(
        scenario.instance[0]
            .resource_type
            .as_ref()
            .and_then(renhice_model::Primitive::as_str),
        Some("Patient")
    );
    assert!(
        Resource::from_json(scenario_json(&scenario).as_bytes())
            .unwrap()
            .to_json_string()
            .contains(r#""resourceType":"Patient""#)
    );
    // In an element that has no such element, it is still unknown.
    let e = error(r#"{"resourceType": "Patient", "name": [{"resourceType": "HumanName"}]}"#);
    assert!(e.message.contains("unknown element"), "{e}");
}

fn scenario_json(scenario: &renhice_model::resources::ExampleScenario) -> String {
    Resource::ExampleScenario(Box::new(scenario.clone())).to_json_string()
}
