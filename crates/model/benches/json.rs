//! Parsing and writing realistic FHIR JSON: the typed model against `serde_json::Value`
//! on the same bytes, in the same run; and the same documents in FHIR XML.
//!
//! `cargo bench -p renhice-model --bench json` (results in docs/benchmarks.md).

#![allow(missing_docs, reason = "benchmark")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark set-up")]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use renhice_model::canonical::Canonicalization;
use renhice_model::resources::Resource;
use serde_json::{Value, json};

/// An index entry as a SIHCE pushes it (IHE MHD DocumentReference).
fn document_reference(n: usize) -> Value {
    json!({
        "resourceType": "DocumentReference",
        "id": format!("dr-{n}"),
        "meta": {"versionId": "1", "lastUpdated": "2026-03-14T10:22:31.120-05:00",
                 "profile": ["https://renhice.example/fhir/StructureDefinition/renhice-document-reference"]},
        "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:oid:1.2.604.1.{n}")},
        "identifier": [{"use": "official", "system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:7d9f{n:08}-1111-4a4a-9b9b-0123456789ab")}],
        "status": "current",
        "docStatus": "final",
        "type": {"coding": [{"system": "http://loinc.org", "code": "34133-9", "display": "Summary of episode note"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "11488-4", "display": "Consult note"}]}],
        "subject": {"reference": format!("Patient/p-{}", n % 37), "display": "Quispe Mamani, Rosa"},
        "date": "2026-03-14T10:20:00-05:00",
        "author": [{"reference": "Practitioner/pr-7", "display": "Dra. Carmen Huamán"}],
        "custodian": {"reference": "Organization/ipress-00005938",
                      "identifier": {"system": "https://www.gob.pe/minsa/renipress", "value": "00005938"}},
        "securityLabel": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "N"}]}],
        "content": [{
            "attachment": {"contentType": "application/pdf", "language": "es-PE",
                           "url": format!("https://sihce.hospital-loayza.gob.pe/documentos/{n}"),
                           "size": 48213 + n as u64, "hash": "2jmj7l5rSw0yVb/vlWAYkK/YBwk=",
                           "title": "Epicrisis", "creation": "2026-03-14T10:19:00-05:00"},
            "format": {"system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode", "code": "urn:ihe:iti:xds:2017:mimeTypeSufficient"}
        }],
        "context": {
            "encounter": [{"reference": format!("Encounter/e-{n}")}],
            "period": {"start": "2026-03-10T08:00:00-05:00", "end": "2026-03-14T09:30:00-05:00"},
            "facilityType": {"coding": [{"system": "http://snomed.info/sct", "code": "22232009", "display": "Hospital"}]},
            "practiceSetting": {"coding": [{"system": "http://snomed.info/sct", "code": "394802001", "display": "General medicine"}]},
            "sourcePatientInfo": {"reference": format!("Patient/p-{}", n % 37)}
        }
    })
}

fn observation(n: usize) -> Value {
    json!({
        "resourceType": "Observation",
        "id": format!("obs-{n}"),
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5", "display": "Body temperature"}]},
        "subject": {"reference": "Patient/p-1"},
        "effectiveDateTime": "2026-03-14T08:00:00-05:00",
        "valueQuantity": {"value": 36.60, "unit": "Cel", "system": "http://unitsofmeasure.org", "code": "Cel"},
        "referenceRange": [{"low": {"value": 36.10, "unit": "Cel"}, "high": {"value": 37.20, "unit": "Cel"}}]
    })
}

fn bundle(kind: &str, resources: Vec<Value>) -> Vec<u8> {
    let entry: Vec<Value> = resources
        .into_iter()
        .map(|r| {
            let url = format!(
                "{}/{}",
                r["resourceType"].as_str().unwrap(),
                r["id"].as_str().unwrap()
            );
            match kind {
                "transaction" => {
                    json!({"fullUrl": format!("urn:uuid:{}", r["id"].as_str().unwrap()),
                                         "resource": r, "request": {"method": "POST", "url": url}})
                }
                _ => {
                    json!({"fullUrl": format!("https://renhice.example/fhir/{url}"), "resource": r,
                            "search": {"mode": "match", "score": 1.0}})
                }
            }
        })
        .collect();
    let sorted = serde_json::to_vec(&json!({
        "resourceType": "Bundle", "id": format!("bench-{kind}"), "type": kind,
        "timestamp": "2026-03-14T10:30:00.000-05:00", "total": entry.len(), "entry": entry
    }))
    .unwrap();
    fhir_order(&sorted)
}

/// The same JSON with every object's properties in FHIR order, `resourceType` first, as
/// FHIR servers and SIHCEs write it. (`serde_json::Value` sorts keys alphabetically,
/// which puts `resourceType` in the middle and sends the reader down its slower path for
/// that case; `sorted-keys` below measures that path on its own.)
fn fhir_order(bytes: &[u8]) -> Vec<u8> {
    Resource::from_json(bytes).unwrap().to_json()
}

fn workloads() -> Vec<(&'static str, Vec<u8>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../profiles/r4");
    vec![
        (
            "searchset-200-document-references",
            bundle("searchset", (0..200).map(document_reference).collect()),
        ),
        (
            "transaction-push-20",
            bundle("transaction", (0..20).map(document_reference).collect()),
        ),
        (
            "transaction-push-20-sorted-keys",
            serde_json::to_vec(
                &serde_json::from_slice::<Value>(&bundle(
                    "transaction",
                    (0..20).map(document_reference).collect(),
                ))
                .unwrap(),
            )
            .unwrap(),
        ),
        (
            "searchset-500-observations",
            bundle("searchset", (0..500).map(observation).collect()),
        ),
        (
            "document-bundle-corpus",
            std::fs::read(
                root.join("../../crates/model/tests/corpus/Bundle-document-resumen-clinico.json"),
            )
            .unwrap(),
        ),
        (
            "r4-definitions-profiles-types",
            std::fs::read(root.join("profiles-types.json")).unwrap(),
        ),
        (
            "r4-definitions-search-parameters",
            std::fs::read(root.join("search-parameters.json")).unwrap(),
        ),
    ]
}

fn parse_and_write(c: &mut Criterion) {
    for (name, bytes) in workloads() {
        // Sanity: the typed model accepts the workload and writes equal JSON.
        let typed = Resource::from_json(&bytes).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&typed.to_json()).unwrap(),
            serde_json::from_slice::<Value>(&bytes).unwrap()
        );
        let value: Value = serde_json::from_slice(&bytes).unwrap();

        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("parse/typed", |b| {
            b.iter(|| Resource::from_json(black_box(&bytes)).unwrap());
        });
        group.bench_function("parse/serde_json::Value", |b| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(&bytes)).unwrap());
        });
        group.bench_function("write/typed", |b| b.iter(|| black_box(&typed).to_json()));
        group.bench_function("write/serde_json::Value", |b| {
            b.iter(|| serde_json::to_vec(black_box(&value)).unwrap());
        });
        // What a signature check costs on top of parsing: the canonical form.
        group.bench_function("write/canonical", |b| {
            b.iter(|| {
                black_box(&typed)
                    .to_canonical_json(Canonicalization::Json)
                    .unwrap()
            });
        });
        group.finish();

        // The same document in FHIR XML, through the same model, in the same run.
        let xml = typed.to_xml().unwrap();
        assert!(Resource::from_xml(&xml).unwrap() == typed);
        let mut group = c.benchmark_group(format!("{name}/xml"));
        group.throughput(Throughput::Bytes(xml.len() as u64));
        group.bench_function("parse/typed", |b| {
            b.iter(|| Resource::from_xml(black_box(&xml)).unwrap());
        });
        group.bench_function("write/typed", |b| {
            b.iter(|| black_box(&typed).to_xml().unwrap());
        });
        group.finish();
    }
}

criterion_group!(benches, parse_and_write);
criterion_main!(benches);
