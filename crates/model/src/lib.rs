//! FHIR R4 (4.0.1) model for renhice.
//!
//! Every other renhice crate speaks FHIR through this one. It does no I/O and depends on
//! no database, HTTP or async runtime crate; CI checks that with `cargo tree -i`.
//!
//! For now it holds the resources the foundation needs to answer every request in FHIR
//! terms ([`OperationOutcome`]); the full generated R4 model lands beside it.

pub mod operation_outcome;

pub use operation_outcome::{IssueSeverity, IssueType, OperationOutcome, OperationOutcomeIssue};

/// The FHIR version this model implements, as `CapabilityStatement.fhirVersion` spells it.
pub const FHIR_VERSION: &str = "4.0.1";

/// The media type of FHIR JSON (FHIR R4 §3.1.0.1.2).
pub const FHIR_JSON_MIME: &str = "application/fhir+json";
