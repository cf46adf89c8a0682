//! Accreditation runs started over the API (what the web app's auditor page does): a
//! suite against a sample SIHCE, its progress, its reports; refusals that start nothing;
//! a second run refused while the only runner is busy.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use renhice_testing::sihce::{Holdings, SampleSihce};
use renhice_testing::{TestDb, backend_tests};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::audit::{auditor, events};
use crate::{Api, HOME_IPRESS, TestApp, sihce, spawn_with};

fn example(path: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `POST /accreditation/runs` with `body`: status, `Location`, JSON answer.
async fn start(api: &Api, base: &str, body: &Value) -> (StatusCode, Option<String>, Value) {
    let res = api
        .request(Method::POST, &format!("{base}/accreditation/runs"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, location, res.json().await.unwrap_or(Value::Null))
}

/// Reads the run until it is no longer running (each read is a real request; the run
/// ends when its runner has sent its requests).
async fn finished(api: &Api, url: &str) -> Value {
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let (status, run) = api.get(url).await;
        assert_eq!(status, StatusCode::OK, "{run}");
        if run["status"] != "running" {
            return run;
        }
        assert!(Instant::now() < deadline, "the run did not end: {run}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The diagnostics and where it points.
fn refusal(outcome: &Value) -> (String, String) {
    (
        outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        outcome["issue"][0]["expression"][0]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

async fn auditors_run_a_suite_and_read_its_reports(db: TestDb) {
    let app = spawn_with(&db, |c| {
        c.accreditation_max_runs = 1;
        c.accreditation_timeout_secs = 5;
    })
    .await;
    let base = &app.base;
    let api = app.client(&auditor());

    let (status, suites) = api.get(&format!("{base}/accreditation/suites")).await;
    assert_eq!(status, StatusCode::OK, "{suites}");
    let basic = suites["suites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "sihce-basico")
        .expect("sihce-basico is offered");
    assert_eq!(basic["tests"], 7);
    assert_eq!(basic["variables"][0]["name"], "patientId");
    assert_eq!(basic["variables"][0]["default"], "ejemplo-paciente");

    // Only auditors and administrators run suites.
    let system = app.client(&sihce(HOME_IPRESS));
    let (status, _) = system.get(&format!("{base}/accreditation/suites")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Refusals name the field and start nothing.
    for (body, field) in [
        (
            json!({"suite": "sihce-basico", "target": "ftp://sihce.example/fhir"}),
            "target",
        ),
        (
            json!({"suite": "sihce-basico", "target": "no es una URL"}),
            "target",
        ),
        (
            json!({"suite": "otra", "target": "https://sihce.example/fhir"}),
            "suite",
        ),
        (
            json!({"suite": "registro-envio", "target": "https://sihce.example/fhir",
                   "variables": {"ipressId": "1"}}),
            "variables.patientId",
        ),
        (
            json!({"suite": "sihce-basico", "target": "https://sihce.example/fhir",
                   "variables": {"pacienteId": "1"}}),
            "variables.pacienteId",
        ),
        (
            json!({"suite": "sihce-basico", "target": "https://sihce.example/fhir", "extra": 1}),
            "body",
        ),
    ] {
        let (status, _, outcome) = start(&api, base, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {outcome}");
        let (diagnostics, at) = refusal(&outcome);
        assert_eq!(at, field, "{body}: {diagnostics}");
    }
    let (status, runs) = api.get(&format!("{base}/accreditation/runs")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(runs["runs"], json!([]), "a refusal starts nothing");

    // A run against a SIHCE that takes anything, over plain HTTP: it runs to its end
    // and fails, naming what failed.
    let broken = SampleSihce::start(
        false,
        Holdings {
            token: "sin-uso".into(),
            patient: example("profiles/pe/examples/Patient-ejemplo-paciente.json"),
            summary: example("profiles/pe/examples/Bundle-ejemplo-documento.json"),
        },
    );
    let (status, location, run) = start(
        &api,
        base,
        &json!({"suite": "sihce-basico", "target": broken.base_url, "token": "secreto-del-sihce"}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let location = location.expect("a Location");
    assert_eq!(
        location,
        format!("/accreditation/runs/{}", run["id"].as_str().unwrap())
    );
    assert_eq!(run["status"], "running");
    assert_eq!(run["auditor"], "Auditora SUSALUD");
    assert_eq!(run["total"], 7);
    let url = format!("{base}{location}");
    let run = finished(&api, &url).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["verdict"], "fail");
    assert_eq!(run["done"], 7);
    let tests = run["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 7);
    let verdict_of = |id: &str| {
        tests
            .iter()
            .find(|t| t["id"] == id)
            .unwrap_or_else(|| panic!("no test {id}: {run}"))
            .clone()
    };
    // It answers without a token, and over plain HTTP.
    for id in ["autenticacion", "cifrado"] {
        let test = verdict_of(id);
        assert_eq!(test["verdict"], "fail", "{test}");
        assert!(!test["reason"].as_str().unwrap().is_empty(), "{test}");
    }
    assert_eq!(
        verdict_of("capacidades")["criterion"]["code"]
            .as_str()
            .map(str::is_empty),
        Some(false)
    );
    assert_eq!(
        run["passed"],
        tests.iter().filter(|t| t["verdict"] == "pass").count()
    );
    // The token sent to the SIHCE is kept nowhere the API shows.
    assert!(!run.to_string().contains("secreto-del-sihce"));

    // Its reports, as downloads.
    let res = api
        .request(Method::GET, &format!("{url}/report.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"acreditacion-sihce-basico-"),
        "{disposition}"
    );
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    let html = res.text().await.unwrap();
    assert!(html.contains(basic["title"].as_str().unwrap()), "{html}");
    let junit = api
        .request(Method::GET, &format!("{url}/junit.xml"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(junit.contains("<testsuite"), "{junit}");
    let (status, report) = api.get(&format!("{url}/testreport.json")).await;
    assert_eq!(status, StatusCode::OK);
    renhice_model::resources::Resource::from_json(report.to_string().as_bytes())
        .expect("the TestReport is valid FHIR R4");
    assert_eq!(report["result"], "fail");
    let (status, _) = api.get(&format!("{url}/informe.pdf")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .get(&format!("{base}/accreditation/runs/no-existe"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Starting and reading a report are audited, naming the run.
    let id = run["id"].as_str().unwrap();
    let (_, trail) = api.get(&format!("{base}/fhir/AuditEvent?_count=200")).await;
    let about_run: Vec<Value> = events(&trail)
        .into_iter()
        .filter(|e| {
            e["entity"].as_array().is_some_and(|entities| {
                entities
                    .iter()
                    .any(|x| x["what"]["reference"] == format!("TestReport/{id}"))
            })
        })
        .collect();
    assert!(
        about_run.len() >= 2,
        "start and report reads: {}",
        serde_json::to_string_pretty(&about_run).unwrap()
    );
    assert!(about_run.iter().any(|e| e["action"] == "C"));

    busy_runner_refuses_a_second_run(&app, &api).await;
    app.stop().await;
}

/// With the only runner held by a SIHCE that never answers, a second run is a 503 with
/// Retry-After; once the SIHCE goes away the first run ends, every test in error.
async fn busy_runner_refuses_a_second_run(app: &TestApp, api: &Api) {
    let base = &app.base;
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = silent.local_addr().unwrap();
    let target = format!("http://{address}/fhir");
    let held: Arc<Mutex<Vec<std::net::TcpStream>>> = Arc::default();
    let closing = Arc::new(AtomicBool::new(false));
    let holder = Arc::clone(&held);
    let stop = Arc::clone(&closing);
    // Accepts and holds every connection, answering nothing, until told to close.
    let acceptor = std::thread::spawn(move || {
        for stream in silent.incoming() {
            if stop.load(Ordering::Acquire) {
                break;
            }
            if let Ok(stream) = stream {
                holder.lock().unwrap().push(stream);
            }
        }
    });
    let (status, location, run) = start(
        api,
        base,
        &json!({"suite": "sihce-basico", "target": target}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let res = api
        .request(Method::POST, &format!("{base}/accreditation/runs"))
        .header("content-type", "application/json")
        .body(json!({"suite": "sihce-basico", "target": target}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["retry-after"], "30");
    let outcome: Value = res.json().await.unwrap();
    assert!(
        refusal(&outcome).0.contains("accreditation_max_runs"),
        "{outcome}"
    );
    // The SIHCE goes away: the listener closes (woken by one last connection), then the
    // held connections; the runner's requests fail at once from then on.
    closing.store(true, Ordering::Release);
    drop(std::net::TcpStream::connect(address));
    acceptor.join().unwrap();
    held.lock().unwrap().clear();
    let url = format!("{base}{}", location.unwrap());
    let run = finished(api, &url).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["verdict"], "fail");
    assert!(
        run["tests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["verdict"] != "pass"),
        "{run}"
    );
    // The runner is free again.
    let (status, _, run) = start(
        api,
        base,
        &json!({"suite": "registro-envio", "target": target,
               "variables": {"ipressId": "x", "patientId": "y"}}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    finished(
        api,
        &format!("{base}/accreditation/runs/{}", run["id"].as_str().unwrap()),
    )
    .await;
}

backend_tests!(auditors_run_a_suite_and_read_its_reports);
