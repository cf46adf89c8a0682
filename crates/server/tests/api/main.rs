//! The server over real HTTP on loopback, against real PostgreSQL and SQLite databases.

#![allow(missing_docs, reason = "tests")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed step must stop the test"
)]
#![allow(
    clippy::too_many_lines,
    reason = "a test tells its story from start to end in one function"
)]

use renhice_server::auth::{Grant, Purpose, Role};
use renhice_testing::{TestDb, backend_tests};
use serde_json::Value;

pub(crate) use app::{Api, TestApp, spawn, spawn_with, spawn_with_auth};

mod access;
mod accreditation;
mod app;
mod audit;
mod consent;
mod conventions;
mod hostile;
mod identity;
mod limits;
mod push;
mod sign_in;
mod signatures;
mod summary;
mod tls;
mod tokens;
mod validate;
mod xml;

/// The IPRESS the tests' SIHCE acts for unless a test says otherwise.
pub(crate) const HOME_IPRESS: &str = "00012345";

/// A SIHCE acting for its IPRESS.
pub(crate) fn sihce(renipress: &str) -> Grant {
    Grant {
        subject: format!("sihce-{renipress}"),
        role: Role::System,
        organization: Some(renipress.to_owned()),
        practitioner: None,
        name: None,
        person: None,
        purpose: Purpose::Treat,
        emergency_reason: None,
        sign_in: None,
        system_scope: None,
    }
}

/// A clinician through their IPRESS's SIHCE.
pub(crate) fn clinician(renipress: &str) -> Grant {
    Grant {
        role: Role::Clinician,
        practitioner: Some("01|012345".to_owned()),
        name: Some("Dra. Ana Torres".to_owned()),
        ..sihce(renipress)
    }
}

/// A patient, by identity-document key (`1|PER|45678912`).
pub(crate) fn patient(person: &str) -> Grant {
    Grant {
        subject: format!("patient-{person}"),
        role: Role::Patient,
        organization: None,
        practitioner: None,
        name: None,
        person: Some(person.to_owned()),
        purpose: Purpose::PatientRequest,
        emergency_reason: None,
        sign_in: None,
        system_scope: None,
    }
}

/// An administrator of the registry.
pub(crate) fn admin() -> Grant {
    Grant {
        subject: "admin".to_owned(),
        role: Role::Admin,
        organization: None,
        practitioner: None,
        name: None,
        person: None,
        purpose: Purpose::Operations,
        emergency_reason: None,
        sign_in: None,
        system_scope: None,
    }
}

fn content_type(headers: &reqwest::header::HeaderMap) -> &str {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Asserts that a body is an OperationOutcome with one error issue of the given code.
fn assert_outcome(body: &Value, code: &str) {
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    assert_eq!(body["issue"][0]["severity"], "error", "{body}");
    assert_eq!(body["issue"][0]["code"], code, "{body}");
    assert!(
        body["issue"][0]["diagnostics"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

async fn metadata_is_a_truthful_capability_statement(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (status, headers, body) = api.fetch(&format!("{base}/fhir/metadata")).await;
    assert_eq!(status, 200);
    assert!(content_type(&headers).starts_with("application/fhir+json"));
    assert_eq!(body["resourceType"], "CapabilityStatement");
    assert_eq!(body["fhirVersion"], "4.0.1");
    assert_eq!(body["kind"], "instance");
    assert_eq!(body["status"], "active");
    assert_eq!(body["software"]["name"], "renhice");
    assert_eq!(body["rest"][0]["mode"], "server");
    assert_eq!(
        body["rest"][0]["security"]["service"][0]["coding"][0]["code"],
        "OAuth"
    );
    // SMART's oauth-uris name the same endpoints as the SMART configuration.
    let (_, smart) = api
        .get(&format!("{base}/.well-known/smart-configuration"))
        .await;
    let oauth = &body["rest"][0]["security"]["extension"][0];
    assert_eq!(
        oauth["url"],
        "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
    );
    let uri = |name: &str| {
        oauth["extension"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["url"] == name)
            .map(|e| e["valueUri"].clone())
            .unwrap_or_default()
    };
    assert_eq!(uri("token"), smart["token_endpoint"], "{oauth}");
    assert_eq!(uri("authorize"), smart["authorization_endpoint"], "{oauth}");
    assert_eq!(uri("revoke"), smart["revocation_endpoint"], "{oauth}");
    assert_eq!(
        uri("introspect"),
        smart["introspection_endpoint"],
        "{oauth}"
    );
    assert_eq!(body["rest"][0]["security"]["cors"], false);
    // Exactly what is served is claimed: the identity feed (Patient, Organization) with
    // its searches, read-only index entries, and the ITI-65 transaction.
    let resources = body["rest"][0]["resource"].as_array().unwrap();
    let types: Vec<&str> = resources
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "AuditEvent",
            "Bundle",
            "Consent",
            "DocumentReference",
            "List",
            "Organization",
            "Patient",
            "Provenance"
        ]
    );
    for r in resources {
        let interactions: Vec<&str> = r["interaction"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["code"].as_str().unwrap())
            .collect();
        let params: Vec<&str> = r["searchParam"].as_array().map_or_else(Vec::new, |a| {
            a.iter().map(|p| p["name"].as_str().unwrap()).collect()
        });
        // The parameters claimed are the table's listed ones, in table order; that each
        // is really searched is `every_claimed_search_parameter_is_searched`.
        assert_eq!(params, listed(r["type"].as_str().unwrap()), "{r}");
        match r["type"].as_str().unwrap() {
            "AuditEvent" => {
                assert_eq!(interactions, ["read", "search-type"]);
            }
            "Consent" => {
                assert_eq!(
                    interactions,
                    [
                        "read",
                        "vread",
                        "update",
                        "history-instance",
                        "create",
                        "search-type"
                    ]
                );
                assert_eq!(r["conditionalUpdate"], false);
            }
            "Patient" | "Organization" => {
                assert_eq!(
                    interactions,
                    [
                        "read",
                        "vread",
                        "update",
                        "history-instance",
                        "history-type",
                        "create",
                        "search-type"
                    ]
                );
            }
            "DocumentReference" => {
                assert_eq!(
                    interactions,
                    ["read", "vread", "update", "history-instance", "search-type"]
                );
                assert_eq!(
                    r["searchInclude"],
                    serde_json::json!(["DocumentReference:custodian"])
                );
            }
            "Bundle" => {
                assert_eq!(
                    interactions,
                    ["read", "vread", "history-instance", "create"]
                );
            }
            "List" => {
                assert_eq!(
                    interactions,
                    ["read", "vread", "history-instance", "search-type"]
                );
            }
            _ => {
                assert_eq!(interactions, ["read", "vread", "history-instance"]);
            }
        }
    }
    assert_eq!(resources[6]["operation"][0]["name"], "ihe-pix");
    assert_eq!(resources[6]["operation"][1]["name"], "record-locations");
    assert_eq!(resources[6]["operation"][2]["name"], "summary");
    // The operation's definition is in the repository, valid, and at the URL claimed.
    let definition = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../profiles/renhice/OperationDefinition-record-locations.json"),
    )
    .unwrap();
    let definition = renhice_model::resources::Resource::from_json(definition.as_bytes()).unwrap();
    let renhice_model::resources::Resource::OperationDefinition(op) = definition else {
        panic!()
    };
    assert_eq!(
        op.url.as_ref().and_then(|u| u.as_str()),
        resources[6]["operation"][1]["definition"].as_str()
    );
    let summary = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../profiles/renhice/OperationDefinition-summary.json"),
    )
    .unwrap();
    let renhice_model::resources::Resource::OperationDefinition(summary) =
        renhice_model::resources::Resource::from_json(summary.as_bytes()).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        summary.url.as_ref().and_then(|u| u.as_str()),
        resources[6]["operation"][2]["definition"].as_str()
    );
    assert!(resources[3].get("operation").is_none(), "{body}");
    assert_eq!(body["rest"][0]["interaction"][0]["code"], "transaction");
    assert_eq!(body["rest"][0]["interaction"][1]["code"], "batch");
    assert_eq!(body["rest"][0]["operation"][0]["name"], "validate");
    assert_eq!(
        body["rest"][0]["operation"][0]["definition"],
        "http://hl7.org/fhir/OperationDefinition/Resource-validate"
    );
    // The statement is valid FHIR for the model (no empty arrays, known elements) and
    // for the validator.
    renhice_model::resources::Resource::from_json(body.to_string().as_bytes()).unwrap();
    let issues = renhice_validator::Validator::r4().validate(&body);
    assert!(issues.is_empty(), "{issues:#?}");
    app.stop().await;
}

/// The search parameters the table lists for a type, in table order.
fn listed(resource_type: &str) -> Vec<&'static str> {
    use renhice_registry::params::{self, Visibility};
    resource_type
        .parse()
        .map(|t| {
            params::of(t)
                .filter(|p| p.visibility == Visibility::Listed)
                .map(|p| p.name)
                .collect()
        })
        .unwrap_or_default()
}

/// Every search parameter the CapabilityStatement claims is searched: a search by it
/// (with a value of its type, beside the patient and status an MHD or PCF search needs)
/// answers a searchset, and a parameter it does not claim is refused.
async fn every_claimed_search_parameter_is_searched(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    // The home IPRESS registered (a SIHCE of an unknown IPRESS is refused first).
    let (patient, _) = push::identities(&app).await;
    let (_, _, body) = app
        .client(&sihce(HOME_IPRESS))
        .fetch(&format!("{base}/fhir/metadata"))
        .await;
    let mut searched = 0;
    for r in body["rest"][0]["resource"].as_array().unwrap() {
        let resource_type = r["type"].as_str().unwrap();
        let api = if resource_type == "AuditEvent" {
            app.client(&audit::auditor())
        } else {
            app.client(&sihce(HOME_IPRESS))
        };
        let needs = match resource_type {
            "DocumentReference" | "List" => format!("&patient=Patient/{patient}&status=current"),
            "Consent" => format!("&patient=Patient/{patient}&status=active"),
            _ => String::new(),
        };
        for p in r["searchParam"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap();
            let value = match (p["type"].as_str().unwrap(), name) {
                ("reference", "custodian") => "Organization/o1",
                ("reference", _) => "Patient/p1",
                ("date", _) => "ge2026-01-01",
                ("string", _) => "quispe",
                ("token", "_id") => "abc",
                ("token", _) => "http://example.org/x|1",
                (other, _) => panic!("{resource_type}.{name} has type {other}"),
            };
            let url = format!("{base}/fhir/{resource_type}?{name}={value}{needs}");
            let (status, _, answer) = api.fetch(&url).await;
            assert_eq!(status, 200, "{url}: {answer}");
            assert_eq!(answer["type"], "searchset", "{url}");
            searched += 1;
        }
        if r["searchParam"].is_array() {
            let url = format!("{base}/fhir/{resource_type}?not-a-parameter=1{needs}");
            let (status, _, answer) = api.fetch(&url).await;
            assert_eq!(status, 400, "{url}: {answer}");
        }
    }
    assert_eq!(
        searched,
        renhice_registry::params::PARAMS
            .iter()
            .filter(|p| p.visibility == renhice_registry::params::Visibility::Listed)
            .count()
    );
    app.stop().await;
}

async fn health_and_readiness(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (status, _, body) = api.fetch(&format!("{base}/healthz")).await;
    assert_eq!(
        (status.as_u16(), body["status"].as_str()),
        (200, Some("pass"))
    );
    let (status, _, body) = api.fetch(&format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["database"], db.backend_name());
    // A database that answers but takes no writes: not ready, since nothing could be
    // stored or audited. (PostgreSQL only: SQLite has no read-only switch that binds
    // every connection.)
    if db.set_read_only(true) {
        // A request after the sessions ended may meet a dropped connection (one per
        // pooled connection, eight at most).
        let mut statuses = Vec::new();
        for _ in 0..10 {
            statuses.push(api.fetch(&format!("{base}/readyz")).await.0.as_u16());
        }
        assert_eq!(statuses.last(), Some(&503), "{statuses:?}");
        let (status, _, body) = api.fetch(&format!("{base}/readyz")).await;
        assert_eq!(status, 503, "{body}");
        assert_outcome(&body, "no-store");
        assert!(db.set_read_only(false));
        // Ready again once writes are taken: the pool replaces its dropped connections
        // as requests meet them, and opens new ones in the background.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut tries = 0;
        loop {
            tries += 1;
            if api.fetch(&format!("{base}/readyz")).await.0 == 200 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "not ready again after {tries} tries in 10 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    app.stop().await;
}

async fn unknown_routes_and_methods_answer_with_operation_outcomes(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (status, headers, body) = api.fetch(&format!("{base}/nowhere/1")).await;
    assert_eq!(status, 404);
    assert!(content_type(&headers).starts_with("application/fhir+json"));
    assert_outcome(&body, "not-found");
    // A resource type this server does not serve is not-supported, also a 404.
    let (status, _, body) = api.fetch(&format!("{base}/fhir/NoSuchThing/1")).await;
    assert_eq!(status, 404);
    assert_outcome(&body, "not-supported");

    let res = api
        .request(reqwest::Method::DELETE, &format!("{base}/fhir/metadata"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET");
    assert_outcome(&res.json().await.unwrap(), "not-supported");

    let res = reqwest::Client::new()
        .get(format!("{base}/fhir/metadata"))
        .header("accept", "text/turtle")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 406);
    assert_outcome(&res.json().await.unwrap(), "not-supported");
    let (status, _, _) = api
        .fetch(&format!("{base}/fhir/metadata?_format=html"))
        .await;
    assert_eq!(status, 406);
    let (status, _, _) = api
        .fetch(&format!("{base}/fhir/metadata?_format=json"))
        .await;
    assert_eq!(status, 200);
    app.stop().await;
}

async fn every_response_carries_a_request_id(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let client = reqwest::Client::new();
    let res = client
        .get(format!("{base}/healthz"))
        .header("x-request-id", "sihce-0001.abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "sihce-0001.abc");
    // An id that could forge log lines is replaced by a generated one.
    let res = client
        .get(format!("{base}/healthz"))
        .header("x-request-id", "a\"b c")
        .send()
        .await
        .unwrap();
    let generated = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 36, "{generated}");
    let (_, headers, _) = api.fetch(&format!("{base}/nowhere")).await;
    assert!(headers.contains_key("x-request-id"));
    app.stop().await;
}

async fn metrics_count_requests_by_route(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    api.fetch(&format!("{base}/fhir/metadata")).await;
    api.fetch(&format!("{base}/fhir/metadata")).await;
    api.fetch(&format!("{base}/fhir/Patient/123")).await;
    api.fetch(&format!("{base}/nowhere/123")).await;
    let res = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert!(content_type(res.headers()).starts_with("application/openmetrics-text"));
    let text = res.text().await.unwrap();
    assert!(
        text.contains(
            r#"renhice_http_requests_total{method="GET",route="/fhir/metadata",status="200"} 2"#
        ),
        "{text}"
    );
    // Matched routes are labelled by pattern, not by path; unmatched paths share one
    // series rather than one per path.
    assert!(
        text.contains(
            r#"renhice_http_requests_total{method="GET",route="/fhir/{type}/{id}",status="404"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(text.contains("renhice_db_pool_max_connections 8"), "{text}");
    assert!(
        text.contains("renhice_http_request_duration_seconds_bucket"),
        "{text}"
    );
    app.stop().await;
}

backend_tests!(
    metadata_is_a_truthful_capability_statement,
    every_claimed_search_parameter_is_searched,
    health_and_readiness,
    unknown_routes_and_methods_answer_with_operation_outcomes,
    every_response_carries_a_request_id,
    metrics_count_requests_by_route
);

/// A database outage is a 503 with `Retry-After`, never a 500: reads say to come back,
/// writes that whether they were stored is not known and that they may be repeated.
#[cfg(feature = "postgres")]
#[test]
fn a_database_outage_is_a_503_with_retry_after() {
    renhice_testing::block_on(async {
        let db = TestDb::postgres();
        let app = spawn(&db).await;
        let base = &app.base;
        let (patient, _) = push::identities(&app).await;
        let api = app.client(&sihce(HOME_IPRESS));
        db.drop_now();
        let body = serde_json::json!({"resourceType": "Patient",
            "identifier": [serde_json::to_value(renhice_model::peru::PersonId::dni("41234567").unwrap().to_identifier()).unwrap()],
            "name": [{"family": "Huamán", "given": ["Julia"]}]});
        // Each request meets the outage its own way: a pooled connection the server ended,
        // then no connection at all.
        for _ in 0..4 {
            for (method, url, body) in [
                (
                    reqwest::Method::GET,
                    format!("{base}/fhir/Patient/{patient}"),
                    None,
                ),
                (
                    reqwest::Method::POST,
                    format!("{base}/fhir/Patient"),
                    Some(body.to_string()),
                ),
            ] {
                let mut req = api
                    .request(method.clone(), &url)
                    .header("content-type", "application/fhir+json");
                if let Some(body) = body {
                    req = req.body(body);
                }
                let res = req.send().await.unwrap();
                assert_eq!(res.status(), 503, "{method} {url}");
                assert_eq!(res.headers()["retry-after"], "5", "{method} {url}");
                let outcome: Value = res.json().await.unwrap();
                assert_eq!(outcome["resourceType"], "OperationOutcome");
                assert!(
                    matches!(
                        outcome["issue"][0]["code"].as_str(),
                        Some("transient" | "no-store")
                    ),
                    "{outcome}"
                );
                if method == reqwest::Method::POST {
                    let said = outcome["issue"][0]["diagnostics"]
                        .as_str()
                        .unwrap_or_default();
                    assert!(
                        said.contains("not available") && said.contains("retry")
                            || said.contains("Retry"),
                        "{outcome}"
                    );
                }
            }
        }
        app.stop().await;
    });
}

#[cfg(feature = "postgres")]
#[test]
fn readyz_fails_when_the_database_is_gone() {
    renhice_testing::block_on(async {
        let db = TestDb::postgres();
        let app = spawn(&db).await;
        let base = &app.base;
        let api = app.client(&sihce(HOME_IPRESS));
        assert_eq!(api.fetch(&format!("{base}/readyz")).await.0, 200);
        db.drop_now();
        let (status, headers, body) = api.fetch(&format!("{base}/readyz")).await;
        assert_eq!(status, 503, "{body}");
        assert!(content_type(&headers).starts_with("application/fhir+json"));
        assert_outcome(&body, "no-store");
        // Liveness does not depend on the database.
        assert_eq!(api.fetch(&format!("{base}/healthz")).await.0, 200);
        app.stop().await;
    });
}
