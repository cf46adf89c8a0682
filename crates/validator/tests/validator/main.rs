//! Tests of the validator: the official R4 examples pass, and a corpus of broken
//! resources (one per rule) is caught with the expected rule and path.

#![allow(missing_docs, reason = "tests")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed step must stop the test"
)]

mod corpus;
mod examples;
mod fhirpath;
mod profiles;
mod schema;
