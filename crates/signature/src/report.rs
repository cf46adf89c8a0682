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
    /// Every certificate of the path was within its validity period at the signing time.
    CertificateValidity,
    /// The signer certificate's key usage (and extended key usage, if present) allows
    /// signing documents.
    KeyUsage,
    /// No certificate of the path was revoked at the signing time, according to
    /// revocation information issued by its CA.
    Revocation,
    /// The certificate's subject is the party `Signature.who` names.
    SignerIdentity,
}

impl Check {
    /// Every check, in report order.
    pub const ALL: [Self; 10] = [
        Self::Format,
        Self::ContentIntegrity,
        Self::SignatureValue,
        Self::SigningTime,
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
            Self::CertificatePath => "certification path to a trust anchor",
            Self::CertificateProfile => "certificates conform to the RFC 5280 profile",
            Self::CertificateValidity => "certificate validity at the signing time",
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
}

impl SignatureReport {
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
        writeln!(
            f,
            "{}: {} ({})",
            self.location,
            self.indication(),
            self.format
        )?;
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
