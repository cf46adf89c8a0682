//! `$validate`: a resource checked against FHIR R4 over HTTP, nothing stored.

use reqwest::StatusCode;
use serde_json::json;

use crate::push::post;
use crate::{sihce, spawn};
use renhice_testing::backend_tests;

backend_tests! {
    async fn validate_answers_an_operation_outcome_with_paths_and_rules(db) {
        let (server, base) = spawn(&db).await;
        crate::act_as(&base, &sihce("00012345"));
        let narrative = json!({"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Rosa</div>"});
        let invalid = json!({"resourceType": "Patient", "text": narrative, "gender": "masculino", "colour": "verde"});
        for url in [format!("{base}/fhir/$validate"), format!("{base}/fhir/Patient/$validate")] {
            let (status, outcome) = post(&url, &invalid).await;
            assert_eq!(status, StatusCode::OK, "{outcome}");
            assert_eq!(outcome["resourceType"], "OperationOutcome");
            let issues = outcome["issue"].as_array().unwrap();
            assert_eq!(issues.len(), 2, "{outcome}");
            assert_eq!(issues[0]["severity"], "error");
            assert_eq!(issues[0]["code"], "code-invalid");
            assert_eq!(issues[0]["expression"][0], "Patient.gender");
            assert_eq!(issues[0]["details"]["coding"][0]["code"], "required-binding");
            assert_eq!(issues[1]["expression"][0], "Patient.colour");
        }
        // An invariant of R4: an Organization needs a name or an identifier (org-1).
        let (status, outcome) = post(&format!("{base}/fhir/Organization/$validate"), &json!({
            "resourceType": "Organization", "text": narrative, "active": true
        })).await;
        assert_eq!(status, StatusCode::OK, "{outcome}");
        assert_eq!(outcome["issue"][0]["code"], "invariant", "{outcome}");
        assert_eq!(outcome["issue"][0]["details"]["coding"][0]["code"], "org-1");
        assert_eq!(outcome["issue"][0]["expression"][0], "Organization");
        // A valid resource, also inside Parameters.
        let valid = json!({"resourceType": "Patient", "text": narrative, "gender": "male", "birthDate": "1980-02-29"});
        let (status, outcome) = post(&format!("{base}/fhir/$validate"), &json!({
            "resourceType": "Parameters",
            "parameter": [{"name": "resource", "resource": valid}, {"name": "mode", "valueCode": "create"}]
        })).await;
        assert_eq!(status, StatusCode::OK, "{outcome}");
        assert_eq!(outcome["issue"][0]["severity"], "information", "{outcome}");
        // Nothing was stored.
        let (status, found) = crate::push::get(&format!("{base}/fhir/Patient?gender=male")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(found["entry"].as_array().is_none_or(Vec::is_empty), "{found}");
        // The URL's type must be the body's.
        let (status, outcome) = post(&format!("{base}/fhir/Observation/$validate"), &valid).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{outcome}");
        // A profile is refused, saying why.
        let (status, outcome) = post(&format!("{base}/fhir/$validate"), &json!({
            "resourceType": "Parameters",
            "parameter": [{"name": "resource", "resource": valid}, {"name": "profile", "valueUri": "http://example.org/p"}]
        })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{outcome}");
        assert!(outcome["issue"][0]["diagnostics"].as_str().unwrap().contains("profile"), "{outcome}");
        // Without a token: 401.
        crate::act_as(&base, &sihce("00012345"));
        let response = reqwest::Client::new().post(format!("{base}/fhir/$validate")).json(&invalid).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        server.stop(true).await.unwrap();
    }
}
