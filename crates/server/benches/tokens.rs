//! What checking a bearer token costs: a token seen for the first time (an ES256
//! signature check) against one the authority remembers, and signing one.
//!
//! `cargo bench -p renhice-server --bench tokens` (results in docs/benchmarks.md).

#![allow(missing_docs, reason = "benchmark")]
#![allow(clippy::unwrap_used, reason = "benchmark set-up")]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use renhice_server::auth::{Grant, KeyRing, Purpose, Role};
use renhice_server::{AuthConfig, Authority};

fn clinician(n: usize) -> Grant {
    Grant {
        subject: format!("sihce-{n}"),
        role: Role::Clinician,
        organization: Some("00012345".to_owned()),
        practitioner: Some("01|012345".to_owned()),
        name: Some("Dra. Rosa Quispe".to_owned()),
        person: None,
        purpose: Purpose::Treat,
        emergency_reason: None,
        sign_in: None,
        system_scope: None,
    }
}

fn tokens(c: &mut Criterion) {
    let authority = Authority::new(AuthConfig::default(), KeyRing::ephemeral().unwrap());
    let mut group = c.benchmark_group("token");
    group.bench_function("issue", |b| {
        b.iter(|| authority.issue(black_box(&clinician(1)), None).unwrap());
    });
    // The check a token gets the first time it is seen: signature, claims, grant.
    let token = authority.issue(&clinician(0), None).unwrap();
    let config = &authority.config;
    group.bench_function("verify, first sight", |b| {
        b.iter(|| {
            renhice_server::auth::token::verify(
                &authority.keys,
                black_box(&token),
                (&config.issuer, &config.audience),
                (config.leeway_secs, config.max_token_lifetime_secs),
                jsonwebtoken::get_current_timestamp(),
            )
            .unwrap()
        });
    });
    let seen = authority.issue(&clinician(0), None).unwrap();
    authority.verify(&seen).unwrap();
    group.bench_function("verify, remembered", |b| {
        b.iter(|| authority.verify(black_box(&seen)).unwrap());
    });
    group.finish();
}

criterion_group!(benches, tokens);
criterion_main!(benches);
