//! Patients' consents (IHE PCF) over real HTTP: who records, reads and revokes them, and
//! what they open, until the moment they are revoked.

use renhice_server::auth::Purpose;
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::access::{assert_refused, count_at, loayza, masters, push, renipress_codes};
use crate::push::identities;
use crate::{HOME_IPRESS, TestApp, admin, clinician, patient, sihce, spawn};
use renhice_testing::{TestDb, backend_tests};

const ROSA: &str = "1|PER|45678912";

/// A change that spoils a consent.
type Spoil = Box<dyn Fn(&mut Value)>;

/// An instant `days` from now, as FHIR dateTime text.
fn days_from_now(days: i64) -> String {
    (OffsetDateTime::now_utc() + time::Duration::days(days))
        .replace_nanosecond(0)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

/// A consent of `patient` granting `grantee` (a reference) access for treatment this
/// month.
pub(crate) fn consent(patient: &str, grantee: &Value) -> Value {
    json!({
        "resourceType": "Consent",
        "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": format!("Patient/{patient}")},
        "dateTime": days_from_now(0),
        "provision": {
            "type": "permit",
            "period": {"start": days_from_now(-1), "end": days_from_now(30)},
            "actor": [{
                "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
                "reference": grantee
            }],
            "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT"}]
        }
    })
}

/// The location (`Type/id`) of a push's entry `i`.
fn location(pushed: &Value, i: usize) -> String {
    pushed["entry"][i]["response"]["location"]
        .as_str()
        .unwrap()
        .trim_end_matches("/_history/1")
        .to_owned()
}

/// Rosa at Santa Clara and Loayza: one entry at Santa Clara (7.3), one at Loayza (7.4)
/// and one Loayza labelled restricted (7.8). Returns (Rosa, Santa Clara, Loayza, the
/// Loayza entry, the restricted entry).
async fn records_at_two_ipress(app: &TestApp) -> (String, String, String, String, String) {
    let base = &app.base;
    let (rosa, santa_clara) = identities(app).await;
    let loayza = loayza(app).await;
    let (status, body) = app
        .client(&sihce(HOME_IPRESS))
        .post(
            &format!("{base}/fhir"),
            &push(&rosa, &santa_clara, "urn:oid:7.3", 3),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let api = app.client(&sihce("00005938"));
    let (status, plain) = api
        .post(
            &format!("{base}/fhir"),
            &push(&rosa, &loayza, "urn:oid:7.4", 4),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{plain}");
    let mut restricted = push(&rosa, &loayza, "urn:oid:7.8", 8);
    restricted["entry"][1]["resource"]["securityLabel"] = json!([{"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]}]);
    let (status, labelled) = api.post(&format!("{base}/fhir"), &restricted).await;
    assert_eq!(status, StatusCode::OK, "{labelled}");
    (
        rosa,
        santa_clara,
        loayza,
        location(&plain, 1),
        location(&labelled, 1),
    )
}

async fn a_consent_opens_other_ipress_entries_until_it_is_revoked(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let (rosa, santa_clara, _, loayza_doc, restricted_doc) = records_at_two_ipress(&app).await;
    let search = format!("{base}/fhir/DocumentReference?patient={rosa}&status=current");
    // One token for the clinician, used before and after each change of consent.
    let api = app.client(&clinician(crate::HOME_IPRESS));
    assert_eq!(masters(&api.get(&search).await.1), ["urn:oid:1.2.604.7.3"]);

    // Rosa consents: Santa Clara may see her records for treatment this month.
    let api = app.client(&patient(ROSA));
    let grant = consent(
        &rosa,
        &json!({"reference": format!("Organization/{santa_clara}")}),
    );
    let (status, recorded) = api.post(&format!("{base}/fhir/Consent"), &grant).await;
    assert_eq!(status, StatusCode::CREATED, "{recorded}");
    let consent_url = format!("{base}/fhir/Consent/{}", recorded["id"].as_str().unwrap());

    let api = app.client(&clinician(crate::HOME_IPRESS));
    assert_eq!(
        masters(&api.get(&search).await.1),
        ["urn:oid:1.2.604.7.3", "urn:oid:1.2.604.7.4"]
    );
    assert_eq!(
        api.get(&format!("{base}/fhir/{loayza_doc}")).await.0,
        StatusCode::OK
    );
    // Not what Loayza labelled restricted: the consent does not cover sensitive data.
    let (status, body) = api.get(&format!("{base}/fhir/{restricted_doc}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_refused(&body, "forbidden", "rule: own-ipress-entries");
    let (_, params) = api
        .get(&format!("{base}/fhir/Patient/{rosa}/$record-locations"))
        .await;
    assert_eq!(renipress_codes(&params), ["00005938", "00012345"]);
    assert_eq!(count_at(&params, "00005938"), Some(1), "{params}");
    // For another purpose than the consent's, nothing more than its own.
    let mut operations = clinician(crate::HOME_IPRESS);
    operations.purpose = Purpose::Operations;
    let api = app.client(&operations);
    assert_eq!(masters(&api.get(&search).await.1), ["urn:oid:1.2.604.7.3"]);
    // Another IPRESS the consent does not name sees only its own.
    let api = app.client(&sihce("00005938"));
    let (_, theirs) = api
        .get(&format!(
            "{base}/fhir/DocumentReference?patient={rosa}&status=current"
        ))
        .await;
    assert_eq!(
        masters(&theirs),
        ["urn:oid:1.2.604.7.4", "urn:oid:1.2.604.7.8"]
    );

    // Rosa widens it to sensitive data.
    let api = app.client(&patient(ROSA));
    let mut wider = recorded.clone();
    wider["provision"]["securityLabel"] = json!([{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]);
    let (status, body) = api.put(&consent_url, &wider).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let clinician_token = app.token(&clinician(crate::HOME_IPRESS));
    let as_clinician = |url: String| {
        let token = clinician_token.clone();
        async move {
            let res = reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let (_, found) = as_clinician(search.clone()).await;
    assert_eq!(
        masters(&found),
        [
            "urn:oid:1.2.604.7.3",
            "urn:oid:1.2.604.7.4",
            "urn:oid:1.2.604.7.8"
        ]
    );
    assert_eq!(
        as_clinician(format!("{base}/fhir/{restricted_doc}"))
            .await
            .0,
        StatusCode::OK
    );
    let suppressed = |found: &Value| {
        found["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["search"]["mode"] == "outcome")
            .map(|e| {
                e["resource"]["issue"][0]["diagnostics"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect::<Vec<_>>()
    };
    assert!(
        suppressed(&found).is_empty(),
        "all of Rosa's is in scope: {found}"
    );
    // Searched with a patient who gave no consent, the narrowest scope applies to both:
    // only Santa Clara's entries, and the answer counts Loayza as left out, although
    // Rosa alone would have let it in.
    let julia = json!({
        "resourceType": "Patient",
        "identifier": [renhice_model::peru::PersonId::dni("41234567").unwrap().to_identifier()],
        "name": [{"family": "Huamán", "given": ["Julia"]}],
    });
    let (status, julia) = app
        .client(&sihce(HOME_IPRESS))
        .post(&format!("{base}/fhir/Patient"), &julia)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{julia}");
    let both = format!(
        "{base}/fhir/DocumentReference?patient={rosa},{}&status=current",
        julia["id"].as_str().unwrap()
    );
    let (_, found) = as_clinician(both).await;
    assert_eq!(masters(&found), ["urn:oid:1.2.604.7.3"]);
    let told = suppressed(&found);
    assert!(
        told.len() == 1 && told[0].starts_with("1 IPRESS holds"),
        "{found}"
    );

    // Revoked mid-session: the same clinician token is refused at its next request.
    let (_, current) = api.get(&consent_url).await;
    let mut revoked = current.clone();
    revoked["status"] = json!("inactive");
    let (status, body) = api.put(&consent_url, &revoked).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, found) = as_clinician(search.clone()).await;
    assert_eq!(masters(&found), ["urn:oid:1.2.604.7.3"]);
    let (status, body) = as_clinician(format!("{base}/fhir/{loayza_doc}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, params) = as_clinician(format!("{base}/fhir/Patient/{rosa}/$record-locations")).await;
    assert_eq!(renipress_codes(&params), ["00012345"]);

    // A consent whose period is over grants nothing.
    let mut past = consent(
        &rosa,
        &json!({"reference": format!("Organization/{santa_clara}")}),
    );
    past["provision"]["period"] = json!({"start": days_from_now(-60), "end": days_from_now(-30)});
    let (status, body) = api.post(&format!("{base}/fhir/Consent"), &past).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        masters(&as_clinician(search.clone()).await.1),
        ["urn:oid:1.2.604.7.3"]
    );
    app.stop().await;
}

async fn a_consent_can_name_one_clinician(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let (rosa, _, _, loayza_doc, _) = records_at_two_ipress(&app).await;
    // Deny, except Dra. Torres (CMP 012345), named by her colegiatura.
    let api = app.client(&patient(ROSA));
    let mut grant = consent(
        &rosa,
        &json!({"identifier": {
            "type": {"coding": [{"system": renhice_model::peru::url::CS_COLEGIOS, "code": "01"}]},
            "value": "012345"}}),
    );
    let nested = grant["provision"].take();
    grant["provision"] = json!({"type": "deny", "provision": [nested]});
    let (status, body) = api.post(&format!("{base}/fhir/Consent"), &grant).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let api = app.client(&clinician(crate::HOME_IPRESS));
    assert_eq!(
        api.get(&format!("{base}/fhir/{loayza_doc}")).await.0,
        StatusCode::OK
    );
    // Her IPRESS's SIHCE acting on its own, and another clinician there, do not.
    let api = app.client(&sihce(HOME_IPRESS));
    assert_eq!(
        api.get(&format!("{base}/fhir/{loayza_doc}")).await.0,
        StatusCode::FORBIDDEN
    );
    let mut colleague = clinician(crate::HOME_IPRESS);
    colleague.practitioner = Some("01|054321".to_owned());
    let api = app.client(&colleague);
    assert_eq!(
        api.get(&format!("{base}/fhir/{loayza_doc}")).await.0,
        StatusCode::FORBIDDEN
    );
    app.stop().await;
}

async fn who_records_reads_and_revokes_consents(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let (rosa, santa_clara, loayza, _, _) = records_at_two_ipress(&app).await;
    let to_loayza = consent(
        &rosa,
        &json!({"identifier": {
            "system": renhice_model::peru::url::CS_IPRESS, "value": "00005938"}}),
    );
    let url = format!("{base}/fhir/Consent");

    // A SIHCE records one only with the patient's signed authorisation, for its own IPRESS.
    let api = app.client(&sihce(HOME_IPRESS));
    let mut by_sihce = to_loayza.clone();
    by_sihce["organization"] = json!([{"reference": format!("Organization/{santa_clara}")}]);
    let (status, body) = api.post(&url, &by_sihce).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_refused(&body, "forbidden", "rule: consent-authorisation");
    by_sihce["sourceAttachment"] = json!({"contentType": "application/pdf", "url": "https://sihce.example/consents/1.pdf", "title": "Autorización firmada"});
    let mut elsewhere = by_sihce.clone();
    elsewhere["organization"] = json!([{"reference": format!("Organization/{loayza}")}]);
    let (status, body) = api.post(&url, &elsewhere).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_refused(&body, "forbidden", "rule: custodian-is-caller");
    let (status, recorded) = api.post(&url, &by_sihce).await;
    assert_eq!(status, StatusCode::CREATED, "{recorded}");
    let id = recorded["id"].as_str().unwrap().to_owned();
    // The IPRESS named by its RENIPRESS code is granted: Loayza reads the consent.
    let api = app.client(&sihce("00005938"));
    assert_eq!(api.get(&format!("{url}/{id}")).await.0, StatusCode::OK);
    let (_, found) = api
        .get(&format!("{url}?patient={rosa}&status=active"))
        .await;
    assert_eq!(found["entry"].as_array().map(Vec::len), Some(1), "{found}");
    // But may not revoke what Santa Clara recorded.
    let mut revoked = recorded.clone();
    revoked["status"] = json!("inactive");
    let (status, body) = api.put(&format!("{url}/{id}"), &revoked).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // A patient: only about their own records; sees all of theirs.
    let other = json!({"resourceType": "Patient", "name": [{"family": "Mamani", "given": ["Luz"]}], "identifier": [
            serde_json::to_value(
                renhice_model::peru::PersonId::dni("10000001").unwrap().to_identifier(),
            )
            .unwrap()]});
    let api = app.client(&sihce(HOME_IPRESS));
    let (_, other) = api.post(&format!("{base}/fhir/Patient"), &other).await;
    let other = other["id"].as_str().unwrap().to_owned();
    let api = app.client(&patient(ROSA));
    let (status, body) = api
        .post(
            &url,
            &consent(
                &other,
                &json!({"reference": format!("Organization/{santa_clara}")}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_refused(&body, "forbidden", "rule: patient-own-records");
    let (_, mine) = api
        .get(&format!("{url}?patient.identifier=45678912&status=active"))
        .await;
    assert_eq!(mine["entry"].as_array().map(Vec::len), Some(1), "{mine}");
    let (_, theirs) = api
        .get(&format!("{url}?patient={other}&status=active"))
        .await;
    assert!(
        theirs["entry"].as_array().is_none_or(Vec::is_empty),
        "{theirs}"
    );
    // The patient revokes what the SIHCE recorded; the patient of a consent does not change.
    let mut moved = recorded.clone();
    moved["patient"] = json!({"reference": format!("Patient/{other}")});
    let (status, body) = api.put(&format!("{url}/{id}"), &moved).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = api.put(&format!("{url}/{id}"), &revoked).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["meta"]["versionId"], "2");
    let (_, active) = api
        .get(&format!("{url}?patient={rosa}&status=active"))
        .await;
    assert!(
        active["entry"].as_array().is_none_or(Vec::is_empty),
        "{active}"
    );
    let (_, inactive) = api
        .get(&format!("{url}?patient={rosa}&status=inactive"))
        .await;
    assert_eq!(
        inactive["entry"].as_array().map(Vec::len),
        Some(1),
        "{inactive}"
    );
    // Search needs the patient and the status.
    let (status, body) = api.get(&format!("{url}?patient={rosa}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // An IPRESS the consent does not involve reads nothing of it.
    let api = app.client(&admin());
    let third = json!({"resourceType": "Organization", "active": true, "name": "Clínica Tercera", "identifier": [
            serde_json::to_value(
                renhice_model::peru::Renipress::parse("00000777").unwrap().to_identifier(),
            )
            .unwrap()]});
    let (status, body) = api.post(&format!("{base}/fhir/Organization"), &third).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = api.get(&format!("{url}/{id}")).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an administrator reads no consent"
    );
    let api = app.client(&sihce("00000777"));
    let (status, body) = api.get(&format!("{url}/{id}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, none) = api
        .get(&format!("{url}?patient={rosa}&status=inactive"))
        .await;
    assert!(none["entry"].as_array().is_none_or(Vec::is_empty), "{none}");
    // Consents are recorded one at a time, never by a conditional update.
    let (status, _) = api.put(&format!("{url}?identifier=x"), &by_sihce).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    app.stop().await;
}

async fn a_consent_the_registry_could_not_enforce_is_refused(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let (rosa, santa_clara) = identities(&app).await;
    let good = consent(
        &rosa,
        &json!({"reference": format!("Organization/{santa_clara}")}),
    );
    let api = app.client(&patient(ROSA));
    let cases: Vec<(&str, Spoil, &str)> = vec![
        (
            "restricted by data",
            Box::new(
                |c: &mut Value| c["provision"]["data"] = json!([{"meaning": "instance", "reference": {"reference": "DocumentReference/x"}}]),
            ),
            "Consent.provision.data",
        ),
        (
            "restricted by class",
            Box::new(
                |c: &mut Value| c["provision"]["class"] = json!([{"system": "http://hl7.org/fhir/resource-types", "code": "DocumentReference"}]),
            ),
            "Consent.provision.class",
        ),
        (
            "deny inside permit",
            Box::new(|c: &mut Value| {
                c["provision"]["provision"] =
                    json!([{"type": "deny", "actor": c["provision"]["actor"].clone()}]);
            }),
            "Consent.provision.provision[0].type",
        ),
        (
            "nobody granted",
            Box::new(|c: &mut Value| {
                c["provision"].as_object_mut().unwrap().remove("actor");
            }),
            "Consent.provision.actor",
        ),
        (
            "a patient as grantee",
            Box::new(|c: &mut Value| {
                c["provision"]["actor"][0]["reference"] = json!({"reference": "Patient/x"});
            }),
            "Consent.provision.actor[0].reference",
        ),
        (
            "an unknown IPRESS",
            Box::new(
                |c: &mut Value| c["provision"]["actor"][0]["reference"] = json!({"identifier": {"system": renhice_model::peru::url::CS_IPRESS, "value": "00099999"}}),
            ),
            "Consent.provision",
        ),
        (
            "backwards period",
            Box::new(|c: &mut Value| {
                c["provision"]["period"] = json!({"start": "2026-05-01", "end": "2026-04-01"});
            }),
            "Consent.provision.period",
        ),
        (
            "not a privacy consent",
            Box::new(|c: &mut Value| c["scope"]["coding"][0]["code"] = json!("research")),
            "Consent.scope",
        ),
        (
            "no category",
            Box::new(|c: &mut Value| {
                c.as_object_mut().unwrap().remove("category");
            }),
            "Consent.category",
        ),
        (
            "purpose outside ActReason",
            Box::new(|c: &mut Value| {
                c["provision"]["purpose"][0]["system"] = json!("http://example.org");
            }),
            "Consent.provision.purpose[0]",
        ),
        (
            "unknown patient",
            Box::new(|c: &mut Value| c["patient"]["reference"] = json!("Patient/nobody")),
            "Consent.patient",
        ),
    ];
    for (what, spoil, path) in cases {
        let mut bad = good.clone();
        spoil(&mut bad);
        let (status, body) = api.post(&format!("{base}/fhir/Consent"), &bad).await;
        // The unknown patient is refused by the patient rule before it is looked up.
        if path == "Consent.patient" {
            assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {body}");
            continue;
        }
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
        assert_eq!(body["issue"][0]["expression"][0], path, "{what}: {body}");
    }
    // Nothing was stored.
    let (_, found) = api
        .get(&format!("{base}/fhir/Consent?patient={rosa}&status=active"))
        .await;
    assert!(
        found["entry"].as_array().is_none_or(Vec::is_empty),
        "{found}"
    );
    app.stop().await;
}

backend_tests!(
    a_consent_opens_other_ipress_entries_until_it_is_revoked,
    a_consent_can_name_one_clinician,
    who_records_reads_and_revokes_consents,
    a_consent_the_registry_could_not_enforce_is_refused
);
