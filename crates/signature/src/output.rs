//! The report as FHIR (`OperationOutcome`) and as JSON for storage and tools.

use renhice_model::types::{CodeableConcept, Coding};
use renhice_model::{IssueSeverity, IssueType, OperationOutcome, OperationOutcomeIssue};
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::datetime::rfc3339;
use crate::report::{Check, Indication, SignatureReport, Status, SubIndication};

/// The code system of the checks (`issue.details.coding.system`).
pub const CHECK_SYSTEM: &str = "http://renhice.org/fhir/CodeSystem/signature-check";
/// The code system of the indications.
pub const INDICATION_SYSTEM: &str = "http://renhice.org/fhir/CodeSystem/signature-indication";

impl SignatureReport {
    /// The report as `OperationOutcome` issues: first the verdict (error when FAILED,
    /// warning when INDETERMINATE, information when PASSED), then one issue per check,
    /// each coded in [`CHECK_SYSTEM`] and located at the signature.
    #[must_use]
    pub fn to_issues(&self) -> Vec<OperationOutcomeIssue> {
        let indication = self.indication();
        let (severity, code) = match indication {
            Indication::Passed => (IssueSeverity::Information, IssueType::Informational),
            Indication::Indeterminate => (IssueSeverity::Warning, IssueType::Incomplete),
            Indication::Failed => (IssueSeverity::Error, IssueType::Security),
        };
        let mut summary = match self.sub_indication() {
            Some(sub) => format!("signature {indication}/{sub}"),
            None => format!("signature {indication}"),
        };
        if let Some(signer) = &self.signer {
            let _ = write!(summary, ", signed by \"{}\"", signer.subject);
        }
        if let Some(decisive) = self.decisive() {
            let _ = write!(summary, ": {}: {}", decisive.check.title(), decisive.reason);
        }
        let mut issues = vec![
            OperationOutcomeIssue::new(severity, code, summary)
                .with_details(concept(
                    INDICATION_SYSTEM,
                    indication.as_str(),
                    indication.as_str(),
                ))
                .at(self.location.clone()),
        ];
        for check in &self.checks {
            let (severity, code) = match check.status {
                Status::Passed => (IssueSeverity::Information, IssueType::Informational),
                Status::Indeterminate | Status::NotRun => {
                    (IssueSeverity::Warning, IssueType::Incomplete)
                }
                Status::Failed => (IssueSeverity::Error, issue_type(check.check)),
            };
            issues.push(
                OperationOutcomeIssue::new(
                    severity,
                    code,
                    format!(
                        "{} ({}): {}",
                        check.check.title(),
                        check.status,
                        check.reason
                    ),
                )
                .with_details(concept(
                    CHECK_SYSTEM,
                    check.check.code(),
                    check.check.title(),
                ))
                .at(self.location.clone()),
            );
        }
        issues
    }

    /// The report as JSON: every field, for storage with an index entry and for tools.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "location": self.location,
            "indication": self.indication().as_str(),
            "format": self.format,
            "algorithm": self.algorithm,
            "subIndication": self.sub_indication().map(SubIndication::as_str),
            "level": self.level(),
            "signingTime": self.signing_time.map(rfc3339),
            "verifiedAt": rfc3339(self.verified_at),
            "bestSignatureTime": self.best_signature_time.map(rfc3339),
            "timestamps": self.timestamps.iter().map(|stamp| json!({
                "kind": match (stamp.document, stamp.archive) {
                    (true, true) => "archive",
                    (true, false) => "document",
                    _ => "signature",
                },
                "validationDataCarried": stamp.validation_data,
                "genTime": stamp.gen_time.map(rfc3339),
                "authority": stamp.authority,
                "serial": stamp.serial,
                "policy": stamp.policy,
                "status": stamp.status.as_str(),
                "reason": stamp.reason,
            })).collect::<Vec<_>>(),
            "commitment": self.commitment,
            "signer": self.signer.as_ref().map(|signer| json!({
                "subject": signer.subject,
                "issuer": signer.issuer,
                "serial": signer.serial,
                "sha256": signer.fingerprint,
                "identifiers": signer.identifiers,
            })),
            "path": self.path,
            "validationDataCarried": self.validation_data,
            "crlUrls": self.crl_urls,
            "ocspResponders": self.ocsp.iter().map(|query| query.url.as_str()).collect::<Vec<_>>(),
            "checks": self.checks.iter().map(|check| json!({
                "check": check.check.code(),
                "status": check.status.as_str(),
                "reason": check.reason,
            })).collect::<Vec<_>>(),
        })
    }
}

/// An `OperationOutcome` for several reports (one verdict issue and the checks of each).
#[must_use]
pub fn operation_outcome(reports: &[SignatureReport]) -> OperationOutcome {
    let mut issue: Vec<_> = reports
        .iter()
        .flat_map(SignatureReport::to_issues)
        .collect();
    if issue.is_empty() {
        issue.push(OperationOutcomeIssue::new(
            IssueSeverity::Information,
            IssueType::Informational,
            "no digital signature found (Bundle.signature or Provenance.signature)",
        ));
    }
    OperationOutcome { id: None, issue }
}

/// The overall indication of several reports (the worst), `None` when there are none.
#[must_use]
pub fn overall(reports: &[SignatureReport]) -> Option<Indication> {
    reports.iter().map(SignatureReport::indication).max()
}

fn issue_type(check: Check) -> IssueType {
    match check {
        Check::Format => IssueType::Structure,
        Check::ContentIntegrity | Check::SignatureValue => IssueType::Invalid,
        Check::SigningTime => IssueType::Value,
        Check::Timestamp
        | Check::CertificatePath
        | Check::CertificateProfile
        | Check::CertificateValidity
        | Check::KeyUsage
        | Check::Revocation
        | Check::SignerIdentity => IssueType::Security,
    }
}

fn concept(system: &str, code: &str, display: &str) -> CodeableConcept {
    CodeableConcept {
        coding: vec![Coding::new(system, code).with_display(display)],
        ..CodeableConcept::default()
    }
}
