//! Validation throughput on a realistic corpus: HL7's official R4 examples of the
//! resources the registry deals with (`profiles/r4/validation/examples`: 213 files,
//! patients, observations, bundles…). The profile pass (structure, bindings and the
//! FHIRPath invariants, against R4 core) on JSON already parsed (`parsed`, in bytes per
//! second; `resources`, in resources per second) and from bytes (`from-bytes`: JSON
//! parsing included, as `renhice validate` and `$validate` do). The JSON-schema pass
//! (HL7's JSON Schema of R4 with the `jsonschema` crate) on the same corpus, measured
//! apart. Then the Peruvian and registry profiles on their examples, and one push (a
//! SubmissionSet and ten index entries) against the registry's push profile, as every
//! push is checked.
//!
//! `cargo bench -p renhice-validator --bench validate` (results in docs/benchmarks.md).

#![allow(missing_docs, reason = "benchmark")]
#![allow(clippy::unwrap_used, reason = "benchmark set-up")]

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use renhice_validator::{SchemaPass, Validator};
use serde_json::Value;

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../profiles/r4/validation/examples");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| std::fs::read(path).unwrap())
        .collect()
}

fn validate(c: &mut Criterion) {
    let files = corpus();
    let bytes: u64 = files.iter().map(|file| file.len() as u64).sum();
    let parsed: Vec<Value> = files
        .iter()
        .map(|file| serde_json::from_slice(file).unwrap())
        .collect();
    let validator = Validator::r4();
    // Definitions are parsed once per process; not part of what is measured. One
    // example has a defect of HL7's (tests/validator/examples.rs, KNOWN_DEFECTS).
    let with_errors = parsed
        .iter()
        .filter(|value| {
            validator.validate(value).iter().any(|issue| {
                matches!(
                    issue.severity,
                    renhice_model::IssueSeverity::Error | renhice_model::IssueSeverity::Fatal
                )
            })
        })
        .count();
    assert_eq!(with_errors, 1);

    let mut group = c.benchmark_group("validate");
    group.sample_size(20);
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("profile-pass/parsed", |b| {
        b.iter(|| {
            for value in &parsed {
                black_box(validator.validate(black_box(value)));
            }
        });
    });
    group.bench_function("profile-pass/from-bytes", |b| {
        b.iter(|| {
            for file in &files {
                black_box(validator.validate_json(black_box(file)));
            }
        });
    });
    group.throughput(Throughput::Elements(files.len() as u64));
    group.bench_function("profile-pass/resources", |b| {
        b.iter(|| {
            for value in &parsed {
                black_box(validator.validate(black_box(value)));
            }
        });
    });
    group.finish();

    let schema = SchemaPass::r4();
    let mut group = c.benchmark_group("validate");
    group.sample_size(20);
    assert!(parsed.iter().all(|value| schema.is_valid(value)));
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("schema-pass/parsed", |b| {
        b.iter(|| {
            for value in &parsed {
                black_box(schema.check(black_box(value)));
            }
        });
    });
    group.throughput(Throughput::Elements(files.len() as u64));
    group.bench_function("schema-pass/resources", |b| {
        b.iter(|| {
            for value in &parsed {
                black_box(schema.check(black_box(value)));
            }
        });
    });
    group.finish();

    profiles(c);

    let mut group = c.benchmark_group("definitions");
    group.sample_size(10);
    group.bench_function("load-r4", |b| {
        b.iter(|| {
            let mut definitions = renhice_validator::Definitions::default();
            definitions
                .add_structure_definitions(include_str!(
                    "../../../profiles/r4/validation/definitions.json"
                ))
                .unwrap();
            black_box(definitions)
        });
    });
    group.bench_function("load-renhice-profiles", |b| {
        b.iter(|| {
            let mut definitions = renhice_validator::Definitions::r4().clone();
            let resources: Vec<Value> = renhice_validator::Definitions::bundled_files()
                .iter()
                .map(|file| {
                    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("../../profiles")
                        .join(file);
                    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
                })
                .collect();
            definitions.add_conformance_resources(&resources).unwrap();
            black_box(definitions)
        });
    });
    group.finish();
}

/// The profiles of `profiles/` on their examples, and a push against the push profile.
fn profiles(c: &mut Criterion) {
    let validator = Validator::renhice();
    let mut examples = Vec::new();
    for directory in ["pe", "renhice"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../profiles")
            .join(directory)
            .join("examples");
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        paths.sort();
        for path in paths {
            let value: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
            assert!(validator.validate(&value).is_empty());
            examples.push(value);
        }
    }
    let push = push_of_ten();
    let profile = ["http://renhice.org/fhir/StructureDefinition/renhice-provide-bundle".to_owned()];
    // Warnings only (no narrative: dom-6), as pushes come.
    assert!(
        validator
            .validate_against(&push, &profile)
            .iter()
            .all(|issue| {
                !matches!(
                    issue.severity,
                    renhice_model::IssueSeverity::Error | renhice_model::IssueSeverity::Fatal
                )
            })
    );
    let push_bytes = serde_json::to_vec(&push).unwrap();

    let mut group = c.benchmark_group("profiles");
    group.sample_size(20);
    group.throughput(Throughput::Elements(examples.len() as u64));
    group.bench_function("examples/resources", |b| {
        b.iter(|| {
            for value in &examples {
                black_box(validator.validate(black_box(value)));
            }
        });
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("push-of-ten/from-bytes", |b| {
        b.iter(|| black_box(validator.validate_json_against(black_box(&push_bytes), &profile)));
    });
    group.finish();
}

/// A push as a SIHCE sends it: a SubmissionSet and ten index entries.
fn push_of_ten() -> Value {
    let mut entry = vec![serde_json::json!({
        "fullUrl": "urn:uuid:7a0e51f2-3b6c-4d7e-9f81-0a2b3c4d5e00",
        "resource": {
            "resourceType": "List",
            "identifier": [{"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.604.5938.7"}],
            "status": "current", "mode": "working",
            "subject": {"reference": "Patient/p1"}
        },
        "request": {"method": "POST", "url": "List"}
    })];
    for d in 1..=10 {
        entry.push(serde_json::json!({
            "fullUrl": format!("urn:uuid:7a0e51f2-3b6c-4d7e-9f81-0a2b3c4d5e{d:02}"),
            "resource": {
                "resourceType": "DocumentReference",
                "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:oid:1.2.604.5938.7.{d}")},
                "status": "current",
                "type": {"coding": [{"system": "http://loinc.org", "code": "34133-9", "display": "Summary of episode note"}]},
                "category": [{"coding": [{"system": "http://loinc.org", "code": "LP173421-1", "display": "Report"}]}],
                "subject": {"reference": "Patient/p1"},
                "date": "2026-03-14T10:20:00-05:00",
                "custodian": {"reference": "Organization/o1"},
                "content": [{"attachment": {"contentType": "application/pdf", "url": format!("https://sihce.example/docs/{d}")}}]
            },
            "request": {"method": "POST", "url": "DocumentReference"}
        }));
    }
    serde_json::json!({"resourceType": "Bundle", "type": "transaction", "entry": entry})
}

criterion_group!(benches, validate);
criterion_main!(benches);
