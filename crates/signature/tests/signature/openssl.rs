//! Interoperability with OpenSSL, both ways, and the same certificate verdicts as
//! `openssl verify -attime` on every case of the test PKI. OpenSSL must be installed: these
//! tests fail, never skip, without it.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use renhice_model::Primitive;
use renhice_model::canonical::Canonicalization;
use renhice_model::resources::Resource;
use renhice_model::types::Reference;
use renhice_signature::sign::SignatureFormat;
use renhice_signature::{Check, Context, Indication, Status, Target};
use renhice_testing::pki::{CASES, TestPki};
use time::{Duration, OffsetDateTime};

use crate::fixture::{self, SIGNED_AT, document, pki, signed_act, verifier, verify_one};

fn openssl(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| panic!("openssl must be installed for these tests: {error}"))
}

fn crl_pem(der: &[u8]) -> String {
    pem::encode(&pem::Pem::new("X509 CRL", der.to_vec()))
}

/// A certificate chain judged by `openssl verify -attime` gets the same verdict from us,
/// on every case of the test PKI.
#[test]
fn chain_verdicts_agree_with_openssl_verify() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("root.pem"), &pki.root.pem).unwrap();
    let crls: String = pki.crls.values().map(|der| crl_pem(der)).collect();
    std::fs::write(dir.path().join("crls.pem"), crls).unwrap();
    let verifier = verifier();
    let at = SIGNED_AT.unix_timestamp().to_string();
    for (case, acceptable) in CASES {
        let signer = pki.signer(case);
        std::fs::write(dir.path().join("leaf.pem"), &signer.cert.pem).unwrap();
        // The chain minus the leaf, plus the trusted intermediate as a known certificate.
        let untrusted: String =
            signer.chain_pem.replacen(&signer.cert.pem, "", 1) + &pki.intermediate.pem;
        std::fs::write(dir.path().join("untrusted.pem"), untrusted).unwrap();
        let output = openssl(
            &[
                "verify",
                "-attime",
                &at,
                "-CAfile",
                "root.pem",
                "-untrusted",
                "untrusted.pem",
                "-purpose",
                "smimesign",
                "-crl_check_all",
                "-CRLfile",
                "crls.pem",
                "leaf.pem",
            ],
            dir.path(),
        );
        let openssl_ok = output.status.success();
        let report = verify_one(&verifier, &signed_act(case, SignatureFormat::Jose, None));
        let ours_ok = [
            Check::CertificatePath,
            Check::CertificateValidity,
            Check::KeyUsage,
            Check::Revocation,
        ]
        .iter()
        .all(|check| report.status(*check) == Status::Passed);
        assert_eq!(
            openssl_ok,
            ours_ok,
            "{case}: openssl says {}{}\nours:\n{report}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            ours_ok, acceptable,
            "{case}: the test PKI's expectation\n{report}"
        );
    }
}

/// A PKI valid now, for OpenSSL's `cms -sign`, which stamps the signing time from the clock.
fn pki_now() -> (TestPki, OffsetDateTime) {
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    (TestPki::generate(now), now)
}

#[test]
fn a_cms_signature_made_by_openssl_verifies_here() {
    let (pki, now) = pki_now();
    let dir = tempfile::tempdir().unwrap();
    pki.write_to(dir.path()).unwrap();
    let document = document("doc-1", "firmado con OpenSSL");
    let content = document
        .to_canonical_json(Canonicalization::Static)
        .unwrap();
    std::fs::write(dir.path().join("content.json"), &content).unwrap();
    let verifier = verifier_for(&pki);
    let verify = |case: &str, extra: &[&str]| {
        let mut args = vec![
            "cms",
            "-sign",
            "-binary",
            "-in",
            "content.json",
            "-md",
            "sha256",
            "-outform",
            "DER",
            "-out",
            "signature.der",
            "-certfile",
            "trust/intermediate.pem",
        ];
        let signer = format!("signers/{case}.pem");
        let key = format!("signers/{case}.key.pem");
        args.extend(["-signer", &signer, "-inkey", &key]);
        args.extend(extra);
        let output = openssl(&args, dir.path());
        assert!(
            output.status.success(),
            "openssl cms -sign: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let der = std::fs::read(dir.path().join("signature.der")).unwrap();
        let signature = renhice_model::types::Signature {
            when: Some(Primitive::new(
                renhice_model::values::Instant::parse(renhice_signature::datetime::rfc3339(now))
                    .unwrap(),
            )),
            who: Some(Box::new(Reference::to("Practitioner", "med-1"))),
            target_format: Some(Primitive::new(format!(
                "application/fhir+json;canonicalization={}",
                Canonicalization::Static.uri()
            ))),
            sig_format: Some(Primitive::new("application/pkcs7-signature".into())),
            data: Some(Primitive::new(STANDARD.encode(der))),
            ..Default::default()
        };
        let practitioner = fixture::practitioner(&pki.signer(case).dni);
        let mut parties = Context::default();
        parties.add(None, &practitioner);
        verifier.verify_signature(
            &signature,
            "Provenance.signature[0]",
            &[Target {
                reference: "DocumentReference/doc-1",
                resource: &document,
            }],
            Canonicalization::Json,
            &parties,
            now + Duration::minutes(1),
        )
    };
    let pss = [
        "-keyopt",
        "rsa_padding_mode:pss",
        "-keyopt",
        "rsa_pss_saltlen:digest",
    ];
    for (case, extra, algorithm) in [
        ("good", &[][..], "ES256"),
        ("good-rsa", &[][..], "RS256"),
        ("good-rsa", &pss[..], "PS256"),
    ] {
        let report = verify(case, extra);
        assert_eq!(
            report.indication(),
            Indication::Passed,
            "{case} {extra:?}\n{report}"
        );
        assert_eq!(report.algorithm.as_deref(), Some(algorithm));
    }
    // OpenSSL's default PSS salt (as long as the key allows) is refused, saying why.
    let report = verify("good-rsa", &["-keyopt", "rsa_padding_mode:pss"]);
    assert_eq!(report.status(Check::Format), Status::Failed, "{report}");
    assert!(
        matches!(
            &report.check(Check::Format).unwrap().error,
            Some(renhice_signature::SignatureError::Format(
                renhice_signature::FormatError::Cms(renhice_signature::CmsError::Algorithm(
                    renhice_signature::CryptoError::UnsupportedPssSalt { expected: 32, .. }
                ))
            ))
        ),
        "{report}"
    );
}

fn verifier_for(pki: &TestPki) -> renhice_signature::Verifier {
    let mut trust = renhice_signature::TrustStore::new();
    for pem in [&pki.root.pem, &pki.intermediate.pem] {
        for cert in renhice_signature::Certificate::all_from_pem(pem.as_bytes()).unwrap() {
            trust.add(cert);
        }
    }
    let mut revocation = renhice_signature::RevocationStore::new();
    for der in pki.crls.values() {
        revocation.add(renhice_signature::Crl::from_der(der).unwrap());
    }
    renhice_signature::Verifier::new(trust, revocation)
}

#[test]
fn a_cms_signature_made_here_verifies_with_openssl() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    pki.write_to(dir.path()).unwrap();
    for case in ["good", "good-p384", "good-rsa"] {
        let act = signed_act(case, SignatureFormat::Cms, None);
        let provenance = fixture::provenance_mut(&mut act.clone()).clone();
        let signature = &provenance.signature[0];
        let der = STANDARD
            .decode(signature.data.as_ref().unwrap().value.as_ref().unwrap())
            .unwrap();
        std::fs::write(dir.path().join("signature.der"), der).unwrap();
        let document = act.entry[0].resource.as_ref().unwrap();
        assert!(matches!(document, Resource::DocumentReference(_)));
        let content = document
            .to_canonical_json(Canonicalization::Static)
            .unwrap();
        std::fs::write(dir.path().join("content.json"), &content).unwrap();
        let at = SIGNED_AT.unix_timestamp().to_string();
        let cms_verify = || {
            openssl(
                &[
                    "cms",
                    "-verify",
                    "-binary",
                    "-inform",
                    "DER",
                    "-in",
                    "signature.der",
                    "-content",
                    "content.json",
                    "-CAfile",
                    "trust/root.pem",
                    "-attime",
                    &at,
                    "-purpose",
                    "smimesign",
                    "-out",
                    "/dev/null",
                ],
                dir.path(),
            )
        };
        let output = cms_verify();
        assert!(
            output.status.success(),
            "{case}: openssl cms -verify: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        // And OpenSSL refuses the same signature over changed content.
        std::fs::write(
            dir.path().join("content.json"),
            [&content[..], b" "].concat(),
        )
        .unwrap();
        assert!(
            !cms_verify().status.success(),
            "{case}: OpenSSL accepted changed content"
        );
    }
}
