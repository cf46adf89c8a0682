//! The MHD ITI-65 push over real HTTP: atomic, idempotent, references rewritten.

use renhice_model::peru::{PersonId, Renipress};
use renhice_model::resources::{Organization, Patient, Resource};
use renhice_model::types::HumanName;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{assert_outcome, spawn};
use renhice_testing::backend_tests;

async fn post(url: &str, body: &Value) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/fhir+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn get(url: &str) -> (StatusCode, Value) {
    let res = reqwest::get(url).await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A patient and an IPRESS the push can point at; returns their ids.
async fn identities(base: &str) -> (String, String) {
    let patient = Resource::Patient(Box::new(Patient {
        identifier: vec![PersonId::dni("45678912").unwrap().to_identifier()],
        name: vec![HumanName::peruvian(&["Rosa"], "Quispe", Some("Mamani"))],
        ..Patient::default()
    }));
    let ipress = Resource::Organization(Box::new(Organization {
        identifier: vec![Renipress::parse("00012345").unwrap().to_identifier()],
        name: Some("Hospital Santa Clara".into()),
        ..Organization::default()
    }));
    let (s1, p) = post(
        &format!("{base}/fhir/Patient"),
        &serde_json::from_str(&patient.to_json_string()).unwrap(),
    )
    .await;
    let (s2, o) = post(
        &format!("{base}/fhir/Organization"),
        &serde_json::from_str(&ipress.to_json_string()).unwrap(),
    )
    .await;
    assert_eq!(
        (s1, s2),
        (StatusCode::CREATED, StatusCode::CREATED),
        "{p} {o}"
    );
    (
        p["id"].as_str().unwrap().to_owned(),
        o["id"].as_str().unwrap().to_owned(),
    )
}

fn document(n: u32, patient: &str, ipress: &str) -> Value {
    json!({
        "resourceType": "DocumentReference",
        "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:oid:1.2.604.1.{n}")},
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:0000000{n}-aaaa-4bbb-8ccc-000000000000")}],
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "34133-9"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "date": "2026-03-14T10:20:00-05:00",
        "custodian": {"reference": format!("Organization/{ipress}")},
        "content": [{"attachment": {"contentType": "application/pdf", "url": format!("https://sihce.example/docs/{n}")}}]
    })
}

fn push(patient: &str, ipress: &str, set: &str, docs: &[u32]) -> Value {
    let mut entry = vec![json!({
        "fullUrl": "urn:uuid:11111111-1111-4111-8111-111111111111",
        "resource": {
            "resourceType": "List",
            "identifier": [{"use": "official", "system": "urn:ietf:rfc:3986", "value": set}],
            "status": "current",
            "mode": "working",
            "subject": {"reference": format!("Patient/{patient}")},
            "entry": docs.iter().map(|n| json!({"item": {"reference": format!("urn:uuid:0000000{n}-aaaa-4bbb-8ccc-000000000000")}})).collect::<Vec<_>>()
        },
        "request": {"method": "POST", "url": "List"}
    })];
    for n in docs {
        entry.push(json!({
            "fullUrl": format!("urn:uuid:0000000{n}-aaaa-4bbb-8ccc-000000000000"),
            "resource": document(*n, patient, ipress),
            "request": {"method": "POST", "url": "DocumentReference"}
        }));
    }
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entry})
}

fn locations(response: &Value) -> Vec<String> {
    response["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["response"]["location"].as_str().unwrap().to_owned())
        .collect()
}

backend_tests! {
    async fn a_push_is_stored_with_its_references_rewritten_and_a_retry_changes_nothing(db) {
        let (server, base) = spawn(&db).await;
        let (patient, ipress) = identities(&base).await;
        let bundle = push(&patient, &ipress, "urn:oid:1.2.604.9.1", &[1, 2]);
        let (status, first) = post(&format!("{base}/fhir"), &bundle).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        assert_eq!(first["type"], "transaction-response");
        Resource::from_json(first.to_string().as_bytes()).unwrap();
        let places = locations(&first);
        assert_eq!(places.len(), 3);
        assert!(places[0].starts_with("List/") && places[1].starts_with("DocumentReference/"), "{places:?}");
        assert!(first["entry"].as_array().unwrap().iter().all(|e| e["response"]["status"] == "201 Created"));

        // The List points at the stored DocumentReferences; identifiers keep their URNs.
        let list_url = format!("{base}/fhir/{}", places[0].trim_end_matches("/_history/1"));
        let (status, list) = get(&list_url).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let doc_id = places[1].trim_end_matches("/_history/1");
        assert_eq!(list["entry"][0]["item"]["reference"], doc_id);
        let (_, doc) = get(&format!("{base}/fhir/{doc_id}")).await;
        assert_eq!(doc["identifier"][0]["value"], "urn:uuid:00000001-aaaa-4bbb-8ccc-000000000000");
        assert_eq!(doc["subject"]["reference"], format!("Patient/{patient}"));
        assert_eq!(doc["meta"]["versionId"], "1");

        // The same push again answers as the first did and creates nothing.
        let (status, again) = post(&format!("{base}/fhir"), &bundle).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(again, first);
        // A different push repeating one document of the first is a conflict.
        let (status, partial) = post(&format!("{base}/fhir"), &push(&patient, &ipress, "urn:oid:1.2.604.9.2", &[2, 3])).await;
        assert_eq!(status, StatusCode::CONFLICT, "{partial}");
        assert_outcome(&partial, "duplicate");
        // Index entries are written by pushes only.
        let (status, _) = post(&format!("{base}/fhir/DocumentReference"), &document(9, &patient, &ipress)).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        server.stop(true).await.unwrap();
    }

    async fn concurrent_identical_pushes_create_one_set_of_entries(db) {
        let (server, base) = spawn(&db).await;
        let (patient, ipress) = identities(&base).await;
        let bundle = push(&patient, &ipress, "urn:oid:1.2.604.9.7", &[4, 5]);
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (url, bundle) = (format!("{base}/fhir"), bundle.clone());
            tasks.push(tokio::spawn(async move { post(&url, &bundle).await }));
        }
        let mut sets = std::collections::BTreeSet::new();
        for task in tasks {
            let (status, response) = task.await.unwrap();
            assert_eq!(status, StatusCode::OK, "{response}");
            sets.insert(locations(&response));
        }
        assert_eq!(sets.len(), 1, "{sets:?}");
        server.stop(true).await.unwrap();
    }

    async fn a_push_with_one_bad_entry_changes_nothing(db) {
        let (server, base) = spawn(&db).await;
        let (patient, ipress) = identities(&base).await;
        let mut bundle = push(&patient, &ipress, "urn:oid:1.2.604.9.3", &[6, 7]);
        bundle["entry"][2]["resource"]["subject"]["reference"] = json!("Patient/nobody");
        let (status, outcome) = post(&format!("{base}/fhir"), &bundle).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
        assert_outcome(&outcome, "business-rule");
        assert_eq!(outcome["issue"][0]["expression"][0], "Bundle.entry[2].resource.subject");
        // Nothing of it was kept: the corrected push is new (201s), not a replay or a conflict.
        let fixed = push(&patient, &ipress, "urn:oid:1.2.604.9.3", &[6, 7]);
        let (status, response) = post(&format!("{base}/fhir"), &fixed).await;
        assert_eq!(status, StatusCode::OK, "{response}");

        let cases = [
            (json!({"resourceType": "Bundle", "type": "batch"}), StatusCode::BAD_REQUEST, "Bundle.type"),
            (json!({"resourceType": "Bundle", "type": "transaction"}), StatusCode::UNPROCESSABLE_ENTITY, "Bundle.entry"),
        ];
        for (body, status, path) in cases {
            let (got, outcome) = post(&format!("{base}/fhir"), &body).await;
            assert_eq!(got, status, "{outcome}");
            assert_eq!(outcome["issue"][0]["expression"][0], path);
        }
        let mut no_master = push(&patient, &ipress, "urn:oid:1.2.604.9.4", &[8]);
        no_master["entry"][1]["resource"].as_object_mut().unwrap().remove("masterIdentifier");
        let (status, outcome) = post(&format!("{base}/fhir"), &no_master).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
        assert_eq!(outcome["issue"][0]["expression"][0], "Bundle.entry[1].resource.masterIdentifier");
        server.stop(true).await.unwrap();
    }

    async fn documents_are_found_by_patient_status_and_metadata(db) {
        let (server, base) = spawn(&db).await;
        let (patient, ipress) = identities(&base).await;
        let (status, _) = post(&format!("{base}/fhir"), &push(&patient, &ipress, "urn:oid:1.2.604.9.5", &[1, 2])).await;
        assert_eq!(status, StatusCode::OK);
        let mut other = push(&patient, &ipress, "urn:oid:1.2.604.9.6", &[3]);
        other["entry"][1]["resource"]["type"]["coding"][0]["code"] = json!("11488-4");
        other["entry"][1]["resource"]["date"] = json!("2025-01-10T08:00:00-05:00");
        let (status, body) = post(&format!("{base}/fhir"), &other).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let found = |query: String| {
            let url = format!("{base}/fhir/DocumentReference?{query}");
            async move {
                let (status, bundle) = get(&url).await;
                assert_eq!(status, StatusCode::OK, "{url}: {bundle}");
                Resource::from_json(bundle.to_string().as_bytes()).unwrap();
                let mut values: Vec<String> = bundle["entry"].as_array().map_or_else(Vec::new, |e| {
                    e.iter().map(|x| x["resource"]["masterIdentifier"]["value"].as_str().unwrap().to_owned()).collect()
                });
                values.sort();
                values
            }
        };
        let all = vec!["urn:oid:1.2.604.1.1".to_owned(), "urn:oid:1.2.604.1.2".to_owned(), "urn:oid:1.2.604.1.3".to_owned()];
        assert_eq!(found(format!("patient={patient}&status=current")).await, all);
        assert_eq!(found(format!("patient=Patient/{patient}&status=current")).await, all);
        assert_eq!(found("patient.identifier=45678912&status=current".to_owned()).await, all);
        assert!(found("patient.identifier=99999999&status=current".to_owned()).await.is_empty());
        assert!(found(format!("patient={patient}&status=superseded")).await.is_empty());
        assert_eq!(found(format!("patient={patient}&status=current&type=http://loinc.org%7C11488-4")).await, vec![all[2].clone()]);
        assert_eq!(found(format!("patient={patient}&status=current&date=ge2026-01-01")).await, all[..2].to_vec());
        assert_eq!(found(format!("patient={patient}&status=current&date=2025-01")).await, vec![all[2].clone()]);
        assert_eq!(found(format!("patient={patient}&status=current&custodian=Organization/{ipress}")).await, all);
        assert!(found(format!("patient={patient}&status=current&custodian=elsewhere")).await.is_empty());
        assert_eq!(found(format!("patient={patient}&status=current&identifier=urn:ietf:rfc:3986%7Curn:oid:1.2.604.1.2")).await, vec![all[1].clone()]);
        // ITI-67 requires the patient and the status.
        for query in ["status=current".to_owned(), format!("patient={patient}")] {
            let (status, outcome) = get(&format!("{base}/fhir/DocumentReference?{query}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {outcome}");
        }
        // Lists and provenances are read by id only.
        let (status, _) = get(&format!("{base}/fhir/List?patient={patient}")).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        server.stop(true).await.unwrap();
    }

    async fn record_locations_list_each_ipress_and_follow_merges(db) {
        let (server, base) = spawn(&db).await;
        let (patient, santa_clara) = identities(&base).await;
        // A second IPRESS with an endpoint.
        let other = json!({
            "resourceType": "Organization",
            "identifier": [Renipress::parse("00005938").unwrap().to_identifier()],
            "name": "Hospital Loayza",
            "endpoint": [{"reference": "Endpoint/loayza-fhir"}]
        });
        let other: Value = serde_json::from_str(&Resource::from_json(other.to_string().as_bytes()).unwrap().to_json_string()).unwrap();
        let (status, loayza) = post(&format!("{base}/fhir/Organization"), &other).await;
        assert_eq!(status, StatusCode::CREATED, "{loayza}");
        let loayza = loayza["id"].as_str().unwrap().to_owned();
        let (s1, _) = post(&format!("{base}/fhir"), &push(&patient, &santa_clara, "urn:oid:9.1", &[1, 2])).await;
        let mut later = push(&patient, &loayza, "urn:oid:9.2", &[3]);
        later["entry"][1]["resource"]["date"] = json!("2026-05-01T09:00:00-05:00");
        let (s2, body) = post(&format!("{base}/fhir"), &later).await;
        assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{body}");

        let (status, params) = get(&format!("{base}/fhir/Patient/{patient}/$record-locations")).await;
        assert_eq!(status, StatusCode::OK, "{params}");
        Resource::from_json(params.to_string().as_bytes()).unwrap();
        let locations = params["parameter"].as_array().unwrap();
        assert_eq!(locations.len(), 2);
        let part = |location: &Value, name: &str| -> Value {
            location["part"].as_array().unwrap().iter().find(|p| p["name"] == name).cloned().unwrap_or(Value::Null)
        };
        // Newest first: Loayza (May 2026), then Santa Clara (March 2026, two entries).
        assert_eq!(part(&locations[0], "organization")["valueReference"]["reference"], format!("Organization/{loayza}"));
        assert_eq!(part(&locations[0], "renipress")["valueIdentifier"]["value"], "00005938");
        assert_eq!(part(&locations[0], "endpoint")["valueReference"]["reference"], "Endpoint/loayza-fhir");
        assert_eq!(part(&locations[1], "name")["valueString"], "Hospital Santa Clara");
        assert_eq!(part(&locations[1], "count")["valueInteger"], 2);
        assert_eq!(part(&locations[1], "first")["valueDateTime"], "2026-03-14T10:20:00-05:00");
        assert_eq!(part(&locations[1], "type")["valueCoding"]["code"], "34133-9");

        // By identifier, the same answer.
        let (status, by_dni) = get(&format!("{base}/fhir/Patient/$record-locations?identifier=45678912")).await;
        assert_eq!((status, &by_dni), (StatusCode::OK, &params));

        // A second record of the same person, merged into the first: its documents show
        // up in the survivor's locations.
        let twin = json!({
            "resourceType": "Patient",
            "identifier": [PersonId::new(renhice_model::peru::DocumentKind::CarneExtranjeria, "001234567", None).unwrap().to_identifier()],
        });
        let twin: Value = serde_json::from_str(&Resource::from_json(twin.to_string().as_bytes()).unwrap().to_json_string()).unwrap();
        let (_, twin) = post(&format!("{base}/fhir/Patient"), &twin).await;
        let twin_id = twin["id"].as_str().unwrap().to_owned();
        let (status, body) = post(&format!("{base}/fhir"), &push(&twin_id, &loayza, "urn:oid:9.3", &[4])).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let mut merged = twin.clone();
        merged["active"] = json!(false);
        merged["link"] = json!([{"other": {"reference": format!("Patient/{patient}")}, "type": "replaced-by"}]);
        let res = reqwest::Client::new()
            .put(format!("{base}/fhir/Patient/{twin_id}"))
            .header("content-type", "application/fhir+json")
            .body(merged.to_string())
            .send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let (_, after) = get(&format!("{base}/fhir/Patient/{patient}/$record-locations")).await;
        let loayza_count = after["parameter"].as_array().unwrap().iter()
            .find(|l| part(l, "organization")["valueReference"]["reference"] == format!("Organization/{loayza}"))
            .map(|l| part(l, "count")["valueInteger"].clone());
        assert_eq!(loayza_count, Some(json!(2)), "{after}");

        // Unknown patient: 404.
        let (status, _) = get(&format!("{base}/fhir/Patient/nobody/$record-locations")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = get(&format!("{base}/fhir/Patient/$record-locations?identifier=00000000")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        server.stop(true).await.unwrap();
    }
}
