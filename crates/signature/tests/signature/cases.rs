//! Every case of the test PKI, in both formats, with the report expected of it.

use renhice_model::Primitive;
use renhice_model::resources::Resource;
use renhice_model::types::{Identifier, Reference};
use renhice_signature::sign::SignatureFormat::{self, Cms, Jose};
use renhice_signature::{
    Check, CmsError, ContentError, FormatError, IdentityError, Indication, JwsError, KeyUsageError,
    PathError, RevocationError, SignatureError, SignatureReport, SigningTimeError, Status,
};
use time::Duration;

use crate::fixture::{
    self, SIGNED_AT, bundle, document, document_mut, options, pki, provenance, provenance_mut,
    signed_act, verifier, verifier_with, verify_one,
};

/// Asserts the statuses of the listed checks and that every other check passed.
#[track_caller]
fn expect(report: &SignatureReport, indication: Indication, checks: &[(Check, Status)]) {
    for check in Check::ALL {
        let expected = checks
            .iter()
            .find(|(c, _)| *c == check)
            .map_or(Status::Passed, |(_, status)| *status);
        assert_eq!(
            report.status(check),
            expected,
            "{check}: {:?}\n{report}",
            report.check(check).map(|c| &c.reason)
        );
    }
    assert_eq!(report.indication(), indication, "{report}");
}

fn both(test: impl Fn(SignatureFormat)) {
    test(Jose);
    test(Cms);
}

#[test]
fn valid_signatures_pass_in_every_algorithm_and_format() {
    let verifier = verifier();
    for (case, algorithm) in [
        ("good", None),
        ("good-p384", None),
        ("good-rsa", None),
        ("good-rsa", Some("PS256")),
    ] {
        let report = verify_one(&verifier, &signed_act(case, Jose, algorithm));
        expect(&report, Indication::Passed, &[]);
        assert_eq!(
            report.algorithm.as_deref(),
            Some(algorithm.unwrap_or(match case {
                "good" => "ES256",
                "good-p384" => "ES384",
                _ => "RS256",
            }))
        );
    }
    for case in ["good", "good-p384", "good-rsa"] {
        let report = verify_one(&verifier, &signed_act(case, Cms, None));
        expect(&report, Indication::Passed, &[]);
    }
    let report = verify_one(&verifier, &signed_act("good", Jose, None));
    assert_eq!(report.signing_time, Some(SIGNED_AT));
    assert_eq!(
        report.path.len(),
        3,
        "signer, intermediate, root: {:?}",
        report.path
    );
    assert_eq!(report.commitment, ["urn:oid:1.2.840.10065.1.12.1.1"]);
    let signer = report.signer.as_ref().unwrap();
    assert_eq!(signer.identifiers, ["PNOPE-41234567"]);
    assert!(
        report
            .check(Check::SignerIdentity)
            .unwrap()
            .reason
            .contains("41234567"),
        "{report}"
    );
}

/// The typed cause of `check`, whose reason is the cause's sentence.
#[track_caller]
fn cause(report: &SignatureReport, check: Check) -> &SignatureError {
    let result = report.check(check).unwrap();
    let error = result
        .error
        .as_ref()
        .unwrap_or_else(|| panic!("{check} has no cause: {report}"));
    assert!(
        result.reason.starts_with(&error.to_string()),
        "{:?} is not the sentence of {error:?}",
        result.reason
    );
    error
}

/// The causes of a revocation check that did not pass.
#[track_caller]
fn revocation_causes(report: &SignatureReport) -> &[RevocationError] {
    match cause(report, Check::Revocation) {
        SignatureError::Revocation { causes } => causes,
        other => panic!("not a revocation cause: {other:?}"),
    }
}

/// Asserts that only `check` failed, for a cause that `is` accepts.
#[track_caller]
fn failed_only_at(report: &SignatureReport, check: Check, is: impl Fn(&SignatureError) -> bool) {
    expect(report, Indication::Failed, &[(check, Status::Failed)]);
    let error = cause(report, check);
    assert!(is(error), "{error:?}");
}

/// Signs with `case` in both formats and asserts that only `check` fails, for a cause
/// that `is` accepts.
#[track_caller]
fn fails_at(case: &str, check: Check, is: impl Fn(&SignatureError) -> bool) {
    both(|format| {
        let report = verify_one(&verifier(), &signed_act(case, format, None));
        failed_only_at(&report, check, &is);
    });
}

#[test]
fn an_expired_certificate_fails_validity() {
    fails_at("expired", Check::CertificateValidity, |error| {
        matches!(
            error,
            SignatureError::Path(PathError::Expired { subject, at, not_after })
                if subject.contains("VENCIDO") && *at == SIGNED_AT && at > not_after
        )
    });
}

#[test]
fn a_not_yet_valid_certificate_fails_validity() {
    fails_at("not-yet-valid", Check::CertificateValidity, |error| {
        matches!(
            error,
            SignatureError::Path(PathError::NotYetValid { at, not_before, .. })
                if at < not_before
        )
    });
}

#[test]
fn a_certificate_revoked_before_signing_fails_revocation() {
    both(|format| {
        let report = verify_one(&verifier(), &signed_act("revoked", format, None));
        expect(
            &report,
            Indication::Failed,
            &[(Check::Revocation, Status::Failed)],
        );
        assert!(
            matches!(
                revocation_causes(&report),
                [RevocationError::Revoked { revoked_at, signing_time, .. }]
                    if revoked_at <= signing_time
            ),
            "{report}"
        );
    });
}

#[test]
fn a_certificate_without_signing_usage_fails_key_usage() {
    fails_at("wrong-key-usage", Check::KeyUsage, |error| {
        matches!(
            error,
            SignatureError::KeyUsage(KeyUsageError::NoSigningUsage { .. })
        )
    });
}

#[test]
fn a_path_longer_than_a_ca_allows_fails_the_path() {
    fails_at("path-too-long", Check::CertificatePath, |error| {
        matches!(
            error,
            SignatureError::Path(PathError::PathTooLong { issuer, limit: 0, below: 1 })
                if issuer.contains("EREP Prueba Limitada")
        )
    });
}

#[test]
fn a_revocation_after_the_claimed_signing_time_is_indeterminate() {
    let act = signed_act("revoked-later", Jose, None);
    // With the CRL current at signing, the certificate was not revoked.
    expect(&verify_one(&verifier(), &act), Indication::Passed, &[]);
    // The later CRL revokes it an hour after the claimed signing time: without a
    // time-stamp, nothing proves the signature was made before.
    let later = verifier_with(true, &[&pki().later_crl]);
    let report = verify_one(&later, &act);
    expect(
        &report,
        Indication::Indeterminate,
        &[(Check::Revocation, Status::Indeterminate)],
    );
    assert!(
        matches!(
            revocation_causes(&report),
            [RevocationError::RevokedAfterSigning { revoked_at, signing_time, .. }]
                if revoked_at > signing_time
        ),
        "{report}"
    );
    // The later CRL still fails the certificate revoked before the signing time.
    let report = verify_one(&later, &signed_act("revoked", Jose, None));
    expect(
        &report,
        Indication::Failed,
        &[(Check::Revocation, Status::Failed)],
    );
}

#[test]
fn no_revocation_information_is_indeterminate() {
    let report = verify_one(&verifier_with(false, &[]), &signed_act("good", Jose, None));
    expect(
        &report,
        Indication::Indeterminate,
        &[(Check::Revocation, Status::Indeterminate)],
    );
    assert!(
        revocation_causes(&report).iter().any(|cause| matches!(
            cause,
            RevocationError::NoCrl { distribution_points, .. }
                if distribution_points == &["http://crl.renhice.test/intermediate.crl"]
        )),
        "{report}"
    );
}

#[test]
fn a_certificate_of_an_untrusted_ca_fails_the_path() {
    both(|format| {
        let report = verify_one(&verifier(), &signed_act("wrong-ca", format, None));
        expect(
            &report,
            Indication::Failed,
            &[
                (Check::CertificatePath, Status::Failed),
                (Check::Revocation, Status::NotRun),
            ],
        );
        assert!(
            matches!(
                cause(&report, Check::CertificatePath),
                SignatureError::Path(PathError::IssuerNotFound { issuer, .. })
                    if issuer.contains("Otra Raiz No Confiable")
            ),
            "{report}"
        );
    });
}

#[test]
fn a_document_changed_after_signing_is_detected() {
    // JWS with a detached payload: the signature no longer verifies over the content.
    let mut act = signed_act("good", Jose, None);
    document_mut(&mut act).description =
        Some(Primitive::new("Consulta externa (modificada)".into()));
    let report = verify_one(&verifier(), &act);
    expect(
        &report,
        Indication::Failed,
        &[
            (Check::ContentIntegrity, Status::Failed),
            (Check::SignatureValue, Status::Failed),
        ],
    );
    for check in [Check::ContentIntegrity, Check::SignatureValue] {
        assert!(matches!(
            cause(&report, check),
            SignatureError::Content(ContentError::PayloadMismatch { reference })
                if reference == "DocumentReference/doc-1"
        ));
    }
    // CMS: the signed attributes still verify; the message digest names the change.
    let mut act = signed_act("good", Cms, None);
    document_mut(&mut act).description = Some(Primitive::new("otra".into()));
    let report = verify_one(&verifier(), &act);
    failed_only_at(&report, Check::ContentIntegrity, |error| {
        matches!(
            error,
            SignatureError::Content(ContentError::DigestMismatch { reference })
                if reference == "DocumentReference/doc-1"
        )
    });
}

#[test]
fn a_signature_over_several_targets_names_the_changed_one() {
    let first = document("doc-1", "primero");
    let second = document("doc-2", "segundo");
    let signed = provenance(
        "good",
        &[
            ("DocumentReference/doc-1", &first),
            ("DocumentReference/doc-2", &second),
        ],
        &options(Jose, None),
    );
    let practitioner = fixture::practitioner(&pki().signer("good").dni);
    let act = bundle(vec![
        first.clone(),
        second.clone(),
        practitioner.clone(),
        Resource::Provenance(Box::new(signed.clone())),
    ]);
    expect(&verify_one(&verifier(), &act), Indication::Passed, &[]);

    let changed = document("doc-2", "segundo, cambiado");
    let act = bundle(vec![
        first,
        changed,
        practitioner,
        Resource::Provenance(Box::new(signed)),
    ]);
    let report = verify_one(&verifier(), &act);
    // The header with the digests is intact; only the content check fails.
    expect(
        &report,
        Indication::Failed,
        &[(Check::ContentIntegrity, Status::Failed)],
    );
    assert!(
        matches!(
            cause(&report, Check::ContentIntegrity),
            SignatureError::Content(ContentError::Digests { changed, unsigned, extra })
                if changed == &["DocumentReference/doc-2"] && unsigned.is_empty() && extra.is_empty()
        ),
        "{report}"
    );
}

#[test]
fn the_static_canonicalization_survives_a_server_setting_meta() {
    let mut act = signed_act("good", Jose, None);
    document_mut(&mut act).meta.as_mut().unwrap().version_id = Some(Primitive::new("7".into()));
    expect(&verify_one(&verifier(), &act), Indication::Passed, &[]);
}

#[test]
fn the_signer_must_be_the_party_signature_who_names() {
    both(|format| {
        let mut act = signed_act("good", format, None);
        provenance_mut(&mut act).signature[0].who = Some(Box::new(Reference::by_identifier(
            Identifier::new("https://www.gob.pe/minsa/RENHICE/fhir/sid/dni", "09999999"),
        )));
        let report = verify_one(&verifier(), &act);
        failed_only_at(&report, Check::SignerIdentity, |error| {
            matches!(
                error,
                SignatureError::Identity(IdentityError::Mismatch { certificate, identifiers, .. })
                    if certificate == &["PNOPE-41234567"] && identifiers == &["09999999"]
            )
        });

        provenance_mut(&mut act).signature[0].who =
            Some(Box::new(Reference::to("Practitioner", "otro")));
        let report = verify_one(&verifier(), &act);
        expect(
            &report,
            Indication::Indeterminate,
            &[(Check::SignerIdentity, Status::Indeterminate)],
        );
        assert!(matches!(
            cause(&report, Check::SignerIdentity),
            SignatureError::Identity(IdentityError::Unresolved { named })
                if named == "Practitioner/otro"
        ));
    });
}

#[test]
fn signature_when_must_agree_with_the_signed_time() {
    let mut act = signed_act("good", Jose, None);
    let when = renhice_model::values::Instant::parse("2026-06-14T10:00:00Z").unwrap();
    provenance_mut(&mut act).signature[0].when = Some(Primitive::new(when));
    let report = verify_one(&verifier(), &act);
    failed_only_at(&report, Check::SigningTime, |error| {
        matches!(
            error,
            SignatureError::SigningTime(SigningTimeError::WhenDisagrees { signing_time, .. })
                if *signing_time == SIGNED_AT
        )
    });
}

#[test]
fn a_signing_time_after_the_verification_time_fails() {
    let act = signed_act("good", Jose, None);
    let resource = Resource::Bundle(Box::new(act));
    let reports = verifier().verify_resource(&resource, &[], SIGNED_AT - Duration::hours(1));
    failed_only_at(&reports[0], Check::SigningTime, |error| {
        matches!(
            error,
            SignatureError::SigningTime(SigningTimeError::AfterVerification { signing_time, verified_at })
                if *signing_time == SIGNED_AT && *verified_at == SIGNED_AT - Duration::hours(1)
        )
    });
}

#[test]
fn a_document_bundle_signature_covers_the_whole_document() {
    let key = fixture::key("good");
    let mut document_bundle = bundle(vec![
        document("doc-1", "resumen"),
        fixture::practitioner(&pki().signer("good").dni),
    ]);
    document_bundle.r#type = Some(Primitive::new("document".into()));
    document_bundle.id = Some(Primitive::new("resumen-1".into()));
    for format in [Jose, Cms] {
        let mut signed = document_bundle.clone();
        renhice_signature::sign::sign_bundle(&mut signed, &key, &options(format, None)).unwrap();
        let report = verify_one(&verifier(), &signed);
        assert_eq!(report.location, "Bundle.signature");
        expect(&report, Indication::Passed, &[]);
        // `#document` leaves out the Bundle's id and meta…
        signed.id = Some(Primitive::new("otro-id".into()));
        expect(&verify_one(&verifier(), &signed), Indication::Passed, &[]);
        // …but not its entries.
        document_mut(&mut signed).status = Some(Primitive::new("entered-in-error".into()));
        let report = verify_one(&verifier(), &signed);
        assert_eq!(
            report.status(Check::ContentIntegrity),
            Status::Failed,
            "{report}"
        );
    }
}

#[test]
fn unreadable_signatures_fail_the_format_check_and_say_why() {
    type Is = fn(&FormatError) -> bool;
    let act = signed_act("good", Jose, None);
    let cases: [(&str, Option<&str>, Is); 4] = [
        ("application/jose", Some("bm90IGEgandz"), |error| {
            matches!(error, FormatError::Jws(JwsError::NotCompact))
        }),
        ("application/pkcs7-signature", Some("AAAA"), |error| {
            matches!(error, FormatError::Cms(CmsError::NotContentInfo { .. }))
        }),
        (
            "image/png",
            Some("AAAA"),
            |error| matches!(error, FormatError::UnsupportedFormat { format } if format == "image/png"),
        ),
        ("application/jose", None, |error| {
            matches!(error, FormatError::NoData)
        }),
    ];
    for (format, data, is) in cases {
        let mut broken = act.clone();
        let signature = &mut provenance_mut(&mut broken).signature[0];
        signature.sig_format = Some(Primitive::new(format.to_owned()));
        signature.data = data.map(|data| Primitive::new(data.to_owned()));
        let report = verify_one(&verifier(), &broken);
        assert_eq!(report.status(Check::Format), Status::Failed, "{report}");
        assert_eq!(report.indication(), Indication::Failed);
        assert!(
            matches!(cause(&report, Check::Format), SignatureError::Format(error) if is(error)),
            "{report}"
        );
        assert!(
            report
                .checks
                .iter()
                .skip(1)
                .all(|check| check.status == Status::NotRun),
            "{report}"
        );
    }
}

#[test]
fn an_unknown_critical_header_is_refused() {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let mut act = signed_act("good", Jose, None);
    let signature = &mut provenance_mut(&mut act).signature[0];
    let compact = String::from_utf8(
        STANDARD
            .decode(signature.data.as_ref().unwrap().value.as_ref().unwrap())
            .unwrap(),
    )
    .unwrap();
    let (header, rest) = compact.split_once('.').unwrap();
    let mut header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["crit"].as_array_mut().unwrap().push("exp".into());
    header["exp"] = 1.into();
    let tampered = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()));
    signature.data = Some(Primitive::new(STANDARD.encode(tampered)));
    let report = verify_one(&verifier(), &act);
    assert_eq!(report.status(Check::Format), Status::Failed);
    assert!(
        matches!(
            cause(&report, Check::Format),
            SignatureError::Format(FormatError::Jws(JwsError::UnknownCritical { parameter }))
                if parameter == "exp"
        ),
        "{report}"
    );
}

#[test]
fn a_missing_target_is_indeterminate_not_passed() {
    let mut act = signed_act("good", Jose, None);
    act.entry.remove(0);
    let report = verify_one(&verifier(), &act);
    assert_eq!(report.indication(), Indication::Indeterminate, "{report}");
    assert!(matches!(
        cause(&report, Check::Format),
        SignatureError::MissingTargets { references } if references == &["DocumentReference/doc-1"]
    ));
}

#[test]
fn the_report_is_fhir_json_and_text() {
    let report = verify_one(&verifier(), &signed_act("revoked", Jose, None));
    let outcome = renhice_signature::operation_outcome(std::slice::from_ref(&report));
    let json = serde_json::to_value(&outcome).unwrap();
    let first = &json["issue"][0];
    assert_eq!(first["severity"], "error");
    assert_eq!(first["details"]["coding"][0]["code"], "FAILED");
    assert_eq!(
        first["expression"][0],
        "Bundle.entry[2].resource.signature[0]"
    );
    assert!(first["diagnostics"].as_str().unwrap().contains("revoked"));
    let revocation = json["issue"]
        .as_array()
        .unwrap()
        .iter()
        .find(|issue| issue["details"]["coding"][0]["code"] == "revocation")
        .unwrap();
    assert_eq!(revocation["severity"], "error");
    assert_eq!(revocation["code"], "security");
    // The OperationOutcome is valid FHIR for the model.
    Resource::from_json(json.to_string().as_bytes()).unwrap();

    let stored = report.to_json();
    assert_eq!(stored["indication"], "FAILED");
    assert_eq!(stored["checks"].as_array().unwrap().len(), Check::ALL.len());
    assert_eq!(stored["signingTime"], "2026-06-15T15:00:00Z");

    let text = report.to_string();
    assert!(
        text.starts_with("Bundle.entry[2].resource.signature[0]: FAILED"),
        "{text}"
    );
    assert!(
        text.contains("[failed       ] revocation status at the signing time"),
        "{text}"
    );
}

#[test]
fn a_signer_referenced_by_thumbprint_is_found_in_the_trust_store() {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    // A verifier that knows the signer certificate: a header without x5c verifies.
    let pki = pki();
    let mut trust = renhice_signature::TrustStore::new();
    for pem in [
        &pki.root.pem,
        &pki.intermediate.pem,
        &pki.signer("good").cert.pem,
    ] {
        for cert in renhice_signature::Certificate::all_from_pem(pem.as_bytes()).unwrap() {
            trust.add(cert);
        }
    }
    let mut revocation = renhice_signature::RevocationStore::new();
    for der in pki.crls.values() {
        revocation.add(renhice_signature::Crl::from_der(der).unwrap());
    }
    let verifier = renhice_signature::Verifier::new(trust, revocation);
    let mut act = signed_act("good", Jose, None);
    let signature = &mut provenance_mut(&mut act).signature[0];
    let compact = String::from_utf8(
        STANDARD
            .decode(signature.data.as_ref().unwrap().value.as_ref().unwrap())
            .unwrap(),
    )
    .unwrap();
    let header = compact.split('.').next().unwrap();
    let mut json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    json.as_object_mut().unwrap().remove("x5c");
    // Changing the header invalidates the signature value, and only that.
    let rewritten = format!(
        "{}..{}",
        URL_SAFE_NO_PAD.encode(json.to_string()),
        compact.rsplit('.').next().unwrap()
    );
    signature.data = Some(Primitive::new(STANDARD.encode(rewritten)));
    let report = verify_one(&verifier, &act);
    assert_eq!(report.status(Check::Format), Status::Passed, "{report}");
    assert_eq!(
        report.status(Check::CertificatePath),
        Status::Passed,
        "{report}"
    );
    assert_eq!(
        report.status(Check::SignatureValue),
        Status::Failed,
        "{report}"
    );
}

#[test]
fn a_provenance_alone_is_verified_against_the_targets_given_beside_it() {
    let document = document("doc-1", "suelto");
    let signed = provenance(
        "good",
        &[("DocumentReference/doc-1", &document)],
        &options(Jose, None),
    );
    let practitioner = fixture::practitioner(&pki().signer("good").dni);
    let resource = Resource::Provenance(Box::new(signed));
    let reports = verifier().verify_resource(
        &resource,
        &[document, practitioner.clone()],
        fixture::verified_at(),
    );
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].location, "Provenance.signature[0]");
    expect(&reports[0], Indication::Passed, &[]);
    // Without its target the signature cannot be judged, and the report says which.
    let reports = verifier().verify_resource(&resource, &[practitioner], fixture::verified_at());
    assert_eq!(reports[0].indication(), Indication::Indeterminate);
    assert!(matches!(
        cause(&reports[0], Check::Format),
        SignatureError::MissingTargets { references } if references == &["DocumentReference/doc-1"]
    ));
}
