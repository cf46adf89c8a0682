//! Patients and IPRESS over real HTTP: create, read, update with `If-Match`, vread,
//! history, and the registry's identity rules.

use renhice_model::peru::{DocumentKind, PersonId, Renipress};
use renhice_model::resources::{Organization, Patient, PatientLink, Resource};
use renhice_model::types::{HumanName, Reference};
use reqwest::StatusCode;
use serde_json::Value;

use crate::{Api, HOME_IPRESS, admin, assert_outcome, sihce, spawn};
use renhice_testing::{TestDb, backend_tests};

fn patient(documents: &[PersonId], family: &str) -> Patient {
    Patient {
        identifier: documents.iter().map(PersonId::to_identifier).collect(),
        name: vec![HumanName::peruvian(&["Rosa"], family, Some("Mamani"))],
        gender: Some("female".into()),
        birth_date: Some("1985-03-14".parse().unwrap()),
        ..Patient::default()
    }
}

fn json(resource: Patient) -> String {
    Resource::Patient(Box::new(resource)).to_json_string()
}

fn ipress(code: &str, name: &str) -> String {
    Resource::Organization(Box::new(Organization {
        identifier: vec![Renipress::parse(code).unwrap().to_identifier()],
        name: Some(name.into()),
        active: Some(true.into()),
        ..Organization::default()
    }))
    .to_json_string()
}

/// `method url` as `api`'s caller, with an optional FHIR JSON body and `If-Match`.
async fn send(
    api: &Api,
    method: reqwest::Method,
    url: &str,
    body: Option<String>,
    if_match: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = api
        .request(method, url)
        .header("content-type", "application/fhir+json");
    if let Some(body) = body {
        req = req.body(body);
    }
    if let Some(tag) = if_match {
        req = req.header("if-match", tag);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn patients_are_created_read_updated_and_versioned(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let dni = PersonId::dni("45678912").unwrap();
    let (status, headers, created) = send(
        &api,
        reqwest::Method::POST,
        &format!("{base}/fhir/Patient"),
        Some(json(patient(std::slice::from_ref(&dni), "Quispe"))),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        header(&headers, "location"),
        format!("{base}/fhir/Patient/{id}/_history/1")
    );
    assert_eq!(header(&headers, "etag"), "W/\"1\"");
    assert!(
        header(&headers, "last-modified").ends_with("GMT"),
        "{headers:?}"
    );
    assert_eq!(created["meta"]["versionId"], "1");
    assert!(created["meta"]["lastUpdated"].as_str().is_some());

    let (status, _, read) = send(
        &api,
        reqwest::Method::GET,
        &format!("{base}/fhir/Patient/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, created);

    // Update with the right version, then with a stale one.
    let mut changed = patient(std::slice::from_ref(&dni), "Quispe");
    changed.id = Some(id.as_str().into());
    changed.gender = Some("other".into());
    let url = format!("{base}/fhir/Patient/{id}");
    let (status, headers, v2) = send(
        &api,
        reqwest::Method::PUT,
        &url,
        Some(json(changed.clone())),
        Some("W/\"1\""),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v2}");
    assert_eq!(header(&headers, "etag"), "W/\"2\"");
    assert_eq!(v2["gender"], "other");
    let (status, _, stale) = send(
        &api,
        reqwest::Method::PUT,
        &url,
        Some(json(changed.clone())),
        Some("W/\"1\""),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{stale}");
    assert_outcome(&stale, "conflict");
    // The same content again changes nothing: the answer is the current version.
    let (status, headers, same) = send(
        &api,
        reqwest::Method::PUT,
        &url,
        Some(json(changed.clone())),
        None,
    )
    .await;
    assert_eq!(
        (status, header(&headers, "etag")),
        (StatusCode::OK, "W/\"2\""),
        "{same}"
    );
    assert_eq!(same, v2);
    // Without If-Match an update applies to the current version.
    changed.gender = Some("female".into());
    let (status, _, v3) = send(&api, reqwest::Method::PUT, &url, Some(json(changed)), None).await;
    assert_eq!(
        (status, v3["meta"]["versionId"].as_str()),
        (StatusCode::OK, Some("3"))
    );

    let (status, _, v1) = send(
        &api,
        reqwest::Method::GET,
        &format!("{url}/_history/1"),
        None,
        None,
    )
    .await;
    assert_eq!((status, &v1), (StatusCode::OK, &created));
    let (status, _, missing) = send(
        &api,
        reqwest::Method::GET,
        &format!("{url}/_history/9"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_outcome(&missing, "not-found");

    let (status, _, history) = send(
        &api,
        reqwest::Method::GET,
        &format!("{url}/_history"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history["type"], "history");
    assert_eq!(history["total"], 3);
    let versions: Vec<&str> = history["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["meta"]["versionId"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["3", "2", "1"]);
    assert_eq!(history["entry"][2]["request"]["method"], "POST");
    assert_eq!(history["entry"][0]["response"]["etag"], "W/\"3\"");
    assert!(
        history["entry"][0]["fullUrl"]
            .as_str()
            .unwrap()
            .starts_with("http://")
    );
    // The Bundle is valid FHIR for the model too.
    Resource::from_json(history.to_string().as_bytes()).unwrap();

    // An update to an unknown id creates it (updateCreate).
    let mut fresh = patient(&[PersonId::dni("10000001").unwrap()], "Flores");
    fresh.id = Some("chosen-id".into());
    let (status, _, body) = send(
        &api,
        reqwest::Method::PUT,
        &format!("{base}/fhir/Patient/chosen-id"),
        Some(json(fresh)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.stop().await;
}

async fn one_identity_document_belongs_to_one_patient(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let post = |body: String| {
        let (api, url) = (api.clone(), format!("{base}/fhir/Patient"));
        async move { send(&api, reqwest::Method::POST, &url, Some(body), None).await }
    };
    let passport = PersonId::new(DocumentKind::Pasaporte, "VE1234567", Some("VE")).unwrap();
    let (status, _, first) = post(json(patient(&[passport], "Pérez"))).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    // The same passport spelled differently (lower case, alpha-3 country) is the same key.
    let again = PersonId::new(DocumentKind::Pasaporte, "ve1234567", Some("VEN")).unwrap();
    let (status, _, refused) = post(json(patient(&[again], "Pérez"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_outcome(&refused, "duplicate");
    let diagnostics = refused["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(
        diagnostics.contains(first["id"].as_str().unwrap()),
        "{diagnostics}"
    );
    assert!(diagnostics.contains("3|VEN|VE1234567"), "{diagnostics}");

    // A merged record (inactive, replaced-by) may keep the survivor's document.
    let mut merged = patient(
        &[PersonId::new(DocumentKind::Pasaporte, "VE1234567", Some("VE")).unwrap()],
        "Pérez",
    );
    merged.active = Some(false.into());
    merged.link = vec![PatientLink {
        other: Some(Box::new(Reference::to(
            "Patient",
            first["id"].as_str().unwrap(),
        ))),
        r#type: Some("replaced-by".into()),
        ..PatientLink::default()
    }];
    let (status, _, body) = post(json(merged)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.stop().await;
}

async fn invalid_patients_are_refused_with_the_element_path(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let url = format!("{base}/fhir/Patient");
    let cases: Vec<(String, StatusCode, &str, &str)> = vec![
        // PacientePe's cardinality, found before the registry's own rule.
        (
            json(patient(&[], "Quispe")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "required",
            "Patient.identifier",
        ),
        (
            json(patient(&[PersonId::dni("45678912").unwrap()], "Quispe"))
                .replace("45678912", "4567891"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "business-rule",
            "Patient.identifier[0]",
        ),
        (
            r#"{"resourceType": "Patient", "birthDate": "1985-02-30"}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "structure",
            "Patient.birthDate",
        ),
        (
            r#"{"resourceType": "Patient", "colour": "blue"}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "structure",
            "Patient.colour",
        ),
        (
            r#"{"resourceType": "Patient", "#.to_owned(),
            StatusCode::BAD_REQUEST,
            "structure",
            "Resource",
        ),
        (
            String::new(),
            StatusCode::BAD_REQUEST,
            "structure",
            "Patient",
        ),
        (
            ipress("00012345", "Hospital"),
            StatusCode::BAD_REQUEST,
            "structure",
            "Organization.resourceType",
        ),
    ];
    for (body, status, code, path) in cases {
        let (got, _, outcome) =
            send(&api, reqwest::Method::POST, &url, Some(body.clone()), None).await;
        assert_eq!(got, status, "{body}: {outcome}");
        assert_outcome(&outcome, code);
        assert_eq!(
            outcome["issue"][0]["expression"][0], path,
            "{body}: {outcome}"
        );
    }
    let (status, _, outcome) = send(
        &api,
        reqwest::Method::GET,
        &format!("{base}/fhir/Observation/1"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_outcome(&outcome, "not-supported");
    let (status, _, outcome) = send(
        &api,
        reqwest::Method::GET,
        &format!("{base}/fhir/Patient/nobody"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_outcome(&outcome, "not-found");
    let (status, _, outcome) = send(
        &api,
        reqwest::Method::DELETE,
        &format!("{base}/fhir/Patient/nobody"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_outcome(&outcome, "not-supported");
    app.stop().await;
}

async fn an_ipress_needs_a_renipress_code_of_its_own(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&admin());
    let url = format!("{base}/fhir/Organization");
    let (status, _, created) = send(
        &api,
        reqwest::Method::POST,
        &url,
        Some(ipress("00012345", "Hospital Santa Clara")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["identifier"][0]["value"], "00012345");
    let (status, _, refused) = send(
        &api,
        reqwest::Method::POST,
        &url,
        Some(ipress("00012345", "Otro")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_outcome(&refused, "duplicate");
    let bad = ipress("00012345", "Mal").replace("\"value\":\"00012345\"", "\"value\":\"12345\"");
    let (status, _, outcome) = send(&api, reqwest::Method::POST, &url, Some(bad), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
    assert_eq!(
        outcome["issue"][0]["expression"][0],
        "Organization.identifier[0].value"
    );
    let none = r#"{"resourceType": "Organization", "name": "Sin código"}"#.to_owned();
    let (status, _, outcome) = send(&api, reqwest::Method::POST, &url, Some(none), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
    assert_eq!(
        outcome["issue"][0]["expression"][0],
        "Organization.identifier"
    );
    app.stop().await;
}

async fn the_identity_feed_creates_then_updates_by_identifier(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let of_type = format!(
        "{base}/fhir/Patient?identifier:of-type={}%7C1%7C45678912",
        renhice_model::peru::url::CS_IDS_PERSONA
    );
    let dni = PersonId::dni("45678912").unwrap();
    let (status, _, first) = send(
        &api,
        reqwest::Method::PUT,
        &of_type,
        Some(json(patient(std::slice::from_ref(&dni), "Quispe"))),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let id = first["id"].as_str().unwrap().to_owned();
    // The same feed again updates the same patient.
    let (status, _, second) = send(
        &api,
        reqwest::Method::PUT,
        &of_type,
        Some(json(patient(std::slice::from_ref(&dni), "Quispe Huamán"))),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(
        (second["id"].as_str(), second["meta"]["versionId"].as_str()),
        (Some(id.as_str()), Some("2"))
    );
    // By value alone, too.
    let by_value = format!("{base}/fhir/Patient?identifier=45678912");
    let (status, _, third) = send(
        &api,
        reqwest::Method::PUT,
        &by_value,
        Some(json(patient(std::slice::from_ref(&dni), "Quispe"))),
        Some("W/\"2\""),
    )
    .await;
    assert_eq!(
        (status, third["meta"]["versionId"].as_str()),
        (StatusCode::OK, Some("3")),
        "{third}"
    );
    // A criterion matching several patients is refused.
    for number in ["70000001", "70000002"] {
        let mut p = patient(&[PersonId::dni(number).unwrap()], "Rojas");
        p.identifier.push(renhice_model::types::Identifier::new(
            "https://hce.example/sid/hc",
            "HC-1",
        ));
        let (status, _, body) = send(
            &api,
            reqwest::Method::POST,
            &format!("{base}/fhir/Patient"),
            Some(json(p)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let several = format!("{base}/fhir/Patient?identifier=https://hce.example/sid/hc%7CHC-1");
    let (status, _, outcome) = send(
        &api,
        reqwest::Method::PUT,
        &several,
        Some(json(patient(
            &[PersonId::dni("70000003").unwrap()],
            "Rojas",
        ))),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{outcome}");
    // Unsupported or malformed criteria are 400s naming the parameter.
    for query in [
        "family=Quispe",
        "identifier:of-type=onlyone",
        "identifier=a&identifier=b",
    ] {
        let (status, _, outcome) = send(
            &api,
            reqwest::Method::PUT,
            &format!("{base}/fhir/Patient?{query}"),
            Some(json(patient(std::slice::from_ref(&dni), "Quispe"))),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {outcome}");
        assert_outcome(&outcome, "structure");
    }
    app.stop().await;
}

async fn concurrent_feeds_of_one_new_patient_make_one_patient(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let url = format!(
        "{base}/fhir/Patient?identifier:of-type={}%7C1%7C55555555",
        renhice_model::peru::url::CS_IDS_PERSONA
    );
    let body = json(patient(&[PersonId::dni("55555555").unwrap()], "Quispe"));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (api, url, body) = (api.clone(), url.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            send(&api, reqwest::Method::PUT, &url, Some(body), None).await
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    let mut created = 0;
    for task in tasks {
        let (status, _, body) = task.await.unwrap();
        assert!(
            status == StatusCode::CREATED || status == StatusCode::OK,
            "{status}: {body}"
        );
        created += usize::from(status == StatusCode::CREATED);
        ids.insert(body["id"].as_str().unwrap().to_owned());
    }
    assert_eq!((created, ids.len()), (1, 1), "{ids:?}");
    app.stop().await;
}

async fn patients_are_found_by_either_surname_and_demographics(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let people = [
        (
            "10000001",
            "Rosa",
            "Quispe",
            Some("Mamani"),
            "female",
            "1985-03-14",
        ),
        (
            "10000002",
            "José",
            "Huamán",
            Some("Quispe"),
            "male",
            "1990-07-01",
        ),
        ("10000003", "Ana", "Mamani", None, "female", "1985-11-30"),
    ];
    let mut ids = Vec::new();
    for (dni, given, paternal, maternal, gender, birth) in people {
        let p = Patient {
            identifier: vec![PersonId::dni(dni).unwrap().to_identifier()],
            name: vec![HumanName::peruvian(&[given], paternal, maternal)],
            gender: Some(gender.into()),
            birth_date: Some(birth.parse().unwrap()),
            ..Patient::default()
        };
        let (status, _, body) = send(
            &api,
            reqwest::Method::POST,
            &format!("{base}/fhir/Patient"),
            Some(json(p)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let found = |query: &str| {
        let (api, url) = (api.clone(), format!("{base}/fhir/Patient?{query}"));
        async move {
            let (status, _, bundle) = send(&api, reqwest::Method::GET, &url, None, None).await;
            assert_eq!(status, StatusCode::OK, "{url}: {bundle}");
            assert_eq!(bundle["type"], "searchset");
            Resource::from_json(bundle.to_string().as_bytes()).unwrap();
            let mut got: Vec<String> = bundle["entry"].as_array().map_or_else(Vec::new, |e| {
                e.iter()
                    .map(|x| x["resource"]["id"].as_str().unwrap().to_owned())
                    .collect()
            });
            got.sort();
            got
        }
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    // Either surname, any case, without accents, by prefix.
    assert_eq!(
        found("family=quispe").await,
        sorted(vec![ids[0].clone(), ids[1].clone()])
    );
    assert_eq!(
        found("family=MAMANI").await,
        sorted(vec![ids[0].clone(), ids[2].clone()])
    );
    assert_eq!(found("family=huaman").await, vec![ids[1].clone()]);
    assert_eq!(found("family=Hua").await, vec![ids[1].clone()]);
    assert_eq!(found("given=jose").await, vec![ids[1].clone()]);
    assert_eq!(
        found("family=quispe&gender=female").await,
        vec![ids[0].clone()]
    );
    assert_eq!(
        found("birthdate=1985").await,
        sorted(vec![ids[0].clone(), ids[2].clone()])
    );
    assert_eq!(found("birthdate=1985-03-14").await, vec![ids[0].clone()]);
    assert_eq!(found("birthdate=ge1990-01-01").await, vec![ids[1].clone()]);
    assert_eq!(found("birthdate=lt1985-06").await, vec![ids[0].clone()]);
    assert_eq!(found("identifier=10000003").await, vec![ids[2].clone()]);
    assert_eq!(found("gender=male,other").await, vec![ids[1].clone()]);
    assert_eq!(
        found(&format!("_id={}", ids[2])).await,
        vec![ids[2].clone()]
    );
    assert_eq!(
        found(&format!(
            "identifier:of-type={}%7C1%7C10000002",
            renhice_model::peru::url::CS_IDS_PERSONA
        ))
        .await,
        vec![ids[1].clone()]
    );
    assert!(found("family=nadie").await.is_empty());

    // Paging: the next link carries on where the page ended, even after an insert.
    let (_, _, page1) = send(
        &api,
        reqwest::Method::GET,
        &format!("{base}/fhir/Patient?_count=2"),
        None,
        None,
    )
    .await;
    assert_eq!(page1["entry"].as_array().unwrap().len(), 2);
    let next = page1["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let extra = patient(&[PersonId::dni("10000009").unwrap()], "Zapata");
    send(
        &api,
        reqwest::Method::POST,
        &format!("{base}/fhir/Patient"),
        Some(json(extra)),
        None,
    )
    .await;
    let (_, _, page2) = send(&api, reqwest::Method::GET, &next, None, None).await;
    let page2_ids: Vec<&str> = page2["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(page2_ids.len(), 2, "{page2}");
    assert_eq!(page2_ids[0], ids[2]);
    assert!(
        page2["link"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["relation"] != "next"),
        "{page2}"
    );

    // Unknown parameters: 400 by default, ignored on request.
    let (status, _, outcome) = send(
        &api,
        reqwest::Method::GET,
        &format!("{base}/fhir/Patient?colour=blue"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{outcome}");
    assert_eq!(outcome["issue"][0]["expression"][0], "colour");
    let res = api
        .request(
            reqwest::Method::GET,
            &format!("{base}/fhir/Patient?colour=blue&family=mamani"),
        )
        .header("prefer", "handling=lenient")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bundle: Value = res.json().await.unwrap();
    // Rosa Quispe Mamani, Ana Mamani and the Zapata Mamani added while paging.
    assert_eq!(bundle["entry"].as_array().unwrap().len(), 3);
    assert!(
        !bundle["link"][0]["url"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{bundle}"
    );
    let (status, _, _) = send(
        &api,
        reqwest::Method::GET,
        &format!("{base}/fhir/Patient?birthdate=sa2000"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = send(
        &api,
        reqwest::Method::GET,
        &format!("{base}/fhir/Patient?birthdate=1985-13"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.stop().await;
}

async fn ihe_pix_cross_references_identifiers_and_follows_merges(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let mut survivor = patient(&[PersonId::dni("20000001").unwrap()], "Quispe");
    survivor
        .identifier
        .push(renhice_model::types::Identifier::new(
            "https://hce.hospital-a.example/sid/hc",
            "HC-77",
        ));
    let (_, _, created) = send(
        &api,
        reqwest::Method::POST,
        &format!("{base}/fhir/Patient"),
        Some(json(survivor)),
        None,
    )
    .await;
    let survivor_id = created["id"].as_str().unwrap().to_owned();
    let mut old = patient(&[PersonId::dni("20000001").unwrap()], "Quispe");
    old.identifier.push(renhice_model::types::Identifier::new(
        "https://hce.hospital-b.example/sid/hc",
        "B-9",
    ));
    old.active = Some(false.into());
    old.link = vec![PatientLink {
        other: Some(Box::new(Reference::to("Patient", &survivor_id))),
        r#type: Some("replaced-by".into()),
        ..PatientLink::default()
    }];
    let (status, _, body) = send(
        &api,
        reqwest::Method::POST,
        &format!("{base}/fhir/Patient"),
        Some(json(old)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // By the merged record's own identifier: the survivor's identifiers and id.
    let url = format!(
        "{base}/fhir/Patient/$ihe-pix?sourceIdentifier=https://hce.hospital-b.example/sid/hc%7CB-9"
    );
    let (status, _, params) = send(&api, reqwest::Method::GET, &url, None, None).await;
    assert_eq!(status, StatusCode::OK, "{params}");
    assert_eq!(params["resourceType"], "Parameters");
    Resource::from_json(params.to_string().as_bytes()).unwrap();
    let parameters = params["parameter"].as_array().unwrap();
    let target_id = parameters.iter().find(|p| p["name"] == "targetId").unwrap();
    assert_eq!(
        target_id["valueReference"]["reference"],
        format!("Patient/{survivor_id}")
    );
    let values: Vec<&str> = parameters
        .iter()
        .filter(|p| p["name"] == "targetIdentifier")
        .map(|p| p["valueIdentifier"]["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["20000001", "HC-77"]);
    // targetSystem filters.
    let url = format!("{url}&targetSystem=https://hce.hospital-a.example/sid/hc");
    let (_, _, params) = send(&api, reqwest::Method::GET, &url, None, None).await;
    let values: Vec<&str> = params["parameter"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == "targetIdentifier")
        .map(|p| p["valueIdentifier"]["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["HC-77"]);
    // By the DNI both records carry: they are one person, answered by the survivor.
    let by_dni = format!("{base}/fhir/Patient/$ihe-pix?sourceIdentifier=20000001");
    let (status, _, params) = send(&api, reqwest::Method::GET, &by_dni, None, None).await;
    assert_eq!(status, StatusCode::OK, "{params}");
    let target_id = params["parameter"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "targetId")
        .unwrap();
    assert_eq!(
        target_id["valueReference"]["reference"],
        format!("Patient/{survivor_id}")
    );
    // Unknown identifier: 404; missing parameter: 400.
    let (status, _, outcome) = send(
        &api,
        reqwest::Method::GET,
        &format!("{base}/fhir/Patient/$ihe-pix?sourceIdentifier=x%7Cnobody"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{outcome}");
    assert_outcome(&outcome, "not-found");
    let (status, _, outcome) = send(
        &api,
        reqwest::Method::GET,
        &format!("{base}/fhir/Patient/$ihe-pix"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{outcome}");
    app.stop().await;
}

/// A patient choosing whom to grant consent finds the IPRESS by a word of its name or an
/// alias, accents and case aside.
async fn ipress_are_found_by_a_word_of_their_name(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let (_, santa_clara) = crate::push::identities(&app).await;
    let ica = Resource::Organization(Box::new(Organization {
        identifier: vec![Renipress::parse("00067890").unwrap().to_identifier()],
        name: Some("Hospital Regional de Ica".into()),
        alias: vec!["HRI Señor de Luren".into()],
        active: Some(true.into()),
        ..Organization::default()
    }));
    let (status, ica) = app
        .client(&admin())
        .post(
            &format!("{base}/fhir/Organization"),
            &serde_json::from_str(&ica.to_json_string()).unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ica}");
    let ica = ica["id"].as_str().unwrap().to_owned();
    let patient = app.client(&crate::patient("1|PER|45678912"));
    for (query, expected) in [
        ("clara", vec![santa_clara.clone()]),
        ("SANTA%20CLARA", vec![santa_clara.clone()]),
        ("hospital%20santa", vec![santa_clara.clone()]),
        ("lara", vec![]),
        ("senor", vec![ica.clone()]),
        ("regional,clara", vec![santa_clara.clone(), ica.clone()]),
    ] {
        let (status, bundle) = patient
            .get(&format!("{base}/fhir/Organization?name={query}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {bundle}");
        let mut found: Vec<String> = bundle["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
            .collect();
        found.sort();
        let mut expected = expected;
        expected.sort();
        assert_eq!(found, expected, "{query}");
    }
    app.stop().await;
}

backend_tests!(
    ipress_are_found_by_a_word_of_their_name,
    patients_are_created_read_updated_and_versioned,
    one_identity_document_belongs_to_one_patient,
    invalid_patients_are_refused_with_the_element_path,
    an_ipress_needs_a_renipress_code_of_its_own,
    the_identity_feed_creates_then_updates_by_identifier,
    concurrent_feeds_of_one_new_patient_make_one_patient,
    patients_are_found_by_either_surname_and_demographics,
    ihe_pix_cross_references_identifiers_and_follows_merges
);
