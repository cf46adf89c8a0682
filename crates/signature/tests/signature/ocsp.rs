//! Revocation from OCSP: the requests this crate makes are answered by OpenSSL's
//! responder (`openssl ocsp -index`, offline), signed by the CA, by a delegated responder
//! and by a certificate that is not one; the verdicts follow the signing-time rules of
//! the CRLs. OpenSSL must be installed: these tests fail, not skip, without it.

use std::path::Path;
use std::process::Command;

use renhice_signature::sign::SignatureFormat;
use renhice_signature::{
    Check, OcspError, OcspResponse, ResponderError, RevocationError, RevocationSource,
    SignatureError, SignatureReport, Status, Verifier,
};
use renhice_testing::pki::{OcspStatus, TestPki, openssl_ocsp_response};
use time::{Duration, OffsetDateTime};

use crate::fixture::{SIGNED_AT, pki, signed_act, verifier_with};

/// Who signs the responses.
#[derive(Clone, Copy)]
enum Signer {
    /// The intermediate CA itself, named by its name.
    Ca,
    /// The delegated responder (`id-kp-OCSPSigning`), named by its key hash.
    Delegated,
    /// A certificate of the CA without `id-kp-OCSPSigning`.
    Impostor,
}

/// A directory with the PKI and an OpenSSL CA index of the intermediate's signers:
/// `revoked` revoked a day before the signing time, `revoked-later` an hour after it,
/// `good-p384` absent (unknown), every other signer valid.
fn responder_dir(pki: &TestPki) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    pki.write_to(dir.path()).unwrap();
    let signers: Vec<(&str, OcspStatus)> = pki
        .signers
        .keys()
        .filter(|case| **case != "good-p384")
        .map(|case| {
            let status = match *case {
                "revoked" => OcspStatus::Revoked(pki.at - Duration::days(1)),
                "revoked-later" => OcspStatus::Revoked(pki.at + Duration::hours(1)),
                _ => OcspStatus::Good,
            };
            (*case, status)
        })
        .collect();
    std::fs::write(dir.path().join("index.txt"), pki.ocsp_index(&signers)).unwrap();
    dir
}

fn openssl(args: &[&str], dir: &Path) -> Vec<u8> {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| panic!("openssl must be installed for these tests: {error}"));
    assert!(
        output.status.success(),
        "openssl {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// OpenSSL's answer to `request` (DER), signed by `signer`.
fn answer(dir: &Path, request: &[u8], signer: Signer, extra: &[&str]) -> Vec<u8> {
    let name = match signer {
        Signer::Ca => "intermediate",
        Signer::Delegated => "responder",
        Signer::Impostor => "impostor",
    };
    let mut args = extra.to_vec();
    if matches!(signer, Signer::Delegated) {
        args.push("-resp_key_id");
    }
    openssl_ocsp_response(dir, request, name, &args)
}

/// A verifier trusting the PKI, with the root's CRL (for the intermediate) but not the
/// intermediate's: the signers' status comes from OCSP alone.
fn verifier() -> Verifier {
    verifier_with(false, &[&pki().crls["root.crl"]])
}

/// Now, after OpenSSL stamped its responses.
fn later() -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::minutes(1)
}

fn verify(verifier: &Verifier, case: &str, at: OffsetDateTime) -> SignatureReport {
    let bundle = signed_act(case, SignatureFormat::Jose, None);
    let resource = renhice_model::resources::Resource::Bundle(Box::new(bundle));
    let mut reports = verifier.verify_resource(&resource, &[], at);
    assert_eq!(reports.len(), 1);
    reports.remove(0)
}

/// Verifies `case`, asks OpenSSL what the report's OCSP request asks, and verifies again
/// with the answer: the report before and after.
fn ask(case: &str, signer: Signer) -> (SignatureReport, SignatureReport) {
    let pki = pki();
    let dir = responder_dir(pki);
    let verifier = verifier();
    let before = verify(&verifier, case, later());
    assert_eq!(
        before.ocsp.len(),
        1,
        "one responder for the signer: {before:#?}"
    );
    let query = &before.ocsp[0];
    assert_eq!(query.url, "http://crl.renhice.test/ocsp");
    let response =
        OcspResponse::from_der(&answer(dir.path(), &query.request, signer, &[])).unwrap();
    verifier.revocation().add_ocsp(&response);
    // Given twice, it is held once.
    verifier.revocation().add_ocsp(&response);
    assert_eq!(verifier.revocation().ocsp_responses().len(), 1);
    let after = verify(&verifier, case, later());
    (before, after)
}

fn revocation(report: &SignatureReport) -> (Status, &str) {
    let check = report.check(Check::Revocation).unwrap();
    (check.status, check.reason.as_str())
}

/// The status of the revocation check and the causes of a status other than passed.
fn causes(report: &SignatureReport) -> (Status, &[RevocationError]) {
    let check = report.check(Check::Revocation).unwrap();
    let causes = match &check.error {
        Some(SignatureError::Revocation { causes }) => causes.as_slice(),
        None => &[],
        Some(other) => panic!("not a revocation cause: {other:?}"),
    };
    (check.status, causes)
}

#[test]
fn a_good_answer_from_the_ca_passes_where_nothing_else_speaks() {
    let (before, after) = ask("good", Signer::Ca);
    let (status, why) = causes(&before);
    assert_eq!(status, Status::Indeterminate, "{before}");
    assert!(
        why.iter().any(|cause| matches!(
            cause,
            RevocationError::NoOcspResponse { responders, .. }
                if responders == &["http://crl.renhice.test/ocsp"]
        )),
        "{why:?}"
    );
    let (status, reason) = revocation(&after);
    assert_eq!(status, Status::Passed, "{after}");
    assert_eq!(causes(&after).1, []);
    assert!(
        reason.contains("good per the OCSP response of \"C=PE, O=RENHICE Pruebas, CN=EREP Prueba Entidad Acreditada\""),
        "{reason}"
    );
    assert_eq!(after.indication(), renhice_signature::Indication::Passed);
}

#[test]
fn revoked_before_the_signing_time_fails_and_after_it_is_indeterminate() {
    let (_, after) = ask("revoked", Signer::Ca);
    let (status, why) = causes(&after);
    assert_eq!(status, Status::Failed, "{after}");
    assert!(
        matches!(
            why,
            [RevocationError::Revoked { revoked_at, signing_time, source: RevocationSource::Ocsp { .. }, .. }]
                if revoked_at <= signing_time
        ),
        "{why:?}"
    );
    let (_, after) = ask("revoked-later", Signer::Ca);
    let (status, why) = causes(&after);
    assert_eq!(status, Status::Indeterminate, "{after}");
    assert!(
        matches!(
            why,
            [RevocationError::RevokedAfterSigning { revoked_at, signing_time, source: RevocationSource::Ocsp { .. }, .. }]
                if revoked_at > signing_time
        ),
        "{why:?}"
    );
}

#[test]
fn a_certificate_the_responder_does_not_know_stays_indeterminate() {
    let (_, after) = ask("good-p384", Signer::Ca);
    let (status, why) = causes(&after);
    assert_eq!(status, Status::Indeterminate, "{after}");
    assert!(
        why.iter()
            .any(|cause| matches!(cause, RevocationError::OcspUnknown { .. })),
        "{why:?}"
    );
}

#[test]
fn a_delegated_responder_is_believed_and_an_impostor_is_not() {
    let (_, after) = ask("good", Signer::Delegated);
    let (status, reason) = revocation(&after);
    assert_eq!(status, Status::Passed, "{after}");
    assert!(reason.contains("EREP Prueba OCSP"), "{reason}");

    // A certificate of the same CA, but not authorised to answer for it: a "revoked"
    // from it is not believed either way.
    let (_, after) = ask("revoked", Signer::Impostor);
    let (status, why) = causes(&after);
    assert_eq!(status, Status::Indeterminate, "{after}");
    assert!(
        why.iter().any(|cause| matches!(
            cause,
            RevocationError::OcspSetAside {
                source: ResponderError::NotAuthorised { .. },
                ..
            }
        )),
        "{why:?}"
    );
}

#[test]
fn a_tampered_response_is_set_aside() {
    let pki = pki();
    let dir = responder_dir(pki);
    let verifier = verifier();
    let before = verify(&verifier, "good", later());
    // Without the certificates, the signature is the response's last bytes.
    let mut response = answer(
        dir.path(),
        &before.ocsp[0].request,
        Signer::Ca,
        &["-resp_no_certs"],
    );
    let last = response.len() - 3;
    response[last] ^= 0x01;
    verifier
        .revocation()
        .add_ocsp(&OcspResponse::from_der(&response).unwrap());
    let after = verify(&verifier, "good", later());
    let (status, why) = causes(&after);
    assert_eq!(status, Status::Indeterminate, "{after}");
    assert!(
        why.iter().any(|cause| matches!(
            cause,
            RevocationError::OcspSetAside {
                source: ResponderError::IssuerSignature { .. },
                ..
            }
        )),
        "{why:?}"
    );
}

#[test]
fn a_response_produced_after_the_verification_time_does_not_count() {
    let verifier = verifier();
    let pki = pki();
    let dir = responder_dir(pki);
    let report = verify(&verifier, "good", later());
    let response = answer(dir.path(), &report.ocsp[0].request, Signer::Ca, &[]);
    verifier
        .revocation()
        .add_ocsp(&OcspResponse::from_der(&response).unwrap());
    assert_eq!(
        revocation(&verify(&verifier, "good", later())).0,
        Status::Passed
    );
    // The same store, asked as of a time before OpenSSL answered.
    let past = verify(&verifier, "good", SIGNED_AT + Duration::days(1));
    assert_eq!(revocation(&past).0, Status::Indeterminate, "{past}");
}

#[test]
fn a_sha256_request_made_by_openssl_is_matched() {
    let pki = pki();
    let dir = responder_dir(pki);
    openssl(
        &[
            "ocsp",
            "-issuer",
            "trust/intermediate.pem",
            "-sha256",
            "-cert",
            "signers/good.pem",
            "-no_nonce",
            "-reqout",
            "openssl-request.der",
        ],
        dir.path(),
    );
    let request = std::fs::read(dir.path().join("openssl-request.der")).unwrap();
    let response = answer(dir.path(), &request, Signer::Ca, &[]);
    let verifier = verifier();
    verifier
        .revocation()
        .add_ocsp(&OcspResponse::from_der(&response).unwrap());
    let report = verify(&verifier, "good", later());
    assert_eq!(revocation(&report).0, Status::Passed, "{report}");
}

#[test]
fn a_refusal_from_the_responder_is_an_error_naming_it() {
    // OCSPResponse { responseStatus tryLater }.
    let error = OcspResponse::from_der(&[0x30, 0x03, 0x0a, 0x01, 0x03]).unwrap_err();
    assert!(
        matches!(&error, OcspError::Refused { status } if status == "TryLater"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the responder answered TryLater rather than a status"
    );
    let error = OcspResponse::from_der(b"not DER").unwrap_err();
    assert!(matches!(error, OcspError::NotOcsp { .. }), "{error:?}");
}

#[test]
fn a_crl_revocation_before_signing_is_not_outweighed_by_a_good_ocsp_answer() {
    // The intermediate's CRL lists `revoked`; a responder (wrongly) answers good.
    let pki = pki();
    let dir = responder_dir(pki);
    std::fs::write(
        dir.path().join("index.txt"),
        pki.ocsp_index(&[("revoked", OcspStatus::Good)]),
    )
    .unwrap();
    let verifier = verifier_with(true, &[]);
    let report = verify(&verifier, "revoked", later());
    let response = answer(dir.path(), &report.ocsp[0].request, Signer::Ca, &[]);
    verifier
        .revocation()
        .add_ocsp(&OcspResponse::from_der(&response).unwrap());
    let report = verify(&verifier, "revoked", later());
    let (status, why) = causes(&report);
    assert_eq!(status, Status::Failed, "{report}");
    assert!(
        matches!(
            why,
            [RevocationError::Revoked {
                source: RevocationSource::Crl { .. },
                ..
            }]
        ),
        "{why:?}"
    );
}
