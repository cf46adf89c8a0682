//! Validation throughput on a realistic corpus: HL7's official R4 examples of the
//! resources the registry deals with (`profiles/r4/validation/examples`: 213 files,
//! patients, observations, bundles…). The profile pass (structure, bindings and the
//! FHIRPath invariants, against R4 core) on JSON already parsed (`parsed`, in bytes per
//! second; `resources`, in resources per second) and from bytes (`from-bytes`: JSON
//! parsing included, as `renhice validate` and `$validate` do).
//!
//! `cargo bench -p renhice-validator --bench validate` (results in docs/benchmarks.md).

#![allow(missing_docs, reason = "benchmark")]
#![allow(clippy::unwrap_used, reason = "benchmark set-up")]

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use renhice_validator::Validator;
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
    group.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);
