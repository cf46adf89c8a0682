//! The patient summary (basic clinical information) over real HTTP: the latest per
//! patient and IPRESS is kept, and `Patient/$summary` serves the newest.

use renhice_model::resources::Resource;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::push::identities;
use crate::{HOME_IPRESS, assert_outcome, sihce, spawn};
use renhice_testing::{TestDb, backend_tests};

/// A BundlePe-shaped document: the Composition first, then the patient, the IPRESS and
/// one condition. `subject` and `custodian` are the Composition's references.
fn summary(id: &str, timestamp: &str, subject: &str, custodian: &str, condition: &str) -> Value {
    let document = json!({
        "resourceType": "Bundle",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{id}")},
        "type": "document",
        "timestamp": timestamp,
        "entry": [
            {
                "fullUrl": "urn:uuid:c0000000-0000-4000-8000-000000000001",
                "resource": {
                    "resourceType": "Composition",
                    "status": "final",
                    "type": {"coding": [{"system": "http://loinc.org", "code": "60591-5", "display": "Patient summary Document"}]},
                    "subject": {"reference": subject},
                    "date": timestamp,
                    "author": [{"reference": "urn:uuid:c0000000-0000-4000-8000-000000000005"}],
                    "title": "Información Clínica Básica",
                    "custodian": {"reference": custodian},
                    "section": [{
                        "title": "Problemas",
                        "code": {"coding": [{"system": "http://loinc.org", "code": "11450-4"}]},
                        "entry": [{"reference": "urn:uuid:c0000000-0000-4000-8000-000000000004"}]
                    }]
                }
            },
            {
                "fullUrl": "urn:uuid:c0000000-0000-4000-8000-000000000002",
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [renhice_model::peru::PersonId::dni("45678912").unwrap().to_identifier()],
                    "name": [{"family": "Quispe", "given": ["Rosa"]}]
                }
            },
            {
                "fullUrl": "urn:uuid:c0000000-0000-4000-8000-000000000003",
                "resource": {
                    "resourceType": "Organization",
                    "identifier": [renhice_model::peru::Renipress::parse("00012345").unwrap().to_identifier()],
                    "active": true
                }
            },
            {
                "fullUrl": "urn:uuid:c0000000-0000-4000-8000-000000000004",
                "resource": {
                    "resourceType": "Condition",
                    "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": condition}]},
                    "subject": {"reference": subject}
                }
            },
            {
                "fullUrl": "urn:uuid:c0000000-0000-4000-8000-000000000005",
                "resource": {
                    "resourceType": "Practitioner",
                    "identifier": [renhice_model::peru::PersonId::dni("10293847").unwrap().to_identifier()],
                    "name": [{"family": "Rojas Salazar", "given": ["José"]}]
                }
            }
        ]
    });
    // In the model's canonical form, as a SIHCE using it would send it.
    serde_json::from_str(
        &Resource::from_json(document.to_string().as_bytes())
            .unwrap()
            .to_json_string(),
    )
    .unwrap()
}

fn condition(document: &Value) -> Value {
    document["entry"][3]["resource"]["code"]["coding"][0]["code"].clone()
}

async fn the_latest_summary_per_patient_and_ipress_is_kept_and_served(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    let (status, body) = api
        .get(&format!("{base}/fhir/Patient/{patient}/$summary"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_outcome(&body, "not-found");

    // By registry ids: created.
    let first = summary(
        "a1",
        "2026-01-10T09:00:00-05:00",
        &format!("Patient/{patient}"),
        &format!("Organization/{ipress}"),
        "E11",
    );
    let (status, stored) = api.post(&format!("{base}/fhir/Bundle"), &first).await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    assert_eq!(stored["meta"]["versionId"], "1");
    let id = stored["id"].as_str().unwrap().to_owned();
    // The same document again: answered with what is held, nothing new.
    let (status, again) = api.post(&format!("{base}/fhir/Bundle"), &first).await;
    assert_eq!((status, &again), (StatusCode::OK, &stored));

    // A later one, naming the patient and IPRESS as entries of the document (by DNI
    // and RENIPRESS code): the next version of the same summary.
    let later = summary(
        "a2",
        "2026-03-01T09:00:00-05:00",
        "urn:uuid:c0000000-0000-4000-8000-000000000002",
        "urn:uuid:c0000000-0000-4000-8000-000000000003",
        "I10",
    );
    let (status, second) = api.post(&format!("{base}/fhir/Bundle"), &later).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(
        (second["id"].as_str(), &second["meta"]["versionId"]),
        (Some(id.as_str()), &json!("2"))
    );

    // An older one does not overwrite it.
    let older = summary(
        "a0",
        "2025-12-01T09:00:00-05:00",
        &format!("Patient/{patient}"),
        &format!("Organization/{ipress}"),
        "J45",
    );
    let (status, body) = api.post(&format!("{base}/fhir/Bundle"), &older).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_outcome(&body, "conflict");

    // $summary on the instance and by identifier: the newest.
    let (status, served) = api
        .get(&format!("{base}/fhir/Patient/{patient}/$summary"))
        .await;
    assert_eq!(status, StatusCode::OK, "{served}");
    assert_eq!(condition(&served), "I10");
    assert_eq!(served["type"], "document");
    let (status, by_dni) = api
        .get(&format!("{base}/fhir/Patient/$summary?identifier=45678912"))
        .await;
    assert_eq!((status, &by_dni), (StatusCode::OK, &served));
    let (status, from_ipress) = api
        .get(&format!(
            "{base}/fhir/Patient/{patient}/$summary?custodian=Organization/{ipress}"
        ))
        .await;
    assert_eq!(
        (status, condition(&from_ipress)),
        (StatusCode::OK, json!("I10"))
    );
    // Another IPRESS's summary is not the SIHCE's to read; the patient reads any of
    // theirs, and there is none from an unknown IPRESS.
    let (status, _) = api
        .get(&format!(
            "{base}/fhir/Patient/{patient}/$summary?custodian=Organization/elsewhere"
        ))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let api = app.client(&crate::patient("1|PER|45678912"));
    let (status, _) = api
        .get(&format!(
            "{base}/fhir/Patient/{patient}/$summary?custodian=Organization/elsewhere"
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The earlier summary is kept in the history.
    let (status, history) = api.get(&format!("{base}/fhir/Bundle/{id}/_history")).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(history["entry"].as_array().map(Vec::len), Some(2));
    app.stop().await;
}

async fn a_summary_the_registry_cannot_place_is_refused_with_the_path(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    let url = format!("{base}/fhir/Bundle");
    let good = summary(
        "b1",
        "2026-01-10T09:00:00-05:00",
        &format!("Patient/{patient}"),
        &format!("Organization/{ipress}"),
        "E11",
    );
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            {
                let mut d = good.clone();
                d["type"] = json!("collection");
                d
            },
            422,
            "Bundle.type",
        ),
        (
            {
                let mut d = good.clone();
                d.as_object_mut().unwrap().remove("identifier");
                d
            },
            422,
            "Bundle.identifier",
        ),
        (
            {
                let mut d = good.clone();
                d.as_object_mut().unwrap().remove("timestamp");
                d
            },
            422,
            "Bundle.timestamp",
        ),
        (
            {
                let mut d = good.clone();
                d["entry"].as_array_mut().unwrap().remove(0);
                d
            },
            422,
            "Bundle.entry",
        ),
        (
            {
                let mut d = good.clone();
                d["entry"][0]["resource"]["subject"]["reference"] = json!("Patient/nobody");
                d
            },
            422,
            "Bundle.entry[0].resource.subject",
        ),
        (
            {
                let mut d = good.clone();
                d["entry"][0]["resource"]["subject"]["reference"] = json!("urn:uuid:missing");
                d
            },
            422,
            "Bundle.entry[0].resource.subject",
        ),
        (
            {
                let mut d = good.clone();
                d["entry"][0]["resource"]
                    .as_object_mut()
                    .unwrap()
                    .remove("custodian");
                d
            },
            422,
            "Bundle.entry[0].resource.custodian",
        ),
    ];
    for (document, status, path) in cases {
        let (got, body) = api.post(&url, &document).await;
        assert_eq!(got.as_u16(), status, "{path}: {body}");
        // Named by the profile's check or by the registry's own, which runs after it.
        assert!(
            body["issue"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["expression"][0] == path),
            "{path}: {body}"
        );
    }
    // Nothing was kept.
    let (status, _) = api
        .get(&format!("{base}/fhir/Patient/{patient}/$summary"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

/// Without the patient's consent another IPRESS gets only its own summary, and is told
/// that other IPRESS hold records: how many, not which.
async fn a_summary_says_what_the_callers_access_left_out(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let (patient, santa_clara) = identities(&app).await;
    let loayza = crate::access::loayza(&app).await;
    let home = app.client(&sihce(HOME_IPRESS));
    let (status, _) = home
        .post(
            &format!("{base}/fhir"),
            &crate::push::push(&patient, &santa_clara, "urn:oid:1.2.604.77", &[1]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Santa Clara holds index entries of the patient but no summary yet: nothing of a
    // summary is withheld from Loayza, so the 404 says only that.
    let at_loayza = app.client(&sihce("00005938"));
    let url = format!("{base}/fhir/Patient/{patient}/$summary");
    let (status, outcome) = at_loayza.get(&url).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{outcome}");
    assert_eq!(
        outcome["issue"].as_array().map(Vec::len),
        Some(1),
        "entries are not summaries: {outcome}"
    );
    let theirs = summary(
        "b1",
        "2026-02-01T09:00:00-05:00",
        &format!("Patient/{patient}"),
        &format!("Organization/{santa_clara}"),
        "E11",
    );
    let (status, body) = home.post(&format!("{base}/fhir/Bundle"), &theirs).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, outcome) = at_loayza.get(&url).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{outcome}");
    assert_eq!(outcome["issue"][0]["code"], "not-found", "{outcome}");
    assert_eq!(outcome["issue"][1]["severity"], "information", "{outcome}");
    assert_eq!(outcome["issue"][1]["code"], "suppressed", "{outcome}");
    assert!(
        outcome["issue"][1]["diagnostics"]
            .as_str()
            .is_some_and(|d| d.starts_with("1 IPRESS holds")),
        "{outcome}"
    );
    assert!(
        !outcome.to_string().contains("00012345"),
        "not which: {outcome}"
    );

    // Its own summary is served, with the count in a header (the document is unchanged).
    let own = summary(
        "b2",
        "2026-03-01T09:00:00-05:00",
        &format!("Patient/{patient}"),
        &format!("Organization/{loayza}"),
        "I10",
    );
    let (status, body) = at_loayza.post(&format!("{base}/fhir/Bundle"), &own).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let res = at_loayza
        .request(reqwest::Method::GET, &url)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-withheld-ipress"], "1");
    let served: Value = res.json().await.unwrap();
    assert_eq!(condition(&served), json!("I10"));
    // Santa Clara gets its own summary, and is told of Loayza's, which it cannot see.
    let res = home
        .request(reqwest::Method::GET, &url)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-withheld-ipress"], "1");
    let served: Value = res.json().await.unwrap();
    assert_eq!(condition(&served), json!("E11"));
    // Asked for one IPRESS's summary, nothing else is counted.
    let res = home
        .request(
            reqwest::Method::GET,
            &format!("{url}?custodian=Organization/{santa_clara}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("x-withheld-ipress").is_none());
    app.stop().await;
}

backend_tests!(
    a_summary_says_what_the_callers_access_left_out,
    the_latest_summary_per_patient_and_ipress_is_kept_and_served,
    a_summary_the_registry_cannot_place_is_refused_with_the_path
);
