//! `renhice sign` and `renhice verify` on files, with a test PKI written to disk.

use std::path::Path;

use renhice_testing::pki::{OcspStatus, TestPki, openssl_ocsp_response};
use serde_json::{Value, json};
use time::macros::datetime;

use crate::command;

const SIGNED_AT: &str = "2026-06-15T15:00:00Z";
const VERIFY_AT: &str = "2026-06-16T15:00:00Z";

/// An ITI-65-style transaction: a DocumentReference and a SubmissionSet List.
fn transaction() -> Value {
    json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:6a1f6c2e-3f5b-4d7c-9a10-2b1c0d9e8f71",
                "resource": {
                    "resourceType": "DocumentReference",
                    "status": "current",
                    "subject": {"identifier": {"value": "45678912"}},
                    "content": [{"attachment": {"contentType": "application/pdf", "url": "https://sihce.test/Binary/1"}}]
                },
                "request": {"method": "POST", "url": "DocumentReference"}
            },
            {
                "fullUrl": "urn:uuid:0b7e3c55-8f0e-4a8e-b4b5-0f3f4a3a9d12",
                "resource": {
                    "resourceType": "List",
                    "status": "current",
                    "mode": "working",
                    "entry": [{"item": {"reference": "urn:uuid:6a1f6c2e-3f5b-4d7c-9a10-2b1c0d9e8f71"}}]
                },
                "request": {"method": "POST", "url": "List"}
            }
        ]
    })
}

fn verify(dir: &Path, file: &str, extra: &[&str]) -> (i32, String) {
    let mut cmd = command(dir);
    cmd.args(["verify", file, "--trust", "pki/trust", "--at", VERIFY_AT]);
    cmd.args(extra);
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn crls() -> Vec<&'static str> {
    vec![
        "--crl",
        "pki/crl/root.crl",
        "--crl",
        "pki/crl/intermediate.crl",
    ]
}

#[test]
fn a_signed_push_verifies_and_every_outcome_has_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(datetime!(2026-06-15 15:00:00 UTC));
    pki.write_to(&dir.path().join("pki")).unwrap();
    std::fs::write(dir.path().join("push.json"), transaction().to_string()).unwrap();

    for (case, format, out) in [
        ("good", "jose", "signed.json"),
        ("good-rsa", "cms", "signed-cms.json"),
        ("revoked", "jose", "revoked.json"),
    ] {
        let status = command(dir.path())
            .args([
                "sign",
                "push.json",
                "--key",
                &format!("pki/signers/{case}.key.pem"),
                "--chain",
                &format!("pki/signers/{case}.chain.pem"),
                "--format",
                format,
                "--at",
                SIGNED_AT,
                "--out",
                out,
            ])
            .status()
            .unwrap();
        assert!(status.success(), "{case} {format}");
    }
    let signed: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("signed.json")).unwrap()).unwrap();
    let provenance = &signed["entry"][2];
    assert_eq!(provenance["request"]["url"], "Provenance");
    assert_eq!(
        provenance["resource"]["target"][0]["reference"],
        "urn:uuid:6a1f6c2e-3f5b-4d7c-9a10-2b1c0d9e8f71"
    );
    assert_eq!(
        provenance["resource"]["signature"][0]["who"]["identifier"]["value"],
        "41234567"
    );

    let (code, text) = verify(dir.path(), "signed.json", &crls());
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("Bundle.entry[2].resource.signature[0]: PASSED"),
        "{text}"
    );
    let (code, text) = verify(dir.path(), "signed-cms.json", &crls());
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("application/pkcs7-signature"), "{text}");

    let (code, text) = verify(dir.path(), "revoked.json", &crls());
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("[failed       ] revocation status"), "{text}");

    // Without revocation information: INDETERMINATE.
    let (code, text) = verify(dir.path(), "signed.json", &[]);
    assert_eq!(code, 3, "{text}");

    // A certificate policy required that the test PKI's CAs do not assert: the path is
    // valid for none, so it fails; a policy that is not an OID is a usage error.
    let mut with_policy = crls();
    with_policy.extend(["--policy", "2.16.604.1.1.1"]);
    let (code, text) = verify(dir.path(), "signed.json", &with_policy);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("[failed       ] certification path to a trust anchor")
            && text.contains("valid for no certificate policy"),
        "{text}"
    );
    let (code, text) = verify(dir.path(), "signed.json", &["--policy", "iofe"]);
    assert_eq!(code, 5, "{text}");
    assert!(text.contains("not an object identifier"), "{text}");

    // Tampered: the DocumentReference changed after signing.
    let mut tampered = signed.clone();
    tampered["entry"][0]["resource"]["status"] = json!("superseded");
    std::fs::write(dir.path().join("tampered.json"), tampered.to_string()).unwrap();
    let (code, text) = verify(dir.path(), "tampered.json", &crls());
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("[failed       ] integrity of the signed content"),
        "{text}"
    );

    // As FHIR: an OperationOutcome naming the failing check.
    let (code, text) = verify(
        dir.path(),
        "tampered.json",
        &[&crls()[..], &["--output", "fhir"]].concat(),
    );
    assert_eq!(code, 1);
    let outcome: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(outcome["issue"][0]["severity"], "error");

    // Unsigned input, and unreadable trust anchors.
    let (code, text) = verify(dir.path(), "push.json", &crls());
    assert_eq!(code, 4, "{text}");
    let mut cmd = command(dir.path());
    cmd.args(["verify", "signed.json", "--trust", "pki/crl"]);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no trust anchor"),
        "{out:?}"
    );
}

#[test]
fn a_document_bundle_is_signed_whole() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(datetime!(2026-06-15 15:00:00 UTC));
    pki.write_to(&dir.path().join("pki")).unwrap();
    let mut document = transaction();
    document["type"] = json!("document");
    for entry in document["entry"].as_array_mut().unwrap() {
        entry.as_object_mut().unwrap().remove("request");
    }
    std::fs::write(dir.path().join("document.json"), document.to_string()).unwrap();
    let status = command(dir.path())
        .args([
            "sign",
            "document.json",
            "--key",
            "pki/signers/good-p384.key.pem",
            "--chain",
            "pki/signers/good-p384.chain.pem",
            "--at",
            SIGNED_AT,
            "--out",
            "signed.json",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let (code, text) = verify(
        dir.path(),
        "signed.json",
        &[&crls()[..], &["--output", "json"]].concat(),
    );
    assert_eq!(code, 0, "{text}");
    let reports: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(reports[0]["location"], "Bundle.signature");
    assert_eq!(reports[0]["algorithm"], "ES384");
    assert_eq!(reports[0]["indication"], "PASSED");
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(datetime!(2026-06-15 15:00:00 UTC));
    pki.write_to(&dir.path().join("pki")).unwrap();
    std::fs::write(dir.path().join("push.json"), transaction().to_string()).unwrap();
    let out = command(dir.path())
        .args([
            "sign",
            "push.json",
            "--key",
            "pki/signers/good.key.pem",
            "--chain",
            "pki/signers/expired.chain.pem",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not the key of the first certificate"),
        "{out:?}"
    );
}

#[test]
fn an_ocsp_response_saved_from_a_responder_settles_the_revocation_status() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(datetime!(2026-06-15 15:00:00 UTC));
    pki.write_to(&dir.path().join("pki")).unwrap();
    std::fs::write(dir.path().join("push.json"), transaction().to_string()).unwrap();
    let status = command(dir.path())
        .args([
            "sign",
            "push.json",
            "--key",
            "pki/signers/good.key.pem",
            "--chain",
            "pki/signers/good.chain.pem",
            "--at",
            SIGNED_AT,
            "--out",
            "signed.json",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    // OpenSSL's responder answers for the signer, from a CA index where it is valid, to
    // a request OpenSSL makes.
    let pki_dir = dir.path().join("pki");
    std::fs::write(
        pki_dir.join("index.txt"),
        pki.ocsp_index(&[("good", OcspStatus::Good)]),
    )
    .unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "ocsp",
            "-issuer",
            "pki/trust/intermediate.pem",
            "-cert",
            "pki/signers/good.pem",
            "-no_nonce",
            "-reqout",
            "request.der",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap_or_else(|error| panic!("openssl must be installed for this test: {error}"));
    assert!(out.status.success(), "{out:?}");
    let request = std::fs::read(dir.path().join("request.der")).unwrap();
    let response = openssl_ocsp_response(&pki_dir, &request, "responder", &[]);
    std::fs::write(dir.path().join("response.der"), response).unwrap();
    std::fs::write(dir.path().join("garbage.der"), b"not an OCSP response").unwrap();
    // Verified now (the response was produced now), with the root's CRL for the
    // intermediate and nothing but OCSP for the signer.
    let run = |extra: &[&str]| {
        let out = command(dir.path())
            .args([
                "verify",
                "signed.json",
                "--trust",
                "pki/trust",
                "--crl",
                "pki/crl/root.crl",
            ])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, text) = run(&[]);
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("no OCSP response"), "{text}");
    let (code, text) = run(&["--ocsp", "response.der"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("good per the OCSP response of"), "{text}");
    let (code, text) = run(&["--ocsp", "garbage.der"]);
    assert_eq!(code, 5, "{text}");
    assert!(
        text.contains("garbage.der is not a usable OCSP response"),
        "{text}"
    );
}

#[test]
fn sign_tsa_adds_a_signature_time_stamp_that_verify_reports() {
    // OpenSSL's time-stamp authority stamps with the system clock: this PKI is made now.
    let dir = tempfile::tempdir().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let pki = TestPki::generate(now);
    pki.write_to(&dir.path().join("pki")).unwrap();
    let tsa = renhice_testing::pki::serve_openssl_tsa(&dir.path().join("pki"), "tsa");
    std::fs::write(dir.path().join("push.json"), transaction().to_string()).unwrap();
    let a_year_on = renhice_signature::datetime::rfc3339(now + time::Duration::days(400));
    for format in ["jose", "cms"] {
        let out = format!("stamped-{format}.json");
        let output = command(dir.path())
            .args([
                "sign",
                "push.json",
                "--key",
                "pki/signers/good.key.pem",
                "--chain",
                "pki/signers/good.chain.pem",
                "--format",
                format,
                "--tsa",
                &tsa,
                "--out",
                &out,
            ])
            .output()
            .unwrap();
        assert!(output.status.success(), "{format}: {output:?}");
        // Verified after the signer's certificate expired: the time-stamp proves the
        // signature came first.
        let mut cmd = command(dir.path());
        cmd.args(["verify", &out, "--trust", "pki/trust", "--at", &a_year_on]);
        cmd.args(crls());
        let result = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&result.stdout).into_owned();
        assert_eq!(result.status.code(), Some(0), "{format}: {text}{result:?}");
        assert!(
            text.contains("(application/") && text.contains("B-T)") && text.contains("time-stamp:"),
            "{text}"
        );
        // The same signature without its time-stamp, a year on: nothing proves it was
        // made before the certificate expired.
        let mut plain = command(dir.path());
        plain.args([
            "sign",
            "push.json",
            "--key",
            "pki/signers/good.key.pem",
            "--chain",
            "pki/signers/good.chain.pem",
            "--format",
            format,
            "--out",
            "plain.json",
        ]);
        assert!(plain.status().unwrap().success());
        let mut cmd = command(dir.path());
        cmd.args([
            "verify",
            "plain.json",
            "--trust",
            "pki/trust",
            "--at",
            &a_year_on,
        ]);
        cmd.args(crls());
        let result = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&result.stdout).into_owned();
        assert_eq!(result.status.code(), Some(3), "{text}");
        assert!(
            text.contains("INDETERMINATE/OUT_OF_BOUNDS_NO_POE"),
            "{text}"
        );
    }

    // An authority that cannot be reached is a clear error, and nothing is written.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/tsa", closed.local_addr().unwrap());
    drop(closed);
    let output = command(dir.path())
        .args([
            "sign",
            "push.json",
            "--key",
            "pki/signers/good.key.pem",
            "--chain",
            "pki/signers/good.chain.pem",
            "--tsa",
            &url,
            "--out",
            "never.json",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("time-stamp authority could not be asked"),
        "{stderr}"
    );
    assert!(!dir.path().join("never.json").exists());
}

/// `pades.py` (the signature crate's pyHanko judge) run in `dir`.
fn pyhanko(dir: &Path, args: &[&str]) {
    let _ = renhice_testing::pyhanko(Path::new(env!("CARGO_TARGET_TMPDIR")), dir, args);
}

#[test]
fn verify_reads_a_signed_pdf_and_its_time_stamp_outlives_the_certificate() {
    // pyHanko and OpenSSL's time-stamp authority work with the system clock.
    let dir = tempfile::tempdir().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let pki = TestPki::generate(now);
    pki.write_to(&dir.path().join("pki")).unwrap();
    let tsa = renhice_testing::pki::serve_openssl_tsa(&dir.path().join("pki"), "tsa");
    pyhanko(dir.path(), &["blank", "acto.pdf"]);
    let sign = |output: &str, extra: &[&str]| {
        let mut args = vec![
            "sign",
            "acto.pdf",
            output,
            "--key",
            "pki/signers/good.key.pem",
            "--cert",
            "pki/signers/good.pem",
            "--chain",
            "pki/trust/intermediate.pem",
            "--field",
            "Firma1",
        ];
        args.extend_from_slice(extra);
        pyhanko(dir.path(), &args);
    };
    sign("firmado.pdf", &[]);
    sign("sellado.pdf", &["--tsa", &tsa]);
    let check = |file: &str, extra: &[&str]| {
        let mut cmd = command(dir.path());
        cmd.args(["verify", file, "--trust", "pki/trust"]);
        cmd.args(crls()).args(extra);
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };

    let (code, text) = check("firmado.pdf", &[]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.starts_with("Firma1: PASSED (application/pdf; ETSI.CAdES.detached, B-B)"),
        "{text}"
    );
    // A year on, the signer's certificate has expired: only the time-stamped PDF proves
    // it was signed before.
    let a_year_on = renhice_signature::datetime::rfc3339(now + time::Duration::days(400));
    let (code, text) = check("sellado.pdf", &["--at", &a_year_on]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("B-T)") && text.contains("time-stamp:"),
        "{text}"
    );
    let (code, text) = check("firmado.pdf", &["--at", &a_year_on]);
    assert_eq!(code, 3, "{text}");
    assert!(
        text.contains("INDETERMINATE/OUT_OF_BOUNDS_NO_POE"),
        "{text}"
    );

    // JSON names the format and the field.
    let (code, json) = check("firmado.pdf", &["--output", "json"]);
    assert_eq!(code, 0, "{json}");
    let reports: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(reports[0]["location"], "Firma1");
    assert_eq!(reports[0]["format"], "application/pdf; ETSI.CAdES.detached");

    // Neither a PDF nor FHIR JSON: refused with the reason, exit code 5.
    std::fs::write(dir.path().join("nota.txt"), "hola").unwrap();
    let (code, text) = check("nota.txt", &[]);
    assert_eq!(code, 5, "{text}");
    assert!(
        text.contains("neither a PDF nor a FHIR R4 resource"),
        "{text}"
    );
}
