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

/// Everything FHIR XML spells differently from JSON, in one document read by hand.
#[test]
fn fhir_xml_is_read_as_the_specification_spells_it() {
    let text = r##"<?xml version="1.0" encoding="UTF-8"?>
<!-- comments and processing instructions are skipped -->
<?xml-stylesheet href="x.xsl"?>
<f:Patient xmlns:f="http://hl7.org/fhir" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://hl7.org/fhir patient.xsd">
  <f:id value="rosa"/>
  <f:text>
    <f:status value="generated"/>
    <div xmlns="http://www.w3.org/1999/xhtml"><p>Rosa &amp; Mar&#237;a</p></div>
  </f:text>
  <f:contained>
    <f:Organization>
      <f:id value="org1"/>
      <f:name value="Posta"/>
    </f:Organization>
  </f:contained>
  <f:extension url="http://example.org/a">
    <f:valueString value="line one&#10;line two"/>
  </f:extension>
  <f:active value="true"/>
  <f:name id="n1">
    <f:family value="Quispe">
      <f:extension url="http://hl7.org/fhir/StructureDefinition/humanname-own-prefix">
        <f:valueString value="de"/>
      </f:extension>
    </f:family>
    <f:given value="Rosa"/>
    <f:given>
      <f:extension url="http://hl7.org/fhir/StructureDefinition/data-absent-reason">
        <f:valueCode value="unknown"/>
      </f:extension>
    </f:given>
  </f:name>
  <f:birthDate value="1985-03-14"/>
  <f:multipleBirthInteger value="2"/>
  <f:managingOrganization><f:reference value="#org1"/></f:managingOrganization>
</f:Patient>
"##;
    let resource = Resource::from_xml(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let json: serde_json::Value = serde_json::from_slice(&resource.to_json()).unwrap();
    let expected = serde_json::json!({
        "resourceType": "Patient",
        "id": "rosa",
        "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Rosa &amp; Mar&#237;a</p></div>"},
        "contained": [{"resourceType": "Organization", "id": "org1", "name": "Posta"}],
        "extension": [{"url": "http://example.org/a", "valueString": "line one\nline two"}],
        "active": true,
        "name": [{
            "id": "n1",
            "family": "Quispe",
            "_family": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/humanname-own-prefix", "valueString": "de"}]},
            "given": ["Rosa", null],
            "_given": [null, {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}]
        }],
        "birthDate": "1985-03-14",
        "multipleBirthInteger": 2,
        "managingOrganization": {"reference": "#org1"}
    });
    assert_eq!(json, expected);
    // Written back: FHIR's namespace as the default, the line break as a reference.
    let written = resource.to_xml_string().unwrap();
    assert!(written.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Patient xmlns=\"http://hl7.org/fhir\"><id value=\"rosa\"/>"), "{written}");
    assert!(
        written.contains("<valueString value=\"line one&#10;line two\"/>"),
        "{written}"
    );
    assert!(Resource::from_xml(written.as_bytes()).unwrap() == resource);
}

/// What FHIR XML does not allow is refused with the element and the line.
#[test]
fn what_fhir_xml_forbids_is_refused_where_it_stands() {
    let patient =
        |inside: &str| format!("<Patient xmlns=\"http://hl7.org/fhir\">\n{inside}\n</Patient>");
    let cases: Vec<(String, &str, &str)> = vec![
        (patient(r#"<gender value="female"/><id value="x"/>"#), "Patient.id", "out of order"),
        (patient(r#"<sex value="female"/>"#), "Patient.sex", "unknown element"),
        (patient(r#"<gender value="female" lang="es"/>"#), "Patient.gender", "no attribute \"lang\""),
        (patient(r#"<gender value=""/>"#), "Patient.gender", "empty"),
        (patient("<gender/>"), "Patient.gender", "neither a value nor extensions"),
        (patient(r#"<gender value="female"/><gender value="male"/>"#), "Patient.gender", "more than once"),
        (patient(r#"<active value="yes"/>"#), "Patient.active", "not a boolean"),
        (patient(r#"<multipleBirthInteger value="2147483648"/>"#), "Patient.multipleBirthInteger", "range"),
        (patient(r#"<multipleBirthInteger value="02"/>"#), "Patient.multipleBirthInteger", "not an integer"),
        (patient(r#"<birthDate value="1990-02-30"/>"#), "Patient.birthDate", ""),
        (patient(r#"<deceasedBoolean value="true"/><deceasedDateTime value="2020"/>"#), "Patient.deceasedDateTime", "second value"),
        (patient(r#"<name><given value="a"/><given value="b" id=""/></name>"#), "Patient.name[0].given[1]", "empty"),
        (patient("hola"), "Patient", "text stands between elements"),
        (patient(r#"<text><status value="generated"/><div>x</div></text>"#), "Patient.text.div", "narrative"),
        (patient("<contained/>"), "Patient.contained[0]", "holds no resource"),
        (patient("<contained><Paciente/></contained>"), "Patient.contained[0]", "not an R4 resource"),
        (patient(r#"<gender xmlns="urn:other" value="female"/>"#), "Patient.gender", "not in the FHIR namespace"),
        ("<Patient><gender value=\"female\"/></Patient>".to_owned(), "Patient", "namespace"),
        ("<Paciente xmlns=\"http://hl7.org/fhir\"/>".to_owned(), "Paciente", "not an R4 resource"),
        ("<!DOCTYPE p [<!ENTITY x \"y\">]><Patient xmlns=\"http://hl7.org/fhir\"/>".to_owned(), "Resource", "DOCTYPE"),
        ("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><Patient xmlns=\"http://hl7.org/fhir\"/>".to_owned(), "Resource", "UTF-8"),
        ("<Patient xmlns=\"http://hl7.org/fhir\"><gender value=\"female\">".to_owned(), "Patient", "ends inside"),
        ("<Patient xmlns=\"http://hl7.org/fhir\"/><Patient xmlns=\"http://hl7.org/fhir\"/>".to_owned(), "Patient", "second element"),
        (
            format!(
                "<Patient xmlns=\"http://hl7.org/fhir\">{}{}</Patient>",
                "<extension url=\"u\">".repeat(200),
                "</extension>".repeat(200)
            ),
            "Patient",
            "nest more than 128",
        ),
    ];
    for (text, path, message) in cases {
        let error = Resource::from_xml(text.as_bytes()).expect_err(&text);
        assert!(
            error.path.starts_with(path) && error.message.contains(message),
            "{text}\n→ {error} (wanted {path}: …{message}…)"
        );
        assert!(error.line >= 1 && error.column >= 1, "{error}");
    }
    // The line and column are where the offending element starts.
    let error =
        Resource::from_xml(patient(r#"<gender value="female"/><id value="x"/>"#).as_bytes())
            .unwrap_err();
    assert_eq!((error.line, error.column), (2, 25), "{error}");
    // Not UTF-8.
    let error = Resource::from_xml(
        b"<Patient xmlns=\"http://hl7.org/fhir\"><language value=\"\xff\"/></Patient>",
    )
    .unwrap_err();
    assert!(error.message.contains("UTF-8"), "{error}");
    // An element with nothing in it (ele-1), as JSON refuses `{}`.
    for inside in [
        "<name/>",
        "<maritalStatus></maritalStatus>",
        "<contact><name/></contact>",
    ] {
        let error = Resource::from_xml(patient(inside).as_bytes()).unwrap_err();
        assert!(error.message.contains("ele-1"), "{inside}: {error}");
    }
    // Read leniently, an element that keeps nothing is dropped, not written back empty.
    let lenient = Resource::from_xml_with(
        patient(r#"<name><nombre value="x"/></name><name><family value="Quispe"/></name>"#)
            .as_bytes(),
        renhice_model::json::Mode::Lenient,
    )
    .unwrap();
    assert_eq!(
        lenient.to_json_string(),
        r#"{"resourceType":"Patient","name":[{"family":"Quispe"}]}"#
    );
    // Lenient reading skips what it does not know.
    let lenient = Resource::from_xml_with(
        patient(r#"<sex value="female"/><gender value="female" lang="es"/>"#).as_bytes(),
        renhice_model::json::Mode::Lenient,
    )
    .unwrap();
    assert_eq!(
        lenient.to_json_string(),
        r#"{"resourceType":"Patient","gender":"female"}"#
    );
}

/// The writer refuses what XML cannot carry rather than writing a broken document.
#[test]
fn what_xml_cannot_carry_is_not_written() {
    let with = |field: &str, value: &str| {
        let json = serde_json::json!({"resourceType": "Patient", field: value}).to_string();
        Resource::from_json(json.as_bytes()).unwrap()
    };
    assert!(matches!(
        with("language", "e\u{1}s").to_xml(),
        Err(renhice_model::xml::WriteError::Character(1))
    ));
    for div in [
        "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div><active value=\"false\"/>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>x</div>",
        "<p>x</p>",
        "<div xmlns=\"http://hl7.org/fhir\">x</div>",
    ] {
        let json = serde_json::json!({"resourceType": "Patient", "text": {"status": "generated", "div": div}}).to_string();
        let resource = Resource::from_json(json.as_bytes()).unwrap();
        assert!(
            matches!(
                resource.to_xml(),
                Err(renhice_model::xml::WriteError::Narrative(_))
            ),
            "{div}"
        );
    }
    // A div without its namespace gets it, so it stays XHTML inside FHIR XML.
    let json = serde_json::json!({"resourceType": "Patient", "text": {"status": "generated", "div": "<div><p>x</p></div>"}}).to_string();
    let xml = Resource::from_json(json.as_bytes())
        .unwrap()
        .to_xml_string()
        .unwrap();
    assert!(
        xml.contains("<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>x</p></div>"),
        "{xml}"
    );
}

/// What a review of the reader and writer found, each held.
#[test]
fn edge_cases_of_the_reader_and_writer() {
    let patient =
        |inside: &str| format!("<Patient xmlns=\"http://hl7.org/fhir\">{inside}</Patient>");
    // Two byte-order marks: refused (one is skipped).
    let twice = format!("\u{feff}\u{feff}{}", patient(""));
    assert!(Resource::from_xml(twice.as_bytes()).is_err());
    let once = format!("\u{feff}{}", patient(""));
    Resource::from_xml(once.as_bytes()).unwrap();
    // A narrative whose namespace is declared above it, after a multi-byte character.
    let inherited = "<f:Patient xmlns:f=\"http://hl7.org/fhir\" xmlns=\"http://www.w3.org/1999/xhtml\"><?p é?><f:text><f:status value=\"generated\"/><div>é</div></f:text></f:Patient>";
    let read = Resource::from_xml(inherited.as_bytes()).unwrap();
    assert!(
        read.to_json_string()
            .contains(r#""div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">é</div>""#),
        "{}",
        read.to_json_string()
    );
    // The writer: a narrative with an undefined entity, a bad attribute or a comment
    // holding `--` is not written; one whose tag breaks after `<div` is.
    let with_div = |div: &str| {
        let json = serde_json::json!({"resourceType": "Patient", "text": {"status": "generated", "div": div}}).to_string();
        Resource::from_json(json.as_bytes()).unwrap().to_xml()
    };
    for bad in [
        "<div xmlns=\"http://www.w3.org/1999/xhtml\">a&nbsp;b</div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p a=b>x</p></div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><!-- a -- b --></div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\">a\u{1}b</div>",
    ] {
        assert!(with_div(bad).is_err(), "{bad}");
    }
    assert!(
        with_div("<div\n  xmlns=\"http://www.w3.org/1999/xhtml\">a &amp; b&#233;</div>").is_ok()
    );
    // Lenient reading drops a complex choice value that kept nothing.
    let lenient = Resource::from_xml_with(
        br#"<Observation xmlns="http://hl7.org/fhir"><status value="final"/><code><text value="t"/></code><valueCodeableConcept><foo value="x"/></valueCodeableConcept></Observation>"#,
        renhice_model::json::Mode::Lenient,
    )
    .unwrap();
    assert!(
        !lenient.to_json_string().contains("value"),
        "{}",
        lenient.to_json_string()
    );
    // Bundles nested as deep as the reader allows do not run out of stack; deeper
    // ones are refused.
    let nested = |levels: usize| {
        let mut text = String::new();
        for _ in 0..levels {
            text.push_str("<Bundle xmlns=\"http://hl7.org/fhir\"><type value=\"collection\"/><entry><resource>");
        }
        text.push_str("<Patient xmlns=\"http://hl7.org/fhir\"/>");
        for _ in 0..levels {
            text.push_str("</resource></entry></Bundle>");
        }
        text
    };
    Resource::from_xml(nested(42).as_bytes()).unwrap();
    let error = Resource::from_xml(nested(50).as_bytes()).unwrap_err();
    assert!(error.message.contains("nest more than 128"), "{error}");
}
