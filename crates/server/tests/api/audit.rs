//! The audit trail over real HTTP: every request, allowed or refused, leaves a BALP
//! `AuditEvent`; auditors read all of it, patients who looked at their records.

use renhice_server::auth::{Grant, Purpose, Role};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::access::{loayza, push};
use crate::push::identities;
use crate::{HOME_IPRESS, admin, clinician, patient, sihce, spawn};
use renhice_testing::{TestDb, backend_tests};

pub(crate) fn auditor() -> Grant {
    Grant {
        subject: "auditor-1".to_owned(),
        role: Role::Auditor,
        organization: None,
        practitioner: None,
        name: Some("Auditora SUSALUD".to_owned()),
        person: None,
        purpose: Purpose::Operations,
        emergency_reason: None,
        sign_in: None,
        system_scope: None,
    }
}

/// Every `AuditEvent` of a searchset, checked to be valid FHIR.
pub(crate) fn events(bundle: &Value) -> Vec<Value> {
    bundle["entry"].as_array().map_or_else(Vec::new, |entries| {
        entries
            .iter()
            .map(|e| {
                let resource = e["resource"].clone();
                renhice_model::resources::Resource::from_json(resource.to_string().as_bytes())
                    .unwrap_or_else(|err| panic!("not a valid AuditEvent ({err}): {resource}"));
                resource
            })
            .collect()
    })
}

fn has_subtype(event: &Value, code: &str) -> bool {
    event["subtype"]
        .as_array()
        .is_some_and(|s| s.iter().any(|c| c["code"] == code))
}

fn names(event: &Value, reference: &str) -> bool {
    event["entity"]
        .as_array()
        .is_some_and(|e| e.iter().any(|x| x["what"]["reference"] == reference))
}

async fn every_request_is_audited_and_patients_see_who_looked(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let (rosa, santa_clara) = identities(&app).await;
    let loayza = loayza(&app).await;
    let api = app.client(&sihce(HOME_IPRESS));
    let (status, _) = api
        .post(
            &format!("{base}/fhir"),
            &push(&rosa, &santa_clara, "urn:oid:7.3", 3),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let api = app.client(&sihce("00005938"));
    let (status, theirs) = api
        .post(
            &format!("{base}/fhir"),
            &push(&rosa, &loayza, "urn:oid:7.4", 4),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let loayza_doc = theirs["entry"][1]["response"]["location"]
        .as_str()
        .unwrap()
        .trim_end_matches("/_history/1")
        .to_owned();
    // Refused: a clinician reading another IPRESS's entry; a request without a token.
    let api = app.client(&clinician(crate::HOME_IPRESS));
    assert_eq!(
        api.get(&format!("{base}/fhir/{loayza_doc}")).await.0,
        StatusCode::FORBIDDEN
    );
    let anonymous = reqwest::Client::new()
        .get(format!("{base}/fhir/Patient/{rosa}"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    // Emergency access: a privacy disclosure, with the reason.
    let mut emergency = clinician(crate::HOME_IPRESS);
    emergency.purpose = Purpose::Emergency;
    emergency.emergency_reason = Some("paciente inconsciente".to_owned());
    let api = app.client(&emergency);
    assert_eq!(
        api.get(&format!("{base}/fhir/Patient/{rosa}/$record-locations"))
            .await
            .0,
        StatusCode::OK
    );

    // The auditor: everything about Rosa, newest first.
    let api = app.client(&auditor());
    let (status, about_rosa) = api
        .get(&format!("{base}/fhir/AuditEvent?patient={rosa}&_count=100"))
        .await;
    assert_eq!(status, StatusCode::OK, "{about_rosa}");
    let about_rosa = events(&about_rosa);
    let disclosure = &about_rosa[0];
    assert_eq!(disclosure["type"]["code"], "110106", "{disclosure}");
    assert!(has_subtype(disclosure, "disclose"), "{disclosure}");
    assert_eq!(
        disclosure["purposeOfEvent"][0]["coding"][0]["code"],
        "ETREAT"
    );
    assert_eq!(
        disclosure["entity"][0]["detail"][0]["valueString"],
        "paciente inconsciente"
    );
    let refused: Vec<&Value> = about_rosa.iter().filter(|e| e["outcome"] == "4").collect();
    assert_eq!(refused.len(), 1, "{about_rosa:?}");
    assert!(names(refused[0], &loayza_doc), "{}", refused[0]);
    assert!(
        refused[0]["outcomeDesc"]
            .as_str()
            .unwrap()
            .contains("rule: own-ipress-entries")
    );
    // Each push once, with what it wrote, by the IPRESS that pushed it.
    let pushes: Vec<&Value> = about_rosa
        .iter()
        .filter(|e| has_subtype(e, "ITI-65"))
        .collect();
    assert_eq!(pushes.len(), 2, "{pushes:?}");
    assert!(
        pushes
            .iter()
            .all(|e| e["outcome"] == "0" && e["action"] == "C")
    );
    assert!(names(pushes[0], &loayza_doc), "{}", pushes[0]);
    let ipress_of = |e: &Value| {
        e["agent"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["type"]["coding"][0]["code"] == "PROV")
            .map(|a| a["who"]["identifier"]["value"].clone())
    };
    assert_eq!(ipress_of(pushes[0]), Some(json!("00005938")));
    assert_eq!(ipress_of(pushes[1]), Some(json!("00012345")));
    // The request without a token concerns nobody yet: the auditor finds it among all.
    let (_, all) = api.get(&format!("{base}/fhir/AuditEvent?_count=500")).await;
    let all = events(&all);
    let unauthenticated = all
        .iter()
        .find(|e| {
            e["outcome"] == "4" && e["agent"][0]["who"]["identifier"]["value"] == "unauthenticated"
        })
        .unwrap_or_else(|| panic!("no audit of the 401 in {all:?}"));
    assert!(
        unauthenticated["outcomeDesc"]
            .as_str()
            .unwrap()
            .contains("access token")
    );
    // Paging: the next link continues below, without overlap.
    let (_, first) = api
        .get(&format!("{base}/fhir/AuditEvent?patient={rosa}&_count=2"))
        .await;
    let next = first["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, second) = api.get(&next).await;
    let (first, second) = (events(&first), events(&second));
    let (_, full) = api
        .get(&format!("{base}/fhir/AuditEvent?patient={rosa}&_count=100"))
        .await;
    let full = events(&full);
    let at = full.iter().position(|e| e["id"] == first[1]["id"]).unwrap();
    assert_eq!(
        second[0]["id"],
        full[at + 1]["id"],
        "the second page starts right after the first"
    );

    // A SIHCE looks for Rosa and another person in one search: one event for each.
    let other = json!({"resourceType": "Patient", "name": [{"family": "Mamani", "given": ["Luz"]}],
        "identifier": [serde_json::to_value(
            renhice_model::peru::PersonId::dni("10000001").unwrap().to_identifier(),
        ).unwrap()]});
    let (status, other) = app
        .client(&sihce(HOME_IPRESS))
        .post(&format!("{base}/fhir/Patient"), &other)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let other_id = other["id"].as_str().unwrap().to_owned();
    let (status, found) = app
        .client(&sihce(HOME_IPRESS))
        .get(&format!("{base}/fhir/Patient?identifier=45678912,10000001"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["entry"].as_array().map(Vec::len), Some(2), "{found}");
    // The auditor reads the search as it was made.
    let (_, trail) = app
        .client(&auditor())
        .get(&format!("{base}/fhir/AuditEvent?patient={rosa}&_count=100"))
        .await;
    assert!(trail.to_string().contains("10000001"), "the query is kept");

    // Rosa sees who looked at her records, by name, and nothing about others: not even
    // whom else a search that found her was looking for.
    let api = app.client(&patient("1|PER|45678912"));
    let (_, mine) = api.get(&format!("{base}/fhir/AuditEvent?_count=500")).await;
    assert!(!mine.to_string().contains("10000001"), "{mine}");
    assert!(!mine.to_string().contains(&other_id), "{mine}");
    assert!(
        events(&mine)
            .iter()
            .any(|e| e["type"]["code"] == "rest" && e["subtype"].to_string().contains("search")),
        "the search itself is shown: {mine}"
    );
    let (status, mine) = api.get(&format!("{base}/fhir/AuditEvent")).await;
    assert_eq!(status, StatusCode::OK);
    let mine = events(&mine);
    let looked = mine.iter().find(|e| e["type"]["code"] == "110106").unwrap();
    let who: Vec<&str> = looked["agent"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(who, ["Dra. Ana Torres"]);
    assert!(
        mine.iter()
            .all(|e| e["entity"][0]["what"]["reference"] == format!("Patient/{rosa}"))
    );
    let others = unauthenticated["id"].as_str().unwrap();
    let (status, _) = api.get(&format!("{base}/fhir/AuditEvent/{others}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api
        .get(&format!(
            "{base}/fhir/AuditEvent/{}",
            looked["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    // A SIHCE does not read the audit trail.
    let api = app.client(&sihce(HOME_IPRESS));
    let (status, body) = api
        .get(&format!("{base}/fhir/AuditEvent?patient={rosa}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    app.stop().await;
}

async fn each_refusal_is_audited_with_its_rule(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let (rosa, santa_clara) = identities(&app).await;
    let loayza = loayza(&app).await;
    let api = app.client(&sihce("00005938"));
    let (_, theirs) = api
        .post(
            &format!("{base}/fhir"),
            &push(&rosa, &loayza, "urn:oid:7.4", 4),
        )
        .await;
    let loayza_doc = theirs["entry"][1]["response"]["location"]
        .as_str()
        .unwrap()
        .trim_end_matches("/_history/1")
        .to_owned();
    let other = json!({"resourceType": "Patient", "name": [{"family": "Mamani", "given": ["Luz"]}], "identifier": [
            serde_json::to_value(
                renhice_model::peru::PersonId::dni("10000001").unwrap().to_identifier(),
            )
            .unwrap()]});
    let (status, other) = api.post(&format!("{base}/fhir/Patient"), &other).await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let other = other["id"].as_str().unwrap().to_owned();
    let mut no_reason = clinician(crate::HOME_IPRESS);
    no_reason.purpose = Purpose::Emergency;
    let consent = json!({"resourceType": "Consent", "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
            "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": format!("Patient/{rosa}")},
            "organization": [{"reference": format!("Organization/{santa_clara}")}],
            "provision": {"type": "permit", "actor": [{"reference": {"reference": format!("Organization/{santa_clara}")}}]}});
    let refusals: Vec<(&str, Grant, reqwest::Method, String, Option<Value>)> = vec![
        (
            "role",
            admin(),
            reqwest::Method::GET,
            format!("{base}/fhir/Patient/{rosa}"),
            None,
        ),
        (
            "ipress-registered",
            sihce("00099999"),
            reqwest::Method::POST,
            format!("{base}/fhir"),
            Some(push(&rosa, &santa_clara, "urn:oid:7.9", 9)),
        ),
        (
            "custodian-is-caller",
            sihce(HOME_IPRESS),
            reqwest::Method::POST,
            format!("{base}/fhir"),
            Some(push(&rosa, &loayza, "urn:oid:7.8", 8)),
        ),
        (
            "own-ipress-entries",
            clinician(crate::HOME_IPRESS),
            reqwest::Method::GET,
            format!("{base}/fhir/{loayza_doc}"),
            None,
        ),
        (
            "patient-own-records",
            patient("1|PER|45678912"),
            reqwest::Method::GET,
            format!("{base}/fhir/Patient/{other}"),
            None,
        ),
        (
            "person-registered",
            patient("1|PER|99999999"),
            reqwest::Method::GET,
            format!("{base}/fhir/Patient/{rosa}"),
            None,
        ),
        (
            "emergency-reason",
            no_reason,
            reqwest::Method::GET,
            format!("{base}/fhir/Patient/{rosa}/$record-locations"),
            None,
        ),
        (
            "consent-authorisation",
            sihce(HOME_IPRESS),
            reqwest::Method::POST,
            format!("{base}/fhir/Consent"),
            Some(consent),
        ),
    ];
    for (rule, grant, method, url, body) in &refusals {
        let mut request = app.client(grant).request(method.clone(), url);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/fhir+json")
                .body(body.to_string());
        }
        let res = request.send().await.unwrap();
        assert!(res.status().is_client_error(), "{rule}: {}", res.status());
    }
    let api = app.client(&auditor());
    let (_, trail) = api.get(&format!("{base}/fhir/AuditEvent?_count=500")).await;
    let trail = events(&trail);
    for (rule, grant, ..) in &refusals {
        let found = trail.iter().find(|e| {
            e["outcome"] == "4"
                && e["outcomeDesc"]
                    .as_str()
                    .is_some_and(|d| d.contains(&format!("rule: {rule}")))
        });
        let event = found.unwrap_or_else(|| panic!("no audit of the {rule} refusal"));
        // Who was refused: the token's subject.
        assert_eq!(
            event["agent"][0]["who"]["identifier"]["value"],
            grant.subject.as_str(),
            "{rule}: {event}"
        );
    }
    app.stop().await;
}

async fn auditors_verify_the_hash_chain_over_the_api(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    identities(&app).await;
    let url = format!("{base}/fhir/AuditEvent/$verify-chain");
    let (status, body) = app.client(&clinician(HOME_IPRESS)).get(&url).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app.client(&patient("1|PER|45678912")).get(&url).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, report) = app.client(&auditor()).get(&url).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["resourceType"], "Parameters");
    let value = |name: &str| {
        report["parameter"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(value("valid")["valueBoolean"], true, "{report}");
    let sealed = value("events")["valueInteger"].as_i64().unwrap();
    let pending = value("pending")["valueInteger"].as_i64().unwrap();
    // The identities' writes and the refusals above were audited: every one of them is
    // sealed or waiting to be.
    assert!(sealed + pending >= 4, "{report}");
    assert!(
        value("message")["valueString"]
            .as_str()
            .unwrap()
            .contains("intact")
    );
    app.stop().await;
}

backend_tests!(
    auditors_verify_the_hash_chain_over_the_api,
    every_request_is_audited_and_patients_see_who_looked,
    each_refusal_is_audited_with_its_rule
);
