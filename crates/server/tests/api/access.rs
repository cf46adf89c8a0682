//! Who may do what, over real HTTP: tokens refused, each access rule holding, and the
//! attacks of SECURITY.md failing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use renhice_server::auth::Purpose;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::push::identities;
use crate::{HOME_IPRESS, TestApp, admin, clinician, patient, sihce, spawn};
use renhice_testing::{TestDb, backend_tests};

/// A request to `url` with exactly this `Authorization` header (or none).
async fn raw(
    url: &str,
    authorization: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let res = request.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

pub(crate) fn assert_refused(body: &Value, code: &str, rule: &str) {
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    assert_eq!(body["issue"][0]["code"], code, "{body}");
    let diagnostics = body["issue"][0]["diagnostics"].as_str().unwrap_or_default();
    assert!(diagnostics.contains(rule), "{rule} not in {body}");
}

/// A second IPRESS, registered by an administrator; returns its Organization id.
pub(crate) async fn loayza(app: &TestApp) -> String {
    let base = &app.base;
    let org = json!({
        "resourceType": "Organization",
        "active": true,
        "identifier": [serde_json::to_value(renhice_model::peru::Renipress::parse("00005938").unwrap().to_identifier()).unwrap()],
        "name": "Hospital Loayza"
    });
    let org: Value = serde_json::from_str(
        &renhice_model::resources::Resource::from_json(org.to_string().as_bytes())
            .unwrap()
            .to_json_string(),
    )
    .unwrap();
    let (status, body) = app
        .client(&admin())
        .post(&format!("{base}/fhir/Organization"), &org)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

pub(crate) fn push(patient: &str, ipress: &str, set: &str, doc: u32) -> Value {
    json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:11111111-1111-4111-8111-111111111111", "request": {"method": "POST", "url": "List"}, "resource": {
            "resourceType": "List", "status": "current", "mode": "working",
            "identifier": [{"use": "official", "system": "urn:ietf:rfc:3986", "value": set}],
            "subject": {"reference": format!("Patient/{patient}")}}},
        {"fullUrl": format!("urn:uuid:0000000{doc}-aaaa-4bbb-8ccc-000000000000"), "request": {"method": "POST", "url": "DocumentReference"}, "resource": {
            "resourceType": "DocumentReference", "status": "current",
            "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:oid:1.2.604.7.{doc}")},
            "type": {"coding": [{"system": "http://loinc.org", "code": "34133-9"}]},
            "subject": {"reference": format!("Patient/{patient}")},
            "date": "2026-03-14T10:20:00-05:00",
            "custodian": {"reference": format!("Organization/{ipress}")},
            "content": [{"attachment": {"contentType": "application/pdf", "url": format!("https://sihce.example/{doc}")}}]}}
    ]})
}

/// The `masterIdentifier` values of a searchset.
pub(crate) fn masters(bundle: &Value) -> Vec<String> {
    let mut out: Vec<String> = bundle["entry"].as_array().map_or_else(Vec::new, |e| {
        e.iter()
            .filter_map(|x| {
                x["resource"]["masterIdentifier"]["value"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect()
    });
    out.sort();
    out
}

/// The entry count `$record-locations` gives for one IPRESS.
pub(crate) fn count_at(params: &Value, renipress: &str) -> Option<i64> {
    params["parameter"].as_array()?.iter().find_map(|location| {
        let parts = location["part"].as_array()?;
        let here = parts
            .iter()
            .any(|p| p["name"] == "renipress" && p["valueIdentifier"]["value"] == renipress);
        here.then(|| parts.iter().find(|p| p["name"] == "count")?["valueInteger"].as_i64())
            .flatten()
    })
}

/// The RENIPRESS codes `$record-locations` answered.
pub(crate) fn renipress_codes(params: &Value) -> Vec<String> {
    let mut out: Vec<String> = params["parameter"]
        .as_array()
        .map_or_else(Vec::new, |locations| {
            locations
                .iter()
                .flat_map(|l| l["part"].as_array().into_iter().flatten())
                .filter(|p| p["name"] == "renipress")
                .map(|p| p["valueIdentifier"]["value"].as_str().unwrap().to_owned())
                .collect()
        });
    out.sort();
    out
}

async fn requests_without_an_acceptable_token_are_401(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let url = format!("{base}/fhir/Patient?family=quispe");
    // No token: a challenge without an error (RFC 6750 §3.1).
    let (status, headers, body) = raw(&url, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"renhice\"");
    assert_refused(&body, "login", "access token");
    // Not a bearer token.
    let (status, _, _) = raw(&url, Some("Basic YWRtaW46YWRtaW4=")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let good = app.token(&sihce(HOME_IPRESS));
    assert_eq!(
        raw(&url, Some(&format!("Bearer {good}"))).await.0,
        StatusCode::OK
    );
    let (header, rest) = good.split_once('.').unwrap();
    let (claims, _) = rest.split_once('.').unwrap();
    let claims: Value = serde_json::from_slice(&B64.decode(claims).unwrap()).unwrap();
    let kid = serde_json::from_slice::<Value>(&B64.decode(header).unwrap()).unwrap()["kid"].clone();
    let encode = |v: &Value| B64.encode(v.to_string());
    let mut attacks: Vec<(&str, String, &str)> = Vec::new();
    // alg none, no signature.
    attacks.push((
        "alg none",
        format!(
            "{}.{}.",
            encode(&json!({"alg": "none", "kid": kid})),
            encode(&claims)
        ),
        "not a well-formed JWT",
    ));
    // HS256 "signed" with the public key, the classic confusion.
    attacks.push((
        "HS256",
        format!(
            "{}.{}.c2ln",
            encode(&json!({"alg": "HS256", "kid": kid})),
            encode(&claims)
        ),
        "ES256",
    ));
    // Claims changed after signing: an admin by its own say-so.
    let mut escalated = claims.clone();
    escalated["extensions"]["ihe_iua"]["subject_role"]["code"] = json!("admin");
    let signature = good.rsplit('.').next().unwrap();
    attacks.push((
        "tampered",
        format!("{header}.{}.{signature}", encode(&escalated)),
        "signature",
    ));
    // Expired, for another audience, signed by a key of another registry.
    let authority = app.authority.clone();
    let mut expired = claims.clone();
    expired["iat"] = json!(claims["iat"].as_u64().unwrap() - 1000);
    expired["exp"] = json!(claims["exp"].as_u64().unwrap() - 1000);
    attacks.push(("expired", authority.keys.sign(&expired).unwrap(), "expired"));
    let mut elsewhere = claims.clone();
    elsewhere["aud"] = json!("https://another-registry.example/fhir");
    attacks.push((
        "audience",
        authority.keys.sign(&elsewhere).unwrap(),
        "audience",
    ));
    let stranger = renhice_server::auth::KeyRing::ephemeral().unwrap();
    attacks.push((
        "foreign key",
        stranger.sign(&claims).unwrap(),
        "not one of the registry's",
    ));
    for (what, forged, reason) in attacks {
        let (status, headers, body) = raw(&url, Some(&format!("Bearer {forged}"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        let challenge = headers["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{what}: {challenge}"
        );
        assert_refused(&body, "login", reason);
    }
    // What stays open: the capability statement, the keys, health.
    for open in ["/fhir/metadata", "/auth/jwks", "/healthz", "/readyz"] {
        assert_eq!(
            raw(&format!("{base}{open}"), None).await.0,
            StatusCode::OK,
            "{open}"
        );
    }
    app.stop().await;
}

async fn each_role_does_only_its_own_work(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let (patient_id, ipress) = identities(&app).await;
    let bundle = push(&patient_id, &ipress, "urn:oid:7.1", 1);
    // Patients, auditors and administrators do not push; SIHCEs do not register IPRESS.
    for (who, grant) in [("patient", patient("1|PER|45678912")), ("admin", admin())] {
        let api = app.client(&grant);
        let (status, body) = api.post(&format!("{base}/fhir"), &bundle).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {body}");
        assert_refused(&body, "forbidden", "rule: role");
    }
    let api = app.client(&sihce(HOME_IPRESS));
    let (status, body) = api
        .post(
            &format!("{base}/fhir/Organization"),
            &json!({"resourceType": "Organization", "name": "Mine"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_refused(&body, "forbidden", "rule: role");
    // An administrator does not read patients' records.
    let api = app.client(&admin());
    let (status, body) = api.get(&format!("{base}/fhir/Patient/{patient_id}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = api
        .get(&format!(
            "{base}/fhir/Patient/{patient_id}/$record-locations"
        ))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A SIHCE whose IPRESS the registry does not know is refused, and says so.
    let api = app.client(&sihce("00099999"));
    let (status, body) = api.post(&format!("{base}/fhir"), &bundle).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_refused(&body, "forbidden", "rule: ipress-registered");
    app.stop().await;
}

async fn a_sihce_writes_and_reads_only_for_its_own_ipress(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let (patient_id, santa_clara) = identities(&app).await;
    let loayza = loayza(&app).await;
    // Santa Clara's SIHCE pushes an entry naming Loayza as custodian: refused, with
    // the element, and nothing stored.
    let api = app.client(&sihce(HOME_IPRESS));
    let (status, body) = api
        .post(
            &format!("{base}/fhir"),
            &push(&patient_id, &loayza, "urn:oid:7.2", 2),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_refused(&body, "forbidden", "rule: custodian-is-caller");
    assert_eq!(
        body["issue"][0]["expression"][0],
        "Bundle.entry[1].resource.custodian"
    );
    let api = app.client(&patient("1|PER|45678912"));
    let (_, found) = api
        .get(&format!(
            "{base}/fhir/DocumentReference?patient={patient_id}&status=current"
        ))
        .await;
    assert!(masters(&found).is_empty(), "{found}");

    // Each pushes its own.
    let api = app.client(&sihce(HOME_IPRESS));
    let (status, mine) = api
        .post(
            &format!("{base}/fhir"),
            &push(&patient_id, &santa_clara, "urn:oid:7.3", 3),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let api = app.client(&sihce("00005938"));
    let (status, theirs) = api
        .post(
            &format!("{base}/fhir"),
            &push(&patient_id, &loayza, "urn:oid:7.4", 4),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{theirs}");
    let loayza_doc = theirs["entry"][1]["response"]["location"]
        .as_str()
        .unwrap()
        .trim_end_matches("/_history/1")
        .to_owned();
    // And an entry it labels restricted (sensitive).
    let mut restricted = push(&patient_id, &loayza, "urn:oid:7.8", 8);
    restricted["entry"][1]["resource"]["securityLabel"] = json!([{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]}]);
    let (status, body) = api.post(&format!("{base}/fhir"), &restricted).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let loayza_list = theirs["entry"][0]["response"]["location"]
        .as_str()
        .unwrap()
        .trim_end_matches("/_history/1")
        .to_owned();

    // A clinician at Santa Clara, without consent: Santa Clara's entries only.
    let api = app.client(&clinician(crate::HOME_IPRESS));
    let (_, found) = api
        .get(&format!(
            "{base}/fhir/DocumentReference?patient={patient_id}&status=current"
        ))
        .await;
    assert_eq!(masters(&found), ["urn:oid:1.2.604.7.3"]);
    let (_, found) = api
        .get(&format!(
            "{base}/fhir/DocumentReference?patient.identifier=45678912&status=current\
             &custodian=Organization/{loayza}"
        ))
        .await;
    assert!(masters(&found).is_empty(), "{found}");
    for id in [&loayza_doc, &loayza_list] {
        let (status, body) = api.get(&format!("{base}/fhir/{id}")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{id}: {body}");
        assert_refused(&body, "forbidden", "rule: own-ipress-entries");
        let (status, _) = api.get(&format!("{base}/fhir/{id}/_history")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, lists) = api
        .get(&format!(
            "{base}/fhir/List?patient={patient_id}&status=current"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lists["entry"].as_array().map(Vec::len), Some(1), "{lists}");
    let (_, params) = api
        .get(&format!(
            "{base}/fhir/Patient/{patient_id}/$record-locations"
        ))
        .await;
    assert_eq!(renipress_codes(&params), ["00012345"]);
    // The answer owns up to what it left out: how many IPRESS, not which.
    let outcome = params["parameter"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "outcome")
        .map(|p| p["resource"].clone())
        .unwrap_or_default();
    assert_eq!(outcome["issue"][0]["severity"], "information", "{params}");
    assert_eq!(outcome["issue"][0]["code"], "suppressed", "{params}");
    let told = outcome["issue"][0]["diagnostics"]
        .as_str()
        .unwrap_or_default();
    assert!(told.starts_with("1 IPRESS holds records"), "{told}");
    assert!(!params.to_string().contains("00005938"), "{params}");
    // So does ITI-67, in an entry of mode outcome beside the matches.
    let (_, found) = api
        .get(&format!(
            "{base}/fhir/DocumentReference?patient={patient_id}&status=current"
        ))
        .await;
    let entries = found["entry"].as_array().unwrap();
    let outcomes: Vec<&Value> = entries
        .iter()
        .filter(|e| e["search"]["mode"] == "outcome")
        .collect();
    assert_eq!(outcomes.len(), 1, "{found}");
    assert_eq!(outcomes[0]["resource"]["issue"][0]["code"], "suppressed");
    assert!(!found.to_string().contains("00005938"), "{found}");
    // Nor may it correct Loayza's entry.
    let (_, entry) = {
        let api = app.client(&sihce("00005938"));
        api.get(&format!("{base}/fhir/{loayza_doc}")).await
    };
    let api = app.client(&sihce(HOME_IPRESS));
    let mut marked = entry.clone();
    marked["status"] = json!("entered-in-error");
    let res = api
        .request(reqwest::Method::PUT, &format!("{base}/fhir/{loayza_doc}"))
        .header("content-type", "application/fhir+json")
        .body(marked.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_refused(
        &res.json().await.unwrap(),
        "forbidden",
        "rule: custodian-is-caller",
    );

    // Emergency: every IPRESS's locations, with a reason; never without one; and
    // still only its own entries in ITI-67.
    let mut emergency = clinician(crate::HOME_IPRESS);
    emergency.purpose = Purpose::Emergency;
    let api = app.client(&emergency);
    let (status, body) = api
        .get(&format!(
            "{base}/fhir/Patient/{patient_id}/$record-locations"
        ))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_refused(&body, "forbidden", "rule: emergency-reason");
    emergency.emergency_reason = Some("paciente inconsciente en emergencia".to_owned());
    let api = app.client(&emergency);
    let (status, params) = api
        .get(&format!(
            "{base}/fhir/Patient/$record-locations?identifier=45678912"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{params}");
    assert_eq!(renipress_codes(&params), ["00005938", "00012345"]);
    // Never the entries another IPRESS labelled sensitive: Loayza counts one, not two.
    assert_eq!(count_at(&params, "00005938"), Some(1), "{params}");
    let api = app.client(&patient("1|PER|45678912"));
    let (_, own_view) = api
        .get(&format!(
            "{base}/fhir/Patient/$record-locations?identifier=45678912"
        ))
        .await;
    assert_eq!(count_at(&own_view, "00005938"), Some(2), "{own_view}");
    let api = app.client(&emergency);
    let (_, found) = api
        .get(&format!(
            "{base}/fhir/DocumentReference?patient={patient_id}&status=current"
        ))
        .await;
    assert_eq!(masters(&found), ["urn:oid:1.2.604.7.3"]);
    let (status, _) = api.get(&format!("{base}/fhir/{loayza_doc}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.stop().await;
}

async fn a_patient_reads_only_their_own_records(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (rosa, santa_clara) = identities(&app).await;
    // Another patient, with an entry of her own.
    let other = json!({"resourceType": "Patient", "name": [{"family": "Mamani", "given": ["Luz"]}], "identifier": [
        serde_json::to_value(
            renhice_model::peru::PersonId::dni("10000001").unwrap().to_identifier(),
        )
        .unwrap()
    ]});
    let (status, other) = api.post(&format!("{base}/fhir/Patient"), &other).await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let other = other["id"].as_str().unwrap().to_owned();
    let (status, pushed) = api
        .post(
            &format!("{base}/fhir"),
            &push(&other, &santa_clara, "urn:oid:7.5", 5),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pushed}");
    let others_doc = pushed["entry"][1]["response"]["location"]
        .as_str()
        .unwrap()
        .trim_end_matches("/_history/1")
        .to_owned();
    let (status, _) = api
        .post(
            &format!("{base}/fhir"),
            &push(&rosa, &santa_clara, "urn:oid:7.6", 6),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let api = app.client(&patient("1|PER|45678912"));
    let (status, me) = api.get(&format!("{base}/fhir/Patient/{rosa}")).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let (_, mine) = api
        .get(&format!(
            "{base}/fhir/DocumentReference?patient={rosa}&status=current"
        ))
        .await;
    assert_eq!(masters(&mine), ["urn:oid:1.2.604.7.6"]);
    // Another patient's record, entries and locations: refused or not found among hers.
    let (status, body) = api.get(&format!("{base}/fhir/Patient/{other}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_refused(&body, "forbidden", "rule: patient-own-records");
    let (status, _) = api.get(&format!("{base}/fhir/{others_doc}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Where another person's records are, or whether that person is registered at all,
    // a patient cannot tell: "not yours" is answered as "not registered".
    let (status, body) = api
        .get(&format!("{base}/fhir/Patient/{other}/$record-locations"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (unknown_status, unknown) = api
        .get(&format!(
            "{base}/fhir/Patient/00000000-0000-4000-8000-000000000000/$record-locations"
        ))
        .await;
    assert_eq!(unknown_status, StatusCode::NOT_FOUND, "{unknown}");
    for operation in ["$record-locations", "$summary"] {
        let (status, registered) = api
            .get(&format!(
                "{base}/fhir/Patient/{operation}?identifier=10000001"
            ))
            .await;
        let (unknown_status, unregistered) = api
            .get(&format!(
                "{base}/fhir/Patient/{operation}?identifier=10000002"
            ))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{registered}");
        assert_eq!(unknown_status, StatusCode::NOT_FOUND, "{unregistered}");
        assert_eq!(
            registered["issue"][0]["diagnostics"]
                .as_str()
                .unwrap()
                .replace("10000001", "N"),
            unregistered["issue"][0]["diagnostics"]
                .as_str()
                .unwrap()
                .replace("10000002", "N"),
        );
    }
    let (_, theirs) = api
        .get(&format!(
            "{base}/fhir/DocumentReference?patient={other}&status=current"
        ))
        .await;
    assert!(masters(&theirs).is_empty(), "{theirs}");
    let (_, people) = api
        .get(&format!("{base}/fhir/Patient?identifier=10000001"))
        .await;
    assert!(
        people["entry"].as_array().is_none_or(Vec::is_empty),
        "{people}"
    );
    let (_, people) = api.get(&format!("{base}/fhir/Patient?family=quispe")).await;
    assert_eq!(
        people["entry"].as_array().map(Vec::len),
        Some(1),
        "{people}"
    );
    // A patient the registry does not know gets nothing.
    let api = app.client(&patient("1|PER|99999999"));
    let (status, body) = api.get(&format!("{base}/fhir/Patient/{rosa}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_refused(&body, "forbidden", "rule: person-registered");
    app.stop().await;
}

async fn injection_in_search_parameters_finds_nothing_and_harms_nothing(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient_id, _) = identities(&app).await;
    for query in [
        "family=%27%20OR%201%3D1%20--",
        "family=quispe%27%3B%20DROP%20TABLE%20resources%3B%20--",
        "identifier=x%27%20OR%20%27a%27%3D%27a",
        "given=%25",
        "given=_",
        "identifier=%7B%22%24ne%22%3A%20null%7D",
        "_id=%27%20OR%201%3D1",
    ] {
        let (status, body) = api.get(&format!("{base}/fhir/Patient?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        assert!(
            body["entry"].as_array().is_none_or(Vec::is_empty),
            "{query}: {body}"
        );
    }
    let (status, body) = api
        .get(&format!(
            "{base}/fhir/DocumentReference?patient=x%27%20OR%20%271%27%3D%271&status=current"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["entry"].as_array().is_none_or(Vec::is_empty), "{body}");
    // Everything is still there.
    let (status, _) = api.get(&format!("{base}/fhir/Patient/{patient_id}")).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

backend_tests!(
    requests_without_an_acceptable_token_are_401,
    each_role_does_only_its_own_work,
    a_sihce_writes_and_reads_only_for_its_own_ipress,
    a_patient_reads_only_their_own_records,
    injection_in_search_parameters_finds_nothing_and_harms_nothing
);
