//! The verification report: one [`SignatureReport`] per signature, each check with its
//! own [`Status`] and reason, and an overall [`Indication`] in the terms of ETSI
//! EN 319 102-1 (PASSED, FAILED, INDETERMINATE).

use std::fmt;

use time::OffsetDateTime;

use crate::error::SignatureError;

/// The overall verdict on one signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Indication {
    /// Every check passed: the act is signed by the named signer, with a certificate that
    /// chains to a trust anchor, was valid and fit for signing at the signing time, and was
    /// not revoked then.
    Passed,
    /// Some check could not be completed with the information at hand (typically no
    /// revocation information, or a revocation after the claimed signing time); nothing
    /// proves the signature wrong, nothing proves it right.
    Indeterminate,
    /// Some check failed: the signature must not be relied on.
    Failed,
}

impl Indication {
    /// The ETSI name: `PASSED`, `INDETERMINATE` or `FAILED`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "PASSED",
            Self::Indeterminate => "INDETERMINATE",
            Self::Failed => "FAILED",
        }
    }
}

impl fmt::Display for Indication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// The check passed.
    Passed,
    /// The check could not be completed.
    Indeterminate,
    /// The check failed.
    Failed,
    /// The check was not run because an earlier one it needs failed (no certificate to
    /// check the key usage of, say).
    NotRun,
}

impl Status {
    /// `passed`, `indeterminate`, `failed` or `not-run`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Indeterminate => "indeterminate",
            Self::Failed => "failed",
            Self::NotRun => "not-run",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The checks a signature goes through, in the order they are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Check {
    /// The signature can be read: a JWS or CMS structure this verifier supports, with the
    /// signed attributes it needs (algorithm, signer certificate, signing time).
    Format,
    /// The signed content digest matches the canonical JSON of every target: nothing was
    /// changed after signing.
    ContentIntegrity,
    /// The signature value verifies over the exact signed bytes with the signer
    /// certificate's public key.
    SignatureValue,
    /// The signing time is stated in the signed data, is not after the verification time
    /// and agrees with `Signature.when`.
    SigningTime,
    /// Every signature time-stamp the signature carries (RFC 3161 token: `JAdES`
    /// `sigTst`, `CAdES` `signature-time-stamp`) verifies: its authority's signature and
    /// time-stamping certificate, and a message imprint over this signature's value. The
    /// earliest valid one is the proof of existence the certificate checks use; without
    /// one they use the verification time, never the signer's claim.
    Timestamp,
    /// A certification path from the signer certificate to a configured trust anchor
    /// exists and satisfies the RFC 5280 rules (signatures, name chaining, basic
    /// constraints, path length, critical extensions).
    CertificatePath,
    /// Every certificate of the path but the trust anchor conforms to the RFC 5280
    /// certificate profile: no extension twice or malformed, the criticality RFC 5280
    /// requires, a critical `basicConstraints`, a key usage and a subject key identifier
    /// in CA certificates, an authority key identifier, a positive serial number of at
    /// most 20 octets ([`crate::ProfileRule`]).
    CertificateProfile,
    /// Every certificate of the path was within its validity period at the best signature
    /// time: the time a valid time-stamp proves, else the verification time (ETSI
    /// EN 319 102-1 §5.6). A certificate valid at the claimed signing time but expired
    /// since, with no time-stamp, is indeterminate (`OUT_OF_BOUNDS_NO_POE`).
    CertificateValidity,
    /// The signer certificate's key usage (and extended key usage, if present) allows
    /// signing documents.
    KeyUsage,
    /// No certificate of the path was revoked at the signing time, according to
    /// revocation information issued by its CA. A revocation after the time a valid
    /// time-stamp proves does not count; one after the signer's claimed time alone leaves
    /// the signature indeterminate (`REVOKED_NO_POE`).
    Revocation,
    /// The certificate's subject is the party `Signature.who` names.
    SignerIdentity,
}

impl Check {
    /// Every check, in report order.
    pub const ALL: [Self; 11] = [
        Self::Format,
        Self::ContentIntegrity,
        Self::SignatureValue,
        Self::SigningTime,
        Self::Timestamp,
        Self::CertificatePath,
        Self::CertificateProfile,
        Self::CertificateValidity,
        Self::KeyUsage,
        Self::Revocation,
        Self::SignerIdentity,
    ];

    /// A stable machine name (`certificate-path`), used in FHIR output and the CLI.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Format => "format",
            Self::ContentIntegrity => "content-integrity",
            Self::SignatureValue => "signature-value",
            Self::SigningTime => "signing-time",
            Self::Timestamp => "time-stamp",
            Self::CertificatePath => "certificate-path",
            Self::CertificateProfile => "certificate-profile",
            Self::CertificateValidity => "certificate-validity",
            Self::KeyUsage => "key-usage",
            Self::Revocation => "revocation",
            Self::SignerIdentity => "signer-identity",
        }
    }

    /// The check in the words of a signature policy.
    #[must_use]
    pub const fn title(self) -> &'static str {
        match self {
            Self::Format => "signature format",
            Self::ContentIntegrity => "integrity of the signed content",
            Self::SignatureValue => "signature value",
            Self::SigningTime => "signing time",
            Self::Timestamp => "signature time-stamp (proof of existence)",
            Self::CertificatePath => "certification path to a trust anchor",
            Self::CertificateProfile => "certificates conform to the RFC 5280 profile",
            Self::CertificateValidity => "certificate validity at the best signature time",
            Self::KeyUsage => "key usage fit for signing",
            Self::Revocation => "revocation status at the signing time",
            Self::SignerIdentity => "signer identity",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The outcome of one check and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// Which check.
    pub check: Check,
    /// Its outcome.
    pub status: Status,
    /// Why, in a sentence an auditor can file.
    pub reason: String,
    /// When the check did not pass because of a known cause, that cause, to match on
    /// (`reason` is then its sentence, or begins with it).
    pub error: Option<SignatureError>,
}

impl CheckResult {
    /// A check that passed, and why.
    #[must_use]
    pub fn passed(check: Check, reason: impl Into<String>) -> Self {
        Self {
            check,
            status: Status::Passed,
            reason: reason.into(),
            error: None,
        }
    }

    /// A check that failed because of `error` (the reason is its sentence).
    #[must_use]
    pub fn failed(check: Check, error: impl Into<SignatureError>) -> Self {
        Self::because(check, Status::Failed, error)
    }

    /// A check with `status` because of `error` (the reason is its sentence).
    #[must_use]
    pub fn because(check: Check, status: Status, error: impl Into<SignatureError>) -> Self {
        let error = error.into();
        Self {
            check,
            status,
            reason: error.to_string(),
            error: Some(error),
        }
    }
}

/// The certificate a signature was made with, as the report describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerInfo {
    /// The subject distinguished name (RFC 4514 text).
    pub subject: String,
    /// The issuer distinguished name.
    pub issuer: String,
    /// The serial number, in hexadecimal.
    pub serial: String,
    /// The SHA-256 fingerprint of the certificate, in hexadecimal.
    pub fingerprint: String,
    /// The identity numbers the subject carries (`serialNumber`, `organizationIdentifier`),
    /// as written in the certificate (`PNOPE-41234567`).
    pub identifiers: Vec<String>,
}

/// The verdict on one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureReport {
    /// Where the signature is, as a FHIRPath-like location (`Bundle.signature[0]`,
    /// `Bundle.entry[2].resource.signature[0]`).
    pub location: String,
    /// The signature format: `application/jose` or `application/pkcs7-signature`.
    pub format: String,
    /// The signature algorithm (JOSE name: `ES256`, `RS256`, `PS256`, `ES384`), when known.
    pub algorithm: Option<String>,
    /// The signed signing time, when it could be read.
    pub signing_time: Option<OffsetDateTime>,
    /// The time the verification was made for.
    pub verified_at: OffsetDateTime,
    /// The best signature time (ETSI EN 319 102-1 §5.6.2): the time the earliest valid
    /// signature time-stamp proves, else the verification time; `None` when the signature
    /// could not be read.
    pub best_signature_time: Option<OffsetDateTime>,
    /// The signature time-stamps the signature carries, each judged.
    pub timestamps: Vec<TimestampReport>,
    /// The commitment the signer states (the `srCms` commitment or `Signature.type`).
    pub commitment: Vec<String>,
    /// The signer certificate, when it was found.
    pub signer: Option<SignerInfo>,
    /// The certification path found, signer first, as subject names.
    pub path: Vec<String>,
    /// The CRL distribution points of the path's certificates (where the revocation
    /// information the checks need can be fetched).
    pub crl_urls: Vec<String>,
    /// The OCSP requests to send for the path's certificates (those that name a
    /// responder), when the path reached a trust anchor.
    pub ocsp: Vec<crate::OcspQuery>,
    /// Every check, in [`Check::ALL`] order.
    pub checks: Vec<CheckResult>,
    /// Whether the revocation status of every certificate of the signer's path (but the
    /// trust anchor) passed on validation data the signature carries (`PAdES` DSS, `JAdES`
    /// `rVals`, `CAdES` `revocation-values`, CMS `crls`): it verifies again later without
    /// fetching any (ETSI EN 319 102-1 B-LT).
    pub validation_data: bool,
}

/// One signature time-stamp, as the report describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampReport {
    /// The time the token states (`genTime`), when it could be read.
    pub gen_time: Option<OffsetDateTime>,
    /// The subject of the time-stamping certificate, when found.
    pub authority: Option<String>,
    /// The token's serial number (hexadecimal).
    pub serial: Option<String>,
    /// The authority's policy (dotted OID).
    pub policy: Option<String>,
    /// Passed: it proves the signature existed at `gen_time`.
    pub status: Status,
    /// Why, in a sentence.
    pub reason: String,
    /// The cause, when it did not pass.
    pub error: Option<SignatureError>,
    /// The CRL distribution points of the authority's path (where the revocation
    /// information its check needs can be fetched).
    pub crl_urls: Vec<String>,
    /// A `PAdES` document time-stamp (a later revision of the PDF, over everything
    /// before it) rather than a time-stamp of this signature's value.
    pub document: bool,
    /// A document time-stamp over a revision that holds validation material (a DSS): an
    /// archive time-stamp, which protects that material (`PAdES` B-LTA).
    pub archive: bool,
    /// Whether the authority's revocation status passed on validation data the signature
    /// carries (as [`SignatureReport::validation_data`] for the signer).
    pub validation_data: bool,
}

impl SignatureReport {
    /// The ETSI baseline level the signature reaches with what it carries (ETSI EN 319
    /// 102-1, EN 319 142-1): `B-T` with a time-stamp that holds; `B-LT` when, besides,
    /// the revocation status of the signer's path and of the authority of every signature
    /// time-stamp that holds (or, with none, of a document time-stamp's) rests on
    /// validation data the signature carries; `B-LTA` when, besides, an archive time-stamp
    /// over a revision holding that data holds; `B-B` otherwise.
    #[must_use]
    pub fn level(&self) -> &'static str {
        let holding = || {
            self.timestamps
                .iter()
                .filter(|stamp| stamp.status == Status::Passed)
        };
        if holding().next().is_none() {
            return "B-B";
        }
        // Every signature time-stamp that holds must rest on carried material too (the
        // earliest gives the best signature time); a document time-stamp may stand in
        // for none.
        let carried = self.validation_data
            && holding().any(|stamp| stamp.validation_data)
            && holding()
                .filter(|stamp| !stamp.document)
                .all(|stamp| stamp.validation_data);
        if !carried {
            return "B-T";
        }
        if holding().any(|stamp| stamp.archive) {
            "B-LTA"
        } else {
            "B-LT"
        }
    }

    /// The ETSI EN 319 102-1 sub-indication of a verdict other than PASSED, from the
    /// decisive check and its cause.
    #[must_use]
    pub fn sub_indication(&self) -> Option<SubIndication> {
        if self.indication() == Indication::Passed {
            return None;
        }
        let decisive = self.decisive()?;
        Some(SubIndication::of(decisive))
    }

    /// The overall verdict: FAILED if any check failed, INDETERMINATE if any could not
    /// be completed, PASSED otherwise.
    #[must_use]
    pub fn indication(&self) -> Indication {
        indication(&self.checks)
    }

    /// The result of one check.
    #[must_use]
    pub fn check(&self, check: Check) -> Option<&CheckResult> {
        find(&self.checks, check)
    }

    /// The status of one check ([`Status::NotRun`] when it is missing).
    #[must_use]
    pub fn status(&self, check: Check) -> Status {
        self.check(check)
            .map_or(Status::NotRun, |result| result.status)
    }

    /// The first failing check, else the first indeterminate one: the reason to give
    /// when the signature is refused.
    #[must_use]
    pub fn decisive(&self) -> Option<&CheckResult> {
        self.checks
            .iter()
            .find(|result| result.status == Status::Failed)
            .or_else(|| {
                self.checks
                    .iter()
                    .find(|result| matches!(result.status, Status::Indeterminate | Status::NotRun))
            })
    }
}

impl fmt::Display for SignatureReport {
    /// The report as text for a person: the verdict, the signer, then one line per check.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sub_indication() {
            Some(sub) => writeln!(
                f,
                "{}: {}/{} ({}, {})",
                self.location,
                self.indication(),
                sub,
                self.format,
                self.level()
            )?,
            None => writeln!(
                f,
                "{}: {} ({}, {})",
                self.location,
                self.indication(),
                self.format,
                self.level()
            )?,
        }
        if let Some(signer) = &self.signer {
            writeln!(f, "  signer:       {}", signer.subject)?;
            writeln!(f, "  issued by:    {}", signer.issuer)?;
        }
        if let Some(time) = self.signing_time {
            writeln!(f, "  signed at:    {}", crate::datetime::rfc3339(time))?;
        }
        writeln!(
            f,
            "  verified for: {}",
            crate::datetime::rfc3339(self.verified_at)
        )?;
        for stamp in &self.timestamps {
            writeln!(
                f,
                "  {}   {} by {} [{}]",
                match (stamp.document, stamp.archive) {
                    (true, true) => "arc stamp:",
                    (true, false) => "doc stamp:",
                    _ => "time-stamp:",
                },
                stamp
                    .gen_time
                    .map_or_else(|| "?".to_owned(), crate::datetime::rfc3339),
                stamp.authority.as_deref().unwrap_or("?"),
                stamp.status.as_str()
            )?;
        }
        if let Some(best) = self.best_signature_time {
            writeln!(f, "  best time:    {}", crate::datetime::rfc3339(best))?;
        }
        if !self.commitment.is_empty() {
            writeln!(f, "  commitment:   {}", self.commitment.join(", "))?;
        }
        for check in &self.checks {
            writeln!(
                f,
                "  [{:<13}] {}: {}",
                check.status.as_str(),
                check.check.title(),
                check.reason
            )?;
        }
        Ok(())
    }
}

/// The verdict of a list of checks: FAILED if any failed, INDETERMINATE if any could not be
/// completed (or there are none), PASSED otherwise.
fn indication(checks: &[CheckResult]) -> Indication {
    let mut indication = Indication::Passed;
    for check in checks {
        match check.status {
            Status::Failed => return Indication::Failed,
            Status::Indeterminate | Status::NotRun => indication = Indication::Indeterminate,
            Status::Passed => {}
        }
    }
    if checks.is_empty() {
        Indication::Indeterminate
    } else {
        indication
    }
}

/// The certificate checks alone, for a certificate rather than a signature
/// ([`crate::Verifier::verify_certificate`]): the certification path, the profile, the
/// validity periods and the revocation status, at one time.
#[derive(Debug, Clone)]
pub struct CertificateReport {
    /// The path found (subjects, the certificate first), or as far as issuers were found.
    pub path: Vec<String>,
    /// The four checks, in report order.
    pub checks: Vec<CheckResult>,
}

impl CertificateReport {
    /// The overall verdict, as for a signature.
    #[must_use]
    pub fn indication(&self) -> Indication {
        indication(&self.checks)
    }

    /// The result of one check.
    #[must_use]
    pub fn check(&self, check: Check) -> Option<&CheckResult> {
        find(&self.checks, check)
    }
}

fn find(checks: &[CheckResult], check: Check) -> Option<&CheckResult> {
    checks.iter().find(|result| result.check == check)
}

/// The ETSI EN 319 102-1 §5.1.3 sub-indication that says why a signature is FAILED or
/// INDETERMINATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SubIndication {
    /// The signature cannot be read.
    FormatFailure,
    /// The signed data are not at hand.
    SignedDataNotFound,
    /// The signed content was changed.
    HashFailure,
    /// The signature value does not verify.
    SigCryptoFailure,
    /// A constraint on the signature (signing time, signer identity, time-stamp) fails.
    SigConstraintsFailure,
    /// No path to a trust anchor.
    NoCertificateChainFound,
    /// A constraint on the path (profile, key usage, name or policy rules) fails.
    ChainConstraintsFailure,
    /// A certificate had expired at the best signature time, which a time-stamp proves.
    Expired,
    /// A certificate was not yet valid at the best signature time.
    NotYetValid,
    /// A certificate is expired now, and nothing proves the signature was made before.
    OutOfBoundsNoPoe,
    /// The signer's certificate was revoked before the best signature time.
    Revoked,
    /// A certificate was revoked after the claimed signing time, which nothing proves.
    RevokedNoPoe,
    /// The revocation status cannot be known with the information at hand.
    TryLater,
}

impl SubIndication {
    /// The ETSI name (`OUT_OF_BOUNDS_NO_POE`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FormatFailure => "FORMAT_FAILURE",
            Self::SignedDataNotFound => "SIGNED_DATA_NOT_FOUND",
            Self::HashFailure => "HASH_FAILURE",
            Self::SigCryptoFailure => "SIG_CRYPTO_FAILURE",
            Self::SigConstraintsFailure => "SIG_CONSTRAINTS_FAILURE",
            Self::NoCertificateChainFound => "NO_CERTIFICATE_CHAIN_FOUND",
            Self::ChainConstraintsFailure => "CHAIN_CONSTRAINTS_FAILURE",
            Self::Expired => "EXPIRED",
            Self::NotYetValid => "NOT_YET_VALID",
            Self::OutOfBoundsNoPoe => "OUT_OF_BOUNDS_NO_POE",
            Self::Revoked => "REVOKED",
            Self::RevokedNoPoe => "REVOKED_NO_POE",
            Self::TryLater => "TRY_LATER",
        }
    }

    fn of(decisive: &CheckResult) -> Self {
        use crate::error::{PathError, RevocationError};
        use crate::timestamp::TimestampError;
        let error = decisive.error.as_ref();
        match decisive.check {
            Check::Format => match error {
                Some(SignatureError::NoTarget | SignatureError::MissingTargets { .. }) => {
                    Self::SignedDataNotFound
                }
                _ => Self::FormatFailure,
            },
            Check::ContentIntegrity => Self::HashFailure,
            Check::SignatureValue => Self::SigCryptoFailure,
            Check::SigningTime | Check::SignerIdentity => Self::SigConstraintsFailure,
            // A time-stamp that proves nothing leaves the signature without its proof:
            // what the authority's certificate lacks, or a token that does not hold.
            Check::Timestamp => match error {
                Some(SignatureError::Timestamp(TimestampError::Authority {
                    check: "revocation",
                    ..
                })) => Self::TryLater,
                Some(SignatureError::Timestamp(TimestampError::Authority {
                    check: "certificate-validity",
                    ..
                })) => Self::OutOfBoundsNoPoe,
                Some(SignatureError::Timestamp(
                    TimestampError::Authority {
                        check: "certificate-path" | "certificate-profile",
                        ..
                    }
                    | TimestampError::NotTrustedAuthority { .. },
                )) => Self::NoCertificateChainFound,
                _ => Self::SigConstraintsFailure,
            },
            Check::CertificatePath => match error {
                Some(SignatureError::Path(
                    PathError::UntrustedRoot { .. } | PathError::IssuerNotFound { .. },
                )) => Self::NoCertificateChainFound,
                _ => Self::ChainConstraintsFailure,
            },
            Check::CertificateProfile | Check::KeyUsage => Self::ChainConstraintsFailure,
            Check::CertificateValidity => match error {
                Some(SignatureError::Path(PathError::ExpiredWithoutProof { .. })) => {
                    Self::OutOfBoundsNoPoe
                }
                Some(SignatureError::Path(PathError::NotYetValid { .. })) => Self::NotYetValid,
                _ => Self::Expired,
            },
            Check::Revocation => match (decisive.status, error) {
                (Status::Failed, _) => Self::Revoked,
                (_, Some(SignatureError::Revocation { causes }))
                    if causes.iter().any(|cause| {
                        matches!(cause, RevocationError::RevokedAfterSigning { .. })
                    }) =>
                {
                    Self::RevokedNoPoe
                }
                _ => Self::TryLater,
            },
        }
    }
}

impl fmt::Display for SubIndication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
