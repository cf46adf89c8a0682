//! The MHD ITI-65 push over real HTTP: atomic, idempotent, references rewritten.

use renhice_model::peru::{PersonId, Renipress};
use renhice_model::resources::{Organization, Patient, Resource};
use renhice_model::types::HumanName;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{HOME_IPRESS, TestApp, admin, assert_outcome, sihce, spawn, spawn_with};
use renhice_testing::{TestDb, backend_tests};

/// A patient and an IPRESS the push can point at; returns their ids. The SIHCE
/// registers the patient, an administrator the IPRESS.
pub(crate) async fn identities(app: &TestApp) -> (String, String) {
    let base = &app.base;
    let patient = Resource::Patient(Box::new(Patient {
        identifier: vec![PersonId::dni("45678912").unwrap().to_identifier()],
        name: vec![HumanName::peruvian(&["Rosa"], "Quispe", Some("Mamani"))],
        ..Patient::default()
    }));
    let ipress = Resource::Organization(Box::new(Organization {
        identifier: vec![Renipress::parse("00012345").unwrap().to_identifier()],
        name: Some("Hospital Santa Clara".into()),
        active: Some(true.into()),
        ..Organization::default()
    }));
    let (s1, p) = app
        .client(&sihce(HOME_IPRESS))
        .post(
            &format!("{base}/fhir/Patient"),
            &serde_json::from_str(&patient.to_json_string()).unwrap(),
        )
        .await;
    let (s2, o) = app
        .client(&admin())
        .post(
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

pub(crate) fn push(patient: &str, ipress: &str, set: &str, docs: &[u32]) -> Value {
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

async fn a_push_is_stored_with_its_references_rewritten_and_a_retry_changes_nothing(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    let bundle = push(&patient, &ipress, "urn:oid:1.2.604.9.1", &[1, 2]);
    let (status, first) = api.post(&format!("{base}/fhir"), &bundle).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["type"], "transaction-response");
    Resource::from_json(first.to_string().as_bytes()).unwrap();
    let places = locations(&first);
    assert_eq!(places.len(), 3);
    assert!(
        places[0].starts_with("List/") && places[1].starts_with("DocumentReference/"),
        "{places:?}"
    );
    assert!(
        first["entry"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["response"]["status"] == "201 Created")
    );

    // The List points at the stored DocumentReferences; identifiers keep their URNs.
    let list_url = format!("{base}/fhir/{}", places[0].trim_end_matches("/_history/1"));
    let (status, list) = api.get(&list_url).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let doc_id = places[1].trim_end_matches("/_history/1");
    assert_eq!(list["entry"][0]["item"]["reference"], doc_id);
    let (_, doc) = api.get(&format!("{base}/fhir/{doc_id}")).await;
    assert_eq!(
        doc["identifier"][0]["value"],
        "urn:uuid:00000001-aaaa-4bbb-8ccc-000000000000"
    );
    assert_eq!(doc["subject"]["reference"], format!("Patient/{patient}"));
    assert_eq!(doc["meta"]["versionId"], "1");

    // The same push again answers as the first did and creates nothing.
    let (status, again) = api.post(&format!("{base}/fhir"), &bundle).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, first);
    // A different push repeating one document of the first is a conflict.
    let (status, partial) = api
        .post(
            &format!("{base}/fhir"),
            &push(&patient, &ipress, "urn:oid:1.2.604.9.2", &[2, 3]),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{partial}");
    assert_outcome(&partial, "duplicate");
    // Index entries are written by pushes only.
    let (status, _) = api
        .post(
            &format!("{base}/fhir/DocumentReference"),
            &document(9, &patient, &ipress),
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    app.stop().await;
}

async fn a_replacement_supersedes_and_entered_in_error_keeps_history(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    let (status, first) = api
        .post(
            &format!("{base}/fhir"),
            &push(&patient, &ipress, "urn:oid:1.2.604.9.20", &[1, 2]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let ids: Vec<String> = locations(&first)[1..]
        .iter()
        .map(|l| {
            l.trim_end_matches("/_history/1")
                .trim_start_matches("DocumentReference/")
                .to_owned()
        })
        .collect();
    let mut replacement = push(&patient, &ipress, "urn:oid:1.2.604.9.21", &[3]);
    replacement["entry"][1]["resource"]["relatesTo"] = json!([{"code": "replaces", "target": {"reference": format!("DocumentReference/{}", ids[0])}}]);
    let (status, replaced) = api.post(&format!("{base}/fhir"), &replacement).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    // The old entry is superseded in a new version; its first version is kept.
    let (_, old) = api
        .get(&format!("{base}/fhir/DocumentReference/{}", ids[0]))
        .await;
    assert_eq!(
        (old["status"].as_str(), old["meta"]["versionId"].as_str()),
        (Some("superseded"), Some("2")),
        "{old}"
    );
    let (_, v1) = api
        .get(&format!(
            "{base}/fhir/DocumentReference/{}/_history/1",
            ids[0]
        ))
        .await;
    assert_eq!(v1["status"], "current");
    let current = |status: &'static str| {
        let url = format!("{base}/fhir/DocumentReference?patient={patient}&status={status}");
        let api = api.clone();
        async move {
            let (_, bundle) = api.get(&url).await;
            let mut values: Vec<String> = bundle["entry"].as_array().map_or_else(Vec::new, |e| {
                e.iter()
                    .map(|x| {
                        x["resource"]["masterIdentifier"]["value"]
                            .as_str()
                            .unwrap()
                            .to_owned()
                    })
                    .collect()
            });
            values.sort();
            values
        }
    };
    assert_eq!(
        current("current").await,
        ["urn:oid:1.2.604.1.2", "urn:oid:1.2.604.1.3"]
    );
    assert_eq!(current("superseded").await, ["urn:oid:1.2.604.1.1"]);
    // A retry of the replacing push is answered as the first time, though its target
    // is no longer current.
    let (status, again) = api.post(&format!("{base}/fhir"), &replacement).await;
    assert_eq!((status, &again), (StatusCode::OK, &replaced));
    // A new push cannot replace a superseded entry, nor another custodian's.
    let mut late = push(&patient, &ipress, "urn:oid:1.2.604.9.22", &[4]);
    late["entry"][1]["resource"]["relatesTo"] =
        replacement["entry"][1]["resource"]["relatesTo"].clone();
    let (status, outcome) = api.post(&format!("{base}/fhir"), &late).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
    assert_eq!(
        outcome["issue"][0]["expression"][0],
        "Bundle.entry[1].resource.relatesTo[0].target"
    );
    let loayza = json!({
        "resourceType": "Organization",
        "active": true,
        "identifier": [serde_json::to_value(Renipress::parse("00005938").unwrap().to_identifier()).unwrap()],
        "name": "Hospital Loayza"
    });
    let api = app.client(&admin());
    let (_, loayza) = api
        .post(&format!("{base}/fhir/Organization"), &loayza)
        .await;
    let api = app.client(&sihce("00005938"));
    let mut foreign = push(
        &patient,
        loayza["id"].as_str().unwrap(),
        "urn:oid:1.2.604.9.23",
        &[5],
    );
    foreign["entry"][1]["resource"]["relatesTo"] = json!([{"code": "replaces", "target": {"reference": format!("DocumentReference/{}", ids[1])}}]);
    let (status, outcome) = api.post(&format!("{base}/fhir"), &foreign).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
    assert!(
        outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("only its custodian"),
        "{outcome}"
    );
    let api = app.client(&sihce(HOME_IPRESS));

    // Marking an entry entered-in-error: only the status may change.
    let put = |body: Value, if_match: Option<&'static str>| {
        let url = format!("{base}/fhir/DocumentReference/{}", ids[1]);
        let api = api.clone();
        async move {
            let mut request = api
                .request(reqwest::Method::PUT, &url)
                .header("content-type", "application/fhir+json");
            if let Some(tag) = if_match {
                request = request.header("if-match", tag);
            }
            let res = request.body(body.to_string()).send().await.unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let (_, mut entry) = api
        .get(&format!("{base}/fhir/DocumentReference/{}", ids[1]))
        .await;
    let (status, outcome) = put(entry.clone(), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
    assert_eq!(
        outcome["issue"][0]["expression"][0],
        "DocumentReference.status"
    );
    entry["status"] = json!("entered-in-error");
    let mut moved = entry.clone();
    moved["date"] = json!("2020-01-01T00:00:00Z");
    let (status, outcome) = put(moved, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
    assert_eq!(
        outcome["issue"][0]["expression"][0],
        "DocumentReference.date"
    );
    let (status, marked) = put(entry.clone(), Some("W/\"1\"")).await;
    assert_eq!(status, StatusCode::OK, "{marked}");
    assert_eq!(
        (
            marked["status"].as_str(),
            marked["meta"]["versionId"].as_str()
        ),
        (Some("entered-in-error"), Some("2"))
    );
    let (status, _) = put(entry.clone(), Some("W/\"1\"")).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, again) = put(entry, None).await;
    assert_eq!(
        (status, again["meta"]["versionId"].as_str()),
        (StatusCode::OK, Some("2"))
    );
    let (_, history) = api
        .get(&format!(
            "{base}/fhir/DocumentReference/{}/_history",
            ids[1]
        ))
        .await;
    assert_eq!(history["total"], 2, "{history}");
    assert_eq!(current("current").await, ["urn:oid:1.2.604.1.3"]);
    assert_eq!(current("entered-in-error").await, ["urn:oid:1.2.604.1.2"]);
    // The record locations count current entries only.
    let (_, params) = api
        .get(&format!("{base}/fhir/Patient/{patient}/$record-locations"))
        .await;
    let counts: Vec<&Value> = params["parameter"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| {
            l["part"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["name"] == "count")
        })
        .map(|p| &p["valueInteger"])
        .collect();
    assert_eq!(counts, [&json!(1)], "{params}");
    app.stop().await;
}

async fn searches_sort_include_count_and_page_while_entries_arrive(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    let dated = |set: &str, n: u32, date: &str| {
        let mut bundle = push(&patient, &ipress, set, &[n]);
        bundle["entry"][1]["resource"]["date"] = json!(date);
        bundle
    };
    let mut first = push(&patient, &ipress, "urn:oid:1.2.604.9.30", &[1, 2]);
    first["entry"][0]["resource"]["code"] = json!({"coding": [{
            "system": "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes", "code": "submissionset"}]});
    first["entry"][0]["resource"]["date"] = json!("2026-03-14T10:25:00-05:00");
    first["entry"][0]["resource"]["extension"] = json!([
        {"url": "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId",
         "valueIdentifier": {"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.604.100.1"}},
        {"url": "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType",
         "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "34133-9"}]}}
    ]);
    let mut older = dated("urn:oid:1.2.604.9.31", 3, "2025-01-10T08:00:00-05:00");
    older["entry"][1]["resource"]["context"] = json!({
        "period": {"start": "2025-01-08", "end": "2025-01-10"},
        "facilityType": {"coding": [{"system": "http://snomed.info/sct", "code": "22232009"}]},
        "practiceSetting": {"coding": [{"system": "http://snomed.info/sct", "code": "394802001"}]}
    });
    let newer = dated("urn:oid:1.2.604.9.32", 4, "2026-06-01T12:00:00Z");
    for bundle in [&first, &older, &newer] {
        let (status, body) = api.post(&format!("{base}/fhir"), bundle).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let values = |bundle: &Value| -> Vec<String> {
        bundle["entry"].as_array().map_or_else(Vec::new, |e| {
            e.iter()
                .filter(|x| x["search"]["mode"] == "match")
                .map(|x| {
                    x["resource"]["masterIdentifier"]["value"]
                        .as_str()
                        .unwrap()
                        .rsplit('.')
                        .next()
                        .unwrap()
                        .to_owned()
                })
                .collect()
        })
    };
    let search = format!("{base}/fhir/DocumentReference?patient={patient}&status=current");
    // Newest first; documents of one date in the order they were stored, reversed.
    let (status, sorted) = api
        .get(&format!("{search}&_sort=-date&_total=accurate"))
        .await;
    assert_eq!(status, StatusCode::OK, "{sorted}");
    assert_eq!(values(&sorted), ["4", "2", "1", "3"]);
    assert_eq!(sorted["total"], 4);
    // Paging by date, oldest first, one per page, while a document arrives that sorts
    // after the cursor: each document shows up once, the new one at its place.
    let (_, mut page) = api.get(&format!("{search}&_sort=date&_count=1")).await;
    let mut seen = values(&page);
    let (status, _) = api
        .post(
            &format!("{base}/fhir"),
            &dated("urn:oid:1.2.604.9.33", 5, "2026-04-01T00:00:00Z"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    while let Some(next) = page["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
    {
        let (status, body) = api.get(next["url"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        page = body;
        seen.extend(values(&page));
    }
    assert_eq!(seen, ["3", "1", "2", "5", "4"]);
    // A cursor that is not one is refused.
    let (status, outcome) = api.get(&format!("{search}&_sort=date&_cursor=12")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{outcome}");
    assert_eq!(outcome["issue"][0]["expression"][0], "_cursor");

    // The custodian once, as an included entry.
    let (_, included) = api
        .get(&format!("{search}&_include=DocumentReference:custodian"))
        .await;
    let extra: Vec<&Value> = included["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["search"]["mode"] == "include")
        .collect();
    assert_eq!(extra.len(), 1, "{included}");
    assert_eq!(extra[0]["resource"]["id"], ipress.as_str());
    // Context parameters.
    for query in [
        "period=2025-01",
        "period=ge2025-01-09",
        "facility=http://snomed.info/sct%7C22232009",
        "setting=394802001",
    ] {
        let (_, found) = api.get(&format!("{search}&{query}")).await;
        assert_eq!(values(&found), ["3"], "{query}");
    }
    let (_, none) = api.get(&format!("{search}&period=2024")).await;
    assert!(values(&none).is_empty());
    // Offered result parameters only, unless lenient.
    for query in [
        "_sort=type",
        "_include=DocumentReference:subject",
        "_total=sometimes",
    ] {
        let (status, outcome) = api.get(&format!("{search}&{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {outcome}");
    }
    let res = api
        .request(reqwest::Method::GET, &format!("{search}&_sort=type"))
        .header("prefer", "handling=lenient")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // POST _search answers as GET does.
    let form = format!("patient={patient}&status=current&_sort=-date");
    let res = api
        .request(
            reqwest::Method::POST,
            &format!("{base}/fhir/DocumentReference/_search"),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let posted: Value = res.json().await.unwrap();
    assert_eq!(values(&posted), ["4", "5", "2", "1", "3"]);
    let res = api
        .request(
            reqwest::Method::POST,
            &format!("{base}/fhir/DocumentReference/_search"),
        )
        .header("content-type", "application/fhir+json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // ITI-66: SubmissionSets by patient, status and their own metadata.
    let lists = |query: &'static str| {
        let url = format!("{base}/fhir/List?patient={patient}&status=current{query}");
        let api = api.clone();
        async move {
            let (status, bundle) = api.get(&url).await;
            assert_eq!(status, StatusCode::OK, "{url}: {bundle}");
            bundle["entry"].as_array().map_or(0, Vec::len)
        }
    };
    assert_eq!(lists("").await, 4);
    assert_eq!(lists("&code=submissionset").await, 1);
    assert_eq!(
        lists("&identifier=urn:ietf:rfc:3986%7Curn:oid:1.2.604.9.31").await,
        1
    );
    assert_eq!(lists("&sourceId=urn:oid:1.2.604.100.1").await, 1);
    assert_eq!(
        lists("&designationType=http://loinc.org%7C34133-9").await,
        1
    );
    assert_eq!(lists("&date=2026-03-14").await, 1);
    let (status, by_dni) = api
        .get(&format!(
            "{base}/fhir/List?patient.identifier=45678912&status=current&_total=accurate"
        ))
        .await;
    assert_eq!(
        (status, &by_dni["total"]),
        (StatusCode::OK, &json!(4)),
        "{by_dni}"
    );
    app.stop().await;
}

async fn oversized_bodies_and_bundles_are_refused_clearly(db: TestDb) {
    let app = spawn_with(&db, |c| {
        c.max_body_bytes = 4096;
        c.max_bundle_entries = 3;
    })
    .await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    let (status, outcome) = api
        .post(
            &format!("{base}/fhir"),
            &push(&patient, &ipress, "urn:oid:1.2.604.9.40", &[1, 2, 3]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{outcome}");
    assert_eq!(outcome["issue"][0]["expression"][0], "Bundle.entry");
    assert!(
        outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("at most 3"),
        "{outcome}"
    );
    let mut big = push(&patient, &ipress, "urn:oid:1.2.604.9.41", &[1]);
    big["entry"][1]["resource"]["description"] = json!("x".repeat(5000));
    let (status, outcome) = api.post(&format!("{base}/fhir"), &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{outcome}");
    assert_outcome(&outcome, "too-long");
    app.stop().await;
}

async fn a_batch_runs_each_entry_on_its_own(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, _) = identities(&app).await;
    let person = |dni: &str| {
        serde_json::from_str::<Value>(
            &Resource::Patient(Box::new(Patient {
                identifier: vec![PersonId::dni(dni).unwrap().to_identifier()],
                name: vec![HumanName::peruvian(&["Luz"], "Mamani", None)],
                ..Patient::default()
            }))
            .to_json_string(),
        )
        .unwrap()
    };
    let mut bad_dni = person("12345678");
    bad_dni["identifier"][0]["value"] = json!("1234");
    let mut stale = person("10000004");
    stale["id"] = json!(patient);
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": person("10000001"), "request": {"method": "POST", "url": "Patient"}},
        {"resource": person("45678912"), "request": {"method": "POST", "url": "Patient"}},
        {"resource": person("10000002"), "request": {"method": "PUT", "url": format!(
            "Patient?identifier:of-type={}|1|10000002", renhice_model::peru::url::CS_IDS_PERSONA)}},
        {"request": {"method": "GET", "url": format!("Patient/{patient}")}},
        {"request": {"method": "GET", "url": "Organization/nobody"}},
        {"resource": person("10000003"), "request": {"method": "POST", "url": "DocumentReference"}},
        {"resource": bad_dni, "request": {"method": "POST", "url": "Patient"}},
        {"resource": stale, "request": {"method": "PUT", "url": format!("Patient/{patient}"), "ifMatch": "W/\"7\""}}
    ]});
    let (status, response) = api.post(&format!("{base}/fhir"), &batch).await;
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(response["type"], "batch-response");
    Resource::from_json(response.to_string().as_bytes()).unwrap();
    let statuses: Vec<&str> = response["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "201 Created",
            "409 Conflict",
            "201 Created",
            "200 OK",
            "404 Not Found",
            "400 Bad Request",
            "422 Unprocessable Entity",
            "412 Precondition Failed"
        ]
    );
    let expression =
        |i: usize| response["entry"][i]["response"]["outcome"]["issue"][0]["expression"][0].clone();
    assert_eq!(expression(5), "Bundle.entry[5].request.url");
    assert_eq!(expression(6), "Bundle.entry[6].resource.identifier[0]");
    assert_eq!(response["entry"][3]["resource"]["id"], patient.as_str());
    // What succeeded is stored, whatever failed beside it.
    let created = response["entry"][0]["response"]["location"]
        .as_str()
        .unwrap()
        .trim_end_matches("/_history/1")
        .to_owned();
    let (status, _) = api.get(&format!("{base}/fhir/{created}")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, found) = api
        .get(&format!("{base}/fhir/Patient?identifier=10000002"))
        .await;
    assert_eq!(found["entry"].as_array().map(Vec::len), Some(1));
    app.stop().await;
}

async fn concurrent_identical_pushes_create_one_set_of_entries(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    let bundle = push(&patient, &ipress, "urn:oid:1.2.604.9.7", &[4, 5]);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (api, url, bundle) = (api.clone(), format!("{base}/fhir"), bundle.clone());
        tasks.push(tokio::spawn(async move { api.post(&url, &bundle).await }));
    }
    let mut sets = std::collections::BTreeSet::new();
    for task in tasks {
        let (status, response) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{response}");
        sets.insert(locations(&response));
    }
    assert_eq!(sets.len(), 1, "{sets:?}");
    app.stop().await;
}

async fn a_push_with_one_bad_entry_changes_nothing(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    let (status, _) = api
        .post(
            &format!("{base}/fhir"),
            &push(&patient, &ipress, "urn:oid:1.2.604.9.9", &[9]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let before = db.snapshot();
    let mut bundle = push(&patient, &ipress, "urn:oid:1.2.604.9.3", &[6, 7]);
    bundle["entry"][2]["resource"]["subject"]["reference"] = json!("Patient/nobody");
    let (status, outcome) = api.post(&format!("{base}/fhir"), &bundle).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
    assert_outcome(&outcome, "business-rule");
    assert_eq!(
        outcome["issue"][0]["expression"][0],
        "Bundle.entry[2].resource.subject"
    );
    // Refused in the database itself (the second document repeats a stored one, so
    // the first was already written when the key conflict rolled the push back).
    let mut late_conflict = push(&patient, &ipress, "urn:oid:1.2.604.9.10", &[6, 9]);
    late_conflict["entry"][0]["resource"]["identifier"][0]["value"] = json!("urn:oid:1.2.604.9.10");
    let (status, outcome) = api.post(&format!("{base}/fhir"), &late_conflict).await;
    assert_eq!(status, StatusCode::CONFLICT, "{outcome}");
    assert!(
        db.snapshot() == before,
        "a refused push changed the database"
    );
    // Nothing of it was kept: the corrected push is new (201s), not a replay or a conflict.
    let fixed = push(&patient, &ipress, "urn:oid:1.2.604.9.3", &[6, 7]);
    let (status, response) = api.post(&format!("{base}/fhir"), &fixed).await;
    assert_eq!(status, StatusCode::OK, "{response}");
    // The comparison sees a change when there is one.
    assert!(
        db.snapshot() != before,
        "an accepted push left no trace in the snapshot"
    );

    let cases = [
        (
            json!({"resourceType": "Bundle", "type": "collection"}),
            StatusCode::BAD_REQUEST,
            "Bundle.type",
        ),
        (
            json!({"resourceType": "Bundle", "type": "transaction"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Bundle.entry",
        ),
    ];
    for (body, status, path) in cases {
        let (got, outcome) = api.post(&format!("{base}/fhir"), &body).await;
        assert_eq!(got, status, "{outcome}");
        assert_eq!(outcome["issue"][0]["expression"][0], path);
    }
    let mut no_master = push(&patient, &ipress, "urn:oid:1.2.604.9.4", &[8]);
    no_master["entry"][1]["resource"]
        .as_object_mut()
        .unwrap()
        .remove("masterIdentifier");
    let (status, outcome) = api.post(&format!("{base}/fhir"), &no_master).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
    assert_eq!(
        outcome["issue"][0]["expression"][0],
        "Bundle.entry[1].resource.masterIdentifier"
    );
    app.stop().await;
}

async fn documents_are_found_by_patient_status_and_metadata(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    let (status, _) = api
        .post(
            &format!("{base}/fhir"),
            &push(&patient, &ipress, "urn:oid:1.2.604.9.5", &[1, 2]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut other = push(&patient, &ipress, "urn:oid:1.2.604.9.6", &[3]);
    other["entry"][1]["resource"]["type"]["coding"][0]["code"] = json!("11488-4");
    other["entry"][1]["resource"]["date"] = json!("2025-01-10T08:00:00-05:00");
    let (status, body) = api.post(&format!("{base}/fhir"), &other).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let found = |query: String| {
        let url = format!("{base}/fhir/DocumentReference?{query}");
        let api = api.clone();
        async move {
            let (status, bundle) = api.get(&url).await;
            assert_eq!(status, StatusCode::OK, "{url}: {bundle}");
            Resource::from_json(bundle.to_string().as_bytes()).unwrap();
            let mut values: Vec<String> = bundle["entry"].as_array().map_or_else(Vec::new, |e| {
                e.iter()
                    .map(|x| {
                        x["resource"]["masterIdentifier"]["value"]
                            .as_str()
                            .unwrap()
                            .to_owned()
                    })
                    .collect()
            });
            values.sort();
            values
        }
    };
    let all = vec![
        "urn:oid:1.2.604.1.1".to_owned(),
        "urn:oid:1.2.604.1.2".to_owned(),
        "urn:oid:1.2.604.1.3".to_owned(),
    ];
    assert_eq!(
        found(format!("patient={patient}&status=current")).await,
        all
    );
    assert_eq!(
        found(format!("patient=Patient/{patient}&status=current")).await,
        all
    );
    assert_eq!(
        found("patient.identifier=45678912&status=current".to_owned()).await,
        all
    );
    assert!(
        found("patient.identifier=99999999&status=current".to_owned())
            .await
            .is_empty()
    );
    assert!(
        found(format!("patient={patient}&status=superseded"))
            .await
            .is_empty()
    );
    assert_eq!(
        found(format!(
            "patient={patient}&status=current&type=http://loinc.org%7C11488-4"
        ))
        .await,
        vec![all[2].clone()]
    );
    assert_eq!(
        found(format!(
            "patient={patient}&status=current&date=ge2026-01-01"
        ))
        .await,
        all[..2].to_vec()
    );
    assert_eq!(
        found(format!("patient={patient}&status=current&date=2025-01")).await,
        vec![all[2].clone()]
    );
    assert_eq!(
        found(format!(
            "patient={patient}&status=current&custodian=Organization/{ipress}"
        ))
        .await,
        all
    );
    assert!(
        found(format!(
            "patient={patient}&status=current&custodian=elsewhere"
        ))
        .await
        .is_empty()
    );
    assert_eq!(
        found(format!(
            "patient={patient}&status=current&identifier=urn:ietf:rfc:3986%7Curn:oid:1.2.604.1.2"
        ))
        .await,
        vec![all[1].clone()]
    );
    // ITI-67 requires the patient and the status.
    for query in ["status=current".to_owned(), format!("patient={patient}")] {
        let (status, outcome) = api
            .get(&format!("{base}/fhir/DocumentReference?{query}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {outcome}");
    }
    // Provenances are read by id only; SubmissionSet searches name patient and status.
    let (status, _) = api
        .get(&format!("{base}/fhir/Provenance?patient={patient}"))
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, _) = api
        .get(&format!("{base}/fhir/List?patient={patient}"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A document without its date is not indexed.
    let mut undated = push(&patient, &ipress, "urn:oid:1.2.604.9.8", &[8]);
    undated["entry"][1]["resource"]
        .as_object_mut()
        .unwrap()
        .remove("date");
    let (status, outcome) = api.post(&format!("{base}/fhir"), &undated).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
    assert_eq!(
        outcome["issue"][0]["expression"][0],
        "Bundle.entry[1].resource.date"
    );
    app.stop().await;
}

async fn record_locations_list_each_ipress_and_follow_merges(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let (patient, santa_clara) = identities(&app).await;
    // A second IPRESS with an endpoint.
    let other = json!({
        "resourceType": "Organization",
        "active": true,
        "identifier": [Renipress::parse("00005938").unwrap().to_identifier()],
        "name": "Hospital Loayza",
        "endpoint": [{"reference": "Endpoint/loayza-fhir"}]
    });
    let other: Value = serde_json::from_str(
        &Resource::from_json(other.to_string().as_bytes())
            .unwrap()
            .to_json_string(),
    )
    .unwrap();
    let api = app.client(&admin());
    let (status, loayza) = api.post(&format!("{base}/fhir/Organization"), &other).await;
    assert_eq!(status, StatusCode::CREATED, "{loayza}");
    let loayza = loayza["id"].as_str().unwrap().to_owned();
    let api = app.client(&sihce(HOME_IPRESS));
    let (s1, _) = api
        .post(
            &format!("{base}/fhir"),
            &push(&patient, &santa_clara, "urn:oid:9.1", &[1, 2]),
        )
        .await;
    let mut later = push(&patient, &loayza, "urn:oid:9.2", &[3]);
    later["entry"][1]["resource"]["date"] = json!("2026-05-01T09:00:00-05:00");
    let api = app.client(&sihce("00005938"));
    let (s2, body) = api.post(&format!("{base}/fhir"), &later).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{body}");
    // The patient sees every IPRESS holding their records.
    let api = app.client(&crate::patient("1|PER|45678912"));

    let (status, params) = api
        .get(&format!("{base}/fhir/Patient/{patient}/$record-locations"))
        .await;
    assert_eq!(status, StatusCode::OK, "{params}");
    Resource::from_json(params.to_string().as_bytes()).unwrap();
    let locations = params["parameter"].as_array().unwrap();
    assert_eq!(locations.len(), 2);
    let part = |location: &Value, name: &str| -> Value {
        location["part"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    // Newest first: Loayza (May 2026), then Santa Clara (March 2026, two entries).
    assert_eq!(
        part(&locations[0], "organization")["valueReference"]["reference"],
        format!("Organization/{loayza}")
    );
    assert_eq!(
        part(&locations[0], "renipress")["valueIdentifier"]["value"],
        "00005938"
    );
    assert_eq!(
        part(&locations[0], "endpoint")["valueReference"]["reference"],
        "Endpoint/loayza-fhir"
    );
    assert_eq!(
        part(&locations[1], "name")["valueString"],
        "Hospital Santa Clara"
    );
    assert_eq!(part(&locations[1], "count")["valueInteger"], 2);
    assert_eq!(
        part(&locations[1], "first")["valueDateTime"],
        "2026-03-14T15:20:00Z"
    );
    assert_eq!(
        part(&locations[1], "type")["valueCoding"]["code"],
        "34133-9"
    );

    // By identifier, the same answer.
    let (status, by_dni) = api
        .get(&format!(
            "{base}/fhir/Patient/$record-locations?identifier=45678912"
        ))
        .await;
    assert_eq!((status, &by_dni), (StatusCode::OK, &params));

    // How many current entries Loayza holds for the patient, after a record carrying
    // `number` with one entry at Loayza is merged into `into`.
    let merge_into = |number: &'static str, set: &'static str, doc: u32, into: String| {
        let (base, loayza, patient) = (base.clone(), loayza.clone(), patient.clone());
        let (at_loayza, rosa) = (
            app.client(&sihce("00005938")),
            app.client(&crate::patient("1|PER|45678912")),
        );
        async move {
            let record = json!({
                "resourceType": "Patient",
                "identifier": [PersonId::new(renhice_model::peru::DocumentKind::CarneExtranjeria, number, None).unwrap().to_identifier()],
                "name": [{"family": "Mamani", "given": ["Luz"]}],
            });
            let record: Value = serde_json::from_str(
                &Resource::from_json(record.to_string().as_bytes())
                    .unwrap()
                    .to_json_string(),
            )
            .unwrap();
            let api = at_loayza;
            let (_, record) = api.post(&format!("{base}/fhir/Patient"), &record).await;
            let id = record["id"].as_str().unwrap().to_owned();
            let (status, body) = api
                .post(&format!("{base}/fhir"), &push(&id, &loayza, set, &[doc]))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let mut merged = record.clone();
            merged["active"] = json!(false);
            merged["link"] =
                json!([{"other": {"reference": format!("Patient/{into}")}, "type": "replaced-by"}]);
            let res = api
                .request(reqwest::Method::PUT, &format!("{base}/fhir/Patient/{id}"))
                .header("content-type", "application/fhir+json")
                .body(merged.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let (_, after) = rosa
                .get(&format!("{base}/fhir/Patient/{patient}/$record-locations"))
                .await;
            let part = |location: &Value, name: &str| -> Value {
                location["part"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["name"] == name)
                    .cloned()
                    .unwrap_or(Value::Null)
            };
            let count = after["parameter"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| {
                    part(l, "organization")["valueReference"]["reference"]
                        == format!("Organization/{loayza}")
                })
                .map(|l| part(l, "count")["valueInteger"].clone());
            (id, count)
        }
    };
    // A second record of the same person, merged into the first: its documents show
    // up in the survivor's locations.
    let (twin_id, count) = merge_into("001234567", "urn:oid:9.3", 4, patient.clone()).await;
    assert_eq!(count, Some(json!(2)));
    // A third record merged into the twin: the chain leads to the survivor too.
    let (_, count) = merge_into("007654321", "urn:oid:9.4", 5, twin_id).await;
    assert_eq!(count, Some(json!(3)));

    // Unknown patient: 404.
    let api = app.client(&sihce(HOME_IPRESS));
    let (status, _) = api
        .get(&format!("{base}/fhir/Patient/nobody/$record-locations"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .get(&format!(
            "{base}/fhir/Patient/$record-locations?identifier=00000000"
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

/// `_lastUpdated` finds entries by the time of their current version: the push's, or a
/// later correction's.
async fn documents_are_found_by_when_they_last_changed(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    let (status, pushed) = api
        .post(
            &format!("{base}/fhir"),
            &push(&patient, &ipress, "urn:oid:1.2.604.9.7", &[1, 2]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pushed}");
    let search = |when: &str| {
        format!(
            "{base}/fhir/DocumentReference?patient=Patient/{patient}&status=current&_lastUpdated={when}&_total=accurate"
        )
    };
    let (_, found) = api.get(&search("ge2000-01-01")).await;
    assert_eq!(found["total"], 2, "{found}");
    let (_, found) = api.get(&search("lt2000-01-01")).await;
    assert_eq!(found["total"], 0, "{found}");
    // The day of the push, by its own lastUpdated: eq covers the instant.
    let stamped = found_entry_time(&api, &search("ge2000-01-01")).await;
    let day = &stamped[..10];
    let (_, found) = api.get(&search(day)).await;
    assert_eq!(found["total"], 2, "{day}: {found}");
    let (_, found) = api.get(&search(&format!("gt{day}"))).await;
    assert_eq!(found["total"], 0, "{found}");
    let (status, refused) = api.get(&search("sa2026")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    app.stop().await;
}

/// The `meta.lastUpdated` of the first entry a search finds.
async fn found_entry_time(api: &crate::Api, url: &str) -> String {
    let (_, found) = api.get(url).await;
    found["entry"][0]["resource"]["meta"]["lastUpdated"]
        .as_str()
        .unwrap()
        .to_owned()
}

backend_tests!(
    documents_are_found_by_when_they_last_changed,
    a_push_is_stored_with_its_references_rewritten_and_a_retry_changes_nothing,
    a_replacement_supersedes_and_entered_in_error_keeps_history,
    searches_sort_include_count_and_page_while_entries_arrive,
    oversized_bodies_and_bundles_are_refused_clearly,
    a_batch_runs_each_entry_on_its_own,
    concurrent_identical_pushes_create_one_set_of_entries,
    a_push_with_one_bad_entry_changes_nothing,
    documents_are_found_by_patient_status_and_metadata,
    record_locations_list_each_ipress_and_follow_merges
);
