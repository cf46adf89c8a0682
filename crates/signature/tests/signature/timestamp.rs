//! Signature time-stamps and the best signature time (ETSI EN 319 102-1 §5.6), with
//! OpenSSL as the time-stamp authority (`openssl ts -reply`) and as the second judge of
//! every token (`openssl ts -verify`).
//!
//! OpenSSL stamps with the system clock, so this PKI is generated at the time of the run
//! and the verification times are set from there: a certificate "expired" or "revoked
//! since" is one whose end is between the time-stamp and the verification time.

use std::cell::RefCell;
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use der::{Decode as _, Encode as _};
use renhice_model::resources::{Bundle, Provenance, Resource};
use renhice_model::types::{Reference, Signature};
use renhice_signature::sign::{self, SignOptions, SignatureFormat, SigningKey};
use renhice_signature::{
    Check, Crl, Indication, PathError, RevocationStore, SignatureError, SignatureReport,
    SigningTimeError, Status, SubIndication, Target, TimeStampAuthority, TimestampError,
    TrustStore, Verifier,
};
use renhice_testing::pki::{TestPki, openssl_tsa_reply, tlv};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

use crate::fixture::{bundle, document, practitioner};

struct Fixture {
    pki: TestPki,
    dir: TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let pki = TestPki::generate(OffsetDateTime::now_utc());
        let dir = tempfile::tempdir().unwrap();
        pki.write_to(dir.path()).unwrap();
        Fixture { pki, dir }
    })
}

/// `openssl ts -reply` as the authority; remembers each answer.
struct OpensslTsa {
    name: &'static str,
    answers: RefCell<Vec<Vec<u8>>>,
}

impl OpensslTsa {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            answers: RefCell::default(),
        }
    }
}

impl TimeStampAuthority for OpensslTsa {
    fn request(&self, request: &[u8]) -> Result<Vec<u8>, String> {
        let answer = openssl_tsa_reply(fixture().dir.path(), request, self.name);
        self.answers.borrow_mut().push(answer.clone());
        Ok(answer)
    }
}

fn verifier(extra_crls: &[&[u8]]) -> Verifier {
    verifier_trusting(extra_crls, true)
}

/// A verifier trusting the PKI's root, with its time-stamp authority listed as one when
/// `tsa` is set.
fn verifier_trusting(extra_crls: &[&[u8]], tsa: bool) -> Verifier {
    let pki = &fixture().pki;
    let mut trust = TrustStore::new();
    for pem in [&pki.root.pem, &pki.intermediate.pem] {
        for cert in renhice_signature::Certificate::all_from_pem(pem.as_bytes()).unwrap() {
            trust.add(cert);
        }
    }
    if tsa {
        for cert in renhice_signature::Certificate::all_from_pem(pki.tsa.pem.as_bytes()).unwrap() {
            trust.add_timestamp_authority(cert);
        }
    }
    let mut revocation = RevocationStore::new();
    for der in pki
        .crls
        .values()
        .map(Vec::as_slice)
        .chain(extra_crls.iter().copied())
    {
        revocation.add(Crl::from_der(der).unwrap());
    }
    Verifier::new(trust, revocation)
}

/// A signed act by `case`, claiming `claimed` as its signing time, time-stamped by the
/// authority `tsa` when given.
fn act(
    case: &str,
    format: SignatureFormat,
    claimed: OffsetDateTime,
    tsa: Option<&OpensslTsa>,
) -> Bundle {
    let pki = &fixture().pki;
    let signer = pki.signer(case);
    let key =
        SigningKey::from_pem(signer.cert.key.pem.as_bytes(), signer.chain_pem.as_bytes()).unwrap();
    let document = document("doc-1", "Consulta externa");
    let mut provenance = Provenance {
        target: vec![Reference::url("DocumentReference/doc-1")],
        ..Provenance::default()
    };
    let options = SignOptions {
        format,
        algorithm: None,
        signing_time: claimed,
        who: Reference::to("Practitioner", "med-1"),
        commitment: None,
        canonicalization: None,
    };
    sign::sign_provenance(
        &mut provenance,
        &[Target {
            reference: "DocumentReference/doc-1",
            resource: &document,
        }],
        &key,
        &options,
    )
    .unwrap();
    if let Some(tsa) = tsa {
        sign::add_timestamp(&mut provenance.signature[0], tsa).unwrap();
    }
    bundle(vec![
        document,
        practitioner(&signer.dni),
        Resource::Provenance(Box::new(provenance)),
    ])
}

fn signature_of(bundle: &Bundle) -> &Signature {
    bundle
        .entry
        .iter()
        .find_map(|entry| match &entry.resource {
            Some(Resource::Provenance(provenance)) => provenance.signature.first(),
            _ => None,
        })
        .unwrap()
}

fn signature_mut(bundle: &mut Bundle) -> &mut Signature {
    bundle
        .entry
        .iter_mut()
        .find_map(|entry| match &mut entry.resource {
            Some(Resource::Provenance(provenance)) => provenance.signature.first_mut(),
            _ => None,
        })
        .unwrap()
}

fn verify(verifier: &Verifier, bundle: &Bundle, at: OffsetDateTime) -> SignatureReport {
    let resource = Resource::Bundle(Box::new(bundle.clone()));
    let mut reports = verifier.verify_resource(&resource, &[], at);
    assert_eq!(reports.len(), 1);
    reports.remove(0)
}

/// The time-stamped bytes and the tokens of a signature, read independently of the
/// verifier: for a JWS, the base64url signature value and the `sigTst` tokens of
/// `etsiU`; for CMS, the signature value and the `signature-time-stamp` attributes.
fn stamped(signature: &Signature) -> (Vec<u8>, Vec<Vec<u8>>) {
    let data = STANDARD
        .decode(signature.data.as_ref().unwrap().value.as_deref().unwrap())
        .unwrap();
    if signature.sig_format.as_ref().unwrap().value.as_deref() == Some("application/jose") {
        let jws: serde_json::Value = serde_json::from_slice(&data).unwrap();
        let tokens = jws["header"]["etsiU"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                let item: serde_json::Value = serde_json::from_slice(
                    &URL_SAFE_NO_PAD.decode(item.as_str().unwrap()).unwrap(),
                )
                .unwrap();
                STANDARD
                    .decode(item["sigTst"]["tstTokens"][0]["val"].as_str().unwrap())
                    .unwrap()
            })
            .collect();
        (
            jws["signature"].as_str().unwrap().as_bytes().to_vec(),
            tokens,
        )
    } else {
        let info = cms::content_info::ContentInfo::from_der(&data).unwrap();
        let signed: cms::signed_data::SignedData = info.content.decode_as().unwrap();
        let info = &signed.signer_infos.0.as_slice()[0];
        let tokens = info
            .unsigned_attrs
            .iter()
            .flat_map(|set| set.iter())
            .filter(|attribute| attribute.oid.to_string() == "1.2.840.113549.1.9.16.2.14")
            .flat_map(|attribute| attribute.values.iter().map(|value| value.to_der().unwrap()))
            .collect();
        (info.signature.as_bytes().to_vec(), tokens)
    }
}

/// `openssl ts -verify` on a token over `data`, trusting the PKI's root (and the other
/// root, for the untrusted authority's tokens to be judged on their signature alone
/// when `trust_other` is set).
fn openssl_verifies(token: &[u8], data: &[u8], trust_other: bool) -> (bool, String) {
    let dir = fixture().dir.path();
    let scratch = tempfile::tempdir_in(dir).unwrap();
    std::fs::write(scratch.path().join("token.der"), token).unwrap();
    std::fs::write(scratch.path().join("data.bin"), data).unwrap();
    let mut anchors = std::fs::read_to_string(dir.join("trust/root.pem")).unwrap();
    if trust_other {
        anchors.push_str(&std::fs::read_to_string(dir.join("untrusted/other-root.pem")).unwrap());
    }
    std::fs::write(scratch.path().join("anchors.pem"), anchors).unwrap();
    let untrusted = [
        std::fs::read_to_string(dir.join("trust/intermediate.pem")).unwrap(),
        std::fs::read_to_string(dir.join("untrusted/other-intermediate.pem")).unwrap(),
    ]
    .concat();
    std::fs::write(scratch.path().join("untrusted.pem"), untrusted).unwrap();
    let output = Command::new("openssl")
        .args([
            "ts",
            "-verify",
            "-token_in",
            "-in",
            "token.der",
            "-data",
            "data.bin",
            "-CAfile",
            "anchors.pem",
            "-untrusted",
            "untrusted.pem",
        ])
        .current_dir(scratch.path())
        .output()
        .expect("openssl must be installed for these tests");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

fn both(test: impl Fn(SignatureFormat)) {
    test(SignatureFormat::Jose);
    test(SignatureFormat::Cms);
}

#[track_caller]
fn assert_verdict(report: &SignatureReport, indication: Indication, sub: Option<SubIndication>) {
    assert_eq!(report.indication(), indication, "{report}");
    assert_eq!(report.sub_indication(), sub, "{report}");
}

#[test]
fn a_time_stamped_signature_passes_at_the_time_stamp_and_openssl_agrees() {
    both(|format| {
        let now = OffsetDateTime::now_utc();
        let tsa = OpensslTsa::new("tsa");
        let act = act("good", format, now, Some(&tsa));
        assert_eq!(tsa.answers.borrow().len(), 1);
        let report = verify(&verifier(&[]), &act, now + Duration::minutes(1));
        assert_verdict(&report, Indication::Passed, None);
        assert_eq!(report.level(), "B-T", "{report}");
        let [stamp] = report.timestamps.as_slice() else {
            panic!("one time-stamp: {report}")
        };
        assert_eq!(stamp.status, Status::Passed, "{report}");
        let gen_time = stamp.gen_time.unwrap();
        assert!((gen_time - now).abs() < Duration::minutes(1), "{report}");
        assert_eq!(report.best_signature_time, Some(gen_time));
        assert!(
            stamp
                .authority
                .as_deref()
                .unwrap()
                .contains("Sellado de Tiempo"),
            "{report}"
        );
        assert_eq!(stamp.policy.as_deref(), Some("1.3.6.1.4.1.59685.3.1"));
        let text = report.to_string();
        assert!(
            text.contains("time-stamp:") && text.contains("B-T"),
            "{text}"
        );
        let json = report.to_json();
        assert_eq!(json["level"], "B-T");
        assert_eq!(json["timestamps"][0]["status"], "passed");

        // OpenSSL reads the same token over the same bytes and agrees.
        let (data, tokens) = stamped(signature_of(&act));
        assert_eq!(tokens.len(), 1);
        let (ok, said) = openssl_verifies(&tokens[0], &data, false);
        assert!(ok, "openssl ts -verify: {said}");
        // And refuses it over other bytes, as the verifier does (below).
        let (ok, _) = openssl_verifies(&tokens[0], b"other bytes", false);
        assert!(!ok);
    });
}

#[test]
fn a_backdated_signature_by_an_expired_certificate_is_not_passed() {
    // The "expired" certificate ended a day ago. Its holder signs now, claiming a time
    // two days ago, when the certificate was valid.
    both(|format| {
        let now = OffsetDateTime::now_utc();
        let claimed = now - Duration::days(2);
        let act_plain = act("expired", format, claimed, None);
        let report = verify(&verifier(&[]), &act_plain, now);
        assert_verdict(
            &report,
            Indication::Indeterminate,
            Some(SubIndication::OutOfBoundsNoPoe),
        );
        assert!(
            matches!(
                report.check(Check::CertificateValidity).unwrap().error,
                Some(SignatureError::Path(PathError::ExpiredWithoutProof { .. }))
            ),
            "{report}"
        );
        assert_eq!(report.best_signature_time, Some(now));

        // A time-stamp now proves only that the signature exists now, after expiry:
        // still nothing proves it was made before (ETSI: OUT_OF_BOUNDS_NO_POE).
        let tsa = OpensslTsa::new("tsa");
        let stamped_act = act("expired", format, claimed, Some(&tsa));
        let report = verify(&verifier(&[]), &stamped_act, now + Duration::minutes(1));
        assert_verdict(
            &report,
            Indication::Indeterminate,
            Some(SubIndication::OutOfBoundsNoPoe),
        );
        assert_eq!(report.status(Check::Timestamp), Status::Passed, "{report}");

        // Claiming a time after the expiry is the signer's own admission: FAILED.
        let late = act("expired", format, now - Duration::hours(1), None);
        let report = verify(&verifier(&[]), &late, now);
        assert_verdict(&report, Indication::Failed, Some(SubIndication::Expired));
    });
}

#[test]
fn a_time_stamp_proves_a_signature_made_before_its_certificate_expired() {
    // "good" is valid for a year; the signature is verified 400 days from now.
    both(|format| {
        let now = OffsetDateTime::now_utc();
        let later = now + Duration::days(400);
        let plain = act("good", format, now, None);
        let report = verify(&verifier(&[]), &plain, later);
        assert_verdict(
            &report,
            Indication::Indeterminate,
            Some(SubIndication::OutOfBoundsNoPoe),
        );
        let tsa = OpensslTsa::new("tsa");
        let stamped_act = act("good", format, now, Some(&tsa));
        let report = verify(&verifier(&[]), &stamped_act, later);
        assert_verdict(&report, Indication::Passed, None);
        assert_eq!(report.level(), "B-T");
        assert!(report.best_signature_time.unwrap() < now + Duration::minutes(1));
    });
}

#[test]
fn a_revocation_after_the_time_stamp_does_not_reach_the_signature() {
    // "revoked-later" is revoked an hour after the PKI's reference time, in a CRL issued
    // two hours after it.
    both(|format| {
        let pki = &fixture().pki;
        let now = OffsetDateTime::now_utc();
        let at = pki.at + Duration::hours(3);
        let verifier = verifier(&[&pki.later_crl]);
        let plain = act("revoked-later", format, now, None);
        let report = verify(&verifier, &plain, at);
        assert_verdict(
            &report,
            Indication::Indeterminate,
            Some(SubIndication::RevokedNoPoe),
        );
        let tsa = OpensslTsa::new("tsa");
        let stamped_act = act("revoked-later", format, now, Some(&tsa));
        let report = verify(&verifier, &stamped_act, at);
        assert_verdict(&report, Indication::Passed, None);
        let revocation = &report.check(Check::Revocation).unwrap().reason;
        assert!(revocation.contains("after the time-stamp"), "{report}");
    });
}

#[test]
fn a_time_stamp_over_other_bytes_changed_or_untrusted_does_not_pass() {
    both(|format| {
        let now = OffsetDateTime::now_utc();
        let at = now + Duration::minutes(1);
        let tsa = OpensslTsa::new("tsa");
        let first = act("good", format, now, Some(&tsa));
        let second = act("good", format, now, Some(&tsa));
        let (second_data, _) = stamped(signature_of(&second));
        let (_, first_tokens) = stamped(signature_of(&first));

        // The first signature's token moved onto the second: over other bytes.
        let mut moved = second.clone();
        let mut swapped = signature_of(&second).clone();
        replace_token(&mut swapped, &first_tokens[0]);
        *signature_mut(&mut moved) = swapped;
        let report = verify(&verifier(&[]), &moved, at);
        // The token is an unsigned property anyone can add: it proves nothing, and the
        // signature is left without a proof rather than called changed.
        assert_verdict(
            &report,
            Indication::Indeterminate,
            Some(SubIndication::SigConstraintsFailure),
        );
        assert!(
            matches!(
                report.check(Check::Timestamp).unwrap().error,
                Some(SignatureError::Timestamp(TimestampError::ImprintMismatch))
            ),
            "{report}"
        );
        let (ok, _) = openssl_verifies(&first_tokens[0], &second_data, false);
        assert!(!ok, "openssl accepts a token over other bytes");

        // A token whose genTime was moved back a year: the TSTInfo no longer matches
        // what the authority signed.
        let mut backdated_token = first_tokens[0].clone();
        let position = backdated_token
            .windows(2)
            .position(|pair| pair == [0x18, 0x0f])
            .expect("a GeneralizedTime in the token");
        backdated_token[position + 5] -= 1;
        let (first_data, _) = stamped(signature_of(&first));
        let mut backdated = first.clone();
        replace_token(signature_mut(&mut backdated), &backdated_token);
        let report = verify(&verifier(&[]), &backdated, at);
        assert_eq!(report.indication(), Indication::Indeterminate, "{report}");
        assert!(
            matches!(
                report.check(Check::Timestamp).unwrap().error,
                Some(SignatureError::Timestamp(TimestampError::TstInfoChanged))
            ),
            "{report}"
        );
        let (ok, _) = openssl_verifies(&backdated_token, &first_data, false);
        assert!(!ok, "openssl accepts a changed TSTInfo");

        // A token by an authority under a root that is not trusted.
        let untrusted = OpensslTsa::new("untrusted");
        let act_untrusted = act("good", format, now, Some(&untrusted));
        let report = verify(&verifier(&[]), &act_untrusted, at);
        assert_eq!(report.indication(), Indication::Indeterminate, "{report}");
        assert_eq!(report.status(Check::Timestamp), Status::Indeterminate);
        assert_eq!(
            report.sub_indication(),
            Some(SubIndication::NoCertificateChainFound)
        );
        let (data, tokens) = stamped(signature_of(&act_untrusted));
        let (ok, _) = openssl_verifies(&tokens[0], &data, false);
        assert!(!ok, "openssl trusts the other root");
        // Its token is sound in itself: trusting its root, OpenSSL accepts it.
        let (ok, said) = openssl_verifies(&tokens[0], &data, true);
        assert!(ok, "{said}");

        // A sound token by a time-stamping certificate under a trusted anchor, but one
        // the trust directory does not list as an authority: it proves nothing.
        let report = verify(&verifier_trusting(&[], false), &first, at);
        assert_verdict(
            &report,
            Indication::Indeterminate,
            Some(SubIndication::NoCertificateChainFound),
        );
        assert!(
            matches!(
                report.check(Check::Timestamp).unwrap().error,
                Some(SignatureError::Timestamp(
                    TimestampError::NotTrustedAuthority { .. }
                ))
            ),
            "{report}"
        );
    });
}

#[test]
fn a_claimed_signing_time_after_the_time_stamp_fails() {
    both(|format| {
        let now = OffsetDateTime::now_utc();
        let tsa = OpensslTsa::new("tsa");
        let act = act("good", format, now + Duration::hours(1), Some(&tsa));
        let report = verify(&verifier(&[]), &act, now + Duration::hours(2));
        assert_verdict(
            &report,
            Indication::Failed,
            Some(SubIndication::SigConstraintsFailure),
        );
        assert!(
            matches!(
                report.check(Check::SigningTime).unwrap().error,
                Some(SignatureError::SigningTime(
                    SigningTimeError::AfterTimestamp { .. }
                ))
            ),
            "{report}"
        );
    });
}

/// Puts `token` in place of the signature's (only) time-stamp token.
fn replace_token(signature: &mut Signature, token: &[u8]) {
    let data = STANDARD
        .decode(signature.data.as_ref().unwrap().value.as_deref().unwrap())
        .unwrap();
    let replaced = if signature.sig_format.as_ref().unwrap().value.as_deref()
        == Some("application/jose")
    {
        let mut jws: serde_json::Value = serde_json::from_slice(&data).unwrap();
        let item = serde_json::json!({"sigTst": {"tstTokens": [{"val": STANDARD.encode(token)}]}});
        jws["header"]["etsiU"] = serde_json::json!([URL_SAFE_NO_PAD.encode(item.to_string())]);
        jws.to_string().into_bytes()
    } else {
        with_unsigned(&data, "1.2.840.113549.1.9.16.2.14", token, false)
    };
    signature.data = Some(renhice_model::Primitive::new(STANDARD.encode(replaced)));
}

#[test]
fn the_flattened_jws_is_read_with_etsi_u_as_objects_too() {
    let now = OffsetDateTime::now_utc();
    let tsa = OpensslTsa::new("tsa");
    let mut act = act("good", SignatureFormat::Jose, now, Some(&tsa));
    let (_, tokens) = stamped(signature_of(&act));
    let signature = signature_mut(&mut act);
    let data = STANDARD
        .decode(signature.data.as_ref().unwrap().value.as_deref().unwrap())
        .unwrap();
    let mut jws: serde_json::Value = serde_json::from_slice(&data).unwrap();
    jws["header"]["etsiU"] = serde_json::json!([
        {"sigTst": {"tstTokens": [{"val": STANDARD.encode(&tokens[0])}]}}
    ]);
    signature.data = Some(renhice_model::Primitive::new(
        STANDARD.encode(jws.to_string()),
    ));
    let report = verify(&verifier(&[]), &act, now + Duration::minutes(1));
    assert_verdict(&report, Indication::Passed, None);
    assert_eq!(report.level(), "B-T");

    // Anything else in the unprotected header is refused: it is not signed.
    jws["header"]["x5c"] = serde_json::json!([]);
    signature_mut(&mut act).data = Some(renhice_model::Primitive::new(
        STANDARD.encode(jws.to_string()),
    ));
    let report = verify(&verifier(&[]), &act, now + Duration::minutes(1));
    assert_eq!(report.indication(), Indication::Failed, "{report}");
    assert_eq!(report.status(Check::Format), Status::Failed);
}

#[test]
fn a_backdated_claim_cannot_pick_an_old_crl_and_a_time_stamp_can() {
    // The intermediate's CRL at hand was issued an hour before the PKI's reference time
    // and expires a week later. Verified ten days on, it is stale: without a time-stamp,
    // revocation must be current at the verification time, whatever time the signer
    // claims.
    both(|format| {
        let now = OffsetDateTime::now_utc();
        let at = now + Duration::days(10);
        let plain = act("good", format, now, None);
        let report = verify(&verifier(&[]), &plain, at);
        assert_verdict(
            &report,
            Indication::Indeterminate,
            Some(SubIndication::TryLater),
        );
        assert!(
            report
                .check(Check::Revocation)
                .unwrap()
                .reason
                .contains("expired before"),
            "{report}"
        );
        // A time-stamp proves the signature existed while the CRL was current.
        let tsa = OpensslTsa::new("tsa");
        let stamped_act = act("good", format, now, Some(&tsa));
        let report = verify(&verifier(&[]), &stamped_act, at);
        assert_verdict(&report, Indication::Passed, None);
    });
}

#[test]
fn more_time_stamps_than_are_read_prove_nothing() {
    let now = OffsetDateTime::now_utc();
    let tsa = OpensslTsa::new("tsa");
    let mut act = act("good", SignatureFormat::Jose, now, Some(&tsa));
    let (_, tokens) = stamped(signature_of(&act));
    let signature = signature_mut(&mut act);
    let data = STANDARD
        .decode(signature.data.as_ref().unwrap().value.as_deref().unwrap())
        .unwrap();
    let mut jws: serde_json::Value = serde_json::from_slice(&data).unwrap();
    let item = serde_json::json!({"sigTst": {"tstTokens": [{"val": STANDARD.encode(&tokens[0])}]}});
    jws["header"]["etsiU"] = serde_json::json!(vec![item; 5]);
    signature.data = Some(renhice_model::Primitive::new(
        STANDARD.encode(jws.to_string()),
    ));
    let report = verify(&verifier(&[]), &act, now + Duration::minutes(1));
    assert_eq!(report.indication(), Indication::Indeterminate, "{report}");
    assert!(
        matches!(
            report.check(Check::Timestamp).unwrap().error,
            Some(SignatureError::Timestamp(TimestampError::TooMany {
                count: 5
            }))
        ),
        "{report}"
    );
}

#[test]
fn a_jws_with_a_member_twice_is_refused() {
    let now = OffsetDateTime::now_utc();
    let tsa = OpensslTsa::new("tsa");
    let mut act = act("good", SignatureFormat::Jose, now, Some(&tsa));
    let signature = signature_mut(&mut act);
    let data = STANDARD
        .decode(signature.data.as_ref().unwrap().value.as_deref().unwrap())
        .unwrap();
    let text = String::from_utf8(data).unwrap();
    // A second "signature" member: parsers differ on which one counts.
    let doubled = text.replacen('{', "{\"signature\":\"AAAA\",", 1);
    signature.data = Some(renhice_model::Primitive::new(STANDARD.encode(doubled)));
    let report = verify(&verifier(&[]), &act, now + Duration::minutes(1));
    assert_eq!(report.indication(), Indication::Failed, "{report}");
    assert!(
        report
            .check(Check::Format)
            .unwrap()
            .reason
            .contains("appears twice"),
        "{report}"
    );
}

#[test]
fn a_time_stamp_by_a_revoked_authority_proves_nothing() {
    // The authority was revoked half an hour before the PKI's reference time, in a CRL
    // issued two hours after it: its tokens made now are after its revocation.
    both(|format| {
        let pki = &fixture().pki;
        let now = OffsetDateTime::now_utc();
        let tsa = OpensslTsa::new("tsa");
        let stamped_act = act("good", format, now, Some(&tsa));
        let at = pki.at + Duration::hours(3);
        let report = verify(&verifier(&[&pki.tsa_revoked_crl]), &stamped_act, at);
        assert_eq!(report.indication(), Indication::Indeterminate, "{report}");
        assert_eq!(report.status(Check::Timestamp), Status::Indeterminate);
        assert!(
            matches!(
                &report.check(Check::Timestamp).unwrap().error,
                Some(SignatureError::Timestamp(TimestampError::Authority {
                    check: "revoked",
                    ..
                }))
            ),
            "{report}"
        );
        assert!(report.best_signature_time == Some(at), "{report}");
        // Without that CRL, the same token proves its time.
        let report = verify(&verifier(&[]), &stamped_act, now + Duration::minutes(1));
        assert_eq!(report.indication(), Indication::Passed, "{report}");
    });
}

/// Adds `crls` to what the signature carries: `JAdES` `rVals` (ETSI TS 119 182-1
/// §5.3.5.2), or the `CAdES` `revocation-values` unsigned attribute (ETSI EN 319 122-1
/// §A.1.2, `[0]` explicit `SEQUENCE OF CertificateList`).
fn carry(signature: &mut Signature, crls: &[&[u8]]) {
    let data = STANDARD
        .decode(signature.data.as_ref().unwrap().value.as_deref().unwrap())
        .unwrap();
    let carried =
        if signature.sig_format.as_ref().unwrap().value.as_deref() == Some("application/jose") {
            let mut jws: serde_json::Value = serde_json::from_slice(&data).unwrap();
            let values: Vec<_> = crls
                .iter()
                .map(|der| serde_json::json!({"val": STANDARD.encode(der)}))
                .collect();
            jws["header"]["etsiU"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"rVals": {"crlVals": values}}));
            jws.to_string().into_bytes()
        } else {
            let list = tlv(0x30, &crls.concat());
            let value = tlv(0x30, &tlv(0xa0, &list));
            with_unsigned(&data, "1.2.840.113549.1.9.16.2.24", &value, true)
        };
    signature.data = Some(renhice_model::Primitive::new(STANDARD.encode(carried)));
}

#[test]
fn crls_the_signature_carries_stand_in_for_the_store_and_make_it_b_lt() {
    both(|format| {
        let now = OffsetDateTime::now_utc();
        let pki = &fixture().pki;
        let tsa = OpensslTsa::new("tsa");
        let mut act = act("good", format, now, Some(&tsa));
        // Trust and time-stamp authority as configured, but no revocation information.
        let mut trust = TrustStore::new();
        for cert in renhice_signature::Certificate::all_from_pem(pki.root.pem.as_bytes()).unwrap() {
            trust.add(cert);
        }
        for cert in renhice_signature::Certificate::all_from_pem(pki.tsa.pem.as_bytes()).unwrap() {
            trust.add_timestamp_authority(cert);
        }
        let alone = Verifier::new(trust, RevocationStore::new());
        let at = now + Duration::minutes(1);
        let report = verify(&alone, &act, at);
        assert_eq!(
            report.status(Check::Revocation),
            Status::Indeterminate,
            "{report}"
        );
        assert_eq!(report.level(), "B-B", "{report}");

        // Only the intermediate's CRL: the intermediate's own status (the root's CRL) is
        // still unknown, so the signature is not B-LT.
        let mut partly = act.clone();
        carry(signature_mut(&mut partly), &[&pki.crls["intermediate.crl"]]);
        let report = verify(&alone, &partly, at);
        assert_eq!(
            report.status(Check::Revocation),
            Status::Indeterminate,
            "{report}"
        );
        assert!(!report.validation_data, "{report}");

        carry(
            signature_mut(&mut act),
            &[&pki.crls["root.crl"], &pki.crls["intermediate.crl"]],
        );
        let report = verify(&alone, &act, at);
        assert_verdict(&report, Indication::Passed, None);
        assert!(report.validation_data, "{report}");
        assert_eq!(report.level(), "B-LT", "{report}");

        // A CRL carried is believed no more than one from the store: the intermediate's
        // later CRL names the revoked signer, whoever carries it.
        let mut revoked = self::act("revoked", format, now, Some(&tsa));
        carry(
            signature_mut(&mut revoked),
            &[&pki.crls["root.crl"], &pki.crls["intermediate.crl"]],
        );
        let report = verify(&alone, &revoked, at);
        assert_verdict(&report, Indication::Failed, Some(SubIndication::Revoked));
    });
}

/// The CMS `data` with one unsigned attribute `oid` of value `value` (DER) on its signer:
/// beside the others when `keep`, else in their place.
fn with_unsigned(data: &[u8], oid: &str, value: &[u8], keep: bool) -> Vec<u8> {
    let info = cms::content_info::ContentInfo::from_der(data).unwrap();
    let mut signed: cms::signed_data::SignedData = info.content.decode_as().unwrap();
    let mut signer_info = signed.signer_infos.0.as_slice()[0].clone();
    let mut values = der::asn1::SetOfVec::new();
    values.insert(der::Any::from_der(value).unwrap()).unwrap();
    let mut attributes = if keep {
        signer_info.unsigned_attrs.take().unwrap_or_default()
    } else {
        der::asn1::SetOfVec::new()
    };
    attributes
        .insert(x509_cert::attr::Attribute {
            oid: der::oid::ObjectIdentifier::new_unwrap(oid),
            values,
        })
        .unwrap();
    signer_info.unsigned_attrs = Some(attributes);
    let mut infos = der::asn1::SetOfVec::new();
    infos.insert(signer_info).unwrap();
    signed.signer_infos = cms::signed_data::SignerInfos(infos);
    cms::content_info::ContentInfo {
        content_type: info.content_type,
        content: der::Any::encode_from(&signed).unwrap(),
    }
    .to_der()
    .unwrap()
}
