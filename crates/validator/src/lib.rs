//! Validation for renhice: checks FHIR resources and bundles against the R4 core
//! definitions and the profiles under `profiles/` (MINSA's Peruvian profiles and the
//! registry's own), reporting `OperationOutcome` issues with element paths.
//!
//! It depends only on the FHIR model, so the command line, the server's `$validate` and
//! the registry's push checks all share one engine.
//!
//! - [`Definitions`] holds the `StructureDefinition` snapshots and expanded value sets;
//!   [`Definitions::r4`] is FHIR R4 (4.0.1) as HL7 published it, compiled in.
//! - [`Validator`] walks a resource's JSON against them and returns the issues, each
//!   with its severity, type, element path (`Patient.identifier[0].type`) and the rule
//!   broken ([`Rule`], in `details`).

mod definitions;
pub mod fhirpath;
mod profiles;
mod schema;
mod validate;

pub use definitions::{
    Binding, CodeSet, Constraint, DefinitionError, Definitions, Discriminator, ElementDefinition,
    Slicing, SlicingRules, StructureDefinition, TypeRef, ValueSetCodes,
};
pub use profiles::{DifferentialError, ElementError, ProfileError, ValueSetError};
pub use renhice_model::{OperationOutcome, OperationOutcomeIssue};
pub use schema::{SCHEMA_RULE, SchemaPass};
pub use validate::{MAX_STRING_CHARS, Mode, RULE_SYSTEM, Rule};

use renhice_model::{IssueSeverity, IssueType};
use serde_json::Value;

/// Validates resources against a set of definitions.
#[derive(Debug, Clone, Copy)]
pub struct Validator<'d> {
    definitions: &'d Definitions,
    mode: Mode,
}

impl Validator<'static> {
    /// A strict validator against FHIR R4 core.
    #[must_use]
    pub fn r4() -> Self {
        Self::new(Definitions::r4())
    }

    /// A strict validator against FHIR R4 core and the profiles under `profiles/`
    /// (MINSA's Peruvian profiles and the registry's own).
    #[must_use]
    pub fn renhice() -> Self {
        Self::new(Definitions::renhice())
    }
}

impl<'d> Validator<'d> {
    /// A strict validator against `definitions`.
    #[must_use]
    pub fn new(definitions: &'d Definitions) -> Self {
        Self {
            definitions,
            mode: Mode::Strict,
        }
    }

    /// The same validator in another mode.
    #[must_use]
    pub fn with_mode(self, mode: Mode) -> Self {
        Self { mode, ..self }
    }

    /// The definitions it validates against.
    #[must_use]
    pub fn definitions(&self) -> &'d Definitions {
        self.definitions
    }

    /// The issues of a resource (a JSON value); empty when it is valid. It is checked
    /// against its base definition, or against the profiles its `meta.profile` claims
    /// that are known (an information issue names those that are not).
    #[must_use]
    pub fn validate(&self, resource: &Value) -> Vec<OperationOutcomeIssue> {
        self.validate_against(resource, &[])
    }

    /// The issues of a resource checked against `profiles` (canonical URLs) too, as
    /// well as those it claims: an unknown profile, or one of another resource type, is
    /// an error.
    #[must_use]
    pub fn validate_against(
        &self,
        resource: &Value,
        profiles: &[String],
    ) -> Vec<OperationOutcomeIssue> {
        let mut walk = validate::Walk::new(self.definitions, self.mode);
        walk.resource(resource, "", profiles);
        walk.issues
    }

    /// The issues of a resource given as JSON text: text that is not JSON is one fatal
    /// issue with the line and column.
    #[must_use]
    pub fn validate_json(&self, bytes: &[u8]) -> Vec<OperationOutcomeIssue> {
        self.validate_json_against(bytes, &[])
    }

    /// [`Validator::validate_against`] for JSON text.
    #[must_use]
    pub fn validate_json_against(
        &self,
        bytes: &[u8],
        profiles: &[String],
    ) -> Vec<OperationOutcomeIssue> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(value) => self.validate_against(&value, profiles),
            Err(error) => vec![OperationOutcomeIssue::new(
                IssueSeverity::Fatal,
                IssueType::Structure,
                format!(
                    "not JSON: {error} (line {}, column {})",
                    error.line(),
                    error.column()
                ),
            )],
        }
    }
}

/// The worst severity among `issues` (`None` when there are none).
#[must_use]
pub fn worst(issues: &[OperationOutcomeIssue]) -> Option<IssueSeverity> {
    // `IssueSeverity` orders fatal first.
    issues.iter().map(|issue| issue.severity).min()
}

/// An `OperationOutcome` of `issues`; one informational issue saying so when there are
/// none (an `OperationOutcome` must have at least one issue).
#[must_use]
pub fn outcome(issues: Vec<OperationOutcomeIssue>) -> OperationOutcome {
    let issue = if issues.is_empty() {
        vec![OperationOutcomeIssue::new(
            IssueSeverity::Information,
            IssueType::Informational,
            "valid: no issues found",
        )]
    } else {
        issues
    };
    OperationOutcome { id: None, issue }
}
