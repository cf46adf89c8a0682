//! The sentences of the typed errors: one case per family, so that the reasons the
//! reports give stay as they were written.

use renhice_model::canonical::CanonicalError;
use renhice_signature::{
    CertificateError, CmsError, ContentError, CrlError, CryptoError, Curve, FormatError, Hash,
    IdentityError, JwsError, KeyError, KeyUsageError, OcspError, PathError, ResponderError,
    RevocationError, RevocationSource, SignatureError, SigningTimeError, TargetError,
    sign::SignError,
};
use time::Duration;

use crate::fixture::SIGNED_AT;

#[track_caller]
fn says(error: &impl std::error::Error, sentence: &str) {
    assert_eq!(error.to_string(), sentence);
}

#[test]
fn certificate_key_and_crypto_errors() {
    says(
        &CertificateError::NotPem {
            detail: "bad".into(),
        },
        "not PEM: bad",
    );
    says(&CertificateError::NoCertificate, "no CERTIFICATE block");
    says(
        &KeyError::UnsupportedCurve { curve: None },
        "elliptic curve (unnamed) is not supported (P-256 and P-384 are)",
    );
    says(
        &CryptoError::UnsupportedEcdsa {
            curve: Curve::P256,
            hash: Hash::Sha512,
        },
        "ECDSA on P256 with Sha512 is not supported",
    );
    says(
        &CryptoError::UnsupportedPssSalt {
            salt: 222,
            expected: 32,
        },
        "RSASSA-PSS with a 222-byte salt is not supported; the salt must be as long as the hash (32 bytes), as JOSE's PS256 and most signers use",
    );
    says(
        &CryptoError::UnusableKey {
            subject: "CN=CA".into(),
            source: KeyError::UnsupportedAlgorithm {
                algorithm: "1.3.101.112".into(),
            },
        },
        "the key of CN=CA cannot be used: public key algorithm 1.3.101.112 is not supported (RSA and ECDSA are)",
    );
}

#[test]
fn path_errors() {
    says(
        &PathError::Expired {
            subject: "CN=VENCIDO".into(),
            at: SIGNED_AT,
            not_after: SIGNED_AT - Duration::days(1),
        },
        "\"CN=VENCIDO\" had expired at 2026-06-15T15:00:00Z (valid until 2026-06-14T15:00:00Z)",
    );
    says(
        &PathError::NotYetValid {
            subject: "CN=FUTURO".into(),
            at: SIGNED_AT,
            not_before: SIGNED_AT + Duration::days(1),
        },
        "\"CN=FUTURO\" was not yet valid at 2026-06-15T15:00:00Z (valid from 2026-06-16T15:00:00Z)",
    );
    says(
        &PathError::PathTooLong {
            issuer: "CN=Limitada".into(),
            limit: 0,
            below: 1,
        },
        "\"CN=Limitada\" allows at most 0 intermediate CA certificate(s) below it (pathLenConstraint), and the path has 1",
    );
    says(
        &PathError::BadCertificateSignature {
            subject: "CN=A".into(),
            issuer: "CN=B".into(),
            source: CryptoError::BadSignature,
        },
        "the signature on \"CN=A\" does not verify with the key of \"CN=B\": the signature value does not verify with the public key",
    );
}

#[test]
fn format_errors() {
    says(
        &FormatError::from(JwsError::UnknownCritical {
            parameter: "exp".into(),
        }),
        "the JWS header marks \"exp\" critical, which this verifier does not understand",
    );
    says(
        &JwsError::Malformed {
            parameter: "sigD.pars".into(),
            expected: "be an array",
        },
        "\"sigD.pars\" must be an array",
    );
    says(
        &JwsError::NoCommitmentId,
        "each \"srCms\" item needs \"commId\": {\"id\": …}",
    );
    says(
        &FormatError::from(CmsError::Algorithm(CryptoError::PssSha1)),
        "RSASSA-PSS with SHA-1 (the default hash) is not supported",
    );
    says(
        &CmsError::MissingAttribute {
            attribute: "signingTime",
        },
        "the signed attributes have no signingTime",
    );
    says(
        &FormatError::UnsupportedFormat {
            format: "image/png".into(),
        },
        "sigFormat \"image/png\" is not supported (application/jose and application/pkcs7-signature are)",
    );
    says(
        &FormatError::from(TargetError {
            reference: "DocumentReference/doc-1".into(),
            source: CanonicalError::NotABundle {
                resource_type: "DocumentReference".into(),
            },
        }),
        "DocumentReference/doc-1: the canonicalization http://hl7.org/fhir/canonicalization/json#document applies to a Bundle, not to a DocumentReference",
    );
}

#[test]
fn content_time_usage_and_identity_errors() {
    says(
        &ContentError::Digests {
            changed: vec!["A/1".into()],
            unsigned: vec!["B/2".into(), "C/3".into()],
            extra: Vec::new(),
        },
        "changed after signing: A/1; targets the signature does not cover: B/2, C/3",
    );
    says(
        &SigningTimeError::WhenDisagrees {
            when: SIGNED_AT - Duration::days(1),
            signing_time: SIGNED_AT,
        },
        "Signature.when says 2026-06-14T15:00:00Z, but the signed signing time is 2026-06-15T15:00:00Z",
    );
    says(
        &KeyUsageError::NoDocumentSigning {
            subject: "CN=X".into(),
            usages: vec!["1.3.6.1.5.5.7.3.1".into()],
        },
        "the extended key usage of \"CN=X\" (1.3.6.1.5.5.7.3.1) does not include document signing or email protection",
    );
    says(
        &IdentityError::Mismatch {
            certificate: vec!["PNOPE-41234567".into()],
            named: "Practitioner/p".into(),
            identifiers: Vec::new(),
        },
        "the certificate identifies PNOPE-41234567 but Practitioner/p is without identifiers",
    );
    says(
        &SignatureError::AlgorithmMismatch {
            algorithm: "RS256".into(),
            key_algorithms: vec!["ES256".into()],
        },
        "the algorithm RS256 does not fit the signer's key (which signs with ES256)",
    );
}

#[test]
fn revocation_errors() {
    let crl = RevocationSource::Crl {
        issued: SIGNED_AT + Duration::hours(2),
    };
    says(
        &RevocationError::Revoked {
            subject: "CN=R".into(),
            serial: "0a".into(),
            revoked_at: SIGNED_AT - Duration::days(1),
            reason: Some("KeyCompromise".into()),
            signing_time: SIGNED_AT,
            source: crl.clone(),
        },
        "\"CN=R\" (serial 0a) was revoked on 2026-06-14T15:00:00Z, reason KeyCompromise, before the signing time 2026-06-15T15:00:00Z (CRL issued 2026-06-15T17:00:00Z)",
    );
    says(
        &RevocationError::OcspOutdated {
            source: RevocationSource::Ocsp {
                responder: "CN=OCSP".into(),
                this_update: SIGNED_AT - Duration::days(2),
            },
            next_update: None,
            signing_time: SIGNED_AT,
        },
        "the newest OCSP response of \"CN=OCSP\" for 2026-06-13T15:00:00Z (next update none) is older than 2026-06-15T15:00:00Z, the time the status must be known at (the time-stamp's, else the verification time)",
    );
    // Several causes read as one reason.
    says(
        &SignatureError::Revocation {
            causes: vec![
                RevocationError::NoCrl {
                    issuer: "CN=CA".into(),
                    subject: "CN=S".into(),
                    distribution_points: vec!["http://crl/ca.crl".into()],
                },
                RevocationError::OcspSetAside {
                    produced_at: SIGNED_AT,
                    source: ResponderError::NotAuthorised {
                        responder: "CN=Impostor".into(),
                    },
                },
            ],
        },
        "no CRL signed by \"CN=CA\" is available for \"CN=S\" (distribution points: http://crl/ca.crl); an OCSP response produced 2026-06-15T15:00:00Z was set aside: its responder \"CN=Impostor\" is not authorised to sign OCSP responses (no id-kp-OCSPSigning)",
    );
    says(
        &OcspError::TimeOutOfRange { detail: None },
        "OCSP time out of range",
    );
    says(&CrlError::NoCrl, "no X509 CRL block");
}

#[test]
fn sign_errors() {
    says(
        &SignError::AlgorithmNotForKey {
            algorithm: "RS256".into(),
            key_algorithm: "ES256",
        },
        "algorithm RS256 does not fit the key (which signs with ES256)",
    );
    says(
        &SignError::from(CertificateError::TrailingBytes),
        "trailing bytes after the certificate",
    );
}
