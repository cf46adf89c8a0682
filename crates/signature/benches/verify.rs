//! What verifying a signed clinical act costs: a Provenance signature over one
//! DocumentReference, three-certificate path, CRLs for both CAs, next to the raw
//! signature operations the verification needs (`ring`, and `openssl speed` in
//! docs/benchmarks.md).
//!
//! - `warm`: a registry's steady state. The verifier has already checked this
//!   signer's certificate and the CRLs once, so a verification needs one signature
//!   operation (the act's).
//! - `cold`: a verifier that has seen nothing: five signature operations (the act's,
//!   the signer's and the intermediate's certificates, the two CRLs).
//!
//! - `B-T`: the ES256 act with a signature time-stamp (`openssl ts -reply` as the
//!   authority): the time-stamp token's own signature and its authority's path on top.
//!
//! - `PAdES`: a 1 MB PDF signed by pyHanko (`tests/judges/pades.py`) with a signature
//!   time-stamp, next to the raw operations it needs: SHA-256 over the 1 MB the
//!   `/ByteRange` covers and the two ECDSA verifications (the signer's and the
//!   time-stamp's). `B-LT`: the same signed with `--ltv` (the CRLs, fetched by pyHanko over
//!   loopback, in the document security store), verified by a verifier with no CRLs of
//!   its own: every status comes from what the file carries.
//!
//! `cargo bench -p renhice-signature --bench verify` (results in docs/benchmarks.md).

#![allow(missing_docs, reason = "benchmark")]
#![allow(clippy::unwrap_used, reason = "benchmark set-up")]

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use renhice_model::canonical::Canonicalization;
use renhice_model::resources::{Bundle, BundleEntry, Provenance, Resource};
use renhice_model::types::Reference;
use renhice_signature::sign::{self, SignOptions, SignatureFormat, SigningKey};
use renhice_signature::{
    Certificate, Crl, Indication, RevocationStore, Target, TrustStore, Verifier,
};
use renhice_testing::pki::TestPki;
use serde_json::json;
use time::{Duration, OffsetDateTime};

/// A public key, a message and a signature of it.
type Raw = (
    ring::signature::UnparsedPublicKey<Vec<u8>>,
    Vec<u8>,
    Vec<u8>,
);

struct Case {
    name: &'static str,
    act: Resource,
    anchors: Vec<Certificate>,
    crls: Vec<Crl>,
    /// The act's signature, its signing input and the signer's key, for the raw cost.
    raw: (
        ring::signature::UnparsedPublicKey<Vec<u8>>,
        Vec<u8>,
        Vec<u8>,
    ),
    /// Trusted time-stamp authorities.
    authorities: Vec<Certificate>,
}

fn case(name: &'static str, pki: &TestPki, signer: &str) -> Case {
    let at = pki.at;
    let signer = pki.signer(signer);
    let key =
        SigningKey::from_pem(signer.cert.key.pem.as_bytes(), signer.chain_pem.as_bytes()).unwrap();
    let document = Resource::from_json(
        json!({
            "resourceType": "DocumentReference",
            "status": "current",
            "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.604.1.1"},
            "type": {"coding": [{"system": "http://loinc.org", "code": "34133-9"}]},
            "subject": {"reference": "Patient/p1"},
            "date": "2026-03-14T10:20:00-05:00",
            "custodian": {"reference": "Organization/o1"},
            "content": [{"attachment": {"contentType": "application/pdf", "url": "https://sihce.example/docs/1"}}]
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let url = "urn:uuid:6a1f6c2e-3f5b-4d7c-9a10-2b1c0d9e8f71";
    let who = Reference::by_identifier(
        renhice_model::peru::PersonId::dni(&signer.dni)
            .unwrap()
            .to_identifier(),
    );
    let mut provenance = Provenance {
        target: vec![Reference::url(url)],
        ..Provenance::default()
    };
    let options = SignOptions {
        format: SignatureFormat::Jose,
        algorithm: None,
        signing_time: at,
        who,
        commitment: None,
        canonicalization: None,
    };
    sign::sign_provenance(
        &mut provenance,
        &[Target {
            reference: url,
            resource: &document,
        }],
        &key,
        &options,
    )
    .unwrap();
    let bundle = Bundle {
        r#type: Some(renhice_model::Primitive::new("transaction".to_owned())),
        entry: vec![
            BundleEntry {
                full_url: Some(renhice_model::Primitive::new(url.to_owned())),
                resource: Some(document),
                ..BundleEntry::default()
            },
            BundleEntry {
                resource: Some(Resource::Provenance(Box::new(provenance))),
                ..BundleEntry::default()
            },
        ],
        ..Bundle::default()
    };
    let mut anchors = Certificate::all_from_pem(pki.root.pem.as_bytes()).unwrap();
    anchors.extend(Certificate::all_from_pem(pki.intermediate.pem.as_bytes()).unwrap());
    let crls = ["root.crl", "intermediate.crl"]
        .iter()
        .map(|name| Crl::from_der(&pki.crls[name]).unwrap())
        .collect();

    let raw = raw_operation(&bundle, signer);
    Case {
        name,
        act: Resource::Bundle(Box::new(bundle)),
        anchors,
        crls,
        raw,
        authorities: Vec::new(),
    }
}

/// The raw operation: the signer's key verifying the act's own signature over the act's
/// own JWS signing input (header, ".", payload), exactly what the full verification has
/// `ring` do for the act.
fn raw_operation(bundle: &Bundle, signer: &renhice_testing::pki::Signer) -> Raw {
    let data = match &bundle.entry[1].resource {
        Some(Resource::Provenance(provenance)) => {
            provenance.signature[0].data.clone().unwrap().value.unwrap()
        }
        _ => unreachable!(),
    };
    let compact = String::from_utf8(STANDARD.decode(data).unwrap()).unwrap();
    let (header, signature) = compact.split_once("..").unwrap();
    let content = bundle.entry[0]
        .resource
        .as_ref()
        .unwrap()
        .to_canonical_json(Canonicalization::Static)
        .unwrap();
    let message = format!("{header}.{}", URL_SAFE_NO_PAD.encode(content)).into_bytes();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let cert = Certificate::all_from_pem(signer.cert.pem.as_bytes())
        .unwrap()
        .remove(0);
    let (algorithm, key_bytes): (&'static dyn ring::signature::VerificationAlgorithm, Vec<u8>) =
        match cert.public_key().unwrap() {
            renhice_signature::PublicKey::Ec { point, .. } => {
                (&ring::signature::ECDSA_P256_SHA256_FIXED, point.clone())
            }
            renhice_signature::PublicKey::Rsa { pkcs1 } => {
                (&ring::signature::RSA_PKCS1_2048_8192_SHA256, pkcs1.clone())
            }
        };
    (
        ring::signature::UnparsedPublicKey::new(algorithm, key_bytes),
        message,
        signature,
    )
}

/// `openssl ts -reply` over the PKI written to a directory.
struct OpensslTsa<'a>(&'a std::path::Path);

impl renhice_signature::TimeStampAuthority for OpensslTsa<'_> {
    fn request(&self, request: &[u8]) -> Result<Vec<u8>, String> {
        Ok(renhice_testing::pki::openssl_tsa_reply(
            self.0, request, "tsa",
        ))
    }
}

/// `case` with a signature time-stamp, its authority trusted.
fn time_stamped(case: &Case, pki: &TestPki, dir: &std::path::Path) -> Case {
    let Resource::Bundle(mut bundle) = case.act.clone() else {
        unreachable!()
    };
    let Some(Resource::Provenance(provenance)) = &mut bundle.entry[1].resource else {
        unreachable!()
    };
    sign::add_timestamp(&mut provenance.signature[0], &OpensslTsa(dir)).unwrap();
    let mut authorities = Certificate::all_from_pem(pki.tsa.pem.as_bytes()).unwrap();
    Case {
        name: "ES256-B-T",
        act: Resource::Bundle(bundle),
        anchors: case.anchors.clone(),
        crls: case.crls.clone(),
        raw: case.raw.clone(),
        authorities: std::mem::take(&mut authorities),
    }
}

fn verifier(case: &Case) -> Verifier {
    let mut trust = TrustStore::new();
    for cert in &case.anchors {
        trust.add(cert.clone());
    }
    for cert in &case.authorities {
        trust.add_timestamp_authority(cert.clone());
    }
    let mut revocation = RevocationStore::new();
    for crl in &case.crls {
        revocation.add(crl.clone());
    }
    Verifier::new(trust, revocation)
}

fn verify(c: &mut Criterion) {
    let at = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let ecdsa = TestPki::generate(at);
    let rsa = TestPki::generate_rsa(at);
    let dir = tempfile::tempdir().unwrap();
    ecdsa.write_to(dir.path()).unwrap();
    let es256 = case("ES256", &ecdsa, "good");
    let stamped = time_stamped(&es256, &ecdsa, dir.path());
    let cases = [es256, case("RS256", &rsa, "good-rsa"), stamped];
    let when = at + Duration::minutes(1);
    let mut group = c.benchmark_group("signature");
    for case in &cases {
        let warm = verifier(case);
        let reports = warm.verify_resource(&case.act, &[], when);
        assert_eq!(
            reports[0].indication(),
            Indication::Passed,
            "{}",
            reports[0]
        );
        group.bench_function(format!("{}/full-warm", case.name), |b| {
            b.iter(|| black_box(warm.verify_resource(black_box(&case.act), &[], when)));
        });
        group.bench_function(format!("{}/full-cold", case.name), |b| {
            b.iter_batched(
                || verifier(case),
                |cold| black_box(cold.verify_resource(black_box(&case.act), &[], when)),
                BatchSize::SmallInput,
            );
        });
        let (key, message, signature) = &case.raw;
        group.bench_function(format!("{}/raw-verify", case.name), |b| {
            b.iter(|| {
                key.verify(black_box(message), black_box(signature))
                    .unwrap();
            });
        });
    }
    pades(&mut group, &ecdsa, dir.path(), &cases[0], when);
    group.finish();
}

/// A 1 MB PDF signed with a signature time-stamp, verified warm, and the raw operations.
fn pades(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    pki: &TestPki,
    dir: &std::path::Path,
    es256: &Case,
    when: OffsetDateTime,
) {
    // Made when a PAdES benchmark is selected, once: pyHanko signing a 1 MB file costs
    // seconds, which the other benchmarks (each its own process under a test runner)
    // should not pay.
    let prepared: std::cell::OnceCell<(Verifier, Vec<u8>)> = std::cell::OnceCell::new();
    let prepare = || {
        let tsa = renhice_testing::pki::serve_openssl_tsa(dir, "tsa");
        let run = |args: &[&str]| {
            let _ = renhice_testing::pyhanko(
                std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
                dir,
                args,
            );
        };
        run(&["blank", "bench.pdf", "--size", "1048576"]);
        sign_pdf(dir, "bench-signed.pdf", &tsa, &[]);
        let pdf = std::fs::read(dir.join("bench-signed.pdf")).unwrap();
        let case = Case {
            name: "PAdES-B-T-1MB",
            act: es256.act.clone(),
            anchors: es256.anchors.clone(),
            crls: es256.crls.clone(),
            raw: es256.raw.clone(),
            authorities: Certificate::all_from_pem(pki.tsa.pem.as_bytes()).unwrap(),
        };
        let warm = verifier(&case);
        assert_passes(&warm, &pdf, when, "B-T");
        (warm, pdf)
    };
    group.bench_function("PAdES-B-T-1MB/full-warm", |b| {
        let (warm, pdf) = prepared.get_or_init(prepare);
        b.iter(|| black_box(warm.verify_pdf(black_box(pdf), when).unwrap()));
    });
    let long_term: std::cell::OnceCell<(Verifier, Vec<u8>)> = std::cell::OnceCell::new();
    group.bench_function("PAdES-B-LT-1MB/full-warm", |b| {
        let (warm, pdf) = long_term.get_or_init(|| pades_b_lt(when));
        b.iter(|| black_box(warm.verify_pdf(black_box(pdf), when).unwrap()));
    });
    // The raw operations: the digest of what the signature covers (all the file but
    // the signature value) and two ECDSA verifications.
    let (key, message, signature) = &es256.raw;
    group.bench_function("PAdES-B-T-1MB/raw-ops", |b| {
        let (_, pdf) = prepared.get_or_init(prepare);
        b.iter(|| {
            black_box(ring::digest::digest(&ring::digest::SHA256, black_box(pdf)));
            key.verify(black_box(message), black_box(signature))
                .unwrap();
            key.verify(black_box(message), black_box(signature))
                .unwrap();
        });
    });
}

/// A 1 MB PDF signed B-LT by pyHanko under a PKI whose CRLs it fetches over loopback, and
/// a verifier that trusts the PKI's root and time-stamp authority but holds no CRL.
fn pades_b_lt(when: OffsetDateTime) -> (Verifier, Vec<u8>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let pki = TestPki::generate_with_crls_at(when - Duration::minutes(1), &base);
    let dir = tempfile::tempdir().unwrap();
    pki.write_to(dir.path()).unwrap();
    let _ = renhice_testing::pki::serve_files(listener, dir.path().join("crl"));
    let tsa = renhice_testing::pki::serve_openssl_tsa(dir.path(), "tsa");
    let _ = renhice_testing::pyhanko(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
        dir.path(),
        &["blank", "bench.pdf", "--size", "1048576"],
    );
    sign_pdf(
        dir.path(),
        "bench-lt.pdf",
        &tsa,
        &["--ltv", "--trust", "trust/root.pem"],
    );
    let pdf = std::fs::read(dir.path().join("bench-lt.pdf")).unwrap();
    let mut trust = renhice_signature::TrustStore::new();
    for cert in Certificate::all_from_pem(pki.root.pem.as_bytes()).unwrap() {
        trust.add(cert);
    }
    for cert in Certificate::all_from_pem(pki.tsa.pem.as_bytes()).unwrap() {
        trust.add_timestamp_authority(cert);
    }
    let warm = Verifier::new(trust, renhice_signature::RevocationStore::new());
    assert_passes(&warm, &pdf, when, "B-LT");
    (warm, pdf)
}

/// pyHanko signs the 1 MB `bench.pdf` of `dir` into `output` as the PKI's `good` signer,
/// time-stamped by `tsa`, with `extra` options.
fn sign_pdf(dir: &std::path::Path, output: &str, tsa: &str, extra: &[&str]) {
    let mut args = vec![
        "sign",
        "bench.pdf",
        output,
        "--key",
        "signers/good.key.pem",
        "--cert",
        "signers/good.pem",
        "--chain",
        "trust/intermediate.pem",
        "--field",
        "Firma1",
        "--tsa",
        tsa,
    ];
    args.extend_from_slice(extra);
    let _ = renhice_testing::pyhanko(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
        dir,
        &args,
    );
}

/// What is measured must be a verification that passes, at the level meant.
fn assert_passes(verifier: &Verifier, pdf: &[u8], when: OffsetDateTime, level: &str) {
    let reports = verifier.verify_pdf(pdf, when).unwrap();
    assert_eq!(
        reports[0].indication(),
        Indication::Passed,
        "{}",
        reports[0]
    );
    assert_eq!(reports[0].level(), level, "{}", reports[0]);
}

criterion_group!(benches, verify);
criterion_main!(benches);
