//! Validation for renhice: checks FHIR resources and bundles against the R4 core
//! definitions and the profiles under `profiles/` (MINSA's Peruvian profiles and the
//! registry's own), reporting `OperationOutcome` issues with element paths.
//!
//! It depends only on the FHIR model, so the command line, the server's `$validate` and
//! the registry's push checks all share one engine.

pub use renhice_model::{OperationOutcome, OperationOutcomeIssue};
