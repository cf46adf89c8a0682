//! FHIR's REST conventions a generic client relies on: trailing slashes, content
//! negotiation (406, 415), absolute `Location`, conditional reads (304), `Prefer:
//! return=`, `_summary` and `_elements`, CORS for configured origins.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{HOME_IPRESS, assert_outcome, sihce, spawn_with};
use renhice_testing::{TestDb, backend_tests};

fn rosa(dni: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "identifier": [{
            "type": {
                "extension": [{
                    "url": "https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/pe-pais",
                    "valueCodeableConcept": {"coding": [{"system": "urn:iso:std:iso:3166", "code": "PER"}]}
                }],
                "coding": [{"system": "https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/IdspersonaPeru", "code": "1"}]
            },
            "system": "urn:oid:2.16.604.1.1.1.1.1.1",
            "value": dni
        }],
        "name": [{"family": "Quispe", "given": ["Rosa"]}],
        "gender": "female",
        "birthDate": "1985-03-14",
        "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Rosa Quispe</div>"}
    })
}

async fn patients(api: &crate::Api, base: &str) -> u64 {
    let (status, bundle) = api
        .get(&format!("{base}/fhir/Patient?_summary=count"))
        .await;
    assert_eq!(status, StatusCode::OK, "{bundle}");
    assert!(bundle.get("entry").is_none(), "count only: {bundle}");
    bundle["total"].as_u64().unwrap()
}

async fn the_rest_conventions_a_generic_client_relies_on(db: TestDb) {
    let app = spawn_with(&db, |c| {
        c.cors_allowed_origins = vec!["https://app.example".to_owned()];
    })
    .await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let dni = "45678912";

    // A create answers with an absolute Location.
    let res = api
        .request(Method::POST, &format!("{base}/fhir/Patient"))
        .header("content-type", "application/fhir+json")
        .body(rosa(dni).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{base}/fhir/Patient/")) && location.ends_with("/_history/1"),
        "{location}"
    );
    let created: Value = res.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let url = format!("{base}/fhir/Patient/{id}");
    assert_eq!(patients(&api, base).await, 1);

    // Trailing slashes name the same thing.
    let (status, read) = api.get(&format!("{url}/")).await;
    assert_eq!(
        (status, read["id"].as_str()),
        (StatusCode::OK, Some(id.as_str()))
    );
    let (status, answer) = api
        .post(
            &format!("{base}/fhir/"),
            &json!({"resourceType": "Bundle", "type": "batch", "entry": [
                {"request": {"method": "GET", "url": format!("Patient/{id}")}}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["type"], "batch-response");

    // Negotiation: FHIR JSON or XML of R4, or nothing (XML itself: `xml.rs`).
    for (accept, expected) in [
        (
            "application/fhir+json; fhirVersion=4.3",
            StatusCode::NOT_ACCEPTABLE,
        ),
        ("text/html", StatusCode::NOT_ACCEPTABLE),
        ("application/fhir+json; fhirVersion=4.0", StatusCode::OK),
        ("application/json", StatusCode::OK),
        ("text/html, */*;q=0.1", StatusCode::OK),
    ] {
        let res = api
            .request(Method::GET, &url)
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), expected, "Accept: {accept}");
        if expected != StatusCode::OK {
            assert_outcome(&res.json().await.unwrap(), "not-supported");
        }
    }
    let (status, _) = api.get(&format!("{url}?_format=turtle")).await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    // A body FHIR JSON or refused, and nothing stored.
    for content_type in [
        Some("text/plain"),
        Some("application/fhir+xml; fhirVersion=3.0"),
        Some("application/fhir+json; fhirVersion=3.0"),
        Some("*/*"),
        None,
    ] {
        let mut request = api
            .request(Method::POST, &format!("{base}/fhir/Patient"))
            .body(rosa("10000001").to_string());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let res = request.send().await.unwrap();
        assert_eq!(
            res.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type: {content_type:?}"
        );
        assert_outcome(&res.json().await.unwrap(), "not-supported");
    }
    assert_eq!(
        patients(&api, base).await,
        1,
        "a refused body stores nothing"
    );

    // Conditional reads.
    let res = api.request(Method::GET, &url).send().await.unwrap();
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let modified = res.headers()["last-modified"].to_str().unwrap().to_owned();
    for (name, value) in [
        ("if-none-match", etag.clone()),
        ("if-none-match", "W/\"7\", W/\"1\"".to_owned()),
        ("if-none-match", "*".to_owned()),
        ("if-modified-since", modified.clone()),
    ] {
        let res = api
            .request(Method::GET, &url)
            .header(name, &value)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{name}: {value}");
        assert_eq!(res.headers()["etag"], etag.as_str());
        assert!(res.text().await.unwrap().is_empty());
    }
    for (name, value) in [
        ("if-none-match", "W/\"2\"".to_owned()),
        (
            "if-modified-since",
            "Sat, 01 Jan 2000 00:00:00 GMT".to_owned(),
        ),
    ] {
        let res = api
            .request(Method::GET, &url)
            .header(name, &value)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{name}: {value}");
    }

    // Prefer: return=…
    let mut update = created.clone();
    update["gender"] = json!("female");
    update["birthDate"] = json!("1985-03-15");
    let res = api
        .request(Method::PUT, &url)
        .header("content-type", "application/fhir+json")
        .header("prefer", "return=minimal")
        .body(update.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["preference-applied"], "return=minimal");
    assert_eq!(res.headers()["etag"], "W/\"2\"");
    assert!(res.text().await.unwrap().is_empty());
    update["birthDate"] = json!("1985-03-16");
    let res = api
        .request(Method::PUT, &url)
        .header("content-type", "application/fhir+json")
        .header("prefer", "return=OperationOutcome")
        .body(update.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let outcome: Value = res.json().await.unwrap();
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(outcome["issue"][0]["severity"], "information");
    let (_, now) = api.get(&url).await;
    assert_eq!(now["birthDate"], "1985-03-16", "the update was stored");
    assert_eq!(now["meta"]["versionId"], "3");

    // _summary and _elements, on a read and on a search.
    let (_, summary) = api.get(&format!("{url}?_summary=true")).await;
    assert!(summary.get("text").is_none(), "{summary}");
    assert_eq!(summary["identifier"][0]["value"], dni);
    assert_eq!(summary["birthDate"], "1985-03-16");
    assert!(
        summary["meta"]["tag"].to_string().contains("SUBSETTED"),
        "{summary}"
    );
    let (_, text) = api.get(&format!("{url}?_summary=text")).await;
    assert!(
        text.get("text").is_some() && text.get("identifier").is_none(),
        "{text}"
    );
    let (_, data) = api.get(&format!("{url}?_summary=data")).await;
    assert!(
        data.get("text").is_none() && data.get("name").is_some(),
        "{data}"
    );
    let (_, whole) = api.get(&format!("{url}?_summary=false")).await;
    assert!(
        whole.get("text").is_some() && whole["meta"].get("tag").is_none(),
        "{whole}"
    );
    let (_, elements) = api.get(&format!("{url}?_elements=identifier")).await;
    let mut keys: Vec<&str> = elements
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["id", "identifier", "meta", "resourceType"],
        "{elements}"
    );
    let (status, found) = api
        .get(&format!(
            "{base}/fhir/Patient?identifier={dni}&_elements=name"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let resource = &found["entry"][0]["resource"];
    assert!(
        resource.get("name").is_some() && resource.get("identifier").is_none(),
        "{found}"
    );
    assert!(
        found["link"][0]["url"]
            .as_str()
            .unwrap()
            .contains("_elements=name"),
        "the self link keeps it: {found}"
    );
    let (status, refused) = api.get(&format!("{base}/fhir/Patient?_summary=all")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_outcome(&refused, "structure");

    // CORS: a configured origin's preflight and answers; another origin gets nothing.
    let client = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        client
            .request(Method::OPTIONS, format!("{base}/fhir/Patient"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, prefer",
            )
            .send()
    };
    let res = preflight("https://app.example").await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let res = preflight("https://otro.example").await.unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let res = api
        .request(Method::GET, &url)
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert!(
        res.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("etag")
    );
    app.stop().await;
}

/// An origin a browser could never send stops the start, naming it.
#[test]
fn a_mistyped_cors_origin_stops_the_start() {
    let error = crate::app::start_refused(|c| {
        c.cors_allowed_origins = vec!["app.example".to_owned()];
    });
    assert!(error.to_string().contains("\"app.example\""), "{error}");
}

/// `If-None-Exist` creates once; history pages with `_count`, and narrows by `_since` and
/// `_at`; a type's whole history is refused in words.
/// The `next` link of a Bundle, if it has one.
fn next_link(bundle: &Value) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == "next")
        .and_then(|l| l["url"].as_str())
        .map(str::to_owned)
}

async fn conditional_creates_and_history_pages(db: TestDb) {
    let app = spawn_with(&db, |_| {}).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let create = |body: Value, condition: &'static str| {
        api.request(Method::POST, &format!("{base}/fhir/Patient"))
            .header("content-type", "application/fhir+json")
            .header("if-none-exist", condition)
            .body(body.to_string())
            .send()
    };
    let condition = "identifier=urn:oid:2.16.604.1.1.1.1.1.1|45678912";
    let res = create(rosa("45678912"), condition).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let first: Value = res.json().await.unwrap();
    let res = create(rosa("45678912"), condition).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the one that exists");
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["meta"]["versionId"], "1", "nothing written");
    assert_eq!(patients(&api, base).await, 1);
    let res = create(rosa("45678913"), "family=Quispe").await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let refused: Value = res.json().await.unwrap();
    assert_eq!(
        refused["issue"][0]["expression"][0], "If-None-Exist",
        "{refused}"
    );
    // Concurrent conditional creates of one identity make one patient.
    let racers: Vec<_> = (0..6)
        .map(|_| tokio::spawn(create(rosa("40000001"), "identifier=40000001")))
        .collect();
    let mut statuses = Vec::new();
    for racer in racers {
        statuses.push(racer.await.unwrap().unwrap().status());
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses.iter().all(StatusCode::is_success), "{statuses:?}");
    assert_eq!(patients(&api, base).await, 2);

    // Three versions, then their history.
    let id = first["id"].as_str().unwrap();
    let url = format!("{base}/fhir/Patient/{id}");
    let mut body = first.clone();
    let mut written = Vec::new();
    for day in ["1985-03-15", "1985-03-16"] {
        body["birthDate"] = json!(day);
        let (status, stored) = api.put(&url, &body).await;
        assert_eq!(status, StatusCode::OK, "{stored}");
        written.push(stored["meta"]["lastUpdated"].as_str().unwrap().to_owned());
    }
    let versions = |bundle: &Value| -> Vec<String> {
        bundle["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                e["resource"]["meta"]["versionId"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let (status, page) = api.get(&format!("{url}/_history?_count=2")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(versions(&page), ["3", "2"]);
    assert_eq!(page["total"], 3);
    let next = next_link(&page).expect("a next link");
    let (_, rest) = api.get(&next).await;
    assert_eq!(versions(&rest), ["1"]);
    assert_eq!(next_link(&rest), None, "the last page");
    let since = written[0].replace('+', "%2B");
    let (_, recent) = api.get(&format!("{url}/_history?_since={since}")).await;
    assert_eq!(versions(&recent), ["3", "2"]);
    let (_, then) = api.get(&format!("{url}/_history?_at={since}")).await;
    assert_eq!(versions(&then), ["2"]);
    let (status, refused) = api.get(&format!("{url}/_history?_since=ayer")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_outcome(&refused, "structure");
    // By the time of the current version, and in its order.
    let ids = |bundle: &Value| -> Vec<String> {
        bundle["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, newest) = api
        .get(&format!("{base}/fhir/Patient?_sort=-_lastUpdated"))
        .await;
    assert_eq!(status, StatusCode::OK, "{newest}");
    let order = ids(&newest);
    assert_eq!(order.len(), 2);
    assert_eq!(order[0], id, "updated last, first");
    let (_, oldest) = api
        .get(&format!("{base}/fhir/Patient?_sort=_lastUpdated&_count=1"))
        .await;
    assert_eq!(ids(&oldest), [order[1].clone()]);
    let last = written[1].replace('+', "%2B");
    let (_, since_last) = api
        .get(&format!("{base}/fhir/Patient?_lastUpdated=ge{last}"))
        .await;
    assert_eq!(ids(&since_last), [id.to_owned()]);
    let (_, after_last) = api
        .get(&format!("{base}/fhir/Patient?_lastUpdated=gt{last}"))
        .await;
    assert!(ids(&after_last).is_empty(), "{after_last}");
    // The history of every patient: newest first, paged, from _since on.
    let entries = |bundle: &Value| -> Vec<(String, String)> {
        bundle["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["resource"]["id"].as_str().unwrap().to_owned(),
                    e["resource"]["meta"]["versionId"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                )
            })
            .collect()
    };
    let (status, page) = api
        .get(&format!("{base}/fhir/Patient/_history?_count=3"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["type"], "history");
    let first_page = entries(&page);
    assert_eq!(first_page.len(), 3, "{page}");
    assert_eq!(first_page[0], (id.to_owned(), "3".to_owned()));
    assert_eq!(first_page[1], (id.to_owned(), "2".to_owned()));
    let next = next_link(&page).expect("a next link");
    let (_, rest) = api.get(&next).await;
    let mut all = first_page.clone();
    all.extend(entries(&rest));
    assert_eq!(all.len(), 4, "every version of both patients once: {all:?}");
    assert!(all.contains(&(id.to_owned(), "1".to_owned())));
    assert_eq!(next_link(&rest), None, "the last page");
    let (_, recent) = api
        .get(&format!("{base}/fhir/Patient/_history?_since={since}"))
        .await;
    assert_eq!(
        entries(&recent),
        [
            (id.to_owned(), "3".to_owned()),
            (id.to_owned(), "2".to_owned())
        ]
    );
    let (status, refused) = api
        .get(&format!("{base}/fhir/Patient/_history?_at={since}"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    // Not for a patient's token, and not for the types whose access is per patient.
    let (status, refused) = app
        .client(&crate::patient("1|PER|45678912"))
        .get(&format!("{base}/fhir/Patient/_history"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let (status, refused) = api.get(&format!("{base}/fhir/Consent/_history")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{refused}");
    assert_outcome(&refused, "not-supported");
    app.stop().await;
}

backend_tests!(
    the_rest_conventions_a_generic_client_relies_on,
    conditional_creates_and_history_pages
);
