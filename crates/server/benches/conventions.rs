//! What FHIR's REST conventions middleware costs a request, apart from the handlers and
//! the database: a read of a Patient and of a search page of 50 `DocumentReference`s
//! answered by a fixed handler, bare, through the conventions in JSON, and written as
//! XML; and a create whose body comes as JSON or as XML (read into the model and handed
//! on as JSON).
//!
//! `cargo bench -p renhice-server --bench conventions` (results in docs/benchmarks.md).

#![allow(missing_docs, reason = "benchmark")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark set-up")]

use std::time::{Duration, Instant};

use actix_web::dev::{Service, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, test, web};
use criterion::{Criterion, criterion_group, criterion_main};
use renhice_model::resources::Resource;
use serde_json::{Value, json};

fn patient() -> Value {
    json!({
        "resourceType": "Patient", "id": "p1",
        "meta": {"versionId": "3", "lastUpdated": "2026-03-14T10:22:31.120-05:00"},
        "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Rosa Quispe Mamani</div>"},
        "identifier": [{"system": "urn:oid:2.16.604.1.1.1.1.1.1", "value": "45678912"}],
        "name": [{"family": "Quispe", "given": ["Rosa", "María"]}],
        "gender": "female", "birthDate": "1985-03-14",
        "address": [{"line": ["Av. Arequipa 1234"], "city": "Lima", "country": "PE"}]
    })
}

fn searchset() -> Value {
    let entries: Vec<Value> = (0..50)
        .map(|n| {
            json!({"fullUrl": format!("http://h/fhir/DocumentReference/d{n}"),
                "resource": {"resourceType": "DocumentReference", "id": format!("d{n}"),
                    "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:oid:1.2.604.{n}")},
                    "status": "current",
                    "type": {"coding": [{"system": "http://loinc.org", "code": "34133-9"}]},
                    "subject": {"reference": "Patient/p1"},
                    "date": "2026-03-14T10:20:00-05:00",
                    "custodian": {"reference": "Organization/o1"},
                    "content": [{"attachment": {"contentType": "application/pdf", "url": format!("https://sihce.example/d/{n}")}}]},
                "search": {"mode": "match"}})
        })
        .collect();
    json!({"resourceType": "Bundle", "type": "searchset", "entry": entries})
}

fn fixed(body: String) -> impl Fn() -> std::future::Ready<HttpResponse> + Clone {
    move || {
        std::future::ready(
            HttpResponse::Ok()
                .content_type("application/fhir+json")
                .insert_header(("etag", "W/\"3\""))
                .body(body.clone()),
        )
    }
}

/// Times `iters` requests made by `request` against `service`, on the benchmark's runtime.
fn timed<S, R, F>(
    runtime: &actix_web::rt::SystemRunner,
    service: &S,
    iters: u64,
    request: F,
) -> Duration
where
    S: Service<R, Response = ServiceResponse, Error = actix_web::Error>,
    F: Fn() -> R,
{
    runtime.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            let res = test::call_service(service, request()).await;
            assert!(res.status().is_success(), "{}", res.status());
            let _ = test::read_body(res).await;
        }
        start.elapsed()
    })
}

fn conventions(c: &mut Criterion) {
    let runtime = actix_web::rt::System::new();
    let patient_json = patient().to_string();
    let bundle_json = searchset().to_string();
    let patient_xml = Resource::from_json(patient_json.as_bytes())
        .unwrap()
        .to_xml()
        .unwrap();
    let routes = |cfg: &mut web::ServiceConfig| {
        cfg.route(
            "/fhir/Patient/p1",
            web::get().to(fixed(patient_json.clone())),
        )
        .route(
            "/fhir/DocumentReference",
            web::get().to(fixed(bundle_json.clone())),
        )
        .route(
            "/fhir/Patient",
            web::post().to(|body: web::Bytes| async move {
                // What a create handler does first: read the body into the model.
                let resource = Resource::from_json(&body).unwrap();
                HttpResponse::Created()
                    .content_type("application/fhir+json")
                    .body(resource.to_json())
            }),
        );
    };
    let (bare, wrapped) = runtime.block_on(async {
        (
            test::init_service(App::new().configure(routes)).await,
            test::init_service(
                App::new()
                    .wrap(from_fn(renhice_server::conventions::apply))
                    .wrap(from_fn(renhice_server::conventions::answer_format))
                    .configure(routes),
            )
            .await,
        )
    });
    let get = |path: &'static str, accept: &'static str| {
        move || {
            test::TestRequest::get()
                .uri(path)
                .insert_header(("accept", accept))
                .to_request()
        }
    };
    let json = "application/fhir+json";
    let xml = "application/fhir+xml";
    for (name, path) in [
        ("read Patient", "/fhir/Patient/p1"),
        ("search page of 50", "/fhir/DocumentReference"),
    ] {
        let mut group = c.benchmark_group(format!("conventions/{name}"));
        group.bench_function("bare", |b| {
            b.iter_custom(|n| timed(&runtime, &bare, n, get(path, json)));
        });
        group.bench_function("conventions, JSON", |b| {
            b.iter_custom(|n| timed(&runtime, &wrapped, n, get(path, json)));
        });
        group.bench_function("conventions, XML", |b| {
            b.iter_custom(|n| timed(&runtime, &wrapped, n, get(path, xml)));
        });
        group.finish();
    }
    let mut group = c.benchmark_group("conventions/create Patient");
    let post = |body: Vec<u8>, content_type: &'static str| {
        move || {
            test::TestRequest::post()
                .uri("/fhir/Patient")
                .insert_header(("content-type", content_type))
                .set_payload(body.clone())
                .to_request()
        }
    };
    group.bench_function("bare, JSON body", |b| {
        b.iter_custom(|n| {
            timed(
                &runtime,
                &bare,
                n,
                post(patient_json.clone().into_bytes(), json),
            )
        });
    });
    group.bench_function("conventions, JSON body", |b| {
        b.iter_custom(|n| {
            timed(
                &runtime,
                &wrapped,
                n,
                post(patient_json.clone().into_bytes(), json),
            )
        });
    });
    group.bench_function("conventions, XML body", |b| {
        b.iter_custom(|n| timed(&runtime, &wrapped, n, post(patient_xml.clone(), xml)));
    });
    group.finish();
}

criterion_group!(benches, conventions);
criterion_main!(benches);
