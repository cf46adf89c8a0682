//! A corpus of hostile requests over real HTTP: malformed JSON, control characters, NUL,
//! oversize strings and bodies, deep nesting, wrong types, bad ids and wrong content
//! types, sent to every write and to the searches. Each must be refused with a 4xx whose
//! body is an `OperationOutcome` carrying an error, never a 5xx; and all of them
//! together must leave every table as it was (`TestDb::snapshot`).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::push::identities;
use crate::{HOME_IPRESS, TestApp, admin, sihce, spawn};
use renhice_testing::{TestDb, backend_tests};

/// One hostile request: what it is, for the failure message, and what to send.
struct Probe {
    what: String,
    method: Method,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
    /// A batch answers 200 with a refusal per entry.
    batch: bool,
}

/// A write the corpus aims at: where, who may make it, and a body that would be valid.
struct Target {
    name: &'static str,
    method: Method,
    path: String,
    caller: renhice_server::auth::Grant,
    valid: Value,
    /// Where the resource the mutations change sits in the body (`""` for the body).
    resource_at: &'static str,
    batch: bool,
}

fn patient_json(dni: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "identifier": [renhice_model::peru::PersonId::dni(dni).unwrap().to_identifier()],
        "name": [{"family": "Huamán", "given": ["Julia"]}],
        "gender": "female",
        "birthDate": "1990-07-21"
    })
}

fn targets(patient: &str, ipress: &str) -> Vec<Target> {
    let new_patient = patient_json("41234567");
    let organization = json!({
        "resourceType": "Organization",
        "identifier": [renhice_model::peru::Renipress::parse("00007777").unwrap().to_identifier()],
        "active": true,
        "name": "Puesto de Salud Pampacancha"
    });
    let consent = crate::consent::consent(
        patient,
        &json!({"reference": format!("Organization/{ipress}")}),
    );
    let push = crate::push::push(patient, ipress, "urn:oid:1.2.604.99", &[7]);
    let batch = json!({
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"resource": new_patient.clone(), "request": {"method": "POST", "url": "Patient"}}]
    });
    let target = |name, method, path: String, caller, valid, resource_at, batch| Target {
        name,
        method,
        path,
        caller,
        valid,
        resource_at,
        batch,
    };
    vec![
        target(
            "create Patient",
            Method::POST,
            "/fhir/Patient".into(),
            sihce(HOME_IPRESS),
            new_patient.clone(),
            "",
            false,
        ),
        target(
            "update Patient",
            Method::PUT,
            format!("/fhir/Patient/{patient}"),
            sihce(HOME_IPRESS),
            {
                let mut p = patient_json("45678912");
                p["id"] = json!(patient);
                p
            },
            "",
            false,
        ),
        target(
            "conditional update Patient",
            Method::PUT,
            "/fhir/Patient?identifier=41234567".into(),
            sihce(HOME_IPRESS),
            new_patient.clone(),
            "",
            false,
        ),
        target(
            "create Organization",
            Method::POST,
            "/fhir/Organization".into(),
            admin(),
            organization,
            "",
            false,
        ),
        target(
            "create Consent",
            Method::POST,
            "/fhir/Consent".into(),
            crate::patient("1|PER|45678912"),
            consent,
            "",
            false,
        ),
        target(
            "push (ITI-65)",
            Method::POST,
            "/fhir".into(),
            sihce(HOME_IPRESS),
            push,
            // The index entry, after the SubmissionSet.
            "/entry/1/resource",
            false,
        ),
        target(
            "batch",
            Method::POST,
            "/fhir".into(),
            sihce(HOME_IPRESS),
            batch,
            "/entry/0/resource",
            true,
        ),
    ]
}

/// A body with `mutate` applied to the resource at `at`.
fn mutated(
    valid: &Value,
    at: &str,
    mutate: &dyn Fn(&mut serde_json::Map<String, Value>),
) -> Vec<u8> {
    let mut body = valid.clone();
    let resource = if at.is_empty() {
        &mut body
    } else {
        body.pointer_mut(at).unwrap()
    };
    mutate(resource.as_object_mut().unwrap());
    // Deep nesting is written as text: a `Value` that deep would overflow this thread's
    // stack when cloned or dropped, long before the server sees it.
    body.to_string()
        .replace(&format!("\"{DEEP}\""), &deep_extension(2000))
        .into_bytes()
}

/// Stands for [`deep_extension`] in a mutated body.
const DEEP: &str = "deep-extension-placeholder";

/// Nested `extension`s `depth` deep, as JSON text.
fn deep_extension(depth: usize) -> String {
    let mut text = String::new();
    for _ in 0..depth {
        text.push_str(r#"{"url": "http://example.org/nested", "extension": ["#);
    }
    text.push_str(r#"{"url": "http://example.org/leaf", "valueString": "x"}"#);
    for _ in 0..depth {
        text.push_str("]}");
    }
    text
}

/// A change made to a resource's JSON object.
type Edit = Box<dyn Fn(&mut serde_json::Map<String, Value>)>;

/// What a mutation is called, and the change.
type Mutation = (&'static str, Edit);

fn set(key: &'static str, value: Value) -> Edit {
    Box::new(move |r| {
        r.insert(key.to_owned(), value.clone());
    })
}

/// Mutations any resource can suffer: each breaks a rule of FHIR or the registry.
fn resource_mutations() -> Vec<Mutation> {
    let mega = "a".repeat(1024 * 1024 + 1);
    vec![
        ("an unknown element", set("colour", json!("blue"))),
        (
            "an extension without url",
            set("extension", json!([{"valueString": "x"}])),
        ),
        (
            "an extension without value or extensions",
            set("extension", json!([{"url": "http://example.org/e"}])),
        ),
        (
            "an extension with a NUL url",
            set(
                "extension",
                json!([{"url": "http://example.org/\u{0}", "valueString": "x"}]),
            ),
        ),
        ("a language with a NUL", set("language", json!("es\u{0}"))),
        (
            "a language with a control character",
            set("language", json!("es\u{7}")),
        ),
        (
            "a language longer than FHIR allows",
            set("language", json!(mega)),
        ),
        ("implicitRules as a number", set("implicitRules", json!(5))),
        ("meta as an array", set("meta", json!([]))),
        ("meta null", set("meta", Value::Null)),
        ("meta empty", set("meta", json!({}))),
        (
            "a tag with a control character",
            set(
                "meta",
                json!({"tag": [{"system": "http://example.org/\u{1}", "code": "x"}]}),
            ),
        ),
        (
            "an impossible lastUpdated",
            set("meta", json!({"lastUpdated": "2026-02-30T10:00:00Z"})),
        ),
        ("an id that climbs", set("id", json!("../juan"))),
        ("an id of 65 characters", set("id", json!("x".repeat(65)))),
        ("an id with a NUL", set("id", json!("a\u{0}b"))),
        (
            "contained without resourceType",
            set("contained", json!([{"id": "c1"}])),
        ),
        (
            "contained of an unknown type",
            set("contained", json!([{"resourceType": "Dragon", "id": "c1"}])),
        ),
        ("an empty array", set("extension", json!([]))),
        ("extension items null", set("extension", json!([null]))),
        (
            "extensions nested 2,000 deep",
            set("extension", json!([DEEP])),
        ),
        (
            "resourceType of another type",
            set("resourceType", json!("Observation")),
        ),
        ("resourceType not a string", set("resourceType", json!(7))),
        (
            "no resourceType",
            Box::new(|r: &mut serde_json::Map<String, Value>| {
                r.remove("resourceType");
            }),
        ),
        (
            "text with a status but no div",
            set("text", json!({"status": "generated"})),
        ),
        (
            "text with an unknown status",
            set(
                "text",
                json!({"status": "everything", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}),
            ),
        ),
    ]
}

/// Mutations of a patient's own elements.
fn patient_mutations() -> Vec<Mutation> {
    let kib = |n: usize| "Q".repeat(n * 1024);
    vec![
        (
            "a family name with a NUL",
            set("name", json!([{"family": "Hua\u{0}mán"}])),
        ),
        (
            "a given name with a control character",
            set(
                "name",
                json!([{"family": "Huamán", "given": ["Ju\u{1b}lia"]}]),
            ),
        ),
        (
            "a family name of 1 MiB",
            set("name", json!([{"family": kib(1024)}])),
        ),
        (
            "a family name of 2 KiB",
            set("name", json!([{"family": kib(2)}])),
        ),
        (
            "a family name as a number",
            set("name", json!([{"family": 42}])),
        ),
        (
            "name as an object",
            set("name", json!({"family": "Huamán"})),
        ),
        ("name null", set("name", Value::Null)),
        (
            "no name",
            Box::new(|r: &mut serde_json::Map<String, Value>| {
                r.remove("name");
            }),
        ),
        (
            "a given name null",
            set("name", json!([{"family": "Huamán", "given": [null]}])),
        ),
        (
            "an impossible birthDate",
            set("birthDate", json!("1990-02-30")),
        ),
        (
            "a birthDate as a number",
            set("birthDate", json!(19_900_721)),
        ),
        ("an unknown gender", set("gender", json!("robot"))),
        ("gender as an array", set("gender", json!(["female"]))),
        ("active as a string", set("active", json!("true"))),
        (
            "multipleBirthInteger past 32 bits",
            set("multipleBirthInteger", json!(2_147_483_648_i64)),
        ),
        (
            "two multipleBirth choices",
            Box::new(|r: &mut serde_json::Map<String, Value>| {
                r.insert("multipleBirthInteger".into(), json!(2));
                r.insert("multipleBirthBoolean".into(), json!(true));
            }),
        ),
        ("no identifier", set("identifier", json!([]))),
        (
            "a DNI with a NUL",
            set(
                "identifier",
                json!([{"type": {"coding": [{"system": renhice_model::peru::url::CS_IDS_PERSONA, "code": "1"}]}, "value": "4123\u{0}4567"}]),
            ),
        ),
        (
            "a DNI of 1 MiB",
            set(
                "identifier",
                json!([{"type": {"coding": [{"system": renhice_model::peru::url::CS_IDS_PERSONA, "code": "1"}]}, "value": kib(1024)}]),
            ),
        ),
        (
            "an identifier value as a number",
            set(
                "identifier",
                json!([{"type": {"coding": [{"system": renhice_model::peru::url::CS_IDS_PERSONA, "code": "1"}]}, "value": 41_234_567}]),
            ),
        ),
        (
            "a telecom with a NUL",
            set("telecom", json!([{"system": "phone", "value": "9\u{0}"}])),
        ),
        (
            "an address line of 2 MiB",
            set("address", json!([{"line": [kib(2048)]}])),
        ),
    ]
}

/// Bodies that are not a FHIR JSON resource at all.
fn raw_bodies() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let json_type = "application/fhir+json";
    let mut bodies = vec![
        ("an empty body", json_type, Vec::new()),
        ("whitespace", json_type, b"  \n\t ".to_vec()),
        (
            "a truncated object",
            json_type,
            br#"{"resourceType": "#.to_vec(),
        ),
        ("an array", json_type, b"[]".to_vec()),
        ("null", json_type, b"null".to_vec()),
        ("a string", json_type, br#""Patient""#.to_vec()),
        ("a number", json_type, b"1e999".to_vec()),
        (
            "trailing garbage",
            json_type,
            br#"{"resourceType": "Patient"} x"#.to_vec(),
        ),
        (
            "invalid UTF-8",
            json_type,
            b"{\"resourceType\": \"Patient\", \"language\": \"\xff\xfe\"}".to_vec(),
        ),
        (
            "a raw NUL byte",
            json_type,
            b"{\"resourceType\": \"Patient\", \"language\": \"e\x00s\"}".to_vec(),
        ),
        (
            "a lone surrogate",
            json_type,
            br#"{"resourceType": "Patient", "language": "\ud800"}"#.to_vec(),
        ),
        (
            "a duplicated key",
            json_type,
            br#"{"resourceType": "Patient", "gender": "male", "gender": "female"}"#.to_vec(),
        ),
        ("arrays nested 100,000 deep", json_type, {
            let mut b = br#"{"resourceType": "Patient", "extension": "#.to_vec();
            b.extend(std::iter::repeat_n(b'[', 100_000));
            b
        }),
        (
            "XML",
            "application/fhir+xml",
            br#"<Patient xmlns="http://hl7.org/fhir"><gender value="female"/></Patient>"#.to_vec(),
        ),
        (
            "text/plain",
            "text/plain",
            br#"{"resourceType": "Patient"}"#.to_vec(),
        ),
    ];
    let xml_type = "application/fhir+xml";
    let patient = |inside: &str| {
        format!(r#"<Patient xmlns="http://hl7.org/fhir">{inside}</Patient>"#).into_bytes()
    };
    bodies.extend([
        ("unclosed XML", xml_type, br#"<Patient xmlns="http://hl7.org/fhir"><gender value="female">"#.to_vec()),
        ("XML with entities that expand a billion times", xml_type, {
            let mut b = b"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">".to_vec();
            for i in 1..10 {
                let prev = if i == 1 { "lol".to_owned() } else { format!("lol{}", i - 1) };
                b.extend(format!("<!ENTITY lol{i} \"{}\">", format!("&{prev};").repeat(10)).bytes());
            }
            b.extend(br#"]><Patient xmlns="http://hl7.org/fhir"><language value="&lol9;"/></Patient>"#);
            b
        }),
        ("XML with an external entity", xml_type, br#"<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><Patient xmlns="http://hl7.org/fhir"><language value="&x;"/></Patient>"#.to_vec()),
        ("XML nested 100,000 deep", xml_type, {
            let mut b = br#"<Patient xmlns="http://hl7.org/fhir">"#.to_vec();
            b.extend(b"<extension url=\"u\">".repeat(100_000));
            b.extend(b"</extension>".repeat(100_000));
            b.extend(b"</Patient>");
            b
        }),
        ("XML outside the FHIR namespace", xml_type, br#"<Patient><gender value="female"/></Patient>"#.to_vec()),
        ("XML declared UTF-16", xml_type, br#"<?xml version="1.0" encoding="UTF-16"?><Patient xmlns="http://hl7.org/fhir"/>"#.to_vec()),
        ("XML that is not UTF-8", xml_type, b"<Patient xmlns=\"http://hl7.org/fhir\"><language value=\"\xff\"/></Patient>".to_vec()),
        ("XML with text between elements", xml_type, patient("hola")),
        ("XML with CDATA", xml_type, patient("<![CDATA[<gender value=\"female\"/>]]>")),
        ("XML elements out of order", xml_type, patient(r#"<gender value="female"/><id value="x"/>"#)),
        ("XML an unknown element", xml_type, patient(r#"<sex value="female"/>"#)),
        ("XML an unknown attribute", xml_type, patient(r#"<gender value="female" lang="es"/>"#)),
        ("XML an empty value", xml_type, patient(r#"<gender value=""/>"#)),
        ("XML an element with nothing in it", xml_type, patient("<gender/>")),
        ("XML a repeated element that does not repeat", xml_type, patient(r#"<gender value="female"/><gender value="male"/>"#)),
        ("XML a NUL byte", xml_type, patient("<language value=\"e\u{0}s\"/>")),
        ("XML a control character reference", xml_type, patient(r#"<language value="e&#1;s"/>"#)),
        ("XML a 2 MiB string", xml_type, patient(&format!(r#"<name><family value="{}"/></name>"#, "a".repeat(2 * 1024 * 1024)))),
        ("XML two root elements", xml_type, [patient(""), patient("")].concat()),
        ("XML a narrative outside XHTML", xml_type, patient(r#"<text><status value="generated"/><div>x</div></text>"#)),
        ("XML a narrative that is not well-formed", xml_type, patient(r#"<text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p>x</div></text>"#)),
        ("XML an integer out of range", xml_type, patient(r#"<multipleBirthInteger value="2147483648"/>"#)),
        ("XML a boolean spelled otherwise", xml_type, patient(r#"<active value="yes"/>"#)),
        ("XML a bad date", xml_type, patient(r#"<birthDate value="1990-02-30"/>"#)),
        ("XML an unknown resource type", xml_type, br#"<Paciente xmlns="http://hl7.org/fhir"/>"#.to_vec()),
        ("JSON sent as XML", xml_type, br#"{"resourceType": "Patient"}"#.to_vec()),
        ("XML sent as JSON", "application/fhir+json", patient(r#"<gender value="female"/>"#)),
    ]);
    bodies.extend([
        (
            "a form",
            "application/x-www-form-urlencoded",
            b"resourceType=Patient".to_vec(),
        ),
        ("an image", "image/png", b"\x89PNG\r\n\x1a\n".to_vec()),
    ]);
    bodies
}

/// Searches and reads with hostile parameters and ids.
fn query_probes(patient: &str) -> Vec<Probe> {
    let get = |what: &str, path: String| Probe {
        what: what.to_owned(),
        method: Method::GET,
        path,
        content_type: "application/fhir+json",
        body: Vec::new(),
        batch: false,
    };
    let long = "q".repeat(5000);
    let mut probes = vec![
        get(
            "a search value with a NUL",
            "/fhir/Patient?family=qu%00ispe".into(),
        ),
        get(
            "a search value with a control character",
            "/fhir/Patient?family=qu%07ispe".into(),
        ),
        get(
            "a search parameter name with a NUL",
            "/fhir/Patient?fam%00ily=quispe".into(),
        ),
        get(
            "a search value of 5,000 characters",
            format!("/fhir/Patient?family={long}"),
        ),
        get(
            "an identifier of 5,000 characters",
            format!("/fhir/Patient?identifier=x|{long}"),
        ),
        get("an unknown parameter", "/fhir/Patient?colour=blue".into()),
        get(
            "an impossible date",
            "/fhir/Patient?birthdate=1990-02-30".into(),
        ),
        get(
            "a date with a NUL",
            "/fhir/Patient?birthdate=1990%00".into(),
        ),
        get(
            "a bad date prefix",
            "/fhir/Patient?birthdate=zz1990-01-01".into(),
        ),
        get("a negative _count", "/fhir/Patient?_count=-1".into()),
        get("_count not a number", "/fhir/Patient?_count=abc".into()),
        get(
            "a huge _count",
            "/fhir/Patient?_count=99999999999999999999999".into(),
        ),
        get(
            "a forged cursor",
            "/fhir/Patient?family=q&_cursor=%00%01%02".into(),
        ),
        get(
            "an unknown _summary",
            "/fhir/Patient?_summary=everything".into(),
        ),
        get(
            "_sort by an unknown parameter",
            "/fhir/Patient?_sort=colour".into(),
        ),
        get(
            "a malformed query string",
            "/fhir/Patient?family=%E0%A4%A".into(),
        ),
        get(
            "an identifier search with a NUL",
            "/fhir/Patient?identifier=%00".into(),
        ),
        get(
            "a record-locations identifier with a NUL",
            "/fhir/Patient/$record-locations?identifier=4567%008912".into(),
        ),
        get(
            "a record-locations identifier of 5,000 characters",
            format!("/fhir/Patient/$record-locations?identifier={long}"),
        ),
        get(
            "a record-locations on an id with a NUL",
            "/fhir/Patient/a%00b/$record-locations".into(),
        ),
        get(
            "a summary identifier with a NUL",
            "/fhir/Patient/$summary?identifier=4567%008912".into(),
        ),
        get("a read of an id with a NUL", "/fhir/Patient/a%00b".into()),
        get(
            "a read of an id of 5,000 characters",
            format!("/fhir/Patient/{long}"),
        ),
        get(
            "a vread of version -1",
            format!("/fhir/Patient/{patient}/_history/-1"),
        ),
        get(
            "a vread of version NUL",
            format!("/fhir/Patient/{patient}/_history/%00"),
        ),
        get(
            "a history with _since not a date",
            format!("/fhir/Patient/{patient}/_history?_since=yesterday"),
        ),
        get(
            "a history with _count with a NUL",
            format!("/fhir/Patient/{patient}/_history?_count=1%00"),
        ),
        get(
            "DocumentReference with a NUL patient",
            "/fhir/DocumentReference?patient=%00&status=current".into(),
        ),
        get(
            "DocumentReference with a patient of 5,000 characters",
            format!("/fhir/DocumentReference?patient={long}&status=current"),
        ),
        get("an unknown type", "/fhir/Dragon?name=x".into()),
        get("a type with a NUL", "/fhir/Pat%00ient?name=x".into()),
        get("an unknown operation", "/fhir/Patient/$explode".into()),
        get(
            "a PIX source identifier with a NUL",
            "/fhir/Patient/$ihe-pix?sourceIdentifier=%00".into(),
        ),
        get(
            "a summary custodian with a NUL",
            format!("/fhir/Patient/{patient}/$summary?custodian=%00"),
        ),
    ];
    // Writes to ids a client may not choose.
    for (what, id) in [
        ("an id that climbs", "..%2Fjuan"),
        ("an id of 65 characters", &*"x".repeat(65)),
        ("an id with a space", "juan%20perez"),
        ("an id with a NUL", "juan%00"),
        ("an id with a non-ASCII letter", "%C3%B1and%C3%BA"),
    ] {
        let mut body = patient_json("41234567");
        body["id"] = json!(urlencoding_decode(id));
        probes.push(Probe {
            what: format!("an update creating {what}"),
            method: Method::PUT,
            path: format!("/fhir/Patient/{id}"),
            content_type: "application/fhir+json",
            body: body.to_string().into_bytes(),
            batch: false,
        });
    }
    probes
}

/// `%XX` decoded (the ids above use only these escapes).
fn urlencoding_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len() + 1
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `body` is an `OperationOutcome` holding at least one error.
fn refuses(body: &Value) -> bool {
    body["resourceType"] == "OperationOutcome"
        && body["issue"].as_array().is_some_and(|issues| {
            issues
                .iter()
                .any(|i| matches!(i["severity"].as_str(), Some("error" | "fatal")))
        })
}

/// Sends one probe and returns what is wrong with the answer, if anything.
async fn check(
    app: &TestApp,
    caller: &renhice_server::auth::Grant,
    probe: Probe,
) -> Option<String> {
    let res = app
        .client(caller)
        .request(probe.method.clone(), &format!("{}{}", app.base, probe.path))
        .header("content-type", probe.content_type)
        .header("accept", "application/fhir+json")
        .body(probe.body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    let what = format!(
        "{} {} with {}",
        probe.method,
        probe.path.chars().take(80).collect::<String>(),
        probe.what
    );
    if probe.batch && status == StatusCode::OK {
        let entries = body["entry"].as_array().cloned().unwrap_or_default();
        let all_refused = !entries.is_empty()
            && entries.iter().all(|e| {
                e["response"]["status"]
                    .as_str()
                    .is_some_and(|s| s.starts_with('4'))
                    && refuses(&e["response"]["outcome"])
            });
        return (!all_refused).then(|| format!("{what}: a batch entry was not refused: {body}"));
    }
    if !status.is_client_error() {
        return Some(format!("{what}: {status} {body}"));
    }
    if !refuses(&body) {
        return Some(format!(
            "{what}: {status} without an OperationOutcome error: {body}"
        ));
    }
    None
}

async fn a_hostile_corpus_is_refused_with_outcomes_and_changes_nothing(db: TestDb) {
    let app = spawn(&db).await;
    let (patient, ipress) = identities(&app).await;
    let targets = targets(&patient, &ipress);
    // Each target's valid body is valid: so a refusal below is the mutation's doing.
    for target in &targets {
        let (status, body) = app
            .client(&sihce(HOME_IPRESS))
            .post(&format!("{}/fhir/$validate", app.base), &target.valid)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            !refuses(&body),
            "{}: the valid body is not valid: {body}",
            target.name
        );
    }
    let before = db.snapshot();
    let mut sent = 0;
    let mut faults = Vec::new();
    for target in &targets {
        let mut probes: Vec<Probe> = Vec::new();
        let mut mutations = resource_mutations();
        let resource = if target.resource_at.is_empty() {
            &target.valid
        } else {
            target.valid.pointer(target.resource_at).unwrap()
        };
        if resource["resourceType"] == "Patient" {
            mutations.extend(patient_mutations());
        }
        for (what, mutate) in &mutations {
            probes.push(Probe {
                what: (*what).to_owned(),
                method: target.method.clone(),
                path: target.path.clone(),
                content_type: "application/fhir+json",
                body: mutated(&target.valid, target.resource_at, mutate.as_ref()),
                batch: target.batch,
            });
        }
        for (what, content_type, body) in raw_bodies() {
            probes.push(Probe {
                what: what.to_owned(),
                method: target.method.clone(),
                path: target.path.clone(),
                content_type,
                body,
                batch: false,
            });
        }
        for probe in probes {
            sent += 1;
            if let Some(fault) = check(&app, &target.caller, probe).await {
                faults.push(format!("{}: {fault}", target.name));
            }
        }
    }
    // A SubmissionSet listing what is not an index entry of the push or the registry.
    for (what, item) in [
        (
            "an item absent from the push",
            "urn:uuid:99999999-9999-4999-8999-999999999999",
        ),
        (
            "an item that is the List itself",
            "urn:uuid:11111111-1111-4111-8111-111111111111",
        ),
        ("an item that is a patient", "Patient/x"),
    ] {
        let mut push = crate::push::push(&patient, &ipress, "urn:oid:1.2.604.98", &[8]);
        push["entry"][0]["resource"]["entry"][0]["item"]["reference"] = json!(item);
        sent += 1;
        let probe = Probe {
            what: format!("a SubmissionSet with {what}"),
            method: Method::POST,
            path: "/fhir".into(),
            content_type: "application/fhir+json",
            body: push.to_string().into_bytes(),
            batch: false,
        };
        if let Some(fault) = check(&app, &sihce(HOME_IPRESS), probe).await {
            faults.push(fault);
        }
    }
    for probe in query_probes(&patient) {
        sent += 1;
        if let Some(fault) = check(&app, &sihce(HOME_IPRESS), probe).await {
            faults.push(fault);
        }
    }
    // One body past the server's limit (16 MiB): a 413, read no further.
    let oversize = vec![b' '; 17 * 1024 * 1024];
    sent += 1;
    if let Some(fault) = check(
        &app,
        &sihce(HOME_IPRESS),
        Probe {
            what: "a 17 MiB body".into(),
            method: Method::POST,
            path: "/fhir/Patient".into(),
            content_type: "application/fhir+json",
            body: oversize,
            batch: false,
        },
    )
    .await
    {
        faults.push(fault);
    }
    assert!(sent >= 600, "the corpus holds {sent} requests");
    assert!(
        faults.is_empty(),
        "{} of {sent} hostile requests were not refused properly:\n{}",
        faults.len(),
        faults.join("\n")
    );
    assert!(
        db.snapshot() == before,
        "a refused request changed the database"
    );
    app.stop().await;
}

backend_tests!(a_hostile_corpus_is_refused_with_outcomes_and_changes_nothing);
