//! `OperationOutcome`: how every renhice error is reported to a client.
//!
//! The issue codes are the full R4 value sets `issue-severity` and `issue-type`, typed so
//! that a caller cannot invent a code a FHIR client would not understand.

use serde::{Deserialize, Serialize};

/// `OperationOutcome.issue.severity` (value set `issue-severity`, required binding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IssueSeverity {
    /// The issue caused the action to fail and no further checking could be performed.
    Fatal,
    /// The issue is sufficiently important to cause the action to fail.
    Error,
    /// The issue is not important enough to cause the action to fail.
    Warning,
    /// The issue has no relation to the degree of success of the action.
    Information,
}

macro_rules! issue_types {
    ($( $(#[$doc:meta])* $variant:ident => $code:literal, )*) => {
        /// `OperationOutcome.issue.code` (value set `issue-type`, required binding).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum IssueType {
            $( $(#[$doc])* #[serde(rename = $code)] $variant, )*
        }

        impl IssueType {
            /// The FHIR code of this issue type.
            #[must_use]
            pub const fn code(self) -> &'static str {
                match self { $( Self::$variant => $code, )* }
            }
        }
    };
}

issue_types! {
    /// Content invalid against the specification or a profile.
    Invalid => "invalid",
    /// A structural issue in the content such as wrong namespace or unable to parse.
    Structure => "structure",
    /// A required element is missing.
    Required => "required",
    /// An element or header value is invalid.
    Value => "value",
    /// A content validation rule failed, e.g. a schematron rule.
    Invariant => "invariant",
    /// An authentication/authorization/permissions issue of some kind.
    Security => "security",
    /// The client needs to initiate an authentication process.
    Login => "login",
    /// The user or system was not able to be authenticated.
    Unknown => "unknown",
    /// User session expired; a login may be required.
    Expired => "expired",
    /// The user does not have the rights to perform this action.
    Forbidden => "forbidden",
    /// Some information was not or might not have been returned due to business rules.
    Suppressed => "suppressed",
    /// Processing issues, not expected to be resolved by the client.
    Processing => "processing",
    /// The interaction, operation, resource or profile is not supported.
    NotSupported => "not-supported",
    /// An attempt was made to create a duplicate record.
    Duplicate => "duplicate",
    /// Multiple matching records were found when the operation required only one match.
    MultipleMatches => "multiple-matches",
    /// The reference provided was not found.
    NotFound => "not-found",
    /// The reference pointed to content that is known to be deleted.
    Deleted => "deleted",
    /// Provided content is too long (typically, this is a denial of service protection).
    TooLong => "too-long",
    /// The code or system could not be understood, or it was not valid in the context.
    CodeInvalid => "code-invalid",
    /// An extension was unrecognized or could not be processed.
    Extension => "extension",
    /// The operation was stopped to protect server resources.
    TooCostly => "too-costly",
    /// The content/operation failed to pass some business rule.
    BusinessRule => "business-rule",
    /// Content could not be accepted because of an edit conflict (i.e. version aware updates).
    Conflict => "conflict",
    /// Transient processing issues; the client may try again later.
    Transient => "transient",
    /// A resource/record locking failure (usually in an underlying database).
    LockError => "lock-error",
    /// The persistent store is unavailable.
    NoStore => "no-store",
    /// An unexpected internal error has occurred.
    Exception => "exception",
    /// An internal timeout has occurred.
    Timeout => "timeout",
    /// Not all data sources typically accessed could be reached or responded in time.
    Incomplete => "incomplete",
    /// The system is not prepared to handle this request due to load management.
    Throttled => "throttled",
    /// A message unrelated to the processing success of the completed operation.
    Informational => "informational",
}

/// One `OperationOutcome.issue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationOutcomeIssue {
    /// How bad the issue is.
    pub severity: IssueSeverity,
    /// What kind of issue it is.
    pub code: IssueType,
    /// A coded reason (for example which signature check failed), beside the free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<crate::types::CodeableConcept>,
    /// Additional human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<String>,
    /// FHIRPath expressions of the elements the issue is about, e.g.
    /// `Bundle.entry[2].resource.subject`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expression: Vec<String>,
}

impl OperationOutcomeIssue {
    /// An issue with the given severity, code and diagnostics.
    #[must_use]
    pub fn new(severity: IssueSeverity, code: IssueType, diagnostics: impl Into<String>) -> Self {
        Self {
            severity,
            code,
            details: None,
            diagnostics: Some(diagnostics.into()),
            expression: Vec::new(),
        }
    }

    /// An `error` issue.
    #[must_use]
    pub fn error(code: IssueType, diagnostics: impl Into<String>) -> Self {
        Self::new(IssueSeverity::Error, code, diagnostics)
    }

    /// Adds a coded reason (`issue.details`).
    #[must_use]
    pub fn with_details(mut self, details: crate::types::CodeableConcept) -> Self {
        self.details = Some(details);
        self
    }

    /// Names the element the issue is about (a FHIRPath expression).
    #[must_use]
    pub fn at(mut self, expression: impl Into<String>) -> Self {
        self.expression.push(expression.into());
        self
    }
}

/// A FHIR `OperationOutcome` resource: a collection of error, warning or information
/// messages that result from a system action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "resourceType", rename = "OperationOutcome")]
pub struct OperationOutcome {
    /// Logical id of this artifact, if it was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The issues; FHIR requires at least one.
    pub issue: Vec<OperationOutcomeIssue>,
}

impl OperationOutcome {
    /// An outcome with a single issue.
    #[must_use]
    pub fn single(issue: OperationOutcomeIssue) -> Self {
        Self {
            id: None,
            issue: vec![issue],
        }
    }

    /// The most severe issue severity, or `None` for an outcome without issues.
    #[must_use]
    pub fn worst_severity(&self) -> Option<IssueSeverity> {
        self.issue.iter().map(|i| i.severity).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_fhir_json() {
        let outcome = OperationOutcome::single(
            OperationOutcomeIssue::error(IssueType::NotFound, "no such resource")
                .at("Bundle.entry[2].resource.subject"),
        );
        let json = serde_json::to_value(&outcome).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "resourceType": "OperationOutcome",
                "issue": [{
                    "severity": "error",
                    "code": "not-found",
                    "diagnostics": "no such resource",
                    "expression": ["Bundle.entry[2].resource.subject"]
                }]
            })
        );
        let back: OperationOutcome = serde_json::from_value(json).unwrap();
        assert_eq!(back, outcome);
    }

    #[test]
    fn worst_severity_orders_fatal_first() {
        let mut outcome = OperationOutcome::single(OperationOutcomeIssue::new(
            IssueSeverity::Warning,
            IssueType::Value,
            "w",
        ));
        assert_eq!(outcome.worst_severity(), Some(IssueSeverity::Warning));
        outcome.issue.push(OperationOutcomeIssue::new(
            IssueSeverity::Fatal,
            IssueType::Structure,
            "f",
        ));
        assert_eq!(outcome.worst_severity(), Some(IssueSeverity::Fatal));
        assert_eq!(IssueType::NotSupported.code(), "not-supported");
    }
}
