//! Integration tests of the FHIR model: exact round trips of the official definitions
//! and of a clinical corpus, and errors that name the element.

#![allow(missing_docs, reason = "tests")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed step must stop the test"
)]
#![allow(
    clippy::doc_markdown,
    clippy::many_single_char_names,
    clippy::case_sensitive_file_extension_comparisons,
    reason = "test code"
)]

mod canonical;
mod corpus;
mod definitions;
mod errors;
mod json_compare;
mod peru;
mod xml;

use std::path::PathBuf;

/// The workspace root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Parses strictly, writes back, and asserts the result equals the input under the
/// FHIR-aware comparison; returns the resource.
fn round_trip(name: &str, text: &str) -> renhice_model::resources::Resource {
    let resource = renhice_model::resources::Resource::from_json(text.as_bytes())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let written = resource.to_json_string();
    let before = json_compare::parse(text);
    let after = json_compare::parse(&written);
    if let Some(diff) = json_compare::first_difference(&before, &after, resource.resource_type()) {
        panic!("{name}: {diff}");
    }
    resource
}
