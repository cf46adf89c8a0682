//! `$validate`: a resource checked against FHIR R4 and the bundled profiles over HTTP,
//! nothing stored; and every push held to the registry's profile of a push.

use reqwest::StatusCode;
use serde_json::json;

use crate::push::{identities, push};
use crate::{HOME_IPRESS, sihce, spawn, spawn_with};
use renhice_testing::{TestDb, backend_tests};

async fn validate_answers_an_operation_outcome_with_paths_and_rules(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce("00012345"));
    let narrative = json!({"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Rosa</div>"});
    let invalid = json!({"resourceType": "Patient", "text": narrative, "gender": "masculino", "colour": "verde"});
    for url in [
        format!("{base}/fhir/$validate"),
        format!("{base}/fhir/Patient/$validate"),
    ] {
        let (status, outcome) = api.post(&url, &invalid).await;
        assert_eq!(status, StatusCode::OK, "{outcome}");
        assert_eq!(outcome["resourceType"], "OperationOutcome");
        let issues = outcome["issue"].as_array().unwrap();
        assert_eq!(issues.len(), 2, "{outcome}");
        assert_eq!(issues[0]["severity"], "error");
        assert_eq!(issues[0]["code"], "code-invalid");
        assert_eq!(issues[0]["expression"][0], "Patient.gender");
        assert_eq!(
            issues[0]["details"]["coding"][0]["code"],
            "required-binding"
        );
        assert_eq!(issues[1]["expression"][0], "Patient.colour");
    }
    // An invariant of R4: an Organization needs a name or an identifier (org-1).
    let (status, outcome) = api
        .post(
            &format!("{base}/fhir/Organization/$validate"),
            &json!({
                "resourceType": "Organization", "text": narrative, "active": true
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["issue"][0]["code"], "invariant", "{outcome}");
    assert_eq!(outcome["issue"][0]["details"]["coding"][0]["code"], "org-1");
    assert_eq!(outcome["issue"][0]["expression"][0], "Organization");
    // A valid resource, also inside Parameters.
    let valid = json!({"resourceType": "Patient", "text": narrative, "gender": "male", "birthDate": "1980-02-29"});
    let (status, outcome) = api.post(&format!("{base}/fhir/$validate"), &json!({
            "resourceType": "Parameters",
            "parameter": [{"name": "resource", "resource": valid}, {"name": "mode", "valueCode": "create"}]
        })).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["issue"][0]["severity"], "information", "{outcome}");
    // Nothing was stored.
    let (status, found) = api.get(&format!("{base}/fhir/Patient?gender=male")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        found["entry"].as_array().is_none_or(Vec::is_empty),
        "{found}"
    );
    // The URL's type must be the body's.
    let (status, outcome) = api
        .post(&format!("{base}/fhir/Observation/$validate"), &valid)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{outcome}");
    // A profile is refused, saying why.
    let (status, outcome) = api.post(&format!("{base}/fhir/$validate"), &json!({
            "resourceType": "Parameters",
            "parameter": [{"name": "resource", "resource": valid}, {"name": "profile", "valueUri": "http://example.org/p"}]
        })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{outcome}");
    assert!(
        outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("profile"),
        "{outcome}"
    );
    // Without a token: 401.
    let response = reqwest::Client::new()
        .post(format!("{base}/fhir/$validate"))
        .json(&invalid)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

async fn validate_checks_the_profiles_asked_for_and_claimed(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce("00012345"));
    let paciente = "https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/PacientePe";
    let narrative = json!({"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Rosa</div>"});
    // Valid FHIR R4, but not a PacientePe: no identity document, no name.
    let patient = json!({"resourceType": "Patient", "text": narrative, "gender": "female"});
    let (status, outcome) = api.post(&format!("{base}/fhir/$validate"), &patient).await;
    assert_eq!(
        (status, outcome["issue"][0]["severity"].as_str()),
        (StatusCode::OK, Some("information")),
        "{outcome}"
    );
    let encoded = paciente.replace(':', "%3A").replace('/', "%2F");
    let asked = [
            api.post(&format!("{base}/fhir/Patient/$validate?profile={encoded}"), &patient).await,
            api.post(&format!("{base}/fhir/$validate"), &json!({
                "resourceType": "Parameters",
                "parameter": [{"name": "resource", "resource": patient}, {"name": "profile", "valueUri": paciente}]
            })).await,
        ];
    let mut claimed = patient.clone();
    claimed["meta"] = json!({"profile": [paciente]});
    let claimed = api.post(&format!("{base}/fhir/$validate"), &claimed).await;
    for (status, outcome) in asked.into_iter().chain([claimed]) {
        assert_eq!(status, StatusCode::OK, "{outcome}");
        let paths: Vec<&str> = outcome["issue"]
            .as_array()
            .unwrap()
            .iter()
            .map(|issue| issue["expression"][0].as_str().unwrap())
            .collect();
        assert_eq!(paths, ["Patient.identifier", "Patient.name"], "{outcome}");
        assert_eq!(
            outcome["issue"][0]["details"]["coding"][0]["code"],
            "cardinality"
        );
    }
    // A profile the registry does not know: 400, listing those it knows.
    let (status, outcome) = api
        .post(
            &format!("{base}/fhir/$validate?profile=http%3A%2F%2Fexample.org%2Fp"),
            &patient,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{outcome}");
    assert!(
        outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains(paciente),
        "{outcome}"
    );
    app.stop().await;
}

async fn a_push_that_breaks_the_registry_profiles_is_refused_whole_with_every_error(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    let before = db.snapshot();
    let mut bundle = push(&patient, &ipress, "urn:oid:1.2.604.77.1", &[1, 2]);
    // A folder is not a SubmissionSet; an index entry needs the document's type.
    bundle["entry"][0]["resource"]["code"] = json!({"coding": [{
            "system": "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes", "code": "folder"}]});
    bundle["entry"][2]["resource"]
        .as_object_mut()
        .unwrap()
        .remove("type");
    let (status, outcome) = api.post(&format!("{base}/fhir"), &bundle).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
    let issues = outcome["issue"].as_array().unwrap();
    let found: Vec<(&str, &str)> = issues
        .iter()
        .filter(|issue| issue["severity"] == "error")
        .map(|issue| {
            (
                issue["expression"][0].as_str().unwrap(),
                issue["details"]["coding"][0]["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("Bundle.entry[0].resource.code", "pattern-value"),
            ("Bundle.entry[2].resource.type", "cardinality"),
        ],
        "{outcome}"
    );
    assert!(
        issues.last().unwrap()["diagnostics"]
            .as_str()
            .unwrap()
            .contains("renhice-provide-bundle"),
        "{outcome}"
    );
    // A resource a push may not carry: refused by the closed slicing of the entries.
    let mut other = push(&patient, &ipress, "urn:oid:1.2.604.77.2", &[3]);
    other["entry"].as_array_mut().unwrap().push(json!({
        "fullUrl": "urn:uuid:99999999-aaaa-4bbb-8ccc-000000000000",
        "resource": {"resourceType": "Basic", "code": {"text": "nota"}},
        "request": {"method": "POST", "url": "Basic"}
    }));
    let (status, outcome) = api.post(&format!("{base}/fhir"), &other).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
    assert_eq!(
        outcome["issue"][0]["expression"][0], "Bundle.entry[2]",
        "{outcome}"
    );
    assert_eq!(
        outcome["issue"][0]["details"]["coding"][0]["code"], "slicing",
        "{outcome}"
    );
    assert!(
        db.snapshot() == before,
        "a refused push changed the database"
    );
    app.stop().await;

    // With validation off, only the registry's own rules stand: the same push is taken.
    let app = spawn_with(&db, |config| config.validate_pushes = false).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (status, response) = api.post(&format!("{base}/fhir"), &bundle).await;
    assert_eq!(status, StatusCode::OK, "{response}");
    app.stop().await;
}

backend_tests!(
    validate_answers_an_operation_outcome_with_paths_and_rules,
    validate_checks_the_profiles_asked_for_and_claimed,
    a_push_that_breaks_the_registry_profiles_is_refused_whole_with_every_error
);
