//! FHIR R4 (4.0.1) model for renhice.
//!
//! Every other renhice crate speaks FHIR through this one. It does no I/O and depends on
//! no database, HTTP or async runtime crate; CI checks that with `cargo tree`.
//!
//! - [`types`]: all R4 data types; [`resources`]: all R4 resources and
//!   [`resources::Resource`], any one of them keyed on `resourceType`. Both are generated
//!   from the official definitions in `profiles/r4` by `renhice-codegen`
//!   (see `docs/CODEGEN.md`).
//! - [`Primitive`]: a primitive value with the `id` and extensions FHIR allows on it
//!   (`field` and `_field` in JSON); [`values`]: decimals with their exact text, dates
//!   and times with their precision.
//! - [`json`]: reading (strict or lenient) and writing FHIR JSON, with errors that name
//!   the element path, line and column.
//! - [`xml`]: reading and writing FHIR XML, generated from the same definitions, with
//!   errors as precise as JSON's.
//! - [`canonical`]: FHIR canonical JSON, the bytes a digital signature covers.
//! - [`peru`]: the Peruvian identifiers and codes of MINSA's guide (DNI and other
//!   identity documents, RENIPRESS, colegios, ubigeo) with format checks; constructors
//!   such as [`types::Coding::new`], [`types::Reference::to`] and
//!   [`types::HumanName::peruvian`] make resources easy to build by hand.

pub mod canonical;
#[doc(hidden)]
pub mod de;
mod helpers;
pub mod json;
pub mod operation_outcome;
pub mod peru;
mod primitive;
#[doc(hidden)]
pub mod ser;
pub mod values;
pub mod xml;

#[path = "generated/types.rs"]
pub mod types;

#[path = "generated/resources/mod.rs"]
pub mod resources;

pub use operation_outcome::{IssueSeverity, IssueType, OperationOutcome, OperationOutcomeIssue};
pub use primitive::{ElementData, Primitive};

/// The FHIR version this model implements, as `CapabilityStatement.fhirVersion` spells it.
pub const FHIR_VERSION: &str = "4.0.1";

/// The media type of FHIR JSON (FHIR R4 §3.1.0.1.2).
pub const FHIR_JSON_MIME: &str = "application/fhir+json";

/// The media type of FHIR XML (FHIR R4 §3.1.0.1.2).
pub const FHIR_XML_MIME: &str = "application/fhir+xml";
